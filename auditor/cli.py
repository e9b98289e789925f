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

The scan, the demo and a collection run in auditor/api.py (the library, which prints nothing);
the commands here are argument handling and printing around it.

Every line printed goes through `auditor.console.echo` (terminal-safe); values that come from
AWS or from evidence files are also passed through `console.safe` where they are put into a
line, so that no value can drive the terminal or fake a line of its own.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click

from auditor import __version__
from auditor.api import DemoResult, ScanStopped
from auditor.cli_aws import AwsOptions, aws_options, config_for_command
from auditor.cli_pdfsign import PdfSigningOptions, pdf_signer, pdf_signing_options
from auditor.console import discard, echo, safe
from auditor.distributed import EngineSpec
from auditor.distributed.options import engine_options
from auditor.errors import AuditorError, InputError, SnapshotError
from auditor.report.wording import default_style, style_help, style_names
from auditor.report.writers import scan_default_formats, scan_formats
from auditor.vocabulary import FAIL_ON_CHOICES

from auditor.cli_logging import RunOutput, run_options
from auditor.cli_common import (
    EXIT_INCOMPLETE, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUT, EXIT_VIOLATIONS, EXIT_VIOLATIONS_INCOMPLETE, fail_input,
    fail_output, fail_unreadable, prepare_output_folder,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from auditor.config import AuditConfig
    from auditor.snapshot.shards import Shard
    from auditor.store.base import StoreSpec


def _fail_input(exc: InputError) -> NoReturn:
    fail_input(exc, "; nothing was run")


def _sigterm_as_interrupt() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


def _stopped(exc: ScanStopped) -> NoReturn:
    """A run the library stopped: its message on stderr, its exit code."""
    echo(f"\n{exc.message}" if exc.code == EXIT_INTERRUPTED else f"error: {exc.message}", err=True)
    sys.exit(exc.code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
def cli() -> None:
    """Prove, with evidence, that regulated AWS workloads run in fully private networks."""


_SHARD_HELP = ("Collect only shard i of N (e.g. 2/3): an account's shard is set by a hash of its id, so it "
               "never moves when accounts join; the other shards' accounts are named as not collected here. "
               "Merge the shards with `auditor merge-snapshots`.")


def _shard(text: str | None) -> Shard | None:
    """--shard parsed (a bad one stops here: exit 2, nothing run)."""
    from auditor.snapshot.shards import ShardError, parse_shard

    if text is None:
        return None
    try:
        return parse_shard(text)
    except ShardError as exc:
        echo(f"error: {safe(exc)}; nothing was run", err=True)
        sys.exit(EXIT_INPUT)


@cli.command("collect")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Audit config (YAML); without it: the caller's account, every built-in pack.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="New folder for the snapshot (never overwritten); required unless --resume.")
@click.option("--gzip", is_flag=True, default=None, help="Store raw responses gzip-compressed.")
@click.option("--allow-incomplete", is_flag=True, help="Exit 0 even when some data could not be collected.")
@click.option("--shard", "shard_text", metavar="i/N", default=None, help=_SHARD_HELP)
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path), default=None,
              help="Finish the run an interruption or crash left in this folder (<out>.partial, or <out>): keep "
                   "what it checkpointed, collect the rest. Give the same config.")
