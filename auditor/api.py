"""The scan as a library: evidence in, an evidence bundle out, no command line around it.

    from auditor.api import run_scan
    from auditor.config import load_config

    result = run_scan(load_config(Path("audit.yaml")), snapshot=Path("kept-snapshot"), out=Path("run-1"))
    result.exit_code          # what `auditor scan` would exit with (docs/cli.md)
    result.findings           # run-1/findings.json; result.reports: the reports written

`run_scan` does what `auditor scan` does: with a config and no snapshot it collects (the
collector, and with it botocore, is imported only then), else it reads and verifies the
snapshot; it evaluates the rule packs, writes findings.json, the reports asked for and the
evidence bundle (signed when given a key), and returns a `ScanResult`. `run_demo` does what
`auditor demo` does: it builds the emulated demo estate (moto), collects it and finishes
the same way.

Nothing here prints or exits. What the command line would print as the run goes (where
each file was written, what could not be written) is given, line by line, to the `notify`
sink, with every value from AWS or from a file passed through `console.safe`; progress of
a collection goes to `progress` (an `auditor.events.CollectionProgress` at a time); the
run's structured events (`auditor.events.EVENTS`: run.started, account.reached, ...,
scan.finished) go to standard `logging` under ``auditor.``, where no handler is configured. A run that cannot go on raises: `InputError` (a config,
pack, waiver or region problem: nothing was run, every problem listed) or `ScanStopped`
(its `code` is the command line's exit code: 2 an input that cannot be used, 6 an output
that cannot be written, 130 interrupted; its `message` says what is kept).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from auditor.cli_common import (
    EXIT_INCOMPLETE, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUT, EXIT_VIOLATIONS,
    EXIT_VIOLATIONS_INCOMPLETE, inside_evidence_problem, make_output_folder,
)
from auditor.console import safe
from auditor.errors import AuditorError, SnapshotError
from auditor.events import CollectionProgress, Progress, emit, logger

# Importing this module is cheap (the command line imports it at start): what a run needs is
# imported when it runs, and the collector (botocore) and the emulator (moto) only when used.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from auditor.config import AuditConfig
    from auditor.report.signing import PdfSigner
    from auditor.scan import ScanInputs

    from auditor.collect.redact import Redactor
    from auditor.collect.regions import RegionChoice
    from auditor.collect.runner import CollectResult
    from auditor.collect.sessions import SessionFactory
    from auditor.distributed import EngineSpec
    from auditor.distributed.cluster import DaskEngine
    from auditor.emulate.seed import SeedResult
    from auditor.iac.base import PlanSource
    from auditor.snapshot.merge import MergeResult
    from auditor.snapshot.reader import Snapshot
    from auditor.snapshot.shards import Shard
    from auditor.store.base import RunStore, StoredRun, StoreSpec

__all__ = ["CollectionProgress", "DemoResult", "Notify", "Progress", "ScanResult", "ScanStopped", "collect_snapshot", "collection_inputs",
           "collection_summary", "emulator_problem", "merge_shards", "register_run", "resume_snapshot", "run_demo", "run_plan", "run_scan", "scan_exit_code",
           "timestamped"]

_log = logger("run")


class Notify(Protocol):
    """Where a run's messages go: one line at a time; `err` for what the command line prints
    on stderr (problems, notes), else what it prints on stdout."""

    def __call__(self, text: str, /, *, err: bool = False) -> None: ...


def _quiet(text: str, /, *, err: bool = False) -> None:
    """The default sink: messages are dropped (the result holds what was written)."""


class ScanStopped(AuditorError):
    """The run stopped before its evidence bundle was finished. `code` is the exit code the
    command line gives for it (2: an input cannot be used; 6: an output cannot be written;
    130: interrupted) and `message` says why and what is kept (values made terminal-safe)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ScanResult:
    """What a finished run wrote and what it found.

    `document` is findings.json as built (its ``findings`` are `auditor.findings.Finding`
    objects; the file holds their JSON). `exit_code` is the command line's for this run
    (docs/cli.md), `verdict_code` the same with every output written (what the findings alone
    say). `problems` lists the outputs that could not be written (then `outputs_written` is
    False and `exit_code` is 6); findings.json and the bundle are always whole when a result
    is returned."""

    document: dict[str, Any]
    out: Path
    snapshot: Path
    findings: Path
    reports: tuple[tuple[str, Path], ...]
    bundle: Path
    signed: bool
    fail_on: str
    exit_code: int
    verdict_code: int
    outputs_written: bool
    problems: tuple[str, ...]
    config_differs: bool = False
    collection: CollectResult | None = None
    stored: StoredRun | None = None        # the run as registered in the store (`run_scan(store=...)`)
    store_problem: str = ""                # why it could not be registered (then `exit_code` is 6)
    store_notes: tuple[str, ...] = ()      # what the store said (an index rebuilt, leftovers)
    source: PlanSource | None = None       # the plan or template read (`run_plan`), else None

    @property
    def complete(self) -> bool:
        """Everything in scope was assessed."""
        return bool(self.document["summary"]["complete"])


@dataclass(frozen=True)
class DemoResult:
    """`run_demo`'s run: the scan's result, and what the seeder made (estate names -> the ids
    moto drew, `SeedResult`)."""

    scan: ScanResult
    seeded: SeedResult

    @property
    def exit_code(self) -> int:
        """`auditor demo`'s exit code: 6 when an output was not written, else 0 complete, 3
        incomplete (the estate's violations are there by design: they do not set it)."""
        if not self.scan.outputs_written:
            return EXIT_OUTPUT
        return EXIT_OK if self.scan.complete else EXIT_INCOMPLETE


def scan_exit_code(document: Mapping[str, Any], fail_on: str, outputs_written: bool = True) -> int:
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


def timestamped(base: Path) -> Path:
    """`base/<UTC time>-<random>`: the default output folder of a run."""
    return base / (dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6])


# -- the scan --------------------------------------------------------------------------------

