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

    .venv/bin/python benchmarks/collect_profile.py --fleet --accounts 25 --regions 2 --latency-ms 100 \
        --variants fast:64,botocore:64,fast:32,fast:16 [--repeat 2]

`--fleet` compares variants back to back against one fleet server (scale_bench.py's, with
Organizations discovery): each variant is `parser:call_workers[:max_workers]` (an empty
number: the config's default; parser ``fast``: the
collector's compiled query/ec2 parser, ``botocore``: botocore's own, installed by a session
hook; ``direct`` / ``pipeline``: the compiled parser with the shared clients' transport set to
the direct one / to botocore's pipeline (auditor/collect/transport.py); ``nogc``: ``fast`` without
the collector's garbage-collector policy (`auditor.collect.runner.gc_policy`), ``gcN``:
``fast`` with that policy's young-generation threshold N; ``base``: the checkout named by --baseline, e.g. main's worktree, put first on the
worker's PYTHONPATH, with its own defaults), run in a fresh process, in turn (ABAB... for --repeat > 1), so a shared machine's load
falls on every variant alike. Printed per run: wall s, CPU s of collect() (time.process_time
of the whole collecting process: every thread), calls in the manifest, CPU ms per call
(CPU s / calls), HTTP requests the server answered, and the 1-minute load average before.

    .venv/bin/python benchmarks/collect_profile.py --parse-replay --accounts 5 --regions 2 --repeat 3

`--parse-replay` measures reading replies alone (no network, one thread): every query/ec2
reply the fleet generator makes for the catalogue in N x R account-regions, parsed by
botocore's parser and by the collector's compiled one in turn.
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
    factory = SessionFactory.for_collection(config.collection, hooks=[counter.install])
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


def fleet_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One collection against the fleet server (`spec`: accounts, regions, parser, call_workers)."""
    import scale_bench as sb
    from botocore.parsers import ResponseParserFactory

    from auditor.collect.runner import collect
    from auditor.collect.sessions import SessionFactory
    from auditor.config import config_from_text
    from auditor.emulate.fleet import REGION_ORDER
    from auditor.snapshot.writer import SnapshotWriter

    text = sb.config_text(spec["accounts"], list(REGION_ORDER[:spec["regions"]]), False)
    settings = "".join(f"  {k}: {spec[k]}\n" for k in ("call_workers", "max_workers") if spec.get(k))
    text += "collection:\n" + settings if settings else ""
    config = config_from_text(text, name="collect_profile.yaml")
    hooks = []
    import auditor
    if spec["parser"] == "base" and not auditor.__file__.startswith(spec["baseline"]):
        raise RuntimeError(f"the baseline's auditor was not imported ({auditor.__file__})")
    if spec["parser"] == "nogc":   # this checkout without its garbage-collector policy during collection
        import contextlib

        import auditor.collect.runner as runner
        runner.gc_policy = contextlib.nullcontext  # type: ignore[assignment]
    if spec["parser"].startswith("gc"):   # this checkout with another young-generation threshold: gcN
        import auditor.collect.runner as runner
        runner.GC_YOUNG_THRESHOLD = int(spec["parser"][2:])
    if spec["parser"] == "botocore":
        hooks.append(lambda session: session.register_component("response_parser_factory", ResponseParserFactory()))
    # "direct" / "pipeline": the compiled parser with the shared clients' transport forced to the
    # direct one / to botocore's pipeline (the others: the default, "auto").
    transport = {"direct": "direct", "pipeline": "botocore"}.get(spec["parser"], "auto")
    factory = SessionFactory.for_collection(config.collection, hooks=hooks, transport=transport)
    out = Path(spec["out_dir"])
    try:
        writer = SnapshotWriter(out / "snapshot")
        gauges = sb.Gauges()
        t0, c0 = time.perf_counter(), time.process_time()
        gauges.start()
        result = collect(config, factory, writer)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        measured = gauges.stop()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"wall_s": wall, "cpu_s": cpu, "calls": len(result.manifest["calls"]),
            "errors": len(result.manifest["errors"]), "gauges": measured}


def fleet(args: argparse.Namespace) -> int:
    import scale_bench as sb

    variants = [tuple(v.split(":")) for v in args.variants.split(",")]
    with sb.Server(args.accounts, args.regions, float(args.latency_ms), 0) as server:
        for rnd in range(args.repeat):
            for parser, *numbers in variants:
                workers, tasks = (numbers[0] if numbers else ""), numbers[1:]
                out_dir = tempfile.mkdtemp(prefix="collect-profile-")
                spec = {"accounts": args.accounts, "regions": args.regions, "parser": parser,
                        "call_workers": int(workers or 0), "max_workers": int(tasks[0]) if tasks else 0,
                        "out_dir": out_dir,
                        "baseline": str(Path(args.baseline).resolve()) if args.baseline else ""}
                env = sb.clean_aws_env(server.url)
                if parser == "base":
                    env["PYTHONPATH"] = spec["baseline"]
                load = os.getloadavg()[0]
                before = server.get("/_fleet/stats")["requests"]
                cmd = [sys.executable, str(Path(__file__).resolve()), "--fleet-worker", json.dumps(spec)]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
                lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(TAG)]
                if proc.returncode != 0 or not lines:
                    raise RuntimeError(f"worker failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
                res = json.loads(lines[-1][len(TAG):])
                requests = server.get("/_fleet/stats")["requests"] - before
                avg = requests * float(args.latency_ms) / 1000 / res["wall_s"]
                print(f"round {rnd + 1} parser {parser} call_workers {workers or 'default'} max_workers "
                      f"{tasks[0] if tasks else 'default'}: wall {res['wall_s']:.2f} s, "
                      f"cpu {res['cpu_s']:.2f} s, {res['calls']} calls ({res['errors']} errors), {requests} requests, "
                      f"cpu/call {1000 * res['cpu_s'] / res['calls']:.2f} ms, in flight on average {avg:.1f}, "
                      f"load avg before {load:.2f}", flush=True)
                sb.print_gauges(res, 1000 * res["cpu_s"] / res["calls"], indent="    ")
    return 0


def parse_replay(args: argparse.Namespace) -> int:
    """CPU of reading replies alone: every query/ec2 reply the fleet generator makes for the
    catalogue's calls in --accounts x --regions, parsed by botocore's parser and by the
    collector's compiled one, alternately, --repeat times (one thread, time.process_time)."""
    from botocore.parsers import create_parser

    from auditor.collect.catalog import regional_calls
    from auditor.collect.parsers import FastResponseParserFactory
    from auditor.emulate.fleet import Fleet
    from auditor.emulate.wire import Wire

    wire, fleet_ = Wire(), Fleet(args.accounts, args.regions, seed=0)
    replies = []
    for account in fleet_.accounts:
        for region in fleet_.regions:
            _, index = fleet_.region(account, region)
            for spec in regional_calls():
                if wire.protocol(spec.service) not in ("ec2", "query"):
                    continue
                op = wire.models[spec.service].operation_model(spec.operation)
                members = {k: v.type_name for k, v in op.output_shape.members.items()}
                params = ([{}] if spec.for_each is None else
                          [dict(key) for svc, o, key in index if (svc, o) == (spec.service, spec.operation)])
                for p in params:
                    data = fleet_.answer(account, region, spec.service, spec.operation, p, members,
                                         wire.paginators[spec.service].get(spec.operation))
                    reply = wire.reply(spec.service, spec.operation, data)
                    replies.append((wire.protocol(spec.service), op.output_shape,
                                    {"status_code": reply.status, "headers": dict(reply.headers), "body": reply.body}))
    fast = FastResponseParserFactory()
    makers = {"botocore": create_parser, "compiled": fast.create_parser}
    size = sum(len(r[2]["body"]) for r in replies)
    print(f"{len(replies)} replies ({size / 1e6:.1f} MB), load avg before {os.getloadavg()[0]:.2f}")
    for rnd in range(args.repeat):
        for name, make in makers.items():
            c0 = time.process_time()
            for protocol, shape, response in replies:
                make(protocol).parse(dict(response), shape)
            cpu = time.process_time() - c0
            print(f"round {rnd + 1} {name}: {cpu:.3f} s cpu, {1000 * cpu / len(replies):.3f} ms per reply", flush=True)
    return 0


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
    p.add_argument("--profile-latency", type=float, default=None,
                   help="profile only at this latency (default: at every latency)")
    p.add_argument("--fleet", action="store_true", help="compare --variants back to back on the fleet server")
    p.add_argument("--variants", default="fast:64,botocore:64",
                   help="parser:call_workers[:max_workers],... (with --fleet; an empty number: the default)")
    p.add_argument("--parse-replay", action="store_true",
                   help="CPU of parsing the fleet's query/ec2 replies: botocore's parser against the compiled one")
    p.add_argument("--baseline", help="a checkout to compare with (variant parser 'base'), e.g. ../main")
    p.add_argument("--repeat", type=int, default=1, help="rounds of every variant (with --fleet)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--fleet-worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(TAG + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    if args.fleet_worker:
        print(TAG + json.dumps(fleet_worker(json.loads(args.fleet_worker))), flush=True)
        return 0
    if args.fleet:
        return fleet(args)
    if args.parse_replay:
        return parse_replay(args)
    accounts, regions = cb.account_ids(args.accounts), list(cb.REGION_ORDER[:args.regions])

    def measure(endpoint: str, latency: float) -> None:
        wanted = args.profile_latency is None or latency == args.profile_latency
        for profile in ([] if args.no_plain else [False]) + ([True] if wanted else []):
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
