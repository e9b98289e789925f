"""The engine, findings.json and `auditor scan`: scope, waivers, account-regions that could
not be read, for_each, control status, determinism and exit codes."""

from __future__ import annotations

import gc
import json
import subprocess
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.config import Scope
from auditor.model import build_model
from auditor.results import RunInfo, build_document, dumps
from auditor.rules.engine import CollectorPaused, evaluate_rules, expected_regions
from auditor.rules.fixtures import ACCOUNT, REGION, Case, records_for
from auditor.rules.packs import PackSet, load_packs
from auditor.rules.waivers import waivers_from_text
from auditor.snapshot.records import CallError, CallRecord
from auditor.snapshot.writer import SnapshotWriter
from auditor.validation import load_schema
from conftest import run_auditor

PACK = textwrap.dedent("""
    pack:
      id: test-engine
      version: 1.2.3
      title: Engine test pack
      description: Rules for the engine tests.
      parameters:
        services: {type: list, items: string, default: [sqs, sts, kms]}
    rules:
      - id: TEN-001
        title: No internet gateway is attached
        severity: critical
        resource: vpc
        implements: [NET-GW-01]
        check: {attr: internet_gateway_ids, empty: true}
        message: "VPC {id} has internet gateway(s) {internet_gateway_ids}"
        rationale: A gateway is a way to the internet.
        remediation: {cli: aws ec2 detach-internet-gateway}
        references: ["https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html"]
        frameworks: {nist-800-53-r5: [SC-7], pci-dss-4.0: ["1.3.1"]}
      - id: TEN-002
        title: Each required interface endpoint exists
        severity: high
        resource: vpc
        for_each: "${services}"
        where: {attr: is_default, eq: false}
        check: {attr: interface_endpoint_services, contains: "${item}"}
        message: "VPC {id} has no interface endpoint for {item}"
        rationale: Without an endpoint traffic to the service needs the internet.
        remediation: {cli: aws ec2 create-vpc-endpoint}
        references: ["https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html"]
        frameworks: {nist-800-53-r5: [SC-7]}
      - id: TEN-003
        title: Subnets do not map public IPv4 addresses on launch
        severity: low
        resource: subnet
        check: {attr: map_public_ip_on_launch, eq: false}
        message: "Subnet {id} maps public IPs"
        rationale: Public addresses expose instances.
        remediation: {cli: aws ec2 modify-subnet-attribute --no-map-public-ip-on-launch}
        references: ["https://docs.aws.amazon.com/vpc/latest/userguide/subnet-public-ip.html"]
        frameworks: {pci-dss-4.0: ["1.4.4"]}
""")

VPCS = {"Vpcs": [
    {"VpcId": "vpc-pci", "CidrBlock": "10.0.0.0/16", "Tags": [{"Key": "data", "Value": "pci"}]},
    {"VpcId": "vpc-other", "CidrBlock": "10.1.0.0/16", "Tags": [{"Key": "data", "Value": "none"}]},
    {"VpcId": "vpc-default", "CidrBlock": "172.31.0.0/16", "IsDefault": True, "Tags": [{"Key": "data", "Value": "pci"}]},
]}
CALLS: dict[str, Any] = {
    "ec2:DescribeVpcs": VPCS,
    "ec2:DescribeInternetGateways": {"InternetGateways": [
        {"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": "vpc-pci", "State": "available"}]},
        {"InternetGatewayId": "igw-2", "Attachments": [{"VpcId": "vpc-other", "State": "available"}]}]},
    "ec2:DescribeVpcEndpoints": {"VpcEndpoints": [
        {"VpcEndpointId": "vpce-1", "VpcId": "vpc-pci", "ServiceName": "com.amazonaws.eu-west-1.sqs",
         "VpcEndpointType": "Interface", "State": "available"}]},
    "ec2:DescribeSubnets": {"Subnets": [
        {"SubnetId": "subnet-pci", "VpcId": "vpc-pci", "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "eu-west-1a",
         "MapPublicIpOnLaunch": True},
        {"SubnetId": "subnet-other", "VpcId": "vpc-other", "CidrBlock": "10.1.1.0/24",
         "AvailabilityZone": "eu-west-1a", "MapPublicIpOnLaunch": True}]},
}
SCOPE = Scope(tags=(("data", ("pci",)),))
TODAY = date(2026, 3, 1)


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> PackSet:
    folder = tmp_path_factory.mktemp("packs")
    (folder / "engine.yaml").write_text(PACK)
    loaded = load_packs([folder], builtin=False)
    return loaded


