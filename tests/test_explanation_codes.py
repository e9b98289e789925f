"""A fixture for every explanation code (auditor/analyze/explain.py `CODES`).

Each fixture is a minimal estate written as API responses in which the reachability analysis
(auditor/analyze/reachability.py) emits that code at the expected hop: asserted on the exact
stops of the source (hops text, code, detail, certainty), on the exact codes of its paths, or on
the exact lines of an interface's ingress explanation. The meta-tests hold the list to `CODES`:
a code added without a fixture fails, and at least 30 of the codes are AWS Reachability
Analyzer's. Every estate in which a subnet has no internet path is also read through the derived
attribute the rules read (`internet_egress_paths`), whose explanation must say NO_PATH (or, when
something could not be followed, that no path was found for certain) and show the stop that
explains it, so that an assessor can check a PASS as well as a FAIL.

Then the parity table with Reachability Analyzer (auditor/analyze/parity.py, generated into
docs/reachability.md): held to `CODES`, bad entries reported one by one, the generated block
current. Last, cases the codes' meanings cover that the analysis gets wrong today, each an
expected failure (strict: it must pass once auditor/analyze/reachability.py is fixed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditor.analyze.explain import CODES, Stop
from auditor.analyze.parity import AWS_CODES, BEYOND, COMPONENTS, AwsCode, problems
from auditor.analyze.reachability import (
    MAX_HOPS, Reachability, interface_reachability, internet_ingress_explained, internet_ingress_ports,
    subnet_reachability, subnet_trace,
)
from auditor.docgen import render
from auditor.model.types import Model
from auditor.rules.derive import Derived
from auditor.rules.derived.reachability import ATTRIBUTES
from test_reachability import local, model_of, route, subnet, table, the_eni, the_subnet

Calls = dict[str, Any]
DOC = Path(__file__).resolve().parent.parent / "docs" / "reachability.md"

# -- estates -------------------------------------------------------------------------------

VPC_A = "10.0.0.0/16"


def merged(*parts: Calls) -> Calls:
    """The calls of every part, list responses of the same call joined."""
    out: Calls = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, list):
                out[key] = [*out.get(key, []), *value]
            else:
                have = out.setdefault(key, {})
                for items_key, items in value.items():
                    have[items_key] = [*have.get(items_key, []), *items]
    return out


def one_vpc(*source_routes: dict[str, str], out: Iterable[dict[str, str]] | None = None, more: Calls | None = None
            ) -> Model:
    """vpc-a: subnet-s, whose table rtb-s has the local route and `source_routes`; subnet-out,
    whose table rtb-out has the local route and `out` (by default 0.0.0.0/0 to internet gateway
    igw-1), where the NAT gateways, appliances and endpoints of the fixtures live."""
    out_routes = list(out) if out is not None else [route("0.0.0.0/0", GatewayId="igw-1")]
    return model_of(merged({
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": VPC_A}]},
        "ec2:DescribeSubnets": {"Subnets": [subnet("subnet-s", "vpc-a", "10.0.1.0/24"),
                                            subnet("subnet-out", "vpc-a", "10.0.2.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [
            table("rtb-s", "vpc-a", local(VPC_A), *source_routes, subnets=["subnet-s"]),
            table("rtb-out", "vpc-a", local(VPC_A), *out_routes, subnets=["subnet-out"])]},
        "ec2:DescribeInternetGateways": {"InternetGateways": [
            {"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]}]},
    }, more or {}))


def nat(nid: str, state: str = "available", connectivity: str = "public") -> Calls:
    """A NAT gateway in subnet-out."""
    return {"ec2:DescribeNatGateways": {"NatGateways": [
        {"NatGatewayId": nid, "VpcId": "vpc-a", "SubnetId": "subnet-out", "State": state,
         "ConnectivityType": connectivity}]}}


def appliance(eid: str, **more: Any) -> Calls:
    """A network interface in subnet-out (an appliance: source/destination check not reported)."""
    return {"ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": [
        {"NetworkInterfaceId": eid, "VpcId": "vpc-a", "SubnetId": "subnet-out", "InterfaceType": "interface",
         **more}]}}


def peering(status: str, peer_cidr: str = "10.5.0.0/16") -> Calls:
    return {"ec2:DescribeVpcPeeringConnections": {"VpcPeeringConnections": [
        {"VpcPeeringConnectionId": "pcx-1", "Status": {"Code": status},
         "RequesterVpcInfo": {"VpcId": "vpc-a", "CidrBlock": VPC_A},
         "AccepterVpcInfo": {"VpcId": "vpc-p", "CidrBlock": peer_cidr}}]}}


def prefix_list(pid: str, *cidrs: str) -> Calls:
    return {"ec2:DescribeManagedPrefixLists": {"PrefixLists": [{"PrefixListId": pid, "AddressFamily": "IPv4"}]},
            "ec2:GetManagedPrefixListEntries": [{"params": {"PrefixListId": pid},
                                                 "response": {"Entries": [{"Cidr": c} for c in cidrs]}}]}


def tgw_route(dest: str, *attachments: str, state: str = "active") -> dict[str, Any]:
    key = "PrefixListId" if dest.startswith("pl-") else "DestinationCidrBlock"
    return {key: dest, "State": state, "Type": "static",
            **({"TransitGatewayAttachments": [{"TransitGatewayAttachmentId": a} for a in attachments]}
               if attachments else {})}


def attachment(aid: str, rtype: str, rid: str, rtb: str | None, state: str = "available") -> dict[str, Any]:
    return {"TransitGatewayAttachmentId": aid, "TransitGatewayId": "tgw-1", "ResourceType": rtype, "ResourceId": rid,
            "State": state, **({"Association": {"TransitGatewayRouteTableId": rtb}} if rtb else {})}


def two_vpcs(routes: list[dict[str, Any]] | None, *, a_associated: bool = True, more: Calls | None = None,
             b_routes: Iterable[dict[str, str]] = (), zone: str | None = None) -> Model:
    """vpc-a's subnet-a sends 0.0.0.0/0 to transit gateway tgw-1; vpc-a's attachment is associated
    with tgw-rtb-1, whose routes are `routes` (None: not collected); vpc-b (10.1.0.0/16, subnet-b,
    the local route and `b_routes`) is attached as tgw-attach-b, associated with tgw-rtb-b (no
    routes). With `zone`, subnet-a and subnet-b are in that availability zone."""
    placed = {"AvailabilityZone": zone} if zone else {}
    search = [{"params": {"TransitGatewayRouteTableId": "tgw-rtb-b"}, "response": {"Routes": []}}]
    if routes is not None:
        search.append({"params": {"TransitGatewayRouteTableId": "tgw-rtb-1"}, "response": {"Routes": routes}})
    return model_of(merged({
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": VPC_A},
                                      {"VpcId": "vpc-b", "CidrBlock": "10.1.0.0/16"}]},
        "ec2:DescribeSubnets": {"Subnets": [{**subnet("subnet-a", "vpc-a", "10.0.1.0/24"), **placed},
                                            {**subnet("subnet-b", "vpc-b", "10.1.1.0/24"), **placed}]},
        "ec2:DescribeRouteTables": {"RouteTables": [
            table("rtb-a", "vpc-a", local(VPC_A), route("0.0.0.0/0", TransitGatewayId="tgw-1"), main=True),
            table("rtb-b", "vpc-b", local("10.1.0.0/16"), *b_routes, main=True)]},
        "ec2:DescribeTransitGateways": {"TransitGateways": [{"TransitGatewayId": "tgw-1", "State": "available"}]},
        "ec2:DescribeTransitGatewayAttachments": {"TransitGatewayAttachments": [
            attachment("tgw-attach-a", "vpc", "vpc-a", "tgw-rtb-1" if a_associated else None),
            attachment("tgw-attach-b", "vpc", "vpc-b", "tgw-rtb-b")]},
        "ec2:DescribeTransitGatewayVpcAttachments": {"TransitGatewayVpcAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-a", "SubnetIds": ["subnet-a"]},
            {"TransitGatewayAttachmentId": "tgw-attach-b", "SubnetIds": ["subnet-b"]}]},
        "ec2:DescribeTransitGatewayRouteTables": {"TransitGatewayRouteTables": [
            {"TransitGatewayRouteTableId": "tgw-rtb-1", "TransitGatewayId": "tgw-1"},
            {"TransitGatewayRouteTableId": "tgw-rtb-b", "TransitGatewayId": "tgw-1"}]},
        "ec2:SearchTransitGatewayRoutes": search,
    }, more or {}))


def ingress(eni: dict[str, Any] | None = None, rules: Iterable[dict[str, Any]] = (), *, acl_action: str = "allow",
            groups: Calls | None = None) -> Model:
    """Interface eni-1 (public address 203.0.113.10, security group sg-1 with inbound `rules`) in
    subnet-a, whose table routes 0.0.0.0/0 to internet gateway igw-1 and whose network ACL's one
    inbound entry (before the default deny) `acl_action`s everything."""
    default = {"NetworkInterfaceId": "eni-1", "VpcId": "vpc-a", "SubnetId": "subnet-a", "InterfaceType": "interface",
               "Groups": [{"GroupId": "sg-1"}], "Association": {"PublicIp": "203.0.113.10"}}
    entries = [{"RuleNumber": 100, "Egress": False, "Protocol": "-1", "RuleAction": acl_action,
                "CidrBlock": "0.0.0.0/0"},
               {"RuleNumber": 32767, "Egress": False, "Protocol": "-1", "RuleAction": "deny", "CidrBlock": "0.0.0.0/0"}]
    return model_of({
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": VPC_A}]},
        "ec2:DescribeSubnets": {"Subnets": [subnet("subnet-a", "vpc-a", "10.0.1.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [
            table("rtb-a", "vpc-a", local(VPC_A), route("0.0.0.0/0", GatewayId="igw-1"), main=True)]},
        "ec2:DescribeInternetGateways": {"InternetGateways": [
            {"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]}]},
        "ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": [eni if eni is not None else default]},
        **(groups if groups is not None else {
            "ec2:DescribeSecurityGroups": {"SecurityGroups": [{"GroupId": "sg-1", "VpcId": "vpc-a"}]}}),
        "ec2:DescribeSecurityGroupRules": {"SecurityGroupRules": [
            {"SecurityGroupRuleId": f"sgr-{i}", "GroupId": "sg-1", "IsEgress": False, **r}
            for i, r in enumerate(rules)]},
        "ec2:DescribeNetworkAcls": {"NetworkAcls": [{"NetworkAclId": "acl-1", "VpcId": "vpc-a", "Entries": entries,
                                                     "Associations": [{"SubnetId": "subnet-a"}]}]},
    })


def tcp(port: int, cidr: str) -> dict[str, Any]:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIpv4": cidr}


# -- what the analysis says ----------------------------------------------------------------

# The codes the analysis gave the fixture being run: the test of a code checks that its fixture
# saw it (a fixture that asserts nothing about its code fails there, not silently).
_SEEN: set[str] = set()
_CODE = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b")


def _saw(found: Reachability) -> Reachability:
    _SEEN.update(st.code for st in found.stops)
    _SEEN.update(c.split()[0] for p in found.paths for c in p.codes)
    return found


def _saw_lines(lines: tuple[str, ...]) -> tuple[str, ...]:
    _SEEN.update(m.group(1) for line in lines for m in [_CODE.search(line)] if m and m.group(1) in CODES)
    return lines


def reach(model: Model, sid: str) -> Reachability:
    return _saw(subnet_reachability(model, the_subnet(model, sid)))


def trace(model: Model, sid: str, address: str) -> Reachability:
    return _saw(subnet_trace(model, the_subnet(model, sid), address))


def stops(model: Model, sid: str) -> set[Stop]:
    return set(reach(model, sid).stops)


def path_codes(model: Model, sid: str) -> dict[str, tuple[str, ...]]:
    """The subnet's paths: text -> codes."""
    return {p.text: p.codes for p in reach(model, sid).paths}


