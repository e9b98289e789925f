"""Load a snapshot and verify it: format, version, status, shape, and the SHA-256 of every file.

Evidence is untrusted input: the manifest and every record are checked for shape before any
other code reads them, so a malformed or hostile snapshot ends in one `SnapshotError` naming
the file (exit 2), never a traceback. Paths are confined to the snapshot: a manifest entry
that is absolute, holds ``..`` or points outside ``records/`` is refused before anything is
opened, and a symbolic link anywhere inside the snapshot is refused, never followed.

The confinement itself is auditor/snapshot/paths.py, shared with the evidence bundle.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterator, Mapping

from auditor.errors import SnapshotError
from auditor.snapshot.paths import UnsafePath, confined_name, list_files, read_confined
from auditor.snapshot.records import CallRecord
from auditor.snapshot.writer import FORMAT, MANIFEST, SCHEMA_VERSION

__all__ = ["Snapshot", "UnsafePath", "confined_name", "list_files", "load_snapshot", "manifest_problem", "read_confined",
           "record_problem", "record_shape_errors"]

RECORDS_DIR = "records"
SOURCE_DIR = "source"   # a plan run's copy of the plan or template file it read (one file, no folder)


def _is_source(rel: str) -> bool:
    parts = rel.split("/")
    return len(parts) == 2 and parts[0] == SOURCE_DIR and bool(parts[1])


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Snapshot:
    """A verified snapshot: its manifest and every call record, in manifest order."""

    path: Path
    manifest: Mapping[str, Any]
    records: tuple[CallRecord, ...]
    manifest_sha256: str

    @property
    def complete(self) -> bool:
        return bool(self.manifest.get("complete"))


# --- shape checks --------------------------------------------------------------------------

def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_list_of(manifest: Mapping[str, Any], key: str, fields: Mapping[str, Any],
                   optional: Mapping[str, Any] | None = None) -> str | None:
    """Why manifest[key] is not a list of objects with `fields` (name -> type test) and, when
    present, `optional` fields; None when it is (or is absent)."""
    if key not in manifest:
        return None
    items = manifest[key]
    if not isinstance(items, list):
        return f"'{key}' is not a list"
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            return f"'{key}[{i}]' is not an object"
        for name, test in fields.items():
            if name not in item:
                return f"'{key}[{i}]' has no '{name}'"
            if not test(item[name]):
                return f"'{key}[{i}].{name}' has the wrong type ({type(item[name]).__name__})"
        for name, test in (optional or {}).items():
            if name in item and not test(item[name]):
                return f"'{key}[{i}].{name}' has the wrong type ({type(item[name]).__name__})"
    return None


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _opt_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


def manifest_problem(manifest: Mapping[str, Any]) -> str | None:
    """Why a manifest (already known to be an object of this format and version) cannot be
    read by the rest of the tool; None when every field the tool reads has its type."""
    if manifest.get("status") not in ("complete", "interrupted"):
        return f"'status' is {manifest.get('status')!r}, not 'complete' or 'interrupted'"
    for key in ("started", "finished", "interrupted_because"):
        if key in manifest and not _is_str(manifest[key]):
            return f"'{key}' is not text"
    if "complete" in manifest and not isinstance(manifest["complete"], bool):
        return "'complete' is not true or false"
    for key in ("tool", "config"):
        if key in manifest and manifest[key] is not None and not isinstance(manifest[key], dict):
            return f"'{key}' is not an object"
    if "regions" in manifest and not _str_list(manifest["regions"]):
        return "'regions' is not a list of region names"
    files = manifest.get("files")
    if not isinstance(files, dict):
        return "'files' is missing or not an object of record path -> SHA-256"
    for rel, digest in files.items():
        why = confined_name(rel)
        if why is not None:
            return f"file entry {rel!r} {why}"
        if _is_source(rel):
            pass   # the plan or template a plan run read (auditor/api.py run_plan): hashed, not a record
        elif rel.split("/", 1)[0] != RECORDS_DIR or not rel.endswith((".json", ".json.gz")):
            return f"file entry {rel!r} is not a record file (records/....json or .json.gz)"
        if not _is_str(digest) or not _DIGEST.match(digest):
            return f"file entry {rel!r} has no 'sha256:<64 hex digits>' digest"
    checks: list[str | None] = [
        _check_list_of(manifest, "calls", {"record": _is_str},
                       {"account": _is_str, "region": _is_str, "service": _is_str, "operation": _is_str,
                        "params": lambda v: isinstance(v, dict), "started": _is_str, "duration_ms": _is_int,
                        "retries": _is_int, "status": _is_str, "error": lambda v: isinstance(v, dict)}),
        _check_list_of(manifest, "errors", {k: _is_str for k in ("account", "region", "service", "operation",
                                                                  "kind", "code", "message")},
                       {"params": lambda v: v is None or isinstance(v, dict), "record": _is_str}),
        _check_list_of(manifest, "accounts", {"id": _is_str},
                       {"name": _opt_str, "source": _opt_str, "role_arn": _opt_str, "problem": _opt_str,
                        "regions": lambda v: v is None or _str_list(v),
                        "identity": lambda v: v is None or isinstance(v, dict)}),
        _check_list_of(manifest, "tasks", {"account": _is_str, "region": _is_str, "status": _is_str}),
        _check_list_of(manifest, "account_problems", {"account": _is_str, "message": _is_str}),
    ]
    return next((c for c in checks if c is not None), None)


def record_problem(body: Any) -> str | None:
    """Why a record file's JSON is not a call record; None when it is."""
    if not isinstance(body, dict):
        return "is not a JSON object"
    for key in ("account", "region", "service", "operation"):
        if key not in body:
            return f"has no '{key}'"
        if not _is_str(body[key]) or not body[key]:
            return f"'{key}' is not a non-empty text"
    if not isinstance(body.get("params", {}), dict):
        return "'params' is not an object"
    pages = body.get("pages", [])
    if not isinstance(pages, list) or not all(isinstance(p, dict) for p in pages):
        return "'pages' is not a list of response objects"
    err = body.get("error")
    if err is not None:
        if not isinstance(err, dict):
            return "'error' is not an object"
        for key in ("kind", "code", "message"):
            if not _is_str(err.get(key)):
                return f"'error.{key}' is missing or not text"
        if err.get("http_status") is not None and not _is_int(err.get("http_status")):
            return "'error.http_status' is not a number"
    return None


