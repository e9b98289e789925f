"""The collector's region tasks as Dask tasks (`DaskRegions`, the collector's region engine).

The driver (the `auditor collect|scan` process) plans the run as usual: it resolves the
accounts, assumes their roles to learn their identity and regions (the preparation stays on
the driver: it is one call or three per account), then hands each (account, region) task to
`DaskRegions.run_region`, which submits `worker.region_task` to the cluster and waits for its
records. The collector then writes them into the snapshot and calls `_region_done`: the
driver alone writes, once per task. A task whose worker dies is run again by Dask on another
worker (the scheduler's ``allowed-failures``, 3 by default, bounds how often); its records
reach the driver once, from the run that finished, so nothing is lost or written twice.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from auditor.collect.sessions import SessionFactory
from auditor.distributed import cluster_failures, lost
from auditor.snapshot.records import CallRecord

if TYPE_CHECKING:
    from auditor.collect.redact import Redactor
    from auditor.collect.runner import AccountRun, Collector


class DaskRegions:
    """Runs the collector's (account, region) tasks on a Dask cluster through `client`.

    `make_factory` makes each worker's `SessionFactory` (a picklable callable; default: the
    config's retry budget); `setup` is called by the collector once it knows its config."""

    def __init__(self, client: Any, make_factory: Callable[[], SessionFactory] | None = None):
        self.client = client
        self.make_factory = make_factory
        self._lock = threading.Lock()
        self._ready = False
        self._redactor: Redactor | None = None
        self.retried = 0

    def _setup(self, collector: Collector) -> None:
        from auditor.distributed.worker import WorkerSessions

        with self._lock:
            if self._ready:
                return
            cfg = collector.config
            make = self.make_factory or partial(SessionFactory, max_attempts=cfg.collection.max_attempts)
            redactor = collector.redactor
            redactor.marker("")   # the key is settled now, so that every worker redacts with it
            key = redactor._key   # noqa: SLF001 - the workers need the key itself (see worker.py)
            source = str(redactor.meta()["key_source"])
            self.client.register_plugin(WorkerSessions(make, cfg.collection, key, source))
            self._redactor = redactor
            self._ready = True

    def account_spec(self, collector: Collector, acct: AccountRun) -> Any:
        """How a worker reaches `acct` (no credentials: a role and where to assume it from)."""
        from auditor.distributed.worker import AccountSpec

        cfg = collector.config
        home = collector.region_choice.home
        name = f"auditor-{collector.run_started[:10]}"
        if acct.source == "organizations" and cfg.discovery is not None:
            d = cfg.discovery
            return AccountSpec(acct.id, acct.role_arn, d.external_id, d.session_name or name, d.session_duration,
                               None, cfg.caller_profile, home)
        if acct.source == "config":
            spec = next((a for a in cfg.accounts if a.id == acct.id), None)
            if spec is not None and spec.role_arn:
                return AccountSpec(acct.id, spec.role_arn, spec.external_id, spec.session_name or name,
                                   spec.session_duration, None, cfg.aws_profile, home)
            return AccountSpec(acct.id, None, profile=(spec.profile if spec else None) or cfg.aws_profile,
                               home_region=home)
        return AccountSpec(acct.id, None, profile=cfg.aws_profile, home_region=home)

    def run_region(self, collector: Collector, acct: AccountRun, region: str) -> list[CallRecord]:
        """Collect (account, region) on a worker and return its records (not yet written)."""
        from auditor.distributed.worker import region_task

        self._setup(collector)
        spec = self.account_spec(collector, acct)
        future = self.client.submit(region_task, spec, region, collector.traffic_window(),
                                    key=f"region-{acct.id}-{region}-{uuid.uuid4().hex[:8]}", pure=False, retries=0)
        try:
            records, redacted = future.result()
        except cluster_failures() as exc:   # the cluster's own failure, said without a traceback; a task's error is itself
            raise lost(f"the region task {acct.id}/{region}", exc) from exc
        finally:
            future.release()
        if redacted and self._redactor is not None:
            with self._lock:
                self._redactor.count += redacted
        return list(records)
