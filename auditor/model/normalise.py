"""Normalisers: one per collected call, from raw response pages to typed resources.

Each normaliser is registered by (service, operation) and sees only its own record; the
linking step in `build.py` joins what several calls say about one resource. Every listing
call of the resource registry (auditor/model/registry.py) has one (tests/test_registry.py).
Normalisers change shape; they never judge. The optional calls, which list no resource
(CloudWatch GetMetricData with costs.traffic), have theirs in `MEASURES`: they give
`Measurement`s, values about resources listed by other calls.
"""

from __future__ import annotations

import json
import math
from typing import Any
from collections.abc import Callable, Iterator, Mapping

from auditor.model.types import (
    BlockPublicAccess, BlockPublicAccessExclusion, CarrierGateway, DbInstance, EgressOnlyInternetGateway,
    EksCluster, ElasticIp, FlowLog, Instance, InternetGateway, LambdaFunction, LoadBalancer, Measurement, NaclEntry,
    NatGateway, NetworkAcl, NetworkInterface, PeeringSide, PrefixList, Resource, Route, RouteTable,
    SecurityGroup, SecurityGroupRule, SourceRef, Subnet, Tags, TransitGateway, TransitGatewayAttachment,
    TransitGatewayRouteTable, Vpc, VpcEndpoint, VpcEndpointService, VpcPeering, VpnGateway,
)
from auditor.model.metrics import query_resource
from auditor.snapshot.records import CallRecord

Raw = Mapping[str, Any]
Normaliser = Callable[[CallRecord, str], Iterator[Resource]]
NORMALISERS: dict[tuple[str, str], Normaliser] = {}
MeasureNormaliser = Callable[[CallRecord, str], Iterator[Measurement]]
MEASURES: dict[tuple[str, str], MeasureNormaliser] = {}


def normaliser(service: str, operation: str) -> Callable[[Normaliser], Normaliser]:
    """Register the normaliser of one collected call."""
    def register(fn: Normaliser) -> Normaliser:
        NORMALISERS[(service, operation)] = fn
        return fn
    return register


def measure(service: str, operation: str) -> Callable[[MeasureNormaliser], MeasureNormaliser]:
    """Register the normaliser of one optional call that measures listed resources."""
    def register(fn: MeasureNormaliser) -> MeasureNormaliser:
        MEASURES[(service, operation)] = fn
        return fn
    return register


def record_path(record: CallRecord, files: Mapping[str, str] | None = None) -> str:
    """The record's file in the snapshot (``records/<id>.json`` or ``.json.gz``)."""
    base = f"records/{record.record_id}.json"
    if files is not None and base not in files and base + ".gz" in files:
        return base + ".gz"
    return base


def items(record: CallRecord, key: str, path: str) -> Iterator[tuple[Raw, SourceRef]]:
    """Every item under `key` in every page, with a pointer to it."""
    for p, page in enumerate(record.pages):
        value = page.get(key)
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield item, SourceRef(path, f"/pages/{p}/{key}/{i}")
        elif isinstance(value, dict):
            yield value, SourceRef(path, f"/pages/{p}/{key}")


def tags(raw: Raw, key: str = "Tags") -> Tags:
    value = raw.get(key) or raw.get("tags") or []
    if isinstance(value, dict):  # EKS and Lambda use maps
        return tuple(sorted((str(k), str(v)) for k, v in value.items()))
    return tuple(sorted((t.get("Key", ""), t.get("Value", "")) for t in value if isinstance(t, dict)))


def ids(values: Any, key: str | None = None) -> tuple[str, ...]:
    if not values:
        return ()
    return tuple(v[key] if key else v for v in values if (v.get(key) if key else v))


def _res(raw_id: str, rec: CallRecord, ref: SourceRef, raw: Raw, tag_key: str = "Tags", **kw: Any) -> dict[str, Any]:
    """The common Resource fields; `tag_key` differs per API (Tags, TagSet, TagList, tags)."""
    return {"id": raw_id, "account": rec.account, "region": rec.region, "source": ref,
            "tags": tags(raw, tag_key), **kw}


