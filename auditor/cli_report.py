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
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any, NoReturn
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditor.store.base import RunStore

import click

from auditor.console import echo, safe

from auditor.cli_common import EXIT_INPUT, EXIT_OUTPUT, fail_input, fail_output
from auditor.cli_pdfsign import PdfSigningOptions, pdf_signer, pdf_signing_options
from auditor.errors import InputError

from auditor.report.wording import default_style, style_help, style_names
from auditor.report.writers import format_names, report_formats
from auditor.vocabulary import FAILING, SEVERITIES, STATUSES, status_rank, worst

# Both from the writers' registry (auditor/report/writers/). The PDF is written only when asked
# for (WeasyPrint takes seconds to a minute on large runs).
FORMATS = format_names()
DEFAULT_FORMATS = report_formats()
# The period report (--store): its HTML and PDF; period.json (its model) is always written.
PERIOD_FORMATS = ("html", "pdf")
_MAX_SHOWN = 20


def _die(message: str) -> NoReturn:
    echo(f"error: {message}", err=True)
    sys.exit(EXIT_INPUT)


def parse_formats(text: str) -> tuple[str, ...]:
    """`junit,sarif` -> ("junit", "sarif") in the order given, without repeats; unknown -> exit 2."""
    wanted = [w.strip().lower() for w in text.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in FORMATS]
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
    except RecursionError:
        _die(f"{path}: not a findings.json (nested too deeply to read)")
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
    wrong = summary_mismatches(data)
    if wrong:
        for line in wrong[:_MAX_SHOWN]:
            echo(f"{path}  {line}", err=True)
        _die(f"{path}: its summary does not match its own findings ({len(wrong)} count"
             f"{'s' if len(wrong) != 1 else ''} differ); refusing to report from a findings.json whose "
             "summary was edited or damaged (re-run `auditor scan --snapshot` to make it again)")
    return data


def summary_mismatches(document: Mapping[str, Any]) -> list[str]:
    """Where a (schema-valid) findings.json's `summary`, its rules' and its framework controls'
    counts and statuses disagree with a recount of its `findings` list: the reports print the summary, so a summary saying 0 FAIL
    over a list holding FAILs must never reach them. Empty when they agree.

    `complete` is checked one way only: it may not claim a complete assessment while a finding
    is ERROR, the snapshot was incomplete, or an account-region was not assessed."""
    findings = document["findings"]
    summary = document["summary"]
    out: list[str] = []
    by_status = Counter(f["status"] for f in findings)
    by_severity = Counter((f["severity"], f["status"]) for f in findings)
    per_rule: dict[str, Counter[str]] = {}
    for f in findings:
        per_rule.setdefault(f["rule_id"], Counter())[f["status"]] += 1
    for s in STATUSES:
        if summary["findings"].get(s, 0) != by_status[s]:
            out.append(f"summary/findings/{s}: says {summary['findings'].get(s, 0)}, the findings hold {by_status[s]}")
        for sev in SEVERITIES:
            said = summary["by_severity"].get(sev, {}).get(s, 0)
            if said != by_severity[(sev, s)]:
                out.append(f"summary/by_severity/{sev}/{s}: says {said}, the findings hold {by_severity[(sev, s)]}")
    rule_status: Counter[str] = Counter()
    for rule in document["rules"]:
        counts = per_rule.get(rule["id"], Counter())
        for s in STATUSES:
            said = (rule.get("counts") or {}).get(s, 0)
            if said != counts[s]:
                out.append(f"rules/{rule['id']}/counts/{s}: says {said}, the findings hold {counts[s]}")
        status = worst(s for s, n in counts.items() if n)
        said_status = str(rule.get("status"))
        # One way: a rule may be worse than its findings (a gap of its own), never better.
        if said_status not in STATUSES or status_rank(said_status) > status_rank(status):
            out.append(f"rules/{rule['id']}/status: says {said_status}, its findings make it {status}")
        rule_status[said_status] += 1
    for s in STATUSES:
        if summary["rules"].get(s, 0) != rule_status[s]:
            out.append(f"summary/rules/{s}: says {summary['rules'].get(s, 0)}, the rules recount to {rule_status[s]}")
    if summary["complete"]:
        snapshot_complete = bool((document["run"].get("snapshot") or {}).get("complete", True))
        if by_status["ERROR"] or not snapshot_complete or document.get("not_assessed"):
            out.append("summary/complete: says true, but "
                       + ("a finding is ERROR" if by_status["ERROR"] else
                          "the snapshot was incomplete" if not snapshot_complete else
                          "an account-region was not assessed"))
    stale = sum(1 for w in document.get("waivers", []) if isinstance(w, dict) and w.get("status") == "stale")
    if summary["stale_waivers"] != stale:
        out.append(f"summary/stale_waivers: says {summary['stale_waivers']}, the waiver register holds {stale}")

    # Frameworks: what the reports show per control. One way again (a control may be worse
    # than its rules' findings, never better, and may not hide a FAIL or an ERROR).
    def rank(status: Any) -> int:
        return status_rank(status) if isinstance(status, str) else len(STATUSES)

    for fw in document["frameworks"]:
        for control in fw["controls"]:
            recount: Counter[str] = Counter()
            for rule_id in control["rules"]:
                recount.update(per_rule.get(rule_id, Counter()))
            where = f"frameworks/{fw['id']}/controls/{control['id']}"
            for s in FAILING:
                said = (control.get("counts") or {}).get(s, 0)
                if said < recount[s]:
                    out.append(f"{where}/counts/{s}: says {said}, its rules' findings hold {recount[s]}")
            status = worst(s for s, n in recount.items() if n)
            if rank(control["status"]) > rank(status):
                out.append(f"{where}/status: says {control['status']}, its rules' findings make it {status}")
        floor = worst(str(c["status"]) for c in fw["controls"])
        if fw["controls"] and rank(fw["status"]) > rank(floor):
            out.append(f"frameworks/{fw['id']}/status: says {fw['status']}, its controls make it {floor}")
    return out


