"""Management responses: who fixes each failing finding, by when, and how it was retested.

A responses file (``auditor/schemas/responses.schema.json``; named by the audit config's
``responses:`` or by ``--responses FILE`` on `auditor scan` and `auditor report`) holds one
entry per finding, by its ``fingerprint``, or per rule, by its id (``rule``: every failing
finding of the rule without an entry of its own). Loading validates the whole file and raises
one InputError listing every problem at ``file:line:col``.

`responses_section` turns a loaded set and the run's findings into findings.json's
``responses`` section, from which every report is made: each entry with how many findings it
`matched` (none: the entry is *unmatched*, shown and warned about, never dropped) and whether it
is `overdue` (still open or in progress after its target date, judged on the run's assessed
date, never the clock, so the reports stay re-derivable). `assign` says which entry answers
which finding; the report model uses the same function.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from collections.abc import Collection, Iterable, Mapping, Sequence

from auditor.errors import InputError, Problem
from auditor.validation import did_you_mean, schema_problems, schema_view
from auditor.vocabulary import FAILING
from auditor.yamlpos import Located, PathKey, load_yaml_text, read_text

STATUSES = ("open", "in-progress", "remediated", "risk-accepted")
OPEN = ("open", "in-progress")        # the statuses a target date can be missed in
RETEST_RESULTS = ("pass", "fail")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Retest:
    date: date
    result: str          # pass | fail


@dataclass(frozen=True)
class Response:
    """One validated entry. Exactly one of `fingerprint` and `rule` is set; `source` is the
    (file, line) of the entry."""

    owner: str
    status: str
    fingerprint: str | None = None
    rule: str | None = None
    target_date: date | None = None
    comment: str = ""
    retest: Retest | None = None
    source: tuple[str, int] = ("", 0)

    @property
    def key(self) -> str:
        """``fingerprint <fp>`` or ``rule <id>``: what the entry names, in words."""
        return f"fingerprint {self.fingerprint}" if self.fingerprint is not None else f"rule {self.rule}"


@dataclass(frozen=True)
class ResponseSet:
    """Every entry of one file, in file order."""

    responses: tuple[Response, ...] = ()
    source: str = ""
    digest: str = ""     # sha256 of the file's text

    def __len__(self) -> int:
        return len(self.responses)


# --------------------------------------------------------------------------- dates

def parse_date(doc: Located, path: PathKey, value: Any, problems: list[Problem]) -> date | None:
    """`value` (a YAML date or a YYYY-MM-DD string) as a date; else None with a problem at
    `path` added to `problems`. Also used for the audit config's assessor dates."""
    if isinstance(value, datetime):
        problems.append(doc.problem(path, f"give a date without a time, written YYYY-MM-DD "
                                          f"(got '{doc.raw.get(path, value)}')"))
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            problems.append(doc.problem(path, f"'{value}' is not a valid date: {exc}"))
            return None
    problems.append(doc.problem(path, f"expected a date written YYYY-MM-DD, got '{doc.raw.get(path, value)}'"))
    return None


_SUGGESTED = re.compile(r"unknown key '[^']*' \(did you mean '(?P<hint>[^']*)'\?\)")


def drop_echoes(problems: list[Problem]) -> list[Problem]:
    """`problems` without "missing required key 'owner'" where an unknown key at the same place
    already says "did you mean 'owner'?" (one mistake, one message)."""
    suggested = set()
    for p in problems:
        m = _SUGGESTED.match(p.message)
        if m:
            suggested.add((p.path.rsplit(".", 1)[0] if "." in p.path else "", m.group("hint")))
    return [p for p in problems if not (p.message.startswith("missing required key '")
                                        and (p.path, p.message.split("'")[1]) in suggested)]


# --------------------------------------------------------------------------- loading

