"""What changed between two runs: `auditor diff RUN_A RUN_B` (docs/diff.md).

`diff_bundles` reads two evidence bundles (auditor/diff_read.py) and returns the diff document,
plain JSON data published as auditor/schemas/diff.schema.json. It prints nothing. Every finding
fingerprint of either run lands in exactly one place: a listed category (`CATEGORIES`) or a
counted one (`NOT_LISTED`), so nothing is silently dropped. ERROR is "not assessed": it is
never read as passing, so an ERROR where RUN_A passed is new.

Evidence is compared only where a fingerprint is in both runs and the statuses need it: first
by each finding's text (equal text, equal finding), and only where the texts differ
by decoding both and comparing the observed values per attribute path (the records a value came
from are not compared: a record's position shifts when others are added).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.diff_read import BundleRun, DiffError, Indexed, canonical, observed_leaves, read_run
from auditor.vocabulary import SEVERITIES, severity_rank

__all__ = ["CATEGORIES", "DIFF_FORMAT", "DIFF_FORMAT_VERSION", "NOT_LISTED", "DiffError", "Gate",
           "diff_bundles", "diff_runs", "gate", "has_changes"]

DIFF_FORMAT = "private-network-auditor/diff"
DIFF_FORMAT_VERSION = 1
# The listed categories, in the order every output shows them.
CATEGORIES: tuple[str, ...] = ("new", "resolved", "changed", "still_failing", "waived", "unwaived")
# The fingerprints no category lists, counted (docs/diff.md): both runs passing or waived alike,
# or a passing result that appeared or went.
NOT_LISTED: tuple[str, ...] = ("unchanged_passing", "unchanged_not_applicable", "unchanged_waived",
                               "passing_evidence_changed", "passing_status_changed", "appeared_passing",
                               "disappeared_passing")
CLIP = 200          # characters of an observed value shown in a change
MAX_ITEMS = 20      # list items added or removed shown per change
_FAILING = frozenset({"FAIL", "ERROR"})
_PASSING = frozenset({"PASS", "NOT_APPLICABLE"})


def diff_bundles(a: Path, b: Path, *, expiring_within: int = 30) -> dict[str, Any]:
    """The diff document from bundle `a` (RUN_A, the earlier) to bundle `b` (RUN_B).
    `expiring_within`: days after RUN_B's assessment date within which an active waiver is listed
    as expiring. `DiffError` when either is not a readable bundle."""
    return diff_runs(read_run(a), read_run(b), expiring_within=expiring_within)


def diff_runs(ra: BundleRun, rb: BundleRun, *, expiring_within: int = 30) -> dict[str, Any]:
    """`diff_bundles` over runs already read."""
    if expiring_within < 0:
        raise ValueError("expiring_within must be 0 or more days")
    lists: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {c: [] for c in CATEGORIES}
    counted: Counter[str] = Counter()
    for fp, x in ra.index.items():
        _place(fp, x, rb.index.get(fp), ra, rb, lists, counted)
    for fp, y in rb.index.items():
        if fp not in ra.index:
            _place(fp, None, y, ra, rb, lists, counted)
    findings = {c: [entry for _, entry in sorted(rows, key=lambda r: r[0])] for c, rows in lists.items()}
    added = sorted(rb.resources - ra.resources)
    removed = sorted(ra.resources - rb.resources)
    doc: dict[str, Any] = {
        "format": DIFF_FORMAT, "format_version": DIFF_FORMAT_VERSION,
        "a": _summary(ra), "b": _summary(rb), "expiring_within": expiring_within,
        "notes": _notes(ra, rb),
        "counts": {**{c: len(findings[c]) for c in CATEGORIES},
                   "resources_added": len(added), "resources_removed": len(removed),
                   "not_listed": {k: counted[k] for k in NOT_LISTED},
                   "fingerprints": {"a": len(ra.index), "b": len(rb.index),
                                    "both": len(ra.index.keys() & rb.index.keys())}},
        "findings": findings,
        "resources": {"added": [_resource(r) for r in added], "removed": [_resource(r) for r in removed]},
        "waivers": _waivers(ra, rb, expiring_within),
        "packs": _packs(ra, rb),
        "config": _config(ra, rb),
    }
    doc["no_changes"] = not has_changes(doc)
    return doc


def has_changes(doc: Mapping[str, Any]) -> bool:
    """Whether the diff holds any change: a listed finding other than still failing, a resource
    added or removed, a waiver expired, added or removed, a rule pack or the config changed."""
    return (any(doc["findings"][c] for c in CATEGORIES if c != "still_failing")
            or any(doc["resources"].values())
            or any(doc["waivers"][k] for k in ("expired_since_a", "added", "removed"))
            or any(doc["packs"].values()) or bool(doc["config"]["changed"]))


# --------------------------------------------------------------------------- findings

def _place(fp: str, x: Indexed | None, y: Indexed | None, ra: BundleRun, rb: BundleRun,
           lists: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]], counted: Counter[str]) -> None:
    """Put fingerprint `fp` (A's row `x`, B's row `y`, either may be None) in its category."""
    sa, sb = (x.status if x else None), (y.status if y else None)

    def same() -> bool:   # equal evidence: equal text, else equal observed values per path
        assert x is not None and y is not None
        return (ra.text[x.start:x.end] == rb.text[y.start:y.end]
                or list(observed_leaves(ra.finding(fp))) == list(observed_leaves(rb.finding(fp))))

    cat: str | None = None
    if sb in _FAILING:
        if sa is None or sa in _PASSING:
            cat = "new"
        elif sa == "WAIVED":
            cat = "unwaived"
        else:
            cat = "still_failing" if sa == sb and same() else "changed"
    elif sb == "WAIVED":
        if sa != "WAIVED":
            cat = "waived"
        elif x is not None and y is not None and (x.waiver != y.waiver or not same()):
            cat = "changed"
        else:
            counted["unchanged_waived"] += 1
    elif sa in _FAILING:
        cat = "resolved"
    elif sa == "WAIVED":
        cat = "unwaived"
    elif sa is None:
        counted["appeared_passing"] += 1
    elif sb is None:
        counted["disappeared_passing"] += 1
    elif sa != sb:
        counted["passing_status_changed"] += 1
    elif not same():
        counted["passing_evidence_changed"] += 1
    else:
        counted["unchanged_passing" if sa == "PASS" else "unchanged_not_applicable"] += 1
    if cat is not None:
        row = y if y is not None else x
        assert row is not None
        key = (severity_rank(row.severity), row.rule_id, row.rtype, row.account, row.region, row.rid,
               row.item or "", fp)
        lists[cat].append((key, _entry(cat, fp, x, y, ra, rb)))


def _resource(r: tuple[str, str, str, str]) -> dict[str, str]:
    return {"type": r[0], "account": r[1], "region": r[2], "id": r[3]}


def _entry(cat: str, fp: str, x: Indexed | None, y: Indexed | None, ra: BundleRun, rb: BundleRun) -> dict[str, Any]:
    fb = rb.finding(fp) if y is not None else None
    fa = ra.finding(fp) if x is not None and (fb is None or cat == "changed") else None
    row, f = (y, fb) if y is not None and fb is not None else (x, fa)
    assert row is not None and f is not None
    entry: dict[str, Any] = {
        "fingerprint": fp, "rule_id": row.rule_id, "severity": row.severity,
        "resource": {"type": row.rtype, "id": row.rid, "account": row.account, "region": row.region,
                     "arn": str((f.get("resource") or {}).get("arn") or "")},
        "item": row.item, "status_a": x.status if x else None, "status_b": y.status if y else None,
        "message": str(f.get("message") or ""), "waiver": None, "reason": "", "changes": [],
    }
    resource = (row.rtype, row.account, row.region, row.rid)
    if cat == "new":
        entry["reason"] = (f"was {x.status} in RUN_A" if x else
                           "new resource: not in RUN_A" if row.rid != "*" and resource not in ra.resources
                           else "not in RUN_A")
    elif cat == "resolved":
        entry["reason"] = _gone(y, resource, rb)
    elif cat == "waived":
        assert fb is not None
        entry["waiver"] = y.waiver if y else None
        expires = (fb.get("waiver") or {}).get("expires") if isinstance(fb.get("waiver"), dict) else None
        entry["reason"] = f"waiver {y.waiver if y else ''}" + (f" (expires {expires})" if expires else "")
    elif cat == "unwaived":
        assert x is not None
        entry["waiver"] = x.waiver
        entry["reason"] = _unwaived(x, y, fb, resource, rb)
    elif cat == "changed":
        assert x is not None and y is not None and fa is not None and fb is not None
        entry["waiver"] = y.waiver if y.status == "WAIVED" else None
        changes = []
        if x.status != y.status:
            changes.append(_change("(status)", x.status, y.status))
        if x.waiver != y.waiver and "WAIVED" in (x.status, y.status):
            changes.append(_change("(waiver)", x.waiver or "none", y.waiver or "none"))
        changes += evidence_changes(fa, fb)
        entry["changes"] = changes
        entry["reason"] = "; ".join(
            [f"status {x.status} -> {y.status}"] * (x.status != y.status)
            + ["waiver changed"] * any(c["path"] == "(waiver)" for c in changes)
            + ["evidence changed"] * any(not c["path"].startswith("(") for c in changes)) or "evidence changed"
    return entry


def _gone(y: Indexed | None, resource: tuple[str, str, str, str], rb: BundleRun) -> str:
    if y is not None:
        return "passes now" if y.status == "PASS" else "not applicable now"
    if resource[3] != "*" and resource not in rb.resources:
        return "resource gone: not among RUN_B's resources"
    return "no longer evaluated: RUN_B has no such finding"


def _unwaived(x: Indexed, y: Indexed | None, fb: Mapping[str, Any] | None, resource: tuple[str, str, str, str],
              rb: BundleRun) -> str:
    """Why a finding WAIVED in RUN_A is not in RUN_B, from RUN_B's waiver register."""
    wid = x.waiver or "(unknown)"
    if y is None or y.status in _PASSING:
        return f"{_gone(y, resource, rb)}; waiver {wid} no longer needed"
    row = next((w for w in _register(rb) if w.get("id") == x.waiver), None)
    if row is None:
        return f"waiver {wid} removed from the register"
    status = row.get("status")
    carried = (fb or {}).get("waiver")   # a FAIL whose only waiver expired carries it (findings.md)
    if status == "expired" or (isinstance(carried, dict) and carried.get("status") == "expired"):
        return f"waiver {wid} expired on {row.get('expires')}"
    if status == "pending":
        return f"waiver {wid} not in effect (pending: from {row.get('created')})"
    return f"waiver {wid} no longer matches this finding (its rules or resources changed)"


