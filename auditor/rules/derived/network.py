"""Derived attributes for the network rules (the private-network pack, rules PN-xxx).

Route-based attributes read a subnet's *effective* route table (its explicit association,
else its VPC's main table) and keep only routes that forward traffic: a blackhole route
(its target is gone) carries nothing. They are null when the table is unknown, so that a
rule reading them gives ERROR, never PASS.
"""

from __future__ import annotations

from auditor.model.types import (
    BlockPublicAccessExclusion, ElasticIp, Instance, Model, NatGateway, NetworkInterface, Route, Subnet, Vpc,
)
from auditor.rules.derive import (
    Derived, DerivedAttribute, active_nat_gateways, derived, ec2, own_sources, refs, related, route_table,
    unseen_route_targets, unseen_why,
)

# -- subnet: routes that leave the private network ----------------------------------------

# Route targets that forward through a machine in the VPC (a NAT instance, a firewall or
# any other appliance): AWS gives an instance target, or a bare network interface.
_APPLIANCE_TARGETS = frozenset({"instance", "eni"})


def _active_routes(model: Model, subnet: Subnet, kinds: frozenset[str]) -> Derived[tuple[Route, ...] | None]:
    """The non-blackhole routes of the subnet's effective table whose target kind is one of
    `kinds`; null when the table is unknown."""
    rt = route_table(model, subnet)
    if rt is None:
        return Derived(None)
    routes = tuple(r for r in rt.routes if r.target_kind in kinds and r.state != "blackhole")
    return Derived(routes, own_sources(rt))  # the routes' own pointers are added when resolved


@derived("subnet", "active_internet_gateway_routes", requires=ec2("DescribeRouteTables"),
         doc="The routes of the subnet's effective route table (explicit association, else the VPC's main "
             "table) that send traffic to an internet gateway, any destination (IPv4, IPv6 or prefix list), "
             "blackhole routes left out; null when the table is unknown.")
def _subnet_active_igw_routes(model: Model, subnet: Subnet) -> Derived[tuple[Route, ...] | None]:
    return _active_routes(model, subnet, frozenset({"igw"}))


@derived("subnet", "active_egress_only_gateway_routes", requires=ec2("DescribeRouteTables"),
         doc="The routes of the subnet's effective route table that send traffic to an egress-only internet "
             "gateway (IPv6 outbound internet), blackhole routes left out; null when the table is unknown.")
def _subnet_active_eigw_routes(model: Model, subnet: Subnet) -> Derived[tuple[Route, ...] | None]:
    return _active_routes(model, subnet, frozenset({"eigw"}))


def _nat(model: Model, subnet: Subnet, nat_id: str) -> NatGateway | None:
    found = model.get("nat_gateway", nat_id, subnet.account, subnet.region)
    return found if isinstance(found, NatGateway) else None


@derived("subnet", "nat_gateway_routes", requires=ec2("DescribeRouteTables", "DescribeNatGateways"),
         doc="The routes of the subnet's effective route table that send traffic to a public NAT gateway, "
             "blackhole routes left out. A NAT gateway the collected data does not show counts as public "
             "(AWS's default); routes to private NAT gateways are not listed. Null when the table is unknown.")
def _subnet_nat_routes(model: Model, subnet: Subnet) -> Derived[tuple[Route, ...] | None]:
    found = _active_routes(model, subnet, frozenset({"nat"}))
    if found.value is None:
        return found
    nats = {r.target_id: _nat(model, subnet, r.target_id) for r in found.value}
    known = [n for n in nats.values() if n is not None]
    private = {n.id for n in known if n.connectivity == "private"}
    routes = tuple(r for r in found.value if r.target_id not in private)
    return Derived(routes, found.sources + refs(known))


@derived("subnet", "appliance_routes", requires=ec2("DescribeRouteTables"),
         doc="The routes of the subnet's effective route table whose target is an instance or a network "
             "interface (a NAT instance, firewall or other appliance forwards the traffic), blackhole routes "
             "left out; null when the table is unknown.")
def _subnet_appliance_routes(model: Model, subnet: Subnet) -> Derived[tuple[Route, ...] | None]:
    return _active_routes(model, subnet, _APPLIANCE_TARGETS)


# -- vpc: private NAT gateways, Block Public Access exclusions ---------------------------

