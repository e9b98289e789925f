"""CloudFormation templates as a model source (YAML or JSON, intrinsic functions computed).

`read_template` decodes the template (`auditor.iac.cfn_yaml`), checks its sections, gives each
parameter its value (the command line's, else its Default, else unknown), evaluates the
conditions (a resource whose Condition is false is not created), and writes every resource
of a supported type as AWS would describe it once created (`auditor.iac.base.RecordBuilder`):
the subnet as DescribeSubnets returns it, the route table with its routes and associations
gathered from the Route and SubnetRouteTableAssociation resources that name it, and so on.

Where AWS documents a default, the default is the value (a VPC's main route table with only
its local route, its default security group and network ACL, a security group's allow-all
egress rule when the template gives no egress rule, an endpoint's full-access policy when it
gives none, DNS support on and DNS hostnames off, an EKS endpoint public to 0.0.0.0/0, a load
balancer internet-facing ...). What only a deployment tells (a zone AWS picks, an IPv6 block
Amazon assigns, another stack's export ...) is unknown, and so is everything a template
problem (an unknown function, a reference to nothing) feeds: the rules reading it are ERROR.

Each resource type has its handler below (`handler`), reading its properties into the item(s)
AWS would list; `SUPPORTED` (CloudFormation type -> model type) is the docs' table. Some
choices, each said where it is made:

- ids are `synthetic_id(prefix, LogicalId)` (``subnet-PublicSubnet``); resources AWS adds
  are named after what adds them (``rtb-Vpc.MainRouteTable``, ``sg-Vpc.DefaultSecurityGroup``,
  ``eni-Nat.NetworkInterface``, ``eni-Web.PrimaryNetworkInterface``) and are listed as
  resources too; EKS clusters, DB instances and classic ELBs are named by their name property
  when the template gives one;
- a public address AWS assigns at deploy (an instance's, an Elastic IP's) exists before
  deploy though its value does not: it is written as ``(public IP assigned at deploy: ...)``,
  so "has a public IP" is known; a security group CloudFormation names is never "default";
- AWS::StackName, AWS::StackId and AWS::NotificationARNs are unknown (no stack exists yet);
- a value that no analyzer reads (tags, a flow log's destination, the ids AWS gives the
  interfaces it creates) is "quiet" when unknown: rules reading it are ERROR, derived values
  are not made unknown by it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.iac.base import (
    DEFAULT_ACCOUNT, Declared, IacError, PlanSource, RecordBuilder, SourceProblem, Unsupported, synthetic_id,
    unknown_id,
)
from auditor.iac.cfn_intrinsics import Evaluator, Unknown, first_unknown, is_function, pseudo_parameters
from auditor.iac.cfn_yaml import Map, decode, line_of
from auditor.partitions import partition_of

__all__ = ["SUPPORTED", "read_template"]

KIND = "cloudformation"
_LOGICAL_ID = re.compile(r"[A-Za-z0-9]+")
_SECTIONS = ("AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings", "Conditions",
             "Transform", "Resources", "Outputs", "Hooks")

# The full-access policy AWS gives an endpoint whose template gives none (as DescribeVpcEndpoints shows it).
DEFAULT_ENDPOINT_POLICY = ('{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
                           '"Action":"*","Resource":"*"}]}')
_DEFAULT_FLOW_LOG_FORMAT = ("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
                            "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}")


@dataclass(frozen=True)
class _Kind:
    """How one CloudFormation type is modelled: its model type and the prefix of its ids."""

    model: str
    prefix: str


# CloudFormation type -> how it is modelled, in the order of the docs' table. Types that only
# complete another resource (a Route completes its route table) name the model type they feed.
_KINDS: dict[str, _Kind] = {
    "AWS::EC2::VPC": _Kind("vpc", "vpc"),
    "AWS::EC2::VPCCidrBlock": _Kind("vpc", "vpc-cidr-assoc"),
    "AWS::EC2::Subnet": _Kind("subnet", "subnet"),
    "AWS::EC2::SubnetCidrBlock": _Kind("subnet", "subnet-cidr-assoc"),
    "AWS::EC2::RouteTable": _Kind("route_table", "rtb"),
    "AWS::EC2::Route": _Kind("route_table", "r"),
    "AWS::EC2::SubnetRouteTableAssociation": _Kind("route_table", "rtbassoc"),
    "AWS::EC2::GatewayRouteTableAssociation": _Kind("route_table", "rtbassoc"),
    "AWS::EC2::VPNGatewayRoutePropagation": _Kind("route_table", "vgw-prop"),
    "AWS::EC2::InternetGateway": _Kind("internet_gateway", "igw"),
    "AWS::EC2::VPCGatewayAttachment": _Kind("internet_gateway", "attach"),
    "AWS::EC2::EgressOnlyInternetGateway": _Kind("egress_only_internet_gateway", "eigw"),
    "AWS::EC2::NatGateway": _Kind("nat_gateway", "nat"),
    "AWS::EC2::EIP": _Kind("elastic_ip", "eipalloc"),
    "AWS::EC2::EIPAssociation": _Kind("elastic_ip", "eipassoc"),
    "AWS::EC2::SecurityGroup": _Kind("security_group", "sg"),
    "AWS::EC2::SecurityGroupIngress": _Kind("security_group_rule", "sgr"),
    "AWS::EC2::SecurityGroupEgress": _Kind("security_group_rule", "sgr"),
    "AWS::EC2::NetworkAcl": _Kind("network_acl", "acl"),
    "AWS::EC2::NetworkAclEntry": _Kind("network_acl", "acl-entry"),
    "AWS::EC2::SubnetNetworkAclAssociation": _Kind("network_acl", "aclassoc"),
    "AWS::EC2::VPCEndpoint": _Kind("vpc_endpoint", "vpce"),
    "AWS::EC2::TransitGateway": _Kind("transit_gateway", "tgw"),
    "AWS::EC2::TransitGatewayAttachment": _Kind("transit_gateway_attachment", "tgw-attach"),
    "AWS::EC2::TransitGatewayVpcAttachment": _Kind("transit_gateway_attachment", "tgw-attach"),
    "AWS::EC2::TransitGatewayRouteTable": _Kind("transit_gateway_route_table", "tgw-rtb"),
    "AWS::EC2::TransitGatewayRoute": _Kind("transit_gateway_route_table", "tgw-route"),
    "AWS::EC2::TransitGatewayRouteTableAssociation": _Kind("transit_gateway_route_table", "tgw-rtb-assoc"),
    "AWS::EC2::TransitGatewayRouteTablePropagation": _Kind("transit_gateway_route_table", "tgw-rtb-prop"),
    "AWS::EC2::VPCPeeringConnection": _Kind("vpc_peering", "pcx"),
    "AWS::EC2::Instance": _Kind("instance", "i"),
    "AWS::EC2::NetworkInterface": _Kind("network_interface", "eni"),
    "AWS::EC2::NetworkInterfaceAttachment": _Kind("network_interface", "eni-attach"),
    "AWS::EC2::VPNGateway": _Kind("vpn_gateway", "vgw"),
    "AWS::EC2::CarrierGateway": _Kind("carrier_gateway", "cagw"),
    "AWS::EC2::FlowLog": _Kind("flow_log", "fl"),
    "AWS::EC2::PrefixList": _Kind("prefix_list", "pl"),
    "AWS::EKS::Cluster": _Kind("eks_cluster", ""),
    "AWS::RDS::DBInstance": _Kind("db_instance", ""),
    "AWS::RDS::DBSubnetGroup": _Kind("db_instance", ""),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _Kind("load_balancer", ""),
    "AWS::ElasticLoadBalancing::LoadBalancer": _Kind("load_balancer", ""),
}

SUPPORTED: Mapping[str, str] = {t: k.model for t, k in _KINDS.items()}


# -- one resource being read ---------------------------------------------------------------

@dataclass
class _Item:
    """One listing item being built, with where it is declared and what of it is unknown."""

    call: tuple[str, str]
    body: dict[str, Any]
    address: str
    line: int | None
    attributes: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    quiet: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)   # the reader's own notes (not part of the answer)

    def mark(self, model_field: str, reason: str, *, quiet: bool = False) -> None:
        """`model_field` is unknown before deploy (the first reason given is kept)."""
        self.unknown.setdefault(model_field, reason)
        if quiet:
            self.quiet.add(model_field)
        else:
            self.quiet.discard(model_field)


class _Res:
    """One resource of the template, its properties resolved."""

    def __init__(self, logical: str, type_name: str, decl: Map, props: Map, resolved: Map, line: int) -> None:
        self.logical, self.type, self.decl = logical, type_name, decl
        self.props, self.resolved = props, resolved
        self.line: int | None = line      # where its logical id is written
        self.unknown_creation: Unknown | None = None   # its Condition, when that is unknown
        self.owner_id: str | None = None   # what it completes (a route: its route table), once found

    def has(self, prop: str) -> bool:
        return prop in self.resolved

    def line_of(self, prop: str) -> int | None:
        return self.props.line_for(prop) if prop in self.props else self.line

    def raw(self, prop: str) -> Any:
        return self.resolved.get(prop)


# -- the reader ------------------------------------------------------------------------------

class _Reader:
    def __init__(self, template: Map, file: str, account: str, region: str,
                 parameters: Mapping[str, str], notes: list[str]) -> None:
        self.t, self.file, self.account, self.region = template, file, account, region
        self.partition = partition_of(region) or "aws"
        self.notes = notes
        self.items: list[_Item] = []
        self.by_id: dict[str, _Item] = {}           # model id -> the item of the resource with that id
        self.calls: list[tuple[tuple[str, str], dict[str, Any], dict[str, Any]]] = []
        self.extra_groups: dict[str, _Item] = {}    # DB subnet groups by name (they are part of DB instances)
        self.problems: list[SourceProblem] = []
        self.declared: list[Declared] = []
        self.unsupported: list[Unsupported] = []
        self.resources: Map = template["Resources"]
        self.created: dict[str, bool | Unknown] = {}
        self.res: dict[str, _Res] = {}
        self._resolving: set[str] = set()
        self.ev = Evaluator(parameters=self._parameters(parameters), conditions=_section(template, "Conditions", file),
                            mappings=_section(template, "Mappings", file), ref=self.ref_of, getatt=self.getatt_of)

    # -- parameters ------------------------------------------------------------------------

    def _parameters(self, given: Mapping[str, str]) -> dict[str, Any]:
        declared = _section(self.t, "Parameters", self.file)
        undeclared = sorted(set(given) - set(declared))
        if undeclared:
            raise IacError(f"{self.file}: --parameter {', '.join(undeclared)}: the template declares no such "
                           f"parameter (it declares: {', '.join(sorted(declared)) or 'none'})")
        out: dict[str, Any] = pseudo_parameters(self.account, self.region, self.partition)
        missing = []
        for name, spec in declared.items():
            line = declared.line_for(name)
            if not isinstance(spec, dict) or not isinstance(spec.get("Type"), str):
                raise IacError(f"{self.file}:{line}: parameter {name} has no Type")
            ptype = spec["Type"]
            if name in given:
                value: Any = str(given[name])
                allowed = spec.get("AllowedValues")
                if isinstance(allowed, list) and value not in [str(a) for a in allowed]:
                    raise IacError(f"{self.file}:{line}: --parameter {name}={value}: not one of its AllowedValues "
                                   f"({', '.join(str(a) for a in allowed)})")
            elif "Default" in spec:
                value = spec["Default"]
                value = value if isinstance(value, str) else _text(value)
            else:
                missing.append(name)
                out[name] = Unknown(f"parameter {name} has no value: give --parameter {name}=...")
                continue
            if ptype.startswith("AWS::SSM::Parameter::"):
                out[name] = Unknown(f"known after deploy: parameter {name} is the value of SSM parameter {value}")
            elif ptype == "CommaDelimitedList" or ptype.startswith("List<"):
                out[name] = [v.strip() for v in value.split(",")] if value else []
            else:
                out[name] = value
        if missing:
            self.notes.append(f"parameters without a value (no Default, none given): {', '.join(missing)}; what "
                              "they feed is unknown (give --parameter NAME=VALUE)")
        return out

    # -- references ----------------------------------------------------------------------

    def _target(self, logical: str) -> tuple[str, Any] | None:
        """The type of a resource of the template, or an Unknown when it is not created."""
        decl = self.resources.get(logical)
        if not isinstance(decl, dict):
            return None
        created = self.created.get(logical, True)
        if created is False:
            return str(decl.get("Type")), self.ev.problem(
                f"{logical} is referenced but not created (its Condition {decl.get('Condition')} is false)", decl)
        if isinstance(created, Unknown):
            return str(decl.get("Type")), created
        return str(decl.get("Type")), None

    def model_id(self, logical: str) -> str:
        """The id a created resource of a supported type has in the model."""
        type_name = str(self.resources[logical].get("Type"))
        kind = _KINDS[type_name]
        name_prop = _NAME_PROPERTY.get(type_name)
        if name_prop is not None and logical not in self._resolving:
            name = self._own_property(logical, name_prop)
            if isinstance(name, str) and name:
                return name
        return synthetic_id(kind.prefix, logical)

    def _own_property(self, logical: str, prop: str) -> Any:
        """One property of a resource, resolved, for another resource's reference to it (a
        name that is an id, a VPC's CidrBlock): a string, an `Unknown` saying why it is not
        known (a problem in it is listed with the resource itself), or None when absent."""
        props = self.resources[logical].get("Properties")
        whole = is_function(props) is not None        # Properties: !If [...]: resolved whole
        if not isinstance(props, dict) or (prop not in props and not whole):
            return None
        if logical in self._resolving:
            return self.ev.problem(f"{logical}.{prop} refers back to itself (a circular reference)", props)
        self._resolving.add(logical)
        try:
            saved = self.ev.take_problems()
            if whole:
                chosen = self.ev.resolve(props)
                value = chosen.get(prop) if isinstance(chosen, dict) else chosen
            else:
                value = self.ev.resolve(props[prop])
            self.ev.take_problems()          # reported with the resource itself
            self.ev.problems.extend(saved)
        finally:
            self._resolving.discard(logical)
        if isinstance(value, Unknown):
            return Unknown(f"{logical}.{prop}: {value.reason}") if value.problem else value
        return value if isinstance(value, str) else None

    def ref_of(self, logical: str) -> Any | None:
        found = self._target(logical)
        if found is None:
            return None
        type_name, blocked = found
        if blocked is not None:
            return blocked
        if type_name == "AWS::EC2::EIP":
            return Unknown(f"known after deploy: {logical} (Ref of an EIP is its public IP)")
        if type_name in _KINDS:
            return self.model_id(logical)
        return Unknown(f"known after deploy: {logical} (Ref of {type_name})")

    def getatt_of(self, logical: str, attr: str) -> Any | None:
        found = self._target(logical)
        if found is None:
            return None
        type_name, blocked = found
        if blocked is not None:
            return blocked
        after = Unknown(f"known after deploy: {logical}.{attr}")
        if type_name not in _KINDS:
            return after
        own = self.model_id(logical)
        simple = _ID_ATTRIBUTES.get(type_name, ())
        if attr in simple:
            return own
        if type_name == "AWS::EC2::VPC":
            if attr == "CidrBlock":
                value = self._own_property(logical, "CidrBlock")
                return value if value is not None else Unknown(f"known after deploy: {logical}.CidrBlock")
            if attr == "DefaultSecurityGroup":
                return synthetic_id("sg", f"{logical}.DefaultSecurityGroup")
            if attr == "DefaultNetworkAcl":
                return synthetic_id("acl", f"{logical}.DefaultNetworkAcl")
            if attr == "CidrBlockAssociations":
                return [synthetic_id("vpc-cidr-assoc", f"{logical}.CidrBlock")]
        if type_name in ("AWS::EC2::Subnet", "AWS::EC2::SecurityGroup") and attr == "VpcId":
            value = self._own_property(logical, "VpcId")
            return value if value is not None else after
        if type_name == "AWS::EC2::Subnet" and attr in ("AvailabilityZone", "CidrBlock", "AvailabilityZoneId"):
            value = self._own_property(logical, attr)
            return value if value is not None else after
        if type_name == "AWS::EC2::EIP" and attr == "PublicIp":
            return after
        if type_name == "AWS::EC2::TransitGateway" and attr == "TransitGatewayArn":
            return f"arn:{self.partition}:ec2:{self.region}:{self.account}:transit-gateway/{own}"
        if type_name == "AWS::EKS::Cluster" and attr == "Arn":
            return f"arn:{self.partition}:eks:{self.region}:{self.account}:cluster/{own}"
        if type_name == "AWS::EKS::Cluster" and attr == "ClusterSecurityGroupId":
            return Unknown(f"known after deploy: {logical}.ClusterSecurityGroupId (the security group EKS creates)")
        return after

    # -- reading -------------------------------------------------------------------------

    def read(self) -> None:
        for name in self.ev.condition_defs:       # every condition, used or not, as CloudFormation checks them
            self.ev.condition(name, self.ev.condition_defs[name])
        for logical, decl in self.resources.items():
            line = self.resources.line_for(logical)
            if not isinstance(logical, str) or not _LOGICAL_ID.fullmatch(logical):
                raise IacError(f"{self.file}:{line}: {logical!r} is not a logical id (letters and digits only)")
            if not isinstance(decl, dict):
                raise IacError(f"{self.file}:{line}: resource {logical} is not a mapping")
            if not isinstance(decl.get("Type"), str):
                raise IacError(f"{self.file}:{line}: resource {logical} has no Type")
            props = decl.get("Properties", Map(line))
            if not isinstance(props, dict):
                raise IacError(f"{self.file}:{line_of(props, line)}: the Properties of {logical} are not a mapping")
            if "Condition" in decl:
                value = self.ev.condition(decl["Condition"], decl)
                self.created[str(logical)] = value
        for problem, pline in self.ev.take_problems():
            self.problems.append(SourceProblem("Conditions", problem, self.file, pline))
        # Every resource created, in template order; those of supported types are resolved
        # and read by their handlers in dependency order (a route needs its table first).
        order = sorted(self.resources, key=lambda lid: _PHASE.get(str(self.resources[lid]["Type"]), 0))
        for logical in order:
            decl = self.resources[logical]
            type_name = str(decl["Type"])
            line = self.resources.line_for(logical)
            created = self.created.get(logical, True)
            if created is False:
                self.notes.append(f"{logical} ({type_name}) is not created: its Condition "
                                  f"{decl.get('Condition')} is false")
                continue
            depends = decl.get("DependsOn", [])
            for name in [depends] if isinstance(depends, str) else depends if isinstance(depends, list) else []:
                if name not in self.resources:
                    self.problems.append(SourceProblem(str(logical), f"DependsOn {name!r}: no resource of that name",
                                                       self.file, decl.line_for("DependsOn")))
            # Every resource's properties are resolved, of unsupported types too: a template
            # problem (an unknown function, a reference to nothing) is listed wherever it is.
            props = decl.get("Properties", Map(line))
            resolved = self.ev.resolve(props)
            for problem, pline in self.ev.take_problems():
                self.problems.append(SourceProblem(str(logical), problem, self.file, pline or line))
            if isinstance(created, Unknown):
                self.problems.append(SourceProblem(str(logical), f"whether it is created is unknown: {created.reason}",
                                                   self.file, line))
            if type_name not in _KINDS:
                self.unsupported.append(Unsupported(str(logical), type_name, "create", self.file, line))
                continue
            if is_function(props) is not None and isinstance(resolved, Map):
                props = resolved          # Properties: !If [...]: the branch taken, with its lines
            res = _Res(str(logical), type_name, decl, props, resolved if isinstance(resolved, Map) else Map(line), line)
            res.unknown_creation = created if isinstance(created, Unknown) else None
            self.res[res.logical] = res
            first = len(self.declared)
            _HANDLERS[type_name](self, res)
            # Its id in the model: its own, or that of what it completes (a route's route table);
            # declared before what AWS creates with it (a VPC's main route table ...).
            self.declared.insert(first, Declared(res.logical, type_name, _KINDS[type_name].model,
                                                 res.owner_id or self.model_id(res.logical), "create", self.file,
                                                 line))
            if res.unknown_creation is not None:
                for item in self.items:
                    if item.address == res.logical or item.address.startswith(res.logical + "."):
                        for name in _all_fields(item.call):
                            item.mark(name, f"whether {res.logical} is created is unknown: {res.unknown_creation.reason}")
        self._finish()
        self._outputs()

    def _outputs(self) -> None:
        """Outputs are not modelled, but a template problem in one (an unknown function, a
        reference to nothing) is listed as CloudFormation would refuse the template for it."""
        outputs = _section(self.t, "Outputs", self.file)
        for name, output in outputs.items():
            if isinstance(output, dict) and "Condition" in output:
                if self.ev.condition(output["Condition"], output) is False:
                    continue
            self.ev.resolve(output)
            for problem, pline in self.ev.take_problems():
                self.problems.append(SourceProblem(f"Outputs.{name}", problem, self.file,
                                                   pline or outputs.line_for(name)))

    # -- building items ------------------------------------------------------------------

    def item(self, call: tuple[str, str], body: dict[str, Any], res: _Res, *, address: str | None = None,
             line: int | None = None, model_id: str | None = None) -> _Item:
        item = _Item(call, body, address or res.logical, line if line is not None else res.line)
        self.items.append(item)
        if model_id is not None:
            self.by_id[model_id] = item
        return item

    def value(self, res: _Res, item: _Item, prop: str, model_field: str, default: Any = None, *,
              quiet: bool = False, kind: str = "str") -> Any:
        """A property's value for `model_field` (its line recorded; `default` when the
        template leaves it out; `None` and the field marked unknown when it is unknown, or
        not of its `kind` (`_KIND_CHECKS`), which is a problem too)."""
        if prop not in res.props:
            return default
        item.attributes[model_field] = res.line_of(prop) or 0
        if prop not in res.resolved:       # AWS::NoValue
            return default
        value = res.resolved[prop]
        found = first_unknown(value)
        if found is not None:
            item.mark(model_field, _reason(found, res, prop), quiet=quiet)
            return None
        return self.checked(res, item, prop, model_field, value, kind)

    def checked(self, res: _Res, item: _Item, what: str, model_field: str, value: Any, kind: str) -> Any:
        """`value` as a `kind` (a number given for a string is its text, a numeric string for
        a number is the number), else None with a problem and `model_field` unknown."""
        if kind == "any":
            return value
        if kind in ("str", "cidr") and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = _text(value)
            if kind == "str":
                return text
            try:
                ipaddress.ip_network(text, strict=False)
                return text
            except ValueError:
                pass
        elif kind == "int" and not isinstance(value, bool):
            try:
                return int(str(value))
            except ValueError:
                pass
        elif kind == "policy" and isinstance(value, (str, dict)):
            return value
        elif kind in _KIND_CHECKS and isinstance(value, _KIND_CHECKS[kind]):
            return value
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        message = f"{what} is not {_KIND_NAMES.get(kind, kind)}: {shown}"
        where = what.split(".")[0].split("[")[0]
        self.problem(res, message, where if where in res.props else None)
        item.mark(model_field, f"{res.logical}.{message}")
        return None

    def ref(self, res: _Res, item: _Item, prop: str, model_field: str, prefix: str, *, required: bool = True,
            value: Any = None) -> str:
        """An id property: the id it names, or an unknown id (the field marked) when it names
        nothing known before deploy."""
        if value is None:
            value = self.value(res, item, prop, model_field, kind="any")
        if isinstance(value, str) and value:
            return value
        if value is not None and not isinstance(value, str):
            self.problem(res, f"{prop} is not an id: {value!r}", prop)
        elif prop not in res.props and not required:
            return ""
        elif prop not in res.props:
            self.problem(res, f"{prop} is missing", prop)
        reason = item.unknown.get(model_field) or f"{res.logical}.{prop} names nothing"
        item.mark(model_field, reason)
        return unknown_id(prefix, f"{res.logical}.{prop}")

    def ids(self, res: _Res, item: _Item, prop: str, model_field: str, prefix: str) -> list[str]:
        """A list-of-ids property (an unknown member makes the field unknown)."""
        value = self.value(res, item, prop, model_field, [], kind="any")
        if value is None:
            return [unknown_id(prefix, f"{res.logical}.{prop}")]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(res, f"{prop} is not a list of ids", prop)
            item.mark(model_field, f"{res.logical}.{prop} is not a list of ids")
            return [unknown_id(prefix, f"{res.logical}.{prop}")]
        return list(value)

    def flag(self, res: _Res, item: _Item, prop: str, model_field: str, default: bool | None) -> bool | None:
        value = self.value(res, item, prop, model_field, default, kind="any")
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        self.problem(res, f"{prop} is not a boolean: {value!r}", prop)
        item.mark(model_field, f"{res.logical}.{prop} is not a boolean")
        return None

    def tags(self, res: _Res, item: _Item, prop: str = "Tags") -> list[dict[str, str]]:
        # Tags unknown before deploy (a Name from ${AWS::StackName}) are quiet: no analyzer reads
        # tags (the scope reads a VPC's, and says when they are unknown); rules reading one are ERROR.
        value = self.value(res, item, prop, "tags", [], quiet=True, kind="any")
        if value is None:
            return []
        if not isinstance(value, (list, dict)):
            self.checked(res, item, prop, "tags", value, "list")
            return []
        if isinstance(value, dict):          # EKS and a few others take a mapping
            return [{"Key": str(k), "Value": _text(v)} for k, v in value.items()]
        out = []
        for tag in value if isinstance(value, list) else []:
            if isinstance(tag, dict) and "Key" in tag:
                out.append({"Key": _text(tag["Key"]), "Value": _text(tag.get("Value", ""))})
        return out

    def problem(self, res: _Res, message: str, prop: str | None = None) -> None:
        line = res.line_of(prop) if prop else res.line
        self.problems.append(SourceProblem(res.logical, message, self.file, line))

    def owner(self, res: _Res, call: tuple[str, str], model_id: str, what: str, prop: str) -> _Item | None:
        """The item of the resource `model_id` names (a route's table ...), or None with a
        problem saying why it is not modelled (an id the template does not declare)."""
        found = self.by_id.get(model_id)
        if found is not None and found.call == call:
            res.owner_id = model_id
            return found
        if "(known after apply" in model_id:
            self.problem(res, f"{prop} is unknown, so this {what} is not modelled: the assessment of the "
                              f"{what.split(' ')[0]} it belongs to is incomplete", prop)
        else:
            self.problem(res, f"{prop} {model_id} is not declared in this template: this {what} is not modelled "
                              "(evaluate over a snapshot of the account to include it)", prop)
        return None

    # -- implicit resources and per-resource answers ----------------------------------------

    def _finish(self) -> None:
        for fn in _FINISHERS:
            fn(self)

    def source(self, regions: tuple[str, ...], sha: str, version: str) -> PlanSource:
        builder = RecordBuilder(KIND, self.file, self.account)
        for item in self.items:
            builder.add(self.region, item.call, item.body, address=item.address, line=item.line,
                        attributes=item.attributes, unknown=item.unknown, quiet=item.quiet & set(item.unknown))
        for call, params, page in self.calls:
            builder.add_call(self.region, call, params, page)
        return PlanSource(KIND, self.file, sha, version, self.account, regions, builder.records(regions),
                          tuple(self.declared), tuple(self.unsupported), tuple(self.problems), (),
                          tuple(self.notes))


_KIND_CHECKS: dict[str, type | tuple[type, ...]] = {"list": list, "dict": dict, "bool": bool}
_KIND_NAMES = {"str": "a string", "cidr": "a CIDR block", "int": "a number", "list": "a list", "dict": "a mapping",
               "policy": "a policy (a JSON object or string)", "bool": "a boolean"}


def _reason(found: Unknown, res: _Res, prop: str) -> str:
    if found.problem:
        return f"{res.logical}.{prop}: {found.reason}"
    return found.reason if f"{res.logical}" in found.reason else f"{res.logical}.{prop}: {found.reason}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _section(template: Map, name: str, file: str) -> Map:
    value = template.get(name, Map(template.line))
    if not isinstance(value, dict):
        raise IacError(f"{file}:{template.line_for(name)}: {name} is not a mapping")
    return value if isinstance(value, Map) else Map(template.line, value)


# Types whose model id is a name property when the template gives one.
_NAME_PROPERTY = {"AWS::EKS::Cluster": "Name", "AWS::RDS::DBInstance": "DBInstanceIdentifier",
                  "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
                  "AWS::ElasticLoadBalancing::LoadBalancer": "LoadBalancerName"}
# GetAtt attributes that are the resource's own id.
_ID_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "AWS::EC2::VPC": ("VpcId",), "AWS::EC2::Subnet": ("SubnetId",), "AWS::EC2::RouteTable": ("RouteTableId",),
    "AWS::EC2::InternetGateway": ("InternetGatewayId",), "AWS::EC2::EgressOnlyInternetGateway": ("Id",),
    "AWS::EC2::NatGateway": ("NatGatewayId",), "AWS::EC2::EIP": ("AllocationId",),
    "AWS::EC2::SecurityGroup": ("GroupId",), "AWS::EC2::NetworkAcl": ("Id",), "AWS::EC2::VPCEndpoint": ("Id",),
    "AWS::EC2::TransitGateway": ("Id",), "AWS::EC2::TransitGatewayAttachment": ("Id",),
    "AWS::EC2::TransitGatewayVpcAttachment": ("Id",), "AWS::EC2::TransitGatewayRouteTable": ("TransitGatewayRouteTableId",),
    "AWS::EC2::VPCPeeringConnection": ("Id",), "AWS::EC2::Instance": ("InstanceId",),
    "AWS::EC2::NetworkInterface": ("Id",), "AWS::EC2::VPNGateway": ("VPNGatewayId",), "AWS::EC2::FlowLog": ("Id",),
    "AWS::EC2::PrefixList": ("PrefixListId",), "AWS::EC2::CarrierGateway": ("CarrierGatewayId",),
    "AWS::RDS::DBInstance": ("DBInstanceIdentifier",),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("LoadBalancerArn",),
}

Handler = Callable[[_Reader, _Res], None]
_HANDLERS: dict[str, Handler] = {}
_FINISHERS: list[Callable[[_Reader], None]] = []
# Read order: resources first, then what completes them (a route after its table).
_PHASE: dict[str, int] = {}


def _all_fields(call: tuple[str, str]) -> tuple[str, ...]:
    """Every model field of the resources a listing's items give (those of `Resource` itself
    aside): all unknown for a resource whose creation is unknown."""
    import dataclasses

    from auditor.model.registry import REGISTRY
    from auditor.model.types import Resource

    base = {f.name for f in dataclasses.fields(Resource)}
    for entry in REGISTRY:
        if call in (c.call for c in entry.calls):
            return tuple(f.name for f in dataclasses.fields(entry.model) if f.name not in base)
    return ()


def handler(type_name: str, phase: int = 0) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[type_name] = fn
        _PHASE[type_name] = phase
        return fn
    return register


def finisher(fn: Callable[[_Reader], None]) -> Callable[[_Reader], None]:
    _FINISHERS.append(fn)
    return fn


def read_template(data: bytes, file: str, *, account: str | None = None, region: str | None = None,
                  parameters: Mapping[str, str] | None = None) -> PlanSource:
    """Read a CloudFormation template (YAML or JSON) into a `PlanSource`: every resource of a
    supported type as AWS would describe it once the stack is created in `account` and
    `region`. Raises `IacError` for a file that is not a template (naming file and line), a
    template needing a transform, or a missing region."""
    template = decode(data, file)
    if not isinstance(template, Map):
        raise IacError(f"{file}:{line_of(template, 1)}: not a CloudFormation template: the document is "
                       f"a {type(template).__name__}, not a mapping")
    if "Resources" not in template:
        keys = ", ".join(str(k) for k in list(template)[:8]) or "none"
        raise IacError(f"{file}:{template.line}: not a CloudFormation template: it has no Resources section "
                       f"(its top-level keys: {keys})")
    resources = template["Resources"]
    if not isinstance(resources, Map) or not resources:
        raise IacError(f"{file}:{template.line_for('Resources')}: Resources must be a mapping of at least "
                       "one resource")
    for key in template:
        if key not in _SECTIONS:
            raise IacError(f"{file}:{template.line_for(key)}: {key!r} is not a section of a CloudFormation "
                           f"template (sections: {', '.join(_SECTIONS)})")
    if "Transform" in template or _has_transform(template):
        raise IacError(f"{file}:{template.line_for('Transform')}: the template uses a transform "
                       f"({_transform_names(template)}): CloudFormation expands it only when deploying; process "
                       "the template first (aws cloudformation package, or sam build / sam package for SAM, "
                       "or take the processed template: aws cloudformation get-template --template-stage "
                       "Processed) and evaluate the result")
    version = template.get("AWSTemplateFormatVersion", "")
    version = str(version) if version is not None else ""
    if version and version != "2010-09-09":
        raise IacError(f"{file}:{template.line_for('AWSTemplateFormatVersion')}: AWSTemplateFormatVersion "
                       f"{version!r}: the only version CloudFormation knows is 2010-09-09")
    if not region:
        raise IacError(f"{file}: a template does not say its region: give --region")
    notes: list[str] = []
    if not account:
        account = DEFAULT_ACCOUNT
        notes.append(f"the template does not say its account: evaluated as account {DEFAULT_ACCOUNT} "
                     "(give --account)")
    reader = _Reader(template, file, account, region, parameters or {}, notes)
    reader.read()
    sha = "sha256:" + hashlib.sha256(data).hexdigest()
    return reader.source((region,), sha, version)


def _has_transform(value: Any, depth: int = 0) -> bool:
    if isinstance(value, dict):
        return any(k == "Fn::Transform" or (isinstance(k, str) and k.startswith("Fn::ForEach"))
                   or _has_transform(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_transform(v, depth + 1) for v in value)
    return False


def _transform_names(template: Map) -> str:
    found = template.get("Transform")
    if isinstance(found, list):
        return ", ".join(_text(f) for f in found)
    if isinstance(found, str):
        return found
    return "Fn::Transform"

# -- handlers: the VPC and its implicit resources ----------------------------------------------

_VPCS, _SUBNETS, _RTBS = ("ec2", "DescribeVpcs"), ("ec2", "DescribeSubnets"), ("ec2", "DescribeRouteTables")
_IGWS, _EIGWS, _NATS = ("ec2", "DescribeInternetGateways"), ("ec2", "DescribeEgressOnlyInternetGateways"), (
    "ec2", "DescribeNatGateways")
_EIPS, _SGS, _SG_RULES = ("ec2", "DescribeAddresses"), ("ec2", "DescribeSecurityGroups"), (
    "ec2", "DescribeSecurityGroupRules")
_NACLS, _VPCES, _VGWS = ("ec2", "DescribeNetworkAcls"), ("ec2", "DescribeVpcEndpoints"), ("ec2", "DescribeVpnGateways")
_TGWS, _TGW_ATTS, _TGW_VPC_ATTS = ("ec2", "DescribeTransitGateways"), ("ec2", "DescribeTransitGatewayAttachments"), (
    "ec2", "DescribeTransitGatewayVpcAttachments")
_TGW_RTS, _PCXS, _INSTANCES = ("ec2", "DescribeTransitGatewayRouteTables"), (
    "ec2", "DescribeVpcPeeringConnections"), ("ec2", "DescribeInstances")
_ENIS, _FLOWS, _PLS = ("ec2", "DescribeNetworkInterfaces"), ("ec2", "DescribeFlowLogs"), (
    "ec2", "DescribeManagedPrefixLists")
_EKS, _RDS = ("eks", "DescribeCluster"), ("rds", "DescribeDBInstances")
_ELBV2, _ELB = ("elbv2", "DescribeLoadBalancers"), ("elb", "DescribeLoadBalancers")


def _pending_ip(what: str) -> str:
    """A public IPv4 address that will exist once deployed, whose value AWS picks then: the
    rules asking whether there is one get a true answer; the text says what it is."""
    return f"(public IP assigned at deploy: {what})"


@handler("AWS::EC2::VPC", 0)
def _vpc(r: _Reader, res: _Res) -> None:
    vid = r.model_id(res.logical)
    item = r.item(_VPCS, {}, res, model_id=vid)
    cidr = r.value(res, item, "CidrBlock", "cidr_blocks", kind="cidr")
    if "CidrBlock" not in res.props:
        item.mark("cidr_blocks", f"known after deploy: {res.logical}.CidrBlock (allocated from an IPAM pool)")
    elif cidr is not None and not isinstance(cidr, str):
        r.problem(res, f"CidrBlock is not a CIDR: {cidr!r}", "CidrBlock")
        item.mark("cidr_blocks", f"{res.logical}.CidrBlock is not a CIDR")
        cidr = None
    item.body.update({
        "VpcId": vid, "CidrBlock": cidr or "", "IsDefault": False, "State": "available", "OwnerId": r.account,
        "InstanceTenancy": _text(res.raw("InstanceTenancy") or "default"),
        "CidrBlockAssociationSet": [{"CidrBlock": cidr, "AssociationId": synthetic_id("vpc-cidr-assoc", res.logical),
                                     "CidrBlockState": {"State": "associated"}}] if cidr else [],
        "Ipv6CidrBlockAssociationSet": [], "Tags": r.tags(res, item)})
    for prop, attribute, key, model_field, default in (
            ("EnableDnsSupport", "enableDnsSupport", "EnableDnsSupport", "dns_support", True),
            ("EnableDnsHostnames", "enableDnsHostnames", "EnableDnsHostnames", "dns_hostnames", False)):
        flag = r.flag(res, item, prop, model_field, default)
        page: dict[str, Any] = {"VpcId": vid}
        if flag is not None:
            page[key] = {"Value": flag}
        r.calls.append((("ec2", "DescribeVpcAttribute"), {"VpcId": vid, "Attribute": attribute}, page))
    _vpc_implicit(r, item)


@handler("AWS::EC2::VPCCidrBlock", 1)
def _vpc_cidr(r: _Reader, res: _Res) -> None:
    scratch = _Item(_VPCS, {}, res.logical, res.line)
    vid = r.ref(res, scratch, "VpcId", "cidr_blocks", "vpc")
    vpc = r.owner(res, _VPCS, vid, "CIDR block", "VpcId")
    if vpc is None:
        return
    _merge(vpc, scratch, "cidr_blocks", res)
    if "CidrBlock" in res.props or "Ipv4IpamPoolId" in res.props:
        cidr = r.value(res, scratch, "CidrBlock", "cidr_blocks", kind="cidr")
        if isinstance(cidr, str) and cidr:
            vpc.body["CidrBlockAssociationSet"].append({
                "CidrBlock": cidr, "AssociationId": r.model_id(res.logical), "CidrBlockState": {"State": "associated"}})
        else:
            vpc.mark("cidr_blocks", scratch.unknown.get("cidr_blocks")
                     or f"known after deploy: {res.logical}.CidrBlock (allocated from an IPAM pool)")
    for prop in ("Ipv6CidrBlock", "AmazonProvidedIpv6CidrBlock", "Ipv6IpamPoolId"):
        if prop not in res.props:
            continue
        value = r.value(res, scratch, prop, "ipv6_cidr_blocks", kind="cidr" if prop == "Ipv6CidrBlock" else "any")
        if prop == "Ipv6CidrBlock" and isinstance(value, str) and value:
            vpc.body["Ipv6CidrBlockAssociationSet"].append({"Ipv6CidrBlock": value,
                                                            "Ipv6CidrBlockState": {"State": "associated"}})
        elif prop != "AmazonProvidedIpv6CidrBlock" or value is not False:
            vpc.mark("ipv6_cidr_blocks", scratch.unknown.get("ipv6_cidr_blocks")
                     or f"known after deploy: {res.logical}.Ipv6CidrBlock (the IPv6 block AWS assigns)")
        vpc.attributes.setdefault("ipv6_cidr_blocks", res.line_of(prop) or 0)


def _merge(owner: _Item, scratch: _Item, model_field: str, res: _Res) -> None:
    """What a completing resource (a route, an association) read, onto the item it completes:
    its unknowns mark `model_field` of the owner, and the field's line is the first such
    resource's."""
    owner.attributes.setdefault(model_field, res.line or 0)
    for reason in scratch.unknown.values():
        owner.mark(model_field, reason)
    if res.unknown_creation is not None:
        owner.mark(model_field, f"whether {res.logical} is created is unknown: {res.unknown_creation.reason}")


