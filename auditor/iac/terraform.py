"""Terraform plans (``terraform show -json``, format_version 1.x) as a model source.

`read_plan` reads the plan JSON directly (no Terraform binary: the format is HashiCorp's
documented JSON output format): ``resource_changes`` lists the managed resources and what
the plan does to each; ``configuration`` resolves values known only after apply through
references (`auditor.iac.terraform_plan`); each supported type becomes items in AWS's
response shapes (`auditor.iac.terraform_types`), which `auditor.iac.base.RecordBuilder`
turns into call records. Deleted resources are not in the model; every other type is
listed as unsupported (network-relevant ones leave the assessment incomplete).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import Any
from collections.abc import Mapping

from auditor.iac.base import (
    DEFAULT_ACCOUNT, UNKNOWN_MARK, Declared, IacError, PlanSource, RecordBuilder, SourceProblem, Unsupported,
    synthetic_id,
)
from auditor.iac import terraform_links, terraform_network, terraform_services
from auditor.iac.terraform_plan import NAMED, PREFIX, Instance, Plan, PlanShapeError
from auditor.iac.terraform_types import (
    ACLS, MODEL_TYPE, PLS, PRIMARY, RTBS, SECONDARY, SGRS, SGS, SUBNETS, TGW_RTS, TGW_VPC_ATTS, VPCS, Estate, Item,
    R,
)
from auditor.model.registry import CATALOG, REGISTRY

__all__ = ["read_plan", "SUPPORTED"]

# The emitters register themselves, in this order (a type's emitter may read items of the
# types before it: a NAT gateway its Elastic IP, an instance its subnet and groups).
_EMITTERS = (terraform_network, terraform_services, terraform_links)

# Terraform type -> the model type it becomes (or changes), in the order they are read.
SUPPORTED: Mapping[str, str] = {t: MODEL_TYPE[t] for t in (*PRIMARY, *SECONDARY) if t != "aws_db_subnet_group"} | {
    "aws_db_subnet_group": "db_instance"}

_VERSION = re.compile(r"^1\.[0-9]+$")
_FIELDS = {c.call: {f.name for f in dataclasses.fields(e.model)} for e in REGISTRY for c in e.calls}
_SPECS = {c.call: c for c in CATALOG}
_ACCOUNT = re.compile(r"^[0-9]{12}$")


def read_plan(data: bytes, file: str, *, account: str | None = None, region: str | None = None) -> PlanSource:
    """The model source a ``terraform show -json`` plan describes (IacError when `data` is not
    such a plan, or of a format_version other than 1.x)."""
    doc = _load(data, file)
    version = doc.get("format_version")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise IacError(f"{file}: Terraform plan format_version {version!r} is not supported "
                       "(this tool reads format_version 1.x, from `terraform show -json`)")
    notes: list[str] = []
    problems: list[tuple[str, str]] = []
    plan_ref: list[Plan] = []

    def id_of(inst: Instance) -> str:
        return _id_of(plan_ref[0], inst)

    try:
        plan = Plan(doc, id_of)
    except PlanShapeError as exc:
        raise IacError(f"{file}: not a plan this tool reads: {exc}") from None
    plan_ref.append(plan)
    changes = doc.get("resource_changes")
    if changes is None:   # a plan that changes nothing may leave resource_changes out: its planned values
        changes = _unchanged(doc.get("planned_values"))
        if changes:
            notes.append("the plan has no resource_changes: its planned_values are read as unchanged resources")
    if not isinstance(changes, list):
        raise IacError(f"{file}: resource_changes is not a list")
    for n, change in enumerate(changes):
        try:
            if not isinstance(change, dict):
                raise PlanShapeError(f"resource_changes[{n}] is not an object")
            plan.add(change)
        except PlanShapeError as exc:
            address = change.get("address") if isinstance(change, dict) else None
            problems.append((str(address) if isinstance(address, str) else f"resource_changes[{n}]",
                             f"{exc}: not read"))

    acct = account or _account(plan)
    if acct is None:
        acct = DEFAULT_ACCOUNT
        notes.append(f"the plan names no account: evaluated as account {DEFAULT_ACCOUNT} (give --account)")
    regions: dict[str, str] = {}
    modelled = [i for i in plan.instances if i.type in SUPPORTED]
    for inst in modelled:
        try:
            regions[inst.address] = _region(plan, inst, file, region)
        except PlanShapeError as exc:
            raise IacError(f"{file}: the aws provider configuration of {inst.address} cannot be read: {exc}") from None
    estate = Estate(acct)
    declared: list[Declared] = []
    unsupported: list[Unsupported] = []
    replaces: list[tuple[str, str, str, str]] = []
    for inst in plan.instances:
        if inst.type not in SUPPORTED:
            unsupported.append(Unsupported(inst.address, inst.type, inst.action, file, None))
            continue
        model_type = SUPPORTED[inst.type]
        try:
            mid = plan.id_of(inst)
        except (PlanShapeError, TypeError, ValueError, AttributeError) as exc:
            problems.append((inst.address, f"its id could not be read: {exc}"))
            continue
        if inst.type in PRIMARY and inst.type != "aws_db_subnet_group" and inst.action in (
                "delete", "replace", "update", "no-op"):
            old = _old_id(inst)
            if old:
                replaces.append((acct, regions[inst.address], model_type, old))
        declared.append(Declared(inst.address, inst.type, model_type, mid if inst.action != "delete" else
                                 (_old_id(inst) or mid), inst.action, file, None))

    live: dict[str, list[Instance]] = {}
    for inst in modelled:
        if inst.action != "delete":
            live.setdefault(inst.type, []).append(inst)
    for table in (PRIMARY, SECONDARY):
        for type_name in table:
            if type_name == "aws_instance":   # instances without groups land in the VPC's default group
                _implicit_defaults(plan, estate, regions)
            for inst in live.get(type_name, []):
                _emit(table[type_name], plan, inst, regions[inst.address], estate)
    _finish(estate)
    # A change to another resource (a route, an association ...) is shown with what it changes.
    declared = [dataclasses.replace(d, id=estate.changed[d.address]) if d.address in estate.changed else d
                for d in declared]
    problems += estate.problems + plan.problems
    notes += estate.notes
    region_set = set(regions.values()) | {r for r, _, _ in estate.items}
    if not region_set and region:
        region_set.add(region)
    records = _records(estate, file, sorted(region_set), problems)
    return PlanSource(kind="terraform-plan", file=file, sha256="sha256:" + hashlib.sha256(data).hexdigest(),
                      format_version=version, account=acct, regions=tuple(sorted(region_set)), records=records,
                      resources=tuple(declared), unsupported=tuple(unsupported),
                      problems=tuple(SourceProblem(a, m, file, None) for a, m in dict.fromkeys(problems)),
                      replaces=tuple(dict.fromkeys(replaces)), notes=tuple(dict.fromkeys(notes)))


def _unchanged(planned: Any) -> list[Any]:
    """The resources of ``planned_values`` (values representation), as no-op changes."""
    out: list[Any] = []
    stack = [planned.get("root_module") if isinstance(planned, dict) else None]
    while stack:
        module = stack.pop()
        if not isinstance(module, dict):
            continue
        for r in module.get("resources") or [] if isinstance(module.get("resources"), list) else []:
            if isinstance(r, dict):
                values = r.get("values")
                out.append({**{k: r.get(k) for k in ("address", "mode", "type", "name", "index", "provider_name")},
                            "module_address": module.get("address") or "",
                            "change": {"actions": ["no-op"], "before": values, "after": values, "after_unknown": {}}})
        children = module.get("child_modules")
        stack.extend(reversed(children) if isinstance(children, list) else [])
    return out


def _load(data: bytes, file: str) -> dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise IacError(f"{file}: not a Terraform plan: not UTF-8 text") from None
    except ValueError as exc:
        raise IacError(f"{file}: not a Terraform plan: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise IacError(f"{file}: not a Terraform plan: the JSON is a {type(doc).__name__}, not an object "
                       "(expected the output of `terraform show -json PLANFILE`)")
    if "values" in doc and "planned_values" not in doc and "resource_changes" not in doc:
        raise IacError(f"{file}: a Terraform state, not a plan: give the output of "
                       "`terraform show -json PLANFILE` (a saved plan), not of a state")
    if "planned_values" not in doc and "resource_changes" not in doc:
        raise IacError(f"{file}: not a Terraform plan: no planned_values or resource_changes "
                       "(expected the output of `terraform show -json PLANFILE`)")
    return doc


def _old_id(inst: Instance) -> str | None:
    before = inst.before or {}
    key = NAMED.get(inst.type, "id")
    value = before.get(key) or before.get("id")
    return str(value) if isinstance(value, (str, int)) and value != "" else None


def _id_of(plan: Plan, inst: Instance) -> str:
    """The model id of an instance: AWS's for one the plan keeps, else made from its address."""
    named = NAMED.get(inst.type)
    if not inst.created:
        value = (inst.after or inst.before or {}).get(named or "id") or (inst.after or inst.before or {}).get("id")
        if value not in (None, ""):
            return str(value)
    elif named and named != "arn":
        got = plan.get(inst, named)
        if got.known and got.value:
            return str(got.value)
    if inst.created and inst.type == "aws_default_route_table":
        got = plan.get(inst, "default_route_table_id")
        if got.known and got.value:
            return str(got.value)
    if inst.created and inst.type == "aws_default_network_acl":
        got = plan.get(inst, "default_network_acl_id")
        if got.known and got.value:
            return str(got.value)
    if inst.created and inst.type == "aws_default_security_group":
        got = plan.get(inst, "vpc_id")
        vpc = next((i for i in plan.instances if i.type == "aws_vpc" and got.known and i.created
                    and plan.id_of(i) == got.value), None)
        if vpc is not None:
            return synthetic_id("sg", f"{vpc.address}.default_security_group")
    return synthetic_id(PREFIX.get(inst.type, ""), inst.address)


