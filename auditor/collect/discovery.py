"""Which Organizations accounts a discovery run audits: the config's filters on ListAccounts.

`select_accounts` takes the ACTIVE accounts organizations:ListAccounts returned and keeps
those that pass `include`/`exclude` (ids or name globs), are under one of the
`organizational_units` (recursively: ListAccountsForParent and
ListOrganizationalUnitsForParent from each OU named) and whose Organizations tags match
`account_tags` (ListTagsForResource per candidate: for every key, one of its allowed values).

Each call goes through the `call` the collector passes in, which makes it with the caller's
guarded session and records it as evidence, like ListAccounts. Nothing is dropped for want
of an answer: a lookup that fails is said, never read as "no account there". A failed OU
lookup is an organisation-level problem (which accounts are under that OU cannot be
decided: the run is incomplete); an account whose tags could not be read is *undecided*
and the run names it with why.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.config import Discovery
from auditor.snapshot.records import CallRecord

Call = Callable[[str, dict[str, Any]], CallRecord]
"""Makes and records one organizations call: (operation, params) -> its record."""


@dataclass
class Selection:
    """The accounts to audit (ListAccounts items), those whose selection could not be decided
    (item, why), and the organisation-level problems (lookups that failed)."""

    accounts: list[dict[str, Any]] = field(default_factory=list)
    undecided: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _failed(rec: CallRecord) -> str:
    err = rec.error
    assert err is not None
    return f"organizations:{rec.operation} failed: {err.code}: {err.message}"


def _named(item: Mapping[str, Any], patterns: Iterable[str]) -> bool:
    names = (str(item["Id"]), str(item.get("Name", "")))
    return any(fnmatch.fnmatch(n, pat) for pat in patterns for n in names)


def accounts_under(units: Iterable[str], call: Call) -> tuple[set[str], list[str]]:
    """The ids of the accounts under `units` (OU or root ids), recursively, and the problems
    of lookups that failed (each saying which accounts could not be decided)."""
    found: set[str] = set()
    problems: list[str] = []
    queue = list(dict.fromkeys(units))
    seen: set[str] = set()
    while queue:
        parent = queue.pop(0)
        if parent in seen:
            continue
        seen.add(parent)
        rec = call("ListAccountsForParent", {"ParentId": parent})
        if rec.ok:
            found.update(str(a["Id"]) for a in rec.items("Accounts"))
        else:
            problems.append(f"which accounts are in organizational unit {parent} could not be decided: {_failed(rec)}")
        rec = call("ListOrganizationalUnitsForParent", {"ParentId": parent})
        if rec.ok:
            queue.extend(str(ou["Id"]) for ou in rec.items("OrganizationalUnits"))
        else:
            problems.append(f"which accounts are in the organizational units under {parent} could not be decided: "
                            f"{_failed(rec)}")
    return found, problems


def tags_match(tags: Mapping[str, str], selector: Iterable[tuple[str, tuple[str, ...]]]) -> bool:
    """For every key of `selector`, the account carries the tag with one of its allowed values."""
    return all(tags.get(key) in values for key, values in selector)


def select_accounts(listed: Iterable[Mapping[str, Any]], disc: Discovery, call: Call) -> Selection:
    """The accounts of `listed` (ListAccounts items) that `disc` selects; see the module docstring."""
    candidates = [dict(item) for item in sorted(listed, key=lambda a: str(a["Id"]))
                  if item.get("Status", "ACTIVE") == "ACTIVE"
                  and (not disc.include or _named(item, disc.include))
                  and not _named(item, disc.exclude)]
    out = Selection()
    if disc.organizational_units:
        under, out.problems = accounts_under(disc.organizational_units, call)
        candidates = [a for a in candidates if a["Id"] in under]
    if not disc.account_tags:
        out.accounts = candidates
        return out
    for item in candidates:
        rec = call("ListTagsForResource", {"ResourceId": item["Id"]})
        if not rec.ok:
            out.undecided.append((item, f"whether to audit it (account_tags) could not be decided: {_failed(rec)}"))
            continue
        tags = {str(t.get("Key")): str(t.get("Value", "")) for t in rec.items("Tags")}
        if tags_match(tags, disc.account_tags):
            out.accounts.append(item)
    return out
