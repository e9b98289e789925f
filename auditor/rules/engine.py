"""The engine: rules applied to the in-scope resources of a model.

For every rule and every in-scope resource of its type (and, for a ``for_each`` rule,
every element of its list) the engine gives one finding:

- NOT_APPLICABLE when the rule's `where` is false;
- PASS or FAIL by its `check`;
- WAIVED when an active waiver covers a FAIL, and FAIL "waiver ... expired on DATE" when
  only an expired one does;
- ERROR when the data the rule needs was not collected for the resource's account and
  region, or an attribute it reads is unknown. Missing data is never a PASS.

Whole account-regions are accounted for too: when the calls that list a rule's resource
type failed (or were never attempted, e.g. the account's role could not be assumed) in an
account-region that may hold in-scope VPCs, the rule gets one ERROR finding for resource
``*`` there, naming the failed calls. When the VPCs themselves could not be listed and the
scope selects VPCs, scope cannot be decided there: every rule gets that ERROR and the
region's resources are not evaluated one by one.

Nothing here reads the clock: waivers are judged on the `today` the caller passes (the
scan passes the snapshot's collection date, so re-evaluating old evidence gives the same
answer).
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Iterable, Mapping, Sequence

from auditor.config import Scope
from auditor.findings import EvidenceItem, Finding, ResourceRef
from auditor.model.types import Model, Resource
from auditor.rules.attributes import resolve, to_json, type_calls
from auditor.rules.conditions import Compiled, Evidence, Outcome, compile_condition
from auditor.rules.packs import PackSet, Rule
from auditor.rules.scope import ScopeIndex, vpcs_of
from auditor.rules.waivers import WaiverSet, resource_arn
from auditor.snapshot.records import DISCOVERY_REGION, GLOBAL_REGION

VPC_LISTING = ("ec2", "DescribeVpcs")
_NOT_REGIONS = frozenset({GLOBAL_REGION, DISCOVERY_REGION})


@dataclass(frozen=True)
class Gap:
    """An account-region where a resource type could not be listed, and why."""

    account: str
    region: str
    calls: tuple[str, ...]       # "ec2:DescribeSubnets"
    reason: str
    rules: tuple[str, ...] = ()  # the rules not assessed there for it


@dataclass(frozen=True)
class Evaluation:
    """Everything one evaluation produced."""

    findings: tuple[Finding, ...]
    in_scope: Mapping[str, int]          # resource type -> resources evaluated
    out_of_scope: Mapping[str, int]      # resource type -> resources outside the scope (no findings)
    scope_undecided: Mapping[str, int]   # resource type -> resources in account-regions whose VPCs are unknown
    waivers_used: frozenset[str]         # ids of waivers that decided or matched a failing result
    gaps: tuple[Gap, ...]                # account-regions and types that could not be assessed
    today: date
    rules: tuple[Rule, ...] = field(default=())


def expected_regions(model: Model, manifest: Mapping[str, Any] | None = None) -> tuple[tuple[str, str], ...]:
    """Every (account, region) the run meant to cover: those the collector attempted any call
    in, and those the manifest lists for each account (an account whose role could not be
    assumed still counts, for every region of the run)."""
    pairs = {(a, r) for a, r, _, _ in model.coverage.ok}
    pairs |= {(a, r) for (a, r, _, _), _ in model.coverage.failed}
    if manifest:
        run_regions = [str(r) for r in manifest.get("regions", [])]
        for acct in manifest.get("accounts", []):
            regions = acct.get("regions") or run_regions
            pairs |= {(str(acct.get("id", "")), str(r)) for r in regions}
    return tuple(sorted(p for p in pairs if p[1] not in _NOT_REGIONS and p[0]))


class _Failures:
    """Why calls failed, by (account, region, service, operation)."""

    def __init__(self, model: Model):
        self.model = model
        self.reasons = dict(model.coverage.failed)

    def missing(self, account: str, region: str, calls: Iterable[tuple[str, str]]) -> tuple[str, ...]:
        return tuple(f"{s}:{o}" for s, o in calls if not self.model.coverage.collected(account, region, s, o))

    def reason(self, account: str, region: str, calls: Sequence[str]) -> str:
        parts = []
        for call in calls:
            service, op = call.split(":", 1)
            why = self.reasons.get((account, region, service, op), "not collected")
            parts.append(f"{call} ({why})")
        return "; ".join(parts)


def _text(value: Any) -> str:
    """A resolved value as message text."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items()) if value else "none"
    return str(value)


def render_message(template: str, model: Model, resource: Resource, item: Any = None) -> str:
    """The rule's message with each ``{path}`` field replaced by the value observed."""
    import string

    out: list[str] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        if name == "item" and item is not None:
            out.append(_text(item))
        else:
            out.append(_text(to_json(resolve(model, resource, name).value)))
    return "".join(out)


