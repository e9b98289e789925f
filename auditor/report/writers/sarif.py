"""SARIF 2.1.0 (findings.sarif): a result per FAIL, ERROR and WAIVED finding, located at the
config or pack line that made its rule apply and at the AWS resource
(auditor/report/machine.py `sarif`; docs/reports.md)."""

from __future__ import annotations

from auditor.report.writers import ReportInputs, Writer


def _write(inputs: ReportInputs) -> bytes:
    from auditor.report.machine import sarif
    from auditor.findings_text import load_without_findings

    # SARIF reads the document's rules, packs and config, never its findings (the model has them).
    return sarif(inputs.model, load_without_findings(inputs.findings_json))


WRITER = Writer(name="sarif", file_name="findings.sarif", write=_write, order=20, rederivable=True)
