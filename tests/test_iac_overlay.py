"""A plan laid over a collected snapshot (auditor/iac/overlay.py): the model of what will be
deployed, through the real model build and the built-in packs.

The snapshot is a small hub-and-spoke estate built in moto and collected with the real
collector: an egress VPC (internet gateway, public NAT gateway, the TGW attachment's subnet
routed to the NAT), a transit gateway whose spokes' route table sends 0.0.0.0/0 to the
egress VPC, and a spoke VPC attached to it with an S3 gateway endpoint (AWS's default policy).
The plans are written with `RecordBuilder`, as the readers write them.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from auditor.config import Scope
from auditor.findings import Finding
from auditor.iac.base import PLAN_PAGE, PlanSource, RecordBuilder, synthetic_id
from auditor.iac.overlay import lay_over, overlay
from auditor.model.build import build_model
from auditor.model.types import Model, NetworkAcl, RouteTable, Subnet, TransitGatewayAttachment
from auditor.rules.engine import evaluate_rules
from auditor.rules.packs import PackSet, load_packs
from auditor.snapshot.records import CallError, CallRecord

R = "us-east-1"
APP = synthetic_id("subnet", "aws_subnet.app")
APP_RT = synthetic_id("rtb", "aws_route_table.app")


ACCOUNT = "555555555555"
# Seeded by the emulator's estate seeder (auditor/emulate: moto in process, with the fixes
# moto needs for transit gateway route tables), collected with the real collector.
ESTATE = f"""
estate: overlay-hub
description: An egress VPC behind a transit gateway, and a spoke VPC attached to it.
accounts:
  - id: "{ACCOUNT}"
    name: hub
    regions:
      {R}:
        vpcs:
          - name: egress
            cidr: 10.100.0.0/16
            internet_gateway: true
            subnets:
              - {{name: public, cidr: 10.100.0.0/24, az: a, route_table: public}}
              - {{name: egress-tgw, cidr: 10.100.1.0/24, az: a, route_table: to-nat}}
            route_tables:
              - name: public
                routes:
                  - {{destination: 0.0.0.0/0, target: igw}}
                  - {{destination: 10.0.0.0/8, target: "tgw:hub"}}
              - name: to-nat
                routes: [{{destination: 0.0.0.0/0, target: "nat:egress-nat"}}]
            nat_gateways:
              - {{name: egress-nat, subnet: public}}
          - name: spoke
            cidr: 10.1.0.0/16
            subnets:
              - {{name: spoke-tgw, cidr: 10.1.3.0/24, az: a}}
            route_tables:
              - {{name: spoke-main, main: true}}
            endpoints:
              - {{name: s3, service: s3, type: Gateway, route_tables: [spoke-main]}}
        transit_gateways:
          - name: hub
            attachments:
              - {{vpc: egress, subnets: [egress-tgw]}}
              - {{vpc: spoke, subnets: [spoke-tgw]}}
            route_tables:
              - name: spokes
                associations: [spoke]
                routes: [{{destination: 0.0.0.0/0, attachment: egress}}]
              - name: egress-return
                associations: [egress]
                routes: [{{destination: 10.1.0.0/16, attachment: spoke}}]
