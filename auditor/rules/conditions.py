"""Evaluate a rule's condition tree on one resource: PASS, FAIL or ERROR, with evidence.

A condition is the typed tree the pack loader makes (`auditor.rules.packs`: `Leaf`,
`AllOf`, `AnyOf`, `Not`; docs/rule-packs.md), compiled here as it is: there is no other
form of it. Its parameters are already bound (a leaf's `arg` is its written argument with
the values in force, ``${item}`` included), so nothing here reads ``${param}``.

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

A leaf the loader would have refused (made by hand: an unknown operator, a bad argument,
a quantifier off a ``[*]`` path, an unknown attribute path) is the rule's fault, not the
data's: compiling it raises `ConditionError`. The pack checks report each of these, with
its file:line, before any tree is made.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal
from collections.abc import Callable

from auditor.model.types import Model, Resource, SourceRef
from auditor.rules.attributes import Resolved, attribute_info, json_of, resolve
from auditor.rules.operators import ABSENT, OPERATORS, Indeterminate, Operator
from auditor.rules.packs import AllOf, AnyOf, Condition, Leaf, Not

Status = Literal["pass", "fail", "error"]
QUANTIFIERS = ("any", "all")


class ConditionError(ValueError):
    """The condition itself is wrong (operator, argument, quantifier or attribute path)."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """One leaf as evaluated: the observed value (JSON data), the expectation in words,
    whether it holds (None: it could not be decided, `note` says why), the records the
    value came from and `explanation`: how the derived values read were decided, whatever
    they are (`Derived.explain`: e.g. the hop that stopped each part of a subnet's traffic,
    with its explanation code), so a PASS can be checked as well as a FAIL."""

    path: str
    observed: Any
    expected: str
    holds: bool | None
    sources: tuple[SourceRef, ...]
    note: str = ""
    explanation: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a condition on one resource and the leaves that decided it."""

    status: Status
    evidence: tuple[Evidence, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        """Why the outcome is an ERROR: the notes of the undecided leaves."""
        return tuple(f"{e.path}: {e.note}" for e in self.evidence if e.holds is None)


# -- evaluation ------------------------------------------------------------------------
#
# A condition is compiled once (operator and argument checked, the expectation worded)
# into a tree of closures; running it on a resource only resolves attributes and tests
# them. The engine compiles each rule once per run (per for_each element).

Compiled = Callable[[Model, Resource], Outcome]


def evaluate(condition: Condition, model: Model, resource: Resource) -> Outcome:
    """The outcome of `condition` on `resource` (see the module contract)."""
    return compile_condition(condition, resource.type_name)(model, resource)


def compile_condition(condition: Condition, resource_type: str) -> Compiled:
    """`condition` ready to run on resources of `resource_type`. Raises ConditionError for
    a leaf with an unknown operator, a bad argument, a misplaced quantifier or an unknown
    attribute path."""
    if isinstance(condition, Leaf):
        return _leaf(condition, resource_type)
    if isinstance(condition, Not):
        return _not(compile_condition(condition.item, resource_type))
    if isinstance(condition, AllOf):
        return _all(tuple(compile_condition(c, resource_type) for c in condition.items))
    if isinstance(condition, AnyOf):
        return _any(tuple(compile_condition(c, resource_type) for c in condition.items))
    raise ConditionError(f"a condition is a Leaf, AllOf, AnyOf or Not, got {type(condition).__name__}")


def _pick(outcomes: list[Outcome], status: Status) -> tuple[Evidence, ...]:
    return tuple(e for o in outcomes if o.status == status for e in o.evidence)


def _combining(decisive: tuple[Status, Status], otherwise: Status
               ) -> Callable[[tuple[Compiled, ...]], Compiled]:
    """`all` (decided by a fail, then an error; else pass) or `any` (by a pass, then an
    error; else fail): the first decisive status any child has wins, with those children's
    evidence; otherwise every child's evidence."""
    def build(children: tuple[Compiled, ...]) -> Compiled:
        def run(model: Model, resource: Resource) -> Outcome:
            outcomes = [c(model, resource) for c in children]
            for status in decisive:
                if any(o.status == status for o in outcomes):
                    return Outcome(status, _pick(outcomes, status))
            return Outcome(otherwise, tuple(e for o in outcomes for e in o.evidence))
        return run
    return build


_all = _combining(("fail", "error"), "pass")
_any = _combining(("pass", "error"), "fail")


_SWAP: dict[Status, Status] = {"pass": "fail", "fail": "pass", "error": "error"}


def _negated(expected: str) -> str:
    # Operator descriptions never start with "not (", so this only undoes our own wrapping:
    # a double negation reads as the plain expectation.
    if expected.startswith("not (") and expected.endswith(")"):
        return expected[len("not ("):-1]
    return f"not ({expected})"


def _not(inner: Compiled) -> Compiled:
    def run(model: Model, resource: Resource) -> Outcome:
        out = inner(model, resource)
        return Outcome(_SWAP[out.status], tuple(
            replace(e, expected=_negated(e.expected), holds=None if e.holds is None else not e.holds)
            for e in out.evidence))
    return run


def _leaf(leaf: Leaf, rtype: str) -> Compiled:
    path = leaf.attr
    op = OPERATORS.get(leaf.op)
    if op is None:
        raise ConditionError(f"unknown operator '{leaf.op}' on {path}; operators: {', '.join(OPERATORS)}")
    arg = leaf.arg
    problem = op.check_arg(arg)
    if problem:
        raise ConditionError(f"bad argument for {op.name} on {path}: {problem}")
    quantifier = leaf.quantifier
    if quantifier not in QUANTIFIERS or (quantifier != "any" and "[*]" not in path):
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
        observed = None if resolved.missing or resolved.unknown else _without_absent(data)

        def evidence(holds: bool | None, note: str = "") -> Outcome:
            status: Status = "error" if holds is None else "pass" if holds else "fail"
            return Outcome(status, (Evidence(path, observed, expected, holds, resolved.sources, note,
                                             resolved.explain),))

        if resolved.missing or resolved.unknown:
            notes = []
            if resolved.missing:
                notes.append("not collected for this account and region: " + ", ".join(resolved.missing))
            if resolved.unknown:
                notes.append("unknown before deploy: " + _first(resolved.unknown))
            return evidence(None, "; ".join(notes))
        try:
            holds, note = _test(op, arg, resolved, quantifier, data)
        except Indeterminate as exc:
            return evidence(None, f"indeterminate: {exc}" + (": " + _first(resolved.why) if resolved.why else ""))
        return evidence(holds, note)
    return run


_REASONS_SHOWN = 3


def _first(reasons: tuple[str, ...]) -> str:
    """The first few reasons a value is unknown, and how many more there are."""
    more = len(reasons) - _REASONS_SHOWN
    return "; ".join(reasons[:_REASONS_SHOWN]) + (f"; and {more} more" if more > 0 else "")


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
