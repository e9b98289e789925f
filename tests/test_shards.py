"""Shards and resume: ``--shard i/N``, checkpoints, ``--resume`` and ``merge-snapshots``.

The estate: five accounts in moto (in process), one region, networks in three of them. The
account ids are fixed, so their shards (a hash of the id) are too: of 3 shards, shard 1 holds
666666666666, shard 2 123456789012 and 111111111111, shard 3 222222222222 and 333333333333
(`test_the_estate_spreads_over_every_shard` checks it, so a change of the hash is seen).

"Byte-identical findings" compares findings.json's findings, not_assessed, scope_gaps,
summary and rules sections (json.dumps with sort_keys). Run metadata (times, the manifest's
hash, the resumed and shard sections) differs between two runs by nature and is left out.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import DUMMY_ACCESS_KEY, DUMMY_SECRET, HOME_ACCOUNT, make_config, make_network, run_auditor

from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.errors import SnapshotError
from auditor.scan import evaluate_snapshot, prepare, write_findings
from auditor.snapshot.checkpoint import open_resume
from auditor.snapshot.merge import merge_snapshots
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.records import canonical_json
from auditor.snapshot.shards import Shard, ShardError, parse_shard, shard_of
from auditor.snapshot.writer import SnapshotWriter

ACCOUNTS = (HOME_ACCOUNT, "111111111111", "222222222222", "333333333333", "666666666666")
SHARDS = {1: ["666666666666"], 2: ["111111111111", HOME_ACCOUNT], 3: ["222222222222", "333333333333"]}
REGION = "eu-west-1"
SECTIONS = ("findings", "not_assessed", "scope_gaps", "summary", "rules")


def _config() -> Any:
    return make_config([(a, None if a == HOME_ACCOUNT else f"arn:aws:iam::{a}:role/auditor") for a in ACCOUNTS],
                       (REGION,))


@dataclass
class World:
    """One estate (moto, kept for the module), collected once whole, once per shard, and once
    crashed after two tasks: the tests share these runs (each copies what it changes)."""

    config: Any
    single: Path
    shards: dict[int, Path]
    crashed: Path      # the .partial folder a run killed after 2 task checkpoints left
    root: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    import moto

    root = tmp_path_factory.mktemp("shards")
    empty = tmp_path_factory.mktemp("no-aws-config")
    with pytest.MonkeyPatch.context() as mp:
        for var in [v for v in os.environ if v.startswith("AWS_")]:
            mp.delenv(var)
        mp.setenv("AWS_CONFIG_FILE", str(empty / "config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY)
        mp.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with moto.mock_aws():
            for i, acct in enumerate((HOME_ACCOUNT, "222222222222", "666666666666")):
                make_network(acct, REGION, f"10.{30 + i}.0.0/16")
            config = _config()
            single = _collect(config, root / "single").path
            shards = {i: _collect(config, root / f"shard{i}", shard=Shard(i, 3)).path for i in (1, 2, 3)}
            crashed = _crash(config, root / "crashed", 2)
            yield World(config, single, shards, crashed, root)


def _collect(config: Any, folder: Path, **kw: Any) -> Any:
    writer = kw.pop("writer", None) or SnapshotWriter(folder)
    return collect(config, SessionFactory(max_attempts=2), writer, **kw)


def _findings(snapshot: Path, tmp: Path, config: Any = None) -> dict[str, str]:
    """findings.json's run-independent sections of a scan of `snapshot`, as text."""
    doc = evaluate_snapshot(load_snapshot(snapshot), prepare(config))
    out = tmp / ("findings-" + snapshot.name)
    written = json.loads(write_findings(doc, out).read_text())
    return {k: json.dumps(written[k], sort_keys=True) for k in SECTIONS}


