"""The fleet server for real (auditor/emulate/fleet_server.py): the project's collector against
it over HTTP, EC2's token buckets on a manual clock, and bad requests.

The server runs on its own event loop in a thread of the test process, on a free port, at
0 ms latency; the throttling tests move its bucket clock by hand (/_fleet/clock), so they do
not depend on how fast this machine is.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import create_parser

from auditor.collect.catalog import regional_calls
from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.config import Scope, config_from_text
from auditor.emulate.fleet import Fleet
from auditor.emulate.fleet_server import FleetServer
from auditor.emulate.wire import Wire
from auditor.model import build_model
from auditor.rules.engine import evaluate_rules
from auditor.rules.packs import load_packs
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.writer import SnapshotWriter


@pytest.fixture(scope="module")
def wire() -> Wire:
    return Wire()   # botocore's models, loaded once for the module's servers


@pytest.fixture
def server(aws_env: None, monkeypatch: pytest.MonkeyPatch, wire: Wire) -> Iterator[FleetServer]:
    srv = FleetServer(Fleet(3, 2, seed=5), latency_ms=0, manual_clock=True, wire=wire)
    url = srv.start_in_thread()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        yield srv
    finally:
        srv.stop()


def control(srv: FleetServer, path: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    conn.request("GET", path)
    resp = conn.getresponse()
    data: dict[str, Any] = json.loads(resp.read())
    conn.close()
    return data


def ec2_client(srv: FleetServer, region: str, account: str | None = None) -> Any:
    """A plain botocore client with retries off; in `account` through the fleet's AssumeRole."""
    session = botocore.session.Session()
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    if account is not None:
        sts = session.create_client("sts", region_name=region, config=cfg)
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/audit", RoleSessionName="test")["Credentials"]
        return session.create_client("ec2", region_name=region, config=cfg, aws_access_key_id=creds["AccessKeyId"],
                                     aws_secret_access_key=creds["SecretAccessKey"],
                                     aws_session_token=creds["SessionToken"])
    return session.create_client("ec2", region_name=region, config=cfg)


def throttled(client: Any, operation: str = "describe_vpcs", **params: Any) -> bool:
    try:
        getattr(client, operation)(**params)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "RequestLimitExceeded"
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        return True
    return False


def test_the_collector_collects_the_fleet_completely(server: FleetServer, tmp_path: Path) -> None:
    """Organizations discovery, a role per account, regions: all; every catalogue call in every
    account-region, no error; the model holds what the fleet generated; no ERROR finding."""
    fleet = server.fleet
    cfg = config_from_text("version: 1\nregions: all\norganization_discovery:\n  role_name: AuditorReadOnly\n")
    result = collect(cfg, SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "snap"))
    manifest = result.manifest
    assert manifest["errors"] == [] and result.complete
    assert {a["id"] for a in manifest["accounts"]} == set(fleet.accounts)
    for account in fleet.accounts:
        for region in fleet.regions:
            _, per_item = fleet.region(account, region)
            # Every call of the catalogue; a per-item call when there are items to call it for.
            expected = {(s.service, s.operation) for s in regional_calls()
                        if s.for_each is None or any(k[:2] == (s.service, s.operation) for k in per_item)}
            made = {(c["service"], c["operation"]) for c in manifest["calls"]
                    if (c["account"], c["region"]) == (account, region)}
            assert made == expected, (account, region)
    records = load_snapshot(tmp_path / "snap").records
    # Each per-item call once per item, with that item's parameters.
    for account in fleet.accounts:
        for region in fleet.regions:
            _, per_item = fleet.region(account, region)
            got = sorted((r.service, r.operation, tuple(sorted((k, v) for k, v in r.params.items()
                                                              if isinstance(v, str))))
                         for r in records if (r.account, r.region) == (account, region) and r.params)
            assert got == sorted(per_item), (account, region)

    model = build_model(records)
    counts = model.counts()
    for account in fleet.accounts:
        for region in fleet.regions:
            reg, _ = fleet.region(account, region)
            for (service, op, key), type_name in ((("ec2", "DescribeVpcs", "Vpcs"), "vpc"),
                                                  (("ec2", "DescribeSubnets", "Subnets"), "subnet"),
                                                  (("ec2", "DescribeNetworkInterfaces", "NetworkInterfaces"),
                                                   "network_interface"),
                                                  (("ec2", "DescribeSecurityGroupRules", "SecurityGroupRules"),
                                                   "security_group_rule")):
                assert counts.get((account, region, type_name), 0) == len(reg.lists.get((service, op, key), []))
    assert sum(n for (_, _, t), n in counts.items() if t == "vpc_peering") >= 2   # accounts 0 and 1 peer

    ev = evaluate_rules(model, load_packs([]), Scope(), today=date(2026, 1, 1))
    assert ev.findings and not [f for f in ev.findings if f.status == "ERROR"]
    stats = control(server, "/_fleet/stats")
    assert stats["throttled"] == 0 and stats["by_service"]["ec2"] > 0
    assert set(stats["errors"]) == set()


