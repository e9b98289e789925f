"""One (account, region) task: every regional call of the catalogue, in one account and region.

`collect_region` is the unit of work of every engine: the local thread pool
(`auditor.collect.runner`) and the distributed one run it the same way. It makes the calls
the catalogue lists for the region (per-resource calls once per item of the call they depend
on), hands each record to `ctx.add` as soon as it is made (so an interrupted run keeps what
the task gathered), and returns them all. A call it does not make is recorded as not
attempted, with why: nothing is dropped.

Concurrency: the catalogue's first call runs alone; when the region refuses it
(`REGION_REFUSED`: AuthFailure, OptInRequired ...) every other call is recorded as not
attempted. Otherwise the one-per-type calls, which depend on nothing, all go to the shared
call pool (`ctx.pool`) at once, and each per-resource call goes there as soon as the call
it runs per item of has been recorded. Requests pass the account-region's limits
(`ctx.limits`: a cap on calls in flight per service and a token bucket per API, see
`auditor.collect.limits`). Records reach `ctx.add` from the task's own thread, in the order
calls finish; the returned list is in catalogue order (then parameter order), whatever the
timing, so a task's records do not depend on it. Only the first call's refusal stops the
others, so which calls are made does not depend on timing either (a refusal later on is
recorded by the call that met it, like any error). After `ctx.stop` is set, calls not yet
started are recorded as not attempted.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from auditor.collect.calls import REGION_REFUSED, classify, not_attempted, now_iso, run_call
from auditor.collect.catalog import CallSpec, regional_calls
from auditor.collect.limits import Limits
from auditor.collect.redact import Redactor
from auditor.collect.sessions import SessionFactory
from auditor.config import Collection
from auditor.snapshot.records import CallRecord

DEFAULT_CALL_WORKERS = Collection().call_workers   # the config's default
INTERRUPTED = "the run was interrupted before this call"

_default_pool: ThreadPoolExecutor | None = None
_default_lock = threading.Lock()


def default_call_pool() -> ThreadPoolExecutor:
    """This process's call pool for contexts made without one (e.g. on a Dask worker)."""
    global _default_pool
    with _default_lock:
        if _default_pool is None:
            _default_pool = ThreadPoolExecutor(max_workers=DEFAULT_CALL_WORKERS, thread_name_prefix="calls")
        return _default_pool


_default_limits: Limits | None = None


def default_limits() -> Limits:
    """This process's limits for contexts made without any (the defaults of the config)."""
    global _default_limits
    with _default_lock:
        if _default_limits is None:
            _default_limits = Limits()
        return _default_limits


@dataclass
class RegionContext:
    """What a region task needs besides its account and region."""

    factory: SessionFactory
    redactor: Redactor
    limits: Limits = field(default_factory=default_limits)   # caps and buckets per account-region
    add: Callable[[CallRecord], None] = lambda record: None   # each record as it is made
    stop: threading.Event = field(default_factory=threading.Event)
    pool: ThreadPoolExecutor | None = None   # the shared call pool (None: this process's default)
    calls: tuple[CallSpec, ...] | None = None   # the calls of a task (None: the catalogue's regional calls)


@dataclass
class _Call:
    spec: CallSpec
    params: dict[str, Any]
    order: tuple[int, int]   # (catalogue position, parameter position): the returned order


