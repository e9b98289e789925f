"""Client-side limits that follow how AWS throttles: per account, region and API.

AWS throttles a read API per account and region (EC2: per API as well), with a token bucket:
a bucket of N tokens, one taken per request, refilled at R tokens a second. A collector that
keeps within the same buckets never throttles itself, whatever the number of accounts: the
limit is per account-region, never global.

`Limits` holds, for one run (or one Dask worker):

- an **in-flight cap** per (account, region, service): calls of one account-region waiting on
  AWS at once (``collection.region_concurrency``, default ec2 10, others 4). Two
  account-regions never share a cap;
- a **token bucket** per (account, region, service, API family), mirroring the documented
  sizes (`rate_for`): every EC2 API has its own bucket (non-mutating ``Describe*``/``Get*``
  100 tokens refilled at 20 a second; the unfiltered ``DescribeInstances``,
  ``DescribeNetworkInterfaces`` and ``DescribeSecurityGroups`` 50 at 10 a second); Elastic
  Load Balancing's non-mutating bucket (each API version its own) 40 tokens, taken as refilled
  at 10 a second; the other services (EKS, RDS, Lambda), whose read limits are not published
  per API, a conservative 10 tokens at 5 a second per service. ``collection.rate_share``
  (0 < x <= 1, default 1) scales them all: the share of the account's budget this run allows
  itself, when other tools read the same accounts.

`Limits.gate` gives the context manager a request passes through (`run_call` holds it per
page): wait for a token, then for a place under the cap. A throttle that still happens
(someone else in the account spends the same budget) empties that bucket, so the next
requests of that account-region and API wait for the refill; botocore's retries handle the
throttled request itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

DEFAULT_REGION_CONCURRENCY: Mapping[str, int] = {"ec2": 10}
OTHER_SERVICES_CONCURRENCY = 4


@dataclass(frozen=True)
class Rate:
    """A token bucket's size and refill rate (tokens a second)."""

    capacity: float
    refill_per_s: float

    def scaled(self, share: float) -> Rate:
        return Rate(max(1.0, self.capacity * share), self.refill_per_s * share)


EC2_NON_MUTATING = Rate(100, 20)
EC2_UNFILTERED = Rate(50, 10)
EC2_UNFILTERED_APIS = frozenset({"DescribeInstances", "DescribeNetworkInterfaces", "DescribeSecurityGroups"})
ELB_NON_MUTATING = Rate(40, 10)
CONSERVATIVE = Rate(10, 5)


def rate_for(service: str, operation: str) -> tuple[str, Rate]:
    """(API family, documented bucket) of a read call: the family is what one bucket covers."""
    if service == "ec2":
        return operation, (EC2_UNFILTERED if operation in EC2_UNFILTERED_APIS else EC2_NON_MUTATING)
    if service in ("elb", "elbv2"):
        return "non-mutating", ELB_NON_MUTATING
    return "*", CONSERVATIVE


class TokenBucket:
    """A token bucket that makes callers wait instead of failing.

    `take` reserves the next token (the count may go below zero: the callers queued) and
    sleeps until it is due, outside the lock. `clock` and `sleep` are injectable so tests
    can drive time without waiting.
    """

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate.capacity <= 0 or rate.refill_per_s <= 0:
            raise ValueError(f"a token bucket needs a positive size and refill rate, not {rate}")
        self.rate = rate
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tokens = float(rate.capacity)
        self._at = clock()
        self.waited_s = 0.0
        self.throttled = 0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.rate.capacity, self._tokens + (now - self._at) * self.rate.refill_per_s)
        self._at = now

    def take(self) -> float:
        """Take one token, waiting until it is there. Returns the seconds waited."""
        with self._lock:
            self._refill(self._clock())
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate.refill_per_s
            self.waited_s += wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def empty(self) -> None:
        """AWS throttled a request of this bucket anyway (another client spends it too): start
        again from an empty bucket, so the next requests wait for the refill."""
        with self._lock:
            self._refill(self._clock())
            self._tokens = min(self._tokens, 0.0)
            self.throttled += 1