@run_options
@aws_options
@engine_options
def collect_cmd(config_path: Path | None, out: Path | None, gzip: bool | None, allow_incomplete: bool,
                shard_text: str | None, resume_dir: Path | None, output: RunOutput, aws: AwsOptions,
                engine: EngineSpec) -> None:
    """Collect AWS state read-only into an evidence snapshot."""
    from auditor.api import collect_snapshot, collection_inputs, resume_snapshot, shard_check
    from auditor.collect.sessions import SessionFactory

    shard = _shard(shard_text)
    if resume_dir is not None and (out is not None or shard is not None or gzip is not None):
        echo("error: --resume carries on the interrupted run with its own --out, --shard and --gzip; give only "
             "--resume (and the same config); nothing was run", err=True)
        sys.exit(EXIT_INPUT)
    if resume_dir is None and out is None:
        echo("error: Missing option '--out' (a new folder for the snapshot), or give --resume FOLDER; nothing "
             "was run", err=True)
        sys.exit(EXIT_INPUT)
    try:
        config = config_for_command(config_path, aws, output.notify)
        assert config is not None
        settled = collection_inputs(config)
        if shard is not None:
            shard_check(config, shard)
    except InputError as exc:
        _fail_input(exc)
    except ScanStopped as exc:
        _stopped(exc)
    factory = SessionFactory.for_collection(config.collection)
    if resume_dir is not None:
        _sigterm_as_interrupt()
        try:
            with output.progress() as progress:
                result = resume_snapshot(config, factory, resume_dir, progress, output.notify, engine=engine)
        except ScanStopped as exc:
            _stopped(exc)
        sys.exit(EXIT_OK if result.complete or allow_incomplete else EXIT_INCOMPLETE)
    assert out is not None
    prepare_output_folder(out.parent)   # the snapshot folder itself is made by the writer
    if out.exists() and not out.is_dir():
        fail_output(f"--out {safe(out)} is a file: give a new folder for the snapshot")
    _sigterm_as_interrupt()
    try:
        with output.progress() as progress:
            result = collect_snapshot(config, factory, out, config.gzip if gzip is None else gzip, progress,
                                      settled, output.notify, shard=shard, engine=engine)
    except ScanStopped as exc:
        _stopped(exc)
    sys.exit(EXIT_OK if result.complete or allow_incomplete else EXIT_INCOMPLETE)


@cli.command("merge-snapshots")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="New folder for the merged snapshot (never overwritten).")
@click.option("--allow-incomplete", is_flag=True, help="Exit 0 even when the merged snapshot is incomplete.")
@click.argument("snapshots", nargs=-1, required=True, type=click.Path(path_type=Path))
def merge_cmd(out: Path, allow_incomplete: bool, snapshots: tuple[Path, ...]) -> None:
    """Merge the snapshots of `auditor collect --shard i/N` (from any machines) into one snapshot:
    each verified, all of the same run; a missing shard's accounts stay ERROR gaps."""
    from auditor.api import merge_shards

    prepare_output_folder(out.parent)
    if out.exists() and not out.is_dir():
        fail_output(f"--out {safe(out)} is a file: give a new folder for the merged snapshot")
    try:
        result = merge_shards(list(snapshots), out)
    except ScanStopped as exc:
        _stopped(exc)
    m = result.manifest
    shard = m.get("shard") or {}
    echo(f"merged snapshot written to {safe(result.path)}")
    echo(f"  shards {', '.join(str(i) for i in shard.get('merged', []))} of {shard.get('count')}; "
         f"{len(m['calls'])} calls, {len(m['errors'])} errors, {len(m['accounts'])} accounts")
    if shard.get("missing"):
        echo(f"  shard(s) {', '.join(str(i) for i in shard['missing'])} missing: their accounts were not "
             "collected (ERROR gaps)", err=True)
    if not result.complete:
        echo(f"  assessment INCOMPLETE (run `auditor inventory {safe(result.path)}` for every error)", err=True)
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
@click.option("--format", "fmt", type=click.Choice(["json", "cloudformation", "terraform"]), default="json",
              show_default=True, help="json: the IAM policy; cloudformation: a StackSet template of the role; "
              "terraform: a module of the role (variables, role, policy, outputs).")
@click.option("--caller", is_flag=True, help="The identity that runs the auditor (assumes roles, lists "
              "organisation accounts) instead of the read-only role in the audited accounts.")
@click.option("--role-name", default="AuditorReadOnly", show_default=True,
              help="The read-only role's name (the templates' default; with --caller, the role it may assume).")
@click.option("--trusted-principal", metavar="ACCOUNT_OR_ARN", default=None,
              help="Templates: who may assume the role, as the parameter's default (an account id or an IAM "
              "role/user ARN); without it, given at deploy time.")
