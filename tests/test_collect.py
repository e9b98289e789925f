"""End-to-end collection against moto: in process, and over HTTP against a real moto server.

Two accounts (the second reached with sts:AssumeRole through `role_arn`) and two regions.
The checks are shared by both modes (`check_collection`)."""

from __future__ import annotations

import json
import os
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any
from collections.abc import Iterable

import pytest

from auditor.collect.catalog import regional_calls
from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.records import GLOBAL_REGION
from auditor.snapshot.writer import SnapshotWriter

from conftest import (AUDIT_ROLE, moto_server_url, DUMMY_SECRET, HOME_ACCOUNT, REGIONS, SECOND_ACCOUNT, TWO_ACCOUNTS,
                      UNSUPPORTED_BY_MOTO, Network, assumed_client, make_config, make_network)

BPA = UNSUPPORTED_BY_MOTO


class CredentialSpy:
    """A SessionFactory hook that keeps every credential sts:AssumeRole hands the collector,
    so the test can prove none of it reached the snapshot."""

    def __init__(self) -> None:
        self.secrets: list[str] = []

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        creds = parsed.get("Credentials") or {}
        self.secrets += [creds[k] for k in ("SecretAccessKey", "SessionToken") if creds.get(k)]

    def __call__(self, session: Any) -> None:
        session.register("after-call.sts.AssumeRole", self._after)


def build_estate() -> dict[tuple[str, str], Network]:
    nets = {(HOME_ACCOUNT, "us-east-1"): make_network(HOME_ACCOUNT, "us-east-1", "10.1.0.0/16"),
            (SECOND_ACCOUNT, "eu-west-1"): make_network(SECOND_ACCOUNT, "eu-west-1", "10.2.0.0/16")}
    # Per-resource calls need something to run for: a transit gateway (one route table) and
    # an EKS cluster, in the second account's eu-west-1 only.
    ec2 = assumed_client("ec2", SECOND_ACCOUNT, "eu-west-1")
    ec2.create_transit_gateway(Description="hub")
    eks = assumed_client("eks", SECOND_ACCOUNT, "eu-west-1")
    eks.create_cluster(name="payments", roleArn=f"arn:aws:iam::{SECOND_ACCOUNT}:role/eks",
                       resourcesVpcConfig={"subnetIds": nets[(SECOND_ACCOUNT, "eu-west-1")].subnet_ids})
    return nets


def _run(snapshot_dir: Path, hooks: Iterable[Any] = ()) -> Any:
    factory = SessionFactory(max_attempts=3, hooks=list(hooks))
    return collect(make_config(TWO_ACCOUNTS, REGIONS), factory, SnapshotWriter(snapshot_dir, keep=True))


def _expected_calls(records: list[Any]) -> Counter[tuple[str, str]]:
    """What one task must contain: every catalog call once, and every per-resource call
    once per parameter set its source's items give."""
    by_op = {(r.service, r.operation): r for r in records if not r.params}
    want: Counter[tuple[str, str]] = Counter()
    for spec in regional_calls():
        if spec.for_each is None:
            want[(spec.service, spec.operation)] += 1
            continue
        source = by_op[(spec.service, spec.for_each.source)]
        assert source.ok, f"{spec.key}: its source failed: {source.error}"
        for item in source.items(spec.for_each.items_key):
            want[(spec.service, spec.operation)] += len(list(spec.for_each.make_params(item)))
    return want