def test_the_estate_spreads_over_every_shard() -> None:
    assert {i: sorted(a for a in ACCOUNTS if shard_of(a, 3) == i) for i in (1, 2, 3)} == SHARDS
    # an account's shard depends on its id and N only: more accounts move nobody
    assert all(Shard(shard_of(a, 3), 3).split([*ACCOUNTS, "999999999999", "444444444444"])[0].count(a) == 1
               for a in ACCOUNTS)


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/b", "1/0", "", "2", "-1/3", "1/3/4"])
def test_bad_shard_values_are_refused(text: str) -> None:
    with pytest.raises(ShardError, match="--shard"):
        parse_shard(text)
    assert parse_shard(" 2/3 ") == Shard(2, 3)


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/b", "1/0"])
def test_bad_shard_on_the_command_line_is_exit_2(text: str, tmp_path: Path) -> None:
    for command in (["collect", "--out", str(tmp_path / "s")], ["scan", "--out", str(tmp_path / "o")]):
        done = run_auditor(*command, "--shard", text)
        assert done.returncode == 2, done.stderr
        assert "--shard" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "s").exists() and not (tmp_path / "s.partial").exists()


def test_caller_account_cannot_be_sharded(aws_env: None, tmp_path: Path) -> None:
    done = run_auditor("collect", "--out", str(tmp_path / "s"), "--shard", "2/3")
    assert done.returncode == 2
    assert "caller's own account only, which cannot be split" in done.stderr
    assert not (tmp_path / "s.partial").exists()
    # one shard of one is the whole run: allowed (checked here without collecting)
    from auditor.snapshot.shards import check_shardable
    check_shardable(make_config((), (REGION,)), Shard(1, 1))


def test_each_shard_collects_its_accounts_and_names_the_others(world: World) -> None:
    for i, path in world.shards.items():
        m = load_snapshot(path).manifest
        assert m["shard"]["index"] == i and m["shard"]["count"] == 3 and m["shard"]["accounts"] == SHARDS[i]
        assert {o["index"]: o["accounts"] for o in m["shard"]["other_shards"]} == {
            j: SHARDS[j] for j in SHARDS if j != i}
        # the other shards' accounts are named, never hidden, and nothing was collected there
        others = {a["id"]: a["problem"] for a in m["accounts"] if a["id"] not in SHARDS[i]}
        assert set(others) == set(ACCOUNTS) - set(SHARDS[i])
        assert all(f"belongs to shard {shard_of(a, 3)}/3 (this is shard {i}/3)" in why for a, why in others.items())
        assert {c["account"] for c in m["calls"]} == set(SHARDS[i])
        assert {t["account"] for t in m["tasks"] if t["status"] == "not_attempted"} == set(others)
        assert m["complete"] is False
        assert not (path / "checkpoints").exists()   # a finished snapshot holds none


def test_three_shards_merged_are_the_single_run(world: World, tmp_path: Path) -> None:
    single = load_snapshot(world.single)
    # merged in any order
    merged = merge_snapshots([world.shards[3], world.shards[1], world.shards[2]], tmp_path / "merged")
    snap = load_snapshot(merged.path)
    assert snap.manifest["shard"]["merged"] == [1, 2, 3] and snap.manifest["shard"]["missing"] == []
    # the same record files (their bytes may differ where moto draws ids: an assumed role's UserId)
    assert set(snap.manifest["files"]) == set(single.manifest["files"])
    assert snap.manifest["tasks"] == single.manifest["tasks"]
    assert snap.manifest["regions"] == single.manifest["regions"]
    strip = [{k: v for k, v in a.items() if k != "identity"} for a in snap.manifest["accounts"]]
    assert strip == [{k: v for k, v in a.items() if k != "identity"} for a in single.manifest["accounts"]]
    assert merged.complete == single.complete
    assert _findings(merged.path, tmp_path) == _findings(world.single, tmp_path)


