"""Secrets never enter evidence: declared secret fields are replaced by a keyed-hash marker.

The catalogue declares, per call, the response fields that can carry secrets
(`CallSpec.secret_fields`, e.g. Lambda environment variable values). `Redactor.page`
replaces every value found there, before the record exists, by

    <redacted:hmac-sha256:0123456789abcdef0123456789abcdef>

the first 32 hex digits of HMAC-SHA256(key, value). The same value under the same key gives
the same marker, so a changed secret shows as a changed marker between two snapshots (and a
secret reused across functions shows as one marker); without the key the value cannot be
recovered or brute-forced from the evidence.

The key (see docs/collection.md), first found wins:
1. ``AUDITOR_REDACTION_KEY``: the key itself (at least 32 characters), e.g. from a CI secret store;
2. the key file ``AUDITOR_REDACTION_KEY_FILE``, else ``$XDG_CONFIG_HOME/private-network-auditor/
   redaction.key`` (``~/.config/...``): made on first need with 32 random bytes (64 hex
   digits), readable by its owner only;
3. when that file cannot be made, a random key for this run only (markers then compare
   within one snapshot only), said so in the manifest.
The manifest records the key's source and id (an HMAC of a fixed label), never the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping

from auditor.collect.catalog import all_calls, secret_fields
from auditor.errors import AuditorError

KEY_ENV = "AUDITOR_REDACTION_KEY"
KEY_FILE_ENV = "AUDITOR_REDACTION_KEY_FILE"
MIN_KEY_CHARS = 32
MARKER_PREFIX = "<redacted:hmac-sha256:"
MARKER_HEX = 32
_KEY_ID_LABEL = b"private-network-auditor redaction key id"


class RedactionKeyError(AuditorError):
    """The configured redaction key cannot be used (too short, unreadable)."""


def default_key_file() -> Path:
    """$XDG_CONFIG_HOME (else ~/.config)/private-network-auditor/redaction.key.
    Raises OSError when there is no home folder to put it in."""
    try:
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    except RuntimeError as exc:  # no HOME and no password entry (some containers)
        raise OSError(f"no home folder for the redaction key file: {exc}") from exc
    return Path(base) / "private-network-auditor" / "redaction.key"


def _key_file() -> Path:
    return Path(os.environ[KEY_FILE_ENV]) if os.environ.get(KEY_FILE_ENV) else default_key_file()


def _checked(text: str, where: str) -> bytes:
    text = text.strip()
    if len(text) < MIN_KEY_CHARS:
        raise RedactionKeyError(f"the redaction key from {where} is {len(text)} characters long; "
                                f"it needs at least {MIN_KEY_CHARS} (e.g. 64 hex digits)")
    return text.encode("utf-8")


def existing_key() -> tuple[bytes, str] | None:
    """The key from the environment or an existing key file, with its source; None when
    neither exists. Raises RedactionKeyError for an unusable one."""
    if os.environ.get(KEY_ENV):
        return _checked(os.environ[KEY_ENV], f"${KEY_ENV}"), f"environment {KEY_ENV}"
    try:
        path = _key_file()
    except OSError:
        return None  # no key file possible: `_create_key` falls back to a per-run key
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RedactionKeyError(f"cannot read the redaction key file {path}: {exc}") from exc
    return _checked(text, f"the key file {path}"), "key file"


def _create_key() -> tuple[bytes, str]:
    """A new key in the key file (atomic, owner-only); a per-run key when that fails."""
    text = secrets.token_hex(32)
    ephemeral = (secrets.token_hex(32).encode("utf-8"),
                 "ephemeral: no key file could be written, so the markers compare within this snapshot only")
    try:
        path = _key_file()
    except OSError:
        return ephemeral
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        try:
            os.link(tmp, path)  # fails if another process made the file first: use theirs
        except FileExistsError:
            found = existing_key()
            return found if found is not None else ephemeral
        return text.encode("utf-8"), "key file (created for this run)"
    except OSError:
        return ephemeral
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass


def key_id(key: bytes) -> str:
    """A public fingerprint of the key: two snapshots with the same id have comparable markers."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def _segments(path: str) -> list[str]:
    out: list[str] = []
    for name in path.split("."):
        if name.endswith("[]"):
            out += [name[:-2], "[]"]
        else:
            out.append(name)
    return out


def _apply(node: Any, segs: list[str], fn: Callable[[Any], Any]) -> Any:
    """`node` with `fn` applied to every value at the path `segs` (copies, never mutates)."""
    if not segs:
        return fn(node)
    head, rest = segs[0], segs[1:]
    if head == "[]":
        return [_apply(x, rest, fn) for x in node] if isinstance(node, list) else node
    if head == "*":
        return {k: _apply(v, rest, fn) for k, v in node.items()} if isinstance(node, dict) else node
    if isinstance(node, dict) and head in node:
        return {**node, head: _apply(node[head], rest, fn)}
    return node


@lru_cache(maxsize=512)
def _secret_paths(service: str, operation: str) -> tuple[tuple[str, ...], ...]:
    """The declared secret fields of a call as path segments (the catalogue does not change)."""
    return tuple(tuple(_segments(path)) for path in secret_fields(service, operation))


def is_marker(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(MARKER_PREFIX) and value.endswith(">")


class Redactor:
    """Replaces declared secret fields in response pages; loads (or makes) the key on first need.

    Thread-safe: the collector's tasks share one Redactor.
    """

    def __init__(self, key: bytes | None = None, source: str = "given"):
        self._key = key
        self._source = source if key is not None else ""
        self._lock = threading.Lock()
        self.count = 0

    @staticmethod
    def from_environment() -> Redactor:
        """The key from the environment or an existing key file, else made on first need.
        Raises RedactionKeyError for an unusable configured key (before anything is collected)."""
        found = existing_key()
        return Redactor(*found) if found else Redactor()

    def _loaded(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key, self._source = _create_key()
            return self._key

    def marker(self, value: Any) -> str:
        """The marker that stands for `value` (None and markers stay as they are)."""
        data = value.encode("utf-8") if isinstance(value, str) else json.dumps(value, sort_keys=True).encode()
        return f"{MARKER_PREFIX}{hmac.new(self._loaded(), data, hashlib.sha256).hexdigest()[:MARKER_HEX]}>"

    def _replace(self, value: Any) -> Any:
        if value is None or is_marker(value):
            return value
        with self._lock:
            self.count += 1
        return self.marker(value)

    def page(self, service: str, operation: str, page: Mapping[str, Any]) -> dict[str, Any]:
        """`page` with every declared secret field of `service:operation` replaced."""
        paths = _secret_paths(service, operation)
        if not paths:
            return dict(page)
        out = dict(page)
        for segs in paths:
            out = _apply(out, list(segs), self._replace)
        return out

    def meta(self) -> dict[str, Any]:
        """What the manifest says about redaction (never the key)."""
        fields = {s.key: list(s.secret_fields) for s in all_calls() if s.secret_fields}
        return {"algorithm": "HMAC-SHA256", "marker": f"{MARKER_PREFIX}<{MARKER_HEX} hex digits>>",
                "fields": fields, "values_redacted": self.count,
                "key_id": key_id(self._key) if self._key is not None else None,
                "key_source": self._source or "none needed (no secret field held a value)"}
