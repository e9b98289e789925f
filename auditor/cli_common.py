"""What every command group shares: exit codes and how input problems are printed."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

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
        click.echo(p.render(), err=True)
    n = len(exc.problems)
    click.echo(f"{n} problem{'s' if n != 1 else ''} found{closing}.", err=True)
    sys.exit(EXIT_INPUT)
