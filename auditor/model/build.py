"""Build the linked network model from call records (no AWS access).

First every record goes through its normaliser; then the linking pass joins what several
calls say about one resource: VPC DNS attributes, prefix-list entries, transit gateway
routes and associations, the subnets of TGW VPC attachments, and each subnet's effective
route table (its explicit association, else the main table *of its own VPC*; unknown when a
route table of that VPC that an endpoint names is missing from the listing).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from types import MappingProxyType
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from auditor.callspec import Call
from auditor.model.metrics import TRAFFIC, parse_time
from auditor.model.normalise import MEASURES, NORMALISERS, items, record_path
from auditor.model.registry import CATALOG
from auditor.model.types import (
    Coverage, EksCluster, LambdaFunction, Measurement, Model, Origin, PrefixList, Resource, Route, RouteTable,
    SourceRef, Subnet, TgwRoute, TrafficRun, UnknownField, VpcEndpoint,
)
from auditor.snapshot.records import CallRecord

Key = tuple[str, str, str]  # account, region, id
# (service, operation) of each listing that per-resource calls run over -> its items keys
_SOURCES: dict[tuple[str, str], tuple[str, ...]] = {}
for _spec in CATALOG:
    if _spec.for_each is not None:
        _k = (_spec.service, _spec.for_each.source)
        _SOURCES[_k] = tuple(dict.fromkeys(_SOURCES.get(_k, ()) + (_spec.for_each.items_key,)))


# (service, operation) of each per-resource call -> the listing it runs over
_SOURCE_OF: dict[tuple[str, str], str] = {(s.service, s.operation): s.for_each.source
                                          for s in CATALOG if s.for_each is not None}


def _item_id(rec: CallRecord) -> str:
    """The resource a per-resource call was made for (its VpcId, name, ...); "" for any
    other call, and for a per-resource call not made for one resource (e.g. "not attempted"
    because its listing failed)."""
    if (rec.service, rec.operation) not in _SOURCE_OF or not rec.params:
        return ""
    # Every catalogue per-resource call names its resource by one `...Id` or `name` parameter.
    found = [str(v) for k, v in sorted(rec.params.items()) if isinstance(v, str) and (k.endswith("Id") or k == "name")]
    return found[0] if len(found) == 1 else ""


class _Side:
    """What per-resource calls add, keyed by (account, region, resource id)."""

    def __init__(self) -> None:
        self.dns: dict[Key, dict[str, Any]] = defaultdict(dict)
        self.dns_refs: dict[Key, list[SourceRef]] = defaultdict(list)
        self.pl_entries: dict[Key, tuple[tuple[str, ...], SourceRef]] = {}
        self.tgw_routes: dict[Key, tuple[tuple[TgwRoute, ...], SourceRef]] = {}
        self.tgw_assoc: dict[Key, tuple[tuple[str, ...], SourceRef]] = {}
        self.tgw_prop: dict[Key, tuple[tuple[str, ...], SourceRef]] = {}
        self.vpc_attachment_subnets: dict[Key, tuple[tuple[str, ...], SourceRef]] = {}


SideHandler = Callable[[CallRecord, str, _Side], None]
# The calls that complete resources of a type instead of producing their own (the fields
# they fill are their registry entry's `filled_by`), each with what it adds to `_Side`.
SIDE_HANDLERS: dict[Call, SideHandler] = {}


def _side_call(service: str, operation: str) -> Callable[[SideHandler], SideHandler]:
    def register(fn: SideHandler) -> SideHandler:
        SIDE_HANDLERS[(service, operation)] = fn
        return fn
    return register


def _key_of(rec: CallRecord, param: str) -> Key:
    return (rec.account, rec.region, str(rec.params.get(param, "")))


@_side_call("ec2", "DescribeVpcAttribute")
def _vpc_attribute(rec: CallRecord, path: str, side: _Side) -> None:
    for page in rec.pages:
        for attr, field in (("EnableDnsSupport", "dns_support"), ("EnableDnsHostnames", "dns_hostnames")):
            if attr in page:
                side.dns[_key_of(rec, "VpcId")][field] = bool((page[attr] or {}).get("Value"))
    side.dns_refs[_key_of(rec, "VpcId")].append(SourceRef(path, "/pages"))


@_side_call("ec2", "GetManagedPrefixListEntries")
def _prefix_list_entries(rec: CallRecord, path: str, side: _Side) -> None:
    side.pl_entries[_key_of(rec, "PrefixListId")] = (
        tuple(e["Cidr"] for e in rec.items("Entries") if e.get("Cidr")), SourceRef(path, "/pages"))


@_side_call("ec2", "SearchTransitGatewayRoutes")
def _tgw_routes(rec: CallRecord, path: str, side: _Side) -> None:
    routes = []
    for raw, ref in items(rec, "Routes", path):
        dest = raw.get("DestinationCidrBlock") or raw.get("PrefixListId", "")
        attachments = tuple(a["TransitGatewayAttachmentId"] for a in raw.get("TransitGatewayAttachments", [])
                            if a.get("TransitGatewayAttachmentId"))
        routes.append(TgwRoute(destination=dest,
                               destination_cidrs=(dest,) if raw.get("DestinationCidrBlock") else None,
                               route_type=raw.get("Type", ""), state=raw.get("State", ""),
                               attachment_ids=attachments, source=ref))
    side.tgw_routes[_key_of(rec, "TransitGatewayRouteTableId")] = (tuple(routes), SourceRef(path, "/pages"))


@_side_call("ec2", "GetTransitGatewayRouteTableAssociations")
def _tgw_associations(rec: CallRecord, path: str, side: _Side) -> None:
    side.tgw_assoc[_key_of(rec, "TransitGatewayRouteTableId")] = (
        tuple(a["TransitGatewayAttachmentId"] for a in rec.items("Associations")
              if a.get("State", "associated") == "associated"), SourceRef(path, "/pages"))


@_side_call("ec2", "GetTransitGatewayRouteTablePropagations")
def _tgw_propagations(rec: CallRecord, path: str, side: _Side) -> None:
    side.tgw_prop[_key_of(rec, "TransitGatewayRouteTableId")] = (
        tuple(a["TransitGatewayAttachmentId"] for a in rec.items("TransitGatewayRouteTablePropagations")
              if a.get("State", "enabled") == "enabled"), SourceRef(path, "/pages"))


@_side_call("ec2", "DescribeTransitGatewayVpcAttachments")
def _tgw_vpc_attachments(rec: CallRecord, path: str, side: _Side) -> None:
    for raw, ref in items(rec, "TransitGatewayVpcAttachments", path):
        side.vpc_attachment_subnets[(rec.account, rec.region, raw["TransitGatewayAttachmentId"])] = (
            tuple(raw.get("SubnetIds", [])), ref)


def _side_record(rec: CallRecord, path: str, side: _Side) -> None:
    """Fold a call that produces no resource of its own into `side` (a listing that only
    says what per-resource calls run over, e.g. eks ListClusters, adds nothing)."""
    handler = SIDE_HANDLERS.get((rec.service, rec.operation))
    if rec.ok and handler is not None:
        handler(rec, path, side)


# -- resources read from a plan or template -----------------------------------------------
#
# Records written from a Terraform plan or CloudFormation template (auditor/iac/) hold AWS's
# response shapes like collected ones. Each page of theirs carries PLAN_PAGE (true), and each
# item in it ITEM_SOURCE: {"kind", "file", "address", "line", "attributes": {field: line},
# "unknown": {field: reason}, "quiet": [field, ...]} (fields are model fields; "quiet" ones the
# reader believes no analyzer reads: `UnknownField.propagates`). The resources read from such an item get
# its `declared_at` and `unknown` here; nothing else in the model tells the sources apart.
PLAN_PAGE = "AuditorPlan"
ITEM_SOURCE = "AuditorSource"


def _declarations(rec: CallRecord) -> dict[str, Mapping[str, Any]]:
    """JSON pointer of each item of a plan page that carries ITEM_SOURCE -> that mapping."""
    out: dict[str, Mapping[str, Any]] = {}
    for p, page in enumerate(rec.pages):
        if page.get(PLAN_PAGE) is not True:
            continue
        stack: list[tuple[str, Any]] = [(f"/pages/{p}", page)]
        while stack:
            pointer, node = stack.pop()
            if isinstance(node, dict):
                declared = node.get(ITEM_SOURCE)
                if declared is not None:
                    if not isinstance(declared, dict):
                        raise ValueError(f"{pointer}/{ITEM_SOURCE} is not an object")
                    out[pointer] = declared
                stack.extend((f"{pointer}/{k}", v) for k, v in node.items()
                             if k != ITEM_SOURCE and isinstance(v, (dict, list)))
            else:
                stack.extend((f"{pointer}/{i}", v) for i, v in enumerate(node) if isinstance(v, (dict, list)))
    return out


def _int_or_none(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{ITEM_SOURCE} {what} is not a line number: {value!r}")
    return value


def _declared(resource: Resource, declared: Mapping[str, Any]) -> Resource:
    """The resource with the origin and unknown fields its plan item declares."""
    attributes = declared.get("attributes") or {}
    unknown = declared.get("unknown") or {}
    quiet = declared.get("quiet") or []
    if not isinstance(attributes, dict) or not isinstance(unknown, dict) or not isinstance(quiet, list):
        raise ValueError(f"{ITEM_SOURCE} of {resource.id}: attributes and unknown are objects, quiet a list")
    fields = {f.name for f in dataclasses.fields(resource)}
    for name in (*unknown, *quiet):
        if name not in fields:   # a mark on no field would be lost: the value would pass as known
            raise ValueError(f"{ITEM_SOURCE} of {resource.id}: {name!r} is not a field of {resource.type_name}")
    origin = Origin(kind=str(declared.get("kind", "")), file=str(declared.get("file", "")),
                    address=str(declared.get("address", "")), line=_int_or_none(declared.get("line"), "line"),
                    attributes=tuple(sorted((str(k), _int_or_none(v, str(k)) or 0) for k, v in attributes.items())))
    marks = tuple(UnknownField(str(k), str(v), k not in quiet) for k, v in sorted(unknown.items()))
    return dataclasses.replace(resource, declared_at=origin, unknown=marks)


def _with(r: Resource, extra: Iterable[SourceRef] = (), **changes: Any) -> Resource:
    refs = tuple(extra)
    if refs:
        changes["also_from"] = r.also_from + refs
    return dataclasses.replace(r, **changes) if changes else r


def _link(by_type: dict[str, list[Resource]], side: _Side) -> None:
    def k(r: Resource) -> Key:
        return (r.account, r.region, r.id)

    by_type["vpc"] = [_with(v, side.dns_refs.get(k(v), ()), **side.dns.get(k(v), {})) for v in by_type["vpc"]]

    pls: dict[Key, Resource] = {}
    for pl in by_type["prefix_list"]:
        entries = side.pl_entries.get(k(pl))
        pls[k(pl)] = _with(pl, (entries[1],), cidrs=entries[0]) if entries else pl
    by_type["prefix_list"] = list(pls.values())

    gwlbe = {k(e) for e in by_type["vpc_endpoint"] if isinstance(e, VpcEndpoint)
             and e.endpoint_type == "GatewayLoadBalancer"}
    tables: list[RouteTable] = []
    for rt in by_type["route_table"]:
        assert isinstance(rt, RouteTable)
        routes: list[Route] = []
        for route in rt.routes:
            if route.destination_kind == "prefix_list":
                found_pl = pls.get((rt.account, rt.region, route.destination))
                cidrs = found_pl.cidrs if isinstance(found_pl, PrefixList) else None
                route = dataclasses.replace(route, destination_cidrs=cidrs)
            if route.target_kind == "vpce" and (rt.account, rt.region, route.target_id) in gwlbe:
                route = dataclasses.replace(route, target_kind="gwlbe")
            routes.append(route)
        tables.append(dataclasses.replace(rt, routes=tuple(routes)))
    by_type["route_table"] = [*tables]

    explicit: dict[Key, str] = {}
    main: dict[Key, str] = {}
    for rt in tables:
        for sid in rt.subnet_ids:
            explicit[(rt.account, rt.region, sid)] = rt.id
        if rt.is_main:
            main[(rt.account, rt.region, rt.vpc_id)] = rt.id
    # A route table that a gateway endpoint names but the listing lacks may hold explicit subnet
    # associations: in its VPC, a subnet with none known may be one of them (its main table
    # is then not its table), so its effective table is unknown, never guessed.
    listed = {k(rt) for rt in tables}
    unlisted = {(e.account, e.region, e.vpc_id) for e in by_type["vpc_endpoint"] if isinstance(e, VpcEndpoint)
                for rid in e.route_table_ids if (e.account, e.region, rid) not in listed}
    subnets = []
    for sn in by_type["subnet"]:
        assert isinstance(sn, Subnet)
        if k(sn) in explicit:
            sn = dataclasses.replace(sn, route_table_id=explicit[k(sn)], route_table_association="explicit")
        elif (sn.account, sn.region, sn.vpc_id) in main and (sn.account, sn.region, sn.vpc_id) not in unlisted:
            sn = dataclasses.replace(sn, route_table_id=main[(sn.account, sn.region, sn.vpc_id)],
                                     route_table_association="main")
        subnets.append(sn)
    by_type["subnet"] = [*subnets]
    subnet_vpc = {k(s): s.vpc_id for s in subnets}

    tgw_rts = []
    for t in by_type["transit_gateway_route_table"]:
        tgw_routes, assoc, prop = side.tgw_routes.get(k(t)), side.tgw_assoc.get(k(t)), side.tgw_prop.get(k(t))
        refs = [x[1] for x in (tgw_routes, assoc, prop) if x]
        tgw_rts.append(_with(t, refs, routes=tgw_routes[0] if tgw_routes else None,
                             associated_attachment_ids=assoc[0] if assoc else None,
                             propagating_attachment_ids=prop[0] if prop else None))
    by_type["transit_gateway_route_table"] = tgw_rts
    atts = []
    for a in by_type["transit_gateway_attachment"]:
        found = side.vpc_attachment_subnets.get(k(a))
        atts.append(_with(a, (found[1],), subnet_ids=found[0]) if found else a)
    by_type["transit_gateway_attachment"] = atts

    # EKS (no vpcId in some emulators) and Lambda: the VPC of a resource placed in subnets is
    # the subnets' VPC; we take it from the subnets when they are known, as AWS guarantees.
    for type_name in ("eks_cluster", "lambda_function"):
        fixed: list[Resource] = []
        for r in by_type[type_name]:
            assert isinstance(r, (EksCluster, LambdaFunction))
            vpcs = {subnet_vpc.get((r.account, r.region, s)) for s in r.subnet_ids} - {None}
            fixed.append(dataclasses.replace(r, vpc_id=vpcs.pop()) if len(vpcs) == 1 else r)
        by_type[type_name] = [*fixed]


def traffic_run(costs: Any) -> TrafficRun | None:
    """The run's traffic setting from a manifest's ``costs`` section (None: traffic was not
    collected, or the section is not one the collector writes)."""
    if not isinstance(costs, Mapping) or costs.get("traffic") is not True:
        return None
    days, start, end = costs.get("window_days"), costs.get("window_start"), costs.get("window_end")
    if isinstance(days, bool) or not isinstance(days, int) or not isinstance(start, str) or not isinstance(end, str):
        return None
    return TrafficRun(days, start, end)


def _traffic_of_records(records: Iterable[CallRecord]) -> TrafficRun | None:
    """The traffic setting the records show: the window of a traffic call (None: none was recorded)."""
    for rec in records:
        if (rec.service, rec.operation) == TRAFFIC.call and isinstance(rec.params.get("StartTime"), str) \
                and isinstance(rec.params.get("EndTime"), str):
            start, end = str(rec.params["StartTime"]), str(rec.params["EndTime"])
            try:
                days = int((parse_time(end) - parse_time(start)).total_seconds() // 86400)
            except ValueError:
                continue
            return TrafficRun(days, start, end)
    return None


def build_model(records: Iterable[CallRecord], files: Mapping[str, str] | None = None, *,
                costs: Mapping[str, Any] | None = None) -> Model:
    """The model of everything in `records` (pass the manifest's ``files`` to point at
    ``.json.gz`` record files). Deterministic: resources sorted by account, region, id.

    `costs`: the manifest's ``costs`` section, which says whether the run collected traffic
    (`Model.traffic`); without it, the records' traffic calls say so (none: not collected)."""
    by_type: dict[str, list[Resource]] = defaultdict(list)
    side = _Side()
    ok: set[tuple[str, str, str, str]] = set()
    failed: dict[tuple[str, str, str, str], str] = {}
    listings: dict[tuple[str, str, str, str], str] = {}
    empty: dict[tuple[str, str, str], set[tuple[str, str]]] = {}   # source listings that listed nothing
    item_failed: dict[tuple[str, str, str, str], dict[str, str]] = {}   # per-resource calls failed per resource
    measurements: list[Measurement] = []
    # Record order differs between a live run and a loaded snapshot; sort for determinism.
    records = sorted(records, key=lambda r: r.record_id)
    for rec in records:
        key = (rec.account, rec.region, rec.service, rec.operation)
        item = _item_id(rec)
        if rec.ok:
            ok.add(key)
        elif item:   # one resource's own call: only that resource is unknown (see below)
            assert rec.error is not None
            item_failed.setdefault(key, {}).setdefault(item, f"{rec.error.code}: {rec.error.message}")
        else:
            assert rec.error is not None
            failed.setdefault(key, f"{rec.error.code}: {rec.error.message}")
        path = record_path(rec, files)
        if rec.ok and not rec.params:
            listings[key] = path
            for items_key in _SOURCES.get((rec.service, rec.operation), ()):
                if not rec.items(items_key):
                    empty.setdefault((rec.service, rec.operation, items_key), set()).add((rec.account, rec.region))
        fn = NORMALISERS.get((rec.service, rec.operation))
        measure = MEASURES.get((rec.service, rec.operation))
        if measure is not None:   # pages received before an error are kept, as for resources
            measurements.extend(measure(rec, path))
        elif fn is not None:
            declared = _declarations(rec) if any(PLAN_PAGE in page for page in rec.pages) else {}
            # Pages received before an error are real data: keep them (coverage says failed).
            for resource in fn(rec, path):
                if declared and resource.source.pointer in declared:
                    resource = _declared(resource, declared[resource.source.pointer])
                by_type[resource.type_name].append(resource)
        else:
            _side_record(rec, path, side)
    # A per-resource call (DescribeCluster per cluster ...) whose source listing succeeded
    # and listed nothing is collected all the same: there was nothing to ask.
    for spec in CATALOG:
        if spec.for_each is not None:
            for a, r in empty.get((spec.service, spec.for_each.source, spec.for_each.items_key), ()):
                key = (a, r, spec.service, spec.operation)
                if key not in failed:
                    ok.add(key)
    # A per-resource call that failed for some resources only is collected for the others
    # when its listing succeeded: one denied cluster does not make its neighbours unknown.
    # Without that listing nothing says which resources there are: the whole call failed.
    for key, items_failed in item_failed.items():
        a, r, service, _ = key
        source = _SOURCE_OF.get((service, key[3]))
        if key not in failed and source is not None and (a, r, service, source) in ok:
            ok.add(key)
        else:
            failed.setdefault(key, next(iter(items_failed.values())))
    _link(by_type, side)
    resources = {t: tuple(sorted(v, key=lambda r: (r.account, r.region, r.id))) for t, v in sorted(by_type.items()) if v}
    return Model(resources=resources,
                 coverage=Coverage(ok=frozenset(ok - set(failed)), failed=tuple(sorted(failed.items())),
                                   failed_items=MappingProxyType({k: MappingProxyType(dict(sorted(v.items())))
                                                                  for k, v in sorted(item_failed.items())
                                                                  if k not in failed}),
                                   listings=MappingProxyType({k: v for k, v in listings.items() if k not in failed})),
                 traffic=traffic_run(costs) if costs is not None else _traffic_of_records(records),
                 measurements=tuple(sorted(measurements, key=lambda m: (m.account, m.region, m.resource_type,
                                                                         m.resource_id, m.metric, m.source.record))))