def run_scan(config: AuditConfig | None, *, snapshot: Path | None = None, out: Path | None = None,
             inputs: ScanInputs | None = None, fail_on: str | None = None, formats: Sequence[str] | None = None,
             style: str | None = None, signing_key: Ed25519PrivateKey | None = None, gzip: bool | None = None,
             sessions: SessionFactory | None = None, progress: Progress | None = None,
             notify: Notify = _quiet, on_start: Callable[[], None] | None = None,
             pdf_signer: PdfSigner | None = None, store: StoreSpec | None = None,
             shard: Shard | None = None, engine: EngineSpec | None = None) -> ScanResult:
    """Collect (`config` and no `snapshot`) or read the verified `snapshot` folder, evaluate it,
    and write findings.json, the reports of `formats` and the evidence bundle into `out`.

    - `config`: the audit config (`auditor.config.load_config`); None with a `snapshot`:
      every built-in pack, everything in scope, no waivers.
    - `out`: the output folder (made; never inside `snapshot`); default: the config's
      outputs.directory, else ``audit-output``, in a new ``<UTC time>`` subfolder.
    - `inputs`: the checked packs, scope and waivers (`auditor.scan.prepare`), else prepared
      here from `config` and `fail_on` (the severity at or above which a FAIL is a violation;
      default: the config's, the profile's, else high).
    - `formats`: the reports besides findings.json (names of `auditor.config.ALL_FORMATS`);
      default: the config's outputs.formats, else `auditor.config.DEFAULT_FORMATS` (all but
      OSCAL, which needs the ``oscal`` extra). `style`: the reports' wording
      (a style file of reports/templates/styles/); default: the profile's.
    - `signing_key`: an Ed25519 private key (`auditor.bundle.load_signing_key`) signing the
      bundle manifest. `gzip`: store the collected responses compressed (default: the config's).
    - `sessions`: the collector's session factory (default: a real `SessionFactory` with the
      config's retry budget; the demo passes the emulator's).
    - `pdf_signer`: sign report.pdf (PAdES; `auditor.report.signing.load_signer`) before the
      bundle hashes it; default: the config's `report_signing`, else unsigned.
    - `store`: register the finished bundle in this run store (`register_run`); the store is
      opened (made when absent or empty) before anything runs: a location that is not a store
      is `ScanStopped` 2. A registration that fails keeps the bundle in `out`: the result's
      `store_problem` says why and `exit_code` is 6.
    - `shard`: collect only that shard's accounts (`auditor.snapshot.shards`); the other
      shards' accounts are ERROR gaps of this run (merge the shards' snapshots to assess all).
    - `engine`: where collection and evaluation run (`auditor.distributed.EngineSpec`; default:
      this process). With Dask, the evaluation is partitioned by connectivity (auditor/partition.py);
      a Dask engine that cannot be used is `ScanStopped` 2.
    - `progress`, `notify`: see the module docstring; `on_start` is called once every input
      is checked and the output folder exists, before any evidence is gathered or evaluated
      (the command line turns SIGTERM into an interrupt there).

    Every input is checked before anything is written (`InputError`, `ScanStopped` code 2);
    see `ScanStopped` for the other ways a run stops."""

    if config is None and snapshot is None:
        raise ValueError("give a config (collect and evaluate) or a snapshot folder (re-evaluate evidence)")
    t0 = time.monotonic()
    inputs, wanted, pdf_signer, out = _settle(config, inputs, fail_on, formats, pdf_signer, out, notify)
    # Every input is checked before anything is written: the snapshot read, then the folder.
    snap = _snapshot_input(out, snapshot)
    settled = collection_inputs(config) if snapshot is None and config is not None else None
    if shard is not None and settled is not None:
        assert config is not None
        shard_check(config, shard)
    opened = _open_store(store) if store is not None else None
    _make_folder(out)
    if on_start is not None:
        on_start()
    _started("scan", config, snapshot, out)
    collection = None
    if snapshot is None:
        assert config is not None
        if sessions is None:
            from auditor.collect.sessions import SessionFactory

            sessions = SessionFactory.for_collection(config.collection)
        collection = _collect(config, sessions, out / "snapshot", config.gzip if gzip is None else gzip,
                              progress, settled, notify, shard=shard, engine=engine)
        snapshot = collection.path
        snap = _load_snapshot(snapshot)
    elif config is not None:
        notify(f"re-evaluating {safe(snapshot)} with {safe(config.source)}", err=True)
    assert snap is not None
    # Handed over, not kept here: the snapshot's records are freed once evaluated, before the reports.
    handed = [snap]
    del snap
    result = _evaluate_into_bundle(out, handed, snapshot, config, inputs, signing_key, wanted, style, notify,
                                   collection, pdf_signer, engine)
    collected_with = result.document["run"]["config"]["collected_with_digest"]
    if config is not None and collected_with and collected_with != config.digest:
        notify("note: the config differs from the one the snapshot was collected with "
               "(scope and packs come from the config given now)", err=True)
        result = replace(result, config_differs=True)
    if opened is not None:
        result = _register(result, opened, store.location if store else "", signing_key, notify)
    _scan_finished("scan", result, t0)
    return result


# -- a plan or template -------------------------------------------------------------------------

