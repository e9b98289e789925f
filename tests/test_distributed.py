"""The Dask engine (auditor/distributed) on a real `distributed.LocalCluster` of two worker
processes, against moto in server mode (the workers reach it over HTTP, each with its own
sessions and its own assumed roles).

- Collected and evaluated on the cluster (`run_scan` given the scheduler's address), a
  two-account estate gives the findings of the local engine, byte for byte (findings.json's
  findings, not_assessed, scope_gaps, summary and rules sections; the run metadata, times and
  the manifest's hash differ between two runs by nature), and its bundle verifies.
- A worker killed (SIGKILL) while region tasks are in flight on it: the run completes and
  each account-region's records are in the snapshot once. The tasks are held at a gate (a
  botocore hook on the workers waits for a file) until the test has killed a worker that
  holds one, so the kill always lands mid-task.
- Bad input: an unreachable scheduler and a missing extra are clear errors, no traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from auditor.api import run_scan
from auditor.collect.runner import CollectResult, collect
from auditor.collect.sessions import SessionFactory
from auditor.config import AuditConfig, Collection, config_from_text
from auditor.distributed import EngineSpec, EngineUnavailable
from auditor.distributed.cluster import DaskEngine, open_engine
from auditor.distributed.collect import DaskRegions
from auditor.findings import Finding
from auditor.scan import evaluate_snapshot, prepare
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.records import CallRecord
from auditor.snapshot.writer import SnapshotWriter
from conftest import ANALYZER_ESTATES, run_auditor

pytestmark = pytest.mark.server

ACCOUNTS = {"egress-paths": "111111111111", "transit-paths": "222222222222"}
REGIONS = ("us-east-1", "eu-west-1")
SECTIONS = ("findings", "not_assessed", "scope_gaps", "summary", "rules")
DEADLINE = 240.0   # seconds: only a broken run waits this long (every wait below ends on a condition)


class Gate:
    """A SessionFactory hook for the workers: ec2:DescribeVpcs (every region task makes it)
    writes ``started-<pid>-<n>`` into `folder`, then waits until ``folder/open`` exists."""

    def __init__(self, folder: str):
        self.folder = folder

    def __call__(self, session: Any) -> None:
        session.register("before-send.ec2.DescribeVpcs", self.wait)

    def wait(self, **_: Any) -> None:
        folder = Path(self.folder)
        (folder / f"started-{os.getpid()}-{time.monotonic_ns()}").touch()
        deadline = time.monotonic() + DEADLINE
        while not (folder / "open").exists() and time.monotonic() < deadline:
            time.sleep(0.02)


@dataclass
class Estate:
    config: AuditConfig
    emu: Any
    local: CollectResult
    engine: DaskEngine
    root: Path
    sections: dict[str, str]   # the local engine's findings.json sections


def _config() -> AuditConfig:
    from auditor.emulate import EmulatedAws

    return config_from_text("version: 1\naccounts:\n" + "".join(
        f'  - id: "{a}"\n    role_arn: {EmulatedAws.role_arn(a)}\n' for a in ACCOUNTS.values())
        + f"regions: [{', '.join(REGIONS)}]\n")


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    """Two analyzer estates in two accounts, in moto's server; collected once by the local
    engine; and a LocalCluster of two worker processes, started after the emulator so that
    the workers inherit its endpoint and dummy credentials."""
    from auditor.emulate import EmulatedAws, load_estate, seed

    root = tmp_path_factory.mktemp("distributed")
    config = _config()
    with pytest.MonkeyPatch.context() as mp, EmulatedAws(mode="server") as emu:
        mp.setenv("AUDITOR_REDACTION_KEY", "distributed-test-redaction-key-0123456789")   # no key file made
        for name in ACCOUNTS:
            seed(load_estate(ANALYZER_ESTATES / f"{name}.yaml"), emu)
        local = collect(config, emu.session_factory(max_attempts=2), SnapshotWriter(root / "local", keep=True))
        assert local.complete, local.manifest["errors"]
        sections = _sections(evaluate_snapshot(load_snapshot(local.path), prepare(config)))
        assert '"FAIL": 0' not in sections["summary"] and '"PASS": 0' not in sections["summary"]
        with open_engine(EngineSpec("dask", workers=2, threads_per_worker=2)) as engine:
            assert engine is not None
            yield Estate(config, emu, local, engine, root, sections)


def _sections(document: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name in SECTIONS:
        value = document[name]
        if name == "findings":
            value = [f.to_json() if isinstance(f, Finding) else f for f in value]
        out[name] = json.dumps(value, sort_keys=True)
    return out


def _planned(config: AuditConfig) -> list[tuple[str, str]]:
    return sorted((a.id or "", r) for a in config.accounts for r in REGIONS)


def _check_once(manifest: dict[str, Any], records: Sequence[CallRecord], config: AuditConfig) -> None:
    """Each planned account-region is a task of the manifest once, and each call is once."""
    assert sorted((t["account"], t["region"]) for t in manifest["tasks"]) == _planned(config)
    assert all(t["status"] == "complete" for t in manifest["tasks"]), manifest["tasks"]
    ids = [r.record_id for r in records]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    assert len(manifest["calls"]) == len(ids)


def test_a_dask_scan_gives_the_local_findings_and_a_bundle_that_verifies(estate: Estate, tmp_path: Path) -> None:
    """`run_scan` with the cluster's scheduler address (what `--engine dask --scheduler` gives):
    collection and evaluation on the workers, the snapshot and the bundle made here."""
    address = estate.engine.client.scheduler.address
    result = run_scan(estate.config, out=tmp_path / "run", formats=["json"],
                      sessions=estate.emu.session_factory(max_attempts=2),
                      engine=EngineSpec("dask", scheduler=address, connect_timeout=30))
    snap = load_snapshot(result.snapshot)
    assert snap.manifest["complete"], snap.manifest["errors"]
    _check_once(snap.manifest, snap.records, estate.config)
    # The same calls and the same answers as the local engine's, and the same findings.
    assert sorted(r.record_id for r in snap.records) == sorted(r.record_id for r in estate.local.records)
    assert _sections(result.document) == estate.sections
    # Redaction: the workers' counts reach the driver's manifest, under the driver's key.
    assert snap.manifest["redaction"]["values_redacted"] == estate.local.manifest["redaction"]["values_redacted"]
    assert snap.manifest["redaction"]["key_id"] == estate.local.manifest["redaction"]["key_id"]
    verified = run_auditor("verify", str(result.out))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_worker_killed_mid_run_loses_nothing_and_duplicates_nothing(estate: Estate, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    regions = DaskRegions(estate.engine.client, partial(SessionFactory, max_attempts=2, hooks=(Gate(str(gate)),)))
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            done["result"] = collect(estate.config, estate.emu.session_factory(max_attempts=2),
                                     SnapshotWriter(tmp_path / "snapshot", keep=True), engine=regions)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            done["error"] = exc

    worker_pids = set(estate.engine.client.run(os.getpid).values())
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        victim = _first_started(gate)
        assert victim in worker_pids and victim != os.getpid()
        os.kill(victim, signal.SIGKILL)
    finally:
        (gate / "open").touch()   # the other tasks, and the reruns, go on
    thread.join(DEADLINE)
    assert not thread.is_alive(), "the run did not finish"
    assert "error" not in done, done.get("error")
    result: CollectResult = done["result"]
    _check_once(result.manifest, result.records, estate.config)
    assert sorted(r.record_id for r in result.records) == sorted(r.record_id for r in estate.local.records)
    # The killed worker's task(s) ran again elsewhere: more starts than tasks.
    starts = [p.name for p in gate.iterdir() if p.name.startswith("started-")]
    assert len(starts) > len(_planned(estate.config))
    assert any(p.name.startswith(f"started-{victim}-") for p in gate.iterdir())
    assert _sections(evaluate_snapshot(load_snapshot(result.path), prepare(estate.config))) == estate.sections


def _first_started(gate: Path) -> int:
    """The pid of the first worker whose task reached the gate (waits for it)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        started = sorted(p.name for p in gate.iterdir() if p.name.startswith("started-"))
        if started:
            return int(started[0].split("-")[1])
        time.sleep(0.02)
    raise AssertionError("no region task reached the gate")


