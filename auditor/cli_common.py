"""What every command group shares: exit codes, how input problems are printed, and how an
output folder is checked before anything is written."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

from auditor.console import echo, safe
from auditor.errors import InputError

# The exit-code contract (docs/cli.md): a pipeline tells every outcome apart by the code alone.
EXIT_OK = 0                        # done; assessment complete (scan: and compliant at --fail-on)
EXIT_VIOLATIONS = 1                # scan: FAIL at or above --fail-on, and the assessment is complete
EXIT_INPUT = 2                     # usage, config, pack, waiver, snapshot or findings-file error: nothing ran
EXIT_INCOMPLETE = 3                # assessment incomplete (something not assessed); no violation at --fail-on
EXIT_VIOLATIONS_INCOMPLETE = 4     # scan: violations at --fail-on AND the assessment is incomplete
EXIT_VERIFY = 5                    # verify: the evidence bundle failed verification
EXIT_OUTPUT = 6                    # an output could not be written (path, permissions, full disk); no partial file
EXIT_INTERRUPTED = 130             # Ctrl-C or SIGTERM


def fail_input(exc: InputError, closing: str = "") -> NoReturn:
    """Print every problem (`file:line:col  path: message`) to stderr and exit 2."""
    for p in exc.problems:
        echo(p.render(), err=True)
    n = len(exc.problems)
    echo(f"{n} problem{'s' if n != 1 else ''} found{closing}.", err=True)
    sys.exit(EXIT_INPUT)


def fail_unreadable(message: str) -> NoReturn:
    """An input (a snapshot, a bundle, a key) cannot be used: say so on stderr and exit 2."""
    echo(f"error: {message}", err=True)
    sys.exit(EXIT_INPUT)


def fail_output(message: str) -> NoReturn:
    """An output could not be written: say so on stderr and exit 6."""
    echo(f"error: {message}", err=True)
    sys.exit(EXIT_OUTPUT)


def write_whole(out: Path, text: str) -> None:
    """Write `text` to `out` whole, then rename it into place: a failed write (full disk, no
    permission) leaves no half file and no side file, and exits 6 (EXIT_OUTPUT)."""
    side = out.with_name(out.name + ".partial")
    try:
        side.write_text(text, encoding="utf-8")
        side.replace(out)
    except OSError as exc:
        fail_output(f"could not write {safe(out)}: {safe(exc.strerror or exc)}")
    finally:
        if side.is_symlink() or side.exists():
            side.unlink()


def prepare_output_folder(folder: Path) -> None:
    """Make sure `folder` exists (made with its parents) and can be written into, before any
    work: a file in the way, a parent that cannot be made or no permission exits 6 with the
    reason, having written nothing."""
    problem = make_output_folder(folder)
    if problem is not None:
        fail_output(problem)


def make_output_folder(folder: Path) -> str | None:
    """`prepare_output_folder` without the exit: makes `folder` and returns why it cannot be
    used (a file in the way, a parent that cannot be made, no permission), else None."""
    if folder.exists() and not folder.is_dir():
        return f"{safe(folder)} is a file, not a folder: give a folder for the output"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create the output folder {safe(folder)}: {safe(exc.strerror or exc)}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write into the output folder {safe(folder)}: permission denied"
    return None


def refuse_inside(out: Path, evidence: Path, what: str) -> None:
    """Exit 2, before anything is written, when `out` is `evidence` or inside it: writing
    there would change the evidence the command reads (`what` names it)."""
    problem = inside_evidence_problem(out, evidence, what)
    if problem is not None:
        echo(f"error: {problem}", err=True)
        sys.exit(EXIT_INPUT)


def inside_evidence_problem(out: Path, evidence: Path, what: str) -> str | None:
    """`refuse_inside` without the exit: why `out` cannot be written (it is `evidence` or
    inside it), else None."""
    try:
        o, e = out.resolve(), evidence.resolve()
    except OSError:   # a symlink loop: the readers say what is wrong with it
        return None
    if o == e or e in o.parents:
        return (f"--out {safe(out)} is inside the {what} {safe(evidence)}: writing there would change "
                "the evidence; choose a folder outside it (nothing was written)")
    return None
