"""Evaluate a rule's condition tree on one resource: PASS, FAIL or ERROR, with evidence.

A condition is plain data (docs/rule-packs.md): ``{all: [...]}``, ``{any: [...]}``,
``{not: c}``, or a leaf ``{attr: PATH, OPERATOR: ARGUMENT}`` with an optional
``quantifier: any|all`` on ``[*]`` paths. Arguments may be ``${param}`` (the parameter's
value, its type kept) or hold ``${param}`` inside a longer string (its text).

Three-valued, so that missing data is never a PASS:

- a leaf is ERROR when a call its attribute requires was not collected for the resource's
  account and region, or when its operator raises `Indeterminate` (an unknown value);
- a ``[*]`` leaf tests each element: with ``any`` (the default) it is PASS when some
  element holds, else ERROR when some element is indeterminate, else FAIL (FAIL on an
  empty list); with ``all`` it is FAIL when some element fails, else ERROR when some is
  indeterminate, else PASS (PASS on an empty list);
- ``all`` is FAIL when any child FAILs (a definite failure outweighs an unknown), else
  ERROR when any child is ERROR, else PASS;
- ``any`` is PASS when any child PASSes (a definite pass is enough), else ERROR when any
  child is ERROR, else FAIL;
- ``not`` swaps PASS and FAIL and keeps ERROR.

Evidence lists the leaves that decided the outcome: for a FAIL of ``all`` the failing
children, for a PASS of ``any`` the passing ones, for an ERROR the erroring ones, otherwise
every child. Under ``not`` a leaf's expectation reads "not (...)" (twice: as it was) and
its `holds` flips, so `holds` always says whether the stated expectation is met.

A malformed condition, an unknown parameter or a bad argument is the rule's fault, not
the data's: it raises `ConditionError` (the pack checks catch these when a pack loads).
"""

from __future__ import annotations

import re
from collections import abc
from dataclasses import dataclass, replace
from typing import Any, Literal
from collections.abc import Callable, Mapping

from auditor.model.types import Model, Resource, SourceRef
from auditor.rules.attributes import Resolved, attribute_info, json_of, resolve
from auditor.rules.operators import ABSENT, OPERATORS, Indeterminate, Operator

Status = Literal["pass", "fail", "error"]
PARAM_REF = re.compile(r"\$\{([^}]*)\}")  # as the pack checks read references
QUANTIFIERS = ("any", "all")


