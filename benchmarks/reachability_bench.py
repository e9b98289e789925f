#!/usr/bin/env python
"""Reachability benchmark: every subnet's paths on a generated hub-and-spoke estate.

    .venv/bin/python benchmarks/reachability_bench.py [--scales 0.25,0.5,1] [--json FILE]

No emulator: the estate is written as the AWS API responses the collector records
(`CallRecord`s, at most 1000 items per page, every other catalogued call recorded as an
empty success) and `build_model` turns them into the model. At scale 1 it has 10,000
subnets, 2,000 route tables, 200 transit gateway attachments and 500 VPC peerings:

- 2 regions; in each a transit gateway and 100 VPCs (99 spokes and a central egress VPC),
  each with 50 subnets and 10 route tables (the main table and 9 explicit ones, 5 subnets
  each), every VPC attached to the region's transit gateway (its first two subnets);
- spoke tables: the local route, the S3 prefix list to a gateway endpoint, 0.0.0.0/0 to the
  transit gateway (two tables in ten send only 10.0.0.0/8 there), a route per peering of the
  VPC; every tenth spoke has a virtual private gateway route, every twentieth an internet
  gateway (one public table) and a NAT gateway (one table routes through it);
- transit gateway route tables: a full mesh segment (a quarter of the spokes: a route to
  every VPC, 0.0.0.0/0 to the egress VPC), an isolated segment (0.0.0.0/0 to the egress
  VPC, 10.0.0.0/8 blackhole, a route to a shared-services spoke) and the egress VPC's table
  (a route back to every spoke);
- the egress VPC: its attachment subnets' table sends 0.0.0.0/0 to a NAT gateway and
  10.0.0.0/8 back to the transit gateway; the NAT gateway's subnet table goes to the
  internet gateway;
- 250 peerings per region between random spoke pairs (fixed seed), routed both ways.

Scale s keeps the shape with s x the VPCs (at least 4 per region) and s x the peerings.

Each scale runs in a fresh Python process: generate the records (not measured),
`build_model` (measured), then `subnet_reachability` for every subnet (measured: the
figure the target is about, <= 5 s at scale 1), then the same again (cached). Peak RSS:
after the build, the high-water mark is reset (/proc/self/clear_refs) so the analysis's
own peak is measured; the process's whole-life peak is printed too. It prints the counts,
the paths found by destination, indeterminate and loops (none expected: coverage is
complete), time per subnet, the analyzer's cached states, and growth between scales.
"""

from __future__ import annotations

import argparse
import itertools
import gc
import json
import os
import platform
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peak import RESULT_TAG, reset_peak, run_script_worker, status_kib  # noqa: E402  (shared by the benchmarks)

PAGE_SIZE = 1000
ACCOUNT = "111111111111"
REGIONS = ("eu-west-1", "eu-central-1")
VPCS_PER_REGION = 100          # at scale 1: 99 spokes + the egress VPC
SUBNETS_PER_VPC = 50
TABLES_PER_VPC = 10
PEERINGS_PER_REGION = 250
TARGET_S = 5.0
EGRESS_X = 200                 # the egress VPC is 10.200.0.0/16 in every region


