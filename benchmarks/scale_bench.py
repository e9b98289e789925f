#!/usr/bin/env python
"""Organisation-scale collection benchmark: `collect()` against the fleet server.

    .venv/bin/python benchmarks/scale_bench.py --accounts 100 --regions 20 --latency-ms 100 [--profile 10]
        [--scan] [--explicit-roles] [--json FILE]

The fleet server (`python -m auditor.emulate.fleet_server`, generated estates answered over
HTTP, EC2's documented token buckets per account, region and API, `--latency-ms` of modelled
latency per request) runs in its own process; the collector runs in a fresh Python process
with the config's defaults for everything about collection (workers, per-service caps,
retries: `auditor.config`'s `collection` section). The accounts come from Organizations
discovery (ListAccounts from the management account, then sts:AssumeRole into each
member's `AuditorReadOnly` role) unless `--explicit-roles` lists them in the config with
one role ARN each; the regions are the config's explicit list of the fleet's R regions.

Printed (and kept by `--json`):
  wall s          wall time of collect() only (imports and interpreter start excluded)
  cpu s           CPU seconds (user + system) of the collecting process during collect()
  calls           calls recorded in the manifest; cpu ms/call = cpu s / calls
  requests        HTTP requests the server answered (retries and extra pages included)
  peak RSS        VmHWM of the collecting process (its whole life)
  server cpu s    CPU seconds of the fleet server during the run; throttled = RequestLimitExceeded
                  replies it sent (per bucket in the JSON); in-flight peak = requests waiting at once
  errors          errors recorded in the manifest (by kind and code); throttle events = the
                  collector's ``call.throttled`` events (retried or failed)
  load            1-minute load average before and after (the machine is shared: above its CPU
                  count, other work competed and the figures are slower than the code)
`--profile N` runs the collection under cProfile (a second run, so the timed figures stay
unprofiled) in every thread, timing each thread's own CPU (time.thread_time), and prints the
top N functions by own time (tottime) and by cumulative time.
`--scan` then runs `auditor scan --snapshot ... --format <every format>` on the collected
snapshot in a fresh process and prints its wall time, CPU seconds, peak RSS and exit code.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _peak import RESULT_TAG, status_kib  # noqa: E402  (shared by the benchmarks)
from _server import end_server  # noqa: E402

SCAN_FORMATS = "json,html,pdf,junit,sarif,asff,csv,ocsf,oscal"
WORKER_TIMEOUT_S = 3 * 3600


def clean_aws_env(endpoint: str | None = None) -> dict[str, str]:
    """This process's environment without real AWS settings; dummy credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="fleet-management", AWS_SECRET_ACCESS_KEY="fleet", AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """The fleet server in its own process; a context manager that always stops it."""

    def __init__(self, accounts: int, regions: int, latency_ms: float, seed: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [sys.executable, "-m", "auditor.emulate.fleet_server", "--accounts", str(accounts), "--regions",
                    str(regions), "--latency-ms", f"{latency_ms:g}", "--port", str(self.port), "--seed", str(seed)]
        self.log = tempfile.NamedTemporaryFile(prefix="scale-bench-fleet-", suffix=".log", delete=False)
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, env=clean_aws_env(),
                                     cwd=tempfile.gettempdir())
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fleet server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                self.get("/_fleet/ping")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"fleet server did not answer within 120 s:\n{self.tail()}") from None
                time.sleep(0.2)

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=30) as resp:
            data: dict[str, Any] = json.loads(resp.read())
            return data

    def cpu_s(self) -> float:
        assert self.proc is not None
        return proc_cpu_s(self.proc.pid)

    def stop(self) -> None:
        end_server(self.proc, self.log)

    def tail(self, n: int = 3000) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-n:]


