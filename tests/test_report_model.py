"""The report model: one pure step from findings.json + rule metadata + catalogues.

`sample_document()` is a small schema-valid findings.json with every status and strings an
attacker could plant in AWS (tags, names): test_report_machine.py reuses it."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from auditor.findings import STATUSES
from auditor.report.model import ReportModel, authority_label, build_model, status_term
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import PackSet, load_packs
from auditor.validation import load_schema

HOSTILE_TAG = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x","y")'
ACCOUNT, REGION = "111111111111", "eu-west-1"


def _counts(**kw: int) -> dict[str, int]:
    return {s: kw.get(s, 0) for s in STATUSES}


def _finding(fp: str, rule: str, sev: str, status: str, rid: str, message: str, *, item: str | None = None,
             observed: Any = False, waiver: dict[str, Any] | None = None, rtype: str = "eks_cluster") -> dict[str, Any]:
    f: dict[str, Any] = {
        "fingerprint": fp, "rule_id": rule, "severity": sev, "status": status, "item": item, "message": message,
        "resource": {"type": rtype, "id": rid, "account": ACCOUNT, "region": REGION,
                     "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{rid}", "vpc_id": "vpc-1"},
        "evidence": [{"path": "endpoint_public_access", "observed": observed, "expected": "equals false",
                      "holds": None if status == "ERROR" else status != "FAIL",
                      "sources": [f"records/{ACCOUNT}/{REGION}/eks/DescribeCluster~{rid}.json#/pages/0/cluster"]}],
    }
    if waiver is not None:
        f["waiver"] = waiver
    return f


WAIVER = {"id": "WVR-1", "status": "active", "approver": "ciso@example.com", "ticket": "RISK-1",
          "expires": "2027-01-01", "justification": f"accepted {HOSTILE_TAG}"}


def sample_document() -> dict[str, Any]:
    """A findings.json with FAIL (hostile strings), ERROR, WAIVED, PASS and NOT_APPLICABLE findings."""
    findings = [
        _finding("a" * 20, "EKS-001", "high", "FAIL", "bank-" + HOSTILE_TAG,
                 f"cluster tag Owner={FORMULA} & <b>x</b> \"q\" \x1b[0m", observed={"Owner": HOSTILE_TAG}),
        _finding("b" * 20, "EKS-001", "high", "ERROR", "*", "not assessed: DescribeCluster failed", observed=None),
        _finding("c" * 20, "EKS-001", "high", "WAIVED", "legacy", "waived by WVR-1 (ticket RISK-1)", waiver=WAIVER),
        _finding("d" * 20, "EKS-001", "high", "PASS", "@SUM(1)", "+1", observed=False),
        _finding("e" * 20, "EKS-001", "high", "PASS", "-1", "ok", observed=False),
        _finding("f" * 20, "EKS-001", "high", "NOT_APPLICABLE", "other", "", item="\tsqs"),
    ]
    return {
        "format": "private-network-auditor/findings", "format_version": 1,
        "run": {
            "tool": {"name": "private-network-auditor", "version": "0.1.0"},
            "snapshot": {"manifest_sha256": "sha256:" + "0" * 64, "started": "2026-03-01T10:00:00Z",
                         "finished": "2026-03-01T10:01:00Z", "complete": True, "collector_version": "0.1.0",
                         "calls": 10, "errors": 1},
            "config": {"digest": "sha256:" + "1" * 64, "organization": "Example Bank <plc>", "collected_with_digest": ""},
            "profile": {"id": "pci-dss", "version": "1", "title": "PCI DSS", "frameworks": ["pci-dss-4.0"],
                        "style": "banking", "wording": {}, "builtin": True},
            "assessed_on": "2026-03-01",
            "packs": [{"id": "private-eks", "version": "1.0.0", "title": "EKS", "builtin": True, "sha256": "x",
                       "rules": ["EKS-001"], "parameters": {}}],
            "waivers": {"digest": "d", "count": 1},
            "accounts": [{"id": ACCOUNT, "name": "prod", "problem": "",
                          "role_arn": f"arn:aws:iam::{ACCOUNT}:role/AuditorReadOnly",
                          "identity": f"arn:aws:sts::{ACCOUNT}:assumed-role/AuditorReadOnly/auditor-2026-03-01"}],
            "regions": [REGION],
            "scope": {"everything": True, "vpc_ids": [], "tags": {}, "resources_in_scope": {"eks_cluster": 6},
                      "resources_out_of_scope": {}, "resources_scope_undecided": {}},
        },
        "summary": {
            "findings": _counts(FAIL=1, ERROR=1, WAIVED=1, PASS=2, NOT_APPLICABLE=1),
            "by_severity": {s: (_counts(FAIL=1, ERROR=1, WAIVED=1, PASS=2, NOT_APPLICABLE=1) if s == "high"
                                else _counts()) for s in ("critical", "high", "medium", "low", "info")},
            "rules": _counts(FAIL=1), "complete": False, "stale_waivers": 0,
        },
        "rules": [{"id": "EKS-001", "title": "The EKS cluster's API server endpoint is private only",
                   "severity": "high", "pack": "private-eks", "resource": "eks_cluster", "implements": [],
                   "frameworks": {"pci-dss-4.0": ["1.3.1"]}, "for_each": None, "status": "FAIL",
                   "counts": _counts(FAIL=1, ERROR=1, WAIVED=1, PASS=2, NOT_APPLICABLE=1)}],
        "frameworks": [{"id": "pci-dss-4.0", "title": "PCI DSS", "version": "4.0.1", "status": "FAIL", "controls": [
            {"id": "1.3.1", "title": "", "status": "FAIL", "rules": ["EKS-001"],
             "counts": _counts(FAIL=1, ERROR=1, WAIVED=1, PASS=2, NOT_APPLICABLE=1),
             "authorities": ["aws-security-hub", "third-party-prowler", "third-party-steampipe"],
             "third_party_only": False}]}],
        "waivers": [{"id": "WVR-1", "rules": ["EKS-001"], "resources": ["legacy"], "approver": "ciso@example.com",
                     "ticket": "RISK-1", "created": "2026-01-01", "expires": "2027-01-01", "status": "active",
                     "days_to_expiry": 306, "justification": "accepted", "source": "waivers.yaml:3"}],
        "not_assessed": [{"account": ACCOUNT, "region": REGION, "calls": ["DescribeCluster"],
                          "reason": "AccessDenied", "rules": ["EKS-001"]}],
        "findings": findings,
    }


@pytest.fixture(scope="module")
def packs() -> PackSet:
    return load_packs()


@pytest.fixture(scope="module")
def model(packs: PackSet) -> ReportModel:
    return build_model(sample_document(), packs, load_catalogues())


def test_the_sample_document_is_valid() -> None:
    jsonschema.Draft202012Validator(load_schema("findings")).validate(sample_document())


def test_the_model_joins_rule_metadata_and_framework_terms(model: ReportModel) -> None:
    assert model.organisation == "Example Bank <plc>" and model.style == "banking" and model.profile_id == "pci-dss"
    rule = model.rules_by_id["EKS-001"]
    assert rule.rationale and rule.references and dict(rule.remediation)["cli"].startswith("aws eks")
    assert [(c.framework, c.control) for c in rule.controls] == [("pci-dss-4.0", "1.3.1")]
    fw = model.frameworks[0]
    assert fw.requirement_word == "Requirement" and "cardholder" in fw.environment_word
    ctl = fw.controls[0]
    assert ctl.term == "Not in Place" and ctl.title      # title from the catalogue when the document has none
    assert ctl.authority == "mapped by AWS Security Hub; third-party mapping: Steampipe/Prowler (Apache-2.0)"
    assert fw.control_counts()["FAIL"] == 1


def test_failing_findings_in_full_and_passes_summarised(model: ReportModel) -> None:
    assert [f.status for f in model.failing] == ["FAIL", "ERROR"]
    fail = model.failing[0]
    assert fail.rule.title and fail.evidence[0].sources[0].startswith("records/")
    assert fail.evidence[0].observed == {"Owner": HOSTILE_TAG}
    (p,) = model.passes
    assert (p.framework, p.control, p.passed, p.population, p.resources) == ("pci-dss-4.0", "1.3.1", 2, 5, 2)
    assert model.waivers[0].approver == "ciso@example.com" and model.not_assessed[0].reason == "AccessDenied"
    waived = next(f for f in model.findings if f.status == "WAIVED")
    assert waived.waiver is not None and waived.waiver.ticket == "RISK-1"
    assert model.run.finished == "2026-03-01T10:01:00Z" and model.run.packs[0].id == "private-eks"
    assert model.finding_counts["PASS"] == 2 and model.by_severity["high"]["FAIL"] == 1


def test_the_model_is_pure_and_immutable(packs: PackSet, model: ReportModel) -> None:
    doc = sample_document()
    before = copy.deepcopy(doc)
    again = build_model(doc, packs, load_catalogues())
    assert doc == before and again == model
    with pytest.raises(AttributeError):
        model.organisation = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        model.finding_counts["FAIL"] = 0  # type: ignore[index]


def test_unknown_rules_and_missing_metadata_degrade_gracefully() -> None:
    doc = sample_document()
    doc["rules"][0]["id"] = "USR-001"
    for f in doc["findings"]:
        f["rule_id"] = "USR-001"
    m = build_model(doc)      # no packs, no catalogues
    assert m.rules[0].title and m.rules[0].remediation == () and m.findings[0].rule.id == "USR-001"
    assert m.frameworks[0].controls[0].title == ""


def test_labels_and_terms() -> None:
    assert authority_label(["pack-author"]) == "pack author, not reviewed"
    assert authority_label(["third-party-steampipe"]) == "third-party mapping: Steampipe (Apache-2.0)"
    # HIPAA cells never read as a verdict on a whole safeguard (risk-analysis input).
    assert status_term("hipaa-security", "PASS") == "No gaps found in network configuration"
    assert status_term("hipaa-security", "FAIL") == "Gaps found"
    assert status_term("nist-800-53-r5", "ERROR") == "Not assessed"


def test_utc_text_and_natural_control_order() -> None:
    from auditor.report.model import control_order, utc_text

    assert utc_text("2026-03-01T10:00:00.123456Z") == "2026-03-01 10:00:00 UTC"
    assert utc_text("2026-03-01T10:00:00+00:00") == "2026-03-01 10:00:00 UTC"
    assert utc_text("2026-03-01T10:00:00+02:00") == "2026-03-01T10:00:00+02:00"   # another zone: as given
    assert utc_text("") == "" and utc_text("yesterday") == "yesterday"
    ids = ["10.2.1", "1.5.1", "A.8.20", "7.2.1", "1.4.1", "A.8.3", "164.312(e)(1)", "164.308(a)(1)(ii)(D)"]
    assert sorted(ids, key=control_order) == ["1.4.1", "1.5.1", "7.2.1", "10.2.1", "164.308(a)(1)(ii)(D)",
                                              "164.312(e)(1)", "A.8.3", "A.8.20"]


def test_controls_are_in_natural_order() -> None:
    doc = sample_document()
    fw = doc["frameworks"][0]
    template = fw["controls"][0]
    fw["controls"] = [{**template, "id": cid} for cid in ("10.2.1", "1.3.1", "7.2.1")]
    model = build_model(doc, None, load_catalogues())
    assert [c.id for c in model.frameworks[0].controls] == ["1.3.1", "7.2.1", "10.2.1"]


def test_scope_selectors_say_how_scope_was_chosen() -> None:
    from auditor.report.html import html_report

    doc = sample_document()
    doc["run"]["scope"].update(everything=False, vpc_ids=["vpc-1", "vpc-2"],
                               tags={"data-classification": ["pci", "phi"], "env": ["prod"]})
    model = build_model(doc, None, load_catalogues())
    assert model.run.scope_selectors == ("VPC ids vpc-1, vpc-2", "tag data-classification = pci or phi",
                                         "tag env = prod")
    page = html_report(model).decode("utf-8")
    assert "<code>tag data-classification = pci or phi</code>; or <code>tag env = prod</code>" in page
    assert build_model(sample_document(), None, load_catalogues()).run.scope_selectors == ()


def test_record_hashes_come_from_the_manifest_and_keep_only_cited_records() -> None:
    from auditor.report.model import record_hashes_of

    doc = sample_document()
    cited = sorted({s.split("#")[0] for f in doc["findings"] for e in f["evidence"] for s in e["sources"]})
    files = {name: f"sha256:{n:064x}" for n, name in enumerate(cited)}
    manifest = json.dumps({"files": {**files, "records/other.json": "sha256:" + "f" * 64}}).encode()
    model = build_model(doc, None, load_catalogues(), record_hashes=record_hashes_of(manifest))
    assert dict(model.record_hashes) == files                          # uncited records left out
    failing = {s.split("#")[0] for f in model.failing for e in f.evidence for s in e.sources}
    assert model.failing_records == tuple((n, files[n]) for n in sorted(failing))
    for bad in (None, b"not json", b"[]", b'{"files": ["a"]}', b"{}"):
        assert record_hashes_of(bad) == {}
    assert build_model(doc, None, load_catalogues()).record_hashes == {}


# What could not be assessed: derived from the data, never a default ---------------------------

def _complete_document() -> dict[str, Any]:
    """The sample with nothing missing: a complete snapshot, no failed call, no gap."""
    doc = sample_document()
    doc["run"]["snapshot"]["errors"] = 0
    doc["not_assessed"] = []
    return doc


def test_every_call_answered_only_when_the_data_shows_it() -> None:
    assert build_model(_complete_document()).every_call_answered
    assert build_model(_complete_document()).gap_summary == ""
    failed_call = _complete_document()
    failed_call["run"]["snapshot"]["errors"] = 2           # a failed call, even with no gap entry
    incomplete = _complete_document()
    incomplete["run"]["snapshot"]["complete"] = False
    unreached = _complete_document()
    unreached["run"]["accounts"][0].update(problem="sts:AssumeRole failed: AccessDenied: no", identity="")
    for doc, said in ((sample_document(), "1 gap(s) in 1 account-region(s)"), (failed_call, "2 of 10 recorded"),
                      (incomplete, "the snapshot is not complete"), (unreached, "1 account(s) could not be assessed")):
        m = build_model(doc)
        assert not m.every_call_answered and said in m.gap_summary, m.gap_summary


def test_account_status_comes_from_the_document_or_is_derived_never_assessed_by_default() -> None:
    doc = sample_document()                     # written before run.accounts had a status
    (acct,) = build_model(doc).run.accounts
    assert (acct.status, acct.gaps) == ("incomplete", 1) and "1 gap(s)" in acct.detail
    assert acct.detail.startswith("reached as arn:aws:sts::")
    doc["run"]["accounts"][0].update(problem="sts:GetCallerIdentity failed: NoCredentialsError: x", identity="")
    m = build_model(doc)
    (acct,) = m.run.accounts
    assert acct.status == "not_assessed" and acct.detail == "not reached: sts:GetCallerIdentity failed: " \
                                                            "NoCredentialsError: x"
    assert m.unassessed_accounts == (acct,) and not acct.reached
    doc["run"]["accounts"][0].update(status="assessed", detail="reached as me", gaps=0, regions=["eu-west-1"])
    (acct,) = build_model(doc).run.accounts
    assert (acct.status, acct.detail, acct.regions) == ("assessed", "reached as me", ("eu-west-1",))


def test_a_framework_with_only_error_findings_is_not_tested_never_not_applicable(packs: PackSet) -> None:
    """results.py computes control status from the findings: ERROR is worse than NOT_APPLICABLE,
    and no findings at all is the only way to NOT_APPLICABLE."""
    from datetime import date

    from auditor.findings import Finding, ResourceRef
    from auditor.results import RunInfo, build_document
    from auditor.rules.engine import Evaluation

    rule = packs.rules_by_id["PN-001"]
    ref = ResourceRef(type=rule.resource, id="*", account="unknown", region=REGION)
    error = Finding(rule.id, rule.severity, "ERROR", ref, "not assessed in unknown/eu-west-1: NoCredentialsError")
    evaluation = Evaluation(findings=(error,), in_scope={}, out_of_scope={}, scope_undecided={},
                            waivers_used=frozenset(), gaps=(), today=date(2026, 3, 1), rules=(rule,))
    doc = build_document(evaluation, packs, RunInfo(manifest={}, manifest_sha256=""))
    m = build_model(doc, packs, load_catalogues())
    assert m.frameworks and all(fw.status == "ERROR" for fw in m.frameworks)
    pci = next(fw for fw in m.frameworks if fw.id == "pci-dss-4.0")
    assert pci.term == "Not Tested"


def test_account_statuses_are_one_list() -> None:
    from auditor.results import ACCOUNT_STATUSES

    schema = load_schema("findings")
    item = schema["properties"]["run"]["properties"]["accounts"]["items"]["properties"]
    assert tuple(item["status"]["enum"]) == ACCOUNT_STATUSES
