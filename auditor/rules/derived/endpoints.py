"""Derived attributes for the endpoints rules (packs endpoints, endpoint-policies, private-eks).

What they add to the model, per resource type:

- ``vpc_endpoint``: whether it serves an AWS service; the workload availability zones of
  its VPC and those its subnets miss; what its security groups admit (HTTPS from the
  workload subnets, anything from the whole internet); its policy in force (AWS's default
  when it has none) and what the policy analyzer (auditor/analyze/policy.py) makes of it:
  AWS's default full access or not, Allow statements with NotAction/NotResource/NotPrincipal,
  the principals, actions and resources it lets through, the conditions it could not model;
- ``subnet``: the gateway endpoint services (s3, dynamodb) routed from its effective table;
- ``eks_cluster``: the endpoint services usable from its VPC and subnets, and its subnets
  whose effective table routes to an internet gateway.

Conventions (those of the seam, `auditor.rules.derive`): a value that cannot be known from the
model is None (unknown, so a rule reading it gives ERROR, never PASS); `requires` names
every collected call the value depends on, the resource's own listing calls included.

"Workload" interfaces are those `auditor.rules.derive.workload_interfaces` gives: those
`is_workload_interface` accepts, less the interfaces that any VPC endpoint lists as its own
(emulators report endpoint interfaces as plain "interface" without AWS's description, and an
endpoint is not a client of itself).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from collections.abc import Iterable

from auditor.analyze.policy import (
    DEFAULT_ENDPOINT_POLICY, Policy, PolicyAnalysis, PolicyError, analyze, parse_cached,
)
from auditor.model.types import (
    EksCluster, Model, NetworkInterface, PrefixList, RouteTable, SecurityGroup, SecurityGroupRule, SourceRef,
    Subnet, VpcEndpoint,
)
from auditor.rules.derive import (
    Call, Derived, DerivedAttribute, derived, ec2, index, own_sources, refs, related, route_table, sg_rules,
    workload_interfaces,
)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_EKS: tuple[Call, ...] = (("eks", "ListClusters"), ("eks", "DescribeCluster"))
HTTPS = 443


# -- shared helpers --------------------------------------------------------------------

def _available(endpoint: VpcEndpoint) -> bool:
    return endpoint.state.lower() == "available"


def _vpc_endpoints(model: Model, account: str, region: str, vpc_id: str) -> tuple[VpcEndpoint, ...]:
    found = index(model, "vpc_endpoint", "vpc_id").get((account, region, vpc_id), ())
    return tuple(e for e in found if isinstance(e, VpcEndpoint))


def _workload_subnets(model: Model, account: str, region: str,
                      vpc_id: str) -> list[tuple[Subnet, list[NetworkInterface]]]:
    """The VPC's subnets that hold workload interfaces, each with those interfaces."""
    out = []
    for subnet in index(model, "subnet", "vpc_id").get((account, region, vpc_id), ()):
        if isinstance(subnet, Subnet):
            enis = workload_interfaces(model, subnet)
            if enis:
                out.append((subnet, enis))
    return out


def _network(text: str | None) -> IpNetwork | None:
    if not text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _within(inner: str | None, outer: str | None) -> bool:
    """Whether CIDR `inner` lies inside CIDR `outer` (same family; False when either is not a CIDR)."""
    a, b = _network(inner), _network(outer)
    if a is None or b is None or a.version != b.version:
        return False
    return a.subnet_of(b)  # type: ignore[arg-type]  # same family checked above


# -- vpc_endpoint: what it serves, where it is ----------------------------------------

# Service names of AWS services: com.amazonaws.<region>.<svc> (and global ones such as
# com.amazonaws.route53), aws.api.<region>.<svc>, aws.sagemaker.<region>.<svc>. Endpoint
# services of customers and partners are com.amazonaws.vpce.<region>.vpce-svc-...
_AWS_PREFIXES = ("com.amazonaws.", "aws.api.", "aws.sagemaker.")
_CUSTOMER_PREFIX = "com.amazonaws.vpce."


