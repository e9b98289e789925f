"""What the reports show of a plan run: where a Terraform plan or CloudFormation template
declares each finding's resource (findings.json ``resource.declared``) and what the plan run
read and could not model (``run.plan``; docs/findings.md).

Pure data, read from findings.json by `auditor.report.model.build_model`; every format lays it
out (auditor/report/machine.py for JUnit, SARIF and CSV, the HTML and PDF templates'
``sections/*_plan.html.j2``). A run without a plan has neither, and no format shows anything
of it.

An unsupported resource of a network type (``network: true``, `auditor.iac.base.network_relevant`)
and a problem reading the source leave the network the plan builds not fully known: the
assessment is incomplete (`PlanView.incomplete`), never silently compliant. An unsupported
resource of another type (a bucket, a role) is listed, and is nothing the network packs read.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from auditor.iac.base import KIND_NAMES   # the kinds in words (re-exported for the report modules)


# The order the reports count actions in (Terraform's words; a template creates); others follow by name.
ACTIONS = ("create", "update", "replace", "delete", "read", "no-op")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _line(value: Any) -> int | None:
    """A line number as findings.json gives it (a positive integer or null)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def where(file: str, line: int | None) -> str:
    """``file:line``, or ``file`` when the source has no line (a Terraform plan's JSON)."""
    return f"{file}:{line}" if line is not None else file


@dataclass(frozen=True)
class DeclaredView:
    """findings.json ``resource.declared``: where the plan or template declares a resource."""

    kind: str                                # terraform-plan | cloudformation
    file: str                                # as given on the command line
    address: str                             # module.net.aws_subnet.app["a"] | a template's logical id
    line: int | None                         # the resource's line (None: a Terraform plan has none)
    attributes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))   # model field -> line

    def line_of(self, path: str) -> int | None:
        """The line of the model field an evidence `path` reads (``routes[*].target`` reads
        ``routes``), when the source gives one."""
        if path in self.attributes:
            return self.attributes[path]
        m = _FIELD.match(path)
        return self.attributes.get(m.group(0)) if m else None


def declared_view(data: Any) -> DeclaredView | None:
    """The view of a ``resource.declared`` object; None for a resource of a collected snapshot."""
    if not isinstance(data, Mapping):
        return None
    attributes = data.get("attributes")
    attributes = attributes if isinstance(attributes, Mapping) else {}
    lines = {str(k): v for k, v in sorted(attributes.items()) if _line(v) is not None}
    return DeclaredView(kind=_s(data.get("kind")), file=_s(data.get("file")), address=_s(data.get("address")),
                        line=_line(data.get("line")), attributes=MappingProxyType(lines))


def declared_line(declared: DeclaredView, evidence: Iterable[tuple[str, bool | None]]) -> int | None:
    """The line a finding points at in the plan or template: the line of the model field of the
    first condition that does not hold (else of the first condition whose field has a line),
    else the resource's own line, else None (a Terraform plan's JSON has no lines)."""
    conditions = list(evidence)
    for wanted in (lambda holds: holds is not True, lambda holds: True):
        for path, holds in conditions:
            line = declared.line_of(path)
            if line is not None and wanted(holds):
                return line
    return declared.line


def declared_text(declared: DeclaredView, line: int | None) -> str:
    """``declared at plan.json:20 (aws_subnet.a)`` (no ``:line`` when the source has none)."""
    return f"declared at {where(declared.file, line)} ({declared.address})"


def sarif_uri(file: str) -> tuple[str, bool]:
    """(uri, relative) of a plan or template file for a SARIF artifactLocation: a relative path
    (backslashes made slashes, ``./`` dropped, percent-encoded), to be read relative to the
    folder the command ran in (%SRCROOT%, the repository in CI); an absolute path as a
    ``file:`` URI (relative False: no base, since a base would make it name another file)."""
    path = file.replace("\\", "/")
    if path.startswith("/") or re.match(r"[A-Za-z]:/", path):
        return "file://" + ("" if path.startswith("/") else "/") + quote(path, safe="/:"), False
    return quote(posixpath.normpath(path) if path else ".", safe="/"), True


@dataclass(frozen=True)
class PlanResource:
    """A modelled resource of the plan: what the plan does to it and its id in the model."""

    address: str
    type: str
    model_type: str
    id: str
    action: str
    line: int | None


@dataclass(frozen=True)
class PlanUnsupported:
    """A resource of a type the readers do not model (listed in every output)."""

    address: str
    type: str
    action: str
    line: int | None
    network: bool          # a network type: the assessment is incomplete

    @property
    def reason(self) -> str:
        """Why it matters, in words."""
        if self.network:
            return (f"resource type {self.type} is not modelled: the network the plan or template builds is not fully "
                    "known, so the assessment is incomplete")
        return f"resource type {self.type} is not modelled (not a network resource type: listed only)"