def _provider_region(plan: Plan, key: str) -> str | None:
    cfg = plan.provider_config.get(key)
    if not isinstance(cfg, dict):
        return None
    expr = (cfg.get("expressions") or {}).get("region") if isinstance(cfg.get("expressions"), dict) else None
    if not isinstance(expr, dict):
        return None
    got = plan.resolve(expr, "", "")
    return str(got.value) if got.known and isinstance(got.value, str) and got.value else None


def _region(plan: Plan, inst: Instance, file: str, given: str | None) -> str:
    """The region of a resource: its aws provider configuration's constant region (aliases
    included), else the region `given` (--region), else IacError. A plan's own region wins:
    --region never moves a plan written for another region."""
    key = inst.config.get("provider_config_key") if isinstance(inst.config, dict) else None
    keys = [key] if isinstance(key, str) else []
    if isinstance(key, str) and ":" in key:
        keys.append(key.rsplit(":", 1)[1])   # a module's provider inherited from the root
    keys.append("aws")
    for k in dict.fromkeys(keys):
        found = _provider_region(plan, k)
        if found:
            return found
    if given:
        return given
    raise IacError(f"{file}: the plan does not say its region (no constant region in the aws provider "
                   f"configuration of {inst.address}): give --region")


def _account(plan: Plan) -> str | None:
    for address in sorted(plan.data):
        values = plan.data[address]
        if ".aws_caller_identity." in f".{address}" and _ACCOUNT.match(str(values.get("account_id", ""))):
            return str(values["account_id"])
    sources = [plan.state[a] for a in sorted(plan.state)] + [i.before for i in plan.instances if i.before]
    for values in sources:
        owner = str(values.get("owner_id") or "")
        if _ACCOUNT.match(owner):
            return owner
        arn = str(values.get("arn") or "").split(":")
        if len(arn) > 4 and _ACCOUNT.match(arn[4]):
            return arn[4]
    return None


