"""The `auditor` command line.

Exit codes (the contract pipelines rely on; docs/cli.md, constants in auditor/cli_common.py):
  0  done, assessment complete (scan: and no FAIL at or above --fail-on)
  1  scan: violations at or above --fail-on, and the assessment is complete
  2  usage, config, rule-pack, waiver or snapshot error (every problem listed; nothing ran)
  3  assessment incomplete: something could not be assessed (scan: no violation at --fail-on)
  4  scan: violations at or above --fail-on AND the assessment is incomplete
  5  verify: the evidence bundle failed verification (auditor/cli_verify.py)
  6  an output could not be written (the --out path, permissions, a full disk); no half file
  130 interrupted (the evidence gathered so far is kept, marked interrupted; after collection
      the complete snapshot is kept and the way to finish is printed)

Every line printed goes through `auditor.console.echo` (terminal-safe); values that come from
AWS or from evidence files are also passed through `console.safe` where they are put into a
line, so that no value can drive the terminal or fake a line of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
import uuid
from pathlib import Path
from typing import Any, NoReturn

import click

from auditor import __version__
from auditor.console import discard, echo, safe
from auditor.errors import AuditorError, InputError, SnapshotError
from auditor.report.wording import default_style, style_help, style_names
from auditor.report.writers import scan_formats
from auditor.vocabulary import FAIL_ON_CHOICES

from auditor.cli_common import (
    EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUT, EXIT_VIOLATIONS,
    EXIT_VIOLATIONS_INCOMPLETE, fail_input, fail_output, fail_unreadable, prepare_output_folder, refuse_inside,
)


def _fail_input(exc: InputError) -> NoReturn:
    fail_input(exc, "; nothing was run")


def _sigterm_as_interrupt() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


class _Progress:
    """Progress on stderr, only when stderr is a terminal and not --quiet."""

    def __init__(self, quiet: bool):
        self.enabled = not quiet and sys.stderr.isatty()
        self.bar: Any = None

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.enabled:
            return
        echo(f"  collected {done}/{total}  {safe(label):<40}", err=True, nl=False, overwrite=True)
        if done == total:
            echo("", err=True)


def _collection_inputs(config: Any) -> tuple[Any, Any]:
    """The run's regions and the redaction key, settled before any folder is made: no region
    anywhere or an unusable key is an input error (exit 2) that leaves nothing behind."""
    from auditor.collect.redact import Redactor
    from auditor.collect.regions import resolve_regions

    profile = config.discovery.management_profile if config.discovery is not None else None
    try:
        return resolve_regions(config.regions, config.source, profile), Redactor.from_environment()
    except InputError as exc:
        _fail_input(exc)
    except AuditorError as exc:
        fail_unreadable(f"{safe(exc)}; nothing was run")


def _run_collect(config: Any, factory: Any, out: Path, gzip: bool, quiet: bool,
                 settled: tuple[Any, Any] | None = None) -> Any:
    """Collect into the snapshot folder `out` (with `settled`: the regions and redactor from
    `_collection_inputs`). Interrupted: exit 130 keeping the evidence so far; a write that
    fails (full disk, permissions): exit 6 saying what is kept."""
    from auditor.collect.runner import collect
    from auditor.snapshot.writer import SnapshotWriter, partial_path

    regions, redactor = settled if settled is not None else _collection_inputs(config)
    try:
        writer = SnapshotWriter(out, compress=gzip)
        return collect(config, factory, writer, progress=_Progress(quiet), regions=regions, redactor=redactor)
    except KeyboardInterrupt:
        echo(f"\ninterrupted: the evidence gathered so far is kept in {safe(partial_path(out))} "
             "(marked interrupted; it is not a valid snapshot)", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except SnapshotError as exc:
        fail_unreadable(safe(exc))
    except OSError as exc:
        kept = partial_path(out)
        fail_output(f"could not write the snapshot {safe(out)}: {safe(exc.strerror or exc)}"
                    + (f"; what was gathered is kept in {safe(kept)} (marked interrupted; not a valid snapshot)"
                       if kept.is_dir() else ""))


def _summary(result: Any) -> None:
    m = result.manifest
    echo(f"snapshot written to {safe(result.path)}")
    echo(f"  {len(m['calls'])} calls, {len(m['errors'])} errors, "
         f"{len(m['accounts'])} accounts, {len(m['regions'])} regions")
    if m.get("region_choice"):
        from auditor.collect.regions import describe_choice

        echo(f"  {safe(describe_choice(m['region_choice']))}")
    if not result.complete:
        echo("  assessment INCOMPLETE: some data could not be collected "
             f"(run `auditor inventory {safe(result.path)}` for every error)", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
def cli() -> None:
    """Prove, with evidence, that regulated AWS workloads run in fully private networks."""


@cli.command("collect")
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Audit config (YAML).")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="New folder for the snapshot (never overwritten).")
@click.option("--gzip", is_flag=True, default=None, help="Store raw responses gzip-compressed.")
@click.option("--allow-incomplete", is_flag=True, help="Exit 0 even when some data could not be collected.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def collect_cmd(config_path: Path, out: Path, gzip: bool | None, allow_incomplete: bool, quiet: bool) -> None:
    """Collect AWS state read-only into an evidence snapshot."""
    from auditor.collect.sessions import SessionFactory
    from auditor.config import load_config

    try:
        config = load_config(config_path)
    except InputError as exc:
        _fail_input(exc)
    settled = _collection_inputs(config)
    prepare_output_folder(out.parent)   # the snapshot folder itself is made by the writer
    if out.exists() and not out.is_dir():
        fail_output(f"--out {safe(out)} is a file: give a new folder for the snapshot")
    _sigterm_as_interrupt()
    factory = SessionFactory(max_attempts=config.collection.max_attempts)
    result = _run_collect(config, factory, out, config.gzip if gzip is None else gzip, quiet, settled)
    _summary(result)
    sys.exit(EXIT_OK if result.complete or allow_incomplete else EXIT_INCOMPLETE)


@cli.command("inventory")
@click.argument("snapshot", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Counts as JSON.")
def inventory_cmd(snapshot: Path, as_json: bool) -> None:
    """Verify a snapshot and print what it holds: counts per account, region and type, and errors."""
    from auditor.inventory import inventory_lines
    from auditor.model import build_model
    from auditor.snapshot.reader import load_snapshot, record_shape_errors

    try:
        snap = load_snapshot(snapshot)
        with record_shape_errors(snap):
            model = build_model(snap.records, snap.manifest.get("files"))
    except SnapshotError as exc:
        fail_unreadable(safe(exc))
    if as_json:
        counts = [{"account": a, "region": r, "type": t, "count": n}
                  for (a, r, t), n in sorted(model.counts().items())]
        # JSON escapes every control character itself (ensure_ascii)
        echo(json.dumps({"complete": snap.complete, "counts": counts,
                         "errors": snap.manifest.get("errors", [])}, indent=1, sort_keys=True))
    else:
        echo("\n".join(inventory_lines(model, snap.manifest)))
    sys.exit(EXIT_OK if snap.complete else EXIT_INCOMPLETE)   # an incomplete snapshot is not "done"


@cli.command("permissions")
@click.option("--caller", is_flag=True, help="The policy of the identity that runs the auditor "
              "(assumes roles, lists organisation accounts) instead of the audited-account role policy.")
@click.option("--role-name", default="AuditorReadOnly", show_default=True, help="Audit role name (with --caller).")
def permissions_cmd(caller: bool, role_name: str) -> None:
    """Print the least-privilege read-only IAM policy the collector needs."""
    from auditor.collect.permissions import audited_account_policy, caller_policy

    policy = caller_policy(role_name) if caller else audited_account_policy()
    echo(json.dumps(policy, indent=2))


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def _load_snapshot(snapshot_dir: Path) -> Any:
    """The verified snapshot, else exit 2 saying why."""
    from auditor.snapshot.reader import load_snapshot

    try:
        return load_snapshot(snapshot_dir)
    except SnapshotError as exc:
        fail_unreadable(safe(exc))


def _scan_snapshot(snap: Any, inputs: Any, out: Path) -> tuple[dict[str, Any], Path]:
    """Evaluate the verified snapshot, write findings.json into `out` (exit 6 when it cannot
    be written: no half file is left)."""
    from auditor.scan import evaluate_snapshot, write_findings
    from auditor.snapshot.reader import record_shape_errors

    try:
        with record_shape_errors(snap):
            document = evaluate_snapshot(snap, inputs)
    except SnapshotError as exc:
        fail_unreadable(safe(exc))
    try:
        return document, write_findings(document, out)
    except OSError as exc:
        fail_output(f"could not write {safe(out / 'findings.json')}: {safe(exc.strerror or exc)} "
                    "(nothing was written in its place)")


def _signing_key(sign_key: Path | None) -> Any:
    from auditor.bundle import BundleError, load_signing_key

    try:
        return None if sign_key is None else load_signing_key(sign_key)
    except BundleError as exc:
        fail_unreadable(f"{safe(exc)}; nothing was run")


def _bundle(out: Path, snapshot_dir: Path, config: Any, inputs: Any, key: Any) -> None:
    """Make `out` an evidence bundle (auditor/bundle.py) and say where; exit 6 when it cannot
    be written (the folder then has no bundle.json: it is not a finished bundle)."""
    from auditor.bundle import write_scan_bundle

    try:
        path = write_scan_bundle(out, snapshot_dir, config, inputs, key)
    except SnapshotError as exc:
        fail_unreadable(f"could not write the evidence bundle: {safe(exc)}")
    except OSError as exc:
        fail_output(f"could not write the evidence bundle into {safe(out)}: {safe(exc.strerror or exc)} "
                    "(no bundle.json was written: the folder is not a finished bundle)")
    echo(f"evidence bundle written to {safe(out)} ({path.name}{', signed' if key is not None else ''}; "
         f"check it with: auditor verify {safe(out)})")


def _reports(out: Path, findings: Path, snapshot_dir: Path, packs: Any, formats: tuple[str, ...],
             style: str | None) -> bool:
    """Write the report files of `formats` next to findings.json and say where; False when one
    could not be written (the others still are: nothing is lost)."""
    from auditor.report.model import build_model, record_hashes_of
    from auditor.report.outputs import write_reports
    from auditor.rules.frameworks import load_catalogues

    raw = findings.read_bytes()
    manifest = (snapshot_dir / "manifest.json").read_bytes()   # the snapshot was verified: it is there
    model = build_model(json.loads(raw), packs, load_catalogues(), style=style,
                        record_hashes=record_hashes_of(manifest))
    try:
        done = write_reports(out, formats, model, raw, findings_path=findings, manifest=manifest, style=style)
    except OSError as exc:
        echo(f"error: could not write the reports into {safe(out)}: {safe(exc.strerror or exc)}", err=True)
        return False
    for fmt, target in done.files:
        echo(f"{fmt} written to {safe(target)}")
    for fmt, target, why in done.failed:
        echo(f"error: {fmt}: {safe(target)} not written: {safe(why)}", err=True)
    return not done.failed


def _formats(text: str | None, config: Any) -> tuple[str, ...]:
    """--format, else the config's outputs.formats, else every format."""
    from auditor.cli_report import parse_formats
    from auditor.config import ALL_FORMATS

    if text is not None:
        return parse_formats(text)
    return tuple(config.formats) if config is not None else ALL_FORMATS


