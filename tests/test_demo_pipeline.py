"""The demo estate end to end (estate format -> moto -> collector -> snapshot -> model),
in-process and over a real HTTP moto server, and the `auditor demo` command itself."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import jsonschema
import pytest

from demo_normaliser import normalised_demo_html

from auditor.collect.runner import collect
from auditor.config import load_config
from auditor.emulate import EmulatedAws, demo_config_path, demo_estate_path, load_estate, seed
from auditor.model import build_model
from auditor.model.types import BlockPublicAccess, RouteTable, Subnet, TransitGatewayRouteTable, Vpc
from auditor.snapshot.reader import load_snapshot
from auditor.validation import load_schema
from auditor.snapshot.writer import SnapshotWriter
from conftest import DemoRun

PAY, HEALTH = "111111111111", "222222222222"


@pytest.mark.parametrize("mode", ["inprocess", pytest.param("server", marks=pytest.mark.server)])
def test_demo_estate_collects_completely_and_models_the_planted_facts(mode: str, tmp_path: Path,
                                                                     request: pytest.FixtureRequest) -> None:
    """In process: the session's demo (seeded and collected by `auditor demo`, records kept);
    over a real HTTP moto server: built and collected here."""
    if mode == "inprocess":
        demo: DemoRun = request.getfixturevalue("demo_run")
        ids, collected = demo.result.seeded, demo.result.scan.collection
        assert collected is not None
        result, snapshot = collected, demo.out / "snapshot"
    else:
        config = load_config(demo_config_path())
        with EmulatedAws(mode=mode) as emu:
            ids = seed(load_estate(demo_estate_path()), emu)
            result = collect(config, emu.session_factory(max_attempts=3), SnapshotWriter(tmp_path / "s", keep=True))
        snapshot = tmp_path / "s"
    assert result.records
    assert result.complete, result.manifest["errors"]
    assert {t["status"] for t in result.manifest["tasks"]} == {"complete"}
    assert [(t["account"], t["region"]) for t in result.manifest["tasks"]] == [
        (PAY, "eu-west-1"), (PAY, "us-east-1"), (HEALTH, "eu-west-1"), (HEALTH, "us-east-1")]
    snap = load_snapshot(snapshot)
    model = build_model(snap.records, snap.manifest["files"])
    assert model == build_model(result.records, result.manifest["files"])

    def the(kind: str, account: str, name: str, region: str = "us-east-1") -> object:
        found = model.get(kind, ids.id(account, region, kind, name), account, region)
        assert found is not None, (kind, name)
        return found

    # V1: the legacy PHI subnet has no table of its own, so its effective table is the main
    # table of *its own* VPC, whose default route goes to the transit gateway.
    legacy = the("subnet", HEALTH, "phi-legacy-a")
    assert isinstance(legacy, Subnet)
    assert legacy.route_table_association == "main"
    assert legacy.route_table_id == ids.id(HEALTH, "us-east-1", "route_table", "phi-main")
    main = the("route_table", HEALTH, "phi-main")
    assert isinstance(main, RouteTable) and main.is_main
    tgw_id = ids.id(HEALTH, "us-east-1", "transit_gateway", "health-tgw")
    assert ("0.0.0.0/0", "tgw", tgw_id) in [(r.destination, r.target_kind, r.target_id) for r in main.routes]
    assert legacy.map_public_ip_on_launch is True  # V2
    # The TGW spoke table sends the default route on to the egress VPC's attachment.
    spokes = the("transit_gateway_route_table", HEALTH, "spokes")
    assert isinstance(spokes, TransitGatewayRouteTable) and spokes.routes is not None
    egress_att = ids.id(HEALTH, "us-east-1", "transit_gateway_attachment", "health-tgw/shared-egress")
    assert ("0.0.0.0/0", "active", (egress_att,)) in [(r.destination, r.state, r.attachment_ids)
                                                       for r in spokes.routes]
    assert any(r.state == "blackhole" for r in spokes.routes)
    # The compliant PCI VPC: DNS attributes on, no internet gateway, S3 prefix list resolved.
    pci = the("vpc", PAY, "pci-cde")
    assert isinstance(pci, Vpc) and (pci.dns_support, pci.dns_hostnames) == (True, True)
    assert not [g for g in model.of("internet_gateway") if pci.id in g.attached_vpc_ids]  # type: ignore[attr-defined]
    private = the("route_table", PAY, "pci-private")
    assert isinstance(private, RouteTable)
    s3 = [r for r in private.routes if r.destination_kind == "prefix_list"]
    assert len(s3) == 1 and s3[0].target_kind == "vpce" and s3[0].destination_cidrs
    # Block Public Access as seeded (emulator extension), per account.
    bpa = {(b.account, b.region): b for b in model.of("vpc_block_public_access")}
    assert isinstance(bpa[(PAY, "us-east-1")], BlockPublicAccess)
    assert bpa[(PAY, "us-east-1")].internet_gateway_block_mode == "block-bidirectional"  # type: ignore[attr-defined]
    assert bpa[(HEALTH, "us-east-1")].internet_gateway_block_mode == "off"  # type: ignore[attr-defined]
    # V5: the PHI SQS endpoint has private DNS off and AWS's default full-access policy.
    sqs = the("vpc_endpoint", HEALTH, "phi-sqs")
    assert sqs.private_dns_enabled is False  # type: ignore[attr-defined]
    assert sqs.policy["Statement"][0]["Action"] == "*"  # type: ignore[attr-defined]


def test_auditor_demo_command(demo_run: DemoRun) -> None:
    """`auditor demo` run once as a user would (the session's demo: the command's own code in
    process, its output captured)."""
    tmp_path, proc = demo_run.root, demo_run
    assert proc.code == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"snapshot written to {tmp_path / 'demo' / 'snapshot'}" in proc.stdout
    assert f"findings written to {tmp_path / 'demo' / 'findings.json'}" in proc.stdout
    # The whole evidence bundle: every report, each printed with where it is.
    for fmt, name in {"html": "report.html", "pdf": "report.pdf", "junit": "findings.junit.xml",
                      "sarif": "findings.sarif", "csv": "findings.csv"}.items():
        assert f"{fmt} written to {tmp_path / 'demo' / name}" in proc.stdout
        assert (tmp_path / "demo" / name).stat().st_size > 1000, name
    assert f"evidence bundle written to {tmp_path / 'demo'}" in proc.stdout
    snap = load_snapshot(tmp_path / "demo" / "snapshot")
    assert snap.complete
    doc = json.loads((tmp_path / "demo" / "findings.json").read_text())
    jsonschema.validate(doc, load_schema("findings"))
    assert doc["run"]["snapshot"]["manifest_sha256"] == snap.manifest_sha256
    assert doc["summary"]["complete"] and doc["not_assessed"] == []
    # Who read each account: its own sts:GetCallerIdentity through the assumed audit role.
    assert [(a["id"], a["role_arn"], a["identity"].rsplit("/", 1)[0]) for a in doc["run"]["accounts"]] == [
        (acct, f"arn:aws:iam::{acct}:role/AuditorReadOnly", f"arn:aws:sts::{acct}:assumed-role/AuditorReadOnly")
        for acct in (PAY, HEALTH)]
    assert "NON-COMPLIANT" in proc.stdout and "`auditor scan` would exit 1" in proc.stdout
    fails = [f for f in doc["findings"] if f["status"] == "FAIL"]
    # The compliant account has no failure and nothing unassessed; the shared egress VPC is out of scope.
    assert [f["rule_id"] for f in fails if f["resource"]["account"] == PAY] == []
    assert not any(f["status"] == "ERROR" for f in doc["findings"])
    failed_rules = {f["rule_id"] for f in fails}
    # Each planted violation (estate header) is caught by its rule.
    planted = {"V1": "PN-014", "V2": "PN-007", "V3": "PN-008", "V4": "PN-010", "V5": "VE-002", "V5 policy": "EP-001",
               "V6": "VE-001", "V6 s3": "VE-006", "V7": "TF-003", "V8": "SE-002", "V9": "SE-001",
               "V10": "SE-003", "V11": "TF-006", "V12": "PN-011", "V13": "TF-001", "V14": "VE-007"}
    assert {v: r for v, r in planted.items() if r not in failed_rules} == {}
    missing = sorted(f["item"] for f in fails if f["rule_id"] == "VE-001")
    assert missing == ["ec2messages", "ecr.api", "ecr.dkr", "kms", "logs", "secretsmanager", "sns", "ssm",
                       "ssmmessages"]


# The demo's HTML report against a golden normalised copy ----------------------------------------

GOLDEN_DEMO = Path(__file__).parent / "golden" / "report_demo.html"


def _tiny_demo(folder: Path, draw: dict[str, str], endpoints_listed: tuple[str, str],
               status: str = "FAIL") -> tuple[str, dict[str, str], Path]:
    """A small report page, its names and its snapshot, as the demo would give them with moto
    drawing the ids and addresses in `draw` and listing the two endpoints in the given order."""
    vpc, ep = draw["vpc"], {"a": draw["a"], "b": draw["b"]}
    names = {vpc: "<vpc:v>", ep["a"]: "<vpc_endpoint:a>", ep["b"]: "<vpc_endpoint:b>", draw["eip"]: "<elastic_ip:e>"}
    base = "records/111111111111/us-east-1/ec2/"
    attr = f"{base}DescribeVpcAttribute~{vpc}~{hashlib.sha256(vpc.encode()).hexdigest()[:10]}.json"
    records = {
        attr: {"pages": [{"EnableDnsSupport": {"Value": True}}]},
        f"{base}DescribeVpcEndpoints.json": {"pages": [{"VpcEndpoints": [
            {"VpcEndpointId": ep[k], "VpcId": vpc} for k in endpoints_listed]}]},
        f"{base}DescribeAddresses.json": {"pages": [{"Addresses": [
            {"AllocationId": draw["eip"], "PublicIp": draw["ip"]}]}]}}
    snapshot = folder / "snapshot"
    for path, body in records.items():
        (snapshot / path).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / path).write_text(json.dumps(body))
    (snapshot / "manifest.json").write_text(json.dumps({"calls": [
        {"record": attr, "params": {"Attribute": "enableDnsSupport", "VpcId": vpc}},
        *({"record": path, "params": {}} for path in records if path != attr)]}))
    strings: list[str] = []

    def at(text: str) -> int:
        strings.append(text)
        return len(strings) - 1

    by_id = sorted(ep.values())  # what the report lists, it lists in id order
    position = {ep[k]: n for n, k in enumerate(endpoints_listed)}
    rules = sorted([(draw["sgr1"], "ingress all traffic from sg-0aaaaaaaaaaaaaaaa"),
                    (draw["sgr2"], "egress all traffic to 0.0.0.0/0")])
    message = f"VPC {vpc} ({draw['ip']}) is open: " + ", ".join(f"{i}: {t}" for i, t in rules)
    evidence = [[at("endpoint_ids"), at(json.dumps(by_id)), at("is empty"), at("does not hold"),
                 [[at(f"{base}DescribeVpcEndpoints.json"), f"#/pages/0/VpcEndpoints/{position[i]}"] for i in by_id]],
                [at("first_endpoint_private_dns"), at("false"), at("equals true"), at("does not hold"),
                 [[at(f"{base}DescribeVpcEndpoints.json"), f"#/pages/0/VpcEndpoints/{position[ep['a']]}"]]],
                [at("dns_support"), at("true"), at("equals true"), at("holds"), [[at(attr), "#/pages/0"]]]]
    row = ["0123456789abcdef0123", at("PN-001"), at("high"), at(status), at("vpc"), vpc, at("111111111111"),
           at("us-east-1"), [at("arn:aws:ec2:us-east-1:111111111111:vpc/"), at("")], at(vpc), None, at(message),
           evidence, at("")]
    data = {"generated": "2026-01-02T03:04:05Z", "hashes": {path: "sha256:" + "0" * 64 for path in records},
            "strings": strings, "findings": [row]}
    page = (f"<html><body><h1>Report</h1><p>{vpc} at {draw['ip']}</p>"
            f'<script type="application/json" id="report-data">{json.dumps(data)}</script></body></html>')
    return page, names, snapshot


def test_demo_golden_normaliser_ignores_moto_draws_and_listing_order(tmp_path: Path) -> None:
    """The same estate as two moto releases give it (other ids, addresses and rule ids drawn, the
    endpoints listed the other way round) reads the same once normalised; a real change does not."""
    one = {"vpc": "vpc-1111111111111111a", "a": "vpce-0aaaaaaaaaaaaaaa1", "b": "vpce-0fffffffffffffff2",
           "eip": "eipalloc-0123456789abcdef0", "ip": "54.1.2.3", "sgr1": "sgr-0111111111111111a",
           "sgr2": "sgr-0999999999999999a"}
    other = {"vpc": "vpc-9999999999999999b", "a": "vpce-0fffffffffffffff3", "b": "vpce-0aaaaaaaaaaaaaaa4",
             "eip": "eipalloc-0fedcba9876543210", "ip": "127.9.8.7", "sgr1": "sgr-0999999999999999b",
             "sgr2": "sgr-0111111111111111b"}
    first = normalised_demo_html(*_tiny_demo(tmp_path / "1", one, ("a", "b")))
    assert first == normalised_demo_html(*_tiny_demo(tmp_path / "2", other, ("b", "a")))
    assert "<public-ip:elastic_ip:e>" in first
    assert "DescribeVpcEndpoints.json#/pages/*/VpcEndpoints/[<vpc_endpoint:a>]" in first
    assert first != normalised_demo_html(*_tiny_demo(tmp_path / "3", other, ("b", "a"), status="PASS"))


def test_demo_html_report_matches_the_golden_copy(demo_run: DemoRun) -> None:
    tmp_path = demo_run.root
    assert demo_run.code == 0, demo_run.stderr
    page = (tmp_path / "demo" / "report.html").read_text(encoding="utf-8")
    names = demo_run.names
    # The seeded ids are the demo's (those its seeder made): the names do replace them.
    assert names and sum(aws_id in page for aws_id in names) >= 50
    actual = normalised_demo_html(page, names, tmp_path / "demo" / "snapshot")
    assert "<vpc:phi-records>" in actual and not re.search(r"\bvpc-[0-9a-f]{8}", actual)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN_DEMO.write_text(actual, encoding="utf-8")
    assert actual == GOLDEN_DEMO.read_text(encoding="utf-8"), (
        "the demo's report changed: UPDATE_GOLDEN=1 pytest tests/test_demo_pipeline.py rewrites "
        "tests/golden/report_demo.html; review the diff")
