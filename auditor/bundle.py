"""The evidence bundle: a scan's output folder made checkable by anyone.

A bundle is the folder `auditor scan` / `auditor demo` write: ``snapshot/``, ``findings.json``,
the reports (auditor/report/outputs.py) and any written later, and ``inputs/`` (a copy of everything the evaluation read besides
the snapshot: the audit config text, the waivers file, every non-built-in pack file and a
profile given as a path). ``bundle.json`` lists the SHA-256 of every other file (all but
itself and ``bundle.sig``), the tool version and a run id; ``bundle.sig`` is an optional
Ed25519 signature over the exact bytes of ``bundle.json``.

`verify_bundle` checks the manifest, every hash, the signature, the snapshot, and then
re-evaluates the snapshot with the copied inputs and compares the result with findings.json
byte for byte. Nothing here reads the clock: the same scan gives the same bundle.json.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from auditor import __version__
from auditor.errors import AuditorError, InputError, SnapshotError

BUNDLE_FILE = "bundle.json"
SIGNATURE_FILE = "bundle.sig"
FORMAT = "private-network-auditor-bundle"
VERSION = 1
INPUTS = "inputs"
CONFIG_FILE = "audit-config.yaml"


class BundleError(AuditorError):
    """A folder that is not a readable bundle (distinct from a bundle that fails verification)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(root: Path) -> list[str]:
    """Every file under `root` except the bundle manifest and signature, as sorted posix paths."""
    names = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    return sorted(names - {BUNDLE_FILE, SIGNATURE_FILE})


# --- writing ---------------------------------------------------------------------------------

def copy_inputs(out: Path, config: Any, inputs: Any) -> None:
    """Copy what the evaluation read besides the snapshot into ``out/inputs``.

    File base names are kept (waiver register rows in findings.json cite ``<name>:<line>``);
    each pack file goes into its own numbered folder so equal names cannot collide."""
    folder = out / INPUTS
    if folder.exists():
        shutil.rmtree(folder)
    if config is None:
        return
    folder.mkdir(parents=True)
    source = Path(config.source)
    (folder / CONFIG_FILE).write_bytes(source.read_bytes())
    if config.waivers is not None:
        (folder / "waivers").mkdir()
        shutil.copyfile(config.waivers, folder / "waivers" / Path(config.waivers).name)
    if config.profile and inputs.profile is not None and not inputs.profile.builtin:
        from auditor.rules.profiles import resolve_profile

        path = resolve_profile(config.profile, config.base_dir)
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
    findings = (out / "findings.json").read_bytes()
    files = {name: _sha256((out / name).read_bytes()) for name in _files(out)}
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "tool": {"name": "private-network-auditor", "version": __version__},
        "run_id": _sha256(snap.manifest_sha256.encode() + b"\n" + findings)[:16],
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


def _check_signature(data: bytes, signature: bytes, key_file: Path) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

    try:
        raw = key_file.read_bytes()
    except OSError as exc:
        raise BundleError(f"{key_file}: cannot read the public key ({exc})") from None
    try:
        key: Any = load_pem_public_key(raw)
    except ValueError:
        try:
            key = load_pem_private_key(raw, password=None)
        except (ValueError, TypeError) as exc:
            raise BundleError(f"{key_file}: cannot read a PEM public key ({exc})") from None
        if isinstance(key, Ed25519PrivateKey):
            key = key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{key_file}: not an Ed25519 key")
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


# --- verifying -------------------------------------------------------------------------------

@dataclass
class Verification:
    ok: bool = True
    file: str = ""          # the first offending file (relative to the bundle), when not ok
    reason: str = ""
    checked: list[str] = field(default_factory=list)

    def fail(self, file: str, reason: str) -> "Verification":
        self.ok, self.file, self.reason = False, file, reason
        return self