"""
# Estate names of the things the tests name -> (seeder kind, name).
_NAMED = {"egress": ("vpc", "egress"), "spoke": ("vpc", "spoke"), "public": ("subnet", "public"),
          "tgw_subnet": ("subnet", "egress-tgw"),
          "spoke_attach_subnet": ("subnet", "spoke-tgw"), "igw": ("internet_gateway", "egress"),
          "nat": ("nat_gateway", "egress-nat"), "tgw": ("transit_gateway", "hub"),
          "public_rt": ("route_table", "public"), "tgw_rt": ("route_table", "to-nat"),
          "spoke_main_rt": ("route_table", "spoke-main"), "egress_att": ("transit_gateway_attachment", "hub/egress"),
          "tgw_route_table": ("transit_gateway_route_table", "spokes"), "s3_endpoint": ("vpc_endpoint", "s3")}


@dataclasses.dataclass(frozen=True)
class Estate:
    account: str
    records: tuple[CallRecord, ...]
    ids: dict[str, str]


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Estate:
    """The estate seeded in moto (in process) and collected once for the module (read-only)."""
    from auditor.collect.runner import collect
    from auditor.config import config_from_text
    from auditor.emulate import EmulatedAws, estate_from_text, seed
    from auditor.snapshot.writer import SnapshotWriter

    config = config_from_text(f'version: 1\naccounts:\n  - id: "{ACCOUNT}"\n'
                              f"    role_arn: {EmulatedAws.role_arn(ACCOUNT)}\nregions: [{R}]\n")
    out = tmp_path_factory.mktemp("overlay") / "snapshot"
    with EmulatedAws(mode="inprocess") as emu:
        seeded = seed(estate_from_text(ESTATE, "overlay-hub"), emu)
        result = collect(config, emu.session_factory(max_attempts=2), SnapshotWriter(out, keep=True))
    assert result.complete, result.manifest["errors"]
    ids = {key: seeded.id(ACCOUNT, R, kind, name) for key, (kind, name) in _NAMED.items()}
    return Estate(ACCOUNT, tuple(result.records), ids)


@pytest.fixture(scope="module")
def packs() -> PackSet:
    return load_packs()


def _findings(model: Model, packs: PackSet, rule_id: str) -> dict[str, Finding]:
    evaluation = evaluate_rules(model, packs, Scope(), today=date(2026, 1, 1))
    return {f.resource.id: f for f in evaluation.findings if f.rule_id == rule_id}


def _source(b: RecordBuilder, regions: tuple[str, ...] = (R,),
            replaces: tuple[tuple[str, str, str, str], ...] = ()) -> PlanSource:
    return PlanSource(kind=b.kind, file=b.file, sha256="sha256:" + "0" * 64, format_version="1.2",
                      account=b.account, regions=regions, records=b.records(regions), replaces=replaces)


def _new_app_subnet(e: Estate, regions: tuple[str, ...] = (R,)) -> PlanSource:
    """The issue's plan: a new subnet in the (existing) spoke VPC, its own route table sending
    0.0.0.0/0 to the existing transit gateway."""
    b = RecordBuilder("terraform-plan", "plan.json", e.account)
    spoke, tgw = e.ids["spoke"], e.ids["tgw"]
    b.add(R, ("ec2", "DescribeSubnets"), {"SubnetId": APP, "VpcId": spoke, "CidrBlock": "10.1.10.0/24",
                                          "MapPublicIpOnLaunch": False, "AssignIpv6AddressOnCreation": False,
                                          "State": "available"},
          address="aws_subnet.app", line=12,
          unknown={"availability_zone": "known after apply: aws_subnet.app.availability_zone"}, quiet=["availability_zone"])
    b.add(R, ("ec2", "DescribeRouteTables"), {
        "RouteTableId": APP_RT, "VpcId": spoke,
        "Associations": [{"SubnetId": APP, "Main": False, "RouteTableId": APP_RT}],
        "Routes": [{"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "local", "State": "active"},
                   {"DestinationCidrBlock": "0.0.0.0/0", "TransitGatewayId": tgw, "State": "active"}]},
        address="aws_route_table.app", line=20)
    return _source(b, regions)


# -- the example ---------------------------------------------------------------------

def test_a_new_subnet_routed_to_an_existing_tgw_shows_its_internet_path(estate: Estate, packs: PackSet) -> None:
    source = _new_app_subnet(estate)
    # The plan alone: the transit gateway is not in the model, so the path is unknown: ERROR.
    alone = _findings(build_model(source.records), packs, "PN-014")[APP]
    assert alone.status == "ERROR", alone

    model = build_model(overlay(estate.records, source))
    subnet = model.get("subnet", APP, estate.account, R)
    assert isinstance(subnet, Subnet) and subnet.declared_at is not None and subnet.declared_at.line == 12
    assert subnet.route_table_id == APP_RT
    found = _findings(model, packs, "PN-014")
    ids = estate.ids
    finding = found[APP]
    assert finding.status == "FAIL", finding
    path = (f"{APP} → {APP_RT} 0.0.0.0/0 → {ids['tgw']} → {ids['tgw_route_table']} 0.0.0.0/0 → attachment "
            f"{ids['egress']} → {ids['tgw_rt']} 0.0.0.0/0 → {ids['nat']} → {ids['public_rt']} 0.0.0.0/0 → {ids['igw']}")
    evidence = {str(src).split("#")[0] for e in finding.evidence for src in e.sources}
    assert f"records/{estate.account}/{R}/ec2/DescribeNatGateways.json" in evidence   # the snapshot's NAT
    assert f"records/{estate.account}/{R}/ec2/DescribeSubnets.json" in evidence       # the plan's subnet
    assert path in finding.message, finding.message
    # The spoke's attachment subnet (no route out) stays as the snapshot had it: PASS.
    assert found[ids["spoke_attach_subnet"]].status == "PASS"


def test_the_overlay_keeps_the_snapshot_pages_and_adds_the_plan_page(estate: Estate) -> None:
    source = _new_app_subnet(estate)
    out = {r.record_id: r for r in overlay(estate.records, source)}
    snap = {r.record_id: r for r in estate.records}
    subnets = out[f"{estate.account}/{R}/ec2/DescribeSubnets"]
    before = snap[f"{estate.account}/{R}/ec2/DescribeSubnets"]
    assert subnets.pages[:-1] == before.pages and subnets.pages[-1][PLAN_PAGE] is True
    assert [s["SubnetId"] for s in subnets.pages[-1]["Subnets"]] == [APP]
    # Untouched listings are the snapshot's own records.
    assert out[f"{estate.account}/{R}/ec2/DescribeNatGateways"].pages[:1] == \
        snap[f"{estate.account}/{R}/ec2/DescribeNatGateways"].pages


# -- updates, deletes ------------------------------------------------------------------------

def _endpoint(e: Estate, policy: dict[str, Any] | None) -> dict[str, Any]:
    item = {"VpcEndpointId": e.ids["s3_endpoint"], "VpcId": e.ids["spoke"], "ServiceName": f"com.amazonaws.{R}.s3",
            "VpcEndpointType": "Gateway", "State": "available", "RouteTableIds": [e.ids["spoke_main_rt"]]}
    if policy is not None:
        item["PolicyDocument"] = json.dumps(policy)
    return item


def test_a_plan_update_replaces_the_deployed_item_and_the_finding_flips(estate: Estate, packs: PackSet) -> None:
    endpoint = estate.ids["s3_endpoint"]
    assert _findings(build_model(estate.records), packs, "EP-001")[endpoint].status == "FAIL"
    tightened = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{estate.account}:root"}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::corp-artifacts/*"}]}
    b = RecordBuilder("terraform-plan", "plan.json", estate.account)
    b.add(R, ("ec2", "DescribeVpcEndpoints"), _endpoint(estate, tightened), address="aws_vpc_endpoint.s3", line=5,
          attributes={"policy": 9})
    source = _source(b, replaces=((estate.account, R, "vpc_endpoint", endpoint),))
    overlaid = lay_over(estate.records, source)
    assert (estate.account, R, "vpc_endpoint", endpoint) in overlaid.dropped
    model = build_model(overlaid.records)
    [only] = [e for e in model.of("vpc_endpoint") if e.id == endpoint]   # the plan's, not both
    assert only.declared_at is not None and only.declared_at.line_of("policy") == 9
    assert _findings(model, packs, "EP-001")[endpoint].status == "PASS"


def test_a_plan_update_loosening_the_policy_fails(estate: Estate, packs: PackSet) -> None:
    """The other direction: an endpoint the plan leaves on AWS's default policy is FAIL."""
    b = RecordBuilder("terraform-plan", "plan.json", estate.account)
    b.add(R, ("ec2", "DescribeVpcEndpoints"), _endpoint(estate, {"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}), address="aws_vpc_endpoint.s3")
    model = build_model(overlay(estate.records, _source(b)))
    assert _findings(model, packs, "EP-001")[estate.ids["s3_endpoint"]].status == "FAIL"


def test_a_plan_delete_removes_the_resource_and_its_per_resource_answers(estate: Estate, packs: PackSet) -> None:
    ids, account = estate.ids, estate.account
    assert _findings(build_model(estate.records), packs, "PN-003")[ids["egress"]].status == "FAIL"
    b = RecordBuilder("terraform-plan", "plan.json", account)
    source = _source(b, replaces=((account, R, "nat_gateway", ids["nat"]),
                                  (account, R, "transit_gateway_route_table", ids["tgw_route_table"])))
    overlaid = lay_over(estate.records, source)
    assert set(overlaid.dropped) == {(account, R, "nat_gateway", ids["nat"]),
                                     (account, R, "transit_gateway_route_table", ids["tgw_route_table"])}
    model = build_model(overlaid.records)
    assert model.get("nat_gateway", ids["nat"], account, R) is None
    assert model.get("transit_gateway_route_table", ids["tgw_route_table"], account, R) is None
    assert not [r for r in overlaid.records if ids["tgw_route_table"] in json.dumps(dict(r.params))]
    assert any(ids["tgw_route_table"] in json.dumps(dict(r.params)) for r in estate.records)
    # A route to the deleted NAT is left in the egress VPC: what it does is unknown.
    assert _findings(model, packs, "PN-003")[ids["egress"]].status == "ERROR"
    # Everything the plan does not touch is still there.
    assert model.get("transit_gateway", ids["tgw"], account, R) is not None
    assert model.get("internet_gateway", ids["igw"], account, R) is not None


def test_a_plan_deleting_the_nat_and_its_route_passes(estate: Estate, packs: PackSet) -> None:
    """The plan deletes the NAT gateway and updates the table routing to it: the egress
    VPC has no NAT and its TGW subnet no internet path any more."""
    ids, account = estate.ids, estate.account
    assert _findings(build_model(estate.records), packs, "PN-014")[ids["tgw_subnet"]].status == "FAIL"
    b = RecordBuilder("terraform-plan", "plan.json", account)
    b.add(R, ("ec2", "DescribeRouteTables"), {
        "RouteTableId": ids["tgw_rt"], "VpcId": ids["egress"],
        "Associations": [{"SubnetId": ids["tgw_subnet"], "Main": False}],
        "Routes": [{"DestinationCidrBlock": "10.100.0.0/16", "GatewayId": "local", "State": "active"}]},
        address="aws_route_table.to_nat", line=30)
    model = build_model(overlay(estate.records, _source(b, replaces=(
        (account, R, "nat_gateway", ids["nat"]), (account, R, "route_table", ids["tgw_rt"])))))
    assert model.get("nat_gateway", ids["nat"], account, R) is None
    assert _findings(model, packs, "PN-003")[ids["egress"]].status == "PASS"
    assert _findings(model, packs, "PN-014")[ids["tgw_subnet"]].status == "PASS"


def test_a_deleted_security_group_takes_its_rules_along(estate: Estate) -> None:
    account = estate.account
    snap = build_model(estate.records)
    group = next(g for g in snap.of("security_group") if getattr(g, "vpc_id", "") == estate.ids["spoke"])
    rules = {r.id for r in snap.of("security_group_rule") if getattr(r, "group_id", "") == group.id}
    assert rules
    b = RecordBuilder("terraform-plan", "plan.json", account)
    model = build_model(overlay(estate.records, _source(b, replaces=((account, R, "security_group", group.id),))))
    assert model.get("security_group", group.id, account, R) is None
    assert not rules & {r.id for r in model.of("security_group_rule")}


# -- what stays the snapshot's ---------------------------------------------------------------

def _failed(records: tuple[CallRecord, ...], operation: str) -> tuple[CallRecord, ...]:
    return tuple(dataclasses.replace(r, pages=(), error=CallError("aws", "AccessDenied", "not allowed", 403))
                 if r.operation == operation and not r.params else r for r in records)


def test_a_failed_snapshot_listing_stays_failed_and_its_rules_error(estate: Estate, packs: PackSet) -> None:
    records = _failed(estate.records, "DescribeRouteTables")
    source = _new_app_subnet(estate)
    out = {r.record_id: r for r in overlay(records, source)}
    merged = out[f"{estate.account}/{R}/ec2/DescribeRouteTables"]
    assert merged.error is not None and merged.error.code == "AccessDenied"
    assert [t["RouteTableId"] for p in merged.pages for t in p["RouteTables"]] == [APP_RT]
    model = build_model(out.values())
    assert model.get("route_table", APP_RT, estate.account, R) is not None
    assert (estate.account, R, "ec2", "DescribeRouteTables") in dict(model.coverage.failed)
    finding = _findings(model, packs, "PN-014")[APP]
    assert finding.status == "ERROR", finding


def test_a_covered_call_the_snapshot_lacks_is_not_the_plans_word_alone(estate: Estate) -> None:
    records = tuple(r for r in estate.records if r.operation != "DescribeInternetGateways")
    out = {r.record_id: r for r in overlay(records, _new_app_subnet(estate))}
    igws = out[f"{estate.account}/{R}/ec2/DescribeInternetGateways"]
    assert igws.error is not None and igws.error.code == "NotInSnapshot"


def test_calls_the_plan_does_not_cover_come_from_the_snapshot(estate: Estate) -> None:
    source = _new_app_subnet(estate)
    out = {r.record_id: r for r in overlay(estate.records, source)}
    snap = {r.record_id: r for r in estate.records}
    for name in ("DescribeVpcEndpointServices", "DescribeVpcBlockPublicAccessOptions"):
        rid = f"{estate.account}/{R}/ec2/{name}"
        assert rid not in {r.record_id for r in source.records}
        assert out[rid] == snap[rid]
    model = build_model(out.values())
    assert model.coverage.collected(estate.account, R, "ec2", "DescribeVpcEndpointServices")
    assert model.of("vpc_endpoint_service")
    # Records of other calls (identity, regions ...) pass through too.
    assert {k for k in snap if "/_" in k} <= set(out)


def test_a_region_the_snapshot_lacks_gets_the_plan_alone_and_says_so(estate: Estate) -> None:
    source = _new_app_subnet(estate, regions=(R, "eu-west-1"))
    overlaid = lay_over(estate.records, source)
    assert overlaid.plan_only == ((estate.account, "eu-west-1"),)
    assert any("eu-west-1" in n and "not in the snapshot" in n for n in overlaid.notes)
    plan_eu = {r.record_id: r for r in source.records if r.region == "eu-west-1"}
    assert {r.record_id: r for r in overlaid.records if r.region == "eu-west-1"} == plan_eu


def test_a_plan_in_an_account_the_snapshot_lacks_is_named(estate: Estate) -> None:
    b = RecordBuilder("terraform-plan", "plan.json", "000000000000")
    overlaid = lay_over(estate.records, _source(b))
    assert overlaid.plan_only == (("000000000000", R),)
    assert any("account 000000000000" in n and estate.account in n for n in overlaid.notes)
    assert not overlaid.dropped


# -- associations AWS holds one of ------------------------------------------------------------

def test_an_association_the_plan_makes_leaves_the_snapshots_table(estate: Estate) -> None:
    """The plan moves the egress public subnet to a table of its own: AWS keeps one explicit
    association per subnet, so the snapshot's table no longer holds it."""
    ids, account = estate.ids, estate.account
    b = RecordBuilder("terraform-plan", "plan.json", account)
    table = synthetic_id("rtb", "aws_route_table.quarantine")
    b.add(R, ("ec2", "DescribeRouteTables"), {
        "RouteTableId": table, "VpcId": ids["egress"],
        "Associations": [{"SubnetId": ids["public"], "Main": False}],
        "Routes": [{"DestinationCidrBlock": "10.100.0.0/16", "GatewayId": "local", "State": "active"}]},
        address="aws_route_table.quarantine")
    model = build_model(overlay(estate.records, _source(b)))
    subnet = model.get("subnet", ids["public"], account, R)
    assert isinstance(subnet, Subnet) and subnet.route_table_id == table
    old = model.get("route_table", ids["public_rt"], account, R)
    assert isinstance(old, RouteTable) and ids["public"] not in old.subnet_ids
    assert old.routes   # the table itself is kept, only the association moved


# -- determinism -----------------------------------------------------------------------------

def test_deterministic_idempotent_and_inputs_untouched(estate: Estate) -> None:
    source = _new_app_subnet(estate)
    records_before = copy.deepcopy(estate.records)
    source_before = copy.deepcopy(source)
    once = overlay(estate.records, source)
    assert estate.records == records_before and source == source_before
    shuffled = list(estate.records)
    random.Random(7).shuffle(shuffled)
    assert overlay(shuffled, source) == once
    assert [r.record_id for r in once] == sorted(r.record_id for r in once)
    assert len({r.record_id for r in once}) == len(once)
    assert overlay(once, source) == once        # the same plan laid twice is laid once
    assert build_model(overlay(once, source)) == build_model(once)


def test_no_plan_changes_nothing(estate: Estate) -> None:
    """A plan declaring nothing over the snapshot: the model is the snapshot's."""
    b = RecordBuilder("terraform-plan", "plan.json", estate.account)
    assert build_model(overlay(estate.records, _source(b))) == build_model(estate.records)


def test_overlay_of_records_read_back_from_the_snapshot(estate: Estate, tmp_path: Path) -> None:
    """The records as collected and as a snapshot folder would give them are laid alike."""
    reloaded = tuple(CallRecord.from_content(json.loads(json.dumps(r.content()))) for r in estate.records)
    source = _new_app_subnet(estate)
    assert overlay(reloaded, source) == overlay(estate.records, source)


# -- end to end: a hand-written Terraform plan, read by the real reader --------------------------
#
# No Terraform binary runs here: the plans are written by hand to HashiCorp's documented JSON
# output format (`terraform show -json PLANFILE`), with the estate's ids (drawn by moto) put
# in where a plan would name deployed resources.

_NO_TARGET = {k: "" for k in ("ipv6_cidr_block", "destination_prefix_list_id", "carrier_gateway_id", "core_network_arn",
                              "egress_only_gateway_id", "gateway_id", "local_gateway_id", "nat_gateway_id",
                              "network_interface_id", "transit_gateway_id", "vpc_endpoint_id",
                              "vpc_peering_connection_id")}


def _change(address: str, actions: list[str], before: dict[str, Any] | None, after: dict[str, Any] | None,
            unknown: dict[str, Any] | None = None) -> dict[str, Any]:
    kind, name = address.split(".", 1)
    return {"address": address, "mode": "managed", "type": kind, "name": name,
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": actions, "before": before, "after": after, "after_unknown": unknown or {}}}


def _config(address: str, expressions: dict[str, Any]) -> dict[str, Any]:
    kind, name = address.split(".", 1)
    return {"address": address, "mode": "managed", "type": kind, "name": name, "provider_config_key": "aws",
            "schema_version": 0, "expressions": expressions}


def _plan_file(tmp_path: Path, changes: list[dict[str, Any]], config: list[dict[str, Any]]) -> Path:
    doc = {"format_version": "1.2", "terraform_version": "1.9.8", "planned_values": {"root_module": {}},
           "resource_changes": changes,
           "configuration": {"provider_config": {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws",
                                                         "expressions": {"region": {"constant_value": R}}}},
                             "root_module": {"resources": config}}}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def _tf_new_app_subnet(e: Estate, tmp_path: Path) -> Path:
    spoke, tgw = e.ids["spoke"], e.ids["tgw"]
    changes = [
        _change("aws_subnet.app", ["create"], None,
                {"vpc_id": spoke, "cidr_block": "10.1.10.0/24", "availability_zone": f"{R}a",
                 "map_public_ip_on_launch": False, "assign_ipv6_address_on_creation": False, "tags": None},
                {"id": True, "arn": True, "availability_zone_id": True, "ipv6_cidr_block": True, "owner_id": True,
                 "tags_all": True}),
        _change("aws_route_table.app", ["create"], None,
                {"vpc_id": spoke, "tags": None, "route": [{**_NO_TARGET, "cidr_block": "0.0.0.0/0",
                                                            "transit_gateway_id": tgw}]},
                {"id": True, "arn": True, "owner_id": True, "propagating_vgws": True, "tags_all": True}),
        _change("aws_route_table_association.app", ["create"], None, {"gateway_id": None},
                {"id": True, "route_table_id": True, "subnet_id": True}),
    ]
    config = [
        _config("aws_subnet.app", {"vpc_id": {"constant_value": spoke}, "cidr_block": {"constant_value": "10.1.10.0/24"}}),
        _config("aws_route_table.app", {"vpc_id": {"constant_value": spoke}, "route": [
            {"cidr_block": {"constant_value": "0.0.0.0/0"}, "transit_gateway_id": {"constant_value": tgw}}]}),
        _config("aws_route_table_association.app", {
            "route_table_id": {"references": ["aws_route_table.app.id", "aws_route_table.app"]},
            "subnet_id": {"references": ["aws_subnet.app.id", "aws_subnet.app"]}}),
    ]
    return _plan_file(tmp_path, changes, config)


def test_terraform_plan_new_subnet_to_existing_tgw_end_to_end(estate: Estate, packs: PackSet, tmp_path: Path) -> None:
    from auditor.iac.load import read_source

    source = read_source(_tf_new_app_subnet(estate, tmp_path), account=estate.account)
    assert source.kind == "terraform-plan" and source.regions == (R,)
    [subnet_id] = [d.id for d in source.resources if d.address == "aws_subnet.app"]
    assert _findings(build_model(source.records), packs, "PN-014")[subnet_id].status == "ERROR"
    model = build_model(overlay(estate.records, source))
    finding = _findings(model, packs, "PN-014")[subnet_id]
    assert finding.status == "FAIL", finding
    for hop in (estate.ids["tgw"], estate.ids["egress"], estate.ids["nat"], estate.ids["igw"]):
        assert hop in finding.message
    subnet = model.get("subnet", subnet_id, estate.account, R)
    assert isinstance(subnet, Subnet) and subnet.declared_at is not None
    assert (subnet.declared_at.kind, subnet.declared_at.address) == ("terraform-plan", "aws_subnet.app")
    # The reader cannot know the deployed VPC's CIDR blocks; the snapshot does: the table gets
    # the local route AWS gives it (the plan alone has none).
    table = model.get("route_table", str(subnet.route_table_id), estate.account, R)
    assert isinstance(table, RouteTable)
    assert [(r.destination, r.target_kind) for r in table.routes if r.target_kind == "local"] == [("10.1.0.0/16", "local")]
    [alone] = [t for t in build_model(source.records).of("route_table") if t.id == table.id]
    assert isinstance(alone, RouteTable) and not [r for r in alone.routes if r.target_kind == "local"]


def test_terraform_plan_endpoint_policy_update_end_to_end(estate: Estate, packs: PackSet, tmp_path: Path) -> None:
    from auditor.iac.load import read_source

    endpoint, spoke = estate.ids["s3_endpoint"], estate.ids["spoke"]
    tightened = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{estate.account}:root"}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::corp-artifacts/*"}]})
    state = {"id": endpoint, "vpc_id": spoke, "service_name": f"com.amazonaws.{R}.s3", "vpc_endpoint_type": "Gateway",
             "route_table_ids": [estate.ids["spoke_main_rt"]], "subnet_ids": [], "security_group_ids": [],
             "private_dns_enabled": False}
    default = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})
    changes = [_change("aws_vpc_endpoint.s3", ["update"], {**state, "policy": default}, {**state, "policy": tightened})]
    config = [_config("aws_vpc_endpoint.s3", {"vpc_id": {"constant_value": spoke},
                                              "service_name": {"constant_value": f"com.amazonaws.{R}.s3"},
                                              "policy": {"constant_value": tightened}})]
    source = read_source(_plan_file(tmp_path, changes, config), account=estate.account)
    assert (estate.account, R, "vpc_endpoint", endpoint) in source.replaces
    model = build_model(overlay(estate.records, source))
    assert [e.id for e in model.of("vpc_endpoint")].count(endpoint) == 1
    assert _findings(model, packs, "EP-001")[endpoint].status == "PASS"


