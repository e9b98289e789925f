"""The run store on the command line: `auditor scan --store` (and the config's `store:`),
`auditor store register`, `auditor history` and `auditor verify RUN --store`, with their bad
input and exit codes (docs/cli.md)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from auditor.bundle_verify import verify_bundle
from auditor.rules.fixtures import ACCOUNT
from auditor.store import describe_bundle
from auditor.store.local import INDEX, LocalStore
from conftest import run_auditor
from test_store_local import OTHER_ACCOUNT, Bundles, make_bundles


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    return make_bundles(tmp_path_factory.mktemp("bundles"))


@pytest.fixture
def filled(bundles: Bundles, tmp_path: Path) -> Path:
    """A store holding the three bundles, registered with `auditor store register`."""
    store = tmp_path / "store"
    for folder in bundles.folders:
        proc = run_auditor("store", "register", str(folder), "--store", str(store))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == f"registered run {describe_bundle(folder).run_id} in local store {store}\n"
    return store


def _ids(bundles: Bundles) -> list[str]:
    return [describe_bundle(f).run_id for f in bundles.folders]


# -- scan --store ------------------------------------------------------------------------------

def test_scan_registers_its_bundle_and_the_exit_code_is_the_scans(bundles: Bundles, tmp_path: Path) -> None:
    key = tmp_path / "signer.pem"
    key.write_bytes(Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    proc = run_auditor("scan", "--snapshot", str(bundles.snapshots[0]), "--out", str(tmp_path / "out"),
                       "--format", "csv", "--sign-key", str(key), "--store", str(tmp_path / "store"))
    assert proc.returncode == 4, proc.stderr                          # the scan's own verdict
    run_id = describe_bundle(tmp_path / "out").run_id
    assert f"registered run {run_id} in local store {tmp_path / 'store'}\n" in proc.stdout
    stored = LocalStore.open(tmp_path / "store").get("latest")
    assert stored.run_id == run_id and stored.signed and stored.signer.startswith("ed25519:")
    assert verify_bundle(tmp_path / "out").ok                          # the bundle in --out is untouched
    # the same snapshot scanned again gives the same bundle.json: already stored, not a failure
    again = run_auditor("scan", "--snapshot", str(bundles.snapshots[0]), "--out", str(tmp_path / "again"),
                        "--format", "csv", "--sign-key", str(key), "--store", str(tmp_path / "store"))
    assert again.returncode == 4, again.stderr
    assert f"run {run_id} is already in local store" in again.stdout and "not stored again" in again.stdout
    # another bundle of the same run (other reports): refused, exit 6, the bundle kept
    other = run_auditor("scan", "--snapshot", str(bundles.snapshots[0]), "--out", str(tmp_path / "other"),
                        "--format", "junit", "--store", str(tmp_path / "store"))
    assert other.returncode == 6, other.stderr
    assert "could not register the run" in other.stderr and "with another bundle.json" in other.stderr
    assert "the scan itself would exit 4" in other.stderr
    assert verify_bundle(tmp_path / "other").ok
    assert [r.run_id for r in LocalStore.open(tmp_path / "store").runs()] == [run_id]


def test_the_config_store_is_used_and_store_overrides_it(bundles: Bundles, tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "audit.yaml").write_text(
        f"version: 1\naccounts: [{{id: '{ACCOUNT}'}}]\nstore:\n  location: evidence\n"
        "  retention: {regime: pci-dss}\nschedule: weekly\n")
    proc = run_auditor("scan", "-c", "cfg/audit.yaml", "--snapshot", str(bundles.snapshots[0]), "--out", "a",
                       "--format", "csv", cwd=tmp_path)
    assert proc.returncode == 4, proc.stderr
    assert f"in local store {Path('cfg') / 'evidence'}\n" in proc.stdout   # relative to the config
    run = LocalStore.open(tmp_path / "cfg" / "evidence").get("latest")
    assert run.retain_until == "2027-03-01"
    proc = run_auditor("scan", "-c", "cfg/audit.yaml", "--snapshot", str(bundles.snapshots[1]), "--out", "b",
                       "--format", "csv", "--store", "elsewhere", cwd=tmp_path)
    assert proc.returncode == 4, proc.stderr
    assert "in local store elsewhere" in proc.stdout
    moved = LocalStore.open(tmp_path / "elsewhere").get("latest")
    assert moved.retain_until == "2027-03-08"                           # the config's retention is kept
    assert len(LocalStore.open(tmp_path / "cfg" / "evidence").runs()) == 1


def test_scan_into_a_folder_that_is_not_a_store_runs_nothing(bundles: Bundles, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    proc = run_auditor("scan", "--snapshot", str(bundles.snapshots[0]), "--out", str(tmp_path / "out"),
                       "--format", "csv", "--store", str(tmp_path / "busy"))
    assert proc.returncode == 2, proc.stderr
    assert f"store: {tmp_path / 'busy'} is not a run store" in proc.stderr and "nothing was run" in proc.stderr
    assert not (tmp_path / "out").exists()
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]


def test_a_registration_that_fails_keeps_the_bundle_and_exits_6(bundles: Bundles, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's disk is full during the copy (the first flush fails): the scan's bundle is
    whole in --out, the message says so and how to register it later; doing so works."""
    real = os.fsync

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    proc = run_auditor("scan", "--snapshot", str(bundles.snapshots[0]), "--out", str(tmp_path / "out"),
                       "--format", "csv", "--store", str(tmp_path / "store"))
    monkeypatch.setattr(os, "fsync", real)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "could not register the run in local store" in proc.stderr and "No space left on device" in proc.stderr
    assert f"The evidence bundle is complete and kept in {tmp_path / 'out'}" in proc.stderr
    later = f"auditor store register {tmp_path / 'out'} --store {tmp_path / 'store'}"
    assert later in proc.stderr
    assert verify_bundle(tmp_path / "out").ok
    assert LocalStore.open(tmp_path / "store").runs() == []
    proc = run_auditor(*later.split()[1:])
    assert proc.returncode == 0 and proc.stdout.startswith("registered run"), proc.stderr


