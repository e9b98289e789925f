"""Writing the report files of one findings.json into a folder: what `auditor report`,
`auditor scan` and `auditor demo` share.

Every format is made from the same `ReportModel` by its writer (the registry of
auditor/report/writers/); ``json`` is the findings.json bytes themselves. A format that cannot
be written (WeasyPrint or the system's Pango missing, a disk error) does not stop the others:
the caller gets every file written and every failure.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import mmap
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.report.model import ReportModel
from auditor.report.writers import (FindingsBytes, ReportInputs, ReportUnavailable, file_names, forget_pages,
                                    format_names, rederivable, writer)

if TYPE_CHECKING:
    from auditor.report.signing import PdfSigner

__all__ = ["FILE_NAMES", "FORMATS", "REDERIVABLE", "ReportUnavailable", "Written", "map_findings", "report_bytes",
           "write_reports"]

# Derived from the writers' registry (auditor/report/writers/), never listed here.
FORMATS = format_names()
FILE_NAMES = file_names()
# The formats whose bytes depend only on findings.json, the packs, the snapshot manifest and
# the style: `auditor verify` re-derives them and compares byte for byte.
REDERIVABLE = rederivable()


@dataclass
class Written:
    """What `write_reports` did: (format, path) written, skipped as the input itself, failed."""

    files: list[tuple[str, Path]] = field(default_factory=list)
    same_as_input: list[tuple[str, Path]] = field(default_factory=list)
    failed: list[tuple[str, Path, str]] = field(default_factory=list)


def write_whole(target: Path, data: bytes) -> None:
    """Write `data` to a side file, then rename it over `target`: an interrupted or failed
    write leaves no half file under the report's name (and no side file)."""
    side = target.with_name(target.name + ".partial")
    try:
        side.write_bytes(data)
        side.replace(target)
    finally:
        side.unlink(missing_ok=True)


def write_streamed(target: Path, fmt: str, inputs: ReportInputs) -> None:
    """Write the format `fmt` (a writer with `stream`) into a side file piece by piece, then
    rename it over `target`, as `write_whole` does."""
    side = target.with_name(target.name + ".partial")
    stream = writer(fmt).stream
    assert stream is not None
    try:
        with side.open("wb") as out:
            stream(inputs, out)
        side.replace(target)
    finally:
        side.unlink(missing_ok=True)


def report_bytes(fmt: str, model: ReportModel, findings_json: FindingsBytes, *, manifest: bytes | None = None,
                 style: str | None = None, snapshot: Path | None = None, pdf_signer: PdfSigner | None = None) -> bytes:
    """The bytes of the report `fmt` made from `model` (built from `findings_json`). Raises
    ReportUnavailable when this installation cannot make it (the PDF without WeasyPrint, or a
    signature that cannot be made). `snapshot` and `pdf_signer`: see `ReportInputs`."""
    return writer(fmt).write(ReportInputs(model, findings_json, manifest=manifest, style=style, snapshot=snapshot,
                                          pdf_signer=pdf_signer))


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where the C library has it (else None)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


# Below this size of findings.json a report leaves little behind, and the automatic collector
# takes it; a full collection per format would cost a scan of the whole process's heap each time
# (about half a second in a process holding a few hundred MB, such as a test worker).
RELEASE_MEMORY_ABOVE = 16 * 2**20


def map_findings(path: Path) -> FindingsBytes:
    """findings.json at `path` for the reports: a read-only map of the file (an organisation's
    run: some 200 MB), so that its bytes are read from the file as a report needs them rather
    than held in the process while every report is written; `release_memory` lets the pages
    read go (they stay in the system's file cache). An empty file is its bytes (b"")."""
    with path.open("rb") as fh:
        if fh.seek(0, 2) == 0:
            return b""
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def release_memory(findings_json: FindingsBytes | None = None) -> None:
    """Free what the last report left behind and give it back to the system: a report of an
    organisation's run (WeasyPrint's layout, a format's whole text) would otherwise stay in the
    process and raise the floor of every report written after it. A mapped findings.json
    (`map_findings`) drops the pages read from this process (the file's bytes are unchanged)."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    forget_pages(findings_json)


def write_reports(folder: Path, formats: tuple[str, ...], model: ReportModel, findings_json: FindingsBytes, *,
                  findings_path: Path | None = None, manifest: bytes | None = None,
                  style: str | None = None, snapshot: Path | None = None,
                  pdf_signer: PdfSigner | None = None) -> Written:
    """Write each of `formats` (known names only) from `model` into `folder` (created).

    `findings_json` is the exact findings.json the model was built from (its bytes, or its
    `map_findings`; the ``json`` output,
    and attached to the PDF with the snapshot `manifest` and the records of the `snapshot`
    folder that the failing findings cite); when `findings_path` is already
    ``folder/findings.json`` it is not rewritten. `pdf_signer`: the PDF is signed (PAdES)
    before it is written, so whatever hashes report.pdf afterwards hashes the signed file."""
    done = Written()
    folder.mkdir(parents=True, exist_ok=True)
    large = len(findings_json) >= RELEASE_MEMORY_ABOVE
    if large:
        release_memory(findings_json)   # what building the model left, and the pages of findings.json it read
    for fmt in formats:
        target = folder / FILE_NAMES[fmt]
        if (fmt == "json" and findings_path is not None and target.exists()
                and target.resolve() == findings_path.resolve()):
            done.same_as_input.append((fmt, target))
            continue
        try:
            if writer(fmt).stream is not None:
                write_streamed(target, fmt, ReportInputs(model, findings_json, manifest=manifest, style=style,
                                                         snapshot=snapshot, pdf_signer=pdf_signer))
            else:
                write_whole(target, report_bytes(fmt, model, findings_json, manifest=manifest, style=style,
                                                  snapshot=snapshot, pdf_signer=pdf_signer))
        except OSError as exc:
            done.failed.append((fmt, target, f"cannot write: {exc.strerror or exc}"))
        except ReportUnavailable as exc:
            done.failed.append((fmt, target, str(exc)))
        else:
            done.files.append((fmt, target))
        if large:
            release_memory(findings_json)
    return done
