"""The PDF evidence report: the report model laid out by a Jinja2 template and a print
stylesheet (reports/templates/pdf_report.html.j2, pdf_print.css), rendered by WeasyPrint as
PDF/A-3b with findings.json (and the snapshot manifest when given) embedded, and the snapshot
record files the failing findings cite (auditor/report/pdf_records.py) when the snapshot is given.

Templates only format: every value comes from the `ReportModel` or the small context built
here. Every string is escaped (Jinja2 autoescape), so AWS names and tags stay text.

Deterministic: the PDF's creation and modification dates (document and attachments) are
pinned to SOURCE_DATE_EPOCH when set, else the snapshot's collection finish time, else the
assessment day; WeasyPrint's PDF/A file identifier is a hash of the content, so the same
input gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, UTC
from pathlib import Path
from typing import Any
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markupsafe import Markup

    from auditor.report.pdf_records import RecordSelection

from auditor.report.cost_view import PDF_FULL, PDF_ROWS
from auditor.report.model import FindingView, ReportModel, ordered_frameworks, utc_text
from auditor.report.writers import FindingsBytes, whole_bytes
from auditor.report.wording import load_style, load_wording, templates_dir
from auditor.vocabulary import FAILING, SEVERITIES, STATUSES, severity_rank

TEMPLATE = "pdf_report.html.j2"
STYLESHEET = "pdf_print.css"
_OBSERVED_MAX = 600   # characters of an observed value shown; the full value is in the attached findings.json
# Rows of each list of the Plan section (unsupported resources, problems) shown; past it, how many
# more (the HTML report and the attached findings.json list every one).
PLAN_LIST_MAX = 200
# Explanation lines shown per finding (findings.json evidence[].explanation: how a derived value
# was decided); past it, how many more, which findings.json (attached) and the HTML report hold.
EXPLAIN_MAX = 8
# PASS findings whose explanation is shown ("How the passes were decided"), in the document's
# order; past it, how many more (every one is in the attached findings.json and the HTML report).
EXPLAINED_PASSES_MAX = 200
# A run of more findings than this is summarised in the PDF (an organisation's run: thousands of
# account-regions): every FAIL and ERROR finding is still printed in full, grouped per account,
# and the others (WAIVED, PASS, NOT_APPLICABLE) are counted per account, rule and status; the
# PDF says so and names where every finding is in full (findings.json, attached; the HTML report
# and the CSV). At or below it the PDF is as it always was. docs/reports.md, "Reports at
# organisation size".
FULL_FINDINGS_MAX = 20000
# In a summarised PDF, at most this many FAIL findings are printed in full (the worst severities
# first; every ERROR finding is, whatever their number): WeasyPrint holds the layout of every page
# until the PDF is written, about 130 KB per finding printed in full (measured with
# benchmarks/org_report_bench.py's estate: 2,000 in full took 134 MB more than 1,000), so an
# organisation's 40k failing findings would take gigabytes. The others are counted per account
# and rule (each rule's FAIL count in *Findings summarised per account*); the PDF says how many
# and that each is in full in findings.json, report.html and findings.csv. 1,000 keeps the
# scan's every format of 2,000 account-regions within its memory target (docs/reports.md).
FAILING_FULL_MAX = 1000
# The files of the evidence bundle that hold every finding in full, as the summarised PDF names them.
FULL_DATA_FILES = ("findings.json", "report.html", "findings.csv")


@dataclass(frozen=True)
class RuleCounts:
    """The summarised findings of one rule in one account: how many of each status."""

    rule: str
    title: str
    counts: tuple[tuple[str, int], ...]   # (status, count), statuses in STATUSES order, counts > 0

    @property
    def text(self) -> str:
        return ", ".join(f"{n} {s}" for s, n in self.counts)


@dataclass(frozen=True)
class AccountSummary:
    """One account of a summarised PDF: its failing findings (printed in full) and the counts
    per rule and status of the rest."""

    account: str
    name: str
    failing: int
    summarised: int
    rules: tuple[RuleCounts, ...]
    counted: int = 0   # its FAIL findings past the cap: counted in `rules` (status FAIL), not printed


@dataclass(frozen=True)
class Summarised:
    """What a summarised PDF left out of its full listings, and the sentence saying so."""

    total: int                          # findings of the run
    limit: int                          # FULL_FINDINGS_MAX (or the caller's)
    failing: int                        # FAIL and ERROR findings, all printed (in full, or listed: `brief`)
    counts: tuple[tuple[str, int], ...]   # summarised findings per status
    accounts: tuple[AccountSummary, ...]
    brief: frozenset[str] = frozenset()  # fingerprints of the FAIL findings counted, not printed
    failing_max: int = FAILING_FULL_MAX

    @property
    def count(self) -> int:
        return sum(n for _s, n in self.counts)

    @property
    def sentence(self) -> str:
        by_status = ", ".join(f"{n} {s}" for s, n in self.counts if n) or "none"
        return (f"This run has {self.total} findings, more than the {self.limit} this report lists one by one, so it is "
                f"summarised: every FAIL and ERROR finding ({self.failing}) is "
                + ("printed in full below, grouped by account; " if not self.brief else
                   f"accounted for: {self.failing - len(self.brief)} (every ERROR, then the FAIL findings of the worst "
                   f"severities, at most {self.failing_max}) are printed in full below, grouped by account, and the "
                   f"other {len(self.brief)} FAIL findings are counted per account and rule (Findings summarised per "
                   "account: each rule's FAIL count), not printed one by one; ")
                + f"the other {self.count} findings ({by_status}) are summarised as counts per account, rule and status "
                "(Findings summarised per account), and the explanations of passes and the waived findings are not "
                "listed one by one."
                + f" The complete data, every finding with its evidence, is in {FULL_DATA_FILES[0]} "
                f"(attached to this PDF and in the evidence bundle), the HTML report ({FULL_DATA_FILES[1]}) and the CSV "
                f"({FULL_DATA_FILES[2]}) of the evidence bundle"
                + (f": each of the {len(self.brief)} FAIL findings counted here is listed there in full." if self.brief
                   else "."))


def summarised(model: ReportModel, limit: int = FULL_FINDINGS_MAX,
               failing_max: int = FAILING_FULL_MAX) -> Summarised | None:
    """What the PDF of `model` summarises: None when it has at most `limit` findings (every
    listing in full, as always); else the per-account counts of its findings that are neither
    FAIL nor ERROR, and (more than `failing_max` failing findings) the FAIL findings counted per
    account and rule rather than printed: every ERROR finding, and `failing_max` FAIL findings
    of the worst severities, are printed in full."""
    if len(model.findings) <= limit:
        return None
    names = {a.id: a.name for a in model.run.accounts}
    titles = {r.id: r.title for r in model.rules}
    errors = sum(1 for f in model.failing if f.status == "ERROR")
    fails = [f for f in model.failing if f.status == "FAIL"]   # worst severity first
    brief = frozenset(f.fingerprint for f in fails[max(0, failing_max - errors):])
    per: dict[str, dict[str, dict[str, int]]] = {}
    failing: dict[str, int] = {}
    counted: dict[str, int] = {}
    totals: dict[str, int] = {}
    for f in model.findings:
        account = f.resource.account
        if f.status in FAILING:
            failing[account] = failing.get(account, 0) + 1
            per.setdefault(account, {})
            if f.fingerprint not in brief:
                continue
            counted[account] = counted.get(account, 0) + 1
        rule = per.setdefault(account, {}).setdefault(f.rule.id, {})
        rule[f.status] = rule.get(f.status, 0) + 1
        if f.status not in FAILING:
            totals[f.status] = totals.get(f.status, 0) + 1
    accounts = []
    for account in sorted(per):
        rules = tuple(RuleCounts(rid, titles.get(rid, ""), tuple((s, c[s]) for s in STATUSES if c.get(s)))
                      for rid, c in sorted(per[account].items()))
        accounts.append(AccountSummary(account, names.get(account, ""), failing.get(account, 0),
                                       sum(n for r in rules for s, n in r.counts if s not in FAILING), rules,
                                       counted.get(account, 0)))
    return Summarised(total=len(model.findings), limit=limit, failing=sum(failing.values()),
                      counts=tuple((s, totals.get(s, 0)) for s in STATUSES if s not in FAILING),
                      accounts=tuple(accounts), brief=brief, failing_max=failing_max)


def explained(finding: FindingView) -> tuple[tuple[str, ...], int]:
    """The explanation lines of a finding the PDF shows (at most `EXPLAIN_MAX`), and how many
    more it has."""
    from auditor.report.machine import explanation_lines

    lines = explanation_lines(finding)
    return lines[:EXPLAIN_MAX], max(0, len(lines) - EXPLAIN_MAX)


@dataclass(frozen=True)
class PdfInputs:
    """What the PDF needs besides the model: the findings.json bytes (attached, and hashed
    for the report id), the snapshot manifest's bytes when available, and the snapshot folder
    whose record files the failing findings cite (attached; None: "no snapshot given")."""

    findings_json: FindingsBytes   # bytes, or a read-only map of the file
    manifest: bytes | None = None
    snapshot: Path | None = None


def records_of(model: ReportModel, inputs: PdfInputs) -> RecordSelection:
    """The snapshot records the failing findings cite, read and checked for attachment."""
    from auditor.report.model import record_hashes_of
    from auditor.report.pdf_records import select_records

    hashes = {**record_hashes_of(inputs.manifest), **{n: sha for n, sha in model.failing_records if sha}}
    return select_records((n for n, _sha in model.failing_records), hashes, inputs.snapshot)


def report_id(findings_json: FindingsBytes, manifest_sha256: str = "") -> str:
    """The run id, as the evidence bundle's bundle.json records it: the first 16 hex digits of
    the SHA-256 of the snapshot manifest digest, a newline and the findings.json bytes (of
    findings.json alone when no snapshot is recorded)."""
    digest = hashlib.sha256(manifest_sha256.encode() + b"\n" if manifest_sha256 else b"")
    digest.update(findings_json)   # never a copy of findings.json joined to the prefix
    return digest.hexdigest()[:16]


def pinned_time(model: ReportModel, environ: Mapping[str, str] | None = None) -> datetime:
    """SOURCE_DATE_EPOCH, else the snapshot's finish time, else the assessment day (UTC midnight),
    else the epoch: never the wall clock."""
    env = os.environ if environ is None else environ
    sde = env.get("SOURCE_DATE_EPOCH", "").strip()
    if sde.isdigit():
        return datetime.fromtimestamp(int(sde), tz=UTC)
    for text in (model.run.finished, model.run.assessed_on):
        if text:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return datetime.fromtimestamp(0, tz=UTC)


def _observed(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > _OBSERVED_MAX:
        return text[:_OBSERVED_MAX] + " … (truncated; the full value is in the attached findings.json)"
    return text


# C0 controls (but tab and newline) and DEL have no glyph: shown as U+FFFD, as the XML outputs do.
_CONTROLS = {c: "\ufffd" for c in [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F]}


def _finalize(value: Any) -> Any:
    """Every `{{ value }}` of the template: strings lose the control characters a PDF cannot show
    (escaping follows, by autoescape)."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return value.translate(_CONTROLS)
    return value


