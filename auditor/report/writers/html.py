"""The self-contained HTML report (report.html; auditor/report/html.py `html_report`)."""

from __future__ import annotations

from typing import BinaryIO

from auditor.report.writers import ReportInputs, Writer, streamed


def _stream(inputs: ReportInputs, out: BinaryIO) -> None:
    from auditor.report.html import write_html

    write_html(inputs.model, out)


WRITER = Writer(name="html", file_name="report.html", write=streamed(_stream), order=50, evidence=True,
                rederivable=True, stream=_stream)
