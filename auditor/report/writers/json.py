"""findings.json itself: the bytes the report model was made from, unchanged."""

from __future__ import annotations

from auditor.report.writers import ReportInputs, Writer


def _write(inputs: ReportInputs) -> bytes:
    raw = inputs.findings_json
    return raw if isinstance(raw, bytes) else raw[:]


WRITER = Writer(name="json", file_name="findings.json", write=_write, order=40, evidence=True)
