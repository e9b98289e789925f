#!/usr/bin/env python
"""Rule-engine benchmark: `evaluate_rules` on generated models of 10k, 50k and 100k resources.

    .venv/bin/python benchmarks/evaluate_bench.py [--sizes 10000,50000,100000] [--profile]

No emulator: the estate is written directly as the AWS API responses the collector records
(`CallRecord`s, the shapes auditor/model/normalise.py reads), one page per 1000 items,
every call of the collector's catalog recorded for every account-region (an empty answer
where there is nothing) so that coverage is complete, as in auditor/rules/fixtures.py.
`build_model` turns them into the model and every loaded rule (the built-in packs, plus
`--packs`) is evaluated twice: with an empty scope (everything) and with the tag scope
``data-classification: pci`` (about half of the VPCs).

Each VPC of the estate gets 3 AZs with 6 private subnets, a main and 3 private route tables
(routes to a TGW, a NAT, a VGW or nowhere), 5 security groups with 12 rules, a default
NACL (and a custom one in PCI VPCs), 2 to 6 interface endpoints with policies and security
groups (one interface per AZ each) and an S3 gateway endpoint on every private table, 4
instances, an RDS instance, a load balancer, 2 Lambda functions and their interfaces, a
flow log on most VPCs, an EKS cluster on every fourth, and on a fifth of them (half in the
PCI scope) an internet gateway, 2 public subnets, a NAT gateway, its Elastic IP and public
instance addresses -- the FAILs. Per account-region: a transit gateway with its route
table, routes, associations and propagations, the S3 and DynamoDB prefix lists, 20
endpoint services, VPC Block Public Access options and a Lambda function outside any VPC.
Sizes are total resources of the built model (printed from `model.counts()`); the number
of VPCs is scaled to reach them (10 VPCs per account-region, 3 regions per account).

Each size runs in a fresh Python process (so peaks do not accumulate): generate records
(not measured), `build_model` (measured), then per scope `evaluate_rules` and the findings'
JSON (findings.json as `auditor scan` writes it, streamed by `auditor.results.iter_text`), each measured.

Columns (see also benchmarks/README.md):
  resources     resources in the built model (sum of model.counts())
  rules         rules evaluated (all loaded packs)
  in scope      resources the engine evaluated (sum of Evaluation.in_scope)
  findings      findings, then by status: PASS FAIL ERROR WAIVED N/A
  ok            findings == sum over rules of in-scope resources of its type x for_each items,
                plus the account-region ERRORs (resource *): every finding accounted for
  build s       build_model() wall time (records -> linked model)
  eval s        evaluate_rules() wall time; cpu s is its process CPU time; gc s the part spent
                in the garbage collector (gc.callbacks)
  findings/s    findings / eval s
  json s        findings.json as auditor scan writes it (build_document + iter_text), wall time; MiB is its size
  cost s        the cost view (findings.json's network_costs, auditor.costs.view, built-in price table, no
                traffic) on the evaluated model, wall time; vpcs = the VPCs it lists
  RSS MiB       rss rec / rss mdl: RSS after generating the records / after build_model;
                bld pk: peak of generation + build_model (ru_maxrss); eval pk: peak during that
                evaluation + JSON alone (the high-water mark is reset just before it through
                /proc/self/clear_refs; it includes the model and the records, which stay alive
                as they would in `auditor scan --snapshot`); peak: the process's whole-life
                peak (the reset lowers ru_maxrss too, so it is the largest of the phases')
  load          1-minute load average before the size ran (other work on the machine)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import signal
import sys
import time
import itertools
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any
from collections.abc import Iterable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peak import RESULT_TAG, reset_peak, run_script_worker, status_kib  # noqa: E402  (shared by the benchmarks)

HERE = Path(__file__).resolve().parent
TODAY = date(2026, 1, 1)
REGIONS = ("us-east-1", "eu-west-1", "eu-central-1", "us-west-2", "ap-southeast-2")
STATUSES = ("PASS", "FAIL", "ERROR", "WAIVED", "NOT_APPLICABLE")
# Scope tag selectors by name: "all" is the empty scope (everything).
SCOPES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {"all": (), "pci": (("data-classification", ("pci",)),)}
CALIBRATION_VPCS = 420    # a multiple of every period in the generator's mix (3, 4, 5, 7, 10, 12)
TARGET_EVAL_S = 10.0      # the targets at 100k resources
TARGET_RSS_MIB = 1536.0


def csv_ints(text: str) -> list[int]:
    return [int(x.replace("k", "000")) for x in text.split(",") if x.strip()]


# ----------------------------------------------------------------------------------------
# the estate, as API responses (not measured)
# ----------------------------------------------------------------------------------------
# The shapes (one VPC and everything in it, the per-region lists, TGW attachments, peerings)
# live in auditor/emulate/fleet_shapes.py, shared with the fleet server's generated estates.
from auditor.emulate.fleet_shapes import (  # noqa: E402
    Ids as _Ids, Region as _Region, Vpc as _Vpc, attach as _attach, peer as _peer, shared as _shared)


def account_ids(n: int) -> list[str]:
    return [f"{200000000001 + i:012d}" for i in range(n)]


def generate_records(vpcs: int, *, vpcs_per_region: int = 10, regions: int = 3) -> list[Any]:
    """The call records of an estate of `vpcs` VPCs (see the module doc), `vpcs_per_region`
    per account-region, `regions` regions per account, as many accounts as that takes."""
    from auditor.collect.catalog import CATALOG

    ids = _Ids()
    out: list[Any] = []
    per_account = vpcs_per_region * regions
    accounts = account_ids(max(1, -(-vpcs // per_account)))
    g = 0
    for account in accounts:
        for region in REGIONS[:regions]:
            n = min(vpcs_per_region, vpcs - g)
            if n <= 0:
                break
            reg = _Region(account, region)
            tgw = _shared(reg, ids, tgw_needed=any((g + i) % 3 != 0 for i in range(n)))
            made = [_Vpc(reg, ids, g + i, i, tgw).summary() for i in range(n)]
            if tgw is not None:
                _attach(reg, ids, tgw, [v for v in made if v["egress"] == "tgw"])
            for i in range(0, len(made) - 1, 5):   # a peering between neighbours, every fifth VPC
                _peer(reg, ids, made[i], made[i + 1])
            g += n
            out.extend(reg.records(CATALOG))
    return out


# ----------------------------------------------------------------------------------------
# one measured size (runs in a fresh process: --worker)
# ----------------------------------------------------------------------------------------
class _GcTimer:
    """Time spent in the cyclic garbage collector, through gc.callbacks."""

    def __init__(self) -> None:
        self.total = 0.0
        self.collections = 0
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._t0
            self.collections += 1


def load_bench_packs(extra: list[str]) -> Any:
    from auditor.rules.packs import load_packs

    return load_packs(extra)


def expected_findings(ev: Any) -> int:
    """What the findings count must be: one per (rule, in-scope resource of its type, item),
    plus the account-region ERRORs (resource ``*``)."""
    per_rule = sum(ev.in_scope.get(r.resource, 0) * (len(r.items) if r.items is not None else 1) for r in ev.rules)
    return per_rule + sum(1 for f in ev.findings if f.resource.id == "*")


def run_size(vpcs: int, packs: Any, scopes: list[str], *, vpcs_per_region: int, regions: int,
             profile_top: int = 0) -> dict[str, Any]:
    """Generate, build and evaluate one estate; every figure as a dict."""
    from auditor.config import Scope
    from auditor.model import build_model
    from auditor.results import RunInfo, build_document, iter_text
    from auditor.rules.engine import evaluate_rules

    gc_timer = _GcTimer()
    gc.callbacks.append(gc_timer)
    t0 = time.perf_counter()
    records = generate_records(vpcs, vpcs_per_region=vpcs_per_region, regions=regions)
    gen_s = time.perf_counter() - t0
    gc.collect()
    rss_records = status_kib().get("VmRSS", 0)
    t0 = time.perf_counter()
    model = build_model(records)
    build_s = time.perf_counter() - t0
    gc.collect()
    rss_model = status_kib().get("VmRSS", 0)
    counts = model.counts()
    by_type: Counter[str] = Counter()
    for (_, _, type_name), n in counts.items():
        by_type[type_name] += n
    out: dict[str, Any] = {
        "vpcs": vpcs, "records": len(records), "resources": sum(counts.values()), "by_type": dict(by_type),
        "account_regions": len({(a, r) for a, r, _ in counts}), "accounts": len({a for a, _, _ in counts}),
        "rules": len(packs.rules), "packs": [p.id for p in packs.packs], "gen_s": gen_s, "build_s": build_s,
        "rule_set": _rule_set(packs),
        "rss_records_kib": rss_records, "rss_model_kib": rss_model, "scopes": {},
        # The peak so far (generation and build_model); read before any VmHWM reset, which
        # lowers ru_maxrss too (Linux reports the larger of the exited-mm and current marks).
        "build_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    for name in scopes:
        scope = Scope(tags=SCOPES[name])
        gc.collect()
        reset = reset_peak()
        gc_before, gcs_before = gc_timer.total, gc_timer.collections
        c0, t0 = time.process_time(), time.perf_counter()
        ev = evaluate_rules(model, packs, scope, today=TODAY)
        eval_s, eval_cpu = time.perf_counter() - t0, time.process_time() - c0
        eval_gc, eval_gcs = gc_timer.total - gc_before, gc_timer.collections - gcs_before
        rss_eval = status_kib().get("VmRSS", 0)
        gc_before = gc_timer.total
        t0 = time.perf_counter()
        # What `auditor scan` writes: findings.json streamed a finding at a time.
        doc = build_document(ev, packs, RunInfo(manifest={}, manifest_sha256="sha256:" + "0" * 64, scope=scope),
                             lazy=True)
        json_bytes = 0
        with open(os.devnull, "w", encoding="utf-8") as sink:
            for piece in iter_text(doc):
                json_bytes += len(piece.encode())
                sink.write(piece)
        json_s, json_gc = time.perf_counter() - t0, gc_timer.total - gc_before
        # The cost view, as `auditor scan` adds it (its reachability reads the model's memo the
        # rules filled, as in a scan).
        from auditor.costs.prices import load_prices
        from auditor.costs.view import cost_section, not_collected, required_interface_services
        t0 = time.perf_counter()
        costs = cost_section(model, ev.findings, scope, load_prices(None), required_interface_services(ev.rules),
                             not_collected(), traffic_collected=False, window_days=None)
        cost_s = time.perf_counter() - t0
        statuses = Counter(f.status for f in ev.findings)
        out["scopes"][name] = {
            "eval_s": eval_s, "eval_cpu_s": eval_cpu, "gc_s": eval_gc, "gc_collections": eval_gcs,
            "findings": len(ev.findings), "expected_findings": expected_findings(ev),
            "statuses": {s: statuses.get(s, 0) for s in STATUSES}, "in_scope": sum(ev.in_scope.values()),
            "out_of_scope": sum(ev.out_of_scope.values()), "gaps": len(ev.gaps),
            "cost_s": cost_s, "cost_vpcs": len(costs.get("vpcs", [])),
            "json_s": json_s, "json_gc_s": json_gc, "json_bytes": json_bytes, "rss_eval_kib": rss_eval,
            "eval_peak_kib": status_kib().get("VmHWM", 0) if reset else None,
            "by_rule": {r: dict(c) for r, c in sorted(_by_rule(ev.findings).items())}}
        del ev, doc
    gc.callbacks.remove(gc_timer)
    if profile_top:
        out["profile"] = profile_evaluation(model, packs, Scope(), profile_top)
    # ru_maxrss now covers the time since the last reset only: the whole life's peak is the
    # largest of the build peak and each phase's.
    phases = [out["build_peak_kib"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              *(s["eval_peak_kib"] or 0 for s in out["scopes"].values())]
    out["peak_kib"] = max(phases)
    del records
    return out


def _rule_set(packs: Any) -> str:
    """A short hash of the rules evaluated (ids, packs, versions and their content): others
    edit the packs while the benchmark runs, and sizes are comparable only on the same rules."""
    import hashlib

    text = repr(sorted((r.pack, r.id, repr(r.check), repr(r.where), repr(r.param_values)) for r in packs.rules))
    versions = repr(sorted((p.id, p.version) for p in packs.packs))
    return hashlib.sha256((versions + text).encode()).hexdigest()[:10]


def _by_rule(findings: Iterable[Any]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for f in findings:
        out.setdefault(f.rule_id, Counter())[f.status] += 1
    return out


def profile_evaluation(model: Any, packs: Any, scope: Any, top: int) -> str:
    """cProfile of one evaluate_rules (after the timed runs, so it does not slow them)."""
    import cProfile
    import io
    import pstats

    from auditor.rules.engine import evaluate_rules

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    evaluate_rules(model, packs, scope, today=TODAY)
    prof.disable()
    took = time.perf_counter() - t0
    buf = io.StringIO()
    buf.write(f"evaluate_rules under cProfile: {took:.2f} s (profiler overhead included)\n")
    stats = pstats.Stats(prof, stream=buf).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def calibrate(vpcs_per_region: int, regions: int) -> float:
    """Model resources per VPC of the generated mix (whole periods of it)."""
    from auditor.model import build_model

    model = build_model(generate_records(CALIBRATION_VPCS, vpcs_per_region=vpcs_per_region, regions=regions))
    return sum(model.counts().values()) / CALIBRATION_VPCS


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["mode"] == "calibrate":
        return {"per_vpc": calibrate(spec["vpcs_per_region"], spec["regions"])}
    packs = load_bench_packs(spec["packs"])
    return run_size(spec["vpcs"], packs, spec["scopes"], vpcs_per_region=spec["vpcs_per_region"],
                    regions=spec["regions"], profile_top=spec.get("profile_top", 0))


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run `worker(spec)` in a fresh Python process; its result."""
    return run_script_worker(str(Path(__file__).resolve()), json.dumps(spec))


