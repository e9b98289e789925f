"""The engine: rules applied to the in-scope resources of a model.

For every rule and every in-scope resource of its type (and, for a ``for_each`` rule,
every element of its list) the engine gives one finding:

- NOT_APPLICABLE when the rule's `where` is false;
- PASS or FAIL by its `check`;
- WAIVED when an active waiver covers a FAIL, and FAIL "waiver ... expired on DATE" when
  only an expired one does;
- ERROR when the data the rule needs was not collected for the resource's account and
  region, or an attribute it reads is unknown. Missing data is never a PASS.

Per-resource calls (eks DescribeCluster per cluster, DescribeVpcAttribute per VPC ...)
are accounted per resource: one that failed for some resources only makes those resources
ERROR, each with its id and ARN (`_item_gap_findings` for those the model lacks, such as an
EKS cluster known only by name; attribute resolution for the others), and leaves their
neighbours assessed; no ``*`` finding is made when the listing succeeded.

Nothing assessed is never compliant: the scope gaps (auditor/rules/scope.py) give every
rule an ERROR where the scope selected nothing (a typo'd tag selector, a `vpc_ids` entry
that is no VPC, an account-region the config names that the snapshot lacks); a user
rule whose `where` excluded every in-scope resource gets an ERROR of its own; and a run
with no PASS, FAIL or WAIVED at all records a `nothing_assessed` gap. Each is in
`Evaluation.scope_gaps`, and each makes the run incomplete.

Whole account-regions are accounted for too: when the calls that list a rule's resource
type failed (or were never attempted, e.g. the account's role could not be assumed) in an
account-region that may hold in-scope VPCs, the rule gets one ERROR finding for resource
``*`` there, naming the failed calls and why they failed. When the VPCs themselves could
not be listed and the scope selects VPCs, scope cannot be decided there: every rule gets
that ERROR and the region's resources are not evaluated one by one. An account that could
not be reached at all (no credentials, an expired SSO token, AssumeRole refused,
organization discovery failed) is such an account-region in every region the run meant to
cover, under the account id ``unknown`` (or ``organization``) when its id is not known.

Every gap is also an entry of `Evaluation.gaps` (findings.json ``not_assessed``): one per
unreachable account-region, naming its cause, and one per call that failed in a reached
account-region, naming the call, its error and the rules not assessed because of it
(rules that list resources with it, or read an attribute that needs it on an in-scope
resource there). A failed call that no rule needs is still an entry, with no rules.

Nothing here reads the clock: waivers are judged on the `today` the caller passes (the
scan passes the snapshot's collection date, so re-evaluating old evidence gives the same
answer).
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

from auditor.collect.catalog import regional_calls
from auditor.config import Scope
from auditor.findings import EvidenceItem, Finding, ResourceRef
from auditor.model.types import Model, Resource
from auditor.rules.attributes import ITEM_TYPES, attribute_info, resolve, to_json, type_calls
from auditor.rules.conditions import Compiled, Evidence, Outcome, compile_condition
from auditor.rules.packs import Instance, PackSet, Rule
from auditor.rules.scope import (
    NOTHING_ASSESSED, RULE_MATCHED_NOTHING, SELECTS_NOTHING, VPC_NOT_FOUND, ScopeGap, ScopeIndex,
    close_to, selection_gaps, vpcs_of,
)
from auditor.rules.waivers import WaiverSet, partition_for, resource_arn
from auditor.snapshot.records import DISCOVERY_REGION, GLOBAL_REGION

VPC_LISTING = ("ec2", "DescribeVpcs")
# The evidence path of the ERROR findings a place's scope gap gives every rule (`is_place_gap`).
_PLACE_GAP_PATHS = frozenset({"scope", "scope.vpc_ids", "snapshot", "run"})
_NOT_REGIONS = frozenset({GLOBAL_REGION, DISCOVERY_REGION})
# The account a gap is filed under when its id is not known: the caller's own account when
# sts:GetCallerIdentity failed (e.g. no credentials), and the accounts of an organization
# whose discovery failed.
UNKNOWN_ACCOUNT = "unknown"
ORGANIZATION = "organization"


@dataclass(frozen=True)
class Gap:
    """A gap: an account-region (or one call in it) that could not be collected, why, and the
    rules left unassessed by it (findings.json ``not_assessed``)."""

    account: str
    region: str
    calls: tuple[str, ...]       # "ec2:DescribeSubnets"
    reason: str
    rules: tuple[str, ...] = ()  # the rules not assessed there because of it


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
    scope_gaps: tuple[ScopeGap, ...] = field(default=())   # what the run meant to assess and did not


def account_id(value: Any) -> str:
    """An account id as gaps name it: ``unknown`` when the collector never learnt it."""
    return str(value or "") or UNKNOWN_ACCOUNT


def expected_regions(model: Model, manifest: Mapping[str, Any] | None = None) -> tuple[tuple[str, str], ...]:
    """Every (account, region) the run meant to cover: those the collector attempted any call
    in, those the manifest lists for each account, and those of its tasks (an account whose
    role could not be assumed, or whose credentials were missing, still counts, for every
    region it was meant to be collected in)."""
    pairs = {(a, r) for a, r, _, _ in model.coverage.ok}
    pairs |= {(a, r) for (a, r, _, _), _ in model.coverage.failed}
    if manifest:
        run_regions = [str(r) for r in manifest.get("regions", [])]
        for acct in manifest.get("accounts", []):
            regions = acct.get("regions") or run_regions
            pairs |= {(account_id(acct.get("id")), str(r)) for r in regions}
        pairs |= {(account_id(t.get("account")), str(t.get("region", ""))) for t in manifest.get("tasks", [])}
    return tuple(sorted(p for p in pairs if p[1] and p[1] not in _NOT_REGIONS and p[0]))


def account_problems(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Account id -> why none of its regions could be collected (the manifest's
    ``account_problems`` and each account's ``problem``)."""
    out = {account_id(p.get("account")): str(p.get("message", "")) for p in manifest.get("account_problems", [])
           if p.get("message")}
    out.update({account_id(a.get("id")): str(a["problem"]) for a in manifest.get("accounts", []) if a.get("problem")})
    return out


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
                              holds=e.holds, sources=e.sources, explanation=e.explanation)
                 for e in items)