def v6_none(where: str) -> Stop:
    """No IPv6 route in the source's own table (`where`: "subnet-s → rtb-s")."""
    return Stop(where, "NO_ROUTE_TO_DESTINATION", "no route matches ::/0")


def own_vpc(where: str, cidr: str = VPC_A, vpc: str = "vpc-a") -> Stop:
    """Delivery inside the source's own VPC by the local route."""
    return Stop(f"{where} {cidr}", "VPC_LOCAL_ROUTE_CIDR_RESTRICTION", f"delivered inside {vpc}, the source's own VPC")


S = "subnet-s → rtb-s"
A = "subnet-a → rtb-a"
BASE_S = {v6_none(S), own_vpc(S)}
BASE_A = {v6_none(A), own_vpc(A)}

_DERIVED = {(a.resource_type, a.name): a for a in ATTRIBUTES}


def derived(model: Model, sid: str, name: str) -> Derived[Any]:
    """A derived attribute of a subnet, with its explanation (`Derived.explain`)."""
    got = _DERIVED[("subnet", name)](model, the_subnet(model, sid))
    _saw_lines(got.explain)
    return got


# -- the fixtures ----------------------------------------------------------------------------

@dataclass(frozen=True)
class NoPath:
    """A source without an internet path in a fixture's estate, and the stop that explains it:
    the derived explanation must show it (with NO_PATH when it is certain)."""

    model: Callable[[], Model]
    subnet: str
    stop: Stop


FIXTURES: dict[str, Callable[[], None]] = {}
NO_PATHS: dict[str, NoPath] = {}


def fixture(code: str, no_path: NoPath | None = None) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def register(fn: Callable[[], None]) -> Callable[[], None]:
        assert code not in FIXTURES, code
        FIXTURES[code] = fn
        if no_path is not None:
            NO_PATHS[code] = no_path
        return fn
    return register


# -- a route table's decision ----------------------------------------------------------------

def isolated() -> Model:
    """subnet-s's table has the local route only."""
    return one_vpc()


@fixture("NO_ROUTE_TO_DESTINATION", NoPath(isolated, "subnet-s", Stop(
    S, "NO_ROUTE_TO_DESTINATION", "no route matches 0.0.0.0/0 outside 10.0.0.0/16")))
