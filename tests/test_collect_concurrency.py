"""Concurrent collection: limits per account-region and API, calls of a region that overlap,
the region task's semantics kept (refusal, interruption, nothing dropped), clients shared by
accounts that sign with the right account, and findings that do not depend on concurrency.

No test measures time: overlap is proven by a hook that holds the first request until a
second one is in flight (a serial collector could never release it: the hook's guard then
fails the test), pacing by a token bucket driven by a fake clock.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from auditor.collect.calls import run_call
from auditor.collect.catalog import regional_calls
from auditor.collect.limits import EC2_NON_MUTATING, EC2_UNFILTERED, Limits, Rate, TokenBucket
from auditor.collect.redact import Redactor
from auditor.collect.region import INTERRUPTED, RegionContext, collect_region
from auditor.collect.runner import collect
from auditor.collect.sessions import NoAccountBound, SessionFactory
from auditor.config import config_from_text
from auditor.errors import InputError
from auditor.snapshot.writer import SnapshotWriter

from conftest import (AUDIT_ROLE, HOME_ACCOUNT, SECOND_ACCOUNT, TWO_ACCOUNTS, Injector, assumed_client, ec2_error,
                      in_region, make_config, make_network)

REGION = "us-east-1"
HANG_GUARD_S = 60   # only reached when the behaviour under test is broken
KEY = b"k" * 32


class FakeClock:
    """Time that moves only when a bucket sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


# -- limits -----------------------------------------------------------------------------

def test_each_account_region_has_its_own_cap_and_buckets() -> None:
    limits = Limits({"ec2": 2}, default_concurrency=1)
    a = limits.gate("111111111111", "us-east-1", "ec2", "DescribeVpcs")
    assert limits.gate("111111111111", "us-east-1", "ec2", "DescribeVpcs") is a
    same_region = limits.gate("111111111111", "us-east-1", "ec2", "DescribeSubnets")
    other_region = limits.gate("111111111111", "eu-west-1", "ec2", "DescribeVpcs")
    other_account = limits.gate("222222222222", "us-east-1", "ec2", "DescribeVpcs")
    # One cap per (account, region, service); one bucket per EC2 API.
    assert same_region.cap is a.cap and same_region.bucket is not a.bucket
    assert other_region.cap is not a.cap and other_account.cap is not a.cap
    assert other_region.bucket is not a.bucket and other_account.bucket is not a.bucket
    # A full cap in one account-region leaves the others free.
    assert a.cap.acquire(blocking=False) and a.cap.acquire(blocking=False)
    assert not same_region.cap.acquire(blocking=False)
    assert other_region.cap.acquire(blocking=False) and other_account.cap.acquire(blocking=False)
    # The other services: the default cap, one bucket for the service.
    eks = limits.gate("111111111111", "us-east-1", "eks", "ListClusters")
    assert eks.cap.acquire(blocking=False) and not eks.cap.acquire(blocking=False)
    assert limits.gate("111111111111", "us-east-1", "eks", "DescribeCluster").bucket is eks.bucket


def test_a_finished_region_frees_its_caps_and_buckets_and_no_other() -> None:
    limits = Limits()
    kept = limits.gate("111111111111", "eu-west-1", "ec2", "DescribeVpcs")
    for op in ("DescribeVpcs", "DescribeSubnets"):
        limits.gate("111111111111", "us-east-1", "ec2", op)
    limits.gate("111111111111", "us-east-1", "eks", "ListClusters")
    assert limits.live() == 2
    limits.release_region("111111111111", "us-east-1")
    assert limits.live() == 1
    assert all(key[:2] != ("111111111111", "us-east-1") for key in [*limits._gates, *limits._buckets, *limits._caps])
    assert limits.gate("111111111111", "eu-west-1", "ec2", "DescribeVpcs") is kept   # the other region untouched
    limits.release_region("111111111111", "us-east-1")   # twice: nothing left to free, no error
    fresh = limits.gate("111111111111", "us-east-1", "ec2", "DescribeVpcs")
    assert fresh.bucket._tokens == EC2_NON_MUTATING.capacity   # a later task starts from full buckets