def _emit(fn: Any, plan: Plan, inst: Instance, region: str, estate: Estate) -> None:
    try:
        fn(R(plan, inst, region, estate))
    except (PlanShapeError, TypeError, ValueError, AttributeError, KeyError) as exc:
        estate.problems.append((inst.address, f"not modelled: an attribute has an odd shape ({exc})"))


def _implicit_defaults(plan: Plan, estate: Estate, regions: Mapping[str, str]) -> None:
    """What AWS creates with each new VPC: its main route table (the local route only), its
    default security group (all from itself in, all out) and its default network ACL (all
    allowed), unless the plan declares its aws_default_* for it."""
    made = False
    for key, vpc in list(estate.items.items()):
        if key[1] != VPCS:
            continue
        inst = plan.by_address.get(vpc.address)
        if inst is None or not inst.created:
            continue
        made = True
        region, vid = key[0], str(vpc.body["VpcId"])
        local = [{"DestinationCidrBlock": a["CidrBlock"], "GatewayId": "local", "State": "active",
                  "Origin": "CreateRouteTable"} for a in vpc.body.get("CidrBlockAssociationSet", []) if a.get("CidrBlock")]
        local += [{"DestinationIpv6CidrBlock": a["Ipv6CidrBlock"], "GatewayId": "local", "State": "active",
                   "Origin": "CreateRouteTable"} for a in vpc.body.get("Ipv6CidrBlockAssociationSet", [])]
        if ("rtb", vid) not in estate.declared_defaults:
            rid = synthetic_id("rtb", f"{inst.address}.default_route_table")
            item = estate.add(region, RTBS, rid, {"RouteTableId": rid, "VpcId": vid, "Routes": local,
                                                  "Associations": [{"Main": True, "RouteTableId": rid}]}, inst.address)
            if "cidr_blocks" in vpc.unknown:
                item.unknown["routes"] = vpc.unknown["cidr_blocks"]
        if ("sg", vid) not in estate.declared_defaults:
            gid = synthetic_id("sg", f"{inst.address}.default_security_group")
            estate.add(region, SGS, gid, {"GroupId": gid, "VpcId": vid, "GroupName": "default",
                                          "Description": "default VPC security group"}, inst.address)
            sources: tuple[tuple[bool, dict[str, Any]], ...] = (
                (False, {"ReferencedGroupInfo": {"GroupId": gid}}), (True, {"CidrIpv4": "0.0.0.0/0"}))
            for n, (egress, source) in enumerate(sources):
                rid = synthetic_id("sgr", f"{inst.address}.default_security_group.{n}")
                estate.add(region, SGRS, rid, {"SecurityGroupRuleId": rid, "GroupId": gid, "IsEgress": egress,
                                               "IpProtocol": "-1", **source}, inst.address)
        if ("acl", vid) not in estate.declared_defaults:
            aid = synthetic_id("acl", f"{inst.address}.default_network_acl")
            entries = [{"RuleNumber": n, "Egress": e, "Protocol": "-1", "RuleAction": a, "CidrBlock": "0.0.0.0/0"}
                       for e in (False, True) for n, a in ((100, "allow"), (32767, "deny"))]
            estate.add(region, ACLS, aid, {"NetworkAclId": aid, "VpcId": vid, "IsDefault": True, "Entries": entries,
                                           "Associations": []}, inst.address)
    if made:
        estate.notes.append("each new VPC has AWS's implicit main route table (local route only), default "
                            "security group and default network ACL, unless the plan declares its aws_default_*")
    if any(i.type == "aws_vpc" and not i.created and i.action != "delete" for i in plan.instances):
        estate.notes.append("the main route table, default security group and default network ACL of a VPC the "
                            "plan keeps are modelled only when the plan manages them (overlay a snapshot for the rest)")


