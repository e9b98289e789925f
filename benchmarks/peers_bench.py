#!/usr/bin/env python
"""Peer benchmark: `auditor collect` against Cloud Custodian's multi-account runner c7n-org.

    .venv/bin/python benchmarks/peers_bench.py [--accounts 25] [--regions 2] [--latency-ms 100]
                                               [--c7n-parallel default,25] [--repeat 1]

Same emulated estate, same machine, one sitting:

1. c7n and c7n-org (exact versions below, from PyPI) are installed by this script into a
   virtual environment of their own, ``benchmarks/.peers-venv`` (ignored by git through a
   ``.gitignore`` inside it). They are never a dependency of the project.
2. One emulator process serves every run: the latency-modelling moto server
   (``_latency_moto_server.py``'s middleware, wrapped here in a request counter) or, with
   ``--server fleet``, ``python -m auditor.emulate.fleet_server`` (EC2 token buckets).
   The moto estate is seeded by ``collect_bench.seed`` (imported, not copied) at 0 ms; the
   added latency is then set for the measured runs.
3. Each tool runs as a fresh process with dummy credentials and ``AWS_ENDPOINT_URL``
   pointing at the emulator: ours is ``python -m auditor collect`` with the config's
   defaults (one role per account); c7n-org gets an accounts file with the same roles
   (AssumeRole through the emulator's STS) and one policy per resource type our collector
   reads, under c7n's own resource names. c7n-org has no ``-j`` flag: its process pool size
   is the ``C7N_ORG_PARALLEL`` environment variable (default: 4 x CPUs).
4. Before a figure is printed, each run is checked: every account-region present in our
   snapshot with every type read without error, and every account/region/policy folder of
   c7n-org's output holding a resources.json; the resource counts of both tools are compared
   type by type. A run that fails its check is reported as such, and no ratio is made from it.

Printed per run: wall time (process start to exit), CPU seconds of the tool's processes
(children reaped, from getrusage), CPU seconds of the emulator during the run, peak memory
of the tool's process tree (sum of RSS and of PSS over its processes, sampled every 0.2 s),
HTTP requests the emulator answered (by service and operation), the load average before the
run, and the ratio c7n-org wall / ours.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _server import end_server  # noqa: E402  (shared by the benchmarks)

C7N_VERSION = "0.9.53"
C7N_ORG_VERSION = "0.6.52"
VENV = HERE / ".peers-venv"
ROLE_NAME = "c7n-readonly"

# c7n resource type -> (service, operation, path to the items in our recorded response).
# One c7n policy per type our collector reads with a one-per-type call. Our collector reads
# more than this (VPC attributes, security group rules, egress-only and carrier gateways,
# transit gateway route tables and routes, endpoint services, prefix list entries, VPC Block
# Public Access); c7n has no resource type for those, so c7n-org is asked for less.
POLICIES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("vpc", "ec2", "DescribeVpcs", ("Vpcs",)),
    ("subnet", "ec2", "DescribeSubnets", ("Subnets",)),
    ("route-table", "ec2", "DescribeRouteTables", ("RouteTables",)),
    ("internet-gateway", "ec2", "DescribeInternetGateways", ("InternetGateways",)),
    ("nat-gateway", "ec2", "DescribeNatGateways", ("NatGateways",)),
    ("network-addr", "ec2", "DescribeAddresses", ("Addresses",)),
    ("eni", "ec2", "DescribeNetworkInterfaces", ("NetworkInterfaces",)),
    ("ec2", "ec2", "DescribeInstances", ("Reservations", "Instances")),
    ("security-group", "ec2", "DescribeSecurityGroups", ("SecurityGroups",)),
    ("network-acl", "ec2", "DescribeNetworkAcls", ("NetworkAcls",)),
    ("vpc-endpoint", "ec2", "DescribeVpcEndpoints", ("VpcEndpoints",)),
    ("flow-log", "ec2", "DescribeFlowLogs", ("FlowLogs",)),
    ("peering-connection", "ec2", "DescribeVpcPeeringConnections", ("VpcPeeringConnections",)),
    ("vpn-gateway", "ec2", "DescribeVpnGateways", ("VpnGateways",)),
    ("transit-gateway", "ec2", "DescribeTransitGateways", ("TransitGateways",)),
    ("transit-attachment", "ec2", "DescribeTransitGatewayAttachments", ("TransitGatewayAttachments",)),
    ("prefix-list", "ec2", "DescribeManagedPrefixLists", ("PrefixLists",)),
    ("eks", "eks", "ListClusters", ("clusters",)),
    ("rds", "rds", "DescribeDBInstances", ("DBInstances",)),
    ("app-elb", "elbv2", "DescribeLoadBalancers", ("LoadBalancers",)),
    ("elb", "elb", "DescribeLoadBalancers", ("LoadBalancerDescriptions",)),
    ("lambda", "lambda", "ListFunctions", ("Functions",)),
]
# What collect_bench.seed creates (its Counter's keys) -> the c7n type that must show at least
# that many per account-region in both tools' results (moto adds a default VPC and its parts).
SEEDED = {"vpc": ("vpc",), "subnet": ("subnet",), "route-table": ("route_table",),
          "internet-gateway": ("internet_gateway",), "nat-gateway": ("nat_gateway",),
          "network-addr": ("elastic_ip",), "ec2": ("instance",), "security-group": ("security_group",),
          "vpc-endpoint": ("vpc_endpoint_interface", "vpc_endpoint_gateway"), "flow-log": ("flow_log",),
          "peering-connection": ("vpc_peering",)}
PEER_FAILURE_MARKERS = ("Error running policy", "Exception running policy", "Access denied", "Traceback")


# ----------------------------------------------------------------------------------------
# the peer's own virtual environment
# ----------------------------------------------------------------------------------------
def venv_bin(name: str) -> Path:
    return VENV / "bin" / name


def ensure_peer_venv() -> dict[str, str]:
    """Create benchmarks/.peers-venv with the pinned c7n and c7n-org; return installed versions."""
    wanted = {"c7n": C7N_VERSION, "c7n-org": C7N_ORG_VERSION}
    marker = VENV / "peers-bench-pins.json"
    if not (marker.exists() and json.loads(marker.read_text()) == wanted and venv_bin("c7n-org").exists()):
        if VENV.exists():
            shutil.rmtree(VENV)
        print(f"installing c7n=={C7N_VERSION} c7n-org=={C7N_ORG_VERSION} into {VENV.relative_to(ROOT)} ...",
              flush=True)
        # The base interpreter, not this venv's: the peer must not see the project's packages.
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
        (VENV / ".gitignore").write_text("*\n")  # never committed
        subprocess.run([str(venv_bin("python")), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        f"c7n=={C7N_VERSION}", f"c7n-org=={C7N_ORG_VERSION}"], check=True)
        marker.write_text(json.dumps(wanted))
    probe = ("import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
             "('c7n', 'c7n-org', 'boto3', 'botocore')}))")
    out = subprocess.run([str(venv_bin("python")), "-c", probe], check=True, capture_output=True, text=True)
    versions: dict[str, str] = json.loads(out.stdout)
    if versions["c7n"] != C7N_VERSION or versions["c7n-org"] != C7N_ORG_VERSION:
        raise SystemExit(f"{VENV} holds {versions}, not the pinned versions; delete it and run again")
    return versions


def check_peer_resource_names() -> list[str]:
    """The c7n resource names used here, as `custodian schema` knows them (unknown ones listed)."""
    out = subprocess.run([str(venv_bin("custodian")), "schema", "aws"], capture_output=True, text=True,
                         check=True)
    known = set(out.stdout.split())
    return [name for name, *_ in POLICIES if f"aws.{name}" not in known]


# ----------------------------------------------------------------------------------------
# the emulator: moto behind the latency middleware, wrapped in a request counter
# ----------------------------------------------------------------------------------------
class CountingMiddleware:
    """Counts every request by (service, operation); GET /_peers/requests answers the counts
    as JSON, POST /_peers/reset clears them. Everything else goes to the wrapped app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    @staticmethod
    def operation(environ: dict[str, Any]) -> str:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        service = "?"
        if "Credential=" in auth:
            scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
            if len(scope) >= 5:
                service = scope[3]
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return f"{service}:{target.rsplit('.', 1)[-1]}"
        action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
        if not action and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)  # moto reads the body again
            action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return f"{service}:{action[0]}"
        path = environ.get("PATH_INFO", "/").strip("/").split("/")
        return f"{service}:{environ.get('REQUEST_METHOD', '?')} /{'/'.join(path[:2])}"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_peers/"):
            with self.lock:
                body = json.dumps(dict(self.counts)).encode()
                if path == "/_peers/reset":
                    self.counts.clear()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if not path.startswith("/_bench/"):
            op = self.operation(environ)
            with self.lock:
                self.counts[op] += 1
        return self.app(environ, start_response)


