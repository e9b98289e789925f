"""ASFF for AWS Security Hub (findings.asff.json): a JSON array of AwsSecurityFinding objects,
one per finding of findings.json (one per rule and resource, and per item of a for_each rule),
for `aws securityhub batch-import-findings` in batches of 100 (docs/reports.md). The tool
itself never writes to Security Hub.

Every finding is exported, PASS too: Security Hub's own controls report PASSED so that an
earlier failure resolves, and a reoccurring failure reopens only through a PASSED finding.
What each status becomes (`ASFF_STATE`):

| status | Compliance.Status | RecordState | Workflow.Status (at creation) | Severity.Label |
|---|---|---|---|---|
| FAIL | FAILED | ACTIVE | NEW | the rule's |
| ERROR (not assessed) | NOT_AVAILABLE | ACTIVE | NEW | the rule's |
| WAIVED | FAILED | ARCHIVED | RESOLVED | the rule's |
| PASS | PASSED | ACTIVE | RESOLVED | INFORMATIONAL |
| NOT_APPLICABLE | NOT_AVAILABLE | ARCHIVED | RESOLVED | INFORMATIONAL |

Why these, from Security Hub's documented behaviour (API reference, Workflow "Status":
https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_Workflow.html; User Guide,
"BatchImportFindings for finding providers":
https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html,
and the BatchImportFindings API reference): after a finding is created,
BatchImportFindings cannot change its Workflow (customers own it), so Workflow.Status here only
sets the first state. Security Hub resets a NOTIFIED or RESOLVED workflow to NEW when the
compliance status changes from PASSED to WARNING, FAILED or NOT_AVAILABLE, or the record
state changes from ARCHIVED to ACTIVE. So a failure that was fixed (PASSED) and comes back
(FAILED) reopens, an assessment that can no longer be made after a pass (NOT_AVAILABLE)
reopens, and a waiver that expires (ARCHIVED, then an ACTIVE FAIL) reopens. ERROR is never
PASSED. SUPPRESSED is never set: Security Hub does not reset it. Severity and Types are also
given in FindingProviderFields, the fields a finding provider may keep updating.

Limits of the format are kept (BatchImportFindings refuses findings over 240 KB; Title 256,
Description 1,024, Recommendation text 512 characters; ProductFields 50 entries of up to
2,048 characters): long text is cut with a note, evidence beyond `MAX_EVIDENCE_FIELDS`
conditions (or beyond the size limit) is left out in order, with a note saying how many are
shown and that findings.json holds them all. No finding is ever dropped for its size. An
explanation (findings.json ``evidence[].explanation``, a PASS's too) is one ProductFields entry,
``auditor/Explanation``: its lines joined by " | ", cut with a note past the field's limit.

The output depends only on findings.json (via the report model): times are the snapshot's,
ids come from the finding fingerprints, and findings keep the document's order.
"""

from __future__ import annotations

import json
import re
from datetime import UTC
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from auditor.report.writers import ReportInputs, ReportUnavailable, Writer, streamed
from auditor.report.writers._times import parse_utc

if TYPE_CHECKING:
    from auditor.report.model import FindingView, ReportModel

SCHEMA_VERSION = "2018-10-08"
PRODUCT_NAME = "private-network-auditor"
BATCH_SIZE = 100                 # BatchImportFindings takes at most 100 findings a request
MAX_FINDING_BYTES = 240_000      # "240 Kb" (Security Hub): read as the smaller, 240,000 bytes
MAX_TITLE, MAX_DESCRIPTION, MAX_RECOMMENDATION = 256, 1024, 512
MAX_FIELD_VALUE, MAX_PRODUCT_FIELDS = 2048, 50
MAX_EVIDENCE_FIELDS = 10         # of the 50 ProductFields (the rest say what the finding is); findings.json has all
MAX_REQUIREMENTS = 32            # Compliance.RelatedRequirements

# status -> (Compliance.Status, RecordState, Workflow.Status at creation); see the table above.
ASFF_STATE: Mapping[str, tuple[str, str, str]] = {
    "FAIL": ("FAILED", "ACTIVE", "NEW"),
    "ERROR": ("NOT_AVAILABLE", "ACTIVE", "NEW"),
    "WAIVED": ("FAILED", "ARCHIVED", "RESOLVED"),
    "PASS": ("PASSED", "ACTIVE", "RESOLVED"),
    "NOT_APPLICABLE": ("NOT_AVAILABLE", "ARCHIVED", "RESOLVED"),
}
SEVERITY_LABELS = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW", "info": "INFORMATIONAL"}

