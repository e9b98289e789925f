"""Every built-in rule against its fixtures, and the meta-tests of the built-in packs.

Fixtures (tests/rule_fixtures/<RULE-ID>.yaml, format in auditor/rules/fixtures.py) are
estates written as AWS API responses; the whole engine runs on each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.rules.fixtures import Case, check_case, load_cases
from auditor.rules.frameworks import AuthorityMap, load_authority
from auditor.rules.packs import PackSet, load_packs

FIXTURES = Path(__file__).parent / "rule_fixtures"
PACKS: PackSet = load_packs()
CASES: list[Case] = [c for f in sorted(FIXTURES.glob("*.yaml")) for c in load_cases(f)]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_rule_gives_the_expected_results(case: Case) -> None:
    assert check_case(case, PACKS) == []


def test_every_fixture_file_is_named_after_its_rule() -> None:
    for f in FIXTURES.glob("*.yaml"):
        assert {c.rule for c in load_cases(f)} == {f.stem}, f.name


@pytest.mark.parametrize("rule", PACKS.rules, ids=[r.id for r in PACKS.rules])
def test_every_builtin_rule_has_pass_and_fail_fixtures(rule) -> None:  # type: ignore[no-untyped-def]
    statuses = {s for c in CASES if c.rule == rule.id for s in c.expect.values()}
    assert {"PASS", "FAIL"} <= statuses, f"{rule.id}: fixtures give {sorted(statuses) or 'nothing'}"


@pytest.mark.parametrize("rule", PACKS.rules, ids=[r.id for r in PACKS.rules])
def test_every_builtin_rule_is_documented(rule) -> None:  # type: ignore[no-untyped-def]
    assert rule.remediation and all(v.strip() for v in rule.remediation.values())
    assert rule.references and all(r.startswith("https://") for r in rule.references)
    assert rule.rationale.strip() and rule.implements, f"{rule.id} names no catalogue check"


@pytest.fixture(scope="module")
def authority() -> AuthorityMap:
    """The authority map, loaded once for the module (each load reads every catalogue)."""
    return load_authority()


@pytest.mark.parametrize("rule", PACKS.rules, ids=[r.id for r in PACKS.rules])
def test_builtin_citations_come_from_the_mapping_review(rule, authority: AuthorityMap) -> None:  # type: ignore[no-untyped-def]
    """A built-in rule cites a framework control only where the mapping review keeps it
    (rules/frameworks/mapping-review.yaml); a kept row on a source's authority is one that
    authority.yaml maps for a check the rule implements (controls.md section 4), a framework-text
    row is our reading with its rationale."""
    from auditor.rules.mapping_review import builtin_review

    review = builtin_review()
    supported = {(fw, c, a) for check in rule.implements
                 for fw, controls in authority.citations(check).items() for c, auths in controls.items() for a in auths}
    for fw, controls in rule.frameworks.items():
        for c in controls:
            row = review.row(fw, c, rule.id)
            assert row is not None and row.kept, f"{rule.id} cites {fw} {c} without a kept review row"
            for a in row.authorities:
                if a != "framework-text":
                    assert (fw, c, a) in supported, f"{rule.id}: {fw} {c} on {a}'s word, which authority.yaml does not map"
                else:
                    assert row.rationale and row.source


def test_the_builtin_packs_are_all_there() -> None:
    assert {p.id for p in PACKS.packs if p.builtin} >= {"private-network"}