def test_a_lone_shard_is_never_complete(world: World) -> None:
    doc = evaluate_snapshot(load_snapshot(world.shards[1]), prepare(None))
    gaps = json.dumps(doc["not_assessed"], default=str)
    for acct in set(ACCOUNTS) - {"666666666666"}:
        assert f"{acct}" in gaps and f"belongs to shard {shard_of(acct, 3)}/3" in gaps
    assert doc["summary"]["complete"] is False
    assert doc["summary"]["findings"]["ERROR"] > 0


def test_missing_shard_leaves_error_gaps(world: World, tmp_path: Path) -> None:
    merged = merge_snapshots([world.shards[1], world.shards[3]], tmp_path / "merged")
    assert merged.manifest["shard"]["missing"] == [2] and not merged.complete
    doc = evaluate_snapshot(load_snapshot(merged.path), prepare(None))
    text = json.dumps(doc["not_assessed"], default=str)
    for acct in SHARDS[2]:
        assert acct in text
    assert "which is not among the merged snapshots" in text
    assert doc["summary"]["complete"] is False


def _edited(src: Path, dst: Path, edit: Any) -> Path:
    """A copy of the snapshot `src` whose manifest `edit` changed (record hashes kept valid)."""
    shutil.copytree(src, dst)
    m = json.loads((dst / "manifest.json").read_text())
    edit(m)
    (dst / "manifest.json").write_bytes(canonical_json(m))
    return dst


def _set_record(m: dict[str, Any], folder: Path, rel: str, body: dict[str, Any]) -> None:
    """Put the record `body` at `rel` in the snapshot `folder` whose manifest is `m`."""
    data = canonical_json(body)
    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
    (folder / rel).write_bytes(data)
    m["files"][rel] = "sha256:" + hashlib.sha256(data).hexdigest()
    m["calls"] = [c for c in m["calls"] if c["record"] != rel] + [
        {"record": rel, "account": body["account"], "region": body["region"], "service": body["service"],
         "operation": body["operation"], "params": {}, "pages": len(body["pages"]), "started": "",
         "duration_ms": 0, "retries": 0, "status": "ok"}]


LIST = f"records/{HOME_ACCOUNT}/_discovery/organizations/ListAccounts.json"


def _listing(n: int) -> dict[str, Any]:
    return {"account": HOME_ACCOUNT, "region": "_discovery", "service": "organizations", "operation": "ListAccounts",
            "params": {}, "pages": [{"Accounts": [{"Id": a} for a in ACCOUNTS[:n]]}]}


def test_merge_refuses_what_is_not_one_run(world: World, tmp_path: Path) -> None:
    one, two, three = world.shards[1], world.shards[2], world.shards[3]
    with pytest.raises(SnapshotError, match="not a shard snapshot"):
        merge_snapshots([one, world.single], tmp_path / "m1")
    with pytest.raises(SnapshotError, match="given twice"):
        merge_snapshots([one, one], tmp_path / "m2")
    of_two = _edited(one, tmp_path / "of-two", lambda m: m["shard"].update(count=2))
    with pytest.raises(SnapshotError, match="a shard of 2"):
        merge_snapshots([three, of_two], tmp_path / "m3")
    other = _edited(three, tmp_path / "other-config", lambda m: m["config"].update(digest="sha256:" + "0" * 64))
    with pytest.raises(SnapshotError, match="audit config differs"):
        merge_snapshots([one, other], tmp_path / "m4")
    # a record of an account that is not the shard's own
    stray = "records/666666666666/eu-west-1/ec2/DescribeVpcs.json"
    smuggled = _edited(two, tmp_path / "smuggled", lambda m: _set_record(
        m, tmp_path / "smuggled", stray, json.loads((one / stray).read_text())))
    with pytest.raises(SnapshotError, match="not one of shard 2/3's accounts"):
        merge_snapshots([one, smuggled], tmp_path / "m5")
    # The same discovery record in two shards: kept once when identical, a conflict when not.
    same_a = _edited(one, tmp_path / "same-a", lambda m: _set_record(m, tmp_path / "same-a", LIST, _listing(5)))
    same_b = _edited(three, tmp_path / "same-b", lambda m: _set_record(m, tmp_path / "same-b", LIST, _listing(5)))
    kept = merge_snapshots([same_a, same_b], tmp_path / "kept")
    assert LIST in kept.manifest["files"] and [c["record"] for c in kept.manifest["calls"]].count(LIST) == 1
    differs = _edited(three, tmp_path / "differs", lambda m: _set_record(m, tmp_path / "differs", LIST, _listing(4)))
    with pytest.raises(SnapshotError, match=f"conflict: {LIST} differs between"):
        merge_snapshots([same_a, differs], tmp_path / "m6")
    # a tampered shard fails its own verification first
    tampered = shutil.copytree(two, tmp_path / "tampered")
    rec = sorted((tampered / "records").rglob("*.json"))[0]
    rec.write_bytes(rec.read_bytes() + b" ")
    with pytest.raises(SnapshotError, match="SHA-256 does not match"):
        merge_snapshots([one, tampered], tmp_path / "m7")
    for name in ("m1", "m2", "m3", "m4", "m5", "m6", "m7"):
        assert not (tmp_path / name).exists() and not (tmp_path / f"{name}.partial").exists()