def _with_responses(document: dict[str, Any], path: Path, folder: Path) -> tuple[dict[str, Any], bytes]:
    """`document` with the responses of `path` (exit 2 on a bad file, or when `folder` is an
    evidence bundle: its findings.json is re-derived from its own inputs) and its new bytes."""
    from auditor.bundle import BUNDLE_FILE
    from auditor.responses import load_responses, warnings, with_responses
    from auditor.results import dumps

    if (folder / BUNDLE_FILE).is_file():
        _die(f"--responses: {folder} is an evidence bundle, whose findings.json `auditor verify` re-derives from the "
             "scan's inputs: give the responses to `auditor scan` (config `responses:` or --responses), or write "
             "these reports elsewhere with --out")
    try:
        responses = load_responses(path, [str(r.get("id")) for r in document.get("rules", []) if isinstance(r, dict)])
    except InputError as exc:
        fail_input(exc)
    merged = with_responses(document, responses)
    for line in warnings(merged["responses"]):
        echo(safe(line), err=True)
    return merged, dumps(merged).encode("utf-8")


@click.command("report")
@click.argument("findings", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "formats", default=None,
              help=f"Comma-separated outputs: {', '.join(FORMATS)} "
                   f"({', '.join(f for f in FORMATS if f not in DEFAULT_FORMATS)} only when asked for; default: the "
                   f"others). With --store: {', '.join(PERIOD_FORMATS)} (default: all; period.json is always written).")
@click.option("--store", "store", default=None, metavar="STORE",
              help="Period report: a run store (folder or s3://bucket/prefix); with --from and --to, instead of FINDINGS.")
@click.option("--from", "period_from", default=None, metavar="DATE",
              help="Period report: the first collection day of the period (YYYY-MM-DD, UTC).")
@click.option("--to", "period_to", default=None, metavar="DATE",
              help="Period report: the last collection day of the period (YYYY-MM-DD, UTC; inclusive).")
@click.option("--schedule", "schedule", default=None,
              help="Period report: the schedule of expected runs (daily, weekly, monthly or a cron expression); "
                   "default: the config's schedule: of the period's newest run.")