def _no_route() -> None:
    assert stops(isolated(), "subnet-s") == BASE_S | {
        Stop(S, "NO_ROUTE_TO_DESTINATION", "no route matches 0.0.0.0/0 outside 10.0.0.0/16")}
    # ingress: a public interface whose subnet has no route to an internet gateway for the replies
    model = model_of({
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": VPC_A}]},
        "ec2:DescribeSubnets": {"Subnets": [subnet("subnet-a", "vpc-a", "10.0.1.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [table("rtb-a", "vpc-a", local(VPC_A), main=True)]},
        "ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": [
            {"NetworkInterfaceId": "eni-1", "VpcId": "vpc-a", "SubnetId": "subnet-a", "Groups": [{"GroupId": "sg-1"}],
             "Association": {"PublicIp": "203.0.113.10"}}]}})
    assert ingress_lines(model) == (
        "eni-1 → rtb-a: NO_ROUTE_TO_DESTINATION (no IPv4 route to an internet gateway: replies to the internet have "
        "no way out)",)


@fixture("VPC_LOCAL_ROUTE_CIDR_RESTRICTION", NoPath(isolated, "subnet-s", own_vpc(S)))
def _local_route() -> None:
    found = reach(isolated(), "subnet-s")
    assert own_vpc(S) in found.stops and found.paths == ()
    # a trace to an address of the source's own VPC keeps the local delivery as a path
    traced = trace(isolated(), "subnet-s", "10.0.2.7")
    assert [(p.text, p.codes) for p in traced.paths] == [("subnet-s → rtb-s 10.0.0.0/16 → vpc-a", ("REACHES_VPC vpc-a",))]


def shadowed() -> Model:
    """The default route to igw-1 is wholly shadowed by two blackhole halves."""
    return one_vpc(route("0.0.0.0/0", GatewayId="igw-1"), route("0.0.0.0/1", "blackhole", NatGatewayId="nat-old"),
                   route("128.0.0.0/1", "blackhole", NatGatewayId="nat-old"))


SHADOWED = Stop(f"{S} 0.0.0.0/0", "MORE_SPECIFIC_ROUTE", "more specific routes take all of what this route to igw-1 "
                "would carry")


@fixture("MORE_SPECIFIC_ROUTE", NoPath(shadowed, "subnet-s", SHADOWED))
def _more_specific() -> None:
    assert stops(shadowed(), "subnet-s") == BASE_S | {SHADOWED} | {
        Stop(f"{S} {half}", "BAD_STATE_ROUTE", "blackhole route to nat-old") for half in ("0.0.0.0/1", "128.0.0.0/1")}


@fixture("HIGHER_PRIORITY_ROUTE")
def _higher_priority() -> None:
    # a CIDR route and a prefix-list entry for the same destination: the CIDR route wins
    model = one_vpc(route("203.0.113.0/24", NatGatewayId="nat-1"), route("pl-x", GatewayId="igw-1"),
                    more=merged(nat("nat-1"), prefix_list("pl-x", "203.0.113.0/24")))
    assert stops(model, "subnet-s") == BASE_S | {
        Stop(S, "NO_ROUTE_TO_DESTINATION", "no route matches 0.0.0.0/0 outside 10.0.0.0/16, 203.0.113.0/24"),
        Stop(f"{S} pl-x (203.0.113.0/24)", "HIGHER_PRIORITY_ROUTE",
             "a CIDR route for 203.0.113.0/24 takes priority over this prefix-list route to igw-1")}
    assert list(path_codes(model, "subnet-s")) == ["subnet-s → rtb-s 203.0.113.0/24 → nat-1 → rtb-out 0.0.0.0/0 → igw-1"]


@fixture("CANNOT_ROUTE")
def _cannot_route() -> None:
    # traced to one address, the route to the internet gateway (for one public block) does not match it
    model = one_vpc(route("203.0.113.0/24", GatewayId="igw-1"), route("192.168.0.0/16", GatewayId="vgw-1"))
    traced = trace(model, "subnet-s", "8.8.8.8")
    assert traced.paths == () and set(traced.stops) == {
        Stop(S, "NO_ROUTE_TO_DESTINATION", "no route matches 8.8.8.8/32"),
        Stop(f"{S} 203.0.113.0/24", "CANNOT_ROUTE",
             "the traffic reaching rtb-s is for 8.8.8.8/32; this route to igw-1 matches none of it")}
    # (the route to the virtual private gateway, which leads to no way out, is not explained)


def blackholed() -> Model:
    return one_vpc(route("0.0.0.0/0", "blackhole", GatewayId="igw-old"))


BLACKHOLE = Stop(f"{S} 0.0.0.0/0", "BAD_STATE_ROUTE", "blackhole route to igw-old")


@fixture("BAD_STATE_ROUTE", NoPath(blackholed, "subnet-s", BLACKHOLE))
def _bad_state_route() -> None:
    assert stops(blackholed(), "subnet-s") == BASE_S | {BLACKHOLE}


def nat_deleted() -> Model:
    return one_vpc(route("0.0.0.0/0", NatGatewayId="nat-1"), more=nat("nat-1", "deleted"))


NAT_DELETED = Stop(f"{S} 0.0.0.0/0 → nat-1", "BAD_STATE", "NAT gateway deleted")


@fixture("BAD_STATE", NoPath(nat_deleted, "subnet-s", NAT_DELETED))
def _bad_state() -> None:
    assert stops(nat_deleted(), "subnet-s") == BASE_S | {NAT_DELETED}
    # a peering connection that is not active carries nothing either
    model = one_vpc(route("10.5.0.0/16", VpcPeeringConnectionId="pcx-1"), more=peering("pending-acceptance"))
    assert stops(model, "subnet-s") == BASE_S | {
        Stop(S, "NO_ROUTE_TO_DESTINATION", "no route matches 0.0.0.0/0 outside 10.0.0.0/16, 10.5.0.0/16"),
        Stop(f"{S} 10.5.0.0/16 → pcx-1", "BAD_STATE", "peering connection pending-acceptance")}


def attachment_gone() -> Model:
    return two_vpcs([tgw_route("0.0.0.0/0", "tgw-attach-c")], more={"ec2:DescribeTransitGatewayAttachments": {
        "TransitGatewayAttachments": [attachment("tgw-attach-c", "vpc", "vpc-c", "tgw-rtb-b", "deleted")]}})


TGW_1 = f"{A} 0.0.0.0/0 → tgw-1 → tgw-rtb-1"
ATTACHMENT_GONE = Stop(f"{TGW_1} 0.0.0.0/0 → attachment vpc-c", "BAD_STATE_ATTACHMENT", "attachment deleted")


@fixture("BAD_STATE_ATTACHMENT", NoPath(attachment_gone, "subnet-a", ATTACHMENT_GONE))
def _bad_state_attachment() -> None:
    assert stops(attachment_gone(), "subnet-a") == BASE_A | {ATTACHMENT_GONE}


def vpn_failed() -> Model:
    return two_vpcs([tgw_route("0.0.0.0/0", "tgw-attach-vpn")], more={"ec2:DescribeTransitGatewayAttachments": {
        "TransitGatewayAttachments": [attachment("tgw-attach-vpn", "vpn", "vpn-1", "tgw-rtb-b", "failed")]}})


VPN_FAILED = Stop(f"{TGW_1} 0.0.0.0/0 → attachment vpn-1", "TGW_BAD_STATE_VPN", "attachment failed")


@fixture("TGW_BAD_STATE_VPN", NoPath(vpn_failed, "subnet-a", VPN_FAILED))
def _tgw_bad_state_vpn() -> None:
    assert stops(vpn_failed(), "subnet-a") == BASE_A | {VPN_FAILED}
    assert reach(vpn_failed(), "subnet-a").of("on_premises") == ()


def peered_wide() -> Model:
    """A default route to a peering connection whose peer VPC is 10.5.0.0/16."""
    return one_vpc(route("0.0.0.0/0", VpcPeeringConnectionId="pcx-1"), more=peering("active"))


PEER_ONLY = Stop(f"{S} 0.0.0.0/0 → pcx-1", "PCX_REQUIRES_ADDRESS_IN_VPC_CIDR",
                 "traffic for 0.0.0.0/0 (less 10.0.0.0/16) outside 10.5.0.0/16 is not for the peer vpc-p's CIDRs "
                 "(10.5.0.0/16)")


@fixture("PCX_REQUIRES_ADDRESS_IN_VPC_CIDR", NoPath(peered_wide, "subnet-s", PEER_ONLY))
def _pcx_cidr() -> None:
    assert stops(peered_wide(), "subnet-s") == BASE_S | {PEER_ONLY}
    assert path_codes(peered_wide(), "subnet-s") == {
        "subnet-s → rtb-s 0.0.0.0/0 → pcx-1 10.5.0.0/16 → vpc-p": ("REACHES_VPC vpc-p",)}


# -- gateways at the end of a path -----------------------------------------------------------

def via_nat(dest: str) -> Callable[[], Model]:
    """subnet-s sends `dest` to NAT gateway nat-1, whose subnet sends everything to igw-1."""
    return lambda: one_vpc(route(dest, NatGatewayId="nat-1"), more=nat("nat-1"))


def at_igw(dest: str, code: str) -> Stop:
    return Stop(f"{S} {dest} → nat-1 → rtb-out 0.0.0.0/0 → igw-1", code, f"traffic for {dest} holds no internet address")


def _gateway_drops(dest: str, code: str) -> None:
    assert stops(via_nat(dest)(), "subnet-s") == BASE_S | {at_igw(dest, code), Stop(
        S, "NO_ROUTE_TO_DESTINATION", f"no route matches 0.0.0.0/0 outside 10.0.0.0/16, {dest}")}


RFC1918 = at_igw("10.50.0.0/16", "IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS")
RFC6598 = at_igw("100.64.0.0/16", "IGW_DESTINATION_ADDRESS_NOT_IN_RFC6598_EGRESS")
LINK_LOCAL = at_igw("169.254.0.0/16", "IGW_DESTINATION_NOT_ROUTABLE")


@fixture("IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS", NoPath(via_nat("10.50.0.0/16"), "subnet-s", RFC1918))
def _rfc1918() -> None:
    _gateway_drops("10.50.0.0/16", "IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS")


@fixture("IGW_DESTINATION_ADDRESS_NOT_IN_RFC6598_EGRESS", NoPath(via_nat("100.64.0.0/16"), "subnet-s", RFC6598))
def _rfc6598() -> None:
    _gateway_drops("100.64.0.0/16", "IGW_DESTINATION_ADDRESS_NOT_IN_RFC6598_EGRESS")


@fixture("IGW_DESTINATION_NOT_ROUTABLE", NoPath(via_nat("169.254.0.0/16"), "subnet-s", LINK_LOCAL))
def _not_routable() -> None:
    _gateway_drops("169.254.0.0/16", "IGW_DESTINATION_NOT_ROUTABLE")


def private_nat() -> Model:
    return one_vpc(route("0.0.0.0/0", NatGatewayId="nat-p"), more=nat("nat-p", connectivity="private"))


UNTRANSLATED = Stop(f"{S} 0.0.0.0/0 → nat-p → rtb-out 0.0.0.0/0 → igw-1", "IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS",
                    "private NAT gateway nat-p translated the traffic to its private address; igw-1 drops it")


@fixture("IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS", NoPath(private_nat, "subnet-s", UNTRANSLATED))
def _public_ip_for_egress() -> None:
    assert stops(private_nat(), "subnet-s") == BASE_S | {UNTRANSLATED}


def checked_instance() -> Model:
    return one_vpc(route("0.0.0.0/0", InstanceId="i-1"), more={"ec2:DescribeInstances": {"Reservations": [{"Instances": [
        {"InstanceId": "i-1", "VpcId": "vpc-a", "SubnetId": "subnet-out", "SourceDestCheck": True}]}]}})


CHECKED = Stop(f"{S} 0.0.0.0/0 → i-1", "ENI_SOURCE_DEST_CHECK_RESTRICTION",
               "source/destination check enabled: the instance forwards nothing")


@fixture("ENI_SOURCE_DEST_CHECK_RESTRICTION", NoPath(checked_instance, "subnet-s", CHECKED))
def _source_dest_check() -> None:
    assert stops(checked_instance(), "subnet-s") == BASE_S | {CHECKED}
    model = one_vpc(route("0.0.0.0/0", NetworkInterfaceId="eni-fw"), more=appliance("eni-fw", SourceDestCheck=True))
    assert stops(model, "subnet-s") == BASE_S | {Stop(
        f"{S} 0.0.0.0/0 → eni-fw", "ENI_SOURCE_DEST_CHECK_RESTRICTION",
        "source/destination check enabled: the interface forwards nothing")}
    # the control: with the check disabled, the appliance forwards to the internet
    model = one_vpc(route("0.0.0.0/0", NetworkInterfaceId="eni-fw"), more=appliance("eni-fw", SourceDestCheck=False))
    assert list(path_codes(model, "subnet-s")) == ["subnet-s → rtb-s 0.0.0.0/0 → eni-fw → rtb-out 0.0.0.0/0 → igw-1"]


# -- transit gateways ------------------------------------------------------------------------

def unassociated_attachment() -> Model:
    """tgw-attach-a reports no association, and every route table's associations were collected
    without it."""
    return two_vpcs([tgw_route("0.0.0.0/0", "tgw-attach-b")], a_associated=False, more={
        "ec2:GetTransitGatewayRouteTableAssociations": [
            {"params": {"TransitGatewayRouteTableId": "tgw-rtb-1"}, "response": {"Associations": []}},
            {"params": {"TransitGatewayRouteTableId": "tgw-rtb-b"}, "response": {"Associations": [
                {"TransitGatewayAttachmentId": "tgw-attach-b", "State": "associated"}]}}]})


NO_ASSOCIATION = Stop(f"{A} 0.0.0.0/0 → tgw-1", "TGW_ATTACH_MISSING_TGW_RTB_ASSOCIATION",
                      "tgw-attach-a is associated with no transit gateway route table of tgw-1")


@fixture("TGW_ATTACH_MISSING_TGW_RTB_ASSOCIATION", NoPath(unassociated_attachment, "subnet-a", NO_ASSOCIATION))
def _missing_association() -> None:
    assert stops(unassociated_attachment(), "subnet-a") == BASE_A | {NO_ASSOCIATION}


def other_zone() -> Model:
    """subnet-a2 (eu-west-1b) shares subnet-a's table, but vpc-a's attachment has a subnet in
    eu-west-1a only."""
    return two_vpcs([tgw_route("0.0.0.0/0", "tgw-attach-b")], zone="eu-west-1a", more={"ec2:DescribeSubnets": {
        "Subnets": [{**subnet("subnet-a2", "vpc-a", "10.0.2.0/24"), "AvailabilityZone": "eu-west-1b"}]}})


OTHER_ZONE = Stop("subnet-a2 → rtb-a 0.0.0.0/0 → tgw-1", "TGW_ROUTE_AZ_RESTRICTION",
                  "tgw-attach-a has no subnet in eu-west-1b (its subnets are in eu-west-1a): traffic sent from "
                  "eu-west-1b is dropped")


@fixture("TGW_ROUTE_AZ_RESTRICTION", NoPath(other_zone, "subnet-a2", OTHER_ZONE))
def _az_restriction() -> None:
    assert stops(other_zone(), "subnet-a2") == {v6_none("subnet-a2 → rtb-a"), own_vpc("subnet-a2 → rtb-a"),
                                                OTHER_ZONE}
    # the control: from the attachment's own zone, the same table reaches vpc-b
    assert path_codes(other_zone(), "subnet-a") == {
        f"{TGW_1} 0.0.0.0/0 → attachment vpc-b → rtb-b 10.1.0.0/16 → vpc-b": ("REACHES_VPC vpc-b",)}


def tgw_blackhole() -> Model:
    return two_vpcs([tgw_route("0.0.0.0/0", state="blackhole")])


TGW_BLACKHOLE = Stop(f"{TGW_1} 0.0.0.0/0", "TGW_RTB_BAD_STATE_ROUTE", "blackhole route")


@fixture("TGW_RTB_BAD_STATE_ROUTE", NoPath(tgw_blackhole, "subnet-a", TGW_BLACKHOLE))
def _tgw_blackhole() -> None:
    assert stops(tgw_blackhole(), "subnet-a") == BASE_A | {TGW_BLACKHOLE}


def tgw_shadowed() -> Model:
    return two_vpcs([tgw_route("0.0.0.0/0", "tgw-attach-b"), tgw_route("0.0.0.0/1", state="blackhole"),
                     tgw_route("128.0.0.0/1", state="blackhole")])


TGW_SHADOWED = Stop(f"{TGW_1} 0.0.0.0/0", "TGW_RTB_MORE_SPECIFIC_ROUTE",
                    "more specific routes take all of what this route would carry")


@fixture("TGW_RTB_MORE_SPECIFIC_ROUTE", NoPath(tgw_shadowed, "subnet-a", TGW_SHADOWED))
def _tgw_more_specific() -> None:
    assert stops(tgw_shadowed(), "subnet-a") == BASE_A | {TGW_SHADOWED} | {
        Stop(f"{TGW_1} {half}", "TGW_RTB_BAD_STATE_ROUTE", "blackhole route") for half in ("0.0.0.0/1", "128.0.0.0/1")}
    assert reach(tgw_shadowed(), "subnet-a").paths == ()


@fixture("TGW_RTB_HIGHER_PRIORITY_ROUTE")
def _tgw_higher_priority() -> None:
    # a CIDR route (blackhole) and a prefix-list route for the same destination: the CIDR route wins
    model = two_vpcs([tgw_route("8.8.8.0/24", state="blackhole"), tgw_route("pl-x", "tgw-attach-b")],
                     more=prefix_list("pl-x", "8.8.8.0/24"))
    assert stops(model, "subnet-a") == BASE_A | {
        Stop(TGW_1, "NO_ROUTE_TO_DESTINATION", "no route matches 0.0.0.0/0 (less 10.0.0.0/16) outside 8.8.8.0/24"),
        Stop(f"{TGW_1} 8.8.8.0/24", "TGW_RTB_BAD_STATE_ROUTE", "blackhole route"),
        Stop(f"{TGW_1} pl-x (8.8.8.0/24)", "TGW_RTB_HIGHER_PRIORITY_ROUTE",
             "a CIDR route for 8.8.8.0/24 takes priority over this prefix-list route")}
    assert reach(model, "subnet-a").paths == ()


@fixture("TGW_RTB_CANNOT_ROUTE")
def _tgw_cannot_route() -> None:
    # a transit gateway route for one public block (the way to an egress VPC) and one to vpc-b
    model = two_vpcs([tgw_route("203.0.113.0/24", "tgw-attach-b"), tgw_route("10.1.0.0/16", "tgw-attach-b")])
    traced = trace(model, "subnet-a", "8.8.8.8")
    assert traced.paths == () and set(traced.stops) == {
        Stop(TGW_1, "NO_ROUTE_TO_DESTINATION", "no route matches 8.8.8.8/32"),
        Stop(f"{TGW_1} 203.0.113.0/24", "TGW_RTB_CANNOT_ROUTE",
             "the traffic reaching tgw-rtb-1 is for 8.8.8.8/32; this route matches none of it")}
    # the control: traced to an address of that block, the same route carries it (to vpc-b's table)
    traced = trace(model, "subnet-a", "203.0.113.5")
    assert set(traced.stops) == {Stop(f"{TGW_1} 203.0.113.0/24 → attachment vpc-b → rtb-b", "NO_ROUTE_TO_DESTINATION",
                                      "no route matches 203.0.113.5/32")}


# -- what the data cannot tell ---------------------------------------------------------------

def nat_missing() -> Model:
    return one_vpc(route("0.0.0.0/0", NatGatewayId="nat-x"))


NAT_MISSING = Stop(f"{S} 0.0.0.0/0 → nat-x", "UNKNOWN_RESOURCE", "nat-x: NAT gateway not in the model "
                   "(ec2:DescribeNatGateways); route rtb-s 0.0.0.0/0 → nat-x not followed", False)


@fixture("UNKNOWN_RESOURCE", NoPath(nat_missing, "subnet-s", NAT_MISSING))
def _unknown_resource() -> None:
    assert stops(nat_missing(), "subnet-s") == BASE_S | {NAT_MISSING}
    assert reach(nat_missing(), "subnet-s").indeterminate == (NAT_MISSING.detail,)
    # ingress: a security group of the interface is not in the model
    model = ingress(rules=[tcp(22, "0.0.0.0/0")], groups={})
    assert internet_ingress_ports(model, the_eni(model, "eni-1")) == (
        None, ("sg-1: security group of eni-1 not in the model (ec2:DescribeSecurityGroups)",))
    assert ("eni-1: UNKNOWN_RESOURCE (sg-1: security group of eni-1 not in the model (ec2:DescribeSecurityGroups)) "
            "[unknown]") in ingress_lines(model)


def tgw_routes_unknown() -> Model:
    return two_vpcs(None)


ROUTES_UNKNOWN = Stop(TGW_1, "TGW_RTB_ROUTES_ARE_UNKNOWN",
                      "tgw-rtb-1: routes not collected (ec2:SearchTransitGatewayRoutes)", False)


@fixture("TGW_RTB_ROUTES_ARE_UNKNOWN", NoPath(tgw_routes_unknown, "subnet-a", ROUTES_UNKNOWN))
def _tgw_routes_unknown() -> None:
    assert stops(tgw_routes_unknown(), "subnet-a") == BASE_A | {ROUTES_UNKNOWN}


def unknown_target() -> Model:
    return one_vpc(route("0.0.0.0/0", GatewayId="xgw-1"))


UNSUPPORTED = Stop(f"{S} 0.0.0.0/0", "UNSUPPORTED_COMPONENT",
                   "route rtb-s 0.0.0.0/0 → xgw-1: target of kind 'unknown' is not analysed", False)


@fixture("UNSUPPORTED_COMPONENT", NoPath(unknown_target, "subnet-s", UNSUPPORTED))
def _unsupported() -> None:
    assert stops(unknown_target(), "subnet-s") == BASE_S | {UNSUPPORTED}
    # a transit gateway Connect attachment
    model = two_vpcs([tgw_route("0.0.0.0/0", "tgw-attach-gre")], more={"ec2:DescribeTransitGatewayAttachments": {
        "TransitGatewayAttachments": [attachment("tgw-attach-gre", "connect", "tgw-attach-b", "tgw-rtb-b")]}})
    assert stops(model, "subnet-a") == BASE_A | {Stop(
        f"{TGW_1} 0.0.0.0/0 → attachment tgw-attach-b", "UNSUPPORTED_COMPONENT",
        "tgw-attach-gre: connect attachment is not analysed", False)}


def prefix_list_unknown() -> Model:
    return one_vpc(route("pl-x", GatewayId="igw-1"))


PL_UNKNOWN = Stop(S, "UNKNOWN_DESTINATION", "rtb-s: prefix list pl-x entries not collected "
                  "(ec2:GetManagedPrefixListEntries); its route to igw-1 is not followed", False)


@fixture("UNKNOWN_DESTINATION", NoPath(prefix_list_unknown, "subnet-s", PL_UNKNOWN))
def _unknown_destination() -> None:
    assert stops(prefix_list_unknown(), "subnet-s") == BASE_S | {PL_UNKNOWN, Stop(
        S, "NO_ROUTE_TO_DESTINATION", "no route matches 0.0.0.0/0 outside 10.0.0.0/16")}
    # a peering connection whose peer VPC's CIDRs are not reported
    model = one_vpc(route("0.0.0.0/0", VpcPeeringConnectionId="pcx-1"), more=peering("active", peer_cidr=""))
    assert stops(model, "subnet-s") == BASE_S | {Stop(
        f"{S} 0.0.0.0/0 → pcx-1", "UNKNOWN_DESTINATION", "pcx-1: CIDRs of the peer VPC vpc-p not reported", False)}


def tgw_peer_missing() -> Model:
    """tgw-1 sends everything over a peering attachment to tgw-2, whose side is not collected."""
    return two_vpcs([tgw_route("0.0.0.0/0", "tgw-attach-peer")], more={"ec2:DescribeTransitGatewayAttachments": {
        "TransitGatewayAttachments": [attachment("tgw-attach-peer", "peering", "tgw-2", None)]}})


PEER_MISSING = Stop(f"{TGW_1} 0.0.0.0/0 → attachment tgw-2", "NO_POSSIBLE_DESTINATION",
                    "tgw-attach-peer: peering attachment to tgw-2, whose side of it is not in the model; not followed",
                    False)


@fixture("NO_POSSIBLE_DESTINATION", NoPath(tgw_peer_missing, "subnet-a", PEER_MISSING))
def _no_possible_destination() -> None:
    assert stops(tgw_peer_missing(), "subnet-a") == BASE_A | {PEER_MISSING}


def no_main_table() -> Model:
    """subnet-n's VPC has no main route table in the model, and the subnet no table of its own."""
    return one_vpc(more={"ec2:DescribeSubnets": {"Subnets": [subnet("subnet-n", "vpc-n", "10.9.1.0/24")]}})


NO_TABLE = Stop("subnet-n", "UNASSOCIATED_COMPONENT", "subnet-n: effective route table unknown (ec2:DescribeRouteTables)",
                False)


@fixture("UNASSOCIATED_COMPONENT", NoPath(no_main_table, "subnet-n", NO_TABLE))
def _unassociated() -> None:
    assert stops(no_main_table(), "subnet-n") == {NO_TABLE}


def pending_tgw_route() -> Model:
    return two_vpcs([tgw_route("0.0.0.0/0", "tgw-attach-b", state="pending")])


PENDING = Stop(f"{TGW_1} 0.0.0.0/0", "ROUTE_STATE_UNKNOWN", "tgw-rtb-1 0.0.0.0/0: route state 'pending', not known to "
               "carry or drop traffic (ec2:SearchTransitGatewayRoutes); not followed", False)


@fixture("ROUTE_STATE_UNKNOWN", NoPath(pending_tgw_route, "subnet-a", PENDING))
def _route_state_unknown() -> None:
    assert stops(pending_tgw_route(), "subnet-a") == BASE_A | {PENDING}
    # a peering connection whose status is not reported
    model = one_vpc(route("10.5.0.0/16", VpcPeeringConnectionId="pcx-1"), more=peering(""))
    assert Stop(f"{S} 10.5.0.0/16 → pcx-1", "ROUTE_STATE_UNKNOWN", "pcx-1: peering connection status '(none)' not known "
                "(ec2:DescribeVpcPeeringConnections); not followed", False) in stops(model, "subnet-s")


def chain() -> Model:
    """A chain of NAT gateways longer than the analysis follows: subnet-0's table sends everything
    to nat-1 in subnet-1, whose table sends it to nat-2 in subnet-2, ... up to an internet gateway."""
    n = MAX_HOPS + 1
    tables = [table(f"rtb-{i}", "vpc-a", local(VPC_A), route("0.0.0.0/0", NatGatewayId=f"nat-{i + 1}"),
                    subnets=[f"subnet-{i}"]) for i in range(n)]
    tables.append(table(f"rtb-{n}", "vpc-a", local(VPC_A), route("0.0.0.0/0", GatewayId="igw-1"), subnets=[f"subnet-{n}"]))
    return model_of({
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": VPC_A}]},
        "ec2:DescribeSubnets": {"Subnets": [subnet(f"subnet-{i}", "vpc-a", f"10.0.{i}.0/24") for i in range(n + 1)]},
        "ec2:DescribeRouteTables": {"RouteTables": tables},
        "ec2:DescribeNatGateways": {"NatGateways": [
            {"NatGatewayId": f"nat-{i}", "VpcId": "vpc-a", "SubnetId": f"subnet-{i}", "State": "available"}
            for i in range(1, n + 1)]},
    })


TOO_LONG = Stop(" → ".join(["subnet-0", *(f"rtb-{i} 0.0.0.0/0 → nat-{i + 1}" for i in range(MAX_HOPS)),
                            f"rtb-{MAX_HOPS}"]),
                "PATH_TOO_LONG", f"path longer than {MAX_HOPS} tables at rtb-{MAX_HOPS}; not followed", False)


@fixture("PATH_TOO_LONG", NoPath(chain, "subnet-0", TOO_LONG))
def _too_long() -> None:
    assert stops(chain(), "subnet-0") == {v6_none("subnet-0 → rtb-0"), own_vpc("subnet-0 → rtb-0"), TOO_LONG}
    # the control: from further down the chain, the same gateways lead to the internet
    assert [p.destination for p in reach(chain(), "subnet-2").paths] == ["internet"]


# -- the answer for a destination --------------------------------------------------------------

@fixture("NO_PATH")
def _no_path() -> None:
    for name, where in (("internet_egress_paths", "the internet"), ("on_premises_paths", "an on-premises network")):
        got = derived(isolated(), "subnet-s", name)
        assert got.value == () and got.explain == (
            f"NO_PATH (no path to {where}: every part of the traffic stops as listed below)",
            "subnet-s → rtb-s: NO_ROUTE_TO_DESTINATION (no route matches 0.0.0.0/0 outside 10.0.0.0/16)",
            "subnet-s → rtb-s: NO_ROUTE_TO_DESTINATION (no route matches ::/0)",
            "subnet-s → rtb-s 10.0.0.0/16: VPC_LOCAL_ROUTE_CIDR_RESTRICTION (delivered inside vpc-a, the source's own "
            "VPC)")


@fixture("DISCONNECTED_VPCS")
def _disconnected() -> None:
    got = derived(isolated(), "subnet-s", "vpc_paths")
    assert got.value == () and got.explain[0] == (
        "DISCONNECTED_VPCS (no path to another VPC: every part of the traffic stops as listed below)")
    assert own_vpc(S).text in got.explain
    # with a path to another VPC, the explanation is the path instead
    got = derived(peered_wide(), "subnet-s", "vpc_paths")
    assert got.explain[0] == "path 1: subnet-s → rtb-s 0.0.0.0/0 → pcx-1 10.5.0.0/16 → vpc-p [REACHES_VPC vpc-p]"


# -- what a path's hops do ---------------------------------------------------------------------

NAT_PATH = "subnet-s → rtb-s 0.0.0.0/0 → nat-1 → rtb-out 0.0.0.0/0 → igw-1"
NAT_CODES = ("NGW_SOURCE_ADDRESS_REASSIGN at nat-1", "NGW_DEST_ADDRESS_PRESERVATION at nat-1",
             "REMAP_EPHEMERAL_PORT at nat-1", "REACHES_INTERNET_GATEWAY igw-1")


def _through_nat() -> None:
    model = via_nat("0.0.0.0/0")()
    assert path_codes(model, "subnet-s") == {NAT_PATH: NAT_CODES}
    assert stops(model, "subnet-s") == BASE_S
    [line] = [e for e in derived(model, "subnet-s", "internet_egress_paths").explain if e.startswith("path")]
    assert line == f"path 1: {NAT_PATH} [{'; '.join(NAT_CODES)}]"


for _code in ("NGW_SOURCE_ADDRESS_REASSIGN", "NGW_DEST_ADDRESS_PRESERVATION", "REMAP_EPHEMERAL_PORT",
              "REACHES_INTERNET_GATEWAY"):
    fixture(_code)(_through_nat)


@fixture("REACHES_EGRESS_ONLY_GATEWAY")
def _eigw() -> None:
    # IPv6 through an appliance to an egress-only internet gateway
    model = one_vpc(route("::/0", NetworkInterfaceId="eni-fw"), out=[route("::/0", EgressOnlyInternetGatewayId="eigw-1")],
                    more=appliance("eni-fw"))
    assert path_codes(model, "subnet-s") == {
        "subnet-s → rtb-s ::/0 → eni-fw → rtb-out ::/0 → eigw-1": ("REACHES_EGRESS_ONLY_GATEWAY eigw-1",)}


@fixture("REACHES_CARRIER_GATEWAY")
def _carrier() -> None:
    model = one_vpc(route("0.0.0.0/0", NetworkInterfaceId="eni-fw"), out=[route("0.0.0.0/0", CarrierGatewayId="cagw-1")],
                    more=appliance("eni-fw"))
    assert path_codes(model, "subnet-s") == {
        "subnet-s → rtb-s 0.0.0.0/0 → eni-fw → rtb-out 0.0.0.0/0 → cagw-1": ("REACHES_CARRIER_GATEWAY cagw-1",)}


@fixture("OWN_ROUTE_TO_INTERNET_GATEWAY")
def _own_route() -> None:
    model = one_vpc(route("0.0.0.0/0", GatewayId="igw-1"), route("::/0", EgressOnlyInternetGatewayId="eigw-1"))
    assert path_codes(model, "subnet-s") == {
        "subnet-s → rtb-s 0.0.0.0/0 → igw-1": ("OWN_ROUTE_TO_INTERNET_GATEWAY igw-1",),
        "subnet-s → rtb-s ::/0 → eigw-1": ("OWN_ROUTE_TO_INTERNET_GATEWAY eigw-1",)}
    # the strict reading: even a route for private addresses, when it is the source's own
    model = one_vpc(route("10.50.0.0/16", GatewayId="igw-1"))
    assert path_codes(model, "subnet-s") == {
        "subnet-s → rtb-s 10.50.0.0/16 → igw-1": ("OWN_ROUTE_TO_INTERNET_GATEWAY igw-1",)}


@fixture("REACHES_ON_PREMISES")
def _on_premises() -> None:
    model = one_vpc(route("192.168.0.0/16", GatewayId="vgw-1"))
    assert path_codes(model, "subnet-s") == {"subnet-s → rtb-s 192.168.0.0/16 → vgw-1": ("REACHES_ON_PREMISES vgw-1",)}
    model = two_vpcs([tgw_route("172.16.0.0/12", "tgw-attach-vpn")], more={"ec2:DescribeTransitGatewayAttachments": {
        "TransitGatewayAttachments": [attachment("tgw-attach-vpn", "vpn", "vpn-1", "tgw-rtb-b")]}})
    assert path_codes(model, "subnet-a") == {
        f"{TGW_1} 172.16.0.0/12 → attachment vpn-1": ("REACHES_ON_PREMISES vpn-1",)}


@fixture("REACHES_VPC")
def _reaches_vpc() -> None:
    assert path_codes(peered_wide(), "subnet-s") == {
        "subnet-s → rtb-s 0.0.0.0/0 → pcx-1 10.5.0.0/16 → vpc-p": ("REACHES_VPC vpc-p",)}
    model = two_vpcs([tgw_route("10.1.0.0/16", "tgw-attach-b")])
    assert path_codes(model, "subnet-a") == {
        f"{TGW_1} 10.1.0.0/16 → attachment vpc-b → rtb-b 10.1.0.0/16 → vpc-b": ("REACHES_VPC vpc-b",)}


def s3_endpoint() -> Model:
    return one_vpc(route("pl-s3", GatewayId="vpce-s3"), more=merged(prefix_list("pl-s3", "52.218.0.0/17"), {
        "ec2:DescribeVpcEndpoints": {"VpcEndpoints": [
            {"VpcEndpointId": "vpce-s3", "VpcId": "vpc-a", "VpcEndpointType": "Gateway",
             "ServiceName": "com.amazonaws.eu-west-1.s3", "RouteTableIds": ["rtb-s"], "State": "available"}]}}))


TO_S3 = Stop(f"{S} pl-s3 (52.218.0.0/17) → vpce-s3", "ENDS_AT_SERVICE_ENDPOINT",
             "Gateway endpoint for com.amazonaws.eu-west-1.s3")


@fixture("ENDS_AT_SERVICE_ENDPOINT", NoPath(s3_endpoint, "subnet-s", TO_S3))
def _service_endpoint() -> None:
    assert stops(s3_endpoint(), "subnet-s") == BASE_S | {TO_S3, Stop(
        S, "NO_ROUTE_TO_DESTINATION", "no route matches 0.0.0.0/0 outside 10.0.0.0/16, 52.218.0.0/17")}


def self_nat() -> Model:
    """A NAT gateway in a subnet whose table sends everything back to it."""
    return one_vpc(route("0.0.0.0/0", NatGatewayId="nat-1"), out=[route("0.0.0.0/0", NatGatewayId="nat-1")],
                   more=nat("nat-1"))


LOOP = Stop(f"{S} 0.0.0.0/0 → nat-1 → rtb-out 0.0.0.0/0 → nat-1 → rtb-out (loop)", "ROUTING_LOOP",
            "back at a table already passed for the same destination")


@fixture("ROUTING_LOOP", NoPath(self_nat, "subnet-s", LOOP))
def _loop() -> None:
    found = reach(self_nat(), "subnet-s")
    assert set(found.stops) == BASE_S | {LOOP} and found.loops == (LOOP.hops,)


# -- ingress -----------------------------------------------------------------------------------

def ingress_lines(model: Model) -> tuple[str, ...]:
    return _saw_lines(internet_ingress_explained(model, the_eni(model, "eni-1")))


@fixture("IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS")
def _private_ip() -> None:
    model = ingress({"NetworkInterfaceId": "eni-1", "VpcId": "vpc-a", "SubnetId": "subnet-a",
                     "InterfaceType": "interface", "Groups": [{"GroupId": "sg-1"}]}, [tcp(22, "0.0.0.0/0")])
    assert ingress_lines(model) == (
        "eni-1: IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS (no public IPv4 address and no IPv6 address)",)
    assert internet_ingress_ports(model, the_eni(model, "eni-1")) == ((), ())


@fixture("ENI_SG_RULES_MISMATCH")
def _sg_mismatch() -> None:
    model = ingress(rules=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                            "ReferencedGroupInfo": {"GroupId": "sg-2"}}])
    assert ingress_lines(model) == (
        "eni-1: ENI_SG_RULES_MISMATCH (no inbound rule of sg-1 admits IPv4 internet sources)",)


