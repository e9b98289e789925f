"""Waivers: the exceptions register.

A waiver is an approved, time-limited exception: for the rules it names (ids or globs
such as ``EP-*``) and the resources it selects (by id, ARN glob or tags, optionally
narrowed to accounts and regions), a failing result becomes WAIVED while the waiver is
in effect, and FAIL with "waiver WVR-... expired on YYYY-MM-DD" once it has expired.

The file format is published as ``auditor/schemas/waivers.schema.json``; see
``sample_configs/waivers.example.yaml``. Loading validates the whole file and raises one
InputError listing every problem with its ``file:line:col``.

Dates: a waiver is in effect from ``created`` through ``expires``, both days included.
Nothing here reads the clock: the caller passes ``today`` to every decision.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal
from collections.abc import Collection, Iterable, Iterator, Mapping


from auditor.errors import InputError, Problem
from auditor.model.registry import EC2_ARN_TYPES
from auditor.model.types import Resource
from auditor.validation import did_you_mean, schema_problems, schema_view
from auditor.yamlpos import Located, PathKey, load_yaml_text, read_text

TagPairs = tuple[tuple[str, str], ...]
Status = Literal["active", "expired"]

RULE_ID = re.compile(r"[A-Z]{2,5}-[0-9]{3}")
_GLOB_CHARS = frozenset("*?[")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MIN_JUSTIFICATION = 20
# The compensating-control worksheet of PCI DSS v4.0.1 Appendix B/C, in its order: an optional
# `worksheet:` of a waiver gives every field (auditor/report/workpaper.py names them for readers).
WORKSHEET_FIELDS = ("constraints", "objective", "identified_risk", "definition", "validation", "maintenance")
_SELECTOR_HINT = "a resource selector has exactly one of id, arn or tags"


# --------------------------------------------------------------------------- the model

@dataclass(frozen=True)
class Selector:
    """One resource selector: exactly one of `id` (exact), `arn` (glob) or `tags` (all equal)."""

    id: str | None = None
    arn: str | None = None
    tags: TagPairs = ()

    def matches(self, resource_id: str, resource_arn: str | None, tags: Mapping[str, str]) -> bool:
        if self.id is not None:
            return resource_id == self.id
        if self.arn is not None:
            return resource_arn is not None and fnmatchcase(resource_arn, self.arn)
        return bool(self.tags) and all(tags.get(k) == v for k, v in self.tags)

    def text(self) -> str:
        if self.id is not None:
            return f"id {self.id}"
        if self.arn is not None:
            return f"arn {self.arn}"
        return "tags " + ", ".join(f"{k}={v}" for k, v in self.tags)


@dataclass(frozen=True)
class Waiver:
    """One validated waiver. `source` is (file, line) of its entry in the waivers file."""

    id: str
    rules: tuple[str, ...]
    resources: tuple[Selector, ...]
    justification: str
    approver: str
    ticket: str
    created: date
    expires: date
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    compensating_control: str | None = None
    source: tuple[str, int] = ("", 0)
    worksheet: tuple[tuple[str, str], ...] | None = None   # (field, text) in WORKSHEET_FIELDS order

    def covers_rule(self, rule_id: str) -> bool:
        return any(fnmatchcase(rule_id, p) for p in self.rules)

    def covers(self, rule_id: str, account: str, region: str, resource_id: str,
               resource_arn: str | None, tags: Mapping[str, str]) -> bool:
        """Rule, narrowing and selectors all match (whatever the date)."""
        if not self.covers_rule(rule_id):
            return False
        if self.accounts and account not in self.accounts:
            return False
        if self.regions and region not in self.regions:
            return False
        return any(s.matches(resource_id, resource_arn, tags) for s in self.resources)

    def in_effect(self, today: date) -> bool:
        """From `created` through `expires`, both days included."""
        return self.created <= today <= self.expires

    def expired(self, today: date) -> bool:
        return today > self.expires

    def selectors_text(self) -> str:
        return "; ".join(s.text() for s in self.resources)


@dataclass(frozen=True)
class WaiverDecision:
    """What the waivers say about one (rule, resource): `active` -> WAIVED, `expired` -> FAIL.

    `waiver` is the one that decided; `others` are the further waivers that matched too
    (by id), so that none of them is reported as stale.
    """

    status: Status
    waiver: Waiver
    others: tuple[str, ...] = ()

    @property
    def result(self) -> Literal["WAIVED", "FAIL"]:
        return "WAIVED" if self.status == "active" else "FAIL"

    @property
    def message(self) -> str:
        w = self.waiver
        if self.status == "expired":
            return f"waiver {w.id} expired on {w.expires.isoformat()}"
        return (f"waived by {w.id} (ticket {w.ticket}, approved by {w.approver}, "
                f"expires {w.expires.isoformat()})")

    @property
    def matched_ids(self) -> tuple[str, ...]:
        """Every waiver that matched: the deciding one first. The engine marks them used."""
        return (self.waiver.id,) + self.others


REGISTER_COLUMNS = ("id", "rules", "resources", "accounts", "regions", "approver", "ticket",
                    "created", "expires", "status", "days_to_expiry", "justification",
                    "compensating_control", "source")


@dataclass(frozen=True)
class RegisterRow:
    """One row of the exceptions register report."""

    id: str
    rules: str
    resources: str
    accounts: str
    regions: str
    approver: str
    ticket: str
    created: str
    expires: str
    status: str            # pending | active | expired | stale
    days_to_expiry: int    # negative once expired
    justification: str
    compensating_control: str
    source: str
    worksheet: tuple[tuple[str, str], ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The row as findings.json writes it: the columns and the `worksheet` (null: none recorded)."""
        return {**{c: getattr(self, c) for c in REGISTER_COLUMNS},
                "worksheet": dict(self.worksheet) if self.worksheet is not None else None}