def records(calls: dict[str, Any] = CALLS, failed: tuple[str, ...] = (), region: str = REGION) -> list[CallRecord]:
    return records_for(Case(rule="", name="engine", file="", line=0, calls=calls, failed=failed, region=region))


def by_key(findings: Any) -> dict[str, tuple[str, str]]:
    return {f"{f.rule_id} {f.resource.id}" + (f"[{f.item}]" if f.item else ""): (f.status, f.message)
            for f in findings}


def test_scope_for_each_where_and_counts(packs: PackSet) -> None:
    ev = evaluate_rules(build_model(records()), packs, SCOPE, today=TODAY)
    got = by_key(ev.findings)
    assert got["TEN-001 vpc-pci"] == ("FAIL", "VPC vpc-pci has internet gateway(s) igw-1")
    assert got["TEN-001 vpc-default"][0] == "PASS"
    assert "TEN-001 vpc-other" not in got                       # out of scope: no finding ...
    assert ev.out_of_scope == {"subnet": 1, "vpc": 1}            # ... but counted
    assert ev.in_scope == {"subnet": 1, "vpc": 2}
    # for_each: one finding per element, each with its own fingerprint and message
    assert got["TEN-002 vpc-pci[sqs]"][0] == "PASS"
    assert got["TEN-002 vpc-pci[kms]"] == ("FAIL", "VPC vpc-pci has no interface endpoint for kms")
    assert got["TEN-002 vpc-default[sts]"][0] == "NOT_APPLICABLE"    # where is false
    prints = {f.fingerprint for f in ev.findings}
    assert len(prints) == len(ev.findings)
    # a subnet inherits the scope of its VPC
    assert got["TEN-003 subnet-pci"][0] == "FAIL" and "TEN-003 subnet-other" not in got


def test_fingerprints_are_stable_across_status_changes(packs: PackSet) -> None:
    calls = dict(CALLS, **{"ec2:DescribeInternetGateways": {"InternetGateways": []}})
    before = {f.resource.id: f for f in evaluate_rules(build_model(records()), packs, SCOPE, today=TODAY).findings
              if f.rule_id == "TEN-001"}
    after = {f.resource.id: f for f in evaluate_rules(build_model(records(calls)), packs, SCOPE, today=TODAY).findings
             if f.rule_id == "TEN-001"}
    assert before["vpc-pci"].status == "FAIL" and after["vpc-pci"].status == "PASS"
    assert before["vpc-pci"].fingerprint == after["vpc-pci"].fingerprint


def test_a_failed_listing_is_an_error_for_the_account_region(packs: PackSet) -> None:
    ev = evaluate_rules(build_model(records(failed=("ec2:DescribeSubnets",))), packs, SCOPE, today=TODAY)
    got = by_key(ev.findings)
    status, message = got["TEN-003 *"]
    assert status == "ERROR"
    assert "subnet resources could not be listed" in message and "ec2:DescribeSubnets (AccessDenied" in message
    assert [(g.account, g.region, g.calls, g.rules) for g in ev.gaps] == [
        (ACCOUNT, REGION, ("ec2:DescribeSubnets",), ("TEN-003",))]
    assert ev.gaps[0].reason.startswith("ec2:DescribeSubnets (AccessDenied")
    assert got["TEN-001 vpc-pci"][0] == "FAIL"          # other rules are unaffected


def test_unknown_vpcs_make_scope_undecidable_never_pass(packs: PackSet) -> None:
    ev = evaluate_rules(build_model(records(failed=("ec2:DescribeVpcs",))), packs, SCOPE, today=TODAY)
    statuses = {(f.rule_id, f.resource.id, f.status) for f in ev.findings}
    assert statuses == {("TEN-001", "*", "ERROR"), ("TEN-002", "*", "ERROR"), ("TEN-003", "*", "ERROR")}
    assert all("scope could not be decided" in f.message for f in ev.findings)
    assert ev.scope_undecided == {"subnet": 2, "vpc": 3}   # pages received before the failure