def _ref(model: Model, resource: Resource) -> ResourceRef:
    vpcs = vpcs_of(model, resource)
    origin = resource.declared_at
    declared = None if origin is None else {
        "kind": origin.kind, "file": origin.file, "address": origin.address, "line": origin.line,
        "attributes": dict(origin.attributes)}
    return ResourceRef(type=resource.type_name, id=resource.id, account=resource.account, region=resource.region,
                       arn=resource_arn(resource) or "", vpc_id=",".join(vpcs) if vpcs else "", declared=declared)


class CollectorPaused:
    """A context in which Python's cyclic garbage collector is paused; after it, the
    collector is on again if (and only if) it was on before, whether the block returns or
    raises.

    The evaluation makes millions of short-lived objects and no reference cycles (the model
    and its caches refer to nothing that refers back): the cyclic collector would only
    rescan the model again and again (measured: a sixth of the time at 100k resources),
    while reference counting frees everything it makes. (A class, not a generator: leaving
    a generator-based context allocates after the collector is back on, which starts the
    collection the evaluation's objects are due inside the evaluation instead of after it.)"""

    def __enter__(self) -> None:
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            gc.enable()


class Engine:
    """Evaluates one pack set over one model; `run` returns the `Evaluation`."""

    def __init__(self, model: Model, packs: PackSet, scope: Scope, *, waivers: WaiverSet | None = None,
                 today: date, expected: Iterable[tuple[str, str]] | None = None,
                 account_problems: Mapping[str, str] | None = None, uncovered: Iterable[ScopeGap] = ()):
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
        # Scope gaps known before any rule runs: the selector's (scope.py) and the
        # account-regions the config names that the snapshot lacks (the caller's).
        assessed = [(a, r) for a, r in self.expected
                    if (a, r) not in self.undecided and a not in self.account_problems
                    and not self.failures.missing(a, r, [VPC_LISTING])]
        self.place_gaps = [*selection_gaps(model, self.index, assessed), *uncovered]
        self.builtin = {p.id for p in packs.packs if p.builtin}
        self.rule_gaps: list[ScopeGap] = []

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
        """The rule's ERROR finding for resource ``*`` in each account-region it may apply
        to where its resources could not be listed (or the account not reached)."""
        calls = type_calls(rule.resource)
        out = []
        for account, region in self.expected:
            problem = self.account_problems.get(account, "")
            if (account, region) in self.undecided:
                missing = self.failures.missing(account, region, [VPC_LISTING, *calls])
                what = "scope could not be decided (the VPCs could not be listed)"
            else:
                missing = self.failures.missing(account, region, calls)
                what = f"{rule.resource} resources could not be listed"
            if problem:
                what = "the account could not be assessed"
            if not missing or not self._relevant(account, region):
                continue
            reason = problem or self.failures.reason(account, region, missing)
            gap = Gap(account, region, missing, reason)
            ref = ResourceRef(type=rule.resource, id="*", account=account, region=region)
            message = f"not assessed in {account}/{region}: {what}: {reason}"
            evidence = tuple(EvidenceItem(path=call, observed=None, expected="collected", holds=False)
                             for call in missing)
            out.append((Finding(rule.id, rule.severity, "ERROR", ref, message, evidence), gap))
        return out

    def _not_assessed(self, starred: Iterable[tuple[Gap, str]],
                      placed: Mapping[str, set[tuple[str, str]]]) -> tuple[Gap, ...]:
        """Every gap of the run (see the module doc). `starred`: the ``*`` findings' gaps and
        rule ids; `placed`: rule id -> the account-regions holding its in-scope resources."""
        star_rules: dict[tuple[str, str, str], set[str]] = {}
        for gap, rule_id in starred:
            for call in gap.calls:
                star_rules.setdefault((gap.account, gap.region, call), set()).add(rule_id)
        needs = {rule.id: {f"{s}:{o}" for s, o in _rule_calls(rule)} for rule in self.packs.rules}
        out: list[Gap] = []
        for account, region in self.expected:
            problem = self.account_problems.get(account)
            if problem:
                rules = {r for (a, g, _), ids in star_rules.items() if (a, g) == (account, region) for r in ids}
                out.append(Gap(account, region, self._account_calls(account), problem, tuple(sorted(rules))))
                continue
            for call in self.failures.missing(account, region, _REGIONAL):
                rules = set(star_rules.get((account, region, call), ()))
                rules |= {rid for rid, calls in needs.items()
                          if call in calls and (account, region) in placed.get(rid, ())}
                out.append(Gap(account, region, (call,), self.failures.reason(account, region, [call]),
                               tuple(sorted(rules))))
        return tuple(sorted(out, key=lambda g: (g.account, g.region, g.calls, g.reason)))

    def _with_causes(self, findings: list[Finding]) -> list[Finding]:
        """Each per-resource ERROR finding that names a call which failed in its account-region
        gets that call's error appended (code and message), so that the finding says why, not
        only what is missing."""
        failed: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for (a, r, s, o), why in self.failures.model.coverage.failed:
            failed.setdefault((a, r), []).append((f"{s}:{o}", why))
        if not failed:
            return findings
        out = []
        for f in findings:
            if f.status == "ERROR" and f.resource.id != "*":
                causes = [f"{call}: {why}" for call, why in failed.get((f.resource.account, f.resource.region), ())
                          if call in f.message and why not in f.message]
                if causes:
                    f = replace(f, message=f"{f.message} ({'; '.join(causes)})")
            out.append(f)
        return out

    def _account_calls(self, account: str) -> tuple[str, ...]:
        """The account-level calls that failed for `account` (sts:AssumeRole,
        sts:GetCallerIdentity, ec2:DescribeRegions; organizations:ListAccounts for discovery)."""
        found = {f"{s}:{o}" for (a, r, s, o), _ in self.failures.model.coverage.failed
                 if r in _NOT_REGIONS and (a == account or (account == ORGANIZATION and r == DISCOVERY_REGION))}
        return tuple(sorted(found))

    def _one(self, rule: Rule, prepared: _Prepared, resource: Resource, ref: ResourceRef) -> Finding:
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
        """Evaluate every rule over the model. Python's cyclic garbage collector is paused
        for the evaluation only, and left as it was however it ends (`CollectorPaused`)."""
        with CollectorPaused():
            return self._run()

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
            findings.extend(self._scope_gap_findings(rule))
            findings.extend(self._item_gap_findings(rule))
            inside, refs = partitions[rule.resource]
            if not inside:
                continue
            prepared = [_prepare(rule, instance) for instance in rule.instances]
            first = len(findings)
            for resource, ref in zip(inside, refs, strict=True):
                for prep in prepared:
                    findings.append(self._one(rule, prep, resource, ref))
            findings.extend(self._matched_nothing(rule, findings[first:], len(inside)))
        scope_gaps = self._final_scope_gaps(findings, in_scope)
        findings = self._with_causes(findings)
        findings.sort(key=Finding.sort_key)
        # The account-regions holding in-scope resources of each type, then of each rule.
        where = {t: {(r.account, r.region) for r in inside} for t, (inside, _) in partitions.items()}
        placed = {rule.id: where[rule.resource] for rule in rules}
        unique_gaps = self._not_assessed(gaps, placed)
        return Evaluation(findings=tuple(findings), in_scope=dict(sorted(in_scope.items())),
                          out_of_scope=dict(sorted(out_of_scope.items())),
                          scope_undecided=dict(sorted(undecided.items())),
                          waivers_used=frozenset(self.used), gaps=unique_gaps, today=self.today, rules=rules,
                          scope_gaps=scope_gaps)

    # -- per-resource collection status ---------------------------------------------------

    def _item_gap_findings(self, rule: Rule) -> list[Finding]:
        """An ERROR of `rule` for each resource of its type whose own per-resource call
        failed and that is therefore missing from the model (an EKS cluster is named by
        ListClusters, but known only from its own DescribeCluster): its id and ARN, the call
        and why. Its neighbours, whose calls succeeded, are evaluated as usual; a resource
        that is in the model despite its failed call gets its ERROR from evaluation (the
        call is missing for it alone). With a VPC-selecting scope such a resource's VPC is
        unknown: it is reported wherever its account-region may hold in-scope resources."""
        out = []
        for call in type_calls(rule.resource):
            if ITEM_TYPES.get(call) != rule.resource:
                continue
            for (account, region, service, op), failed in self.model.coverage.failed_items.items():
                if (service, op) != call or not self._relevant(account, region):
                    continue
                for item_id, why in failed.items():
                    if self.model.get(rule.resource, item_id, account, region) is not None:
                        continue
                    ref = ResourceRef(type=rule.resource, id=item_id, account=account, region=region,
                                      arn=item_arn(rule.resource, item_id, account, region))
                    scope = "" if self.scope.everything else "; its VPC, so whether it is in scope, is unknown"
                    message = (f"not assessed: {service}:{op} failed for this {rule.resource} ({why}), so "
                               f"nothing about it is known{scope}")
                    evidence = EvidenceItem(f"{service}:{op}", None, "collected", False)
                    out.append(Finding(rule.id, rule.severity, "ERROR", ref, message, (evidence,)))
        return out

    # -- scope gaps: places and rules where nothing was assessed (docs/findings.md) --------

    def _scope_gap_findings(self, rule: Rule) -> list[Finding]:
        """One ERROR finding of `rule` per scope gap that keeps it from being assessed."""
        out = []
        for gap in self.place_gaps:
            if gap.kind == VPC_NOT_FOUND:
                ref = ResourceRef(type="vpc", id=gap.vpc_id, account="", region="", vpc_id=gap.vpc_id)
                evidence = EvidenceItem("scope.vpc_ids", gap.vpc_id, "names a VPC of the snapshot", False)
                message = f"not assessed: {gap.reason}"
            else:
                ref = ResourceRef(type=rule.resource, id="*", account=gap.account, region=gap.region)
                path = "scope" if gap.kind == SELECTS_NOTHING else "snapshot"  # see _PLACE_GAP_PATHS
                expected = ("selects at least one VPC" if gap.kind == SELECTS_NOTHING
                            else "covers every account and region the config names")
                evidence = EvidenceItem(path, None, expected, False)
                message = f"not assessed in {gap.account}/{gap.region}: {gap.reason}"
            if gap.suggestions:
                message += "; " + "; ".join(gap.suggestions)
            out.append(Finding(rule.id, rule.severity, "ERROR", ref, message, (evidence,)))
        return out

    def _matched_nothing(self, rule: Rule, found: Sequence[Finding], candidates: int) -> list[Finding]:
        """An ERROR when a user pack's rule had in-scope resources of its type and its `where`
        excluded every one: a rule that assessed nothing is more often a mistake (a typo in
        a value: ``eq: availabel``) than a finding. Built-in rules' `where` clauses are
        fixture-tested, and an estate may rightly hold nothing they apply to (e.g. no
        Interface endpoint): their NOT_APPLICABLE stands."""
        if rule.pack in self.builtin or rule.where is None or not found:
            return []
        if any(f.status != "NOT_APPLICABLE" for f in found):
            return []
        why = _exclusion(rule, found)
        reason = (f"its where excluded all {candidates} in-scope {rule.resource} resource(s), so it assessed "
                  f"nothing: {why}")
        self.rule_gaps.append(ScopeGap(RULE_MATCHED_NOTHING, "", "", reason, rules=(rule.id,)))
        ref = ResourceRef(type=rule.resource, id="*", account="", region="")
        evidence = EvidenceItem("where", candidates, "holds for at least one in-scope resource", False)
        return [Finding(rule.id, rule.severity, "ERROR", ref, f"not assessed: rule {rule.id} {reason}", (evidence,))]

    def _final_scope_gaps(self, findings: list[Finding], in_scope: Mapping[str, int]) -> tuple[ScopeGap, ...]:
        """The run's scope gaps, with the rules each affects. When nothing at all was assessed
        (no PASS, FAIL or WAIVED anywhere), a NOTHING_ASSESSED gap, and an ERROR finding
        (added to `findings`) for each rule that has no ERROR of its own to say why."""
        all_rules = tuple(r.id for r in self.packs.rules)
        gaps = [replace(g, rules=all_rules) for g in self.place_gaps] + list(self.rule_gaps)
        if any(f.status in ("PASS", "FAIL", "WAIVED") for f in findings):
            return tuple(gaps)
        held = sum(in_scope.values())
        why = ("no resource a rule applies to is in scope" if not held else
               f"none of the {held} in-scope resource(s) was assessed (every finding is NOT_APPLICABLE or ERROR)")
        reason = f"nothing was assessed: 0 PASS, 0 FAIL, 0 WAIVED over {len(all_rules)} rule(s): {why}"
        explained = {f.rule_id for f in findings if f.status == "ERROR"}
        for rule in self.packs.rules:
            if rule.id not in explained:
                ref = ResourceRef(type=rule.resource, id="*", account="", region="")
                evidence = EvidenceItem("run", 0, "assesses at least one resource", False)
                findings.append(Finding(rule.id, rule.severity, "ERROR", ref, f"not assessed: {reason}", (evidence,)))
        gaps.append(ScopeGap(NOTHING_ASSESSED, "", "", reason, rules=all_rules))
        return tuple(gaps)


