#!/usr/bin/env python
"""Collection benchmark: serial vs concurrent `collect()` against a real moto server.

    .venv/bin/python benchmarks/collect_bench.py [--accounts 1,5,25] [--regions 2] [--latency-ms 0,50]

For each account count N this starts a moto server in its own process (so the server's
CPU work does not share the collector's GIL), seeds N accounts x R regions with a small
estate through sts:AssumeRole credentials (moto maps them to the role's account), and
then, for each added latency, runs the collector twice -- serially (max_workers: 1) and
concurrently (the default pool and per-service caps unless --workers/--caps say
otherwise) -- each in a fresh Python process writing into a fresh temporary snapshot
folder, and prints one table row per run.

Latency: moto on loopback answers in a few milliseconds of pure CPU, so at 0 ms added
latency the collector and the server compete for this machine's cores and concurrency
has little to overlap. Real AWS calls take tens of milliseconds of waiting; the server
wrapper (`_latency_moto_server.py`) sleeps that long before each request to model it.
Both are printed.

Columns (see also benchmarks/README.md):
  wall s        wall-clock time of `collect()` only (seeding and interpreter start excluded)
  requests      HTTP requests sent, counted by a SessionFactory hook on botocore's
                ``before-send`` (includes retries, extra pages, AssumeRole, identity)
  calls         calls recorded in the snapshot manifest (one per call, all its pages)
  calls/a-r     regional manifest calls per (account, region) = one-per-type + per-resource
  errors        manifest errors (the collector records, e.g., the two VPC Block Public
                Access calls moto does not implement); broken down after the table
  cpu s         CPU seconds of the collecting process / of the moto server process
  peak RSS      peak RSS of the process that ran the collection (a fresh process per run), read
                from /proc/self/status VmHWM because ru_maxrss of an exec'd child inherits the
                parent's peak on Linux (see peak_rss_kib)
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import end_server  # noqa: E402  (shared by the benchmarks)

HERE = Path(__file__).resolve().parent
LATENCY_SERVER = HERE / "_latency_moto_server.py"
REGION_ORDER = ("us-east-1", "eu-west-1", "us-west-2", "eu-central-1", "ap-southeast-2", "ap-northeast-1",
                "ca-central-1", "sa-east-1", "eu-north-1", "ap-south-1")
RESULT_TAG = "BENCH-RESULT "
WORKER_TIMEOUT_S = 3600


def account_ids(n: int) -> list[str]:
    return [f"{100000000001 + i:012d}" for i in range(n)]


def csv_ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def csv_floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def clean_aws_env(endpoint: str | None = None) -> dict[str, str]:
    """This process's environment without any real AWS settings; dummy credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MOTO_ACCOUNT_ID"}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true")
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


