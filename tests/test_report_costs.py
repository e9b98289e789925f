"""The cost view of the reports (issue 18): findings.json's `costs` section in the real HTML
report (`html_report`) and the real WeasyPrint PDF (`render_pdf`), both made through the
report model (`build_model`) as every report is.

The section here is written by hand in the documented shape (docs/findings.md, `costs`): one
VPC measured and priced (the issue's hand check for eu-west-1), one whose traffic could not be
read (AccessDenied on GetMetricData: processing unknown) and whose Name tag is hostile, one in
a region without a price. Bar widths are computed here from the figures; an unknown part must
be a labelled, hatched block with its reason, never a bar of width zero.
"""

from __future__ import annotations

import copy
import html
import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from auditor.report.cost_view import BAR_WIDTH, HTML_CHARTS, PDF_FULL, UNKNOWN_WIDTH, Costs
from auditor.report.diagram import finding_link
from auditor.report.html import html_report
from auditor.report.model import build_model
from auditor.report.pdf import PdfInputs, render_pdf
from auditor.report.wording import load_wording
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from conftest import pdf_page_texts
from test_report_model import HOSTILE_TAG, sample_document

SVG = "{http://www.w3.org/2000/svg}"
FIXED = {"SOURCE_DATE_EPOCH": "1767225600"}
HOSTILE_NAME = f'{HOSTILE_TAG} & "q" \x1b[31m'
DENIED = "GetMetricData failed: AccessDenied (not authorized to perform cloudwatch:GetMetricData)"
NO_PRICE = "no price for ap-east-2: not in the price table rules/prices/aws-network.yaml"
SERVICES = ["ecr.api", "ecr.dkr", "logs", "monitoring", "sqs", "sts", "kms"]


def _gateways(zones: list[str], hours: str, processing: str | None, total: str | None,
              gb: str | None, reason: str = "") -> list[dict[str, Any]]:
    return [{"id": f"nat-{z[-2:]}", "availability_zone": z, "state": "available", "monthly_gb": gb, "hours": hours,
             "processing": processing, "total": total, "reason": reason} for z in zones]


def _vpc(account: str, region: str, vpc: str, name: str, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "account": account, "region": region, "vpc": vpc, "name": name, "in_scope": True, "priced": True,
        "price_note": "", "availability_zones": [], "traffic": {"status": "measured", "reason": "",
                                                                 "window_start": "", "window_end": "",
                                                                 "window_hours": 0},
        "nat": {"gateways": [], "hours": "0.00", "processing": "0.00", "total": "0.00", "monthly_gb": "0.00"},
        "egress_via_nat": [],
        "endpoints": {"required": [], "present": [], "missing": [], "hours": "0.00", "processing": "0.00",
                      "total": "0.00", "missing_hours": "0.00"},
        "break_even": [], "gateway_endpoint_gaps": [], "notes": []}
    base.update(over)
    return base


