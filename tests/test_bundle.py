"""The evidence bundle `auditor scan` writes and `auditor verify`: every hash, the signature,
the snapshot, and a re-evaluation that must give findings.json byte for byte. Tampering with
any file makes verification fail, naming that file."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding, NoEncryption, PrivateFormat, PublicFormat,
)

from auditor.bundle import BUNDLE_FILE, SIGNATURE_FILE
from auditor.bundle_verify import verify_bundle
from auditor.rules.fixtures import ACCOUNT, REGION, Case, records_for
from auditor.snapshot.writer import SnapshotWriter
from conftest import run_auditor

PACK = textwrap.dedent("""
    pack:
      id: test-bundle
      version: 1.0.0
      title: Bundle test pack
      description: Rules for the bundle tests.
    rules:
      - id: TBU-001
        title: No internet gateway is attached
        severity: critical
        resource: vpc
        implements: [NET-GW-01]
        check: {attr: internet_gateway_ids, empty: true}
        message: "VPC {id} has internet gateway(s) {internet_gateway_ids}"
        rationale: A gateway is a way to the internet.
        remediation: {cli: aws ec2 detach-internet-gateway}
        references: ["https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html"]
        frameworks: {nist-800-53-r5: [SC-7]}
      - id: TBU-002
        title: Subnets do not map public IPv4 addresses on launch
        severity: low
        resource: subnet
        check: {attr: map_public_ip_on_launch, eq: false}
        message: "Subnet {id} maps public IPs"
        rationale: Public addresses expose instances.
        remediation: {cli: aws ec2 modify-subnet-attribute --no-map-public-ip-on-launch}
        references: ["https://docs.aws.amazon.com/vpc/latest/userguide/subnet-public-ip.html"]
        frameworks: {pci-dss-4.0: ["1.4.4"]}
""")

WAIVERS = textwrap.dedent("""
    version: 1
    waivers:
      - id: WVR-1
        rules: [TBU-002]
        resources: [{id: subnet-b}]
        justification: Legacy subnet being retired under change CHG-2 this quarter.
        approver: ciso@example.com
        ticket: RISK-1
        created: 2026-01-01
        expires: 2026-06-30
