#!/usr/bin/env python
"""Diff benchmark: `auditor diff` of two runs of 100k findings each (issue 14: <= 5 s, <= 1 GB).

    .venv/bin/python benchmarks/diff_bench.py [--findings 100000] [--changes 1000]

Two evidence bundles are generated (not measured): findings.json (canonical layout, as a scan
writes it) and bundle.json (with findings.json's SHA-256) of N findings each, over 40 rules,
one finding in five FAIL, every finding with two evidence leaves. RUN_B differs from RUN_A by
`--changes` findings in each of: new (PASS -> FAIL), resolved (FAIL -> PASS), changed (FAIL,
other observed value), waived (FAIL -> WAIVED), unwaived (WAIVED -> FAIL), a resource removed and
a resource added (its findings). Then, each in a fresh process (so peaks are their own):

  library   `auditor.diff.diff_bundles(A, B)`: wall time, peak RSS (VmHWM of the process, the
            import of the tool included)
  cli       `auditor diff A B --json FILE` run in process (`auditor.cli.main`): wall time from
            before importing the CLI to its exit, peak RSS; `process s` is the whole child
            process's wall time (interpreter start included), measured by the parent

`cpu s` is the process's CPU time over the same span: on a machine others load too, wall time
grows with the load average (the `load` column, read after the run) while CPU time stays near
what the work costs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peak import RESULT_TAG, run_script_worker, status_kib  # noqa: E402

SEVERITIES = ("critical", "high", "medium", "low", "info")
N_RULES = 40
ACCOUNT, REGION = "111111111111", "eu-west-1"


def _finding(i: int, status: str, observed: Any = "0.0.0.0/0", waiver: str | None = None) -> dict[str, Any]:
    rule = f"BEN-{i % N_RULES:03d}"
    rid = f"sg-{i:017x}"
    key = json.dumps([rule, rid]).encode()
    f: dict[str, Any] = {
        "fingerprint": hashlib.sha256(key).hexdigest()[:20], "rule_id": rule, "severity": SEVERITIES[i % N_RULES % 5],
        "status": status, "item": None, "message": f"security group {rid} allows {observed} on 22",
        "resource": {"type": "security_group", "id": rid, "account": ACCOUNT, "region": REGION,
                     "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{rid}", "vpc_id": f"vpc-{i % 50:08x}"},
        "evidence": [
            {"path": "ingress[0].cidr", "observed": observed, "expected": "not in 0.0.0.0/0",
             "holds": status not in ("FAIL", "WAIVED"),
             "sources": [f"records/{ACCOUNT}/{REGION}/ec2/DescribeSecurityGroups~{i // 1000}.json"
                         f"#/pages/0/SecurityGroups/{i % 1000}/IpPermissions/0"]},
            {"path": "ingress[0].ports", "observed": [22, 22], "expected": "not an admin port",
             "holds": status not in ("FAIL", "WAIVED"),
             "sources": [f"records/{ACCOUNT}/{REGION}/ec2/DescribeSecurityGroups~{i // 1000}.json"
                         f"#/pages/0/SecurityGroups/{i % 1000}/IpPermissions/0/FromPort"]}]}
    if waiver:
        f["waiver"] = {"id": waiver, "status": "active", "approver": "ciso@example.com", "ticket": "RISK-1",
                       "expires": "2026-12-31"}
    return f


def _base_status(i: int) -> str:
    return "FAIL" if i % 5 == 0 else "PASS"


def _write(folder: Path, findings: list[dict[str, Any]], run_id: str, created: str) -> None:
    folder.mkdir(parents=True)
    findings.sort(key=lambda f: (f["rule_id"], f["resource"]["id"]))
    counts = {s: 0 for s in ("FAIL", "ERROR", "WAIVED", "PASS", "NOT_APPLICABLE")}
    for f in findings:
        counts[f["status"]] += 1
    doc = {"format": "private-network-auditor/findings", "format_version": 1, "findings": findings,
           "run": {"assessed_on": created[:10], "config": {"digest": "sha256:bench", "organization": "bench",
                                                           "collected_with_digest": "sha256:bench"},
                   "accounts": [{"id": ACCOUNT}], "regions": [REGION], "tool": {"version": "bench"},
                   "packs": [{"id": "bench", "version": "1.0.0", "sha256": "0" * 64, "parameters": {}}]},
           "summary": {"findings": counts, "complete": True},
           "waivers": [{"id": "WVR-1", "status": "active", "expires": "2026-12-31", "days_to_expiry": 200,
                        "rules": ["BEN-*"], "approver": "ciso@example.com", "ticket": "RISK-1"}]}
    raw = (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
    (folder / "findings.json").write_bytes(raw)
    manifest = {"format": "private-network-auditor-bundle", "version": 1, "run_id": run_id, "created": created,
                "files": {"findings.json": hashlib.sha256(raw).hexdigest()}}
    (folder / "bundle.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def make_bundles(root: Path, n: int, changes: int) -> tuple[Path, Path]:
    """RUN_A and RUN_B under `root` (see the module's docstring)."""
    # Slices of the index range, each a category of change (far apart, so they never overlap).
    fails = [i for i in range(n) if _base_status(i) == "FAIL"]
    passes = [i for i in range(n) if _base_status(i) == "PASS"]
    c = changes
    new, resolved, changed = passes[:c], fails[:c], fails[c:2 * c]
    waived, unwaived, removed = fails[2 * c:3 * c], fails[3 * c:4 * c], passes[c:2 * c]
    sets = {k: set(v) for k, v in (("new", new), ("resolved", resolved), ("changed", changed), ("waived", waived),
                                   ("unwaived", unwaived), ("removed", removed))}
    a = [_finding(i, "WAIVED", waiver="WVR-1") if i in sets["unwaived"] else _finding(i, _base_status(i))
         for i in range(n)]
    b = []
    for i in range(n):
        if i in sets["removed"]:
            continue
        if i in sets["new"]:
            b.append(_finding(i, "FAIL"))
        elif i in sets["resolved"]:
            b.append(_finding(i, "PASS", observed="10.0.0.0/8"))
        elif i in sets["changed"]:
            b.append(_finding(i, "FAIL", observed="0.0.0.0/1"))
        elif i in sets["waived"]:
            b.append(_finding(i, "WAIVED", waiver="WVR-1"))
        elif i in sets["unwaived"]:
            b.append(_finding(i, "FAIL"))
        else:
            b.append(_finding(i, _base_status(i)))
    b += [_finding(n + j, "PASS") for j in range(c)]    # resources added
    _write(root / "run-a", a, "a" * 16, "2026-03-01T10:00:00Z")
    _write(root / "run-b", b, "b" * 16, "2026-03-08T10:00:00Z")
    return root / "run-a", root / "run-b"


def _worker(arg: str) -> None:
    mode, a, b, out = arg.split("|")
    t0, c0 = time.perf_counter(), time.process_time()
    if mode == "library":
        from auditor.diff import diff_bundles

        doc = diff_bundles(Path(a), Path(b))
        extra = {"counts": {k: v for k, v in doc["counts"].items() if isinstance(v, int)}}
        code = 0
    else:
        from auditor.cli import main

        sys.argv = ["auditor", "diff", a, b, "--json", out]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        extra = {}
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(RESULT_TAG + json.dumps({"seconds": seconds, "cpu": cpu, "peak_kib": status_kib().get("VmHWM", 0), "exit": code,
                                   **extra}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="measure each this many times")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker)
        return
    with tempfile.TemporaryDirectory(prefix="diff-bench-") as tmp:
        t0 = time.perf_counter()
        a, b = make_bundles(Path(tmp), args.findings, args.changes)
        size = (a / "findings.json").stat().st_size / 2**20
        print(f"generated two runs of {args.findings} findings ({size:.0f} MiB findings.json each) "
              f"in {time.perf_counter() - t0:.1f} s (not measured)")
        print(f"{'what':<8} {'seconds':>8} {'cpu s':>6} {'process s':>10} {'peak MiB':>9} {'exit':>5} {'load':>5}")
        for mode in ("library", "cli") * args.repeat:
            t1 = time.perf_counter()
            r = run_script_worker(__file__, f"{mode}|{a}|{b}|{Path(tmp) / 'diff.json'}")
            total = time.perf_counter() - t1
            load = os.getloadavg()[0]
            print(f"{mode:<8} {r['seconds']:>8.2f} {r['cpu']:>6.2f} {total:>10.2f} {r['peak_kib'] / 1024:>9.0f} "
                  f"{r['exit']:>5} {load:>5.1f}")
            if "counts" in r:
                print("          counts: " + ", ".join(f"{k} {v}" for k, v in r["counts"].items()))


if __name__ == "__main__":
    main()
