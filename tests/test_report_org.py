"""Reports at organisation size (docs/reports.md, "Reports at organisation size"): above the
PDF's threshold (set low here through `full_max`, so that a run of a dozen findings crosses it)
the PDF prints every FAIL and ERROR finding in full, grouped per account, counts the others per
account, rule and status, and says what it summarised and where every finding is in full;
findings.json, the HTML report and the CSV still hold every finding; the streamed writers give
the bytes their whole-document form gives.

pypdf's text extraction of WeasyPrint's fonts interleaves NUL characters, and the PDF's
identifier setting puts invisible joiners into ids: both are removed before comparing text."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import pypdf  # installed by the test extra: a missing one fails, never skips

from auditor.report.html import findings_data
from auditor.report.model import ReportModel, build_model
from auditor.report.outputs import report_bytes, write_reports
from auditor.report.pdf import FULL_FINDINGS_MAX, PdfInputs, render_html, render_pdf, summarised
from auditor.results import dumps, load_without_findings
from auditor.rules.frameworks import load_catalogues

FIXED = {"SOURCE_DATE_EPOCH": "1767225600"}
ACCOUNTS = ("210000000001", "210000000002", "210000000003")
REGION = "eu-west-1"
STATUSES = ("FAIL", "ERROR", "WAIVED", "PASS", "NOT_APPLICABLE")
RULES = {"ORG-001": ("Subnets have no route to an internet gateway", "high"),
         "ORG-002": ("Flow logs are enabled on every VPC", "medium")}
# Per account: (rule, status) of each finding; every account has a different mix.
MIX = {
    ACCOUNTS[0]: [("ORG-001", "FAIL"), ("ORG-001", "PASS"), ("ORG-001", "PASS"), ("ORG-002", "NOT_APPLICABLE"),
                  ("ORG-002", "PASS")],
    ACCOUNTS[1]: [("ORG-001", "ERROR"), ("ORG-002", "WAIVED"), ("ORG-002", "PASS"), ("ORG-002", "PASS"),
                  ("ORG-002", "PASS")],
    ACCOUNTS[2]: [("ORG-001", "PASS"), ("ORG-002", "FAIL"), ("ORG-002", "FAIL")],
}
LOW = 4   # the PDF's threshold in these tests: the 13 findings below are summarised


def _counts(statuses: list[str]) -> dict[str, int]:
    return {s: statuses.count(s) for s in STATUSES}


def _finding(n: int, account: str, rule: str, status: str) -> dict[str, Any]:
    rid = f"subnet-{n:017x}"
    waiver = ({"id": "WVR-ORG", "status": "active", "approver": "risk@example.com", "ticket": "RISK-9",
               "expires": "2027-01-01", "justification": "lab account"} if status == "WAIVED" else None)
    return {"fingerprint": f"{n:04d}" + "f" * 60, "rule_id": rule, "severity": RULES[rule][1], "status": status,
            "item": None, "message": f"{status.lower()} finding {n} on {rid}",
            "resource": {"type": "subnet", "id": rid, "account": account, "region": REGION,
                         "arn": f"arn:aws:ec2:{REGION}:{account}:subnet/{rid}", "vpc_id": "vpc-0000000000000001a"},
            "evidence": [{"path": "routes[0].target", "observed": f"igw-{n:05d}", "expected": "no internet gateway",
                          "holds": status == "PASS",
                          "sources": [f"records/{account}/{REGION}/ec2/DescribeRouteTables.json#/pages/0/RouteTables/{n}"]}],
            **({"waiver": waiver} if waiver else {})}


def org_document() -> dict[str, Any]:
    """A findings.json of three accounts, two rules and every status (written here, for these tests)."""
    findings = []
    for account, rows in MIX.items():
        for rule, status in rows:
            findings.append(_finding(len(findings), account, rule, status))
    statuses = [f["status"] for f in findings]
    rules = [{"id": rid, "title": title, "severity": sev, "pack": "org", "resource": "subnet", "implements": [],
              "frameworks": {"pci-dss-4.0": ["1.3.1"]}, "for_each": None,
              "status": "FAIL", "counts": _counts([f["status"] for f in findings if f["rule_id"] == rid])}
             for rid, (title, sev) in RULES.items()]
    return {
        "format": "private-network-auditor/findings", "format_version": 1,
        "run": {"tool": {"name": "private-network-auditor", "version": "0.1.0"},
                "snapshot": {"manifest_sha256": "sha256:" + "0" * 64, "started": "2026-03-01T10:00:00Z",
                             "finished": "2026-03-01T10:40:00Z", "complete": True, "collector_version": "0.1.0",
                             "calls": 30, "errors": 0},
                "config": {"digest": "sha256:" + "1" * 64, "organization": "Org Bank", "collected_with_digest": ""},
                "assessed_on": "2026-03-01",
                "packs": [{"id": "org", "version": "1", "title": "Org", "builtin": False, "sha256": "x",
                           "rules": list(RULES), "parameters": {}}],
                "waivers": {"digest": "d", "count": 1},
                "accounts": [{"id": a, "name": f"team-{i}", "problem": "", "role_arn": "",
                              "identity": f"arn:aws:sts::{a}:assumed-role/auditor/x"} for i, a in enumerate(ACCOUNTS)],
                "regions": [REGION],
                "scope": {"everything": True, "vpc_ids": [], "tags": {}, "resources_in_scope": {"subnet": len(findings)},
                          "resources_out_of_scope": {}, "resources_scope_undecided": {}}},
        "summary": {"findings": _counts(statuses),
                    "by_severity": {s: _counts([f["status"] for f in findings if f["severity"] == s])
                                    for s in ("critical", "high", "medium", "low", "info")},
                    "rules": _counts(["FAIL", "FAIL"]), "complete": False, "stale_waivers": 0},
        "rules": rules,
        "frameworks": [{"id": "pci-dss-4.0", "title": "PCI DSS", "version": "4.0.1", "status": "FAIL", "controls": [
            {"id": "1.3.1", "title": "", "status": "FAIL", "rules": list(RULES), "counts": _counts(statuses),
             "authorities": ["pack-author"], "third_party_only": False}]}],
        "waivers": [{"id": "WVR-ORG", "rules": ["ORG-002"], "resources": ["lab"], "approver": "risk@example.com",
                     "ticket": "RISK-9", "created": "2026-01-01", "expires": "2027-01-01", "status": "active",
                     "days_to_expiry": 306, "justification": "lab account", "source": "waivers.yaml:3"}],
        "not_assessed": [], "findings": findings,
    }


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return org_document()


@pytest.fixture(scope="module")
def raw(document: dict[str, Any]) -> bytes:
    return dumps(document).encode("utf-8")


@pytest.fixture(scope="module")
def model(document: dict[str, Any]) -> ReportModel:
    return build_model(document, None, load_catalogues())


@pytest.fixture(scope="module")
def summarised_pdf(model: ReportModel, raw: bytes) -> str:
    pdf = render_pdf(model, PdfInputs(raw), environ=FIXED, full_max=LOW)
    return _plain("\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages))


def _plain(text: str) -> str:
    """PDF text with NULs, invisible joiners and line breaks taken out, spaces collapsed."""
    text = text.replace("\x00", "").replace("\u2060", "").replace("\u200b", "")
    return re.sub(r"\s+", " ", text)


def test_the_default_threshold_keeps_a_normal_run_in_full(model: ReportModel) -> None:
    assert FULL_FINDINGS_MAX >= 10000
    assert summarised(model) is None
    assert summarised(model, len(model.findings)) is None   # at the threshold: still in full
    assert summarised(model, len(model.findings) - 1) is not None


def test_the_summary_counts_every_other_finding_per_account_rule_and_status(model: ReportModel) -> None:
    s = summarised(model, LOW)
    assert s is not None
    expected: dict[str, Counter[tuple[str, str]]] = {a: Counter() for a in ACCOUNTS}
    for account, rows in MIX.items():
        expected[account].update((r, st) for r, st in rows if st not in ("FAIL", "ERROR"))
    got = {a.account: Counter({(r.rule, st): n for r in a.rules for st, n in r.counts}) for a in s.accounts}
    assert got == expected
    assert {a.account: a.failing for a in s.accounts} == {a: sum(st in ("FAIL", "ERROR") for _r, st in rows)
                                                         for a, rows in MIX.items()}
    assert s.failing == 4 and s.count == 9 and s.total == 13
    assert dict(s.counts) == {"WAIVED": 1, "PASS": 7, "NOT_APPLICABLE": 1}
    assert "ERROR" not in dict(s.counts)   # an ERROR finding is never summarised away


def test_the_summarised_pdf_prints_every_failing_finding_in_full(summarised_pdf: str, model: ReportModel) -> None:
    failing = [f for f in model.findings if f.status in ("FAIL", "ERROR")]
    assert {f.status for f in failing} == {"FAIL", "ERROR"}
    for f in failing:
        assert f.fingerprint in summarised_pdf, f.fingerprint
        assert f.message in summarised_pdf
        assert f.resource.arn in summarised_pdf
        assert f"source {f.evidence[0].sources[0]}" in summarised_pdf
    for f in model.findings:
        if f.status not in ("FAIL", "ERROR"):   # summarised: counted, not listed
            assert f.fingerprint not in summarised_pdf, f.status


def test_the_summarised_pdf_groups_failing_findings_per_account(summarised_pdf: str) -> None:
    at = [summarised_pdf.index(f"Account {a} (team-{i}): {n} failing")
          for i, (a, n) in enumerate(((ACCOUNTS[0], 1), (ACCOUNTS[1], 1), (ACCOUNTS[2], 2)))]
    assert at == sorted(at)


def test_the_summarised_pdf_has_the_counts_and_says_what_it_summarised(summarised_pdf: str) -> None:
    assert "Findings summarised per account" in summarised_pdf
    assert (f"Account {ACCOUNTS[0]} (team-0): 1 FAIL or ERROR (in full under Failing findings), 4 summarised "
            f"ORG-001 {RULES['ORG-001'][0]}: 2 PASS ORG-002 {RULES['ORG-002'][0]}: 1 PASS, 1 NOT_APPLICABLE"
            ) in summarised_pdf
    assert f"ORG-002 {RULES['ORG-002'][0]}: 1 WAIVED, 3 PASS" in summarised_pdf
    sentence = ("This run has 13 findings, more than the 4 this report lists one by one, so it is summarised: every "
                "FAIL and ERROR finding (4) is printed in full below, grouped by account; the other 9 findings "
                "(1 WAIVED, 7 PASS, 1 NOT_APPLICABLE) are summarised as counts per account, rule and status")
    assert summarised_pdf.count(sentence) == 2   # the executive summary and the section
    assert ("The complete data, every finding with its evidence, is in findings.json (attached to this PDF and in the "
            "evidence bundle), the HTML report (report.html) and the CSV (findings.csv)") in summarised_pdf


def test_below_the_threshold_nothing_is_summarised(model: ReportModel, raw: bytes) -> None:
    html = render_html(model, PdfInputs(raw), environ=FIXED, full_max=len(model.findings))
    assert "Findings summarised per account" not in html and "Summarised report" not in html
    assert html == render_html(model, PdfInputs(raw), environ=FIXED)


def test_findings_json_html_and_csv_still_hold_every_finding(tmp_path: Path, model: ReportModel, raw: bytes) -> None:
    done = write_reports(tmp_path, ("json", "html", "csv"), model, raw)
    assert not done.failed
    fingerprints = [f.fingerprint for f in model.findings]
    written = json.loads((tmp_path / "findings.json").read_bytes())
    assert [f["fingerprint"] for f in written["findings"]] == fingerprints
    rows = list(csv.DictReader(io.StringIO((tmp_path / "findings.csv").read_text(encoding="utf-8"))))
    assert [r["fingerprint"] for r in rows] == fingerprints
    assert [row[0] for row in findings_data(model)["findings"]] == fingerprints
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert all(fp in page for fp in fingerprints)


@pytest.mark.parametrize("fmt", ["asff", "ocsf", "oscal"])
def test_streamed_writers_write_the_bytes_of_the_whole_document(tmp_path: Path, model: ReportModel, raw: bytes,
                                                                fmt: str) -> None:
    from auditor.report.writers import writer

    whole = {"asff": "auditor.report.writers.asff:asff", "ocsf": "auditor.report.writers.ocsf:ocsf_json",
             "oscal": "auditor.report.writers.oscal:oscal_json"}[fmt]
    module, name = whole.split(":")
    import importlib

    fn = getattr(importlib.import_module(module), name)
    expected = fn(model, raw) if fmt == "oscal" else fn(model)
    assert writer(fmt).stream is not None
    assert report_bytes(fmt, model, raw) == expected
    done = write_reports(tmp_path, (fmt,), model, raw)
    assert not done.failed and (tmp_path / done.files[0][1].name).read_bytes() == expected
    assert not list(tmp_path.glob("*.partial"))


def test_a_streamed_writer_that_fails_leaves_no_file(tmp_path: Path, document: dict[str, Any]) -> None:
    bad = json.loads(json.dumps(document))
    for f in bad["findings"]:
        f["resource"]["account"] = ""     # no AWS account: Security Hub cannot take it
    bad["run"]["accounts"] = []
    m = build_model(bad, None, load_catalogues())
    done = write_reports(tmp_path, ("asff",), m, dumps(bad).encode())
    assert [fmt for fmt, _p, _why in done.failed] == ["asff"]
    assert not (tmp_path / "findings.asff.json").exists() and not list(tmp_path.glob("*.partial"))


def test_sarif_reads_the_document_without_its_findings(raw: bytes, document: dict[str, Any]) -> None:
    head = load_without_findings(raw)
    assert head["findings"] == [] and head == {**document, "findings": []}
    compact = json.dumps(document).encode()     # another layout: parsed whole, the same result
    assert load_without_findings(compact) == head
    sarif = json.loads(report_bytes("sarif", build_model(document, None, load_catalogues()), raw))
    results = sarif["runs"][0]["results"]
    assert len(results) == sum(1 for f in document["findings"] if f["status"] in ("FAIL", "ERROR", "WAIVED"))
    assert {r["ruleId"] for r in results} == set(RULES)


def test_load_without_findings_refuses_what_is_not_json() -> None:
    with pytest.raises(ValueError):
        load_without_findings(b'{\n "findings": [\n  {\n ],\n nonsense')
    with pytest.raises(ValueError):
        load_without_findings(b"not json")


def test_past_the_failing_cap_fail_findings_are_counted_per_account_and_rule_and_errors_stay_in_full(
        model: ReportModel, raw: bytes) -> None:
    s = summarised(model, LOW, failing_max=2)
    assert s is not None
    error = next(f for f in model.findings if f.status == "ERROR")
    fails = [f for f in model.findings if f.status == "FAIL"]
    worst = next(f for f in fails if f.severity == "high")
    assert s.brief == {f.fingerprint for f in fails if f is not worst}   # the ERROR and the worst FAIL in full
    assert summarised(model, LOW, failing_max=0).brief == {f.fingerprint for f in fails}   # never an ERROR
    # The counted FAIL findings: per account and rule, nothing lost (printed + counted = every failing one).
    by_account = {a.account: a for a in s.accounts}
    assert {a: x.counted for a, x in by_account.items()} == {ACCOUNTS[0]: 0, ACCOUNTS[1]: 0, ACCOUNTS[2]: 2}
    assert dict(next(r for r in by_account[ACCOUNTS[2]].rules if r.rule == "ORG-002").counts) == {"FAIL": 2}
    assert by_account[ACCOUNTS[2]].summarised == 1 and s.count == 9   # a counted FAIL is not "summarised"
    pdf = render_pdf(model, PdfInputs(raw), environ=FIXED, full_max=LOW, failing_max=2)
    text = _plain("\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages))
    for f in (error, worst):
        assert f.fingerprint in text and f.message in text
    for f in fails:
        if f is not worst:   # counted, not printed: neither its fingerprint nor its message
            assert f.fingerprint not in text and f.message not in text
    assert (f"Account {ACCOUNTS[2]} (team-2): 2 failing (0 printed in full below, 2 FAIL counted per rule under "
            "Findings summarised per account)") in text
    assert (f"Account {ACCOUNTS[2]} (team-2): 2 FAIL or ERROR (0 in full under Failing findings, 2 FAIL counted in "
            "the rules below and each listed in full in findings.json, report.html and findings.csv), 1 summarised "
            f"ORG-001 {RULES['ORG-001'][0]}: 1 PASS ORG-002 {RULES['ORG-002'][0]}: 2 FAIL") in text
    sentence = ("every FAIL and ERROR finding (4) is accounted for: 2 (every ERROR, then the FAIL findings of the worst "
                "severities, at most 2) are printed in full below, grouped by account, and the other 2 FAIL findings "
                "are counted per account and rule (Findings summarised per account: each rule's FAIL count), not "
                "printed one by one;")
    assert text.count(sentence) == 2   # the executive summary and the section
    assert ("the CSV (findings.csv) of the evidence bundle: each of the 2 FAIL findings counted here is listed there "
            "in full.") in text
    assert ("Past the cap of 2 findings printed in full, 2 FAIL findings are not printed here: they are counted per "
            "account and rule") in text


def test_the_counted_fail_findings_are_all_in_findings_json_html_and_csv(tmp_path: Path, model: ReportModel,
                                                                          raw: bytes) -> None:
    s = summarised(model, LOW, failing_max=0)
    assert s is not None and s.brief
    done = write_reports(tmp_path, ("html", "csv"), model, raw)
    assert not done.failed
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "findings.csv").read_text(encoding="utf-8"))))
    in_json = {f["fingerprint"] for f in json.loads(raw)["findings"]}
    for fingerprint in s.brief:
        assert fingerprint in in_json and fingerprint in html
        assert any(fingerprint in row.values() for row in rows)


def test_the_summarised_pdf_says_where_the_diagrams_and_the_cited_records_are(summarised_pdf: str,
                                                                              model: ReportModel) -> None:
    assert ("This summarised report does not draw the network: the diagrams of this run, and its failing "
            "reachability paths, are in the HTML report (report.html)") in summarised_pdf
    cited = {s.split("#")[0] for f in model.failing for e in f.evidence for s in e.sources}
    assert (f"The failing findings cite {len(cited)} snapshot records: 0 are attached to this PDF/A-3"
            ) in summarised_pdf
    assert f"; {len(cited)} not attached: no snapshot given" in summarised_pdf


@pytest.mark.parametrize("rows_per_write", [1, 2, 1000])
def test_the_csv_is_written_in_pieces_with_the_bytes_of_the_whole_text(tmp_path: Path, model: ReportModel,
                                                                       raw: bytes, rows_per_write: int) -> None:
    import csv
    import io

    from auditor.report.machine import csv_rows, csv_stream
    from auditor.report.writers import writer

    # The whole text made at once, the way the CSV was written before it was streamed.
    text = io.StringIO(newline="")
    whole = csv.writer(text, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for row in csv_rows(model):
        whole.writerow(row)
    expected = text.getvalue().encode("utf-8")
    assert expected.count(b"\r\n") > 3   # a header, the findings, the gaps
    out = io.BytesIO()
    csv_stream(model, out, rows_per_write)
    assert out.getvalue() == expected
    assert writer("csv").stream is not None and report_bytes("csv", model, raw) == expected
    done = write_reports(tmp_path, ("csv",), model, raw)
    assert not done.failed and (tmp_path / "findings.csv").read_bytes() == expected
    assert not list(tmp_path.glob("*.partial"))


def test_the_sarif_is_written_a_result_at_a_time_with_the_bytes_of_the_whole_document(
        tmp_path: Path, model: ReportModel, raw: bytes) -> None:
    from auditor.findings_text import load_without_findings
    from auditor.report.machine import sarif, sarif_stream
    from auditor.report.writers import writer

    # The whole document, its lists made in full, parsed back and written at once: the text the
    # streamed writer must give byte for byte.
    out = io.BytesIO()
    sarif_stream(model, load_without_findings(raw), out)
    streamed_text = out.getvalue()
    doc = json.loads(streamed_text)
    run = doc["runs"][0]
    assert len(run["results"]) == sum(1 for f in model.findings if f.status in ("FAIL", "ERROR", "WAIVED")) > 1
    assert run["properties"].get("explainedPasses") is None or len(run["properties"]["explainedPasses"]) >= 1
    expected = (json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    assert streamed_text == expected and b"sarif-results" not in expected
    assert sarif(model, load_without_findings(raw)) == expected
    assert writer("sarif").stream is not None and report_bytes("sarif", model, raw) == expected
    done = write_reports(tmp_path, ("sarif",), model, raw)
    assert not done.failed and (tmp_path / "findings.sarif").read_bytes() == expected


def test_a_mapped_findings_json_gives_every_format_the_bytes_of_its_bytes(tmp_path: Path, raw: bytes) -> None:
    """`auditor scan` maps findings.json (`map_findings`) rather than holding its bytes while the
    reports are written: every format, the PDF with findings.json attached too, is byte for byte
    what the bytes give, and the model built from the map equals the one built from the bytes."""
    import mmap

    from auditor.report.outputs import FORMATS, map_findings

    path = tmp_path / "in" / "findings.json"
    path.parent.mkdir()
    path.write_bytes(raw)
    mapped = map_findings(path)
    assert isinstance(mapped, mmap.mmap) and mapped[:] == raw
    from_map, from_bytes = build_model(mapped, None, load_catalogues()), build_model(raw, None, load_catalogues())
    assert from_map == from_bytes
    environ = dict(FIXED)
    import os

    old = {k: os.environ.get(k) for k in environ}
    os.environ.update(environ)   # the PDF's dates: pinned, so both PDFs are comparable byte for byte
    try:
        a = write_reports(tmp_path / "a", FORMATS, from_map, mapped)
        b = write_reports(tmp_path / "b", FORMATS, from_bytes, raw)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert not a.failed and not b.failed and len(a.files) == len(FORMATS)
    for fmt, target in a.files:
        assert target.read_bytes() == (tmp_path / "b" / target.name).read_bytes(), fmt
    assert mapped[:] == raw   # the pages given back by release_memory are read again from the file


def test_map_findings_of_an_empty_file_is_its_bytes(tmp_path: Path) -> None:
    from auditor.report.outputs import map_findings, release_memory

    (tmp_path / "findings.json").write_bytes(b"")
    assert map_findings(tmp_path / "findings.json") == b""
    release_memory(b"")   # nothing mapped: nothing to give back, and no error


def test_findings_text_reads_a_map_as_it_reads_bytes(tmp_path: Path, raw: bytes, document: dict[str, Any]) -> None:
    """Both layouts: the one `iter_text` writes (read piece by piece) and any other (parsed whole)."""
    from auditor.findings_text import iter_findings
    from auditor.report.outputs import map_findings

    for name, data in (("ours.json", raw), ("other.json", json.dumps(document).encode())):
        (tmp_path / name).write_bytes(data)
        mapped = map_findings(tmp_path / name)
        assert list(iter_findings(mapped)) == document["findings"], name
        assert load_without_findings(mapped) == {**document, "findings": []}, name
    (tmp_path / "bad.json").write_bytes(b"{not json")
    with pytest.raises(ValueError):
        load_without_findings(map_findings(tmp_path / "bad.json"))