def serve(argv: list[str]) -> None:
    """`peers_bench.py --serve --port N --latency-ms M`: the latency moto server, counted."""
    import logging
    import signal

    from _latency_moto_server import LatencyMiddleware
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--latency-ms", type=float, default=0.0)
    args = p.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = CountingMiddleware(LatencyMiddleware(DomainDispatcherApplication(create_backend_app), args.latency_ms))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


def _server_class() -> Any:
    import collect_bench as cb

    class CountedMotoServer(cb.MotoServer):
        """collect_bench's server process (start, ping, latency, CPU, stop), counting requests."""

        @property
        def command(self) -> list[str]:
            return [sys.executable, str(Path(__file__).resolve()), "--serve", "--host", "127.0.0.1",
                    "--port", str(self.port), "--latency-ms", f"{self.latency_ms:g}"]

        def requests(self, reset: bool = False) -> Counter[str]:
            req = urllib.request.Request(f"{self.url}/_peers/{'reset' if reset else 'requests'}",
                                         method="POST" if reset else "GET", data=b"" if reset else None)
            with urllib.request.urlopen(req, timeout=10) as resp:
                return Counter(json.loads(resp.read()))

    return CountedMotoServer


class FleetEmulator:
    """`python -m auditor.emulate.fleet_server` in its own process (generated estates, EC2's
    token buckets): the same interface as the counted moto server. Requests are counted by
    the server itself (/_fleet/stats); a run's figures are the difference before and after."""

    def __init__(self, accounts: int, regions: int, latency_ms: float) -> None:
        import collect_bench as cb

        self.port = cb.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [sys.executable, "-m", "auditor.emulate.fleet_server", "--accounts", str(accounts),
                    "--regions", str(regions), "--latency-ms", f"{latency_ms:g}", "--port", str(self.port)]
        self.env = cb.clean_aws_env()
        self.env["PYTHONPATH"] = str(ROOT)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="peers-bench-fleet-", suffix=".log", delete=False)
        self._base: dict[str, Any] = {}

    def __enter__(self) -> FleetEmulator:
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fleet server exited with {self.proc.returncode}: "
                                   f"{Path(self.log.name).read_text(errors='replace')[-3000:]}")
            try:
                self._get("/_fleet/ping")
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError("the fleet server did not answer within 60 s") from None
                time.sleep(0.2)

    def __exit__(self, *exc: Any) -> None:
        end_server(self.proc, self.log)

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.loads(resp.read())

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the server is not running"
        return self.proc.pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def set_latency(self, ms: float) -> None:
        self._get(f"/_fleet/latency?ms={ms:g}")

    def requests(self, reset: bool = False) -> Counter[str]:
        stats = self._get("/_fleet/stats")
        if reset:
            self._base = stats
            return Counter()
        return Counter({k: n - self._base.get("by_operation", {}).get(k, 0)
                        for k, n in stats["by_operation"].items()
                        if n - self._base.get("by_operation", {}).get(k, 0)})

    def throttled_and_errors(self) -> dict[str, Any]:
        stats = self._get("/_fleet/stats")
        errors = {k: n - self._base.get("errors", {}).get(k, 0) for k, n in stats["errors"].items()
                  if n - self._base.get("errors", {}).get(k, 0)}
        return {"throttled": stats["throttled"] - self._base.get("throttled", 0), "error_replies": errors,
                "in_flight_peak": stats["in_flight_peak"]}