# ----------------------------------------------------------------------------------------
# the collecting process (--worker)
# ----------------------------------------------------------------------------------------
def config_text(accounts: int, regions: list[str], explicit_roles: bool) -> str:
    lines = ["version: 1", "organization: scale-bench", "regions: [" + ", ".join(regions) + "]"]
    if explicit_roles:
        from auditor.emulate.fleet import FIRST_ACCOUNT

        lines.append("accounts:")
        for i in range(accounts):
            acct = f"{FIRST_ACCOUNT + i:012d}"
            lines += [f'  - id: "{acct}"', f"    role_arn: arn:aws:iam::{acct}:role/AuditorReadOnly"]
    else:
        lines += ["organization_discovery:", "  role_name: AuditorReadOnly"]
    return "\n".join(lines) + "\n"


class Gauges:
    """Where the collecting process's CPU goes, measured from inside it (benchmark only):

    - the cyclic garbage collector: `gc.callbacks` time every collection (start to stop, the
      collecting thread's own CPU clock, so a preempted collection counts what it ran), per
      generation, with how many objects were tracked at the end;
    - each thread's own CPU (/proc/self/task/<tid>/schedstat), sampled every `period` seconds by
      a thread of its own and added up by the thread's name prefix (``calls``: the call pool,
      botocore's request and our record making; ``collect``: the region tasks, our bookkeeping
      and the snapshot writer; ``checkpoint``; ``MainThread``), with the kernel's share of it
      (system time, /proc/self/task); a thread's last `period` before it ends is not seen, so the
      groups add up to a little less than the process's CPU;
    - the most threads alive at once.
    """

    def __init__(self, period: float = 0.25) -> None:
        import threading

        self._threading, self.period = threading, period
        self.gc_s = [0.0, 0.0, 0.0]
        self.gc_runs = [0, 0, 0]
        self._gc_t0 = 0.0
        self._seen: dict[int, tuple[str, float]] = {}
        self._sys: dict[int, float] = {}
        self._tick = os.sysconf("SC_CLK_TCK")
        self.threads_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, name="gauges", daemon=True)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_t0 = time.thread_time()
        else:
            gen = info.get("generation", 2)
            self.gc_s[gen] += time.thread_time() - self._gc_t0
            self.gc_runs[gen] += 1

    def _sample(self) -> None:
        threads = self._threading.enumerate()
        self.threads_peak = max(self.threads_peak, len(threads))
        for t in threads:
            if t.native_id is None or t is self._thread:
                continue
            # Read from /proc by the kernel's thread id, never through a pthread handle: a
            # thread may end between enumerate() and here (its /proc entry is then gone).
            task = f"/proc/self/task/{t.native_id}"
            try:
                cpu = int(Path(task, "schedstat").read_text().split()[0]) / 1e9   # ns on a CPU
                fields = Path(task, "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError, ValueError):
                continue   # ended meanwhile
            group = t.name.split("_")[0].split("-")[0]
            self._seen[t.native_id] = (group, cpu)
            self._sys[t.native_id] = int(fields[12]) / self._tick   # stime: the kernel's share

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.period):
            self._sample()

    def start(self) -> None:
        import gc

        gc.callbacks.append(self._gc)
        self._sample()
        self._base = {ident: cpu for ident, (_, cpu) in self._seen.items()}
        self._base_sys = dict(self._sys)
        self._seen.clear()
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        import gc

        self._sample()
        self._stop.set()
        self._thread.join()
        gc.callbacks.remove(self._gc)
        groups: Counter[str] = Counter()
        kernel: Counter[str] = Counter()
        for ident, (group, cpu) in self._seen.items():
            groups[group] += cpu - self._base.get(ident, 0.0)
            kernel[group] += self._sys.get(ident, 0.0) - self._base_sys.get(ident, 0.0)
        return {"gc_s": self.gc_s, "gc_runs": self.gc_runs, "gc_tracked_after": len(gc.get_objects()),
                "threads_peak": self.threads_peak, "thread_cpu_s": dict(groups), "thread_sys_s": dict(kernel)}


