"""What the network's own Terraform types become (VPCs, subnets, route tables, gateways,
Elastic IPs, NAT gateways, transit gateways, prefix lists, peering, flow logs): items in
AWS's response shapes (see `auditor.iac.terraform_types`)."""

from __future__ import annotations

from typing import Any

from auditor.iac.base import synthetic_id, unknown_id
from auditor.iac.terraform_plan import path_text
from auditor.iac.terraform_types import (
    DEFAULT_FLOW_LOG_FORMAT, EIGWS, EIPS, FLOWS, IGWS, NATS, PCXS, PLS, RTBS, SUBNETS, TGW_ATTS, TGW_RTS, TGW_VPC_ATTS,
    TGWS, VGWS, VPCS, Call, Item, R, as_bool, model_id, placeholder_ip, primary, vpc_of_subnet,
)
# -- primary types -------------------------------------------------------------------------

@primary("vpc", "aws_vpc")
def _vpc(r: R) -> None:
    vid = model_id(r)
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
        dns[key] = as_bool(got.value) if got.known and got.value is not None else (
            None if not got.known and r.plan.has_expression(r.inst, attr) else default)
    r.estate.vpc_dns[(r.region, vid)] = dns


@primary("subnet", "aws_subnet")
def _subnet(r: R) -> None:
    sid = model_id(r)
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
    rid = model_id(r)
    if r.inst.type == "aws_default_route_table":
        rid = r.ref("default_route_table_id", "rtb") or rid
        vpc = vpc_of_default(r, rid, "default_route_table") or r.ref("vpc_id", "vpc", "vpc_id")
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
    r.mark(item)   # what reading the routes left unknown


def vpc_of_default(r: R, default_id: str | None, suffix: str) -> str | None:
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
    gid = model_id(r)
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
    gid = model_id(r)
    vpc = r.ref("vpc_id", "vpc", "attached_vpc_ids") if r.given("vpc_id") else None
    r.new(VGWS, gid, {"VpnGatewayId": gid, "State": "available", "Type": "ipsec.1", "Tags": r.tags(),
                      "VpcAttachments": [{"VpcId": vpc, "State": "attached"}] if vpc else []})


@primary("elastic_ip", "aws_eip")
def _eip(r: R) -> None:
    aid = model_id(r)
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
    nid = model_id(r)
    subnet = r.ref("subnet_id", "subnet", "subnet_id")
    kind = r.val("connectivity_type", "connectivity", "public") or "public"
    vpc = vpc_of_subnet(r, subnet)
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


@primary("transit_gateway", "aws_ec2_transit_gateway")
def _tgw(r: R) -> None:
    tid = model_id(r)
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
    rid = model_id(r)
    r.new(TGW_RTS, rid, {"TransitGatewayRouteTableId": rid, "State": "available",
                         "TransitGatewayId": r.ref("transit_gateway_id", "tgw", "transit_gateway_id"),
                         "DefaultAssociationRouteTable": False, "DefaultPropagationRouteTable": False,
                         "Tags": r.tags()})
    for store in (r.estate.tgw_routes, r.estate.tgw_assoc, r.estate.tgw_prop):
        store.setdefault((r.region, rid), [])


@primary("transit_gateway_attachment", "aws_ec2_transit_gateway_vpc_attachment")
def _tgw_attach(r: R) -> None:
    aid = model_id(r)
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
    pid = model_id(r)
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
    pid = model_id(r)
    vpc = r.ref("vpc_id", "vpc", "requester")
    peer = r.ref("peer_vpc_id", "vpc", "accepter")
    peer_owner = r.val_or("peer_owner_id", "accepter", r.estate.account) or r.estate.account   # the same account
    peer_region = r.val_or("peer_region", "accepter", r.region) or r.region                    # the same region
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
    fid = model_id(r)
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
