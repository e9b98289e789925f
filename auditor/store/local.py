"""The local run store: a folder of evidence bundles with a SQLite index (docs/store.md).

Layout of a store folder::

    store.json                       the marker: format, version, created (a folder without it is not a store)
    runs/<run_id>/                   a registered bundle, copied exactly, made read-only (files 0444, folders 0555)
    runs/<run_id>.registration.json  when it was registered, the signer, the retention stated then (written once)
    index.sqlite                     one row per run (a cache: rebuilt from runs/ whenever it is missing or wrong)
    .incoming/<run_id>-<random>/     a registration in progress, or the leftover of one that was cut short

Registering copies the bundle into ``.incoming/``, hashes every copied file against the
bundle's own bundle.json, and then renames the copy into ``runs/`` in one step: that rename is
the commit point. Two processes registering the same run at once cannot both succeed (the
second rename finds the folder there: `RunExists`). The index row follows in a SQLite
transaction; a run whose row is missing (a crash after the rename) is found and indexed the
next time the store is opened. The local store reports retention; it cannot enforce it
(anyone with write access to the folder can delete a run).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import stat
import uuid
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from auditor.store.base import (
    STORE_FORMAT, STORE_VERSION, Retention, RunExists, StoredRun, StoreError, StoreSpec, bundle_run_id, describe_bundle,
    resolve_ref, select_runs,
)

MARKER = "store.json"
RUNS = "runs"
INDEX = "index.sqlite"
INCOMING = ".incoming"
REGISTRATION_SUFFIX = ".registration.json"
REGISTRATION_FORMAT = "private-network-auditor-registration"
INDEX_VERSION = 1            # PRAGMA user_version of index.sqlite; another value: rebuilt

# "No retention stated" (no regime and no days in the config): days 0.
NO_RETENTION = Retention(days=0, online_days=0, mode="", regime="", source="none stated")

# A run id becomes a folder name: only these characters (bundle.json's are 16 hex digits).
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_COLUMNS = ("run_id", "created", "accounts", "record")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def retain_until(created: str, retention: Retention) -> str:
    """The day the retention of a run collected at `created` ends ("" without a retention)."""
    if retention.days <= 0 or len(created) < 10:
        return ""
    try:
        return (date.fromisoformat(created[:10]) + dt.timedelta(days=retention.days)).isoformat()
    except ValueError:
        return ""


def online_until(created: str, retention: Retention) -> str:
    """The day a run collected at `created` may leave immediately available storage ("" none stated)."""
    if retention.online_days <= 0 or len(created) < 10:
        return ""
    try:
        return (date.fromisoformat(created[:10]) + dt.timedelta(days=retention.online_days)).isoformat()
    except ValueError:
        return ""


class LocalStore:
    """A store folder (see the module docstring). Open it with `LocalStore.open`; `notes` lists
    what opening it found and did (an index rebuilt, leftovers of interrupted registrations)."""

    def __init__(self, root: Path, spec: StoreSpec) -> None:
        self.root = root
        self.spec = spec
        self.notes: list[str] = []

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, spec: StoreSpec | None = None, *, create: bool = False) -> LocalStore:
        """The store in folder `path`. `create`: make an empty store there when the folder is
        absent or empty. A folder that is not a store (no store.json, or another format) is a
        `StoreError` naming it; a non-empty folder is never turned into a store."""
        spec = spec or StoreSpec(location=str(path))
        marker = path / MARKER
        if path.exists() and not path.is_dir():
            raise StoreError(f"{path} is a file, not a run store folder")
        if not marker.is_file():
            try:
                empty = not path.exists() or not any(path.iterdir())
            except OSError as exc:
                raise StoreError(f"cannot read the run store folder {path}: {exc.strerror or exc}") from None
            if not create:
                raise StoreError(f"{path} is not a run store (no {MARKER})" if path.exists()
                                 else f"there is no run store at {path} (the folder does not exist)")
            if not empty:
                raise StoreError(f"{path} is not a run store (no {MARKER}) and is not empty: a store is made only "
                                 "in an empty or new folder")
            cls._create(path)
        store = cls(path, spec)
        store._check_marker()
        if not (path / INDEX).exists() and not store._folders():
            store._write_index([])          # a new (or empty) store: nothing to rebuild, nothing to say
        store._check_index()
        store._count_leftovers()
        return store

    @staticmethod
    def _create(path: Path) -> None:
        try:
            (path / RUNS).mkdir(parents=True, exist_ok=True)
            doc = {"format": STORE_FORMAT, "version": STORE_VERSION, "created": _now()}
            side = path / f".{MARKER}.{uuid.uuid4().hex[:8]}"
            side.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(side, path / MARKER)
        except OSError as exc:
            raise StoreError(f"cannot create a run store in {path}: {exc.strerror or exc}") from None

    def _check_marker(self) -> None:
        try:
            doc = json.loads((self.root / MARKER).read_bytes())
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.root} is not a readable run store ({MARKER}: {exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != STORE_FORMAT:
            raise StoreError(f"{self.root} is not a run store ({MARKER} is not a {STORE_FORMAT} marker)")
        if doc.get("version") != STORE_VERSION:
            raise StoreError(f"{self.root}: run store version {doc.get('version')!r} is not supported "
                             f"(this tool reads version {STORE_VERSION})")
        (self.root / RUNS).mkdir(exist_ok=True)

    def _count_leftovers(self) -> None:
        incoming = self.root / INCOMING
        leftovers = sorted(p.name for p in incoming.iterdir()) if incoming.is_dir() else []
        if leftovers:
            self.notes.append(f"{len(leftovers)} interrupted registration(s) left in {incoming} (never listed as runs; "
                              "they can be removed)")

    @property
    def leftovers(self) -> int:
        """How many folders of registrations that did not finish are under ``.incoming/``."""
        incoming = self.root / INCOMING
        return sum(1 for _ in incoming.iterdir()) if incoming.is_dir() else 0

    @property
    def description(self) -> str:
        return f"local store {self.root}"

    def retention(self) -> Retention:
        """The spec's retention (the config's `store.retention`), else none stated. Reported,
        not enforced: the local store cannot stop a run from being deleted."""
        return self.spec.retention or NO_RETENTION

    # -- the index -----------------------------------------------------------------------------

    def _connect(self, path: Path | None = None) -> sqlite3.Connection:
        conn = sqlite3.connect(path or self.root / INDEX, timeout=30, isolation_level=None)
        return conn

    def _folders(self) -> set[str]:
        runs = self.root / RUNS
        return {p.name for p in runs.iterdir() if p.is_dir() and _RUN_ID.fullmatch(p.name)}

    def _check_index(self) -> None:
        """Rebuild the index when it is missing, not a SQLite file of our schema, or disagrees
        with the run folders (a row without its folder, a folder without its row)."""
        path = self.root / INDEX
        if not path.is_file():
            self.rebuild("the index was missing")
            return
        try:
            conn = self._connect()
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                columns = tuple(r[1] for r in conn.execute("PRAGMA table_info(runs)"))
                if version != INDEX_VERSION or columns != _COLUMNS:
                    why = "the index has another schema"
                else:
                    ids = {r[0] for r in conn.execute("SELECT run_id FROM runs")}
                    folders = self._folders()
                    why = ("the index lists runs that are not in the store" if ids - folders else
                           "the index does not list every run folder" if folders - ids else "")
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            why = f"the index is not a readable SQLite file ({exc})"
        if why:
            self.rebuild(why)

    def rebuild(self, why: str) -> None:
        """Write the index again from the run folders and their registration files, into a
        side file renamed over the old one (a reader never sees half an index)."""
        rows = []
        for run_id in sorted(self._folders()):
            try:
                rows.append(self._describe(run_id))
            except StoreError as exc:
                self.notes.append(f"runs/{run_id} is not listed: {exc}")
        self._write_index(rows)
        self.notes.append(f"index rebuilt from the {len(rows)} stored run(s): {why} (nothing was lost: the index is a "
                          "cache of the run folders)")

    def _write_index(self, rows: list[StoredRun]) -> None:
        side = self.root / f".{INDEX}.{uuid.uuid4().hex[:8]}"
        try:
            conn = self._connect(side)
            try:
                self._schema(conn)
                conn.execute("BEGIN")
                for run in rows:
                    self._insert(conn, run)
                conn.execute("COMMIT")
            finally:
                conn.close()
            os.replace(side, self.root / INDEX)
        except (OSError, sqlite3.Error) as exc:
            side.unlink(missing_ok=True)
            raise StoreError(f"cannot write the index of {self.root}: {exc}") from None

    @staticmethod
    def _schema(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, created TEXT NOT NULL, "
                     "accounts TEXT NOT NULL, record TEXT NOT NULL)")
        conn.execute(f"PRAGMA user_version = {INDEX_VERSION}")

    @staticmethod
    def _insert(conn: sqlite3.Connection, run: StoredRun) -> None:
        record = {**run.to_json(), "extra": dict(run.extra)}
        conn.execute("INSERT OR REPLACE INTO runs (run_id, created, accounts, record) VALUES (?, ?, ?, ?)",
                     (run.run_id, run.created, json.dumps(list(run.accounts)), json.dumps(record, sort_keys=True)))

    def _describe(self, run_id: str) -> StoredRun:
        """The `StoredRun` of a run folder: its bundle and its registration file."""
        run = describe_bundle(self.root / RUNS / run_id)
        if run.run_id != run_id:
            raise StoreError(f"its bundle.json names run {run.run_id}, not {run_id}")
        return self._registered(run)

    def _registered(self, run: StoredRun) -> StoredRun:
        """`run` (described from its bundle) with what the store recorded of it."""
        folder = self.root / RUNS / run.run_id
        reg = self._registration(run.run_id)
        extra = {"online_until": reg.get("online_until", ""), "retention": reg.get("retention")}
        if not reg:
            extra["registration"] = "missing"
        return replace(run, registered=str(reg.get("registered") or ""), signer=str(reg.get("signer") or ""),
                       location=str(folder), retain_until=str(reg.get("retain_until") or ""), extra=extra)

    def _registration(self, run_id: str) -> dict[str, Any]:
        try:
            doc = json.loads((self.root / RUNS / f"{run_id}{REGISTRATION_SUFFIX}").read_bytes())
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def _rows(self, again: bool = True) -> list[StoredRun]:
        try:
            conn = self._connect()
            try:
                rows = conn.execute("SELECT record FROM runs ORDER BY created, run_id").fetchall()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the index of {self.root}: {exc}") from None
        try:
            return [_from_record(json.loads(r[0])) for r in rows]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if not again:
                raise StoreError(f"the index of {self.root} is unreadable after a rebuild ({exc!r})") from None
            self.rebuild(f"an index row is unreadable ({exc!r})")
            return self._rows(again=False)

    # -- reading -------------------------------------------------------------------------------

    def runs(self, *, since: date | None = None, until: date | None = None,
             account: str | None = None) -> list[StoredRun]:
        return select_runs(self._rows(), since=since, until=until, account=account)

    def get(self, ref: str) -> StoredRun:
        return resolve_ref(self._rows(), ref, str(self.root))

    def fetch(self, run: StoredRun, into: Path | None = None) -> Path:
        """The run's own folder in the store (`into` is not used: nothing is copied). Never write
        into it."""
        folder = self.root / RUNS / run.run_id
        if not _RUN_ID.fullmatch(run.run_id) or not (folder / "bundle.json").is_file():
            raise StoreError(f"run {run.run_id} is indexed but its folder {folder} is missing")
        return folder

    def registration(self, run_id: str) -> dict[str, Any]:
        """The run's registration file as written at registration ({} when it is missing)."""
        return self._registration(run_id)

    def mismatch(self, run: StoredRun, actual_sha256: str) -> str:
        """Why the stored bundle.json's SHA-256 `actual_sha256` differs from the index's:
        which of the index and the bundle was changed, judged by the registration file."""
        recorded = str(self._registration(run.run_id).get("bundle_sha256") or "")
        if recorded and recorded == actual_sha256:
            return ("the index was changed: the stored bundle.json matches its registration record, the index "
                    f"says {run.bundle_sha256}")
        if recorded and recorded == run.bundle_sha256:
            return ("the stored bundle was changed: bundle.json's SHA-256 is "
                    f"{actual_sha256}, its registration record and the index say {recorded}")
        return (f"bundle.json's SHA-256 is {actual_sha256}, the index says {run.bundle_sha256} and the registration "
                f"record {recorded or '(missing)'}: the store was changed")

    # -- registering ---------------------------------------------------------------------------

    def register(self, bundle: Path, *, signer: str = "") -> StoredRun:
        """Copy the bundle folder into the store (see the module docstring). `RunExists` when its
        run id is stored; `StoreError` when it is not a bundle or its files do not match its
        bundle.json (nothing is registered); `OSError` when the copy cannot be written."""
        run_id = bundle_run_id(bundle)    # its findings are read once, from the copy
        if not _RUN_ID.fullmatch(run_id):
            raise StoreError(f"{bundle}: bundle.json's run id {run_id!r} is not a run id")
        target = self.root / RUNS / run_id
        if target.exists():
            raise RunExists(f"run {run_id} is already in {self.root}: a stored bundle is never rewritten")
        if (self.root / RUNS / f"{run_id}{REGISTRATION_SUFFIX}").exists():
            raise StoreError(f"{self.root} has a registration record of run {run_id} but not its folder (it was "
                             "removed by hand): the run is not registered again")
        incoming = self.root / INCOMING
        incoming.mkdir(exist_ok=True)
        staging = incoming / f"{run_id}-{uuid.uuid4().hex[:8]}"
        try:
            _copy_bundle(bundle, staging)
            _check_copy(bundle, staging)
            copied = describe_bundle(staging)     # what is stored (the folder could change while copied)
            if copied.run_id != run_id:
                raise StoreError(f"{bundle} changed while it was copied (its run id is now {copied.run_id})")
            _read_only(staging, top=False)
            try:
                os.rename(staging, target)      # the commit point
            except OSError:
                if target.exists():
                    raise RunExists(f"run {run_id} is already in {self.root} (registered at the same time by "
                                    "another process): a stored bundle is never rewritten") from None
                raise
        except BaseException:
            _remove(staging)
            raise
        # The run is registered from here on: what follows is recorded beside it, and a failure
        # is a note (the index is rebuilt from the folder when it lacks the row).
        try:
            _read_only(target, top=True)
        except OSError as exc:
            self.notes.append(f"run {run_id} is stored but not all of it could be made read-only ({exc.strerror or exc})")
        retention = self.retention()
        created = copied.created
        reg = {"format": REGISTRATION_FORMAT, "run_id": run_id, "registered": _now(), "signer": signer,
               "bundle_sha256": copied.bundle_sha256,
               "retention": None if retention.days <= 0 else {
                   "days": retention.days, "online_days": retention.online_days, "mode": retention.mode,
                   "regime": retention.regime, "source": retention.source},
               "retain_until": retain_until(created, retention), "online_until": online_until(created, retention),
               "enforced": False}
        path = self.root / RUNS / f"{run_id}{REGISTRATION_SUFFIX}"
        try:
            _write_durable(path, (json.dumps(reg, indent=2, sort_keys=True) + "\n").encode("utf-8"), 0o444)
        except OSError as exc:
            self.notes.append(f"run {run_id} is stored but its registration record {path} was not written "
                              f"({exc.strerror or exc}): its registration time and signer are unknown")
        run = self._registered(copied)     # described from the copy: the same files
        try:
            conn = self._connect()
            try:
                self._schema(conn)
                conn.execute("BEGIN IMMEDIATE")
                self._insert(conn, run)
                conn.execute("COMMIT")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            self.notes.append(f"run {run_id} is stored but not indexed yet ({exc}): the index is rebuilt when the "
                              "store is next opened")
        return run