@derived("vpc_endpoint", "is_aws_service", requires=ec2("DescribeVpcEndpoints"),
         doc="Whether the endpoint serves an AWS service (service name com.amazonaws.<region>.<svc>, "
             "aws.api.* or aws.sagemaker.*), not a customer or partner endpoint service "
             "(com.amazonaws.vpce.<region>.vpce-svc-...).")
def _vpce_is_aws(model: Model, endpoint: VpcEndpoint) -> Derived[bool]:
    name = endpoint.service_name
    return Derived(name.startswith(_AWS_PREFIXES) and not name.startswith(_CUSTOMER_PREFIX))


@derived("vpc_endpoint", "vpc_workload_availability_zones",
         requires=ec2("DescribeVpcEndpoints", "DescribeSubnets", "DescribeNetworkInterfaces"),
         doc="Availability zones of the subnets of the endpoint's VPC that hold at least one workload network "
             "interface (anything but NAT gateway, transit gateway and VPC endpoint interfaces), sorted.")
def _vpce_vpc_workload_azs(model: Model, endpoint: VpcEndpoint) -> Derived[tuple[str, ...]]:
    found = _workload_subnets(model, endpoint.account, endpoint.region, endpoint.vpc_id)
    zones = tuple(sorted({s.availability_zone for s, _ in found}))
    return Derived(zones, refs(s for s, _ in found))


def _endpoint_subnets(model: Model, endpoint: VpcEndpoint) -> list[Subnet] | None:
    subnets = [model.get("subnet", s, endpoint.account, endpoint.region) for s in endpoint.subnet_ids]
    known = [s for s in subnets if isinstance(s, Subnet)]
    return known if len(known) == len(subnets) else None


@derived("vpc_endpoint", "missing_workload_availability_zones",
         requires=ec2("DescribeVpcEndpoints", "DescribeSubnets", "DescribeNetworkInterfaces"),
         doc="Workload availability zones of the endpoint's VPC (vpc_workload_availability_zones) in which "
             "the endpoint has no subnet, sorted; null when one of its subnets is not in the model.")
def _vpce_missing_azs(model: Model, endpoint: VpcEndpoint) -> Derived[tuple[str, ...] | None]:
    mine = _endpoint_subnets(model, endpoint)
    if mine is None:
        return Derived(None)
    workloads = _workload_subnets(model, endpoint.account, endpoint.region, endpoint.vpc_id)
    covered = {s.availability_zone for s in mine}
    missing = sorted({s.availability_zone for s, _ in workloads} - covered)
    return Derived(tuple(missing), refs([*mine, *(s for s, _ in workloads)]))


@derived("vpc_endpoint", "availability_zone_count", requires=ec2("DescribeVpcEndpoints", "DescribeSubnets"),
         doc="How many availability zones the endpoint's subnets span (0 for Gateway endpoints); null when "
             "one of its subnets is not in the model.")
def _vpce_az_count(model: Model, endpoint: VpcEndpoint) -> Derived[int | None]:
    mine = _endpoint_subnets(model, endpoint)
    if mine is None:
        return Derived(None)
    return Derived(len({s.availability_zone for s in mine}), refs(mine))


# -- vpc_endpoint: security groups ------------------------------------------------------

# Prefix lists are not among the calls required: only rules that name one depend on them, and
# a prefix list that is not in the model, or whose entries are unknown (their calls failed),
# makes the value null wherever the answer depends on it. Requiring the prefix-list calls
# would turn every endpoint into an ERROR when they fail.
_SG_CALLS = ec2("DescribeVpcEndpoints", "DescribeSecurityGroups", "DescribeSecurityGroupRules")


