"""Write a snapshot atomically.

Records are written into ``<dir>.partial`` as they arrive; only `finish` writes the
manifest with ``status: complete`` and renames the folder into place. An interrupted run
(`abort`) leaves ``<dir>.partial`` with a manifest saying ``interrupted``: the evidence
gathered so far is kept, and nothing can mistake it for a finished snapshot.

While it runs the folder also holds ``checkpoints/`` (auditor/snapshot/checkpoint.py): `begin`
writes what the run was started with, `checkpoint` what a finished task or account wrote, so
that an interrupted run can resume (``SnapshotWriter(..., resume=True)`` and `adopt`).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import threading
from itertools import repeat
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

from auditor.errors import SnapshotError
from auditor.snapshot.checkpoint import CHECKPOINTS, RUN_FILE, durable_write, make_durable, run_file
from auditor.snapshot.records import CallRecord, canonical_json, record_json

FORMAT = "auditor-snapshot"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


def _write_bytes(path: Path, data: bytes, *, sync: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        if sync:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def partial_path(final: Path) -> Path:
    return final.with_name(final.name + ".partial")


class SnapshotWriter:
    """Writes records as they come, then the manifest; see the module docstring."""

    def __init__(self, final_dir: Path | str, *, compress: bool = False, keep: bool = False, resume: bool = False):
        """`resume`: carry on in the ``.partial`` folder an interrupted run left (it must
        exist; `adopt` then takes over what its checkpoints vouch for)."""
        self.final = Path(final_dir)
        self.keep = keep
        self.records: list[CallRecord] = []  # only filled when keep=True (tests, round trips)
        self._lock = threading.Lock()
        self.partial = partial_path(self.final)
        self.compress = compress
        if self.final.exists() and any(self.final.iterdir()):
            raise SnapshotError(f"{self.final} already exists and is not empty; choose a new output folder "
                                "(snapshots are evidence and are never overwritten)")
        if resume:
            if not self.partial.is_dir():
                raise SnapshotError(f"{self.partial}: no interrupted run to resume")
            self._made: list[Path] = []
        else:
            if self.partial.exists():
                raise SnapshotError(f"{self.partial} holds an interrupted run's evidence; resume it "
                                    f"(auditor collect --resume {self.partial}), or move or delete it first")
            # The folders this writer makes, deepest first, so `discard` can take them away again.
            self._made = [d for d in (self.partial, *self.partial.parents) if not d.exists()]
            self.partial.mkdir(parents=True)
        self.files: dict[str, str] = {}
        self.manifest: dict[str, Any] = {}
        self.calls: list[dict[str, Any]] = []
        self._closed = ""  # set by finish/abort: no record may be added after the manifest
        self._pending: set[str] = set()  # record files being written right now
        # record file -> its `calls` entry, from `add` until a checkpoint names it
        self._unchecked: dict[str, dict[str, Any]] = {}
        self._root = str(self.partial)
        self._folders: set[str] = set()   # record folders made
        self._suffix = ".json.gz" if compress else ".json"

    def add(self, record: CallRecord) -> None:
        """Write one call's record file and note it for the manifest."""
        rel = self.record_file(record)
        data = record_json(record.content())   # compact: json's C encoder (readers take either form)
        if self.compress:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        entry: dict[str, Any] = {
            "record": rel, "account": record.account, "region": record.region, "service": record.service,
            "operation": record.operation, "params": dict(record.params), "pages": len(record.pages),
            "started": record.started, "duration_ms": record.duration_ms, "retries": record.retries,
            "status": "ok" if record.ok else "error",
        }
        if record.error is not None:
            entry["error"] = record.error.to_json()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        # The name is reserved under the lock and the file written outside it (many threads
        # add records at once). A record file is written once, straight under its name (no
        # side file and rename: a file created per record is this writer's main cost), and
        # not fsync'd one by one. A file torn by a crash is never taken for evidence: the
        # manifest is written (and fsync'd) last and holds every file's SHA-256, so a torn file
        # fails verification; an interrupted run's checkpoints name only files made durable
        # before them, and a resume discards every file no checkpoint names
        # (auditor/snapshot/checkpoint.py).
        with self._lock:
            self._check_open(rel)
            if rel in self.files or rel in self._pending:
                raise SnapshotError(f"two calls map to the same record file {rel}")
            self._pending.add(rel)
        written = False
        try:
            self._write_record(rel, data)
            written = True
        finally:
            with self._lock:
                self._pending.discard(rel)
                late = self._closed
                if written and not late:
                    self.files[rel] = digest
                    self.calls.append(entry)
                    self._unchecked[rel] = entry
                    if self.keep:
                        self.records.append(record)
        if late:
            # The manifest was written while this file was; keep folder and manifest in step.
            Path(self._root, rel).unlink(missing_ok=True)
            self._check_open(rel)

    def _write_record(self, rel: str, data: bytes) -> None:
        """Create `rel` (it must not exist: evidence is never overwritten) holding `data`; a
        write that fails leaves no file behind."""
        path = os.path.join(self._root, rel)
        folder = path.rpartition("/")[0] if os.sep == "/" else os.path.dirname(path)
        if folder not in self._folders:   # one mkdir per folder, not per record
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
        except FileExistsError:
            raise SnapshotError(f"{path} already exists; the snapshot folder was written by something else "
                                "meanwhile: not overwritten") from None
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        os.close(fd)

    # -- checkpoints (auditor/snapshot/checkpoint.py) ------------------------------------
    def record_file(self, record: CallRecord) -> str:
        """The file (relative to the snapshot) `record` is written to."""
        return f"records/{record.record_id}{self._suffix}"

    def begin(self, run: Mapping[str, Any]) -> None:
        """Write (durably) what the run was started with: ``checkpoints/run.json``."""
        durable_write(self.partial / CHECKPOINTS / RUN_FILE, canonical_json(run_file(run)))

    def checkpoint(self, name: str, records: Iterable[CallRecord], state: Mapping[str, Any]) -> None:
        """`checkpoints` of one."""
        self.checkpoints([(name, list(records), dict(state))])

    def checkpoints(self, batch: Sequence[tuple[str, Sequence[CallRecord], Mapping[str, Any]]]) -> None:
        """Make the records of every checkpoint of `batch` (all written by `add`) durable, then
        write each checkpoint `name` (relative to ``checkpoints/``) naming its record files
        with their SHA-256 and manifest entries, beside its `state` (what the runner needs to
        carry on without these calls), and make those durable too."""
        bodies: list[tuple[str, dict[str, Any]]] = []
        every: list[str] = []
        with self._lock:
            if self._closed:   # finished (the manifest says it all) or interrupted: nothing to add
                return
            for name, records, state in batch:
                rels = [self.record_file(r) for r in records]
                missing = [r for r in rels if r not in self.files]
                if missing:
                    raise SnapshotError(f"checkpoint {name}: the record {missing[0]} was not written")
                # A record belongs to one checkpoint (its task's, its account's, the discovery's):
                # its entry is handed over and forgotten here, so what is held for checkpoints
                # does not grow with the run.
                body = {**state, "files": {r: self.files[r] for r in sorted(rels)},
                        "calls": [e for e in map(self._unchecked.pop, rels, repeat(None)) if e is not None]}
                bodies.append((name, body))
                every += rels
        make_durable(self.partial, every)
        names = []
        for name, body in bodies:
            _write_bytes(self.partial / CHECKPOINTS / name, record_json(body), sync=False)   # C encoder
            names.append(f"{CHECKPOINTS}/{name}")
        make_durable(self.partial, names)

    def adopt(self, files: Mapping[str, str], calls: Iterable[Mapping[str, Any]]) -> None:
        """Take over records an interrupted run wrote and checkpointed (verified by
        `auditor.snapshot.checkpoint.open_resume`): they join the manifest as if written now."""
        with self._lock:
            for rel in files:
                if rel in self.files:
                    raise SnapshotError(f"two checkpoints name the same record file {rel}")
            self.files.update(files)
            self.calls.extend(dict(c) for c in calls)

    def _check_open(self, rel: str) -> None:
        if self._closed:
            raise SnapshotError(f"{rel} arrived after the snapshot was {self._closed}; not written")

    def _manifest(self, status: str, meta: Mapping[str, Any]) -> dict[str, Any]:
        calls = sorted(self.calls, key=lambda c: c["record"])
        errors = [{k: c[k] for k in ("account", "region", "service", "operation", "params", "record")}
                  | c["error"] for c in calls if "error" in c]
        return {"format": FORMAT, "schema_version": SCHEMA_VERSION, "status": status, **meta,
                "complete": status == "complete" and not errors and not meta.get("account_problems"),
                "calls": calls, "errors": errors, "files": dict(sorted(self.files.items()))}

    def finish(self, meta: Mapping[str, Any]) -> Path:
        """Write the manifest and move the snapshot into place. Returns its folder."""
        with self._lock:
            self._closed = "finished"
            self.manifest = self._manifest("complete", meta)
        # The manifest now says everything the checkpoints did; a finished snapshot has none.
        shutil.rmtree(self.partial / CHECKPOINTS, ignore_errors=True)
        # Compact (json's C encoder; several times faster than indenting at thousands of calls);
        # readers parse JSON, and the bundle hashes the file as written.
        _write_bytes(self.partial / MANIFEST, record_json(self.manifest))
        if self.final.exists():
            self.final.rmdir()  # empty, checked in __init__
        os.replace(self.partial, self.final)
        return self.final

    def discard(self) -> None:
        """Undo the writer before anything was written (the run could not start): remove the
        folders it made, so a refused run leaves nothing behind. Never removes evidence."""
        with self._lock:
            if self.files or self._pending:
                raise SnapshotError(f"{self.partial} already holds records; it is kept")
            self._closed = "discarded"
        for folder in self._made:
            try:
                folder.rmdir()  # only if empty: anything else in it is not ours to delete
            except OSError:
                break

    def abort(self, meta: Mapping[str, Any], reason: str) -> Path:
        """Keep what was gathered, marked as interrupted. Returns the partial folder."""
        with self._lock:
            self._closed = "interrupted"
            manifest = self._manifest("interrupted", meta)
        manifest["interrupted_because"] = reason
        _write_bytes(self.partial / MANIFEST, canonical_json(manifest))
        return self.partial
