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


def prepare_output_folder(folder: Path) -> None:
    """Make sure `folder` exists (made with its parents) and can be written into, before any
    work: a file in the way, a parent that cannot be made or no permission exits 6 with the
    reason, having written nothing."""
    if folder.exists() and not folder.is_dir():
        fail_output(f"{safe(folder)} is a file, not a folder: give a folder for the output")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail_output(f"cannot create the output folder {safe(folder)}: {safe(exc.strerror or exc)}")
    if not os.access(folder, os.W_OK | os.X_OK):
        fail_output(f"cannot write into the output folder {safe(folder)}: permission denied")


def refuse_inside(out: Path, evidence: Path, what: str) -> None:
    """Exit 2, before anything is written, when `out` is `evidence` or inside it: writing
    there would change the evidence the command reads (`what` names it)."""
    try:
        o, e = out.resolve(), evidence.resolve()
    except OSError:   # a symlink loop: the readers say what is wrong with it
        return
    if o == e or e in o.parents:
        echo(f"error: --out {safe(out)} is inside the {what} {safe(evidence)}: writing there would change "
             "the evidence; choose a folder outside it (nothing was written)", err=True)
        sys.exit(EXIT_INPUT)