def _vpc_cidrs(r: _Reader, vpc_id: str) -> tuple[list[str], str | None]:
    """The IPv4 blocks of a VPC of the template, and why they are unknown (None: known)."""
    vpc = r.by_id.get(vpc_id)
    if vpc is None or vpc.call != _VPCS:
        return [], f"the CIDR blocks of VPC {vpc_id} (not declared in this template)"
    if "cidr_blocks" in vpc.unknown:
        return [], vpc.unknown["cidr_blocks"]
    return [a["CidrBlock"] for a in vpc.body.get("CidrBlockAssociationSet", [])], None


@handler("AWS::EC2::Subnet", 1)
def _subnet(r: _Reader, res: _Res) -> None:
    sid = r.model_id(res.logical)
    item = r.item(_SUBNETS, {}, res, model_id=sid)
    vpc = r.ref(res, item, "VpcId", "vpc_id", "vpc")
    cidr = r.value(res, item, "CidrBlock", "cidr", kind="cidr")
    ipv6_native = r.flag(res, item, "Ipv6Native", "cidr", False)
    if "CidrBlock" not in res.props and not ipv6_native:
        item.mark("cidr", f"known after deploy: {res.logical}.CidrBlock (allocated from an IPAM pool)")
    az = r.value(res, item, "AvailabilityZone", "availability_zone")
    az_id = r.value(res, item, "AvailabilityZoneId", "availability_zone_id")
    if "AvailabilityZone" not in res.props:
        if "AvailabilityZoneId" in res.props:
            item.mark("availability_zone", f"known after deploy: {res.logical}.AvailabilityZone (the zone name "
                                           f"of zone id {az_id or 'unknown'} in this account)")
        else:
            item.mark("availability_zone", f"known after deploy: {res.logical}.AvailabilityZone (the template "
                                           "gives none: AWS picks a zone)")
    if "AvailabilityZoneId" not in res.props:
        item.mark("availability_zone_id", f"known after deploy: {res.logical}.AvailabilityZoneId", quiet=True)
    ipv6 = r.value(res, item, "Ipv6CidrBlock", "ipv6_cidrs", kind="cidr")
    if "Ipv6CidrBlocks" in res.props:
        item.mark("ipv6_cidrs", f"known after deploy: {res.logical}.Ipv6CidrBlocks")
    item.body.update({
        "SubnetId": sid, "VpcId": vpc, "CidrBlock": cidr if isinstance(cidr, str) else "",
        "AvailabilityZone": az if isinstance(az, str) else "", "State": "available", "OwnerId": r.account,
        "MapPublicIpOnLaunch": r.flag(res, item, "MapPublicIpOnLaunch", "map_public_ip_on_launch", False),
        "AssignIpv6AddressOnCreation": r.flag(res, item, "AssignIpv6AddressOnCreation", "assign_ipv6_on_creation",
                                              False),
        "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": ipv6, "Ipv6CidrBlockState": {"State": "associated"}}]
        if isinstance(ipv6, str) and ipv6 else [],
        "Tags": r.tags(res, item)})
    if isinstance(az_id, str):
        item.body["AvailabilityZoneId"] = az_id


