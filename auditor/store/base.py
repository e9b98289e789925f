"""The run store's contract: what a stored run is, what every store can do, retention.

A run store keeps the evidence bundles of scans over an assessment period (docs/store.md):
the local store (auditor/store/local.py: a folder of bundles and a SQLite index) and the S3
store (auditor/store/s3.py: a bucket with Object Lock). Both implement `RunStore`; commands
and reports use only this module's names, so what they do is the same for both.

Rules every store keeps:
- A bundle is written once and never rewritten: registering a run id that is already stored is
  refused (`RunExists`), and nothing is ever deleted by the tool.
- A run is registered only once all its files are stored and checked: an interrupted upload or
  copy leaves no run in the index (its leftovers are reported, never listed as a run).
- The index is a cache: it can always be rebuilt from the stored bundles (nothing is only in it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol
from collections.abc import Iterable, Mapping, Sequence

from auditor.errors import AuditorError

STORE_FORMAT = "private-network-auditor-store"
STORE_VERSION = 1


class StoreError(AuditorError):
    """A store that cannot be used: not a store, unreadable, an unknown or ambiguous run id, an
    upload refused. The command line prints it and exits 2 (docs/cli.md)."""


class RunExists(StoreError):
    """The run id is already stored: a bundle is written once and never rewritten."""


class StoredObjectChanged(StoreError):
    """A stored object's bytes are not those registered (`file`: the bundle path): the evidence
    in the store was changed behind the store's back. Nothing of the run is trusted then."""

    def __init__(self, file: str, message: str):
        self.file = file
        super().__init__(message)


@dataclass(frozen=True)
class Retention:
    """How long stored runs are kept. `days`: the whole retention; `online_days`: how long they must be
    immediately available (PCI DSS 10.5.1: three of the twelve months); `mode`: S3 Object Lock's
    ``compliance`` or ``governance`` (the local store reports retention, it cannot enforce it);
    `source`: where the figures come from (the regime's default or the config), for the reports."""

    days: int
    online_days: int
    mode: str = "compliance"
    regime: str = ""
    source: str = ""


# Documented defaults per regime (docs/store.md): the retention a regime asks for audit evidence.
# PCI DSS v4.0.1 10.5.1: audit log history kept at least 12 months, the last three months
# immediately available. HIPAA 45 CFR 164.316(b)(2)(i): documentation kept six years from
# its creation or last effective date (6 x 365 days plus the at most two leap days of six years).
REGIME_RETENTION: Mapping[str, Retention] = {
    "pci-dss": Retention(days=365, online_days=90, regime="pci-dss",
                         source="PCI DSS v4.0.1 10.5.1: 12 months, 3 immediately available"),
    "hipaa": Retention(days=6 * 365 + 2, online_days=6 * 365 + 2, regime="hipaa",
                       source="HIPAA 45 CFR 164.316(b)(2)(i): 6 years"),
}


@dataclass(frozen=True)
class StoreSpec:
    """Where and how a store is (the config's `store:` block, or `--store`): `location` a folder
    or ``s3://bucket/prefix``; `region` and `profile` the S3 store's own session (never a
    collection session); `retention` None: the regime's default or, without one, none stated."""

    location: str
    region: str | None = None
    profile: str | None = None
    retention: Retention | None = None

    @property
    def is_s3(self) -> bool:
        return self.location.startswith("s3://")


