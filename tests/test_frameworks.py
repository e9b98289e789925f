"""Framework catalogues and the authority map (rules/frameworks/): they load, validate, agree with
each other, keep out the citations the reference forbids, and report broken files precisely."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from auditor.errors import InputError, Problem
from auditor.rules.frameworks import (
    AUTHORITIES,
    AUTHORITY_FILE,
    NOT_CATALOGUES,
    THIRD_PARTY,
    AuthorityMap,
    Catalogue,
    control_exists,
    control_problem,
    default_folder,
    load_authority,
    load_catalogue,
    load_catalogues,
    suggest_control,
)
from auditor.validation import schema_problems
from auditor.yamlpos import load_yaml

FOLDER = Path(__file__).resolve().parent.parent / "rules" / "frameworks"
# The FFIEC Cybersecurity Assessment Tool (ffiec-cat) was sunset on 31 August 2025: NIST CSF 2.0 and the
# FFIEC IT Examination Handbook's Information Security booklet replace it (tests/test_mapping_review.py).
FRAMEWORKS = {"pci-dss-4.0", "hipaa-security", "nist-800-53-r5", "soc2", "iso-27001-2022", "nist-csf-2.0",
              "ffiec-itbh-is"}


@pytest.fixture(scope="module")
def catalogues() -> dict[str, Catalogue]:
    return load_catalogues()


@pytest.fixture(scope="module")
def authority(catalogues: dict[str, Catalogue]) -> AuthorityMap:
    return load_authority(catalogues=catalogues)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def _problems(exc: pytest.ExceptionInfo[InputError]) -> list[Problem]:
    return exc.value.problems


# --------------------------------------------------------------------------- the built-in files


def test_default_folder_is_the_repository_folder() -> None:
    assert default_folder().resolve() == FOLDER.resolve()


def test_every_catalogue_file_loads_and_validates(catalogues: dict[str, Catalogue]) -> None:
    files = {p.stem for p in FOLDER.glob("*.yaml") if p.name not in NOT_CATALOGUES}
    assert files == FRAMEWORKS
    assert set(catalogues) == FRAMEWORKS
    for path in sorted(FOLDER.glob("*.yaml")):
        kind = {"mapping-review.yaml": "mapping-review", "risk-analysis.yaml": "risk-analysis"}.get(path.name, "framework")
        assert schema_problems(kind, load_yaml(path)) == [], path.name
    for fid, cat in catalogues.items():
        assert cat.id == fid and Path(cat.file).stem == fid
        assert cat.title and cat.version and cat.publisher and cat.source
        assert set(cat.wording) == {"requirement", "environment"}
        assert cat.notes, f"{fid} keeps no notes"
        assert cat.controls


def test_catalogues_hold_the_cited_ids(catalogues: dict[str, Catalogue]) -> None:
    expected = {
        "pci-dss-4.0": {"1.2.7", "1.2.8", "1.3.1", "1.3.2", "1.4.1", "1.4.2", "1.4.3", "1.4.4", "1.4.5", "1.5.1",
                        "7.2.1", "10.2.1", "10.2.2", "10.3.1"},
        "hipaa-security": {"164.308(a)(1)(ii)(A)", "164.308(a)(1)(ii)(B)", "164.308(a)(1)(ii)(D)", "164.308(a)(3)(i)",
                           "164.308(a)(4)(ii)(C)", "164.308(a)(6)(ii)", "164.312(a)(1)", "164.312(b)",
                           "164.312(c)(2)", "164.312(e)(1)", "164.314(b)(1)", "164.314(b)(2)"},
        "nist-800-53-r5": {"AC-3", "AC-3(7)", "AC-4", "AC-4(21)", "AC-4(26)", "AC-6", "AC-21", "AU-2", "AU-3",
                           "AU-12", "AU-6(3)", "AU-6(4)", "CA-7", "CA-9(1)", "CM-2", "CM-2(2)", "CM-7", "CM-8(1)",
                           "SC-7", "SC-7(3)", "SC-7(4)", "SC-7(5)", "SC-7(9)", "SC-7(10)", "SC-7(11)", "SC-7(16)", "SC-7(20)",
                           "SC-7(21)", "SI-7(8)"},
        "soc2": {"CC6.1", "CC6.2", "CC6.6", "CC6.7", "CC7.2", "CC7.3"},
        "iso-27001-2022": {"A.8.15", "A.8.16", "A.8.20", "A.8.21", "A.8.22"},
        "nist-csf-2.0": {"ID.AM-03", "PR.AA-05", "PR.IR-01", "DE.CM-01"},
        "ffiec-itbh-is": {"II.C.9", "II.C.15", "II.C.22"},
    }
    for fid, ids in expected.items():
        assert set(catalogues[fid].controls) == ids, fid


def test_control_titles_are_short_own_words(catalogues: dict[str, Catalogue]) -> None:
    for cat in catalogues.values():
        for control in cat.controls.values():
            assert control.id and control.title
            assert len(control.title) <= 70 and len(control.title.split()) <= 10, (cat.id, control.id)


@pytest.mark.parametrize("framework,control", [("hipaa-security", "164.312(c)(1)"), ("nist-800-53-r5", "SC-7(7)")])
def test_forbidden_citations_never_appear(catalogues: dict[str, Catalogue], authority: AuthorityMap,
                                          framework: str, control: str) -> None:
    assert control not in catalogues[framework].controls
    assert not control_exists(catalogues, framework, control)
    for entry in authority.entries:
        for ids in entry.controls.values():
            assert control not in ids
    # Citing one fails with the reason, not with a neighbour's id as a suggestion.
    message = control_problem(catalogues, framework, control)
    assert message is not None and "must not be cited" in message and "did you mean" not in message
    assert suggest_control(catalogues, framework, control) == ""


def test_cc6_7_is_cited_only_for_the_transit_gateway_check(authority: AuthorityMap) -> None:
    citing = [e for e in authority.entries if "CC6.7" in e.controls.get("soc2", ())]
    assert citing and all(e.checks == ("NET-GW-04",) for e in citing)


def test_every_authority_control_exists_in_its_catalogue(catalogues: dict[str, Catalogue],
                                                         authority: AuthorityMap) -> None:
    assert authority.entries
    for entry in authority.entries:
        for framework, ids in entry.controls.items():
            assert framework in catalogues, (entry.line, framework)
            for control in ids:
                assert control_exists(catalogues, framework, control), (entry.line, framework, control)
        for pack in entry.packs:
            assert pack in authority.packs
    for pack in authority.packs.values():
        assert pack.framework is None or pack.framework in catalogues


def test_authority_levels_fit_their_sources(authority: AuthorityMap) -> None:
    # framework-text (our reading of a framework's text) lives in mapping-review.yaml only.
    assert {e.authority for e in authority.entries} == set(AUTHORITIES) - {"framework-text"}
    for entry in authority.entries:
        if entry.authority == "aws-config-pack":
            assert entry.packs and not entry.controls
        else:
            assert entry.controls and not entry.packs
        if entry.authority == "aws-security-hub":  # Security Hub maps to NIST r5 and PCI DSS only
            assert set(entry.controls) <= {"nist-800-53-r5", "pci-dss-4.0"}, entry.via
            assert entry.source.startswith("https://docs.aws.amazon.com/securityhub/")
        assert entry.third_party == (entry.authority in THIRD_PARTY)
    # In the authority map, HIPAA, SOC 2 and ISO ids come only from third-party mappings.
    for entry in authority.entries:
        if set(entry.controls) & {"hipaa-security", "soc2", "iso-27001-2022"}:
            assert entry.third_party, entry.via


def test_cited_by_agrees_with_the_authority_map(catalogues: dict[str, Catalogue], authority: AuthorityMap) -> None:
    mapped: dict[tuple[str, str], set[str]] = {}
    for entry in authority.entries:
        for framework, ids in entry.controls.items():
            for control in ids:
                mapped.setdefault((framework, control), set()).add(entry.authority)
    for cat in catalogues.values():
        for control in cat.controls.values():
            by = mapped.get((cat.id, control.id), set())
            assert by <= set(control.cited_by), (cat.id, control.id, by)
            # framework-text citations are the mapping review's (each with a rationale there).
            if set(control.cited_by) - by - {"framework-text"}:  # cited, but by no mapping of ours: say why
                assert control.note, (cat.id, control.id)


def test_key_security_hub_mappings(authority: AuthorityMap) -> None:
    sg01 = authority.citations("NET-SG-01")
    assert sg01["nist-800-53-r5"]["SC-7(5)"] == ("aws-security-hub",)
    assert "pci-dss-4.0" not in {fw for e in authority.for_check("NET-SG-01")
                                 if e.authority == "aws-security-hub" for fw in e.controls}
    assert authority.citations("NET-IP-01")["pci-dss-4.0"]["1.4.4"][0] == "aws-security-hub"
    assert "AC-3(7)" in authority.citations("NET-IP-01")["nist-800-53-r5"]  # EC2.15 = the EC2.9 set
    assert authority.citations("NET-NACL-03")["pci-dss-4.0"]["1.2.7"] == ("aws-security-hub",)
    assert authority.citations("NET-LOG-01")["hipaa-security"]["164.312(b)"] == (
        "third-party-steampipe", "third-party-prowler")
    assert authority.aws_packs_for("NET-GW-01") == ("ffiec", "hipaa-security", "nist-800-53-r5", "pci-dss-4.0")
    ec2_6 = next(e for e in authority.entries if e.via == "EC2.6")
    assert ec2_6.outside_catalogues["PCI DSS v3.2.1"] == ("10.3.3", "10.3.4", "10.3.5", "10.3.6")


def test_project_data_does_not_point_at_the_shared_reference() -> None:
    for path in [*(p for p in FOLDER.rglob("*") if p.is_file()),
                 Path(__file__).resolve().parent.parent / "auditor" / "rules" / "frameworks.py"]:
        text = path.read_text(encoding="utf-8")
        # The project stands alone: no reading of the team's shared reference folder.
        assert "../shared" not in text and "shared/reference" not in text, path.name


# --------------------------------------------------------------------------- look-ups and did-you-mean


@pytest.mark.parametrize("framework,typo,meant", [
    ("pci-dss-4.0", "1.4.44", "1.4.4"),
    ("nist-800-53-r5", "AC\u20114(21)", "AC-4(21)"),   # non-breaking hyphen, as pasted from a document
    ("nist-800-53-r5", "SC7(5)", "SC-7(5)"),
    ("nist-csf-2.0", "PR.IR01", "PR.IR-01"),
    ("soc2", "CC6.66", "CC6.6"),
    ("hipaa-security", "164.312(e)(l)", "164.312(e)(1)"),
])
def test_did_you_mean_on_a_misspelled_control(catalogues: dict[str, Catalogue], framework: str, typo: str,
                                              meant: str) -> None:
    assert not control_exists(catalogues, framework, typo)
    assert suggest_control(catalogues, framework, typo) == f" (did you mean '{meant}'?)"
    message = control_problem(catalogues, framework, typo)
    assert message is not None and f"did you mean '{meant}'" in message


def test_lookups_on_known_and_unknown_frameworks(catalogues: dict[str, Catalogue]) -> None:
    assert control_exists(catalogues, "pci-dss-4.0", "1.3.1")
    assert control_problem(catalogues, "pci-dss-4.0", "1.3.1") is None
    assert not control_exists(catalogues, "pci-dss-3.2.1", "1.3.1")
    assert suggest_control(catalogues, "no-such-framework", "1.3.1") == ""
    message = control_problem(catalogues, "pci-dss-4", "1.3.1")
    assert message is not None and "unknown framework 'pci-dss-4'" in message and "'pci-dss-4.0'" in message
    assert "1.3.1" in catalogues["pci-dss-4.0"]
    assert catalogues["pci-dss-4.0"].label == "PCI DSS 4.0.1"


def test_catalogues_are_immutable(catalogues: dict[str, Catalogue]) -> None:
    cat = catalogues["soc2"]
    with pytest.raises(AttributeError):
        cat.title = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cat.controls["CC9.9"] = cat.controls["CC6.1"]  # type: ignore[index]


# --------------------------------------------------------------------------- broken files

GOOD = """
    framework: demo
    title: Demo
    version: "1"
    publisher: Someone
    wording: {requirement: Requirement, environment: scope}
    source: a test
    controls:
      "1.3.1": {title: Inbound restricted, cited_by: [aws-security-hub]}
      "1.3.2": {title: Outbound restricted, cited_by: [third-party-prowler]}