_FORMAT_HELP = (f"Comma-separated reports to write next to findings.json (always written): {', '.join(scan_formats())}; "
                "default: the config's outputs.formats, else all.")
_STYLE_HELP = (f"Wording of the HTML and PDF reports: {style_help()}; default: the profile's style (without one the "
               f"HTML is neutral, the PDF {default_style()}).")


def _evaluate_into_bundle(out: Path, snap: Any, snapshot_dir: Path, config: Any, inputs: Any, key: Any,
                          formats: tuple[str, ...], style: str | None) -> tuple[dict[str, Any], bool]:
    """Evaluate the verified snapshot `snap` (kept in `snapshot_dir`) into ``out/findings.json``,
    write the reports and make `out` an evidence bundle, saying where. Returns the document
    and whether every report was written. Interrupted (Ctrl-C, SIGTERM): says what is kept
    and how to finish, exits 130. findings.json or the bundle not written: exits 6."""
    from auditor.bundle import BUNDLE_FILE, SIGNATURE_FILE

    try:
        document, path = _scan_snapshot(snap, inputs, out)
        for stale in (BUNDLE_FILE, SIGNATURE_FILE):   # a re-run into an old bundle: its manifest no longer holds
            (out / stale).unlink(missing_ok=True)
        echo(f"findings written to {safe(path)}")
        reports_ok = _reports(out, path, snapshot_dir, inputs.packs, formats, style)
        _bundle(out, snapshot_dir, config, inputs, key)
    except KeyboardInterrupt:
        kept = (out / "findings.json").is_file()
        again = f"auditor scan --snapshot {safe(snapshot_dir)}" + (f" -c {safe(config.source)}" if config is not None else "")
        echo(f"\ninterrupted after collection: the snapshot {safe(snapshot_dir)} is complete and kept"
             + (f", and {safe(out / 'findings.json')} was written" if kept else "")
             + f"; {safe(out)} is not a finished evidence bundle (no {BUNDLE_FILE}). Finish with: {again} "
             "--out NEW_FOLDER",
             err=True)
        sys.exit(EXIT_INTERRUPTED)
    return document, reports_ok


