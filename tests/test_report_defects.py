"""The report defects of issue 13, each rendered through the real code: the report model, the
HTML report and real WeasyPrint PDFs read back with pypdf, from a small findings.json
(test_report_model.sample_document) and from the session's demo run (conftest.demo_run)."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from auditor.report.html import html_report
from auditor.report.model import build_model
from auditor.report.pdf import PdfInputs, render_pdf
from auditor.report.wording import load_wording
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from auditor.rules.profiles import load_profile, profiles_dir
from conftest import DemoRun, pdf_page_texts
from test_report_model import WAIVER, sample_document

FIXED = {"SOURCE_DATE_EPOCH": "1772359260"}
WAIVED_FP = "c" * 20   # sample_document's WAIVED finding


def _text(pdf: bytes) -> str:
    """The PDF's text, whitespace collapsed (pypdf breaks lines where the page does)."""
    return re.sub(r"\s+", " ", " ".join(pdf_page_texts(pdf)).replace("\x00", ""))


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}"')
    return html[start:html.index("</section>", start)]


def _string_waivers(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with its register as results.py writes it: rules and resources one string each."""
    doc = copy.deepcopy(doc)
    doc["waivers"][0]["rules"] = "EP-*, EKS-001"
    doc["waivers"][0]["resources"] = "arn arn:aws:ec2:*:111111111111:vpc/*; id legacy"
    return doc


def _pdf(doc: dict[str, Any], style: str = "banking") -> str:
    raw = json.dumps(doc, sort_keys=True).encode()
    model = build_model(doc, load_packs([]), load_catalogues())
    return _text(render_pdf(model, PdfInputs(raw, None), style=style, environ=FIXED))


def _html(doc: dict[str, Any], style: str | None = None) -> str:
    return html_report(build_model(doc, load_packs([]), load_catalogues(), style=style)).decode("utf-8")


@pytest.fixture(scope="module")
def sample_pdf() -> str:
    """The banking PDF of the sample, its register written as results.py writes it."""
    return _pdf(_string_waivers(sample_document()))


@pytest.fixture(scope="module")
def demo_pdf(demo_run: DemoRun) -> str:
    assert demo_run.code == 0, demo_run.stderr
    return _text((demo_run.out / "report.pdf").read_bytes())


@pytest.fixture(scope="module")
def demo_html(demo_run: DemoRun) -> str:
    return (demo_run.out / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo_doc(demo_run: DemoRun) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((demo_run.out / "findings.json").read_text(encoding="utf-8"))
    return doc


# 1. The exceptions register printed rules and resources one character at a time.

def test_register_rules_and_resources_written_as_text_stay_whole() -> None:
    model = build_model(_string_waivers(sample_document()))
    (w,) = model.waivers
    assert w.rules == ("EP-*", "EKS-001")
    assert w.resources == ("arn arn:aws:ec2:*:111111111111:vpc/*", "id legacy")


def test_register_rules_and_resources_as_lists_are_kept() -> None:
    doc = sample_document()
    doc["waivers"][0]["rules"] = ["EP-*", "EKS-001"]
    doc["waivers"][0]["resources"] = [{"id": "legacy"}, "arn:aws:ec2:*:111111111111:vpc/*"]
    (w,) = build_model(doc).waivers
    assert w.rules == ("EP-*", "EKS-001")
    assert w.resources == ("id legacy", "arn:aws:ec2:*:111111111111:vpc/*")


def test_register_in_both_formats_is_not_spelled_out(sample_pdf: str) -> None:
    page = _section(_html(_string_waivers(sample_document())), "waivers")
    for text in (sample_pdf, page):
        assert "E, P, -, *" not in text and "a, r, n" not in text and "i, d" not in text
    assert "EP-*, EKS-001" in sample_pdf and "EP-*, EKS-001" in page
    assert "id legacy" in page


# 2. Waived findings appeared nowhere in the PDF.

def test_waived_findings_are_shown_with_their_waiver_in_the_pdf(sample_pdf: str) -> None:
    register = sample_pdf[sample_pdf.index("Exceptions register"):sample_pdf.index("Not assessed Account")]
    assert WAIVED_FP in register
    for value in (WAIVER["id"], WAIVER["approver"], WAIVER["expires"], "accepted"):
        assert value in register, value
    assert "eks_cluster legacy" in register


def test_waived_findings_are_shown_with_their_waiver_in_the_html() -> None:
    page = _section(_html(sample_document()), "waivers")
    assert WAIVED_FP in page and "eks_cluster legacy" in page
    for value in (WAIVER["id"], WAIVER["approver"], WAIVER["expires"]):
        assert value in page, value
    assert "&lt;script&gt;" in page or "<script>" not in page   # the justification stays text


def test_no_waived_finding_is_said_so() -> None:
    doc = sample_document()   # the demo has waived findings (sample_configs/demo-waivers.yaml): the sample without its one
    doc["findings"] = [f for f in doc["findings"] if f["status"] != "WAIVED"]
    assert "No finding was waived." in _pdf(doc)


# 3. The demo called its PHI VPCs part of the cardholder data environment.

def test_a_scope_of_pci_and_phi_is_not_called_the_cde(demo_pdf: str, demo_doc: dict[str, Any]) -> None:
    assert demo_doc["run"]["scope"]["tags"] == {"data-classification": ["pci", "phi"]}
    assert "cardholder data environment (CDE): the VPCs selected" not in demo_pdf
    assert "The scope is the cardholder data environment" not in demo_pdf
    assert "in-scope (regulated) environment: the VPCs selected by tag data" in demo_pdf
    page = _html(demo_doc, style="banking")
    assert 'id="environment">in-scope (regulated) environment<' in page


def test_the_summary_lead_names_the_environment_the_scope_holds(demo_pdf: str) -> None:
    """The style's opening paragraph names the environment as the scope and cover do: the
    demo's pci+phi scope is not called the cardholder data environment there either."""
    assert "the network segments of the in-scope (regulated) environment are private" in demo_pdf
    assert "cardholder data environment (CDE) are private" not in demo_pdf
    doc = sample_document()
    doc["run"]["scope"].update(everything=False, tags={"data-classification": ["pci"]})
    assert "the network segments of the cardholder data environment (CDE) are private" in _pdf(doc)
    doc["run"]["scope"]["tags"] = {"data-classification": ["phi"]}
    healthcare = _pdf(doc, style="healthcare")
    assert "the networks of the systems that create, receive, maintain or transmit ePHI are private" in healthcare
    assert "{environment}" not in healthcare


def test_a_scope_of_pci_only_keeps_the_styles_term() -> None:
    doc = sample_document()
    doc["run"]["scope"].update(everything=False, tags={"data-classification": ["pci"]})
    model = build_model(doc)
    assert model.environment("banking", "cardholder data environment (CDE)") == "cardholder data environment (CDE)"
    assert model.environment("healthcare", "ePHI systems") == "in-scope (regulated) environment"
    doc["run"]["scope"]["tags"] = {"data-classification": ["PHI"]}
    assert build_model(doc).environment("healthcare", "ePHI systems") == "ePHI systems"
    doc["run"]["scope"]["tags"] = {"data-classification": ["pci", "phi"]}
    assert build_model(doc).environment("", "in-scope environment") == "in-scope environment"   # no style


# 4. "Profile: none" in the PDF, "Profile: ()" in the HTML.

def test_no_compliance_profile_is_said_in_words(demo_pdf: str, demo_html: str) -> None:
    assert "Compliance profile none (every built-in pack)" in demo_pdf
    assert "Profile none" not in demo_pdf
    assert "<th>Compliance profile</th><td>none (every built-in pack)" in demo_html
    assert "()" not in _section(demo_html, "run")


def test_a_compliance_profile_is_named_with_id_title_and_version() -> None:
    doc = sample_document()   # the old name, run.profile
    assert build_model(doc).profile_text == "pci-dss: PCI DSS, version 1"
    doc["run"]["compliance_profile"] = doc["run"].pop("profile")
    doc["run"]["compliance_profile"].update(id="banking", title="Banking", version="3")
    assert "<th>Compliance profile</th><td>banking: Banking, version 3" in _html(doc)
    assert "Compliance profile banking: Banking, version 3" in _pdf(doc)


# 5. PCI DSS read "4.0.1" in one place and "v4.0" in another.

def test_pci_dss_has_one_version_everywhere(demo_pdf: str, demo_doc: dict[str, Any]) -> None:
    version = load_catalogues()["pci-dss-4.0"].version
    banking = load_profile(profiles_dir() / "banking.yaml")
    assert set(re.findall(r"PCI DSS v?(\d+(?:\.\d+)*)", banking.title + banking.description)) == {version}
    with_profile = copy.deepcopy(demo_doc)
    with_profile["run"]["compliance_profile"] = banking.summary()
    for text in (demo_pdf, _html(demo_doc, style="banking"), _html(with_profile), _pdf(demo_doc, style="healthcare")):
        said = set(re.findall(r"PCI DSS v?(\d+(?:\.\d+)*)", text))
        assert said == {version}, said


# 6. "5 criterions", "annex a controls".

def test_requirement_words_are_counted_as_written(demo_pdf: str) -> None:
    assert "criterions" not in demo_pdf and "annex a" not in demo_pdf
    # (The mapping review removed SOC 2 CC6.2/CC7.3, ISO A.8.21 and PCI 1.2.8/1.5.1/7.2.1/10.2.2/10.3.1
    # from the built-in rules: the demo now cites 3 criteria, 4 Annex A controls, 6 requirements.)
    assert "3 criteria assessed" in demo_pdf
    assert "4 Annex A controls assessed" in demo_pdf
    assert "6 requirements assessed" in demo_pdf


def test_every_built_in_requirement_word_has_its_counted_forms() -> None:
    words = load_wording()
    used = {cat.wording["requirement"] for cat in load_catalogues().values() if "requirement" in cat.wording}
    used.add(words.framework_words["requirement"])
    for word in used:
        assert words.counted(word, 1) != words.counted(word, 2), word
    assert words.counted("Criterion", 1) == "1 criterion"
    assert words.counted("Criterion", 5) == "5 criteria"
    assert words.counted("Annex A control", 5) == "5 Annex A controls"
    assert words.counted("Widget", 3) == "3 (Widget)"   # a word without forms is never guessed at


# 7. "Requirements are counted, never findings" six times on one page.

def test_the_counting_rule_is_said_once(demo_pdf: str) -> None:
    assert demo_pdf.count("never findings") + demo_pdf.count("never of findings") == 1


def test_counted_words_and_scope_tags_are_checked(tmp_path: Path) -> None:
    """Bad data in the new keys is refused naming the file and key, never guessed around."""
    from auditor.errors import InputError
    from auditor.report.wording import load_style, templates_dir

    folder = tmp_path / "templates"
    shutil.copytree(templates_dir() / "styles", folder / "styles")
    text = (templates_dir() / "wording.yaml").read_text(encoding="utf-8")
    (folder / "wording.yaml").write_text(text.replace("Criterion: {one: criterion, other: criteria}",
                                                      "Criterion: {one: criterion}"), encoding="utf-8")
    with pytest.raises(InputError, match=r"wording\.yaml:\d+:\d+ +counted_words\.Criterion: missing key 'other'"):
        load_wording(folder)
    style = folder / "styles" / "banking.yaml"
    style.write_text(style.read_text(encoding="utf-8").replace("scope_tags: [pci, cde, cardholder-data]",
                                                               "scope_tags: pci"), encoding="utf-8")
    with pytest.raises(InputError, match=r"banking\.yaml:\d+:\d+ +scope_tags: expected a list of strings"):
        load_style("banking", folder)
