"""Attribute paths: what a rule may name per resource type, and how each one resolves.

Two kinds of attribute exist per resource type (docs/rule-packs.md):

- **plain**: the dataclass fields of the type (auditor/model/types.py), with nested fields
  of nested dataclasses (``routes[*].target_kind``, ``requester.cidrs``), ``tags`` (a
  mapping) and ``tags.<key>`` (the tag's value; `ABSENT` when the resource has no such
  tag, which is known, not unknown);
- **derived**: named, generic Python functions ``(model, resource) -> Derived`` declared
  with `auditor.rules.derive.derived` in the modules of `auditor.rules.derived`, which list
  them (`DERIVED`), for meaning that needs other resources (the internet gateways attached
  to a VPC, a subnet's effective route table). Paths continue into what they return
  (``route_table.routes[*].target_kind``, ``flow_logs[*].status``).

Every attribute declares the collected calls it depends on (`requires`): for plain fields
the calls that feed its type in the collector's catalog (auditor/collect/catalog.py), plus
the call that fills the field in while the model is built when that is another one; for
derived ones what they declare. `resolve` reports those not collected for the resource's
account and region as `missing`, so a rule can say ERROR, never PASS, on missing data.

A path segment ``name[*]`` maps over a list: the result is one value per element (lists
of lists are flattened). A None met on the way stays None (unknown), never "empty".

What resolving learns about a model (derived values, missing calls, JSON of values) is kept
by the model (`Model.memo`), never in this module.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any
from collections.abc import Callable, Iterable

from auditor.model import registry
from auditor.model.types import RESOURCE_TYPES, Model, Resource, SourceRef
from auditor.rules.derive import NARROW_FIELDS, Call, Derived, DerivedAttribute, listing_sources, own_sources
from auditor.rules.derived import DERIVED
from auditor.rules.operators import ABSENT

TAG_KEY = "<key>"         # stands for any tag key in listed paths: tags.<key>
# Evidence pointers and what a plan or template says of a resource's fields: not data.
_NOT_ATTRIBUTES = frozenset({"source", "also_from", "unknown", "declared_at"})


@dataclass(frozen=True)
class AttributeInfo:
    """One attribute path of a resource type."""

    path: str
    type: str                       # e.g. "list[string]", "route_table | null", "Route"
    doc: str
    requires: tuple[Call, ...]      # collected calls the value depends on
    derived: bool = False


@dataclass(frozen=True)
class Resolved:
    """An attribute path resolved on one resource.

    `value` is the value (model objects as they are: tuples, dataclasses; `ABSENT` for a
    tag the resource does not carry); for a ``[*]`` path it is a tuple with one value per
    element, or None when the list itself is unknown (`many` says which). `missing` names
    the required calls ("ec2:DescribeInternetGateways") not collected for the resource's
    account and region: when it is not empty, the value must not decide anything.
    `unknown` says why values read are known only after deploy (a plan or template's
    "known after apply", `auditor.model.types.UnknownField`): when it is not empty, the
    value must not decide anything either."""

    path: str
    value: Any
    many: bool
    missing: tuple[str, ...]
    sources: tuple[SourceRef, ...]
    unknown: tuple[str, ...] = ()
    why: tuple[str, ...] = ()   # why a derived value read on the way is None, in its analysis' words
    # How the derived values read on the way were decided, whatever they are (`Derived.explain`:
    # e.g. which hop stopped each part of a subnet's traffic, with its explanation code).
    explain: tuple[str, ...] = ()


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


@cache
def _plan(resource_type: str, path: str) -> tuple[AttributeInfo, tuple[_Step, ...], DerivedAttribute | None]:
    """What resolving `path` takes, worked out once per type and path."""
    attribute = attribute_info(resource_type, path)
    steps = tuple(_steps(path))
    return attribute, steps, DERIVED.get((resource_type, steps[0].name))


class _Resolving:
    """What resolving learns about one model, kept by it (`Model.memo`): derived values
    (several rules, and every element of a for_each rule, read the same ones) with the
    evidence pointers they add, and which required calls are missing per account-region."""

    KEY = "auditor.rules.attributes.resolving"

    def __init__(self) -> None:
        # (id of the resource, attribute name) -> (its value, the evidence it adds, the resource).
        # The entry holds the resource, so its id cannot be reused while the entry lives.
        self.derived: dict[tuple[int, str], tuple[Derived[Any], tuple[SourceRef, ...], Resource]] = {}
        # (requires, account, region, (type, id) when a per-resource failure concerns it) -> missing
        self.missing: dict[tuple[tuple[Call, ...], str, str, tuple[str, str] | None], tuple[str, ...]] = {}
        # What is unknown before deploy (a plan's "known after apply"), made when first needed
        # (all empty for a collected snapshot): by record, the marks of each resource read from
        # it at its pointer, and the marks of everything below each pointer prefix; the same
        # marks by (account, region, type). A mark is (reason, the derived attributes it
        # reaches, None: all).
        self.unknown: dict[str, _RecordMarks] | None = None
        self.unknown_by_type: dict[tuple[str, str, str], tuple[_Mark, ...]] = {}
        self.unknown_for: dict[tuple[str, str, tuple[Call, ...], tuple[str, str]], tuple[str, ...]] = {}


_Mark = tuple[str, "frozenset[tuple[str, str]] | None"]

# The resource types each collected call feeds (its listing, or the fields it fills in).
_CALL_TYPES: dict[Call, frozenset[str]] = {}
for _type, _entry in registry.TYPES.items():
    for _call in _entry.base_calls:
        _CALL_TYPES[_call] = _CALL_TYPES.get(_call, frozenset()) | {_type}
for (_type, _), _calls in registry.FIELD_CALLS.items():
    for _call in _calls:
        _CALL_TYPES[_call] = _CALL_TYPES.get(_call, frozenset()) | {_type}


@dataclass
class _RecordMarks:
    at: dict[str, tuple[_Mark, ...]]       # pointer of a resource -> its marks
    below: dict[str, tuple[_Mark, ...]]    # pointer prefix -> the marks of every resource under it


def _unknown_index(model: Model, known: _Resolving) -> dict[str, _RecordMarks]:
    if known.unknown is None:
        at: dict[str, dict[str, list[_Mark]]] = {}
        below: dict[str, dict[str, list[_Mark]]] = {}
        by_type: dict[tuple[str, str, str], list[_Mark]] = {}
        for items in model.resources.values():
            for r in items:
                if not r.unknown:
                    continue
                # NARROW_FIELDS decides which derived values a field reaches (held to the truth by
                # tests/test_property_unknown.py); a reader's `quiet` hint never narrows it further.
                marks = [(u.reason, NARROW_FIELDS.get((r.type_name, u.field))) for u in r.unknown]
                record, pointer = r.source.record, r.source.pointer
                at.setdefault(record, {}).setdefault(pointer, []).extend(marks)
                parts = pointer.split("/")
                for n in range(1, len(parts)):
                    below.setdefault(record, {}).setdefault("/".join(parts[:n]), []).extend(marks)
                by_type.setdefault((r.account, r.region, r.type_name), []).extend(marks)
        known.unknown = {record: _RecordMarks({p: tuple(dict.fromkeys(m)) for p, m in found.items()},
                                              {p: tuple(dict.fromkeys(m)) for p, m in below.get(record, {}).items()})
                         for record, found in at.items()}
        known.unknown_by_type = {k: tuple(dict.fromkeys(v)) for k, v in by_type.items()}
    return known.unknown


def _reaching(marks: Iterable[_Mark], attr: tuple[str, str]) -> list[str]:
    return [why for why, readers in marks if readers is None or attr in readers]


def _unknown_behind(model: Model, known: _Resolving, sources: Iterable[SourceRef], resource: Resource,
                    attr: DerivedAttribute) -> tuple[str, ...]:
    """Why a derived value is unknown before deploy. Conservative, since a derived value may
    read any field of any resource its calls feed, found or not (a path that a wrong route
    would have hidden cites nothing on it): the unknown fields of every resource of the
    resource's account and region whose type the value's `requires` calls feed, and of the
    resources its evidence names elsewhere (or, for evidence that is a whole listing, of any
    resource in that listing); a field of `NARROW_FIELDS` only for the attributes it lists."""
    index = _unknown_index(model, known)
    if not index:
        return ()
    name = (attr.resource_type, attr.name)
    key = (resource.account, resource.region, attr.requires, name)
    found = known.unknown_for.get(key)
    if found is None:
        types = {t for c in attr.requires for t in _CALL_TYPES.get(c, ())}
        found = known.unknown_for[key] = tuple(dict.fromkeys(
            why for t in sorted(types)
            for why in _reaching(known.unknown_by_type.get((resource.account, resource.region, t), ()), name)))
    out = list(found)
    for ref in sources:
        marks = index.get(ref.record)
        if marks is None:
            continue
        p = ref.pointer
        parts = p.split("/")
        for n in range(1, len(parts) + 1):   # the resource itself, or one it is part of
            out.extend(_reaching(marks.at.get("/".join(parts[:n]), ()), name))
        out.extend(_reaching(marks.below.get(p, ()), name))   # a listing: what is in it
    return tuple(dict.fromkeys(out))


def _derived_value(model: Model, known: _Resolving, obj: Resource, attr: DerivedAttribute
                   ) -> tuple[Derived[Any], tuple[SourceRef, ...], Resource]:
    """A derived attribute's value and the evidence pointers it adds (and the resource),
    computed once per resource while the model lives."""
    cache = known.derived
    key = (id(obj), attr.name)
    found = cache.get(key)
    if found is None:
        result = attr.fn(model, obj)
        if len(set(result.explain)) != len(result.explain):   # each line once, in order
            result = dataclasses.replace(result, explain=tuple(dict.fromkeys(result.explain)))
        extra = (*(result.sources or listing_sources(model, obj, attr.requires)), *_sources_in(result.value))
        found = cache[key] = (result, extra, obj)
    return found


# The resource type each per-resource call is made for (catalogue `for_each`).
ITEM_TYPES: dict[Call, str] = registry.ITEM_TYPES


def item_failure(model: Model, resource: Resource, call: Call) -> str | None:
    """Why a per-resource call failed for `resource` itself ("code: message"), else None."""
    if ITEM_TYPES.get(call) != resource.type_name:
        return None
    return model.coverage.failed_for(resource.account, resource.region, *call).get(resource.id)


def _missing(model: Model, known: _Resolving, resource: Resource, requires: tuple[Call, ...]) -> tuple[str, ...]:
    """The required calls not collected for the resource. A per-resource call that failed
    for some resources of an account-region only is missing for those resources (named
    with why), and for every resource of another type that reads it (a value derived
    across resources, e.g. a path through TGW route tables, is incomplete); the others of
    its own type are assessed normally."""
    cache = known.missing
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
    known = model.memo(_Resolving.KEY, _Resolving)
    missing = _missing(model, known, resource, requires)
    if len(steps) == 1 and not steps[0].star:   # the common case: one attribute, no list mapping
        unknown: tuple[str, ...] = ()
        why: tuple[str, ...] = ()
        explain: tuple[str, ...] = ()
        if first is not None:
            result, extra, _ = _derived_value(model, known, resource, first)
            value, why, explain = result.value, result.why, result.explain
        else:
            value = _get(resource, steps[0])
            extra = tuple(_sources_in(value))
        own_refs = own_sources(resource)
        refs_read = tuple(dict.fromkeys((*own_refs, *extra))) if extra else own_refs
        if first is not None:
            unknown = _unknown_behind(model, known, refs_read, resource, first)
        elif resource.unknown and (mark := resource.unknown_reason(steps[0].name)) is not None:
            unknown = (mark,)
        return Resolved(path, value, False, missing, refs_read, unknown, why, explain)
    sources: list[SourceRef] = list(own_sources(resource))
    reasons: list[str] = []
    whys: list[str] = []
    explains: list[str] = []
    current: list[Any] = [resource]
    many = False
    for i, step in enumerate(steps):
        found: list[Any] = []
        for obj in current:
            attr = first if i == 0 else None
            if obj is None:  # unknown stays unknown down the rest of the path
                value = None
            elif attr is not None:
                result, extra, _ = _derived_value(model, known, obj, attr)
                value = result.value
                whys.extend(result.why)
                explains.extend(result.explain)
                sources.extend(extra)
                reasons.extend(_unknown_behind(model, known, (*own_sources(obj), *extra), obj, attr))
            else:
                if isinstance(obj, Resource) and obj.unknown and (mark := obj.unknown_reason(step.name)):
                    reasons.append(mark)
                value = _get(obj, step)
                sources.extend(_sources_in(value))
            if not step.star:
                found.append(value)
            elif value is not None:
                found.extend(value)
            elif not many:  # the list itself is unknown
                return Resolved(path, None, True, missing, tuple(dict.fromkeys(sources)),
                                tuple(dict.fromkeys(reasons)), tuple(dict.fromkeys(whys)),
                                tuple(dict.fromkeys(explains)))
            else:
                found.append(None)
        current = found
        many = many or step.star
    return Resolved(path, tuple(current) if many else current[0], many, missing, tuple(dict.fromkeys(sources)),
                    tuple(dict.fromkeys(reasons)), tuple(dict.fromkeys(whys)), tuple(dict.fromkeys(explains)))


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


_JSON = "auditor.rules.attributes.json"   # Model.memo key: id(value) -> (value, JSON with ABSENT kept)


def json_of(model: Model, resolved: Resolved) -> Any:
    """`to_json(resolved.value, keep_absent=True)`, made once per value object while the
    model lives when the value belongs to the model or to the derived-attribute cache (a
    path of one step without [*]): every rule reading it shares one JSON object, which
    keeps findings small and evaluation fast."""
    value = resolved.value
    if value is None or isinstance(value, (str, bool, int, float)) or resolved.many or "." in resolved.path:
        return to_json(value, keep_absent=True)
    per_model: dict[int, tuple[Any, Any]] = model.memo(_JSON, dict)
    found = per_model.get(id(value))
    if found is None or found[0] is not value:
        found = per_model[id(value)] = (value, to_json(value, keep_absent=True))
    return found[1]