@click.option("--external-id", default=None, help="Templates: the sts:ExternalId the role requires, as the "
              "parameter's default; without it, none unless given at deploy time.")
@click.option("--max-session-duration", type=int, default=3600, show_default=True,
              help="Templates: the role's longest session, in seconds (3600-43200).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Write the file(s) into this folder instead of printing them.")
def permissions_cmd(fmt: str, caller: bool, role_name: str, trusted_principal: str | None,
                    external_id: str | None, max_session_duration: int, out_dir: Path | None) -> None:
    """Print the least-privilege read-only IAM policy the collector needs, or a CloudFormation
    template / Terraform module that deploys it (docs/permissions.md)."""
    from auditor.cli_common import EXIT_INPUT
    from auditor.collect.role_templates import RoleOptions, TemplateInputError, as_one_text, generate

    template_only = {"--trusted-principal": trusted_principal is not None, "--external-id": external_id is not None,
                     "--max-session-duration": max_session_duration != 3600}
    try:
        if fmt == "json" and any(template_only.values()):
            given = ", ".join(k for k, v in template_only.items() if v)
            verb = "apply" if given.count(",") else "applies"
            raise TemplateInputError(f"{given} {verb} only to --format cloudformation or terraform")
        files = generate(fmt, caller, RoleOptions(role_name, trusted_principal, external_id, max_session_duration))
    except TemplateInputError as exc:
        echo(f"error: {safe(exc)}; nothing was written", err=True)
        sys.exit(EXIT_INPUT)
    if out_dir is None:
        echo(as_one_text(files), nl=False)
        return
    prepare_output_folder(out_dir)
    for name, text in files.items():
        try:
            (out_dir / name).write_text(text, encoding="utf-8")
        except OSError as exc:
            fail_output(f"could not write {safe(out_dir / name)}: {safe(exc.strerror or exc)}")
        echo(f"wrote {safe(out_dir / name)}")


def _signing_key(sign_key: Path | None) -> Ed25519PrivateKey | None:
    from auditor.bundle import BundleError, load_signing_key

    try:
        return None if sign_key is None else load_signing_key(sign_key)
    except BundleError as exc:
        fail_unreadable(f"{safe(exc)}; nothing was run")


def _formats(text: str | None) -> tuple[str, ...] | None:
    """--format parsed (a bad one stops here, before anything runs); None without it: the
    library then takes the config's outputs.formats, else the scan's default formats."""
    from auditor.cli_report import parse_formats

    return parse_formats(text) if text is not None else None


_FORMAT_HELP = (f"Comma-separated reports to write next to findings.json (always written): {', '.join(scan_formats())}; "
                f"default: the config's outputs.formats, else {', '.join(scan_default_formats())}.")
_STYLE_HELP = (f"Wording of the HTML and PDF reports: {style_help()}; default: the compliance profile's style (without one the "
               f"HTML is neutral, the PDF {default_style()}).")


_SEVERITY_CHOICE = click.Choice(list(FAIL_ON_CHOICES))


@cli.command("scan")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Audit config (YAML): accounts, regions, scope, compliance profile, packs, parameters, waivers. "
                   "Without it: the caller's account in its region, every built-in pack, everything in scope.")
@click.option("--snapshot", "snapshot_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Re-evaluate a kept snapshot offline instead of collecting (without -c: every built-in "
                   "pack, everything in scope, no waivers).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for findings.json (and the snapshot when collecting); default: the config's "
                   "outputs.directory, else audit-output, in a new <UTC time> subfolder. Never inside "
                   "the --snapshot folder.")
@click.option("--fail-on", type=_SEVERITY_CHOICE, default=None,
              help="Exit 1 (4 when the assessment is also incomplete) when a FAIL of this severity or higher "
                   "is found (none: never); default: the config's fail_on, else the compliance profile's, else high.")
@click.option("--gzip", is_flag=True, default=None, help="Store raw responses gzip-compressed.")
@click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sign the bundle manifest (bundle.json) with this Ed25519 private key (PEM, unencrypted) "
                   "into bundle.sig.")
