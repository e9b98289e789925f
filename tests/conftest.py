"""Shared fixtures for the collector tests: isolated dummy credentials, moto, small estates,
and fault injection through the SessionFactory's botocore event hooks."""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from hypothesis import HealthCheck, settings

from auditor.api import DemoResult
from auditor.config import AuditConfig, config_from_text
from auditor.emulate import SeedResult
from auditor.snapshot.records import CallRecord

# No property test races the clock: Hypothesis's default 200 ms deadline per example and its
# too-slow health check fail a correct test on a loaded machine.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")

# A test worker holds a large heap for its whole life (moto's and botocore's models, the session's
# demo and estates, a module's snapshot), and its tests allocate millions of short-lived objects:
# with the default thresholds (700, 10, 10) the cyclic collector ran thousands of times and
# rescanned the whole heap tens of times per module, about a tenth of a worker's CPU. Collections
# ten times rarer cost that tenth back for some tens of MB more memory. Nothing a test checks
# depends on when garbage is collected (tests that need a collection make it themselves).
gc.set_threshold(10_000, 10, 10)

# The base credentials every test runs with. The secret is distinctive so that a test can
# grep a snapshot's bytes for it.
DUMMY_ACCESS_KEY = "AKIAAUDITORTEST00001"
DUMMY_SECRET = "auditor-test-secret-d41d8cd98f00b204e980"

HOME_ACCOUNT = "123456789012"   # moto's account for the base credentials
SECOND_ACCOUNT = "111111111111"  # reached with sts:AssumeRole
AUDIT_ROLE = f"arn:aws:iam::{SECOND_ACCOUNT}:role/auditor"
REGIONS = ("us-east-1", "eu-west-1")
# Catalog calls moto 5.2 does not implement (in process: NotImplementedError; server: HTTP
# 500 HTML). Every end-to-end run records them as errors of kind "unsupported".
UNSUPPORTED_BY_MOTO = frozenset({"DescribeVpcBlockPublicAccessOptions", "DescribeVpcBlockPublicAccessExclusions"})

_AWS_VARS = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_REGION",
    "AWS_CA_BUNDLE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "MOTO_ACCOUNT_ID",
)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Dummy credentials only: no profile, no config files, no metadata service."""
    for var in _AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    for var in [v for v in list(__import__("os").environ) if v.startswith("AWS_ENDPOINT_URL_")]:
        monkeypatch.delenv(var, raising=False)
    empty = tmp_path_factory.mktemp("no-aws-config")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def moto_aws(aws_env: None) -> Iterable[None]:
    """In-process moto for the duration of one test (fresh state each time)."""
    import moto

    with moto.mock_aws():
        yield


# -- estates ---------------------------------------------------------------------------

@dataclass
class Network:
    """What `make_network` created in one (account, region)."""

    account: str
    region: str
    vpc_id: str
    subnet_ids: list[str]
    route_table_id: str
    igw_id: str
    sg_id: str


def assumed_client(service: str, account: str, region: str) -> Any:
    """A plain boto3 client acting in `account` (via sts:AssumeRole; moto maps the
    returned credentials to that account). Used to build estates, not by the collector."""
    sts = boto3.client("sts", region_name="us-east-1")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/estate-builder",
                            RoleSessionName="estate-builder")["Credentials"]
    return boto3.client(service, region_name=region, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


def make_network(account: str, region: str, cidr: str = "10.20.0.0/16") -> Network:
    """A small network: a VPC with two subnets, a route table with a default route to an
    internet gateway, and a security group."""
    ec2 = assumed_client("ec2", account, region)
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    base = cidr.split("/")[0].rsplit(".", 2)[0]  # "10.20"
    subnet_ids = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"{base}.{i}.0/24")["Subnet"]["SubnetId"]
                  for i in (1, 2)]
    igw_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    rt_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    ec2.associate_route_table(RouteTableId=rt_id, SubnetId=subnet_ids[0])
    sg_id = ec2.create_security_group(GroupName=f"auditor-test-{region}", Description="test",
                                      VpcId=vpc_id)["GroupId"]
    return Network(account, region, vpc_id, subnet_ids, rt_id, igw_id, sg_id)


def make_config(accounts: Iterable[tuple[str, str | None]] = (), regions: Iterable[str] = REGIONS,
                extra: str = "") -> AuditConfig:
    """An audit config; accounts are (id, role_arn or None)."""
    lines = ["version: 1"]
    accounts = list(accounts)
    if accounts:
        lines.append("accounts:")
        for acct, role in accounts:
            lines.append(f'  - id: "{acct}"')
            if role:
                lines.append(f"    role_arn: {role}")
    lines.append("regions: [" + ", ".join(regions) + "]")
    return config_from_text("\n".join(lines) + "\n" + extra)


TWO_ACCOUNTS = ((HOME_ACCOUNT, None), (SECOND_ACCOUNT, AUDIT_ROLE))


# -- fault injection -------------------------------------------------------------------

class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._body


def ec2_error(status: int, code: str, message: str, url: str = "https://ec2.amazonaws.com/") -> AWSResponse:
    """An HTTP answer in the EC2 query protocol's error format."""
    body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>x</RequestID></Response>").encode()
    return AWSResponse(url, status, {"Content-Type": "text/xml"}, _Raw(body))


