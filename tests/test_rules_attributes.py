"""Attribute paths: the catalogue per resource type, resolution, coverage and derived attributes."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from auditor.collect.catalog import CATALOG
from auditor.model import build_model
from auditor.model.types import RESOURCE_TYPES, Model, Resource, Route
from auditor.rules.attributes import (
    DERIVED, TAG_KEY, attribute_paths, field_requires, is_known_path, json_of, resolve, suggest, to_json,
)
from auditor.rules.operators import ABSENT
from auditor.snapshot.records import CallError, CallRecord

A, B, R = "111111111111", "222222222222", "eu-west-1"


def rec(op: str, page: dict[str, Any], account: str = A, service: str = "ec2",
        params: dict[str, Any] | None = None, error: CallError | None = None) -> CallRecord:
    return CallRecord(account, R, service, op, params or {}, (page,), error)


def tags(**kv: str) -> list[dict[str, str]]:
    return [{"Key": k.replace("_", "."), "Value": v} for k, v in kv.items()]


RECORDS = [
    rec("DescribeVpcs", {"Vpcs": [
        {"VpcId": "vpc-a", "CidrBlock": "10.1.0.0/16", "State": "available", "Tags": tags(Name="prod", app_tier="web")},
        {"VpcId": "vpc-b", "CidrBlock": "10.2.0.0/16", "State": "available"}]}),
    rec("DescribeSubnets", {"Subnets": [
        {"SubnetId": "subnet-a1", "VpcId": "vpc-a", "CidrBlock": "10.1.1.0/24", "AvailabilityZone": "eu-west-1a"},
        {"SubnetId": "subnet-a2", "VpcId": "vpc-a", "CidrBlock": "10.1.2.0/24", "AvailabilityZone": "eu-west-1b"},
        {"SubnetId": "subnet-a3", "VpcId": "vpc-a", "CidrBlock": "10.1.3.0/24", "AvailabilityZone": "eu-west-1c"},
        {"SubnetId": "subnet-b1", "VpcId": "vpc-b", "CidrBlock": "10.2.1.0/24", "AvailabilityZone": "eu-west-1a"}]}),
    rec("DescribeRouteTables", {"RouteTables": [
        {"RouteTableId": "rtb-public", "VpcId": "vpc-a", "Associations": [{"SubnetId": "subnet-a1"}],
         "Routes": [{"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "local", "State": "active"},
                    {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-a", "State": "active"},
                    {"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-a", "State": "blackhole"},
                    {"DestinationPrefixListId": "pl-s3", "GatewayId": "vpce-s3", "State": "active"},
                    {"DestinationPrefixListId": "pl-corp", "TransitGatewayId": "tgw-1", "State": "active"}]},
        {"RouteTableId": "rtb-main", "VpcId": "vpc-a", "Associations": [{"Main": True}],
         "Routes": [{"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "local", "State": "active"},
                    {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"}]}]}),
    rec("DescribeManagedPrefixLists", {"PrefixLists": [{"PrefixListId": "pl-s3"}, {"PrefixListId": "pl-corp"}]}),
    rec("GetManagedPrefixListEntries", {"Entries": [{"Cidr": "52.218.0.0/17"}, {"Cidr": "3.5.64.0/21"}]},
        params={"PrefixListId": "pl-s3"}),
    rec("DescribeInternetGateways", {"InternetGateways": [
        {"InternetGatewayId": "igw-a", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]},
        {"InternetGatewayId": "igw-detached", "Attachments": [{"VpcId": "vpc-a", "State": "detached"}]}]}),
    # Another account's VPC may carry the same id: its gateways are not vpc-a's.
    rec("DescribeInternetGateways", {"InternetGateways": [
        {"InternetGatewayId": "igw-other", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]}]}, account=B),
    rec("DescribeEgressOnlyInternetGateways", {"EgressOnlyInternetGateways": [
        {"EgressOnlyInternetGatewayId": "eigw-a", "Attachments": [{"VpcId": "vpc-a", "State": "attached"}]}]}),
    rec("DescribeNatGateways", {"NatGateways": [
        {"NatGatewayId": "nat-1", "VpcId": "vpc-a", "SubnetId": "subnet-a1", "State": "available"},
        {"NatGatewayId": "nat-private", "VpcId": "vpc-a", "SubnetId": "subnet-a2", "State": "available",
         "ConnectivityType": "private"},
        {"NatGatewayId": "nat-deleted", "VpcId": "vpc-a", "SubnetId": "subnet-a1", "State": "deleted"}]}),
    rec("DescribeVpcEndpoints", {"VpcEndpoints": [
        {"VpcEndpointId": "vpce-sqs", "VpcId": "vpc-a", "VpcEndpointType": "Interface", "State": "available",
         "ServiceName": "com.amazonaws.eu-west-1.sqs", "SubnetIds": ["subnet-a1", "subnet-a2"]},
        {"VpcEndpointId": "vpce-sqs-2", "VpcId": "vpc-a", "VpcEndpointType": "Interface", "State": "available",
         "ServiceName": "com.amazonaws.eu-west-1.sqs", "SubnetIds": ["subnet-a2"]},
        {"VpcEndpointId": "vpce-ecr", "VpcId": "vpc-a", "VpcEndpointType": "Interface", "State": "pending",
         "ServiceName": "com.amazonaws.eu-west-1.ecr.api", "SubnetIds": ["subnet-a1"]},
        {"VpcEndpointId": "vpce-lost", "VpcId": "vpc-a", "VpcEndpointType": "Interface", "State": "available",
         "ServiceName": "com.amazonaws.eu-west-1.logs", "SubnetIds": ["subnet-a1", "subnet-gone"]},
        {"VpcEndpointId": "vpce-s3", "VpcId": "vpc-a", "VpcEndpointType": "Gateway", "State": "available",
         "ServiceName": "com.amazonaws.eu-west-1.s3", "RouteTableIds": ["rtb-public"]}]}),
    rec("DescribeFlowLogs", {"FlowLogs": [
        {"FlowLogId": "fl-all", "ResourceId": "vpc-a", "TrafficType": "ALL", "FlowLogStatus": "ACTIVE"},
        {"FlowLogId": "fl-reject", "ResourceId": "vpc-a", "TrafficType": "REJECT", "FlowLogStatus": "ACTIVE"},
        {"FlowLogId": "fl-broken", "ResourceId": "vpc-a", "TrafficType": "ACCEPT", "FlowLogStatus": "FAILED"},
        {"FlowLogId": "fl-subnet", "ResourceId": "subnet-a1", "TrafficType": "ALL", "FlowLogStatus": "ACTIVE"}]}),
    rec("DescribeNetworkInterfaces", {"NetworkInterfaces": [
        {"NetworkInterfaceId": "eni-app", "VpcId": "vpc-a", "SubnetId": "subnet-a1", "InterfaceType": "interface",
         "Attachment": {"InstanceId": "i-private"}},
        {"NetworkInterfaceId": "eni-nat", "VpcId": "vpc-a", "SubnetId": "subnet-a2", "InterfaceType": "nat_gateway",
         "Association": {"PublicIp": "54.1.2.3"}},
        {"NetworkInterfaceId": "eni-vpce", "VpcId": "vpc-a", "SubnetId": "subnet-a3", "InterfaceType": "interface",
         "Description": "VPC Endpoint Interface vpce-sqs"},
        {"NetworkInterfaceId": "eni-eip", "VpcId": "vpc-a", "SubnetId": "subnet-a1", "InterfaceType": "interface",
         "Attachment": {"InstanceId": "i-secondary-eip"},
         "PrivateIpAddresses": [{"PrivateIpAddress": "10.1.1.9", "Association": {"PublicIp": "34.1.1.1"}}]}]}),
    rec("DescribeInstances", {"Reservations": [{"Instances": [
        {"InstanceId": "i-public", "VpcId": "vpc-a", "SubnetId": "subnet-a1", "PublicIpAddress": "3.3.3.3"},
        {"InstanceId": "i-private", "VpcId": "vpc-a", "SubnetId": "subnet-a1"},
        {"InstanceId": "i-secondary-eip", "VpcId": "vpc-a", "SubnetId": "subnet-a1"}]}]}),
    rec("DescribeSecurityGroups", {"SecurityGroups": [
        {"GroupId": "sg-web", "VpcId": "vpc-a", "GroupName": "web"},
        {"GroupId": "sg-empty", "VpcId": "vpc-a", "GroupName": "default"}]}),
    rec("DescribeSecurityGroupRules", {"SecurityGroupRules": [
        {"SecurityGroupRuleId": "sgr-2", "GroupId": "sg-web", "IsEgress": True, "IpProtocol": "-1",
         "FromPort": -1, "ToPort": -1, "CidrIpv4": "0.0.0.0/0"},
        {"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-web", "IsEgress": False, "IpProtocol": "tcp",
         "FromPort": 443, "ToPort": 443, "CidrIpv4": "10.0.0.0/8"}]}),
    rec("DescribeNetworkAcls", {"NetworkAcls": [
        {"NetworkAclId": "acl-a", "VpcId": "vpc-a", "Entries": [
            {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0",
             "PortRange": {"From": 22, "To": 22}},
            {"RuleNumber": 32767, "Protocol": "-1", "RuleAction": "deny", "Ipv6CidrBlock": "::/0"}]}]}),
    rec("DescribeVpcPeeringConnections", {"VpcPeeringConnections": [
        {"VpcPeeringConnectionId": "pcx-1", "Status": {"Code": "active"},
         "RequesterVpcInfo": {"VpcId": "vpc-a", "OwnerId": A, "CidrBlock": "10.1.0.0/16"},
         "AccepterVpcInfo": {"VpcId": "vpc-x", "OwnerId": B, "CidrBlockSet": [{"CidrBlock": "10.9.0.0/16"}]}}]}),
    rec("DescribeTransitGatewayRouteTables", {"TransitGatewayRouteTables": [
        {"TransitGatewayRouteTableId": "tgw-rtb-1", "TransitGatewayId": "tgw-1"}]}),
]


@pytest.fixture(scope="module")
def model() -> Model:
    return build_model(RECORDS)


def get(model: Model, type_name: str, rid: str, account: str = A) -> Resource:
    found = model.get(type_name, rid, account, R)
    assert found is not None, (type_name, rid)
    return found


def value(model: Model, type_name: str, rid: str, path: str) -> Any:
    resolved = resolve(model, get(model, type_name, rid), path)
    assert resolved.missing == (), resolved.missing
    return resolved.value


# -- the catalogue ---------------------------------------------------------------------

def test_plain_fields_nested_fields_and_tags_are_listed() -> None:
    rt = attribute_paths("route_table")
    assert {"id", "vpc_id", "routes", "routes[*]", "routes[*].target_kind", "routes[*].destination_cidrs[*]",
            "tags", f"tags.{TAG_KEY}"} <= set(rt)
    assert "source" not in rt and "also_from" not in rt and "routes[*].source" not in rt
    assert rt["routes"].type == "list[Route]" and rt["routes[*].destination_cidrs"].type == "list[string] | null"
    assert {"entries[*].cidr", "entries[*].from_port"} <= set(attribute_paths("network_acl"))
    assert attribute_paths("vpc_peering")["requester.cidrs"].type == "list[string]"
    assert attribute_paths("subnet")["route_table"].type == "route_table | null"


def test_every_resource_type_has_paths_with_docs_and_requirements() -> None:
    for type_name in RESOURCE_TYPES:
        paths = attribute_paths(type_name)
        assert {"id", "account", "region", "tags"} <= set(paths)
        for info in paths.values():
            assert info.doc and info.type and info.requires, (type_name, info.path)


def test_every_catalog_call_feeding_a_type_is_required_by_some_path() -> None:
    for spec in CATALOG:
        needed = {c for info in attribute_paths(spec.resource_type).values() for c in info.requires}
        assert (spec.service, spec.operation) in needed, spec.key


def test_side_calls_are_required_only_by_the_fields_they_fill() -> None:
    attribute = ("ec2", "DescribeVpcAttribute")
    assert attribute in field_requires("vpc", "dns_support")
    assert attribute not in field_requires("vpc", "cidr_blocks")
    assert field_requires("subnet", "route_table_id") == (("ec2", "DescribeSubnets"), ("ec2", "DescribeRouteTables"))
    assert ("ec2", "SearchTransitGatewayRoutes") not in field_requires("transit_gateway_route_table", "id")


def test_derived_attributes_are_declared_properly() -> None:
    calls = {(s.service, s.operation) for s in CATALOG}
    for (type_name, name), d in DERIVED.items():
        assert type_name in RESOURCE_TYPES and d.doc.endswith(".") and d.requires
        assert set(d.requires) <= calls, name
        fields = {p for p, i in attribute_paths(type_name).items() if not i.derived}
        assert name not in fields, f"{type_name}.{name} shadows a field"
        assert attribute_paths(type_name)[name].derived


def test_known_paths_and_suggestions() -> None:
    assert is_known_path("subnet", "routes[*].target_kind")
    assert is_known_path("subnet", "route_table.routes[*].state")
    assert is_known_path("vpc", "tags.aws:cloudformation:stack-name")
    assert is_known_path("vpc", "tags.app.kubernetes.io/name")        # tag keys may hold dots
    assert is_known_path("vpc", "flow_logs[*].tags.Name")
    assert not is_known_path("vpc", "tags.")
    assert not is_known_path("subnet", "routes.target_kind")          # a list needs [*]
    assert not is_known_path("vpc", "internet_gateways")
    assert not is_known_path("vpc", "cidr_blocks[*].x")
    assert not is_known_path("vpc", "id.tags.x")
    assert suggest("subnet", "routes.target_kind") == "routes[*].target_kind"
    assert suggest("vpc", "internet_gateways") == "internet_gateway_ids"
    assert suggest("vpc", "zzzz") is None


def test_unknown_type_or_path_raises_a_clear_key_error(model: Model) -> None:
    with pytest.raises(KeyError, match="unknown resource type 'vcp'"):
        attribute_paths("vcp")
    with pytest.raises(KeyError, match="unknown resource type"):
        is_known_path("vcp", "id")
    with pytest.raises(KeyError, match="did you mean 'internet_gateway_ids'"):
        resolve(model, get(model, "vpc", "vpc-a"), "internet_gateways")


# -- resolving plain paths -------------------------------------------------------------

def test_plain_fields_and_tags(model: Model) -> None:
    assert value(model, "vpc", "vpc-a", "cidr_blocks") == ("10.1.0.0/16",)
    assert value(model, "vpc", "vpc-a", "tags.Name") == "prod"
    assert value(model, "vpc", "vpc-a", "tags.app.tier") == "web"
    assert value(model, "vpc", "vpc-a", "tags.Owner") is ABSENT     # known to be absent, not unknown
    assert value(model, "vpc", "vpc-a", "tags") == {"Name": "prod", "app.tier": "web"}


def test_star_paths_map_over_lists_and_flatten(model: Model) -> None:
    got = resolve(model, get(model, "route_table", "rtb-public"), "routes[*].target_kind")
    assert got.many and got.value == ("local", "igw", "igw", "vpce", "tgw")
    cidrs = resolve(model, get(model, "route_table", "rtb-public"), "routes[*].destination_cidrs[*]")
    # pl-corp's entries were not collected: one unknown element, not an empty list.
    assert cidrs.value == ("10.1.0.0/16", "0.0.0.0/0", "::/0", "52.218.0.0/17", "3.5.64.0/21", None)
    assert value(model, "network_acl", "acl-a", "entries[*].cidr") == ("0.0.0.0/0", None)
    assert value(model, "vpc_peering", "pcx-1", "accepter.cidrs") == ("10.9.0.0/16",)
    assert value(model, "vpc_peering", "pcx-1", "requester.account") == A
    assert value(model, "vpc", "vpc-b", "cidr_blocks[*]") == ("10.2.0.0/16",)


def test_an_unknown_list_stays_unknown(model: Model) -> None:
    rt = get(model, "transit_gateway_route_table", "tgw-rtb-1")
    got = resolve(model, rt, "routes[*].destination")
    assert got.many and got.value is None
    assert got.missing == ("ec2:SearchTransitGatewayRoutes",)


def test_sources_point_at_the_resource_and_the_elements_used(model: Model) -> None:
    rt = get(model, "route_table", "rtb-public")
    got = resolve(model, rt, "routes[*].target_kind")
    assert got.sources[0] == rt.source
    assert [s.pointer for s in got.sources[1:]] == [f"{rt.source.pointer}/Routes/{i}" for i in range(5)]
    igws = resolve(model, get(model, "vpc", "vpc-a"), "internet_gateway_ids")
    assert any("DescribeInternetGateways" in s.record and s.pointer.endswith("/InternetGateways/0")
               for s in igws.sources)


def test_missing_coverage_is_reported_per_account_and_region(model: Model) -> None:
    vpc = get(model, "vpc", "vpc-a")
    assert resolve(model, vpc, "dns_support").missing == ("ec2:DescribeVpcAttribute",)
    assert resolve(model, vpc, "cidr_blocks").missing == ()
    other = build_model([rec("DescribeVpcs", {"Vpcs": [{"VpcId": "vpc-z"}]}, account=B),
                         RECORDS[5]])  # IGWs collected for account A only
    vpc_z = other.get("vpc", "vpc-z")
    assert vpc_z is not None
    assert resolve(other, vpc_z, "internet_gateway_ids").missing == ("ec2:DescribeInternetGateways",)


def test_a_failed_call_counts_as_missing() -> None:
    failed = rec("DescribeInternetGateways", {}, error=CallError("aws", "UnauthorizedOperation", "denied", 403))
    m = build_model([RECORDS[0], failed])
    vpc = m.get("vpc", "vpc-a")
    assert vpc is not None
    got = resolve(m, vpc, "internet_gateway_ids")
    assert got.missing == ("ec2:DescribeInternetGateways",) and got.value == ()


def test_to_json_gives_plain_data(model: Model) -> None:
    rt = get(model, "route_table", "rtb-public")
    data = to_json(rt)
    assert data["id"] == "rtb-public" and "source" not in data and data["tags"] == {}
    assert data["routes"][1] == {"destination": "0.0.0.0/0", "destination_kind": "ipv4",
                                 "destination_cidrs": ["0.0.0.0/0"], "target_kind": "igw", "target_id": "igw-a",
                                 "state": "active", "origin": ""}
    assert to_json(ABSENT) is None and to_json(ABSENT, keep_absent=True) is ABSENT


# -- derived attributes ----------------------------------------------------------------

EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("vpc", "internet_gateway_ids"): {"vpc-a": ("igw-a",), "vpc-b": ()},
    ("vpc", "egress_only_internet_gateway_ids"): {"vpc-a": ("eigw-a",), "vpc-b": ()},
    ("vpc", "nat_gateway_ids"): {"vpc-a": ("nat-1", "nat-private"), "vpc-b": ()},
    ("vpc", "public_nat_gateway_ids"): {"vpc-a": ("nat-1",)},
    ("vpc", "interface_endpoint_services"): {"vpc-a": ("logs", "sqs"), "vpc-b": ()},
    ("vpc", "gateway_endpoint_services"): {"vpc-a": ("s3",)},
    ("vpc", "flow_log_traffic_types"): {"vpc-a": ("ALL", "REJECT"), "vpc-b": ()},
    ("vpc", "subnet_ids"): {"vpc-a": ("subnet-a1", "subnet-a2", "subnet-a3"), "vpc-b": ("subnet-b1",)},
    # subnet-a2 holds only a NAT interface and subnet-a3 only an endpoint's: plumbing, not workloads.
    ("vpc", "workload_availability_zones"): {"vpc-a": ("eu-west-1a",), "vpc-b": ()},
    ("subnet", "has_explicit_route_table"): {"subnet-a1": True, "subnet-a2": False, "subnet-b1": None},
    ("instance", "has_public_ip"): {"i-public": True, "i-private": False, "i-secondary-eip": True},
    ("network_interface", "has_public_ip"): {"eni-nat": True, "eni-app": False, "eni-eip": True},
    ("vpc_endpoint", "subnet_availability_zones"): {
        "vpce-sqs": ("eu-west-1a", "eu-west-1b"), "vpce-s3": (), "vpce-lost": None},
    ("security_group_rule", "port_range"): {"sgr-2": {"from": -1, "to": -1, "protocol": "-1"},
                                            "sgr-1": {"from": 443, "to": 443, "protocol": "tcp"}},
}


@pytest.mark.parametrize("key", sorted(EXPECTED), ids=lambda k: ".".join(k))
def test_derived_values(model: Model, key: tuple[str, str]) -> None:
    type_name, name = key
    for rid, expected in EXPECTED[key].items():
        assert value(model, type_name, rid, name) == expected, rid


def test_vpc_flow_logs_are_the_vpcs_own(model: Model) -> None:
    logs = value(model, "vpc", "vpc-a", "flow_logs")
    assert [f.id for f in logs] == ["fl-all", "fl-broken", "fl-reject"]
    assert value(model, "vpc", "vpc-a", "flow_logs[*].status") == ("ACTIVE", "FAILED", "ACTIVE")


def test_subnet_route_table_and_routes(model: Model) -> None:
    assert value(model, "subnet", "subnet-a1", "route_table.id") == "rtb-public"
    assert value(model, "subnet", "subnet-a2", "route_table.id") == "rtb-main"      # the VPC's main table
    assert value(model, "subnet", "subnet-b1", "route_table") is None                # vpc-b's tables unknown
    assert value(model, "subnet", "subnet-b1", "route_table.routes[*].state") is None
    assert value(model, "subnet", "subnet-b1", "routes") is None
    assert value(model, "subnet", "subnet-a2", "routes[*].target_kind") == ("local", "nat")
    assert value(model, "subnet", "subnet-a1", "route_table.routes[*].target_id")[1] == "igw-a"
    igw_routes = value(model, "subnet", "subnet-a1", "internet_gateway_routes")
    assert all(isinstance(r, Route) for r in igw_routes)
    assert [(r.destination, r.state) for r in igw_routes] == [("0.0.0.0/0", "active"), ("::/0", "blackhole")]
    assert value(model, "subnet", "subnet-a2", "internet_gateway_routes") == ()
    assert value(model, "subnet", "subnet-b1", "internet_gateway_routes") is None


def test_security_group_rules(model: Model) -> None:
    assert [r.id for r in value(model, "security_group", "sg-web", "rules")] == ["sgr-1", "sgr-2"]
    assert value(model, "security_group", "sg-web", "ingress_rules[*].from_port") == (443,)
    assert value(model, "security_group", "sg-web", "egress_rules[*].cidr_ipv4") == ("0.0.0.0/0",)
    assert value(model, "security_group", "sg-empty", "rules") == ()


def test_every_derived_attribute_is_tested() -> None:
    """Each derived attribute is tested here, or read by a built-in rule (whose pass and fail
    fixtures, tests/test_rule_fixtures.py, exercise it)."""
    from auditor.rules.packs import load_packs

    from auditor.rules.pack_checks import message_fields

    rules = load_packs().rules
    paths = [(r.resource, leaf.attr) for r in rules for leaf in r.leaves()]
    paths += [(r.resource, name) for r in rules for name, _ in message_fields(r.message) if name]
    used = {(rtype, path.split(".")[0].split("[")[0]) for rtype, path in paths}
    covered = set(EXPECTED) | used | {("vpc", "flow_logs"), ("subnet", "route_table"), ("subnet", "routes"),
                                      ("subnet", "internet_gateway_routes"), ("security_group", "rules"),
                                      ("security_group", "ingress_rules"), ("security_group", "egress_rules"),
                                      # tests/test_reachability.py tests these with exact paths
                                      ("subnet", "internet_egress_paths_ipv6"), ("subnet", "vpc_paths"),
                                      ("subnet", "reachability_unknowns"), ("subnet", "routing_loops"),
                                      ("network_interface", "internet_egress_paths"),
                                      # tests/test_explanation_codes.py reads it for every code's fixture
                                      ("subnet", "reachability_explanation")}
    assert set(DERIVED) - covered == set()


def test_derived_attributes_need_their_calls() -> None:
    m = build_model([RECORDS[0], RECORDS[1]])   # VPCs and subnets only
    vpc = m.get("vpc", "vpc-a")
    assert vpc is not None
    assert resolve(m, vpc, "subnet_ids").missing == ()
    assert resolve(m, vpc, "flow_logs[*].status").missing == ("ec2:DescribeFlowLogs",)
    assert resolve(m, vpc, "workload_availability_zones").missing == ("ec2:DescribeNetworkInterfaces",)


def test_what_resolving_keeps_dies_with_its_model() -> None:
    m = build_model(RECORDS)
    vpc = m.get("vpc", "vpc-a")
    assert vpc is not None
    for path in ("subnet_ids", "flow_logs[*].status", "workload_availability_zones", "tags.Name"):
        resolved = resolve(m, vpc, path)
        json_of(m, resolved)
    assert resolve(m, vpc, "subnet_ids").value == ("subnet-a1", "subnet-a2", "subnet-a3")
    gone = weakref.ref(m)
    was = gc.isenabled()
    gc.disable()   # as during an evaluation: only reference counting frees the model
    try:
        del m, vpc, resolved
        assert gone() is None, "a cache keeps the model alive"
    finally:
        if was:
            gc.enable()


def test_two_models_never_share_what_resolving_keeps() -> None:
    first, second = build_model(RECORDS), build_model(RECORDS)
    assert first == second          # equal values, two objects
    for m in (first, second):
        vpc = m.get("vpc", "vpc-a")
        assert vpc is not None
        logs = resolve(m, vpc, "flow_logs").value
        assert logs and all(any(log is own for own in m.of("flow_log")) for log in logs), \
            "a value made from the other model"
