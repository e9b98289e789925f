"""CSV (findings.csv): a row per finding, then a row per gap (auditor/report/machine.py
`csv_bytes`)."""

from __future__ import annotations

from auditor.report.writers import ReportInputs, Writer


def _write(inputs: ReportInputs) -> bytes:
    from auditor.report.machine import csv_bytes

    return csv_bytes(inputs.model)


WRITER = Writer(name="csv", file_name="findings.csv", write=_write, order=30, rederivable=True)
