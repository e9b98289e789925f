"""The local run store (auditor/store/local.py): registering copies a bundle exactly and read-only,
re-hashed against its bundle.json, committed by one rename; the SQLite index is a cache rebuilt
from the run folders whenever it is missing or wrong; ids, prefixes, latest and previous; retention
reported; and the config's `store:` and `schedule:` blocks."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from auditor.bundle import BUNDLE_FILE
from auditor.config import config_from_text
from auditor.errors import InputError
from auditor.rules.fixtures import ACCOUNT, REGION, Case, records_for
from auditor.snapshot.writer import SnapshotWriter
from auditor.store import REGIME_RETENTION, Retention, RunExists, StoreError, StoreSpec, describe_bundle, open_store
from auditor.store.local import INCOMING, INDEX, LocalStore
from conftest import run_auditor
from test_bundle import CALLS

OTHER_ACCOUNT = "222222222222"
# (collection day, account) of each bundle the tests register
RUNS = (("2026-03-01", ACCOUNT), ("2026-03-08", ACCOUNT), ("2026-03-15", OTHER_ACCOUNT))


@dataclass(frozen=True)
class Bundles:
    root: Path
    folders: tuple[Path, ...]          # one bundle per RUNS entry, in that order (never written by the tests)
    snapshots: tuple[Path, ...]


def make_bundles(root: Path) -> Bundles:
    """Small real bundles: a snapshot per RUNS entry (the bundle tests' calls) and `auditor scan
    --snapshot` on it, with only the CSV report (cheap)."""
    folders, snaps = [], []
    for i, (day, account) in enumerate(RUNS):
        snap = root / f"snap{i}"
        writer = SnapshotWriter(snap)
        for rec in records_for(Case(rule="", name="store", file="", line=0, calls=CALLS, failed=(), region=REGION)):
            writer.add(rec)
        writer.finish({"started": f"{day}T10:00:00Z", "finished": f"{day}T10:01:00Z", "regions": [REGION],
                       "accounts": [{"id": account, "name": "t", "regions": [REGION]}],
                       "config": {"digest": "sha256:x"}})
        proc = run_auditor("scan", "--snapshot", str(snap), "--out", str(root / f"bundle{i}"), "--format", "csv")
        assert proc.returncode == 4, proc.stdout + proc.stderr     # FAILs and ERRORs: a real, incomplete run
        folders.append(root / f"bundle{i}")
        snaps.append(snap)
    return Bundles(root, tuple(folders), tuple(snaps))


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    return make_bundles(tmp_path_factory.mktemp("bundles"))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _store(tmp_path: Path, retention: Retention | None = None) -> LocalStore:
    store = LocalStore.open(tmp_path / "store", StoreSpec(str(tmp_path / "store"), retention=retention), create=True)
    assert store.notes == []          # a new store has nothing to say
    return store


# -- registering -------------------------------------------------------------------------------

def test_a_registered_run_is_the_bundle_exactly_read_only_and_indexed(bundles: Bundles, tmp_path: Path) -> None:
    store = _store(tmp_path)
    run = store.register(bundles.folders[0], signer="ed25519:0123")
    folder = store.fetch(run)
    assert folder == tmp_path / "store" / "runs" / run.run_id
    assert _files(folder) == _files(bundles.folders[0])               # every byte, nothing added or left out
    for p in folder.rglob("*"):
        assert stat.S_IMODE(p.stat().st_mode) == (0o555 if p.is_dir() else 0o444), p
    assert stat.S_IMODE(folder.stat().st_mode) == 0o555
    described = describe_bundle(bundles.folders[0])
    for name in ("run_id", "created", "assessed_on", "accounts", "regions", "counts", "complete", "signed",
                 "bundle_sha256", "manifest_sha256", "tool_version"):
        assert getattr(run, name) == getattr(described, name), name
    assert run.accounts == (ACCOUNT,) and run.created == "2026-03-01T10:01:00Z"
    assert run.counts["FAIL"] > 0 and run.counts["ERROR"] > 0 and not run.complete
    assert run.signer == "ed25519:0123" and run.registered.endswith("Z") and run.location == str(folder)
    reg = json.loads((folder.parent / f"{run.run_id}.registration.json").read_text())
    assert reg["registered"] == run.registered and reg["bundle_sha256"] == run.bundle_sha256
    assert reg["enforced"] is False
    assert not any((tmp_path / "store" / INCOMING).iterdir())      # the staging folder became the run
    again = LocalStore.open(tmp_path / "store")
    assert again.notes == [] and [r.to_json() for r in again.runs()] == [run.to_json()]


def test_the_same_run_twice_is_refused_and_nothing_changes(bundles: Bundles, tmp_path: Path) -> None:
    store = _store(tmp_path)
    first = store.register(bundles.folders[0])
    before = _files(tmp_path / "store" / "runs")
    with pytest.raises(RunExists, match=f"run {first.run_id} is already in"):
        store.register(bundles.folders[0])
    assert _files(tmp_path / "store" / "runs") == before
    assert [r.run_id for r in store.runs()] == [first.run_id]


def test_a_bundle_whose_files_do_not_match_its_manifest_is_refused(bundles: Bundles, tmp_path: Path) -> None:
    copy = tmp_path / "changed"
    shutil.copytree(bundles.folders[0], copy)
    (copy / "findings.csv").write_text("changed after the bundle was written\n")
    (copy / "extra.txt").write_text("not in bundle.json\n")
    store = _store(tmp_path)
    with pytest.raises(StoreError, match=r"does not match its bundle.json \(extra.txt: not in bundle.json; "
                                         r"findings.csv: SHA-256 differs"):
        store.register(copy)
    assert store.runs() == [] and not any((tmp_path / "store" / "runs").iterdir())
    assert not any((tmp_path / "store" / INCOMING).iterdir())       # the refused copy is removed


@pytest.mark.parametrize("kind", ["empty", "no-findings", "garbage-manifest", "link"])
def test_a_folder_that_is_not_a_bundle_is_refused(bundles: Bundles, tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "notabundle"
    if kind == "empty":
        folder.mkdir()
    else:
        shutil.copytree(bundles.folders[0], folder)
        if kind == "no-findings":
            (folder / "findings.json").unlink()
        elif kind == "garbage-manifest":
            (folder / BUNDLE_FILE).write_text("[1, 2]")
        else:
            (folder / "findings.csv").unlink()
            (folder / "findings.csv").symlink_to(bundles.folders[1] / "findings.csv")
    store = _store(tmp_path)
    with pytest.raises(StoreError, match="notabundle"):
        store.register(folder)
    assert store.runs() == [] and not any((tmp_path / "store" / "runs").iterdir())


def test_an_interrupted_copy_registers_nothing(bundles: Bundles, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up in the middle of the copy (the fifth file's flush fails): no run is
    listed, runs/ stays empty, the staging folder is removed; the same bundle registers later."""
    store = _store(tmp_path)
    real, calls = os.fsync, []

    def full_disk(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        store.register(bundles.folders[0])
    monkeypatch.setattr(os, "fsync", real)
    assert len(calls) == 5 and len(_files(bundles.folders[0])) > 5       # it failed midway
    assert store.runs() == [] and not any((tmp_path / "store" / "runs").iterdir())
    assert not any((tmp_path / "store" / INCOMING).iterdir())
    reopened = LocalStore.open(tmp_path / "store")
    assert reopened.runs() == [] and reopened.notes == []
    assert reopened.register(bundles.folders[0]).run_id == describe_bundle(bundles.folders[0]).run_id


def test_a_killed_registration_leaves_an_unlisted_leftover_that_is_reported(bundles: Bundles, tmp_path: Path) -> None:
    """What a process killed mid-copy leaves (a staging folder with part of the bundle) is never
    a run; opening the store says how many there are and that they can be removed."""
    store = _store(tmp_path)
    run = store.register(bundles.folders[1])
    dead = tmp_path / "store" / INCOMING / f"{describe_bundle(bundles.folders[0]).run_id}-deadbeef"
    shutil.copytree(bundles.folders[0] / "snapshot", dead / "snapshot")
    shutil.copy(bundles.folders[0] / BUNDLE_FILE, dead / BUNDLE_FILE)
    again = LocalStore.open(tmp_path / "store")
    assert [r.run_id for r in again.runs()] == [run.run_id]
    assert again.leftovers == 1
    assert any("1 interrupted registration(s) left in" in n and "can be removed" in n for n in again.notes)
    with pytest.raises(StoreError):
        again.get(dead.name[:16])


def test_two_processes_registering_the_same_run_at_once(bundles: Bundles, tmp_path: Path) -> None:
    """Two real processes race to register one bundle: exactly one succeeds, the other is told
    the run is already stored, one run is listed and nothing is left in .incoming/."""
    _store(tmp_path)
    args = [sys.executable, "-m", "auditor", "store", "register", str(bundles.folders[0]), "--store",
            str(tmp_path / "store")]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    done = [(p.wait(timeout=120), p.stdout.read() if p.stdout else "", p.stderr.read() if p.stderr else "")
            for p in procs]
    assert sorted(code for code, _, _ in done) == [0, 2], done
    loser = next(err for code, _, err in done if code == 2)
    assert "is already in" in loser
    store = LocalStore.open(tmp_path / "store")
    assert [r.run_id for r in store.runs()] == [describe_bundle(bundles.folders[0]).run_id]
    assert store.notes == [] and store.leftovers == 0


# -- opening -----------------------------------------------------------------------------------

def test_a_folder_that_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=f"there is no run store at {tmp_path / 'absent'}"):
        LocalStore.open(tmp_path / "absent")
    assert not (tmp_path / "absent").exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("someone's files")
    for create in (False, True):                       # a non-empty folder never becomes a store
        with pytest.raises(StoreError, match=f"{busy} is not a run store"):
            LocalStore.open(busy, create=create)
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        open_store(str(tmp_path / "file"), create=True)
    other = tmp_path / "other"
    other.mkdir()
    (other / "store.json").write_text('{"format": "something-else", "version": 1}')
    with pytest.raises(StoreError, match="is not a run store"):
        LocalStore.open(other)
    empty = tmp_path / "empty"
    empty.mkdir()
    store = open_store(str(empty), create=True)
    assert isinstance(store, LocalStore) and store.runs() == []
    assert json.loads((empty / "store.json").read_text())["format"] == "private-network-auditor-store"


@pytest.mark.parametrize("damage", ["not-sqlite", "missing", "wrong-schema", "row-of-a-gone-run", "row-missing",
                                    "empty-file", "row-garbage"])
def test_a_damaged_index_is_rebuilt_and_nothing_is_lost(bundles: Bundles, tmp_path: Path, damage: str) -> None:
    store = _store(tmp_path)
    for folder in bundles.folders:
        store.register(folder, signer="me")
    before = [r.to_json() for r in store.runs()]
    index = tmp_path / "store" / INDEX
    if damage == "not-sqlite":
        index.write_bytes(b"this is not a database\n" * 100)
    elif damage == "empty-file":
        index.write_bytes(b"")
    elif damage == "missing":
        index.unlink()
    else:
        conn = sqlite3.connect(index)
        if damage == "wrong-schema":
            conn.execute("ALTER TABLE runs ADD COLUMN surprise TEXT")
        elif damage == "row-garbage":
            conn.execute("UPDATE runs SET record = '{\"run_id\": 7}' WHERE run_id = ?", (before[0]["run_id"],))
        elif damage == "row-of-a-gone-run":
            row = conn.execute("SELECT record FROM runs").fetchone()[0]
            conn.execute("INSERT INTO runs VALUES ('ffffffffffffffff', '2026-01-01', '[]', ?)", (row,))
        else:
            conn.execute("DELETE FROM runs WHERE run_id = ?", (before[1]["run_id"],))
        conn.commit()
        conn.close()
    again = LocalStore.open(tmp_path / "store")
    assert [r.to_json() for r in again.runs()] == before        # registration time and signer included
    assert len(again.notes) == 1 and again.notes[0].startswith("index rebuilt from the 3 stored run(s)")
    assert "nothing was lost" in again.notes[0]
    assert LocalStore.open(tmp_path / "store").notes == []       # rebuilt once


def test_a_run_folder_that_is_no_longer_a_bundle_is_reported_not_hidden(bundles: Bundles, tmp_path: Path) -> None:
    """A stored run whose bundle.json was removed by hand cannot be described: the rebuilt index
    leaves it out and every opening says so, naming it; the other runs are all there."""
    store = _store(tmp_path)
    runs = [store.register(f) for f in bundles.folders]
    broken = tmp_path / "store" / "runs" / runs[1].run_id
    os.chmod(broken, 0o755)
    (broken / BUNDLE_FILE).unlink()
    (tmp_path / "store" / INDEX).unlink()
    for _ in range(2):
        again = LocalStore.open(tmp_path / "store")
        assert [r.run_id for r in again.runs()] == [runs[0].run_id, runs[2].run_id]
        assert any(n.startswith(f"runs/{runs[1].run_id} is not listed: ") for n in again.notes), again.notes
    with pytest.raises(StoreError):
        again.get(runs[1].run_id)


# -- finding runs ------------------------------------------------------------------------------

def test_runs_filters_and_refs(bundles: Bundles, tmp_path: Path) -> None:
    store = _store(tmp_path)
    for folder in reversed(bundles.folders):                     # registered newest first: listed oldest first
        store.register(folder)
    ids = [describe_bundle(f).run_id for f in bundles.folders]
    assert [r.run_id for r in store.runs()] == ids
    assert [r.run_id for r in store.runs(since=date(2026, 3, 8))] == ids[1:]
    assert [r.run_id for r in store.runs(until=date(2026, 3, 8))] == ids[:2]
    assert [r.run_id for r in store.runs(since=date(2026, 3, 2), until=date(2026, 3, 14))] == ids[1:2]
    assert [r.run_id for r in store.runs(account=OTHER_ACCOUNT)] == ids[2:]
    assert store.runs(since=date(2027, 1, 1)) == []
    assert store.get("latest").run_id == ids[2] and store.get("previous").run_id == ids[1]
    assert store.get(ids[0]).run_id == ids[0] and store.get(ids[0][:6]).run_id == ids[0]
    with pytest.raises(StoreError, match="needs 6 characters or more"):
        store.get(ids[0][:5])
    with pytest.raises(StoreError, match=r"no run 'nosuchrun' in .*; the closest stored run ids: ") as info:
        store.get("nosuchrun")
    assert all(i in str(info.value) for i in ids)


def test_an_ambiguous_prefix_lists_the_candidates(bundles: Bundles, tmp_path: Path) -> None:
    """Two runs whose ids share a prefix (ids written into copies of bundle.json, which no
    manifest entry covers) are told apart only by a longer prefix."""
    store = _store(tmp_path)
    for i, run_id in enumerate(("abcdef0001", "abcdef0002")):
        copy = tmp_path / f"copy{i}"
        shutil.copytree(bundles.folders[i], copy)
        doc = json.loads((copy / BUNDLE_FILE).read_text())
        (copy / BUNDLE_FILE).write_text(json.dumps({**doc, "run_id": run_id}))
        store.register(copy)
    with pytest.raises(StoreError, match="prefix 'abcdef' is ambiguous in .*: it matches abcdef0001, abcdef0002"):
        store.get("abcdef")
    assert store.get("abcdef0002").run_id == "abcdef0002"


def test_a_run_id_that_is_not_a_folder_name_is_refused(bundles: Bundles, tmp_path: Path) -> None:
    copy = tmp_path / "evil"
    shutil.copytree(bundles.folders[0], copy)
    doc = json.loads((copy / BUNDLE_FILE).read_text())
    (copy / BUNDLE_FILE).write_text(json.dumps({**doc, "run_id": "../../escape"}))
    store = _store(tmp_path)
    with pytest.raises(StoreError, match="is not a run id"):
        store.register(copy)
    assert not (tmp_path / "escape").exists() and store.runs() == []


def test_no_latest_in_an_empty_store(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for ref in ("latest", "previous"):
        with pytest.raises(StoreError, match=f"holds 0 run\\(s\\): there is no {ref} run"):
            store.get(ref)
    with pytest.raises(StoreError, match="the store holds no runs"):
        store.get("0123456789")


# -- retention ---------------------------------------------------------------------------------

def test_retention_is_recorded_per_run_and_reported_not_enforced(bundles: Bundles, tmp_path: Path) -> None:
    from auditor.cli_store import marks

    store = _store(tmp_path, REGIME_RETENTION["pci-dss"])
    run = store.register(bundles.folders[0])
    assert store.retention() == REGIME_RETENTION["pci-dss"]
    assert run.retain_until == "2027-03-01"                       # collected 2026-03-01, + 365 days
    assert run.extra["online_until"] == "2026-05-30"              # + 90 days
    assert marks(run, date(2026, 4, 1)) == []
    assert marks(run, date(2026, 6, 1)) == ["older than the online days"]
    assert marks(run, date(2027, 3, 2)) == ["PAST RETENTION"]
    # a store without a stated retention: nothing to mark; the retention stated at registration stays
    plain = LocalStore.open(tmp_path / "store")
    assert plain.retention().days == 0 and plain.retention().source == "none stated"
    assert plain.get(run.run_id).retain_until == "2027-03-01"
    other = _store(tmp_path / "b").register(bundles.folders[0])
    assert other.retain_until == "" and marks(other, date(2040, 1, 1)) == []


# -- the config's store: and schedule: ---------------------------------------------------------

def test_the_config_store_block(tmp_path: Path) -> None:
    cfg = config_from_text("version: 1\nstore:\n  location: evidence\n  retention: {regime: pci-dss}\n"
                           "schedule: weekly\n", "audit.yaml", tmp_path)
    assert cfg.store is not None and cfg.store.location == str(tmp_path / "evidence")
    assert cfg.store.retention == REGIME_RETENTION["pci-dss"] and cfg.schedule == "weekly"
    hipaa = config_from_text("version: 1\nstore:\n  location: s3://bucket/runs\n  region: eu-west-1\n  profile: vault\n"
                             "  retention: {regime: hipaa, mode: governance, days: 3000}\n", "a.yaml", tmp_path)
    assert hipaa.store is not None and hipaa.store.location == "s3://bucket/runs" and hipaa.store.is_s3
    assert (hipaa.store.region, hipaa.store.profile) == ("eu-west-1", "vault")
    r = hipaa.store.retention
    assert r is not None and (r.days, r.online_days, r.mode, r.regime) == (3000, 2192, "governance", "hipaa")
    assert "days set in the config" in r.source
    own = config_from_text("version: 1\nstore: {location: st, retention: {days: 400, online_days: 100}}\n", "a.yaml",
                           tmp_path)
    assert own.store is not None and own.store.retention is not None
    assert (own.store.retention.days, own.store.retention.online_days, own.store.retention.regime) == (400, 100, "")
    none = config_from_text("version: 1\n", "a.yaml", tmp_path)
    assert none.store is None and none.schedule == ""


@pytest.mark.parametrize("body, message", [
    ("store: {location: st, bogus: 1}", "store.bogus: unknown key 'bogus'"),
    ("store: {location: st, retention: {regime: sox}}", "store.retention.regime: 'sox' is not one of"),
    ("store: {location: st, retention: {mode: legal-hold, days: 3}}", "store.retention.mode: 'legal-hold'"),
    ("store: {location: st, retention: {online_days: 3}}", "give a regime (pci-dss, hipaa) or days"),
    ("store: {location: st, retention: {days: 10, online_days: 20}}", "online_days (20) is more than days (10)"),
    ("store: {location: st, region: eu-west-1}", "region applies only to an S3 store"),
    ("store: {location: 's3://'}", "names no bucket"),
    ("store: {retention: {regime: hipaa}}", "location"),
    ("schedule: 7", "schedule"),
])
def test_bad_store_blocks_are_errors_at_their_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        config_from_text("version: 1\n" + body + "\n", "audit.yaml", tmp_path)
    rendered = "\n".join(p.render() for p in info.value.problems)
    assert message in rendered and "audit.yaml:2:" in rendered, rendered


def test_the_schema_regimes_are_the_contract_regimes() -> None:
    schema = json.loads((Path(__file__).parent.parent / "auditor/schemas/audit-config.schema.json").read_text())
    regimes = schema["properties"]["store"]["properties"]["retention"]["properties"]["regime"]["enum"]
    assert sorted(regimes) == sorted(REGIME_RETENTION)
