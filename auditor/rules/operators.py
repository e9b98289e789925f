"""The operator vocabulary of rule conditions (docs/rule-packs.md, "Operators").

`OPERATORS` maps each operator name to an `Operator`: its argument kind and argument check
(used by the pack validator when a pack loads), its test, and a description of the expected
condition in words (used as evidence).

Contract of `Operator.test(observed, arg)`, which sees JSON-ish values (None, bool, int,
float, str, lists, dicts) and the `ABSENT` marker:

- It never guesses. `None` means *unknown* (docs/model.md), so every operator except
  `exists` raises `Indeterminate` on it, `empty` included: an unknown list is not an empty
  one. Missing data therefore can never make a check, or its negation, pass.
- An observed value of a kind the operator cannot read (a list given to `eq`, a number to
  `matches`, "pl-123" to a CIDR operator) also raises `Indeterminate`: the rule and the
  data disagree, and neither a pass nor a fail would be honest.
- Inside lists, `None` elements are unknown too, with three-valued logic: `contains` is
  true when a known element matches even if others are unknown, and raises `Indeterminate`
  only when the answer depends on the unknown ones (likewise `subset_of`, `superset_of`).
- `ABSENT` is a value *known not to exist* (a tag the resource does not carry). It
  satisfies `exists: false`, `empty`, `ne` and `not_in`, and no other operator.
- It raises nothing but `Indeterminate` for any observed value, given an argument that
  `check_arg` accepts; it raises ValueError for an argument that `check_arg` rejects
  (callers validate arguments first, so that is a bug, not data).
- Equality never coerces: "80" is not 80, and true is not 1; 1 equals 1.0.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Any, Final
from collections.abc import Callable, Iterable

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Indeterminate(Exception):
    """The observed value does not allow a definite answer (unknown, or of the wrong kind)."""


class Absent:
    """The type of `ABSENT`: a value known not to exist (not unknown)."""

    _instance: Absent | None = None

    def __new__(cls) -> Absent:
        # One marker only, so `is ABSENT` is the test everywhere.
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = Absent()

# Which operators an ABSENT value satisfies (every other one is false on it).
_ABSENT_HOLDS = frozenset({"empty", "ne", "not_in"})


@dataclass(frozen=True)
class Operator:
    """One operator: argument kind and check, test, and describe-in-words."""

    name: str
    arg_kind: str                       # scalar list bool true regex cidrs ports number
    doc: str                            # what it tests, for generated docs
    _check: Callable[[Any], str | None]
    _test: Callable[[Any, Any], bool]
    _describe: Callable[[Any], str]
    _explain: Callable[[Any, Any], str] | None = None

    def check_arg(self, arg: Any) -> str | None:
        """Why `arg` is not a valid argument of this operator, or None when it is."""
        return self._check(arg)

    def test(self, observed: Any, arg: Any) -> bool:
        """Whether the operator holds for `observed` (see the module contract)."""
        problem = self._check(arg)
        if problem is not None:
            raise ValueError(f"bad argument for {self.name}: {problem}")
        if self.name == "exists":
            return bool((observed is not None and observed is not ABSENT) == arg)
        if observed is None:
            raise Indeterminate("the value is unknown (not collected, or AWS did not say)")
        if observed is ABSENT:
            return self.name in _ABSENT_HOLDS
        return self._test(observed, arg)

    def describe(self, arg: Any) -> str:
        """The expected condition in words, e.g. "is one of [a, b]"."""
        return self._describe(arg)

    def explain(self, observed: Any, arg: Any) -> str:
        """Why the operator does not hold for `observed`, for the evidence (a counter-example
        for the policy operators); "" for operators whose expectation says it all. Call it
        only after `test` returned False for the same value and argument."""
        if self._explain is None or observed is None or observed is ABSENT:
            return ""
        try:
            return self._explain(observed, arg)
        except Indeterminate:
            return ""


# -- value kinds -------------------------------------------------------------------------

def fmt(value: Any) -> str:
    """A value as a rule author would write it: bare strings, true/false, null, [a, b]."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not (isinstance(value, float) and math.isnan(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    """Equality without coercion: booleans equal only booleans, numbers compare by value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def _scalar(observed: Any, op: str) -> Any:
    if not _is_scalar(observed):
        raise Indeterminate(f"{op} compares a single value, but the value is {_kind(observed)}")
    return observed


def _sequence(observed: Any, op: str) -> list[Any]:
    if not isinstance(observed, (list, tuple)):
        raise Indeterminate(f"{op} reads a list, but the value is {_kind(observed)}")
    return list(observed)


