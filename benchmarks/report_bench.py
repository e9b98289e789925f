#!/usr/bin/env python
"""Report benchmark: the HTML and PDF evidence reports of generated findings.json documents.

    .venv/bin/python benchmarks/report_bench.py [--sizes 1000,10000,100000] [--pdf-max 10000]

For each size, a schema-shaped findings.json of N findings over 40 rules and 12 PCI DSS
controls is generated (not measured). HTML: the share that FAILs is as a scan gives
(a fifth), time and size of `auditor.report.html` when that module exists (the column
says "n/a" otherwise). PDF: every finding FAILING (the worst case: failing findings are
listed in full), with the snapshot records they cite attached (one record file of 1000
security groups, about 1 MiB, per 1000 findings: generated, hashed into a manifest, read
back and checked by the PDF writer), time and peak RSS. Each size and format runs in a fresh Python process
(so peaks do not accumulate). PDF sizes above --pdf-max are not measured (printed why).

Columns:
  findings     findings in the document
  html s / MiB HTML report wall time and size (n/a without auditor/report/html.py)
  browser s    headless Chromium (Debian's chromium, when installed) opening the HTML with a
               search in the URL (#q=...&group=control): start, parse, filter, group and
               render the first page, as `--dump-dom` reports it done ("-" without chromium)
  pdf s        PDF wall time: build_model + template + WeasyPrint layout + PDF/A writing
  pages        PDF pages
  pdf MiB      PDF size
  peak MiB     the child process's peak RSS (ru_maxrss), document generation included
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ("PASS", "FAIL", "ERROR", "WAIVED", "NOT_APPLICABLE")
SEVERITIES = ("critical", "high", "medium", "low", "info")
N_RULES, N_CONTROLS = 40, 12
# The child leaves the page here for the browser column.
HTML_OUT = str(Path(tempfile.gettempdir()) / "report-bench-{n}.html")


def _counts(items: list[str]) -> dict[str, int]:
    return {s: items.count(s) for s in STATUSES}


def document(n: int, all_fail: bool) -> dict[str, Any]:
    """A findings.json document of `n` findings (every FAIL when `all_fail`, else one in five)."""
    acct, region = "111111111111", "eu-west-1"
    findings = []
    for i in range(n):
        rule = f"BEN-{i % N_RULES:03d}"
        status = "FAIL" if all_fail or i % 5 == 0 else "PASS"
        rid = f"sg-{i:017x}"
        findings.append({
            "fingerprint": f"{i:020x}", "rule_id": rule, "severity": SEVERITIES[i % N_RULES % 4],
            "status": status, "item": None, "message": f"security group {rid} allows 0.0.0.0/0 on 22",
            "resource": {"type": "security_group", "id": rid, "account": acct, "region": region,
                         "arn": f"arn:aws:ec2:{region}:{acct}:security-group/{rid}", "vpc_id": f"vpc-{i % 50:08x}"},
            "evidence": [{"path": "ingress[0].cidr", "observed": "0.0.0.0/0", "expected": "not in 0.0.0.0/0",
                          "holds": status != "FAIL",
                          "sources": [f"records/{acct}/{region}/ec2/DescribeSecurityGroups~{i // 1000}.json"
                                      f"#/pages/0/SecurityGroups/{i % 1000}"]}]})
    statuses = [f["status"] for f in findings]
    rules = []
    for r in range(N_RULES):
        rid = f"BEN-{r:03d}"
        st = [f["status"] for f in findings if f["rule_id"] == rid]
        rules.append({"id": rid, "title": f"Benchmark rule {r}", "severity": SEVERITIES[r % 4], "pack": "bench",
                      "resource": "security_group", "implements": [], "frameworks": {"pci-dss-4.0": [f"1.{r % N_CONTROLS}.1"]},
                      "for_each": None, "status": "FAIL" if "FAIL" in st else "PASS", "counts": _counts(st)})
    controls = []
    for c in range(N_CONTROLS):
        crules = [r["id"] for r in rules if r["frameworks"]["pci-dss-4.0"] == [f"1.{c}.1"]]
        st = [f["status"] for f in findings if f["rule_id"] in crules]
        controls.append({"id": f"1.{c}.1", "title": f"Control 1.{c}.1", "status": "FAIL" if "FAIL" in st else "PASS",
                         "rules": crules, "counts": _counts(st), "authorities": ["pack-author"], "third_party_only": False})
    return {
        "format": "private-network-auditor/findings", "format_version": 1,
        "run": {"tool": {"name": "private-network-auditor", "version": "bench"},
                "snapshot": {"manifest_sha256": "sha256:" + "0" * 64, "started": "2026-03-01T10:00:00Z",
                             "finished": "2026-03-01T10:01:00Z", "complete": True, "collector_version": "bench",
                             "calls": 100, "errors": 0},
                "config": {"digest": "sha256:" + "1" * 64, "organization": "Bench Bank"},
                "profile": {"id": "pci-dss", "title": "PCI DSS", "style": "banking", "wording": {}},
                "assessed_on": "2026-03-01", "packs": [{"id": "bench", "version": "1", "title": "Bench", "builtin": False,
                                                       "sha256": "2" * 64}],
                "accounts": [{"id": acct, "name": "prod", "problem": ""}], "regions": [region],
                "scope": {"everything": True, "vpc_ids": [], "resources_in_scope": {"security_group": n},
                          "resources_out_of_scope": {}}},
        "summary": {"findings": _counts(statuses),
                    "by_severity": {s: _counts([f["status"] for f in findings if f["severity"] == s]) for s in SEVERITIES},
                    "rules": _counts([r["status"] for r in rules]), "complete": True, "stale_waivers": 0},
        "rules": rules,
        "frameworks": [{"id": "pci-dss-4.0", "title": "PCI DSS", "version": "4.0.1",
                        "status": "FAIL" if "FAIL" in statuses else "PASS", "controls": controls}],
        "waivers": [], "not_assessed": [], "findings": findings,
    }


def snapshot(folder: Path, n: int) -> bytes:
    """The records the document of `n` findings cites, written under `folder`, and the bytes of
    a manifest listing their SHA-256 (what the PDF attaches and checks)."""
    import hashlib

    files = {}
    for part in range((n + 999) // 1000):
        rel = f"records/111111111111/eu-west-1/ec2/DescribeSecurityGroups~{part}.json"
        groups = [{"GroupId": f"sg-{part * 1000 + k:017x}", "GroupName": f"bench-{k}", "VpcId": f"vpc-{k % 50:08x}",
                   "OwnerId": "111111111111", "Description": "benchmark security group " + "x" * 200,
                   "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                      "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh from anywhere"}]}] * 3,
                   "Tags": [{"Key": "Name", "Value": f"bench-{k}"}, {"Key": "env", "Value": "prod"}]}
                  for k in range(1000)]
        data = json.dumps({"account": "111111111111", "region": "eu-west-1", "service": "ec2",
                           "operation": "DescribeSecurityGroups", "params": {},
                           "pages": [{"SecurityGroups": groups}]}, indent=1, sort_keys=True).encode()
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[rel] = "sha256:" + hashlib.sha256(data).hexdigest()
    return json.dumps({"format": "auditor-snapshot", "files": files}, sort_keys=True).encode()


def child(fmt: str, n: int) -> None:
    sys.path.insert(0, str(ROOT))
    from auditor.report.model import build_model
    from auditor.rules.frameworks import load_catalogues

    doc = document(n, all_fail=fmt == "pdf")
    raw = json.dumps(doc, sort_keys=True).encode()
    cats = load_catalogues()
    folder = Path(tempfile.mkdtemp(prefix="report-bench-snapshot-"))
    manifest = snapshot(folder, n) if fmt == "pdf" else None
    t0 = time.perf_counter()
    if fmt == "pdf":
        from auditor.report.model import record_hashes_of
        from auditor.report.pdf import PdfInputs, render_pdf

        model = build_model(doc, None, cats, record_hashes=record_hashes_of(manifest))
        out = render_pdf(model, PdfInputs(raw, manifest, folder), environ={"SOURCE_DATE_EPOCH": "0"})
        seconds = time.perf_counter() - t0
        import io

        import pypdf

        reader = pypdf.PdfReader(io.BytesIO(out))
        pages = len(reader.pages)
        attached = [name for name in reader.attachments if name.startswith("records/")]
        assert len(attached) == (n + 999) // 1000, attached   # every cited record, each once
    else:
        model = build_model(doc, None, cats)
        from auditor.report.html import html_report

        out = html_report(model)
        seconds = time.perf_counter() - t0
        pages = 0
        Path(HTML_OUT.format(n=n)).write_bytes(out)
    import shutil

    shutil.rmtree(folder)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "bytes": len(out), "pages": pages, "peak_mib": peak}))


def run(fmt: str, n: int) -> dict[str, Any] | None:
    proc = subprocess.run([sys.executable, __file__, "--child", fmt, str(n)], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  {fmt} {n}: failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def browser_seconds(n: int) -> str:
    """Seconds for headless Chromium to open the page and show a search's first page."""
    import shutil

    exe = shutil.which("chromium")
    page = Path(HTML_OUT.format(n=n))
    if exe is None or not page.is_file():
        return "-"
    with tempfile.TemporaryDirectory() as profile:
        t0 = time.perf_counter()
        proc = subprocess.run([exe, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={profile}",
                               "--virtual-time-budget=60000", "--dump-dom",
                               page.as_uri() + "#q=sg-0000000000000abc&group=control"],
                              capture_output=True, text=True, timeout=300)
        seconds = time.perf_counter() - t0
    page.unlink()
    ok = proc.returncode == 0 and "findings in all" in proc.stdout and 'data-ready="1"' in proc.stdout
    return f"{seconds:.2f}" if ok else "failed"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--pdf-max", type=int, default=10000,
                    help="largest size whose PDF is measured (100k failing findings take well over the benchmark's few minutes)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    has_html = (ROOT / "auditor" / "report" / "html.py").is_file()
    print(f"{'findings':>9} {'html s':>8} {'html MiB':>9} {'browser s':>10} {'pdf s':>8} {'pages':>6} {'pdf MiB':>8} "
          f"{'peak MiB':>9}")
    for n in (int(s) for s in args.sizes.split(",")):
        h = run("html", n) if has_html else None
        hs = (f"{h['seconds']:8.2f} {h['bytes'] / 2**20:9.2f} {browser_seconds(n):>10}" if h
              else f"{'n/a':>8} {'n/a':>9} {'-':>10}")
        if n <= args.pdf_max:
            p = run("pdf", n)
            ps = (f"{p['seconds']:8.1f} {p['pages']:6d} {p['bytes'] / 2**20:8.2f} {p['peak_mib']:9.0f}" if p
                  else f"{'failed':>8}")
        else:
            ps = (f"{'-':>8} {'-':>6} {'-':>8} {'-':>9}  (PDF not measured above --pdf-max {args.pdf_max}: "
                  "time and memory grow about linearly, 1k to 10k is about x8 time and x4 memory, so some 6 min "
                  "and 4+ GiB: over the benchmark's few minutes)")
        print(f"{n:9d} {hs} {ps}", flush=True)


if __name__ == "__main__":
    main()
