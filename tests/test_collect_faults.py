"""Injected faults: every failure is recorded (who, where, what, why), nothing else is
dropped, and the snapshot says it is not complete.

Faults are injected through the SessionFactory's hooks: a botocore ``before-send`` handler
that answers chosen requests with a fake HTTP response, so botocore's own parsing, retry
and error handling run exactly as they would against AWS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditor.collect.catalog import regional_calls
from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.records import GLOBAL_REGION
from auditor.snapshot.writer import SnapshotWriter

from conftest import (AUDIT_ROLE, HOME_ACCOUNT, SECOND_ACCOUNT, TWO_ACCOUNTS, UNSUPPORTED_BY_MOTO, Injector,
                      ec2_error, in_region, make_config, make_network, sts_error)

BPA = UNSUPPORTED_BY_MOTO
PLAIN_CALLS = [(s.service, s.operation) for s in regional_calls() if s.for_each is None]


def run(snapshot_dir: Path, hooks: list[Any], accounts: Any = ((HOME_ACCOUNT, None),),
        regions: tuple[str, ...] = ("us-east-1", "eu-west-1")) -> Any:
    factory = SessionFactory(max_attempts=3, hooks=hooks)
    return collect(make_config(accounts, regions), factory, SnapshotWriter(snapshot_dir, keep=True))


def calls_of(manifest: dict[str, Any], account: str, region: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in manifest["calls"]:
        if (c["account"], c["region"]) == (account, region):
            out.setdefault((c["service"], c["operation"]), []).append(c)
    return out


def assert_all_plain_calls_present(manifest: dict[str, Any], account: str, region: str) -> None:
    """Nothing dropped: every non-per-resource catalog call has exactly one entry."""
    calls = calls_of(manifest, account, region)
    for key in PLAIN_CALLS:
        assert len(calls.get(key, [])) == 1, (account, region, key)


def only_error(manifest: dict[str, Any], operation: str, region: str) -> dict[str, Any]:
    found = [e for e in manifest["errors"] if e["operation"] == operation and e["region"] == region]
    assert len(found) == 1, found
    return found[0]


def test_access_denied_on_one_call_in_one_region(moto_aws: None, snapshot_dir: Path) -> None:
    make_network(HOME_ACCOUNT, "us-east-1")
    net_eu = make_network(HOME_ACCOUNT, "eu-west-1", "10.9.0.0/16")
    deny = Injector("before-send.ec2.DescribeSubnets",
                    lambda req, n: ec2_error(403, "UnauthorizedOperation",
                                             "You are not authorized to perform this operation."),
                    match=in_region("eu-west-1"))
    result = run(snapshot_dir, [deny])
    manifest = result.manifest

    assert [r for r, _ in deny.seen] == ["eu-west-1"]  # one request, not retried
    err = only_error(manifest, "DescribeSubnets", "eu-west-1")
    assert {k: err[k] for k in ("account", "region", "service", "operation", "kind", "code", "message",
                                "http_status")} == {
        "account": HOME_ACCOUNT, "region": "eu-west-1", "service": "ec2", "operation": "DescribeSubnets",
        "kind": "aws", "code": "UnauthorizedOperation",
        "message": "You are not authorized to perform this operation.", "http_status": 403}
    # us-east-1 DescribeSubnets is fine, and so is the rest of eu-west-1.
    us = calls_of(manifest, HOME_ACCOUNT, "us-east-1")
    assert us[("ec2", "DescribeSubnets")][0]["status"] == "ok"
    assert_all_plain_calls_present(manifest, HOME_ACCOUNT, "eu-west-1")
    assert_all_plain_calls_present(manifest, HOME_ACCOUNT, "us-east-1")
    eu_vpcs = next(r for r in result.records if r.operation == "DescribeVpcs" and r.region == "eu-west-1")
    assert net_eu.vpc_id in {v["VpcId"] for v in eu_vpcs.items("Vpcs")}
    eu_errors = {e["operation"] for e in manifest["errors"] if e["region"] == "eu-west-1"}
    assert eu_errors == BPA | {"DescribeSubnets"}
    tasks = {t["region"]: t for t in manifest["tasks"]}
    assert tasks["eu-west-1"]["errors"] == len(BPA) + 1 and tasks["us-east-1"]["errors"] == len(BPA)
    assert manifest["complete"] is False
    # The failed call's record file says the same as the manifest.
    rec = next(r for r in load_snapshot(snapshot_dir).records
               if r.operation == "DescribeSubnets" and r.region == "eu-west-1")
    assert rec.pages == () and rec.error is not None and rec.error.code == "UnauthorizedOperation"


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry decisions stay real; only its sleeping is cut short.

    Left alone, the jittered backoff (up to 1 s, then 2 s) and the adaptive client-side rate
    limiter (which slows every later call of the throttled client) add ~5-10 s per test.
    Returns the backoff delays botocore asked for, one per retry."""
    from botocore.retries import adaptive, standard

    asked: list[float] = []
    real = standard.ExponentialBackoff.delay_amount

    def delay_amount(self: Any, context: Any) -> float:
        asked.append(real(self, context))
        return 0.0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", delay_amount)
    monkeypatch.setattr(adaptive.ClientRateLimiter, "on_sending_request", lambda self, request, **kw: None)
    return asked


