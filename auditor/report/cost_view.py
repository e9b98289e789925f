"""The cost view of the reports, drawn from findings.json's ``costs`` section (issue 18).

Per VPC, what its NAT gateways cost now (hours + processing) against what the interface
endpoints its rules require would cost (hours + processing), the break-even traffic per
service, the subnets that reach S3 or DynamoDB only through NAT, and every note of the
section. Nothing is computed here but the drawing: every figure is the section's own string,
and the SVG bars are scaled from those strings with `decimal.Decimal` (no float).

Unknown is never drawn as zero: a part of a bar whose amount is null is a hatched block of
fixed width, labelled "unknown" with its reason in its title and in the text beside it; a VPC
whose region has no price shows the price note and no bars. A findings.json without the
section (made before it existed) gives `NO_COSTS`, one whose section says ``not_computed``
gives its reason.

Large runs: the HTML draws a chart for the `HTML_CHARTS` VPCs with the highest NAT cost and
lists the others as table rows; the PDF details `PDF_FULL` of them, lists the next `PDF_ROWS`
as rows and counts the rest, saying that findings.json holds them all. The same section gives
the same bytes: the order is the section's (by account, region, VPC) within equal NAT costs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, ROUND_HALF_UP
from html import escape
from typing import Any

from auditor.report.diagram import finding_link
from auditor.report.wording import COST_WORDS

__all__ = ["Costs", "CostSet", "VpcCost", "Bar", "Part", "FindingRef", "HTML_CHARTS", "PDF_FULL", "PDF_ROWS",
           "COST_WORDS", "render_chart", "BAR_WIDTH", "UNKNOWN_WIDTH"]

HTML_CHARTS = 50     # VPCs the HTML draws a chart for (highest NAT cost first); the rest are table rows
PDF_FULL = 20        # VPCs the PDF details (table and chart)
PDF_ROWS = 300       # VPCs after those the PDF lists one row each; past them it counts them

_MONEY = re.compile(r"\d{1,15}\.\d{2}")
_CENT = Decimal("0.01")
# Geometry of a chart (SVG user units = CSS px in the HTML; the PDF scales the whole to its column).
_LABEL_W, BAR_WIDTH, UNKNOWN_WIDTH, _VALUE_W = 140, 300, 72, 150
_ROW_H, _ROW_GAP, _TOP = 20, 12, 8
_COLOURS = {("nat", "hours"): "#e65100", ("nat", "processing"): "#ffb74d",
            ("endpoints", "hours"): "#1565c0", ("endpoints", "processing"): "#90caf9"}
_HATCH = "#757575"
# C0 controls (but tab and newline) and DEL: XML 1.0 cannot hold most of them; shown as U+FFFD.
_CONTROLS = {c: "\ufffd" for c in [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F]}


def _x(text: Any) -> str:
    return escape(str(text).translate(_CONTROLS), quote=True)


def _n(value: Decimal) -> str:
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _money(value: Any, where: str) -> Decimal | None:
    """A money (or GB) string of the section (``"190.71"``) as a Decimal, None for null. Anything
    else is a findings.json the report cannot show: ValueError naming where."""
    if value is None:
        return None
    if not isinstance(value, str) or not _MONEY.fullmatch(value):
        raise ValueError(f"findings.json costs/{where}: {value!r} is not an amount with two decimals or null")
    return Decimal(value)


def _s(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Part:
    """One segment of a stacked bar: hours or processing, its amount (None: unknown) and why."""

    key: str            # hours | processing
    label: str          # as the wording says it
    amount: Decimal | None
    reason: str = ""    # why unknown ("" when known)

    @property
    def text(self) -> str:
        return _n(self.amount) if self.amount is not None else "unknown"


@dataclass(frozen=True)
class Bar:
    """NAT now, or the required endpoints: its parts, or why it is not drawn (`absent`)."""

    key: str            # nat | endpoints
    label: str
    parts: tuple[Part, ...]
    total: Decimal | None
    currency: str
    absent: str = ""    # not drawn: why (e.g. the VPC is not in scope: no endpoints counted)

    @property
    def known(self) -> Decimal:
        return sum((p.amount for p in self.parts if p.amount is not None), Decimal(0))

    @property
    def unknown(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if p.amount is None)

    @property
    def total_text(self) -> str:
        if self.total is not None:
            return f"{_n(self.total)} {self.currency}"
        return "unknown"

    @property
    def sentence(self) -> str:
        """``NAT now: hours 105.12 + processing 98.30 = 203.42 USD a month``; an unknown part is
        named with its reason, and the total is then unknown (never the known part alone)."""
        if self.absent:
            return f"{self.label}: {self.absent}"
        parts = " + ".join(f"{p.label} {p.text}" for p in self.parts)
        if self.total is not None and not self.unknown:
            return f"{self.label}: {parts} = {_n(self.total)} {self.currency} a month"
        why = "; ".join(f"{p.label} unknown: {p.reason}" for p in self.unknown)
        known = f" (the known part: {_n(self.known)} {self.currency})" if any(p.amount is not None for p in self.parts) \
            else ""
        return f"{self.label}: {parts} = total unknown{known}; {why}"


@dataclass(frozen=True)
class FindingRef:
    """A finding a gateway-endpoint gap cites: its rule and resource when the report holds it."""

    fingerprint: str
    rule_id: str
    resource: str
    link: str           # into the HTML findings list; "" when the finding is not in this report


@dataclass(frozen=True)
class Gap:
    service: str
    subnets: tuple[str, ...]
    findings: tuple[FindingRef, ...]
    at_stake: str       # monthly NAT processing of those subnets' NATs, or "unknown"
    note: str


@dataclass(frozen=True)
class BreakEven:
    service: str
    monthly_gb: str     # or "unknown"
    note: str


@dataclass(frozen=True)
class Gateway:
    id: str
    availability_zone: str
    state: str
    monthly_gb: str
    hours: str
    processing: str
    total: str
    reason: str


@dataclass(frozen=True)
class VpcCost:
    """One VPC of the section as the reports show it."""

    n: int                      # its place in the section (ids in the HTML)
    account: str
    region: str
    vpc: str
    name: str
    in_scope: bool
    priced: bool
    price_note: str
    availability_zones: tuple[str, ...]
    traffic_status: str
    traffic_reason: str
    window: str                 # "2026-11-07T00:00:00Z to 2026-12-07T00:00:00Z (720 h)" or ""
    nat_gb: str                 # GB a month through its NATs, or "unknown"
    gateways: tuple[Gateway, ...]
    egress_via_nat: tuple[str, ...]
    required: tuple[str, ...]
    present: tuple[str, ...]
    missing: tuple[str, ...]
    missing_hours: str
    nat: Bar
    endpoints: Bar
    break_even: tuple[BreakEven, ...]
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...]
    svg: str = ""               # the chart; "" when not drawn (no price, or past the charts' cap)

    @property
    def title(self) -> str:
        return f"{self.name} ({self.vpc})" if self.name else self.vpc

    @property
    def place(self) -> str:
        return f"{self.account}/{self.region}"

    @property
    def rank(self) -> Decimal:
        """Its NAT cost for ranking: the total, else the hours (a lower bound); -1 without a price."""
        if not self.priced:
            return Decimal(-1)
        return self.nat.total if self.nat.total is not None else self.nat.known


@dataclass(frozen=True)
class CostSet:
    """What the reports show: the VPCs and the section's run-wide facts, or why there are none."""

    status: str                 # computed | not_computed | absent
    message: str
    currency: str = ""
    hours_per_month: int = 0
    prices: Mapping[str, str] | None = None   # file, sha256, as_of, source
    traffic_collected: bool = False
    window_days: int | None = None
    traffic_note: str = ""
    vpcs: tuple[VpcCost, ...] = ()             # ranked: highest NAT cost first, then the section's order

    @property
    def charted(self) -> tuple[VpcCost, ...]:
        return self.vpcs[:HTML_CHARTS]

    @property
    def rest(self) -> tuple[VpcCost, ...]:
        return self.vpcs[HTML_CHARTS:]

    @property
    def pdf_full(self) -> tuple[VpcCost, ...]:
        return self.vpcs[:PDF_FULL]

    @property
    def pdf_rows(self) -> tuple[VpcCost, ...]:
        return self.vpcs[PDF_FULL:PDF_FULL + PDF_ROWS]

    @property
    def pdf_left_out(self) -> int:
        return max(0, len(self.vpcs) - PDF_FULL - PDF_ROWS)

    @property
    def traffic_text(self) -> str:
        if not self.traffic_collected:
            return self.traffic_note or "traffic not collected: processing costs are unknown"
        window = f"over a window of {self.window_days} days" if self.window_days else "over a window not recorded"
        return f"read from CloudWatch {window}" + (f"; {self.traffic_note}" if self.traffic_note else "")


