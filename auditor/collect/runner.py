"""Plan and run collection: accounts, then one task per (account, region), concurrently.

`collect` is the only entry point. It resolves who to audit (explicit accounts, AWS
Organizations discovery, or the caller's own account), records each account's caller
identity, expands ``regions: all``, then runs the (account, region) tasks on a bounded
thread pool with a per-service cap on calls in flight. Every call and every failure is
handed to the snapshot writer; nothing is dropped.

With a `Shard` only that shard's accounts are opened and collected; the others are named in
the manifest as not collected here (so a lone shard never looks complete). The discovery,
each account's own calls and each task are checkpointed as they finish
(auditor/snapshot/checkpoint.py); with a `ResumeState` what was checkpointed is kept and
only the rest is collected.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import botocore

from auditor import __version__
from auditor.collect.calls import classify, now_iso, run_call
from auditor.collect.catalog import task_calls
from auditor.collect.discovery import select_accounts
from auditor.collect.limits import Limits
from auditor.collect.redact import Redactor
from auditor.collect.region import RegionContext, collect_region
from auditor.collect.regions import RegionChoice, resolve_regions
from auditor.collect.sessions import SessionFactory
from auditor.config import AuditConfig
from auditor.errors import AuditorError, SnapshotError
from auditor.events import CollectionProgress, Progress, emit, logger
from auditor.model.metrics import window
from auditor.partitions import partition_of
from auditor.snapshot.checkpoint import DISCOVERY, Checkpointer, ResumeState, account_checkpoint, task_checkpoint
from auditor.snapshot.records import DISCOVERY_REGION, GLOBAL_REGION, CallRecord
from auditor.snapshot.shards import Shard, check_shardable
from auditor.snapshot.writer import SnapshotWriter

_log = logger("collect")
# Accounts opened at once (sts:AssumeRole, sts:GetCallerIdentity, ec2:DescribeRegions), however
# many region tasks run at once (`collection.max_workers`): every AssumeRole is a request of the
# caller's own account, whose STS rate AWS does not publish and will not raise.
ACCOUNTS_AT_ONCE = 16




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
    written: list[CallRecord] = field(default_factory=list)  # its own calls (checkpointed together)
    reopen_problem: str = ""  # resumed run: why its session could not be opened again

    @property
    def key(self) -> str:
        """Its checkpoint's name: the caller's own account is known only after a call."""
        return "caller" if self.source == "caller" else self.id

    def meta(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "source": self.source, "role_arn": self.role_arn,
                "identity": self.identity, "regions": list(self.regions), "problem": self.problem}


class RegionEngine(Protocol):
    """Runs a region task elsewhere (the Dask engine, auditor/distributed) and returns its
    records, not yet written: the collector writes them, once per task."""

    def run_region(self, collector: Collector, acct: AccountRun, region: str) -> list[CallRecord]: ...


class Collector:
    """One run's collection state. Use `collect()`; this class only holds the pieces."""

    engine: RegionEngine | None = None   # None: the region tasks run on this process's pool
    shard: Shard | None = None
    resume: ResumeState | None = None

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
        self._opening = threading.BoundedSemaphore(ACCOUNTS_AT_ONCE)
        self._base_lock = threading.Lock()

    # -- accounts ---------------------------------------------------------------------
    def _home_region(self) -> str:
        # Account-wide calls (STS, Organizations, DescribeRegions) go to a region of the run's
        # partition, so GovCloud and China reach their own endpoints.
        return self.region_choice.home

    def _record(self, record: CallRecord, acct: AccountRun | None = None) -> CallRecord:
        self._add(record)
        if acct is not None:
            acct.written.append(record)
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
        self._record(rec, acct)
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
        self._record(rec, acct)  # the response (credentials) is never written

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
        self._discovery_home = home   # its records are the discovery checkpoint's
        # The caller's own identity and the account list are recorded apart from the audited
        # accounts' calls: the management account may be audited too, through its role.
        self._identity(home, DISCOVERY_REGION)
        if home.problem:
            raise DiscoveryFailed(home.problem)
        org = self.factory.client(mgmt, "organizations", self._home_region())
        rec = self._record(run_call(org, home.id, DISCOVERY_REGION, "organizations", "ListAccounts", {},
                                    redactor=self.redactor), home)
        if not rec.ok:
            raise DiscoveryFailed(f"organizations:ListAccounts failed: {rec.error.code}: "  # type: ignore[union-attr]
                                  f"{rec.error.message}")  # type: ignore[union-attr]
        partition = (home.identity.get("Arn", "arn:aws:").split(":") + ["aws"])[1] or "aws"

        def call(operation: str, params: dict[str, Any]) -> CallRecord:
            # OU and tag lookups: recorded as evidence beside ListAccounts, never in an audited account
            return self._record(run_call(org, home.id, DISCOVERY_REGION, "organizations", operation, params,
                                         redactor=self.redactor), home)

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
        """`_prepare_account`, then say whether the account was reached (on the pool, at most
        `ACCOUNTS_AT_ONCE` accounts at a time)."""
        t0 = time.monotonic()
        with self._opening:
            self._prepare_account(acct)
        ms = int((time.monotonic() - t0) * 1000)
        if self.shard is not None and not self.shard.owns(acct.id):
            return   # another shard's account: not ours to reach (the manifest names it)
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
        if acct.problem:   # another shard's, or discovery could not decide: nothing is assumed
            return
        saved = self.resume.account(acct.key) if self.resume is not None else None
        if saved is not None:
            self._restore_account(acct, saved)
            return
        self._account_calls(acct)
        # Its own calls are done (failed ones too: they are evidence): a resumed run keeps them.
        self._checkpoint(account_checkpoint(acct.key), acct.written, {"account": acct.meta()})

    def _account_calls(self, acct: AccountRun) -> None:
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
                                        redactor=self.redactor), acct)
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
        if self.engine is not None:
            out = self.engine.run_region(self, acct, region)
            for rec in out:
                self._add(rec)
        else:
            ctx = RegionContext(self.factory, self.redactor, self.limits, self._add, self.stop, self.call_pool,
                                task_calls(self.traffic_window()))
            out = collect_region(ctx, acct.id, acct.session, region)
        self._durations[(acct.id, region)] = int((time.monotonic() - t0) * 1000)
        return out

    def traffic_window(self) -> tuple[str, str] | None:
        """(start, end) of the traffic the region tasks read (costs.traffic; None: off). Fixed by
        the run's start, which a resumed run keeps: the same window on every resume."""
        costs = self.config.costs
        return window(self.run_started, costs.window_days) if costs.traffic else None

    def _region_done(self, account: str, region: str, records: list[CallRecord]) -> None:
        """A region task's records are all written: say so in the run's tasks and checkpoint it."""
        errors = sum(0 if rec.ok else 1 for rec in records)
        task = {"account": account, "region": region, "calls": len(records),
                "errors": errors, "status": "complete" if not errors else "incomplete"}
        self.tasks.append(task)
        self._checkpoint(task_checkpoint(account, region), records, {"task": task})

    # -- checkpoints and resume (auditor/snapshot/checkpoint.py) ---------------------------
    def _checkpoint(self, name: str, records: list[CallRecord], state: dict[str, Any]) -> None:
        """Queue a checkpoint (written, durably, on the checkpointer's thread); a checkpoint
        that could not be written stops the run here."""
        self._checkpointer.submit(name, records, state)
        self._checkpointer.check()

    def close_checkpoints(self, *, flush: bool) -> None:
        """Stop the checkpointer (`flush`: once what is queued is written) and raise what
        stopped it, if anything did. A finished run does not flush: its manifest says it all."""
        self._checkpointer.close(flush=flush)
        self._checkpointer.check()

    def _restore_discovery(self) -> bool:
        """A resumed run whose discovery was checkpointed: its accounts, without a call."""
        saved = self.resume.discovery if self.resume is not None else None
        if saved is None:
            return False
        self.discovery_problem = str(saved.get("problem", ""))
        self.accounts = [AccountRun(id=a["id"], name=a.get("name", ""), source=a.get("source", "organizations"),
                                    role_arn=a.get("role_arn"), problem=a.get("problem", ""))
                         for a in saved.get("accounts", [])]
        return True

    def _checkpoint_discovery(self) -> None:
        home = getattr(self, "_discovery_home", None)
        accounts = [{"id": a.id, "name": a.name, "source": a.source, "role_arn": a.role_arn, "problem": a.problem}
                    for a in self.accounts]
        self._checkpoint(DISCOVERY, home.written if home is not None else [],
                         {"problem": self.discovery_problem, "accounts": accounts})

    def _restore_account(self, acct: AccountRun, saved: dict[str, Any]) -> None:
        """A resumed run: the account's own calls were checkpointed. What they settled is taken
        back; when some of its regions are still to collect, its session is opened again."""
        meta = saved.get("account") or {}
        acct.id = str(meta.get("id", acct.id))
        acct.identity = dict(meta.get("identity") or {})
        acct.regions = tuple(meta.get("regions") or ())
        acct.problem = str(meta.get("problem") or "")
        assert self.resume is not None
        if acct.problem or all((acct.id, r) in self.resume.tasks for r in acct.regions):
            return
        self._reopen(acct)

    def _reopen(self, acct: AccountRun) -> None:
        """Open the account's session again (the role assumed again, the identity checked
        against the checkpointed one). Nothing is written: the records of the first opening
        stand; the manifest's ``resumed.reopened`` says it was done."""
        started = now_iso()
        try:
            if acct.source == "config":
                spec = next(a for a in self.config.accounts if a.id == acct.id)
                if spec.role_arn:
                    acct.session = self.factory.assume_role(
                        self._base_session(self.config.aws_profile), self._home_region(), spec.role_arn,
                        spec.session_name or f"auditor-{self.run_started[:10]}", spec.external_id,
                        spec.session_duration)
                else:
                    acct.session = self.factory.base(spec.profile or self.config.aws_profile)
            elif acct.source == "organizations":
                disc = self.config.discovery
                assert disc is not None
                acct.session = self.factory.assume_role(
                    self._base_session(self.config.caller_profile), self._home_region(), acct.role_arn or "",
                    disc.session_name or f"auditor-{self.run_started[:10]}", disc.external_id, disc.session_duration)
            else:
                acct.session = self.factory.base(self.config.aws_profile)
        except Exception as exc:  # noqa: BLE001 - said in the manifest
            err = classify(exc)
            acct.reopen_problem = (f"resumed run: could not open the account's session again: "
                                   f"{err.code}: {err.message}")
        if not acct.reopen_problem:
            sts = self.factory.client(acct.session, "sts", self._home_region())
            rec = run_call(sts, acct.id, GLOBAL_REGION, "sts", "GetCallerIdentity", {}, redactor=self.redactor)
            seen = rec.pages[0].get("Account") if rec.ok and rec.pages else None
            if not rec.ok:
                acct.reopen_problem = (f"resumed run: sts:GetCallerIdentity failed on the session opened again: "
                                       f"{rec.error.code}: {rec.error.message}")  # type: ignore[union-attr]
            elif seen != acct.identity.get("Account"):
                acct.reopen_problem = (f"resumed run: the session opened again belongs to account {seen}, not "
                                       f"{acct.identity.get('Account')}; refusing to collect the wrong account")
        with self._count_lock:
            self._reopened.append({"account": acct.id, "role_arn": acct.role_arn, "started": started,
                                   "identity_checked": not acct.reopen_problem, "problem": acct.reopen_problem})

    def _apply_shard(self) -> None:
        """The accounts of other shards are not opened: each is named, with where it is."""
        if self.shard is None:
            return
        for acct in self.accounts:
            if not self.shard.owns(acct.id):
                acct.problem = self.shard.elsewhere(acct.id)
                acct.written = []

    # -- the run ----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        cfg = self.config
        pool = ThreadPoolExecutor(max_workers=cfg.collection.max_workers, thread_name_prefix="collect")
        try:
            if cfg.discovery is not None:
                if not self._restore_discovery():
                    try:
                        self.accounts = self._discover()
                    except DiscoveryFailed as exc:
                        self.discovery_problem = str(exc)
                        self.accounts = []
                    self._checkpoint_discovery()
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
            self._apply_shard()
            self._drain(pool, [pool.submit(self._open_account, a) for a in self.accounts], "accounts")
            self._keep_planned_regions()
            kept = self.resume.tasks if self.resume is not None else {}
            jobs: dict[Future[list[CallRecord]], tuple[str, str]] = {}
            for acct in self.accounts:
                if acct.problem:
                    # Say which (account, region) work could not be done, so nothing vanishes.
                    planned = acct.regions or self._planned_regions()
                    self.tasks += [{"account": acct.id, "region": r, "calls": 0, "errors": 0,
                                    "status": "not_attempted", "reason": acct.problem} for r in planned]
                    continue
                for region in acct.regions:
                    if (acct.id, region) in kept:   # checkpointed by the interrupted run: kept
                        self.tasks.append(dict(kept[(acct.id, region)]["task"]))
                    elif acct.reopen_problem:
                        self.tasks.append({"account": acct.id, "region": region, "calls": 0, "errors": 0,
                                           "status": "not_attempted", "reason": acct.reopen_problem})
                    else:
                        if self.resume is not None:
                            self._recollected.append(f"{acct.id}/{region}")
                        jobs[pool.submit(self._region_task, acct, region)] = (acct.id, region)
            self._drain(pool, list(jobs), "regions", jobs)
            self._tell("regions", len(jobs), len(jobs), "")   # the end, also when no region could be run
            self.close_checkpoints(flush=False)
        except BaseException:
            self.stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            try:   # what finished before the stop is kept for a resume, as far as the disk allows
                self._checkpointer.close(flush=True)
            except BaseException:  # noqa: BLE001 - the first failure is the one raised
                pass
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
        # Each future says when it is done on one queue: O(1) per finished task (waiting on the
        # set of pending futures again after each finish costs O(pending) each time, which over
        # an organisation's thousands of region tasks was seconds of the main thread's CPU).
        finishes: queue.SimpleQueue[Future[Any]] = queue.SimpleQueue()
        for fut in futures:
            fut.add_done_callback(finishes.put)
        total, done = len(futures), 0
        while done < total:
            try:
                finished = [finishes.get(timeout=0.5)]
            except queue.Empty:
                finished = []
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
        problems = [{"account": a.id, "message": a.problem or a.reopen_problem}
                    for a in self.accounts if a.problem or a.reopen_problem]
        if self.discovery_problem:
            problems.append({"account": "organization", "message": self.discovery_problem})
        extra: dict[str, Any] = {}
        if self.shard is not None:
            extra["shard"] = self.shard.meta(a.id for a in self.accounts)
        traffic = self.traffic_window()
        if traffic is not None:   # said only when on: a manifest without it read no traffic
            extra["costs"] = {"traffic": True, "window_days": self.config.costs.window_days,
                              "window_start": traffic[0], "window_end": traffic[1]}
        if self.resume is not None:
            extra["resumed"] = [*self.resume.run.get("resumed", []),
                                {**self.resume.section(), "recollected_tasks": sorted(self._recollected),
                                 "reopened": sorted(self._reopened, key=lambda r: r["account"])}]
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
            **extra,
        }

    def prepare_resume(self, shard: Shard | None, resume: ResumeState | None) -> None:
        """Set the run's shard and what an interrupted run left (`collect` does this)."""
        self.shard = shard
        self.resume = resume
        self._checkpointer = Checkpointer(self.writer.checkpoints)
        self._reopened: list[dict[str, Any]] = []
        self._recollected: list[str] = []
        if resume is not None:
            self.run_started = str(resume.run.get("started") or self.run_started)