@dataclass(frozen=True)
class _Prepared:
    """A rule compiled for one for_each element (or for all, without for_each)."""

    check: Compiled
    where: Compiled | None
    item: Any
    item_text: str | None
    paths: tuple[str, ...]


def _prepare(rule: Rule, instance: Instance) -> _Prepared:
    """One of `rule.instances` compiled: its bound trees, as they are."""
    where = instance.where
    return _Prepared(check=compile_condition(instance.check, rule.resource),
                     where=compile_condition(where, rule.resource) if where is not None else None,
                     item=instance.item, item_text=None if rule.items is None else _text(instance.item),
                     paths=_rule_paths(rule))


def is_place_gap(finding: Finding) -> bool:
    """Whether an ERROR finding stands for a place's scope gap (the scope selected no VPC
    there, a `vpc_ids` entry is no VPC, the snapshot lacks the account-region, the run
    assessed nothing), given to every rule alike, rather than for the rule's own result."""
    return (finding.status == "ERROR" and len(finding.evidence) == 1
            and finding.evidence[0].path in _PLACE_GAP_PATHS)


# ARNs of the resource types a per-resource call creates (no record of their own to read it from).
_ITEM_ARNS = {"eks_cluster": "arn:{partition}:eks:{region}:{account}:cluster/{id}"}


