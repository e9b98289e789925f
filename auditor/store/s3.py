"""The S3 run store: evidence bundles in a bucket with Object Lock (docs/store.md, "The S3 store").

Layout under ``s3://bucket/prefix/``:

    store.json                         the store marker (format, version, retention), written once
    runs/<run_id>/<attempt>/<path>     every file of a bundle, one upload attempt per folder
    index/<run_id>.json                the registration marker: the run exists once it exists

Every object is written with PutObject ``If-None-Match: *`` (never over an existing key), its
SHA-256 (S3 checks the bytes it receives) and an Object Lock retention (mode and retain-until
date), and every object is read back by the VersionId recorded at registration: a later PUT of
the same key makes a version the store never reads, a delete marker hides nothing (listings
are of versions). A registration marker's first version is the registration; later ones are
ignored. An upload interrupted before its marker is written leaves an attempt folder that is
never listed as a run (`leftovers()` reports it); registering the same run again uploads into
the next attempt folder, since the keys of the first are taken for good.

The store talks to S3 through a botocore session of its own (``spec.profile`` or the default
credential chain), never a collection session, guarded by auditor/store/guard.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

from auditor import __version__
from auditor.store.guard import install as install_guard
from auditor.store.base import (
    STORE_FORMAT, STORE_VERSION, Retention, RunExists, StoredObjectChanged, StoredRun, StoreError, StoreSpec,
    describe_bundle, resolve_ref, select_runs,
)

MODES = {"compliance": "COMPLIANCE", "governance": "GOVERNANCE"}
STORE_MARKER = "store.json"
RUNS = "runs/"
INDEX = "index/"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_CHUNK = 1 << 20

__all__ = ["Leftover", "S3Store", "StoredObjectChanged"]


@dataclass(frozen=True)
class Leftover:
    """An upload attempt folder with no registration marker pointing at it: an interrupted or
    refused upload (never a run). `registered`: the run id was registered by another attempt."""

    run_id: str
    attempt: str
    location: str
    objects: int
    registered: bool


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_location(location: str) -> tuple[str, str]:
    """``s3://bucket[/prefix]`` -> (bucket, prefix ending in "/" or "")."""
    bucket, _, prefix = location[len("s3://"):].partition("/")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise StoreError(f"{location}: not an S3 store location (s3://BUCKET[/PREFIX] with a valid bucket name)")
    prefix = prefix.strip("/")
    if "//" in prefix:
        raise StoreError(f"{location}: the prefix has an empty path segment")
    if {".", ".."} & set(prefix.split("/")):
        raise StoreError(f"{location}: the prefix has a . or .. segment")
    return bucket, f"{prefix}/" if prefix else ""


def _validated(retention: Retention, where: str) -> Retention:
    if retention.mode not in MODES:
        raise StoreError(f"{where}: retention mode {retention.mode!r} is not one of {', '.join(MODES)}")
    if not isinstance(retention.days, int) or retention.days < 1:
        raise StoreError(f"{where}: an S3 store needs retention days >= 1 (Object Lock without a date protects "
                         "nothing); set the store's retention or a regime, or a default retention on the bucket")
    return retention


def _at_least(retention: Retention, default: Retention | None) -> Retention:
    """`retention`, never shorter nor weaker than the bucket's default retention: an explicit
    retain-until date on a PUT replaces the bucket's default for that object, so asking for less
    would undo the bucket owner's floor."""
    if default is None:
        return retention
    days = max(retention.days, default.days)
    mode = "compliance" if "compliance" in (retention.mode, default.mode) else retention.mode
    if (days, mode) == (retention.days, retention.mode):
        return retention
    return replace(retention, days=days, online_days=max(retention.online_days, min(days, default.online_days)),
                   mode=mode, source=f"{retention.source or 'the store'}, raised to {default.source}")