# ----------------------------------------------------------------------------------------
# measuring a process tree
# ----------------------------------------------------------------------------------------
def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids[ppid].append(int(entry))
    return kids


def _tree(root: int) -> list[int]:
    kids, out, todo = _children_map(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, ()))
    return out


def _rss_pss_kib(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


class TreeSampler(threading.Thread):
    """Samples the summed RSS and PSS of a process and its descendants every `interval` s."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_rss = self.peak_pss = self.peak_single_rss = self.max_procs = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            pids = _tree(self.root)
            sizes = [_rss_pss_kib(pid) for pid in pids]
            self.peak_rss = max(self.peak_rss, sum(r for r, _ in sizes))
            self.peak_pss = max(self.peak_pss, sum(p for _, p in sizes))
            self.peak_single_rss = max([self.peak_single_rss, *(r for r, _ in sizes)])
            self.max_procs = max(self.max_procs, sum(1 for r, _ in sizes if r))
            self.halt.wait(self.interval)


def timed_run(cmd: list[str], env: dict[str, str], log: Path, cwd: Path) -> dict[str, Any]:
    """Runs `cmd` to its end; wall, CPU of it and its reaped descendants, peak memory of its tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        code = proc.wait(timeout=3600)
    wall = time.perf_counter() - t0
    sampler.halt.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "exit": code, "peak_rss_mib": sampler.peak_rss / 1024,
            "peak_pss_mib": sampler.peak_pss / 1024, "peak_single_rss_mib": sampler.peak_single_rss / 1024,
            "max_procs": sampler.max_procs, "load_before": load}


