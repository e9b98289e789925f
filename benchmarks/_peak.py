"""What the benchmarks share: this process's RSS and high-water mark (Linux /proc), and running
one measurement in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def status_kib() -> dict[str, int]:
    """VmRSS and VmHWM of this process in KiB (empty where /proc is not there)."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def reset_peak() -> bool:
    """Reset this process's VmHWM (Linux >= 4.0), so the next phase's peak is its own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


RESULT_TAG = "BENCH-RESULT "   # a worker prints its result as this tag and one line of JSON
WORKER_TIMEOUT_S = 3600


def run_script_worker(script: str, arg: str) -> dict[str, Any]:
    """Run `python SCRIPT --worker ARG` in a fresh process (so that its peaks are its own)
    and return the JSON it printed after RESULT_TAG."""
    cmd = [sys.executable, script, "--worker", arg]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark worker failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-6000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT_TAG):])
    return result
