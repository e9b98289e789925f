"""ASFF for Security Hub (findings.asff.json) validated against botocore's own `securityhub`
service model, without network: each batch of 100 through botocore's parameter validation of
the BatchImportFindings input, every enumeration of the model, and the length limits its
documentation states. A run of 10,000 findings with large evidence has no finding over 240 KB
and loses none; ERROR never becomes PASSED; a reoccurring failure reopens."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

import pytest
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

from auditor.report.model import ReportModel, build_model
from auditor.report.writers import ReportInputs, writer
from auditor.report.writers import asff as asff_module
from auditor.report.writers.asff import ASFF_STATE, BATCH_SIZE, MAX_FINDING_BYTES, asff, asff_findings
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from conftest import DemoRun
from test_report_model import sample_document


@cache
def operation() -> OperationModel:
    """BatchImportFindings as botocore's installed `securityhub` model defines it (no network)."""
    return ServiceModel(Loader().load_service_model("securityhub", "service-2"), "securityhub") \
        .operation_model("BatchImportFindings")


def _documented_max(shape_doc: str) -> tuple[str, int] | None:
    m = re.search(r"Maximum (?:length )?of (\d+)(?: length)?\.", shape_doc) \
        or re.search(r"Maximum number of (\d+) items", shape_doc)
    if not m:
        return None
    return ("items" if "items" in m.group(0) else "length"), int(m.group(1))


def model_errors(value: Any, shape: Shape, path: str = "", doc: str = "") -> list[str]:
    """What botocore's ParamValidator leaves unchecked: enumerations and list maxima of the
    model, and the maxima its documentation states ("Maximum length of 256", "Maximum number of 32 items")."""
    errors: list[str] = []
    limit = _documented_max(re.sub(r"<[^>]+>", "", doc))
    if limit is not None:
        kind, n = limit
        if kind == "length" and isinstance(value, str) and len(value) > n:
            errors.append(f"{path}: {len(value)} characters, at most {n}")
        if kind == "items" and isinstance(value, list) and len(value) > n:
            errors.append(f"{path}: {len(value)} items, at most {n}")
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():   # type: ignore[attr-defined]
            if name in value:
                errors += model_errors(value[name], member, f"{path}.{name}", member.documentation or "")
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            errors.append(f"{path}: {len(value)} items, at most {shape.metadata['max']}")
        for i, item in enumerate(value):
            errors += model_errors(item, shape.member, f"{path}[{i}]")   # type: ignore[attr-defined]
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            errors += model_errors(item, shape.value, f"{path}[{key}]")   # type: ignore[attr-defined]
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is none of {shape.enum}")
        if not value.strip():
            errors.append(f"{path}: empty (NonEmptyString)")
    return errors


def validate_batches(findings: list[dict[str, Any]]) -> int:
    """Validate `findings` as `aws securityhub batch-import-findings` would send them, 100 a
    request; the number of requests."""
    shape = operation().input_shape
    assert shape is not None
    batches = [findings[i:i + BATCH_SIZE] for i in range(0, len(findings), BATCH_SIZE)]
    for n, batch in enumerate(batches):
        params = {"Findings": batch}
        report = ParamValidator().validate(params, shape)
        assert not report.has_errors(), f"batch {n}: {report.generate_report()}"
        errors = model_errors(params, shape)
        assert not errors, f"batch {n}: " + "\n".join(errors[:20])
    for f in findings:   # ProductFields: "up to 50 key-value pairs ... key up to 128, value up to 2048 characters"
        fields = f.get("ProductFields", {})
        assert len(fields) <= 50 and all(len(k) <= 128 and len(v) <= 2048 for k, v in fields.items()), f["Id"]
        assert len(json.dumps(f, ensure_ascii=False).encode("utf-8")) <= MAX_FINDING_BYTES, f["Id"]
    return len(batches)


# The validation itself ------------------------------------------------------------------------

def _sample_model(doc: dict[str, Any] | None = None) -> ReportModel:
    return build_model(doc or sample_document(), load_packs(), load_catalogues())


def test_the_validation_refuses_what_security_hub_refuses() -> None:
    good = asff_findings(_sample_model())
    assert validate_batches(good) == 1
    for breaks, expect in [
            (lambda f: f.pop("Description"), "Description"),
            (lambda f: f["Resources"][0].pop("Type"), "Type"),
            (lambda f: f["Compliance"].update(Status="COMPLIANT"), "COMPLIANT"),
            (lambda f: f.update(RecordState="OPEN"), "OPEN"),
            (lambda f: f.update(Title="x" * 257), "at most 256"),
            (lambda f: f.update(Description=" "), "empty"),
            (lambda f: f.update(CreatedAt=20260301), "CreatedAt")]:
        bad = copy.deepcopy(good)
        breaks(bad[0])
        with pytest.raises(AssertionError, match=expect):
            validate_batches(bad)
    # a request takes at most 100 findings (the model's list maximum)
    shape = operation().input_shape
    assert shape is not None
    assert model_errors({"Findings": (good * 101)[:101]}, shape) == [".Findings: 101 items, at most 100"]