"""


def test_a_minimal_catalogue_loads(tmp_path: Path) -> None:
    _write(tmp_path, "demo.yaml", GOOD)
    cats = load_catalogues(tmp_path)
    assert list(cats) == ["demo"] and list(cats["demo"].controls) == ["1.3.1", "1.3.2"]
    assert cats["demo"].controls["1.3.2"].cited_by == ("third-party-prowler",)


def test_unknown_key_is_positioned_with_a_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, "demo.yaml", GOOD.replace("    source: a test\n", "    source: a test\n    note: x\n")
                  .replace("{title: Outbound restricted,", "{titel: Outbound restricted,"))
    with pytest.raises(InputError) as exc:
        load_catalogue(path)
    problems = _problems(exc)
    assert [(p.line, p.col, p.path) for p in problems] == [(7, 1, "note"), (10, 12, "controls.1.3.2"),
                                                           (10, 13, "controls.1.3.2.titel")]
    assert "unknown key 'note' (did you mean 'notes'?)" in problems[0].message
    assert "missing required key 'title'" in problems[1].message
    assert "unknown key 'titel' (did you mean 'title'?)" in problems[2].message


def test_duplicate_control_is_positioned(tmp_path: Path) -> None:
    text = GOOD + '      "1.3.1": {title: Again, cited_by: [aws-security-hub]}\n'
    _write(tmp_path, "demo.yaml", text)
    with pytest.raises(InputError) as exc:
        load_catalogues(tmp_path)
    (problem,) = _problems(exc)
    assert (problem.file, problem.line, problem.col) == (str(tmp_path / "demo.yaml"), 10, 3)
    assert "duplicate key '1.3.1' (first given at line 8)" in problem.message


def test_wrong_types_are_positioned(tmp_path: Path) -> None:
    text = (GOOD.replace('version: "1"', "version: 1")
            .replace("{title: Inbound restricted,", "{title: 42,")
            .replace("cited_by: [third-party-prowler]", "cited_by: third-party-prowler"))
    text += "      1.4: {title: Float key, cited_by: [aws-security-hub]}\n"
    path = _write(tmp_path, "demo.yaml", text)
    with pytest.raises(InputError) as exc:
        load_catalogue(path)
    got = {(p.line, p.col, p.path): p.message for p in _problems(exc)}
    assert got[(3, 10, "version")] == "expected a string, got integer 1"
    assert got[(8, 20, "controls.1.3.1.title")] == "expected a string, got integer 42"
    assert got[(9, 51, "controls.1.3.2.cited_by")].startswith("expected a list, got string")
    assert got[(10, 3, "controls.1.4")].startswith("control id 1.4 must be a quoted string")
    assert len(got) == 4  # the float key is reported once, on the key itself


def test_unknown_citing_source_gets_a_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, "demo.yaml", GOOD.replace("[third-party-prowler]", "[third-party-prowlr]"))
    with pytest.raises(InputError) as exc:
        load_catalogue(path)
    (problem,) = _problems(exc)
    assert (problem.line, problem.path) == (9, "controls.1.3.2.cited_by[0]")
    assert "did you mean 'third-party-prowler'?" in problem.message


def test_framework_id_must_match_the_file_and_ids_their_pattern(tmp_path: Path) -> None:
    text = GOOD.replace("framework: demo", "framework: other").replace(
        "source: a test", "source: a test\n    id_pattern: '^[0-9]+(\\.[0-9]+)+$'")
    text += '      "A.1": {title: Letter id, cited_by: [aws-security-hub]}\n      "bad id!": {title: x, cited_by: [aws-security-hub]}\n'
    path = _write(tmp_path, "demo.yaml", text)
    with pytest.raises(InputError) as exc:
        load_catalogue(path)
    got = {(p.line, p.path): p.message for p in _problems(exc)}
    assert "must match the file name ('demo')" in got[(1, "framework")]
    assert "does not match this framework's id_pattern" in got[(11, "controls.A.1")]
    assert got[(12, "controls.bad id!")].startswith("control id 'bad id!' is not valid: a control id is")
    assert len(got) == 3


def test_problems_from_every_file_are_reported_together(tmp_path: Path) -> None:
    _write(tmp_path, "demo.yaml", GOOD.replace("    title: Demo\n", ""))
    _write(tmp_path, "other.yaml", GOOD.replace("framework: demo", "framework: other").replace("    source: a test\n", ""))
    with pytest.raises(InputError) as exc:
        load_catalogues(tmp_path)
    assert [(Path(p.file).name, p.message) for p in _problems(exc)] == [
        ("demo.yaml", "missing required key 'title'"), ("other.yaml", "missing required key 'source'")]


def test_excluded_id_cannot_also_be_a_control(tmp_path: Path) -> None:
    path = _write(tmp_path, "demo.yaml", GOOD.replace("controls:", 'excluded: {"1.3.1": not sourced}\n    controls:'))
    with pytest.raises(InputError) as exc:
        load_catalogue(path)
    (problem,) = _problems(exc)
    assert problem.line == 7 and "both a control and excluded" in problem.message


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder not found"):
        load_catalogues(tmp_path / "nope")
    with pytest.raises(InputError, match="no framework catalogues"):
        load_catalogues(tmp_path)


def test_catalogue_and_authority_map_are_not_interchangeable(tmp_path: Path) -> None:
    path = _write(tmp_path, "demo.yaml", "authority_map: 1\n" + textwrap.dedent(GOOD).lstrip())
    with pytest.raises(InputError) as exc:
        load_catalogue(path)
    (problem,) = _problems(exc)
    assert problem.path == "authority_map" and "the authority map lives in authority.yaml" in problem.message


# --------------------------------------------------------------------------- broken authority maps

AUTH = """
    authority_map: 1
    source: a test
    aws_config_packs:
      demo-pack: {title: Demo pack, framework: demo}
    mappings:
      - checks: [NET-RT-01]
        authority: aws-security-hub
        via: EC2.99
        controls:
          demo: ["1.3.1"]
      - {checks: [NET-GW-01], authority: aws-config-pack, via: some-rule, packs: [demo-pack]}
    checks: {NET-RT-01: no-igw-default-route, NET-GW-01: no-igw-attached, NET-GW-05: no-default-vpc}
