"""Reports made from findings.json: `model.build_model` is the one step from the document to
a `ReportModel`; the formats (`machine`: JUnit XML, SARIF 2.1.0, CSV; `html`: the
self-contained HTML report) only format it."""

from auditor.report.model import ReportModel, build_model

__all__ = ["ReportModel", "build_model"]