# ----------------------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------------------
def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Benchmark the rule engine on generated models (no emulator), "
                                "each size in a fresh process.")
    p.add_argument("--sizes", default="10000,50000,100000",
                   help="comma-separated model sizes in resources (default 10000,50000,100000; 10k works too)")
    p.add_argument("--scopes", default="all,pci", help="which scopes to evaluate: all (empty scope), pci (tag "
                   "data-classification=pci, about half the VPCs); default all,pci")
    p.add_argument("--packs", action="append", default=[], metavar="PATH",
                   help="also load these pack files or folders (repeatable); the built-in packs are always loaded")
    p.add_argument("--vpcs-per-region", type=int, default=10, help="VPCs per account-region (default 10)")
    p.add_argument("--regions", type=int, default=3, help=f"regions per account (1..{len(REGIONS)}, default 3)")
    p.add_argument("--profile", action="store_true",
                   help="after the timed runs, profile one evaluation (scope all) of the largest size with "
                   "cProfile in its own process and print the top functions")
    p.add_argument("--profile-top", type=int, default=25, help="functions listed per profile table (default 25)")
    p.add_argument("--json", metavar="FILE", help="also write every result as JSON to FILE")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        print(RESULT_TAG + json.dumps(worker(json.loads(args.worker)), sort_keys=True), flush=True)
        return 0

    sizes = csv_ints(args.sizes)
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    if not sizes or any(n < 1 for n in sizes):
        p.error("--sizes takes positive resource counts")
    if not scopes or set(scopes) - set(SCOPES):
        p.error(f"--scopes takes {' and/or '.join(SCOPES)}")
    if not 1 <= args.regions <= len(REGIONS):
        p.error(f"--regions must be 1..{len(REGIONS)}")
    if args.vpcs_per_region < 1 or args.vpcs_per_region > 250:
        p.error("--vpcs-per-region must be 1..250 (each VPC of an account-region is 10.N.0.0/16)")
    packs = [str(Path(x).resolve()) for x in args.packs]

    print(f"evaluate_bench: python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    base = {"vpcs_per_region": args.vpcs_per_region, "regions": args.regions}
    per_vpc = run_worker({"mode": "calibrate", **base})["per_vpc"]
    print(f"estate: {args.vpcs_per_region} VPCs per account-region, {args.regions} regions per account, "
          f"{per_vpc:.1f} model resources per VPC (calibrated on {CALIBRATION_VPCS} VPCs); each size in a fresh "
          "process", flush=True)

    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    for target in sizes:
        vpcs = max(1, round(target / per_vpc))
        spec = {"mode": "size", "vpcs": vpcs, "scopes": scopes, "packs": packs, **base}
        load = os.getloadavg()[0]
        res = run_worker(spec)
        res.update(target=target, load=load)
        rows.append(res)
        print(f"  [{target} target] {res['resources']} resources ({vpcs} VPCs, {res['accounts']} accounts, "
              f"{res['account_regions']} account-regions, {res['records']} records), {res['rules']} rules; "
              f"build {res['build_s']:.2f} s, "
              + ", ".join(f"eval {n} {s['eval_s']:.2f} s" for n, s in res["scopes"].items())
              + f"; load avg before {load:.1f} [elapsed {time.monotonic() - started:.0f} s]", flush=True)
    print_report(rows)
    if args.profile:
        target = max(sizes)
        vpcs = max(1, round(target / per_vpc))
        print(f"\nProfile: one evaluate_rules (scope all) on {target} target resources, packs "
              f"{', '.join(rows[-1]['packs'])}, in a fresh process (timings above were taken without the profiler)")
        prof = run_worker({"mode": "size", "vpcs": vpcs, "scopes": [], "packs": packs,
                           "profile_top": args.profile_top, **base})
        print(prof["profile"])
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, sort_keys=True))
    return 0


