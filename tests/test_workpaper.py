"""Workpaper fields (issue 13, Deliver 4): the compensating-control worksheet of a waiver, the
management responses file and the assessor block, each from its input through findings.json
into both reports (real WeasyPrint PDFs read back with pypdf, the HTML parsed), bad input of
each kind, unmatched and overdue responses, old findings.json files without these sections,
and the `--responses` flag and the config keys on the command line."""

from __future__ import annotations

import copy
import json
import re
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.config import config_from_text
from auditor.emulate import DEMO_DATED_AS_OF
from auditor.errors import InputError
from auditor.report.html import html_report
from auditor.report.model import build_model
from auditor.report.pdf import PdfInputs, render_pdf
from auditor.report.workpaper import ASSESSOR_NOT_RECORDED, NO_RESPONSE, NOT_RECORDED, WORKSHEET_LABELS
from auditor.responses import responses_from_text, responses_section, with_responses
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from auditor.rules.waivers import WORKSHEET_FIELDS, waivers_from_text
from conftest import DemoRun, pdf_page_texts
from test_report_model import sample_document

FIXED = {"SOURCE_DATE_EPOCH": "1772359260"}
SAMPLES = Path(__file__).resolve().parents[1] / "sample_configs"


def _text(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(pdf_page_texts(pdf)).replace("\x00", ""))


def _pdf(doc: dict[str, Any]) -> str:
    raw = json.dumps(doc, sort_keys=True).encode()
    return _text(render_pdf(build_model(doc, load_packs([]), load_catalogues()), PdfInputs(raw, None),
                            style="banking", environ=FIXED))


class _Text(HTMLParser):
    """The text of each element with an id (nested ids included), whitespace collapsed, and the
    embedded report data."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, str]] = []
        self.by_id: dict[str, str] = {}
        self.data_json = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append((tag, dict(attrs).get("id") or ""))

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            t, _ = self.open.pop()
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, ident in self.open:
            if ident:
                self.by_id[ident] = " ".join((self.by_id.get(ident, "") + " " + data).split())
        if self.open and self.open[-1][1] == "report-data":
            self.data_json += data


def _html(doc: dict[str, Any]) -> _Text:
    parser = _Text()
    parser.feed(html_report(build_model(doc, load_packs([]), load_catalogues())).decode("utf-8"))
    return parser


WORKSHEET = {k: f"{k} text <b>{i}</b>" for i, k in enumerate(WORKSHEET_FIELDS)}
ASSESSOR = {"company": "Audit & Co", "certificate": "QSA-7", "lead_assessors": ["Ann One", "Bob Two"],
            "independence": "We operate none of the controls.", "fieldwork_start": "2026-02-20",
            "fieldwork_end": "2026-03-01", "qa_reviewer": "Quinn"}
RESPONSES = """version: 1
responses:
  - fingerprint: aaaaaaaaaaaaaaaaaaaa
    owner: Pat Platform
    status: in-progress
    target_date: 2026-02-01
    comment: private endpoint being enabled
  - rule: EKS-001
    owner: eks-owners
    status: risk-accepted
    retest: {date: 2026-02-15, result: fail}
  - fingerprint: 0123456789abcdef0123
    owner: nobody
    status: open
    target_date: 2027-01-01
"""


def _full_document() -> dict[str, Any]:
    """sample_document with a worksheet, an assessor block and the responses above."""
    doc = sample_document()
    doc["waivers"][0]["worksheet"] = dict(WORKSHEET)
    doc["run"]["assessor"] = dict(ASSESSOR)
    return with_responses(doc, responses_from_text(RESPONSES, "responses.yaml", ["EKS-001"]))


# --- worksheet ----------------------------------------------------------------------------------

_WAIVER = """version: 1
waivers:
  - id: WVR-9
    rules: [PN-001]
    resources: [{id: vpc-1}]
    justification: a long enough reason for the exception
    approver: ciso
    ticket: RISK-9
    created: 2026-01-01
    expires: 2026-06-30
