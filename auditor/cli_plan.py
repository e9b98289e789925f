"""`auditor plan`: the rule packs on a Terraform plan or CloudFormation template, before deploy.

    auditor plan FILE [-c CONFIG] [--snapshot DIR | --collect] [--account ID] [--region REGION]
                      [--parameter KEY=VALUE ...] [--out DIR] [--format F ...] [--fail-on SEV] ...

FILE is ``terraform show -json`` output or a CloudFormation template (YAML or JSON), told apart
by content (`auditor.iac.load.read_source`). Alone, the plan is the estate; over a kept
snapshot (``--snapshot``) or a live collection (``--collect``, with the config's accounts and
regions) it is laid over what is deployed (`auditor.iac.overlay`). The run is the library's
`auditor.api.run_plan`; ``auditor scan --plan FILE`` is the same run (auditor/cli.py). Exit
codes are the scan's (auditor/cli_common.py): an unreadable FILE, or one that is not a plan
or template, is 2 with the reason and nothing written; a resource that could not be read or
an unsupported network resource makes the assessment incomplete (3, or 4 with violations).

Nothing here imports botocore unless ``--collect`` is given (tests/test_imports.py).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click

from auditor.cli_common import EXIT_INTERRUPTED, fail_input, fail_unreadable
from auditor.cli_logging import RunOutput, run_options
from auditor.console import echo, safe
from auditor.errors import InputError
from auditor.report.wording import style_help, style_names
from auditor.report.writers import scan_default_formats, scan_formats
from auditor.vocabulary import FAIL_ON_CHOICES

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from auditor.api import ScanStopped
    from auditor.config import AuditConfig
    from auditor.report.signing import PdfSigner
    from auditor.scan import ScanInputs
    from auditor.store.base import StoreSpec


def parse_parameters(values: Sequence[str]) -> dict[str, str]:
    """``--parameter KEY=VALUE`` options as a mapping (a template's parameter values); one
    without ``=`` or with an empty key is a usage error (exit 2)."""
    out: dict[str, str] = {}
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="--parameter")
        out[key.strip()] = value
    return out


def _stopped(exc: ScanStopped) -> NoReturn:
    echo(f"\n{exc.message}" if exc.code == EXIT_INTERRUPTED else f"error: {exc.message}", err=True)
    sys.exit(exc.code)


def _sigterm_as_interrupt() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


def _signing_key(sign_key: Path | None) -> Ed25519PrivateKey | None:
    from auditor.bundle import BundleError, load_signing_key

    try:
        return None if sign_key is None else load_signing_key(sign_key)
    except BundleError as exc:
        fail_unreadable(f"{safe(exc)}; nothing was run")


def run_plan_command(plan: Path, config: AuditConfig | None, output: RunOutput, *, inputs: ScanInputs | None = None,
                     fail_on: str | None = None, snapshot: Path | None = None, collect: bool = False,
                     account: str | None = None, region: str | None = None,
                     parameters: Mapping[str, str] | None = None, out: Path | None = None,
                     formats: tuple[str, ...] | None = None, style: str | None = None, sign_key: Path | None = None,
                     gzip: bool | None = None, pdf_signer: PdfSigner | None = None,
                     store: StoreSpec | None = None) -> NoReturn:
    """Run a plan (`auditor.api.run_plan`), print what `auditor plan` prints and exit with
    its code (shared by `auditor plan` and `auditor scan --plan`)."""
    from auditor.api import ScanStopped, run_plan
    from auditor.scan import prepare, summary_lines

    try:
        if inputs is None:
            inputs = prepare(config, fail_on=fail_on)
    except InputError as exc:
        fail_input(exc, "; nothing was run")
    key = _signing_key(sign_key)
    try:
        with output.progress() as progress:
            result = run_plan(config, plan, snapshot=snapshot, collect=collect, account=account, region=region,
                              parameters=parameters, out=out, inputs=inputs, formats=formats, style=style,
                              signing_key=key, gzip=gzip, progress=progress, notify=output.notify,
                              on_start=_sigterm_as_interrupt, pdf_signer=pdf_signer, store=store)
    except InputError as exc:
        fail_input(exc, "; nothing was run")
    except ScanStopped as exc:
        _stopped(exc)
    for note in result.store_notes:
        output.notify(f"store: {safe(note)}", err=True)
    output.say("\n".join(summary_lines(result.document, result.fail_on)))
    if not result.outputs_written:
        output.say(f"error: some reports could not be written (listed above); findings.json and the bundle are "
                   f"complete without them; the run itself would exit {result.verdict_code}", err=True)
    if result.store_problem:
        output.say(f"error: {result.store_problem}; the run itself would exit {result.verdict_code}", err=True)
    sys.exit(result.exit_code)


_FORMAT_HELP = (f"Reports to write next to findings.json (always written), comma-separated or repeated: "
                f"{', '.join(scan_formats())}; default: the config's outputs.formats, else "
                f"{', '.join(scan_default_formats())}.")


@click.command("plan")
@click.argument("plan", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Audit config (YAML): packs, profile, scope, waivers, fail_on; with --collect also the accounts "
                   "and regions collected. Without it: every built-in pack, everything in scope, no waivers.")
@click.option("--snapshot", "snapshot_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Lay the plan over this kept snapshot (verified first): what the plan neither creates nor "
                   "changes comes from it.")
@click.option("--collect", is_flag=True,
              help="Collect the deployed estate now (the config's accounts and regions, else the caller's account "
                   "in its region) and lay the plan over it; kept in the output as collected/.")
@click.option("--account", metavar="ID", default=None,
              help="The account the plan deploys into; default: the snapshot's only account, else the config's "
                   "only account, else the plan's own or 000000000000 (said in run.plan.notes).")
@click.option("--region", metavar="REGION", default=None,
              help="The region the plan deploys into when it does not say; default: the config's only region, "
                   "else the plan's provider region.")
@click.option("--parameter", "parameters", metavar="KEY=VALUE", multiple=True,
              help="A CloudFormation template parameter's value (repeatable); others take their Default.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for the evidence bundle; default: the config's outputs.directory, else audit-output, in a "
                   "new <UTC time> subfolder. Never inside the --snapshot folder.")
@click.option("--format", "formats", multiple=True, help=_FORMAT_HELP)
@click.option("--fail-on", type=click.Choice(list(FAIL_ON_CHOICES)), default=None,
              help="Exit 1 (4 when the assessment is also incomplete) when a FAIL of this severity or higher is "
                   "found (none: never); default: the config's fail_on, else the compliance profile's, else high.")
@click.option("--style", type=click.Choice(style_names()), default=None,
              help=f"Wording of the HTML and PDF reports: {style_help()}.")
@click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sign the bundle manifest (bundle.json) with this Ed25519 private key (PEM, unencrypted).")
@run_options
def plan_cmd(plan: Path, config_path: Path | None, snapshot_dir: Path | None, collect: bool, account: str | None,
             region: str | None, parameters: tuple[str, ...], out: Path | None, formats: tuple[str, ...],
             fail_on: str | None, style: str | None, sign_key: Path | None, output: RunOutput) -> None:
    """Evaluate the rule packs on a Terraform plan (`terraform show -json`) or a CloudFormation
    template before deploy, alone or laid over a snapshot of what is deployed; write findings.json,
    the reports and the evidence bundle, print a summary. Exit codes as `auditor scan`."""
    from auditor.cli_aws import AwsOptions, config_for_command
    from auditor.cli_report import parse_formats

    if snapshot_dir is not None and collect:
        raise click.UsageError("give --snapshot DIR (a kept snapshot) or --collect (collect now), not both")
    values = parse_parameters(parameters)
    wanted = parse_formats(",".join(formats)) if formats else None
    try:
        config = config_for_command(config_path, AwsOptions(), output.notify, required=collect)
    except InputError as exc:
        fail_input(exc, "; nothing was run")
    run_plan_command(plan, config, output, fail_on=fail_on, snapshot=snapshot_dir, collect=collect, account=account,
                     region=region, parameters=values, out=out, formats=wanted, style=style, sign_key=sign_key)
