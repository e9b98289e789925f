"""The period report's timeline picture (issue 14, Deliver 4): per framework control, its status
at every run (auditor/report/timeline.py).

The SVG is parsed as XML and counted: one cell per (row, run) of each status, every gap column
hatched and labelled "no run (gap)" and never a status, "absent" drawn unlike PASS and unlike a
gap, a glyph per cell so that the picture reads without colour. Hostile labels come out escaped
and cleaned, the same input gives the same bytes, the colours can be overridden, bad input is a
clear ValueError. The text measurement is checked against the DejaVu Sans font file itself, and
the pictures are drawn by the real WeasyPrint (tests/test_timeline_browser.py: a real Chromium).
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pypdf
import pytest

from auditor.report import timeline as tl
from auditor.report.html import STATUS_COLOURS
from auditor.report.timeline import (
    ABSENT, DEFAULT_COLOURS, GAP_LABEL, PDF_MAX_WIDTH, PDF_ROWS_PER_PAGE, TimelineColumn, TimelineRow,
    chunk_rows, clean_text, text_width, timeline_svg,
)
from auditor.vocabulary import STATUSES

NS = "{http://www.w3.org/2000/svg}"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


def weekly(n: int, gaps: tuple[int, ...] = (), start: date = date(2026, 1, 5)) -> list[TimelineColumn]:
    out = []
    for i in range(n):
        day = start + timedelta(weeks=i)
        out.append(TimelineColumn(day.isoformat(), day, "gap" if i in gaps else "run"))
    return out


def pattern_rows(columns: list[TimelineColumn], n: int) -> list[TimelineRow]:
    """Rows whose statuses cycle through every cell value, gap columns None."""
    values = (*STATUSES, ABSENT)
    rows = []
    for r in range(n):
        cells = [None if c.kind == "gap" else values[(r + i // 3) % len(values)] for i, c in enumerate(columns)]
        rows.append(TimelineRow(f"PCI DSS 1.{r}.1 Inbound traffic to the CDE is restricted", cells))
    return rows


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == NS + "svg"
    return root


def group(root: ET.Element, cls: str) -> ET.Element:
    found = root.find(f".//{NS}g[@class='{cls}']")
    assert found is not None, cls
    return found


def shown(element: ET.Element) -> str:
    """The text a reader sees in a <text>: without its <title> (the tooltip)."""
    return (element.text or "") + "".join(child.tail or "" for child in element)


def cell_counts(root: ET.Element) -> Counter[str]:
    """Cells per value, read from the drawn segments: a segment's title says its value and how
    many runs it spans, and its width is that many columns."""
    out: Counter[str] = Counter()
    for rect in group(root, "cells").iter(NS + "rect"):
        title = rect.find(NS + "title")
        assert title is not None and title.text
        m = re.fullmatch(r"(\w+|not assessed): .* \((\d+) run\(s\)\)", title.text)
        assert m, title.text
        out[ABSENT if m.group(1) == "not assessed" else m.group(1)] += int(m.group(2))
    return out


def glyph_counts(root: ET.Element) -> Counter[str]:
    out: Counter[str] = Counter()
    for path in root.iter(NS + "path"):
        cls = path.get("class", "")
        if cls.startswith("glyph-"):
            out[cls.removeprefix("glyph-")] += path.get("d", "").count("M")
    return out


def expected_counts(rows: list[TimelineRow]) -> Counter[str]:
    return Counter(c for r in rows for c in r.cells if c is not None)


# --------------------------------------------------------------------------- the picture


def test_cells_glyphs_and_counts_match_the_input() -> None:
    columns = weekly(26, gaps=(13,))
    rows = pattern_rows(columns, 14)
    svg = timeline_svg(columns, rows, title="PCI DSS v4.0.1 control status per run")
    root = parse(svg)
    want = expected_counts(rows)
    assert set(want) == {*STATUSES, ABSENT}
    assert cell_counts(root) == want
    # One glyph per status cell: the status reads without its colour; absent cells have none.
    assert glyph_counts(root) == Counter({s: want[s] for s in STATUSES})
    # Each segment is coloured as its status says; absent is a white cell in an outline.
    for rect in group(root, "cells").iter(NS + "rect"):
        text = rect.findtext(NS + "title") or ""
        if text.startswith("not assessed"):
            assert rect.get("fill") == "#ffffff" and rect.get("stroke") == DEFAULT_COLOURS[ABSENT]
        else:
            assert rect.get("fill") == DEFAULT_COLOURS[text.split(":")[0]]
    # The accessible title and description state the counts.
    assert root.findtext(NS + "title") == "PCI DSS v4.0.1 control status per run"
    desc = root.findtext(NS + "desc") or ""
    assert "14 control(s) over 25 run(s) from 2026-01-05 to 2026-06-29; 1 expected run(s) missing" in desc
    assert "2026-04-06" in desc
    for value in (*STATUSES, ABSENT):
        word = "not assessed" if value == ABSENT else value
        assert f"{want[value]} {word}" in desc
    # The legend names every kind of cell with its count, drawn as the grid draws it.
    legend = [t.text for t in group(root, "legend").iter(NS + "text")]
    assert legend == [f"{s} ({want[s]})" for s in STATUSES] + [f"not assessed ({want[ABSENT]})", f"{GAP_LABEL} (1)"]


def test_a_gap_column_is_hatched_labelled_and_never_a_status() -> None:
    columns = weekly(10, gaps=(3, 7))
    rows = [TimelineRow(f"control {r}", [None if c.kind == "gap" else "PASS" for c in columns]) for r in range(5)]
    root = parse(timeline_svg(columns, rows, title="t"))
    gaps = root.findall(f".//{NS}g[@class='gap']")
    assert len(gaps) == 2
    x_of_gap = []
    for g, col in zip(gaps, (columns[3], columns[7]), strict=True):
        assert g.findtext(NS + "title") == f"{GAP_LABEL}: {col.label} ({col.day.isoformat()}), an expected run that is missing"
        rect, hatch = g.find(NS + "rect"), g.find(NS + "path")
        assert rect is not None and hatch is not None
        assert rect.get("stroke-dasharray") and rect.get("fill") == "#ffffff"
        assert hatch.get("d", "").count("M") >= 10          # hatched over the five rows
        x_of_gap.append(float(rect.get("x", "0")))
    # The column headers say it, in the gap colour; the runs' headers do not.
    heads = {t.findtext(NS + "title"): t for t in group(root, "columns").iter(NS + "text")}
    assert shown(heads[f"{columns[3].label} (2026-01-26): {GAP_LABEL}"]) == f"{columns[3].label}: {GAP_LABEL}"
    assert heads[f"{columns[3].label} (2026-01-26): {GAP_LABEL}"].get("fill") == DEFAULT_COLOURS["gap"]
    assert sum(GAP_LABEL in shown(t) for t in heads.values()) == 2
    # No PASS segment covers a gap column: the PASS runs stop on either side of it.
    cell = float(gaps[1].find(NS + "rect").get("x", "0")) - float(gaps[0].find(NS + "rect").get("x", "0"))  # type: ignore[union-attr]
    cell /= 4
    for rect in group(root, "cells").iter(NS + "rect"):
        x0, x1 = float(rect.get("x", "0")), float(rect.get("x", "0")) + float(rect.get("width", "0"))
        for gx in x_of_gap:
            assert x1 <= gx + 0.01 or x0 >= gx + cell - 1.01
    assert cell_counts(root) == Counter({"PASS": 8 * 5})


def test_absent_is_neither_pass_nor_gap() -> None:
    columns = weekly(4, gaps=(1,))
    rows = [TimelineRow("c", ["PASS", None, ABSENT, "PASS"])]
    root = parse(timeline_svg(columns, rows, title="t"))
    rects = {(r.findtext(NS + "title") or "").split(":")[0]: r for r in group(root, "cells").iter(NS + "rect")}
    assert set(rects) == {"PASS", "not assessed"}
    assert rects["not assessed"].get("fill") != rects["PASS"].get("fill")
    assert rects["not assessed"].get("stroke-dasharray") is None      # the gap's outline is dashed
    assert len(root.findall(f".//{NS}g[@class='gap']")) == 1
    assert glyph_counts(root) == Counter({"PASS": 2})


def test_hostile_labels_are_cleaned_and_escaped() -> None:
    long = "A" * 20000
    hostile = ['<script>alert("x")</script> & \'quoted\'', "evil\u202egnp.exe \u200f\u2066mark\u2069",
               "nul\x00bell\x07esc\x1b[31m new\nline\ttab", "lone \ud800 surrogate \uffff", long,
               "]]><!-- -->", "\u05e9\u05dc\u05d5\u05dd control \u0645\u0631\u062d\u0628\u0627"]
    columns = [TimelineColumn('2026-01-05 <b>&"', date(2026, 1, 5), "run"),
               TimelineColumn("week 2 \u202e\x01", date(2026, 1, 12), "gap")]
    rows = [TimelineRow(label, ["FAIL", None]) for label in hostile]
    svg = timeline_svg(columns, rows, title='Title <x> & "y" \u202e')
    svg.encode("utf-8")                                   # no surrogate left: it can be written
    root = parse(svg)
    assert root.find(f".//{NS}script") is None and root.find(f".//{NS}b") is None and "<script" not in svg
    for ch in ("\x00", "\x07", "\x1b", "\x01", "\u202e", "\u200f", "\u2066", "\u2069", "\ud800", "\uffff"):
        assert ch not in svg
    labels = list(group(root, "labels").iter(NS + "text"))
    assert labels[0].findtext(NS + "title") == '<script>alert("x")</script> & \'quoted\''
    assert labels[1].findtext(NS + "title") == "evilgnp.exe mark"
    assert labels[2].findtext(NS + "title") == "nul bell esc [31m new line tab"
    assert labels[3].findtext(NS + "title") == "lone \ufffd surrogate \ufffd"
    full = labels[4].findtext(NS + "title") or ""
    assert len(full) == 500 and full.endswith("\u2026")
    cut = shown(labels[4])
    assert cut.endswith("\u2026") and len(cut) < 100
    assert labels[6].findtext(NS + "title") == hostile[6]      # right-to-left text itself is kept
    assert root.findtext(NS + "title") == 'Title <x> & "y"'


def test_long_labels_are_cut_to_their_column_with_the_full_label_in_the_title() -> None:
    columns = weekly(52)
    label = "PCI DSS 1.3.1 Inbound traffic to the CDE is restricted to only that which is necessary, " * 3
    rows = [TimelineRow(label, ["PASS"] * 52), TimelineRow("short", ["FAIL"] * 52)]
    root = parse(timeline_svg(columns, rows, title="t", max_width=PDF_MAX_WIDTH))
    first, second = list(group(root, "labels").iter(NS + "text"))
    assert first.findtext(NS + "title") == label.strip()
    assert shown(first).endswith("\u2026") and label.startswith(shown(first)[:-1])
    grid_x = min(float(r.get("x", "0")) for r in group(root, "cells").iter(NS + "rect")) - 0.5
    assert float(first.get("x", "0")) + text_width(shown(first), 7.5) <= grid_x - 3
    assert shown(second) == "short" and second.findtext(NS + "title") == "short"


def test_the_same_input_gives_the_same_bytes() -> None:
    columns = weekly(30, gaps=(4, 5))
    rows = pattern_rows(columns, 40)
    a = timeline_svg(columns, rows, title="t", max_width=800)
    b = timeline_svg(list(columns), [TimelineRow(r.label, tuple(r.cells)) for r in rows], title="t", max_width=800)
    assert a == b
    numbers = re.findall(r'\s(?:x|y|width|height|font-size|stroke-width)="([^"]+)"', a)
    assert numbers and all(re.fullmatch(r"-?\d+\.\d\d", n) for n in numbers)
    assert " id=" not in a                                  # nothing to collide with in a page of pictures


def test_colours_can_be_overridden_and_are_checked() -> None:
    columns = weekly(3, gaps=(1,))
    rows = [TimelineRow("c", ["FAIL", None, "PASS"])]
    root = parse(timeline_svg(columns, rows, title="t", colours={"FAIL": "#123456", "gap": "#abc", "accent": "#0b4d3c"}))
    fills = {(r.findtext(NS + "title") or "").split(":")[0]: r.get("fill") for r in group(root, "cells").iter(NS + "rect")}
    assert fills == {"FAIL": "#123456", "PASS": DEFAULT_COLOURS["PASS"]}
    gap = root.find(f".//{NS}g[@class='gap']/{NS}rect")
    assert gap is not None and gap.get("stroke") == "#abc"
    title = next(t for t in root.iter(NS + "text") if t.get("font-weight") == "bold")
    assert title.get("fill") == "#0b4d3c"
    # A style's own colours (accent, heading) are keys too; a glyph stays readable on a light fill.
    light = parse(timeline_svg(columns, rows, title="t", colours={"PASS": "#eeffee"}))
    glyph = next(p for p in light.iter(NS + "path") if p.get("class") == "glyph-PASS")
    assert glyph.get("stroke") == "#212121"
    with pytest.raises(ValueError, match="unknown timeline colour 'PASSED'"):
        timeline_svg(columns, rows, title="t", colours={"PASSED": "#000"})
    with pytest.raises(ValueError, match="timeline colour FAIL: expected #rgb or #rrggbb"):
        timeline_svg(columns, rows, title="t", colours={"FAIL": 'red" onload="x'})


def test_default_status_colours_are_the_html_reports() -> None:
    assert {s: DEFAULT_COLOURS[s] for s in STATUSES} == dict(STATUS_COLOURS)


def test_month_ticks_follow_the_calendar() -> None:
    columns = weekly(52, start=date(2026, 1, 5)) + weekly(4, start=date(2027, 1, 4))
    rows = [TimelineRow("c", ["PASS"] * len(columns))]
    root = parse(timeline_svg(columns, rows, title="t", max_width=1400))
    months = [t.text for t in group(root, "months").iter(NS + "text")]
    assert months == ["2026", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
                      "Jan 2027"]
    ticks = next(p for p in root.iter(NS + "path") if p.get("class") == "month-ticks")
    assert ticks.get("d", "").count("M") == 13
    # Three runs: their own dates in the headers, one month label.
    three = [TimelineColumn(d.isoformat(), d, "run") for d in (date(2026, 1, 5), date(2026, 1, 6), date(2026, 6, 30))]
    root = parse(timeline_svg(three, [TimelineRow("c", ["PASS", "FAIL", "PASS"])], title="t"))
    assert [shown(t) for t in group(root, "columns").iter(NS + "text")] == ["2026-01-05", "2026-01-06", "2026-06-30"]
    assert [t.text for t in group(root, "months").iter(NS + "text")] == ["2026", "Jan", "Jun"]


@pytest.mark.parametrize(("ncols", "nrows"), [(1, 1), (3, 2), (52, 400), (60, 10)])
def test_sizes_fit_the_pdf_width(ncols: int, nrows: int) -> None:
    columns = weekly(ncols)
    rows = pattern_rows(columns, nrows)
    root = parse(timeline_svg(columns, rows, title="t", max_width=PDF_MAX_WIDTH))
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    assert 0 < width <= PDF_MAX_WIDTH
    view = [float(v) for v in root.get("viewBox", "").split()]
    assert view[2] == width                                 # drawn at its size: the text is not shrunk
    assert height >= nrows * 10
    assert len(list(group(root, "labels").iter(NS + "text"))) == nrows
    assert cell_counts(root) == expected_counts(rows)


def test_too_many_columns_are_scaled_down_not_cut() -> None:
    columns = weekly(200)
    root = parse(timeline_svg(columns, pattern_rows(columns, 3), title="t", max_width=600))
    view = [float(v) for v in root.get("viewBox", "").split()]
    assert float(root.get("width", "0")) == 600.0 and view[2] > 600
    assert float(root.get("height", "0")) < view[3]


def test_no_runs_or_no_controls_say_so() -> None:
    root = parse(timeline_svg([], [], title="empty"))
    assert "No runs in the period" in "".join(root.itertext())
    assert root.findtext(NS + "desc") == "No runs in the period: no status to show."
    root = parse(timeline_svg(weekly(3, gaps=(2,)), [], title="empty"))
    assert "No controls to show." in "".join(root.itertext())
    assert "2 run(s) and 1 expected run(s) missing" in (root.findtext(NS + "desc") or "")


def test_bad_input_is_a_clear_error() -> None:
    cols = weekly(3, gaps=(1,))
    cases = [
        ([TimelineRow("r", ["PASS", None])], "row 1 .'r'. has 2 cells for 3 columns"),
        ([TimelineRow("r", ["PASS", "PASS", "PASS"])], "column 2 .'2026-01-12'.: a gap column has no status, not 'PASS'"),
        ([TimelineRow("r", ["PASS", None, None])], "column 3 .'2026-01-19'.: expected one of FAIL, .*absent, not None"),
        ([TimelineRow("r", ["pass", None, "PASS"])], "expected one of .*, not 'pass'"),
    ]
    for rows, message in cases:
        with pytest.raises(ValueError, match=message):
            timeline_svg(cols, rows, title="t")
    with pytest.raises(ValueError, match="kind must be 'run' or 'gap', not 'skipped'"):
        timeline_svg([TimelineColumn("a", date(2026, 1, 1), "skipped")], [], title="t")
    with pytest.raises(ValueError, match="earlier than column 1 .2026-01-19.: columns must be in time order"):
        timeline_svg(list(reversed(cols)), [], title="t")
    with pytest.raises(ValueError, match="max_width must be positive"):
        timeline_svg(cols, [], title="t", max_width=0)


def test_chunk_rows() -> None:
    rows = [TimelineRow(str(i), []) for i in range(130)]
    chunks = chunk_rows(rows, 60)
    assert [len(c) for c in chunks] == [60, 60, 10]
    assert [r for c in chunks for r in c] == rows
    assert chunk_rows([], 60) == ()
    with pytest.raises(ValueError, match="at least 1, not 0"):
        chunk_rows(rows, 0)


def test_clean_text_and_cutting_keep_combining_marks_whole() -> None:
    assert clean_text("  a \r\n b\u00a0 c  ") == "a b c"
    assert clean_text("x" * 10, limit=5) == "xxxx\u2026"
    assert clean_text("e\u0301" * 10, limit=4) == "e\u0301\u2026"
    cut = clean_text("ae\u0301\u0301bcdef", limit=4)
    assert cut == "a\u2026"                                # never a mark without its letter
    assert clean_text("zero\u200dwidth\u200cjoiners") == "zero\u200dwidth\u200cjoiners"


# --------------------------------------------------------------------------- text measurement


def test_text_widths_are_the_fonts_own() -> None:
    from fontTools.ttLib import TTFont

    for name, table in (("DejaVuSans.ttf", tl._ADVANCE), ("DejaVuSans-Bold.ttf", tl._ADVANCE_BOLD)):
        path = DEJAVU / name
        if not path.exists():
            pytest.fail(f"{path} is missing: install fonts-dejavu-core (the PDF's font)")
        font = TTFont(str(path))
        cmap, hmtx = font.getBestCmap(), font["hmtx"]
        assert font["head"].unitsPerEm == 2048
        assert list(table) == [hmtx[cmap[c]][0] for c in range(32, 127)]
    assert text_width("MMMM", 10) == pytest.approx(4 * 1767 * 10 / 2048)
    assert text_width("e\u0301", 10) == text_width("e", 10)
    assert text_width("\u6f22", 10) == 10.0


# --------------------------------------------------------------------------- the real PDF


def test_a_year_of_runs_in_a_real_weasyprint_pdf(tmp_path: Path) -> None:
    """52 weekly runs (one missing) x 150 controls, in chunks of PDF_ROWS_PER_PAGE under a
    heading each, one per page (the print stylesheet's A4 margins): each chunk fits its page,
    and the page shows the labels, the gap and the statuses' colours."""
    from weasyprint import HTML

    columns = weekly(52, gaps=(13,))
    rows = pattern_rows(columns, 150)
    chunks = chunk_rows(rows, PDF_ROWS_PER_PAGE)
    figures = "".join(f'<div class="fig"><h2>Control status per run, part {k + 1}</h2>'
                      f'{timeline_svg(columns, chunk, title=f"PCI DSS part {k + 1}", max_width=PDF_MAX_WIDTH)}</div>'
                      for k, chunk in enumerate(chunks))
    page = ('<!DOCTYPE html><html><head><meta charset="utf-8"><style>@page { size: A4; margin: 22mm 16mm 20mm 16mm }'
            ' html { font: 9pt "DejaVu Sans" } h2 { font-size: 11pt } .fig { break-after: page } .fig:last-child { break-after: auto }'
            f' svg {{ display: block }}</style></head><body>{figures}</body></html>')
    pdf = HTML(string=page, base_url=None).write_pdf()
    assert pdf is not None
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == len(chunks) == 3          # a chunk never runs over its page
    colours = {s: " ".join(f"{int(DEFAULT_COLOURS[s][i:i + 2], 16) / 255:.6f}".rstrip("0").rstrip(".")
                           for i in (1, 3, 5)) + " rg" for s in STATUSES}
    for k, p in enumerate(reader.pages):
        text = p.extract_text()
        assert f"PCI DSS part {k + 1}" in text and GAP_LABEL in text and "2026-04-06" in text
        assert rows[k * PDF_ROWS_PER_PAGE].label[:20] in text
        content = p.get_contents().get_data().decode("latin-1")   # type: ignore[union-attr]
        for status, op in colours.items():
            assert op in content, f"page {k + 1} draws no {status} cell"
