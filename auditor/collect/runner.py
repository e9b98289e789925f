"""Plan and run collection: accounts, then one task per (account, region), concurrently.

`collect` is the only entry point. It resolves who to audit (explicit accounts, AWS
Organizations discovery, or the caller's own account), records each account's caller
identity, expands ``regions: all``, then runs the (account, region) tasks on a bounded
thread pool with a per-service cap on calls in flight. Every call and every failure is
handed to the snapshot writer; nothing is dropped.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import botocore

from auditor import __version__
from auditor.collect.calls import classify, now_iso, run_call
from auditor.collect.discovery import select_accounts
from auditor.collect.limits import Limits
from auditor.collect.redact import Redactor
from auditor.collect.region import RegionContext, collect_region
from auditor.collect.regions import RegionChoice, resolve_regions
from auditor.collect.sessions import SessionFactory
from auditor.config import AuditConfig
from auditor.errors import AuditorError
from auditor.events import CollectionProgress, Progress, emit, logger
from auditor.partitions import partition_of
from auditor.snapshot.records import DISCOVERY_REGION, GLOBAL_REGION, CallRecord
from auditor.snapshot.writer import SnapshotWriter

_log = logger("collect")




@dataclass
class AccountRun:
    """One account as resolved for this run."""

    id: str
    name: str
    source: str  # config | organizations | caller
    role_arn: str | None = None
    session: Any = None
    identity: dict[str, str] = field(default_factory=dict)
    regions: tuple[str, ...] = ()
    problem: str = ""  # why the account's regions cannot be collected, if so

    def meta(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "source": self.source, "role_arn": self.role_arn,
                "identity": self.identity, "regions": list(self.regions), "problem": self.problem}


class Collector:
    """One run's collection state. Use `collect()`; this class only holds the pieces."""

    def __init__(self, config: AuditConfig, factory: SessionFactory, writer: SnapshotWriter,
                 progress: Progress | None = None, *, regions: RegionChoice, redactor: Redactor):
        self.config = config
        self.region_choice = regions
        self.redactor = redactor
        self.factory = factory
        self.writer = writer
        self.progress: Progress = progress or (lambda update: None)
        self._count_lock = threading.Lock()
        self.calls = self.errors = 0
        self._account_errors: dict[str, str] = {}
        self.stop = threading.Event()
        # Caps and token buckets per account-region (auditor.collect.limits); the calls of every
        # region task share one pool (idle threads end when the Collector is collected).
        self.limits = Limits.from_config(config.collection)
        self.call_pool = ThreadPoolExecutor(max_workers=config.collection.call_workers, thread_name_prefix="calls")
        self.accounts: list[AccountRun] = []
        self.tasks: list[dict[str, Any]] = []
        self.run_started = now_iso()
        self.discovery_problem = ""
        self._durations: dict[tuple[str, str], int] = {}
        self._bases: dict[str | None, Any] = {}
        self._base_lock = threading.Lock()

    # -- accounts ---------------------------------------------------------------------
    def _home_region(self) -> str:
        # Account-wide calls (STS, Organizations, DescribeRegions) go to a region of the run's
        # partition, so GovCloud and China reach their own endpoints.
        return self.region_choice.home

    def _record(self, record: CallRecord) -> CallRecord:
        self._add(record)
        if record.error is not None:
            self._account_errors[record.account] = record.error.code   # the account's last failure
        return record

    def _add(self, record: CallRecord) -> None:
        """Write `record` and count it for the progress figures."""
        self.writer.add(record)
        with self._count_lock:
            self.calls += 1
            self.errors += 0 if record.ok else 1

    def _identity(self, acct: AccountRun, slot: str = GLOBAL_REGION) -> None:
        sts = self.factory.client(acct.session, "sts", self._home_region())
        rec = run_call(sts, acct.id or "unknown", slot, "sts", "GetCallerIdentity", {}, redactor=self.redactor)
        if not acct.id and rec.ok and rec.pages and rec.pages[0].get("Account"):
            # The caller's account is only known from this answer: file the record under it.
            rec = dataclasses.replace(rec, account=str(rec.pages[0]["Account"]))
        self._record(rec)
        if not rec.ok:
            acct.problem = f"sts:GetCallerIdentity failed: {rec.error.code}: {rec.error.message}"  # type: ignore[union-attr]
            # The caller's own account is only known from that answer: file its gaps where the
            # failed call is filed, so that they are not lost under an empty id.
            acct.id = acct.id or rec.account
            return
        ident = {k: rec.pages[0][k] for k in ("Account", "Arn", "UserId") if k in rec.pages[0]}
        acct.identity = ident
        if acct.id and ident.get("Account") != acct.id:
            acct.problem = (f"credentials for account {acct.id} belong to account {ident.get('Account')}; "
                            "refusing to collect the wrong account")
        acct.id = acct.id or ident.get("Account", "unknown")

    def _assume(self, acct: AccountRun, source: Any, external_id: str | None, session_name: str | None = None,
                duration: int | None = None) -> None:
        started = now_iso()
        try:
            acct.session = self.factory.assume_role(source, self._home_region(), acct.role_arn or "",
                                                    session_name or f"auditor-{self.run_started[:10]}", external_id,
                                                    duration)
            rec = CallRecord(acct.id, GLOBAL_REGION, "sts", "AssumeRole",
                             {"RoleArn": acct.role_arn}, pages=(), started=started)
        except Exception as exc:  # noqa: BLE001 - recorded below
            err = classify(exc)
            rec = CallRecord(acct.id, GLOBAL_REGION, "sts", "AssumeRole", {"RoleArn": acct.role_arn},
                             error=err, started=started)
            acct.problem = f"sts:AssumeRole into {acct.role_arn} failed: {err.code}: {err.message}"
        self._record(rec)  # the response (credentials) is never written

    def _base_session(self, profile: str | None = None) -> Any:
        """One session (and so one STS client) per source profile for every role assumption."""
        with self._base_lock:
            if profile not in self._bases:
                self._bases[profile] = self.factory.base(profile)
            return self._bases[profile]

    def _open_explicit(self, acct: AccountRun) -> None:
        spec = next(a for a in self.config.accounts if a.id == acct.id)
        if spec.role_arn:   # assumed from the caller's session (--profile / aws_profile, else the default chain)
            self._assume(acct, self._base_session(self.config.aws_profile), spec.external_id, spec.session_name,
                         spec.session_duration)
        else:
            acct.session = self.factory.base(spec.profile or self.config.aws_profile)

    def _discover(self) -> list[AccountRun]:
        disc = self.config.discovery
        assert disc is not None
        mgmt = self._base_session(self.config.caller_profile)
        home = AccountRun(id="", name="organization-management", source="caller", session=mgmt)
        # The caller's own identity and the account list are recorded apart from the audited
        # accounts' calls: the management account may be audited too, through its role.
        self._identity(home, DISCOVERY_REGION)
        if home.problem:
            raise DiscoveryFailed(home.problem)
        org = self.factory.client(mgmt, "organizations", self._home_region())
        rec = self._record(run_call(org, home.id, DISCOVERY_REGION, "organizations", "ListAccounts", {},
                                    redactor=self.redactor))
        if not rec.ok:
            raise DiscoveryFailed(f"organizations:ListAccounts failed: {rec.error.code}: "  # type: ignore[union-attr]
                                  f"{rec.error.message}")  # type: ignore[union-attr]
        partition = (home.identity.get("Arn", "arn:aws:").split(":") + ["aws"])[1] or "aws"

        def call(operation: str, params: dict[str, Any]) -> CallRecord:
            # OU and tag lookups: recorded as evidence beside ListAccounts, never in an audited account
            return self._record(run_call(org, home.id, DISCOVERY_REGION, "organizations", operation, params,
                                         redactor=self.redactor))

        chosen = select_accounts(rec.items("Accounts"), disc, call)
        # A lookup that failed leaves the accounts it would have selected undecided: said, never dropped.
        self.discovery_problem = "; ".join(chosen.problems)
        found = []
        for item, why in [(a, "") for a in chosen.accounts] + chosen.undecided:
            found.append(AccountRun(id=item["Id"], name=item.get("Name", ""), source="organizations",
                                    role_arn=f"arn:{partition}:iam::{item['Id']}:role/{disc.role_name}",
                                    problem=why))
        return sorted(found, key=lambda a: a.id)

    def _open_account(self, acct: AccountRun) -> None:
        """`_prepare_account`, then say whether the account was reached (on the pool)."""
        t0 = time.monotonic()
        self._prepare_account(acct)
        ms = int((time.monotonic() - t0) * 1000)
        if acct.problem:
            emit(_log, "account.failed", "account %s (%s) not reached: %s", acct.id, acct.source, acct.problem,
                 account=acct.id, name=acct.name, source=acct.source, role_arn=acct.role_arn,
                 error_code=self._account_errors.get(acct.id, "AccountMismatch"), reason=acct.problem,
                 duration_ms=ms)
        else:
            emit(_log, "account.reached", "account %s (%s) reached, %d region(s)", acct.id, acct.source,
                 len(acct.regions), account=acct.id, name=acct.name, source=acct.source, role_arn=acct.role_arn,
                 regions=len(acct.regions), duration_ms=ms)

    def _prepare_account(self, acct: AccountRun) -> None:
        # Runs on the pool: assuming roles in many accounts happens concurrently.
        if acct.problem:   # discovery could not decide whether to audit it: nothing is assumed
            return
        if acct.source == "config":
            self._open_explicit(acct)
        elif acct.source == "organizations":
            disc = self.config.discovery
            assert disc is not None
            self._assume(acct, self._base_session(self.config.caller_profile), disc.external_id, disc.session_name,
                         disc.session_duration)
        if acct.problem:
            return
        self._identity(acct)
        if acct.problem:
            return
        if self.region_choice.regions == "all":
            ec2 = self.factory.client(acct.session, "ec2", self._home_region())
            rec = self._record(run_call(ec2, acct.id, GLOBAL_REGION, "ec2", "DescribeRegions", {},
                                        redactor=self.redactor))
            if not rec.ok:
                acct.problem = f"ec2:DescribeRegions failed: {rec.error.code}: {rec.error.message}"  # type: ignore[union-attr]
                return
            # AWS lists the regions of the endpoint's own partition; a region botocore places in
            # another partition (an emulator lists every region) cannot take these credentials.
            home = self.region_choice.partition
            acct.regions = tuple(sorted(r["RegionName"] for r in rec.items("Regions")
                                        if r.get("OptInStatus", "opt-in-not-required") != "not-opted-in"
                                        and partition_of(r["RegionName"]) in (home, "")))
        else:
            acct.regions = tuple(self.region_choice.regions)

    # -- regions ----------------------------------------------------------------------
    def _region_task(self, acct: AccountRun, region: str) -> list[CallRecord]:
        t0 = time.monotonic()
        ctx = RegionContext(self.factory, self.redactor, self.limits, self._add, self.stop, self.call_pool)
        out = collect_region(ctx, acct.id, acct.session, region)
        self._durations[(acct.id, region)] = int((time.monotonic() - t0) * 1000)
        return out

    def _region_done(self, account: str, region: str, records: list[CallRecord]) -> None:
        """A region task's records are all written: say so in the run's tasks."""
        errors = sum(0 if rec.ok else 1 for rec in records)
        self.tasks.append({"account": account, "region": region, "calls": len(records),
                           "errors": errors, "status": "complete" if not errors else "incomplete"})

    # -- the run ----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        cfg = self.config
        pool = ThreadPoolExecutor(max_workers=cfg.collection.max_workers, thread_name_prefix="collect")
        try:
            if cfg.discovery is not None:
                try:
                    self.accounts = self._discover()
                except DiscoveryFailed as exc:
                    self.discovery_problem = str(exc)
                    self.accounts = []
                if self.discovery_problem:
                    emit(_log, "discovery.failed", "Organizations discovery incomplete: %s", self.discovery_problem,
                         reason=self.discovery_problem,
                         accounts_decided=sum(1 for a in self.accounts if not a.problem))
                    # Accounts that could not be listed or selected: the organization's regions are
                    # gaps, under "organization" (the accounts decided are still collected).
                    self.tasks += [{"account": "organization", "region": r, "calls": 0, "errors": 0,
                                    "status": "not_attempted", "reason": self.discovery_problem}
                                   for r in self._planned_regions()]
            elif cfg.accounts:
                self.accounts = [AccountRun(id=a.id or "", name=a.name, source="config", role_arn=a.role_arn)
                                 for a in cfg.accounts]
            else:
                self.accounts = [AccountRun(id="", name="", source="caller",
                                            session=self.factory.base(cfg.aws_profile))]
            self._drain(pool, [pool.submit(self._open_account, a) for a in self.accounts], "accounts")
            self._keep_planned_regions()
            jobs: dict[Future[list[CallRecord]], tuple[str, str]] = {}
            for acct in self.accounts:
                if acct.problem:
                    # Say which (account, region) work could not be done, so nothing vanishes.
                    planned = acct.regions or self._planned_regions()
                    self.tasks += [{"account": acct.id, "region": r, "calls": 0, "errors": 0,
                                    "status": "not_attempted", "reason": acct.problem} for r in planned]
                    continue
                for region in acct.regions:
                    jobs[pool.submit(self._region_task, acct, region)] = (acct.id, region)
            self._drain(pool, list(jobs), "regions", jobs)
            self._tell("regions", len(jobs), len(jobs), "")   # the end, also when no region could be run
        except BaseException:
            self.stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return self.meta()

    def _keep_planned_regions(self) -> None:
        """An account that could not be reached keeps the regions it was meant to cover (unless
        they were to be discovered), so that the manifest and findings.json name them."""
        for acct in self.accounts:
            chosen = self.region_choice.regions
            if acct.problem and not acct.regions and isinstance(chosen, tuple):
                acct.regions = tuple(chosen)

    def _planned_regions(self) -> tuple[str, ...]:
        """The regions an account that could not be reached was meant to be collected in."""
        chosen = self.region_choice.regions
        return tuple(chosen) if isinstance(chosen, tuple) else ("all",)

    def _drain(self, pool: ThreadPoolExecutor, futures: list[Future[Any]], label: str,
               jobs: dict[Future[list[CallRecord]], tuple[str, str]] | None = None) -> None:
        pending = set(futures)
        total, done = len(futures), 0
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in finished:
                done += 1
                result = fut.result()
                if jobs is not None:
                    account, region = jobs[fut]
                    self._region_done(account, region, result)
                    errors = sum(0 if rec.ok else 1 for rec in result)
                    emit(_log, "region.done", "%s/%s done: %d calls, %d errors (%d of %d)", account, region,
                         len(result), errors, done, total, account=account, region=region, calls=len(result),
                         errors=errors, done=done, total=total,
                         duration_ms=self._durations.get((account, region), 0))
                    self._tell(label, done, total, f"{account}/{region}")
                else:
                    self._tell(label, done, total, label)
            if not finished:
                self._tell(label, done, total, "")   # a heartbeat: the figures move between finishes

    def _tell(self, phase: str, done: int, total: int, label: str) -> None:
        with self._count_lock:
            calls, errors = self.calls, self.errors
        self.progress(CollectionProgress(phase, done, total, calls, errors, label))

    def meta(self) -> dict[str, Any]:
        """Run metadata for the manifest (the writer adds calls, errors and hashes)."""
        # The run's regions: every account's, and those of tasks that could not run (an
        # organization whose accounts could not be listed still meant to cover them).
        regions = sorted(({r for a in self.accounts for r in a.regions} | {t["region"] for t in self.tasks})
                         - {"all"})
        problems = [{"account": a.id, "message": a.problem} for a in self.accounts if a.problem]
        if self.discovery_problem:
            problems.append({"account": "organization", "message": self.discovery_problem})
        return {
            "tool": {"name": "private-network-auditor", "version": __version__,
                     "botocore": botocore.__version__},
            "started": self.run_started, "finished": now_iso(),
            "config": {"source": self.config.source, "digest": self.config.digest,
                       "organization": self.config.organization},
            "accounts": sorted((a.meta() for a in self.accounts), key=lambda m: m["id"]),
            "regions": regions,
            "region_choice": self.region_choice.meta(),
            "redaction": self.redactor.meta(),
            "account_problems": problems,
            "tasks": sorted(self.tasks, key=lambda t: (t["account"], t["region"])),
        }


