"""Merge shard snapshots (``auditor collect --shard i/N``) into one snapshot.

Every shard is verified first (`load_snapshot`: hashes, shapes, links). They must be shards
of the same run: the same config digest, number of shards, regions, tool and redaction key,
distinct indexes, and the same account list (each shard names the other shards' accounts). A
record file found in two shards (the Organizations discovery calls every shard makes) is kept
once when its bytes are the same and is a conflict otherwise; any other record must belong to
an account of the shard that holds it. A shard not given leaves its accounts as accounts that
could not be collected, with why, so the merged snapshot is not complete and a scan shows
them as ERROR gaps.

The merged snapshot is an ordinary snapshot (its manifest's ``shard`` section says which
shards it holds): `load_snapshot` verifies it, and its findings are those of one run over
every account (the manifest's ``finished`` is the last shard's, which sets the assessment
date).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.errors import SnapshotError
from auditor.snapshot.reader import Snapshot, load_snapshot, read_confined
from auditor.snapshot.records import DISCOVERY_REGION
from auditor.snapshot.shards import METHOD, shard_of
from auditor.snapshot.writer import SnapshotWriter, _write_bytes

__all__ = ["MergeResult", "merge_snapshots"]

# What every shard of one run has in common (manifest key -> what it is, for the error).
_SAME = {"config": "audit config", "region_choice": "regions", "tool": "tool version"}


def _same(manifest: Mapping[str, Any], key: str) -> Any:
    """What must agree between shards under `key` (the config by its digest: its path may differ)."""
    value = manifest.get(key)
    if key == "config" and isinstance(value, dict):
        return value.get("digest"), value.get("organization")
    return value


@dataclass(frozen=True)
class MergeResult:
    path: Path
    manifest: Mapping[str, Any]

    @property
    def complete(self) -> bool:
        return bool(self.manifest.get("complete"))


def _shard_section(snap: Snapshot) -> dict[str, Any]:
    sh = snap.manifest.get("shard")
    where = snap.path / "manifest.json"
    if sh is None:
        raise SnapshotError(f"{where}: not a shard snapshot (collected without --shard i/N); nothing to merge")
    ok = (isinstance(sh, dict) and isinstance(sh.get("index"), int) and isinstance(sh.get("count"), int)
          and isinstance(sh.get("accounts"), list) and all(isinstance(a, str) for a in sh["accounts"])
          and isinstance(sh.get("other_shards"), list)
          and all(isinstance(o, dict) and isinstance(o.get("index"), int) and isinstance(o.get("accounts"), list)
                  and all(isinstance(a, str) for a in o["accounts"]) for o in sh["other_shards"]))
    if not ok or "merged" in sh:
        raise SnapshotError(f"{where}: malformed 'shard' section (index, count, accounts, other_shards), or a "
                            "snapshot that is already merged")
    return dict(sh)


def _key_id(manifest: Mapping[str, Any]) -> Any:
    red = manifest.get("redaction")
    return red.get("key_id") if isinstance(red, dict) else None


def merge_snapshots(sources: Sequence[Path], out: Path) -> MergeResult:
    """Merge the shard snapshots `sources` into the new snapshot folder `out`; see the module
    docstring. `SnapshotError` naming the snapshot and what is wrong when they cannot be merged
    (nothing is written then)."""
    if not sources:
        raise SnapshotError("give the shard snapshots to merge")
    snaps = sorted((load_snapshot(p) for p in sources), key=lambda s: _shard_section(s)["index"])
    sections = [_shard_section(s) for s in snaps]
    first, head = snaps[0], sections[0]
    count = head["count"]
    seen: dict[int, Path] = {}
    all_ids: set[str] | None = None
    owner: dict[str, int] = {}
    for snap, sh in zip(snaps, sections, strict=True):
        name = f"{snap.path} (shard {sh['index']}/{sh['count']})"
        if sh["count"] != count:
            raise SnapshotError(f"{name}: a shard of {sh['count']}, but {first.path} is a shard of {count}: not "
                                "shards of the same run")
        if sh["index"] in seen:
            raise SnapshotError(f"{name}: shard {sh['index']}/{count} is given twice ({seen[sh['index']]} too)")
        seen[sh["index"]] = snap.path
        for key, what in _SAME.items():
            if _same(snap.manifest, key) != _same(first.manifest, key):
                raise SnapshotError(f"{name}: its {what} differs from {first.path}'s ({key}): not shards of the "
                                    "same run")
        if _key_id(snap.manifest) != _key_id(first.manifest) and None not in (_key_id(snap.manifest),
                                                                              _key_id(first.manifest)):
            raise SnapshotError(f"{name}: redacted with another key than {first.path}: not shards of the same run")
        ids = set(sh["accounts"]) | {a for o in sh["other_shards"] for a in o["accounts"]}
        if all_ids is not None and ids != all_ids:
            diff = sorted(ids ^ all_ids)
            raise SnapshotError(f"{name}: its account list differs from the other shards' (e.g. {diff[0]}): the "
                                "organisation changed between the shards' runs; collect the shards again")
        all_ids = ids
        for acct in sh["accounts"]:
            if shard_of(acct, count) != sh["index"]:
                raise SnapshotError(f"{name}: lists account {acct} as its own, which belongs to shard "
                                    f"{shard_of(acct, count)}/{count}")
            owner[acct] = sh["index"]
    assert all_ids is not None
    files: dict[str, str] = {}
    origin: dict[str, Snapshot] = {}
    calls: dict[str, dict[str, Any]] = {}
    for snap, sh in zip(snaps, sections, strict=True):
        entries = {c["record"]: c for c in snap.manifest.get("calls", [])}
        for rel, digest in snap.manifest["files"].items():
            entry = entries.get(rel, {})
            acct, region = entry.get("account"), entry.get("region")
            if not rel.startswith("records/"):
                raise SnapshotError(f"{snap.path / rel}: a shard snapshot holds only records")
            if region != DISCOVERY_REGION and owner.get(str(acct)) != sh["index"]:
                raise SnapshotError(f"{snap.path / rel}: a record of account {acct}, which is not one of shard "
                                    f"{sh['index']}/{count}'s accounts")
            if rel in files:
                if files[rel] != digest:
                    raise SnapshotError(f"conflict: {rel} differs between {origin[rel].path} and {snap.path} (the "
                                        "same call answered differently); the shards saw different states: "
                                        "collect them again")
                continue
            files[rel], origin[rel] = digest, snap
            if rel in entries:
                calls[rel] = entries[rel]
    missing = [j for j in range(1, count + 1) if j not in seen]
    meta = _merged_meta(snaps, sections, owner, missing, count)
    writer = SnapshotWriter(out)
    try:
        for rel, snap in origin.items():
            data = read_confined(snap.path, rel)
            if "sha256:" + hashlib.sha256(data).hexdigest() != files[rel]:
                raise SnapshotError(f"{snap.path / rel}: changed while it was merged")
            _write_bytes(writer.partial / rel, data, sync=False)
        writer.adopt(files, calls.values())
    except BaseException:
        writer.abort(meta, "the merge failed")
        raise
    path = writer.finish(meta)
    return MergeResult(path, writer.manifest)


def _merged_meta(snaps: Sequence[Snapshot], sections: Sequence[Mapping[str, Any]], owner: Mapping[str, int],
                 missing: Sequence[int], count: int) -> dict[str, Any]:
    """The merged manifest's run metadata (the writer adds calls, errors and files)."""
    first = snaps[0].manifest
    absent = set(missing)

    def gone(acct: str) -> str:
        return (f"not collected: the account belongs to shard {shard_of(acct, count)}/{count}, which is not among "
                "the merged snapshots")

    accounts: dict[str, dict[str, Any]] = {}
    tasks: dict[tuple[str, str], dict[str, Any]] = {}
    org_problems: list[dict[str, Any]] = []
    for snap, sh in zip(snaps, sections, strict=True):
        for acct in snap.manifest.get("accounts", []):
            aid = acct["id"]
            if owner.get(aid) == sh["index"]:
                accounts[aid] = dict(acct)
            elif shard_of(aid, count) in absent and aid not in accounts:
                accounts[aid] = dict(acct) | {"problem": gone(aid)}
        for task in snap.manifest.get("tasks", []):
            key = (task["account"], task["region"])
            if owner.get(task["account"]) == sh["index"] or task["account"] not in owner and \
                    task["account"] not in {a for o in sh["other_shards"] for a in o["accounts"]}:
                tasks.setdefault(key, dict(task))   # its own, or the organisation's (discovery) gaps
            elif shard_of(task["account"], count) in absent and key not in tasks:
                tasks[key] = dict(task) | {"reason": gone(task["account"])}
        for p in snap.manifest.get("account_problems", []):
            if p["account"] == "organization" and p not in org_problems:   # discovery's, in every shard
                org_problems.append(dict(p))
    ordered = sorted(accounts.values(), key=lambda m: m["id"])
    problems = [{"account": a["id"], "message": a["problem"]} for a in ordered if a.get("problem")]
    task_list = [tasks[k] for k in sorted(tasks)]
    regions = sorted(({r for a in ordered for r in a.get("regions") or ()} | {t["region"] for t in task_list})
                     - {"all"})
    redaction = dict(first.get("redaction") or {})
    if "values_redacted" in redaction:
        redaction["values_redacted"] = sum(int((s.manifest.get("redaction") or {}).get("values_redacted", 0))
                                           for s in snaps)
    return {
        "tool": first.get("tool"),
        "started": min(str(s.manifest.get("started", "")) for s in snaps),
        "finished": max(str(s.manifest.get("finished", "")) for s in snaps),
        "config": first.get("config"), "accounts": ordered, "regions": regions,
        "region_choice": first.get("region_choice"), "redaction": redaction,
        "account_problems": problems + org_problems, "tasks": task_list,
        "shard": {"count": count, "method": METHOD, "merged": [sh["index"] for sh in sections],
                  "missing": list(missing),
                  "sources": [{"index": sh["index"], "snapshot": str(s.path), "manifest_sha256": s.manifest_sha256}
                              for s, sh in zip(snaps, sections, strict=True)]},
    }
