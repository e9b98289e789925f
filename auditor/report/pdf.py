"""The PDF evidence report: the report model laid out by a Jinja2 template and a print
stylesheet (reports/templates/pdf_report.html.j2, pdf_print.css), rendered by WeasyPrint as
PDF/A-3b with findings.json (and the snapshot manifest when given) embedded.

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
from dataclasses import dataclass
from datetime import datetime, UTC
from typing import Any
from collections.abc import Mapping

from auditor.findings import SEVERITIES
from auditor.report.model import FindingView, ReportModel, ordered_frameworks, utc_text

STYLES = ("banking", "healthcare")
TEMPLATE = "pdf_report.html.j2"
STYLESHEET = "pdf_print.css"
_OBSERVED_MAX = 600   # characters of an observed value shown; the full value is in the attached findings.json

# The wording of each style. Banking: PCI DSS v4.0 (ROC reporting values) and the FFIEC IT
# Examination Handbook; healthcare: the HIPAA Security Rule (45 CFR Part 164, Subpart C), ePHI.
STYLE_WORDING: Mapping[str, Mapping[str, str]] = {
    "banking": {
        "title": "Private Network Compliance Evidence Report",
        "regime": "PCI DSS v4.0 and the FFIEC Information Technology Examination Handbook",
        "environment": "cardholder data environment (CDE)",
        "data": "cardholder data and sensitive authentication data",
        "entity": "the assessed entity",
        "assessor": "Assessor (QSA / internal audit)",
        "owner": "Entity executive officer",
        "summary_lead": ("This report records the evidence that the network segments of the cardholder data "
                         "environment (CDE) are private, as PCI DSS v4.0 Requirement 1 (network security "
                         "controls) and the FFIEC Information Security booklet expect. Each requirement is "
                         "reported in the PCI DSS Report on Compliance terms: In Place, Not in Place, "
                         "Not Tested, Not Applicable."),
        "attestation": ("The undersigned attest that the evidence in this report was collected by automated, "
                        "read-only inspection of the in-scope AWS accounts at the time stated, that the findings "
                        "were produced by the rule packs and versions listed, and that the exceptions register "
                        "reflects compensating controls approved under the entity's risk-acceptance process, "
                        "consistent with PCI DSS v4.0 and FFIEC examination expectations."),
    },
    "healthcare": {
        "title": "HIPAA Security Rule Technical Safeguards Evidence Report",
        "regime": "the HIPAA Security Rule (45 CFR Part 164, Subpart C)",
        "environment": "systems that create, receive, maintain or transmit ePHI",
        "data": "electronic protected health information (ePHI)",
        "entity": "the covered entity or business associate",
        "assessor": "Security Official (45 CFR 164.308(a)(2))",
        "owner": "Privacy Official / compliance officer",
        "summary_lead": ("This report records the evidence that networks carrying electronic protected health "
                         "information (ePHI) are private, supporting the technical evaluation required by "
                         "45 CFR 164.308(a)(8) and the access control and transmission security standards "
                         "(164.312(a)(1), 164.312(e)(1)). Each standard is reported as Implemented, "
                         "Not implemented, Not assessed or Exception accepted."),
        "attestation": ("The undersigned attest that this technical evaluation of the safeguards protecting ePHI "
                        "was performed by automated, read-only inspection of the in-scope AWS accounts at the "
                        "time stated, that the findings were produced by the rule packs and versions listed, and "
                        "that every accepted exception is documented with its compensating safeguard, as the "
                        "HIPAA Security Rule's documentation requirements (45 CFR 164.316) expect."),
    },
}


@dataclass(frozen=True)
class PdfInputs:
    """What the PDF needs besides the model: the findings.json bytes (attached, and hashed
    for the report id) and the snapshot manifest's bytes when available."""

    findings_json: bytes
    manifest: bytes | None = None


def report_id(findings_json: bytes, manifest_sha256: str = "") -> str:
    """The run id, as the evidence bundle's bundle.json records it: the first 16 hex digits of
    the SHA-256 of the snapshot manifest digest, a newline and the findings.json bytes (of
    findings.json alone when no snapshot is recorded)."""
    data = manifest_sha256.encode() + b"\n" + findings_json if manifest_sha256 else findings_json
    return hashlib.sha256(data).hexdigest()[:16]


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


def _severity_key(f: FindingView) -> int:
    return SEVERITIES.index(f.severity) if f.severity in SEVERITIES else len(SEVERITIES)


def render_html(model: ReportModel, inputs: PdfInputs, *, style: str | None = None,
                environ: Mapping[str, str] | None = None) -> str:
    """The report's HTML (print layout), before WeasyPrint."""
    import jinja2
    from markupsafe import Markup

    from auditor.resources import builtin_dir

    chosen = style or model.style or "banking"
    if chosen not in STYLES:
        raise ValueError(f"unknown report style {chosen!r}; choose from {', '.join(STYLES)}")
    folder = builtin_dir("templates")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             finalize=_finalize)
    env.filters["observed"] = _observed
    env.filters["utc"] = utc_text
    when = pinned_time(model, environ)
    # Worst severity first, then grouped by rule (its heading printed once), the model's order within.
    failing = sorted(model.failing, key=lambda f: (_severity_key(f), f.rule.id))
    context = {
        "m": model, "w": STYLE_WORDING[chosen], "style": chosen, "nl": "\n",
        "frameworks": ordered_frameworks(model.frameworks, chosen),
        "css": Markup((folder / STYLESHEET).read_text(encoding="utf-8")),   # our own stylesheet, not AWS data
        "report_id": report_id(inputs.findings_json, model.run.manifest_sha256),
        "findings_sha256": hashlib.sha256(inputs.findings_json).hexdigest(),
        "manifest_file_sha256": hashlib.sha256(inputs.manifest).hexdigest() if inputs.manifest is not None else "",
        "pinned": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "failing": failing,
        "failing_by_severity": {s: sum(1 for f in failing if f.severity == s) for s in SEVERITIES},
        "rules_by_id": model.rules_by_id,
    }
    return env.get_template(TEMPLATE).render(**context)


def render_pdf(model: ReportModel, inputs: PdfInputs, *, style: str | None = None,
               environ: Mapping[str, str] | None = None) -> bytes:
    """The PDF/A-3b evidence report with findings.json (and the manifest) attached."""
    from weasyprint import HTML, Attachment

    when = pinned_time(model, environ).replace(tzinfo=None)
    html = render_html(model, inputs, style=style, environ=environ)
    attachments = [Attachment(string=inputs.findings_json, name="findings.json", created=when, modified=when,
                              description="findings.json: every finding this report is made from",
                              relationship="Source")]
    if inputs.manifest is not None:
        attachments.append(Attachment(string=inputs.manifest, name="manifest.json", created=when, modified=when,
                                      description="The snapshot manifest (SHA-256 of every record)",
                                      relationship="Data"))
    out = io.BytesIO()
    HTML(string=html, base_url=None).write_pdf(out, pdf_variant="pdf/a-3b", attachments=attachments,
                                               uncompressed_pdf=False)
    return out.getvalue()
