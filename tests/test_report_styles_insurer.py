"""The third report style, `insurer` (SOC 2 / insurance regulators' cybersecurity rules), was
added as one data file, reports/templates/styles/insurer.yaml, in a commit that touches no
code (issue 13, Deliver 6). These tests prove that the file alone is the style: the registry,
the CLI's --style choices and help, the profile schema and the docs follow, and both reports
render with its words, framework order, colours and sign-off roles (the PDF through
WeasyPrint, read back with pypdf)."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pypdf  # installed by the test extra; a missing one fails, never skips

from auditor.cli import cli
from auditor.report.html import html_report
from auditor.report.model import build_model, record_hashes_of
from auditor.report.pdf import PdfInputs, render_pdf
from auditor.report.wording import load_style, style_names, templates_dir
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from auditor.rules.profiles import load_profile, profiles_dir
from auditor.validation import load_schema

from conftest import DemoRun
from test_report_model import sample_document
from test_report_styles import FIXED, _fill_colours, _rgb, _section_text, check_style_renders

NAME = "insurer"
ORDER = ["soc2", "nist-800-53-r5", "iso-27001-2022"]


def _every_framework_document() -> dict:
    """sample_document() citing one control of every catalogue (so the order can be seen)."""
    doc = sample_document()
    pci = doc["frameworks"][0]
    doc["frameworks"] = [{**pci, "id": cat.id, "title": cat.title, "version": cat.version,
                          "controls": [{**pci["controls"][0], "id": next(iter(cat.controls))}]}
                         for cat in sorted(load_catalogues().values(), key=lambda c: c.id)]
    doc["rules"][0]["frameworks"] = {fw["id"]: [fw["controls"][0]["id"]] for fw in doc["frameworks"]}
    return doc


def test_the_style_is_its_file_and_everything_follows() -> None:
    assert NAME in style_names()
    style = load_style(NAME)
    assert list(style.frameworks_first) == ORDER
    for command in (cli.commands["scan"], cli.commands["demo"], cli.commands["report"]):
        option = next(p for p in command.params if p.name == "style")
        assert NAME in option.type.choices, command.name
        assert f"{NAME} ({style.help})" in (option.help or ""), command.name
    schema = load_schema("profile")
    assert NAME in schema["properties"]["profile"]["properties"]["style"]["enum"]
    docs = (Path(__file__).resolve().parent.parent / "docs" / "reports.md").read_text(encoding="utf-8")
    assert f"| `{NAME}` |" in docs and style.colours["accent"] in docs


def test_a_style_file_dropped_into_a_copy_of_the_styles_folder_is_picked_up(tmp_path: Path) -> None:
    """No list anywhere: a templates folder without the file has no such style; with the file
    copied in, it has it, read exactly as the built-in one."""
    folder = tmp_path / "templates"
    shutil.copytree(templates_dir(), folder)
    (folder / "styles" / f"{NAME}.yaml").unlink()
    assert NAME not in style_names(folder)
    shutil.copy(templates_dir() / "styles" / f"{NAME}.yaml", folder / "styles" / "reinsurer.yaml")
    assert "reinsurer" in style_names(folder)
    dropped, builtin = load_style("reinsurer", folder), load_style(NAME)
    assert (dropped.help, dropped.frameworks_first, dropped.signoff_roles, dict(dropped.colours),
            dict(dropped.pdf), dict(dropped.html)) == (builtin.help, builtin.frameworks_first, builtin.signoff_roles,
                                                      dict(builtin.colours), dict(builtin.pdf), dict(builtin.html))


def test_both_reports_render_in_the_insurer_style() -> None:
    doc = _every_framework_document()
    style = load_style(NAME)
    check_style_renders(style, doc)   # words, order, colours, sign-off roles, as the file says
    # and what the file says is SOC 2 and insurance regulation, in that order
    model = build_model(doc, load_packs([]), load_catalogues(), style=NAME)
    pdf = render_pdf(model, PdfInputs(json.dumps(doc, sort_keys=True).encode()), style=NAME, environ=FIXED)
    cover = " ".join(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text().replace("\x00", "").split())
    assert "SOC 2 and Insurance Cybersecurity Evidence Report" in cover
    assert "NAIC Insurance Data Security Model Law (#668)" in cover and "23 NYCRR Part 500" in cover
    summary = " ".join(_section_text(pdf, "Results per control").split())
    ordered = [next(fw for fw in model.frameworks if fw.id == i) for i in ORDER]
    at = [summary.index(f"{fw.title} {fw.version}:") for fw in ordered]   # soc2, then NIST, then ISO
    assert at == sorted(at) and at[-1] < summary.index("PCI DSS 4.0.1:"), at
    signoff = " ".join(_section_text(pdf, "Attestation and sign-off").split())
    assert "Management asserts" in signoff and "not a SOC 2 examination report" in signoff
    assert "Highest-ranking executive (23 NYCRR 500.17(b))" in signoff
    assert _rgb("#4b2a6e") in _fill_colours(pdf, 0)
    page = html_report(model).decode("utf-8")
    assert "<h1>SOC 2 and insurance cybersecurity private network assessment: evidence report</h1>" in page
    assert ":root { --accent: #4b2a6e; --heading: #5e3b87; }" in page
    options = re.findall(r'<option value="([\w.-]+)">', page.split('id="f-fw"', 1)[1].split("</select>", 1)[0])
    assert options[:3] == ORDER


def test_the_insurance_profile_selects_the_style() -> None:
    profile = load_profile(profiles_dir() / "insurance.yaml")
    assert profile.style == NAME and list(profile.frameworks) == ORDER
    doc = _every_framework_document()
    doc["run"]["profile"] = profile.summary()
    model = build_model(doc, load_packs([]), load_catalogues())   # no style given: the profile's
    assert model.style == NAME
    assert f"<h1>{load_style(NAME).html['title']}</h1>" in html_report(model).decode("utf-8")


def test_the_demo_in_the_insurer_style_names_its_mixed_scope_honestly(demo_run: DemoRun) -> None:
    """The demo's scope selects pci and phi VPCs: not nonpublic information only, so the insurer
    style calls it the in-scope (regulated) environment, as the other styles do."""
    assert demo_run.code == 0, demo_run.stderr
    raw = (demo_run.out / "findings.json").read_bytes()
    manifest = (demo_run.out / "snapshot" / "manifest.json").read_bytes()
    model = build_model(json.loads(raw), load_packs([]), load_catalogues(), style=NAME,
                        record_hashes=record_hashes_of(manifest))
    pdf = render_pdf(model, PdfInputs(raw, manifest), style=NAME, environ=FIXED)
    text = " ".join(p.extract_text().replace("\x00", "") for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    text = " ".join(text.split())
    assert "the networks of the in-scope (regulated) environment are private" in text
    assert "information systems holding nonpublic information (NPI) are private" not in text
    assert "SOC 2 and Insurance Cybersecurity Evidence Report" in text
