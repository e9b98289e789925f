"""The reachability and endpoint-policy analyzers on emulated estates: every semantic case
built in moto from tests/estates/analyzers/*.yaml, collected with the real collector,
loaded back from the snapshot, and asserted to the exact path or counter-example.

The estates are seeded into one emulator, each in its own account, and collected once per
session (conftest `analyzer_estates`); each test reads its estate's account. Expected texts name things by their
estate names in braces - ``{route_table:to-igw}`` - and `Built.fill` puts the ids moto
gave them in their place, so every assertion is about exact ids.

First the estates themselves are proven right (the model holds the routes, targets and
states each case needs), then the analyzers are asserted on them. One estate also runs
through a real ThreadedMotoServer (``server`` mark).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable

import pytest

from auditor.analyze.policy import (Policy, actions_outside, analyze, parse_policy, principals_outside,
                                    resources_outside)
from auditor.analyze.reachability import interface_reachability, internet_ingress_ports, subnet_reachability
from auditor.collect.runner import collect
from auditor.config import config_from_text
from auditor.emulate import EmulatedAws, SeedResult, estate_from_text, load_estate, seed
from auditor.emulate.host import Mode
from auditor.errors import InputError
from auditor.findings import Finding
from auditor.model import build_model
from auditor.model.types import (Instance, Model, NetworkAcl, NetworkInterface, PrefixList, Resource, RouteTable,
                                 Subnet, TransitGatewayAttachment, TransitGatewayRouteTable, VpcEndpoint)
from auditor.rules.attributes import resolve
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.writer import SnapshotWriter
from conftest import ANALYZER_ACCOUNTS, AnalyzerEstates

ESTATES = Path(__file__).parent / "estates" / "analyzers"
REGION = "us-east-1"
EGRESS, TRANSIT, EXPOSURE, POLICIES = "111111111111", "222222222222", "333333333333", "444444444444"
_PLACEHOLDER = re.compile(r"\{([a-z_]+):([^{}]+)\}")


@dataclass(frozen=True)
class Built:
    """One estate as seeded, collected and modelled."""

    ids: SeedResult
    model: Model
    account: str
    region: str = REGION

    def id(self, kind: str, name: str) -> str:
        """The id of a seeded thing; kind ``aws_prefix_list`` finds an AWS-managed list by service."""
        if kind == "aws_prefix_list":
            [found] = [p.id for p in self.model.of("prefix_list") if isinstance(p, PrefixList)
                       and p.name == f"com.amazonaws.{self.region}.{name}"]
            return found
        return self.ids.id(self.account, self.region, kind, name)

    def fill(self, text: str) -> str:
        """`text` with each ``{kind:name}`` replaced by that thing's id."""
        return _PLACEHOLDER.sub(lambda m: self.id(m[1], m[2]), text)

    def the(self, kind: str, name: str) -> Resource:
        found = self.model.get(kind, self.id(kind, name), self.account, self.region)
        assert found is not None, (kind, name)
        return found

    def subnet(self, name: str) -> Subnet:
        found = self.the("subnet", name)
        assert isinstance(found, Subnet)
        return found

    def routes(self, subnet: str) -> tuple[str, set[str]]:
        """How the subnet got its table (explicit | main) and the table's non-local routes,
        each as ``<destination> <target kind> <target id> <state>``."""
        sn = self.subnet(subnet)
        assert sn.route_table_id is not None
        table = self.model.get("route_table", sn.route_table_id, self.account, self.region)
        assert isinstance(table, RouteTable)
        return sn.route_table_association, {f"{r.destination} {r.target_kind} {r.target_id} {r.state}"
                                            for r in table.routes if r.target_kind != "local"}


def build(name: str, account: str, out: Path, mode: Mode = "inprocess") -> Built:
    """Seed estate `name` in moto, collect it with the real collector, model the snapshot."""
    estate = load_estate(ESTATES / f"{name}.yaml")
    config = config_from_text(f'version: 1\naccounts:\n  - id: "{account}"\n'
                              f"    role_arn: {EmulatedAws.role_arn(account)}\nregions: [{REGION}]\n")
    with EmulatedAws(mode=mode) as emu:
        ids = seed(estate, emu)
        result = collect(config, emu.session_factory(max_attempts=2), SnapshotWriter(out, keep=True))
    assert result.complete, result.manifest["errors"]
    snap = load_snapshot(out)
    model = build_model(snap.records, snap.manifest["files"])
    assert model == build_model(result.records, result.manifest["files"])
    return Built(ids, model, account)


def shared(estates: AnalyzerEstates, name: str, account: str) -> Built:
    """Estate `name` out of the session's collection of every analyzer estate (each in its own
    account): the model of its account's records, read back from the snapshot (and equal to the
    model of the records as collected)."""
    snap = load_snapshot(estates.snapshot)
    model = build_model([r for r in snap.records if r.account == account], snap.manifest["files"])
    assert model == build_model([r for r in estates.records if r.account == account], estates.manifest["files"])
    assert ANALYZER_ACCOUNTS[name] == account
    return Built(estates.ids[name], model, account)


@pytest.fixture(scope="module")
def egress(analyzer_estates: AnalyzerEstates) -> Built:
    return shared(analyzer_estates, "egress-paths", EGRESS)


@pytest.fixture(scope="module")
def transit(analyzer_estates: AnalyzerEstates) -> Built:
    return shared(analyzer_estates, "transit-paths", TRANSIT)


@pytest.fixture(scope="module")
def exposure(analyzer_estates: AnalyzerEstates) -> Built:
    return shared(analyzer_estates, "ingress-exposure", EXPOSURE)


@pytest.fixture(scope="module")
def policies(analyzer_estates: AnalyzerEstates) -> Built:
    return shared(analyzer_estates, "endpoint-policies", POLICIES)


def _filled(built: Built, texts: Iterable[str]) -> set[str]:
    return {built.fill(t) for t in texts}


# -- the estates hold what each case needs ----------------------------------------------

