"""The registry of AWS calls the collector makes, as data.

Each `CallSpec` names the service and operation, the IAM permission it needs, the
response keys that hold its items, and (for per-resource calls) which earlier call's
items it runs once for. The collector, `auditor permissions` and the docs are all
generated from this one list, and a meta-test keeps them in step.

Pagination is not declared here: the collector asks botocore whether an operation
paginates and otherwise follows NextToken/Marker itself, so no page is ever left behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterable, Mapping

Params = Mapping[str, Any]


@dataclass(frozen=True)
class ForEach:
    """A per-resource call: run once per item of `source` (an operation of the same
    service), with parameters built from that item."""

    source: str
    items_key: str
    make_params: Callable[[Mapping[str, Any]], Iterable[Params]]
    describe: str  # e.g. "per VPC, two attributes" for docs and the benchmark note


@dataclass(frozen=True)
class CallSpec:
    """One collected AWS call."""

    service: str            # boto3 client name
    operation: str          # API operation name as AWS spells it
    permission: str         # IAM action the call needs
    items_key: str          # the response key holding the collected items
    params: Params = field(default_factory=dict)
    for_each: ForEach | None = None
    resource_type: str = ""  # model type(s) this feeds, for docs and coverage
    note: str = ""           # why the call looks the way it does
    # Response fields that can carry secrets, as paths into one response page: names
    # separated by ".", "[]" after a name for every element of that list, "*" for every
    # value of a mapping. Each value found there is replaced at collection, before the
    # record is written, by a keyed-hash marker (auditor.collect.redact).
    secret_fields: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.service}:{self.operation}"


def _vpc_attrs(vpc: Mapping[str, Any]) -> Iterable[Params]:
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        yield {"VpcId": vpc["VpcId"], "Attribute": attribute}


def _by(key: str, param: str) -> Callable[[Mapping[str, Any]], Iterable[Params]]:
    def make(item: Mapping[str, Any]) -> Iterable[Params]:
        yield {param: item[key]}
    return make


def _tgw_routes(rt: Mapping[str, Any]) -> Iterable[Params]:
    # SearchTransitGatewayRoutes requires a filter; these two states are every route that
    # carries (active) or deliberately drops (blackhole) traffic.
    yield {"TransitGatewayRouteTableId": rt["TransitGatewayRouteTableId"],
           "Filters": [{"Name": "state", "Values": ["active", "blackhole"]}]}


def _eks(name: Any) -> Iterable[Params]:
    yield {"name": name}


EC2 = "ec2"

CATALOG: tuple[CallSpec, ...] = (
    CallSpec(EC2, "DescribeVpcs", "ec2:DescribeVpcs", "Vpcs", resource_type="vpc"),
    CallSpec(EC2, "DescribeVpcAttribute", "ec2:DescribeVpcAttribute", "",
             for_each=ForEach("DescribeVpcs", "Vpcs", _vpc_attrs, "per VPC: enableDnsSupport and enableDnsHostnames"),
             resource_type="vpc", note="DNS attributes are not part of DescribeVpcs"),
    CallSpec(EC2, "DescribeSubnets", "ec2:DescribeSubnets", "Subnets", resource_type="subnet"),
    CallSpec(EC2, "DescribeRouteTables", "ec2:DescribeRouteTables", "RouteTables", resource_type="route_table"),
    CallSpec(EC2, "DescribeInternetGateways", "ec2:DescribeInternetGateways", "InternetGateways",
             resource_type="internet_gateway"),
    CallSpec(EC2, "DescribeEgressOnlyInternetGateways", "ec2:DescribeEgressOnlyInternetGateways",
             "EgressOnlyInternetGateways", resource_type="egress_only_internet_gateway"),
    CallSpec(EC2, "DescribeNatGateways", "ec2:DescribeNatGateways", "NatGateways", resource_type="nat_gateway"),
    CallSpec(EC2, "DescribeAddresses", "ec2:DescribeAddresses", "Addresses", resource_type="elastic_ip"),
    CallSpec(EC2, "DescribeNetworkInterfaces", "ec2:DescribeNetworkInterfaces", "NetworkInterfaces",
             resource_type="network_interface"),
    CallSpec(EC2, "DescribeInstances", "ec2:DescribeInstances", "Reservations", resource_type="instance"),
    CallSpec(EC2, "DescribeSecurityGroups", "ec2:DescribeSecurityGroups", "SecurityGroups",
             resource_type="security_group"),
    CallSpec(EC2, "DescribeSecurityGroupRules", "ec2:DescribeSecurityGroupRules", "SecurityGroupRules",
             resource_type="security_group_rule"),
    CallSpec(EC2, "DescribeNetworkAcls", "ec2:DescribeNetworkAcls", "NetworkAcls", resource_type="network_acl"),
    CallSpec(EC2, "DescribeVpcEndpoints", "ec2:DescribeVpcEndpoints", "VpcEndpoints", resource_type="vpc_endpoint"),
    CallSpec(EC2, "DescribeVpcEndpointServices", "ec2:DescribeVpcEndpointServices", "ServiceDetails",
             resource_type="vpc_endpoint_service", note="which services this region offers endpoints for"),
    CallSpec(EC2, "DescribeFlowLogs", "ec2:DescribeFlowLogs", "FlowLogs", resource_type="flow_log"),
    CallSpec(EC2, "DescribeVpcPeeringConnections", "ec2:DescribeVpcPeeringConnections", "VpcPeeringConnections",
             resource_type="vpc_peering"),
    CallSpec(EC2, "DescribeCarrierGateways", "ec2:DescribeCarrierGateways", "CarrierGateways",
             resource_type="carrier_gateway", note="route target: Wavelength carrier network (internet)"),
    CallSpec(EC2, "DescribeVpnGateways", "ec2:DescribeVpnGateways", "VpnGateways",
             resource_type="vpn_gateway", note="route target: on-premises over VPN/Direct Connect"),
    CallSpec(EC2, "DescribeTransitGateways", "ec2:DescribeTransitGateways", "TransitGateways",
             resource_type="transit_gateway"),
    CallSpec(EC2, "DescribeTransitGatewayAttachments", "ec2:DescribeTransitGatewayAttachments",
             "TransitGatewayAttachments", resource_type="transit_gateway_attachment"),
    CallSpec(EC2, "DescribeTransitGatewayVpcAttachments", "ec2:DescribeTransitGatewayVpcAttachments",
             "TransitGatewayVpcAttachments", resource_type="transit_gateway_attachment",
             note="the subnets of each VPC attachment, where TGW traffic enters the VPC"),
    CallSpec(EC2, "DescribeTransitGatewayRouteTables", "ec2:DescribeTransitGatewayRouteTables",
             "TransitGatewayRouteTables", resource_type="transit_gateway_route_table"),
    CallSpec(EC2, "SearchTransitGatewayRoutes", "ec2:SearchTransitGatewayRoutes", "Routes",
             for_each=ForEach("DescribeTransitGatewayRouteTables", "TransitGatewayRouteTables", _tgw_routes,
                              "per TGW route table: its routes"),
             resource_type="transit_gateway_route_table"),
    CallSpec(EC2, "GetTransitGatewayRouteTableAssociations", "ec2:GetTransitGatewayRouteTableAssociations",
             "Associations",
             for_each=ForEach("DescribeTransitGatewayRouteTables", "TransitGatewayRouteTables",
                              _by("TransitGatewayRouteTableId", "TransitGatewayRouteTableId"),
                              "per TGW route table: its associations"),
             resource_type="transit_gateway_route_table"),
    CallSpec(EC2, "GetTransitGatewayRouteTablePropagations", "ec2:GetTransitGatewayRouteTablePropagations",
             "TransitGatewayRouteTablePropagations",
             for_each=ForEach("DescribeTransitGatewayRouteTables", "TransitGatewayRouteTables",
                              _by("TransitGatewayRouteTableId", "TransitGatewayRouteTableId"),
                              "per TGW route table: its propagations"),
             resource_type="transit_gateway_route_table"),
    CallSpec(EC2, "DescribeManagedPrefixLists", "ec2:DescribeManagedPrefixLists", "PrefixLists",
             resource_type="prefix_list"),
    CallSpec(EC2, "GetManagedPrefixListEntries", "ec2:GetManagedPrefixListEntries", "Entries",
             for_each=ForEach("DescribeManagedPrefixLists", "PrefixLists", _by("PrefixListId", "PrefixListId"),
                              "per managed prefix list: its entries (CIDRs)"),
             resource_type="prefix_list"),
    CallSpec(EC2, "DescribeVpcBlockPublicAccessOptions", "ec2:DescribeVpcBlockPublicAccessOptions",
             "VpcBlockPublicAccessOptions", resource_type="vpc_block_public_access"),
    CallSpec(EC2, "DescribeVpcBlockPublicAccessExclusions", "ec2:DescribeVpcBlockPublicAccessExclusions",
             "VpcBlockPublicAccessExclusions", resource_type="vpc_block_public_access_exclusion"),
    CallSpec("eks", "ListClusters", "eks:ListClusters", "clusters", resource_type="eks_cluster"),
    CallSpec("eks", "DescribeCluster", "eks:DescribeCluster", "cluster",
             for_each=ForEach("ListClusters", "clusters", _eks, "per EKS cluster: its configuration"),
             resource_type="eks_cluster",
             # The registration code of a connected (EKS Connector) cluster: a credential.
             secret_fields=("cluster.connectorConfig.activationCode",)),
    CallSpec("rds", "DescribeDBInstances", "rds:DescribeDBInstances", "DBInstances", resource_type="db_instance"),
    CallSpec("elbv2", "DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancers", "LoadBalancers",
             resource_type="load_balancer"),
    CallSpec("elb", "DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancers",
             "LoadBalancerDescriptions", resource_type="load_balancer", note="classic load balancers"),
    CallSpec("lambda", "ListFunctions", "lambda:ListFunctions", "Functions", resource_type="lambda_function",
             note="VpcConfig is part of each function's configuration",
             # ListFunctions returns every function's environment variables in clear text
             # (DB_PASSWORD=...); the names are kept, the values are not.
             secret_fields=("Functions[].Environment.Variables.*",)),
)

# Calls made once per account (identity, region discovery) or once per run (accounts).
ACCOUNT_CALLS: tuple[CallSpec, ...] = (
    CallSpec("sts", "GetCallerIdentity", "sts:GetCallerIdentity", "", note="who we are in each account"),
    CallSpec("sts", "AssumeRole", "sts:AssumeRole", "", note="into each audited account's read-only role; "
             "the credentials it returns are never written"),
    CallSpec(EC2, "DescribeRegions", "ec2:DescribeRegions", "Regions", note="only when regions: all"),
    CallSpec("organizations", "ListAccounts", "organizations:ListAccounts", "Accounts",
             note="only with organization_discovery"),
)


# Calls botocore's own credential chain makes through the collector's sessions (which carry
# the read-only guard): SSO profiles, SSO token refresh, web identity (EKS IRSA, CI OIDC).
# Their answers are credentials held in memory by botocore; nothing of them is recorded.
# They need no permission in the audited accounts, so the IAM policies leave them out.
CREDENTIAL_CALLS: tuple[CallSpec, ...] = (
    CallSpec("sso", "GetRoleCredentials", "sso:GetRoleCredentials", "", note="credentials of an SSO profile"),
    CallSpec("sso-oidc", "CreateToken", "sso-oidc:CreateToken", "", note="refreshes an SSO session's token"),
    CallSpec("sts", "AssumeRoleWithWebIdentity", "sts:AssumeRoleWithWebIdentity", "",
             note="credentials from a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)"),
)


def regional_calls() -> tuple[CallSpec, ...]:
    """The calls of one (account, region) task, in the order they run."""
    return CATALOG


def all_calls() -> tuple[CallSpec, ...]:
    return CATALOG + ACCOUNT_CALLS


def allowed_operations() -> frozenset[tuple[str, str]]:
    """(boto3 service name, operation) of every call the read-only guard lets through: the
    collected calls, the account calls and the credential chain's calls; nothing else."""
    return frozenset((s.service, s.operation) for s in all_calls() + CREDENTIAL_CALLS)


def secret_fields(service: str, operation: str) -> tuple[str, ...]:
    """The declared secret-bearing response fields of a call (none for unknown calls)."""
    return next((s.secret_fields for s in all_calls() if (s.service, s.operation) == (service, operation)), ())


def spec(service: str, operation: str) -> CallSpec:
    for s in all_calls():
        if s.service == service and s.operation == operation:
            return s
    raise KeyError(f"{service}:{operation} is not a collected call")