def test_terraform_plan_delete_end_to_end(estate: Estate, tmp_path: Path) -> None:
    from auditor.iac.load import read_source

    nat = estate.ids["nat"]
    before = {"id": nat, "subnet_id": estate.ids["public"], "connectivity_type": "public", "allocation_id": "eipalloc-x"}
    changes = [_change("aws_nat_gateway.egress", ["delete"], before, None)]
    source = read_source(_plan_file(tmp_path, changes, [_config("aws_nat_gateway.egress", {})]),
                         account=estate.account)
    overlaid = lay_over(estate.records, source)
    assert (estate.account, R, "nat_gateway", nat) in overlaid.dropped
    assert build_model(overlaid.records).get("nat_gateway", nat, estate.account, R) is None


# -- every kind of listing, on hand-made records --------------------------------------------------

A = "222222222222"


def _listing(operation: str, key: str, items: list[Any], service: str = "ec2") -> CallRecord:
    return CallRecord(A, R, service, operation, {}, ({key: items},))


def _by_id(records: tuple[CallRecord, ...]) -> dict[str, CallRecord]:
    return {r.record_id: r for r in records}


def test_instances_clusters_and_attachments_are_dropped_by_their_own_ids() -> None:
    snapshot = (
        _listing("DescribeInstances", "Reservations", [
            {"ReservationId": "r-1", "Instances": [{"InstanceId": "i-keep", "VpcId": "vpc-1"},
                                                   {"InstanceId": "i-gone", "VpcId": "vpc-1"}]},
            {"ReservationId": "r-2", "Instances": [{"InstanceId": "i-updated", "VpcId": "vpc-1"}]}]),
        _listing("ListClusters", "clusters", ["keep", "gone"], "eks"),
        *(CallRecord(A, R, "eks", "DescribeCluster", {"name": n}, ({"cluster": {"name": n, "arn": f"arn:{n}"}},))
          for n in ("keep", "gone")),
        _listing("DescribeTransitGatewayAttachments", "TransitGatewayAttachments", [
            {"TransitGatewayAttachmentId": "tgw-attach-1", "ResourceType": "vpc", "ResourceId": "vpc-1"}]),
        _listing("DescribeTransitGatewayVpcAttachments", "TransitGatewayVpcAttachments", [
            {"TransitGatewayAttachmentId": "tgw-attach-1", "SubnetIds": ["subnet-old"]}]),
    )
    b = RecordBuilder("cloudformation", "t.yaml", A)
    b.add(R, ("ec2", "DescribeInstances"), {"InstanceId": "i-updated", "VpcId": "vpc-1", "SubnetId": "subnet-1"},
          address="Updated")
    b.add(R, ("eks", "DescribeCluster"), {"name": "new", "arn": "", "resourcesVpcConfig": {"subnetIds": []}},
          address="New")
    b.add(R, ("ec2", "DescribeTransitGatewayVpcAttachments"), {
        "TransitGatewayAttachmentId": "tgw-attach-1", "SubnetIds": ["subnet-new"]}, address="Att")
    b.add(R, ("ec2", "DescribeTransitGatewayAttachments"), {
        "TransitGatewayAttachmentId": "tgw-attach-1", "ResourceType": "vpc", "ResourceId": "vpc-1"}, address="Att")
    source = _source(b, replaces=((A, R, "instance", "i-gone"), (A, R, "eks_cluster", "gone")))
    overlaid = lay_over(snapshot, source)
    out = _by_id(overlaid.records)
    reservations = out[f"{A}/{R}/ec2/DescribeInstances"].pages
    assert reservations[0] == {"Reservations": [{"ReservationId": "r-1", "Instances": [
        {"InstanceId": "i-keep", "VpcId": "vpc-1"}]}]}   # r-2 held only the updated instance
    assert [i["InstanceId"] for r in reservations[1]["Reservations"] for i in r["Instances"]] == ["i-updated"]
    assert [p["clusters"] for p in out[f"{A}/{R}/eks/ListClusters"].pages] == [["keep"], ["new"]]
    assert sorted(r.params["name"] for r in overlaid.records if r.operation == "DescribeCluster") == ["keep", "new"]
    model = build_model(overlaid.records)
    [attachment] = model.of("transit_gateway_attachment")
    assert isinstance(attachment, TransitGatewayAttachment) and attachment.subnet_ids == ("subnet-new",)
    assert {i.id for i in model.of("instance")} == {"i-keep", "i-updated"}
    assert {c.id for c in model.of("eks_cluster")} == {"keep", "new"}
    assert set(overlaid.dropped) == {(A, R, "instance", "i-gone"), (A, R, "instance", "i-updated"),
                                     (A, R, "eks_cluster", "gone"), (A, R, "transit_gateway_attachment", "tgw-attach-1")}


