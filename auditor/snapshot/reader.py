"""Load a snapshot and verify it: format, version, status, and the SHA-256 of every file."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from auditor.errors import SnapshotError
from auditor.snapshot.records import CallRecord
from auditor.snapshot.writer import FORMAT, MANIFEST, SCHEMA_VERSION


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


def _read_json(path: Path, what: str) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        return json.loads(data)
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{path}: {what} is not valid JSON ({exc})") from None


def load_snapshot(folder: Path | str, *, allow_interrupted: bool = False) -> Snapshot:
    """Load and verify. Raises SnapshotError naming the first offending file."""
    root = Path(folder)
    if not root.is_dir():
        raise SnapshotError(f"{root}: no such snapshot folder")
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise SnapshotError(f"{root}: no {MANIFEST}; this is not a snapshot, or a run that never finished")
    raw = mpath.read_bytes()
    manifest = _read_json(mpath, "the manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SnapshotError(f"{mpath}: not an auditor snapshot manifest")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SnapshotError(f"{mpath}: snapshot schema version {version!r} is not supported "
                            f"(this tool reads version {SCHEMA_VERSION})")
    if manifest.get("status") != "complete" and not allow_interrupted:
        why = manifest.get("interrupted_because", "unknown reason")
        raise SnapshotError(f"{mpath}: this run was interrupted ({why}); its evidence is partial")
    files: Mapping[str, str] = manifest.get("files", {})
    # Every file but the manifest must be listed, wherever it was put.
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {MANIFEST}
    extra = sorted(on_disk - set(files))
    if extra:
        raise SnapshotError(f"{root / extra[0]}: file is not listed in the manifest (added after the run?)")
    meta = {c["record"]: c for c in manifest.get("calls", [])}
    records = []
    for rel, expected in files.items():
        path = root / rel
        if not path.is_file():
            raise SnapshotError(f"{path}: listed in the manifest but missing")
        actual = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            raise SnapshotError(f"{path}: SHA-256 does not match the manifest (file changed after the run)")
        body = _read_json(path, "the record")
        try:
            record = CallRecord.from_content(body, meta.get(rel))
        except (KeyError, TypeError) as exc:
            raise SnapshotError(f"{path}: record is missing field {exc}") from None
        records.append(record)
    return Snapshot(path=root, manifest=manifest, records=tuple(records),
                    manifest_sha256="sha256:" + hashlib.sha256(raw).hexdigest())