def check_collection(result: Any, nets: dict[tuple[str, str], Network], spy: CredentialSpy,
                     snapshot_dir: Path, unsupported_code: str) -> None:
    manifest = result.manifest
    records = list(result.records)
    assert result.path == snapshot_dir and (snapshot_dir / "manifest.json").is_file()
    assert manifest["status"] == "complete"

    # Every (account, region) task ran, and ran every catalog call.
    pairs = {(a, r) for a, _ in TWO_ACCOUNTS for r in REGIONS}
    assert {(t["account"], t["region"]) for t in manifest["tasks"]} == pairs
    calls_by_task: dict[tuple[str, str], Counter[tuple[str, str]]] = {p: Counter() for p in pairs}
    for c in manifest["calls"]:
        if c["region"] != GLOBAL_REGION:
            calls_by_task[(c["account"], c["region"])][(c["service"], c["operation"])] += 1
    for pair in pairs:
        task_records = [r for r in records if (r.account, r.region) == pair]
        want = _expected_calls(task_records)
        assert calls_by_task[pair] == want, pair
        # Per-resource calls, concretely: DescribeVpcAttribute twice per VPC (the default VPC,
        # plus the one we made where we made one).
        vpcs = {v["VpcId"] for r in task_records if r.operation == "DescribeVpcs" for v in r.items("Vpcs")}
        assert len(vpcs) == (2 if pair in nets else 1)
        attr_params = {(r.params["VpcId"], r.params["Attribute"]) for r in task_records
                       if r.operation == "DescribeVpcAttribute"}
        assert attr_params == {(v, a) for v in vpcs for a in ("enableDnsSupport", "enableDnsHostnames")}
        task = next(t for t in manifest["tasks"] if (t["account"], t["region"]) == pair)
        assert task["calls"] == sum(want.values()) and task["errors"] == len(BPA)
        assert task["status"] == "incomplete"

    # The transit gateway's route table and the EKS cluster got their per-resource calls,
    # only where they exist.
    tgw_tables = {(r.account, r.region): r.items("TransitGatewayRouteTables") for r in records
                  if r.operation == "DescribeTransitGatewayRouteTables"}
    assert len(tgw_tables[(SECOND_ACCOUNT, "eu-west-1")]) == 1
    rt_id = tgw_tables[(SECOND_ACCOUNT, "eu-west-1")][0]["TransitGatewayRouteTableId"]
    for op in ("SearchTransitGatewayRoutes", "GetTransitGatewayRouteTableAssociations",
               "GetTransitGatewayRouteTablePropagations"):
        found = [r for r in records if r.operation == op]
        assert [(r.account, r.region, r.params["TransitGatewayRouteTableId"]) for r in found] == [
            (SECOND_ACCOUNT, "eu-west-1", rt_id)]
    described = [(r.account, r.region, r.params, r.items("cluster")[0]["name"]) for r in records
                 if r.operation == "DescribeCluster"]
    assert described == [(SECOND_ACCOUNT, "eu-west-1", {"name": "payments"}, "payments")]

    # The created VPC and subnets are in their own (account, region) and nowhere else.
    for (acct, region), net in nets.items():
        for op, key, id_key, ids in (("DescribeVpcs", "Vpcs", "VpcId", {net.vpc_id}),
                                     ("DescribeSubnets", "Subnets", "SubnetId", set(net.subnet_ids)),
                                     ("DescribeRouteTables", "RouteTables", "RouteTableId", {net.route_table_id}),
                                     ("DescribeInternetGateways", "InternetGateways", "InternetGatewayId",
                                      {net.igw_id})):
            for rec in (r for r in records if r.operation == op):
                got = {item[id_key] for item in rec.items(key)}
                if (rec.account, rec.region) == (acct, region):
                    assert ids <= got, (op, acct, region)
                else:
                    assert not ids & got, (op, rec.account, rec.region)
    subnets = next(r for r in records if r.operation == "DescribeSubnets"
                   and (r.account, r.region) == (SECOND_ACCOUNT, "eu-west-1")).items("Subnets")
    mine = {s["SubnetId"]: s for s in subnets if s["VpcId"] == nets[(SECOND_ACCOUNT, "eu-west-1")].vpc_id}
    assert sorted(s["CidrBlock"] for s in mine.values()) == ["10.2.1.0/24", "10.2.2.0/24"]
    assert all(s["OwnerId"] == SECOND_ACCOUNT for s in mine.values())

    # One identity per account, from that account's own credentials.
    accounts = {a["id"]: a for a in manifest["accounts"]}
    assert set(accounts) == {HOME_ACCOUNT, SECOND_ACCOUNT}
    assert accounts[HOME_ACCOUNT]["identity"]["Account"] == HOME_ACCOUNT
    assert accounts[SECOND_ACCOUNT]["identity"]["Account"] == SECOND_ACCOUNT
    assert ":assumed-role/auditor/" in accounts[SECOND_ACCOUNT]["identity"]["Arn"]
    assert accounts[SECOND_ACCOUNT]["role_arn"] == AUDIT_ROLE
    assert all(a["regions"] == list(REGIONS) and a["problem"] == "" for a in accounts.values())
    global_calls = sorted((c["account"], c["operation"], c["status"]) for c in manifest["calls"]
                          if c["region"] == GLOBAL_REGION)
    assert global_calls == [(SECOND_ACCOUNT, "AssumeRole", "ok"), (SECOND_ACCOUNT, "GetCallerIdentity", "ok"),
                            (HOME_ACCOUNT, "GetCallerIdentity", "ok")]
    ident = next(r for r in records if r.operation == "GetCallerIdentity" and r.account == SECOND_ACCOUNT)
    assert ident.pages[0]["Account"] == SECOND_ACCOUNT

    # The unsupported BPA calls are recorded as such, and are the only errors.
    errors = manifest["errors"]
    assert sorted((e["account"], e["region"], e["operation"]) for e in errors) == sorted(
        (a, r, op) for a, r in pairs for op in BPA)
    assert {(e["kind"], e["code"]) for e in errors} == {("unsupported", unsupported_code)}
    assert all(e["service"] == "ec2" and e["message"] for e in errors)
    assert manifest["complete"] is False and result.complete is False
    assert manifest["account_problems"] == []

    # No credential and no ResponseMetadata anywhere in the snapshot's bytes.
    assert len(spy.secrets) >= 2, "the spy saw no AssumeRole credentials; the check below would be vacuous"
    blobs = {p: p.read_bytes() for p in snapshot_dir.rglob("*") if p.is_file()}
    assert len(blobs) == len(manifest["files"]) + 1
    for path, data in blobs.items():
        for secret in {DUMMY_SECRET, os.environ["AWS_SECRET_ACCESS_KEY"], *spy.secrets}:
            assert secret.encode() not in data, f"a credential was written to {path}"
        assert b"ResponseMetadata" not in data, path
        assert b"RetryAttempts" not in data and b"HTTPHeaders" not in data, path
    assert all("ResponseMetadata" not in page for r in records for page in r.pages)

    # What was written is what the collector saw, and it loads back verified.
    snap = load_snapshot(snapshot_dir)
    key = lambda r: r.record_id  # noqa: E731
    assert sorted(snap.records, key=key) == sorted(records, key=key)
    assert len(snap.records) == len(manifest["calls"])