def test_an_updated_security_group_keeps_its_deployed_rules_a_replaced_one_loses_them() -> None:
    """A plan re-stating a group (same id) may leave its rules to separate resources: the
    deployed rules stay (a rule the plan removes is named in `replaces`); a group the plan
    deletes or replaces takes its rules along."""
    snapshot = (
        _listing("DescribeSecurityGroups", "SecurityGroups", [{"GroupId": "sg-1", "VpcId": "vpc-1"},
                                                              {"GroupId": "sg-2", "VpcId": "vpc-1"}]),
        _listing("DescribeSecurityGroupRules", "SecurityGroupRules", [
            {"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-1", "IsEgress": False, "CidrIpv4": "0.0.0.0/0"},
            {"SecurityGroupRuleId": "sgr-2", "GroupId": "sg-2", "IsEgress": False, "CidrIpv4": "0.0.0.0/0"}]),
    )
    b = RecordBuilder("terraform-plan", "plan.json", A)
    b.add(R, ("ec2", "DescribeSecurityGroups"), {"GroupId": "sg-1", "VpcId": "vpc-1", "GroupName": "web"},
          address="aws_security_group.web")
    b.add(R, ("ec2", "DescribeSecurityGroups"), {"GroupId": "sg-aws_security_group.db", "VpcId": "vpc-1"},
          address="aws_security_group.db")
    source = _source(b, replaces=((A, R, "security_group", "sg-1"), (A, R, "security_group", "sg-2")))
    model = build_model(overlay(snapshot, source))
    assert {g.id for g in model.of("security_group")} == {"sg-1", "sg-aws_security_group.db"}
    assert {r.id for r in model.of("security_group_rule")} == {"sgr-1"}