def scan_exit_code(document: dict[str, Any], fail_on: str, outputs_written: bool = True) -> int:
    """The exit code of a scan (docs/cli.md): 6 when an output could not be written (the
    evidence is not whole, whatever it says), else 4 violations at or above `fail_on` and
    incomplete, 1 violations and complete, 3 incomplete, 0 complete and compliant."""
    from auditor.results import violations

    if not outputs_written:
        return EXIT_OUTPUT
    complete = bool(document["summary"]["complete"])
    if violations(document, fail_on):
        return EXIT_VIOLATIONS if complete else EXIT_VIOLATIONS_INCOMPLETE
    return EXIT_OK if complete else EXIT_INCOMPLETE


_SEVERITY_CHOICE = click.Choice(list(FAIL_ON_CHOICES))


@cli.command("scan")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Audit config (YAML): accounts, regions, scope, profile, packs, parameters, waivers. "
                   "Required unless --snapshot is given.")
@click.option("--snapshot", "snapshot_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Re-evaluate a kept snapshot offline instead of collecting (without -c: every built-in "
                   "pack, everything in scope, no waivers).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for findings.json (and the snapshot when collecting); default: the config's "
                   "outputs.directory, else audit-output, in a new <UTC time> subfolder. Never inside "
                   "the --snapshot folder.")
