"""The reachability analyzer (auditor/analyze/reachability.py) on small models built from
API responses: every semantic case, asserted to the exact path text, plus the derived
attributes the rules read, longest-prefix match against brute force, and the demo estate's
planted central-egress path through moto."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from datetime import date
from typing import Any
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.analyze import reachability as rx
from auditor.analyze.prefixes import RouteEntry, parse_net, partition
from auditor.analyze.reachability import (
    Hop, Path, interface_reachability, internet_ingress_ports, subnet_reachability,
)
from auditor.config import Scope
from auditor.model import build_model
from auditor.model.types import Model, NetworkInterface, Subnet, UnknownField
from auditor.rules.attributes import resolve
from auditor.rules.engine import evaluate_rules
from auditor.rules.fixtures import Case, records_for
from auditor.rules.packs import PackSet, load_packs
from auditor.snapshot.records import CallRecord
from conftest import DemoRun

Calls = dict[str, Any]


def model_of(calls: Calls, *more: tuple[str, Calls]) -> Model:
    """The model of an estate written as API responses (every other call succeeded, empty);
    `more` adds (region, calls) estates of other regions of the same account."""
    records: list[CallRecord] = records_for(Case("TEST", "estate", "-", 0, calls))
    for region, other in more:
        records += records_for(Case("TEST", "estate", "-", 0, other, region=region))
    return build_model(records)


def route(dest: str, state: str = "active", **target: str) -> dict[str, str]:
    key = ("DestinationPrefixListId" if dest.startswith("pl-") else
           "DestinationIpv6CidrBlock" if ":" in dest else "DestinationCidrBlock")
    return {key: dest, "State": state, **target}


def local(cidr: str) -> dict[str, str]:
    return route(cidr, GatewayId="local")


def table(rid: str, vpc: str, *routes: dict[str, str], subnets: Iterable[str] = (), main: bool = False) -> Calls:
    return {"RouteTableId": rid, "VpcId": vpc, "Routes": list(routes),
            "Associations": ([{"Main": True}] if main else []) + [{"SubnetId": s} for s in subnets]}


def subnet(sid: str, vpc: str, cidr: str) -> Calls:
    return {"SubnetId": sid, "VpcId": vpc, "CidrBlock": cidr}


def the_subnet(model: Model, sid: str) -> Subnet:
    found = model.get("subnet", sid)
    assert isinstance(found, Subnet), sid
    return found


def the_eni(model: Model, eid: str) -> NetworkInterface:
    found = model.get("network_interface", eid)
    assert isinstance(found, NetworkInterface), eid
    return found


def paths(model: Model, sid: str, *, unknown: tuple[str, ...] = ()) -> set[tuple[str, str, str]]:
    """The subnet's paths as (destination, family, text), asserting the reasons it gives."""
    found = subnet_reachability(model, the_subnet(model, sid))
    assert found.indeterminate == unknown, (sid, found.indeterminate)
    return {(p.destination, p.family, p.text) for p in found.paths}


# -- one VPC: gateways, NAT, appliances, endpoints, prefix lists ---------------------------

