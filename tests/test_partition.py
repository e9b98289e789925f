"""Evaluation partitioned by connectivity (auditor/partition.py).

The components are checked on a hand-made estate whose links are known (cross-account and
inter-region VPC peering, a transit gateway attachment across accounts, transit gateway
peering, a subnet shared through RAM, an account that could not be reached). The
partitioned evaluation is then checked against the evaluation of the whole model on that
estate, on the demo estate and on the analyzer estates, with scopes that exercise every
run-wide part (a tag selector that misses places, a `vpc_ids` entry that is no VPC, a user
rule whose `where` excludes everything, a scope that selects nothing at all): findings, gaps,
scope gaps and counts must be the same values, and findings.json's compared sections the
same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from auditor.config import Scope
from auditor.findings import Finding
from auditor.partition import (
    ComponentResult, Job, RunInputs, components, component_records, evaluate_component, evaluate_partitioned, job,
    run_inputs,
)
from auditor.rules.engine import Evaluation, account_problems, evaluate_rules, expected_regions
from auditor.rules.fixtures import Case, records_for
from auditor.rules.packs import PackSet, load_packs
from auditor.model import build_model
from auditor.rules.scope import snapshot_gaps
from auditor.snapshot.records import GLOBAL_REGION, CallError, CallRecord
from conftest import AnalyzerEstates, DemoRun

PACKS: PackSet = load_packs()
TODAY = date(2026, 12, 6)
A, B, C, D, E, F, G, H = (str(n) * 12 for n in range(1, 9))
USE1, EUW1 = "us-east-1", "eu-west-1"


def _vpc(vpc_id: str, owner: str, cidr: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {"VpcId": vpc_id, "CidrBlock": cidr, "OwnerId": owner, "State": "available", "IsDefault": False,
            "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}


def _subnet(subnet_id: str, vpc_id: str, owner: str, cidr: str) -> dict[str, Any]:
    return {"SubnetId": subnet_id, "VpcId": vpc_id, "CidrBlock": cidr, "OwnerId": owner,
            "AvailabilityZone": "us-east-1a", "MapPublicIpOnLaunch": False, "AssignIpv6AddressOnCreation": False}


def _peering(pcx: str, req: tuple[str, str, str, str], acc: tuple[str, str, str, str]) -> dict[str, Any]:
    def side(s: tuple[str, str, str, str]) -> dict[str, Any]:
        return {"OwnerId": s[0], "Region": s[1], "VpcId": s[2], "CidrBlock": s[3]}
    return {"VpcPeeringConnectionId": pcx, "Status": {"Code": "active"}, "RequesterVpcInfo": side(req),
            "AccepterVpcInfo": side(acc)}


def _place(account: str, region: str, calls: dict[str, Any]) -> list[CallRecord]:
    return records_for(Case("-", "-", "-", 0, calls, account=account, region=region))


def _table(table_id: str, vpc_id: str, routes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"RouteTableId": table_id, "VpcId": vpc_id, "Associations": [{"Main": True, "RouteTableId": table_id}],
            "Routes": [{"DestinationCidrBlock": "10.0.0.0/8", "GatewayId": "local", "State": "active"}, *routes]}


def hand_made() -> tuple[list[CallRecord], dict[str, Any]]:
    """The estate whose components are known:

    - A/us-east-1 peers with B/eu-west-1 (cross-account, inter-region), and B/eu-west-1 with
      B/us-east-1 (same account, inter-region): {A/use1, B/euw1, B/use1};
    - C/us-east-1 attaches its VPC to D's transit gateway (RAM-shared), and D's gateway
      peers with E's in eu-west-1: {C/use1, D/use1, E/euw1};
    - F/us-east-1 runs in a subnet G shares with it: {F/use1, G/use1};
    - A/eu-west-1 is A's other region, linked to nothing: alone;
    - H could not be reached (AssumeRole refused): H/us-east-1 alone, with no records but
      its account-wide failure.
    """
    recs: list[CallRecord] = []
    recs += _place(A, USE1, {
        "ec2:DescribeVpcs": {"Vpcs": [_vpc("vpc-a1", A, "10.1.0.0/16", {"zone": "pci"})]},
        "ec2:DescribeSubnets": {"Subnets": [_subnet("subnet-a1", "vpc-a1", A, "10.1.1.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [_table("rtb-a1", "vpc-a1", [
            {"DestinationCidrBlock": "0.0.0.0/0", "VpcPeeringConnectionId": "pcx-ab", "State": "active"}])]},
        "ec2:DescribeVpcPeeringConnections": {"VpcPeeringConnections": [
            _peering("pcx-ab", (A, USE1, "vpc-a1", "10.1.0.0/16"), (B, EUW1, "vpc-b1", "10.2.0.0/16"))]},
    })
    recs += _place(A, EUW1, {"ec2:DescribeVpcs": {"Vpcs": [_vpc("vpc-a2", A, "10.9.0.0/16", {"zone": "pci"})]}})
    recs += _place(B, EUW1, {
        "ec2:DescribeVpcs": {"Vpcs": [_vpc("vpc-b1", B, "10.2.0.0/16", {"zone": "pci"})]},
        "ec2:DescribeVpcPeeringConnections": {"VpcPeeringConnections": [
            _peering("pcx-ab", (A, USE1, "vpc-a1", "10.1.0.0/16"), (B, EUW1, "vpc-b1", "10.2.0.0/16")),
            _peering("pcx-bb", (B, EUW1, "vpc-b1", "10.2.0.0/16"), (B, USE1, "vpc-b2", "10.3.0.0/16"))]},
    })
    recs += _place(B, USE1, {"ec2:DescribeVpcs": {"Vpcs": [_vpc("vpc-b2", B, "10.3.0.0/16")]}})
    recs += _place(C, USE1, {
        "ec2:DescribeVpcs": {"Vpcs": [_vpc("vpc-c1", C, "10.4.0.0/16", {"zone": "pci"})]},
        "ec2:DescribeSubnets": {"Subnets": [_subnet("subnet-c1", "vpc-c1", C, "10.4.1.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [_table("rtb-c1", "vpc-c1", [
            {"DestinationCidrBlock": "0.0.0.0/0", "TransitGatewayId": "tgw-d", "State": "active"}])]},
        "ec2:DescribeTransitGatewayAttachments": {"TransitGatewayAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-c", "TransitGatewayId": "tgw-d", "TransitGatewayOwnerId": D,
             "ResourceOwnerId": C, "ResourceType": "vpc", "ResourceId": "vpc-c1", "State": "available"}]},
    })
    recs += _place(D, USE1, {
        "ec2:DescribeTransitGateways": {"TransitGateways": [{"TransitGatewayId": "tgw-d", "OwnerId": D,
                                                             "State": "available", "Options": {}}]},
        "ec2:DescribeTransitGatewayAttachments": {"TransitGatewayAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-c", "TransitGatewayId": "tgw-d", "TransitGatewayOwnerId": D,
             "ResourceOwnerId": C, "ResourceType": "vpc", "ResourceId": "vpc-c1", "State": "available"},
            {"TransitGatewayAttachmentId": "tgw-attach-de", "TransitGatewayId": "tgw-d", "TransitGatewayOwnerId": D,
             "ResourceOwnerId": E, "ResourceType": "peering", "ResourceId": "tgw-e", "State": "available"}]},
    })
    recs += _place(E, EUW1, {
        "ec2:DescribeVpcs": {"Vpcs": [_vpc("vpc-e1", E, "10.5.0.0/16")]},
        "ec2:DescribeTransitGatewayAttachments": {"TransitGatewayAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-de", "TransitGatewayId": "tgw-e", "TransitGatewayOwnerId": E,
             "ResourceOwnerId": D, "ResourceType": "peering", "ResourceId": "tgw-d", "State": "available"}]},
    })
    recs += _place(F, USE1, {
        "ec2:DescribeVpcs": {"Vpcs": [_vpc("vpc-g1", G, "10.6.0.0/16", {"zone": "pci"})]},
        "ec2:DescribeSubnets": {"Subnets": [_subnet("subnet-g1", "vpc-g1", G, "10.6.1.0/24")]},
    })
    recs += _place(G, USE1, {
        "ec2:DescribeVpcs": {"Vpcs": [_vpc("vpc-g1", G, "10.6.0.0/16", {"zone": "pci"})]},
        "ec2:DescribeSubnets": {"Subnets": [_subnet("subnet-g1", "vpc-g1", G, "10.6.1.0/24")]},
    })
    recs.append(CallRecord(H, GLOBAL_REGION, "sts", "AssumeRole", {"RoleArn": f"arn:aws:iam::{H}:role/Audit"},
                           error=CallError("aws", "AccessDenied", "not authorized to assume the role", 403)))
    for account in (A, B, C, D, E, F, G):
        recs.append(CallRecord(account, GLOBAL_REGION, "sts", "GetCallerIdentity", {}, ({"Account": account},)))
    problem = f"sts:AssumeRole into arn:aws:iam::{H}:role/Audit failed: AccessDenied"
    regions = {A: [USE1, EUW1], B: [USE1, EUW1], C: [USE1], D: [USE1], E: [EUW1], F: [USE1], G: [USE1], H: [USE1]}
    manifest = {"regions": [EUW1, USE1], "started": "2026-12-06T10:00:00Z", "finished": "2026-12-06T10:05:00Z",
                "accounts": [{"id": a, "regions": r, "problem": problem if a == H else ""} for a, r in regions.items()],
                "tasks": [{"account": H, "region": USE1, "calls": 0, "errors": 0, "status": "not_attempted",
                           "reason": problem}],
                "account_problems": [{"account": H, "message": problem}]}
    return recs, manifest


def test_the_components_of_the_hand_made_estate() -> None:
    recs, manifest = hand_made()
    found = [c.places for c in components(recs, manifest)]
    assert found == [
        ((A, EUW1),),
        ((A, USE1), (B, EUW1), (B, USE1)),
        ((C, USE1), (D, USE1), (E, EUW1)),
        ((F, USE1), (G, USE1)),
        ((H, USE1),),
    ]
    # Each link says which call made it.
    links = {(a, b, why) for c in components(recs, manifest) for a, b, why in c.links}
    assert ((A, USE1), (B, EUW1), "ec2:DescribeVpcPeeringConnections") in links
    assert ((C, USE1), (D, USE1), "ec2:DescribeTransitGatewayAttachments") in links
    assert ((D, USE1), (E, EUW1), "ec2:DescribeTransitGatewayAttachments tgw-attach-de") in links
    assert ((F, USE1), (G, USE1), "ec2:DescribeSubnets") in links


def test_records_order_does_not_change_the_components() -> None:
    recs, manifest = hand_made()
    assert components(list(reversed(recs)), manifest) == components(recs, manifest)


def test_a_component_gets_its_accounts_account_wide_records_and_nothing_else() -> None:
    recs, manifest = hand_made()
    parts = {c.places: c for c in components(recs, manifest)}
    alone = component_records(recs, parts[((A, EUW1),)])
    assert {(r.account, r.region) for r in alone} == {(A, EUW1), (A, GLOBAL_REGION)}
    unreachable = component_records(recs, parts[((H, USE1),)])
    assert [(r.account, r.region, r.operation) for r in unreachable] == [(H, GLOBAL_REGION, "AssumeRole")]


# -- identity with the whole evaluation -------------------------------------------------------

def whole(records: Sequence[CallRecord], manifest: dict[str, Any], packs: PackSet, scope: Scope,
          config_regions: tuple[str, ...] | None = None) -> Evaluation:
    model = build_model(records, manifest.get("files"))
    expected = expected_regions(model, manifest)
    uncovered = snapshot_gaps([None], config_regions, expected) if config_regions else []
    return evaluate_rules(model, packs, scope, today=TODAY, expected=expected,
                          account_problems=account_problems(manifest), uncovered=uncovered)


def parted(records: Sequence[CallRecord], manifest: dict[str, Any], packs: PackSet, scope: Scope,
           config_regions: tuple[str, ...] | None = None) -> Evaluation:
    def uncovered(covered: Sequence[tuple[str, str]]) -> Any:
        return snapshot_gaps([None], config_regions, covered) if config_regions else []

    return evaluate_partitioned(records, run_inputs(packs, scope, TODAY, None, manifest),
                                files=manifest.get("files"), uncovered=uncovered)


def as_json(ev: Evaluation) -> str:
    """Everything findings.json takes from an evaluation, as sorted JSON text."""
    return json.dumps({
        "findings": [f.to_json() for f in ev.findings],
        "gaps": [[g.account, g.region, list(g.calls), g.reason, list(g.rules)] for g in ev.gaps],
        "scope_gaps": [g.to_json() for g in ev.scope_gaps],
        "in_scope": ev.in_scope, "out_of_scope": ev.out_of_scope, "undecided": ev.scope_undecided,
        "waivers_used": sorted(ev.waivers_used), "rules": [r.id for r in ev.rules]}, sort_keys=True)


def assert_same(records: Sequence[CallRecord], manifest: dict[str, Any], packs: PackSet, scope: Scope,
                config_regions: tuple[str, ...] | None = None) -> Evaluation:
    one = whole(records, manifest, packs, scope, config_regions)
    many = parted(records, manifest, packs, scope, config_regions)
    assert many.findings == one.findings
    assert many.gaps == one.gaps and many.scope_gaps == one.scope_gaps
    assert as_json(many) == as_json(one)
    return one


USER_PACK = """\
pack:
  id: partition-test
  version: 1.0.0
  title: Partition test pack
  description: A user rule whose where holds nowhere in the estates of these tests.