def test_collector_clients_use_adaptive_retries_with_total_attempts(aws_env: None) -> None:
    factory = SessionFactory(max_attempts=3)
    client = factory.client(factory.base(), "ec2", "us-east-1")
    assert client.meta.config.retries["mode"] == "adaptive"
    assert client.meta.config.retries["total_max_attempts"] == 3
    assert factory.client(factory.base(), "ec2", "us-east-1") is not client  # per session
    session = factory.base()
    assert factory.client(session, "ec2", "us-east-1") is factory.client(session, "ec2", "us-east-1")


def _throttle(times: int | None) -> Injector:
    """Answer ec2:DescribeSubnets in us-east-1 with 503 RequestLimitExceeded `times` times
    (None: always), then let it through."""
    return Injector("before-send.ec2.DescribeSubnets",
                    lambda req, n: ec2_error(503, "RequestLimitExceeded", "Rate exceeded")
                    if times is None or n < times else None,
                    match=in_region("us-east-1"))


def test_throttling_that_succeeds_after_retries(moto_aws: None, snapshot_dir: Path,
                                                fast_retries: list[float]) -> None:
    net = make_network(HOME_ACCOUNT, "us-east-1")
    throttle = _throttle(2)
    result = run(snapshot_dir, [throttle], regions=("us-east-1",))
    manifest = result.manifest

    assert len(throttle.seen) == 3  # two throttled attempts, then the one that got through
    assert len(fast_retries) == 2  # botocore backed off twice
    [entry] = calls_of(manifest, HOME_ACCOUNT, "us-east-1")[("ec2", "DescribeSubnets")]
    assert entry["status"] == "ok" and "error" not in entry
    assert entry["retries"] == 2 and entry["pages"] == 1
    rec = next(r for r in result.records if r.operation == "DescribeSubnets")
    assert rec.ok and set(net.subnet_ids) <= {s["SubnetId"] for s in rec.items("Subnets")}
    assert not [e for e in manifest["errors"] if e["operation"] == "DescribeSubnets"]
    # The retry count survives the round trip through the manifest.
    loaded = next(r for r in load_snapshot(snapshot_dir).records if r.operation == "DescribeSubnets")
    assert loaded.retries == 2


def test_throttling_that_never_succeeds(moto_aws: None, snapshot_dir: Path, fast_retries: list[float]) -> None:
    throttle = _throttle(None)
    result = run(snapshot_dir, [throttle], regions=("us-east-1",))
    manifest = result.manifest

    assert len(throttle.seen) == 3  # max_attempts=3 counts the first request too
    assert len(fast_retries) == 2
    err = only_error(manifest, "DescribeSubnets", "us-east-1")
    assert (err["account"], err["service"], err["kind"], err["code"], err["message"], err["http_status"]) == (
        HOME_ACCOUNT, "ec2", "aws", "RequestLimitExceeded", "Rate exceeded", 503)
    [entry] = calls_of(manifest, HOME_ACCOUNT, "us-east-1")[("ec2", "DescribeSubnets")]
    assert entry["retries"] == 2 and entry["status"] == "error"
    # A throttled call does not stop the others.
    assert_all_plain_calls_present(manifest, HOME_ACCOUNT, "us-east-1")
    assert {e["operation"] for e in manifest["errors"]} == BPA | {"DescribeSubnets"}
    assert manifest["complete"] is False


