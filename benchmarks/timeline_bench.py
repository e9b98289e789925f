#!/usr/bin/env python
"""Timeline picture benchmark: the period report's status grid of 400 controls over 52 weekly runs.

    .venv/bin/python benchmarks/timeline_bench.py [--runs 52] [--rows 400] [--repeat 5] [--pdf]

Two inputs of `--rows` controls over `--runs` weekly columns, one of them a gap (a missed run):
- **typical**: most controls keep one status all year (PASS, some NOT_APPLICABLE, WAIVED or
  FAIL), every seventh fails for four weeks, every eleventh is not assessed after week 16,
  every thirteenth has two ERROR runs: few segments per row;
- **worst**: the status changes at every run, so no two neighbouring cells merge into one
  segment (the most elements and bytes the picture can have).

For each it prints the time of `timeline_svg` (best and median of `--repeat` calls, at the HTML
width of 1000 px), the SVG's size in bytes (UTF-8, and gzip-compressed as a web server would
send it), the number of cell segments, the size of the PDF's chunks (`chunk_rows` at
`PDF_ROWS_PER_PAGE`, drawn at `PDF_MAX_WIDTH`) and checks that two calls give the same bytes.
With `--pdf`, it also times WeasyPrint drawing the chunks into a PDF (one page each).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auditor.report.timeline import (  # noqa: E402
    ABSENT, PDF_MAX_WIDTH, PDF_ROWS_PER_PAGE, TimelineColumn, TimelineRow, chunk_rows, timeline_svg,
)
from auditor.vocabulary import STATUSES  # noqa: E402

BASES = ("PASS", "PASS", "PASS", "PASS", "PASS", "NOT_APPLICABLE", "WAIVED", "FAIL")


def columns(runs: int) -> list[TimelineColumn]:
    out = []
    for i in range(runs):
        day = date(2026, 1, 5) + timedelta(weeks=i)
        out.append(TimelineColumn(day.isoformat(), day, "gap" if i == min(13, runs - 1) and runs > 1 else "run"))
    return out


def typical(cols: list[TimelineColumn], n: int) -> list[TimelineRow]:
    rows = []
    for r in range(n):
        cells: list[str | None] = []
        for i, col in enumerate(cols):
            value: str | None = BASES[r % len(BASES)]
            if col.kind == "gap":
                value = None
            elif r % 7 == 3 and 4 <= i < 8:
                value = "FAIL"
            elif r % 11 == 5 and i >= 16:
                value = ABSENT
            elif r % 13 == 2 and i in (20, 21):
                value = "ERROR"
            cells.append(value)
        rows.append(TimelineRow(f"PCI DSS 1.{r % 5}.{r} Inbound traffic to the CDE is restricted to what is necessary",
                                cells))
    return rows


def worst(cols: list[TimelineColumn], n: int) -> list[TimelineRow]:
    values = (*STATUSES, ABSENT)
    return [TimelineRow(f"Control {r} whose status changes at every run",
                        [None if c.kind == "gap" else values[(r + i) % len(values)] for i, c in enumerate(cols)])
            for r in range(n)]


def measure(name: str, cols: list[TimelineColumn], rows: list[TimelineRow], repeat: int, pdf: bool) -> None:
    times = []
    svg = ""
    for _ in range(repeat):
        start = time.perf_counter()
        svg = timeline_svg(cols, rows, title=f"{name}: control status per run", max_width=1000.0)
        times.append(time.perf_counter() - start)
    same = svg == timeline_svg(cols, rows, title=f"{name}: control status per run", max_width=1000.0)
    raw = svg.encode("utf-8")
    segments = svg.count("<rect") - svg.count('class="gap"')
    start = time.perf_counter()
    chunks = chunk_rows(rows, PDF_ROWS_PER_PAGE)
    parts = [timeline_svg(cols, chunk, title=f"{name} ({k + 1}/{len(chunks)})", max_width=PDF_MAX_WIDTH)
             for k, chunk in enumerate(chunks)]
    chunk_time = time.perf_counter() - start
    print(f"{name:8} {len(rows)} rows x {len(cols)} columns: svg best {min(times) * 1000:.1f} ms, "
          f"median {statistics.median(times) * 1000:.1f} ms; {len(raw):,} bytes ({len(gzip.compress(raw, 9)):,} gzip); "
          f"~{segments:,} rects; same bytes twice: {same}")
    print(f"{'':8} PDF chunks: {len(chunks)} x {PDF_ROWS_PER_PAGE} rows in {chunk_time * 1000:.1f} ms, "
          f"{sum(len(p.encode()) for p in parts):,} bytes")
    if pdf:
        from weasyprint import HTML

        page = ('<!DOCTYPE html><html><head><meta charset="utf-8"><style>@page { size: A4; margin: 22mm 16mm }'
                " .fig { break-after: page } svg { display: block }</style></head><body>"
                + "".join(f'<div class="fig">{p}</div>' for p in parts) + "</body></html>")
        start = time.perf_counter()
        data = HTML(string=page, base_url=None).write_pdf()
        assert data is not None
        print(f"{'':8} WeasyPrint: {len(chunks)} pages in {time.perf_counter() - start:.2f} s, {len(data):,} bytes of PDF")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=52)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pdf", action="store_true", help="also time WeasyPrint drawing the PDF's chunks")
    args = parser.parse_args()
    cols = columns(args.runs)
    measure("typical", cols, typical(cols, args.rows), args.repeat, args.pdf)
    measure("worst", cols, worst(cols, args.rows), args.repeat, args.pdf)


if __name__ == "__main__":
    main()
