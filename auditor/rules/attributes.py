"""Attribute paths: what a rule may name per resource type, and how each one resolves.

Two kinds of attribute exist per resource type (docs/rule-packs.md):

- **plain**: the dataclass fields of the type (auditor/model/types.py), with nested fields
  of nested dataclasses (``routes[*].target_kind``, ``requester.cidrs``), ``tags`` (a
  mapping) and ``tags.<key>`` (the tag's value; `ABSENT` when the resource has no such
  tag, which is known, not unknown);
- **derived**: named, generic Python functions ``(model, resource) -> Derived`` registered
  with `@derived`, for meaning that needs other resources (the internet gateways attached
  to a VPC, a subnet's effective route table). Paths continue into what they return
  (``route_table.routes[*].target_kind``, ``flow_logs[*].status``).

Every attribute declares the collected calls it depends on (`requires`): for plain fields
the calls that feed its type in the collector's catalog (auditor/collect/catalog.py), plus
the call that fills the field in while the model is built when that is another one; for
derived ones what they declare. `resolve` reports those not collected for the resource's
account and region as `missing`, so a rule can say ERROR, never PASS, on missing data.

A path segment ``name[*]`` maps over a list: the result is one value per element (lists
of lists are flattened). A None met on the way stays None (unknown), never "empty".
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
import weakref
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar
from collections.abc import Callable, Iterable

from auditor.model import registry
from auditor.model.types import (
    RESOURCE_TYPES, FlowLog, Instance, Model, NatGateway, NetworkInterface, Resource, Route, RouteTable,
    SecurityGroup, SecurityGroupRule, SourceRef, Subnet, Vpc, VpcEndpoint,
)
from auditor.rules.operators import ABSENT

Call = tuple[str, str]  # (service, operation) as in the catalog
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

TAG_KEY = "<key>"         # stands for any tag key in listed paths: tags.<key>
_NOT_ATTRIBUTES = frozenset({"source", "also_from"})  # evidence pointers, not data


@dataclass(frozen=True)
class AttributeInfo:
    """One attribute path of a resource type."""

    path: str
    type: str                       # e.g. "list[string]", "route_table | null", "Route"
    doc: str
    requires: tuple[Call, ...]      # collected calls the value depends on
    derived: bool = False


@dataclass(frozen=True)
class Derived(Generic[T]):
    """What a derived attribute returns: its value and the records that evidence it."""

    value: T
    sources: tuple[SourceRef, ...] = ()


@dataclass(frozen=True)
class DerivedAttribute:
    """A registered derived attribute."""

    resource_type: str
    name: str
    fn: Callable[[Model, Any], Derived[Any]]
    requires: tuple[Call, ...]
    doc: str


@dataclass(frozen=True)
class Resolved:
    """An attribute path resolved on one resource.

    `value` is the value (model objects as they are: tuples, dataclasses; `ABSENT` for a
    tag the resource does not carry); for a ``[*]`` path it is a tuple with one value per
    element, or None when the list itself is unknown (`many` says which). `missing` names
    the required calls ("ec2:DescribeInternetGateways") not collected for the resource's
    account and region: when it is not empty, the value must not decide anything."""

    path: str
    value: Any
    many: bool
    missing: tuple[str, ...]
    sources: tuple[SourceRef, ...]


DERIVED: dict[tuple[str, str], DerivedAttribute] = {}


def derived(resource_type: str, name: str, *, requires: Iterable[Call], doc: str) -> Callable[[F], F]:
    """Register a derived attribute. The function's return annotation, ``Derived[X]``,
    gives its type and the paths that continue into it."""
    def register(fn: F) -> F:
        DERIVED[(resource_type, name)] = DerivedAttribute(resource_type, name, fn, tuple(requires), doc)
        _catalogue.cache_clear()  # registered after a first look-up: list it too
        _plan.cache_clear()
        return fn
    return register


# -- requirements of plain fields ------------------------------------------------------

# Fields that another call fills in while the model is built (auditor/model/build.py):
# they need that call, and the type's other fields do not, so that one failed side call
# only makes the rules reading its fields ERROR. Declared by the registry's `filled_by`.
_FIELD_CALLS: dict[tuple[str, str], tuple[Call, ...]] = registry.FIELD_CALLS


@cache
def _base_calls(type_name: str) -> tuple[Call, ...]:
    """The catalog calls that feed `type_name`, less those only some fields need."""
    entry = registry.TYPES.get(type_name)
    return entry.base_calls if entry is not None else ()


def type_calls(type_name: str) -> tuple[Call, ...]:
    """The calls that list resources of `type_name`: when one was not collected for an
    account-region, none of its resources there is known."""
    return _base_calls(type_name)


def _merge(*groups: Iterable[Call]) -> tuple[Call, ...]:
    return tuple(dict.fromkeys(c for g in groups for c in g))


def field_requires(type_name: str, field: str) -> tuple[Call, ...]:
    """The calls a plain field of `type_name` depends on."""
    return _merge(_base_calls(type_name), _FIELD_CALLS.get((type_name, field), ()))


# -- the catalogue of paths ------------------------------------------------------------

def _optional_inner(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return inner[0] if len(inner) == 1 else hint
    return hint


def type_text(hint: Any) -> str:
    """A type hint as rule authors read it: string, list[Route], route_table | null."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [type_text(a) for a in args if a is not type(None)]
        return " | ".join(inner) + (" | null" if len(inner) < len(args) else "")
    if origin is tuple:
        return f"list[{type_text(args[0])}]"
    if origin is dict:
        return "mapping"
    if hint is Any:
        return "any"
    if isinstance(hint, type):
        if issubclass(hint, Resource):
            return hint.type_name
        names = {str: "string", bool: "boolean", int: "integer", float: "number"}
        return names.get(hint, hint.__name__)
    return str(hint)


