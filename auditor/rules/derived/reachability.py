"""Derived attributes from the reachability analyzer (auditor/analyze/reachability.py).

Subnets and network interfaces get the paths by which their traffic leaves (to the
internet, on-premises, other VPCs) as one line of text each, and interfaces what reaches
them from the internet. A list of paths is null when none was found for certain and some
hop could not be resolved: a rule reading it then gives ERROR, never PASS. A definite path
is enough to FAIL whatever else is unknown. The evidence is every route table, gateway,
attachment and peering on the paths.
"""

from __future__ import annotations

from auditor.analyze.reachability import (
    Path, Reachability, ingress_resources, interface_reachability, internet_ingress_explained, internet_ingress_ports,
    path_resources, subnet_reachability,
)
from auditor.model.types import Model, NetworkInterface, Resource, SourceRef, Subnet
from auditor.rules.derive import Derived, DerivedAttribute, derived, ec2, own_sources, refs, route_table

# Every call the analysis reads: when one was not collected in the source's account and
# region the rule is ERROR. (Hops in other accounts or regions that the model lacks are
# reported by the analysis itself as indeterminate.)
REACHABILITY_CALLS = ec2(
    "DescribeSubnets", "DescribeRouteTables", "DescribeInternetGateways", "DescribeNatGateways",
    "DescribeInstances", "DescribeNetworkInterfaces", "DescribeVpcEndpoints", "DescribeVpcPeeringConnections",
    "DescribeTransitGateways", "DescribeTransitGatewayAttachments", "DescribeTransitGatewayVpcAttachments",
    "DescribeTransitGatewayRouteTables", "SearchTransitGatewayRoutes", "GetTransitGatewayRouteTableAssociations",
    "DescribeManagedPrefixLists", "GetManagedPrefixListEntries")
INGRESS_CALLS = REACHABILITY_CALLS + ec2("DescribeSecurityGroups", "DescribeSecurityGroupRules",
                                          "DescribeNetworkAcls")


def _evidence(model: Model, paths: tuple[Path, ...], fallback: Resource | None) -> tuple[SourceRef, ...]:
    """The records of the resources on the paths (the starting route table when there is none)."""
    seen: dict[tuple[str, str, str, str], Resource] = {}
    for p in paths:
        for r in path_resources(model, p):
            seen.setdefault((r.type_name, r.account, r.region, r.id), r)
    if not seen and fallback is not None:
        seen[("", "", "", "")] = fallback
    return refs(seen.values())


_WHERE = {"internet": "the internet", "on_premises": "an on-premises network", "vpc": "another VPC"}


def explanation(reach: Reachability, destination: str, family: str | None = None) -> tuple[str, ...]:
    """How the analysis decided the paths to `destination`: each path with its explanation
    codes; when there is none, ``NO_PATH`` (``DISCONNECTED_VPCS`` for other VPCs), or the
    codes of what could not be followed; then where every other part of the traffic stopped
    (auditor/analyze/explain.py), so that a PASS can be checked as well as a FAIL."""
    found = reach.of(destination, family)
    lines = [f"path {i}: {p.explained}" for i, p in enumerate(found, 1)]
    if not found:
        if reach.indeterminate:
            lines.append(f"no path to {_WHERE[destination]} found for certain: some hops could not be followed "
                         "(the lines marked unknown)")
        else:
            head = "DISCONNECTED_VPCS" if destination == "vpc" else "NO_PATH"
            what = f"{family} " if family else ""
            lines.append(f"{head} (no {what}path to {_WHERE[destination]}: every part of the traffic stops as "
                         "listed below)")
    lines += [st.text + ("" if st.certain else " [unknown]") for st in reach.stops]
    return tuple(lines)