# Where an identifier may wrap besides its spaces: after a colon or a slash (ARNs, API calls, paths).
_ID_PARTS = re.compile(r"[^:/]*[:/]|[^:/]+")
# A piece with a character after which UAX #14 would let a line end (a hyphen before a letter,
# a bracket, a dot...): kept on one line unless it is wider than its column.
_BREAKABLE = re.compile(r"[^A-Za-z0-9:/]")


def _whole(piece: str) -> Markup:
    """One piece of an identifier or a command, escaped: an inline block (class tok) when it has
    a line-break opportunity of its own, so a line never ends inside it; a piece wider than its
    column still wraps inside its block (pdf_print.css)."""
    from markupsafe import Markup

    if _BREAKABLE.search(piece):
        return Markup('<span class="tok">{}</span>').format(piece)
    return Markup.escape(piece)


def _ident(value: Any) -> Markup:
    """An identifier (id, date, ticket, region, ARN, API call) set so that a line ends only at a
    space or after a colon or a slash (a zero-width <wbr>), never at a hyphen inside it, and
    inside a piece only when the piece is wider than its column."""
    from markupsafe import Markup

    words = str(value).translate(_CONTROLS).split(" ")
    return Markup(" ").join(Markup("<wbr>").join(_whole(p) for p in _ID_PARTS.findall(w)) for w in words)


