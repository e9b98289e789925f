"""The registry of output formats: each format is one writer module in this package.

A writer module defines ``WRITER = Writer(...)``: the format's name (what ``--format`` and
``outputs.formats`` take), the file it writes, and a function from `ReportInputs` to the file's
bytes. The modules are found here by name (`writers`), so adding a format is adding its module
(and its tests); the format lists of the CLI's help and errors, the scan's default, the
config's check and `auditor verify` all follow from this registry. Writer modules import what
they format with inside `write`, so that listing the formats stays cheap (the config and the
CLI's help do it).
"""

from __future__ import annotations

import importlib
import io
import mmap
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from auditor.errors import AuditorError

if TYPE_CHECKING:
    from auditor.report.model import ReportModel
    from auditor.report.signing import PdfSigner


# findings.json's bytes, or a read-only map of the file (an organisation's run: not held in the process)
FindingsBytes = bytes | mmap.mmap


def whole_bytes(raw: FindingsBytes) -> bytes:
    """`raw` as one `bytes` (for what needs it whole: the PDF's attachment). Of a map of the
    file, the pages read are then given back at once (the copy is what is kept), so that the
    file's bytes are not counted twice in this process while it is used."""
    if isinstance(raw, bytes):
        return raw
    data = raw[:]
    forget_pages(raw)
    return data


def forget_pages(raw: FindingsBytes | None) -> None:
    """Give back the pages of a map of findings.json that this process has read (they are read
    again from the file when needed; its bytes are unchanged). Nothing for `bytes`."""
    dontneed = getattr(mmap, "MADV_DONTNEED", None)
    if isinstance(raw, mmap.mmap) and not raw.closed and dontneed is not None:
        raw.madvise(dontneed)


class ReportUnavailable(AuditorError):
    """A format this installation cannot make (the PDF without WeasyPrint or Pango)."""


@dataclass(frozen=True)
class ReportInputs:
    """What a writer is given: the report model, the exact findings.json bytes it was built
    from, the snapshot manifest's bytes when available, and the style asked for (None: the
    profile's). `snapshot`: the snapshot folder, when the caller has it (the PDF attaches the
    records the failing findings cite; None: it says "no snapshot given"); `pdf_signer`: sign
    the PDF (auditor/report/signing.py). `findings_json` may be a read-only map of the file
    (`auditor.report.outputs.map_findings`): a writer reads it as bytes (slices, hashes) and
    makes `bytes` of it only for what needs it whole."""

    model: ReportModel
    findings_json: FindingsBytes
    manifest: bytes | None = None
    style: str | None = None
    snapshot: Path | None = None
    pdf_signer: PdfSigner | None = None


@dataclass(frozen=True)
class Writer:
    """One output format.

    `order` places it in the lists people read (`auditor report --help`, errors);
    `evidence` marks what a person or an auditor reads (findings.json, the HTML, the PDF), which
    `auditor scan` writes first, before the exports for other tools; `rederivable`: its bytes
    depend only on findings.json, the packs, the snapshot manifest and the style, so `auditor
    verify` re-derives them; `by_default`: `auditor report` writes it without ``--format``;
    `in_scan_default`: `auditor scan` and `auditor demo` write it when neither ``--format`` nor
    ``outputs.formats`` says (False for a format that needs an optional extra: OSCAL).
    `write` raises ReportUnavailable when this installation cannot make it. `stream`, when
    given, writes the same bytes into an open binary file piece by piece (a format of one item
    per finding: an organisation's run is then written without holding its whole text);
    `streamed` makes `write` from it."""

    name: str
    file_name: str
    write: Callable[[ReportInputs], bytes]
    order: int
    evidence: bool = False
    rederivable: bool = False
    by_default: bool = True
    in_scan_default: bool = True
    stream: Callable[[ReportInputs, BinaryIO], None] | None = None


def streamed(stream: Callable[[ReportInputs, BinaryIO], None]) -> Callable[[ReportInputs], bytes]:
    """A writer's `write` made from its `stream`: the same bytes, held in memory."""
    def write(inputs: ReportInputs) -> bytes:
        out = io.BytesIO()
        stream(inputs, out)
        return out.getvalue()
    return write


@cache
def writers() -> tuple[Writer, ...]:
    """Every registered writer, in `order`: the `WRITER` of each module of this package."""
    return discover(__name__)


def discover(package: str) -> tuple[Writer, ...]:
    """The `WRITER` of each module of `package` (but those named ``_*``), in `order`. A module
    without one, or a format named twice, is a mistake in the code: TypeError, ValueError."""
    found: dict[str, Writer] = {}
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        entry = getattr(module, "WRITER", None)
        if not isinstance(entry, Writer):
            raise TypeError(f"{module.__name__} defines no WRITER = Writer(...)")
        if entry.name in found:
            raise ValueError(f"format {entry.name!r} is registered twice ({module.__name__})")
        found[entry.name] = entry
    return tuple(sorted(found.values(), key=lambda w: (w.order, w.name)))


def writer(name: str) -> Writer:
    """The writer of format `name` (KeyError when there is none)."""
    for w in writers():
        if w.name == name:
            return w
    raise KeyError(name)


def format_names() -> tuple[str, ...]:
    """Every format, in `order`: junit, sarif, csv, ocsf, oscal, json, html, pdf."""
    return tuple(w.name for w in writers())


def scan_formats() -> tuple[str, ...]:
    """Every format `auditor scan` can write (what --format and outputs.formats accept), in the
    order it writes them: the evidence first (json, html, pdf), then the exports (junit, sarif,
    csv, ocsf, oscal)."""
    return tuple(w.name for w in writers() if w.evidence) + tuple(w.name for w in writers() if not w.evidence)


def scan_default_formats() -> tuple[str, ...]:
    """What `auditor scan` writes when neither --format nor outputs.formats says: `scan_formats`
    but those needing an optional extra (OSCAL: compliance-trestle, the ``oscal`` extra)."""
    return tuple(name for name in scan_formats() if writer(name).in_scan_default)


def report_formats() -> tuple[str, ...]:
    """What `auditor report` writes without --format (not the PDF: it takes seconds to a minute;
    not OSCAL: it needs the ``oscal`` extra)."""
    return tuple(w.name for w in writers() if w.by_default)


def file_names() -> Mapping[str, str]:
    """Format -> the file it writes."""
    return {w.name: w.file_name for w in writers()}


def rederivable() -> tuple[str, ...]:
    """The formats `auditor verify` re-derives byte for byte."""
    return tuple(w.name for w in writers() if w.rederivable)
