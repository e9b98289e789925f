"""The `auditor verify BUNDLE` command: check an evidence bundle (auditor/bundle.py), or with
`--store S` a stored run by id, prefix, latest or previous (docs/store.md).

Registered in auditor/cli.py with ``cli.add_command(verify_cmd)``. The verdict line says what
was proven (docs/bundle.md):

  VERIFIED (signed; Ed25519 signature checked with KEY)            exit 0
  VERIFIED, UNSIGNED (no bundle.sig: ...)                           exit 0
  VERIFIED, SIGNATURE NOT CHECKED (bundle.sig present but no --public-key given: ...)   exit 0
  FAILED  <file>: <reason>                                          exit 5

An unsigned or unchecked bundle is never plain "VERIFIED". A pipeline that needs the signature
passes --public-key: a missing, malformed or non-matching signature is then exit 5, so exit 0
means "signed and checked". Exit 2: the folder is not a bundle at all, or the key file is
unreadable.

A signed report.pdf is checked too (PAdES: intact, covering the whole file, the signer named);
its signer is trusted only against the certificates of --pdf-trust, else the line says "intact,
signer not trusted: no trust anchor given". A tampered signature fails (exit 5); an unsigned
report.pdf is noted, and fails with --require-pdf-signature.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from auditor.cli_common import EXIT_INPUT, EXIT_OK, EXIT_VERIFY
from auditor.console import echo, safe


@click.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Ed25519 public key (PEM) of the signer: bundle.sig must then be present and valid "
                   "(without it the verdict says UNSIGNED or SIGNATURE NOT CHECKED).")
@click.option("--pdf-trust", type=click.Path(dir_okay=False, path_type=Path), multiple=True,
              help="A certificate (PEM or DER) a signed report.pdf's signer must chain to (repeatable); without "
                   "it the PDF signature is checked but its signer is not trusted.")
@click.option("--require-pdf-signature", is_flag=True,
              help="Fail when report.pdf is missing or carries no PAdES signature.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the verdict (and any file not re-derived).")
@click.option("--store", "store_location", metavar="LOCATION", default=None,
              help="BUNDLE is a run in this run store (a run id, a unique prefix of 6+ characters, latest or "
                   "previous): it is fetched and verified like a folder, and its bundle.json checked against the "
                   "store's index.")
def verify_cmd(bundle: Path, public_key: Path | None, pdf_trust: tuple[Path, ...], require_pdf_signature: bool,
               quiet: bool, store_location: str | None = None) -> None:
    """Verify an evidence bundle: every file's SHA-256, the signature, the snapshot, that
    re-evaluating the snapshot with the bundled inputs gives findings.json byte for byte, and
    that every report re-derived from findings.json gives the same bytes."""
    if store_location is None:
        _verify(bundle, str(bundle), public_key, pdf_trust, require_pdf_signature, quiet)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="auditor-verify-") as tmp:   # an S3 run is fetched there
        folder, shown = _stored_run(str(bundle), store_location, Path(tmp), quiet)
        _verify(folder, shown, public_key, pdf_trust, require_pdf_signature, quiet)


def _verify(bundle: Path, shown: str, public_key: Path | None, pdf_trust: tuple[Path, ...],
            require_pdf_signature: bool, quiet: bool) -> NoReturn:
    from auditor.bundle import BundleError
    from auditor.bundle_verify import verify_bundle

    def progress(mark: str, line: str) -> None:
        if not quiet:
            echo(f"{mark:<3} {line}")

    try:
        result = verify_bundle(bundle, public_key=public_key, progress=progress, pdf_trust=pdf_trust,
                               require_pdf_signature=require_pdf_signature)
    except BundleError as exc:
        echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    if not result.ok:
        echo(f"FAILED  {safe(result.file)}: {result.reason}")   # a name from the bundle: one line
        echo(f"verification failed: {safe(result.file)}", err=True)
        sys.exit(EXIT_VERIFY)
    if quiet:
        for line in result.not_rederived:
            echo(f"--  NOT re-derived: {line}")
        if result.pdf_signature:
            echo(f"--  report.pdf: {safe(result.pdf_signature)}")
    echo(f"{result.verdict()}  {safe(shown)}")
    sys.exit(EXIT_OK)


def _stored_run(ref: str, location: str, into: Path, quiet: bool) -> tuple[Path, str]:
    """The local folder of the stored run `ref` (fetched) and how to name it; exit 2 when the
    store or the run cannot be found, 5 when its bundle.json is not the one the index holds."""
    import hashlib

    from auditor.cli_store import open_for_command, say_notes
    from auditor.store import StoredObjectChanged, StoreError

    store = open_for_command(location)
    said = len(list(getattr(store, "notes", ())))
    try:
        run = store.get(ref)
        say_notes(store, said)
        folder = store.fetch(run, into=into)
        actual = hashlib.sha256((folder / "bundle.json").read_bytes()).hexdigest()
    except StoredObjectChanged as exc:   # the stored evidence was changed: a failed verification
        echo(f"FAILED  {safe(exc.file)}: {safe(exc)}")
        echo(f"verification failed: run {safe(ref)} in {safe(store.description)}", err=True)
        sys.exit(EXIT_VERIFY)
    except StoreError as exc:
        echo(f"error: {safe(exc)}", err=True)
        sys.exit(EXIT_INPUT)
    except OSError as exc:
        echo(f"error: run {safe(ref)} in {safe(store.description)} cannot be read: {safe(exc.strerror or exc)}",
             err=True)
        sys.exit(EXIT_INPUT)
    if actual != run.bundle_sha256:
        explain = getattr(store, "mismatch", None)
        why = explain(run, actual) if callable(explain) else (
            f"bundle.json's SHA-256 is {actual}, the store's index says {run.bundle_sha256}: the stored bundle or "
            "the index was changed")
        echo(f"FAILED  bundle.json: {safe(why)}")
        echo(f"verification failed: run {safe(run.run_id)} in {safe(store.description)}", err=True)
        sys.exit(EXIT_VERIFY)
    if not quiet:
        echo(f"{'ok':<3} bundle.json: SHA-256 matches the store's index for run {safe(run.run_id)}")
    return folder, f"run {run.run_id} in {store.description}"