def costs_section() -> dict[str, Any]:
    """Three VPCs in the section's order (account, region, VPC): the unpriced one first, so the
    reports' order (highest NAT cost first) differs from it."""
    eu = [f"eu-west-1{z}" for z in "abc"]
    us = [f"us-east-1{z}" for z in "abc"]
    measured = _vpc(
        "111111111111", "eu-west-1", "vpc-0aaa", "shared-egress", availability_zones=eu,
        traffic={"status": "measured", "reason": "", "window_start": "2026-11-07T00:00:00Z",
                 "window_end": "2026-12-07T00:00:00Z", "window_hours": 720},
        nat={"gateways": _gateways(eu, "35.04", "32.77", "67.81", "682.67"), "hours": "105.12",
             "processing": "98.30", "total": "203.42", "monthly_gb": "2048.00"},
        egress_via_nat=[{"nat": "nat-1a", "vpc": "vpc-0aaa", "account": "111111111111", "region": "eu-west-1"}],
        endpoints={"required": SERVICES, "present": ["sts"], "missing": SERVICES[:-2] + ["kms"],
                   "hours": "168.63", "processing": "20.48", "total": "189.11", "missing_hours": "144.54"},
        break_even=[{"service": s, "monthly_gb": "633.95", "note": ""} for s in SERVICES],
        gateway_endpoint_gaps=[{"service": "s3", "subnets": ["subnet-0app"], "findings": ["a" * 20, "f" * 64],
                                "nat_processing_at_stake": "92.16",
                                "note": "upper bound: CloudWatch does not split NAT traffic by destination"}],
        notes=["interface endpoint processing assumes every NAT byte would use an endpoint"])
    unknown = _vpc(
        "111111111111", "us-east-1", "vpc-0bbb", HOSTILE_NAME, availability_zones=us,
        traffic={"status": "failed", "reason": DENIED, "window_start": "", "window_end": "", "window_hours": 0},
        nat={"gateways": _gateways(us, "32.85", None, None, None, DENIED), "hours": "98.55",
             "processing": None, "total": None, "monthly_gb": None},
        endpoints={"required": SERVICES, "present": [], "missing": SERVICES, "hours": "153.30",
                   "processing": None, "total": None, "missing_hours": "153.30"},
        break_even=[{"service": s, "monthly_gb": "625.71", "note": ""} for s in SERVICES],
        notes=[f"traffic unknown ({DENIED}): NAT and endpoint processing are unknown, hours only"])
    unpriced = _vpc(
        "000000000000", "ap-east-2", "vpc-0ccc", "far-away", in_scope=False, priced=False, price_note=NO_PRICE,
        availability_zones=["ap-east-2a"],
        nat={"gateways": _gateways(["ap-east-2a"], None, None, None, "10.00", NO_PRICE),   # type: ignore[arg-type]
             "hours": None, "processing": None, "total": None, "monthly_gb": "10.00"},
        endpoints={"required": [], "present": [], "missing": [], "hours": None, "processing": None, "total": None,
                   "missing_hours": None},
        notes=[NO_PRICE + ": no amount is computed for this VPC"])
    return {"status": "computed", "reason": "", "currency": "USD", "hours_per_month": 730,
            "prices": {"file": "rules/prices/aws-network.yaml", "sha256": "9" * 64, "as_of": "2026-12-07",
                       "source": "AWS Price List offer files AmazonVPC and AmazonEC2"},
            "traffic": {"collected": True, "window_days": 30, "note": ""},
            "vpcs": [unpriced, measured, unknown]}


def _doc(costs: dict[str, Any] | None) -> dict[str, Any]:
    doc = sample_document()
    if costs is not None:
        doc["network_costs"] = costs
    return doc


def _page(doc: dict[str, Any]) -> str:
    return html_report(build_model(doc, load_packs([]), load_catalogues())).decode("utf-8")


def _section(page: str) -> str:
    return page.split('<section id="costs">')[1].split("</section>")[0]


def _charts(section: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r'<svg [^>]*class="costchart".*?</svg>', section, re.S)]


def _width(bar: ET.Element, part: str) -> Decimal:
    [rect] = [r for r in bar.iter(f"{SVG}rect") if r.get("data-part") == part]
    return Decimal(rect.get("width", ""))


def _expected(amount: str, scale: str) -> Decimal:
    return (Decimal(BAR_WIDTH) * Decimal(amount) / Decimal(scale)).quantize(Decimal("0.01"))


@pytest.fixture(scope="module")
def page() -> str:
    return _page(_doc(costs_section()))


