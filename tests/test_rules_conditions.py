"""Condition trees: three-valued evaluation, quantifiers, parameters, evidence.

The trees are the loader's typed ones (`auditor.rules.packs`), built here by hand with the
small constructors below; tests/test_rule_packs.py covers how a pack file becomes one."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.model import build_model
from auditor.model.types import Model, Resource
from auditor.rules.conditions import ConditionError, Outcome, evaluate
from auditor.rules.pack_checks import substitute
from auditor.rules.packs import AllOf, AnyOf, Condition, Leaf, Not, bind
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


def leaf(attr: str, op: str, written: Any, quantifier: str = "any", **bindings: Any) -> Leaf:
    """A leaf as the loader makes it, its parameters bound to `bindings`."""
    return Leaf(attr=attr, op=op, written=written, quantifier=quantifier, bindings=bindings)


def all_(*items: Condition) -> AllOf:
    return AllOf(items)


def any_(*items: Condition) -> AnyOf:
    return AnyOf(items)


PASS = leaf("id", "eq", "vpc-a")
FAIL = leaf("is_default", "eq", True)
ERROR_MISSING = leaf("flow_log_traffic_types", "contains", "ALL")
ERROR_UNKNOWN = leaf("dns_hostnames", "eq", True)


def run(condition: Condition, resource: Resource = VPC_A, model: Model = MODEL) -> Outcome:
    return evaluate(condition, model, resource)


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
    assert run(Not(ERROR_MISSING)).status == "error"
    assert run(leaf("flow_logs", "empty", True)).status == "error"


def test_an_unknown_value_is_an_error_never_a_pass() -> None:
    out = run(ERROR_UNKNOWN)
    assert out.status == "error" and "indeterminate" in out.evidence[0].note
    assert run(leaf("dns_hostnames", "ne", True)).status == "error"
    assert run(leaf("dns_hostnames", "exists", False)).status == "pass"
    assert run(leaf("dns_support", "eq", True)).status == "pass"


def test_derived_attribute_from_the_docs_example() -> None:
    def check(allowed: list[str]) -> Condition:
        return all_(leaf("internet_gateway_ids", "empty", True),
                    Not(leaf("id", "in", "${allowed_igw_vpc_ids}", allowed_igw_vpc_ids=allowed)))

    assert run(check([]), VPC_A).status == "pass"
    out = run(check([]), DEFAULT)
    assert out.status == "fail"
    assert [(e.path, e.observed) for e in out.evidence] == [("internet_gateway_ids", ["igw-1"])]
    assert any("DescribeInternetGateways" in s.record for s in out.evidence[0].sources)
    allowed = run(check(["vpc-default"]), DEFAULT)
    assert allowed.status == "fail" and len(allowed.evidence) == 2


def test_absent_tags_are_known_not_unknown() -> None:
    assert run(leaf("tags.env", "eq", "prod")).status == "pass"
    assert run(leaf("tags.env", "eq", "prod"), DEFAULT).status == "fail"
    assert run(leaf("tags.env", "ne", "prod"), DEFAULT).status == "pass"
    assert run(leaf("tags.env", "exists", False), DEFAULT).status == "pass"
    assert run(leaf("tags.env", "eq", "prod"), DEFAULT).evidence[0].observed is None


# -- [*] and quantifiers ---------------------------------------------------------------

def test_star_any_and_all() -> None:
    assert run(leaf("routes[*].target_kind", "eq", "tgw"), RTB).status == "pass"
    assert run(leaf("routes[*].target_kind", "eq", "igw"), RTB).status == "fail"
    assert run(leaf("routes[*].target_kind", "in", ["local", "tgw"], "all"), RTB).status == "pass"
    out = run(leaf("routes[*].target_kind", "eq", "tgw", "all"), RTB)
    assert out.status == "fail" and out.evidence[0].note == "fails for element(s) 0"
    assert out.evidence[0].expected == "every element equals tgw"
    assert out.evidence[0].observed == ["local", "tgw", "tgw"]
    hit = run(leaf("routes[*].destination", "eq", "0.0.0.0/0"), RTB).evidence[0]
    assert hit.note == "holds for element(s) 1" and hit.expected == "some element equals 0.0.0.0/0"
    assert len(hit.sources) == 1 + 3  # the table and each of its routes


def test_star_on_an_empty_list() -> None:
    assert run(leaf("routes[*].target_kind", "eq", "igw"), EMPTY_RTB).status == "fail"
    assert run(leaf("routes[*].target_kind", "eq", "igw", "all"), EMPTY_RTB).status == "pass"
    assert run(leaf("routes[*].target_kind", "eq", "igw", "all"), EMPTY_RTB).evidence[0].note == "the list is empty"


def test_star_with_unknown_elements() -> None:
    # pl-corp's CIDRs are unknown (its entries were not collected).
    public = leaf("routes[*].destination_cidrs[*]", "is_public_cidr", True)
    assert run(public, RTB).status == "pass"                              # 0.0.0.0/0 decides
    private = leaf("routes[*].destination_cidrs[*]", "is_public_cidr", False, "all")
    assert run(private, RTB).status == "fail"                             # 0.0.0.0/0 decides
    within = leaf("routes[*].destination_cidrs[*]", "cidr_within", "0.0.0.0/0", "all")
    out = run(within, RTB)
    assert out.status == "error" and "element 2" in out.evidence[0].note   # only the unknown is undecided
    assert run(leaf("routes[*].destination_cidrs[*]", "cidr_within", "192.168.0.0/16"), RTB).status == "error"


def test_star_over_an_unknown_list_is_an_error() -> None:
    # vpc-x's route tables are not in the model: the subnet's routes are unknown, not empty.
    orphan = build_model([rec("DescribeSubnets", {"Subnets": [{"SubnetId": "subnet-x", "VpcId": "vpc-x"}]}),
                          rec("DescribeRouteTables", {"RouteTables": []})])
    lone = orphan.get("subnet", "subnet-x")
    assert lone is not None
    for quantifier in ("any", "all"):
        out = evaluate(leaf("routes[*].target_kind", "ne", "igw", quantifier), orphan, lone)
        assert out.status == "error" and "the list itself is unknown" in out.evidence[0].note


# -- combinators -----------------------------------------------------------------------

@pytest.mark.parametrize("children,status", [
    ([PASS, PASS], "pass"), ([PASS, FAIL], "fail"), ([FAIL, ERROR_MISSING], "fail"),
    ([PASS, ERROR_UNKNOWN], "error"), ([], "pass"),
])
def test_all(children: list[Condition], status: str) -> None:
    assert run(all_(*children)).status == status


@pytest.mark.parametrize("children,status", [
    ([FAIL, FAIL], "fail"), ([PASS, FAIL], "pass"), ([PASS, ERROR_MISSING], "pass"),
    ([FAIL, ERROR_UNKNOWN], "error"), ([], "fail"),
])
def test_any(children: list[Condition], status: str) -> None:
    assert run(any_(*children)).status == status


def test_evidence_lists_the_deciding_leaves() -> None:
    assert [e.path for e in run(all_(PASS, FAIL, ERROR_MISSING)).evidence] == ["is_default"]
    assert [e.path for e in run(all_(PASS, ERROR_UNKNOWN, ERROR_MISSING)).evidence] == [
        "dns_hostnames", "flow_log_traffic_types"]
    assert [e.path for e in run(all_(PASS, PASS)).evidence] == ["id", "id"]
    assert [e.path for e in run(any_(FAIL, PASS, ERROR_MISSING)).evidence] == ["id"]
    assert [e.path for e in run(any_(FAIL, FAIL)).evidence] == ["is_default", "is_default"]


def test_not_swaps_and_rewords_the_evidence() -> None:
    out = run(Not(FAIL))
    assert out.status == "pass"
    [e] = out.evidence
    assert e.expected == "not (equals true)" and e.holds is True
    twice = run(Not(Not(FAIL))).evidence[0]
    assert twice.expected == "equals true" and twice.holds is False
    assert run(Not(ERROR_UNKNOWN)).evidence[0].holds is None


def test_evidence_is_json_data() -> None:
    subnet = MODEL.get("subnet", "subnet-1")
    assert subnet is not None
    out = run(leaf("route_table", "exists", True), subnet)
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
    assert substitute(("${n}",), params) == [3]
    assert substitute(5, params) == 5


@pytest.mark.parametrize("written,params,message", [
    ("${nope}", {"env": "prod"}, "unknown parameter '${nope}' (parameters: env)"),
    ("x-${nope}", {}, "unknown parameter '${nope}' (parameters: none)"),
    ("^${ids}", {"ids": ["a"]}, "parameter 'ids' is list: it can only be used as a whole argument"),
])
def test_substitution_refuses_what_the_pack_checks_refuse(written: str, params: dict[str, Any],
                                                          message: str) -> None:
    with pytest.raises(ValueError) as err:
        substitute(written, params)
    assert message in str(err.value)


def test_a_leaf_argument_is_its_written_argument_with_its_bindings() -> None:
    bound = leaf("tags.env", "eq", "${env}", env="prod")
    assert (bound.written, bound.arg, bound.params) == ("${env}", "prod", ("env",))
    assert replace(bound, bindings={"env": "dev"}).arg == "dev"
    assert run(bound).status == "pass" and run(replace(bound, bindings={"env": "dev"})).status == "fail"
    assert run(leaf("id", "matches", "^${prefix}-", prefix="vpc")).status == "pass"
    assert run(leaf("cidr_blocks[*]", "cidr_within", "${allowed}", allowed=["10.0.0.0/8"])).status == "pass"
    with pytest.raises(ValueError, match="unknown parameter"):
        leaf("id", "eq", "${nope}")


def test_bind_changes_only_the_leaves_that_name_the_parameter() -> None:
    tree = all_(leaf("id", "eq", "${a}", a="x"), Not(leaf("id", "ne", "${b}", b="y")), PASS)
    rebound = bind(tree, {"b": "z"})
    assert isinstance(rebound, AllOf) and isinstance(rebound.items[1], Not)
    assert rebound.items[0] is tree.items[0] and rebound.items[2] is PASS
    changed = rebound.items[1].item
    assert isinstance(changed, Leaf) and (changed.arg, dict(changed.bindings)) == ("z", {"b": "z"})
    assert bind(tree, {"c": 1}) == tree


# -- leaves the loader would have refused (the pack checks word these for pack files) ----

@pytest.mark.parametrize("condition,message", [
    (leaf("id", "equals", "x"), "unknown operator 'equals' on id; operators: eq, ne, in"),
    (leaf("cidr_blocks[*]", "cidr_within", "${cidr}", cidr="10.0.0.0/33"), "bad argument for cidr_within"),
    (leaf("id", "eq", "x", "all"), "path with [*]"),
    (leaf("cidr_blocks[*]", "eq", "x", "most"), "quantifier is any or all"),
    (leaf("internet_gateways", "empty", True), "did you mean 'internet_gateway_ids'"),
    (all_(PASS, Not(leaf("id", "nand", 1))), "unknown operator 'nand'"),
])
def test_leaves_the_loader_would_refuse_raise(condition: Condition, message: str) -> None:
    with pytest.raises(ConditionError) as err:
        run(condition)
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


def condition(tree: Any) -> Condition:
    if "leaf" in tree:
        return LEAVES[tree["leaf"]]
    if "not" in tree:
        return Not(condition(tree["not"]))
    items = tuple(condition(c) for c in tree.get("all", tree.get("any")))
    return AllOf(items) if "all" in tree else AnyOf(items)


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
    assert run(Not(Not(c))) == plain
    assert run(all_(c)) == plain and run(any_(c)) == plain


@settings(max_examples=100, deadline=None)
@given(trees, trees)
def test_de_morgan(a: Any, b: Any) -> None:
    x, y = condition(a), condition(b)
    assert run(Not(all_(x, y))).status == run(any_(Not(x), Not(y))).status
    assert run(Not(any_(x, y))).status == run(all_(Not(x), Not(y))).status


@settings(max_examples=100, deadline=None)
@given(trees)
def test_evidence_of_an_outcome_agrees_with_it(tree: Any) -> None:
    out = run(condition(tree))
    if out.status == "error":
        assert out.evidence and all(e.holds is None for e in out.evidence)
    elif out.evidence:
        assert all(e.holds is not None for e in out.evidence)
