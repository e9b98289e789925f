"""The mapping review table (rules/frameworks/mapping-review.yaml): every mapping the reports print
for a built-in rule comes from it; removed mappings are never cited; the disputed mappings are
gone; the endpoint-policy rules are mapped; the sunset FFIEC CAT gives a clear error; HIPAA
reports required/addressable and risk-analysis input; broken tables fail with file:line."""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pypdf  # installed by the test extra; a missing one fails, never skips
import pytest
import yaml

from auditor.errors import InputError
from auditor.report.html import html_report
from auditor.report.model import build_model
from auditor.report.pdf import PdfInputs, render_pdf
from auditor.report.risk import builtin_risk, load_risk
from auditor.rules.frameworks import load_catalogues
from auditor.rules.mapping_review import Review, builtin_review, builtin_rule_ids, citation_problems, load_review
from auditor.rules.packs import Rule, load_packs

from conftest import DemoRun
from test_report_model import sample_document

FOLDER = Path(__file__).resolve().parent.parent / "rules" / "frameworks"
PACKS = Path(__file__).resolve().parent.parent / "rules" / "packs"
FIXED = {"SOURCE_DATE_EPOCH": "1767225600"}   # 2026-01-01T00:00:00Z

# What assessors disputed (issue 13): (framework, control, rules that cited it on main).
DISPUTED = [
    ("pci-dss-4.0", "7.2.1", ["TF-001", "TF-002", "TF-003", "TF-004", "PN-015"]),
    ("pci-dss-4.0", "10.3.1", ["TF-006"]),
    ("hipaa-security", "164.308(a)(3)(i)", ["PN-007", "PN-008", "SE-001", "SE-003"]),
    ("hipaa-security", "164.308(a)(4)(ii)(C)", ["PN-007"]),
]


@pytest.fixture(scope="module")
def review() -> Review:
    return builtin_review()


@pytest.fixture(scope="module")
def rules() -> dict[str, Rule]:
    return {r.id: r for r in load_packs().rules}