def test_html_shows_the_figures_prices_and_traffic(page: str) -> None:
    section = _section(page)
    assert "<h2>Cost of private networking</h2>" in section and 'href="#costs"' in page
    assert "rules/prices/aws-network.yaml" in section and "as of 2026-12-07" in section
    assert "AWS Price List offer files AmazonVPC and AmazonEC2" in section
    assert "read from CloudWatch over a window of 30 days" in section
    assert "window 2026-11-07T00:00:00Z to 2026-12-07T00:00:00Z (720 h)" in section
    assert "NAT now: hours 105.12 + processing 98.30 = 203.42 USD a month" in section
    assert "Required endpoints: hours 168.63 + processing 20.48 = 189.11 USD a month" in section
    assert "Traffic through NAT: 2048.00 GB a month" in section
    assert section.count("<td>633.95</td>") == len(SERVICES)
    assert "interface endpoint processing assumes every NAT byte would use an endpoint" in section
    # The order: highest NAT cost first (not the section's, which starts with the unpriced VPC).
    ids = re.findall(r'<div class="cost-vpc" id="cost-vpc-(\d+)"', section)
    assert ids == ["1", "2", "0"]


def test_html_one_chart_per_priced_vpc_with_bars_to_scale(page: str) -> None:
    charts = _charts(_section(page))
    assert len(charts) == 2     # the VPC without a price has no chart
    measured, unknown = charts
    for chart in charts:   # accessible: title and description it names
        t, d = chart.find(f"{SVG}title"), chart.find(f"{SVG}desc")
        assert t is not None and d is not None
        assert chart.get("aria-labelledby") == f"{t.get('id')} {d.get('id')}"
    bars = {b.get("data-bar"): b for b in measured.iter(f"{SVG}g") if b.get("data-bar")}
    scale = "203.42"     # the larger of the two totals fills the bar
    assert _width(bars["nat"], "nat-hours") == _expected("105.12", scale)
    assert _width(bars["nat"], "nat-processing") == _expected("98.30", scale)
    assert _width(bars["endpoints"], "endpoints-hours") == _expected("168.63", scale)
    assert _width(bars["endpoints"], "endpoints-processing") == _expected("20.48", scale)
    # Proportions hold whatever the bar's width: NAT's hours to the endpoints' hours.
    ratio = _width(bars["nat"], "nat-hours") / _width(bars["endpoints"], "endpoints-hours")
    assert abs(ratio - Decimal("105.12") / Decimal("168.63")) < Decimal("0.001")
    assert not list(measured.iter(f"{SVG}line"))    # nothing unknown: no hatching
    # The stacked segments follow each other.
    hours = next(r for r in bars["nat"].iter(f"{SVG}rect") if r.get("data-part") == "nat-hours")
    proc = next(r for r in bars["nat"].iter(f"{SVG}rect") if r.get("data-part") == "nat-processing")
    assert Decimal(proc.get("x", "")) == Decimal(hours.get("x", "")) + Decimal(hours.get("width", ""))


def test_html_unknown_parts_are_labelled_hatched_blocks_never_zero_bars(page: str) -> None:
    section = _section(page)
    unknown = _charts(section)[1]
    bars = {b.get("data-bar"): b for b in unknown.iter(f"{SVG}g") if b.get("data-bar")}
    # Known hours to scale (the endpoints' hours are the larger: they fill the bar).
    assert _width(bars["nat"], "nat-hours") == _expected("98.55", "153.30")
    assert _width(bars["endpoints"], "endpoints-hours") == Decimal(BAR_WIDTH)
    for key in ("nat", "endpoints"):
        bar = bars[key]
        # No rectangle of the known kind stands for the unknown processing ...
        assert [r for r in bar.iter(f"{SVG}rect") if r.get("data-part") == f"{key}-processing"] == []
        # ... it is a block of its own, hatched, labelled "unknown", its reason said.
        [block] = [g for g in bar.iter(f"{SVG}g") if g.get("data-part") == f"{key}-processing"]
        assert "seg-unknown" in (block.get("class") or "") and block.get("data-unknown") == DENIED
        rect = block.find(f"{SVG}rect")
        assert rect is not None and Decimal(rect.get("width", "0")) == UNKNOWN_WIDTH > 0
        assert len(list(block.iter(f"{SVG}line"))) > 3
        assert [t.text for t in block.iter(f"{SVG}text")] == ["unknown"]
        assert DENIED in (block.findtext(f"{SVG}title") or "")
        assert "+ unknown" in "".join(bar.itertext())
    # No bar anywhere is drawn with width zero.
    for chart in _charts(section):
        assert all(Decimal(r.get("width", "1")) > 0 for r in chart.iter(f"{SVG}rect"))
    # In words: the total is unknown, never the hours alone, and why.
    said = html.unescape(section)
    assert f"NAT now: hours 98.55 + processing unknown = total unknown (the known part: 98.55 USD); " \
           f"processing unknown: {DENIED}" in said
    assert "Traffic through NAT: unknown GB a month (failed: " + DENIED in said
    assert '<td class="st-ERROR">unknown</td>' in section