rules:
  - id: USR-901
    title: VPCs of a range nobody uses are not default VPCs
    severity: low
    resource: vpc
    where: {attr: cidr_blocks, contains: 192.168.0.0/16}
    check: {attr: is_default, eq: false}
    message: "VPC {id} is a default VPC"
    rationale: Checks that a where excluding every VPC is reported once per run.
    remediation:
      cli: none
    references: ["https://docs.aws.amazon.com/vpc/latest/userguide/"]
    frameworks: {}
"""


SCOPES = {
    "everything": Scope(),
    "tag selector": Scope(tags=(("zone", ("pci",)),)),
    "a missing vpc id": Scope(vpc_ids=frozenset({"vpc-a1", "vpc-nowhere"})),
    "selects nothing anywhere": Scope(tags=(("zone", ("PCI",)),)),
}


@pytest.fixture(scope="module")
def packs_with_user_rule(tmp_path_factory: pytest.TempPathFactory) -> PackSet:
    folder = tmp_path_factory.mktemp("pack")
    (folder / "pack.yaml").write_text(USER_PACK, encoding="utf-8")
    return load_packs([folder / "pack.yaml"])


@pytest.mark.parametrize("scope", list(SCOPES.values()), ids=list(SCOPES))
def test_partitioned_equals_whole_on_the_hand_made_estate(scope: Scope, packs_with_user_rule: PackSet) -> None:
    recs, manifest = hand_made()
    one = assert_same(recs, manifest, packs_with_user_rule, scope, config_regions=(USE1, EUW1, "ap-south-1"))
    # The run-wide parts are there, once each (not once per component).
    kinds = [g.kind for g in one.scope_gaps]
    covered = set(expected_regions(build_model(recs), manifest))
    named = {(a, r) for a, _ in covered for r in (USE1, EUW1, "ap-south-1")}
    assert kinds.count("not_in_snapshot") == len(named - covered) == 14
    if scope.vpc_ids:
        assert kinds.count("vpc_not_found") == 1
    if scope.tags == (("zone", ("PCI",)),):   # no VPC in scope anywhere: nothing assessed, once
        assert kinds.count("nothing_assessed") == 1 and "rule_matched_nothing" not in kinds
    else:   # USR-901's where holds nowhere, over the components that have VPCs in scope
        assert kinds.count("rule_matched_nothing") == 1 and "nothing_assessed" not in kinds
    assert any(g.account == H for g in one.gaps)      # the unreachable account, with its failed AssumeRole


def test_each_component_is_evaluated_on_its_own_records(monkeypatch: pytest.MonkeyPatch) -> None:
    recs, manifest = hand_made()
    seen: list[set[tuple[str, str]]] = []

    def runner(jobs: Sequence[Job], inputs: RunInputs) -> list[ComponentResult]:
        out = []
        for work in jobs:
            seen.append({(r.account, r.region) for r in work.records if not r.region.startswith("_")})
            out.append(evaluate_component(work, inputs))
        return out

    evaluate_partitioned(recs, run_inputs(PACKS, Scope(), TODAY, None, manifest), runner=runner)
    assert len(seen) == 5 and all(len(s) <= 3 for s in seen)


def test_nothing_assessed_is_judged_over_the_whole_run() -> None:
    # One component with findings and one without any PASS/FAIL: "nothing assessed" must not appear.
    recs, manifest = hand_made()
    one = assert_same(recs, manifest, PACKS, Scope(vpc_ids=frozenset({"vpc-a1"})))
    assert "nothing_assessed" not in [g.kind for g in one.scope_gaps]
    empty = assert_same([r for r in recs if r.region == GLOBAL_REGION], manifest, PACKS, Scope())
    assert "nothing_assessed" in [g.kind for g in empty.scope_gaps]


def test_partitioned_equals_whole_on_the_analyzer_estates(analyzer_estates: AnalyzerEstates) -> None:
    for scope in SCOPES.values():
        assert_same(analyzer_estates.records, analyzer_estates.manifest, PACKS, scope)


def test_partitioned_equals_whole_on_the_demo_estate(demo_run: DemoRun) -> None:
    from auditor.scan import evaluate_snapshot, prepare
    from auditor.snapshot.reader import load_snapshot

    snap = load_snapshot(demo_run.result.scan.snapshot)
    for scope in SCOPES.values():
        assert_same(snap.records, snap.manifest, PACKS, scope)
    # Through the scan, with the demo's own config (its waivers, profile and scope).
    from auditor.config import load_config
    from auditor.emulate import demo_config_path

    inputs = prepare(load_config(demo_config_path()))
    from auditor.partition import local_runner

    one, many = evaluate_snapshot(snap, inputs), evaluate_snapshot(snap, inputs, runner=local_runner)
    for section in ("findings", "not_assessed", "scope_gaps", "summary", "rules"):
        # Findings stay Finding objects in the lazy document: compare their JSON.
        a = [f.to_json() if isinstance(f, Finding) else f for f in one[section]] if section == "findings" else one[section]
        b = [f.to_json() if isinstance(f, Finding) else f for f in many[section]] if section == "findings" else many[section]
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True), section
    assert len({c.places for c in components(snap.records, snap.manifest)}) >= 2


def test_an_empty_snapshot_is_one_empty_component() -> None:
    inputs = run_inputs(PACKS, Scope(), TODAY, None, {})
    assert as_json(evaluate_partitioned([], inputs)) == as_json(
        evaluate_rules(build_model([]), PACKS, Scope(), today=TODAY, expected=(), account_problems={}))


def test_run_inputs_keep_only_what_evaluation_reads() -> None:
    _, manifest = hand_made()
    inputs = run_inputs(PACKS, Scope(), TODAY, None, {**manifest, "calls": ["x"] * 3, "redaction": {}})
    assert set(inputs.manifest) <= {"regions", "accounts", "tasks", "account_problems"}
    assert inputs.problems == account_problems(manifest)
    assert replace(inputs, today=TODAY) == inputs
    assert Path  # noqa: B018 - imported for type use in helpers


# -- a collected estate with cross-account and inter-region peering (moto) ----------------------

@dataclass(frozen=True)
class Peered:
    records: tuple[CallRecord, ...]
    manifest: dict[str, Any]
    ids: dict[str, str]


def _network(ec2: Any, cidr: str, subnet_cidr: str, igw: bool) -> dict[str, str]:
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=subnet_cidr)["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    out = {"vpc": vpc, "subnet": subnet, "table": table}
    if igw:
        out["igw"] = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=out["igw"], VpcId=vpc)
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=out["igw"])
    return out


@pytest.fixture(scope="module")
def peered(tmp_path_factory: pytest.TempPathFactory) -> Peered:
    """A/us-east-1 routes everything over a peering to B/us-east-1 (another account), whose
    VPC has an internet gateway; A/eu-west-1 peers with A/us-east-1 (inter-region); C stands
    alone. Built with boto3 in moto, collected by the collector."""
    from auditor.collect.runner import collect
    from auditor.config import config_from_text
    from auditor.emulate import EmulatedAws
    from auditor.snapshot.writer import SnapshotWriter
    from conftest import assumed_client

    with EmulatedAws(mode="inprocess") as emu:
        a1, b1, a2, c1 = (assumed_client("ec2", acct, region) for acct, region in
                          ((A, USE1), (B, USE1), (A, EUW1), (C, USE1)))
        na = _network(a1, "10.1.0.0/16", "10.1.1.0/24", igw=False)
        nb = _network(b1, "10.2.0.0/16", "10.2.1.0/24", igw=True)
        na2 = _network(a2, "10.3.0.0/16", "10.3.1.0/24", igw=False)
        _network(c1, "10.4.0.0/16", "10.4.1.0/24", igw=True)
        cross = a1.create_vpc_peering_connection(VpcId=na["vpc"], PeerVpcId=nb["vpc"], PeerOwnerId=B)
        cross_id = cross["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        b1.accept_vpc_peering_connection(VpcPeeringConnectionId=cross_id)
        a1.create_route(RouteTableId=na["table"], DestinationCidrBlock="0.0.0.0/0", VpcPeeringConnectionId=cross_id)
        b1.create_route(RouteTableId=nb["table"], DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=cross_id)
        inter = a2.create_vpc_peering_connection(VpcId=na2["vpc"], PeerVpcId=na["vpc"], PeerRegion=USE1)
        inter_id = inter["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        a1.accept_vpc_peering_connection(VpcPeeringConnectionId=inter_id)
        a2.create_route(RouteTableId=na2["table"], DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=inter_id)
        config = config_from_text("version: 1\naccounts:\n" + "".join(
            f'  - id: "{a}"\n    role_arn: {EmulatedAws.role_arn(a)}\n' for a in (A, B, C))
            + f"regions: [{USE1}, {EUW1}]\n")
        out = tmp_path_factory.mktemp("peered") / "snapshot"
        # Compressed: the records' files are .json.gz, which findings name as their sources.
        result = collect(config, emu.session_factory(max_attempts=2), SnapshotWriter(out, compress=True, keep=True))
    assert result.complete, result.manifest["errors"]
    return Peered(tuple(result.records), result.manifest,
                  {"a-subnet": na["subnet"], "cross": cross_id, "inter": inter_id})


def test_the_components_of_the_peered_estate(peered: Peered) -> None:
    found = [c.places for c in components(peered.records, peered.manifest)]
    assert ((A, EUW1), (A, USE1), (B, USE1)) in found      # cross-account and inter-region peering
    assert ((C, USE1),) in found and ((C, EUW1),) in found and ((B, EUW1),) in found
    assert len(found) == 4


@pytest.mark.parametrize("scope", list(SCOPES.values()), ids=list(SCOPES))
def test_partitioned_equals_whole_on_the_peered_estate(peered: Peered, scope: Scope,
                                                       packs_with_user_rule: PackSet) -> None:
    one = assert_same(peered.records, peered.manifest, packs_with_user_rule, scope)
    sources = {s for f in one.findings for e in f.evidence for s in e.sources}
    assert not scope.everything or any(".json.gz#" in str(s) for s in sources)



# -- a transit gateway owned by another account -------------------------------------------------

def _tgw_moved(estates: AnalyzerEstates) -> list[CallRecord]:
    """The analyzer estates as collected, with the transit-paths account's transit gateway
    records (the gateways, their attachments, route tables, associations and routes) filed
    under account H: the gateway is owned by a network account, as one shared through AWS RAM
    is, and the spokes' routes to it cross accounts."""
    from conftest import ANALYZER_ACCOUNTS

    spokes = ANALYZER_ACCOUNTS["transit-paths"]
    return [replace(r, account=H) if r.account == spokes and "TransitGateway" in r.operation else r
            for r in estates.records]


