"""What runs on a Dask worker: the region task, with the worker's own sessions.

Credentials never travel: the driver sends an `AccountSpec` (which account, which role,
how to assume it), and the worker makes the session from its own environment (an IRSA or
ECS task role, a profile, the default chain), assuming the audit role itself. The assumed
sessions are cached per worker process and account (`WorkerSessions`, a Dask worker plugin,
so a worker that replaces a dead one gets its own); botocore refreshes them before they
expire. The records go back to the driver, which writes them: nothing is written here.

The redaction key is sent with the plugin (so that a secret gets the same marker whichever
worker saw it): use TLS between the driver, the scheduler and the workers across machines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distributed import WorkerPlugin, get_worker

from auditor.collect.calls import classify, not_attempted
from auditor.collect.catalog import task_calls
from auditor.collect.limits import Limits
from auditor.collect.redact import Redactor
from auditor.collect.region import RegionContext, collect_region
from auditor.collect.sessions import SessionFactory
from auditor.config import Collection
from auditor.snapshot.records import CallRecord

PLUGIN = "auditor-sessions"


@dataclass(frozen=True)
class AccountSpec:
    """How a worker reaches one account: the role to assume (from `base_profile`'s
    credentials, else the worker's default chain), or a profile of its own."""

    id: str
    role_arn: str | None = None
    external_id: str | None = None
    session_name: str = "auditor"
    duration: int | None = None
    profile: str | None = None        # used as is when there is no role
    base_profile: str | None = None   # the credentials the role is assumed from
    home_region: str = "us-east-1"    # STS's region


class WorkerSessions(WorkerPlugin):
    """One worker's session factory, limits (the run's, per account-region) and assumed-role sessions (per account)."""

    name = PLUGIN

    def __init__(self, make_factory: Callable[[], SessionFactory], collection: Collection, key: bytes | None,
                 key_source: str):
        self.make_factory = make_factory
        self.collection = collection
        self.key = key
        self.key_source = key_source

    def setup(self, worker: Any = None) -> None:
        self.factory = self.make_factory()
        # The run's caps and token buckets, per account-region: a region task runs on one worker.
        self.limits = Limits.from_config(self.collection)
        self.sessions: dict[AccountSpec, Any] = {}
        self.bases: dict[str | None, Any] = {}
        self.lock = threading.Lock()

    def session(self, spec: AccountSpec) -> Any:
        """The account's session, made once per worker process (assumed here, never shipped)."""
        with self.lock:
            found = self.sessions.get(spec)
            if found is not None:
                return found
            if spec.role_arn:
                if spec.base_profile not in self.bases:
                    self.bases[spec.base_profile] = self.factory.base(spec.base_profile)
                found = self.factory.assume_role(self.bases[spec.base_profile], spec.home_region, spec.role_arn,
                                                 spec.session_name, spec.external_id, spec.duration)
            else:
                found = self.factory.base(spec.profile)
            self.sessions[spec] = found
            return found


def region_task(spec: AccountSpec, region: str,
                traffic: tuple[str, str] | None = None) -> tuple[list[CallRecord], int]:
    """Collect one account-region on this worker: its records and how many values were redacted.
    `traffic`: the run's traffic window (costs.traffic; None: off)."""
    plugin: WorkerSessions = get_worker().plugins[PLUGIN]  # type: ignore[assignment]
    return run_region(plugin, spec, region, traffic)


def run_region(plugin: WorkerSessions, spec: AccountSpec, region: str,
               traffic: tuple[str, str] | None = None) -> tuple[list[CallRecord], int]:
    """`region_task` with the worker's sessions given."""
    calls = task_calls(traffic)
    redactor = Redactor(plugin.key, plugin.key_source) if plugin.key is not None else Redactor()
    try:
        session = plugin.session(spec)
    except Exception as exc:  # noqa: BLE001 - recorded: every call of the region is then not attempted
        err = classify(exc)
        why = (f"not attempted: the worker could not assume {spec.role_arn or spec.profile or 'its credentials'}: "
               f"{err.code}: {err.message}")
        return [not_attempted(spec.id, region, s.service, s.operation, why, {} if s.for_each else dict(s.params))
                for s in calls], 0
    ctx = RegionContext(factory=plugin.factory, redactor=redactor, limits=plugin.limits, calls=calls)
    records = collect_region(ctx, spec.id, session, region)
    return records, redactor.count