@click.option("--account", "account", default=None, metavar="ID",
              help="Period report: only the runs that assessed this account.")
@click.option("--style", type=click.Choice(style_names()), default=None,
              help=f"Wording of the PDF report: {style_help()}; default: the compliance profile's style, else "
                   f"{default_style()}.")
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Folder to write into (created if missing; default: the folder of FINDINGS).")
@click.option("--pack", "packs", multiple=True, type=click.Path(path_type=Path),
              help="A pack file or folder whose rules the findings cite, besides the built-in packs (repeatable).")
@click.option("--sign-key", type=click.Path(path_type=Path, dir_okay=False),
              help="When the folder is an evidence bundle: sign its refreshed bundle.json with this Ed25519 "
                   "private key (PEM).")
@click.option("--responses", "responses_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Management responses file (YAML): carried into the findings.json written beside the reports "
                   "(replacing any responses section it had), from which every report is made. Not into an "
                   "evidence bundle (give --out).")
@pdf_signing_options
def report(findings: Path | None, formats: str | None, style: str | None, out: Path | None, packs: tuple[Path, ...],
           sign_key: Path | None, pdf_signing: PdfSigningOptions, responses_file: Path | None = None,
           store: str | None = None, period_from: str | None = None, period_to: str | None = None,
           schedule: str | None = None, account: str | None = None) -> None:
    """Write JUnit XML, SARIF 2.1.0, CSV, OCSF, a findings.json copy and a self-contained HTML
    report (report.html) from FINDINGS, with `--format pdf` the PDF/A-3b evidence report
    (report.pdf) and with `--format oscal` OSCAL assessment results (the `oscal` extra); in an
    evidence bundle the new files are added to its bundle.json.

    With --store S --from DATE --to DATE instead of FINDINGS: the period report over every run
    of the store collected in the period (period-report.html, period-report.pdf, period.json)."""
    period_given = [o for o, v in (("--from", period_from), ("--to", period_to), ("--schedule", schedule),
                                   ("--account", account)) if v is not None]
    if store is not None:
        if findings is not None:
            _die(f"give either FINDINGS (a run's report) or --store (a period report), not both ({findings} and "
                 f"--store {store})")
        run_only = [o for o, given in (("--pack", bool(packs)), ("--sign-key", sign_key is not None),
                                       ("--responses", responses_file is not None),
                                       ("--sign-pdf-key", pdf_signing.given)) if given]
        if run_only:
            _die(f"{', '.join(run_only)} {'is' if len(run_only) == 1 else 'are'} for a run's report (FINDINGS), "
                 "not for a period report (--store)")
        _period_report(store, period_from, period_to, schedule=schedule, account=account, style=style,
                       formats=formats, out=out)
        return
    if period_given:
        _die(f"{', '.join(period_given)} {'is' if len(period_given) == 1 else 'are'} for a period report: give "
             "--store STORE --from DATE --to DATE (without FINDINGS)")
    if findings is None:
        _die("give FINDINGS (a findings.json) for a run's report, or --store STORE --from DATE --to DATE for a "
             "period report")
    formats = ",".join(DEFAULT_FORMATS) if formats is None else formats
    from auditor.bundle import BundleError, load_signing_key

    try:
        key = None if sign_key is None else load_signing_key(sign_key)
    except BundleError as exc:
        _die(str(exc))
    from auditor.report.model import build_model, record_hashes_of
    from auditor.report.outputs import write_reports
    from auditor.rules.frameworks import load_catalogues
    from auditor.rules.packs import load_packs

    from auditor.bundle import BUNDLE_FILE, INPUTS, refresh_bundle
    from auditor.errors import SnapshotError
    from auditor.snapshot.paths import read_confined

    wanted = parse_formats(formats)
    if pdf_signing.given and "pdf" not in wanted:
        _die("--sign-pdf-key signs the PDF report, but pdf is not among the formats (add --format ...,pdf)")
    signer = pdf_signer(pdf_signing)
    document = load_findings(findings)
    in_bundle = (findings.parent / BUNDLE_FILE).is_file()
    if in_bundle:
        # Its bundle.json is refreshed after the reports are written, which reads the snapshot:
        # a malformed one is refused now, before any report is written.
        from auditor.snapshot.reader import load_snapshot

        try:
            load_snapshot(findings.parent / "snapshot", allow_interrupted=True)
        except SnapshotError as exc:
            _die(f"{findings.parent} is an evidence bundle whose snapshot cannot be read: {exc}")
    pack_paths = list(packs)
    if in_bundle and not pack_paths and (findings.parent / INPUTS / "packs").is_dir():
        # The bundle holds the non-built-in packs its findings cite: the same rule text as the
        # scan's reports, so that `auditor verify` re-derives these reports byte for byte.
        pack_paths = [findings.parent / INPUTS / "packs"]
    try:
        pack_set = load_packs(pack_paths)
        catalogues = load_catalogues()
    except InputError as exc:
        fail_input(exc)
    # In a bundle: the snapshot manifest gives each cited record's hash and is attached to the PDF,
    # with the records the failing findings cite (each checked against the manifest's hash).
    manifest_file = findings.parent / "snapshot" / "manifest.json"
    manifest = None
    snapshot_dir = None
    if manifest_file.is_file() or manifest_file.is_symlink():
        try:
            manifest = read_confined(findings.parent, "snapshot/manifest.json")   # never through a link
        except (SnapshotError, OSError) as exc:
            _die(f"{manifest_file}: cannot read the snapshot manifest: {exc}")
        snapshot_dir = manifest_file.parent
    folder = out if out is not None else findings.parent
    findings_json, findings_path = findings.read_bytes(), findings   # type: tuple[bytes, Path | None]
    if responses_file is not None:   # the responses go into findings.json first: every report derives from it
        document, findings_json = _with_responses(document, responses_file, folder)
        findings_path, wanted = None, wanted if "json" in wanted else ("json", *wanted)
    model = build_model(document, pack_set, catalogues, style=style,   # --style: HTML and PDF alike
                        record_hashes=record_hashes_of(manifest))
    if (folder / BUNDLE_FILE).is_file():
        # Writing into a bundle refreshes its bundle.json, which refuses a link anywhere in it:
        # refused now, before any report is written.
        from auditor.snapshot.paths import list_files

        try:
            list_files(folder, "bundle")
        except SnapshotError as exc:
            _die(f"{folder} is an evidence bundle that cannot be read: {exc}")
    try:
        done = write_reports(folder, wanted, model, findings_json, findings_path=findings_path,
                             manifest=manifest, style=style, snapshot=snapshot_dir, pdf_signer=signer)
    except OSError as exc:
        fail_output(f"cannot write into {folder}: {exc.strerror or exc}")
    for fmt, target in done.same_as_input:
        echo(f"{fmt}: {target} (the input itself)")
    for fmt, target in done.files:
        echo(f"{fmt}: {target}" + (" (signed: PAdES)" if fmt == "pdf" and signer is not None else ""))
    for fmt, target, why in done.failed:
        echo(f"error: {fmt}: {target} not written: {why}", err=True)
    signed = (folder / "bundle.sig").is_file()
    try:
        joined = refresh_bundle(folder, key=key)
    except (SnapshotError, OSError) as exc:
        fail_output(f"the reports were written but {folder / BUNDLE_FILE} could not be refreshed: {exc}")
    if joined:  # the reports joined an evidence bundle: list them in its manifest
        dropped = signed and key is None
        echo(f"added to the evidence bundle's {BUNDLE_FILE}"
                   + (" (its old signature was removed: give --sign-key to sign it again)" if dropped else
                      " (signed)" if key is not None else ""))
    if done.failed:
        sys.exit(EXIT_OUTPUT)