def test_region_that_refuses_every_call(moto_aws: None, snapshot_dir: Path) -> None:
    make_network(HOME_ACCOUNT, "us-east-1")
    refuse = Injector("before-send",
                      lambda req, n: ec2_error(401, "AuthFailure", "AWS was not able to validate the provided "
                                               "access credentials"),
                      match=in_region("eu-west-1"))
    result = run(snapshot_dir, [refuse])
    manifest = result.manifest

    # Exactly one request reached the refusing region: the task's first call.
    assert len(refuse.seen) == 1
    first = regional_calls()[0]
    eu = [c for c in manifest["calls"] if c["region"] == "eu-west-1"]
    refused = [c for c in eu if c["error"]["kind"] != "not_attempted"]
    assert [(c["service"], c["operation"], c["error"]["code"], c["error"]["http_status"]) for c in refused] == [
        (first.service, first.operation, "AuthFailure", 401)]
    # Every other call of that region is recorded as not attempted, naming the refusal.
    skipped = [c for c in eu if c["error"]["kind"] == "not_attempted"]
    assert len(skipped) == len(eu) - 1
    assert {(c["service"], c["operation"]) for c in eu} == {(s.service, s.operation) for s in regional_calls()}
    assert_all_plain_calls_present(manifest, HOME_ACCOUNT, "eu-west-1")
    for c in skipped:
        assert c["error"]["code"] == "NotAttempted" and c["status"] == "error"
        spec = next(s for s in regional_calls() if (s.service, s.operation) == (c["service"], c["operation"]))
        if spec.for_each:
            # Per-resource calls name their source, which was refused or not attempted.
            why = ("which failed (AuthFailure)" if spec.for_each.source == first.operation
                   else "which was not attempted either")
            assert c["error"]["message"] == (
                f"not attempted: it runs per item of {spec.service}:{spec.for_each.source}, {why}")
        else:
            assert c["error"]["message"] == (f"not attempted: region eu-west-1 refused "
                                             f"{first.service}:{first.operation} with AuthFailure")
    tasks = {t["region"]: t for t in manifest["tasks"]}
    assert tasks["eu-west-1"] == {"account": HOME_ACCOUNT, "region": "eu-west-1", "calls": len(eu),
                                  "errors": len(eu), "status": "incomplete"}
    # The other region is complete apart from the calls moto does not implement.
    us_errors = {e["operation"] for e in manifest["errors"] if e["region"] == "us-east-1"}
    assert us_errors == BPA
    assert_all_plain_calls_present(manifest, HOME_ACCOUNT, "us-east-1")
    assert all(c["status"] == "ok" for c in manifest["calls"]
               if c["region"] == "us-east-1" and c["operation"] not in BPA)
    assert manifest["complete"] is False


def test_account_whose_role_cannot_be_assumed(moto_aws: None, snapshot_dir: Path) -> None:
    make_network(HOME_ACCOUNT, "us-east-1")
    deny = Injector("before-send.sts.AssumeRole",
                    lambda req, n: sts_error(403, "AccessDenied", "User is not authorized to perform: "
                                             "sts:AssumeRole"))
    result = run(snapshot_dir, [deny], accounts=TWO_ACCOUNTS)
    manifest = result.manifest

    assert len(deny.seen) == 1
    [err] = [e for e in manifest["errors"] if e["service"] == "sts"]
    assert (err["account"], err["region"], err["operation"], err["code"], err["http_status"]) == (
        SECOND_ACCOUNT, GLOBAL_REGION, "AssumeRole", "AccessDenied", 403)
    assert err["params"] == {"RoleArn": AUDIT_ROLE}
    [problem] = manifest["account_problems"]
    assert problem["account"] == SECOND_ACCOUNT
    assert AUDIT_ROLE in problem["message"] and "AccessDenied" in problem["message"]
    # The account's (account, region) tasks are listed as not attempted, with the reason.
    second = [t for t in manifest["tasks"] if t["account"] == SECOND_ACCOUNT]
    assert second == [{"account": SECOND_ACCOUNT, "region": r, "calls": 0, "errors": 0,
                       "status": "not_attempted", "reason": problem["message"]}
                      for r in ("eu-west-1", "us-east-1")]
    assert [c["operation"] for c in manifest["calls"] if c["account"] == SECOND_ACCOUNT] == ["AssumeRole"]
    # The other account was collected in full.
    for region in ("us-east-1", "eu-west-1"):
        assert_all_plain_calls_present(manifest, HOME_ACCOUNT, region)
    assert manifest["complete"] is False
    assert {a["id"]: a["problem"] != "" for a in manifest["accounts"]} == {HOME_ACCOUNT: False,
                                                                         SECOND_ACCOUNT: True}


@pytest.mark.parametrize("failing_source,dependants", [
    ("DescribeVpcs", ["DescribeVpcAttribute"]),
    ("DescribeTransitGatewayRouteTables", ["SearchTransitGatewayRoutes", "GetTransitGatewayRouteTableAssociations",
                                           "GetTransitGatewayRouteTablePropagations"]),
])
def test_per_resource_call_of_a_failed_source_is_not_attempted(moto_aws: None, snapshot_dir: Path,
                                                                 failing_source: str,
                                                                 dependants: list[str]) -> None:
    deny = Injector(f"before-send.ec2.{failing_source}",
                    lambda req, n: ec2_error(403, "UnauthorizedOperation", "not authorized"))
    result = run(snapshot_dir, [deny], regions=("us-east-1",))
    manifest = result.manifest

    calls = calls_of(manifest, HOME_ACCOUNT, "us-east-1")
    assert calls[("ec2", failing_source)][0]["error"]["code"] == "UnauthorizedOperation"
    for op in dependants:
        [entry] = calls[("ec2", op)]
        assert entry["error"]["kind"] == "not_attempted" and entry["params"] == {}
        assert entry["error"]["message"] == (f"not attempted: it runs per item of ec2:{failing_source}, "
                                             "which failed (UnauthorizedOperation)")
    assert_all_plain_calls_present(manifest, HOME_ACCOUNT, "us-east-1")
    assert {e["operation"] for e in manifest["errors"]} == BPA | {failing_source, *dependants}
    assert manifest["complete"] is False
