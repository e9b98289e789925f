"""Derived attributes of the endpoints, endpoint-policies and private-eks packs
(auditor/rules/derived/endpoints.py): values and declared data needs, for the cases the
rule fixtures reach only through a rule's outcome."""

from __future__ import annotations

import json
from typing import Any

import pytest

from auditor.model import build_model
from auditor.model.types import Model, Resource
from auditor.rules.attributes import DERIVED, resolve
from auditor.rules.derived import endpoints
from auditor.snapshot.records import CallRecord

A, R = "111111111111", "eu-west-1"


def rec(op: str, page: dict[str, Any], service: str = "ec2", params: dict[str, Any] | None = None) -> CallRecord:
    return CallRecord(A, R, service, op, params or {}, (page,))


def endpoint(eid: str, policy: Any = None, *, raw_policy: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"VpcEndpointId": eid, "VpcId": "vpc-a", "VpcEndpointType": "Interface",
                           "State": "available", "ServiceName": f"com.amazonaws.{R}.sqs", **extra}
    if policy is not None:
        out["PolicyDocument"] = json.dumps(policy)
    if raw_policy is not None:
        out["PolicyDocument"] = raw_policy
    return out


ALLOW_ALL = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
POLICIES: dict[str, tuple[Any, bool | None, tuple[str, ...] | None]] = {
    # endpoint id: (policy, policy_is_default_full_access, policy_allow_not_elements)
    "vpce-none": (None, True, ()),
    "vpce-default": ({"Statement": [ALLOW_ALL]}, True, ()),
    "vpce-object": ({"Version": "2012-10-17", "Statement": ALLOW_ALL}, True, ()),
    "vpce-aws-star": ({"Statement": [{**ALLOW_ALL, "Principal": {"AWS": "*"}}]}, True, ()),
    "vpce-aws-list": ({"Statement": [{**ALLOW_ALL, "Principal": {"AWS": ["arn:aws:iam::1:root", "*"]}}]}, True, ()),
    "vpce-no-principal": ({"Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}]}, True, ()),
    "vpce-empty-condition": ({"Statement": [{**ALLOW_ALL, "Condition": {"StringEquals": {}}}]}, True, ()),
    "vpce-lowercase-effect": ({"Statement": [{**ALLOW_ALL, "Effect": "allow"}]}, True, ()),
    "vpce-org": ({"Statement": [{**ALLOW_ALL, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}]},
                 False, ()),
    "vpce-service-principal": ({"Statement": [{**ALLOW_ALL, "Principal": {"Service": "*"}}]}, False, ()),
    "vpce-narrow-action": ({"Statement": [{**ALLOW_ALL, "Action": "sqs:*"}]}, False, ()),
    "vpce-with-deny": ({"Statement": [ALLOW_ALL, {"Effect": "Deny", "Principal": "*", "Action": "sqs:Delete*",
                                                  "Resource": "*"}]}, False, ()),
    "vpce-empty": ({"Statement": []}, False, ()),
    "vpce-not-action": ({"Statement": [{"Sid": "S", "Effect": "Allow", "Principal": "*", "NotAction": "iam:*",
                                        "Resource": "*"}]}, False, ("statement 0 (Sid S): NotAction",)),
    "vpce-deny-not": ({"Statement": [{"Effect": "Deny", "Principal": "*", "NotAction": "sqs:*",
                                      "NotResource": "*"}]}, False, ()),
    "vpce-not-json": ("{", None, None),
    "vpce-not-a-policy": ([1, 2], None, None),
    "vpce-bad-statement": ({"Statement": [ALLOW_ALL, "x"]}, None, None),
}


def _endpoints() -> list[dict[str, Any]]:
    out = []
    for eid, (policy, _, _) in POLICIES.items():
        out.append(endpoint(eid, raw_policy=policy) if isinstance(policy, str) else endpoint(eid, policy))
    return out


RECORDS = [
    rec("DescribeVpcs", {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.1.0.0/16"}]}),
    rec("DescribeSubnets", {"Subnets": [
        {"SubnetId": "subnet-a", "VpcId": "vpc-a", "CidrBlock": "10.1.1.0/24", "AvailabilityZone": "eu-west-1a"},
        {"SubnetId": "subnet-b", "VpcId": "vpc-a", "CidrBlock": "10.1.2.0/24", "AvailabilityZone": "eu-west-1b"},
        {"SubnetId": "subnet-v6", "VpcId": "vpc-a", "AvailabilityZone": "eu-west-1b",
         "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2001:db8:1:2::/64"}]}]}),
    rec("DescribeNetworkInterfaces", {"NetworkInterfaces": [
        {"NetworkInterfaceId": "eni-a", "VpcId": "vpc-a", "SubnetId": "subnet-a", "InterfaceType": "interface",
         "Groups": [{"GroupId": "sg-app"}]},
        {"NetworkInterfaceId": "eni-b", "VpcId": "vpc-a", "SubnetId": "subnet-b", "InterfaceType": "interface"},
        {"NetworkInterfaceId": "eni-v6", "VpcId": "vpc-a", "SubnetId": "subnet-v6", "InterfaceType": "interface"},
        {"NetworkInterfaceId": "eni-nat", "VpcId": "vpc-a", "SubnetId": "subnet-b", "InterfaceType": "nat_gateway"}]}),
    rec("DescribeSecurityGroups", {"SecurityGroups": [{"GroupId": "sg-vpce", "VpcId": "vpc-a", "GroupName": "e"}]}),
    rec("DescribeSecurityGroupRules", {"SecurityGroupRules": [
        {"SecurityGroupRuleId": "sgr-v4", "GroupId": "sg-vpce", "IsEgress": False, "IpProtocol": "tcp",
         "FromPort": 443, "ToPort": 443, "CidrIpv4": "10.1.1.0/24"},
        {"SecurityGroupRuleId": "sgr-v6", "GroupId": "sg-vpce", "IsEgress": False, "IpProtocol": "tcp",
         "FromPort": 443, "ToPort": 443, "CidrIpv6": "2001:db8:1::/48"},
        {"SecurityGroupRuleId": "sgr-half", "GroupId": "sg-vpce", "IsEgress": False, "IpProtocol": "tcp",
         "FromPort": 443, "ToPort": 443, "CidrIpv4": "0.0.0.0/1"},
        {"SecurityGroupRuleId": "sgr-out", "GroupId": "sg-vpce", "IsEgress": True, "IpProtocol": "-1",
         "CidrIpv4": "0.0.0.0/0"}]}),
    rec("DescribeVpcEndpoints", {"VpcEndpoints": [
        *_endpoints(),
        endpoint("vpce-sg", SubnetIds=["subnet-a", "subnet-b"], Groups=[{"GroupId": "sg-vpce"}]),
        endpoint("vpce-custom", ServiceName=f"com.amazonaws.vpce.{R}.vpce-svc-0123"),
        endpoint("vpce-notebook", ServiceName=f"aws.sagemaker.{R}.notebook")]}),
]


@pytest.fixture(scope="module")
def model() -> Model:
    return build_model(RECORDS)


def value(model: Model, type_name: str, rid: str, path: str) -> Any:
    found: Resource | None = model.get(type_name, rid, A, R)
    assert found is not None, rid
    resolved = resolve(model, found, path)
    assert resolved.missing == (), resolved.missing
    return resolved.value


@pytest.mark.parametrize("eid", sorted(POLICIES))
def test_policy_shapes(model: Model, eid: str) -> None:
    _, default, not_elements = POLICIES[eid]
    assert value(model, "vpc_endpoint", eid, "policy_is_default_full_access") is default
    assert value(model, "vpc_endpoint", eid, "policy_allow_not_elements") == not_elements


def test_aws_services_are_told_from_customer_services(model: Model) -> None:
    assert value(model, "vpc_endpoint", "vpce-default", "is_aws_service") is True
    assert value(model, "vpc_endpoint", "vpce-notebook", "is_aws_service") is True
    assert value(model, "vpc_endpoint", "vpce-custom", "is_aws_service") is False


def test_https_admission_by_family_and_internet_sources(model: Model) -> None:
    # subnet-a is admitted by its IPv4 CIDR, the IPv6-only subnet by its IPv6 CIDR, subnet-b
    # by 0.0.0.0/1 (10.1.2.0/24 lies inside it).
    assert value(model, "vpc_endpoint", "vpce-sg", "workload_subnets_not_admitted_on_443") == ()
    # A /1 is not the whole internet: only a /0 counts.
    assert value(model, "vpc_endpoint", "vpce-sg", "internet_ingress_rule_ids") == ()
    assert value(model, "vpc_endpoint", "vpce-sg", "vpc_workload_availability_zones") == ("eu-west-1a", "eu-west-1b")
    assert value(model, "vpc_endpoint", "vpce-sg", "missing_workload_availability_zones") == ()
    assert value(model, "vpc_endpoint", "vpce-sg", "availability_zone_count") == 2


def test_port_and_protocol_reading() -> None:
    from auditor.model.types import SecurityGroupRule, SourceRef

    def rule(protocol: str, low: int | None, high: int | None) -> SecurityGroupRule:
        return SecurityGroupRule(id="sgr", account=A, region=R, source=SourceRef("r", "/"), protocol=protocol,
                                 from_port=low, to_port=high)

    assert endpoints._allows_https(rule("-1", -1, -1))
    assert endpoints._allows_https(rule("tcp", 443, 443))
    assert endpoints._allows_https(rule("6", 400, 500))
    assert endpoints._allows_https(rule("tcp", None, None))
    assert not endpoints._allows_https(rule("tcp", 444, 8443))
    assert not endpoints._allows_https(rule("udp", 443, 443))
    assert not endpoints._allows_https(rule("icmp", -1, -1))


def test_attributes_need_their_calls() -> None:
    # Every attribute of this module names the call listing its own resource type.
    own = {"vpc_endpoint": ("ec2", "DescribeVpcEndpoints"), "subnet": ("ec2", "DescribeSubnets"),
           "eks_cluster": ("eks", "DescribeCluster")}
    mine = [d for d in DERIVED.values() if d.fn.__module__ == endpoints.__name__]
    assert len(mine) >= 10
    for d in mine:
        assert own[d.resource_type] in d.requires, d.name
    # Without security group rules the SG attributes are missing, not empty.
    m = build_model([r for r in RECORDS if r.operation != "DescribeSecurityGroupRules"])
    found = m.get("vpc_endpoint", "vpce-sg", A, R)
    assert found is not None
    for path in ("workload_subnets_not_admitted_on_443", "internet_ingress_rule_ids"):
        assert "ec2:DescribeSecurityGroupRules" in resolve(m, found, path).missing
