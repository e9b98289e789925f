"""`auditor.api.run_plan`: a plan or template run as a library call. What it writes (a snapshot
holding the records evaluated and the plan file, findings.json with run.plan, the bundle), that
the bundle verifies and the snapshot re-evaluates to the same bytes, that unknown is never PASS
(problems and unsupported network resources are gaps: incomplete), and how it stops.

The plan sources come from tests/plan_run_fixtures.py (see there why)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.api import ScanResult, ScanStopped, run_plan, run_scan
from auditor.bundle_verify import verify_bundle
from auditor.cli_common import (
    EXIT_INCOMPLETE, EXIT_INPUT, EXIT_OK, EXIT_VIOLATIONS, EXIT_VIOLATIONS_INCOMPLETE,
)
from auditor.config import load_config
from auditor.errors import SnapshotError
from auditor.rules.fixtures import Case, records_for
from auditor.scan import plan_section
from auditor.snapshot.reader import load_snapshot
from auditor.validation import load_schema
from plan_run_fixtures import ACCOUNT, REGION, use_reader, write_plan
from test_engine import write_snapshot

PACK = textwrap.dedent("""\
    pack:
      id: plan-check
      version: 1.0.0
      title: Plan check pack
      description: One rule on what plans declare, so that a plan alone can be complete.
    rules:
      - id: USR-950
        title: VPCs carry an owner tag
        severity: medium
        resource: vpc
        check: {attr: tags.owner, exists: true}
        message: VPC {id} has no owner tag
        rationale: Every network has an owner who answers for it.
        remediation: {console: Tag the VPC with owner.}
        references: [https://docs.aws.amazon.com/vpc/latest/userguide/vpc-tagging.html]
        frameworks:
          nist-800-53-r5: [CM-7]
    """)


def _config(tmp_path: Path, fail_on: str = "medium") -> Any:
    (tmp_path / "cfg" / "pack").mkdir(parents=True, exist_ok=True)
    (tmp_path / "cfg" / "pack" / "plan-check.yaml").write_text(PACK)
    (tmp_path / "cfg" / "audit.yaml").write_text(
        f"version: 1\norganization: Plan check\nregions: [{REGION}]\nrule_packs: [./pack]\nfail_on: {fail_on}\n")
    return load_config(tmp_path / "cfg" / "audit.yaml")


def _schema_valid(doc: dict[str, Any]) -> None:
    jsonschema.validate(doc, load_schema("findings"))


def test_a_plan_alone_is_the_estate_and_its_bundle_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    calls = use_reader(monkeypatch, igw=True)
    plan = write_plan(tmp_path / "in")
    result = run_plan(None, plan, out=tmp_path / "out", formats=["json", "sarif", "junit"])
    assert isinstance(result, ScanResult) and capsys.readouterr() == ("", "")
    assert calls == [{"path": plan, "account": None, "region": None, "parameters": None}]
    doc = result.document
    _schema_valid(json.loads(result.findings.read_text()))
    section = doc["run"]["plan"]
    assert section["kind"] == "terraform-plan" and section["file"] == str(plan) and section["overlay"] is None
    assert section["sha256"] == result.source.sha256 if result.source else False
    assert [(r["address"], r["action"]) for r in section["resources"]] == [
        ("aws_vpc.main", "create"), ("aws_subnet.app", "create"), ("aws_route_table.app", "update"),
        ("aws_internet_gateway.gw", "create")]
    assert section["unsupported"] == [] and section["problems"] == []
    # The snapshot holds the records evaluated and a copy of the plan file, hashed in its manifest.
    snap = load_snapshot(tmp_path / "out" / "snapshot")
    assert (tmp_path / "out" / "snapshot" / "source" / "plan.json").read_bytes() == plan.read_bytes()
    assert snap.manifest["files"]["source/plan.json"] == section["sha256"]
    assert snap.manifest["source"]["copy"] == "source/plan.json"
    assert {r.account for r in snap.records} == {ACCOUNT}
    # The plan's internet gateway route fails the built-in packs; calls no plan answers are ERROR.
    failing = {(f.rule_id, f.resource.id) for f in doc["findings"] if f.status == "FAIL"}
    assert any(rid == "igw-aws_internet_gateway.gw" or rid == "vpc-aws_vpc.main" for _, rid in failing)
    declared = [f.resource.declared for f in doc["findings"] if f.resource.id == "vpc-aws_vpc.main"]
    assert declared and all(d is not None and d["address"] == "aws_vpc.main" for d in declared)
    assert not doc["summary"]["complete"] and result.exit_code == EXIT_VIOLATIONS_INCOMPLETE
    checked = verify_bundle(tmp_path / "out")
    assert checked.ok, (checked.file, checked.reason)


def test_the_plan_runs_snapshot_re_evaluates_to_the_same_findings(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    use_reader(monkeypatch, igw=True, problem=True, unsupported=("aws_vpn_gateway", "aws_s3_bucket"))
    config = _config(tmp_path)
    first = run_plan(config, write_plan(tmp_path / "in"), out=tmp_path / "out", formats=["json"])
    again = run_scan(config, snapshot=tmp_path / "out" / "snapshot", out=tmp_path / "again", formats=["json"])
    assert again.findings.read_bytes() == first.findings.read_bytes()
    assert again.exit_code == first.exit_code == EXIT_VIOLATIONS_INCOMPLETE
    assert verify_bundle(tmp_path / "again").ok


def test_problems_and_unsupported_network_resources_are_gaps_never_pass(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    use_reader(monkeypatch, problem=True, unsupported=("aws_vpn_gateway", "aws_s3_bucket"))
    config = _config(tmp_path, fail_on="critical")   # the VPC's missing owner tag is no violation here
    result = run_plan(config, write_plan(tmp_path / "in"), out=tmp_path / "out", formats=["json"])
    doc = json.loads(result.findings.read_text())
    _schema_valid(doc)
    plan = doc["run"]["plan"]
    assert [(u["address"], u["network"]) for u in plan["unsupported"]] == [
        ("aws_vpn_gateway.x", True), ("aws_s3_bucket.x", False)]
    assert plan["problems"] == [{"address": "aws_subnet.app", "line": 11,
                                 "message": "availability_zone: unknown function 'Fn::Nope'"}]
    gaps = {tuple(g["calls"]): g for g in doc["not_assessed"] if g["calls"][0].startswith("terraform-plan:")}
    assert set(gaps) == {("terraform-plan:aws_subnet.app",), ("terraform-plan:aws_vpn_gateway.x",)}
    assert "unknown function 'Fn::Nope'" in gaps[("terraform-plan:aws_subnet.app",)]["reason"]
    assert "not modelled" in gaps[("terraform-plan:aws_vpn_gateway.x",)]["reason"]
    assert not doc["run"]["snapshot"]["complete"] and not doc["summary"]["complete"]
    assert doc["run"]["accounts"][0]["status"] == "incomplete"
    assert result.exit_code == EXIT_INCOMPLETE
    # The same plan without them is complete (the non-network one is listed only).
    use_reader(monkeypatch, unsupported=("aws_s3_bucket",))
    clean = run_plan(config, write_plan(tmp_path / "in2"), out=tmp_path / "out2", formats=["json"])
    # (Calls no plan answers, auditor.iac.base.NOT_COVERED, are gaps naming no rule of this pack.)
    assert all(not g["calls"][0].startswith("terraform-plan:") and not g["rules"]
               for g in clean.document["not_assessed"])
    assert clean.complete and clean.exit_code == EXIT_OK
    assert [u["network"] for u in clean.document["run"]["plan"]["unsupported"]] == [False]


@pytest.mark.parametrize(("options", "fail_on", "code"), [
    ({}, "critical", EXIT_OK),
    ({}, "medium", EXIT_VIOLATIONS),
    ({"unsupported": ("aws_vpn_gateway",)}, "critical", EXIT_INCOMPLETE),
    ({"problem": True}, "medium", EXIT_VIOLATIONS_INCOMPLETE),
])
def test_exit_codes_are_the_scans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any],
                                  fail_on: str, code: int) -> None:
    use_reader(monkeypatch, **options)
    result = run_plan(_config(tmp_path, fail_on), write_plan(tmp_path / "in"), out=tmp_path / "out", formats=["json"])
    assert result.exit_code == code
    fails = [f for f in result.document["findings"] if f.status == "FAIL"]
    assert [(f.rule_id, f.resource.id) for f in fails] == [("USR-950", "vpc-aws_vpc.main")]


def test_a_plan_laid_over_a_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_reader(monkeypatch)
    deployed = {"ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-0dep", "CidrBlock": "10.8.0.0/16", "OwnerId": ACCOUNT,
                                               "Tags": [{"Key": "owner", "Value": "net-team"}]}]}}
    base = write_snapshot(tmp_path / "deployed", records_for(Case(rule="", name="deployed", file="", line=0,
                                                                  calls=deployed, failed=(), region=REGION)))
    config = _config(tmp_path)
    result = run_plan(config, write_plan(tmp_path / "in"), snapshot=base, out=tmp_path / "out", formats=["json"])
    doc = json.loads(result.findings.read_text())
    _schema_valid(doc)
    assert doc["run"]["plan"]["overlay"] == {"snapshot": "deployed",
                                             "manifest_sha256": load_snapshot(base).manifest_sha256}
    assert load_snapshot(tmp_path / "out" / "snapshot").manifest["source"]["overlay"] == doc["run"]["plan"]["overlay"]
    status = {f["resource"]["id"]: f["status"] for f in doc["findings"] if f["rule_id"] == "USR-950"}
    assert status == {"vpc-0dep": "PASS", "vpc-aws_vpc.main": "FAIL"}   # deployed and planned, together
    assert result.exit_code == EXIT_VIOLATIONS
    assert verify_bundle(tmp_path / "out").ok
    again = run_scan(config, snapshot=tmp_path / "out" / "snapshot", out=tmp_path / "again", formats=["json"])
    assert again.findings.read_bytes() == result.findings.read_bytes()


def test_what_stops_a_plan_run_before_anything_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_reader(monkeypatch)
    not_plan = write_plan(tmp_path / "in", "notes.json", b'{"hello": "world"}')
    with pytest.raises(ScanStopped) as stopped:
        run_plan(None, not_plan, out=tmp_path / "o1")
    assert stopped.value.code == EXIT_INPUT and "not a Terraform plan" in stopped.value.message
    assert not (tmp_path / "o1").exists()
    with pytest.raises(ScanStopped) as missing:
        run_plan(None, tmp_path / "nowhere.json", out=tmp_path / "o2")
    assert missing.value.code == EXIT_INPUT and "no such plan or template file" in missing.value.message
    assert not (tmp_path / "o2").exists()
    plan = write_plan(tmp_path / "in")
    with pytest.raises(ScanStopped) as both:
        run_plan(None, plan, snapshot=tmp_path, collect=True, out=tmp_path / "o3")
    assert both.value.code == EXIT_INPUT and not (tmp_path / "o3").exists()
    with pytest.raises(ScanStopped) as bad_snapshot:
        run_plan(None, plan, snapshot=tmp_path / "in", out=tmp_path / "o4")
    assert bad_snapshot.value.code == EXIT_INPUT and not (tmp_path / "o4").exists()


def test_an_edited_plan_section_is_a_snapshot_error_and_the_copy_is_checked(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    use_reader(monkeypatch)
    run_plan(None, write_plan(tmp_path / "in"), out=tmp_path / "out", formats=["json"])
    manifest = dict(load_snapshot(tmp_path / "out" / "snapshot").manifest)
    assert plan_section(manifest) is not None
    for edit in ({"problems": "none"}, {"kind": "pulumi"}, {"sha256": "sha256:" + "0" * 64},
                 {"unsupported": [{"address": "a", "type": "t", "action": "create", "line": 1, "network": "no"}]}):
        with pytest.raises(SnapshotError):
            plan_section({**manifest, "source": {**manifest["source"], **edit}})
    # The copy of the plan file is hashed like every file: changing it fails verification.
    (tmp_path / "out" / "snapshot" / "source" / "plan.json").write_bytes(b"{}")
    checked = verify_bundle(tmp_path / "out")
    assert not checked.ok and checked.file == "snapshot/source/plan.json"


def test_verify_checks_the_collected_snapshot_is_the_one_laid_under(tmp_path: Path) -> None:
    from auditor.bundle_verify import COLLECTED, _check_collected

    kept = write_snapshot(tmp_path / COLLECTED, records_for(Case(rule="", name="c", file="", line=0, calls={},
                                                                 failed=(), region=REGION)))
    lines: list[str] = []
    right = {"source": {"overlay": {"snapshot": COLLECTED, "manifest_sha256": load_snapshot(kept).manifest_sha256}}}
    assert _check_collected(tmp_path, right, lambda line, mark="ok": lines.append(line)) is None and lines
    wrong = {"source": {"overlay": {"snapshot": COLLECTED, "manifest_sha256": "sha256:" + "0" * 64}}}
    bad = _check_collected(tmp_path, wrong, lambda line, mark="ok": None)
    assert bad is not None and bad[0] == "collected/manifest.json" and "not the snapshot" in bad[1]
    elsewhere = {"source": {"overlay": {"snapshot": "deployed", "manifest_sha256": "sha256:" + "0" * 64}}}
    assert _check_collected(tmp_path, elsewhere, lambda line, mark="ok": None) is None   # kept outside the bundle