def test_an_account_that_could_not_be_read_is_an_error_per_region(packs: PackSet) -> None:
    recs = records() + [CallRecord("222222222222", REGION, "ec2", "DescribeVpcs", {}, (),
                                   CallError("not_attempted", "NotAttempted", "role could not be assumed"))]
    manifest = {"regions": [REGION, "us-east-1"],
                "accounts": [{"id": ACCOUNT, "regions": [REGION]},
                             {"id": "222222222222", "regions": [], "problem": "AccessDenied on sts:AssumeRole"}]}
    model = build_model(recs)
    ev = evaluate_rules(model, packs, SCOPE, today=TODAY, expected=expected_regions(model, manifest),
                        account_problems={"222222222222": "AccessDenied on sts:AssumeRole"})
    errors = sorted((f.rule_id, f.resource.region) for f in ev.findings if f.resource.account == "222222222222")
    assert errors == [(r, reg) for r in ("TEN-001", "TEN-002", "TEN-003") for reg in (REGION, "us-east-1")]
    assert all("AccessDenied on sts:AssumeRole" in f.message for f in ev.findings if f.resource.id == "*")


WAIVERS = textwrap.dedent("""
    version: 1
    waivers:
      - id: WVR-1
        rules: [TEN-001]
        resources: [{id: vpc-pci}]
        justification: The partner VPN terminates here until the migration in Q3.
        approver: ciso@example.com
        ticket: RISK-1
        created: 2026-01-01
        expires: 2026-06-30
      - id: WVR-2
        rules: ["TEN-00*"]
        resources: [{id: subnet-pci}]
        justification: Legacy subnet being retired under change CHG-2 this quarter.
        approver: ciso@example.com
        ticket: RISK-2
        created: 2025-06-01
        expires: 2026-02-01
      - id: WVR-3
        rules: [TEN-002]
        resources: [{id: vpc-nowhere}]
        justification: A VPC that no longer exists; the waiver should be cleaned up.
        approver: ciso@example.com
        ticket: RISK-3
        created: 2026-01-01
        expires: 2026-12-31
""")


def test_waivers_active_expired_and_stale(packs: PackSet) -> None:
    waivers = waivers_from_text(WAIVERS)
    model = build_model(records())
    ev = evaluate_rules(model, packs, SCOPE, today=TODAY, waivers=waivers)
    got = {f"{f.rule_id} {f.resource.id}": f for f in ev.findings}
    waived = got["TEN-001 vpc-pci"]
    assert waived.status == "WAIVED" and waived.waiver is not None and waived.waiver["id"] == "WVR-1"
    assert "waived by WVR-1 (ticket RISK-1" in waived.message
    expired = got["TEN-003 subnet-pci"]
    assert expired.status == "FAIL" and "waiver WVR-2 expired on 2026-02-01" in expired.message
    assert ev.waivers_used == {"WVR-1", "WVR-2"}
    doc = build_document(ev, packs, RunInfo(manifest={}, manifest_sha256="sha256:" + "0" * 64, waivers=waivers,
                                            scope=SCOPE))
    status = {w["id"]: w["status"] for w in doc["waivers"]}
    assert status == {"WVR-1": "active", "WVR-2": "expired", "WVR-3": "stale"}
    assert doc["summary"]["stale_waivers"] == 1
    assert all(":" in w["source"] and "/" not in w["source"] for w in doc["waivers"])   # no machine path


@pytest.fixture()
def collector_state() -> Any:
    """Whatever a test does to the garbage collector, the next test finds it as it was."""
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("enabled", [True, False], ids=["collector-on", "collector-off"])
def test_an_evaluation_leaves_the_garbage_collector_as_it_found_it(packs: PackSet, enabled: bool,
                                                                   collector_state: Any) -> None:
    waivers = waivers_from_text(WAIVERS)
    model = build_model(records())
    gc.enable() if enabled else gc.disable()
    evaluate_rules(model, packs, SCOPE, today=TODAY, waivers=waivers)
    assert gc.isenabled() is enabled
    # A "date" that is not one: judging the waiver of TEN-001 vpc-pci raises mid-evaluation.
    with pytest.raises(TypeError):
        evaluate_rules(model, packs, SCOPE, today="2026-03-01", waivers=waivers)  # type: ignore[arg-type]
    assert gc.isenabled() is enabled


