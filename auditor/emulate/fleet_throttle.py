"""EC2's request-rate throttling: a token bucket per (account, region, API), as AWS documents it.

Source: "Request throttling for the Amazon EC2 API", Amazon EC2 Developer Guide,
https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html (request token
limits). EC2 throttles each account per region, and with request rate limiting "each API
is evaluated individually": every request takes one token from its API's bucket, a bucket
refills at a fixed rate up to its size, and a request that finds its bucket empty fails
with ``RequestLimitExceeded``. The documented defaults used here:

* non-mutating actions (Describe*, Get*, List*, Search*): 100 tokens, refilled 20 a second;
* unfiltered and unpaginated non-mutating actions (DescribeInstances,
  DescribeNetworkInterfaces, DescribeSecurityGroups, DescribeSnapshots,
  DescribeSpotInstanceRequests, DescribeVolumes called with no filter and no MaxResults):
  50 tokens, refilled 10 a second, in a bucket of their own.

Refill is continuous (the page adds the tokens once a second; continuous refill gives the
same count over whole seconds). Only EC2 is throttled: the other services the fleet
answers (sts, organizations, rds, elb, elbv2, eks, lambda) have their own, less documented
limits, and the emulator does not throttle them. Resource-rate limits (for mutating actions
such as RunInstances) do not apply to a read-only collector and are not modelled.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

DOC_URL = "https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html"
NON_MUTATING = (100.0, 20.0)             # bucket size, refill per second
UNFILTERED_UNPAGINATED = (50.0, 10.0)
UNFILTERED_APIS = frozenset({"DescribeInstances", "DescribeNetworkInterfaces", "DescribeSecurityGroups",
                             "DescribeSnapshots", "DescribeSpotInstanceRequests", "DescribeVolumes"})


class Clock:
    """Seconds for the buckets: the monotonic clock, or (manual) only what `advance` adds, so
    throttling tests do not depend on the machine's speed."""

    def __init__(self, manual: bool = False) -> None:
        self.manual = manual
        self._now = 0.0

    def now(self) -> float:
        return self._now if self.manual else time.monotonic()

    def advance(self, seconds: float) -> float:
        if not self.manual:
            raise ValueError("the clock is not manual (start the server with --manual-clock)")
        if seconds < 0:
            raise ValueError("the clock does not go back")
        self._now += seconds
        return self._now


@dataclass
class _Bucket:
    tokens: float
    size: float
    rate: float
    at: float


class Buckets:
    """The EC2 buckets of every (account, region, API); `take` says whether a request passes."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self._lock = threading.Lock()
        self.throttled: Counter[str] = Counter()   # by bucket name: account/region/API

    @staticmethod
    def bucket_of(operation: str, *, filtered: bool, paginated: bool) -> tuple[str, tuple[float, float]]:
        """The bucket name (the API, or the API's unfiltered-unpaginated bucket) and its limits."""
        if operation in UNFILTERED_APIS and not filtered and not paginated:
            return f"{operation}(unfiltered-unpaginated)", UNFILTERED_UNPAGINATED
        return operation, NON_MUTATING

    def take(self, account: str, region: str, operation: str, *, filtered: bool = False,
             paginated: bool = False) -> bool:
        name, (size, rate) = self.bucket_of(operation, filtered=filtered, paginated=paginated)
        key = (account, region, name)
        now = self.clock.now()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(size, size, rate, now)
            bucket.tokens = min(bucket.size, bucket.tokens + (now - bucket.at) * bucket.rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True
            self.throttled["/".join(key)] += 1
            return False