def _kind(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return "not a number" if isinstance(value, float) and math.isnan(value) else "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _member(observed: Any, items: Iterable[Any]) -> bool:
    """Three-valued membership of a known value in a list that may hold unknowns."""
    items = list(items)
    if any(x is not None and _same(observed, x) for x in items):
        return True
    if any(x is None for x in items):
        raise Indeterminate("the list holds unknown elements")
    return False


# -- argument checks -------------------------------------------------------------------

def _check_scalar(arg: Any) -> str | None:
    if arg is None:
        return "expected a string, number or boolean, got null (to test for an unknown value use exists: false)"
    if not _is_scalar(arg):
        return f"expected a string, number or boolean, got {_kind(arg)}"
    return None


def _check_list(arg: Any) -> str | None:
    if not isinstance(arg, (list, tuple)):
        return f"expected a list, got {_kind(arg)}"
    for i, item in enumerate(arg):
        err = _check_scalar(item)
        if err:
            return f"item {i}: {err}"
    return None


def _check_bool(arg: Any) -> str | None:
    return None if isinstance(arg, bool) else f"expected true or false, got {fmt(arg)}"


def _check_true(arg: Any) -> str | None:
    # `empty: false` would read as "not empty" to some and as "no check" to others.
    return None if arg is True else f"expected true (for the opposite use the paired operator), got {fmt(arg)}"


def _check_regex(arg: Any) -> str | None:
    if not isinstance(arg, str):
        return f"expected a regular expression string, got {_kind(arg)}"
    try:
        re.compile(arg)
    except re.error as exc:
        return f"bad regular expression {arg!r}: {exc}"
    return None


def _networks(arg: Any) -> list[IpNetwork]:
    """The argument CIDRs (one CIDR or a list), parsed; ValueError when one is not a CIDR."""
    items = arg if isinstance(arg, (list, tuple)) else [arg]
    out = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"expected a CIDR string, got {_kind(item)} {fmt(item)}")
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"bad CIDR {item!r}: {exc}") from None
    return out


def _check_cidrs(arg: Any) -> str | None:
    if isinstance(arg, (list, tuple)) and not arg:
        return "expected a CIDR or a non-empty list of CIDRs, got []"
    try:
        _networks(arg)
    except ValueError as exc:
        return str(exc)
    return None


def _check_number(arg: Any) -> str | None:
    if not _is_number(arg) or not math.isfinite(arg):
        return f"expected a number, got {_kind(arg)} {fmt(arg)}"
    return None


# -- ports -----------------------------------------------------------------------------

MAX_PORT = 65535
ALL_PORTS = (0, MAX_PORT)
# ICMP rules carry type/code in their "port" fields: they open no port at all.
_ICMP = frozenset({"1", "icmp", "58", "icmpv6"})
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def _port(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PORT:
        raise ValueError(f"a port is a whole number 0-{MAX_PORT}, got {fmt(value)}")
    return value


def _range_text(text: str) -> tuple[int, int]:
    m = _RANGE.match(text)
    if not m:
        raise ValueError(f"expected a port N or range N-M, got {text!r}")
    lo = _port(int(m.group(1)))
    hi = _port(int(m.group(2))) if m.group(2) else lo
    if lo > hi:
        raise ValueError(f"bad port range {text!r}: {lo} is above {hi}")
    return lo, hi


def _arg_ranges(arg: Any) -> list[tuple[int, int]]:
    """The argument's port ranges (N, "N-M", or a non-empty list of those); ValueError if bad."""
    items = arg if isinstance(arg, (list, tuple)) else [arg]
    if not items:
        raise ValueError("expected a port, a range or a non-empty list of them, got []")
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(_range_text(item))
        else:
            p = _port(item)
            out.append((p, p))
    return out


def _check_ports(arg: Any) -> str | None:
    try:
        _arg_ranges(arg)
    except ValueError as exc:
        return str(exc)
    return None


def _end(value: Any, default: int) -> int:
    # AWS writes "no port" as a missing field (None) or -1, for protocol -1 (all traffic).
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value == -1):
        return default
    try:
        return _port(value)
    except ValueError as exc:
        raise Indeterminate(str(exc)) from None


