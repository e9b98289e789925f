"""SARIF 2.1.0 (findings.sarif): a result per FAIL, ERROR and WAIVED finding, located at the
config or pack line that made its rule apply and at the AWS resource
(auditor/report/machine.py `sarif_stream`; docs/reports.md), written a result at a time."""

from __future__ import annotations

from typing import BinaryIO

from auditor.report.writers import ReportInputs, Writer, streamed


def _stream(inputs: ReportInputs, out: BinaryIO) -> None:
    from auditor.report.machine import sarif_stream
    from auditor.findings_text import load_without_findings

    # SARIF reads the document's rules, packs and config, never its findings (the model has them).
    sarif_stream(inputs.model, load_without_findings(inputs.findings_json), out)


WRITER = Writer(name="sarif", file_name="findings.sarif", write=streamed(_stream), order=20, rederivable=True,
                stream=_stream)
