"""The timeline picture of the period report: per framework control, its status at every run.

A grid drawn as SVG text with nothing but string formatting (like `auditor.report.diagram`), so
that the period report's HTML and PDF are re-made byte for byte: no ids, no clock, every number
written with two decimals, elements in the order of the input. One row per control, one column
per run in time order; each cell is the control's status in that run, as a colour *and* a glyph
(check PASS, cross FAIL, "!" ERROR, bar WAIVED, dot NOT_APPLICABLE), so that the picture reads
in grey print and for colour-blind readers. Two cells are not statuses and are drawn unlike any
status: ``absent`` (the run did not assess the control: an empty outlined cell) and the cells of
a ``gap`` column (a run the schedule expected and that is missing: the whole column hatched, in
a dashed outline, its header saying "no run (gap)"). A missing run is therefore never read as
PASS, and neither is a control a run did not assess.

Columns are evenly spaced, not placed by date. A year of weekly runs is a regular schedule
(a missed week is a gap column, so the columns stay evenly spaced in time anyway), and evenly
spaced columns are what keeps every run readable when runs are irregular: three runs on
5 January, 6 January and 30 June placed by date would draw the first two on top of each other.
Time is read from the column headers (each run's label, rotated) and the month ticks above the
grid, which mark where a new month starts.

The text is DejaVu Sans (the PDF's font; Verdana, whose metrics it shares, in a browser without
it), measured with the font's own advance widths (`text_width`), so that a row label that does
not fit its column is cut with an ellipsis, the full label in its ``<title>``. Every string
(labels from rule packs and AWS, the title) is cleaned (`clean_text`: control characters,
bidirectional overrides and characters XML cannot hold are removed) and escaped for XML.

Very many rows make one very tall picture; the PDF cannot break a picture over pages, so its
caller draws `chunk_rows(rows, PDF_ROWS_PER_PAGE)` one picture per page.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from auditor.vocabulary import STATUSES

__all__ = ["ABSENT", "DEFAULT_COLOURS", "GAP_LABEL", "PDF_MAX_WIDTH", "PDF_ROWS_PER_PAGE", "TimelineColumn",
           "TimelineRow", "chunk_rows", "clean_text", "text_width", "timeline_svg"]

ABSENT = "absent"               # a row's cell: the run did not assess the control
RUN, GAP = "run", "gap"         # a column's kind
GAP_LABEL = "no run (gap)"
ABSENT_LABEL = "not assessed"
# What the PDF's text block holds: A4 portrait less the print stylesheet's 16 mm side margins
# is 178 mm, 672 CSS px; a 70-row picture with its legend and headers (~860 px) and a heading
# above it fit the page's 255 mm (964 px) height.
PDF_MAX_WIDTH = 672.0
PDF_ROWS_PER_PAGE = 70

# The status colours are the HTML report's (auditor/report/html.py STATUS_COLOURS, copied so
# that this module imports nothing of the report; tests/test_timeline.py checks they are equal).
# `absent` is the outline of a not-assessed cell, `gap` the hatching of a gap column; `accent`
# and `heading` are a report style's keys (reports/templates/styles/*.yaml): the title, and the
# month ticks and headers.
DEFAULT_COLOURS: Mapping[str, str] = {
    "FAIL": "#c62828", "ERROR": "#8e24aa", "WAIVED": "#ef6c00", "PASS": "#2e7d32", "NOT_APPLICABLE": "#757575",
    ABSENT: "#9e9e9e", GAP: "#616161", "accent": "#212121", "heading": "#37474f",
}
_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
_CELLS = (*STATUSES, ABSENT)

_FONT = "'DejaVu Sans', Verdana, sans-serif"
_M = 6.0                 # outer margin
_TITLE = 11.0            # font sizes (px)
_TEXT = 7.5
_HEAD = 7.0
_ROW = 10.0              # row pitch; a cell is 1 px less high
_MIN_CELL, _MAX_CELL = 6.0, 28.0
_MIN_LABEL, _MAX_LABEL = 60.0, 300.0
_MAX_HEADER = 96.0       # the rotated column headers' height at most
_LEGEND_ROW = 13.0
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FULL_LABEL_MAX = 500    # characters of a label kept in its <title>

# DejaVu Sans advance widths of U+0020..U+007E, in 1/2048 em (from DejaVuSans.ttf and
# DejaVuSans-Bold.ttf 2.37 hmtx). Other characters: 0 for combining marks, 1 em for wide East
# Asian ones, 0.75 em (wider than the font's Latin average, so a cut label still fits) otherwise.
_ADVANCE = (651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303,
            1303, 1303, 1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577,
            1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401,
            2025, 1403, 1251, 1403, 799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298,
            569, 569, 1186, 569, 1995, 1298, 1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075,
            1303, 690, 1303, 1716)
_ADVANCE_BOLD = (713, 934, 1067, 1716, 1425, 2052, 1786, 627, 936, 936, 1071, 1716, 778, 850, 778, 748, 1425, 1425,
                 1425, 1425, 1425, 1425, 1425, 1425, 1425, 1425, 819, 819, 1716, 1716, 1716, 1188, 2048, 1585, 1561,
                 1503, 1700, 1399, 1399, 1681, 1714, 762, 762, 1587, 1305, 2038, 1714, 1741, 1501, 1741, 1577, 1475,
                 1397, 1663, 1585, 2259, 1579, 1483, 1485, 936, 748, 936, 1716, 1024, 1024, 1382, 1466, 1214, 1466,
                 1389, 891, 1466, 1458, 702, 702, 1362, 702, 2134, 1458, 1407, 1466, 1466, 1010, 1219, 979, 1458,
                 1335, 1892, 1321, 1335, 1192, 1458, 748, 1458, 1716)
_ELLIPSIS = "\u2026"
# Characters that change how the text around them is laid out or are not text: bidirectional
# embeddings, overrides, isolates and marks (an RLO would show a label backwards), and the other
# format characters but the zero-width (non-)joiners that some scripts need.
_KEEP_FORMAT = {"\u200c", "\u200d"}


@dataclass(frozen=True)
class TimelineColumn:
    """One column: a run (`kind` "run") or an expected run that is missing ("gap": a gap in the
    evidence). `label` is what its header says ("2026-01-05", "week 14"); `day` orders it."""

    label: str
    day: date
    kind: str


@dataclass(frozen=True)
class TimelineRow:
    """One row: a control (`label`, e.g. "PCI DSS 1.3.1 Inbound traffic to the CDE is restricted")
    and one cell per column: a finding status (auditor/vocabulary.py STATUSES), "absent" (that
    run did not assess the control) or None, which is the cell of a gap column and only that."""

    label: str
    cells: Sequence[str | None]


def _n(value: float) -> str:
    return f"{value:.2f}"


def _x(text: str) -> str:
    return escape(text, quote=True)


def clean_text(text: object, limit: int = _FULL_LABEL_MAX) -> str:
    """`text` fit for a picture: control characters and line breaks become spaces, runs of
    white space one space; bidirectional controls and other format characters (but ZWJ/ZWNJ)
    are removed; surrogates and non-characters, which XML cannot hold, become U+FFFD; at most
    `limit` characters, the last an ellipsis when cut. Not escaped (`_x` escapes)."""
    out: list[str] = []
    for ch in str(text):
        cat = unicodedata.category(ch)
        if cat == "Cc" or cat == "Zl" or cat == "Zp":
            out.append(" ")
        elif cat == "Cf" and ch not in _KEEP_FORMAT:
            continue
        elif cat == "Cs" or (ord(ch) & 0xFFFE) == 0xFFFE or 0xFDD0 <= ord(ch) <= 0xFDEF:
            out.append("\ufffd")
        else:
            out.append(ch)
    cleaned = " ".join("".join(out).split())
    if len(cleaned) > limit:
        cleaned = _cut(cleaned, limit - 1) + _ELLIPSIS
    return cleaned


def _cut(text: str, length: int) -> str:
    """The first `length` characters of `text`, never ending between a character and its
    combining marks, without trailing spaces."""
    while 0 < length < len(text) and unicodedata.combining(text[length]):
        length -= 1
    return text[:length].rstrip()


def _advance(ch: str, bold: bool) -> int:
    code = ord(ch)
    if 32 <= code <= 126:
        return (_ADVANCE_BOLD if bold else _ADVANCE)[code - 32]
    if unicodedata.combining(ch):
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2048
    return 1536


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """The width in px of `text` set in DejaVu Sans at `size` px."""
    return sum(_advance(ch, bold) for ch in text) * size / 2048


def _fit(text: str, size: float, width: float, *, bold: bool = False) -> str:
    """`text`, cut and ended with an ellipsis when it is wider than `width` px."""
    if text_width(text, size, bold=bold) <= width:
        return text
    room = width - text_width(_ELLIPSIS, size, bold=bold)
    used, length = 0.0, 0
    for ch in text:
        used += _advance(ch, bold) * size / 2048
        if used > room:
            break
        length += 1
    return _cut(text, length) + _ELLIPSIS


def chunk_rows(rows: Sequence[TimelineRow], per_page: int) -> tuple[tuple[TimelineRow, ...], ...]:
    """`rows` in consecutive chunks of `per_page` (the last may be shorter), in their order: one
    picture each (the PDF: `PDF_ROWS_PER_PAGE`). No rows give no chunk."""
    if per_page < 1:
        raise ValueError(f"rows per chunk must be at least 1, not {per_page}")
    return tuple(tuple(rows[i:i + per_page]) for i in range(0, len(rows), per_page))


def _colours(override: Mapping[str, str] | None) -> dict[str, str]:
    colours = dict(DEFAULT_COLOURS)
    for key, value in (override or {}).items():
        if key not in colours:
            raise ValueError(f"unknown timeline colour {key!r}: the keys are {', '.join(DEFAULT_COLOURS)}")
        if not isinstance(value, str) or _COLOUR.fullmatch(value) is None:
            raise ValueError(f"timeline colour {key}: expected #rgb or #rrggbb, not {value!r}")
        colours[key] = value
    return colours


def _luminance(colour: str) -> float:
    digits = colour[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = []
    for i in (0, 2, 4):
        c = int(digits[i:i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def _ink(fill: str) -> str:
    """White or near-black, whichever contrasts more with `fill` (a glyph on a cell)."""
    return "#ffffff" if _luminance(fill) < 0.179 else "#212121"


def _check(columns: Sequence[TimelineColumn], rows: Sequence[TimelineRow]) -> None:
    for i, col in enumerate(columns):
        if col.kind not in (RUN, GAP):
            raise ValueError(f"column {i + 1} ({col.label!r}): kind must be 'run' or 'gap', not {col.kind!r}")
        if i and col.day < columns[i - 1].day:
            raise ValueError(f"column {i + 1} ({col.label!r}, {col.day.isoformat()}) is earlier than column {i} "
                             f"({columns[i - 1].day.isoformat()}): columns must be in time order")
    for r, row in enumerate(rows):
        if len(row.cells) != len(columns):
            raise ValueError(f"row {r + 1} ({clean_text(row.label, 80)!r}) has {len(row.cells)} cells for "
                             f"{len(columns)} columns")
        for i, (col, cell) in enumerate(zip(columns, row.cells, strict=True)):
            if col.kind == GAP and cell is not None:
                raise ValueError(f"row {r + 1} ({clean_text(row.label, 80)!r}), column {i + 1} "
                                 f"({col.label!r}): a gap column has no status, not {cell!r}")
            if col.kind == RUN and cell not in _CELLS:
                raise ValueError(f"row {r + 1} ({clean_text(row.label, 80)!r}), column {i + 1} ({col.label!r}): "
                                 f"expected one of {', '.join(_CELLS)}, not {cell!r}")


def _glyph(status: str, cx: float, cy: float, s: float) -> str:
    """The path data of `status`'s glyph centred on (cx, cy) in a box of side `s`."""
    h = s / 2
    if status == "PASS":
        return f"M{_n(cx - 0.75 * h)},{_n(cy)}l{_n(0.5 * h)},{_n(0.55 * h)}l{_n(0.95 * h)},{_n(-1.1 * h)}"
    if status == "FAIL":
        return (f"M{_n(cx - 0.6 * h)},{_n(cy - 0.6 * h)}l{_n(1.2 * h)},{_n(1.2 * h)}"
                f"m0.00,{_n(-1.2 * h)}l{_n(-1.2 * h)},{_n(1.2 * h)}")
    if status == "ERROR":
        return f"M{_n(cx)},{_n(cy - 0.8 * h)}v{_n(0.9 * h)}m0.00,{_n(0.45 * h)}v{_n(0.2 * h)}"
    if status == "WAIVED":
        return f"M{_n(cx - 0.65 * h)},{_n(cy)}h{_n(1.3 * h)}"
    return f"M{_n(cx - 0.12 * h)},{_n(cy)}h{_n(0.24 * h)}"   # NOT_APPLICABLE: a dot (round caps)