_RESUME_KEYS = {"config_digest": "the audit config differs (its SHA-256 digest)", "shard": "the --shard differs",
                "compress": "--gzip differs", "region_choice": "the regions differ",
                "redaction_key": "the redaction key differs"}


def run_inputs(config: AuditConfig, shard: Shard | None, compress: bool, regions: RegionChoice, redactor: Redactor,
               started: str) -> dict[str, Any]:
    """What a run is started with (``checkpoints/run.json``): a resume must match it."""
    return {"config_digest": config.digest, "config_source": str(config.source),
            "shard": str(shard) if shard is not None else None, "compress": compress,
            "region_choice": regions.meta(), "redaction_key": redactor.meta().get("key_id"),
            "started": started, "tool": __version__}


def resume_mismatch(before: dict[str, Any], now: dict[str, Any]) -> str:
    """Why a run started with `now` cannot carry on the one started with `before` ("" when it can)."""
    for key, what in _RESUME_KEYS.items():
        if key == "redaction_key" and (before.get(key) is None or now.get(key) is None):
            continue   # no secret value was redacted (yet): no key was needed
        if before.get(key) != now.get(key):
            return (f"{what}: the interrupted run had {before.get(key)!r}, this one {now.get(key)!r}; resume with "
                    "the same inputs, or collect again into a new folder")
    return ""


