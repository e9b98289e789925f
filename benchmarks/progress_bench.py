#!/usr/bin/env python
"""Progress lines and JSON logs of a latency-modelled organisation-wide run, as CI sees them.

    .venv/bin/python benchmarks/progress_bench.py [--accounts 25] [--regions 2] [--latency-ms 50]
                                                  [--interval 2] [--command collect|scan]

Starts the latency-modelling moto server of collect_bench.py (`_latency_moto_server.py`, in its
own process), seeds N accounts x R regions with collect_bench's estate (at 0 ms, not timed),
sets the added latency, then runs ``auditor collect`` (or ``scan``) as a subprocess with
stderr a pipe (not a terminal), ``--progress-interval`` small, ``--log-format json
--log-level info``. Every stderr line is timestamped as it arrives. It prints:

- when each progress line arrived (seconds after the process started), the gaps between
  them against the interval, and how many fell within [interval, interval + 1 s] (the
  collector's heartbeat is at most 0.5 s; the extra allows for scheduling);
- whether every stderr line parsed as a JSON object with time/level/event/logger/message,
  and how many of each event came.

It exits 1 when a line does not parse or a progress gap is outside that window.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import collect_bench as cb  # noqa: E402 - the benchmarks folder is not a package

KEYS = ("time", "level", "event", "logger", "message")
SLACK_S = 1.0


def read_lines(stream: Any, t0: float, into: list[tuple[float, str]]) -> None:
    for line in iter(stream.readline, ""):
        into.append((time.monotonic() - t0, line.rstrip("\n")))


def run(command: str, config: Path, out: Path, interval: float, endpoint: str) -> tuple[int, float,
                                                                                       list[tuple[float, str]], str]:
    args = [sys.executable, "-m", "auditor", command, "-c", str(config), "--out", str(out),
            "--log-format", "json", "--log-level", "info", "--progress-interval", f"{interval:g}"]
    if command == "scan":
        args += ["--format", "json", "--fail-on", "none"]
    lines: list[tuple[float, str]] = []
    t0 = time.monotonic()
    proc = subprocess.Popen(args, env=cb.clean_aws_env(endpoint), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=out.parent)
    reader = threading.Thread(target=read_lines, args=(proc.stderr, t0, lines), daemon=True)
    reader.start()
    stdout = proc.stdout.read() if proc.stdout is not None else ""
    code = proc.wait(timeout=cb.WORKER_TIMEOUT_S)
    reader.join(timeout=60)
    return code, time.monotonic() - t0, lines, stdout


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=25)
    p.add_argument("--regions", type=int, default=2)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--interval", type=float, default=2.0, help="--progress-interval of the run (default 2 s)")
    p.add_argument("--command", choices=("collect", "scan"), default="collect")
    args = p.parse_args(argv)

    accounts, regions = cb.account_ids(args.accounts), list(cb.REGION_ORDER[:args.regions])
    print(f"progress_bench: {args.accounts} accounts x {args.regions} regions, {args.latency_ms:g} ms added "
          f"latency, auditor {args.command} --progress-interval {args.interval:g} --log-format json --log-level info, "
          "stderr a pipe", flush=True)
    with cb.MotoServer() as server, tempfile.TemporaryDirectory(prefix="progress-bench-") as tmp:
        t0 = time.perf_counter()
        cb.seed(server.url, accounts, regions)
        print(f"seeded in {time.perf_counter() - t0:.1f} s (not counted)", flush=True)
        server.set_latency(args.latency_ms)
        config = Path(tmp) / "audit.yaml"
        config.write_text(cb.config_yaml(accounts, regions, None, {}))
        code, wall, lines, stdout = run(args.command, config, Path(tmp) / "run", args.interval, server.url)

    bad: list[str] = []
    docs: list[tuple[float, dict[str, Any]]] = []
    for at, line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if not isinstance(doc, dict) or any(k not in doc for k in KEYS):
            bad.append(line)
            continue
        docs.append((at, doc))
    progress = [(at, doc) for at, doc in docs if doc["event"] == "progress"]
    timed = [at for at, doc in progress if not doc.get("final")]
    final = [at for at, doc in progress if doc.get("final")]

    print(f"\nexit {code} after {wall:.1f} s; {len(lines)} stderr lines, {len(docs)} parsed as JSON objects, "
          f"{len(bad)} did not")
    for line in bad[:5]:
        print(f"  NOT JSON: {line[:200]}")
    print("events: " + ", ".join(f"{name} {n}" for name, n in sorted(Counter(d['event'] for _, d in docs).items())))
    print(f"stdout: {' | '.join(stdout.strip().splitlines())}")
    print(f"\nprogress lines (interval {args.interval:g} s): {len(timed)} timed + {len(final)} final")
    print("  arrived at (s): " + ", ".join(f"{at:.2f}" for at in timed)
          + (f"; final at {final[0]:.2f}" if final else ""))
    gaps = [b - a for a, b in zip(timed, timed[1:], strict=False)]
    outside = [g for g in gaps if not args.interval - 0.05 <= g <= args.interval + SLACK_S]
    if gaps:
        print("  gaps (s): " + ", ".join(f"{g:.2f}" for g in gaps))
        print(f"  gap min {min(gaps):.2f}, median {statistics.median(gaps):.2f}, max {max(gaps):.2f} s; "
              f"{len(gaps) - len(outside)}/{len(gaps)} within [{args.interval:g}, {args.interval + SLACK_S:g}] s")
    for at, doc in progress[-2:]:
        print(f"  {at:6.2f} s  {doc['message']}")
    ok = not bad and bool(timed) and bool(final) and not outside and code in (0, 3)
    print("\nOK" if ok else "\nFAILED: " + "; ".join(
        why for why, failed in [("a stderr line is not a JSON log object", bool(bad)),
                                ("no timed progress line", not timed), ("no final progress line", not final),
                                ("a gap outside the window", bool(outside)),
                                (f"exit {code}", code not in (0, 3))] if failed))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
