"""OSCAL assessment results (auditor/report/writers/oscal.py): the demo's findings.json made
into OSCAL through `auditor report` validates by compliance-trestle's models, every control status
maps as docs/reports.md says (ERROR and NOT_APPLICABLE never satisfied), evidence hashes are the
manifest's, the bytes are deterministic, and without trestle the error names the extra while the
rest is still written (a subprocess with the import blocked)."""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from trestle.oscal import OSCAL_VERSION
from trestle.oscal.assessment_results import AssessmentResults

from auditor.bundle_verify import verify_bundle
from auditor.cli import cli
from auditor.report.model import ReportModel, build_model
from auditor.report.outputs import report_bytes
from auditor.report.writers import ReportUnavailable, report_formats, scan_default_formats, writer
from auditor.report.writers.oscal import control_target, token
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from auditor.validation import load_schema
from conftest import DemoRun
from test_report_model import _counts, sample_document

REPO = Path(__file__).resolve().parent.parent
FILE = "findings.oscal.json"
# Python with compliance-trestle made unimportable (None in sys.modules stops the import), then
# the console script's entry point with the arguments given.
BLOCKED = "import sys; sys.modules['trestle'] = None; from auditor.cli import main; sys.argv[0] = 'auditor'; main()"

# The table of docs/reports.md ("OSCAL"), written out here: control status -> (state, reason,
# implementation-status state).
EXPECTED = {
    "PASS": ("satisfied", "pass", None),
    "FAIL": ("not-satisfied", "fail", None),
    "WAIVED": ("not-satisfied", "fail", None),
    "ERROR": ("not-satisfied", "other", None),
    "NOT_APPLICABLE": ("not-satisfied", "other", "not-applicable"),
}


def every_control_status() -> dict[str, Any]:
    """The sample findings.json with one PCI DSS control of each status (each citing the rule),
    still valid against the findings.json schema."""
    doc = copy.deepcopy(sample_document())
    fw = doc["frameworks"][0]
    fw["controls"] = [
        {"id": cid, "title": f"control {status}", "status": status, "rules": ["EKS-001"],
         "counts": _counts(**{status: 1}), "authorities": ["pack-author"], "third_party_only": False}
        for cid, status in (("1.2.1", "PASS"), ("1.3.1", "FAIL"), ("1.3.2", "WAIVED"), ("1.4.1", "ERROR"),
                            ("10.2.1", "NOT_APPLICABLE"))]
    doc["rules"][0]["frameworks"] = {"pci-dss-4.0": [c["id"] for c in fw["controls"]]}
    jsonschema.Draft202012Validator(load_schema("findings")).validate(doc)
    return doc


@pytest.fixture(scope="module")
def model() -> ReportModel:
    return build_model(every_control_status(), load_packs(), load_catalogues())


def _results(data: bytes) -> dict[str, Any]:
    doc = json.loads(data)
    assert list(doc) == ["assessment-results"]
    AssessmentResults.parse_obj(doc["assessment-results"])     # trestle's model of OSCAL
    return doc["assessment-results"]


