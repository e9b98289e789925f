"""Testing procedures as data (rules/frameworks/procedures/, auditor/rules/procedures.py), the calls
behind each rule (findings.json rules[].calls) and the per-requirement procedure, population and
result in the reports (auditor/report/procedures.py)."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from auditor.errors import InputError
from auditor.model.registry import CATALOG
from auditor.report.html import html_report
from auditor.report.model import build_model
from auditor.report.procedures import NOT_RECORDED, noun
from auditor.report.wording import load_wording
from auditor.rules.engine import _rule_calls
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import PackSet, load_packs
from auditor.rules.procedures import default_folder, load_procedure_file, load_procedures, missing, rule_calls
from auditor.validation import load_schema

import jsonschema

from conftest import DemoRun, pdf_page_texts


@pytest.fixture(scope="module")
def packs() -> PackSet:
    return load_packs()


# --------------------------------------------------------------------------- the data


def test_every_control_a_builtin_rule_cites_has_a_procedure(packs: PackSet) -> None:
    catalogues = load_catalogues()
    procedures = load_procedures(catalogues=catalogues)
    cited = {(fw, c) for r in packs.rules for fw, cs in r.frameworks.items() for c in cs}
    assert cited, "the built-in packs cite no control: the test would prove nothing"
    assert missing(packs.rules, procedures) == {}
    for fw, control in cited:
        p = procedures[fw].controls[control]
        assert p.examined and p.method and p.decision
        # Every decision says when the requirement is met and when it is not.
        assert "{PASS}" in p.decision and "{FAIL}" in p.decision, (fw, control)


def test_every_procedures_file_names_a_catalogue_and_each_catalogue_has_one() -> None:
    catalogues = load_catalogues()
    procedures = load_procedures(catalogues=catalogues)
    assert set(procedures) == set(catalogues)
    for fw, p in procedures.items():
        assert Path(p.file).stem == fw
        assert set(p.controls) <= set(catalogues[fw].controls)


def test_rule_calls_are_the_engines_and_come_from_the_registry(packs: PackSet) -> None:
    registry = {c.key for c in CATALOG}
    for rule in packs.rules:
        calls = rule_calls(rule)
        assert calls == tuple(f"{s}:{o}" for s, o in _rule_calls(rule)), rule.id
        assert calls and set(calls) <= registry, rule.id
    by_id = {r.id: r for r in packs.rules}
    # A subnet rule reading the effective route table needs both calls.
    assert rule_calls(by_id["PN-002"]) == ("ec2:DescribeSubnets", "ec2:DescribeRouteTables")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as exc:
        load_procedure_file(path, load_catalogues())
    return [p.render() for p in exc.value.problems]


def test_a_malformed_procedures_file_lists_every_problem_with_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "pci-dss-4.0.yaml", (
        "procedures: 1\n"
        "framework: pci-dss-4.0\n"
        "controls:\n"
        "  \"1.3.1\":\n"
        "    examined: the routes\n"
        "    method: read them\n"
        "    decison: \"{PASS} when fine\"\n"          # line 7: misspelt key, and decision missing
        "  \"1.3.9\":\n"                                 # line 8: not a PCI control
        "    examined: x\n"
        "    method: y\n"
        "    decision: \"{PASSED} when {FAIL\"\n"      # line 11: unknown placeholder, unbalanced brace
        "  \"1.4.1\": {examined: x, method: y, decision: z, owner: me}\n"   # line 12: unknown key
        "colour: red\n"))                                # line 13: unknown top-level key
    problems = _problems(path)
    text = "\n".join(problems)
    name = str(path)
    assert f"{name}:7:5  controls.1.3.1.decison: unknown key 'decison' (did you mean 'decision'?)" in text
    assert f"{name}:4:3  controls.1.3.1: missing required key 'decision'" in text or \
        f"{name}:5:5  controls.1.3.1: missing required key 'decision'" in text
    assert re.search(rf"{re.escape(name)}:8:3  controls\.1\.3\.9: '1\.3\.9' is not a control of pci-dss-4\.0", text)
    assert f"{name}:11:15  controls.1.3.9.decision: unknown placeholder '{{PASSED}}' (did you mean 'PASS'?)" in text
    assert "unbalanced '{' or '}'" in text
    assert re.search(rf"{re.escape(name)}:12:\d+  controls\.1\.4\.1\.owner: unknown key 'owner'", text)
    assert re.search(rf"{re.escape(name)}:13:1  colour: unknown key 'colour'", text)


def test_an_unknown_framework_or_a_name_that_is_not_the_file_is_an_error(tmp_path: Path) -> None:
    body = "controls:\n  \"X-1\": {examined: a, method: b, decision: c}\n"
    unknown = _write(tmp_path, "pci-dss-9.yaml", "procedures: 1\nframework: pci-dss-9\n" + body)
    text = "\n".join(_problems(unknown))
    assert f"{unknown}:2:12  framework: unknown framework 'pci-dss-9' (did you mean 'pci-dss-4.0'?)" in text
    renamed = _write(tmp_path, "other.yaml", "procedures: 1\nframework: soc2\n" + body)
    text = "\n".join(_problems(renamed))
    assert "framework 'soc2' must match the file name ('other')" in text
    assert "'X-1' is not a control of soc2" in text
    wrong_version = _write(tmp_path, "soc2.yaml", "procedures: 2\nframework: soc2\ncontrols: {}\n")
    text = "\n".join(_problems(wrong_version))
    assert "procedures: must be 1, got integer 2" in text
    assert "controls" in text


def test_the_folder_loader_gathers_the_problems_of_every_file(tmp_path: Path) -> None:
    _write(tmp_path, "soc2.yaml", "procedures: 1\nframework: soc2\ncontrols:\n  CC6.1: {examined: a, method: b}\n")
    _write(tmp_path, "iso-27001-2022.yaml", "procedures: 1\nframework: iso-27001-2022\ncontrols:\n"
                                            "  A.8.99: {examined: a, method: b, decision: c}\n")
    with pytest.raises(InputError) as exc:
        load_procedures(tmp_path)
    files = {Path(p.file).name for p in exc.value.problems}
    assert files == {"soc2.yaml", "iso-27001-2022.yaml"}
    with pytest.raises(InputError, match="testing procedures folder not found"):
        load_procedures(tmp_path / "nowhere")
    assert default_folder().is_dir()


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema("procedures"))


# --------------------------------------------------------------------------- findings.json


def test_findings_json_records_the_calls_behind_each_rule(demo_run: DemoRun, packs: PackSet) -> None:
    doc = json.loads((demo_run.out / "findings.json").read_text())
    jsonschema.validate(doc, load_schema("findings"))
    by_id = {r.id: r for r in packs.rules}
    for r in doc["rules"]:
        assert r["calls"] == list(rule_calls(by_id[r["id"]])), r["id"]
    pn002 = next(r for r in doc["rules"] if r["id"] == "PN-002")
    assert (pn002["resource"], pn002["calls"]) == ("subnet", ["ec2:DescribeSubnets", "ec2:DescribeRouteTables"])


# --------------------------------------------------------------------------- the reports


def _expected_population(doc: dict[str, Any], framework: str, control: str) -> dict[str, tuple[int, int]]:
    """resource type -> (distinct resources with a result, in-scope count), computed from the
    findings directly (not through the report code)."""
    ctl = next(c for fw in doc["frameworks"] if fw["id"] == framework for c in fw["controls"] if c["id"] == control)
    rtype = {r["id"]: r["resource"] for r in doc["rules"]}
    seen: dict[str, set[tuple[str, str, str]]] = {}
    for f in doc["findings"]:
        if f["rule_id"] in ctl["rules"]:
            res = f["resource"]
            seen.setdefault(rtype[f["rule_id"]], set()).add((res["account"], res["region"], res["id"]))
    in_scope = doc["run"]["scope"]["resources_in_scope"]
    return {t: (len(ids), in_scope.get(t, 0)) for t, ids in seen.items()}


def _flat(text: str) -> str:
    text = text.replace("\u200b", "").replace("\u00ad", "").replace("-\n", "-")
    return " ".join(text.split())


def _pdf_block(pdf: Path, start: str, end: str) -> str:
    text = _flat("\n".join(pdf_page_texts(pdf)))
    head = text.index("Testing procedures and results For each")
    begin = text.index(start, head)
    return text[begin:text.index(end, begin + len(start))]


def test_the_demo_pdf_shows_procedure_population_and_result_per_requirement(demo_run: DemoRun) -> None:
    doc = json.loads((demo_run.out / "findings.json").read_text())
    block = _pdf_block(demo_run.out / "report.pdf", "Requirement 1.3.1 ·", "Requirement 1.3.2 ·")
    assert "Examined Every path by which traffic can enter the cardholder data environment" in block
    assert "Decision In Place when no in-scope resource admits inbound traffic" in block
    # The calls come from findings.json, not from the procedure's prose.
    ctl = next(c for fw in doc["frameworks"] if fw["id"] == "pci-dss-4.0" for c in fw["controls"] if c["id"] == "1.3.1")
    calls = {call for r in doc["rules"] if r["id"] in ctl["rules"] for call in r["calls"]}
    assert "ec2:DescribeRouteTables" in calls
    for call in calls:
        assert call in block, call
    expected = _expected_population(doc, "pci-dss-4.0", "1.3.1")
    assert expected["subnet"][0] == expected["subnet"][1] > 1
    assert len(expected) > 1
    # The demo is complete: every in-scope resource has a result.
    assert all(examined == in_scope for examined, in_scope in expected.values())
    # Types in the order of the requirement's rules (sorted by id), each with its count.
    rtype = {r["id"]: r["resource"] for r in doc["rules"]}
    order = list(dict.fromkeys(rtype[rid] for rid in ctl["rules"]))
    phrase = ("All in-scope resources of the rules' types examined and tested: "
              + ", ".join(f"{expected[t][0]} {noun(t, expected[t][0])}" for t in order))
    assert phrase in block, phrase
    accounts = len(doc["run"]["accounts"])
    regions = len(doc["run"]["regions"])
    assert f"in {accounts} accounts × {regions} regions" in block
    results = sum(sum(r["counts"].values()) for r in doc["rules"] if r["id"] in ctl["rules"])
    assert f"({results} results:" in block
    assert "Result Not in Place." in block and ctl["status"] == "FAIL"
    # Scope and method carries the general statement.
    text = _flat("\n".join(pdf_page_texts(demo_run.out / "report.pdf")))
    scope = text[text.index("Population and sampling"):]
    assert scope.startswith(f"Population and sampling No sampling was used. Every rule was evaluated on every "
                            f"in-scope resource of its type, in {accounts} accounts × {regions} regions")
    assert f"{len(doc['findings'])} results of {len(doc['rules'])} rules" in scope


class _Details(HTMLParser):
    """The text of each <details id=...> of the control matrix."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: dict[str, str] = {}
        self._current: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "details" and dict(attrs).get("class") == "proc":
            self._current, self._depth = str(dict(attrs)["id"]), 1
            self.blocks[self._current] = ""
        elif tag == "details" and self._current:
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "details" and self._current:
            self._depth -= 1
            if not self._depth:
                self._current = None

    def handle_data(self, data: str) -> None:
        if self._current:
            self.blocks[self._current] += data