# The auditor's resource types and Security Hub's (ASFF "Resources[].Type"); any other: Other.
RESOURCE_TYPES = {
    "vpc": "AwsEc2Vpc", "subnet": "AwsEc2Subnet", "security_group": "AwsEc2SecurityGroup",
    "network_acl": "AwsEc2NetworkAcl", "network_interface": "AwsEc2NetworkInterface",
    "instance": "AwsEc2Instance", "elastic_ip": "AwsEc2Eip", "route_table": "AwsEc2RouteTable",
    "transit_gateway": "AwsEc2TransitGateway", "vpc_peering": "AwsEc2VpcPeeringConnection",
    "vpc_endpoint_service": "AwsEc2VpcEndpointService", "eks_cluster": "AwsEksCluster",
    "db_instance": "AwsRdsDbInstance", "lambda_function": "AwsLambdaFunction",
    "load_balancer": "AwsElbv2LoadBalancer",
}
# Framework ids and the "Industry and Regulatory Standards" classifiers Security Hub uses.
STANDARD_TYPES = {"pci-dss-4.0": "PCI-DSS", "hipaa-security": "HIPAA Controls",
                  "nist-800-53-r5": "NIST 800-53 Controls"}
TYPE_STANDARDS = "Software and Configuration Checks/Industry and Regulatory Standards"
TYPE_DEFAULT = "Software and Configuration Checks/AWS Security Best Practices/Network Reachability"

_ACCOUNT = re.compile(r"\d{12}")


def _cut(text: str, limit: int, note: str = " …(cut)") -> str:
    return text if len(text) <= limit else text[:limit - len(note)] + note


def _text(value: str, fallback: str) -> str:
    """A non-empty string (ASFF's NonEmptyString: at least one character that is not a space)."""
    return value if value.strip() else fallback


def asff_time(stamp: str, day: str) -> str:
    """An ISO 8601 UTC time with milliseconds (``2026-03-01T10:00:00.123Z``): the snapshot's
    `stamp`, else midnight of `day` (the assessment date), else the epoch; never the clock."""
    when = parse_utc(stamp) if "T" in (stamp or "") else None
    if when is not None:
        when = when.astimezone(UTC)
        return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day or ""):
        return f"{day}T00:00:00.000Z"
    return "1970-01-01T00:00:00.000Z"


class _Places:
    """The account and region each finding is imported under: Security Hub takes a finding
    only in a real account (the caller's, for the default product) and region."""

    def __init__(self, model: ReportModel) -> None:
        from auditor.partitions import partition_of

        self.partition_of = partition_of
        self.regions = [r for r in model.run.regions if partition_of(r)]
        self.accounts = sorted(a.id for a in model.run.accounts if _ACCOUNT.fullmatch(a.id))

    def region(self, region: str) -> str:
        return region if self.partition_of(region) else (self.regions[0] if self.regions else "us-east-1")

    def account(self, account: str) -> str | None:
        """The finding's account, or for one that names no account (``organization``,
        ``unknown``: discovery or the caller's identity failed) the run's first account."""
        if _ACCOUNT.fullmatch(account):
            return account
        return self.accounts[0] if self.accounts else None


def _types(f: FindingView, titles: Mapping[str, str]) -> list[str]:
    frameworks = sorted({c.framework for c in f.rule.controls})
    # namespace/category/classifier: a "/" in a title (ISO/IEC 27001) would make a fourth part
    types = [f"{TYPE_STANDARDS}/{(STANDARD_TYPES.get(fw) or titles.get(fw) or fw).replace('/', ' ')}"
             for fw in frameworks]
    return (types or [TYPE_DEFAULT])[:50]


