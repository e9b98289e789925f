"""The PDF evidence report (auditor/report/pdf.py): PDF/A-3b with findings.json attached,
bookmarks, text, both styles, escaping and byte-identical output.

pypdf's text extraction of WeasyPrint's fonts interleaves NUL characters: they are removed
before comparing text (nothing else is normalised)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

import pypdf  # both are installed by the test extra; a missing one fails, never skips
import weasyprint  # noqa: F401

from auditor.report.model import ReportModel, build_model, record_hashes_of
from auditor.report.pdf import PdfInputs, pinned_time, render_html, render_pdf, report_id
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs

from conftest import pdf_page_texts
from test_report_model import HOSTILE_TAG, sample_document

FIXED = {"SOURCE_DATE_EPOCH": "1767225600"}   # 2026-01-01T00:00:00Z
# A manifest listing every record the sample cites, each with a made-up hash of its name.
RECORDS = {s.split("#")[0]: "sha256:" + hashlib.sha256(s.split("#")[0].encode()).hexdigest()
           for f in sample_document()["findings"] for e in f["evidence"] for s in e["sources"]}
MANIFEST = json.dumps({"format": "snapshot manifest", "files": RECORDS}, sort_keys=True).encode()
SECTIONS = ["Executive summary", "Scope and method", "Results per control", "Failing findings",
            "Passes by control", "Exceptions register", "Not assessed", "Attestation and sign-off",
            "Appendix: evidence manifest"]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return sample_document()


@pytest.fixture(scope="module")
def raw(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True).encode()


@pytest.fixture(scope="module")
def model(document: dict[str, Any]) -> ReportModel:
    return build_model(document, load_packs([]), load_catalogues(), record_hashes=record_hashes_of(MANIFEST))


@pytest.fixture(scope="module")
def banking(model: ReportModel, raw: bytes) -> bytes:
    return render_pdf(model, PdfInputs(raw, MANIFEST), style="banking", environ=FIXED)


@pytest.fixture(scope="module")
def healthcare(model: ReportModel, raw: bytes) -> bytes:
    return render_pdf(model, PdfInputs(raw, MANIFEST), style="healthcare", environ=FIXED)


def _reader(pdf: bytes) -> Any:
    return pypdf.PdfReader(io.BytesIO(pdf))


def _text(pdf: bytes) -> str:
    return "\n".join(pdf_page_texts(pdf)).replace("\x00", "")


def _outline_titles(outline: Any) -> list[str]:
    out: list[str] = []
    for item in outline:
        out += _outline_titles(item) if isinstance(item, list) else [item.title]
    return out


def test_pages_text_rule_and_control_ids(banking: bytes) -> None:
    reader = _reader(banking)
    assert 8 <= len(reader.pages) <= 20   # cover, contents and a page per section
    text = _text(banking)
    for needle in ("CONFIDENTIAL", "EKS-001", "1.3.1", "PCI DSS", "Not in Place", "Example Bank <plc>",
                   "WVR-1", "ciso@", "RISK-1", "Page 1 of", "Contents", "Caller identity"):
        assert needle in text, needle
    # Who read each account (a long ARN, wrapped at its slashes).
    assert "arn:aws:sts::111111111111:assumed-role/AuditorReadOnly/auditor-2026-03-01" in text.replace("\n", "")
    assert f"Page {len(reader.pages)} of {len(reader.pages)}" in text


def test_outline_has_the_sections(banking: bytes) -> None:
    titles = _outline_titles(_reader(banking).outline)
    for section in SECTIONS:
        assert section in titles
    assert any(t.startswith("EKS-001") for t in titles)


def test_findings_json_and_manifest_attached(banking: bytes, raw: bytes) -> None:
    attachments = _reader(banking).attachments
    assert attachments["findings.json"] == [raw]
    assert attachments["manifest.json"] == [MANIFEST]


def test_pdf_a_3b_and_metadata(banking: bytes) -> None:
    reader = _reader(banking)
    assert banking.startswith(b"%PDF-1.7")
    xmp = reader.xmp_metadata
    assert xmp is not None
    xml = xmp.stream.get_data().decode()
    assert "pdfaid:part" in xml and "pdfaid:conformance" in xml
    assert 'pdfaid:part="3"' in xml or "<pdfaid:part>3</pdfaid:part>" in xml
    assert 'pdfaid:conformance="B"' in xml or "<pdfaid:conformance>B</pdfaid:conformance>" in xml
    meta = reader.metadata
    assert meta.title.startswith("Private Network Compliance Evidence Report")
    assert meta.author.startswith("private-network-auditor")
    assert "PCI DSS v4.0" in meta.subject
    assert meta["/CreationDate"] == meta["/ModDate"] == "D:20260101000000Z"


def test_the_styles_differ_in_wording(banking: bytes, healthcare: bytes) -> None:
    b, h = _text(banking), _text(healthcare)
    assert "PCI DSS v4.0" in b and "FFIEC" in b and "cardholder data environment" in b
    assert "ePHI" not in b
    assert "HIPAA Security Rule" in h and "ePHI" in h and "164.308" in h
    assert "FFIEC" not in h


def test_aws_strings_are_escaped(banking: bytes, model: ReportModel, raw: bytes) -> None:
    html = render_html(model, PdfInputs(raw), environ=FIXED)
    assert HOSTILE_TAG not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HOSTILE_TAG in _text(banking)   # shown as text


def test_same_input_same_bytes(banking: bytes, model: ReportModel, raw: bytes) -> None:
    assert render_pdf(model, PdfInputs(raw, MANIFEST), style="banking", environ=FIXED) == banking


def test_dates_pinned_without_source_date_epoch(model: ReportModel, raw: bytes) -> None:
    assert pinned_time(model, {}).isoformat() == "2026-03-01T10:01:00+00:00"   # the snapshot's finish
    assert pinned_time(model, FIXED).isoformat() == "2026-01-01T00:00:00+00:00"
    assert report_id(raw, "") == report_id(raw) and len(report_id(raw, "sha256:x")) == 16


def test_unknown_style_is_refused(model: ReportModel, raw: bytes) -> None:
    with pytest.raises(ValueError, match="unknown report style"):
        render_html(model, PdfInputs(raw), style="retail")


def test_cli_writes_the_pdf(tmp_path: Path, raw: bytes) -> None:
    from click.testing import CliRunner

    from auditor.cli import cli

    findings = tmp_path / "findings.json"
    findings.write_bytes(raw)
    result = CliRunner().invoke(cli, ["report", str(findings), "--format", "pdf", "--style", "healthcare"],
                                env=FIXED)
    assert result.exit_code == 0, result.output
    pdf = (tmp_path / "report.pdf").read_bytes()
    assert "ePHI" in _text(pdf)
    assert list(_reader(pdf).attachments) == ["findings.json"]


def test_cli_without_weasyprint_writes_the_rest_and_says_why(tmp_path: Path, raw: bytes,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from auditor.cli import cli

    monkeypatch.setitem(__import__("sys").modules, "weasyprint", None)   # `import weasyprint` fails
    findings = tmp_path / "findings.json"
    findings.write_bytes(raw)
    result = CliRunner().invoke(cli, ["report", str(findings), "--format", "pdf,csv"], env=FIXED)
    assert result.exit_code == 6, result.output     # an output could not be written
    assert "error: pdf:" in result.output and "WeasyPrint and the system's Pango" in result.output
    assert (tmp_path / "findings.csv").is_file() and not (tmp_path / "report.pdf").exists()
    assert "Traceback" not in result.output


def test_appendix_lists_the_records_failing_findings_cite_with_their_hashes(banking: bytes, model: ReportModel
                                                                           ) -> None:
    cited = model.failing_records
    assert cited and all(sha for _name, sha in cited)
    text = _text(banking).replace("\n", "")
    assert "Snapshot records cited by the failing findings" in text
    for name, sha in cited:
        assert sha in text.replace(" ", ""), name


def test_each_style_puts_its_own_frameworks_first(raw: bytes) -> None:
    from test_report_html import _two_framework_doc

    model = build_model(_two_framework_doc(), load_packs([]), load_catalogues())
    for style, first in (("banking", "PCI DSS"), ("healthcare", "HIPAA Security Rule")):
        page = render_html(model, PdfInputs(raw, MANIFEST), style=style, environ=FIXED)
        cover = page.split('<tr><th>Frameworks</th>', 1)[1].split("</tr>", 1)[0]
        assert cover.startswith(f"<td>{first}"), (style, cover)


def _page(doc: dict[str, Any]) -> str:
    """The PDF's page before WeasyPrint (what the tests below read; no PDF is made)."""
    return render_html(build_model(doc, load_packs([]), load_catalogues()), PdfInputs(b"{}"), environ=FIXED)


