"""`auditor plan` and `auditor scan --plan` end to end (auditor/cli_plan.py): what they print,
write and exit with, over a plan alone, a kept snapshot and a live collection (moto), and bad
input: a clear error (exit 2, nothing written) or ERROR findings, never a traceback, never PASS.

The plan sources come from tests/plan_run_fixtures.py (see there why)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.cli_common import (
    EXIT_INCOMPLETE, EXIT_INPUT, EXIT_OK, EXIT_VIOLATIONS, EXIT_VIOLATIONS_INCOMPLETE,
)
from auditor.rules.fixtures import Case, records_for
from conftest import HOME_ACCOUNT, run_auditor
from plan_run_fixtures import ACCOUNT, REGION, use_reader, write_plan
from test_api_plan import PACK
from test_engine import write_snapshot


def _config(tmp_path: Path, fail_on: str = "medium", extra: str = "") -> Path:
    (tmp_path / "cfg" / "pack").mkdir(parents=True, exist_ok=True)
    (tmp_path / "cfg" / "pack" / "plan-check.yaml").write_text(PACK)
    path = tmp_path / "cfg" / "audit.yaml"
    path.write_text(f"version: 1\norganization: Plan check\nregions: [{REGION}]\nrule_packs: [./pack]\n"
                    f"fail_on: {fail_on}\n{extra}")
    return path


def _doc(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "findings.json").read_text())
    return data


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr


def test_plan_alone_prints_the_plan_line_writes_a_bundle_that_verifies(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    use_reader(monkeypatch, igw=True, unsupported=("aws_vpn_gateway", "aws_s3_bucket"))
    plan = write_plan(tmp_path / "in")
    out = tmp_path / "out"
    proc = run_auditor("plan", str(plan), "--out", str(out), "--format", "json", "--format", "sarif")
    _no_traceback(proc)
    assert proc.returncode == EXIT_VIOLATIONS_INCOMPLETE, proc.stderr
    assert (f"plan: {plan} (terraform-plan): 4 resources modelled (3 created, 1 updated), 2 unsupported "
            "(1 network), 0 problems") in proc.stdout
    assert "  unsupported (network: assessment INCOMPLETE): aws_vpn_gateway.x (aws_vpn_gateway, create, line 40)" \
        in proc.stdout
    assert "  unsupported: aws_s3_bucket.x (aws_s3_bucket, create, line 41)" in proc.stdout
    assert "NON-COMPLIANT" in proc.stdout and "INCOMPLETE" in proc.stdout
    assert (out / "findings.sarif").is_file() and (out / "snapshot" / "source" / "plan.json").is_file()
    verified = run_auditor("verify", str(out))
    assert verified.returncode == EXIT_OK, verified.stdout + verified.stderr
    # Re-evaluating the bundle's snapshot gives the same findings, byte for byte.
    again = run_auditor("scan", "--snapshot", str(out / "snapshot"), "--out", str(tmp_path / "again"),
                        "--format", "json", "-q")
    assert again.returncode == proc.returncode
    assert (tmp_path / "again" / "findings.json").read_bytes() == (out / "findings.json").read_bytes()
    assert "plan: " in run_auditor("scan", "--snapshot", str(out / "snapshot"), "--out", str(tmp_path / "a2"),
                                   "--format", "json").stdout   # the summary names the plan on re-evaluation too


@pytest.mark.parametrize(("options", "fail_on", "code"), [
    ({}, "high", EXIT_OK),
    ({}, "medium", EXIT_VIOLATIONS),
    ({"unsupported": ("aws_vpn_gateway",)}, "high", EXIT_INCOMPLETE),
    ({"problem": True}, "medium", EXIT_VIOLATIONS_INCOMPLETE),
])
def test_exit_codes_and_fail_on_are_the_scans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              options: dict[str, Any], fail_on: str, code: int) -> None:
    use_reader(monkeypatch, **options)
    out = tmp_path / "out"
    proc = run_auditor("plan", str(write_plan(tmp_path / "in")), "-c", str(_config(tmp_path)), "--out", str(out),
                       "--format", "json", "--fail-on", fail_on)
    _no_traceback(proc)
    assert proc.returncode == code, proc.stdout + proc.stderr
    if options.get("problem"):
        assert "  problem: aws_subnet.app (line 11): availability_zone: unknown function 'Fn::Nope'" in proc.stdout
        assert not any(f["status"] == "PASS" and f["resource"]["id"] == "subnet-aws_subnet.app"
                       for f in _doc(out)["findings"])


def test_plan_over_a_snapshot_and_scan_plan_are_the_same_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = use_reader(monkeypatch)
    deployed = {"ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-0dep", "CidrBlock": "10.8.0.0/16", "OwnerId": ACCOUNT,
                                               "Tags": [{"Key": "owner", "Value": "net-team"}]}]}}
    base = write_snapshot(tmp_path / "deployed", records_for(Case(rule="", name="deployed", file="", line=0,
                                                                  calls=deployed, failed=(), region=REGION)))
    plan, config = write_plan(tmp_path / "in"), _config(tmp_path)
    one = run_auditor("plan", str(plan), "-c", str(config), "--snapshot", str(base), "--out", str(tmp_path / "p"),
                      "--format", "json")
    two = run_auditor("scan", "--plan", str(plan), "-c", str(config), "--snapshot", str(base),
                      "--out", str(tmp_path / "s"), "--format", "json")
    assert one.returncode == two.returncode == EXIT_VIOLATIONS, one.stderr + two.stderr
    assert calls[0]["account"] == ACCOUNT                  # the snapshot's only account is the plan's
    assert "laid over the snapshot deployed" in one.stdout
    assert _doc(tmp_path / "p")["run"]["plan"]["overlay"]["snapshot"] == "deployed"
    # Same inputs, same snapshot manifest time aside: the same findings but for the manifest digest.
    p, s = _doc(tmp_path / "p"), _doc(tmp_path / "s")
    assert [(f["rule_id"], f["resource"]["id"], f["status"]) for f in p["findings"]] == \
        [(f["rule_id"], f["resource"]["id"], f["status"]) for f in s["findings"]]
    assert {f["resource"]["id"] for f in p["findings"] if f["rule_id"] == "USR-950"} == {"vpc-0dep",
                                                                                        "vpc-aws_vpc.main"}
    assert run_auditor("verify", str(tmp_path / "s")).returncode == EXIT_OK


@pytest.mark.parametrize(("args", "says"), [
    (["plan", "{notplan}"], "not a Terraform plan"),
    (["plan", "{missing}"], "no such plan or template file"),
    (["plan", "{plan}", "--snapshot", "{tmp}", "--collect"], "not both"),
    (["plan", "{plan}", "--parameter", "NoEquals"], "is not KEY=VALUE"),
    (["plan", "{plan}", "--format", "pptx"], "unknown format pptx"),
    (["plan", "{plan}", "--snapshot", "{tmp}/in"], "no manifest.json"),
    (["scan", "--plan", "{notplan}"], "not a Terraform plan"),
])
def test_bad_input_is_a_clear_error_and_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          args: list[str], says: str) -> None:
    use_reader(monkeypatch)
    names = {"plan": write_plan(tmp_path / "in"), "notplan": write_plan(tmp_path / "in", "x.json", b"[1, 2]"),
             "missing": tmp_path / "missing.json", "tmp": tmp_path}
    given = [a.format(**names) for a in args] + ["--out", str(tmp_path / "out")]
    proc = run_auditor(*given)
    _no_traceback(proc)
    assert proc.returncode == EXIT_INPUT, proc.stdout + proc.stderr
    assert says in proc.stderr
    assert not (tmp_path / "out").exists()


def test_collect_lays_the_plan_over_the_live_estate(moto_aws: None, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    calls = use_reader(monkeypatch)
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "owner", "Value": "net-team"}])
    config = _config(tmp_path)
    out = tmp_path / "out"
    proc = run_auditor("plan", str(write_plan(tmp_path / "in")), "--collect", "-c", str(config), "--out", str(out),
                       "--format", "json", cwd=tmp_path)
    _no_traceback(proc)
    doc = _doc(out)
    assert calls[-1]["account"] == HOME_ACCOUNT            # the plan is read for the account collected
    assert doc["run"]["plan"]["account"] == HOME_ACCOUNT and doc["run"]["plan"]["overlay"]["snapshot"] == "collected"
    status = {f["resource"]["id"]: f["status"] for f in doc["findings"] if f["rule_id"] == "USR-950"}
    assert status[vpc] == "PASS" and status["vpc-aws_vpc.main"] == "FAIL"
    assert proc.returncode in (EXIT_VIOLATIONS, EXIT_VIOLATIONS_INCOMPLETE), proc.stderr
    assert (out / "collected" / "manifest.json").is_file()
    verified = run_auditor("verify", str(out))
    assert verified.returncode == EXIT_OK, verified.stdout + verified.stderr
    # `scan --plan` with -c and no snapshot collects too.
    again = run_auditor("scan", "--plan", str(tmp_path / "in" / "plan.json"), "-c", str(config),
                        "--out", str(tmp_path / "s"), "--format", "json", cwd=tmp_path)
    assert again.returncode == proc.returncode, again.stderr
    assert _doc(tmp_path / "s")["run"]["plan"]["overlay"]["snapshot"] == "collected"


def test_the_command_through_clicks_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = use_reader(monkeypatch, problem=True)
    runner = CliRunner()
    shown = runner.invoke(cli, ["plan", "--help"])
    assert shown.exit_code == 0
    for option in ("--snapshot", "--collect", "--account", "--region", "--parameter", "--out", "--format",
                   "--fail-on", "--style", "--sign-key", "--quiet", "--log-format"):
        assert option in shown.output
    result = runner.invoke(cli, ["plan", str(write_plan(tmp_path / "in")), "--out", str(tmp_path / "out"),
                                 "--format", "json", "--account", "222222222222", "--region", "eu-central-1",
                                 "--parameter", "Env=prod", "-q"])
    assert result.exit_code == EXIT_VIOLATIONS_INCOMPLETE, result.output
    assert result.output == ""                              # -q: nothing but errors
    assert calls[-1]["parameters"] == {"Env": "prod"}
    plan = _doc(tmp_path / "out")["run"]["plan"]
    assert (plan["account"], plan["regions"]) == ("222222222222", ["eu-central-1"])