"""
_SHEET = "".join(f"      {k}: {v}\n" for k, v in (("constraints", "c"), ("objective", "o"), ("identified_risk", "r"),
                                                  ("definition", "d"), ("validation", "v"), ("maintenance", "m")))


def _waiver_problems(text: str) -> list[str]:
    with pytest.raises(InputError) as info:
        waivers_from_text(text, "w.yaml")
    return [p.render() for p in info.value.problems]


def test_worksheet_is_read_in_its_order() -> None:
    w = waivers_from_text(_WAIVER + "    worksheet:\n" + _SHEET, "w.yaml").waivers[0]
    assert w.worksheet == (("constraints", "c"), ("objective", "o"), ("identified_risk", "r"), ("definition", "d"),
                           ("validation", "v"), ("maintenance", "m"))
    assert waivers_from_text(_WAIVER, "w.yaml").waivers[0].worksheet is None


def test_worksheet_unknown_key_is_named_with_did_you_mean_and_no_echo() -> None:
    assert _waiver_problems(_WAIVER + "    worksheet:\n" + _SHEET.replace("identified_risk", "identifed_risk")) == [
        "w.yaml:14:7  waivers[0].worksheet.identifed_risk: unknown key 'identifed_risk' (did you mean "
        "'identified_risk'?); allowed keys: constraints, objective, identified_risk, definition, validation, "
        "maintenance"]


def test_worksheet_missing_and_blank_fields() -> None:
    assert _waiver_problems(_WAIVER + "    worksheet:\n" + _SHEET.replace("      maintenance: m\n", "")) == [
        "w.yaml:12:7  waivers[0].worksheet: missing required key 'maintenance'"]
    assert _waiver_problems(_WAIVER + "    worksheet:\n" + _SHEET.replace("validation: v", "validation: ' '")) == [
        "w.yaml:16:19  waivers[0].worksheet.validation: ' ' is not valid: must not be blank"]


# --- responses: bad input -----------------------------------------------------------------------

def _response_problems(text: str, known: list[str] | None = None) -> list[str]:
    with pytest.raises(InputError) as info:
        responses_from_text(text, "r.yaml", known)
    return [p.render() for p in info.value.problems]


_ONE = "version: 1\nresponses:\n  - rule: EKS-001\n    owner: team\n    status: open\n    target_date: 2026-04-01\n"


@pytest.mark.parametrize("text, known, expected", [
    (_ONE.replace("owner:", "ownr:"), None,
     ["r.yaml:4:5  responses[0].ownr: unknown key 'ownr' (did you mean 'owner'?); allowed keys: fingerprint, rule, "
      "owner, target_date, status, comment, retest"]),
    (_ONE.replace("2026-04-01", "2026-04-31"), None,
     ["r.yaml:6:18  responses[0].target_date: '2026-04-31' is not a valid date: day is out of range for month"]),
    (_ONE.replace("2026-04-01", "next week"), None,
     ["r.yaml:6:18  responses[0].target_date: expected a date written YYYY-MM-DD, got 'next week'"]),
    (_ONE.replace("    target_date: 2026-04-01\n", ""), None,
     ["r.yaml:3:5  responses[0]: a response that is open needs a target_date (YYYY-MM-DD)"]),
    (_ONE.replace("status: open", "status: done"), None,
     ["r.yaml:5:13  responses[0].status: 'done' is not one of: open, in-progress, remediated, risk-accepted"]),
    (_ONE.replace("EKS-001", "EKS-010"), ["EKS-001"],
     ["r.yaml:3:11  responses[0].rule: 'EKS-010' is not a known rule id (did you mean 'EKS-001'?)"]),
    (_ONE + _ONE.split("responses:\n")[1], None,
     ["r.yaml:7:11  responses[1].rule: rule EKS-001 has two responses (first as responses[0])"]),
    (_ONE.replace("  - rule: EKS-001\n", "  - rule: EKS-001\n    fingerprint: aaaaaaaaaaaaaaaaaaaa\n"), None,
     ["r.yaml:3:5  responses[0]: a response names exactly one of fingerprint or rule"]),
    (_ONE.replace("rule: EKS-001", "fingerprint: ABC"), None,
     ["r.yaml:3:18  responses[0].fingerprint: 'ABC' is not valid: a finding fingerprint is 20 lower-case hex digits "
      "(findings.json findings[].fingerprint)"]),
    (_ONE + "    retest: {date: 2026-05-01, result: maybe}\n", None,
     ["r.yaml:7:40  responses[0].retest.result: 'maybe' is not one of: pass, fail"]),
    ("version: 1\nresponses:\n  - [\n", None,
     ["r.yaml:4:1  YAML syntax error: expected the node content, but found '<stream end>'"]),
    ("- just a list\n", None, ["r.yaml:1:1  expected a mapping with version and responses at the top of the file"]),
])
def test_bad_responses_are_named_at_file_line(text: str, known: list[str] | None, expected: list[str]) -> None:
    assert _response_problems(text, known) == expected


def test_every_problem_at_once() -> None:
    text = _ONE.replace("owner: team", "owner: team\n    colour: red").replace("2026-04-01", "2026-02-30")
    assert len(_response_problems(text)) == 2


# --- responses: matching, unmatched, overdue ----------------------------------------------------

def test_section_matches_fingerprint_first_then_the_rule_and_marks_unmatched_and_overdue() -> None:
    doc = _full_document()
    section = doc["responses"]
    by_source = {e["source"]: e for e in section["entries"]}
    assert by_source["responses.yaml:3"]["matched"] == 1           # the FAIL finding, by fingerprint
    assert by_source["responses.yaml:8"]["matched"] == 1           # the ERROR finding (the FAIL has its own)
    assert by_source["responses.yaml:12"]["matched"] == 0          # no such finding: unmatched
    # Overdue as of the run's assessed date (2026-03-01), not today: target 2026-02-01 passed.
    assert [e["overdue"] for e in section["entries"]] == [True, False, False]
    assert (section["unmatched"], section["overdue"]) == (1, 1)
    later = copy.deepcopy(doc)
    later["run"]["assessed_on"] = "2026-01-15"
    assert with_responses(later, responses_from_text(RESPONSES, "responses.yaml"))["responses"]["overdue"] == 0


def test_a_rule_response_answers_only_failing_findings() -> None:
    rs = responses_from_text("version: 1\nresponses:\n  - rule: EKS-001\n    owner: o\n    status: remediated\n")
    passing = [{"fingerprint": "d" * 20, "rule_id": "EKS-001", "status": "PASS"}]
    assert responses_section(rs, passing, "2026-03-01")["entries"][0]["matched"] == 0


# --- into findings.json and both reports ---------------------------------------------------------

@pytest.fixture(scope="module")
def full_pdf() -> str:
    return _pdf(_full_document())


def test_every_field_reaches_the_pdf(full_pdf: str) -> None:
    for label, _ in WORKSHEET_LABELS:
        assert label in full_pdf
    for value in WORKSHEET.values():
        assert value in full_pdf                       # escaped, shown as text
    for value in ("Audit & Co", "QSA-7", "Ann One, Bob Two", "We operate none of the controls.", "2026-02-20 to "
                  "2026-03-01", "Quinn"):
        assert full_pdf.count(value) >= 1, value
    assert "Management response (finding aaaaaaaaaaaaaaaaaaaa): in-progress, OVERDUE (target 2026-02-01); owner " \
           "Pat Platform; retest not retested; private endpoint being enabled" in full_pdf
    assert "Management response (rule EKS-001): risk-accepted (no target date); owner eks-owners; retest fail on " \
           "2026-02-15" in full_pdf
    assert "UNMATCHED no finding of this run" in full_pdf
    assert "1 overdue" in full_pdf and "1 unmatched" in full_pdf
    assert NO_RESPONSE not in full_pdf.split("Management responses From")[0].split("Failing findings")[-1]


def test_every_field_reaches_the_html() -> None:
    page = _html(_full_document())
    sheet = page.by_id["worksheets"] if "worksheets" in page.by_id else ""
    waivers = page.by_id["waivers"]
    for label, _ in WORKSHEET_LABELS:
        assert label in waivers, label
    for value in WORKSHEET.values():
        assert value in waivers
    assert sheet == "Compensating-control worksheets"
    register = page.by_id["responses-register"]
    assert "finding aaaaaaaaaaaaaaaaaaaa Pat Platform in-progress, OVERDUE 2026-02-01 not retested 1" in register
    assert "rule EKS-001 eks-owners risk-accepted none fail on 2026-02-15 1" in register
    assert "UNMATCHED: no finding of this run" in register
    assessor = page.by_id["assessor-block"]
    for value in ("Audit & Co", "QSA-7", "Ann One, Bob Two", "We operate none of the controls.", "Quinn",
                  "2026-02-20 to 2026-03-01"):
        assert value in assessor
    data = json.loads(page.data_json)["responses"]     # what report.js shows beside each finding
    assert data["lines"][data["by_finding"]["a" * 20]].startswith("Management response (finding aaaa")
    assert data["lines"][data["by_finding"]["b" * 20]].startswith("Management response (rule EKS-001)")
    assert data["by_finding"]["a" * 20] in data["overdue"] and "c" * 20 not in data["by_finding"]
    assert data["none"] == f"Management response: {NO_RESPONSE}"


def test_an_old_findings_json_says_not_recorded() -> None:
    doc = sample_document()              # no worksheet, no run.assessor, no responses section
    text = _pdf(doc)
    assert text.count(NOT_RECORDED) == len(WORKSHEET_LABELS) + 1     # every field, and the waiver's line
    assert ASSESSOR_NOT_RECORDED in text and f"Assessor {ASSESSOR_NOT_RECORDED}" in text
    # Without a responses file the failing findings' section says it once, not under each of
    # them (10k lines of the same words cost the PDF benchmark seconds); the register says it too.
    assert text.count(f"Management response: {NO_RESPONSE}") == 0
    assert f"No responses file was given for this run: {NO_RESPONSE} for any finding below" in " ".join(text.split())
    assert "No responses file was given for this run" in text
    page = _html(doc)
    assert page.by_id["assessor-absent"].startswith(f"Assessor: {ASSESSOR_NOT_RECORDED}")
    assert page.by_id["responses-absent"].startswith("No responses file was given")
    assert page.by_id["waivers"].count(NOT_RECORDED) == len(WORKSHEET_LABELS) + 1
    assert json.loads(page.data_json)["responses"]["by_finding"] == {}


# --- the assessor block in the config -------------------------------------------------------------

_CONFIG = """version: 1
assessor:
  company: Audit & Co
  certificate: QSA-7
  lead_assessors: [Ann One]
  independence: We operate none of the controls.
  fieldwork_start: 2026-02-20
  fieldwork_end: 2026-03-01