@handler("AWS::EC2::RouteTable", 2)
def _route_table(r: _Reader, res: _Res) -> None:
    rid = r.model_id(res.logical)
    item = r.item(_RTBS, {}, res, model_id=rid)
    item.body.update({"RouteTableId": rid, "VpcId": r.ref(res, item, "VpcId", "vpc_id", "vpc"), "Routes": [],
                      "Associations": [], "PropagatingVgws": [], "OwnerId": r.account, "Tags": r.tags(res, item)})


# Route target properties -> the key DescribeRouteTables gives them under, and the prefix of
# an id left unknown ("" when the kind itself is unknown: GatewayId may be an IGW or a VGW).
_ROUTE_TARGETS = (("GatewayId", "GatewayId", ""), ("NatGatewayId", "NatGatewayId", "nat"),
                  ("TransitGatewayId", "TransitGatewayId", "tgw"),
                  ("VpcPeeringConnectionId", "VpcPeeringConnectionId", "pcx"),
                  ("EgressOnlyInternetGatewayId", "EgressOnlyInternetGatewayId", "eigw"),
                  ("InstanceId", "InstanceId", "i"), ("NetworkInterfaceId", "NetworkInterfaceId", "eni"),
                  ("VpcEndpointId", "GatewayId", "vpce"), ("CarrierGatewayId", "CarrierGatewayId", "cagw"),
                  ("LocalGatewayId", "LocalGatewayId", "lgw"), ("CoreNetworkArn", "CoreNetworkArn", ""))
_ROUTE_DESTINATIONS = ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId")


