"""The network diagrams (issue 13, Deliver 3): findings.json's `topology` section
(auditor/topology.py, laid out by the real Graphviz `dot`) and the SVG the reports draw from it
(auditor/report/diagram.py), in the real HTML and the real WeasyPrint PDF.

The demo (the shared `demo_run` fixture) is the estate: its diagrams must hold its VPCs,
subnets, gateways and the failing path of its PN-014 finding; the same model gives the same
bytes, whatever the order of its resources; Graphviz missing is said, an older findings.json
says it has no topology, and hostile AWS names are escaped. The page's own behaviour (links,
pan and zoom) is tested in a real Chromium by tests/test_diagram_browser.py.
"""

from __future__ import annotations

import json
import random
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pypdf
import pytest

from auditor.bundle_verify import _inputs
from auditor.config import Scope
from auditor.findings import EvidenceItem, Finding, ResourceRef
from auditor.model import build_model as build_network_model
from auditor.model.types import (
    InternetGateway, Model, NatGateway, Route, RouteTable, SourceRef, Subnet, Vpc,
)
from auditor.report.diagram import NO_TOPOLOGY, diagram_set, render_svg
from auditor.report.html import html_report
from auditor.report.model import build_model
from auditor.report.pdf import PdfInputs, render_html, render_pdf
from auditor.results import carry_places, dumps
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from auditor.scan import evaluate_snapshot
from auditor.snapshot.reader import load_snapshot
from auditor.topology import carry_layout, dot_source, graph_part, topology_section
from auditor.validation import load_schema
from conftest import DemoRun, pdf_page_texts
from test_report_model import sample_document

FIXED = {"SOURCE_DATE_EPOCH": "1767225600"}
SVG_NS = "{http://www.w3.org/2000/svg}"


def _dot() -> str:
    exe = shutil.which("dot")
    if exe is None:
        pytest.fail("Graphviz is not installed: run `make test` as root (it installs it), or "
                    "`apt-get install -y graphviz`; the network diagram tests need dot")
    return exe


@pytest.fixture(scope="module")
def demo_doc(demo_run: DemoRun) -> dict[str, Any]:
    assert demo_run.code == 0, demo_run.stderr
    doc: dict[str, Any] = json.loads((demo_run.out / "findings.json").read_text(encoding="utf-8"))
    return doc


@pytest.fixture(scope="module")
def demo_inputs(demo_run: DemoRun) -> tuple[Model, list[Finding], Scope]:
    """The demo's model, its findings (as objects) and its scope, as the scan had them."""
    _dot()
    snap = load_snapshot(demo_run.out / "snapshot")
    inputs = _inputs(demo_run.out)
    findings = list(evaluate_snapshot(snap, inputs)["findings"])
    return build_network_model(snap.records, snap.manifest.get("files")), findings, inputs.scope


def _named(demo_run: DemoRun, name: str) -> str:
    """The AWS id the demo's seeding gave the resource called `name` (e.g. ``subnet:phi-legacy-a``)."""
    found = [i for i, n in demo_run.names.items() if n == f"<{name}>"]
    assert len(found) == 1, (name, found)
    return found[0]


# -- the section -------------------------------------------------------------------------