def _problems(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [p.render() for p in exc.value.problems]


# --------------------------------------------------------------------------- the table and the packs


def test_builtin_citations_equal_the_kept_rows(review: Review, rules: dict[str, Rule]) -> None:
    assert set(rules) == set(builtin_rule_ids())
    for rid, rule in rules.items():
        cited = {fw: set(cs) for fw, cs in rule.frameworks.items() if cs}
        assert cited == {fw: set(cs) for fw, cs in review.kept(rid).items()}, rid
        assert citation_problems(rid, rule.frameworks, review) == []


def test_every_kept_row_has_a_rationale_and_framework_text_a_source(review: Review) -> None:
    for row in review.rows:
        assert row.rationale.strip() and "\n" not in row.rationale, row.line
        assert row.source.strip(), row.line
        if row.kept:
            assert not row.removed_because
        else:
            assert row.removed_because.strip(), row.line


def test_removed_mappings_are_not_cited(review: Review, rules: dict[str, Rule]) -> None:
    assert review.removed
    for row in review.removed:
        assert row.control not in rules[row.rule].frameworks.get(row.framework, ()), (row.line, row)


@pytest.mark.parametrize("framework,control,cited_on_main", DISPUTED)
def test_each_disputed_mapping_is_gone_with_its_reason(review: Review, rules: dict[str, Rule], framework: str,
                                                      control: str, cited_on_main: list[str]) -> None:
    for rid in cited_on_main:
        assert control not in rules[rid].frameworks.get(framework, ()), (rid, framework, control)
        row = review.row(framework, control, rid)
        assert row is not None and row.decision == "removed" and len(row.removed_because) > 20, (rid, row)
    # and no built-in rule cites it any more
    assert all(control not in r.frameworks.get(framework, ()) for r in rules.values())


def test_endpoint_policy_rules_cite_controls_from_the_framework_text(review: Review, rules: dict[str, Rule]) -> None:
    for rid in ("EP-001", "EP-002", "EP-003", "EP-004", "EP-005"):
        cited = rules[rid].frameworks
        assert {"AC-4", "SC-7"} <= set(cited["nist-800-53-r5"]), rid
        assert "1.3.2" in cited["pci-dss-4.0"], rid
        assert "PR.IR-01" in cited["nist-csf-2.0"], rid
        for fw, controls in cited.items():
            for control in controls:
                row = review.row(fw, control, rid)
                assert row is not None and row.kept and row.authorities == ("framework-text",) and row.rationale
    assert "SC-7(10)" in rules["EP-005"].frameworks["nist-800-53-r5"]      # prevent exfiltration
    assert {"AC-3", "AC-6"} <= set(rules["EP-003"].frameworks["nist-800-53-r5"])   # principals scoped


def test_a_builtin_pack_whose_citations_differ_fails_to_load(tmp_path: Path) -> None:
    """Loading a built-in pack with a citation the table removed, or without one it keeps, fails
    with the rule's file and line (the check runs on built-in packs only)."""
    from auditor.rules.pack_checks import PackDoc, check_packs, default_registries
    from auditor.yamlpos import load_yaml

    text = (PACKS / "traffic-filtering.yaml").read_text(encoding="utf-8")
    bad = text.replace('      pci-dss-4.0: ["1.3.1", "1.3.2", "1.4.2"]\n      soc2: [CC6.1, CC6.6]\n',
                       '      pci-dss-4.0: ["1.3.1", "1.3.2", "1.4.2", "7.2.1"]\n      soc2: [CC6.1, CC6.6]\n', 1)
    assert bad != text
    bad = bad.replace("      nist-csf-2.0: [PR.IR-01]\n", "", 1)
    path = tmp_path / "traffic-filtering.yaml"
    path.write_text(bad, encoding="utf-8")
    doc = load_yaml(path)
    problems = check_packs([PackDoc(doc, builtin=True)], default_registries())
    messages = [p.render() for p in problems]
    assert any("7.2.1 was removed by the mapping review (mapping-review.yaml:" in m and "access control model" in m
               for m in messages), messages
    assert any("keeps nist-csf-2.0 PR.IR-01 for TF-001" in m and "does not cite it" in m for m in messages), messages
    assert all(m.startswith(str(path) + ":") for m in messages)
    # The same file as a user's pack is not checked against the table.
    assert not [p for p in check_packs([PackDoc(doc, builtin=False)], default_registries())
                if "mapping review" in p.message]


# --------------------------------------------------------------------------- findings.json and the reports


def test_every_citation_of_the_demo_has_a_kept_row(demo_run: DemoRun, review: Review) -> None:
    assert demo_run.code == 0, demo_run.stderr
    doc = json.loads((demo_run.out / "findings.json").read_bytes())
    seen = 0
    for fw in doc["frameworks"]:
        for control in fw["controls"]:
            assert [m["rule"] for m in control["mappings"]] == control["rules"]
            for m in control["mappings"]:
                row = review.row(fw["id"], control["id"], m["rule"])
                assert row is not None and row.kept, (fw["id"], control["id"], m["rule"])
                assert m == {"rule": row.rule, "authorities": list(row.authorities), "source": row.source,
                             "rationale": row.rationale, "reviewed": True}
                seen += 1
    assert seen > 100
    assert "ffiec-cat" not in {fw["id"] for fw in doc["frameworks"]}


def _with_user_rule(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with a control cited by a user's own rule, as build_document writes it."""
    doc = copy.deepcopy(doc)
    pci = next(fw for fw in doc["frameworks"] if fw["id"] == "pci-dss-4.0")
    control = pci["controls"][0]
    control["rules"] = sorted([*control["rules"], "USR-001"])
    control["mappings"] = [*control.get("mappings", []), {"rule": "USR-001", "authorities": ["pack-author"],
                                                          "source": "", "rationale": "", "reviewed": False}]
    return doc


def _sample_with_mappings() -> dict[str, Any]:
    """The synthetic findings.json, its mappings filled the way build_document fills them."""
    from auditor.rules.mapping_review import mapping_json

    doc = sample_document()
    for fw in doc["frameworks"]:
        for control in fw["controls"]:
            control["mappings"] = [mapping_json(fw["id"], control["id"], rid) for rid in control["rules"]]
    return doc


def test_html_prints_authority_rationale_and_not_reviewed() -> None:
    doc = _with_user_rule(_sample_with_mappings())
    page = html_report(build_model(doc, load_packs(), load_catalogues(), style="healthcare")).decode("utf-8")
    matrix = page[page.index('id="matrix"'):page.index('id="waivers"')]
    reviewed = 0
    for fw in doc["frameworks"]:
        for control in fw["controls"]:
            for m in control["mappings"]:
                if m["reviewed"]:
                    assert m["rationale"].replace("'", "&#39;") in matrix
                    reviewed += 1
    assert reviewed
    assert "<code>USR-001</code>: pack author, not reviewed" in matrix


def test_old_findings_without_mappings_say_so() -> None:
    doc = sample_document()
    for fw in doc["frameworks"]:
        for control in fw["controls"]:
            control.pop("mappings", None)
    page = html_report(build_model(doc, load_packs(), load_catalogues())).decode("utf-8")
    assert "rationale not recorded (findings.json predates the mapping review)" in page


@pytest.fixture(scope="module")
def healthcare_demo(demo_run: DemoRun) -> tuple[str, str]:
    """The demo's findings rendered in the healthcare style: (HTML, PDF text)."""
    assert demo_run.code == 0, demo_run.stderr
    raw = (demo_run.out / "findings.json").read_bytes()
    model = build_model(json.loads(raw), load_packs(), load_catalogues(), style="healthcare")
    pdf = render_pdf(model, PdfInputs(raw, None), style="healthcare", environ=FIXED)
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    return html_report(model).decode("utf-8"), text


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_hipaa_required_and_addressable_are_rendered(healthcare_demo: tuple[str, str]) -> None:
    html, pdf = healthcare_demo
    cats = load_catalogues()["hipaa-security"]
    assert cats.controls["164.308(a)(1)(ii)(B)"].kind == "implementation specification"
    assert cats.controls["164.308(a)(1)(ii)(B)"].designation == "required"
    assert cats.controls["164.308(a)(4)(ii)(C)"].designation == "addressable"
    assert cats.controls["164.312(b)"].kind == "standard"
    assert all(c.kind and c.designation for c in cats.controls.values())
    assert "implementation specification, required" in html and "standard, required" in html
    flat = _flat(pdf)
    assert "implementation specification, required" in flat and "standard, required" in flat
    # a HIPAA cell never says a whole safeguard is (not) implemented
    assert "Not implemented" not in flat and "Gaps found" in flat


def test_risk_table_is_rendered_from_the_data(healthcare_demo: tuple[str, str], demo_run: DemoRun) -> None:
    html, pdf = healthcare_demo
    _, data = builtin_risk()
    doc = json.loads((demo_run.out / "findings.json").read_bytes())
    hipaa = next(fw for fw in doc["frameworks"] if fw["id"] == "hipaa-security")
    cited = {rid for c in hipaa["controls"] for rid in c["rules"]}
    assert cited and cited <= set(data)
    table = html[html.index('id="hipaa-risk"'):]
    table = table[:table.index("</table>")]
    flat_pdf = _flat(pdf)
    assert "risk analysis input (164.308(a)(1)(ii)(A))" in flat_pdf
    for rid in cited:
        d = data[rid]
        assert f"<code>{rid}</code>" in table
        for text in (d.threat, d.vulnerability, d.likelihood_basis, d.impact_basis):
            assert text.replace("'", "&#39;").replace('"', "&#34;") in table, (rid, text)
        assert _flat(d.threat) in flat_pdf or _flat(d.threat)[:40] in flat_pdf, rid


def test_every_hipaa_rule_has_risk_data(review: Review) -> None:
    _, data = builtin_risk()
    needed = {r.rule for r in review.rows if r.kept and r.framework == "hipaa-security"}
    assert needed and needed <= set(data)


# --------------------------------------------------------------------------- the sunset FFIEC CAT


def test_a_pack_citing_ffiec_cat_gets_the_sunset_error(tmp_path: Path) -> None:
    pack = tmp_path / "mine.yaml"
    pack.write_text(textwrap.dedent("""\
        pack:
          id: mine
          version: 1.0.0
          title: Mine
          description: A user's pack that still cites the FFIEC CAT.
          frameworks: [ffiec-cat]
        rules:
          - id: USR-001
            title: No internet gateway
            severity: high
            resource: internet_gateway
            check: {attr: attachments, empty: true}
            message: "internet gateway {id} is attached"
            rationale: An internet gateway is a way in.
            remediation: {console: Detach it.}
            references: [https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html]
            frameworks:
              ffiec-cat: [D3.PC.Im.B.1]
        """), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_packs([pack])
    messages = _problems(exc)
    sunset = [m for m in messages if "ffiec-cat" in m and "sunset" in m and "31 August 2025" in m
              and "nist-csf-2.0" in m and "ffiec-itbh-is" in m]
    assert len(sunset) == 2, messages      # the pack's list and the rule's citation, each at its line
    assert {m.split(":")[1] for m in sunset} == {"6", "18"}


def test_a_profile_naming_ffiec_cat_gets_the_sunset_error(tmp_path: Path) -> None:
    from auditor.rules.packs import packs_for_config
    from auditor.rules.profiles import load_profile, profiles_dir

    text = (profiles_dir() / "banking.yaml").read_text(encoding="utf-8")
    path = tmp_path / "old-banking.yaml"
    path.write_text(text.replace("frameworks: [pci-dss-4.0, nist-csf-2.0, ffiec-itbh-is, nist-800-53-r5]",
                                 "frameworks: [pci-dss-4.0, ffiec-cat, nist-800-53-r5]"), encoding="utf-8")
    profile = load_profile(path)
    with pytest.raises(InputError) as exc:
        packs_for_config([], {}, base_dir=tmp_path, profile=profile)
    [message] = _problems(exc)
    assert message.startswith(f"{path}:")
    assert "'ffiec-cat'" in message and "sunset" in message and "cite nist-csf-2.0 and ffiec-itbh-is instead" in message


def test_the_banking_profile_uses_the_current_frameworks() -> None:
    from auditor.rules.profiles import load_profile, profiles_dir

    profile = load_profile(profiles_dir() / "banking.yaml")
    assert "ffiec-cat" not in profile.frameworks
    assert {"nist-csf-2.0", "ffiec-itbh-is"} <= set(profile.frameworks)
    style = yaml.safe_load((Path(__file__).resolve().parent.parent / "reports" / "templates" / "styles"
                            / "banking.yaml").read_text(encoding="utf-8"))
    assert "Cybersecurity Assessment Tool" not in json.dumps(style)
    assert style["frameworks_first"] == ["pci-dss-4.0", "nist-csf-2.0", "ffiec-itbh-is"]


def test_procedures_exist_for_every_new_catalogue_control(review: Review) -> None:
    for fw in ("nist-csf-2.0", "ffiec-itbh-is"):
        data = yaml.safe_load((FOLDER / "procedures" / f"{fw}.yaml").read_text(encoding="utf-8"))
        assert data["procedures"] == 1 and data["framework"] == fw
        cited = {r.control for r in review.rows if r.kept and r.framework == fw}
        assert cited and set(data["controls"]) == cited
        for entry in data["controls"].values():
            assert set(entry) == {"examined", "method", "decision"} and all(entry.values())


# --------------------------------------------------------------------------- broken tables


def _table(tmp_path: Path, rows: str, extra: str = "") -> Path:
    path = tmp_path / "mapping-review.yaml"
    path.write_text("mapping_review: 1\nsource: test\n" + extra + "mappings:\n" + textwrap.dedent(rows), encoding="utf-8")
    return path


def _load(path: Path) -> Review:
    return load_review(path, catalogues=load_catalogues(), rule_ids=builtin_rule_ids())


def test_a_minimal_table_loads(tmp_path: Path) -> None:
    path = _table(tmp_path, """\
        - {framework: pci-dss-4.0, control: "1.3.1", rule: TF-002, authority: aws-security-hub,
           source: EC2.18, rationale: inbound from anywhere, decision: keep}
        """)
    review = _load(path)
    assert review.kept("TF-002") == {"pci-dss-4.0": ("1.3.1",)} and review.rows[0].line == 4


def test_malformed_table_rows_are_positioned(tmp_path: Path) -> None:
    path = _table(tmp_path, """\
        - framework: pci-dss-4.0
          control: "1.3.1"
          rule: TF-002
          authority: aws-security-hub
          source: EC2.18
          rationale: inbound from anywhere
          decision: keep
          reviewer: me
        - framework: pci-dss-4.0
          control: "1.3.1"
          rule: TF-999
          authority: framework-text
          source: PCI DSS v4.0.1
          rationale: r
          decision: keep
        - framework: pci-dss-4.0
          control: "1.3.99"
          rule: TF-003
          authority: framework-text
          source: PCI DSS v4.0.1
          rationale: r
          decision: keep
        - framework: pci-dss-4.0
          control: "7.2.1"
          rule: TF-001
          authority: third-party-steampipe
          source: steampipe
          rationale: r
          decision: removed
        - framework: pci-dss-4.0
          control: "1.3.1"
          rule: TF-002
          authority: aws-security-hub
          source: EC2.18
          rationale: again
          decision: keep
        - framework: pci-dss-4.0
          control: "1.3.2"
          rule: TF-004
          authority: framework-txt
          source: PCI DSS v4.0.1
          rationale: r
          decision: keep
        """)
    with pytest.raises(InputError) as exc:
        _load(path)
    messages = _problems(exc)
    name = str(path)

    def at(line: int, *parts: str) -> bool:
        return any(m.startswith(f"{name}:{line}:") and all(p in m for p in parts) for m in messages)

    assert at(11, "unknown key 'reviewer'"), messages
    assert at(14, "unknown rule 'TF-999'", "not a rule of the built-in packs"), messages
    assert at(20, "'1.3.99' is not a control of pci-dss-4.0"), messages
    assert at(26, "removed_because"), messages
    assert at(33, "already reviewed at line 4"), messages
    assert any(m.startswith(f"{name}:") and "framework-txt" in m for m in messages), messages


def test_retired_framework_only_in_removed_rows(tmp_path: Path) -> None:
    extra = ("retired_frameworks:\n  ffiec-cat: {title: FFIEC CAT, retired: '2025-08-31', because: sunset,"
             " replaced_by: [nist-csf-2.0]}\n")
    path = _table(tmp_path, """\
        - {framework: ffiec-cat, control: D3.PC.Im.B.1, rule: PN-001, authority: third-party-steampipe,
           source: steampipe, rationale: r, decision: removed, removed_because: sunset}
        - {framework: ffiec-cat, control: D3.PC.Im.B.1, rule: PN-002, authority: third-party-steampipe,
           source: steampipe, rationale: r, decision: keep}
        - {framework: nist-csf-2.1, control: PR.IR-01, rule: PN-002, authority: framework-text,
           source: csf, rationale: r, decision: keep}
        """, extra)
    with pytest.raises(InputError) as exc:
        _load(path)
    messages = _problems(exc)
    assert len(messages) == 2, messages
    assert messages[0].startswith(f"{path}:8:") and "only a removed row may name it" in messages[0]
    assert messages[1].startswith(f"{path}:10:") and "unknown framework 'nist-csf-2.1'" in messages[1]
    assert "did you mean 'nist-csf-2.0'" in messages[1]


def test_builtin_folder_copy_loads(tmp_path: Path) -> None:
    copy_dir = tmp_path / "frameworks"
    shutil.copytree(FOLDER, copy_dir)
    review = load_review(copy_dir / "mapping-review.yaml")
    assert review.rows == builtin_review().rows


def test_malformed_risk_data_is_positioned(tmp_path: Path) -> None:
    path = tmp_path / "risk-analysis.yaml"
    path.write_text(textwrap.dedent("""\
        risk_analysis: 1
        framework: hipaa-security
        basis_note: test
        rules:
          TF-002:
            threat: {text: t, basis: b}
            vulnerability: {text: v, basis: b}
            likelihood: {level: certain, basis: b}
            impact: {level: high}
          TF-999:
            threat: {text: t, basis: b}
            vulnerability: {text: v, basis: b}
            likelihood: {level: low, basis: b}
            impact: {level: low, basis: b}
        """), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_risk(path, rule_ids=builtin_rule_ids(), needed={"TF-002", "TF-006"})
    messages = _problems(exc)
    name = str(path)
    assert any(m.startswith(f"{name}:8:") and "certain" in m for m in messages), messages
    assert any(m.startswith(f"{name}:9:") and "basis" in m for m in messages), messages
    assert any(m.startswith(f"{name}:10:") and "unknown rule 'TF-999'" in m for m in messages), messages
    assert any("no risk data for TF-006" in m for m in messages), messages