def _glyph_width(status: str, s: float) -> float:
    return max(0.8, s * (0.3 if status == "NOT_APPLICABLE" else 0.15))


def _hatch(x: float, y: float, w: float, h: float, step: float) -> str:
    """Path data of diagonal lines (slope 1, rising left to right) filling the rectangle,
    clipped to it by computation: no clipPath, so no id."""
    out = []
    c = step / 2
    while c < w + h:
        # The line x' + y' = c in the rectangle's own coordinates (y' downwards).
        x0, y0 = max(0.0, c - h), min(h, c)
        x1, y1 = min(w, c), max(0.0, c - w)
        out.append(f"M{_n(x + x0)},{_n(y + y0)}L{_n(x + x1)},{_n(y + y1)}")
        c += step
    return "".join(out)


@dataclass(frozen=True)
class _Layout:
    width: float            # the drawing's own width (viewBox)
    label_w: float          # the row labels' column
    cell: float             # a column's width
    grid_x: float
    legend: tuple[tuple[float, float], ...]   # each legend entry's (x, baseline y)
    header_h: float
    month_y: float          # baseline of the month ticks' labels
    grid_y: float
    height: float
    bottom_axis: bool


def _legend_entries(counts: Mapping[str, int], gaps: int) -> list[tuple[str, str]]:
    """(kind, text) of each legend entry: the statuses in the vocabulary's order, then not
    assessed, then the gap."""
    entries = [(s, f"{s} ({counts[s]})") for s in STATUSES]
    entries.append((ABSENT, f"{ABSENT_LABEL} ({counts[ABSENT]})"))
    entries.append((GAP, f"{GAP_LABEL} ({gaps})"))
    return entries


