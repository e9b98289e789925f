"""The evidence bundle: a scan's output folder made checkable by anyone.

A bundle is the folder `auditor scan` / `auditor demo` write: ``snapshot/``, ``findings.json``,
the reports (auditor/report/outputs.py) and any written later, and ``inputs/`` (a copy of everything the evaluation read besides
the snapshot: the audit config text the run parsed, the waivers file, every non-built-in pack file, a
profile given as a path and a price table other than the built-in one). ``bundle.json`` lists the SHA-256 of every other file (all but
itself and ``bundle.sig``), the tool version and a run id; ``bundle.sig`` is an optional
Ed25519 signature over the exact bytes of ``bundle.json``.

`verify_bundle` (auditor/bundle_verify.py) checks the manifest, every hash, the signature, the
snapshot, re-evaluates the snapshot with the copied inputs and compares the result with
findings.json byte for byte, and re-derives the reports from it. Nothing here reads the clock:
the same scan gives the same bundle.json. A bundle is never read through a symbolic link.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from auditor import __version__
from auditor.errors import AuditorError
from auditor.snapshot.paths import list_files, open_confined, read_confined

BUNDLE_FILE = "bundle.json"
SIGNATURE_FILE = "bundle.sig"
FORMAT = "private-network-auditor-bundle"
VERSION = 1
INPUTS = "inputs"
CONFIG_FILE = "audit-config.yaml"
PRICES = "prices"   # inputs/prices/: the price table the cost view read, when not the built-in one


class BundleError(AuditorError):
    """A folder that is not a readable bundle (distinct from a bundle that fails verification)."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bundle_files(root: Path) -> list[str]:
    """Every file under `root` except the bundle manifest and signature, as sorted posix paths.
    Raises UnsafePath (a SnapshotError) for a symbolic link or special file anywhere inside:
    a bundle is never read through a link."""
    return sorted(set(list_files(root, "bundle")) - {BUNDLE_FILE, SIGNATURE_FILE})


def read_bundle_file(root: Path, rel: str) -> bytes:
    """The bytes of the bundle file `rel`, never through a link (auditor/snapshot/paths.py)."""
    return read_confined(root, rel, "bundle")


def hash_bundle_file(root: Path, rel: str, prefix: bytes = b"") -> str:
    """The SHA-256 (hex) of `prefix` and the bundle file `rel`, read in pieces (an
    organisation's reports are hundreds of MB each), never through a link."""
    digest = hashlib.sha256(prefix)
    with open_confined(root, rel, "bundle") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- writing ---------------------------------------------------------------------------------

def copy_inputs(out: Path, config: Any, inputs: Any) -> None:
    """Copy what the evaluation read besides the snapshot into ``out/inputs``.

    File base names are kept (waiver register rows in findings.json cite ``<name>:<line>``);
    each pack file goes into its own numbered folder so equal names cannot collide."""
    folder = out / INPUTS
    if folder.exists():
        shutil.rmtree(folder)
    responses = getattr(inputs, "responses", None)   # the config's or --responses (even without a config)
    prices = getattr(inputs, "prices_file", None)     # a price table other than the built-in one
    if config is None and responses is None and prices is None:
        return
    folder.mkdir(parents=True)
    if prices is not None:
        (folder / PRICES).mkdir()
        shutil.copyfile(prices, folder / PRICES / Path(prices).name)
    if responses is not None:
        (folder / "responses").mkdir()
        shutil.copyfile(responses.source, folder / "responses" / Path(responses.source).name)
    if config is None:
        return
    # The exact text the run parsed (the effective config: the file with any command-line
    # options merged in), so that verification re-evaluates exactly what ran.
    (folder / CONFIG_FILE).write_bytes(config.text.encode("utf-8"))
    if config.waivers is not None:
        (folder / "waivers").mkdir()
        shutil.copyfile(config.waivers, folder / "waivers" / Path(config.waivers).name)
    if config.compliance_profile and inputs.profile is not None and not inputs.profile.builtin:
        from auditor.rules.profiles import resolve_profile

        path = resolve_profile(config.compliance_profile, config.base_dir)
        (folder / "profile").mkdir()
        shutil.copyfile(path, folder / "profile" / path.name)
    n = 0
    for pack in inputs.packs.packs:
        if pack.builtin:
            continue
        n += 1
        target = folder / "packs" / f"{n:03d}"
        target.mkdir(parents=True)
        shutil.copyfile(pack.file, target / Path(pack.file).name)


def write_bundle(out: Path, *, key: Any = None) -> Path:
    """Write ``bundle.json`` (and ``bundle.sig`` when a signing key is given) for the folder `out`."""
    from auditor.snapshot.reader import load_snapshot

    snap = load_snapshot(out / "snapshot", allow_interrupted=True)
    names = bundle_files(out)          # refuses a link anywhere in the folder before anything is hashed
    files = {name: hash_bundle_file(out, name) for name in names}
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "tool": {"name": "private-network-auditor", "version": __version__},
        "run_id": hash_bundle_file(out, "findings.json", snap.manifest_sha256.encode() + b"\n")[:16],
        "created": str(snap.manifest.get("finished") or snap.manifest.get("started") or ""),
        "snapshot_manifest_sha256": snap.manifest_sha256,
        "files": files,
    }
    raw = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")
    path = out / BUNDLE_FILE
    side = out / (BUNDLE_FILE + ".partial")   # written whole, then renamed: never a half manifest
    sig = out / SIGNATURE_FILE
    try:
        side.write_bytes(raw)
        side.replace(path)
    finally:
        side.unlink(missing_ok=True)
    if key is not None:
        sig.write_bytes(key.sign(raw))
    elif sig.exists():
        sig.unlink()   # a stale signature of an earlier manifest
    return path


def refresh_bundle(folder: Path, *, key: Any = None) -> bool:
    """After adding files (reports) to a folder that is a bundle, list them in its manifest.
    Returns False (and does nothing) when `folder` is not a bundle. Without `key` a signature
    of the old manifest is removed rather than left invalid."""
    if not (folder / BUNDLE_FILE).is_file():
        return False
    write_bundle(folder, key=key)
    return True


def write_scan_bundle(out: Path, snapshot_dir: Path, config: Any, inputs: Any, key: Any = None) -> Path:
    """Make the scan output folder `out` a bundle: the snapshot inside it (copied when the scan
    read one kept elsewhere), ``inputs/``, ``bundle.json`` and the optional signature."""
    target = out / "snapshot"
    if target.resolve() != snapshot_dir.resolve():
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(snapshot_dir, target)
    copy_inputs(out, config, inputs)
    return write_bundle(out, key=key)


def load_signing_key(key_file: Path) -> Any:
    """An Ed25519 private key from an unencrypted PEM file."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise BundleError(f"{key_file}: cannot read an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{key_file}: not an Ed25519 private key")
    return key