def item_arn(type_name: str, item_id: str, account: str, region: str) -> str:
    """The ARN of a resource known only by id (its own call failed); "" when not known."""
    partition = partition_for(region)
    template = _ITEM_ARNS.get(type_name)
    return template.format(partition=partition, region=region, account=account, id=item_id) if template else ""


def _scalars(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _scalars(v)]
    return [] if isinstance(value, (dict, type(None))) else [_text(value)]


def _exclusion(rule: Rule, found: Sequence[Finding]) -> str:
    """Why a rule's `where` held nowhere, from its NOT_APPLICABLE evidence: what each
    deciding attribute was, and for a value compared with one no resource has, the close
    values that exist (``did you mean 'available'?``)."""
    seen: dict[str, dict[str, None]] = {}
    expected: dict[str, str] = {}
    for f in found:
        for e in f.evidence:
            if e.holds is False:
                seen.setdefault(e.path, {}).update(dict.fromkeys(_scalars(e.observed)))
                expected.setdefault(e.path, e.expected)
    parts = []
    for path, values in seen.items():
        shown = ", ".join(list(values)[:5]) + (" ..." if len(values) > 5 else "")
        parts.append(f"{path} is {shown or 'none'}, where the rule applies when it {expected[path]}")
    hints = []
    for leaf in rule.leaves():
        if leaf.path.startswith("where"):
            args = leaf.arg if isinstance(leaf.arg, (list, tuple)) else [leaf.arg]
            for arg in args:
                if isinstance(arg, str) and leaf.attr in seen and arg not in seen[leaf.attr]:
                    close = close_to(arg, seen[leaf.attr])
                    if close:
                        hints.append(f"{leaf.attr} '{arg}': did you mean {', '.join(repr(c) for c in close)}?")
    return "; ".join(parts + hints) or "no resource met it"