def test_collect_in_process_two_accounts_two_regions(moto_aws: None, snapshot_dir: Path) -> None:
    nets = build_estate()
    spy = CredentialSpy()
    result = _run(snapshot_dir, [spy])
    check_collection(result, nets, spy, snapshot_dir, unsupported_code="NotImplemented")


def test_collect_caller_account_records_its_identity_under_its_id(moto_aws: None, snapshot_dir: Path) -> None:
    """Without `accounts`, the caller's own account is audited; its identity record is filed
    under the account id the identity call returned (not under a placeholder)."""
    net = make_network(HOME_ACCOUNT, "eu-west-1")
    result = collect(make_config((), ["eu-west-1"]), SessionFactory(max_attempts=3),
                     SnapshotWriter(snapshot_dir, keep=True))
    manifest = result.manifest
    assert [(a["id"], a["source"], a["identity"]["Account"]) for a in manifest["accounts"]] == [
        (HOME_ACCOUNT, "caller", HOME_ACCOUNT)]
    ident = [c for c in manifest["calls"] if c["operation"] == "GetCallerIdentity"]
    assert [(c["account"], c["region"], c["record"]) for c in ident] == [
        (HOME_ACCOUNT, GLOBAL_REGION, f"records/{HOME_ACCOUNT}/{GLOBAL_REGION}/sts/GetCallerIdentity.json")]
    assert {c["account"] for c in manifest["calls"]} == {HOME_ACCOUNT}
    vpcs = next(r for r in result.records if r.operation == "DescribeVpcs")
    assert net.vpc_id in {v["VpcId"] for v in vpcs.items("Vpcs")}


def test_collect_refuses_credentials_of_another_account(moto_aws: None, snapshot_dir: Path) -> None:
    """An account listed without a role whose credentials belong elsewhere is not collected."""
    result = collect(make_config([(SECOND_ACCOUNT, None)], ["us-east-1"]), SessionFactory(max_attempts=3),
                     SnapshotWriter(snapshot_dir, keep=True))
    manifest = result.manifest
    assert manifest["complete"] is False
    [problem] = manifest["account_problems"]
    assert problem["account"] == SECOND_ACCOUNT and HOME_ACCOUNT in problem["message"]
    assert manifest["tasks"] == [{"account": SECOND_ACCOUNT, "region": "us-east-1", "calls": 0, "errors": 0,
                                  "status": "not_attempted", "reason": problem["message"]}]
    assert [c["operation"] for c in manifest["calls"]] == ["GetCallerIdentity"]


# -- the same over HTTP against a real moto server ---------------------------------------

# A guard against a hung server only, never a clock the test races: resetting moto's backends and
# dumping its whole state take seconds on a loaded machine (a 10 s limit failed there).
SERVER_HANG_GUARD_S = 300


@pytest.fixture(scope="module")
def moto_server() -> Iterable[str]:
    with moto_server_url() as url:
        yield url


@pytest.fixture
def server_env(moto_server: str, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    req = urllib.request.Request(f"{moto_server}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=SERVER_HANG_GUARD_S) as resp:
        assert resp.status == 200
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.mark.server
def test_collect_over_http_two_accounts_two_regions(server_env: str, snapshot_dir: Path) -> None:
    nets = build_estate()
    spy = CredentialSpy()
    seen_hosts: list[str] = []

    def via_server(session: Any) -> None:
        session.register("before-send", lambda request, **_: seen_hosts.append(request.url) and None)

    result = _run(snapshot_dir, [spy, via_server])
    # moto's server answers an unimplemented operation with an HTML page (HTTP 500).
    check_collection(result, nets, spy, snapshot_dir, unsupported_code="UnparseableResponse")
    assert seen_hosts and all(u.startswith(server_env) for u in seen_hosts)
    # The server really held the estate: its state dump lists our VPC in the second account.
    with urllib.request.urlopen(f"{server_env}/moto-api/data.json", timeout=SERVER_HANG_GUARD_S) as resp:
        dump = json.loads(resp.read())
    assert nets[(SECOND_ACCOUNT, "eu-west-1")].vpc_id in json.dumps(dump.get("ec2", {}))
