"""A bad-input corpus for evidence: snapshots, evidence bundles and findings files.

Every case is one damaged or hostile copy of a small, valid snapshot / bundle / findings.json
(built once per module), run through the real CLI (click's CliRunner on `auditor.cli.cli`).
Each must end with its documented exit code (docs/cli.md: 2 input error, 5 verify failed,
0 for the qualified verify verdicts), a message that names the problem (a regex over the
output), and no traceback. Hashes are fixed up after each edit where the point is to reach the
check behind them (a forger can always recompute an unsigned manifest).
"""

from __future__ import annotations

import builtins
import gzip
import hashlib
import io
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from auditor.cli import cli
from auditor.rules.fixtures import ACCOUNT, REGION, Case, records_for
from auditor.snapshot.writer import SnapshotWriter

CALLS: dict[str, Any] = {
    "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]},
    "ec2:DescribeInternetGateways": {"InternetGateways": [
        {"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]}]},
    "ec2:DescribeSubnets": {"Subnets": [
        {"SubnetId": "subnet-a", "VpcId": "vpc-a", "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "eu-west-1a",
         "MapPublicIpOnLaunch": True}]},
}
META = {"started": "2026-03-01T10:00:00Z", "finished": "2026-03-01T10:01:00Z", "regions": [REGION],
        "accounts": [{"id": ACCOUNT, "name": "t", "regions": [REGION]}], "config": {"digest": "sha256:x"}}
CONFIG = f"version: 1\naccounts: [{{id: '{ACCOUNT}'}}]\nregions: [{REGION}]\nrule_packs: [endpoints]\n"
VPCS = f"records/{ACCOUNT}/{REGION}/ec2/DescribeVpcs.json"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Made:
    snap: Path          # a plain snapshot
    gz: Path            # the same, gzip-compressed records
    bundle: Path        # a signed evidence bundle (scan --snapshot -c CONFIG --sign-key)
    private: Path
    public: Path


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    root = tmp_path_factory.mktemp("evidence")
    for name, compress in (("snap", False), ("gz", True)):
        writer = SnapshotWriter(root / name, compress=compress)
        for rec in records_for(Case(rule="", name="bad", file="", line=0, calls=CALLS, failed=(), region=REGION)):
            writer.add(rec)
        writer.finish(META)
    key = Ed25519PrivateKey.generate()
    (root / "signer.pem").write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    (root / "signer.pub").write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    (root / "audit.yaml").write_text(CONFIG)
    res = CliRunner().invoke(cli, ["scan", "-c", str(root / "audit.yaml"), "--snapshot", str(root / "snap"),
                                   "--out", str(root / "bundle"), "--sign-key", str(root / "signer.pem"),
                                   "--format", "html,junit,sarif,csv", "--fail-on", "none"])
    assert res.exit_code in (0, 3), res.output
    return Made(root / "snap", root / "gz", root / "bundle", root / "signer.pem", root / "signer.pub")


# --- editing helpers ----------------------------------------------------------------------

def _manifest(snap: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((snap / "manifest.json").read_text())
    return data


def _write_manifest(snap: Path, manifest: Any) -> None:
    (snap / "manifest.json").write_text(json.dumps(manifest))


def _edit_manifest(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def run(snap: Path) -> None:
        m = _manifest(snap)
        edit(m)
        _write_manifest(snap, m)
    return run


def _fix_record_hashes(snap: Path) -> None:
    """Recompute every listed record's hash in the manifest (what a forger would do)."""
    m = _manifest(snap)
    for rel in m["files"]:
        path = snap / rel
        if path.is_file() and not path.is_symlink():
            m["files"][rel] = "sha256:" + _sha(path.read_bytes())
    _write_manifest(snap, m)


def _record(rel: str, data: bytes | Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    """Replace a record's bytes (or edit its JSON), then fix its hash."""
    def run(snap: Path) -> None:
        path = snap / rel
        if callable(data):
            body = json.loads(path.read_text())
            out = data(body)
            path.write_text(json.dumps(body if out is None else out))
        else:
            path.write_bytes(data)
        _fix_record_hashes(snap)
    return run


def _pages(pages: Any) -> Callable[[Path], None]:
    def edit(body: dict[str, Any]) -> None:
        body["pages"] = pages
    return _record(VPCS, edit)


def _symlink_record(snap: Path) -> None:
    outside = snap.parent / "outside.json"
    shutil.copyfile(snap / VPCS, outside)
    (snap / VPCS).unlink()
    os.symlink(outside, snap / VPCS)            # same bytes, same hash: only the link is wrong


def _symlink_manifest(snap: Path) -> None:
    outside = snap.parent / "manifest-elsewhere.json"
    shutil.copyfile(snap / "manifest.json", outside)
    (snap / "manifest.json").unlink()
    os.symlink(outside, snap / "manifest.json")


def _symlink_records_dir(snap: Path) -> None:
    outside = snap.parent / "records-elsewhere"
    shutil.move(str(snap / "records"), outside)
    os.symlink(outside, snap / "records")


def _escape(entry: str) -> Callable[[Path], None]:
    def edit(m: dict[str, Any]) -> None:
        m["files"][entry] = "sha256:" + "0" * 64
    return _edit_manifest(edit)


def _drop_file(snap: Path) -> None:
    (snap / VPCS).unlink()


def _truncate_gz(snap: Path) -> None:
    rel = VPCS + ".gz"
    path = snap / rel
    path.write_bytes(path.read_bytes()[:20])
    _fix_record_hashes(snap)


def _gz_not_gzip(snap: Path) -> None:
    (snap / (VPCS + ".gz")).write_bytes(b'{"not": "gzip"}')
    _fix_record_hashes(snap)


def _mismatched_call(snap: Path) -> None:
    m = _manifest(snap)
    for call in m["calls"]:
        if call["record"] == VPCS:
            call["operation"] = "DescribeSubnets"
    _write_manifest(snap, m)


def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


# --- the snapshot corpus: inventory and scan --snapshot ------------------------------------

@dataclass(frozen=True)
class SnapCase:
    id: str
    edit: Callable[[Path], None]
    message: str            # regex over stderr
    gz: bool = False
    # `report` checks a bundle's snapshot as `verify` step 4 does, without evaluating it: the
    # cases found only by evaluation (and an interrupted run, which bundles may hold) are not
    # report's to refuse; `verify` refuses them (the bundle corpus below).
    report: bool = True


SNAPSHOT_CASES = [
    SnapCase("manifest-not-json", lambda s: (s / "manifest.json").write_text("{not json"), r"manifest is not valid JSON"),
    SnapCase("manifest-empty", lambda s: (s / "manifest.json").write_bytes(b""), r"manifest is empty"),
    SnapCase("manifest-not-utf8", lambda s: (s / "manifest.json").write_bytes(b'{"format": "\xff\xfe"}'),
             r"manifest is not valid JSON"),
    SnapCase("manifest-deeply-nested", lambda s: (s / "manifest.json").write_bytes(_deep(100_000)),
             r"manifest is not valid JSON"),
    SnapCase("manifest-a-list", lambda s: _write_manifest(s, [1, 2]), r"not an auditor snapshot manifest"),
    SnapCase("manifest-wrong-format", _edit_manifest(lambda m: m.update(format="x")), r"not an auditor snapshot"),
    SnapCase("manifest-schema-version", _edit_manifest(lambda m: m.update(schema_version="1")),
             r"schema version '1' is not supported"),
    SnapCase("manifest-status-unknown", _edit_manifest(lambda m: m.update(status=7)), r"interrupted|'status'"),
    SnapCase("manifest-files-a-list", _edit_manifest(lambda m: m.update(files=[VPCS])), r"'files' is missing or not"),
    SnapCase("manifest-files-missing", _edit_manifest(lambda m: m.pop("files")), r"'files' is missing"),
    SnapCase("manifest-entry-dotdot", _escape("../../../../etc/hostname"),
             r"'\.\./\.\./\.\./\.\./etc/hostname' holds an empty, '\.' or '\.\.' segment"),
    SnapCase("manifest-entry-dotdot-inside-records", _escape("records/../../../etc/hostname"),
             r"records/\.\./\.\./\.\./etc/hostname' holds an empty"),
    SnapCase("manifest-entry-absolute", _escape("/etc/hostname"), r"'/etc/hostname' is an absolute path"),
    SnapCase("manifest-entry-outside-records", _escape("inputs/audit-config.yaml"), r"is not a record file"),
    SnapCase("manifest-entry-backslash", _escape("records\\..\\x.json"), r"holds a NUL or backslash"),
    SnapCase("manifest-digest-not-sha256", _edit_manifest(lambda m: m["files"].update({VPCS: "md5:abc"})),
             r"has no 'sha256:<64 hex digits>' digest"),
    SnapCase("manifest-calls-a-dict", _edit_manifest(lambda m: m.update(calls={"a": 1})), r"'calls' is not a list"),
    SnapCase("manifest-call-without-record", _edit_manifest(lambda m: m["calls"][0].pop("record")),
             r"'calls\[0\]' has no 'record'"),
    SnapCase("manifest-call-duration-text", _edit_manifest(lambda m: m["calls"][0].update(duration_ms="slow")),
             r"'calls\[0\]\.duration_ms' has the wrong type"),
    SnapCase("manifest-errors-entry-no-kind",
             _edit_manifest(lambda m: m.update(errors=[{"account": ACCOUNT, "region": REGION, "service": "ec2",
                                                        "operation": "X", "code": "c", "message": "m"}])),
             r"'errors\[0\]' has no 'kind'"),
    SnapCase("manifest-account-a-string", _edit_manifest(lambda m: m.update(accounts=[ACCOUNT])),
             r"'accounts\[0\]' is not an object"),
    SnapCase("manifest-account-regions-text", _edit_manifest(lambda m: m["accounts"][0].update(regions=REGION)),
             r"'accounts\[0\]\.regions' has the wrong type"),
    SnapCase("manifest-account-identity-list", _edit_manifest(lambda m: m["accounts"][0].update(identity=[])),
             r"'accounts\[0\]\.identity' has the wrong type"),
    SnapCase("manifest-account-identity-number", _edit_manifest(lambda m: m["accounts"][0].update(identity=7)),
             r"'accounts\[0\]\.identity' has the wrong type"),
    SnapCase("manifest-regions-text", _edit_manifest(lambda m: m.update(regions=REGION)),
             r"'regions' is not a list of region names"),
    SnapCase("manifest-task-account-number",
             _edit_manifest(lambda m: m.update(tasks=[{"account": 1, "region": REGION, "status": "complete"}])),
             r"'tasks\[0\]\.account' has the wrong type"),
    SnapCase("manifest-account-problem-no-message",
             _edit_manifest(lambda m: m.update(account_problems=[{"account": ACCOUNT}])),
             r"'account_problems\[0\]' has no 'message'"),
    SnapCase("manifest-finished-number", _edit_manifest(lambda m: m.update(finished=20260301)),
             r"'finished' is not text"),
    SnapCase("manifest-complete-text", _edit_manifest(lambda m: m.update(complete="yes")),
             r"'complete' is not true or false"),
    SnapCase("manifest-lists-a-missing-file", _drop_file, r"DescribeVpcs\.json: listed in the manifest but missing"),
    SnapCase("manifest-call-disagrees-with-record", _mismatched_call,
             r"DescribeVpcs\.json: the record's operation 'DescribeVpcs' differs from the manifest's"),
    SnapCase("record-not-json", _record(VPCS, b"{broken"), r"DescribeVpcs\.json: the record is not valid JSON"),
    SnapCase("record-empty", _record(VPCS, b""), r"DescribeVpcs\.json: the record is empty"),
    SnapCase("record-not-utf8", _record(VPCS, b'{"account": "\xff"}'), r"the record is not valid JSON"),
    SnapCase("record-a-list", _record(VPCS, lambda b: [b]), r"malformed record: it is not a JSON object"),
    SnapCase("record-no-operation", _record(VPCS, lambda b: b.pop("operation") and None),
             r"malformed record: it has no 'operation'"),
    SnapCase("record-account-number", _record(VPCS, lambda b: b.update(account=1)),
             r"'account' is not a non-empty text"),
    SnapCase("record-pages-object", _pages({"Vpcs": []}), r"'pages' is not a list of response objects"),
    SnapCase("record-page-a-string", _pages(["Vpcs"]), r"'pages' is not a list of response objects"),
    SnapCase("record-error-a-string", _record(VPCS, lambda b: b.update(error="denied")),
             r"'error' is not an object"),
    SnapCase("record-error-no-code", _record(VPCS, lambda b: b.update(error={"kind": "aws", "message": "m"})),
             r"'error\.code' is missing or not text"),
    SnapCase("record-params-list", _record(VPCS, lambda b: b.update(params=[1])), r"'params' is not an object"),
    SnapCase("record-item-not-an-object", _pages([{"Vpcs": [1]}]),
             r"DescribeVpcs\.json: malformed record: its pages hold data of a shape AWS never returns", report=False),
    SnapCase("record-item-without-id", _pages([{"Vpcs": [{"CidrBlock": "10.0.0.0/16"}]}]),
             r"DescribeVpcs\.json: malformed record: its pages hold data of a shape", report=False),
    SnapCase("record-symlinked", _symlink_record, r"DescribeVpcs\.json: is a symbolic link"),
    SnapCase("manifest-symlinked", _symlink_manifest, r"manifest\.json: is a symbolic link"),
    SnapCase("records-folder-symlinked", _symlink_records_dir, r"records: is a symbolic link"),
    SnapCase("fifo-in-records", lambda s: os.mkfifo(s / "records" / "pipe.json"),
             r"pipe\.json: is not a regular file or folder \(a FIFO"),
    SnapCase("gzip-truncated", _truncate_gz, r"DescribeVpcs\.json\.gz: the record is not a valid gzip file", gz=True),
    SnapCase("gzip-not-gzip", _gz_not_gzip, r"DescribeVpcs\.json\.gz: the record is not a valid gzip file", gz=True),
    SnapCase("snapshot-interrupted", _edit_manifest(lambda m: m.update(status="interrupted")),
             r"this run was interrupted", report=False),
    SnapCase("snapshot-missing", lambda s: shutil.rmtree(s), r"no such snapshot folder"),
]


def _no_traceback(res: Any) -> None:
    assert "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)


# `report` reads the snapshot of the bundle it writes into (its hashes for the reports, and
# bundle.json is refreshed): every plain-snapshot case is also run there.
_RUNS = [pytest.param(c, cmd, id=f"{cmd}-{c.id}") for cmd in ("inventory", "scan", "report")
         for c in SNAPSHOT_CASES if cmd != "report" or (c.report and not c.gz)]


@pytest.mark.parametrize(("case", "command"), _RUNS)
def test_a_malformed_snapshot_is_an_input_error(made: Made, tmp_path: Path, case: SnapCase, command: str) -> None:
    if command == "report":
        bundle = tmp_path / "bundle"
        shutil.copytree(made.bundle, bundle)
        snap = bundle / "snapshot"
        before = (bundle / "findings.csv").read_bytes()
    else:
        snap = tmp_path / "snap"
        shutil.copytree(made.gz if case.gz else made.snap, snap)
    case.edit(snap)
    args = {"inventory": ["inventory", str(snap)],
            "scan": ["scan", "--snapshot", str(snap), "--out", str(tmp_path / "out"), "--format", "csv"],
            "report": ["report", str(tmp_path / "bundle" / "findings.json"), "--format", "csv"]}[command]
    res = CliRunner().invoke(cli, args)
    _no_traceback(res)
    assert res.exit_code == 2, res.output
    assert re.search(case.message, res.stderr), res.stderr
    assert "/etc/hostname" not in res.stdout
    if command == "report":      # refused before any report was written
        assert (tmp_path / "bundle" / "findings.csv").read_bytes() == before


def test_an_escaping_manifest_entry_is_refused_before_it_is_opened(made: Made, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing outside the snapshot is opened: the entry is refused before any read."""
    snap = tmp_path / "snap"
    shutil.copytree(made.snap, snap)
    target = tmp_path / "secret.json"
    target.write_text(json.dumps({"account": ACCOUNT, "region": REGION, "service": "ec2",
                                  "operation": "DescribeVpcs", "pages": []}))
    m = _manifest(snap)
    m["files"]["../secret.json"] = "sha256:" + _sha(target.read_bytes())    # even with the right hash
    _write_manifest(snap, m)
    opened: list[str] = []

    def spying(real: Callable[..., Any]) -> Callable[..., Any]:
        def spy(path: Any, *args: Any, **kwargs: Any) -> Any:
            opened.append(str(path))
            return real(path, *args, **kwargs)
        return spy

    # Every way a file is opened here: os.open, and io.open / open (what Path.read_bytes uses).
    monkeypatch.setattr(os, "open", spying(os.open))
    monkeypatch.setattr(io, "open", spying(io.open))
    monkeypatch.setattr(builtins, "open", spying(builtins.open))
    res = CliRunner().invoke(cli, ["inventory", str(snap)])
    _no_traceback(res)
    assert res.exit_code == 2 and "'../secret.json'" in res.stderr, res.output
    assert any(p.endswith("manifest.json") for p in opened)      # the spy sees the reads that do happen
    assert not [p for p in opened if "secret" in p]


# --- the bundle corpus: verify -------------------------------------------------------------

def _fix_bundle(bundle: Path) -> None:
    """Recompute bundle.json's hashes and snapshot digest and drop the signature (a forger's
    fix-up of an unsigned bundle)."""
    doc = json.loads((bundle / "bundle.json").read_text())
    for name in doc["files"]:
        path = bundle / name
        if path.is_file() and not path.is_symlink():
            doc["files"][name] = _sha(path.read_bytes())
    doc["snapshot_manifest_sha256"] = "sha256:" + _sha((bundle / "snapshot" / "manifest.json").read_bytes())
    (bundle / "bundle.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    (bundle / "bundle.sig").unlink(missing_ok=True)


def _bundle_edit(rel: str, data: bytes | Callable[[bytes], bytes], *, fix: bool = True) -> Callable[[Path], None]:
    def run(bundle: Path) -> None:
        path = bundle / rel
        path.write_bytes(data(path.read_bytes()) if callable(data) else data)
        if rel.startswith("snapshot/records/"):
            _fix_record_hashes(bundle / "snapshot")
        if fix:
            _fix_bundle(bundle)
    return run


def _bundle_json(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def run(bundle: Path) -> None:
        doc = json.loads((bundle / "bundle.json").read_text())
        edit(doc)
        (bundle / "bundle.json").write_text(json.dumps(doc))
        (bundle / "bundle.sig").unlink(missing_ok=True)
    return run


FAKE_HTML = b"<!doctype html><title>COMPLIANT</title><h1 style='color:green'>COMPLIANT: every check passed</h1>"


def _snapshot_edit(edit: Callable[[Path], None]) -> Callable[[Path], None]:
    def run(bundle: Path) -> None:
        edit(bundle / "snapshot")
        _fix_bundle(bundle)
    return run


def _bundle_symlink(rel: str) -> Callable[[Path], None]:
    def run(bundle: Path) -> None:
        outside = bundle.parent / ("outside-" + rel.replace("/", "_"))
        shutil.copyfile(bundle / rel, outside)
        (bundle / rel).unlink()
        os.symlink(outside, bundle / rel)
    return run


def _random_sig(n: int) -> Callable[[Path], None]:
    def run(bundle: Path) -> None:
        (bundle / "bundle.sig").write_bytes(os.urandom(n))
    return run


@dataclass(frozen=True)
class BundleCase:
    id: str
    edit: Callable[[Path], None]
    code: int
    message: str            # regex over stdout + stderr
    key: bool = False       # give --public-key


BUNDLE_CASES = [
    BundleCase("report-html-fake-compliant", _bundle_edit("report.html", FAKE_HTML), 5,
               r"FAILED  report\.html: differs from the report re-derived from findings\.json"),
    BundleCase("sarif-forged", _bundle_edit("findings.sarif", lambda b: b.replace(b'"error"', b'"note"')), 5,
               r"FAILED  findings\.sarif: differs from the report re-derived"),
    BundleCase("junit-forged", _bundle_edit("findings.junit.xml", lambda b: re.sub(rb'failures="\d+"',
                                                                                   b'failures="0"', b)), 5,
               r"FAILED  findings\.junit\.xml: differs"),
    BundleCase("csv-forged", _bundle_edit("findings.csv", lambda b: b.replace(b"FAIL", b"PASS")), 5,
               r"FAILED  findings\.csv: differs"),
    BundleCase("findings-not-json", _bundle_edit("findings.json", b"{oops"), 5,
               r"FAILED  findings\.json: differs from a re-evaluation .*not valid JSON"),
    BundleCase("config-not-utf8", _bundle_edit("inputs/audit-config.yaml", b"version: 1\nregions: [\xff]\n"), 5,
               r"FAILED  inputs/audit-config\.yaml: cannot re-evaluate"),
    BundleCase("config-not-yaml", _bundle_edit("inputs/audit-config.yaml", b"version: [1\n"), 5,
               r"FAILED  inputs/audit-config\.yaml: cannot re-evaluate"),
    BundleCase("snapshot-record-malformed", _snapshot_edit(_pages([{"Vpcs": [1]}])), 5,
               r"FAILED  snapshot/records/.*DescribeVpcs\.json: .*malformed record"),
    BundleCase("snapshot-record-not-json", _snapshot_edit(_record(VPCS, b"[")), 5,
               r"FAILED  snapshot/records/.*DescribeVpcs\.json: .*not valid JSON"),
    BundleCase("snapshot-entry-escapes", _snapshot_edit(_escape("../../../../etc/hostname")), 5,
               r"FAILED  snapshot/manifest\.json: .*'\.\./\.\./\.\./\.\./etc/hostname' holds"),
    BundleCase("snapshot-manifest-not-json", _bundle_edit("snapshot/manifest.json", b"nope"), 5,
               r"FAILED  snapshot/manifest\.json: .*manifest is not valid JSON"),
    BundleCase("bundle-json-not-json", lambda b: (b / "bundle.json").write_bytes(b"{"), 5,
               r"FAILED  bundle\.json: not valid JSON"),
    BundleCase("bundle-json-a-list", lambda b: (b / "bundle.json").write_bytes(b"[]"), 5,
               r"FAILED  bundle\.json: not a private-network-auditor-bundle manifest"),
    BundleCase("bundle-json-deeply-nested", lambda b: (b / "bundle.json").write_bytes(_deep(100_000)), 5,
               r"FAILED  bundle\.json: not valid JSON"),
    BundleCase("bundle-json-entry-dotdot", _bundle_json(lambda d: d["files"].update({"../../etc/hostname": "0" * 64})),
               5, r"FAILED  bundle\.json: file entry '\.\./\.\./etc/hostname' holds"),
    BundleCase("bundle-json-entry-absolute", _bundle_json(lambda d: d["files"].update({"/etc/hostname": "0" * 64})),
               5, r"FAILED  bundle\.json: file entry '/etc/hostname' is an absolute path"),
    BundleCase("bundle-json-digest-number", _bundle_json(lambda d: d["files"].update({"findings.json": 1})), 5,
               r"FAILED  bundle\.json: file entry 'findings\.json' has no SHA-256"),
    BundleCase("bundle-json-tool-text", _bundle_json(lambda d: d.update(tool="auditor")), 5,
               r"FAILED  bundle\.json: malformed manifest"),
    BundleCase("bundle-json-version", _bundle_json(lambda d: d.update(version=2)), 5,
               r"FAILED  bundle\.json: unsupported bundle version 2"),
    BundleCase("findings-json-unlisted", _bundle_json(lambda d: d["files"].pop("findings.json")), 5,
               r"FAILED  findings\.json: not listed in bundle\.json"),
    BundleCase("symlinked-input", _bundle_symlink("inputs/audit-config.yaml"), 5,
               r"FAILED  inputs/audit-config\.yaml: .*is a symbolic link"),
    BundleCase("symlinked-report", _bundle_symlink("report.html"), 5, r"FAILED  report\.html: .*is a symbolic link"),
    BundleCase("symlinked-bundle-json", _bundle_symlink("bundle.json"), 5,
               r"FAILED  bundle\.json: .*is a symbolic link"),
    BundleCase("symlinked-signature", _bundle_symlink("bundle.sig"), 5, r"FAILED  bundle\.sig: .*is a symbolic link"),
    BundleCase("symlinked-snapshot-folder",
               lambda b: (shutil.move(str(b / "snapshot"), b.parent / "snap-out"),
                          os.symlink(b.parent / "snap-out", b / "snapshot")), 5,
               r"FAILED  snapshot: .*is a symbolic link"),
    BundleCase("fifo-in-bundle", lambda b: os.mkfifo(b / "inputs" / "pipe"), 5,
               r"FAILED  inputs/pipe: .*is not a regular file or folder"),
    BundleCase("signature-truncated", _random_sig(10), 5, r"FAILED  bundle\.sig: not an Ed25519 signature \(10 bytes"),
    BundleCase("signature-random-with-key", _random_sig(64), 5, r"FAILED  bundle\.json: the signature in bundle\.sig "
                                                                r"does not match", key=True),
    BundleCase("signature-random-without-key", _random_sig(64), 0,
               r"VERIFIED, SIGNATURE NOT CHECKED \(bundle\.sig present but no --public-key given"),
    BundleCase("signature-removed-with-key", lambda b: (b / "bundle.sig").unlink(), 5,
               r"FAILED  bundle\.sig: missing", key=True),
    BundleCase("no-bundle-json", lambda b: (b / "bundle.json").unlink(), 2, r"no bundle\.json; this is not an "
                                                                            r"evidence bundle"),
    BundleCase("not-a-folder", lambda b: (shutil.rmtree(b), b.write_text("x")), 2, r"not a folder"),
    BundleCase("public-key-garbage", lambda b: None, 2, r"cannot read a PEM public key", key=True),
]


@pytest.mark.parametrize("case", BUNDLE_CASES, ids=[c.id for c in BUNDLE_CASES])
def test_a_damaged_bundle_fails_verify_naming_the_file(made: Made, tmp_path: Path, case: BundleCase) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(made.bundle, bundle, symlinks=True)
    case.edit(bundle)
    key = made.public
    if case.id == "public-key-garbage":
        key = tmp_path / "garbage.pub"
        key.write_text("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
    args = ["verify", str(bundle)] + (["--public-key", str(key)] if case.key else [])
    res = CliRunner().invoke(cli, args)
    _no_traceback(res)
    assert res.exit_code == case.code, res.output
    assert re.search(case.message, res.output), res.output
    if case.code != 0:
        assert not re.search(r"^VERIFIED", res.stdout, re.M), res.stdout


# --- the findings-file corpus: report ------------------------------------------------------

def _findings(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def run(path: Path) -> None:
        doc = json.loads(path.read_text())
        edit(doc)
        path.write_text(json.dumps(doc, sort_keys=True, indent=1))
    return run


def _first_fail(doc: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = next(f for f in doc["findings"] if f["status"] == "FAIL")
    return row


def _zero_fail_summary(doc: dict[str, Any]) -> None:
    n = doc["summary"]["findings"]["FAIL"]
    assert n > 0
    doc["summary"]["findings"]["FAIL"] = 0
    doc["summary"]["findings"]["PASS"] += n


def _rule_said_pass(doc: dict[str, Any]) -> None:
    rule_id = _first_fail(doc)["rule_id"]
    rule = next(r for r in doc["rules"] if r["id"] == rule_id)
    rule["status"] = "PASS"


def _complete_with_error(doc: dict[str, Any]) -> None:
    row = _first_fail(doc)
    row["status"] = "ERROR"
    sev = row["severity"]
    for counts in (doc["summary"]["findings"], doc["summary"]["by_severity"][sev]):
        counts["FAIL"] -= 1
        counts["ERROR"] += 1
    rule = next(r for r in doc["rules"] if r["id"] == row["rule_id"])
    rule["counts"]["FAIL"] -= 1
    rule["counts"]["ERROR"] += 1
    doc["summary"]["complete"] = True


def _failing_control(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return next((fw, c) for fw in doc["frameworks"] for c in fw["controls"] if c["status"] == "FAIL")


def _control_said_pass(doc: dict[str, Any]) -> None:
    _, control = _failing_control(doc)
    control["status"] = "PASS"
    control["counts"]["PASS"] += control["counts"]["FAIL"]
    control["counts"]["FAIL"] = 0


def _framework_said_pass(doc: dict[str, Any]) -> None:
    fw, _ = _failing_control(doc)
    fw["status"] = "PASS"


@dataclass(frozen=True)
class FindingsCase:
    id: str
    edit: Callable[[Path], None]
    message: str


FINDINGS_CASES = [
    FindingsCase("findings-summary-says-no-fail", _findings(_zero_fail_summary),
                 r"summary/findings/FAIL: says 0, the findings hold [1-9].*summary does not match its own findings"),
    FindingsCase("findings-severity-count-edited",
                 _findings(lambda d: d["summary"]["by_severity"][_first_fail(d)["severity"]].update(FAIL=0)),
                 r"summary/by_severity/\w+/FAIL: says 0"),
    FindingsCase("findings-rule-says-pass", _findings(_rule_said_pass), r"rules/[\w-]+/status: says PASS"),
    FindingsCase("findings-complete-with-error", _findings(_complete_with_error),
                 r"summary/complete: says true, but a finding is ERROR"),
    FindingsCase("findings-control-says-pass", _findings(_control_said_pass),
                 r"frameworks/[\w.-]+/controls/[^/]+/status: says PASS"),
    FindingsCase("findings-framework-says-pass", _findings(_framework_said_pass),
                 r"frameworks/[\w.-]+/status: says PASS, its controls make it FAIL"),
    FindingsCase("findings-not-json", lambda p: p.write_text("{nope"), r"not a findings\.json \(not JSON"),
    FindingsCase("findings-empty", lambda p: p.write_bytes(b""), r"not a findings\.json \(not JSON"),
    FindingsCase("findings-not-utf8", lambda p: p.write_bytes(b'{"format": "\xff"}'), r"not a findings\.json"),
    FindingsCase("findings-deeply-nested", lambda p: p.write_bytes(_deep(100_000)), r"nested too deeply"),
    FindingsCase("findings-a-list", lambda p: p.write_text("[]"), r"does not match the findings\.json schema"),
    FindingsCase("findings-no-summary", _findings(lambda d: d.pop("summary")),
                 r"'summary' is a required property"),
    FindingsCase("findings-missing", lambda p: p.unlink(), r"cannot read"),
]


@pytest.mark.parametrize("case", FINDINGS_CASES, ids=[c.id for c in FINDINGS_CASES])
def test_a_bad_findings_file_is_an_input_error(made: Made, tmp_path: Path, case: FindingsCase) -> None:
    path = tmp_path / "findings.json"
    shutil.copyfile(made.bundle / "findings.json", path)
    case.edit(path)
    res = CliRunner().invoke(cli, ["report", str(path), "--format", "csv", "--out", str(tmp_path / "out")])
    _no_traceback(res)
    assert res.exit_code == 2, res.output
    assert re.search(case.message, res.stderr, re.S), res.stderr
    assert not (tmp_path / "out" / "findings.csv").exists()      # nothing reported from a forged summary


def test_report_through_a_symlinked_snapshot_manifest_is_refused(made: Made, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(made.bundle, bundle)
    _symlink_manifest(bundle / "snapshot")
    res = CliRunner().invoke(cli, ["report", str(bundle / "findings.json"), "--format", "csv"])
    _no_traceback(res)
    assert res.exit_code == 2 and re.search(r"snapshot/manifest\.json: .*symbolic link", res.stderr), res.output


def test_report_into_a_bundle_holding_a_link_is_refused_before_writing(made: Made, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(made.bundle, bundle)
    _bundle_symlink("inputs/audit-config.yaml")(bundle)
    before = (bundle / "findings.csv").read_bytes()
    res = CliRunner().invoke(cli, ["report", str(bundle / "findings.json"), "--format", "csv"])
    _no_traceback(res)
    assert res.exit_code == 2 and re.search(r"inputs/audit-config\.yaml: is a symbolic link", res.stderr), res.output
    assert (bundle / "findings.csv").read_bytes() == before


# --- the verdicts --------------------------------------------------------------------------

def test_verify_verdicts_say_what_was_checked(made: Made, tmp_path: Path) -> None:
    """Signed and checked; signed but not checked; unsigned: three distinct verdict lines,
    all exit 0; only the first is plain "VERIFIED (signed ...)"."""
    res = CliRunner().invoke(cli, ["verify", str(made.bundle), "--public-key", str(made.public)])
    assert res.exit_code == 0, res.output
    assert re.search(r"^VERIFIED \(signed; Ed25519 signature checked with .*signer\.pub\)", res.stdout, re.M)
    res = CliRunner().invoke(cli, ["verify", str(made.bundle)])
    assert res.exit_code == 0, res.output
    assert re.search(r"^VERIFIED, SIGNATURE NOT CHECKED \(bundle\.sig present but no --public-key", res.stdout, re.M)
    assert "VERIFIED (signed" not in res.stdout
    unsigned = tmp_path / "unsigned"
    shutil.copytree(made.bundle, unsigned)
    (unsigned / "bundle.sig").unlink()
    res = CliRunner().invoke(cli, ["verify", str(unsigned), "-q"])
    assert res.exit_code == 0, res.output
    assert re.search(r"^VERIFIED, UNSIGNED \(no bundle\.sig: integrity only against this bundle's own hashes",
                     res.stdout, re.M), res.stdout
    assert "VERIFIED (signed" not in res.stdout


def test_verify_says_which_reports_were_re_derived(made: Made) -> None:
    res = CliRunner().invoke(cli, ["verify", str(made.bundle), "--public-key", str(made.public)])
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.stdout.splitlines() if "re-derived from findings.json" in ln)
    for name in ("report.html", "findings.junit.xml", "findings.sarif", "findings.csv"):
        assert name in line


def test_a_report_written_later_in_another_style_still_verifies(made: Made, tmp_path: Path) -> None:
    """`auditor report --style healthcare` into the bundle: re-derived in that style."""
    bundle = tmp_path / "bundle"
    shutil.copytree(made.bundle, bundle)
    res = CliRunner().invoke(cli, ["report", str(bundle / "findings.json"), "--format", "html", "--style",
                                   "healthcare", "--sign-key", str(made.private)])
    assert res.exit_code == 0, res.output
    assert b"HIPAA" in (bundle / "report.html").read_bytes()
    res = CliRunner().invoke(cli, ["verify", str(bundle), "--public-key", str(made.public)])
    assert res.exit_code == 0 and "VERIFIED (signed" in res.stdout, res.output


def test_gzip_snapshot_fixture_is_valid(made: Made) -> None:
    """The corpus' gzip cases start from a snapshot that loads (so each failure is the edit's)."""
    res = CliRunner().invoke(cli, ["inventory", str(made.gz)])
    assert res.exit_code == 0, res.output
    assert gzip.decompress((made.gz / (VPCS + ".gz")).read_bytes())