def verify_bundle(root: Path, *, public_key: Path | None = None,
                  progress: Callable[[str], None] | None = None) -> Verification:
    """Check a bundle. Raises BundleError when `root` is not a readable bundle at all."""
    result = Verification()

    def note(line: str) -> None:
        result.checked.append(line)
        if progress is not None:
            progress(line)

    manifest_path = root / BUNDLE_FILE
    if not root.is_dir():
        raise BundleError(f"{root}: not a folder")
    if not manifest_path.is_file():
        raise BundleError(f"{root}: no {BUNDLE_FILE}; this is not an evidence bundle")
    raw = manifest_path.read_bytes()
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return result.fail(BUNDLE_FILE, f"not valid JSON ({exc})")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("files"), dict):
        return result.fail(BUNDLE_FILE, f"not a {FORMAT} manifest")
    if doc.get("version") != VERSION:
        return result.fail(BUNDLE_FILE, f"unsupported bundle version {doc.get('version')!r}")
    note(f"{BUNDLE_FILE}: format {FORMAT} v{VERSION}, run {doc.get('run_id')}, "
         f"tool {doc.get('tool', {}).get('version')}")

    # (2) signature first when one is required or present: it covers every hash below.
    sig_path = root / SIGNATURE_FILE
    if public_key is not None and not sig_path.is_file():
        return result.fail(SIGNATURE_FILE, "missing (a public key was given, so a signature is required)")
    if sig_path.is_file():
        if public_key is None:
            note(f"{SIGNATURE_FILE}: present, not checked (give --public-key to check it)")
        elif not _check_signature(raw, sig_path.read_bytes(), public_key):
            return result.fail(BUNDLE_FILE, f"the signature in {SIGNATURE_FILE} does not match "
                                            f"(the manifest was changed, or the key is not the signer's)")
        else:
            note(f"{SIGNATURE_FILE}: Ed25519 signature of {BUNDLE_FILE} is valid")

    # (3) every file: listed ones match, no extra ones; first offender in sorted order.
    listed: dict[str, Any] = doc["files"]
    on_disk = set(_files(root))
    for name in sorted(set(listed) | on_disk):
        if name not in on_disk:
            return result.fail(name, "listed in bundle.json but missing")
        if name not in listed:
            return result.fail(name, "not listed in bundle.json (an added file)")
        if _sha256((root / name).read_bytes()) != listed[name]:
            return result.fail(name, "SHA-256 differs from bundle.json (the file was changed)")
    note(f"files: {len(listed)} SHA-256 hashes match, no unlisted file")

    # (4) the snapshot's own manifest and hashes.
    from auditor.snapshot.reader import load_snapshot
    from auditor.snapshot.writer import MANIFEST

    try:
        snap = load_snapshot(root / "snapshot", allow_interrupted=True)
    except SnapshotError as exc:
        return result.fail(_snapshot_file(root, str(exc), MANIFEST), str(exc))
    if snap.manifest_sha256 != doc.get("snapshot_manifest_sha256"):
        return result.fail(f"snapshot/{MANIFEST}", "differs from the snapshot manifest recorded in bundle.json")
    note(f"snapshot: manifest and {len(snap.manifest.get('files', []))} record file(s) verified")

    # (5) re-evaluate with the copied inputs and compare with findings.json.
    from auditor.results import iter_text
    from auditor.scan import evaluate_snapshot

    made_by = str((doc.get("tool") or {}).get("version", ""))
    if made_by != __version__:
        return result.fail("findings.json", f"cannot re-evaluate here: the bundle was made by private-network-auditor "
                                            f"{made_by or '(unknown)'} and this is {__version__}, whose engine and "
                                            f"built-in packs may differ (every hash above matched; verify with "
                                            f"version {made_by or 'the one that made it'} to confirm the findings)")
    try:
        inputs = _inputs(root)
        changed = _changed_builtin_packs(root, inputs)
        if changed:
            return result.fail("findings.json", f"cannot re-evaluate here: the installed built-in pack(s) "
                                                f"{', '.join(changed)} differ from those the run used (SHA-256 in "
                                                f"findings.json); every hash above matched")
        document = evaluate_snapshot(snap, inputs)
    except InputError as exc:
        first = exc.problems[0]
        return result.fail(_input_file(root, first.file), f"cannot re-evaluate: {first.render()}")
    except (SnapshotError, OSError) as exc:
        return result.fail("findings.json", f"cannot re-evaluate: {exc}")
    fresh = "".join(iter_text(document)).encode("utf-8")
    kept = (root / "findings.json").read_bytes()
    if fresh != kept:
        return result.fail("findings.json", "differs from a re-evaluation of the snapshot: " + _first_difference(kept, document))
    note("findings.json: re-evaluating the snapshot with inputs/ gives the same bytes")
    return result


