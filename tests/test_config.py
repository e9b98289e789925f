"""Audit config: valid shapes load; every bad input gives one clear, positioned message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from auditor.config import config_from_text, load_config
from auditor.errors import InputError
from conftest import run_auditor

GOOD = """\
version: 1
organization: Example Bank
accounts:
  - id: "111111111111"
    name: payments
    role_arn: arn:aws:iam::111111111111:role/AuditorReadOnly
  - id: "222222222222"
    profile: health
regions: [us-east-1, eu-west-1]
scope:
  vpc_ids: [vpc-0123456789abcdef0]
  tags:
    data-classification: [pci, phi]
    regulated: "yes"
outputs: {directory: out, gzip: true}
fail_on: medium
collection: {max_workers: 4, service_concurrency: {ec2: 3}, max_attempts: 5}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(InputError) as info:
        config_from_text(text, "audit.yaml")
    return [p.render() for p in info.value.problems]


def test_good_config_loads_every_setting(tmp_path: Path) -> None:
    path = tmp_path / "audit.yaml"
    path.write_text(GOOD)
    cfg = load_config(path)
    assert [a.id for a in cfg.accounts] == ["111111111111", "222222222222"]
    assert cfg.accounts[0].role_arn == "arn:aws:iam::111111111111:role/AuditorReadOnly"
    assert cfg.accounts[1].profile == "health"
    assert cfg.regions == ("us-east-1", "eu-west-1")
    assert cfg.scope.selects("vpc-0123456789abcdef0", {})
    assert cfg.scope.selects("vpc-1", {"data-classification": "phi"})
    assert cfg.scope.selects("vpc-1", {"regulated": "yes"})
    assert not cfg.scope.selects("vpc-1", {"data-classification": "public"})
    assert cfg.output_dir == tmp_path / "out" and cfg.gzip is True
    assert cfg.fail_on == "medium"
    assert cfg.collection.max_workers == 4 and cfg.collection.cap("ec2") == 3
    assert cfg.collection.max_attempts == 5
    assert cfg.digest.startswith("sha256:") and len(cfg.digest) == 71


def test_minimal_config_defaults_to_the_callers_account() -> None:
    cfg = config_from_text("version: 1\nregions: all\n")
    assert cfg.accounts == () and cfg.discovery is None and cfg.regions == "all"
    assert cfg.scope.everything


def test_organization_discovery() -> None:
    cfg = config_from_text("version: 1\norganization_discovery:\n  role_name: Audit\n"
                           "  include: ['1111*']\n  exclude: [sandbox-*]\n")
    assert cfg.discovery is not None
    assert cfg.discovery.role_name == "Audit" and cfg.discovery.include == ("1111*",)


def test_unknown_key_with_did_you_mean() -> None:
    out = problems("version: 1\nregoins: [us-east-1]\n")
    assert len(out) == 1
    assert out[0].startswith("audit.yaml:2:1  regoins: unknown key 'regoins' (did you mean 'regions'?)")


def test_wrong_type() -> None:
    assert problems("version: 1\ncollection:\n  max_workers: many\n") == [
        'audit.yaml:3:16  collection.max_workers: expected a whole number, got string "many"']


def test_bad_region_name_suggests_the_closest() -> None:
    assert problems("version: 1\nregions: [eu-west-1, eu-wset-1]\n") == [
        "audit.yaml:2:22  regions[1]: 'eu-wset-1' is not a known AWS region name (did you mean 'eu-west-1'?)"]


def test_unquoted_account_id_keeps_what_was_written() -> None:
    out = problems("version: 1\naccounts:\n  - id: 011111111111\n")
    assert out == ["audit.yaml:3:9  accounts[0].id: write the account id in quotes ('011111111111'): "
                   "unquoted, YAML reads it as a number and can drop leading zeros"]


def test_every_problem_is_reported_at_once() -> None:
    out = problems("version: 1\nregions: [us-east-9]\nfail_on: urgent\naccounts:\n  - id: '1234'\n"
                   "    rol_arn: x\n")
    assert len(out) == 4
    assert any("fail_on: 'urgent' is not one of" in p for p in out)
    assert any("accounts[0].id: '1234' is not valid: an AWS account id is 12 digits" in p for p in out)
    assert any("unknown key 'rol_arn' (did you mean 'role_arn'?)" in p for p in out)
    assert any("us-east-9" in p for p in out)


def test_role_in_another_account_and_duplicates() -> None:
    out = problems("version: 1\naccounts:\n  - id: '111111111111'\n    role_arn: arn:aws:iam::222222222222:role/A\n"
                   "  - id: '111111111111'\n")
    assert "audit.yaml:4:15  accounts[0].role_arn: role ARN is in another account than id 111111111111" in out
    assert "audit.yaml:5:9  accounts[1].id: account 111111111111 is listed twice (first as accounts[0])" in out


def test_profile_and_role_together_are_refused() -> None:
    out = problems("version: 1\naccounts:\n  - id: '111111111111'\n    profile: p\n"
                   "    role_arn: arn:aws:iam::111111111111:role/A\n")
    assert out == ["audit.yaml:3:5  accounts[0]: give either profile or role_arn for an account, not both"]


def test_duplicate_keys_are_not_silently_merged() -> None:
    assert problems("version: 1\nregions: [us-east-1]\nregions: [eu-west-1]\n") == [
        "audit.yaml:3:1  regions: duplicate key 'regions' (first given at line 2)"]