@dataclass(frozen=True)
class WaiverSet:
    """All waivers of one file, in file order. Empty when no waivers file is given."""

    waivers: tuple[Waiver, ...] = ()
    source: str = ""
    digest: str = ""   # sha256 of the file's text, for the evidence trail

    def __iter__(self) -> Iterator[Waiver]:
        return iter(self.waivers)

    def __len__(self) -> int:
        return len(self.waivers)

    def get(self, waiver_id: str) -> Waiver | None:
        return next((w for w in self.waivers if w.id == waiver_id), None)

    def match(self, rule_id: str, account: str, region: str, resource_id: str,
              resource_arn: str | None, tags: Mapping[str, str] | Iterable[tuple[str, str]],
              today: date) -> WaiverDecision | None:
        """The decision for one (rule, resource) on `today`, or None when no waiver applies.

        Waivers not yet in effect (`today` before `created`) are ignored. An active waiver
        wins over an expired one; among equals the lowest waiver id decides, and every
        other matching waiver is listed in `others`.
        """
        tag_map = dict(tags)
        hits = [w for w in self.waivers
                if w.covers(rule_id, account, region, resource_id, resource_arn, tag_map)
                and today >= w.created]
        if not hits:
            return None
        hits.sort(key=lambda w: (w.expired(today), w.id))
        best = hits[0]
        return WaiverDecision(status="expired" if best.expired(today) else "active", waiver=best,
                              others=tuple(w.id for w in hits[1:]))

    def match_resource(self, rule_id: str, resource: Resource, today: date) -> WaiverDecision | None:
        """`match` for a model resource (its ARN from `resource_arn`)."""
        return self.match(rule_id, resource.account, resource.region, resource.id,
                          resource_arn(resource), resource.tags, today)

    def stale(self, used: Collection[str]) -> list[Waiver]:
        """Waivers that matched nothing during a run (`used`: ids of the waivers that did)."""
        return sorted((w for w in self.waivers if w.id not in used), key=lambda w: w.id)


def register_rows(waivers: Iterable[Waiver], used: Collection[str], today: date) -> list[RegisterRow]:
    """The exceptions register, sorted by waiver id.

    status: `expired` after the expiry date; else `pending` before the created date; else
    `stale` when it matched nothing in this run; else `active`.
    """
    rows = []
    for w in sorted(waivers, key=lambda w: w.id):
        if w.expired(today):
            status = "expired"
        elif today < w.created:
            status = "pending"
        elif w.id not in used:
            status = "stale"
        else:
            status = "active"
        rows.append(RegisterRow(
            id=w.id, rules=", ".join(w.rules), resources=w.selectors_text(),
            accounts=", ".join(w.accounts), regions=", ".join(w.regions),
            approver=w.approver, ticket=w.ticket, created=w.created.isoformat(),
            expires=w.expires.isoformat(), status=status, days_to_expiry=(w.expires - today).days,
            justification=w.justification, compensating_control=w.compensating_control or "",
            source=f"{w.source[0]}:{w.source[1]}", worksheet=w.worksheet))
    return rows


