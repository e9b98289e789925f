"""Call records: one AWS call (all its pages) or its failure, as plain JSON-able data."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

GLOBAL_REGION = "_global"  # region slot for account-wide calls (identity, assume-role, regions)
DISCOVERY_REGION = "_discovery"  # region slot for the organisation-discovery calls of the caller


_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """AWS response data as plain JSON values: datetimes become UTC ISO-8601 strings."""
    kind = type(value)
    if kind in _PLAIN:   # the common case first, by exact type (subclasses take the long way)
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): v if type(v) in _PLAIN else jsonable(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _PLAIN else jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z"
    if isinstance(value, (bytes, bytearray)):
        return {"$base64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def canonical_json(value: Any) -> bytes:
    """Deterministic serialisation: sorted keys, fixed separators, UTF-8, trailing newline."""
    return (json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False, separators=(",", ": "))
            + "\n").encode("utf-8")


def record_json(value: Any) -> bytes:
    """A record file's bytes: the same JSON values as `canonical_json` (sorted keys, UTF-8,
    trailing newline) without indentation, so that Python's C encoder writes it (indenting
    falls back to the pure-Python encoder, several times slower). Readers parse JSON, so
    record files of either form read the same; the manifest holds each file's SHA-256 as
    written. Record ids do not depend on it (`CallRecord.record_id` hashes `canonical_json`)."""
    return (json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


@dataclass(frozen=True)
class CallError:
    """Why a call produced no (or incomplete) data.

    kind: ``aws`` (AWS answered with an error), ``network`` (no answer), ``unsupported``
    (the endpoint does not implement the operation), ``not_attempted`` (skipped because
    something it depends on failed; `message` says what), ``truncated`` (AWS said more data
    exists than the API can return), ``internal`` (a bug of ours, recorded, not hidden).
    """

    kind: str
    code: str
    message: str
    http_status: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "code": self.code, "message": self.message, "http_status": self.http_status}

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> CallError:
        return CallError(d["kind"], d["code"], d["message"], d.get("http_status"))


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class CallRecord:
    """One collected call. `pages` hold the responses as AWS sent them (JSON values)."""

    account: str
    region: str
    service: str
    operation: str
    params: Mapping[str, Any] = field(default_factory=dict)
    pages: tuple[Mapping[str, Any], ...] = ()
    error: CallError | None = None
    # Metadata that varies between runs of the same estate; kept in the manifest only.
    started: str = field(default="", compare=False)
    duration_ms: int = field(default=0, compare=False)
    retries: int = field(default=0, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @functools.cached_property
    def record_id(self) -> str:
        """Stable path-like id: same call, same id, in every run (worked out once per record:
        the writer, its checkpoints and the model all ask)."""
        base = f"{self.account}/{self.region}/{self.service}/{self.operation}"
        if not self.params:
            return base
        digest = hashlib.sha256(canonical_json(self.params)).hexdigest()[:10]
        # Label with the resource id the call is about (VpcId, PrefixListId, name ...).
        strings = [(k, v) for k, v in sorted(self.params.items()) if isinstance(v, str)]
        first = next((v for k, v in strings if k.endswith("Id") or k == "name"), strings[0][1] if strings else "")
        label = _SAFE.sub("_", first)[:64]
        return f"{base}~{label}~{digest}" if label else f"{base}~{digest}"

    def content(self) -> dict[str, Any]:
        """What the record file holds: the request and its answer, nothing run-specific."""
        body: dict[str, Any] = {"account": self.account, "region": self.region, "service": self.service,
                                "operation": self.operation, "params": dict(self.params),
                                "pages": [dict(p) for p in self.pages]}
        if self.error is not None:
            body["error"] = self.error.to_json()
        return body

    def items(self, key: str) -> list[Any]:
        """All items under `key` across pages (a single object counts as one item)."""
        out: list[Any] = []
        for page in self.pages:
            value = page.get(key)
            if isinstance(value, list):
                out.extend(value)
            elif value is not None:
                out.append(value)
        return out

    @staticmethod
    def from_content(body: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> CallRecord:
        meta = meta or {}
        err = body.get("error")
        return CallRecord(account=body["account"], region=body["region"], service=body["service"],
                          operation=body["operation"], params=body.get("params", {}),
                          pages=tuple(body.get("pages", ())),
                          error=CallError.from_json(err) if err else None,
                          started=meta.get("started", ""), duration_ms=meta.get("duration_ms", 0),
                          retries=meta.get("retries", 0))