def _evidence(items: Iterable[Evidence]) -> tuple[EvidenceItem, ...]:
    return tuple(EvidenceItem(path=e.path, observed=e.observed,
                              expected=e.expected + (f" ({e.note})" if e.note else ""),
                              holds=e.holds, sources=e.sources)
                 for e in items)


def _ref(model: Model, resource: Resource) -> ResourceRef:
    vpcs = vpcs_of(model, resource)
    return ResourceRef(type=resource.type_name, id=resource.id, account=resource.account, region=resource.region,
                       arn=resource_arn(resource) or "", vpc_id=",".join(vpcs) if vpcs else "")


class Engine:
    """Evaluates one pack set over one model; `run` returns the `Evaluation`."""

    def __init__(self, model: Model, packs: PackSet, scope: Scope, *, waivers: WaiverSet | None = None,
                 today: date, expected: Iterable[tuple[str, str]] | None = None,
                 account_problems: Mapping[str, str] | None = None):
        self.model = model
        self.packs = packs
        self.scope = scope
        self.waivers = waivers or WaiverSet()
        self.today = today
        self.expected = tuple(sorted(set(expected if expected is not None else expected_regions(model))))
        self.account_problems = dict(account_problems or {})
        self.index = ScopeIndex(model, scope)
        self.failures = _Failures(model)
        self.used: set[str] = set()
        # Account-regions whose VPCs are unknown: with a VPC-selecting scope nothing there can be placed.
        self.undecided = set() if scope.everything else {
            (a, r) for a, r in self.expected if self.failures.missing(a, r, [VPC_LISTING])}

    # -- scope ---------------------------------------------------------------------------

    def _partition(self, type_name: str) -> tuple[list[Resource], int, int]:
        inside: list[Resource] = []
        outside = undecided = 0
        for r in self.model.of(type_name):
            if (r.account, r.region) in self.undecided:
                undecided += 1
            elif self.index.in_scope(r):
                inside.append(r)
            else:
                outside += 1
        return inside, outside, undecided

    def _relevant(self, account: str, region: str) -> bool:
        """Whether an account-region may hold in-scope resources."""
        return (self.scope.everything or (account, region) in self.index.regions
                or (account, region) in self.undecided)

    # -- findings -------------------------------------------------------------------------

    def _gaps(self, rule: Rule) -> list[tuple[Finding, Gap]]:
        calls = type_calls(rule.resource)
        out = []
        for account, region in self.expected:
            if (account, region) in self.undecided:
                missing = self.failures.missing(account, region, [VPC_LISTING, *calls])
                what = "scope could not be decided (the VPCs could not be listed)"
            else:
                missing = self.failures.missing(account, region, calls)
                what = f"{rule.resource} resources could not be listed"
            if not missing or not self._relevant(account, region):
                continue
            reason = self.account_problems.get(account) or self.failures.reason(account, region, missing)
            gap = Gap(account, region, missing, reason)
            ref = ResourceRef(type=rule.resource, id="*", account=account, region=region)
            message = f"not assessed in {account}/{region}: {what}: {reason}"
            evidence = tuple(EvidenceItem(path=call, observed=None, expected="collected", holds=False)
                             for call in missing)
            out.append((Finding(rule.id, rule.severity, "ERROR", ref, message, evidence), gap))
        return out

    def _one(self, rule: Rule, prepared: "_Prepared", resource: Resource, ref: ResourceRef) -> Finding:
        item_text, paths = prepared.item_text, prepared.paths
        undecided = self.index.undecided(resource)
        if undecided:
            return Finding(rule.id, rule.severity, "ERROR", ref,
                           "not assessed: scope could not be decided: " + undecided, item=item_text, paths=paths)
        if prepared.where is not None:
            applies = prepared.where(self.model, resource)
            if applies.status == "fail":
                return Finding(rule.id, rule.severity, "NOT_APPLICABLE", ref,
                               "not applicable: " + _why(applies), _evidence(applies.evidence), item=item_text,
                               paths=paths)
            if applies.status == "error":
                return Finding(rule.id, rule.severity, "ERROR", ref,
                               "not assessed: applicability could not be decided: " + "; ".join(applies.problems),
                               _evidence(applies.evidence), item=item_text, paths=paths)
        out: Outcome = prepared.check(self.model, resource)
        evidence = _evidence(out.evidence)
        if out.status == "pass":
            return Finding(rule.id, rule.severity, "PASS", ref, rule.title, evidence, item=item_text, paths=paths)
        if out.status == "error":
            return Finding(rule.id, rule.severity, "ERROR", ref, "not assessed: " + "; ".join(out.problems),
                           evidence, item=item_text, paths=paths)
        message = render_message(rule.message, self.model, resource, prepared.item)
        decision = self.waivers.match_resource(rule.id, resource, self.today) if self.waivers else None
        if decision is None:
            return Finding(rule.id, rule.severity, "FAIL", ref, message, evidence, item=item_text, paths=paths)
        self.used.update(decision.matched_ids)
        w = decision.waiver
        waiver = {"id": w.id, "status": decision.status, "approver": w.approver, "ticket": w.ticket,
                  "created": w.created.isoformat(), "expires": w.expires.isoformat(),
                  "justification": w.justification, "compensating_control": w.compensating_control,
                  "also_matched": list(decision.others)}
        return Finding(rule.id, rule.severity, decision.result, ref, f"{message} [{decision.message}]", evidence,
                       waiver=waiver, item=item_text, paths=paths)

    def run(self) -> Evaluation:
        # The evaluation makes millions of short-lived objects and no reference cycles: the
        # cyclic collector would only rescan the model again and again (measured: a sixth
        # of the time at 100k resources). It is switched back on afterwards.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if enabled:
                gc.enable()

    def _run(self) -> Evaluation:
        findings: list[Finding] = []
        gaps: list[tuple[Gap, str]] = []
        in_scope: Counter[str] = Counter()
        out_of_scope: Counter[str] = Counter()
        undecided: Counter[str] = Counter()
        partitions: dict[str, tuple[list[Resource], list[ResourceRef]]] = {}
        rules = self.packs.rules
        for rule in rules:
            if rule.resource not in partitions:
                inside, outside, unknown = self._partition(rule.resource)
                partitions[rule.resource] = (inside, [_ref(self.model, r) for r in inside])
                in_scope[rule.resource], out_of_scope[rule.resource] = len(inside), outside
                undecided[rule.resource] = unknown
            for finding, gap in self._gaps(rule):
                findings.append(finding)
                gaps.append((gap, rule.id))
            inside, refs = partitions[rule.resource]
            if not inside:
                continue
            prepared = [_prepare(rule, item) for item in (rule.items if rule.items is not None else (None,))]
            for resource, ref in zip(inside, refs):
                for prep in prepared:
                    findings.append(self._one(rule, prep, resource, ref))
        findings.sort(key=Finding.sort_key)
        by_place: dict[Gap, set[str]] = {}
        for gap, rule_id in gaps:
            by_place.setdefault(gap, set()).add(rule_id)
        unique_gaps = tuple(sorted((replace(g, rules=tuple(sorted(ids))) for g, ids in by_place.items()),
                                   key=lambda g: (g.account, g.region, g.calls, g.reason)))
        return Evaluation(findings=tuple(findings), in_scope=dict(sorted(in_scope.items())),
                          out_of_scope=dict(sorted(out_of_scope.items())),
                          scope_undecided=dict(sorted(undecided.items())),
                          waivers_used=frozenset(self.used), gaps=unique_gaps, today=self.today, rules=rules)