@dataclass(frozen=True)
class PlanProblem:
    """Something of one resource the reader could not read: the values it concerns are unknown."""

    address: str
    message: str
    line: int | None


@dataclass(frozen=True)
class PlanView:
    """findings.json ``run.plan``: the plan or template the model was built from."""

    kind: str
    file: str
    sha256: str
    format_version: str
    account: str
    regions: tuple[str, ...]
    overlay_snapshot: str              # "" when the plan was evaluated alone
    overlay_manifest_sha256: str
    resources: tuple[PlanResource, ...]
    unsupported: tuple[PlanUnsupported, ...]
    problems: tuple[PlanProblem, ...]
    notes: tuple[str, ...]

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, self.kind)

    @property
    def has_lines(self) -> bool:
        """Whether the source gives line numbers (a template does; a plan's JSON does not)."""
        return self.kind != "terraform-plan"

    def where(self, line: int | None) -> str:
        return where(self.file, line)

    @property
    def action_counts(self) -> tuple[tuple[str, int], ...]:
        """(action, modelled resources) in `ACTIONS` order, then other actions by name; only
        actions the plan has."""
        counts: dict[str, int] = {}
        for r in self.resources:
            counts[r.action] = counts.get(r.action, 0) + 1
        order = [a for a in ACTIONS if a in counts] + sorted(a for a in counts if a not in ACTIONS)
        return tuple((a, counts[a]) for a in order)

    @property
    def network_unsupported(self) -> tuple[PlanUnsupported, ...]:
        return tuple(u for u in self.unsupported if u.network)

    @property
    def unsupported_network_first(self) -> tuple[PlanUnsupported, ...]:
        """The unsupported resources, those of network types first (each group in the plan's order)."""
        return self.network_unsupported + tuple(u for u in self.unsupported if not u.network)

    @property
    def incomplete(self) -> bool:
        """Whether the plan run could not model all of the network: an unsupported network
        resource or a problem reading the source."""
        return bool(self.network_unsupported or self.problems)

    @property
    def incomplete_text(self) -> str:
        """What the plan run could not model, in one sentence ("" when nothing)."""
        parts = []
        if self.network_unsupported:
            parts.append(f"{len(self.network_unsupported)} resource(s) of network types the tool does not model")
        if self.problems:
            parts.append(f"{len(self.problems)} problem(s) reading the {self.kind_name} "
                         "(the values concerned are unknown)")
        return "; ".join(parts)

    @property
    def source(self) -> str:
        """``Terraform plan plan.json (format 1.2; sha256:...)``."""
        version = f"format {self.format_version}; " if self.format_version else ""
        return f"{self.kind_name} {self.file} ({version}{self.sha256})"


def plan_view(run: Mapping[str, Any]) -> PlanView | None:
    """The view of findings.json ``run.plan``; None for a run without a plan."""
    plan = run.get("plan")
    if not isinstance(plan, Mapping):
        return None
    overlay = plan.get("overlay")
    overlay = overlay if isinstance(overlay, Mapping) else {}

    def rows(key: str) -> list[Mapping[str, Any]]:
        value = plan.get(key)
        return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []

    return PlanView(
        kind=_s(plan.get("kind")), file=_s(plan.get("file")), sha256=_s(plan.get("sha256")),
        format_version=_s(plan.get("format_version")), account=_s(plan.get("account")),
        regions=tuple(_s(r) for r in plan.get("regions") or ()),
        overlay_snapshot=_s(overlay.get("snapshot")), overlay_manifest_sha256=_s(overlay.get("manifest_sha256")),
        resources=tuple(PlanResource(_s(r.get("address")), _s(r.get("type")), _s(r.get("model_type")), _s(r.get("id")),
                                     _s(r.get("action")), _line(r.get("line"))) for r in rows("resources")),
        unsupported=tuple(PlanUnsupported(_s(r.get("address")), _s(r.get("type")), _s(r.get("action")),
                                          _line(r.get("line")), r.get("network") is True) for r in rows("unsupported")),
        problems=tuple(PlanProblem(_s(r.get("address")), _s(r.get("message")), _line(r.get("line")))
                       for r in rows("problems")),
        notes=tuple(_s(n) for n in plan.get("notes") or ()))


def plan_fingerprint(plan: PlanView, what: str, address: str, detail: str = "") -> str:
    """A stable id of an unsupported resource or a problem of the plan (20 hex digits): the
    file, the kind of entry, the address and (for a problem) its message."""
    key = "\x1f".join(["plan", plan.file, what, address, detail])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
