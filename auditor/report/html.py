"""The self-contained HTML report of a `ReportModel`.

One file with inline CSS, JavaScript and SVG and a content security policy that blocks every
external load, so it works offline. A short summary comes first and the findings right after it
(failures on top; passes and not-applicable rows one click away), then the figures, scope,
control matrix, waivers, what was not assessed and run metadata. Everything but the findings is
rendered here (readable without JavaScript); the findings, with their rules' remediation, are
embedded as JSON and rendered by the page a page at a time, with filter, sort and search.

Strings from AWS are data: Jinja2 autoescapes every value, the embedded JSON is ASCII with
``<``, ``>`` and ``&`` escaped (so no ``</script>`` can close the data block), and the script
only ever sets ``textContent``. The same model gives the same bytes: no clock, data sorted.
"""

from __future__ import annotations

import io
import json
from typing import Any, BinaryIO
from collections.abc import Mapping

from auditor.report.machine import observed_text
from auditor.report.model import ReportModel, ordered_frameworks, utc_text
from auditor.report.wording import Wording, load_style, load_wording, style_names, templates_dir
from auditor.report.workpaper import responses_data
from auditor.vocabulary import SEVERITIES, STATUSES

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
TEMPLATE = "report.html.j2"
SCRIPT = "report.js"
PAGE_SIZE = 200

# The colour of each status in the charts (the template's stylesheet gives the same to .st-<STATUS>).
STATUS_COLOURS: Mapping[str, str] = {"FAIL": "#c62828", "ERROR": "#8e24aa", "WAIVED": "#ef6c00",
                                     "PASS": "#2e7d32", "NOT_APPLICABLE": "#757575"}
_BAR_WIDTH = 360


