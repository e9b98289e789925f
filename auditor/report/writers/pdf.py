"""The PDF/A-3b evidence report (report.pdf; auditor/report/pdf.py `render_pdf`), with
findings.json and the snapshot manifest attached. Not re-derived by `auditor verify`: its bytes
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

    return render_pdf(inputs.model, PdfInputs(inputs.findings_json, inputs.manifest), style=inputs.style)


WRITER = Writer(name="pdf", file_name="report.pdf", write=_write, order=60, evidence=True, by_default=False)