def _layout(columns: Sequence[TimelineColumn], rows: Sequence[TimelineRow], labels: Sequence[str],
            heads: Sequence[str], legend: Sequence[tuple[str, str]], max_width: float) -> _Layout:
    n = max(len(columns), 1)
    widest = max((text_width(t, _TEXT) for t in labels), default=0.0) + 8
    label_w = min(max(widest, _MIN_LABEL), max(_MIN_LABEL, min(_MAX_LABEL, 0.4 * max_width)))
    room = max_width - 2 * _M - label_w
    if room < n * _MIN_CELL:   # too many columns: narrower labels first, then a wider drawing
        label_w = max(_MIN_LABEL, min(label_w, max_width - 2 * _M - n * _MIN_CELL))
        room = max_width - 2 * _M - label_w
    cell = min(max(room / n, _MIN_CELL), _MAX_CELL)
    grid_x = _M + label_w
    width = max(grid_x + n * cell + _M, min(max_width, 380.0))
    # The legend: entries left to right, wrapping at the drawing's width.
    places, x, y = [], _M, _M + _TITLE + 4 + _LEGEND_ROW - 3
    for _kind, text in legend:
        w = 9 + 3 + text_width(text, _TEXT) + 12
        if x > _M and x + w > width - _M:
            x, y = _M, y + _LEGEND_ROW
        places.append((x, y))
        x += w
    header_h = min(max((text_width(h, _HEAD) for h in heads), default=0.0) + 4, _MAX_HEADER)
    top = y + 6 + header_h
    month_y = top + _TEXT + 1
    grid_y = month_y + 4
    bottom_axis = len(rows) > 30
    height = grid_y + max(len(rows), 1) * _ROW + (_TEXT + 8 if bottom_axis else 0) + _M
    return _Layout(width, label_w, cell, grid_x, tuple(places), header_h, month_y, grid_y, height, bottom_axis)


