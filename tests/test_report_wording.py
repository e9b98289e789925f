"""The words of the HTML and PDF reports are data (reports/templates/styles/*.yaml and
wording.yaml, read by auditor/report/wording.py): the built-in files are whole, a broken file
is refused naming the file, line and key, and the reports say what the files say."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.report.html import html_report
from auditor.report.model import build_model
from auditor.report.pdf import PdfInputs, render_html
from auditor.report.wording import (
    STYLE_SHAPE, load_style, load_wording, style_help, style_names, templates_dir,
)
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from auditor.vocabulary import STATUSES
from test_report_model import sample_document


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A copy of the built-in wording files to break."""
    out = tmp_path / "templates"
    (out / "styles").mkdir(parents=True)
    shutil.copy(templates_dir() / "wording.yaml", out / "wording.yaml")
    for name in style_names():
        shutil.copy(templates_dir() / "styles" / f"{name}.yaml", out / "styles" / f"{name}.yaml")
    return out


def _problems(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [p.render() for p in exc.value.problems]


def test_the_built_in_files_are_whole() -> None:
    words = load_wording()
    assert words.pdf_default_style in style_names()
    catalogues = load_catalogues()
    for name in style_names():
        style = load_style(name)
        assert set(style.pdf) == set(STYLE_SHAPE["pdf"]) and set(style.html) == set(STYLE_SHAPE["html"])
        # A style puts known frameworks first, and only once.
        assert style.frameworks_first and len(set(style.frameworks_first)) == len(style.frameworks_first)
        assert set(style.frameworks_first) <= set(catalogues), name
    for terms in (words.default_terms, *words.framework_terms.values()):
        assert tuple(terms) == STATUSES
    assert set(words.framework_terms) <= set(catalogues)
    assert words.status_term("pci-dss-4.0", "FAIL") == "Not in Place"
    assert words.status_term("nist-800-53", "FAIL") == "Not met"
    assert words.status_term("nist-800-53", "SOMETHING") == "SOMETHING"


def test_an_unknown_key_is_refused_with_file_line_and_key(folder: Path) -> None:
    path = folder / "styles" / "banking.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  regime:", "  regmie:"), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_style("banking", folder)
    lines = path.read_text(encoding="utf-8").splitlines()
    pdf, bad = lines.index("pdf:") + 1, next(i for i, text in enumerate(lines, 1) if "regmie" in text)
    assert _problems(exc) == [
        f"{path}:{pdf}:1  pdf: missing key 'regime'",
        f"{path}:{bad}:3  pdf.regmie: unknown key 'regmie' (did you mean 'regime'?); allowed keys: "
        + ", ".join(STYLE_SHAPE["pdf"])]


def test_a_missing_key_is_refused_naming_it(folder: Path) -> None:
    path = folder / "styles" / "healthcare.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("help: HIPAA Security Rule, ePHI\n", ""), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_style("healthcare", folder)
    first = next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if line and not line.startswith("#"))
    assert _problems(exc) == [f"{path}:{first}:1  missing key 'help'"]   # where the mapping starts