@handler("AWS::EC2::Route", 3)
def _route(r: _Reader, res: _Res) -> None:
    scratch = _Item(_RTBS, {}, res.logical, res.line)
    rid = r.ref(res, scratch, "RouteTableId", "routes", "rtb")
    table = r.owner(res, _RTBS, rid, "route", "RouteTableId")
    if table is None:
        return
    route: dict[str, Any] = {"State": "active", "Origin": "CreateRoute"}
    given = [d for d in _ROUTE_DESTINATIONS if d in res.props]
    if len(given) != 1:
        r.problem(res, f"a route takes one destination ({', '.join(_ROUTE_DESTINATIONS)}), "
                       f"not {len(given) or 'none'}")
        scratch.mark("routes", f"{res.logical}: a route without one destination")
    for prop in given[:1]:
        value = r.value(res, scratch, prop, "routes", kind="str" if "Prefix" in prop else "cidr")
        route[prop] = value if isinstance(value, str) else unknown_id("pl" if "Prefix" in prop else "",
                                                                      f"{res.logical}.{prop}")
    targets = [t for t in _ROUTE_TARGETS if t[0] in res.props]
    if len(targets) != 1:
        r.problem(res, f"a route takes one target, not {len(targets) or 'none'}")
        scratch.mark("routes", f"{res.logical}: a route without one target")
    for prop, key, prefix in targets[:1]:
        route[key] = r.ref(res, scratch, prop, "routes", prefix)
    table.body["Routes"].append(route)
    _merge(table, scratch, "routes", res)


@handler("AWS::EC2::SubnetRouteTableAssociation", 3)
def _subnet_rt_association(r: _Reader, res: _Res) -> None:
    scratch = _Item(_RTBS, {}, res.logical, res.line)
    rid = r.ref(res, scratch, "RouteTableId", "subnet_ids", "rtb")
    sid = r.ref(res, scratch, "SubnetId", "subnet_ids", "subnet")
    subnet = r.by_id.get(sid)
    table = r.owner(res, _RTBS, rid, "route table association", "RouteTableId")
    if table is None:
        if subnet is not None:
            subnet.mark("route_table_id", f"{res.logical}: the subnet's route table {rid} is not in this template")
        return
    if "subnet_ids" in scratch.unknown:
        # Which subnet the table serves is unknown: so is the table of every subnet of its VPC.
        for other in r.items:
            if other.call == _SUBNETS and other.body.get("VpcId") == table.body.get("VpcId"):
                other.mark("route_table_id", scratch.unknown["subnet_ids"])
    table.body["Associations"].append({
        "RouteTableAssociationId": r.model_id(res.logical), "RouteTableId": rid, "SubnetId": sid, "Main": False,
        "AssociationState": {"State": "associated"}})
    _merge(table, scratch, "subnet_ids", res)


@handler("AWS::EC2::GatewayRouteTableAssociation", 3)
def _gateway_rt_association(r: _Reader, res: _Res) -> None:
    scratch = _Item(_RTBS, {}, res.logical, res.line)
    rid = r.ref(res, scratch, "RouteTableId", "gateway_ids", "rtb")
    gid = r.ref(res, scratch, "GatewayId", "gateway_ids", "")
    table = r.owner(res, _RTBS, rid, "route table association", "RouteTableId")
    if table is None:
        return
    table.body["Associations"].append({
        "RouteTableAssociationId": r.model_id(res.logical), "RouteTableId": rid, "GatewayId": gid, "Main": False,
        "AssociationState": {"State": "associated"}})
    _merge(table, scratch, "gateway_ids", res)


@handler("AWS::EC2::InternetGateway", 2)
def _igw(r: _Reader, res: _Res) -> None:
    gid = r.model_id(res.logical)
    item = r.item(_IGWS, {}, res, model_id=gid)
    item.body.update({"InternetGatewayId": gid, "Attachments": [], "OwnerId": r.account, "Tags": r.tags(res, item)})


@handler("AWS::EC2::VPCGatewayAttachment", 3)
def _gateway_attachment(r: _Reader, res: _Res) -> None:
    scratch = _Item(_IGWS, {}, res.logical, res.line)
    vid = r.ref(res, scratch, "VpcId", "attached_vpc_ids", "vpc")
    if "InternetGatewayId" in res.props:
        gid = r.ref(res, scratch, "InternetGatewayId", "attached_vpc_ids", "igw")
        gateway = r.owner(res, _IGWS, gid, "gateway attachment", "InternetGatewayId")
        if gateway is not None:
            gateway.body["Attachments"].append({"VpcId": vid, "State": "available"})
            _merge(gateway, scratch, "attached_vpc_ids", res)
    elif "VpnGatewayId" in res.props:
        gid = r.ref(res, scratch, "VpnGatewayId", "attached_vpc_ids", "vgw")
        gateway = r.owner(res, _VGWS, gid, "gateway attachment", "VpnGatewayId")
        if gateway is not None:
            gateway.body["VpcAttachments"].append({"VpcId": vid, "State": "attached"})
            _merge(gateway, scratch, "attached_vpc_ids", res)
    else:
        r.problem(res, "a gateway attachment names neither InternetGatewayId nor VpnGatewayId")


@handler("AWS::EC2::EgressOnlyInternetGateway", 2)
def _eigw(r: _Reader, res: _Res) -> None:
    gid = r.model_id(res.logical)
    item = r.item(_EIGWS, {}, res, model_id=gid)
    vid = r.ref(res, item, "VpcId", "attached_vpc_ids", "vpc")
    item.body.update({"EgressOnlyInternetGatewayId": gid, "Attachments": [{"VpcId": vid, "State": "attached"}],
                      "Tags": r.tags(res, item)})


def _vpc_of_subnet(r: _Reader, item: _Item, subnet_id: str, model_field: str, what: str) -> str:
    """The VPC of a subnet of the template (an unknown id, `model_field` marked, otherwise)."""
    subnet = r.by_id.get(subnet_id)
    if subnet is not None and subnet.call == _SUBNETS:
        if "vpc_id" in subnet.unknown:
            item.mark(model_field, subnet.unknown["vpc_id"])
        return str(subnet.body.get("VpcId", ""))
    item.mark(model_field, f"the VPC of subnet {subnet_id} ({what}; the subnet is not declared in this template)")
    return unknown_id("vpc", f"the VPC of {subnet_id}")


@handler("AWS::EC2::NatGateway", 2)
def _nat(r: _Reader, res: _Res) -> None:
    nid = r.model_id(res.logical)
    item = r.item(_NATS, {}, res, model_id=nid)
    sid = r.ref(res, item, "SubnetId", "subnet_id", "subnet")
    item.attributes.setdefault("vpc_id", item.attributes.get("subnet_id", res.line or 0))
    connectivity = _text(r.value(res, item, "ConnectivityType", "connectivity", "public") or "public")
    addresses: list[dict[str, Any]] = []
    if connectivity == "public":
        if "AllocationId" in res.props:
            alloc = r.ref(res, item, "AllocationId", "public_ips", "eipalloc")
            addresses.append({"AllocationId": alloc, "IsPrimary": True,
                              "PublicIp": _pending_ip(f"the Elastic IP {alloc} of {res.logical}")})
        else:
            r.problem(res, "a public NAT gateway needs AllocationId (an Elastic IP)", None)
            item.mark("public_ips", f"{res.logical}: a public NAT gateway without AllocationId")
    vpc = _vpc_of_subnet(r, item, sid, "vpc_id", f"of {res.logical}")
    # The network interface AWS creates for it in its subnet (requester-managed).
    eni_id = synthetic_id("eni", f"{res.logical}.NetworkInterface")
    for address in addresses:
        address["NetworkInterfaceId"] = eni_id
    item.body.update({"NatGatewayId": nid, "SubnetId": sid, "ConnectivityType": connectivity, "VpcId": vpc,
                      "State": "available", "NatGatewayAddresses": addresses, "Tags": r.tags(res, item)})
    eni = _Item(_ENIS, {"NetworkInterfaceId": eni_id, "SubnetId": sid, "VpcId": vpc, "InterfaceType": "nat_gateway",
                        "Description": f"Interface for NAT Gateway {nid}", "RequesterManaged": True,
                        "Status": "in-use", "Groups": [], "PrivateIpAddresses": [], "OwnerId": r.account,
                        "SourceDestCheck": False, "TagSet": []}, f"{res.logical}.NetworkInterface", res.line)
    if addresses:
        eni.body["Association"] = {"PublicIp": addresses[0]["PublicIp"], "AllocationId": addresses[0]["AllocationId"]}
    for model_field in ("vpc_id", "subnet_id"):
        if model_field in item.unknown:
            eni.mark(model_field, item.unknown[model_field])
    if "public_ips" in item.unknown:
        eni.mark("public_ips", item.unknown["public_ips"])
    eni.mark("private_ips", f"known after deploy: {res.logical} (the private IP AWS picks)", quiet=True)
    r.items.append(eni)
    r.by_id[eni_id] = eni
    r.declared.append(Declared(eni.address, res.type, "network_interface", eni_id, "create", r.file, res.line))


@handler("AWS::EC2::EIP", 2)
def _eip(r: _Reader, res: _Res) -> None:
    aid = r.model_id(res.logical)
    item = r.item(_EIPS, {}, res, model_id=aid)
    item.body.update({"AllocationId": aid, "PublicIp": _pending_ip(f"{res.logical}.PublicIp"),
                      "Domain": _text(r.value(res, item, "Domain", "domain", "vpc") or "vpc"),
                      "Tags": r.tags(res, item)})
    if "InstanceId" in res.props:
        item.body["InstanceId"] = r.ref(res, item, "InstanceId", "instance_id", "i")
        item.body["AssociationId"] = synthetic_id("eipassoc", res.logical)


@handler("AWS::EC2::EIPAssociation", 3)
def _eip_association(r: _Reader, res: _Res) -> None:
    scratch = _Item(_EIPS, {}, res.logical, res.line)
    raw = res.props.get("EIP")
    if "AllocationId" in res.props:
        aid = r.ref(res, scratch, "AllocationId", "association_id", "eipalloc")
    elif isinstance(raw, dict) and set(raw) == {"Ref"} and str(raw["Ref"]) in r.res:
        aid = r.model_id(str(raw["Ref"]))       # Ref of an EIP is its public IP: the same address
        scratch.attributes["association_id"] = res.line_of("EIP") or 0
    else:
        r.problem(res, "EIPAssociation names its address by AllocationId or by EIP (a Ref to an AWS::EC2::EIP "
                       "of this template); other addresses are not modelled", "EIP")
        return
    eip = r.owner(res, _EIPS, aid, "address association", "AllocationId")
    if eip is None:
        return
    eip.body["AssociationId"] = r.model_id(res.logical)
    if "InstanceId" in res.props:
        eip.body["InstanceId"] = r.ref(res, scratch, "InstanceId", "instance_id", "i")
        _merge(eip, scratch, "instance_id", res)
    if "NetworkInterfaceId" in res.props:
        eip.body["NetworkInterfaceId"] = r.ref(res, scratch, "NetworkInterfaceId", "network_interface_id", "eni")
        _merge(eip, scratch, "network_interface_id", res)
    for name in scratch.unknown:
        eip.mark(name, scratch.unknown[name])


# -- security groups ---------------------------------------------------------------------------

_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}


def _rule_body(r: _Reader, res: _Res, item: _Item, spec: Mapping[str, Any], raw: Mapping[str, Any] | None,
               egress: bool, group_id: str, rule_id: str, where: str) -> dict[str, Any]:
    """One security group rule as DescribeSecurityGroupRules gives it, from an inline rule
    (`spec`, its unresolved form `raw`) or a SecurityGroupIngress/Egress resource's properties."""
    def get(key: str) -> Any:
        value = spec.get(key)
        found = first_unknown(value)
        if found is not None:
            item.mark(_RULE_FIELDS.get(key, "description"), f"{where}.{key}: {found.reason}")
            return None
        return value
    if raw is not None and isinstance(raw, Map):
        for key in spec:
            if key in raw.key_lines:
                item.attributes.setdefault(_RULE_FIELDS.get(key, "description"), raw.key_lines[key])
    protocol = _text(get("IpProtocol")).lower()
    protocol = _PROTOCOLS.get(protocol, protocol)
    body: dict[str, Any] = {"SecurityGroupRuleId": rule_id, "GroupId": group_id, "GroupOwnerId": r.account,
                            "IsEgress": egress, "IpProtocol": protocol or "-1",
                            "Description": _text(get("Description"))}
    if "IpProtocol" not in spec:
        r.problem(res, f"{where}: IpProtocol is missing")
        item.mark("protocol", f"{where}: IpProtocol is missing")
    if protocol in ("-1", ""):
        body["FromPort"], body["ToPort"] = -1, -1
    else:
        for key in ("FromPort", "ToPort"):
            value = get(key)
            if value is None and key in spec:
                body[key] = None
                continue
            try:
                body[key] = int(value) if value is not None else -1
            except (TypeError, ValueError):
                r.problem(res, f"{where}.{key} is not a port number: {value!r}")
                item.mark(_RULE_FIELDS[key], f"{where}.{key} is not a port number")
        if protocol in ("tcp", "udp") and ("FromPort" not in spec or "ToPort" not in spec):
            r.problem(res, f"{where}: a {protocol} rule needs FromPort and ToPort")
            item.mark("from_port", f"{where}: a {protocol} rule without FromPort/ToPort")
    peers = 0
    for key, out_key in (("CidrIp", "CidrIpv4"), ("CidrIpv6", "CidrIpv6"), ("SourcePrefixListId", "PrefixListId"),
                         ("DestinationPrefixListId", "PrefixListId")):
        if key in spec:
            peers += 1
            value = get(key)
            if value is not None:
                value = r.checked(res, item, f"{where}.{key}", _RULE_FIELDS[key], value,
                                  "cidr" if key.startswith("Cidr") else "str")
            # Unknown: a text that is no CIDR (the analyzers read no address from it) in a field marked unknown.
            body[out_key] = value if isinstance(value, str) else unknown_id(
                "pl" if "Prefix" in key else "", f"{where}.{key}")
    for key in ("SourceSecurityGroupId", "DestinationSecurityGroupId"):
        if key in spec:
            peers += 1
            value = get(key)
            if value is not None:
                value = r.checked(res, item, f"{where}.{key}", "referenced_group_id", value, "str")
            body["ReferencedGroupInfo"] = {"GroupId": value if isinstance(value, str) else unknown_id(
                "sg", f"{where}.{key}"), "UserId": _text(spec.get("SourceSecurityGroupOwnerId") or r.account)}
    if "SourceSecurityGroupName" in spec and "SourceSecurityGroupId" not in spec:
        peers += 1
        item.mark("referenced_group_id", f"known after deploy: {where}.SourceSecurityGroupName "
                                         f"{_text(spec.get('SourceSecurityGroupName'))} (a group named, not its id)")
        body["ReferencedGroupInfo"] = {"GroupId": unknown_id("sg", f"{where}.SourceSecurityGroupName")}
    if peers != 1:
        r.problem(res, f"{where}: a rule names one peer (CidrIp, CidrIpv6, a prefix list or a security group), "
                       f"not {peers or 'none'}")
        item.mark("cidr_ipv4", f"{where}: a rule without one peer")
    return body


_RULE_FIELDS = {"IpProtocol": "protocol", "FromPort": "from_port", "ToPort": "to_port", "CidrIp": "cidr_ipv4",
                "CidrIpv6": "cidr_ipv6", "SourcePrefixListId": "prefix_list_id",
                "DestinationPrefixListId": "prefix_list_id", "SourceSecurityGroupId": "referenced_group_id",
                "DestinationSecurityGroupId": "referenced_group_id", "SourceSecurityGroupName": "referenced_group_id",
                "Description": "description"}


