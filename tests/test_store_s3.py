"""The S3 run store (auditor/store/s3.py) against moto with Object Lock: register, list, get,
fetch and `verify_bundle` on the fetched folder; deleting or overwriting a stored run refused by
S3's lock and by the store guard; tampering caught naming the file; a bucket without Object Lock
refused; an interrupted upload leaves no run; unknown ids; AccessDenied; one run over HTTP."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from auditor.bundle import BUNDLE_FILE
from auditor.bundle_verify import verify_bundle
from auditor.rules.fixtures import ACCOUNT, REGION, Case, records_for
from auditor.snapshot.writer import SnapshotWriter
from auditor.store import REGIME_RETENTION, Retention, RunExists, StoreError, StoreSpec, open_store
from auditor.store.guard import StoreGuardViolation
from auditor.store.s3 import S3Store, StoredObjectChanged
from conftest import HOME_ACCOUNT, moto_server_url, run_auditor

BUCKET = "audit-evidence"
LOCATION = f"s3://{BUCKET}/network"
PCI = REGIME_RETENTION["pci-dss"]

CALLS: dict[str, Any] = {
    "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]},
    "ec2:DescribeInternetGateways": {"InternetGateways": [
        {"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]}]},
    "ec2:DescribeSubnets": {"Subnets": [
        {"SubnetId": "subnet-a", "VpcId": "vpc-a", "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "eu-west-1a",
         "MapPublicIpOnLaunch": True}]},
}


def _scan(root: Path, name: str, finished: str) -> Path:
    """A small bundle from `auditor scan --snapshot` (JSON and CSV reports) of a snapshot
    collected at `finished`: different times make different run ids."""
    writer = SnapshotWriter(root / f"{name}-snap")
    for rec in records_for(Case(rule="", name=name, file="", line=0, calls=CALLS, failed=(), region=REGION)):
        writer.add(rec)
    writer.finish({"started": finished, "finished": finished, "regions": [REGION],
                   "accounts": [{"id": ACCOUNT, "name": "t", "regions": [REGION]}], "config": {"digest": "sha256:x"}})
    proc = run_auditor("scan", "--snapshot", f"{name}-snap", "--out", name, "--format", "json,csv", cwd=root)
    assert proc.returncode in (1, 3, 4), proc.stdout + proc.stderr
    assert verify_bundle(root / name).ok
    return root / name


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two bundles, collected a week apart (oldest first)."""
    root = tmp_path_factory.mktemp("scans")
    return [_scan(root, "week1", "2026-03-02T10:00:00Z"), _scan(root, "week2", "2026-03-09T10:00:00Z")]


def _run_id(bundle: Path) -> str:
    return str(json.loads((bundle / BUNDLE_FILE).read_text())["run_id"])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _bucket(name: str = BUCKET, lock: bool = True) -> Any:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
    return s3


def _open(create: bool = True, retention: Retention | None = PCI, location: str = LOCATION,
          session: Any = None) -> S3Store:
    return S3Store.open(StoreSpec(location=location, region="us-east-1", retention=retention), create=create,
                        session=session or botocore.session.Session())


@pytest.fixture
def s3(moto_aws: None) -> Any:
    """A plain boto3 client (not the store's) on a moto bucket with Object Lock."""
    return _bucket()


def _versions(s3: Any, prefix: str) -> list[dict[str, Any]]:
    return list(s3.list_object_versions(Bucket=BUCKET, Prefix=prefix).get("Versions") or [])


# -- register, list, get, fetch, verify ---------------------------------------------------------

