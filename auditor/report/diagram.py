"""The network diagrams of the reports, drawn from findings.json's ``topology`` section.

No Graphviz here: the scan recorded dot's coordinates in the section (`auditor.topology`),
and this module turns them into SVG text with nothing but string formatting, so that
``auditor verify`` re-makes the HTML byte for byte on any machine. Every string from AWS is
escaped for XML; numbers are written with two decimals; elements are drawn in the order the
section lists them: the same section gives the same bytes.

A section that says the diagrams were not drawn (Graphviz missing at scan time ...) gives
its reason, and a findings.json without the section (an older one) gives "no topology
recorded": the reports show either sentence where the diagrams would be, never nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any
from collections.abc import Mapping, Sequence
from urllib.parse import quote

__all__ = ["Diagrams", "DiagramSet", "Figure", "PathRow", "diagram_set", "render_svg", "NO_TOPOLOGY", "PDF_MAX_VPC_FIGURES"]

NO_TOPOLOGY = "no topology recorded in findings.json (it was made by a version without network diagrams)"
PDF_MAX_VPC_FIGURES = 12     # per-VPC figures in the PDF; the rest are listed by name
FAIL_COLOUR = "#c62828"
_FILL = {"public": "#fde0dc", "private": "#e3f2fd", "isolated": "#e8f5e9", "unknown": "#eeeeee",
         "igw": "#ffe0b2", "eigw": "#ffe0b2", "nat": "#fff59d", "tgw": "#d1c4e9", "pcx": "#b2ebf2",
         "vgw": "#d7ccc8", "vpce": "#f3e5f5", "carrier": "#ffe0b2", "tgw_attachment": "#ede7f6", "vpc": "#e8eaf6",
         "internet": "#ffffff", "on_premises": "#ffffff"}
_CLUSTER_FILL = {"vpc": "#fafafa", "tier": "#ffffff", "group": "#ffffff"}
_LINE = 10.5          # points between label lines (dot's node font is 9 pt)
_MARGIN = 4.0
_BOLD = ' font-weight="bold"'


def _n(value: float) -> str:
    return f"{value:.2f}"


def _x(text: Any) -> str:
    return escape(str(text), quote=True)


@dataclass(frozen=True)
class PathRow:
    """One failing path as the legend lists it."""

    n: int
    rule_id: str
    resource: str
    destination: str
    family: str
    text: str
    link: str


@dataclass(frozen=True)
class Figure:
    id: str
    title: str
    vpc: str
    svg: str                  # "" when not drawn
    paths: tuple[PathRow, ...]
    failing: bool             # a failing path is drawn on it


@dataclass(frozen=True)
class DiagramSet:
    """What the reports show: the figures, or why there are none (`message`)."""

    status: str               # drawn | not_drawn | absent
    message: str
    engine: str
    tiers: str
    overview: Figure | None
    vpcs: tuple[Figure, ...]
    paths: tuple[PathRow, ...]

    @property
    def pdf_vpcs(self) -> tuple[Figure, ...]:
        """The per-VPC figures the PDF draws: those with a failing path first, at most
        `PDF_MAX_VPC_FIGURES`, in the section's order otherwise."""
        ranked = sorted(self.vpcs, key=lambda f: not f.failing)
        return tuple(ranked[:PDF_MAX_VPC_FIGURES])

    @property
    def pdf_left_out(self) -> tuple[Figure, ...]:
        shown = {f.id for f in self.pdf_vpcs}
        return tuple(f for f in self.vpcs if f.id not in shown)


def finding_link(query: str, rule: str = "") -> str:
    """The HTML findings list's URL fragment showing every finding of `query` (of `rule` when
    given): report.js reads the filters from the fragment; those it does not name keep their
    value, so each is named (status, severity, framework and grouping cleared)."""
    return f"#st=&sev=&fw=&group=&rule={quote(rule, safe='')}&passes=1&q={quote(query, safe='')}"