def test_demo_section_holds_vpcs_subnets_gateways_and_the_failing_path(demo_run: DemoRun,
                                                                       demo_doc: dict[str, Any]) -> None:
    _dot()
    section = demo_doc["topology"]
    assert section["status"] == "drawn", section["reason"]
    assert section["engine"]["name"] == "graphviz dot"
    jsonschema.validate(demo_doc, load_schema("findings"))
    diagrams = {d["id"]: d for d in section["diagrams"]}
    assert section["diagrams"][0]["id"] == "overview"
    # Every in-scope VPC of the demo has its diagram (its scope: the pci and phi VPCs).
    for name in ("vpc:pci-cde", "vpc:pci-cde-dr", "vpc:phi-records"):
        assert f"vpc-{_named(demo_run, name)}" in diagrams, name
    phi = diagrams[f"vpc-{_named(demo_run, 'vpc:phi-records')}"]
    keys = {n["key"] for n in phi["nodes"]}
    for name in ("phi-app-a", "phi-app-b", "phi-legacy-a", "phi-tgw-a", "phi-tgw-b"):
        assert f"subnet:{_named(demo_run, 'subnet:' + name)}" in keys, name
    assert {n["kind"] for n in phi["nodes"]} >= {"subnet", "tgw", "tgw_attachment", "vpce"}
    pci = diagrams[f"vpc-{_named(demo_run, 'vpc:pci-cde')}"]
    assert any(n["kind"] == "vpce" and n["label"][0] == "s3" for n in pci["nodes"])
    # Gateways of the shared egress VPC and the route tier rule: PCI subnets are isolated.
    assert {c["key"] for c in pci["clusters"]} >= {"tier:isolated", "endpoints"}
    # The known failing finding: PN-014 on phi-legacy-a, internet through the TGW and shared egress.
    legacy = _named(demo_run, "subnet:phi-legacy-a")
    fail = [f for f in demo_doc["findings"] if f["rule_id"] == "PN-014" and f["status"] == "FAIL"]
    assert [f["resource"]["id"] for f in fail] == [legacy]
    paths = [p for p in section["paths"] if p["fingerprint"] == fail[0]["fingerprint"]]
    assert paths and paths[0]["destination"] == "internet"
    assert paths[0]["text"] in fail[0]["evidence"][0]["observed"]
    n = paths[0]["n"]
    drawn = [e for e in phi["edges"] if e["kind"] == "path" and n in e["paths"]]
    tgw = _named(demo_run, "transit_gateway:health-tgw")
    egress = _named(demo_run, "vpc:shared-egress")
    assert [(e["tail"], e["head"]) for e in drawn] == [(f"subnet:{legacy}", f"tgw:{tgw}"),
                                                      (f"tgw:{tgw}", f"vpc:{egress}"), (f"vpc:{egress}", "internet")]
    assert all(e["label"] == f"P{n}" for e in drawn)
    # Every node and edge has its coordinates from dot.
    assert set(phi["layout"]["nodes"]) == keys and len(phi["layout"]["edges"]) == len(phi["edges"])


def test_demo_svg_shows_the_path_in_red_with_its_label(demo_run: DemoRun, demo_doc: dict[str, Any]) -> None:
    shown = diagram_set(demo_doc)
    assert shown.status == "drawn" and shown.overview is not None
    phi = next(f for f in shown.vpcs if f.vpc == _named(demo_run, "vpc:phi-records"))
    assert phi.failing and [p.rule_id for p in phi.paths] == ["PN-014"]
    svg = ET.fromstring(phi.svg)
    texts = [t.text for t in svg.iter(f"{SVG_NS}text")]
    assert "phi-legacy-a" in texts and _named(demo_run, "subnet:phi-legacy-a") in texts
    red = [g for g in svg.iter(f"{SVG_NS}g") if g.get("class") == "edge edge-path"]
    assert len(red) == 3
    for g in red:
        assert any(p.get("stroke") == "#c62828" for p in g.iter(f"{SVG_NS}path"))
        assert [t.text for t in g.iter(f"{SVG_NS}text")] == [f"P{phi.paths[0].n}"]


def test_same_model_same_bytes_whatever_the_order(demo_inputs: tuple[Model, list[Finding], Scope]) -> None:
    """Twice on the same model, and on models whose resources (and findings) are listed in
    other orders: the same section, byte for byte (layout included)."""
    model, findings, scope = demo_inputs
    first = dumps(topology_section(model, findings, scope))
    assert dumps(topology_section(model, findings, scope)) == first
    for seed in (1, 2):
        rng = random.Random(seed)
        shuffled = Model(resources={k: tuple(rng.sample(v, len(v))) for k, v in
                                    rng.sample(sorted(model.resources.items()), len(model.resources))},
                         coverage=model.coverage)
        assert dumps(topology_section(shuffled, rng.sample(findings, len(findings)), scope)) == first
    # ... and the SVG drawn from it.
    doc = {"topology": json.loads(first)}
    assert diagram_set(doc).vpcs[0].svg == diagram_set(json.loads(json.dumps(doc))).vpcs[0].svg