"""


def test_a_minimal_authority_map_loads(tmp_path: Path) -> None:
    _write(tmp_path, "demo.yaml", GOOD)
    _write(tmp_path, "authority.yaml", AUTH)
    amap = load_authority(tmp_path / "authority.yaml")  # catalogues from the same folder
    assert amap.citations("NET-RT-01") == {"demo": {"1.3.1": ("aws-security-hub",)}}
    assert amap.aws_packs_for("NET-GW-01") == ("demo-pack",)
    assert amap.for_check("NET-RT-01")[0].line == 6
    assert amap.checks == {"NET-RT-01", "NET-GW-01"}  # the mapped ones
    assert amap.check_ids == {"NET-RT-01", "NET-GW-01", "NET-GW-05"}  # the whole catalogue
    assert amap.catalogue["NET-GW-05"] == "no-default-vpc"


def test_a_mapping_names_only_catalogued_checks(tmp_path: Path) -> None:
    _write(tmp_path, "demo.yaml", GOOD)
    path = _write(tmp_path, "authority.yaml", AUTH.replace("checks: [NET-GW-01]", "checks: [NET-GW-1]"))
    with pytest.raises(InputError) as exc:
        load_authority(path)
    [problem] = _problems(exc)
    assert (problem.line, problem.path) == (11, "mappings[1].checks[0]")
    assert "unknown check 'NET-GW-1' (did you mean 'NET-GW-01'?); declare it under checks" in problem.message


def test_authority_map_unknown_ids_are_positioned_with_suggestions(tmp_path: Path) -> None:
    _write(tmp_path, "demo.yaml", GOOD)
    text = (AUTH.replace('demo: ["1.3.1"]', 'demo: ["1.3.1", "1.3.22"]\n          dmo: ["1.3.1"]')
            .replace("packs: [demo-pack]", "packs: [demo-pak]")
            .replace("framework: demo}", "framework: demo-x}"))
    path = _write(tmp_path, "authority.yaml", text)
    with pytest.raises(InputError) as exc:
        load_authority(path)
    got = {(p.line, p.col, p.path): p.message for p in _problems(exc)}
    assert got[(4, 44, "aws_config_packs.demo-pack.framework")].startswith("unknown framework 'demo-x'")
    assert "'1.3.22' is not a control of demo (did you mean '1.3.2'?)" in got[(10, 23, "mappings[0].controls.demo[1]")]
    assert "unknown framework 'dmo' (did you mean 'demo'?)" in got[(11, 7, "mappings[0].controls.dmo")]
    assert "unknown pack 'demo-pak' (did you mean 'demo-pack'?)" in got[(12, 79, "mappings[1].packs[0]")]
    assert len(got) == 4


def test_authority_map_shape_errors(tmp_path: Path) -> None:
    _write(tmp_path, "demo.yaml", GOOD)
    text = (AUTH.replace("authority_map: 1\n", "")
            .replace("authority: aws-security-hub", "authority: aws-securityhub")
            .replace("packs: [demo-pack]}", "packs: [demo-pack], controls: {demo: ['1.3.1']}}")
            .replace("checks: [NET-RT-01]", "checks: [RT-01]"))
    path = _write(tmp_path, "authority.yaml", text)
    with pytest.raises(InputError) as exc:
        load_authority(path)
    messages = [p.message for p in _problems(exc)]
    assert any(m.startswith("missing required key 'authority_map'") for m in messages)
    assert any("'aws-securityhub' is not one of" in m and "did you mean 'aws-security-hub'" in m for m in messages)
    assert any("an aws-config-pack mapping names packs, not controls" in m for m in messages)
    assert any("'RT-01' is not valid: a catalogue check id looks like NET-RT-01" in m for m in messages)


def test_builtin_folder_copy_loads(tmp_path: Path) -> None:
    """The folder works wherever it is (as in an installed wheel's _builtin/rules/frameworks)."""
    copy = tmp_path / "frameworks"
    shutil.copytree(FOLDER, copy)
    cats = load_catalogues(copy)
    amap = load_authority(copy / AUTHORITY_FILE)
    assert set(cats) == FRAMEWORKS and amap.entries