VPC_A = "10.0.0.0/16"
BASICS: Calls = {
    "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": VPC_A}]},
    "ec2:DescribeSubnets": {"Subnets": [subnet(s, "vpc-a", f"10.0.{i}.0/24") for i, s in enumerate((
        "subnet-igw", "subnet-narrow", "subnet-private-dest", "subnet-v6", "subnet-eigw", "subnet-carrier",
        "subnet-vgw", "subnet-blackhole", "subnet-main", "subnet-pnat", "subnet-isolated", "subnet-natinst",
        "subnet-appliance", "subnet-fw", "subnet-gwlb", "subnet-inspect", "subnet-s3", "subnet-pl",
        "subnet-pl-unknown", "subnet-nat-missing", "subnet-shadowed", "subnet-self-nat"))]},
    "ec2:DescribeRouteTables": {"RouteTables": [
        table("rtb-igw", "vpc-a", local(VPC_A), route("0.0.0.0/0", GatewayId="igw-1"), subnets=["subnet-igw"]),
        table("rtb-narrow", "vpc-a", local(VPC_A), route("203.0.113.0/24", GatewayId="igw-1"),
              subnets=["subnet-narrow"]),
        table("rtb-private-dest", "vpc-a", local(VPC_A), route("10.50.0.0/16", GatewayId="igw-1"),
              subnets=["subnet-private-dest"]),
        table("rtb-v6", "vpc-a", local(VPC_A), route("::/0", GatewayId="igw-1"), subnets=["subnet-v6"]),
        table("rtb-eigw", "vpc-a", local(VPC_A), route("::/0", EgressOnlyInternetGatewayId="eigw-1"),
              subnets=["subnet-eigw"]),
        table("rtb-carrier", "vpc-a", local(VPC_A), route("0.0.0.0/0", CarrierGatewayId="cagw-1"),
              subnets=["subnet-carrier"]),
        table("rtb-vgw", "vpc-a", local(VPC_A), route("192.168.0.0/16", GatewayId="vgw-1"), subnets=["subnet-vgw"]),
        table("rtb-blackhole", "vpc-a", local(VPC_A), route("0.0.0.0/0", "blackhole", GatewayId="igw-old"),
              subnets=["subnet-blackhole"]),
        # subnet-main has no table of its own: the VPC's main table applies.
        table("rtb-main", "vpc-a", local(VPC_A), route("0.0.0.0/0", NatGatewayId="nat-pub"), main=True),
        table("rtb-pnat", "vpc-a", local(VPC_A), route("0.0.0.0/0", NatGatewayId="nat-priv"),
              subnets=["subnet-pnat"]),
        table("rtb-isolated", "vpc-a", local(VPC_A), subnets=["subnet-isolated"]),
        table("rtb-natinst", "vpc-a", local(VPC_A), route("0.0.0.0/0", InstanceId="i-nat", NetworkInterfaceId="eni-nat"),
              subnets=["subnet-natinst"]),
        table("rtb-appliance", "vpc-a", local(VPC_A), route("0.0.0.0/0", NetworkInterfaceId="eni-fw"),
              subnets=["subnet-appliance"]),
        table("rtb-fw", "vpc-a", local(VPC_A), route("0.0.0.0/0", NatGatewayId="nat-pub"), subnets=["subnet-fw"]),
        table("rtb-gwlb", "vpc-a", local(VPC_A), route("0.0.0.0/0", GatewayId="vpce-gwlb"), subnets=["subnet-gwlb"]),
        table("rtb-inspect", "vpc-a", local(VPC_A), route("0.0.0.0/0", GatewayId="igw-1"),
              subnets=["subnet-inspect"]),
        table("rtb-s3", "vpc-a", local(VPC_A), route("pl-s3", GatewayId="vpce-s3"), subnets=["subnet-s3"]),
        table("rtb-pl", "vpc-a", local(VPC_A), route("pl-partners", GatewayId="igw-1"), subnets=["subnet-pl"]),
        table("rtb-plu", "vpc-a", local(VPC_A), route("pl-unknown", GatewayId="igw-1"),
              route("pl-unknown-s3", GatewayId="vpce-s3"), subnets=["subnet-pl-unknown"]),
        table("rtb-ghost", "vpc-a", local(VPC_A), route("0.0.0.0/0", NatGatewayId="nat-ghost"),
              subnets=["subnet-nat-missing"]),
        # Two blackhole halves take all of the default route's traffic.
        table("rtb-shadowed", "vpc-a", local(VPC_A), route("0.0.0.0/0", GatewayId="igw-1"),
              route("0.0.0.0/1", "blackhole", NatGatewayId="nat-gone"),
              route("128.0.0.0/1", "blackhole", NatGatewayId="nat-gone"), subnets=["subnet-shadowed"]),
        # A NAT gateway in the very subnet that sends it its traffic: a loop.
        table("rtb-self-nat", "vpc-a", local(VPC_A), route("0.0.0.0/0", NatGatewayId="nat-self"),
              subnets=["subnet-self-nat"]),
    ]},
    "ec2:DescribeInternetGateways": {"InternetGateways": [
        {"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]}]},
    "ec2:DescribeEgressOnlyInternetGateways": {"EgressOnlyInternetGateways": [
        {"EgressOnlyInternetGatewayId": "eigw-1", "Attachments": [{"VpcId": "vpc-a", "State": "attached"}]}]},
    "ec2:DescribeCarrierGateways": {"CarrierGateways": [{"CarrierGatewayId": "cagw-1", "VpcId": "vpc-a"}]},
    "ec2:DescribeNatGateways": {"NatGateways": [
        {"NatGatewayId": "nat-pub", "VpcId": "vpc-a", "SubnetId": "subnet-igw", "State": "available"},
        {"NatGatewayId": "nat-priv", "VpcId": "vpc-a", "SubnetId": "subnet-isolated", "State": "available",
         "ConnectivityType": "private"},
        {"NatGatewayId": "nat-self", "VpcId": "vpc-a", "SubnetId": "subnet-self-nat", "State": "available"}]},
    "ec2:DescribeInstances": {"Reservations": [{"Instances": [
        {"InstanceId": "i-nat", "VpcId": "vpc-a", "SubnetId": "subnet-igw", "SourceDestCheck": False,
         "NetworkInterfaces": [{"NetworkInterfaceId": "eni-nat"}]}]}]},
    "ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": [
        {"NetworkInterfaceId": "eni-nat", "VpcId": "vpc-a", "SubnetId": "subnet-igw", "InterfaceType": "interface",
         "Attachment": {"InstanceId": "i-nat"}, "Association": {"PublicIp": "198.51.100.7"}},
        {"NetworkInterfaceId": "eni-fw", "VpcId": "vpc-a", "SubnetId": "subnet-fw", "InterfaceType": "interface"},
        {"NetworkInterfaceId": "eni-web", "VpcId": "vpc-a", "SubnetId": "subnet-igw", "InterfaceType": "interface"}]},
    "ec2:DescribeVpcEndpoints": {"VpcEndpoints": [
        {"VpcEndpointId": "vpce-gwlb", "VpcId": "vpc-a", "VpcEndpointType": "GatewayLoadBalancer",
         "SubnetIds": ["subnet-inspect"], "State": "available"},
        {"VpcEndpointId": "vpce-s3", "VpcId": "vpc-a", "VpcEndpointType": "Gateway",
         "ServiceName": "com.amazonaws.eu-west-1.s3", "RouteTableIds": ["rtb-s3"], "State": "available"}]},
    "ec2:DescribeManagedPrefixLists": {"PrefixLists": [
        {"PrefixListId": "pl-s3", "AddressFamily": "IPv4", "PrefixListName": "com.amazonaws.eu-west-1.s3"},
        {"PrefixListId": "pl-partners", "AddressFamily": "IPv4", "PrefixListName": "partners"}]},
    "ec2:GetManagedPrefixListEntries": [
        {"params": {"PrefixListId": "pl-s3"}, "response": {"Entries": [{"Cidr": "52.218.0.0/17"}]}},
        {"params": {"PrefixListId": "pl-partners"},
         "response": {"Entries": [{"Cidr": "203.0.113.0/24"}, {"Cidr": "198.51.100.0/24"}]}}],
}


@pytest.fixture(scope="module")
def basics() -> Model:
    return model_of(BASICS)


BASIC_PATHS: dict[str, set[tuple[str, str, str]]] = {
    "subnet-igw": {("internet", "ipv4", "subnet-igw → rtb-igw 0.0.0.0/0 → igw-1")},
    # A narrow public CIDR to an internet gateway is still internet.
    "subnet-narrow": {("internet", "ipv4", "subnet-narrow → rtb-narrow 203.0.113.0/24 → igw-1")},
    # The subnet's own route to an internet gateway counts whatever its destination.
    "subnet-private-dest": {("internet", "ipv4", "subnet-private-dest → rtb-private-dest 10.50.0.0/16 → igw-1")},
    "subnet-v6": {("internet", "ipv6", "subnet-v6 → rtb-v6 ::/0 → igw-1")},
    "subnet-eigw": {("internet", "ipv6", "subnet-eigw → rtb-eigw ::/0 → eigw-1")},
    "subnet-carrier": {("internet", "ipv4", "subnet-carrier → rtb-carrier 0.0.0.0/0 → cagw-1")},
    "subnet-vgw": {("on_premises", "ipv4", "subnet-vgw → rtb-vgw 192.168.0.0/16 → vgw-1")},
    "subnet-blackhole": set(),
    # Implicit main-table association, then the public NAT gateway's own subnet table.
    "subnet-main": {("internet", "ipv4", "subnet-main → rtb-main 0.0.0.0/0 → nat-pub → rtb-igw 0.0.0.0/0 → igw-1")},
    # A private NAT gateway whose subnet goes nowhere: no internet.
    "subnet-pnat": set(),
    "subnet-isolated": set(),
    "subnet-natinst": {("internet", "ipv4", "subnet-natinst → rtb-natinst 0.0.0.0/0 → i-nat → rtb-igw 0.0.0.0/0 → igw-1")},
    "subnet-appliance": {("internet", "ipv4", "subnet-appliance → rtb-appliance 0.0.0.0/0 → eni-fw → rtb-fw 0.0.0.0/0 → "
                                              "nat-pub → rtb-igw 0.0.0.0/0 → igw-1")},
    "subnet-fw": {("internet", "ipv4", "subnet-fw → rtb-fw 0.0.0.0/0 → nat-pub → rtb-igw 0.0.0.0/0 → igw-1")},
    # The Gateway Load Balancer endpoint hands the traffic back to its subnet's table.
    "subnet-gwlb": {("internet", "ipv4", "subnet-gwlb → rtb-gwlb 0.0.0.0/0 → vpce-gwlb → rtb-inspect 0.0.0.0/0 → igw-1")},
    "subnet-inspect": {("internet", "ipv4", "subnet-inspect → rtb-inspect 0.0.0.0/0 → igw-1")},
    "subnet-s3": set(),   # the S3 gateway endpoint: AWS's network
    "subnet-pl": {("internet", "ipv4", "subnet-pl → rtb-pl pl-partners (198.51.100.0/24) → igw-1"),
                  ("internet", "ipv4", "subnet-pl → rtb-pl pl-partners (203.0.113.0/24) → igw-1")},
    "subnet-shadowed": set(),
}


def test_every_basic_case_has_its_exact_paths(basics: Model) -> None:
    for sid, want in BASIC_PATHS.items():
        assert paths(basics, sid) == want, sid
        assert subnet_reachability(basics, the_subnet(basics, sid)).loops == (), sid


def test_unknown_prefix_lists_and_missing_gateways_are_indeterminate(basics: Model) -> None:
    # The unknown list routed to the S3 endpoint only shadows: it is not a reason.
    assert paths(basics, "subnet-pl-unknown", unknown=(
        "rtb-plu: prefix list pl-unknown entries not collected (ec2:GetManagedPrefixListEntries); its route to "
        "igw-1 is not followed",)) == set()
    assert paths(basics, "subnet-nat-missing", unknown=(
        "nat-ghost: NAT gateway not in the model (ec2:DescribeNatGateways); route rtb-ghost 0.0.0.0/0 → nat-ghost "
        "not followed",)) == set()


def test_a_nat_gateway_in_the_subnet_it_serves_is_a_loop(basics: Model) -> None:
    found = subnet_reachability(basics, the_subnet(basics, "subnet-self-nat"))
    assert found.paths == () and found.indeterminate == ()
    assert found.loops == ("subnet-self-nat → rtb-self-nat 0.0.0.0/0 → nat-self → rtb-self-nat (loop)",)


def test_paths_are_typed_sorted_and_cached(basics: Model) -> None:
    sn = the_subnet(basics, "subnet-pl")
    found = subnet_reachability(basics, sn)
    assert subnet_reachability(basics, sn) is found
    assert [p.text for p in found.paths] == sorted(p.text for p in found.paths)
    first = found.paths[0]
    assert first == Path("internet", "ipv4", (Hop("subnet", "subnet-pl"),
                                              Hop("route_table", "rtb-pl", "pl-partners (198.51.100.0/24)"),
                                              Hop("igw", "igw-1")))
    assert found.of("internet", "ipv6") == () and found.of("internet") == found.paths
    mixed = subnet_reachability(basics, the_subnet(basics, "subnet-vgw"))
    assert [p.destination for p in mixed.paths] == ["on_premises"]


def test_an_interface_has_its_subnets_paths_from_itself(basics: Model) -> None:
    found = interface_reachability(basics, the_eni(basics, "eni-web"))
    assert [(p.destination, p.family, p.text) for p in found.paths] == [
        ("internet", "ipv4", "eni-web → subnet-igw → rtb-igw 0.0.0.0/0 → igw-1")]
    assert interface_reachability(basics, the_eni(basics, "eni-web")) is found


def test_derived_attributes_carry_the_paths_and_their_evidence(basics: Model) -> None:
    sn = the_subnet(basics, "subnet-main")
    got = resolve(basics, sn, "internet_egress_paths")
    assert got.missing == () and got.value == ("subnet-main → rtb-main 0.0.0.0/0 → nat-pub → rtb-igw 0.0.0.0/0 → igw-1",)
    records = {s.record.split("/")[-1] for s in got.sources}
    assert {"DescribeRouteTables.json", "DescribeNatGateways.json", "DescribeInternetGateways.json"} <= records
    assert resolve(basics, sn, "internet_egress_paths_ipv6").value == ()
    assert resolve(basics, the_subnet(basics, "subnet-v6"), "internet_egress_paths_ipv6").value == (
        "subnet-v6 → rtb-v6 ::/0 → igw-1",)
    assert resolve(basics, the_subnet(basics, "subnet-vgw"), "on_premises_paths").value == (
        "subnet-vgw → rtb-vgw 192.168.0.0/16 → vgw-1",)
    # Nothing definite and something unknown: null, so that a rule says ERROR.
    unknown = the_subnet(basics, "subnet-nat-missing")
    assert resolve(basics, unknown, "internet_egress_paths").value is None
    assert resolve(basics, unknown, "on_premises_paths").value is None
    assert len(resolve(basics, unknown, "reachability_unknowns").value) == 1
    assert resolve(basics, the_subnet(basics, "subnet-self-nat"), "routing_loops").value == (
        "subnet-self-nat → rtb-self-nat 0.0.0.0/0 → nat-self → rtb-self-nat (loop)",)
    assert resolve(basics, the_eni(basics, "eni-web"), "internet_egress_paths").value == (
        "eni-web → subnet-igw → rtb-igw 0.0.0.0/0 → igw-1",)


def test_a_missing_call_is_reported_as_missing() -> None:
    calls = {k: v for k, v in BASICS.items() if k != "ec2:DescribeNatGateways"}
    records = records_for(Case("TEST", "estate", "-", 0, calls, failed=("ec2:DescribeNatGateways",)))
    model = build_model(records)
    got = resolve(model, the_subnet(model, "subnet-igw"), "internet_egress_paths")
    assert got.missing == ("ec2:DescribeNatGateways",)


# -- transit gateways: central egress and the rest ----------------------------------------

def tgw_estate(*, spokes: list[dict[str, Any]] | None = None, spoke_table: list[dict[str, str]] | None = None,
               egress_attachment_subnets: bool = True, spokes_collected: bool = True) -> Calls:
    """The issue's central egress estate: spoke vpc-a (subnet-a, table rtb-1) sends 0.0.0.0/0 to
    tgw-1, whose table tgw-rtb-2 (associated with vpc-a's attachment) sends it to the egress VPC's
    attachment; there rtb-7 sends it to nat-9, whose subnet's table rtb-3 sends it to igw-4. Spoke
    vpc-b, a VPN and a Direct Connect gateway hang off the same transit gateway."""
    att = lambda aid, rtype, rid, rtb: {  # noqa: E731
        "TransitGatewayAttachmentId": aid, "TransitGatewayId": "tgw-1", "ResourceType": rtype, "ResourceId": rid,
        "State": "available", "Association": {"TransitGatewayRouteTableId": rtb, "State": "associated"}}
    to = lambda dest, aid, state="active": {  # noqa: E731
        "DestinationCidrBlock": dest, "State": state, "Type": "static",
        **({"TransitGatewayAttachments": [{"TransitGatewayAttachmentId": aid}]} if aid else {})}
    spokes = spokes if spokes is not None else [
        to("0.0.0.0/0", "tgw-attach-egress"), to("10.0.0.0/8", "", "blackhole"), to("10.1.0.0/16", "tgw-attach-b"),
        to("172.16.0.0/12", "tgw-attach-vpn"), to("192.168.0.0/16", "tgw-attach-dx")]
    search = [{"params": {"TransitGatewayRouteTableId": "tgw-rtb-egress"}, "response": {"Routes": [
        to("10.0.0.0/16", "tgw-attach-a"), to("10.1.0.0/16", "tgw-attach-b")]}}]
    if spokes_collected:
        search.append({"params": {"TransitGatewayRouteTableId": "tgw-rtb-2"}, "response": {"Routes": spokes}})
    vpc_atts = [{"TransitGatewayAttachmentId": "tgw-attach-a", "SubnetIds": ["subnet-a-tgw"]},
                {"TransitGatewayAttachmentId": "tgw-attach-b", "SubnetIds": ["subnet-b"]}]
    if egress_attachment_subnets:
        vpc_atts.append({"TransitGatewayAttachmentId": "tgw-attach-egress", "SubnetIds": ["subnet-e-tgw"]})
    return {
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"},
                                      {"VpcId": "vpc-b", "CidrBlock": "10.1.0.0/16"},
                                      {"VpcId": "vpc-egress", "CidrBlock": "10.99.0.0/16"}]},
        "ec2:DescribeSubnets": {"Subnets": [
            subnet("subnet-a", "vpc-a", "10.0.1.0/24"), subnet("subnet-a-tgw", "vpc-a", "10.0.250.0/28"),
            subnet("subnet-b", "vpc-b", "10.1.1.0/24"), subnet("subnet-e-tgw", "vpc-egress", "10.99.1.0/24"),
            subnet("subnet-e-pub", "vpc-egress", "10.99.2.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [
            table("rtb-1", "vpc-a", local("10.0.0.0/16"),
                  *(spoke_table if spoke_table is not None else [route("0.0.0.0/0", TransitGatewayId="tgw-1")]),
                  subnets=["subnet-a"]),
            table("rtb-a-tgw", "vpc-a", local("10.0.0.0/16"), subnets=["subnet-a-tgw"]),
            table("rtb-b", "vpc-b", local("10.1.0.0/16"), route("0.0.0.0/0", TransitGatewayId="tgw-1"), main=True),
            table("rtb-7", "vpc-egress", local("10.99.0.0/16"), route("0.0.0.0/0", NatGatewayId="nat-9"),
                  route("10.0.0.0/8", TransitGatewayId="tgw-1"), subnets=["subnet-e-tgw"]),
            table("rtb-3", "vpc-egress", local("10.99.0.0/16"), route("0.0.0.0/0", GatewayId="igw-4"),
                  route("10.0.0.0/8", TransitGatewayId="tgw-1"), subnets=["subnet-e-pub"])]},
        "ec2:DescribeInternetGateways": {"InternetGateways": [
            {"InternetGatewayId": "igw-4", "Attachments": [{"VpcId": "vpc-egress", "State": "available"}]}]},
        "ec2:DescribeNatGateways": {"NatGateways": [
            {"NatGatewayId": "nat-9", "VpcId": "vpc-egress", "SubnetId": "subnet-e-pub", "State": "available"}]},
        "ec2:DescribeTransitGateways": {"TransitGateways": [{"TransitGatewayId": "tgw-1", "State": "available"}]},
        "ec2:DescribeTransitGatewayAttachments": {"TransitGatewayAttachments": [
            att("tgw-attach-a", "vpc", "vpc-a", "tgw-rtb-2"), att("tgw-attach-b", "vpc", "vpc-b", "tgw-rtb-2"),
            att("tgw-attach-egress", "vpc", "vpc-egress", "tgw-rtb-egress"),
            att("tgw-attach-vpn", "vpn", "vpn-0dc1", "tgw-rtb-egress"),
            att("tgw-attach-dx", "direct-connect-gateway", "dxgw-1", "tgw-rtb-egress")]},
        "ec2:DescribeTransitGatewayVpcAttachments": {"TransitGatewayVpcAttachments": vpc_atts},
        "ec2:DescribeTransitGatewayRouteTables": {"TransitGatewayRouteTables": [
            {"TransitGatewayRouteTableId": "tgw-rtb-2", "TransitGatewayId": "tgw-1"},
            {"TransitGatewayRouteTableId": "tgw-rtb-egress", "TransitGatewayId": "tgw-1"}]},
        "ec2:SearchTransitGatewayRoutes": search,
    }


