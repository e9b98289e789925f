"""The endpoint-policy analyzer against an SMT oracle (tests/policy_smt.py, z3).

For every policy, generated (seeded) or written here, both answer the same questions: is it
AWS's default full access; is some allowed request's principal outside a trusted set (empty,
and a list); its action outside an allowlist; its resource outside a trusted set (empty, and a
list). They must agree on every one; each analyzer counter-example is read back into a request
set and z3 must find an allowed request in it that is outside the scope. A disagreement fails
with the policy, both answers and z3's request.
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditor.analyze.policy import parse_policy, principals_outside
from policy_smt import Oracle, Tally, compare

SEED = 16
GENERATED = 500
ORG_A, ORG_B = "o-aaaa111111", "o-bbbb222222"
A1, A2, A3 = "111111111111", "222222222222", "333333333333"


class Catalogue:
    """A small fixed action catalogue (the analyzer and the oracle take the same one)."""

    ACTIONS = {"s3": ("DeleteObject", "GetBucketAcl", "GetObject", "ListBucket", "PutObject"),
               "sqs": ("DeleteQueue", "ReceiveMessage", "SendMessage"), "kms": ("Decrypt", "Encrypt")}

    def services(self) -> tuple[str, ...]:
        return tuple(sorted(self.ACTIONS))

    def actions(self, service: str) -> tuple[str, ...]:
        return tuple(f"{service.lower()}:{a}" for a in self.ACTIONS.get(service.lower(), ()))


CAT = Catalogue()

# -- the generator ---------------------------------------------------------------------------

PRINCIPALS: list[Any] = [
    "*", {"AWS": "*"}, {"AWS": A1}, {"AWS": f"arn:aws:iam::{A2}:root"}, {"AWS": f"arn:aws:iam::{A1}:role/deployer"},
    {"AWS": "arn:aws:iam::*:role/deployer"}, {"AWS": [A1, A3]}, {"Service": "ec2.amazonaws.com"},
    {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]}, {"Federated": "cognito-identity.amazonaws.com"},
    {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
    {"AWS": A2, "Service": "ec2.amazonaws.com"},
]
ACTIONS = ["*", "sqs:*", "sqs:Send*", "sqs:SendMessage", "SQS:receivemessage", "s3:Get*", "s3:GetObject",
           "s3:PutObject", "s3:*Object", "kms:Decrypt", "kms:*", "zzsvc:*", "zzsvc:DoThing"]
RESOURCES = ["*", "arn:aws:s3:::bucket-a/*", "arn:aws:s3:::bucket-a", "arn:aws:s3:::*",
             f"arn:aws:sqs:eu-west-1:{A1}:queue-*", "arn:aws:sqs:*:*:*", f"arn:aws:kms:*:{A2}:key/*",
             "arn:aws:s3:::bucket-?/logs/*"]
CONDITIONS: list[tuple[str, str, Any]] = [
    ("StringEquals", "aws:PrincipalOrgID", ORG_A), ("StringEquals", "aws:PrincipalOrgID", [ORG_A, ORG_B]),
    ("StringNotEquals", "aws:PrincipalOrgID", ORG_A), ("StringLike", "aws:PrincipalOrgID", "o-aaaa*"),
    ("StringEqualsIfExists", "aws:PrincipalOrgID", ORG_B), ("StringNotEqualsIfExists", "aws:PrincipalOrgID", ORG_A),
    ("ForAnyValue:StringEquals", "aws:PrincipalOrgID", ORG_A), ("ForAllValues:StringLike", "aws:PrincipalOrgID", "o-*"),
    ("StringEquals", "aws:PrincipalAccount", A1), ("StringNotEquals", "aws:PrincipalAccount", [A1, A2]),
    ("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:role/deployer"),
    ("ArnNotLike", "aws:PrincipalArn", f"arn:aws:iam::{A1}:role/*"),
    ("StringLike", "aws:PrincipalArn", f"arn:aws:iam::{A3}:*"),
    ("Bool", "aws:PrincipalIsAWSService", "true"), ("Bool", "aws:PrincipalIsAWSService", "false"),
    ("StringEquals", "aws:PrincipalServiceName", "ec2.amazonaws.com"),
    ("StringNotEqualsIfExists", "aws:PrincipalServiceName", "lambda.amazonaws.com"),
    ("Null", "aws:PrincipalOrgID", "true"), ("Null", "aws:PrincipalOrgID", "false"),
    ("StringEquals", "aws:ResourceAccount", A1), ("StringNotEquals", "aws:ResourceAccount", [A1, A2]),
    ("StringEquals", "s3:ResourceAccount", A2), ("StringEquals", "aws:ResourceOrgID", ORG_A),
    ("StringNotEqualsIfExists", "aws:ResourceOrgID", ORG_B), ("Null", "aws:ResourceOrgID", "true"),
    ("StringEqualsIgnoreCase", "aws:PrincipalOrgID", "O-AAAA111111"),
    ("StringEquals", "aws:SourceVpc", "vpc-1234"), ("StringEquals", "aws:PrincipalTag/team", "blue"),
    ("NumericLessThan", "aws:MultiFactorAuthAge", "3600"),
]
TRUSTED_PRINCIPALS = [ORG_A, A1, "*.amazonaws.com", "ec2.amazonaws.com", "arn:aws:iam::*:role/deployer", ORG_B]
ALLOWED_ACTIONS = [["sqs:SendMessage"], ["s3:Get*"], ["s3:Get*", "sqs:*"], ["kms:Decrypt", "s3:GetObject"], ["*"],
                   ["zzsvc:DoThing"]]
TRUSTED_RESOURCES = [A1, ORG_A, "arn:aws:s3:::bucket-a/*", A2]


def _pick(rng: random.Random, items: list[Any], most: int) -> Any:
    chosen = rng.sample(items, rng.randint(1, most))
    return chosen[0] if len(chosen) == 1 and rng.random() < 0.6 else chosen


def generated_statement(rng: random.Random) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": rng.choice(["Allow", "Allow", "Deny"])}
    st["NotPrincipal" if rng.random() < 0.1 else "Principal"] = rng.choice(PRINCIPALS)
    st["NotAction" if rng.random() < 0.2 else "Action"] = _pick(rng, ACTIONS, 3)
    st["NotResource" if rng.random() < 0.15 else "Resource"] = _pick(rng, RESOURCES, 2)
    if rng.random() < 0.6:
        block: dict[str, dict[str, Any]] = {}
        for operator, key, value in rng.sample(CONDITIONS, rng.randint(1, 2)):
            block.setdefault(operator, {})[key] = value
        st["Condition"] = block
    return st


@dataclass
class Case:
    """One policy and the allowlists asked of it."""

    name: str
    document: dict[str, Any]
    principals: list[str]
    actions: list[str]
    resources: list[str]


def generated_cases() -> list[Case]:
    rng = random.Random(SEED)
    out = []
    for i in range(GENERATED):
        statements = [generated_statement(rng) for _ in range(rng.choice((1, 2, 2, 3)))]
        out.append(Case(f"generated-{i}", {"Version": "2012-10-17", "Statement": statements},
                        rng.sample(TRUSTED_PRINCIPALS, rng.randint(1, 3)), rng.choice(ALLOWED_ACTIONS),
                        rng.sample(TRUSTED_RESOURCES, rng.randint(1, 2))))
    return out


# -- the comparison ---------------------------------------------------------------------------

def run(cases: list[Case]) -> Tally:
    tally = Tally()
    for case in cases:
        compare(case.name, parse_policy(case.document), case.principals, case.actions, case.resources, CAT, tally)
    return tally


CHUNKS = 5   # the generated policies in five test items, so that the suite's workers share them


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_analyzer_and_z3_agree_on_generated_policies(chunk: int) -> None:
    every = generated_cases()     # generated whole (one seeded sequence), checked a fifth at a time
    assert len(every) == GENERATED >= 500
    cases = every[chunk::CHUNKS]
    tally = run(cases)
    print(f"generated, part {chunk + 1} of {CHUNKS}: {tally.policies} policies, {tally.questions} questions, "
          f"{tally.agreements} agreements, {tally.confirmed} counter-examples confirmed by z3")
    assert not tally.failures, f"{len(tally.failures)} disagreements:\n" + "\n".join(tally.failures[:20])
    assert tally.policies == len(cases) and tally.questions == 6 * len(cases)
    assert tally.agreements == tally.questions
    assert tally.confirmed >= len(cases)  # every policy that allows anything fails some question


# -- hand-written policies ---------------------------------------------------------------------

def _st(effect: str = "Allow", principal: Any = "*", action: Any = "*", resource: Any = "*",
        condition: dict[str, Any] | None = None, **other: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource, **other}
    if condition:
        st["Condition"] = condition
    for k in ("NotPrincipal", "NotAction", "NotResource"):
        if k in other:
            del st[k[3:]]
    return st


ORG_ONLY = {"StringEquals": {"aws:PrincipalOrgID": ORG_A}}
HAND: dict[str, list[dict[str, Any]]] = {
    "aws-default": [_st()],
    "default-as-lists": [_st(principal={"AWS": "*"}, action=["*"], resource=["*"])],
    "default-split-in-two": [_st(NotAction="sqs:*"), _st(action="sqs:*")],
    "default-minus-a-deny": [_st(), _st("Deny", action="sqs:DeleteQueue")],
    "default-with-a-deny-on-an-unmodelled-key": [_st(), _st("Deny", condition={"StringEquals": {"aws:SourceVpc": "vpc-1"}})],
    "conditioned-allow-is-not-default": [_st(condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}})],
    "org-only": [_st(condition=ORG_ONLY)],
    "org-or-services": [_st(condition={"StringEquals": {"aws:PrincipalOrgID": ORG_A}}),
                        _st(condition={"Bool": {"aws:PrincipalIsAWSService": "true"}})],
    "perimeter-in-our-words": [
        _st(condition={"StringEquals": {"aws:PrincipalOrgID": ORG_A, "aws:ResourceOrgID": ORG_A}}),
        _st(principal={"AWS": "*"}, action="s3:GetObject", resource="arn:aws:s3:::packages.eu-west-1.example/*"),
        _st(condition={"Bool": {"aws:PrincipalIsAWSService": "true"}})],
    "deny-outside-org-unless-service": [
        _st(), _st("Deny", condition={"StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG_A},
                                      "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}})],
    "deny-everyone-but-one-account": [_st(), _st("Deny", NotPrincipal={"AWS": A1})],
    "named-accounts-and-a-role-anywhere": [
        _st(principal={"AWS": [A1, f"arn:aws:iam::{A2}:root", "arn:aws:iam::*:role/ci"]}, action="sqs:Send*")],
    "resource-account-scoped": [_st(action="s3:*", condition={"StringEquals": {"aws:ResourceAccount": [A1, A2]}})],
    "resource-org-if-exists": [_st(condition={"StringEqualsIfExists": {"aws:ResourceOrgID": ORG_A}})],
    "not-resource-in-an-allow": [_st(action="s3:Get*", NotResource="arn:aws:s3:::secret-*")],
    "service-principal-by-name": [_st(principal={"Service": "ec2.amazonaws.com"}, action="kms:Decrypt",
                                      resource=f"arn:aws:kms:eu-west-1:{A1}:key/*"),
                                  _st(condition={"StringEquals": {"aws:PrincipalServiceName": "lambda.amazonaws.com"}})],
    "null-org-means-outside-every-org": [_st(condition={"Null": {"aws:PrincipalOrgID": "true"}})],
    "for-any-value-org": [_st(condition={"ForAnyValue:StringLike": {"aws:PrincipalOrgID": ["o-aaaa*", ORG_B]}})],
    "for-all-values-org": [_st(condition={"ForAllValues:StringEquals": {"aws:PrincipalOrgID": ORG_A}})],
    "principal-arn-not-like": [_st(condition={"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{A1}:role/admin-*"}})],
    "deny-all-but-get-for-one-bucket": [
        _st(action="s3:*", resource="arn:aws:s3:::bucket-a/*"),
        _st("Deny", NotAction="s3:GetObject", resource="arn:aws:s3:::bucket-a/*")],
    "case-of-actions": [_st(action=["SQS:SENDMESSAGE", "s3:getobject"])],
    "unknown-service-whole": [_st(action="zzsvc:*", condition=ORG_ONLY)],
    "only-denies": [_st("Deny")],
    "federated-and-canonical": [_st(principal={"Federated": "cognito-identity.amazonaws.com"}),
                                _st(principal={"CanonicalUser": "abc123"}, action="s3:GetObject")],
}
HAND_ALLOWLISTS = ([ORG_A, "*.amazonaws.com"], ["s3:Get*", "sqs:SendMessage"], [A1, ORG_A])


def test_analyzer_and_z3_agree_on_hand_written_policies() -> None:
    tally = Tally()
    for name, statements in HAND.items():
        compare(name, parse_policy({"Version": "2012-10-17", "Statement": statements}), *HAND_ALLOWLISTS,
                CAT, tally)
    print(f"hand-written: {tally.policies} policies, {tally.questions} questions, {tally.agreements} agreements, "
          f"{tally.confirmed} counter-examples confirmed by z3")
    assert not tally.failures, f"{len(tally.failures)} disagreements:\n" + "\n".join(tally.failures)
    assert tally.policies == len(HAND) >= 25 and tally.questions == 6 * len(HAND) == tally.agreements


# -- the oracle on its own ---------------------------------------------------------------------

def oracle(*statements: dict[str, Any]) -> Oracle:
    return Oracle(parse_policy({"Statement": list(statements)}), CAT, ["s3:Get*"])


def test_the_oracle_knows_the_default_and_what_is_not() -> None:
    assert oracle(_st()).is_default()[0]
    assert not oracle(_st(condition=ORG_ONLY)).is_default()[0]
    assert not oracle(_st(), _st("Deny", action="sqs:DeleteQueue")).is_default()[0]
    # A Deny whose condition is unmodelled applies in the lower reading: never the default.
    assert not oracle(_st(), _st("Deny", condition={"StringEquals": {"aws:SourceVpc": "vpc-1"}})).is_default()[0]


def test_the_oracle_finds_what_is_outside_and_nothing_else() -> None:
    o = oracle(_st(condition=ORG_ONLY))
    assert o.outside(o.principal_outside([ORG_A])) is None
    assert o.outside(o.principal_outside([ORG_B])) is not None
    assert o.outside(o.principal_outside([])) is None            # the organisation is named
    assert o.outside(o.action_outside(["s3:Get*"])) is not None   # s3:PutObject
    s3_only = oracle(_st(action="s3:GetObject", resource="arn:aws:s3:::bucket-a/*", condition=ORG_ONLY))
    assert s3_only.outside(s3_only.action_outside(["s3:Get*"])) is None
    assert s3_only.outside(s3_only.resource_outside([])) is None
    assert s3_only.outside(s3_only.resource_outside([A1])) is not None
    assert s3_only.outside(s3_only.resource_outside(["arn:aws:s3:::bucket-*"])) is None


def test_a_counter_example_the_policy_does_not_allow_is_refused() -> None:
    o = oracle(_st(action="s3:GetObject", condition=ORG_ONLY))
    wrong = o.counter_example("s3:GetObject by any principal on any resource")
    assert o.outside(o.principal_outside([]), wrong) is None
    right = o.counter_example(f"s3:GetObject by a principal in {ORG_A} on any resource")
    assert o.outside(o.principal_outside([ORG_B]), right) is not None
    with pytest.raises(ValueError, match="cannot read"):
        o.counter_example("nonsense")


def test_the_corpus_check_refuses_a_folder_without_the_corpora(tmp_path: Path) -> None:
    (tmp_path / "external-oracles" / "quacky").mkdir(parents=True)
    script = Path(__file__).resolve().parent.parent / "verify_outside" / "policies.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and not done.stdout
    assert "not the outside-data folder" in done.stderr and "external-oracles/iamspy" in done.stderr
    assert "Traceback" not in done.stderr
    usage = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and "usage: python verify_outside/policies.py DIR" in usage.stderr


# -- disagreements the oracle found (analyzer defects, fixed): each counter-example confirmed by z3 ----

def test_a_condition_excluding_users_still_lets_roles_through() -> None:
    policy = parse_policy({"Statement": [_st(condition={"StringNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}})]})
    o = Oracle(policy, CAT)
    model = o.outside(o.principal_outside([]))
    assert model is not None, "z3: a role of an unnamed account is allowed"
    found = principals_outside(policy, [], CAT)
    assert found is not None, f"analyzer: within; z3: {o.describe(model)}"
    assert o.outside(o.principal_outside([]), o.counter_example(found)) is not None, found


def test_unnamed_federated_principals_are_candidates() -> None:
    policy = parse_policy({"Statement": [_st(condition={"Bool": {"aws:PrincipalIsAWSService": "false"},
                                                        "Null": {"aws:PrincipalAccount": "true"}})]})
    o = Oracle(policy, CAT)
    model = o.outside(o.principal_outside([ORG_A]))
    assert model is not None, "z3: a federated principal is allowed"
    found = principals_outside(policy, [ORG_A], CAT)
    assert found is not None, f"analyzer: within; z3: {o.describe(model)}"
    assert o.outside(o.principal_outside([ORG_A]), o.counter_example(found)) is not None, found


def test_a_partial_wildcard_of_an_unknown_service_allows_its_actions() -> None:
    policy = parse_policy({"Statement": [_st(action="zzsvc:Do*")]})
    o = Oracle(policy, CAT)
    model = o.outside(o.principal_outside([]))
    assert model is not None, "z3: zzsvc:DoSomething by any principal is allowed"
    found = principals_outside(policy, [], CAT)
    assert found is not None, f"analyzer: within; z3: {o.describe(model)}"
    assert o.outside(o.principal_outside([]), o.counter_example(found)) is not None, found
