"""What filters, endpoints and the resources placed in subnets become (security groups and
rules, network ACLs, VPC endpoints, instances, network interfaces, EKS clusters, RDS
instances, load balancers): items in AWS's response shapes (see `auditor.iac.terraform_types`)."""

from __future__ import annotations

from typing import Any

from auditor.iac.base import synthetic_id
from auditor.iac.terraform_network import vpc_of_default
from auditor.iac.terraform_plan import Val
from auditor.iac.terraform_types import (
    ACLS, DEFAULT_ENDPOINT_POLICY, EIPS, EKS, ELB, ELBV2, ENIS, INSTANCES, RDS, SGRS, SGS, SUBNETS, VPCES, R, model_id,
    placeholder_ip, primary, vpc_from_subnets, vpc_of_subnet,
)

_PROTO_NAMES = {"all": "-1", "-1": "-1", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
_PROTO_NUMBERS = {"all": "-1", "-1": "-1", "tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58"}
@primary("security_group", "aws_security_group", "aws_default_security_group")
def _sg(r: R) -> None:
    gid = model_id(r)
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
        rid = model_id(r) if len(sources) == 1 else synthetic_id("sgr", f"{r.address}.{n}")
        r.new(SGRS, rid, {"SecurityGroupRuleId": rid, **base, **source})


@primary("security_group_rule", "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")
def _vpc_sg_rule(r: R) -> None:
    rid = model_id(r)
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


def nacl_entry(block: dict[str, Any], egress: bool) -> dict[str, Any]:
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
    aid = model_id(r)
    default = r.inst.type == "aws_default_network_acl"
    if default:
        aid = r.ref("default_network_acl_id", "acl") or aid
        vpc = vpc_of_default(r, aid, "default_network_acl") or r.ref("vpc_id", "vpc", "vpc_id")
        r.estate.declared_defaults.add(("acl", vpc or ""))
    else:
        vpc = r.ref("vpc_id", "vpc", "vpc_id")
    entries: list[dict[str, Any]] = []
    for direction in ("ingress", "egress"):
        for _, block in r.blocks(direction, "entries") or []:
            entries.append(nacl_entry(block, direction == "egress"))
    subnets = r.refs("subnet_ids", "subnet", "subnet_ids", [])
    for s in subnets:
        r.estate.nacl_assoc[(r.region, s)] = aid
    r.new(ACLS, aid, {"NetworkAclId": aid, "VpcId": vpc, "IsDefault": default, "Entries": entries + _NACL_DENY,
                      "Associations": [{"SubnetId": s, "NetworkAclId": aid} for s in subnets], "Tags": r.tags()})


@primary("vpc_endpoint", "aws_vpc_endpoint")
def _endpoint(r: R) -> None:
    eid = model_id(r)
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
    iid = model_id(r)
    subnet = r.ref("subnet_id", "subnet", "subnet_id")
    vpc = vpc_of_subnet(r, subnet)
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
    eip = next(iter(r.estate.find(r.region, EIPS, "InstanceId", iid)), None)
    if eip is not None:   # an Elastic IP the plan gives it
        public = str(eip.body["PublicIp"])
        r.unknown.pop("public_ip", None)
    if r.raw("vpc_security_group_ids").known or r.plan.has_expression(r.inst, "vpc_security_group_ids") or \
            r.plan.has_expression(r.inst, "security_groups"):
        groups = r.refs("vpc_security_group_ids", "sg", "security_group_ids")
    else:   # none given: AWS puts the instance in its VPC's default security group
        default = next((i for i in r.estate.find(r.region, SGS, "GroupName", "default")
                        if i.body.get("VpcId") == vpc), None) if vpc else None
        groups = [str(default.body["GroupId"])] if default is not None else []
        if default is None:
            r.unknown["security_group_ids"] = f"known after apply: {r.address}.vpc_security_group_ids"
    private = r.val("private_ip", "private_ip", "")
    if "private_ip" in r.unknown:
        r.quiet.add("private_ip")
    state = r.raw("instance_state")   # a kept instance's state; a new one runs
    name = str(state.value) if state.known and isinstance(state.value, str) and state.value else "running"
    r.new(INSTANCES, iid, {"InstanceId": iid, "VpcId": vpc, "SubnetId": subnet, "State": {"Name": name},
                           "PrivateIpAddress": private, "PublicIpAddress": public,
                           "SecurityGroups": [{"GroupId": g} for g in groups], "NetworkInterfaces": [],
                           "SourceDestCheck": r.val_or("source_dest_check", "source_dest_check", True),
                           "Tags": r.tags()})


@primary("network_interface", "aws_network_interface")
def _eni(r: R) -> None:
    nid = model_id(r)
    subnet = r.ref("subnet_id", "subnet", "subnet_id")
    vpc = vpc_of_subnet(r, subnet)
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
    eip = next(iter(r.estate.find(r.region, EIPS, "NetworkInterfaceId", nid)), None)
    if eip is not None:
        body["Association"] = {"PublicIp": eip.body["PublicIp"], "AllocationId": eip.body["AllocationId"]}
    blocks = r.blocks("attachment", "instance_id") or []
    if blocks:
        body["Attachment"] = {"InstanceId": r.ref(["attachment", blocks[0][0], "instance"], "i", "instance_id")}
    r.new(ENIS, nid, body)


@primary("eks_cluster", "aws_eks_cluster")
def _eks(r: R) -> None:
    name = model_id(r)
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
        vpc = vpc_from_subnets(r, subnet_ids, "vpc_id")
        if vpc:
            cfg["vpcId"] = vpc
        cluster_sg = r.raw(["vpc_config", i, "cluster_security_group_id"])
        if cluster_sg.known and isinstance(cluster_sg.value, str) and cluster_sg.value:
            cfg["clusterSecurityGroupId"] = cluster_sg.value
        elif "security_group_ids" not in r.unknown:   # the group EKS creates: no analyzer reads it
            r.unknown["security_group_ids"] = f"known after apply: {r.address}.vpc_config[0].cluster_security_group_id"
            r.quiet.add("security_group_ids")
    elif not r.unknown:
        r.problem("no vpc_config block")
        r.unknown["subnet_ids"] = f"{r.address} has no vpc_config"
    arn = r.raw("arn")
    r.new(EKS, name, {"name": name, "arn": arn.value if arn.known and arn.value else "", "resourcesVpcConfig": cfg,
                      "tags": {t["Key"]: t["Value"] for t in r.tags()}})


@primary("db_instance", "aws_db_instance")
def _rds(r: R) -> None:
    ident = model_id(r)
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
            vpc = vpc_from_subnets(r, subnets, "vpc_id")
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
    lid = model_id(r)
    internal = r.val_or("internal", "scheme", False)   # AWS's default: internet-facing
    subnets = r.refs("subnets", "subnet", "subnet_ids", [])
    for _, block in r.blocks("subnet_mapping", "subnet_ids") or []:
        if block.get("subnet_id"):
            subnets.append(str(block["subnet_id"]))
    r.new(ELBV2, lid, {"LoadBalancerArn": lid, "LoadBalancerName": r.val("name", "name", ""),
                       "Type": r.val("load_balancer_type", "kind", "application") or "application",
                       "Scheme": "internal" if internal else "internet-facing",
                       "VpcId": vpc_from_subnets(r, subnets, "vpc_id"),
                       "AvailabilityZones": [{"SubnetId": s} for s in subnets],
                       "SecurityGroups": r.refs("security_groups", "sg", "security_group_ids", [])})


@primary("load_balancer", "aws_elb")
def _elb(r: R) -> None:
    name = model_id(r)
    internal = r.val_or("internal", "scheme", False)
    subnets = r.refs("subnets", "subnet", "subnet_ids")
    r.new(ELB, name, {"LoadBalancerName": name, "Scheme": "internal" if internal else "internet-facing",
                      "VPCId": vpc_from_subnets(r, subnets, "vpc_id"), "Subnets": subnets,
                      "SecurityGroups": r.refs("security_groups", "sg", "security_group_ids")})


@primary("db_instance", "aws_db_subnet_group")
def _db_subnet_group(r: R) -> None:
    """Read by aws_db_instance (its subnets and VPC); no item of its own."""
