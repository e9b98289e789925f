"""NAT gateway and VPC endpoint traffic, read from CloudWatch at collection (optional)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