CENTRAL_EGRESS = ("subnet-a → rtb-1 0.0.0.0/0 → tgw-1 → tgw-rtb-2 0.0.0.0/0 → attachment vpc-egress → rtb-7 0.0.0.0/0 "
                  "→ nat-9 → rtb-3 0.0.0.0/0 → igw-4")


def test_central_egress_is_the_issues_path_exactly() -> None:
    model = model_of(tgw_estate())
    assert paths(model, "subnet-a") == {
        ("internet", "ipv4", CENTRAL_EGRESS),
        # 10.0.0.0/8 is a blackhole in the spoke table, but 10.1.0.0/16 is more specific.
        ("vpc", "ipv4", "subnet-a → rtb-1 0.0.0.0/0 → tgw-1 → tgw-rtb-2 10.1.0.0/16 → attachment vpc-b → "
                        "rtb-b 10.1.0.0/16 → vpc-b"),
        ("on_premises", "ipv4", "subnet-a → rtb-1 0.0.0.0/0 → tgw-1 → tgw-rtb-2 172.16.0.0/12 → attachment vpn-0dc1"),
        ("on_premises", "ipv4", "subnet-a → rtb-1 0.0.0.0/0 → tgw-1 → tgw-rtb-2 192.168.0.0/16 → attachment dxgw-1")}
    found = subnet_reachability(model, the_subnet(model, "subnet-a"))
    assert [p.destination for p in found.paths] == ["internet", "on_premises", "on_premises", "vpc"]
    internet = found.paths[0]
    assert [h.kind for h in internet.hops] == ["subnet", "route_table", "tgw", "tgw_route_table", "attachment",
                                               "route_table", "nat", "route_table", "igw"]
    assert internet.hops[4] == Hop("attachment", "tgw-attach-egress", "", "vpc-egress")
    # The egress VPC's own subnets: straight out, and back to the spokes through the transit gateway.
    assert paths(model, "subnet-e-pub") == {
        ("internet", "ipv4", "subnet-e-pub → rtb-3 0.0.0.0/0 → igw-4"),
        ("vpc", "ipv4", "subnet-e-pub → rtb-3 10.0.0.0/8 → tgw-1 → tgw-rtb-egress 10.0.0.0/16 → attachment vpc-a → "
                        "rtb-a-tgw 10.0.0.0/16 → vpc-a"),
        ("vpc", "ipv4", "subnet-e-pub → rtb-3 10.0.0.0/8 → tgw-1 → tgw-rtb-egress 10.1.0.0/16 → attachment vpc-b → "
                        "rtb-b 10.1.0.0/16 → vpc-b")}


def test_a_transit_gateway_blackhole_carries_nothing() -> None:
    to_egress_blackholed = [{"DestinationCidrBlock": "0.0.0.0/0", "State": "blackhole", "Type": "static"}]
    assert paths(model_of(tgw_estate(spokes=to_egress_blackholed)), "subnet-a") == set()


def test_transit_gateway_routes_not_collected_are_indeterminate() -> None:
    model = model_of(tgw_estate(spokes_collected=False))
    assert paths(model, "subnet-a", unknown=(
        "tgw-rtb-2: routes not collected (ec2:SearchTransitGatewayRoutes)",)) == set()
    assert resolve(model, the_subnet(model, "subnet-a"), "internet_egress_paths").value is None


def test_unknown_attachment_subnets_are_indeterminate_but_other_paths_stand() -> None:
    model = model_of(tgw_estate(egress_attachment_subnets=False))
    found = paths(model, "subnet-a", unknown=(
        "tgw-attach-egress: attachment subnets unknown (ec2:DescribeTransitGatewayVpcAttachments)",))
    assert {d for d, _, _ in found} == {"vpc", "on_premises"}
    assert resolve(model, the_subnet(model, "subnet-a"), "internet_egress_paths").value is None
    assert len(resolve(model, the_subnet(model, "subnet-a"), "on_premises_paths").value) == 2


def test_longest_prefix_private_traffic_goes_nowhere_on_the_internet() -> None:
    # The spoke sends only 10.0.0.0/8 to the transit gateway; its default route there leads to the
    # egress VPC, where 10.0.0.0/8 goes back to the transit gateway (more specific than the NAT route).
    model = model_of(tgw_estate(spoke_table=[route("10.0.0.0/8", TransitGatewayId="tgw-1")],
                                spokes=[{"DestinationCidrBlock": "0.0.0.0/0", "State": "active", "TransitGatewayAttachments": [
                                    {"TransitGatewayAttachmentId": "tgw-attach-egress"}]}]))
    assert paths(model, "subnet-a") == {
        ("vpc", "ipv4", "subnet-a → rtb-1 10.0.0.0/8 → tgw-1 → tgw-rtb-2 0.0.0.0/0 → attachment vpc-egress → "
                        "rtb-7 10.0.0.0/8 → tgw-1 → tgw-rtb-egress 10.1.0.0/16 → attachment vpc-b → "
                        "rtb-b 10.1.0.0/16 → vpc-b"),
        ("vpc", "ipv4", "subnet-a → rtb-1 10.0.0.0/8 → tgw-1 → tgw-rtb-2 0.0.0.0/0 → attachment vpc-egress → "
                        "rtb-7 10.99.0.0/16 → vpc-egress")}


def test_a_private_nat_gateway_continues_to_the_central_egress() -> None:
    calls = tgw_estate()
    calls["ec2:DescribeSubnets"]["Subnets"].append(subnet("subnet-pnat", "vpc-a", "10.0.2.0/24"))
    calls["ec2:DescribeRouteTables"]["RouteTables"] += [
        table("rtb-pnat", "vpc-a", local("10.0.0.0/16"), route("0.0.0.0/0", NatGatewayId="nat-p"),
              subnets=["subnet-pnat"])]
    calls["ec2:DescribeNatGateways"]["NatGateways"].append(
        {"NatGatewayId": "nat-p", "VpcId": "vpc-a", "SubnetId": "subnet-a", "State": "available",
         "ConnectivityType": "private"})
    model = model_of(calls)
    assert ("internet", "ipv4", "subnet-pnat → rtb-pnat 0.0.0.0/0 → nat-p → " + CENTRAL_EGRESS[len("subnet-a → "):]
            ) in paths(model, "subnet-pnat")


def test_an_internet_gateway_drops_what_a_private_nat_gateway_translated() -> None:
    """AWS: an internet gateway drops traffic from a private NAT gateway; a public NAT gateway
    translating it again makes it internet traffic once more."""
    calls = tgw_estate()
    calls["ec2:DescribeSubnets"]["Subnets"] += [subnet("subnet-pnat", "vpc-a", "10.0.2.0/24"),
                                                subnet("subnet-natsub", "vpc-a", "10.0.3.0/24")]
    calls["ec2:DescribeRouteTables"]["RouteTables"] += [
        table("rtb-pnat", "vpc-a", local("10.0.0.0/16"), route("0.0.0.0/0", NatGatewayId="nat-p"),
              subnets=["subnet-pnat"]),
        table("rtb-natsub", "vpc-a", local("10.0.0.0/16"), route("0.0.0.0/0", GatewayId="igw-a"),
              subnets=["subnet-natsub"])]
    calls["ec2:DescribeNatGateways"]["NatGateways"].append(
        {"NatGatewayId": "nat-p", "VpcId": "vpc-a", "SubnetId": "subnet-natsub", "State": "available",
         "ConnectivityType": "private"})
    calls["ec2:DescribeInternetGateways"] = {"InternetGateways": [
        {"InternetGatewayId": "igw-a", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]}]}
    model = model_of(calls)
    assert not any(d == "internet" for d, _, _ in paths(model, "subnet-pnat"))
    # the NAT's own subnet still reaches the internet directly
    assert ("internet", "ipv4", "subnet-natsub → rtb-natsub 0.0.0.0/0 → igw-a") in paths(model, "subnet-natsub")


