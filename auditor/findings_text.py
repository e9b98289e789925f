"""Reading findings.json's text piece by piece: the rest of the document without its findings,
and the findings one at a time (in the layout `auditor.results.iter_text` writes). A module of
its own, importing nothing of the tool, so that the reports read a run's findings.json without
importing the results' builder (no import cycle)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

_HEAD = b'{\n "findings": [\n'
_HEAD_END = b"\n ],\n"


def _opens(raw: Any) -> bool:
    """Whether `raw` (bytes, or a read-only map of the file: `mmap` has no `startswith`) opens
    as `iter_text` writes findings.json."""
    return bytes(raw[:len(_HEAD)]) == _HEAD


def _whole(raw: Any) -> Any:
    return json.loads(raw if isinstance(raw, (bytes, bytearray, str)) else bytes(raw))


def load_without_findings(raw: Any) -> dict[str, Any]:
    """The findings.json document of `raw` without its findings (an empty list in their place),
    for a reader that needs the rest of an organisation's run (its rules, packs, config) and not
    the findings' parsed data. In the layout `iter_text` writes, the findings are skipped without
    being parsed (the top level's first key is "findings", and no line of the text closes a
    top-level value before their list's end, since strings hold no raw line break); any other
    layout is parsed whole. `raw` is findings.json's bytes or a read-only map of the file
    (`mmap`). Raises ValueError for what is not JSON."""
    if _opens(raw):
        end = raw.find(_HEAD_END)
        if end >= 0:
            rest = json.loads(b"{" + raw[end + len(_HEAD_END):])
            if isinstance(rest, dict) and "findings" not in rest:
                return {"findings": [], **rest}
    document = _whole(raw)
    if isinstance(document, dict) and "findings" in document:
        document["findings"] = []
    return document if isinstance(document, dict) else {}


def iter_findings(raw: Any) -> Iterator[Any]:
    """The findings of the findings.json `raw`, parsed one at a time (in the layout `iter_text`
    writes: each finding is the text between two lines that open and close an object at the
    findings list's indentation); any other layout is parsed whole. Raises ValueError for what
    is not JSON. `raw`: as `load_without_findings` takes it."""
    end = raw.find(_HEAD_END) if _opens(raw) else -1
    if end < 0:
        document = _whole(raw)
        yield from (document.get("findings") or []) if isinstance(document, dict) else []
        return
    at = len(_HEAD) - 1             # the line break before the first finding
    while at < end:
        close = raw.find(b"\n  }", at, end + 1)
        if close < 0:
            raise ValueError("findings.json: a finding is not closed where the findings list ends")
        yield json.loads(raw[at:close + 4])
        at = close + 4
        if at < end and raw[at:at + 2] != b",\n":
            raise ValueError("findings.json: findings are not separated by commas")
        at += 1
