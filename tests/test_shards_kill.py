"""A real crash: a collection process killed with SIGKILL right after its first task
checkpoint is durable, then resumed by another process. Both talk to one moto server over
HTTP, so the estate outlives the killed process. The kill is not timed: the child kills itself
from the checkpoint writer, once that checkpoint is on disk; whatever else it had written
(records of tasks in flight, maybe torn) is what a kill leaves."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import HOME_ACCOUNT, make_network, moto_server_url

from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.config import config_from_text
from auditor.scan import evaluate_snapshot, prepare, write_findings
from auditor.snapshot.checkpoint import open_resume
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.writer import SnapshotWriter

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

CONFIG = ("version: 1\nregions: [eu-west-1]\naccounts:\n"
          f'  - id: "{HOME_ACCOUNT}"\n'
          '  - id: "222222222222"\n    role_arn: arn:aws:iam::222222222222:role/auditor\n')
SECTIONS = ("findings", "not_assessed", "scope_gaps", "summary", "rules")

# The killed process: collects with a writer that SIGKILLs it once one task checkpoint is
# written (made durable by the writer before it returns).
CHILD = """
import os, signal, sys
from pathlib import Path
from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.config import config_from_text
from auditor.snapshot.writer import SnapshotWriter

class Killed(SnapshotWriter):
    def checkpoints(self, batch):
        for item in batch:
            super().checkpoints([item])
            if item[0].startswith("tasks/"):
                os.kill(os.getpid(), signal.SIGKILL)

collect(config_from_text(Path(sys.argv[1]).read_text()), SessionFactory(max_attempts=2), Killed(Path(sys.argv[2])))
"""


@pytest.fixture
def server(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_server_url() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        yield url


def _findings(snapshot: Path, tmp: Path) -> dict[str, str]:
    doc = evaluate_snapshot(load_snapshot(snapshot), prepare(None))
    written = json.loads(write_findings(doc, tmp / ("f-" + snapshot.name)).read_text())
    return {k: json.dumps(written[k], sort_keys=True) for k in SECTIONS}


@pytest.mark.server
def test_killed_collection_resumes_to_the_single_run(server: str, tmp_path: Path) -> None:
    make_network(HOME_ACCOUNT, "eu-west-1", "10.40.0.0/16")
    make_network("222222222222", "eu-west-1", "10.41.0.0/16")
    cfg = config_from_text(CONFIG)
    single = collect(cfg, SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "single"))
    (tmp_path / "audit.yaml").write_text(CONFIG)
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "audit.yaml"), str(tmp_path / "run")],
                           capture_output=True, text=True, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr
    partial = tmp_path / "run.partial"
    assert not (partial / "manifest.json").exists()   # killed: nothing was said on the way out
    state = open_resume(partial)
    assert len(state.tasks) == 1
    resumed = collect(cfg, SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "run", resume=True),
                      resume=state)
    m = resumed.manifest
    assert m["resumed"][-1]["kept_tasks"] == 1 and len(m["resumed"][-1]["recollected_tasks"]) == 1
    assert set(m["files"]) == set(single.manifest["files"])
    assert _findings(resumed.path, tmp_path) == _findings(single.path, tmp_path)
