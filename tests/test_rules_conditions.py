"""Condition trees: three-valued evaluation, quantifiers, parameters, evidence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.model import build_model
from auditor.model.types import Model, Resource
from auditor.rules.conditions import ConditionError, Outcome, evaluate, substitute
from auditor.snapshot.records import CallRecord

A, R = "111111111111", "eu-west-1"


def rec(op: str, page: dict[str, Any], params: dict[str, Any] | None = None) -> CallRecord:
    return CallRecord(A, R, "ec2", op, params or {}, (page,))


MODEL = build_model([
    rec("DescribeVpcs", {"Vpcs": [
        {"VpcId": "vpc-a", "CidrBlock": "10.1.0.0/16", "IsDefault": False, "Tags": [{"Key": "env", "Value": "prod"}]},
        {"VpcId": "vpc-default", "CidrBlock": "172.31.0.0/16", "IsDefault": True}]}),
    # Only enableDnsSupport was answered: dns_hostnames is unknown although the call succeeded.
    rec("DescribeVpcAttribute", {"VpcId": "vpc-a", "EnableDnsSupport": {"Value": True}},
        params={"VpcId": "vpc-a", "Attribute": "enableDnsSupport"}),
    rec("DescribeInternetGateways", {"InternetGateways": [
        {"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": "vpc-default", "State": "available"}]}]}),
    rec("DescribeSubnets", {"Subnets": [
        {"SubnetId": "subnet-1", "VpcId": "vpc-a", "CidrBlock": "10.1.1.0/24", "AvailabilityZone": "eu-west-1a"},
        {"SubnetId": "subnet-2", "VpcId": "vpc-a", "CidrBlock": "10.1.2.0/24", "AvailabilityZone": "eu-west-1b"}]}),
    rec("DescribeRouteTables", {"RouteTables": [
        {"RouteTableId": "rtb-1", "VpcId": "vpc-a", "Associations": [{"Main": True}], "Routes": [
            {"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "local", "State": "active"},
            {"DestinationCidrBlock": "0.0.0.0/0", "TransitGatewayId": "tgw-1", "State": "active"},
            {"DestinationPrefixListId": "pl-corp", "TransitGatewayId": "tgw-1", "State": "active"}]},
        {"RouteTableId": "rtb-empty", "VpcId": "vpc-a", "Routes": []}]}),
    # DescribeFlowLogs was never collected: every flow-log attribute is missing.
])

VPC_A = MODEL.get("vpc", "vpc-a")
DEFAULT = MODEL.get("vpc", "vpc-default")
RTB = MODEL.get("route_table", "rtb-1")
EMPTY_RTB = MODEL.get("route_table", "rtb-empty")
assert VPC_A and DEFAULT and RTB and EMPTY_RTB

PASS = {"attr": "id", "eq": "vpc-a"}
FAIL = {"attr": "is_default", "eq": True}
ERROR_MISSING = {"attr": "flow_log_traffic_types", "contains": "ALL"}
ERROR_UNKNOWN = {"attr": "dns_hostnames", "eq": True}


def run(condition: Any, resource: Resource = VPC_A, params: dict[str, Any] | None = None,
        model: Model = MODEL) -> Outcome:
    return evaluate(condition, model, resource, params)


# -- leaves ----------------------------------------------------------------------------

def test_a_leaf_passes_or_fails_with_evidence() -> None:
    ok = run(PASS)
    assert ok.status == "pass"
    [e] = ok.evidence
    assert (e.path, e.observed, e.expected, e.holds, e.note) == ("id", "vpc-a", "equals vpc-a", True, "")
    assert e.sources[0] == VPC_A.source
    bad = run(FAIL)
    assert bad.status == "fail" and bad.evidence[0].holds is False and bad.evidence[0].observed is False


def test_missing_coverage_is_an_error_never_a_pass() -> None:
    out = run(ERROR_MISSING)
    assert out.status == "error"
    assert out.evidence[0].holds is None and "ec2:DescribeFlowLogs" in out.evidence[0].note
    assert out.evidence[0].observed is None  # what little was collected is not shown as the value
    assert out.problems == ("flow_log_traffic_types: not collected for this account and region: "
                            "ec2:DescribeFlowLogs",)
    # Negating it does not help: still an error.
    assert run({"not": ERROR_MISSING}).status == "error"
    assert run({"attr": "flow_logs", "empty": True}).status == "error"


def test_an_unknown_value_is_an_error_never_a_pass() -> None:
    out = run(ERROR_UNKNOWN)
    assert out.status == "error" and "indeterminate" in out.evidence[0].note
    assert run({"attr": "dns_hostnames", "ne": True}).status == "error"
    assert run({"attr": "dns_hostnames", "exists": False}).status == "pass"
    assert run({"attr": "dns_support", "eq": True}).status == "pass"


def test_derived_attribute_from_the_docs_example() -> None:
    check = {"all": [{"attr": "internet_gateway_ids", "empty": True},
                     {"not": {"attr": "id", "in": "${allowed_igw_vpc_ids}"}}]}
    assert run(check, VPC_A, {"allowed_igw_vpc_ids": []}).status == "pass"
    out = run(check, DEFAULT, {"allowed_igw_vpc_ids": []})
    assert out.status == "fail"
    assert [(e.path, e.observed) for e in out.evidence] == [("internet_gateway_ids", ["igw-1"])]
    assert any("DescribeInternetGateways" in s.record for s in out.evidence[0].sources)
    allowed = run(check, DEFAULT, {"allowed_igw_vpc_ids": ["vpc-default"]})
    assert allowed.status == "fail" and len(allowed.evidence) == 2


def test_absent_tags_are_known_not_unknown() -> None:
    assert run({"attr": "tags.env", "eq": "prod"}).status == "pass"
    assert run({"attr": "tags.env", "eq": "prod"}, DEFAULT).status == "fail"
    assert run({"attr": "tags.env", "ne": "prod"}, DEFAULT).status == "pass"
    assert run({"attr": "tags.env", "exists": False}, DEFAULT).status == "pass"
    assert run({"attr": "tags.env", "eq": "prod"}, DEFAULT).evidence[0].observed is None


# -- [*] and quantifiers ---------------------------------------------------------------

def test_star_any_and_all() -> None:
    assert run({"attr": "routes[*].target_kind", "eq": "tgw"}, RTB).status == "pass"
    assert run({"attr": "routes[*].target_kind", "eq": "igw"}, RTB).status == "fail"
    assert run({"attr": "routes[*].target_kind", "quantifier": "all", "in": ["local", "tgw"]}, RTB).status == "pass"
    out = run({"attr": "routes[*].target_kind", "quantifier": "all", "eq": "tgw"}, RTB)
    assert out.status == "fail" and out.evidence[0].note == "fails for element(s) 0"
    assert out.evidence[0].expected == "every element equals tgw"
    assert out.evidence[0].observed == ["local", "tgw", "tgw"]
    hit = run({"attr": "routes[*].destination", "eq": "0.0.0.0/0"}, RTB).evidence[0]
    assert hit.note == "holds for element(s) 1" and hit.expected == "some element equals 0.0.0.0/0"
    assert len(hit.sources) == 1 + 3  # the table and each of its routes


def test_star_on_an_empty_list() -> None:
    assert run({"attr": "routes[*].target_kind", "eq": "igw"}, EMPTY_RTB).status == "fail"
    assert run({"attr": "routes[*].target_kind", "quantifier": "all", "eq": "igw"}, EMPTY_RTB).status == "pass"
    assert run({"attr": "routes[*].target_kind", "quantifier": "all", "eq": "igw"},
               EMPTY_RTB).evidence[0].note == "the list is empty"


def test_star_with_unknown_elements() -> None:
    # pl-corp's CIDRs are unknown (its entries were not collected).
    public = {"attr": "routes[*].destination_cidrs[*]", "is_public_cidr": True}
    assert run(public, RTB).status == "pass"                              # 0.0.0.0/0 decides
    private = {"attr": "routes[*].destination_cidrs[*]", "quantifier": "all", "is_public_cidr": False}
    assert run(private, RTB).status == "fail"                             # 0.0.0.0/0 decides
    within = {"attr": "routes[*].destination_cidrs[*]", "quantifier": "all", "cidr_within": "0.0.0.0/0"}
    out = run(within, RTB)
    assert out.status == "error" and "element 2" in out.evidence[0].note   # only the unknown is undecided
    assert run({"attr": "routes[*].destination_cidrs[*]", "cidr_within": "192.168.0.0/16"}, RTB).status == "error"


def test_star_over_an_unknown_list_is_an_error() -> None:
    # vpc-x's route tables are not in the model: the subnet's routes are unknown, not empty.
    orphan = build_model([rec("DescribeSubnets", {"Subnets": [{"SubnetId": "subnet-x", "VpcId": "vpc-x"}]}),
                          rec("DescribeRouteTables", {"RouteTables": []})])
    lone = orphan.get("subnet", "subnet-x")
    assert lone is not None
    for quantifier in ("any", "all"):
        out = evaluate({"attr": "routes[*].target_kind", "quantifier": quantifier, "ne": "igw"}, orphan, lone)
        assert out.status == "error" and "the list itself is unknown" in out.evidence[0].note


# -- combinators -----------------------------------------------------------------------

@pytest.mark.parametrize("children,status", [
    ([PASS, PASS], "pass"), ([PASS, FAIL], "fail"), ([FAIL, ERROR_MISSING], "fail"),
    ([PASS, ERROR_UNKNOWN], "error"), ([], "pass"),
])
def test_all(children: list[Any], status: str) -> None:
    assert run({"all": children}).status == status


@pytest.mark.parametrize("children,status", [
    ([FAIL, FAIL], "fail"), ([PASS, FAIL], "pass"), ([PASS, ERROR_MISSING], "pass"),
    ([FAIL, ERROR_UNKNOWN], "error"), ([], "fail"),
])
def test_any(children: list[Any], status: str) -> None:
    assert run({"any": children}).status == status


def test_evidence_lists_the_deciding_leaves() -> None:
    assert [e.path for e in run({"all": [PASS, FAIL, ERROR_MISSING]}).evidence] == ["is_default"]
    assert [e.path for e in run({"all": [PASS, ERROR_UNKNOWN, ERROR_MISSING]}).evidence] == [
        "dns_hostnames", "flow_log_traffic_types"]
    assert [e.path for e in run({"all": [PASS, PASS]}).evidence] == ["id", "id"]
    assert [e.path for e in run({"any": [FAIL, PASS, ERROR_MISSING]}).evidence] == ["id"]
    assert [e.path for e in run({"any": [FAIL, FAIL]}).evidence] == ["is_default", "is_default"]


def test_not_swaps_and_rewords_the_evidence() -> None:
    out = run({"not": FAIL})
    assert out.status == "pass"
    [e] = out.evidence
    assert e.expected == "not (equals true)" and e.holds is True
    twice = run({"not": {"not": FAIL}}).evidence[0]
    assert twice.expected == "equals true" and twice.holds is False
    assert run({"not": ERROR_UNKNOWN}).evidence[0].holds is None


def test_evidence_is_json_data() -> None:
    subnet = MODEL.get("subnet", "subnet-1")
    assert subnet is not None
    out = run({"attr": "route_table", "exists": True}, subnet)
    assert out.status == "pass"
    json.dumps([e.observed for e in out.evidence])
    assert out.evidence[0].observed["routes"][1]["target_kind"] == "tgw"


# -- parameters ------------------------------------------------------------------------

def test_substitution_keeps_whole_values_typed_and_interpolates_inside_strings() -> None:
    params = {"ids": ["a", "b"], "n": 3, "flag": True, "env": "prod"}
    assert substitute("${ids}", params) == ["a", "b"]
    assert substitute("${n}", params) == 3 and substitute("${flag}", params) is True
    assert substitute("^${env}-[0-9]+$", params) == "^prod-[0-9]+$"
    assert substitute("${env}-${n}-${flag}", params) == "prod-3-true"
    assert substitute(["${env}", "x", 5], params) == ["prod", "x", 5]
    assert substitute(5, params) == 5


def test_parameters_in_conditions() -> None:
    assert run({"attr": "tags.env", "eq": "${env}"}, params={"env": "prod"}).status == "pass"
    assert run({"attr": "id", "matches": "^${prefix}-"}, params={"prefix": "vpc"}).status == "pass"
    assert run({"attr": "cidr_blocks[*]", "cidr_within": "${allowed}"},
               params={"allowed": ["10.0.0.0/8"]}).status == "pass"


@pytest.mark.parametrize("condition,params,message", [
    ({"attr": "id", "eq": "${nope}"}, {}, "unknown parameter '${nope}'"),
    ({"attr": "id", "matches": "^${ids}"}, {"ids": ["a"]}, "only be used as a whole"),
    ({"attr": "cidr_blocks[*]", "cidr_within": "${cidr}"}, {"cidr": "10.0.0.0/33"}, "bad argument for cidr_within"),
    ({"attr": "id", "eq": "x", "ne": "y"}, {}, "exactly one operator"),
    ({"attr": "id", "equals": "x"}, {}, "exactly one operator"),
    ({"attr": "id"}, {}, "exactly one operator"),
    ({"attr": "id", "eq": "x", "quantifier": "all"}, {}, "path with [*]"),
    ({"attr": "cidr_blocks[*]", "eq": "x", "quantifier": "most"}, {}, "quantifier is any or all"),
    ({"attr": "internet_gateways", "empty": True}, {}, "did you mean 'internet_gateway_ids'"),
    ({"all": PASS}, {}, "list of conditions"),
    ({"all": [PASS], "any": [PASS]}, {}, "a condition is"),
    ({"nand": [PASS]}, {}, "a condition is"),
    ("id", {}, "a condition is a mapping"),
])
def test_malformed_conditions_raise(condition: Any, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConditionError) as err:
        run(condition, params=params)
    assert message in str(err.value)


# -- properties ------------------------------------------------------------------------

LEAVES = {"pass": PASS, "fail": FAIL, "error": ERROR_UNKNOWN}


def kleene(tree: Any) -> str:
    """A reference evaluation on the leaves' known statuses."""
    if "leaf" in tree:
        return str(tree["leaf"])
    if "not" in tree:
        return {"pass": "fail", "fail": "pass", "error": "error"}[kleene(tree["not"])]
    statuses = [kleene(c) for c in tree.get("all", tree.get("any"))]
    first, second, default = ("fail", "error", "pass") if "all" in tree else ("pass", "error", "fail")
    return first if first in statuses else second if second in statuses else default