def test_merge_on_the_command_line_then_scan_and_verify(world: World, tmp_path: Path) -> None:
    done = run_auditor("collect", "-c", str(_config_file(tmp_path)), "--out", str(tmp_path / "s1"),
                       "--shard", "1/3", "-q")
    assert done.returncode == 3, done.stderr   # a lone shard is incomplete
    assert load_snapshot(tmp_path / "s1").manifest["shard"]["accounts"] == SHARDS[1]
    # a scan of one shard: collected and evaluated, the other shards' accounts ERROR gaps
    done = run_auditor("scan", "-c", str(_config_file(tmp_path)), "--out", str(tmp_path / "scan2"),
                       "--shard", "2/3", "--format", "sarif", "-q")
    assert done.returncode in (3, 4), done.stderr
    lone = json.loads((tmp_path / "scan2" / "findings.json").read_text())
    assert {g["account"] for g in lone["not_assessed"]} >= set(SHARDS[1] + SHARDS[3])
    assert lone["summary"]["complete"] is False
    done = run_auditor("merge-snapshots", "--out", str(tmp_path / "merged"), str(world.shards[3]),
                       str(tmp_path / "s1"), str(tmp_path / "scan2" / "snapshot"))
    assert done.returncode == 3, done.stderr   # moto lacks two calls: incomplete as the single run
    assert "shards 1, 2, 3 of 3" in done.stdout
    done = run_auditor("scan", "--snapshot", str(tmp_path / "merged"), "--out", str(tmp_path / "scan"),
                       "--format", "sarif", "-q")
    assert done.returncode in (3, 4), done.stderr
    done = run_auditor("verify", str(tmp_path / "scan"))
    assert done.returncode == 0, done.stdout + done.stderr
    bad = run_auditor("merge-snapshots", "--out", str(tmp_path / "again"), str(world.shards[1]),
                      str(world.shards[1]))
    assert bad.returncode == 2 and "given twice" in bad.stderr and "Traceback" not in bad.stderr


def _config_file(tmp: Path) -> Path:
    path = tmp / "audit.yaml"
    if not path.exists():
        lines = ["version: 1", "accounts:"]
        for a in ACCOUNTS:
            lines.append(f'  - id: "{a}"')
            if a != HOME_ACCOUNT:
                lines.append(f"    role_arn: arn:aws:iam::{a}:role/auditor")
        lines.append(f"regions: [{REGION}]")
        path.write_text("\n".join(lines) + "\n")
    return path


# -- crash and resume ----------------------------------------------------------------------------

class Crash(BaseException):
    """What a crash does to the run: it stops here, whatever is in flight."""