"""


def _config_problems(text: str) -> list[str]:
    with pytest.raises(InputError) as info:
        config_from_text(text, "c.yaml")
    return [p.render() for p in info.value.problems]


def test_assessor_block_is_read() -> None:
    a = config_from_text(_CONFIG + "  qa_reviewer: Quinn\n", "c.yaml").assessor
    assert a is not None and a.to_json() == {**ASSESSOR, "lead_assessors": ["Ann One"]}


@pytest.mark.parametrize("text, expected", [
    (_CONFIG.replace("company:", "compnay:"),
     ["c.yaml:3:3  assessor.compnay: unknown key 'compnay' (did you mean 'company'?); allowed keys: company, "
      "certificate, lead_assessors, independence, fieldwork_start, fieldwork_end, qa_reviewer"]),
    (_CONFIG.replace("2026-03-01", "2026-02-01"),
     ["c.yaml:8:18  assessor.fieldwork_end: fieldwork ends 2026-02-01, before it starts (2026-02-20)"]),
    (_CONFIG.replace("2026-02-20", "2026-02-30"),
     ["c.yaml:7:20  assessor.fieldwork_start: '2026-02-30' is not a valid date: day is out of range for month"]),
    (_CONFIG.replace("[Ann One]", "[]"), ["c.yaml:5:19  assessor.lead_assessors: must not be empty"]),
    (_CONFIG.replace("  independence: We operate none of the controls.\n", ""),
     ["c.yaml:3:3  assessor: missing required key 'independence'"]),
])
def test_bad_assessor_blocks(text: str, expected: list[str]) -> None:
    assert _config_problems(text) == expected


# --- the demo shows all three -----------------------------------------------------------------------

def test_demo_findings_and_reports_carry_the_workpaper(demo_run: DemoRun) -> None:
    doc = json.loads((demo_run.out / "findings.json").read_text(encoding="utf-8"))
    sheet = doc["waivers"][0]["worksheet"]
    assert sorted(sheet) == sorted(WORKSHEET_FIELDS) and all(sheet.values())
    assert doc["run"]["assessor"]["company"] == "Example Assurance LLP"
    assert {e["rule"]: e["matched"] > 0 for e in doc["responses"]["entries"]} == {
        "VE-001": True, "PN-014": True, "SE-002": True}
    text = _text((demo_run.out / "report.pdf").read_bytes())
    assert "Compensating-control worksheets Waiver WVR-2026-101" in text
    assert sheet["validation"] in text
    # The demo's responses are re-dated from DEMO_DATED_AS_OF to the day it runs (its target
    # 2026-09-30 moves with it): the same register on any day.
    shift = date.fromisoformat(doc["run"]["assessed_on"]) - DEMO_DATED_AS_OF
    assert f"Management response (rule PN-014): open, OVERDUE (target {date(2026, 9, 30) + shift})" in text
    assert "Example Assurance LLP (certificate QSA-2026-0042)" in text
    page = HTMLParserText = _Text()
    HTMLParserText.feed((demo_run.out / "report.html").read_text(encoding="utf-8"))
    assert "Example Assurance LLP" in page.by_id["assessor-block"]
    assert "rule PN-014" in page.by_id["responses-register"]


# --- the command line: the config key and the flag --------------------------------------------------

def _rescan(demo_run: DemoRun, tmp_path: Path, config_extra: str, args: list[str]) -> dict[str, Any]:
    tmp_path.mkdir()
    config = tmp_path / "audit.yaml"
    text = (SAMPLES / "demo-audit.yaml").read_text(encoding="utf-8")
    text = re.sub(r"\nwaivers:.*|\nresponses:.*", "", text) + config_extra
    config.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["scan", "--snapshot", str(demo_run.out / "snapshot"), "-c", str(config),
                                   "--out", str(out), "--format", "json,html", *args])
    assert res.exit_code in (0, 1), res.output
    verify = CliRunner().invoke(cli, ["verify", str(out)])
    assert verify.exit_code == 0, verify.output           # re-derived from the bundle's copy of the file
    return {"doc": json.loads((out / "findings.json").read_text(encoding="utf-8")), "stderr": res.stderr,
            "out": out}


def test_scan_reads_the_config_key_and_the_flag(demo_run: DemoRun, tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("version: 1\nresponses:\n  - rule: VE-001\n    owner: a\n    status: open\n"
                                        "    target_date: 2030-01-01\n", encoding="utf-8")
    by_key = _rescan(demo_run, tmp_path / "k", "responses: ../mine.yaml\n", [])
    assert by_key["doc"]["responses"]["entries"][0]["owner"] == "a"
    assert (by_key["out"] / "inputs" / "responses" / "mine.yaml").is_file()
    other = tmp_path / "other.yaml"
    other.write_text("version: 1\nresponses:\n  - rule: PN-001\n    owner: b\n    status: remediated\n",
                     encoding="utf-8")
    by_flag = _rescan(demo_run, tmp_path / "f", "responses: ../mine.yaml\n", ["--responses", str(other)])
    entries = by_flag["doc"]["responses"]["entries"]
    assert [(e["owner"], e["matched"]) for e in entries] == [("b", 0)]      # the flag wins; PN-001 passes
    assert "other.yaml:3  unmatched management response: rule PN-001 has no failing finding" in by_flag["stderr"]
    none = _rescan(demo_run, tmp_path / "n", "", [])
    assert "responses" not in none["doc"]


def test_scan_refuses_a_bad_responses_file(demo_run: DemoRun, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nresponses:\n  - rule: VE-01\n    owner: a\n    status: open\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["scan", "--snapshot", str(demo_run.out / "snapshot"), "--responses", str(bad),
                                   "--out", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 2
    assert "bad.yaml:3:11  responses[0].rule: 'VE-01' is not valid: a rule id such as PN-001 (no globs)" in res.stderr
    assert "bad.yaml:3:5  responses[0]: a response that is open needs a target_date" in res.stderr
    assert not (tmp_path / "o").exists()


def test_report_flag_puts_the_responses_into_findings_json(tmp_path: Path) -> None:
    src = tmp_path / "in" / "findings.json"
    src.parent.mkdir()
    src.write_text(json.dumps(sample_document()), encoding="utf-8")
    resp = tmp_path / "responses.yaml"
    resp.write_text(RESPONSES, encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["report", str(src), "--format", "html", "--out", str(out), "--responses", str(resp)])
    assert res.exit_code == 0, res.output
    written = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert written["responses"] == _full_document()["responses"]
    assert "unmatched management response: fingerprint 0123456789abcdef0123 is no finding" in res.stderr
    page = _Text()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    assert "Pat Platform" in page.by_id["responses-register"]
    assert "responses" not in json.loads(src.read_text(encoding="utf-8"))     # the input is left as it was
    bad = tmp_path / "bad.yaml"
    bad.write_text(RESPONSES.replace("owner: nobody", "owner: nobody\n    colour: red"), encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(src), "--format", "html", "--out", str(tmp_path / "o2"),
                                   "--responses", str(bad)])
    assert res.exit_code == 2 and "bad.yaml:14:5  responses[2].colour: unknown key 'colour'" in res.stderr


def test_report_flag_is_refused_into_an_evidence_bundle(demo_run: DemoRun, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_run.out, bundle)
    resp = tmp_path / "r.yaml"
    resp.write_text(RESPONSES, encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(bundle / "findings.json"), "--format", "html",
                                   "--responses", str(resp)])
    assert res.exit_code == 2 and "is an evidence bundle" in res.stderr
    assert (bundle / "findings.json").read_bytes() == (demo_run.out / "findings.json").read_bytes()


def test_the_findings_list_shows_each_response_beside_its_finding(tmp_path: Path) -> None:
    """In Chromium: report.js puts the response under each failing finding (or says there is
    none), and the search finds a finding by its response."""
    from test_report_html import _dump

    path = tmp_path / "report.html"
    path.write_text(html_report(build_model(_full_document(), load_packs([]), load_catalogues())).decode("utf-8"),
                    encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr class="finding" data-fp="(\w+)".*?</tr>', _dump(path), re.S)}
    assert "Management response (finding aaaaaaaaaaaaaaaaaaaa): in-progress, OVERDUE" in rows["a" * 20]
    assert "Management response (rule EKS-001): risk-accepted" in rows["b" * 20]
    assert f"Management response: {NO_RESPONSE}" in rows["c" * 20]           # the WAIVED one: none recorded
    searched = re.findall(r'<tr class="finding" data-fp="(\w+)"', _dump(path, "#q=eks-owners"))
    assert searched == ["b" * 20]