@dataclass(frozen=True)
class StoredRun:
    """One run in a store: what `auditor history` lists and the period report reads.

    Everything but `registered`, `location`, `retain_until` and `signer` comes from the bundle
    itself (`describe_bundle`), so the index can be rebuilt from the bundles."""

    run_id: str                        # bundle.json run_id
    created: str                       # when the evidence was collected (bundle.json created, ISO UTC)
    assessed_on: str                   # findings.json run.assessed_on (YYYY-MM-DD): waivers are judged as of it
    accounts: tuple[str, ...]          # the account ids of findings.json run.accounts
    regions: tuple[str, ...]
    organization: str
    config_digest: str                 # findings.json run.config.digest ("" without a config)
    compliance_profile: str
    complete: bool                     # findings.json summary.complete
    counts: Mapping[str, int]          # findings by status (findings.json summary.findings)
    signed: bool                       # bundle.sig present
    bundle_sha256: str                 # SHA-256 of bundle.json's bytes: names the whole bundle
    manifest_sha256: str               # the snapshot manifest's SHA-256 (bundle.json)
    tool_version: str
    registered: str = ""               # when the store took it (ISO UTC)
    signer: str = ""                   # who signed bundle.sig, when known at registration ("" unknown)
    location: str = ""                 # where the bundle is: a folder, or s3://bucket/prefix/runs/<id>/
    retain_until: str = ""             # the retention's end (YYYY-MM-DD; S3: the Object Lock date)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def day(self) -> date:
        """The collection day (UTC)."""
        return date.fromisoformat(self.created[:10])

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "created": self.created, "assessed_on": self.assessed_on,
                "accounts": list(self.accounts), "regions": list(self.regions), "organization": self.organization,
                "config_digest": self.config_digest, "compliance_profile": self.compliance_profile,
                "complete": self.complete, "counts": dict(self.counts), "signed": self.signed,
                "bundle_sha256": self.bundle_sha256, "manifest_sha256": self.manifest_sha256,
                "tool_version": self.tool_version, "registered": self.registered, "signer": self.signer,
                "location": self.location, "retain_until": self.retain_until}


class RunStore(Protocol):
    """What every store does (auditor/store/local.py, auditor/store/s3.py)."""

    @property
    def description(self) -> str:
        """One line naming the store (its folder or s3:// address), for messages and reports."""
        ...

    def register(self, bundle: Path, *, signer: str = "") -> StoredRun:
        """Store the bundle folder `bundle` (written once; `RunExists` when its run id is stored)
        and index it; the run is listed only once every file is stored and checked."""
        ...

    def runs(self, *, since: date | None = None, until: date | None = None,
             account: str | None = None) -> list[StoredRun]:
        """The stored runs collected on days `since`..`until` (inclusive; None: open), with
        `account` among their accounts, oldest first (by `created`, then run id)."""
        ...

    def get(self, ref: str) -> StoredRun:
        """The run `ref` names: a run id, a unique prefix of one (6 characters or more),
        ``latest`` or ``previous`` (the one before the latest). `StoreError` otherwise."""
        ...

    def fetch(self, run: StoredRun, into: Path | None = None) -> Path:
        """A local folder holding the run's bundle exactly as stored (the local store: its own
        folder, never to be written; the S3 store: downloaded into `into` or a temporary folder)."""
        ...

    def retention(self) -> Retention:
        """The store's retention (what Object Lock applies, or what the local store reports)."""
        ...


MIN_PREFIX = 6   # the shortest run id prefix `resolve_ref` accepts


def select_runs(runs: Iterable[StoredRun], *, since: date | None = None, until: date | None = None,
                account: str | None = None) -> list[StoredRun]:
    """`RunStore.runs`' filter and order, the same for every store: collected on days
    `since`..`until` (inclusive; a run without a readable collection day is outside any bound),
    with `account` among its accounts, oldest first (by `created`, then run id)."""
    found = []
    for run in runs:
        try:
            day: date | None = run.day
        except ValueError:
            day = None
        if since is not None and (day is None or day < since):
            continue
        if until is not None and (day is None or day > until):
            continue
        if account is not None and account not in run.accounts:
            continue
        found.append(run)
    return sorted(found, key=lambda r: (r.created, r.run_id))


