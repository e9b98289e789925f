"""Ending a benchmark's emulator process (moto or the fleet server) and its log file."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO, Any


def end_server(proc: subprocess.Popen[Any] | None, log: IO[Any]) -> None:
    """Terminate `proc` if it still runs (killed after 10 s), then close and remove its log."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    log.close()
    Path(log.name).unlink(missing_ok=True)