@normaliser("ec2", "DescribeVpcs")
def _vpcs(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "Vpcs", path):
        v4 = [a["CidrBlock"] for a in raw.get("CidrBlockAssociationSet", [])
              if a.get("CidrBlockState", {}).get("State", "associated") == "associated"] or [raw.get("CidrBlock", "")]
        v6 = [a["Ipv6CidrBlock"] for a in raw.get("Ipv6CidrBlockAssociationSet", []) if a.get("Ipv6CidrBlock")]
        yield Vpc(**_res(raw["VpcId"], rec, ref, raw, cidr_blocks=tuple(v4), ipv6_cidr_blocks=tuple(v6),
                         is_default=bool(raw.get("IsDefault")), state=raw.get("State", ""),
                         owner_id=raw.get("OwnerId", "")))


@normaliser("ec2", "DescribeSubnets")
def _subnets(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "Subnets", path):
        v6 = [a["Ipv6CidrBlock"] for a in raw.get("Ipv6CidrBlockAssociationSet", []) if a.get("Ipv6CidrBlock")]
        yield Subnet(**_res(raw["SubnetId"], rec, ref, raw, vpc_id=raw.get("VpcId", ""),
                            cidr=raw.get("CidrBlock", ""), ipv6_cidrs=tuple(v6),
                            availability_zone=raw.get("AvailabilityZone", ""),
                            availability_zone_id=raw.get("AvailabilityZoneId", ""),
                            map_public_ip_on_launch=raw.get("MapPublicIpOnLaunch"),
                            assign_ipv6_on_creation=raw.get("AssignIpv6AddressOnCreation")))


# Route target fields, most specific first: an instance route also carries its ENI id.
_TARGETS = (("InstanceId", "instance"), ("NatGatewayId", "nat"), ("TransitGatewayId", "tgw"),
            ("VpcPeeringConnectionId", "pcx"), ("EgressOnlyInternetGatewayId", "eigw"),
            ("CarrierGatewayId", "carrier"), ("LocalGatewayId", "lgw"), ("CoreNetworkArn", "core_network"),
            ("OdbNetworkArn", "odb"), ("NetworkInterfaceId", "eni"), ("GatewayId", None),
            ("IpAddress", "route_server"))
_GATEWAY_PREFIX = {"igw-": "igw", "vgw-": "vgw", "vpce-": "vpce", "local": "local"}


def route_target(raw: Raw) -> tuple[str, str]:
    """(kind, id) of a route's target."""
    for key, kind in _TARGETS:
        value = raw.get(key)
        if value:
            if kind is None:
                kind = next((k for p, k in _GATEWAY_PREFIX.items() if str(value).startswith(p)), "unknown")
            return kind, str(value)
    return "unknown", ""


@normaliser("ec2", "DescribeRouteTables")
def _route_tables(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "RouteTables", path):
        routes = []
        for j, r in enumerate(raw.get("Routes", [])):
            if r.get("DestinationCidrBlock"):
                dest, dkind = r["DestinationCidrBlock"], "ipv4"
            elif r.get("DestinationIpv6CidrBlock"):
                dest, dkind = r["DestinationIpv6CidrBlock"], "ipv6"
            else:
                dest, dkind = r.get("DestinationPrefixListId", ""), "prefix_list"
            kind, target = route_target(r)
            routes.append(Route(destination=dest, destination_kind=dkind,
                                destination_cidrs=None if dkind == "prefix_list" else (dest,),
                                target_kind=kind, target_id=target, state=r.get("State", "active"),
                                origin=r.get("Origin", ""), source=SourceRef(path, f"{ref.pointer}/Routes/{j}")))
        assoc = raw.get("Associations", [])
        yield RouteTable(**_res(raw["RouteTableId"], rec, ref, raw, vpc_id=raw.get("VpcId", ""),
                                is_main=any(a.get("Main") for a in assoc),
                                subnet_ids=tuple(a["SubnetId"] for a in assoc if a.get("SubnetId")),
                                gateway_ids=tuple(a["GatewayId"] for a in assoc if a.get("GatewayId")),
                                routes=tuple(routes)))


def _attached(raw: Raw) -> tuple[str, ...]:
    return tuple(a["VpcId"] for a in raw.get("Attachments", [])
                 if a.get("VpcId") and a.get("State", "available") in ("available", "attached", "attaching"))


@normaliser("ec2", "DescribeInternetGateways")
def _igws(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "InternetGateways", path):
        yield InternetGateway(**_res(raw["InternetGatewayId"], rec, ref, raw, attached_vpc_ids=_attached(raw)))


@normaliser("ec2", "DescribeEgressOnlyInternetGateways")
def _eigws(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "EgressOnlyInternetGateways", path):
        yield EgressOnlyInternetGateway(**_res(raw["EgressOnlyInternetGatewayId"], rec, ref, raw,
                                               attached_vpc_ids=_attached(raw)))


