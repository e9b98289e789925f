"""What the Terraform types that change another resource become (routes, associations,
attachments, rules of network ACLs, endpoint links, TGW routes, prefix list entries): changes
to the items the plan's other resources made (see `auditor.iac.terraform_types`). A change to
a resource the plan does not hold is a SourceProblem: overlay the plan on a snapshot."""

from __future__ import annotations

from typing import Any

from auditor.iac.terraform_network import route_body
from auditor.iac.terraform_services import nacl_entry
from auditor.iac.terraform_types import (
    ACLS, EIPS, ENIS, IGWS, INSTANCES, PCXS, PLS, RTBS, TGW_ATTS, TGW_RTS, VGWS, VPCES, Call, Item, R, model_id,
    secondary,
)
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
    else:
        r.estate.changed[r.address] = str(tid)
    return item


def _lost(r: R, call: Call, attr: str) -> None:
    """An association whose table (or ACL) the plan does not hold: its subnet's table (or
    the ACLs' subnets) is unknown, never the main or default one by omission."""
    got = r.raw("subnet_id")
    subnet = str(got.value) if got.known and isinstance(got.value, str) and got.value else None
    if got.known and not subnet:
        return   # an edge (gateway) association
    table = r.raw(attr)
    why = (f"{r.address}.{attr}: {table.value}, not in the plan" if table.known
           else str(table.reason))
    r.estate.lost.append((r.region, call, subnet, f"associated by {r.address} ({why})"))


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
        _lost(r, RTBS, "route_table_id")
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
    eip.body["AssociationId"] = model_id(r)
    r.mark(eip)
    instance = r.estate.get(r.region, INSTANCES, str(eip.body.get("InstanceId") or ""))
    if instance is not None:
        instance.body["PublicIpAddress"] = eip.body["PublicIp"]
        instance.unknown.pop("public_ip", None)
    eni = r.estate.get(r.region, ENIS, str(eip.body.get("NetworkInterfaceId") or ""))
    if eni is not None:
        eni.body["Association"] = {"PublicIp": eip.body["PublicIp"], "AllocationId": eip.body["AllocationId"]}


def _tgw_rt_of(r: R) -> tuple[str, str] | None:
    rid = r.ref("transit_gateway_route_table_id", "tgw-rtb")
    key = (r.region, rid or "")
    if key not in r.estate.tgw_routes:
        r.problem(f"transit_gateway_route_table_id {rid} names a TGW route table the plan does not hold: "
                  "this change is not modelled (overlay it on a snapshot of the account)")
        return None
    r.estate.changed[r.address] = key[1]
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
    r.estate.changed[r.address] = str(pcx.body["VpcPeeringConnectionId"])
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
    acl.body["Entries"].append(nacl_entry(values, bool(r.val("egress", "entries", False))))
    r.mark(acl)


@secondary("network_acl", "aws_network_acl_association")
def _nacl_assoc(r: R) -> None:
    acl = _target(r, ACLS, "network_acl_id", "acl", "network ACL")
    if acl is None:
        _lost(r, ACLS, "network_acl_id")
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
