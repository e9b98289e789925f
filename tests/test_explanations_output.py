"""Explanations reach every output (issue 16): how a derived value was decided
(`Derived.explain`, e.g. which hop stopped each part of a subnet's traffic, with its explanation
code) is carried by the evidence of the finding that read it (`Resolved.explain` ->
`Evidence.explanation` -> `EvidenceItem.explanation`) into findings.json (``evidence[].explanation``,
only when there is one, never in the fingerprint) and every report: HTML, PDF, SARIF, CSV,
JUnit, OCSF, ASFF. A PASS shows it as well as a FAIL, so an assessor can check a pass.

The estate is written here: a VPC with an isolated subnet (its table has only the local route:
PN-014 passes) and a public one (0.0.0.0/0 to an internet gateway: PN-014 fails), scanned with
the built-in private-network pack. The explanations are the reachability analysis' own; for the
escaping checks, one line of characters each format must escape is added to the isolated
subnet's `internet_egress_paths` explanation (the attribute's function wrapped for the module's
scan), and a second scan without it shows that a change of wording alone is no diff."""

from __future__ import annotations

import csv
import functools
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pypdf
import pytest

from auditor.model.types import Model, Resource
from auditor.rules.attributes import attribute_info, is_known_path
from auditor.rules.derive import Derived
from auditor.rules.derived import DERIVED
from auditor.rules.fixtures import ACCOUNT, REGION, Case
from auditor.rules.fixtures import records_for
from auditor.validation import load_schema
from conftest import run_auditor
from test_engine import write_snapshot

CODE = "NO_ROUTE_TO_DESTINATION"
# Characters each format must escape or neutralise, in one explanation line of the isolated subnet.
HOSTILE = '<b>x</b> & "q" <script>alert(1)</script> \u2192 =SUM(1)'
FORMATS = ("json", "html", "pdf", "sarif", "csv", "junit", "ocsf", "asff")
FILES = {"html": "report.html", "pdf": "report.pdf", "sarif": "findings.sarif", "csv": "findings.csv",
         "junit": "findings.junit.xml", "ocsf": "findings.ocsf.json", "asff": "findings.asff.json"}

