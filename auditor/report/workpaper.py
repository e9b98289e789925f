"""Workpaper pieces of the report model: the compensating-control worksheet of each waiver,
management responses per finding and the assessor block, from a findings.json document.

Each piece says when it was not recorded, never leaving a blank that reads as complete: a
waiver without a worksheet gives every field as `NOT_RECORDED`, a failing finding without a
response `NO_RESPONSE`, a run without an assessor block `ASSESSOR_NOT_RECORDED`. Documents
written before these sections existed load the same way. Pure: the same document gives an
equal `Workpaper` (overdue is judged on the run's assessed date, as findings.json records it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar
from collections.abc import Iterable, Mapping

from auditor.responses import assign, is_overdue

# The worksheet's fields (auditor/rules/waivers.py WORKSHEET_FIELDS) as PCI DSS Appendix C
# names them, in its order.
WORKSHEET_LABELS: tuple[tuple[str, str], ...] = (
    ("constraints", "Constraints"),
    ("objective", "Objective of the original control"),
    ("identified_risk", "Identified risk"),
    ("definition", "Definition of compensating controls"),
    ("validation", "Validation of compensating controls"),
    ("maintenance", "Maintenance"),
)
NOT_RECORDED = "worksheet not recorded"
NO_RESPONSE = "no management response recorded"
ASSESSOR_NOT_RECORDED = "assessor not recorded"


def _s(value: Any) -> str:
    return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class WorksheetView:
    """One waiver's worksheet: (label, text) per field, `NOT_RECORDED` for a field it lacks."""

    waiver: str
    status: str
    rules: str
    recorded: bool                        # the waiver has a worksheet at all
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ResponseView:
    """One entry of findings.json's `responses` section."""

    fingerprint: str
    rule: str
    owner: str
    status: str
    target_date: str
    comment: str
    retest_date: str
    retest_result: str
    source: str
    matched: int
    overdue: bool

    @property
    def key(self) -> str:
        return f"finding {self.fingerprint}" if self.fingerprint else f"rule {self.rule}"

    @property
    def status_text(self) -> str:
        """``in-progress, OVERDUE (target 2026-03-31)`` and the like."""
        target = f"target {self.target_date}" if self.target_date else "no target date"
        return f"{self.status}{', OVERDUE' if self.overdue else ''} ({target})"

    @property
    def retest_text(self) -> str:
        return f"{self.retest_result} on {self.retest_date}" if self.retest_date else "not retested"

    @property
    def line(self) -> str:
        """The response in one line, as printed beside a finding."""
        text = f"Management response ({self.key}): {self.status_text}; owner {self.owner}; retest {self.retest_text}"
        return f"{text}; {self.comment}" if self.comment else text


@dataclass(frozen=True)
class AssessorView:
    company: str
    certificate: str
    lead_assessors: tuple[str, ...]
    independence: str
    fieldwork_start: str
    fieldwork_end: str
    qa_reviewer: str

    @property
    def fieldwork(self) -> str:
        return f"{self.fieldwork_start} to {self.fieldwork_end}"


@dataclass(frozen=True)
class Workpaper:
    worksheets: tuple[WorksheetView, ...] = ()
    # None: the run had no responses file (findings.json has no `responses` section).
    responses: tuple[ResponseView, ...] | None = None
    responses_file: str = ""
    by_finding: Mapping[str, ResponseView] = field(default_factory=lambda: MappingProxyType({}))
    assessor: AssessorView | None = None
    # The words for what is missing, for the templates (`m.workpaper.NO_RESPONSE`).
    NOT_RECORDED: ClassVar[str] = NOT_RECORDED
    NO_RESPONSE: ClassVar[str] = NO_RESPONSE
    ASSESSOR_NOT_RECORDED: ClassVar[str] = ASSESSOR_NOT_RECORDED

    def response(self, fingerprint: str) -> ResponseView | None:
        return self.by_finding.get(fingerprint)

    def response_line(self, fingerprint: str) -> str:
        """What to print beside a failing finding: its response, else `NO_RESPONSE`."""
        found = self.by_finding.get(fingerprint)
        return found.line if found is not None else f"Management response: {NO_RESPONSE}"

    @property
    def unmatched(self) -> tuple[ResponseView, ...]:
        return tuple(r for r in self.responses or () if not r.matched)

    @property
    def overdue(self) -> tuple[ResponseView, ...]:
        return tuple(r for r in self.responses or () if r.overdue)


