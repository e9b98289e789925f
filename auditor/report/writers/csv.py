"""CSV (findings.csv): a row per finding, then a row per gap (auditor/report/machine.py
`csv_stream`), written a thousand rows at a time."""

from __future__ import annotations

from typing import BinaryIO

from auditor.report.writers import ReportInputs, Writer, streamed


def _stream(inputs: ReportInputs, out: BinaryIO) -> None:
    from auditor.report.machine import csv_stream

    csv_stream(inputs.model, out)


WRITER = Writer(name="csv", file_name="findings.csv", write=streamed(_stream), order=30, rederivable=True,
                stream=_stream)
