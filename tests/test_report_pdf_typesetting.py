"""Typesetting of the PDF evidence report (pdf_print.css, pdf_report.html.j2): status words,
identifiers and CLI commands are set so that a reader sees them whole.

Every test reads a real WeasyPrint PDF back with pypdf: its text (line breaks as pypdf extracts
them, NULs removed as in test_report_pdf.py) and, for the CLI commands, the font of each text
run. The PDFs are the demo's (the shared `demo_run`, both styles) and a small synthetic
findings.json carrying every status term of wording.yaml, realistic waiver ids, tickets and
dates, and role ARNs with hyphens in their names."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any

import jsonschema
import pypdf  # installed by the test extra; a missing one fails, never skips
import pytest

from auditor.findings import STATUSES
from auditor.report.model import ReportModel, build_model, record_hashes_of
from auditor.report.pdf import PdfInputs, render_pdf
from auditor.report.wording import load_wording
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from auditor.validation import load_schema

from conftest import DemoRun, pdf_page_texts
from test_report_model import ACCOUNT, sample_document

FIXED = {"SOURCE_DATE_EPOCH": "1767225600"}   # 2026-01-01T00:00:00Z

# Ids, tickets and dates as a register holds them: none has a line-break opportunity of its own
# (UAX #14 does not break a hyphen before a digit) except EXC-PCI-…, which may break after "EXC-".
WAIVERS = [
    {"id": "WVR-2026-0042", "ticket": "CHG-2026-000123", "created": "2026-01-15", "expires": "2027-01-31"},
    {"id": "EXC-PCI-2026-017", "ticket": "RISK-77", "created": "2026-02-01", "expires": "2026-12-31"},
]
ROLE = f"arn:aws:iam::{ACCOUNT}:role/audit-read-only-role"
IDENTITY = f"arn:aws:sts::{ACCOUNT}:assumed-role/audit-read-only-role/auditor-session-2026-03-01"
REGION = "ap-southeast-2"


def synthetic_document() -> dict[str, Any]:
    """sample_document() with the waivers, ARNs and region above, and every framework catalogue
    with five controls (those of the longest ids), one in each status: every status term is printed."""
    doc = sample_document()
    counts = doc["frameworks"][0]["controls"][0]["counts"]
    frameworks = []
    for cat in sorted(load_catalogues().values(), key=lambda c: c.id):
        ids = sorted(cat.controls, key=lambda c: (-len(c), c))[:len(STATUSES)]
        # A catalogue of fewer controls than statuses (nist-csf-2.0: 4, ffiec-itbh-is: 3) prints the first
        # statuses only; its terms are the default ones, which the other frameworks print in full.
        assert len(ids) == len(STATUSES) or cat.id not in load_wording().framework_terms, cat.id
        controls = [{"id": c, "title": "", "status": s, "rules": ["EKS-001"], "counts": counts,
                     "authorities": ["third-party-prowler"], "third_party_only": True}
                    for c, s in zip(ids, STATUSES[:len(ids)], strict=True)]
        frameworks.append({"id": cat.id, "title": cat.title, "version": cat.version, "status": "FAIL",
                           "controls": controls})
    doc["frameworks"] = frameworks
    doc["rules"][0]["frameworks"] = {fw["id"]: [c["id"] for c in fw["controls"]] for fw in frameworks}
    base = doc["waivers"][0]
    doc["waivers"] = [{**base, **w, "approver": "ciso@example.com"} for w in WAIVERS]
    doc["run"]["waivers"]["count"] = len(WAIVERS)
    doc["run"]["accounts"][0].update(role_arn=ROLE, identity=IDENTITY)
    doc["not_assessed"][0].update(region=REGION, calls=["ec2:DescribeVpcEndpoints"])
    return doc


@dataclass(frozen=True)
class Rendered:
    model: ReportModel
    pdf: bytes


def _render(doc: dict[str, Any], manifest: bytes | None, style: str) -> Rendered:
    model = build_model(doc, load_packs([]), load_catalogues(), style=style, record_hashes=record_hashes_of(manifest))
    return Rendered(model, render_pdf(model, PdfInputs(json.dumps(doc, sort_keys=True).encode(), manifest),
                                      style=style, environ=FIXED))


@pytest.fixture(scope="module")
def demo_healthcare(demo_run: DemoRun) -> Rendered:
    assert demo_run.code == 0, demo_run.stderr
    manifest = (demo_run.out / "snapshot" / "manifest.json").read_bytes()
    return _render(json.loads((demo_run.out / "findings.json").read_bytes()), manifest, "healthcare")


@pytest.fixture(scope="module")
def demo_banking(demo_run: DemoRun) -> Rendered:
    assert demo_run.code == 0, demo_run.stderr
    manifest = (demo_run.out / "snapshot" / "manifest.json").read_bytes()
    return _render(json.loads((demo_run.out / "findings.json").read_bytes()), manifest, "banking")


@pytest.fixture(scope="module")
def synthetic() -> Rendered:
    jsonschema.Draft202012Validator(load_schema("findings")).validate(synthetic_document())
    return _render(synthetic_document(), None, "healthcare")


def _page_texts(pdf: bytes) -> list[str]:
    return [t.replace("\x00", "") for t in pdf_page_texts(pdf)]


def _on_pages_headed(pdf: bytes, title: str) -> tuple[list[int], str]:
    """The pages of one section (those whose running header, "<organisation> · <section>", names
    it) and their text."""
    texts = _page_texts(pdf)
    pages = [n for n, t in enumerate(texts) if re.search(rf"· {re.escape(title)}\s", t)]
    assert pages, f"no page is headed {title!r}"
    return pages, "\n".join(texts[n] for n in pages)


def _section(pdf: bytes, title: str) -> str:
    return _on_pages_headed(pdf, title)[1]


def _broken(text: str, word: str) -> list[str]:
    """Where `word` is set over two or more lines in `text` (split at any character, a space
    included, once or more)."""
    gap = r"(?:[ \t]*\n[ \t]*)?"
    pattern = gap.join(r"\s+" if ch == " " else re.escape(ch) for ch in word)
    return [m for m in re.findall(pattern, text) if "\n" in m]


def _check_status_cells(rendered: Rendered) -> None:
    text = _section(rendered.pdf, "Results per control")
    assert rendered.model.frameworks
    for fw in rendered.model.frameworks:
        terms: dict[str, int] = {}
        for c in fw.controls:
            terms[c.term] = terms.get(c.term, 0) + 1
        for term, cells in terms.items():
            assert not _broken(text, term), (fw.id, term, _broken(text, term))
            # each cell holds its term on one line (a heading may name it once more)
            assert text.count(term) >= cells, (fw.id, term, text.count(term), cells)


def test_gaps_found_is_on_one_line_in_every_hipaa_cell(demo_healthcare: Rendered) -> None:
    # (The HIPAA FAIL term was "Not implemented" until the mapping review: a cell must not read as
    # a verdict on a whole safeguard; the term is now "Gaps found".)
    hipaa = next(fw for fw in demo_healthcare.model.frameworks if fw.id == "hipaa-security")
    failing = [c for c in hipaa.controls if c.term == "Gaps found"]
    assert failing   # the demo fails HIPAA sections by design
    text = _section(demo_healthcare.pdf, "Results per control")
    assert "Gaps\nfound" not in text and not _broken(text, "Gaps found")
    assert text.count("Gaps found") >= len(failing)
    _check_status_cells(demo_healthcare)


def test_status_words_never_break_in_the_banking_demo(demo_banking: Rendered) -> None:
    _check_status_cells(demo_banking)


def test_every_status_term_is_whole(synthetic: Rendered) -> None:
    from auditor.report.wording import load_wording, templates_dir

    words = load_wording(templates_dir())
    printed = {c.term for fw in synthetic.model.frameworks for c in fw.controls}
    # every term wording.yaml has, of each framework and the default ones
    assert {*words.default_terms.values(), *(t for fw in words.framework_terms.values() for t in fw.values())} <= printed
    _check_status_cells(synthetic)


def test_waiver_ids_tickets_and_dates_are_whole(synthetic: Rendered) -> None:
    text = _section(synthetic.pdf, "Exceptions register")
    for w in WAIVERS:
        for token in (w["id"], w["ticket"], w["expires"]):
            assert token in text, (token, _broken(text, token))


def _line_breaks_in(text: str, token: str) -> list[str]:
    """The lines `token` is set on in `text` (it must be there, broken or not)."""
    found = re.search(r"\n?".join(re.escape(ch) for ch in token), text)
    assert found, token
    return found.group(0).split("\n")


def test_arns_wrap_only_after_a_colon_or_a_slash(synthetic: Rendered) -> None:
    text = _section(synthetic.pdf, "Scope and method")
    for arn in (IDENTITY, ROLE):
        lines = _line_breaks_in(text, arn)
        assert all(line.endswith((":", "/")) for line in lines[:-1]), (arn, lines)
    assert "\u200b" not in text   # the break opportunities are not text


def test_region_and_calls_are_whole_in_not_assessed(synthetic: Rendered) -> None:
    text = _section(synthetic.pdf, "Not assessed")
    assert REGION in text and "ec2:DescribeVpcEndpoints" in text and ACCOUNT in text


def _runs(pdf: bytes, pages: list[int]) -> list[tuple[str, str]]:
    """(text, font name) of every text run on `pages`."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    runs: list[tuple[str, str]] = []

    def visit(text: str, _cm: Any, _tm: Any, font: Any, _size: Any) -> None:
        if text.strip():
            runs.append((text.replace("\x00", ""), str(font.get("/BaseFont", "")) if font else ""))

    for n in pages:
        reader.pages[n].extract_text(visitor_text=visit)
    return runs


