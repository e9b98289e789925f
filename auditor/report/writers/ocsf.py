"""OCSF Compliance Finding events (findings.ocsf.json): a JSON array, one event (class_uid
2003, OCSF version of py-ocsf-models) per finding of findings.json.

Every event is built as py-ocsf-models' pydantic objects (`ComplianceFinding` and the objects it
holds), so an event the models refuse is never written: the writer raises ReportUnavailable
instead, naming the models' reason (the other formats are still written). Two
attributes OCSF 1.x defines are missing from the library's classes and are added by subclasses
here, validated the same way: the event's ``cloud`` object (OCSF's Cloud profile: provider,
account, region), and the compliance object's ``status`` caption and ``status_detail``.

The status mapping (docs/reports.md, "OCSF"), never Pass for anything but PASS:

========================  ===============================  ===========================
findings.json status      compliance ``status_id``/status   event ``status_id``/status
========================  ===============================  ===========================
PASS                      1 Pass                           1 New
FAIL                      3 Fail                           1 New
WAIVED                    3 Fail                           3 Suppressed
ERROR (not assessed)      2 Warning (missing information)  1 New
NOT_APPLICABLE            99 Other, "Not Applicable"       1 New
========================  ===============================  ===========================

Deterministic: the event time is the snapshot's finish time from findings.json (its start, else
the assessment date, when missing), the event uid a uuid5 of the finding's fingerprint, events in
the document's order, one per line, keys sorted.
"""

from __future__ import annotations

import json
import uuid
from functools import cache
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from auditor.report.writers import ReportInputs, ReportUnavailable, Writer, streamed
from auditor.report.writers._times import parse_utc

if TYPE_CHECKING:
    from auditor.report.model import FindingView, ReportModel

PRODUCT = "private-network-auditor"
VENDOR = "private-network-auditor"
# uuid5 namespace of the event uids (metadata.uid): the same fingerprint gives the same uid.
EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://example.invalid/private-network-auditor/ocsf")

# findings.json status -> (compliance status_id name, its caption, event status_id name)
STATUS_MAP: dict[str, tuple[str, str, str]] = {
    "PASS": ("Pass", "Pass", "New"),
    "FAIL": ("Fail", "Fail", "New"),
    "WAIVED": ("Fail", "Fail", "Suppressed"),
    "ERROR": ("Warning", "Warning", "New"),
    "NOT_APPLICABLE": ("Other", "Not Applicable", "New"),
}
# findings.json severity -> OCSF severity_id name
SEVERITY_MAP = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low", "info": "Informational"}


def _epoch_ms(stamp: str) -> int | None:
    """An ISO 8601 UTC time or date as milliseconds since the epoch (OCSF timestamp_t); None
    when it is empty or not such a time."""
    when = parse_utc(stamp)
    return None if when is None else int(when.timestamp() * 1000)


def run_time_ms(model: ReportModel) -> int:
    """The time of every event: the snapshot's finish, else its start, else the assessment date
    (midnight UTC). A findings.json with none of them cannot give a time without the clock."""
    for stamp in (model.run.finished, model.run.started, model.run.assessed_on):
        ms = _epoch_ms(stamp)
        if ms is not None:
            return ms
    raise ReportUnavailable("OCSF needs the run's time, and this findings.json has no snapshot finish or start "
                            "time and no assessment date (run.snapshot.finished, run.snapshot.started, "
                            "run.assessed_on)")


