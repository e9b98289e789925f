"""Which resources are regulated: the VPCs the scope selects, and everything in them.

A resource inherits the scope of its VPC. Resources that belong to no VPC (a Lambda
function outside any VPC, the region's Block Public Access settings, prefix lists) are in
scope when their account and region hold at least one in-scope VPC: they can expose that
account's regulated workloads. With an empty scope, everything collected is in scope.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable

from auditor.config import Scope
from auditor.model.registry import PLACED_BY, TYPES, Computed, Field, Itself, Through, listing
from auditor.model.types import Model, Resource


def vpcs_of(model: Model, resource: Resource) -> tuple[str, ...] | None:
    """The VPC ids a resource belongs to; None when it belongs to no VPC. How they are
    found is its registry entry's `vpc` (auditor/model/registry.py)."""
    entry = TYPES.get(resource.type_name)
    rule = entry.vpc if entry is not None else None
    if isinstance(rule, Field):
        value: Any = getattr(resource, rule.name, None)
        if not value:
            return None
        return (value,) if isinstance(value, str) else tuple(value)
    if isinstance(rule, Itself):
        return (resource.id,)
    if isinstance(rule, Through):
        for via in rule.vias:
            ref = getattr(resource, via.field, None)
            found = model.get(via.type_name, ref, resource.account, resource.region) if ref else None
            if found is not None:
                return vpcs_of(model, found)
        return None
    if isinstance(rule, Computed):
        return rule.fn(resource)
    return None


def placement_unknown(model: Model, resource: Resource) -> str | None:
    """Why the VPC of a resource cannot be told: what places it (a security group rule's
    group, a flow log's VPC, subnet or interface, an Elastic IP's instance or interface) is
    named but not in the model. None when it can be told, or when it belongs to no VPC."""
    through = PLACED_BY.get(resource.type_name)
    if through is None:
        return None
    named = [(ref, via.type_name) for via in through.vias
             for ref in (str(getattr(resource, via.field, None) or ""),)
             if (ref or via.always) and ref.startswith(via.prefix)]
    if not named or vpcs_of(model, resource) is not None:
        return None
    for ref, type_name in named:
        if model.get(type_name, ref, resource.account, resource.region) is None:
            return f"its {type_name.replace('_', ' ')} {ref or '(none)'} is not in the model ({listing(type_name).key})"
    return None


def _placing_fields(resource: Resource) -> frozenset[str] | None:
    """The fields that place a resource in its VPC (None: any field may, for code-computed placement)."""
    entry = TYPES.get(resource.type_name)
    rule = entry.vpc if entry is not None else None
    if isinstance(rule, Field):
        return frozenset({rule.name})
    if isinstance(rule, Through):
        return frozenset(via.field for via in rule.vias)
    if isinstance(rule, Computed):
        return None
    return frozenset()


def _placement_known_after_deploy(resource: Resource) -> str | None:
    """Why a resource's VPC, or whether that VPC is in scope, is known only after deploy (a
    plan's "known after apply" on what places it, or on its VPC's tags), else None."""
    fields = _placing_fields(resource)
    for mark in resource.unknown:
        if fields is None or mark.field in fields:
            return f"what places it in a VPC is unknown before deploy: {mark.reason}"
    if resource.type_name == "vpc" and (why := resource.unknown_reason("tags")) is not None:
        return f"its tags are unknown before deploy: {why}"
    return None


class ScopeIndex:
    """Answers `in_scope(resource)` for one model and one scope, computed once."""

    def __init__(self, model: Model, scope: Scope):
        self.model = model
        self.scope = scope
        self.vpcs = {(v.account, v.region, v.id) for v in model.of("vpc") if scope.selects(v.id, v.tag_map)}
        self.regions = {(a, r) for a, r, _ in self.vpcs}

    def undecided(self, resource: Resource) -> str | None:
        """Why a resource's scope cannot be decided (a scope that selects VPCs, and the
        resource's VPC is unknown because what places it is missing), else None. Such a
        resource is never PASS: it could belong to a VPC out of scope."""
        if self.scope.everything:   # the engine asks per finding: fast
            return None
        if resource.unknown:
            why = _placement_known_after_deploy(resource)
            if why is not None:
                return why
        if resource.type_name not in PLACED_BY:
            return None
        return placement_unknown(self.model, resource)

    def in_scope(self, resource: Resource) -> bool:
        if self.scope.everything:
            return True
        vpcs = vpcs_of(self.model, resource)
        if vpcs is None:
            return (resource.account, resource.region) in self.regions
        return any((resource.account, resource.region, v) in self.vpcs for v in vpcs)