def _endpoint_groups(model: Model, endpoint: VpcEndpoint) -> list[SecurityGroup] | None:
    groups = [model.get("security_group", g, endpoint.account, endpoint.region) for g in endpoint.security_group_ids]
    known = [g for g in groups if isinstance(g, SecurityGroup)]
    return known if len(known) == len(groups) else None


def _ingress(model: Model, groups: Iterable[SecurityGroup]) -> tuple[SecurityGroupRule, ...]:
    return tuple(r for g in groups for r in sg_rules(model, g) if not r.is_egress)


def _prefix_list_cidrs(model: Model, rule: SecurityGroupRule) -> tuple[str, ...] | None:
    pl = model.get("prefix_list", rule.prefix_list_id or "", rule.account, rule.region)
    return pl.cidrs if isinstance(pl, PrefixList) else None


def _is_everywhere(cidr: str | None) -> bool:
    net = _network(cidr)
    return net is not None and net.prefixlen == 0


@derived("vpc_endpoint", "internet_ingress_rule_ids", requires=_SG_CALLS,
         doc="Ids of the ingress rules of the endpoint's security groups, of any protocol and port, whose source "
             "is the whole internet: 0.0.0.0/0, ::/0, or a prefix list holding either; sorted. Null when one of "
             "its groups is not in the model, or (no such rule being known) a rule names a prefix list whose "
             "entries are unknown.")
def _vpce_internet_ingress(model: Model, endpoint: VpcEndpoint) -> Derived[tuple[str, ...] | None]:
    groups = _endpoint_groups(model, endpoint)
    if groups is None:
        return Derived(None)
    found: list[SecurityGroupRule] = []
    undecided = False
    for rule in _ingress(model, groups):
        if _is_everywhere(rule.cidr_ipv4) or _is_everywhere(rule.cidr_ipv6):
            found.append(rule)
        elif rule.prefix_list_id:
            cidrs = _prefix_list_cidrs(model, rule)
            if cidrs is None:
                undecided = True
            elif any(_is_everywhere(c) for c in cidrs):
                found.append(rule)
    if undecided and not found:  # with one open rule known, "not empty" is known however the rest reads
        return Derived(None, refs(groups))
    return Derived(tuple(sorted(r.id for r in found)), refs([*groups, *found]))


def _allows_https(rule: SecurityGroupRule) -> bool:
    """Whether an ingress rule lets TCP 443 in (from whatever source)."""
    protocol = rule.protocol.lower()
    if protocol in ("-1", "all"):
        return True
    if protocol not in ("tcp", "6"):
        return False
    low = rule.from_port if rule.from_port is not None and rule.from_port >= 0 else 0
    high = rule.to_port if rule.to_port is not None and rule.to_port >= 0 else 65535
    return low <= HTTPS <= high


class _Undecided(Exception):
    """A rule's source could not be resolved (prefix list with unknown entries)."""


def _cidr_admits(model: Model, rule: SecurityGroupRule, subnet: Subnet) -> bool:
    """Whether the rule's CIDR or prefix-list source holds the whole subnet. IPv4 subnets are
    matched on their IPv4 CIDR; IPv6-only subnets (no IPv4 CIDR) on one of their IPv6 CIDRs."""
    mine = [subnet.cidr] if subnet.cidr else list(subnet.ipv6_cidrs)
    sources: list[str | None] = [rule.cidr_ipv4, rule.cidr_ipv6]
    if rule.prefix_list_id:
        cidrs = _prefix_list_cidrs(model, rule)
        if cidrs is None:
            raise _Undecided(rule.prefix_list_id)
        sources += list(cidrs)
    return any(_within(c, s) for c in mine for s in sources)