def test_an_acl_association_the_plan_makes_leaves_the_snapshots_acl() -> None:
    snapshot = (_listing("DescribeNetworkAcls", "NetworkAcls", [{
        "NetworkAclId": "acl-default", "VpcId": "vpc-1", "IsDefault": True, "Entries": [],
        "Associations": [{"SubnetId": "subnet-1", "NetworkAclId": "acl-default"},
                         {"SubnetId": "subnet-2", "NetworkAclId": "acl-default"}]}]),)
    b = RecordBuilder("terraform-plan", "plan.json", A)
    b.add(R, ("ec2", "DescribeNetworkAcls"), {"NetworkAclId": "acl-aws_network_acl.app", "VpcId": "vpc-1",
                                              "IsDefault": False, "Entries": [],
                                              "Associations": [{"SubnetId": "subnet-1"}]}, address="aws_network_acl.app")
    model = build_model(overlay(snapshot, _source(b)))
    acls = {a.id: a.subnet_ids for a in model.of("network_acl") if isinstance(a, NetworkAcl)}
    assert acls == {"acl-default": ("subnet-2",), "acl-aws_network_acl.app": ("subnet-1",)}
    assert snapshot[0].pages[0]["NetworkAcls"][0]["Associations"][0]["SubnetId"] == "subnet-1"   # input untouched