def test_register_list_get_fetch_and_verify(s3: Any, bundles: list[Path], tmp_path: Path) -> None:
    store = open_store(StoreSpec(location=LOCATION, region="us-east-1", retention=PCI), create=True,
                       session=botocore.session.Session())
    assert isinstance(store, S3Store) and store.description == f"{LOCATION}/"
    assert store.retention() == PCI
    today = dt.datetime.now(dt.UTC).date()
    first = store.register(bundles[0], signer="ci@example.com")
    second = store.register(bundles[1])
    assert first.run_id == _run_id(bundles[0]) and first.signer == "ci@example.com"
    assert first.location == f"{LOCATION}/runs/{first.run_id}/1/"

    runs = store.runs()
    assert [r.run_id for r in runs] == [first.run_id, second.run_id]          # oldest first
    assert runs[0].created == "2026-03-02T10:00:00Z" and runs[0].accounts == (ACCOUNT,)
    # the real retain-until date, read back from S3's lock on the run's objects
    assert runs[0].retain_until == (today + dt.timedelta(days=365)).isoformat() or \
        runs[0].retain_until == (today + dt.timedelta(days=366)).isoformat()
    assert runs[0].extra["lock_mode"] == "COMPLIANCE" and runs[0].signer == "ci@example.com"
    assert store.runs(since=dt.date(2026, 3, 5)) == [runs[1]]
    assert store.runs(until=dt.date(2026, 3, 5)) == [runs[0]]
    assert store.runs(account="999999999999") == []
    assert store.get("latest") == runs[1] and store.get("previous") == runs[0]
    assert store.get(first.run_id) == runs[0] and store.get(first.run_id[:6]) == runs[0]

    fetched = store.fetch(store.get("previous"), into=tmp_path / "fetched")
    assert fetched == tmp_path / "fetched"
    assert _files(fetched) == _files(bundles[0])                             # byte for byte
    result = verify_bundle(fetched)
    assert result.ok, result
    elsewhere = store.fetch(runs[1])                                          # a temporary folder
    assert _files(elsewhere) == _files(bundles[1]) and verify_bundle(elsewhere).ok

    # the marker: the run's description, the registration time, each file's version and SHA-256
    marker = json.loads(s3.get_object(Bucket=BUCKET, Key=f"network/index/{first.run_id}.json")["Body"].read())
    assert marker["run"]["run_id"] == first.run_id and marker["registered"] == first.registered
    assert set(marker["files"]) == set(_files(bundles[0]))
    for rel, entry in marker["files"].items():
        assert entry["sha256"] == hashlib.sha256((bundles[0] / rel).read_bytes()).hexdigest()
    # a store re-opened without a retention takes the one its marker records
    assert _open(create=False, retention=None).retention().days == PCI.days


def test_every_object_is_locked_and_checksummed(s3: Any, bundles: list[Path]) -> None:
    store = _open(retention=Retention(days=30, online_days=30, mode="governance"))
    run = store.register(bundles[0])
    marker = json.loads(s3.get_object(Bucket=BUCKET, Key=f"network/index/{run.run_id}.json")["Body"].read())
    until = marker["object_lock"]["retain_until"]
    keys = [f"network/runs/{run.run_id}/1/{rel}" for rel in marker["files"]]
    for key, (rel, entry) in zip(keys, marker["files"].items(), strict=True):
        head = s3.head_object(Bucket=BUCKET, Key=key, VersionId=entry["version_id"], ChecksumMode="ENABLED")
        assert head["ObjectLockMode"] == "GOVERNANCE", rel
        assert head["ObjectLockRetainUntilDate"].astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") == until
        assert head["ChecksumSHA256"] == __import__("base64").b64encode(bytes.fromhex(entry["sha256"])).decode()
    for key in ("network/store.json", f"network/index/{run.run_id}.json"):
        assert s3.head_object(Bucket=BUCKET, Key=key)["ObjectLockMode"] == "GOVERNANCE"
    # governance without the bypass permission: S3 refuses the delete of a version too
    version = marker["files"]["findings.json"]["version_id"]
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=BUCKET, Key=f"network/runs/{run.run_id}/1/findings.json", VersionId=version)


# -- deleting and overwriting ---------------------------------------------------------------

