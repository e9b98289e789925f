"""Lay a plan or template over a collected snapshot: the model of what will be deployed.

For each account-region both hold, the plan answers the calls it covers (`COVERED`):

- a snapshot resource whose id the plan's items carry (it updates, replaces or re-states
  it), or that `PlanSource.replaces` names (deleted, replaced, updated), is dropped from the
  snapshot's listing and the plan's items are added as the plan's own page (marked
  `PLAN_PAGE`, each item `ITEM_SOURCE`, so the model knows where it is declared and what is
  unknown before deploy). The snapshot's pages are otherwise kept as they were, in their
  order, the plan's page after them: a kept item keeps its page;
- per-resource answers (DescribeVpcAttribute per VPC, SearchTransitGatewayRoutes per TGW
  route table, DescribeCluster per EKS cluster ...) likewise: the snapshot's answers for
  dropped resources go, the plan's are added;
- a route table the plan declares in a deployed VPC (one the plan does not declare) gets
  the local routes AWS gives it, from the VPC's CIDR blocks in the snapshot, when the
  reader could not write them;
- AWS allows one explicit route table and one network ACL per subnet, one main route table
  per VPC and one route table per gateway edge association: an association the plan makes
  takes the subnet, VPC or gateway off the snapshot's tables and ACLs that held it;
- a snapshot listing that *failed* stays failed (its error kept: what is deployed there is
  unknown, so the rules needing it stay ERROR), with the plan's items added; a covered
  call the snapshot holds no record of is recorded the same way (failed, "not in the
  snapshot"), never as the plan's word alone.

Everything else comes from the snapshot unchanged: the calls the plan does not cover
(`NOT_COVERED`: the endpoint service catalogue, Block Public Access ...), the resources the
plan neither declares nor deletes (an existing transit gateway a new subnet routes to), and
every account-region the plan does not touch. Account-regions the plan touches that the
snapshot lacks get the plan's records as they are, and `Overlaid.plan_only` names them.

Item ids come from the model's own normalisers (`auditor.model.normalise`): the overlay
drops exactly the resources the model would have built from the dropped items.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

from auditor.callspec import Call, CallSpec
from auditor.iac.base import COVERED, PLAN_PAGE, PlanSource
from auditor.model.normalise import NORMALISERS
from auditor.model.registry import CATALOG, ITEM_TYPES
from auditor.model.types import Vpc
from auditor.snapshot.records import DISCOVERY_REGION, GLOBAL_REGION, CallError, CallRecord

__all__ = ["Overlaid", "lay_over", "overlay"]

Where = tuple[str, str]              # account, region
ResKey = tuple[str, str]             # model type, id
_SPECS: dict[Call, CallSpec] = {s.call: s for s in CATALOG}
_COVERED = frozenset(COVERED)
# Listings folded into the model by the build's linking step rather than a normaliser: the
# type and the id field of their items (a TGW VPC attachment's subnets; EKS cluster names).
_SIDE_LISTINGS: dict[Call, tuple[str, str]] = {
    ("ec2", "DescribeTransitGatewayVpcAttachments"): ("transit_gateway_attachment", "TransitGatewayAttachmentId"),
    ("eks", "ListClusters"): ("eks_cluster", ""),     # the items are the names themselves
}
# Resources listed apart that are parts of another (AWS describes a security group's rules
# in the group's own IpPermissions): a part whose whole the plan deletes or replaces (and
# does not declare again under the same id) goes with it.
_PARTS: dict[Call, tuple[str, str]] = {
    ("ec2", "DescribeSecurityGroupRules"): ("GroupId", "security_group"),
}


@dataclass(frozen=True)
class Overlaid:
    """What laying a plan over a snapshot gives.

    `records`: the snapshot's records with the plan laid over them, sorted by record id;
    `plan_only`: the plan's account-regions the snapshot holds nothing of (their records
    are the plan's alone: there the plan is the whole estate); `dropped`: the snapshot
    resources (account, region, model type, id) the plan replaces, updates or deletes;
    `notes`: what the caller should show (the account-regions above, an account the snapshot
    does not hold ...)."""

    records: tuple[CallRecord, ...]
    plan_only: tuple[Where, ...] = ()
    dropped: tuple[tuple[str, str, str, str], ...] = ()
    notes: tuple[str, ...] = ()


def overlay(snapshot_records: Sequence[CallRecord], source: PlanSource) -> tuple[CallRecord, ...]:
    """The snapshot's records with the plan laid over them (`lay_over(...).records`)."""
    return lay_over(snapshot_records, source).records


