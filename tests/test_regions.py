"""Regions follow AWS conventions (issue 10, item 7): the config's regions, else AWS_REGION,
AWS_DEFAULT_REGION, the profile's region; else a clear input error (never a silent
us-east-1). ``regions: all`` and Organizations discovery use the caller's partition.
The choice and its source are in the manifest and on the console."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any
from collections.abc import Sequence

import boto3
import pytest
from click.testing import CliRunner

from auditor.cli import cli, main
from auditor.cli_common import EXIT_INPUT
from auditor.collect.regions import resolve_regions
from auditor.collect import runner
from auditor.collect.catalog import CATALOG
from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.config import config_from_text
from auditor.errors import InputError
from auditor.snapshot.writer import SnapshotWriter

from conftest import HOME_ACCOUNT, Injector


@pytest.fixture(autouse=True)
def _one_call_per_region(monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests are about which regions are collected and where account-wide calls go,
    # not about the regional calls: one (ec2:DescribeVpcs) per region keeps them fast.
    monkeypatch.setattr(runner, "task_calls", lambda traffic=None: CATALOG[:1])


class Hosts:
    """A SessionFactory hook that notes the host of every request (service, host)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, session: Any) -> None:
        session.register("before-send", self._log)

    def _log(self, request: Any, **kwargs: Any) -> None:
        host = request.url.split("/")[2]
        self.seen.append((kwargs.get("event_name", "").split(".")[1], host))


def run(text: str, out: Path, hooks: Sequence[Any] = ()) -> Any:
    return collect(config_from_text(text), SessionFactory(max_attempts=2, hooks=list(hooks)), SnapshotWriter(out))


def task_regions(result: Any) -> list[str]:
    return sorted(t["region"] for t in result.manifest["tasks"])


