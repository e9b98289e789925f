"""Rule packs: good packs load (includes, parameters, overrides); every broken pack gives
clear, positioned messages, compared with a golden file.

The golden file tests/packs/bad/expected.txt holds the exact rendered messages of each
broken pack under tests/packs/bad (a .yaml file or a folder loaded as one). To rewrite it
after a deliberate change of wording: ``UPDATE_GOLDEN=1 pytest tests/test_rule_packs.py``,
then review the diff.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.errors import InputError
from auditor.rules.pack_checks import Registries
from auditor.rules.packs import AllOf, AnyOf, Condition, Leaf, Not, PackSet, load_packs
from auditor.validation import load_schema
from auditor.yamlpos import load_yaml_text

PACKS = Path(__file__).resolve().parent / "packs"
GOLDEN = PACKS / "bad" / "expected.txt"


def bad_cases() -> list[str]:
    """Each broken pack: a .yaml file, or a folder of packs loaded together."""
    bad = PACKS / "bad"
    return sorted(p.name for p in bad.iterdir() if p.is_dir() or p.suffix == ".yaml")


def render_case(name: str) -> list[str]:
    with pytest.raises(InputError) as info:
        load_packs([Path("bad") / name], builtin=False)
    return [p.render() for p in info.value.problems]


def golden_sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            out[current] = []
        elif line.strip():
            out[current].append(line)
    return out


@pytest.fixture
def in_packs(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from tests/packs so that messages name files by relative paths."""
    monkeypatch.chdir(PACKS)
    return PACKS


# -- broken packs: golden messages -------------------------------------------------------

def test_there_are_enough_broken_packs() -> None:
    assert len(bad_cases()) >= 14