def _expand(path: str, hint: Any, requires: tuple[Call, ...], doc: str, is_derived: bool,
            out: dict[str, AttributeInfo]) -> None:
    out[path] = AttributeInfo(path, type_text(hint), doc, requires, is_derived)
    inner = _optional_inner(hint)
    if typing.get_origin(inner) is tuple:
        _expand(f"{path}[*]", typing.get_args(inner)[0], requires, f"each element of {path}", is_derived, out)
    elif isinstance(inner, type) and issubclass(inner, Resource):
        _fields(inner, f"{path}.", requires, is_derived, out)
    elif isinstance(inner, type) and dataclasses.is_dataclass(inner):
        hints = typing.get_type_hints(inner)
        for f in dataclasses.fields(inner):
            if f.name not in _NOT_ATTRIBUTES:
                _expand(f"{path}.{f.name}", hints[f.name], requires, f"{f.name} of {path}", is_derived, out)


def _fields(cls: type[Resource], prefix: str, extra: tuple[Call, ...], is_derived: bool,
            out: dict[str, AttributeInfo]) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in _NOT_ATTRIBUTES:
            continue
        requires = _merge(extra, field_requires(cls.type_name, f.name))
        path = prefix + f.name
        if f.name == "tags":
            out[path] = AttributeInfo(path, "mapping[string, string]", f"the tags of the {cls.type_name}",
                                      requires, is_derived)
            out[f"{path}.{TAG_KEY}"] = AttributeInfo(
                f"{path}.{TAG_KEY}", "string", "the value of tag <key>; absent (known, not unknown) when "
                "the resource has no such tag", requires, is_derived)
        else:
            _expand(path, hints[f.name], requires, f"{f.name} of the {cls.type_name}", is_derived, out)


@cache
def _catalogue(resource_type: str) -> dict[str, AttributeInfo]:
    cls = RESOURCE_TYPES.get(resource_type)
    if cls is None:
        raise KeyError(f"unknown resource type {resource_type!r}; known: {', '.join(sorted(RESOURCE_TYPES))}")
    out: dict[str, AttributeInfo] = {}
    _fields(cls, "", (), False, out)
    for (rtype, name), d in DERIVED.items():
        if rtype == resource_type:
            returns = typing.get_args(typing.get_type_hints(d.fn)["return"])[0]
            _expand(name, returns, d.requires, d.doc, True, out)
    return out


def attribute_paths(resource_type: str) -> dict[str, AttributeInfo]:
    """Every attribute path of the type (``tags.<key>`` stands for any tag key).
    Raises KeyError for an unknown resource type."""
    return dict(_catalogue(resource_type))


def _canonical(path: str) -> str:
    """The listed form of a path: ``a.tags.Name.x`` -> ``a.tags.<key>`` (tag keys may hold dots)."""
    parts = path.split(".")
    for i, part in enumerate(parts[:-1]):
        if part == "tags":
            return ".".join(parts[:i + 1] + [TAG_KEY])
    return path


