#!/usr/bin/env python
"""Network diagram benchmark: layout and SVG of 200 VPCs with 10 transit gateways.

    .venv/bin/python benchmarks/diagram_bench.py [--vpcs 200] [--tgws 10] [--subnets 6]

No emulator and no AWS records: the model is built directly from the model's dataclasses
(not measured). Each VPC has `--subnets` subnets (a third public: a route to the VPC's
internet gateway; a third private: 0.0.0.0/0 to its NAT gateway and 10.0.0.0/8 to its
transit gateway; a third isolated), an internet gateway, a NAT gateway in its first public
subnet, an S3 gateway endpoint and two interface endpoints, and a transit gateway attachment
to one of `--tgws` transit gateways (round robin); every tenth VPC peers with the next one.
Every private subnet has a FAIL finding (rule PN-014) listing its internet paths, as the
analyzer finds them on this model.

Measured, in this order: `build_graphs` (the graph from model and findings), `layout_graphs`
(one `dot` call), the SVG of every diagram (`auditor.report.diagram.diagram_set`, as the
HTML report draws them); then the same again, to check that the bytes are the same. The
CPU seconds the dot processes used and the machine's load are printed: the layout's wall
time depends on how busy the cores are. The
acceptance bound (issue 13) is 10 s for layout and SVG. It prints seconds, bytes (the
topology section as JSON, the SVG) and the numbers of nodes, edges and failing paths.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auditor.config import Scope  # noqa: E402
from auditor.findings import EvidenceItem, Finding, ResourceRef  # noqa: E402
from auditor.model.types import (  # noqa: E402
    InternetGateway, Model, NatGateway, Resource, Route, RouteTable, SourceRef, Subnet, TransitGateway,
    TransitGatewayAttachment, Vpc, VpcEndpoint, VpcPeering, PeeringSide,
)
from auditor.analyze.reachability import subnet_reachability  # noqa: E402

ACCOUNT, REGION = "111111111111", "eu-west-1"


def _src(n: int) -> SourceRef:
    return SourceRef("records/bench.json", f"/items/{n}")


def _route(dest: str, kind: str, target: str) -> Route:
    return Route(dest, "ipv4", (dest,), kind, target, "active")


def estate(vpcs: int, tgws: int, subnets: int) -> tuple[Model, list[Finding]]:
    """The synthetic model and its findings (see the module's docstring)."""
    out: dict[str, list[Resource]] = {}
    n = 0

    def add(r: Resource) -> None:
        out.setdefault(r.type_name, []).append(r)

    def ref() -> SourceRef:
        nonlocal n
        n += 1
        return _src(n)

    base = {"account": ACCOUNT, "region": REGION}
    for t in range(tgws):
        add(TransitGateway(id=f"tgw-{t:04d}", source=ref(), tags=(("Name", f"tgw-{t}"),), **base))
    for v in range(vpcs):
        vid, tgw = f"vpc-{v:05d}", f"tgw-{v % tgws:04d}"
        add(Vpc(id=vid, source=ref(), tags=(("Name", f"vpc-{v}"),), cidr_blocks=(f"10.{v // 250}.{v % 250}.0/24",),
                state="available", **base))
        igw, nat, s3 = f"igw-{v:05d}", f"nat-{v:05d}", f"vpce-s3-{v:05d}"
        add(InternetGateway(id=igw, source=ref(), attached_vpc_ids=(vid,), **base))
        rt_pub = RouteTable(id=f"rtb-pub-{v:05d}", source=ref(), vpc_id=vid, routes=(
            _route(f"10.{v // 250}.{v % 250}.0/24", "local", "local"), _route("0.0.0.0/0", "igw", igw)), **base)
        rt_priv = RouteTable(id=f"rtb-priv-{v:05d}", source=ref(), vpc_id=vid, routes=(
            _route(f"10.{v // 250}.{v % 250}.0/24", "local", "local"), _route("0.0.0.0/0", "nat", nat),
            _route("10.0.0.0/8", "tgw", tgw)), **base)
        rt_iso = RouteTable(id=f"rtb-iso-{v:05d}", source=ref(), vpc_id=vid, is_main=True, routes=(
            _route(f"10.{v // 250}.{v % 250}.0/24", "local", "local"), _route("pl-s3", "vpce", s3)), **base)
        tables = (rt_pub, rt_priv, rt_iso)
        for s in range(subnets):
            rt = tables[s % 3]
            add(Subnet(id=f"subnet-{v:05d}-{s}", source=ref(), tags=(("Name", f"{rt.id[4:8]}-{s}"),), vpc_id=vid,
                       cidr=f"10.{v // 250}.{v % 250}.{s * 16}/28", availability_zone=f"{REGION}{'abc'[s % 3]}",
                       route_table_id=rt.id, route_table_association="explicit", **base))
        for rt in tables:
            add(rt)
        add(NatGateway(id=nat, source=ref(), vpc_id=vid, subnet_id=f"subnet-{v:05d}-0", state="available", **base))
        add(VpcEndpoint(id=s3, source=ref(), vpc_id=vid, service="s3", endpoint_type="Gateway", **base))
        for e in ("sts", "kms"):
            add(VpcEndpoint(id=f"vpce-{e}-{v:05d}", source=ref(), vpc_id=vid, service=e, endpoint_type="Interface",
                            **base))
        add(TransitGatewayAttachment(id=f"tgw-attach-{v:05d}", source=ref(), transit_gateway_id=tgw,
                                     resource_type="vpc", resource_id=vid, state="available",
                                     subnet_ids=(f"subnet-{v:05d}-2",), **base))
        if v % 10 == 0 and v + 1 < vpcs:
            add(VpcPeering(id=f"pcx-{v:05d}", source=ref(), status="active", **base,
                           requester=PeeringSide(vid, ACCOUNT, REGION, (), ()),
                           accepter=PeeringSide(f"vpc-{v + 1:05d}", ACCOUNT, REGION, (), ())))
    model = Model(resources={k: tuple(v) for k, v in out.items()})
    findings = []
    for s in model.of("subnet"):
        assert isinstance(s, Subnet)
        texts = [p.text for p in subnet_reachability(model, s).of("internet")]
        if s.route_table_id and s.route_table_id.startswith("rtb-priv") and texts:
            findings.append(Finding("PN-014", "critical", "FAIL", ResourceRef("subnet", s.id, ACCOUNT, REGION,
                                                                             vpc_id=s.vpc_id),
                                    f"Subnet {s.id} reaches the internet",
                                    (EvidenceItem("internet_egress_paths", texts, "empty", False),)))
    return model, findings


def main() -> int:
    from auditor.report.diagram import diagram_set
    from auditor.topology import build_graphs, layout_graphs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--vpcs", type=int, default=200)
    ap.add_argument("--tgws", type=int, default=10)
    ap.add_argument("--subnets", type=int, default=6)
    args = ap.parse_args()
    model, findings = estate(args.vpcs, args.tgws, args.subnets)
    digests = []
    for run in (1, 2):
        t0 = time.perf_counter()
        diagrams, paths = build_graphs(model, findings, Scope())
        t1 = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        status = layout_graphs(diagrams)
        t2 = time.perf_counter()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        dot_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if status["status"] != "drawn":
            print(f"not drawn: {status['reason']}")
            return 1
        section = {"version": 1, "reason": "", **status, "tiers": "", "diagrams": diagrams, "paths": paths}
        drawn = diagram_set({"topology": section})
        svg = "".join(f.svg for f in ([drawn.overview] if drawn.overview else []) + list(drawn.vpcs))
        t3 = time.perf_counter()
        text = json.dumps(section, sort_keys=True)
        digests.append(hashlib.sha256((text + svg).encode()).hexdigest())
        nodes = sum(len(d["nodes"]) for d in diagrams)
        edges = sum(len(d["edges"]) for d in diagrams)
        print(f"run {run}: {args.vpcs} VPCs, {args.tgws} TGWs: {len(diagrams)} diagrams, {nodes} nodes, {edges} edges, "
              f"{len(paths)} failing paths; graph {t1 - t0:.2f} s, layout (dot {status['engine']['version']}) "
              f"{t2 - t1:.2f} s ({dot_cpu:.2f} s CPU in dot), SVG {t3 - t2:.2f} s; layout + SVG {t3 - t1:.2f} s (bound 10 s); "
              f"section {len(text):,} bytes, SVG {len(svg.encode()):,} bytes")
    print("same bytes both runs:", digests[0] == digests[1], f"; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    return 0 if digests[0] == digests[1] else 1


if __name__ == "__main__":
    sys.exit(main())
