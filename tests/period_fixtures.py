"""Hand-made evidence bundles for the period report's tests (tests/test_period*.py): only what
`describe_bundle` and `build_period` read (bundle.json; findings.json's run, summary, findings,
frameworks and waivers; inputs/audit-config.yaml), written directly."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.store.base import StoredRun, describe_bundle
from auditor.vocabulary import worst


@dataclass
class F:
    """One finding of a hand-made run."""

    rule: str
    resource: str
    status: str
    rtype: str = "security_group"
    waiver: str | None = None
    severity: str = "high"
    account: str = "111111111111"
    region: str = "eu-west-1"

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.rule}|{self.account}|{self.region}|{self.rtype}|{self.resource}".encode()
                              ).hexdigest()[:20]


@dataclass
class W:
    id: str
    status: str
    expires: str = "2026-05-20"


@dataclass
class Run:
    created: datetime
    findings: list[F]
    # framework control id -> the rules it cites (absent from a run when not listed)
    controls: dict[str, list[str]] = field(default_factory=dict)
    waivers: list[W] = field(default_factory=list)
    schedule: str | None = None
    complete: bool = True


def write_bundle(folder: Path, run: Run) -> Path:
    folder.mkdir(parents=True)
    findings = [{"fingerprint": f.fingerprint, "rule_id": f.rule, "severity": f.severity, "status": f.status,
                 "resource": {"type": f.rtype, "id": f.resource, "account": f.account, "region": f.region,
                              "arn": "", "vpc_id": ""},
                 "item": None, "message": f"{f.rule} on {f.resource}: {f.status}", "evidence": [],
                 **({"waiver": {"id": f.waiver, "status": "active", "approver": "a", "ticket": "T-1",
                                "expires": "2026-05-20"}} if f.waiver else {})}
                for f in run.findings]
    per_rule: dict[str, list[str]] = {}
    for f in run.findings:
        per_rule.setdefault(f.rule, []).append(f.status)
    controls = [{"id": cid, "title": f"Control {cid}", "rules": rules,
                 "status": worst(s for r in rules for s in per_rule.get(r, [])),
                 "counts": dict(Counter(s for r in rules for s in per_rule.get(r, []))),
                 "authorities": [], "third_party_only": False}
                for cid, rules in sorted(run.controls.items())]
    day = run.created.date().isoformat()
    doc: dict[str, Any] = {
        "format": "private-network-auditor/findings", "format_version": 1,
        "run": {"assessed_on": day, "accounts": [{"id": "111111111111", "regions": ["eu-west-1"]}],
                "config": {"organization": "Example Bank", "digest": "sha256:abc"}},
        "summary": {"complete": run.complete, "findings": dict(Counter(f.status for f in run.findings))},
        "rules": [], "not_assessed": [],
        "frameworks": [{"id": "pci-dss-4.0", "title": "PCI DSS", "version": "4.0.1",
                        "status": worst(c["status"] for c in controls), "controls": controls}],
        "waivers": [{"id": w.id, "status": w.status, "expires": w.expires, "approver": "Ann Approver",
                     "ticket": "CHG-1", "rules": [], "resources": [], "created": "2026-01-01",
                     "days_to_expiry": 0, "justification": "j"} for w in run.waivers],
        "findings": findings,
    }
    (folder / "findings.json").write_text(json.dumps(doc), encoding="utf-8")
    stamp = run.created.strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = {"run_id": hashlib.sha256(stamp.encode()).hexdigest()[:16], "created": stamp,
                "snapshot_manifest_sha256": hashlib.sha256(b"m" + stamp.encode()).hexdigest(),
                "tool": {"version": "test"}, "files": {}}
    (folder / "bundle.json").write_text(json.dumps(manifest), encoding="utf-8")
    if run.schedule is not None:
        (folder / "inputs").mkdir()
        (folder / "inputs" / "audit-config.yaml").write_text(
            f"version: 1\norganization: Example Bank\nschedule: {run.schedule}\n", encoding="utf-8")
    return folder


def bundles(root: Path, runs: list[Run]) -> list[tuple[StoredRun, Path]]:
    out = []
    for i, run in enumerate(runs):
        folder = write_bundle(root / f"run-{i:02d}", run)
        out.append((describe_bundle(folder), folder))
    return out


START = datetime(2026, 1, 5, 6, 0)   # a Monday
CONTROLS = {"1.2.1": ["R-1"], "1.3.1": ["R-2"], "1.4.1": ["R-3"]}


def week(n: int) -> datetime:
    """The collection time of week `n` (1-based) of the half-year."""
    return START + timedelta(weeks=n - 1)


def half_year(schedule: str | None = "weekly") -> list[Run]:
    """26 weekly runs, drifting: R-1 fails on sg-1 in weeks 5..8 (fixed in week 9); waiver WVR-1
    covers R-2 on sg-2 until it expires in week 20 (FAIL from then on); no run in week 14;
    subnet-new appears in week 17; control 1.4.1 is not assessed in week 3."""
    runs = []
    for n in range(1, 27):
        if n == 14:
            continue
        expired = n >= 20
        findings = [
            F("R-1", "sg-1", "FAIL" if 5 <= n <= 8 else "PASS"),
            F("R-2", "sg-2", "FAIL" if expired else "WAIVED", waiver=None if expired else "WVR-1"),
            F("R-3", "subnet-a", "PASS", rtype="subnet"),
        ]
        if n >= 17:
            findings.append(F("R-3", "subnet-new", "PASS", rtype="subnet"))
        controls = {k: v for k, v in CONTROLS.items() if not (n == 3 and k == "1.4.1")}
        runs.append(Run(week(n), findings, controls, [W("WVR-1", "expired" if expired else "active")],
                        schedule=schedule))
    return runs
