"""The period report's HTML and PDF (docs/period-report.md): a `PeriodModel` laid out by
reports/templates/period_report.html.j2 (one self-contained HTML file, no script) and
period_pdf.html.j2 (WeasyPrint, PDF/A-3b with period.json attached, the run report's print
stylesheet). Everything shown is computed here; the templates only format. Strings are escaped
(Jinja2 autoescape); the same model gives the same bytes (no clock: the PDF's dates are
SOURCE_DATE_EPOCH, else the period's last run).

The control timeline is one SVG per framework: a column per run and per gap in evidence, a row
per control, a cell per status (none for a gap or a run that did not assess the control).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from datetime import UTC, date, datetime
from statistics import median
from typing import Any

from auditor.report.html import CSP, STATUS_COLOURS
from auditor.report.model import utc_text
from auditor.report.period import FindingRow, PeriodModel
from auditor.report.timeline import (
    PDF_MAX_WIDTH, PDF_ROWS_PER_PAGE, TimelineColumn, TimelineRow, chunk_rows, timeline_svg,
)
from auditor.report.wording import Style, load_style, load_wording, templates_dir
from auditor.vocabulary import STATUSES

HTML_TEMPLATE = "period_report.html.j2"
PDF_TEMPLATE = "period_pdf.html.j2"
STYLESHEET = "pdf_print.css"




def _columns(model: PeriodModel) -> list[tuple[TimelineColumn, int | None]]:
    """The timeline's columns, by time: each run (with its index) and each gap (None)."""
    cols: list[tuple[str, TimelineColumn, int | None]] = [
        (r.created, TimelineColumn(r.day[5:], date.fromisoformat(r.day), "run"), i) for i, r in enumerate(model.runs)]
    cols += [(g.expected.strftime("%Y-%m-%dT%H:%M:%SZ"), TimelineColumn(g.day.isoformat()[5:], g.day, "gap"), None) for g in model.gaps]
    cols.sort(key=lambda c: (c[0], c[1].kind))
    return [(c, i) for _, c, i in cols]


def timelines(model: PeriodModel, *, pdf: bool = False) -> list[dict[str, Any]]:
    """Per framework: its title and the SVG(s) of its controls' statuses at every run and gap
    (auditor/report/timeline.py): "absent" where a run did not assess the control (never PASS),
    a hatched column per gap. The PDF's pictures fit the page width, at most
    `PDF_ROWS_PER_PAGE` controls each."""
    from markupsafe import Markup

    cols = _columns(model)
    out = []
    frameworks = sorted({(c.framework, c.framework_title) for c in model.controls})
    for fw, fw_title in frameworks:
        rows = [TimelineRow(f"{c.control} {c.title}".strip(), [None if i is None else c.statuses[i] for _, i in cols])
                for c in model.controls if c.framework == fw]
        chunks = chunk_rows(rows, PDF_ROWS_PER_PAGE) if pdf else [rows]
        title = f"{fw_title or fw}: status of each control at every run"
        svgs = []
        for n, chunk in enumerate(chunks):
            part = f" (controls {n * PDF_ROWS_PER_PAGE + 1}-{n * PDF_ROWS_PER_PAGE + len(chunk)} of {len(rows)})" \
                if len(chunks) > 1 else ""
            svgs.append(Markup(timeline_svg([c for c, _ in cols], chunk, title=title + part,   # our own SVG, escaped
                                            max_width=PDF_MAX_WIDTH if pdf else 1000.0)))
        out.append({"id": fw, "title": fw_title or fw, "svg": Markup("".join(svgs))})
    return out