def _day(option: str, text: str | None) -> date:
    if text is None:
        _die(f"a period report needs --from DATE and --to DATE (YYYY-MM-DD); {option} is missing")
    try:
        return date.fromisoformat(text)
    except ValueError:
        _die(f"{option} {safe(text)!s}: not a date (give YYYY-MM-DD, e.g. 2026-01-05)")


def _period_report(store_spec: str, period_from: str | None, period_to: str | None, *, schedule: str | None,
                   account: str | None, style: str | None, formats: str | None, out: Path | None) -> None:
    """`auditor report --store S --from D --to D`: the period report (docs/period-report.md)."""
    from auditor.store import StoreError, open_store
    from auditor.store.schedule import check_schedule

    start, end = _day("--from", period_from), _day("--to", period_to)
    if end < start:
        _die(f"the period ends (--to {end}) before it starts (--from {start})")
    wanted = [w.strip().lower() for w in (formats or ",".join(PERIOD_FORMATS)).split(",") if w.strip()]
    unknown = [w for w in wanted if w not in (*PERIOD_FORMATS, "json")]
    if unknown or not wanted:
        _die(f"{'unknown format ' + ', '.join(unknown) if unknown else 'no format given'} for a period report; "
             f"choose from {', '.join(PERIOD_FORMATS)} (comma-separated; period.json is always written)")
    if schedule is not None and (why := check_schedule(schedule)) is not None:
        _die(f"--schedule: {why}")
    try:
        store = open_store(store_spec)
    except StoreError as exc:
        _die(safe(str(exc)))
    write_period_report(store, start, end, schedule=schedule, account=account, style=style, wanted=wanted,
                        folder=out if out is not None else Path("."))