@click.option("--format", "formats", default=None, help=_FORMAT_HELP)
@click.option("--style", type=click.Choice(style_names()), default=None, help=_STYLE_HELP)
@pdf_signing_options
@click.option("--responses", "responses_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Management responses file (YAML; replaces the config's responses): owner, target date, status "
                   "and retest per finding fingerprint or rule, carried into findings.json and the reports.")
@click.option("--store", "store_location", metavar="LOCATION", default=None,
              help="Register the finished bundle in this run store (a folder, made when new, or s3://bucket/prefix); "
                   "overrides the config's store.location (docs/store.md).")
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Evaluate a Terraform plan (terraform show -json) or CloudFormation template, as `auditor plan` "
                   "does: laid over the --snapshot, else (with -c) over a live collection, else alone.")
@click.option("--shard", "shard_text", metavar="i/N", default=None,
              help="When collecting: only shard i of N (as `auditor collect --shard`); the other shards' accounts "
                   "are ERROR gaps of this scan.")
@run_options
@aws_options
@engine_options
def scan_cmd(config_path: Path | None, snapshot_dir: Path | None, out: Path | None, fail_on: str | None,
             gzip: bool | None, sign_key: Path | None, formats: str | None, style: str | None,
             output: RunOutput, aws: AwsOptions, pdf_signing: PdfSigningOptions,
             responses_file: Path | None = None, store_location: str | None = None,
             plan_file: Path | None = None, shard_text: str | None = None, engine: EngineSpec | None = None) -> None:
    """Collect (or read a snapshot), evaluate the rule packs, write findings.json and the reports
    (HTML, PDF, JUnit, SARIF, ASFF, CSV, OCSF; OSCAL when asked) into an evidence bundle, print
    a summary."""
    from auditor.api import run_scan
    from auditor.scan import prepare, summary_lines

    shard = _shard(shard_text)
    if shard is not None and (snapshot_dir is not None or plan_file is not None):
        echo("error: --shard applies when the scan collects (not with --snapshot or --plan); nothing was run",
             err=True)
        sys.exit(EXIT_INPUT)
    try:
        config = config_for_command(config_path, aws, output.notify,
                                    required=snapshot_dir is None and plan_file is None)
        inputs = prepare(config, fail_on=fail_on)
        if responses_file is not None:
            from dataclasses import replace

            from auditor.responses import load_responses
            inputs = replace(inputs, responses=load_responses(responses_file, tuple(inputs.packs.rules_by_id)))
    except InputError as exc:
        _fail_input(exc)
    signer = pdf_signer(pdf_signing)   # else the config's report_signing (run_scan)
    wanted = _formats(formats)
    if plan_file is not None:
        from auditor.cli_plan import run_plan_command

        run_plan_command(plan_file, config, output, inputs=inputs, snapshot=snapshot_dir,
                         collect=snapshot_dir is None and config_path is not None, out=out, formats=wanted,
                         style=style, sign_key=sign_key, gzip=gzip, pdf_signer=signer,
                         store=_store_spec(store_location, config))
    key = _signing_key(sign_key)
    try:
        with output.progress() as progress:
            result = run_scan(config, snapshot=snapshot_dir, out=out, inputs=inputs, formats=wanted, style=style,
                              signing_key=key, gzip=gzip, progress=progress, notify=output.notify,
                              on_start=_sigterm_as_interrupt, pdf_signer=signer,
                              store=_store_spec(store_location, config), shard=shard, engine=engine)
    except InputError as exc:
        _fail_input(exc)
    except ScanStopped as exc:
        _stopped(exc)
    for note in result.store_notes:
        output.notify(f"store: {safe(note)}", err=True)
    output.say("\n".join(summary_lines(result.document, result.fail_on)))
    from auditor.responses import warnings
    for line in warnings(result.document.get("responses")):
        output.notify(safe(line), err=True)
    if not result.outputs_written:
        output.say(f"error: some reports could not be written (listed above); findings.json and the bundle are "
                   f"complete without them; the scan itself would exit {result.verdict_code}", err=True)
    if result.store_problem:
        output.say(f"error: {result.store_problem}; the scan itself would exit {result.verdict_code}", err=True)
    sys.exit(result.exit_code)


