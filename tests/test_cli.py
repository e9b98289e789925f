"""The command line end to end: permissions in sync, collect/inventory on an emulated account."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from auditor.cli import cli
from auditor.collect.catalog import ACCOUNT_CALLS, CATALOG, OPTIONAL_CALLS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


def test_permissions_policy_is_generated_from_the_catalog_and_checked_in() -> None:
    out = CliRunner().invoke(cli, ["permissions"])
    assert out.exit_code == 0
    policy = json.loads(out.output)
    actions = policy["Statement"][0]["Action"]
    declared = {s.permission for s in CATALOG + OPTIONAL_CALLS + ACCOUNT_CALLS}   # optional: cloudwatch (costs.traffic)
    caller_only = {"sts:AssumeRole", "organizations:ListAccounts", "organizations:ListAccountsForParent",
                   "organizations:ListOrganizationalUnitsForParent", "organizations:ListTagsForResource"}
    assert set(actions) == declared - {"sts:GetCallerIdentity"} - caller_only
    assert all(re.fullmatch(r"[a-z0-9-]+:(Describe|List|Get|Search)[A-Za-z]+", a) for a in actions)
    assert policy["Statement"][0]["Resource"] == "*"
    # docs/iam-policy.json is what users copy: it must be exactly what the command prints.
    assert (REPO / "docs" / "iam-policy.json").read_text() == out.output
    caller = CliRunner().invoke(cli, ["permissions", "--caller"])
    assert (REPO / "docs" / "iam-policy-caller.json").read_text() == caller.output
    assert json.loads(caller.output)["Statement"][0]["Action"] == ["sts:AssumeRole"]
    # every Organizations call discovery makes (ListAccounts, OU and tag lookups) is the caller's
    assert set(json.loads(caller.output)["Statement"][1]["Action"]) == caller_only - {"sts:AssumeRole"}


def test_collect_then_inventory_on_an_emulated_account(aws_env: None, tmp_path: Path) -> None:
    cfg = tmp_path / "audit.yaml"
    cfg.write_text("version: 1\nregions: [eu-west-1]\n")
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="eu-west-1")
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")
        runner = CliRunner()
        result = runner.invoke(cli, ["collect", "-c", str(cfg), "--out", str(tmp_path / "snap")])
    # moto lacks the VPC Block Public Access APIs: the run must say it is incomplete (exit 3).
    assert result.exit_code == 3, result.output
    assert "assessment INCOMPLETE" in result.output
    manifest = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    assert manifest["accounts"][0]["identity"]["Account"] == "123456789012"
    inv = CliRunner().invoke(cli, ["inventory", str(tmp_path / "snap")])
    assert inv.exit_code == 3, inv.output         # an incomplete snapshot is never "done" (exit 0)
    assert "Snapshot INCOMPLETE" in inv.output
    assert re.search(r"subnet\s+4\b", inv.output)  # the default VPC's 3 subnets + ours
    assert "ec2:DescribeVpcBlockPublicAccessOptions  [unsupported] NotImplemented" in inv.output
    inv_json = CliRunner().invoke(cli, ["inventory", "--json", str(tmp_path / "snap")])
    assert inv_json.exit_code == 3
    as_json = json.loads(inv_json.output)
    vpcs = [c for c in as_json["counts"] if c["type"] == "vpc"]
    assert vpcs == [{"account": "123456789012", "region": "eu-west-1", "type": "vpc", "count": 2}]


def test_inventory_of_a_tampered_snapshot_names_the_file(aws_env: None, tmp_path: Path) -> None:
    cfg = tmp_path / "audit.yaml"
    cfg.write_text("version: 1\nregions: [eu-west-1]\n")
    with mock_aws():
        CliRunner().invoke(cli, ["collect", "-c", str(cfg), "--out", str(tmp_path / "snap"), "--quiet"])
    target = next((tmp_path / "snap" / "records").rglob("DescribeSubnets.json"))
    target.write_text(target.read_text().replace("10.0", "10.9", 1) if "10.0" in target.read_text()
                      else target.read_text() + " ")
    inv = CliRunner().invoke(cli, ["inventory", str(tmp_path / "snap")])
    assert inv.exit_code == 2
    assert "DescribeSubnets.json: SHA-256 does not match the manifest" in inv.output


def test_collect_refuses_to_overwrite_evidence(aws_env: None, tmp_path: Path) -> None:
    cfg = tmp_path / "audit.yaml"
    cfg.write_text("version: 1\nregions: [eu-west-1]\n")
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "keep.txt").write_text("earlier evidence")
    result = CliRunner().invoke(cli, ["collect", "-c", str(cfg), "--out", str(tmp_path / "snap")])
    assert result.exit_code == 2 and "already exists and is not empty" in result.output
    assert (tmp_path / "snap" / "keep.txt").read_text() == "earlier evidence"


def test_scan_collects_evaluates_and_fails_on_violations(aws_env: None, tmp_path: Path) -> None:
    cfg = tmp_path / "audit.yaml"
    cfg.write_text("version: 1\nregions: [eu-west-1]\nscope: {tags: {data-classification: [pci]}}\n")
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="eu-west-1")
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16", TagSpecifications=[{
            "ResourceType": "vpc", "Tags": [{"Key": "data-classification", "Value": "pci"}]}])["Vpc"]["VpcId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        result = CliRunner().invoke(cli, ["scan", "-c", str(cfg), "--out", str(tmp_path / "run")])
    # a critical FAIL and gaps: 4 (violations AND incomplete), never 1 (violations, complete)
    assert result.exit_code == 4, result.output
    assert "NON-COMPLIANT" in result.output and "NOT ASSESSED" in result.output
    doc = json.loads((tmp_path / "run" / "findings.json").read_text())
    by = {(f["rule_id"], f["resource"]["id"]): f for f in doc["findings"]}
    assert by[("PN-001", vpc)]["status"] == "FAIL" and igw in by[("PN-001", vpc)]["message"]
    # moto lacks the VPC Block Public Access APIs: not assessed (ERROR), never a pass
    bpa = by[("PN-011", "*")]
    assert bpa["status"] == "ERROR" and "DescribeVpcBlockPublicAccessOptions" in bpa["message"]
    assert not doc["summary"]["complete"]
    assert (tmp_path / "run" / "snapshot" / "manifest.json").is_file()
    # the default VPC is not tagged: out of scope, counted, no findings
    assert doc["run"]["scope"]["resources_out_of_scope"]["vpc"] == 1
    assert not any(f["resource"]["vpc_id"] not in ("", vpc) for f in doc["findings"])


def test_main_turns_an_interrupt_into_exit_130_and_keeps_click_usage_errors(monkeypatch: pytest.MonkeyPatch,
                                                                            capsys: pytest.CaptureFixture[str]
                                                                            ) -> None:
    """click alone would exit 1 on Ctrl-C, which a pipeline reads as 'violations found'."""
    import click

    import auditor.cli as cli_module

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise click.exceptions.Abort()

    monkeypatch.setattr(cli_module.cli, "main", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main()
    assert exit_info.value.code == 130 and "interrupted" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.setattr(sys, "argv", ["auditor", "no-such-command"])
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main()
    assert exit_info.value.code == 2 and "No such command" in capsys.readouterr().err


def test_every_cli_print_goes_through_the_terminal_safe_echo() -> None:
    """One place neutralises hostile text (auditor/console.py): no command module prints
    around it."""
    for module in sorted((REPO / "auditor").glob("cli*.py")):
        text = module.read_text()
        assert not re.search(r"\bclick\.(echo|secho)\(|\bprint\(", text), f"{module.name} prints around console.echo"