# -- what the cluster's failures become ----------------------------------------------------------

class _Future:
    def __init__(self, outcome: BaseException):
        self.outcome = outcome

    def result(self) -> Any:
        raise self.outcome

    def release(self) -> None:
        pass

    def cancel(self) -> None:
        pass


class _Client:
    """A stand-in Dask client whose every task ends with `outcome` (the engine's seam)."""

    def __init__(self, outcome: BaseException):
        self.outcome = outcome

    def register_plugin(self, plugin: Any) -> None:
        pass

    def submit(self, *args: Any, **kwargs: Any) -> _Future:
        return _Future(self.outcome)


def test_a_task_the_cluster_lost_is_a_clear_error_and_a_task_error_is_itself() -> None:
    from distributed.scheduler import KilledWorker

    from auditor.partition import Job, run_inputs
    from auditor.rules.packs import load_packs

    inputs = run_inputs(load_packs(), prepare(None).scope, date(2026, 12, 6), None, {})
    lost = DaskEngine(_Client(KilledWorker("component-1", SimpleNamespace(address="tcp://w:1"), 3)), EngineSpec("dask"))
    with pytest.raises(EngineUnavailable, match=r"could not finish the evaluation of component 1 of 1: KilledWorker"):
        list(lost.components([Job((), ())], inputs))
    broken = DaskEngine(_Client(ValueError("a bug of ours")), EngineSpec("dask"))
    with pytest.raises(ValueError, match="a bug of ours"):
        list(broken.components([Job((), ())], inputs))


