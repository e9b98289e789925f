"""The shared parts of the Terraform emitters: the `Estate` the plan's items are gathered
in (as AWS would list them), `R` reading one instance's values, and the registries that
`auditor.iac.terraform_network`, `auditor.iac.terraform_services` (types with items of
their own) and `auditor.iac.terraform_links` (types that change another's item) fill.

An emitter reads one instance's values through `R` (values known at plan time, references
resolved by `auditor.iac.terraform_plan.Plan`) and adds or changes items of the `Estate`.
A value still unknown becomes an unknown mark on the model field it fills (or an
`unknown_id` for ids), never a guess; AWS's documented defaults are values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from auditor.iac.base import unknown_id
from auditor.iac.terraform_plan import Instance, Plan, Val, path_text

Call = tuple[str, str]

# AWS's default endpoint policy (a VPC endpoint created without one gets it).
DEFAULT_ENDPOINT_POLICY = json.dumps({"Version": "2008-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}, separators=(",", ":"))

# AWS's default flow log record format (a flow log created without log_format gets it).
DEFAULT_FLOW_LOG_FORMAT = ("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
                           "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}")



BLOCKS_NOTE = ("nested blocks (route, ingress, egress, entry ...) known only after apply that the configuration "
               "does not write are read as none (a plan does not show `dynamic` blocks)")


def placeholder_ip(address: str) -> str:
    """A public IP that will exist but whose value the plan does not know."""
    return f"(public IP assigned at apply: {address})"


@dataclass
class Item:
    """One item of a listing: its body, where it is declared, its unknown model fields."""

    call: Call
    region: str
    body: dict[str, Any]
    address: str
    unknown: dict[str, str] = field(default_factory=dict)
    quiet: set[str] = field(default_factory=set)


@dataclass
class Estate:
    """What the plan declares, as AWS would list it, keyed by (region, call, model id)."""

    account: str
    items: dict[tuple[str, Call, str], Item] = field(default_factory=dict)
    by_call: dict[tuple[str, Call], dict[str, Item]] = field(default_factory=dict)   # the same, by listing
    _index: dict[tuple[str, Call, str], tuple[int, dict[Any, list[Item]]]] = field(default_factory=dict, repr=False)
    problems: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # per-VPC DNS attributes, per-TGW-route-table routes/associations/propagations, prefix list entries
    vpc_dns: dict[tuple[str, str], dict[str, bool | None]] = field(default_factory=dict)
    tgw_routes: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    tgw_assoc: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    tgw_prop: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    pl_entries: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    declared_defaults: set[tuple[str, str]] = field(default_factory=set)   # (kind, vpc id)
    main_tables: dict[tuple[str, str], str] = field(default_factory=dict)  # (region, vpc id) -> rtb declared main
    nacl_assoc: dict[tuple[str, str], str] = field(default_factory=dict)   # (region, subnet id) -> acl id
    # associations to a table or ACL the plan does not hold: (region, call, subnet id or None, why)
    lost: list[tuple[str, Call, str | None, str]] = field(default_factory=list)
    changed: dict[str, str] = field(default_factory=dict)   # address of a change -> model id of what it changes

    def add(self, region: str, call: Call, key: str, body: dict[str, Any], address: str) -> Item:
        item = Item(call, region, body, address)
        self.items[(region, call, key)] = item
        self.by_call.setdefault((region, call), {})[key] = item
        return item

    def get(self, region: str, call: Call, key: str) -> Item | None:
        return self.items.get((region, call, key))

    def of(self, region: str, call: Call) -> list[Item]:
        return list(self.by_call.get((region, call), {}).values())

    def find(self, region: str, call: Call, key: str, value: Any) -> list[Item]:
        """The items of a listing whose body's `key` is `value` (an index, rebuilt when the
        listing grew since)."""
        listed = self.by_call.get((region, call), {})
        cached = self._index.get((region, call, key))
        if cached is None or cached[0] != len(listed):
            index: dict[Any, list[Item]] = {}
            for item in listed.values():
                found = item.body.get(key)
                if isinstance(found, (str, int, bool, type(None))):
                    index.setdefault(found, []).append(item)
            cached = (len(listed), index)
            self._index[(region, call, key)] = cached
        return list(cached[1].get(value, []))


class R:
    """Reads one instance's values, recording what is unknown (model field -> reason)."""

    def __init__(self, plan: Plan, inst: Instance, region: str, estate: Estate) -> None:
        self.plan, self.inst, self.region, self.estate = plan, inst, region, estate
        self.unknown: dict[str, str] = {}
        self.quiet: set[str] = set()

    @property
    def address(self) -> str:
        return self.inst.address

    def raw(self, path: str | list[str | int]) -> Val:
        return self.plan.get(self.inst, path)

    def val(self, path: str | list[str | int], model_field: str, default: Any = None) -> Any:
        """A value (the type of `default` when that is not None), else `default` with the
        model field marked unknown (a value of another type is a problem too)."""
        got = self.raw(path)
        if not got.known:
            self.unknown.setdefault(model_field, str(got.reason))
            return default
        if got.value is None:
            return default
        if default is not None and (not isinstance(got.value, type(default)) or
                                    isinstance(got.value, bool) != isinstance(default, bool)):
            what = path if isinstance(path, str) else path_text(path)
            self.problem(f"{what} is a {type(got.value).__name__}, not a {type(default).__name__}")
            self.unknown.setdefault(model_field, f"{self.address}.{what} has an odd value")
            return default
        return got.value

    def unset(self, path: str | list[str | int]) -> bool:
        """Whether the configuration leaves an attribute out (so AWS or the provider decides):
        only when the plan has the resource's configuration at all."""
        parts: list[str | int] = [path] if isinstance(path, str) else list(path)
        if not self.inst.config:
            return False
        if len(parts) > 1 and self.plan.expression(self.inst, parts[:-1]) is None:
            return False   # the block itself is not matched: say nothing
        return self.plan.expression(self.inst, parts) is None

    def val_or(self, path: str | list[str | int], model_field: str, default: Any) -> Any:
        """An optional attribute AWS fills in when the configuration leaves it out: unknown
        with no expression is AWS's `default`."""
        got = self.raw(path)
        if not got.known and self.unset(path):
            return default
        return self.val(path, model_field, default)

    def given(self, attr: str) -> bool:
        """Whether an optional attribute is set: a value, or one known after apply that the
        configuration gives (unknown and left out is "not set")."""
        got = self.raw(attr)
        return bool(got.value) if got.known else not self.unset(attr)

    def ref(self, path: str | list[str | int], prefix: str, model_field: str | None = None) -> str | None:
        """An id attribute: its value, else an `unknown_id` (and `model_field` marked unknown)."""
        got = self.raw(path)
        if got.known and not isinstance(got.value, (str, type(None))):
            text = path if isinstance(path, str) else path_text(path)
            self.problem(f"{text} is a {type(got.value).__name__}, not an id")
            got = Val(None, f"{self.address}.{text} has an odd value")
        if got.known:
            return None if got.value in (None, "") else str(got.value)
        what = f"{self.address}." + (path if isinstance(path, str) else path_text(path))
        if model_field:
            self.unknown.setdefault(model_field, str(got.reason))
        p = got.prefix if got.prefix not in (None, "list") else prefix
        return unknown_id(p or "", what)

    def refs(self, path: str, prefix: str, model_field: str, unset: list[str] | None = None) -> list[str]:
        """A list of ids: each known or resolved, else the field is unknown (empty). `unset`:
        what AWS gives when the configuration leaves the attribute out (None: unknown)."""
        got = self.raw(path)
        if not got.known and unset is not None and self.inst.config and \
                not self.plan.has_expression(self.inst, path):
            return list(unset)
        if not got.known:
            self.unknown.setdefault(model_field, str(got.reason))
            return []
        value = got.value
        if value is None:
            return []
        if isinstance(value, str) and self.raw(path).known is not True:
            value = [value]
        if isinstance(value, str) and not self.inst.values.get(path.split(".")[0]) and \
                self.plan.expression(self.inst, [path]) is not None:
            value = [value]   # [aws_subnet.a.id]: the one reference of a list
        if not isinstance(value, list):
            self.problem(f"{path} is not a list")
            self.unknown.setdefault(model_field, f"{self.address}.{path} has an odd shape")
            return []
        if not all(isinstance(v, (str, type(None))) for v in value):
            self.problem(f"{path} holds values that are not ids")
            self.unknown.setdefault(model_field, f"{self.address}.{path} has an odd shape")
            return []
        return [str(v) for v in value if v not in (None, "")]

    def blocks(self, name: str, model_field: str) -> list[tuple[int, dict[str, Any]]] | None:
        """The nested blocks `name` (index, values); None when the plan knows them only after apply."""
        got = self.raw(name)
        if not got.known and self.unset(name):
            # No such blocks in the configuration: none (routes and rules come from their own
            # resources). A `dynamic` block over a collection known only after apply would look
            # the same in a plan: said in the notes.
            self.estate.notes.append(BLOCKS_NOTE)
            return []
        if not got.known:
            self.unknown.setdefault(model_field, str(got.reason))
            return None
        value = got.value or []
        if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
            self.problem(f"{name} is not a list of blocks")
            self.unknown.setdefault(model_field, f"{self.address}.{name} has an odd shape")
            return None
        return list(enumerate(value))

    def tags(self) -> list[dict[str, str]]:
        got = self.raw("tags_all")
        if not got.known or not isinstance(got.value, dict):
            got = self.raw("tags")
        value = got.value if got.known and isinstance(got.value, dict) else {}
        return [{"Key": str(k), "Value": str(v)} for k, v in sorted(value.items())]

    def problem(self, message: str) -> None:
        self.estate.problems.append((self.address, message))

    def new(self, call: Call, key: str, body: dict[str, Any]) -> Item:
        item = self.estate.add(self.region, call, key, body, self.address)
        item.unknown.update(self.unknown)
        item.quiet |= self.quiet
        return item

    def mark(self, item: Item) -> None:
        """Carry this instance's unknown marks onto another's item (an association, a route)."""
        for k, v in self.unknown.items():
            item.unknown.setdefault(k, v)


