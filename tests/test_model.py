"""The network model from hand-written records (pure: no emulator involved)."""

from __future__ import annotations

from typing import Any

from auditor.model import build_model
from auditor.model.types import RouteTable, Subnet, TransitGatewayAttachment, TransitGatewayRouteTable, Vpc
from auditor.snapshot.records import CallError, CallRecord

A, R = "111111111111", "eu-west-1"


def rec(op: str, page: dict[str, Any], service: str = "ec2", params: dict[str, Any] | None = None,
        error: CallError | None = None, account: str = A) -> CallRecord:
    return CallRecord(account, R, service, op, params or {}, (page,), error)


def resolve(record: CallRecord, pointer: str) -> Any:
    node: Any = record.content()
    for part in pointer.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


VPCS = rec("DescribeVpcs", {"Vpcs": [
    {"VpcId": "vpc-b", "CidrBlock": "10.2.0.0/16", "State": "available", "OwnerId": A},
    {"VpcId": "vpc-a", "CidrBlock": "10.1.0.0/16", "State": "available", "OwnerId": A,
     "Tags": [{"Key": "data-classification", "Value": "pci"}],
     "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2600:1f18::/56"}]}]})
SUBNETS = rec("DescribeSubnets", {"Subnets": [
    {"SubnetId": "subnet-a1", "VpcId": "vpc-a", "CidrBlock": "10.1.1.0/24", "AvailabilityZone": "eu-west-1a",
     "MapPublicIpOnLaunch": False},
    {"SubnetId": "subnet-a2", "VpcId": "vpc-a", "CidrBlock": "10.1.2.0/24", "AvailabilityZone": "eu-west-1b",
     "MapPublicIpOnLaunch": True},
    {"SubnetId": "subnet-c1", "VpcId": "vpc-c", "CidrBlock": "10.3.1.0/24", "AvailabilityZone": "eu-west-1a"}]})