EGRESS_ROUTES: dict[str, tuple[str, set[str]]] = {
    "public-a": ("explicit", {"0.0.0.0/0 igw {internet_gateway:edge} active"}),
    "direct": ("explicit", {"0.0.0.0/0 igw {internet_gateway:edge} active"}),
    "narrow": ("explicit", {"198.51.100.0/24 igw {internet_gateway:edge} active"}),
    "v6-igw": ("explicit", {"::/0 igw {internet_gateway:edge} active"}),
    "v6-eigw": ("explicit", {"::/0 eigw {egress_only_internet_gateway:edge} active"}),
    "implicit": ("main", {"0.0.0.0/0 nat {nat_gateway:public-nat} active"}),
    "via-nat-instance": ("explicit", {"0.0.0.0/0 instance {instance:nat-box} active"}),
    "via-appliance": ("explicit", {"0.0.0.0/0 eni {network_interface:firewall} active"}),
    "appliance-a": ("explicit", {"0.0.0.0/0 nat {nat_gateway:public-nat} active"}),
    "via-gwlb": ("explicit", {"0.0.0.0/0 gwlbe {vpc_endpoint:inspect} active"}),
    "inspection-a": ("explicit", {"0.0.0.0/0 nat {nat_gateway:public-nat} active"}),
    "carrier": ("explicit", {"0.0.0.0/0 carrier {carrier_gateway:edge} active"}),
    "to-deleted-nat": ("explicit", {"0.0.0.0/0 nat {nat_gateway:old-nat} blackhole"}),
    "to-terminated": ("explicit", {"0.0.0.0/0 instance {instance:old-box} blackhole"}),
    "via-prefix-list": ("explicit", {"{prefix_list:partners} igw {internet_gateway:edge} active",
                                     "{aws_prefix_list:s3} vpce {vpc_endpoint:s3} active"}),
    "shadowed": ("explicit", {"0.0.0.0/0 igw {internet_gateway:edge} active",
                              "0.0.0.0/1 nat {nat_gateway:old-nat} blackhole",
                              "128.0.0.0/1 nat {nat_gateway:old-nat} blackhole"}),
    "isolated": ("explicit", set()),
}


def test_egress_estate_routes_are_as_planted(egress: Built) -> None:
    assert {s.id for s in egress.model.of("subnet")} == {egress.id("subnet", n) for n in EGRESS_ROUTES}
    for name, (association, routes) in EGRESS_ROUTES.items():
        assert egress.routes(name) == (association, _filled(egress, routes)), name
    main = egress.the("route_table", "main")
    assert isinstance(main, RouteTable) and main.is_main and main.subnet_ids == ()
    assert egress.subnet("implicit").route_table_id == main.id
    # The targets the paths go through, as the analyzers need them.
    nats = {n: egress.the("nat_gateway", n) for n in ("public-nat", "old-nat")}
    assert {n: (g.state, g.connectivity) for n, g in nats.items()} == {  # type: ignore[attr-defined]
        "public-nat": ("available", "public"), "old-nat": ("deleted", "public")}
    nat_box, old_box = egress.the("instance", "nat-box"), egress.the("instance", "old-box")
    assert isinstance(nat_box, Instance) and isinstance(old_box, Instance)
    assert (nat_box.state, nat_box.source_dest_check, bool(nat_box.public_ip)) == ("running", False, True)
    assert nat_box.subnet_id == egress.id("subnet", "public-a")
    assert (old_box.state, old_box.source_dest_check) == ("terminated", False)
    [primary] = [e for e in egress.model.of("network_interface") if isinstance(e, NetworkInterface)
                 and e.instance_id == nat_box.id]
    assert primary.source_dest_check is False  # the instance's flag is its primary interface's
    firewall = egress.the("network_interface", "firewall")
    assert isinstance(firewall, NetworkInterface)
    assert (firewall.source_dest_check, firewall.subnet_id) == (False, egress.id("subnet", "appliance-a"))
    inspect = egress.the("vpc_endpoint", "inspect")
    assert isinstance(inspect, VpcEndpoint)
    assert (inspect.endpoint_type, inspect.subnet_ids) == ("GatewayLoadBalancer", (egress.id("subnet", "inspection-a"),))
    assert egress.the("carrier_gateway", "edge").vpc_id == egress.id("vpc", "edge")  # type: ignore[attr-defined]
    partners = egress.the("prefix_list", "partners")
    assert isinstance(partners, PrefixList) and partners.cidrs == ("203.0.113.0/24",)
    # IPv6: the VPC's block, and a /64 of it for each subnet that asked.
    [block] = egress.the("vpc", "edge").ipv6_cidr_blocks  # type: ignore[attr-defined]
    for name in ("v6-igw", "v6-eigw"):
        [v6] = egress.subnet(name).ipv6_cidrs
        net = ipaddress.IPv6Network(v6)
        assert net.subnet_of(ipaddress.IPv6Network(block)) and net.prefixlen == 64
    assert egress.subnet("direct").ipv6_cidrs == ()


TRANSIT_ROUTES: dict[str, tuple[str, set[str]]] = {
    "egress-public-a": ("explicit", {"0.0.0.0/0 igw {internet_gateway:egress} active",
                                     "10.0.0.0/8 tgw {transit_gateway:hub} active"}),
    "egress-tgw-a": ("explicit", {"0.0.0.0/0 nat {nat_gateway:egress-nat} active"}),
    "spoke-app-a": ("explicit", {"0.0.0.0/0 tgw {transit_gateway:hub} active"}),
    "spoke-pnat-a": ("explicit", {"0.0.0.0/0 nat {nat_gateway:spoke-pnat} active"}),
    "spoke-nat-a": ("explicit", {"0.0.0.0/0 tgw {transit_gateway:hub} active"}),
    "spoke-tgw-a": ("main", set()),
    "dead-app-a": ("explicit", {"0.0.0.0/0 nat {nat_gateway:dead-pnat} active"}),
    "dead-nat-a": ("explicit", {"0.0.0.0/0 igw {internet_gateway:dead-end} active"}),
    "q-app-a": ("explicit", {"0.0.0.0/0 tgw {transit_gateway:hub} active"}),
    "sealed-a": ("explicit", {"0.0.0.0/0 tgw {transit_gateway:hub} active"}),
    "loop-a-app": ("explicit", {"0.0.0.0/0 tgw {transit_gateway:hub} active"}),
    "loop-b-app": ("explicit", {"0.0.0.0/0 tgw {transit_gateway:hub} active"}),
    "branch-a": ("explicit", {"192.168.0.0/16 vgw {vpn_gateway:branch} active"}),
    "peered-a": ("explicit", {"0.0.0.0/0 pcx {vpc_peering:to-partner} active"}),
    "partner-a": ("explicit", {"0.0.0.0/0 igw {internet_gateway:partner} active",
                               "10.8.0.0/16 pcx {vpc_peering:to-partner} active"}),
}

# transit gateway route table -> (associated attachments, routes as "<dest> <state> <attachments>")
TGW_TABLES: dict[str, tuple[set[str], set[str]]] = {
    "spokes": ({"hub/spoke"}, {"0.0.0.0/0 active {transit_gateway_attachment:hub/egress}",
                               "172.16.0.0/12 active {transit_gateway_attachment:hub/dc1}",
                               "10.66.0.0/16 blackhole -"}),
    "egress-return": ({"hub/egress"}, {"10.1.0.0/16 active {transit_gateway_attachment:hub/spoke}",
                                       "10.3.0.0/16 active {transit_gateway_attachment:hub/quarantine}"}),
    "quarantine": ({"hub/quarantine"}, {"0.0.0.0/0 blackhole -",
                                        "198.51.100.0/24 active {transit_gateway_attachment:hub/egress}"}),
    "sealed": ({"hub/sealed"}, {"0.0.0.0/0 blackhole -"}),
    "loop-a-table": ({"hub/loop-a"}, {"0.0.0.0/0 active {transit_gateway_attachment:hub/loop-b}"}),
    "loop-b-table": ({"hub/loop-b"}, {"0.0.0.0/0 active {transit_gateway_attachment:hub/loop-a}"}),
    "on-premises": ({"hub/dc1"}, {"10.1.0.0/16 active {transit_gateway_attachment:hub/spoke}"}),
}