def _semantic_problems(doc: Located, known_rule_ids: Collection[str] | None) -> list[Problem]:
    problems: list[Problem] = []
    items = doc.data.get("responses")
    if not isinstance(items, list):
        return problems
    seen: dict[tuple[str, str], int] = {}
    for i, r in enumerate(items):
        if not isinstance(r, dict):
            continue
        at: PathKey = ("responses", i)
        for kind in ("fingerprint", "rule"):
            value = r.get(kind)
            if isinstance(value, str):
                if (kind, value) in seen:
                    problems.append(doc.problem(at + (kind,), f"{kind} {value} has two responses "
                                                              f"(first as responses[{seen[(kind, value)]}])"))
                seen.setdefault((kind, value), i)
        rule = r.get("rule")
        if (known_rule_ids is not None and isinstance(rule, str) and re.fullmatch(r"[A-Z]{2,5}-[0-9]{3}", rule)
                and rule not in known_rule_ids):
            problems.append(doc.problem(at + ("rule",), f"'{rule}' is not a known rule id"
                                                         f"{did_you_mean(rule, known_rule_ids)}"))
        if "target_date" in r:
            parse_date(doc, at + ("target_date",), r["target_date"], problems)
        elif r.get("status") in OPEN:
            problems.append(doc.problem(at, f"a response that is {r['status']} needs a target_date (YYYY-MM-DD)"))
        retest = r.get("retest")
        if isinstance(retest, dict) and "date" in retest:
            parse_date(doc, at + ("retest", "date"), retest["date"], problems)
    return problems


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _build(doc: Located, text: str) -> ResponseSet:
    out = []
    for i, r in enumerate(doc.data["responses"]):
        retest = r.get("retest")
        out.append(Response(
            owner=_text(r["owner"]), status=str(r["status"]), fingerprint=r.get("fingerprint"), rule=r.get("rule"),
            target_date=_as_date(r["target_date"]) if "target_date" in r else None, comment=_text(r.get("comment")),
            retest=Retest(_as_date(retest["date"]), str(retest["result"])) if isinstance(retest, dict) else None,
            source=(doc.file, doc.where(("responses", i))[0])))
    return ResponseSet(tuple(out), doc.file, "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest())


def parse_responses(doc: Located, text: str, known_rule_ids: Collection[str] | None = None) -> ResponseSet:
    """Validate a parsed responses document and build the set. Raises InputError with every problem."""
    if not isinstance(doc.data, dict):
        raise InputError([doc.problem((), "expected a mapping with version and responses at the top of the file")])
    known = None if known_rule_ids is None else frozenset(known_rule_ids)
    semantic = _semantic_problems(doc, known)
    covered = {(p.line, p.col) for p in semantic}
    view = Located(file=doc.file, data=schema_view(doc.data), values=doc.values, keys=doc.keys, raw=doc.raw)
    schema = [p for p in schema_problems("responses", view) if (p.line, p.col) not in covered]
    # An entry with an unknown key also fails the one-of-fingerprint-or-rule hint when the unknown
    # key was meant as one of them (`fingerprnt:`): the unknown key says it better.
    unknown = {p.path.rsplit(".", 1)[0] for p in schema if p.message.startswith("unknown key")}
    problems = drop_echoes(semantic + [p for p in schema
                                       if not (p.message.startswith("a response names") and p.path in unknown)])
    if problems:
        raise InputError(problems)
    return _build(doc, text)


def responses_from_text(text: str, name: str = "<responses>",
                        known_rule_ids: Collection[str] | None = None) -> ResponseSet:
    """Validate and build responses from text in memory (`name` is used in messages)."""
    return parse_responses(load_yaml_text(text, name), text, known_rule_ids)


def load_responses(path: Path | str, known_rule_ids: Collection[str] | None = None) -> ResponseSet:
    """Read, validate and build a responses file. `known_rule_ids`: when given, every `rule`
    must be one of them (a typo would otherwise answer nothing)."""
    p = Path(path)
    return responses_from_text(read_text(p), str(p), known_rule_ids)


# --------------------------------------------------------------------------- the section

def _facts(finding: Any) -> tuple[str, str, str]:
    """(fingerprint, rule id, status) of a `Finding` or of findings.json's finding data."""
    if isinstance(finding, Mapping):
        return str(finding.get("fingerprint", "")), str(finding.get("rule_id", "")), str(finding.get("status", ""))
    return str(finding.fingerprint), str(finding.rule_id), str(finding.status)


def assign(entries: Sequence[Mapping[str, Any]], findings: Iterable[Any]) -> dict[str, int]:
    """Finding fingerprint -> index of the entry that answers it: the entry naming its
    fingerprint (whatever its status), else, for a FAIL or ERROR finding, the entry naming its
    rule. `entries` are the section's entries (or any mappings with `fingerprint` and `rule`)."""
    by_fp = {str(e["fingerprint"]): i for i, e in enumerate(entries) if e.get("fingerprint")}
    by_rule = {str(e["rule"]): i for i, e in enumerate(entries) if e.get("rule")}
    out: dict[str, int] = {}
    for f in findings:
        fp, rule, status = _facts(f)
        if fp in by_fp:
            out[fp] = by_fp[fp]
        elif status in FAILING and rule in by_rule:
            out[fp] = by_rule[rule]
    return out


def _entry(r: Response) -> dict[str, Any]:
    return {"fingerprint": r.fingerprint, "rule": r.rule, "owner": r.owner, "status": r.status,
            "target_date": r.target_date.isoformat() if r.target_date is not None else None,
            "comment": r.comment,
            "retest": {"date": r.retest.date.isoformat(), "result": r.retest.result} if r.retest is not None else None,
            "source": f"{Path(r.source[0]).name}:{r.source[1]}"}


def is_overdue(status: str, target_date: str | None, assessed_on: str) -> bool:
    """Still open or in progress after its target date, as of the run's assessed date
    (ISO dates compare as text; no assessed date: never overdue)."""
    return bool(status in OPEN and target_date and assessed_on and target_date < assessed_on)


def responses_section(responses: ResponseSet, findings: Iterable[Any], assessed_on: str) -> dict[str, Any]:
    """findings.json's ``responses`` section: the file (name and digest) and each entry with
    `matched` (how many findings it answers) and `overdue`, plus the number unmatched and overdue."""
    entries = [_entry(r) for r in responses.responses]
    counts = [0] * len(entries)
    for index in assign(entries, findings).values():
        counts[index] += 1
    for e, n in zip(entries, counts, strict=True):
        e["matched"] = n
        e["overdue"] = is_overdue(e["status"], e["target_date"], assessed_on)
    return {"file": Path(responses.source).name if responses.source else "", "digest": responses.digest,
            "entries": entries, "unmatched": sum(1 for n in counts if not n),
            "overdue": sum(1 for e in entries if e["overdue"])}


def with_responses(document: Mapping[str, Any], responses: ResponseSet) -> dict[str, Any]:
    """`document` (findings.json data) with its ``responses`` section made from `responses`
    (replacing any it had): what `auditor report --responses FILE` reports from."""
    section = responses_section(responses, document.get("findings") or [],
                                str((document.get("run") or {}).get("assessed_on") or ""))
    return {**document, "responses": section}


def warnings(section: Mapping[str, Any] | None) -> list[str]:
    """One line per unmatched entry of a ``responses`` section (empty without one)."""
    if not section:
        return []
    out = []
    for e in section.get("entries") or []:
        if not e.get("matched"):
            what = (f"fingerprint {e.get('fingerprint')} is no finding of this run" if e.get("fingerprint")
                    else f"rule {e.get('rule')} has no failing finding in this run")
            out.append(f"warning: {e.get('source', '')}  unmatched management response: {what}")
    return out