def sts_error(status: int, code: str, message: str, url: str = "https://sts.amazonaws.com/") -> AWSResponse:
    """An HTTP answer in the STS (AWS query) protocol's error format."""
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
            "</Error><RequestId>x</RequestId></ErrorResponse>").encode()
    return AWSResponse(url, status, {"Content-Type": "text/xml"}, _Raw(body))


_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


def request_region(request: Any) -> str:
    """The region a signed request is for (from its SigV4 credential scope; works in
    process and against a server, where the URL names no region)."""
    auth = request.headers.get("Authorization", b"")
    if isinstance(auth, bytes):
        auth = auth.decode()
    m = _SCOPE.search(auth)
    return m.group(2) if m else ""


def request_access_key(request: Any) -> str:
    auth = request.headers.get("Authorization", b"")
    if isinstance(auth, bytes):
        auth = auth.decode()
    m = _SCOPE.search(auth)
    return m.group(1) if m else ""


@dataclass
class Injector:
    """A SessionFactory hook that answers matching requests itself.

    For every request on `event` that `match(request)` accepts, `respond(request, n)` gets
    the request and how many matching requests came before it, and returns an AWSResponse
    (a fake answer) or None (let the request through). Matching requests are logged in
    `seen` as (region, access key id)."""

    event: str
    respond: Callable[[Any, int], AWSResponse | None]
    match: Callable[[Any], bool] = lambda request: True
    seen: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _handler(self, request: Any, **_: Any) -> AWSResponse | None:
        if not self.match(request):
            return None
        with self._lock:
            n = len(self.seen)
            self.seen.append((request_region(request), request_access_key(request)))
        return self.respond(request, n)

    def __call__(self, session: Any) -> None:
        session.get_component("event_emitter").register_first(self.event, self._handler)


def in_region(region: str) -> Callable[[Any], bool]:
    return lambda request: request_region(request) == region


@contextmanager
def moto_server_url() -> Iterator[str]:
    """A real moto server over HTTP (`ThreadedMotoServer` on a free loopback port), fresh and
    empty, for as long as the block runs: its URL (``http://127.0.0.1:PORT``)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def snapshot_dir(tmp_path: Path) -> Path:
    return tmp_path / "snapshot"


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py imported as a module (the benchmarks folder is not a package)."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the text of a PDF, extracted once per worker ----------------------------------------------

_PDF_TEXTS: OrderedDict[bytes, tuple[str, ...]] = OrderedDict()


def pdf_page_texts(pdf: bytes | Path) -> tuple[str, ...]:
    """Each page's text as pypdf extracts it (``page.extract_text()``, nothing else done to it),
    of the PDF bytes or file `pdf`. pypdf's extraction is pure Python and takes as long as
    WeasyPrint's rendering (about 0.2 s a page): the same bytes, such as the demo's report.pdf
    or a module's rendered PDF read by each of its tests, are extracted once per worker (the
    last 16 PDFs are kept, by the SHA-256 of their bytes)."""
    import io

    import pypdf

    data = pdf.read_bytes() if isinstance(pdf, Path) else pdf
    key = hashlib.sha256(data).digest()
    if key in _PDF_TEXTS:
        _PDF_TEXTS.move_to_end(key)
        return _PDF_TEXTS[key]
    texts = tuple(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    _PDF_TEXTS[key] = texts
    if len(_PDF_TEXTS) > 16:
        _PDF_TEXTS.popitem(last=False)
    return texts


# -- the CLI in process, and the demo once per session ----------------------------------------

def run_auditor(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`auditor ARGS` (the console script's `auditor.cli.main`, argument parsing and exit
    handling included) run in this process from `cwd`, its stdout and stderr captured apart:
    what `subprocess.run([sys.executable, "-m", "auditor", *args])` gives, without starting an
    interpreter. The process boundary itself (signals, a closed pipe, the installed script) is
    tested with real processes elsewhere. The SIGTERM handler a scan installs, the working
    folder and sys.argv are put back afterwards."""
    from click.testing import CliRunner

    from auditor.cli import main

    saved = signal.getsignal(signal.SIGTERM), Path.cwd(), sys.argv
    try:
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = ["auditor", *args]
        with CliRunner().isolation() as (stdout, stderr, _):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            out, err = stdout.getvalue().decode(), stderr.getvalue().decode()
    finally:
        signal.signal(signal.SIGTERM, saved[0])
        os.chdir(saved[1])
        sys.argv = saved[2]
    return subprocess.CompletedProcess(["auditor", *args], code, out, err)