def test_the_demo_html_shows_procedure_and_population_in_the_control_matrix(demo_run: DemoRun) -> None:
    doc = json.loads((demo_run.out / "findings.json").read_text())
    parser = _Details()
    parser.feed((demo_run.out / "report.html").read_text())
    controls = [(fw["id"], c["id"]) for fw in doc["frameworks"] for c in fw["controls"]]
    assert len(parser.blocks) == len(controls)
    block = " ".join(parser.blocks["proc-hipaa-security-164-308-a--1--ii--D"].split())
    expected = _expected_population(doc, "hipaa-security", "164.308(a)(1)(ii)(D)")
    assert list(expected) == ["vpc"]
    examined, in_scope = expected["vpc"]
    assert f"All {in_scope} in-scope VPCs examined and tested" in block and examined == in_scope
    assert "Inspected through ec2:DescribeVpcs, ec2:DescribeFlowLogs." in block
    # The procedure's {PASS}/{FAIL} placeholders in the HIPAA terms of wording.yaml.
    terms = load_wording().framework_terms["hipaa-security"]
    assert f"{terms['PASS']} when every in-scope VPC has an active flow log capturing all traffic" in block
    assert terms["FAIL"] in block
    assert "No sampling was used." in (demo_run.out / "report.html").read_text()