def attribute_info(resource_type: str, path: str) -> AttributeInfo:
    """The attribute at `path`; KeyError (saying what is close) when there is none."""
    found = _catalogue(resource_type).get(_canonical(path))
    if found is None or not path.strip() or path.endswith("tags."):
        close = suggest(resource_type, path)
        hint = f"; did you mean {close!r}?" if close else ""
        raise KeyError(f"{path!r} is not an attribute path of {resource_type}{hint}")
    return found


def is_known_path(resource_type: str, path: str) -> bool:
    """Whether `path` names an attribute of the type (``[*]`` segments and any
    ``tags.<key>`` accepted). Raises KeyError for an unknown resource type."""
    try:
        attribute_info(resource_type, path)
    except KeyError:
        _catalogue(resource_type)  # an unknown type is the caller's bug: let it raise
        return False
    return True


def suggest(resource_type: str, path: str) -> str | None:
    """The known path closest to `path`, for "did you mean"; None when nothing is close."""
    known = [p for p in _catalogue(resource_type) if not p.endswith(TAG_KEY)]
    close = difflib.get_close_matches(path, known, n=1, cutoff=0.6)
    if not close and "[*]" not in path:
        # "routes.target_kind" means "routes[*].target_kind" more often than anything else.
        starred = [p for p in known if p.replace("[*]", "") == path]
        close = starred[:1]
    return close[0] if close else None


# -- resolving -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Step:
    name: str
    star: bool = False
    tag: str | None = None  # the key, for tags.<key>


def _steps(path: str) -> list[_Step]:
    parts = path.split(".")
    steps = []
    for i, part in enumerate(parts):
        if part == "tags" and i < len(parts) - 1:
            steps.append(_Step("tags", tag=".".join(parts[i + 1:])))
            break
        star = part.endswith("[*]")
        steps.append(_Step(part[:-3] if star else part, star))
    return steps


def own_sources(resource: Resource) -> tuple[SourceRef, ...]:
    return (resource.source, *resource.also_from)


def _sources_in(value: Any) -> list[SourceRef]:
    """The evidence pointers of the model objects in a value (one level into lists)."""
    out: list[SourceRef] = []
    for item in value if isinstance(value, (tuple, list)) else (value,):
        if isinstance(item, Resource):
            out.extend(own_sources(item))
        elif isinstance(getattr(item, "source", None), SourceRef):
            out.append(item.source)
    return out


def _get(obj: Any, step: _Step) -> Any:
    if step.tag is not None:
        value = obj.tag(step.tag)
        return ABSENT if value is None else value
    if step.name == "tags" and isinstance(obj, Resource):
        return obj.tag_map
    return getattr(obj, step.name)


# Types listed by more than one call, one per kind: a resource needs only its own kind's
# listing (the registry's `listed_by`).
_KIND_CALLS: dict[str, Callable[[Resource], Call]] = registry.KIND_CALLS


def _listing_sources(model: Model, resource: Resource, calls: Iterable[Call]) -> list[SourceRef]:
    """The listing records a derived value came from when it names no resource: the
    evidence that what it looked for was looked for (e.g. no internet gateway)."""
    found = (model.coverage.listing(resource.account, resource.region, s, o) for s, o in calls)
    return [SourceRef(path, "/pages") for path in found if path]


@cache
def _plan(resource_type: str, path: str) -> tuple[AttributeInfo, tuple[_Step, ...], DerivedAttribute | None]:
    """What resolving `path` takes, worked out once per type and path."""
    attribute = attribute_info(resource_type, path)
    steps = tuple(_steps(path))
    return attribute, steps, DERIVED.get((resource_type, steps[0].name))


class _PerModel:
    """What resolving learns about one model, kept while it lives: derived values (several
    rules, and every element of a for_each rule, read the same ones) with the evidence
    pointers they add, and which required calls are missing per account-region."""

    def __init__(self) -> None:
        self.derived: dict[tuple[int, str], tuple[Derived[Any], tuple[SourceRef, ...]]] = {}
        # (requires, account, region, (type, id) when a per-resource failure concerns it) -> missing
        self.missing: dict[tuple[tuple[Call, ...], str, str, tuple[str, str] | None], tuple[str, ...]] = {}


_PER_MODEL: dict[int, _PerModel] = {}