def test_deleting_a_stored_run_is_refused_by_the_lock_and_by_the_guard(s3: Any, bundles: list[Path],
                                                                       tmp_path: Path) -> None:
    store = _open()
    run = store.register(bundles[0])
    versions = _versions(s3, "network/")
    assert len(versions) == len(_files(bundles[0])) + 2                       # + store.json and the marker
    # S3's lock: a plain client (the bucket owner's credentials) cannot delete any stored version
    for v in versions:
        with pytest.raises(ClientError, match="AccessDenied"):
            s3.delete_object(Bucket=BUCKET, Key=v["Key"], VersionId=v["VersionId"])
    answer = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]}
                                                                  for v in versions]})
    assert len(answer.get("Errors") or []) == len(versions) and not answer.get("Deleted")
    # the store's own session refuses before sending anything
    for method, kwargs in [("delete_object", {"Key": "network/store.json"}),
                           ("delete_objects", {"Delete": {"Objects": [{"Key": "network/store.json"}]}}),
                           ("put_object_retention", {"Key": "network/store.json", "Retention": {"Mode": "GOVERNANCE"}}),
                           ("put_bucket_versioning", {"VersioningConfiguration": {"Status": "Suspended"}})]:
        with pytest.raises(StoreGuardViolation, match="refused s3:"):
            getattr(store.client, method)(Bucket=BUCKET, **kwargs)
    # a delete without a version id only adds delete markers: the store reads versions, so the
    # run is still listed, fetched byte for byte and verified
    for v in versions:
        assert s3.delete_object(Bucket=BUCKET, Key=v["Key"])["DeleteMarker"] is True
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="network/")["KeyCount"] == 0
    reopened = _open(create=False)
    assert [r.run_id for r in reopened.runs()] == [run.run_id]
    assert verify_bundle(reopened.fetch(reopened.get("latest"), into=tmp_path / "f")).ok
    # and the run id cannot be registered a second time behind the delete markers
    with pytest.raises(RunExists, match=run.run_id):
        reopened.register(bundles[0])


def test_overwriting_a_stored_run_is_refused_and_an_outside_put_is_never_read(s3: Any, bundles: list[Path],
                                                                              tmp_path: Path) -> None:
    store = _open()
    run = store.register(bundles[0])
    with pytest.raises(RunExists, match=f"run {run.run_id} is already stored"):
        store.register(bundles[0])
    key = f"network/runs/{run.run_id}/1/findings.json"
    with pytest.raises(ClientError, match="PreconditionFailed"):             # S3 refuses If-None-Match on a key
        store.client.put_object(Bucket=BUCKET, Key=key, Body=b"{}", IfNoneMatch="*")
    # someone with PutObject writes new versions of a file and of the marker: they are never read
    s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"findings": []}')
    forged = json.loads(s3.get_object(Bucket=BUCKET, Key=f"network/index/{run.run_id}.json")["Body"].read())
    forged["files"]["findings.json"]["version_id"] = _versions(s3, key)[0]["VersionId"]
    s3.put_object(Bucket=BUCKET, Key=f"network/index/{run.run_id}.json", Body=json.dumps(forged).encode())
    listed = store.get(run.run_id)
    assert listed.extra["marker_versions"] == 2
    assert _files(store.fetch(listed, into=tmp_path / "f")) == _files(bundles[0])
    assert verify_bundle(tmp_path / "f").ok


# -- tampering ------------------------------------------------------------------------------

def _backend_key(key: str, version: str) -> Any:
    """The stored version as moto's backend holds it: an insider with the storage itself
    changes bytes below S3's API, where no lock applies."""
    from moto.s3.models import s3_backends

    return s3_backends[HOME_ACCOUNT]["aws"].get_object(BUCKET, key, version_id=version)


@pytest.mark.parametrize("also_checksum", [False, True], ids=["bytes", "bytes-and-checksum"])
def test_tampered_bytes_are_caught_naming_the_file(s3: Any, bundles: list[Path], tmp_path: Path,
                                                   also_checksum: bool) -> None:
    store = _open()
    run = store.register(bundles[0])
    marker = json.loads(s3.get_object(Bucket=BUCKET, Key=f"network/index/{run.run_id}.json")["Body"].read())
    rel = "findings.csv"
    stored = _backend_key(f"network/runs/{run.run_id}/1/{rel}", marker["files"][rel]["version_id"])
    changed = (bundles[0] / rel).read_bytes().replace(b"FAIL", b"PASS")
    assert changed != (bundles[0] / rel).read_bytes()
    stored.value = changed
    if also_checksum:    # the insider also rewrites S3's own checksum: only the marker's SHA-256 is left
        stored.checksum_value = __import__("base64").b64encode(hashlib.sha256(changed).digest()).decode()
    if also_checksum:
        (tmp_path / "f").mkdir()                                            # an empty folder of the caller's
    with pytest.raises(StoredObjectChanged, match=rf"^{rel}: the stored object .*changed in the bucket") as caught:
        store.fetch(store.get(run.run_id), into=tmp_path / "f")
    assert caught.value.file == rel
    # nothing half-fetched is left: a folder made by the fetch is gone, the caller's is empty again
    assert (list((tmp_path / "f").iterdir()) == []) if also_checksum else not (tmp_path / "f").exists()


