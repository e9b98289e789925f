"""Derived attributes of the resources themselves: a VPC's gateways, endpoints, flow logs,
subnets and workload zones; a subnet's effective route table and its routes; a security
group's rules; public addresses; an endpoint's availability zones.

Listed in `ATTRIBUTES` (the package builds the registry from it); helpers come from the
seam, `auditor.rules.derive`.
"""

from __future__ import annotations

from typing import Any

from auditor.model.types import (
    FlowLog, Instance, Model, NetworkInterface, Resource, Route, RouteTable, SecurityGroup,
    SecurityGroupRule, Subnet, Vpc, VpcEndpoint,
)
from auditor.rules.derive import (
    Derived, DerivedAttribute, active_nat_gateways, derived, ec2, ids, own_sources, refs, related, route_table,
    sg_rules, unseen_route_targets, unseen_why, workload_interfaces,
)

# -- vpc -------------------------------------------------------------------------------

def _gateway_ids(model: Model, vpc: Vpc, items: tuple[Resource, ...], unseen: tuple[Route, ...]
                 ) -> Derived[tuple[str, ...] | None]:
    if unseen and not items:   # the gateways known are a lower bound: any is enough to fail a rule
        return Derived(None, tuple(r.source for r in unseen if r.source is not None), why=unseen_why(unseen))
    found = ids(items)
    return Derived(found.value, found.sources)


@derived("vpc", "internet_gateway_ids", requires=ec2("DescribeInternetGateways"),
         doc="Ids of the internet gateways attached (or attaching) to the VPC, sorted; null when none is "
             "known and a route of the VPC's tables sends traffic to an internet gateway not in the collected data.")
def _vpc_igws(model: Model, vpc: Vpc) -> Derived[tuple[str, ...] | None]:
    return _gateway_ids(model, vpc, related(model, "internet_gateway", "attached_vpc_ids", vpc),
                        unseen_route_targets(model, vpc, "igw", "internet_gateway"))


@derived("vpc", "egress_only_internet_gateway_ids", requires=ec2("DescribeEgressOnlyInternetGateways"),
         doc="Ids of the egress-only internet gateways (IPv6 outbound) attached to the VPC, sorted; null when none is "
             "known and a route of the VPC's tables sends traffic to one not in the collected data.")
def _vpc_eigws(model: Model, vpc: Vpc) -> Derived[tuple[str, ...] | None]:
    return _gateway_ids(model, vpc, related(model, "egress_only_internet_gateway", "attached_vpc_ids", vpc),
                        unseen_route_targets(model, vpc, "eigw", "egress_only_internet_gateway"))


@derived("vpc", "nat_gateway_ids", requires=ec2("DescribeNatGateways"),
         doc="Ids of the VPC's NAT gateways, public and private, except deleting, deleted or failed ones; sorted; "
             "null when none is known and a route of the VPC's tables sends traffic to one not in the collected data.")
def _vpc_nats(model: Model, vpc: Vpc) -> Derived[tuple[str, ...] | None]:
    return _gateway_ids(model, vpc, active_nat_gateways(model, vpc),
                        unseen_route_targets(model, vpc, "nat", "nat_gateway"))


@derived("vpc", "public_nat_gateway_ids", requires=ec2("DescribeNatGateways"),
         doc="Ids of the VPC's public NAT gateways (connectivity public: they reach the internet), "
             "except deleting, deleted or failed ones; sorted; null when none is known and a route of the "
             "VPC's tables sends traffic to a NAT gateway not in the collected data (public or private is then unknown).")
def _vpc_public_nats(model: Model, vpc: Vpc) -> Derived[tuple[str, ...] | None]:
    return _gateway_ids(model, vpc, tuple(n for n in active_nat_gateways(model, vpc) if n.connectivity == "public"),
                        unseen_route_targets(model, vpc, "nat", "nat_gateway"))


def _endpoint_services(model: Model, vpc: Vpc, endpoint_type: str) -> Derived[tuple[str, ...]]:
    endpoints = tuple(e for e in related(model, "vpc_endpoint", "vpc_id", vpc) if isinstance(e, VpcEndpoint)
                      and e.endpoint_type.lower() == endpoint_type and e.state.lower() == "available")
    return Derived(tuple(sorted({e.service for e in endpoints})), refs(endpoints))