def _part(key: str, words: Mapping[str, str], value: Any, where: str, reason: str) -> Part:
    amount = _money(value, where)
    return Part(key, words[key], amount, "" if amount is not None else reason)


def _vpc(n: int, v: Mapping[str, Any], section: Mapping[str, Any], words: Mapping[str, str],
         refs: Mapping[str, FindingRef]) -> VpcCost:
    where = f"vpcs/{n}"
    currency = _s(section.get("currency")) or "USD"
    priced = bool(v.get("priced"))
    price_note = _s(v.get("price_note"))
    traffic = v.get("traffic") or {}
    run_traffic = section.get("traffic") or {}
    traffic_reason = (_s(traffic.get("reason")) or _s(run_traffic.get("note"))
                      or f"traffic {(_s(traffic.get('status')) or 'unknown').replace('_', ' ')}")
    no_price = price_note or f"no price for {_s(v.get('region'))}"
    nat, ep = v.get("nat") or {}, v.get("endpoints") or {}

    def reason(key: str) -> str:
        if not priced:
            return no_price
        return traffic_reason if key == "processing" else "not recorded in findings.json (see the notes)"

    nat_parts = tuple(_part(k, words, nat.get(k), f"{where}/nat/{k}", reason(k)) for k in ("hours", "processing"))
    nat_bar = Bar("nat", words["nat"], nat_parts, _money(nat.get("total"), f"{where}/nat/total"), currency)
    required = tuple(_s(x) for x in ep.get("required") or ())
    ep_parts = tuple(_part(k, words, ep.get(k), f"{where}/endpoints/{k}", reason(k)) for k in ("hours", "processing"))
    absent = "" if v.get("in_scope") else words["not_in_scope"]
    ep_bar = Bar("endpoints", words["endpoints"], ep_parts, _money(ep.get("total"), f"{where}/endpoints/total"),
                 currency, absent)
    start, end, hours = _s(traffic.get("window_start")), _s(traffic.get("window_end")), traffic.get("window_hours")
    window = f"{start} to {end}" + (f" ({hours} h)" if hours else "") if start or end else ""
    nat_gb = _money(nat.get("monthly_gb"), f"{where}/nat/monthly_gb")
    gateways = tuple(Gateway(_s(g.get("id")), _s(g.get("availability_zone")), _s(g.get("state")),
                             _text(g.get("monthly_gb"), f"{where}/nat/gateways/{i}/monthly_gb"),
                             _text(g.get("hours"), f"{where}/nat/gateways/{i}/hours"),
                             _text(g.get("processing"), f"{where}/nat/gateways/{i}/processing"),
                             _text(g.get("total"), f"{where}/nat/gateways/{i}/total"), _s(g.get("reason")))
                     for i, g in enumerate(nat.get("gateways") or ()))
    egress = tuple(f"{_s(e.get('nat'))} (VPC {_s(e.get('vpc'))}, {_s(e.get('account'))}/{_s(e.get('region'))})"
                   for e in v.get("egress_via_nat") or ())
    breaks = tuple(BreakEven(_s(b.get("service")), _text(b.get("monthly_gb"), f"{where}/break_even/{i}/monthly_gb"),
                             _s(b.get("note"))) for i, b in enumerate(v.get("break_even") or ()))
    gaps = tuple(Gap(_s(g.get("service")), tuple(_s(s) for s in g.get("subnets") or ()),
                     tuple(refs.get(_s(f)) or FindingRef(_s(f), "", "", "") for f in g.get("findings") or ()),
                     _text(g.get("nat_processing_at_stake"), f"{where}/gateway_endpoint_gaps/{i}/nat_processing_at_stake"),
                     _s(g.get("note"))) for i, g in enumerate(v.get("gateway_endpoint_gaps") or ()))
    return VpcCost(
        n=n, account=_s(v.get("account")), region=_s(v.get("region")), vpc=_s(v.get("vpc")), name=_s(v.get("name")),
        in_scope=bool(v.get("in_scope")), priced=priced, price_note=price_note,
        availability_zones=tuple(_s(z) for z in v.get("availability_zones") or ()),
        traffic_status=_s(traffic.get("status")), traffic_reason=_s(traffic.get("reason")), window=window,
        nat_gb=_n(nat_gb) if nat_gb is not None else "unknown", gateways=gateways, egress_via_nat=egress,
        required=required, present=tuple(_s(x) for x in ep.get("present") or ()),
        missing=tuple(_s(x) for x in ep.get("missing") or ()),
        missing_hours=_text(ep.get("missing_hours"), f"{where}/endpoints/missing_hours"),
        nat=nat_bar, endpoints=ep_bar, break_even=breaks, gaps=gaps, notes=tuple(_s(x) for x in v.get("notes") or ()))