def _snapshot_file(root: Path, message: str, manifest: str) -> str:
    """The snapshot file a load error is about (its message names it), else the manifest."""
    names = sorted(_files(root / "snapshot"), key=len, reverse=True) if (root / "snapshot").is_dir() else []
    for name in names:
        if name in message:
            return f"snapshot/{name}"
    return f"snapshot/{manifest}"


def _input_file(root: Path, problem_file: str) -> str:
    try:
        return Path(problem_file).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return f"{INPUTS}/{CONFIG_FILE}"


def _inputs(root: Path) -> Any:
    """The scan inputs rebuilt from ``inputs/``: the config text re-parsed there, with its pack,
    waiver and profile paths pointed at the copies."""
    from auditor.config import config_from_text
    from auditor.rules.packs import PACK_SUFFIXES
    from auditor.scan import prepare

    folder = root / INPUTS
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        return prepare(None)
    text = config_path.read_bytes().decode("utf-8")
    config = config_from_text(text, str(config_path), base_dir=folder)
    packs = [e for e in config.rule_packs
             if not ("/" in e or e.endswith(PACK_SUFFIXES) or (config.base_dir / e).exists())]
    if (folder / "packs").is_dir():
        packs.append("packs/")
    changes: dict[str, Any] = {"rule_packs": tuple(packs)}
    if config.waivers is not None:
        found = sorted((folder / "waivers").glob("*")) if (folder / "waivers").is_dir() else []
        if not found:
            raise OSError(f"{INPUTS}/waivers: the config names a waivers file but the bundle holds none")
        changes["waivers"] = found[0]
    if (folder / "profile").is_dir():
        found = sorted((folder / "profile").glob("*"))
        if found:
            changes["profile"] = f"profile/{found[0].name}"
    return prepare(dataclasses.replace(config, **changes))


def _changed_builtin_packs(root: Path, inputs: Any) -> list[str]:
    """Built-in packs whose installed file is not the one findings.json records the run used."""
    try:
        used = {p.get("id"): p.get("sha256") for p in json.loads((root / "findings.json").read_bytes())["run"]["packs"]
                if p.get("builtin")}
    except (ValueError, KeyError, TypeError, AttributeError):
        return []     # an unreadable findings.json is reported by the comparison that follows
    return sorted(p.id for p in inputs.packs.packs
                  if p.builtin and p.id in used and used[p.id] != _sha256(Path(p.file).read_bytes()))


def _first_difference(kept: bytes, fresh: dict[str, Any]) -> str:
    """Name the first differing finding (rule and resource) or top-level section."""
    try:
        old = json.loads(kept)
    except ValueError:
        return "it is not valid JSON"
    if not isinstance(old, dict):
        return "it is not a findings document"
    new = json.loads("".join(_iter(fresh)))
    old_f, new_f = old.get("findings"), new.get("findings")
    if isinstance(old_f, list) and isinstance(new_f, list) and old_f != new_f:
        for i in range(max(len(old_f), len(new_f))):
            a = old_f[i] if i < len(old_f) else None
            b = new_f[i] if i < len(new_f) else None
            if a != b:
                row = b if isinstance(b, dict) else a
                if isinstance(row, dict):
                    res = row.get("resource")
                    where = (f"{res.get('type')} {res.get('id')} ({res.get('account')}/{res.get('region')})"
                             if isinstance(res, dict) else str(res))
                    return f"first differing finding: rule {row.get('rule_id')} on {where}"
                return f"finding #{i + 1} differs"
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            return f"section '{key}' differs"
    return "the bytes differ (formatting)"


def _iter(document: dict[str, Any]) -> Any:
    from auditor.results import iter_text
    return iter_text(document)