@derived("vpc", "interface_endpoint_services", requires=ec2("DescribeVpcEndpoints"),
         doc="Short service names (sqs, ecr.api ...) of the VPC's available Interface endpoints, sorted, "
             "without repeats.")
def _vpc_interface_services(model: Model, vpc: Vpc) -> Derived[tuple[str, ...]]:
    return _endpoint_services(model, vpc, "interface")


@derived("vpc", "gateway_endpoint_services", requires=ec2("DescribeVpcEndpoints"),
         doc="Short service names (s3, dynamodb) of the VPC's available Gateway endpoints, sorted, without repeats.")
def _vpc_gateway_services(model: Model, vpc: Vpc) -> Derived[tuple[str, ...]]:
    return _endpoint_services(model, vpc, "gateway")


@derived("vpc", "flow_logs", requires=ec2("DescribeFlowLogs"),
         doc="The flow logs attached to the VPC itself (not those of its subnets or interfaces).")
def _vpc_flow_logs(model: Model, vpc: Vpc) -> Derived[tuple[FlowLog, ...]]:
    logs = tuple(f for f in related(model, "flow_log", "resource_id", vpc) if isinstance(f, FlowLog))
    return Derived(logs, refs(logs))


@derived("vpc", "flow_log_traffic_types", requires=ec2("DescribeFlowLogs"),
         doc="Traffic types (ALL, ACCEPT, REJECT) of the VPC's ACTIVE flow logs, sorted, without repeats.")
def _vpc_flow_log_types(model: Model, vpc: Vpc) -> Derived[tuple[str, ...]]:
    logs = tuple(f for f in related(model, "flow_log", "resource_id", vpc)
                 if isinstance(f, FlowLog) and f.status.upper() == "ACTIVE")
    return Derived(tuple(sorted({f.traffic_type for f in logs})), refs(logs))


@derived("vpc", "subnet_ids", requires=ec2("DescribeSubnets"), doc="Ids of the VPC's subnets, sorted.")
def _vpc_subnets(model: Model, vpc: Vpc) -> Derived[tuple[str, ...]]:
    return ids(related(model, "subnet", "vpc_id", vpc))


@derived("vpc", "workload_availability_zones", requires=ec2("DescribeSubnets", "DescribeNetworkInterfaces"),
         doc="Availability zones of the VPC's subnets that hold at least one workload network interface "
             "(anything but NAT gateway, VPC endpoint and transit gateway interfaces), sorted.")
def _vpc_workload_azs(model: Model, vpc: Vpc) -> Derived[tuple[str, ...]]:
    zones: set[str] = set()
    evidence: list[Resource] = []
    for subnet in related(model, "subnet", "vpc_id", vpc):
        if not isinstance(subnet, Subnet):
            continue
        workloads = workload_interfaces(model, subnet)
        if workloads:
            zones.add(subnet.availability_zone)
            evidence += [subnet, *workloads]
    return Derived(tuple(sorted(zones)), refs(evidence))


# -- subnet ----------------------------------------------------------------------------

@derived("subnet", "route_table", requires=ec2("DescribeRouteTables"),
         doc="The subnet's effective route table: its explicit association, else its VPC's main table; "
             "null when unknown.")
def _subnet_route_table(model: Model, subnet: Subnet) -> Derived[RouteTable | None]:
    rt = route_table(model, subnet)
    return Derived(rt, own_sources(rt) if rt else ())


@derived("subnet", "routes", requires=ec2("DescribeRouteTables"),
         doc="The routes of the subnet's effective route table; null when the table is unknown.")
def _subnet_routes(model: Model, subnet: Subnet) -> Derived[tuple[Route, ...] | None]:
    rt = route_table(model, subnet)
    return Derived(rt.routes if rt else None, (rt.source,) if rt else ())


@derived("subnet", "internet_gateway_routes", requires=ec2("DescribeRouteTables"),
         doc="The routes of the subnet's effective route table whose target is an internet gateway "
             "(active or blackhole: test routes[*].state to tell); null when the table is unknown.")
def _subnet_igw_routes(model: Model, subnet: Subnet) -> Derived[tuple[Route, ...] | None]:
    rt = route_table(model, subnet)
    if rt is None:
        return Derived(None)
    routes = tuple(r for r in rt.routes if r.target_kind == "igw")
    return Derived(routes, (rt.source,))


