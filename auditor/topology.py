"""The network's picture as data: findings.json's ``topology`` section (docs/findings.md).

At scan time, from the model and the findings: one *overview* diagram (the in-scope VPCs,
the transit gateways and peering connections between them and the VPCs they reach) and one
diagram per in-scope VPC (its subnets grouped by tier, its internet, egress-only and NAT
gateways, endpoints, transit gateway attachments and peering connections, and the subnets'
routes to them), with every failing reachability path (a FAIL finding whose evidence lists
internet, on-premises or VPC paths) drawn on them. Each diagram is a graph (nodes, clusters,
edges, paths): a pure function of the model and the findings. Graphviz ``dot`` lays the
graphs out (one process per graph) and its coordinates are recorded with them, so the
reports draw the same picture on any machine, with or without Graphviz
(`auditor.report.diagram`).

A subnet's tier is decided by its effective route table's active routes (the model gives
no tier): ``public`` with a route to an internet gateway (any destination, as rule PN-002
reads it), else ``private`` with a route that leaves the VPC (NAT gateway, transit gateway,
peering, virtual private gateway, egress-only gateway, appliance, ...), else ``isolated``
(local and gateway-endpoint routes only); ``unknown`` when its effective table is not in the
model (never guessed).

Deterministic: everything is sorted by (Name tag, id) before it reaches ``dot``, whose
attributes are fixed; the same model and findings give the same section, byte for byte, on
the same Graphviz. ``auditor verify`` re-derives the graph and carries the recorded layout
only when the graph is the same (`carry_layout`): the coordinates are Graphviz's output on
the scanning machine, not evidence.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from auditor.analyze.reachability import Hop, Path, interface_reachability, subnet_reachability
from auditor.config import Scope
from auditor.findings import Finding
from auditor.model.types import (
    Model, NatGateway, NetworkInterface, Resource, RouteTable, Subnet,
    TransitGatewayAttachment, Vpc, VpcEndpoint, VpcPeering,
)
from auditor.rules.scope import ScopeIndex

__all__ = ["TOPOLOGY_VERSION", "PATH_ATTRIBUTES", "TIERS", "topology_section", "layout_graphs", "carry_layout",
           "graph_part", "dot_source"]

TOPOLOGY_VERSION = 1
# The derived attributes whose FAIL findings are drawn as failing paths.
PATH_ATTRIBUTES = ("internet_egress_paths", "internet_egress_paths_ipv6", "on_premises_paths", "vpc_paths")
TIERS = ("public", "private", "isolated", "unknown")
DOT_TIMEOUT = 120          # seconds for dot to lay out one diagram
_COLUMN = 6               # nodes of one cluster per column before the next column
_LABEL_MAX = 40            # characters of one label line (the whole text is in the node's `name`)
# Route targets that leave the VPC: a subnet with one (and no internet gateway route) is private.
_LEAVES_VPC = frozenset({"nat", "tgw", "pcx", "vgw", "eigw", "instance", "eni", "gwlbe", "carrier", "lgw",
                         "core_network", "odb", "route_server", "unknown"})
# Route targets drawn as edges from a subnet (kind -> node kind).
_DRAWN_TARGETS = {"igw": "igw", "eigw": "eigw", "nat": "nat", "tgw": "tgw", "pcx": "pcx", "vgw": "vgw",
                  "vpce": "vpce", "gwlbe": "vpce", "carrier": "carrier"}
_KIND_WORDS = {"igw": "internet gateway", "eigw": "egress-only internet gateway", "nat": "NAT gateway",
               "tgw": "transit gateway", "pcx": "peering", "vgw": "virtual private gateway", "vpce": "endpoint",
               "carrier": "carrier gateway", "tgw_attachment": "TGW attachment", "subnet": "subnet", "vpc": "VPC",
               "internet": "", "on_premises": ""}
# Fixed Graphviz attributes: the layout depends on nothing else than the graph.
_GRAPH_ATTRS = ('fontname="Helvetica" fontsize=10 nodesep=0.25 ranksep=0.45 splines=true '
                'outputorder=edgesfirst')
_NODE_ATTRS = 'shape=box fontname="Helvetica" fontsize=9 margin="0.08,0.04" height=0.3'
_EDGE_ATTRS = 'fontname="Helvetica" fontsize=8 arrowsize=0.6'
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# -- the graph ---------------------------------------------------------------------------

def _clean(text: str) -> str:
    """One line: control characters become spaces; longer than a label line is cut with …."""
    one = _CONTROL.sub(" ", text)
    return one if len(one) <= _LABEL_MAX else one[:_LABEL_MAX - 1] + "…"


def _name(r: Resource) -> str:
    return _CONTROL.sub(" ", r.tag("Name") or "")


def _order(r: Resource) -> tuple[str, str, str, str]:
    return (_name(r), r.id, r.account, r.region)


@dataclass
class _Diagram:
    """One graph being built: nodes and clusters by key, edges by (tail, head, kind)."""

    id: str
    title: str
    vpc: str = ""
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    paths: list[dict[str, Any]] = field(default_factory=list)

    def node(self, key: str, kind: str, rid: str, lines: Sequence[str], *, cluster: str = "", name: str = "",
             outside: bool = False, link: str = "") -> str:
        if key not in self.nodes:
            self.nodes[key] = {"key": key, "kind": kind, "id": rid, "label": [_clean(x) for x in lines if x],
                               "name": name, "cluster": cluster, "outside": outside, "link": link,
                               "findings": {}}
        return key

    def edge(self, tail: str, head: str, kind: str, label: str = "") -> dict[str, Any]:
        e = self.edges.get((tail, head, kind))
        if e is None:
            e = self.edges[(tail, head, kind)] = {"tail": tail, "head": head, "kind": kind, "labels": [],
                                                  "paths": []}
        if label and label not in e["labels"]:
            e["labels"].append(label)
        return e

    def to_json(self, counts: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
        nodes = []
        for n in self.nodes.values():
            found = counts.get(n["id"], {}) if n["link"] else {}
            nodes.append({**n, "findings": dict(sorted(found.items()))})
        edges = []
        for e in self.edges.values():
            labels = sorted(e["labels"])
            if e["paths"]:
                labels = [_path_label(e["paths"])]
            elif len(labels) > 3:
                labels = [*labels[:2], f"+{len(labels) - 2} more"]
            edges.append({"tail": e["tail"], "head": e["head"], "kind": e["kind"], "label": ", ".join(labels),
                          "paths": sorted(e["paths"])})
        return {"id": self.id, "title": _CONTROL.sub(" ", self.title), "vpc": self.vpc, "nodes": nodes,
                "clusters": list(self.clusters.values()), "edges": edges, "paths": self.paths}


def _path_label(numbers: Iterable[int]) -> str:
    ns = sorted(set(numbers))
    shown = ", ".join(f"P{n}" for n in ns[:3])
    return shown + (f" +{len(ns) - 3}" if len(ns) > 3 else "")


def tier_of(model: Model, subnet: Subnet, tables: Mapping[tuple[str, str, str], RouteTable]) -> str:
    """The subnet's tier by its effective table's active routes (see the module's docstring)."""
    rt = tables.get((subnet.account, subnet.region, subnet.route_table_id or ""))
    if rt is None:
        return "unknown"
    kinds = {r.target_kind for r in rt.routes if r.state != "blackhole"}
    if "igw" in kinds:
        return "public"
    return "private" if kinds & _LEAVES_VPC else "isolated"


class _Builder:
    """Everything the diagrams of one model need, indexed once."""

    def __init__(self, model: Model, scope: Scope):
        self.model = model
        self.index = ScopeIndex(model, scope)
        self.vpcs = sorted((v for v in model.of("vpc") if isinstance(v, Vpc)), key=_order)
        self.in_scope = [v for v in self.vpcs if self.index.in_scope(v)]
        self.tables = {(r.account, r.region, r.id): r for r in model.of("route_table") if isinstance(r, RouteTable)}
        self.by_vpc: dict[str, dict[str, list[Resource]]] = {}
        for type_name in ("subnet", "nat_gateway", "vpc_endpoint"):
            for r in sorted(model.of(type_name), key=_order):
                self.by_vpc.setdefault(getattr(r, "vpc_id", "") or "", {}).setdefault(type_name, []).append(r)
        for type_name in ("internet_gateway", "egress_only_internet_gateway", "vpn_gateway"):
            for r in sorted(model.of(type_name), key=_order):
                for v in getattr(r, "attached_vpc_ids", ()):
                    self.by_vpc.setdefault(v, {}).setdefault(type_name, []).append(r)
        self.attachments = sorted((a for a in model.of("transit_gateway_attachment")
                                   if isinstance(a, TransitGatewayAttachment)), key=_order)
        self.peerings = sorted((p for p in model.of("vpc_peering") if isinstance(p, VpcPeering)), key=_order)
        self.vpc_by_id = {v.id: v for v in self.vpcs}

    def vpc_label(self, vid: str) -> list[str]:
        v = self.vpc_by_id.get(vid)
        if v is None:
            return [vid, "(not in the model)"]
        return [_name(v), vid, ", ".join(v.cidr_blocks), f"{v.account} {v.region}"]

    def named(self, type_name: str, rid: str) -> list[str]:
        r = self.model.get(type_name, rid)
        return [_name(r), rid] if r is not None else [rid]

    def resource_vpc(self, hop: Hop) -> str:
        """The VPC a hop's resource is in ("" when not in the model or not in a VPC)."""
        types = {"subnet": "subnet", "nat": "nat_gateway", "instance": "instance", "eni": "network_interface",
                 "gwlbe": "vpc_endpoint", "igw": "internet_gateway", "eigw": "egress_only_internet_gateway",
                 "carrier": "carrier_gateway", "vgw": "vpn_gateway", "route_table": "route_table"}
        if hop.kind == "vpc":
            return hop.id
        r = self.model.get(types.get(hop.kind, ""), hop.id) if hop.kind in types else None
        if r is None:
            return ""
        vid = getattr(r, "vpc_id", None)
        if vid:
            return str(vid)
        attached = getattr(r, "attached_vpc_ids", ())
        return str(attached[0]) if attached else ""

    # -- one VPC ------------------------------------------------------------------------

    def vpc_diagram(self, vpc: Vpc) -> _Diagram:
        d = _Diagram(f"vpc-{vpc.id}", " ".join(x for x in (_name(vpc), vpc.id) if x), vpc.id)
        own = self.by_vpc.get(vpc.id, {})
        vkey = f"vpc:{vpc.id}"
        d.clusters[vkey] = {"key": vkey, "parent": "", "label": _clean(" ".join(self.vpc_label(vpc.id)[:3])),
                            "kind": "vpc", "link": vpc.id}
        subnets = [s for s in own.get("subnet", []) if isinstance(s, Subnet)]
        tiers = {s.id: tier_of(self.model, s, self.tables) for s in subnets}
        for tier in TIERS:
            if tier in tiers.values():
                d.clusters[f"tier:{tier}"] = {"key": f"tier:{tier}", "parent": vkey, "label": f"{tier} subnets",
                                              "kind": "tier", "link": ""}
        for s in subnets:
            d.node(f"subnet:{s.id}", "subnet", s.id, [_name(s), s.id, s.cidr, s.availability_zone],
                   cluster=f"tier:{tiers[s.id]}", name=_name(s), link=s.id)
        for nat in own.get("nat_gateway", []):
            assert isinstance(nat, NatGateway)
            host = tiers.get(nat.subnet_id)
            d.node(f"nat:{nat.id}", "nat", nat.id, [_name(nat), nat.id, f"NAT {nat.connectivity}"],
                   cluster=f"tier:{host}" if host else vkey, name=_name(nat), link=nat.id)
        endpoints = [e for e in own.get("vpc_endpoint", []) if isinstance(e, VpcEndpoint)]
        if endpoints:
            d.clusters["endpoints"] = {"key": "endpoints", "parent": vkey, "label": "VPC endpoints", "kind": "group",
                                       "link": ""}
        for ep in endpoints:
            d.node(f"vpce:{ep.id}", "vpce", ep.id, [ep.service or ep.service_name, ep.id, ep.endpoint_type],
                   cluster="endpoints", name=_name(ep), link=ep.id)
        for type_name, kind in (("internet_gateway", "igw"), ("egress_only_internet_gateway", "eigw"),
                                ("vpn_gateway", "vgw")):
            for g in own.get(type_name, []):
                d.node(f"{kind}:{g.id}", kind, g.id, [_name(g), g.id, _KIND_WORDS[kind]], name=_name(g), link=g.id)
                if kind in ("igw", "eigw"):
                    d.edge(f"{kind}:{g.id}", d.node("internet", "internet", "", ["Internet"]), "attach")
                else:
                    d.edge(f"{kind}:{g.id}", d.node("on_premises", "on_premises", "", ["On-premises"]), "attach")
        for att in self.attachments:
            if att.resource_type.lower() == "vpc" and att.resource_id == vpc.id:
                akey = d.node(f"tgw_attachment:{att.id}", "tgw_attachment", att.id, [_name(att), att.id,
                              "TGW attachment"], cluster=vkey, name=_name(att), link=att.id)
                tkey = d.node(f"tgw:{att.transit_gateway_id}", "tgw", att.transit_gateway_id,
                              [*self.named("transit_gateway", att.transit_gateway_id), "transit gateway"],
                              link=att.transit_gateway_id)
                d.edge(akey, tkey, "attach")
        for pcx in self.peerings:
            sides = [s for s in (pcx.requester, pcx.accepter) if s is not None]
            if vpc.id not in {s.vpc_id for s in sides}:
                continue
            pkey = d.node(f"pcx:{pcx.id}", "pcx", pcx.id, [_name(pcx), pcx.id, f"peering {pcx.status}"],
                          name=_name(pcx), link=pcx.id)
            for side in sides:
                if side.vpc_id != vpc.id:
                    d.edge(pkey, d.node(f"vpc:{side.vpc_id}", "vpc", side.vpc_id, self.vpc_label(side.vpc_id),
                                        outside=True, link=side.vpc_id), "peer")
        for s in subnets:
            rt = self.tables.get((s.account, s.region, s.route_table_id or ""))
            for route in rt.routes if rt is not None else ():
                drawn = _DRAWN_TARGETS.get(route.target_kind)
                if drawn is None or route.state == "blackhole":
                    continue
                key = f"{drawn}:{route.target_id}"
                if key not in d.nodes:
                    if drawn == "tgw":
                        d.node(key, "tgw", route.target_id, [*self.named("transit_gateway", route.target_id),
                                                             "transit gateway"], link=route.target_id)
                    else:
                        d.node(key, drawn, route.target_id, [route.target_id, _KIND_WORDS[drawn], "(not in this VPC)"],
                               outside=True, link=route.target_id)
                d.edge(f"subnet:{s.id}", key, "route", route.destination)
        return d

    def vpc_path_nodes(self, d: _Diagram, path: Path, source_subnet: str) -> list[str]:
        """The node keys of `d` a path goes through (hops elsewhere become their VPC)."""
        keys = [f"subnet:{source_subnet}"]
        for hop in path.hops:
            key = ""
            if hop.kind in ("igw", "eigw", "nat", "tgw", "pcx", "vgw", "carrier", "gwlbe"):
                kind = "vpce" if hop.kind == "gwlbe" else hop.kind
                if f"{kind}:{hop.id}" in d.nodes:
                    key = f"{kind}:{hop.id}"
            if not key and hop.kind in ("attachment",):
                if hop.label.startswith("vpc-") and hop.label != d.vpc:
                    key = d.node(f"vpc:{hop.label}", "vpc", hop.label, self.vpc_label(hop.label), outside=True,
                                 link=hop.label)
            elif not key and hop.kind not in ("route_table", "tgw_route_table", "subnet", "eni"):
                vid = self.resource_vpc(hop)
                if vid and vid != d.vpc:
                    key = d.node(f"vpc:{vid}", "vpc", vid, self.vpc_label(vid), outside=True, link=vid)
            if key and key != keys[-1]:
                keys.append(key)
        end = _terminal(d, path.destination)
        if end and end != keys[-1]:
            keys.append(end)
        return keys

    # -- the overview ---------------------------------------------------------------------

    def overview(self) -> _Diagram:
        d = _Diagram("overview", "Overview: in-scope VPCs, transit gateways and peering")
        scoped = {v.id for v in self.in_scope}
        for v in self.in_scope:
            d.node(f"vpc:{v.id}", "vpc", v.id, self.vpc_label(v.id), name=_name(v), link=v.id)
        tgws: set[str] = set()
        for att in self.attachments:
            if att.resource_type.lower() == "vpc" and att.resource_id in scoped:
                tgws.add(att.transit_gateway_id)
        for att in self.attachments:
            if att.transit_gateway_id not in tgws:
                continue
            tkey = d.node(f"tgw:{att.transit_gateway_id}", "tgw", att.transit_gateway_id,
                          [*self.named("transit_gateway", att.transit_gateway_id), "transit gateway"],
                          link=att.transit_gateway_id)
            rtype = att.resource_type.lower()
            if rtype == "vpc":
                vkey = d.node(f"vpc:{att.resource_id}", "vpc", att.resource_id, self.vpc_label(att.resource_id),
                              outside=att.resource_id not in scoped, link=att.resource_id)
                d.edge(vkey, tkey, "attach")
            elif rtype in ("vpn", "direct-connect-gateway"):
                d.edge(tkey, d.node("on_premises", "on_premises", "", ["On-premises"]), "attach", rtype)
            elif rtype == "peering":
                d.edge(tkey, d.node(f"tgw:{att.resource_id}", "tgw", att.resource_id,
                                    [*self.named("transit_gateway", att.resource_id), "transit gateway"],
                                    outside=True, link=att.resource_id), "peer", "TGW peering")
        for pcx in self.peerings:
            sides = [s.vpc_id for s in (pcx.requester, pcx.accepter) if s is not None]
            if len(sides) != 2 or not set(sides) & scoped:
                continue
            a, b = (d.node(f"vpc:{v}", "vpc", v, self.vpc_label(v), outside=v not in scoped, link=v) for v in sides)
            d.edge(a, b, "peer", pcx.id)
        return d

    def overview_path_nodes(self, d: _Diagram, path: Path, source_vpc: str) -> list[str]:
        keys = [f"vpc:{source_vpc}"]
        for hop in path.hops:
            key = ""
            if hop.kind == "tgw":
                key = d.node(f"tgw:{hop.id}", "tgw", hop.id, [*self.named("transit_gateway", hop.id),
                                                               "transit gateway"], link=hop.id)
            elif hop.kind == "attachment" and hop.label.startswith("vpc-"):
                key = f"vpc:{hop.label}"
            elif hop.kind not in ("route_table", "tgw_route_table", "attachment", "pcx"):
                vid = self.resource_vpc(hop)
                key = f"vpc:{vid}" if vid else ""
            if key and key not in d.nodes and key.startswith("vpc:"):
                vid = key[4:]
                d.node(key, "vpc", vid, self.vpc_label(vid), outside=True, link=vid)
            if key and key != keys[-1]:
                keys.append(key)
        end = _terminal(d, path.destination)
        if end and end != keys[-1]:
            keys.append(end)
        return keys


def _terminal(d: _Diagram, destination: str) -> str:
    if destination == "internet":
        return d.node("internet", "internet", "", ["Internet"])
    if destination == "on_premises":
        return d.node("on_premises", "on_premises", "", ["On-premises"])
    return ""


def _failing_paths(model: Model, findings: Iterable[Finding]) -> list[tuple[Finding, Resource, Path]]:
    """Every (finding, source subnet or interface, path) of a FAIL finding on a path attribute."""
    out: list[tuple[Finding, Resource, Path]] = []
    for f in findings:
        if f.status != "FAIL" or f.resource.type not in ("subnet", "network_interface"):
            continue
        texts: set[str] = set()
        for e in f.evidence:
            if e.path.rsplit(".", 1)[-1] in PATH_ATTRIBUTES and e.holds is False and isinstance(e.observed,
                                                                                              (list, tuple)):
                texts.update(str(x) for x in e.observed)
        if not texts:
            continue
        r = model.get(f.resource.type, f.resource.id, f.resource.account, f.resource.region)
        if isinstance(r, Subnet):
            reach = subnet_reachability(model, r)
        elif isinstance(r, NetworkInterface):
            reach = interface_reachability(model, r)
        else:
            continue
        out.extend((f, r, p) for p in reach.paths if p.text in texts)
    return out


def _counts(findings: Iterable[Finding]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for f in findings:
        per = out.setdefault(f.resource.id, {})
        per[f.status] = per.get(f.status, 0) + 1
    return out


def build_graphs(model: Model, findings: Sequence[Finding], scope: Scope) -> tuple[list[dict[str, Any]],
                                                                                     list[dict[str, Any]]]:
    """The diagrams (overview first, then one per in-scope VPC by Name tag and id) and the
    failing paths (numbered P1, P2, ... in finding order), as JSON data without layout."""
    b = _Builder(model, scope)
    overview = b.overview()
    per_vpc = {v.id: b.vpc_diagram(v) for v in b.in_scope}
    paths: list[dict[str, Any]] = []
    for n, (f, source, path) in enumerate(_failing_paths(model, findings), start=1):
        subnet_id = source.id if isinstance(source, Subnet) else getattr(source, "subnet_id", "")
        vpc_id = getattr(source, "vpc_id", "")
        entry = {"n": n, "fingerprint": f.fingerprint, "rule_id": f.rule_id, "resource": f.resource.id,
                 "vpc": vpc_id, "destination": path.destination, "family": path.family,
                 "text": _CONTROL.sub(" ", path.text)}
        paths.append(entry)
        diagrams: list[tuple[_Diagram, list[str]]] = [(overview, b.overview_path_nodes(overview, path, vpc_id))]
        if vpc_id in per_vpc and f"subnet:{subnet_id}" in per_vpc[vpc_id].nodes:
            d = per_vpc[vpc_id]
            diagrams.append((d, b.vpc_path_nodes(d, path, subnet_id)))
        for d, keys in diagrams:
            if keys[0] not in d.nodes:
                continue
            d.paths.append({"n": n, "nodes": keys})
            for tail, head in zip(keys, keys[1:], strict=False):
                d.edge(tail, head, "path")["paths"].append(n)
    counts = _counts(findings)
    return [d.to_json(counts) for d in (overview, *per_vpc.values())], paths


# -- the layout ----------------------------------------------------------------------------

def _q(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, so no escape of dot's
    (\\N, \\G, \\l ...) and no quote in AWS's names reaches it."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(lines: Sequence[str]) -> str:
    return '"' + "\\n".join(x.replace("\\", "\\\\").replace('"', '\\"') for x in lines) + '"'


def dot_source(diagram: Mapping[str, Any]) -> str:
    """The DOT text of one diagram: nodes in clusters, in the diagram's order, fixed attributes."""
    out = [f"digraph {_q(diagram['id'])} {{", f"graph [{_GRAPH_ATTRS} rankdir=LR];", f"node [{_NODE_ATTRS}];",
           f"edge [{_EDGE_ATTRS}];"]
    children: dict[str, list[Mapping[str, Any]]] = {}
    for c in diagram["clusters"]:
        children.setdefault(c["parent"], []).append(c)
    members: dict[str, list[Mapping[str, Any]]] = {}
    for n in diagram["nodes"]:
        members.setdefault(n["cluster"], []).append(n)

    def emit(cluster: str, depth: int) -> None:
        pad = "  " * depth
        inside = members.get(cluster, [])
        for n in inside:
            out.append(f"{pad}{_q(n['key'])} [label={_label(n['label'] or [n['key']])}];")
        # A long column of subnets or endpoints is folded into columns of _COLUMN (invisible
        # edges, not in the diagram's edges: they only place the nodes).
        for a, b in zip(inside if cluster else [], inside[_COLUMN:], strict=False):
            out.append(f"{pad}{_q(a['key'])} -> {_q(b['key'])} [style=invis];")
        for c in children.get(cluster, []):
            out.append(f"{pad}subgraph {_q('cluster_' + c['key'])} {{ label={_q(c['label'])};")
            emit(c["key"], depth + 1)
            out.append(f"{pad}}}")
    emit("", 1)
    for i, e in enumerate(diagram["edges"]):
        attrs = f"id=e{i}" + (f" label={_q(e['label'])}" if e["label"] else "")
        if e["kind"] == "path":
            attrs += " constraint=false penwidth=2"
        out.append(f"  {_q(e['tail'])} -> {_q(e['head'])} [{attrs}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _point(text: str) -> list[float]:
    x, y = text.split(",")[:2]
    return [round(float(x), 2), round(float(y), 2)]


def _parse_layout(graph: Mapping[str, Any], diagram: Mapping[str, Any]) -> dict[str, Any]:
    """Coordinates of one diagram from dot's ``-Tjson0`` output (points, origin bottom left)."""
    x0, y0, x1, y1 = (round(float(v), 2) for v in str(graph["bb"]).split(","))
    nodes: dict[str, list[float]] = {}
    clusters: dict[str, list[float]] = {}
    names: list[str] = []
    for obj in graph.get("objects", []):
        name = str(obj.get("name", ""))
        names.append(name)
        if "nodes" in obj or name.startswith("cluster_"):
            if "bb" in obj:
                clusters[name[len("cluster_"):]] = [round(float(v), 2) for v in str(obj["bb"]).split(",")]
        elif "pos" in obj:
            nodes[name] = [*_point(str(obj["pos"])), round(float(obj["width"]) * 72, 2),
                           round(float(obj["height"]) * 72, 2)]
    edges: list[dict[str, Any]] = []
    # Edges by the id each was given (dot lists them in its own order).
    raw = sorted((e for e in graph.get("edges", []) if str(e.get("id", "")).startswith("e")),
                 key=lambda e: int(str(e["id"])[1:]))
    for e in raw:
        points: list[list[float]] = []
        arrow: list[float] | None = None
        for part in str(e.get("pos", "")).split():
            if part.startswith("e,"):
                arrow = _point(part[2:])
            elif part.startswith("s,"):
                continue
            else:
                points.append(_point(part))
        edges.append({"points": points, "arrow": arrow, "label": _point(str(e["lp"])) if "lp" in e else None})
    missing = [n["key"] for n in diagram["nodes"] if n["key"] not in nodes]
    if missing or len(edges) != len(diagram["edges"]):
        raise ValueError(f"dot's layout of {diagram['id']} does not match its graph "
                         f"({len(missing)} node(s) missing, {len(edges)} of {len(diagram['edges'])} edges)")
    return {"bb": [x0, y0, x1, y1], "nodes": nodes, "clusters": clusters, "edges": edges}


def _dot_version(dot: str) -> str:
    done = subprocess.run([dot, "-V"], capture_output=True, text=True, timeout=30, check=False)
    found = re.search(r"version\s+(\S+)", done.stderr + done.stdout)
    return found.group(1) if found else "unknown"


def _layout_one(exe: str, diagram: Mapping[str, Any]) -> dict[str, Any] | str:
    """One diagram's layout from its own ``dot -Tjson0`` process, or why there is none.
    One process per graph: Graphviz 2.43 given several graphs in one input lays them out
    differently from run to run and may abort (double free)."""
    try:
        done = subprocess.run([exe, "-Tjson0"], input=dot_source(diagram).encode("utf-8"), capture_output=True,
                              timeout=DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return f"Graphviz dot did not lay out {diagram['id']} within {DOT_TIMEOUT} s"
    except OSError as exc:
        return f"Graphviz dot could not be run: {exc}"
    if done.returncode != 0:
        first = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        return (f"Graphviz dot failed on {diagram['id']} (exit {done.returncode}): "
                f"{first[0] if first else 'no message'}")
    try:
        return _parse_layout(json.loads(done.stdout.decode("utf-8", "replace")), diagram)
    except (ValueError, KeyError, TypeError) as exc:
        return f"Graphviz dot's layout of {diagram['id']} could not be read: {exc}"


def layout_graphs(diagrams: Sequence[dict[str, Any]], *, dot: str | None = "dot") -> dict[str, Any]:
    """Lay every diagram out with ``dot -Tjson0`` (one process per diagram, four at once per
    core) and put each one's coordinates in its ``layout``. Returns the
    section's status fields: ``{"status": "drawn", "engine": {...}}``, or ``{"status":
    "not_drawn", "reason": ...}`` (Graphviz missing, failed, timed out, or gave a layout that
    does not match the graph: the first diagram's reason), never an exception; then no
    diagram has a layout."""
    exe = shutil.which(dot) if dot else None
    if exe is None:
        return {"status": "not_drawn", "reason": f"Graphviz {dot or 'dot'!r} was not found on the PATH at scan time "
                                                 "(install the Debian package graphviz and scan again)"}
    if not diagrams:
        return {"status": "not_drawn", "reason": "no in-scope VPC in the model: nothing to draw"}
    try:
        version = _dot_version(exe)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"status": "not_drawn", "reason": f"Graphviz dot could not be run: {exc}"}
    # Several per core: each process spends much of its short life starting (loading plugins).
    with ThreadPoolExecutor(max_workers=min(16, 4 * (os.cpu_count() or 1))) as pool:
        layouts = list(pool.map(lambda d: _layout_one(exe, d), diagrams))
    for found in layouts:
        if isinstance(found, str):
            return {"status": "not_drawn", "reason": found}
    for d, layout in zip(diagrams, layouts, strict=True):
        d["layout"] = layout
    return {"status": "drawn", "engine": {"name": "graphviz dot", "version": version, "format": "json0"}}


def topology_section(model: Model, findings: Sequence[Finding], scope: Scope, *,
                     dot: str | None = "dot") -> dict[str, Any]:
    """findings.json's ``topology``: the diagrams with their layout, the failing paths, and
    whether Graphviz drew them (``status``; ``reason`` when not)."""
    diagrams, paths = build_graphs(model, findings, scope)
    if len(diagrams) == 1 and not diagrams[0]["nodes"]:
        diagrams = []
    status = layout_graphs(diagrams, dot=dot)
    return {"version": TOPOLOGY_VERSION, "reason": "", "engine": None, **status,
            "tiers": "by each subnet's effective route table: public (a route to an internet gateway), private "
                     "(a route leaving the VPC), isolated (local and endpoint routes only), unknown (table not in "
                     "the model)",
            "diagrams": diagrams, "paths": paths}


# -- auditor verify -----------------------------------------------------------------------

_LAYOUT_KEYS = ("status", "reason", "engine")


def graph_part(section: Mapping[str, Any]) -> Any:
    """The section without what Graphviz contributed (status, engine, each diagram's layout)."""
    out = {k: v for k, v in section.items() if k not in _LAYOUT_KEYS}
    out["diagrams"] = [{k: v for k, v in d.items() if k != "layout"} for d in section.get("diagrams", [])
                       if isinstance(d, Mapping)]
    return out


def carry_layout(document: dict[str, Any], recorded: Mapping[str, Any]) -> None:
    """Give a re-evaluated `document` (``auditor verify``) the layout the `recorded`
    findings.json holds, when the graph it was laid out for is the same as the one derived
    again: the coordinates are Graphviz's output on the scanning machine (another version, or
    none, lays out otherwise), the graph is evidence and is checked. A different graph
    changes nothing (the comparison then says what differs)."""
    fresh = document.get("topology")
    old = recorded.get("topology")
    if not isinstance(fresh, dict) or not isinstance(old, dict) or not isinstance(old.get("diagrams"), list):
        return
    try:
        same = json.dumps(graph_part(fresh), sort_keys=True) == json.dumps(graph_part(old), sort_keys=True)
    except (TypeError, ValueError):
        return
    if same:
        document["topology"] = old