@normaliser("ec2", "DescribeNatGateways")
def _nats(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "NatGateways", path):
        addrs = raw.get("NatGatewayAddresses", [])
        yield NatGateway(**_res(raw["NatGatewayId"], rec, ref, raw, vpc_id=raw.get("VpcId", ""),
                                subnet_id=raw.get("SubnetId", ""),
                                connectivity=raw.get("ConnectivityType") or "public", state=raw.get("State", ""),
                                public_ips=ids(addrs, "PublicIp"), network_interface_ids=ids(addrs, "NetworkInterfaceId")))


@normaliser("ec2", "DescribeAddresses")
def _eips(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "Addresses", path):
        yield ElasticIp(**_res(raw.get("AllocationId") or raw.get("PublicIp", ""), rec, ref, raw,
                               public_ip=raw.get("PublicIp", ""), domain=raw.get("Domain", ""),
                               instance_id=raw.get("InstanceId"), network_interface_id=raw.get("NetworkInterfaceId"),
                               association_id=raw.get("AssociationId")))


@normaliser("ec2", "DescribeNetworkInterfaces")
def _enis(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "NetworkInterfaces", path):
        public = [raw.get("Association", {}).get("PublicIp")] + [
            p.get("Association", {}).get("PublicIp") for p in raw.get("PrivateIpAddresses", [])]
        yield NetworkInterface(**_res(
            raw["NetworkInterfaceId"], rec, ref, raw, "TagSet", vpc_id=raw.get("VpcId", ""),
            subnet_id=raw.get("SubnetId", ""), interface_type=raw.get("InterfaceType", ""),
            description=raw.get("Description", ""),
            private_ips=ids(raw.get("PrivateIpAddresses"), "PrivateIpAddress"),
            public_ips=tuple(sorted({p for p in public if p})),
            ipv6_addresses=ids(raw.get("Ipv6Addresses"), "Ipv6Address"),
            security_group_ids=ids(raw.get("Groups"), "GroupId"),
            instance_id=raw.get("Attachment", {}).get("InstanceId"),
            requester_managed=bool(raw.get("RequesterManaged")), source_dest_check=raw.get("SourceDestCheck")))


@normaliser("ec2", "DescribeInstances")
def _instances(rec: CallRecord, path: str) -> Iterator[Resource]:
    for p, page in enumerate(rec.pages):
        for r, reservation in enumerate(page.get("Reservations", [])):
            for i, raw in enumerate(reservation.get("Instances", [])):
                ref = SourceRef(path, f"/pages/{p}/Reservations/{r}/Instances/{i}")
                enis = raw.get("NetworkInterfaces", [])
                yield Instance(**_res(raw["InstanceId"], rec, ref, raw, vpc_id=raw.get("VpcId", ""),
                                      subnet_id=raw.get("SubnetId", ""), state=raw.get("State", {}).get("Name", ""),
                                      private_ip=raw.get("PrivateIpAddress", ""), public_ip=raw.get("PublicIpAddress"),
                                      ipv6_addresses=tuple(a["Ipv6Address"] for e in enis
                                                           for a in e.get("Ipv6Addresses", [])),
                                      network_interface_ids=ids(enis, "NetworkInterfaceId"),
                                      security_group_ids=ids(raw.get("SecurityGroups"), "GroupId"),
                                      source_dest_check=raw.get("SourceDestCheck")))


@normaliser("ec2", "DescribeSecurityGroups")
def _sgs(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "SecurityGroups", path):
        yield SecurityGroup(**_res(raw["GroupId"], rec, ref, raw, vpc_id=raw.get("VpcId", ""),
                                   name=raw.get("GroupName", ""), description=raw.get("Description", "")))


def _port(value: Any) -> int | None:
    return None if value is None else int(value)


@normaliser("ec2", "DescribeSecurityGroupRules")
def _sg_rules(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "SecurityGroupRules", path):
        yield SecurityGroupRule(**_res(
            raw["SecurityGroupRuleId"], rec, ref, raw, group_id=raw.get("GroupId", ""),
            is_egress=bool(raw.get("IsEgress")), protocol=str(raw.get("IpProtocol", "-1")),
            from_port=_port(raw.get("FromPort")), to_port=_port(raw.get("ToPort")),
            cidr_ipv4=raw.get("CidrIpv4"), cidr_ipv6=raw.get("CidrIpv6"), prefix_list_id=raw.get("PrefixListId"),
            referenced_group_id=(raw.get("ReferencedGroupInfo") or {}).get("GroupId"),
            description=raw.get("Description", "")))


