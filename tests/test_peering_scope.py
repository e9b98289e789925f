"""The peering-scope rules (NET-RT-05: PN-017 routes within the peer, PN-018 approved peers).

The issue's acceptance: "the peering default route is a fixture that fails on today's
main". Before PN-017 no built-in rule read a route to a peering connection's destination, so
``0.0.0.0/0 → pcx-…`` passed unnoticed. Shown here on one estate, with and without that
route: every other built-in rule gives the same results either way (none FAILs because of
the route), and PN-017 FAILs with the route as evidence, pointing at the route table's
record. Then the same on an estate built in moto and collected with the real collector.
The rules' other cases are fixtures (tests/rule_fixtures/PN-017.yaml, PN-018.yaml).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from auditor.config import Scope
from auditor.findings import Finding
from auditor.model import build_model
from auditor.model.types import Model, RouteTable
from auditor.rules.attributes import resolve
from auditor.rules.derived import DERIVED
from auditor.rules.engine import evaluate_rules, is_place_gap
from auditor.rules.fixtures import TODAY, Case, records_for
from auditor.rules.packs import PackSet, load_packs
from conftest import ANALYZER_ACCOUNTS, AnalyzerEstates

PACKS: PackSet = load_packs()
DEFAULT_ROUTE = {"DestinationCidrBlock": "0.0.0.0/0", "VpcPeeringConnectionId": "pcx-1", "State": "active"}

# vpc-a (10.0.0.0/16) has one workload subnet whose table routes vpc-b's CIDR over pcx-1
# (least privilege) and, in the failing estate, the default route over pcx-1 too.
_ESTATE: dict[str, Any] = {
    "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16", "OwnerId": "111111111111"}]},
    "ec2:DescribeSubnets": {"Subnets": [{"SubnetId": "subnet-a", "VpcId": "vpc-a", "CidrBlock": "10.0.1.0/24",
                                         "AvailabilityZone": "eu-west-1a", "MapPublicIpOnLaunch": False,
                                         "AssignIpv6AddressOnCreation": False}]},
    "ec2:DescribeVpcPeeringConnections": {"VpcPeeringConnections": [{
        "VpcPeeringConnectionId": "pcx-1", "Status": {"Code": "active"},
        "RequesterVpcInfo": {"VpcId": "vpc-a", "OwnerId": "111111111111", "Region": "eu-west-1",
                             "CidrBlock": "10.0.0.0/16", "CidrBlockSet": [{"CidrBlock": "10.0.0.0/16"}]},
        "AccepterVpcInfo": {"VpcId": "vpc-b", "OwnerId": "222222222222", "Region": "eu-west-1",
                            "CidrBlock": "10.1.0.0/16", "CidrBlockSet": [{"CidrBlock": "10.1.0.0/16"}]}}]},
    "ec2:DescribeRouteTables": {"RouteTables": [{
        "RouteTableId": "rtb-a", "VpcId": "vpc-a",
        "Associations": [{"SubnetId": "subnet-a"}, {"Main": True}],
        "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
                   {"DestinationCidrBlock": "10.1.0.0/16", "VpcPeeringConnectionId": "pcx-1", "State": "active"}]}]},
}


def _estate(with_default_route: bool) -> Model:
    calls = copy.deepcopy(_ESTATE)
    if with_default_route:
        calls["ec2:DescribeRouteTables"]["RouteTables"][0]["Routes"].append(dict(DEFAULT_ROUTE))
    case = Case(rule="PN-017", name="peering default route", file=__file__, line=0, calls=calls)
    return build_model(records_for(case))


def _findings(model: Model) -> list[Finding]:
    result = evaluate_rules(model, PACKS, Scope(), today=TODAY)
    return [f for f in result.findings if not is_place_gap(f)]


def _results(findings: list[Finding]) -> set[tuple[str, str, str | None, str]]:
    return {(f.rule_id, f.resource.id, None if f.item is None else str(f.item), f.status) for f in findings}


@pytest.fixture(scope="module")
def runs() -> tuple[list[Finding], list[Finding]]:
    """Every built-in rule on the estate without and with the default route to the peering."""
    return _findings(_estate(False)), _findings(_estate(True))


def test_the_estate_differs_only_by_the_default_route_to_the_peering() -> None:
    [without] = [rt for rt in _estate(False).of("route_table") if isinstance(rt, RouteTable)]
    [with_route] = [rt for rt in _estate(True).of("route_table") if isinstance(rt, RouteTable)]
    added = set((r.destination, r.target_id, r.state) for r in with_route.routes) - \
        set((r.destination, r.target_id, r.state) for r in without.routes)
    assert added == {("0.0.0.0/0", "pcx-1", "active")}


def test_no_other_builtin_rule_fails_because_of_the_route(runs: tuple[list[Finding], list[Finding]]) -> None:
    """The gap on today's main: without PN-017 the default route to a peering changes no result."""
    without, with_route = runs
    others = [r.id for r in PACKS.rules if r.id != "PN-017"]
    assert len(others) > 40   # every built-in pack was evaluated, not a few rules
    before = {x for x in _results(without) if x[0] != "PN-017"}
    after = {x for x in _results(with_route) if x[0] != "PN-017"}
    assert before == after
    # ... and no other FAIL names the peering: those that fail here (no flow logs, no endpoints)
    # fail for reasons of their own, the same without the route.
    assert not [f for f in with_route if f.rule_id != "PN-017" and f.status == "FAIL"
                and ("pcx-1" in f.message or "pcx-1" in repr([e.observed for e in f.evidence]))]
    assert [f for f in with_route if f.status == "FAIL" and f.rule_id != "PN-017"]   # the estate is not trivially clean
    # Both runs assessed the subnet (the reachability rule PN-014 read the table: PASS, no internet path).
    assert ("PN-014", "subnet-a", None, "PASS") in after


