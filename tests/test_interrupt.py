"""An interrupted `auditor collect` (SIGTERM, as a scheduler sends it) exits 130 and keeps
the evidence gathered so far, marked interrupted, never passing as a finished snapshot."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from auditor.errors import SnapshotError
from auditor.snapshot.reader import load_snapshot


@pytest.mark.server
def test_sigterm_keeps_partial_evidence_and_exits_130(aws_env: None, tmp_path: Path) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        cfg = tmp_path / "audit.yaml"
        # Six regions one at a time: long enough (several seconds) to interrupt mid-run.
        cfg.write_text("version: 1\nregions: [us-east-1, us-east-2, us-west-1, us-west-2, eu-west-1, eu-west-2]\n"
                       "collection: {max_workers: 1}\n")
        out = tmp_path / "snap"
        env = dict(os.environ, AWS_ENDPOINT_URL=f"http://{host}:{port}")
        proc = subprocess.Popen([sys.executable, "-m", "auditor", "collect", "-c", str(cfg), "--out", str(out)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        partial = tmp_path / "snap.partial"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((partial / "records").rglob("*.json")):
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
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