def _months(columns: Sequence[TimelineColumn]) -> list[tuple[int, str, str]]:
    """(column index, label, shorter label) where a new month starts: the month's name, with
    the year where the year changes (the first column's year stands left of the grid)."""
    out: list[tuple[int, str, str]] = []
    for i, col in enumerate(columns):
        prev = columns[i - 1].day if i else None
        if prev is None or (prev.year, prev.month) != (col.day.year, col.day.month):
            name = _MONTHS[col.day.month - 1]
            if prev is not None and prev.year != col.day.year:
                out.append((i, f"{name} {col.day.year}", str(col.day.year)))
            else:
                out.append((i, name, name))
    return out


def _description(columns: Sequence[TimelineColumn], rows: Sequence[TimelineRow], counts: Mapping[str, int]) -> str:
    runs = [c for c in columns if c.kind == RUN]
    gaps = [c for c in columns if c.kind == GAP]
    if not columns:
        return "No runs in the period: no status to show."
    if not rows:
        return f"{len(runs)} run(s) and {len(gaps)} expected run(s) missing; no controls to show."
    span = f"from {columns[0].day.isoformat()} to {columns[-1].day.isoformat()}"
    text = (f"{len(rows)} control(s) over {len(runs)} run(s) {span}; {len(gaps)} expected run(s) missing "
            "(gaps in the evidence)")
    if gaps:
        named = ", ".join(clean_text(c.label, 60) for c in gaps[:20])
        text += f": {named}" + (f" and {len(gaps) - 20} more" if len(gaps) > 20 else "")
    cells = ", ".join(f"{counts[s]} {s}" for s in STATUSES)
    return f"{text}. Cells: {cells}, {counts[ABSENT]} {ABSENT_LABEL}."