def assert_transit_estate(built: Built) -> None:
    """The transit estate's routes, TGW tables, attachments and NAT gateways (either mode)."""
    assert {s.id for s in built.model.of("subnet")} == {built.id("subnet", n) for n in TRANSIT_ROUTES}
    for name, (association, routes) in TRANSIT_ROUTES.items():
        assert built.routes(name) == (association, _filled(built, routes)), name
    tables = {t.id: t for t in built.model.of("transit_gateway_route_table")
              if isinstance(t, TransitGatewayRouteTable)}
    for name, (associated, routes) in TGW_TABLES.items():
        table = tables.pop(built.id("transit_gateway_route_table", name))
        assert set(table.associated_attachment_ids or ()) == {built.id("transit_gateway_attachment", a)
                                                              for a in associated}, name
        assert {f"{r.destination} {r.state} {','.join(r.attachment_ids) or '-'}" for r in table.routes or ()} \
            == _filled(built, routes), name
    # moto's own default table (the estate turns default association off): empty, unused.
    assert [(t.associated_attachment_ids, t.routes) for t in tables.values()] == [((), ())]
    # Each attachment reads as associated with its table only (moto_ext keeps moto honest).
    for att in built.model.of("transit_gateway_attachment"):
        assert isinstance(att, TransitGatewayAttachment)
        [table_name] = [n for n, (assoc, _) in TGW_TABLES.items()
                        if att.id in {built.id("transit_gateway_attachment", a) for a in assoc}]
        assert att.associated_route_table_id == built.id("transit_gateway_route_table", table_name)
    dc1 = built.the("transit_gateway_attachment", "hub/dc1")
    assert isinstance(dc1, TransitGatewayAttachment)
    assert (dc1.resource_type, dc1.resource_id, dc1.state) == ("vpn", built.id("vpn_connection", "dc1"), "available")
    egress_att = built.the("transit_gateway_attachment", "hub/egress")
    assert egress_att.subnet_ids == (built.id("subnet", "egress-tgw-a"),)  # type: ignore[attr-defined]
    assert {n: (g.connectivity, g.state) for n in ("egress-nat", "spoke-pnat", "dead-pnat")  # type: ignore[attr-defined]
            for g in [built.the("nat_gateway", n)]} == {
        "egress-nat": ("public", "available"), "spoke-pnat": ("private", "available"),
        "dead-pnat": ("private", "available")}
    assert built.the("vpn_gateway", "branch").attached_vpc_ids == (built.id("vpc", "branch"),)  # type: ignore[attr-defined]
    pcx = built.the("vpc_peering", "to-partner")
    assert pcx.status == "active"  # type: ignore[attr-defined]
    assert (pcx.requester.vpc_id, pcx.accepter.vpc_id) == (  # type: ignore[attr-defined]
        built.id("vpc", "peered"), built.id("vpc", "partner"))


def test_transit_estate_routes_are_as_planted(transit: Built) -> None:
    assert_transit_estate(transit)


@pytest.mark.server
def test_transit_estate_over_a_real_moto_server(tmp_path: Path) -> None:
    """The same estate seeded and collected over HTTP: the same facts, the same paths."""
    built = build("transit-paths", TRANSIT, tmp_path / "snapshot", mode="server")
    assert_transit_estate(built)
    assert_transit_paths(built)


def test_exposure_estate_is_as_planted(exposure: Built) -> None:
    for name in ("web-a", "guarded-a"):
        assert exposure.routes(name) == ("explicit", _filled(exposure, {"0.0.0.0/0 igw {internet_gateway:dmz} active"}))
    assert exposure.routes("inner-a") == ("explicit", set())
    public = {n: bool(i.public_ip) for n in ("bastion", "guarded", "private-box", "stranded", "eip-box")  # type: ignore[attr-defined]
              for i in [exposure.the("instance", n)]}
    assert public == {"bastion": True, "guarded": True, "private-box": False, "stranded": True, "eip-box": True}
    eip = exposure.the("elastic_ip", "eip-box-address")
    assert eip.instance_id == exposure.id("instance", "eip-box")  # type: ignore[attr-defined]
    acls = {n: exposure.the("network_acl", n) for n in ("web-acl", "guarded-acl")}

    def entries(acl: Resource) -> list[tuple[int, str, str, int | None]]:
        assert isinstance(acl, NetworkAcl)
        return sorted((e.rule_number, e.action, e.protocol, e.from_port) for e in acl.entries if not e.egress)
    # AWS's closing rule * (32767) is there too (moto_ext), after the estate's rules.
    assert entries(acls["web-acl"]) == [(100, "deny", "6", 3389), (200, "allow", "-1", None), (32767, "deny", "-1", None)]
    assert entries(acls["guarded-acl"]) == [(100, "deny", "6", 22), (110, "deny", "6", 3389), (200, "allow", "6", 22),
                                            (210, "allow", "6", 3389), (300, "allow", "6", 1024),
                                            (32767, "deny", "-1", None)]
    assert acls["guarded-acl"].subnet_ids == (exposure.id("subnet", "guarded-a"),)  # type: ignore[attr-defined]
    rules = {(r.protocol, r.from_port, r.cidr_ipv4) for r in exposure.model.of("security_group_rule")  # type: ignore[attr-defined]
             if r.group_id == exposure.id("security_group", "admin") and not r.is_egress}  # type: ignore[attr-defined]
    assert rules == {("tcp", 22, "0.0.0.0/0"), ("tcp", 3389, "0.0.0.0/0"), ("tcp", 5432, "10.0.0.0/8")}