@pytest.mark.parametrize("enabled", [True, False], ids=["collector-on", "collector-off"])
def test_the_collector_is_paused_inside_the_block_only(enabled: bool, collector_state: Any) -> None:
    gc.enable() if enabled else gc.disable()
    with CollectorPaused():
        assert not gc.isenabled()
    assert gc.isenabled() is enabled
    with pytest.raises(LookupError), CollectorPaused():
        assert not gc.isenabled()
        raise LookupError("the evaluation failed")
    assert gc.isenabled() is enabled


def test_the_document_validates_and_is_byte_identical(packs: PackSet) -> None:
    manifest = {"started": "2026-03-01T10:00:00Z", "finished": "2026-03-01T10:01:00Z", "complete": True,
                "regions": [REGION], "accounts": [{"id": ACCOUNT, "name": "a", "regions": [REGION]}]}
    texts = []
    for order in (1, -1):
        model = build_model(records()[::order])
        ev = evaluate_rules(model, packs, SCOPE, today=TODAY)
        texts.append(dumps(build_document(ev, packs, RunInfo(manifest=manifest, scope=SCOPE,
                                                                 manifest_sha256="sha256:" + "a" * 64))))
    assert texts[0] == texts[1]
    doc = json.loads(texts[0])
    jsonschema.validate(doc, load_schema("findings"))
    # control status: requirements, never a percentage; FAIL if any rule fails anywhere
    nist = next(fw for fw in doc["frameworks"] if fw["id"] == "nist-800-53-r5")
    [sc7] = nist["controls"]
    assert sc7["status"] == "FAIL" and sc7["rules"] == ["TEN-001", "TEN-002"]
    pci = {c["id"]: c for c in next(fw for fw in doc["frameworks"] if fw["id"] == "pci-dss-4.0")["controls"]}
    assert pci["1.3.1"]["status"] == "FAIL"
    # A test pack's citations have no row in the mapping review table: the pack author's, not reviewed
    # (even TEN-001's, which implements a catalogue check).
    assert pci["1.4.4"]["authorities"] == ["pack-author"]
    assert pci["1.3.1"]["authorities"] == ["pack-author"]
    assert all(not m["reviewed"] and m["authorities"] == ["pack-author"] for m in pci["1.3.1"]["mappings"])


def test_a_control_passes_only_when_all_its_rules_pass(packs: PackSet) -> None:
    calls = dict(CALLS, **{"ec2:DescribeInternetGateways": {"InternetGateways": []},
                           "ec2:DescribeVpcs": {"Vpcs": [VPCS["Vpcs"][0]]}})
    ev = evaluate_rules(build_model(records(calls)), packs, SCOPE, today=TODAY)
    doc = build_document(ev, packs, RunInfo(manifest={}, manifest_sha256="sha256:" + "0" * 64, scope=SCOPE))
    nist = {c["id"]: c for c in next(fw for fw in doc["frameworks"] if fw["id"] == "nist-800-53-r5")["controls"]}
    assert nist["SC-7"]["counts"]["PASS"] == 2 and nist["SC-7"]["counts"]["FAIL"] == 2  # TEN-002 sts, kms
    assert nist["SC-7"]["status"] == "FAIL"


# -- the command -----------------------------------------------------------------------

def write_snapshot(folder: Path, recs: list[CallRecord]) -> Path:
    writer = SnapshotWriter(folder)
    for r in recs:
        writer.add(r)
    return writer.finish({"started": "2026-03-01T10:00:00Z", "finished": "2026-03-01T10:01:00Z",
                          "regions": [REGION], "accounts": [{"id": ACCOUNT, "name": "t", "regions": [REGION]}],
                          "config": {"digest": "sha256:x"}})