def test_every_call_answered_is_said_only_when_the_data_shows_it() -> None:
    clean = sample_document()
    clean["run"]["snapshot"]["errors"] = 0
    clean["not_assessed"] = []
    page = _page(clean)
    assert "Every call was answered." in page and "Every API call of the collection was answered." in page
    # a failed call with no gap entry (e.g. an old document): not "every call was answered"
    failed = json.loads(json.dumps(clean))
    failed["run"]["snapshot"]["errors"] = 3
    page = _page(failed)
    assert "Every call was answered" not in page and "Every API call" not in page
    assert "3 of 10 recorded calls failed" in page


def test_an_unreached_account_is_named_with_why_in_the_summary_and_the_accounts_table() -> None:
    doc = sample_document()
    why = "sts:AssumeRole into arn:aws:iam::111111111111:role/AuditorReadOnly failed: AccessDenied: no"
    doc["run"]["accounts"][0].update(problem=why, identity="", status="not_assessed", detail=f"not reached: {why}",
                                     regions=["eu-west-1"])
    page = _page(doc)
    summary = page.split('<section id="summary">', 1)[1].split("</section>", 1)[0]
    assert "Not assessed: 1 account(s) could not be assessed at all" in summary and why in summary
    scope = page.split('<section id="scope">', 1)[1].split("</section>", 1)[0]
    assert "<td>not assessed</td>" in scope and f"not reached: {why}" in scope