# --- loading -------------------------------------------------------------------------------

def _parse_json(path: Path, data: bytes, what: str) -> Any:
    if not data:
        raise SnapshotError(f"{path}: {what} is empty (truncated or never written)")
    try:
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        return json.loads(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise SnapshotError(f"{path}: {what} is not a valid gzip file ({exc or 'truncated'})") from None
    except (ValueError, RecursionError) as exc:
        # UnicodeDecodeError and json.JSONDecodeError are ValueErrors; RecursionError: absurd nesting
        raise SnapshotError(f"{path}: {what} is not valid JSON ({exc})") from None


def load_snapshot(folder: Path | str, *, allow_interrupted: bool = False) -> Snapshot:
    """Load and verify. Raises SnapshotError naming the first offending file (UnsafePath, a
    subclass, for a link, special file or escaping manifest entry)."""
    root = Path(folder)
    if not root.is_dir():
        raise SnapshotError(f"{root}: no such snapshot folder")
    mpath = root / MANIFEST
    if mpath.is_symlink():
        raise UnsafePath(MANIFEST, f"{mpath}: is a symbolic link; a snapshot may hold no links "
                                   "(they are never followed)")
    if not mpath.is_file():
        raise SnapshotError(f"{root}: no {MANIFEST}; this is not a snapshot, or a run that never finished")
    try:
        raw = read_confined(root, MANIFEST)
    except OSError as exc:
        raise SnapshotError(f"{mpath}: cannot read the manifest: {exc.strerror or exc}") from None
    manifest = _parse_json(mpath, raw, "the manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SnapshotError(f"{mpath}: not an auditor snapshot manifest")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SnapshotError(f"{mpath}: snapshot schema version {version!r} is not supported "
                            f"(this tool reads version {SCHEMA_VERSION})")
    if manifest.get("status") != "complete" and not allow_interrupted:
        why = manifest.get("interrupted_because", "unknown reason")
        raise SnapshotError(f"{mpath}: this run was interrupted ({why}); its evidence is partial")
    problem = manifest_problem(manifest)
    if problem is not None:
        raise SnapshotError(f"{mpath}: malformed manifest: {problem}")
    files: Mapping[str, str] = manifest["files"]
    # Every file but the manifest must be listed, wherever it was put; no link anywhere.
    on_disk = set(list_files(root)) - {MANIFEST}
    if manifest.get("status") == "interrupted":   # what a resume needs (auditor/snapshot/checkpoint.py)
        on_disk = {f for f in on_disk if not f.startswith("checkpoints/")}
    extra = sorted(on_disk - set(files))
    if extra:
        raise SnapshotError(f"{root / extra[0]}: file is not listed in the manifest (added after the run?)")
    meta = {c["record"]: c for c in manifest.get("calls", [])}
    records = []
    for rel, expected in files.items():
        path = root / rel
        if rel not in on_disk:
            raise SnapshotError(f"{path}: listed in the manifest but missing")
        try:
            data = read_confined(root, rel)
        except OSError as exc:
            raise SnapshotError(f"{path}: cannot read the record: {exc.strerror or exc}") from None
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise SnapshotError(f"{path}: SHA-256 does not match the manifest (file changed after the run)")
        if _is_source(rel):
            continue
        body = _parse_json(path, data, "the record")
        why = record_problem(body)
        if why is not None:
            raise SnapshotError(f"{path}: malformed record: it {why}")
        call = meta.get(rel)
        if call is not None:
            for key in ("account", "region", "service", "operation"):
                if key in call and call[key] != body[key]:
                    raise SnapshotError(f"{path}: the record's {key} {body[key]!r} differs from the manifest's "
                                        f"{call[key]!r}")
        records.append(CallRecord.from_content(body, call))
    return Snapshot(path=root, manifest=manifest, records=tuple(records),
                    manifest_sha256="sha256:" + hashlib.sha256(raw).hexdigest())


# Errors the model builder and the rule engine raise when record pages hold data of a shape
# AWS never returns (a number where AWS sends text, a list item that is not an object ...).
_SHAPE_ERRORS = (AttributeError, KeyError, TypeError, ValueError, IndexError, RecursionError)


@contextmanager
def record_shape_errors(snapshot: Snapshot) -> Iterator[None]:
    """Turn a shape error raised while the model is built from `snapshot` or evaluated into a
    `SnapshotError` naming the record that holds the odd data (found by building the model
    from each record alone), so that an edited snapshot whose hashes were fixed up is an input
    error (exit 2), never a traceback. The reader checks each record's envelope; the pages'
    contents are AWS's shapes, checked here by their use."""
    try:
        yield
    except _SHAPE_ERRORS as exc:
        culprit = _culprit(snapshot)
        where = f"{snapshot.path / culprit}: malformed record" if culprit else f"{snapshot.path}: a record"
        raise SnapshotError(f"{where}: its pages hold data of a shape AWS never returns "
                            f"({type(exc).__name__}: {str(exc)[:200]}); the snapshot was edited after the "
                            "run or not written by this tool") from None


def _culprit(snapshot: Snapshot) -> str:
    """The first record (manifest order) whose model alone cannot be built; "" when none."""
    from auditor.model import build_model

    files = snapshot.manifest.get("files") or {}
    record_files = [f for f in files if not _is_source(f)]   # records are loaded in the manifest's file order
    for rel, rec in zip(record_files, snapshot.records, strict=False):
        try:
            build_model((rec,), files)
        except _SHAPE_ERRORS:
            return str(rel)
    return ""