def test_buckets_have_the_documented_ec2_sizes_scaled_by_the_share() -> None:
    limits = Limits(rate_share=0.5)
    assert limits.bucket("1", "r", "ec2", "DescribeVpcs").rate == Rate(EC2_NON_MUTATING.capacity / 2,
                                                                       EC2_NON_MUTATING.refill_per_s / 2)
    for api in ("DescribeInstances", "DescribeNetworkInterfaces", "DescribeSecurityGroups"):
        assert limits.bucket("1", "r", "ec2", api).rate == Rate(EC2_UNFILTERED.capacity / 2,
                                                               EC2_UNFILTERED.refill_per_s / 2)


def test_a_bucket_paces_its_callers() -> None:
    clock = FakeClock()
    bucket = TokenBucket(Rate(3, 2), clock, clock.sleep)
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]   # the bucket's size at once
    assert clock.slept == []
    assert bucket.take() == pytest.approx(0.5)               # then one token per 1/refill seconds
    assert bucket.take() == pytest.approx(0.5)
    clock.now += 10                                          # idle: refilled up to its size, no more
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.take() == pytest.approx(0.5)
    bucket.empty()                                           # AWS throttled it anyway: wait for the refill
    assert bucket.take() == pytest.approx(0.5) and bucket.throttled == 1


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="rate_share"):
        Limits(rate_share=0)
    with pytest.raises(ValueError, match="at least 1"):
        Limits({"ec2": 0})
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(Rate(0, 1))


@pytest.mark.parametrize("text,message", [
    ("collection: {rate_share: 0}", "exclusiveMinimum 0"),
    ("collection: {rate_share: 2}", "maximum 1"),
    ("collection: {region_concurrency: {ec3: 2}}", "'ec3' is not a service the collector calls"),
    ("collection: {region_concurrency: {ec2: 0}}", "minimum 1"),
    ("collection: {call_workers: many}", "whole number"),
    ("collection: {region_concurrency: {ec2: 2}, service_concurrency: {ec2: 3}}", "give region_concurrency only"),
])
def test_bad_collection_settings_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        config_from_text(f"version: 1\n{text}\n")


def test_old_service_concurrency_still_works_with_a_warning() -> None:
    cfg = config_from_text("version: 1\ncollection: {service_concurrency: {ec2: 5}}\n")
    assert cfg.collection.cap("ec2") == 5 and cfg.collection.cap("eks") == 4
    assert any("renamed region_concurrency" in w for w in cfg.warnings)
    new = config_from_text("version: 1\ncollection: {region_concurrency: {ec2: 3}, rate_share: 0.5}\n")
    limits = Limits.from_config(new.collection)
    assert limits.cap_of("ec2") == 3 and limits.rate_share == 0.5 and not new.warnings


# -- the region task --------------------------------------------------------------------

def _ctx(factory: SessionFactory, **kw: Any) -> RegionContext:
    return RegionContext(factory=factory, redactor=Redactor(KEY), **kw)