# EC2 resources carry no ARN in the model; their ARN is fully determined by the id.
_EC2_ARN_TYPES = EC2_ARN_TYPES   # type -> resource segment of its EC2 ARN (the registry's `arn`)
_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"),
               ("us-isof-", "aws-iso-f"), ("eu-isoe-", "aws-iso-e"), ("us-iso-", "aws-iso"))


def partition_for(region: str) -> str:
    """The ARN partition of a region, from its name alone (offline: evaluation never asks
    botocore): aws-cn, aws-us-gov, the ISO partitions, else aws."""
    return next((p for prefix, p in _PARTITIONS if region.startswith(prefix)), "aws")


def resource_arn(resource: Resource) -> str | None:
    """The resource's ARN: its own `arn` field, else the EC2 ARN built from type and id."""
    own = getattr(resource, "arn", None)
    if isinstance(own, str) and own:
        return own
    kind = _EC2_ARN_TYPES.get(resource.type_name)
    if kind is None or not resource.id or not resource.account or not resource.region:
        return None
    return f"arn:{partition_for(resource.region)}:ec2:{resource.region}:{resource.account}:{kind}/{resource.id}"


# --------------------------------------------------------------------------- loading

def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "nothing (null)"
    return type(value).__name__


def _date(doc: Located, path: PathKey, value: Any, problems: list[Problem]) -> date | None:
    if isinstance(value, datetime):
        problems.append(doc.problem(path, f"give a date without a time, written YYYY-MM-DD "
                                          f"(got '{doc.raw.get(path, value)}')"))
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        if not _DATE.fullmatch(value):
            problems.append(doc.problem(path, f"'{value}' is not a date: write it as YYYY-MM-DD"))
            return None
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            problems.append(doc.problem(path, f"'{value}' is not a valid date: {exc}"))
            return None
    if value is None or isinstance(value, (list, dict)):
        return None  # the schema says what is wrong
    problems.append(doc.problem(path, f"expected a date written YYYY-MM-DD, got "
                                      f"'{doc.raw.get(path, value)}'"))
    return None


def _one_year_after(d: date) -> date:
    try:
        return d.replace(year=d.year + 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year + 1, day=28)


def _literal_prefix(pattern: str) -> str:
    """The part of a glob before its first wildcard (what every match starts with)."""
    return re.split(r"[*?\[]", pattern, maxsplit=1)[0]


# Rule ids of every shape (RULE_ID): a glob that matches them all waives every rule there is
# or will be, whatever packs are loaded.
_ANY_RULE_IDS = ("AA-000", "ZZ-999", "PN-001", "EP-005", "QX-420", "ABCDE-123", "ZZZZZ-999", "MNO-007")


def _rule_problems(doc: Located, path: PathKey, pattern: str,
                   known: Collection[str] | None) -> list[Problem]:
    is_glob = any(c in _GLOB_CHARS for c in pattern)
    if is_glob and all(fnmatchcase(rule_id, pattern) for rule_id in _ANY_RULE_IDS):
        return [doc.problem(path, f"'{pattern}' would waive every rule (like '*'); name rule ids or a "
                                  "prefix such as EP-*")]
    if is_glob and not re.match(r"[A-Z]{2,5}-", _literal_prefix(pattern)):
        # '[A-Z]*', 'E*', '??-*': each spans rule families; a waiver names the rules it excuses.
        return [doc.problem(path, f"'{pattern}' spans rule prefixes: a rule glob must start with a whole "
                                  "prefix and its dash, such as EP-* or PN-00?")]
    if not is_glob and not RULE_ID.fullmatch(pattern):
        return [doc.problem(path, f"'{pattern}' is not a rule id (rule ids look like PN-001)"
                                  f"{did_you_mean(pattern, known or ())}")]
    if known is not None and not any(fnmatchcase(k, pattern) for k in known):
        if is_glob:
            return [doc.problem(path, f"rule pattern '{pattern}' matches no known rule id")]
        return [doc.problem(path, f"'{pattern}' is not a known rule id{did_you_mean(pattern, known)}")]
    return []