@derived("subnet", "has_explicit_route_table", requires=ec2("DescribeRouteTables"),
         doc="Whether a route table is explicitly associated with the subnet (false: it uses its VPC's "
             "main table); null when unknown.")
def _subnet_explicit(model: Model, subnet: Subnet) -> Derived[bool | None]:
    answer = {"explicit": True, "main": False}.get(subnet.route_table_association)
    rt = route_table(model, subnet)
    return Derived(answer, own_sources(rt) if rt else ())


# -- security_group --------------------------------------------------------------------

@derived("security_group", "rules", requires=ec2("DescribeSecurityGroupRules"),
         doc="The group's rules, ingress and egress, by rule id.")
def _sg_all_rules(model: Model, sg: SecurityGroup) -> Derived[tuple[SecurityGroupRule, ...]]:
    rules = sg_rules(model, sg)
    return Derived(rules, refs(rules))


@derived("security_group", "ingress_rules", requires=ec2("DescribeSecurityGroupRules"),
         doc="The group's ingress (inbound) rules, by rule id.")
def _sg_ingress(model: Model, sg: SecurityGroup) -> Derived[tuple[SecurityGroupRule, ...]]:
    rules = tuple(r for r in sg_rules(model, sg) if not r.is_egress)
    return Derived(rules, refs(rules))


@derived("security_group", "egress_rules", requires=ec2("DescribeSecurityGroupRules"),
         doc="The group's egress (outbound) rules, by rule id.")
def _sg_egress(model: Model, sg: SecurityGroup) -> Derived[tuple[SecurityGroupRule, ...]]:
    rules = tuple(r for r in sg_rules(model, sg) if r.is_egress)
    return Derived(rules, refs(rules))


@derived("security_group_rule", "port_range", requires=ec2("DescribeSecurityGroupRules"),
         doc="The rule's ports as {from, to, protocol} for ports_overlap (no ports, as for protocol -1, "
             "means all ports; ICMP rules open none).")
def _sgr_ports(model: Model, rule: SecurityGroupRule) -> Derived[dict[str, Any]]:
    return Derived({"from": rule.from_port, "to": rule.to_port, "protocol": rule.protocol})


# -- instance, network_interface, vpc_endpoint ------------------------------------------

@derived("instance", "has_public_ip", requires=ec2("DescribeInstances", "DescribeNetworkInterfaces"),
         doc="Whether the instance has a public IPv4 address (auto-assigned or Elastic IP) on any of its "
             "network interfaces.")
def _instance_public(model: Model, instance: Instance) -> Derived[bool]:
    enis = [e for e in related(model, "network_interface", "instance_id", instance)
            if isinstance(e, NetworkInterface) and e.public_ips]
    return Derived(bool(instance.public_ip) or bool(enis), refs(enis))


@derived("network_interface", "has_public_ip", requires=ec2("DescribeNetworkInterfaces"),
         doc="Whether the interface has a public IPv4 address (auto-assigned or Elastic IP).")
def _eni_public(model: Model, eni: NetworkInterface) -> Derived[bool]:
    return Derived(bool(eni.public_ips))


@derived("vpc_endpoint", "subnet_availability_zones", requires=ec2("DescribeVpcEndpoints", "DescribeSubnets"),
         doc="Availability zones of the endpoint's subnets, sorted, without repeats (empty for Gateway "
             "endpoints); null when one of its subnets is not in the model.")
def _vpce_azs(model: Model, endpoint: VpcEndpoint) -> Derived[tuple[str, ...] | None]:
    subnets = [model.get("subnet", s, endpoint.account, endpoint.region) for s in endpoint.subnet_ids]
    known = [s for s in subnets if isinstance(s, Subnet)]
    if len(known) < len(subnets):
        return Derived(None, refs(known))
    return Derived(tuple(sorted({s.availability_zone for s in known})), refs(known))


ATTRIBUTES: tuple[DerivedAttribute, ...] = (
    _vpc_igws, _vpc_eigws, _vpc_nats, _vpc_public_nats, _vpc_interface_services, _vpc_gateway_services,
    _vpc_flow_logs, _vpc_flow_log_types, _vpc_subnets, _vpc_workload_azs, _subnet_route_table, _subnet_routes,
    _subnet_igw_routes, _subnet_explicit, _sg_all_rules, _sg_ingress, _sg_egress, _sgr_ports, _instance_public,
    _eni_public, _vpce_azs,
)