def _clip(text: str) -> str:
    return text if len(text) <= CLIP else f"{text[:CLIP]}… (+{len(text) - CLIP} characters)"


def _change(path: str, a: str | None, b: str | None, added: Iterable[str] = (), removed: Iterable[str] = ()) -> dict[str, Any]:
    added, removed = list(added), list(removed)
    shown_added, shown_removed = added[:MAX_ITEMS], removed[:max(0, MAX_ITEMS - min(len(added), MAX_ITEMS))]
    return {"path": path, "a": None if a is None else _clip(a), "b": None if b is None else _clip(b),
            "added": [_clip(s) for s in shown_added], "removed": [_clip(s) for s in shown_removed],
            "omitted": len(added) + len(removed) - len(shown_added) - len(shown_removed)}


def evidence_changes(fa: Mapping[str, Any], fb: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per attribute path whose observed value differs: A's and B's value (canonical JSON,
    clipped at `CLIP` characters; None where that run has no such leaf) and, for two lists, the
    items added and removed (at most `MAX_ITEMS` shown, `omitted` counts the rest)."""
    raw_a = _by_path(fa)
    raw_b = _by_path(fb)
    out = []
    for path in sorted(set(raw_a) | set(raw_b)):
        la, lb = raw_a.get(path, []), raw_b.get(path, [])
        for i in range(max(len(la), len(lb))):
            va, vb = (la[i] if i < len(la) else None), (lb[i] if i < len(lb) else None)
            ta, tb = (canonical(va[0]) if va else None), (canonical(vb[0]) if vb else None)
            if ta == tb:
                continue
            added: list[str] = []
            removed: list[str] = []
            if va and vb and isinstance(va[0], list) and isinstance(vb[0], list):
                sa, sb = [canonical(v) for v in va[0]], [canonical(v) for v in vb[0]]
                set_a, set_b = set(sa), set(sb)
                added, removed = [s for s in sb if s not in set_a], [s for s in sa if s not in set_b]
            out.append(_change(path, ta, tb, added, removed))
    return out


def _by_path(f: Mapping[str, Any]) -> dict[str, list[tuple[Any]]]:
    out: dict[str, list[tuple[Any]]] = {}
    for leaf in f.get("evidence") or []:
        if isinstance(leaf, dict):
            out.setdefault(str(leaf.get("path", "")), []).append((leaf.get("observed"),))
    return out


# --------------------------------------------------------------------------- the runs

def _summary(r: BundleRun) -> dict[str, Any]:
    run, summary = r.run, r.head.get("summary") or {}
    accounts = sorted({str(a.get("id") or "") for a in run.get("accounts") or [] if isinstance(a, dict)})
    return {"run_id": str(r.manifest["run_id"]), "created": str(r.manifest.get("created") or ""),
            "assessed_on": str(run.get("assessed_on") or ""),
            "config_digest": str((run.get("config") or {}).get("digest") or ""),
            "complete": bool(summary.get("complete")),
            "counts": {str(k): int(v) for k, v in (summary.get("findings") or {}).items()},
            "accounts": accounts, "regions": sorted(str(x) for x in run.get("regions") or []),
            "findings": len(r.index), "bundle_sha256": r.bundle_sha256,
            "tool_version": str((run.get("tool") or {}).get("version") or "")}


def _notes(ra: BundleRun, rb: BundleRun) -> list[dict[str, str]]:
    """What a reader must know before reading the diff (each a `kind` and its `text`)."""
    a, b = _summary(ra), _summary(rb)
    notes = []
    if a["run_id"] == b["run_id"]:
        notes.append(("same_run", f"RUN_A and RUN_B are the same run ({a['run_id']})"))
    if a["created"] and b["created"] and b["created"] < a["created"]:
        notes.append(("reversed", f"RUN_B ({b['created']}) was collected before RUN_A ({a['created']}): the diff "
                                  "reads from RUN_A to RUN_B as given"))
    if a["config_digest"] != b["config_digest"]:
        notes.append(("different_configs", "runs from different configs: compared anyway (config digest "
                                           f"{a['config_digest'] or 'none'} -> {b['config_digest'] or 'none'}; see config)"))
    for key, word in (("accounts", "accounts"), ("regions", "regions")):
        only_a, only_b = sorted(set(a[key]) - set(b[key])), sorted(set(b[key]) - set(a[key]))
        if only_a or only_b:
            notes.append((f"different_{key}", f"runs over different {word}: compared anyway (only in RUN_A: "
                                              f"{', '.join(only_a) or 'none'}; only in RUN_B: {', '.join(only_b) or 'none'}); "
                                              "their findings show as new or resolved"))
    for side, s in (("RUN_A", a), ("RUN_B", b)):
        if not s["complete"]:
            notes.append((f"incomplete_{side[-1].lower()}", f"{side} is incomplete: what it did not assess is ERROR, "
                                                            "never passing"))
    for side, r in (("RUN_A", ra), ("RUN_B", rb)):
        if r.duplicates:
            notes.append((f"duplicates_{side[-1].lower()}", f"{side} has {r.duplicates} finding(s) sharing a fingerprint "
                                                            "with another: each compared by its worst status"))
    return [{"kind": k, "text": t} for k, t in notes]


def _register(r: BundleRun) -> list[dict[str, Any]]:
    rows = r.head.get("waivers")
    return [w for w in rows if isinstance(w, dict)] if isinstance(rows, list) else []


def _waiver_row(a: Mapping[str, Any] | None, b: Mapping[str, Any]) -> dict[str, Any]:
    days = b.get("days_to_expiry")
    return {"id": str(b.get("id")), "status_a": str(a.get("status")) if a else None, "status_b": str(b.get("status")),
            "expires": str(b.get("expires") or ""), "days_to_expiry": days if isinstance(days, int) else None,
            "approver": str(b.get("approver") or ""), "ticket": str(b.get("ticket") or ""),
            "rules": _rule_ids(b.get("rules"))}


def _rule_ids(value: Any) -> list[str]:
    """The register's `rules` (findings.json: one text, the ids joined by ", "; a list is taken as it is)."""
    if isinstance(value, str):
        return [r.strip() for r in value.split(",") if r.strip()]
    return [str(x) for x in value or []]


def _waivers(ra: BundleRun, rb: BundleRun, within: int) -> dict[str, list[dict[str, Any]]]:
    wa = {str(w.get("id")): w for w in _register(ra)}
    wb = {str(w.get("id")): w for w in _register(rb)}
    in_force = ("active", "stale")   # stale: in force, matching nothing
    return {
        "expired_since_a": [_waiver_row(wa[i], w) for i, w in sorted(wb.items())
                            if w.get("status") == "expired" and i in wa and wa[i].get("status") in in_force],
        "expiring": [_waiver_row(wa.get(i), w) for i, w in sorted(wb.items())
                     if w.get("status") in in_force and isinstance(w.get("days_to_expiry"), int)
                     and 0 <= w["days_to_expiry"] <= within],
        "added": [_waiver_row(None, w) for i, w in sorted(wb.items()) if i not in wa],
        "removed": [_waiver_row(None, w) | {"status_a": str(w.get("status")), "status_b": None}
                    for i, w in sorted(wa.items()) if i not in wb],
    }


def _packs(ra: BundleRun, rb: BundleRun) -> dict[str, list[dict[str, Any]]]:
    def packs(r: BundleRun) -> dict[str, Mapping[str, Any]]:
        return {str(p.get("id")): p for p in r.run.get("packs") or [] if isinstance(p, dict)}

    pa, pb = packs(ra), packs(rb)

    def short(p: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": str(p.get("id")), "version": str(p.get("version") or ""), "sha256": str(p.get("sha256") or "")}

    changed = []
    for pid in sorted(set(pa) & set(pb)):
        a, b = pa[pid], pb[pid]
        changes = [_change(k, str(a.get(k) or ""), str(b.get(k) or "")) for k in ("version", "sha256")
                   if a.get(k) != b.get(k)]
        params_a, params_b = a.get("parameters") or {}, b.get("parameters") or {}
        for name in sorted(set(params_a) | set(params_b)):
            ta = canonical(params_a[name]) if name in params_a else None
            tb = canonical(params_b[name]) if name in params_b else None
            if ta != tb:
                changes.append(_change(f"parameters.{name}", ta, tb))
        if changes:
            changed.append({**short(b), "changes": changes})
    return {"added": [short(pb[i]) for i in sorted(set(pb) - set(pa))],
            "removed": [short(pa[i]) for i in sorted(set(pa) - set(pb))], "changed": changed}


def _config(ra: BundleRun, rb: BundleRun) -> dict[str, Any]:
    da = str((ra.run.get("config") or {}).get("digest") or "")
    db = str((rb.run.get("config") or {}).get("digest") or "")
    out: dict[str, Any] = {"digest_a": da, "digest_b": db, "changed": da != db, "diff": None, "diff_note": ""}
    if da == db:
        return out
    if ra.config_text is None or rb.config_text is None:
        missing = " and ".join(s for s, r in (("RUN_A", ra), ("RUN_B", rb)) if r.config_text is None)
        out["diff_note"] = f"no config text in {missing} (a run without a config file): the digests differ"
        return out
    out["diff"] = "".join(difflib.unified_diff(ra.config_text.splitlines(keepends=True),
                                               rb.config_text.splitlines(keepends=True),
                                               fromfile="RUN_A/inputs/audit-config.yaml",
                                               tofile="RUN_B/inputs/audit-config.yaml"))
    return out


# --------------------------------------------------------------------------- the gate

@dataclass(frozen=True)
class Gate:
    """What `--fail-on-new SEVERITY` looks at (docs/diff.md): `violations`, FAIL findings of RUN_B
    at or above the severity that were not FAIL in RUN_A (new, unwaived, or not assessed before:
    ERROR -> FAIL); `new_errors`, ERROR findings of RUN_B (any severity) where RUN_A had no
    failing result (new, or unwaived)."""

    violations: int
    new_errors: int


def gate(doc: Mapping[str, Any], severity: str) -> Gate:
    """The regressions of diff document `doc` at `severity` (one of `SEVERITIES`)."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    limit = severity_rank(severity)
    f = doc["findings"]
    candidates = [*f["new"], *f["unwaived"], *(e for e in f["changed"] if e["status_a"] == "ERROR")]
    violations = sum(1 for e in candidates if e["status_b"] == "FAIL" and severity_rank(e["severity"]) <= limit)
    new_errors = sum(1 for e in (*f["new"], *f["unwaived"]) if e["status_b"] == "ERROR")
    return Gate(violations=violations, new_errors=new_errors)