def _finish(estate: Estate) -> None:
    """What follows from everything read: main tables replaced by an association, subnets
    in their VPC's default network ACL, routes propagated into TGW route tables; a subnet
    that an association the plan leaves unknown may name has no known route table or ACL."""
    _unknown_associations(estate)
    for region, call, subnet, why in estate.lost:
        subnets = estate.find(region, SUBNETS, "SubnetId", subnet) if subnet else estate.of(region, SUBNETS)
        for sub in subnets:
            if call == RTBS:
                sub.unknown.setdefault("route_table_id", why)
                sub.unknown.setdefault("route_table_association", why)
            else:
                for acl in estate.find(region, ACLS, "VpcId", sub.body.get("VpcId")):
                    acl.unknown.setdefault("subnet_ids", why)
    for (region, vid), rid in estate.main_tables.items():
        for item in estate.find(region, RTBS, "VpcId", vid):
            if item.body["RouteTableId"] != rid:
                item.body["Associations"] = [a for a in item.body["Associations"] if not a.get("Main")]
    for item in estate.items.values():
        if item.call == ACLS and item.body.get("IsDefault"):
            for sub in estate.find(item.region, SUBNETS, "VpcId", item.body.get("VpcId")):
                sid = str(sub.body["SubnetId"])
                if (item.region, sid) not in estate.nacl_assoc:
                    item.body["Associations"].append({"SubnetId": sid, "NetworkAclId": item.body["NetworkAclId"]})
    for (region, rt), attachments in estate.tgw_prop.items():
        rt_item = estate.get(region, TGW_RTS, rt)
        for att in attachments:
            vpc_att = estate.get(region, TGW_VPC_ATTS, att)
            vpc = estate.get(region, VPCS, str(vpc_att.body.get("VpcId") or "")) if vpc_att is not None else None
            if vpc is None or "cidr_blocks" in vpc.unknown:
                if rt_item is not None:
                    rt_item.unknown.setdefault("routes", (vpc.unknown["cidr_blocks"] if vpc is not None else
                                                          f"the CIDRs attachment {att} propagates are not in the plan"))
                continue
            for a in vpc.body.get("CidrBlockAssociationSet", []):
                estate.tgw_routes[(region, rt)].append({
                    "DestinationCidrBlock": a["CidrBlock"], "Type": "propagated", "State": "active",
                    "TransitGatewayAttachments": [{"TransitGatewayAttachmentId": att, "ResourceType": "vpc",
                                                   "ResourceId": vpc.body["VpcId"]}]})