def _regional(rec: CallRecord) -> bool:
    return rec.region not in (GLOBAL_REGION, DISCOVERY_REGION)


def _call(rec: CallRecord) -> Call:
    return (rec.service, rec.operation)


def _item_id(rec: CallRecord) -> str:
    """The resource a per-resource call was made for (its one ``...Id`` or ``name`` string
    parameter, as the model build reads it); "" when it names none."""
    found = [str(v) for k, v in sorted(rec.params.items()) if isinstance(v, str) and (k.endswith("Id") or k == "name")]
    return found[0] if len(found) == 1 else ""


def _item_keys(rec: CallRecord, item: Any) -> set[ResKey]:
    """The model (type, id) of each resource one listing item gives (an instance reservation
    gives its instances). Empty when the item gives none the model would build."""
    call = _call(rec)
    if call in _SIDE_LISTINGS:
        type_name, key = _SIDE_LISTINGS[call]
        if not key:
            return {(type_name, str(item))} if isinstance(item, str) else set()
        return {(type_name, str(item[key]))} if isinstance(item, Mapping) and item.get(key) else set()
    fn = NORMALISERS.get(call)
    spec = _SPECS.get(call)
    if fn is None or spec is None:
        return set()
    probe = CallRecord(rec.account, rec.region, rec.service, rec.operation, {}, ({spec.items_key: [item]},))
    try:
        return {(r.type_name, r.id) for r in fn(probe, "")}
    except (KeyError, TypeError, AttributeError, ValueError):
        return set()   # an item the model cannot read either: left as it is (the build says why)


def _record_keys(rec: CallRecord) -> set[ResKey]:
    """Every model resource a record of the plan declares."""
    call = _call(rec)
    spec = _SPECS.get(call)
    if spec is None:
        return set()
    if spec.for_each is not None:
        item = _item_id(rec)
        if call == ("eks", "DescribeCluster") and item:
            return {(ITEM_TYPES[call], item)}
        return set()
    out: set[ResKey] = set()
    for item in rec.items(spec.items_key):
        if call == ("ec2", "DescribeInstances") and isinstance(item, Mapping):
            for inst in item.get("Instances") or ():
                out |= _item_keys(rec, {**item, "Instances": [inst]})
        else:
            out |= _item_keys(rec, item)
    return out


_CLAIMED = frozenset({("ec2", "DescribeRouteTables"), ("ec2", "DescribeNetworkAcls")})


@dataclass
class _Claims:
    """What the plan's associations take from the snapshot's route tables and ACLs."""

    rt_subnets: set[str] = dataclasses.field(default_factory=set)
    rt_gateways: set[str] = dataclasses.field(default_factory=set)
    rt_main_vpcs: set[str] = dataclasses.field(default_factory=set)
    acl_subnets: set[str] = dataclasses.field(default_factory=set)


def _claims(records: Iterable[CallRecord]) -> _Claims:
    out = _Claims()
    for rec in records:
        if _call(rec) == ("ec2", "DescribeRouteTables"):
            for table in rec.items("RouteTables"):
                for a in table.get("Associations") or ():
                    if a.get("SubnetId"):
                        out.rt_subnets.add(str(a["SubnetId"]))
                    if a.get("GatewayId"):
                        out.rt_gateways.add(str(a["GatewayId"]))
                    if a.get("Main") and table.get("VpcId"):
                        out.rt_main_vpcs.add(str(table["VpcId"]))
        elif _call(rec) == ("ec2", "DescribeNetworkAcls"):
            for acl in rec.items("NetworkAcls"):
                out.acl_subnets |= {str(a["SubnetId"]) for a in acl.get("Associations") or () if a.get("SubnetId")}
    return out


def _unclaimed(call: Call, item: Any, claims: _Claims) -> Any:
    """A kept snapshot item without the associations the plan takes over (the same object
    when it loses none)."""
    if not isinstance(item, Mapping):
        return item
    assoc = item.get("Associations")
    if not isinstance(assoc, list):
        return item
    if call == ("ec2", "DescribeRouteTables"):
        vpc = str(item.get("VpcId", ""))
        kept = [a for a in assoc if not (
            a.get("SubnetId") and str(a["SubnetId"]) in claims.rt_subnets
            or a.get("GatewayId") and str(a["GatewayId"]) in claims.rt_gateways
            or a.get("Main") and vpc in claims.rt_main_vpcs)]
    elif call == ("ec2", "DescribeNetworkAcls"):
        kept = [a for a in assoc if not (a.get("SubnetId") and str(a["SubnetId"]) in claims.acl_subnets)]
    else:
        return item
    return item if len(kept) == len(assoc) else {**item, "Associations": kept}