# -- what the scope failed to select ---------------------------------------------------

# Kinds of scope gap (findings.json `scope_gaps[].kind`; docs/findings.md).
SELECTS_NOTHING = "scope_selects_nothing"     # an assessed account-region where the scope selects no VPC
VPC_NOT_FOUND = "vpc_not_found"               # a scope.vpc_ids entry that is in no account-region of the snapshot
RULE_MATCHED_NOTHING = "rule_matched_nothing"  # a user rule whose `where` excluded every in-scope resource
NOT_IN_SNAPSHOT = "not_in_snapshot"           # an account-region the config names that the snapshot does not cover
NOTHING_ASSESSED = "nothing_assessed"         # no PASS, FAIL or WAIVED finding in the whole run
SCOPE_GAP_KINDS = (SELECTS_NOTHING, VPC_NOT_FOUND, RULE_MATCHED_NOTHING, NOT_IN_SNAPSHOT, NOTHING_ASSESSED)


@dataclass(frozen=True)
class ScopeGap:
    """Something the run meant to assess and did not, through no failed call: each makes
    the run incomplete. `account`/`region` are empty when the gap is not in one place (a
    VPC id found nowhere, a rule that matched nothing anywhere)."""

    kind: str
    account: str
    region: str
    reason: str
    suggestions: tuple[str, ...] = ()
    vpc_id: str = ""
    rules: tuple[str, ...] = ()    # the rules not assessed because of it

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "account": self.account, "region": self.region, "vpc_id": self.vpc_id,
                "reason": self.reason, "suggestions": list(self.suggestions), "rules": list(self.rules)}


# How close a name must be to count as a likely typo: one or two characters off in a word
# ("data-clasification", "availabel", "pcii"), not a different word ("pci" and "phi" are 0.67).
CLOSE = 0.8