CALLS: dict[str, Any] = {
    "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]},
    "ec2:DescribeSubnets": {"Subnets": [
        {"SubnetId": "subnet-isolated", "VpcId": "vpc-a", "CidrBlock": "10.0.2.0/24"},
        {"SubnetId": "subnet-public", "VpcId": "vpc-a", "CidrBlock": "10.0.3.0/24"}]},
    "ec2:DescribeRouteTables": {"RouteTables": [
        {"RouteTableId": "rtb-local", "VpcId": "vpc-a", "Associations": [{"Main": True}],
         "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}]},
        {"RouteTableId": "rtb-public", "VpcId": "vpc-a", "Associations": [{"SubnetId": "subnet-public"}],
         "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
                    {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-4", "State": "active"}]}]},
    "ec2:DescribeInternetGateways": {"InternetGateways": [
        {"InternetGatewayId": "igw-4", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]}]},
}


def _explaining(original: Any, hostile: bool) -> Any:
    """`internet_egress_paths` as the analysis decides and explains it; the isolated subnet's
    explanation gets a line of `HOSTILE` characters at its end when asked."""
    def fn(model: Model, subnet: Resource) -> Derived[Any]:
        got = original(model, subnet)
        if hostile and subnet.id == "subnet-isolated":
            return replace(got, explain=(*got.explain, HOSTILE))
        return got
    return functools.wraps(original)(fn)   # the catalogue reads its return type


@pytest.fixture(scope="module")
def explained_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One scan of the estate with every format (and `auditor verify` of its bundle), the
    derived attribute explaining itself."""
    attr = DERIVED[("subnet", "internet_egress_paths")]
    original = attr.fn
    # The registry is read-only and its entries frozen: the one attribute's function is swapped
    # in place for this module's scan and put back after it.
    object.__setattr__(attr, "fn", _explaining(original, hostile=True))
    try:
        root = tmp_path_factory.mktemp("explained")
        case = Case(rule="PN-014", name="explained", file="-", line=1, calls=CALLS)
        snap = write_snapshot(root / "snap", records_for(case))
        (root / "audit.yaml").write_text(f"version: 1\naccounts: [{{id: '{ACCOUNT}'}}]\nregions: [{REGION}]\n"
                                         "rule_packs: [private-network]\n")
        proc = run_auditor("scan", "-c", str(root / "audit.yaml"), "--snapshot", str(snap), "--out", str(root / "out"),
                           "--format", ",".join(FORMATS), cwd=root)
        assert (root / "out" / "findings.json").is_file(), proc.stdout + proc.stderr
        verified = run_auditor("verify", str(root / "out"))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        yield root / "out"
    finally:
        object.__setattr__(attr, "fn", original)


def _doc(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    return data


def _finding(doc: dict[str, Any], rule: str, rid: str) -> dict[str, Any]:
    found = [f for f in doc["findings"] if f["rule_id"] == rule and f["resource"]["id"] == rid]
    assert len(found) == 1, [(f["rule_id"], f["resource"]["id"]) for f in doc["findings"]]
    return found[0]


def test_findings_json_carries_the_explanation_of_a_pass_and_a_fail(explained_run: Path) -> None:
    doc = _doc(explained_run)
    passed = _finding(doc, "PN-014", "subnet-isolated")
    failed = _finding(doc, "PN-014", "subnet-public")
    assert passed["status"] == "PASS" and failed["status"] == "FAIL"
    lines = passed["evidence"][0]["explanation"]
    # The analysis' own words: where each part of the isolated subnet's traffic stopped.
    assert any(x.startswith("subnet-isolated \u2192 rtb-local") and CODE in x for x in lines)
    assert lines[-1] == HOSTILE
    assert any(x.startswith("path 1: ") and "igw-4" in x for x in failed["evidence"][0]["explanation"])
    # A rule reading no derived value has no explanation key at all (its findings keep their form).
    # A condition reading a plain field has no explanation key at all (its findings keep their form);
    # nor has one reading a derived value that no analysis explains (PN-001's internet_gateway_ids).
    plain = [e for f in doc["findings"] for e in f["evidence"] if f["resource"]["id"] != "*"
             and is_known_path(f["resource"]["type"], e["path"])
             and not attribute_info(f["resource"]["type"], e["path"]).derived]
    assert plain and all("explanation" not in e for e in plain)
    pn001 = [e for f in doc["findings"] if f["rule_id"] == "PN-001" for e in f["evidence"]]
    assert pn001 and all("explanation" not in e for e in pn001)


def test_findings_json_with_explanations_validates_against_the_schema(explained_run: Path) -> None:
    import jsonschema

    jsonschema.Draft202012Validator(load_schema("findings")).validate(_doc(explained_run))
    bad = _doc(explained_run)
    _finding(bad, "PN-014", "subnet-isolated")["evidence"][0]["explanation"] = "one string, not a list"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(load_schema("findings")).validate(bad)


def test_the_explanation_is_not_in_the_fingerprint(explained_run: Path) -> None:
    from auditor.findings import EvidenceItem, Finding, ResourceRef

    ref = ResourceRef("subnet", "subnet-isolated", ACCOUNT, REGION)
    ev = EvidenceItem("internet_egress_paths", [], "is empty", True)
    plain = Finding("PN-014", "critical", "PASS", ref, "m", (ev,))
    explained = replace(plain, evidence=(replace(ev, explanation=("x: NO_ROUTE_TO_DESTINATION (y)",)),))
    assert plain.fingerprint == explained.fingerprint
    assert "explanation" not in plain.to_json()["evidence"][0]
    assert explained.to_json()["evidence"][0]["explanation"] == ["x: NO_ROUTE_TO_DESTINATION (y)"]
    doc = _doc(explained_run)
    assert _finding(doc, "PN-014", "subnet-isolated")["fingerprint"] == Finding(
        "PN-014", "critical", "PASS", ref, "m", (ev,), paths=("internet_egress_paths",)).fingerprint


def test_html_carries_the_explanation_as_data_never_markup(explained_run: Path) -> None:
    from demo_normaliser import decoded_rows

    text = (explained_run / FILES["html"]).read_text(encoding="utf-8")
    start = text.index('<script type="application/json" id="report-data">') if \
        '<script type="application/json" id="report-data">' in text else text.index('id="report-data"')
    body = text[text.index(">", start) + 1:text.index("</script>", start)]
    rows = decoded_rows(json.loads(body))
    row = next(r for r in rows if r["rule"] == "PN-014" and r["id"] == "subnet-isolated")
    shown = row["evidence"][0][5]
    assert any(CODE in x for x in shown) and HOSTILE in shown
    assert "<script>alert" not in text and "<b>x</b>" not in text   # only escaped inside the data block
    script = (Path(__file__).parent.parent / "reports" / "templates" / "report.js").read_text(encoding="utf-8")
    assert '"why: " + x' in script and "e[5]" in script and "innerHTML" not in script


def test_pdf_shows_a_passes_explanation_and_the_hostile_line_as_text(explained_run: Path) -> None:
    reader = pypdf.PdfReader(str(explained_run / FILES["pdf"]))
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split()).replace("\u2060", "").replace("\u200b", "")
    assert "How the passes were decided" in flat
    assert CODE in flat and "subnet-isolated" in flat
    assert "<script>alert(1)</script>" in flat   # as text: the template escaped it


def test_pdf_caps_the_lines_shown_per_finding() -> None:
    from auditor.report.model import EvidenceView
    from auditor.report.pdf import EXPLAIN_MAX, explained

    lines = tuple(f"line {i}: {CODE}" for i in range(EXPLAIN_MAX + 3))
    ev = EvidenceView("internet_egress_paths", [], "is empty", True, (), lines)

    class F:   # the one field `explained` reads
        evidence = (ev, replace(ev, explanation=lines[:2]))   # repeated lines count once

    shown, more = explained(F())   # type: ignore[arg-type]
    assert shown == lines[:EXPLAIN_MAX] and more == 3


def test_sarif_csv_junit_ocsf_asff_carry_it(explained_run: Path) -> None:
    sarif = json.loads((explained_run / FILES["sarif"]).read_text(encoding="utf-8"))
    import test_sarif

    test_sarif.validate(sarif)        # the OASIS SARIF 2.1.0 schema, the property bags included
    test_sarif.check_github(sarif)
    run = sarif["runs"][0]
    passes = {p["resource"].split()[1]: p for p in run["properties"]["explainedPasses"]}
    assert any(CODE in x for x in passes["subnet-isolated"]["explanation"])
    failed = [r for r in run["results"] if r["ruleId"] == "PN-014"]
    assert len(failed) == 1 and failed[0]["properties"]["explanation"]

    rows = list(csv.DictReader(io.StringIO((explained_run / FILES["csv"]).read_text(encoding="utf-8"))))
    row = next(r for r in rows if r["rule_id"] == "PN-014" and r["resource_id"] == "subnet-isolated")
    assert CODE in row["explanation"] and row["explanation"].endswith(" | " + HOSTILE)
    explained = {f["fingerprint"] for f in _doc(explained_run)["findings"]
                 if any("explanation" in e for e in f["evidence"])}
    assert all(bool(r["explanation"]) == (r["fingerprint"] in explained) for r in rows if r["rule_id"])
    assert len(explained) < sum(1 for r in rows if r["rule_id"])   # some findings have none (an empty cell)

    root = ET.parse(explained_run / FILES["junit"]).getroot()
    cases = {(c.get("classname"), c.get("name", "").split()[1]): c for c in root.iter("testcase")}
    out = cases[("PN-014", "subnet-isolated")].find("system-out")
    assert out is not None and CODE in (out.text or "") and HOSTILE in (out.text or "")
    failure = cases[("PN-014", "subnet-public")].find("failure")
    assert failure is not None and "explanation:" in (failure.text or "")
    explained_quiet = [f for f in _doc(explained_run)["findings"] if f["status"] not in ("FAIL", "ERROR")
                       and any("explanation" in e for e in f["evidence"])]
    assert len(list(root.iter("system-out"))) == len(explained_quiet)   # a case without one has none

    ocsf = json.loads((explained_run / FILES["ocsf"]).read_text(encoding="utf-8"))
    ocsf_pass = next(e for e in ocsf if e["finding_info"]["uid"] == _finding(_doc(explained_run), "PN-014",
                                                                               "subnet-isolated")["fingerprint"])
    assert any(CODE in x for x in ocsf_pass["evidences"][0]["data"]["explanation"])

    asff = json.loads((explained_run / FILES["asff"]).read_text(encoding="utf-8"))
    asff_pass = next(a for a in asff if a["ProductFields"]["auditor/ResourceId"] == "subnet-isolated"
                     and a["GeneratorId"] == "PN-014")
    assert CODE in asff_pass["ProductFields"]["auditor/Explanation"]


def test_csv_neutralises_an_explanation_that_starts_a_formula(explained_run: Path, tmp_path: Path) -> None:
    doc = _doc(explained_run)
    _finding(doc, "PN-014", "subnet-isolated")["evidence"][0]["explanation"] = ["=HYPERLINK(\"x\")", "b"]
    (tmp_path / "findings.json").write_text(json.dumps(doc), encoding="utf-8")
    proc = run_auditor("report", str(tmp_path / "findings.json"), "--format", "csv", "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r" / "findings.csv").read_text(encoding="utf-8"))))
    row = next(r for r in rows if r["rule_id"] == "PN-014" and r["resource_id"] == "subnet-isolated")
    assert row["explanation"] == "'=HYPERLINK(\"x\") | b"


def test_diff_ignores_a_change_of_explanation_alone(explained_run: Path, tmp_path: Path) -> None:
    """Diffs compare observed values: the same findings explained in other words (here: without
    the hostile line) are unchanged, passing or failing."""
    from auditor.diff import diff_bundles

    attr = DERIVED[("subnet", "internet_egress_paths")]
    original = attr.fn   # the module's scan's (hostile) one: the analysis is what it wraps
    object.__setattr__(attr, "fn", _explaining(original.__wrapped__, hostile=False))
    try:
        root = explained_run.parent
        proc = run_auditor("scan", "-c", str(root / "audit.yaml"), "--snapshot", str(root / "snap"),
                           "--out", str(tmp_path / "again"), "--format", "json", cwd=root)
    finally:
        object.__setattr__(attr, "fn", original)
    again = _doc(tmp_path / "again")
    assert HOSTILE not in _finding(again, "PN-014", "subnet-isolated")["evidence"][0]["explanation"], proc.stderr
    doc = diff_bundles(explained_run, tmp_path / "again")
    assert not any(doc["findings"][c] for c in ("new", "resolved", "changed")), doc["findings"]["changed"]
    assert doc["findings"]["still_failing"]   # the FAILs, still failing, not "changed"
    counts = doc["counts"]["not_listed"]
    assert counts["passing_evidence_changed"] == 0 and counts["unchanged_passing"] > 0, counts


def test_html_shows_a_passes_why_line_in_the_browser(explained_run: Path, tmp_path: Path) -> None:
    """In Chromium, the passing subnet's row (passes shown) has its why line, the codes in a
    monospace block, and the hostile line is text, not markup."""
    import shutil

    from test_report_html import _dump

    page = tmp_path / "report.html"
    shutil.copy(explained_run / FILES["html"], page)
    dom = _dump(page, "#passes=1&rule=PN-014&q=subnet-isolated")
    rows = [r[:r.index("</tr>")] for r in dom.split('<tr class="finding"')[1:]]
    assert len(rows) == 1, rows
    row = rows[0]
    assert 'data-rule="PN-014"' in row and 'data-st="PASS"' in row
    assert '<details class="why"><summary class="mono">why: ' in row and CODE in row and "subnet-isolated" in row
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row and "<script>alert" not in dom


def _subnet(model: Model, sid: str) -> Resource:
    return next(r for r in model.resources["subnet"] if r.id == sid)


def test_resolve_carries_the_explanation_on_one_step_and_mapped_paths() -> None:
    """`Resolved.explain` is the derived value's `explain`, on ``attr`` and on ``attr[*]`` alike;
    a plain field's is empty; a condition leaf puts it in its evidence (negated too)."""
    from auditor.model import build_model
    from auditor.rules.attributes import resolve
    from auditor.rules.conditions import evaluate
    from auditor.rules.packs import Leaf, Not

    model = build_model(records_for(Case(rule="PN-014", name="resolve", file="-", line=1, calls=CALLS)))
    subnet = _subnet(model, "subnet-isolated")
    one = resolve(model, subnet, "internet_egress_paths")
    assert one.value == () and any(CODE in x for x in one.explain)
    assert resolve(model, subnet, "internet_egress_paths[*]").explain == one.explain
    assert resolve(model, subnet, "cidr").explain == ()
    leaf = Leaf(attr="internet_egress_paths", op="empty", written=True)
    out = evaluate(leaf, model, subnet)
    assert out.status == "pass" and out.evidence[0].explanation == one.explain
    assert evaluate(Not(leaf), model, subnet).evidence[0].explanation == one.explain
    assert evaluate(Leaf(attr="cidr", op="eq", written="10.0.2.0/24"), model, subnet).evidence[0].explanation == ()


def test_resolve_dedupes_the_lines_in_their_order() -> None:
    attr = DERIVED[("subnet", "internet_egress_paths")]
    original = attr.fn

    def repeating(model: Model, subnet: Resource) -> Derived[Any]:
        got = original(model, subnet)
        return replace(got, explain=("b", "a", "b", *got.explain, "a"))

    object.__setattr__(attr, "fn", functools.wraps(original)(repeating))
    try:
        from auditor.model import build_model
        from auditor.rules.attributes import resolve

        model = build_model(records_for(Case(rule="PN-014", name="dedupe", file="-", line=1, calls=CALLS)))
        subnet = _subnet(model, "subnet-isolated")
        for path in ("internet_egress_paths", "internet_egress_paths[*]"):
            lines = resolve(model, subnet, path).explain
            assert lines[:2] == ("b", "a") and len(lines) == len(set(lines)), (path, lines)
    finally:
        object.__setattr__(attr, "fn", original)
