"""Hand-made evidence bundles for the diff tests (tests/test_diff.py, tests/test_cli_diff.py):
findings.json and bundle.json written directly from a few findings, with the SHA-256 of every
file in bundle.json as a scan writes it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

ACCOUNT, REGION = "111111111111", "eu-west-1"
CONFIG = "version: 1\naccounts: [{id: '111111111111'}]\nregions: [eu-west-1]\nwaivers: waivers.yaml\n"
PACKS = [{"id": "net", "version": "1.0.0", "sha256": "a" * 64, "parameters": {"ports": [22, 3389]}}]


def finding(rule: str, rid: str, status: str, *, severity: str = "high", observed: Any = "x",
            waiver: str | None = None, waiver_status: str = "active", rtype: str = "subnet",
            account: str = ACCOUNT, region: str = REGION, item: str | None = None, message: str | None = None,
            source: str = "records/a.json#/0", path: str = "attr") -> dict[str, Any]:
    """One finding (its fingerprint made from rule and resource, as the tool does)."""
    key = json.dumps([rule, account, region, rtype, rid, [path], item]).encode()
    f: dict[str, Any] = {
        "fingerprint": hashlib.sha256(key).hexdigest()[:20], "rule_id": rule, "severity": severity,
        "status": status, "item": item, "message": message or f"{rtype} {rid}: {rule} {status.lower()}",
        "resource": {"type": rtype, "id": rid, "account": account, "region": region,
                     "arn": f"arn:aws:ec2:{region}:{account}:{rtype}/{rid}", "vpc_id": ""},
        "evidence": [{"path": path, "observed": observed, "expected": "as the rule says",
                      "holds": {"PASS": True, "FAIL": False, "WAIVED": False}.get(status), "sources": [source]}]}
    if waiver:
        f["waiver"] = {"id": waiver, "status": waiver_status, "approver": "ciso@example.com", "ticket": "RISK-1",
                       "expires": "2026-06-30"}
    return f


def waiver_row(wid: str, status: str, expires: str, days: int, rules: tuple[str, ...] = ("R-001",)) -> dict[str, Any]:
    # As findings.json's waiver register writes them (auditor/rules/waivers.py register_rows): one text each.
    return {"id": wid, "rules": ", ".join(rules), "resources": "id subnet-1", "approver": "ciso@example.com",
            "ticket": "RISK-1", "created": "2026-01-01", "expires": expires, "status": status,
            "days_to_expiry": days, "justification": "Legacy subnet retired this quarter under CHG-2."}


def bundle(folder: Path, findings: list[dict[str, Any]], *, run_id: str = "run-a", created: str = "2026-03-01T10:00:00Z",
           assessed_on: str = "2026-03-01", config: str | None = CONFIG, config_digest: str | None = None,
           packs: list[dict[str, Any]] | None = None, waivers: list[dict[str, Any]] | None = None,
           accounts: tuple[str, ...] = (ACCOUNT,), regions: tuple[str, ...] = (REGION,),
           complete: bool = True, layout: str = "canonical") -> Path:
    """Write a bundle of `findings` into `folder` (made) and return it. `layout`: ``canonical``
    (as a scan writes findings.json) or ``compact`` (one line: any JSON must do)."""
    folder.mkdir(parents=True)
    counts = {s: sum(1 for f in findings if f["status"] == s) for s in ("FAIL", "ERROR", "WAIVED", "PASS", "NOT_APPLICABLE")}
    digest = config_digest if config_digest is not None else (
        "sha256:" + hashlib.sha256(config.encode()).hexdigest() if config is not None else "")
    doc = {"format": "private-network-auditor/findings", "format_version": 1,
           "findings": sorted(findings, key=lambda f: (f["rule_id"], f["resource"]["id"])),
           "run": {"assessed_on": assessed_on, "tool": {"name": "private-network-auditor", "version": "0.1.0"},
                   "config": {"digest": digest, "organization": "Example", "collected_with_digest": digest},
                   "packs": PACKS if packs is None else packs,
                   "accounts": [{"id": a, "regions": list(regions)} for a in accounts], "regions": list(regions)},
           "summary": {"findings": counts, "complete": complete},
           "waivers": waivers or [], "topology": {"status": "not_drawn", "reason": "test", "diagrams": []}}
    if layout == "canonical":
        text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    else:
        text = json.dumps(doc, separators=(",", ":"))
    files = {"findings.json": text.encode()}
    if config is not None:
        files["inputs/audit-config.yaml"] = config.encode()
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    manifest = {"format": "private-network-auditor-bundle", "version": 1, "run_id": run_id, "created": created,
                "files": {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())}}
    (folder / "bundle.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return folder
