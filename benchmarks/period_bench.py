#!/usr/bin/env python
"""Period report benchmark: 52 weekly runs of 10k findings each -> build_period + HTML + PDF.

    .venv/bin/python benchmarks/period_bench.py [--runs 52] [--findings 10000] [--keep DIR]

The runs' bundles (bundle.json and a schema-shaped findings.json each, written directly, not
through a scan; not measured) drift as a year of scans would: 40 rules over 12 PCI DSS
controls; a fifth of the findings fail in a window of weeks that moves with the finding
(introduced, then fixed some weeks later), a few hundred are waived (the waiver expires
mid-year), 200 resources per run churn (added and removed), one run in twelve is skipped
(a gap of the weekly schedule). Measured, in one process: describe_bundle of each run (what
a store's index answers without reading findings.json: measured, so counted in the total),
build_period (reads each findings.json once), the HTML, the PDF (WeasyPrint, period.json
attached); printed: each phase's wall time, the total, the peak RSS (ru_maxrss), and the
model's size. Target (issue 14): <= 60 s in all.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATUSES = ("FAIL", "ERROR", "WAIVED", "PASS", "NOT_APPLICABLE")
SEVERITIES = ("critical", "high", "medium", "low", "info")
N_RULES, N_CONTROLS, CHURN = 40, 12, 200
START = datetime(2025, 1, 6, 6, 0)
ACCT, REGION = "111111111111", "eu-west-1"


ALL_FAIL = False   # --all-fail: every finding fails in some window (the worst case of the PDF's findings list)


def _status(i: int, week: int, n_weeks: int) -> tuple[str, str | None]:
    """Finding i's status in week `week` and its waiver."""
    if i % 5 and not ALL_FAIL:
        return "PASS", None
    begin = (i // 5 + i % 5) % n_weeks
    length = 1 + (i // 5) % 9
    if i % 50 == 0:   # waived until the waiver expires half-way through, failing after
        return ("WAIVED", "WVR-BENCH") if week < n_weeks // 2 else ("FAIL", None)
    return ("FAIL" if begin <= week < begin + length else "PASS"), None


def findings_doc(week: int, n_weeks: int, n: int, created: datetime) -> dict[str, Any]:
    findings = []
    ids = [*range(n - CHURN), *range(n + week * (CHURN // 2), n + week * (CHURN // 2) + CHURN)]
    for i in ids:
        status, waiver = _status(i, week, n_weeks)
        rid = f"sg-{i:017x}"
        f: dict[str, Any] = {
            "fingerprint": f"{i:020x}", "rule_id": f"BEN-{i % N_RULES:03d}", "severity": SEVERITIES[i % N_RULES % 4],
            "status": status, "item": None, "message": f"security group {rid} allows 0.0.0.0/0 on 22",
            "resource": {"type": "security_group", "id": rid, "account": ACCT, "region": REGION,
                         "arn": f"arn:aws:ec2:{REGION}:{ACCT}:security-group/{rid}", "vpc_id": f"vpc-{i % 50:08x}"},
            "evidence": [{"path": "ingress[0].cidr", "observed": "0.0.0.0/0", "expected": "not in 0.0.0.0/0",
                          "holds": status == "PASS",
                          "sources": [f"records/{ACCT}/{REGION}/ec2/DescribeSecurityGroups~{i // 1000}.json"
                                      f"#/pages/0/SecurityGroups/{i % 1000}"]}]}
        if waiver:
            f["waiver"] = {"id": waiver, "status": "active", "approver": "ciso", "ticket": "RISK-1",
                           "expires": (START + timedelta(weeks=n_weeks // 2)).date().isoformat()}
        findings.append(f)
    per_rule: dict[str, set[str]] = {}
    for f in findings:
        per_rule.setdefault(f["rule_id"], set()).add(f["status"])
    controls = []
    for c in range(N_CONTROLS):
        rules = [f"BEN-{r:03d}" for r in range(N_RULES) if r % N_CONTROLS == c]
        seen = set().union(*(per_rule.get(r, set()) for r in rules))
        controls.append({"id": f"1.{c}.1", "title": f"Control 1.{c}.1", "rules": rules, "counts": {},
                         "status": next((s for s in STATUSES if s in seen), "NOT_APPLICABLE"),
                         "authorities": ["pack-author"], "third_party_only": False})
    counts = {s: sum(1 for f in findings if f["status"] == s) for s in STATUSES}
    return {"format": "private-network-auditor/findings", "format_version": 1,
            "run": {"assessed_on": created.date().isoformat(), "accounts": [{"id": ACCT, "regions": [REGION]}],
                    "config": {"organization": "Bench Bank", "digest": "sha256:" + "1" * 64}},
            "summary": {"complete": True, "findings": counts},
            "rules": [], "not_assessed": [],
            "frameworks": [{"id": "pci-dss-4.0", "title": "PCI DSS", "version": "4.0.1", "status": "FAIL",
                            "controls": controls}],
            "waivers": [{"id": "WVR-BENCH", "status": "active" if week < n_weeks // 2 else "expired",
                         "expires": (START + timedelta(weeks=n_weeks // 2)).date().isoformat(), "approver": "ciso",
                         "ticket": "RISK-1", "rules": [], "resources": [], "created": "2025-01-01",
                         "days_to_expiry": 0, "justification": "bench"}],
            "findings": findings}


def write_runs(root: Path, n_runs: int, n: int) -> list[Path]:
    folders = []
    week = 0
    while len(folders) < n_runs:
        week += 1
        if week % 12 == 0:     # a skipped week: a gap of the weekly schedule
            continue
        created = START + timedelta(weeks=week - 1)
        folder = root / f"run-{week:03d}"
        (folder / "inputs").mkdir(parents=True)
        (folder / "findings.json").write_text(json.dumps(findings_doc(week - 1, n_runs, n, created)), encoding="utf-8")
        stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
        (folder / "bundle.json").write_text(json.dumps({
            "run_id": hashlib.sha256(stamp.encode()).hexdigest()[:16], "created": stamp,
            "snapshot_manifest_sha256": hashlib.sha256(stamp.encode()).hexdigest(), "tool": {"version": "bench"},
            "files": {}}), encoding="utf-8")
        (folder / "inputs" / "audit-config.yaml").write_text("version: 1\norganization: Bench Bank\nschedule: weekly\n",
                                                              encoding="utf-8")
        folders.append(folder)
    return folders


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=52)
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="write the reports here (default: a temporary folder)")
    parser.add_argument("--all-fail", action="store_true",
                        help="every finding fails in some weeks (default: a fifth of them)")
    args = parser.parse_args()
    global ALL_FAIL
    ALL_FAIL = args.all_fail

    from auditor.report.period import build_period
    from auditor.report.period_html import period_html, period_json, period_pdf
    from auditor.store.base import describe_bundle

    tmp = Path(tempfile.mkdtemp(prefix="period-bench-"))
    try:
        folders = write_runs(tmp, args.runs, args.findings)
        size = sum((f / "findings.json").stat().st_size for f in folders)
        print(f"{len(folders)} runs x {args.findings} findings written ({size / 2**20:.0f} MiB of findings.json; "
              "not measured)", flush=True)
        c0, t0 = time.process_time(), time.perf_counter()
        runs = [(describe_bundle(f), f) for f in folders]
        ca, ta = time.process_time(), time.perf_counter()
        start, end = runs[0][0].day, runs[-1][0].day
        model = build_period(runs, start, end, schedule=None, store="bench")
        c1, t1 = time.process_time(), time.perf_counter()
        html = period_html(model, style="banking")
        c2, t2 = time.process_time(), time.perf_counter()
        data = period_json(model)
        pdf = period_pdf(model, style="banking", attachment=data)
        c3, t3 = time.process_time(), time.perf_counter()
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            (args.keep / "period-report.html").write_bytes(html)
            (args.keep / "period-report.pdf").write_bytes(pdf)
            (args.keep / "period.json").write_bytes(data)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"period {start} to {end}: {len(model.runs)} runs, {len(model.findings)} findings failing in some run, "
              f"{len(model.resources)} resources, {len(model.controls)} controls, {len(model.gaps)} gaps "
              f"(schedule {model.schedule})")
        print(f"{'phase':48} {'wall s':>7} {'CPU s':>7}")
        for name, wall, cpu in ((f"describe_bundle x {len(runs)} (a store's index gives these)", ta - t0, ca - c0),
                                ("build_period (each findings.json read once)", t1 - ta, c1 - ca),
                                (f"HTML ({len(html) / 2**20:.1f} MiB)", t2 - t1, c2 - c1),
                                (f"PDF ({len(pdf) / 2**20:.1f} MiB, period.json attached)", t3 - t2, c3 - c2),
                                ("total (target <= 60 s)", t3 - t0, c3 - c0)):
            print(f"{name:48} {wall:7.1f} {cpu:7.1f}")
        print(f"peak RSS                                 {peak:6.0f} MiB")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
