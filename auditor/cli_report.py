"""The `auditor report` command: machine outputs (JUnit XML, SARIF, CSV, a findings.json
copy), the self-contained HTML report and the PDF/A-3b evidence report from a findings.json
file.

Registered in auditor/cli.py. Exit codes: 0 written, 2 the file cannot be read or does not
match the findings.json schema, an unknown format or pack (every problem listed); 6 a
format could not be written (the others still are, and a bundle lists them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from auditor.console import echo, safe

from auditor.cli_common import EXIT_INPUT, EXIT_OUTPUT, fail_input, fail_output
from auditor.errors import InputError

from auditor.report.outputs import FORMATS, unknown_formats

# The PDF is written only when asked for (WeasyPrint takes seconds to a minute on large runs).
DEFAULT_FORMATS = tuple(f for f in FORMATS if f != "pdf")
_MAX_SHOWN = 20


def _die(message: str) -> NoReturn:
    echo(f"error: {message}", err=True)
    sys.exit(EXIT_INPUT)


def parse_formats(text: str) -> tuple[str, ...]:
    """`junit,sarif` -> ("junit", "sarif") in the order given, without repeats; unknown -> exit 2."""
    wanted = [w.strip().lower() for w in text.split(",") if w.strip()]
    unknown = unknown_formats(tuple(wanted))
    if unknown or not wanted:
        what = f"unknown format {', '.join(unknown)}" if unknown else "no format given"
        _die(f"{what}; choose from {', '.join(FORMATS)} (comma-separated)")
    return tuple(dict.fromkeys(wanted))


def load_findings(path: Path) -> dict[str, Any]:
    """A findings.json document, checked against its schema (exit 2 with every problem, up to 20)."""
    import jsonschema

    from auditor.validation import load_schema

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        _die(f"{path}: cannot read: {exc.strerror or exc}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _die(f"{path}: not a findings.json (not JSON: {exc})")
    validator = jsonschema.Draft202012Validator(load_schema("findings"))
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        for err in errors[:_MAX_SHOWN]:
            where = "/".join(str(p) for p in err.absolute_path) or "(document)"
            # keys and values of the file given: each kept on this line (auditor/console.py)
            echo(f"{path}  {safe(where)}: {safe(err.message[:300])}", err=True)
        more = f" (first {_MAX_SHOWN} shown)" if len(errors) > _MAX_SHOWN else ""
        _die(f"{path} does not match the findings.json schema: {len(errors)} problem"
             f"{'s' if len(errors) != 1 else ''}{more}")
    if not isinstance(data, dict):  # pragma: no cover - the schema requires an object
        _die(f"{path}: not a findings.json")
    return data


@click.command("report")
@click.argument("findings", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "formats", default=",".join(DEFAULT_FORMATS), show_default=True,
              help=f"Comma-separated outputs: {', '.join(FORMATS)} (pdf only when asked for).")
@click.option("--style", type=click.Choice(["banking", "healthcare"]), default=None,
              help="Wording of the PDF report: banking (PCI DSS v4.0 / FFIEC) or healthcare (HIPAA Security "
                   "Rule, ePHI); default: the profile's style, else banking.")
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Folder to write into (created if missing; default: the folder of FINDINGS).")
@click.option("--pack", "packs", multiple=True, type=click.Path(path_type=Path),
              help="A pack file or folder whose rules the findings cite, besides the built-in packs (repeatable).")
@click.option("--sign-key", type=click.Path(path_type=Path, dir_okay=False),
              help="When the folder is an evidence bundle: sign its refreshed bundle.json with this Ed25519 "
                   "private key (PEM).")
def report(findings: Path, formats: str, style: str | None, out: Path | None, packs: tuple[Path, ...],
           sign_key: Path | None) -> None:
    """Write JUnit XML, SARIF 2.1.0, CSV, a findings.json copy and a self-contained HTML report
    (report.html) from FINDINGS, and with `--format pdf` the PDF/A-3b evidence report (report.pdf);
    in an evidence bundle the new files are added to its bundle.json."""
    from auditor.bundle import BundleError, load_signing_key

    try:
        key = None if sign_key is None else load_signing_key(sign_key)
    except BundleError as exc:
        _die(str(exc))
    from auditor.report.model import build_model, record_hashes_of
    from auditor.report.outputs import write_reports
    from auditor.rules.frameworks import load_catalogues
    from auditor.rules.packs import load_packs

    wanted = parse_formats(formats)
    document = load_findings(findings)
    try:
        pack_set = load_packs(list(packs))
        catalogues = load_catalogues()
    except InputError as exc:
        fail_input(exc)
    # In a bundle: the snapshot manifest gives each cited record's hash and is attached to the PDF.
    manifest_file = findings.parent / "snapshot" / "manifest.json"
    manifest = manifest_file.read_bytes() if manifest_file.is_file() else None
    model = build_model(document, pack_set, catalogues, style=style,   # --style: HTML and PDF alike
                        record_hashes=record_hashes_of(manifest))
    folder = out if out is not None else findings.parent
    try:
        done = write_reports(folder, wanted, model, findings.read_bytes(), findings_path=findings,
                             manifest=manifest, style=style)
    except OSError as exc:
        fail_output(f"cannot write into {folder}: {exc.strerror or exc}")
    for fmt, target in done.same_as_input:
        echo(f"{fmt}: {target} (the input itself)")
    for fmt, target in done.files:
        echo(f"{fmt}: {target}")
    for fmt, target, why in done.failed:
        echo(f"error: {fmt}: {target} not written: {why}", err=True)
    from auditor.bundle import BUNDLE_FILE, refresh_bundle

    signed = (folder / "bundle.sig").is_file()
    if refresh_bundle(folder, key=key):  # the reports joined an evidence bundle: list them in its manifest
        dropped = signed and key is None
        echo(f"added to the evidence bundle's {BUNDLE_FILE}"
                   + (" (its old signature was removed: give --sign-key to sign it again)" if dropped else
                      " (signed)" if key is not None else ""))
    if done.failed:
        sys.exit(EXIT_OUTPUT)