def run_plan(config: AuditConfig | None, plan: Path, *, snapshot: Path | None = None, collect: bool = False,
             account: str | None = None, region: str | None = None, parameters: Mapping[str, str] | None = None,
             out: Path | None = None, inputs: ScanInputs | None = None, fail_on: str | None = None,
             formats: Sequence[str] | None = None, style: str | None = None,
             signing_key: Ed25519PrivateKey | None = None, gzip: bool | None = None,
             sessions: SessionFactory | None = None, progress: Progress | None = None, notify: Notify = _quiet,
             on_start: Callable[[], None] | None = None, pdf_signer: PdfSigner | None = None,
             store: StoreSpec | None = None) -> ScanResult:
    """What `auditor plan` does: read the Terraform plan (``terraform show -json``) or
    CloudFormation template `plan` (`auditor.iac.load.read_source`), lay it over the verified
    `snapshot` folder or over a live collection (`collect`, with `config`'s accounts and regions,
    kept in ``out/collected``), or else take it alone as the estate, and finish as `run_scan`
    does: ``out/snapshot`` holds the records evaluated and a copy of the plan file
    (``snapshot/source/<name>``, its manifest saying what was read), then findings.json (with
    ``run.plan``), the reports and the evidence bundle. `account`, `region` and `parameters`
    (a template's parameter values) go to the reader; without `account` the overlaid
    snapshot's only account (else the config's only account) is the plan's.

    A resource the plan declares that could not be read (`SourceProblem`), or of a network type
    this tool does not model, makes the assessment incomplete: a ``not_assessed`` entry each,
    and the snapshot is not `complete`. A file that is not a plan or template (`IacError`), or
    cannot be read, is `ScanStopped` 2 before anything is written; the other arguments and
    ways to stop are `run_scan`'s."""

    if snapshot is not None and collect:
        raise ScanStopped(EXIT_INPUT, "give a snapshot to lay the plan over, or collect one, not both; nothing was run")
    if collect and config is None:
        raise ValueError("collecting needs a config (its accounts and regions)")
    t0 = time.monotonic()
    inputs, wanted, pdf_signer, out = _settle(config, inputs, fail_on, formats, pdf_signer, out, notify)
    base = _snapshot_input(out, snapshot)
    wanted_account = account or _only_account(base.manifest if base is not None else None, config)
    wanted_region = region or _only_region(config)
    source = _read_plan(plan, wanted_account, wanted_region, parameters)
    settled = collection_inputs(config) if collect and config is not None else None
    opened = _open_store(store) if store is not None else None
    _make_folder(out)
    writer = _plan_writer(out / "snapshot")
    if on_start is not None:
        on_start()
    _started("plan", config, snapshot, out)
    collection = None
    try:
        if collect:
            assert config is not None
            if sessions is None:
                from auditor.collect.sessions import SessionFactory

                sessions = SessionFactory.for_collection(config.collection)
            collection = _collect(config, sessions, out / COLLECTED_DIR, config.gzip if gzip is None else gzip,
                                  progress, settled, notify)
            base = _load_snapshot(collection.path)
            only = _only_account(base.manifest, None)
            if account is None and only and only != source.account:   # the account collected is the plan's
                source = _read_plan(plan, only, wanted_region, parameters)
        over = None if base is None else (COLLECTED_DIR if collect else _stable(base.path), base.manifest_sha256)
        path = _write_plan_snapshot(writer, plan, source, base, over, config)
    except BaseException:
        if not writer.files:
            writer.discard()
        raise
    from auditor.iac.base import KIND_NAMES

    notify(f"snapshot of the {KIND_NAMES.get(source.kind, safe(source.kind))} written to {safe(path)}")
    snap = _load_snapshot(path)
    result = _evaluate_into_bundle(out, snap, path, config, inputs, signing_key, wanted, style, notify, collection,
                                   pdf_signer)
    result = replace(result, source=source)
    if opened is not None:
        result = _register(result, opened, store.location if store else "", signing_key, notify)
    _scan_finished("plan", result, t0)
    return result


# `run_plan(collect=True)`: the live snapshot the plan is laid over, kept in the bundle (`auditor verify`
# checks it: auditor.bundle_verify.COLLECTED).
COLLECTED_DIR = "collected"


def _only_account(manifest: Mapping[str, Any] | None, config: AuditConfig | None) -> str | None:
    """The one account of a snapshot (else of the config), else None (the reader's default)."""
    if manifest is not None:
        ids = {str(a.get("id")) for a in manifest.get("accounts", []) if isinstance(a, dict) and a.get("id")}
        return ids.pop() if len(ids) == 1 else None
    if config is not None and config.discovery is None and len(config.accounts) == 1:
        return config.accounts[0].id
    return None


def _only_region(config: AuditConfig | None) -> str | None:
    if config is not None and not isinstance(config.regions, str) and len(config.regions) == 1:
        return config.regions[0]
    return None


def _stable(path: Path) -> str:
    from auditor.results import stable_path

    return stable_path(path) or path.name


def _read_plan(plan: Path, account: str | None, region: str | None,
               parameters: Mapping[str, str] | None) -> PlanSource:
    """The plan or template read; `ScanStopped` 2 (nothing written) when it cannot be."""
    from auditor.iac.base import IacError
    from auditor.iac.load import read_source

    if not plan.is_file():
        raise ScanStopped(EXIT_INPUT, f"{safe(plan)}: no such plan or template file; nothing was run")
    try:
        found: PlanSource = read_source(plan, account=account, region=region, parameters=parameters)
    except IacError as exc:
        raise ScanStopped(EXIT_INPUT, f"{safe(exc)}; nothing was run") from exc
    except OSError as exc:
        raise ScanStopped(EXIT_INPUT, f"{safe(plan)}: cannot be read: {safe(exc.strerror or exc)}; "
                                      "nothing was run") from exc
    except (AttributeError, KeyError, TypeError, ValueError, IndexError, RecursionError) as exc:
        # A defect of a reader, not of the file alone: said as such, never a traceback or a result.
        raise ScanStopped(EXIT_INPUT, f"{safe(plan)}: the plan or template could not be read: the reader failed "
                                      f"({type(exc).__name__}: {safe(str(exc)[:200])}), a defect of this tool "
                                      "(please report it with the file); nothing was run") from exc
    return found


def _plan_writer(folder: Path) -> Any:
    """The snapshot writer of a plan run (`ScanStopped` 2 when the folder holds a snapshot)."""
    from auditor.snapshot.writer import SnapshotWriter

    class PlanSnapshotWriter(SnapshotWriter):
        """A snapshot writer that also keeps the plan file, and whose manifest is complete
        only when the plan is fully modelled."""

        modelled = True

        def add_file(self, rel: str, data: bytes) -> None:
            import hashlib

            target = self.partial / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            self.files[rel] = "sha256:" + hashlib.sha256(data).hexdigest()

        def _manifest(self, status: str, meta: Mapping[str, Any]) -> dict[str, Any]:
            manifest = super()._manifest(status, meta)
            manifest["complete"] = bool(manifest["complete"]) and self.modelled
            return manifest

    try:
        return PlanSnapshotWriter(folder)
    except SnapshotError as exc:
        raise ScanStopped(EXIT_INPUT, safe(exc)) from exc
    except OSError as exc:
        raise ScanStopped(EXIT_OUTPUT, f"could not write the snapshot {safe(folder)}: "
                                       f"{safe(exc.strerror or exc)}") from exc