@fixture("SG_HAS_NO_RULES")
def _sg_no_rules() -> None:
    assert ingress_lines(ingress()) == (
        "sg-1: SG_HAS_NO_RULES (no inbound rule)",
        "eni-1: ENI_SG_RULES_MISMATCH (no inbound rule of sg-1 admits IPv4 internet sources)")


@fixture("SUBNET_ACL_RESTRICTION")
def _acl() -> None:
    model = ingress(rules=[tcp(22, "0.0.0.0/0")], acl_action="deny")
    assert ingress_lines(model) == (
        "eni-1 → acl-1: SUBNET_ACL_RESTRICTION (admits none of tcp 22 from IPv4 internet sources)",)
    # the control: the same with the ACL allowing
    model = ingress(rules=[tcp(22, "0.0.0.0/0")])
    assert ingress_lines(model) == () and internet_ingress_ports(model, the_eni(model, "eni-1")) == (("tcp 22",), ())


@fixture("IGW_SOURCE_ADDRESS_NOT_IN_RFC1918_INGRESS")
def _rfc1918_ingress() -> None:
    assert ingress_lines(ingress(rules=[tcp(22, "10.0.0.0/8")])) == (
        "sg-1 sgr-0: IGW_SOURCE_ADDRESS_NOT_IN_RFC1918_INGRESS (source 10.0.0.0/8)",
        "eni-1: ENI_SG_RULES_MISMATCH (no inbound rule of sg-1 admits IPv4 internet sources)")