class CrashingWriter(SnapshotWriter):
    """A snapshot writer that crashes the run once `after` task checkpoints are written (the
    checkpointer's thread stops there; the run raises the crash at its next finished task).

    Deterministic whatever the machine's speed: the records of every account-region after the
    first `after` to start are held in `add` until the crash, so those tasks can finish (and
    the run see the crash) only after it; a run cannot end before its crash."""

    def __init__(self, folder: Path, after: int) -> None:
        super().__init__(folder)
        self.after = after
        self.done = 0
        self.crashed = threading.Event()
        self._first: set[tuple[str, str]] = set()
        self._gate = threading.Lock()

    def add(self, record: Any) -> None:
        pair = (record.account, record.region)
        if not record.region.startswith("_"):
            with self._gate:
                if pair not in self._first and len(self._first) < self.after:
                    self._first.add(pair)
                held = pair not in self._first
            if held:
                self.crashed.wait()
        super().add(record)

    def checkpoints(self, batch: Any) -> None:
        for item in batch:
            super().checkpoints([item])
            if item[0].startswith("tasks/"):
                self.done += 1
                if self.done == self.after:
                    self.crashed.set()
                    raise Crash


def _crash(config: Any, folder: Path, after: int) -> Path:
    """The .partial folder of a run crashed after `after` task checkpoints."""
    with pytest.raises(Crash):
        _collect(config, folder, writer=CrashingWriter(folder, after))
    # The tasks in flight stop at once (the run's stop event); wait for the pool's threads.
    for thread in threading.enumerate():
        if thread.name.startswith("collect"):
            thread.join()
    partial = folder.with_name(folder.name + ".partial")
    assert len(list((partial / "checkpoints" / "tasks").rglob("*.json"))) == after
    return partial


def _copy_crashed(world: World, folder: Path, *, killed: bool) -> Path:
    partial = shutil.copytree(world.crashed, folder.with_name(folder.name + ".partial"))
    if killed:   # killed outright: no interrupted manifest was written
        (partial / "manifest.json").unlink()
    return partial


@pytest.mark.parametrize("killed", [False, True], ids=["interrupted", "killed"])
def test_crash_then_resume_is_the_single_run(world: World, tmp_path: Path, killed: bool) -> None:
    single = load_snapshot(world.single).manifest
    partial = _copy_crashed(world, tmp_path / "run", killed=killed)
    kept = set(open_resume(partial).files)
    # A record file no checkpoint names, torn by the crash: never trusted, collected again.
    torn = sorted(set(single["files"]) - kept)[0]
    (partial / torn).parent.mkdir(parents=True, exist_ok=True)
    (partial / torn).write_bytes(b'{"account": "1')
    state = open_resume(tmp_path / "run" if killed else partial)   # either name of the folder
    assert torn in state.discarded
    res = collect(world.config, SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "run", resume=True),
                  resume=state)
    assert res.path == tmp_path / "run" and not partial.exists()
    m = load_snapshot(res.path).manifest
    resumed = m["resumed"][-1]
    assert resumed["kept_tasks"] == 2 and torn in {d["file"] for d in resumed["discarded"]}
    assert len(resumed["recollected_tasks"]) == len(ACCOUNTS) - 2
    # the accounts still needed were opened again, identity checked, and no second record written
    assert resumed["reopened"] and all(r["identity_checked"] for r in resumed["reopened"])
    assert {r["account"] for r in resumed["reopened"]} <= set(ACCOUNTS)
    own = [c["record"] for c in m["calls"] if c["operation"] in ("AssumeRole", "GetCallerIdentity")]
    assert sorted(own) == sorted(c["record"] for c in single["calls"]
                                 if c["operation"] in ("AssumeRole", "GetCallerIdentity"))
    assert set(m["files"]) == set(single["files"])
    assert m["tasks"] == single["tasks"] and m["started"] == json.loads(
        (world.crashed / "checkpoints" / "run.json").read_text())["started"]
    assert _findings(res.path, tmp_path) == _findings(world.single, tmp_path)