def _allow_all_egress(r: _Reader, group_id: str, address: str, line: int | None) -> None:
    """The egress rule AWS gives every new VPC security group (to 0.0.0.0/0, every protocol)."""
    item = _Item(_SG_RULES, {"SecurityGroupRuleId": synthetic_id("sgr", address), "GroupId": group_id,
                             "GroupOwnerId": r.account, "IsEgress": True, "IpProtocol": "-1", "FromPort": -1,
                             "ToPort": -1, "CidrIpv4": "0.0.0.0/0", "Description": ""}, address, line)
    r.items.append(item)


@handler("AWS::EC2::SecurityGroup", 2)
def _security_group(r: _Reader, res: _Res) -> None:
    gid = r.model_id(res.logical)
    item = r.item(_SGS, {}, res, model_id=gid)
    if "VpcId" in res.props:
        vpc = r.ref(res, item, "VpcId", "vpc_id", "vpc")
    else:
        item.mark("vpc_id", f"known after deploy: {res.logical} has no VpcId: it is made in the account's "
                            "default VPC")
        vpc = unknown_id("vpc", f"the default VPC of {res.logical}")
    name = r.value(res, item, "GroupName", "name")
    if "GroupName" not in res.props:
        # CloudFormation names it "<stack>-<LogicalId>-<suffix>": never "default" (the name
        # that matters to the rules), so the name is written as what it is, not left unknown.
        name = f"(named at deploy: <stack>-{res.logical}-<suffix>)"
    item.body.update({"GroupId": gid, "GroupName": name if isinstance(name, str) else "", "VpcId": vpc,
                      "Description": _text(r.value(res, item, "GroupDescription", "description", "")),
                      "OwnerId": r.account, "Tags": r.tags(res, item)})
    for prop, egress in (("SecurityGroupIngress", False), ("SecurityGroupEgress", True)):
        if prop not in res.props:
            continue
        specs = res.resolved.get(prop, [])
        raws = res.props.get(prop)
        if isinstance(specs, Unknown) or not isinstance(specs, list):
            reason = specs.reason if isinstance(specs, Unknown) else f"{res.logical}.{prop} is not a list"
            if not isinstance(specs, Unknown):
                r.problem(res, f"{prop} is not a list of rules", prop)
            rule = _Item(_SG_RULES, {"SecurityGroupRuleId": unknown_id("sgr", f"{res.logical}.{prop}"),
                                     "GroupId": gid, "IsEgress": egress, "IpProtocol": "-1"},
                         f"{res.logical}.{prop}", res.line_of(prop))
            for f in ("protocol", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6", "prefix_list_id",
                      "referenced_group_id"):
                rule.mark(f, f"{res.logical}.{prop}: {reason}")
            r.items.append(rule)
            continue
        raw_list = raws if isinstance(raws, list) else []
        for n, spec in enumerate(specs):
            address = f"{res.logical}.{prop}[{n}]"
            raw = raw_list[n] if n < len(raw_list) and len(raw_list) == len(specs) else None
            line = line_of(raw, res.line_of(prop))
            rule = _Item(_SG_RULES, {}, address, line)
            if not isinstance(spec, dict):
                r.problem(res, f"{address} is not a rule", prop)
                continue
            rule.body = _rule_body(r, res, rule, spec, raw, egress, gid, synthetic_id("sgr", address), address)
            r.items.append(rule)
    if "SecurityGroupEgress" not in res.props:
        # AWS adds it to every new VPC security group; an inline SecurityGroupEgress replaces it
        # (separate SecurityGroupEgress resources do not).
        _allow_all_egress(r, gid, f"{res.logical}.DefaultEgress", res.line)


@handler("AWS::EC2::SecurityGroupIngress", 3)
@handler("AWS::EC2::SecurityGroupEgress", 3)
def _security_group_rule(r: _Reader, res: _Res) -> None:
    egress = res.type == "AWS::EC2::SecurityGroupEgress"
    item = r.item(_SG_RULES, {}, res)
    if "GroupId" in res.props:
        gid = r.ref(res, item, "GroupId", "group_id", "sg")
    else:
        item.mark("group_id", f"known after deploy: {res.logical} names its group by GroupName (the default "
                              "VPC's group of that name)")
        gid = unknown_id("sg", f"{res.logical}.GroupName")
    item.body = _rule_body(r, res, item, res.resolved, res.props, egress, gid, r.model_id(res.logical),
                           res.logical)


# -- network ACLs ------------------------------------------------------------------------------

def _deny_all(egress: bool) -> dict[str, Any]:
    return {"RuleNumber": 32767, "Egress": egress, "Protocol": "-1", "RuleAction": "deny", "CidrBlock": "0.0.0.0/0"}


@handler("AWS::EC2::NetworkAcl", 2)
def _network_acl(r: _Reader, res: _Res) -> None:
    aid = r.model_id(res.logical)
    item = r.item(_NACLS, {}, res, model_id=aid)
    # A new network ACL denies everything until entries are added (AWS's "*" rules).
    item.body.update({"NetworkAclId": aid, "VpcId": r.ref(res, item, "VpcId", "vpc_id", "vpc"), "IsDefault": False,
                      "Entries": [_deny_all(False), _deny_all(True)], "Associations": [], "OwnerId": r.account,
                      "Tags": r.tags(res, item)})


@handler("AWS::EC2::NetworkAclEntry", 3)
def _network_acl_entry(r: _Reader, res: _Res) -> None:
    scratch = _Item(_NACLS, {}, res.logical, res.line)
    aid = r.ref(res, scratch, "NetworkAclId", "entries", "acl")
    acl = r.owner(res, _NACLS, aid, "network ACL entry", "NetworkAclId")
    if acl is None:
        return
    number = r.value(res, scratch, "RuleNumber", "entries", kind="int")
    protocol = r.value(res, scratch, "Protocol", "entries", kind="int")
    action = r.value(res, scratch, "RuleAction", "entries")
    entry: dict[str, Any] = {"RuleNumber": number if number is not None else 0,
                             "Protocol": str(protocol if protocol is not None else -1),
                             "RuleAction": (action or "").lower(),
                             "Egress": bool(r.flag(res, scratch, "Egress", "entries", False))}
    if entry["RuleAction"] not in ("allow", "deny"):
        r.problem(res, f"RuleAction is allow or deny, not {action!r}", "RuleAction")
        scratch.mark("entries", f"{res.logical}.RuleAction is neither allow nor deny")
    for prop in ("CidrBlock", "Ipv6CidrBlock"):
        cidr = r.value(res, scratch, prop, "entries", kind="cidr")
        if cidr is not None:
            entry[prop] = cidr
    if "CidrBlock" not in entry and "Ipv6CidrBlock" not in entry and "entries" not in scratch.unknown:
        r.problem(res, "an entry needs CidrBlock or Ipv6CidrBlock")
        scratch.mark("entries", f"{res.logical}: an entry without CidrBlock or Ipv6CidrBlock")
    ports = r.value(res, scratch, "PortRange", "entries", kind="dict")
    if ports is not None:
        entry["PortRange"] = {}
        for key in ("From", "To"):
            port = r.checked(res, scratch, f"PortRange.{key}", "entries", ports.get(key), "int")
            if port is not None:
                entry["PortRange"][key] = port
    if entry["Protocol"] in ("6", "17") and "PortRange" not in entry and "entries" not in scratch.unknown:
        r.problem(res, "a tcp or udp entry needs PortRange")
        scratch.mark("entries", f"{res.logical}: a tcp or udp entry without PortRange")
    icmp = r.value(res, scratch, "Icmp", "entries", kind="dict")
    if icmp is not None:
        entry["IcmpTypeCode"] = {k: v for k, v in icmp.items() if k in ("Code", "Type")}
    acl.body["Entries"].append(entry)
    _merge(acl, scratch, "entries", res)


@handler("AWS::EC2::SubnetNetworkAclAssociation", 3)
def _subnet_acl_association(r: _Reader, res: _Res) -> None:
    scratch = _Item(_NACLS, {}, res.logical, res.line)
    aid = r.ref(res, scratch, "NetworkAclId", "subnet_ids", "acl")
    sid = r.ref(res, scratch, "SubnetId", "subnet_ids", "subnet")
    acl = r.owner(res, _NACLS, aid, "network ACL association", "NetworkAclId")
    if acl is None:
        return
    acl.body["Associations"].append({"NetworkAclAssociationId": r.model_id(res.logical), "NetworkAclId": aid,
                                     "SubnetId": sid})
    _merge(acl, scratch, "subnet_ids", res)


# -- VPC endpoints -----------------------------------------------------------------------------

@handler("AWS::EC2::VPCEndpoint", 2)
def _endpoint(r: _Reader, res: _Res) -> None:
    eid = r.model_id(res.logical)
    item = r.item(_VPCES, {}, res, model_id=eid)
    vid = r.ref(res, item, "VpcId", "vpc_id", "vpc")
    service = r.value(res, item, "ServiceName", "service_name")
    if not isinstance(service, str):
        if "service_name" not in item.unknown:
            r.problem(res, "ServiceName is missing" if "ServiceName" not in res.props else "ServiceName is not a name",
                      "ServiceName")
        item.mark("service_name", item.unknown.get("service_name", f"{res.logical}.ServiceName names no service"))
        item.mark("service", item.unknown["service_name"])
        service = ""
    item.attributes["service"] = item.attributes.get("service_name", res.line or 0)
    kind = _text(r.value(res, item, "VpcEndpointType", "endpoint_type", "Gateway") or "Gateway")
    body: dict[str, Any] = {"VpcEndpointId": eid, "VpcId": vid, "ServiceName": service, "VpcEndpointType": kind,
                            "State": "available", "OwnerId": r.account, "Tags": r.tags(res, item),
                            "RouteTableIds": [], "SubnetIds": [], "Groups": [], "NetworkInterfaceIds": []}
    if kind == "Gateway":
        body["RouteTableIds"] = r.ids(res, item, "RouteTableIds", "route_table_ids", "rtb")
    else:
        body["SubnetIds"] = r.ids(res, item, "SubnetIds", "subnet_ids", "subnet")
    if kind == "Interface":
        groups = r.ids(res, item, "SecurityGroupIds", "security_group_ids", "sg")
        if "SecurityGroupIds" not in res.props:
            groups = [_default_sg_of(r, item, vid, "security_group_ids")]
        body["Groups"] = [{"GroupId": g} for g in groups]
        # CloudFormation's PrivateDnsEnabled defaults to false (the EC2 API's to true).
        private_dns = r.flag(res, item, "PrivateDnsEnabled", "private_dns_enabled", False)
        if private_dns is not None:
            body["PrivateDnsEnabled"] = private_dns
    if kind != "Gateway":
        # AWS creates one requester-managed network interface per subnet of the endpoint.
        eni_type = "vpc_endpoint" if kind == "Interface" else "gateway_load_balancer_endpoint"
        for n, sid in enumerate(body["SubnetIds"]):
            eni_id = synthetic_id("eni", f"{res.logical}.NetworkInterface[{n}]")
            eni = _Item(_ENIS, {"NetworkInterfaceId": eni_id, "SubnetId": sid, "VpcId": vid,
                                "InterfaceType": eni_type, "Description": f"VPC Endpoint Interface {eid}",
                                "RequesterManaged": True, "Status": "in-use", "Groups": body["Groups"],
                                "PrivateIpAddresses": [], "OwnerId": r.account, "SourceDestCheck": True,
                                "TagSet": []}, f"{res.logical}.NetworkInterface[{n}]", res.line)
            for model_field in ("vpc_id", "subnet_ids", "security_group_ids"):
                if model_field in item.unknown:
                    eni.mark("subnet_id" if model_field == "subnet_ids" else model_field, item.unknown[model_field])
            eni.mark("private_ips", f"known after deploy: {res.logical} (the private IPs AWS picks)", quiet=True)
            r.items.append(eni)
            r.by_id[eni_id] = eni
            body["NetworkInterfaceIds"].append(eni_id)
            r.declared.append(Declared(eni.address, res.type, "network_interface", eni_id, "create", r.file,
                                       res.line))
    if kind in ("Gateway", "Interface"):
        policy = r.value(res, item, "PolicyDocument", "policy_document", kind="policy")
        item.attributes["policy"] = item.attributes.get("policy_document", res.line or 0)
        if "PolicyDocument" not in res.resolved:      # left out (or AWS::NoValue): AWS's default
            body["PolicyDocument"] = DEFAULT_ENDPOINT_POLICY
        elif policy is None:
            item.mark("policy", item.unknown.get("policy_document", f"{res.logical}.PolicyDocument"))
        elif isinstance(policy, str):
            body["PolicyDocument"] = policy
        else:
            body["PolicyDocument"] = _json_text(policy)
    item.body.update(body)


def _json_text(value: Any) -> str:
    import json
    return json.dumps(value, separators=(",", ":"), default=str)


def _default_sg_of(r: _Reader, item: _Item, vpc_id: str, model_field: str) -> str:
    """The default security group of a VPC of the template (what AWS uses when none is given)."""
    vpc = r.by_id.get(vpc_id)
    if vpc is not None and vpc.call == _VPCS:
        return synthetic_id("sg", f"{vpc.address}.DefaultSecurityGroup")
    item.mark(model_field, f"the default security group of VPC {vpc_id} (used when none is given; the VPC is not "
                           "declared in this template)")
    return unknown_id("sg", f"the default security group of {vpc_id}")


# -- what AWS adds: each VPC's main route table, default security group and network ACL --------

def _local_routes(r: _Reader, vpc_id: str, cidrs: list[str]) -> list[dict[str, Any]]:
    """A route table's local routes: one per IPv4 block of its VPC, and per IPv6 block known
    before deploy (an Amazon-provided block is known only then: its local route, which only
    keeps traffic inside the VPC, is left out and a note says so)."""
    routes = [{"DestinationCidrBlock": c, "GatewayId": "local", "State": "active", "Origin": "CreateRouteTable"}
              for c in cidrs]
    vpc = r.by_id.get(vpc_id)
    if vpc is not None and vpc.call == _VPCS:
        routes += [{"DestinationIpv6CidrBlock": a["Ipv6CidrBlock"], "GatewayId": "local", "State": "active",
                    "Origin": "CreateRouteTable"} for a in vpc.body.get("Ipv6CidrBlockAssociationSet", [])]
        note = (f"the local IPv6 route of the route tables of {vpc.address} is left out: its IPv6 block is known "
                "only after deploy")
        if "ipv6_cidr_blocks" in vpc.unknown and note not in r.notes:
            r.notes.append(note)
    return routes