def timeline_svg(columns: Sequence[TimelineColumn], rows: Sequence[TimelineRow], *, title: str,
                 colours: Mapping[str, str] | None = None, max_width: float = 1000.0) -> str:
    """The SVG of the grid `rows` x `columns` (see the module's docstring), at most `max_width`
    px wide (a drawing that cannot fit, over ~100 columns, is scaled down; its viewBox keeps
    every coordinate). `colours` overrides `DEFAULT_COLOURS` by key. The same arguments give
    the same text. Raises ValueError for a column kind or a cell that is not one of the known
    values, a row whose cells do not match the columns, columns out of time order, or an
    unknown colour key or a colour that is not #rgb / #rrggbb. No columns or no rows give a
    picture that says so."""
    if not max_width > 0:
        raise ValueError(f"max_width must be positive, not {max_width!r}")
    _check(columns, rows)
    palette = _colours(colours)
    counts = dict.fromkeys(_CELLS, 0)
    for row in rows:
        for cell in row.cells:
            if cell is not None:
                counts[cell] += 1
    gaps = sum(1 for c in columns if c.kind == GAP)
    title_text = clean_text(title)
    labels = [clean_text(r.label) for r in rows]
    heads = [clean_text(c.label, 80) + (f": {GAP_LABEL}" if c.kind == GAP else "") for c in columns]
    legend = _legend_entries(counts, gaps)
    lay = _layout(columns, rows, labels, heads, legend, max_width)
    scale = min(1.0, max_width / lay.width)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0.00 0.00 {_n(lay.width)} '
           f'{_n(lay.height)}" width="{_n(lay.width * scale)}" height="{_n(lay.height * scale)}" '
           f'font-family="{_FONT}" role="img">',
           f"<title>{_x(title_text)}</title>",
           f"<desc>{_x(_description(columns, rows, counts))}</desc>",
           f'<rect x="0.00" y="0.00" width="{_n(lay.width)}" height="{_n(lay.height)}" fill="#ffffff"/>',
           f'<text x="{_n(_M)}" y="{_n(_M + _TITLE)}" font-size="{_n(_TITLE)}" font-weight="bold" '
           f'fill="{palette["accent"]}">{_x(_fit(title_text, _TITLE, lay.width - 2 * _M, bold=True))}</text>']
    out.extend(_legend(legend, lay, palette))
    if not columns or not rows:
        message = "No runs in the period: no status to show." if not columns else "No controls to show."
        out.append(f'<text x="{_n(_M)}" y="{_n(lay.grid_y + _ROW - 2)}" font-size="{_n(_TEXT)}" '
                   f'fill="{palette["heading"]}">{_x(message)}</text>')
        out.append("</svg>")
        return "\n".join(out)
    out.extend(_headers(columns, heads, lay, palette))
    out.extend(_grid(columns, rows, labels, lay, palette))
    out.append("</svg>")
    return "\n".join(out)


def _legend(legend: Sequence[tuple[str, str]], lay: _Layout, palette: Mapping[str, str]) -> list[str]:
    out = ['<g class="legend">']
    for (kind, text), (x, y) in zip(legend, lay.legend, strict=True):
        out.append(_swatch(kind, x, y - 8, 9.0, 9.0, palette))
        out.append(f'<text x="{_n(x + 12)}" y="{_n(y)}" font-size="{_n(_TEXT)}" fill="#212121">{_x(text)}</text>')
    out.append("</g>")
    return out