@derived("vpc_endpoint", "workload_subnets_not_admitted_on_443",
         requires=(*_SG_CALLS, *ec2("DescribeSubnets", "DescribeNetworkInterfaces")),
         doc="Ids of the workload subnets of the endpoint's VPC (subnets holding workload network interfaces) "
             "from which the endpoint's security groups do not admit HTTPS, sorted. A subnet is admitted when "
             "some ingress rule allowing TCP 443 (protocol tcp or all, a port range holding 443) has as source "
             "a CIDR or prefix list holding the subnet's whole CIDR (IPv4; IPv6 for IPv6-only subnets), or, for "
             "every workload interface in the subnet, a security group that interface is a member of. Null when "
             "one of the endpoint's groups is not in the model, or the answer depends on a prefix list whose "
             "entries are unknown.")
def _vpce_subnets_without_https(model: Model, endpoint: VpcEndpoint) -> Derived[tuple[str, ...] | None]:
    groups = _endpoint_groups(model, endpoint)
    if groups is None:
        return Derived(None)
    https = [r for r in _ingress(model, groups) if _allows_https(r)]
    referenced = {r.referenced_group_id for r in https if r.referenced_group_id}
    workloads = _workload_subnets(model, endpoint.account, endpoint.region, endpoint.vpc_id)
    missing: list[str] = []
    undecided = False
    for subnet, enis in workloads:
        if all(referenced.intersection(e.security_group_ids) for e in enis):
            continue  # every workload interface here is in a group the endpoint admits
        admitted = False
        for rule in https:
            try:
                if _cidr_admits(model, rule, subnet):
                    admitted = True
                    break
            except _Undecided:
                undecided = True
        if not admitted:
            missing.append(subnet.id)
    evidence = refs([*groups, *https, *(s for s, _ in workloads)])
    if missing and undecided:
        return Derived(None, evidence)
    return Derived(tuple(sorted(missing)), evidence)


# -- vpc_endpoint: policy ---------------------------------------------------------------
#
# Every policy attribute reads the endpoint's effective policy through the analyzer
# (auditor/analyze/policy.py, docs/endpoint-policies.md): AWS's default when the endpoint has
# no policy document, null when the document is not JSON or not a valid IAM policy.

_DESCRIBE = ec2("DescribeVpcEndpoints")


def _effective_document(endpoint: VpcEndpoint) -> dict[str, Any] | None:
    """The policy JSON in force: the endpoint's own, or AWS's default when it has none;
    None when the document could not be parsed as JSON or is not a JSON object."""
    if endpoint.policy_document is None:
        default: dict[str, Any] = json.loads(json.dumps(DEFAULT_ENDPOINT_POLICY))
        return default
    if endpoint.policy_error is not None or not isinstance(endpoint.policy, dict):
        return None
    return endpoint.policy


def _effective_policy(endpoint: VpcEndpoint) -> Policy | None:
    """The effective policy parsed; None when there is none that IAM would accept."""
    document = _effective_document(endpoint)
    if document is None:
        return None
    try:
        return parse_cached(document)
    except PolicyError:
        return None


def _analysis(endpoint: VpcEndpoint) -> PolicyAnalysis | None:
    policy = _effective_policy(endpoint)
    return None if policy is None else analyze(policy)


@derived("vpc_endpoint", "effective_policy", requires=_DESCRIBE,
         doc="The endpoint policy in force, as JSON: the endpoint's policy document, or AWS's default full-access "
             "policy {\"Statement\": [{\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"*\", "
             "\"Resource\": \"*\"}]} when it has none (as for services without endpoint-policy support). Null "
             "when the document is not a JSON object; a JSON object that is not a valid IAM policy is kept, and "
             "the policy_* operators, which read this attribute, give ERROR saying what is wrong with it.")
def _vpce_effective_policy(model: Model, endpoint: VpcEndpoint) -> Derived[dict[str, Any] | None]:
    return Derived(_effective_document(endpoint))


