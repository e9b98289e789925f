"""Typed, immutable resources of the network model.

Normalisers (auditor/model/normalise.py) change shape, never judge: every field here is
what AWS said, renamed and typed, plus links resolved from other calls (for example a
subnet's effective route table). `None` means "AWS did not say" (or the call that says it
failed), never "false". Every resource points back to the snapshot record it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from collections.abc import Callable, Hashable, Mapping

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where in the snapshot a value came from: record file and JSON pointer inside it."""

    record: str   # e.g. records/111111111111/us-east-1/ec2/DescribeVpcs.json
    pointer: str  # e.g. /pages/0/Vpcs/2

    def __str__(self) -> str:
        return f"{self.record}#{self.pointer}"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a Terraform plan or CloudFormation template declares a resource (model sources
    other than a collected snapshot, auditor/iac/): the file as given, the resource's address
    (``module.net.aws_subnet.app["a"]``, or a template's logical id), the line of its
    declaration when the source has lines, and the line of each model field's value there."""

    kind: str                 # terraform-plan | cloudformation
    file: str
    address: str
    line: int | None = None
    attributes: tuple[tuple[str, int], ...] = ()   # model field -> line

    def line_of(self, field_name: str) -> int | None:
        """The line of a model field's value, else the declaration's."""
        return dict(self.attributes).get(field_name, self.line)


@dataclass(frozen=True, slots=True)
class UnknownField:
    """A model field whose value is known only once deployed ("known after apply"): any rule
    reading it is ERROR with `reason`, never PASS or FAIL, and so is every derived value that
    may read it (which ones: `auditor.rules.derive.NARROW_FIELDS`, else all those the field's
    calls feed). `propagates` is the reader's own view (False: "no analyzer reads this"); the
    derived seam decides, and tests/test_iac_*.py check that the two agree."""

    field: str
    reason: str
    propagates: bool = True


@dataclass(frozen=True)
class Resource:
    """Common fields. `type_name` is the rule-pack resource type."""

    type_name: ClassVar[str] = "resource"
    id: str
    account: str
    region: str
    source: SourceRef
    tags: Tags = ()
    also_from: tuple[SourceRef, ...] = ()  # further records that contributed fields
    # Set only for resources read from a plan or template (auditor/iac/, see build_model):
    unknown: tuple[UnknownField, ...] = ()  # fields known only after deploy
    declared_at: Origin | None = None       # where the plan or template declares it

    def unknown_reason(self, field_name: str) -> str | None:
        """Why the field is unknown (known only after deploy), else None."""
        for u in self.unknown:
            if u.field == field_name:
                return u.reason
        return None

    def tag(self, key: str) -> str | None:
        return dict(self.tags).get(key)

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)


@dataclass(frozen=True)
class Vpc(Resource):
    type_name: ClassVar[str] = "vpc"
    cidr_blocks: tuple[str, ...] = ()
    ipv6_cidr_blocks: tuple[str, ...] = ()
    is_default: bool = False
    state: str = ""
    owner_id: str = ""
    dns_support: bool | None = None
    dns_hostnames: bool | None = None


@dataclass(frozen=True)
class Subnet(Resource):
    type_name: ClassVar[str] = "subnet"
    vpc_id: str = ""
    cidr: str = ""
    ipv6_cidrs: tuple[str, ...] = ()
    availability_zone: str = ""
    availability_zone_id: str = ""
    map_public_ip_on_launch: bool | None = None
    assign_ipv6_on_creation: bool | None = None
    route_table_id: str | None = None          # effective table
    route_table_association: str = "unknown"   # explicit | main | unknown


@dataclass(frozen=True)
class Route:
    """One route, with its target normalised to (kind, id)."""

    destination: str                 # CIDR or prefix-list id, as AWS gave it
    destination_kind: str            # ipv4 | ipv6 | prefix_list
    destination_cidrs: tuple[str, ...] | None  # resolved CIDRs; None when the prefix list is unknown
    target_kind: str                 # local igw eigw nat tgw pcx vgw instance eni vpce gwlbe carrier lgw core_network odb route_server unknown
    target_id: str
    state: str                       # active | blackhole
    origin: str = ""
    source: SourceRef | None = None