def plan_manifest_section(source: PlanSource, copy: str, overlay: tuple[str, str] | None) -> dict[str, Any]:
    """What the snapshot manifest of a plan run says of its source (`auditor.scan.SOURCE_KEY`):
    findings.json's ``run.plan`` and where the copy of the file is."""
    from auditor.iac.base import network_relevant
    from auditor.scan import COPY_KEY

    return {
        "kind": source.kind, "file": source.file, "sha256": source.sha256, "format_version": source.format_version,
        "account": source.account, "regions": sorted(source.regions),
        "overlay": None if overlay is None else {"snapshot": overlay[0], "manifest_sha256": overlay[1]},
        "resources": [{"address": d.address, "type": d.type, "model_type": d.model_type, "id": d.id,
                       "action": d.action, "line": d.line} for d in source.resources],
        "unsupported": [{"address": u.address, "type": u.type, "action": u.action, "line": u.line,
                         "network": network_relevant(u.type)} for u in source.unsupported],
        "problems": [{"address": p.address, "message": p.message, "line": p.line} for p in source.problems],
        "notes": list(source.notes), COPY_KEY: copy}


def _copy_name(plan: Path) -> str:
    """``source/<name>``: the plan file's name, when it is a plain one."""
    import re

    from auditor.scan import SOURCE_DIR

    name = plan.name if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}", plan.name) else "plan" + (
        plan.suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", plan.suffix) else "")
    return f"{SOURCE_DIR}/{name}"


def _write_plan_snapshot(writer: Any, plan: Path, source: PlanSource, base: Snapshot | None,
                         overlay: tuple[str, str] | None, config: AuditConfig | None) -> Path:
    """Write the records evaluated (the plan's, or laid over `base`'s) and the plan file into
    the plan run's snapshot; its manifest says what was read (`plan_manifest_section`)."""
    import hashlib

    from auditor import __version__
    from auditor.scan import SOURCE_KEY, plan_complete

    if base is not None:
        from auditor.iac.overlay import lay_over

        laid = lay_over(base.records, source)
        records = laid.records
        # What the overlay says (the plan's account-regions the snapshot lacks ...) joins the reader's notes.
        source = replace(source, notes=tuple(dict.fromkeys(source.notes + laid.notes)))
    else:
        records = source.records
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = plan.read_bytes()
    if "sha256:" + hashlib.sha256(data).hexdigest() != source.sha256:
        raise ScanStopped(EXIT_INPUT, f"{safe(plan)} changed while it was read; nothing was evaluated")
    copy = _copy_name(plan)
    section = plan_manifest_section(source, copy, overlay)
    if base is None:
        meta: dict[str, Any] = {
            "tool": {"name": "private-network-auditor", "version": __version__},
            "config": {"digest": config.digest if config is not None else "",
                       "organization": config.organization if config is not None else ""},
            "accounts": [{"id": source.account, "name": "", "source": source.kind, "role_arn": None, "identity": {},
                          "regions": sorted(source.regions), "problem": ""}],
            "regions": sorted(source.regions)}
    else:
        kept = ("tool", "config", "accounts", "regions", "region_choice", "redaction", "account_problems", "tasks")
        meta = {k: base.manifest[k] for k in kept if k in base.manifest}
        accounts = [dict(a) for a in meta.get("accounts", [])]
        if not any(a.get("id") == source.account for a in accounts):
            accounts.append({"id": source.account, "name": "", "source": source.kind, "role_arn": None,
                             "identity": {}, "regions": sorted(source.regions), "problem": ""})
        meta["accounts"] = sorted(accounts, key=lambda a: str(a.get("id")))
        meta["regions"] = sorted({*meta.get("regions", []), *source.regions})
    meta.update({"started": now, "finished": now, SOURCE_KEY: section})
    writer.modelled = plan_complete(section)
    try:
        for record in records:
            writer.add(record)
        writer.add_file(copy, data)
        return Path(writer.finish(meta))
    except SnapshotError as exc:
        raise ScanStopped(EXIT_INPUT, safe(exc)) from exc
    except OSError as exc:
        _output_failed("snapshot", writer.final, str(exc.strerror or exc))
        raise ScanStopped(EXIT_OUTPUT, f"could not write the snapshot {safe(writer.final)}: "
                                       f"{safe(exc.strerror or exc)}") from exc


def _settle(config: AuditConfig | None, inputs: ScanInputs | None, fail_on: str | None,
            formats: Sequence[str] | None, pdf_signer: PdfSigner | None, out: Path | None, notify: Notify
            ) -> tuple[ScanInputs, tuple[str, ...], PdfSigner | None, Path]:
    """What `run_scan` and `run_plan` settle before reading anything: the checked inputs, the
    report formats, the PDF signer (the config's when none is given) and the output folder."""
    from auditor.scan import prepare

    if inputs is None:
        inputs = prepare(config, fail_on=fail_on)
    wanted = _formats(formats, config)
    if pdf_signer is None and config is not None and config.report_signing is not None:
        pdf_signer = _config_signer(config)
    if pdf_signer is not None and "pdf" not in wanted:
        notify("note: the PDF signer is not used: pdf is not among the reports written", err=True)
    if out is None:
        base = config.output_dir if config is not None and config.output_dir is not None else Path("audit-output")
        out = timestamped(base)
    return inputs, wanted, pdf_signer, out


def _snapshot_input(out: Path, snapshot: Path | None) -> Snapshot | None:
    """The verified `snapshot` a run reads (None without one); `ScanStopped` 2 when it is not
    one or `out` is inside it."""
    if snapshot is None:
        return None
    problem = inside_evidence_problem(out, snapshot, "snapshot")
    if problem is not None:
        raise ScanStopped(EXIT_INPUT, problem)
    return _load_snapshot(snapshot)


# -- the run store -------------------------------------------------------------------------------

def _open_store(spec: StoreSpec) -> RunStore:
    """The store a scan will register in, opened (made when absent or empty) before the scan
    runs: `ScanStopped` 2 when the location is not a store or cannot be used."""
    from auditor.store import StoreError, open_store

    try:
        return open_store(spec, create=True)
    except StoreError as exc:
        raise ScanStopped(EXIT_INPUT, f"store: {safe(exc)}; nothing was run") from exc
    except OSError as exc:
        raise ScanStopped(EXIT_OUTPUT, f"store {safe(spec.location)} cannot be used: {safe(exc.strerror or exc)}; "
                                       "nothing was run") from exc


