"""Findings: immutable values, one per (rule, resource), with a stable fingerprint.

A finding carries what was observed and what was expected (evidence), a pointer to the
snapshot records it came from, and the waiver that applied, if any. Presentation (titles,
remediation, framework wording) is joined at report time from rule metadata.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from auditor.vocabulary import SEVERITIES, STATUSES

__all__ = ["SEVERITIES", "STATUSES", "EvidenceItem", "Finding", "ResourceRef"]   # the sets: auditor/vocabulary.py


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """The resource a finding is about; id ``*`` when a whole account/region could not be read."""

    type: str
    id: str
    account: str
    region: str
    arn: str = ""
    vpc_id: str = ""
    # Where a Terraform plan or CloudFormation template declares the resource (its model
    # `declared_at`): {"kind", "file", "address", "line", "attributes": {field: line}}; None for a
    # resource read from a collected snapshot.
    declared: dict[str, Any] | None = field(default=None, hash=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "id": self.id, "account": self.account, "region": self.region,
               "arn": self.arn, "vpc_id": self.vpc_id}
        if self.declared is not None:
            out["declared"] = self.declared
        return out


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One observed value against its expected condition, with the records it came from.

    `explanation`: how the derived values read were decided, whatever they are, one line
    each (`auditor.rules.derive.Derived.explain`: e.g. which hop stopped each part of a
    subnet's traffic, with its explanation code, auditor/analyze/explain.py). Written only
    when there is one, so the findings of rules reading no such value keep their form; not
    in the fingerprint (it says why, not what or where)."""

    path: str
    observed: Any
    expected: str
    holds: bool | None   # None: could not be decided (the finding is ERROR)
    sources: tuple[Any, ...] = ()   # snapshot pointers (str or SourceRef: written as "records/...#/pointer")
    explanation: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "observed": self.observed, "expected": self.expected,
                               "holds": self.holds, "sources": [str(s) for s in self.sources]}
        if self.explanation:
            out["explanation"] = list(self.explanation)
        return out


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    severity: str
    status: str
    resource: ResourceRef
    message: str
    evidence: tuple[EvidenceItem, ...] = ()
    waiver: dict[str, Any] | None = field(default=None, hash=False)
    item: str | None = None   # the element of a for_each rule (e.g. the endpoint service), else None
    paths: tuple[str, ...] = ()  # the attribute paths the rule reads (else those of the evidence)

    @property
    def fingerprint(self) -> str:
        """Content hash of rule, account, region, resource, the for_each element and the
        evidence paths: stable across runs while the same thing is wrong in the same place
        (status and values excluded)."""
        parts: list[Any] = [self.rule_id, self.resource.account, self.resource.region, self.resource.type,
                            self.resource.id, sorted(set(self.paths) or {e.path for e in self.evidence})]
        if self.item is not None:
            parts.append(self.item)
        key = json.dumps(parts, separators=(",", ":"))
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]

    def sort_key(self) -> tuple[str, str, str, str, str, str]:
        return (self.rule_id, self.resource.account, self.resource.region, self.resource.type, self.resource.id,
                self.item or "")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fingerprint": self.fingerprint, "rule_id": self.rule_id, "severity": self.severity,
                               "status": self.status, "resource": self.resource.to_json(), "item": self.item,
                               "message": self.message, "evidence": [e.to_json() for e in self.evidence]}
        if self.waiver is not None:
            out["waiver"] = self.waiver
        return out