def test_ec2_throttles_per_account_region_and_api_and_refills(server: FleetServer) -> None:
    fleet = server.fleet
    home, other_region = fleet.regions
    ec2 = ec2_client(server, home)
    assert [throttled(ec2) for _ in range(100)] == [False] * 100
    assert throttled(ec2)                                        # the 101st DescribeVpcs
    assert not throttled(ec2, "describe_subnets")                # another API: its own bucket
    assert not throttled(ec2_client(server, other_region))        # another region
    assert not throttled(ec2_client(server, home, fleet.accounts[2]))   # another account
    control(server, "/_fleet/clock?advance=1")
    assert [throttled(ec2) for _ in range(20)] == [False] * 20   # 20 tokens a second
    assert throttled(ec2)
    stats = control(server, "/_fleet/stats")
    assert stats["throttled_by_bucket"] == {f"{fleet.management}/{home}/DescribeVpcs": 2}
    assert stats["errors"] == {"RequestLimitExceeded": 2}


def test_unfiltered_unpaginated_describe_instances_has_the_smaller_bucket(server: FleetServer) -> None:
    ec2 = ec2_client(server, server.fleet.regions[0])
    assert [throttled(ec2, "describe_instances") for _ in range(50)] == [False] * 50
    assert throttled(ec2, "describe_instances")
    # Paginated (MaxResults) or filtered requests count against DescribeInstances' own bucket.
    assert not throttled(ec2, "describe_instances", MaxResults=5)
    assert not throttled(ec2, "describe_instances", Filters=[{"Name": "vpc-id", "Values": ["vpc-1"]}])
    control(server, "/_fleet/clock?advance=1")
    assert [throttled(ec2, "describe_instances") for _ in range(10)] == [False] * 10
    assert throttled(ec2, "describe_instances")


def raw(srv: FleetServer, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    out = resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    conn.close()
    return out


def error_code(protocol: str, reply: tuple[int, dict[str, str], bytes]) -> str:
    status, headers, body = reply
    parsed = create_parser(protocol).parse({"status_code": status, "headers": headers, "body": body}, None)
    return str(parsed["Error"]["Code"])


AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/{region}/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0")


def test_bad_requests_get_aws_errors_never_a_crash(server: FleetServer) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    ec2_auth = {**form, "Authorization": AUTH.format(region="us-east-1", service="ec2")}
    unknown = raw(server, "POST", "/", b"Action=LaunchRockets&Version=2016-11-15", ec2_auth)
    assert unknown[0] == 400 and error_code("ec2", unknown) == "InvalidAction"
    mutating = raw(server, "POST", "/", b"Action=RunInstances&Version=2016-11-15", ec2_auth)
    assert mutating[0] == 400 and error_code("ec2", mutating) == "InvalidAction"
    no_auth = raw(server, "POST", "/", b"Action=DescribeVpcs&Version=2016-11-15", form)
    assert no_auth[0] == 403 and error_code("query", no_auth) == "MissingAuthenticationToken"
    far = raw(server, "POST", "/", b"Action=DescribeVpcs&Version=2016-11-15",
              {**form, "Authorization": AUTH.format(region="mars-north-1", service="ec2")})
    assert far[0] == 401 and error_code("ec2", far) == "AuthFailure"
    org = raw(server, "POST", "/", b"{not json", {"Authorization": AUTH.format(region="us-east-1",
                                                                               service="organizations"),
                                                  "X-Amz-Target": "AWSOrganizationsV20161128.ListAccounts"})
    assert org[0] == 400 and error_code("json", org) == "SerializationException"
    eks = raw(server, "GET", "/clusters/none-such", headers={"Authorization": AUTH.format(region="us-east-1",
                                                                                         service="eks")})
    assert eks[0] == 404 and error_code("rest-json", eks) == "ResourceNotFoundException"
    nowhere = raw(server, "DELETE", "/nowhere", headers={"Authorization": AUTH.format(region="us-east-1",
                                                                                     service="lambda")})
    assert nowhere[0] == 400 and error_code("rest-json", nowhere) == "UnknownOperationException"
    unknown_service = raw(server, "POST", "/", b"Action=ListQueues",
                          {**form, "Authorization": AUTH.format(region="us-east-1", service="sqs")})
    assert unknown_service[0] == 400 and error_code("query", unknown_service) == "UnknownService"
    # A request line that is not HTTP: the connection gets a 400 and the server lives on.
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    assert control(server, "/_fleet/ping")["ok"] is True
    assert raw(server, "GET", "/_fleet/clock?advance=-1")[0] == 400
    assert raw(server, "GET", "/_fleet/nothing")[0] == 404
    assert control(server, "/_fleet/latency?ms=0")["latency_ms"] == 0


def test_the_clock_is_real_unless_asked_to_be_manual(aws_env: None, wire: Wire) -> None:
    srv = FleetServer(Fleet(1, 1), latency_ms=0, wire=wire)
    srv.start_in_thread()
    try:
        status, _, body = raw(srv, "GET", "/_fleet/clock?advance=1")
        assert status == 400 and b"not manual" in body
    finally:
        srv.stop()