def collect_region(ctx: RegionContext, account: str, session: Any, region: str) -> list[CallRecord]:
    """Every regional call in (`account`, `region`) with `session`'s credentials; see the module doc."""
    specs = ctx.calls if ctx.calls is not None else regional_calls()
    if not specs:
        return []
    position = {spec.key: i for i, spec in enumerate(specs)}
    pool = ctx.pool or default_call_pool()
    made: list[tuple[tuple[int, int], CallRecord]] = []
    sources: dict[str, CallRecord] = {}

    def keep(call: _Call, rec: CallRecord) -> None:
        # Handed over at once (from this thread), so an interrupted run keeps what this task gathered.
        ctx.add(rec)
        made.append((call.order, rec))
        if not call.params:
            sources[call.spec.key] = rec

    def make(call: _Call) -> CallRecord:
        if ctx.stop.is_set():
            return not_attempted(account, region, call.spec.service, call.spec.operation, INTERRUPTED, call.params)
        client = ctx.factory.shared_client(call.spec.service, region)
        gate = ctx.limits.gate(account, region, call.spec.service, call.spec.operation)
        with ctx.factory.bound(session):
            return run_call(client, account, region, call.spec.service, call.spec.operation, call.params, gate,
                            redactor=ctx.redactor)

    first, rest = specs[0], specs[1:]
    first_call = _Call(first, dict(first.params), (0, 0))
    keep(first_call, make(first_call))
    refused = ""
    err = sources[first.key].error
    if err is not None and err.code in REGION_REFUSED:
        refused = (f"not attempted: region {region} refused {first.service}:{first.operation} "
                   f"with {err.code}")

    running: dict[Future[CallRecord], _Call] = {}
    # Finished calls arrive here (a future's done callback), one at a time: the task waits on
    # one queue, not on every running future at each turn.
    finished: queue.SimpleQueue[Future[CallRecord]] = queue.SimpleQueue()
    # Calls planned from other calls' items (per resource, or from several listings): after them.
    waiting = [s for s in rest if s.for_each is not None or s.from_listings is not None]

    def launch(spec: CallSpec) -> None:
        for j, (params, blocked) in enumerate(plan_calls(spec, sources)):
            call = _Call(spec, params, (position[spec.key], j))
            if ctx.stop.is_set():
                blocked = blocked or INTERRUPTED
            if refused and not blocked:
                blocked = refused
            if blocked:
                keep(call, not_attempted(account, region, spec.service, spec.operation, blocked, params))
            else:
                fut = pool.submit(make, call)
                running[fut] = call
                fut.add_done_callback(finished.put)

    def ready() -> list[CallSpec]:
        # A call planned from other calls' items can be planned once they are all recorded, or
        # will never be (not calls of this task: `plan_calls` says so).
        now = [s for s in waiting if all(k in sources or k not in position for k in source_keys(s))]
        for s in now:
            waiting.remove(s)
        return now

    try:
        for spec in rest:
            if not source_keys(spec):
                launch(spec)
        for spec in ready():
            launch(spec)
        while running:
            fut = finished.get()
            call = running.pop(fut)
            if fut.cancelled():   # the pool was shut down (the run is ending)
                rec = not_attempted(account, region, call.spec.service, call.spec.operation, INTERRUPTED,
                                    call.params)
            else:
                try:
                    rec = fut.result()   # KeyboardInterrupt and the like propagate, as in the task itself
                except Exception as exc:  # noqa: BLE001 - run_call records its own; this is our bug: recorded
                    rec = CallRecord(account=account, region=region, service=call.spec.service,
                                     operation=call.spec.operation, params=call.params, error=classify(exc),
                                     started=now_iso())
            keep(call, rec)
            if waiting and not call.params:   # a call a per-resource call may run per item of
                for spec in ready():
                    launch(spec)
        for spec in list(waiting):   # sources that never ran (cannot happen with the catalogue's order)
            waiting.remove(spec)
            launch(spec)
    finally:
        # Whatever still runs (the task thread was interrupted) is abandoned, but its calls
        # see ctx.stop and end at once.
        for fut in running:
            fut.cancel()
    ctx.limits.release_region(account, region)
    return [rec for _, rec in sorted(made, key=lambda m: m[0])]


def source_keys(spec: CallSpec) -> tuple[str, ...]:
    """``service:Operation`` of the calls whose items `spec` is planned from (none: it is not)."""
    if spec.for_each is not None:
        return (f"{spec.service}:{spec.for_each.source}",)
    if spec.from_listings is not None:
        return spec.from_listings.keys
    return ()


def _unusable(key: str, source: CallRecord | None) -> str:
    """Why a source's items cannot be used ("" when they can)."""
    if source is not None and source.ok:
        return ""
    if source is None or source.error is None:
        return f"{key}, which was not made"
    if source.error.kind == "not_attempted":
        return f"{key}, which was not attempted either"
    return f"{key}, which failed ({source.error.code})"


def plan_calls(spec: CallSpec, done: Mapping[str, CallRecord]) -> Iterable[tuple[dict[str, Any], str]]:
    """(params, reason-not-to-call) pairs for a spec in this task."""
    if spec.from_listings is not None:
        lists = spec.from_listings
        why = [w for w in (_unusable(k, done.get(k)) for k in lists.keys) if w]
        if why:
            # Its base parameters are kept (e.g. the traffic window), so the record says what was meant.
            yield dict(spec.params), f"not attempted: it is planned from {'; '.join(why)}"
            return
        found = {f"{s}:{o}": tuple(done[f"{s}:{o}"].items(k)) for s, o, k in lists.sources}
        for params in lists.make_params(found, spec.params):
            yield dict(spec.params) | dict(params), ""
        return
    if spec.for_each is None:
        yield dict(spec.params), ""
        return
    key = f"{spec.service}:{spec.for_each.source}"
    source = done.get(key)
    if source is None or not source.ok:
        yield {}, f"not attempted: it runs per item of {_unusable(key, source)}"
        return
    for item in source.items(spec.for_each.items_key):
        for params in spec.for_each.make_params(item):
            yield dict(spec.params) | dict(params), ""
