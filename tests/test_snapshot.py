"""Snapshots on disk: round trip, deterministic bytes, hashes, tamper evidence, versions,
interrupted runs, and never overwriting evidence."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.errors import SnapshotError
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.records import GLOBAL_REGION, CallError, CallRecord, canonical_json, jsonable, record_json
from auditor.snapshot.writer import MANIFEST, SCHEMA_VERSION, SnapshotWriter, partial_path

from conftest import HOME_ACCOUNT, make_config, make_network, request_region

META = {"tool": {"name": "private-network-auditor"}, "accounts": [], "regions": ["eu-west-1"],
        "account_problems": [], "tasks": []}


def sample_records() -> list[CallRecord]:
    when = dt.datetime(2025, 3, 4, 5, 6, 7, 123000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    return [
        CallRecord("123456789012", GLOBAL_REGION, "sts", "GetCallerIdentity",
                   pages=({"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/a", "UserId": "AID"},),
                   started="2025-01-01T00:00:00Z", duration_ms=12),
        CallRecord("123456789012", "eu-west-1", "ec2", "DescribeVpcs",
                   pages=tuple(jsonable(p) for p in ({"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16",
                                                               "Tags": [{"Key": "Name", "Value": "zahlungen-ü"}]}],
                                                      "NextToken": "t"},
                                                     {"Vpcs": [{"VpcId": "vpc-2", "CreateTime": when}]})),
                   retries=1),
        CallRecord("123456789012", "eu-west-1", "ec2", "DescribeVpcAttribute",
                   params={"VpcId": "vpc-1", "Attribute": "enableDnsSupport"},
                   pages=({"VpcId": "vpc-1", "EnableDnsSupport": {"Value": True}},)),
        CallRecord("123456789012", "eu-west-1", "ec2", "DescribeVpcAttribute",
                   params={"VpcId": "vpc-1", "Attribute": "enableDnsHostnames"},
                   pages=({"VpcId": "vpc-1", "EnableDnsHostnames": {"Value": False}},)),
        CallRecord("123456789012", "eu-west-1", "ec2", "DescribeSubnets",
                   error=CallError("aws", "UnauthorizedOperation", "not authorized", 403)),
        CallRecord("123456789012", "eu-west-1", "lambda", "ListFunctions",
                   pages=(jsonable({"Functions": [{"FunctionName": "f", "CodeSha256": b"\x00\x01"}]}),)),
    ]


def write(folder: Path, records: list[CallRecord], *, compress: bool = False) -> SnapshotWriter:
    writer = SnapshotWriter(folder, compress=compress, keep=True)
    for rec in records:
        writer.add(rec)
    writer.finish(META)
    return writer


def record_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted((folder / "records").rglob("*"))
            if p.is_file()}


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    folder = tmp_path / "snap"
    write(folder, sample_records())
    return folder


# -- round trip and determinism ---------------------------------------------------------

def test_round_trip(snap: Path) -> None:
    loaded = load_snapshot(snap)
    originals = sample_records()
    by_id = {r.record_id: r for r in loaded.records}
    assert len(by_id) == len(originals) == len(loaded.records)
    for rec in originals:
        assert by_id[rec.record_id] == rec
        # Run metadata (not part of record equality) comes back from the manifest.
        assert (by_id[rec.record_id].started, by_id[rec.record_id].duration_ms, by_id[rec.record_id].retries) == (
            rec.started, rec.duration_ms, rec.retries)
    vpcs = by_id["123456789012/eu-west-1/ec2/DescribeVpcs"]
    assert vpcs.items("Vpcs")[1]["CreateTime"] == "2025-03-04T03:06:07.123Z"
    assert vpcs.items("Vpcs")[0]["Tags"][0]["Value"] == "zahlungen-ü"
    fn = by_id["123456789012/eu-west-1/lambda/ListFunctions"].items("Functions")[0]
    assert fn["CodeSha256"] == {"$base64": "AAE="}
    assert loaded.complete is False  # one record is an error
    assert loaded.manifest["status"] == "complete" and loaded.manifest["schema_version"] == SCHEMA_VERSION
    assert loaded.manifest_sha256 == "sha256:" + hashlib.sha256((snap / MANIFEST).read_bytes()).hexdigest()
    [err] = loaded.manifest["errors"]
    assert (err["operation"], err["code"], err["http_status"], err["record"]) == (
        "DescribeSubnets", "UnauthorizedOperation", 403, "records/123456789012/eu-west-1/ec2/DescribeSubnets.json")


def test_complete_when_no_errors(tmp_path: Path) -> None:
    ok = [r for r in sample_records() if r.ok]
    write(tmp_path / "s", ok)
    assert load_snapshot(tmp_path / "s").complete is True
    problems = dict(META, account_problems=[{"account": "1", "message": "x"}])
    w = SnapshotWriter(tmp_path / "u")
    w.add(ok[0])
    w.finish(problems)
    assert w.manifest["complete"] is False


def test_record_files_are_canonical_json(snap: Path) -> None:
    files = record_files(snap)
    assert len(files) == len(sample_records())
    for rel, data in files.items():
        body = json.loads(data)
        assert data == record_json(body), rel   # canonical values, compact (json's C encoder)
        assert data.endswith(b"\n") and b"ResponseMetadata" not in data
        assert set(body) <= {"account", "region", "service", "operation", "params", "pages", "error"}
    # Run-specific metadata lives in the manifest only.
    assert b"started" not in b"".join(files.values())


@pytest.mark.parametrize("compress", [False, True], ids=["json", "gzip"])
def test_deterministic_bytes(tmp_path: Path, compress: bool) -> None:
    records = sample_records()
    a = write(tmp_path / "a", records, compress=compress)
    b = write(tmp_path / "b", list(reversed(records)), compress=compress)  # other arrival order
    files_a, files_b = record_files(tmp_path / "a"), record_files(tmp_path / "b")
    assert files_a == files_b and len(files_a) == len(records)
    assert a.manifest["files"] == b.manifest["files"]
    assert list(a.manifest["files"]) == sorted(a.manifest["files"])
    for rel, digest in a.manifest["files"].items():
        assert digest == "sha256:" + hashlib.sha256(files_a[rel]).hexdigest()
    assert [c["record"] for c in a.manifest["calls"]] == [c["record"] for c in b.manifest["calls"]]
    # Same inputs, same manifest bytes too (nothing time-dependent was passed in).
    assert (tmp_path / "a" / MANIFEST).read_bytes() == (tmp_path / "b" / MANIFEST).read_bytes()


def test_gzip_round_trip(tmp_path: Path) -> None:
    write(tmp_path / "z", sample_records(), compress=True)
    files = record_files(tmp_path / "z")
    assert files and all(rel.endswith(".json.gz") and data[:2] == b"\x1f\x8b" for rel, data in files.items())
    plain = {rel[:-3]: gzip.decompress(data) for rel, data in files.items()}
    write(tmp_path / "p", sample_records())
    assert plain == record_files(tmp_path / "p")  # the same JSON inside
    loaded = load_snapshot(tmp_path / "z")
    assert sorted(loaded.records, key=lambda r: r.record_id) == sorted(sample_records(), key=lambda r: r.record_id)


def test_two_calls_on_one_record_file_are_refused(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path / "d")
    rec = sample_records()[1]
    writer.add(rec)
    with pytest.raises(SnapshotError, match="same record file"):
        writer.add(rec)


def test_record_files_are_written_once_under_their_names(tmp_path: Path) -> None:
    """No side file and rename per record: the bytes go straight to the record's name."""
    writer = SnapshotWriter(tmp_path / "d")
    for rec in sample_records():
        writer.add(rec)
    names = {p.relative_to(writer.partial).as_posix() for p in writer.partial.rglob("*") if p.is_file()}
    assert {n for n in names if n.startswith("records/")} == set(writer.files)