def _per_model(model: Model) -> _PerModel:
    found = _PER_MODEL.get(id(model))
    if found is None:
        found = _PER_MODEL[id(model)] = _PerModel()
        weakref.finalize(model, _PER_MODEL.pop, id(model), None)
    return found


def _derived_value(model: Model, obj: Resource, attr: DerivedAttribute) -> tuple[Derived[Any], tuple[SourceRef, ...]]:
    """A derived attribute's value and the evidence pointers it adds, computed once per
    resource while the model lives."""
    cache = _per_model(model).derived
    key = (id(obj), attr.name)
    found = cache.get(key)
    if found is None:
        result = attr.fn(model, obj)
        extra = (*(result.sources or _listing_sources(model, obj, attr.requires)), *_sources_in(result.value))
        found = cache[key] = (result, extra)
    return found


# The resource type each per-resource call is made for (catalogue `for_each`).
ITEM_TYPES: dict[Call, str] = registry.ITEM_TYPES


def item_failure(model: Model, resource: Resource, call: Call) -> str | None:
    """Why a per-resource call failed for `resource` itself ("code: message"), else None."""
    if ITEM_TYPES.get(call) != resource.type_name:
        return None
    return model.coverage.failed_for(resource.account, resource.region, *call).get(resource.id)


def _missing(model: Model, resource: Resource, requires: tuple[Call, ...]) -> tuple[str, ...]:
    """The required calls not collected for the resource. A per-resource call that failed
    for some resources of an account-region only is missing for those resources (named
    with why), and for every resource of another type that reads it (a value derived
    across resources, e.g. a path through TGW route tables, is incomplete); the others of
    its own type are assessed normally."""
    cache = _per_model(model).missing
    account, region = resource.account, resource.region
    items = model.coverage.failed_items
    partial = [c for c in requires if (account, region, *c) in items] if items else []   # rare: keep the hot path lean
    key = (requires, account, region, (resource.type_name, resource.id) if partial else None)
    found = cache.get(key)
    if found is None:
        out = [f"{s}:{o}" for s, o in requires if not model.coverage.collected(account, region, s, o)]
        for call in partial:
            if ITEM_TYPES.get(call) != resource.type_name:
                failed = model.coverage.failed_for(account, region, *call)
                out.append(f"{call[0]}:{call[1]} (failed for {', '.join(sorted(failed))})")
            else:
                why = item_failure(model, resource, call)
                if why is not None:
                    out.append(f"{call[0]}:{call[1]} (failed for this {resource.type_name}: {why})")
        found = cache[key] = tuple(out)
    return found


def resolve(model: Model, resource: Resource, path: str) -> Resolved:
    """Resolve `path` on `resource`. Raises KeyError for an unknown type or path."""
    attribute, steps, first = _plan(resource.type_name, path)
    requires = attribute.requires
    kind_call = _KIND_CALLS.get(resource.type_name)
    if kind_call is not None:  # of the type's listings, only the one this resource came from counts
        own = kind_call(resource)
        listings = set(_base_calls(resource.type_name))
        requires = tuple(c for c in requires if c == own or c not in listings)
    missing = _missing(model, resource, requires)
    if len(steps) == 1 and not steps[0].star:   # the common case: one attribute, no list mapping
        if first is not None:
            result, extra = _derived_value(model, resource, first)
            value = result.value
        else:
            value = _get(resource, steps[0])
            extra = tuple(_sources_in(value))
        own_refs = own_sources(resource)
        return Resolved(path, value, False, missing,
                        tuple(dict.fromkeys((*own_refs, *extra))) if extra else own_refs)
    sources: list[SourceRef] = list(own_sources(resource))
    current: list[Any] = [resource]
    many = False
    for i, step in enumerate(steps):
        found: list[Any] = []
        for obj in current:
            attr = first if i == 0 else None
            if obj is None:  # unknown stays unknown down the rest of the path
                value = None
            elif attr is not None:
                result, extra = _derived_value(model, obj, attr)
                value = result.value
                sources.extend(extra)
            else:
                value = _get(obj, step)
                sources.extend(_sources_in(value))
            if not step.star:
                found.append(value)
            elif value is not None:
                found.extend(value)
            elif not many:  # the list itself is unknown
                return Resolved(path, None, True, missing, tuple(dict.fromkeys(sources)))
            else:
                found.append(None)
        current = found
        many = many or step.star
    return Resolved(path, tuple(current) if many else current[0], many, missing, tuple(dict.fromkeys(sources)))