@finisher
def _vpc_defaults(r: _Reader) -> None:
    vpcs = [i for i in r.items if i.call == _VPCS]
    # Every route table gets a local route per block of its VPC.
    for table in [i for i in r.items if i.call == _RTBS]:
        vpc_id = str(table.body.get("VpcId", ""))
        cidrs, why = _vpc_cidrs(r, vpc_id)
        vpc = r.by_id.get(vpc_id)
        if vpc is None or vpc.call != _VPCS:
            # A VPC already deployed: its blocks are not in the template. The local route only keeps
            # traffic inside the VPC; laid over a snapshot, the overlay adds it from the VPC's blocks.
            note = (f"route tables in VPC {vpc_id}, which this template does not declare, are read without "
                    "their local route (its blocks come from a snapshot when the template is laid over one)")
            if "(known after apply" in vpc_id:
                table.mark("routes", f"its local route: {why}")
            elif note not in r.notes:
                r.notes.append(note)
        elif why is not None:
            table.mark("routes", f"its local route: {why}")
        table.body["Routes"][:0] = _local_routes(r, vpc_id, cidrs)
    # The default network ACL serves every subnet of its VPC that no other ACL is associated with.
    explicit_acl = {a["SubnetId"] for i in r.items if i.call == _NACLS for a in i.body.get("Associations", [])}
    for vpc in vpcs:
        vid, logical = str(vpc.body["VpcId"]), vpc.address
        acl_id = synthetic_id("acl", f"{logical}.DefaultNetworkAcl")
        subnets = [str(s.body["SubnetId"]) for s in r.items if s.call == _SUBNETS and s.body.get("VpcId") == vid]
        r.by_id[acl_id].body["Associations"] += [
            {"NetworkAclAssociationId": synthetic_id("aclassoc", sid), "NetworkAclId": acl_id, "SubnetId": sid}
            for sid in subnets if sid not in explicit_acl]


def _vpc_implicit(r: _Reader, vpc: _Item) -> None:
    """What AWS creates with a VPC: its main route table (routes and associations filled in
    by `_vpc_defaults`), its default security group (all traffic from itself in, everything
    out) and its default network ACL (everything allowed both ways, then the "*" deny rules).
    Made with the VPC, so that the template's resources can name them (GetAtt
    DefaultSecurityGroup / DefaultNetworkAcl)."""
    vid, logical = str(vpc.body["VpcId"]), vpc.address
    main_id = synthetic_id("rtb", f"{logical}.MainRouteTable")
    main = _Item(_RTBS, {"RouteTableId": main_id, "VpcId": vid, "OwnerId": r.account, "PropagatingVgws": [],
                         "Routes": [], "Associations": [{"Main": True, "RouteTableId": main_id,
                                                         "RouteTableAssociationId": synthetic_id("rtbassoc", main_id),
                                                         "AssociationState": {"State": "associated"}}], "Tags": []},
                 f"{logical}.MainRouteTable", vpc.line)
    sg_id = synthetic_id("sg", f"{logical}.DefaultSecurityGroup")
    sg = _Item(_SGS, {"GroupId": sg_id, "GroupName": "default", "Description": "default VPC security group",
                      "VpcId": vid, "OwnerId": r.account, "Tags": []}, f"{logical}.DefaultSecurityGroup", vpc.line)
    ingress = _Item(_SG_RULES, {"SecurityGroupRuleId": synthetic_id("sgr", f"{logical}.DefaultSecurityGroup.Ingress"),
                                "GroupId": sg_id, "GroupOwnerId": r.account, "IsEgress": False, "IpProtocol": "-1",
                                "FromPort": -1, "ToPort": -1, "Description": "",
                                "ReferencedGroupInfo": {"GroupId": sg_id, "UserId": r.account}},
                    f"{logical}.DefaultSecurityGroup.Ingress", vpc.line)
    acl_id = synthetic_id("acl", f"{logical}.DefaultNetworkAcl")
    acl = _Item(_NACLS, {"NetworkAclId": acl_id, "VpcId": vid, "IsDefault": True, "OwnerId": r.account,
                         "Entries": [{"RuleNumber": 100, "Egress": e, "Protocol": "-1", "RuleAction": "allow",
                                      "CidrBlock": "0.0.0.0/0"} for e in (False, True)]
                         + [_deny_all(False), _deny_all(True)], "Associations": [], "Tags": []},
                f"{logical}.DefaultNetworkAcl", vpc.line)
    r.items.extend([main, sg, ingress, acl])
    r.by_id.update({main_id: main, sg_id: sg, acl_id: acl})
    _allow_all_egress(r, sg_id, f"{logical}.DefaultSecurityGroup.Egress", vpc.line)
    for implicit, model, key in ((main, "route_table", "RouteTableId"), (sg, "security_group", "GroupId"),
                                 (acl, "network_acl", "NetworkAclId")):
        r.declared.append(Declared(implicit.address, "AWS::EC2::VPC", model, str(implicit.body[key]), "create",
                                   r.file, vpc.line))


# -- transit gateways --------------------------------------------------------------------------

def _enabled(r: _Reader, res: _Res, item: _Item, prop: str, model_field: str, default: str) -> bool | None:
    value = r.value(res, item, prop, model_field, default)
    if value is None:
        return None
    text = _text(value).lower()
    if text not in ("enable", "disable"):
        r.problem(res, f"{prop} is enable or disable, not {value!r}", prop)
        item.mark(model_field, f"{res.logical}.{prop} is neither enable nor disable")
        return None
    return text == "enable"


@handler("AWS::EC2::TransitGateway", 2)
def _tgw(r: _Reader, res: _Res) -> None:
    tid = r.model_id(res.logical)
    item = r.item(_TGWS, {}, res, model_id=tid)
    assoc = _enabled(r, res, item, "DefaultRouteTableAssociation", "default_association_route_table_id", "enable")
    prop = _enabled(r, res, item, "DefaultRouteTablePropagation", "default_propagation_route_table_id", "enable")
    auto = _text(r.value(res, item, "AutoAcceptSharedAttachments", "auto_accept_shared_attachments", "disable")
                 or "disable")
    default_rt = synthetic_id("tgw-rtb", f"{res.logical}.DefaultRouteTable")
    options: dict[str, Any] = {"AutoAcceptSharedAttachments": auto,
                               "DefaultRouteTableAssociation": "enable" if assoc else "disable",
                               "DefaultRouteTablePropagation": "enable" if prop else "disable"}
    if assoc:
        options["AssociationDefaultRouteTableId"] = default_rt
    if prop:
        options["PropagationDefaultRouteTableId"] = default_rt
    item.body.update({"TransitGatewayId": tid, "OwnerId": r.account, "State": "available", "Options": options,
                      "TransitGatewayArn": f"arn:{r.partition}:ec2:{r.region}:{r.account}:transit-gateway/{tid}",
                      "Tags": r.tags(res, item)})
    if assoc or prop or assoc is None or prop is None:
        # AWS makes the default route table when either default is on.
        table = _Item(_TGW_RTS, {"TransitGatewayRouteTableId": default_rt, "TransitGatewayId": tid,
                                 "State": "available", "DefaultAssociationRouteTable": bool(assoc),
                                 "DefaultPropagationRouteTable": bool(prop), "Tags": []},
                      f"{res.logical}.DefaultRouteTable", res.line,
                      extra={"assoc": [], "prop": [], "routes": [], "default_assoc": assoc, "default_prop": prop})
        for model_field, flag in (("is_default_association", assoc), ("is_default_propagation", prop)):
            if flag is None:
                table.mark(model_field, item.unknown.get("default_association_route_table_id")
                           or item.unknown.get("default_propagation_route_table_id", "unknown"))
        r.items.append(table)
        r.by_id[default_rt] = table
        r.declared.append(Declared(table.address, res.type, "transit_gateway_route_table", default_rt, "create",
                                   r.file, res.line))


@handler("AWS::EC2::TransitGatewayAttachment", 2)
@handler("AWS::EC2::TransitGatewayVpcAttachment", 2)
def _tgw_attachment(r: _Reader, res: _Res) -> None:
    aid = r.model_id(res.logical)
    item = r.item(_TGW_ATTS, {}, res, model_id=aid)
    tgw = r.ref(res, item, "TransitGatewayId", "transit_gateway_id", "tgw")
    vpc = r.ref(res, item, "VpcId", "resource_id", "vpc")
    subnets = r.ids(res, item, "SubnetIds", "subnet_ids", "subnet")
    tags = r.tags(res, item)
    item.body.update({"TransitGatewayAttachmentId": aid, "TransitGatewayId": tgw, "TransitGatewayOwnerId": r.account,
                      "ResourceOwnerId": r.account, "ResourceType": "vpc", "ResourceId": vpc, "State": "available",
                      "Tags": tags})
    item.extra["explicit_assoc"] = False
    vpc_item = _Item(_TGW_VPC_ATTS, {"TransitGatewayAttachmentId": aid, "TransitGatewayId": tgw, "VpcId": vpc,
                                     "VpcOwnerId": r.account, "SubnetIds": subnets, "State": "available",
                                     "Tags": tags}, res.logical, res.line)
    r.items.append(vpc_item)


@handler("AWS::EC2::TransitGatewayRouteTable", 2)
def _tgw_route_table(r: _Reader, res: _Res) -> None:
    rid = r.model_id(res.logical)
    item = r.item(_TGW_RTS, {}, res, model_id=rid)
    item.body.update({"TransitGatewayRouteTableId": rid,
                      "TransitGatewayId": r.ref(res, item, "TransitGatewayId", "transit_gateway_id", "tgw"),
                      "State": "available", "DefaultAssociationRouteTable": False,
                      "DefaultPropagationRouteTable": False, "Tags": r.tags(res, item)})
    item.extra.update({"assoc": [], "prop": [], "routes": [], "default_assoc": False, "default_prop": False})


@handler("AWS::EC2::TransitGatewayRoute", 3)
def _tgw_route(r: _Reader, res: _Res) -> None:
    scratch = _Item(_TGW_RTS, {}, res.logical, res.line)
    rid = r.ref(res, scratch, "TransitGatewayRouteTableId", "routes", "tgw-rtb")
    table = r.owner(res, _TGW_RTS, rid, "transit gateway route", "TransitGatewayRouteTableId")
    if table is None:
        return
    dest = r.value(res, scratch, "DestinationCidrBlock", "routes", kind="cidr")
    blackhole = r.flag(res, scratch, "Blackhole", "routes", False)
    attachment = "" if blackhole else r.ref(res, scratch, "TransitGatewayAttachmentId", "routes", "tgw-attach")
    table.extra["routes"].append({"DestinationCidrBlock": dest if isinstance(dest, str) else unknown_id(
        "", f"{res.logical}.DestinationCidrBlock"), "attachment": attachment, "blackhole": bool(blackhole)})
    _merge(table, scratch, "routes", res)


@handler("AWS::EC2::TransitGatewayRouteTableAssociation", 3)
@handler("AWS::EC2::TransitGatewayRouteTablePropagation", 3)
def _tgw_rt_link(r: _Reader, res: _Res) -> None:
    propagation = res.type.endswith("Propagation")
    model_field = "propagating_attachment_ids" if propagation else "associated_attachment_ids"
    scratch = _Item(_TGW_RTS, {}, res.logical, res.line)
    rid = r.ref(res, scratch, "TransitGatewayRouteTableId", model_field, "tgw-rtb")
    aid = r.ref(res, scratch, "TransitGatewayAttachmentId", model_field, "tgw-attach")
    table = r.owner(res, _TGW_RTS, rid, "route table association" if not propagation else "route propagation",
                    "TransitGatewayRouteTableId")
    if table is None:
        return
    table.extra["prop" if propagation else "assoc"].append(aid)
    attachment = r.by_id.get(aid)
    if not propagation and attachment is not None and attachment.call == _TGW_ATTS:
        attachment.extra["explicit_assoc"] = True
    _merge(table, scratch, model_field, res)
    if propagation and model_field in scratch.unknown:
        table.mark("routes", scratch.unknown[model_field])


@finisher
def _tgw_routes(r: _Reader) -> None:
    """Each TGW route table's associations, propagations and routes, as the per-table calls
    answer them (the default table takes every attachment not associated explicitly)."""
    attachments = [i for i in r.items if i.call == _TGW_ATTS]
    for table in [i for i in r.items if i.call == _TGW_RTS]:
        extra = table.extra
        tgw = table.body.get("TransitGatewayId")
        assoc, prop = list(extra.get("assoc", [])), list(extra.get("prop", []))
        for a in attachments:
            if a.body.get("TransitGatewayId") != tgw:
                continue
            aid = a.body["TransitGatewayAttachmentId"]
            if extra.get("default_assoc") and not a.extra.get("explicit_assoc") and aid not in assoc:
                assoc.append(aid)
            if extra.get("default_prop") and aid not in prop:
                prop.append(aid)
            if extra.get("default_assoc") is None or extra.get("default_prop") is None:
                table.mark("routes", table.unknown.get("is_default_association", "unknown defaults"))
        rid = table.body["TransitGatewayRouteTableId"]
        for aid in assoc:
            found = r.by_id.get(aid)
            if found is not None and found.call == _TGW_ATTS:
                found.body["Association"] = {"TransitGatewayRouteTableId": rid, "State": "associated"}

        def link(aid: str, state: str) -> dict[str, Any]:
            found = r.by_id.get(aid)
            body = found.body if found is not None and found.call == _TGW_ATTS else {}
            return {"TransitGatewayAttachmentId": aid, "ResourceId": body.get("ResourceId", ""),
                    "ResourceType": body.get("ResourceType", "vpc"), "State": state}
        routes: list[dict[str, Any]] = []
        static = set()
        for route in extra.get("routes", []):
            static.add(route["DestinationCidrBlock"])
            out: dict[str, Any] = {"DestinationCidrBlock": route["DestinationCidrBlock"], "Type": "static",
                                   "State": "blackhole" if route["blackhole"] else "active"}
            if not route["blackhole"]:
                link_body = link(route["attachment"], "")
                link_body.pop("State")
                out["TransitGatewayAttachments"] = [link_body]
            routes.append(out)
        for aid in prop:
            found = r.by_id.get(aid)
            if found is None or found.call != _TGW_ATTS:
                table.mark("routes", f"the routes propagated from attachment {aid} (not declared in this template)")
                continue
            cidrs, why = _vpc_cidrs(r, str(found.body.get("ResourceId", "")))
            if why is not None:
                table.mark("routes", f"the routes propagated from {found.address}: {why}")
            for cidr in cidrs:
                if cidr not in static:
                    link_body = link(aid, "")
                    link_body.pop("State")
                    routes.append({"DestinationCidrBlock": cidr, "Type": "propagated", "State": "active",
                                   "TransitGatewayAttachments": [link_body]})
        r.calls.append((("ec2", "SearchTransitGatewayRoutes"), {
            "TransitGatewayRouteTableId": rid, "Filters": [{"Name": "state", "Values": ["active", "blackhole"]}]},
            {"Routes": routes, "AdditionalRoutesAvailable": False}))
        r.calls.append((("ec2", "GetTransitGatewayRouteTableAssociations"), {"TransitGatewayRouteTableId": rid},
                        {"Associations": [link(a, "associated") for a in assoc]}))
        r.calls.append((("ec2", "GetTransitGatewayRouteTablePropagations"), {"TransitGatewayRouteTableId": rid},
                        {"TransitGatewayRouteTablePropagations": [link(a, "enabled") for a in prop]}))


# -- peering, VPN gateways, flow logs, prefix lists ------------------------------------------