def _split(records: Sequence[CallRecord], manifest: dict[str, Any]) -> Evaluation:
    """The evaluation with every account-region apart, ignoring the links (the control)."""
    from auditor.partition import merge

    inputs = run_inputs(PACKS, Scope(), TODAY, None, manifest)
    alone = []
    for component in components(records, manifest):
        for place in component.places:
            single = replace(component, places=(place,), links=())
            alone.append(evaluate_component(job(records, single, manifest.get("files")), inputs))
    return merge(alone, inputs)


def test_a_transit_gateway_of_another_account_joins_its_spokes(analyzer_estates: AnalyzerEstates) -> None:
    from conftest import ANALYZER_ACCOUNTS

    records = _tgw_moved(analyzer_estates)
    parts = components(records, analyzer_estates.manifest)
    spokes = ANALYZER_ACCOUNTS["transit-paths"]
    assert ((spokes, USE1), (H, USE1)) in [c.places for c in parts]
    for scope in (Scope(), SCOPES["tag selector"]):
        assert_same(records, analyzer_estates.manifest, PACKS, scope)
    # The control: apart, the spokes' paths through the other account's gateway are no longer
    # known, and their findings change; so the identity rests on the links found.
    one = whole(records, analyzer_estates.manifest, PACKS, Scope())
    split = _split(records, analyzer_estates.manifest)
    before = {(f.rule_id, f.resource.id, f.item): f for f in one.findings if f.resource.account == spokes}
    after = {(f.rule_id, f.resource.id, f.item): f for f in split.findings if f.resource.account == spokes}
    changed = sorted(k for k in before if before[k] != after.get(k))
    assert changed, "evaluated apart, nothing changed: the estate does not test the transit gateway link"
    assert any(rule == "PN-014" for rule, _, _ in changed), changed   # the subnets' paths through the gateway