def _text(value: Any, where: str) -> str:
    amount = _money(value, where)
    return _n(amount) if amount is not None else "unknown"


def _hatch(x: Decimal, y: int, w: int, h: int) -> str:
    """Diagonal lines filling the box (x, y, w, h), clipped to it by hand (no pattern or clip
    path: every SVG renderer, WeasyPrint's too, draws plain lines the same way)."""
    out = []
    x0, x1 = x, x + w
    c = x0 - h
    while c < x1:
        t0 = max(Decimal(0), (x0 - c) / h)
        t1 = min(Decimal(1), (x1 - c) / h)
        if t0 < t1:
            out.append(f'<line x1="{_n(c + t0 * h)}" y1="{_n(Decimal(y + h) - t0 * h)}" '
                       f'x2="{_n(c + t1 * h)}" y2="{_n(Decimal(y + h) - t1 * h)}" stroke="{_HATCH}" stroke-width="1"/>')
        c += 6
    return "".join(out)


def render_chart(v: VpcCost, words: Mapping[str, str]) -> str:
    """The SVG of one VPC's two stacked bars, drawn to one scale (the larger known sum fills
    `BAR_WIDTH`); an unknown part is a hatched block of fixed width labelled ``unknown``."""
    bars = [b for b in (v.nat, v.endpoints) if not b.absent]
    scale = max([b.known for b in bars] + [Decimal(0)])
    uid = f"cost-{v.n}"
    rows = len((v.nat, v.endpoints))
    width = _LABEL_W + BAR_WIDTH + 2 * UNKNOWN_WIDTH + _VALUE_W
    height = _TOP + rows * (_ROW_H + _ROW_GAP)
    title = f"{words['title']}: VPC {v.title}, {v.place}"
    desc = " ".join(b.sentence + "." for b in (v.nat, v.endpoints))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="costchart" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" font-family="Helvetica, Arial, sans-serif" role="img" '
           f'aria-labelledby="{uid}-t {uid}-d">',
           f'<title id="{uid}-t">{_x(title)}</title>', f'<desc id="{uid}-d">{_x(desc)}</desc>']
    for i, b in enumerate((v.nat, v.endpoints)):
        y = _TOP + i * (_ROW_H + _ROW_GAP)
        row = [f'<text x="0" y="{y + 14}" font-size="12" font-weight="bold">{_x(b.label)}</text>']
        if b.absent:
            row.append(f'<text x="{_LABEL_W}" y="{y + 14}" font-size="11" fill="#555">{_x(b.absent)}</text>')
            out.append(f'<g class="bar bar-{b.key}" data-bar="{b.key}">{"".join(row)}</g>')
            continue
        x = Decimal(_LABEL_W)
        for p in b.parts:
            if p.amount is None:
                continue
            w = (Decimal(BAR_WIDTH) * p.amount / scale).quantize(_CENT, rounding=ROUND_HALF_UP) if scale else Decimal(0)
            if w == 0:      # a known zero: said in the text and the table, no empty rectangle
                continue
            row.append(f'<rect class="seg" data-part="{b.key}-{p.key}" x="{_n(x)}" y="{y}" width="{_n(w)}" '
                       f'height="{_ROW_H}" fill="{_COLOURS[(b.key, p.key)]}"><title>{_x(b.label)} {_x(p.label)}: '
                       f'{p.text} {_x(b.currency)} a month</title></rect>')
            x += w
        for p in b.unknown:
            row.append(f'<g class="seg seg-unknown" data-part="{b.key}-{p.key}" data-unknown="{_x(p.reason)}">'
                       f'<title>{_x(b.label)} {_x(p.label)}: {_x(words["unknown"])} ({_x(p.reason)})</title>'
                       f'<rect x="{_n(x)}" y="{y}" width="{UNKNOWN_WIDTH}" height="{_ROW_H}" fill="#ffffff" '
                       f'stroke="{_HATCH}" stroke-dasharray="3,2"/>{_hatch(x, y, UNKNOWN_WIDTH, _ROW_H)}'
                       f'<rect x="{_n(x + 10)}" y="{y + 4}" width="{UNKNOWN_WIDTH - 20}" height="{_ROW_H - 8}" '
                       f'fill="#ffffff"/><text x="{_n(x + Decimal(UNKNOWN_WIDTH) / 2)}" y="{y + 14}" font-size="10" '
                       f'text-anchor="middle" fill="#212121">{_x(words["unknown"])}</text></g>')
            x += UNKNOWN_WIDTH
        value = b.total_text if b.total is not None else f"{_n(b.known)} + {words['unknown']}"
        row.append(f'<text x="{_n(x + 4)}" y="{y + 14}" font-size="11">{_x(value)}</text>')
        out.append(f'<g class="bar bar-{b.key}" data-bar="{b.key}">{"".join(row)}</g>')
    out.append("</svg>")
    return "".join(out)