@fixture("IGW_SOURCE_ADDRESS_NOT_IN_RFC6598_INGRESS")
def _rfc6598_ingress() -> None:
    assert ingress_lines(ingress(rules=[tcp(22, "100.64.0.0/10"), tcp(443, "0.0.0.0/0")])) == (
        "sg-1 sgr-0: IGW_SOURCE_ADDRESS_NOT_IN_RFC6598_INGRESS (source 100.64.0.0/10)",)


NAT_ENI = {"NetworkInterfaceId": "eni-1", "VpcId": "vpc-a", "SubnetId": "subnet-a", "InterfaceType": "nat_gateway",
           "Association": {"PublicIp": "203.0.113.10"}}


@fixture("NAT_GATEWAY_NO_INBOUND")
def _nat_no_inbound() -> None:
    model = ingress(NAT_ENI)
    assert ingress_lines(model) == ("eni-1: NAT_GATEWAY_NO_INBOUND (a NAT gateway accepts no connection from the "
                                    "internet)",)
    assert internet_ingress_ports(model, the_eni(model, "eni-1")) == ((), ())


@fixture("NOT_ANALYSED_INGRESS")
def _not_analysed() -> None:
    model = ingress({**NAT_ENI, "InterfaceType": "network_load_balancer"})
    reason = "eni-1: no security groups; what it admits depends on the service behind it (network_load_balancer)"
    assert ingress_lines(model) == (f"eni-1: NOT_ANALYSED_INGRESS ({reason}) [unknown]",)
    assert internet_ingress_ports(model, the_eni(model, "eni-1")) == (None, (reason,))