def condition(tree: Any) -> Any:
    if "leaf" in tree:
        return LEAVES[tree["leaf"]]
    if "not" in tree:
        return {"not": condition(tree["not"])}
    form = "all" if "all" in tree else "any"
    return {form: [condition(c) for c in tree[form]]}


trees = st.recursive(
    st.sampled_from(sorted(LEAVES)).map(lambda s: {"leaf": s}),
    lambda inner: inner.map(lambda t: {"not": t})
    | st.lists(inner, max_size=3).map(lambda ts: {"all": ts})
    | st.lists(inner, max_size=3).map(lambda ts: {"any": ts}),
    max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(trees)
def test_evaluation_matches_three_valued_logic(tree: Any) -> None:
    assert run(condition(tree)).status == kleene(tree)


@settings(max_examples=100, deadline=None)
@given(trees)
def test_not_twice_is_identity_and_single_child_groups_are_the_child(tree: Any) -> None:
    c = condition(tree)
    plain = run(c)
    assert run({"not": {"not": c}}) == plain
    assert run({"all": [c]}) == plain and run({"any": [c]}) == plain


@settings(max_examples=100, deadline=None)
@given(trees, trees)
def test_de_morgan(a: Any, b: Any) -> None:
    x, y = condition(a), condition(b)
    assert run({"not": {"all": [x, y]}}).status == run({"any": [{"not": x}, {"not": y}]}).status
    assert run({"not": {"any": [x, y]}}).status == run({"all": [{"not": x}, {"not": y}]}).status


@settings(max_examples=100, deadline=None)
@given(trees)
def test_evidence_of_an_outcome_agrees_with_it(tree: Any) -> None:
    out = run(condition(tree))
    if out.status == "error":
        assert out.evidence and all(e.holds is None for e in out.evidence)
    elif out.evidence:
        assert all(e.holds is not None for e in out.evidence)