@dataclass(frozen=True)
class RouteTable(Resource):
    type_name: ClassVar[str] = "route_table"
    vpc_id: str = ""
    is_main: bool = False
    subnet_ids: tuple[str, ...] = ()          # explicit associations
    gateway_ids: tuple[str, ...] = ()         # edge associations (IGW/VGW ingress routing)
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class InternetGateway(Resource):
    type_name: ClassVar[str] = "internet_gateway"
    attached_vpc_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class EgressOnlyInternetGateway(Resource):
    type_name: ClassVar[str] = "egress_only_internet_gateway"
    attached_vpc_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class NatGateway(Resource):
    type_name: ClassVar[str] = "nat_gateway"
    vpc_id: str = ""
    subnet_id: str = ""
    connectivity: str = "public"   # AWS's default when ConnectivityType is absent
    state: str = ""
    public_ips: tuple[str, ...] = ()
    network_interface_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ElasticIp(Resource):
    type_name: ClassVar[str] = "elastic_ip"
    public_ip: str = ""
    domain: str = ""
    instance_id: str | None = None
    network_interface_id: str | None = None
    association_id: str | None = None


@dataclass(frozen=True)
class NetworkInterface(Resource):
    type_name: ClassVar[str] = "network_interface"
    vpc_id: str = ""
    subnet_id: str = ""
    interface_type: str = ""
    description: str = ""
    private_ips: tuple[str, ...] = ()
    public_ips: tuple[str, ...] = ()
    ipv6_addresses: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    instance_id: str | None = None
    requester_managed: bool = False
    source_dest_check: bool | None = None


@dataclass(frozen=True)
class Instance(Resource):
    type_name: ClassVar[str] = "instance"
    vpc_id: str = ""
    subnet_id: str = ""
    state: str = ""
    private_ip: str = ""
    public_ip: str | None = None
    ipv6_addresses: tuple[str, ...] = ()
    network_interface_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    source_dest_check: bool | None = None


@dataclass(frozen=True)
class SecurityGroup(Resource):
    type_name: ClassVar[str] = "security_group"
    vpc_id: str = ""
    name: str = ""
    description: str = ""

    @property
    def is_default(self) -> bool:
        return self.name == "default"


@dataclass(frozen=True)
class SecurityGroupRule(Resource):
    type_name: ClassVar[str] = "security_group_rule"
    group_id: str = ""
    is_egress: bool = False
    protocol: str = "-1"
    from_port: int | None = None
    to_port: int | None = None
    cidr_ipv4: str | None = None
    cidr_ipv6: str | None = None
    prefix_list_id: str | None = None
    referenced_group_id: str | None = None
    description: str = ""


@dataclass(frozen=True)
class NaclEntry:
    rule_number: int
    egress: bool
    protocol: str
    action: str
    cidr: str | None
    ipv6_cidr: str | None
    from_port: int | None
    to_port: int | None


@dataclass(frozen=True)
class NetworkAcl(Resource):
    type_name: ClassVar[str] = "network_acl"
    vpc_id: str = ""
    is_default: bool = False
    subnet_ids: tuple[str, ...] = ()
    entries: tuple[NaclEntry, ...] = ()


@dataclass(frozen=True)
class VpcEndpoint(Resource):
    type_name: ClassVar[str] = "vpc_endpoint"
    vpc_id: str = ""
    service_name: str = ""
    service: str = ""               # short name, e.g. ecr.api
    endpoint_type: str = ""         # Interface | Gateway | GatewayLoadBalancer | ...
    state: str = ""
    private_dns_enabled: bool | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    route_table_ids: tuple[str, ...] = ()
    network_interface_ids: tuple[str, ...] = ()
    policy_document: str | None = None   # exactly as AWS returned it
    policy: Any = None                   # parsed JSON, None when absent or unparseable
    policy_error: str | None = None      # why it could not be parsed


@dataclass(frozen=True)
class VpcEndpointService(Resource):
    type_name: ClassVar[str] = "vpc_endpoint_service"
    service_name: str = ""
    service_types: tuple[str, ...] = ()
    availability_zones: tuple[str, ...] = ()
    owner: str = ""
    policy_supported: bool | None = None
    private_dns_name: str | None = None


@dataclass(frozen=True)
class FlowLog(Resource):
    type_name: ClassVar[str] = "flow_log"
    resource_id: str = ""
    traffic_type: str = ""
    status: str = ""
    destination_type: str = ""
    destination: str = ""
    log_format: str = ""


@dataclass(frozen=True)
class PeeringSide:
    vpc_id: str
    account: str
    region: str
    cidrs: tuple[str, ...]
    ipv6_cidrs: tuple[str, ...]


@dataclass(frozen=True)
class VpcPeering(Resource):
    type_name: ClassVar[str] = "vpc_peering"
    status: str = ""
    requester: PeeringSide | None = None
    accepter: PeeringSide | None = None


