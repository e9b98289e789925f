"""JUnit XML (findings.junit.xml): a test suite per pack, a test case per finding
(auditor/report/machine.py `junit_xml`)."""

from __future__ import annotations

from typing import BinaryIO

from auditor.report.writers import ReportInputs, Writer, streamed


def _stream(inputs: ReportInputs, out: BinaryIO) -> None:
    from auditor.report.machine import write_junit

    write_junit(inputs.model, out)


WRITER = Writer(name="junit", file_name="findings.junit.xml", write=streamed(_stream), order=10, rederivable=True,
                stream=_stream)