# ----------------------------------------------------------------------------------------
# the moto server process
# ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """A moto server in a separate process; a context manager that always stops it."""

    def __init__(self, latency_ms: float = 0.0, plain: bool = False):
        self.plain = plain
        self.latency_ms = latency_ms
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="collect-bench-moto-", suffix=".log", delete=False)

    @property
    def command(self) -> list[str]:
        if self.plain:
            return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        return [sys.executable, str(LATENCY_SERVER), "--host", "127.0.0.1", "--port", str(self.port),
                "--latency-ms", f"{self.latency_ms:g}"]

    def __enter__(self) -> MotoServer:
        env = clean_aws_env()
        self.proc = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     cwd=tempfile.gettempdir())
        deadline = time.monotonic() + 90
        probe = "/_bench/ping" if not self.plain else "/moto-api/"
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + probe, timeout=2) as resp:
                    resp.read()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto server did not answer on {self.url} within 90 s:\n{self.log_tail()}") from None
                time.sleep(0.2)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        end_server(self.proc, self.log)

    def log_tail(self, n: int = 4000) -> str:
        self.log.flush()
        try:
            return Path(self.log.name).read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def set_latency(self, ms: float) -> None:
        if self.plain:
            if ms:
                raise SystemExit("--plain-moto cannot add latency; use the latency wrapper (the default)")
            return
        req = urllib.request.Request(f"{self.url}/_bench/latency?ms={ms:g}", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
        self.latency_ms = ms

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the server is not running"
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """utime + stime of the server process so far (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------------------
# seeding (not measured)
# ----------------------------------------------------------------------------------------
def _tags(kind: str, name: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}, {"Key": "regulated", "Value": "true"}]}]


def seed_account_region(endpoint: str, account: str, region: str) -> Counter[str]:
    """A small, realistic estate in one account-region. Returns what was created."""
    import boto3

    made: Counter[str] = Counter()
    base = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    creds = base.client("sts", endpoint_url=endpoint, region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/bench", RoleSessionName="bench-seed")["Credentials"]
    sess = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                 aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"], region_name=region)
    ec2 = sess.client("ec2", endpoint_url=endpoint)
    azs = [f"{region}a", f"{region}b"]

    vpc_a = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=_tags("vpc", "app"))["Vpc"]["VpcId"]
    vpc_b = ec2.create_vpc(CidrBlock="10.1.0.0/16", TagSpecifications=_tags("vpc", "data"))["Vpc"]["VpcId"]
    made["vpc"] += 2
    for vpc in (vpc_a, vpc_b):
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})

    def subnet(vpc: str, cidr: str, az: str, name: str) -> str:
        made["subnet"] += 1
        return ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az,
                                 TagSpecifications=_tags("subnet", name))["Subnet"]["SubnetId"]

    pub = [subnet(vpc_a, "10.0.0.0/24", azs[0], "app-public-a"), subnet(vpc_a, "10.0.1.0/24", azs[1], "app-public-b")]
    priv = [subnet(vpc_a, "10.0.10.0/24", azs[0], "app-private-a"),
            subnet(vpc_a, "10.0.11.0/24", azs[1], "app-private-b")]
    data = [subnet(vpc_b, "10.1.10.0/24", azs[0], "data-a"), subnet(vpc_b, "10.1.11.0/24", azs[1], "data-b")]

    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_a)
    made["internet_gateway"] += 1
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=pub[0], AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    made["elastic_ip"] += 1
    made["nat_gateway"] += 1
    pcx = ec2.create_vpc_peering_connection(VpcId=vpc_a, PeerVpcId=vpc_b)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    made["vpc_peering"] += 1

    def route_table(vpc: str, subnets: list[str], routes: list[dict[str, str]]) -> str:
        rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        for route in routes:
            ec2.create_route(RouteTableId=rt, **route)
            made["route"] += 1
        for sn in subnets:
            ec2.associate_route_table(RouteTableId=rt, SubnetId=sn)
        made["route_table"] += 1
        return rt

    route_table(vpc_a, pub, [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw}])
    rt_priv = route_table(vpc_a, priv, [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": nat},
                                        {"DestinationCidrBlock": "10.1.0.0/16", "VpcPeeringConnectionId": pcx}])
    rt_data = route_table(vpc_b, data, [{"DestinationCidrBlock": "10.0.0.0/16", "VpcPeeringConnectionId": pcx}])

    def group(vpc: str, name: str) -> str:
        made["security_group"] += 1
        return ec2.create_security_group(VpcId=vpc, GroupName=name, Description=name)["GroupId"]

    sg_web, sg_app, sg_vpce = group(vpc_a, "web"), group(vpc_a, "app"), group(vpc_a, "endpoints")
    sg_db = group(vpc_b, "db")

    def ingress(sg: str, port: int, cidr: str | None = None, source: str | None = None) -> None:
        perm: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
        if cidr:
            perm["IpRanges"] = [{"CidrIp": cidr}]
        if source:
            perm["UserIdGroupPairs"] = [{"GroupId": source}]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[perm])
        made["security_group_rule"] += 1

    ingress(sg_web, 443, cidr="10.0.0.0/16")
    ingress(sg_app, 8080, source=sg_web)
    ingress(sg_vpce, 443, cidr="10.0.0.0/16")
    ingress(sg_db, 5432, cidr="10.0.10.0/23")
    ec2.authorize_security_group_egress(GroupId=sg_app, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}])
    made["security_group_rule"] += 1

    for sn, sg in ((priv[0], sg_app), (data[0], sg_db)):
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                          SubnetId=sn, SecurityGroupIds=[sg])
        made["instance"] += 1
    for svc in ("ssm", "ssmmessages", "ec2messages"):
        ec2.create_vpc_endpoint(VpcId=vpc_a, VpcEndpointType="Interface", ServiceName=f"com.amazonaws.{region}.{svc}",
                                SubnetIds=priv, SecurityGroupIds=[sg_vpce], PrivateDnsEnabled=True)
        made["vpc_endpoint_interface"] += 1
    ec2.create_vpc_endpoint(VpcId=vpc_a, VpcEndpointType="Gateway", ServiceName=f"com.amazonaws.{region}.s3",
                            RouteTableIds=[rt_priv, rt_data])
    made["vpc_endpoint_gateway"] += 1
    ec2.create_flow_logs(ResourceIds=[vpc_a], ResourceType="VPC", TrafficType="ALL",
                         LogDestinationType="cloud-watch-logs", LogGroupName=f"/vpc/{vpc_a}",
                         DeliverLogsPermissionArn=f"arn:aws:iam::{account}:role/flow-logs")
    made["flow_log"] += 1

    # Touch the other collected services once so moto builds its lazy per-account-region
    # backends now; otherwise whichever measured run comes first would pay for it.
    ec2.describe_vpc_endpoint_services()
    sess.client("eks", endpoint_url=endpoint).list_clusters()
    sess.client("rds", endpoint_url=endpoint).describe_db_instances()
    sess.client("elbv2", endpoint_url=endpoint).describe_load_balancers()
    sess.client("elb", endpoint_url=endpoint).describe_load_balancers()
    sess.client("lambda", endpoint_url=endpoint).list_functions()
    return made


def seed(endpoint: str, accounts: list[str], regions: list[str], threads: int = 4) -> Counter[str]:
    total: Counter[str] = Counter()
    pool = cf.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="seed")
    try:
        futures = [pool.submit(seed_account_region, endpoint, a, r) for a in accounts for r in regions]
        for fut in cf.as_completed(futures):
            total += fut.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C or a failed seed: do not wait for the rest
        raise
    pool.shutdown(wait=True)
    return total


# ----------------------------------------------------------------------------------------
# one measured collection (runs in a fresh process: --worker)
# ----------------------------------------------------------------------------------------
def config_yaml(accounts: list[str], regions: list[str], workers: int | None, caps: dict[str, int]) -> str:
    lines = ["version: 1", "organization: bench", "regions: [" + ", ".join(regions) + "]", "accounts:"]
    for acct in accounts:
        lines += [f'  - id: "{acct}"', f"    role_arn: arn:aws:iam::{acct}:role/AuditorReadOnly"]
    coll = []
    if workers is not None:
        coll.append(f"  max_workers: {workers}")
    if caps:
        coll.append("  service_concurrency: {" + ", ".join(f"{k}: {v}" for k, v in caps.items()) + "}")
    if coll:
        lines += ["collection:"] + coll
    return "\n".join(lines) + "\n"


def _parse_iso(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC).timestamp()


class RequestCounter:
    """A SessionFactory hook: counts every HTTP request botocore sends (retries and pages too)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def on_send(self, **_: Any) -> None:  # must return None, or botocore takes it as the response
        with self._lock:
            self.count += 1

    def install(self, session: Any) -> None:
        session.register("before-send", self.on_send, unique_id="collect-bench-request-counter")


class TimedLock:
    """Wraps a lock (same object underneath): how long callers waited for it and held it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.wait_s = self.held_s = self.max_wait_s = 0.0
        self.acquisitions = 0
        self._since = 0.0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        t0 = time.perf_counter()
        got = self._inner.acquire(blocking, timeout)
        if got:
            self._since = time.perf_counter()
            waited = self._since - t0
            self.wait_s += waited
            self.max_wait_s = max(self.max_wait_s, waited)
            self.acquisitions += 1
        return bool(got)

    def release(self) -> None:
        self.held_s += time.perf_counter() - self._since
        self._inner.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def code_fingerprint() -> str:
    """A short hash of the collector and snapshot code this run imported (the tree may change
    between runs while others work on it; the report flags runs made with different code)."""
    import hashlib

    import auditor

    root = Path(auditor.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([*root.glob("collect/*.py"), *root.glob("snapshot/*.py"), root / "config.py"]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    from auditor.collect.catalog import spec as call_spec
    from auditor.collect.runner import collect
    from auditor.collect.sessions import SessionFactory
    from auditor.config import config_from_text
    from auditor.snapshot.writer import SnapshotWriter

    class TimedWriter(SnapshotWriter):
        """SnapshotWriter timing add() (per thread) and finish(); its lock is a TimedLock."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.timed_lock = TimedLock(self._lock)
            self._lock = self.timed_lock  # type: ignore[assignment]  # instrumentation; same lock underneath
            self._stats_lock = threading.Lock()
            self.add_s = self.add_main_s = self.finish_s = 0.0

        def add(self, record: Any) -> None:
            t0 = time.perf_counter()
            try:
                super().add(record)
            finally:
                spent = time.perf_counter() - t0
                with self._stats_lock:
                    self.add_s += spent
                    if threading.current_thread() is threading.main_thread():
                        self.add_main_s += spent

        def finish(self, meta: Any) -> Path:
            t0 = time.perf_counter()
            try:
                return super().finish(meta)
            finally:
                self.finish_s += time.perf_counter() - t0

    config = config_from_text(config_yaml(spec["accounts"], spec["regions"], spec["workers"], spec["caps"]),
                              name="collect_bench.yaml")
    fingerprint = code_fingerprint()
    counter = RequestCounter()
    factory = SessionFactory.for_collection(config.collection, hooks=[counter.install])
    lock = factory._lock = TimedLock(factory._lock)  # type: ignore[assignment]  # instrumentation only
    out = Path(spec["out_dir"])  # made, and removed afterwards, by the driver (run_worker)
    try:
        writer = TimedWriter(out / "snapshot")
        t_wall0, t_cpu0, t_epoch0 = time.perf_counter(), time.process_time(), time.time()
        result = collect(config, factory, writer)
        wall = time.perf_counter() - t_wall0
        cpu = time.process_time() - t_cpu0
        manifest = result.manifest
    finally:
        shutil.rmtree(out, ignore_errors=True)

    calls = manifest["calls"]
    regional = [c for c in calls if c["region"] != "_global"]
    kinds: Counter[str] = Counter()
    per_resource_ops: Counter[str] = Counter()
    per_op_ms: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in regional:
        if c.get("error", {}).get("kind") == "not_attempted":
            kinds["not_attempted"] += 1
            continue
        try:
            per_resource = call_spec(c["service"], c["operation"]).for_each is not None
        except KeyError:  # a call the catalog no longer lists; count it, do not crash
            per_resource = False
        if per_resource:
            kinds["per_resource"] += 1
            per_resource_ops[f"{c['service']}:{c['operation']}"] += 1
        else:
            kinds["per_type"] += 1
        acc = per_op_ms[f"{c['service']}:{c['operation']}"]
        acc[0] += 1
        acc[1] += c["duration_ms"]
    errors = Counter(f"{e['kind']} {e['service']}:{e['operation']} {e['code']}" for e in manifest["errors"])

    def span(selected: list[dict[str, Any]]) -> tuple[float, float]:
        if not selected:
            return (0.0, 0.0)
        starts = [_parse_iso(c["started"]) - t_epoch0 for c in selected]
        ends = [s + c["duration_ms"] / 1000 for s, c in zip(starts, selected, strict=True)]
        return (min(starts), max(ends))

    identity = [c for c in calls if c["operation"] == "GetCallerIdentity"]
    assume = [c for c in calls if c["operation"] == "AssumeRole"]
    # AssumeRole records carry no duration; the serial AssumeRole loop ends when the first
    # GetCallerIdentity starts (all identities run after every AssumeRole).
    first_identity = span(identity)[0] if identity else 0.0
    return {
        "wall_s": wall, "cpu_s": cpu, "requests": counter.count, "calls": len(calls),
        "regional_calls": len(regional), "global_calls": len(calls) - len(regional),
        "kinds": dict(kinds), "per_resource_ops": dict(per_resource_ops),
        "per_op_ms": {k: v for k, v in per_op_ms.items()},
        "errors": dict(errors), "error_count": len(manifest["errors"]),
        "status": manifest.get("status"), "complete": manifest.get("complete"),
        "tasks": Counter(t["status"] for t in manifest.get("tasks", [])),
        "peak_rss_kib": peak_rss_kib(),
        "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "phases": {"assume_role_s": (first_identity - span(assume)[0]) if assume else 0.0,
                   "identity_end_s": span(identity)[1],
                   "regions_start_s": span(regional)[0], "regions_end_s": span(regional)[1]},
        "client_lock": {"acquisitions": lock.acquisitions, "held_s": lock.held_s, "wait_s": lock.wait_s,
                        "max_wait_s": lock.max_wait_s, "clients": len(factory._clients)},
        "writer": {"add_s": writer.add_s, "add_main_thread_s": writer.add_main_s, "finish_s": writer.finish_s,
                   "lock_held_s": writer.timed_lock.held_s, "lock_wait_s": writer.timed_lock.wait_s,
                   "lock_max_wait_s": writer.timed_lock.max_wait_s},
        "code": fingerprint,
        "settings": {"max_workers": config.collection.max_workers,
                     "service_concurrency": dict(config.collection.service_concurrency),
                     "max_attempts": config.collection.max_attempts},
    }


