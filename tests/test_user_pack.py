"""A user-written pack in its own folder runs beside the built-in packs (sample_configs/user-packs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.rules.fixtures import Case, check_case, load_cases
from auditor.rules.packs import load_packs, packs_for_config

ROOT = Path(__file__).resolve().parent.parent
USER = ROOT / "sample_configs" / "user-packs"
CASES: list[Case] = [c for f in sorted((Path(__file__).parent / "user_pack_fixtures").glob("*.yaml"))
                     for c in load_cases(f)]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_user_rules_give_the_expected_results(case: Case) -> None:
    assert check_case(case, load_packs([USER])) == []


def test_user_pack_loads_beside_every_builtin_pack() -> None:
    both = load_packs([USER])
    builtin = load_packs()
    assert set(both.pack_ids) == set(builtin.pack_ids) | {"bank-extras"}
    assert {"USR-001", "USR-002"} <= set(both.rules_by_id)


def test_a_config_selects_the_user_pack_with_a_profile(tmp_path: Path) -> None:
    from auditor.rules.profiles import load_profile, profiles_dir

    profile = load_profile(profiles_dir() / "banking.yaml")
    packs = packs_for_config([str(USER / "bank-extras.yaml")], {"bank-extras": {"trusted_accounts": ["1"]}},
                             base_dir=tmp_path, profile=profile)
    assert set(packs.pack_ids) == set(profile.packs) | {"bank-extras"}
    assert packs.parameter("bank-extras", "trusted_accounts").value == ["1"]
