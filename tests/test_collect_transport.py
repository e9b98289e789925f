"""The direct transport (auditor/collect/transport.py) against botocore's own path.

Signatures are compared byte for byte with botocore's `SigV4Auth`; whole collections are made
twice (botocore's path, then the direct one) against moto's HTTP server and the fleet server and
must give identical records; retries, network errors, the guard and the choice of path are
exercised against real local servers.
"""

from __future__ import annotations

import logging
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSRequestPreparer
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.stub import Stubber

from auditor.collect.calls import run_call
from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.collect.transport import DirectTransportUnavailable, canonical_target, direct_of, sign_v4
from auditor.config import config_from_text
from auditor.emulate.fleet import Fleet
from auditor.emulate.fleet_server import FleetServer
from auditor.emulate.wire import Wire
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.records import CallRecord
from auditor.snapshot.writer import SnapshotWriter

from conftest import HOME_ACCOUNT, assumed_client, make_config, make_network, moto_server_url

# (method, url, extra headers, body): query and ec2 style forms, characters that need escaping,
# a query string to sort, a path with dot segments, repeated spaces in a header value.
REQUESTS = [
    ("POST", "https://ec2.eu-west-1.amazonaws.com/", {},
     {"Action": "DescribeVpcs", "Version": "2016-11-15"}),
    ("POST", "https://elasticloadbalancing.ap-southeast-2.amazonaws.com/", {"X-Extra": "  a   b  "},
     {"Action": "DescribeLoadBalancers", "Version": "2015-12-01", "Names.member.1": "ä b/c+d=e&f~*'()"}),
    ("POST", "http://127.0.0.1:5000/", {},
     {"Action": "DescribeDBInstances", "Version": "2014-10-31", "Filters.Filter.1.Name": "engine",
      "Filters.Filter.1.Values.Filter.1": "postgres\nmy sql%20"}),
    ("GET", "https://rds.us-gov-west-1.amazonaws.com/a/./b/../c?b=2&a=1&a=0", {}, b""),
    ("POST", "https://ec2.cn-north-1.amazonaws.com.cn:8443/", {}, "Action=DescribeSubnets&Version=2016-11-15"),
]
CREDENTIALS = [("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
               ("ASIAEXAMPLE", "secret/with+chars==", "FwoGZXIvYXdzEJr//////////wEaDLongToken+/=")]


def _body(data: object) -> bytes:
    prepared = AWSRequestPreparer()._prepare_body(AWSRequest(data=data))   # botocore's own form encoding
    if prepared is None:
        return b""
    return prepared.encode() if isinstance(prepared, str) else bytes(prepared)


@pytest.mark.parametrize("creds", CREDENTIALS, ids=["keys", "session-token"])
@pytest.mark.parametrize("request_", REQUESTS, ids=["ec2", "elbv2-escapes", "rds-http-port", "get-query", "cn-port"])
def test_signature_is_byte_identical_to_botocore(request_: tuple[str, str, dict[str, str], object],
                                                creds: tuple[str, str, str | None]) -> None:
    method, url, extra, data = request_
    body = _body(data)
    service, region = urlparse_service(url)
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "User-Agent": "ua/1 x",
               "amz-sdk-invocation-id": "0c5e3d1b-0000-4000-8000-000000000000",
               "amz-sdk-request": "attempt=1; max=8", **extra}
    theirs = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(Credentials(*creds), service, region).add_auth(theirs)
    amz_date = theirs.headers["X-Amz-Date"]   # botocore's clock: we sign for the same instant
    host, path, query = canonical_target(url)
    ours = sign_v4(method=method, host=host, path=path, query=query, headers=headers, body=body,
                   access_key=creds[0], secret_key=creds[1], token=creds[2], region=region, service=service,
                   amz_date=amz_date)
    expected = {name: theirs.headers[name] for name in ("X-Amz-Date", "X-Amz-Security-Token", "Authorization")
                if name in theirs.headers}
    assert ours == expected
    assert ("X-Amz-Security-Token" in ours) == (creds[2] is not None)
    # Signed again (the derived key now comes from the cache): the same bytes.
    assert sign_v4(method=method, host=host, path=path, query=query, headers=headers, body=body,
                   access_key=creds[0], secret_key=creds[1], token=creds[2], region=region, service=service,
                   amz_date=amz_date) == expected