def summary(model: PeriodModel) -> dict[str, Any]:
    """The figures of the summary."""
    fixed_days = [s.days for f in model.findings for s in f.spans if s.days is not None]
    return {
        "controls": len(model.controls),
        "in_place": sum(1 for c in model.controls if c.in_place),
        "findings": len(model.findings),
        "open_at_end": sum(1 for f in model.findings if f.open_at_end),
        "open_at_start": sum(1 for f in model.findings if f.open_at_start),
        "fixed": sum(1 for f in model.findings for s in f.spans if s.fixed_in is not None),
        "reopened": sum(1 for f in model.findings if len(f.spans) > 1),
        "median_days": median(fixed_days) if fixed_days else None,
        "max_days": max(fixed_days) if fixed_days else None,
        "waivers": len(model.waivers),
        "waivers_expired": sum(1 for w in model.waivers if w.expired_in is not None),
        "resources": len(model.resources),
        "added": [r for r in model.resources if r.added],
        "removed": [r for r in model.resources if r.removed],
        "throughout": sum(1 for r in model.resources if not r.added and not r.removed),
        "incomplete_runs": sum(1 for r in model.runs if not r.complete),
    }


# The PDF lists at most this many resources added (and as many removed) by name; the counts per
# run are complete, and the full lists are in the HTML report and the attached period.json.
PDF_RESOURCES_MAX = 300


def finding_line(f: FindingRow) -> str:
    """One finding over the period as one line of the PDF (plain text lays out fast: a table row
    per finding costs WeasyPrint several times as much)."""
    what = f"{f.resource_type} {f.resource_id}" + (f" ({f.item})" if f.item else "") + f" {f.account}/{f.region}"
    fixed = (f"fixed in the run of {f.fixed_day} ({f.fixed_by}) after {f.days_to_remediate} days"
             + (" (at least: open at the period's start)" if f.open_at_start and len(f.spans) == 1 else "")
             if f.fixed_in else "not fixed")
    spans = f"; failing in {len(f.spans)} separate spans" if len(f.spans) > 1 else ""
    start = " (open at the period's start)" if f.open_at_start else ""
    if f.waived and f.first_failing_day != f.first_day:   # waived first: say when it failed unwaived
        start += (f"; failing (not waived) from {f.first_failing_day}" if f.first_failing_day
                  else "; never failing unwaived")
    end = f"OPEN at the end: {f.status_at_end}" if f.open_at_end else f"at the end: {f.status_at_end}"
    return (f"{f.severity}  {f.rule_id}  {what}: worst {f.worst}; first seen {f.first_day}{start}; "
            f"last seen {f.last_day}; {fixed}{spans}; {end}")


def resource_changes(model: PeriodModel) -> list[dict[str, Any]]:
    """Per run after the first: how many resources were first seen in it, and how many were last
    seen in the run before it (gone from it)."""
    added: dict[str, int] = {}
    gone: dict[str, int] = {}
    following = {r.run_id: model.runs[i + 1] for i, r in enumerate(model.runs[:-1])}
    for r in model.resources:
        if r.added:
            added[r.first_seen] = added.get(r.first_seen, 0) + 1
        if r.removed:
            after = following[r.last_seen].run_id
            gone[after] = gone.get(after, 0) + 1
    return [{"run": r, "added": added.get(r.run_id, 0), "removed": gone.get(r.run_id, 0)}
            for r in model.runs[1:] if added.get(r.run_id) or gone.get(r.run_id)]


def period_statement(model: PeriodModel) -> str:
    """The cover's statement of the period, as it is: asked, runs, first and last, gaps."""
    n = len(model.runs)
    if model.schedule is None:
        gaps = "no schedule: gaps in evidence not assessed"
    else:
        gaps = f"schedule {model.schedule}: {len(model.gaps)} gap{'s' if len(model.gaps) != 1 else ''}"
    return (f"Assessment period {model.start} to {model.end}; {n} run{'s' if n != 1 else ''}; "
            f"first run {utc_text(model.first_run)}, last run {utc_text(model.last_run)}; {gaps}")


def _style(style: str | None) -> Style:
    return load_style(style or load_wording().pdf_default_style)


