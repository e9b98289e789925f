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


def load_without_findings(raw: bytes) -> dict[str, Any]:
    """The findings.json document of `raw` without its findings (an empty list in their place),
    for a reader that needs the rest of an organisation's run (its rules, packs, config) and not
    the findings' parsed data. In the layout `iter_text` writes, the findings are skipped without
    being parsed (the top level's first key is "findings", and no line of the text closes a
    top-level value before their list's end, since strings hold no raw line break); any other
    layout is parsed whole. Raises ValueError for what is not JSON."""
    if raw.startswith(_HEAD):
        end = raw.find(_HEAD_END)
        if end >= 0:
            rest = json.loads(b"{" + raw[end + len(_HEAD_END):])
            if isinstance(rest, dict) and "findings" not in rest:
                return {"findings": [], **rest}
    document = json.loads(raw)
    if isinstance(document, dict) and "findings" in document:
        document["findings"] = []
    return document if isinstance(document, dict) else {}


def iter_findings(raw: bytes) -> Iterator[Any]:
    """The findings of the findings.json `raw`, parsed one at a time (in the layout `iter_text`
    writes: each finding is the text between two lines that open and close an object at the
    findings list's indentation); any other layout is parsed whole. Raises ValueError for what
    is not JSON."""
    end = raw.find(_HEAD_END) if raw.startswith(_HEAD) else -1
    if end < 0:
        document = json.loads(raw)
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