# -- opening --------------------------------------------------------------------------------

def test_a_bucket_without_object_lock_is_refused(moto_aws: None) -> None:
    plain = _bucket("plain-bucket", lock=False)
    plain.put_bucket_versioning(Bucket="plain-bucket", VersioningConfiguration={"Status": "Enabled"})
    with pytest.raises(StoreError, match="does not have S3 Object Lock enabled.*refuses it"):
        _open(location="s3://plain-bucket/runs")
    assert plain.list_objects_v2(Bucket="plain-bucket")["KeyCount"] == 0    # nothing written


@pytest.mark.parametrize("location,message", [
    ("s3://no-such-bucket/x", "the bucket does not exist"),
    ("s3://Bad_Name/x", "not an S3 store location"),
    ("s3://audit-evidence/a//b", "empty path segment"),
    ("s3://audit-evidence/a/../b", "a . or .. segment"),
])
def test_bad_locations_are_refused(s3: Any, location: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        _open(location=location)


def test_a_prefix_that_is_not_a_store(s3: Any) -> None:
    with pytest.raises(StoreError, match=r"s3://audit-evidence/network/ is not a run store \(no store.json\)"):
        _open(create=False)
    s3.put_object(Bucket=BUCKET, Key="other/notes.txt", Body=b"x")
    with pytest.raises(StoreError, match="holds objects but no store.json"):
        _open(location=f"s3://{BUCKET}/other")
    s3.put_object(Bucket=BUCKET, Key="wrong/store.json", Body=b'{"format": "something-else", "version": 1}')
    with pytest.raises(StoreError, match="not a run store marker"):
        _open(create=False, location=f"s3://{BUCKET}/wrong")


def test_retention_days_are_required_and_the_bucket_default_is_used(s3: Any, bundles: list[Path]) -> None:
    with pytest.raises(StoreError, match="needs retention days"):
        _open(retention=None)
    with pytest.raises(StoreError, match="retention mode 'forever'"):
        _open(retention=Retention(days=10, online_days=10, mode="forever"))
    assert _versions(s3, "network/") == []
    s3.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 1}}})
    store = _open(retention=None)
    assert (store.retention().days, store.retention().mode) == (366, "governance")
    assert "default retention of bucket" in store.retention().source
    run = store.register(bundles[0])
    assert store.get(run.run_id).extra["lock_mode"] == "GOVERNANCE"
    # a retention asked for never goes below the bucket's default: an explicit date would replace it
    # (a second bucket: moto 5.2 changes a bucket's lock configuration only while it is empty)
    _bucket("floored").put_object_lock_configuration(Bucket="floored", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 400}}})
    raised = _open(location="s3://floored/x",
                   retention=Retention(days=30, online_days=30, mode="governance", source="config"))
    assert (raised.retention().days, raised.retention().mode) == (400, "compliance")
    assert raised.retention().source == "config, raised to the default retention of bucket floored " \
                                        "(compliance, 400 days)"
    run = raised.register(bundles[0])
    assert raised.get(run.run_id).extra["lock_mode"] == "COMPLIANCE"
    assert _open(location="s3://floored/x", create=False,
                 retention=Retention(days=500, online_days=90)).retention().days == 500


# -- interrupted and refused uploads ------------------------------------------------------------

class Crash(Exception):
    """The process dies in the middle of an upload."""