def observed_ports(observed: Any) -> tuple[int, int] | None:
    """The port range an observed value opens: (from, to), or None when it opens none (ICMP).

    Reads {"from", "to"} or {"from_port", "to_port"} mappings (a security group rule or NACL
    entry as a whole, whose "protocol" is honoured), "N-M" or "N" strings, an int, or a
    (from, to) pair. A missing end (None or -1: protocol -1 rules have no ports) is open,
    so a rule without ports counts as all ports 0-65535. Raises Indeterminate otherwise."""
    if isinstance(observed, dict):
        if str(observed.get("protocol", "")).lower() in _ICMP:
            return None
        if "from" in observed or "to" in observed:
            lo, hi = observed.get("from"), observed.get("to")
        elif "from_port" in observed or "to_port" in observed:
            lo, hi = observed.get("from_port"), observed.get("to_port")
        else:
            raise Indeterminate("the mapping has no port range (from/to or from_port/to_port)")
    elif isinstance(observed, (list, tuple)) and len(observed) == 2:
        lo, hi = observed
    elif isinstance(observed, str):
        try:
            return _range_text(observed)
        except ValueError as exc:
            raise Indeterminate(str(exc)) from None
    elif isinstance(observed, int) and not isinstance(observed, bool):
        lo = hi = observed
    else:
        raise Indeterminate(f"expected a port range, got {_kind(observed)}")
    start, stop = _end(lo, ALL_PORTS[0]), _end(hi, ALL_PORTS[1])
    if start > stop:
        raise Indeterminate(f"bad port range {start}-{stop}")
    return start, stop


def _ports_overlap(observed: Any, arg: Any) -> bool:
    got = observed_ports(observed)
    if got is None:
        return False
    return any(lo <= got[1] and got[0] <= hi for lo, hi in _arg_ranges(arg))


# -- tests -----------------------------------------------------------------------------

def _eq(observed: Any, arg: Any) -> bool:
    return _same(_scalar(observed, "eq"), arg)


def _ne(observed: Any, arg: Any) -> bool:
    return not _same(_scalar(observed, "ne"), arg)


def _in(observed: Any, arg: Any) -> bool:
    return any(_same(_scalar(observed, "in"), x) for x in arg)


def _not_in(observed: Any, arg: Any) -> bool:
    return not any(_same(_scalar(observed, "not_in"), x) for x in arg)


def _contains(observed: Any, arg: Any) -> bool:
    if isinstance(observed, (list, tuple)):
        return _member(arg, observed)
    if isinstance(observed, str) and isinstance(arg, str):
        return arg in observed
    if isinstance(observed, dict) and isinstance(arg, str):
        return arg in observed
    raise Indeterminate(f"contains reads a list, or a string for a string argument; the value is {_kind(observed)}")


def _size(observed: Any, op: str) -> int:
    if not isinstance(observed, (str, list, tuple, dict)):
        raise Indeterminate(f"{op} reads a string, list or mapping; the value is {_kind(observed)}")
    return len(observed)


def _subset_of(observed: Any, arg: Any) -> bool:
    items = _sequence(observed, "subset_of")
    if any(x is not None and not _member(x, arg) for x in items):
        return False
    if any(x is None for x in items):
        raise Indeterminate("the list holds unknown elements")
    return True


def _superset_of(observed: Any, arg: Any) -> bool:
    items = _sequence(observed, "superset_of")
    known = [x for x in items if x is not None]
    if all(any(_same(x, want) for x in known) for want in arg):
        return True
    if len(known) < len(items):
        # An unknown element could be the one that is missing.
        raise Indeterminate("the list holds unknown elements")
    return False


def _intersects(observed: Any, arg: Any) -> bool:
    items = _sequence(observed, "intersects")
    if any(x is not None and _member(x, arg) for x in items):
        return True
    if any(x is None for x in items):
        # An unknown element could be the one the argument lists.
        raise Indeterminate("the list holds unknown elements")
    return False


def _matches(observed: Any, arg: Any) -> bool:
    if not isinstance(observed, str):
        raise Indeterminate(f"matches reads a string; the value is {_kind(observed)}")
    return re.search(arg, observed) is not None


def _network(observed: Any) -> IpNetwork:
    if not isinstance(observed, str):
        raise Indeterminate(f"expected a CIDR or IP address, got {_kind(observed)}")
    try:
        return ipaddress.ip_network(observed.strip(), strict=False)
    except ValueError:
        raise Indeterminate(f"{observed!r} is not a CIDR or IP address") from None


def _cidr_within(observed: Any, arg: Any) -> bool:
    net = _network(observed)
    # subnet_of wants both of one IP version (checked first); mypy cannot see that.
    return any(net.version == a.version and net.subnet_of(a) for a in _networks(arg))  # type: ignore[arg-type]


def _cidr_overlaps(observed: Any, arg: Any) -> bool:
    net = _network(observed)
    return any(net.version == a.version and net.overlaps(a) for a in _networks(arg))