def _rule_paths(rule: Rule) -> tuple[str, ...]:
    return tuple(sorted({leaf.attr for leaf in rule.leaves()}))


_REGIONAL = tuple((s.service, s.operation) for s in regional_calls())


def _rule_calls(rule: Rule) -> tuple[tuple[str, str], ...]:
    """Every collected call a rule's data comes from: the listings of its resource type and
    what each attribute it reads requires."""
    calls = dict.fromkeys(type_calls(rule.resource))
    for path in _rule_paths(rule):
        try:
            calls.update(dict.fromkeys(attribute_info(rule.resource, path).requires))
        except KeyError:  # a path the pack checks refused already; nothing to add
            continue
    return tuple(calls)


def _why(outcome: Outcome) -> str:
    failed = [e for e in outcome.evidence if e.holds is False] or list(outcome.evidence)
    return "; ".join(f"{e.path} is {_text(e.observed)}, where the rule applies when it {e.expected}"
                     for e in failed)


def evaluate_rules(model: Model, packs: PackSet, scope: Scope, *, today: date, waivers: WaiverSet | None = None,
                   expected: Iterable[tuple[str, str]] | None = None,
                   account_problems: Mapping[str, str] | None = None,
                   uncovered: Iterable[ScopeGap] = ()) -> Evaluation:
    """Apply every rule of `packs` to the in-scope resources of `model` (see the module doc).
    `uncovered`: NOT_IN_SNAPSHOT gaps (account-regions the config names that the snapshot
    lacks, from `scope.snapshot_gaps`): each gives every rule an ERROR there."""
    return Engine(model, packs, scope, waivers=waivers, today=today, expected=expected,
                  account_problems=account_problems, uncovered=uncovered).run()
