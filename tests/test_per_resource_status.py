"""Per-resource collection status (issue 10, item 4): a per-resource call (catalogue
`for_each`: eks DescribeCluster per cluster, ec2 DescribeVpcAttribute per VPC) denied for one
resource makes that resource ERROR, with its own id and ARN, and leaves its neighbours assessed
as usual; no `*` finding says the type "could not be listed" when the listing succeeded."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse

from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.config import Scope
from auditor.model import build_model
from auditor.rules.engine import evaluate_rules
from auditor.rules.fixtures import ACCOUNT, REGION, Case, records_for
from auditor.rules.packs import load_packs
from auditor.snapshot.records import CallError, CallRecord
from auditor.snapshot.writer import SnapshotWriter

from conftest import HOME_ACCOUNT, Injector, assumed_client, make_config

TODAY = date(2026, 3, 1)


class _Body:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def eks_denied(request: Any, n: int) -> AWSResponse:
    """An EKS (REST-JSON protocol) AccessDeniedException, as AWS answers it."""
    body = json.dumps({"message": "User is not authorized to perform: eks:DescribeCluster"}).encode()
    return AWSResponse(request.url, 403, {"x-amzn-ErrorType": "AccessDeniedException:",
                                          "Content-Type": "application/json"}, _Body(body))


def test_one_denied_cluster_does_not_poison_its_neighbour(moto_aws: None, tmp_path: Path) -> None:
    eks = assumed_client("eks", HOME_ACCOUNT, "us-east-1")
    for name in ("alpha", "beta"):   # moto does not check the subnets: no network needed (faster)
        eks.create_cluster(name=name, roleArn=f"arn:aws:iam::{HOME_ACCOUNT}:role/eks",
                           resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]})
    # Deny DescribeCluster for the cluster named beta only (its name is the URL's last segment).
    deny = Injector("before-send.eks.DescribeCluster", eks_denied,
                    match=lambda request: request.url.rstrip("/").endswith("/clusters/beta"))
    factory = SessionFactory(max_attempts=2, hooks=[deny])
    result = collect(make_config([(HOME_ACCOUNT, None)], ("us-east-1",)), factory,
                     SnapshotWriter(tmp_path / "snap", keep=True))
    assert len(deny.seen) == 1
    [error] = [e for e in result.manifest["errors"] if e["operation"] == "DescribeCluster"]
    assert error["params"] == {"name": "beta"}

    model = build_model(result.records)
    packs = load_packs()
    ev = evaluate_rules(model, packs, Scope(), today=TODAY)
    eks_rules = {r.id for r in packs.rules if r.resource == "eks_cluster"}
    found = [f for f in ev.findings if f.rule_id in eks_rules]
    beta = [f for f in found if f.resource.id == "beta"]
    alpha = [f for f in found if f.resource.id == "alpha"]
    # beta: its own ERROR for every eks rule, with its id and ARN and the cause
    assert {f.rule_id for f in beta} == eks_rules and all(f.status == "ERROR" for f in beta)
    assert {f.resource.arn for f in beta} == {f"arn:aws:eks:us-east-1:{HOME_ACCOUNT}:cluster/beta"}
    assert all("eks:DescribeCluster failed for this eks_cluster (AccessDeniedException" in f.message for f in beta)
    # alpha: assessed as usual (its own call succeeded)
    assert {f.rule_id for f in alpha} == eks_rules
    assert not [f for f in alpha if "eks:DescribeCluster" in f.message], [f.message for f in alpha]
    # and no "*" finding claims eks clusters could not be listed
    assert not [f for f in found if f.resource.id == "*"]
    assert not [g for g in ev.gaps if any("eks:" in c for c in g.calls)]


def _vpc_attribute(vpc_id: str, attribute: str, error: bool = False) -> CallRecord:
    params = {"VpcId": vpc_id, "Attribute": attribute}
    if error:
        return CallRecord(ACCOUNT, REGION, "ec2", "DescribeVpcAttribute", params, (),
                          CallError("aws", "UnauthorizedOperation", "not authorized", 403))
    key = "EnableDnsSupport" if attribute == "enableDnsSupport" else "EnableDnsHostnames"
    return CallRecord(ACCOUNT, REGION, "ec2", "DescribeVpcAttribute", params, ({key: {"Value": True}},))


def test_a_vpc_whose_attribute_call_failed_is_the_only_error() -> None:
    """A hand-written snapshot: DescribeVpcAttribute denied for vpc-b only. vpc-a's DNS rule
    passes, vpc-b's is ERROR naming its own failure, and rules that do not read DNS settings
    are unaffected for both."""
    vpcs = {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}, {"VpcId": "vpc-b", "CidrBlock": "10.1.0.0/16"}]}
    base = [r for r in records_for(Case(rule="", name="dns", file="", line=0, calls={"ec2:DescribeVpcs": vpcs}))
            if r.operation != "DescribeVpcAttribute"]
    attrs = [_vpc_attribute("vpc-a", "enableDnsSupport"), _vpc_attribute("vpc-a", "enableDnsHostnames"),
             _vpc_attribute("vpc-b", "enableDnsSupport", error=True), _vpc_attribute("vpc-b", "enableDnsHostnames")]
    model = build_model(base + attrs)
    assert model.coverage.collected(ACCOUNT, REGION, "ec2", "DescribeVpcAttribute")
    assert dict(model.coverage.failed_for(ACCOUNT, REGION, "ec2", "DescribeVpcAttribute")) == {
        "vpc-b": "UnauthorizedOperation: not authorized"}
    packs = load_packs()
    ev = evaluate_rules(model, packs, Scope(), today=TODAY)
    dns_rules = {r.id for r in packs.rules if r.resource == "vpc" and any(
        leaf.attr in ("dns_support", "dns_hostnames") for leaf in r.leaves())}
    assert dns_rules, "a built-in rule reads the VPC DNS settings"
    got = {(f.rule_id, f.resource.id): f for f in ev.findings}
    for rule in dns_rules:
        assert got[(rule, "vpc-a")].status in ("PASS", "FAIL")
        assert got[(rule, "vpc-b")].status == "ERROR"
        assert "ec2:DescribeVpcAttribute (failed for this vpc: UnauthorizedOperation" in got[(rule, "vpc-b")].message
    others = [f for (rule, vpc), f in got.items() if vpc == "vpc-b" and rule not in dns_rules]
    assert others and not [f for f in others if "DescribeVpcAttribute" in f.message]
    assert not [f for f in ev.findings if f.resource.id == "*"]


def test_a_per_resource_call_not_attempted_is_still_a_whole_region_gap() -> None:
    """When the listing a per-resource call runs over failed, nothing says which resources
    exist: the `*` ERROR stays (the per-resource status only narrows calls made per resource)."""
    recs = [r for r in records_for(Case(rule="", name="eks", file="", line=0, calls={}, failed=("eks:ListClusters",)))
            if r.operation != "DescribeCluster"]
    recs.append(CallRecord(ACCOUNT, REGION, "eks", "DescribeCluster", {}, (),
                           CallError("not_attempted", "NotAttempted", "it runs per item of eks:ListClusters")))
    model = build_model(recs)
    packs = load_packs()
    ev = evaluate_rules(model, packs, Scope(), today=TODAY)
    stars = {f.rule_id for f in ev.findings if f.resource.id == "*" and f.status == "ERROR"}
    assert {r.id for r in packs.rules if r.resource == "eks_cluster"} <= stars


def _eks_records(vpcs: dict[str, Any], denied: str = "beta") -> list[CallRecord]:
    subnets = {"Subnets": [{"SubnetId": "subnet-pci", "VpcId": "vpc-pci", "CidrBlock": "10.0.1.0/24"}]}
    base = [r for r in records_for(Case(rule="", name="eks", file="", line=0, calls={
        "ec2:DescribeVpcs": vpcs, "ec2:DescribeSubnets": subnets,
        "eks:ListClusters": {"clusters": ["alpha", denied]}})) if r.operation != "DescribeCluster"]
    alpha = {"cluster": {"name": "alpha", "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/alpha",
                         "resourcesVpcConfig": {"subnetIds": ["subnet-pci"], "vpcId": "vpc-pci",
                                                "endpointPublicAccess": False, "endpointPrivateAccess": True}}}
    return base + [
        CallRecord(ACCOUNT, REGION, "eks", "DescribeCluster", {"name": "alpha"}, (alpha,)),
        CallRecord(ACCOUNT, REGION, "eks", "DescribeCluster", {"name": denied}, (),
                   CallError("aws", "AccessDeniedException", "not authorized", 403))]


def test_with_a_tag_scope_the_denied_cluster_is_reported_where_its_region_is_in_scope() -> None:
    """Its VPC is unknown, so it may be regulated: ERROR (saying so) in an account-region
    that holds in-scope VPCs; none where the scope selects no VPC."""
    tagged = {"Vpcs": [{"VpcId": "vpc-pci", "CidrBlock": "10.0.0.0/16",
                        "Tags": [{"Key": "data-classification", "Value": "pci"}]}]}
    packs = load_packs()
    scope = Scope(tags=(("data-classification", ("pci",)),))
    ev = evaluate_rules(build_model(_eks_records(tagged)), packs, scope, today=TODAY)
    beta = [f for f in ev.findings if f.resource.id == "beta"]
    assert beta and all(f.status == "ERROR" and "whether it is in scope, is unknown" in f.message for f in beta)
    assert [f for f in ev.findings if f.resource.id == "alpha" and f.rule_id == "EKS-001"][0].status == "PASS"
    other = Scope(tags=(("data-classification", ("phi",)),))
    ev = evaluate_rules(build_model(_eks_records(tagged)), packs, other, today=TODAY)
    assert not [f for f in ev.findings if f.resource.id in ("alpha", "beta")]


def test_a_value_derived_across_resources_is_unknown_where_one_resource_call_failed() -> None:
    """Routes of one TGW route table not collected: that table's routes are unknown, and a
    subnet's reachability (which may pass through it) is missing the call, naming the table."""
    from auditor.rules.attributes import resolve

    tables = {"TransitGatewayRouteTables": [{"TransitGatewayRouteTableId": t, "TransitGatewayId": "tgw-1"}
                                            for t in ("tgw-rtb-1", "tgw-rtb-2")]}
    subnets = {"Subnets": [{"SubnetId": "subnet-a", "VpcId": "vpc-a", "CidrBlock": "10.0.1.0/24"}]}
    recs = [r for r in records_for(Case(rule="", name="tgw", file="", line=0, calls={
        "ec2:DescribeTransitGatewayRouteTables": tables, "ec2:DescribeSubnets": subnets,
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]}}))
        if r.operation != "SearchTransitGatewayRoutes"]
    recs += [CallRecord(ACCOUNT, REGION, "ec2", "SearchTransitGatewayRoutes",
                        {"TransitGatewayRouteTableId": "tgw-rtb-1", "Filters": []}, ({"Routes": []},)),
             CallRecord(ACCOUNT, REGION, "ec2", "SearchTransitGatewayRoutes",
                        {"TransitGatewayRouteTableId": "tgw-rtb-2", "Filters": []}, (),
                        CallError("aws", "UnauthorizedOperation", "not authorized", 403))]
    model = build_model(recs)
    table1, table2 = (model.get("transit_gateway_route_table", t) for t in ("tgw-rtb-1", "tgw-rtb-2"))
    assert table1 is not None and table2 is not None
    assert resolve(model, table1, "routes").missing == ()
    assert resolve(model, table2, "routes").missing == (
        "ec2:SearchTransitGatewayRoutes (failed for this transit_gateway_route_table: UnauthorizedOperation: "
        "not authorized)",)
    subnet = model.get("subnet", "subnet-a")
    assert subnet is not None
    assert "ec2:SearchTransitGatewayRoutes (failed for tgw-rtb-2)" in resolve(model, subnet,
                                                                             "internet_egress_paths").missing