class _Region:
    """The API responses of one region, item by item."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.lists: dict[tuple[str, str], list[Any]] = {}   # (operation, response key) -> items
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []  # operation, params, page

    def add(self, op: str, key: str, item: Any) -> None:
        self.lists.setdefault((op, key), []).append(item)

    def call(self, op: str, params: dict[str, Any], page: dict[str, Any]) -> None:
        self.calls.append((op, params, page))

    def records(self) -> Iterator[Any]:
        from auditor.collect.catalog import CATALOG
        from auditor.snapshot.records import CallRecord

        made: set[tuple[str, str]] = set()
        for (op, key), items in self.lists.items():
            pages = [items[i:i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)]
            yield CallRecord(ACCOUNT, self.region, "ec2", op, {},
                             tuple({key: p, **({"NextToken": f"page-{n + 1}"} if n + 1 < len(pages) else {})}
                                   for n, p in enumerate(pages)))
            made.add(("ec2", op))
        for op, params, page in self.calls:
            yield CallRecord(ACCOUNT, self.region, "ec2", op, params, (page,))
            made.add(("ec2", op))
        for spec in CATALOG:
            if (spec.service, spec.operation) not in made:
                yield CallRecord(ACCOUNT, self.region, spec.service, spec.operation, {}, ({},))


def _route(dest: str, **target: str) -> dict[str, Any]:
    key = "DestinationPrefixListId" if dest.startswith("pl-") else "DestinationCidrBlock"
    return {key: dest, "State": "active", "Origin": "CreateRoute", **target}


def _tgw_route(dest: str, attachment: str | None) -> dict[str, Any]:
    if attachment is None:
        return {"DestinationCidrBlock": dest, "Type": "static", "State": "blackhole"}
    return {"DestinationCidrBlock": dest, "Type": "propagated", "State": "active",
            "TransitGatewayAttachments": [{"TransitGatewayAttachmentId": attachment, "ResourceType": "vpc"}]}


def _region(r: int, region: str, vpcs: int, peerings: int) -> _Region:
    """One region's estate: `vpcs` VPCs (the last is the egress VPC), `peerings` peerings."""
    reg = _Region(region)
    p = f"{r}"
    tgw = f"tgw-{p}"
    rtb_mesh, rtb_isolated, rtb_egress = f"tgw-rtb-{p}-mesh", f"tgw-rtb-{p}-isolated", f"tgw-rtb-{p}-egress"
    s3, s3_endpoint = f"pl-{p}-s3", f"vpce-{p}-s3"
    reg.add("DescribeManagedPrefixLists", "PrefixLists",
            {"PrefixListId": s3, "AddressFamily": "IPv4", "PrefixListName": f"com.amazonaws.{region}.s3"})
    reg.call("GetManagedPrefixListEntries", {"PrefixListId": s3},
             {"Entries": [{"Cidr": "52.218.0.0/17"}, {"Cidr": "3.5.0.0/19"}]})
    reg.add("DescribeTransitGateways", "TransitGateways", {"TransitGatewayId": tgw, "State": "available"})
    for t in (rtb_mesh, rtb_isolated, rtb_egress):
        reg.add("DescribeTransitGatewayRouteTables", "TransitGatewayRouteTables",
                {"TransitGatewayRouteTableId": t, "TransitGatewayId": tgw, "State": "available"})

    spokes = list(range(1, vpcs))           # 10.x.0.0/16, x = 1 .. vpcs-1
    rng = random.Random(1000 + r)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < min(peerings, len(spokes) * (len(spokes) - 1) // 2):
        a, b = sorted(rng.sample(spokes, 2))
        pairs.add((a, b))
    peers: dict[int, list[tuple[int, str]]] = {x: [] for x in spokes}
    for n, (a, b) in enumerate(sorted(pairs)):
        pcx = f"pcx-{p}-{n}"
        peers[a].append((b, pcx))
        peers[b].append((a, pcx))
        side = lambda x: {"VpcId": f"vpc-{p}-{x}", "OwnerId": ACCOUNT, "Region": region,  # noqa: E731
                          "CidrBlock": f"10.{x}.0.0/16", "CidrBlockSet": [{"CidrBlock": f"10.{x}.0.0/16"}]}
        reg.add("DescribeVpcPeeringConnections", "VpcPeeringConnections", {
            "VpcPeeringConnectionId": pcx, "Status": {"Code": "active"},
            "RequesterVpcInfo": side(a), "AccepterVpcInfo": side(b)})

    mesh: list[dict[str, Any]] = []
    back: list[dict[str, Any]] = []
    associations: dict[str, list[str]] = {rtb_mesh: [], rtb_isolated: [], rtb_egress: []}
    shared_services = spokes[0]
    for x in [*spokes, EGRESS_X]:
        vpc, cidr = f"vpc-{p}-{x}", f"10.{x}.0.0/16"
        egress = x == EGRESS_X
        reg.add("DescribeVpcs", "Vpcs", {"VpcId": vpc, "CidrBlock": cidr, "State": "available"})
        subnets = [f"subnet-{p}-{x}-{j}" for j in range(SUBNETS_PER_VPC)]
        for j, sid in enumerate(subnets):
            reg.add("DescribeSubnets", "Subnets", {"SubnetId": sid, "VpcId": vpc, "CidrBlock": f"10.{x}.{j}.0/24",
                                                   "AvailabilityZone": f"{region}{'abc'[j % 3]}"})
        att = f"tgw-attach-{p}-{x}"
        table = rtb_egress if egress else rtb_mesh if x % 4 == 0 else rtb_isolated
        associations[table].append(att)
        reg.add("DescribeTransitGatewayAttachments", "TransitGatewayAttachments", {
            "TransitGatewayAttachmentId": att, "TransitGatewayId": tgw, "ResourceType": "vpc", "ResourceId": vpc,
            "State": "available", "Association": {"TransitGatewayRouteTableId": table, "State": "associated"}})
        reg.add("DescribeTransitGatewayVpcAttachments", "TransitGatewayVpcAttachments",
                {"TransitGatewayAttachmentId": att, "TransitGatewayId": tgw, "VpcId": vpc, "SubnetIds": subnets[:3]})
        mesh.append(_tgw_route(cidr, att))
        if not egress:
            back.append(_tgw_route(cidr, att))
        local = {"DestinationCidrBlock": cidr, "GatewayId": "local", "State": "active", "Origin": "CreateRouteTable"}
        tables: list[list[dict[str, Any]]] = []
        igw, nat = f"igw-{p}-{x}", f"nat-{p}-{x}"
        if egress:
            reg.add("DescribeInternetGateways", "InternetGateways",
                    {"InternetGatewayId": igw, "Attachments": [{"VpcId": vpc, "State": "available"}]})
            reg.add("DescribeNatGateways", "NatGateways", {"NatGatewayId": nat, "VpcId": vpc, "SubnetId": subnets[5],
                                                           "State": "available", "ConnectivityType": "public"})
            to_tgw = _route("10.0.0.0/8", TransitGatewayId=tgw)
            tables.append([local, to_tgw])                                         # main: attachment subnets
            tables[0].append(_route("0.0.0.0/0", NatGatewayId=nat))
            tables += [[local, to_tgw, _route("0.0.0.0/0", GatewayId=igw)] for _ in range(TABLES_PER_VPC - 1)]
        else:
            public = x % 20 == 7
            if public:
                reg.add("DescribeInternetGateways", "InternetGateways",
                        {"InternetGatewayId": igw, "Attachments": [{"VpcId": vpc, "State": "available"}]})
                reg.add("DescribeNatGateways", "NatGateways", {
                    "NatGatewayId": nat, "VpcId": vpc, "SubnetId": subnets[-1], "State": "available"})
            peering = [_route(f"10.{y}.0.0/16", VpcPeeringConnectionId=pcx) for y, pcx in peers[x]]
            for k in range(TABLES_PER_VPC):
                routes = [local, _route(s3, GatewayId=s3_endpoint), *peering]
                if public and k == TABLES_PER_VPC - 1:
                    routes.append(_route("0.0.0.0/0", GatewayId=igw))
                elif public and k == 1:
                    routes.append(_route("0.0.0.0/0", NatGatewayId=nat))
                elif k >= TABLES_PER_VPC - 2:
                    routes.append(_route("10.0.0.0/8", TransitGatewayId=tgw))
                else:
                    routes.append(_route("0.0.0.0/0", TransitGatewayId=tgw))
                if x % 10 == 3:
                    routes.append(_route("192.168.0.0/16", GatewayId=f"vgw-{p}-{x}"))
                tables.append(routes)
            if x % 10 == 3:
                reg.add("DescribeVpnGateways", "VpnGateways", {
                    "VpnGatewayId": f"vgw-{p}-{x}", "State": "available",
                    "VpcAttachments": [{"VpcId": vpc, "State": "attached"}]})
        per_table = (SUBNETS_PER_VPC - 5) // (TABLES_PER_VPC - 1)
        for k, routes in enumerate(tables):
            assoc: list[dict[str, Any]] = [{"Main": True}] if k == 0 else [
                {"SubnetId": s} for s in subnets[5 + (k - 1) * per_table:5 + k * per_table]]
            reg.add("DescribeRouteTables", "RouteTables",
                    {"RouteTableId": f"rtb-{p}-{x}-{k}", "VpcId": vpc, "Associations": assoc, "Routes": routes})
        if not egress:
            reg.add("DescribeVpcEndpoints", "VpcEndpoints", {
                "VpcEndpointId": f"{s3_endpoint}-{x}", "VpcId": vpc, "VpcEndpointType": "Gateway",
                "ServiceName": f"com.amazonaws.{region}.s3", "State": "available"})
    reg.add("DescribeVpcEndpoints", "VpcEndpoints", {
        "VpcEndpointId": s3_endpoint, "VpcId": f"vpc-{p}-{spokes[0]}", "VpcEndpointType": "Gateway",
        "ServiceName": f"com.amazonaws.{region}.s3", "State": "available"})
    egress_att = f"tgw-attach-{p}-{EGRESS_X}"
    tgw_routes = {
        rtb_mesh: [*mesh, _tgw_route("0.0.0.0/0", egress_att)],
        rtb_isolated: [_tgw_route("0.0.0.0/0", egress_att), _tgw_route("10.0.0.0/8", None),
                       _tgw_route(f"10.{shared_services}.0.0/16", f"tgw-attach-{p}-{shared_services}")],
        rtb_egress: back}
    for t, rs in tgw_routes.items():
        reg.call("SearchTransitGatewayRoutes", {"TransitGatewayRouteTableId": t},
                 {"Routes": rs, "AdditionalRoutesAvailable": False})
        reg.call("GetTransitGatewayRouteTableAssociations", {"TransitGatewayRouteTableId": t},
                 {"Associations": [{"TransitGatewayAttachmentId": a, "ResourceType": "vpc", "State": "associated"}
                                   for a in associations[t]]})
    return reg


def generate_records(scale: float) -> list[Any]:
    """The call records of the estate at `scale` (see the module doc)."""
    vpcs = max(4, round(VPCS_PER_REGION * scale))
    peerings = max(1, round(PEERINGS_PER_REGION * scale))
    out: list[Any] = []
    for r, region in enumerate(REGIONS):
        out.extend(_region(r, region, vpcs, peerings).records())
    return out


# ----------------------------------------------------------------------------------------
# one measured scale (a fresh process: --worker)
# ----------------------------------------------------------------------------------------
def run_scale(scale: float) -> dict[str, Any]:
    from auditor.analyze import reachability as rx
    from auditor.model import build_model
    from auditor.model.types import RouteTable, Subnet, TransitGatewayRouteTable

    t0 = time.perf_counter()
    records = generate_records(scale)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = build_model(records)
    build_s = time.perf_counter() - t0
    subnets = [s for s in model.of("subnet") if isinstance(s, Subnet)]
    build_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    gc.collect()
    rss_before = status_kib().get("VmRSS", 0)
    reset = reset_peak()
    gc.disable()   # as the rule engine runs it: no reference cycles are made
    c0, t0 = time.process_time(), time.perf_counter()
    found = [rx.subnet_reachability(model, s) for s in subnets]
    reach_s, reach_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    again = [rx.subnet_reachability(model, s) for s in subnets]
    cached_s = time.perf_counter() - t0
    gc.enable()
    assert all(a is b for a, b in zip(found, again, strict=True))
    status = status_kib()
    analyzer = rx._analyzer(model)
    by_destination: dict[str, int] = {d: 0 for d in rx.DESTINATIONS}
    hops = 0
    for reach in found:
        for path in reach.paths:
            by_destination[path.destination] += 1
            hops += len(path.hops)
    paths = sum(by_destination.values())
    out: dict[str, Any] = {
        "scale": scale, "subnets": len(subnets), "route_tables": len(model.of("route_table")),
        "tgw_attachments": len(model.of("transit_gateway_attachment")), "peerings": len(model.of("vpc_peering")),
        "vpcs": len(model.of("vpc")), "tgw_route_tables": len(model.of("transit_gateway_route_table")),
        "tgw_routes": sum(len(t.routes or ()) for t in model.of("transit_gateway_route_table")
                          if isinstance(t, TransitGatewayRouteTable)),
        "routes": sum(len(t.routes) for t in model.of("route_table") if isinstance(t, RouteTable)),
        "records": len(records), "gen_s": gen_s, "build_s": build_s, "reach_s": reach_s, "reach_cpu_s": reach_cpu,
        "cached_s": cached_s, "paths": paths, "by_destination": by_destination, "hops": hops,
        "with_internet": sum(1 for r in found if r.of("internet")),
        "indeterminate": sum(1 for r in found if r.indeterminate), "loops": sum(len(r.loops) for r in found),
        "states": len(analyzer.memo), "splits": len(analyzer.parts), "starts": len(analyzer.starts),
        "rss_before_kib": rss_before, "rss_after_kib": status.get("VmRSS", 0),
        "reach_peak_kib": status.get("VmHWM", 0) if reset else None, "build_peak_kib": build_peak}
    out["peak_kib"] = max(build_peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, out["reach_peak_kib"] or 0)
    return out


def run_worker(scale: float) -> dict[str, Any]:
    """`run_scale(scale)` in a fresh Python process."""
    return run_script_worker(str(Path(__file__).resolve()), str(scale))


# ----------------------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------------------
def _mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f}"