def test_without_regions_aws_region_wins_over_aws_default_region(moto_aws: None, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = run("version: 1\n", tmp_path / "s")
    assert task_regions(result) == ["eu-west-1"]
    assert result.manifest["region_choice"] == {"regions": ["eu-west-1"], "source": "environment variable AWS_REGION",
                                                "home_region": "eu-west-1", "partition": "aws"}


def test_without_regions_aws_default_region_is_used(moto_aws: None, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    result = run("version: 1\n", tmp_path / "s")
    assert task_regions(result) == ["eu-central-1"]
    assert result.manifest["region_choice"]["source"] == "environment variable AWS_DEFAULT_REGION"


def test_without_regions_the_profile_region_is_used(moto_aws: None, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    config = tmp_path / "aws-config"
    config.write_text("[profile audit]\nregion = ap-southeast-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "audit")
    result = run("version: 1\n", tmp_path / "s")
    assert task_regions(result) == ["ap-southeast-2"]
    assert result.manifest["region_choice"]["source"] == "the region of AWS profile 'audit'"


def test_the_config_regions_come_first(moto_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = run("version: 1\nregions: [us-west-2]\n", tmp_path / "s")
    assert task_regions(result) == ["us-west-2"]
    assert result.manifest["region_choice"]["source"] == "the config (regions:)"


@pytest.mark.parametrize("regions", ["", "regions: all\n"])
def test_no_region_anywhere_is_an_input_error_and_leaves_nothing(aws_env: None, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path, regions: str) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    out = tmp_path / "run" / "snapshot"
    with pytest.raises(InputError) as err:
        run("version: 1\n" + regions, out)
    message = str(err.value)
    assert "AWS_REGION" in message and "does not guess us-east-1" in message
    assert not (tmp_path / "run").exists()  # no folder, no .partial left behind


def test_an_unknown_environment_region_is_an_input_error(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-wset-1")
    with pytest.raises(InputError, match=r"'eu-wset-1' \(from environment variable AWS_REGION\) is not a known "
                                         r"AWS region name \(did you mean 'eu-west-1'\?\)"):
        resolve_regions((), "audit.yaml")


def test_regions_in_two_partitions_are_refused() -> None:
    with pytest.raises(InputError, match=r"regions: the regions are in different AWS partitions "
                                         r"\(us-east-1 \(aws\), us-gov-west-1 \(aws-us-gov\)\)"):
        config_from_text("version: 1\nregions: [us-east-1, us-gov-west-1, eu-west-1]\n")


def test_regions_all_in_govcloud_stays_in_govcloud(moto_aws: None, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_REGION", "us-gov-west-1")
    hosts = Hosts()
    result = run("version: 1\nregions: all\n", tmp_path / "s", [hosts])
    # The emulator lists every region of every partition; only GovCloud's are audited.
    assert task_regions(result) == ["us-gov-east-1", "us-gov-west-1"]
    choice = result.manifest["region_choice"]
    assert (choice["regions"], choice["home_region"], choice["partition"]) == ("all", "us-gov-west-1", "aws-us-gov")
    assert "AWS_REGION" in choice["source"]
    account_wide = {h for s, h in hosts.seen if s == "sts"} | {h for s, h in hosts.seen if s == "ec2"
                                                                and "us-gov" not in h}
    assert account_wide == {"sts.us-gov-west-1.amazonaws.com"}
    [acct] = result.manifest["accounts"]
    assert acct["identity"]["Arn"].startswith("arn:aws-us-gov:")
    assert not any("us-east-1" in h for _, h in hosts.seen)


def test_organizations_discovery_in_china_uses_the_china_partition(moto_aws: None, monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    org = boto3.client("organizations", region_name="cn-north-1")
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(AccountName="prod", Email="prod@example.com")["CreateAccountStatus"]["AccountId"]
    hosts = Hosts()
    result = run("version: 1\nregions: [cn-north-1]\norganization_discovery:\n  role_name: AuditorReadOnly\n",
                 tmp_path / "s", [hosts])
    accounts = {a["id"]: a for a in result.manifest["accounts"]}
    assert set(accounts) == {HOME_ACCOUNT, member}
    assert accounts[member]["role_arn"] == f"arn:aws-cn:iam::{member}:role/AuditorReadOnly"
    assert accounts[member]["identity"]["Arn"].startswith(f"arn:aws-cn:sts::{member}:assumed-role/")
    assert {h for s, h in hosts.seen if s in ("organizations", "sts")} == {
        "organizations.cn-northwest-1.amazonaws.com.cn", "sts.cn-north-1.amazonaws.com.cn"}
    assert not any(h.endswith(".amazonaws.com") for _, h in hosts.seen)


def test_collect_prints_the_regions_and_their_source(moto_aws: None, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    (tmp_path / "audit.yaml").write_text("version: 1\n")
    res = CliRunner().invoke(cli, ["collect", "-c", str(tmp_path / "audit.yaml"), "--out", str(tmp_path / "s"),
                                   "--allow-incomplete"])
    assert res.exit_code == 0, res.output
    assert ("regions: eu-west-2 (from environment variable AWS_REGION); partition aws, "
            "account-wide calls in eu-west-2") in res.output


def test_an_injected_hook_sees_only_the_home_region_for_sts(moto_aws: None, tmp_path: Path) -> None:
    # Account-wide calls go to the first configured region, not to a hard-coded us-east-1.
    sts = Injector("before-send.sts.GetCallerIdentity", lambda req, n: None)
    run("version: 1\nregions: [eu-west-1, eu-north-1]\n", tmp_path / "s", [sts])
    assert [r for r, _ in sts.seen] == ["eu-west-1"]


def test_scan_without_any_region_exits_2_and_writes_nothing(aws_env: None, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    cfg = tmp_path / "audit.yaml"
    cfg.write_text("version: 1\n")
    monkeypatch.setattr(sys, "argv", ["auditor", "scan", "-c", str(cfg), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == EXIT_INPUT
    err = capsys.readouterr().err
    assert "no region to audit" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


# -- region knowledge without botocore (auditor.partitions) -----------------------------------

@pytest.fixture
def fresh_partitions() -> Any:
    """auditor.partitions with empty caches, emptied again afterwards (other tests see the
    real endpoint data whatever this test pointed it at)."""
    from auditor import partitions

    for cached in (partitions._partitions, partitions.known_regions, partitions.partition_of):
        cached.cache_clear()
    yield partitions
    for cached in (partitions._partitions, partitions.known_regions, partitions.partition_of):
        cached.cache_clear()


def test_region_names_and_partitions_are_botocores(fresh_partitions: Any) -> None:
    import botocore.session

    session = botocore.session.get_session()
    expected: set[str] = set()
    for partition in session.get_available_partitions():
        expected.update(session.get_available_regions("ec2", partition_name=partition))
    assert fresh_partitions.known_regions() == expected and "us-east-1" in expected

    def botocore_partition(region: str) -> str:
        try:
            return str(session.get_partition_for_region(region))
        except Exception:   # botocore's UnknownRegionError
            return ""

    # Every known region, names only a partition's pattern matches, and names no partition has.
    names = sorted(expected) + ["us-west-9", "cn-south-7", "us-gov-central-3", "us-isob-west-4",
                                "eu-isoe-north-2", "aws-global", "fips-us-gov-west-1", "us-east-1-fips", "mars-1", ""]
    assert {n: fresh_partitions.partition_of(n) for n in names} == {n: botocore_partition(n) for n in names}
    assert fresh_partitions.partition_of("cn-north-1") == "aws-cn" and fresh_partitions.partition_of("mars-1") == ""


@pytest.mark.parametrize("packed", [False, True], ids=["json", "json.gz"])
def test_the_endpoint_data_is_found_where_botocore_looks_first(fresh_partitions: Any, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, packed: bool) -> None:
    import gzip
    import json

    data = {"partitions": [{"partition": "aws-test", "regions": {"xx-test-1": {}, "xx-test-2": {}},
                            "regionRegex": "^xx\\-\\w+\\-\\d+$",
                            "services": {"ec2": {"endpoints": {"xx-test-1": {}, "fips-xx-test-1": {}}}}}]}
    raw = json.dumps(data).encode()
    folder = tmp_path / "models"
    folder.mkdir()
    if packed:
        (folder / "endpoints.json.gz").write_bytes(gzip.compress(raw))
    else:
        (folder / "endpoints.json").write_bytes(raw)
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "absent") + os.pathsep + str(folder))
    assert fresh_partitions.known_regions() == {"xx-test-1"}       # a regional endpoint, listed as a region
    assert fresh_partitions.partition_of("xx-test-2") == "aws-test"
    assert fresh_partitions.partition_of("xx-other-9") == "aws-test"   # by the partition's pattern
    assert fresh_partitions.partition_of("us-east-1") == ""
