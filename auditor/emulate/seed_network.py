"""Seeding the network layer: VPC interiors, transit gateways, peerings, and VPC routes.

Called by `auditor.emulate.seed.seed` in dependency order: the default VPC goes first
(`seed_default_vpc`), then the region's customer-managed prefix lists
(`seed_prefix_lists`), then every VPC's interior (`seed_vpc_interior`), then
`seed_transit` (transit gateways attach subnets and VPN connections; peerings join VPCs),
then `seed_routes`, whose targets may be any of those. A NAT gateway marked ``deleted``
or an instance marked ``terminated`` goes last, once routes point at it: that is how a
VPC route becomes a blackhole in AWS (the emulator's moto extension reports such routes
as AWS does; see `auditor.emulate.moto_ext`).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
from typing import Any
from collections.abc import Mapping

from auditor.emulate.seed_context import RegionContext, is_ipv6

Spec = Mapping[str, Any]
_IP_PROTOCOL = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmpv6", "all": "-1"}
_ACL_PROTOCOL = {"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58", "all": "-1"}


def _port_range(rule: Spec) -> tuple[int, int]:
    ports = rule.get("ports")
    if ports is None:
        return (-1, -1) if rule["protocol"] in ("icmp", "icmpv6") else (0, 65535)
    if isinstance(ports, int):
        return ports, ports
    low, high = str(ports).split("-")
    return int(low), int(high)


def _permission(ctx: RegionContext, rule: Spec) -> dict[str, Any]:
    perm: dict[str, Any] = {"IpProtocol": _IP_PROTOCOL[rule["protocol"]]}
    if rule["protocol"] != "all":
        perm["FromPort"], perm["ToPort"] = _port_range(rule)
    described = {"Description": rule["description"]} if "description" in rule else {}
    if "cidr" in rule:
        if is_ipv6(rule["cidr"]):
            perm["Ipv6Ranges"] = [{"CidrIpv6": rule["cidr"], **described}]
        else:
            perm["IpRanges"] = [{"CidrIp": rule["cidr"], **described}]
    elif "group" in rule:
        perm["UserIdGroupPairs"] = [{"GroupId": ctx.get("security_group", rule["group"]), **described}]
    else:
        perm["PrefixListIds"] = [{"PrefixListId": ctx.prefix_list(rule["prefix_list"]), **described}]
    return perm


def seed_default_vpc(ctx: RegionContext) -> None:
    """Delete the region's default VPC (moto, like AWS, makes one) unless the estate keeps it.

    Kept, it is recorded as kind ``default_vpc`` named ``default``.
    """
    ec2 = ctx.ec2
    for vpc in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]:
        vpc_id = vpc["VpcId"]
        if ctx.spec.spec.get("default_vpc", False):
            ctx.put("default_vpc", "default", vpc_id)
            continue
        for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        for igw in ec2.describe_internet_gateways(
                Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]:
            ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc_id)
            ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
        ec2.delete_vpc(VpcId=vpc_id)  # also its main route table, default SG and (moto_ext) default ACL


def seed_prefix_lists(ctx: RegionContext) -> None:
    """The region's customer-managed prefix lists (kind ``prefix_list``)."""
    for plist in ctx.spec.spec.get("prefix_lists", []):
        family = "IPv6" if is_ipv6(plist["cidrs"][0]) else "IPv4"
        ctx.put("prefix_list", plist["name"], ctx.ec2.create_managed_prefix_list(
            PrefixListName=plist["name"], AddressFamily=family, MaxEntries=max(len(plist["cidrs"]), 5),
            Entries=[{"Cidr": c} for c in plist["cidrs"]],
            TagSpecifications=ctx.tag_spec("prefix-list", plist["name"], plist.get("tags")),
        )["PrefixList"]["PrefixListId"])


def _subnet_ipv6_blocks(ctx: RegionContext, vpc_id: str) -> Any:
    """The /64 blocks of the VPC's (Amazon-provided) IPv6 block, in order."""
    [vpc] = ctx.ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    block = vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    return ipaddress.ip_network(block).subnets(new_prefix=64)