def test_broken_packs_match_the_golden_messages(in_packs: Path) -> None:
    actual = {name: render_case(name) for name in bad_cases()}
    text = "".join(f"## {name}\n" + "".join(line + "\n" for line in lines) + "\n" for name, lines in actual.items())
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    expected = golden_sections(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(expected) == sorted(actual), "a broken pack was added or removed: UPDATE_GOLDEN=1 rewrites"
    for name in actual:
        assert actual[name] == expected[name], name


@pytest.mark.parametrize("name", bad_cases())
def test_each_broken_pack_names_file_line_col(in_packs: Path, name: str) -> None:
    lines = render_case(name)
    assert lines, name
    for line in lines:
        assert re.match(r"^bad/[\w./-]+\.yaml:\d+:\d+  \S", line), line
        assert line.count("\n") == 0 and "Traceback" not in line


def test_golden_covers_the_required_kinds_of_mistake() -> None:
    text = GOLDEN.read_text(encoding="utf-8")
    for needle in [
        "unknown key 'severty' (did you mean 'severity'?)",
        "unknown operator 'eqq' (did you mean 'eq'?)",
        "references: expected a list",
        "duplicate rule id TST-101: already defined at bad/duplicate-id/a.yaml:9:9",
        "'is_defualt' is not an attribute path of vpc",
        "bad regular expression",
        "bad CIDR '10.300.0.0/16'",
        "unknown parameter '${allowed_vpcs}' (did you mean 'allowed_vpc_ids'?)",
        "control 'SC-77' does not exist in framework nist-800-53-r5",
        "YAML syntax error",
        "check the indentation",
        "the file has no content",
        "unknown resource type 'vpcs' (did you mean 'vpc'?)",
        "a leaf has exactly one operator",
        "{vpc_idd}",
        "include cycle: cycle-a -> cycle-b -> cycle-a",
        "unknown pack 'privat-network'",
    ]:
        assert needle in text, needle


def test_problems_of_all_files_are_reported_at_once(in_packs: Path) -> None:
    with pytest.raises(InputError) as info:
        load_packs([Path("bad")], builtin=False)
    files = {p.file for p in info.value.problems}
    assert {"bad/unknown-operator.yaml", "bad/yaml-syntax.yaml", "bad/empty.yaml"} <= files


# -- good packs --------------------------------------------------------------------------

def good() -> PackSet:
    return load_packs([PACKS / "good"], builtin=False)


def test_good_packs_load_with_includes_and_parameters() -> None:
    ps = good()
    assert ps.pack_ids == ("test-base", "test-network")
    assert [r.id for r in ps.rules] == ["TST-001", "TST-010", "TST-011", "TST-012", "TST-013"]
    assert list(ps.rules_by_id) == [r.id for r in ps.rules]
    net = ps.pack("test-network")
    assert net.includes == ("test-base",) and net.version == "2.1.0"
    assert net.parameters["max_port"].type == "integer" and net.parameters["max_port"].value == 1024
    r10 = ps.rule("TST-010")
    assert r10.pack == "test-network" and r10.severity == "critical" and r10.resource == "subnet"
    assert r10.source[0].endswith("network.yaml") and r10.source[1] == 12
    assert r10.frameworks["pci-dss-4.0"] == ("1.3.1", "1.4.1")
    assert r10.remediation["cli"].startswith("aws ec2")
    assert isinstance(r10.where, Leaf) and r10.where.arg == ["10.0.0.0/8", "172.16.0.0/12"]
    assert r10.where.written == "${internal_cidrs}"
    assert r10.position("where") == (r10.source[0], 16, 12)
    # A parameter of the included pack, bound in a `not`.
    r11 = ps.rule("TST-011")
    assert isinstance(r11.where, Not) and isinstance(r11.where.item, Leaf)
    assert r11.where.item.arg == [] and r11.params["allowed_vpc_ids"] == ("test-base", "allowed_vpc_ids")
    assert isinstance(r11.check, AllOf) and isinstance(r11.check.items[0], Leaf)
    assert r11.check.items[0].quantifier == "all" and r11.check.items[0].path == "check.all[0]"
    # A reference inside a string is replaced by its text.
    r12 = ps.rule("TST-012")
    assert isinstance(r12.check, Leaf) and r12.check.arg == "^vpc-|^prod-"
    r13 = ps.rule("TST-013")
    assert r13.deprecated and r13.replaced_by == "TST-010" and r13.deprecation_reason == "merged into TST-010"
    assert r13.frameworks["nist-800-53-r5"] == ("SC-7", "SC-7(5)")
    r1 = ps.rule("TST-001")
    assert isinstance(r1.check, AnyOf) and not r1.deprecated and r1.where is None


def test_packs_are_immutable() -> None:
    ps = good()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ps.rule("TST-001").severity = "low"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ps.rule("TST-010").frameworks["x"] = ()  # type: ignore[index]


def test_order_is_deterministic_and_files_may_be_given_one_by_one() -> None:
    a = load_packs([PACKS / "good" / "network.yaml", PACKS / "good" / "base.yaml"], builtin=False)
    assert a.pack_ids == ("test-network", "test-base")
    assert [r.id for r in a.rules] == [r.id for r in good().rules]
    # The same file twice is read once.
    b = load_packs([PACKS / "good", PACKS / "good" / "base.yaml"], builtin=False)
    assert b.pack_ids == ("test-base", "test-network")


def test_an_include_must_be_loaded(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_packs([PACKS / "good" / "network.yaml"], builtin=False)
    (p,) = info.value.problems
    assert p.path == "pack.includes[0]" and "unknown pack 'test-base'" in p.message


def test_select_takes_included_packs_along() -> None:
    ps = good()
    assert ps.select(["test-network"]).pack_ids == ("test-base", "test-network")
    assert ps.select(["test-base"]).pack_ids == ("test-base",)
    doc = load_yaml_text("rule_packs: [test-netwrok]\n", "audit.yaml")
    with pytest.raises(InputError) as info:
        ps.select(["test-netwrok"], config=doc)
    assert info.value.problems[0].render().startswith(
        "audit.yaml:1:14  rule_packs[0]: unknown pack 'test-netwrok' (did you mean 'test-network'?)")


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_packs([tmp_path / "nope.yaml", tmp_path], builtin=False)
    messages = sorted(p.message for p in info.value.problems)
    assert messages == ["no such pack file or folder", "the folder holds no pack files (*.yaml, *.yml)"]


def test_builtin_packs_load() -> None:
    ps = load_packs([])
    assert all(p.builtin for p in ps.packs)
    for rule in ps.rules:
        assert not rule.id.startswith("USR-")


def test_user_packs_load_next_to_builtin_ones() -> None:
    ps = load_packs([PACKS / "good"])
    assert {"test-base", "test-network"} <= set(ps.pack_ids)


# -- parameter overrides -----------------------------------------------------------------

def test_overrides_rebind_every_rule_that_uses_the_parameter() -> None:
    ps = good().with_overrides({"test-base": {"allowed_vpc_ids": ["vpc-1"], "name_prefix": "pci"},
                                "test-network": {"internal_cidrs": ["10.1.0.0/16"]}})
    assert ps.parameter("test-base", "allowed_vpc_ids").value == ["vpc-1"]
    assert ps.parameter("test-base", "allowed_vpc_ids").default == []
    r1 = ps.rule("TST-001")
    assert isinstance(r1.check, AnyOf) and r1.check.items[1] == Leaf(
        "id", "in", "${allowed_vpc_ids}", "any", "check.any[1]", {"allowed_vpc_ids": ["vpc-1"]})
    assert r1.check.items[1].arg == ["vpc-1"]
    r11 = ps.rule("TST-011")
    assert isinstance(r11.where, Not) and isinstance(r11.where.item, Leaf) and r11.where.item.arg == ["vpc-1"]
    r12 = ps.rule("TST-012")
    assert isinstance(r12.check, Leaf) and r12.check.arg == "^vpc-|^pci-"
    r10 = ps.rule("TST-010")
    assert isinstance(r10.where, Leaf) and r10.where.arg == ["10.1.0.0/16"]
    # The original set is unchanged.
    orig = good().rule("TST-012")
    assert isinstance(orig.check, Leaf) and orig.check.arg == "^vpc-|^prod-"


def test_overrides_with_no_values_change_nothing() -> None:
    assert good().with_overrides({}) == good()


CONFIG = """\
version: 1
parameters:
  test-base:
    allowed_vpc_ids: vpc-1
    name_prefx: pci
  test-network:
    max_port: 22.5
    internal_cidrs: [10.0.0.0/33]
    allowed_vpc_ids: []
  test-netwrk: {strict: false}
"""


def test_bad_overrides_are_located_in_the_config() -> None:
    doc = load_yaml_text(CONFIG, "audit.yaml")
    with pytest.raises(InputError) as info:
        good().with_overrides(doc.data["parameters"], config=doc)
    assert [p.render() for p in info.value.problems] == [
        "audit.yaml:4:22  parameters.test-base.allowed_vpc_ids: expected a list, got string 'vpc-1' "
        "(the parameter is declared as list of string)",
        "audit.yaml:5:5  parameters.test-base.name_prefx: pack test-base has no parameter 'name_prefx' "
        "(did you mean 'name_prefix'?); its parameters: allowed_vpc_ids, name_prefix",
        "audit.yaml:7:15  parameters.test-network.max_port: expected an integer, got number 22.5 "
        "(the parameter is declared as integer)",
        "audit.yaml:9:5  parameters.test-network.allowed_vpc_ids: pack test-network has no parameter "
        "'allowed_vpc_ids' ('allowed_vpc_ids' is a parameter of pack test-base: set it under test-base); "
        "its parameters: internal_cidrs, max_port, strict",
        "audit.yaml:10:3  parameters.test-netwrk: unknown pack 'test-netwrk' (did you mean 'test-network'?); "
        "loaded packs: test-base, test-network",
    ]


def test_override_values_are_checked_against_the_operators_that_use_them() -> None:
    with pytest.raises(InputError) as info:
        good().with_overrides({"test-network": {"internal_cidrs": ["10.0.0.0/33"]},
                               "test-base": {"name_prefix": "(x"}}, file="audit.yaml")
    rendered = [p.render() for p in info.value.problems]
    assert len(rendered) == 2
    assert rendered[0].startswith("audit.yaml:0:0  parameters.test-base.name_prefix: value does not suit rule "
                                  "TST-012 check.matches: bad regular expression")
    assert rendered[1].startswith("audit.yaml:0:0  parameters.test-network.internal_cidrs: value does not suit "
                                  "rule TST-010 where.cidr_within: bad CIDR '10.0.0.0/33'")


# -- registries are injectable -----------------------------------------------------------

class _Op:
    def __init__(self, name: str) -> None:
        self.name = name
        self.arg_kind = "scalar"

    def check_arg(self, arg: Any) -> str | None:
        return None if isinstance(arg, (str, int, float, bool)) else "expected a scalar"


def test_checks_use_the_registries_they_are_given(tmp_path: Path) -> None:
    reg = Registries(operators={"is": _Op("is")}, resource_types=("widget",),
                     is_known_path=lambda t, p: p in ("id", "colour"),
                     suggest_path=lambda t, p: "colour" if p.startswith("col") else None,
                     frameworks=("fw",), control_exists=lambda f, c: c == "C-1",
                     suggest_control=lambda f, c: "C-1")
    pack = tmp_path / "p.yaml"
    pack.write_text("""\
pack: {id: fake, version: 1.0.0, title: t, description: d}
rules:
  - id: FK-001
    title: t
    severity: low
    resource: widget
    check: {attr: color, is: blue}
    message: "{id}"
    rationale: r
    remediation: {cli: x}
    references: [x]
    frameworks: {fw: [C-2]}
""")
    with pytest.raises(InputError) as info:
        load_packs([pack], builtin=False, registries=reg)
    assert [(p.path, p.message) for p in info.value.problems] == [
        ("FK-001 check.attr", "'color' is not an attribute path of widget (did you mean 'colour'?)"),
        ("FK-001 frameworks.fw[0]", "control 'C-2' does not exist in framework fw (did you mean 'C-1'?); "
                                    "see rules/frameworks/fw.yaml"),
    ]
    pack.write_text(pack.read_text().replace("color", "colour").replace("C-2", "C-1"))
    ps = load_packs([pack], builtin=False, registries=reg)
    assert ps.rule("FK-001").check == Leaf("colour", "is", "blue", "any", "check", {})


# -- the schema --------------------------------------------------------------------------

def test_schema_is_valid_and_accepts_the_good_packs() -> None:
    import jsonschema

    schema = load_schema("rule-pack")
    validator = jsonschema.Draft202012Validator(schema)
    for f in sorted((PACKS / "good").glob("*.yaml")):
        doc = load_yaml_text(f.read_text(), f.name)
        assert list(validator.iter_errors(doc.data)) == [], f


# -- the rules command group -------------------------------------------------------------

def _cli() -> Any:
    from auditor.cli_rules import rules
    return rules


def test_cli_validate_ok() -> None:
    res = CliRunner().invoke(_cli(), ["validate", str(PACKS / "good")])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == "2 packs, 5 rules OK"


def test_cli_validate_reports_every_problem_and_exits_2(in_packs: Path) -> None:
    res = CliRunner().invoke(_cli(), ["validate", "bad/empty.yaml", "bad/bad-regex.yaml", "--no-builtin"])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    lines = res.stderr.splitlines()
    assert lines[0].startswith("bad/bad-regex.yaml:13:32  TST-101 check.matches: bad regular expression")
    assert lines[1].startswith("bad/empty.yaml:1:1  the file has no content")
    assert lines[-1] == "2 problems found."
    assert res.stdout == ""


def test_cli_list_and_show() -> None:
    res = CliRunner().invoke(_cli(), ["list", "--pack", str(PACKS / "good")])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split() == ["ID", "SEVERITY", "RESOURCE", "TITLE"]
    row = next(line for line in lines if line.startswith("TST-010"))
    assert row.split(None, 3) == ["TST-010", "critical", "subnet",
                                  "Subnets do not assign public IPv4 addresses on launch"]
    assert any(line.startswith("TST-013") and "(deprecated)" in line for line in lines)
    res = CliRunner().invoke(_cli(), ["show", "TST-010", "--pack", str(PACKS / "good")])
    assert res.exit_code == 0, res.output
    out = res.output
    for needle in ["id: TST-010", "pack: test-network", "severity: critical", "resource: subnet",
                   "where:", "cidr_within: ${internal_cidrs}", "check:", "map_public_ip_on_launch",
                   "pci-dss-4.0: [1.3.1, 1.4.1]", "remediation:", "  cli: aws ec2", "references:",
                   "source: "]:
        assert needle in out, needle
    res = CliRunner().invoke(_cli(), ["show", "TST-01", "--pack", str(PACKS / "good")])
    assert res.exit_code == 2
    assert "unknown rule TST-01" in res.stderr


def test_cli_list_with_a_broken_pack_exits_2(in_packs: Path) -> None:
    res = CliRunner().invoke(_cli(), ["list", "--pack", "bad/empty.yaml"])
    assert res.exit_code == 2
    assert "bad/empty.yaml:1:1  the file has no content" in res.stderr


# -- odd shapes never crash the checks ---------------------------------------------------

RULE = """\
  - id: TST-001
    title: t
    severity: low
    resource: vpc
    check: {attr: is_default, eq: false}
    message: "{id}"
    rationale: r
    remediation: {cli: x}
    references: [x]
    frameworks: {}
"""
HEAD = "pack: {id: odd, version: 1.0.0, title: t, description: d}\nrules:\n"


@pytest.mark.parametrize("text", [
    "- a list\n",
    "pack: []\nrules: x\n",
    "pack: {id: 3, version: 1, title: [], description: {}, includes: x, parameters: [], frameworks: x}\nrules: [1, x]\n",
    "pack: {id: odd, version: 1.0.0, title: t, description: d, parameters: {p: 1, q: {type: float, default: 1},"
    " r: {type: list, items: list, default: []}, s: {type: string}, T: {type: string, default: x}}}\nrules: []\n",
    HEAD + RULE.replace("check: {attr: is_default, eq: false}", "check: [a]"),
    HEAD + RULE.replace("check: {attr: is_default, eq: false}", "check: {}"),
    HEAD + RULE.replace("check: {attr: is_default, eq: false}", "check: {all: x, any: [], not: 3}"),
    HEAD + RULE.replace("check: {attr: is_default, eq: false}", "check: {all: [1, {not: {attr: 3}}, {eq: 1}]}"),
    HEAD + RULE.replace("check: {attr: is_default, eq: false}", "check: {attr: '', 7: x, quantifier: some}"),
    HEAD + RULE.replace("check: {attr: is_default, eq: false}", "check: {attr: id, in: ['${}', '${X}', 3]}"),
    HEAD + RULE.replace("check: {attr: is_default, eq: false}", "check: {any: [{attr: id, eq: x}], attr: id}"),
    HEAD + RULE.replace('message: "{id}"', 'message: "{} {id:>3} {id!r} }"'),
    HEAD + RULE.replace('message: "{id}"', "message: 7"),
    HEAD + RULE.replace("frameworks: {}", "frameworks: {nist-800-53-r5: {a: 1}, 7: [true, null], x: []}"),
    HEAD + RULE.replace("frameworks: {}", "frameworks: [SC-7]") + "    deprecated: {replaced_by: 3}\n",
    HEAD + RULE.replace("resource: vpc", "resource: [vpc]"),
    HEAD + RULE + "    where: null\n    deprecated: {replaced_by: TST-001}\n",
])
def test_odd_shapes_are_problems_not_crashes(tmp_path: Path, text: str) -> None:
    f = tmp_path / "odd.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as info:
        load_packs([f], builtin=False)
    assert info.value.problems
    for p in info.value.problems:
        assert p.file == str(f) and p.line >= 1 and p.message


# -- what an audit config asks for -------------------------------------------------------

def test_packs_for_config_loads_paths_and_overrides(tmp_path: Path) -> None:
    import shutil

    from auditor.config import load_config
    from auditor.rules.packs import packs_for_config

    shutil.copytree(PACKS / "good", tmp_path / "mine")
    cfg_file = tmp_path / "audit.yaml"
    cfg_file.write_text("version: 1\nrule_packs: [mine]\nparameters:\n  test-base: {name_prefix: pci}\n")
    cfg = load_config(cfg_file)
    ps = packs_for_config(cfg.rule_packs, cfg.parameters, base_dir=cfg.base_dir, source=cfg.source)
    assert ps.pack_ids == ("test-base", "test-network")
    r12 = ps.rule("TST-012")
    assert isinstance(r12.check, Leaf) and r12.check.arg == "^vpc-|^pci-"

    cfg_file.write_text("version: 1\nrule_packs: [mine, test-netwrk]\nparameters:\n"
                        "  test-base: {name_prefx: pci}\n")
    cfg = load_config(cfg_file)
    with pytest.raises(InputError) as info:
        packs_for_config(cfg.rule_packs, cfg.parameters, base_dir=cfg.base_dir, source=cfg.source)
    (p,) = info.value.problems
    assert p.render().startswith(f"{cfg_file}:2:20  rule_packs[1]: unknown pack 'test-netwrk' "
                                 "(did you mean 'test-network'?)")
    cfg_file.write_text("version: 1\nrule_packs: [mine/network.yaml, mine/base.yaml]\nparameters:\n"
                        "  test-base: {name_prefx: pci}\n")
    cfg = load_config(cfg_file)
    with pytest.raises(InputError) as info:
        packs_for_config(cfg.rule_packs, cfg.parameters, base_dir=cfg.base_dir, source=cfg.source)
    (p,) = info.value.problems
    assert p.render().startswith(f"{cfg_file}:4:15  parameters.test-base.name_prefx: pack test-base has no "
                                 "parameter 'name_prefx' (did you mean 'name_prefix'?)")


def test_packs_for_config_without_entries_selects_the_builtin_packs(tmp_path: Path) -> None:
    from auditor.rules.packs import packs_for_config

    ps = packs_for_config([], {}, base_dir=tmp_path)
    assert all(p.builtin for p in ps.packs)
    assert ps.pack_ids == load_packs([]).pack_ids


def test_rules_hand_the_evaluator_their_typed_tree_with_parameters_bound() -> None:
    ps = good().with_overrides({"test-base": {"allowed_vpc_ids": ["vpc-9"]}})
    r11 = ps.rule("TST-011")
    assert r11.where == Not(Leaf("vpc_id", "in", "${allowed_vpc_ids}", "any", "where.not",
                                 {"allowed_vpc_ids": ["vpc-9"]}), "where")
    assert r11.check == AllOf((Leaf("routes[*].target_kind", "ne", "igw", "all", "check.all[0]"),
                               Leaf("routes[*].target_kind", "not_in", ["igw", "eigw"], "all", "check.all[1]")),
                              "check")
    assert r11.param_values == {"allowed_vpc_ids": ["vpc-9"]}
    # A plain rule is evaluated as it is: one instance, its own trees.
    (instance,) = r11.instances
    assert instance.item is None and instance.check is r11.check and instance.where is r11.where
    # Every argument the evaluator sees is bound: no ${param} is left in any leaf.
    for rule in ps.rules:
        for inst in rule.instances:
            for leaf in _leaves(inst.check) + (_leaves(inst.where) if inst.where is not None else []):
                assert "${" not in repr(leaf.arg)
    assert ps.rule("TST-001").where is None


def _leaves(cond: Condition) -> list[Leaf]:
    if isinstance(cond, Leaf):
        return [cond]
    if isinstance(cond, Not):
        return _leaves(cond.item)
    return [x for c in cond.items for x in _leaves(c)]


def test_a_for_each_rule_is_bound_once_per_element_when_it_loads(tmp_path: Path) -> None:
    pack = tmp_path / "each.yaml"
    pack.write_text("""\
pack:
  id: each
  version: 1.0.0
  title: t
  description: d
  parameters:
    services: {type: list, items: string, default: [s3, ec2]}
    prefix: {type: string, default: com.amazonaws}
rules:
  - id: EAC-001
    title: Each service has an endpoint
    severity: low
    resource: vpc
    for_each: "${services}"
    where: {attr: id, matches: "^vpc-"}
    check:
      all:
        - {attr: interface_endpoint_services, contains: "${item}"}
        - {attr: id, ne: "${prefix}.${item}"}
    message: "VPC {id} lacks {item}"
    rationale: r
    remediation: {console: c}
    references: [x]
    frameworks: {}
""")
    rule = load_packs([pack], builtin=False).rule("EAC-001")
    # Shown as written, ${item} bound to a sample: the list's first default element.
    assert isinstance(rule.check, AllOf) and [leaf.arg for leaf in _leaves(rule.check)] == ["s3", "com.amazonaws.s3"]
    assert [i.item for i in rule.instances] == ["s3", "ec2"]
    assert [[leaf.arg for leaf in _leaves(i.check)] for i in rule.instances] == [
        ["s3", "com.amazonaws.s3"], ["ec2", "com.amazonaws.ec2"]]
    assert all(i.where is rule.where for i in rule.instances)   # no ${item} there: shared
    # Overrides re-bind the list and the other parameters alike, still at load time.
    over = load_packs([pack], builtin=False).with_overrides({"each": {"services": ["sts"], "prefix": "p"}})
    (inst,) = over.rule("EAC-001").instances
    assert inst.item == "sts" and [leaf.arg for leaf in _leaves(inst.check)] == ["sts", "p.sts"]
    assert load_packs([pack], builtin=False).with_overrides({"each": {"services": []}}).rule("EAC-001").instances == ()