def render_svg(diagram: Mapping[str, Any], *, links: bool = True, max_width: float = 0.0,
               max_height: float = 0.0, fill: bool = False) -> str:
    """The SVG of one laid-out diagram. With `links`, each node with findings, each VPC box and
    each failing path is a link into the HTML findings list. `max_width`/`max_height` (points)
    scale the drawing's size down to fit (the viewBox keeps every coordinate). With `fill` the
    drawing fills its box (the HTML's pan and zoom view) whatever its size."""
    layout = diagram["layout"]
    x0, y0, x1, y1 = layout["bb"]
    width, height = x1 - x0 + 2 * _MARGIN, y1 - y0 + 2 * _MARGIN
    scale = 1.0
    if max_width and width > max_width:
        scale = max_width / width
    if max_height and height * scale > max_height:
        scale = max_height / height

    def px(x: float) -> str:
        return _n(x - x0 + _MARGIN)

    def py(y: float) -> str:
        return _n(y1 - y + _MARGIN)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="netdiagram" viewBox="0.00 0.00 {_n(width)} {_n(height)}" '
           + ('width="100%" height="100%" ' if fill else f'width="{_n(width * scale)}" height="{_n(height * scale)}" ')
           + 'font-family="Helvetica, Arial, sans-serif" '
           f'role="img" aria-label="{_x(diagram["title"])}">', f"<title>{_x(diagram['title'])}</title>"]
    for c in diagram["clusters"]:   # outer ones first: the section lists a cluster before those inside it
        bb = layout["clusters"].get(c["key"])
        if bb is None:
            continue
        cx0, cy0, cx1, cy1 = bb
        rect = (f'<rect x="{px(cx0)}" y="{py(cy1)}" width="{_n(cx1 - cx0)}" height="{_n(cy1 - cy0)}" '
                f'fill="{_CLUSTER_FILL.get(c["kind"], "#ffffff")}" stroke="#607d8b" '
                f'stroke-width="{"1.2" if c["kind"] == "vpc" else "0.6"}" rx="4"/>'
                f'<text x="{px((cx0 + cx1) / 2)}" y="{py(cy1 - 11)}" font-size="9" text-anchor="middle" '
                f'font-weight="bold" fill="#37474f">{_x(c["label"])}</text>')
        if links and c.get("link"):
            rect = f'<a href="{_x(finding_link(c["link"]))}"><title>{_x(c["label"])}</title>{rect}</a>'
        out.append(rect)
    edges = diagram["edges"]
    # Path edges last, so that they are drawn over the routes.
    order = sorted(range(len(edges)), key=lambda i: (edges[i]["kind"] == "path", i))
    paths = {p["n"]: p for p in diagram.get("paths", [])}
    for i in order:
        e, geo = edges[i], layout["edges"][i]
        out.append(_edge(e, geo, px, py, links, paths))
    for node in diagram["nodes"]:
        out.append(_node(node, layout["nodes"][node["key"]], px, py, links))
    out.append("</svg>")
    return "\n".join(out)


def _edge(e: Mapping[str, Any], geo: Mapping[str, Any], px: Any, py: Any, links: bool,
          paths: Mapping[int, Any]) -> str:
    pts = geo["points"]
    if not pts:
        return ""
    failing = e["kind"] == "path"
    colour = FAIL_COLOUR if failing else ("#78909c" if e["kind"] == "route" else "#455a64")
    d = [f"M{px(pts[0][0])},{py(pts[0][1])}"]
    for k in range(1, len(pts) - 2, 3):
        d.append("C" + " ".join(f"{px(p[0])},{py(p[1])}" for p in pts[k:k + 3]))
    dash = ' stroke-dasharray="4,3"' if e["kind"] == "peer" else ""
    parts = [f'<path d="{" ".join(d)}" fill="none" stroke="{colour}" stroke-width="{"2.2" if failing else "0.9"}"'
             f"{dash}/>"]
    if geo["arrow"] is not None:
        parts.append(_arrow(pts[-1], geo["arrow"], colour, px, py))
    if geo["label"] is not None and e["label"]:
        lx, ly = geo["label"]
        parts.append(f'<text x="{px(lx)}" y="{py(ly - 3)}" font-size="{"8.5" if failing else "7.5"}" '
                     f'text-anchor="middle" fill="{colour}"{_BOLD if failing else ""}>'
                     f"{_x(e['label'])}</text>")
    body = "".join(parts)
    if failing:
        first = paths.get(e["paths"][0]) if e["paths"] else None
        title = "failing path " + ", ".join(f"P{n}" for n in e["paths"])
        body = f"<title>{_x(title)}</title>{body}"
        if links and first is not None:
            body = f'<a href="{_x(first["link"])}">{body}</a>' if "link" in first else body
    return f'<g class="edge edge-{_x(e["kind"])}">{body}</g>'


def _arrow(last: Sequence[float], tip: Sequence[float], colour: str, px: Any, py: Any) -> str:
    dx, dy = tip[0] - last[0], tip[1] - last[1]
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / length, dy / length
    half = 2.6
    a = (last[0] - uy * half, last[1] + ux * half)
    b = (last[0] + uy * half, last[1] - ux * half)
    return (f'<polygon points="{px(tip[0])},{py(tip[1])} {px(a[0])},{py(a[1])} {px(b[0])},{py(b[1])}" '
            f'fill="{colour}"/>')