def _from_record(record: dict[str, Any]) -> StoredRun:
    return StoredRun(
        run_id=record["run_id"], created=record["created"], assessed_on=record["assessed_on"],
        accounts=tuple(record["accounts"]), regions=tuple(record["regions"]), organization=record["organization"],
        config_digest=record["config_digest"], compliance_profile=record["compliance_profile"],
        complete=bool(record["complete"]), counts={str(k): int(v) for k, v in record["counts"].items()},
        signed=bool(record["signed"]), bundle_sha256=record["bundle_sha256"],
        manifest_sha256=record["manifest_sha256"], tool_version=record["tool_version"],
        registered=record["registered"], signer=record["signer"], location=record["location"],
        retain_until=record["retain_until"], extra=record.get("extra") or {})


def _copy_bundle(bundle: Path, staging: Path) -> None:
    """Copy every file of `bundle` (never through a link) into the new folder `staging`."""
    from auditor.bundle import BUNDLE_FILE, SIGNATURE_FILE, bundle_files, read_bundle_file
    from auditor.errors import SnapshotError

    try:
        names = bundle_files(bundle)
    except SnapshotError as exc:
        raise StoreError(f"{bundle} cannot be stored: {exc}") from None
    staging.mkdir()
    extra = [n for n in (BUNDLE_FILE, SIGNATURE_FILE) if (bundle / n).is_file()]
    for name in [*names, *extra]:
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_durable(target, read_bundle_file(bundle, name))


