"""benchmarks/scale_bench.py at a tiny size (2 accounts x 2 regions, 0 ms), so it cannot rot:
it starts the fleet server in its own process, collects in a fresh one and reports figures
that add up. Speed is the benchmark's to print, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "scale_bench.py"


def test_the_scale_benchmark_runs_and_reports_a_complete_collection(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--accounts", "2", "--regions", "2", "--latency-ms", "0",
                           "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(out.read_text())
    c = figures["collect"]
    assert figures["account_regions"] == 4
    assert c["complete"] is True and c["error_count"] == 0 and c["errors"] == {}
    assert c["accounts"] == 2 and c["tasks"] == 4
    # Every recorded call took at least one request of the server (more when paginated).
    assert c["throttled"] == 0 and c["events"].get("call.throttled", 0) == 0
    assert c["requests"] >= c["calls"] > 4 * 30
    assert c["cpu_s"] > 0 and c["peak_rss_kib"] > 0 and c["server_cpu_s"] >= 0
    assert c["settings"]["accounts_from"] == "Organizations discovery"
    assert "cpu" in proc.stdout and "ms/call" in proc.stdout and "load average" in proc.stdout
    # Where the CPU went: GC, threads, CPU by thread group, requests in flight on average.
    g = c["gauges"]
    assert g["threads_peak"] > 1 and g["thread_cpu_s"].get("calls", 0) > 0 and len(g["gc_runs"]) == 3
    assert "where the cpu went" in proc.stdout and "average" in proc.stdout


def test_bad_arguments_are_refused_cleanly() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--accounts", "0"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "--accounts must be" in proc.stderr and "Traceback" not in proc.stderr