@click.option("--fail-on", type=_SEVERITY_CHOICE, default=None,
              help="Exit 1 (4 when the assessment is also incomplete) when a FAIL of this severity or higher "
                   "is found (none: never); default: the config's fail_on, else the profile's, else high.")
@click.option("--gzip", is_flag=True, default=None, help="Store raw responses gzip-compressed.")
@click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sign the bundle manifest (bundle.json) with this Ed25519 private key (PEM, unencrypted) "
                   "into bundle.sig.")
@click.option("--format", "formats", default=None, help=_FORMAT_HELP)
@click.option("--style", type=click.Choice(style_names()), default=None, help=_STYLE_HELP)
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def scan_cmd(config_path: Path | None, snapshot_dir: Path | None, out: Path | None, fail_on: str | None,
             gzip: bool | None, sign_key: Path | None, formats: str | None, style: str | None, quiet: bool) -> None:
    """Collect (or read a snapshot), evaluate the rule packs, write findings.json and the reports
    (HTML, PDF, JUnit, SARIF, CSV) into an evidence bundle, print a summary."""
    from auditor.config import load_config
    from auditor.scan import prepare, summary_lines

    if config_path is None and snapshot_dir is None:
        raise click.UsageError("give -c CONFIG (collect and evaluate) or --snapshot DIR (re-evaluate evidence)")
    try:
        config = load_config(config_path) if config_path is not None else None
        inputs = prepare(config, fail_on=fail_on)
    except InputError as exc:
        _fail_input(exc)
    key = _signing_key(sign_key)
    wanted = _formats(formats, config)
    if out is None:
        base = config.output_dir if config is not None and config.output_dir is not None else Path("audit-output")
        out = base / _stamp()
    # Every input is checked before anything is written: the snapshot read, then the folder.
    snap = None
    if snapshot_dir is not None:
        refuse_inside(out, snapshot_dir, "snapshot")
        snap = _load_snapshot(snapshot_dir)
    settled = _collection_inputs(config) if snapshot_dir is None and config is not None else None
    prepare_output_folder(out)
    _sigterm_as_interrupt()
    if snapshot_dir is None:
        from auditor.collect.sessions import SessionFactory

        assert config is not None
        factory = SessionFactory(max_attempts=config.collection.max_attempts)
        result = _run_collect(config, factory, out / "snapshot", config.gzip if gzip is None else gzip, quiet,
                              settled)
        _summary(result)
        snapshot_dir = result.path
        snap = _load_snapshot(snapshot_dir)
    elif config is not None:
        echo(f"re-evaluating {safe(snapshot_dir)} with {safe(config.source)}", err=True)
    document, reports_ok = _evaluate_into_bundle(out, snap, snapshot_dir, config, inputs, key, wanted, style)
    collected_with = document["run"]["config"]["collected_with_digest"]
    if config is not None and collected_with and collected_with != config.digest:
        echo("note: the config differs from the one the snapshot was collected with "
             "(scope and packs come from the config given now)", err=True)
    echo("\n".join(summary_lines(document, inputs.fail_on)))
    code = scan_exit_code(document, inputs.fail_on, reports_ok)
    if code == EXIT_OUTPUT:
        echo(f"error: some reports could not be written (listed above); findings.json and the bundle are "
             f"complete without them; the scan itself would exit {scan_exit_code(document, inputs.fail_on)}",
             err=True)
    sys.exit(code)


