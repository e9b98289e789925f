"""The mapping review table (``rules/frameworks/mapping-review.yaml``).

One row per (framework, control, built-in rule): on whose authority the rule's result bears on
the control (AWS Security Hub, an AWS Config pack, the framework's own text read by us, or a third
party), its source, a one-line rationale, and the review's decision (keep or removed, with the
reason). The built-in packs' ``frameworks:`` citations must equal the kept rows: loading a built-in
pack whose citations differ fails (`citation_problems`, called from pack checking), so every mapping
a report prints for a built-in rule comes from this table. A user's own pack has no rows: its
citations are printed as the pack author's, not reviewed.

The table also lists retired frameworks (the FFIEC Cybersecurity Assessment Tool): naming one
anywhere is an input error that says it was retired and names its replacements (`retired_problem`).

Problems are raised at once as an InputError, each with file, line and column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from auditor.errors import InputError
from auditor.resources import builtin_dir
from auditor.rules.frameworks import (REVIEW_FILE, Catalogue, control_problem, default_folder,
                                      load_catalogues)
from auditor.validation import did_you_mean, schema_problems
from auditor.yamlpos import load_yaml

_SCHEMA = "mapping-review"
NOT_REVIEWED = "pack-author"   # the authority of a citation no row backs (a user's own pack)


@dataclass(frozen=True)
class ReviewRow:
    """One reviewed mapping."""

    framework: str
    control: str
    rule: str
    authorities: tuple[str, ...]
    source: str
    rationale: str
    decision: str                 # keep | removed
    removed_because: str = ""
    line: int = 0

    @property
    def kept(self) -> bool:
        return self.decision == "keep"

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "authorities": list(self.authorities), "source": self.source,
                "rationale": self.rationale, "reviewed": True}


@dataclass(frozen=True)
class Retired:
    """A framework no longer catalogued."""

    id: str
    title: str
    retired: str
    because: str
    replaced_by: tuple[str, ...]

    @property
    def message(self) -> str:
        return (f"framework '{self.id}' ({self.title}) is no longer supported: {self.because} "
                f"(retired {self.retired}); cite {' and '.join(self.replaced_by)} instead")


@dataclass(frozen=True)
class Review:
    """The whole table."""

    file: str
    rows: tuple[ReviewRow, ...]
    retired: Mapping[str, Retired]

    def row(self, framework: str, control: str, rule: str) -> ReviewRow | None:
        return self._index.get((framework, control, rule))

    @cached_property
    def _index(self) -> Mapping[tuple[str, str, str], ReviewRow]:
        return {(r.framework, r.control, r.rule): r for r in self.rows}

    def kept(self, rule: str) -> dict[str, tuple[str, ...]]:
        """framework -> the controls the table keeps for `rule` (sorted)."""
        out: dict[str, list[str]] = {}
        for r in self.rows:
            if r.rule == rule and r.kept:
                out.setdefault(r.framework, []).append(r.control)
        return {fw: tuple(sorted(cs, key=control_key)) for fw, cs in sorted(out.items())}

    @property
    def removed(self) -> tuple[ReviewRow, ...]:
        return tuple(r for r in self.rows if not r.kept)

    @property
    def rules(self) -> frozenset[str]:
        return frozenset(r.rule for r in self.rows)


def control_key(control: str) -> tuple[tuple[int, str], ...]:
    """Natural order of control ids: SC-7(4) before SC-7(11), 1.4.2 before 10.2.1."""
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"(\d+)", control) if p)


def builtin_rule_ids(folder: Path | None = None) -> dict[str, str]:
    """Every rule id of the built-in pack files -> its file (read directly, not through the pack loader)."""
    folder = builtin_dir("rules") / "packs" if folder is None else folder
    out: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        doc = load_yaml(path)
        rules = doc.data.get("rules") if isinstance(doc.data, dict) else None
        for rule in rules if isinstance(rules, list) else []:
            if isinstance(rule, dict) and isinstance(rule.get("id"), str):
                out[rule["id"]] = str(path)
    return out


def load_review(path: Path | str | None = None, catalogues: Mapping[str, Catalogue] | None = None,
                rule_ids: Iterable[str] | None = None) -> Review:
    """Read and validate the table (default: the built-in one). Every framework and control must be
    in `catalogues` (default: those beside the table; a removed row may name a retired framework),
    every rule in `rule_ids` (default: the built-in packs' rules), each (framework, control, rule)
    once. Raises InputError listing every problem."""
    path = default_folder() / REVIEW_FILE if path is None else Path(path)
    if catalogues is None:
        catalogues = load_catalogues(path.parent)
    known_rules = sorted(builtin_rule_ids() if rule_ids is None else set(rule_ids))
    doc = load_yaml(path)
    problems = schema_problems(_SCHEMA, doc)
    data = doc.data if isinstance(doc.data, dict) else {}
    found = data.get("retired_frameworks")
    retired_data: dict[str, Any] = found if isinstance(found, dict) else {}
    for fw_id, info in retired_data.items():
        if fw_id in catalogues:
            problems.append(doc.problem(("retired_frameworks", fw_id), f"'{fw_id}' is retired but still has a "
                                        f"catalogue (rules/frameworks/{fw_id}.yaml); remove one of them", key=True))
        for i, new in enumerate(info.get("replaced_by", []) if isinstance(info, dict) else []):
            if isinstance(new, str) and new not in catalogues:
                problems.append(doc.problem(("retired_frameworks", fw_id, "replaced_by", i),
                                            f"unknown framework '{new}'{did_you_mean(new, catalogues)}"))
    seen: dict[tuple[str, str, str], int] = {}
    rows = data.get("mappings")
    for i, row in enumerate(rows if isinstance(rows, list) else []):
        if not isinstance(row, dict):
            continue
        fw, control, rule = row.get("framework"), row.get("control"), row.get("rule")
        removed = row.get("decision") == "removed"
        if isinstance(fw, str) and isinstance(control, str):
            if removed and fw in retired_data:
                pass
            elif fw in retired_data:
                problems.append(doc.problem(("mappings", i, "framework"),
                                            f"framework '{fw}' is retired: only a removed row may name it"))
            else:
                message = control_problem(catalogues, fw, control)
                if message is not None:
                    where = ("mappings", i, "framework" if fw not in catalogues else "control")
                    problems.append(doc.problem(where, message))
        if isinstance(rule, str) and known_rules and rule not in known_rules:
            problems.append(doc.problem(("mappings", i, "rule"), f"unknown rule '{rule}'"
                                        f"{did_you_mean(rule, known_rules)}: not a rule of the built-in packs"))
        if isinstance(fw, str) and isinstance(control, str) and isinstance(rule, str):
            key = (fw, control, rule)
            if key in seen:
                problems.append(doc.problem(("mappings", i), f"{fw} {control} for {rule} is already reviewed at "
                                            f"line {seen[key]}; keep one row per framework, control and rule"))
            else:
                seen[key] = doc.where(("mappings", i))[0]
    if problems:
        raise InputError(problems)
    built = []
    for i, row in enumerate(cast(list[dict[str, Any]], data["mappings"])):
        auth = row["authority"]
        built.append(ReviewRow(
            framework=row["framework"], control=str(row["control"]), rule=row["rule"],
            authorities=(auth,) if isinstance(auth, str) else tuple(auth), source=row["source"],
            rationale=row["rationale"], decision=row["decision"], removed_because=row.get("removed_because", ""),
            line=doc.where(("mappings", i))[0]))
    retired = {k: Retired(id=k, title=v["title"], retired=v["retired"], because=v["because"],
                          replaced_by=tuple(v["replaced_by"])) for k, v in retired_data.items()}
    return Review(file=str(path), rows=tuple(built), retired=MappingProxyType(retired))


@lru_cache(maxsize=1)
def builtin_review() -> Review:
    """The built-in table, loaded once."""
    return load_review()


def retired_problem(framework: str, review: Review | None = None) -> str | None:
    """The error message for naming a retired framework, else None."""
    found = (review or builtin_review()).retired.get(framework)
    return found.message if found is not None else None


def citation_problems(rule: str, cited: Mapping[str, Iterable[str]], review: Review | None = None) -> list[str]:
    """How a built-in rule's ``frameworks:`` citations differ from the table's kept rows (empty: equal)."""
    review = review or builtin_review()
    out: list[str] = []
    kept = review.kept(rule)
    name = Path(review.file).name
    for fw, controls in sorted(cited.items()):
        for control in controls:
            row = review.row(fw, str(control), rule)
            if row is None:
                out.append(f"{fw} {control} is not in the mapping review ({name}); add a row for {rule} with its "
                           f"authority, source and rationale, or remove the citation")
            elif not row.kept:
                out.append(f"{fw} {control} was removed by the mapping review ({name}:{row.line}): "
                           f"{row.removed_because}")
    cited_sets = {fw: {str(c) for c in cs} for fw, cs in cited.items()}
    for fw, controls in kept.items():
        for control in controls:
            if control not in cited_sets.get(fw, set()):
                row = review.row(fw, control, rule)
                out.append(f"the mapping review keeps {fw} {control} for {rule} ({name}:{row.line if row else 0}) "
                           f"but the rule does not cite it; cite it or mark the row removed")
    return out


def mapping_json(framework: str, control: str, rule: str, review: Review | None = None) -> dict[str, Any]:
    """The findings.json ``mappings[]`` entry for one cited (framework, control, rule): the kept row's
    authority, source and rationale, or the pack author's, not reviewed."""
    row = (review or builtin_review()).row(framework, control, rule)
    if row is not None and row.kept:
        return row.to_json()
    return {"rule": rule, "authorities": [NOT_REVIEWED], "source": "", "rationale": "", "reviewed": False}