@dataclass(frozen=True)
class CarrierGateway(Resource):
    type_name: ClassVar[str] = "carrier_gateway"
    vpc_id: str = ""
    state: str = ""


@dataclass(frozen=True)
class VpnGateway(Resource):
    type_name: ClassVar[str] = "vpn_gateway"
    attached_vpc_ids: tuple[str, ...] = ()
    state: str = ""


@dataclass(frozen=True)
class TransitGateway(Resource):
    type_name: ClassVar[str] = "transit_gateway"
    owner_id: str = ""
    state: str = ""
    auto_accept_shared_attachments: str = ""
    default_association_route_table_id: str | None = None
    default_propagation_route_table_id: str | None = None


@dataclass(frozen=True)
class TransitGatewayAttachment(Resource):
    type_name: ClassVar[str] = "transit_gateway_attachment"
    transit_gateway_id: str = ""
    resource_type: str = ""        # vpc | vpn | direct-connect-gateway | peering | connect ...
    resource_id: str = ""
    resource_owner: str = ""
    state: str = ""
    associated_route_table_id: str | None = None
    subnet_ids: tuple[str, ...] | None = None   # VPC attachments only; None when unknown


@dataclass(frozen=True)
class TgwRoute:
    destination: str
    destination_cidrs: tuple[str, ...] | None
    route_type: str                 # static | propagated
    state: str                      # active | blackhole
    attachment_ids: tuple[str, ...]
    source: SourceRef | None = None


@dataclass(frozen=True)
class TransitGatewayRouteTable(Resource):
    type_name: ClassVar[str] = "transit_gateway_route_table"
    transit_gateway_id: str = ""
    is_default_association: bool = False
    is_default_propagation: bool = False
    routes: tuple[TgwRoute, ...] | None = None          # None when the routes were not collected
    associated_attachment_ids: tuple[str, ...] | None = None
    propagating_attachment_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PrefixList(Resource):
    type_name: ClassVar[str] = "prefix_list"
    name: str = ""
    owner_id: str = ""
    address_family: str = ""
    cidrs: tuple[str, ...] | None = None    # None when the entries were not collected


@dataclass(frozen=True)
class BlockPublicAccess(Resource):
    """VPC Block Public Access options of one account-region (id = region)."""

    type_name: ClassVar[str] = "vpc_block_public_access"
    internet_gateway_block_mode: str = ""
    exclusions_allowed: str = ""
    state: str = ""


@dataclass(frozen=True)
class BlockPublicAccessExclusion(Resource):
    type_name: ClassVar[str] = "vpc_block_public_access_exclusion"
    mode: str = ""
    resource_arn: str = ""
    state: str = ""


@dataclass(frozen=True)
class EksCluster(Resource):
    type_name: ClassVar[str] = "eks_cluster"
    arn: str = ""
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    endpoint_public_access: bool | None = None
    endpoint_private_access: bool | None = None
    public_access_cidrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class DbInstance(Resource):
    type_name: ClassVar[str] = "db_instance"
    arn: str = ""
    engine: str = ""
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    publicly_accessible: bool | None = None
    security_group_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadBalancer(Resource):
    type_name: ClassVar[str] = "load_balancer"
    arn: str = ""
    name: str = ""
    kind: str = ""                 # application | network | gateway | classic
    scheme: str | None = None
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class LambdaFunction(Resource):
    type_name: ClassVar[str] = "lambda_function"
    arn: str = ""
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()


def _subclasses(base: type[Resource]) -> list[type[Resource]]:
    return [c for sub in base.__subclasses__() for c in (sub, *_subclasses(sub))]


# Every resource class above, by type name, in the order defined. Each has its entry in the
# resource registry (auditor/model/registry.py; tests/test_registry.py checks it).
RESOURCE_TYPES: dict[str, type[Resource]] = {cls.type_name: cls for cls in _subclasses(Resource)
                                             if "type_name" in vars(cls)}