def test_a_changed_byte_changes_the_signature() -> None:
    """The comparison above can fail: one byte of body, header or date gives another signature."""
    base = dict(method="POST", host="ec2.eu-west-1.amazonaws.com", path="/", query="",
                headers={"Content-Type": "x"}, body=b"Action=DescribeVpcs", access_key="AK", secret_key="SK",
                token=None, region="eu-west-1", service="ec2", amz_date="20261207T030000Z")
    first = sign_v4(**base)["Authorization"]   # type: ignore[arg-type]
    for change in ({"body": b"Action=DescribeVpcS"}, {"headers": {"Content-Type": "y"}},
                   {"amz_date": "20261207T030001Z"}, {"region": "eu-west-2"}, {"secret_key": "SL"}):
        assert sign_v4(**(base | change))["Authorization"] != first   # type: ignore[arg-type]


def urlparse_service(url: str) -> tuple[str, str]:
    """(signing service, region) for the URLs above."""
    host = url.split("/")[2].split(":")[0]
    if host.startswith("127."):
        return "rds", "us-east-1"
    service, region = host.split(".")[:2]
    return ("elasticloadbalancing" if service.startswith("elastic") else service), region


# -- the same records through either path -----------------------------------------------------

def _collect(config: Any, transport: str, out: Path, **kwargs: Any) -> tuple[list[CallRecord], SessionFactory]:
    factory = SessionFactory(transport=transport, **kwargs)
    collect(config, factory, SnapshotWriter(out))
    return load_snapshot(out).records, factory


# Values moto draws from its clock at each answer (not from the estate): left out of the comparison.
MOTO_CLOCK = frozenset({"LatestRestorableTime"})


def _contents(records: list[CallRecord], drawn: frozenset[str] = frozenset()) -> list[str]:
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in drawn}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value
    return sorted(json.dumps(clean(r.content()), sort_keys=True) for r in records)


def _direct_calls(factory: SessionFactory) -> dict[str, int]:
    """Calls made through the direct path, per shared client; every ec2/query client has one."""
    out: dict[str, int] = {}
    for (service, region), client in factory._shared.items():
        direct = direct_of(client)
        protocol = client.meta.service_model.protocol
        if protocol in ("ec2", "query"):
            assert direct is not None and direct.reason is None, (service, region)
            out[f"{service}/{region}"] = direct.calls
        else:
            assert direct is None, (service, region)   # rest-json: botocore's path in every mode
    return out