def _broad_arn(pattern: str) -> str:
    """Why an ARN glob selects too much (empty: it does not).

    ARNs are ``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``, and a ``*`` also matches
    ``:``. A glob must name the service literally and, beyond it, the account or something
    of the resource: ``arn:*``, ``arn:aws:*`` or ``arn:aws:ec2:*`` waive every resource (every
    resource this tool assesses is of a handful of services), like ``*``."""
    fields = pattern.split(":", 5)
    fields += [""] * (6 - len(fields))

    def literal(text: str) -> bool:
        return text != "" and not any(c in _GLOB_CHARS for c in text)

    service_named = literal(fields[2])
    account_named = literal(fields[4])
    resource_named = bool(re.sub(r"[*?/]|\[[^\]]*\]", "", fields[5]))   # something besides wildcards
    if service_named and (account_named or resource_named):
        return ""
    what = (f"names no whole account and no resource: it would waive every {fields[2]} resource" if service_named
            else "names no service: it would waive every resource")
    return (f"'{pattern}' {what} (like '*'); an ARN glob must name the service and the account or the "
            "resource, e.g. arn:aws:ec2:eu-west-1:111111111111:vpc/*")


def _semantic_problems(doc: Located, known_rule_ids: Collection[str] | None,
                       max_duration_days: int | None) -> list[Problem]:
    problems: list[Problem] = []
    items = doc.data.get("waivers")
    if not isinstance(items, list):
        return problems
    regions_known: frozenset[str] | None = None
    first_seen: dict[str, int] = {}
    for i, w in enumerate(items):
        if not isinstance(w, dict):
            continue
        at: PathKey = ("waivers", i)
        wid = w.get("id")
        if isinstance(wid, str):
            if wid in first_seen:
                problems.append(doc.problem(at + ("id",), f"waiver id {wid} is used twice "
                                                          f"(first as waivers[{first_seen[wid]}])"))
            first_seen.setdefault(wid, i)
        for j, pattern in enumerate(w.get("rules") or []):
            if isinstance(pattern, str) and re.fullmatch(r"[A-Z0-9*?\[\]!-]+", pattern):
                problems.extend(_rule_problems(doc, at + ("rules", j), pattern, known_rule_ids))
        for j, sel in enumerate(w.get("resources") or []):
            if not isinstance(sel, dict):
                continue
            arn = sel.get("arn")
            if isinstance(arn, str) and arn.startswith("arn:") and any(c in _GLOB_CHARS for c in arn):
                why = _broad_arn(arn)
                if why:
                    problems.append(doc.problem(at + ("resources", j, "arn"), why))
            for key, value in (sel.get("tags") or {}).items() if isinstance(sel.get("tags"), dict) else ():
                if value is not None and not isinstance(value, (str, list, dict)):
                    vpath = at + ("resources", j, "tags", key)
                    problems.append(doc.problem(vpath, f"write the tag value in quotes "
                                                       f"('{doc.raw.get(vpath, value)}'): unquoted, "
                                                       f"YAML reads it as {_kind(value)}"))
        for j, acct in enumerate(w.get("accounts") or []):
            if isinstance(acct, int) and not isinstance(acct, bool):
                apath = at + ("accounts", j)
                problems.append(doc.problem(apath, f"write the account id in quotes "
                                                   f"('{doc.raw.get(apath, acct)}'): unquoted, YAML reads it "
                                                   "as a number and can drop leading zeros"))
        for j, name in enumerate(w.get("regions") or []):
            if isinstance(name, str):
                if regions_known is None:
                    from auditor.partitions import known_regions  # botocore's endpoint data, read once
                    regions_known = known_regions()
                if name not in regions_known:
                    problems.append(doc.problem(at + ("regions", j), f"'{name}' is not a known AWS region "
                                                f"name{did_you_mean(name, regions_known)}"))
        text = w.get("justification")
        if isinstance(text, str) and len(text.strip()) < MIN_JUSTIFICATION:
            problems.append(doc.problem(at + ("justification",),
                                        f"too short ({len(text.strip())} characters): explain in at least "
                                        f"{MIN_JUSTIFICATION} characters why the exception is acceptable"))
        created = _date(doc, at + ("created",), w.get("created"), problems) if "created" in w else None
        expires = _date(doc, at + ("expires",), w.get("expires"), problems) if "expires" in w else None
        if created and expires:
            if expires < created:
                problems.append(doc.problem(at + ("expires",), f"expires {expires.isoformat()} is before "
                                                               f"created {created.isoformat()}"))
            elif max_duration_days is not None:
                if (expires - created).days > max_duration_days:
                    problems.append(doc.problem(
                        at + ("expires",), f"a waiver may last at most {max_duration_days} days; this one "
                                           f"lasts {(expires - created).days} (created {created.isoformat()})"))
            elif expires > _one_year_after(created):
                problems.append(doc.problem(
                    at + ("expires",), f"a waiver may last at most one year: created {created.isoformat()}, "
                                       f"so it must expire by {_one_year_after(created).isoformat()}"))
    return problems


