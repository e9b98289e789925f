#!/usr/bin/env python
"""CPU per call of our own process during a collection, and where it goes (cProfile).

    .venv/bin/python benchmarks/collect_profile.py [--accounts 25] [--regions 2] [--latency-ms 0,50]
        [--endpoint URL]   # an already running server (e.g. the fleet server), seeded by its owner

Without --endpoint it starts the latency-modelling moto server of collect_bench.py, seeds
N accounts x R regions with the same small estate, then for each latency runs one
collection (the default settings) in a fresh Python process under cProfile and prints:
wall s, CPU s of the collecting process, HTTP requests sent, CPU ms per request and per
recorded call, the 1-minute load average before the run, and the top functions by own
time (tottime) and by cumulative time. The profile costs CPU itself (cProfile roughly
doubles a pure-Python call's cost), so the CPU figures are also measured once without it
(--no-plain skips that run).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import collect_bench as cb  # noqa: E402

TAG = "PROFILE-RESULT "


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    from auditor.collect.runner import collect
    from auditor.collect.sessions import SessionFactory
    from auditor.config import config_from_text
    from auditor.snapshot.writer import SnapshotWriter

    config = config_from_text(cb.config_yaml(spec["accounts"], spec["regions"], None, {}), name="profile.yaml")
    counter = cb.RequestCounter()
    factory = SessionFactory(max_attempts=config.collection.max_attempts, hooks=[counter.install])
    out = Path(spec["out_dir"])
    # Timed by each thread's own CPU clock, so time spent waiting (for AWS, a lock, the GIL)
    # is not counted. cProfile sees one thread: every thread the collection starts gets its
    # own profile, merged with the main thread's at the end.
    prof = cProfile.Profile(time.thread_time) if spec["profile"] else None
    threads: list[cProfile.Profile] = []
    if prof is not None:
        plain_run = threading.Thread.run

        def profiled_run(self: threading.Thread) -> None:
            mine = cProfile.Profile(time.thread_time)
            threads.append(mine)
            mine.enable()
            try:
                plain_run(self)
            finally:
                mine.disable()

        threading.Thread.run = profiled_run  # type: ignore[method-assign]
    try:
        writer = SnapshotWriter(out / "snapshot")
        t0, c0 = time.perf_counter(), time.process_time()
        if prof is not None:
            prof.enable()
        result = collect(config, factory, writer)
        if prof is not None:
            prof.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        shutil.rmtree(out, ignore_errors=True)
    res: dict[str, Any] = {"wall_s": wall, "cpu_s": cpu, "requests": counter.count,
                           "calls": len(result.manifest["calls"]), "errors": len(result.manifest["errors"])}
    if prof is not None:
        for key in ("tottime", "cumulative"):
            buf = io.StringIO()
            stats = pstats.Stats(prof, stream=buf)
            for other in threads:   # pool threads still alive (idle) are read as they are
                stats.add(other)
            stats.strip_dirs().sort_stats(key).print_stats(spec["top"])
            res[key] = buf.getvalue()
    return res


def run(endpoint: str, spec: dict[str, Any]) -> dict[str, Any]:
    out_dir = tempfile.mkdtemp(prefix="collect-profile-")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec | {"out_dir": out_dir})]
    try:
        proc = subprocess.run(cmd, env=cb.clean_aws_env(endpoint), capture_output=True, text=True, timeout=3600)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(TAG)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return dict(json.loads(lines[-1][len(TAG):]))


def report(label: str, res: dict[str, Any], load: float) -> None:
    print(f"{label}: wall {res['wall_s']:.2f} s, cpu {res['cpu_s']:.2f} s, {res['requests']} requests, "
          f"{res['calls']} calls ({res['errors']} errors), cpu/request {1000 * res['cpu_s'] / res['requests']:.2f} ms, "
          f"cpu/call {1000 * res['cpu_s'] / res['calls']:.2f} ms, load avg before {load:.2f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=25)
    p.add_argument("--regions", type=int, default=2)
    p.add_argument("--latency-ms", default="0,50")
    p.add_argument("--endpoint", help="a running, seeded server (its accounts are bench.account_ids(N))")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--no-plain", action="store_true", help="skip the run without the profiler")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(TAG + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    accounts, regions = cb.account_ids(args.accounts), list(cb.REGION_ORDER[:args.regions])

    def measure(endpoint: str, latency: float) -> None:
        for profile in ([] if args.no_plain else [False]) + [True]:
            load = os.getloadavg()[0]
            res = run(endpoint, {"accounts": accounts, "regions": regions, "profile": profile, "top": args.top})
            report(f"{args.accounts}x{args.regions} latency {latency:g} ms {'profiled' if profile else 'plain'}",
                   res, load)
            if profile:
                print(res["tottime"])
                print(res["cumulative"])

    if args.endpoint:
        measure(args.endpoint, float("nan"))
        return 0
    with cb.MotoServer() as server:
        cb.seed(server.url, accounts, regions)
        for latency in cb.csv_floats(args.latency_ms):
            server.set_latency(latency)
            measure(server.url, latency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