class EventCounter(logging.Handler):
    """Counts the collector's structured events by name (call.throttled, call.failed, ...)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        name = getattr(record, "event", None)
        if name:
            self.counts[str(name)] += 1


def collect_worker(spec: dict[str, Any]) -> dict[str, Any]:
    from auditor.collect.runner import collect
    from auditor.collect.sessions import SessionFactory
    from auditor.config import config_from_text
    from auditor.emulate.fleet import REGION_ORDER
    from auditor.snapshot.writer import SnapshotWriter

    config = config_from_text(config_text(spec["accounts"], list(REGION_ORDER[:spec["regions"]]),
                                          spec["explicit_roles"]), name="scale_bench.yaml")
    events = EventCounter()
    root = logging.getLogger("auditor")
    root.addHandler(events)
    root.setLevel(logging.DEBUG)
    factory = SessionFactory.for_collection(config.collection)
    writer = SnapshotWriter(Path(spec["snapshot"]))
    out: dict[str, Any] = {}
    profiler = ThreadProfiles() if spec.get("profile") else None
    gauges = Gauges()
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    gauges.start()
    if profiler is not None:
        profiler.start()
    result = collect(config, factory, writer)
    if profiler is not None:
        profiler.stop()
    wall, cpu = time.perf_counter() - t_wall, time.process_time() - t_cpu
    out["gauges"] = gauges.stop()
    manifest = result.manifest
    errors = Counter(f"{e['kind']} {e['service']}:{e['operation']} {e['code']}" for e in manifest["errors"])
    out.update(wall_s=wall, cpu_s=cpu, calls=len(manifest["calls"]), errors=dict(errors),
               error_count=len(manifest["errors"]), complete=bool(result.complete), status=manifest.get("status"),
               accounts=len(manifest["accounts"]), tasks=len(manifest.get("tasks", [])),
               events={k: v for k, v in events.counts.items() if k.startswith(("call.", "account.", "discovery."))},
               peak_rss_kib=status_kib().get("VmHWM", 0),
               settings={"max_workers": config.collection.max_workers,
                         "call_workers": getattr(config.collection, "call_workers", None),
                         "service_concurrency": dict(config.collection.service_concurrency),
                         "max_attempts": config.collection.max_attempts,
                         "accounts_from": "explicit role ARNs" if spec["explicit_roles"] else "Organizations discovery"})
    if profiler is not None:
        out["profile"] = profile_text(profiler, int(spec["profile"]), wall)
    return out


class ThreadProfiles:
    """cProfile of this thread and of every thread started meanwhile (the collector's pool):
    cProfile sees only the thread that enables it, so each new thread's run() gets its own
    profiler and the statistics are added up at the end (benchmark instrumentation only)."""

    def __init__(self) -> None:
        import cProfile
        import threading

        self._cprofile, self._threading = cProfile, threading
        # Each thread's own CPU time (time.thread_time), not the wall clock: the figures are
        # where this process spends CPU, and waits (locks, sockets, sleeps) count for nothing.
        self.main = cProfile.Profile(time.thread_time)
        self.threads: list[Any] = []
        self._orig_run = threading.Thread.run

    def start(self) -> None:
        profiles, orig, cprofile = self.threads, self._orig_run, self._cprofile

        def run(thread: Any) -> None:
            prof = cprofile.Profile(time.thread_time)
            profiles.append(prof)
            prof.enable()
            try:
                orig(thread)
            finally:
                prof.disable()

        self._threading.Thread.run = run  # type: ignore[method-assign]
        self.main.enable()

    def stop(self) -> None:
        self.main.disable()
        self._threading.Thread.run = self._orig_run  # type: ignore[method-assign]


def profile_text(profiler: ThreadProfiles, top: int, wall: float) -> str:
    import io
    import pstats

    buf = io.StringIO()
    buf.write(f"collect() under cProfile: {wall:.1f} s wall (profiler overhead included); CPU time of the main "
              f"thread and {len(profiler.threads)} worker threads, added up (time.thread_time: waits count nothing)\n")
    stats = pstats.Stats(profiler.main, stream=buf)
    for prof in profiler.threads:
        stats.add(prof)
    stats.strip_dirs()
    buf.write("-- by own time (tottime) --\n")
    stats.sort_stats("tottime").print_stats(top)
    buf.write("-- by cumulative time --\n")
    stats.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


def scan_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """`auditor scan --snapshot S --out O --format F` in this process; its figures."""
    from auditor import cli

    argv = ["auditor", "scan", "--snapshot", spec["snapshot"], "--out", spec["out"], "--format", spec["formats"],
            "--fail-on", "none"]
    sys.argv = argv
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return {"wall_s": time.perf_counter() - t_wall, "cpu_s": time.process_time() - t_cpu, "exit": code,
            "peak_rss_kib": status_kib().get("VmHWM", 0),
            "outputs": sorted(p.name for p in Path(spec["out"]).iterdir()) if Path(spec["out"]).is_dir() else []}


def run_worker(mode: str, spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), f"--{mode}-worker", json.dumps(spec)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{mode} worker failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-6000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT_TAG):])
    result["stderr_tail"] = proc.stderr[-2000:]
    return result


# ----------------------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    snapshot = work / "snapshot"
    figures: dict[str, Any] = {"accounts": args.accounts, "regions": args.regions, "latency_ms": args.latency_ms,
                               "seed": args.seed, "account_regions": args.accounts * args.regions,
                               "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        with Server(args.accounts, args.regions, args.latency_ms, args.seed) as server:
            spec = {"accounts": args.accounts, "regions": args.regions, "explicit_roles": args.explicit_roles,
                    "snapshot": str(snapshot)}
            load0, cpu0 = os.getloadavg()[0], server.cpu_s()
            res = run_worker("collect", spec, clean_aws_env(server.url))
            stats = server.get("/_fleet/stats")
            res.update(server_cpu_s=server.cpu_s() - cpu0, load_before=load0, load_after=os.getloadavg()[0],
                       requests=stats["requests"], throttled=stats["throttled"],
                       throttled_by_bucket=stats["throttled_by_bucket"], server_errors=stats["errors"],
                       in_flight_peak=stats["in_flight_peak"])
            figures["collect"] = res
            if args.profile:
                shutil.rmtree(snapshot, ignore_errors=True)
                prof = run_worker("collect", spec | {"profile": args.profile}, clean_aws_env(server.url))
                figures["profile"] = {"wall_s": prof["wall_s"], "cpu_s": prof["cpu_s"], "text": prof["profile"]}
        if args.scan:
            load0 = os.getloadavg()[0]
            scan = run_worker("scan", {"snapshot": str(snapshot), "out": str(work / "scan"), "formats": args.formats},
                              clean_aws_env())
            scan.update(load_before=load0, load_after=os.getloadavg()[0], formats=args.formats)
            figures["scan"] = scan
    finally:
        if args.keep:
            figures["kept"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return figures


def report(f: dict[str, Any]) -> None:
    c = f["collect"]
    per_call = c["cpu_s"] / c["calls"] * 1000 if c["calls"] else 0.0
    print(f"scale_bench: {f['accounts']} accounts x {f['regions']} regions = {f['account_regions']} account-regions, "
          f"{f['latency_ms']:g} ms latency, seed {f['seed']}; python {f['python']}, {f['cpus']} CPUs")
    s = c["settings"]
    print(f"collector: config defaults (max_workers {s['max_workers']}, call_workers {s.get('call_workers')}, "
          f"caps per account-region {s['service_concurrency']}, max_attempts {s['max_attempts']}); accounts from "
          f"{s['accounts_from']}")
    print(f"  wall {c['wall_s']:.1f} s | cpu {c['cpu_s']:.1f} s | calls {c['calls']} | cpu {per_call:.2f} ms/call | "
          f"requests {c['requests']} | peak RSS {c['peak_rss_kib'] / 1024:.0f} MiB")
    # Little's law: the requests in flight on average = requests x time each waits at the server
    # / wall time (the modelled latency; the server's own CPU per request is not counted).
    avg = c["requests"] * f["latency_ms"] / 1000 / c["wall_s"] if c["wall_s"] else 0.0
    print(f"  server: cpu {c['server_cpu_s']:.1f} s | throttled {c['throttled']} | in flight peak {c['in_flight_peak']}, "
          f"average {avg:.1f} (requests x latency / wall) | error replies {c['server_errors'] or 'none'}")
    print_gauges(c, per_call)
    print(f"  collector: complete {c['complete']} | errors {c['error_count']} {c['errors'] or ''} | "
          f"throttle events {c['events'].get('call.throttled', 0)} | accounts {c['accounts']} | tasks {c['tasks']}")
    print(f"  load average (1 min) before {c['load_before']:.1f}, after {c['load_after']:.1f}")
    if "profile" in f:
        print(f"\nProfile of a second collection ({f['profile']['wall_s']:.1f} s wall, {f['profile']['cpu_s']:.1f} s "
              "cpu under the profiler):")
        print(f["profile"]["text"])
    if "scan" in f:
        sc = f["scan"]
        print(f"scan --format {sc['formats']}: wall {sc['wall_s']:.1f} s | cpu {sc['cpu_s']:.1f} s | peak RSS "
              f"{sc['peak_rss_kib'] / 1024:.0f} MiB | exit {sc['exit']} | outputs {', '.join(sc['outputs'])} | load "
              f"before {sc['load_before']:.1f}, after {sc['load_after']:.1f}")


def print_gauges(c: dict[str, Any], per_call: float, indent: str = "  ") -> None:
    """Where the collector's CPU went (`Gauges`): GC, threads, CPU by thread group, per call."""
    g = c.get("gauges")
    if not g:
        return
    calls = c["calls"] or 1
    gc_s = sum(g["gc_s"])
    kernel = g.get("thread_sys_s", {})
    groups = " | ".join(f"{name} {cpu:.1f} s ({1000 * cpu / calls:.2f} ms/call, kernel {kernel.get(name, 0.0):.1f} s)"
                        for name, cpu in sorted(g["thread_cpu_s"].items(), key=lambda kv: -kv[1]))
    print(f"{indent}where the cpu went: {per_call:.2f} ms/call in all; gc {gc_s:.2f} s ({1000 * gc_s / calls:.2f} ms/call; "
          f"runs per generation {g['gc_runs']}, seconds {[round(x, 2) for x in g['gc_s']]}, objects tracked at the "
          f"end {g['gc_tracked_after']}); threads peak {g['threads_peak']}")
    print(f"{indent}cpu by thread (calls: requests and records; collect: region tasks and the writer): {groups}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=100)
    p.add_argument("--regions", type=int, default=20)
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--explicit-roles", action="store_true",
                   help="list the accounts with role ARNs in the config instead of Organizations discovery")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="also profile a second collection and print the top N functions")
    p.add_argument("--scan", action="store_true", help="then run auditor scan with every format on the snapshot")
    p.add_argument("--formats", default=SCAN_FORMATS, help=f"formats for --scan (default {SCAN_FORMATS})")
    p.add_argument("--keep", action="store_true", help="keep the snapshot and the scan's output (path printed)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--collect-worker", help=argparse.SUPPRESS)
    p.add_argument("--scan-worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.collect_worker:
        print(RESULT_TAG + json.dumps(collect_worker(json.loads(args.collect_worker))), flush=True)
        return 0
    if args.scan_worker:
        result = scan_worker(json.loads(args.scan_worker))
        print(RESULT_TAG + json.dumps(result), flush=True)
        return 0
    if args.accounts < 1 or not 1 <= args.regions <= 24:
        p.error("--accounts must be >= 1 and --regions 1..24")
    figures = run(args)
    report(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, sort_keys=True))
    return 0


def _terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminated)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