# A word of running text that is an identifier: a hyphen, colon or slash between two letters or
# digits (subnet-0a1b, tgw-rtb-1, arn:aws:..., 10.0.0.0/16, account/region).
_ID_WORD = re.compile(r"[A-Za-z0-9][-:/][A-Za-z0-9]")
_SPACES = re.compile(r"(\s+)")
# Inside a piece of an identifier, a WORD JOINER after each character that is not a letter or a
# digit takes away the line-break opportunity UAX #14 gives there (after a hyphen...); after
# ":" or "/" a ZERO WIDTH SPACE gives one (what <wbr> is in WeasyPrint's stylesheet). Both are
# default-ignorable: no glyph, nothing in the PDF's text. A piece longer than _JOINED_MAX
# characters keeps its own break opportunities, so it can still fit its column.
_JOINER, _BREAK, _JOINED_MAX = "\u2060", "\u200b", 48
_AFTER_PUNCTUATION = re.compile(r"([^A-Za-z0-9])(?=.)")


def _flow_word(word: str) -> str:
    pieces = []
    for piece in _ID_PARTS.findall(word):
        end = piece[-1] if piece[-1] in ":/" else ""
        body = piece[:-1] if end else piece
        if len(body) <= _JOINED_MAX:
            body = _AFTER_PUNCTUATION.sub(r"\1" + _JOINER, body)
        pieces.append(body + end)
    return _BREAK.join(pieces)