@derived("vpc", "private_nat_gateway_ids", requires=ec2("DescribeNatGateways"),
         doc="Ids of the VPC's private NAT gateways (connectivity private: they translate to other private "
             "networks, not the internet), except deleting, deleted or failed ones; sorted; null when none is known "
             "and a route of the VPC's tables sends traffic to a NAT gateway not in the collected data.")
def _vpc_private_nats(model: Model, vpc: Vpc) -> Derived[tuple[str, ...] | None]:
    # _nats leaves out NAT gateways that no longer forward (deleting, deleted, failed).
    nats = tuple(n for n in active_nat_gateways(model, vpc) if isinstance(n, NatGateway) and n.connectivity == "private")
    unseen = unseen_route_targets(model, vpc, "nat", "nat_gateway")
    if not nats and unseen:
        return Derived(None, why=unseen_why(unseen))   # one the routes name is missing: it may be private
    return Derived(tuple(sorted(n.id for n in nats)), refs(nats))


# Exclusions in these states exempt nothing: deleted, or never created.
_GONE_EXCLUSION_STATES = frozenset({"delete-complete", "create-failed"})


def arn_resource(arn: str) -> tuple[str, str] | None:
    """(region, resource) of an EC2 ARN: ``arn:aws:ec2:eu-west-1:1111:subnet/subnet-1`` ->
    ``("eu-west-1", "subnet/subnet-1")``; None when it is not an ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[3], parts[5]


@derived("vpc", "block_public_access_exclusions",
         requires=ec2("DescribeVpcBlockPublicAccessExclusions", "DescribeSubnets"),
         doc="The VPC Block Public Access exclusions of the VPC's account and region whose resource is the "
             "VPC or one of its subnets, except deleted (delete-complete) and failed (create-failed) ones; "
             "by id.")
def _vpc_bpa_exclusions(model: Model, vpc: Vpc) -> Derived[tuple[BlockPublicAccessExclusion, ...]]:
    covered = {f"vpc/{vpc.id}"} | {f"subnet/{s.id}" for s in related(model, "subnet", "vpc_id", vpc)}
    found = []
    for e in model.of("vpc_block_public_access_exclusion"):
        if not isinstance(e, BlockPublicAccessExclusion) or (e.account, e.region) != (vpc.account, vpc.region):
            continue
        target = arn_resource(e.resource_arn)
        if (target and target[1] in covered and target[0] in ("", vpc.region)
                and e.state.lower() not in _GONE_EXCLUSION_STATES):
            found.append(e)
    exclusions = tuple(sorted(found, key=lambda e: e.id))
    return Derived(exclusions, refs(exclusions))


# -- instance, elastic_ip: public addresses ------------------------------------------------

@derived("instance", "public_ips", requires=ec2("DescribeInstances", "DescribeNetworkInterfaces"),
         doc="The instance's public IPv4 addresses (auto-assigned or Elastic IP) on any of its network "
             "interfaces, sorted, without repeats.")
def _instance_public_ips(model: Model, instance: Instance) -> Derived[tuple[str, ...]]:
    enis = [e for e in related(model, "network_interface", "instance_id", instance)
            if isinstance(e, NetworkInterface) and e.public_ips]
    ips = {ip for e in enis for ip in e.public_ips} | ({instance.public_ip} if instance.public_ip else set())
    return Derived(tuple(sorted(ips)), refs(enis))


@derived("elastic_ip", "attached_to", requires=ec2("DescribeAddresses"),
         doc="What the Elastic IP is associated with, as text: \"instance i-...\", \"network interface "
             "eni-...\", or \"nothing\" for an unassociated address.")
def _eip_attached_to(model: Model, eip: ElasticIp) -> Derived[str]:
    if eip.instance_id:
        return Derived(f"instance {eip.instance_id}")
    if eip.network_interface_id:
        return Derived(f"network interface {eip.network_interface_id}")
    return Derived("nothing")


ATTRIBUTES: tuple[DerivedAttribute, ...] = (
    _subnet_active_igw_routes, _subnet_active_eigw_routes, _subnet_nat_routes, _subnet_appliance_routes,
    _vpc_private_nats, _vpc_bpa_exclusions, _instance_public_ips, _eip_attached_to,
)
