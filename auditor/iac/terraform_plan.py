"""A Terraform plan (``terraform show -json``, format_version 1.x) read into instances whose
values can be asked for, with references resolved (`auditor.iac.terraform` uses it).

A value the plan knows (``change.after``) is taken as is. A value it knows only after apply
(``change.after_unknown``) is looked up through the resource's configuration: an expression
naming exactly one attribute of one resource (``aws_vpc.main.id``) is that attribute: the
model id of a resource the plan creates, a known value of a resource it keeps, a data
source's value in ``prior_state``, a module output or variable followed to its expression.
A reference to a resource with several instances (``count``/``for_each``) whose instance the
expression does not name is unknown, never guessed; so is everything else (functions of
several references, locals, ``count.index``): `Val.reason` then says which attribute.

The HashiCorp JSON output format (plan representation, values representation,
configuration representation) is the only source of these facts; no Terraform binary runs.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Mapping

from auditor.iac.base import synthetic_id

# The AWS id prefix of each Terraform type whose created resources get a synthetic id.
PREFIX: dict[str, str] = {
    "aws_vpc": "vpc", "aws_subnet": "subnet", "aws_route_table": "rtb", "aws_default_route_table": "rtb",
    "aws_internet_gateway": "igw", "aws_egress_only_internet_gateway": "eigw", "aws_nat_gateway": "nat",
    "aws_eip": "eipalloc", "aws_ec2_transit_gateway": "tgw", "aws_ec2_transit_gateway_vpc_attachment": "tgw-attach",
    "aws_ec2_transit_gateway_route_table": "tgw-rtb", "aws_vpc_peering_connection": "pcx",
    "aws_vpc_peering_connection_accepter": "pcx", "aws_vpc_endpoint": "vpce", "aws_security_group": "sg",
    "aws_default_security_group": "sg", "aws_security_group_rule": "sgr", "aws_vpc_security_group_ingress_rule": "sgr",
    "aws_vpc_security_group_egress_rule": "sgr", "aws_network_acl": "acl", "aws_default_network_acl": "acl",
    "aws_instance": "i", "aws_network_interface": "eni", "aws_ec2_managed_prefix_list": "pl", "aws_flow_log": "fl",
    "aws_vpn_gateway": "vgw", "aws_route": "r", "aws_route_table_association": "rtbassoc",
    "aws_eip_association": "eipassoc", "aws_main_route_table_association": "rtbassoc",
}
# Types whose model id is not their Terraform id: the attribute it is (a name or an ARN).
NAMED: dict[str, str] = {"aws_eks_cluster": "name", "aws_db_instance": "identifier", "aws_lb": "arn",
                         "aws_alb": "arn", "aws_elb": "name", "aws_db_subnet_group": "name"}

# Attributes of a VPC the plan creates that name the defaults AWS creates with it.
VPC_DEFAULTS = {"main_route_table_id": ("rtb", "default_route_table"),
                "default_route_table_id": ("rtb", "default_route_table"),
                "default_security_group_id": ("sg", "default_security_group"),
                "default_network_acl_id": ("acl", "default_network_acl")}
TGW_DEFAULTS = {"association_default_route_table_id": ("tgw-rtb", "default_route_table"),
                "propagation_default_route_table_id": ("tgw-rtb", "default_route_table")}

ACTIONS = {("create",): "create", ("update",): "update", ("delete",): "delete", ("no-op",): "no-op",
           ("read",): "read", ("delete", "create"): "replace", ("create", "delete"): "replace"}


class PlanShapeError(Exception):
    """Something in one resource of the plan has an odd shape (a list where an object belongs ...)."""


@dataclass(frozen=True)
class Val:
    """A value, or why it is unknown (`reason` set, `value` None); `prefix`: the AWS id prefix
    of what an unresolved id reference names, when the reference says."""

    value: Any = None
    reason: str | None = None
    prefix: str | None = None

    @property
    def known(self) -> bool:
        return self.reason is None


@dataclass
class Instance:
    """One resource instance of ``resource_changes``."""

    address: str
    config_address: str      # the address without instance keys (configuration's)
    module: str              # the module instance path: "" | module.net | module.net["a"]
    module_config: str       # the module path without keys: "" | module.net
    mode: str
    type: str
    name: str
    index: Any
    action: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    after_unknown: Any
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> Mapping[str, Any]:
        return (self.before if self.action == "delete" else self.after) or {}

    @property
    def created(self) -> bool:
        return self.action in ("create", "replace")


_KEY = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|[0-9]+)\]')
_REF = re.compile(r'^(?P<type>[A-Za-z0-9_-]+)\.(?P<name>[A-Za-z0-9_-]+)'
                  r'(?P<index>\[(?:"(?:[^"\\]|\\.)*"|[0-9]+)\])?(?:\.(?P<attr>.+))?$')


def strip_keys(address: str) -> str:
    """``module.net["a"].aws_subnet.x[0]`` -> ``module.net.aws_subnet.x``."""
    return _KEY.sub("", address)


def _index_of(text: str | None) -> Any:
    if not text:
        return None
    inner = text[1:-1]
    if inner.startswith('"'):
        return inner[1:-1].replace('\\"', '"')
    return int(inner)


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PlanShapeError(f"{what} is a {type(value).__name__}, not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PlanShapeError(f"{what} is a {type(value).__name__}, not a list")
    return value


def _path_parts(attr: str) -> list[str | int]:
    """``names[0]`` -> ["names", 0]; ``a.b`` -> ["a", "b"]."""
    return list(_parts(attr))


@functools.lru_cache(maxsize=4096)
def _parts(attr: str) -> tuple[str | int, ...]:
    out: list[str | int] = []
    for part in attr.split("."):
        m = re.match(r"^([^\[]*)((?:\[[^\]]*\])*)$", part)
        if not m:
            out.append(part)
            continue
        if m.group(1):
            out.append(m.group(1))
        for key in re.findall(r"\[([^\]]*)\]", m.group(2)):
            out.append(int(key) if key.isdigit() else key.strip('"'))
    return tuple(out)


def dig(value: Any, parts: list[str | int]) -> tuple[bool, Any]:
    for p in parts:
        if isinstance(p, int) and isinstance(value, list) and 0 <= p < len(value):
            value = value[p]
        elif isinstance(p, str) and isinstance(value, dict) and p in value:
            value = value[p]
        else:
            return False, None
    return True, value


class Plan:
    """The plan's instances, configuration and prior state, and the value of an attribute of
    an instance with references resolved."""

    def __init__(self, doc: Mapping[str, Any], id_of: Callable[[Instance], str]) -> None:
        self.doc = doc
        self._id_of = id_of
        self.instances: list[Instance] = []
        self.by_address: dict[str, Instance] = {}
        self.by_config: dict[str, list[Instance]] = {}
        self.configs: dict[str, Mapping[str, Any]] = {}          # config address -> resource block
        self.module_calls: dict[str, Mapping[str, Any]] = {}     # module path -> module call
        self.data: dict[str, Mapping[str, Any]] = {}             # data instance address -> values
        self.state: dict[str, Mapping[str, Any]] = {}            # prior_state managed address -> values
        self.problems: list[tuple[str, str]] = []                # (address, message)
        self._depth = 0
        self._id_wanted = True   # whether the attribute being resolved holds ids (see `_from_config`)
        self._at: dict[tuple[str, str], list[Instance]] = {}   # (config address, module instance) -> instances
        config = _obj(doc.get("configuration"), "configuration")
        self.provider_config = _obj(config.get("provider_config"), "configuration.provider_config")
        self._walk_config(_obj(config.get("root_module"), "configuration.root_module"), "")
        self._walk_state(_obj(_obj(doc.get("prior_state"), "prior_state").get("values"), "prior_state.values")
                         .get("root_module"))
        self.variables = _obj(doc.get("variables"), "variables")

    # -- reading ------------------------------------------------------------------------

    def _walk_config(self, module: Mapping[str, Any], path: str) -> None:
        for block in (_list(module.get("resources"), f"{path or 'root_module'}.resources")):
            if isinstance(block, dict) and isinstance(block.get("address"), str):
                self.configs[(path + "." if path else "") + block["address"]] = block
        calls = _obj(module.get("module_calls"), f"{path or 'root_module'}.module_calls")
        for name, call in calls.items():
            if not isinstance(call, dict):
                continue
            sub = f"{path}.module.{name}" if path else f"module.{name}"
            self.module_calls[sub] = call
            self._walk_config(_obj(call.get("module"), f"{sub}.module"), sub)

    def _walk_state(self, module: Any) -> None:
        if not isinstance(module, dict):
            return
        resources = module.get("resources")
        for r in resources if isinstance(resources, list) else []:
            if isinstance(r, dict) and isinstance(r.get("address"), str) and isinstance(r.get("values"), dict):
                (self.data if r.get("mode") == "data" else self.state)[r["address"]] = r["values"]
        children = module.get("child_modules")
        for child in children if isinstance(children, list) else []:
            self._walk_state(child)

    def add(self, change: Mapping[str, Any]) -> Instance | None:
        """One entry of ``resource_changes`` (PlanShapeError when it has an odd shape)."""
        address = change.get("address")
        if not isinstance(address, str) or not address:
            raise PlanShapeError("a resource change without an address")
        body = _obj(change.get("change"), f"{address}: change")
        actions = tuple(str(a) for a in _list(body.get("actions"), f"{address}: change.actions"))
        action = ACTIONS.get(actions)
        if action is None:
            raise PlanShapeError(f"{address}: unknown actions {list(actions)!r}")
        module = change.get("module_address") or ""
        if not isinstance(module, str):
            raise PlanShapeError(f"{address}: module_address is not a string")
        mode, type_, name = change.get("mode", "managed"), change.get("type"), change.get("name")
        if not isinstance(type_, str) or not isinstance(name, str) or mode not in ("managed", "data"):
            raise PlanShapeError(f"{address}: type, name or mode missing or odd")
        before, after = body.get("before"), body.get("after")
        if before is not None and not isinstance(before, dict) or after is not None and not isinstance(after, dict):
            raise PlanShapeError(f"{address}: change.before/after is not an object")
        unknown = body.get("after_unknown")
        config_address = strip_keys(address)
        inst = Instance(address, config_address, module, strip_keys(module), mode, type_, name, change.get("index"),
                        action, before, after, unknown if unknown is not None else {},
                        _obj(self.configs.get(config_address), f"{address}: configuration"))
        if mode == "data":
            if after is not None and action == "read":
                self.data.setdefault(address, after)
            return None
        self.instances.append(inst)
        self.by_address[address] = inst
        self.by_config.setdefault(config_address, []).append(inst)
        self._at.setdefault((config_address, module), []).append(inst)
        return inst

    # -- values -------------------------------------------------------------------------

    def id_of(self, inst: Instance) -> str:
        return self._id_of(inst)

    def get(self, inst: Instance, path: str | list[str | int]) -> Val:
        """The value at `path` ("vpc_id", ["route", 0, "nat_gateway_id"]) of an instance."""
        parts = _path_parts(path) if isinstance(path, str) else list(path)
        what = f"{inst.address}.{path_text(parts)}"
        if inst.action == "delete":
            found, value = dig(inst.before, parts)
            return Val(value if found else None)
        if self._is_unknown(inst.after_unknown, parts):
            resolved = self._from_config(inst, parts)
            found, planned = dig(inst.after, parts)
            if resolved is not None and resolved.known and found and isinstance(planned, list):
                # A list of elements known after apply ([null] in `after`): its references must
                # give as many values, in order ([aws_subnet.a.id] is one reference, one element).
                value = resolved.value if isinstance(resolved.value, list) else [resolved.value]
                if len(value) == len(planned):
                    return Val(value)
                resolved = Val(None, f"{len(planned)} element(s) known after apply, {len(value)} resolved")
            if resolved is not None and resolved.known:
                return resolved
            reason = f"known after apply: {what}"
            return Val(None, reason, resolved.prefix if resolved is not None else None)
        found, value = dig(inst.after, parts)
        return Val(value if found else None)

    @staticmethod
    def _is_unknown(unknown: Any, parts: list[str | int]) -> bool:
        node = unknown
        for p in parts:
            if node is True:
                return True
            if isinstance(p, int) and isinstance(node, list) and 0 <= p < len(node):
                node = node[p]
            elif isinstance(p, str) and isinstance(node, dict) and p in node:
                node = node[p]
            else:
                return False
        # A list whose elements are known only after apply is written [null] in `after` and
        # [true] in `after_unknown`: the list itself is unknown (blocks with unknown attributes
        # inside are not: their attributes are asked one by one).
        return node is True or (isinstance(node, list) and any(x is True for x in node))

    def expression(self, inst: Instance, parts: list[str | int]) -> Any:
        """The configuration expression at `parts`: a nested block is the configuration's only
        one, or the only one whose constant values all equal the planned block's."""
        node: Any = inst.config.get("expressions") if isinstance(inst.config, dict) else None
        for n, p in enumerate(parts):
            if isinstance(p, int):
                if isinstance(node, list) and len(node) == 1 and p == 0:
                    node = node[0]
                elif isinstance(node, list):
                    found, planned = dig(inst.after, parts[:n + 1])
                    matches = [b for b in node if found and _same_block(b, planned)]
                    if len(matches) != 1:
                        return None
                    node = matches[0]
                else:
                    return None
            elif isinstance(node, dict):
                node = node.get(p)
            else:
                return None
        return node if isinstance(node, dict) else None

    def has_expression(self, inst: Instance, attr: str) -> bool:
        exprs = inst.config.get("expressions") if isinstance(inst.config, dict) else None
        return isinstance(exprs, dict) and attr in exprs

    def _from_config(self, inst: Instance, parts: list[str | int]) -> Val | None:
        expr = self.expression(inst, parts)
        if expr is None:
            return None
        wanted, self._id_wanted = self._id_wanted, _id_like(parts[-1] if parts else "")
        try:
            return self.resolve(expr, inst.module, inst.module_config)
        finally:
            self._id_wanted = wanted

    def resolve(self, expr: Mapping[str, Any], module: str, module_config: str) -> Val:
        """The value of a configuration expression in a module instance."""
        if "constant_value" in expr:
            return Val(expr["constant_value"])
        refs = expr.get("references")
        if not isinstance(refs, list) or not refs:
            return Val(None, "not resolvable")
        refs = [r for r in refs if isinstance(r, str)]
        # The maximal references: those no other one extends ("aws_vpc.a.id" over "aws_vpc.a").
        top = [r for r in refs if not any(o != r and (o.startswith(r + ".") or o.startswith(r + "["))
                                          for o in refs)]
        if len(top) == 1:
            return self.reference(top[0], module, module_config)
        # A tuple of references ([aws_subnet.a.id, aws_subnet.b.id]): each one, in order.
        if all(self._is_resource_ref(r) for r in top):
            values = [self.reference(r, module, module_config) for r in top]
            bad = next((v for v in values if not v.known), None)
            if bad is not None:
                return Val(None, bad.reason, bad.prefix)
            return Val([v.value for v in values], None, "list")
        return Val(None, "an expression of several references")

    @staticmethod
    def _is_resource_ref(ref: str) -> bool:
        m = _REF.match(ref)
        return bool(m) and not ref.startswith(("var.", "local.", "module.", "count.", "each.", "path.", "terraform.",
                                              "data.", "self.")) and m is not None and m.group("attr") is not None

    def reference(self, ref: str, module: str, module_config: str) -> Val:
        if self._depth > 40:
            return Val(None, f"references too deep at {ref}")
        self._depth += 1
        try:
            return self._reference(ref, module, module_config)
        finally:
            self._depth -= 1

    def _scoped(self, scope: str, rest: str) -> str:
        return f"{scope}.{rest}" if scope else rest

    def _reference(self, ref: str, module: str, module_config: str) -> Val:
        head = ref.split(".", 1)[0]
        if head == "var":
            name = ref.split(".")[1]
            if not module_config:
                var = self.variables.get(name)
                if isinstance(var, dict) and "value" in var:
                    found, value = dig(var["value"], _path_parts(ref.split(".", 2)[2]) if ref.count(".") > 1 else [])
                    return Val(value) if found else Val(None, f"variable {ref} has no such value")
                return Val(None, f"variable {ref} has no value in the plan")
            call = self.module_calls.get(module_config) or {}
            exprs = call.get("expressions") if isinstance(call, dict) else None
            expr = exprs.get(name) if isinstance(exprs, dict) else None
            if not isinstance(expr, dict):
                return Val(None, f"{module_config} gives no {ref}")
            parent_c, parent = _parent(module_config), _parent(module)
            if ref.count(".") > 1:
                return Val(None, f"{ref}: a part of a module variable")
            return self.resolve(expr, parent, parent_c)
        if head == "module":
            parts = ref.split(".")
            if len(parts) < 3:
                return Val(None, f"{ref}: a whole module")
            callname = strip_keys(parts[1])
            sub_c = self._scoped(module_config, f"module.{callname}")
            found_call = self.module_calls.get(sub_c)
            if not isinstance(found_call, dict):
                return Val(None, f"{ref}: no such module")
            call = found_call
            if call.get("count_expression") is not None or call.get("for_each_expression") is not None:
                if "[" not in parts[1]:
                    return Val(None, f"{ref}: a module of several instances")
            sub = self._scoped(module, f"module.{parts[1]}")
            outputs = _obj(_obj(call.get("module"), "module").get("outputs"), "outputs")
            out = outputs.get(parts[2])
            expr = out.get("expression") if isinstance(out, dict) else None
            if not isinstance(expr, dict) or len(parts) > 3:
                return Val(None, f"{ref}: not a plain module output")
            return self.resolve(expr, sub, sub_c)
        if head == "data":
            m = _REF.match(ref[len("data."):])
            if not m or not m.group("attr"):
                return Val(None, f"{ref}: a whole data source")
            base = self._scoped(module, f"data.{m.group('type')}.{m.group('name')}{m.group('index') or ''}")
            values = self.data.get(base)
            if values is None:
                return Val(None, f"{ref} is read only at apply")
            found, value = dig(values, _path_parts(m.group("attr")))
            return Val(value) if found else Val(None, f"{ref} has no such attribute")
        if head in ("local", "count", "each", "path", "terraform", "self"):
            return Val(None, f"{ref} is not resolved by this reader")
        m = _REF.match(ref)
        if not m:
            return Val(None, f"{ref}: not a reference this reader knows")
        type_, attr = m.group("type"), m.group("attr")
        prefix = PREFIX.get(type_)
        if attr is None:
            return Val(None, f"{ref}: a whole resource", prefix)
        config_address = self._scoped(module_config, f"{type_}.{m.group('name')}")
        candidates = self._at.get((config_address, module), [])
        if m.group("index"):
            index = _index_of(m.group("index"))
            candidates = [i for i in candidates if i.index == index] if len(candidates) < 8 else \
                [i for i in [self.by_address.get(f"{self._scoped(module, type_ + '.' + m.group('name'))}"
                                                 f"{m.group('index')}")] if i is not None and i.index == index]
        if not candidates:
            return Val(None, f"{ref} names no resource of the plan", prefix)
        if len(candidates) > 1 or candidates[0].index is not None and not m.group("index"):
            return Val(None, f"{ref}: {config_address} has several instances and the reference names none",
                       prefix)
        target = candidates[0]
        if target.action == "delete":
            return Val(None, f"{ref}: the plan deletes {target.address}", prefix)
        path = _path_parts(attr)
        made = path == ["id"] or target.created and (
            attr == NAMED.get(type_) or (type_, attr) in (("aws_eip", "allocation_id"),) or
            type_ == "aws_vpc" and attr in VPC_DEFAULTS or type_ == "aws_ec2_transit_gateway" and attr in TGW_DEFAULTS)
        if made and target.created and not self._id_wanted:
            # An id the plan makes up, taken by an attribute that is not an id: the expression
            # is some function of it (a name, a description ...), not known before apply.
            return Val(None, f"{ref}: used in an attribute that is not an id", prefix)
        if path == ["id"] or (attr == NAMED.get(type_) and target.created and not self.get(target, attr).known):
            return Val(self.id_of(target))
        if target.created and type_ == "aws_vpc" and attr in VPC_DEFAULTS:
            p, suffix = VPC_DEFAULTS[attr]
            return Val(synthetic_id(p, f"{target.address}.{suffix}"))
        if target.created and type_ == "aws_ec2_transit_gateway" and attr in TGW_DEFAULTS:
            p, suffix = TGW_DEFAULTS[attr]
            return Val(synthetic_id(p, f"{target.address}.{suffix}"))
        if target.created and type_ == "aws_eip" and attr == "allocation_id":
            return Val(self.id_of(target))
        got = self.get(target, path)
        return got if got.known else Val(None, got.reason, prefix)


def _id_like(attr: str | int) -> bool:
    """Whether an attribute holds ids (or names, ARNs) of other resources."""
    name = str(attr)
    return name in ("id", "ids", "subnets", "security_groups", "instance", "network_interface") or \
        name.endswith(("_id", "_ids", "_name", "_arn"))


def path_text(parts: list[str | int]) -> str:
    """["vpc_config", 0, "subnet_ids"] -> ``vpc_config[0].subnet_ids``."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _same_block(config: Any, planned: Any) -> bool:
    """Whether a configuration block's constant values are all those of a planned block
    (and there is at least one to compare)."""
    if not isinstance(config, dict) or not isinstance(planned, dict):
        return False
    consts = {k: e["constant_value"] for k, e in config.items() if isinstance(e, dict) and "constant_value" in e}
    return bool(consts) and all(planned.get(k) == v for k, v in consts.items())


def _parent(module: str) -> str:
    """``module.a.module.b`` -> ``module.a``; ``module.a`` -> ``""``."""
    idx = module.rfind(".module.")
    return module[:idx] if idx >= 0 else ""