def print_report(rows: list[dict[str, Any]]) -> None:
    hdr = (f"{'resources':>9} {'rules':>5} {'scope':<5} {'in scope':>8} {'findings':>8} {'PASS':>7} {'FAIL':>7} "
           f"{'ERROR':>6} {'WAIVED':>6} {'N/A':>6} {'ok':>3} {'build s':>7} {'eval s':>7} {'cpu s':>6} {'gc s':>5} "
           f"{'findings/s':>10} {'json s':>6} {'MiB':>5} {'cost s':>6} {'vpcs':>5} {'rss rec':>7} {'rss mdl':>7} {'bld pk':>6} {'eval pk':>7} "
           f"{'peak':>6} {'load':>5}")
    print("\n" + "=" * len(hdr))
    print("RESULTS  (RSS in MiB: after the records / after build_model / peak of generation + build_model / peak "
          "during that evaluation + JSON / peak of the size's process; ok = findings == rules x in-scope resources "
          "[+ region ERRORs])")
    print("=" * len(hdr))
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        for name, s in r["scopes"].items():
            st = s["statuses"]
            ok = "yes" if s["findings"] == s["expected_findings"] else "NO"
            print(f"{r['resources']:>9} {r['rules']:>5} {name:<5} {s['in_scope']:>8} {s['findings']:>8} "
                  f"{st['PASS']:>7} {st['FAIL']:>7} {st['ERROR']:>6} {st['WAIVED']:>6} {st['NOT_APPLICABLE']:>6} "
                  f"{ok:>3} {r['build_s']:>7.2f} {s['eval_s']:>7.2f} {s['eval_cpu_s']:>6.2f} {s['gc_s']:>5.2f} "
                  f"{s['findings'] / s['eval_s'] if s['eval_s'] else 0:>10.0f} {s['json_s']:>6.2f} "
                  f"{s['json_bytes'] / 2**20:>5.1f} {s['cost_s']:>6.2f} {s['cost_vpcs']:>5} {mib(r['rss_records_kib']):>7} {mib(r['rss_model_kib']):>7} "
                  f"{mib(r['build_peak_kib']):>6} {mib(s['eval_peak_kib']):>7} {mib(r['peak_kib']):>6} "
                  f"{r['load']:>5.1f}")
    print("-" * len(hdr))
    gcs = "; ".join(f"{r['resources']} {n}: eval {s['gc_s']:.2f} s in {s['gc_collections']} collections, json "
                    f"{s['json_gc_s']:.2f} s" for r in rows for n, s in r["scopes"].items())
    print(f"garbage collector (part of eval s and json s): {gcs}")
    gen = ", ".join(f"{r['gen_s']:.1f} s" for r in rows)
    print(f"packs: {', '.join(rows[0]['packs'])}; generating the records is not measured ({gen})")
    print(f"load = 1-minute load average before the size ran ({os.cpu_count()} CPUs: above that, other work shared "
          "the machine; eval s then exceeds cpu s and the figures are noisier)")
    sets = sorted({r["rule_set"] for r in rows})
    if len(sets) > 1:
        print("WARNING: the rule packs changed during the benchmark (others are editing them); sizes ran with rule "
              "sets " + ", ".join(f"{rs} ({', '.join(str(r['resources']) for r in rows if r['rule_set'] == rs)}: "
                                  f"{next(r['rules'] for r in rows if r['rule_set'] == rs)} rules)" for rs in sets)
              + " -- growth factors between them compare different work")
    else:
        print(f"all sizes ran the same rules (rule set {sets[0]})")

    if len(rows) > 1:
        print("\nGrowth between sizes (x = ratio; linear means eval x ~ resources x):")
        for prev, cur in itertools.pairwise(rows):
            parts = [f"resources x{cur['resources'] / prev['resources']:.2f}",
                     f"build x{cur['build_s'] / prev['build_s']:.2f}"]
            for name in cur["scopes"]:
                a, b = prev["scopes"][name], cur["scopes"][name]
                parts.append(f"eval {name} x{b['eval_s'] / a['eval_s']:.2f}" if a["eval_s"] else f"eval {name} -")
                parts.append(f"findings {name} x{b['findings'] / a['findings']:.2f}" if a["findings"] else "")
            parts.append(f"peak RSS x{cur['peak_kib'] / prev['peak_kib']:.2f}")
            print(f"  {prev['resources']:>7} -> {cur['resources']:>7}: " + ", ".join(x for x in parts if x))
        per = [f"{r['resources']}: " + ", ".join(f"{n} {s['eval_s'] / r['resources'] * 1e6:.1f}"
                                                 for n, s in r["scopes"].items()) for r in rows]
        print("  eval µs per model resource: " + "; ".join(per))

    big = max(rows, key=lambda r: r["resources"])
    evals = {n: s["eval_s"] for n, s in big["scopes"].items()}
    if evals and big["resources"] >= 90000:
        worst = max(evals.values())
        peak = big["peak_kib"] / 1024
        print(f"\nTargets at ~100k resources ({big['resources']}): evaluation <= {TARGET_EVAL_S:g} s: "
              f"{'met' if worst <= TARGET_EVAL_S else 'MISSED'} ({worst:.2f} s, slowest scope; build_model "
              f"{big['build_s']:.2f} s more); peak RSS <= {TARGET_RSS_MIB:g} MiB: "
              f"{'met' if peak <= TARGET_RSS_MIB else 'MISSED'} ({peak:.0f} MiB)")

    print(f"\nModel of the largest size ({big['resources']} resources), by type:")
    items = sorted(big["by_type"].items(), key=lambda kv: -kv[1])
    print("  " + ", ".join(f"{t} {n}" for t, n in items))
    print("Findings by rule (largest size, first scope):")
    first = next(iter(big["scopes"].values()), None)
    if first:
        for rule_id, c in first["by_rule"].items():
            print(f"  {rule_id:<10} " + ", ".join(f"{s} {n}" for s, n in sorted(c.items())))


def _terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminated)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