def worksheets_of(waivers: Iterable[Mapping[str, Any]]) -> tuple[WorksheetView, ...]:
    out = []
    for w in waivers:
        sheet = w.get("worksheet")
        sheet = sheet if isinstance(sheet, Mapping) else None
        rules = w.get("rules")
        out.append(WorksheetView(
            waiver=_s(w.get("id")), status=_s(w.get("status")),
            rules=", ".join(map(str, rules)) if isinstance(rules, list) else _s(rules), recorded=sheet is not None,
            fields=tuple((label, _s(sheet.get(key)) if sheet is not None and _s(sheet.get(key)) else NOT_RECORDED)
                         for key, label in WORKSHEET_LABELS)))
    return tuple(out)


def _response(e: Mapping[str, Any], assessed_on: str) -> ResponseView:
    raw = e.get("retest")
    retest: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    target = _s(e.get("target_date"))
    status = _s(e.get("status"))
    return ResponseView(
        fingerprint=_s(e.get("fingerprint")), rule=_s(e.get("rule")), owner=_s(e.get("owner")) or "not recorded",
        status=status or "not recorded", target_date=target, comment=_s(e.get("comment")),
        retest_date=_s(retest.get("date")), retest_result=_s(retest.get("result")), source=_s(e.get("source")),
        matched=int(e.get("matched") or 0),
        overdue=bool(e["overdue"]) if "overdue" in e else is_overdue(status, target, assessed_on))


def _assessor(raw: Any) -> AssessorView | None:
    if not isinstance(raw, Mapping):
        return None
    leads = raw.get("lead_assessors")
    return AssessorView(
        company=_s(raw.get("company")) or "not recorded", certificate=_s(raw.get("certificate")) or "not recorded",
        lead_assessors=tuple(_s(x) for x in leads) if isinstance(leads, list) else (),
        independence=_s(raw.get("independence")) or "not recorded",
        fieldwork_start=_s(raw.get("fieldwork_start")) or "not recorded",
        fieldwork_end=_s(raw.get("fieldwork_end")) or "not recorded", qa_reviewer=_s(raw.get("qa_reviewer")))


def workpaper_of(document: Mapping[str, Any]) -> Workpaper:
    """The workpaper pieces of a findings.json `document`."""
    run = document.get("run") or {}
    section = document.get("responses")
    responses: tuple[ResponseView, ...] | None = None
    by_finding: dict[str, ResponseView] = {}
    if isinstance(section, Mapping):
        entries = [e for e in section.get("entries") or [] if isinstance(e, Mapping)]
        responses = tuple(_response(e, _s(run.get("assessed_on"))) for e in entries)
        by_finding = {fp: responses[i] for fp, i in assign(entries, document.get("findings") or []).items()}
    return Workpaper(worksheets=worksheets_of(w for w in document.get("waivers") or [] if isinstance(w, Mapping)),
                     responses=responses, responses_file=_s(section.get("file")) if isinstance(section, Mapping) else "",
                     by_finding=MappingProxyType(by_finding), assessor=_assessor(run.get("assessor")))


def responses_data(workpaper: Workpaper) -> dict[str, Any]:
    """The responses for the HTML findings list (report.js): ``{"lines": [text...], "overdue":
    [index...], "by_finding": {fingerprint: index}}``; a finding it does not name has none (the
    page then says `NO_RESPONSE`)."""
    lines = [r.line for r in workpaper.responses or ()]
    index = {id(r): i for i, r in enumerate(workpaper.responses or ())}
    return {"lines": lines, "none": f"Management response: {NO_RESPONSE}",
            "overdue": [i for i, r in enumerate(workpaper.responses or ()) if r.overdue],
            "by_finding": {fp: index[id(r)] for fp, r in sorted(workpaper.by_finding.items())}}