def test_a_main_table_the_plan_sets_replaces_the_snapshots_main() -> None:
    snapshot = (_listing("DescribeRouteTables", "RouteTables", [{
        "RouteTableId": "rtb-main", "VpcId": "vpc-1", "Routes": [],
        "Associations": [{"Main": True, "RouteTableId": "rtb-main"}]}]),
        _listing("DescribeSubnets", "Subnets", [{"SubnetId": "subnet-1", "VpcId": "vpc-1"}]))
    b = RecordBuilder("terraform-plan", "plan.json", A)
    b.add(R, ("ec2", "DescribeRouteTables"), {"RouteTableId": "rtb-aws_route_table.main", "VpcId": "vpc-1",
                                              "Routes": [], "Associations": [{"Main": True}]},
          address="aws_route_table.main")
    model = build_model(overlay(snapshot, _source(b)))
    subnet = model.get("subnet", "subnet-1", A, R)
    assert isinstance(subnet, Subnet) and subnet.route_table_id == "rtb-aws_route_table.main"
    assert subnet.route_table_association == "main"


def test_every_covered_listing_has_its_item_ids() -> None:
    """Each listing a plan answers is either normalised by the model (ids from its normaliser)
    or named in the overlay's table of listings the build folds in: a new catalogue call
    cannot be laid over without its ids."""
    from auditor.iac.base import COVERED
    from auditor.iac.overlay import _SIDE_LISTINGS
    from auditor.model.normalise import NORMALISERS
    from auditor.model.registry import CATALOG

    listings = {s.call for s in CATALOG if s.for_each is None and s.call in COVERED}
    assert listings - set(NORMALISERS) == set(_SIDE_LISTINGS)