def test_longest_prefix_peering_beats_the_transit_gateway() -> None:
    via = lambda dest, aid: {"DestinationCidrBlock": dest, "State": "active",  # noqa: E731
                             "TransitGatewayAttachments": [{"TransitGatewayAttachmentId": aid}]}
    calls = tgw_estate(spoke_table=[route("10.0.0.0/8", TransitGatewayId="tgw-1"),
                                    route("10.1.0.0/16", VpcPeeringConnectionId="pcx-ab")],
                       spokes=[via("10.1.0.0/16", "tgw-attach-b"), via("10.0.0.0/8", "tgw-attach-egress")])
    calls["ec2:DescribeVpcPeeringConnections"] = {"VpcPeeringConnections": [
        {"VpcPeeringConnectionId": "pcx-ab", "Status": {"Code": "active"},
         "RequesterVpcInfo": {"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"},
         "AccepterVpcInfo": {"VpcId": "vpc-b", "CidrBlock": "10.1.0.0/16"}}]}
    model = model_of(calls)
    # vpc-b is reached through the peering only: the spoke's more specific route takes 10.1.0.0/16,
    # so the transit gateway's route to vpc-b never sees it; the rest of 10.0.0.0/8 goes to the egress
    # VPC, delivered there (its own CIDR) or sent back to the transit gateway, which has nowhere to put it.
    assert paths(model, "subnet-a") == {
        ("vpc", "ipv4", "subnet-a → rtb-1 10.1.0.0/16 → pcx-ab 10.1.0.0/16 → vpc-b"),
        ("vpc", "ipv4", "subnet-a → rtb-1 10.0.0.0/8 → tgw-1 → tgw-rtb-2 10.0.0.0/8 → attachment vpc-egress → "
                        "rtb-7 10.99.0.0/16 → vpc-egress")}


def test_peering_reaches_the_peers_cidrs_only_and_never_its_internet_gateway() -> None:
    calls: Calls = {
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"},
                                      {"VpcId": "vpc-peer", "CidrBlock": "10.5.0.0/16"}]},
        "ec2:DescribeSubnets": {"Subnets": [subnet("subnet-wide", "vpc-a", "10.0.1.0/24"),
                                            subnet("subnet-narrow", "vpc-a", "10.0.2.0/24"),
                                            subnet("subnet-elsewhere", "vpc-a", "10.0.3.0/24"),
                                            subnet("subnet-peer", "vpc-peer", "10.5.1.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [
            table("rtb-wide", "vpc-a", local("10.0.0.0/16"), route("0.0.0.0/0", VpcPeeringConnectionId="pcx-1"),
                  subnets=["subnet-wide"]),
            table("rtb-narrow", "vpc-a", local("10.0.0.0/16"), route("10.5.1.0/24", VpcPeeringConnectionId="pcx-1"),
                  subnets=["subnet-narrow"]),
            table("rtb-elsewhere", "vpc-a", local("10.0.0.0/16"),
                  route("192.168.0.0/16", VpcPeeringConnectionId="pcx-1"), subnets=["subnet-elsewhere"]),
            table("rtb-peer", "vpc-peer", local("10.5.0.0/16"), route("0.0.0.0/0", GatewayId="igw-peer"),
                  route("10.0.0.0/16", VpcPeeringConnectionId="pcx-1"), main=True)]},
        "ec2:DescribeVpcPeeringConnections": {"VpcPeeringConnections": [
            {"VpcPeeringConnectionId": "pcx-1", "Status": {"Code": "active"},
             "RequesterVpcInfo": {"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"},
             "AccepterVpcInfo": {"VpcId": "vpc-peer", "CidrBlock": "10.5.0.0/16"}}]},
    }
    model = model_of(calls)
    assert paths(model, "subnet-wide") == {("vpc", "ipv4", "subnet-wide → rtb-wide 0.0.0.0/0 → pcx-1 10.5.0.0/16 → vpc-peer")}
    assert paths(model, "subnet-narrow") == {
        ("vpc", "ipv4", "subnet-narrow → rtb-narrow 10.5.1.0/24 → pcx-1 10.5.1.0/24 → vpc-peer")}
    assert paths(model, "subnet-elsewhere") == set()
    assert paths(model, "subnet-peer") == {
        ("internet", "ipv4", "subnet-peer → rtb-peer 0.0.0.0/0 → igw-peer"),
        ("vpc", "ipv4", "subnet-peer → rtb-peer 10.0.0.0/16 → pcx-1 10.0.0.0/16 → vpc-a")}


def _loop_estate() -> Calls:
    att = lambda aid, vpc, rtb: {  # noqa: E731
        "TransitGatewayAttachmentId": aid, "TransitGatewayId": "tgw-1", "ResourceType": "vpc", "ResourceId": vpc,
        "State": "available", "Association": {"TransitGatewayRouteTableId": rtb}}
    default_to = lambda aid: {"Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "State": "active",  # noqa: E731
                                          "TransitGatewayAttachments": [{"TransitGatewayAttachmentId": aid}]}]}
    return {
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-x", "CidrBlock": "10.5.0.0/16"},
                                      {"VpcId": "vpc-y", "CidrBlock": "10.6.0.0/16"}]},
        "ec2:DescribeSubnets": {"Subnets": [subnet("subnet-x", "vpc-x", "10.5.1.0/24"),
                                            subnet("subnet-y", "vpc-y", "10.6.1.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [
            table("rtb-x", "vpc-x", local("10.5.0.0/16"), route("0.0.0.0/0", TransitGatewayId="tgw-1"), main=True),
            table("rtb-y", "vpc-y", local("10.6.0.0/16"), route("0.0.0.0/0", TransitGatewayId="tgw-1"), main=True)]},
        "ec2:DescribeTransitGateways": {"TransitGateways": [{"TransitGatewayId": "tgw-1"}]},
        "ec2:DescribeTransitGatewayAttachments": {"TransitGatewayAttachments": [
            att("tgw-attach-x", "vpc-x", "tgw-rtb-x"), att("tgw-attach-y", "vpc-y", "tgw-rtb-y")]},
        "ec2:DescribeTransitGatewayVpcAttachments": {"TransitGatewayVpcAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-x", "SubnetIds": ["subnet-x"]},
            {"TransitGatewayAttachmentId": "tgw-attach-y", "SubnetIds": ["subnet-y"]}]},
        "ec2:DescribeTransitGatewayRouteTables": {"TransitGatewayRouteTables": [
            {"TransitGatewayRouteTableId": "tgw-rtb-x", "TransitGatewayId": "tgw-1"},
            {"TransitGatewayRouteTableId": "tgw-rtb-y", "TransitGatewayId": "tgw-1"}]},
        "ec2:SearchTransitGatewayRoutes": [
            {"params": {"TransitGatewayRouteTableId": "tgw-rtb-x"}, "response": default_to("tgw-attach-y")},
            {"params": {"TransitGatewayRouteTableId": "tgw-rtb-y"}, "response": default_to("tgw-attach-x")}],
    }


def test_a_routing_loop_between_two_vpcs_is_cut_and_reported() -> None:
    model = model_of(_loop_estate())
    for me, other, my_cidr, other_cidr in (("x", "y", "10.5.0.0/16", "10.6.0.0/16"),
                                           ("y", "x", "10.6.0.0/16", "10.5.0.0/16")):
        found = subnet_reachability(model, the_subnet(model, f"subnet-{me}"))
        assert found.indeterminate == ()
        assert [(p.destination, p.text) for p in found.paths] == [
            ("vpc", f"subnet-{me} → rtb-{me} 0.0.0.0/0 → tgw-1 → tgw-rtb-{me} 0.0.0.0/0 → attachment vpc-{other} → "
                    f"rtb-{other} {other_cidr} → vpc-{other}")]
        assert found.loops == (
            f"subnet-{me} → rtb-{me} 0.0.0.0/0 → tgw-1 → tgw-rtb-{me} 0.0.0.0/0 → attachment vpc-{other} → "
            f"rtb-{other} 0.0.0.0/0 → tgw-1 → tgw-rtb-{other} 0.0.0.0/0 → attachment vpc-{me} → rtb-{me} (loop)",)
        assert my_cidr not in found.paths[0].text


def _peered_tgw(peer_side: bool) -> Model:
    """tgw-1 (eu-west-1) sends the default route over a peering attachment to tgw-2 (us-east-1),
    whose table sends it to an egress VPC with an internet gateway."""
    local_side: Calls = {
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]},
        "ec2:DescribeSubnets": {"Subnets": [subnet("subnet-a", "vpc-a", "10.0.1.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [
            table("rtb-1", "vpc-a", local("10.0.0.0/16"), route("0.0.0.0/0", TransitGatewayId="tgw-1"), main=True)]},
        "ec2:DescribeTransitGateways": {"TransitGateways": [{"TransitGatewayId": "tgw-1"}]},
        "ec2:DescribeTransitGatewayAttachments": {"TransitGatewayAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-a", "TransitGatewayId": "tgw-1", "ResourceType": "vpc",
             "ResourceId": "vpc-a", "State": "available", "Association": {"TransitGatewayRouteTableId": "tgw-rtb-1"}},
            {"TransitGatewayAttachmentId": "tgw-attach-peer", "TransitGatewayId": "tgw-1", "ResourceType": "peering",
             "ResourceId": "tgw-2", "State": "available"}]},
        "ec2:DescribeTransitGatewayVpcAttachments": {"TransitGatewayVpcAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-a", "SubnetIds": ["subnet-a"]}]},
        "ec2:DescribeTransitGatewayRouteTables": {"TransitGatewayRouteTables": [
            {"TransitGatewayRouteTableId": "tgw-rtb-1", "TransitGatewayId": "tgw-1"}]},
        "ec2:SearchTransitGatewayRoutes": [{"params": {"TransitGatewayRouteTableId": "tgw-rtb-1"}, "response": {
            "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "State": "active", "TransitGatewayAttachments": [
                {"TransitGatewayAttachmentId": "tgw-attach-peer"}]}]}}],
    }
    far_side: Calls = {
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-far", "CidrBlock": "10.200.0.0/16"}]},
        "ec2:DescribeSubnets": {"Subnets": [subnet("subnet-far", "vpc-far", "10.200.1.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [
            table("rtb-far", "vpc-far", local("10.200.0.0/16"), route("0.0.0.0/0", GatewayId="igw-far"), main=True)]},
        "ec2:DescribeTransitGateways": {"TransitGateways": [{"TransitGatewayId": "tgw-2"}]},
        "ec2:DescribeTransitGatewayAttachments": {"TransitGatewayAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-far", "TransitGatewayId": "tgw-2", "ResourceType": "vpc",
             "ResourceId": "vpc-far", "State": "available", "Association": {"TransitGatewayRouteTableId": "tgw-rtb-9"}},
            {"TransitGatewayAttachmentId": "tgw-attach-peer", "TransitGatewayId": "tgw-2", "ResourceType": "peering",
             "ResourceId": "tgw-1", "State": "available", "Association": {"TransitGatewayRouteTableId": "tgw-rtb-9"}}]},
        "ec2:DescribeTransitGatewayVpcAttachments": {"TransitGatewayVpcAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-far", "SubnetIds": ["subnet-far"]}]},
        "ec2:DescribeTransitGatewayRouteTables": {"TransitGatewayRouteTables": [
            {"TransitGatewayRouteTableId": "tgw-rtb-9", "TransitGatewayId": "tgw-2"}]},
        "ec2:SearchTransitGatewayRoutes": [{"params": {"TransitGatewayRouteTableId": "tgw-rtb-9"}, "response": {
            "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "State": "active", "TransitGatewayAttachments": [
                {"TransitGatewayAttachmentId": "tgw-attach-far"}]}]}}],
    }
    return model_of(local_side, *([("us-east-1", far_side)] if peer_side else []))