def test_html_no_price_shows_the_note_and_no_bars(page: str) -> None:
    section = _section(page)
    block = section.split('id="cost-vpc-0"')[1].split('<div class="cost-vpc"')[0]
    assert NO_PRICE in block and "no amount is shown for this VPC" in block
    assert "<svg" not in block and "costchart" not in block
    assert "0.00" not in block.split("Traffic through NAT")[0]


def test_html_gap_links_to_its_findings(page: str) -> None:
    section = _section(page)
    link = html.escape(finding_link("bank-" + HOSTILE_TAG, "EKS-001"))
    assert f'<a href="{link}">EKS-001 bank-' in section
    assert f"<code>{'f' * 64}</code> (not in this report)" in section
    assert "92.16" in section and "upper bound: CloudWatch does not split NAT traffic by destination" in section


def test_hostile_vpc_name_is_escaped(page: str) -> None:
    section = _section(page)
    assert "<script>" not in section and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "\x1b" not in _charts(section)[1].findtext(f"{SVG}title", "")
    title = _charts(section)[1].findtext(f"{SVG}title", "")
    assert HOSTILE_TAG + ' & "q"' in title      # the SVG parsed: the name is text in it


def test_without_a_section_or_not_computed() -> None:
    section = _section(_page(_doc(None)))
    assert "no cost view recorded in findings.json" in section and "<svg" not in section
    section = _section(_page(_doc({"status": "not_computed", "reason": "no VPC in the model", "currency": "USD",
                                   "hours_per_month": 730, "prices": {}, "traffic": {}, "vpcs": []})))
    assert "cost view not computed: no VPC in the model" in section and "<svg" not in section


def test_a_malformed_amount_is_refused_with_its_place() -> None:
    costs = costs_section()
    costs["vpcs"][1]["nat"]["hours"] = 105.12    # a float where a string of two decimals belongs
    model = build_model(_doc(costs), load_packs([]), load_catalogues())
    with pytest.raises(ValueError, match=r"costs/vpcs/1/nat/hours: 105\.12 is not an amount"):
        html_report(model)


def _many(n: int) -> dict[str, Any]:
    costs = costs_section()
    measured = costs["vpcs"][1]
    vpcs = []
    for i in range(n):
        v = copy.deepcopy(measured)
        v["vpc"], v["name"] = f"vpc-{i:04d}", f"v{i:04d}"
        hours = Decimal(i + 1)
        v["nat"].update(hours=f"{hours:.2f}", processing="0.00", total=f"{hours:.2f}")
        vpcs.append(v)
    costs["vpcs"] = vpcs
    return costs


def test_html_caps_the_charts_and_lists_the_rest() -> None:
    n = HTML_CHARTS + 7
    section = _section(_page(_doc(_many(n))))
    assert len(_charts(section)) == HTML_CHARTS
    assert (f"Charts are drawn for the {HTML_CHARTS} VPCs with the highest NAT cost; the other 7 are rows of "
            "the table") in section
    rest = section.split('<table id="cost-rest">')[1]
    # The highest NAT costs are charted; the seven lowest are rows, none of them lost.
    assert sorted(re.findall(r"<td>v(\d{4}) \(vpc-", rest)) == [f"{i:04d}" for i in range(7)]
    assert f'aria-labelledby="cost-{n - 1}-t' in section.split('<table id="cost-rest">')[0]