class DiscoveryFailed(Exception):
    """AWS Organizations discovery could not list the accounts; nothing else can run."""


@dataclass(frozen=True)
class CollectResult:
    """Where the snapshot went and what the run said about itself."""

    path: Any
    manifest: dict[str, Any]
    records: tuple[CallRecord, ...]  # only when the writer keeps them

    @property
    def complete(self) -> bool:
        return bool(self.manifest.get("complete"))


def collect(config: AuditConfig, factory: SessionFactory, writer: SnapshotWriter,
            progress: Progress | None = None, *, regions: RegionChoice | None = None,
            redactor: Redactor | None = None) -> CollectResult:
    """Collect everything `config` asks for into `writer`'s snapshot.

    `regions` defaults to `resolve_regions` (the config, else the AWS environment) and
    `redactor` to the installation's redaction key (`Redactor.from_environment`). When
    either cannot be settled (no region anywhere, an unusable key) nothing is collected:
    the writer's folder is removed and the InputError / RedactionKeyError propagates.
    On KeyboardInterrupt (or any unexpected error) the evidence gathered so far is kept in
    the writer's ``.partial`` folder, marked interrupted, and the exception propagates.
    """
    try:
        regions = regions or resolve_regions(config.regions, config.source, config.caller_profile)
        redactor = redactor or Redactor.from_environment()
    except AuditorError:
        writer.discard()
        raise
    collector = Collector(config, factory, writer, progress, regions=regions, redactor=redactor)
    t0 = time.monotonic()
    try:
        meta = collector.run()
    except BaseException as exc:
        reason = "interrupted by the user" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
        writer.abort(collector.meta(), reason)
        raise
    path = writer.finish(meta)
    result = CollectResult(path=path, manifest=writer.manifest, records=tuple(writer.records))
    _finished(result, int((time.monotonic() - t0) * 1000))
    return result


def _finished(result: CollectResult, duration_ms: int) -> None:
    m = result.manifest
    calls, errors = len(m.get("calls", [])), len(m.get("errors", []))
    accounts, regions = len(m.get("accounts", [])), len(m.get("regions", []))
    emit(_log, "collection.finished", "snapshot %s written: %d calls, %d errors, %d accounts, %d regions, %s",
         str(result.path), calls, errors, accounts, regions, "complete" if result.complete else "INCOMPLETE",
         level=logging.INFO if result.complete else logging.WARNING, snapshot=str(result.path), calls=calls,
         errors=errors, accounts=accounts, regions=regions, complete=result.complete, duration_ms=duration_ms)