@derived("vpc_endpoint", "policy_is_default_full_access", requires=_DESCRIBE,
         doc="Whether the endpoint policy gives AWS's default full access: no policy document (AWS applies "
             "its default, and services without endpoint-policy support always allow everything), or a policy "
             "that lets every principal do every action on every resource without relying on a condition the "
             "analyzer does not model: an Allow of \"*\" to \"*\" (or {\"AWS\": \"*\"}) on \"*\" that no Deny "
             "narrows, however Statement and its elements are shaped. Null when the policy could not be parsed "
             "or is not a valid IAM policy.")
def _vpce_default_policy(model: Model, endpoint: VpcEndpoint) -> Derived[bool | None]:
    found = _analysis(endpoint)
    return Derived(None if found is None else found.default_full_access)


@derived("vpc_endpoint", "policy_allow_not_elements", requires=_DESCRIBE,
         doc="The Allow statements of the endpoint policy that use NotAction, NotResource or NotPrincipal "
             "(which allow everything but what they name), as \"statement N (Sid S): NotAction\"; empty without "
             "a policy document; null when the policy could not be parsed or is not a valid IAM policy.")
def _vpce_allow_not(model: Model, endpoint: VpcEndpoint) -> Derived[tuple[str, ...] | None]:
    policy = _effective_policy(endpoint)
    if policy is None:
        return Derived(None)
    found = []
    for st in policy.statements:
        used = [name for name, flag in (("NotAction", st.not_action), ("NotResource", st.not_resource),
                                        ("NotPrincipal", st.not_principal)) if flag]
        if st.effect == "Allow" and used:
            found.append(f"{st.label}: {', '.join(used)}")
    return Derived(tuple(found))


@derived("vpc_endpoint", "policy_principals", requires=_DESCRIBE,
         doc="The principals the effective endpoint policy lets through (for some action and resource), in words: "
             "\"any principal\", organisation ids, \"account N\", \"principal ARN\", \"any AWS service principal\" ... "
             "(docs/endpoint-policies.md); null when the policy could not be parsed.")
def _vpce_policy_principals(model: Model, endpoint: VpcEndpoint) -> Derived[tuple[str, ...] | None]:
    found = _analysis(endpoint)
    return Derived(None if found is None else found.principals.describe())


@derived("vpc_endpoint", "policy_actions", requires=_DESCRIBE,
         doc="The actions the effective endpoint policy allows (to some principal on some resource): \"every "
             "action\", \"service:*\" for a whole service, or the actions of the services it names, expanded "
             "against the IAM action catalogue; null when the policy could not be parsed.")
def _vpce_policy_actions(model: Model, endpoint: VpcEndpoint) -> Derived[tuple[str, ...] | None]:
    found = _analysis(endpoint)
    return Derived(None if found is None else found.actions.describe())


@derived("vpc_endpoint", "policy_resources", requires=_DESCRIBE,
         doc="The resources the effective endpoint policy lets requests reach: \"any resource\", organisation ids, "
             "\"account N\" and resource ARN patterns; null when the policy could not be parsed.")
def _vpce_policy_resources(model: Model, endpoint: VpcEndpoint) -> Derived[tuple[str, ...] | None]:
    found = _analysis(endpoint)
    return Derived(None if found is None else found.resources.describe())


@derived("vpc_endpoint", "policy_unmodelled_conditions", requires=_DESCRIBE,
         doc="The conditions of the effective endpoint policy the analyzer does not model (tags, network keys, "
             "policy variables ...), as \"statement N (Sid S): key (operator)\": assumed to hold in Allow "
             "statements and not to apply in Deny statements; null when the policy could not be parsed.")
def _vpce_policy_unmodelled(model: Model, endpoint: VpcEndpoint) -> Derived[tuple[str, ...] | None]:
    found = _analysis(endpoint)
    return Derived(None if found is None else found.unmodelled)


# -- subnet: gateway endpoints on its route table ---------------------------------------