def _cfn_new_app_subnet(e: Estate, tmp_path: Path) -> tuple[PlanSource, str]:
    """The issue's case as a template, the deployed ids given as parameters."""
    from auditor.iac.load import read_source

    template = tmp_path / "app.yaml"
    template.write_text("""AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  SpokeVpc: {Type: "AWS::EC2::VPC::Id"}
  HubTgw: {Type: String}
Resources:
  AppSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref SpokeVpc
      CidrBlock: 10.1.10.0/24
      AvailabilityZone: !Sub "${AWS::Region}a"
  AppRouteTable:
    Type: AWS::EC2::RouteTable
    Properties:
      VpcId: !Ref SpokeVpc
  AppDefault:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref AppRouteTable
      DestinationCidrBlock: 0.0.0.0/0
      TransitGatewayId: !Ref HubTgw
  AppAssociation:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      SubnetId: !Ref AppSubnet
      RouteTableId: !Ref AppRouteTable
""")
    source = read_source(template, account=e.account, region=R,
                         parameters={"SpokeVpc": e.ids["spoke"], "HubTgw": e.ids["tgw"]})
    [subnet_id] = [d.id for d in source.resources if d.address == "AppSubnet"]
    return source, subnet_id


def test_cloudformation_template_new_subnet_to_existing_tgw_is_never_pass(estate: Estate, packs: PackSet,
                                                                          tmp_path: Path) -> None:
    source, subnet_id = _cfn_new_app_subnet(estate, tmp_path)
    assert _findings(build_model(source.records), packs, "PN-014")[subnet_id].status == "ERROR"
    assert _findings(build_model(overlay(estate.records, source)), packs, "PN-014")[subnet_id].status in (
        "FAIL", "ERROR")


def test_cloudformation_template_new_subnet_to_existing_tgw_end_to_end(estate: Estate, packs: PackSet,
                                                                       tmp_path: Path) -> None:
    source, subnet_id = _cfn_new_app_subnet(estate, tmp_path)
    model = build_model(overlay(estate.records, source))
    finding = _findings(model, packs, "PN-014")[subnet_id]
    assert finding.status == "FAIL", finding.message
    table = model.get("route_table", "rtb-AppRouteTable", estate.account, R)
    assert isinstance(table, RouteTable) and ("10.1.0.0/16", "local") in {
        (r.destination, r.target_kind) for r in table.routes}   # from the snapshot's VPC
    for hop in (estate.ids["tgw"], estate.ids["egress"], estate.ids["nat"], estate.ids["igw"]):
        assert hop in finding.message