def _write_durable(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a new file and flush it to the disk (the rename that commits a run must not come
    before its files are on the disk)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_copy(bundle: Path, staging: Path) -> None:
    """Every file of the copy hashes to bundle.json's entry, and the copy has exactly its files."""
    from auditor.bundle import BUNDLE_FILE, FORMAT, bundle_files, read_bundle_file, sha256_hex

    manifest = json.loads((staging / BUNDLE_FILE).read_bytes())
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if manifest.get("format") != FORMAT or not isinstance(listed, dict):
        raise StoreError(f"{bundle} is not an evidence bundle (bundle.json is not a {FORMAT} manifest)")
    present = set(bundle_files(staging))
    problems = [f"{n}: missing" for n in sorted(set(listed) - present)]
    problems += [f"{n}: not in bundle.json" for n in sorted(present - set(listed))]
    problems += [f"{n}: SHA-256 differs from bundle.json" for n in sorted(present & set(listed))
                 if sha256_hex(read_bundle_file(staging, n)) != listed[n]]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise StoreError(f"{bundle} does not match its bundle.json ({shown}): not registered "
                         f"(check it with: auditor verify {bundle})")


def _read_only(folder: Path, *, top: bool) -> None:
    """Files 0444, folders 0555. The top folder last (`top`): a folder being renamed into another
    parent must stay writable until then."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o555)
    if top:
        os.chmod(folder, 0o555)


def _remove(folder: Path) -> None:
    """Remove a staging folder (made writable again first); what cannot be removed stays a
    leftover under .incoming/, never listed."""
    if not folder.exists():
        return
    for dirpath, dirnames, _ in os.walk(folder):
        for name in dirnames:
            p = os.path.join(dirpath, name)
            os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)
    os.chmod(folder, os.stat(folder).st_mode | stat.S_IWUSR)
    shutil.rmtree(folder, ignore_errors=True)