def signer_of(key: Ed25519PrivateKey | None) -> str:
    """Who signed a bundle, as a store records it: ``ed25519:`` and the first 16 hex digits of
    the SHA-256 of the raw public key ("" unsigned)."""
    if key is None:
        return ""
    import hashlib

    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def register_run(out: Path, spec: StoreSpec | RunStore, *, signer: str = "") -> StoredRun:
    """Register the finished evidence bundle `out` in the store `spec` names (made when absent
    or empty) or in the open store `spec`; returns the run as stored. Raises `StoreError`
    (not a store, not a bundle, files that do not match bundle.json, `RunExists`) or
    `OSError` (the copy could not be written); the bundle in `out` is never changed."""
    from auditor.store import StoreSpec as Spec, open_store

    store = open_store(spec, create=True) if isinstance(spec, Spec) else spec
    return store.register(out, signer=signer)


def _register(result: ScanResult, store: RunStore, location: str, key: Ed25519PrivateKey | None,
              notify: Notify) -> ScanResult:
    """Register the scan's bundle; a failure keeps it in `out` and makes the exit code 6."""
    from auditor.store import RunExists, StoreError, describe_bundle

    where = store.description
    try:
        run = register_run(result.out, store, signer=signer_of(key))
    except RunExists as exc:
        # The same snapshot scanned again with the same inputs gives the same bundle: it is stored.
        made = describe_bundle(result.out)
        try:
            stored = store.get(made.run_id)
        except StoreError as again:
            return _not_registered(result, store, location, f"{safe(exc)}; {safe(again)}")
        if stored.bundle_sha256 != made.bundle_sha256:
            return _not_registered(result, store, location, safe(exc) + " (with another bundle.json)")
        notify(f"run {safe(made.run_id)} is already in {safe(where)} with the same bundle.json: "
               "not stored again")
        return replace(result, stored=stored, store_notes=tuple(getattr(store, "notes", ())))
    except (StoreError, OSError) as exc:
        why = safe(exc.strerror or exc) if isinstance(exc, OSError) else safe(exc)
        return _not_registered(result, store, location, why)
    except KeyboardInterrupt:
        raise ScanStopped(EXIT_INTERRUPTED, f"interrupted while registering the run in {safe(where)}: the evidence "
                                            f"bundle is complete and kept in {safe(result.out)}; the run is registered "
                                            f"only if `auditor history --store {safe(location)}` lists it, else "
                                            f"register it with: auditor store register {safe(result.out)} --store "
                                            f"{safe(location)}") from None
    notify(f"registered run {safe(run.run_id)} in {safe(where)}")
    return replace(result, stored=run, store_notes=tuple(getattr(store, "notes", ())))


def _not_registered(result: ScanResult, store: RunStore, location: str, why: str) -> ScanResult:
    """The scan's result when its bundle could not be registered: exit 6, the bundle kept."""
    import shlex

    _output_failed("store", result.out, why)
    problem = (f"could not register the run in {safe(store.description)}: {why}. The evidence bundle is complete "
               f"and kept in {safe(result.out)}; register it later with: auditor store register "
               f"{safe(shlex.quote(str(result.out)))} --store {safe(shlex.quote(location))}")
    return replace(result, store_problem=problem, exit_code=EXIT_OUTPUT, store_notes=tuple(getattr(store, "notes", ())))


def _config_signer(config: AuditConfig) -> PdfSigner:
    """The config's `report_signing` loaded and checked (`ScanStopped` 2 before anything runs)."""
    from auditor.report.signing import SigningError, load_signer

    spec = config.report_signing
    assert spec is not None
    try:
        return load_signer(spec.key, spec.certificate, spec.chain, passphrase_env=spec.passphrase_env or None)
    except SigningError as exc:
        raise ScanStopped(EXIT_INPUT, f"report_signing in {safe(config.source)}: {safe(exc)}; nothing was run") from None


def _started(command: str, config: AuditConfig | None, snapshot: Path | None, out: Path) -> None:
    source = config.source if config is not None else None
    emit(_log, "run.started", "%s started: config %s, %s, into %s", command, source,
         f"snapshot {snapshot}" if snapshot is not None else "collecting", str(out), command=command,
         config=source, snapshot=str(snapshot) if snapshot is not None else None, out=str(out))


def _scan_finished(command: str, result: ScanResult, t0: float) -> None:
    counts = dict(result.document["summary"].get("findings", {}))
    emit(_log, "scan.finished", "%s finished: %s, %s, exit %d", command,
         ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no findings",
         "complete" if result.complete else "INCOMPLETE", result.exit_code, command=command, out=str(result.out),
         findings=counts, complete=result.complete, exit_code=result.exit_code, verdict_code=result.verdict_code,
         duration_ms=int((time.monotonic() - t0) * 1000))


def _output_failed(output: str, path: Path, reason: str) -> None:
    emit(_log, "output.failed", "%s not written to %s: %s", output, str(path), reason, output=output,
         path=str(path), reason=reason)


def _formats(formats: Sequence[str] | None, config: AuditConfig | None) -> tuple[str, ...]:
    """The reports to write: `formats` (known names, in order, once each), else the config's
    outputs.formats, else the scan's default (every format but OSCAL)."""
    from auditor.config import ALL_FORMATS, DEFAULT_FORMATS

    if formats is None:
        return tuple(config.formats) if config is not None else DEFAULT_FORMATS
    unknown = [f for f in formats if f not in ALL_FORMATS]
    if unknown:
        raise ScanStopped(EXIT_INPUT, f"unknown format {', '.join(map(safe, unknown))}; "
                                      f"choose from {', '.join(ALL_FORMATS)}")
    return tuple(dict.fromkeys(formats))


def _make_folder(out: Path) -> None:
    problem = make_output_folder(out)
    if problem is not None:
        raise ScanStopped(EXIT_OUTPUT, problem)


def _load_snapshot(snapshot_dir: Path) -> Snapshot:
    """The verified snapshot, else `ScanStopped` (2) saying why."""
    from auditor.snapshot.reader import load_snapshot

    try:
        return load_snapshot(snapshot_dir)
    except SnapshotError as exc:
        raise ScanStopped(EXIT_INPUT, safe(exc)) from exc