# ----------------------------------------------------------------------------------------
# the two tools
# ----------------------------------------------------------------------------------------
def _items(page: Any, path: tuple[str, ...]) -> int:
    level = [page]
    for key in path:
        level = [x for obj in level if isinstance(obj, dict) for x in (obj.get(key) or [])]
    return len(level)


def run_ours(endpoint: str, accounts: list[str], regions: list[str], work: Path) -> dict[str, Any]:
    import collect_bench as cb

    config = work / "audit.yaml"
    config.write_text(cb.config_yaml(accounts, regions, None, {}))
    snap = work / "snapshot"
    env = cb.clean_aws_env(endpoint)
    env["PYTHONPATH"] = str(ROOT)
    res = timed_run([sys.executable, "-m", "auditor", "collect", "-c", str(config), "--out", str(snap)],
                    env, work / "ours.log", ROOT)
    res["tool"], res["setting"] = "auditor collect", "config defaults"
    res.update(verify_ours(snap, accounts, regions, work / "ours.log"))
    return res


def verify_ours(snap: Path, accounts: list[str], regions: list[str], log: Path) -> dict[str, Any]:
    from auditor.snapshot.reader import load_snapshot

    problems: list[str] = []
    counts: dict[tuple[str, str, str], int] = {}
    try:
        snapshot = load_snapshot(snap)
    except Exception as exc:  # a failed run: say why, make no figure of it
        return {"verified": False, "problems": [f"snapshot unreadable: {exc}; log tail: "
                                                 f"{log.read_text(errors='replace')[-800:]}"], "counts": {}}
    wanted = {(svc, op): (name, path) for name, svc, op, path in POLICIES}
    seen: set[tuple[str, str, str]] = set()
    for rec in snapshot.records:
        key = (rec.service, rec.operation)
        if key not in wanted or rec.region == "_global":
            continue
        name, path = wanted[key]
        if rec.error is not None:
            problems.append(f"{rec.account}/{rec.region} {rec.service}:{rec.operation}: {rec.error}")
            continue
        seen.add((rec.account, rec.region, name))
        counts[(rec.account, rec.region, name)] = counts.get((rec.account, rec.region, name), 0) + sum(
            _items(page, path) for page in rec.pages)
    for a in accounts:
        for r in regions:
            missing = [name for name, *_ in POLICIES if (a, r, name) not in seen]
            if missing:
                problems.append(f"{a}/{r}: no record of {', '.join(missing)}")
    tasks = Counter(t.get("status") for t in snapshot.manifest.get("tasks", []))
    errors = Counter(f"{e['kind']} {e['service']}:{e['operation']}" for e in snapshot.manifest.get("errors", []))
    return {"verified": not problems, "problems": problems, "counts": counts, "tasks": dict(tasks),
            "errors": dict(errors), "calls": len(snapshot.manifest.get("calls", []))}