def peak_rss_kib() -> int:
    """This process's peak RSS in KiB.

    Not ru_maxrss: on Linux, getrusage(RUSAGE_SELF).ru_maxrss of a freshly exec'd child
    still includes the parent's peak RSS at fork time (the kernel keeps the old address
    space's high-water mark across execve), so a worker started from this driver would
    report the driver's seeding memory. VmHWM is the high-water mark of the current
    address space only; ru_maxrss is used where /proc is unavailable.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_worker(server: MotoServer, spec: dict[str, Any]) -> dict[str, Any]:
    out_dir = tempfile.mkdtemp(prefix="collect-bench-snap-")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec | {"out_dir": out_dir})]
    cpu0 = server.cpu_seconds()
    try:
        proc = subprocess.run(cmd, env=clean_aws_env(server.url), capture_output=True, text=True,
                              timeout=WORKER_TIMEOUT_S)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)  # also when the worker was killed (Ctrl-C, timeout)
    server_cpu = server.cpu_seconds() - cpu0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark worker failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-6000:]}\nmoto server log tail:\n{server.log_tail(2000)}")
    result = json.loads(lines[-1][len(RESULT_TAG):])
    result["server_cpu_s"] = server_cpu
    result["stderr_lines"] = len(proc.stderr.splitlines())
    return result


# ----------------------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------------------
def fmt_kinds(r: dict[str, Any], account_regions: int) -> str:
    k = r["kinds"]
    per = r["regional_calls"] / account_regions
    return (f"{per:.1f} = {k.get('per_type', 0) / account_regions:.1f}+{k.get('per_resource', 0) / account_regions:.1f}"
            + (f"+{k['not_attempted'] / account_regions:.1f}na" if k.get("not_attempted") else ""))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Benchmark serial vs concurrent collection against a moto server "
                                "in a separate process.")
    p.add_argument("--accounts", default="1,5,25", help="comma-separated account counts (default 1,5,25)")
    p.add_argument("--regions", type=int, default=2, help="regions per account (default 2: us-east-1, eu-west-1)")
    p.add_argument("--latency-ms", default="0,50", help="comma-separated added per-request latencies (default 0,50)")
    p.add_argument("--workers", type=int, default=None,
                   help="max_workers for the concurrent run (default: the config default, 16)")
    p.add_argument("--caps", default="", help="service_concurrency for the concurrent run, e.g. ec2=20,eks=8 "
                   "(default: the config defaults)")
    p.add_argument("--serial-max-accounts", type=int, default=0,
                   help="measure the serial run on at most this many accounts and scale it linearly to the "
                   "full count (marked in the output); 0 = always measure for real (default)")
    p.add_argument("--modes", default="serial,concurrent", help="which runs to make (default serial,concurrent)")
    p.add_argument("--plain-moto", action="store_true",
                   help="start `python -m moto.server` itself (latency 0 only) instead of the latency wrapper")
    p.add_argument("--seed-threads", type=int, default=4)
    p.add_argument("--json", metavar="FILE", help="also write every result as JSON to FILE")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        print(RESULT_TAG + json.dumps(worker(json.loads(args.worker)), sort_keys=True), flush=True)
        return 0

    counts, latencies = csv_ints(args.accounts), csv_floats(args.latency_ms)
    if not 1 <= args.regions <= len(REGION_ORDER):
        p.error(f"--regions must be 1..{len(REGION_ORDER)}")
    regions = list(REGION_ORDER[:args.regions])
    caps = {k.strip(): int(v) for k, v in (kv.split("=") for kv in args.caps.split(",") if kv.strip())}
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - {"serial", "concurrent"}:
        p.error("--modes takes serial and/or concurrent")
    if args.plain_moto and any(latencies):
        p.error("--plain-moto supports --latency-ms 0 only")

    import boto3
    import botocore
    import moto
    print(f"collect_bench: python {platform.python_version()}, botocore {botocore.__version__}, "
          f"boto3 {boto3.__version__}, moto {moto.__version__}, {os.cpu_count()} CPUs, {platform.machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"regions: {', '.join(regions)}; added latency (ms): {', '.join(f'{x:g}' for x in latencies)}")
    print(f"concurrent settings: max_workers={args.workers or 'default(16)'}, "
          f"service_concurrency={caps or 'default (ec2: 10, others: 8)'}; serial: max_workers=1")
    print("each run: a fresh python process, a fresh temporary snapshot folder; moto server in its own process",
          flush=True)

    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    for n in counts:
        accounts = account_ids(n)
        with MotoServer(plain=args.plain_moto) as server:
            t0 = time.perf_counter()
            estate = seed(server.url, accounts, regions, args.seed_threads)
            seed_s = time.perf_counter() - t0
            per_ar = {k: v // (n * len(regions)) for k, v in sorted(estate.items())}
            print(f"\n[{n} accounts] moto at {server.url} (pid {server.pid}); seeded {n}x{len(regions)} "
                  f"account-regions in {seed_s:.1f} s (not counted), each: "
                  + ", ".join(f"{k} {v}" for k, v in per_ar.items()), flush=True)
            for latency in latencies:
                server.set_latency(latency)
                for mode in modes:
                    run_accounts, scaled = accounts, 1.0
                    if mode == "serial" and args.serial_max_accounts and n > args.serial_max_accounts:
                        run_accounts = accounts[:args.serial_max_accounts]
                        scaled = n / len(run_accounts)
                    spec = {"accounts": run_accounts, "regions": regions,
                            "workers": 1 if mode == "serial" else args.workers,
                            "caps": {} if mode == "serial" else caps}
                    load = os.getloadavg()[0]
                    res = run_worker(server, spec)
                    res["loadavg_1m_before"] = load
                    res.update(accounts=n, measured_accounts=len(run_accounts), scale=scaled, regions=len(regions),
                               latency_ms=latency, mode=mode, seed_s=seed_s)
                    rows.append(res)
                    print(f"  latency {latency:g} ms, {mode:10s}: {res['wall_s']:7.2f} s"
                          + (f" on {len(run_accounts)} accounts (x{scaled:g} = {res['wall_s'] * scaled:.1f} s "
                             "estimated)" if scaled != 1 else "")
                          + f", {res['requests']} requests, {res['error_count']} errors, load avg before "
                          f"{load:.1f}, code {res['code']} "
                          f"[elapsed {time.monotonic() - started:.0f} s]", flush=True)
    print_report(rows, regions)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, sort_keys=True, default=str))
    return 0


def print_report(rows: list[dict[str, Any]], regions: list[str]) -> None:
    serial_wall = {(r["accounts"], r["latency_ms"]): r["wall_s"] * r["scale"] for r in rows if r["mode"] == "serial"}
    hdr = (f"{'accts':>5} {'regs':>4} {'lat ms':>6} {'mode':<10} {'workers':>7} {'wall s':>8} {'speedup':>7} "
           f"{'requests':>8} {'calls':>6} {'calls/a-r (type+res)':>21} {'errors':>6} {'cpu s':>6} "
           f"{'srv cpu s':>9} {'peak RSS MiB':>12} {'load':>5}")
    print("\n" + "=" * len(hdr))
    print("RESULTS  (wall s = collect() only; speedup = serial wall / concurrent wall at the same accounts and "
          "latency)")
    print("=" * len(hdr))
    print(hdr)
    print("-" * len(hdr))
    notes = []
    for r in rows:
        ar = r["measured_accounts"] * r["regions"]
        wall = r["wall_s"] * r["scale"]
        mark = ""
        if r["scale"] != 1:
            mark = "*"
            notes.append(f"* serial {r['accounts']} accounts @ {r['latency_ms']:g} ms: measured "
                         f"{r['wall_s']:.2f} s on {r['measured_accounts']} accounts, scaled x{r['scale']:g}; "
                         "requests/calls/cpu/RSS are for the measured subset")
        base = serial_wall.get((r["accounts"], r["latency_ms"]))
        speed = "" if r["mode"] == "serial" or base is None else f"{base / r['wall_s']:.2f}x"
        print(f"{r['accounts']:>5} {r['regions']:>4} {r['latency_ms']:>6g} {r['mode']:<10} "
              f"{r['settings']['max_workers']:>7} {wall:>7.2f}{mark or ' '} {speed:>7} {r['requests']:>8} "
              f"{r['calls']:>6} {fmt_kinds(r, ar):>21} {r['error_count']:>6} {r['cpu_s']:>6.1f} "
              f"{r['server_cpu_s']:>9.1f} {r['peak_rss_kib'] / 1024:>12.1f} {r['loadavg_1m_before']:>5.1f}")
    print("-" * len(hdr))
    for note in notes:
        print(note)
    print("load = 1-minute load average just before the run (2 CPUs: above ~2 means other work shared the "
          "machine and the figures are noisier)")
    codes = sorted({r["code"] for r in rows})
    if len(codes) > 1:
        print("WARNING: the auditor's collect/snapshot code changed during the benchmark; runs used code "
              + ", ".join(f"{c} (" + ", ".join(f"{r['accounts']}/{r['latency_ms']:g}/{r['mode']}"
                                                for r in rows if r["code"] == c) + ")" for c in codes)
              + " -- compare only runs made with the same code")
    else:
        print(f"all runs used the same auditor collect/snapshot code (fingerprint {codes[0]})")

    # what a (account, region) task consists of
    ref = max(rows, key=lambda r: r["measured_accounts"])
    ar = ref["measured_accounts"] * ref["regions"]
    print(f"\nCalls per account-region ({ref['accounts']} accounts run): "
          f"{ref['kinds'].get('per_type', 0) / ar:.1f} one-per-resource-type calls + "
          f"{ref['kinds'].get('per_resource', 0) / ar:.1f} per-resource calls"
          + (f" + {ref['kinds']['not_attempted'] / ar:.1f} not attempted" if ref["kinds"].get("not_attempted") else "")
          + "; per-resource calls by operation (per account-region): "
          + ", ".join(f"{op} {cnt / ar:.1f}" for op, cnt in sorted(ref["per_resource_ops"].items())))
    print(f"Account-wide calls: {ref['global_calls'] / ref['measured_accounts']:.0f} per account "
          "(sts:AssumeRole, sts:GetCallerIdentity); requests - calls = extra pages/retries/credential fetches")

    print("\nErrors recorded by the collector (same in every run unless noted):")
    seen: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        ar = r["measured_accounts"] * r["regions"]
        for key, cnt in r["errors"].items():
            seen[key].add(f"{cnt / ar:g}/account-region")
    if not seen:
        print("  none")
    for key, per in sorted(seen.items()):
        print(f"  {key}: {', '.join(sorted(per))}")
    statuses = Counter((r["status"], r["complete"]) for r in rows)
    print("  snapshot status / complete flag over all runs: "
          + ", ".join(f"{s}/{c}: {n}" for (s, c), n in statuses.items()))

    print("\nWhere the time goes (per run; seconds from the start of collect()):")
    h2 = (f"{'accts':>5} {'lat ms':>6} {'mode':<10} {'wall':>7} {'AssumeRole':>10} {'identity':>8} "
          f"{'regions':>15} {'tail':>5} {'sum call s':>10} {'clients':>7} {'lock held':>9} {'lock wait':>9} "
          f"{'max wait':>8} {'writer.add':>10} {'(main thr)':>10} {'wlock held':>10} {'wlock wait':>10} {'finish':>6}")
    print(h2)
    for r in rows:
        ph, lk, wr = r["phases"], r["client_lock"], r["writer"]
        total_ms = sum(v[1] for v in r["per_op_ms"].values())
        print(f"{r['accounts']:>5} {r['latency_ms']:>6g} {r['mode']:<10} {r['wall_s']:>7.2f} "
              f"{ph['assume_role_s']:>10.2f} {ph['identity_end_s']:>8.2f} "
              f"{ph['regions_start_s']:>6.2f}->{ph['regions_end_s']:>7.2f} {r['wall_s'] - ph['regions_end_s']:>5.2f} "
              f"{total_ms / 1000:>10.1f} "
              f"{lk['clients']:>7} {lk['held_s']:>9.2f} {lk['wait_s']:>9.2f} {lk['max_wait_s']:>8.2f} "
              f"{wr['add_s']:>10.2f} {wr['add_main_thread_s']:>10.2f} {wr['lock_held_s']:>10.2f} "
              f"{wr['lock_wait_s']:>10.2f} {wr['finish_s']:>6.2f}")
    print("  AssumeRole = the serial AssumeRole loop before the pool starts; identity = when the last "
          "GetCallerIdentity ended;\n  regions = first regional call start -> last regional call end; "
          "tail = wall - end of the last regional call;\n  sum call s = sum of regional calls' duration_ms "
          "(includes waiting for the per-service cap);\n"
          "  lock = SessionFactory._lock (client creation is done while holding it): total held, total and "
          "max time callers waited;\n  writer.add = time in SnapshotWriter.add (one record file per call; only the manifest is fsync'd), summed "
          "over threads, and the part spent in the main thread;\n  wlock = SnapshotWriter._lock: total time held "
          "and total time callers waited for it (summed over threads).")

    serial_rows = [r for r in rows if r["mode"] == "serial"]
    if serial_rows:
        ref = max(serial_rows, key=lambda r: (r["latency_ms"] == 0, r["measured_accounts"]))
        ar = ref["measured_accounts"] * ref["regions"]
        print(f"\nSerial per-operation time ({ref['accounts']} accounts, {ref['latency_ms']:g} ms added latency; "
              "mean ms per call, total s):")
        items = sorted(ref["per_op_ms"].items(), key=lambda kv: -kv[1][1])
        for op, (cnt, ms) in items[:12]:
            print(f"  {op:<50} {cnt / ar:>5.1f}/a-r  {ms / cnt:>6.1f} ms  {ms / 1000:>6.2f} s")
        rest = items[12:]
        if rest:
            print(f"  {'(' + str(len(rest)) + ' other operations)':<50} {sum(c for _, (c, _) in rest) / ar:>5.1f}/a-r"
                  f"  {'':>6}    {sum(m for _, (_, m) in rest) / 1000:>6.2f} s")


def _terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwind: stop the worker and the moto server


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminated)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; the worker and the moto server were stopped", file=sys.stderr)
        sys.exit(130)