def test_a_transit_gateway_peering_continues_on_the_peer_when_the_model_has_it() -> None:
    far = "subnet-a → rtb-1 0.0.0.0/0 → tgw-1 → tgw-rtb-1 0.0.0.0/0 → attachment tgw-2 → tgw-2 → tgw-rtb-9 0.0.0.0/0 → "
    assert paths(_peered_tgw(True), "subnet-a") == {
        ("internet", "ipv4", far + "attachment vpc-far → rtb-far 0.0.0.0/0 → igw-far"),
        ("vpc", "ipv4", far + "attachment vpc-far → rtb-far 10.200.0.0/16 → vpc-far")}
    assert paths(_peered_tgw(False), "subnet-a", unknown=(
        "tgw-attach-peer: peering attachment to tgw-2, whose side of it is not in the model; not followed",)) == set()


def test_a_route_to_a_transit_gateway_the_vpc_is_not_attached_to_is_indeterminate() -> None:
    calls = tgw_estate()
    calls["ec2:DescribeTransitGatewayAttachments"]["TransitGatewayAttachments"] = [
        a for a in calls["ec2:DescribeTransitGatewayAttachments"]["TransitGatewayAttachments"]
        if a["ResourceId"] != "vpc-a"]
    assert paths(model_of(calls), "subnet-a", unknown=(
        "tgw-1: no attachment of vpc-a to the transit gateway in the model (ec2:DescribeTransitGatewayAttachments)",
    )) == set()


# -- unknown is never "no path": every branch where data is absent -----------------------------

@functools.lru_cache(maxsize=1)
def _pn014_pack() -> PackSet:
    packs = load_packs()
    rule = packs.rule("PN-014")
    return PackSet(tuple(dataclasses.replace(p, rules=(rule,)) for p in packs.packs if p.id == rule.pack),
                   packs.registries)


def _pn014(model: Model, sid: str) -> str:
    """The status of rule PN-014 (no internet path) for one subnet."""
    [status] = [f.status for f in evaluate_rules(model, _pn014_pack(), Scope(), today=date(2025, 1, 1)).findings
                if f.resource.id == sid]
    return status


def _merged(base: Calls, extra: Calls) -> Calls:
    """`base` with `extra`'s items added to the same calls (list responses are appended)."""
    out = {k: (list(v) if isinstance(v, list) else {kk: list(vv) for kk, vv in v.items()}) for k, v in base.items()}
    for key, value in extra.items():
        if isinstance(value, list):
            out[key] = [*out.get(key, []), *value]
        else:
            have = out.setdefault(key, {})
            for kk, vv in value.items():
                have[kk] = [*have.get(kk, []), *vv]
    return out


ONE_VPC: Calls = {
    "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]},
    "ec2:DescribeSubnets": {"Subnets": [subnet("subnet-s", "vpc-a", "10.0.1.0/24"),
                                        subnet("subnet-pub", "vpc-a", "10.0.2.0/24")]},
    "ec2:DescribeRouteTables": {"RouteTables": [
        table("rtb-pub", "vpc-a", local("10.0.0.0/16"), route("0.0.0.0/0", GatewayId="igw-1"), subnets=["subnet-pub"])]},
    "ec2:DescribeInternetGateways": {"InternetGateways": [
        {"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]}]},
}


def one_route(target: dict[str, str], extra: Calls | None = None, dest: str = "0.0.0.0/0") -> Model:
    """subnet-s, whose table rtb-s sends `dest` to `target`; subnet-pub routes to igw-1, so
    anything that continues through subnet-pub's table reaches the internet."""
    calls = _merged(ONE_VPC, {"ec2:DescribeRouteTables": {"RouteTables": [
        table("rtb-s", "vpc-a", local("10.0.0.0/16"), route(dest, **target), subnets=["subnet-s"])]}})
    return model_of(_merged(calls, extra or {}))


def _eni(eid: str, sid: str, **more: Any) -> dict[str, Any]:
    return {"NetworkInterfaceId": eid, "VpcId": "vpc-a", "SubnetId": sid, "InterfaceType": "interface", **more}


# Each case: a route to something the model lacks (or cannot read) and the exact reason given.
ABSENT: dict[str, tuple[dict[str, str], Calls, str]] = {
    "nat gateway not in the model": ({"NatGatewayId": "nat-x"}, {}, (
        "nat-x: NAT gateway not in the model (ec2:DescribeNatGateways); route rtb-s 0.0.0.0/0 → nat-x not followed")),
    "NAT gateway's subnet not in the model": ({"NatGatewayId": "nat-1"}, {"ec2:DescribeNatGateways": {"NatGateways": [
        {"NatGatewayId": "nat-1", "VpcId": "vpc-a", "SubnetId": "subnet-gone", "State": "available"}]}}, (
        "subnet-gone: subnet not in the model (ec2:DescribeSubnets); nat-1 not followed")),
    "NAT gateway without a subnet": ({"NatGatewayId": "nat-1"}, {"ec2:DescribeNatGateways": {"NatGateways": [
        {"NatGatewayId": "nat-1", "VpcId": "vpc-a", "State": "available"}]}}, "nat-1: its subnet is unknown; not followed"),
    "NAT gateway in a VPC without a main route table": ({"NatGatewayId": "nat-1"}, {
        "ec2:DescribeSubnets": {"Subnets": [subnet("subnet-n", "vpc-n", "10.9.1.0/24")]},
        "ec2:DescribeNatGateways": {"NatGateways": [
            {"NatGatewayId": "nat-1", "VpcId": "vpc-n", "SubnetId": "subnet-n", "State": "available"}]}}, (
        "subnet-n: effective route table unknown (ec2:DescribeRouteTables); nat-1 not followed")),
    "instance not in the model": ({"InstanceId": "i-x"}, {}, (
        "i-x: instance not in the model (ec2:DescribeInstances); route rtb-s 0.0.0.0/0 → i-x not followed")),
    "an interface of the instance not in the model": ({"InstanceId": "i-1"}, {
        "ec2:DescribeInstances": {"Reservations": [{"Instances": [
            {"InstanceId": "i-1", "VpcId": "vpc-a", "SubnetId": "subnet-s", "SourceDestCheck": False,
             "NetworkInterfaces": [{"NetworkInterfaceId": "eni-1"}, {"NetworkInterfaceId": "eni-2"}]}]}]},
        "ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": [
            _eni("eni-1", "subnet-s", Attachment={"InstanceId": "i-1"})]}}, (
        "eni-2: network interface of i-1 not in the model (ec2:DescribeNetworkInterfaces); not followed")),
    "network interface not in the model": ({"NetworkInterfaceId": "eni-x"}, {}, (
        "eni-x: network interface not in the model (ec2:DescribeNetworkInterfaces); route rtb-s 0.0.0.0/0 → eni-x "
        "not followed")),
    "the appliance instance of an interface not in the model": ({"NetworkInterfaceId": "eni-1"}, {
        "ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": [
            _eni("eni-1", "subnet-s", Attachment={"InstanceId": "i-gone"})]}}, (
        "i-gone: instance of eni-1 not in the model (ec2:DescribeInstances); its other interfaces not followed")),
    "VPC endpoint not in the model": ({"GatewayId": "vpce-x"}, {}, (
        "vpce-x: VPC endpoint not in the model (ec2:DescribeVpcEndpoints); route rtb-s 0.0.0.0/0 → vpce-x not "
        "followed")),
    "VPC endpoint of no known type": ({"GatewayId": "vpce-1"}, {"ec2:DescribeVpcEndpoints": {"VpcEndpoints": [
        {"VpcEndpointId": "vpce-1", "VpcId": "vpc-a", "SubnetIds": ["subnet-pub"], "State": "available"}]}}, (
        "vpce-1: VPC endpoint type '(none)' not known (ec2:DescribeVpcEndpoints); route rtb-s 0.0.0.0/0 → vpce-1 "
        "not followed")),
    "Gateway Load Balancer endpoint without subnets": ({"GatewayId": "vpce-1"}, {"ec2:DescribeVpcEndpoints": {
        "VpcEndpoints": [{"VpcEndpointId": "vpce-1", "VpcId": "vpc-a", "VpcEndpointType": "GatewayLoadBalancer",
                          "State": "available"}]}}, "vpce-1: its subnet is unknown; not followed"),
    "peering connection not in the model": ({"VpcPeeringConnectionId": "pcx-x"}, {}, (
        "pcx-x: peering connection not in the model (ec2:DescribeVpcPeeringConnections)")),
    "peering connection without a status": ({"VpcPeeringConnectionId": "pcx-1"}, {
        "ec2:DescribeVpcPeeringConnections": {"VpcPeeringConnections": [
            {"VpcPeeringConnectionId": "pcx-1", "RequesterVpcInfo": {"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"},
             "AccepterVpcInfo": {"VpcId": "vpc-p", "CidrBlock": "10.5.0.0/16"}}]}}, (
        "pcx-1: peering connection status '(none)' not known (ec2:DescribeVpcPeeringConnections); not followed")),
    "peering connection without the peer's CIDRs": ({"VpcPeeringConnectionId": "pcx-1"}, {
        "ec2:DescribeVpcPeeringConnections": {"VpcPeeringConnections": [
            {"VpcPeeringConnectionId": "pcx-1", "Status": {"Code": "active"},
             "RequesterVpcInfo": {"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"},
             "AccepterVpcInfo": {"VpcId": "vpc-p"}}]}}, "pcx-1: CIDRs of the peer VPC vpc-p not reported"),
    "peering connection without its sides": ({"VpcPeeringConnectionId": "pcx-1"}, {
        "ec2:DescribeVpcPeeringConnections": {"VpcPeeringConnections": [
            {"VpcPeeringConnectionId": "pcx-1", "Status": {"Code": "active"}}]}}, (
        "pcx-1: peering sides unknown or not of vpc-a")),
    "transit gateway the VPC has no attachment to in the model": ({"TransitGatewayId": "tgw-x"}, {}, (
        "tgw-x: no attachment of vpc-a to the transit gateway in the model (ec2:DescribeTransitGatewayAttachments)")),
    "target of no known kind": ({"GatewayId": "xgw-1"}, {}, (
        "route rtb-s 0.0.0.0/0 → xgw-1: target of kind 'unknown' is not analysed")),
    "Cloud WAN core network": ({"CoreNetworkArn": "arn:aws:networkmanager::1:core-network/cn-1"}, {}, (
        "route rtb-s 0.0.0.0/0 → arn:aws:networkmanager::1:core-network/cn-1: Cloud WAN core network is not "
        "analysed")),
}


@pytest.mark.parametrize("case", sorted(ABSENT))
def test_a_route_to_something_the_model_lacks_is_unknown_never_no_path(case: str) -> None:
    target, extra, reason = ABSENT[case]
    model = one_route(target, extra)
    assert paths(model, "subnet-s", unknown=(reason,)) == set()
    sn = the_subnet(model, "subnet-s")
    assert resolve(model, sn, "internet_egress_paths").value is None
    assert resolve(model, sn, "reachability_unknowns").value == (reason,)
    assert _pn014(model, "subnet-s") == "ERROR"
    assert _pn014(model, "subnet-pub") == "FAIL"   # the same estate's definite path still fails


def test_the_same_routes_with_their_data_present_are_followed() -> None:
    """The control of the cases above: with the data there, each target is followed to the internet
    (so the cases test the absence, not some other difference)."""
    enis = {"ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": [_eni("eni-1", "subnet-pub")]}}
    present: dict[str, tuple[dict[str, str], Calls]] = {
        "nat": ({"NatGatewayId": "nat-1"}, {"ec2:DescribeNatGateways": {"NatGateways": [
            {"NatGatewayId": "nat-1", "VpcId": "vpc-a", "SubnetId": "subnet-pub", "State": "available"}]}}),
        "instance": ({"InstanceId": "i-1"}, {"ec2:DescribeInstances": {"Reservations": [{"Instances": [
            {"InstanceId": "i-1", "VpcId": "vpc-a", "SubnetId": "subnet-pub",
             "NetworkInterfaces": [{"NetworkInterfaceId": "eni-1"}]}]}]},
            "ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": [
                _eni("eni-1", "subnet-pub", Attachment={"InstanceId": "i-1"})]}}),
        "eni": ({"NetworkInterfaceId": "eni-1"}, enis),
        "gwlbe": ({"GatewayId": "vpce-1"}, {"ec2:DescribeVpcEndpoints": {"VpcEndpoints": [
            {"VpcEndpointId": "vpce-1", "VpcId": "vpc-a", "VpcEndpointType": "GatewayLoadBalancer",
             "SubnetIds": ["subnet-pub"], "State": "available"}]}}),
    }
    for name, (target, extra) in present.items():
        model = one_route(target, extra)
        found = subnet_reachability(model, the_subnet(model, "subnet-s"))
        assert found.indeterminate == () and [p.destination for p in found.paths] == ["internet"], name
        assert _pn014(model, "subnet-s") == "FAIL", name


