"""The self-contained HTML report (report.html; auditor/report/html.py `html_report`)."""

from __future__ import annotations

from auditor.report.writers import ReportInputs, Writer


def _write(inputs: ReportInputs) -> bytes:
    from auditor.report.html import html_report

    return html_report(inputs.model)


WRITER = Writer(name="html", file_name="report.html", write=_write, order=50, evidence=True, rederivable=True)
