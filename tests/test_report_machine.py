"""Machine outputs (JUnit XML, SARIF 2.1.0, CSV) and `auditor report`: escaping, CSV formula
neutralisation, determinism, exit codes; end to end on the demo's findings.json."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.report.machine import CSV_COLUMNS, csv_bytes, junit_xml, neutralise, sarif
from auditor.report.model import ReportModel, build_model
from auditor.report.writers import format_names
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from conftest import DemoRun
from test_report_model import FORMULA, HOSTILE_TAG, sample_document

LEVELS = {"error", "warning", "note", "none"}


@pytest.fixture(scope="module")
def model() -> ReportModel:
    return build_model(sample_document(), load_packs(), load_catalogues())


@pytest.fixture(scope="module")
def demo_findings(demo_run: DemoRun) -> Path:
    """A real findings.json: the session's `auditor demo` run (read only)."""
    assert demo_run.code == 0, demo_run.stderr
    return demo_run.out / "findings.json"


def _cases(xml: bytes) -> list[ET.Element]:
    return ET.fromstring(xml).findall("./testsuite/testcase")


# JUnit ---------------------------------------------------------------------------------------

def test_junit_one_case_per_finding_with_the_right_outcome(model: ReportModel) -> None:
    xml = junit_xml(model)
    root = ET.fromstring(xml)     # valid XML despite <, &, quotes and an ESC character in the data
    # 6 findings and the sample's one gap (the "collection" suite, checked below)
    assert root.tag == "testsuites" and root.get("tests") == "7"
    assert (root.get("failures"), root.get("errors"), root.get("skipped")) == ("1", "2", "2")
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "private-eks"
    assert suite.get("timestamp") == "2026-03-01T10:01:00Z"     # the snapshot's, not the clock
    cases = suite.findall("testcase")
    assert len(cases) == 6 and all(c.get("classname") == "EKS-001" for c in cases)
    fail = cases[0]
    assert fail.get("name") == f"eks_cluster bank-{HOSTILE_TAG} 111111111111/eu-west-1"
    failure = fail.find("failure")
    assert failure is not None and FORMULA in (failure.get("message") or "")
    assert HOSTILE_TAG in (failure.text or "") and "records/111111111111/eu-west-1/eks/" in (failure.text or "")
    assert "\x1b" not in (failure.get("message") or "")
    assert cases[1].find("error") is not None
    skipped = [c.find("skipped") for c in cases[2:] if c.find("skipped") is not None]
    assert len(skipped) == 2 and "WVR-1" in (skipped[0].get("message") or "")   # type: ignore[union-attr]
    assert cases[5].get("name") == "eks_cluster other [\tsqs] 111111111111/eu-west-1"
    assert b"<script>" not in xml and b"&lt;script&gt;" in xml


def test_junit_has_an_error_case_per_gap_in_a_collection_suite(model: ReportModel) -> None:
    root = ET.fromstring(junit_xml(model))
    (suite,) = [s for s in root.findall("testsuite") if s.get("name") == "collection"]
    assert (suite.get("tests"), suite.get("errors")) == ("1", "1")
    (case,) = suite.findall("testcase")
    gap = model.not_assessed[0]
    error = case.find("error")
    assert case.get("name") == f"{gap.account}/{gap.region} DescribeCluster" and error is not None
    assert gap.reason in (error.get("message") or "") and "EKS-001" in (error.get("message") or "")


def test_no_collection_suite_when_nothing_is_missing() -> None:
    doc = sample_document()
    doc["not_assessed"] = []
    root = ET.fromstring(junit_xml(build_model(doc)))
    assert [s.get("name") for s in root.findall("testsuite")] == ["private-eks"] and root.get("tests") == "6"


def test_junit_timestamp_from_source_date_epoch_when_the_snapshot_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = sample_document()
    doc["run"]["snapshot"]["finished"] = ""
    m = build_model(doc)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    suite = ET.fromstring(junit_xml(m)).find("testsuite")
    assert suite is not None and suite.get("timestamp") is None
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    suite = ET.fromstring(junit_xml(m)).find("testsuite")
    assert suite is not None and suite.get("timestamp") == "2023-11-14T22:13:20Z"


