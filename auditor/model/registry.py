"""The resource registry: one entry per resource type, from which the rest derives.

An entry (`ResourceType`) says, for one model class (auditor/model/types.py):

- `calls`: the AWS calls that feed it, listings and per-resource calls (`CallSpec`), in the
  order they run. The collector's catalogue (`CATALOG`), the IAM policy and the docs'
  table of calls are these calls, entry after entry;
- `filled_by`: fields another call fills in while the model is built (a VPC's DNS
  attributes from DescribeVpcAttribute), so that rules reading only the other fields do not
  depend on that call;
- `listed_by`: for a type listed by more than one call, which listing a resource came from;
- `vpc`: how its VPC(s) are found, for scope (`Field`, `ITSELF`, `Through`, `Computed`, or
  `NoVpc` saying why it belongs to none);
- `arn`: the resource segment of its EC2 ARN, `OWN_ARN` when the model carries the ARN
  AWS gave, or `NoArn` saying why none is built.

Each listing call has a normaliser (auditor/model/normalise.py, registered by call); each
other call is folded into resources by the model build (auditor/model/build.py), or only
lists what per-resource calls run over. tests/test_registry.py checks all of it.

Adding a type without side calls: its class in types.py, its normaliser, its entry here.
A side call (one that fills fields of resources listed by another) also needs its handler
in build.py (`SIDE_HANDLERS`, with a `_Side` slot) and the lines of `_link` that put what
it adds on the resources; its entry names the fields (`filled_by`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from auditor.callspec import Call, CallSpec, ForEach, Params, per_item
from auditor.model.types import (
    BlockPublicAccess, BlockPublicAccessExclusion, CarrierGateway, DbInstance, EgressOnlyInternetGateway,
    EksCluster, ElasticIp, FlowLog, Instance, InternetGateway, LambdaFunction, LoadBalancer, NatGateway,
    NetworkAcl, NetworkInterface, PrefixList, Resource, RouteTable, SecurityGroup, SecurityGroupRule, Subnet,
    TransitGateway, TransitGatewayAttachment, TransitGatewayRouteTable, Vpc, VpcEndpoint, VpcEndpointService,
    VpcPeering, VpnGateway,
)

# -- how a resource's VPC is found ------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """Its VPC is a field of its own: a VPC id (``vpc_id``) or ids (``attached_vpc_ids``);
    empty means none."""

    name: str


@dataclass(frozen=True)
class Itself:
    """It is a VPC."""


ITSELF = Itself()


@dataclass(frozen=True)
class Via:
    """A field naming the resource that places this one in a VPC, and the type that
    resource may be. Placement is questioned (the named resource is missing from the model)
    only for references starting with `prefix`; `always`: an empty reference is a missing
    one too (a security group rule always has a group)."""

    field: str
    type_name: str
    prefix: str = ""
    always: bool = False


@dataclass(frozen=True)
class Through:
    """Its VPC is the VPC of the first resource found through these references, in order
    (an empty reference names nothing)."""

    vias: tuple[Via, ...]


@dataclass(frozen=True)
class Computed:
    """Its VPC(s) need code: `fn` gives them (None: no VPC)."""

    fn: Callable[[Resource], tuple[str, ...] | None]


@dataclass(frozen=True)
class NoVpc:
    """It belongs to no VPC (in scope when its account-region holds an in-scope VPC)."""

    reason: str


VpcRule = Field | Itself | Through | Computed | NoVpc


# -- how its ARN is found ---------------------------------------------------------------

@dataclass(frozen=True)
class OwnArn:
    """The model keeps the ARN AWS gave (its `arn` field)."""


OWN_ARN = OwnArn()


@dataclass(frozen=True)
class NoArn:
    """No ARN is built for it."""

    reason: str


@dataclass(frozen=True)
class ListedBy:
    """Which of a type's listings a resource came from, by one of its fields: the call for
    its value in `calls`, else `default`."""

    field: str
    calls: Mapping[str, Call]
    default: Call

    def call_for(self, resource: Resource) -> Call:
        return self.calls.get(str(getattr(resource, self.field, "")), self.default)


@dataclass(frozen=True)
class ResourceType:
    """One resource type: see the module docstring."""

    model: type[Resource]
    calls: tuple[CallSpec, ...]
    vpc: VpcRule
    arn: str | OwnArn | NoArn        # a str is the resource segment of its EC2 ARN (route-table)
    filled_by: Mapping[str, Call] = field(default_factory=dict)
    listed_by: ListedBy | None = None

    def __post_init__(self) -> None:
        # Each call says which type it feeds (docs, coverage): this one.
        object.__setattr__(self, "calls", tuple(c if c.resource_type else dataclasses.replace(c, resource_type=self.name)
                                                for c in self.calls))

    @property
    def name(self) -> str:
        """The rule-pack resource type (the model class's `type_name`)."""
        return self.model.type_name

    @property
    def base_calls(self) -> tuple[Call, ...]:
        """The calls whose failure leaves every resource of the type unknown: its calls,
        less those that only some fields need (`filled_by`)."""
        claimed = set(self.filled_by.values())
        return tuple(c.call for c in self.calls if c.call not in claimed)


# -- parameters of per-resource calls ---------------------------------------------------

def _vpc_attrs(vpc: Mapping[str, Any]) -> Iterable[Params]:
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        yield {"VpcId": vpc["VpcId"], "Attribute": attribute}


def _tgw_routes(rt: Mapping[str, Any]) -> Iterable[Params]:
    # SearchTransitGatewayRoutes requires a filter; these two states are every route that
    # carries (active) or deliberately drops (blackhole) traffic.
    yield {"TransitGatewayRouteTableId": rt["TransitGatewayRouteTableId"],
           "Filters": [{"Name": "state", "Values": ["active", "blackhole"]}]}


def _eks(name: Any) -> Iterable[Params]:
    yield {"name": name}


def _ec2(operation: str, items_key: str, **kw: Any) -> CallSpec:
    """An EC2 call, its IAM action named after it."""
    return CallSpec("ec2", operation, f"ec2:{operation}", items_key, **kw)


# -- VPCs that need code ----------------------------------------------------------------

def _peering_vpcs(resource: Resource) -> tuple[str, ...] | None:
    """Both sides' VPCs (a side AWS did not describe is left out)."""
    assert isinstance(resource, VpcPeering)
    return tuple(s.vpc_id for s in (resource.requester, resource.accepter) if s is not None) or None


def _attachment_vpcs(resource: Resource) -> tuple[str, ...] | None:
    """A VPC attachment's VPC is the resource it attaches; other attachments have none."""
    assert isinstance(resource, TransitGatewayAttachment)
    return (resource.resource_id,) if resource.resource_type == "vpc" else None



def _per_tgw_rt(describe: str) -> ForEach:
    return ForEach("DescribeTransitGatewayRouteTables", "TransitGatewayRouteTables",
                   per_item("TransitGatewayRouteTableId", "TransitGatewayRouteTableId"), describe)

# The entries, in collection order: the catalogue is their calls, one entry after another.
REGISTRY: tuple[ResourceType, ...] = (
    ResourceType(Vpc, (
        _ec2("DescribeVpcs", "Vpcs"),
        _ec2("DescribeVpcAttribute", "",
             for_each=ForEach("DescribeVpcs", "Vpcs", _vpc_attrs, "per VPC: enableDnsSupport and enableDnsHostnames"),
             note="DNS attributes are not part of DescribeVpcs")),
        vpc=ITSELF, arn="vpc",
        filled_by={"dns_support": ("ec2", "DescribeVpcAttribute"), "dns_hostnames": ("ec2", "DescribeVpcAttribute")}),
    ResourceType(Subnet, (_ec2("DescribeSubnets", "Subnets"),), vpc=Field("vpc_id"), arn="subnet",
                 filled_by={"route_table_id": ("ec2", "DescribeRouteTables"),
                            "route_table_association": ("ec2", "DescribeRouteTables")}),
    ResourceType(RouteTable, (_ec2("DescribeRouteTables", "RouteTables"),), vpc=Field("vpc_id"), arn="route-table"),
    ResourceType(InternetGateway, (_ec2("DescribeInternetGateways", "InternetGateways"),),
                 vpc=Field("attached_vpc_ids"), arn="internet-gateway"),
    ResourceType(EgressOnlyInternetGateway, (_ec2("DescribeEgressOnlyInternetGateways", "EgressOnlyInternetGateways"),),
                 vpc=Field("attached_vpc_ids"), arn="egress-only-internet-gateway"),
    ResourceType(NatGateway, (_ec2("DescribeNatGateways", "NatGateways"),), vpc=Field("vpc_id"), arn="natgateway"),
    ResourceType(ElasticIp, (_ec2("DescribeAddresses", "Addresses"),),
                 vpc=Through((Via("instance_id", "instance"), Via("network_interface_id", "network_interface"))),
                 arn=NoArn("its id is the public IP when AWS gives no allocation id")),
    ResourceType(NetworkInterface, (_ec2("DescribeNetworkInterfaces", "NetworkInterfaces"),),
                 vpc=Field("vpc_id"), arn="network-interface"),
    ResourceType(Instance, (_ec2("DescribeInstances", "Reservations"),), vpc=Field("vpc_id"), arn="instance"),
    ResourceType(SecurityGroup, (_ec2("DescribeSecurityGroups", "SecurityGroups"),),
                 vpc=Field("vpc_id"), arn="security-group"),
    ResourceType(SecurityGroupRule, (_ec2("DescribeSecurityGroupRules", "SecurityGroupRules"),),
                 vpc=Through((Via("group_id", "security_group", always=True),)), arn="security-group-rule"),
    ResourceType(NetworkAcl, (_ec2("DescribeNetworkAcls", "NetworkAcls"),), vpc=Field("vpc_id"), arn="network-acl"),
    ResourceType(VpcEndpoint, (_ec2("DescribeVpcEndpoints", "VpcEndpoints"),), vpc=Field("vpc_id"), arn="vpc-endpoint"),
    ResourceType(VpcEndpointService, (_ec2("DescribeVpcEndpointServices", "ServiceDetails",
                                           note="which services this region offers endpoints for"),),
                 vpc=NoVpc("a service the region offers, not placed in a VPC"),
                 arn=NoArn("its id is the service name, not the service's vpce-svc id")),
    ResourceType(FlowLog, (_ec2("DescribeFlowLogs", "FlowLogs"),),
                 vpc=Through((Via("resource_id", "vpc", "vpc-"), Via("resource_id", "subnet", "subnet-"),
                              Via("resource_id", "network_interface", "eni-"))), arn="vpc-flow-log"),
    ResourceType(VpcPeering, (_ec2("DescribeVpcPeeringConnections", "VpcPeeringConnections"),),
                 vpc=Computed(_peering_vpcs), arn="vpc-peering-connection"),
    ResourceType(CarrierGateway, (_ec2("DescribeCarrierGateways", "CarrierGateways",
                                       note="route target: Wavelength carrier network (internet)"),),
                 vpc=Field("vpc_id"), arn="carrier-gateway"),
    ResourceType(VpnGateway, (_ec2("DescribeVpnGateways", "VpnGateways",
                                   note="route target: on-premises over VPN/Direct Connect"),),
                 vpc=Field("attached_vpc_ids"), arn="vpn-gateway"),
    ResourceType(TransitGateway, (_ec2("DescribeTransitGateways", "TransitGateways"),),
                 vpc=NoVpc("a regional router: VPCs reach it through attachments"), arn="transit-gateway"),
    ResourceType(TransitGatewayAttachment, (
        _ec2("DescribeTransitGatewayAttachments", "TransitGatewayAttachments"),
        _ec2("DescribeTransitGatewayVpcAttachments", "TransitGatewayVpcAttachments",
             note="the subnets of each VPC attachment, where TGW traffic enters the VPC")),
        vpc=Computed(_attachment_vpcs), arn="transit-gateway-attachment",
        filled_by={"subnet_ids": ("ec2", "DescribeTransitGatewayVpcAttachments")}),
    ResourceType(TransitGatewayRouteTable, (
        _ec2("DescribeTransitGatewayRouteTables", "TransitGatewayRouteTables"),
        _ec2("SearchTransitGatewayRoutes", "Routes",
             for_each=ForEach("DescribeTransitGatewayRouteTables", "TransitGatewayRouteTables", _tgw_routes,
                              "per TGW route table: its routes")),
        _ec2("GetTransitGatewayRouteTableAssociations", "Associations",
             for_each=_per_tgw_rt("per TGW route table: its associations")),
        _ec2("GetTransitGatewayRouteTablePropagations", "TransitGatewayRouteTablePropagations",
             for_each=_per_tgw_rt("per TGW route table: its propagations"))),
        vpc=NoVpc("belongs to a transit gateway, not to a VPC"), arn="transit-gateway-route-table",
        filled_by={"routes": ("ec2", "SearchTransitGatewayRoutes"),
                   "associated_attachment_ids": ("ec2", "GetTransitGatewayRouteTableAssociations"),
                   "propagating_attachment_ids": ("ec2", "GetTransitGatewayRouteTablePropagations")}),
    ResourceType(PrefixList, (
        _ec2("DescribeManagedPrefixLists", "PrefixLists"),
        _ec2("GetManagedPrefixListEntries", "Entries",
             for_each=ForEach("DescribeManagedPrefixLists", "PrefixLists", per_item("PrefixListId", "PrefixListId"),
                              "per managed prefix list: its entries (CIDRs)"))),
        vpc=NoVpc("a named set of CIDRs, usable by route tables and security groups of any VPC"),
        arn=NoArn("AWS-managed lists belong to AWS, not to the account the ARN would name"),
        filled_by={"cidrs": ("ec2", "GetManagedPrefixListEntries")}),
    ResourceType(BlockPublicAccess, (_ec2("DescribeVpcBlockPublicAccessOptions", "VpcBlockPublicAccessOptions"),),
                 vpc=NoVpc("the account-region's settings"),
                 arn=NoArn("the account-region's settings: its id is the region")),
    ResourceType(BlockPublicAccessExclusion, (
        _ec2("DescribeVpcBlockPublicAccessExclusions", "VpcBlockPublicAccessExclusions"),),
        vpc=NoVpc("names the VPC or subnet it exempts by ARN only"),
        arn=NoArn("not built: waivers name exclusions by id or tags")),
    ResourceType(EksCluster, (
        CallSpec("eks", "ListClusters", "eks:ListClusters", "clusters"),
        CallSpec("eks", "DescribeCluster", "eks:DescribeCluster", "cluster",
                 for_each=ForEach("ListClusters", "clusters", _eks, "per EKS cluster: its configuration"),
                 # The registration code of a connected (EKS Connector) cluster: a credential.
                 secret_fields=("cluster.connectorConfig.activationCode",))),
        vpc=Field("vpc_id"), arn=OWN_ARN),
    ResourceType(DbInstance, (CallSpec("rds", "DescribeDBInstances", "rds:DescribeDBInstances", "DBInstances"),),
                 vpc=Field("vpc_id"), arn=OWN_ARN),
    ResourceType(LoadBalancer, (
        CallSpec("elbv2", "DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancers", "LoadBalancers"),
        CallSpec("elb", "DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancers",
                 "LoadBalancerDescriptions", note="classic load balancers")),
        vpc=Field("vpc_id"), arn=OWN_ARN,
        listed_by=ListedBy("kind", {"classic": ("elb", "DescribeLoadBalancers")}, ("elbv2", "DescribeLoadBalancers"))),
    ResourceType(LambdaFunction, (
        CallSpec("lambda", "ListFunctions", "lambda:ListFunctions", "Functions",
                 note="VpcConfig is part of each function's configuration",
                 # ListFunctions returns every function's environment variables in clear text
                 # (DB_PASSWORD=...); the names are kept, the values are not.
                 secret_fields=("Functions[].Environment.Variables.*",)),),
        vpc=Field("vpc_id"), arn=OWN_ARN),
)

# -- derived ----------------------------------------------------------------------------

TYPES: dict[str, ResourceType] = {entry.name: entry for entry in REGISTRY}

# Every call collected per (account, region), in the order they run.
CATALOG: tuple[CallSpec, ...] = tuple(c for entry in REGISTRY for c in entry.calls)

# (type, field) -> the calls a field filled in while the model is built needs besides its type's.
FIELD_CALLS: dict[tuple[str, str], tuple[Call, ...]] = {
    (entry.name, name): (call,) for entry in REGISTRY for name, call in entry.filled_by.items()}

# The resource type each per-resource call is made for (its `for_each`).
ITEM_TYPES: dict[Call, str] = {c.call: c.resource_type for c in CATALOG if c.for_each is not None}

# Types listed by more than one call -> the listing a resource of it came from.
KIND_CALLS: dict[str, Callable[[Resource], Call]] = {
    entry.name: entry.listed_by.call_for for entry in REGISTRY if entry.listed_by is not None}

# Type -> the resource segment of its EC2 ARN.
EC2_ARN_TYPES: dict[str, str] = {entry.name: entry.arn for entry in REGISTRY if isinstance(entry.arn, str)}

# Types placed in a VPC through another resource -> how.
PLACED_BY: dict[str, Through] = {entry.name: entry.vpc for entry in REGISTRY if isinstance(entry.vpc, Through)}


def listing(type_name: str) -> CallSpec:
    """The call listing resources of a type (its first call)."""
    return TYPES[type_name].calls[0]