@normaliser("ec2", "DescribeNetworkAcls")
def _nacls(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "NetworkAcls", path):
        entries = tuple(NaclEntry(rule_number=int(e.get("RuleNumber", 0)), egress=bool(e.get("Egress")),
                                  protocol=str(e.get("Protocol", "-1")), action=e.get("RuleAction", ""),
                                  cidr=e.get("CidrBlock"), ipv6_cidr=e.get("Ipv6CidrBlock"),
                                  from_port=_port((e.get("PortRange") or {}).get("From")),
                                  to_port=_port((e.get("PortRange") or {}).get("To")))
                        for e in raw.get("Entries", []))
        yield NetworkAcl(**_res(raw["NetworkAclId"], rec, ref, raw, vpc_id=raw.get("VpcId", ""),
                                is_default=bool(raw.get("IsDefault")),
                                subnet_ids=ids(raw.get("Associations"), "SubnetId"), entries=entries))


def short_service(service_name: str, region: str) -> str:
    """``com.amazonaws.us-east-1.ecr.api`` -> ``ecr.api`` (other names are kept whole)."""
    for prefix in (f"com.amazonaws.{region}.", f"aws.api.{region}.", f"aws.sagemaker.{region}."):
        if service_name.startswith(prefix):
            return service_name[len(prefix):]
    return service_name


@normaliser("ec2", "DescribeVpcEndpoints")
def _endpoints(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "VpcEndpoints", path):
        doc = raw.get("PolicyDocument")
        policy, error = None, None
        if doc is not None:
            try:
                policy = json.loads(doc)
            except ValueError as exc:
                error = f"not valid JSON: {exc}"
        yield VpcEndpoint(**_res(
            raw["VpcEndpointId"], rec, ref, raw, vpc_id=raw.get("VpcId", ""),
            service_name=raw.get("ServiceName", ""), service=short_service(raw.get("ServiceName", ""), rec.region),
            endpoint_type=raw.get("VpcEndpointType", ""), state=raw.get("State", ""),
            private_dns_enabled=raw.get("PrivateDnsEnabled"), subnet_ids=tuple(raw.get("SubnetIds", [])),
            security_group_ids=ids(raw.get("Groups"), "GroupId"), route_table_ids=tuple(raw.get("RouteTableIds", [])),
            network_interface_ids=tuple(raw.get("NetworkInterfaceIds", [])), policy_document=doc,
            policy=policy, policy_error=error))


@normaliser("ec2", "DescribeVpcEndpointServices")
def _endpoint_services(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "ServiceDetails", path):
        yield VpcEndpointService(**_res(
            raw.get("ServiceName", ""), rec, ref, raw, service_name=raw.get("ServiceName", ""),
            service_types=ids(raw.get("ServiceType"), "ServiceType"),
            availability_zones=tuple(raw.get("AvailabilityZones", [])), owner=raw.get("Owner", ""),
            policy_supported=raw.get("VpcEndpointPolicySupported"), private_dns_name=raw.get("PrivateDnsName")))


@normaliser("ec2", "DescribeFlowLogs")
def _flow_logs(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "FlowLogs", path):
        yield FlowLog(**_res(raw["FlowLogId"], rec, ref, raw, resource_id=raw.get("ResourceId", ""),
                             traffic_type=raw.get("TrafficType", ""), status=raw.get("FlowLogStatus", ""),
                             destination_type=raw.get("LogDestinationType", ""),
                             destination=raw.get("LogDestination") or raw.get("LogGroupName", ""),
                             log_format=raw.get("LogFormat", "")))


def _side(info: Raw | None) -> PeeringSide | None:
    if not info:
        return None
    return PeeringSide(vpc_id=info.get("VpcId", ""), account=info.get("OwnerId", ""), region=info.get("Region", ""),
                       cidrs=tuple(sorted({c["CidrBlock"] for c in info.get("CidrBlockSet", [])}
                                          | ({info["CidrBlock"]} if info.get("CidrBlock") else set()))),
                       ipv6_cidrs=ids(info.get("Ipv6CidrBlockSet"), "Ipv6CidrBlock"))


