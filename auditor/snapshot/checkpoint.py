"""Checkpoints: what an unfinished collection has durably done, so that it can resume.

While a run writes ``<out>.partial/`` it keeps, under ``checkpoints/``:

- ``run.json``: what the run was started with (config digest, shard, compression, regions,
  redaction, start time); written (fsync'd) before the first call;
- ``discovery.json``: the Organizations discovery calls and the accounts they selected;
- ``accounts/<account>.json``: an account's own calls (sts:AssumeRole, sts:GetCallerIdentity,
  ec2:DescribeRegions) and what they settled (identity, regions, problem);
- ``tasks/<account>/<region>.json``: one (account, region) task, once all its records are
  written.

Each checkpoint names its record files with their SHA-256 and their manifest entries. The
record files are made durable (the file system synced, else each file and folder fsync'd)
before the checkpoint is written, then the checkpoint is written to a side file, renamed into
place and made durable in turn: a crash leaves either no checkpoint or one whose every record
is whole on disk (a checkpoint torn by the crash itself is not valid JSON and counts as not
written). A `Checkpointer` does this on a thread of its own, a batch of finished tasks at a
time, so that one sync serves many tasks and the run never waits for the disk. A record file
no checkpoint names is never trusted: a resumed run deletes it and collects it again
(`open_resume`). A checkpointed record whose bytes no longer match is refused (the folder was
changed after the run).

A finished snapshot has no ``checkpoints/`` folder: `SnapshotWriter.finish` removes it before
writing the manifest, which then holds everything the checkpoints said.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import SnapshotError
from auditor.snapshot.paths import UnsafePath, confined_name, list_files, read_confined

__all__ = ["CHECKPOINTS", "RUN_FORMAT", "Checkpointer", "ResumeState", "account_checkpoint", "durable_write",
           "fsync_records", "make_durable", "open_resume", "resume_folders", "task_checkpoint"]

CHECKPOINTS = "checkpoints"
RUN_FILE = "run.json"
RUN_FORMAT = "auditor-collection-run"
DISCOVERY = "discovery.json"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _name(part: str) -> str:
    return _SAFE.sub("_", part) or "_"


def account_checkpoint(key: str) -> str:
    """The checkpoint (relative to ``checkpoints/``) of an account's own calls."""
    return f"accounts/{_name(key)}.json"


def task_checkpoint(account: str, region: str) -> str:
    """The checkpoint (relative to ``checkpoints/``) of one (account, region) task."""
    return f"tasks/{_name(account)}/{_name(region)}.json"


