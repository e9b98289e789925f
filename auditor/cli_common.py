"""What every command group shares: exit codes and how input problems are printed."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from auditor.errors import InputError

EXIT_OK, EXIT_VIOLATIONS, EXIT_INPUT, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def fail_input(exc: InputError, closing: str = "") -> NoReturn:
    """Print every problem (`file:line:col  path: message`) to stderr and exit 2."""
    for p in exc.problems:
        click.echo(p.render(), err=True)
    n = len(exc.problems)
    click.echo(f"{n} problem{'s' if n != 1 else ''} found{closing}.", err=True)
    sys.exit(EXIT_INPUT)
