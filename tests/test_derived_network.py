"""Derived attributes of the private-network pack (auditor/rules/derived/network.py): the
cases the rule fixtures reach only through a rule's outcome."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.model import build_model
from auditor.model.types import Model, Resource
from auditor.rules.attributes import resolve
from auditor.rules.derived.network import arn_resource
from auditor.snapshot.records import CallRecord

A, B, R = "111111111111", "222222222222", "eu-west-1"


def rec(op: str, page: dict[str, Any], account: str = A, region: str = R) -> CallRecord:
    return CallRecord(account, region, "ec2", op, {}, (page,))


def route(dest: str, state: str = "active", **target: str) -> dict[str, str]:
    return {"DestinationCidrBlock": dest, "State": state, **target}


RECORDS = [
    rec("DescribeVpcs", {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"},
                                  {"VpcId": "vpc-b", "CidrBlock": "10.1.0.0/16"}]}),
    rec("DescribeSubnets", {"Subnets": [
        {"SubnetId": "subnet-mixed", "VpcId": "vpc-a"}, {"SubnetId": "subnet-main", "VpcId": "vpc-a"},
        {"SubnetId": "subnet-lost", "VpcId": "vpc-b"}]}),
    rec("DescribeRouteTables", {"RouteTables": [
        {"RouteTableId": "rtb-mixed", "VpcId": "vpc-a", "Associations": [{"SubnetId": "subnet-mixed"}],
         "Routes": [route("10.0.0.0/16", GatewayId="local"),
                    route("0.0.0.0/0", NatGatewayId="nat-pub"),
                    route("192.168.0.0/16", NatGatewayId="nat-priv"),
                    route("172.16.0.0/12", NatGatewayId="nat-unseen"),
                    route("100.64.0.0/10", "blackhole", NatGatewayId="nat-gone"),
                    route("10.8.0.0/16", InstanceId="i-nat", NetworkInterfaceId="eni-nat"),
                    route("10.9.0.0/16", NetworkInterfaceId="eni-fw"),
                    {"DestinationIpv6CidrBlock": "::/0", "EgressOnlyInternetGatewayId": "eigw-1", "State": "active"},
                    {"DestinationPrefixListId": "pl-1", "GatewayId": "igw-1", "State": "active"},
                    route("203.0.113.0/24", "blackhole", GatewayId="igw-old")]},
        {"RouteTableId": "rtb-main", "VpcId": "vpc-a", "Associations": [{"Main": True}],
         "Routes": [route("10.0.0.0/16", GatewayId="local")]}]}),
    rec("DescribeNatGateways", {"NatGateways": [
        {"NatGatewayId": "nat-pub", "VpcId": "vpc-a", "State": "available"},
        {"NatGatewayId": "nat-priv", "VpcId": "vpc-a", "State": "available", "ConnectivityType": "private"},
        {"NatGatewayId": "nat-priv-pending", "VpcId": "vpc-a", "State": "pending", "ConnectivityType": "private"},
        {"NatGatewayId": "nat-priv-failed", "VpcId": "vpc-a", "State": "failed", "ConnectivityType": "private"}]}),
    rec("DescribeVpcBlockPublicAccessExclusions", {"VpcBlockPublicAccessExclusions": [
        {"ExclusionId": "excl-subnet", "ResourceArn": f"arn:aws:ec2:{R}:{A}:subnet/subnet-main",
         "State": "create-complete", "InternetGatewayExclusionMode": "allow-egress"},
        {"ExclusionId": "excl-vpc", "ResourceArn": f"arn:aws-us-gov:ec2:{R}:{A}:vpc/vpc-a",
         "State": "disable-complete", "InternetGatewayExclusionMode": "allow-bidirectional"},
        {"ExclusionId": "excl-deleted", "ResourceArn": f"arn:aws:ec2:{R}:{A}:vpc/vpc-a", "State": "delete-complete"},
        {"ExclusionId": "excl-other-region", "ResourceArn": f"arn:aws:ec2:us-east-1:{A}:vpc/vpc-a",
         "State": "create-complete"},
        {"ExclusionId": "excl-garbage", "ResourceArn": "vpc/vpc-a", "State": "create-complete"}]}),
    # The same VPC id in another account: its exclusions are not vpc-a's.
    rec("DescribeVpcBlockPublicAccessExclusions", {"VpcBlockPublicAccessExclusions": [
        {"ExclusionId": "excl-b", "ResourceArn": f"arn:aws:ec2:{R}:{B}:vpc/vpc-a", "State": "create-complete"}]},
        account=B),
    rec("DescribeInstances", {"Reservations": [{"Instances": [
        {"InstanceId": "i-eips", "VpcId": "vpc-a", "State": {"Name": "running"}, "PublicIpAddress": "203.0.113.5"},
        {"InstanceId": "i-private", "VpcId": "vpc-a", "State": {"Name": "running"}}]}]}),
    rec("DescribeNetworkInterfaces", {"NetworkInterfaces": [
        {"NetworkInterfaceId": "eni-1", "VpcId": "vpc-a", "Attachment": {"InstanceId": "i-eips"},
         "Association": {"PublicIp": "203.0.113.5"}},
        {"NetworkInterfaceId": "eni-2", "VpcId": "vpc-a", "Attachment": {"InstanceId": "i-eips"},
         "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.0.9", "Association": {"PublicIp": "198.51.100.1"}}]}]}),
    rec("DescribeAddresses", {"Addresses": [
        {"AllocationId": "eipalloc-i", "PublicIp": "203.0.113.5", "InstanceId": "i-eips",
         "NetworkInterfaceId": "eni-1", "AssociationId": "eipassoc-1"},
        {"AllocationId": "eipalloc-eni", "PublicIp": "198.51.100.1", "NetworkInterfaceId": "eni-2",
         "AssociationId": "eipassoc-2"},
        {"AllocationId": "eipalloc-spare", "PublicIp": "198.51.100.2"}]}),
]


@pytest.fixture(scope="module")
def model() -> Model:
    return build_model(RECORDS)


def value(model: Model, type_name: str, rid: str, path: str) -> Any:
    found: Resource | None = model.get(type_name, rid, A, R)
    assert found is not None, rid
    return resolve(model, found, path).value


def test_active_gateway_routes_leave_blackholes_out_and_keep_any_destination(model: Model) -> None:
    assert value(model, "subnet", "subnet-mixed", "active_internet_gateway_routes[*].destination") == ("pl-1",)
    assert value(model, "subnet", "subnet-mixed", "active_egress_only_gateway_routes[*].target_id") == ("eigw-1",)
    assert value(model, "subnet", "subnet-main", "active_internet_gateway_routes") == ()


def test_nat_routes_are_public_or_unseen_nat_gateways(model: Model) -> None:
    # nat-priv is private (PN-005's business); nat-unseen is not in the data: AWS's default is public.
    assert value(model, "subnet", "subnet-mixed", "nat_gateway_routes[*].target_id") == ("nat-pub", "nat-unseen")


def test_appliance_routes_are_instance_and_interface_targets(model: Model) -> None:
    assert value(model, "subnet", "subnet-mixed", "appliance_routes[*].target_id") == ("i-nat", "eni-fw")
    assert value(model, "subnet", "subnet-main", "appliance_routes") == ()


@pytest.mark.parametrize("path", ["active_internet_gateway_routes", "active_egress_only_gateway_routes",
                                  "nat_gateway_routes", "appliance_routes"])
def test_route_attributes_are_unknown_when_the_table_is(model: Model, path: str) -> None:
    lost = model.get("subnet", "subnet-lost", A, R)
    assert lost is not None
    got = resolve(model, lost, path)
    assert got.value is None and got.missing == ()


def test_private_nat_gateways_that_still_forward(model: Model) -> None:
    assert value(model, "vpc", "vpc-a", "private_nat_gateway_ids") == ("nat-priv", "nat-priv-pending")
    assert value(model, "vpc", "vpc-b", "private_nat_gateway_ids") == ()


def test_bpa_exclusions_of_the_vpc_and_its_subnets(model: Model) -> None:
    # Any partition; a disabled exclusion still counts (it may come back); deleted, other regions,
    # other accounts and unreadable ARNs do not.
    assert value(model, "vpc", "vpc-a", "block_public_access_exclusions[*].id") == ("excl-subnet", "excl-vpc")
    assert value(model, "vpc", "vpc-b", "block_public_access_exclusions") == ()


def test_bpa_exclusions_need_the_subnets() -> None:
    m = build_model([r for r in RECORDS if r.operation != "DescribeSubnets"])
    vpc = m.get("vpc", "vpc-a", A, R)
    assert vpc is not None
    assert resolve(m, vpc, "block_public_access_exclusions").missing == ("ec2:DescribeSubnets",)


def test_instance_public_ips_gather_every_interface(model: Model) -> None:
    assert value(model, "instance", "i-eips", "public_ips") == ("198.51.100.1", "203.0.113.5")
    assert value(model, "instance", "i-private", "public_ips") == ()


def test_elastic_ip_attached_to(model: Model) -> None:
    assert value(model, "elastic_ip", "eipalloc-i", "attached_to") == "instance i-eips"
    assert value(model, "elastic_ip", "eipalloc-eni", "attached_to") == "network interface eni-2"
    assert value(model, "elastic_ip", "eipalloc-spare", "attached_to") == "nothing"


def test_arn_resource() -> None:
    assert arn_resource(f"arn:aws:ec2:{R}:{A}:subnet/subnet-1") == (R, "subnet/subnet-1")
    assert arn_resource("arn:aws-cn:ec2:cn-north-1:1:vpc/vpc-1") == ("cn-north-1", "vpc/vpc-1")
    assert arn_resource("vpc/vpc-1") is None and arn_resource("") is None