_UNKNOWN = re.compile(r"unknown key '(?P<key>[^']*)' \(did you mean '(?P<hint>[^']*)'\?\)")


def _drop_echoes(problems: list[Problem], doc: Located) -> list[Problem]:
    """Leave out schema messages that only repeat a clearer one at the same place:
    "missing required key 'approver'" beside "unknown key 'aprover' (did you mean
    'approver'?)", and the one-of-id/arn/tags hint for a selector with an unknown key."""
    suggested: set[tuple[str, str]] = set()
    has_unknown: set[str] = set()
    for p in problems:
        m = _UNKNOWN.search(p.message)
        parent = p.path.rsplit(".", 1)[0] if "." in p.path else ""
        if p.message.startswith("unknown key"):
            has_unknown.add(parent)
        if m:
            suggested.add((parent, m.group("hint")))
    out = []
    for p in problems:
        if p.message.startswith("missing required key '"):
            wanted = p.message.split("'")[1]
            if (p.path, wanted) in suggested:
                continue
        if p.message == _SELECTOR_HINT and p.path in has_unknown:
            continue
        out.append(p)
    return out


def _build(doc: Located, text: str) -> WaiverSet:
    waivers = []
    for i, w in enumerate(doc.data["waivers"]):
        selectors = []
        for sel in w["resources"]:
            if "id" in sel:
                selectors.append(Selector(id=sel["id"]))
            elif "arn" in sel:
                selectors.append(Selector(arn=sel["arn"]))
            else:
                selectors.append(Selector(tags=tuple(sorted(sel["tags"].items()))))
        created = w["created"] if isinstance(w["created"], date) else date.fromisoformat(w["created"])
        expires = w["expires"] if isinstance(w["expires"], date) else date.fromisoformat(w["expires"])
        waivers.append(Waiver(
            id=w["id"], rules=tuple(w["rules"]), resources=tuple(selectors),
            justification=w["justification"].strip(), approver=w["approver"].strip(),
            ticket=w["ticket"].strip(), created=created, expires=expires,
            accounts=tuple(w.get("accounts", ())), regions=tuple(w.get("regions", ())),
            compensating_control=(w["compensating_control"].strip()
                                  if "compensating_control" in w else None),
            source=(doc.file, doc.where(("waivers", i))[0]),
            worksheet=(tuple((k, str(w["worksheet"][k]).strip()) for k in WORKSHEET_FIELDS)
                       if "worksheet" in w else None)))
    return WaiverSet(waivers=tuple(waivers), source=doc.file,
                     digest="sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest())


def parse_waivers(doc: Located, text: str, known_rule_ids: Collection[str] | None = None,
                  max_duration_days: int | None = None) -> WaiverSet:
    """Validate a parsed waivers document and build the set. Raises InputError with every problem."""
    if not isinstance(doc.data, dict):
        raise InputError([doc.problem((), "expected a mapping with version and waivers at the top of the file")])
    known = None if known_rule_ids is None else frozenset(known_rule_ids)
    # Semantic messages first: where the schema complains about the same place (unquoted
    # account ids, dates, short justifications), the semantic message is the clearer one.
    semantic = _semantic_problems(doc, known, max_duration_days)
    covered = {(p.line, p.col) for p in semantic}
    view = Located(file=doc.file, data=schema_view(doc.data), values=doc.values, keys=doc.keys, raw=doc.raw)
    schema = [p for p in schema_problems("waivers", view) if (p.line, p.col) not in covered]
    problems = _drop_echoes(semantic + schema, doc)
    if problems:
        raise InputError(problems)
    return _build(doc, text)


def waivers_from_text(text: str, name: str = "<waivers>", known_rule_ids: Collection[str] | None = None,
                      max_duration_days: int | None = None) -> WaiverSet:
    """Validate and build waivers from text in memory (`name` is used in messages)."""
    return parse_waivers(load_yaml_text(text, name), text, known_rule_ids, max_duration_days)


def load_waivers(path: Path | str, known_rule_ids: Collection[str] | None = None,
                 max_duration_days: int | None = None) -> WaiverSet:
    """Read, validate and build a waivers file.

    `known_rule_ids`: when given, every rule id must be one of them and every glob must
    match at least one. `max_duration_days`: the longest a waiver may last (default: one
    calendar year after `created`).
    """
    p = Path(path)
    text = read_text(p)
    return waivers_from_text(text, str(p), known_rule_ids, max_duration_days)
