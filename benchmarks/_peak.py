"""Memory figures the benchmarks share: this process's RSS and high-water mark (Linux /proc)."""

from __future__ import annotations

from pathlib import Path


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