# -- the tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("code", sorted(FIXTURES))
def test_the_fixture_emits_its_code(code: str) -> None:
    _SEEN.clear()
    FIXTURES[code]()
    assert code in _SEEN, f"the fixture of {code} never met it"


@pytest.mark.parametrize("code", sorted(NO_PATHS))
def test_a_subnet_without_an_internet_path_says_why(code: str) -> None:
    """The derived value the rules read (PASS when empty, ERROR when null) carries the
    explanation an assessor checks: NO_PATH and the stop that explains it, or, when the stop is
    uncertain, that no path was found for certain and the stop marked unknown."""
    case = NO_PATHS[code]
    assert case.stop.code == code
    got = derived(case.model(), case.subnet, "internet_egress_paths")
    if case.stop.certain:
        assert got.value == ()
        assert got.explain[0] == "NO_PATH (no path to the internet: every part of the traffic stops as listed below)"
        assert case.stop.text in got.explain
    else:
        assert got.value is None and got.why
        assert got.explain[0] == ("no path to the internet found for certain: some hops could not be followed "
                                  "(the lines marked unknown)")
        assert f"{case.stop.text} [unknown]" in got.explain
    # the subnet's full explanation holds the same line
    assert any(line.startswith(case.stop.text) for line in derived(case.model(), case.subnet,
                                                                   "reachability_explanation").value)


