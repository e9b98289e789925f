"""What each supported Terraform type becomes: items in AWS's response shapes
(`auditor.iac.terraform` runs these over a plan's instances).

An emitter reads one instance's values through `R` (values known at plan time, references
resolved by `auditor.iac.terraform_plan.Plan`) and adds or changes items of the `Estate`:
resources of their own (a VPC, a subnet ...) first, then those that change another's item
(a route in a route table, an association, a rule in a network ACL ...). A value still
unknown becomes an unknown mark on the model field it fills (or an `unknown_id` for ids),
never a guess; AWS's documented defaults are values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from auditor.iac.base import synthetic_id, unknown_id
from auditor.iac.terraform_plan import Instance, Plan, Val, path_text

Call = tuple[str, str]

# AWS's default endpoint policy (a VPC endpoint created without one gets it).
DEFAULT_ENDPOINT_POLICY = json.dumps({"Version": "2008-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}, separators=(",", ":"))

# AWS's default flow log record format (a flow log created without log_format gets it).
DEFAULT_FLOW_LOG_FORMAT = ("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
                           "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}")

_PROTO_NAMES = {"all": "-1", "-1": "-1", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
_PROTO_NUMBERS = {"all": "-1", "-1": "-1", "tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58"}


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

    def add(self, region: str, call: Call, key: str, body: dict[str, Any], address: str) -> Item:
        item = Item(call, region, body, address)
        self.items[(region, call, key)] = item
        return item

    def get(self, region: str, call: Call, key: str) -> Item | None:
        return self.items.get((region, call, key))

    def of(self, region: str, call: Call) -> list[Item]:
        return [i for (r, c, _), i in self.items.items() if r == region and c == call]


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
        got = self.raw(path)
        if not got.known:
            self.unknown.setdefault(model_field, str(got.reason))
            return default
        return default if got.value is None else got.value

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
        return [str(v) for v in value if v not in (None, "")]

    def blocks(self, name: str, model_field: str) -> list[tuple[int, dict[str, Any]]] | None:
        """The nested blocks `name` (index, values); None when the plan knows them only after apply."""
        got = self.raw(name)
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


def _id(r: R) -> str:
    return r.plan.id_of(r.inst)


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _vpc_of_subnet(r: R, subnet: str | None) -> str | None:
    if not subnet:
        return None
    item = r.estate.get(r.region, SUBNETS, subnet)
    if item is not None:
        if "vpc_id" in item.unknown:
            return None
        return str(item.body.get("VpcId") or "") or None
    return None


def _vpc_from_subnets(r: R, subnets: list[str], model_field: str) -> str | None:
    vpcs = {_vpc_of_subnet(r, s) for s in subnets}
    if len(vpcs) == 1 and None not in vpcs:
        return vpcs.pop()
    if subnets:
        r.unknown.setdefault(model_field, f"the VPC of {r.address}'s subnets is not known before apply")
    return None


# -- primary types -------------------------------------------------------------------------

@primary("vpc", "aws_vpc")
def _vpc(r: R) -> None:
    vid = _id(r)
    cidr = r.val("cidr_block", "cidr_blocks", "")
    asked = r.raw("assign_generated_ipv6_cidr_block")
    pool = r.raw("ipv6_ipam_pool_id")
    if asked.known and not asked.value and pool.known and not pool.value:
        v6 = r.val_or("ipv6_cidr_block", "ipv6_cidr_blocks", "")   # AWS gives IPv6 only when asked
    else:
        v6 = r.val("ipv6_cidr_block", "ipv6_cidr_blocks", "")
    owner = r.val("owner_id", "owner_id", r.estate.account) if not r.inst.created else r.estate.account
    r.new(VPCS, vid, {"VpcId": vid, "CidrBlock": cidr, "State": "available", "IsDefault": False, "OwnerId": owner,
                      "CidrBlockAssociationSet": [{"CidrBlock": cidr, "CidrBlockState": {"State": "associated"}}],
                      "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": v6}] if v6 else [], "Tags": r.tags()})
    dns: dict[str, bool | None] = {}
    for attr, key, default in (("enable_dns_support", "dns_support", True),
                               ("enable_dns_hostnames", "dns_hostnames", False)):
        got = r.raw(attr)
        dns[key] = _bool(got.value) if got.known and got.value is not None else (
            None if not got.known and r.plan.has_expression(r.inst, attr) else default)
    r.estate.vpc_dns[(r.region, vid)] = dns


@primary("subnet", "aws_subnet")
def _subnet(r: R) -> None:
    sid = _id(r)
    vpc = r.ref("vpc_id", "vpc", "vpc_id")
    body = {"SubnetId": sid, "VpcId": vpc, "CidrBlock": r.val("cidr_block", "cidr", ""),
            "AvailabilityZone": r.val("availability_zone", "availability_zone", ""),
            "MapPublicIpOnLaunch": bool(r.val("map_public_ip_on_launch", "map_public_ip_on_launch", False)),
            "AssignIpv6AddressOnCreation": bool(r.val("assign_ipv6_address_on_creation",
                                                      "assign_ipv6_on_creation", False)),
            "Tags": r.tags()}
    az_id = r.raw("availability_zone_id")
    if az_id.known:
        body["AvailabilityZoneId"] = az_id.value or ""
    elif "availability_zone" in r.unknown:
        r.unknown["availability_zone_id"] = str(az_id.reason)
    else:   # AWS gives the zone's id; no analyzer reads it
        r.unknown["availability_zone_id"] = str(az_id.reason)
        r.quiet.add("availability_zone_id")
    v6 = r.val_or("ipv6_cidr_block", "ipv6_cidrs", "")   # a subnet gets IPv6 only when given one
    body["Ipv6CidrBlockAssociationSet"] = [{"Ipv6CidrBlock": v6}] if v6 else []
    r.new(SUBNETS, sid, body)


_ROUTE_TARGETS = (("gateway_id", "GatewayId", ""), ("nat_gateway_id", "NatGatewayId", "nat"),
                  ("transit_gateway_id", "TransitGatewayId", "tgw"),
                  ("vpc_peering_connection_id", "VpcPeeringConnectionId", "pcx"),
                  ("egress_only_gateway_id", "EgressOnlyInternetGatewayId", "eigw"),
                  ("network_interface_id", "NetworkInterfaceId", "eni"), ("vpc_endpoint_id", "GatewayId", "vpce"),
                  ("carrier_gateway_id", "CarrierGatewayId", "cagw"), ("local_gateway_id", "LocalGatewayId", "lgw"),
                  ("core_network_arn", "CoreNetworkArn", ""), ("instance_id", "InstanceId", "i"))


def route_body(r: R, path: list[str | int], rtb: Item) -> dict[str, Any] | None:
    """A route (inline block at `path`, or an aws_route's top level), in DescribeRouteTables' shape."""
    route: dict[str, Any] = {"State": "active", "Origin": "CreateRoute"}
    for attr, key in (("cidr_block", "DestinationCidrBlock"), ("destination_cidr_block", "DestinationCidrBlock"),
                      ("ipv6_cidr_block", "DestinationIpv6CidrBlock"),
                      ("destination_ipv6_cidr_block", "DestinationIpv6CidrBlock"),
                      ("destination_prefix_list_id", "DestinationPrefixListId")):
        got = r.raw([*path, attr])
        if not got.known:
            rtb.unknown.setdefault("routes", str(got.reason))
            return None
        if got.value:
            route[key] = got.value
    if not any(k.startswith("Destination") for k in route):
        return None
    for attr, key, prefix in _ROUTE_TARGETS:
        got = r.raw([*path, attr])
        if got.known and got.value:
            route.setdefault(key, str(got.value))
        elif not got.known and r.inst.config and r.plan.expression(r.inst, [*path, attr]) is None \
                and not (path and r.plan.expression(r.inst, path) is None):
            continue   # not in the configuration: an attribute AWS fills in from the target set
        elif not got.known:
            what = f"{r.address}.{path_text([*path, attr])}"
            route.setdefault(key, unknown_id(got.prefix or prefix, what))
            if not (got.prefix or prefix):   # not even the kind of target is known
                rtb.unknown.setdefault("routes", str(got.reason))
    return route


def _local_routes(r: R, vpc: str | None, rtb: Item) -> list[dict[str, Any]]:
    item = r.estate.get(r.region, VPCS, vpc or "")
    if item is None:
        if vpc and not vpc.startswith(unknown_id("vpc", "")[:8]):
            r.estate.notes.append(f"{r.address}: VPC {vpc} is not in the plan; its local route is not shown")
        return []
    if "cidr_blocks" in item.unknown:
        rtb.unknown.setdefault("routes", item.unknown["cidr_blocks"])
    out = [{"DestinationCidrBlock": a["CidrBlock"], "GatewayId": "local", "State": "active",
            "Origin": "CreateRouteTable"} for a in item.body.get("CidrBlockAssociationSet", []) if a.get("CidrBlock")]
    out += [{"DestinationIpv6CidrBlock": a["Ipv6CidrBlock"], "GatewayId": "local", "State": "active",
             "Origin": "CreateRouteTable"} for a in item.body.get("Ipv6CidrBlockAssociationSet", [])]
    return out


@primary("route_table", "aws_route_table", "aws_default_route_table")
def _route_table(r: R) -> None:
    rid = _id(r)
    if r.inst.type == "aws_default_route_table":
        rid = r.ref("default_route_table_id", "rtb") or rid
        vpc = _vpc_of_default(r, rid, "default_route_table") or r.ref("vpc_id", "vpc", "vpc_id")
        r.estate.declared_defaults.add(("rtb", vpc or ""))
    else:
        vpc = r.ref("vpc_id", "vpc", "vpc_id")
    item = r.new(RTBS, rid, {"RouteTableId": rid, "VpcId": vpc, "Associations": [], "Routes": [],
                             "Tags": r.tags()})
    item.body["Routes"] = _local_routes(r, vpc, item)
    blocks = r.blocks("route", "routes")
    for i, _ in blocks or []:
        route = route_body(r, ["route", i], item)
        if route is not None:
            item.body["Routes"].append(route)
    if r.inst.type == "aws_default_route_table":
        item.body["Associations"].append({"Main": True, "RouteTableId": rid})


def _vpc_of_default(r: R, default_id: str | None, suffix: str) -> str | None:
    """The VPC whose implicit default (route table, security group, NACL) this id is."""
    for item in r.estate.of(r.region, VPCS):
        vid = item.body["VpcId"]
        inst = r.plan.by_address.get(item.address)
        if inst is None:
            continue
        if inst.created and default_id == synthetic_id(PREFIX_DEFAULT[suffix], f"{inst.address}.{suffix}"):
            return str(vid)
        attr = {"default_route_table": "default_route_table_id", "default_security_group": "default_security_group_id",
                "default_network_acl": "default_network_acl_id"}[suffix]
        got = r.plan.get(inst, attr)
        if got.known and got.value == default_id:
            return str(vid)
    return None


PREFIX_DEFAULT = {"default_route_table": "rtb", "default_security_group": "sg", "default_network_acl": "acl"}


def _gateway(r: R, call: Call, key: str, attachment_state: str = "available") -> None:
    gid = _id(r)
    vpc = r.ref("vpc_id", "vpc", "attached_vpc_ids") if r.given("vpc_id") else None
    body: dict[str, Any] = {key: gid, "Attachments": [{"VpcId": vpc, "State": attachment_state}] if vpc else [],
                            "Tags": r.tags()}
    r.new(call, gid, body)


@primary("internet_gateway", "aws_internet_gateway")
def _igw(r: R) -> None:
    _gateway(r, IGWS, "InternetGatewayId")


@primary("egress_only_internet_gateway", "aws_egress_only_internet_gateway")
def _eigw(r: R) -> None:
    _gateway(r, EIGWS, "EgressOnlyInternetGatewayId", "attached")


@primary("vpn_gateway", "aws_vpn_gateway")
def _vgw(r: R) -> None:
    gid = _id(r)
    vpc = r.ref("vpc_id", "vpc", "attached_vpc_ids") if r.given("vpc_id") else None
    r.new(VGWS, gid, {"VpnGatewayId": gid, "State": "available", "Type": "ipsec.1", "Tags": r.tags(),
                      "VpcAttachments": [{"VpcId": vpc, "State": "attached"}] if vpc else []})


@primary("elastic_ip", "aws_eip")
def _eip(r: R) -> None:
    aid = _id(r)
    ip = r.raw("public_ip")
    instance = r.ref("instance", "i", "instance_id") if r.given("instance") else None
    eni = r.ref("network_interface", "eni", "network_interface_id") if r.given("network_interface") else None
    body = {"AllocationId": aid, "PublicIp": ip.value if ip.known and ip.value else placeholder_ip(r.address),
            "Domain": "vpc", "Tags": r.tags()}
    if instance:
        body["InstanceId"] = instance
    if eni:
        body["NetworkInterfaceId"] = eni
    r.new(EIPS, aid, body)


@primary("nat_gateway", "aws_nat_gateway")
def _nat(r: R) -> None:
    nid = _id(r)
    subnet = r.ref("subnet_id", "subnet", "subnet_id")
    kind = r.val("connectivity_type", "connectivity", "public") or "public"
    vpc = _vpc_of_subnet(r, subnet)
    if vpc is None:
        r.unknown.setdefault("vpc_id", f"the VPC of {r.address}'s subnet is not known before apply")
    addresses = []
    if kind == "public":
        alloc = r.ref("allocation_id", "eipalloc")
        eip = r.estate.get(r.region, EIPS, alloc or "")
        ip = str(eip.body["PublicIp"]) if eip is not None else placeholder_ip(r.address)
        addresses.append({"AllocationId": alloc, "PublicIp": ip})
    r.new(NATS, nid, {"NatGatewayId": nid, "SubnetId": subnet, "VpcId": vpc, "ConnectivityType": kind,
                      "State": "available", "NatGatewayAddresses": addresses, "Tags": r.tags()})


@primary("security_group", "aws_security_group", "aws_default_security_group")
def _sg(r: R) -> None:
    gid = _id(r)
    vpc = r.ref("vpc_id", "vpc", "vpc_id")
    default = r.inst.type == "aws_default_security_group"
    name = "default" if default else r.val("name", "name", "")
    description = "default VPC security group" if default else r.val_or("description", "description",
                                                                        "Managed by Terraform")
    if default:
        if r.inst.created:   # Terraform adopts the VPC's default group: its id is the VPC's default_security_group_id
            got = r.raw("id")
            gid = str(got.value) if got.known and got.value else synthetic_id("sg", _default_of(r, vpc,
                                                                                               "default_security_group"))
        r.estate.declared_defaults.add(("sg", vpc or ""))
    r.new(SGS, gid, {"GroupId": gid, "VpcId": vpc, "GroupName": name, "Description": description,
                     "Tags": r.tags()})
    sub = R(r.plan, r.inst, r.region, r.estate)
    for direction in ("ingress", "egress"):
        blocks = sub.blocks(direction, "is_egress")
        if blocks is None:
            sub.unknown.pop("is_egress", None)
            r.estate.get(r.region, SGS, gid).unknown.setdefault(  # type: ignore[union-attr]
                "description", f"known after apply: {r.address}.{direction}")
            r.problem(f"{direction} rules are known only after apply: the group's rules are incomplete")
            continue
        for i, block in blocks:
            for n, rule in enumerate(_sg_sources(block, gid)):
                rid = synthetic_id("sgr", f"{r.address}.{direction}[{i}].{n}")
                r.estate.add(r.region, SGRS, rid, {
                    "SecurityGroupRuleId": rid, "GroupId": gid, "IsEgress": direction == "egress",
                    "IpProtocol": _proto(block.get("protocol")), "FromPort": _port(block.get("from_port")),
                    "ToPort": _port(block.get("to_port")), "Description": block.get("description") or "", **rule},
                    r.address)


def _default_of(r: R, vpc: str | None, suffix: str) -> str:
    inst = next((i for i in r.plan.instances if i.type == "aws_vpc" and r.plan.id_of(i) == vpc), None)
    return f"{inst.address}.{suffix}" if inst is not None else f"{r.address}"


def _sg_sources(block: dict[str, Any], gid: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    out += [{"CidrIpv4": c} for c in block.get("cidr_blocks") or []]
    out += [{"CidrIpv6": c} for c in block.get("ipv6_cidr_blocks") or []]
    out += [{"PrefixListId": c} for c in block.get("prefix_list_ids") or []]
    out += [{"ReferencedGroupInfo": {"GroupId": g}} for g in block.get("security_groups") or []]
    if block.get("self"):
        out.append({"ReferencedGroupInfo": {"GroupId": gid}})
    return out


def _proto(value: Any) -> str:
    text = str(value if value is not None else "-1").lower()
    return _PROTO_NAMES.get(text, text)


def _port(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@primary("security_group_rule", "aws_security_group_rule")
def _sg_rule(r: R) -> None:
    group = r.ref("security_group_id", "sg", "group_id")
    kind = r.val("type", "is_egress", "ingress")
    base = {"GroupId": group, "IsEgress": kind == "egress", "IpProtocol": _proto(r.val("protocol", "protocol", "-1")),
            "FromPort": _port(r.val("from_port", "from_port")), "ToPort": _port(r.val("to_port", "to_port")),
            "Description": r.val("description", "description", "")}
    sources: list[dict[str, Any]] = []
    for attr, key, model_field in (("cidr_blocks", "CidrIpv4", "cidr_ipv4"), ("ipv6_cidr_blocks", "CidrIpv6", "cidr_ipv6"),
                                   ("prefix_list_ids", "PrefixListId", "prefix_list_id")):
        sources += [{key: v} for v in r.refs(attr, "pl" if "prefix" in attr else "", model_field)]
    if r.given("source_security_group_id"):
        sources.append({"ReferencedGroupInfo": {"GroupId": r.ref("source_security_group_id", "sg",
                                                                 "referenced_group_id")}})
    if r.val("self", "referenced_group_id", False):
        sources.append({"ReferencedGroupInfo": {"GroupId": group}})
    if not sources:   # every source unknown: one rule whose source fields say so
        sources.append({})
    for n, source in enumerate(sources):
        rid = _id(r) if len(sources) == 1 else synthetic_id("sgr", f"{r.address}.{n}")
        r.new(SGRS, rid, {"SecurityGroupRuleId": rid, **base, **source})


@primary("security_group_rule", "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")
def _vpc_sg_rule(r: R) -> None:
    rid = _id(r)
    body: dict[str, Any] = {
        "SecurityGroupRuleId": rid, "GroupId": r.ref("security_group_id", "sg", "group_id"),
        "IsEgress": r.inst.type.endswith("egress_rule"), "IpProtocol": _proto(r.val("ip_protocol", "protocol", "-1")),
        "FromPort": _port(r.val("from_port", "from_port")), "ToPort": _port(r.val("to_port", "to_port")),
        "Description": r.val("description", "description", "")}
    for attr, key, model_field in (("cidr_ipv4", "CidrIpv4", "cidr_ipv4"), ("cidr_ipv6", "CidrIpv6", "cidr_ipv6"),
                                   ("prefix_list_id", "PrefixListId", "prefix_list_id")):
        value = r.val(attr, model_field)
        if value:
            body[key] = value
    if r.given("referenced_security_group_id"):
        body["ReferencedGroupInfo"] = {"GroupId": r.ref("referenced_security_group_id", "sg", "referenced_group_id")}
    r.new(SGRS, rid, body)


def _nacl_entry(block: dict[str, Any], egress: bool) -> dict[str, Any]:
    proto = str(block.get("protocol", "-1")).lower()
    entry: dict[str, Any] = {"RuleNumber": int(block.get("rule_no") or block.get("rule_number") or 0),
                             "Egress": egress, "Protocol": _PROTO_NUMBERS.get(proto, proto),
                             "RuleAction": str(block.get("action") or block.get("rule_action") or "").lower()}
    if block.get("cidr_block"):
        entry["CidrBlock"] = block["cidr_block"]
    if block.get("ipv6_cidr_block"):
        entry["Ipv6CidrBlock"] = block["ipv6_cidr_block"]
    if entry["Protocol"] not in ("-1",) and block.get("from_port") is not None:
        entry["PortRange"] = {"From": _port(block.get("from_port")), "To": _port(block.get("to_port"))}
    return entry


_NACL_DENY = [{"RuleNumber": 32767, "Egress": e, "Protocol": "-1", "RuleAction": "deny", "CidrBlock": "0.0.0.0/0"}
              for e in (False, True)]


@primary("network_acl", "aws_network_acl", "aws_default_network_acl")
def _nacl(r: R) -> None:
    aid = _id(r)
    default = r.inst.type == "aws_default_network_acl"
    if default:
        aid = r.ref("default_network_acl_id", "acl") or aid
        vpc = _vpc_of_default(r, aid, "default_network_acl") or r.ref("vpc_id", "vpc", "vpc_id")
        r.estate.declared_defaults.add(("acl", vpc or ""))
    else:
        vpc = r.ref("vpc_id", "vpc", "vpc_id")
    entries: list[dict[str, Any]] = []
    for direction in ("ingress", "egress"):
        for _, block in r.blocks(direction, "entries") or []:
            entries.append(_nacl_entry(block, direction == "egress"))
    subnets = r.refs("subnet_ids", "subnet", "subnet_ids")
    for s in subnets:
        r.estate.nacl_assoc[(r.region, s)] = aid
    r.new(ACLS, aid, {"NetworkAclId": aid, "VpcId": vpc, "IsDefault": default, "Entries": entries + _NACL_DENY,
                      "Associations": [{"SubnetId": s, "NetworkAclId": aid} for s in subnets], "Tags": r.tags()})


@primary("vpc_endpoint", "aws_vpc_endpoint")
def _endpoint(r: R) -> None:
    eid = _id(r)
    kind = r.val("vpc_endpoint_type", "endpoint_type", "Gateway") or "Gateway"
    got = r.raw("policy")
    if got.known and got.value:
        policy: str | None = str(got.value)
    elif not got.known and r.plan.has_expression(r.inst, "policy"):
        policy = None
        r.unknown.setdefault("policy", str(got.reason))
        r.unknown.setdefault("policy_document", str(got.reason))
    else:
        policy = DEFAULT_ENDPOINT_POLICY if kind in ("Gateway", "Interface") else None
        if policy is not None:
            r.estate.notes.append(f"{r.address}: no policy declared: AWS's default full-access endpoint policy")
    private_dns = r.val_or("private_dns_enabled", "private_dns_enabled", False)   # Terraform's default
    body: dict[str, Any] = {
        "VpcEndpointId": eid, "VpcId": r.ref("vpc_id", "vpc", "vpc_id"),
        "ServiceName": r.val("service_name", "service_name", ""), "VpcEndpointType": kind, "State": "available",
        "PrivateDnsEnabled": bool(private_dns) if kind == "Interface" else False,
        "SubnetIds": r.refs("subnet_ids", "subnet", "subnet_ids", []),
        "Groups": [{"GroupId": g} for g in r.refs("security_group_ids", "sg", "security_group_ids", [])],
        "RouteTableIds": r.refs("route_table_ids", "rtb", "route_table_ids", []), "NetworkInterfaceIds": [],
        "Tags": r.tags()}
    if "service" not in r.unknown and "service_name" in r.unknown:
        r.unknown["service"] = r.unknown["service_name"]
    if kind == "Interface":
        r.unknown.setdefault("network_interface_ids", f"known after apply: {r.address}.network_interface_ids")
        r.quiet.add("network_interface_ids")
    if policy is not None:
        body["PolicyDocument"] = policy
    r.new(VPCES, eid, body)


@primary("instance", "aws_instance")
def _instance(r: R) -> None:
    iid = _id(r)
    subnet = r.ref("subnet_id", "subnet", "subnet_id")
    vpc = _vpc_of_subnet(r, subnet)
    if vpc is None:
        r.unknown.setdefault("vpc_id", f"the VPC of {r.address}'s subnet is not known before apply")
    public: str | None = None
    got = r.raw("public_ip")
    assoc = r.raw("associate_public_ip_address")
    if got.known and got.value:
        public = str(got.value)
    elif assoc.known and assoc.value is True:
        public = placeholder_ip(r.address)
    elif assoc.known and assoc.value is False:
        public = None
    elif not assoc.known and r.plan.has_expression(r.inst, "associate_public_ip_address"):
        r.unknown["public_ip"] = str(assoc.reason)
    else:   # unset: the subnet's map_public_ip_on_launch decides
        item = r.estate.get(r.region, SUBNETS, subnet or "")
        if item is None or "map_public_ip_on_launch" in item.unknown:
            r.unknown["public_ip"] = (f"{r.address}: associate_public_ip_address unset and the subnet's "
                                      "map_public_ip_on_launch not known before apply")
        elif item.body.get("MapPublicIpOnLaunch"):
            public = placeholder_ip(r.address)
    if r.raw("vpc_security_group_ids").known or r.plan.has_expression(r.inst, "vpc_security_group_ids") or \
            r.plan.has_expression(r.inst, "security_groups"):
        groups = r.refs("vpc_security_group_ids", "sg", "security_group_ids")
    else:   # none given: AWS puts the instance in its VPC's default security group
        default = next((i for i in r.estate.of(r.region, SGS) if i.body.get("VpcId") == vpc
                        and i.body.get("GroupName") == "default"), None) if vpc else None
        groups = [str(default.body["GroupId"])] if default is not None else []
        if default is None:
            r.unknown["security_group_ids"] = f"known after apply: {r.address}.vpc_security_group_ids"
    private = r.val("private_ip", "private_ip", "")
    if "private_ip" in r.unknown:
        r.quiet.add("private_ip")
    r.new(INSTANCES, iid, {"InstanceId": iid, "VpcId": vpc, "SubnetId": subnet, "State": {"Name": "running"},
                           "PrivateIpAddress": private, "PublicIpAddress": public,
                           "SecurityGroups": [{"GroupId": g} for g in groups], "NetworkInterfaces": [],
                           "SourceDestCheck": r.val_or("source_dest_check", "source_dest_check", True),
                           "Tags": r.tags()})


@primary("network_interface", "aws_network_interface")
def _eni(r: R) -> None:
    nid = _id(r)
    subnet = r.ref("subnet_id", "subnet", "subnet_id")
    vpc = _vpc_of_subnet(r, subnet)
    if vpc is None:
        r.unknown.setdefault("vpc_id", f"the VPC of {r.address}'s subnet is not known before apply")
    ips = r.refs("private_ips", "", "private_ips")
    if "private_ips" in r.unknown:
        r.quiet.add("private_ips")
    body: dict[str, Any] = {
        "NetworkInterfaceId": nid, "VpcId": vpc, "SubnetId": subnet, "InterfaceType": "interface",
        "Description": r.val("description", "description", ""),
        "PrivateIpAddresses": [{"PrivateIpAddress": ip} for ip in ips],
        "Groups": [{"GroupId": g} for g in r.refs("security_groups", "sg", "security_group_ids")],
        "SourceDestCheck": r.val_or("source_dest_check", "source_dest_check", True), "TagSet": r.tags()}
    blocks = r.blocks("attachment", "instance_id") or []
    if blocks:
        body["Attachment"] = {"InstanceId": r.ref(["attachment", blocks[0][0], "instance"], "i", "instance_id")}
    r.new(ENIS, nid, body)


@primary("transit_gateway", "aws_ec2_transit_gateway")
def _tgw(r: R) -> None:
    tid = _id(r)
    assoc = r.val("default_route_table_association", "default_association_route_table_id", "enable")
    prop = r.val("default_route_table_propagation", "default_propagation_route_table_id", "enable")
    default_rt = None
    if r.inst.created and (assoc == "enable" or prop == "enable"):
        default_rt = synthetic_id("tgw-rtb", f"{r.address}.default_route_table")
        r.estate.add(r.region, TGW_RTS, default_rt, {
            "TransitGatewayRouteTableId": default_rt, "TransitGatewayId": tid, "State": "available",
            "DefaultAssociationRouteTable": assoc == "enable", "DefaultPropagationRouteTable": prop == "enable"},
            r.address)
        for store in (r.estate.tgw_routes, r.estate.tgw_assoc, r.estate.tgw_prop):
            store.setdefault((r.region, default_rt), [])
    elif not r.inst.created:
        got = r.raw("association_default_route_table_id")
        default_rt = str(got.value) if got.known and got.value else None
    options = {"AutoAcceptSharedAttachments": r.val("auto_accept_shared_attachments",
                                                    "auto_accept_shared_attachments", "disable"),
               "AssociationDefaultRouteTableId": default_rt if assoc == "enable" else None,
               "PropagationDefaultRouteTableId": default_rt if prop == "enable" else None}
    r.new(TGWS, tid, {"TransitGatewayId": tid, "OwnerId": r.estate.account, "State": "available",
                      "Options": options, "Tags": r.tags()})


@primary("transit_gateway_route_table", "aws_ec2_transit_gateway_route_table")
def _tgw_rt(r: R) -> None:
    rid = _id(r)
    r.new(TGW_RTS, rid, {"TransitGatewayRouteTableId": rid, "State": "available",
                         "TransitGatewayId": r.ref("transit_gateway_id", "tgw", "transit_gateway_id"),
                         "DefaultAssociationRouteTable": False, "DefaultPropagationRouteTable": False,
                         "Tags": r.tags()})
    for store in (r.estate.tgw_routes, r.estate.tgw_assoc, r.estate.tgw_prop):
        store.setdefault((r.region, rid), [])


@primary("transit_gateway_attachment", "aws_ec2_transit_gateway_vpc_attachment")
def _tgw_attach(r: R) -> None:
    aid = _id(r)
    tgw = r.ref("transit_gateway_id", "tgw", "transit_gateway_id")
    vpc = r.ref("vpc_id", "vpc", "resource_id")
    subnets = r.refs("subnet_ids", "subnet", "subnet_ids")
    body: dict[str, Any] = {"TransitGatewayAttachmentId": aid, "TransitGatewayId": tgw, "ResourceType": "vpc",
                            "ResourceId": vpc, "ResourceOwnerId": r.estate.account, "State": "available",
                            "Tags": r.tags()}
    tgw_item = r.estate.get(r.region, TGWS, tgw or "")
    options = tgw_item.body.get("Options", {}) if tgw_item is not None else {}
    default_assoc = r.val("transit_gateway_default_route_table_association",
                          "associated_route_table_id", True)
    default_prop = r.val("transit_gateway_default_route_table_propagation", "associated_route_table_id", True)
    if default_assoc and options.get("AssociationDefaultRouteTableId"):
        rt = str(options["AssociationDefaultRouteTableId"])
        body["Association"] = {"TransitGatewayRouteTableId": rt, "State": "associated"}
        if (r.region, rt) in r.estate.tgw_assoc:
            r.estate.tgw_assoc[(r.region, rt)].append(aid)
    if default_prop and options.get("PropagationDefaultRouteTableId"):
        rt = str(options["PropagationDefaultRouteTableId"])
        if (r.region, rt) in r.estate.tgw_prop:
            r.estate.tgw_prop[(r.region, rt)].append(aid)
    item = r.new(TGW_ATTS, aid, body)
    vpc_item = r.new(TGW_VPC_ATTS, aid, {"TransitGatewayAttachmentId": aid, "TransitGatewayId": tgw, "VpcId": vpc,
                                         "VpcOwnerId": r.estate.account, "State": "available",
                                         "SubnetIds": subnets})
    vpc_item.unknown.clear()   # the marks live on the attachment's listing item
    if "subnet_ids" in r.unknown:
        item.unknown["subnet_ids"] = r.unknown["subnet_ids"]


@primary("prefix_list", "aws_ec2_managed_prefix_list")
def _prefix_list(r: R) -> None:
    pid = _id(r)
    r.new(PLS, pid, {"PrefixListId": pid, "PrefixListName": r.val("name", "name", ""),
                     "AddressFamily": r.val("address_family", "address_family", "IPv4"), "OwnerId": r.estate.account,
                     "Tags": r.tags()})
    cidrs = [str(b.get("cidr")) for _, b in r.blocks("entry", "cidrs") or [] if b.get("cidr")]
    item = r.estate.get(r.region, PLS, pid)
    if "cidrs" in r.unknown and item is not None:
        item.unknown["cidrs"] = r.unknown["cidrs"]
    r.estate.pl_entries[(r.region, pid)] = cidrs


@primary("vpc_peering", "aws_vpc_peering_connection")
def _peering(r: R) -> None:
    pid = _id(r)
    vpc = r.ref("vpc_id", "vpc", "requester")
    peer = r.ref("peer_vpc_id", "vpc", "accepter")
    peer_owner = r.val("peer_owner_id", "accepter", r.estate.account) or r.estate.account
    peer_region = r.val("peer_region", "accepter", r.region) or r.region
    accepted = r.val("auto_accept", "status", False) or r.raw("accept_status").value == "active"
    r.new(PCXS, pid, {"VpcPeeringConnectionId": pid, "Status": {"Code": "active" if accepted
                                                                  else "pending-acceptance"},
                      "RequesterVpcInfo": _side(r, vpc, r.estate.account, r.region),
                      "AccepterVpcInfo": _side(r, peer, str(peer_owner), str(peer_region)), "Tags": r.tags()})


def _side(r: R, vpc: str | None, owner: str, region: str) -> dict[str, Any]:
    info: dict[str, Any] = {"VpcId": vpc, "OwnerId": owner, "Region": region}
    item = r.estate.get(region, VPCS, vpc or "")
    if item is not None:
        info["CidrBlockSet"] = [{"CidrBlock": a["CidrBlock"]} for a in item.body.get("CidrBlockAssociationSet", [])
                                if a.get("CidrBlock")]
    return info


@primary("flow_log", "aws_flow_log")
def _flow_log(r: R) -> None:
    fid = _id(r)
    resource = None
    for attr, prefix in (("vpc_id", "vpc"), ("subnet_id", "subnet"), ("eni_id", "eni"),
                         ("transit_gateway_id", "tgw"), ("transit_gateway_attachment_id", "tgw-attach")):
        if r.given(attr):
            resource = r.ref(attr, prefix, "resource_id")
            break
    r.new(FLOWS, fid, {"FlowLogId": fid, "ResourceId": resource or "", "FlowLogStatus": "ACTIVE",
                       "TrafficType": r.val("traffic_type", "traffic_type", ""),
                       "LogDestinationType": r.val("log_destination_type", "destination_type", "cloud-watch-logs"),
                       "LogDestination": r.val_or("log_destination", "destination", "") or
                       r.val_or("log_group_name", "destination", ""),
                       "LogFormat": r.val_or("log_format", "log_format", DEFAULT_FLOW_LOG_FORMAT), "Tags": r.tags()})


@primary("eks_cluster", "aws_eks_cluster")
def _eks(r: R) -> None:
    name = _id(r)
    blocks = r.blocks("vpc_config", "subnet_ids") or []
    cfg: dict[str, Any] = {}
    if blocks:
        i = blocks[0][0]
        public = r.val_or(["vpc_config", i, "endpoint_public_access"], "endpoint_public_access", True)
        cidrs = r.raw(["vpc_config", i, "public_access_cidrs"])
        if cidrs.known:
            public_cidrs = list(cidrs.value or []) or ["0.0.0.0/0"]
        elif r.plan.expression(r.inst, ["vpc_config", 0, "public_access_cidrs"]) is None:
            public_cidrs = ["0.0.0.0/0"]   # AWS's default when none are given
        else:
            public_cidrs = []
            r.unknown.setdefault("public_access_cidrs", str(cidrs.reason))
        subnets = r.raw(["vpc_config", i, "subnet_ids"])
        groups = r.raw(["vpc_config", i, "security_group_ids"])
        if not subnets.known:
            r.unknown.setdefault("subnet_ids", str(subnets.reason))
        if not groups.known and r.unset(["vpc_config", i, "security_group_ids"]):
            groups = Val([])
        elif not groups.known:
            r.unknown.setdefault("security_group_ids", str(groups.reason))
        subnet_ids = list(subnets.value or []) if subnets.known and isinstance(subnets.value, list) else []
        cfg = {"subnetIds": subnet_ids,
               "securityGroupIds": list(groups.value or []) if groups.known and isinstance(groups.value, list) else [],
               "endpointPublicAccess": bool(public),
               "endpointPrivateAccess": bool(r.val_or(["vpc_config", i, "endpoint_private_access"],
                                                   "endpoint_private_access", False)),
               "publicAccessCidrs": public_cidrs if public else []}
        vpc = _vpc_from_subnets(r, subnet_ids, "vpc_id")
        if vpc:
            cfg["vpcId"] = vpc
    elif not r.unknown:
        r.problem("no vpc_config block")
        r.unknown["subnet_ids"] = f"{r.address} has no vpc_config"
    arn = r.raw("arn")
    r.new(EKS, name, {"name": name, "arn": arn.value if arn.known and arn.value else "", "resourcesVpcConfig": cfg,
                      "tags": {t["Key"]: t["Value"] for t in r.tags()}})


@primary("db_instance", "aws_db_instance")
def _rds(r: R) -> None:
    ident = _id(r)
    group_name = r.val("db_subnet_group_name", "subnet_ids", "")
    subnets: list[str] = []
    vpc = None
    if group_name:
        group = next((i for i in r.plan.instances if i.type == "aws_db_subnet_group" and i.action != "delete"
                      and (r.plan.id_of(i) == group_name)), None)
        if group is None:
            r.unknown.setdefault("subnet_ids", f"{r.address}: DB subnet group {group_name} is not in the plan")
            r.unknown.setdefault("vpc_id", f"{r.address}: DB subnet group {group_name} is not in the plan")
        else:
            gr = R(r.plan, group, r.region, r.estate)
            subnets = gr.refs("subnet_ids", "subnet", "subnet_ids")
            r.unknown.update(gr.unknown)
            vpc = _vpc_from_subnets(r, subnets, "vpc_id")
    arn = r.raw("arn")
    r.new(RDS, ident, {"DBInstanceIdentifier": ident, "DBInstanceArn": arn.value if arn.known and arn.value else "",
                       "Engine": r.val("engine", "engine", ""),
                       "DBSubnetGroup": {"VpcId": vpc, "Subnets": [{"SubnetIdentifier": s} for s in subnets]},
                       "PubliclyAccessible": bool(r.val_or("publicly_accessible", "publicly_accessible", False)),
                       "VpcSecurityGroups": [{"VpcSecurityGroupId": g} for g in
                                             r.refs("vpc_security_group_ids", "sg", "security_group_ids")],
                       "TagList": r.tags()})


@primary("load_balancer", "aws_lb", "aws_alb")
def _lb(r: R) -> None:
    lid = _id(r)
    internal = r.val_or("internal", "scheme", False)   # AWS's default: internet-facing
    subnets = r.refs("subnets", "subnet", "subnet_ids", [])
    for _, block in r.blocks("subnet_mapping", "subnet_ids") or []:
        if block.get("subnet_id"):
            subnets.append(str(block["subnet_id"]))
    r.new(ELBV2, lid, {"LoadBalancerArn": lid, "LoadBalancerName": r.val("name", "name", ""),
                       "Type": r.val("load_balancer_type", "kind", "application") or "application",
                       "Scheme": "internal" if internal else "internet-facing",
                       "VpcId": _vpc_from_subnets(r, subnets, "vpc_id"),
                       "AvailabilityZones": [{"SubnetId": s} for s in subnets],
                       "SecurityGroups": r.refs("security_groups", "sg", "security_group_ids", [])})


@primary("load_balancer", "aws_elb")
def _elb(r: R) -> None:
    name = _id(r)
    internal = r.val_or("internal", "scheme", False)
    subnets = r.refs("subnets", "subnet", "subnet_ids")
    r.new(ELB, name, {"LoadBalancerName": name, "Scheme": "internal" if internal else "internet-facing",
                      "VPCId": _vpc_from_subnets(r, subnets, "vpc_id"), "Subnets": subnets,
                      "SecurityGroups": r.refs("security_groups", "sg", "security_group_ids")})


@primary("db_instance", "aws_db_subnet_group")
def _db_subnet_group(r: R) -> None:
    """Read by aws_db_instance (its subnets and VPC); no item of its own."""


# -- types that change other types' items ---------------------------------------------------

def _target(r: R, call: Call, attr: str, prefix: str, what: str) -> Item | None:
    """The item an attribute of this instance names; None (with a problem, or an unknown mark
    for the model) when the plan does not hold it."""
    tid = r.ref(attr, prefix)
    item = r.estate.get(r.region, call, tid or "")
    if item is None:
        got = r.raw(attr)
        if got.known:
            r.problem(f"{attr} {tid} names a {what} the plan does not hold: this change is not modelled "
                      "(overlay it on a snapshot of the account)")
        else:
            r.problem(f"{attr} is known only after apply and no reference resolves it: this change is not modelled")
    return item


@secondary("route_table", "aws_route")
def _route(r: R) -> None:
    rtb = _target(r, RTBS, "route_table_id", "rtb", "route table")
    if rtb is None:
        return
    route = route_body(r, [], rtb)
    if route is not None:
        rtb.body["Routes"].append(route)
    r.mark(rtb)


@secondary("route_table", "aws_route_table_association")
def _rtb_assoc(r: R) -> None:
    rtb = _target(r, RTBS, "route_table_id", "rtb", "route table")
    if rtb is None:
        return
    got = r.raw("gateway_id")
    if got.known and got.value:
        rtb.body["Associations"].append({"GatewayId": str(got.value), "Main": False})
        return
    rtb.body["Associations"].append({"SubnetId": r.ref("subnet_id", "subnet"), "Main": False})


@secondary("route_table", "aws_main_route_table_association")
def _main_assoc(r: R) -> None:
    vpc = r.ref("vpc_id", "vpc")
    rtb = _target(r, RTBS, "route_table_id", "rtb", "route table")
    if rtb is None:
        return
    rtb.body["Associations"].append({"Main": True, "RouteTableId": rtb.body["RouteTableId"]})
    r.estate.main_tables[(r.region, vpc or "")] = str(rtb.body["RouteTableId"])


@secondary("internet_gateway", "aws_internet_gateway_attachment")
def _igw_attach(r: R) -> None:
    igw = _target(r, IGWS, "internet_gateway_id", "igw", "internet gateway")
    if igw is not None:
        igw.body["Attachments"].append({"VpcId": r.ref("vpc_id", "vpc", "attached_vpc_ids"), "State": "available"})
        r.mark(igw)


@secondary("vpn_gateway", "aws_vpn_gateway_attachment")
def _vgw_attach(r: R) -> None:
    vgw = _target(r, VGWS, "vpn_gateway_id", "vgw", "VPN gateway")
    if vgw is not None:
        vgw.body["VpcAttachments"].append({"VpcId": r.ref("vpc_id", "vpc", "attached_vpc_ids"), "State": "attached"})
        r.mark(vgw)


@secondary("elastic_ip", "aws_eip_association")
def _eip_assoc(r: R) -> None:
    eip = _target(r, EIPS, "allocation_id", "eipalloc", "Elastic IP")
    if eip is None:
        return
    for attr, key, prefix, model_field in (("instance_id", "InstanceId", "i", "instance_id"),
                                           ("network_interface_id", "NetworkInterfaceId", "eni",
                                            "network_interface_id")):
        got = r.raw(attr)
        if not got.known or got.value:
            eip.body[key] = r.ref(attr, prefix, model_field)
    eip.body["AssociationId"] = _id(r)
    r.mark(eip)
    instance = r.estate.get(r.region, INSTANCES, str(eip.body.get("InstanceId") or ""))
    if instance is not None:
        instance.body["PublicIpAddress"] = eip.body["PublicIp"]


def _tgw_rt_of(r: R) -> tuple[str, str] | None:
    rid = r.ref("transit_gateway_route_table_id", "tgw-rtb")
    key = (r.region, rid or "")
    if key not in r.estate.tgw_routes:
        r.problem(f"transit_gateway_route_table_id {rid} names a TGW route table the plan does not hold: "
                  "this change is not modelled (overlay it on a snapshot of the account)")
        return None
    return key


@secondary("transit_gateway_route_table", "aws_ec2_transit_gateway_route")
def _tgw_route(r: R) -> None:
    key = _tgw_rt_of(r)
    if key is None:
        return
    item = r.estate.get(r.region, TGW_RTS, key[1])
    dest = r.raw("destination_cidr_block")
    if not dest.known and item is not None:
        item.unknown.setdefault("routes", str(dest.reason))
        return
    blackhole = bool(r.val("blackhole", "routes", False))
    route: dict[str, Any] = {"DestinationCidrBlock": dest.value, "Type": "static",
                             "State": "blackhole" if blackhole else "active", "TransitGatewayAttachments": []}
    if not blackhole:
        att = r.ref("transit_gateway_attachment_id", "tgw-attach")
        route["TransitGatewayAttachments"].append({"TransitGatewayAttachmentId": att})
    r.estate.tgw_routes[key].append(route)
    if item is not None:
        r.mark(item)


@secondary("transit_gateway_route_table", "aws_ec2_transit_gateway_route_table_association",
           "aws_ec2_transit_gateway_route_table_propagation")
def _tgw_rt_link(r: R) -> None:
    key = _tgw_rt_of(r)
    if key is None:
        return
    att = r.ref("transit_gateway_attachment_id", "tgw-attach") or ""
    if r.inst.type.endswith("association"):
        r.estate.tgw_assoc[key].append(att)
        item = r.estate.get(r.region, TGW_ATTS, att)
        if item is not None:
            item.body["Association"] = {"TransitGatewayRouteTableId": key[1], "State": "associated"}
    else:
        r.estate.tgw_prop[key].append(att)
    rt = r.estate.get(r.region, TGW_RTS, key[1])
    if rt is not None:
        r.mark(rt)


@secondary("vpc_peering", "aws_vpc_peering_connection_accepter")
def _peering_accepter(r: R) -> None:
    got = r.raw("vpc_peering_connection_id")
    pcx = r.estate.get(r.region, PCXS, str(got.value or "")) if got.known else None
    if pcx is None:
        for item in r.estate.items.values():   # the requester may be in another region of the plan
            if item.call == PCXS and item.body["VpcPeeringConnectionId"] == (got.value if got.known else None):
                pcx = item
        if pcx is None:
            _target(r, PCXS, "vpc_peering_connection_id", "pcx", "peering connection")
            return
    if r.val("auto_accept", "status", False):
        pcx.body["Status"] = {"Code": "active"}
    r.mark(pcx)


@secondary("vpc_endpoint", "aws_vpc_endpoint_policy")
def _endpoint_policy(r: R) -> None:
    ep = _target(r, VPCES, "vpc_endpoint_id", "vpce", "VPC endpoint")
    if ep is None:
        return
    got = r.raw("policy")
    default_note = f"{ep.address}: no policy declared: AWS's default full-access endpoint policy"
    r.estate.notes[:] = [n for n in r.estate.notes if n != default_note]
    if got.known and got.value:
        ep.body["PolicyDocument"] = str(got.value)
        ep.unknown.pop("policy", None)
        ep.unknown.pop("policy_document", None)
    elif not got.known:
        ep.body.pop("PolicyDocument", None)
        ep.unknown["policy"] = ep.unknown["policy_document"] = str(got.reason)


@secondary("vpc_endpoint", "aws_vpc_endpoint_route_table_association", "aws_vpc_endpoint_subnet_association",
           "aws_vpc_endpoint_security_group_association")
def _endpoint_link(r: R) -> None:
    ep = _target(r, VPCES, "vpc_endpoint_id", "vpce", "VPC endpoint")
    if ep is None:
        return
    if r.inst.type.endswith("route_table_association"):
        ep.body["RouteTableIds"].append(r.ref("route_table_id", "rtb", "route_table_ids"))
    elif r.inst.type.endswith("subnet_association"):
        ep.body["SubnetIds"].append(r.ref("subnet_id", "subnet", "subnet_ids"))
    else:
        ep.body["Groups"].append({"GroupId": r.ref("security_group_id", "sg", "security_group_ids")})
    r.mark(ep)


@secondary("network_acl", "aws_network_acl_rule")
def _nacl_rule(r: R) -> None:
    acl = _target(r, ACLS, "network_acl_id", "acl", "network ACL")
    if acl is None:
        return
    values = {k: r.val(k, "entries") for k in ("protocol", "rule_number", "rule_action", "cidr_block",
                                               "ipv6_cidr_block", "from_port", "to_port")}
    acl.body["Entries"].append(_nacl_entry(values, bool(r.val("egress", "entries", False))))
    r.mark(acl)


@secondary("network_acl", "aws_network_acl_association")
def _nacl_assoc(r: R) -> None:
    acl = _target(r, ACLS, "network_acl_id", "acl", "network ACL")
    if acl is None:
        return
    subnet = r.ref("subnet_id", "subnet", "subnet_ids") or ""
    for other in r.estate.of(r.region, ACLS):   # a subnet has one network ACL
        other.body["Associations"] = [a for a in other.body["Associations"] if a.get("SubnetId") != subnet]
    acl.body["Associations"].append({"SubnetId": subnet, "NetworkAclId": acl.body["NetworkAclId"]})
    r.estate.nacl_assoc[(r.region, subnet)] = str(acl.body["NetworkAclId"])
    r.mark(acl)


@secondary("prefix_list", "aws_ec2_managed_prefix_list_entry")
def _pl_entry(r: R) -> None:
    pl = _target(r, PLS, "prefix_list_id", "pl", "managed prefix list")
    if pl is None:
        return
    cidr = r.raw("cidr")
    if cidr.known and cidr.value:
        r.estate.pl_entries.setdefault((r.region, str(pl.body["PrefixListId"])), []).append(str(cidr.value))
    else:
        pl.unknown.setdefault("cidrs", str(cidr.reason))