@handler("AWS::EC2::VPCPeeringConnection", 2)
def _peering(r: _Reader, res: _Res) -> None:
    pid = r.model_id(res.logical)
    item = r.item(_PCXS, {}, res, model_id=pid)
    owner = _text(r.value(res, item, "PeerOwnerId", "accepter", r.account) or r.account)
    peer_region = _text(r.value(res, item, "PeerRegion", "accepter", r.region) or r.region)

    def side(prop: str, model_field: str, account: str, region: str) -> dict[str, Any]:
        vid = r.ref(res, item, prop, model_field, "vpc")
        info: dict[str, Any] = {"VpcId": vid, "OwnerId": account, "Region": region}
        cidrs, why = _vpc_cidrs(r, vid)
        if why is not None and (account, region) == (r.account, r.region):
            item.mark(model_field, f"{res.logical}.{prop}: {why}")
        elif why is not None:
            item.mark(model_field, f"known after deploy: the CIDR blocks of peer VPC {vid} ({account}/{region})")
        if cidrs:
            info["CidrBlock"] = cidrs[0]
            info["CidrBlockSet"] = [{"CidrBlock": c} for c in cidrs]
        return info
    item.body.update({"VpcPeeringConnectionId": pid, "Status": {"Code": "active"},
                      "RequesterVpcInfo": side("VpcId", "requester", r.account, r.region),
                      "AccepterVpcInfo": side("PeerVpcId", "accepter", owner, peer_region),
                      "Tags": r.tags(res, item)})
    if (owner, peer_region) != (r.account, r.region):
        # CloudFormation accepts a cross-account peering with PeerRoleArn; without it the
        # connection waits for the peer to accept.
        if "PeerRoleArn" not in res.props and owner != r.account:
            item.body["Status"] = {"Code": "pending-acceptance"}


@handler("AWS::EC2::VPNGateway", 2)
def _vgw(r: _Reader, res: _Res) -> None:
    gid = r.model_id(res.logical)
    item = r.item(_VGWS, {}, res, model_id=gid)
    item.body.update({"VpnGatewayId": gid, "State": "available", "VpcAttachments": [],
                      "Type": _text(res.raw("Type") or "ipsec.1"), "Tags": r.tags(res, item)})


@handler("AWS::EC2::FlowLog", 2)
def _flow_log(r: _Reader, res: _Res) -> None:
    fid = r.model_id(res.logical)
    item = r.item(_FLOWS, {}, res, model_id=fid)
    kind = _text(r.value(res, item, "ResourceType", "resource_id", "VPC"))
    prefix = {"VPC": "vpc", "Subnet": "subnet", "NetworkInterface": "eni"}.get(kind, "")
    destination_type = _text(r.value(res, item, "LogDestinationType", "destination_type", "cloud-watch-logs")
                             or "cloud-watch-logs")
    # Where the log goes is read by no analyzer: unknown before deploy, it is quiet.
    destination = r.value(res, item, "LogDestination", "destination", quiet=True)
    group = r.value(res, item, "LogGroupName", "destination", quiet=True)
    item.body.update({
        "FlowLogId": fid, "ResourceId": r.ref(res, item, "ResourceId", "resource_id", prefix),
        "TrafficType": _text(r.value(res, item, "TrafficType", "traffic_type", "")),
        "FlowLogStatus": "ACTIVE", "LogDestinationType": destination_type,
        "LogFormat": _text(r.value(res, item, "LogFormat", "log_format", _DEFAULT_FLOW_LOG_FORMAT)),
        "Tags": r.tags(res, item)})
    if isinstance(destination, str):
        item.body["LogDestination"] = destination
    if isinstance(group, str):
        item.body["LogGroupName"] = group
    if "TrafficType" not in res.props and kind in ("VPC", "Subnet", "NetworkInterface"):
        r.problem(res, "TrafficType is missing (ACCEPT, REJECT or ALL)", None)
        item.mark("traffic_type", f"{res.logical}.TrafficType is missing")


@handler("AWS::EC2::PrefixList", 2)
def _prefix_list(r: _Reader, res: _Res) -> None:
    pid = r.model_id(res.logical)
    item = r.item(_PLS, {}, res, model_id=pid)
    item.body.update({"PrefixListId": pid, "OwnerId": r.account, "State": "create-complete",
                      "PrefixListName": _text(r.value(res, item, "PrefixListName", "name", "")),
                      "AddressFamily": _text(r.value(res, item, "AddressFamily", "address_family", "")),
                      "Tags": r.tags(res, item)})
    entries = r.value(res, item, "Entries", "cidrs", [], kind="list")
    page: dict[str, Any] = {"Entries": []}
    if entries is None or not isinstance(entries, list):
        item.mark("cidrs", item.unknown.get("cidrs", f"{res.logical}.Entries is not a list"))
    else:
        page["Entries"] = [{"Cidr": _text(e.get("Cidr")), "Description": _text(e.get("Description"))}
                           for e in entries if isinstance(e, dict)]
    r.calls.append((("ec2", "GetManagedPrefixListEntries"), {"PrefixListId": pid}, page))


# -- instances and network interfaces ----------------------------------------------------------

def _subnet_item(r: _Reader, subnet_id: str) -> _Item | None:
    found = r.by_id.get(subnet_id)
    return found if found is not None and found.call == _SUBNETS else None


@handler("AWS::EC2::NetworkInterface", 2)
def _eni(r: _Reader, res: _Res) -> None:
    nid = r.model_id(res.logical)
    item = r.item(_ENIS, {}, res, model_id=nid)
    sid = r.ref(res, item, "SubnetId", "subnet_id", "subnet")
    vpc = _vpc_of_subnet(r, item, sid, "vpc_id", f"of {res.logical}")
    item.attributes.setdefault("vpc_id", item.attributes.get("subnet_id", res.line or 0))
    groups = r.ids(res, item, "GroupSet", "security_group_ids", "sg")
    if "GroupSet" not in res.props:
        groups = [_default_sg_of(r, item, vpc, "security_group_ids")]
    private = r.value(res, item, "PrivateIpAddress", "private_ips")
    if not isinstance(private, str):
        item.mark("private_ips", f"known after deploy: {res.logical}.PrivateIpAddress (AWS picks one)", quiet=True)
    ipv6: list[str] = []
    count = r.value(res, item, "Ipv6AddressCount", "ipv6_addresses", 0, kind="int")
    if "Ipv6Addresses" in res.props or (isinstance(count, int) and count > 0):
        ipv6 = [f"(IPv6 address assigned at deploy: {res.logical})"]
    if count is None:
        item.mark("ipv6_addresses", item.unknown.get("ipv6_addresses", "unknown"))
    item.body.update({
        "NetworkInterfaceId": nid, "SubnetId": sid, "VpcId": vpc,
        "InterfaceType": _text(r.value(res, item, "InterfaceType", "interface_type", "interface") or "interface"),
        "Description": _text(r.value(res, item, "Description", "description", "")),
        "PrivateIpAddress": private if isinstance(private, str) else "",
        "PrivateIpAddresses": [{"PrivateIpAddress": private, "Primary": True}] if isinstance(private, str) else [],
        "Ipv6Addresses": [{"Ipv6Address": a} for a in ipv6], "Groups": [{"GroupId": g} for g in groups],
        "RequesterManaged": False, "Status": "available", "OwnerId": r.account,
        "SourceDestCheck": r.flag(res, item, "SourceDestCheck", "source_dest_check", True),
        "TagSet": r.tags(res, item)})


@handler("AWS::EC2::NetworkInterfaceAttachment", 3)
def _eni_attachment(r: _Reader, res: _Res) -> None:
    scratch = _Item(_ENIS, {}, res.logical, res.line)
    nid = r.ref(res, scratch, "NetworkInterfaceId", "instance_id", "eni")
    iid = r.ref(res, scratch, "InstanceId", "instance_id", "i")
    eni = r.owner(res, _ENIS, nid, "network interface attachment", "NetworkInterfaceId")
    if eni is None:
        return
    eni.body["Attachment"] = {"InstanceId": iid, "DeviceIndex": _text(res.raw("DeviceIndex")), "Status": "attached",
                              "AttachmentId": r.model_id(res.logical)}
    eni.body["Status"] = "in-use"
    _merge(eni, scratch, "instance_id", res)
    instance = r.by_id.get(iid)
    if instance is not None and instance.call == _INSTANCES:
        instance.body["NetworkInterfaces"].append({"NetworkInterfaceId": nid, "Ipv6Addresses": eni.body[
            "Ipv6Addresses"]})
        instance.extra.setdefault("enis", []).append(nid)
        instance.attributes.setdefault("network_interface_ids", res.line or 0)


@handler("AWS::EC2::Instance", 2)
def _instance(r: _Reader, res: _Res) -> None:
    iid = r.model_id(res.logical)
    item = r.item(_INSTANCES, {}, res, model_id=iid)
    interfaces = r.value(res, item, "NetworkInterfaces", "network_interface_ids", [], kind="list")
    primary: Mapping[str, Any] = {}
    if interfaces is None:
        interfaces = []
    if isinstance(interfaces, list):
        primary = next((i for i in interfaces if isinstance(i, dict) and str(i.get("DeviceIndex", "")) == "0"), {})
    existing = primary.get("NetworkInterfaceId") if isinstance(primary.get("NetworkInterfaceId"), str) else None
    eni_item = r.by_id.get(existing) if existing else None
    if eni_item is not None and eni_item.call == _ENIS:
        sid = str(eni_item.body["SubnetId"])
        groups = [g["GroupId"] for g in eni_item.body["Groups"]]
    else:
        if "SubnetId" in res.props:
            sid = r.ref(res, item, "SubnetId", "subnet_id", "subnet")
        elif isinstance(primary.get("SubnetId"), str):
            sid = str(primary["SubnetId"])
            item.attributes["subnet_id"] = item.attributes.get("network_interface_ids", res.line or 0)
        else:
            item.mark("subnet_id", f"known after deploy: {res.logical} names no subnet: it is launched in a subnet "
                                   "of the account's default VPC")
            sid = unknown_id("subnet", f"the default subnet of {res.logical}")
        given = primary.get("GroupSet") if primary else None
        if "SecurityGroupIds" in res.props:
            groups = r.ids(res, item, "SecurityGroupIds", "security_group_ids", "sg")
        elif isinstance(given, list) and all(isinstance(g, str) for g in given):
            groups = list(given)
        elif "SecurityGroups" in res.props:
            item.mark("security_group_ids", f"known after deploy: {res.logical}.SecurityGroups names groups, "
                                            "not their ids")
            groups = [unknown_id("sg", f"{res.logical}.SecurityGroups")]
        else:
            groups = []
    vpc = _vpc_of_subnet(r, item, sid, "vpc_id", f"of {res.logical}")
    item.attributes.setdefault("vpc_id", item.attributes.get("subnet_id", res.line or 0))
    if not groups:
        groups = [_default_sg_of(r, item, vpc, "security_group_ids")]
    # A public IPv4 address: the primary interface's AssociatePublicIpAddress, else the subnet's
    # MapPublicIpOnLaunch (an Elastic IP associated later adds one too: see _public_ips).
    public: bool | None
    if "AssociatePublicIpAddress" in primary:
        value = primary["AssociatePublicIpAddress"]
        public = value if isinstance(value, bool) else _text(value).lower() == "true"
    else:
        subnet = _subnet_item(r, sid)
        if subnet is None or "map_public_ip_on_launch" in subnet.unknown:
            public = None
            item.mark("public_ip", f"whether {res.logical} gets a public IP: its subnet {sid}'s "
                                   "MapPublicIpOnLaunch is not known from this template")
        else:
            public = bool(subnet.body.get("MapPublicIpOnLaunch"))
    eni_id = existing or synthetic_id("eni", f"{res.logical}.PrimaryNetworkInterface")
    private = r.value(res, item, "PrivateIpAddress", "private_ip")
    if not isinstance(private, str):
        private = primary.get("PrivateIpAddress") if isinstance(primary.get("PrivateIpAddress"), str) else None
    if private is None:
        item.mark("private_ip", f"known after deploy: {res.logical}.PrivateIp (AWS picks one)", quiet=True)
    # IPv6 addresses: asked for (a count or addresses), or the subnet assigns them on creation.
    count = r.value(res, item, "Ipv6AddressCount", "ipv6_addresses", 0, kind="int")
    asked = ("Ipv6Addresses" in res.props or (isinstance(count, int) and count > 0)
             or str(primary.get("Ipv6AddressCount", "0")) not in ("0", "") or "Ipv6Addresses" in primary)
    subnet = _subnet_item(r, sid)
    if not asked and subnet is not None and "assign_ipv6_on_creation" in subnet.unknown:
        item.mark("ipv6_addresses", subnet.unknown["assign_ipv6_on_creation"])
    ipv6 = [{"Ipv6Address": f"(IPv6 address assigned at deploy: {res.logical})"}] if asked or (
        subnet is not None and subnet.body.get("AssignIpv6AddressOnCreation")) else []
    item.body.update({
        "InstanceId": iid, "SubnetId": sid, "VpcId": vpc, "State": {"Name": "running", "Code": 16},
        "PrivateIpAddress": private or "", "NetworkInterfaces": [{"NetworkInterfaceId": eni_id, "Ipv6Addresses": ipv6}],
        "SecurityGroups": [{"GroupId": g} for g in groups],
        "SourceDestCheck": r.flag(res, item, "SourceDestCheck", "source_dest_check", True),
        "Tags": r.tags(res, item)})
    if public:
        item.body["PublicIpAddress"] = _pending_ip(f"{res.logical}.PublicIp")
    item.extra["enis"] = [eni_id]
    if eni_item is not None and eni_item.call == _ENIS:
        eni_item.body["Attachment"] = {"InstanceId": iid, "DeviceIndex": 0, "Status": "attached"}
        eni_item.body["Status"] = "in-use"
        if public:
            eni_item.body["Association"] = {"PublicIp": item.body["PublicIpAddress"]}
        return
    # The primary interface AWS creates with the instance.
    eni = _Item(_ENIS, {"NetworkInterfaceId": eni_id, "SubnetId": sid, "VpcId": vpc, "InterfaceType": "interface",
                        "Description": "", "PrivateIpAddress": private or "",
                        "PrivateIpAddresses": [{"PrivateIpAddress": private, "Primary": True}] if private else [],
                        "Groups": [{"GroupId": g} for g in groups], "RequesterManaged": False, "Status": "in-use",
                        "Ipv6Addresses": ipv6, "Attachment": {"InstanceId": iid, "DeviceIndex": 0, "Status": "attached"},
                        "SourceDestCheck": item.body["SourceDestCheck"], "OwnerId": r.account, "TagSet": []},
                f"{res.logical}.PrimaryNetworkInterface", res.line, dict(item.attributes))
    for model_field in ("vpc_id", "subnet_id", "security_group_ids", "source_dest_check", "ipv6_addresses"):
        if model_field in item.unknown:
            eni.mark(model_field, item.unknown[model_field])
    if "public_ip" in item.unknown:
        eni.mark("public_ips", item.unknown["public_ip"])
    if not private:
        eni.mark("private_ips", f"known after deploy: {res.logical}.PrivateIp (AWS picks one)", quiet=True)
    if public:
        eni.body["Association"] = {"PublicIp": item.body["PublicIpAddress"]}
    r.items.append(eni)
    r.by_id[eni_id] = eni
    r.declared.append(Declared(eni.address, res.type, "network_interface", eni_id, "create", r.file, res.line))