def scan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`auditor scan ARGS` from `cwd`, in process (conftest.run_auditor)."""
    return run_auditor("scan", *args, cwd=cwd)


def config(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "packs").mkdir(exist_ok=True)
    (tmp_path / "packs" / "engine.yaml").write_text(PACK)
    path = tmp_path / "audit.yaml"
    path.write_text("version: 1\naccounts: [{id: '111111111111'}]\nregions: [eu-west-1]\n"
                    "scope: {tags: {data: [pci]}}\nrule_packs: [packs/engine.yaml]\n" + extra)
    return path


def test_scan_snapshot_exit_codes_and_output(tmp_path: Path) -> None:
    snap = write_snapshot(tmp_path / "snap", records())
    cfg = config(tmp_path)
    proc = scan("-c", str(cfg), "--snapshot", str(snap), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr                        # critical FAIL >= high
    assert "NON-COMPLIANT" in proc.stdout and "findings written to" in proc.stdout
    first = (tmp_path / "out" / "findings.json").read_bytes()
    proc = scan("-c", str(cfg), "--snapshot", str(snap), "--out", str(tmp_path / "out2"), cwd=tmp_path)
    assert (tmp_path / "out2" / "findings.json").read_bytes() == first   # byte-identical
    assert scan("-c", str(cfg), "--snapshot", str(snap), "--out", str(tmp_path / "o3"), "--fail-on", "none",
                cwd=tmp_path).returncode == 0


def test_scan_is_incomplete_when_data_is_missing(tmp_path: Path) -> None:
    calls = dict(CALLS, **{"ec2:DescribeInternetGateways": {"InternetGateways": []},
                           "ec2:DescribeSubnets": {"Subnets": []}})
    del calls["ec2:DescribeVpcEndpoints"]
    snap = write_snapshot(tmp_path / "snap", records(calls, failed=("ec2:DescribeVpcEndpoints",)))
    proc = scan("-c", str(config(tmp_path)), "--snapshot", str(snap), "--out", str(tmp_path / "o"),
                "--fail-on", "critical", cwd=tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "INCOMPLETE" in proc.stdout


def test_scan_reports_bad_input_with_exit_2(tmp_path: Path) -> None:
    snap = write_snapshot(tmp_path / "snap", records())
    cfg = config(tmp_path, "parameters: {test-engine: {services: sqs}}\n")
    proc = scan("-c", str(cfg), "--snapshot", str(snap), cwd=tmp_path)
    assert proc.returncode == 2 and "audit.yaml:6:" in proc.stderr and "services" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = scan("--snapshot", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = scan("--region", "eu-wst-1", cwd=tmp_path)   # no config: the options alone, checked first
    assert proc.returncode == 2 and "--region" in proc.stderr and "did you mean 'eu-west-1'" in proc.stderr
    bad = config(tmp_path, "profile: bankng\n")
    proc = scan("-c", str(bad), "--snapshot", str(snap), cwd=tmp_path)
    assert proc.returncode == 2 and "no profile 'bankng' (did you mean 'banking'?)" in proc.stderr


def test_a_profile_reports_only_its_frameworks(packs: PackSet) -> None:
    ev = evaluate_rules(build_model(records()), packs, SCOPE, today=TODAY)
    doc = build_document(ev, packs, RunInfo(manifest={}, manifest_sha256="sha256:" + "0" * 64, scope=SCOPE,
                                            frameworks=("nist-800-53-r5",), profile={"id": "p"}))
    assert [fw["id"] for fw in doc["frameworks"]] == ["nist-800-53-r5"]
    assert doc["run"]["compliance_profile"] == {"id": "p"} and "profile" not in doc["run"]


def test_streamed_text_is_exactly_the_canonical_json(packs: PackSet) -> None:
    from auditor.results import iter_text

    ev = evaluate_rules(build_model(records()), packs, SCOPE, today=TODAY)
    run = RunInfo(manifest={}, manifest_sha256="sha256:" + "0" * 64, scope=SCOPE)
    plain = build_document(ev, packs, run)
    expected = json.dumps(plain, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    assert "".join(iter_text(build_document(ev, packs, run, lazy=True))) == expected
    assert dumps(plain) == expected
    empty = dict(plain, findings=[])
    assert dumps(empty) == json.dumps(empty, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