def _gateway_services(model: Model, rt: RouteTable) -> tuple[tuple[str, ...], tuple[SourceRef, ...]]:
    """Services of the available Gateway endpoints associated with route table `rt`."""
    endpoints = [e for e in related(model, "vpc_endpoint", "route_table_ids", rt)
                 if isinstance(e, VpcEndpoint) and e.endpoint_type.lower() == "gateway" and _available(e)]
    return tuple(sorted({e.service for e in endpoints})), refs(endpoints)


@derived("subnet", "gateway_endpoint_services_on_route_table",
         requires=ec2("DescribeSubnets", "DescribeRouteTables", "DescribeVpcEndpoints"),
         doc="Short service names (s3, dynamodb) of the available Gateway endpoints whose route tables include "
             "the subnet's effective route table (its explicit association, else its VPC's main table), sorted; "
             "null when the effective route table is unknown.")
def _subnet_gateway_services(model: Model, subnet: Subnet) -> Derived[tuple[str, ...] | None]:
    rt = route_table(model, subnet)
    if rt is None:
        return Derived(None)
    services, found = _gateway_services(model, rt)
    return Derived(services, (*own_sources(rt), *found))


# -- eks_cluster ------------------------------------------------------------------------

@derived("eks_cluster", "interface_endpoint_services_with_private_dns", requires=(*_EKS, *ec2("DescribeVpcEndpoints")),
         doc="Short service names of the available Interface endpoints in the cluster's VPC that have private "
             "DNS enabled, sorted, without repeats; null when the cluster's VPC, or whether one of those "
             "endpoints has private DNS, is unknown.")
def _eks_interface_services(model: Model, cluster: EksCluster) -> Derived[tuple[str, ...] | None]:
    if not cluster.vpc_id:
        return Derived(None)
    endpoints = [e for e in _vpc_endpoints(model, cluster.account, cluster.region, cluster.vpc_id)
                 if e.endpoint_type.lower() == "interface" and _available(e)]
    if any(e.private_dns_enabled is None for e in endpoints):
        return Derived(None, refs(endpoints))
    with_dns = [e for e in endpoints if e.private_dns_enabled]
    return Derived(tuple(sorted({e.service for e in with_dns})), refs(with_dns))


@derived("eks_cluster", "interface_endpoint_services_without_private_dns",
         requires=(*_EKS, *ec2("DescribeVpcEndpoints")),
         doc="Short service names of the available Interface endpoints in the cluster's VPC whose private DNS "
             "is off, sorted, without repeats; null when the cluster's VPC is unknown.")
def _eks_interface_no_dns(model: Model, cluster: EksCluster) -> Derived[tuple[str, ...] | None]:
    if not cluster.vpc_id:
        return Derived(None)
    endpoints = [e for e in _vpc_endpoints(model, cluster.account, cluster.region, cluster.vpc_id)
                 if e.endpoint_type.lower() == "interface" and _available(e) and e.private_dns_enabled is False]
    return Derived(tuple(sorted({e.service for e in endpoints})), refs(endpoints))


def _cluster_subnets(model: Model, cluster: EksCluster) -> list[Subnet] | None:
    subnets = [model.get("subnet", s, cluster.account, cluster.region) for s in cluster.subnet_ids]
    known = [s for s in subnets if isinstance(s, Subnet)]
    return known if len(known) == len(subnets) else None


@derived("eks_cluster", "gateway_endpoint_services_on_all_route_tables",
         requires=(*_EKS, *ec2("DescribeSubnets", "DescribeRouteTables", "DescribeVpcEndpoints")),
         doc="Short service names (s3, dynamodb) of the available Gateway endpoints routed from the effective "
             "route table of every one of the cluster's subnets, sorted; null when one of those subnets or its "
             "route table is unknown.")
def _eks_gateway_services(model: Model, cluster: EksCluster) -> Derived[tuple[str, ...] | None]:
    subnets = _cluster_subnets(model, cluster)
    if subnets is None:
        return Derived(None)
    common: set[str] | None = None
    evidence: list[SourceRef] = []
    for subnet in subnets:
        rt = route_table(model, subnet)
        if rt is None:
            return Derived(None, refs(subnets))
        services, found = _gateway_services(model, rt)
        evidence += [*own_sources(rt), *found]
        common = set(services) if common is None else common & set(services)
    return Derived(tuple(sorted(common or ())), tuple(dict.fromkeys(evidence)))


