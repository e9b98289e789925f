"""The operator vocabulary: semantics, odd inputs, argument checks and descriptions."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.rules.operators import ABSENT, OPERATORS, Indeterminate, observed_ports

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rule-packs.md"


def holds(op: str, observed: Any, arg: Any) -> bool:
    return OPERATORS[op].test(observed, arg)


def test_every_documented_operator_is_registered_and_nothing_else() -> None:
    text = DOCS.read_text(encoding="utf-8").split("## Operators", 1)[1].split("##", 1)[0]
    documented = {name for row in text.splitlines() if row.startswith("| `")
                  for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])}
    assert documented == set(OPERATORS)
    assert all(op.name == name for name, op in OPERATORS.items())


def test_the_published_schema_lists_exactly_the_registered_operators() -> None:
    # The rule-pack schema names the operators in its condition's description (the
    # semantic checks, not the schema, refuse an unknown one, with a did-you-mean).
    from auditor.validation import load_schema

    text = load_schema("rule-pack")["$defs"]["condition"]["description"]
    listed = re.findall(r"with exactly one operator \(([^)]*)\)", text)
    assert len(listed) == 1, text
    assert listed[0].split(", ") == list(OPERATORS)


TRUE_FALSE = [
    # (operator, argument, observed that holds, observed that does not)
    ("eq", "available", "available", "pending"),
    ("eq", 443, 443.0, 80),
    ("eq", True, True, False),
    ("ne", "default", "custom", "default"),
    ("in", ["a", "b"], "b", "c"),
    ("not_in", ["a", "b"], "c", "a"),
    ("contains", "igw-1", ["igw-2", "igw-1"], ["igw-2"]),
    ("contains", "ecr", "ecr.api", "sqs"),
    ("contains", "Name", {"Name": "x"}, {"Env": "y"}),
    ("empty", True, [], ["igw-1"]),
    ("empty", True, "", "x"),
    ("empty", True, {}, {"a": 1}),
    ("not_empty", True, ["igw-1"], []),
    ("exists", True, "x", None),
    ("exists", False, None, ""),
    ("subset_of", ["sqs", "s3", "ecr.api"], ["s3", "sqs"], ["s3", "ec2"]),
    ("subset_of", ["a"], [], ["b"]),
    ("superset_of", ["s3", "sqs"], ["sqs", "s3", "logs"], ["s3"]),
    ("intersects", ["vpc-b", "222222222222"], ["vpc-c", "222222222222"], ["vpc-c", "333333333333"]),
    ("matches", r"^prod-", "prod-db", "dev-prod-db"),
    ("cidr_within", "10.0.0.0/8", "10.1.2.0/24", "11.0.0.0/24"),
    ("cidr_within", ["192.168.0.0/16", "10.0.0.0/8"], "10.0.0.5", "172.16.0.0/12"),
    ("cidr_within", "10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/7"),
    ("cidr_overlaps", "10.0.0.0/16", "10.0.0.0/8", "10.1.0.0/16"),
    ("cidr_overlaps", ["0.0.0.0/0"], "8.8.8.8/32", "::/0"),
    ("is_public_cidr", True, "0.0.0.0/0", "10.0.0.0/8"),
    ("is_public_cidr", False, "100.64.1.0/24", "8.8.8.8"),
    ("ports_overlap", 22, {"from": 0, "to": 1024}, {"from": 80, "to": 443}),
    ("ports_overlap", "8000-8080", "8080-9000", "8081-9000"),
    ("gt", 0, 1, 0),
    ("ge", 1.5, 1.5, 1.4),
    ("lt", 10, 9, 10),
    ("le", 10, 10, 10.5),
]


@pytest.mark.parametrize("op,arg,yes,no", TRUE_FALSE, ids=lambda v: str(v) if isinstance(v, str) else None)
def test_operator_holds_and_does_not(op: str, arg: Any, yes: Any, no: Any) -> None:
    assert OPERATORS[op].check_arg(arg) is None
    assert holds(op, yes, arg) is True
    assert holds(op, no, arg) is False


def test_superset_of_an_empty_argument_always_holds() -> None:
    assert holds("superset_of", [], []) and holds("superset_of", ["x"], [])


@pytest.mark.parametrize("op", sorted(set(OPERATORS) - {"exists"}))
def test_unknown_is_indeterminate_for_every_operator_but_exists(op: str) -> None:
    arg = VALID_ARGS[op][0]
    with pytest.raises(Indeterminate, match="unknown"):
        holds(op, None, arg)


def test_exists_is_the_only_way_to_test_unknown() -> None:
    assert holds("exists", None, False) and not holds("exists", None, True)
    assert holds("exists", 0, True) and holds("exists", False, True) and holds("exists", [], True)


def test_absent_satisfies_only_the_negative_operators() -> None:
    satisfied = {op for op, o in OPERATORS.items() for arg in VALID_ARGS[op][:1] if o.test(ABSENT, arg)}
    assert satisfied == {"empty", "ne", "not_in"}
    assert holds("exists", ABSENT, False) and not holds("exists", ABSENT, True)


@pytest.mark.parametrize("op,observed,arg", [
    ("eq", ["a"], "a"),             # a list is not a scalar
    ("ne", {"a": 1}, "a"),
    ("in", ["a"], ["a"]),
    ("not_in", [1], [1]),
    ("contains", 5, 5),
    ("contains", "8080", 80),       # a string contains only strings
    ("empty", 0, True),             # a number is neither empty nor not
    ("not_empty", False, True),
    ("subset_of", "s3", ["s3"]),    # a string is not a list
    ("superset_of", {"a": 1}, ["a"]),
    ("intersects", "a", ["a"]),     # a string is not a list
    ("matches", 22, r"\d+"),
    ("cidr_within", "pl-0123", "10.0.0.0/8"),
    ("cidr_overlaps", 167772160, "10.0.0.0/8"),
    ("is_public_cidr", ["0.0.0.0/0"], True),
    ("ports_overlap", True, 22),
    ("ports_overlap", "ssh", 22),
    ("ports_overlap", {"from": 30, "to": 20}, 22),
    ("ports_overlap", {"from": 0, "to": 70000}, 22),
    ("ports_overlap", {"cidr": "0.0.0.0/0"}, 22),
    ("ports_overlap", [1, 2, 3], 22),
    ("gt", "5", 1),                 # no coercion from strings
    ("lt", True, 5),
    ("ge", float("nan"), 1),
])
def test_values_of_the_wrong_kind_are_indeterminate(op: str, observed: Any, arg: Any) -> None:
    with pytest.raises(Indeterminate):
        holds(op, observed, arg)


def test_equality_does_not_coerce() -> None:
    assert not holds("eq", "80", 80) and holds("ne", "80", 80)
    assert not holds("eq", 1, True) and not holds("in", True, [1]) and holds("in", 1.0, [1])
    assert not holds("eq", "Available", "available")


def test_unknown_elements_inside_lists_use_three_valued_logic() -> None:
    assert holds("contains", ["a", None], "a")          # known element decides
    with pytest.raises(Indeterminate):
        holds("contains", ["b", None], "a")             # the unknown one might be it
    assert not holds("subset_of", ["x", None], ["a"])   # x alone rules it out
    with pytest.raises(Indeterminate):
        holds("subset_of", ["a", None], ["a"])
    assert holds("superset_of", ["a", None], ["a"])
    assert holds("intersects", ["a", None], ["a"])      # a known element decides
    assert not holds("intersects", [], ["a"]) and not holds("intersects", ["a"], [])
    with pytest.raises(Indeterminate):
        holds("intersects", ["b", None], ["a"])         # the unknown one might be listed
    with pytest.raises(Indeterminate):
        holds("superset_of", ["a", None], ["a", "b"])


def test_ipv6_cidrs() -> None:
    assert holds("cidr_within", "2600:1f18:0:1::/64", "2600:1f18::/56")
    assert not holds("cidr_within", "2600:1f19::/64", "2600:1f18::/56")
    assert not holds("cidr_within", "10.0.0.0/24", "::/0")      # versions never mix
    assert holds("cidr_overlaps", "::/0", ["10.0.0.0/8", "2600:1f18::/56"])
    assert holds("is_public_cidr", "::/0", True) and holds("is_public_cidr", "2600:1f18::/56", True)
    assert holds("is_public_cidr", "fd00::/8", False) and holds("is_public_cidr", "2001:db8::1", False)
    assert holds("cidr_within", "2600:1f18::5", "2600:1f18::/56")  # an address is a /128
    assert holds("cidr_within", "10.1.2.3/16", "10.1.0.0/16")    # host bits are tolerated


def test_public_cidrs() -> None:
    for public in ("0.0.0.0/0", "8.8.8.8", "10.0.0.0/7", "52.95.0.0/16"):
        assert holds("is_public_cidr", public, True), public
    for private in ("10.0.0.0/8", "172.16.0.0/12", "192.168.1.0/24", "100.64.0.0/10", "169.254.169.254",
                    "127.0.0.1"):
        assert holds("is_public_cidr", private, False), private


@given(st.ip_addresses())
def test_is_public_cidr_agrees_with_ipaddress_on_single_addresses(address: Any) -> None:
    assert holds("is_public_cidr", str(address), True) == ipaddress.ip_network(address).is_global


@pytest.mark.parametrize("observed,expected", [
    ({"from": None, "to": None}, (0, 65535)),                 # protocol -1: no ports means all
    ({"from_port": -1, "to_port": -1, "protocol": "-1"}, (0, 65535)),
    ({"from_port": 22, "to_port": 22, "protocol": "tcp"}, (22, 22)),
    ({"from_port": 8, "to_port": -1, "protocol": "icmp"}, None),  # ICMP type/code, not ports
    ({"from_port": -1, "to_port": -1, "protocol": "58"}, None),
    ({"from": 1000, "to": None}, (1000, 65535)),
    ("20-25", (20, 25)), (" 22 ", (22, 22)), (443, (443, 443)), (-1, (0, 65535)),
    ((None, None), (0, 65535)), ([80, 81], (80, 81)), ("0-65535", (0, 65535)),
])
def test_observed_port_ranges(observed: Any, expected: Any) -> None:
    assert observed_ports(observed) == expected


def test_ports_overlap_edges() -> None:
    assert holds("ports_overlap", {"from": 22, "to": 22}, 22)
    assert not holds("ports_overlap", {"from": 21, "to": 21}, 22)
    assert holds("ports_overlap", {"from": 23, "to": 30}, "20-23")    # shared end
    assert holds("ports_overlap", {"from": None, "to": None}, 65535)
    assert holds("ports_overlap", {"from": 0, "to": 0}, 0)
    assert not holds("ports_overlap", {"from_port": 8, "to_port": 0, "protocol": "icmp"}, [0, "1-65535"])
    assert holds("ports_overlap", 3389, [22, "3000-4000"]) and not holds("ports_overlap", 80, [22, "3000-4000"])


VALID_ARGS: dict[str, list[Any]] = {
    "eq": ["x", 1, True], "ne": ["x", 2.5], "in": [["a", 1], []], "not_in": [["a"], []],
    "contains": ["a", 1], "empty": [True], "not_empty": [True], "exists": [True, False],
    "subset_of": [["a", "b"]], "superset_of": [["a"]], "intersects": [["a"], []], "matches": ["^a", r"\d"],
    "cidr_within": ["10.0.0.0/8", ["::/0", "0.0.0.0/0"]], "cidr_overlaps": ["10.0.0.0/8", ["fd00::/8"]],
    "is_public_cidr": [True, False], "ports_overlap": [22, "0-1023", [22, "80-443"]],
    "gt": [0], "ge": [1.5], "lt": [-1], "le": [65535],
    "policy_principals_within": [[], ["o-abc1234567", "111111111111", "arn:aws:iam::*:role/x", "*.amazonaws.com"]],
    "policy_actions_within": [[], ["sqs:Send*", "*"]],
    "policy_resources_within": [[], ["o-abc1234567", "111111111111", "arn:aws:s3:::bucket/*"]],
}

BAD_ARGS: list[tuple[str, Any, str]] = [
    ("policy_principals_within", "o-abc1234567", "expected a list"),
    ("policy_principals_within", ["everyone"], "item 0: expected 12-digit account ids"),
    ("policy_actions_within", ["SendMessage"], "item 0: expected IAM action patterns"),
    ("policy_resources_within", ["my-bucket"], "item 0: expected 12-digit account ids"),
    ("eq", None, "exists: false"),
    ("eq", ["a"], "got a list"),
    ("in", "a", "expected a list"),
    ("in", [["a"]], "item 0"),
    ("contains", {"a": 1}, "got a mapping"),
    ("empty", False, "expected true"),
    ("not_empty", "yes", "expected true"),
    ("exists", "true", "expected true or false"),
    ("subset_of", "a", "expected a list"),
    ("intersects", "a", "expected a list"),
    ("matches", "([a-z]", "missing ), unterminated subpattern"),
    ("matches", 5, "regular expression string"),
    ("cidr_within", "10.0.0.300/8", "bad CIDR '10.0.0.300/8'"),
    ("cidr_within", [], "non-empty list"),
    ("cidr_overlaps", ["10.0.0.0/8", 5], "expected a CIDR string"),
    ("is_public_cidr", "yes", "expected true or false"),
    ("ports_overlap", "22-21", "22 is above 21"),
    ("ports_overlap", 70000, "0-65535"),
    ("ports_overlap", "ssh", "port N or range N-M"),
    ("ports_overlap", [], "non-empty"),
    ("ports_overlap", True, "whole number"),
    ("gt", "5", "expected a number"),
    ("le", True, "expected a number"),
    ("ge", float("nan"), "expected a number"),
]


@pytest.mark.parametrize("op,arg,message", BAD_ARGS)
def test_bad_arguments_are_explained(op: str, arg: Any, message: str) -> None:
    problem = OPERATORS[op].check_arg(arg)
    assert problem is not None and message in problem, problem
    with pytest.raises(ValueError, match="bad argument"):
        holds(op, "x", arg)


def test_every_operator_has_valid_args_listed_and_a_bad_one_tested() -> None:
    assert set(VALID_ARGS) == set(OPERATORS)
    assert {op for op, *_ in BAD_ARGS} | {"ne", "not_in", "superset_of", "lt"} == set(OPERATORS)
    for op, args in VALID_ARGS.items():
        assert all(OPERATORS[op].check_arg(a) is None for a in args), op


@pytest.mark.parametrize("op,arg,text", [
    ("eq", "available", "equals available"),
    ("in", ["a", "b"], "is one of [a, b]"),
    ("empty", True, "is empty"),
    ("exists", False, "is unknown or absent"),
    ("cidr_within", "10.0.0.0/8", "lies within 10.0.0.0/8"),
    ("cidr_overlaps", ["10.0.0.0/8", "::/0"], "overlaps [10.0.0.0/8, ::/0]"),
    ("is_public_cidr", False, "is not a globally routable CIDR"),
    ("ports_overlap", 22, "overlaps port 22 (no port range counts as all ports 0-65535; ICMP opens none)"),
    ("ports_overlap", [22, "80-443"], "overlaps ports 22, 80-443"),
    ("matches", "^prod-", "matches /^prod-/"),
    ("gt", 3, "is greater than 3"),
    ("eq", True, "equals true"),
])
def test_descriptions_read_as_expectations(op: str, arg: Any, text: str) -> None:
    assert OPERATORS[op].describe(arg).startswith(text)


def test_every_operator_describes_every_valid_argument() -> None:
    for op, args in VALID_ARGS.items():
        for arg in args:
            # conditions.py words negation as "not (...)" and relies on no description doing so
            assert OPERATORS[op].describe(arg) and not OPERATORS[op].describe(arg).startswith("not (")


# -- properties ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-70000, 70000) | st.floats(allow_nan=True) | st.text(max_size=12)
    | st.sampled_from(["10.0.0.0/8", "::/0", "0.0.0.0/0", "22", "20-25", "fe80::1%eth0", "1.2.3.4/33", "-1"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["from", "to", "from_port", "to_port", "protocol", "x"]), inner, max_size=4),
    max_leaves=12) | st.just(ABSENT)


@settings(max_examples=400, deadline=None)
@given(op=st.sampled_from(sorted(OPERATORS)), observed=json_values, data=st.data())
def test_operators_raise_nothing_but_indeterminate(op: str, observed: Any, data: st.DataObject) -> None:
    arg = data.draw(st.sampled_from(VALID_ARGS[op]))
    try:
        result = holds(op, observed, arg)
    except Indeterminate:
        return
    assert isinstance(result, bool)


PAIRS = [("eq", "ne"), ("in", "not_in"), ("empty", "not_empty")]


@settings(max_examples=300, deadline=None)
@given(pair=st.sampled_from(PAIRS), observed=json_values, data=st.data())
def test_paired_operators_are_exact_opposites_when_determinate(pair: tuple[str, str], observed: Any,
                                                               data: st.DataObject) -> None:
    yes, no = pair
    arg = data.draw(st.sampled_from(VALID_ARGS[yes]))
    try:
        a = holds(yes, observed, arg)
    except Indeterminate:
        with pytest.raises(Indeterminate):
            holds(no, observed, arg)
        return
    assert holds(no, observed, arg) is (not a)


@given(st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "::/0", "fd00::/8", "100.64.0.0/10", "3.5.0.0/16"]))
def test_is_public_cidr_true_and_false_are_opposites(cidr: str) -> None:
    assert holds("is_public_cidr", cidr, True) is not holds("is_public_cidr", cidr, False)