def seed_vpc_interior(ctx: RegionContext, vpc: Spec) -> None:
    """A VPC and everything inside it except routes and workloads."""
    ec2, name = ctx.ec2, vpc["name"]
    args: dict[str, Any] = {"CidrBlock": vpc["cidr"], "TagSpecifications": ctx.tag_spec("vpc", name, vpc.get("tags"))}
    if vpc.get("ipv6"):
        args["AmazonProvidedIpv6CidrBlock"] = True
    vpc_id = ctx.put("vpc", name, ec2.create_vpc(**args)["Vpc"]["VpcId"])
    dns = vpc.get("dns", {})
    # Set both attributes explicitly, with AWS's defaults for a new VPC, so the estate
    # does not depend on moto's defaults.
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": dns.get("support", True)})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": dns.get("hostnames", False)})
    if vpc.get("internet_gateway"):
        igw = ec2.create_internet_gateway(TagSpecifications=ctx.tag_spec("internet-gateway", f"{name}-igw"))
        ctx.put("internet_gateway", name, igw["InternetGateway"]["InternetGatewayId"])
        ec2.attach_internet_gateway(InternetGatewayId=ctx.get("internet_gateway", name), VpcId=vpc_id)
    if vpc.get("egress_only_internet_gateway"):
        eigw = ec2.create_egress_only_internet_gateway(
            VpcId=vpc_id, TagSpecifications=ctx.tag_spec("egress-only-internet-gateway", f"{name}-eigw"))
        ctx.put("egress_only_internet_gateway", name, eigw["EgressOnlyInternetGateway"]["EgressOnlyInternetGatewayId"])
    if vpc.get("vpn_gateway"):
        vgw = ec2.create_vpn_gateway(Type="ipsec.1", TagSpecifications=ctx.tag_spec("vpn-gateway", f"{name}-vgw"))
        ctx.put("vpn_gateway", name, vgw["VpnGateway"]["VpnGatewayId"])
        ec2.attach_vpn_gateway(VpnGatewayId=ctx.get("vpn_gateway", name), VpcId=vpc_id)
    if vpc.get("carrier_gateway"):
        cagw = ec2.create_carrier_gateway(VpcId=vpc_id, TagSpecifications=ctx.tag_spec("carrier-gateway", f"{name}-cagw"))
        ctx.put("carrier_gateway", name, cagw["CarrierGateway"]["CarrierGatewayId"])
    v6_blocks = itertools.chain(_subnet_ipv6_blocks(ctx, vpc_id) if vpc.get("ipv6") else (), itertools.repeat(None))
    for subnet, v6_block in zip(vpc.get("subnets", []), v6_blocks, strict=False):
        sid = ctx.put("subnet", subnet["name"], ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=subnet["cidr"], AvailabilityZone=f"{ctx.region}{subnet['az']}",
            TagSpecifications=ctx.tag_spec("subnet", subnet["name"], subnet.get("tags")))["Subnet"]["SubnetId"])
        # Always set it: moto turns it on for the first subnet it creates in each zone (as AWS
        # does for default subnets), which would plant public-IP subnets nobody asked for.
        ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": bool(subnet.get("public_ip_on_launch"))})
        if subnet.get("ipv6"):  # the n-th subnet takes the n-th /64, so blocks never depend on order of use
            ec2.associate_subnet_cidr_block(SubnetId=sid, Ipv6CidrBlock=str(v6_block))
    _security_groups(ctx, vpc, vpc_id)
    _route_tables(ctx, vpc, vpc_id)
    _network_acls(ctx, vpc, vpc_id)
    for eni in vpc.get("network_interfaces", []):
        eni_id = ctx.put("network_interface", eni["name"], ec2.create_network_interface(
            SubnetId=ctx.get("subnet", eni["subnet"]), Description=eni.get("description", eni["name"]),
            Groups=[ctx.get("security_group", g) for g in eni.get("security_groups", [])],
            TagSpecifications=ctx.tag_spec("network-interface", eni["name"], eni.get("tags")),
        )["NetworkInterface"]["NetworkInterfaceId"])
        if "source_dest_check" in eni:
            ec2.modify_network_interface_attribute(NetworkInterfaceId=eni_id,
                                                   SourceDestCheck={"Value": eni["source_dest_check"]})
    for instance in vpc.get("instances", []):
        nic: dict[str, Any] = {"DeviceIndex": 0, "SubnetId": ctx.get("subnet", instance["subnet"])}
        if instance.get("security_groups"):
            nic["Groups"] = [ctx.get("security_group", g) for g in instance["security_groups"]]
        if "public_ip" in instance:
            nic["AssociatePublicIpAddress"] = instance["public_ip"]
        made = ec2.run_instances(ImageId=ctx.image(), MinCount=1, MaxCount=1,
                                 InstanceType=instance.get("instance_type", "t3.micro"), NetworkInterfaces=[nic],
                                 TagSpecifications=ctx.tag_spec("instance", instance["name"], instance.get("tags")))
        instance_id = ctx.put("instance", instance["name"], made["Instances"][0]["InstanceId"])
        if "source_dest_check" in instance:
            check = {"Value": instance["source_dest_check"]}
            ec2.modify_instance_attribute(InstanceId=instance_id, SourceDestCheck=check)
            # In AWS the instance's flag *is* its primary interface's; moto keeps two flags,
            # so set the interface's too (the same call against AWS changes nothing more).
            primary = made["Instances"][0]["NetworkInterfaces"][0]["NetworkInterfaceId"]
            ec2.modify_network_interface_attribute(NetworkInterfaceId=primary, SourceDestCheck=check)
    for eip in vpc.get("elastic_ips", []):
        alloc = ctx.put("elastic_ip", eip["name"], ec2.allocate_address(
            Domain="vpc", TagSpecifications=ctx.tag_spec("elastic-ip", eip["name"], eip.get("tags")))["AllocationId"])
        if "instance" in eip:
            ec2.associate_address(AllocationId=alloc, InstanceId=ctx.get("instance", eip["instance"]))
    for nat in vpc.get("nat_gateways", []):
        args = {"SubnetId": ctx.get("subnet", nat["subnet"]), "ConnectivityType": nat.get("connectivity", "public"),
                "TagSpecifications": ctx.tag_spec("natgateway", nat["name"], nat.get("tags"))}
        if args["ConnectivityType"] == "public":
            args["AllocationId"] = ctx.put("nat_gateway_address", nat["name"], ec2.allocate_address(
                Domain="vpc", TagSpecifications=ctx.tag_spec("elastic-ip", f"{nat['name']}-eip"))["AllocationId"])
        ctx.put("nat_gateway", nat["name"], ec2.create_nat_gateway(**args)["NatGateway"]["NatGatewayId"])
    for endpoint in vpc.get("endpoints", []):
        _endpoint(ctx, endpoint, vpc_id)