def to_json(value: Any, keep_absent: bool = False) -> Any:
    """A resolved value as JSON data: model objects become mappings (without their
    evidence pointers), tuples lists, `ABSENT` None (kept with `keep_absent`, for
    operators, which tell absent from unknown)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if value is ABSENT:
        return ABSENT if keep_absent else None
    if isinstance(value, SourceRef):
        return str(value)
    if isinstance(value, Resource):
        out = {f.name: to_json(getattr(value, f.name), keep_absent) for f in dataclasses.fields(value)
               if f.name not in _NOT_ATTRIBUTES}
        out["tags"] = value.tag_map
        return out
    if hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name), keep_absent) for f in dataclasses.fields(value)
                if f.name not in _NOT_ATTRIBUTES}
    if isinstance(value, (tuple, list)):
        return [to_json(v, keep_absent) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v, keep_absent) for k, v in value.items()}
    return value


_JSON: dict[int, dict[int, tuple[Any, Any]]] = {}   # id(model) -> id(value) -> (value, JSON with ABSENT kept)


def json_of(model: Model, resolved: Resolved) -> Any:
    """`to_json(resolved.value, keep_absent=True)`, made once per value object while the
    model lives when the value belongs to the model or to the derived-attribute cache (a
    path of one step without [*]): every rule reading it shares one JSON object, which
    keeps findings small and evaluation fast."""
    value = resolved.value
    if value is None or isinstance(value, (str, bool, int, float)) or resolved.many or "." in resolved.path:
        return to_json(value, keep_absent=True)
    per_model = _JSON.get(id(model))
    if per_model is None:
        per_model = _JSON[id(model)] = {}
        weakref.finalize(model, _JSON.pop, id(model), None)
    found = per_model.get(id(value))
    if found is None or found[0] is not value:
        found = per_model[id(value)] = (value, to_json(value, keep_absent=True))
    return found[1]


# -- indexes for derived attributes ----------------------------------------------------

Index = dict[tuple[str, str, Any], tuple[Resource, ...]]
_INDEXES: dict[int, dict[tuple[str, str], Index]] = {}  # id(model) -> (type, field) -> index


def _index(model: Model, type_name: str, field: str) -> Index:
    """Resources of a type by (account, region, value of `field`), each element of a tuple
    field counting. Kept per model while it lives, so that a derived attribute costs a
    lookup, not a scan of the model, per resource."""
    per_model = _INDEXES.get(id(model))
    if per_model is None:
        per_model = _INDEXES[id(model)] = {}
        weakref.finalize(model, _INDEXES.pop, id(model), None)  # forget it with the model
    found = per_model.get((type_name, field))
    if found is None:
        groups: dict[tuple[str, str, Any], list[Resource]] = {}
        for r in model.of(type_name):
            value = getattr(r, field)
            for v in value if isinstance(value, tuple) else (value,):
                groups.setdefault((r.account, r.region, v), []).append(r)
        found = per_model[(type_name, field)] = {k: tuple(v) for k, v in groups.items()}
    return found


def _related(model: Model, type_name: str, field: str, owner: Resource) -> tuple[Resource, ...]:
    """Resources of `type_name` in the owner's account and region whose `field` names the owner."""
    return _index(model, type_name, field).get((owner.account, owner.region, owner.id), ())


def _refs(items: Iterable[Resource]) -> tuple[SourceRef, ...]:
    return tuple(ref for r in items for ref in own_sources(r))


def _ids(items: tuple[Resource, ...]) -> Derived[tuple[str, ...]]:
    return Derived(tuple(sorted(r.id for r in items)), _refs(items))


def _ec2(*operations: str) -> tuple[Call, ...]:
    return tuple(("ec2", op) for op in operations)


# -- derived attributes: vpc -----------------------------------------------------------

def unseen_route_targets(model: Model, vpc: Vpc, kind: str, type_name: str) -> tuple[Route, ...]:
    """The active routes of the VPC's route tables to a target of `kind` that the model does
    not hold as a `type_name`: AWS routes only to a gateway of the VPC (a route to one that
    is gone turns blackhole), so the VPC has it, but what it is was not collected. A list of
    the VPC's gateways is then unknown when it would otherwise be empty, never "none"."""
    return tuple(r for rt in _related(model, "route_table", "vpc_id", vpc) if isinstance(rt, RouteTable)
                 for r in rt.routes if r.target_kind == kind and r.state != "blackhole"
                 and model.get(type_name, r.target_id, vpc.account, vpc.region) is None)