def test_an_interrupted_upload_leaves_no_run_and_a_retry_succeeds(s3: Any, bundles: list[Path],
                                                                  tmp_path: Path) -> None:
    puts: list[str] = []

    def crash_on_the_fourth(params: Any, **_: Any) -> None:
        puts.append(params["url_path"])
        if len(puts) == 4:
            raise Crash

    store = _open()
    store.client.meta.events.register("before-call.s3.PutObject", crash_on_the_fourth)
    with pytest.raises(Crash):
        store.register(bundles[0])
    run_id = _run_id(bundles[0])
    assert store.runs() == []
    with pytest.raises(StoreError, match=f"no run '{run_id}'"):
        store.get(run_id)
    [left] = store.leftovers()
    assert (left.run_id, left.attempt, left.objects, left.registered) == (run_id, "1", 3, False)
    assert left.location == f"{LOCATION}/runs/{run_id}/1/"

    store.client.meta.events.unregister("before-call.s3.PutObject", crash_on_the_fourth)
    run = store.register(bundles[0])                                          # the retry: attempt 2
    assert run.location == f"{LOCATION}/runs/{run_id}/2/"
    assert [r.run_id for r in store.runs()] == [run_id]
    [left] = store.leftovers()
    assert (left.attempt, left.registered) == ("1", True)                     # still reported, never a run
    assert verify_bundle(store.fetch(run, into=tmp_path / "f")).ok