def _incomplete_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The demo's findings with one account not reached, one region's subnet listing failed and
    one subnet not tested."""
    doc = copy.deepcopy(doc)
    doc["run"]["accounts"].append({"id": "333333333333", "name": "bank-cards", "problem": "AssumeRole refused",
                                   "status": "not_assessed", "detail": "not reached: AssumeRole refused"})
    subnet = next(f for f in doc["findings"] if f["rule_id"] == "PN-002")
    subnet["status"] = "ERROR"
    star = copy.deepcopy(subnet)
    star["resource"] = {**star["resource"], "id": "*", "account": "333333333333", "region": "eu-west-1", "arn": ""}
    star["fingerprint"] = "f" * 64
    doc["findings"].append(star)
    doc["not_assessed"].append({"account": "333333333333", "region": "eu-west-1", "calls": ["sts:AssumeRole"],
                                "reason": "AssumeRole refused", "rules": ["PN-002"]})
    for r in doc["rules"]:
        if r["id"] == "PN-002":
            r["counts"]["PASS"] -= 1
            r["counts"]["ERROR"] += 2
    return doc


def test_an_incomplete_run_says_what_was_not_tested_and_never_all(demo_run: DemoRun, packs: PackSet) -> None:
    doc = _incomplete_document(json.loads((demo_run.out / "findings.json").read_text()))
    model = build_model(doc, packs, load_catalogues())
    assert model.testing is not None
    block = model.testing.block("pci-dss-4.0", "1.3.1")
    assert block is not None and not block.complete
    subnets = next(p for p in block.populations if p.type == "subnet")
    examined, in_scope = _expected_population(doc, "pci-dss-4.0", "1.3.1")["subnet"]
    # The "*" result is a place, not a subnet: it is not counted as one.
    assert (subnets.examined, subnets.in_scope) == (examined - 1, in_scope)
    text = block.population
    assert not re.search(r"\ball\b", text, re.I) and "examined and tested" not in text
    assert f"{examined - 1} of the {in_scope} in-scope subnets examined" in text
    assert "1 of them could not be tested (see Not assessed)" in text
    assert "none listed in 333333333333/eu-west-1 (the calls failed there: nothing was tested" in text
    assert "Not examined: account 333333333333 (not reached: AssumeRole refused)" in text
    assert "333333333333/eu-west-1 (sts:AssumeRole failed) for PN-002" in text
    # A requirement the gap does not touch still says the account was not examined.
    flow = model.testing.block("pci-dss-4.0", "10.2.1")
    assert flow is not None and "Not examined: account 333333333333" in flow.population and not flow.complete
    assert "Not everything was tested: 1 account was not reached at all (333333333333)" in model.testing.sampling
    page = html_report(model).decode()
    assert "Not examined: account 333333333333" in page
    assert "Nothing was left out" not in page


def test_an_old_findings_json_without_calls_renders_and_says_they_are_not_recorded(demo_run: DemoRun,
                                                                                    packs: PackSet) -> None:
    doc = json.loads((demo_run.out / "findings.json").read_text())
    for r in doc["rules"]:
        del r["calls"]
    jsonschema.validate(doc, load_schema("findings"))
    model = build_model(doc, packs, load_catalogues())
    assert model.testing is not None
    blocks = [b for bs in model.testing.blocks.values() for b in bs]
    assert blocks and all(b.calls == () and b.calls_note == NOT_RECORDED for b in blocks)
    page = html_report(model).decode()
    assert "The API calls behind this result are not recorded in this findings.json" in page
    assert "Inspected through" not in page
    # Half recorded: the calls that are recorded, and which rules lack them.
    doc2 = json.loads((demo_run.out / "findings.json").read_text())
    del next(r for r in doc2["rules"] if r["id"] == "PN-002")["calls"]
    block = build_model(doc2, packs, load_catalogues()).testing.block("pci-dss-4.0", "1.3.1")  # type: ignore[union-attr]
    assert block is not None and "ec2:DescribeVpcs" in block.calls
    assert block.calls_note == "The API calls of PN-002 are not recorded in this findings.json."