@contextmanager
def _engine(spec: EngineSpec | None) -> Iterator[DaskEngine | None]:
    """The run's Dask engine (auditor/distributed), None for this process; one that cannot be
    used (the extra missing, the scheduler unreachable) is `ScanStopped` 2."""
    from auditor.distributed import EngineUnavailable
    from auditor.distributed.cluster import open_engine

    try:
        with open_engine(spec) as running:
            yield running
    except EngineUnavailable as exc:
        raise ScanStopped(EXIT_INPUT, safe(exc)) from None


def collection_inputs(config: AuditConfig) -> tuple[RegionChoice, Redactor]:
    """The run's regions and the redaction key, settled before any folder is made: no region
    anywhere is an `InputError`, an unusable key `ScanStopped` (2); nothing is left behind."""
    from auditor.collect.redact import Redactor
    from auditor.collect.regions import resolve_regions
    from auditor.errors import InputError

    try:
        return resolve_regions(config.regions, config.source, config.caller_profile), Redactor.from_environment()
    except InputError:
        raise
    except AuditorError as exc:
        raise ScanStopped(EXIT_INPUT, f"{safe(exc)}; nothing was run") from exc


def collect_snapshot(config: AuditConfig, sessions: SessionFactory, out: Path, gzip: bool, progress: Progress | None,
                     settled: tuple[RegionChoice, Redactor] | None, notify: Notify, *,
                     keep_records: bool = False, shard: Shard | None = None,
                     engine: EngineSpec | None = None) -> CollectResult:
    """Collect into the snapshot folder `out` (with `settled`: the regions and redactor from
    `collection_inputs`, else settled now) and say what was collected; with `keep_records`
    the result also holds the records in memory; with `shard` only that shard's accounts
    (`shard_check` first); `engine`: where the region tasks run. Interrupted: `ScanStopped` 130 keeping the evidence so far (resume
    it with `resume_snapshot`); a write that fails (full disk, permissions): `ScanStopped` 6
    saying what is kept."""
    _started("collect", config, None, out)
    return _collect(config, sessions, out, gzip, progress, settled, notify, keep_records=keep_records, shard=shard,
                    engine=engine)


def shard_check(config: AuditConfig, shard: Shard) -> None:
    """`ScanStopped` 2 when `config`'s accounts cannot be split into `shard`'s shards (the
    caller's own account, accounts without an id); nothing is written."""
    from auditor.snapshot.shards import ShardError, check_shardable

    try:
        check_shardable(config, shard)
    except ShardError as exc:
        raise ScanStopped(EXIT_INPUT, f"{safe(exc)}; nothing was run") from exc


def resume_snapshot(config: AuditConfig, sessions: SessionFactory, folder: Path, progress: Progress | None,
                    notify: Notify, *, engine: EngineSpec | None = None) -> CollectResult:
    """Carry on the collection an interrupted or crashed run left in `folder` (its ``.partial``
    folder, or the snapshot's final name): what it checkpointed is verified and kept, the rest
    collected with `config` (which must be the run's: same digest), and the snapshot finished
    as usual (auditor/snapshot/checkpoint.py). `ScanStopped` 2 when `folder` is not an
    unfinished snapshot, was changed, or was started with other inputs."""
    from auditor.snapshot.checkpoint import open_resume

    try:
        state = open_resume(folder)
    except SnapshotError as exc:
        raise ScanStopped(EXIT_INPUT, f"{safe(exc)}; nothing was run") from exc
    from auditor.snapshot.shards import ShardError, parse_shard

    try:
        shard = parse_shard(state.run["shard"]) if state.run.get("shard") else None
    except ShardError as exc:
        raise ScanStopped(EXIT_INPUT, f"{safe(state.partial)}: its run file names {safe(exc)}") from exc
    notify(f"resuming {safe(state.partial)}: {len(state.tasks)} account-region(s) checkpointed and kept, "
           f"{len(state.discarded)} unfinished record file(s) discarded", err=True)
    _started("collect", config, None, state.final)
    return _collect(config, sessions, state.final, bool(state.run.get("compress")), progress, None, notify,
                    shard=shard, resume=state, engine=engine)


def merge_shards(sources: Sequence[Path], out: Path) -> MergeResult:
    """Merge shard snapshots into the new snapshot folder `out` (`auditor.snapshot.merge`).
    `ScanStopped` 2 when they cannot be merged (nothing is kept), 6 when `out` cannot be written."""
    from auditor.snapshot.merge import merge_snapshots

    try:
        return merge_snapshots(sources, out)
    except SnapshotError as exc:
        raise ScanStopped(EXIT_INPUT, f"{safe(exc)}; nothing was merged") from exc
    except OSError as exc:
        raise ScanStopped(EXIT_OUTPUT, f"could not write the merged snapshot {safe(out)}: "
                                       f"{safe(exc.strerror or exc)}") from exc


def _collect(config: AuditConfig, sessions: SessionFactory, out: Path, gzip: bool, progress: Progress | None,
             settled: tuple[RegionChoice, Redactor] | None, notify: Notify, *,
             keep_records: bool = False, shard: Shard | None = None, resume: Any = None,
             engine: EngineSpec | None = None) -> CollectResult:
    """`collect_snapshot` as part of a scan or the demo (their run.started is said already)."""
    from auditor.collect.runner import collect
    from auditor.snapshot.shards import ShardError
    from auditor.snapshot.writer import SnapshotWriter, partial_path

    regions, redactor = settled if settled is not None else collection_inputs(config)
    try:
        with _engine(engine) as running:
            writer = SnapshotWriter(out, compress=gzip, keep=keep_records, resume=resume is not None)
            result = collect(config, sessions, writer, progress=progress, regions=regions, redactor=redactor,
                             shard=shard, resume=resume, engine=running.regions if running is not None else None)
    except KeyboardInterrupt:
        raise ScanStopped(EXIT_INTERRUPTED, f"interrupted: the evidence gathered so far is kept in "
                                            f"{safe(partial_path(out))} (marked interrupted; it is not a valid "
                                            f"snapshot; `auditor collect --resume {safe(partial_path(out))}` "
                                            "finishes it)") from None
    except ShardError as exc:
        raise ScanStopped(EXIT_INPUT, f"{safe(exc)}; nothing was run") from exc
    except SnapshotError as exc:
        raise ScanStopped(EXIT_INPUT, safe(exc)) from exc
    except OSError as exc:
        kept = partial_path(out)
        _output_failed("snapshot", out, str(exc.strerror or exc))
        raise ScanStopped(EXIT_OUTPUT, f"could not write the snapshot {safe(out)}: {safe(exc.strerror or exc)}"
                          + (f"; what was gathered is kept in {safe(kept)} (marked interrupted; not a valid "
                             "snapshot)" if kept.is_dir() else "")) from exc
    for line, err in collection_summary(result):
        notify(line, err=err)
    return result