def _resource(f: FindingView, account: str, region: str, partition: str) -> dict[str, Any]:
    r = f.resource
    if r.id == "*" or not r.id:          # a whole account-region (or type) not assessed
        kind, rid = "AwsAccount", f"AWS::::Account:{account}"
    else:
        kind = RESOURCE_TYPES.get(r.type, "Other")
        if kind == "AwsElbv2LoadBalancer" and r.arn and ":loadbalancer/" in r.arn \
                and not re.search(r":loadbalancer/(app|net|gwy)/", r.arn):
            kind = "AwsElbLoadBalancer"
        rid = r.arn or f"{r.account}/{r.region}/{r.type}/{r.id}"
    other = {k: _cut(v, MAX_FIELD_VALUE) for k, v in
             (("auditorType", r.type), ("id", r.id), ("vpcId", r.vpc_id), ("account", r.account),
              ("region", r.region)) if v and v.strip()}
    out: dict[str, Any] = {"Type": kind, "Id": _cut(rid, 512, ""), "Partition": partition,
                           "Region": region, "Details": {"Other": other}}
    return out


def _evidence_lines(f: FindingView, count: int) -> list[str]:
    """The first `count` conditions of the evidence, one line each (as the other formats say them)."""
    from auditor.report.machine import observed_text

    lines = []
    for e in f.evidence[:count]:
        verdict = {True: "holds", False: "does not hold", None: "undecided"}[e.holds]
        line = f"{e.path}: observed {observed_text(e.observed)}; expected {e.expected} ({verdict})"
        if e.sources:
            line += " [" + ", ".join(e.sources) + "]"
        lines.append(line)
    return lines


def _product_fields(f: FindingView, model: ReportModel, evidence: list[str], shown: int) -> dict[str, str]:
    from auditor.report.machine import EXPLANATION_JOIN, explanation_lines

    r, w = f.resource, f.waiver
    fields = {
        "ProviderName": PRODUCT_NAME, "ProviderVersion": model.run.tool_version,
        "auditor/Status": f.status, "auditor/Fingerprint": f.fingerprint, "auditor/RuleId": f.rule.id,
        "auditor/Pack": f.rule.pack, "auditor/Severity": f.severity, "auditor/ResourceType": r.type,
        "auditor/ResourceId": r.id, "auditor/Account": r.account, "auditor/Region": r.region,
        "auditor/VpcId": r.vpc_id, "auditor/Item": f.item or "",
        "auditor/SnapshotManifestSha256": model.run.manifest_sha256, "auditor/AssessedOn": model.run.assessed_on,
        "auditor/Waiver": (f"{w.id}: {w.justification} (approver {w.approver}, ticket {w.ticket}, "
                           f"expires {w.expires})") if w else "",
        "auditor/EvidenceCount": str(len(f.evidence)),
    }
    explained = explanation_lines(f)
    if explained:   # how the derived values read were decided (a PASS too), in one field
        text = EXPLANATION_JOIN.join(explained)
        fields["auditor/Explanation"] = (text if len(text) <= MAX_FIELD_VALUE else _cut(
            text, MAX_FIELD_VALUE, f" …(cut: {len(explained)} lines in findings.json, finding {f.fingerprint})"))
    for i, line in enumerate(evidence[:shown]):
        fields[f"auditor/Evidence/{i + 1:02d}"] = line
    if shown < len(f.evidence) or any(len(line) > MAX_FIELD_VALUE for line in evidence[:shown]):
        fields["auditor/EvidenceNote"] = (f"evidence cut to fit Security Hub: {shown} of {len(f.evidence)} conditions "
                                          f"shown, each at most {MAX_FIELD_VALUE} characters; findings.json holds "
                                          f"all of it (finding {f.fingerprint})")
    out = {k: _cut(v, MAX_FIELD_VALUE) for k, v in fields.items() if v and v.strip()}
    assert len(out) <= MAX_PRODUCT_FIELDS
    return out


def _description(f: FindingView) -> str:
    what = f.message or f.rule.title or f.rule.id
    if f.status == "ERROR":
        what = f"Not assessed: {what}"
    elif f.status == "WAIVED" and f.waiver is not None:
        what = f"{what} (waived by {f.waiver.id} until {f.waiver.expires})"
    elif f.status == "NOT_APPLICABLE":
        what = f"Not applicable: {what}"
    elif f.status == "PASS":
        what = f"Passed: {what}"
    return _cut(_text(what, f"{f.rule.id} on {f.name}"), MAX_DESCRIPTION)


