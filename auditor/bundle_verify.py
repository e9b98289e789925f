"""`auditor verify`: check an evidence bundle (auditor/bundle.py) and say what was proven.

The checks, in order, stop at the first failure and name the file (docs/bundle.md): no link
anywhere; bundle.json (format, version, confined entries); the signature; every file's
SHA-256; the snapshot on its own; a re-evaluation of the snapshot with the bundled inputs,
byte for byte against findings.json; every deterministic report re-derived from findings.json,
byte for byte; report.pdf's PAdES signature (intact, whole file, signer, trust only against the
certificates given). The verdict distinguishes signed-and-checked, unsigned and signature-not-checked
bundles: only the first is plain "VERIFIED".
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

from auditor import __version__
from auditor.bundle import (
    BUNDLE_FILE, CONFIG_FILE, FORMAT, INPUTS, PRICES, SIGNATURE_FILE, VERSION, BundleError, bundle_files, read_bundle_file,
    sha256_hex,
)
from auditor.errors import InputError, SnapshotError
from auditor.snapshot.paths import UnsafePath, confined_name


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

# The signature verdicts (docs/bundle.md): each is a distinct wording on the verdict line.
SIGNED = "signed"            # bundle.sig present and checked with --public-key
UNSIGNED = "unsigned"        # no bundle.sig (and no key given)
UNCHECKED = "unchecked"      # bundle.sig present, no key given: not checked, so not "signed"
_SIGNATURE_BYTES = 64        # an Ed25519 signature


@dataclass
class Verification:
    ok: bool = True
    file: str = ""          # the first offending file (relative to the bundle), when not ok
    reason: str = ""
    checked: list[str] = field(default_factory=list)
    signature: str = UNSIGNED          # SIGNED, UNSIGNED or UNCHECKED (meaningful when ok)
    public_key: Path | None = None
    not_rederived: list[str] = field(default_factory=list)   # "file: why" for files only hash-checked
    pdf_signature: str = ""    # what was found of report.pdf's PAdES signature ("" when no report.pdf)

    def fail(self, file: str, reason: str) -> Verification:
        self.ok, self.file, self.reason = False, file, reason
        return self

    def verdict(self) -> str:
        """The verdict line: never plain "VERIFIED" unless the signature was checked."""
        if not self.ok:
            return f"FAILED  {self.file}: {self.reason}"
        if self.signature == SIGNED:
            return f"VERIFIED (signed; Ed25519 signature checked with {self.public_key})"
        if self.signature == UNCHECKED:
            return (f"VERIFIED, SIGNATURE NOT CHECKED ({SIGNATURE_FILE} present but no --public-key given: "
                    "integrity only against this bundle's own hashes)")
        return (f"VERIFIED, UNSIGNED (no {SIGNATURE_FILE}: integrity only against this bundle's own hashes; "
                "anyone able to edit the folder could have rewritten them consistently)")


def verify_bundle(root: Path, *, public_key: Path | None = None,
                  progress: Callable[[str, str], None] | None = None, pdf_trust: tuple[Path, ...] = (),
                  require_pdf_signature: bool = False) -> Verification:
    """Check a bundle. Raises BundleError when `root` is not a readable bundle at all (no
    folder, no bundle.json, an unreadable key or certificate file). `progress(mark, line)` gets
    each step as it holds (mark "ok") or is noted without being a check (mark "--").
    `pdf_trust`: certificates a signed report.pdf's signer must chain to (none: its signature is
    checked, its signer not trusted); `require_pdf_signature`: an unsigned or absent report.pdf fails."""
    result = Verification(public_key=public_key)
    anchors = _trust_anchors(pdf_trust)

    def note(line: str, mark: str = "ok") -> None:
        result.checked.append(line)
        if progress is not None:
            progress(mark, line)

    manifest_path = root / BUNDLE_FILE
    if not root.is_dir():
        raise BundleError(f"{root}: not a folder")
    if not manifest_path.is_file() and not manifest_path.is_symlink():
        raise BundleError(f"{root}: no {BUNDLE_FILE}; this is not an evidence bundle")
    # (0) no link anywhere (bundle.json and bundle.sig included), before anything is read.
    try:
        on_disk = set(bundle_files(root))
        for own in (BUNDLE_FILE, SIGNATURE_FILE):
            if (root / own).is_symlink():
                raise UnsafePath(own, f"{root / own}: is a symbolic link; a bundle may hold no links")
    except UnsafePath as exc:
        return result.fail(exc.rel, str(exc))
    except SnapshotError as exc:
        raise BundleError(str(exc)) from None
    try:
        raw = read_bundle_file(root, BUNDLE_FILE)
    except OSError as exc:
        raise BundleError(f"{manifest_path}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return result.fail(BUNDLE_FILE, f"not valid JSON ({exc})")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("files"), dict):
        return result.fail(BUNDLE_FILE, f"not a {FORMAT} manifest")
    if doc.get("version") != VERSION:
        return result.fail(BUNDLE_FILE, f"unsupported bundle version {doc.get('version')!r}")
    tool = doc.get("tool")
    if not isinstance(tool, dict) or not isinstance(doc.get("snapshot_manifest_sha256"), str):
        return result.fail(BUNDLE_FILE, "malformed manifest: 'tool' must be an object and "
                                        "'snapshot_manifest_sha256' text")
    listed: dict[str, Any] = doc["files"]
    for name, digest in listed.items():
        why = confined_name(name)
        if why is not None:
            return result.fail(BUNDLE_FILE, f"file entry {name!r} {why}; refused before opening anything")
        if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            return result.fail(BUNDLE_FILE, f"file entry {name!r} has no SHA-256 (64 hex digits)")
    note(f"{BUNDLE_FILE}: format {FORMAT} v{VERSION}, run {doc.get('run_id')}, tool {tool.get('version')}")

    # (2) signature first when one is required or present: it covers every hash below.
    sig_path = root / SIGNATURE_FILE
    if public_key is not None and not sig_path.is_file():
        return result.fail(SIGNATURE_FILE, "missing (a public key was given, so a signature is required)")
    if sig_path.is_file():
        try:
            signature = read_bundle_file(root, SIGNATURE_FILE)
        except OSError as exc:
            raise BundleError(f"{sig_path}: cannot read: {exc.strerror or exc}") from None
        if len(signature) != _SIGNATURE_BYTES:
            # No key can make this valid: a damaged or planted file, never "not checked".
            return result.fail(SIGNATURE_FILE, f"not an Ed25519 signature ({len(signature)} bytes; one is "
                                                f"{_SIGNATURE_BYTES})")
        if public_key is None:
            result.signature = UNCHECKED
            note(f"{SIGNATURE_FILE}: present, NOT checked (give --public-key to check it)", "--")
        elif not _check_signature(raw, signature, public_key):
            return result.fail(BUNDLE_FILE, f"the signature in {SIGNATURE_FILE} does not match "
                                            f"(the manifest was changed, or the key is not the signer's)")
        else:
            result.signature = SIGNED
            note(f"{SIGNATURE_FILE}: Ed25519 signature of {BUNDLE_FILE} is valid")
    else:
        result.signature = UNSIGNED
        note(f"{SIGNATURE_FILE}: absent (an unsigned bundle)", "--")

    # (3) every file: listed ones match, no extra ones; first offender in sorted order.
    for name in sorted(set(listed) | on_disk):
        if name not in on_disk:
            return result.fail(name, "listed in bundle.json but missing")
        if name not in listed:
            return result.fail(name, "not listed in bundle.json (an added file)")
        try:
            data = read_bundle_file(root, name)
        except UnsafePath as exc:
            return result.fail(name, str(exc))
        except OSError as exc:
            return result.fail(name, f"cannot read: {exc.strerror or exc}")
        if sha256_hex(data) != listed[name]:
            return result.fail(name, "SHA-256 differs from bundle.json (the file was changed)")
    note(f"files: {len(listed)} SHA-256 hashes match, no unlisted file, no link")

    # (4) the snapshot's own manifest and hashes.
    from auditor.snapshot.reader import load_snapshot, record_shape_errors
    from auditor.snapshot.writer import MANIFEST

    try:
        snap = load_snapshot(root / "snapshot", allow_interrupted=True)
    except SnapshotError as exc:
        return result.fail(_snapshot_file(root, str(exc), MANIFEST), str(exc))
    if snap.manifest_sha256 != doc.get("snapshot_manifest_sha256"):
        return result.fail(f"snapshot/{MANIFEST}", "differs from the snapshot manifest recorded in bundle.json")
    note(f"snapshot: manifest and {len(snap.manifest.get('files', []))} record file(s) verified")
    bad = _check_collected(root, snap.manifest, note)
    if bad is not None:
        return result.fail(*bad)

    # (5) re-evaluate with the copied inputs and compare with findings.json.
    from auditor.results import carry_places, iter_text
    from auditor.scan import evaluate_snapshot

    if "findings.json" not in listed:
        return result.fail("findings.json", "missing: a bundle holds the findings it vouches for")
    made_by = str(tool.get("version", ""))
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
        with record_shape_errors(snap):
            document = evaluate_snapshot(snap, inputs)
    except InputError as exc:
        first = exc.problems[0]
        return result.fail(_input_file(root, first.file), f"cannot re-evaluate: {first.render()}")
    except UnicodeDecodeError as exc:
        return result.fail(f"{INPUTS}/{CONFIG_FILE}", f"cannot re-evaluate: not UTF-8 text ({exc})")
    except SnapshotError as exc:
        return result.fail(_snapshot_file(root, str(exc), MANIFEST), f"cannot re-evaluate: {exc}")
    except OSError as exc:
        return result.fail("findings.json", f"cannot re-evaluate: {exc}")
    kept = read_bundle_file(root, "findings.json")
    carry_places(document, kept)     # places outside the bundle, as the run recorded them
    fresh = "".join(iter_text(document)).encode("utf-8")
    if fresh != kept:
        return result.fail("findings.json", "differs from a re-evaluation of the snapshot: "
                           + _first_difference(kept, document))
    note("findings.json: re-evaluating the snapshot with inputs/ gives the same bytes")

    # (6) every report re-derived from findings.json; what cannot be is said, never passed over.
    bad = _rederive_reports(root, listed, inputs, kept, read_bundle_file(root, f"snapshot/{MANIFEST}"), note, result)
    if bad is not None:
        return result.fail(*bad)

    # (7) report.pdf's PAdES signature.
    bad = _check_pdf_signature(root, listed, anchors, require_pdf_signature, note, result)
    if bad is not None:
        return result.fail(*bad)
    return result


def _trust_anchors(paths: tuple[Path, ...]) -> list[Any]:
    """The --pdf-trust certificates, read before anything is checked (BundleError when unreadable)."""
    if not paths:
        return []
    from auditor.report.signing import SigningError, load_trust

    try:
        return load_trust(paths)
    except SigningError as exc:
        raise BundleError(str(exc)) from None


def _check_pdf_signature(root: Path, listed: dict[str, Any], anchors: list[Any], required: bool,
                         note: Callable[..., None], result: Verification) -> tuple[str, str] | None:
    """Check report.pdf's PAdES signature: (file, reason) when it fails, when a trust anchor
    given does not vouch for its signer, or when a signature is required and there is none."""
    from auditor.report.outputs import FILE_NAMES

    name = FILE_NAMES["pdf"]
    if name not in listed:
        return (name, "missing: --require-pdf-signature needs a signed report.pdf") if required else None
    from auditor.report.signing import check_signature

    check = check_signature(read_bundle_file(root, name), anchors)
    result.pdf_signature = check.summary()
    if not check.signed:
        if required:
            return name, "unsigned (no PAdES signature), and --require-pdf-signature was given"
        note(f"{name}: unsigned (no PAdES signature; --require-pdf-signature makes that a failure)", "--")
        return None
    if not check.ok:
        return name, f"its PAdES signature fails: {check.problem}"
    if check.trusted is False:
        return name, (f"its PAdES signature is intact, but the signer {check.signer} is NOT trusted by the "
                      f"--pdf-trust certificate(s) ({check.trust_problem})")
    note(f"{name}: {check.summary()}", "ok" if check.trusted else "--")
    return None


# Files a bundle holds that are not reports: the evidence, the inputs and the findings.
def _is_evidence(name: str) -> bool:
    return name == "findings.json" or name.startswith(("snapshot/", f"{INPUTS}/", f"{COLLECTED}/"))


COLLECTED = "collected"   # a plan run's live snapshot the plan was laid over (auditor.api.run_plan)


def _check_collected(root: Path, manifest: Any, note: Callable[..., None]) -> tuple[str, str] | None:
    """A plan run that collected keeps that snapshot in ``collected/``: it is verified on its
    own and must be the one the plan was laid over (the snapshot manifest's source.overlay)."""
    from auditor.snapshot.reader import load_snapshot
    from auditor.snapshot.writer import MANIFEST

    source = manifest.get("source") if isinstance(manifest, dict) else None
    overlay = source.get("overlay") if isinstance(source, dict) else None
    if not isinstance(overlay, dict) or overlay.get("snapshot") != COLLECTED:
        return None
    try:
        kept = load_snapshot(root / COLLECTED)
    except SnapshotError as exc:
        return f"{COLLECTED}/{MANIFEST}", str(exc)
    if kept.manifest_sha256 != overlay.get("manifest_sha256"):
        return f"{COLLECTED}/{MANIFEST}", "is not the snapshot the plan was laid over (its SHA-256 differs)"
    note(f"{COLLECTED}: the live snapshot the plan was laid over, verified")
    return None


def _rederive_reports(root: Path, listed: dict[str, Any], inputs: Any, findings_json: bytes, manifest: bytes,
                      note: Callable[..., None], result: Verification) -> tuple[str, str] | None:
    """Re-make every deterministic report the bundle holds from findings.json and compare bytes.

    The style a report was written in is not recorded, so each style is tried (the profile's
    first); a report equal to none of them was not made from this findings.json. Returns
    (file, reason) for the first that differs; files that cannot be re-derived are noted in
    `result.not_rederived`."""
    from auditor.report.model import build_model, record_hashes_of
    from auditor.report.outputs import FILE_NAMES, REDERIVABLE, ReportUnavailable, report_bytes
    from auditor.report.wording import style_names
    from auditor.rules.frameworks import load_catalogues

    by_name = {FILE_NAMES[f]: f for f in REDERIVABLE}
    present = [n for n in sorted(listed) if n in by_name]
    unavailable: dict[str, str] = {}   # file -> why this installation cannot re-make it (OSCAL without trestle)
    if present:
        document = json.loads(findings_json)
        catalogues = load_catalogues()
        hashes = record_hashes_of(manifest)
        models: dict[str | None, Any] = {}
        for name in present:
            fmt = by_name[name]
            kept = read_bundle_file(root, name)
            same = False
            for style in (None, *style_names(), ""):
                if style not in models:
                    models[style] = build_model(document, inputs.packs, catalogues, style=style,
                                                record_hashes=hashes)
                try:
                    remade = report_bytes(fmt, models[style], findings_json, manifest=manifest)
                except ReportUnavailable as exc:
                    unavailable[name] = f"this installation cannot re-make it ({exc}); only its SHA-256 above is checked"
                    break
                if remade == kept:
                    same = True
                    break
            if name in unavailable:
                continue
            if not same:
                return name, ("differs from the report re-derived from findings.json (in every style): it was "
                              "edited, or not made from this findings.json")
        remade_all = [n for n in present if n not in unavailable]
        if remade_all:
            note(f"reports: {', '.join(remade_all)} re-derived from findings.json, same bytes")
    for name in sorted(listed):
        if (name in by_name and name not in unavailable) or _is_evidence(name):
            continue
        why = unavailable.get(name) or (
            "its bytes depend on the WeasyPrint version and fonts of the machine that made it; only its "
            "SHA-256 above is checked" if name == FILE_NAMES["pdf"] else
            "not a report this tool makes; only its SHA-256 above is checked")
        result.not_rederived.append(f"{name}: {why}")
        note(f"{name}: NOT re-derived ({why})", "--")
    return None


def _snapshot_file(root: Path, message: str, manifest: str) -> str:
    """The snapshot file a load error is about (its message names it), else the manifest."""
    names = sorted(bundle_files(root / "snapshot"), key=len, reverse=True) if (root / "snapshot").is_dir() else []
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
    # The run's management responses (the config's or --responses), kept whatever the config says.
    kept = sorted((folder / "responses").glob("*")) if (folder / "responses").is_dir() else []
    if not config_path.is_file():
        if kept:
            from auditor.responses import load_responses

            return _with_prices(dataclasses.replace(prepare(None), responses=load_responses(kept[0])), folder)
        return _with_prices(prepare(None), folder)
    text = config_path.read_bytes().decode("utf-8")
    config = dataclasses.replace(config_from_text(text, str(config_path), base_dir=folder),
                                 responses=kept[0] if kept else None)
    # The config's entries that named built-in packs stay; those that named pack files or
    # folders beside the config (by a path, or by a bare name that existed there: `own`) are
    # replaced by the bundle's copies. The run's findings.json says which built-ins it used.
    used = _builtin_packs_used(root)
    packs = [e for e in config.rule_packs
             if not ("/" in e or e.endswith(PACK_SUFFIXES) or (config.base_dir / e).exists())
             and (used is None or e in used)]
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
            changes["compliance_profile"] = f"profile/{found[0].name}"
    return _with_prices(prepare(dataclasses.replace(config, **changes)), folder)


def _with_prices(inputs: Any, folder: Path) -> Any:
    """The inputs with the bundle's copy of the run's own price table (``inputs/prices/``),
    when it kept one; else the table `prepare` gave (the built-in one, which the tool version
    fixes: a bundle of another version is not re-evaluated)."""
    found = sorted((folder / PRICES).glob("*")) if (folder / PRICES).is_dir() else []
    if not found:
        return inputs
    from auditor.costs.prices import load_prices

    return dataclasses.replace(inputs, prices=load_prices(found[0]), prices_file=found[0])


def _builtin_packs_used(root: Path) -> dict[Any, Any] | None:
    """The built-in packs the run used, as its findings.json records them (id -> sha256);
    None when it cannot be read (the comparison with a fresh evaluation then says what is wrong)."""
    try:
        run = json.loads(read_bundle_file(root, "findings.json"))["run"]
        return {p.get("id"): p.get("sha256") for p in run["packs"] if p.get("builtin")}
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        return None


def _changed_builtin_packs(root: Path, inputs: Any) -> list[str]:
    """Built-in packs whose installed file is not the one findings.json records the run used."""
    used = _builtin_packs_used(root) or {}
    return sorted(p.id for p in inputs.packs.packs
                  if p.builtin and p.id in used and used[p.id] != sha256_hex(Path(p.file).read_bytes()))


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