class _Factory:
    """A stand-in SessionFactory that counts what a worker asks of it."""

    def __init__(self) -> None:
        self.assumed: list[tuple[str, str | None]] = []
        self.bases: list[str | None] = []

    def base(self, profile: str | None = None) -> Any:
        self.bases.append(profile)
        return SimpleNamespace(kind="base", profile=profile)

    def assume_role(self, source: Any, region: str, role_arn: str, name: str, external_id: str | None = None,
                    duration: int | None = None) -> Any:
        self.assumed.append((role_arn, external_id))
        return SimpleNamespace(kind="assumed", role=role_arn, source=source)


def test_a_worker_assumes_each_accounts_role_once_and_keeps_it() -> None:
    from auditor.distributed.worker import AccountSpec, WorkerSessions

    factory = _Factory()
    plugin = WorkerSessions(lambda: factory, Collection(), b"k" * 32, "given")   # type: ignore[arg-type, return-value]
    plugin.setup()
    a = AccountSpec("111111111111", "arn:aws:iam::111111111111:role/Audit", "ext-1", base_profile="hub")
    b = AccountSpec("222222222222", "arn:aws:iam::222222222222:role/Audit", base_profile="hub")
    first = plugin.session(a)
    assert plugin.session(a) is first and plugin.session(b) is not first and plugin.session(b) is plugin.session(b)
    assert factory.assumed == [(a.role_arn, "ext-1"), (b.role_arn, None)]   # once per account, on the worker
    assert factory.bases == ["hub"]                                        # one source session for both
    assert first.source is plugin.session(b).source
    own = AccountSpec("333333333333", profile="audit-333")                 # no role: the worker's own profile
    assert plugin.session(own).kind == "base" and factory.bases == ["hub", "audit-333"]