ALL_TARGETS = [
    {"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "local", "State": "active"},
    {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"},
    {"DestinationIpv6CidrBlock": "::/0", "EgressOnlyInternetGatewayId": "eigw-1", "State": "active"},
    {"DestinationCidrBlock": "10.9.0.0/16", "NatGatewayId": "nat-1", "State": "blackhole"},
    {"DestinationCidrBlock": "10.10.0.0/16", "TransitGatewayId": "tgw-1", "State": "active"},
    {"DestinationCidrBlock": "10.11.0.0/16", "VpcPeeringConnectionId": "pcx-1", "State": "active"},
    {"DestinationCidrBlock": "10.12.0.0/16", "GatewayId": "vgw-1", "State": "active"},
    {"DestinationCidrBlock": "10.13.0.0/16", "InstanceId": "i-1", "NetworkInterfaceId": "eni-9", "State": "active"},
    {"DestinationCidrBlock": "10.14.0.0/16", "NetworkInterfaceId": "eni-2", "State": "active"},
    {"DestinationPrefixListId": "pl-s3", "GatewayId": "vpce-gw", "State": "active"},
    {"DestinationCidrBlock": "10.15.0.0/16", "GatewayId": "vpce-gwlb", "State": "active"},
    {"DestinationCidrBlock": "10.16.0.0/16", "CarrierGatewayId": "cagw-1", "State": "active"},
    {"DestinationCidrBlock": "10.17.0.0/16", "LocalGatewayId": "lgw-1", "State": "active"},
    {"DestinationCidrBlock": "10.18.0.0/16", "CoreNetworkArn": "arn:aws:networkmanager::1:core-network/c",
     "State": "active"},
    {"DestinationPrefixListId": "pl-unknown", "TransitGatewayId": "tgw-1", "State": "active"},
]
ROUTE_TABLES = rec("DescribeRouteTables", {"RouteTables": [
    # Another VPC's main table comes first: a subnet must never inherit it.
    {"RouteTableId": "rtb-main-b", "VpcId": "vpc-b", "Associations": [{"Main": True}],
     "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-b", "State": "active"}]},
    {"RouteTableId": "rtb-main-a", "VpcId": "vpc-a", "Associations": [{"Main": True}], "Routes": ALL_TARGETS},
    {"RouteTableId": "rtb-private-a", "VpcId": "vpc-a",
     "Associations": [{"Main": False, "SubnetId": "subnet-a1"}, {"GatewayId": "igw-1"}],
     "Routes": [{"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "local", "State": "active"}]}]})
ENDPOINTS = rec("DescribeVpcEndpoints", {"VpcEndpoints": [
    {"VpcEndpointId": "vpce-gw", "VpcId": "vpc-a", "VpcEndpointType": "Gateway",
     "ServiceName": "com.amazonaws.eu-west-1.s3", "RouteTableIds": ["rtb-main-a"],
     "PolicyDocument": '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}'},
    {"VpcEndpointId": "vpce-gwlb", "VpcId": "vpc-a", "VpcEndpointType": "GatewayLoadBalancer",
     "ServiceName": "com.amazonaws.vpce.eu-west-1.vpce-svc-1"},
    {"VpcEndpointId": "vpce-sqs", "VpcId": "vpc-a", "VpcEndpointType": "Interface", "PrivateDnsEnabled": True,
     "ServiceName": "com.amazonaws.eu-west-1.sqs", "PolicyDocument": "{not json"}]})
PREFIX_LISTS = rec("DescribeManagedPrefixLists", {"PrefixLists": [
    {"PrefixListId": "pl-s3", "PrefixListName": "com.amazonaws.eu-west-1.s3", "AddressFamily": "IPv4"},
    {"PrefixListId": "pl-unknown", "PrefixListName": "corp", "AddressFamily": "IPv4"}]})
PL_ENTRIES = rec("GetManagedPrefixListEntries", {"Entries": [{"Cidr": "52.218.0.0/17"}, {"Cidr": "3.5.64.0/21"}]},
                 params={"PrefixListId": "pl-s3"})
PL_ENTRIES_FAILED = rec("GetManagedPrefixListEntries", {}, params={"PrefixListId": "pl-unknown"},
                        error=CallError("aws", "UnauthorizedOperation", "denied", 403))
DNS = [rec("DescribeVpcAttribute", {"VpcId": "vpc-a", "EnableDnsSupport": {"Value": True}},
           params={"VpcId": "vpc-a", "Attribute": "enableDnsSupport"}),
       rec("DescribeVpcAttribute", {"VpcId": "vpc-a", "EnableDnsHostnames": {"Value": False}},
           params={"VpcId": "vpc-a", "Attribute": "enableDnsHostnames"})]
RECORDS = [VPCS, SUBNETS, ROUTE_TABLES, ENDPOINTS, PREFIX_LISTS, PL_ENTRIES, PL_ENTRIES_FAILED, *DNS]


def test_effective_route_table_is_the_main_table_of_the_subnets_own_vpc() -> None:
    model = build_model(RECORDS)
    a1, a2, c1 = (model.get("subnet", s) for s in ("subnet-a1", "subnet-a2", "subnet-c1"))
    assert isinstance(a1, Subnet) and isinstance(a2, Subnet) and isinstance(c1, Subnet)
    assert (a1.route_table_id, a1.route_table_association) == ("rtb-private-a", "explicit")
    assert (a2.route_table_id, a2.route_table_association) == ("rtb-main-a", "main")
    # vpc-c's tables were not collected: unknown, never another VPC's main table.
    assert (c1.route_table_id, c1.route_table_association) == (None, "unknown")


def test_every_route_target_kind_is_normalised() -> None:
    rt = build_model(RECORDS).get("route_table", "rtb-main-a")
    assert isinstance(rt, RouteTable) and rt.is_main
    got = [(r.destination, r.target_kind, r.target_id, r.state, r.destination_cidrs) for r in rt.routes]
    assert got == [
        ("10.1.0.0/16", "local", "local", "active", ("10.1.0.0/16",)),
        ("0.0.0.0/0", "igw", "igw-1", "active", ("0.0.0.0/0",)),
        ("::/0", "eigw", "eigw-1", "active", ("::/0",)),
        ("10.9.0.0/16", "nat", "nat-1", "blackhole", ("10.9.0.0/16",)),
        ("10.10.0.0/16", "tgw", "tgw-1", "active", ("10.10.0.0/16",)),
        ("10.11.0.0/16", "pcx", "pcx-1", "active", ("10.11.0.0/16",)),
        ("10.12.0.0/16", "vgw", "vgw-1", "active", ("10.12.0.0/16",)),
        ("10.13.0.0/16", "instance", "i-1", "active", ("10.13.0.0/16",)),
        ("10.14.0.0/16", "eni", "eni-2", "active", ("10.14.0.0/16",)),
        ("pl-s3", "vpce", "vpce-gw", "active", ("52.218.0.0/17", "3.5.64.0/21")),
        ("10.15.0.0/16", "gwlbe", "vpce-gwlb", "active", ("10.15.0.0/16",)),
        ("10.16.0.0/16", "carrier", "cagw-1", "active", ("10.16.0.0/16",)),
        ("10.17.0.0/16", "lgw", "lgw-1", "active", ("10.17.0.0/16",)),
        ("10.18.0.0/16", "core_network", "arn:aws:networkmanager::1:core-network/c", "active", ("10.18.0.0/16",)),
        ("pl-unknown", "tgw", "tgw-1", "active", None),  # entries not collected: unresolved, not empty
    ]
    assert [r.destination_kind for r in rt.routes][:3] == ["ipv4", "ipv4", "ipv6"]


def test_edge_associations_and_explicit_subnets() -> None:
    rt = build_model(RECORDS).get("route_table", "rtb-private-a")
    assert isinstance(rt, RouteTable)
    assert rt.subnet_ids == ("subnet-a1",) and rt.gateway_ids == ("igw-1",) and not rt.is_main


def test_vpc_dns_attributes_and_their_evidence() -> None:
    model = build_model(RECORDS)
    a, b = model.get("vpc", "vpc-a"), model.get("vpc", "vpc-b")
    assert isinstance(a, Vpc) and isinstance(b, Vpc)
    assert (a.dns_support, a.dns_hostnames) == (True, False)
    assert (b.dns_support, b.dns_hostnames) == (None, None)  # not collected is not false
    assert a.tag("data-classification") == "pci" and a.ipv6_cidr_blocks == ("2600:1f18::/56",)
    assert len(a.also_from) == 2 and all("DescribeVpcAttribute" in s.record for s in a.also_from)


def test_every_resource_points_back_to_its_raw_record() -> None:
    model = build_model(RECORDS)
    by_path = {f"records/{r.record_id}.json": r for r in RECORDS}
    checked = 0
    for items in model.resources.values():
        for res in items:
            raw = resolve(by_path[res.source.record], res.source.pointer)
            assert res.id in raw.values(), (res.id, res.source)
            checked += 1
    assert checked == 2 + 3 + 3 + 3 + 2
    route = model.get("route_table", "rtb-main-a").routes[1]  # type: ignore[union-attr]
    assert resolve(by_path[route.source.record], route.source.pointer)["GatewayId"] == "igw-1"


def test_endpoint_policy_kept_verbatim_and_parse_errors_reported() -> None:
    model = build_model(RECORDS)
    gw, sqs = model.get("vpc_endpoint", "vpce-gw"), model.get("vpc_endpoint", "vpce-sqs")
    assert gw.policy["Statement"][0]["Principal"] == "*"  # type: ignore[union-attr]
    assert gw.service == "s3" and sqs.service == "sqs"  # type: ignore[union-attr]
    assert sqs.policy is None and sqs.policy_document == "{not json"  # type: ignore[union-attr]
    assert sqs.policy_error is not None and sqs.policy_error.startswith("not valid JSON")  # type: ignore[union-attr]


def test_coverage_says_what_failed() -> None:
    model = build_model(RECORDS)
    assert model.coverage.collected(A, R, "ec2", "DescribeRouteTables")
    assert not model.coverage.collected(A, R, "ec2", "DescribeInstances")  # never made
    # A per-resource call failed for one prefix list only: collected for the others, and
    # that one is named with why (issue 10, item 4).
    assert model.coverage.collected(A, R, "ec2", "GetManagedPrefixListEntries")
    failed = model.coverage.failed_for(A, R, "ec2", "GetManagedPrefixListEntries")
    assert list(failed) == ["pl-unknown"] and failed["pl-unknown"].startswith("UnauthorizedOperation")


def test_transit_gateway_route_tables_and_attachment_subnets() -> None:
    rt_id = "tgw-rtb-1"
    records = [
        rec("DescribeTransitGatewayRouteTables", {"TransitGatewayRouteTables": [
            {"TransitGatewayRouteTableId": rt_id, "TransitGatewayId": "tgw-1", "DefaultAssociationRouteTable": True}]}),
        rec("SearchTransitGatewayRoutes", {"Routes": [
            {"DestinationCidrBlock": "0.0.0.0/0", "Type": "static", "State": "active",
             "TransitGatewayAttachments": [{"TransitGatewayAttachmentId": "tgw-attach-egress"}]},
            {"DestinationCidrBlock": "10.66.0.0/16", "Type": "static", "State": "blackhole"}]},
            params={"TransitGatewayRouteTableId": rt_id, "Filters": []}),
        rec("GetTransitGatewayRouteTableAssociations", {"Associations": [
            {"TransitGatewayAttachmentId": "tgw-attach-phi", "State": "associated"}]},
            params={"TransitGatewayRouteTableId": rt_id}),
        rec("DescribeTransitGatewayAttachments", {"TransitGatewayAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-egress", "TransitGatewayId": "tgw-1", "ResourceType": "vpc",
             "ResourceId": "vpc-egress", "State": "available",
             "Association": {"TransitGatewayRouteTableId": rt_id}}]}),
        rec("DescribeTransitGatewayVpcAttachments", {"TransitGatewayVpcAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-egress", "SubnetIds": ["subnet-e1", "subnet-e2"]}]}),
    ]
    model = build_model(records)
    rt = model.get("transit_gateway_route_table", rt_id)
    assert isinstance(rt, TransitGatewayRouteTable) and rt.is_default_association
    assert rt.routes is not None
    assert [(r.destination, r.state, r.attachment_ids) for r in rt.routes] == [
        ("0.0.0.0/0", "active", ("tgw-attach-egress",)), ("10.66.0.0/16", "blackhole", ())]
    assert rt.associated_attachment_ids == ("tgw-attach-phi",)
    assert rt.propagating_attachment_ids is None  # not collected: unknown, not "none"
    att = model.get("transit_gateway_attachment", "tgw-attach-egress")
    assert isinstance(att, TransitGatewayAttachment)
    assert att.subnet_ids == ("subnet-e1", "subnet-e2") and att.associated_route_table_id == rt_id


def test_partial_pages_before_an_error_are_kept() -> None:
    broken = CallRecord(A, R, "ec2", "DescribeSubnets", {}, SUBNETS.pages,
                        CallError("aws", "RequestLimitExceeded", "Rate exceeded", 503))
    model = build_model([broken])
    assert len(model.of("subnet")) == 3
    assert not model.coverage.collected(A, R, "ec2", "DescribeSubnets")


def test_model_is_deterministic_whatever_the_record_order() -> None:
    assert build_model(RECORDS) == build_model(list(reversed(RECORDS)))


def test_vpc_of_eks_and_lambda_comes_from_their_subnets() -> None:
    records = [SUBNETS,
               rec("DescribeCluster", {"cluster": {"name": "core", "resourcesVpcConfig": {
                   "subnetIds": ["subnet-a1", "subnet-a2"], "endpointPublicAccess": False,
                   "endpointPrivateAccess": True}}}, service="eks", params={"name": "core"}),
               rec("ListFunctions", {"Functions": [
                   {"FunctionName": "f", "VpcConfig": {"SubnetIds": ["subnet-a1"], "VpcId": "vpc-123abc"}},
                   {"FunctionName": "g", "VpcConfig": {"SubnetIds": [], "VpcId": ""}}]}, service="lambda")]
    model = build_model(records)
    assert model.get("eks_cluster", "core").vpc_id == "vpc-a"  # type: ignore[union-attr]
    assert model.get("lambda_function", "f").vpc_id == "vpc-a"  # type: ignore[union-attr]
    assert model.get("lambda_function", "g").vpc_id is None  # type: ignore[union-attr]