@pytest.fixture(scope="module")
def demo_oscal(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`auditor report <the demo's findings.json> --format oscal` into a folder of its own."""
    assert demo_run.code == 0, demo_run.stderr
    out = tmp_path_factory.mktemp("oscal")
    res = CliRunner().invoke(cli, ["report", str(demo_run.out / "findings.json"), "--format", "oscal",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out / FILE


def test_oscal_is_written_only_when_asked() -> None:
    w = writer("oscal")
    assert w.file_name == FILE and w.rederivable and not w.by_default and not w.in_scan_default
    assert "oscal" not in scan_default_formats() and "oscal" not in report_formats()


def test_the_demo_results_validate_by_trestle(demo_run: DemoRun, demo_oscal: Path) -> None:
    assert not (demo_run.out / FILE).exists()       # not in the scan's default
    ar = _results(demo_oscal.read_bytes())
    doc = json.loads((demo_run.out / "findings.json").read_text(encoding="utf-8"))
    meta = ar["metadata"]
    assert meta["oscal-version"] == OSCAL_VERSION and meta["version"] == doc["run"]["tool"]["version"]
    assert meta["last-modified"].startswith(doc["run"]["snapshot"]["finished"].rstrip("Z"))
    assert ar["import-ap"]["href"] == "findings.json"
    (result,) = ar["results"]
    controls = [(fw["id"], c["id"], c["status"]) for fw in doc["frameworks"] for c in fw["controls"]]
    assert len(result["findings"]) == len(controls) > 0
    assert len(result["observations"]) == len(doc["findings"]) + len(doc["not_assessed"])
    selected = {s["control-id"] for sel in result["reviewed-controls"]["control-selections"]
                for s in sel["include-controls"]}
    assert selected == {control_target(fw, c) for fw, c, _ in controls}
    by_target = {f["target"]["target-id"]: f["target"]["status"] for f in result["findings"]}
    for fw, cid, status in controls:
        assert (by_target[control_target(fw, cid)]["state"] == "satisfied") == (status == "PASS")
    observations = {o["uuid"] for o in result["observations"]}
    for f in result["findings"]:
        assert {r["observation-uuid"] for r in f.get("related-observations", [])} <= observations


def test_the_demo_evidence_hashes_are_the_manifests(demo_run: DemoRun, demo_oscal: Path) -> None:
    files = json.loads((demo_run.out / "snapshot" / "manifest.json").read_text(encoding="utf-8"))["files"]
    (result,) = _results(demo_oscal.read_bytes())["results"]
    checked = 0
    for obs in result["observations"]:
        for ev in obs.get("relevant-evidence", []):
            record = ev["href"].removeprefix("snapshot/")
            assert (demo_run.out / ev["href"]).is_file()          # the href is the record in the bundle
            (sha,) = [p["value"] for p in ev["props"] if p["name"] == "sha256"]
            assert files[record] == f"sha256:{sha}" and sha in ev["description"]
            checked += 1
    assert checked > len(result["observations"]) // 2


def test_every_control_status_maps_as_documented(model: ReportModel) -> None:
    (result,) = _results(report_bytes("oscal", model, b"{}"))["results"]
    seen = {}
    for f in result["findings"]:
        props = {p["name"]: p["value"] for p in f["props"] if p["name"] != "rule-id"}
        target = f["target"]
        got = (target["status"]["state"], target["status"].get("reason"),
               target.get("implementation-status", {}).get("state"))
        assert got == EXPECTED[props["status"]], props["status"]
        assert target["target-id"] == control_target("pci-dss-4.0", props["control-id"])
        assert (props.get("assessment-status") == "not-assessed") == (props["status"] == "ERROR")
        seen[props["status"]] = target
    assert set(seen) == set(EXPECTED)
    assert "not assessed" in seen["ERROR"]["status"]["remarks"]


def test_error_findings_are_observed_as_not_assessed(model: ReportModel) -> None:
    (result,) = _results(report_bytes("oscal", model, b"{}"))["results"]
    error = next(o for o in result["observations"]
                 if {"name": "status", "value": "ERROR"} in [{k: p[k] for k in ("name", "value")} for p in o["props"]])
    assert {"assessment-status": "not-assessed"}.items() <= {p["name"]: p["value"] for p in error["props"]}.items()
    gaps = [o for o in result["observations"] if o["title"].startswith("not assessed: ")]
    assert len(gaps) == len(model.not_assessed) == 1 and "AccessDenied" in gaps[0]["description"]
    assert any(p["name"] == "run-status" and p["value"] == "incomplete" for p in result["props"])


def test_the_documented_table_is_the_one_written() -> None:
    text = (REPO / "docs" / "reports.md").read_text(encoding="utf-8")
    section = text.split("## OSCAL", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[1].startswith("`"):
            status = cells[0].split("`")[1]
            implementation = cells[3].split("`")[1] if cells[3].startswith("`implementation-status`") else None
            if implementation is not None:
                implementation = cells[3].split("`")[3]
            rows[status] = (cells[1].strip("`"), cells[2].strip("`"), implementation)
    assert rows == EXPECTED


def test_the_bytes_are_deterministic(model: ReportModel) -> None:
    again = build_model(every_control_status(), load_packs(), load_catalogues())
    first = report_bytes("oscal", model, b"{}")
    assert first == report_bytes("oscal", model, b"{}") == report_bytes("oscal", again, b"{}")
    assert first != report_bytes("oscal", model, b"{ }")   # another findings.json: another document uuid


def test_tokens() -> None:
    assert token("1.2.8") == "_1.2.8" and token("SC-7(4)") == "SC-7_4_"
    assert control_target("hipaa-security", "164.312(a)(1)") == "hipaa-security_164.312_a__1_"


def test_a_run_without_any_time_gives_a_clear_error(model: ReportModel) -> None:
    timeless = dataclasses.replace(model, run=dataclasses.replace(model.run, started="", finished="", assessed_on=""))
    with pytest.raises(ReportUnavailable, match="OSCAL needs the run's time"):
        report_bytes("oscal", timeless, b"{}")


def test_report_writes_ocsf_and_oscal(tmp_path: Path) -> None:
    src = tmp_path / "findings.json"
    src.write_text(json.dumps(sample_document()), encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(src), "--format", "ocsf,oscal", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["findings.ocsf.json", FILE]
    _results((tmp_path / "out" / FILE).read_bytes())


def _blocked(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCKED, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, check=False)


def test_without_trestle_report_names_the_extra_and_writes_the_rest(tmp_path: Path) -> None:
    src = tmp_path / "findings.json"
    src.write_text(json.dumps(sample_document()), encoding="utf-8")
    res = _blocked("report", str(src), "--format", "oscal,junit", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert res.returncode == 6, res.stderr
    assert "the 'oscal' extra" in res.stderr and "pip install 'private-network-auditor[oscal]'" in res.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["findings.junit.xml"]


def test_without_trestle_a_demo_asked_for_oscal_still_makes_its_bundle(tmp_path: Path) -> None:
    """`auditor demo --format json,oscal` (a scan with the demo's estate) without trestle: the
    error names the extra, findings.json and the bundle are written, and the bundle verifies."""
    out = tmp_path / "demo"
    res = _blocked("demo", "--quiet", "--out", str(out), "--format", "json,oscal", cwd=tmp_path)
    assert res.returncode == 6, res.stderr
    assert "oscal:" in res.stderr and "the 'oscal' extra" in res.stderr
    assert not (out / FILE).exists() and (out / "findings.json").is_file()
    bundle = json.loads((out / "bundle.json").read_text(encoding="utf-8"))
    assert "findings.json" in bundle["files"] and FILE not in bundle["files"]
    assert verify_bundle(out).ok


def test_verify_rederives_oscal_and_without_trestle_only_checks_its_hash(demo_run: DemoRun, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_run.out, bundle, symlinks=True)
    res = CliRunner().invoke(cli, ["report", str(bundle / "findings.json"), "--format", "oscal"])
    assert res.exit_code == 0, res.output
    assert FILE in json.loads((bundle / "bundle.json").read_text(encoding="utf-8"))["files"]
    lines: list[str] = []
    result = verify_bundle(bundle, progress=lambda mark, line: lines.append(line))
    assert result.ok and any(line.startswith("reports:") and FILE in line for line in lines), lines
    blocked = _blocked("verify", str(bundle), cwd=tmp_path)
    assert blocked.returncode == 0, blocked.stdout + blocked.stderr
    assert f"{FILE}: NOT re-derived (this installation cannot re-make it" in blocked.stdout
    assert "the 'oscal' extra" in blocked.stdout
    # an edited OSCAL file is still caught by its hash
    (bundle / FILE).write_bytes((bundle / FILE).read_bytes().replace(b"satisfied", b"satisfieD", 1))
    assert _blocked("verify", str(bundle), cwd=tmp_path).returncode == 5


def test_a_config_asks_for_oscal_and_without_outputs_formats_gets_the_default() -> None:
    from auditor.config import DEFAULT_FORMATS, config_from_text

    demo_config = (REPO / "sample_configs" / "demo-audit.yaml").read_text(encoding="utf-8")
    base = demo_config.split("\noutputs:", 1)[0] + "\n"
    assert config_from_text(base + "outputs:\n  formats: [json, oscal]\n").formats == ("json", "oscal")
    assert config_from_text(base).formats == DEFAULT_FORMATS == scan_default_formats()
    assert "oscal" not in DEFAULT_FORMATS and "ocsf" in DEFAULT_FORMATS
