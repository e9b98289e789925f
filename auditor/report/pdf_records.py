"""The raw snapshot records behind the failing findings, chosen for attachment to the PDF/A-3.

Every FAIL and ERROR finding names the record files it was read from (``records/...#/pointer``).
`select_records` reads each cited file once from the snapshot folder (never through a link:
auditor/snapshot/paths.py), recomputes the SHA-256 of the bytes read and attaches them only
when that equals the snapshot manifest's hash. A record that is not attached is never dropped
in silence: its row says why ("not attached: <cause>"), and the appendix prints every row.

Size stays bounded on huge runs: a record cited by many findings is attached once, and at most
`MAX_FILES` records and `MAX_BYTES` bytes in all are attached (in name order); the rest say
that the cap was reached and that the record is in the bundle's snapshot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 64 * 2**20     # record bytes attached to one PDF, all records together
MAX_FILES = 5000           # record files attached to one PDF
NO_SNAPSHOT = "no snapshot given"


@dataclass(frozen=True)
class RecordRow:
    """One record file the failing findings cite: its name (``records/...``), its SHA-256 as the
    snapshot manifest lists it ("sha256:<hex>", "" when not listed), and whether it is
    attached, else why not (`why`, shown as "not attached: <why>")."""

    name: str
    manifest_sha256: str
    attached: bool
    why: str = ""
    size: int = 0

    @property
    def said(self) -> str:
        """What the appendix says of it."""
        if self.attached:
            return "attached (hash checked)"
        return f"not attached: {self.why}"


@dataclass(frozen=True)
class RecordSelection:
    """What `select_records` decided: a row per cited record (name order), the files to attach
    (name, bytes), and `note`, a sentence for the whole table when no record could be attached
    for one reason (no snapshot given), else ""."""

    rows: tuple[RecordRow, ...]
    files: tuple[tuple[str, bytes], ...]
    note: str = ""

    @property
    def attached_bytes(self) -> int:
        return sum(len(data) for _name, data in self.files)

    @property
    def not_attached(self) -> tuple[RecordRow, ...]:
        return tuple(r for r in self.rows if not r.attached)


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def select_records(cited: Iterable[str], hashes: Mapping[str, str], snapshot: Path | None, *,
                   max_bytes: int = MAX_BYTES, max_files: int = MAX_FILES) -> RecordSelection:
    """The records of `cited` (record file names, each once) to attach from the snapshot folder
    `snapshot` (None: none given), checked against `hashes` (name -> "sha256:<hex>", the
    snapshot manifest's `files`)."""
    from auditor.errors import SnapshotError
    from auditor.snapshot.paths import read_confined

    names = sorted(set(cited))
    if snapshot is None:
        rows = tuple(RecordRow(n, hashes.get(n, ""), False, NO_SNAPSHOT) for n in names)
        note = (f"Records not attached: {NO_SNAPSHOT} (the report was made from a findings.json without its "
                "evidence bundle's snapshot); each record's SHA-256 is given when the snapshot manifest was."
                if names else "")
        return RecordSelection(rows, (), note)
    out_rows: list[RecordRow] = []
    files: list[tuple[str, bytes]] = []
    total = 0
    for name in names:
        expected = hashes.get(name, "")
        if not expected:
            out_rows.append(RecordRow(name, "", False, "not listed in the snapshot manifest (no hash to check "
                                                       "its bytes against)"))
            continue
        try:
            data = read_confined(snapshot, name)
        except FileNotFoundError:
            out_rows.append(RecordRow(name, expected, False, "missing from the snapshot folder"))
            continue
        except (SnapshotError, OSError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            out_rows.append(RecordRow(name, expected, False, f"cannot be read from the snapshot ({why})"))
            continue
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != expected:
            out_rows.append(RecordRow(name, expected, False, f"its bytes in the snapshot have SHA-256 {actual}, "
                                                             "not the manifest's (the file changed after the run)"))
            continue
        if len(files) >= max_files:
            out_rows.append(RecordRow(name, expected, False, f"the cap of {max_files} attached records was reached; "
                                                             "it is in the evidence bundle's snapshot", len(data)))
            continue
        if total + len(data) > max_bytes:
            out_rows.append(RecordRow(name, expected, False,
                                      f"its {_mib(len(data))} would take the attached records past the cap of "
                                      f"{_mib(max_bytes)}; it is in the evidence bundle's snapshot", len(data)))
            continue
        total += len(data)
        files.append((name, data))
        out_rows.append(RecordRow(name, expected, True, size=len(data)))
    return RecordSelection(tuple(out_rows), tuple(files))
