"""One (account, region) task: every regional call of the catalogue, in one account and region.

`collect_region` is the unit of work of every engine: the local thread pool
(`auditor.collect.runner`) and the distributed one run it the same way. It makes the calls
the catalogue lists for the region (per-resource calls once per item of the call they depend
on), hands each record to `ctx.add` as soon as it is made (so an interrupted run keeps what
the task gathered), and returns them all. A call it does not make is recorded as not
attempted, with why: nothing is dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.collect.calls import REGION_REFUSED, not_attempted, run_call
from auditor.collect.catalog import CallSpec, regional_calls
from auditor.collect.redact import Redactor
from auditor.collect.sessions import SessionFactory
from auditor.snapshot.records import CallRecord


@dataclass
class RegionContext:
    """What a region task needs besides its account and region."""

    factory: SessionFactory
    redactor: Redactor
    limits: Mapping[str, threading.Semaphore]   # per service: calls in flight
    add: Callable[[CallRecord], None] = lambda record: None   # each record as it is made
    stop: threading.Event = field(default_factory=threading.Event)


def collect_region(ctx: RegionContext, account: str, session: Any, region: str) -> list[CallRecord]:
    """Every regional call in (`account`, `region`) with `session`'s credentials; see the module doc."""
    records: dict[str, CallRecord] = {}
    out: list[CallRecord] = []
    refused = ""
    for spec in regional_calls():
        client = ctx.factory.client(session, spec.service, region)
        for params, blocked in plan_calls(spec, records):
            if ctx.stop.is_set():
                blocked = blocked or "the run was interrupted before this call"
            if refused and not blocked:
                blocked = refused
            if blocked:
                rec = not_attempted(account, region, spec.service, spec.operation, blocked, params)
            else:
                rec = run_call(client, account, region, spec.service, spec.operation, params,
                               ctx.limits[spec.service], redactor=ctx.redactor)
                if rec.error is not None and rec.error.code in REGION_REFUSED:
                    refused = (f"not attempted: region {region} refused {spec.service}:{spec.operation} "
                               f"with {rec.error.code}")
            # Handed over at once, so an interrupted run keeps what this task gathered so far.
            ctx.add(rec)
            out.append(rec)
            if not params:
                records[spec.key] = rec
    # Each (session, service, region) client serves this task only: free it now.
    ctx.factory.release(session, region)
    return out


def plan_calls(spec: CallSpec, done: Mapping[str, CallRecord]) -> Iterable[tuple[dict[str, Any], str]]:
    """(params, reason-not-to-call) pairs for a spec in this task."""
    if spec.for_each is None:
        yield dict(spec.params), ""
        return
    source = done.get(f"{spec.service}:{spec.for_each.source}")
    if source is None or not source.ok:
        if source is None or source.error is None:
            what = "which was not made"
        elif source.error.kind == "not_attempted":
            what = "which was not attempted either"
        else:
            what = f"which failed ({source.error.code})"
        yield {}, f"not attempted: it runs per item of {spec.service}:{spec.for_each.source}, {what}"
        return
    for item in source.items(spec.for_each.items_key):
        for params in spec.for_each.make_params(item):
            yield dict(spec.params) | dict(params), ""
