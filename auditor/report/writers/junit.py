"""JUnit XML (findings.junit.xml): a test suite per pack, a test case per finding
(auditor/report/machine.py `junit_xml`)."""

from __future__ import annotations

from auditor.report.writers import ReportInputs, Writer


def _write(inputs: ReportInputs) -> bytes:
    from auditor.report.machine import junit_xml

    return junit_xml(inputs.model)


WRITER = Writer(name="junit", file_name="findings.junit.xml", write=_write, order=10, rederivable=True)
