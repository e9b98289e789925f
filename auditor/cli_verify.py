"""The `auditor verify BUNDLE` command: check an evidence bundle (auditor/bundle.py).

Registered in auditor/cli.py with ``cli.add_command(verify_cmd)``. Exit codes: 0 the bundle
verifies, 2 the folder is not a readable bundle (or a key file is unreadable), 5 verification
failed (the first offending file is named).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor.console import echo, safe

from auditor.cli_common import EXIT_INPUT, EXIT_OK

EXIT_VERIFY_FAILED = 5


@click.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Ed25519 public key (PEM) of the signer: bundle.sig must then be present and valid.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the verdict.")
def verify_cmd(bundle: Path, public_key: Path | None, quiet: bool) -> None:
    """Verify an evidence bundle: every file's SHA-256, the signature, the snapshot, and that
    re-evaluating the snapshot with the bundled inputs gives findings.json byte for byte."""
    from auditor.bundle import BundleError, verify_bundle

    def progress(line: str) -> None:
        if not quiet:
            echo(f"ok  {line}")

    try:
        result = verify_bundle(bundle, public_key=public_key, progress=progress)
    except BundleError as exc:
        echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    if not result.ok:
        echo(f"FAILED  {safe(result.file)}: {result.reason}")   # a name from the bundle: one line
        echo(f"verification failed: {safe(result.file)}", err=True)
        sys.exit(EXIT_VERIFY_FAILED)
    echo(f"VERIFIED  {bundle}")
    sys.exit(EXIT_OK)
