"""A value known only after deploy never decides a verdict: a property over whole estates.

A plan or template leaves some fields of some resources unknown ("known after apply"); the
readers then leave the field at its default and mark it (`auditor.model.types.UnknownField`).
Whatever the default happens to be, no verdict may rest on it. So, on the collected analyzer
estates (tests/estates/analyzers, every pack) and the demo bank (its own config and scope):
for one resource of every type and each of its fields, the field is set to a *wrong* value
(an empty or made-up string, the other boolean, an empty or a catch-all list ...) and marked
unknown, and the estate is evaluated again. Every finding must then be what it was, or ERROR:
none may turn PASS, FAIL, WAIVED or NOT_APPLICABLE on the wrong value, a FAIL, ERROR or
WAIVED may not vanish (a resource moved out of scope by its unknown VPC is "scope could not
be decided", ERROR), and a finding that appears is ERROR. The perturbation must also matter:
across the estate some findings turn ERROR, so the test can fail.
"""

from __future__ import annotations

import dataclasses
import typing
from collections import Counter
from typing import Any
from collections.abc import Mapping

import pytest

from auditor.config import load_config
from auditor.emulate import demo_config_path
from auditor.model import build_model
from auditor.model.types import Model, Resource, UnknownField
from auditor.rules.derive import NARROW_FIELDS
from auditor.scan import ScanInputs, _evaluate, prepare   # _evaluate: the engine call of evaluate_snapshot
from auditor.snapshot.reader import load_snapshot
from conftest import AnalyzerEstates, DemoRun

Key = tuple[str, str, str, str, str, str]
_SKIP = frozenset({"id", "account", "region", "source", "also_from", "unknown", "declared_at"})


def _wrong(value: Any, hint: Any) -> tuple[bool, Any]:
    """A wrong value of the field's type, and whether one could be made."""
    if isinstance(value, bool):
        return True, not value
    if isinstance(value, int):
        return True, value + 1
    if isinstance(value, str):
        return True, "" if value else "perturbed-0"
    if isinstance(value, tuple):
        if value:
            return True, ()
        args = typing.get_args(hint)
        inner = [a for a in args if a is not type(None)]
        element = typing.get_args(inner[0])[0] if inner and typing.get_args(inner[0]) else None
        return (True, ("0.0.0.0/0",)) if element is str else (False, None)
    if value is None:
        args = typing.get_args(hint)
        if bool in args:
            return True, True
        if str in args:
            return True, "perturbed-0"
        return False, None
    return True, None   # a parsed policy, a peering side ...: gone


def _statuses(model: Model, manifest: Mapping[str, Any], inputs: ScanInputs) -> dict[Key, str]:
    return {f.sort_key(): f.status for f in _evaluate(model, manifest, inputs).findings}


def _with(model: Model, old: Resource, new: Resource) -> Model:
    resources = {t: tuple(new if r is old else r for r in items) for t, items in model.resources.items()}
    return Model(resources=resources, coverage=model.coverage)


def _check(model: Model, manifest: Mapping[str, Any], inputs: ScanInputs) -> tuple[int, list[str]]:
    baseline = _statuses(model, manifest, inputs)
    assert {"PASS", "FAIL"} <= set(baseline.values())
    turned, problems = 0, []
    cases = []
    for type_name, items in sorted(model.resources.items()):
        for f in dataclasses.fields(items[0]):
            if f.name in _SKIP:
                continue
            # The fields that reach only some derived values (NARROW_FIELDS) on many resources:
            # the list of their readers must be complete wherever they are read.
            cases += [(type_name, r, f) for r in (items[:12] if (type_name, f.name) in NARROW_FIELDS else items[:1])]
    for type_name, resource, f in cases:
        hints = typing.get_type_hints(type(resource))
        ok, wrong = _wrong(getattr(resource, f.name), hints[f.name])
        if not ok:
            continue
        mark = UnknownField(f.name, f"known after apply: test.{type_name}.{f.name}")
        changed = dataclasses.replace(resource, **{f.name: wrong, "unknown": (mark,)})
        now = _statuses(_with(model, resource, changed), manifest, inputs)
        for key in sorted(set(baseline) | set(now)):
            before, after = baseline.get(key), now.get(key)
            if before == after:
                continue
            if after == "ERROR":
                turned += 1
                continue
            if after is None and before in ("PASS", "NOT_APPLICABLE"):
                continue
            problems.append(f"{type_name}.{f.name} = {wrong!r}: {key[0]} on {key[3]} {key[4]} "
                            f"{key[5] or ''}: {before} -> {after}")
    return turned, problems


@pytest.fixture(scope="module")
def analyzer_model(analyzer_estates: AnalyzerEstates) -> tuple[Model, Mapping[str, Any], ScanInputs]:
    return (build_model(analyzer_estates.records, analyzer_estates.manifest.get("files")),
            analyzer_estates.manifest, prepare(analyzer_estates.config))


def test_a_wrong_value_marked_unknown_never_decides_a_verdict_analyzer_estates(analyzer_model) -> None:
    model, manifest, inputs = analyzer_model
    turned, problems = _check(model, manifest, inputs)
    assert not problems, "\n".join(problems[:40])
    assert turned > 50


def test_a_wrong_value_marked_unknown_never_decides_a_verdict_demo(demo_run: DemoRun) -> None:
    snap = load_snapshot(demo_run.result.scan.snapshot)
    model = build_model(snap.records, snap.manifest.get("files"))
    turned, problems = _check(model, snap.manifest, prepare(load_config(demo_config_path())))
    assert not problems, "\n".join(problems[:40])
    assert turned > 50


def test_the_reason_names_the_attribute(analyzer_model) -> None:
    model, manifest, inputs = analyzer_model
    subnet = model.of("subnet")[0]
    mark = UnknownField("map_public_ip_on_launch", "known after apply: aws_subnet.x.map_public_ip_on_launch")
    changed = dataclasses.replace(subnet, map_public_ip_on_launch=False, unknown=(mark,))
    findings = [f for f in _evaluate(_with(model, subnet, changed), manifest, inputs).findings
                if f.resource.id == subnet.id and f.status == "ERROR"]
    assert findings
    assert Counter("aws_subnet.x.map_public_ip_on_launch" in f.message for f in findings)[True] >= 1