def test_a_scan_interrupted_while_registering(bundles: Bundles, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in the middle of the store's copy: exit 130, the bundle whole in --out, nothing
    registered and nothing left in .incoming/, and the message says how to finish."""
    real, calls = os.fsync, []

    def interrupt(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(fd)

    store = tmp_path / "store"
    run_auditor("store", "register", str(bundles.folders[1]), "--store", str(store))   # a store with one run
    monkeypatch.setattr(os, "fsync", interrupt)
    proc = run_auditor("scan", "--snapshot", str(bundles.snapshots[0]), "--out", str(tmp_path / "out"),
                       "--format", "csv", "--store", str(store))
    monkeypatch.setattr(os, "fsync", real)
    assert proc.returncode == 130, proc.stderr
    assert f"interrupted while registering the run in local store {store}" in proc.stderr
    assert f"auditor store register {tmp_path / 'out'} --store {store}" in proc.stderr
    assert verify_bundle(tmp_path / "out").ok
    again = LocalStore.open(store)
    assert [r.run_id for r in again.runs()] == [describe_bundle(bundles.folders[1]).run_id]
    assert again.leftovers == 0 and again.notes == []


# -- store register ------------------------------------------------------------------------------

def test_store_register_bad_input(bundles: Bundles, filled: Path, tmp_path: Path) -> None:
    twice = run_auditor("store", "register", str(bundles.folders[0]), "--store", str(filled))
    assert twice.returncode == 2 and "is already in" in twice.stderr and "never rewritten" in twice.stderr
    (tmp_path / "empty").mkdir()
    notabundle = run_auditor("store", "register", str(tmp_path / "empty"), "--store", str(filled))
    assert notabundle.returncode == 2 and "is not a readable evidence bundle" in notabundle.stderr
    changed = tmp_path / "changed"
    shutil.copytree(bundles.folders[1], changed)
    (changed / "findings.json").write_text("{}")
    tampered = run_auditor("store", "register", str(changed), "--store", str(tmp_path / "new"))
    assert tampered.returncode == 2 and "does not match its bundle.json" in tampered.stderr
    assert "auditor verify" in tampered.stderr
    notastore = run_auditor("store", "register", str(bundles.folders[0]), "--store", str(bundles.folders[1]))
    assert notastore.returncode == 2 and "is not a run store" in notastore.stderr
    assert len(LocalStore.open(filled).runs()) == 3


# -- history -------------------------------------------------------------------------------------

def test_history_lists_and_filters(bundles: Bundles, filled: Path) -> None:
    ids = _ids(bundles)
    proc = run_auditor("history", "--store", str(filled))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ids                     # oldest first
    assert lines[0].startswith(f"{ids[0]}  2026-03-01T10:01:00Z  accounts {ACCOUNT}  regions eu-west-1  INCOMPLETE FAIL ")
    assert "unsigned  retention not stated" in lines[0]
    assert lines[-1] == "3 run(s); retention: none stated; reported, not enforced by the local store"
    some = run_auditor("history", "--store", str(filled), "--from", "2026-03-05", "--to", "2026-03-20",
                       "--account", OTHER_ACCOUNT)
    assert [line.split()[0] for line in some.stdout.splitlines()[:-1]] == ids[2:]
    js = run_auditor("history", "--store", str(filled), "--json", "--to", "2026-03-08")
    doc = json.loads(js.stdout)
    store = LocalStore.open(filled)
    assert doc == [{**store.get(i).to_json(), "marks": []} for i in ids[:2]]


def test_history_empty_bad_dates_and_not_a_store(filled: Path, tmp_path: Path) -> None:
    none = run_auditor("history", "--store", str(filled), "--from", "2030-01-01")
    assert none.returncode == 0 and none.stdout == f"no runs in local store {filled} collected 2030-01-01 to ...\n"
    assert json.loads(run_auditor("history", "--store", str(filled), "--account", "999999999999", "--json").stdout) == []
    bad = run_auditor("history", "--store", str(filled), "--from", "March")
    assert bad.returncode == 2 and "'March' is not a date (YYYY-MM-DD)" in bad.stderr
    backwards = run_auditor("history", "--store", str(filled), "--from", "2026-03-10", "--to", "2026-03-01")
    assert backwards.returncode == 2 and "is before --from" in backwards.stderr
    absent = run_auditor("history", "--store", str(tmp_path / "nothing"))
    assert absent.returncode == 2 and "there is no run store at" in absent.stderr
    assert not (tmp_path / "nothing").exists()                               # history never makes a store


def test_history_after_a_corrupted_index_and_with_leftovers(bundles: Bundles, filled: Path) -> None:
    (filled / INDEX).write_bytes(b"garbage" * 50)
    leftover = filled / ".incoming" / "0000000000000000-cafe0000"
    leftover.mkdir(parents=True)
    proc = run_auditor("history", "--store", str(filled))
    assert proc.returncode == 0
    assert "store: index rebuilt from the 3 stored run(s): the index is not a readable SQLite file" in proc.stderr
    assert "store: 1 interrupted registration(s) left in" in proc.stderr and "can be removed" in proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()[:-1]] == _ids(bundles)


# -- verify --store --------------------------------------------------------------------------------

def test_verify_a_stored_run_by_ref(bundles: Bundles, filled: Path) -> None:
    ids = _ids(bundles)
    for ref, run_id in (("latest", ids[2]), ("previous", ids[1]), (ids[0][:7], ids[0])):
        proc = run_auditor("verify", ref, "--store", str(filled))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"ok  bundle.json: SHA-256 matches the store's index for run {run_id}" in proc.stdout
        assert proc.stdout.splitlines()[-1].endswith(f"run {run_id} in local store {filled}")
        assert proc.stdout.splitlines()[-1].startswith("VERIFIED, UNSIGNED")


def test_verify_unknown_run_and_not_a_store(bundles: Bundles, filled: Path) -> None:
    proc = run_auditor("verify", "0123456789abcdef", "--store", str(filled))
    assert proc.returncode == 2 and "no run '0123456789abcdef' in" in proc.stderr
    assert "closest stored run ids" in proc.stderr
    proc = run_auditor("verify", "latest", "--store", str(bundles.folders[0]))
    assert proc.returncode == 2 and "is not a run store" in proc.stderr


def test_verify_sees_a_changed_index_and_a_changed_stored_bundle(bundles: Bundles, filled: Path) -> None:
    ids = _ids(bundles)
    conn = sqlite3.connect(filled / INDEX)
    record = json.loads(conn.execute("SELECT record FROM runs WHERE run_id = ?", (ids[0],)).fetchone()[0])
    conn.execute("UPDATE runs SET record = ? WHERE run_id = ?",
                 (json.dumps({**record, "bundle_sha256": "0" * 64}), ids[0]))
    conn.commit()
    conn.close()
    proc = run_auditor("verify", ids[0], "--store", str(filled))
    assert proc.returncode == 5, proc.stdout
    assert "FAILED  bundle.json: the index was changed" in proc.stdout
    # a stored file changed (by someone able to undo the read-only mode): verify names it
    stored = filled / "runs" / ids[1]
    csv = stored / "findings.csv"
    os.chmod(csv, 0o644)
    csv.write_text("rewritten\n")
    proc = run_auditor("verify", ids[1], "--store", str(filled))
    assert proc.returncode == 5 and "FAILED  findings.csv" in proc.stdout, proc.stdout
    # the stored bundle.json itself rewritten: the registration record tells the index is not to blame
    manifest = filled / "runs" / ids[2] / "bundle.json"
    os.chmod(manifest, 0o644)
    manifest.write_text(manifest.read_text().replace('"version": 1', '"version": 1 '))
    proc = run_auditor("verify", ids[2], "--store", str(filled))
    assert proc.returncode == 5 and "FAILED  bundle.json: the stored bundle was changed" in proc.stdout, proc.stdout