# SARIF ---------------------------------------------------------------------------------------

def _check_sarif(log: dict[str, Any]) -> None:
    """The SARIF 2.1.0 structure this tool relies on (required keys and enumerations)."""
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json" and log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] and driver["version"]
    ids = [r["id"] for r in driver["rules"]]
    assert len(ids) == len(set(ids))
    for r in driver["rules"]:
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"] and r["help"]["text"]
        assert {"severity", "frameworks", "tags"} <= set(r["properties"])
    for res in run["results"]:
        assert res["ruleId"] == ids[res["ruleIndex"]]
        assert res["level"] in LEVELS and res["kind"] in {"fail", "open"}
        assert res["kind"] == "fail" or res["level"] == "none"
        assert res["message"]["text"]
        (loc,) = res["locations"]
        assert loc["physicalLocation"]["artifactLocation"]["uriBaseId"] in run["originalUriBaseIds"]
        (logical,) = loc["logicalLocations"]
        assert logical["kind"] == "resource" and logical["fullyQualifiedName"] and "name" in logical
        assert len(res["partialFingerprints"]["auditorFingerprint/v1"]) == 20
        for s in res.get("suppressions", []):
            assert s["kind"] == "external" and s["status"] == "accepted" and s["justification"]


def test_sarif_rules_results_levels_and_suppressions(model: ReportModel) -> None:
    log = json.loads(sarif(model))
    _check_sarif(log)
    run = log["runs"][0]
    (rule,) = run["tool"]["driver"]["rules"]
    assert rule["id"] == "EKS-001" and rule["properties"]["frameworks"] == ["pci-dss-4.0:1.3.1"]
    assert rule["help"]["text"].count("\n") >= 1 and "aws eks update-cluster-config" in rule["help"]["text"]
    by_status = {r["properties"]["status"]: r for r in run["results"]}
    assert set(by_status) == {"FAIL", "ERROR", "WAIVED"}      # no PASS or NOT_APPLICABLE results
    assert by_status["FAIL"]["level"] == "error" and FORMULA in by_status["FAIL"]["message"]["text"]
    assert (by_status["ERROR"]["kind"], by_status["ERROR"]["level"]) == ("fail", "warning")   # visible
    assert by_status["WAIVED"]["suppressions"][0]["justification"].startswith("WVR-1: accepted <script>")
    loc = by_status["FAIL"]["locations"][0]["logicalLocations"][0]
    assert loc["fullyQualifiedName"] == f"arn:aws:eks:eu-west-1:111111111111:cluster/bank-{HOSTILE_TAG}"
    # the gap is the tool's own notification, and the run was not a complete one
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and note["properties"]["calls"] == ["DescribeCluster"]
    assert model.not_assessed[0].reason in note["message"]["text"]


def test_sarif_levels_follow_severity() -> None:
    doc = sample_document()
    for f, sev in zip(doc["findings"][:1], ["medium"], strict=True):
        f["severity"] = sev
    log = json.loads(sarif(build_model(doc)))
    assert log["runs"][0]["results"][0]["level"] == "warning"
    doc["findings"][0]["severity"] = "low"
    assert json.loads(sarif(build_model(doc)))["runs"][0]["results"][0]["level"] == "note"