def json_for_script(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: ASCII only, and ``<``, ``>``,
    ``&`` as ``\\u003c``-style escapes, so neither ``</script>`` nor ``<!--`` can appear."""
    text = json.dumps(data, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _style(model: ReportModel, words: Wording) -> tuple[Mapping[str, str], tuple[str, ...], str]:
    """The words of the model's style (its file's ``html``), the frameworks it puts first and
    its colours as CSS custom properties; without a style, or with one there is no file of, the
    neutral words, no order and no colours (the stylesheet's own)."""
    if model.style and model.style in style_names():
        style = load_style(model.style)
        return style.html, style.frameworks_first, style.css()
    return words.neutral, (), ""


def _bars(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """One horizontal bar per status, scaled to the largest."""
    top = max([*counts.values(), 1])
    return [{"status": s, "count": counts.get(s, 0), "colour": STATUS_COLOURS[s],
             "width": round(_BAR_WIDTH * counts.get(s, 0) / top, 1), "y": 4 + 24 * i}
            for i, s in enumerate(STATUSES)]


def _stack(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """Segments of one stacked bar (status share of a total), left to right."""
    total = sum(counts.values())
    out, x = [], 0.0
    for s in STATUSES:
        n = counts.get(s, 0)
        if n and total:
            w = round(_BAR_WIDTH * n / total, 1)
            out.append({"status": s, "count": n, "colour": STATUS_COLOURS[s], "x": round(x, 1), "width": w})
            x += w
    return out


_VERDICTS = {True: "holds", False: "does not hold", None: "undecided"}


class _Strings:
    """A table of repeated strings: rows carry their index (a 100k-finding report stays small)."""

    def __init__(self) -> None:
        self.table: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        at = self._index.get(text)
        if at is None:
            at = self._index[text] = len(self.table)
            self.table.append(text)
        return at


def _source(s: _Strings, source: str) -> list[Any]:
    """``records/a/r/svc/Call~1.json#/pages/0/Things/7`` -> [index of everything up to the last
    ``/``, ``7``]: the records of one listing share their head, only the tail is per finding."""
    cut = source.rfind("/") + 1
    return [s(source[:cut]), source[cut:]]


def _around(s: _Strings, text: str, piece: str) -> int | list[int]:
    """`text` as a string index, or, when it contains `piece` (the resource id), as
    ``[index of what comes before, index of what comes after]`` the first `piece`: messages
    and ARNs that differ only by the resource id share their two halves."""
    at = text.find(piece) if piece else -1
    if at < 0:
        return s(text)
    return [s(text[:at]), s(text[at + len(piece):])]


def findings_data(model: ReportModel) -> dict[str, Any]:
    """The findings as compact rows for the page's script (report.js reads this layout):
    ``[fingerprint, rule, severity, status, type, id, account, region, arn, vpc, item, message,
    evidence, waiver[, declared]]``, where evidence is ``[[path, observed, expected, verdict, [source...][,
    [explanation...]]]]`` (the explanation lines, indexes, only on a condition that has them) and a source is ``[head, tail]`` (everything up to the last ``/`` as an index, the rest as a
    string). fingerprint and id are strings, item is a string or null, arn and message are an
    index or ``[before, after]`` indexes around the resource id, and every other field is an
    index into ``strings``. ``rules`` maps a rule id to ``[title, [[framework, control]...],
    [[kind, text]...], [reference...]]``: its title, the controls it cites, its remediation
    steps (``cli``, ``console``, ``iac``; from the rule packs, sorted by kind) and its references.
    A rule the packs do not know has no remediation and no references (empty lists). declared,
    only on the rows of a resource a plan or template declares, is the index of ``declared at
    <file>:<line> (<address>)``."""
    s = _Strings()
    rules: dict[str, Any] = {}
    rows = []
    for f in model.findings:
        if f.rule.id not in rules:
            rules[f.rule.id] = [f.rule.title, [[c.framework, c.control] for c in f.rule.controls],
                                [[kind, text] for kind, text in f.rule.remediation], list(f.rule.references)]
        r = f.resource
        rows.append([f.fingerprint, s(f.rule.id), s(f.severity), s(f.status), s(r.type), r.id, s(r.account),
                     s(r.region), _around(s, r.arn, r.id), s(r.vpc_id), f.item, _around(s, f.message, r.id),
                     [[s(e.path), s(observed_text(e.observed)), s(e.expected), s(_VERDICTS[e.holds]),
                       [_source(s, src) for src in e.sources], *([[s(x) for x in e.explanation]] if e.explanation
                                                                 else [])] for e in f.evidence],
                     s(f.waiver.id if f.waiver is not None else "")])
        if f.resource.declared is not None:
            rows[-1].append(s(f.declared_at))
    return {"strings": s.table, "rules": rules, "findings": rows}


def report_context(model: ReportModel) -> dict[str, Any]:
    """Everything the template shows, computed (the template only lays it out)."""
    import markupsafe

    words = load_wording()
    style, first, colours = _style(model, words)
    frameworks = ordered_frameworks(model.frameworks, first)
    fw_charts = [{"fw": fw, "counts": fw.control_counts(), "segments": _stack(fw.control_counts())}
                 for fw in frameworks]
    severities = [{"severity": sev, "counts": model.by_severity.get(sev, {}),
                   "segments": _stack(model.by_severity.get(sev, {}))} for sev in SEVERITIES]
    data = {
        "page": PAGE_SIZE,
        "manifest": model.run.manifest_sha256,
        "hashes": dict(model.record_hashes),
        "frameworks": [[fw.id, fw.title] for fw in frameworks],
        "terms": {fw.id: dict(fw.terms) for fw in frameworks},
        **findings_data(model),
        "responses": responses_data(model.workpaper),
    }
    return {
        "m": model, "csp": CSP, "title": style["title"], "subtitle": style["subtitle"],
        "style_css": markupsafe.Markup(colours),   # checked #hex values only (wording.py)
        "environment": style["environment"], "frameworks": frameworks, "fw_charts": fw_charts,
        "status_bars": _bars(model.finding_counts), "severities": severities, "statuses": STATUSES,
        "severity_names": SEVERITIES, "colours": STATUS_COLOURS, "bar_width": _BAR_WIDTH,
        "rules": sorted(model.rules, key=lambda r: r.id), "data_json": json_for_script(data),
        "cv": model.costs.view(words.costs), "cw": words.costs,
    }


def html_report(model: ReportModel) -> bytes:
    """The report as one UTF-8 HTML file."""
    out = io.BytesIO()
    write_html(model, out)
    return out.getvalue()


def write_html(model: ReportModel, out: BinaryIO) -> None:
    """`html_report` written into `out` as the template makes it, piece by piece (the page of an
    organisation's run is never held twice, as text and as bytes)."""
    import jinja2
    import markupsafe

    folder = templates_dir()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["utc"] = utc_text
    script = (folder / SCRIPT).read_text(encoding="utf-8")
    if "</" in script:  # pragma: no cover - would end the inline script early
        raise ValueError(f"{SCRIPT} must not contain '</'")
    for piece in env.get_template(TEMPLATE).generate(**report_context(model), script=markupsafe.Markup(script)):
        out.write(piece.encode("utf-8"))