def peer_types(skip: frozenset[str] = frozenset()) -> list[str]:
    return [name for name, *_ in POLICIES if name not in skip]


def peer_files(work: Path, accounts: list[str], regions: list[str], skip: frozenset[str]) -> tuple[Path, Path]:
    acc = work / "accounts.yml"
    lines = ["accounts:"]
    for a in accounts:
        lines += [f'  - account_id: "{a}"', f"    name: acct-{a}", f"    regions: [{', '.join(regions)}]",
                  f"    role: arn:aws:iam::{a}:role/{ROLE_NAME}"]
    acc.write_text("\n".join(lines) + "\n")
    pol = work / "policies.yml"
    lines = ["policies:"]
    for name in peer_types(skip):
        lines += [f"  - name: read-{name}", f"    resource: aws.{name}"]
    pol.write_text("\n".join(lines) + "\n")
    return acc, pol


def run_peer(endpoint: str, accounts: list[str], regions: list[str], work: Path,
             parallel: int | None, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    import collect_bench as cb

    acc, pol = peer_files(work, accounts, regions, skip)
    out, cache = work / "c7n-out", work / "c7n-cache"
    cache.mkdir()  # fresh: no run reads another run's cached resources
    env = cb.clean_aws_env(endpoint)
    env["HOME"] = str(work)  # nothing from this machine's ~/.cache/c7n-org either
    if parallel is not None:
        env["C7N_ORG_PARALLEL"] = str(parallel)
    cmd = [str(venv_bin("c7n-org")), "run", "-c", str(acc), "-u", str(pol), "-s", str(out),
           "--cache-path", str(cache)]
    for r in regions:
        cmd += ["-r", r]
    log = work / "c7n-org.log"
    res = timed_run(cmd, env, log, work)
    res["tool"] = "c7n-org"
    res["setting"] = f"C7N_ORG_PARALLEL={parallel}" if parallel is not None else \
        f"default (C7N_ORG_PARALLEL unset: {4 * (os.cpu_count() or 1)})"
    res.update(verify_peer(out, accounts, regions, log, res["exit"], skip))
    return res


def verify_peer(out: Path, accounts: list[str], regions: list[str], log: Path, code: int,
                skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    problems: list[str] = []
    counts: dict[tuple[str, str, str], int] = {}
    text = log.read_text(errors="replace")
    if code != 0:
        problems.append(f"c7n-org exited {code}")
    for line in text.splitlines():
        if any(m in line for m in PEER_FAILURE_MARKERS):
            problems.append(line.strip()[:300])
    for a in accounts:
        for r in regions:
            for name in peer_types(skip):
                f = out / f"acct-{a}" / r / f"read-{name}" / "resources.json"
                try:
                    counts[(a, r, name)] = len(json.loads(f.read_text()))
                except (OSError, ValueError) as exc:
                    problems.append(f"{a}/{r} read-{name}: no resources.json ({type(exc).__name__})")
    return {"verified": not problems, "problems": problems, "counts": counts}


def check_floor(res: dict[str, Any], floor: dict[str, int]) -> None:
    """Marks a run unverified where it saw fewer resources than were seeded (an empty answer
    is no collection)."""
    short: Counter[str] = Counter()
    for (_, _, name), n in res["counts"].items():
        if n < floor.get(name, 0):
            short[name] += 1
    for name, k in sorted(short.items()):
        res["problems"].append(f"{name}: fewer than the {floor[name]} seeded in {k} account-regions")
    if res["counts"] and not sum(res["counts"].values()):
        res["problems"].append("not one resource in any account-region")
        short["(all)"] = 1
    res["verified"] = res["verified"] and not short


def compare_counts(ours: dict[str, Any], peer: dict[str, Any]) -> list[str]:
    """Types where the two tools saw different numbers of resources (per account-region)."""
    diffs: Counter[str] = Counter()
    for key, n in peer["counts"].items():
        if key in ours["counts"] and ours["counts"][key] != n:
            diffs[f"{key[2]}: ours {ours['counts'][key]}, c7n {n}"] += 1
    return [f"{d} (in {k} account-regions)" for d, k in sorted(diffs.items())]


# ----------------------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="auditor collect vs c7n-org on one emulated estate")
    p.add_argument("--accounts", type=int, default=25)
    p.add_argument("--regions", type=int, default=2, help="regions per account (default 2: us-east-1, eu-west-1)")
    p.add_argument("--latency-ms", type=float, default=100.0, help="added latency per request (default 100)")
    p.add_argument("--c7n-parallel", default="default,25",
                   help="c7n-org process pool sizes to run, comma-separated; 'default' leaves "
                   "C7N_ORG_PARALLEL unset (default: default,25)")
    p.add_argument("--repeat", type=int, default=1, help="rounds of (ours, each c7n-org setting)")
    p.add_argument("--server", choices=("moto", "fleet"), default="moto",
                   help="moto: the latency moto server seeded by collect_bench (default); fleet: "
                   "auditor.emulate.fleet_server (generated estates, EC2 token buckets)")
    p.add_argument("--c7n-skip", default="",
                   help="c7n resource types left out of c7n-org's policies, comma-separated (e.g. app-elb,lambda "
                   "against the fleet server, which does not answer the tagging calls c7n makes for them); "
                   "printed with the results, since c7n-org then reads less than our collector")
    p.add_argument("--keep", metavar="DIR", help="keep every run's output and logs under DIR")
    p.add_argument("--json", metavar="FILE", help="also write every result as JSON to FILE")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args, rest = p.parse_known_args(argv)
    if args.serve:
        serve(rest)
        return 0
    if rest:
        p.error(f"unrecognized arguments: {' '.join(rest)}")

    import collect_bench as cb

    skip = frozenset(x.strip() for x in args.c7n_skip.split(",") if x.strip())
    if skip - {name for name, *_ in POLICIES}:
        p.error(f"--c7n-skip: unknown types {sorted(skip - {name for name, *_ in POLICIES})}")
    parallels = [None if x.strip() == "default" else int(x) for x in args.c7n_parallel.split(",") if x.strip()]
    regions = list(cb.REGION_ORDER[:args.regions])
    accounts = cb.account_ids(args.accounts)
    if args.server == "fleet":   # the fleet's accounts: 100000000000 + i (0 = the management account)
        accounts = [f"{100000000000 + i:012d}" for i in range(args.accounts)]
    versions = ensure_peer_venv()
    unknown = check_peer_resource_names()
    if unknown:
        raise SystemExit(f"c7n {C7N_VERSION} does not know these resource types: {unknown}")

    import boto3
    import botocore
    import moto

    # The commit the collector's code comes from: the last one that changed auditor/ (the
    # benchmark's own commits on top of it do not change what is measured).
    commit = subprocess.run(["git", "log", "-1", "--format=%h", "--", "auditor"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "auditor"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    print(f"peers_bench: python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}; "
          f"auditor/ as of commit {commit} (HEAD {head}){' + uncommitted changes' if dirty else ''}, botocore "
          f"{botocore.__version__}, boto3 {boto3.__version__}; moto {moto.__version__}")
    print(f"peer: c7n {versions['c7n']}, c7n-org {versions['c7n-org']} (botocore {versions['botocore']}, "
          f"boto3 {versions['boto3']}) in {VENV.relative_to(ROOT)}")
    print(f"emulator: {args.server}; estate: {args.accounts} accounts x {len(regions)} regions ({', '.join(regions)}), "
          f"{args.latency_ms:g} ms added latency per request; c7n policies: "
          f"{', '.join(peer_types(skip))}"
          + (f" (left out: {', '.join(sorted(skip))}: c7n-org reads less than ours)" if skip else ""), flush=True)

    rows: list[dict[str, Any]] = []
    keep = Path(args.keep) if args.keep else None
    n_ar = len(accounts) * len(regions)
    emulator: Any = (FleetEmulator(len(accounts), len(regions), args.latency_ms) if args.server == "fleet"
                     else _server_class()())
    with emulator as server:
        floor: dict[str, int] = {}
        if args.server == "moto":
            t0 = time.perf_counter()
            estate = cb.seed(server.url, accounts, regions)
            print(f"seeded {n_ar} account-regions in {time.perf_counter() - t0:.1f} s (not counted), each: "
                  + ", ".join(f"{k} {v // n_ar}" for k, v in sorted(estate.items())), flush=True)
            floor = {name: sum(estate[k] for k in keys) // n_ar for name, keys in SEEDED.items()}
        else:
            print(f"fleet server at {server.url} (pid {server.pid}): generated estates, EC2 token buckets", flush=True)
        server.set_latency(args.latency_ms)
        for rnd in range(args.repeat):
            plan: list[int | None | str] = ["ours", *parallels]
            for what in plan:
                work = Path(tempfile.mkdtemp(prefix="peers-bench-"))
                try:
                    server.requests(reset=True)
                    cpu0 = server.cpu_seconds()
                    if what == "ours":
                        res = run_ours(server.url, accounts, regions, work)
                    else:
                        res = run_peer(server.url, accounts, regions, work, what, skip)  # type: ignore[arg-type]
                    res["server_cpu_s"] = server.cpu_seconds() - cpu0
                    check_floor(res, floor)
                    if isinstance(server, FleetEmulator):
                        res.update(server.throttled_and_errors())
                    res["requests"] = server.requests()
                    res["round"] = rnd + 1
                    res["code"] = commit
                finally:
                    if keep:
                        dest = keep / f"round{rnd + 1}-{'ours' if what == 'ours' else f'c7n-{what}'}"
                        shutil.copytree(work, dest, dirs_exist_ok=True)
                    shutil.rmtree(work, ignore_errors=True)
                rows.append(res)
                print(f"  round {rnd + 1}: {res['tool']:<15} {res['setting']:<40} {res['wall_s']:7.2f} s wall, "
                      f"{res['cpu_s']:6.1f} s cpu, {sum(res['requests'].values()):5d} requests, exit {res['exit']}, "
                      f"{'verified' if res['verified'] else 'NOT VERIFIED'}, load {res['load_before'][0]:.2f}",
                      flush=True)
    report(rows, accounts, regions)
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{k: (v if k != "counts" else {"/".join(x): n for x, n in v.items()}) for k, v in r.items()}
             for r in rows], indent=1, default=str))
    return 0 if all(r["verified"] for r in rows) else 1


def report(rows: list[dict[str, Any]], accounts: list[str], regions: list[str]) -> None:
    n_ar = len(accounts) * len(regions)
    hdr = (f"{'rnd':>3} {'tool':<15} {'setting':<36} {'wall s':>7} {'cpu s':>6} {'cpu ms/req':>10} "
           f"{'emu cpu s':>9} {'requests':>8} {'req/a-r':>7} {'peak RSS MiB':>12} {'PSS MiB':>8} "
           f"{'procs':>5} {'verified':>8} {'load 1/5m':>9}")
    print("\n" + "=" * len(hdr))
    print(f"RESULTS: {len(accounts)} accounts x {len(regions)} regions = {n_ar} account-regions "
          "(wall = process start to exit; cpu = the tool's processes; peak RSS/PSS = summed over its process tree)")
    print("=" * len(hdr))
    print(hdr)
    for r in rows:
        req = sum(r["requests"].values())
        print(f"{r['round']:>3} {r['tool']:<15} {r['setting'][:36]:<36} {r['wall_s']:>7.2f} {r['cpu_s']:>6.1f} "
              f"{1000 * r['cpu_s'] / max(req, 1):>10.1f} {r['server_cpu_s']:>9.1f} {req:>8} {req / n_ar:>7.1f} "
              f"{r['peak_rss_mib']:>12.0f} {r['peak_pss_mib']:>8.0f} {r['max_procs']:>5} "
              f"{'yes' if r['verified'] else 'NO':>8} {r['load_before'][0]:>4.2f}/{r['load_before'][1]:<4.2f}")
    print("-" * len(hdr))
    for r in rows:
        if not r["verified"]:
            print(f"NOT VERIFIED: round {r['round']} {r['tool']} {r['setting']}: {len(r['problems'])} problems, e.g.")
            for line in r["problems"][:8]:
                print(f"    {line}")
    for r in rows:
        if "throttled" in r:
            print(f"fleet server, round {r['round']} {r['tool']} {r['setting']}: {r['throttled']} requests throttled "
                  f"(RequestLimitExceeded), error replies {r['error_replies'] or 'none'}, "
                  f"peak requests in flight {r['in_flight_peak']} (since the server started)")
    ours = [r for r in rows if r["tool"] == "auditor collect"]
    for o in ours:
        if o.get("errors"):
            print(f"our collector's recorded errors (round {o['round']}; calls outside the compared types): "
                  + ", ".join(f"{k} x{v}" for k, v in sorted(o["errors"].items())))
    print("\nRatio (c7n-org wall / our wall, same round):")
    for peer in (r for r in rows if r["tool"] == "c7n-org"):
        base = next((o for o in ours if o["round"] == peer["round"]), None)
        if base is None:
            continue
        if not (peer["verified"] and base["verified"]):
            print(f"  round {peer['round']} {peer['setting']}: no ratio (a run failed its check)")
            continue
        diffs = compare_counts(base, peer)
        if diffs:   # one of them missed data: the two runs did not read the same estate
            print(f"  round {peer['round']} {peer['setting']}: no ratio, resource counts DIFFER: " + "; ".join(diffs))
            continue
        print(f"  round {peer['round']} {peer['setting']}: {peer['wall_s'] / base['wall_s']:.2f}x "
              f"(cpu {peer['cpu_s'] / max(base['cpu_s'], 1e-9):.2f}x, peak RSS "
              f"{peer['peak_rss_mib'] / max(base['peak_rss_mib'], 1e-9):.2f}x)")
        print("    resource counts per account-region: identical for every compared type")
    if ours:
        print("\nResource counts per account-region (ours, first account-region): "
              + ", ".join(f"{name} {ours[0]['counts'].get((accounts[0], regions[0], name), '-')}"
                          for name, *_ in POLICIES))
    print("\nRequests by operation (per account-region, first round):")
    firsts = [r for r in rows if r["round"] == 1]
    ops = sorted({op for r in firsts for op in r["requests"]})
    print(f"  {'operation':<52}" + "".join(f"{(r['tool'][:7] + ' ' + r['setting'][:10]):>20}" for r in firsts))
    for op in ops:
        print(f"  {op[:52]:<52}" + "".join(f"{r['requests'].get(op, 0) / n_ar:>20.2f}" for r in firsts))
    print("load 1/5m = load averages just before the run (2 CPUs shared with other work: above ~2 the figures "
          "are noisier)")


if __name__ == "__main__":
    sys.exit(main())
