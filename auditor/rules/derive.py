"""The seam for derived attributes and the analyzers behind them: everything a module in
`auditor.rules.derived` may use besides the model and the analyzers themselves.

A derived attribute is a named, generic function ``(model, resource) -> Derived[X]`` for
meaning that needs other resources (the internet gateways attached to a VPC, a subnet's
effective route table, the paths out of a subnet). Rules read it by name like a field,
and paths continue into what it returns (``route_table.routes[*].target_kind``); the
return annotation ``Derived[X]`` gives its type to the catalogue of paths
(`auditor.rules.attributes`), which generates the docs from the name, type, doc and
requires declared here.

Adding one: write the function in a module of `auditor/rules/derived/`, decorate it with
`derived`, and list it in that module's ``ATTRIBUTES`` tuple; the package builds the
registry from those tuples (`auditor.rules.derived.DERIVED`). Nothing registers itself on
import.

Conventions: a value that cannot be known from the model is None (unknown, so a rule
reading it gives ERROR, never PASS); `requires` names every collected call the value
depends on, the resource's own listing call included; the `sources` of the returned
`Derived` are the records that evidence the value (`refs` of the resources it read). When
there are none, resolution falls back to the listing records of the required calls
(`listing_sources`), the evidence that what was looked for was looked for.

Whatever is worth keeping per model (indexes, analyzer state) is kept by the model itself:
``model.memo(key, make)`` (`auditor.model.types.Model.memo`), so it dies with its model and
two models never share it. No module-level caches keyed by ``id()``.

This module imports only the model: the derived modules import it, and
`auditor.rules.attributes` imports them, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar
from collections.abc import Callable, Iterable, Mapping

from auditor.model.types import (
    RESOURCE_TYPES, Model, NatGateway, NetworkInterface, Resource, Route, RouteTable, SecurityGroup, SecurityGroupRule, SourceRef,
    Subnet, Vpc,
)

__all__ = [
    "Call", "Derived", "DerivedAttribute", "Index", "derived", "registry", "ec2", "own_sources", "refs", "ids",
    "index", "related", "listing_sources", "route_table", "sg_rules", "active_nat_gateways", "unseen_route_targets",
    "unseen_why",
    "is_workload_interface", "workload_interfaces", "NARROW_FIELDS",
]

Call = tuple[str, str]  # (service, operation) as in the collector's catalog
T = TypeVar("T")

# Fields that only some derived attributes read, with those attributes ((type, name)): such a
# field unknown before deploy (a plan's "known after apply") makes only these unknown. Any
# other unknown field makes every derived value its calls feed unknown (auditor/rules/
# attributes.py). tests/test_property_unknown.py holds this list to the truth: a wrong value of
# a listed field, marked unknown, changes no verdict but to ERROR.
NARROW_FIELDS: Mapping[tuple[str, str], frozenset[tuple[str, str]]] = MappingProxyType({
    ("subnet", "availability_zone"): frozenset({
        ("vpc", "workload_availability_zones"), ("vpc_endpoint", "subnet_availability_zones"),
        ("vpc_endpoint", "vpc_workload_availability_zones"), ("vpc_endpoint", "missing_workload_availability_zones"),
        ("vpc_endpoint", "availability_zone_count")}),
    # An endpoint's policy: read only by the policy analysis' attributes.
    **{("vpc_endpoint", f): frozenset({("vpc_endpoint", a) for a in (
        "effective_policy", "policy_is_default_full_access", "policy_allow_not_elements", "policy_principals",
        "policy_actions", "policy_resources", "policy_unmodelled_conditions")} | {("eks_cluster", "endpoint_policies")})
       for f in ("policy_document", "policy", "policy_error")},
    # Read by no derived attribute (only by rules naming them): the values AWS picks at deploy
    # that plans and templates leave unknown most often.
    ("subnet", "availability_zone_id"): frozenset(),
    ("vpc_endpoint", "network_interface_ids"): frozenset(),
    ("instance", "private_ip"): frozenset(),
    ("network_interface", "private_ips"): frozenset(),
    ("flow_log", "destination"): frozenset(),
    ("eks_cluster", "security_group_ids"): frozenset(),
    ("load_balancer", "arn"): frozenset(),
    ("load_balancer", "name"): frozenset(),
    # Tags decide scope (a VPC's tags: auditor/rules/scope.py makes scope undecided when they are
    # unknown) and waivers (unknown tags match no waiver: FAIL, never WAIVED), never a derived value.
    **{(type_name, "tags"): frozenset() for type_name in RESOURCE_TYPES},
})


@dataclass(frozen=True)
class Derived(Generic[T]):
    """What a derived attribute returns: its value and the records that evidence it."""

    value: T
    sources: tuple[SourceRef, ...] = ()
    why: tuple[str, ...] = ()   # when `value` is None (unknown): why, in the analysis' words
    # How the analysis decided the value, one line each, whatever the value: for the paths,
    # each path's explanation codes, and for "no path", where every part of the traffic
    # stopped and why (auditor/analyze/explain.py). Findings show it with the evidence.
    explain: tuple[str, ...] = ()


@dataclass(frozen=True)
class DerivedAttribute:
    """A derived attribute: the attribute `name` of resources of `resource_type`, computed by
    `fn`, depending on the collected calls `requires`, described by `doc` (one sentence or
    more, ending with a full stop: it is the attribute's documentation)."""

    resource_type: str
    name: str
    fn: Callable[[Model, Any], Derived[Any]]
    requires: tuple[Call, ...]
    doc: str

    def __call__(self, model: Model, resource: Any) -> Derived[Any]:
        return self.fn(model, resource)


def derived(resource_type: str, name: str, *, requires: Iterable[Call], doc: str
            ) -> Callable[[Callable[[Model, Any], Derived[Any]]], DerivedAttribute]:
    """Declare a derived attribute: the decorated function becomes a `DerivedAttribute`
    (still callable as the function). It is registered only by being listed in its
    module's ``ATTRIBUTES``. The function's return annotation, ``Derived[X]``, gives the
    attribute's type and the paths that continue into it."""
    def declare(fn: Callable[[Model, Any], Derived[Any]]) -> DerivedAttribute:
        return DerivedAttribute(resource_type, name, fn, tuple(requires), doc)
    return declare


def registry(*groups: Iterable[DerivedAttribute]) -> Mapping[tuple[str, str], DerivedAttribute]:
    """(resource type, name) -> attribute, in the order given, read-only. Raises ValueError
    when two attributes of a type share a name."""
    out: dict[tuple[str, str], DerivedAttribute] = {}
    for group in groups:
        for attribute in group:
            key = (attribute.resource_type, attribute.name)
            if key in out:
                raise ValueError(f"derived attribute {key[0]}.{key[1]} is declared twice "
                                 f"({out[key].fn.__module__} and {attribute.fn.__module__})")
            out[key] = attribute
    return MappingProxyType(out)


def ec2(*operations: str) -> tuple[Call, ...]:
    """The EC2 calls of these operations, for `requires`: ``ec2("DescribeSubnets")``."""
    return tuple(("ec2", op) for op in operations)


# -- evidence --------------------------------------------------------------------------

def own_sources(resource: Resource) -> tuple[SourceRef, ...]:
    """The records a resource was read from: its listing first, then the calls that added to it."""
    return (resource.source, *resource.also_from)


def refs(items: Iterable[Resource]) -> tuple[SourceRef, ...]:
    """The records of every resource in `items`, in order (`own_sources` of each)."""
    return tuple(ref for r in items for ref in own_sources(r))


def ids(items: tuple[Resource, ...]) -> Derived[tuple[str, ...]]:
    """The resources' ids, sorted, evidenced by their records."""
    return Derived(tuple(sorted(r.id for r in items)), refs(items))


def listing_sources(model: Model, resource: Resource, calls: Iterable[Call]) -> list[SourceRef]:
    """The listing records of `calls` in the resource's account and region: the evidence of
    a derived value that names no resource, that what it looked for was looked for (e.g. no
    internet gateway)."""
    found = (model.coverage.listing(resource.account, resource.region, s, o) for s, o in calls)
    return [SourceRef(path, "/pages") for path in found if path]


# -- related resources -----------------------------------------------------------------

Index = dict[tuple[str, str, Any], tuple[Resource, ...]]
_INDEXES = "auditor.rules.derive.indexes"   # Model.memo key: (type, field) -> Index


def index(model: Model, type_name: str, field: str) -> Index:
    """Resources of a type by (account, region, value of `field`), each element of a tuple
    field counting, in model order. Made once per model and field and kept by the model, so
    that a derived attribute costs a lookup, not a scan of the model, per resource."""
    indexes: dict[tuple[str, str], Index] = model.memo(_INDEXES, dict)
    found = indexes.get((type_name, field))
    if found is None:
        groups: dict[tuple[str, str, Any], list[Resource]] = {}
        for r in model.of(type_name):
            value = getattr(r, field)
            for v in value if isinstance(value, tuple) else (value,):
                groups.setdefault((r.account, r.region, v), []).append(r)
        found = indexes[(type_name, field)] = {k: tuple(v) for k, v in groups.items()}
    return found


def related(model: Model, type_name: str, field: str, owner: Resource) -> tuple[Resource, ...]:
    """Resources of `type_name` in the owner's account and region whose `field` names the
    owner's id (e.g. ``related(model, "subnet", "vpc_id", vpc)``: the VPC's subnets)."""
    return index(model, type_name, field).get((owner.account, owner.region, owner.id), ())


def route_table(model: Model, subnet: Subnet) -> RouteTable | None:
    """The subnet's effective route table (its explicit association, else its VPC's main
    table); None when unknown."""
    if subnet.route_table_id is None:
        return None
    rt = model.get("route_table", subnet.route_table_id, subnet.account, subnet.region)
    return rt if isinstance(rt, RouteTable) else None


def sg_rules(model: Model, sg: SecurityGroup) -> tuple[SecurityGroupRule, ...]:
    """The security group's rules, ingress and egress, in model order."""
    return tuple(r for r in related(model, "security_group_rule", "group_id", sg)
                 if isinstance(r, SecurityGroupRule))


# NAT gateways in these states no longer forward traffic (AWS lists them for about an hour).
_GONE_NAT_STATES = frozenset({"deleting", "deleted", "failed"})


def active_nat_gateways(model: Model, vpc: Vpc) -> tuple[NatGateway, ...]:
    """The VPC's NAT gateways, public and private, except deleting, deleted or failed ones."""
    return tuple(n for n in related(model, "nat_gateway", "vpc_id", vpc)
                 if isinstance(n, NatGateway) and n.state.lower() not in _GONE_NAT_STATES)


def unseen_route_targets(model: Model, vpc: Vpc, kind: str, type_name: str) -> tuple[Route, ...]:
    """The active routes of the VPC's route tables to a target of `kind` that the model does
    not hold as a `type_name`: AWS routes only to a gateway of the VPC (a route to one that
    is gone turns blackhole), so the VPC has it, but what it is was not collected. A list of
    the VPC's gateways is then unknown when it would otherwise be empty, never "none"."""
    return tuple(r for rt in related(model, "route_table", "vpc_id", vpc) if isinstance(rt, RouteTable)
                 for r in rt.routes if r.target_kind == kind and r.state != "blackhole"
                 and model.get(type_name, r.target_id, vpc.account, vpc.region) is None)


def unseen_why(routes: tuple[Route, ...]) -> tuple[str, ...]:
    """Why a list of gateways is unknown: the routes to targets the model does not hold."""
    return tuple(dict.fromkeys(f"a route to {r.destination} names {r.target_id}, which is not in the model"
                               for r in routes))


# -- workloads -------------------------------------------------------------------------

# Interfaces that are network plumbing, not workloads: by type as AWS reports it, and by
# the descriptions AWS gives them (emulators report every interface as "interface").
_PLUMBING_TYPES = frozenset({"nat_gateway", "vpc_endpoint", "gateway_load_balancer_endpoint",
                             "gateway_load_balancer", "transit_gateway"})
_PLUMBING_DESCRIPTIONS = ("VPC Endpoint Interface ", "Interface for NAT Gateway ",
                          "Network Interface for Transit Gateway Attachment ")


def is_workload_interface(eni: NetworkInterface) -> bool:
    """Whether a network interface belongs to a workload (not a NAT, endpoint or TGW), by
    what the interface says of itself (see `workload_interfaces` for the full test)."""
    return eni.interface_type not in _PLUMBING_TYPES and not eni.description.startswith(_PLUMBING_DESCRIPTIONS)


def workload_interfaces(model: Model, subnet: Subnet) -> list[NetworkInterface]:
    """The subnet's workload interfaces: not plumbing by type or description, and not listed
    by a VPC endpoint as its own (emulators describe endpoint interfaces as plain ones, and
    an endpoint is not a client of itself)."""
    endpoint_enis = index(model, "vpc_endpoint", "network_interface_ids")
    return [e for e in related(model, "network_interface", "subnet_id", subnet)
            if isinstance(e, NetworkInterface) and is_workload_interface(e)
            and (e.account, e.region, e.id) not in endpoint_enis]