def _fsync(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:   # a system that cannot open folders (Windows): nothing to sync there
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def fsync_records(root: Path, rels: list[str]) -> None:
    """Make the record files `rels` under `root` durable: each file, then every folder that
    holds them (up to `root`), so that their names survive a crash too."""
    folders: set[Path] = set()
    for rel in rels:
        path = root / rel
        _fsync(path)
        parent = path.parent
        while parent != root and root in parent.parents and parent not in folders:
            folders.add(parent)
            parent = parent.parent
    for folder in sorted(folders, key=lambda p: -len(p.parts)):
        _fsync(folder, directory=True)
    _fsync(root, directory=True)


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2) (one file system's data and metadata to disk), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


def make_durable(root: Path, rels: list[str]) -> None:
    """Make the files `rels` under `root` (and their names) durable: one syncfs of `root`'s
    file system where the system has it (much cheaper than a fsync per file), else
    `fsync_records`."""
    syncfs = _libc_syncfs()
    if syncfs is not None and rels:
        fd = os.open(root, os.O_RDONLY)
        try:
            if syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    fsync_records(root, rels)


class Checkpointer:
    """Writes checkpoints on a thread of its own, in batches: `submit` queues one (and
    returns at once), the thread hands every queued one to `write_batch` together. A failure
    (a full disk) stops it; `check` raises it on the caller's thread. `close` stops the thread:
    with `flush` once the queue is written (an interrupted run keeps all it can), without it
    at once (a finished run: the manifest says everything)."""

    def __init__(self, write_batch: Callable[[list[tuple[str, list[Any], dict[str, Any]]]], None]):
        self._write = write_batch
        self._queue: list[tuple[str, list[Any], dict[str, Any]]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.error: BaseException | None = None

    def submit(self, name: str, records: Sequence[Any], state: Mapping[str, Any]) -> None:
        with self._cond:
            if self._closed or self.error is not None:
                return
            self._queue.append((name, list(records), dict(state)))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="checkpoint", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
            try:
                self._write(batch)
            except BaseException as exc:  # noqa: BLE001 - handed to the run's thread by `check`
                with self._cond:
                    self.error = exc
                    self._queue = []
                return

    def check(self) -> None:
        """Raise the failure that stopped the thread, if any."""
        if self.error is not None:
            raise self.error

    def close(self, *, flush: bool) -> None:
        with self._cond:
            self._closed = True
            if not flush:
                self._queue = []
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()


def durable_write(path: Path, data: bytes) -> None:
    """Write `path` through a side file, fsync it, rename it into place and fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync(path.parent, directory=True)


def resume_folders(folder: Path) -> tuple[Path, Path]:
    """(the ``.partial`` folder, the snapshot's final folder) for ``--resume FOLDER``, which may
    name either."""
    if folder.name.endswith(".partial"):
        return folder, folder.with_name(folder.name[:-len(".partial")])
    return folder.with_name(folder.name + ".partial"), folder


@dataclass
class ResumeState:
    """What an interrupted run's ``.partial`` folder holds that can be trusted."""

    partial: Path
    final: Path
    run: dict[str, Any]
    discovery: dict[str, Any] | None = None
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)    # checkpoint name -> body
    tasks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)                  # kept record -> SHA-256
    calls: list[dict[str, Any]] = field(default_factory=list)            # their manifest entries
    discarded: list[str] = field(default_factory=list)                   # untrusted records (`drop_untrusted`)
    leftovers: list[str] = field(default_factory=list)                   # side files of unfinished writes

    def drop_untrusted(self) -> None:
        """Delete the record files no checkpoint names (and side files): collected again."""
        for rel in [*self.discarded, *self.leftovers]:
            (self.partial / rel).unlink(missing_ok=True)

    def account(self, key: str) -> dict[str, Any] | None:
        return self.accounts.get(account_checkpoint(key))

    def section(self) -> dict[str, Any]:
        """The manifest's record of this resume (the runner adds what it did)."""
        return {"started_before": self.run.get("started", ""), "kept_tasks": len(self.tasks),
                "kept_accounts": len(self.accounts), "kept_discovery": self.discovery is not None,
                "kept_records": len(self.files),
                "discarded": [{"file": f, "why": "not named by any checkpoint (written by a task that did not "
                                              "finish before the run stopped): collected again"}
                              for f in self.discarded]}


def _load_json(root: Path, rel: str) -> Any:
    path = root / rel
    try:
        data = read_confined(root, rel)
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise SnapshotError(f"{path}: not valid JSON ({exc}); the checkpoint was changed after it was written "
                            "(checkpoints are written whole or not at all)") from None


def _checkpoint_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "is not an object"
    files, calls = body.get("files"), body.get("calls")
    if not isinstance(files, dict) or not isinstance(calls, list):
        return "has no 'files' object and 'calls' list"
    for rel, digest in files.items():
        why = confined_name(rel)
        if why is not None or not rel.startswith("records/"):
            return f"names {rel!r}, which is not a record file of the snapshot ({why or 'outside records/'})"
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            return f"has no 'sha256:<64 hex digits>' digest for {rel!r}"
    if not all(isinstance(c, dict) and c.get("record") in files for c in calls):
        return "has a call entry whose record it does not name"
    return None


def open_resume(folder: Path) -> ResumeState:
    """Read and verify the checkpoints of the interrupted run in `folder` (the ``.partial``
    folder or the snapshot's final name). Every checkpointed record's SHA-256 is checked; the
    record files no checkpoint names are listed in `ResumeState.discarded` (deleted by
    `ResumeState.drop_untrusted` once the resume is known to go ahead).
    `SnapshotError` when `folder` is a finished snapshot, not a snapshot, or was tampered with."""
    partial, final = resume_folders(Path(folder))
    if not partial.is_dir():
        if (final / "manifest.json").is_file() and not (final / CHECKPOINTS).exists():
            raise SnapshotError(f"{final} is a finished snapshot: there is nothing to resume")
        raise SnapshotError(f"{partial}: no such folder; --resume takes the folder an interrupted "
                            "`auditor collect` left (<out>.partial) or its final name <out>")
    if final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise SnapshotError(f"{final} already exists and is not empty: the resumed snapshot could not be put there")
    run_rel = f"{CHECKPOINTS}/{RUN_FILE}"
    if not (partial / run_rel).is_file():
        if (partial / "manifest.json").is_file():
            raise SnapshotError(f"{partial} holds no {run_rel}: its run cannot be resumed (written by a run without "
                                "checkpoints, or its checkpoints were removed as it finished)")
        raise SnapshotError(f"{partial} is not a snapshot folder (no {run_rel}): nothing to resume")
    try:
        names = list_files(partial)
    except UnsafePath as exc:
        raise SnapshotError(f"{exc}; refusing to resume") from None
    run = _load_json(partial, run_rel)
    if not isinstance(run, dict) or run.get("format") != RUN_FORMAT:
        raise SnapshotError(f"{partial / run_rel}: not an auditor collection run file")
    manifest = partial / "manifest.json"
    if manifest.is_file():
        try:
            status = json.loads(manifest.read_bytes()).get("status")
        except (ValueError, AttributeError, OSError):
            status = None
        if status == "complete":
            raise SnapshotError(f"{partial}: its manifest says the run finished: there is nothing to resume")
    state = ResumeState(partial=partial, final=final, run=run)
    for rel in names:
        if not rel.startswith(CHECKPOINTS + "/") or rel == run_rel or rel.endswith(".tmp"):
            continue
        try:
            body = _load_json(partial, rel)
        except SnapshotError:
            # Torn by the crash (renamed before its bytes reached the disk): not written. Its
            # records are then named by no checkpoint, so they are collected again.
            state.leftovers.append(rel)
            continue
        why = _checkpoint_problem(body)
        if why is not None:
            raise SnapshotError(f"{partial / rel}: malformed checkpoint: it {why}")
        for rec, digest in body["files"].items():
            _check_record(partial, rec, digest, rel)
            state.files[rec] = digest
        state.calls += body["calls"]
        name = rel[len(CHECKPOINTS) + 1:]
        if name == DISCOVERY:
            state.discovery = body
        elif name.startswith("accounts/"):
            state.accounts[name] = body
        elif name.startswith("tasks/"):
            task = body.get("task")
            if not isinstance(task, dict) or not isinstance(task.get("account"), str) \
                    or not isinstance(task.get("region"), str):
                raise SnapshotError(f"{partial / rel}: malformed checkpoint: it has no task")
            state.tasks[(task["account"], task["region"])] = body
    # Anything else the run wrote is untrusted: a record of a task that had not finished (maybe
    # torn by the crash), a side file. Deleted here and collected again.
    state.discarded = [rel for rel in names if rel.startswith("records/") and rel not in state.files]
    state.leftovers += [rel for rel in names if rel.endswith(".tmp") and not rel.startswith("records/")]
    return state


def _check_record(root: Path, rel: str, digest: str, checkpoint: str) -> None:
    path = root / rel
    try:
        data = read_confined(root, rel)
    except FileNotFoundError:
        raise SnapshotError(f"{path}: named by the checkpoint {root / checkpoint} but missing; the folder was "
                            "changed after the run: refusing to resume") from None
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise SnapshotError(f"{path}: SHA-256 does not match its checkpoint {root / checkpoint} (the record was "
                            "changed after it was checkpointed); refusing to resume: collect again into a new "
                            "folder")


def run_file(data: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``checkpoints/run.json``."""
    return {"format": RUN_FORMAT, **data}