def test_status_terms_must_name_every_status_and_only_those(folder: Path) -> None:
    path = folder / "wording.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("      WAIVED: In Place with exception\n", "      WAVED: In Place with exception\n")
    path.write_text(text.replace("    NOT_APPLICABLE: Not applicable\n", "", 1), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_wording(folder)
    messages = [p.split("  ", 1)[1] for p in _problems(exc)]
    assert messages == [
        "status_terms.default: missing key 'NOT_APPLICABLE'",
        "status_terms.frameworks.pci-dss-4.0: missing key 'WAIVED'",
        "status_terms.frameworks.pci-dss-4.0.WAVED: unknown key 'WAVED' (did you mean 'WAIVED'?); allowed keys: "
        + ", ".join(STATUSES)]
    assert all(p.startswith(f"{path}:") for p in _problems(exc))


def test_wrong_types_are_refused(folder: Path) -> None:
    path = folder / "styles" / "banking.yaml"
    text = path.read_text(encoding="utf-8").replace("frameworks_first: [pci-dss-4.0, nist-csf-2.0, ffiec-itbh-is]",
                                                    "frameworks_first: pci-dss-4.0")
    path.write_text(text.replace("  entity: the assessed entity", "  entity: [the assessed entity]"), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_style("banking", folder)
    assert [p.split("  ", 1)[1] for p in _problems(exc)] == ["frameworks_first: expected a list of strings",
                                                            "pdf.entity: expected a string"]
    path.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(InputError, match="expected a mapping of help, frameworks_first, html, pdf"):
        load_style("banking", folder)


def test_a_style_is_its_file(folder: Path) -> None:
    """Adding a style is adding its file: the registry, the help and the checks follow."""
    text = (folder / "styles" / "healthcare.yaml").read_text(encoding="utf-8")
    (folder / "styles" / "insurance.yaml").write_text(text.replace("help: HIPAA Security Rule, ePHI",
                                                                   "help: NAIC Model Law"), encoding="utf-8")
    assert style_names(folder) == ("banking", "healthcare", "insurance", "insurer")
    assert style_help(folder) == ("banking (PCI DSS v4.0.1 / NIST CSF 2.0 / FFIEC IT Handbook), healthcare (HIPAA Security Rule, "
                                  "ePHI), insurance (NAIC Model Law) or insurer (SOC 2 Trust Services Criteria / NAIC "
                                  "Model Law 668, 23 NYCRR 500)")
    assert load_style("insurance", folder).help == "NAIC Model Law"
    with pytest.raises(ValueError, match="unknown report style 'retail'; choose from banking, healthcare, insurance, "
                                         "insurer"):
        load_style("retail", folder)
    (folder / "styles" / "insurance.yaml").write_text("help: [\n", encoding="utf-8")
    assert ", insurance or insurer (" in style_help(folder)   # named alone; using it says what is wrong


def test_the_reports_say_what_the_files_say() -> None:
    """The HTML and the PDF take their words from the files (the same files, the same words)."""
    doc = sample_document()
    catalogues, packs = load_catalogues(), load_packs()
    words = load_wording()
    for name in style_names():
        style = load_style(name)
        model = build_model(doc, packs, catalogues, style=name)
        page = html_report(model).decode("utf-8")
        assert f"<h1>{style.html['title']}</h1>" in page
        pdf = render_html(model, PdfInputs(b"{}"), environ={})
        assert f'<p class="cover-title">{style.pdf["title"]}</p>' in pdf
        assert style.pdf["attestation"].replace("'", "&#39;") in pdf
    neutral = html_report(build_model(doc, packs, catalogues, style="")).decode("utf-8")
    assert f"<h1>{words.neutral['title']}</h1>" in neutral
    model = build_model(doc, packs, catalogues, style="")
    pdf = render_html(model, PdfInputs(b"{}"), environ={})
    assert load_style(words.pdf_default_style).pdf["title"] in pdf
    for fw in model.frameworks:
        assert fw.term == words.status_term(fw.id, fw.status)
        assert dict(fw.terms) == {s: words.status_term(fw.id, s) for s in STATUSES}


def test_a_model_uses_the_wording_it_is_given(folder: Path) -> None:
    path = folder / "wording.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("FAIL: Not in Place", "FAIL: Nicht erfüllt"),
                    encoding="utf-8")
    model = build_model(sample_document(), load_packs(), load_catalogues(), words=load_wording(folder))
    pci = next(fw for fw in model.frameworks if fw.id == "pci-dss-4.0")
    assert pci.terms["FAIL"] == "Nicht erfüllt"
    assert all(c.term == "Nicht erfüllt" for c in pci.controls if c.status == "FAIL")
    assert "Nicht erf\\u00fcllt" in html_report(model).decode("utf-8")   # the page's data says it too


def test_the_shapes_name_every_key_the_templates_use() -> None:
    """Each `w.<key>` of the PDF template is a key of a style's ``pdf`` words."""
    import re

    template = (templates_dir() / "pdf_report.html.j2").read_text(encoding="utf-8")
    used = set(re.findall(r"\bw\.(\w+)", template))
    assert used and used <= set(STYLE_SHAPE["pdf"]), used - set(STYLE_SHAPE["pdf"])


def test_help_texts_survive_a_broken_file(folder: Path) -> None:
    """The CLI's help is built from these files when it starts: a broken file must not stop
    every command (making a report with it says what is wrong, as above)."""
    from auditor.report.wording import default_style

    assert default_style(folder) == "banking"
    (folder / "wording.yaml").write_text("pdf_default_style: [\n", encoding="utf-8")
    assert default_style(folder) == "that of wording.yaml"
    with pytest.raises(InputError):
        load_wording(folder)


def test_the_pdf_summary_counts_in_the_framework_s_words() -> None:
    words = load_wording()
    doc = sample_document()
    model = build_model(doc, load_packs(), load_catalogues(), style="banking")
    pdf = render_html(model, PdfInputs(b"{}"), environ={})
    for fw in model.frameworks:
        counts, said = fw.control_counts(), words.count_words(fw.id)
        line = ", ".join(f"{counts[s]} {said[s]}" for s in STATUSES)
        assert f"{fw.requirements_counted} assessed: {line}." in pdf, fw.id
    assert words.count_words("pci-dss-4.0")["FAIL"] == "Not in Place"
    # HIPAA counts gaps, never a verdict on a whole standard (risk-analysis input).
    assert words.count_words("hipaa-security")["FAIL"] == "with gaps found"
    assert words.count_words("nist-800-53-r5")["FAIL"] == "not met"


def test_an_edited_wording_file_is_read_again(tmp_path: Path) -> None:
    """Loading is cached by the file's content, never by its name alone: an edit shows at once."""
    from auditor.report.wording import load_wording, templates_dir

    folder = tmp_path / "templates"
    shutil.copytree(templates_dir(), folder)
    first = load_wording(folder)
    assert load_wording(folder) is first   # unchanged: not parsed again
    path = folder / "wording.yaml"
    text = path.read_text(encoding="utf-8")
    old = f"pdf_default_style: {first.pdf_default_style}"
    assert old in text
    other = next(s for s in ("banking", "healthcare") if s != first.pdf_default_style)
    path.write_text(text.replace(old, f"pdf_default_style: {other}"), encoding="utf-8")
    assert load_wording(folder).pdf_default_style == other


def test_authority_labels_are_wording(tmp_path: Path) -> None:
    """Who maps a rule to a control is said in the words of wording.yaml (a compliance author
    can change them), combined as before: AWS first, both third-party mappings as one."""
    from auditor.report.wording import load_wording, templates_dir

    words = load_wording()
    assert words.authority_label(["pack-author", "aws-security-hub"]) == "mapped by AWS Security Hub; pack author, not reviewed"
    assert words.authority_label(["third-party-prowler", "third-party-steampipe"]) == (
        "third-party mapping: Steampipe/Prowler (Apache-2.0)")
    assert words.authority_label(["someone-else"]) == "someone-else"
    folder = tmp_path / "templates"
    shutil.copytree(templates_dir(), folder)
    path = folder / "wording.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("pack-author: \"pack author, not reviewed\"", "pack-author: rule author"),
                    encoding="utf-8")
    assert load_wording(folder).authority_label(["pack-author"]) == "rule author"
    path.write_text(path.read_text(encoding="utf-8").replace("  pack-author: rule author\n", ""), encoding="utf-8")
    with pytest.raises(InputError, match="pack-author"):
        load_wording(folder)
