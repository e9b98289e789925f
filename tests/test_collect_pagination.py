"""Pagination and response handling of `run_call`, on clients stubbed with botocore's Stubber.

moto mostly ignores MaxResults, so real multi-page answers are stubbed here. The clients
come from the collector's own SessionFactory (its retry config and hooks), but note that a
Stubber answers on ``before-call.*.*``, which botocore runs before the guard's generic
``before-call`` handler: the guard itself is tested in test_guard.py, against moto.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from auditor.collect.calls import run_call
from auditor.collect.redact import Redactor
from auditor.collect.sessions import SessionFactory
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.writer import SnapshotWriter

ACCOUNT = "123456789012"
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def _shared_factory() -> SessionFactory:
    # One factory for the module: it shares botocore's loaded service models between tests
    # (each test still gets a new session and new clients).
    return SessionFactory(max_attempts=1)


@pytest.fixture
def factory(aws_env: None, _shared_factory: SessionFactory) -> SessionFactory:
    return _shared_factory


def stubbed(factory: SessionFactory, service: str) -> tuple[Any, Stubber]:
    client = factory.client(factory.base(), service, REGION)
    return client, Stubber(client)


def subnet(n: int) -> dict[str, Any]:
    return {"SubnetId": f"subnet-{n:08x}", "VpcId": "vpc-0a1b2c3d", "CidrBlock": f"10.0.{n}.0/24",
            "AvailabilityZone": "eu-west-1a", "State": "available", "MapPublicIpOnLaunch": False}


@pytest.fixture
def ec2(factory: SessionFactory) -> Iterator[tuple[Any, Stubber]]:
    client, stub = stubbed(factory, "ec2")
    with stub:
        yield client, stub


def test_describe_subnets_follows_every_page(ec2: tuple[Any, Stubber], tmp_path: Path) -> None:
    client, stub = ec2
    stub.add_response("describe_subnets", {"Subnets": [subnet(1)], "NextToken": "t1"}, {})
    stub.add_response("describe_subnets", {"Subnets": [subnet(2), subnet(3)], "NextToken": "t2"},
                      {"NextToken": "t1"})
    stub.add_response("describe_subnets", {"Subnets": [subnet(4)]}, {"NextToken": "t2"})
    limit = threading.BoundedSemaphore(1)

    rec = run_call(client, ACCOUNT, REGION, "ec2", "DescribeSubnets", {}, limit)

    stub.assert_no_pending_responses()
    assert rec.ok and rec.retries == 0
    assert len(rec.pages) == 3
    assert [s["SubnetId"] for s in rec.items("Subnets")] == [subnet(n)["SubnetId"] for n in (1, 2, 3, 4)]
    assert rec.items("Subnets")[2] == subnet(3)  # kept as AWS sent it
    assert [p.get("NextToken") for p in rec.pages] == ["t1", "t2", None]
    assert all("ResponseMetadata" not in p for p in rec.pages)
    assert limit.acquire(blocking=False)  # the per-service cap was released after every page

    writer = SnapshotWriter(tmp_path / "snap", keep=True)
    writer.add(rec)
    writer.finish({})
    [entry] = writer.manifest["calls"]
    assert entry["pages"] == 3 and entry["status"] == "ok"
    assert load_snapshot(tmp_path / "snap").records == (rec,)


def test_operation_without_paginator_follows_next_token(ec2: tuple[Any, Stubber]) -> None:
    """DescribeVpcBlockPublicAccessExclusions has no botocore paginator, so the collector
    follows NextToken itself. moto does not implement VPC Block Public Access at all (the
    end-to-end tests see it as unsupported), so this is also the test that BPA exclusions
    are collected."""
    client, stub = ec2
    assert not client.can_paginate("describe_vpc_block_public_access_exclusions")
    created = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    ex1 = {"ExclusionId": "vpcbpa-exclude-1", "InternetGatewayExclusionMode": "allow-egress",
           "ResourceArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-0a1b2c3d", "State": "create-complete",
           "CreationTimestamp": created}
    ex2 = {"ExclusionId": "vpcbpa-exclude-2", "InternetGatewayExclusionMode": "allow-bidirectional",
           "ResourceArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-00000001", "State": "create-complete"}
    stub.add_response("describe_vpc_block_public_access_exclusions",
                      {"VpcBlockPublicAccessExclusions": [ex1], "NextToken": "page-2"}, {})
    stub.add_response("describe_vpc_block_public_access_exclusions",
                      {"VpcBlockPublicAccessExclusions": [ex2]}, {"NextToken": "page-2"})

    rec = run_call(client, ACCOUNT, REGION, "ec2", "DescribeVpcBlockPublicAccessExclusions", {})

    stub.assert_no_pending_responses()
    assert rec.ok and len(rec.pages) == 2
    items = rec.items("VpcBlockPublicAccessExclusions")
    assert [i["ExclusionId"] for i in items] == ["vpcbpa-exclude-1", "vpcbpa-exclude-2"]
    assert items[0]["CreationTimestamp"] == "2025-01-02T03:04:05Z"  # JSON, UTC
    assert items[1]["InternetGatewayExclusionMode"] == "allow-bidirectional"


def test_block_public_access_options_recorded(ec2: tuple[Any, Stubber]) -> None:
    """moto cannot answer DescribeVpcBlockPublicAccessOptions; a stubbed answer is recorded
    as one object item."""
    client, stub = ec2
    options = {"AwsAccountId": ACCOUNT, "AwsRegion": REGION, "State": "update-complete",
               "InternetGatewayBlockMode": "block-bidirectional", "Reason": "regulated workloads",
               "LastUpdateTimestamp": dt.datetime(2025, 6, 1, 12, 0, 0, 500000, tzinfo=dt.UTC),
               "ExclusionsAllowed": "allowed"}
    stub.add_response("describe_vpc_block_public_access_options", {"VpcBlockPublicAccessOptions": options}, {})

    rec = run_call(client, ACCOUNT, REGION, "ec2", "DescribeVpcBlockPublicAccessOptions", {})

    stub.assert_no_pending_responses()
    assert rec.ok and len(rec.pages) == 1
    assert rec.items("VpcBlockPublicAccessOptions") == [
        dict(options, LastUpdateTimestamp="2025-06-01T12:00:00.5Z")]


@pytest.mark.parametrize("method,operation,key,item", [
    ("describe_subnets", "DescribeSubnets", "Subnets", subnet(1)),  # botocore paginator
    ("describe_vpc_block_public_access_exclusions", "DescribeVpcBlockPublicAccessExclusions",  # our own loop
     "VpcBlockPublicAccessExclusions", {"ExclusionId": "vpcbpa-exclude-1", "State": "create-complete"}),
])
def test_error_on_second_page_keeps_the_first(ec2: tuple[Any, Stubber], method: str, operation: str, key: str,
                                              item: dict[str, Any]) -> None:
    client, stub = ec2
    stub.add_response(method, {key: [item], "NextToken": "t1"}, {})
    stub.add_client_error(method, service_error_code="UnauthorizedOperation",
                          service_message="You are not authorized to perform this operation.",
                          http_status_code=403, expected_params={"NextToken": "t1"})

    rec = run_call(client, ACCOUNT, REGION, "ec2", operation, {})

    stub.assert_no_pending_responses()
    assert not rec.ok
    assert rec.pages == ({key: [item], "NextToken": "t1"},)
    assert rec.error is not None
    assert (rec.error.kind, rec.error.code, rec.error.message, rec.error.http_status) == (
        "aws", "UnauthorizedOperation", "You are not authorized to perform this operation.", 403)


@pytest.mark.parametrize("tokens", [["t1", "t1"], ["t1", "t2", "t1"]], ids=["repeat", "cycle"])
@pytest.mark.parametrize("method,operation,key", [
    ("describe_subnets", "DescribeSubnets", "Subnets"),
    ("describe_vpc_block_public_access_exclusions", "DescribeVpcBlockPublicAccessExclusions",
     "VpcBlockPublicAccessExclusions"),
])
def test_repeated_token_is_an_error_not_a_loop(ec2: tuple[Any, Stubber], tokens: list[str], method: str,
                                               operation: str, key: str) -> None:
    client, stub = ec2
    previous: str | None = None
    for token in tokens:
        stub.add_response(method, {key: [], "NextToken": token}, {"NextToken": previous} if previous else {})
        previous = token
    # One more answer is queued: the collector must stop before it asks for it.
    stub.add_response(method, {key: []}, {"NextToken": tokens[-1]})

    rec = run_call(client, ACCOUNT, REGION, "ec2", operation, {})

    assert len(stub._queue) == 1  # noqa: SLF001 - the spare answer was never requested
    assert len(rec.pages) == len(tokens)
    assert rec.error is not None
    assert (rec.error.kind, rec.error.code) == ("aws", "PaginationError")
    assert "twice" in rec.error.message


def test_search_transit_gateway_routes_truncated(ec2: tuple[Any, Stubber]) -> None:
    client, stub = ec2
    params = {"TransitGatewayRouteTableId": "tgw-rtb-0123456789abcdef0",
              "Filters": [{"Name": "state", "Values": ["active", "blackhole"]}]}
    routes = [{"DestinationCidrBlock": f"10.{n}.0.0/16", "Type": "propagated", "State": "active"}
              for n in range(3)]
    stub.add_response("search_transit_gateway_routes", {"Routes": routes, "AdditionalRoutesAvailable": True},
                      params)

    rec = run_call(client, ACCOUNT, REGION, "ec2", "SearchTransitGatewayRoutes", params)

    stub.assert_no_pending_responses()
    assert rec.items("Routes") == routes  # what AWS did return is kept
    assert rec.error is not None
    assert (rec.error.kind, rec.error.code) == ("truncated", "AdditionalRoutesAvailable")
    assert rec.params == params


def test_search_transit_gateway_routes_complete(ec2: tuple[Any, Stubber]) -> None:
    client, stub = ec2
    params = {"TransitGatewayRouteTableId": "tgw-rtb-0123456789abcdef0",
              "Filters": [{"Name": "state", "Values": ["active", "blackhole"]}]}
    stub.add_response("search_transit_gateway_routes", {"Routes": [], "AdditionalRoutesAvailable": False}, params)
    rec = run_call(client, ACCOUNT, REGION, "ec2", "SearchTransitGatewayRoutes", params)
    assert rec.ok and rec.pages == ({"Routes": [], "AdditionalRoutesAvailable": False},)


def test_classic_elb_marker_paging(factory: SessionFactory) -> None:
    client, stub = stubbed(factory, "elb")

    def lb(name: str) -> dict[str, Any]:
        return {"LoadBalancerName": name, "DNSName": f"{name}.elb.amazonaws.com", "Scheme": "internal",
                "VPCId": "vpc-0a1b2c3d", "Subnets": ["subnet-00000001"]}

    with stub:
        stub.add_response("describe_load_balancers", {"LoadBalancerDescriptions": [lb("a"), lb("b")],
                                                      "NextMarker": "m1"}, {})
        stub.add_response("describe_load_balancers", {"LoadBalancerDescriptions": [lb("c")]}, {"Marker": "m1"})
        rec = run_call(client, ACCOUNT, REGION, "elb", "DescribeLoadBalancers", {})
        stub.assert_no_pending_responses()
    assert rec.ok and len(rec.pages) == 2
    assert [x["LoadBalancerName"] for x in rec.items("LoadBalancerDescriptions")] == ["a", "b", "c"]


def test_eks_next_token_paging(factory: SessionFactory) -> None:
    client, stub = stubbed(factory, "eks")
    with stub:
        stub.add_response("list_clusters", {"clusters": ["alpha", "beta"], "nextToken": "n1"}, {})
        stub.add_response("list_clusters", {"clusters": ["gamma"], "nextToken": "n2"}, {"nextToken": "n1"})
        stub.add_response("list_clusters", {"clusters": []}, {"nextToken": "n2"})
        rec = run_call(client, ACCOUNT, REGION, "eks", "ListClusters", {})
        stub.assert_no_pending_responses()
    assert rec.ok and len(rec.pages) == 3
    assert rec.items("clusters") == ["alpha", "beta", "gamma"]


def test_single_object_response_and_params(factory: SessionFactory) -> None:
    """A per-resource call (eks:DescribeCluster) keeps its params and its one object."""
    client, stub = stubbed(factory, "eks")
    cluster = {"name": "alpha", "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/alpha",
               "resourcesVpcConfig": {"subnetIds": ["subnet-00000001"], "endpointPublicAccess": False,
                                      "endpointPrivateAccess": True}}
    with stub:
        stub.add_response("describe_cluster", {"cluster": cluster}, {"name": "alpha"})
        rec = run_call(client, ACCOUNT, REGION, "eks", "DescribeCluster", {"name": "alpha"},
                       redactor=Redactor(b"k" * 32))
    assert rec.ok and rec.params == {"name": "alpha"}
    assert rec.items("cluster") == [cluster]  # no connector: nothing to redact
    assert rec.record_id.startswith(f"{ACCOUNT}/{REGION}/eks/DescribeCluster~alpha~")


def test_unexpected_exception_is_recorded_not_raised(factory: SessionFactory) -> None:
    """Whatever a call raises becomes a recorded error; an exception that is neither AWS's
    nor botocore's is recorded as ours (kind internal)."""
    client = factory.client(factory.base(), "ec2", REGION)

    def broken(**_: Any) -> None:
        raise ValueError("bug in a hook")

    client.meta.events.register("before-call.ec2.DescribeVpcs", broken)
    rec = run_call(client, ACCOUNT, REGION, "ec2", "DescribeVpcs", {})
    assert rec.error is not None and rec.pages == ()
    assert (rec.error.kind, rec.error.code, rec.error.message) == ("internal", "ValueError", "bug in a hook")


def test_unreachable_endpoint_is_a_network_error(factory: SessionFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")  # nothing listens on port 1
    client = factory.client(factory.base(), "ec2", REGION)
    rec = run_call(client, ACCOUNT, REGION, "ec2", "DescribeVpcs", {})
    assert rec.error is not None and rec.pages == ()
    assert (rec.error.kind, rec.error.code) == ("network", "EndpointConnectionError")
    assert "127.0.0.1:1" in rec.error.message
