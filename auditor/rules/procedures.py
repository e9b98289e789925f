"""Testing procedures as data (``rules/frameworks/procedures/<framework-id>.yaml``).

One file per framework catalogue says, for each of its controls, the procedure an assessor
performs with this tool: what was examined, how (which configuration was inspected), and how a
result is decided. The file holds prose only; what the rules behind a control actually read
comes from code: `rule_calls` gives the collected API calls (``service:Operation``) a rule's data
comes from, derived from the resource registry and the attributes the rule reads, and
findings.json records them per rule (``rules[].calls``) for the reports.

Format (``auditor/schemas/procedures.schema.json``)::

    procedures: 1
    framework: pci-dss-4.0            # the file stem; a catalogue in rules/frameworks/
    controls:
      "1.3.1":
        examined: ...                 # the population of configuration items
        method: ...                   # which configuration was inspected (no API names: added from code)
        decision: ...                 # {PASS} when ...; {FAIL} when ...; {ERROR} when ...

``{FAIL}``, ``{ERROR}``, ``{WAIVED}``, ``{PASS}`` and ``{NOT_APPLICABLE}`` stand for the
framework's own status terms (reports/templates/wording.yaml), filled in when a report is made.
Every problem of every file is raised at once as an InputError with its file, line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from collections.abc import Iterable, Mapping

from auditor.errors import InputError, Problem
from auditor.rules.attributes import attribute_info, type_calls
from auditor.rules.frameworks import Catalogue, control_problem, default_folder as frameworks_folder, load_catalogues
from auditor.rules.packs import Rule
from auditor.validation import did_you_mean, schema_problems
from auditor.vocabulary import STATUSES
from auditor.yamlpos import Located, load_yaml

FOLDER = "procedures"
FIELDS = ("examined", "method", "decision")
_SCHEMA = "procedures"
_BRACES = re.compile(r"\{([^{}]*)\}")


def default_folder() -> Path:
    """The built-in ``rules/frameworks/procedures`` folder."""
    return frameworks_folder() / FOLDER


@dataclass(frozen=True)
class Procedure:
    """The procedure performed for one control."""

    framework: str
    control: str
    examined: str
    method: str
    decision: str
    file: str = ""
    line: int = 0

    def text(self, part: str, terms: Mapping[str, str]) -> str:
        """`part` (examined, method or decision) with ``{FAIL}`` ... replaced by `terms`
        (status -> the framework's word for it)."""
        value: str = getattr(self, part)
        return _BRACES.sub(lambda m: terms.get(m.group(1), m.group(1)), value)


@dataclass(frozen=True)
class Procedures:
    """The procedures of one framework (one file)."""

    framework: str
    controls: Mapping[str, Procedure]
    file: str = ""


def _placeholder_problems(doc: Located, path: tuple[Any, ...], text: str) -> list[Problem]:
    problems = []
    for name in _BRACES.findall(text):
        if name not in STATUSES:
            problems.append(doc.problem(path, f"unknown placeholder '{{{name}}}'{did_you_mean(name, STATUSES)}; "
                                        f"use one of {', '.join('{' + s + '}' for s in STATUSES)}"))
    if _BRACES.sub("", text).count("{") or _BRACES.sub("", text).count("}"):
        problems.append(doc.problem(path, "unbalanced '{' or '}': placeholders are written {FAIL}, {PASS} ..."))
    return problems


def load_procedure_file(path: Path | str, catalogues: Mapping[str, Catalogue]) -> Procedures:
    """Read and validate one procedures file against `catalogues`. Raises InputError listing
    every problem: schema (unknown or missing keys, empty text), a framework that is not the
    file's stem or has no catalogue, control ids the catalogue lacks, unknown placeholders."""
    path = Path(path)
    doc = load_yaml(path)
    problems = schema_problems(_SCHEMA, doc)
    data = doc.data if isinstance(doc.data, dict) else {}
    framework = data.get("framework")
    known = isinstance(framework, str) and framework in catalogues
    if isinstance(framework, str):
        if framework != path.stem:
            problems.append(doc.problem(("framework",), f"framework '{framework}' must match the file name "
                                        f"('{path.stem}'); rename one of them"))
        if not known:
            problems.append(doc.problem(("framework",), f"unknown framework '{framework}'"
                                        f"{did_you_mean(framework, catalogues)}: there is no catalogue "
                                        f"rules/frameworks/{framework}.yaml; known: {', '.join(sorted(catalogues))}"))
    controls = data.get("controls")
    for control, body in (controls.items() if isinstance(controls, dict) else ()):
        if not isinstance(control, str):
            problems.append(doc.problem(("controls", control), f"control id {control!r} must be a quoted string "
                                        f"(YAML read it as a {type(control).__name__}); write \"{control}\"", key=True))
            continue
        if known:
            message = control_problem(catalogues, str(framework), control)
            if message is not None:
                problems.append(doc.problem(("controls", control), message, key=True))
        for part in FIELDS:
            text = body.get(part) if isinstance(body, dict) else None
            if isinstance(text, str):
                problems += _placeholder_problems(doc, ("controls", control, part), text)
    if problems or not isinstance(controls, dict):
        raise InputError(sorted(set(problems)))
    built = {
        control: Procedure(framework=str(framework), control=control, examined=_clean(body["examined"]),
                           method=_clean(body["method"]), decision=_clean(body["decision"]), file=str(path),
                           line=doc.where(("controls", control), key=True)[0])
        for control, body in controls.items()
    }
    return Procedures(framework=str(framework), controls=MappingProxyType(built), file=str(path))


def _clean(text: str) -> str:
    """Folded YAML prose as one line of text."""
    return " ".join(text.split())


def load_procedures(folder: Path | str | None = None,
                    catalogues: Mapping[str, Catalogue] | None = None) -> dict[str, Procedures]:
    """Every procedures file in `folder` (default: the built-in one), by framework id, checked
    against `catalogues` (default: the built-in catalogues). Problems of all files are raised
    together. A missing folder is an error; a catalogue without a procedures file is not (its
    controls then have no procedure: `missing` says which, reports say so)."""
    folder = default_folder() if folder is None else Path(folder)
    if catalogues is None:
        catalogues = load_catalogues()
    if not folder.is_dir():
        raise InputError([Problem(str(folder), 0, 0, "", "testing procedures folder not found")])
    out: dict[str, Procedures] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            loaded = load_procedure_file(path, catalogues)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        out[loaded.framework] = loaded
    if problems:
        raise InputError(problems)
    return out


def cited_controls(rules: Iterable[Rule]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(framework, control) -> the ids of the rules citing it."""
    cited: dict[tuple[str, str], list[str]] = {}
    for rule in rules:
        for framework, controls in rule.frameworks.items():
            for control in controls:
                cited.setdefault((framework, str(control)), []).append(rule.id)
    return {k: tuple(sorted(v)) for k, v in sorted(cited.items())}


def missing(rules: Iterable[Rule], procedures: Mapping[str, Procedures]) -> dict[tuple[str, str], tuple[str, ...]]:
    """The controls `rules` cite that have no procedure, with the rules citing each."""
    return {key: ids for key, ids in cited_controls(rules).items()
            if key[0] not in procedures or key[1] not in procedures[key[0]].controls}


# --------------------------------------------------------------------------- the calls behind a rule


def rule_calls(rule: Rule) -> tuple[str, ...]:
    """The collected API calls (``service:Operation``, boto3 service names) a rule's data comes
    from: the calls listing its resource type (the resource registry), then those each attribute
    it reads requires (a subnet's route table: ec2:DescribeRouteTables), in that order. The
    same calls decide which rules a failed call leaves not assessed (auditor/rules/engine.py)."""
    calls = dict.fromkeys(type_calls(rule.resource))
    for path in sorted({leaf.attr for leaf in rule.leaves()}):
        try:
            calls.update(dict.fromkeys(attribute_info(rule.resource, path).requires))
        except KeyError:   # a path the pack checks refused already
            continue
    return tuple(f"{service}:{operation}" for service, operation in calls)
