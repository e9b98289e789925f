"""Report styles are data (issue 13, Deliver 6): everything a style decides (words, framework
order, scope tags, colours, sign-off roles) is in its file, reports/templates/styles/<name>.yaml;
no code, template or stylesheet names a style; a broken style file is refused at file:line.

The reports are rendered through the real code: the PDF by WeasyPrint, read back with pypdf
(its text, and the fill colours of its content streams), the HTML by the HTML writer."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pypdf  # installed by the test extra; a missing one fails, never skips
import pytest

from auditor.errors import InputError
from auditor.report.html import html_report
from auditor.report.model import build_model
from auditor.report.pdf import PdfInputs, render_html, render_pdf
from auditor.report.wording import COLOUR_KEYS, Style, load_style, style_names, templates_dir
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs

from test_report_model import sample_document

REPO = Path(__file__).resolve().parent.parent
FIXED = {"SOURCE_DATE_EPOCH": "1767225600"}


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A copy of the built-in templates folder (wording and styles) to break."""
    out = tmp_path / "templates"
    shutil.copytree(templates_dir(), out)
    return out


def _problems(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [p.render() for p in exc.value.problems]


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


# --------------------------------------------------------------------------- no code names a style

def _words_naming_a_style(text: str) -> list[str]:
    return [name for name in style_names() if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)]


def test_no_code_template_or_stylesheet_names_a_style() -> None:
    """What a style decides is in its file: grep every module, template, stylesheet and script
    for the style names (the styles are the files; their names are data)."""
    assert len(style_names()) >= 2
    sources = [*sorted((REPO / "auditor").rglob("*.py")),
               *sorted(p for p in templates_dir().iterdir() if p.suffix in (".j2", ".css", ".js"))]
    sections = templates_dir() / "sections"
    if sections.is_dir():
        sources += sorted(sections.rglob("*.j2"))
    named = {str(p.relative_to(REPO)): found for p in sources
             if (found := _words_naming_a_style(p.read_text(encoding="utf-8")))}
    assert named == {}
    assert ".style-" not in (templates_dir() / "pdf_print.css").read_text(encoding="utf-8")


def test_the_finder_finds_a_style_name() -> None:
    name = style_names()[0]
    assert _words_naming_a_style(f'if style == "{name}":') == [name]
    assert _words_naming_a_style(f".style-{name}x h1") == []


# --------------------------------------------------------------------------- what a style decides, rendered

def _fill_colours(pdf: bytes, page: int) -> set[tuple[float, ...]]:
    """The RGB fill colours (``r g b rg``) of a page's content stream."""
    data = pypdf.PdfReader(io.BytesIO(pdf)).pages[page].get_contents().get_data().decode("latin-1")
    return {tuple(round(float(x), 3) for x in m) for m in re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) rg", data)}


def _rgb(colour: str) -> tuple[float, ...]:
    hexes = colour[1:] if len(colour) == 7 else "".join(c * 2 for c in colour[1:])
    return tuple(round(int(hexes[i:i + 2], 16) / 255, 3) for i in (0, 2, 4))


def _section_text(pdf: bytes, title: str) -> str:
    texts = [p.extract_text().replace("\x00", "") for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]
    return "\n".join(t for t in texts if re.search(rf"· {re.escape(title)}\s", t))


def check_style_renders(style: Style, doc: dict[str, Any]) -> None:
    """The PDF (WeasyPrint) and the HTML of `doc` in `style` say its words, in its framework
    order, in its colours, with its sign-off roles. Shared with the tests of each style."""
    model = build_model(doc, load_packs([]), load_catalogues(), style=style.name)
    shown = [fw.id for fw in model.frameworks]
    first = [fw for fw in style.frameworks_first if fw in shown]
    assert first, (style.name, "the document should hold a framework the style puts first")
    expected_order = first + sorted(fw for fw in shown if fw not in first)

    pdf = render_pdf(model, PdfInputs(json.dumps(doc, sort_keys=True).encode()), style=style.name, environ=FIXED)
    html = render_html(model, PdfInputs(json.dumps(doc, sort_keys=True).encode()), style=style.name, environ=FIXED)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    cover = reader.pages[0].extract_text().replace("\x00", "")
    assert " ".join(style.pdf["title"].split()) in " ".join(cover.split())
    assert " ".join(style.pdf["regime"].split()) in " ".join(cover.split())
    # order: the contents list the frameworks as the style orders them
    toc = html.split('<nav class="toc">', 1)[1].split("</nav>", 1)[0]
    titles = {fw.id: f"{fw.title} {fw.version}" for fw in model.frameworks}
    positions = [toc.index(f">{titles[fw]}<") for fw in expected_order]
    assert positions == sorted(positions), (style.name, expected_order)
    # colours: the cover title is set in the accent colour, the headings of a page in theirs
    assert _rgb(style.colours["accent"]) in _fill_colours(pdf, 0), style.name
    summary = next(n for n, p in enumerate(reader.pages) if "Executive summary" in p.extract_text()
                   and n > 1)
    assert _rgb(style.colours["accent"]) in _fill_colours(pdf, summary)
    assert style.css() in html
    # the attestation and one sign-off row per role, in order
    signoff = " ".join(_section_text(pdf, "Attestation and sign-off").split())
    assert " ".join(style.pdf["attestation"].split()) in signoff
    at = [signoff.index(role) for role in style.signoff_roles]
    assert at == sorted(at), style.name
    rows = re.findall(r"<tr><td>([^<]*)</td><td></td><td></td></tr>", html.split('id="signoff"', 1)[1])
    assert rows == [r.replace("'", "&#39;") for r in style.signoff_roles]

    page = html_report(model).decode("utf-8")
    assert f"<h1>{style.html['title']}</h1>" in page and style.css() in page
    summary_rows = re.findall(r'<tr><td>[^<]*<span class="muted">\(([\w.-]+)\)</span>', page.split(
        'id="framework-summary"', 1)[1].split("</table>", 1)[0])
    assert summary_rows == expected_order


