"""The report model: one pure step from a findings.json document, rule metadata, the
framework catalogues and the report wording to an immutable `ReportModel`. Every report
format (one writer module each in auditor/report/writers/: JUnit XML, SARIF, CSV, JSON, the
HTML report and the PDF) only formats this model and never reads findings.json itself;
`auditor.report.outputs` writes them into a folder.

Nothing here reads the clock; the caller loads packs and catalogues and passes the snapshot
manifest's bytes to `record_hashes_of`, and the report wording (auditor/report/wording.py:
status terms, a framework's default words) is the built-in one unless given. The same inputs
give an equal model.
"""

from __future__ import annotations

import json
import mmap
import re
from collections import Counter
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple
from collections.abc import Mapping, Sequence

from auditor.report.procedures import TestingView, testing_view
from auditor.report.cost_view import Costs
from auditor.report.diagram import Diagrams
from auditor.report.wording import Wording, load_style, load_wording, style_names
from auditor.report.workpaper import Workpaper, workpaper_of
from auditor.report.mapping_view import ControlReview, control_review
from auditor.report.plan_view import DeclaredView, PlanView, declared_line, declared_text, declared_view, plan_view
from auditor.report.risk import RiskSection, hipaa_risk
from auditor.rules.frameworks import Catalogue
from auditor.rules.packs import PackSet
from auditor.vocabulary import FAILING, SEVERITIES, STATUSES, severity_rank

_ISO_UTC = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(?:Z|\+00:00)")


def utc_text(stamp: str) -> str:
    """``2026-03-01T10:00:00.123456Z`` -> ``2026-03-01 10:00:00 UTC`` for readers; anything
    else (empty, another zone) as it is."""
    m = _ISO_UTC.fullmatch(stamp)
    return f"{m.group(1)} {m.group(2)} UTC" if m else stamp