def test_every_code_has_a_fixture_and_30_are_aws() -> None:
    assert set(FIXTURES) == set(CODES), (
        f"codes without a fixture: {sorted(set(CODES) - set(FIXTURES))}; "
        f"fixtures of no code: {sorted(set(FIXTURES) - set(CODES))}")
    aws = [c for c in CODES.values() if c.aws]
    assert len(aws) >= 30, len(aws)


def test_every_no_path_code_is_a_blocked_or_unknown_egress_code() -> None:
    for code, case in NO_PATHS.items():
        c = CODES[code]
        assert c.side in ("egress", "both") and c.kind in ("blocked", "unknown"), code
        assert case.stop.certain == (c.kind == "blocked"), code


# -- route priority, own routes, shadowed routes, unread groups: what the first fixtures found --------

def propagated(r: dict[str, str]) -> dict[str, str]:
    """A route a virtual private gateway propagated into the table."""
    return {**r, "Origin": "EnableVgwRoutePropagation"}


def test_an_interfaces_own_subnet_route_to_an_internet_gateway_is_its_own_route() -> None:
    model = one_vpc(route("0.0.0.0/0", GatewayId="igw-1"), more={"ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": [
        {"NetworkInterfaceId": "eni-s", "VpcId": "vpc-a", "SubnetId": "subnet-s", "InterfaceType": "interface"}]}})
    [path] = interface_reachability(model, the_eni(model, "eni-s")).paths
    assert path.text == "eni-s → subnet-s → rtb-s 0.0.0.0/0 → igw-1"
    assert path.codes == ("OWN_ROUTE_TO_INTERNET_GATEWAY igw-1",)


_STATIC_FIRST = pytest.param(False, id="static-first")
_PROPAGATED_FIRST = pytest.param(True, id="propagated-first")


@pytest.mark.parametrize("propagated_first", [_PROPAGATED_FIRST, _STATIC_FIRST])
def test_a_static_route_wins_over_a_propagated_one(propagated_first: bool) -> None:
    static = route("192.168.0.0/16", VpcPeeringConnectionId="pcx-1")
    vgw = propagated(route("192.168.0.0/16", GatewayId="vgw-1"))
    model = one_vpc(*((vgw, static) if propagated_first else (static, vgw)), more=peering("active", "192.168.0.0/16"))
    traced = trace(model, "subnet-s", "192.168.1.1")
    assert [p.text for p in traced.paths] == ["subnet-s → rtb-s 192.168.0.0/16 → pcx-1 192.168.1.1/32 → vpc-p"]
    assert reach(model, "subnet-s").of("on_premises") == ()


def test_the_local_route_wins_over_a_more_specific_propagated_route() -> None:
    model = one_vpc(propagated(route("10.0.5.0/24", GatewayId="vgw-1")))
    assert reach(model, "subnet-s").of("on_premises") == ()
    traced = trace(model, "subnet-s", "10.0.5.1")
    assert [p.text for p in traced.paths] == ["subnet-s → rtb-s 10.0.0.0/16 → vpc-a"]