def test_missing_dot_is_said_in_the_section_and_both_reports(demo_inputs: tuple[Model, list[Finding], Scope]
                                                             ) -> None:
    model, findings, scope = demo_inputs
    section = topology_section(model, findings, scope, dot="no-such-graphviz-dot")
    assert section["status"] == "not_drawn"
    assert "'no-such-graphviz-dot' was not found on the PATH at scan time" in section["reason"]
    assert all("layout" not in d for d in section["diagrams"]) and section["paths"]
    doc = {**sample_document(), "topology": section}
    jsonschema.validate(doc, load_schema("findings"))
    model_r = build_model(doc, load_packs([]), load_catalogues())
    page = html_report(model_r).decode()
    assert "diagram not drawn: Graphviz &#39;no-such-graphviz-dot&#39; was not found" in page
    assert "<svg xmlns" not in page.split('id="network-diagram"')[1].split("</div>")[0]
    assert "PN-014" in page.split('id="failing-paths"')[1]    # the paths are still listed
    pdf = render_pdf(model_r, PdfInputs(json.dumps(doc).encode()), environ=FIXED)
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(_bytes_io(pdf)).pages)
    assert "diagram not drawn: Graphviz 'no-such-graphviz-dot' was not found" in " ".join(text.split())


def test_dot_failing_is_said(tmp_path: Path, demo_inputs: tuple[Model, list[Finding], Scope]) -> None:
    model, findings, scope = demo_inputs
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\n[ \"$1\" = -V ] && { echo 'dot - graphviz version 9.9' >&2; exit 0; }\n"
                    "echo 'Error: syntax error in line 1' >&2\nexit 1\n")
    fake.chmod(0o755)
    section = topology_section(model, findings, scope, dot=str(fake))
    assert section["status"] == "not_drawn"
    assert "Graphviz dot failed on overview (exit 1): Error: syntax error in line 1" == section["reason"]


def test_older_findings_json_renders_with_no_topology_recorded() -> None:
    doc = sample_document()
    assert "topology" not in doc
    model = build_model(doc, load_packs([]), load_catalogues())
    assert diagram_set(doc).message == NO_TOPOLOGY
    page = html_report(model).decode()
    assert NO_TOPOLOGY in page
    pdf = render_pdf(model, PdfInputs(json.dumps(doc).encode()), environ=FIXED)
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(_bytes_io(pdf)).pages).split())
    assert "no topology recorded in findings.json" in text


def _bytes_io(data: bytes) -> Any:
    import io
    return io.BytesIO(data)


# -- hostile strings -----------------------------------------------------------------------

HOSTILE = '<script>alert(1)</script> & "q" \'s\' \\N \\G \\l ]; } digraph x {'
LONG = "n" * 300