# -- the calls -----------------------------------------------------------------------------

VPCS = ("ec2", "DescribeVpcs")
SUBNETS = ("ec2", "DescribeSubnets")
RTBS = ("ec2", "DescribeRouteTables")
IGWS = ("ec2", "DescribeInternetGateways")
EIGWS = ("ec2", "DescribeEgressOnlyInternetGateways")
NATS = ("ec2", "DescribeNatGateways")
EIPS = ("ec2", "DescribeAddresses")
ENIS = ("ec2", "DescribeNetworkInterfaces")
INSTANCES = ("ec2", "DescribeInstances")
SGS = ("ec2", "DescribeSecurityGroups")
SGRS = ("ec2", "DescribeSecurityGroupRules")
ACLS = ("ec2", "DescribeNetworkAcls")
VPCES = ("ec2", "DescribeVpcEndpoints")
FLOWS = ("ec2", "DescribeFlowLogs")
PCXS = ("ec2", "DescribeVpcPeeringConnections")
VGWS = ("ec2", "DescribeVpnGateways")
TGWS = ("ec2", "DescribeTransitGateways")
TGW_ATTS = ("ec2", "DescribeTransitGatewayAttachments")
TGW_VPC_ATTS = ("ec2", "DescribeTransitGatewayVpcAttachments")
TGW_RTS = ("ec2", "DescribeTransitGatewayRouteTables")
PLS = ("ec2", "DescribeManagedPrefixLists")
EKS = ("eks", "DescribeCluster")
RDS = ("rds", "DescribeDBInstances")
ELBV2 = ("elbv2", "DescribeLoadBalancers")
ELB = ("elb", "DescribeLoadBalancers")