@normaliser("ec2", "DescribeVpcPeeringConnections")
def _peerings(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "VpcPeeringConnections", path):
        yield VpcPeering(**_res(raw["VpcPeeringConnectionId"], rec, ref, raw,
                                status=(raw.get("Status") or {}).get("Code", ""),
                                requester=_side(raw.get("RequesterVpcInfo")), accepter=_side(raw.get("AccepterVpcInfo"))))


@normaliser("ec2", "DescribeCarrierGateways")
def _carriers(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "CarrierGateways", path):
        yield CarrierGateway(**_res(raw["CarrierGatewayId"], rec, ref, raw, vpc_id=raw.get("VpcId", ""),
                                    state=raw.get("State", "")))


@normaliser("ec2", "DescribeVpnGateways")
def _vgws(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "VpnGateways", path):
        vpcs = tuple(a["VpcId"] for a in raw.get("VpcAttachments", []) if a.get("State") in ("attached", "attaching"))
        yield VpnGateway(**_res(raw["VpnGatewayId"], rec, ref, raw, attached_vpc_ids=vpcs, state=raw.get("State", "")))


@normaliser("ec2", "DescribeTransitGateways")
def _tgws(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "TransitGateways", path):
        opts = raw.get("Options", {})
        yield TransitGateway(**_res(raw["TransitGatewayId"], rec, ref, raw, owner_id=raw.get("OwnerId", ""),
                                    state=raw.get("State", ""),
                                    auto_accept_shared_attachments=opts.get("AutoAcceptSharedAttachments", ""),
                                    default_association_route_table_id=opts.get("AssociationDefaultRouteTableId"),
                                    default_propagation_route_table_id=opts.get("PropagationDefaultRouteTableId")))


@normaliser("ec2", "DescribeTransitGatewayAttachments")
def _tgw_attachments(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "TransitGatewayAttachments", path):
        yield TransitGatewayAttachment(**_res(
            raw["TransitGatewayAttachmentId"], rec, ref, raw, transit_gateway_id=raw.get("TransitGatewayId", ""),
            resource_type=raw.get("ResourceType", ""), resource_id=raw.get("ResourceId", ""),
            resource_owner=raw.get("ResourceOwnerId", ""), state=raw.get("State", ""),
            associated_route_table_id=(raw.get("Association") or {}).get("TransitGatewayRouteTableId")))


@normaliser("ec2", "DescribeTransitGatewayRouteTables")
def _tgw_route_tables(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "TransitGatewayRouteTables", path):
        yield TransitGatewayRouteTable(**_res(
            raw["TransitGatewayRouteTableId"], rec, ref, raw, transit_gateway_id=raw.get("TransitGatewayId", ""),
            is_default_association=bool(raw.get("DefaultAssociationRouteTable")),
            is_default_propagation=bool(raw.get("DefaultPropagationRouteTable"))))


@normaliser("ec2", "DescribeManagedPrefixLists")
def _prefix_lists(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "PrefixLists", path):
        yield PrefixList(**_res(raw["PrefixListId"], rec, ref, raw, name=raw.get("PrefixListName", ""),
                                owner_id=raw.get("OwnerId", ""), address_family=raw.get("AddressFamily", "")))


@normaliser("ec2", "DescribeVpcBlockPublicAccessOptions")
def _bpa(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "VpcBlockPublicAccessOptions", path):
        yield BlockPublicAccess(**_res(rec.region, rec, ref, raw,
                                       internet_gateway_block_mode=raw.get("InternetGatewayBlockMode", ""),
                                       exclusions_allowed=raw.get("ExclusionsAllowed", ""), state=raw.get("State", "")))


@normaliser("ec2", "DescribeVpcBlockPublicAccessExclusions")
def _bpa_exclusions(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "VpcBlockPublicAccessExclusions", path):
        yield BlockPublicAccessExclusion(**_res(raw.get("ExclusionId", ""), rec, ref, raw,
                                                mode=raw.get("InternetGatewayExclusionMode", ""),
                                                resource_arn=raw.get("ResourceArn", ""), state=raw.get("State", "")))


