"""Reports made from findings.json: `model.build_model` is the one step from the document to
a `ReportModel`; each output format is a writer module of `writers` (JUnit XML, SARIF 2.1.0,
CSV: `machine`; the self-contained HTML report: `html`; the PDF/A-3b evidence report: `pdf`),
which only formats it. The wording of the HTML and PDF (report styles, status terms) is data:
`wording` loads it from reports/templates.

Nothing is imported here, so that listing the formats (`writers.format_names`) stays cheap."""