def _hostile_model() -> tuple[Model, list[Finding]]:
    src = SourceRef("records/x.json", "/0")
    base: dict[str, Any] = {"account": "111111111111", "region": "eu-west-1", "source": src}
    vpc = Vpc(id="vpc-1", tags=(("Name", HOSTILE),), cidr_blocks=("10.0.0.0/16",), **base)
    rt = RouteTable(id="rtb-1", vpc_id="vpc-1", routes=(
        Route("10.0.0.0/16", "ipv4", ("10.0.0.0/16",), "local", "local", "active"),
        Route("0.0.0.0/0", "ipv4", ("0.0.0.0/0",), "igw", "igw-1", "active")), **base)
    rt2 = RouteTable(id="rtb-2", vpc_id="vpc-1", is_main=True, routes=(
        Route("10.0.0.0/16", "ipv4", ("10.0.0.0/16",), "local", "local", "active"),
        Route("0.0.0.0/0", "ipv4", ("0.0.0.0/0",), "nat", "nat-1", "active")), **base)
    subnets = (Subnet(id="subnet-1", tags=(("Name", LONG + HOSTILE),), vpc_id="vpc-1", cidr="10.0.1.0/24",
                      route_table_id="rtb-1", route_table_association="explicit", **base),
               Subnet(id="subnet-2", tags=(("Name", "a\x00b\x1b[31m\nc"),), vpc_id="vpc-1", cidr="10.0.2.0/24",
                      route_table_id="rtb-2", route_table_association="main", **base))
    model = Model(resources={"vpc": (vpc,), "subnet": subnets, "route_table": (rt, rt2),
                             "internet_gateway": (InternetGateway(id="igw-1", tags=(("Name", HOSTILE),),
                                                                  attached_vpc_ids=("vpc-1",), **base),),
                             "nat_gateway": (NatGateway(id="nat-1", tags=(("Name", "&amp;" + HOSTILE),), vpc_id="vpc-1",
                                                        subnet_id="subnet-1", state="available", **base),)})
    from auditor.analyze.reachability import subnet_reachability
    texts = [p.text for p in subnet_reachability(model, subnets[1]).of("internet")]
    assert texts, "the estate must have a path to draw"
    finding = Finding("PN-014", "critical", "FAIL", ResourceRef("subnet", "subnet-2", "111111111111", "eu-west-1",
                                                                 vpc_id="vpc-1"),
                      "reaches the internet", (EvidenceItem("internet_egress_paths", texts, "empty", False),))
    return model, [finding]


def test_hostile_names_are_escaped_in_dot_and_svg() -> None:
    _dot()
    model, findings = _hostile_model()
    section = topology_section(model, findings, Scope())
    assert section["status"] == "drawn", section["reason"]    # dot read the quoted names as names
    vpc = section["diagrams"][1]
    source = dot_source(vpc)
    assert '\\"q\\"' in source and "\\\\N" in source and "\x00" not in source and "\x1b" not in source
    labels = [line for n in vpc["nodes"] for line in n["label"]]
    assert max(len(x) for x in labels) <= 40 and any(x.endswith("…") for x in labels)
    for figure in (diagram_set({"topology": section}).vpcs[0], diagram_set({"topology": section}).overview):
        assert figure is not None
        svg = ET.fromstring(figure.svg)    # well-formed XML: nothing escaped its quoting
        assert svg.find(f".//{SVG_NS}script") is None
        assert "<script>" not in figure.svg and "&lt;script&gt;" in figure.svg
        texts = [t.text or "" for t in svg.iter(f"{SVG_NS}text")] + [t.text or "" for t in svg.iter(f"{SVG_NS}title")]
        assert any(HOSTILE[:30] in t for t in texts)
        assert not any("\x00" in t or "\x1b" in t for t in texts)
    nat = next(n for n in vpc["nodes"] if n["kind"] == "nat")
    assert nat["label"][0] == ("&amp;" + HOSTILE)[:39] + "…"
    assert "&amp;amp;" in diagram_set({"topology": section}).vpcs[0].svg


# -- verify --------------------------------------------------------------------------------

def test_verify_carries_the_layout_only_for_the_same_graph(demo_doc: dict[str, Any]) -> None:
    recorded = demo_doc
    fresh = {**demo_doc, "topology": {**demo_doc["topology"], "status": "not_drawn", "engine": None,
                                      "reason": "Graphviz 'dot' was not found",
                                      "diagrams": [{k: v for k, v in d.items() if k != "layout"}
                                                   for d in demo_doc["topology"]["diagrams"]]}}
    same = json.loads(json.dumps(fresh))
    carry_layout(same, recorded)
    assert same["topology"] == recorded["topology"]
    # A graph that is not the recorded one (a name changed) keeps its own section.
    other = json.loads(json.dumps(fresh))
    other["topology"]["diagrams"][1]["nodes"][0]["label"][0] = "renamed"
    carry_layout(other, recorded)
    assert other["topology"]["status"] == "not_drawn"
    assert graph_part(other["topology"]) != graph_part(recorded["topology"])
    # carry_places, which verify calls, carries it too.
    via = json.loads(json.dumps(fresh))
    carry_places(via, json.dumps(recorded).encode())
    assert via["topology"] == recorded["topology"]