def _error(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error") or {}
        code = str(err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "")
        return code, str(err.get("Message") or "")
    return type(exc).__name__, str(exc)


class S3Store:
    """A run store in an S3 bucket with Object Lock (see the module's docstring)."""

    def __init__(self, spec: StoreSpec, client: Any, bucket: str, prefix: str, retention: Retention,
                 clock: Callable[[], dt.datetime]):
        self.spec, self.client, self.bucket, self.prefix = spec, client, bucket, prefix
        self._retention, self._clock = retention, clock

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, spec: StoreSpec, create: bool = False, session: Any = None,
             clock: Callable[[], dt.datetime] = _utc_now) -> S3Store:
        """The store at `spec.location`. The bucket must have Object Lock (and so versioning)
        enabled; the prefix must hold a store marker, or be empty with `create` (then the marker
        is written, with the retention: `spec.retention`, else the bucket's default retention,
        else refused). `session`: a botocore session (default: one of the store's own from
        `spec.profile`); the store guard is installed on it."""
        bucket, prefix = _parse_location(spec.location)
        if session is None:
            try:
                session = botocore.session.Session(profile=spec.profile)
            except BotoCoreError as exc:
                raise StoreError(f"{spec.location}: cannot make the store's AWS session ({exc})") from None
        install_guard(session)
        try:
            region = spec.region or session.get_config_variable("region") or None
            client = session.create_client(
                "s3", region_name=region, config=Config(
                    retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=10, read_timeout=60,
                    user_agent_extra=f"private-network-auditor/{__version__}"))
        except BotoCoreError as exc:
            raise StoreError(f"{spec.location}: cannot make the store's S3 client ({exc})") from None
        store = cls(spec, client, bucket, prefix, Retention(days=0, online_days=0), clock)
        lock_default = store._check_bucket()
        marker = store._read_json(prefix + STORE_MARKER)
        if marker is None:
            if not create:
                raise StoreError(f"{store.description} is not a run store (no {STORE_MARKER}); a scan registering "
                                 "its first run creates one")
            if store._any_version(prefix):
                raise StoreError(f"{store.description} holds objects but no {STORE_MARKER}: not a run store, and "
                                 "a store is only created under an empty prefix")
            # no retention anywhere: days 0, which _validated refuses with the ways to give one
            retention = spec.retention or lock_default or Retention(days=0, online_days=0)
            store._retention = _at_least(_validated(retention, store.description), lock_default)
            store._create_marker()
            return store
        if marker.get("format") != STORE_FORMAT or marker.get("version") != STORE_VERSION:
            raise StoreError(f"{store.description}{STORE_MARKER} is not a run store marker of version "
                             f"{STORE_VERSION} (format {marker.get('format')!r}, version {marker.get('version')!r})")
        recorded = marker.get("retention") or {}
        retention = spec.retention or Retention(
            days=int(recorded.get("days") or 0), online_days=int(recorded.get("online_days") or 0),
            mode=str(recorded.get("mode") or "compliance"), regime=str(recorded.get("regime") or ""),
            source=str(recorded.get("source") or "") or f"{STORE_MARKER} of the store")
        store._retention = _at_least(_validated(retention, store.description), lock_default)
        return store

    def _check_bucket(self) -> Retention | None:
        """Refuse a missing bucket or one without Object Lock or versioning; the bucket's default
        retention, when it has one."""
        where = f"s3://{self.bucket}"
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            code, message = _error(exc)
            if code in ("404", "NoSuchBucket"):
                raise StoreError(f"{where}: the bucket does not exist (create it with Object Lock enabled, "
                                 "docs/store.md)") from None
            raise self._failed("opening the bucket", where, exc) from None
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket).get("ObjectLockConfiguration") or {}
        except ClientError as exc:
            if _error(exc)[0] == "ObjectLockConfigurationNotFoundError":
                config = {}
            else:
                raise self._failed("reading the bucket's Object Lock configuration", where, exc) from None
        except BotoCoreError as exc:
            raise self._failed("reading the bucket's Object Lock configuration", where, exc) from None
        if config.get("ObjectLockEnabled") != "Enabled":
            raise StoreError(f"{where}: the bucket does not have S3 Object Lock enabled, so stored runs could be "
                             "deleted or overwritten; the store promises immutability and refuses it (enable Object "
                             "Lock, docs/store.md)")
        try:
            versioning = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        except (ClientError, BotoCoreError) as exc:
            raise self._failed("reading the bucket's versioning", where, exc) from None
        if versioning != "Enabled":
            raise StoreError(f"{where}: versioning is {versioning or 'off'}; Object Lock needs it enabled")
        default = (config.get("Rule") or {}).get("DefaultRetention") or {}
        if not default:
            return None
        mode = str(default.get("Mode") or "").lower()
        # A year in days, rounded up (366), so that a store never asks for less than the bucket's default.
        days = int(default.get("Days") or 0) or int(default.get("Years") or 0) * 366
        return Retention(days=days, online_days=days, mode=mode,
                         source=f"the default retention of bucket {self.bucket} ({mode}, {days} days)")

    def _create_marker(self) -> None:
        r = self._retention
        doc = {"format": STORE_FORMAT, "version": STORE_VERSION, "kind": "s3", "created": _iso(self._clock()),
               "retention": {"days": r.days, "online_days": r.online_days, "mode": r.mode, "regime": r.regime,
                             "source": r.source}}
        try:
            self._put(self.prefix + STORE_MARKER, _dumps(doc), self._retain_until())
        except _Taken:
            pass   # another writer created it at the same moment: the store exists

    # -- the contract -------------------------------------------------------------------------

    @property
    def description(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def retention(self) -> Retention:
        return self._retention

    def register(self, bundle: Path, *, signer: str = "") -> StoredRun:
        run = describe_bundle(bundle)
        if not _SAFE_ID.fullmatch(run.run_id):
            raise StoreError(f"{bundle}: run id {run.run_id!r} is not a plain name")
        files = _bundle_contents(bundle)
        marker = self._marker_key(run.run_id)
        if any(k == marker for k, _, _ in self._first_versions(marker)):
            raise RunExists(f"run {run.run_id} is already stored in {self.description}: a bundle is written once")
        attempt = str(max((int(a) for a in self._attempts(run.run_id) if a.isdigit()), default=0) + 1)
        base = f"{self.prefix}{RUNS}{run.run_id}/{attempt}/"
        until = self._retain_until()
        recorded: dict[str, dict[str, Any]] = {}
        for rel in files:
            data = (bundle / rel).read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest != files[rel]:
                raise StoreError(f"{bundle}: {rel} changed while it was being stored; run {run.run_id} not registered")
            try:
                version = self._put(base + rel, data, until)
            except _Taken:
                raise StoreError(f"s3://{self.bucket}/{base}{rel} exists already: another registration of run "
                                 f"{run.run_id} is uploading; run {run.run_id} not registered") from None
            except StoreError as exc:
                raise StoreError(f"{exc}; run {run.run_id} not registered (the files already uploaded stay under "
                                 f"s3://{self.bucket}/{base}, reported as leftovers)") from None
            recorded[rel] = {"sha256": digest, "size": len(data), "version_id": version}
        stored = replace(run, registered=_iso(self._clock()), signer=signer, location=f"s3://{self.bucket}/{base}",
                         retain_until=until.date().isoformat())
        doc = {"format": STORE_FORMAT, "version": STORE_VERSION, "kind": "run", "run": stored.to_json(),
               "attempt": attempt, "registered": stored.registered,
               "object_lock": {"mode": MODES[self._retention.mode], "retain_until": _iso(until)}, "files": recorded}
        try:
            self._put(self._marker_key(run.run_id), _dumps(doc), until)
        except _Taken:
            raise RunExists(f"run {run.run_id} was registered in {self.description} by another writer meanwhile; "
                            f"this upload (s3://{self.bucket}/{base}) is left over") from None
        except StoreError as exc:
            raise StoreError(f"{exc}; run {run.run_id} not registered (its files stay under s3://{self.bucket}/{base}, "
                             "reported as leftovers)") from None
        return replace(stored, extra={"attempt": attempt, "lock_mode": MODES[self._retention.mode]})

    def runs(self, *, since: date | None = None, until: date | None = None,
             account: str | None = None) -> list[StoredRun]:
        found = []
        for key, version, count in self._first_versions(self.prefix + INDEX):
            if key.endswith(".json"):
                found.append(self._run_from_marker(key, self._read_version_json(key, version), count))
        return select_runs(found, since=since, until=until, account=account)

    def get(self, ref: str) -> StoredRun:
        return resolve_ref(self.runs(), ref, self.description)

    def fetch(self, run: StoredRun, into: Path | None = None) -> Path:
        key = self._marker_key(run.run_id)
        first = next((v for k, v, _ in self._first_versions(key) if k == key), None)
        if first is None:
            raise StoreError(f"{self.description}: no run {run.run_id!r}")
        doc = self._read_version_json(key, first)
        files: dict[str, Any] = doc.get("files") or {}
        base = f"{self.prefix}{RUNS}{run.run_id}/{doc.get('attempt')}/"
        made = into is None or not into.exists()
        folder = Path(tempfile.mkdtemp(prefix=f"auditor-run-{run.run_id}-")) if into is None else into
        if into is not None:
            folder.mkdir(parents=True, exist_ok=True)
            if any(folder.iterdir()):
                raise StoreError(f"{folder}: not an empty folder; a stored run is fetched into an empty one")
        try:
            for rel in sorted(files):
                self._download(rel, base + rel, files[rel], folder)
        except BaseException:
            # nothing half-fetched is left: the folder was made here, or empty before
            if made:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                for child in folder.iterdir():
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            raise
        return folder

    # -- leftovers ----------------------------------------------------------------------------

    def leftovers(self) -> list[Leftover]:
        """Every upload attempt folder no registration marker points at, by run id and attempt."""
        registered: dict[str, str] = {}
        for key, version, _ in self._first_versions(self.prefix + INDEX):
            doc = self._read_version_json(key, version)
            registered[str((doc.get("run") or {}).get("run_id"))] = str(doc.get("attempt"))
        found = []
        for run_prefix in self._common_prefixes(self.prefix + RUNS):
            run_id = run_prefix[len(self.prefix + RUNS):].rstrip("/")
            for attempt in self._attempts(run_id):
                if registered.get(run_id) == attempt:
                    continue
                where = f"{self.prefix}{RUNS}{run_id}/{attempt}/"
                count = sum(1 for _ in self._versions(where))
                found.append(Leftover(run_id, attempt, f"s3://{self.bucket}/{where}", count, run_id in registered))
        return sorted(found, key=lambda x: (x.run_id, x.attempt))

    # -- S3 calls -----------------------------------------------------------------------------

    def _marker_key(self, run_id: str) -> str:
        return f"{self.prefix}{INDEX}{run_id}.json"

    def _retain_until(self) -> dt.datetime:
        return (self._clock() + dt.timedelta(days=self._retention.days)).replace(microsecond=0)

    def _failed(self, what: str, where: str, exc: Exception) -> StoreError:
        code, message = _error(exc)
        hint = ""
        if code in ("AccessDenied", "403", "AllAccessDisabled"):
            hint = "; the store's writer needs the IAM policy of docs/store.md"
        return StoreError(f"{where}: {what} failed ({code}: {message}){hint}")

    def _put(self, key: str, data: bytes, until: dt.datetime) -> str:
        """PutObject of a new key, never over an existing one (`_Taken`), checked by S3 against
        its SHA-256 and locked until `until`: its VersionId."""
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        try:
            answer = self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*", ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum, ObjectLockMode=MODES[self._retention.mode], ObjectLockRetainUntilDate=until,
                ContentType="application/json" if key.endswith(".json") else "application/octet-stream")
        except (ClientError, BotoCoreError) as exc:
            if _error(exc)[0] in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise _Taken(key) from None
            raise self._failed("storing the object", f"s3://{self.bucket}/{key}", exc) from None
        version = answer.get("VersionId")
        if not version:
            raise StoreError(f"s3://{self.bucket}/{key}: S3 returned no VersionId (is versioning enabled?)")
        return str(version)

    def _versions(self, prefix: str, delimiter: str = "") -> Iterator[dict[str, Any]]:
        """Every page of ListObjectVersions under `prefix` (with `delimiter`: its common prefixes too)."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            args["Delimiter"] = delimiter
        try:
            for page in self.client.get_paginator("list_object_versions").paginate(**args):
                yield from page.get("Versions") or []
                yield from ({"CommonPrefix": p["Prefix"]} for p in page.get("CommonPrefixes") or [])
        except (ClientError, BotoCoreError) as exc:
            raise self._failed("listing", f"s3://{self.bucket}/{prefix}", exc) from None

    def _any_version(self, prefix: str) -> bool:
        return any("Key" in v for v in self._versions(prefix))

    def _common_prefixes(self, prefix: str) -> list[str]:
        return sorted(v["CommonPrefix"] for v in self._versions(prefix, "/") if "CommonPrefix" in v)

    def _attempts(self, run_id: str) -> list[str]:
        start = f"{self.prefix}{RUNS}{run_id}/"
        return [p[len(start):].rstrip("/") for p in self._common_prefixes(start)]

    def _first_versions(self, prefix: str) -> list[tuple[str, str, int]]:
        """(key, its first version's id, how many versions it has) for every key under `prefix`.
        S3 lists a key's versions newest first; the first written is the last listed."""
        first: dict[str, tuple[str, int]] = {}
        for version in self._versions(prefix):
            if "Key" not in version:
                continue
            count = first.get(version["Key"], ("", 0))[1]
            first[version["Key"]] = (str(version["VersionId"]), count + 1)
        return [(k, v, n) for k, (v, n) in sorted(first.items())]

    def _read_version_json(self, key: str, version: str) -> dict[str, Any]:
        where = f"s3://{self.bucket}/{key}"
        try:
            data = self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version)["Body"].read()
        except FlexibleChecksumError:
            raise StoredObjectChanged(key, f"{where} (version {version}): its bytes do not match the checksum S3 "
                                           "recorded when it was written") from None
        except (ClientError, BotoCoreError) as exc:
            raise self._failed("reading", where, exc) from None
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise StoreError(f"{where} (version {version}): not JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise StoreError(f"{where} (version {version}): not a JSON object")
        return doc

    def _read_json(self, key: str) -> dict[str, Any] | None:
        first = next((v for k, v, _ in self._first_versions(key) if k == key), None)
        return None if first is None else self._read_version_json(key, first)

    def _run_from_marker(self, key: str, doc: dict[str, Any], versions: int) -> StoredRun:
        where = f"s3://{self.bucket}/{key}"
        raw = doc.get("run")
        files = doc.get("files")
        if doc.get("format") != STORE_FORMAT or not isinstance(raw, dict) or not isinstance(files, dict) \
                or "bundle.json" not in files:
            raise StoreError(f"{where}: not a registration marker of this store")
        try:
            run = StoredRun(**{**raw, "accounts": tuple(raw["accounts"]), "regions": tuple(raw["regions"])})
        except (TypeError, KeyError) as exc:
            raise StoreError(f"{where}: a registration marker with unreadable fields ({exc})") from None
        if key != self._marker_key(run.run_id):
            raise StoreError(f"{where}: the marker names run {run.run_id}, not its own key's")
        # The real retention, as S3 holds it now, from the run's bundle.json version.
        bundle_key = f"{self.prefix}{RUNS}{run.run_id}/{doc.get('attempt')}/bundle.json"
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=bundle_key,
                                           VersionId=str(files["bundle.json"].get("version_id")))
        except (ClientError, BotoCoreError) as exc:
            raise self._failed("reading the retention of", f"s3://{self.bucket}/{bundle_key}", exc) from None
        until = head.get("ObjectLockRetainUntilDate")
        extra: dict[str, Any] = {"attempt": str(doc.get("attempt")), "lock_mode": head.get("ObjectLockMode") or "",
                                 "recorded_retain_until": run.retain_until}
        if versions > 1:
            extra["marker_versions"] = versions   # later PUTs of the marker key: ignored, reported
        return replace(run, retain_until=until.astimezone(dt.UTC).date().isoformat() if until else "", extra=extra)

    def _download(self, rel: str, key: str, entry: Any, folder: Path) -> None:
        from auditor.snapshot.paths import confined_name

        if confined_name(rel) is not None or not isinstance(entry, dict):
            raise StoreError(f"{self.description}: the registration marker names an unsafe file {rel!r}")
        version, expected = str(entry.get("version_id")), str(entry.get("sha256"))
        where = f"s3://{self.bucket}/{key}"
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version)["Body"]
            with target.open("wb") as out:
                for chunk in iter(lambda: body.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except FlexibleChecksumError:
            raise StoredObjectChanged(rel, f"{rel}: the stored object {where} (version {version}) does not match "
                                           "the checksum S3 recorded at upload: it was changed in the bucket") from None
        except (ClientError, BotoCoreError) as exc:
            raise self._failed(f"fetching {rel} from", where, exc) from None
        if digest.hexdigest() != expected:
            raise StoredObjectChanged(rel, f"{rel}: the stored object {where} (version {version}) has SHA-256 "
                                           f"{digest.hexdigest()}, the registration recorded {expected}: it was "
                                           "changed in the bucket")


class _Taken(Exception):
    """PutObject refused by If-None-Match: the key exists."""


def _dumps(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _bundle_contents(bundle: Path) -> dict[str, str]:
    """Bundle path -> SHA-256 of every file to store, in upload order (the files bundle.json
    lists, then bundle.sig, bundle.json last). `StoreError` unless the folder is a finished
    bundle: every listed file present with its recorded SHA-256, nothing unlisted, no link."""
    from auditor.bundle import BUNDLE_FILE, SIGNATURE_FILE, bundle_files
    from auditor.errors import SnapshotError

    try:
        on_disk = bundle_files(bundle)
        listed = json.loads((bundle / BUNDLE_FILE).read_bytes()).get("files")
    except (SnapshotError, OSError, ValueError, AttributeError) as exc:
        raise StoreError(f"{bundle}: not a finished evidence bundle ({exc})") from None
    if not isinstance(listed, dict):
        raise StoreError(f"{bundle}: {BUNDLE_FILE} lists no files")
    if set(listed) != set(on_disk):
        extra, missing = sorted(set(on_disk) - set(listed)), sorted(set(listed) - set(on_disk))
        raise StoreError(f"{bundle}: not the files {BUNDLE_FILE} lists (unlisted: {extra or 'none'}; "
                         f"missing: {missing or 'none'}); nothing stored")
    contents: dict[str, str] = {}
    for rel in sorted(listed):
        digest = hashlib.sha256((bundle / rel).read_bytes()).hexdigest()
        if digest != listed[rel]:
            raise StoreError(f"{bundle}: {rel} does not have the SHA-256 {BUNDLE_FILE} records; nothing stored")
        contents[rel] = digest
    for rel in (SIGNATURE_FILE, BUNDLE_FILE):
        if (bundle / rel).is_file():
            contents[rel] = hashlib.sha256((bundle / rel).read_bytes()).hexdigest()
    return contents
