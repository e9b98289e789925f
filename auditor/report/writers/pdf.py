"""The PDF/A-3b evidence report (report.pdf; auditor/report/pdf.py `render_pdf`), with
findings.json, the snapshot manifest and the records the failing findings cite attached, and
signed (PAdES, auditor/report/signing.py) when a signer is given. Not re-derived by `auditor verify`: its bytes
also depend on the WeasyPrint version and the fonts of the machine that made it. Not in
`auditor report`'s default list: WeasyPrint takes seconds to a minute on large runs."""

from __future__ import annotations

from auditor.report.writers import ReportInputs, ReportUnavailable, Writer


def _write(inputs: ReportInputs) -> bytes:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:   # OSError: the system's Pango is missing
        raise ReportUnavailable(f"the PDF report needs WeasyPrint and the system's Pango library: {exc}") from exc
    from auditor.report.pdf import PdfInputs, render_pdf

    pdf = render_pdf(inputs.model, PdfInputs(inputs.findings_json, inputs.manifest, inputs.snapshot),
                     style=inputs.style)
    if inputs.pdf_signer is None:
        return pdf
    from auditor.report.signing import SigningError, sign_pdf

    try:
        return sign_pdf(pdf, inputs.pdf_signer)
    except SigningError as exc:   # never written unsigned in place of the signed PDF asked for
        raise ReportUnavailable(f"{exc}; the PDF was not written (an unsigned one was not asked for)") from exc


WRITER = Writer(name="pdf", file_name="report.pdf", write=_write, order=60, evidence=True, by_default=False)