@cache
def _classes() -> Any:
    """py-ocsf-models' classes, and the two subclasses adding what OCSF 1.x defines and the
    library lacks (imported here: listing the formats stays cheap)."""
    from types import SimpleNamespace
    from pydantic import ConfigDict

    from py_ocsf_models import OCSF_VERSION
    from py_ocsf_models.events.findings import compliance_finding as cf
    from py_ocsf_models.events.findings.activity_id import ActivityID
    from py_ocsf_models.events.findings.compliance_finding_type_id import ComplianceFindingTypeID
    from py_ocsf_models.events.findings.severity_id import SeverityID
    from py_ocsf_models.events.findings.status_id import StatusID
    from py_ocsf_models.objects.account import Account, TypeID
    from py_ocsf_models.objects.check import Check
    from py_ocsf_models.objects.cloud import Cloud
    from py_ocsf_models.objects.compliance import Compliance
    from py_ocsf_models.objects.compliance_status import StatusID as ComplianceStatusID
    from py_ocsf_models.objects.evidence_artifacts import EvidenceArtifacts
    from py_ocsf_models.objects.finding_info import FindingInformation
    from py_ocsf_models.objects.metadata import Metadata
    from py_ocsf_models.objects.product import Product
    from py_ocsf_models.objects.remediation import Remediation
    from py_ocsf_models.objects.resource_details import ResourceDetails

    class ComplianceWithStatus(Compliance):
        """OCSF's compliance object with its ``status`` (the caption of status_id, or the
        source's word for Other) and ``status_detail``, which the library's class omits."""

        model_config = ConfigDict(extra="forbid")
        status: str | None = None
        status_detail: str | None = None

    class CloudComplianceFinding(cf.ComplianceFinding):
        """A Compliance Finding with OCSF's Cloud profile (``cloud``: provider, account, region)."""

        model_config = ConfigDict(extra="forbid")
        cloud: Cloud
        # Declared again with the subclass: pydantic serialises a field by its declared class.
        compliance: ComplianceWithStatus

    return SimpleNamespace(
        OCSF_VERSION=OCSF_VERSION, Finding=CloudComplianceFinding, Compliance=ComplianceWithStatus,
        ActivityID=ActivityID, TypeUID=ComplianceFindingTypeID, SeverityID=SeverityID, StatusID=StatusID,
        ComplianceStatusID=ComplianceStatusID, Account=Account, AccountTypeID=TypeID, Check=Check, Cloud=Cloud,
        EvidenceArtifacts=EvidenceArtifacts, FindingInformation=FindingInformation, Metadata=Metadata,
        Product=Product, Remediation=Remediation, ResourceDetails=ResourceDetails)


