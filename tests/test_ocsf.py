"""OCSF Compliance Finding events (auditor/report/writers/ocsf.py): the demo's file validates by
py-ocsf-models, every status maps as docs/reports.md says (never Pass for ERROR), the bytes are
deterministic, and an event the models refuse is never written."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from py_ocsf_models import OCSF_VERSION
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

from auditor.bundle_verify import verify_bundle
from auditor.report.model import ReportModel, build_model, record_hashes_of
from auditor.report.outputs import report_bytes, write_reports
from auditor.report.writers import ReportUnavailable, scan_default_formats, writer
from auditor.report.writers.ocsf import _classes, ocsf_json
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from conftest import DemoRun
from test_report_model import ACCOUNT, sample_document

REPO = Path(__file__).resolve().parent.parent

# The table of docs/reports.md ("OCSF"), written out here: findings.json status ->
# (compliance.status_id, compliance.status, event status_id, event status).
EXPECTED = {
    "PASS": (1, "Pass", 1, "New"),
    "FAIL": (3, "Fail", 1, "New"),
    "WAIVED": (3, "Fail", 3, "Suppressed"),
    "ERROR": (2, "Warning", 1, "New"),
    "NOT_APPLICABLE": (99, "Not Applicable", 1, "New"),
}


@pytest.fixture(scope="module")
def model() -> ReportModel:
    return build_model(sample_document(), load_packs(), load_catalogues())


def _events(data: bytes) -> list[dict[str, Any]]:
    events = json.loads(data)
    assert isinstance(events, list)
    return events


def test_ocsf_is_in_the_scan_default_and_rederived() -> None:
    w = writer("ocsf")
    assert w.file_name == "findings.ocsf.json" and w.rederivable and w.by_default and w.in_scan_default
    assert "ocsf" in scan_default_formats()


def test_the_demo_events_validate_by_the_ocsf_models(demo_run: DemoRun) -> None:
    assert demo_run.code == 0, demo_run.stderr
    findings = json.loads((demo_run.out / "findings.json").read_text(encoding="utf-8"))["findings"]
    events = _events((demo_run.out / "findings.ocsf.json").read_bytes())
    assert len(events) == len(findings) > 0
    strict = _classes().Finding   # the library's class plus the Cloud profile, unknown keys refused
    for event, finding in zip(events, findings, strict=True):
        ComplianceFinding.model_validate(event)    # py-ocsf-models' own class
        strict.model_validate(event)
        assert (event["class_uid"], event["category_uid"], event["type_uid"]) == (2003, 2, 200301)
        assert event["metadata"]["version"] == OCSF_VERSION
        assert event["metadata"]["product"]["name"] == "private-network-auditor"
        assert event["finding_info"]["uid"] == finding["fingerprint"]
        assert event["compliance"]["control"] == finding["rule_id"]
        assert event["status_code"] == finding["status"]
        assert event["compliance"]["status_id"] == EXPECTED[finding["status"]][0]
        resource = finding["resource"]
        assert event["resources"][0].get("uid") == (resource["arn"] or None)
        assert event["resources"][0]["type"] == resource["type"]
        assert event["cloud"]["account"]["uid"] == resource["account"]
        assert event["cloud"]["region"] == resource["region"]


def test_the_demo_events_carry_the_frameworks_and_the_record_hashes(demo_run: DemoRun) -> None:
    doc = json.loads((demo_run.out / "findings.json").read_text(encoding="utf-8"))
    cited: dict[str, set[str]] = {}
    for fw in doc["frameworks"]:
        for ctl in fw["controls"]:
            for rule in ctl["rules"]:
                cited.setdefault(rule, set()).add(f"{fw['id']} {ctl['id']}")
    files = json.loads((demo_run.out / "snapshot" / "manifest.json").read_text(encoding="utf-8"))["files"]
    events = _events((demo_run.out / "findings.ocsf.json").read_bytes())
    assert any(cited.values())
    for event in events:
        assert set(event["compliance"].get("requirements", [])) == cited.get(event["compliance"]["control"], set())
        for evidence in event.get("evidences", []):
            for name, digest in evidence["data"]["record_sha256"].items():
                assert digest == files[name]


def test_the_demo_bundle_verifies_with_the_ocsf_file_rederived(demo_run: DemoRun) -> None:
    lines: list[str] = []
    result = verify_bundle(demo_run.out, progress=lambda mark, line: lines.append(line))
    assert result.ok, lines
    rederived = [line for line in lines if line.startswith("reports:")]
    assert rederived and "findings.ocsf.json" in rederived[0]


def test_every_status_maps_as_documented(model: ReportModel) -> None:
    events = {e["finding_info"]["uid"]: e for e in _events(ocsf_json(model))}
    seen = set()
    for f in model.findings:
        e = events[f.fingerprint]
        got = (e["compliance"]["status_id"], e["compliance"]["status"], e["status_id"], e["status"])
        assert got == EXPECTED[f.status], f.status
        assert e["compliance"]["checks"][0]["status_id"] == EXPECTED[f.status][0]
        seen.add(f.status)
    assert seen == set(EXPECTED)     # the sample has one finding (or more) of each status
    error = next(e for e in events.values() if e["status_code"] == "ERROR")
    assert error["compliance"]["status_detail"].startswith("not assessed: ")
    waived = next(e for e in events.values() if e["status_code"] == "WAIVED")
    assert "WVR-1" in waived["status_detail"] and "RISK-1" in waived["status_detail"]


def test_the_documented_table_is_the_one_written() -> None:
    """docs/reports.md's OCSF table says what EXPECTED (and the writer) do."""
    text = (REPO / "docs" / "reports.md").read_text(encoding="utf-8")
    section = text.split("## OCSF", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.fullmatch(r"\| `(\w+)`[^|]*\| (\d+) `([^`]+)` \| (\d+) `([^`]+)` \|.*", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), m.group(3), int(m.group(4)), m.group(5))
    assert rows == EXPECTED