def collection_summary(result: CollectResult) -> list[tuple[str, bool]]:
    """What a finished collection says about itself, as (line, for stderr) pairs: where the
    snapshot is, its counts, how the regions were chosen, and whether it is incomplete."""
    m = result.manifest
    lines = [(f"snapshot written to {safe(result.path)}", False),
             (f"  {len(m['calls'])} calls, {len(m['errors'])} errors, "
              f"{len(m['accounts'])} accounts, {len(m['regions'])} regions", False)]
    if m.get("region_choice"):
        from auditor.collect.regions import describe_choice

        lines.append((f"  {safe(describe_choice(m['region_choice']))}", False))
    if not result.complete:
        lines.append(("  assessment INCOMPLETE: some data could not be collected "
                      f"(run `auditor inventory {safe(result.path)}` for every error)", True))
    return lines


def _evaluate_into_bundle(out: Path, snap: Snapshot | list[Snapshot], snapshot_dir: Path, config: AuditConfig | None,
                          inputs: ScanInputs, key: Ed25519PrivateKey | None, formats: tuple[str, ...],
                          style: str | None, notify: Notify, collection: CollectResult | None,
                          pdf_signer: PdfSigner | None = None, engine: EngineSpec | None = None) -> ScanResult:
    """Evaluate the verified snapshot `snap` (kept in `snapshot_dir`) into ``out/findings.json``,
    write the reports and make `out` an evidence bundle, saying where. Interrupted (Ctrl-C,
    SIGTERM): `ScanStopped` 130 saying what is kept and how to finish. findings.json or the
    bundle not written: `ScanStopped` 6. `snap` given as a one-item list is taken out of it, so
    that nothing holds its records once evaluated (an organisation's: hundreds of MB) while the
    reports are written."""
    from auditor.bundle import BUNDLE_FILE, SIGNATURE_FILE
    from auditor.scan import FINDINGS_FILE

    try:
        document, path = _scan_snapshot(snap.pop() if isinstance(snap, list) else snap, inputs, out, engine)
        for stale in (BUNDLE_FILE, SIGNATURE_FILE):   # a re-run into an old bundle: its manifest no longer holds
            (out / stale).unlink(missing_ok=True)
        notify(f"findings written to {safe(path)}")
        written, problems = _reports(out, path, snapshot_dir, inputs, formats, style, notify, pdf_signer)
        bundle = _bundle(out, snapshot_dir, config, inputs, key, notify)
    except KeyboardInterrupt:
        kept = (out / FINDINGS_FILE).is_file()
        again = f"auditor scan --snapshot {safe(snapshot_dir)}" + _config_args(config)
        raise ScanStopped(EXIT_INTERRUPTED,
                          f"interrupted after collection: the snapshot {safe(snapshot_dir)} is complete and kept"
                          + (f", and {safe(out / FINDINGS_FILE)} was written" if kept else "")
                          + f"; {safe(out)} is not a finished evidence bundle (no {BUNDLE_FILE}). Finish with: "
                          f"{again} --out NEW_FOLDER") from None
    ok = not problems
    return ScanResult(document=document, out=out, snapshot=snapshot_dir, findings=path, reports=written,
                      bundle=bundle, signed=key is not None, fail_on=inputs.fail_on,
                      exit_code=scan_exit_code(document, inputs.fail_on, ok),
                      verdict_code=scan_exit_code(document, inputs.fail_on), outputs_written=ok,
                      problems=problems, collection=collection)


def _scan_snapshot(snap: Snapshot, inputs: ScanInputs, out: Path,
                   engine: EngineSpec | None = None) -> tuple[dict[str, Any], Path]:
    """Evaluate the verified snapshot (with a Dask `engine`: partitioned, on its workers), write
    findings.json into `out` (`ScanStopped` 6 when it cannot be written: no half file is left)."""
    from auditor.scan import FINDINGS_FILE, evaluate_snapshot, write_findings
    from auditor.snapshot.reader import record_shape_errors

    try:
        with record_shape_errors(snap), _engine(engine) as running:
            document = evaluate_snapshot(snap, inputs, runner=running.components if running is not None else None)
    except SnapshotError as exc:
        raise ScanStopped(EXIT_INPUT, safe(exc)) from exc
    try:
        return document, write_findings(document, out)
    except OSError as exc:
        _output_failed("findings.json", out / FINDINGS_FILE, str(exc.strerror or exc))
        raise ScanStopped(EXIT_OUTPUT, f"could not write {safe(out / FINDINGS_FILE)}: {safe(exc.strerror or exc)} "
                                       "(nothing was written in its place)") from exc


def _config_args(config: AuditConfig | None) -> str:
    """The `-c` and options (auditor/cli_aws.py) that give the same config again."""
    import shlex

    from auditor.config import NO_CONFIG_SOURCE

    if config is None:
        return ""
    words = [] if config.source == NO_CONFIG_SOURCE else ["-c", config.source]
    for option in config.overrides:
        words += option.split(" ", 1)
    return "".join(f" {safe(shlex.quote(w))}" for w in words)


