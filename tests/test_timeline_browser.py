"""The timeline picture (auditor/report/timeline.py) in a real headless Chromium, inline in a page
under the HTML report's content security policy: it is laid out at its size, every row label
fits left of the grid in the browser's own font (the picture measures DejaVu Sans itself), the
column headers, month ticks and legend do not overlap, and the screenshot shows each status's
colour and the gap's hatching. Needs Debian's `chromium`; fails, never skips, without it.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from auditor.report.html import CSP
from auditor.report.timeline import (
    ABSENT, DEFAULT_COLOURS, PDF_MAX_WIDTH, TimelineColumn, TimelineRow, timeline_svg,
)
from auditor.vocabulary import STATUSES
from test_report_html import _chromium

WIDTH, HEIGHT = 1400, 1000

PROBE = """<script>
(function () {
  "use strict";
  function box(e) { var r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
  var out = [];
  Array.prototype.forEach.call(document.querySelectorAll("svg.timeline"), function (svg) {
    var cells = svg.querySelectorAll("g.cells rect");
    var gridX = Math.min.apply(null, Array.prototype.map.call(cells, function (r) { return +r.getAttribute("x"); })) - 0.5;
    out.push({
      svg: box(svg), width: svg.getAttribute("width"), height: svg.getAttribute("height"),
      visible: getComputedStyle(svg).visibility, display: getComputedStyle(svg).display,
      cells: cells.length, grid_x: gridX,
      labels: Array.prototype.map.call(svg.querySelectorAll("g.labels text"), function (t) {
        return [+t.getAttribute("x"), t.getComputedTextLength()];
      }),
      heads: Array.prototype.map.call(svg.querySelectorAll("g.columns text"), box),
      months: Array.prototype.map.call(svg.querySelectorAll("g.months text"), box),
      legend: box(svg.querySelector("g.legend")),
      legend_items: Array.prototype.map.call(svg.querySelectorAll("g.legend text"), box),
      title: svg.querySelector("title").textContent
    });
  });
  var probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify(out);
  document.body.appendChild(probe);
}());
</script>
"""


def _year() -> tuple[list[TimelineColumn], list[TimelineRow]]:
    columns = []
    for i in range(52):
        day = date(2026, 1, 5) + timedelta(weeks=i)
        columns.append(TimelineColumn(day.isoformat(), day, "gap" if i == 13 else "run"))
    values = (*STATUSES, ABSENT)
    rows = []
    for r in range(60):
        cells = [None if c.kind == "gap" else values[(r + i // 4) % len(values)] for i, c in enumerate(columns)]
        label = f"PCI DSS 1.{r}.1 " + ("Inbound traffic to the cardholder data environment is restricted " * (1 + r % 3))
        rows.append(TimelineRow(label + ("\u202e<&>\x00" if r == 7 else ""), cells))
    return columns, rows


def _three() -> tuple[list[TimelineColumn], list[TimelineRow]]:
    days = (date(2026, 1, 5), date(2026, 1, 6), date(2026, 6, 30))
    columns = [TimelineColumn(d.isoformat(), d, "run") for d in days]
    return columns, [TimelineRow("HIPAA 164.312(e)(1) Transmission security", ["PASS", "FAIL", "PASS"]),
                     TimelineRow("HIPAA 164.312(a)(1) Access control", ["ERROR", ABSENT, "WAIVED"])]


def _page(folder: Path) -> Path:
    year = timeline_svg(*_year(), title="PCI DSS v4.0.1: control status per run", max_width=1000)
    pdf_width = timeline_svg(*_year(), title="The same at the PDF's width", max_width=PDF_MAX_WIDTH)
    three = timeline_svg(*_three(), title="HIPAA: three runs")
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CSP)}">'
            '<style>body{margin:8px;background:#fff} figure{margin:0 0 16px}</style></head><body>'
            f"<figure>{year}</figure><figure>{pdf_width}</figure><figure>{three}</figure></body></html>")
    path = folder / "timeline.html"
    path.write_text(page, encoding="utf-8")
    return path


def _args(folder: Path) -> list[str]:
    return [_chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}", "--force-device-scale-factor=1",
            f"--user-data-dir={folder / 'chromium-profile'}", "--host-resolver-rules=MAP * ~NOTFOUND"]


def _probe(path: Path, folder: Path) -> list[dict[str, Any]]:
    probed = folder / "probed.html"
    probed.write_text(path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    proc = subprocess.run([*_args(folder), "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, "the probe did not finish: " + proc.stdout[-2000:]
    result: list[dict[str, Any]] = json.loads(html.unescape(found.group(1)))
    return result


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5


def test_the_timeline_lays_out_in_chromium(tmp_path: Path) -> None:
    figures = _probe(_page(tmp_path), tmp_path)
    assert [f["title"] for f in figures] == ["PCI DSS v4.0.1: control status per run", "The same at the PDF's width",
                                            "HIPAA: three runs"]
    for fig in figures:
        left, top, right, bottom = fig["svg"]
        # Laid out at the size it says, and shown.
        assert abs((right - left) - float(fig["width"])) < 1 and abs((bottom - top) - float(fig["height"])) < 1
        assert fig["visible"] == "visible" and fig["display"] != "none" and fig["cells"] > 0
        # Every row label ends left of the grid in the browser's own measure of the font.
        for x, length in fig["labels"]:
            assert x + length <= fig["grid_x"], (x, length, fig["grid_x"])
        # Headers, month labels and legend entries: inside the picture, none over another.
        for group in ("heads", "months", "legend_items"):
            boxes = fig[group]
            assert boxes, group
            for b in boxes:
                assert left - 0.5 <= b[0] and b[2] <= right + 0.5 and top - 0.5 <= b[1] and b[3] <= bottom + 0.5, group
            for i, a in enumerate(boxes):
                assert not any(_overlap(a, b) for b in boxes[i + 1:]), (group, a)
        for head in fig["heads"]:
            assert head[1] >= fig["legend"][3] - 0.5       # below the legend
            assert not any(_overlap(head, m) for m in fig["months"])
    assert len(figures[0]["labels"]) == 60 and len(figures[2]["labels"]) == 2
    assert len(figures[2]["heads"]) == 3                      # three runs: each dated
    assert float(figures[1]["width"]) <= PDF_MAX_WIDTH


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _pixels(image: Image.Image) -> list[tuple[int, int, int]]:
    data = image.convert("RGB").tobytes()
    return [(data[i], data[i + 1], data[i + 2]) for i in range(0, len(data), 3)]


def test_the_screenshot_shows_every_status_and_the_gap(tmp_path: Path) -> None:
    path = _page(tmp_path)
    shot = tmp_path / "shot.png"
    proc = subprocess.run([*_args(tmp_path), f"--screenshot={shot}", path.as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    counts: dict[tuple[int, int, int], int] = {}
    for pixel in _pixels(image):
        counts[pixel] = counts.get(pixel, 0) + 1
    # The first picture fills the viewport: each status's cells are solid areas of its colour.
    for status in STATUSES:
        assert counts.get(_rgb(DEFAULT_COLOURS[status]), 0) > 500, status
    # The gap column (the first picture is at the body's 8 px margin): hatched in grey on white,
    # no status colour in it.
    svg = ET.fromstring(timeline_svg(*_year(), title="PCI DSS v4.0.1: control status per run", max_width=1000))
    gap = svg.find(".//{http://www.w3.org/2000/svg}g[@class='gap']/{http://www.w3.org/2000/svg}rect")
    assert gap is not None
    x, y, w, h = (float(gap.get(k, "0")) for k in ("x", "y", "width", "height"))
    assert 8 + y + h < HEIGHT
    column = image.crop((int(8 + x) + 1, int(8 + y) + 1, int(8 + x + w), int(8 + y + h)))
    pixels = _pixels(column)
    seen = set(pixels)
    assert (255, 255, 255) in seen
    assert sum(1 for p in pixels if p[0] == p[1] == p[2] < 200) > len(pixels) / 10   # thin grey lines, anti-aliased
    assert not seen & {_rgb(DEFAULT_COLOURS[s]) for s in STATUSES}
    assert len(counts) > 50                                  # text and glyphs, not flat blocks