def control_order(control_id: str) -> list[Any]:
    """Natural order of control ids: 1.4.1, 1.5.1, 7.2.1, 10.2.1 (not 1.4.1, 10.2.1, ...).
    Splitting on digit runs alternates text and numbers, so keys always compare."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", control_id)]


def ordered_frameworks(frameworks: tuple[FrameworkView, ...], first: Sequence[str]) -> list[FrameworkView]:
    """`frameworks` with those of `first` first (a style's `frameworks_first`, in its order),
    then the rest by id."""
    first = list(first)
    return sorted(frameworks, key=lambda fw: (first.index(fw.id) if fw.id in first else len(first), fw.id))


def status_term(framework: str, status: str, words: Wording | None = None) -> str:
    """`status` (FAIL, PASS, ...) as the framework's reports say it (`words`: the report
    wording; default: the built-in one)."""
    return (words or load_wording()).status_term(framework, status)


def authority_label(authorities: tuple[str, ...] | list[str], words: Wording | None = None) -> str:
    """One label for a set of authority ids, e.g. ``mapped by AWS Security Hub`` (`words`: the
    report wording, reports/templates/wording.yaml; default: the built-in one)."""
    return (words or load_wording()).authority_label(authorities)


@dataclass(frozen=True, slots=True)   # one per finding: no __dict__ each
class ResourceView:
    type: str
    id: str
    account: str
    region: str
    arn: str
    vpc_id: str
    # Where a Terraform plan or CloudFormation template declares it (findings.json
    # resource.declared); None for a resource of a collected snapshot.
    declared: DeclaredView | None = None

    @property
    def label(self) -> str:
        """``type id account/region`` (the arn is shown separately)."""
        return f"{self.type} {self.id} {self.account}/{self.region}"


@dataclass(frozen=True, slots=True)   # one per finding: no __dict__ each
class EvidenceView:
    path: str
    observed: Any          # JSON data as observed (rendered by each format; treat as read-only)
    expected: str
    holds: bool | None
    sources: tuple[str, ...]   # records/<file>#/json/pointer
    # How the derived values read were decided (findings.json's "explanation"; codes of
    # auditor/analyze/explain.py): shown for a PASS as well as a FAIL.
    explanation: tuple[str, ...] = ()


@dataclass(frozen=True)
class ControlRef:
    """A framework control a rule cites, with who says so."""

    framework: str
    control: str
    title: str
    authority: str          # label, e.g. "mapped by AWS Security Hub"
    third_party_only: bool


@dataclass(frozen=True, slots=True)   # one per finding: no __dict__ each
class WaiverRef:
    id: str
    status: str
    approver: str
    ticket: str
    expires: str
    justification: str


@dataclass(frozen=True)
class RuleView:
    id: str
    title: str
    severity: str
    pack: str
    resource: str
    rationale: str
    remediation: tuple[tuple[str, str], ...]   # (kind, text), sorted by kind
    references: tuple[str, ...]
    controls: tuple[ControlRef, ...]
    status: str
    counts: Mapping[str, int]

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(sorted({self.pack, self.resource, self.severity} - {""}))


@dataclass(frozen=True, slots=True)   # one per finding: no __dict__ each
class FindingView:
    fingerprint: str
    rule: RuleView
    severity: str
    status: str
    resource: ResourceView
    item: str | None
    message: str
    evidence: tuple[EvidenceView, ...]
    waiver: WaiverRef | None

    @property
    def rule_id(self) -> str:
        return self.rule.id

    @property
    def name(self) -> str:
        """``type id [item] account/region``."""
        item = f" [{self.item}]" if self.item is not None else ""
        return f"{self.resource.type} {self.resource.id}{item} {self.resource.account}/{self.resource.region}"

    @property
    def declared_line(self) -> int | None:
        """The line of the plan or template this finding points at (`declared_line`: the
        field of its first condition that does not hold, else the resource); None when the
        resource is not declared by one or the source has no lines."""
        d = self.resource.declared
        return None if d is None else declared_line(d, ((e.path, e.holds) for e in self.evidence))

    @property
    def declared_at(self) -> str:
        """``declared at plan.json:20 (aws_subnet.a)``; "" for a resource of a snapshot."""
        d = self.resource.declared
        return "" if d is None else declared_text(d, self.declared_line)


@dataclass(frozen=True)
class ControlView:
    id: str
    title: str
    status: str
    term: str                    # the status in the framework's words
    rules: tuple[str, ...]
    counts: Mapping[str, int]
    authorities: tuple[str, ...]
    authority: str               # label
    third_party_only: bool
    review: ControlReview | None = None   # per-rule authority and rationale (auditor/report/mapping_view.py)


@dataclass(frozen=True)
class FrameworkView:
    id: str
    title: str
    version: str
    status: str
    term: str
    requirement_word: str        # e.g. "Requirement" (PCI), "Section" (HIPAA)
    environment_word: str
    controls: tuple[ControlView, ...]
    # Every status in the framework's words (the report wording's status terms).
    terms: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # How many controls there are in running text ("5 criteria", "11 requirements",
    # "5 Annex A controls"): the report wording's counted forms of `requirement_word`.
    requirements_counted: str = ""

    def control_counts(self) -> Mapping[str, int]:
        """How many controls have each status (requirements, never findings)."""
        c = Counter(ctl.status for ctl in self.controls)
        return _frozen({s: c.get(s, 0) for s in STATUSES})


@dataclass(frozen=True)
class PassSummary:
    """The passes of one framework control: the rules and the population they held on."""

    framework: str
    control: str
    title: str
    rules: tuple[str, ...]
    passed: int                  # PASS findings
    population: int              # findings assessed for the control (every status but NOT_APPLICABLE)
    resources: int               # distinct resources that passed


@dataclass(frozen=True)
class WaiverRow:
    id: str
    status: str
    approver: str
    ticket: str
    created: str
    expires: str
    days_to_expiry: Any
    justification: str
    rules: tuple[str, ...]
    resources: tuple[str, ...]
    compensating_control: str
    source: str


@dataclass(frozen=True)
class NotAssessed:
    account: str
    region: str
    calls: tuple[str, ...]
    reason: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class ScopeGapView:
    """findings.json `scope_gaps`: a place or rule where nothing was assessed, and why."""

    kind: str
    account: str
    region: str
    vpc_id: str
    reason: str
    suggestions: tuple[str, ...]
    rules: tuple[str, ...]

    @property
    def place(self) -> str:
        return f"{self.account}/{self.region}" if self.account or self.region else ""


@dataclass(frozen=True)
class PackRef:
    id: str
    version: str
    title: str
    builtin: bool
    sha256: str


class AccountView(NamedTuple):
    id: str
    name: str
    problem: str        # why it could not be (fully) collected; "" when it could
    role_arn: str       # the role the collector assumed ("" when it used the credentials as given)
    identity: str       # the ARN sts:GetCallerIdentity answered in the account ("" when unknown)
    # assessed | incomplete | not_assessed (findings.json run.accounts[].status; derived from
    # `problem` for documents written before it existed)
    status: str = ""
    detail: str = ""    # the status in words: "reached as <arn> ...", "not reached: <why>"
    gaps: int = 0       # not_assessed entries of this account
    regions: tuple[str, ...] = ()

    @property
    def reached(self) -> bool:
        """Whether the account answered as an identity at all."""
        return bool(self.identity)


@dataclass(frozen=True)
class RunMeta:
    tool_name: str
    tool_version: str
    manifest_sha256: str
    started: str
    finished: str
    complete: bool
    collector_version: str
    calls: int
    errors: int
    assessed_on: str
    config_digest: str
    packs: tuple[PackRef, ...]
    accounts: tuple[AccountView, ...]
    regions: tuple[str, ...]
    scope_everything: bool
    scope_vpc_ids: tuple[str, ...]
    # How the scope selects VPCs, one clause each, any of them selects: "VPC ids vpc-1, vpc-2",
    # "tag data-classification = pci or phi"; empty when everything is in scope.
    scope_selectors: tuple[str, ...]
    resources_in_scope: Mapping[str, int]
    resources_out_of_scope: Mapping[str, int]
    # The tags the scope selects VPCs by: key -> the values any of which selects.
    scope_tags: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ReportModel:
    organisation: str
    profile_id: str
    profile_title: str
    style: str                   # a report style (a file of reports/templates/styles/) or "" (none)
    wording: Mapping[str, str]
    run: RunMeta
    finding_counts: Mapping[str, int]
    rule_counts: Mapping[str, int]
    by_severity: Mapping[str, Mapping[str, int]]
    complete: bool
    stale_waivers: int
    rules: tuple[RuleView, ...]
    frameworks: tuple[FrameworkView, ...]
    findings: tuple[FindingView, ...]     # every finding, in the document's order
    passes: tuple[PassSummary, ...]
    waivers: tuple[WaiverRow, ...]
    not_assessed: tuple[NotAssessed, ...]
    # The SHA-256 ("sha256:<hex>") of each snapshot record file a finding cites, from the
    # snapshot manifest when one was given; empty without it.
    record_hashes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    hipaa_risk: RiskSection | None = None   # HIPAA risk-analysis input (auditor/report/risk.py)
    scope_gaps: tuple[ScopeGapView, ...] = ()   # nothing assessed there: the run is incomplete
    profile_version: str = ""
    # The environment's name when a style's own term does not fit the scope (wording.yaml
    # `regulated_environment`).
    regulated_environment: str = "in-scope (regulated) environment"
    # Per requirement: the testing procedure, population and result (auditor/report/procedures.py).
    testing: TestingView | None = None
    # The network diagrams (findings.json `topology`; auditor/report/diagram.py), made when drawn.
    diagrams: Diagrams = field(default_factory=lambda: Diagrams({}), compare=False, repr=False)
    # Worksheets, management responses and the assessor block (auditor/report/workpaper.py).
    workpaper: Workpaper = field(default_factory=Workpaper)
    # The Terraform plan or CloudFormation template of a plan run (findings.json run.plan;
    # auditor/report/plan_view.py); None for a run on a snapshot alone.
    plan: PlanView | None = None
    # The cost view (findings.json `costs`; auditor/report/cost_view.py), made when a report shows it.
    costs: Costs = field(default_factory=lambda: Costs({}), compare=False, repr=False)

    @property
    def profile_text(self) -> str:
        """The compliance profile as the reports name it: ``<id>: <title>, version <version>``,
        or ``none (every built-in pack)`` when the run had none."""
        if not (self.profile_id or self.profile_title):
            return "none (every built-in pack)"
        text = ": ".join(x for x in (self.profile_id, self.profile_title) if x)
        return f"{text}, version {self.profile_version}" if self.profile_version else text

    @property
    def waived(self) -> tuple[FindingView, ...]:
        """The WAIVED findings (each with the waiver that applied), in the document's order."""
        return tuple(f for f in self.findings if f.status == "WAIVED")

    def environment(self, style: str, term: str) -> str:
        """What to call the in-scope environment: `term` (the style's word, e.g. "cardholder
        data environment (CDE)") when the scope selects no VPC by tag or only by tag values the
        style's `scope_tags` name (pci, cde, ...); else `regulated_environment`, since the
        scope then holds data the style's term does not cover (e.g. pci and phi VPCs are not
        all cardholder data environment). Without a style (`style` "" or one there is no file
        of) `term` is the neutral one, which fits any scope."""
        values = {v.lower() for vs in self.run.scope_tags.values() for v in vs}
        if not values or style not in style_names():
            return term
        covered = {t.lower() for t in load_style(style).scope_tags}
        return term if values <= covered else self.regulated_environment

    @property
    def failing(self) -> tuple[FindingView, ...]:
        """FAIL and ERROR findings, worst severity first (then the document's order)."""
        bad = [f for f in self.findings if f.status in FAILING]
        return tuple(sorted(bad, key=lambda f: (severity_rank(f.severity), f.status != "FAIL")))

    @property
    def failing_records(self) -> tuple[tuple[str, str], ...]:
        """(record file, its SHA-256 or "") for every record the failing findings cite, sorted."""
        files = {s.split("#", 1)[0] for f in self.failing for e in f.evidence for s in e.sources}
        return tuple((name, self.record_hashes.get(name, "")) for name in sorted(files))

    @property
    def rules_by_id(self) -> Mapping[str, RuleView]:
        return _frozen({r.id: r for r in self.rules})

    @property
    def every_call_answered(self) -> bool:
        """True only when the data says so: the snapshot is complete, no call failed, no
        gap was recorded and every account was assessed. Never a default: a report that says
        "every call was answered" must be able to show it."""
        return (self.run.complete and self.run.errors == 0 and not self.not_assessed
                and all(a.status == "assessed" for a in self.run.accounts))

    @property
    def unassessed_accounts(self) -> tuple[AccountView, ...]:
        """Accounts that could not be assessed at all (no credentials, role refused, ...)."""
        return tuple(a for a in self.run.accounts if a.status == "not_assessed")

    @property
    def gap_summary(self) -> str:
        """One sentence on what could not be assessed, from the data ("" when nothing)."""
        if self.every_call_answered:
            return ""
        parts = []
        if self.unassessed_accounts:
            parts.append(f"{len(self.unassessed_accounts)} account(s) could not be assessed at all")
        places = {(g.account, g.region) for g in self.not_assessed}
        if places:
            parts.append(f"{len(self.not_assessed)} gap(s) in {len(places)} account-region(s) "
                         "(calls that failed or were not attempted)")
        if self.run.errors:
            parts.append(f"{self.run.errors} of {self.run.calls} recorded calls failed")
        if not parts and not self.run.complete:
            parts.append("the snapshot is not complete")
        if self.finding_counts.get("ERROR", 0):
            parts.append(f"{self.finding_counts['ERROR']} finding(s) could not be assessed (ERROR)")
        return "; ".join(parts)


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _listed(value: Any, sep: str) -> tuple[str, ...]:
    """A field the waiver data may give as a list or as one text (findings.json's register
    joins a waiver's rules with ", " and its resource selectors with "; "): its items, never
    its characters. A selector written as a mapping ({"id": "vpc-1"}) reads as the register
    writes it ("id vpc-1")."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(sep) if p.strip())
    if isinstance(value, Mapping):
        return (" ".join(f"{k} " + (", ".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, Mapping) else str(v))
                         for k, v in value.items()),)
    if isinstance(value, (list, tuple)):
        return tuple(x for item in value for x in _listed(item, sep))
    return (str(value),)


def _counts(data: Mapping[str, Any] | None) -> Mapping[str, int]:
    data = data or {}
    return _frozen({s: int(data.get(s, 0)) for s in STATUSES})


def _frozen(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


def _frameworks(doc: Mapping[str, Any], catalogues: Mapping[str, Catalogue],
                wording: Mapping[str, str], report_words: Wording) -> tuple[FrameworkView, ...]:
    term = report_words.status_term
    out = []
    for fw in doc.get("frameworks", []):
        cat = catalogues.get(fw["id"])
        words = {**report_words.framework_words, **(dict(cat.wording) if cat is not None else {})}
        if len(doc.get("frameworks", [])) == 1:
            words.update(wording)
        controls = tuple(ControlView(
            id=c["id"], title=c.get("title") or (cat.controls[c["id"]].title if cat and c["id"] in cat.controls else ""),
            status=c["status"], term=term(fw["id"], c["status"]), rules=tuple(c.get("rules", [])),
            counts=_counts(c.get("counts")), authorities=tuple(c.get("authorities", [])),
            authority=report_words.authority_label(c.get("authorities", [])), third_party_only=bool(c.get("third_party_only")),
            review=control_review(c, cat, report_words))
            for c in sorted(fw.get("controls", []), key=lambda c: control_order(c["id"])))
        out.append(FrameworkView(id=fw["id"], title=fw.get("title", fw["id"]), version=_s(fw.get("version")),
                                 status=fw["status"], term=term(fw["id"], fw["status"]),
                                 requirement_word=words["requirement"], environment_word=words["environment"],
                                 controls=controls, terms=_frozen({s: term(fw["id"], s) for s in STATUSES}),
                                 requirements_counted=report_words.counted(words["requirement"], len(controls))))
    return tuple(out)


def _rules(doc: Mapping[str, Any], packs: PackSet | None,
           frameworks: tuple[FrameworkView, ...]) -> tuple[RuleView, ...]:
    known = packs.rules_by_id if packs is not None else {}
    cites: dict[str, list[ControlRef]] = {}
    for fw in frameworks:
        for c in fw.controls:
            for rid in c.rules:
                cites.setdefault(rid, []).append(ControlRef(fw.id, c.id, c.title, c.authority, c.third_party_only))
    out = []
    for r in doc.get("rules", []):
        meta = known.get(r["id"])
        out.append(RuleView(
            id=r["id"], title=r.get("title") or (meta.title if meta else ""), severity=r["severity"],
            pack=r.get("pack", ""), resource=r.get("resource", ""),
            rationale=meta.rationale.strip() if meta else "",
            remediation=tuple(sorted((str(k), str(v).strip()) for k, v in (meta.remediation if meta else {}).items())),
            references=tuple(meta.references) if meta else (),
            controls=tuple(sorted(cites.get(r["id"], []), key=lambda c: (c.framework, c.control))),
            status=r["status"], counts=_counts(r.get("counts"))))
    return tuple(out)


def _placeholder_rule(rule_id: str, severity: str) -> RuleView:
    return RuleView(id=rule_id, title="", severity=severity, pack="", resource="", rationale="", remediation=(),
                    references=(), controls=(), status="", counts=_counts(None))


class _Shared:
    """One object for each distinct text of the findings (accounts, regions, types, evidence
    paths, expected conditions, record names...): an organisation's run repeats them across
    its findings, which then share them instead of each holding its own copy."""

    def __init__(self) -> None:
        self._seen: dict[Any, Any] = {}

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return self._seen.setdefault(value, value)


def _finding(f: Mapping[str, Any], rules: Mapping[str, RuleView], share: _Shared | None = None) -> FindingView:
    sh = share or _Shared()
    r = f["resource"]
    w = f.get("waiver")
    return FindingView(
        fingerprint=f["fingerprint"], rule=rules.get(f["rule_id"]) or _placeholder_rule(f["rule_id"], f["severity"]),
        severity=sh(f["severity"]), status=sh(f["status"]),
        resource=ResourceView(type=sh(_s(r.get("type"))), id=_s(r.get("id")), account=sh(_s(r.get("account"))),
                              region=sh(_s(r.get("region"))), arn=_s(r.get("arn")), vpc_id=sh(_s(r.get("vpc_id"))),
                              declared=declared_view(r.get("declared"))),
        item=None if f.get("item") is None else sh(str(f["item"])), message=_s(f.get("message")),
        evidence=tuple(EvidenceView(path=sh(_s(e.get("path"))), observed=sh(e.get("observed")),
                                    expected=sh(_s(e.get("expected"))), holds=e.get("holds"),
                                    sources=tuple(sh(str(s)) for s in e.get("sources", [])),
                                    explanation=tuple(sh(str(x)) for x in e.get("explanation") or ()))
                       for e in f.get("evidence", [])),
        waiver=WaiverRef(id=sh(_s(w.get("id"))), status=sh(_s(w.get("status"))), approver=sh(_s(w.get("approver"))),
                         ticket=sh(_s(w.get("ticket"))), expires=sh(_s(w.get("expires"))),
                         justification=sh(_s(w.get("justification")))) if w else None)


def _passes(frameworks: tuple[FrameworkView, ...], findings: tuple[FindingView, ...]) -> tuple[PassSummary, ...]:
    by_rule: dict[str, list[FindingView]] = {}
    for f in findings:
        by_rule.setdefault(f.rule.id, []).append(f)
    out = []
    for fw in frameworks:
        for c in fw.controls:
            members = [f for rid in c.rules for f in by_rule.get(rid, [])]
            passed = [f for f in members if f.status == "PASS"]
            if not passed:
                continue
            out.append(PassSummary(
                framework=fw.id, control=c.id, title=c.title, rules=c.rules, passed=len(passed),
                population=sum(1 for f in members if f.status != "NOT_APPLICABLE"),
                resources=len({(f.resource.account, f.resource.region, f.resource.type, f.resource.id)
                               for f in passed})))
    return tuple(out)


def _waivers(doc: Mapping[str, Any]) -> tuple[WaiverRow, ...]:
    return tuple(WaiverRow(
        id=_s(w.get("id")), status=_s(w.get("status")), approver=_s(w.get("approver")), ticket=_s(w.get("ticket")),
        created=_s(w.get("created")), expires=_s(w.get("expires")), days_to_expiry=w.get("days_to_expiry"),
        justification=_s(w.get("justification")), rules=_listed(w.get("rules"), ","),
        resources=_listed(w.get("resources"), ";"),
        compensating_control=_s(w.get("compensating_control")), source=_s(w.get("source")))
        for w in doc.get("waivers", []))


def _run(doc: Mapping[str, Any]) -> RunMeta:
    run = doc["run"]
    snap = run.get("snapshot", {})
    scope = run.get("scope", {})
    return RunMeta(
        tool_name=_s(run["tool"].get("name")), tool_version=_s(run["tool"].get("version")),
        manifest_sha256=_s(snap.get("manifest_sha256")), started=_s(snap.get("started")),
        finished=_s(snap.get("finished")), complete=bool(snap.get("complete")),
        collector_version=_s(snap.get("collector_version")), calls=int(snap.get("calls", 0)),
        errors=int(snap.get("errors", 0)), assessed_on=_s(run.get("assessed_on")),
        config_digest=_s((run.get("config") or {}).get("digest")),
        packs=tuple(PackRef(id=_s(p.get("id")), version=_s(p.get("version")), title=_s(p.get("title")),
                            builtin=bool(p.get("builtin")), sha256=_s(p.get("sha256"))) for p in run.get("packs", [])),
        accounts=tuple(_account(a, Counter(str(g.get("account", "")) for g in doc.get("not_assessed", [])))
                       for a in run.get("accounts", [])),
        regions=tuple(str(r) for r in run.get("regions", [])),
        scope_everything=bool(scope.get("everything")), scope_vpc_ids=tuple(scope.get("vpc_ids", [])),
        scope_selectors=_selectors(scope),
        resources_in_scope=_frozen(dict(sorted((scope.get("resources_in_scope") or {}).items()))),
        resources_out_of_scope=_frozen(dict(sorted((scope.get("resources_out_of_scope") or {}).items()))),
        scope_tags=_frozen({str(k): _listed(v, ",") for k, v in sorted((scope.get("tags") or {}).items())}))


def _account(a: Mapping[str, Any], gaps: Mapping[str, int]) -> AccountView:
    """An account row; a document written before run.accounts had a status gets one derived
    from its problem and its not_assessed entries (never "assessed" by default)."""
    account, problem = _s(a.get("id")), _s(a.get("problem"))
    identity, role = _s(a.get("identity")), _s(a.get("role_arn"))
    n = int(a.get("gaps") or gaps.get(account, 0))
    status = _s(a.get("status")) or ("not_assessed" if problem else "incomplete" if n else "assessed")
    detail = _s(a.get("detail")) or (f"not reached: {problem}" if problem else
                                     f"reached as {identity or 'an unknown identity'}"
                                     + (f"; {n} gap(s): some calls failed (see Not assessed)" if n else ""))
    return AccountView(account, _s(a.get("name")), problem, role, identity, status, detail, n,
                       tuple(str(r) for r in a.get("regions") or ()))


def _selectors(scope: Mapping[str, Any]) -> tuple[str, ...]:
    out = [f"VPC ids {', '.join(map(str, scope['vpc_ids']))}"] if scope.get("vpc_ids") else []
    for key, values in sorted((scope.get("tags") or {}).items()):
        out.append(f"tag {key} = {' or '.join(map(str, values))}")
    return tuple(out)


def record_hashes_of(manifest: bytes | None) -> dict[str, str]:
    """A snapshot manifest.json's ``files`` (record path -> "sha256:<hex>"); {} when there is
    no manifest or it holds no such map (reports are then made without record hashes)."""
    if manifest is None:
        return {}
    try:
        files = json.loads(manifest).get("files")
    except (ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def build_model(document: Mapping[str, Any] | bytes | mmap.mmap, packs: PackSet | None = None,
                catalogues: Mapping[str, Catalogue] | None = None, *, style: str | None = None,
                record_hashes: Mapping[str, str] | None = None, words: Wording | None = None) -> ReportModel:
    """The report model of a (schema-valid) findings.json `document`. `packs` gives rule
    rationale, remediation and references (rules it lacks keep the document's title only);
    `catalogues` the frameworks' wording. `style` overrides the profile's. `record_hashes`
    (`record_hashes_of` the snapshot manifest) gives each cited record's SHA-256. `words` is
    the report wording (status terms, default framework words; default: the built-in one).
    `document` may be findings.json's bytes (or a read-only map of the file, `auditor.report.outputs.map_findings`):
    its findings are then parsed one at a time, so that an organisation's run never has all of
    them as parsed JSON and as views at once."""
    from auditor.findings_text import iter_findings, load_without_findings

    source: Any
    if isinstance(document, (bytes, bytearray, mmap.mmap)):
        raw = document if not isinstance(document, bytearray) else bytes(document)
        parsed: Mapping[str, Any] = load_without_findings(raw)
        source = iter_findings(raw)
        if "responses" in parsed:   # responses are assigned over the findings' JSON: parsed whole
            parsed = json.loads(raw if isinstance(raw, bytes) else raw[:])
            source = parsed.get("findings", [])
        return _model(parsed, source, packs, catalogues, style, record_hashes, words)
    return _model(document, document.get("findings", []), packs, catalogues, style, record_hashes, words)


def _model(document: Mapping[str, Any], source: Any, packs: PackSet | None,
           catalogues: Mapping[str, Catalogue] | None, style: str | None,
           record_hashes: Mapping[str, str] | None, words: Wording | None) -> ReportModel:
    cats = dict(catalogues or {})
    report_words = words or load_wording()
    run = document["run"]   # a document written before the rename names it "profile"
    profile = (run.get("compliance_profile") if "compliance_profile" in run else run.get("profile")) or {}
    wording = {str(k): str(v) for k, v in (profile.get("wording") or {}).items()}
    frameworks = _frameworks(document, cats, wording, report_words)
    rules = _rules(document, packs, frameworks)
    by_id = {r.id: r for r in rules}
    share = _Shared()
    findings = tuple(_finding(f, by_id, share) for f in source)
    del share
    cited = {s.split("#", 1)[0] for f in findings for e in f.evidence for s in e.sources}
    hashes = {k: v for k, v in sorted((record_hashes or {}).items()) if k in cited}
    summary = document["summary"]
    return ReportModel(
        organisation=_s(document["run"].get("config", {}).get("organization")),
        profile_id=_s(profile.get("id")), profile_title=_s(profile.get("title")),
        profile_version=_s(profile.get("version")), regulated_environment=report_words.regulated_environment,
        style=style if style is not None else _s(profile.get("style")),
        wording=_frozen({**report_words.framework_words, **wording}), run=_run(document),
        finding_counts=_counts(summary.get("findings")), rule_counts=_counts(summary.get("rules")),
        by_severity=_frozen({sev: _counts(summary.get("by_severity", {}).get(sev)) for sev in SEVERITIES}),
        complete=bool(summary.get("complete")), stale_waivers=int(summary.get("stale_waivers", 0)),
        rules=rules, frameworks=frameworks, findings=findings, passes=_passes(frameworks, findings),
        testing=testing_view(document, frameworks, findings),
        waivers=_waivers(document), diagrams=Diagrams(document), costs=Costs(document, findings),
        not_assessed=tuple(NotAssessed(account=_s(g.get("account")), region=_s(g.get("region")),
                                       calls=tuple(g.get("calls", [])), reason=_s(g.get("reason")),
                                       rules=tuple(g.get("rules", []))) for g in document.get("not_assessed", [])),
        record_hashes=_frozen(hashes), workpaper=workpaper_of(document),
        hipaa_risk=hipaa_risk(document, report_words.status_term), plan=plan_view(run),
        scope_gaps=tuple(ScopeGapView(kind=_s(g.get("kind")), account=_s(g.get("account")), region=_s(g.get("region")),
                                      vpc_id=_s(g.get("vpc_id")), reason=_s(g.get("reason")),
                                      suggestions=tuple(_s(x) for x in g.get("suggestions", [])),
                                      rules=tuple(g.get("rules", []))) for g in document.get("scope_gaps", [])))