# CSV -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", [FORMULA, "@SUM(1)", "+1", "-1", "\tx", "\rx", "=1+2"])
def test_neutralise_prefixes_formula_starts(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


def test_neutralise_leaves_plain_text() -> None:
    assert neutralise("vpc-1 =x") == "vpc-1 =x" and neutralise("") == ""


def test_csv_rows_are_inert_and_rfc4180(model: ReportModel) -> None:
    data = csv_bytes(model)
    assert data.startswith(b"fingerprint,rule_id,") and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 8     # 6 findings, then the gap
    assert all(len(r) == len(CSV_COLUMNS) for r in rows)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    col = {name: i for i, name in enumerate(CSV_COLUMNS)}
    fail = rows[1]
    assert FORMULA in fail[col["message"]] and HOSTILE_TAG in fail[col["resource_id"]]
    passes = {r[col["fingerprint"]]: r for r in rows[1:]}
    assert passes["d" * 20][col["resource_id"]] == "'@SUM(1)" and passes["d" * 20][col["message"]] == "'+1"
    assert passes["e" * 20][col["resource_id"]] == "'-1"
    assert passes["f" * 20][col["item"]] == "'\tsqs"
    assert rows[3][col["waiver"]] == "WVR-1"
    gap = rows[7]
    assert (gap[col["status"]], gap[col["rule_id"]], gap[col["resource_type"]]) == ("ERROR", "", "collection")
    assert gap[col["resource_id"]] == "DescribeCluster" and model.not_assessed[0].reason in gap[col["message"]]


# Determinism -------------------------------------------------------------------------------

def test_outputs_are_byte_identical_for_the_same_document() -> None:
    packs, cats = load_packs(), load_catalogues()
    a, b = build_model(sample_document(), packs, cats), build_model(sample_document(), packs, cats)
    for write in (junit_xml, sarif, csv_bytes):
        assert write(a) == write(b)


# The command -------------------------------------------------------------------------------

def test_report_command_on_the_demo(demo_findings: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    outs = []
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        res = runner.invoke(cli, ["report", str(demo_findings), "--format", "junit,sarif,csv,json,html", "--out",
                                   str(out)])
        assert res.exit_code == 0, res.output
        assert f"sarif: {out / 'findings.sarif'}" in res.output
        outs.append(out)
    names = ["findings.junit.xml", "findings.sarif", "findings.csv", "findings.json", "report.html"]
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    assert (outs[0] / "findings.json").read_bytes() == demo_findings.read_bytes()
    doc = json.loads(demo_findings.read_text())
    cases = _cases((outs[0] / "findings.junit.xml").read_bytes())
    assert len(cases) == len(doc["findings"])
    assert sum(1 for c in cases if c.find("failure") is not None) == doc["summary"]["findings"]["FAIL"]
    log = json.loads((outs[0] / "findings.sarif").read_text())
    _check_sarif(log)
    assert len(log["runs"][0]["tool"]["driver"]["rules"]) == len(doc["rules"])
    assert len(log["runs"][0]["results"]) == sum(doc["summary"]["findings"][s] for s in ("FAIL", "ERROR", "WAIVED"))
    rows = list(csv.reader(io.StringIO((outs[0] / "findings.csv").read_text(encoding="utf-8"), newline="")))
    assert len(rows) == len(doc["findings"]) + 1


def test_report_command_subset_and_default_folder(tmp_path: Path) -> None:
    src = tmp_path / "findings.json"
    src.write_text(json.dumps(sample_document()), encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(src), "--format", "csv, sarif"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.csv", "findings.json", "findings.sarif"]
    res = CliRunner().invoke(cli, ["report", str(src), "--format", "json"])   # the input itself: left alone
    assert res.exit_code == 0 and "the input itself" in res.output


def test_report_command_rejects_unknown_formats(tmp_path: Path) -> None:
    src = tmp_path / "findings.json"
    src.write_text(json.dumps(sample_document()), encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(src), "--format", "junit,docx", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "unknown format docx" in res.output and ", ".join(format_names()) in res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("text, expect", [
    ("{not json", "not JSON"),
    ('{"format": "something else"}', "does not match the findings.json schema"),
])
def test_report_command_rejects_bad_files(tmp_path: Path, text: str, expect: str) -> None:
    src = tmp_path / "findings.json"
    src.write_text(text, encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(src), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and expect in res.output and "Traceback" not in res.output


def test_report_command_missing_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "nope.json")])
    assert res.exit_code == 2 and "cannot read" in res.output


def test_the_config_knows_every_report_format() -> None:
    """config.ALL_FORMATS (what outputs.formats accepts, kept apart so the config stays light) and the
    config schema's enum name exactly the formats the report writer makes."""
    from auditor.config import ALL_FORMATS
    from auditor.report.outputs import FILE_NAMES, FORMATS
    from auditor.validation import load_schema

    schema = load_schema("audit-config")
    enum = schema["properties"]["outputs"]["properties"]["formats"]["items"]["enum"]
    assert set(ALL_FORMATS) == set(FORMATS) == set(FILE_NAMES) == set(enum)