def test_costs_view_bounds_the_pdf() -> None:
    view = Costs(_doc(_many(PDF_FULL + 5))).view(load_wording().costs)
    assert len(view.pdf_full) == PDF_FULL and len(view.pdf_rows) == 5 and view.pdf_left_out == 0
    assert [v.vpc for v in view.pdf_full][:2] == [f"vpc-{PDF_FULL + 4:04d}", f"vpc-{PDF_FULL + 3:04d}"]


# -- the PDF ------------------------------------------------------------------------------

def _pdf_text(doc: dict[str, Any], style: str) -> str:
    model = build_model(doc, load_packs([]), load_catalogues())
    pdf = render_pdf(model, PdfInputs(json.dumps(doc).encode()), style=style, environ=FIXED)
    return " ".join(" ".join(t.split()) for t in pdf_page_texts(pdf))


@pytest.mark.parametrize("style", ["banking", "healthcare"])
def test_pdf_has_the_section_figures_and_notes(style: str) -> None:
    text = _pdf_text(_doc(costs_section()), style)
    body = text.split("Cost of private networking")
    assert len(body) >= 3, "the contents and the section both name it"
    section = " ".join(body[2:])
    for figure in ("105.12", "98.30", "203.42 USD", "168.63", "20.48", "189.11 USD", "633.95", "625.71", "92.16"):
        assert figure in section, figure
    assert "rules/prices/aws-network.yaml" in section and "2026-12-07" in section
    assert "over a window of 30 days" in section
    assert NO_PRICE in section and "no amount is shown for this VPC" in section
    assert "processing unknown" in section and "AccessDenied" in section
    assert "interface endpoint processing assumes every NAT byte would use an endpoint" in section
    assert "<script>alert(1)</script>" in section   # the hostile name, as text
    # The chart is drawn: its labels are text of the page too.
    assert section.count("NAT now") >= 4 and "Required endpoints" in section


def test_pdf_without_a_section_and_capped() -> None:
    assert "no cost view recorded in findings.json" in _pdf_text(_doc(None), "banking")
    text = _pdf_text(_doc(_many(PDF_FULL + 3)), "healthcare")
    assert (f"{PDF_FULL + 3} VPCs are costed: this report details the {PDF_FULL} with the highest NAT cost, "
            "lists the next 3 one row each.") in text
    assert "Every VPC, with every figure and note, is in findings.json (network_costs; attached to this PDF)" in text
    assert "v0000 (vpc-0000)" in text.split("Other VPCs, one row each")[1]


# -- the words ----------------------------------------------------------------------------

def test_the_words_are_wording_yaml_and_checked(tmp_path: Path) -> None:
    """The section's words come from wording.yaml `costs`: changed there, changed in the view;
    a missing or unknown key stops the report with the file, line and key."""
    from auditor.errors import InputError
    from auditor.report.wording import templates_dir

    text = (templates_dir() / "wording.yaml").read_text(encoding="utf-8")
    (tmp_path / "wording.yaml").write_text(text.replace("  nat: NAT now\n", "  nat: NAT today\n"), encoding="utf-8")
    view = Costs(_doc(costs_section())).view(load_wording(tmp_path).costs)
    assert view.vpcs[0].nat.sentence.startswith("NAT today: hours 105.12")
    assert ">NAT today<" in view.vpcs[0].svg
    broken = text.replace("  unknown: unknown\n", "  unknwn: unknown\n")
    (tmp_path / "wording.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_wording(tmp_path)
    said = str(exc.value)
    assert "missing key 'unknown'" in said and "unknown key 'unknwn' (did you mean 'unknown'?)" in said
    line = broken.splitlines().index("  unknwn: unknown") + 1
    assert f"wording.yaml:{line}:" in said