def _is_public_cidr(observed: Any, arg: Any) -> bool:
    # ipaddress calls a network global unless it lies wholly inside one non-global block
    # (RFC 1918, CGNAT, ULA, ...): 0.0.0.0/0 and ::/0 are public, 10.0.0.0/8 is not.
    return bool(_network(observed).is_global == arg)


def _compare(name: str, fn: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def test(observed: Any, arg: Any) -> bool:
        if not _is_number(observed) or math.isnan(observed):
            raise Indeterminate(f"{name} compares numbers; the value is {_kind(observed)}")
        return fn(observed, arg)
    return test


# -- IAM policies (auditor/analyze/policy.py) -----------------------------------------

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ORG_ID = re.compile(r"^o-[a-z0-9]+$")
_SERVICE_PRINCIPAL = re.compile(r"^[A-Za-z0-9*?.-]+\.[A-Za-z0-9*?.-]+$")
_ACTION_PATTERN = re.compile(r"^(\*|[a-z0-9*?-]+:[A-Za-z0-9*?]+)$")


def _check_ids(what: str, accept: Callable[[str], bool]) -> Callable[[Any], str | None]:
    def check(arg: Any) -> str | None:
        if not isinstance(arg, (list, tuple)):
            return f"expected a list of {what}, got {_kind(arg)}"
        for i, item in enumerate(arg):
            if not isinstance(item, str) or not accept(item):
                return f"item {i}: expected {what}, got {fmt(item)}"
        return None
    return check


def _is_principal_id(item: str) -> bool:
    return bool(_ACCOUNT_ID.match(item) or _ORG_ID.match(item) or item.startswith("arn:")
                or _SERVICE_PRINCIPAL.match(item))


def _is_resource_id(item: str) -> bool:
    return bool(item == "*" or _ACCOUNT_ID.match(item) or _ORG_ID.match(item) or item.startswith("arn:"))


_PRINCIPAL_IDS = ("12-digit account ids, organisation ids (o-...), principal ARNs or service principals "
                  "(*.amazonaws.com)")
_ACTION_IDS = "IAM action patterns (service:Action, wildcards allowed, or *)"
_RESOURCE_IDS = "12-digit account ids, organisation ids (o-...), resource ARN patterns or * (every resource)"


def _policy(observed: Any) -> Any:
    """The observed IAM policy document, parsed; Indeterminate when it is none."""
    from auditor.analyze.policy import PolicyError, parse_cached

    if not isinstance(observed, (dict, str)):
        raise Indeterminate(f"a policy operator reads an IAM policy document; the value is {_kind(observed)}")
    try:
        return parse_cached(observed)
    except PolicyError as exc:
        raise Indeterminate(f"the policy cannot be analysed: {exc}") from None


def _policy_outside(dimension: str) -> Callable[[Any, Any], str | None]:
    def outside(observed: Any, arg: Any) -> str | None:
        from auditor.analyze import policy

        finder = {"principals": policy.principals_outside, "actions": policy.actions_outside,
                  "resources": policy.resources_outside}[dimension]
        found: str | None = finder(_policy(observed), tuple(arg))
        return found
    return outside


def _policy_test(dimension: str) -> Callable[[Any, Any], bool]:
    outside = _policy_outside(dimension)
    return lambda observed, arg: outside(observed, arg) is None


def _policy_explain(dimension: str) -> Callable[[Any, Any], str]:
    outside = _policy_outside(dimension)

    def explain(observed: Any, arg: Any) -> str:
        found = outside(observed, arg)
        return f"counter-example: {found}" if found else ""
    return explain


def _principals_text(arg: Any) -> str:
    if not arg:
        return ("lets no principal through unscoped (every Allow is limited to named accounts, principal ARNs, "
                "organisations or AWS service principals)")
    return f"lets only principals within {fmt(arg)} through"


def _actions_text(arg: Any) -> str:
    if not arg:
        return "allows any action (no service constrained)"
    return f"allows only actions matching {fmt(arg)} (in the services the list names)"


def _resources_text(arg: Any) -> str:
    if "*" in arg:
        return "lets requests reach any resource (* trusts every resource)"
    if not arg:
        return ("lets requests reach no resource unscoped (every Allow is limited to named resources, accounts or "
                "organisations)")
    return f"lets requests reach only resources in {fmt(arg)}"


# -- descriptions ----------------------------------------------------------------------

def _ports_text(arg: Any) -> str:
    ranges = _arg_ranges(arg)
    text = ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)
    plural = "s" if len(ranges) > 1 or ranges[0][0] != ranges[0][1] else ""
    return f"overlaps port{plural} {text} (no port range counts as all ports 0-65535; ICMP opens none)"


def _cidrs_text(arg: Any) -> str:
    return fmt(arg) if isinstance(arg, (list, tuple)) else str(arg)