def context(model: PeriodModel, style: str | None, *, pdf: bool = False) -> dict[str, Any]:
    """Everything both templates show."""
    from markupsafe import Markup

    chosen = _style(style)
    return {
        "m": model, "w": chosen.pdf, "h": chosen.html, "style": chosen.name, "statuses": STATUSES,
        "style_css": Markup(chosen.css()),   # checked #hex values only (wording.py)
        "statement": period_statement(model), "s": summary(model), "timelines": timelines(model, pdf=pdf),
        "colours": STATUS_COLOURS, "csp": CSP,
        "not_shown": [c for c in model.controls if not c.in_place],
        "waived": [f for f in model.findings if f.waived],
    }


def _env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["utc"] = utc_text
    return env


def period_html(model: PeriodModel, *, style: str | None = None) -> bytes:
    """The period report as one self-contained UTF-8 HTML file."""
    return _env().get_template(HTML_TEMPLATE).render(**context(model, style)).encode("utf-8")


def pinned_time(model: PeriodModel, environ: Mapping[str, str] | None = None) -> datetime:
    """SOURCE_DATE_EPOCH, else the period's last run's collection time: never the wall clock."""
    env = os.environ if environ is None else environ
    sde = env.get("SOURCE_DATE_EPOCH", "").strip()
    if sde.isdigit():
        return datetime.fromtimestamp(int(sde), tz=UTC)
    try:
        parsed = datetime.fromisoformat(model.last_run.replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, tz=UTC)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def period_json(model: PeriodModel) -> bytes:
    """period.json: the model (`PeriodModel.to_json`), sorted keys, UTF-8."""
    return (json.dumps(model.to_json(), indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def period_id(data: bytes) -> str:
    """The period report's id: the first 16 hex digits of period.json's SHA-256."""
    import hashlib

    return hashlib.sha256(data).hexdigest()[:16]


def render_pdf_html(model: PeriodModel, *, style: str | None = None, environ: Mapping[str, str] | None = None,
                    attachment: bytes | None = None) -> str:
    """The PDF's HTML (print layout), before WeasyPrint; `attachment`: period.json's bytes."""
    from markupsafe import Markup

    ctx = context(model, style, pdf=True)
    chosen = _style(style)
    css = (templates_dir() / STYLESHEET).read_text(encoding="utf-8")
    ctx["css"] = Markup(css + "\n" + chosen.css() + "\n")   # our own stylesheet and checked colours
    ctx["pinned"] = pinned_time(model, environ).strftime("%Y-%m-%dT%H:%M:%SZ")
    ctx["finding_lines"] = [finding_line(f) for f in model.findings]
    ctx["waived_lines"] = list(
        f"{f.rule_id}  {f.resource_type} {f.resource_id} {f.account}/{f.region}: waiver {ws.waiver} from {ws.from_day} "
        f"to {ws.to_day} (expires {ws.expires or 'not recorded'}){'; expired after it' if ws.expired else ''}"
        for f in model.findings for ws in f.waived)
    ctx["resource_changes"] = resource_changes(model)
    ctx["resources_max"] = PDF_RESOURCES_MAX
    ctx["run_day"] = {r.run_id: r.day for r in model.runs}   # a run named by its collection day
    ctx["report_id"] = period_id(period_json(model) if attachment is None else attachment)
    return str(_env().get_template(PDF_TEMPLATE).render(**ctx))


def period_pdf(model: PeriodModel, *, style: str | None = None, environ: Mapping[str, str] | None = None,
               attachment: bytes | None = None) -> bytes:
    """The period report as PDF/A-3b, with period.json (`attachment`, default `period_json`) attached."""
    from weasyprint import HTML, Attachment

    when = pinned_time(model, environ).replace(tzinfo=None)
    data = attachment if attachment is not None else period_json(model)
    html = render_pdf_html(model, style=style, environ=environ, attachment=data)
    out = io.BytesIO()
    HTML(string=html, base_url=None).write_pdf(
        out, pdf_variant="pdf/a-3b", uncompressed_pdf=False,
        attachments=[Attachment(string=data, name="period.json", created=when, modified=when,
                                description="period.json: the period report's content", relationship="Source")])
    return out.getvalue()