def _default_security_group(ctx: RegionContext, vpc: Spec, vpc_id: str) -> None:
    """AWS's default group allows inbound from itself and outbound anywhere; moto leaves out
    the inbound rule, so it is added here. `close_default_security_group` removes both."""
    ec2 = ctx.ec2
    gid = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]
    self_rule = {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": gid}]}
    if vpc.get("close_default_security_group"):
        ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[{"IpProtocol": "-1",
                                                                      "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    else:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[self_rule])


def _security_groups(ctx: RegionContext, vpc: Spec, vpc_id: str) -> None:
    ec2 = ctx.ec2
    _default_security_group(ctx, vpc, vpc_id)
    groups = vpc.get("security_groups", [])
    for group in groups:  # all groups first: rules may name any group of the VPC
        ctx.put("security_group", group["name"], ec2.create_security_group(
            GroupName=group["name"], Description=group.get("description", group["name"]), VpcId=vpc_id,
            TagSpecifications=ctx.tag_spec("security-group", group["name"], group.get("tags")))["GroupId"])
    for group in groups:
        gid = ctx.get("security_group", group["name"])
        if group.get("ingress"):
            ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[_permission(ctx, r) for r in group["ingress"]])
        if "egress" in group:  # the estate's egress replaces AWS's default allow-all rule
            ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[
                {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
            if group["egress"]:
                ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[_permission(ctx, r) for r in group["egress"]])


def _route_tables(ctx: RegionContext, vpc: Spec, vpc_id: str) -> None:
    ec2 = ctx.ec2
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                              {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    main_id = ctx.put("main_route_table", vpc["name"], main[0]["RouteTableId"])
    for table in vpc.get("route_tables", []):
        if table.get("main"):
            ec2.create_tags(Resources=[main_id], Tags=ctx.tags(table["name"], table.get("tags")))
            ctx.put("route_table", table["name"], main_id)
        else:
            ctx.put("route_table", table["name"], ec2.create_route_table(
                VpcId=vpc_id, TagSpecifications=ctx.tag_spec("route-table", table["name"], table.get("tags")),
            )["RouteTable"]["RouteTableId"])


def _network_acls(ctx: RegionContext, vpc: Spec, vpc_id: str) -> None:
    ec2 = ctx.ec2
    if not vpc.get("network_acls"):
        return
    current = {a["SubnetId"]: a["NetworkAclAssociationId"]
               for acl in ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkAcls"]
               for a in acl.get("Associations", [])}
    for acl in vpc["network_acls"]:
        acl_id = ctx.put("network_acl", acl["name"], ec2.create_network_acl(
            VpcId=vpc_id, TagSpecifications=ctx.tag_spec("network-acl", acl["name"], acl.get("tags")),
        )["NetworkAcl"]["NetworkAclId"])
        for entry in acl.get("entries", []):
            args: dict[str, Any] = {"NetworkAclId": acl_id, "RuleNumber": entry["rule"],
                                    "Protocol": _ACL_PROTOCOL[entry["protocol"]], "RuleAction": entry["action"],
                                    "Egress": entry["direction"] == "egress"}
            args["Ipv6CidrBlock" if is_ipv6(entry["cidr"]) else "CidrBlock"] = entry["cidr"]
            if entry["protocol"] in ("tcp", "udp"):
                low, high = _port_range(entry)
                args["PortRange"] = {"From": low, "To": high}
            elif entry["protocol"] in ("icmp", "icmpv6"):
                args["IcmpTypeCode"] = {"Type": -1, "Code": -1}
            ec2.create_network_acl_entry(**args)
        for subnet in acl.get("subnets", []):
            ec2.replace_network_acl_association(AssociationId=current[ctx.get("subnet", subnet)], NetworkAclId=acl_id)


def _endpoint(ctx: RegionContext, endpoint: Spec, vpc_id: str) -> None:
    kind = endpoint["type"]
    args: dict[str, Any] = {"VpcId": vpc_id, "ServiceName": ctx.service_name(endpoint["service"]),
                            "VpcEndpointType": kind,
                            "TagSpecifications": ctx.tag_spec("vpc-endpoint", endpoint["name"], endpoint.get("tags"))}
    if endpoint.get("subnets"):
        args["SubnetIds"] = [ctx.get("subnet", s) for s in endpoint["subnets"]]
    if endpoint.get("security_groups"):
        args["SecurityGroupIds"] = [ctx.get("security_group", g) for g in endpoint["security_groups"]]
    if endpoint.get("route_tables"):
        args["RouteTableIds"] = [ctx.get("route_table", t) for t in endpoint["route_tables"]]
    if kind == "Interface":
        args["PrivateDnsEnabled"] = endpoint.get("private_dns", True)  # AWS's default
    if "policy" in endpoint:
        args["PolicyDocument"] = json.dumps(endpoint["policy"])
    ctx.put("vpc_endpoint", endpoint["name"], ctx.ec2.create_vpc_endpoint(**args)["VpcEndpoint"]["VpcEndpointId"])


def seed_transit(ctx: RegionContext) -> None:
    """The region's transit gateways (attachments, route tables, static routes) and peerings."""
    ec2 = ctx.ec2
    for tgw in ctx.spec.spec.get("transit_gateways", []):
        # Default association/propagation off: the estate declares every table explicitly,
        # and moto never creates propagated routes anyway.
        tgw_id = ctx.put("transit_gateway", tgw["name"], ec2.create_transit_gateway(
            Description=tgw["name"], TagSpecifications=ctx.tag_spec("transit-gateway", tgw["name"], tgw.get("tags")),
            Options={"DefaultRouteTableAssociation": "disable", "DefaultRouteTablePropagation": "disable"},
        )["TransitGateway"]["TransitGatewayId"])
        for att in tgw.get("attachments", []):
            label = f"{tgw['name']}/{att['vpc']}"
            ctx.put("transit_gateway_attachment", label, ec2.create_transit_gateway_vpc_attachment(
                TransitGatewayId=tgw_id, VpcId=ctx.get("vpc", att["vpc"]),
                SubnetIds=[ctx.get("subnet", s) for s in att["subnets"]],
                TagSpecifications=ctx.tag_spec("transit-gateway-attachment", label),
            )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"])
        for vpn in tgw.get("vpn_attachments", []):
            _vpn_attachment(ctx, tgw["name"], tgw_id, vpn)
        for table in tgw.get("route_tables", []):
            rt_id = ctx.put("transit_gateway_route_table", table["name"], ec2.create_transit_gateway_route_table(
                TransitGatewayId=tgw_id, TagSpecifications=ctx.tag_spec("transit-gateway-route-table", table["name"]),
            )["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"])
            for vpc in table.get("associations", []):
                ec2.associate_transit_gateway_route_table(
                    TransitGatewayRouteTableId=rt_id,
                    TransitGatewayAttachmentId=ctx.get("transit_gateway_attachment", f"{tgw['name']}/{vpc}"))
            for route in table.get("routes", []):
                target = ({"Blackhole": True} if route.get("blackhole") else {"TransitGatewayAttachmentId": ctx.get(
                    "transit_gateway_attachment", f"{tgw['name']}/{route['attachment']}")})
                ec2.create_transit_gateway_route(DestinationCidrBlock=route["destination"],
                                                 TransitGatewayRouteTableId=rt_id, **target)
    for peering in ctx.spec.spec.get("peerings", []):
        pcx = ctx.put("vpc_peering", peering["name"], ec2.create_vpc_peering_connection(
            VpcId=ctx.get("vpc", peering["requester"]), PeerVpcId=ctx.get("vpc", peering["accepter"]),
            TagSpecifications=ctx.tag_spec("vpc-peering-connection", peering["name"]),
        )["VpcPeeringConnection"]["VpcPeeringConnectionId"])
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)


def _vpn_attachment(ctx: RegionContext, tgw_name: str, tgw_id: str, vpn: Spec) -> None:
    """A customer gateway and a site-to-site VPN connection to the transit gateway; AWS
    (and moto) create the VPN attachment with the connection, so it is looked up by it."""
    ec2, name = ctx.ec2, vpn["name"]
    cgw = ctx.put("customer_gateway", name, ec2.create_customer_gateway(
        Type="ipsec.1", BgpAsn=vpn.get("bgp_asn", 65000), PublicIp=vpn.get("customer_gateway_ip", "198.51.100.1"),
        TagSpecifications=ctx.tag_spec("customer-gateway", name))["CustomerGateway"]["CustomerGatewayId"])
    vpn_id = ctx.put("vpn_connection", name, ec2.create_vpn_connection(
        Type="ipsec.1", CustomerGatewayId=cgw, TransitGatewayId=tgw_id,
        TagSpecifications=ctx.tag_spec("vpn-connection", name))["VpnConnection"]["VpnConnectionId"])
    [attachment] = ec2.describe_transit_gateway_attachments(Filters=[
        {"Name": "resource-id", "Values": [vpn_id]}, {"Name": "transit-gateway-id", "Values": [tgw_id]}],
    )["TransitGatewayAttachments"]
    label = f"{tgw_name}/{name}"
    att_id = ctx.put("transit_gateway_attachment", label, attachment["TransitGatewayAttachmentId"])
    ec2.create_tags(Resources=[att_id], Tags=ctx.tags(label))


_TARGET_PARAM = {"nat": ("NatGatewayId", "nat_gateway"), "tgw": ("TransitGatewayId", "transit_gateway"),
                 "pcx": ("VpcPeeringConnectionId", "vpc_peering"), "instance": ("InstanceId", "instance"),
                 "eni": ("NetworkInterfaceId", "network_interface"), "vpce": ("VpcEndpointId", "vpc_endpoint")}


def seed_routes(ctx: RegionContext, vpc: Spec) -> None:
    """The VPC's routes and its subnets' explicit route table associations."""
    ec2 = ctx.ec2
    for table in vpc.get("route_tables", []):
        rt_id = ctx.get("route_table", table["name"])
        for route in table.get("routes", []):
            dest = str(route["destination"])
            args: dict[str, Any] = {"RouteTableId": rt_id}
            if dest.startswith("pl:"):
                args["DestinationPrefixListId"] = ctx.prefix_list(dest[3:])
            else:
                args["DestinationIpv6CidrBlock" if is_ipv6(dest) else "DestinationCidrBlock"] = dest
            kind, _, name = str(route["target"]).partition(":")
            if kind == "igw":
                args["GatewayId"] = ctx.get("internet_gateway", vpc["name"])
            elif kind == "vgw":
                args["GatewayId"] = ctx.get("vpn_gateway", vpc["name"])
            elif kind == "eigw":
                args["EgressOnlyInternetGatewayId"] = ctx.get("egress_only_internet_gateway", vpc["name"])
            elif kind == "cagw":
                args["CarrierGatewayId"] = ctx.get("carrier_gateway", vpc["name"])
            else:
                param, seeded_kind = _TARGET_PARAM[kind]
                args[param] = ctx.get(seeded_kind, name)
            ec2.create_route(**args)
    for subnet in vpc.get("subnets", []):
        if "route_table" in subnet:
            ec2.associate_route_table(RouteTableId=ctx.get("route_table", subnet["route_table"]),
                                      SubnetId=ctx.get("subnet", subnet["name"]))
    # Targets that go away after routes point at them leave blackhole routes behind.
    for nat in vpc.get("nat_gateways", []):
        if nat.get("deleted"):
            ec2.delete_nat_gateway(NatGatewayId=ctx.get("nat_gateway", nat["name"]))
    gone = [ctx.get("instance", i["name"]) for i in vpc.get("instances", []) if i.get("terminated")]
    if gone:
        ec2.terminate_instances(InstanceIds=gone)