def _op(name: str, arg_kind: str, doc: str, check: Callable[[Any], str | None], test: Callable[[Any, Any], bool],
        describe: Callable[[Any], str], explain: Callable[[Any, Any], str] | None = None) -> Operator:
    return Operator(name, arg_kind, doc, check, test, describe, explain)


_ALL: tuple[Operator, ...] = (
    _op("eq", "scalar", "equals the argument", _check_scalar, _eq, lambda a: f"equals {fmt(a)}"),
    _op("ne", "scalar", "differs from the argument", _check_scalar, _ne, lambda a: f"differs from {fmt(a)}"),
    _op("in", "list", "is one of the list", _check_list, _in, lambda a: f"is one of {fmt(a)}"),
    _op("not_in", "list", "is none of the list", _check_list, _not_in, lambda a: f"is none of {fmt(a)}"),
    _op("contains", "scalar", "(a list, or a string) contains the argument", _check_scalar, _contains,
        lambda a: f"contains {fmt(a)}"),
    _op("empty", "true", "is empty (\"\", [], {}); unknown is not empty", _check_true,
        lambda o, a: _size(o, "empty") == 0, lambda a: "is empty"),
    _op("not_empty", "true", "is not empty", _check_true,
        lambda o, a: _size(o, "not_empty") > 0, lambda a: "is not empty"),
    _op("exists", "bool", "is known (true) / is unknown or absent (false)", _check_bool,
        lambda o, a: True, lambda a: "is known" if a else "is unknown or absent"),
    _op("subset_of", "list", "(a list) has only elements of the argument", _check_list, _subset_of,
        lambda a: f"has only elements of {fmt(a)}"),
    _op("superset_of", "list", "(a list) has every element of the argument", _check_list, _superset_of,
        lambda a: f"has every element of {fmt(a)}"),
    _op("intersects", "list", "(a list) has at least one element of the argument", _check_list, _intersects,
        lambda a: f"has an element of {fmt(a)}"),
    _op("matches", "regex", "(a string) matches the regular expression (re.search)", _check_regex, _matches,
        lambda a: f"matches /{a}/"),
    _op("cidr_within", "cidrs", "(a CIDR or IP) lies within one of the argument CIDRs", _check_cidrs,
        _cidr_within, lambda a: f"lies within {_cidrs_text(a)}"),
    _op("cidr_overlaps", "cidrs", "(a CIDR or IP) overlaps one of the argument CIDRs", _check_cidrs,
        _cidr_overlaps, lambda a: f"overlaps {_cidrs_text(a)}"),
    _op("is_public_cidr", "bool", "(a CIDR or IP) is (true) / is not (false) globally routable", _check_bool,
        _is_public_cidr, lambda a: "is a globally routable CIDR" if a else "is not a globally routable CIDR"),
    _op("ports_overlap", "ports", "(a port range) overlaps one of the argument ports or ranges", _check_ports,
        _ports_overlap, _ports_text),
    _op("gt", "number", "is greater than the argument", _check_number, _compare("gt", lambda o, a: o > a),
        lambda a: f"is greater than {fmt(a)}"),
    _op("ge", "number", "is at least the argument", _check_number, _compare("ge", lambda o, a: o >= a),
        lambda a: f"is at least {fmt(a)}"),
    _op("lt", "number", "is less than the argument", _check_number, _compare("lt", lambda o, a: o < a),
        lambda a: f"is less than {fmt(a)}"),
    _op("le", "number", "is at most the argument", _check_number, _compare("le", lambda o, a: o <= a),
        lambda a: f"is at most {fmt(a)}"),
    _op("policy_principals_within", "list",
        "(an IAM policy) lets through only principals within the list; [] : no unscoped principal",
        _check_ids(_PRINCIPAL_IDS, _is_principal_id), _policy_test("principals"), _principals_text,
        _policy_explain("principals")),
    _op("policy_actions_within", "list",
        "(an IAM policy) allows, in each service the list names, only actions the list matches",
        _check_ids(_ACTION_IDS, lambda item: bool(_ACTION_PATTERN.match(item))), _policy_test("actions"),
        _actions_text, _policy_explain("actions")),
    _op("policy_resources_within", "list",
        "(an IAM policy) lets requests reach only resources in the listed accounts, organisations or ARNs "
        "(* : any); [] : no unscoped resource",
        _check_ids(_RESOURCE_IDS, _is_resource_id), _policy_test("resources"), _resources_text,
        _policy_explain("resources")),
)

OPERATORS: dict[str, Operator] = {op.name: op for op in _ALL}