@pytest.mark.parametrize("text, expected", [
    ("version: 1\nregions: [us-east-1\n", "audit.yaml:3:1  YAML syntax error"),
    ("version: 1\nscope:\n  tags:\n    a: b\n   c: d\n", "audit.yaml:5:4  YAML syntax error"),
    ("version: 1\n\tregions: all\n", "YAML does not allow tabs"),
    ("", "audit.yaml:1:1  the file is empty"),
    ("# only a comment\n", "audit.yaml:1:1  the file has no content"),
    ("- version: 1\n", "audit.yaml:1:1  expected a mapping of settings"),
])
def test_malformed_yaml(text: str, expected: str) -> None:
    out = problems(text)
    assert len(out) == 1 and expected in out[0], out


def test_cli_bad_config_exits_2_with_positions_and_no_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "audit.yaml"
    cfg.write_text("version: 1\nregoins: [us-east-1]\ncollection: {max_workers: 0}\n")
    proc = subprocess.run([sys.executable, "-m", "auditor", "collect", "-c", str(cfg), "--out",
                           str(tmp_path / "snap")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{cfg}:2:1  regoins: unknown key 'regoins'" in proc.stderr
    assert f"{cfg}:3:27  collection.max_workers: 0 is out of range (minimum 1)" in proc.stderr
    assert "2 problems found; nothing was run." in proc.stderr
    assert not (tmp_path / "snap").exists() and not (tmp_path / "snap.partial").exists()


def test_cli_missing_config_file(tmp_path: Path) -> None:
    proc = run_auditor("collect", "-c", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "s"))   # in process
    assert proc.returncode == 2 and "nope.yaml:0:0  file not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_yaml_merge_keys_may_be_overridden_but_real_duplicates_are_not() -> None:
    cfg = config_from_text("version: 1\ncollection:\n  <<: {max_workers: 2, max_attempts: 3}\n  max_workers: 5\n")
    assert cfg.collection.max_workers == 5 and cfg.collection.max_attempts == 3
    assert problems("version: 1\ncollection:\n  max_workers: 2\n  max_workers: 5\n") == [
        "audit.yaml:4:3  collection.max_workers: duplicate key 'max_workers' (first given at line 3)"]


def test_non_utf8_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "audit.yaml"
    path.write_bytes(b"version: 1\norganization: \xff\xfe\n")
    with pytest.raises(InputError) as info:
        load_config(path)
    assert "not UTF-8 text" in str(info.value)


def test_impossible_date_is_kept_as_text_not_a_traceback() -> None:
    assert config_from_text("version: 1\norganization: 2026-02-30\n").organization == "2026-02-30"
    assert problems("version: 1\nfail_on: 2026-02-30\n") == [
        "audit.yaml:2:10  fail_on: '2026-02-30' is not one of: critical, high, medium, low, info, none"]


# -- hostile YAML: bounded for every input (auditor/yamlpos.py) -------------------------

# 1 KB: nine levels of ten aliases each expand to 10^9 values (PyYAML alone grows past 3 GB).
BILLION_LAUGHS = 'version: 1\nl0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n" for i in range(1, 10))


def test_a_billion_laughs_fails_fast_with_a_message_and_no_memory_growth() -> None:
    import tracemalloc

    assert len(BILLION_LAUGHS) < 1100
    tracemalloc.start()
    try:
        out = problems(BILLION_LAUGHS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(out) == 1 and out[0].startswith("audit.yaml:10:5  aliases would expand the file from ")
    assert "an alias bomb such as 'billion laughs'?" in out[0]
    assert peak < 20_000_000, peak      # a few MB for the parse, never the expansion


def test_deep_nesting_is_an_input_error_not_a_recursion_error() -> None:
    flow = "version: 1\nscope: " + "[" * 5000 + "]" * 5000 + "\n"
    assert problems(flow) == ["audit.yaml:2:107  nested more than 100 levels deep; no input of this tool "
                              "nests nearly so deep (a broken or hostile file?)"]
    block = "version: 1\nscope:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(5000))
    assert problems(block)[0].startswith("audit.yaml:102:101  nested more than 100 levels deep")


def test_aliases_cannot_nest_deeper_than_the_text_does() -> None:
    """Each line nests 60 levels; through the alias the second nests 120."""
    text = "version: 1\na: &a " + "[" * 60 + "1" + "]" * 60 + "\nb: " + "[" * 60 + "*a" + "]" * 60 + "\n"
    assert "nested more than 100 levels deep" in problems(text)[0]


def test_a_recursive_alias_is_an_input_error() -> None:
    assert problems("version: 1\nscope: &s {tags: *s}\n") == [
        "audit.yaml:2:8  an alias refers to a collection that contains it (a recursive structure cannot be read)"]


def test_ordinary_anchors_and_merge_keys_still_load() -> None:
    cfg = config_from_text("version: 1\nregions: &r [eu-west-1]\nscope: {vpc_ids: &v [vpc-0123abcd, vpc-0123abce]}\n"
                           "outputs: {<<: &o {directory: out, gzip: true}, formats: [json]}\n")
    assert cfg.regions == ("eu-west-1",) and cfg.scope.vpc_ids == {"vpc-0123abcd", "vpc-0123abce"} and cfg.gzip