def _node(node: Mapping[str, Any], geo: Sequence[float], px: Any, py: Any, links: bool) -> str:
    x, y, w, h = geo
    kind = node["kind"]
    fill = _FILL.get(kind, "#ffffff")
    if kind == "subnet":
        fill = _FILL.get(str(node.get("cluster", "")).removeprefix("tier:"), fill)
    bad = int(node["findings"].get("FAIL", 0))
    errors = int(node["findings"].get("ERROR", 0))
    stroke = FAIL_COLOUR if bad else ("#8e24aa" if errors else "#455a64")
    dash = ' stroke-dasharray="3,2"' if node["outside"] else ""
    round_ = "14" if kind in ("internet", "on_premises") else "3"
    lines = node["label"] or [node["key"]]
    top = y + (len(lines) - 1) * _LINE / 2
    text = "".join(f'<text x="{px(x)}" y="{py(top - i * _LINE - 3)}" font-size="{"9" if i == 0 else "8"}" '
                   f'text-anchor="middle" fill="#212121"{_BOLD if i == 0 else ""}>{_x(t)}</text>'
                   for i, t in enumerate(lines))
    counts = ", ".join(f"{n} {st}" for st, n in node["findings"].items())
    title = " ".join(x for x in (node.get("name", ""), node["id"] or node["key"]) if x)
    title += f" ({counts})" if counts else ""
    body = (f"<title>{_x(title)}</title>"
            f'<rect x="{px(x - w / 2)}" y="{py(y + h / 2)}" width="{_n(w)}" height="{_n(h)}" rx="{round_}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{"1.8" if bad else "0.8"}"{dash}/>{text}')
    if links and node["link"] and node["findings"]:
        body = f'<a href="{_x(finding_link(node["link"]))}">{body}</a>'
    return f'<g class="node node-{_x(kind)}">{body}</g>'


def _path_rows(section: Mapping[str, Any]) -> tuple[PathRow, ...]:
    return tuple(PathRow(int(p["n"]), str(p["rule_id"]), str(p["resource"]), str(p["destination"]),
                         str(p["family"]), str(p["text"]), finding_link(str(p["resource"]), str(p["rule_id"])))
                 for p in section.get("paths", []))


def diagram_set(document: Mapping[str, Any], *, links: bool = True, max_width: float = 0.0,
                max_height: float = 0.0, fill: bool = False) -> DiagramSet:
    """The figures of a findings.json `document` (see the module's docstring)."""
    section = document.get("topology")
    if not isinstance(section, Mapping):
        return DiagramSet("absent", NO_TOPOLOGY, "", "", None, (), ())
    rows = _path_rows(section)
    by_n = {r.n: r for r in rows}
    engine = section.get("engine") or {}
    engine_text = f"{engine.get('name', '')} {engine.get('version', '')}".strip() if isinstance(engine, Mapping) else ""
    if section.get("status") != "drawn":
        return DiagramSet("not_drawn", f"diagram not drawn: {section.get('reason') or 'no reason recorded'}",
                          engine_text, str(section.get("tiers", "")), None, (), rows)
    figures = []
    for d in section.get("diagrams", []):
        numbers = sorted({int(p["n"]) for p in d.get("paths", [])})
        paths = [{"n": n, "link": by_n[n].link} for n in numbers if n in by_n]
        svg = render_svg({**d, "paths": paths}, links=links, max_width=max_width, max_height=max_height, fill=fill)
        figures.append(Figure(str(d["id"]), str(d["title"]), str(d.get("vpc", "")), svg,
                              tuple(by_n[n] for n in numbers if n in by_n), bool(numbers)))
    overview = figures[0] if figures and figures[0].id == "overview" else None
    rest = tuple(f for f in figures if f is not overview)
    return DiagramSet("drawn", "", engine_text, str(section.get("tiers", "")), overview, rest, rows)


PDF_WIDTH = 480.0       # points: the PDF's text block (A4 less its margins)
PDF_HEIGHT = 640.0      # points: one figure never runs over a page


class Diagrams:
    """The figures of one findings.json for each report, made when a report asks for them
    (the machine-readable formats never do): `html` with links into the findings list,
    `pdf` without links, sized to the page."""

    def __init__(self, document: Mapping[str, Any]):
        self._section = document.get("topology")
        self._made: dict[str, DiagramSet] = {}

    @property
    def recorded(self) -> bool:
        return isinstance(self._section, Mapping)

    def _make(self, which: str, **kwargs: Any) -> DiagramSet:
        if which not in self._made:
            doc = {"topology": self._section} if self.recorded else {}
            self._made[which] = diagram_set(doc, **kwargs)
        return self._made[which]

    @property
    def html(self) -> DiagramSet:
        return self._make("html", links=True, fill=True)

    @property
    def pdf(self) -> DiagramSet:
        return self._make("pdf", links=False, max_width=PDF_WIDTH, max_height=PDF_HEIGHT)