def asff_finding(f: FindingView, model: ReportModel, places: _Places, titles: Mapping[str, str]) -> dict[str, Any] | None:
    """One AwsSecurityFinding for a finding (None when the run names no account at all)."""
    account = places.account(f.resource.account)
    if account is None:
        return None
    region = places.region(f.resource.region)
    partition = places.partition_of(region) or "aws"
    compliance, record, workflow = ASFF_STATE[f.status]
    label = "INFORMATIONAL" if f.status in ("PASS", "NOT_APPLICABLE") else SEVERITY_LABELS.get(f.severity, "MEDIUM")
    severity = {"Label": label, "Original": f.severity}
    types = _types(f, titles)
    stamp = asff_time(model.run.finished or model.run.started, model.run.assessed_on)
    out: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": f"{PRODUCT_NAME}/{account}/{region}/{f.rule.id}/{f.fingerprint}",
        "ProductArn": f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default",
        "ProductName": PRODUCT_NAME,
        "GeneratorId": f.rule.id,
        "AwsAccountId": account,
        "Region": region,
        "Types": types,
        "CreatedAt": stamp, "UpdatedAt": stamp,
        "Severity": severity,
        "Title": _cut(_text(f.rule.title, f.rule.id), MAX_TITLE),
        "Description": _description(f),
        "Resources": [_resource(f, account, region, partition)],
        "Compliance": {"Status": compliance},
        "RecordState": record,
        "Workflow": {"Status": workflow},
        "FindingProviderFields": {"Severity": dict(severity), "Types": list(types)},
    }
    requirements = sorted({f"{titles.get(c.framework, c.framework)} {c.control}" for c in f.rule.controls})
    if requirements:
        out["Compliance"]["RelatedRequirements"] = requirements[:MAX_REQUIREMENTS]
    steps = "\n".join(f"{kind}: {text}" for kind, text in f.rule.remediation if text.strip())
    if steps:
        recommendation = {"Text": _cut(steps, MAX_RECOMMENDATION)}
        if f.rule.references:
            recommendation["Url"] = f.rule.references[0]
        out["Remediation"] = {"Recommendation": recommendation}
    evidence = _evidence_lines(f, MAX_EVIDENCE_FIELDS)
    shown = len(evidence)
    while True:    # fewer evidence lines until it fits: deterministic, and never drops the finding
        out["ProductFields"] = _product_fields(f, model, evidence, shown)
        if shown == 0 or len(_dump(out)) <= MAX_FINDING_BYTES:
            return out
        shown -= 1


def _dump(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")


def asff_findings(model: ReportModel) -> list[dict[str, Any]]:
    """Every finding of the model as ASFF, in the document's order. Raises ReportUnavailable
    when a finding has no AWS account to be imported under (the run reached no account at
    all): an ASFF file without those findings would read, in Security Hub, as nothing wrong."""
    return list(iter_asff(model))


def iter_asff(model: ReportModel) -> Iterator[dict[str, Any]]:
    """`asff_findings` one at a time (the whole list of an organisation's run is not held)."""
    places = _Places(model)
    titles = {fw.id: fw.title for fw in model.frameworks if fw.title}
    for f in model.findings:
        found = asff_finding(f, model, places, titles)
        if found is None:
            left = sum(1 for g in model.findings if places.account(g.resource.account) is None)
            raise ReportUnavailable(f"Security Hub takes a finding only in an AWS account, and {left} finding(s) name "
                                    f"none ({f.resource.account!r}: the run reached no account); findings.json "
                                    "holds them, with their causes")
        yield found


def asff(model: ReportModel) -> bytes:
    """findings.asff.json: the findings as a JSON array (keys sorted, one space indent)."""
    return (json.dumps(asff_findings(model), sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _stream(inputs: ReportInputs, out: BinaryIO) -> None:
    """`asff` written into `out` one finding at a time: the same bytes (each element of a list
    that json.dumps indents by one space is its own text indented one level further)."""
    first = True
    for found in iter_asff(inputs.model):
        text = json.dumps(found, sort_keys=True, indent=1, ensure_ascii=False).replace("\n", "\n ")
        out.write((("[\n " if first else ",\n ") + text).encode("utf-8"))
        first = False
    out.write(b"[]\n" if first else b"\n]\n")


WRITER = Writer(name="asff", file_name="findings.asff.json", write=streamed(_stream), order=25, rederivable=True,
                stream=_stream)