def test_cli_remediation_is_monospace_and_breaks_only_at_spaces(demo_banking: Rendered) -> None:
    pages, text = _on_pages_headed(demo_banking.pdf, "Failing findings")
    mono = "".join(t for t, font in _runs(demo_banking.pdf, pages) if "Mono" in font)
    commands = {f.rule.id: dict(f.rule.remediation)["cli"] for f in demo_banking.model.failing
                if "cli" in dict(f.rule.remediation)}
    assert len(commands) >= 5
    for rule, cli in commands.items():
        tokens = cli.split()
        # a line may end only between two words of the command, never inside one
        assert re.search(r"\s*".join(re.escape(t) for t in tokens), text), (rule, cli)
        assert "".join(tokens) in re.sub(r"\s+", "", mono), (rule, cli)   # set in DejaVu Sans Mono


def test_control_and_framework_ids_are_whole_in_results_and_passes(synthetic: Rendered) -> None:
    controls = {c.id for fw in synthetic.model.frameworks for c in fw.controls}
    assert "164.308(a)(1)(ii)(B)" in controls and {p.control for p in synthetic.model.passes} == controls
    frameworks = {fw.id for fw in synthetic.model.frameworks}
    assert "iso-27001-2022" in frameworks
    for section, ids in (("Results per control", controls), ("Passes by control", controls | frameworks)):
        text = _section(synthetic.pdf, section)
        for token in ids:
            assert token in text and not _broken(text, token), (section, token, _broken(text, token))
    # the column headings too: whole words
    assert all(h in _section(synthetic.pdf, "Passes by control") for h in ("Population", "Resources"))


def test_identifiers_set_in_pieces_are_still_escaped_text() -> None:
    """The ident filter builds markup around AWS strings: a planted tag or control character in
    a ticket or an ARN stays text (escaped; U+FFFD for the control character), as everywhere else."""
    from auditor.report.pdf import render_html

    from test_report_model import HOSTILE_TAG

    doc = synthetic_document()
    doc["waivers"][0]["ticket"] = f"CHG-1{HOSTILE_TAG}\x1b"
    doc["run"]["accounts"][0]["identity"] = f"arn:aws:sts::{ACCOUNT}:assumed-role/x/{HOSTILE_TAG}"
    page = render_html(build_model(doc, load_packs([]), load_catalogues()), PdfInputs(b"{}"), environ=FIXED)
    assert HOSTILE_TAG not in page and "<script" not in page
    register = page.split('<section id="exceptions">', 1)[1].split("</section>", 1)[0]
    assert "&lt;script&gt;" in register and "\ufffd" in register and "\x1b" not in page
