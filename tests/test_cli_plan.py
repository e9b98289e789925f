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
    assert "collected: the live snapshot the plan was laid over, verified" in verified.stdout
    assert "collected/records" not in verified.stdout          # evidence, not a report left un-derived
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


# -- with the real readers (auditor/iac/terraform.py, cloudformation.py, load.py) -----------------

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "iac"
TF_PLAN = FIXTURES / "terraform" / "igw_public_subnet.json"
CFN_TEMPLATE = FIXTURES / "cloudformation" / "public_vpc.yaml"
BAD_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
  Subnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.0.1.0/24
      MapPublicIpOnLaunch: {"Fn::Nope": [true]}
  Other:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref MissingVpc
      CidrBlock: 10.0.2.0/24
  Bucket:
    Type: AWS::S3::Bucket
"""


def test_a_terraform_plan_in_a_real_process(tmp_path: Path) -> None:
    import sys

    import jsonschema

    from auditor.validation import load_schema

    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "auditor", "plan", str(TF_PLAN), "--out", str(out),
                           "--format", "json,sarif"], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    _no_traceback(proc)
    doc = _doc(out)
    jsonschema.validate(doc, load_schema("findings"))
    assert proc.returncode == EXIT_VIOLATIONS_INCOMPLETE, proc.stderr   # an internet gateway; calls no plan answers
    plan = doc["run"]["plan"]
    assert plan["kind"] == "terraform-plan" and plan["file"] == str(TF_PLAN) and plan["overlay"] is None
    assert f"plan: {TF_PLAN} (terraform-plan): {len(plan['resources'])} resources modelled" in proc.stdout
    assert (out / "snapshot" / "source" / TF_PLAN.name).read_bytes() == TF_PLAN.read_bytes()
    assert any(f["status"] == "FAIL" and f["resource"].get("declared", {}).get("file") == str(TF_PLAN)
               for f in doc["findings"])
    assert run_auditor("verify", str(out)).returncode == EXIT_OK
    again = run_auditor("scan", "--snapshot", str(out / "snapshot"), "--out", str(tmp_path / "again"),
                        "--format", "json", "-q")
    assert (tmp_path / "again" / "findings.json").read_bytes() == (out / "findings.json").read_bytes()
    assert again.returncode == proc.returncode


def test_a_cloudformation_template_with_its_region(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_auditor("plan", str(CFN_TEMPLATE), "--region", REGION, "--account", ACCOUNT, "--out", str(out),
                       "--format", "json")
    _no_traceback(proc)
    assert proc.returncode in (EXIT_INCOMPLETE, EXIT_VIOLATIONS_INCOMPLETE), proc.stderr
    plan = _doc(out)["run"]["plan"]
    assert (plan["kind"], plan["account"], plan["regions"]) == ("cloudformation", ACCOUNT, [REGION])
    assert run_auditor("verify", str(out)).returncode == EXIT_OK


def test_unknown_intrinsics_and_unresolved_references_are_errors_never_pass(tmp_path: Path) -> None:
    template = tmp_path / "bad.yaml"
    template.write_text(BAD_TEMPLATE)
    out = tmp_path / "out"
    proc = run_auditor("plan", str(template), "--region", REGION, "--out", str(out), "--format", "json")
    _no_traceback(proc)
    assert proc.returncode in (EXIT_INCOMPLETE, EXIT_VIOLATIONS_INCOMPLETE), proc.stderr
    doc = _doc(out)
    problems = {p["address"]: p["message"] for p in doc["run"]["plan"]["problems"]}
    assert "Fn::Nope" in problems["Subnet"] and "MissingVpc" in problems["Other"]
    assert "  problem: Subnet (line 12): " in proc.stdout and "  problem: Other (line 16): " in proc.stdout
    assert [u["address"] for u in doc["run"]["plan"]["unsupported"]] == ["Bucket"]
    gaps = [g for g in doc["not_assessed"] if g["calls"][0].startswith("cloudformation:")]
    assert sorted(g["calls"][0] for g in gaps) == ["cloudformation:Other", "cloudformation:Subnet"]
    public_ip = [f for f in doc["findings"] if f["rule_id"] == "PN-007" and f["resource"]["id"] == "subnet-Subnet"]
    assert public_ip and all(f["status"] == "ERROR" and "Fn::Nope" in f["message"] for f in public_ip)
    assert not doc["summary"]["complete"]


@pytest.mark.parametrize(("text", "extra", "says"), [
    ('{"hello": 1}', [], "not a Terraform plan in JSON"),
    ('{"format_version": "2.0", "planned_values": {}, "resource_changes": []}', [], "format_version '2.0'"),
    ("", [], "is empty"),
    ("Resources: [", [], "neither JSON nor YAML"),
    (BAD_TEMPLATE, [], "give --region"),
])
def test_files_that_are_not_plans_exit_2_with_the_reason(tmp_path: Path, text: str, extra: list[str],
                                                         says: str) -> None:
    path = tmp_path / "input.json"
    path.write_text(text)
    proc = run_auditor("plan", str(path), "--out", str(tmp_path / "out"), *extra)
    _no_traceback(proc)
    assert proc.returncode == EXIT_INPUT and says in proc.stderr and str(path) in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_reader_defect_is_said_as_one_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import auditor.iac.load

    def broken(path: Path, **options: Any) -> Any:
        raise KeyError("AWS::EC2::Something")

    monkeypatch.setattr(auditor.iac.load, "read_source", broken)
    proc = run_auditor("plan", str(TF_PLAN), "--out", str(tmp_path / "out"))
    _no_traceback(proc)
    assert proc.returncode == EXIT_INPUT and "a defect of this tool" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_signed_plan_bundle_and_a_second_run_into_the_same_folder(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

    use_reader(monkeypatch)
    key = Ed25519PrivateKey.generate()
    (tmp_path / "k.pem").write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    (tmp_path / "k.pub").write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    plan, out = write_plan(tmp_path / "in"), tmp_path / "out"
    proc = run_auditor("plan", str(plan), "--out", str(out), "--format", "json", "--sign-key", str(tmp_path / "k.pem"))
    assert proc.returncode == EXIT_VIOLATIONS_INCOMPLETE and (out / "bundle.sig").is_file(), proc.stderr
    verified = run_auditor("verify", str(out), "--public-key", str(tmp_path / "k.pub"))
    assert verified.returncode == EXIT_OK and "VERIFIED (signed" in verified.stdout
    before = (out / "findings.json").read_bytes()
    again = run_auditor("plan", str(plan), "--out", str(out), "--format", "json")
    _no_traceback(again)
    assert again.returncode == EXIT_INPUT and "already exists" in again.stderr     # evidence is never overwritten
    assert (out / "findings.json").read_bytes() == before
    assert run_auditor("verify", str(out), "--public-key", str(tmp_path / "k.pub")).returncode == EXIT_OK