def test_an_unresolved_prefix_list_route_is_unknown() -> None:
    model = one_route({"GatewayId": "igw-1"}, dest="pl-x")
    reason = ("rtb-s: prefix list pl-x entries not collected (ec2:GetManagedPrefixListEntries); its route to igw-1 "
              "is not followed")
    assert paths(model, "subnet-s", unknown=(reason,)) == set()
    assert _pn014(model, "subnet-s") == "ERROR"


def test_a_route_without_a_destination_is_unknown() -> None:
    model = one_route({"NatGatewayId": "nat-x"}, dest="")
    assert paths(model, "subnet-s", unknown=(
        "rtb-s: a route to nat-x without a destination (ec2:DescribeRouteTables); not followed",)) == set()
    assert _pn014(model, "subnet-s") == "ERROR"


def test_a_subnet_of_a_vpc_without_a_main_route_table_is_unknown() -> None:
    model = model_of(_merged(ONE_VPC, {"ec2:DescribeSubnets": {"Subnets": [subnet("subnet-n", "vpc-n", "10.9.1.0/24")]}}))
    assert paths(model, "subnet-n", unknown=("subnet-n: effective route table unknown (ec2:DescribeRouteTables)",)) \
        == set()
    assert _pn014(model, "subnet-n") == "ERROR"


def test_an_interface_whose_subnet_is_not_in_the_model_is_unknown() -> None:
    model = model_of(_merged(ONE_VPC, {"ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": [
        _eni("eni-1", "subnet-gone")]}}))
    found = interface_reachability(model, the_eni(model, "eni-1"))
    assert found.paths == () and found.indeterminate == (
        "subnet-gone: subnet of eni-1 not in the model (ec2:DescribeSubnets)",)
    assert resolve(model, the_eni(model, "eni-1"), "internet_egress_paths").value is None


# Transit gateways: each case changes the central egress estate (tgw_estate) so that the spoke
# subnet-a's default route meets missing data on its way to the egress VPC.
def _spokes(*routes: dict[str, Any]) -> Calls:
    return tgw_estate(spokes=list(routes))


def _without(calls: Calls, key: str, items_key: str, drop: str) -> Calls:
    out = dict(calls)
    out[key] = {items_key: [x for x in calls[key][items_key] if drop not in x.values()]}
    return out


def _attachments(calls: Calls, change: Any) -> Calls:
    out = dict(calls)
    key = "ec2:DescribeTransitGatewayAttachments"
    out[key] = {"TransitGatewayAttachments": [change(dict(a)) for a in calls[key]["TransitGatewayAttachments"]]}
    return out


def _unassociated(a: dict[str, Any]) -> dict[str, Any]:
    if a["TransitGatewayAttachmentId"] == "tgw-attach-a":
        a.pop("Association")
    return a


def _vpc_attachment_subnets(calls: Calls, subnets: list[str]) -> Calls:
    out = dict(calls)
    out["ec2:DescribeTransitGatewayVpcAttachments"] = {"TransitGatewayVpcAttachments": [
        a if a["TransitGatewayAttachmentId"] != "tgw-attach-egress" else {**a, "SubnetIds": subnets}
        for a in calls["ec2:DescribeTransitGatewayVpcAttachments"]["TransitGatewayVpcAttachments"]]}
    return out


DEFAULT = {"DestinationCidrBlock": "0.0.0.0/0", "Type": "static"}
TGW_ABSENT: dict[str, tuple[Any, str]] = {
    # The issue's case: an active route whose attachment list is empty was followed to nothing.
    "active route with no attachment": (lambda: _spokes({**DEFAULT, "State": "active"}), (
        "tgw-rtb-2 0.0.0.0/0: active route with no attachment reported (ec2:SearchTransitGatewayRoutes); "
        "not followed")),
    "route without a state": (lambda: _spokes({**DEFAULT, "TransitGatewayAttachments": [
        {"TransitGatewayAttachmentId": "tgw-attach-egress"}]}), (
        "tgw-rtb-2 0.0.0.0/0: route state '(none)', not known to carry or drop traffic "
        "(ec2:SearchTransitGatewayRoutes); not followed")),
    "route in a passing state": (lambda: _spokes({**DEFAULT, "State": "pending", "TransitGatewayAttachments": [
        {"TransitGatewayAttachmentId": "tgw-attach-egress"}]}), (
        "tgw-rtb-2 0.0.0.0/0: route state 'pending', not known to carry or drop traffic "
        "(ec2:SearchTransitGatewayRoutes); not followed")),
    "route without a destination": (lambda: _spokes({"State": "active", "TransitGatewayAttachments": [
        {"TransitGatewayAttachmentId": "tgw-attach-egress"}]}), (
        "tgw-rtb-2: a route without a destination (ec2:SearchTransitGatewayRoutes); not followed")),
    "route to a prefix list that cannot be resolved": (lambda: _spokes(
        {"PrefixListId": "pl-x", "State": "active", "TransitGatewayAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-egress"}]}), (
        "tgw-rtb-2: prefix list pl-x entries not collected (ec2:GetManagedPrefixListEntries); its route is not "
        "followed")),
    "route to an attachment not in the model": (lambda: _spokes({**DEFAULT, "State": "active",
                                                                 "TransitGatewayAttachments": [
        {"TransitGatewayAttachmentId": "tgw-attach-gone"}]}), (
        "tgw-attach-gone: transit gateway attachment not in the model (ec2:DescribeTransitGatewayAttachments)")),
    "routes not collected": (lambda: tgw_estate(spokes_collected=False), (
        "tgw-rtb-2: routes not collected (ec2:SearchTransitGatewayRoutes)")),
    "associated route table not in the model": (lambda: _without(
        tgw_estate(), "ec2:DescribeTransitGatewayRouteTables", "TransitGatewayRouteTables", "tgw-rtb-2"), (
        "tgw-rtb-2: transit gateway route table not in the model (ec2:DescribeTransitGatewayRouteTables)")),
    "association unknown": (lambda: _attachments(tgw_estate(), _unassociated), (
        "tgw-attach-a: transit gateway route table association unknown "
        "(ec2:GetTransitGatewayRouteTableAssociations)")),
    "attachment subnets unknown": (lambda: tgw_estate(egress_attachment_subnets=False), (
        "tgw-attach-egress: attachment subnets unknown (ec2:DescribeTransitGatewayVpcAttachments)")),
    "attachment with no subnets": (lambda: _vpc_attachment_subnets(tgw_estate(), []), (
        "tgw-attach-egress: no attachment subnets reported (ec2:DescribeTransitGatewayVpcAttachments); "
        "not followed")),
    "attachment subnet not in the model": (lambda: _vpc_attachment_subnets(tgw_estate(), ["subnet-gone"]), (
        "subnet-gone: subnet not in the model (ec2:DescribeSubnets); tgw-attach-egress to vpc-egress not followed")),
    "attachment of a type not analysed": (lambda: _attachments(tgw_estate(), lambda a: {
        **a, **({"ResourceType": "connect"} if a["TransitGatewayAttachmentId"] == "tgw-attach-egress" else {})}), (
        "tgw-attach-egress: connect attachment is not analysed")),
    "attachment of no type": (lambda: _attachments(tgw_estate(), lambda a: {
        **a, **({"ResourceType": ""} if a["TransitGatewayAttachmentId"] == "tgw-attach-egress" else {})}), (
        "tgw-attach-egress: unknown attachment is not analysed")),
}


@pytest.mark.parametrize("case", sorted(TGW_ABSENT))
def test_missing_transit_gateway_data_is_unknown_never_no_path(case: str) -> None:
    make, reason = TGW_ABSENT[case]
    model = model_of(make())
    found = subnet_reachability(model, the_subnet(model, "subnet-a"))
    assert reason in found.indeterminate, found.indeterminate
    assert found.of("internet") == ()
    assert resolve(model, the_subnet(model, "subnet-a"), "internet_egress_paths").value is None
    assert _pn014(model, "subnet-a") == "ERROR"