@pytest.mark.parametrize("propagated_first", [True, False], ids=["propagated-first", "static-first"])
def test_a_static_transit_gateway_route_wins_over_a_propagated_one(propagated_first: bool) -> None:
    static = {**tgw_route("203.0.113.0/24", state="blackhole"), "Type": "static"}
    learned = {**tgw_route("203.0.113.0/24", "tgw-attach-b"), "Type": "propagated"}
    model = two_vpcs([learned, static] if propagated_first else [static, learned],
                     b_routes=[route("0.0.0.0/0", GatewayId="igw-b")])
    traced = trace(model, "subnet-a", "203.0.113.5")
    assert traced.paths == ()
    assert sorted(st.code for st in traced.stops if st.hops == f"{TGW_1} 203.0.113.0/24") == [
        "TGW_RTB_BAD_STATE_ROUTE", "TGW_RTB_HIGHER_PRIORITY_ROUTE"]


def test_no_route_choice_noise_where_earlier_hops_narrowed_the_traffic() -> None:
    """In the central egress estate, the routes back to the transit gateway (rtb-7 and rtb-3
    10.0.0.0/8, rtb-b 0.0.0.0/0) carry none of the spoke's traffic for reasons that explain
    nothing about a way out: they are not listed."""
    from test_reachability import tgw_estate

    spoke = "subnet-a → rtb-1"
    assert stops(model_of(tgw_estate()), "subnet-a") == {
        v6_none(spoke), own_vpc(spoke),
        Stop(f"{spoke} 0.0.0.0/0 → tgw-1 → tgw-rtb-2 10.0.0.0/8", "TGW_RTB_BAD_STATE_ROUTE", "blackhole route")}


def test_an_unread_security_group_is_not_said_to_admit_nothing() -> None:
    lines = ingress_lines(ingress(rules=[tcp(22, "0.0.0.0/0")], groups={}))
    assert ("eni-1: UNKNOWN_RESOURCE (sg-1: security group of eni-1 not in the model (ec2:DescribeSecurityGroups)) "
            "[unknown]") in lines
    assert not any("ENI_SG_RULES_MISMATCH" in line for line in lines), lines


# -- the parity table with Reachability Analyzer (docs/reachability.md, generated) -------------

def test_the_parity_list_agrees_with_the_codes_the_analysis_emits() -> None:
    assert problems(AWS_CODES, CODES) == []
    emitted = {c.name for c in AWS_CODES if c.status == "emitted"}
    assert emitted == {c.name for c in CODES.values() if c.aws}
    # our own codes are ours: none of them is an AWS code
    assert not {c.name for c in CODES.values() if not c.aws} & {c.name for c in AWS_CODES}
    assert all(c.covered in ("yes", "partly", "no") and c.how and c.roles for c in COMPONENTS)
    assert all(b.url.startswith("https://docs.aws.amazon.com/vpc/latest/reachability/") for b in BEYOND)


def test_a_wrong_parity_list_is_reported_entry_by_entry() -> None:
    good = AwsCode("BAD_STATE", "Path is not reachable", "m", "emitted", "r")
    wrong = (
        good,
        AwsCode("Bad_State_Route", "Path is not reachable", "m", "emitted", "r"),     # misspelled
        AwsCode("BAD_STATE", "Path is not reachable", "m", "emitted", "r"),           # twice
        AwsCode("CANNOT_ROUTE", "Path is not reachable", "m", "maybe", "r"),          # type: ignore[arg-type]
        AwsCode("ELB_NOT_CROSSZONE", "Elsewhere", "m", "not applicable", ""),          # type: ignore[arg-type]
        AwsCode("REACHES_VPC", "Path is not reachable", "m", "emitted", "r"),         # ours, not AWS's
    )
    codes = {n: CODES[n] for n in ("BAD_STATE", "CANNOT_ROUTE", "NO_PATH", "REACHES_VPC")}
    assert problems(wrong, codes) == [
        "'Bad_State_Route': not an explanation code name (upper case words joined by _)",
        "Bad_State_Route: 'emitted' here, but not an AWS code of CODES",
        "BAD_STATE: listed twice",
        "CANNOT_ROUTE: status 'maybe' is not one of emitted, not applicable, not covered",
        "ELB_NOT_CROSSZONE: section 'Elsewhere' is not one of Path is not reachable, Configuration, Search filter",
        "ELB_NOT_CROSSZONE: its meaning and reason must be given",
        "REACHES_VPC: 'emitted' here, but not an AWS code of CODES",
        "CANNOT_ROUTE: emitted (an AWS code of CODES) but not 'emitted' in the parity list",
        "NO_PATH: an AWS code of CODES missing from the parity list",
    ]


def test_the_parity_tables_in_the_docs_are_generated_and_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert render(text) == text, "run `python -m auditor.docgen` to refresh docs/reachability.md"
    for name in ("explanation-codes", "parity-codes", "parity-components", "parity-beyond"):
        assert f"<!-- BEGIN GENERATED: {name} -->" in text, name
    for c in (*CODES.values(), *AWS_CODES):
        assert f"| `{c.name}` |" in text, c.name


def test_a_shadowed_route_to_a_transit_gateway_is_explained() -> None:
    model = two_vpcs([tgw_route("0.0.0.0/0", "tgw-attach-b")], more={
        "ec2:DescribeSubnets": {"Subnets": [subnet("subnet-c", "vpc-a", "10.0.3.0/24")]},
        "ec2:DescribeRouteTables": {"RouteTables": [
            table("rtb-c", "vpc-a", local(VPC_A), route("0.0.0.0/0", TransitGatewayId="tgw-1"),
                  route("0.0.0.0/1", "blackhole", NatGatewayId="nat-old"),
                  route("128.0.0.0/1", "blackhole", NatGatewayId="nat-old"), subnets=["subnet-c"])]}})
    assert reach(model, "subnet-c").paths == ()
    assert Stop("subnet-c → rtb-c 0.0.0.0/0", "MORE_SPECIFIC_ROUTE",
                "more specific routes take all of what this route to tgw-1 would carry") in stops(model, "subnet-c")


@pytest.mark.parametrize("table_kind", ["vpc", "transit-gateway"])
def test_a_propagated_blackhole_does_not_hide_a_static_route_to_the_internet(table_kind: str) -> None:
    if table_kind == "vpc":
        model = one_vpc(propagated(route("0.0.0.0/0", "blackhole", GatewayId="vgw-1")),
                        route("0.0.0.0/0", GatewayId="igw-1"))
        sid = "subnet-s"
    else:
        model = two_vpcs([{**tgw_route("0.0.0.0/0", state="blackhole"), "Type": "propagated"},
                          {**tgw_route("0.0.0.0/0", "tgw-attach-b"), "Type": "static"}],
                         b_routes=[route("0.0.0.0/0", GatewayId="igw-b")])
        sid = "subnet-a"
    assert "internet" in [p.destination for p in reach(model, sid).paths]
    assert derived(model, sid, "internet_egress_paths").value != ()


def test_every_path_and_stop_of_the_reachability_estates_is_coded_consistently() -> None:
    """Over the estates of tests/test_reachability.py: each path ends with one code of its kind
    of destination, and each stop's code is a blocked code when certain, an unknown one when not."""
    from test_reachability import BASICS, _loop_estate, tgw_estate

    ends = {"internet": {"REACHES_INTERNET_GATEWAY", "REACHES_EGRESS_ONLY_GATEWAY", "REACHES_CARRIER_GATEWAY",
                         "OWN_ROUTE_TO_INTERNET_GATEWAY"},
            "on_premises": {"REACHES_ON_PREMISES"}, "vpc": {"REACHES_VPC"}}
    checked = 0
    for calls in (BASICS, tgw_estate(), tgw_estate(spokes_collected=False), _loop_estate()):
        model = model_of(calls)
        for sn in model.of("subnet"):
            found = subnet_reachability(model, sn)
            for p in found.paths:
                names = [c.split()[0] for c in p.codes]
                assert names[-1] in ends[p.destination], (p.text, p.codes)
                assert all(CODES[n].kind == "reached" for n in names), p.codes
                checked += 1
            for st in found.stops:
                assert CODES[st.code].kind == ("blocked" if st.certain else "unknown"), st
                checked += 1
            assert {st.detail for st in found.stops if not st.certain} == set(found.indeterminate), sn.id
    assert checked > 50
