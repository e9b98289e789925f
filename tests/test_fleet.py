"""The fleet's generated estate and its wire formats (auditor/emulate/fleet.py, wire.py).

Faithfulness to AWS's shapes is checked with botocore's own response parser: every reply
the fleet can send for every call of the collector's catalogue (generated answers in full
and empty, and an answer with every member of the output shape filled) is parsed back by
`botocore.parsers.create_parser(protocol)` and must give exactly the dict it was made from.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from botocore.parsers import create_parser

from auditor.collect.catalog import regional_calls
from auditor.emulate.fleet import Fleet, FleetError, paginate
from auditor.emulate.wire import Reply, Wire, WireError
from auditor.snapshot.records import jsonable

ACCOUNT_CALLS = (("sts", "GetCallerIdentity"), ("sts", "AssumeRole"), ("organizations", "ListAccounts"),
                 ("ec2", "DescribeRegions"))


@pytest.fixture(scope="module")
def wire() -> Wire:
    return Wire()


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return Fleet(6, 3, seed=7)


def _headers(reply: Reply) -> dict[str, str]:
    """Headers as botocore's HTTP layer hands them to the parser (names are case-insensitive)."""
    return {k.lower(): v for k, v in reply.headers.items()}


def parse(wire: Wire, service: str, operation: str, reply: Reply) -> dict[str, Any]:
    op = wire.models[service].operation_model(operation)
    parsed: dict[str, Any] = create_parser(wire.protocol(service)).parse(
        {"status_code": reply.status, "headers": _headers(reply), "body": reply.body}, op.output_shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


def answer(wire: Wire, fleet: Fleet, account: str, region: str, service: str, operation: str,
           params: dict[str, Any]) -> dict[str, Any]:
    op = wire.models[service].operation_model(operation)
    members = {k: v.type_name for k, v in op.output_shape.members.items()}
    return fleet.answer(account, region, service, operation, params, members,
                        wire.paginators[service].get(operation))


def calls_of(fleet: Fleet, account: str, region: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every call the collector makes in one account-region: per-item calls once per item."""
    _, index = fleet.region(account, region)
    out = []
    for spec in regional_calls():
        if spec.for_each is None:
            out.append((spec.service, spec.operation, {}))
        else:
            out += [(spec.service, spec.operation, dict(key)) for svc, op, key in index
                    if (svc, op) == (spec.service, spec.operation)]
    return out


def test_every_generated_reply_parses_back_to_the_generated_answer(wire: Wire, fleet: Fleet) -> None:
    filled: Counter[tuple[str, str]] = Counter()
    checked = 0
    for account in fleet.accounts:
        for region in fleet.regions:
            for service, operation, params in calls_of(fleet, account, region):
                data = answer(wire, fleet, account, region, service, operation, params)
                assert jsonable(parse(wire, service, operation, wire.reply(service, operation, data))) == data, (
                    service, operation, account, region)
                checked += 1
                filled[(service, operation)] += any(v for v in data.values())
    # The estate fills the catalogue: everything but what this mix never has.
    never = {(s.service, s.operation) for s in regional_calls()} - {k for k, n in filled.items() if n}
    assert never == {("ec2", "DescribeEgressOnlyInternetGateways"), ("ec2", "DescribeCarrierGateways"),
                     ("ec2", "DescribeVpcBlockPublicAccessExclusions")} | (never & {("elb", "DescribeLoadBalancers")})
    assert checked > 300


def _example(shape: Any, depth: int = 0) -> Any:
    """A value for `shape` with every member set (lists of two), as the collector records it."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 7:
            return {}
        return {name: _example(member, depth + 1) for name, member in shape.members.items()
                if not member.serialization.get("location")}
    if kind == "list":
        return [_example(shape.member, depth + 1) for _ in range(2)] if depth <= 7 else []
    if kind == "map":
        return {"k1": _example(shape.value, depth + 1), "k2": _example(shape.value, depth + 1)}
    if kind == "string":
        return shape.enum[-1] if shape.enum else f"text <{shape.name}> & more"
    if kind == "boolean":
        return depth % 2 == 0
    if kind in ("integer", "long"):
        return 7 + depth
    if kind in ("float", "double"):
        return 2.5
    if kind == "timestamp":
        return "2025-01-02T03:04:05Z"
    raise AssertionError(f"no example for {kind}")


@pytest.mark.parametrize("call", sorted({(s.service, s.operation) for s in regional_calls()} | set(ACCOUNT_CALLS)),
                         ids=lambda c: f"{c[0]}:{c[1]}")
def test_every_member_of_every_output_shape_round_trips(wire: Wire, call: tuple[str, str]) -> None:
    service, operation = call
    shape = wire.models[service].operation_model(operation).output_shape
    full = _example(shape)
    assert jsonable(parse(wire, service, operation, wire.reply(service, operation, full))) == full
    assert parse(wire, service, operation, wire.reply(service, operation, {})) == {}


def test_the_account_calls_round_trip(wire: Wire, fleet: Fleet) -> None:
    member = fleet.accounts[3]
    role = f"arn:aws:iam::{member}:role/AuditorReadOnly"
    for service, operation, params, caller in (
            ("sts", "GetCallerIdentity", {}, fleet.management), ("sts", "GetCallerIdentity", {}, member),
            ("sts", "AssumeRole", {"RoleArn": role, "RoleSessionName": "s"}, fleet.management),
            ("organizations", "ListAccounts", {"MaxResults": 4}, fleet.management),
            ("ec2", "DescribeRegions", {}, member)):
        data = fleet.account_call(caller, service, operation, params)
        assert jsonable(parse(wire, service, operation, wire.reply(service, operation, data))) == data
    creds = fleet.account_call(fleet.management, "sts", "AssumeRole", {"RoleArn": role})["Credentials"]
    assert fleet.account_of(creds["AccessKeyId"]) == member
    assert fleet.account_of("AKIAANYTHINGELSE") == fleet.management
    with pytest.raises(FleetError) as denied:
        fleet.account_call(fleet.management, "sts", "AssumeRole", {"RoleArn": "arn:aws:iam::999999999999:role/x"})
    assert (denied.value.code, denied.value.status) == ("AccessDenied", 403)
    with pytest.raises(FleetError) as member_lists:
        fleet.account_call(member, "organizations", "ListAccounts", {})
    assert member_lists.value.code == "AccessDeniedException"


@pytest.mark.parametrize("service,code,status", [
    ("ec2", "RequestLimitExceeded", 503), ("ec2", "InvalidVpcID.NotFound", 400), ("sts", "AccessDenied", 403),
    ("rds", "DBInstanceNotFound", 404), ("elbv2", "Throttling", 400), ("elb", "AccessDenied", 403),
    ("organizations", "AccessDeniedException", 400), ("eks", "ResourceNotFoundException", 404),
    ("lambda", "TooManyRequestsException", 429)])
def test_error_replies_parse_to_their_code(wire: Wire, service: str, code: str, status: int) -> None:
    reply = wire.error(service, code, "it <failed> & said why", status, "req-1")
    op = next(iter(wire.models[service].operation_names))
    parsed = create_parser(wire.protocol(service)).parse(
        {"status_code": reply.status, "headers": _headers(reply), "body": reply.body},
        wire.models[service].operation_model(op).output_shape)
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == "it <failed> & said why"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status


@pytest.mark.parametrize("data,why", [
    ({"Vpcs": [{"VpcId": "vpc-1", "Colour": "blue"}]}, r"Vpcs\[0\]\.Colour: not a member of Vpc"),
    ({"Vpcs": [{"VpcId": 17}]}, "a string needs str"),
    ({"Vpcs": [{"IsDefault": "yes"}]}, "a boolean needs bool"),
    ({"Vpcs": {"VpcId": "vpc-1"}}, "a list needs a list"),
    ({"Vpcs": [{"State": "melting"}]}, "is not one of VpcState's values"),
    ({"NextToken": None}, "a string needs str")])
def test_an_answer_outside_the_shape_is_refused(wire: Wire, data: dict[str, Any], why: str) -> None:
    with pytest.raises(WireError, match=why):
        wire.reply("ec2", "DescribeVpcs", data)


def test_the_estate_is_a_function_of_the_seed(wire: Wire) -> None:
    a, b, other = Fleet(4, 3, seed=1, cache=2), Fleet(4, 3, seed=1), Fleet(4, 3, seed=2)
    account, region = a.accounts[1], a.regions[0]
    vpcs = [answer(wire, f, account, region, "ec2", "DescribeVpcs", {}) for f in (a, b, other)]
    assert vpcs[0] == vpcs[1]
    everything = [[answer(wire, f, acc, reg, "ec2", "DescribeInstances", {}) for acc in f.accounts for reg in f.regions]
                  for f in (a, other)]
    assert everything[0] != everything[1]
    # The cache is bounded; an evicted account-region comes back the same.
    for acc in a.accounts:
        a.region(acc, region)
    assert a.generated > 2
    assert answer(wire, a, account, region, "ec2", "DescribeVpcs", {}) == vpcs[1]


def test_the_mix_workload_regions_near_empty_regions_and_cross_account_peering(wire: Wire, fleet: Fleet) -> None:
    def vpcs(account: str, region: str) -> list[dict[str, Any]]:
        return list(answer(wire, fleet, account, region, "ec2", "DescribeVpcs", {})["Vpcs"])

    for i, account in enumerate(fleet.accounts):
        work = fleet.workload_regions(i)
        assert 1 <= len(work) <= 2 and work[0] == fleet.regions[0]
        for region in fleet.regions:
            found = vpcs(account, region)
            if region in work:
                assert 2 <= len(found) <= 3 and not any(v["IsDefault"] for v in found)
            else:
                assert [v["CidrBlock"] for v in found] in ([], ["172.31.0.0/16"])
            services = answer(wire, fleet, account, region, "ec2", "DescribeVpcEndpointServices", {})
            assert len(services["ServiceDetails"]) == 18
            lists = answer(wire, fleet, account, region, "ec2", "DescribeManagedPrefixLists", {})["PrefixLists"]
            assert {p["PrefixListName"].rsplit(".", 1)[1] for p in lists} == {"s3", "dynamodb"}
    near_empty = {bool(vpcs(a, r)) for i, a in enumerate(fleet.accounts) for r in fleet.regions
                  if r not in fleet.workload_regions(i)}
    assert near_empty == {True, False}   # default VPCs and empty regions both occur
    # Accounts 0 and 1 peer their first VPCs in the first region; both list the connection and
    # route to the other side through it.
    first = fleet.regions[0]
    left = answer(wire, fleet, fleet.accounts[0], first, "ec2", "DescribeVpcPeeringConnections", {})
    right = answer(wire, fleet, fleet.accounts[1], first, "ec2", "DescribeVpcPeeringConnections", {})
    assert left == right and len(left["VpcPeeringConnections"]) == 1
    pcx = left["VpcPeeringConnections"][0]
    assert {pcx["RequesterVpcInfo"]["OwnerId"], pcx["AccepterVpcInfo"]["OwnerId"]} == set(fleet.accounts[:2])
    assert pcx["RequesterVpcInfo"]["VpcId"] == vpcs(fleet.accounts[0], first)[0]["VpcId"]
    assert pcx["AccepterVpcInfo"]["VpcId"] == vpcs(fleet.accounts[1], first)[0]["VpcId"]
    tables = answer(wire, fleet, fleet.accounts[1], first, "ec2", "DescribeRouteTables", {})["RouteTables"]
    assert any(r.get("VpcPeeringConnectionId") == pcx["VpcPeeringConnectionId"]
               and r["DestinationCidrBlock"] == pcx["RequesterVpcInfo"]["CidrBlock"]
               for t in tables for r in t["Routes"])


def test_pagination_follows_the_callers_limit_and_tokens(wire: Wire, fleet: Fleet) -> None:
    account, region = fleet.accounts[0], fleet.regions[0]
    whole = answer(wire, fleet, account, region, "ec2", "DescribeSubnets", {})
    assert "NextToken" not in whole   # EC2 returns everything when no MaxResults is given
    pages, params = [], {"MaxResults": 5}
    while True:
        page = answer(wire, fleet, account, region, "ec2", "DescribeSubnets", params)
        pages += page["Subnets"]
        if "NextToken" not in page:
            break
        params = {"MaxResults": 5, "NextToken": page["NextToken"]}
    assert pages == whole["Subnets"] and len(pages) > 5
    lam = answer(wire, fleet, account, region, "lambda", "ListFunctions", {"MaxItems": 1})
    assert len(lam["Functions"]) == 1 and "NextMarker" in lam
    with pytest.raises(FleetError) as bad:
        answer(wire, fleet, account, region, "ec2", "DescribeSubnets", {"NextToken": "not-a-token!"})
    assert bad.value.code == "InvalidPaginationToken"
    assert paginate("ec2", "Vpcs", [], {}, None) == {"Vpcs": []}


def test_refusals_carry_aws_codes(wire: Wire, fleet: Fleet) -> None:
    account, region = fleet.accounts[0], fleet.regions[0]
    cases = [(("ec2", "DescribeVpcAttribute", {"VpcId": "vpc-nope", "Attribute": "enableDnsSupport"}),
              "InvalidVpcID.NotFound"),
             (("eks", "DescribeCluster", {"name": "nope"}), "ResourceNotFoundException"),
             (("ec2", "RunInstances", {}), "InvalidAction")]
    for (service, operation, params), code in cases:
        with pytest.raises(FleetError) as err:
            fleet.answer(account, region, service, operation, params)
        assert err.value.code == code
    with pytest.raises(FleetError, match="not enabled"):
        fleet.answer(account, "mars-north-1", "ec2", "DescribeVpcs", {})
    with pytest.raises(FleetError, match="not part of this fleet"):
        fleet.answer("999999999999", region, "ec2", "DescribeVpcs", {})
    with pytest.raises(ValueError):
        Fleet(0, 1)
    with pytest.raises(ValueError):
        Fleet(1, 99)