@pytest.mark.parametrize("status,code,message,hint,target", [
    (403, "AccessDenied", "Access Denied", "; the store's writer needs the IAM policy of docs/store.md",
     "runs/{run_id}/1/findings.json"),
    # the last write, the registration marker, refused: the run is not registered either
    (403, "AccessDenied", "Access Denied", "; the store's writer needs the IAM policy of docs/store.md",
     "index/{run_id}.json"),
    # S3 checks x-amz-checksum-sha256 against the bytes it received (moto 5.2 does not: the answer
    # real S3 gives is injected)
    (400, "BadDigest", "The SHA256 you specified did not match the calculated checksum.", "",
     "runs/{run_id}/1/findings.json"),
], ids=["access-denied", "access-denied-on-the-marker", "bad-digest"])
def test_a_refused_put_is_a_clear_error_and_registers_nothing(s3: Any, bundles: list[Path], status: int, code: str,
                                                              message: str, hint: str, target: str) -> None:
    store = _open()
    run_id = _run_id(bundles[0])
    key = f"network/{target.format(run_id=run_id)}"
    sent: list[str] = []

    def refuse(params: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        # S3's answer (what a bucket policy's Deny gives), returned instead of sending the request,
        # as botocore's Stubber does: an answer injected at before-send would still let moto in
        # process apply the PUT (botocore calls every before-send handler).
        if not params["url_path"].endswith(f"/{key}"):
            return None
        sent.append(key)
        error = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return AWSResponse(params["url"], status, {}, None), error

    store.client.meta.events.register("before-call.s3.PutObject", refuse)
    with pytest.raises(StoreError) as refused:
        store.register(bundles[0])
    assert str(refused.value).startswith(
        f"s3://{BUCKET}/{key}: storing the object failed ({code}: {message}){hint}; run {run_id} not registered")
    assert sent == [key] and store.runs() == [] and len(store.leftovers()) == 1


def test_an_unfinished_bundle_is_refused_before_any_upload(s3: Any, bundles: list[Path], tmp_path: Path) -> None:
    import shutil

    store = _open()
    copy = tmp_path / "b"
    shutil.copytree(bundles[0], copy)
    (copy / "findings.csv").write_text("changed\n")
    with pytest.raises(StoreError, match="findings.csv does not have the SHA-256 bundle.json records"):
        store.register(copy)
    (copy / "findings.csv").unlink()
    with pytest.raises(StoreError, match=r"missing: \['findings.csv'\]"):
        store.register(copy)
    assert store.leftovers() == [] and [v["Key"] for v in _versions(s3, "network/")] == ["network/store.json"]


# -- references -----------------------------------------------------------------------------

def test_unknown_and_short_references(s3: Any, bundles: list[Path]) -> None:
    store = _open()
    with pytest.raises(StoreError, match="no latest run"):
        store.get("latest")
    run = store.register(bundles[0])
    with pytest.raises(StoreError, match="no previous run"):
        store.get("previous")
    with pytest.raises(StoreError, match="no run 'ffffffffffffffff'"):
        store.get("ffffffffffffffff")
    with pytest.raises(StoreError, match="6 characters or more"):
        store.get(run.run_id[:5])
    with pytest.raises(StoreError, match="no run"):
        store.fetch(dataclasses.replace(run, run_id="ffffffffffffffff"))


# -- over HTTP ------------------------------------------------------------------------------

def test_over_a_real_moto_server(aws_env: None, bundles: list[Path], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_server_url() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)      # the store's own session takes it like any botocore one
        plain = boto3.client("s3", region_name="us-east-1")
        plain.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        store = _open()
        run = store.register(bundles[1])
        assert [r.run_id for r in _open(create=False).runs()] == [run.run_id]
        fetched = store.fetch(store.get("latest"), into=tmp_path / "f")
        assert _files(fetched) == _files(bundles[1]) and verify_bundle(fetched).ok
        version = _versions(plain, f"network/runs/{run.run_id}/1/bundle.json")[0]["VersionId"]
        with pytest.raises(ClientError, match="AccessDenied"):
            plain.delete_object(Bucket=BUCKET, Key=f"network/runs/{run.run_id}/1/bundle.json", VersionId=version)


def test_the_store_session_comes_from_its_profile(moto_aws: None, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """No session given: the store makes its own from spec.profile (its credentials and
    region), never from the environment's default when a profile is named."""
    _bucket()
    (tmp_path / "config").write_text("[profile evidence]\nregion = eu-west-1\n")
    (tmp_path / "credentials").write_text("[evidence]\naws_access_key_id = AKIASTOREWRITER00001\n"
                                          "aws_secret_access_key = store-secret\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.delenv("AWS_DEFAULT_REGION")      # botocore's environment would come before the profile's region
    store = S3Store.open(StoreSpec(location=LOCATION, profile="evidence", retention=PCI), create=True)
    assert store.client.meta.region_name == "eu-west-1"
    signed: list[str] = []
    store.client.meta.events.register("before-send", lambda request, **_: signed.append(
        request.headers["Authorization"].decode() if isinstance(request.headers["Authorization"], bytes)
        else request.headers["Authorization"]))
    assert store.runs() == []
    assert signed and all("Credential=AKIASTOREWRITER00001/" in a for a in signed)
    with pytest.raises(StoreError, match="cannot make the store's S3 client"):
        S3Store.open(StoreSpec(location=LOCATION, profile="no-such-profile", retention=PCI))


def test_the_commands_over_a_real_moto_server(aws_env: None, bundles: list[Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line on an S3 store over HTTP: `store register` (the bucket's default
    retention applies), `history`, `verify RUN --store` passes; then an object's bytes are
    changed below S3's API and `verify` fails with exit 5 naming the file."""
    with moto_server_url() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        plain = boto3.client("s3", region_name="us-east-1")
        plain.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        plain.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}}})
        registered = run_auditor("store", "register", str(bundles[0]), "--store", LOCATION)
        assert registered.returncode == 0, registered.stdout + registered.stderr
        run_id = _run_id(bundles[0])
        assert run_id in registered.stdout
        listed = run_auditor("history", "--store", LOCATION, "--json")
        assert listed.returncode == 0, listed.stderr
        assert [r["run_id"] for r in json.loads(listed.stdout)] == [run_id]
        verified = run_auditor("verify", "latest", "--store", LOCATION)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert f"run {run_id} in {LOCATION}/" in verified.stdout
        marker = json.loads(plain.get_object(Bucket=BUCKET, Key=f"network/index/{run_id}.json")["Body"].read())
        stored = _backend_key(f"network/runs/{run_id}/1/findings.json", marker["files"]["findings.json"]["version_id"])
        stored.value = stored.value.replace(b'"FAIL"', b'"PASS"')
        tampered = run_auditor("verify", run_id, "--store", LOCATION)
        assert tampered.returncode == 5, tampered.stdout + tampered.stderr
        assert "FAILED  findings.json:" in tampered.stdout
        unknown = run_auditor("verify", "ffffffffffffffff", "--store", LOCATION)
        assert unknown.returncode == 2 and "no run 'ffffffffffffffff'" in unknown.stderr