def test_pn017_passes_without_the_route_and_fails_with_it(runs: tuple[list[Finding], list[Finding]]) -> None:
    without, with_route = runs
    assert [(f.resource.id, f.status) for f in without if f.rule_id == "PN-017"] == [("rtb-a", "PASS")]
    [failed] = [f for f in with_route if f.rule_id == "PN-017"]
    assert failed.status == "FAIL"
    assert "0.0.0.0/0 → pcx-1 (peer vpc-b 10.1.0.0/16)" in failed.message
    [evidence] = failed.evidence
    assert evidence.observed == ["0.0.0.0/0 → pcx-1 (peer vpc-b 10.1.0.0/16)"]
    sources = [str(s) for s in evidence.sources]
    table = "records/111111111111/eu-west-1/ec2/DescribeRouteTables.json#/pages/0/RouteTables/0"
    # The route table's record, the route's own record (the third route: the one added), the peering's.
    assert table in sources and f"{table}/Routes/2" in sources
    assert any("DescribeVpcPeeringConnections.json#/pages/0/VpcPeeringConnections/0" in s for s in sources)


def test_the_derived_value_explains_the_route_in_reachability_analyzers_words() -> None:
    model = _estate(True)
    [rt] = [r for r in model.of("route_table") if isinstance(r, RouteTable)]
    got = DERIVED[("route_table", "peering_routes_outside_peer")](model, rt)
    assert got.value == ("0.0.0.0/0 → pcx-1 (peer vpc-b 10.1.0.0/16)",)
    assert got.explain == ("rtb-a 0.0.0.0/0 → pcx-1: PCX_REQUIRES_ADDRESS_IN_VPC_CIDR "
                           "(0.0.0.0/0 outside peer vpc-b 10.1.0.0/16)",)
    without = _estate(False)
    [rt] = [r for r in without.of("route_table") if isinstance(r, RouteTable)]
    assert DERIVED[("route_table", "peering_routes_outside_peer")](without, rt).explain == ()


def test_the_route_is_reported_once_per_table_not_per_subnet(runs: tuple[list[Finding], list[Finding]]) -> None:
    _, with_route = runs
    assert [f.resource.id for f in with_route if f.rule_id == "PN-017"] == ["rtb-a"]


def test_peering_peers_lists_each_route_peer_for_the_approval_check() -> None:
    model = _estate(True)
    [rt] = [r for r in model.of("route_table") if isinstance(r, RouteTable)]
    got = resolve(model, rt, "peering_peers")
    assert [(p.route, p.peering, p.vpc_id, p.account, p.approval_keys) for p in got.value] == [
        ("10.1.0.0/16 → pcx-1", "pcx-1", "vpc-b", "222222222222", ("vpc-b", "222222222222")),
        ("0.0.0.0/0 → pcx-1", "pcx-1", "vpc-b", "222222222222", ("vpc-b", "222222222222"))]


@pytest.mark.parametrize("approved,status", [([], "PASS"), (["vpc-b"], "PASS"), (["222222222222"], "PASS"),
                                             (["vpc-z"], "FAIL"), (["999999999999", "vpc-z"], "FAIL")])
def test_approved_peers_by_vpc_or_account(approved: list[str], status: str) -> None:
    packs = PACKS.with_overrides({"private-network": {"approved_peers": approved}})
    result = evaluate_rules(_estate(True), packs, Scope(), today=TODAY)
    assert [(f.resource.id, f.status) for f in result.findings if f.rule_id == "PN-018"] == [("rtb-a", status)]


def test_a_bad_approved_peers_value_is_an_input_error() -> None:
    from auditor.errors import InputError

    with pytest.raises(InputError, match="approved_peers"):
        PACKS.with_overrides({"private-network": {"approved_peers": "vpc-b"}})


# -- through moto and the real collector ---------------------------------------------

TRANSIT = "222222222222"   # the transit-paths estate's account (conftest ANALYZER_ACCOUNTS)


def test_pn017_fails_on_a_moto_estate_with_a_real_peering(analyzer_estates: AnalyzerEstates) -> None:
    """The transit-paths analyzer estate (tests/estates/analyzers/transit-paths.yaml), seeded in moto
    and collected with the real collector (once per session, shared with test_analyzers_moto):
    subnet peered-a's table sends 0.0.0.0/0 to the peering with partner (10.9.0.0/16), and partner's
    table sends back exactly peered's CIDR."""
    assert ANALYZER_ACCOUNTS["transit-paths"] == TRANSIT
    model = build_model([r for r in analyzer_estates.records if r.account == TRANSIT],
                        analyzer_estates.manifest["files"])
    ids = analyzer_estates.ids["transit-paths"]

    def id_of(kind: str, name: str) -> str:
        return ids.id(TRANSIT, "us-east-1", kind, name)

    pcx, partner = id_of("vpc_peering", "to-partner"), id_of("vpc", "partner")
    only = PackSet(tuple(p for p in PACKS.packs if p.id == "private-network"), PACKS.registries)
    found = {f.resource.id: f for f in evaluate_rules(model, only, Scope(), today=TODAY).findings
             if f.rule_id == "PN-017"}
    peered = found[id_of("route_table", "peered-rt")]
    assert peered.status == "FAIL"
    assert f"0.0.0.0/0 → {pcx} (peer {partner} 10.9.0.0/16)" in peered.message
    assert re.search(r"/DescribeRouteTables\.json#/pages/\d+/RouteTables/\d+$", str(peered.evidence[0].sources[0]))
    assert found[id_of("route_table", "partner-rt")].status == "PASS"
    # No other table of the estate routes to a peering: each passes.
    assert {rid for rid, f in found.items() if f.status != "PASS"} == {peered.resource.id}