def _demo_needs_moto() -> None:
    """The demo builds its estate in moto, an optional dependency: without it, say how to
    install it and exit 2 (before anything is built or written)."""
    from auditor.emulate import emulator_missing

    why = emulator_missing()
    if why is not None:
        fail_unreadable("`auditor demo` needs the AWS emulator (moto), which is not installed "
                        f"({safe(why)}); install it with: pip install 'private-network-auditor[demo]'")


@cli.command("demo")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for the demo's snapshot and findings (default: demo-output/<UTC time>).")
@click.option("--server", is_flag=True, help="Run the emulator as a real HTTP server instead of in-process.")
@click.option("--format", "formats", default=None, help=_FORMAT_HELP)
@click.option("--style", type=click.Choice(style_names()), default=None, help=_STYLE_HELP)
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def demo_cmd(out: Path | None, server: bool, formats: str | None, style: str | None, quiet: bool) -> None:
    """Run the whole pipeline on the built-in emulated bank estate (no AWS account needed):
    build the estate, collect it, evaluate every built-in pack, write findings.json, the reports
    (HTML, PDF, JUnit, SARIF, CSV) and the evidence bundle.
    Exits 0 when the pipeline ran and the assessment is complete (the estate has violations by
    design: they do not set the code), 3 when it is incomplete, 6 when an output was not written."""
    _demo_needs_moto()
    from auditor.emulate import EmulatedAws, demo_config_path, demo_estate_path, load_estate, seed
    from auditor.emulate.host import DEMO_SEED
    from auditor.config import load_config
    from auditor.scan import prepare, summary_lines

    out = out or Path("demo-output") / _stamp()
    try:
        estate = load_estate(demo_estate_path())
        config = load_config(demo_config_path())
        inputs = prepare(config)
    except InputError as exc:
        _fail_input(exc)
    wanted = _formats(formats, config)
    prepare_output_folder(out)
    _sigterm_as_interrupt()
    echo(f"demo: building the emulated estate '{demo_estate_path().name}' "
         f"({'HTTP server' if server else 'in-process'} emulator) ...", err=True)
    with EmulatedAws(mode="server" if server else "inprocess", seed=DEMO_SEED) as emu:
        seed(estate, emu)
        result = _run_collect(config, emu.session_factory(max_attempts=config.collection.max_attempts),
                              out / "snapshot", config.gzip, quiet)
    _summary(result)
    snap = _load_snapshot(result.path)
    document, reports_ok = _evaluate_into_bundle(out, snap, result.path, config, inputs, None, wanted, style)
    echo("\n".join(summary_lines(document, inputs.fail_on)))
    code = scan_exit_code(document, inputs.fail_on)
    if code in (EXIT_VIOLATIONS, EXIT_VIOLATIONS_INCOMPLETE):
        echo(f"(the demo estate is drifted on purpose: `auditor scan` would exit {code} here)")
    if not reports_ok:
        echo("error: some reports could not be written (listed above)", err=True)
        sys.exit(EXIT_OUTPUT)
    sys.exit(EXIT_OK if document["summary"]["complete"] else EXIT_INCOMPLETE)


def _register_groups() -> None:
    from auditor.cli_rules import rules as rules_group

    cli.add_command(rules_group)
    from auditor.cli_report import report as report_command
    from auditor.cli_verify import verify_cmd

    cli.add_command(report_command)
    cli.add_command(verify_cmd)


_register_groups()


def main() -> None:
    """Console-script entry point: runs the CLI; turns our deliberate errors into clean exits."""
    try:
        code = cli.main(prog_name="auditor", standalone_mode=False)
    except click.exceptions.Abort:     # Ctrl-C outside a command's own handling (click's own exit would be 1)
        echo("\ninterrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:   # usage errors: click's message (as click shows it) and code (2)
        ctx: click.Context | None = getattr(exc, "ctx", None)
        if ctx is not None:
            echo(f"{ctx.get_usage()}\nTry '{ctx.command_path} {ctx.help_option_names[0]}' for help.\n", err=True)
        echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:   # click's own output (help, usage) to a reader that went away
        discard()              # no second error when the interpreter flushes at exit
        sys.exit(EXIT_OUTPUT)
    except AuditorError as exc:  # pragma: no cover - commands handle their own; last resort
        fail_unreadable(safe(exc))
    sys.exit(code if isinstance(code, int) else EXIT_OK)
