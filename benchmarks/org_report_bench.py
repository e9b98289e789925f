#!/usr/bin/env python
"""Organisation-size report benchmark: `auditor scan --snapshot` with every output format on
a snapshot of 2,000 account-regions (100 accounts x 20 regions).

    .venv/bin/python benchmarks/org_report_bench.py [--accounts 100] [--regions 20] [--vpcs 3]
        [--formats json,html,...] [--snapshot DIR] [--keep DIR] [--profile | --profile-only]

The snapshot (not measured): every account has one or two workload regions holding `--vpcs`
VPCs each, built by benchmarks/evaluate_bench.py's estate generator (its `_Region`, `_Vpc`,
`_shared`, `_attach`, `_peer`: transit gateway, peerings, endpoints, instances, databases, load
balancers, a fifth of the VPCs internet-facing), and in its other regions either a default VPC
(its three default subnets, internet gateway, main route table, default security group and
NACL: what an account that never used the region has) or nothing at all; every call of the
collector's catalog is recorded in every account-region (an empty answer where there is
nothing), written with `SnapshotWriter` as a collection writes it, with a manifest naming the
accounts, regions and tasks. `--snapshot DIR` reuses one made before (`--keep DIR` keeps it).

The scan then runs in a fresh process with every format `auditor scan --format` accepts. It
prints wall time, CPU time (user + system), peak RSS (the child's VmHWM, from wait4: on Linux
the largest of the scan's and of any process it started and waited for; the scan starts none,
so it is the process tree's peak), each output's size, the findings by status, and the 1-minute
load average before and after.
`--profile` runs the same scan in a worker process that times each phase (the snapshot's
model, the evaluation, findings.json, the report model, each report, the evidence bundle) with
its wall and CPU time and its own peak RSS (VmHWM reset before each phase through
/proc/self/clear_refs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _peak import RESULT_TAG, reset_peak, status_kib  # noqa: E402
from evaluate_bench import account_ids  # noqa: E402
from auditor.emulate.fleet import default_vpc  # noqa: E402
from auditor.emulate.fleet_shapes import (  # noqa: E402
    Ids as _Ids, Region as _Region, Vpc as _Vpc, attach as _attach, peer as _peer, shared as _shared)

# Twenty commercial regions (what an organisation's accounts are opted into).
REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
           "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1", "ap-southeast-1", "ap-southeast-2",
           "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "sa-east-1", "me-south-1",
           "af-south-1")
STATUSES = ("FAIL", "ERROR", "WAIVED", "PASS", "NOT_APPLICABLE")
STARTED, FINISHED = "2026-03-01T10:00:00Z", "2026-03-01T10:40:00Z"


def org_records(accounts: int, regions: int, vpcs: int) -> Iterator[Any]:
    """The call records of the organisation, one account-region at a time: each account's
    workload regions (one, or two for every other account) hold `vpcs` VPCs each; of its other
    regions, two in three have the default VPC and the rest nothing."""
    from auditor.collect.catalog import CATALOG

    ids = _Ids()
    g = 0
    for k, account in enumerate(account_ids(accounts)):
        workload = {(k * 7) % regions, (k * 7 + 5) % regions} if k % 2 else {(k * 7) % regions}
        for r, region in enumerate(REGIONS[:regions]):
            reg = _Region(account, region)
            if r in workload:
                tgw = _shared(reg, ids, tgw_needed=True)
                made = [_Vpc(reg, ids, g + i, i, tgw).summary() for i in range(vpcs)]
                if tgw is not None:
                    _attach(reg, ids, tgw, [v for v in made if v["egress"] == "tgw"])
                for i in range(0, len(made) - 1, 5):
                    _peer(reg, ids, made[i], made[i + 1])
                g += vpcs
            elif (k + r) % 3:
                default_vpc(reg, ids)
            yield from reg.records(CATALOG)


def make_snapshot(folder: Path, accounts: int, regions: int, vpcs: int) -> dict[str, Any]:
    """Write the organisation's snapshot into `folder` with SnapshotWriter; returns its figures."""
    from auditor.snapshot.writer import SnapshotWriter

    writer = SnapshotWriter(folder)
    n = 0
    calls: dict[tuple[str, str], int] = {}
    for rec in org_records(accounts, regions, vpcs):
        writer.add(rec)
        calls[(rec.account, rec.region)] = calls.get((rec.account, rec.region), 0) + 1
        n += 1
    ids = account_ids(accounts)
    chosen = list(REGIONS[:regions])
    writer.finish({
        "tool": {"name": "private-network-auditor", "version": "bench"}, "started": STARTED, "finished": FINISHED,
        "config": {"source": "org-bench.yaml", "digest": "sha256:" + "0" * 64, "organization": "Bench Org"},
        "accounts": [{"id": a, "name": f"acct-{i:03d}", "role_arn": f"arn:aws:iam::{a}:role/auditor",
                      "identity": {"Arn": f"arn:aws:sts::{a}:assumed-role/auditor/bench"}, "regions": chosen,
                      "problem": ""} for i, a in enumerate(ids)],
        "regions": chosen, "account_problems": [],
        "tasks": [{"account": a, "region": r, "calls": calls.get((a, r), 0), "errors": 0, "status": "complete"}
                  for a in ids for r in chosen]})
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {"records": n, "bytes": size}