def close_to(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The choices close to `word` (difflib ratio >= CLOSE), a case-only difference first;
    never `word` itself."""
    pool = sorted(set(choices) - {word})
    same_case = [c for c in pool if c.lower() == word.lower()]
    close = difflib.get_close_matches(word, pool, n=n, cutoff=CLOSE)
    return list(dict.fromkeys(same_case + close))[:n]


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def selector_suggestions(scope: Scope, vpcs: Iterable[Resource], where: str = "") -> tuple[str, ...]:
    """What the scope's tag selector may have meant, from the tags `vpcs` carry: for a key
    no VPC carries, the close keys that exist; for a key that exists, the close values
    (e.g. ``tag key 'data-clasification' is on no VPC: did you mean 'data-classification'?``).
    `where` qualifies "no VPC" (" here"). Empty when nothing is close."""
    values: dict[str, set[str]] = {}
    for vpc in vpcs:
        for key, value in vpc.tag_map.items():
            values.setdefault(key, set()).add(value)
    out: list[str] = []
    for key, wanted in scope.tags:
        if key not in values:
            close = close_to(key, values)
            if close:
                out.append(f"tag key '{key}' is on no VPC{where}: did you mean {_quoted(close)}?")
            continue
        for value in wanted:
            if value in values[key]:
                continue
            close = close_to(value, values[key])
            if close:
                out.append(f"no VPC{where} has {key}={value}: did you mean {_quoted(close)}?"
                           f" (values of {key}: {_quoted(sorted(values[key]))})")
    return tuple(out)


def _describe_selector(scope: Scope) -> str:
    parts = [f"{key} in [{', '.join(values)}]" for key, values in scope.tags]
    if scope.vpc_ids:
        parts.append(f"VPC ids {', '.join(sorted(scope.vpc_ids))}")
    return " or ".join(parts) or "everything"


def selection_gaps(model: Model, index: ScopeIndex, assessed: Iterable[tuple[str, str]]) -> list[ScopeGap]:
    """The scope gaps of the selector itself (docs/findings.md, `scope_gaps`):

    - every `scope.vpc_ids` entry that is no VPC of the snapshot (VPC_NOT_FOUND);
    - each assessed account-region (its VPCs were listed) where the scope selects no VPC
      (SELECTS_NOTHING), when the scope selects no VPC anywhere in the run (a typo in the
      selector: nothing at all is regulated), or when the VPCs there carry a tag close to
      the selector (a near miss, e.g. ``pci`` written ``PCI``). An account-region that
      holds no regulated VPC while others do, with nothing close, is not a gap: the scope
      was applied and found nothing regulated there.
    """
    scope = index.scope
    if scope.everything:
        return []
    gaps: list[ScopeGap] = []
    vpcs = model.of("vpc")
    known = {v.id for v in vpcs}
    for vpc_id in sorted(scope.vpc_ids - known):
        close = close_to(vpc_id, known)
        gaps.append(ScopeGap(VPC_NOT_FOUND, "", "", f"scope.vpc_ids names {vpc_id}, which is no VPC of the "
                             "snapshot (in any account or region): nothing was assessed for it",
                             (f"did you mean {_quoted(close)}?",) if close else (), vpc_id=vpc_id))
    if not scope.tags:
        return gaps   # vpc_ids alone: a listed VPC lives in one place, the others select nothing by design
    by_place: dict[tuple[str, str], list[Resource]] = {}
    for vpc in vpcs:
        by_place.setdefault((vpc.account, vpc.region), []).append(vpc)
    nothing_anywhere = not index.vpcs
    # Selecting nothing anywhere, the tags of every VPC say what the selector may have meant.
    everywhere = selector_suggestions(scope, vpcs) if nothing_anywhere else ()
    for account, region in sorted(set(assessed)):
        if (account, region) in index.regions:
            continue
        here = by_place.get((account, region), [])
        near = everywhere or selector_suggestions(scope, here, " here")
        if not nothing_anywhere and not near:
            continue
        what = "anywhere in the run" if nothing_anywhere else "here"
        reason = (f"the scope ({_describe_selector(scope)}) selects none of the {len(here)} VPC(s) of "
                  f"{account}/{region} (it selects no VPC {what}): nothing there was assessed")
        gaps.append(ScopeGap(SELECTS_NOTHING, account, region, reason, near))
    return gaps


def snapshot_gaps(account_ids: Iterable[str | None], regions: tuple[str, ...] | str,
                  covered: Iterable[tuple[str, str]]) -> list[ScopeGap]:
    """The account-regions a config names that a snapshot does not cover (NOT_IN_SNAPSHOT),
    for ``scan --snapshot S -c CONFIG``: `account_ids` are the config's accounts (None for
    one known only at run time: the default credentials, or Organizations discovery),
    `regions` its regions (``"all"``: decided at run time) and `covered` the (account,
    region) pairs the snapshot meant to cover (`engine.expected_regions`; an account it
    could not read is covered, and reported as not assessed there). What is decided only at
    run time is checked as far as it can be: a named region against every account of the
    snapshot, a named account against every region."""
    pairs = set(covered)
    snap_accounts = sorted({a for a, _ in pairs})
    named = sorted({a for a in account_ids if a})
    accounts = named if named and None not in set(account_ids) else sorted(set(named) | set(snap_accounts))
    wanted = list(regions) if isinstance(regions, tuple) else []
    gaps = []
    for account in accounts:
        if account not in snap_accounts:
            where = wanted or [""]
            for region in where:
                gaps.append(ScopeGap(NOT_IN_SNAPSHOT, account, region,
                                     f"the config names account {account}, which the snapshot does not cover "
                                     f"(it holds {', '.join(snap_accounts) or 'no account'}): nothing there "
                                     "was assessed"))
            continue
        for region in wanted:
            if (account, region) not in pairs:
                held = sorted(r for a, r in pairs if a == account)
                gaps.append(ScopeGap(NOT_IN_SNAPSHOT, account, region,
                                     f"the config names region {region}, which the snapshot does not cover for "
                                     f"account {account} (it holds {', '.join(held) or 'no region'}): nothing "
                                     "there was assessed"))
    return gaps
