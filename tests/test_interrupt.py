"""An interrupted `auditor collect` (SIGTERM, as a scheduler sends it) exits 130 and keeps
the evidence gathered so far, marked interrupted, never passing as a finished snapshot."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from auditor.errors import SnapshotError
from auditor.snapshot.reader import load_snapshot


# Guards against a hang only: each wait below ends on an event, never on elapsed time.
HANG_GUARD_S = 300


def _manifest_status(partial: Path) -> str | None:
    try:
        return json.loads((partial / "manifest.json").read_text()).get("status")
    except (OSError, ValueError):  # not written yet, or being written
        return None


@pytest.mark.server
def test_sigterm_keeps_partial_evidence_and_exits_130(aws_env: None, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.ec2.responses.vpcs import VPCs

    # The server holds the second region's DescribeVpcs until the interrupt has been handled, so
    # the run is mid-way when SIGTERM arrives however fast or slow the machine is.
    reached, release = threading.Event(), threading.Event()
    describe_vpcs = VPCs.describe_vpcs

    def held_in_second_region(self: Any) -> Any:
        if self.region == "us-east-2":
            reached.set()
            release.wait(HANG_GUARD_S)
        return describe_vpcs(self)

    monkeypatch.setattr(VPCs, "describe_vpcs", held_in_second_region)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        cfg = tmp_path / "audit.yaml"
        cfg.write_text("version: 1\nregions: [us-east-1, us-east-2]\ncollection: {max_workers: 1}\n")
        out = tmp_path / "snap"
        env = dict(os.environ, AWS_ENDPOINT_URL=f"http://{host}:{port}")
        proc = subprocess.Popen([sys.executable, "-m", "auditor", "collect", "-c", str(cfg), "--out", str(out)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        partial = tmp_path / "snap.partial"
        assert reached.wait(HANG_GUARD_S), "the run never reached the second region"
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        # Answer the held call once the run has said it was interrupted (its manifest written).
        deadline = time.monotonic() + HANG_GUARD_S
        while _manifest_status(partial) != "interrupted" and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        release.set()
        _, stderr = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        release.set()
        server.stop()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert f"interrupted: the evidence gathered so far is kept in {partial}" in stderr
    assert not out.exists()
    manifest = json.loads((partial / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["complete"] is False
    assert manifest["interrupted_because"] == "interrupted by the user"
    assert manifest["calls"], "calls made before the interrupt are kept"
    with pytest.raises(SnapshotError, match="interrupted"):
        load_snapshot(partial)
    kept = load_snapshot(partial, allow_interrupted=True)
    assert len(kept.records) == len(manifest["calls"])