# ----------------------------------------------------------------------------------------
# the measured scan
# ----------------------------------------------------------------------------------------
def scan_command(snapshot: Path, out: Path, formats: str) -> list[str]:
    return [sys.executable, "-m", "auditor", "scan", "--snapshot", str(snapshot), "--out", str(out),
            "--format", formats, "--fail-on", "none", "-q"]


def run_plain(snapshot: Path, out: Path, formats: str) -> dict[str, Any]:
    """`auditor scan` in a fresh process: wall, CPU and peak RSS from wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(scan_command(snapshot, out, formats), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=str(ROOT))
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    assert proc.stdout is not None and proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_kib": usage.ru_maxrss, "exit": code,
            "stderr": err[-3000:]}


class _Phases:
    """Wall, CPU and own peak RSS of each phase, by wrapping the functions the scan calls."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.peak = 0
        self.depth = 0

    def wrap(self, owner: Any, name: str, label: Callable[..., str]) -> None:
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.depth:                       # a phase inside a phase is the outer one's
                return inner(*args, **kwargs)
            self.peak = max(self.peak, status_kib().get("VmHWM", 0))
            reset_peak()
            w0, c0 = time.perf_counter(), time.process_time()
            self.depth += 1
            try:
                return inner(*args, **kwargs)
            finally:
                self.depth -= 1
                st = status_kib()
                self.peak = max(self.peak, st.get("VmHWM", 0))
                self.rows.append({"phase": label(*args, **kwargs), "wall": time.perf_counter() - w0,
                                  "cpu": time.process_time() - c0, "peak_kib": st.get("VmHWM", 0),
                                  "rss_kib": st.get("VmRSS", 0)})
        setattr(owner, name, timed)


def worker(spec: dict[str, Any]) -> None:
    """The scan in this process with each phase timed (--profile)."""
    import auditor.bundle as bundle
    import auditor.report.model as report_model
    import auditor.report.outputs as outputs
    import auditor.scan as scan
    import auditor.snapshot.reader as reader
    from auditor.cli import cli

    phases = _Phases()
    phases.wrap(reader, "load_snapshot", lambda *a, **k: "snapshot read and verified")
    phases.wrap(scan, "build_model", lambda *a, **k: "snapshot model (build_model)")
    phases.wrap(scan, "_evaluate", lambda *a, **k: "evaluation (rules)")
    phases.wrap(scan, "topology_section", lambda *a, **k: "topology (diagrams)")
    phases.wrap(scan, "build_document", lambda *a, **k: "findings document")
    phases.wrap(scan, "write_findings", lambda *a, **k: "findings.json written")
    phases.wrap(report_model, "build_model", lambda *a, **k: "report model")
    phases.wrap(outputs, "report_bytes", lambda fmt, *a, **k: f"report {fmt}")
    phases.wrap(outputs, "write_whole", lambda target, *a, **k: f"  write {Path(target).name}")
    phases.wrap(outputs, "write_streamed", lambda target, fmt, *a, **k: f"report {fmt} (streamed)")
    phases.wrap(bundle, "write_scan_bundle", lambda *a, **k: "evidence bundle")
    w0, c0 = time.perf_counter(), time.process_time()
    try:
        cli.main(args=scan_command(Path(spec["snapshot"]), Path(spec["out"]), spec["formats"])[3:],
                 standalone_mode=False)
    except SystemExit:
        pass
    phases.peak = max(phases.peak, status_kib().get("VmHWM", 0))
    print(RESULT_TAG + json.dumps({"wall": time.perf_counter() - w0, "cpu": time.process_time() - c0,
                                   "peak_kib": phases.peak, "phases": phases.rows}), flush=True)