def test_a_role_the_worker_cannot_assume_makes_every_call_not_attempted_with_why() -> None:
    from botocore.exceptions import ClientError

    from auditor.collect.catalog import regional_calls
    from auditor.distributed.worker import AccountSpec, WorkerSessions, run_region

    class Refused(_Factory):
        def assume_role(self, *args: Any, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not trusted"}}, "AssumeRole")

    plugin = WorkerSessions(Refused, Collection(), b"k" * 32, "given")   # type: ignore[arg-type]
    plugin.setup()
    spec = AccountSpec("111111111111", "arn:aws:iam::111111111111:role/Audit")
    records, redacted = run_region(plugin, spec, "eu-west-1")
    assert redacted == 0
    assert [(r.service, r.operation) for r in records] == [(c.service, c.operation) for c in regional_calls()]
    assert all(r.error is not None and r.error.kind == "not_attempted" for r in records)
    assert all("could not assume arn:aws:iam::111111111111:role/Audit: AccessDenied" in r.error.message
               for r in records if r.error is not None)
    assert {(r.account, r.region) for r in records} == {("111111111111", "eu-west-1")}


# -- bad input -------------------------------------------------------------------------------

def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "audit.yaml"
    cfg.write_text('version: 1\naccounts:\n  - id: "111111111111"\nregions: [us-east-1]\n', encoding="utf-8")
    monkeypatch.setenv("AUDITOR_REDACTION_KEY", "k" * 40)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    for command in (["collect", "--out", str(tmp_path / "s")], ["scan", "--out", str(tmp_path / "run")]):
        proc = run_auditor(*command, "-c", str(cfg), "--engine", "dask", "--scheduler", address,
                           "--connect-timeout", "1", cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert f"could not reach the Dask scheduler {address}" in proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "s").exists() and not (tmp_path / "run" / "snapshot").exists()


def test_the_library_says_the_same_for_an_unreachable_scheduler() -> None:
    with pytest.raises(EngineUnavailable, match="could not reach the Dask scheduler"):
        with open_engine(EngineSpec("dask", scheduler=f"tcp://127.0.0.1:{_closed_port()}", connect_timeout=0.5)):
            pass


@pytest.fixture
def without_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask distributed hidden, as when the extra is not installed."""
    monkeypatch.setitem(sys.modules, "distributed", None)


@pytest.mark.usefixtures("without_dask")
def test_engine_dask_without_the_extra_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "audit.yaml"
    cfg.write_text('version: 1\naccounts:\n  - id: "111111111111"\nregions: [us-east-1]\n', encoding="utf-8")
    for command in (["collect", "-c", str(cfg), "--out", str(tmp_path / "s")], ["scan", "-c", str(cfg)]):
        proc = run_auditor(*command, "--engine", "dask", "--workers", "2", cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "--engine dask needs Dask distributed" in proc.stderr
        assert "private-network-auditor[distributed]" in proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "s").exists()
    with pytest.raises(EngineUnavailable, match=r"optional extra 'distributed'"):
        with open_engine(EngineSpec("dask", workers=1)):
            pass


@pytest.mark.usefixtures("without_dask")
def test_the_local_engine_needs_no_dask() -> None:
    with open_engine(EngineSpec("local")) as engine:
        assert engine is None
    with open_engine(None) as engine:
        assert engine is None


def test_importing_the_tool_does_not_import_dask() -> None:
    code = ("import sys, auditor.cli, auditor.api, auditor.distributed, auditor.distributed.cluster, "
            "auditor.distributed.options, auditor.partition, auditor.scan; "
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, 'dask imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("args, message", [
    (["--scheduler", "tcp://h:8786"], "--scheduler and --workers need --engine dask"),
    (["--engine", "dask", "--scheduler", "tcp://h:8786", "--workers", "2"], "not both"),
    (["--engine", "spark"], "'spark' is not one of"),
])
def test_engine_option_misuse_is_a_usage_error(args: list[str], message: str, tmp_path: Path) -> None:
    proc = run_auditor("collect", "--out", str(tmp_path / "s"), *args, cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