_gc_lock = threading.Lock()
_gc_users = 0
_gc_threshold: tuple[int, ...] = ()
# The young generation's threshold while collections run (Python's default is 700): a call
# allocates thousands of objects that die with it, and with many calls in flight a small
# threshold promotes what is merely in flight to the older generations, to be walked again.
GC_YOUNG_THRESHOLD = 50_000


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    # What survived a full collection is alive and, in a collection, mostly stays alive to
    # the end (botocore's clients and models, the manifest's entries): moved out of the
    # collector's sight, so that the next full collections walk only what came after it.
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


@contextlib.contextmanager
def gc_policy() -> Any:
    """While collections run in this process: after each full collection of the cyclic
    garbage collector, freeze what survived it (`gc.freeze`), so that full collections do
    not walk an ever larger heap of long-lived objects again and again (their cost per call
    grew with the run), and collect the young generation every `GC_YOUNG_THRESHOLD`
    allocations instead of every 700 (the threshold is put back at the end). Objects frozen are still freed by reference counting; a reference
    cycle among them waits for the end: the last collection to finish unfreezes everything,
    and the next full collection sees it all again."""
    global _gc_users, _gc_threshold
    with _gc_lock:
        _gc_users += 1
        if _gc_users == 1:
            gc.callbacks.append(_freeze_survivors)
            _gc_threshold = gc.get_threshold()
            gc.set_threshold(max(GC_YOUNG_THRESHOLD, _gc_threshold[0]), *_gc_threshold[1:])
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.callbacks.remove(_freeze_survivors)
                gc.set_threshold(*_gc_threshold)
                gc.unfreeze()


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
            redactor: Redactor | None = None, shard: Shard | None = None,
            resume: ResumeState | None = None, engine: RegionEngine | None = None) -> CollectResult:
    """Collect everything `config` asks for into `writer`'s snapshot.

    `regions` defaults to `resolve_regions` (the config, else the AWS environment) and
    `redactor` to the installation's redaction key (`Redactor.from_environment`). When
    either cannot be settled (no region anywhere, an unusable key) nothing is collected:
    the writer's folder is removed and the InputError / RedactionKeyError propagates.
    On KeyboardInterrupt (or any unexpected error) the evidence gathered so far is kept in
    the writer's ``.partial`` folder, marked interrupted, and the exception propagates.

    `shard`: collect only that shard's accounts (`ShardUnusable` when the config's accounts
    cannot be split). `resume`: carry on the interrupted run `open_resume` read (`writer`
    opened with ``resume=True``); `SnapshotError` when it was started with other inputs.
    `engine`: where the region tasks run (default: this process's thread pool).
    """
    try:
        regions = regions or resolve_regions(config.regions, config.source, config.caller_profile)
        redactor = redactor or Redactor.from_environment()
        if shard is not None:
            check_shardable(config, shard)
    except AuditorError:
        if resume is None:
            writer.discard()
        raise
    collector = Collector(config, factory, writer, progress, regions=regions, redactor=redactor)
    collector.engine = engine
    collector.prepare_resume(shard, resume)
    run = run_inputs(config, shard, writer.compress, regions, redactor, collector.run_started)
    if resume is None:
        writer.begin(run)
    else:
        differs = resume_mismatch(resume.run, run)
        if differs:
            raise SnapshotError(f"{resume.partial}: cannot resume: {differs}")
        resume.drop_untrusted()
        writer.adopt(resume.files, resume.calls)
        # Said at once (durably), so a resume that is itself interrupted is still on record.
        writer.begin({**run, "resumed": [*resume.run.get("resumed", []), resume.section()]})
    t0 = time.monotonic()
    try:
        with gc_policy():
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