def test_an_attachment_the_collected_associations_leave_unassociated_carries_nothing() -> None:
    """The definite counterpart of "association unknown": every route table of the transit gateway
    had its associations collected and none holds the attachment, which reports none itself. AWS
    routes nothing from an attachment without an association."""
    calls = _attachments(tgw_estate(), _unassociated)
    calls["ec2:GetTransitGatewayRouteTableAssociations"] = [
        {"params": {"TransitGatewayRouteTableId": t}, "response": {"Associations": assoc}}
        for t, assoc in (("tgw-rtb-2", [{"TransitGatewayAttachmentId": "tgw-attach-b", "State": "associated"}]),
                         ("tgw-rtb-egress", []))]
    model = model_of(calls)
    assert paths(model, "subnet-a") == set()
    assert _pn014(model, "subnet-a") == "PASS"


def test_an_unknown_route_target_makes_ingress_unknown() -> None:
    model = model_of({
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]},
        "ec2:DescribeSubnets": {"Subnets": [subnet("subnet-a", "vpc-a", "10.0.1.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [table("rtb-a", "vpc-a", local("10.0.0.0/16"),
                                                          route("0.0.0.0/0", GatewayId="xgw-1"), main=True)]},
        "ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": [_eni("eni-1", "subnet-a", Groups=[{"GroupId": "sg-1"}],
                                                                     Association={"PublicIp": "203.0.113.10"})]},
    })
    assert ports(model) == (None, ("rtb-a: a route's target is of no known kind; whether it is an internet gateway "
                                   "is not known",))


# -- ingress -----------------------------------------------------------------------------

def ingress_estate(acl_entries: list[dict[str, Any]], rules: list[dict[str, Any]], *,
                   eni: dict[str, Any] | None = None, igw: bool = True) -> Model:
    default = {"NetworkInterfaceId": "eni-1", "VpcId": "vpc-a", "SubnetId": "subnet-a", "InterfaceType": "interface",
               "Groups": [{"GroupId": "sg-1"}], "Association": {"PublicIp": "203.0.113.10"}}
    return model_of({
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]},
        "ec2:DescribeSubnets": {"Subnets": [subnet("subnet-a", "vpc-a", "10.0.1.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [table(
            "rtb-a", "vpc-a", local("10.0.0.0/16"), *([route("0.0.0.0/0", GatewayId="igw-1"),
                                                       route("::/0", GatewayId="igw-1")] if igw else []), main=True)]},
        "ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": [eni or default]},
        "ec2:DescribeSecurityGroups": {"SecurityGroups": [{"GroupId": "sg-1", "VpcId": "vpc-a", "GroupName": "web"},
                                                          {"GroupId": "sg-2", "VpcId": "vpc-a", "GroupName": "app"}]},
        "ec2:DescribeSecurityGroupRules": {"SecurityGroupRules": [
            {"SecurityGroupRuleId": f"sgr-{i}", "GroupId": "sg-1", "IsEgress": False, **r} for i, r in enumerate(rules)]},
        "ec2:DescribeNetworkAcls": {"NetworkAcls": [{"NetworkAclId": "acl-1", "VpcId": "vpc-a", "Entries": acl_entries,
                                                     "Associations": [{"SubnetId": "subnet-a"}]}]},
        "ec2:DescribeManagedPrefixLists": {"PrefixLists": [{"PrefixListId": "pl-cdn", "AddressFamily": "IPv4"}]},
        "ec2:GetManagedPrefixListEntries": [{"params": {"PrefixListId": "pl-cdn"},
                                             "response": {"Entries": [{"Cidr": "130.176.0.0/18"}]}}],
    })


def tcp(port: int | tuple[int, int], **source: str) -> dict[str, Any]:
    lo, hi = port if isinstance(port, tuple) else (port, port)
    return {"IpProtocol": "tcp", "FromPort": lo, "ToPort": hi, **source}


def acl(n: int, action: str, cidr: str, protocol: str = "-1", ports: tuple[int, int] | None = None) -> dict[str, Any]:
    key = "Ipv6CidrBlock" if ":" in cidr else "CidrBlock"
    return {"RuleNumber": n, "Egress": False, "Protocol": protocol, "RuleAction": action, key: cidr,
            **({"PortRange": {"From": ports[0], "To": ports[1]}} if ports else {})}


ALLOW_ALL = [acl(100, "allow", "0.0.0.0/0"), acl(101, "allow", "::/0"), acl(32767, "deny", "0.0.0.0/0")]


def ports(model: Model, eni: str = "eni-1") -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    return internet_ingress_ports(model, the_eni(model, eni))


def test_ingress_is_what_security_groups_and_the_acl_both_admit_from_the_internet() -> None:
    rules = [tcp(22, CidrIpv4="0.0.0.0/0"), tcp(443, CidrIpv4="52.94.76.0/22"), tcp(8080, PrefixListId="pl-cdn"),
             tcp(8443, CidrIpv4="10.0.0.0/8"), {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
                                                "ReferencedGroupInfo": {"GroupId": "sg-2"}},
             {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "CidrIpv4": "0.0.0.0/0"}]
    entries = [acl(90, "deny", "198.51.100.0/24", "6", (22, 22)),   # narrow: other sources still reach 22
               acl(95, "deny", "0.0.0.0/0", "6", (8080, 8080)),     # shadows the allow below for 8080
               acl(100, "allow", "0.0.0.0/0")]
    assert ports(ingress_estate(entries, rules)) == (("tcp 22", "tcp 443", "icmp"), ())


def test_acl_order_decides() -> None:
    everything = [{"IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0"}]
    assert ports(ingress_estate(ALLOW_ALL, everything)) == (("all",), ())
    # A narrow public allow before a deny of everything admits its own ports.
    narrow = [acl(100, "allow", "198.51.100.0/24", "6", (3389, 3389)), acl(200, "deny", "0.0.0.0/0")]
    assert ports(ingress_estate(narrow, everything)) == (("tcp 3389",), ())
    # ... but not after a deny whose source contains its own.
    shadowed = [acl(100, "deny", "0.0.0.0/0"), acl(200, "allow", "198.51.100.0/24", "6", (22, 22))]
    assert ports(ingress_estate(shadowed, everything)) == ((), ())
    ranges = [acl(100, "deny", "0.0.0.0/0", "6", (0, 1023)), acl(110, "allow", "0.0.0.0/0", "6", (0, 65535)),
              acl(120, "allow", "0.0.0.0/0", "17", (53, 53))]
    assert ports(ingress_estate(ranges, everything)) == (("tcp 1024-65535", "udp 53"), ())


def test_no_public_address_or_no_internet_route_means_no_ingress() -> None:
    open_rules = [{"IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0"}]
    private = {"NetworkInterfaceId": "eni-1", "VpcId": "vpc-a", "SubnetId": "subnet-a", "Groups": [{"GroupId": "sg-1"}]}
    assert ports(ingress_estate(ALLOW_ALL, open_rules, eni=private)) == ((), ())
    assert ports(ingress_estate(ALLOW_ALL, open_rules, igw=False)) == ((), ())
    assert ports(ingress_estate(ALLOW_ALL, [tcp(22, CidrIpv4="10.0.0.0/8")])) == ((), ())


def test_ipv6_ingress() -> None:
    v6 = {"NetworkInterfaceId": "eni-1", "VpcId": "vpc-a", "SubnetId": "subnet-a", "Groups": [{"GroupId": "sg-1"}],
          "Ipv6Addresses": [{"Ipv6Address": "2600:1f18::10"}]}
    assert ports(ingress_estate(ALLOW_ALL, [tcp(443, CidrIpv6="::/0"), tcp(22, CidrIpv4="0.0.0.0/0")], eni=v6)) == (
        ("tcp 443",), ())


def test_unreadable_filters_and_interfaces_without_groups() -> None:
    bad = [{"RuleNumber": 100, "Egress": False, "Protocol": "-1", "RuleAction": "maybe", "CidrBlock": "0.0.0.0/0"}]
    got, reasons = ports(ingress_estate(bad, [tcp(22, CidrIpv4="0.0.0.0/0")]))
    assert got is None and reasons == ("acl-1: inbound entry 100 not understood",)
    nat = {"NetworkInterfaceId": "eni-1", "VpcId": "vpc-a", "SubnetId": "subnet-a", "InterfaceType": "nat_gateway",
           "Association": {"PublicIp": "203.0.113.10"}}
    assert ports(ingress_estate(ALLOW_ALL, [], eni=nat)) == ((), ())
    nlb = {**nat, "InterfaceType": "network_load_balancer"}
    assert ports(ingress_estate(ALLOW_ALL, [], eni=nlb)) == (None, (
        "eni-1: no security groups; what it admits depends on the service behind it (network_load_balancer)",))


def test_the_ingress_attribute_is_null_only_when_nothing_definite_is_admitted() -> None:
    model = ingress_estate(ALLOW_ALL, [tcp(22, CidrIpv4="0.0.0.0/0")])
    got = resolve(model, the_eni(model, "eni-1"), "internet_ingress_ports")
    assert got.value == ("tcp 22",) and got.missing == ()
    assert {s.record.split("/")[-1] for s in got.sources} >= {"DescribeNetworkAcls.json", "DescribeRouteTables.json",
                                                               "DescribeSecurityGroupRules.json"}


# -- longest-prefix match against brute force ------------------------------------------------

def _entry(cidr: str, n: int, prefix_list: bool = False) -> RouteEntry:
    net = parse_net(cidr)
    assert net is not None
    return RouteEntry(net, cidr, "local", f"t{n}", (), True, prefix_list)


_CIDRS = st.builds(lambda a, plen: str(ipaddress.ip_network((int(ipaddress.ip_address("10.0.0.0")) + (a << 2), plen),
                                                            strict=False)),
                   st.integers(0, 63), st.integers(24, 30))


@settings(max_examples=300, deadline=None)
@given(routes=st.lists(st.tuples(_CIDRS, st.booleans()), max_size=8), traffic=_CIDRS,
       excluded=st.lists(_CIDRS, max_size=3))
def test_partition_agrees_with_per_address_longest_prefix_match(routes: list[tuple[str, bool]], traffic: str,
                                                                excluded: list[str]) -> None:
    entries = [_entry(c, i, pl) for i, (c, pl) in enumerate(routes)]
    net = parse_net(traffic)
    assert net is not None
    inside = frozenset(x for x in (parse_net(c) for c in excluded) if x is not None and net.contains(x) and x != net)
    parts = partition(entries, (net, inside))
    for address in range(net.start, net.end + 1):
        if any(x.start <= address <= x.end for x in inside):
            want = None
        else:
            matching = [e for e in entries if e.net.start <= address <= e.net.end]
            want = max(matching, key=lambda e: (e.net.plen, not e.prefix_list), default=None)
        got = [e for e, (part, kids) in parts if part.start <= address <= part.end
               and not any(k.start <= address <= k.end for k in kids)]
        assert len(got) <= 1
        if want is None:
            assert got == []
        else:
            assert got and (got[0].net, got[0].prefix_list) == (want.net, want.prefix_list)