def _store_spec(location: str | None, config: AuditConfig | None) -> StoreSpec | None:
    """The store a scan registers in: --store (keeping the config's retention), else the config's."""
    from auditor.store.base import StoreSpec

    configured = config.store if config is not None else None
    if location is None:
        return configured
    return StoreSpec(location=location, retention=configured.retention if configured is not None else None)


@cli.command("demo")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for the demo's snapshot and findings (default: demo-output/<UTC time>).")
@click.option("--server", is_flag=True, help="Run the emulator as a real HTTP server instead of in-process.")
@click.option("--format", "formats", default=None, help=_FORMAT_HELP)
@click.option("--style", type=click.Choice(style_names()), default=None, help=_STYLE_HELP)
@run_options
def demo_cmd(out: Path | None, server: bool, formats: str | None, style: str | None, output: RunOutput) -> None:
    """Run the whole pipeline on the built-in emulated bank estate (no AWS account needed):
    build the estate, collect it, evaluate every built-in pack, write findings.json, the reports
    (HTML, PDF, JUnit, SARIF, ASFF, CSV, OCSF) and the evidence bundle.
    Exits 0 when the pipeline ran and the assessment is complete (the estate has violations by
    design: they do not set the code), 3 when it is incomplete, 6 when an output was not written."""
    sys.exit(run_demo_command(out, server, formats, style, output)[1])


def run_demo_command(out: Path | None, server: bool, formats: str | None, style: str | None,
                     output: RunOutput | bool, *, keep_records: bool = False) -> tuple[DemoResult, int]:
    """`auditor demo` but the exit: runs the demo (`auditor.api.run_demo`) printing what the
    command prints (`output`: the command's `RunOutput`, or just whether it is ``-q``), and
    returns its result and the exit code (the tests' shared demo run reads both, in process,
    keeping the records). A demo that cannot run exits here, as the command does."""
    from auditor.api import emulator_problem, run_demo

    if isinstance(output, bool):
        output = RunOutput(quiet=output)
    problem = emulator_problem()   # before anything is built or written
    if problem is not None:
        fail_unreadable(problem)
    wanted = _formats(formats)
    try:
        with output.progress() as progress:
            demo = run_demo(out=out, server=server, formats=wanted, style=style, progress=progress,
                            notify=output.notify, on_start=_sigterm_as_interrupt, keep_records=keep_records)
    except InputError as exc:
        _fail_input(exc)
    except ScanStopped as exc:
        _stopped(exc)
    demo_summary(demo, output)
    return demo, demo.exit_code


def demo_summary(demo: DemoResult, output: RunOutput) -> None:
    """What `auditor demo` prints once the run is done (nothing with ``-q`` but an error)."""
    from auditor.scan import summary_lines

    result = demo.scan
    output.say("\n".join(summary_lines(result.document, result.fail_on)))
    if result.verdict_code in (EXIT_VIOLATIONS, EXIT_VIOLATIONS_INCOMPLETE):
        output.say(f"(the demo estate is drifted on purpose: `auditor scan` would exit {result.verdict_code} here)")
    if not result.outputs_written:
        output.say("error: some reports could not be written (listed above)", err=True)


def _register_groups() -> None:
    from auditor.cli_rules import rules as rules_group

    cli.add_command(rules_group)
    from auditor.cli_report import report as report_command
    from auditor.cli_verify import verify_cmd

    cli.add_command(report_command)
    cli.add_command(verify_cmd)
    from auditor.cli_store import history_cmd, store_group

    cli.add_command(store_group)
    cli.add_command(history_cmd)
    from auditor.cli_diff import diff_cmd

    cli.add_command(diff_cmd)
    from auditor.cli_plan import plan_cmd

    cli.add_command(plan_cmd)
    from auditor.cli_prices import prices as prices_group

    cli.add_command(prices_group)


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