def _kept_pages(rec: CallRecord, dropped: set[ResKey], removed: set[ResKey], claims: _Claims,
                gone: set[ResKey]) -> tuple[Mapping[str, Any], ...]:
    """The snapshot listing's pages without the dropped items (each page kept, in order)
    nor the parts of `removed` resources (`_PARTS`); the resources dropped are added to `gone`."""
    call = _call(rec)
    key = _SPECS[call].items_key
    part = _PARTS.get(call)
    touched = (any(t == _SPECS[call].resource_type for t, _ in dropped) or call in _CLAIMED
               or part is not None and any(t == part[1] for t, _ in removed))
    if not touched and not any(isinstance(p, Mapping) and p.get(PLAN_PAGE) is True for p in rec.pages):
        return rec.pages   # the plan declares and removes nothing this listing holds
    pages: list[Mapping[str, Any]] = []
    for page in rec.pages:
        value = page.get(key) if isinstance(page, Mapping) else None
        if not isinstance(value, list):
            pages.append(page)
            continue
        kept: list[Any] = []
        for item in value:
            if call == ("ec2", "DescribeInstances") and isinstance(item, Mapping):
                instances = item.get("Instances") or []
                left = []
                for inst in instances:
                    hit = _item_keys(rec, {**item, "Instances": [inst]}) & dropped
                    gone |= hit
                    if not hit:
                        left.append(inst)
                if instances and not left:
                    continue
                kept.append(item if len(left) == len(instances) else {**item, "Instances": left})
                continue
            hit = _item_keys(rec, item) & dropped
            if part and isinstance(item, Mapping) and (part[1], str(item.get(part[0], ""))) in removed:
                hit |= _item_keys(rec, item)
            gone |= hit
            if not hit:
                kept.append(_unclaimed(call, item, claims))
        if kept or page.get(PLAN_PAGE) is not True:
            pages.append(page if kept == value else {**page, key: kept})
        # else: an earlier overlay's plan page the plan now answers whole: laying the same
        # plan twice gives the same records as laying it once.
    return tuple(pages)


def _deployed_vpcs(records: Iterable[CallRecord], dropped: set[ResKey]) -> dict[str, list[dict[str, str]]]:
    """The local routes of each VPC the snapshot holds and the plan leaves as it is."""
    out: dict[str, list[dict[str, str]]] = {}
    for rec in records:
        for vpc in NORMALISERS[("ec2", "DescribeVpcs")](rec, ""):
            if isinstance(vpc, Vpc) and ("vpc", vpc.id) not in dropped:
                out[vpc.id] = ([{"DestinationCidrBlock": c, "GatewayId": "local", "State": "active",
                                 "Origin": "CreateRouteTable"} for c in vpc.cidr_blocks if c]
                               + [{"DestinationIpv6CidrBlock": c, "GatewayId": "local", "State": "active",
                                   "Origin": "CreateRouteTable"} for c in vpc.ipv6_cidr_blocks if c])
    return out


def _with_local_routes(page: Mapping[str, Any], vpcs: Mapping[str, list[dict[str, str]]]) -> Mapping[str, Any]:
    """A plan page of route tables, each table of a deployed VPC the plan does not declare
    given the local routes AWS gives every table of that VPC (a reader cannot know the VPC's
    CIDR blocks; the snapshot does)."""
    tables = page.get("RouteTables")
    if not isinstance(tables, list):
        return page
    out: list[Any] = []
    for table in tables:
        local = vpcs.get(str(table.get("VpcId", ""))) if isinstance(table, Mapping) else None
        routes = table.get("Routes") if isinstance(table, Mapping) else None
        if local and isinstance(routes, list) and not any(
                isinstance(r, Mapping) and r.get("GatewayId") == "local" for r in routes):
            table = {**table, "Routes": [*local, *routes]}
        out.append(table)
    return {**page, "RouteTables": out}