# -- the demo estate through moto ---------------------------------------------------------

def test_the_demo_estates_legacy_phi_subnet_reaches_the_internet_through_the_shared_egress_vpc(
        demo_run: DemoRun) -> None:
    """On the session's demo (`auditor demo`: the estate seeded in moto and collected)."""
    from auditor.snapshot.reader import load_snapshot

    health, region = "222222222222", "us-east-1"
    ids = demo_run.result.seeded
    snap = load_snapshot(demo_run.result.scan.snapshot)
    model = build_model(snap.records, snap.manifest["files"])
    the = lambda kind, name: ids.id(health, region, kind, name)  # noqa: E731
    legacy = the_subnet(model, the("subnet", "phi-legacy-a"))
    found = subnet_reachability(model, legacy)
    assert found.indeterminate == () and found.loops == ()
    assert [(p.destination, p.family, p.text) for p in found.paths] == [("internet", "ipv4", (
        f"{legacy.id} → {the('route_table', 'phi-main')} 0.0.0.0/0 → {the('transit_gateway', 'health-tgw')} → "
        f"{the('transit_gateway_route_table', 'spokes')} 0.0.0.0/0 → attachment {the('vpc', 'shared-egress')} → "
        f"{the('route_table', 'egress-tgw')} 0.0.0.0/0 → {the('nat_gateway', 'egress-nat-a')} → "
        f"{the('route_table', 'egress-public')} 0.0.0.0/0 → {the('internet_gateway', 'shared-egress')}"))]
    # The compliant account has no path out at all.
    for sn in model.of("subnet"):
        if sn.account == "111111111111":
            assert isinstance(sn, Subnet)
            found = subnet_reachability(model, sn)
            assert (found.paths, found.indeterminate, found.loops) == ((), (), ()), sn.id
            # ... and says why, for certain: no route for the internet's addresses.
            assert found.stops and all(st.certain for st in found.stops), sn.id
            assert {st.code for st in found.stops} >= {"NO_ROUTE_TO_DESTINATION"}, (sn.id, found.stops)


# -- reuse of explored tables never changes an answer ------------------------------------------

class _Forgetful(dict[Any, Any]):
    """A memo that keeps nothing: every table is explored afresh for every way in."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


@st.composite
def _meshes(draw: Any) -> Calls:
    """Random small estates: 2-4 VPCs on one transit gateway, each with two tables routing to the
    transit gateway, an internet gateway or a NAT gateway in the other table's subnet; random
    transit gateway tables per attachment, with loops likely."""
    n = draw(st.integers(2, 4))
    cidr = [f"10.{i}.0.0/16" for i in range(n)]
    dests = st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", *cidr, "203.0.113.0/24"])
    vpcs, subnets, tables, nats, atts, tgw_tables, search = [], [], [], [], [], [], []
    for i in range(n):
        vpcs.append({"VpcId": f"vpc-{i}", "CidrBlock": cidr[i]})
        subnets += [subnet(f"subnet-{i}-a", f"vpc-{i}", f"10.{i}.1.0/24"), subnet(f"subnet-{i}-b", f"vpc-{i}", f"10.{i}.2.0/24")]
        nats.append({"NatGatewayId": f"nat-{i}", "VpcId": f"vpc-{i}", "SubnetId": f"subnet-{i}-b", "State": "available"})
        for t in "ab":
            routes = [local(cidr[i])]
            for dest in draw(st.lists(dests, max_size=3, unique=True)):
                if dest == cidr[i]:
                    continue
                target = draw(st.sampled_from([{"TransitGatewayId": "tgw-1"}, {"GatewayId": f"igw-{i}"},
                                               {"NatGatewayId": f"nat-{i}"}]))
                routes.append(route(dest, **target))
            tables.append(table(f"rtb-{i}-{t}", f"vpc-{i}", *routes, subnets=[f"subnet-{i}-{t}"]))
        atts.append({"TransitGatewayAttachmentId": f"att-{i}", "TransitGatewayId": "tgw-1", "ResourceType": "vpc",
                     "ResourceId": f"vpc-{i}", "State": "available",
                     "Association": {"TransitGatewayRouteTableId": f"tgw-rtb-{i}"}})
        tgw_tables.append({"TransitGatewayRouteTableId": f"tgw-rtb-{i}", "TransitGatewayId": "tgw-1"})
        tgw_routes = [{"DestinationCidrBlock": d, "State": "active",
                       "TransitGatewayAttachments": [{"TransitGatewayAttachmentId": f"att-{draw(st.integers(0, n - 1))}"}]}
                      for d in draw(st.lists(dests, max_size=3, unique=True))]
        search.append({"params": {"TransitGatewayRouteTableId": f"tgw-rtb-{i}"}, "response": {"Routes": tgw_routes}})
    return {
        "ec2:DescribeVpcs": {"Vpcs": vpcs}, "ec2:DescribeSubnets": {"Subnets": subnets},
        "ec2:DescribeRouteTables": {"RouteTables": tables}, "ec2:DescribeNatGateways": {"NatGateways": nats},
        "ec2:DescribeTransitGateways": {"TransitGateways": [{"TransitGatewayId": "tgw-1"}]},
        "ec2:DescribeTransitGatewayAttachments": {"TransitGatewayAttachments": atts},
        "ec2:DescribeTransitGatewayVpcAttachments": {"TransitGatewayVpcAttachments": [
            {"TransitGatewayAttachmentId": f"att-{i}", "SubnetIds": [f"subnet-{i}-{draw(st.sampled_from('ab'))}"]}
            for i in range(n)]},
        "ec2:DescribeTransitGatewayRouteTables": {"TransitGatewayRouteTables": tgw_tables},
        "ec2:SearchTransitGatewayRoutes": search,
    }


@settings(max_examples=60, deadline=None)
@given(calls=_meshes(), order=st.randoms(use_true_random=False))
def test_reusing_explored_tables_gives_the_same_answers_in_any_order(calls: Calls, order: Any) -> None:
    model = model_of(calls)
    subnets = [s for s in model.of("subnet") if isinstance(s, Subnet)]
    order.shuffle(subnets)
    reused = {s.id: subnet_reachability(model, s) for s in subnets}
    fresh = rx._Analyzer(model)
    fresh.memo = _Forgetful()
    for s in subnets:
        assert fresh.subnet(s) == reused[s.id], s.id


def test_the_cache_lets_the_model_go() -> None:
    import gc
    import weakref

    model = model_of(BASICS)
    subnet_reachability(model, the_subnet(model, "subnet-main"))
    gone = weakref.ref(model)
    was = gc.isenabled()
    gc.disable()   # as during an evaluation: only reference counting frees the model
    try:
        del model
        assert gone() is None, "the analysis keeps the model alive"
    finally:
        if was:
            gc.enable()


def test_two_models_never_share_an_analysis() -> None:
    first, second = model_of(BASICS), model_of(BASICS)
    assert first == second          # equal values, two objects
    for model in (first, second):
        subnet = the_subnet(model, "subnet-main")
        reach = subnet_reachability(model, subnet)
        assert reach.paths and subnet_reachability(model, subnet) is reach    # kept ...
        assert any(r is subnet for p in reach.paths for r in rx.path_resources(model, p))  # ... per model
    assert subnet_reachability(first, the_subnet(first, "subnet-main")) is not \
        subnet_reachability(second, the_subnet(second, "subnet-main"))


def _zoned(calls: Calls, zones: dict[str, str]) -> Calls:
    """`calls` with availability zones set on the subnets named."""
    out = dict(calls)
    out["ec2:DescribeSubnets"] = {"Subnets": [
        {**s, **({"AvailabilityZone": zones[s["SubnetId"]]} if s["SubnetId"] in zones else {})}
        for s in calls["ec2:DescribeSubnets"]["Subnets"]]}
    return out


def test_a_transit_gateway_takes_traffic_only_from_zones_its_attachment_has_a_subnet_in() -> None:
    # AWS: a VPC attachment must have a subnet in the zone the traffic comes from.
    elsewhere = model_of(_zoned(tgw_estate(), {"subnet-a": "eu-west-1a", "subnet-a-tgw": "eu-west-1b"}))
    found = subnet_reachability(elsewhere, the_subnet(elsewhere, "subnet-a"))
    assert not found.of("internet") and not found.indeterminate
    assert [st.text for st in found.stops if st.code == "TGW_ROUTE_AZ_RESTRICTION"] == [
        "subnet-a → rtb-1 0.0.0.0/0 → tgw-1: TGW_ROUTE_AZ_RESTRICTION (tgw-attach-a has no subnet in eu-west-1a "
        "(its subnets are in eu-west-1b): traffic sent from eu-west-1a is dropped)"]
    # the same zone, or a zone not known (not reported, or known only after deploy): followed
    same = model_of(_zoned(tgw_estate(), {"subnet-a": "eu-west-1b", "subnet-a-tgw": "eu-west-1b"}))
    unknown = model_of(_zoned(tgw_estate(), {"subnet-a-tgw": "eu-west-1b"}))
    for model in (same, unknown):
        assert ("internet", "ipv4", CENTRAL_EGRESS) in paths(model, "subnet-a")
    # a zone a plan knows only after apply: its (placeholder) value decides nothing
    old = the_subnet(elsewhere, "subnet-a")
    marked = dataclasses.replace(old, unknown=(UnknownField("availability_zone", "known after apply"),))
    rebuilt = Model(resources={t: tuple(marked if r is old else r for r in items)
                               for t, items in elsewhere.resources.items()}, coverage=elsewhere.coverage)
    assert ("internet", "ipv4", CENTRAL_EGRESS) in paths(rebuilt, "subnet-a")


def test_a_trace_follows_one_packet_as_aws_does() -> None:
    model = model_of(BASICS)
    igw = the_subnet(model, "subnet-igw")
    # The strict reading: the subnet's own route to an internet gateway is an internet path.
    assert subnet_reachability(model, igw).of("internet")
    # One packet for a private address is dropped by the gateway; a public one reaches it.
    private = rx.subnet_trace(model, igw, "192.168.7.7")
    assert not private.paths and [st.code for st in private.stops] == ["IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS"]
    public = rx.subnet_trace(model, igw, "8.8.8.8")
    assert [p.text for p in public.paths] == ["subnet-igw → rtb-igw 0.0.0.0/0 → igw-1"]
    # Its own VPC is a destination of the trace.
    assert [(p.destination, p.text) for p in rx.subnet_trace(model, igw, "10.0.3.9").paths] == [
        ("vpc", "subnet-igw → rtb-igw 10.0.0.0/16 → vpc-a")]