def _gateway_ids(model: Model, vpc: Vpc, items: tuple[Resource, ...], unseen: tuple[Route, ...]
                 ) -> Derived[tuple[str, ...] | None]:
    if unseen and not items:   # the gateways known are a lower bound: any is enough to fail a rule
        return Derived(None, tuple(r.source for r in unseen if r.source is not None))
    found = _ids(items)
    return Derived(found.value, found.sources)


@derived("vpc", "internet_gateway_ids", requires=_ec2("DescribeInternetGateways"),
         doc="Ids of the internet gateways attached (or attaching) to the VPC, sorted; null when none is "
             "known and a route of the VPC's tables sends traffic to an internet gateway not in the collected data.")
def _vpc_igws(model: Model, vpc: Vpc) -> Derived[tuple[str, ...] | None]:
    return _gateway_ids(model, vpc, _related(model, "internet_gateway", "attached_vpc_ids", vpc),
                        unseen_route_targets(model, vpc, "igw", "internet_gateway"))


@derived("vpc", "egress_only_internet_gateway_ids", requires=_ec2("DescribeEgressOnlyInternetGateways"),
         doc="Ids of the egress-only internet gateways (IPv6 outbound) attached to the VPC, sorted; null when none is "
             "known and a route of the VPC's tables sends traffic to one not in the collected data.")
def _vpc_eigws(model: Model, vpc: Vpc) -> Derived[tuple[str, ...] | None]:
    return _gateway_ids(model, vpc, _related(model, "egress_only_internet_gateway", "attached_vpc_ids", vpc),
                        unseen_route_targets(model, vpc, "eigw", "egress_only_internet_gateway"))


# NAT gateways in these states no longer forward traffic (AWS lists them for about an hour).
_GONE_NAT_STATES = frozenset({"deleting", "deleted", "failed"})


def _nats(model: Model, vpc: Vpc) -> tuple[Resource, ...]:
    return tuple(n for n in _related(model, "nat_gateway", "vpc_id", vpc)
                 if isinstance(n, NatGateway) and n.state.lower() not in _GONE_NAT_STATES)


@derived("vpc", "nat_gateway_ids", requires=_ec2("DescribeNatGateways"),
         doc="Ids of the VPC's NAT gateways, public and private, except deleting, deleted or failed ones; sorted; "
             "null when none is known and a route of the VPC's tables sends traffic to one not in the collected data.")
def _vpc_nats(model: Model, vpc: Vpc) -> Derived[tuple[str, ...] | None]:
    return _gateway_ids(model, vpc, _nats(model, vpc), unseen_route_targets(model, vpc, "nat", "nat_gateway"))


@derived("vpc", "public_nat_gateway_ids", requires=_ec2("DescribeNatGateways"),
         doc="Ids of the VPC's public NAT gateways (connectivity public: they reach the internet), "
             "except deleting, deleted or failed ones; sorted; null when none is known and a route of the "
             "VPC's tables sends traffic to a NAT gateway not in the collected data (public or private is then unknown).")
def _vpc_public_nats(model: Model, vpc: Vpc) -> Derived[tuple[str, ...] | None]:
    return _gateway_ids(model, vpc, tuple(n for n in _nats(model, vpc) if isinstance(n, NatGateway)
                                          and n.connectivity == "public"),
                        unseen_route_targets(model, vpc, "nat", "nat_gateway"))


def _endpoint_services(model: Model, vpc: Vpc, endpoint_type: str) -> Derived[tuple[str, ...]]:
    endpoints = tuple(e for e in _related(model, "vpc_endpoint", "vpc_id", vpc) if isinstance(e, VpcEndpoint)
                      and e.endpoint_type.lower() == endpoint_type and e.state.lower() == "available")
    return Derived(tuple(sorted({e.service for e in endpoints})), _refs(endpoints))


@derived("vpc", "interface_endpoint_services", requires=_ec2("DescribeVpcEndpoints"),
         doc="Short service names (sqs, ecr.api ...) of the VPC's available Interface endpoints, sorted, "
             "without repeats.")
def _vpc_interface_services(model: Model, vpc: Vpc) -> Derived[tuple[str, ...]]:
    return _endpoint_services(model, vpc, "interface")


@derived("vpc", "gateway_endpoint_services", requires=_ec2("DescribeVpcEndpoints"),
         doc="Short service names (s3, dynamodb) of the VPC's available Gateway endpoints, sorted, without repeats.")