def _partition(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else None


def _event(f: FindingView, model: ReportModel, time_ms: int, names: dict[str, str], hashes: Any) -> Any:
    c = _classes()
    status = f.status if f.status in STATUS_MAP else "ERROR"   # an unknown status is never Pass
    comp_status, comp_caption, event_status = STATUS_MAP[status]
    severity = SEVERITY_MAP.get(f.severity, "Unknown")
    rule = f.rule
    frameworks = {fw.id: fw for fw in model.frameworks}
    requirements = sorted({f"{ref.framework} {ref.control}" for ref in rule.controls})
    standards = sorted({f"{frameworks[ref.framework].title} {frameworks[ref.framework].version}".strip()
                        if ref.framework in frameworks else ref.framework for ref in rule.controls})
    detail = None
    if status == "WAIVED" and f.waiver is not None:
        w = f.waiver
        detail = (f"waived by {w.id} ({w.status}; approved by {w.approver}, ticket {w.ticket}, "
                  f"expires {w.expires}): {w.justification}")
    elif status == "ERROR":
        detail = f"not assessed: {f.message}"
    elif status == "NOT_APPLICABLE":
        detail = "not applicable: the rule's conditions exclude this resource"
    res = f.resource
    resource = c.ResourceDetails(
        uid=res.arn or None, name=res.id, type=res.type, region=res.region or None,
        cloud_partition=_partition(res.arn),
        data={k: v for k, v in (("account", res.account), ("vpc_id", res.vpc_id), ("item", f.item)) if v} or None)
    evidences = []
    for e in f.evidence:
        files = sorted({s.split("#", 1)[0] for s in e.sources})
        data = {"path": e.path, "observed": e.observed, "expected": e.expected, "holds": e.holds,
                "sources": list(e.sources), "record_sha256": {name: hashes.get(name, "") for name in files}}
        if e.explanation:   # how the derived value was decided (a PASS's too), as findings.json has it
            data["explanation"] = list(e.explanation)
        evidences.append(c.EvidenceArtifacts(name=e.path, data=data))
    remediation = "\n\n".join(text for _kind, text in rule.remediation)
    account = res.account or "unknown"
    return c.Finding(
        metadata=c.Metadata(
            product=c.Product(name=PRODUCT, vendor_name=VENDOR, version=model.run.tool_version or None),
            version=c.OCSF_VERSION, profiles=["cloud"], uid=str(uuid.uuid5(EVENT_NAMESPACE, f.fingerprint)),
            event_code=rule.id),
        time=time_ms,
        activity_id=c.ActivityID.Create, activity_name="Create",
        type_uid=c.TypeUID.Create, type_name="Compliance Finding: Create",
        severity_id=c.SeverityID[severity], severity=severity,
        status_id=c.StatusID[event_status], status=event_status, status_code=status, status_detail=detail,
        message=f.message or None,
        finding_info=c.FindingInformation(uid=f.fingerprint, title=rule.title or rule.id, desc=f.message or rule.title,
                                          created_time=time_ms),
        compliance=c.Compliance(
            control=rule.id, requirements=requirements or None, standards=standards or None,
            desc=rule.title or None, status_id=c.ComplianceStatusID[comp_status], status=comp_caption,
            status_detail=detail,
            checks=[c.Check(uid=rule.id, name=rule.title or rule.id, severity=severity,
                            severity_id=c.SeverityID[severity], status=comp_caption,
                            status_id=c.ComplianceStatusID[comp_status], standards=standards or None)]),
        resources=[resource],
        evidences=evidences or None,
        remediation=c.Remediation(desc=remediation, references=list(rule.references) or None) if remediation else None,
        cloud=c.Cloud(provider="AWS", region=res.region or None,
                      account=c.Account(uid=account, name=names.get(account) or account,
                                        type_id=c.AccountTypeID.AWS_Account, type="AWS Account")),
    )


def ocsf_events(model: ReportModel, manifest: bytes | None = None) -> list[Any]:
    """One validated OCSF Compliance Finding (py-ocsf-models objects) per finding of `model`;
    record hashes from the model, else from the snapshot `manifest`'s bytes."""
    return list(iter_events(model, manifest))


def iter_events(model: ReportModel, manifest: bytes | None = None) -> Iterator[Any]:
    """`ocsf_events` one at a time (an organisation's run is written without holding them all)."""
    from auditor.report.model import record_hashes_of

    time_ms = run_time_ms(model)
    names = {a.id: a.name for a in model.run.accounts}
    hashes = model.record_hashes or record_hashes_of(manifest)
    for f in model.findings:
        yield _event(f, model, time_ms, names, hashes)


def array_text(docs: list[dict[str, Any]]) -> str:
    """A JSON array with one element per line (each compact, keys sorted): as readable line by
    line as an indented file and several times faster to write (json's C encoder)."""
    if not docs:
        return "[]\n"
    return "[\n" + ",\n".join(json.dumps(d, sort_keys=True, ensure_ascii=False) for d in docs) + "\n]\n"


def write_array(docs: Iterable[dict[str, Any]], out: BinaryIO) -> None:
    """`array_text` of `docs` written into `out` one element at a time (the same bytes)."""
    first = True
    for d in docs:
        out.write(("[\n" if first else ",\n").encode("utf-8"))
        out.write(json.dumps(d, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        first = False
    out.write(b"[]\n" if first else b"\n]\n")


def ocsf_json(model: ReportModel, manifest: bytes | None = None) -> bytes:
    """The events of `model` as a JSON array, one event per line (keys sorted, UTF-8, no nulls).
    Raises ValueError (pydantic's ValidationError) when an event is not valid OCSF."""
    events = ocsf_events(model, manifest)
    return array_text([e.model_dump(mode="json", exclude_none=True) for e in events]).encode("utf-8")


def _stream(inputs: ReportInputs, out: BinaryIO) -> None:
    """The file's bytes written into `out`; ReportUnavailable (the other formats are still
    written; the caller drops the partial file) when py-ocsf-models is missing or refuses an
    event: nothing invalid is written."""
    try:
        from pydantic import ValidationError

        import py_ocsf_models  # noqa: F401
    except ImportError as exc:   # a runtime dependency: only a broken installation lacks it
        raise ReportUnavailable(f"OCSF needs the py-ocsf-models package (a dependency of this tool): {exc}") from exc
    try:
        write_array((e.model_dump(mode="json", exclude_none=True) for e in iter_events(inputs.model, inputs.manifest)),
                    out)
    except ValidationError as exc:
        raise ReportUnavailable(f"an OCSF event is not valid OCSF (py-ocsf-models refused it; nothing was written): "
                                f"{exc}") from exc


WRITER = Writer(name="ocsf", file_name="findings.ocsf.json", write=streamed(_stream), order=33, rederivable=True,
                stream=_stream)