class Costs:
    """The cost view of one findings.json for the reports, made when a report asks for it (the
    machine-readable formats never do). `findings` are the report model's: a gap's findings
    link into the HTML findings list by their resource and rule."""

    def __init__(self, document: Mapping[str, Any], findings: Sequence[Any] = ()):
        self._section = document.get("network_costs")
        self._findings = findings
        self._made: dict[tuple[tuple[str, str], ...], CostSet] = {}

    @property
    def recorded(self) -> bool:
        return isinstance(self._section, Mapping)

    def _refs(self) -> dict[str, FindingRef]:
        section = self._section if isinstance(self._section, Mapping) else {}
        cited = {_s(f) for v in section.get("vpcs") or () for g in v.get("gateway_endpoint_gaps") or ()
                 for f in g.get("findings") or ()}
        out: dict[str, FindingRef] = {}
        if not cited:
            return out
        for f in self._findings:
            if f.fingerprint in cited:
                out[f.fingerprint] = FindingRef(f.fingerprint, f.rule.id, f.resource.id,
                                                finding_link(f.resource.id, f.rule.id))
        return out

    def view(self, words: Mapping[str, str]) -> CostSet:
        """The cost view in `words` (wording.yaml `costs`)."""
        key = tuple(sorted(words.items()))
        if key not in self._made:
            self._made[key] = self._make(words)
        return self._made[key]

    def _make(self, words: Mapping[str, str]) -> CostSet:
        section = self._section
        if not isinstance(section, Mapping):
            return CostSet("absent", words["not_recorded"])
        if section.get("status") != "computed":
            return CostSet("not_computed", words["not_computed"].replace(
                "{reason}", _s(section.get("reason")) or "no reason recorded"))
        refs = self._refs()
        vpcs = [_vpc(i, v, section, words, refs) for i, v in enumerate(section.get("vpcs") or ())]
        ranked = sorted(vpcs, key=lambda v: (-v.rank, v.n))
        drawn = max(HTML_CHARTS, PDF_FULL)
        ranked = [replace(v, svg=render_chart(v, words)) if i < drawn and v.priced else v
                  for i, v in enumerate(ranked)]
        prices = section.get("prices") or {}
        traffic = section.get("traffic") or {}
        days = traffic.get("window_days")
        return CostSet("computed", "", currency=_s(section.get("currency")) or "USD",
                       hours_per_month=int(section.get("hours_per_month") or 0),
                       prices={k: _s(prices.get(k)) for k in ("file", "sha256", "as_of", "source")},
                       traffic_collected=bool(traffic.get("collected")),
                       window_days=int(days) if isinstance(days, int) else None,
                       traffic_note=_s(traffic.get("note")), vpcs=tuple(ranked))