def _vpc_gateway_services(model: Model, vpc: Vpc) -> Derived[tuple[str, ...]]:
    return _endpoint_services(model, vpc, "gateway")


@derived("vpc", "flow_logs", requires=_ec2("DescribeFlowLogs"),
         doc="The flow logs attached to the VPC itself (not those of its subnets or interfaces).")
def _vpc_flow_logs(model: Model, vpc: Vpc) -> Derived[tuple[FlowLog, ...]]:
    logs = tuple(f for f in _related(model, "flow_log", "resource_id", vpc) if isinstance(f, FlowLog))
    return Derived(logs, _refs(logs))


@derived("vpc", "flow_log_traffic_types", requires=_ec2("DescribeFlowLogs"),
         doc="Traffic types (ALL, ACCEPT, REJECT) of the VPC's ACTIVE flow logs, sorted, without repeats.")
def _vpc_flow_log_types(model: Model, vpc: Vpc) -> Derived[tuple[str, ...]]:
    logs = tuple(f for f in _related(model, "flow_log", "resource_id", vpc)
                 if isinstance(f, FlowLog) and f.status.upper() == "ACTIVE")
    return Derived(tuple(sorted({f.traffic_type for f in logs})), _refs(logs))


@derived("vpc", "subnet_ids", requires=_ec2("DescribeSubnets"), doc="Ids of the VPC's subnets, sorted.")
def _vpc_subnets(model: Model, vpc: Vpc) -> Derived[tuple[str, ...]]:
    return _ids(_related(model, "subnet", "vpc_id", vpc))


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
    by a VPC endpoint as its own (emulators describe endpoint interfaces as plain ones)."""
    endpoint_enis = _index(model, "vpc_endpoint", "network_interface_ids")
    return [e for e in _related(model, "network_interface", "subnet_id", subnet)
            if isinstance(e, NetworkInterface) and is_workload_interface(e)
            and (e.account, e.region, e.id) not in endpoint_enis]


@derived("vpc", "workload_availability_zones", requires=_ec2("DescribeSubnets", "DescribeNetworkInterfaces"),
         doc="Availability zones of the VPC's subnets that hold at least one workload network interface "
             "(anything but NAT gateway, VPC endpoint and transit gateway interfaces), sorted.")
def _vpc_workload_azs(model: Model, vpc: Vpc) -> Derived[tuple[str, ...]]:
    zones: set[str] = set()
    evidence: list[Resource] = []
    for subnet in _related(model, "subnet", "vpc_id", vpc):
        if not isinstance(subnet, Subnet):
            continue
        workloads = workload_interfaces(model, subnet)
        if workloads:
            zones.add(subnet.availability_zone)
            evidence += [subnet, *workloads]
    return Derived(tuple(sorted(zones)), _refs(evidence))


# -- derived attributes: subnet --------------------------------------------------------

def _route_table(model: Model, subnet: Subnet) -> RouteTable | None:
    if subnet.route_table_id is None:
        return None
    rt = model.get("route_table", subnet.route_table_id, subnet.account, subnet.region)
    return rt if isinstance(rt, RouteTable) else None


@derived("subnet", "route_table", requires=_ec2("DescribeRouteTables"),
         doc="The subnet's effective route table: its explicit association, else its VPC's main table; "
             "null when unknown.")
def _subnet_route_table(model: Model, subnet: Subnet) -> Derived[RouteTable | None]:
    rt = _route_table(model, subnet)
    return Derived(rt, own_sources(rt) if rt else ())


@derived("subnet", "routes", requires=_ec2("DescribeRouteTables"),
         doc="The routes of the subnet's effective route table; null when the table is unknown.")
def _subnet_routes(model: Model, subnet: Subnet) -> Derived[tuple[Route, ...] | None]:
    rt = _route_table(model, subnet)
    return Derived(rt.routes if rt else None, (rt.source,) if rt else ())


@derived("subnet", "internet_gateway_routes", requires=_ec2("DescribeRouteTables"),
         doc="The routes of the subnet's effective route table whose target is an internet gateway "
             "(active or blackhole: test routes[*].state to tell); null when the table is unknown.")
def _subnet_igw_routes(model: Model, subnet: Subnet) -> Derived[tuple[Route, ...] | None]:
    rt = _route_table(model, subnet)
    if rt is None:
        return Derived(None)
    routes = tuple(r for r in rt.routes if r.target_kind == "igw")
    return Derived(routes, (rt.source,))


@derived("subnet", "has_explicit_route_table", requires=_ec2("DescribeRouteTables"),
         doc="Whether a route table is explicitly associated with the subnet (false: it uses its VPC's "
             "main table); null when unknown.")
def _subnet_explicit(model: Model, subnet: Subnet) -> Derived[bool | None]:
    answer = {"explicit": True, "main": False}.get(subnet.route_table_association)
    rt = _route_table(model, subnet)
    return Derived(answer, own_sources(rt) if rt else ())


# -- derived attributes: security_group ------------------------------------------------

def _sg_rules(model: Model, sg: SecurityGroup) -> tuple[SecurityGroupRule, ...]:
    return tuple(r for r in _related(model, "security_group_rule", "group_id", sg)
                 if isinstance(r, SecurityGroupRule))


@derived("security_group", "rules", requires=_ec2("DescribeSecurityGroupRules"),
         doc="The group's rules, ingress and egress, by rule id.")
def _sg_all_rules(model: Model, sg: SecurityGroup) -> Derived[tuple[SecurityGroupRule, ...]]:
    rules = _sg_rules(model, sg)
    return Derived(rules, _refs(rules))


@derived("security_group", "ingress_rules", requires=_ec2("DescribeSecurityGroupRules"),
         doc="The group's ingress (inbound) rules, by rule id.")
def _sg_ingress(model: Model, sg: SecurityGroup) -> Derived[tuple[SecurityGroupRule, ...]]:
    rules = tuple(r for r in _sg_rules(model, sg) if not r.is_egress)
    return Derived(rules, _refs(rules))


@derived("security_group", "egress_rules", requires=_ec2("DescribeSecurityGroupRules"),
         doc="The group's egress (outbound) rules, by rule id.")
def _sg_egress(model: Model, sg: SecurityGroup) -> Derived[tuple[SecurityGroupRule, ...]]:
    rules = tuple(r for r in _sg_rules(model, sg) if r.is_egress)
    return Derived(rules, _refs(rules))


@derived("security_group_rule", "port_range", requires=_ec2("DescribeSecurityGroupRules"),
         doc="The rule's ports as {from, to, protocol} for ports_overlap (no ports, as for protocol -1, "
             "means all ports; ICMP rules open none).")
def _sgr_ports(model: Model, rule: SecurityGroupRule) -> Derived[dict[str, Any]]:
    return Derived({"from": rule.from_port, "to": rule.to_port, "protocol": rule.protocol})


# -- derived attributes: instance, network_interface, vpc_endpoint -----------------------

@derived("instance", "has_public_ip", requires=_ec2("DescribeInstances", "DescribeNetworkInterfaces"),
         doc="Whether the instance has a public IPv4 address (auto-assigned or Elastic IP) on any of its "
             "network interfaces.")
def _instance_public(model: Model, instance: Instance) -> Derived[bool]:
    enis = [e for e in _related(model, "network_interface", "instance_id", instance)
            if isinstance(e, NetworkInterface) and e.public_ips]
    return Derived(bool(instance.public_ip) or bool(enis), _refs(enis))


@derived("network_interface", "has_public_ip", requires=_ec2("DescribeNetworkInterfaces"),
         doc="Whether the interface has a public IPv4 address (auto-assigned or Elastic IP).")
def _eni_public(model: Model, eni: NetworkInterface) -> Derived[bool]:
    return Derived(bool(eni.public_ips))


@derived("vpc_endpoint", "subnet_availability_zones", requires=_ec2("DescribeVpcEndpoints", "DescribeSubnets"),
         doc="Availability zones of the endpoint's subnets, sorted, without repeats (empty for Gateway "
             "endpoints); null when one of its subnets is not in the model.")
def _vpce_azs(model: Model, endpoint: VpcEndpoint) -> Derived[tuple[str, ...] | None]:
    subnets = [model.get("subnet", s, endpoint.account, endpoint.region) for s in endpoint.subnet_ids]
    known = [s for s in subnets if isinstance(s, Subnet)]
    if len(known) < len(subnets):
        return Derived(None, _refs(known))
    return Derived(tuple(sorted({s.availability_zone for s in known})), _refs(known))


# Derived attributes of the built-in packs, by area (they register themselves on import).
import auditor.rules.derived  # noqa: E402,F401