def run_profiled(snapshot: Path, out: Path, formats: str) -> dict[str, Any]:
    spec = json.dumps({"snapshot": str(snapshot), "out": str(out), "formats": formats})
    proc = subprocess.run([sys.executable, __file__, "--worker", spec], capture_output=True, text=True, cwd=str(ROOT))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if not lines:
        raise RuntimeError(f"profiled scan failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT_TAG):])
    return result


def outputs_of(out: Path) -> dict[str, int]:
    if not out.is_dir():
        return {}
    return {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}


def by_status(findings: Path) -> dict[str, int]:
    with findings.open("rb") as fh:
        doc = json.load(fh)
    counts: dict[str, int] = doc["summary"]["findings"]
    return counts


def _mib(n: float) -> str:
    return f"{n / 2**20:8.1f}"


def _print_plain(r: dict[str, Any], out: Path, formats: str, load0: float) -> None:
    load1 = os.getloadavg()[0]
    print(f"scan --format {formats}: exit {r['exit']}, wall {r['wall']:.1f} s, CPU {r['cpu']:.1f} s, "
          f"peak RSS {r['peak_kib'] / 1024:.0f} MiB; load average {load0:.2f} before, {load1:.2f} after")
    if r["exit"] not in (0, 1, 3, 4):
        print(r["stderr"])
    if (out / "findings.json").is_file():
        counts = by_status(out / "findings.json")
        print("findings: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES)
              + f" ({sum(counts.values())} in all)")
    print(f"{'output':<24} {'MiB':>8}")
    for name, size in outputs_of(out).items():
        print(f"{name:<24} {_mib(size)}")


def main(argv: list[str] | None = None) -> int:
    from auditor.report.writers import scan_formats

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--regions", type=int, default=20, help=f"at most {len(REGIONS)}")
    ap.add_argument("--vpcs", type=int, default=3, help="VPCs per workload region")
    ap.add_argument("--formats", default=",".join(scan_formats()), help="default: every format the scan accepts")
    ap.add_argument("--snapshot", type=Path, help="reuse this snapshot (made by --keep) instead of generating one")
    ap.add_argument("--keep", type=Path, help="write the generated snapshot here and keep it")
    ap.add_argument("--profile", action="store_true", help="also run the scan with each phase timed")
    ap.add_argument("--profile-only", action="store_true", help="only the scan with each phase timed")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="org-report-bench-"))
    try:
        snapshot = args.snapshot
        if snapshot is None:
            snapshot = args.keep or tmp / "snapshot"
            t0 = time.perf_counter()
            made = make_snapshot(snapshot, args.accounts, min(args.regions, len(REGIONS)), args.vpcs)
            print(f"snapshot: {args.accounts} accounts x {min(args.regions, len(REGIONS))} regions, "
                  f"{made['records']} records, {made['bytes'] / 2**20:.1f} MiB, made in "
                  f"{time.perf_counter() - t0:.1f} s (not measured)", flush=True)
        load0 = os.getloadavg()[0]
        out = tmp / "out"
        r = run_plain(snapshot, out, args.formats) if not args.profile_only else {"exit": None}
        if r["exit"] is None:   # --profile-only
            args.profile = True
        else:
            _print_plain(r, out, args.formats, load0)
        if args.profile:
            shutil.rmtree(out, ignore_errors=True)
            load0 = os.getloadavg()[0]
            p = run_profiled(snapshot, tmp / "out-profiled", args.formats)
            print(f"\nprofiled: wall {p['wall']:.1f} s, CPU {p['cpu']:.1f} s, peak RSS {p['peak_kib'] / 1024:.0f} MiB; "
                  f"load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after")
            print(f"{'phase':<34} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9} {'RSS after':>10}")
            for row in p["phases"]:
                print(f"{row['phase']:<34} {row['wall']:8.1f} {row['cpu']:8.1f} {row['peak_kib'] / 1024:9.0f} "
                      f"{row['rss_kib'] / 1024:10.0f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