@dataclass(frozen=True)
class _Prepared:
    """A rule compiled for one for_each element (or for all, without for_each)."""

    check: Compiled
    where: Compiled | None
    item: Any
    item_text: str | None
    paths: tuple[str, ...]


def _prepare(rule: Rule, item: Any) -> _Prepared:
    params = dict(rule.param_values)
    if rule.items is not None:
        params["item"] = item
    where = rule.where_data
    return _Prepared(check=compile_condition(rule.check_data, rule.resource, params),
                     where=compile_condition(where, rule.resource, params) if where is not None else None,
                     item=item, item_text=None if rule.items is None else _text(item), paths=_rule_paths(rule))


def _rule_paths(rule: Rule) -> tuple[str, ...]:
    return tuple(sorted({leaf.attr for leaf in rule.leaves()}))


def _why(outcome: Outcome) -> str:
    failed = [e for e in outcome.evidence if e.holds is False] or list(outcome.evidence)
    return "; ".join(f"{e.path} is {_text(e.observed)}, where the rule applies when it {e.expected}"
                     for e in failed)


def evaluate_rules(model: Model, packs: PackSet, scope: Scope, *, today: date, waivers: WaiverSet | None = None,
                   expected: Iterable[tuple[str, str]] | None = None,
                   account_problems: Mapping[str, str] | None = None) -> Evaluation:
    """Apply every rule of `packs` to the in-scope resources of `model` (see the module doc)."""
    return Engine(model, packs, scope, waivers=waivers, today=today, expected=expected,
                  account_problems=account_problems).run()
