"""Scope inheritance (resources take the scope of their VPC) and finding fingerprints."""

from __future__ import annotations

from typing import Any

from auditor.config import Scope, config_from_text
from auditor.findings import EvidenceItem, Finding, ResourceRef
from auditor.model import build_model
from auditor.rules.scope import ScopeIndex, vpcs_of
from auditor.snapshot.records import CallRecord

A, R = "111111111111", "eu-west-1"


def rec(op: str, page: dict[str, Any], service: str = "ec2", region: str = R) -> CallRecord:
    return CallRecord(A, region, service, op, {}, (page,))


MODEL = build_model([
    rec("DescribeVpcs", {"Vpcs": [
        {"VpcId": "vpc-pci", "CidrBlock": "10.1.0.0/16", "Tags": [{"Key": "data-classification", "Value": "pci"}]},
        {"VpcId": "vpc-dev", "CidrBlock": "10.2.0.0/16"}]}),
    rec("DescribeVpcs", {"Vpcs": [{"VpcId": "vpc-other", "CidrBlock": "10.3.0.0/16"}]}, region="us-east-1"),
    rec("DescribeSubnets", {"Subnets": [{"SubnetId": "subnet-p", "VpcId": "vpc-pci"},
                                        {"SubnetId": "subnet-d", "VpcId": "vpc-dev"}]}),
    rec("DescribeInternetGateways", {"InternetGateways": [
        {"InternetGatewayId": "igw-p", "Attachments": [{"VpcId": "vpc-pci", "State": "available"}]},
        {"InternetGatewayId": "igw-loose", "Attachments": []}]}),
    rec("DescribeSecurityGroups", {"SecurityGroups": [{"GroupId": "sg-p", "VpcId": "vpc-pci", "GroupName": "a"}]}),
    rec("DescribeSecurityGroupRules", {"SecurityGroupRules": [{"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-p"}]}),
    rec("DescribeFlowLogs", {"FlowLogs": [{"FlowLogId": "fl-1", "ResourceId": "subnet-d"}]}),
    rec("ListFunctions", {"Functions": [{"FunctionName": "outside"}]}, service="lambda"),
    rec("ListFunctions", {"Functions": [{"FunctionName": "elsewhere"}]}, service="lambda", region="us-east-1"),
])


def scope(text: str) -> ScopeIndex:
    return ScopeIndex(MODEL, config_from_text("version: 1\n" + text).scope)


def test_resources_inherit_the_scope_of_their_vpc() -> None:
    idx = scope("scope: {tags: {data-classification: [pci, phi]}}\n")
    inside = {(r.type_name, r.id) for items in MODEL.resources.values() for r in items if idx.in_scope(r)}
    assert inside == {("vpc", "vpc-pci"), ("subnet", "subnet-p"), ("internet_gateway", "igw-p"),
                      ("security_group", "sg-p"), ("security_group_rule", "sgr-1"),
                      # no VPC of its own: in scope where its account-region holds a regulated VPC
                      ("lambda_function", "outside"), ("internet_gateway", "igw-loose")}


def test_vpc_ids_select_too_and_empty_scope_selects_everything() -> None:
    idx = ScopeIndex(MODEL, Scope(vpc_ids=frozenset({"vpc-dev"})))
    assert idx.in_scope(MODEL.get("vpc", "vpc-dev"))  # type: ignore[arg-type]
    assert idx.in_scope(MODEL.get("flow_log", "fl-1"))  # type: ignore[arg-type]
    assert not idx.in_scope(MODEL.get("subnet", "subnet-p"))  # type: ignore[arg-type]
    assert not idx.in_scope(MODEL.get("lambda_function", "elsewhere"))  # type: ignore[arg-type]
    everything = scope("")
    assert all(everything.in_scope(r) for items in MODEL.resources.values() for r in items)


def test_vpc_of_flow_log_follows_its_target() -> None:
    assert vpcs_of(MODEL, MODEL.get("flow_log", "fl-1")) == ("vpc-dev",)  # type: ignore[arg-type]
    assert vpcs_of(MODEL, MODEL.get("lambda_function", "outside")) is None  # type: ignore[arg-type]


def test_fingerprint_is_stable_and_ignores_status_and_values() -> None:
    res = ResourceRef("vpc", "vpc-pci", A, R)
    a = Finding("PN-001", "critical", "FAIL", res, "m", (EvidenceItem("internet_gateway_ids", ["igw-p"], "is empty", False),))
    b = Finding("PN-001", "critical", "PASS", res, "other", (EvidenceItem("internet_gateway_ids", [], "is empty", True),))
    c = Finding("PN-002", "critical", "FAIL", res, "m", a.evidence)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert len(a.fingerprint) == 20 and a.to_json()["fingerprint"] == a.fingerprint


def test_close_names_are_typos_not_other_words() -> None:
    from auditor.rules.scope import close_to, selector_suggestions

    assert close_to("data-clasification", ["data-classification", "owner"]) == ["data-classification"]
    assert close_to("availabel", ["available", "pending"]) == ["available"]
    assert close_to("PCI", ["pci", "phi"]) == ["pci"]            # a case-only difference is always close
    assert close_to("pci", ["phi", "dev"]) == []                 # another classification, not a typo
    vpcs = [v for v in MODEL.of("vpc")]
    assert selector_suggestions(Scope(tags=(("data-classification", ("pci",)),)), vpcs) == ()
    assert selector_suggestions(Scope(tags=(("data-clasification", ("pci",)),)), vpcs, " here") == (
        "tag key 'data-clasification' is on no VPC here: did you mean 'data-classification'?",)