# The demo ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_asff(demo_run: DemoRun) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The demo's findings.json through the registered writer, as `auditor report` runs it."""
    assert demo_run.code == 0, demo_run.stderr
    raw = (demo_run.out / "findings.json").read_bytes()
    doc = json.loads(raw)
    data = writer("asff").write(ReportInputs(build_model(doc, load_packs(), load_catalogues()), raw))
    return doc, json.loads(data)


def test_the_demo_asff_validates_against_botocores_securityhub_model(
        demo_asff: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    doc, findings = demo_asff
    assert len(findings) == len(doc["findings"])        # one per finding: rule x resource (x item)
    assert validate_batches(findings) == -(-len(findings) // BATCH_SIZE)
    ids = [f["Id"] for f in findings]
    assert len(set(ids)) == len(ids)


def test_the_demo_findings_say_what_security_hub_needs(demo_asff: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    doc, findings = demo_asff
    by_fp = {f["fingerprint"]: f for f in doc["findings"]}
    finished = doc["run"]["snapshot"]["finished"]
    for a in findings:
        source = by_fp[a["ProductFields"]["auditor/Fingerprint"]]
        res = source["resource"]
        account, region = res["account"], res["region"]
        assert a["SchemaVersion"] == "2018-10-08" and a["AwsAccountId"] == account and a["Region"] == region
        assert a["ProductArn"] == f"arn:aws:securityhub:{region}:{account}:product/{account}/default"
        assert a["Id"].endswith("/" + source["fingerprint"]) and a["GeneratorId"] == source["rule_id"]
        assert a["CreatedAt"] == a["UpdatedAt"] == finished[:23] + "Z"
        assert a["Description"].strip() and a["Title"].strip()
        assert a["Types"] and all(t.count("/") == 2 for t in a["Types"])
        assert a["FindingProviderFields"] == {"Severity": a["Severity"], "Types": a["Types"]}
        (resource,) = a["Resources"]
        assert resource["Partition"] == "aws" and resource["Region"] == region
        if res["arn"]:
            assert resource["Id"] == res["arn"]
        status = ASFF_STATE[source["status"]]
        assert (a["Compliance"]["Status"], a["RecordState"], a["Workflow"]["Status"]) == status
    types = {a["Resources"][0]["Type"] for a in findings}
    assert {"AwsEc2Vpc", "AwsEc2Subnet", "AwsEc2SecurityGroup", "AwsEksCluster"} <= types
    # PASS is exported so that an earlier failure resolves in Security Hub
    assert {a["Compliance"]["Status"] for a in findings} >= {"PASSED", "FAILED"}
    assert any("Remediation" in a for a in findings if a["Compliance"]["Status"] == "FAILED")


def test_the_output_is_deterministic(demo_run: DemoRun) -> None:
    raw = (demo_run.out / "findings.json").read_bytes()
    one = asff(build_model(json.loads(raw), load_packs(), load_catalogues()))
    two = asff(build_model(json.loads(raw), load_packs(), load_catalogues()))
    assert one == two
    assert writer("asff").rederivable and writer("asff").file_name == "findings.asff.json"


# ERROR, waivers, reoccurrence -------------------------------------------------------------------

def test_error_is_never_passed_and_says_why() -> None:
    doc = sample_document()
    findings = asff_findings(_sample_model(doc))
    validate_batches(findings)
    by_status = {f["ProductFields"]["auditor/Status"]: f for f in findings}
    error = by_status["ERROR"]
    assert error["Compliance"]["Status"] == "NOT_AVAILABLE" and error["RecordState"] == "ACTIVE"
    cause = next(f["message"] for f in doc["findings"] if f["status"] == "ERROR")
    assert error["Description"].startswith("Not assessed") and cause[:200] in error["Description"]
    for f in findings:
        if f["ProductFields"]["auditor/Status"] != "PASS":
            assert f["Compliance"]["Status"] != "PASSED"
    waived = by_status["WAIVED"]
    assert waived["Compliance"]["Status"] == "FAILED" and waived["RecordState"] == "ARCHIVED"
    assert "WVR-1" in waived["ProductFields"]["auditor/Waiver"]


# Security Hub's documented resets of a NOTIFIED or RESOLVED workflow to NEW (API reference,
# Workflow.Status): compliance PASSED -> WARNING, FAILED or NOT_AVAILABLE; record ARCHIVED -> ACTIVE.
def _reopens(before: str, after: str) -> bool:
    (c1, r1, _), (c2, r2, _) = ASFF_STATE[before], ASFF_STATE[after]
    return (c1 == "PASSED" and c2 in ("WARNING", "FAILED", "NOT_AVAILABLE")) or (r1 == "ARCHIVED" and r2 == "ACTIVE")


@pytest.mark.parametrize("before", ["PASS", "WAIVED", "NOT_APPLICABLE"])
@pytest.mark.parametrize("after", ["FAIL", "ERROR"])
def test_a_failure_after_a_pass_an_expired_waiver_or_not_applicable_reopens(before: str, after: str) -> None:
    assert _reopens(before, after)


def test_the_same_finding_keeps_its_id_from_fail_to_pass_to_fail() -> None:
    doc = sample_document()
    first = asff_findings(_sample_model(doc))[0]
    again = copy.deepcopy(doc)
    again["findings"][0]["status"] = "PASS"
    passed = asff_findings(_sample_model(again))[0]
    assert passed["Id"] == first["Id"] and passed["Compliance"]["Status"] == "PASSED"
    assert first["Compliance"]["Status"] == "FAILED" and _reopens("PASS", "FAIL")
    assert "SUPPRESSED" not in {s[2] for s in ASFF_STATE.values()}   # Security Hub never resets it


def test_a_finding_of_no_account_goes_under_the_runs_account() -> None:
    doc = sample_document()
    doc["findings"][1]["resource"].update(account="organization", region="all", id="*", arn="")
    findings = asff_findings(_sample_model(doc))
    validate_batches(findings)
    moved = next(f for f in findings if f["ProductFields"].get("auditor/Account") == "organization")
    assert re.fullmatch(r"\d{12}", moved["AwsAccountId"]) and moved["Region"] != "all"
    assert moved["Resources"][0]["Type"] == "AwsAccount"
    assert moved["Compliance"]["Status"] == "NOT_AVAILABLE" or moved["ProductFields"]["auditor/Status"] != "ERROR"


# Size -------------------------------------------------------------------------------------------

def _large_document(count: int) -> dict[str, Any]:
    """`count` findings made from the sample's FAIL and ERROR findings, each with 40
    conditions of 3,000-character observed values (120 KB of evidence a finding, shared in
    memory), on distinct resources."""
    doc = sample_document()
    templates = [f for f in doc["findings"] if f["status"] in ("FAIL", "ERROR")]
    evidence = [{"path": f"routes[{i}].destination", "observed": "10.0.0.0/8 " * 273, "expected": "is private",
                 "holds": False, "sources": [f"records/111111111111/eu-west-1/ec2/DescribeRouteTables~{i}.json#/x"]}
                for i in range(40)]
    findings = []
    for n in range(count):
        f = dict(templates[n % len(templates)])
        f["fingerprint"] = f"{n:020x}"
        f["resource"] = {**f["resource"], "id": f"rtb-{n:08x}",
                         "arn": f"arn:aws:ec2:eu-west-1:111111111111:route-table/rtb-{n:08x}"}
        f["evidence"] = evidence
        findings.append(f)
    doc["findings"] = findings
    return doc


def test_ten_thousand_findings_none_over_240_kb_none_lost() -> None:
    doc = _large_document(10_000)
    model = build_model(doc, load_packs(), load_catalogues())
    findings = asff_findings(model)
    assert len(findings) == 10_000
    sizes = [len(json.dumps(f, ensure_ascii=False).encode("utf-8")) for f in findings]
    assert max(sizes) <= MAX_FINDING_BYTES
    assert validate_batches(findings[:300]) == 3 and validate_batches(findings[-100:]) == 1
    note = findings[0]["ProductFields"]["auditor/EvidenceNote"]
    assert f"{asff_module.MAX_EVIDENCE_FIELDS} of 40 conditions" in note and "findings.json" in note
    assert findings[0]["ProductFields"]["auditor/EvidenceCount"] == "40"
    assert all(f["Compliance"]["Status"] in ("FAILED", "NOT_AVAILABLE") for f in findings)


def test_the_size_limit_cuts_evidence_in_order_and_keeps_the_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _large_document(2)
    model = build_model(doc, load_packs(), load_catalogues())
    full = asff_findings(model)[0]
    assert len(json.dumps(full).encode()) > 12_000
    monkeypatch.setattr(asff_module, "MAX_FINDING_BYTES", 12_000)
    (cut, _) = asff_findings(model)
    assert len(json.dumps(cut, sort_keys=True, ensure_ascii=False).encode("utf-8")) <= 12_000
    shown = [k for k in cut["ProductFields"] if k.startswith("auditor/Evidence/")]
    assert 0 < len(shown) < asff_module.MAX_EVIDENCE_FIELDS and shown == [f"auditor/Evidence/{i + 1:02d}" for i in range(len(shown))]
    assert f"{len(shown)} of 40 conditions" in cut["ProductFields"]["auditor/EvidenceNote"]
    assert cut["Id"] == full["Id"]


def test_a_run_that_reached_no_account_is_an_error_not_an_empty_file() -> None:
    """Discovery failed: every finding is under "organization" and no account was reached.
    An empty ASFF would read as nothing wrong in Security Hub; the writer refuses, and says why."""
    from auditor.report.writers import ReportUnavailable

    doc = sample_document()
    for f in doc["findings"]:
        f["resource"].update(account="organization", region="all", id="*", arn="")
    doc["run"]["accounts"] = [a | {"id": "organization"} for a in doc["run"]["accounts"]][:1]
    with pytest.raises(ReportUnavailable, match=r"finding\(s\) name none \('organization'"):
        asff_findings(_sample_model(doc))