def print_report(rows: Iterable[dict[str, Any]]) -> None:
    rows = list(rows)
    hdr = (f"{'scale':>5} {'subnets':>7} {'tables':>6} {'tgw att':>7} {'pcx':>5} {'routes':>6} {'tgw rts':>7} "
           f"{'build s':>7} {'reach s':>7} {'cpu s':>6} {'µs/sn':>6} {'cached s':>8} {'paths':>7} {'internet':>8} "
           f"{'on-prem':>7} {'vpc':>7} {'unk':>4} {'loops':>5} {'states':>6} {'rss pre':>7} {'rx pk':>6} "
           f"{'peak':>6}")
    print("\n" + "=" * len(hdr))
    print("RESULTS  (reach s: subnet_reachability for every subnet, first time; cached s: again; RSS in MiB: "
          "before the analysis / peak during it / whole process)")
    print("=" * len(hdr))
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        d = r["by_destination"]
        print(f"{r['scale']:>5g} {r['subnets']:>7} {r['route_tables']:>6} {r['tgw_attachments']:>7} "
              f"{r['peerings']:>5} {r['routes']:>6} {r['tgw_routes']:>7} {r['build_s']:>7.2f} {r['reach_s']:>7.2f} "
              f"{r['reach_cpu_s']:>6.2f} {r['reach_s'] / r['subnets'] * 1e6:>6.0f} {r['cached_s']:>8.3f} "
              f"{r['paths']:>7} {d['internet']:>8} {d['on_premises']:>7} {d['vpc']:>7} {r['indeterminate']:>4} "
              f"{r['loops']:>5} {r['states']:>6} {_mib(r['rss_before_kib']):>7} {_mib(r['reach_peak_kib']):>6} "
              f"{_mib(r['peak_kib']):>6}")
    print("-" * len(hdr))
    for r in rows:
        print(f"  scale {r['scale']:g}: {r['vpcs']} VPCs, {r['tgw_route_tables']} TGW route tables, "
              f"{r['with_internet']} subnets with an internet path, {r['hops']} hops in all paths "
              f"({r['hops'] / max(1, r['paths']):.1f} per path); analyzer kept {r['states']} explored states, "
              f"{r['splits']} table splits, {r['starts']} start tables; records {r['records']} "
              f"(generated in {r['gen_s']:.1f} s, not measured)")
    if len(rows) > 1:
        print("\nGrowth between scales (x = ratio):")
        for prev, cur in itertools.pairwise(rows):
            print(f"  {prev['scale']:g} -> {cur['scale']:g}: subnets x{cur['subnets'] / prev['subnets']:.2f}, "
                  f"paths x{cur['paths'] / max(1, prev['paths']):.2f}, "
                  f"reach x{cur['reach_s'] / max(1e-9, prev['reach_s']):.2f}, "
                  f"peak during the analysis x{(cur['reach_peak_kib'] or 1) / (prev['reach_peak_kib'] or 1):.2f}")
    big = max(rows, key=lambda r: r["subnets"])
    if big["scale"] >= 1:
        print(f"\nTarget at scale 1 ({big['subnets']} subnets): every subnet's reachability <= {TARGET_S:g} s: "
              f"{'met' if big['reach_s'] <= TARGET_S else 'MISSED'} ({big['reach_s']:.2f} s; build_model "
              f"{big['build_s']:.2f} s more)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark the reachability analyzer on generated estates, each "
                                 "scale in a fresh process.")
    ap.add_argument("--scales", default="0.25,0.5,1",
                    help="comma-separated scales of the estate (1 = 10,000 subnets, 2,000 route tables, 200 "
                    "transit gateway attachments, 500 peerings; default 0.25,0.5,1)")
    ap.add_argument("--json", metavar="FILE", help="also write every result as JSON to FILE")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(RESULT_TAG + json.dumps(run_scale(float(args.worker)), sort_keys=True), flush=True)
        return 0
    try:
        scales = [float(x) for x in args.scales.split(",") if x.strip()]
    except ValueError:
        ap.error("--scales takes numbers, e.g. 0.25,0.5,1")
    if not scales or any(s <= 0 for s in scales):
        ap.error("--scales takes positive numbers")
    print(f"reachability_bench: python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    rows = []
    for scale in scales:
        load = os.getloadavg()[0]
        row = run_worker(scale)
        row["load"] = load
        rows.append(row)
        print(f"  [scale {scale:g}] {row['subnets']} subnets: build {row['build_s']:.2f} s, reachability "
              f"{row['reach_s']:.2f} s, {row['paths']} paths; load avg before {load:.1f}", flush=True)
    print_report(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