def _flow(value: Any) -> str:
    """Running text of the failing-finding blocks (a finding's message, resource, observed and
    expected values): each word that is an identifier ends a line only after ":" or "/" (or at
    a space), never at a hyphen inside it ("tgw-" / "rtb-1"); the other words are left as they
    are. Text only, no markup: a report of 10k failing findings lays out as fast as plain text
    (an element per piece, as `_ident` makes, costs WeasyPrint ten times the time and memory)."""
    parts = _SPACES.split(str(value).translate(_CONTROLS))
    return "".join(_flow_word(p) if _ID_WORD.search(p) else p for p in parts)


def _flow_id(value: Any) -> str:
    """An identifier of the failing-finding blocks (rule, framework and control ids, ARN,
    fingerprint, evidence path, source record) as `_flow` sets an identifier word, whatever its
    characters: "164.308(a)(6)(ii)" stays whole too."""
    parts = _SPACES.split(str(value).translate(_CONTROLS))
    return "".join(p if p.isspace() or not p else _flow_word(p) for p in parts)


def _command(value: Any) -> Markup:
    """A shell command (a rule's cli remediation): a line ends only at a space between two words."""
    from markupsafe import Markup

    words = str(value).translate(_CONTROLS).split()
    # Every word with a character a line may break after (a slash or colon too, unlike _whole) is one box.
    return Markup(" ").join(Markup('<span class="tok">{}</span>').format(w) if not w.isalnum() else Markup.escape(w)
                            for w in words)