def _unknown_associations(estate: Estate) -> None:
    """An association whose subnet is known only after apply may take any subnet of its
    table's VPC (any of the region's when that is unknown too): their route table (or
    network ACL) is unknown, never the main one by default."""
    for call, what in ((RTBS, "route table"), (ACLS, "network ACL")):
        for table in [i for i in estate.items.values() if i.call == call]:
            unknown = [a["SubnetId"] for a in table.body.get("Associations", [])
                       if str(a.get("SubnetId") or "").startswith("subnet-" + UNKNOWN_MARK)]
            if not unknown:
                continue
            known = {str(a.get("SubnetId")) for t in estate.of(table.region, call)
                     for a in t.body.get("Associations", []) if a.get("SubnetId") not in unknown}
            vpc = str(table.body.get("VpcId") or "")
            for sub in estate.of(table.region, SUBNETS):
                if str(sub.body["SubnetId"]) in known:
                    continue
                if vpc.startswith("vpc-" + UNKNOWN_MARK) or sub.body.get("VpcId") == vpc:
                    what_id = unknown[0][len("subnet-" + UNKNOWN_MARK) + 2:-1]
                    reason = f"known after apply: {what_id} (it may associate {table.address}, a {what}, with this subnet)"
                    if call == RTBS:
                        sub.unknown.setdefault("route_table_id", reason)
                        sub.unknown.setdefault("route_table_association", reason)
                    else:
                        for acl in estate.of(table.region, ACLS):
                            if acl.body.get("VpcId") == sub.body.get("VpcId"):
                                acl.unknown.setdefault("subnet_ids", reason)


def _records(estate: Estate, file: str, regions: list[str], problems: list[tuple[str, str]]) -> tuple[Any, ...]:
    builder = RecordBuilder("terraform-plan", file, estate.account)
    for item in estate.items.values():
        _add(builder, item, problems)
    for (region, vid), dns in estate.vpc_dns.items():
        vpc = estate.get(region, VPCS, vid)
        for attr, key, model_field in (("enableDnsSupport", "EnableDnsSupport", "dns_support"),
                                       ("enableDnsHostnames", "EnableDnsHostnames", "dns_hostnames")):
            value = dns.get(model_field)
            if value is None and vpc is not None:
                continue   # no answer: the attribute is unknown (NotInPlan) for this VPC
            builder.add_call(region, ("ec2", "DescribeVpcAttribute"), {"VpcId": vid, "Attribute": attr},
                             {"VpcId": vid, key: {"Value": bool(value)}})
    for (region, rt), routes in estate.tgw_routes.items():
        rt_item = estate.get(region, TGW_RTS, rt)
        if rt_item is None:
            continue
        for operation, page in (
                ("SearchTransitGatewayRoutes", {"Routes": routes}),
                ("GetTransitGatewayRouteTableAssociations", {"Associations": [
                    {"TransitGatewayAttachmentId": a, "State": "associated"} for a in estate.tgw_assoc.get((region, rt), [])]}),
                ("GetTransitGatewayRouteTablePropagations", {"TransitGatewayRouteTablePropagations": [
                    {"TransitGatewayAttachmentId": a, "State": "enabled"} for a in estate.tgw_prop.get((region, rt), [])]})):
            spec = _SPECS[("ec2", operation)]
            assert spec.for_each is not None
            for params in spec.for_each.make_params(rt_item.body):
                builder.add_call(region, ("ec2", operation), params, page)
    for (region, pid), cidrs in estate.pl_entries.items():
        pl = estate.get(region, PLS, pid)
        if pl is None:
            continue
        spec = _SPECS[("ec2", "GetManagedPrefixListEntries")]
        assert spec.for_each is not None
        for params in spec.for_each.make_params(pl.body):
            builder.add_call(region, ("ec2", "GetManagedPrefixListEntries"), params,
                             {"Entries": [{"Cidr": c} for c in cidrs]})
    return builder.records(regions)


def _add(builder: RecordBuilder, item: Item, problems: list[tuple[str, str]]) -> None:
    fields = _FIELDS.get(item.call, set())
    unknown = {}
    for name, reason in item.unknown.items():
        if name in fields:
            unknown[name] = reason
        else:   # a mark on no model field would be lost: say so instead
            problems.append((item.address, f"{reason} (not modelled as a field)"))
    body = {k: v for k, v in item.body.items() if v is not None}
    builder.add(item.region, item.call, body, address=item.address, line=None, attributes={}, unknown=unknown,
                quiet=[q for q in item.quiet if q in unknown])