@pytest.mark.parametrize("name", style_names())
def test_every_style_renders_as_its_file_says(name: str) -> None:
    doc = sample_document()
    pci = doc["frameworks"][0]
    # one framework of each catalogue, so that every style has its own first
    doc["frameworks"] = [{**pci, "id": cat.id, "title": cat.title, "version": cat.version,
                          "controls": [{**pci["controls"][0], "id": next(iter(cat.controls))}]}
                         for cat in sorted(load_catalogues().values(), key=lambda c: c.id)]
    doc["rules"][0]["frameworks"] = {fw["id"]: [fw["controls"][0]["id"]] for fw in doc["frameworks"]}
    check_style_renders(load_style(name), doc)


def test_a_style_s_colours_are_custom_properties() -> None:
    for name in style_names():
        style = load_style(name)
        assert set(style.colours) == set(COLOUR_KEYS)
        assert style.css() == ":root { " + " ".join(f"--{k}: {style.colours[k]};" for k in sorted(COLOUR_KEYS)) + " }"
    css = (templates_dir() / "pdf_print.css").read_text(encoding="utf-8")
    page = (templates_dir() / "report.html.j2").read_text(encoding="utf-8")
    for key in COLOUR_KEYS:   # each colour is used by both reports
        assert f"var(--{key}" in css and f"var(--{key}" in page, key


def test_the_neutral_html_has_no_style_colours() -> None:
    page = html_report(build_model(sample_document(), load_packs([]), load_catalogues(), style="")).decode("utf-8")
    assert ":root {" not in page and "var(--accent,inherit)" in page


# --------------------------------------------------------------------------- a broken style file

def test_a_colour_that_is_not_hex_is_refused_at_its_line(folder: Path) -> None:
    name = style_names()[0]
    path = folder / "styles" / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    accent = load_style(name).colours["accent"]
    path.write_text(text.replace(f'accent: "{accent}"', "accent: dark-green"), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_style(name, folder)
    assert _problems(exc) == [f"{path}:{_line(path, 'accent: dark-green')}:11  colours.accent: expected a colour: "
                              "#rgb or #rrggbb (hex digits), e.g. #0b4d3c"]


def test_an_unknown_or_repeated_framework_and_no_signer_are_refused(folder: Path) -> None:
    name = style_names()[0]
    path = folder / "styles" / f"{name}.yaml"
    style = load_style(name)
    lines = path.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("frameworks_first:"))
    lines[first] = f"frameworks_first: [pci-dss-4.1, {style.frameworks_first[0]}, {style.frameworks_first[0]}]"
    at = next(i for i, line in enumerate(lines) if line.startswith("signoff_roles:"))
    while at + 1 < len(lines) and lines[at + 1].startswith("  - "):
        del lines[at + 1]
    lines[at] = "signoff_roles: []"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_style(name, folder)
    known = ", ".join(sorted(load_catalogues()))
    fw_line, roles_line = first + 1, at + 1
    dup_col = lines[first].rindex(style.frameworks_first[0]) + 1
    assert _problems(exc) == [
        f"{path}:{fw_line}:20  frameworks_first[0]: unknown framework 'pci-dss-4.1' (did you mean 'pci-dss-4.0'?); "
        f"known: {known}",
        f"{path}:{fw_line}:{dup_col}  frameworks_first[2]: framework '{style.frameworks_first[0]}' is listed twice",
        f"{path}:{roles_line}:16  signoff_roles: expected at least one role to sign the report"]


def test_a_missing_colours_key_is_named(folder: Path) -> None:
    name = style_names()[-1]
    path = folder / "styles" / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    heading = load_style(name).colours["heading"]
    path.write_text(text.replace(f'  heading: "{heading}"\n', ""), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_style(name, folder)
    assert _problems(exc) == [f"{path}:{_line(path, 'colours:')}:1  colours: missing key 'heading'"]
