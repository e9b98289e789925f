"""Two leftovers of issue 13's defects (Deliver 1), each seen failing before its fix:

- In the PDF's failing-finding blocks, resource ids, ARNs, framework ids and the ids inside a
  message (route hops, ``tgw-rtb-…``) could end a line at a hyphen. Like the ``ident`` filter
  elsewhere, the ``flow`` filter lets a line end only at a space or after ``:`` or ``/`` (with
  word joiners and zero-width spaces in the text, not an element per piece: 10k failing
  findings must stay fast). Read back from a real WeasyPrint PDF with pypdf.
- The HTML control matrix named each framework's own environment word (PCI's "cardholder data
  environment", HIPAA's "systems that handle ePHI", NIST's "system boundary") beside each
  framework, where the report means one environment: the scope, as
  `ReportModel.environment()` names it.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pypdf  # installed by the test extra; a missing one fails, never skips
import pytest

from auditor.report.html import html_report
from auditor.report.model import build_model
from auditor.report.pdf import PdfInputs, render_pdf
from auditor.report.wording import load_style
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs

from test_report_model import ACCOUNT, REGION, _finding, sample_document

FIXED = {"SOURCE_DATE_EPOCH": "1767225600"}

# Identifiers a failing finding prints, in its head line (the resource id), its message (route
# hops as the reachability rules write them), its ARN and its sources. None of them may end a
# line at a hyphen; those with ":" or "/" may end one after it.
HOPS = ("rtb-61efe52e1594a42f1", "tgw-ac21f3dd87af53dff", "tgw-rtb-54c900c8fcdffd189",
        "tgw-attach-0a1b2c3d4e5f60718")
RESOURCE = "subnet-0a1b2c3d4e5f60718"
ARN = f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{RESOURCE}"
# Words of different lengths before the hops, so that across the findings every hop (and the
# hyphens in it) meets the end of a line somewhere.
FILLERS = ("route", "reaches", "the", "internet", "gateway", "through", "a", "transit", "attachment")


def _failing_document(n: int = 36) -> dict[str, Any]:
    doc = sample_document()
    findings = []
    for i in range(n):
        lead = " ".join(FILLERS[j % len(FILLERS)] for j in range(i))
        message = f"{lead} {' → '.join(HOPS)} 0.0.0.0/0 → {HOPS[-1]}".strip()
        f = _finding(f"{i:040x}", "EKS-001", "high", "FAIL", RESOURCE, message, rtype="subnet")
        f["resource"]["arn"] = ARN
        f["evidence"][0]["observed"] = list(HOPS)
        findings.append(f)
    doc["findings"] = findings
    counts = {"FAIL": n, "ERROR": 0, "WAIVED": 0, "PASS": 0, "NOT_APPLICABLE": 0}
    doc["summary"]["findings"] = counts
    doc["summary"]["by_severity"] = {s: (counts if s == "high" else dict.fromkeys(counts, 0))
                                     for s in ("critical", "high", "medium", "low", "info")}
    doc["rules"][0]["counts"] = counts
    # a rule citing framework ids with hyphens (nist-800-53-r5, pci-dss-4.0), as the demo's do
    doc["rules"][0]["frameworks"] = {"pci-dss-4.0": ["1.3.1", "1.3.2", "1.4.1"],
                                     "nist-800-53-r5": ["AC-4", "SC-7", "SC-7(5)", "AC-3(7)", "AC-21"],
                                     "iso-27001-2022": ["A.8.20", "A.8.22"]}
    return doc


@pytest.fixture(scope="module")
def failing_text() -> str:
    doc = _failing_document()
    model = build_model(doc, load_packs([]), load_catalogues(), style="banking")
    pdf = render_pdf(model, PdfInputs(json.dumps(doc, sort_keys=True).encode()), style="banking", environ=FIXED)
    pages = [p.extract_text().replace("\x00", "") for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]
    text = "\n".join(t for t in pages if re.search(r"· Failing findings\s", t))
    assert text, "no page is headed Failing findings"
    return text


def _settings(text: str, token: str) -> list[list[str]]:
    """Every place `token` is printed in `text`, as the lines it is set on."""
    found = re.findall(r"\n?".join(re.escape(ch) for ch in token), text)
    return [m.split("\n") for m in found]


def test_ids_in_failing_findings_never_end_a_line_at_a_hyphen(failing_text: str) -> None:
    n = 36
    for token in (*HOPS, RESOURCE):   # no ":" or "/": never broken at all
        settings = _settings(failing_text, token)
        assert len(settings) >= n, (token, len(settings))
        broken = [lines for lines in settings if len(lines) > 1]
        assert broken == [], (token, broken[:3])
    for token in (ARN, f"records/{ACCOUNT}/{REGION}/eks/DescribeCluster~{RESOURCE}.json#/pages/0/cluster"):
        settings = _settings(failing_text, token)
        assert len(settings) >= n, token
        for lines in settings:
            assert all(line.endswith((":", "/")) for line in lines[:-1]), (token, lines)
    # the rules' framework ids (the line above the findings) too
    for token in ("nist-800-53-r5", "pci-dss-4.0", "iso-27001-2022", "nist-800-53-r5 SC-7(5)", "AC-3(7)"):
        assert all(len(lines) == 1 for lines in _settings(failing_text, token)), token
    assert "\u200b" not in failing_text and "\u2060" not in failing_text   # the break (and no-break) marks are not text


def test_the_control_matrix_names_the_one_environment_assessed() -> None:
    """A banking report of a pci+phi scope calls it the in-scope (regulated) environment in its
    header; the matrix must not call it the cardholder data environment (PCI DSS) or the ePHI
    systems (HIPAA) beside each framework."""
    doc = sample_document()
    doc["run"]["scope"].update(everything=False, tags={"data-classification": ["pci", "phi"]})
    catalogues = load_catalogues()
    pci = doc["frameworks"][0]
    doc["frameworks"] = [pci, {**pci, "id": "hipaa-security", "title": "HIPAA Security Rule", "version": "2013",
                               "controls": [{**pci["controls"][0], "id": "164.312(a)(1)"}]}]
    model = build_model(doc, load_packs(), catalogues, style="banking")
    environment = model.environment("banking", load_style("banking").html["environment"])
    assert environment == "in-scope (regulated) environment"
    page = html_report(model).decode("utf-8")
    matrix = page.split('<section id="matrix">', 1)[1].split("</section>", 1)[0]
    for fw in ("pci-dss-4.0", "hipaa-security"):
        own = catalogues[fw].wording["environment"]
        assert own not in matrix, (fw, own)
    assert environment in matrix


def test_flowed_text_is_still_escaped_text() -> None:
    """`flow` returns text, which autoescape escapes: a planted tag with hyphens stays text."""
    from auditor.report.pdf import render_html

    from test_report_model import HOSTILE_TAG

    doc = _failing_document(1)
    doc["findings"][0]["message"] = f"route rtb-1 to <b>tgw-x</b> {HOSTILE_TAG} arn:aws:x:y-z:1:a/b-c"
    page = render_html(build_model(doc, load_packs([]), load_catalogues()), PdfInputs(b"{}"), environ=FIXED)
    failing = page.split('<section id="failing">', 1)[1].split("</section>", 1)[0]
    assert HOSTILE_TAG not in failing and "&lt;script&gt;alert(1)&lt;/script&gt;" in failing
    assert "&lt;\u2060b&gt;\u2060tgw-\u2060x&lt;/\u200bb&gt;" in failing
    assert "arn:\u200baws:\u200bx:\u200by-\u2060z:\u200b1:\u200ba/\u200bb-\u2060c" in failing