def _paths(model: Model, reach: Reachability, start: Resource | None, destination: str,
           family: str | None = None) -> Derived[tuple[str, ...] | None]:
    found = reach.of(destination, family)
    explain = explanation(reach, destination, family)
    if not found and reach.indeterminate:
        return Derived(None, _evidence(model, (), start), why=reach.indeterminate, explain=explain)
    return Derived(tuple(p.text for p in found), _evidence(model, found, start), explain=explain)


_NULL = ("null when none was found and some hop could not be resolved (see reachability_unknowns): "
         "a definite path is listed whatever else is unknown")


@derived("subnet", "internet_egress_paths", requires=REACHABILITY_CALLS,
         doc="The subnet's paths to the internet, IPv4 and IPv6, one line each, e.g. \"subnet-a → rtb-1 "
             "0.0.0.0/0 → tgw-1 → tgw-rtb-2 0.0.0.0/0 → attachment vpc-egress → rtb-7 0.0.0.0/0 → nat-9 → "
             "rtb-3 0.0.0.0/0 → igw-4\": through its effective route table and every NAT gateway, NAT "
             "instance, appliance, Gateway Load Balancer endpoint and transit gateway after it, to an internet, "
             "egress-only internet or carrier gateway (docs/reachability.md); " + _NULL + ".")
def _subnet_internet(model: Model, subnet: Subnet) -> Derived[tuple[str, ...] | None]:
    return _paths(model, subnet_reachability(model, subnet), route_table(model, subnet), "internet")


@derived("subnet", "internet_egress_paths_ipv6", requires=REACHABILITY_CALLS,
         doc="The subnet's IPv6 paths to the internet (internet gateway or egress-only internet gateway), one "
             "line each; " + _NULL + ".")
def _subnet_internet_v6(model: Model, subnet: Subnet) -> Derived[tuple[str, ...] | None]:
    return _paths(model, subnet_reachability(model, subnet), route_table(model, subnet), "internet", "ipv6")


@derived("subnet", "internet_egress_nat_gateway_ids", requires=REACHABILITY_CALLS,
         doc="The NAT gateways on the subnet's IPv4 paths to the internet, sorted, without repeats: those its own "
             "route table sends to and those reached in another VPC over a transit gateway (a central egress "
             "VPC), public or private (a private one's traffic reaches the internet only through a later "
             "translation), each billed per GB of what it processes. Empty when every IPv4 internet path leaves "
             "without a NAT gateway, or there is none; null when no NAT gateway was found for certain and some "
             "hop could not be resolved (see reachability_unknowns).")
def _subnet_internet_nats(model: Model, subnet: Subnet) -> Derived[tuple[str, ...] | None]:
    reach = subnet_reachability(model, subnet)
    start = route_table(model, subnet)
    through = tuple(p for p in reach.of("internet", "ipv4") if any(h.kind == "nat" for h in p.hops))
    explain = explanation(reach, "internet", "ipv4")
    if not through and reach.indeterminate:
        # an unresolved hop may lead to a NAT gateway: unknown, never "no NAT"
        return Derived(None, _evidence(model, (), start), why=reach.indeterminate, explain=explain)
    nats = sorted({h.id for p in through for h in p.hops if h.kind == "nat"})
    return Derived(tuple(nats), _evidence(model, through, start), explain=explain)


@derived("subnet", "on_premises_paths", requires=REACHABILITY_CALLS,
         doc="The subnet's paths to on-premises networks (virtual private gateway, Outposts local gateway, "
             "transit gateway VPN or Direct Connect gateway attachment), one line each; " + _NULL + ".")
def _subnet_on_premises(model: Model, subnet: Subnet) -> Derived[tuple[str, ...] | None]:
    return _paths(model, subnet_reachability(model, subnet), route_table(model, subnet), "on_premises")


@derived("subnet", "vpc_paths", requires=REACHABILITY_CALLS,
         doc="The subnet's paths to other VPCs (peering, to the peer's CIDRs only; transit gateway VPC "
             "attachments whose VPC delivers the traffic locally), one line each; " + _NULL + ".")