def write_period_report(store: RunStore, start: date, end: date, *, schedule: str | None, account: str | None,
                        style: str | None, wanted: Sequence[str], folder: Path) -> None:
    """The period report of `store`'s runs collected `start`..`end` into `folder`: period.json
    always, period-report.html and period-report.pdf as `wanted`; prints what was written.
    Exit 2 for an empty period, an unusable store or schedule; 6 for an output not written."""
    import tempfile

    from auditor.cli_common import prepare_output_folder
    from auditor.report.period import build_period
    from auditor.report.period_html import period_html, period_json, period_pdf
    from auditor.report.outputs import write_whole as write_atomic
    from auditor.store import StoreError

    try:
        runs = store.runs(since=start, until=end, account=account)
        if not runs:
            who = f" with account {account}" if account else ""
            _die(f"no run{who} in the period {start} to {end} in {store.description}: a period report never "
                 "covers an empty period (`auditor history` lists the stored runs)")
        prepare_output_folder(folder)
        with tempfile.TemporaryDirectory(prefix="auditor-period-") as tmp:
            fetched = [(run, store.fetch(run, into=Path(tmp) / run.run_id)) for run in runs]
            model = build_period(fetched, start, end, schedule=schedule, store=store.description)
    except StoreError as exc:
        _die(safe(str(exc)))
    except InputError as exc:
        fail_input(exc)
    data = period_json(model)
    done: list[tuple[str, Path]] = []
    failed: list[tuple[str, Path, str]] = []
    outputs = [("json", folder / "period.json", lambda: data)]
    if "html" in wanted:
        outputs.append(("html", folder / "period-report.html", lambda: period_html(model, style=style)))
    if "pdf" in wanted:
        outputs.append(("pdf", folder / "period-report.pdf", lambda: period_pdf(model, style=style, attachment=data)))
    for fmt, target, make in outputs:
        try:
            write_atomic(target, make())
        except (OSError, ImportError) as exc:   # ImportError/OSError: WeasyPrint's system libraries missing
            failed.append((fmt, target, str(getattr(exc, "strerror", None) or exc)))
            continue
        done.append((fmt, target))
    for fmt, target in done:
        echo(f"{fmt}: {target}")
    for fmt, target, why in failed:
        echo(f"error: {fmt}: {target} not written: {safe(why)}", err=True)
    echo(safe(f"period {model.start} to {model.end}: {len(model.runs)} run(s); "
              + (f"schedule {model.schedule}: {len(model.gaps)} gap(s)" if model.schedule is not None
                 else "no schedule: gaps in evidence not assessed")))
    if failed:
        sys.exit(EXIT_OUTPUT)