def test_moto_server_gives_the_same_records_through_both_paths(aws_env: None, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    """Every regional catalogue call against moto's real HTTP server, with botocore's path and
    with the direct one: identical records, moto's unsupported operations and errors included."""
    with moto_server_url() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        net = make_network(HOME_ACCOUNT, "us-east-1")
        elbv2 = assumed_client("elbv2", HOME_ACCOUNT, "us-east-1")
        elbv2.create_load_balancer(Name="web", Subnets=net.subnet_ids, SecurityGroups=[net.sg_id],
                                   Scheme="internet-facing", Type="application")
        rds = assumed_client("rds", HOME_ACCOUNT, "us-east-1")
        rds.create_db_instance(DBInstanceIdentifier="db1", DBInstanceClass="db.t3.micro", Engine="postgres",
                               MasterUsername="admin", MasterUserPassword="x" * 12, AllocatedStorage=20)
        config = make_config(((HOME_ACCOUNT, None),), ("us-east-1", "eu-west-1"))
        theirs, _ = _collect(config, "botocore", tmp_path / "botocore")
        ours, factory = _collect(config, "direct", tmp_path / "direct")
    assert _contents(ours, MOTO_CLOCK) == _contents(theirs, MOTO_CLOCK)
    regional = [r for r in ours if r.service in ("ec2", "elbv2", "elb", "rds")]
    assert len(regional) > 60 and any(r.error is not None for r in regional)   # moto's gaps: errors compared too
    assert any(r.service == "elbv2" and r.items("LoadBalancers") for r in ours)
    assert any(r.service == "rds" and r.items("DBInstances") for r in ours)
    made = _direct_calls(factory)
    assert made and all(n > 0 for n in made.values()) and sum(made.values()) >= len(regional)


def _fleet_client(url: str, region: str, account: str) -> Any:
    """A plain botocore ec2 client in `account` (the fleet's AssumeRole keys), retries off."""
    session = botocore.session.Session()
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    sts = session.create_client("sts", region_name=region, config=cfg, endpoint_url=url)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/audit", RoleSessionName="drain")["Credentials"]
    return session.create_client("ec2", region_name=region, config=cfg, endpoint_url=url,
                                 aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"])


def test_fleet_server_gives_the_same_records_through_both_paths(aws_env: None, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    """The fleet server (Organizations discovery, three accounts, two regions), with one
    account-region's DescribeVpcs bucket emptied first (manual clock: it does not refill), so
    both collections meet the same RequestLimitExceeded: identical records."""
    server = FleetServer(Fleet(3, 2, seed=5), latency_ms=0, manual_clock=True, wire=Wire())
    url = server.start_in_thread()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        account, region = server.fleet.accounts[1], server.fleet.regions[0]
        ec2 = _fleet_client(url, region, account)
        for _ in range(100):
            ec2.describe_vpcs()
        config = config_from_text("version: 1\nregions: all\norganization_discovery:\n  role_name: AuditorReadOnly\n")
        theirs, _ = _collect(config, "botocore", tmp_path / "botocore", max_attempts=2)
        ours, factory = _collect(config, "direct", tmp_path / "direct", max_attempts=2)
    finally:
        server.stop()
    assert _contents(ours) == _contents(theirs)
    limited = [r for r in ours if r.error is not None and r.error.code == "RequestLimitExceeded"]
    assert [(r.account, r.region, r.operation) for r in limited] == [(account, region, "DescribeVpcs")]
    assert limited[0].error is not None and limited[0].error.http_status == 503
    assert sum(1 for r in ours if r.ok and r.service == "ec2") > 100
    assert all(n > 0 for n in _direct_calls(factory).values())


# -- retries, network errors, the guard, no account: a scripted server ------------------------

VPCS = (b'<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r1</requestId>'
        b"<vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock><isDefault>false</isDefault></item>"
        b"</vpcSet></DescribeVpcsResponse>")


def ec2_error(code: str) -> bytes:
    return (f"<Response><Errors><Error><Code>{code}</Code><Message>{code} here</Message></Error></Errors>"
            "<RequestID>r2</RequestID></Response>").encode()


class Script(ThreadingHTTPServer):
    """An HTTP/1.1 keep-alive server answering from a script of (status, body); the last entry
    repeats. It keeps every request it received (headers, body)."""

    daemon_threads = True

    def __init__(self, replies: list[tuple[int, bytes]], hang_up: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _Scripted)
        self.replies = list(replies)
        self.hang_up = hang_up   # close each connection after its reply without saying so
        self.closed = threading.Semaphore(0)   # released once per connection the server has closed
        self.received: list[tuple[str, dict[str, str], bytes]] = []   # (path, headers, body)
        self.lock = threading.Lock()

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed.release()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Scripted(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Script

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.received.append((self.path, dict(self.headers), body))
            replies = self.server.replies
            status, payload = replies.pop(0) if len(replies) > 1 else replies[0]
        self.send_response(status)
        self.send_header("Content-Type", "text/xml;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        if self.server.hang_up:
            self.close_connection = True

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def scripted(replies: list[tuple[int, bytes]], hang_up: bool = False) -> Iterator[Script]:
    server = Script(replies, hang_up)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class Limit:
    """A limit run_call holds per request; it counts what it is told (a Gate's interface)."""

    def __init__(self) -> None:
        self.requests = 0
        self.throttles = 0

    def __enter__(self) -> Limit:
        self.requests += 1
        return self

    def __exit__(self, *_: Any) -> None:
        return None

    def throttled(self) -> None:
        self.throttles += 1


def one_call(monkeypatch: pytest.MonkeyPatch, url: str, transport: str, *, max_attempts: int = 3,
             operation: str = "DescribeVpcs", params: dict[str, Any] | None = None,
             bound: bool = True) -> tuple[CallRecord, Limit]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    factory = SessionFactory(max_attempts=max_attempts, transport=transport)
    client = factory.shared_client("ec2", "us-east-1")
    if transport == "direct":   # the direct path makes this call (it is not handed to botocore)
        direct = direct_of(client)
        assert direct is not None and direct.method(operation) is not None
    limit = Limit()
    if bound:
        with factory.bound(factory.base()):
            rec = run_call(client, HOME_ACCOUNT, "us-east-1", "ec2", operation, params or {}, limit)
    else:
        rec = run_call(client, HOME_ACCOUNT, "us-east-1", "ec2", operation, params or {}, limit)
    return rec, limit


def both(monkeypatch: pytest.MonkeyPatch, replies: list[tuple[int, bytes]],
         **kwargs: Any) -> list[tuple[CallRecord, Limit, int]]:
    """The call through botocore's path, then through the direct one, each against a fresh script:
    (record, limit, requests the server received)."""
    out = []
    for transport in ("botocore", "direct"):
        with scripted(replies) as server:
            rec, limit = one_call(monkeypatch, server.url, transport, **kwargs)
            out.append((rec, limit, len(server.received)))
    assert out[0][0].content() == out[1][0].content()
    assert (out[0][0].retries, out[0][1].throttles, out[0][2]) == (out[1][0].retries, out[1][1].throttles, out[1][2])
    return out


def test_throttled_then_answered_keeps_the_page_and_counts_retries(aws_env: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for rec, limit, received in both(monkeypatch, [(503, ec2_error("RequestLimitExceeded"))] * 2 + [(200, VPCS)]):
        assert rec.ok and rec.pages == ({"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16",
                                                   "IsDefault": False}]},)
        assert rec.retries == 2 and received == 3
        assert limit.throttles == 1   # the gate heard AWS throttled this page


def test_an_error_on_every_attempt_is_recorded_after_the_last(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for rec, limit, received in both(monkeypatch, [(500, ec2_error("InternalError"))], max_attempts=3):
        assert rec.error is not None and (rec.error.kind, rec.error.code, rec.error.http_status) == \
            ("aws", "InternalError", 500)
        assert received == 3 and rec.retries == 2 and limit.throttles == 0


def test_a_refused_connection_is_an_endpoint_connection_error(aws_env: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:   # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    records = [one_call(monkeypatch, f"http://127.0.0.1:{port}", transport, max_attempts=2)[0]
               for transport in ("botocore", "direct")]
    assert records[0].content() == records[1].content()
    err = records[1].error
    assert err is not None and (err.kind, err.code) == ("network", "EndpointConnectionError")
    assert f"127.0.0.1:{port}" in err.message


def test_the_guard_refuses_before_anything_is_sent(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for rec, _, received in both(monkeypatch, [(200, VPCS)], operation="TerminateInstances",
                                 params={"InstanceIds": ["i-1"]}):
        assert rec.error is not None and rec.error.code == "ReadOnlyViolation"
        assert received == 0


def test_no_account_bound_is_refused_before_anything_is_sent(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for rec, _, received in both(monkeypatch, [(200, VPCS)], bound=False):
        assert rec.error is not None and rec.error.code == "NoAccountBound"
        assert received == 0


def test_the_request_on_the_wire_is_botocores(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint URL with a path: both paths post to it, with the same headers (names), the same
    signed headers, the same body; and with a session token too."""
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token/with+chars=")
    seen = []
    for transport in ("botocore", "direct"):
        with scripted([(200, VPCS)]) as server:
            rec, _ = one_call(monkeypatch, f"{server.url}/aws/", transport, operation="DescribeVpcs",
                              params={"Filters": [{"Name": "tag:Name", "Values": ["a b&c=d/ä"]}]})
            assert rec.ok
            [(path, headers, body)] = server.received
            lower = {k.lower(): v for k, v in headers.items()}
            signed = lower["authorization"].split("SignedHeaders=")[1].split(",")[0]
            seen.append((path, sorted(lower), signed, lower["x-amz-security-token"], body))
    assert seen[0] == seen[1]
    assert seen[1][0] == "/aws/" and "x-amz-security-token" in seen[1][2] and "amz-sdk-request" in seen[1][1]


def test_a_connection_the_server_closed_while_idle_is_not_reused(aws_env: None,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The server hangs up after each reply (keep-alive advertised): the next call notices and
    connects again; nothing is retried or lost."""
    with scripted([(200, VPCS)], hang_up=True) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        factory = SessionFactory(max_attempts=1, transport="direct")
        client = factory.shared_client("ec2", "us-east-1")
        with factory.bound(factory.base()):
            first = run_call(client, HOME_ACCOUNT, "us-east-1", "ec2", "DescribeVpcs", {})
            assert server.closed.acquire(timeout=60)   # the server has hung up the pooled connection
            second = run_call(client, HOME_ACCOUNT, "us-east-1", "ec2", "DescribeVpcs", {})
        assert first.ok and second.ok and first.pages == second.pages
        assert len(server.received) == 2 and first.retries == second.retries == 0
        direct = direct_of(client)
        assert direct is not None and direct.calls == 2


# -- when the direct path is not used ----------------------------------------------------------

def test_auto_leaves_moto_in_process_to_botocore(aws_env: None) -> None:
    import moto

    with moto.mock_aws():
        factory = SessionFactory()
        client = factory.shared_client("ec2", "us-east-1")
        direct = direct_of(client)
        assert direct is not None and direct.reason is not None and "mock_aws" in direct.reason
        with factory.bound(factory.base()):
            rec = run_call(client, HOME_ACCOUNT, "us-east-1", "ec2", "DescribeVpcs", {})
        assert rec.ok and rec.items("Vpcs") and direct.calls == 0   # moto answered, through botocore
        with pytest.raises(DirectTransportUnavailable, match="mock_aws"):
            SessionFactory(transport="direct").shared_client("ec2", "us-east-1")


def test_a_mock_started_after_the_client_is_seen_per_call(aws_env: None) -> None:
    import moto

    auto = direct_of(SessionFactory().shared_client("ec2", "eu-west-1"))
    forced = direct_of(SessionFactory(transport="direct").shared_client("ec2", "eu-west-1"))
    assert auto is not None and forced is not None and auto.method("DescribeVpcs") is not None
    with moto.mock_aws():
        assert auto.method("DescribeVpcs") is None
        with pytest.raises(DirectTransportUnavailable, match="mock_aws"):
            forced.method("DescribeVpcs")


def test_auto_leaves_a_stubbed_client_to_botocore(aws_env: None) -> None:
    factory = SessionFactory()
    client = factory.shared_client("ec2", "us-east-1")
    with Stubber(client) as stub:
        stub.add_response("describe_vpcs", {"Vpcs": [{"VpcId": "vpc-stub"}]})
        rec = run_call(client, HOME_ACCOUNT, "us-east-1", "ec2", "DescribeVpcs", {})
        direct = direct_of(client)
        assert direct is not None and direct.reason is not None and "botocore.stub" in direct.reason
    assert rec.ok and rec.items("Vpcs") == [{"VpcId": "vpc-stub"}]

    forced = SessionFactory(transport="direct").shared_client("ec2", "us-east-1")
    with Stubber(forced) as stub:
        stub.add_response("describe_vpcs", {"Vpcs": []})
        rec = run_call(forced, HOME_ACCOUNT, "us-east-1", "ec2", "DescribeVpcs", {})
    assert rec.error is not None and rec.error.code == "DirectTransportUnavailable"
    assert "botocore.stub" in rec.error.message


def _noop(**_: Any) -> None:
    return None


def test_auto_leaves_a_hooked_session_to_botocore(aws_env: None) -> None:
    hooks = [lambda session: session.register("before-send.ec2", _noop)]
    direct = direct_of(SessionFactory(hooks=hooks).shared_client("ec2", "us-east-1"))
    assert direct is not None and direct.reason is not None and "before-send" in direct.reason
    assert "_noop" in direct.reason and direct.method("DescribeVpcs") is None
    with pytest.raises(DirectTransportUnavailable, match="_noop"):
        SessionFactory(hooks=hooks, transport="direct").shared_client("ec2", "us-east-1")
    # A hook on an event the direct path does not skip leaves it direct.
    other = [lambda session: session.register("creating-client-class", _noop)]
    kept = direct_of(SessionFactory(hooks=other).shared_client("ec2", "us-east-1"))
    assert kept is not None and kept.reason is None


def test_auto_leaves_a_proxied_endpoint_to_botocore(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    direct = direct_of(SessionFactory().shared_client("ec2", "us-east-1"))
    assert direct is not None and direct.reason is not None and "proxy" in direct.reason
    with pytest.raises(DirectTransportUnavailable, match="proxy"):
        SessionFactory(transport="direct").shared_client("ec2", "us-east-1")
    monkeypatch.setenv("NO_PROXY", "ec2.us-east-1.amazonaws.com")   # read as botocore reads it
    bypassed = direct_of(SessionFactory().shared_client("ec2", "us-east-1"))
    assert bypassed is not None and bypassed.reason is None


def test_botocore_transport_never_attaches_and_a_bad_name_is_refused(aws_env: None) -> None:
    assert direct_of(SessionFactory(transport="botocore").shared_client("ec2", "us-east-1")) is None
    assert direct_of(SessionFactory(transport="direct").shared_client("lambda", "us-east-1")) is None   # rest-json
    with pytest.raises(ValueError, match="transport 'fast'"):
        SessionFactory(transport="fast")


# -- TLS: verification as botocore's session does it ------------------------------------------

def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), signed by itself."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + dt.timedelta(days=365 * 30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_is_verified_with_the_bundle_botocore_would_use(aws_env: None, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    import ssl

    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    records: dict[tuple[str, str], CallRecord] = {}
    with scripted([(200, VPCS)]) as server:
        server.socket = context.wrap_socket(server.socket, server_side=True)
        url = f"https://127.0.0.1:{server.server_address[1]}"
        for transport in ("botocore", "direct"):
            monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)   # botocore's default bundle: not trusted
            records["default", transport] = one_call(monkeypatch, url, transport, max_attempts=1)[0]
            monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
            records["bundle", transport] = one_call(monkeypatch, url, transport, max_attempts=1)[0]
        received = len(server.received)
    for transport in ("botocore", "direct"):
        assert records["bundle", transport].ok and records["bundle", transport].items("Vpcs")
        err = records["default", transport].error
        assert err is not None and (err.kind, err.code) == ("network", "SSLError"), err
    assert records["default", "botocore"].content() == records["default", "direct"].content()   # same message
    assert records["bundle", "botocore"].content() == records["bundle", "direct"].content()
    assert received == 2   # the unverified handshakes sent nothing


def test_the_choice_is_logged_as_a_stable_event(aws_env: None, caplog: pytest.LogCaptureFixture) -> None:
    """Which path a shared client takes, and why botocore's when it is, is the ``client.transport``
    event (debug): a pipeline's JSON log can say how a run's requests were made."""
    caplog.set_level(logging.DEBUG, logger="auditor")
    SessionFactory().shared_client("ec2", "us-east-1")
    hooks = [lambda session: session.register("before-send.ec2", _noop)]
    SessionFactory(hooks=hooks).shared_client("ec2", "eu-west-1")
    SessionFactory().shared_client("eks", "us-east-1")
    seen = {(r.fields["service"], r.fields["region"]): r.fields for r in caplog.records
            if getattr(r, "event", None) == "client.transport"}
    assert seen[("ec2", "us-east-1")]["transport"] == "direct" and seen[("ec2", "us-east-1")]["reason"] is None
    assert seen[("ec2", "eu-west-1")]["transport"] == "botocore" and "_noop" in seen[("ec2", "eu-west-1")]["reason"]
    assert seen[("eks", "us-east-1")] == {"service": "eks", "region": "us-east-1", "transport": "botocore",
                                          "reason": "protocol rest-json"}