# -- the reports -----------------------------------------------------------------------------

def test_demo_html_and_pdf_show_the_diagrams(demo_run: DemoRun, demo_doc: dict[str, Any]) -> None:
    page = (demo_run.out / "report.html").read_text(encoding="utf-8")
    scope = page.split('<section id="scope">')[1].split("</section>")[0]
    assert scope.count('<figure class="dg"') == 1 + len(demo_doc["topology"]["diagrams"]) - 1
    assert 'id="failing-paths"' in scope and "PN-014" in scope
    model = build_model(demo_doc, load_packs([]), load_catalogues())
    html = render_html(model, PdfInputs(b"{}"), environ=FIXED)
    section = html.split('<section id="scope">')[1].split("</section>")[0]
    assert section.count('<figure class="netfig">') == len(demo_doc["topology"]["diagrams"])
    text = [" ".join(t.split()) for t in pdf_page_texts(demo_run.out / "report.pdf")]
    first = next(i for i, t in enumerate(text) if "Network diagram Drawn from the model" in t)
    assert "Overview: in-scope VPCs, transit gateways and peering" in text[first]
    rest = " ".join(text[first:first + 6])
    assert "phi-legacy-a" in rest and "VPC phi-records" in rest and "failing path(s) P1" in rest


def test_pdf_bounds_the_vpc_figures() -> None:
    """A large estate: at most PDF_MAX_VPC_FIGURES per-VPC figures (failing ones first), the rest
    listed by name; the HTML draws them all."""
    from auditor.report.diagram import PDF_MAX_VPC_FIGURES

    layout = {"bb": [0, 0, 100, 50], "nodes": {"subnet:s": [50, 25, 60, 20]}, "clusters": {}, "edges": []}
    diagrams = [{"id": "overview", "title": "Overview", "vpc": "", "nodes": [], "clusters": [], "edges": [],
                 "paths": [], "layout": {**layout, "nodes": {}}}]
    for i in range(20):
        diagrams.append({"id": f"vpc-vpc-{i:02d}", "title": f"name-{i:02d} vpc-{i:02d}", "vpc": f"vpc-{i:02d}",
                         "nodes": [{"key": "subnet:s", "kind": "subnet", "id": "s", "label": ["s"], "name": "",
                                    "cluster": "", "outside": False, "link": "s", "findings": {}}],
                         "clusters": [], "edges": [], "paths": [{"n": 1, "nodes": ["subnet:s"]}] if i == 17 else [],
                         "layout": layout})
    shown = diagram_set({"topology": {"status": "drawn", "engine": None, "tiers": "", "diagrams": diagrams,
                                      "paths": [{"n": 1, "fingerprint": "f", "rule_id": "PN-014", "resource": "s",
                                                 "vpc": "vpc-17", "destination": "internet", "family": "ipv4",
                                                 "text": "s → igw"}]}})
    assert len(shown.vpcs) == 20
    assert len(shown.pdf_vpcs) == PDF_MAX_VPC_FIGURES and shown.pdf_vpcs[0].vpc == "vpc-17"
    assert len(shown.pdf_left_out) == 20 - PDF_MAX_VPC_FIGURES
    page = render_html(build_model({**sample_document(), "topology": {
        "version": 1, "status": "drawn", "reason": "", "engine": None, "tiers": "", "diagrams": diagrams,
        "paths": []}}, load_packs([]), load_catalogues()), PdfInputs(b"{}"), environ=FIXED)
    scope = page.split('<section id="scope">')[1].split("</section>")[0]
    assert scope.count('<figure class="netfig">') == 1 + PDF_MAX_VPC_FIGURES
    assert (f"This report draws at most {PDF_MAX_VPC_FIGURES} VPCs (those with failing paths first); the other "
            f"{20 - PDF_MAX_VPC_FIGURES} are drawn in the HTML report") in scope
    assert "name-19 vpc-19" in scope.split("This report draws at most")[1]
    assert render_svg(diagrams[1], max_width=50).startswith('<svg xmlns="http://www.w3.org/2000/svg" '
                                                            'class="netdiagram" viewBox="0.00 0.00 108.00 58.00" '
                                                            'width="50.00" height="26.85"')


