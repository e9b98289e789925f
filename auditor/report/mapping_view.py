"""What the control matrices print about a control's mappings: per citing rule, who says it
bears on the control and why (from findings.json ``frameworks[].controls[].mappings``, which
come from rules/frameworks/mapping-review.yaml), and for HIPAA whether the id is a standard or
an implementation specification, required or addressable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditor.report.wording import Wording
from auditor.rules.frameworks import Catalogue


@dataclass(frozen=True)
class MappingLine:
    rule: str
    authority: str        # label, e.g. "mapped by AWS Security Hub", "pack author, not reviewed"
    rationale: str
    source: str
    reviewed: bool


@dataclass(frozen=True)
class MappingGroup:
    """Rules whose mapping to a control has the same authority and rationale, printed as one line."""

    rules: tuple[str, ...]
    authority: str
    rationale: str
    reviewed: bool


@dataclass(frozen=True)
class ControlReview:
    lines: tuple[MappingLine, ...]
    recorded: bool        # False: findings.json predates the review (no mappings recorded)
    kind: str = ""        # HIPAA: standard | implementation specification
    designation: str = ""  # HIPAA: required | addressable

    @property
    def groups(self) -> tuple[MappingGroup, ...]:
        """`lines` with the same authority and rationale merged (first appearance order)."""
        merged: dict[tuple[str, str, bool], list[str]] = {}
        for ml in self.lines:
            merged.setdefault((ml.authority, ml.rationale, ml.reviewed), []).append(ml.rule)
        return tuple(MappingGroup(rules=tuple(rules), authority=a, rationale=r, reviewed=rv)
                     for (a, r, rv), rules in merged.items())

    @property
    def hipaa_label(self) -> str:
        """``standard, required`` / ``implementation specification, addressable`` (empty when unknown)."""
        return ", ".join(x for x in (self.kind, self.designation) if x)


def control_review(control: Mapping[str, Any], catalogue: Catalogue | None, words: Wording) -> ControlReview:
    info = catalogue.controls.get(control["id"]) if catalogue is not None else None
    raw = control.get("mappings")
    lines = tuple(MappingLine(rule=str(m.get("rule", "")), authority=words.authority_label(list(m.get("authorities") or [])),
                              rationale=str(m.get("rationale", "")), source=str(m.get("source", "")),
                              reviewed=bool(m.get("reviewed")))
                  for m in (raw if isinstance(raw, list) else []))
    return ControlReview(lines=lines, recorded=isinstance(raw, list),
                         kind=info.kind if info is not None else "", designation=info.designation if info is not None else "")
