"""Reading an evidence bundle for `auditor diff` (auditor/diff.py) without holding its findings.

A run of 100k findings has a findings.json of 100 MB and more; parsed whole, its dicts would take
several times that, twice over for two runs. `read_run` keeps the file's text and walks it once:
every finding is decoded on its own, checked, and reduced to a small `Indexed` row (status,
severity, rule, resource, the waiver id and where its text is). The diff
then decodes again only the findings it lists (`BundleRun.finding`).

Checked on the way in (a `DiffError`, exit 2, otherwise): the folder is a bundle (bundle.json
with a run id), findings.json is readable JSON of the findings format, its SHA-256 is the one
bundle.json lists (`auditor verify` checks everything else), and every finding has the fields
the diff reads.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from collections.abc import Iterator, Mapping

from auditor.bundle import BUNDLE_FILE
from auditor.errors import AuditorError
from auditor.vocabulary import STATUSES

FINDINGS_FILE = "findings.json"
CONFIG_FILE = "inputs/audit-config.yaml"
FINDINGS_FORMAT = "private-network-auditor/findings"
_WS = re.compile(r"[ \t\n\r]*")
_NEXT = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")   # what follows an element of an array
_DECODER = json.JSONDecoder()
_HEAD_KEYS = frozenset({"format", "format_version", "run", "summary", "waivers"})   # what the diff reads


class DiffError(AuditorError):
    """A run that cannot be compared: not a bundle, an unreadable or damaged findings.json, an
    unknown run. The command line prints it and exits 2."""


class Indexed(NamedTuple):
    """One finding as the diff needs it; `start`/`end` locate its text in findings.json."""

    status: str
    severity: str
    rule_id: str
    rtype: str
    account: str
    region: str
    rid: str
    item: str | None
    waiver: str | None      # the waiver the finding carries (WAIVED: in force; FAIL: expired), else None
    start: int
    end: int


@dataclass
class BundleRun:
    """One side of a diff: the bundle's manifest, findings.json without its findings (`head`),
    the findings indexed by fingerprint, and the config text when the bundle holds it."""

    folder: Path
    manifest: dict[str, Any]
    head: dict[str, Any]
    index: dict[str, Indexed]
    text: str
    bundle_sha256: str
    config_text: str | None
    has_findings: bool = False
    duplicates: int = 0        # findings sharing a fingerprint with another (the worst status is kept)
    resources: set[tuple[str, str, str, str]] = field(default_factory=set)

    def finding(self, fingerprint: str) -> dict[str, Any]:
        """The whole finding (decoded again from the file's text)."""
        row = self.index[fingerprint]
        value: dict[str, Any] = _DECODER.raw_decode(self.text, row.start)[0]
        return value

    @property
    def run(self) -> Mapping[str, Any]:
        run = self.head.get("run")
        return run if isinstance(run, dict) else {}


def read_run(folder: Path) -> BundleRun:
    """The bundle `folder`, indexed (see the module's docstring); `DiffError` when it is not one."""
    if not folder.is_dir():
        raise DiffError(f"{folder} is not a folder (give an evidence bundle: the output folder of `auditor scan`)")
    manifest, bundle_sha256 = _manifest(folder)
    path = folder / FINDINGS_FILE
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DiffError(f"{path}: cannot read: {exc.strerror or exc}") from None
    listed = (manifest.get("files") or {}).get(FINDINGS_FILE)
    if listed is not None and hashlib.sha256(raw).hexdigest() != listed:
        raise DiffError(f"{path} does not match the SHA-256 its bundle.json lists: the bundle was changed after it "
                        "was written (`auditor verify` names what); refusing to compare it")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DiffError(f"{path}: not a findings.json (not UTF-8: {exc})") from None
    del raw
    run = BundleRun(folder=folder, manifest=manifest, head={}, index={}, text=text, bundle_sha256=bundle_sha256,
                    config_text=_config_text(folder, manifest))
    try:
        _walk(run, path)
    except json.JSONDecodeError as exc:
        raise DiffError(f"{path}: not a findings.json (not JSON: {exc})") from None
    except RecursionError:
        raise DiffError(f"{path}: not a findings.json (nested too deeply to read)") from None
    if run.head.get("format") != FINDINGS_FORMAT:
        raise DiffError(f"{path}: not a findings.json (format {str(run.head.get('format'))[:80]!r}, expected "
                        f"{FINDINGS_FORMAT!r})")
    return run


def _manifest(folder: Path) -> tuple[dict[str, Any], str]:
    path = folder / BUNDLE_FILE
    if not path.is_file():
        raise DiffError(f"{folder} is not an evidence bundle: it has no {BUNDLE_FILE} (the output folder of "
                        "`auditor scan` is one)")
    try:
        raw = path.read_bytes()
        manifest = json.loads(raw)
    except OSError as exc:
        raise DiffError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:
        raise DiffError(f"{path}: not a bundle manifest (not JSON: {exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("run_id"), str):
        raise DiffError(f"{path}: not a bundle manifest (no run_id)")
    if not isinstance(manifest.get("files", {}), dict):
        raise DiffError(f"{path}: not a bundle manifest (files is not an object)")
    return manifest, hashlib.sha256(raw).hexdigest()


def _config_text(folder: Path, manifest: Mapping[str, Any]) -> str | None:
    """inputs/audit-config.yaml when the bundle lists it (None: a run without a config file)."""
    if CONFIG_FILE not in (manifest.get("files") or {}):
        return None
    try:
        return (folder / CONFIG_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DiffError(f"{folder / CONFIG_FILE}: cannot read: {exc}") from None


def _skip(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    return m.end() if m else pos


def _expect(text: str, pos: int, char: str, path: Path) -> int:
    pos = _skip(text, pos)
    if text[pos:pos + 1] != char:
        raise DiffError(f"{path}: not a findings.json (expected {char!r} at character {pos})")
    return pos + 1


def _walk(run: BundleRun, path: Path) -> None:
    """Decode the top-level object member by member; the findings array element by element."""
    text = run.text
    pos = _expect(text, 0, "{", path)
    first = True
    while True:
        pos = _skip(text, pos)
        if text[pos:pos + 1] == "}":
            break
        if not first:
            pos = _expect(text, pos, ",", path)
            pos = _skip(text, pos)
        first = False
        key, pos = _DECODER.raw_decode(text, pos)
        if not isinstance(key, str):
            raise DiffError(f"{path}: not a findings.json (a key that is not a string at character {pos})")
        pos = _skip(text, _expect(text, pos, ":", path))
        if key == "findings":
            pos = _findings(run, path, pos)
        else:
            value, pos = _DECODER.raw_decode(text, pos)
            if key in _HEAD_KEYS:
                run.head[key] = value
    if not run.has_findings:
        raise DiffError(f"{path}: not a findings.json (it has no findings list)")


def _findings(run: BundleRun, path: Path, pos: int) -> int:
    """Index the findings array starting at `pos`; the position after it."""
    text = run.text
    pos = _skip(text, _expect(text, pos, "[", path))
    run.has_findings = True
    if text.startswith("]", pos):
        return pos + 1
    intern: dict[str, str] = {}
    decode, after, index, resources = _DECODER.raw_decode, _NEXT.match, run.index, run.resources
    i = 0
    # The layout a scan writes (auditor/results.py iter_text: indent 1, sorted keys, findings
    # first) is read by `_canonical_row` without decoding each finding's evidence; any finding
    # it does not recognise is decoded whole, so any JSON is read the same.
    canonical = text.startswith('{\n "findings": [\n  {\n')
    while True:
        got = _canonical_row(text, pos, intern) if canonical else None
        if got is None:
            value, end = decode(text, pos)
            fingerprint, row = _row(value, path, i, pos, end, intern)
        else:
            fingerprint, row = got
            end = row.end
        old = index.get(fingerprint)
        if old is not None:
            run.duplicates += 1
            if STATUSES.index(old.status) <= STATUSES.index(row.status):
                row = old
        index[fingerprint] = row
        if row.rid != "*":
            resources.add((row.rtype, row.account, row.region, row.rid))
        m = after(text, end)
        if m is None:
            raise DiffError(f"{path}: not a findings.json (expected ',' or ']' at character {end})")
        if m.group(1) == "]":
            return m.end(1)
        pos, i = m.end(), i + 1


_STR = r'"([^"\\\n]*(?:\\.[^"\\\n]*)*)"'   # a JSON string on one line; group: its body, still escaped
_ANY = r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"'
_CANONICAL = re.compile(
    r'\n   "fingerprint": ' + _STR + r',\n   "item": (?:null|' + _STR + r'),\n   "message": ' + _ANY
    + r',\n   "resource": \{\n    "account": ' + _STR + r',\n    "arn": ' + _ANY + r',\n    "id": ' + _STR
    + r',\n    "region": ' + _STR + r',\n    "type": ' + _STR + r',\n    "vpc_id": ' + _ANY
    + r'\n   \},\n   "rule_id": ' + _STR + r',\n   "severity": ' + _STR
    + r',\n   "status": "(FAIL|ERROR|WAIVED|PASS|NOT_APPLICABLE)"(,\n   "waiver": )?')


def _unescape(body: str) -> str:
    return str(json.loads(f'"{body}"')) if "\\" in body else body


def _canonical_row(text: str, pos: int, intern: dict[str, str]) -> tuple[str, Indexed] | None:
    """The index row of the finding at `pos` in a scan's own layout, read from its fields after
    the evidence (which is not decoded); None when the finding is not exactly in that layout."""
    if not text.startswith('{\n   "evidence": [', pos):
        return None
    at = text.find('\n   "fingerprint": ', pos)
    if at < 0 or text.find("\n  }", pos, at) >= 0:   # none in this finding: never read the next one's
        return None
    m = _CANONICAL.match(text, at)
    if m is None:
        return None
    end = m.end()
    fp, item, account, rid, region, rtype, rule_id, severity, status, has_waiver = m.groups()
    if text.find("\\", at, end) >= 0:   # an escape in a field: unescape them all (rare)
        fp, account, rid, region, rtype, rule_id, severity = (
            _unescape(x) for x in (fp, account, rid, region, rtype, rule_id, severity))
        item = None if item is None else _unescape(item)
    waiver_id = None
    if has_waiver:   # the waiver object (WAIVED, or a FAIL whose waiver expired): decoded
        try:
            waiver, end = _DECODER.raw_decode(text, end)
        except (json.JSONDecodeError, RecursionError):
            return None
        if type(waiver) is not dict:
            return None
        waiver_id = waiver.get("id") if type(waiver.get("id")) is str else None
    if not text.startswith("\n  }", end):
        return None
    return fp, Indexed(
        _STATUS[status], intern.setdefault(severity, severity), intern.setdefault(rule_id, rule_id),
        intern.setdefault(rtype, rtype), intern.setdefault(account, account), intern.setdefault(region, region),
        rid, item, waiver_id, pos, end + 4)


def _text(value: Any, what: str, path: Path, i: int) -> str:
    if not isinstance(value, str):
        raise DiffError(f"{path}  findings/{i}/{what}: expected a string, found {type(value).__name__}")
    return value


_STATUS = {s: s for s in STATUSES}


def _row(f: Any, path: Path, i: int, start: int, end: int, intern: dict[str, str]) -> tuple[str, Indexed]:
    """The index row of finding number `i`: its fields checked (the fast path assumes them
    right; anything wrong is then named by `_problem`)."""
    try:
        res = f["resource"]
        fingerprint, status, severity, rule_id = f["fingerprint"], f["status"], f["severity"], f["rule_id"]
        rtype, account, region, rid = res["type"], res["account"], res["region"], res["id"]
        waiver, item, evidence = f.get("waiver"), f.get("item"), f.get("evidence", ())
        if (type(fingerprint) is not str or type(severity) is not str or type(rule_id) is not str
                or type(rtype) is not str or type(account) is not str or type(region) is not str
                or type(rid) is not str or status not in _STATUS or type(evidence) not in (list, tuple)
                or not (item is None or type(item) is str)):
            raise TypeError
    except (KeyError, TypeError, AttributeError):
        raise _problem(f, path, i) from None
    waiver_id = waiver.get("id") if type(waiver) is dict else None
    return fingerprint, Indexed(   # positional: this runs once per finding of both runs
        _STATUS[status], intern.setdefault(severity, severity), intern.setdefault(rule_id, rule_id),
        intern.setdefault(rtype, rtype), intern.setdefault(account, account), intern.setdefault(region, region),
        rid, item, waiver_id if type(waiver_id) is str else None, start, end)


def _problem(f: Any, path: Path, i: int) -> DiffError:
    """What is wrong with finding number `i` (the fields the diff reads)."""
    if not isinstance(f, dict):
        return DiffError(f"{path}  findings/{i}: expected an object")
    for key in ("fingerprint", "status", "severity", "rule_id"):
        if not isinstance(f.get(key), str):
            return DiffError(f"{path}  findings/{i}/{key}: expected a string, found {type(f.get(key)).__name__}")
    if f["status"] not in STATUSES:
        return DiffError(f"{path}  findings/{i}/status: {f['status'][:40]!r} is not one of {', '.join(STATUSES)}")
    res = f.get("resource")
    if not isinstance(res, dict):
        return DiffError(f"{path}  findings/{i}/resource: expected an object")
    for key in ("type", "account", "region", "id"):
        if not isinstance(res.get(key), str):
            return DiffError(f"{path}  findings/{i}/resource/{key}: expected a string, found "
                             f"{type(res.get(key)).__name__}")
    if not isinstance(f.get("evidence", []), list):
        return DiffError(f"{path}  findings/{i}/evidence: expected a list")
    return DiffError(f"{path}  findings/{i}/item: expected a string or null")


def observed_leaves(finding: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, observed as canonical JSON text) per evidence leaf, in the finding's order."""
    for leaf in finding.get("evidence") or []:
        if isinstance(leaf, dict):
            yield (str(leaf.get("path", "")), canonical(leaf.get("observed")))


def canonical(value: Any) -> str:
    """`value` as compact JSON with sorted keys (the form observed values are compared in)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