def test_error_and_an_unknown_status_are_never_pass(model: ReportModel) -> None:
    error = next(f for f in model.findings if f.status == "ERROR")
    odd = dataclasses.replace(error, status="SOMETHING_NEW", fingerprint="9" * 20)
    events = _events(ocsf_json(dataclasses.replace(model, findings=(error, odd))))
    for e in events:
        assert e["compliance"]["status_id"] == 2 and e["compliance"]["status"] == "Warning"
        assert e["compliance"]["checks"][0]["status_id"] != 1


def test_the_fields_of_an_event(model: ReportModel) -> None:
    events = _events(ocsf_json(model))
    fail = next(e for e in events if e["status_code"] == "FAIL")
    finished = datetime.fromisoformat("2026-03-01T10:01:00+00:00")    # the sample's snapshot finish
    assert fail["time"] == int(finished.timestamp() * 1000) == fail["finding_info"]["created_time"]
    assert fail["severity_id"] == 4 and fail["severity"] == "High"
    assert fail["compliance"]["requirements"] == ["pci-dss-4.0 1.3.1"]
    assert fail["compliance"]["standards"] == ["PCI DSS 4.0.1"]
    assert fail["resources"][0]["uid"].startswith(f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/")
    assert fail["resources"][0]["cloud_partition"] == "aws"
    assert fail["cloud"] == {"provider": "AWS", "region": "eu-west-1",
                             "account": {"uid": ACCOUNT, "name": "prod", "type": "AWS Account", "type_id": 10}}
    assert fail["evidences"][0]["data"]["holds"] is False
    assert fail["remediation"]["desc"]
    # hostile strings are JSON data, escaped by the serializer
    assert "<script>" in fail["resources"][0]["name"]


def test_the_bytes_are_deterministic(model: ReportModel) -> None:
    again = build_model(sample_document(), load_packs(), load_catalogues())
    first = report_bytes("ocsf", model, b"{}")
    assert first == report_bytes("ocsf", model, b"{}") == report_bytes("ocsf", again, b"{}")
    lines = first.decode("utf-8").split("\n")
    assert lines[0] == "[" and lines[-2:] == ["]", ""] and len(lines) == len(model.findings) + 3
    for line in lines[1:-2]:      # one event per line, keys sorted
        text = line.removesuffix(",")
        assert text == json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False)


def test_an_event_the_models_refuse_is_not_written(model: ReportModel, tmp_path: Path) -> None:
    """An invalid event (here a message that is no string) stops the OCSF file only: the
    other formats are written and the failure is named."""
    broken = dataclasses.replace(model.findings[0], message=12345)  # type: ignore[arg-type]
    bad = dataclasses.replace(model, findings=(broken,))
    done = write_reports(tmp_path, ("ocsf", "json"), bad, b"{}")
    assert [fmt for fmt, _ in done.files] == ["json"]
    ((fmt, target, why),) = done.failed
    assert fmt == "ocsf" and "not valid OCSF" in why and not target.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_a_run_without_any_time_gives_a_clear_error(model: ReportModel) -> None:
    timeless = dataclasses.replace(model, run=dataclasses.replace(model.run, started="", finished="", assessed_on=""))
    with pytest.raises(ReportUnavailable, match="OCSF needs the run's time"):
        report_bytes("ocsf", timeless, b"{}")


def test_the_time_falls_back_to_the_start_then_the_assessment_date(model: ReportModel) -> None:
    no_end = dataclasses.replace(model, run=dataclasses.replace(model.run, finished=""))
    started = datetime.fromisoformat("2026-03-01T10:00:00+00:00")
    assert _events(ocsf_json(no_end))[0]["time"] == int(started.timestamp() * 1000)
    dated = dataclasses.replace(model, run=dataclasses.replace(model.run, finished="", started=""))
    assert _events(ocsf_json(dated))[0]["time"] == int(datetime.fromisoformat("2026-03-01T00:00:00+00:00").timestamp() * 1000)


def test_the_manifest_hashes_reach_the_evidence(model: ReportModel) -> None:
    name = model.findings[0].evidence[0].sources[0].split("#", 1)[0]
    manifest = json.dumps({"files": {name: "sha256:" + "ab" * 32}}).encode()
    hashed = dataclasses.replace(model, record_hashes=record_hashes_of(manifest))
    event = _events(ocsf_json(hashed))[0]
    assert event["evidences"][0]["data"]["record_sha256"] == {name: "sha256:" + "ab" * 32}
    # a model made without them: the manifest's bytes given to the writer
    assert not model.record_hashes
    assert _events(report_bytes("ocsf", model, b"{}", manifest=manifest))[0] == event
    assert _events(ocsf_json(model))[0]["evidences"][0]["data"]["record_sha256"] == {name: ""}