def test_a_record_file_already_there_is_never_overwritten(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path / "d")
    rec = sample_records()[1]
    target = writer.partial / writer.record_file(rec)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"someone else's")
    with pytest.raises(SnapshotError, match="already exists"):
        writer.add(rec)
    assert target.read_bytes() == b"someone else's" and writer.record_file(rec) not in writer.files


def test_a_record_write_that_fails_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk in the middle of a record: the half-written file is removed, the record is
    not listed, and the interrupted snapshot still verifies (nothing half-written in it)."""
    import os

    writer = SnapshotWriter(tmp_path / "d")
    first, second = sample_records()[:2]
    writer.add(first)
    real_write = os.write

    def half_then_full(fd: int, data: Any) -> int:
        if len(data) > 8:
            return real_write(fd, bytes(data[:8]))   # a short write: the writer must carry on ...
        raise OSError(28, "No space left on device")  # ... and then the disk is full

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError, match="No space"):
        writer.add(second)
    monkeypatch.undo()
    assert not (writer.partial / writer.record_file(second)).exists()
    assert writer.record_file(second) not in writer.files and not writer._pending
    partial = writer.abort(META, "disk full")
    assert load_snapshot(partial, allow_interrupted=True).records == (first,)


@pytest.mark.parametrize("keep", [0, 0.5])
def test_a_record_torn_by_a_crash_fails_verification(snap: Path, keep: float) -> None:
    """Record files are not fsync'd one by one: one torn by a crash (cut short, or empty) after
    the manifest was written is named by verification, never read as evidence."""
    target = snap / "records/123456789012/eu-west-1/ec2/DescribeVpcs.json"
    data = target.read_bytes()
    target.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(SnapshotError, match="SHA-256 does not match") as exc:
        load_snapshot(snap)
    assert str(target) in str(exc.value)


def test_checkpoints_hold_no_entry_after_naming_it(tmp_path: Path) -> None:
    """What the writer keeps for checkpoints is freed as each record is checkpointed, so it
    does not grow with the run; every checkpoint still has every entry of its records."""
    writer = SnapshotWriter(tmp_path / "d")
    records = sample_records()
    for rec in records:
        writer.add(rec)
    writer.checkpoints([("tasks/a.json", records[:3], {"task": {"account": "1", "region": "r"}}),
                        ("tasks/b.json", records[3:], {"task": {"account": "1", "region": "s"}})])
    assert writer._unchecked == {}
    bodies = [json.loads((writer.partial / "checkpoints/tasks" / n).read_bytes()) for n in ("a.json", "b.json")]
    assert [c["record"] for b in bodies for c in b["calls"]] == [writer.record_file(r) for r in records]
    assert {c["record"]: c for b in bodies for c in b["calls"]} == {c["record"]: c for c in writer.calls}


# -- verification ------------------------------------------------------------------------

def test_tampered_record_is_named(snap: Path) -> None:
    target = snap / "records/123456789012/eu-west-1/ec2/DescribeVpcs.json"
    data = bytearray(target.read_bytes())
    i = data.index(b"10.0.0.0/16")
    data[i + 3] = ord("1")  # 10.0.0.0 -> 10.1.0.0: still valid JSON
    target.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="SHA-256 does not match") as exc:
        load_snapshot(snap)
    assert str(target) in str(exc.value)


def test_tampered_gzip_record_is_named(tmp_path: Path) -> None:
    write(tmp_path / "z", sample_records(), compress=True)
    target = tmp_path / "z/records/123456789012/eu-west-1/ec2/DescribeSubnets.json.gz"
    target.write_bytes(gzip.compress(gzip.decompress(target.read_bytes()).replace(b"403", b"200"), mtime=0))
    with pytest.raises(SnapshotError, match="SHA-256") as exc:
        load_snapshot(tmp_path / "z")
    assert str(target) in str(exc.value)


@pytest.mark.parametrize("where", ["records/123456789012/eu-west-1/ec2/DescribeRouteTables.json",
                                   "records/999999999999/us-east-1/ec2/DescribeVpcs.json",
                                   "extra.json"])
def test_extra_file_is_named(snap: Path, where: str) -> None:
    extra = snap / where
    extra.parent.mkdir(parents=True, exist_ok=True)
    extra.write_bytes(canonical_json({"account": "123456789012", "region": "eu-west-1", "service": "ec2",
                                      "operation": "DescribeRouteTables", "params": {}, "pages": []}))
    with pytest.raises(SnapshotError, match="not listed in the manifest") as exc:
        load_snapshot(snap)
    assert str(extra) in str(exc.value)


def test_deleted_record_is_named(snap: Path) -> None:
    target = snap / "records/123456789012/_global/sts/GetCallerIdentity.json"
    target.unlink()
    with pytest.raises(SnapshotError, match="listed in the manifest but missing") as exc:
        load_snapshot(snap)
    assert str(target) in str(exc.value)


def _edit_manifest(folder: Path, **changes: Any) -> None:
    path = folder / MANIFEST
    manifest = json.loads(path.read_bytes())
    manifest.update(changes)
    path.write_bytes(canonical_json(manifest))


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 0, "1", None])
def test_wrong_schema_version(snap: Path, version: Any) -> None:
    _edit_manifest(snap, schema_version=version)
    with pytest.raises(SnapshotError) as exc:
        load_snapshot(snap)
    msg = str(exc.value)
    assert f"snapshot schema version {version!r} is not supported" in msg
    assert f"reads version {SCHEMA_VERSION}" in msg and str(snap / MANIFEST) in msg


def test_not_a_snapshot(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no such snapshot folder"):
        load_snapshot(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SnapshotError, match="no manifest.json"):
        load_snapshot(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / MANIFEST).write_text('{"format": "something-else"}')
    with pytest.raises(SnapshotError, match="not an auditor snapshot manifest"):
        load_snapshot(tmp_path / "other")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / MANIFEST).write_text('{"format": ')
    with pytest.raises(SnapshotError, match="not valid JSON"):
        load_snapshot(tmp_path / "broken")


# -- interrupted runs and existing folders -------------------------------------------------

def test_aborted_writer_leaves_partial_marked_interrupted(tmp_path: Path) -> None:
    final = tmp_path / "snap"
    writer = SnapshotWriter(final)
    records = sample_records()[:3]
    for rec in records:
        writer.add(rec)
    where = writer.abort(META, "interrupted by the user")

    assert where == partial_path(final) == tmp_path / "snap.partial"
    assert not final.exists()
    manifest = json.loads((where / MANIFEST).read_bytes())
    assert manifest["status"] == "interrupted" and manifest["complete"] is False
    assert manifest["interrupted_because"] == "interrupted by the user"
    with pytest.raises(SnapshotError, match=r"interrupted \(interrupted by the user\)"):
        load_snapshot(where)
    loaded = load_snapshot(where, allow_interrupted=True)
    assert sorted(loaded.records, key=lambda r: r.record_id) == sorted(records, key=lambda r: r.record_id)
    # A new run into the same folder refuses to bury the interrupted evidence.
    with pytest.raises(SnapshotError, match="interrupted run's evidence"):
        SnapshotWriter(final)


def test_non_empty_folder_is_refused(tmp_path: Path) -> None:
    final = tmp_path / "snap"
    final.mkdir()
    (final / "notes.txt").write_text("keep me")
    with pytest.raises(SnapshotError, match="already exists and is not empty"):
        SnapshotWriter(final)
    assert (final / "notes.txt").read_text() == "keep me"
    assert not partial_path(final).exists()


def test_existing_snapshot_is_never_overwritten(snap: Path) -> None:
    before = record_files(snap)
    with pytest.raises(SnapshotError, match="already exists"):
        SnapshotWriter(snap)
    assert record_files(snap) == before


def test_empty_existing_folder_is_used(tmp_path: Path) -> None:
    final = tmp_path / "snap"
    final.mkdir()
    write(final, sample_records()[:1])
    assert load_snapshot(final).records == tuple(sample_records()[:1])
    assert not partial_path(final).exists()


def test_nothing_is_added_after_abort(tmp_path: Path) -> None:
    """A worker that is still collecting when the run is aborted cannot add files that the
    interrupted manifest does not list."""
    writer = SnapshotWriter(tmp_path / "snap")
    first, late = sample_records()[:2]
    writer.add(first)
    partial = writer.abort(META, "interrupted by the user")
    with pytest.raises(SnapshotError, match="after the snapshot was interrupted"):
        writer.add(late)
    assert not (partial / f"records/{late.record_id}.json").exists()
    loaded = load_snapshot(partial, allow_interrupted=True)
    assert loaded.records == (first,)


def test_keyboard_interrupt_during_collect_leaves_partial(moto_aws: None, tmp_path: Path) -> None:
    net = make_network(HOME_ACCOUNT, "us-east-1")

    def interrupt(session: Any) -> None:
        def press_ctrl_c(request: Any, **_: Any) -> None:
            if request_region(request) == "us-east-1":
                raise KeyboardInterrupt

        session.register("before-send.ec2.DescribeSubnets", press_ctrl_c)

    final = tmp_path / "snap"
    try:
        with pytest.raises(KeyboardInterrupt):
            collect(make_config([(HOME_ACCOUNT, None)], ["us-east-1", "eu-west-1"]),
                    SessionFactory(max_attempts=1, hooks=[interrupt]), SnapshotWriter(final, keep=True))
    finally:
        # The other region's task may still be finishing in the background; let it end
        # while moto is still in place.
        for thread in threading.enumerate():
            if thread.name.startswith("collect"):
                thread.join(timeout=60)

    partial = partial_path(final)
    assert not final.exists() and partial.is_dir()
    manifest = json.loads((partial / MANIFEST).read_bytes())
    assert manifest["status"] == "interrupted" and manifest["complete"] is False
    assert manifest["interrupted_because"] == "interrupted by the user"
    assert [a["id"] for a in manifest["accounts"]] == [HOME_ACCOUNT]
    with pytest.raises(SnapshotError, match="interrupted"):
        load_snapshot(partial)
    # What was gathered before the interrupt is kept, listed and verifiable (no file that a
    # still-running task wrote late is left unlisted).
    loaded = load_snapshot(partial, allow_interrupted=True)
    ops = [(r.region, r.operation) for r in loaded.records]
    assert (GLOBAL_REGION, "GetCallerIdentity") in ops
    assert ("us-east-1", "DescribeVpcs") in ops
    vpcs = next(r for r in loaded.records if r.operation == "DescribeVpcs" and r.region == "us-east-1")
    assert net.vpc_id in {v["VpcId"] for v in vpcs.items("Vpcs")}
    assert ("us-east-1", "DescribeSubnets") not in ops
    assert len(manifest["calls"]) == len(loaded.records) == len(manifest["files"])