class ConditionError(ValueError):
    """The condition itself is wrong (shape, operator, parameter or argument)."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """One leaf as evaluated: the observed value (JSON data), the expectation in words,
    whether it holds (None: it could not be decided, `note` says why) and the records the
    value came from."""

    path: str
    observed: Any
    expected: str
    holds: bool | None
    sources: tuple[SourceRef, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a condition on one resource and the leaves that decided it."""

    status: Status
    evidence: tuple[Evidence, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        """Why the outcome is an ERROR: the notes of the undecided leaves."""
        return tuple(f"{e.path}: {e.note}" for e in self.evidence if e.holds is None)


# -- parameters ------------------------------------------------------------------------

def _text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ConditionError(f"parameter '{name}' is {type(value).__name__}: it can only be used as a whole "
                         f"argument (\"${{{name}}}\"), not inside a string")


def substitute(arg: Any, params: Mapping[str, Any]) -> Any:
    """`arg` with its ``${param}`` references replaced: a whole-string reference by the
    parameter's value (type kept), a reference inside a string by its text; recursively
    inside lists. Raises ConditionError for an unknown parameter."""
    if isinstance(arg, str):
        def value(name: str) -> Any:
            if name not in params:
                known = ", ".join(sorted(params)) or "none"
                raise ConditionError(f"unknown parameter '${{{name}}}' (parameters: {known})")
            return params[name]

        whole = PARAM_REF.fullmatch(arg)
        if whole:
            return value(whole.group(1))
        return PARAM_REF.sub(lambda m: _text(m.group(1), value(m.group(1))), arg)
    if isinstance(arg, (list, tuple)):
        return [substitute(item, params) for item in arg]
    return arg


# -- evaluation ------------------------------------------------------------------------
#
# A condition is compiled once (shape, operator, parameters and arguments checked, the
# expectation worded) into a tree of closures; running it on a resource only resolves
# attributes and tests them. The engine compiles each rule once per run.

Compiled = Callable[[Model, Resource], Outcome]


def evaluate(condition: Mapping[str, Any], model: Model, resource: Resource,
             params: Mapping[str, Any] | None = None) -> Outcome:
    """The outcome of `condition` on `resource` (see the module contract)."""
    return compile_condition(condition, resource.type_name, params)(model, resource)


def compile_condition(condition: Any, resource_type: str, params: Mapping[str, Any] | None = None) -> Compiled:
    """`condition` ready to run on resources of `resource_type`. Raises ConditionError for
    a malformed condition, an unknown parameter or a bad argument."""
    return _compile(condition, resource_type, params or {})


def _compile(node: Any, rtype: str, params: Mapping[str, Any]) -> Compiled:
    if not isinstance(node, abc.Mapping):
        raise ConditionError(f"a condition is a mapping, got {type(node).__name__}: {node!r}")
    if "attr" in node:
        return _leaf(node, rtype, params)
    forms = [k for k in _GROUPS if k in node]
    if len(forms) != 1 or len(node) != 1:
        raise ConditionError(f"a condition is {{all: [...]}}, {{any: [...]}}, {{not: ...}} or "
                             f"{{attr: PATH, OPERATOR: ARGUMENT}}; got keys {sorted(map(str, node))}")
    return _GROUPS[forms[0]](node[forms[0]], rtype, params)


def _children(value: Any, form: str, rtype: str, params: Mapping[str, Any]) -> tuple[Compiled, ...]:
    if not isinstance(value, abc.Sequence) or isinstance(value, str):
        raise ConditionError(f"{form} takes a list of conditions, got {type(value).__name__}")
    return tuple(_compile(child, rtype, params) for child in value)


def _pick(outcomes: list[Outcome], status: Status) -> tuple[Evidence, ...]:
    return tuple(e for o in outcomes if o.status == status for e in o.evidence)


def _combining(form: str, decisive: tuple[Status, Status], otherwise: Status
               ) -> Callable[[Any, str, Mapping[str, Any]], Compiled]:
    """`all` (decided by a fail, then an error; else pass) or `any` (by a pass, then an
    error; else fail): the first decisive status any child has wins, with those children's
    evidence; otherwise every child's evidence."""
    def build(value: Any, rtype: str, params: Mapping[str, Any]) -> Compiled:
        children = _children(value, form, rtype, params)

        def run(model: Model, resource: Resource) -> Outcome:
            outcomes = [c(model, resource) for c in children]
            for status in decisive:
                if any(o.status == status for o in outcomes):
                    return Outcome(status, _pick(outcomes, status))
            return Outcome(otherwise, tuple(e for o in outcomes for e in o.evidence))
        return run
    return build


_all = _combining("all", ("fail", "error"), "pass")
_any = _combining("any", ("pass", "error"), "fail")


_SWAP: dict[Status, Status] = {"pass": "fail", "fail": "pass", "error": "error"}


def _negated(expected: str) -> str:
    # Operator descriptions never start with "not (", so this only undoes our own wrapping:
    # a double negation reads as the plain expectation.
    if expected.startswith("not (") and expected.endswith(")"):
        return expected[len("not ("):-1]
    return f"not ({expected})"


def _not(value: Any, rtype: str, params: Mapping[str, Any]) -> Compiled:
    inner = _compile(value, rtype, params)

    def run(model: Model, resource: Resource) -> Outcome:
        out = inner(model, resource)
        return Outcome(_SWAP[out.status], tuple(
            replace(e, expected=_negated(e.expected), holds=None if e.holds is None else not e.holds)
            for e in out.evidence))
    return run


_GROUPS: dict[str, Callable[[Any, str, Mapping[str, Any]], Compiled]] = {"all": _all, "any": _any, "not": _not}


def _operator(node: Mapping[str, Any]) -> Operator:
    names = [k for k in node if k not in ("attr", "quantifier")]
    unknown = [k for k in names if k not in OPERATORS]
    if unknown or len(names) != 1:
        raise ConditionError(f"a leaf has exactly one operator of {', '.join(OPERATORS)}; got {names}")
    return OPERATORS[names[0]]


def _leaf(node: Mapping[str, Any], rtype: str, params: Mapping[str, Any]) -> Compiled:
    path = node["attr"]
    if not isinstance(path, str):
        raise ConditionError(f"attr is an attribute path string, got {path!r}")
    op = _operator(node)
    arg = substitute(node[op.name], params)
    problem = op.check_arg(arg)
    if problem:
        raise ConditionError(f"bad argument for {op.name} on {path}: {problem}")
    quantifier = node.get("quantifier", "any")
    if quantifier not in QUANTIFIERS or ("quantifier" in node and "[*]" not in path):
        raise ConditionError(f"quantifier is any or all, on a path with [*]; got {quantifier!r} on {path}")
    try:
        attribute_info(rtype, path)
    except KeyError as exc:
        raise ConditionError(exc.args[0] if exc.args else str(exc)) from None
    described = op.describe(arg)
    expected_many = f"{'every' if quantifier == 'all' else 'some'} element {described}"

    def run(model: Model, resource: Resource) -> Outcome:
        resolved = resolve(model, resource, path)
        expected = expected_many if resolved.many else described
        data = json_of(model, resolved)
        # What was collected of a value whose calls failed may be partial: show none of it.
        observed = None if resolved.missing else _without_absent(data)

        def evidence(holds: bool | None, note: str = "") -> Outcome:
            status: Status = "error" if holds is None else "pass" if holds else "fail"
            return Outcome(status, (Evidence(path, observed, expected, holds, resolved.sources, note),))

        if resolved.missing:
            return evidence(None, "not collected for this account and region: " + ", ".join(resolved.missing))
        try:
            holds, note = _test(op, arg, resolved, quantifier, data)
        except Indeterminate as exc:
            return evidence(None, f"indeterminate: {exc}")
        return evidence(holds, note)
    return run


def _without_absent(data: Any) -> Any:
    """JSON data as shown in evidence: an absent tag is null (ABSENT appears only as the
    value or as an element of a [*] list)."""
    if data is ABSENT:
        return None
    if isinstance(data, list) and any(x is ABSENT for x in data):
        return [None if x is ABSENT else x for x in data]
    return data


def _test(op: Operator, arg: Any, resolved: Resolved, quantifier: str, data: Any) -> tuple[bool, str]:
    """Whether the leaf holds, and which elements decided it; raises Indeterminate. When
    it does not hold, the operator's explanation of the failing value(s) joins the note
    (`Operator.explain`: a counter-example for the policy operators, nothing for others)."""
    if not resolved.many:
        observed = data
        holds = op.test(observed, arg)
        return holds, "" if holds else op.explain(observed, arg)
    if resolved.value is None:
        raise Indeterminate("the list itself is unknown")
    held: list[int] = []
    failed: list[int] = []
    unknown: list[str] = []
    elements = data
    for i, element in enumerate(elements):
        try:
            (held if op.test(element, arg) else failed).append(i)
        except Indeterminate as exc:
            unknown.append(f"element {i}: {exc}")
    explained = [f"element {i}: {why}" for i in failed if (why := op.explain(elements[i], arg))]
    deciding, other = (held, failed) if quantifier == "any" else (failed, held)
    if deciding:
        verb = "holds" if quantifier == "any" else "fails"
        note = f"{verb} for element(s) {', '.join(map(str, deciding))}"
        return quantifier == "any", note if quantifier == "any" else "; ".join([note, *explained])
    if unknown:
        raise Indeterminate("; ".join(unknown))
    if not other:
        return quantifier == "all", "the list is empty"
    return quantifier == "all", "" if quantifier == "all" else "; ".join(explained)
