"""The inventory summary of a snapshot: counts per account, region and type, and every
recorded collection problem. Pure: takes a model and a manifest, returns lines of text."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from collections.abc import Mapping

from auditor.console import safe
from auditor.model.types import Model


def inventory_lines(model: Model, manifest: Mapping[str, Any]) -> list[str]:
    """Human-readable inventory; every error in the manifest is listed, none is summarised away."""
    lines: list[str] = []
    accounts = {a["id"]: a for a in manifest.get("accounts", [])}
    counts = model.counts()
    regions: dict[str, set[str]] = defaultdict(set)
    for t in manifest.get("tasks", []):
        regions[t["account"]].add(t["region"])
    for acct, region, _ in counts:
        regions[acct].add(region)
    status = "COMPLETE" if manifest.get("complete") else "INCOMPLETE"
    lines.append(f"Snapshot {status}: {len(manifest.get('calls', []))} calls, "
                 f"{len(manifest.get('errors', []))} errors, {len(accounts)} accounts, "
                 f"{len(manifest.get('regions', []))} regions")
    for acct in sorted(regions):
        info = accounts.get(acct, {})
        who = (info.get("identity") or {}).get("Arn") or "identity unknown"
        name = f" ({safe(info['name'])})" if info.get("name") else ""
        # values from AWS and the evidence: each kept on its line (auditor/console.py)
        lines.append(f"\naccount {safe(acct)}{name}  as {safe(who)}")
        for region in sorted(regions[acct]):
            per = {t: n for (a, r, t), n in counts.items() if a == acct and r == region}
            task = next((t for t in manifest.get("tasks", []) if t["account"] == acct and t["region"] == region), None)
            state = task["status"] if task else "collected"
            lines.append(f"  {safe(region)}  [{safe(state)}]")
            for type_name in sorted(per):
                lines.append(f"    {safe(type_name):<34} {per[type_name]:>6}")
    problems = manifest.get("account_problems", [])
    if problems:
        lines.append("\naccounts not collected:")
        lines += [f"  {safe(p['account'])}: {safe(p['message'])}" for p in problems]
    errors = manifest.get("errors", [])
    if errors:
        lines.append(f"\ncollection errors ({len(errors)}): data these calls return is missing; "
                     "rules that need it report ERROR, never PASS")
        for e in errors:
            params = f" {safe(e['params'])}" if e.get("params") else ""
            lines.append(f"  {safe(e['account'])} {safe(e['region'])} {safe(e['service'])}:{safe(e['operation'])}"
                         f"{params}  [{safe(e['kind'])}] {safe(e['code'])}: {safe(e['message'])}")
    return lines