def _merged(snap: CallRecord | None, plan: CallRecord, dropped: set[ResKey], removed: set[ResKey],
            claims: _Claims, gone: set[ResKey], vpcs: Mapping[str, list[dict[str, str]]]) -> CallRecord:
    """One covered listing of an account-region both hold."""
    if _call(plan) == ("ec2", "DescribeRouteTables") and vpcs:
        plan = dataclasses.replace(plan, pages=tuple(_with_local_routes(p, vpcs) for p in plan.pages))
    if snap is None:
        return dataclasses.replace(plan, error=CallError(
            "not_attempted", "NotInSnapshot",
            f"the snapshot holds no {plan.operation} for this account-region: what is deployed is unknown; "
            "the plan's items are added"))
    pages = _kept_pages(snap, dropped, removed, claims, gone) + plan.pages
    return dataclasses.replace(snap, pages=pages)


def lay_over(snapshot_records: Sequence[CallRecord], source: PlanSource) -> Overlaid:
    """The snapshot's records with `source` laid over them (see the module docstring).
    Neither input is changed; the same inputs give the same output."""
    plan_by_where: dict[Where, list[CallRecord]] = {}
    for rec in source.records:
        plan_by_where.setdefault((rec.account, rec.region), []).append(rec)
    snap_where = {(r.account, r.region) for r in snapshot_records if _regional(r)}
    shared = set(plan_by_where) & snap_where

    declared: dict[Where, set[ResKey]] = {w: set() for w in shared}
    replaced: dict[Where, set[ResKey]] = {w: set() for w in shared}
    for account, region, type_name, rid in source.replaces:
        if (account, region) in replaced:
            replaced[(account, region)].add((type_name, rid))
    for where in shared:
        for rec in plan_by_where[where]:
            declared[where] |= _record_keys(rec)
    dropped = {w: declared[w] | replaced[w] for w in shared}
    removed = {w: replaced[w] - declared[w] for w in shared}   # gone after apply, not re-declared
    claims = {w: _claims(plan_by_where[w]) for w in shared}

    out: list[CallRecord] = []
    gone: set[tuple[str, str, str, str]] = set()
    snap_listings: dict[tuple[Where, Call], CallRecord] = {}
    for rec in snapshot_records:
        where, call = (rec.account, rec.region), _call(rec)
        if where not in shared or call not in _COVERED:
            out.append(rec)
            continue
        spec = _SPECS[call]
        if spec.for_each is None:
            snap_listings[(where, call)] = rec
            continue
        item = _item_id(rec)
        if item and (ITEM_TYPES[call], item) in dropped[where]:
            continue   # the snapshot's answer for a resource the plan re-declares or removes
        out.append(rec)

    local_routes = {w: _deployed_vpcs([r for (w2, c), r in snap_listings.items() if w2 == w
                                       and c == ("ec2", "DescribeVpcs")], dropped[w]) for w in shared}
    for where, plan_records in plan_by_where.items():
        for rec in plan_records:
            call = _call(rec)
            plan_spec = _SPECS.get(call)
            if where in shared and plan_spec is not None and plan_spec.for_each is None:
                found: set[ResKey] = set()
                out.append(_merged(snap_listings.pop((where, call), None), rec, dropped[where], removed[where],
                                   claims[where], found, local_routes[where]))
                gone |= {(*where, t, i) for t, i in found}
            else:
                out.append(rec)
    # A snapshot listing the plan gives no record of (none should: the plan answers every
    # covered listing) is kept as it was.
    out.extend(snap_listings.values())

    by_id: dict[str, CallRecord] = {}
    for rec in out:
        if rec.record_id in by_id:
            raise ValueError(f"two records {rec.record_id} after the overlay")   # a bug of ours, never silent
        by_id[rec.record_id] = rec
    plan_only = tuple(sorted(set(plan_by_where) - snap_where))
    notes: list[str] = []
    snap_accounts = sorted({a for a, _ in snap_where})
    if source.account not in snap_accounts:
        notes.append(f"the snapshot holds nothing of account {source.account} that the {source.kind} is evaluated in "
                     f"(snapshot accounts: {', '.join(snap_accounts) or 'none'}): nothing deployed is laid under it")
    for account, region in plan_only:
        notes.append(f"{account} {region}: not in the snapshot; the {source.kind} alone is evaluated there")
    return Overlaid(records=tuple(by_id[k] for k in sorted(by_id)), plan_only=plan_only,
                    dropped=tuple(sorted(gone)), notes=tuple(notes))