class Overlap:
    """A before-send hook: after the task's first call (which runs alone), holds each request
    until another one is in flight. A serial collector never sends that other one while the
    first is held, and the guard fails the test."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = self.most = self.sent = 0
        self.second = threading.Event()
        self.released_by_guard = False

    def _send(self, **_: Any) -> None:
        with self.lock:
            self.sent += 1
            if self.sent == 1:
                return
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            if self.in_flight >= 2:
                self.second.set()
        try:
            if not self.second.wait(HANG_GUARD_S):
                self.released_by_guard = True
        finally:
            with self.lock:
                self.in_flight -= 1

    def __call__(self, session: Any) -> None:
        session.register("before-send", self._send, unique_id="test-overlap")


def test_calls_inside_a_region_overlap(moto_aws: None) -> None:
    make_network(HOME_ACCOUNT, REGION)
    overlap = Overlap()
    factory = SessionFactory(max_attempts=1, hooks=[overlap])
    limits = Limits()
    records = collect_region(_ctx(factory, pool=ThreadPoolExecutor(8), limits=limits), HOME_ACCOUNT, factory.base(),
                             REGION)
    assert not overlap.released_by_guard and overlap.most >= 2
    assert limits.live() == 0   # the finished task freed its account-region's caps and buckets
    # Every call of the catalogue was made, in catalogue order.
    keys = [f"{r.service}:{r.operation}" for r in records]
    order = [s.key for s in regional_calls()]
    assert [k for k in order if k in keys] == list(dict.fromkeys(keys))


def test_a_region_that_refuses_the_first_call_stops_the_rest_the_same_way_every_time(moto_aws: None) -> None:
    refuse = Injector("before-send", lambda req, n: ec2_error(401, "AuthFailure", "refused"), match=in_region(REGION))
    factory = SessionFactory(max_attempts=1, hooks=[refuse])
    added: list[Any] = []
    runs = [collect_region(_ctx(factory, add=added.append, pool=ThreadPoolExecutor(8)), HOME_ACCOUNT,
                           factory.base(), REGION) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    assert len(refuse.seen) == 3   # one request per run: the first call's
    first = regional_calls()[0]
    [made] = [r for r in runs[0] if r.error is not None and r.error.kind != "not_attempted"]
    assert (made.operation, made.error.code) == (first.operation, "AuthFailure")  # type: ignore[union-attr]
    assert {(r.service, r.operation) for r in runs[0]} == {(s.service, s.operation) for s in regional_calls()}
    assert sorted(map(repr, added)) == sorted(map(repr, runs[0] + runs[1] + runs[2]))  # each record handed over


def test_a_later_refusal_stops_nothing_else(moto_aws: None) -> None:
    refuse = Injector("before-send.ec2.DescribeSubnets", lambda req, n: ec2_error(401, "AuthFailure", "refused"))
    factory = SessionFactory(max_attempts=1, hooks=[refuse])
    records = collect_region(_ctx(factory, pool=ThreadPoolExecutor(8)), HOME_ACCOUNT, factory.base(), REGION)
    failed = {r.operation: r.error.code for r in records if r.error is not None}  # type: ignore[union-attr]
    assert failed["DescribeSubnets"] == "AuthFailure"
    assert not [r for r in records if r.error is not None and r.error.kind == "not_attempted"]


def test_interruption_marks_the_rest_not_attempted_and_drops_nothing(moto_aws: None) -> None:
    stop = threading.Event()
    first = regional_calls()[0]

    def stop_after_first(req: Any, n: int) -> None:
        stop.set()   # the run is interrupted while the task's first call is on its way
        return None

    hook = Injector(f"before-send.{first.service}.{first.operation}", stop_after_first)
    factory = SessionFactory(max_attempts=1, hooks=[hook])
    added: list[Any] = []
    records = collect_region(_ctx(factory, add=added.append, stop=stop, pool=ThreadPoolExecutor(8)), HOME_ACCOUNT,
                             factory.base(), REGION)
    assert records[0].operation == first.operation and records[0].ok
    rest = records[1:]
    assert rest and all(r.error is not None and r.error.kind == "not_attempted" for r in rest)
    plain = [r for r in rest if not any(s.for_each for s in regional_calls() if s.operation == r.operation)]
    assert {r.error.message for r in plain} == {INTERRUPTED}  # type: ignore[union-attr]
    assert {(r.service, r.operation) for r in records} == {(s.service, s.operation) for s in regional_calls()}
    assert len(added) == len(records)


def test_a_throttled_reply_is_retried_counted_and_empties_its_bucket(moto_aws: None,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    throttle = Injector("before-send.ec2.DescribeSubnets",
                        lambda req, n: ec2_error(503, "RequestLimitExceeded", "Rate exceeded") if n < 1 else None)
    factory = SessionFactory(max_attempts=3, hooks=[throttle])
    clock = FakeClock()
    limits = Limits(clock=clock, sleep=clock.sleep)
    gate = limits.gate(HOME_ACCOUNT, REGION, "ec2", "DescribeSubnets")
    with factory.bound(factory.base()):
        rec = run_call(factory.shared_client("ec2", REGION), HOME_ACCOUNT, REGION, "ec2", "DescribeSubnets", {},
                       gate)
    assert rec.ok and rec.retries == 1 and len(throttle.seen) == 2
    assert limits.throttle_counts() == {(HOME_ACCOUNT, REGION, "ec2", "DescribeSubnets"): 1}
    assert gate.bucket.take() > 0 and clock.slept   # the next request waits for the refill


# -- shared clients ---------------------------------------------------------------------

ACCOUNTS = ("210000000001", "210000000002", "210000000003", "210000000004")


def test_shared_clients_sign_each_call_with_its_own_account(moto_aws: None) -> None:
    vpcs = {}
    for i, acct in enumerate(ACCOUNTS):
        vpcs[acct] = assumed_client("ec2", acct, REGION).create_vpc(CidrBlock=f"10.{i + 50}.0.0/16")["Vpc"]["VpcId"]
    factory = SessionFactory(max_attempts=1)
    base = factory.base()
    sessions = {a: factory.assume_role(base, REGION, f"arn:aws:iam::{a}:role/auditor", "tests") for a in ACCOUNTS}
    client = factory.shared_client("ec2", REGION)
    made_before = factory.clients_made

    def one(acct: str) -> tuple[str, set[str], set[str]]:
        with factory.bound(sessions[acct]):
            rec = run_call(client, acct, REGION, "ec2", "DescribeVpcs", {})
        assert rec.ok, rec.error
        return acct, {v["VpcId"] for v in rec.items("Vpcs")}, {v["OwnerId"] for v in rec.items("Vpcs")}

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, [ACCOUNTS[i % len(ACCOUNTS)] for i in range(48)]))
    for acct, ids, owners in results:
        assert vpcs[acct] in ids and owners == {acct}
        assert not ids & {v for a, v in vpcs.items() if a != acct}
    assert factory.shared_client("ec2", REGION) is client and factory.clients_made == made_before
    # Credentials are one refreshable object per account, shared by its regions.
    assert sessions[ACCOUNTS[0]].get_credentials() is sessions[ACCOUNTS[0]].get_credentials()
    assert type(sessions[ACCOUNTS[0]].get_credentials()).__name__ == "RefreshableCredentials"


def test_a_shared_client_without_an_account_fails_closed(moto_aws: None) -> None:
    factory = SessionFactory(max_attempts=1)
    client = factory.shared_client("ec2", REGION)
    with pytest.raises(NoAccountBound):
        client.describe_vpcs()
    rec = run_call(client, HOME_ACCOUNT, REGION, "ec2", "DescribeVpcs", {})
    assert rec.error is not None and rec.error.code == "NoAccountBound" and rec.pages == ()
    # Binding ends with its block, in this thread; another thread never sees it.
    seen: list[str] = []
    with factory.bound(factory.base()):
        t = threading.Thread(target=lambda: seen.append(run_call(client, "x", REGION, "ec2", "DescribeVpcs",
                                                                 {}).error.code))  # type: ignore[union-attr]
        t.start()
        t.join()
    assert seen == ["NoAccountBound"]


@pytest.mark.server
def test_shared_clients_over_http_keep_accounts_apart() -> None:
    from auditor.emulate import EmulatedAws

    with EmulatedAws(mode="server") as aws:
        for i, acct in enumerate(ACCOUNTS[:3]):
            assumed_client("ec2", acct, REGION).create_vpc(CidrBlock=f"10.{i + 60}.0.0/16")
        factory = aws.session_factory(max_attempts=2)
        base = factory.base()
        sessions = {a: factory.assume_role(base, REGION, aws.role_arn(a), "tests") for a in ACCOUNTS[:3]}
        ctx = _ctx(factory, pool=ThreadPoolExecutor(16))
        with ThreadPoolExecutor(3) as tasks:
            out = dict(zip(ACCOUNTS[:3], tasks.map(lambda a: collect_region(ctx, a, sessions[a], REGION),
                                                   ACCOUNTS[:3]), strict=True))
    for acct, records in out.items():
        owners = {v["OwnerId"] for r in records if r.operation == "DescribeVpcs" for v in r.items("Vpcs")}
        assert owners == {acct}


# -- findings do not depend on concurrency ----------------------------------------------

SERIAL = "collection: {max_workers: 1, call_workers: 1, region_concurrency: {ec2: 1}, default_concurrency: 1}\n"


def _findings(tmp: Path, name: str, extra: str) -> str:
    from auditor.api import run_scan

    result = collect(make_config(TWO_ACCOUNTS, ("us-east-1", "eu-west-1"), extra), SessionFactory(max_attempts=2),
                     SnapshotWriter(tmp / name))
    run_scan(None, snapshot=result.path, out=tmp / f"{name}-out", formats=())
    doc = json.loads((tmp / f"{name}-out" / "findings.json").read_text())
    # Run metadata (times, the manifest's hash) differs between two runs by nature; these do not.
    return json.dumps({k: doc[k] for k in ("findings", "not_assessed", "scope_gaps", "summary", "rules")},
                      sort_keys=True)


def test_serial_and_concurrent_collections_give_byte_identical_findings(moto_aws: None, tmp_path: Path) -> None:
    make_network(HOME_ACCOUNT, "us-east-1")
    make_network(SECOND_ACCOUNT, "eu-west-1", "10.2.0.0/16")
    assumed_client("ec2", SECOND_ACCOUNT, "eu-west-1").create_transit_gateway(Description="hub")
    serial = _findings(tmp_path, "serial", SERIAL)
    concurrent = _findings(tmp_path, "concurrent", "")
    assert serial == concurrent
    assert '"findings"' in serial and json.loads(serial)["findings"]   # something was assessed
    assert AUDIT_ROLE  # the second account is reached through its role


# -- record files -----------------------------------------------------------------------

def test_record_files_of_either_form_read_the_same(tmp_path: Path) -> None:
    """Record files are written compact now (json's C encoder); files of earlier releases
    (indented canonical JSON) read the same, and record ids are unchanged."""
    import hashlib

    from auditor.snapshot.reader import load_snapshot
    from auditor.snapshot.records import CallRecord, canonical_json, record_json

    rec = CallRecord(account="123456789012", region=REGION, service="ec2", operation="DescribeVpcAttribute",
                     params={"VpcId": "vpc-0a1b2c3d", "Attribute": "enableDnsSupport"},
                     pages=({"VpcId": "vpc-0a1b2c3d", "EnableDnsSupport": {"Value": True}, "Name": "café"},))
    assert rec.record_id == ("123456789012/us-east-1/ec2/DescribeVpcAttribute~vpc-0a1b2c3d~"
                             + hashlib.sha256(canonical_json(rec.params)).hexdigest()[:10])
    writer = SnapshotWriter(tmp_path / "s", keep=True)
    writer.add(rec)
    writer.finish({})
    rel = f"records/{rec.record_id}.json"
    data = (tmp_path / "s" / rel).read_bytes()
    assert data == record_json(rec.content()) and json.loads(data) == rec.content()
    assert writer.manifest["files"][rel] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert load_snapshot(tmp_path / "s").records == (rec,)
    # The same snapshot with the record file as earlier releases wrote it.
    old = canonical_json(rec.content())
    assert old != data
    (tmp_path / "s" / rel).write_bytes(old)
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_bytes())
    manifest["files"][rel] = "sha256:" + hashlib.sha256(old).hexdigest()
    (tmp_path / "s" / "manifest.json").write_bytes(canonical_json(manifest))
    assert load_snapshot(tmp_path / "s").records == (rec,)


def test_retry_quota_is_per_account_on_a_shared_client(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore keeps one retry quota per client; on a client shared by accounts it is kept per
    account, so an account throttled without end does not use up another's retries."""
    from botocore.retries import standard

    from conftest import request_access_key

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    busy_key: list[str] = []
    calm_seen: list[int] = []

    def respond(request: Any, n: int) -> Any:
        if request_access_key(request) in busy_key:
            return ec2_error(503, "RequestLimitExceeded", "Rate exceeded")   # always throttled
        calm_seen.append(n)
        return ec2_error(503, "RequestLimitExceeded", "Rate exceeded") if len(calm_seen) == 1 else None

    factory = SessionFactory(max_attempts=20, hooks=[Injector("before-send.ec2.DescribeVpcs", respond)])
    base = factory.base()
    busy, calm = (factory.assume_role(base, REGION, f"arn:aws:iam::{a}:role/auditor", "tests") for a in ACCOUNTS[:2])
    busy_key.append(busy.get_credentials().get_frozen_credentials().access_key)
    client = factory.shared_client("ec2", REGION)
    with factory.bound(busy):
        busy_records = [run_call(client, ACCOUNTS[0], REGION, "ec2", "DescribeVpcs", {}) for _ in range(8)]
    # The busy account used up its own quota: its last calls were not retried to the end.
    assert all(r.error is not None and r.error.code == "RequestLimitExceeded" for r in busy_records)
    assert busy_records[-1].retries < 19
    with factory.bound(calm):
        rec = run_call(client, ACCOUNTS[1], REGION, "ec2", "DescribeVpcs", {})
    assert rec.ok and rec.retries == 1



def test_the_gc_policy_freezes_survivors_during_a_collection_and_unfreezes_after() -> None:
    import gc

    from auditor.collect.runner import _freeze_survivors, gc_policy

    assert gc.get_freeze_count() == 0
    with gc_policy():
        with gc_policy():   # two collections in one process: the policy lasts until the last ends
            gc.collect()
            assert gc.get_freeze_count() > 0   # what survived a full collection is frozen
        assert _freeze_survivors in gc.callbacks
    assert _freeze_survivors not in gc.callbacks and gc.get_freeze_count() == 0


def test_accounts_are_opened_a_bounded_number_at_a_time(moto_aws: None, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    """However many region tasks run at once, at most ACCOUNTS_AT_ONCE accounts are opened
    (role assumed, identity checked) at a time. Proven without timing: with a bound of 2 and
    3 accounts on 8 threads, an account being opened is held until the bound is full and the
    third account waits at it (or a third is inside: the bound is broken, the test fails), or
    until an account is done (the last one)."""
    import auditor.collect.runner as runner

    monkeypatch.setattr(runner, "ACCOUNTS_AT_ONCE", 2)
    cond = threading.Condition()
    state = {"inside": 0, "most": 0, "waiting": 0, "done": 0, "guard": 0}

    class Counted:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __enter__(self) -> None:
            with cond:
                state["waiting"] += 1
                cond.notify_all()
            self.real.acquire()
            with cond:
                state["waiting"] -= 1

        def __exit__(self, *exc: Any) -> None:
            self.real.release()

    plain_prepare, plain_resume = runner.Collector._prepare_account, runner.Collector.prepare_resume

    def prepare_resume(self: Any, shard: Any, resume: Any) -> None:
        plain_resume(self, shard, resume)
        self._opening = Counted(self._opening)

    def released() -> bool:
        return state["inside"] > 2 or (state["inside"] == 2 and state["waiting"] > 0) or state["done"] > 0

    def prepare(self: Any, acct: Any) -> None:
        with cond:
            state["inside"] += 1
            state["most"] = max(state["most"], state["inside"])
            cond.notify_all()
            if not cond.wait_for(released, HANG_GUARD_S):
                state["guard"] += 1
        try:
            plain_prepare(self, acct)
        finally:
            with cond:
                state["inside"] -= 1
                state["done"] += 1
                cond.notify_all()

    monkeypatch.setattr(runner.Collector, "prepare_resume", prepare_resume)
    monkeypatch.setattr(runner.Collector, "_prepare_account", prepare)
    accounts = [(n * 12, f"arn:aws:iam::{n * 12}:role/auditor") for n in "123"]
    result = collect(make_config(accounts, ("us-east-1",), "collection: {max_workers: 8}\n"),
                     SessionFactory(max_attempts=1), SnapshotWriter(tmp_path / "snap"))
    assert state["most"] == 2 and state["guard"] == 0
    assert sorted(a["id"] for a in result.manifest["accounts"]) == [a for a, _ in accounts]