def test_policy_estate_round_trips_every_policy(policies: Built) -> None:
    estate = load_estate(ESTATES / "endpoint-policies.yaml")
    [vault] = next(estate.regions()).vpcs()
    written = {e["name"]: e.get("policy") for e in vault["endpoints"]}
    for name, policy in written.items():
        endpoint = policies.the("vpc_endpoint", name)
        assert isinstance(endpoint, VpcEndpoint)
        if policy is None:  # AWS's default: full access
            assert endpoint.policy == {"Version": "2008-10-17", "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
        else:
            assert endpoint.policy == policy, name
    assert isinstance(written["single-statement"]["Statement"], dict)


# -- reachability: the exact paths --------------------------------------------------------

Paths = set[tuple[str, str, str]]  # (destination, family, path text with {kind:name} placeholders)


def paths_of(built: Built, subnet: str) -> Paths:
    """The subnet's paths, asserting the analysis resolved every hop."""
    found = subnet_reachability(built.model, built.subnet(subnet))
    assert found.indeterminate == (), (subnet, found.indeterminate)
    return {(p.destination, p.family, p.text) for p in found.paths}


def expect(built: Built, paths: Paths) -> Paths:
    return {(d, f, built.fill(t)) for d, f, t in paths}


_PUBLIC = "{route_table:public} 0.0.0.0/0 → {internet_gateway:edge}"
_VIA_NAT = "{nat_gateway:public-nat} → " + _PUBLIC
EGRESS_PATHS: dict[str, Paths] = {
    "public-a": {("internet", "ipv4", "{subnet:public-a} → " + _PUBLIC)},
    "direct": {("internet", "ipv4", "{subnet:direct} → {route_table:to-igw} 0.0.0.0/0 → {internet_gateway:edge}")},
    "narrow": {("internet", "ipv4", "{subnet:narrow} → {route_table:narrow} 198.51.100.0/24 → {internet_gateway:edge}")},
    "v6-igw": {("internet", "ipv6", "{subnet:v6-igw} → {route_table:v6-igw} ::/0 → {internet_gateway:edge}")},
    "v6-eigw": {("internet", "ipv6",
                 "{subnet:v6-eigw} → {route_table:v6-eigw} ::/0 → {egress_only_internet_gateway:edge}")},
    # No table of its own: the main table's default route, through the public NAT gateway.
    "implicit": {("internet", "ipv4", "{subnet:implicit} → {route_table:main} 0.0.0.0/0 → " + _VIA_NAT)},
    "via-nat-instance": {("internet", "ipv4",
                          "{subnet:via-nat-instance} → {route_table:to-nat-instance} 0.0.0.0/0 → {instance:nat-box} → "
                          + _PUBLIC)},
    "via-appliance": {("internet", "ipv4", "{subnet:via-appliance} → {route_table:to-appliance} 0.0.0.0/0 → "
                       "{network_interface:firewall} → {route_table:appliance-out} 0.0.0.0/0 → " + _VIA_NAT)},
    "appliance-a": {("internet", "ipv4", "{subnet:appliance-a} → {route_table:appliance-out} 0.0.0.0/0 → " + _VIA_NAT)},
    # The Gateway Load Balancer endpoint hands the traffic back to its own subnet's table.
    "via-gwlb": {("internet", "ipv4", "{subnet:via-gwlb} → {route_table:to-gwlb} 0.0.0.0/0 → {vpc_endpoint:inspect} → "
                  "{route_table:inspection-out} 0.0.0.0/0 → " + _VIA_NAT)},
    "inspection-a": {("internet", "ipv4", "{subnet:inspection-a} → {route_table:inspection-out} 0.0.0.0/0 → "
                      + _VIA_NAT)},
    "carrier": {("internet", "ipv4", "{subnet:carrier} → {route_table:to-carrier} 0.0.0.0/0 → {carrier_gateway:edge}")},
    # The prefix list's CIDR reaches the IGW; the S3 prefix list goes to the gateway endpoint (AWS's network).
    "via-prefix-list": {("internet", "ipv4", "{subnet:via-prefix-list} → {route_table:to-partners} "
                         "{prefix_list:partners} (203.0.113.0/24) → {internet_gateway:edge}")},
    "to-deleted-nat": set(),    # blackhole: the NAT gateway is deleted
    "to-terminated": set(),     # blackhole: the NAT instance is terminated
    "shadowed": set(),          # 0.0.0.0/1 and 128.0.0.0/1 (blackholes) take all of 0.0.0.0/0
    "isolated": set(),
}


def test_egress_paths_are_exact(egress: Built) -> None:
    assert set(EGRESS_PATHS) == set(EGRESS_ROUTES)
    for name, want in EGRESS_PATHS.items():
        assert paths_of(egress, name) == expect(egress, want), name
        assert subnet_reachability(egress.model, egress.subnet(name)).loops == ()


_CENTRAL_EGRESS = ("{transit_gateway:hub} → {transit_gateway_route_table:spokes} 0.0.0.0/0 → attachment {vpc:egress} → "
                   "{route_table:egress-tgw} 0.0.0.0/0 → {nat_gateway:egress-nat} → {route_table:egress-public} "
                   "0.0.0.0/0 → {internet_gateway:egress}")
_TO_DC1 = "{transit_gateway:hub} → {transit_gateway_route_table:spokes} 172.16.0.0/12 → attachment {vpn_connection:dc1}"
_EGRESS_VPC = ("{transit_gateway:hub} → {transit_gateway_route_table:spokes} 0.0.0.0/0 → attachment {vpc:egress} → "
               "{route_table:egress-tgw} 10.100.0.0/16 → {vpc:egress}")
# Spoke traffic for the quarantine VPC goes the long way: egress VPC, its NAT, back to the TGW.
_HAIRPIN = ("{transit_gateway:hub} → {transit_gateway_route_table:spokes} 0.0.0.0/0 → attachment {vpc:egress} → "
            "{route_table:egress-tgw} 0.0.0.0/0 → {nat_gateway:egress-nat} → {route_table:egress-public} 10.0.0.0/8 → "
            "{transit_gateway:hub} → {transit_gateway_route_table:egress-return} 10.3.0.0/16 → "
            "attachment {vpc:quarantine} → {route_table:q-app} 10.3.0.0/16 → {vpc:quarantine}")


def _spoke(start: str) -> Paths:
    return {("internet", "ipv4", start + _CENTRAL_EGRESS), ("on_premises", "ipv4", start + _TO_DC1),
            ("vpc", "ipv4", start + _EGRESS_VPC), ("vpc", "ipv4", start + _HAIRPIN)}


_FROM_EGRESS = ("{route_table:egress-public} 10.0.0.0/8 → {transit_gateway:hub} → "
                "{transit_gateway_route_table:egress-return} ")
TRANSIT_PATHS: dict[str, Paths] = {
    # Central egress, written out in full once: the exact path of the issue.
    "spoke-app-a": {
        ("internet", "ipv4", "{subnet:spoke-app-a} → {route_table:spoke-app} 0.0.0.0/0 → {transit_gateway:hub} → "
                             "{transit_gateway_route_table:spokes} 0.0.0.0/0 → attachment {vpc:egress} → "
                             "{route_table:egress-tgw} 0.0.0.0/0 → {nat_gateway:egress-nat} → "
                             "{route_table:egress-public} 0.0.0.0/0 → {internet_gateway:egress}"),
        ("on_premises", "ipv4", "{subnet:spoke-app-a} → {route_table:spoke-app} 0.0.0.0/0 → {transit_gateway:hub} → "
                                "{transit_gateway_route_table:spokes} 172.16.0.0/12 → attachment {vpn_connection:dc1}"),
        ("vpc", "ipv4", "{subnet:spoke-app-a} → {route_table:spoke-app} 0.0.0.0/0 → " + _EGRESS_VPC),
        ("vpc", "ipv4", "{subnet:spoke-app-a} → {route_table:spoke-app} 0.0.0.0/0 → " + _HAIRPIN)},
    "spoke-nat-a": _spoke("{subnet:spoke-nat-a} → {route_table:spoke-app} 0.0.0.0/0 → "),
    # A private NAT gateway whose subnet routes to the transit gateway: the same central egress.
    "spoke-pnat-a": _spoke("{subnet:spoke-pnat-a} → {route_table:spoke-pnat} 0.0.0.0/0 → {nat_gateway:spoke-pnat} → "
                           "{route_table:spoke-app} 0.0.0.0/0 → "),
    "spoke-tgw-a": set(),
    "egress-public-a": {
        ("internet", "ipv4", "{subnet:egress-public-a} → {route_table:egress-public} 0.0.0.0/0 → "
                             "{internet_gateway:egress}"),
        ("vpc", "ipv4", "{subnet:egress-public-a} → " + _FROM_EGRESS + "10.1.0.0/16 → attachment {vpc:spoke} → "
                        "{main_route_table:spoke} 10.1.0.0/16 → {vpc:spoke}"),
        ("vpc", "ipv4", "{subnet:egress-public-a} → " + _FROM_EGRESS + "10.3.0.0/16 → attachment {vpc:quarantine} → "
                        "{route_table:q-app} 10.3.0.0/16 → {vpc:quarantine}")},
    "egress-tgw-a": {
        ("internet", "ipv4", "{subnet:egress-tgw-a} → {route_table:egress-tgw} 0.0.0.0/0 → {nat_gateway:egress-nat} → "
                             "{route_table:egress-public} 0.0.0.0/0 → {internet_gateway:egress}"),
        ("vpc", "ipv4", "{subnet:egress-tgw-a} → {route_table:egress-tgw} 0.0.0.0/0 → {nat_gateway:egress-nat} → "
                        + _FROM_EGRESS + "10.1.0.0/16 → attachment {vpc:spoke} → {main_route_table:spoke} "
                        "10.1.0.0/16 → {vpc:spoke}"),
        ("vpc", "ipv4", "{subnet:egress-tgw-a} → {route_table:egress-tgw} 0.0.0.0/0 → {nat_gateway:egress-nat} → "
                        + _FROM_EGRESS + "10.3.0.0/16 → attachment {vpc:quarantine} → {route_table:q-app} "
                        "10.3.0.0/16 → {vpc:quarantine}")},
    # Longest prefix: 0.0.0.0/0 is a blackhole in the quarantine table, 198.51.100.0/24 is not.
    "q-app-a": {("internet", "ipv4", "{subnet:q-app-a} → {route_table:q-app} 0.0.0.0/0 → {transit_gateway:hub} → "
                                     "{transit_gateway_route_table:quarantine} 198.51.100.0/24 → attachment {vpc:egress} → "
                                     "{route_table:egress-tgw} 0.0.0.0/0 → {nat_gateway:egress-nat} → "
                                     "{route_table:egress-public} 0.0.0.0/0 → {internet_gateway:egress}")},
    "sealed-a": set(),   # the transit gateway blackholes 0.0.0.0/0
    "loop-a-app": {("vpc", "ipv4", "{subnet:loop-a-app} → {route_table:loop-a-rt} 0.0.0.0/0 → {transit_gateway:hub} → "
                                   "{transit_gateway_route_table:loop-a-table} 0.0.0.0/0 → attachment {vpc:loop-b} → "
                                   "{route_table:loop-b-rt} 10.6.0.0/16 → {vpc:loop-b}")},
    "loop-b-app": {("vpc", "ipv4", "{subnet:loop-b-app} → {route_table:loop-b-rt} 0.0.0.0/0 → {transit_gateway:hub} → "
                                   "{transit_gateway_route_table:loop-b-table} 0.0.0.0/0 → attachment {vpc:loop-a} → "
                                   "{route_table:loop-a-rt} 10.5.0.0/16 → {vpc:loop-a}")},
    "branch-a": {("on_premises", "ipv4", "{subnet:branch-a} → {route_table:branch-rt} 192.168.0.0/16 → "
                                         "{vpn_gateway:branch}")},
    # Peering reaches the peer's CIDR only, never the peer's internet gateway.
    "peered-a": {("vpc", "ipv4", "{subnet:peered-a} → {route_table:peered-rt} 0.0.0.0/0 → {vpc_peering:to-partner} "
                                 "10.9.0.0/16 → {vpc:partner}")},
    "partner-a": {("internet", "ipv4", "{subnet:partner-a} → {route_table:partner-rt} 0.0.0.0/0 → "
                                       "{internet_gateway:partner}"),
                  ("vpc", "ipv4", "{subnet:partner-a} → {route_table:partner-rt} 10.8.0.0/16 → {vpc_peering:to-partner} "
                                  "10.8.0.0/16 → {vpc:peered}")},
    "dead-nat-a": {("internet", "ipv4", "{subnet:dead-nat-a} → {route_table:dead-nat} 0.0.0.0/0 → "
                                        "{internet_gateway:dead-end}")},
}
TRANSIT_LOOPS = {
    "loop-a-app": "{subnet:loop-a-app} → {route_table:loop-a-rt} 0.0.0.0/0 → {transit_gateway:hub} → "
                  "{transit_gateway_route_table:loop-a-table} 0.0.0.0/0 → attachment {vpc:loop-b} → "
                  "{route_table:loop-b-rt} 0.0.0.0/0 → {transit_gateway:hub} → {transit_gateway_route_table:loop-b-table} "
                  "0.0.0.0/0 → attachment {vpc:loop-a} → {route_table:loop-a-rt} (loop)",
    "loop-b-app": "{subnet:loop-b-app} → {route_table:loop-b-rt} 0.0.0.0/0 → {transit_gateway:hub} → "
                  "{transit_gateway_route_table:loop-b-table} 0.0.0.0/0 → attachment {vpc:loop-a} → "
                  "{route_table:loop-a-rt} 0.0.0.0/0 → {transit_gateway:hub} → {transit_gateway_route_table:loop-a-table} "
                  "0.0.0.0/0 → attachment {vpc:loop-b} → {route_table:loop-b-rt} (loop)",
}


def assert_transit_paths(built: Built) -> None:
    """Every subnet's exact paths and loops in the transit estate (either mode)."""
    assert set(TRANSIT_PATHS) | {"dead-app-a"} == set(TRANSIT_ROUTES)
    for name, want in TRANSIT_PATHS.items():
        assert paths_of(built, name) == expect(built, want), name
        loops = subnet_reachability(built.model, built.subnet(name)).loops
        assert loops == ((built.fill(TRANSIT_LOOPS[name]),) if name in TRANSIT_LOOPS else ()), name


def test_transit_paths_are_exact(transit: Built) -> None:
    assert_transit_paths(transit)


def test_private_nat_behind_an_internet_gateway_is_no_internet_path(transit: Built) -> None:
    """The issue's case "private NAT: no internet": AWS drops traffic a private NAT gateway
    sends to an internet gateway (NAT gateway docs, 'Private NAT gateway')."""
    assert paths_of(transit, "dead-app-a") == set()


def test_derived_path_attributes_and_pn014(egress: Built, transit: Built) -> None:
    """The rule attributes carry the same texts; PN-014 fails exactly the subnets with an internet path."""
    central = transit.fill(next(t for d, _, t in TRANSIT_PATHS["spoke-app-a"] if d == "internet"))
    spoke = transit.subnet("spoke-app-a")
    assert resolve(transit.model, spoke, "internet_egress_paths").value == (central,)
    assert resolve(transit.model, spoke, "internet_egress_paths_ipv6").value == ()
    assert resolve(transit.model, spoke, "on_premises_paths").value == (
        transit.fill(next(t for d, _, t in TRANSIT_PATHS["spoke-app-a"] if d == "on_premises")),)
    assert set(resolve(transit.model, spoke, "vpc_paths").value) == {
        transit.fill(t) for d, _, t in TRANSIT_PATHS["spoke-app-a"] if d == "vpc"}
    assert resolve(transit.model, transit.subnet("loop-a-app"), "routing_loops").value == (
        transit.fill(TRANSIT_LOOPS["loop-a-app"]),)
    assert resolve(egress.model, egress.subnet("v6-eigw"), "internet_egress_paths_ipv6").value == (
        egress.fill(next(iter(EGRESS_PATHS["v6-eigw"]))[2]),)
    for built, table in ((egress, EGRESS_PATHS), (transit, TRANSIT_PATHS)):
        failed = {f.resource.id for f in _findings(built, "PN-014") if f.status == "FAIL"}
        want = {built.id("subnet", n) for n, paths in table.items() if any(d == "internet" for d, _, _ in paths)}
        assert failed == want
    message = {f.resource.id: f.message for f in _findings(transit, "PN-014")}[spoke.id]
    assert spoke.id in message and central in message


def _findings(built: Built, rule_id: str) -> list[Finding]:
    from datetime import date

    from auditor.config import Scope
    from auditor.rules.engine import evaluate_rules
    from auditor.rules.packs import load_packs

    evaluation = evaluate_rules(built.model, load_packs(), Scope(), today=date(2025, 1, 1))
    return [f for f in evaluation.findings if f.rule_id == rule_id]


# -- ingress exposure ----------------------------------------------------------------------

INGRESS: dict[str, tuple[str, ...]] = {
    "bastion": ("tcp 22",),       # ACL rule 100 denies 3389 before rule 200 allows everything
    "guarded": (),                # ACL denies 22 and 3389 (rules 100, 110) before allowing them (200, 210)
    "private-box": (),            # no public address
    "stranded": (),               # public IP, no route to the internet gateway
    "eip-box": ("tcp 443",),      # the Elastic IP is its public address
}


def _primary(built: Built, instance: str) -> NetworkInterface:
    inst = built.the("instance", instance)
    assert isinstance(inst, Instance)
    eni = built.model.get("network_interface", inst.network_interface_ids[0], built.account, built.region)
    assert isinstance(eni, NetworkInterface)
    return eni


def test_internet_ingress_ports_are_exact(exposure: Built) -> None:
    for name, want in INGRESS.items():
        assert internet_ingress_ports(exposure.model, _primary(exposure, name)) == (want, ()), name
        assert resolve(exposure.model, _primary(exposure, name), "internet_ingress_ports").value == want, name
    bastion = _primary(exposure, "bastion")
    [out] = interface_reachability(exposure.model, bastion).paths
    assert (out.destination, out.family, out.text) == ("internet", "ipv4", exposure.fill(
        f"{bastion.id} → {{subnet:web-a}} → {{route_table:public}} 0.0.0.0/0 → {{internet_gateway:dmz}}"))
    assert interface_reachability(exposure.model, _primary(exposure, "stranded")).paths == ()
    failed = {f.resource.id: f.message for f in _findings(exposure, "PN-015") if f.status == "FAIL"}
    assert set(failed) == {_primary(exposure, "bastion").id, _primary(exposure, "eip-box").id}
    assert "tcp 22" in failed[bastion.id] and "3389" not in failed[bastion.id]


# -- endpoint policies: what each lets through, and the counter-examples --------------------

ORG = "o-exampleorg1"
_SECURE_TRANSPORT_NOTE = (" (allowed by statement 0 (Sid LooksRestrictiveIsNot) if its condition on "
                          "aws:SecureTransport (Bool) holds, which the analyzer does not model)")


def _policy(built: Built, endpoint: str) -> Policy:
    found = built.the("vpc_endpoint", endpoint)
    assert isinstance(found, VpcEndpoint) and found.policy_document is not None
    return parse_policy(found.policy_document)


def test_policy_analysis_of_every_case(policies: Built) -> None:
    # (principals, actions, resources) as the analysis describes them
    scopes = {
        "default-policy": (("any principal", "any AWS service principal"), ("every action",), ("any resource",)),
        "data-perimeter": ((ORG, "any AWS service principal"), ("every action",), ("any resource", ORG)),
        "secure-transport": (("any principal", "any AWS service principal"), ("every action",), ("any resource",)),
        "not-action": ((ORG,), ("every action except secretsmanager:DeleteSecret, secretsmanager:PutSecretValue",),
                       ("any resource",)),
        "named-accounts": (("account 444444444444", "account 555555555555"), ("sts:AssumeRole",), ("any resource",)),
        "single-statement": (("account 444444444444",), ("ssm:GetParameter", "ssm:GetParameters"),
                             ("arn:aws:ssm:us-east-1:444444444444:parameter/app/*",)),
        "artifacts-only": ((ORG,), ("s3:GetObject",), ("arn:aws:s3:::example-bank-artifacts/*",)),
    }
    for name, (principals, actions, resources) in scopes.items():
        found = analyze(_policy(policies, name))
        assert (found.principals.describe(), found.actions.describe(), found.resources.describe()) == \
            (principals, actions, resources), name
        assert found.default_full_access is (name == "default-policy"), name
        assert found.unscoped is (name in ("default-policy", "secure-transport")), name
    assert analyze(_policy(policies, "secure-transport")).unmodelled == (
        "statement 0 (Sid LooksRestrictiveIsNot): aws:SecureTransport (Bool)",)
    # Deny subtracts: the two deletes are gone from logs:*, which they are not without the Deny.
    deny = analyze(_policy(policies, "deny-subtracts"))
    assert deny.principals.describe() == (ORG,) and deny.resources.describe() == ("any resource",)
    assert deny.actions.denied == ("logs:DeleteLogGroup", "logs:DeleteLogStream")
    assert "logs:PutLogEvents" in deny.actions.actions and "logs:DeleteLogGroup" not in deny.actions.actions
    written = next(e["policy"] for e in next(load_estate(ESTATES / "endpoint-policies.yaml").regions()).vpcs()[0]
                   ["endpoints"] if e["name"] == "deny-subtracts")
    allow_only = analyze(parse_policy({**written, "Statement": written["Statement"][:1]}))
    assert allow_only.actions.denied == () and allow_only.actions.whole_services == ("logs",)


def test_policy_counter_examples(policies: Built) -> None:
    def pol(name: str) -> Policy:
        return _policy(policies, name)
    assert principals_outside(pol("default-policy"), []) == "any action by any principal on any resource"
    # Principal "*" whose only condition is aws:SecureTransport restricts nobody.
    assert principals_outside(pol("secure-transport"), []) == (
        "any action by any principal on any resource" + _SECURE_TRANSPORT_NOTE)
    assert principals_outside(pol("secure-transport"), [ORG]) == (
        f"any action by a principal outside {ORG} on any resource" + _SECURE_TRANSPORT_NOTE)
    # The data perimeter: its organisation's principals and AWS services, nobody else.
    assert principals_outside(pol("data-perimeter"), []) is None
    assert principals_outside(pol("data-perimeter"), [ORG]) == (
        "any action by any AWS service principal on any resource")
    assert principals_outside(pol("data-perimeter"), [ORG, "*.amazonaws.com"]) is None
    assert resources_outside(pol("data-perimeter"), [ORG]) == (
        f"any action by any AWS service principal on a resource outside {ORG}")
    # NotAction allows everything it does not name, in every service.
    assert actions_outside(pol("not-action"), ["secretsmanager:Get*", "secretsmanager:Describe*"]) == (
        f"secretsmanager:BatchGetSecretValue by a principal in {ORG} on any resource")
    assert actions_outside(pol("not-action"), ["sqs:SendMessage"]) == (
        f"sqs:AddPermission by a principal in {ORG} on any resource")
    assert actions_outside(pol("deny-subtracts"), ["logs:*"]) is None
    # Specific accounts: the root ARN is its account.
    assert principals_outside(pol("named-accounts"), ["444444444444"]) == (
        "sts:AssumeRole by a principal in account 555555555555 on any resource")
    assert principals_outside(pol("named-accounts"), ["arn:aws:iam::444444444444:root", "555555555555"]) is None
    assert principals_outside(pol("single-statement"), ["444444444444"]) is None
    assert resources_outside(pol("artifacts-only"), [ORG]) == (
        f"s3:GetObject by a principal in {ORG} on arn:aws:s3:::example-bank-artifacts/*")
    assert resources_outside(pol("artifacts-only"), ["arn:aws:s3:::example-bank-artifacts/*"]) is None


def _statuses(built: Built, params: dict[str, object]) -> dict[tuple[str, str], Finding]:
    from datetime import date

    from auditor.config import Scope
    from auditor.rules.engine import evaluate_rules
    from auditor.rules.packs import packs_for_config

    packs = packs_for_config(["endpoint-policies"], {"endpoint-policies": params}, base_dir=ESTATES)
    names = {built.id("vpc_endpoint", n): n for (_, _, n) in built.ids.of_kind("vpc_endpoint")}
    return {(f.rule_id, names[f.resource.id]): f
            for f in evaluate_rules(built.model, packs, Scope(), today=date(2025, 1, 1)).findings}


def _failing(found: dict[tuple[str, str], Finding]) -> set[tuple[str, str]]:
    assert {f.status for f in found.values()} <= {"PASS", "FAIL"}
    return {k for k, f in found.items() if f.status == "FAIL"}


def test_endpoint_policy_rules(policies: Built) -> None:
    """EP-001..005 with empty trusted lists (every Allow must be scoped), then with trusted
    lists: who fails, and the counter-example each failure carries in its evidence."""
    found = _statuses(policies, {"trusted_principals": [], "allowed_actions": [], "trusted_resource_accounts": []})
    assert _failing(found) == {
        ("EP-001", "default-policy"), ("EP-002", "not-action"),
        ("EP-003", "default-policy"), ("EP-003", "secure-transport"),
        ("EP-005", "data-perimeter"), ("EP-005", "default-policy"), ("EP-005", "deny-subtracts"),
        ("EP-005", "named-accounts"), ("EP-005", "not-action"), ("EP-005", "secure-transport")}
    [ev] = found[("EP-003", "secure-transport")].evidence
    assert ev.path == "effective_policy" and ev.expected.endswith(
        "(counter-example: any action by any principal on any resource" + _SECURE_TRANSPORT_NOTE + ")")
    [ev] = found[("EP-005", "data-perimeter")].evidence
    assert ev.expected.endswith("(counter-example: any action by any AWS service principal on any resource)")

    found = _statuses(policies, {
        "trusted_principals": [ORG, "*.amazonaws.com"],
        "allowed_actions": ["logs:PutLogEvents", "logs:CreateLogStream", "s3:GetObject", "sts:AssumeRole"],
        "trusted_resource_accounts": [ORG, "444444444444", "arn:aws:s3:::example-bank-artifacts/*"]})
    fails = _failing(found)
    assert {n for r, n in fails if r == "EP-003"} == {"default-policy", "secure-transport", "named-accounts",
                                                      "single-statement"}
    assert {n for r, n in fails if r == "EP-004"} == {"default-policy", "data-perimeter", "secure-transport",
                                                      "not-action", "deny-subtracts"}
    assert {n for r, n in fails if r == "EP-005"} == {"default-policy", "data-perimeter", "secure-transport",
                                                      "not-action", "deny-subtracts", "named-accounts"}

    def example(rule: str, name: str) -> str:
        [ev] = found[(rule, name)].evidence
        return ev.expected.split(" (counter-example: ", 1)[1][:-1]
    assert example("EP-003", "named-accounts") == "sts:AssumeRole by a principal in account 444444444444 on any resource"
    assert example("EP-004", "deny-subtracts") == f"logs:AssociateKmsKey by a principal in {ORG} on any resource"
    assert example("EP-004", "not-action") == f"logs:AssociateKmsKey by a principal in {ORG} on any resource"
    assert example("EP-005", "data-perimeter") == (
        "any action by any AWS service principal on a resource outside o-exampleorg1, accounts 444444444444 and "
        "arn:aws:s3:::example-bank-artifacts/*")
    default = policies.the("vpc_endpoint", "default-policy")
    assert resolve(policies.model, default, "effective_policy").value == default.policy  # type: ignore[attr-defined]


# -- the moto extensions the cases rely on ----------------------------------------------------

def test_transit_gateway_associations_follow_aws() -> None:
    """moto_ext: no automatic association when the gateway turned it off, the attachment
    reports the table it was associated with, and a second association is refused."""
    import boto3
    from botocore.exceptions import ClientError

    with EmulatedAws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]

        def attach(options: dict[str, str]) -> tuple[str, str]:
            tgw = ec2.create_transit_gateway(Options=options)["TransitGateway"]["TransitGatewayId"]
            att = ec2.create_transit_gateway_vpc_attachment(TransitGatewayId=tgw, VpcId=vpc, SubnetIds=[subnet])
            return tgw, att["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]

        def association(att: str) -> object:
            [found] = ec2.describe_transit_gateway_attachments(TransitGatewayAttachmentIds=[att])[
                "TransitGatewayAttachments"]
            return found.get("Association")

        tgw, att = attach({"DefaultRouteTableAssociation": "disable", "DefaultRouteTablePropagation": "disable"})
        assert association(att) is None
        table = ec2.create_transit_gateway_route_table(TransitGatewayId=tgw)["TransitGatewayRouteTable"][
            "TransitGatewayRouteTableId"]
        ec2.associate_transit_gateway_route_table(TransitGatewayRouteTableId=table, TransitGatewayAttachmentId=att)
        assert association(att) == {"TransitGatewayRouteTableId": table, "State": "associated"}
        listed = ec2.get_transit_gateway_route_table_associations(TransitGatewayRouteTableId=table)["Associations"]
        assert [a["TransitGatewayAttachmentId"] for a in listed] == [att]
        ec2.disassociate_transit_gateway_route_table(TransitGatewayRouteTableId=table, TransitGatewayAttachmentId=att)
        assert association(att) is None

        tgw, att = attach({})  # default association on: the default table, and no second one
        default = ec2.describe_transit_gateways(TransitGatewayIds=[tgw])["TransitGateways"][0]["Options"][
            "AssociationDefaultRouteTableId"]
        assert association(att) == {"TransitGatewayRouteTableId": default, "State": "associated"}
        other = ec2.create_transit_gateway_route_table(TransitGatewayId=tgw)["TransitGatewayRouteTable"][
            "TransitGatewayRouteTableId"]
        with pytest.raises(ClientError, match="Resource.AlreadyAssociated"):
            ec2.associate_transit_gateway_route_table(TransitGatewayRouteTableId=other, TransitGatewayAttachmentId=att)


def test_moto_extensions_come_and_go_with_the_emulator() -> None:
    from moto.ec2.models.route_tables import Route as MotoRoute
    from moto.ec2.responses import EC2Response

    from auditor.emulate import moto_ext

    shipped = MotoRoute.__dict__["state"]
    with EmulatedAws():
        assert moto_ext.installed() and MotoRoute.__dict__["state"] is not shipped
    assert not moto_ext.installed() and MotoRoute.__dict__["state"] is shipped
    assert not {"create_network_acl", "create_vpn_connection", "create_transit_gateway_vpc_attachment",
                "associate_transit_gateway_route_table", "disassociate_transit_gateway_route_table"} & set(
        EC2Response.__dict__)


# -- the estate format's analyzer-case features are validated like everything else -------

_BASE = """\
estate: bad
accounts:
  - id: "111111111111"
    regions:
      us-east-1:
{body}"""


@pytest.mark.parametrize(("body", "message"), [
    ("""        vpcs:
          - name: app
            cidr: 10.0.0.0/16
            route_tables: [{name: rt, routes: [{destination: 0.0.0.0/0, target: cagw}]}]
""", "VPC 'app' has no carrier gateway (add carrier_gateway: true)"),
    ("""        vpcs:
          - name: app
            cidr: 10.0.0.0/16
            subnets: [{name: a, cidr: 10.0.0.0/24, az: a, ipv6: true}]
""", "VPC 'app' has no IPv6 block to take the subnet's from (add ipv6: true)"),
    ("""        prefix_lists: [{name: partners, cidrs: [203.0.113.0/24]}]
        vpcs:
          - name: app
            cidr: 10.0.0.0/16
            internet_gateway: true
            route_tables: [{name: rt, routes: [{destination: "pl:partner", target: igw}]}]
""", "'pl:partner' is neither an AWS-managed prefix list nor one of the region's prefix_lists; use one of "
     "pl:s3, pl:dynamodb, pl:partners (did you mean 'partners'?)"),
    ("""        prefix_lists: [{name: s3, cidrs: [203.0.113.0/24]}]
""", "'s3' is the AWS-managed prefix list's name (pl:s3); call this one something else"),
    ("""        prefix_lists: [{name: mixed, cidrs: [203.0.113.0/24, "2001:db8::/32"]}]
""", "a prefix list holds either IPv4 or IPv6 CIDRs, not both"),
    ("""        vpcs:
          - {name: app, cidr: 10.0.0.0/16, subnets: [{name: a, cidr: 10.0.0.0/24, az: a}]}
        transit_gateways:
          - name: hub
            attachments: [{vpc: app, subnets: [a]}]
            vpn_attachments: [{name: app}]
""", "'app' already names an attached VPC of transit gateway 'hub'; routes and associations could not tell "
     "them apart"),
    ("""        transit_gateways:
          - name: hub
            vpn_attachments: [{name: dc1, customer_gateway_ip: "2001:db8::1"}]
""", "'2001:db8::1' is not an IPv4 address"),
    ("""        transit_gateways:
          - name: hub
            vpn_attachments: [{name: dc1}]
            route_tables: [{name: t, associations: [dc2], routes: [{destination: 10.0.0.0/8, attachment: dc1}]}]
""", "no attached VPC or VPN attachment named 'dc2' on transit gateway 'hub' (did you mean 'dc1'?)"),
])
def test_estate_format_checks_the_analyzer_case_features(body: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        estate_from_text(_BASE.format(body=body), "bad.yaml")
    assert [p.message for p in err.value.problems] == [message]


def test_every_analyzer_estate_validates() -> None:
    names = sorted(p.stem for p in ESTATES.glob("*.yaml"))
    assert names == ["egress-paths", "endpoint-policies", "ingress-exposure", "transit-paths"]
    for name in names:
        assert load_estate(ESTATES / f"{name}.yaml").name == f"analyzers-{name}"