Emitter = Callable[[R], None]
PRIMARY: dict[str, Emitter] = {}     # types with items of their own, in this order
SECONDARY: dict[str, Emitter] = {}   # types that change other types' items, after them
MODEL_TYPE: dict[str, str] = {}


def _emitter(table: dict[str, Emitter], model_type: str, *types: str) -> Callable[[Emitter], Emitter]:
    def register(fn: Emitter) -> Emitter:
        for t in types:
            table[t] = fn
            MODEL_TYPE[t] = model_type
        return fn
    return register


def primary(model_type: str, *types: str) -> Callable[[Emitter], Emitter]:
    return _emitter(PRIMARY, model_type, *types)


def secondary(model_type: str, *types: str) -> Callable[[Emitter], Emitter]:
    return _emitter(SECONDARY, model_type, *types)


def model_id(r: R) -> str:
    return r.plan.id_of(r.inst)


def as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def vpc_of_subnet(r: R, subnet: str | None) -> str | None:
    if not subnet:
        return None
    item = r.estate.get(r.region, SUBNETS, subnet)
    if item is not None:
        if "vpc_id" in item.unknown:
            return None
        return str(item.body.get("VpcId") or "") or None
    return None


def vpc_from_subnets(r: R, subnets: list[str], model_field: str) -> str | None:
    vpcs = {vpc_of_subnet(r, s) for s in subnets}
    if len(vpcs) == 1 and None not in vpcs:
        return vpcs.pop()
    if subnets:
        r.unknown.setdefault(model_field, f"the VPC of {r.address}'s subnets is not known before apply")
    return None