def test_resume_refuses_a_tampered_checkpointed_record(world: World, tmp_path: Path) -> None:
    partial = _copy_crashed(world, tmp_path / "run", killed=True)
    rel = sorted(open_resume(partial).files)[0]
    (partial / rel).write_bytes((partial / rel).read_bytes().replace(b"\n", b" \n", 1))
    with pytest.raises(SnapshotError, match="does not match its checkpoint"):
        open_resume(partial)
    done = run_auditor("collect", "-c", str(_config_file(tmp_path)), "--resume", str(partial))
    assert done.returncode == 2 and "does not match its checkpoint" in done.stderr
    assert "Traceback" not in done.stderr
    assert (partial / rel).exists()   # evidence is never deleted by a refused resume


def test_resume_refuses_other_inputs(world: World, tmp_path: Path) -> None:
    partial = _copy_crashed(world, tmp_path / "run", killed=False)
    (partial / "records" / "stray.json").write_bytes(b"{}")
    other = make_config([(a, f"arn:aws:iam::{a}:role/auditor") for a in ACCOUNTS[1:]], (REGION,))
    with pytest.raises(SnapshotError, match="audit config differs"):
        collect(other, SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "run", resume=True),
                resume=open_resume(partial))
    assert (partial / "records" / "stray.json").exists()   # a refused resume throws nothing away
    with pytest.raises(SnapshotError, match="finished snapshot"):
        open_resume(world.single)
    (tmp_path / "junk.partial").mkdir()
    (tmp_path / "junk.partial" / "notes.txt").write_text("hello")
    with pytest.raises(SnapshotError, match="not a snapshot folder"):
        open_resume(tmp_path / "junk")
    with pytest.raises(SnapshotError, match="no such folder"):
        open_resume(tmp_path / "nowhere")
    for args, why in ((["--resume", str(world.single)], "finished snapshot"),
                      (["--resume", str(tmp_path / "junk.partial")], "not a snapshot folder"),
                      (["--resume", str(partial), "--shard", "1/2"], "give only --resume"),
                      (["--resume", str(partial), "--out", str(tmp_path / "x")], "give only --resume"),
                      ([], "Missing option '--out'")):
        cli = run_auditor("collect", "-c", str(_config_file(tmp_path)), *args)
        assert cli.returncode == 2 and why in cli.stderr, (args, cli.stderr)
        assert "Traceback" not in cli.stderr
    other_file = tmp_path / "other.yaml"
    other_file.write_text(_config_file(tmp_path).read_text().replace("regions: [eu-west-1]", "regions: [us-east-1]"))
    cli = run_auditor("collect", "-c", str(other_file), "--resume", str(partial))
    assert cli.returncode == 2 and "audit config differs" in cli.stderr


def test_resume_on_the_command_line(world: World, tmp_path: Path) -> None:
    partial = _copy_crashed(world, tmp_path / "run", killed=True)
    kept = set(open_resume(partial).files)
    done = run_auditor("collect", "-c", str(_config_file(tmp_path)), "--resume", str(partial), "-q")
    assert done.returncode == 3, done.stderr    # moto lacks two calls: incomplete as the single run
    m = load_snapshot(tmp_path / "run").manifest
    assert kept <= set(m["files"]) and m["resumed"][-1]["kept_tasks"] == 2
    assert m["files"].keys() == load_snapshot(world.single).manifest["files"].keys()


def test_merging_loads_no_aws_library(world: World, tmp_path: Path) -> None:
    """merge-snapshots is offline: it never imports botocore, boto3 or moto."""
    child = (
        "import sys\n"
        "from auditor.cli import main\n"
        f"sys.argv = ['auditor', 'merge-snapshots', '--out', {str(tmp_path / 'm')!r}, "
        f"{str(world.shards[1])!r}, {str(world.shards[2])!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('botocore', 'boto3', 'moto')))\n")
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=False)
    assert done.stdout.splitlines()[-1] == "3 []", done.stdout + done.stderr