@dataclass(frozen=True)
class Coverage:
    """Which calls succeeded per (account, region): rules use it to say ERROR, never PASS,
    when the data they need was not collected."""

    ok: frozenset[tuple[str, str, str, str]] = frozenset()
    failed: tuple[tuple[tuple[str, str, str, str], str], ...] = ()  # key -> "code: message"
    # The record file of each successful listing call (one without parameters): the evidence
    # that something was looked for, e.g. that an account-region has no internet gateway.
    listings: Mapping[tuple[str, str, str, str], str] = field(default_factory=dict)
    # Per-resource calls (catalogue `for_each`: eks DescribeCluster per cluster, ec2
    # DescribeVpcAttribute per VPC ...) that failed for some resources while their listing
    # succeeded: key -> {resource id: "code: message"}. Such a call is in `ok` (collected for
    # every other resource of its type there); these resources are the exceptions.
    failed_items: Mapping[tuple[str, str, str, str], Mapping[str, str]] = field(default_factory=dict)

    def failed_for(self, account: str, region: str, service: str, operation: str) -> Mapping[str, str]:
        """The resources a per-resource call failed for in an account-region, with why."""
        return self.failed_items.get((account, region, service, operation), {})

    def listing(self, account: str, region: str, service: str, operation: str) -> str | None:
        return self.listings.get((account, region, service, operation))

    def collected(self, account: str, region: str, service: str, operation: str) -> bool:
        # `ok` never holds a call that also failed (build_model removes them), so a set
        # lookup suffices; rules ask this once per attribute per resource.
        return (account, region, service, operation) in self.ok


@dataclass(frozen=True)
class TrafficRun:
    """The run's traffic setting (config ``costs.traffic``, the manifest's ``costs``): the
    window the bytes were read over, ISO 8601 UTC."""

    window_days: int
    start: str
    end: str


@dataclass(frozen=True)
class Measurement:
    """One query's answer of the optional traffic call (auditor/model/metrics.py): the sum of
    every value CloudWatch returned for one metric of one resource over the window; None
    when it returned no value (unknown, never zero). `status` is CloudWatch's StatusCode for
    the query ("" when the answer does not name it)."""

    account: str
    region: str
    resource_type: str      # nat_gateway | vpc_endpoint
    resource_id: str
    metric: str
    value: int | None
    status: str
    source: SourceRef


_T = TypeVar("_T")


@dataclass(frozen=True)
class Model:
    """All resources by type, plus coverage. Built only by `auditor.model.build_model`.

    What analyses compute from a model (indexes, derived values, analyzer state) is kept
    by the model itself through `memo`: it lives and dies with its model, and two models,
    even equal ones, never share it."""

    resources: dict[str, tuple[Resource, ...]] = field(default_factory=dict)
    coverage: Coverage = field(default_factory=Coverage)
    # The optional traffic (costs.traffic): the run's setting (None: not collected) and what
    # GetMetricData answered, per query. Read through `auditor.costs.traffic`, never by rules.
    traffic: TrafficRun | None = None
    measurements: tuple[Measurement, ...] = ()
    _index: dict[tuple[str, str], tuple[Resource, ...]] = field(default_factory=dict, compare=False, repr=False)
    # The caches of `memo`: not part of the value (not compared, not shown, not an argument).
    _memo: dict[Hashable, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], list[Resource]] = {}
        for type_name, items in self.resources.items():
            for r in items:
                index.setdefault((type_name, r.id), []).append(r)
        object.__setattr__(self, "_index", {k: tuple(v) for k, v in index.items()})

    def of(self, type_name: str) -> tuple[Resource, ...]:
        return self.resources.get(type_name, ())

    def get(self, type_name: str, resource_id: str, account: str | None = None,
            region: str | None = None) -> Resource | None:
        """The resource of that type and id (ids of names such as EKS clusters repeat
        across accounts and regions: give account and region to pick one)."""
        for r in self._index.get((type_name, resource_id), ()):
            if (account is None or r.account == account) and (region is None or r.region == region):
                return r
        return None

    def memo(self, key: Hashable, make: Callable[[], _T]) -> _T:
        """The value kept for this model under `key`, made by ``make()`` the first time it
        is asked for. The model is immutable, so whatever is computed from it alone may be
        kept as long as it lives. Keys name their owner, e.g. ``"auditor.rules.derive.indexes"``;
        one key always holds values of one type. A kept value must not refer back to the
        model (hold a `weakref` to it instead), so that the model is freed as soon as it is
        dropped, without waiting for the cyclic garbage collector."""
        try:
            found: _T = self._memo[key]
        except KeyError:
            found = self._memo[key] = make()
        return found

    def counts(self) -> dict[tuple[str, str, str], int]:
        """(account, region, type) -> number of resources."""
        out: dict[tuple[str, str, str], int] = {}
        for type_name, items in self.resources.items():
            for r in items:
                key = (r.account, r.region, type_name)
                out[key] = out.get(key, 0) + 1
        return out