def test_verify_without_graphviz_rederives_the_html(demo_run: DemoRun, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`auditor verify` on a machine without Graphviz: the graph is derived again and checked,
    the recorded layout carried, and report.html re-made byte for byte from findings.json.
    A bundle whose diagram graph was changed fails."""
    from auditor.bundle_verify import verify_bundle

    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None
    result = verify_bundle(demo_run.out)
    assert result.ok, result.verdict()
    assert any("report.html" in line and "same bytes" in line for line in result.checked)
    assert any("findings.json: re-evaluating the snapshot" in line for line in result.checked)


def test_verify_refuses_a_changed_diagram(demo_run: DemoRun, tmp_path: Path) -> None:
    from auditor.bundle import sha256_hex
    from auditor.bundle_verify import verify_bundle

    copy = tmp_path / "bundle"
    shutil.copytree(demo_run.out, copy)
    doc = json.loads((copy / "findings.json").read_text(encoding="utf-8"))
    doc["topology"]["diagrams"][1]["nodes"][0]["label"][0] = "not what AWS said"
    text = dumps(doc).encode("utf-8")
    (copy / "findings.json").write_bytes(text)
    listing = json.loads((copy / "bundle.json").read_text(encoding="utf-8"))
    listing["files"]["findings.json"] = sha256_hex(text)   # consistent hashes: only the re-evaluation can tell
    (copy / "bundle.json").write_text(json.dumps(listing, indent=1, sort_keys=True), encoding="utf-8")
    result = verify_bundle(copy)
    assert not result.ok and result.file == "findings.json", result.verdict()
    assert "topology" in result.reason


def test_subnet_tiers_are_decided_by_the_effective_route_table() -> None:
    """public: a route to an internet gateway; private: a route leaving the VPC (NAT gateway);
    isolated: local routes only; unknown: the effective table is not in the model."""
    from auditor.topology import build_graphs

    model, findings = _hostile_model()
    base: dict[str, Any] = {"account": "111111111111", "region": "eu-west-1", "source": SourceRef("r", "/1")}
    iso = RouteTable(id="rtb-3", vpc_id="vpc-1", routes=(
        Route("10.0.0.0/16", "ipv4", ("10.0.0.0/16",), "local", "local", "active"),
        Route("0.0.0.0/0", "ipv4", ("0.0.0.0/0",), "igw", "igw-1", "blackhole")), **base)
    more = (Subnet(id="subnet-3", vpc_id="vpc-1", cidr="10.0.3.0/24", route_table_id="rtb-3",
                   route_table_association="explicit", **base),
            Subnet(id="subnet-4", vpc_id="vpc-1", cidr="10.0.4.0/24", route_table_id=None, **base))
    model = Model(resources={**model.resources, "subnet": model.resources["subnet"] + more,
                             "route_table": model.resources["route_table"] + (iso,)})
    diagrams, paths = build_graphs(model, findings, Scope())
    tiers = {n["id"]: n["cluster"] for n in diagrams[1]["nodes"] if n["kind"] == "subnet"}
    assert tiers == {"subnet-1": "tier:public", "subnet-2": "tier:private", "subnet-3": "tier:isolated",
                     "subnet-4": "tier:unknown"}
    assert [c["key"] for c in diagrams[1]["clusters"]] == ["vpc:vpc-1", "tier:public", "tier:private",
                                                          "tier:isolated", "tier:unknown"]
    # The failing path of subnet-2: NAT gateway (in subnet-1's public tier), internet gateway, internet.
    assert [p["nodes"] for p in diagrams[1]["paths"]] == [["subnet:subnet-2", "nat:nat-1", "igw:igw-1", "internet"]]
    assert [p["rule_id"] for p in paths] == ["PN-014"]
    nat = next(n for n in diagrams[1]["nodes"] if n["kind"] == "nat")
    assert nat["cluster"] == "tier:public"