def resolve_ref(runs: Sequence[StoredRun], ref: str, where: str) -> StoredRun:
    """`RunStore.get` for every store: the run of `runs` (oldest first) that `ref` names - a run
    id, a unique prefix of `MIN_PREFIX` characters or more, ``latest`` or ``previous``; else a
    `StoreError` that says why, naming `where` (the store) and the closest run ids."""
    if ref in ("latest", "previous"):
        need = 1 if ref == "latest" else 2
        if len(runs) < need:
            raise StoreError(f"{where} holds {len(runs)} run(s): there is no {ref} run")
        return runs[-need]
    ids = {r.run_id: r for r in runs}
    if ref in ids:
        return ids[ref]
    if len(ref) >= MIN_PREFIX:
        matches = [r for r in runs if r.run_id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise StoreError(f"run id prefix {ref!r} is ambiguous in {where}: it matches "
                             f"{', '.join(r.run_id for r in matches)}")
    if not runs:
        raise StoreError(f"no run {ref!r} in {where}: the store holds no runs")
    import difflib

    close = difflib.get_close_matches(ref, list(ids), n=3, cutoff=0.0)
    short = (f" (a run id prefix needs {MIN_PREFIX} characters or more)"
             if len(ref) < MIN_PREFIX and any(i.startswith(ref) for i in ids) else "")
    raise StoreError(f"no run {ref!r} in {where}{short}; the closest stored run ids: {', '.join(close)}")


def _bundle_manifest(folder: Path) -> tuple[bytes, dict[str, Any]]:
    from auditor.bundle import BUNDLE_FILE

    try:
        raw = (folder / BUNDLE_FILE).read_bytes()
        manifest = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise StoreError(f"{folder} is not a readable evidence bundle ({exc})") from None
    if not isinstance(manifest, dict) or "run_id" not in manifest:
        raise StoreError(f"{folder} is not an evidence bundle (bundle.json has no run_id)")
    return raw, manifest


def bundle_run_id(folder: Path) -> str:
    """The run id of the bundle folder `folder` (its bundle.json alone, not its findings);
    `StoreError` when it has no readable bundle.json with one."""
    return str(_bundle_manifest(folder)[1]["run_id"])


def describe_bundle(folder: Path) -> StoredRun:
    """A `StoredRun` from a bundle folder's bundle.json and findings.json (nothing of the store).
    `StoreError` when the folder is not a bundle with a findings.json."""
    from auditor.bundle import SIGNATURE_FILE

    raw, manifest = _bundle_manifest(folder)
    try:
        findings = json.loads((folder / "findings.json").read_bytes())
    except (OSError, ValueError) as exc:
        raise StoreError(f"{folder} is not a readable evidence bundle ({exc})") from None
    if not isinstance(findings, dict):
        raise StoreError(f"{folder} is not an evidence bundle (findings.json is not a JSON object)")
    run = findings.get("run") or {}
    summary = findings.get("summary") or {}
    accounts = tuple(sorted(str(a.get("id") or "") for a in run.get("accounts") or [] if isinstance(a, dict)))
    regions = tuple(sorted({str(r) for a in run.get("accounts") or [] if isinstance(a, dict)
                            for r in a.get("regions") or []}))
    config = run.get("config") or {}
    return StoredRun(
        run_id=str(manifest["run_id"]), created=str(manifest.get("created") or ""),
        assessed_on=str(run.get("assessed_on") or ""), accounts=accounts, regions=regions,
        organization=str(config.get("organization") or ""), config_digest=str(config.get("digest") or ""),
        compliance_profile=str(run.get("compliance_profile") or ""), complete=bool(summary.get("complete")),
        counts={str(k): int(v) for k, v in (summary.get("findings") or {}).items()},
        signed=(folder / SIGNATURE_FILE).is_file(), bundle_sha256=hashlib.sha256(raw).hexdigest(),
        manifest_sha256=str(manifest.get("snapshot_manifest_sha256") or ""),
        tool_version=str((manifest.get("tool") or {}).get("version") or ""))