def _subnet_vpcs(model: Model, subnet: Subnet) -> Derived[tuple[str, ...] | None]:
    return _paths(model, subnet_reachability(model, subnet), route_table(model, subnet), "vpc")


@derived("subnet", "reachability_unknowns", requires=REACHABILITY_CALLS,
         doc="Why some hop of the subnet's paths could not be resolved, one reason each (e.g. \"tgw-rtb-2: "
             "routes not collected (ec2:SearchTransitGatewayRoutes)\"); empty when every hop was.")
def _subnet_unknowns(model: Model, subnet: Subnet) -> Derived[tuple[str, ...]]:
    return Derived(subnet_reachability(model, subnet).indeterminate)


@derived("subnet", "routing_loops", requires=REACHABILITY_CALLS,
         doc="Routing loops met on the subnet's paths (a table reached again for the same destination "
             "prefix), each as the path up to the repeated table followed by \"(loop)\".")
def _subnet_loops(model: Model, subnet: Subnet) -> Derived[tuple[str, ...]]:
    return Derived(subnet_reachability(model, subnet).loops)


@derived("network_interface", "internet_egress_paths", requires=REACHABILITY_CALLS,
         doc="The interface's paths to the internet, IPv4 and IPv6 (its subnet's, each starting at the "
             "interface), one line each; " + _NULL + ".")
def _eni_internet(model: Model, eni: NetworkInterface) -> Derived[tuple[str, ...] | None]:
    return _paths(model, interface_reachability(model, eni), eni, "internet")


@derived("network_interface", "internet_ingress_ports", requires=INGRESS_CALLS,
         doc="What reaches the interface from the internet, e.g. [\"tcp 22\", \"tcp 443\"] or [\"all\"]: "
             "with a public IPv4 address (or an IPv6 address) in a subnet whose effective route table has an "
             "active route of that family to an internet gateway, the traffic that both its security groups "
             "(inbound rules from sources holding public addresses: 0.0.0.0/0, ::/0, public CIDRs, prefix lists "
             "holding them) and its subnet's network ACL (inbound entries in rule-number order, first match "
             "wins) admit. Empty when it has no such address or nothing is admitted; null when nothing definite "
             "is admitted and something could not be read.")
def _eni_ingress(model: Model, eni: NetworkInterface) -> Derived[tuple[str, ...] | None]:
    ports, _ = internet_ingress_ports(model, eni)
    # Without a public address the interface itself is the evidence.
    return Derived(ports, refs(ingress_resources(model, eni)) or own_sources(eni),
                   explain=internet_ingress_explained(model, eni))


@derived("subnet", "reachability_explanation", requires=REACHABILITY_CALLS,
         doc="How the reachability analysis followed the subnet's traffic, one line each: every path with its "
             "explanation codes (\"path 1: subnet-a → ... → igw-4 [REACHES_INTERNET_GATEWAY igw-4]\"), then "
             "where every other part of the traffic stopped or could not be followed, with the hop and the code "
             "(\"subnet-a → rtb-1: NO_ROUTE_TO_DESTINATION (no route matches 0.0.0.0/0 outside 10.0.0.0/16)\"); "
             "codes in docs/reachability.md.")
def _subnet_explanation(model: Model, subnet: Subnet) -> Derived[tuple[str, ...]]:
    reach = subnet_reachability(model, subnet)
    return Derived(tuple(f"path {i}: {p.explained}" for i, p in enumerate(reach.paths, 1))
                   + tuple(st.text + ("" if st.certain else " [unknown]") for st in reach.stops))


ATTRIBUTES: tuple[DerivedAttribute, ...] = (
    _subnet_internet, _subnet_internet_v6, _subnet_internet_nats, _subnet_on_premises, _subnet_vpcs, _subnet_unknowns,
    _subnet_loops, _eni_internet, _eni_ingress, _subnet_explanation,
)