@derived("eks_cluster", "subnets_with_internet_gateway_route",
         requires=(*_EKS, *ec2("DescribeSubnets", "DescribeRouteTables")),
         doc="Ids of the cluster's subnets whose effective route table has an active route to an internet "
             "gateway (any destination), sorted; null when one of the cluster's subnets or its route table is "
             "unknown.")
def _eks_igw_subnets(model: Model, cluster: EksCluster) -> Derived[tuple[str, ...] | None]:
    subnets = _cluster_subnets(model, cluster)
    if subnets is None:
        return Derived(None)
    found: list[Subnet] = []
    tables: dict[str, RouteTable] = {}
    for subnet in subnets:
        rt = route_table(model, subnet)
        if rt is None:
            return Derived(None, refs(subnets))
        tables[rt.id] = rt
        if any(r.target_kind == "igw" and r.state.lower() == "active" for r in rt.routes):
            found.append(subnet)
    return Derived(tuple(sorted(s.id for s in found)), refs([*subnets, *tables.values()]))


def _cluster_policy_endpoints(model: Model, cluster: EksCluster) -> list[VpcEndpoint] | None:
    """The available AWS-service endpoints in the cluster's VPC that take a policy (interface
    and gateway endpoints), by id; None when the cluster's VPC is unknown."""
    if not cluster.vpc_id:
        return None
    return sorted((e for e in _vpc_endpoints(model, cluster.account, cluster.region, cluster.vpc_id)
                   if _available(e) and e.endpoint_type.lower() in ("interface", "gateway")
                   and e.service_name.startswith(_AWS_PREFIXES) and not e.service_name.startswith(_CUSTOMER_PREFIX)),
                  key=lambda e: e.id)


@derived("eks_cluster", "endpoint_policies", requires=(*_EKS, *_DESCRIBE),
         doc="The effective policies (see vpc_endpoint.effective_policy) of the available AWS-service interface "
             "and gateway endpoints in the cluster's VPC, in endpoint id order (endpoint_ids names them); null "
             "when the cluster's VPC is unknown.")
def _eks_endpoint_policies(model: Model, cluster: EksCluster) -> Derived[tuple[Any, ...] | None]:
    endpoints = _cluster_policy_endpoints(model, cluster)
    if endpoints is None:
        return Derived(None)
    return Derived(tuple(_effective_document(e) for e in endpoints), refs(endpoints))


@derived("eks_cluster", "endpoint_ids", requires=(*_EKS, *_DESCRIBE),
         doc="Ids (with their service) of the endpoints whose policies endpoint_policies lists, in the same order.")
def _eks_endpoint_ids(model: Model, cluster: EksCluster) -> Derived[tuple[str, ...] | None]:
    endpoints = _cluster_policy_endpoints(model, cluster)
    if endpoints is None:
        return Derived(None)
    return Derived(tuple(f"{e.id} ({e.service})" for e in endpoints), refs(endpoints))


ATTRIBUTES: tuple[DerivedAttribute, ...] = (
    _vpce_is_aws, _vpce_vpc_workload_azs, _vpce_missing_azs, _vpce_az_count, _vpce_internet_ingress,
    _vpce_subnets_without_https, _vpce_effective_policy, _vpce_default_policy, _vpce_allow_not,
    _vpce_policy_principals, _vpce_policy_actions, _vpce_policy_resources, _vpce_policy_unmodelled,
    _subnet_gateway_services, _eks_interface_services, _eks_interface_no_dns, _eks_gateway_services, _eks_igw_subnets,
    _eks_endpoint_policies, _eks_endpoint_ids,
)