""")

CALLS: dict[str, Any] = {
    "ec2:DescribeVpcs": {"Vpcs": [
        {"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}, {"VpcId": "vpc-b", "CidrBlock": "10.1.0.0/16"}]},
    "ec2:DescribeInternetGateways": {"InternetGateways": [
        {"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": "vpc-a", "State": "available"}]}]},
    "ec2:DescribeVpcEndpoints": {"VpcEndpoints": []},
    "ec2:DescribeSubnets": {"Subnets": [
        {"SubnetId": "subnet-a", "VpcId": "vpc-a", "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "eu-west-1a",
         "MapPublicIpOnLaunch": False},
        {"SubnetId": "subnet-b", "VpcId": "vpc-b", "CidrBlock": "10.1.1.0/24", "AvailabilityZone": "eu-west-1a",
         "MapPublicIpOnLaunch": True}]},
}


REPORTS = {"html": "report.html", "pdf": "report.pdf", "junit": "findings.junit.xml", "sarif": "findings.sarif",
           "csv": "findings.csv"}


def auditor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`auditor ARGS` from `cwd`, in process (conftest.run_auditor)."""
    return run_auditor(*args, cwd=cwd)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(private key, its public key, another public key) as PEM files."""
    folder = tmp_path_factory.mktemp("keys")
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    (folder / "signer.pem").write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    (folder / "signer.pub").write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    (folder / "other.pub").write_bytes(other.public_key().public_bytes(Encoding.PEM,
                                                                       PublicFormat.SubjectPublicKeyInfo))
    return folder / "signer.pem", folder / "signer.pub", folder / "other.pub"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path, Path]) -> Path:
    """A signed bundle from `auditor scan --snapshot` with a pack file and a waivers file."""
    root = tmp_path_factory.mktemp("scan")
    writer = SnapshotWriter(root / "snap")
    for rec in records_for(Case(rule="", name="bundle", file="", line=0, calls=CALLS, failed=(), region=REGION)):
        writer.add(rec)
    writer.finish({"started": "2026-03-01T10:00:00Z", "finished": "2026-03-01T10:01:00Z", "regions": [REGION],
                   "accounts": [{"id": ACCOUNT, "name": "t", "regions": [REGION]}], "config": {"digest": "sha256:x"}})
    (root / "cfg" / "packs").mkdir(parents=True)
    (root / "cfg" / "packs" / "bundle.yaml").write_text(PACK)
    (root / "cfg" / "risk-waivers.yaml").write_text(WAIVERS)
    (root / "cfg" / "audit.yaml").write_text(
        f"version: 1\naccounts: [{{id: '{ACCOUNT}'}}]\nregions: [{REGION}]\n"
        "rule_packs: [packs/bundle.yaml, endpoints]\nwaivers: risk-waivers.yaml\n")
    proc = auditor("scan", "-c", "cfg/audit.yaml", "--snapshot", "snap", "--out", "out", "--sign-key", str(keys[0]),
                   cwd=root)
    assert proc.returncode == 4, proc.stdout + proc.stderr    # the critical FAIL, and ERROR findings (incomplete)
    assert "evidence bundle written to" in proc.stdout
    for fmt, name in REPORTS.items():                          # every report, and where
        assert f"{fmt} written to {Path('out') / name}" in proc.stdout, proc.stdout
    return root / "out"


@pytest.fixture
def bundle(made: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(made, copy)
    return copy


def _listed(bundle: Path) -> dict[str, str]:
    files: dict[str, str] = json.loads((bundle / BUNDLE_FILE).read_text())["files"]
    return files


def test_the_bundle_holds_everything_and_verifies(made: Path, keys: tuple[Path, Path, Path]) -> None:
    files = _listed(made)
    assert "findings.json" in files and "snapshot/manifest.json" in files
    assert "inputs/audit-config.yaml" in files and "inputs/waivers/risk-waivers.yaml" in files
    assert [f for f in files if f.startswith("inputs/packs/")] == ["inputs/packs/001/bundle.yaml"]
    assert files == dict(sorted(files.items()))
    assert set(REPORTS.values()) <= set(files)
    doc = json.loads((made / BUNDLE_FILE).read_text())
    assert doc["created"] == "2026-03-01T10:01:00Z" and len(doc["run_id"]) == 16
    assert (made / SIGNATURE_FILE).is_file()
    result = verify_bundle(made, public_key=keys[1])
    assert result.ok, result
    # the real console script, in its own process, once
    proc = subprocess.run([sys.executable, "-m", "auditor", "verify", str(made), "--public-key", str(keys[1])],
                          capture_output=True, text=True, cwd=made.parent, timeout=120)
    assert proc.returncode == 0 and "VERIFIED" in proc.stdout, proc.stdout + proc.stderr
    assert "signature" in proc.stdout


def test_the_bundle_is_deterministic(made: Path, tmp_path: Path) -> None:
    root = made.parent
    proc = auditor("scan", "-c", "cfg/audit.yaml", "--snapshot", "snap", "--out", str(tmp_path / "again"), cwd=root)
    assert proc.returncode == 4, proc.stderr
    assert (tmp_path / "again" / BUNDLE_FILE).read_bytes() == (made / BUNDLE_FILE).read_bytes()
    assert not (tmp_path / "again" / SIGNATURE_FILE).exists()
    assert verify_bundle(tmp_path / "again").ok


def test_a_pack_folder_named_without_a_slash_verifies(made: Path, tmp_path: Path) -> None:
    """`rule_packs: [own]` names a folder beside the config (it exists there), not a built-in
    pack: re-evaluating the bundle must read it as the scan did, from the bundle's copy."""
    shutil.copytree(made.parent / "cfg" / "packs", tmp_path / "cfg" / "own")
    (tmp_path / "cfg" / "bare.yaml").write_text(
        f"version: 1\naccounts: [{{id: '{ACCOUNT}'}}]\nregions: [{REGION}]\nrule_packs: [own, endpoints]\n")
    proc = auditor("scan", "-c", "cfg/bare.yaml", "--snapshot", str(made.parent / "snap"), "--out", "bare",
                   cwd=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    result = verify_bundle(tmp_path / "bare")
    assert result.ok, result


@pytest.mark.parametrize("kind", ["record", "snapshot-manifest", "findings", "config", "pack", "waivers",
                                  "bundle-json", "added", "deleted", *REPORTS])
def test_tampering_with_any_file_names_it(bundle: Path, kind: str, keys: tuple[Path, Path, Path]) -> None:
    if kind == "record":
        name = next(n for n in _listed(bundle) if n.startswith("snapshot/") and n != "snapshot/manifest.json")
    else:
        name = {"snapshot-manifest": "snapshot/manifest.json", "findings": "findings.json",
                "config": "inputs/audit-config.yaml", "pack": "inputs/packs/001/bundle.yaml",
                "waivers": "inputs/waivers/risk-waivers.yaml", "bundle-json": BUNDLE_FILE,
                "added": "reports/extra.html", "deleted": "inputs/waivers/risk-waivers.yaml", **REPORTS}[kind]
    path = bundle / name
    if kind == "added":
        path.parent.mkdir()
        path.write_text("<p>not part of the run</p>")
    elif kind == "deleted":
        path.unlink()
    elif kind == "bundle-json":
        doc = json.loads(path.read_text())
        doc["created"] = "2026-01-01T00:00:00Z"
        path.write_text(json.dumps(doc))
    else:
        path.write_bytes(path.read_bytes().replace(b"a", b"b", 1) + b" ")
    # bundle.json itself is protected by the signature (its own hashes still hold after this edit)
    result = verify_bundle(bundle, public_key=keys[1] if kind == "bundle-json" else None)
    assert not result.ok and result.file == name, result
    args = ("--public-key", str(keys[1])) if kind == "bundle-json" else ()
    proc = auditor("verify", str(bundle), *args, cwd=bundle.parent)
    assert proc.returncode == 5 and name in proc.stdout and name in proc.stderr, proc.stdout + proc.stderr


def test_signature(bundle: Path, keys: tuple[Path, Path, Path], tmp_path: Path) -> None:
    assert not verify_bundle(bundle, public_key=keys[2]).ok                       # the wrong key
    assert verify_bundle(bundle, public_key=keys[2]).file == BUNDLE_FILE
    unsigned = tmp_path / "unsigned"
    shutil.copytree(bundle, unsigned)
    (unsigned / SIGNATURE_FILE).unlink()
    result = verify_bundle(unsigned, public_key=keys[1])                           # required when a key is given
    assert not result.ok and result.file == SIGNATURE_FILE
    assert verify_bundle(unsigned).ok
    doc = json.loads((bundle / BUNDLE_FILE).read_text())
    doc["run_id"] = "0" * 16
    (bundle / BUNDLE_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    proc = auditor("verify", str(bundle), "--public-key", str(keys[1]), cwd=tmp_path)
    assert proc.returncode == 5 and "bundle.json" in proc.stdout and "signature" in proc.stdout


def test_a_report_added_later_is_listed_by_refresh(bundle: Path, keys: tuple[Path, Path, Path]) -> None:
    from auditor.bundle import load_signing_key, refresh_bundle

    (bundle / "notes.txt").write_text("reviewed by the auditor\n")
    assert verify_bundle(bundle).file == "notes.txt"
    assert refresh_bundle(bundle, key=load_signing_key(keys[0]))
    result = verify_bundle(bundle, public_key=keys[1])
    assert "notes.txt" in _listed(bundle) and result.ok, result
    assert any(n.startswith("notes.txt: not a report") for n in result.not_rederived)   # said, not passed over
    assert refresh_bundle(bundle) and not (bundle / SIGNATURE_FILE).exists()
    assert not refresh_bundle(bundle / "snapshot")


def _forge_findings(bundle: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Edit findings.json and fix up its hash in bundle.json, the signature removed."""
    (bundle / SIGNATURE_FILE).unlink()
    path = bundle / "findings.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    manifest = json.loads((bundle / BUNDLE_FILE).read_text())
    manifest["files"]["findings.json"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (bundle / BUNDLE_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def test_consistent_forgery_is_caught_by_re_evaluation(bundle: Path) -> None:
    """An attacker edits findings.json and fixes up its hash (no signature to stop them)."""
    def passed(doc: dict[str, Any]) -> None:
        row = next(f for f in doc["findings"] if f["status"] == "FAIL" and f["rule_id"] == "TBU-001")
        row["status"] = "PASS"

    _forge_findings(bundle, passed)
    result = verify_bundle(bundle)
    assert not result.ok and result.file == "findings.json"
    assert "TBU-001" in result.reason and "vpc-a" in result.reason


def test_not_a_bundle_exits_2(tmp_path: Path) -> None:
    proc = auditor("verify", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "not an evidence bundle" in proc.stderr and "Traceback" not in proc.stderr
    bad_key = tmp_path / "k.pem"
    bad_key.write_text("nope")
    proc = auditor("scan", "--snapshot", str(tmp_path), "--sign-key", str(bad_key), cwd=tmp_path)
    assert proc.returncode == 2 and "k.pem" in proc.stderr and "Traceback" not in proc.stderr


def test_auditor_report_writes_into_the_bundle_and_it_still_verifies(bundle: Path, keys: tuple[Path, Path, Path]
                                                                     ) -> None:
    proc = auditor("report", str(bundle / "findings.json"), "--sign-key", str(keys[0]), cwd=bundle.parent)
    assert proc.returncode == 0, proc.stderr
    assert "added to the evidence bundle's bundle.json (signed)" in proc.stdout
    assert {"findings.sarif", "findings.junit.xml", "findings.csv"} <= set(_listed(bundle))
    assert verify_bundle(bundle, public_key=keys[1]).ok
    proc = auditor("report", str(bundle / "findings.json"), "--format", "csv", cwd=bundle.parent)
    assert "its old signature was removed" in proc.stdout and verify_bundle(bundle).ok


def _rescan(made: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return auditor("scan", "-c", "cfg/audit.yaml", "--snapshot", "snap", "--out", str(out), *args, cwd=made.parent)


def test_scan_writes_the_formats_asked_for(made: Path, tmp_path: Path) -> None:
    proc = _rescan(made, tmp_path / "two", "--format", "sarif,junit", "--style", "healthcare")
    assert proc.returncode == 4, proc.stderr
    written = {p.name for p in (tmp_path / "two").iterdir() if p.is_file()}
    assert written == {"findings.json", "findings.sarif", "findings.junit.xml", BUNDLE_FILE}
    assert verify_bundle(tmp_path / "two").ok
    # outputs.formats in the config, when --format is not given
    cfg = made.parent / "cfg" / "csv-only.yaml"
    cfg.write_text((made.parent / "cfg" / "audit.yaml").read_text() + "outputs: {formats: [csv]}\n")
    proc = auditor("scan", "-c", str(cfg), "--snapshot", "snap", "--out", str(tmp_path / "csv"), cwd=made.parent)
    assert proc.returncode == 4 and "csv written to" in proc.stdout and "html written" not in proc.stdout
    assert not (tmp_path / "csv" / "report.html").exists() and (tmp_path / "csv" / "findings.csv").is_file()


def test_scan_refuses_an_unknown_format_before_running(made: Path, tmp_path: Path) -> None:
    proc = _rescan(made, tmp_path / "bad", "--format", "html,docx")
    assert proc.returncode == 2 and "unknown format docx" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "bad").exists()


def test_a_report_that_cannot_be_made_loses_nothing_else(made: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """WeasyPrint missing (as on a machine without Pango): every other file is written and
    listed, the bundle verifies, the error says why, and the exit code is not 0."""
    from click.testing import CliRunner

    from auditor.cli import cli

    monkeypatch.setitem(sys.modules, "weasyprint", None)    # `import weasyprint` raises ImportError
    monkeypatch.chdir(made.parent)
    out = tmp_path / "nopdf"
    res = CliRunner().invoke(cli, ["scan", "-c", "cfg/audit.yaml", "--snapshot", "snap", "--out", str(out),
                                   "--fail-on", "none"])
    assert res.exit_code == 6, res.output       # an output could not be written
    assert "error: pdf:" in res.output and "WeasyPrint" in res.output and "Traceback" not in res.output
    assert not (out / "report.pdf").exists()
    assert set(REPORTS.values()) - {"report.pdf"} <= set(_listed(out)) and verify_bundle(out).ok
    res = CliRunner().invoke(cli, ["scan", "-c", "cfg/audit.yaml", "--snapshot", "snap", "--out", str(out)])
    assert res.exit_code == 6, res.output        # a missing output outweighs the FAIL; the message says both
    assert "the scan itself would exit 4" in res.output


def test_a_bundle_from_another_tool_version_says_so(bundle: Path) -> None:
    (bundle / SIGNATURE_FILE).unlink()
    doc = json.loads((bundle / BUNDLE_FILE).read_text())
    doc["tool"]["version"] = "0.0.9"
    (bundle / BUNDLE_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    result = verify_bundle(bundle)
    assert not result.ok and result.file == "findings.json"
    assert "made by private-network-auditor 0.0.9" in result.reason and "every hash above matched" in result.reason


def test_a_changed_builtin_pack_is_named_rather_than_a_findings_difference(bundle: Path) -> None:
    """The run used other built-in pack bytes than this installation has (e.g. a patched
    install): the hashes hold, and verify says which pack differs."""
    def other_pack(doc: dict[str, Any]) -> None:
        for pack in doc["run"]["packs"]:
            if pack["id"] == "endpoints":
                pack["sha256"] = "0" * 64

    _forge_findings(bundle, other_pack)
    result = verify_bundle(bundle)
    assert not result.ok and result.file == "findings.json"
    assert "built-in pack(s) endpoints differ" in result.reason


def test_an_interrupted_scan_keeps_the_evidence_and_says_how_to_finish(made: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or SIGTERM) while the reports are written: exit 130, findings.json and the
    snapshot kept, no bundle.json claiming a finished bundle, no half-written file."""
    from click.testing import CliRunner

    import auditor.report.outputs as outputs
    from auditor.cli import cli

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs, "write_reports", interrupted)
    monkeypatch.chdir(made.parent)
    out = tmp_path / "cut"
    shutil.copytree(made, out)          # a re-run into an old bundle: its manifest must not survive
    res = CliRunner().invoke(cli, ["scan", "-c", "cfg/audit.yaml", "--snapshot", "snap", "--out", str(out)])
    assert res.exit_code == 130, res.output
    assert "interrupted after collection: the snapshot snap is complete and kept" in res.output
    assert "Finish with: auditor scan --snapshot snap -c " in res.output and "Traceback" not in res.output
    assert (out / "findings.json").is_file()
    assert not (out / BUNDLE_FILE).exists() and not (out / SIGNATURE_FILE).exists()
    assert not list(out.rglob("*.partial"))


def test_a_report_write_that_fails_leaves_no_half_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.report.outputs import write_whole

    target = tmp_path / "report.html"
    target.write_text("the old report")

    def broken(self: Path, other: Any) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", broken)
    with pytest.raises(OSError):
        write_whole(target, b"<html>new</html>")
    assert target.read_text() == "the old report" and not list(tmp_path.glob("*.partial"))


def test_a_rescan_that_fails_before_writing_leaves_an_old_bundle_whole(made: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(made, old)
    proc = auditor("scan", "--snapshot", str(tmp_path / "no-such-snapshot"), "--out", str(old), cwd=made.parent)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (old / BUNDLE_FILE).read_bytes() == (made / BUNDLE_FILE).read_bytes() and verify_bundle(old).ok


def test_bundle_files_are_hashed_in_pieces_as_their_bytes_are(tmp_path: Path) -> None:
    """write_bundle hashes each file (and findings.json for the run id) in pieces, so that an
    organisation's reports are never held whole: the same digest as the whole bytes, across
    the pieces' boundaries, with a prefix, and never through a link."""
    from auditor.bundle import hash_bundle_file
    from auditor.snapshot.paths import UnsafePath

    data = bytes(range(256)) * 9000 + b"tail"   # more than two pieces of 1 MiB
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "big.bin").write_bytes(data)
    assert hash_bundle_file(tmp_path, "sub/big.bin") == hashlib.sha256(data).hexdigest()
    assert hash_bundle_file(tmp_path, "sub/big.bin", b"sha256:x\n") == hashlib.sha256(b"sha256:x\n" + data).hexdigest()
    (tmp_path / "link.bin").symlink_to(tmp_path / "sub" / "big.bin")
    with pytest.raises(UnsafePath):
        hash_bundle_file(tmp_path, "link.bin")
