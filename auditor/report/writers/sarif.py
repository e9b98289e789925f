"""SARIF 2.1.0 (findings.sarif): a result per FAIL, ERROR and WAIVED finding
(auditor/report/machine.py `sarif`)."""

from __future__ import annotations

from auditor.report.writers import ReportInputs, Writer


def _write(inputs: ReportInputs) -> bytes:
    from auditor.report.machine import sarif

    return sarif(inputs.model)


WRITER = Writer(name="sarif", file_name="findings.sarif", write=_write, order=20, rederivable=True)