class Gate:
    """What one request passes: its bucket's token, then a place under its account-region cap."""

    __slots__ = ("bucket", "cap")

    def __init__(self, bucket: TokenBucket, cap: threading.Semaphore):
        self.bucket, self.cap = bucket, cap

    def __enter__(self) -> Gate:
        self.bucket.take()
        self.cap.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cap.release()

    def throttled(self) -> None:
        self.bucket.empty()


class Limits:
    """The caps and buckets of a run, made on first use per account-region (thread-safe)."""

    def __init__(self, region_concurrency: Mapping[str, int] | None = None, *, rate_share: float = 1.0,
                 default_concurrency: int = OTHER_SERVICES_CONCURRENCY,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if not 0 < rate_share <= 1:
            raise ValueError(f"rate_share must be above 0 and at most 1, not {rate_share}")
        caps = dict(DEFAULT_REGION_CONCURRENCY if region_concurrency is None else region_concurrency)
        bad = {k: v for k, v in caps.items() if not isinstance(v, int) or isinstance(v, bool) or v < 1}
        if bad or default_concurrency < 1:
            raise ValueError(f"calls in flight must be whole numbers of at least 1: {bad or default_concurrency}")
        self.region_concurrency = caps
        self.default_concurrency = default_concurrency
        self.rate_share = rate_share
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._caps: dict[tuple[str, str, str], threading.BoundedSemaphore] = {}
        self._buckets: dict[tuple[str, str, str, str], TokenBucket] = {}
        self._gates: dict[tuple[str, str, str, str], Gate] = {}
        # (account, region) -> the keys of its gates, buckets and caps (`release_region` frees
        # them without looking at any other account-region's)
        self._held: dict[tuple[str, str], list[tuple[dict[Any, Any], tuple[str, ...]]]] = {}

    @staticmethod
    def from_config(collection: Any) -> Limits:
        """From the config's `collection` settings (auditor.config.Collection)."""
        return Limits(dict(collection.region_concurrency), rate_share=collection.rate_share,
                      default_concurrency=collection.default_concurrency)

    def cap_of(self, service: str) -> int:
        return self.region_concurrency.get(service, self.default_concurrency)

    def gate(self, account: str, region: str, service: str, operation: str) -> Gate:
        """The gate of (account, region, service, operation); the same object every time."""
        key = (account, region, service, operation)
        found = self._gates.get(key)
        if found is not None:
            return found
        family, rate = rate_for(service, operation)
        with self._lock:
            found = self._gates.get(key)
            if found is None:
                held = self._held.setdefault((account, region), [])
                ckey = (account, region, service)
                cap = self._caps.get(ckey)
                if cap is None:
                    cap = self._caps[ckey] = threading.BoundedSemaphore(self.cap_of(service))
                    held.append((self._caps, ckey))
                bkey = (account, region, service, family)
                bucket = self._buckets.get(bkey)
                if bucket is None:
                    bucket = self._buckets[bkey] = TokenBucket(rate.scaled(self.rate_share), self._clock,
                                                               self._sleep)
                    held.append((self._buckets, bkey))
                found = self._gates[key] = Gate(bucket, cap)
                held.append((self._gates, key))
            return found

    def bucket(self, account: str, region: str, service: str, operation: str) -> TokenBucket:
        return self.gate(account, region, service, operation).bucket

    def release_region(self, account: str, region: str) -> None:
        """Forget an account-region's caps and buckets (its task is done; their memory is freed).
        A later task of the same account-region starts from full buckets, as after a pause."""
        with self._lock:
            for table, key in self._held.pop((account, region), ()):
                table.pop(key, None)

    def live(self) -> int:
        """How many account-regions hold caps and buckets now (freed by `release_region`)."""
        with self._lock:
            return len(self._held)

    def throttle_counts(self) -> dict[tuple[str, str, str, str], int]:
        """Throttles seen per bucket (account, region, service, family), for reports and tests."""
        with self._lock:
            return {k: b.throttled for k, b in self._buckets.items() if b.throttled}