@dataclass(frozen=True)
class DemoRun:
    """`auditor demo --out <root>/demo` as run once for the session: what it printed,
    its exit code, the library's result and the seeded ids by estate name."""

    root: Path
    out: Path
    stdout: str
    stderr: str
    code: int
    result: DemoResult
    names: dict[str, str]   # AWS id -> `<kind:name>` (the estate's name for it)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo, built once per test session in this process by the `auditor demo` command's
    own code (`auditor.cli.run_demo_command`: the library's `run_demo` and the command's
    printing), its output captured. Read-only for its users: a test that changes its files
    copies them first."""
    from click.testing import CliRunner

    from auditor.cli import run_demo_command

    root = tmp_path_factory.mktemp("demo-run")
    saved = signal.getsignal(signal.SIGTERM)
    try:
        with CliRunner().isolation() as (stdout, stderr, _):
            try:
                demo, code = run_demo_command(root / "demo", False, None, None, False, keep_records=True)
            except SystemExit as exc:
                pytest.fail(f"auditor demo stopped with exit {exc.code}: {stderr.getvalue().decode()}")
            out, err = stdout.getvalue().decode(), stderr.getvalue().decode()
    finally:
        signal.signal(signal.SIGTERM, saved)
    names = {aws_id: f"<{kind}:{name}>" for (_a, _r, kind, name), aws_id in demo.seeded.ids.items()}
    return DemoRun(root, root / "demo", out, err, code, demo, names)


# The analyzer estates (tests/estates/analyzers), each in its own account.
ANALYZER_ESTATES = Path(__file__).parent / "estates" / "analyzers"
ANALYZER_ACCOUNTS = {"egress-paths": "111111111111", "transit-paths": "222222222222",
                     "ingress-exposure": "333333333333", "endpoint-policies": "444444444444"}


@dataclass(frozen=True)
class AnalyzerEstates:
    """The four analyzer estates as seeded into one emulator and collected in one run."""

    ids: dict[str, SeedResult]        # estate name -> what its seeder made
    config: AuditConfig               # every estate's account, us-east-1
    snapshot: Path                    # the snapshot written
    records: tuple[CallRecord, ...]   # the records as collected (in memory)
    manifest: dict[str, Any]


@pytest.fixture(scope="session")
def analyzer_estates(tmp_path_factory: pytest.TempPathFactory) -> AnalyzerEstates:
    """The analyzer estates seeded in moto (in process), each in its account of
    ANALYZER_ACCOUNTS, and collected with the real collector: once per session, one setup
    instead of one per estate and test module. Read-only for its users."""
    from auditor.collect.runner import collect
    from auditor.emulate import EmulatedAws, load_estate, seed
    from auditor.snapshot.writer import SnapshotWriter

    config = config_from_text("version: 1\naccounts:\n" + "".join(
        f'  - id: "{a}"\n    role_arn: {EmulatedAws.role_arn(a)}\n' for a in ANALYZER_ACCOUNTS.values())
        + "regions: [us-east-1]\n")
    out = tmp_path_factory.mktemp("analyzer-estates") / "snapshot"
    with EmulatedAws(mode="inprocess") as emu:
        ids = {name: seed(load_estate(ANALYZER_ESTATES / f"{name}.yaml"), emu) for name in ANALYZER_ACCOUNTS}
        result = collect(config, emu.session_factory(max_attempts=2), SnapshotWriter(out, keep=True))
    assert result.complete, result.manifest["errors"]
    return AnalyzerEstates(ids, config, out, tuple(result.records), result.manifest)