@finisher
def _nat_addresses(r: _Reader) -> None:
    """A NAT gateway's Elastic IP is associated with the NAT's network interface."""
    for nat in [i for i in r.items if i.call == _NATS]:
        for address in nat.body.get("NatGatewayAddresses", []):
            eip = r.by_id.get(str(address.get("AllocationId")))
            if eip is not None and eip.call == _EIPS:
                eip.body.update({"NetworkInterfaceId": address["NetworkInterfaceId"], "NetworkInterfaceOwnerId": r.account,
                                 "AssociationId": synthetic_id("eipassoc", nat.address)})


@finisher
def _public_ips(r: _Reader) -> None:
    """Elastic IPs associated with an instance or interface of the template give it a public IP."""
    for eip in [i for i in r.items if i.call == _EIPS]:
        ip = str(eip.body.get("PublicIp"))
        target = eip.body.get("NetworkInterfaceId") or eip.body.get("InstanceId")
        found = r.by_id.get(str(target)) if target else None
        if found is None:
            continue
        if found.call == _INSTANCES:
            found.body.setdefault("PublicIpAddress", ip)
            enis = found.extra.get("enis", [])
            found = r.by_id.get(enis[0]) if enis else None
            if found is None:
                continue
        if found.call == _ENIS:
            found.body.setdefault("Association", {"PublicIp": ip})


# -- EKS, RDS, load balancers ------------------------------------------------------------------

def _vpc_of_subnets(r: _Reader, item: _Item, subnets: list[str], model_field: str, what: str) -> str:
    """The one VPC of subnets of the template (unknown when they are not all known)."""
    vpcs = set()
    for sid in subnets:
        subnet = _subnet_item(r, sid)
        if subnet is None:
            item.mark(model_field, f"the VPC of subnet {sid} ({what}; the subnet is not declared in this template)")
            return unknown_id("vpc", f"the VPC of {sid}")
        if "vpc_id" in subnet.unknown:
            item.mark(model_field, subnet.unknown["vpc_id"])
        vpcs.add(str(subnet.body.get("VpcId", "")))
    if len(vpcs) != 1:
        item.mark(model_field, f"{what}: its subnets are in {len(vpcs)} VPCs")
        return unknown_id("vpc", what)
    return vpcs.pop()


@handler("AWS::EKS::Cluster", 2)
def _eks(r: _Reader, res: _Res) -> None:
    name = r.model_id(res.logical)
    item = r.item(_EKS, {}, res, model_id=name)
    if "Name" not in res.props:
        item.extra["generated_name"] = True
    config = r.value(res, item, "ResourcesVpcConfig", "subnet_ids", {}, kind="dict")
    config_raw = res.props.get("ResourcesVpcConfig")
    if config is None or not isinstance(config, dict):
        for model_field in ("subnet_ids", "endpoint_public_access", "endpoint_private_access",
                            "public_access_cidrs", "vpc_id"):
            item.mark(model_field, item.unknown.get("subnet_ids", f"{res.logical}.ResourcesVpcConfig is not a mapping"))
        config = {}
    lines = config_raw.key_lines if isinstance(config_raw, Map) else {}

    def get(key: str, model_field: str, default: Any) -> Any:
        if key in lines:
            item.attributes[model_field] = lines[key]
        if key not in config:
            return default
        found = first_unknown(config[key])
        if found is not None:
            item.mark(model_field, _reason(found, res, f"ResourcesVpcConfig.{key}"))
            return None
        return config[key]
    subnets = get("SubnetIds", "subnet_ids", [])
    subnets = [s for s in subnets if isinstance(s, str)] if isinstance(subnets, list) else []
    groups = get("SecurityGroupIds", "security_group_ids", [])
    public = get("EndpointPublicAccess", "endpoint_public_access", True)
    private = get("EndpointPrivateAccess", "endpoint_private_access", False)
    cidrs = get("PublicAccessCidrs", "public_access_cidrs", ["0.0.0.0/0"])
    item.attributes.setdefault("vpc_id", item.attributes.get("subnet_ids", res.line or 0))
    vpc = _vpc_of_subnets(r, item, subnets, "vpc_id", f"the VPC of EKS cluster {res.logical}") if subnets else (
        unknown_id("vpc", f"{res.logical}.ResourcesVpcConfig.SubnetIds"))
    # EKS makes the cluster security group when it creates the cluster: its id is known only then.
    item.mark("security_group_ids", f"known after deploy: {res.logical}.ClusterSecurityGroupId (the security group "
                                    "EKS creates)", quiet=True)
    cfg: dict[str, Any] = {"subnetIds": subnets, "securityGroupIds": [g for g in groups or [] if isinstance(g, str)],
                           "vpcId": vpc, "publicAccessCidrs": [c for c in cidrs or [] if isinstance(c, str)]}
    for key, value in (("endpointPublicAccess", public), ("endpointPrivateAccess", private)):
        if value is not None:
            cfg[key] = value if isinstance(value, bool) else _text(value).lower() == "true"
    item.body.update({"name": name, "arn": f"arn:{r.partition}:eks:{r.region}:{r.account}:cluster/{name}",
                      "status": "ACTIVE", "resourcesVpcConfig": cfg, "tags": {}})
    tags = r.tags(res, item)
    item.body["tags"] = {t["Key"]: t["Value"] for t in tags}


@handler("AWS::RDS::DBSubnetGroup", 2)
def _db_subnet_group(r: _Reader, res: _Res) -> None:
    name = r.model_id(res.logical)
    scratch = _Item(_RDS, {}, res.logical, res.line)
    subnets = r.ids(res, scratch, "SubnetIds", "subnet_ids", "subnet")
    scratch.attributes.setdefault("vpc_id", scratch.attributes.get("subnet_ids", res.line or 0))
    vpc = _vpc_of_subnets(r, scratch, subnets, "vpc_id", f"the VPC of DB subnet group {res.logical}")
    scratch.body = {"DBSubnetGroupName": name, "VpcId": vpc, "SubnetGroupStatus": "Complete",
                    "Subnets": [{"SubnetIdentifier": s, "SubnetStatus": "Active"} for s in subnets]}
    r.extra_groups[name] = scratch


@handler("AWS::RDS::DBInstance", 4)
def _db_instance(r: _Reader, res: _Res) -> None:
    name = r.model_id(res.logical)
    item = r.item(_RDS, {}, res, model_id=name)
    body: dict[str, Any] = {"DBInstanceIdentifier": name, "DBInstanceStatus": "available",
                            "DBInstanceArn": f"arn:{r.partition}:rds:{r.region}:{r.account}:db:{name}",
                            "Engine": _text(r.value(res, item, "Engine", "engine", "")),
                            "TagList": r.tags(res, item)}
    vpc = ""
    if "DBClusterIdentifier" in res.props:
        # An Aurora instance: its network comes from the cluster (not modelled).
        for model_field in ("vpc_id", "subnet_ids", "publicly_accessible", "security_group_ids"):
            item.mark(model_field, f"{res.logical} is an instance of DB cluster "
                                   f"{_text(res.raw('DBClusterIdentifier'))}: AWS::RDS::DBCluster is not modelled")
    elif "DBSubnetGroupName" in res.props:
        group_name = r.value(res, item, "DBSubnetGroupName", "subnet_ids")
        group = r.extra_groups.get(str(group_name)) if isinstance(group_name, str) else None
        item.attributes["vpc_id"] = item.attributes.get("subnet_ids", res.line or 0)
        if group is None:
            reason = item.unknown.get("subnet_ids") or (f"DB subnet group {group_name} is not declared in this "
                                                         "template")
            for model_field in ("vpc_id", "subnet_ids"):
                item.mark(model_field, reason)
        else:
            body["DBSubnetGroup"] = dict(group.body)
            vpc = str(group.body["VpcId"])
            for model_field, reason in group.unknown.items():
                item.mark(model_field, reason)
    else:
        for model_field in ("vpc_id", "subnet_ids"):
            item.mark(model_field, f"known after deploy: {res.logical} names no DBSubnetGroupName: it is placed in "
                                   "the account's default VPC")
    # PubliclyAccessible left out: AWS makes the instance public when its VPC has an internet
    # gateway attached, private otherwise (CreateDBInstance's documented default).
    public = r.flag(res, item, "PubliclyAccessible", "publicly_accessible", None)
    if "PubliclyAccessible" not in res.props and "publicly_accessible" not in item.unknown:
        attached = _igw_attached(r, vpc) if vpc else None
        if attached is None:
            item.mark("publicly_accessible", f"{res.logical}.PubliclyAccessible is not given, and whether its VPC "
                                             "has an internet gateway attached (AWS's default) is not known from "
                                             "this template")
        else:
            public = attached
            r.notes.append(f"{res.logical}: PubliclyAccessible not given: {'public' if attached else 'private'}, "
                           f"as AWS decides by whether VPC {vpc} has an internet gateway attached")
    if public is not None:
        body["PubliclyAccessible"] = public
    groups = r.ids(res, item, "VPCSecurityGroups", "security_group_ids", "sg")
    if "VPCSecurityGroups" not in res.props and vpc:
        groups = [_default_sg_of(r, item, vpc, "security_group_ids")]
    body["VpcSecurityGroups"] = [{"VpcSecurityGroupId": g, "Status": "active"} for g in groups]
    item.body.update(body)


def _igw_attached(r: _Reader, vpc: str) -> bool | None:
    """Whether a VPC of the template has an internet gateway attached (None: not known)."""
    if vpc not in r.by_id or r.by_id[vpc].call != _VPCS:
        return None
    attached = False
    for igw in (i for i in r.items if i.call == _IGWS):
        if any(a.get("VpcId") == vpc for a in igw.body.get("Attachments", [])):
            attached = True
        elif "attached_vpc_ids" in igw.unknown:
            return None
    return attached


@handler("AWS::ElasticLoadBalancingV2::LoadBalancer", 2)
def _elbv2(r: _Reader, res: _Res) -> None:
    lid = r.model_id(res.logical)
    item = r.item(_ELBV2, {}, res, model_id=lid)
    kind = _text(r.value(res, item, "Type", "kind", "application") or "application")
    scheme = r.value(res, item, "Scheme", "scheme", "internet-facing")
    subnets = r.ids(res, item, "Subnets", "subnet_ids", "subnet")
    if "SubnetMappings" in res.props:
        mappings = r.value(res, item, "SubnetMappings", "subnet_ids", [], kind="list")
        subnets += [m["SubnetId"] for m in mappings or [] if isinstance(m, dict) and isinstance(m.get("SubnetId"), str)]
    item.attributes.setdefault("vpc_id", item.attributes.get("subnet_ids", res.line or 0))
    vpc = _vpc_of_subnets(r, item, subnets, "vpc_id", f"the VPC of {res.logical}") if subnets else (
        unknown_id("vpc", f"{res.logical}.Subnets"))
    if not subnets:
        item.mark("vpc_id", f"{res.logical} names no subnets")
    groups = r.ids(res, item, "SecurityGroups", "security_group_ids", "sg")
    if "SecurityGroups" not in res.props and kind == "application":
        groups = [_default_sg_of(r, item, vpc, "security_group_ids")]
    name = r.value(res, item, "Name", "name")
    item.body.update({"LoadBalancerArn": lid, "Type": kind, "VpcId": vpc, "State": {"Code": "active"},
                      "LoadBalancerName": name if isinstance(name, str) else res.logical,
                      "AvailabilityZones": [{"SubnetId": s} for s in subnets], "SecurityGroups": groups})
    if scheme is not None:
        item.body["Scheme"] = _text(scheme)
    if "Name" not in res.props:
        item.mark("name", f"known after deploy: {res.logical}.LoadBalancerName (CloudFormation makes one up)",
                  quiet=True)
    item.mark("arn", f"known after deploy: {res.logical}.LoadBalancerArn", quiet=True)


@handler("AWS::ElasticLoadBalancing::LoadBalancer", 2)
def _elb(r: _Reader, res: _Res) -> None:
    name = r.model_id(res.logical)
    item = r.item(_ELB, {}, res, model_id=name)
    scheme = r.value(res, item, "Scheme", "scheme", "internet-facing")
    subnets = r.ids(res, item, "Subnets", "subnet_ids", "subnet")
    item.attributes.setdefault("vpc_id", item.attributes.get("subnet_ids", res.line or 0))
    if subnets:
        vpc = _vpc_of_subnets(r, item, subnets, "vpc_id", f"the VPC of {res.logical}")
    else:
        vpc = unknown_id("vpc", f"the default VPC of {res.logical}")
        item.mark("vpc_id", f"known after deploy: {res.logical} names no subnets: it is made in the account's "
                            "default VPC")
    groups = r.ids(res, item, "SecurityGroups", "security_group_ids", "sg")
    if "SecurityGroups" not in res.props and subnets:
        groups = [_default_sg_of(r, item, vpc, "security_group_ids")]
    item.body.update({"LoadBalancerName": name, "VPCId": vpc, "Subnets": subnets, "SecurityGroups": groups})
    if scheme is not None:
        item.body["Scheme"] = _text(scheme)


# -- subnet IPv6 blocks, VPN route propagation, carrier gateways ---------------------------------

@handler("AWS::EC2::SubnetCidrBlock", 2)
def _subnet_cidr(r: _Reader, res: _Res) -> None:
    scratch = _Item(_SUBNETS, {}, res.logical, res.line)
    sid = r.ref(res, scratch, "SubnetId", "ipv6_cidrs", "subnet")
    subnet = r.owner(res, _SUBNETS, sid, "IPv6 block", "SubnetId")
    if subnet is None:
        return
    block = r.value(res, scratch, "Ipv6CidrBlock", "ipv6_cidrs", kind="cidr")
    if isinstance(block, str):
        subnet.body["Ipv6CidrBlockAssociationSet"].append({"Ipv6CidrBlock": block,
                                                          "Ipv6CidrBlockState": {"State": "associated"}})
    elif "ipv6_cidrs" not in scratch.unknown:
        scratch.mark("ipv6_cidrs", f"known after deploy: {res.logical}.Ipv6CidrBlock (allocated from an IPAM pool)")
    _merge(subnet, scratch, "ipv6_cidrs", res)


@handler("AWS::EC2::VPNGatewayRoutePropagation", 3)
def _vgw_propagation(r: _Reader, res: _Res) -> None:
    scratch = _Item(_RTBS, {}, res.logical, res.line)
    gid = r.ref(res, scratch, "VpnGatewayId", "routes", "vgw")
    for rid in r.ids(res, scratch, "RouteTableIds", "routes", "rtb"):
        table = r.owner(res, _RTBS, rid, "route propagation", "RouteTableIds")
        if table is None:
            continue
        table.body["PropagatingVgws"].append({"GatewayId": gid})
        # The routes the gateway learns (BGP, or a VPN's static routes) are known only once connected.
        table.mark("routes", f"known after deploy: the routes {res.logical} propagates from {gid} into "
                             f"{rid} (learnt from the VPN or Direct Connect peer)")
        _merge(table, scratch, "routes", res)


@handler("AWS::EC2::CarrierGateway", 2)
def _carrier_gateway(r: _Reader, res: _Res) -> None:
    gid = r.model_id(res.logical)
    item = r.item(("ec2", "DescribeCarrierGateways"), {}, res, model_id=gid)
    item.body.update({"CarrierGatewayId": gid, "VpcId": r.ref(res, item, "VpcId", "vpc_id", "vpc"),
                      "State": "available", "OwnerId": r.account, "Tags": r.tags(res, item)})