def _reports(out: Path, findings: Path, snapshot_dir: Path, inputs: ScanInputs, formats: tuple[str, ...],
             style: str | None, notify: Notify, pdf_signer: PdfSigner | None = None
             ) -> tuple[tuple[tuple[str, Path], ...], tuple[str, ...]]:
    """Write the report files of `formats` next to findings.json, saying where; returns them
    and what could not be written (the others still are: nothing is lost). The PDF attaches
    the snapshot records the failing findings cite, and is signed with `pdf_signer`."""
    from auditor.report.model import build_model, record_hashes_of
    from auditor.report.outputs import map_findings, write_reports
    from auditor.rules.frameworks import load_catalogues

    raw = map_findings(findings)   # read from the file as the reports need it, not held whole
    manifest = (snapshot_dir / "manifest.json").read_bytes()   # the snapshot was verified: it is there
    model = build_model(raw, inputs.packs, load_catalogues(), style=style,
                        record_hashes=record_hashes_of(manifest))
    try:
        done = write_reports(out, formats, model, raw, findings_path=findings, manifest=manifest, style=style,
                             snapshot=snapshot_dir, pdf_signer=pdf_signer)
    except OSError as exc:
        problem = f"could not write the reports into {safe(out)}: {safe(exc.strerror or exc)}"
        _output_failed("reports", out, str(exc.strerror or exc))
        notify(f"error: {problem}", err=True)
        return (), (problem,)
    for fmt, target in done.files:
        signed = " (signed: PAdES)" if fmt == "pdf" and pdf_signer is not None else ""
        notify(f"{fmt} written to {safe(target)}{signed}")
    problems = []
    for fmt, target, why in done.failed:
        problem = f"{fmt}: {safe(target)} not written: {safe(why)}"
        _output_failed(fmt, target, str(why))
        notify(f"error: {problem}", err=True)
        problems.append(problem)
    return tuple(done.files), tuple(problems)


def _bundle(out: Path, snapshot_dir: Path, config: AuditConfig | None, inputs: ScanInputs,
            key: Ed25519PrivateKey | None, notify: Notify) -> Path:
    """Make `out` an evidence bundle (auditor/bundle.py) and say where; `ScanStopped` 6 when it
    cannot be written (the folder then has no bundle.json: it is not a finished bundle)."""
    from auditor.bundle import write_scan_bundle

    try:
        path = write_scan_bundle(out, snapshot_dir, config, inputs, key)
    except SnapshotError as exc:
        raise ScanStopped(EXIT_INPUT, f"could not write the evidence bundle: {safe(exc)}") from exc
    except OSError as exc:
        _output_failed("bundle", out, str(exc.strerror or exc))
        raise ScanStopped(EXIT_OUTPUT, f"could not write the evidence bundle into {safe(out)}: "
                                       f"{safe(exc.strerror or exc)} (no bundle.json was written: the folder is "
                                       "not a finished bundle)") from exc
    notify(f"evidence bundle written to {safe(out)} ({path.name}{', signed' if key is not None else ''}; "
           f"check it with: auditor verify {safe(out)})")
    return path


# -- the demo --------------------------------------------------------------------------------

def emulator_problem() -> str | None:
    """Why `run_demo` cannot run (moto, the `demo` extra, is not installed), as the command
    line says it, else None."""
    from auditor.emulate import emulator_missing

    why = emulator_missing()
    if why is None:
        return None
    return ("`auditor demo` needs the AWS emulator (moto), which is not installed "
            f"({safe(why)}); install it with: pip install 'private-network-auditor[demo]'")


def run_demo(*, out: Path | None = None, server: bool = False, formats: Sequence[str] | None = None,
             style: str | None = None, progress: Progress | None = None, notify: Notify = _quiet,
             on_start: Callable[[], None] | None = None, keep_records: bool = False) -> DemoResult:
    """What `auditor demo` does: build the demo bank estate in moto (in-process, or a real
    HTTP server with `server`) with the demo's seed, collect it with the demo's audit config
    into ``out/snapshot``, then finish as `run_scan` does (evaluate every pack the config
    names, write findings.json, the reports and an unsigned evidence bundle into `out`).

    `out` defaults to ``demo-output/<UTC time>``; `formats`, `style`, `progress`, `notify`
    and `on_start` are `run_scan`'s; with `keep_records` the collected records are also kept in
    memory (`DemoResult.scan.collection.records`). Raises `ScanStopped` (2) when moto is not installed,
    before anything is written, and as `run_scan` does."""
    problem = emulator_problem()
    if problem is not None:
        raise ScanStopped(EXIT_INPUT, problem)
    from auditor.config import load_config
    from auditor.emulate import dated_demo_config, demo_config_path, demo_estate_path, load_estate

    t0 = time.monotonic()
    out = out or timestamped(Path("demo-output"))
    estate = load_estate(demo_estate_path())
    # The demo's waivers and responses, re-dated to today (auditor.emulate.dated_demo_config):
    # copies that live until the bundle has kept them in its inputs/.
    dated = tempfile.TemporaryDirectory(prefix="auditor-demo-")
    try:
        return _run_demo(out, estate, dated_demo_config(load_config(demo_config_path()), Path(dated.name),
                                                        dt.datetime.now(dt.UTC).date()),
                         server, formats, style, progress, notify, keep_records, on_start, t0)
    finally:
        dated.cleanup()


def _run_demo(out: Path, estate: Any, config: AuditConfig, server: bool, formats: Sequence[str] | None,
              style: str | None, progress: Progress | None, notify: Notify, keep_records: bool,
              on_start: Callable[[], None] | None, t0: float) -> DemoResult:
    from auditor.emulate import EmulatedAws, demo_estate_path, seed
    from auditor.emulate.host import DEMO_SEED
    from auditor.scan import prepare

    inputs = prepare(config)
    wanted = _formats(formats, config)
    _make_folder(out)
    if on_start is not None:
        on_start()
    _started("demo", config, None, out)
    notify(f"demo: building the emulated estate '{demo_estate_path().name}' "
           f"({'HTTP server' if server else 'in-process'} emulator) ...", err=True)
    with EmulatedAws(mode="server" if server else "inprocess", seed=DEMO_SEED) as emu:
        seeded = seed(estate, emu)
        collection = _collect(config, emu.session_factory(max_attempts=config.collection.max_attempts),
                              out / "snapshot", config.gzip, progress, None, notify, keep_records=keep_records)
    snap = _load_snapshot(collection.path)
    result = _evaluate_into_bundle(out, snap, collection.path, config, inputs, None, wanted, style, notify,
                                   collection)
    _scan_finished("demo", result, t0)
    return DemoResult(result, seeded)
