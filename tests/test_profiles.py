"""Profiles select and tune packs: packs, parameters, severities, reported frameworks; bad ones are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.rules.packs import load_packs, packs_for_config
from auditor.rules.profiles import builtin_profiles, load_profile, profiles_dir
from auditor.rules.pack_checks import default_registries


@pytest.mark.parametrize("name", ["banking", "healthcare", "insurance"])
def test_builtin_profiles_name_only_what_exists(name: str, tmp_path: Path) -> None:
    profile = load_profile(profiles_dir() / f"{name}.yaml")
    assert profile.builtin and profile.style == {"insurance": "insurer"}.get(name, name)
    packs = packs_for_config((), {}, base_dir=tmp_path, profile=profile)
    assert set(packs.pack_ids) == set(profile.packs) == {p.id for p in load_packs().packs if p.builtin}
    assert set(profile.frameworks) <= set(default_registries().frameworks)
    assert builtin_profiles() == ("banking", "healthcare", "insurance")


def test_profile_severities_and_parameters_apply_and_the_config_wins(tmp_path: Path) -> None:
    healthcare = load_profile(profiles_dir() / "healthcare.yaml")
    packs = packs_for_config((), {"endpoints": {"required_interface_services": ["sqs"]}}, base_dir=tmp_path,
                             profile=healthcare)
    assert packs.rule("TF-006").severity == "high" and load_packs().rule("TF-006").severity == "medium"
    assert packs.rule("VE-001").items == ("sqs",)


def test_a_broken_profile_is_reported_with_positions(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("profile:\n  id: mine\n  version: 1.0.0\n  title: Mine\n  description: My profile.\n"
                    "  frameworks: [pci-dss-4.1]\npacks: [private-netwrk]\nseverity: {PN-999: high}\n"
                    "parameters: {private-network: {allowed_igw_vpc_ids: vpc-1}}\n")
    with pytest.raises(InputError) as exc:
        packs_for_config((), {}, base_dir=tmp_path, profile=load_profile(path))
    text = "\n".join(p.render() for p in exc.value.problems)
    assert "mine.yaml:7:9  packs[0]: unknown pack 'private-netwrk' (did you mean 'private-network'?)" in text
    assert "unknown rule 'PN-999'" in text and "unknown framework 'pci-dss-4.1' (did you mean 'pci-dss-4.0'?)" in text
    path.write_text(path.read_text().replace("pci-dss-4.1", "pci-dss-4.0").replace("private-netwrk", "endpoints")
                    .replace("PN-999", "PN-001"))
    with pytest.raises(InputError) as exc:
        packs_for_config((), {}, base_dir=tmp_path, profile=load_profile(path))
    [problem] = exc.value.problems
    assert problem.file.endswith("mine.yaml") and problem.line == 9 and "allowed_igw_vpc_ids" in problem.path
    path.write_text("profile: {id: Mine}\n")
    with pytest.raises(InputError) as exc:
        load_profile(path)
    assert all(p.file.endswith("mine.yaml") for p in exc.value.problems)