def render_html(model: ReportModel, inputs: PdfInputs, *, style: str | None = None,
                environ: Mapping[str, str] | None = None, records: RecordSelection | None = None,
                full_max: int = FULL_FINDINGS_MAX, failing_max: int = FAILING_FULL_MAX) -> str:
    """The report's HTML (print layout), before WeasyPrint. The words of `style` (else the
    model's, else the wording's default style) and its colours and sign-off roles come from its
    file (auditor/report/wording.py); ValueError for a style there is no file of. `records`:
    what `records_of` chose to attach (default: chosen here). A run of more than `full_max`
    findings is summarised (`summarised`)."""
    import jinja2
    from markupsafe import Markup

    folder = templates_dir()
    words = load_wording(folder)
    chosen = load_style(style or model.style or words.pdf_default_style, folder)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             finalize=_finalize)
    env.filters["observed"] = _observed
    env.filters["utc"] = utc_text
    env.filters["ident"] = _ident
    env.filters["flow"] = _flow
    env.filters["flow_id"] = _flow_id
    env.filters["command"] = _command
    when = pinned_time(model, environ)
    summary = summarised(model, full_max, failing_max)
    records = records if records is not None else records_of(model, inputs)
    # Worst severity first, then grouped by rule (its heading printed once), the model's order within;
    # summarised: per account first.
    failing = sorted(model.failing, key=lambda f: (severity_rank(f.severity), f.rule.id) if summary is None
                     else (f.resource.account, f.fingerprint in summary.brief, severity_rank(f.severity),
                           f.rule.id))
    frameworks = ordered_frameworks(model.frameworks, chosen.frameworks_first)
    passes = [] if summary is not None else [f for f in model.findings
                                             if f.status == "PASS" and any(e.explanation for e in f.evidence)]
    context = {
        "m": model, "w": chosen.pdf, "style": chosen.name, "nl": "\n", "statuses": STATUSES,
        "frameworks": frameworks, "counted": {fw.id: words.count_words(fw.id) for fw in frameworks},
        # Our own stylesheet and the style's colours (checked #hex values), not AWS data.
        "css": Markup((folder / STYLESHEET).read_text(encoding="utf-8") + "\n" + chosen.css() + "\n"),
        "signoff_roles": chosen.signoff_roles,
        "report_id": report_id(inputs.findings_json, model.run.manifest_sha256),
        "findings_sha256": hashlib.sha256(inputs.findings_json).hexdigest(),
        "manifest_file_sha256": hashlib.sha256(inputs.manifest).hexdigest() if inputs.manifest is not None else "",
        "pinned": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "failing": failing,
        "failing_by_severity": {s: sum(1 for f in failing if f.severity == s) for s in SEVERITIES},
        "rules_by_id": model.rules_by_id,
        "records": records,
        "plan_max": PLAN_LIST_MAX,
        "explained": explained, "explain_max": EXPLAIN_MAX,
        "explained_passes": passes[:EXPLAINED_PASSES_MAX],
        "explained_passes_more": max(0, len(passes) - EXPLAINED_PASSES_MAX),
        "summarised": summary, "brief": summary.brief if summary is not None else frozenset(),
        "record_reasons": _reasons(records) if summary is not None else [],
        "account_names": {a.id: a.name for a in model.run.accounts},
        "failing_per_account": _per_account(failing) if summary is not None else {},
        "counted_per_account": {a.account: a.counted for a in summary.accounts} if summary is not None else {},
        "cv": model.costs.view(words.costs), "cw": words.costs,
        "cost_caps": {"full": PDF_FULL, "rows": PDF_ROWS},
    }
    return env.get_template(TEMPLATE).render(**context)


def _reasons(records: RecordSelection) -> list[tuple[str, int]]:
    """Why the records not attached are not, each reason with how many (a summarised PDF)."""
    out: dict[str, int] = {}
    for r in records.not_attached:
        why = r.why if not r.why.startswith("its ") else "it would take the attached records past their cap of bytes"
        out[why] = out.get(why, 0) + 1
    return sorted(out.items())


def _per_account(failing: list[FindingView]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in failing:
        out[f.resource.account] = out.get(f.resource.account, 0) + 1
    return out


def render_pdf(model: ReportModel, inputs: PdfInputs, *, style: str | None = None,
               environ: Mapping[str, str] | None = None, full_max: int = FULL_FINDINGS_MAX,
               failing_max: int = FAILING_FULL_MAX) -> bytes:
    """The PDF/A-3b evidence report with findings.json (and the manifest, and the records the
    failing findings cite) attached; a run of more than `full_max` findings summarised."""
    from weasyprint import HTML, Attachment

    when = pinned_time(model, environ).replace(tzinfo=None)
    records = records_of(model, inputs)
    html = render_html(model, inputs, style=style, environ=environ, records=records, full_max=full_max,
                       failing_max=failing_max)
    # WeasyPrint reads an attachment whole: a map of the file is read here, once.
    attachments = [Attachment(string=whole_bytes(inputs.findings_json), name="findings.json", created=when, modified=when,
                              description="findings.json: every finding this report is made from",
                              relationship="Source")]
    if inputs.manifest is not None:
        attachments.append(Attachment(string=inputs.manifest, name="manifest.json", created=when, modified=when,
                                      description="The snapshot manifest (SHA-256 of every record)",
                                      relationship="Data"))
    # Each once, however many findings cite it; bytes whose SHA-256 equals the manifest's only.
    for name, data in records.files:
        attachments.append(Attachment(string=data, name=name, created=when, modified=when,
                                      description="Snapshot record cited by a failing finding",
                                      relationship="Source"))
    out = io.BytesIO()
    HTML(string=html, base_url=None).write_pdf(out, pdf_variant="pdf/a-3b", attachments=attachments,
                                               uncompressed_pdf=False)
    return out.getvalue()
