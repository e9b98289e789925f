"""NAT gateway and VPC endpoint traffic, read from CloudWatch at collection (optional).

`region_traffic` says what one account-region's NAT gateways and interface endpoints carried
over the run's window, and how that is known (MEASURED, NOT_COLLECTED, FAILED); the bytes come
from the model's measurements (auditor/model/metrics.py: the call, its queries and window).
`traffic_settings` says whether a run read traffic at all, and over how many days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.model.build import traffic_run
from auditor.model.metrics import (ENDPOINT_TYPE, ENDPOINTS, NAT_GATEWAY, NAT_METRICS, NATS, TRAFFIC, VPC_ENDPOINT,
                                   parse_time)
from auditor.model.types import Measurement, Model

# How a region's traffic is known.
MEASURED = "measured"            # GetMetricData answered for this account-region
NOT_COLLECTED = "not_collected"  # costs.traffic was off, or the source (a plan) has no metrics
FAILED = "failed"                # GetMetricData failed (AccessDenied ...) or could not be planned


@dataclass(frozen=True)
class RegionTraffic:
    """The traffic of one (account, region) over the collection's window.

    `nat_bytes` / `endpoint_bytes`: resource id -> bytes processed in the window, or None when
    CloudWatch returned no datapoint for it (unknown, never zero). With a status other than
    MEASURED both mappings are empty and `reason` says why."""

    account: str
    region: str
    status: str
    reason: str = ""
    window_start: str = ""     # ISO 8601 UTC, as the call asked
    window_end: str = ""
    window_hours: int = 0
    nat_bytes: Mapping[str, int | None] = field(default_factory=dict)
    endpoint_bytes: Mapping[str, int | None] = field(default_factory=dict)


def traffic_settings(source: Model | Mapping[str, Any]) -> tuple[bool, int | None]:
    """(collected, window_days) of a run: whether it read traffic from CloudWatch
    (``costs.traffic``) and over how many days. `source` is the run's model or its snapshot
    manifest (whose ``costs`` section the collector writes when traffic is on)."""
    run = source.traffic if isinstance(source, Model) else traffic_run(source.get("costs"))
    return (True, run.window_days) if run is not None else (False, None)


_METRICS = {NAT_GATEWAY: len(NAT_METRICS), VPC_ENDPOINT: 1}   # the queries of one resource


def _bytes(measurements: Iterable[Measurement], kind: str) -> dict[str, int | None]:
    """Resource id -> its bytes: the sum of its queries' values, None unless every query of it
    has one (part of a NAT gateway's traffic is not all of it)."""
    values: dict[str, list[int | None]] = {}
    for m in measurements:
        if m.resource_type == kind:
            values.setdefault(m.resource_id, []).append(m.value)
    return {rid: (sum(v for v in got if v is not None)
                  if len(got) >= _METRICS[kind] and all(v is not None for v in got) else None)
            for rid, got in sorted(values.items())}


def _hours(start: str, end: str) -> int:
    try:
        return int((parse_time(end) - parse_time(start)).total_seconds() // 3600)
    except ValueError:
        return 0


def region_traffic(model: Model, account: str, region: str) -> RegionTraffic:
    """The traffic of (`account`, `region`) in `model`, with how it is known:

    - NOT_COLLECTED: the run did not read traffic (costs.traffic off), or the model is of a
      plan or template, which has no metrics;
    - FAILED: GetMetricData failed there (AccessDenied ...: the reason carries AWS's code and
      message) or was not attempted (a listing it is planned from failed, the region refused
      the run ...), or the region's NAT gateways and endpoints were never listed;
    - MEASURED: bytes per NAT gateway and interface endpoint (None where CloudWatch had no
      datapoint); empty maps when the region has neither (there was nothing to ask)."""
    run = model.traffic
    call = (account, region, TRAFFIC.service, TRAFFIC.operation)
    if run is None:
        planned = any(r.declared_at is not None for rs in model.resources.values() for r in rs
                      if r.account == account and r.region == region)
        reason = ("the model is read from a plan or template, which has no traffic metrics" if planned else
                  "traffic was not collected: costs.traffic is off for this run")
        return RegionTraffic(account, region, NOT_COLLECTED, reason)

    def said(status: str, reason: str = "", nats: Mapping[str, int | None] | None = None,
             endpoints: Mapping[str, int | None] | None = None) -> RegionTraffic:
        return RegionTraffic(account, region, status, reason, window_start=run.start, window_end=run.end,
                             window_hours=_hours(run.start, run.end), nat_bytes=nats or {},
                             endpoint_bytes=endpoints or {})

    failed = dict(model.coverage.failed).get(call)
    if failed is not None:
        code, _, message = failed.partition(": ")
        reason = f"{TRAFFIC.key} {message}" if code == "NotAttempted" else f"{TRAFFIC.key} failed: {failed}"
        return said(FAILED, reason)
    here = [m for m in model.measurements if m.account == account and m.region == region]
    if model.coverage.collected(*call):
        return said(MEASURED, "", _bytes(here, NAT_GATEWAY), _bytes(here, VPC_ENDPOINT))
    # No GetMetricData record: nothing to measure, if both listings answered and listed nothing to ask about.
    listed = [model.coverage.collected(account, region, s, o) for s, o, _ in (NATS, ENDPOINTS)]
    if not all(listed):
        missing = ", ".join(f"{s}:{o}" for (s, o, _), ok in zip((NATS, ENDPOINTS), listed, strict=True) if not ok)
        return said(FAILED, f"{TRAFFIC.key} was not made: {missing} did not answer in this account-region")
    measurable = [r for r in model.of(NAT_GATEWAY) if r.account == account and r.region == region]
    measurable += [r for r in model.of(VPC_ENDPOINT) if r.account == account and r.region == region
                   and getattr(r, "endpoint_type", "") == ENDPOINT_TYPE]
    if measurable:
        return said(FAILED, f"{TRAFFIC.key} was not recorded for the {len(measurable)} NAT gateway(s) and "
                    "interface endpoint(s) listed here")
    return said(MEASURED)