def _swatch(kind: str, x: float, y: float, w: float, h: float, palette: Mapping[str, str]) -> str:
    """One legend swatch, drawn as the grid draws that kind of cell."""
    if kind == GAP:
        return (f'<path d="{_hatch(x, y, w, h, 3.0)}" stroke="{palette[GAP]}" stroke-width="0.60" fill="none"/>'
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="none" '
                f'stroke="{palette[GAP]}" stroke-width="0.80" stroke-dasharray="2.00,1.50"/>')
    if kind == ABSENT:
        return (f'<rect x="{_n(x + 0.3)}" y="{_n(y + 0.3)}" width="{_n(w - 0.6)}" height="{_n(h - 0.6)}" '
                f'fill="#ffffff" stroke="{palette[ABSENT]}" stroke-width="0.60"/>')
    s = min(w, h) - 2.5
    return (f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="{palette[kind]}"/>'
            f'<path d="{_glyph(kind, x + w / 2, y + h / 2, s)}" fill="none" stroke="{_ink(palette[kind])}" '
            f'stroke-width="{_n(_glyph_width(kind, s))}" stroke-linecap="round" stroke-linejoin="round"/>')


def _headers(columns: Sequence[TimelineColumn], heads: Sequence[str], lay: _Layout,
             palette: Mapping[str, str]) -> list[str]:
    """The rotated column headers (gap columns' first, then runs' where they do not overlap a
    header already placed) and the month ticks' labels."""
    out = ['<g class="columns">']
    pitch = _HEAD + 1.5
    order = sorted(range(len(columns)), key=lambda i: (columns[i].kind != GAP, i))
    placed: list[float] = []
    bottom = lay.month_y - _TEXT - 2
    for i in order:
        cx = lay.grid_x + (i + 0.5) * lay.cell
        if any(abs(cx - p) < pitch for p in placed):
            continue
        placed.append(cx)
        col = columns[i]
        text = _fit(heads[i], _HEAD, lay.header_h - 2)
        colour = palette[GAP] if col.kind == GAP else palette["heading"]
        tip = f"{clean_text(col.label)} ({col.day.isoformat()})" + (f": {GAP_LABEL}" if col.kind == GAP else "")
        x, y = cx + _HEAD * 0.36, bottom
        out.append(f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(_HEAD)}" fill="{colour}" '
                   f'transform="rotate(-90 {_n(x)} {_n(y)})"><title>{_x(tip)}</title>{_x(text)}</text>')
    out.append("</g>")
    out.extend(_month_labels(columns, lay, lay.month_y, palette))
    return out


def _month_labels(columns: Sequence[TimelineColumn], lay: _Layout, y: float, palette: Mapping[str, str]) -> list[str]:
    """The month ticks' labels on the baseline `y`, each where it does not overlap the one
    before (the shorter form when only that fits), and the first column's year left of them."""
    out = ['<g class="months">',
           f'<text x="{_n(lay.grid_x - 3)}" y="{_n(y)}" font-size="{_n(_TEXT)}" text-anchor="end" '
           f'fill="{palette["heading"]}">{columns[0].day.year}</text>']
    end = -1e9
    for i, name, short in _months(columns):
        x = lay.grid_x + i * lay.cell + 1.5
        room = (lay.grid_x + len(columns) * lay.cell + _M) - x
        text = next((t for t in (name, short) if text_width(t, _TEXT) <= room), "")
        if not text or x < end + 3:
            continue
        end = x + text_width(text, _TEXT)
        out.append(f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(_TEXT)}" fill="{palette["heading"]}">'
                   f"{_x(text)}</text>")
    out.append("</g>")
    return out


def _segments(cells: Sequence[str | None]) -> list[tuple[int, int, str]]:
    """(first column, number of columns, cell) of each run of equal cells, gap cells left out."""
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(cells):
        cell = cells[i]
        j = i + 1
        while j < len(cells) and cells[j] == cell:
            j += 1
        if cell is not None:
            out.append((i, j - i, cell))
        i = j
    return out