@normaliser("eks", "DescribeCluster")
def _eks(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "cluster", path):
        cfg = raw.get("resourcesVpcConfig", {})
        sgs = list(cfg.get("securityGroupIds", [])) + ([cfg["clusterSecurityGroupId"]]
                                                        if cfg.get("clusterSecurityGroupId") else [])
        yield EksCluster(**_res(raw.get("name", ""), rec, ref, raw, arn=raw.get("arn", ""), vpc_id=cfg.get("vpcId"),
                                subnet_ids=tuple(cfg.get("subnetIds", [])), security_group_ids=tuple(sgs),
                                endpoint_public_access=cfg.get("endpointPublicAccess"),
                                endpoint_private_access=cfg.get("endpointPrivateAccess"),
                                public_access_cidrs=tuple(cfg.get("publicAccessCidrs", []))))


@normaliser("rds", "DescribeDBInstances")
def _rds(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "DBInstances", path):
        group = raw.get("DBSubnetGroup") or {}
        yield DbInstance(**_res(raw.get("DBInstanceIdentifier", ""), rec, ref, raw, "TagList",
                                arn=raw.get("DBInstanceArn", ""), engine=raw.get("Engine", ""),
                                vpc_id=group.get("VpcId"),
                                subnet_ids=ids(group.get("Subnets"), "SubnetIdentifier"),
                                publicly_accessible=raw.get("PubliclyAccessible"),
                                security_group_ids=ids(raw.get("VpcSecurityGroups"), "VpcSecurityGroupId")))


@normaliser("elbv2", "DescribeLoadBalancers")
def _elbv2(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "LoadBalancers", path):
        yield LoadBalancer(**_res(raw.get("LoadBalancerArn", ""), rec, ref, raw, arn=raw.get("LoadBalancerArn", ""),
                                  name=raw.get("LoadBalancerName", ""), kind=raw.get("Type", ""),
                                  scheme=raw.get("Scheme"), vpc_id=raw.get("VpcId"),
                                  subnet_ids=ids(raw.get("AvailabilityZones"), "SubnetId"),
                                  security_group_ids=tuple(raw.get("SecurityGroups", []))))


@normaliser("elb", "DescribeLoadBalancers")
def _elb(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "LoadBalancerDescriptions", path):
        name = raw.get("LoadBalancerName", "")
        yield LoadBalancer(**_res(name, rec, ref, raw, name=name, kind="classic", scheme=raw.get("Scheme"),
                                  vpc_id=raw.get("VPCId"), subnet_ids=tuple(raw.get("Subnets", [])),
                                  security_group_ids=tuple(raw.get("SecurityGroups", []))))


@normaliser("lambda", "ListFunctions")
def _lambdas(rec: CallRecord, path: str) -> Iterator[Resource]:
    for raw, ref in items(rec, "Functions", path):
        cfg = raw.get("VpcConfig") or {}
        yield LambdaFunction(**_res(raw.get("FunctionName", ""), rec, ref, raw, arn=raw.get("FunctionArn", ""),
                                    vpc_id=cfg.get("VpcId") or None, subnet_ids=tuple(cfg.get("SubnetIds", [])),
                                    security_group_ids=tuple(cfg.get("SecurityGroupIds", []))))


@measure("cloudwatch", "GetMetricData")
def _traffic(rec: CallRecord, path: str) -> Iterator[Measurement]:
    """One measurement per query the record asked: the sum of every value of that query's Id
    across the pages (CloudWatch may split a query's values over pages); None when no page
    holds a value for it. The query's resource comes from its own dimensions in the params."""
    found: dict[str, list[float]] = {}
    status: dict[str, str] = {}
    where: dict[str, str] = {}
    for raw, ref in items(rec, "MetricDataResults", path):
        qid = str(raw.get("Id", ""))
        found.setdefault(qid, []).extend(float(v) for v in raw.get("Values") or [])
        # A later page's status is the query's last word (PartialData, then Complete).
        status[qid] = str(raw.get("StatusCode", "") or status.get(qid, ""))
        where.setdefault(qid, ref.pointer)
    for i, query in enumerate(rec.params.get("MetricDataQueries") or []):
        if not isinstance(query, dict):
            continue
        resource = query_resource(query)
        if resource is None:
            continue
        qid = str(query.get("Id", ""))
        values = found.get(qid) or []
        metric = str(((query.get("MetricStat") or {}).get("Metric") or {}).get("MetricName", ""))
        yield Measurement(account=rec.account, region=rec.region, resource_type=resource[0], resource_id=resource[1],
                          metric=metric, value=round(math.fsum(values)) if values else None,
                          status=status.get(qid, ""),
                          source=SourceRef(path, where.get(qid, f"/params/MetricDataQueries/{i}")))