def _grid(columns: Sequence[TimelineColumn], rows: Sequence[TimelineRow], labels: Sequence[str], lay: _Layout,
          palette: Mapping[str, str]) -> list[str]:
    cell, gx, gy = lay.cell, lay.grid_x, lay.grid_y
    grid_w, grid_h = len(columns) * cell, len(rows) * _ROW
    s = min(cell, _ROW - 1) - 2.5
    out = ['<g class="stripes" fill="#f3f4f6">']
    out.extend(f'<rect x="{_n(_M)}" y="{_n(gy + r * _ROW)}" width="{_n(lay.label_w + grid_w)}" height="{_n(_ROW)}"/>'
               for r in range(1, len(rows), 2))
    out.append("</g>")
    out.append(f'<g class="labels" font-size="{_n(_TEXT)}" fill="#212121">')
    for r, label in enumerate(labels):
        shown = _fit(label, _TEXT, lay.label_w - 6)
        out.append(f'<text x="{_n(_M + 2)}" y="{_n(gy + r * _ROW + _ROW - 2.3)}"><title>{_x(label)}</title>'
                   f"{_x(shown)}</text>")
    out.append("</g>")
    glyphs: dict[str, list[str]] = {st: [] for st in STATUSES}
    out.append('<g class="cells">')
    for r, row in enumerate(rows):
        y = gy + r * _ROW
        for first, length, value in _segments(row.cells):
            x = gx + first * cell
            last = columns[first + length - 1]
            span = columns[first].label if length == 1 else f"{columns[first].label} to {last.label}"
            tip = _x(f"{ABSENT_LABEL if value == ABSENT else value}: {clean_text(span, 200)} ({length} run(s))")
            if value == ABSENT:
                out.append(f'<rect x="{_n(x + 0.8)}" y="{_n(y + 0.8)}" width="{_n(length * cell - 1.6)}" '
                           f'height="{_n(_ROW - 2.6)}" fill="#ffffff" stroke="{palette[ABSENT]}" '
                           f'stroke-width="0.60"><title>{tip}</title></rect>')
                continue
            out.append(f'<rect x="{_n(x + 0.5)}" y="{_n(y + 0.5)}" width="{_n(length * cell - 1)}" '
                       f'height="{_n(_ROW - 1)}" fill="{palette[value]}"><title>{tip}</title></rect>')
            glyphs[value].extend(_glyph(value, x + (k + 0.5) * cell, y + _ROW / 2, s) for k in range(length))
    out.append("</g>")
    for status in STATUSES:
        if glyphs[status]:
            out.append(f'<path class="glyph-{status}" d="{"".join(glyphs[status])}" fill="none" '
                       f'stroke="{_ink(palette[status])}" stroke-width="{_n(_glyph_width(status, s))}" '
                       'stroke-linecap="round" stroke-linejoin="round"/>')
    # White lines between the columns, so that each run is a cell of its own.
    seps = "".join(f"M{_n(gx + i * cell)},{_n(gy)}v{_n(grid_h)}" for i in range(1, len(columns)))
    if seps:
        out.append(f'<path class="separators" d="{seps}" stroke="#ffffff" stroke-width="0.80" fill="none"/>')
    for i, col in enumerate(columns):
        if col.kind != GAP:
            continue
        x = gx + i * cell
        tip = _x(f"{GAP_LABEL}: {clean_text(col.label)} ({col.day.isoformat()}), an expected run that is missing")
        out.append(f'<g class="gap"><title>{tip}</title>'
                   f'<rect x="{_n(x + 0.5)}" y="{_n(gy)}" width="{_n(cell - 1)}" height="{_n(grid_h)}" fill="#ffffff" '
                   f'stroke="{palette[GAP]}" stroke-width="0.90" stroke-dasharray="3.00,2.00"/>'
                   f'<path d="{_hatch(x + 0.5, gy, cell - 1, grid_h, 4.0)}" stroke="{palette[GAP]}" '
                   'stroke-width="0.60" fill="none"/></g>')
    # Month boundaries through the grid, over the cells.
    ticks = "".join(f"M{_n(gx + i * cell)},{_n(lay.month_y + 2)}v{_n(grid_h + gy - lay.month_y - 2)}"
                    for i, _name, _short in _months(columns))
    out.append(f'<path class="month-ticks" d="{ticks}" stroke="{palette["heading"]}" stroke-width="0.60" fill="none"/>')
    if lay.bottom_axis:
        out.extend(_month_labels(columns, lay, gy + grid_h + _TEXT + 2, palette))
    return out
