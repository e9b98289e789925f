"""Evaluation partitioned by connectivity: components of account-regions, evaluated apart.

An organisation's account-regions mostly do not see each other. Those that do are joined
by what the records of one say about another: a transit gateway attachment or peering of
another account or region, a VPC peering connection (also between regions), a subnet or
VPC shared with the account (AWS RAM), a security group rule naming another account's
group, and so on. `components` finds those links generically (union-find over account-regions):

- any object in a record's response that names an owning account (``OwnerId``,
  ``TransitGatewayOwnerId``, ``ResourceOwnerId``, ``UserId``) other than the record's own, or
  a ``Region`` other than the record's, joins the record's account-region to that (account,
  region);
- a transit gateway, transit gateway attachment or VPC peering connection id seen in the
  records of two account-regions joins them (a transit gateway peering attachment has the
  same id on both sides, and names only the peer's account, not its region).

Being generic, it over-joins rather than misses a link: a component is never smaller
than what the engine can look at from one of its resources.

`evaluate_partitioned` evaluates each component on its own records (plus its accounts'
account-wide ``_global`` records, and the organisation's ``_discovery`` records where an
``organization`` gap is filed) and merges the `Evaluation`s so that the result is the
evaluation of the whole model, byte for byte. The run-wide parts are settled once, at the
merge, from what the components return (never per component):

- the expected account-regions (`engine.expected_regions`): each component gets its own
  share; the run's set is their union;
- the place scope gaps (a `scope.vpc_ids` entry that is no VPC anywhere, a selector that
  selects nothing anywhere, account-regions the config names that the snapshot lacks):
  from the VPCs of every component, given to every rule once;
- a user rule whose `where` excluded every in-scope resource: judged over all
  components' candidates, its message built from their findings in model order;
- "nothing assessed": judged over the merged findings.

Counts (in scope, out of scope, undecided) are summed, waivers used are united, findings and
gaps are sorted as the engine sorts them. tests/test_partition.py proves the identity on
estates with cross-account peering and transit gateways.

Memory: a worker holds one component's records, model and findings at a time, so memory per
worker is bounded by the largest component (docs/distributed.md).
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from auditor.config import Scope
from auditor.findings import Finding
from auditor.model import build_model
from auditor.model.types import Model, Resource
from auditor.rules.engine import ORGANIZATION, Engine, Evaluation, Gap, account_problems, expected_regions
from auditor.rules.packs import PackSet, Rule
from auditor.rules.scope import ScopeGap, ScopeIndex, selection_gaps
from auditor.rules.waivers import WaiverSet
from auditor.snapshot.records import DISCOVERY_REGION, GLOBAL_REGION, CallRecord

Place = tuple[str, str]   # (account, region)

_NOT_REGIONS = frozenset({GLOBAL_REGION, DISCOVERY_REGION})
# Keys of response objects that name the account owning what the object describes.
_OWNER_KEYS = ("OwnerId", "TransitGatewayOwnerId", "ResourceOwnerId", "UserId")
# Keys whose value is the id of a link between networks: the same id seen in two places
# joins them (a transit gateway peering attachment has one id on both sides, and says
# only the peer's account, not its region).
_LINK_IDS = frozenset({"TransitGatewayId", "TransitGatewayAttachmentId", "VpcPeeringConnectionId"})
_ACCOUNT = re.compile(r"^\d{12}$")
_VPC_LISTING = ("ec2", "DescribeVpcs")


@dataclass(frozen=True)
class Component:
    """Account-regions evaluated together, and what joined them."""

    places: tuple[Place, ...]              # sorted
    links: tuple[tuple[Place, Place, str], ...] = ()   # (from, to, "service:Operation") that joined them

    @property
    def accounts(self) -> frozenset[str]:
        return frozenset(a for a, _ in self.places)


class _Union:
    def __init__(self) -> None:
        self.parent: dict[Place, Place] = {}

    def find(self, p: Place) -> Place:
        self.parent.setdefault(p, p)
        root = p
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[p] != root:   # path compression
            self.parent[p], p = root, self.parent[p]
        return root

    def join(self, a: Place, b: Place) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _named_places(value: Any, region: str) -> Iterator[Place]:
    """Every (account, region) a response object names as an owner, with the object's own
    ``Region`` when it has one (peering sides, transit gateway peering)."""
    if isinstance(value, dict):
        where = value.get("Region")
        where = where if isinstance(where, str) and where else region
        owners = [value[k] for k in _OWNER_KEYS if isinstance(value.get(k), str) and _ACCOUNT.match(value[k])]
        for owner in owners:
            yield owner, where
        for v in value.values():
            if isinstance(v, (dict, list)):
                yield from _named_places(v, region)
    elif isinstance(value, list):
        for v in value:
            yield from _named_places(v, region)


def _named_ids(value: Any) -> Iterator[str]:
    """The ids of links between networks a response names (`_LINK_IDS`)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in _LINK_IDS and isinstance(v, str) and v:
                yield v
            elif isinstance(v, (dict, list)):
                yield from _named_ids(v)
    elif isinstance(value, list):
        for v in value:
            yield from _named_ids(v)


def record_links(rec: CallRecord) -> Iterator[tuple[Place, Place, str]]:
    """The links a record makes from its own account-region to the places it names as owners."""
    here = (rec.account, rec.region)
    if rec.region in _NOT_REGIONS:
        return
    seen: set[Place] = set()
    for page in rec.pages:
        for place in _named_places(dict(page), rec.region):
            if place != here and place not in seen:
                seen.add(place)
                yield here, place, f"{rec.service}:{rec.operation}"


def record_ids(rec: CallRecord) -> set[str]:
    """The link ids (transit gateways, their attachments, peering connections) a record names."""
    return {i for page in rec.pages for i in _named_ids(dict(page))} if rec.region not in _NOT_REGIONS else set()


def planned_places(manifest: Mapping[str, Any] | None) -> tuple[Place, ...]:
    """The account-regions the manifest says the run meant to cover (its accounts' regions
    and its tasks), as `engine.expected_regions` counts them."""
    return expected_regions(Model(), manifest)


def components(records: Iterable[CallRecord], manifest: Mapping[str, Any] | None = None) -> list[Component]:
    """The account-regions of `records` and `manifest` grouped by connectivity (see the module
    doc), sorted by their first place. A place another names but that holds no record and is
    not planned (an account outside the snapshot) still joins those that name it."""
    union = _Union()
    places: set[Place] = set(planned_places(manifest))
    links: list[tuple[Place, Place, str]] = []
    seen: dict[str, dict[Place, str]] = {}   # link id -> where it was seen, by which call (the least)
    for rec in records:
        if rec.region in _NOT_REGIONS:
            continue
        here = (rec.account, rec.region)
        places.add(here)
        for link in record_links(rec):
            links.append(link)
            union.join(link[0], link[1])
        call = f"{rec.service}:{rec.operation}"
        for link_id in record_ids(rec):
            where = seen.setdefault(link_id, {})
            where[here] = min(where.get(here, call), call)
    for link_id, where in seen.items():   # one gateway, attachment or peering seen from two places
        ordered = sorted(where)
        for there in ordered[1:]:
            links.append((ordered[0], there, f"{where[there]} {link_id}"))
            union.join(ordered[0], there)
    groups: dict[Place, list[Place]] = {}
    for p in sorted(places):
        groups.setdefault(union.find(p), []).append(p)
    found: dict[Place, list[tuple[Place, Place, str]]] = {}
    for link in sorted(set(links)):
        found.setdefault(union.find(link[0]), []).append(link)
    return sorted((Component(tuple(ps), tuple(found.get(root, ()))) for root, ps in groups.items()),
                  key=lambda c: c.places[0])


def component_records(records: Sequence[CallRecord], component: Component) -> list[CallRecord]:
    """The records a component is evaluated on: those of its places, its accounts'
    account-wide (``_global``, ``_discovery``) records (their failures say why an account
    could not be reached; they make no resources), and the organisation's discovery
    records where an ``organization`` gap is filed."""
    places, accounts = set(component.places), component.accounts
    org = ORGANIZATION in accounts
    return [r for r in records
            if (r.account, r.region) in places
            or (r.region in _NOT_REGIONS and (r.account in accounts or (org and r.region == DISCOVERY_REGION)))]


# -- one component ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleCandidates:
    """What one component saw of a rule that a `where` may have excluded everywhere."""

    candidates: int                       # in-scope resources of its type here
    excluded: tuple[Finding, ...] | None  # its findings here when all NOT_APPLICABLE, else None


@dataclass(frozen=True)
class ComponentResult:
    """One component's evaluation, with the run-wide parts left to the merge."""

    evaluation: Evaluation
    expected: tuple[Place, ...]
    vpcs: tuple[Resource, ...]             # for the run's place scope gaps
    vpcs_listed: frozenset[Place]          # where ec2:DescribeVpcs was collected
    candidates: Mapping[str, RuleCandidates] = field(default_factory=dict)


class _ComponentEngine(Engine):
    """The engine over one component: place scope gaps, user rules that matched nothing and
    "nothing assessed" are the run's, settled at the merge."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.place_gaps = []
        self.candidates: dict[str, RuleCandidates] = {}

    def _matched_nothing(self, rule: Rule, found: Sequence[Finding], candidates: int) -> list[Finding]:
        excluded = tuple(found) if all(f.status == "NOT_APPLICABLE" for f in found) else None
        self.candidates[rule.id] = RuleCandidates(candidates, excluded)
        return []

    def _final_scope_gaps(self, findings: list[Finding], in_scope: Mapping[str, int]) -> tuple[ScopeGap, ...]:
        return ()


@dataclass(frozen=True)
class RunInputs:
    """What every component is evaluated with (the same for all)."""

    packs: PackSet
    scope: Scope
    today: date
    waivers: WaiverSet | None
    manifest: Mapping[str, Any]
    problems: Mapping[str, str]


def run_inputs(packs: PackSet, scope: Scope, today: date, waivers: WaiverSet | None,
               manifest: Mapping[str, Any]) -> RunInputs:
    """The run-wide inputs; the manifest is kept only for what the evaluation reads of it (its
    ``files``, one entry per record, go with each component's own records: `Job`)."""
    kept = {k: manifest[k] for k in ("regions", "accounts", "tasks", "account_problems") if k in manifest}
    return RunInputs(packs, scope, today, waivers, kept, account_problems(manifest))


@dataclass(frozen=True)
class Job:
    """One component to evaluate: its records, its places, and the manifest's ``files``
    entries of its records (None when the manifest has none)."""

    records: Sequence[CallRecord]
    places: Sequence[Place]
    files: Mapping[str, str] | None = None


def job(records: Sequence[CallRecord], component: Component, files: Mapping[str, str] | None) -> Job:
    """The component's `Job` (its records as `component_records` chooses them)."""
    mine = component_records(records, component)
    if files is None:
        return Job(mine, component.places)
    kept: dict[str, str] = {}
    for rec in mine:
        base = f"records/{rec.record_id}.json"
        for name in (base, base + ".gz"):
            if name in files:
                kept[name] = files[name]
    return Job(mine, component.places, kept)


def evaluate_component(work: Job, inputs: RunInputs) -> ComponentResult:
    """Evaluate one component."""
    model = build_model(work.records, work.files)
    mine = set(work.places)
    expected = tuple(p for p in expected_regions(model, inputs.manifest) if p in mine)
    engine = _ComponentEngine(model, inputs.packs, inputs.scope, waivers=inputs.waivers, today=inputs.today,
                              expected=expected, account_problems=inputs.problems)
    evaluation = engine.run()
    listed = frozenset(p for p in expected if model.coverage.collected(p[0], p[1], *_VPC_LISTING))
    return ComponentResult(evaluation, expected, model.of("vpc"), listed, dict(engine.candidates))


# -- the merge -------------------------------------------------------------------------------

Uncovered = Callable[[Sequence[Place]], Iterable[ScopeGap]]


def merge(results: Sequence[ComponentResult], inputs: RunInputs, uncovered: Uncovered = lambda covered: ()) -> Evaluation:
    """The evaluation of the whole model from its components' (see the module doc)."""
    expected = tuple(sorted({p for r in results for p in r.expected}))
    vpcs = tuple(sorted((v for r in results for v in r.vpcs), key=lambda v: (v.account, v.region, v.id)))
    vpc_model = Model(resources={"vpc": vpcs} if vpcs else {})
    # The run's own engine over the VPCs alone: the place scope gaps, the rules that matched
    # nothing and "nothing assessed" come from the engine's own methods.
    run = Engine(vpc_model, inputs.packs, inputs.scope, waivers=inputs.waivers, today=inputs.today, expected=(),
                 account_problems=inputs.problems)
    listed = {p for r in results for p in r.vpcs_listed}
    assessed = [p for p in expected if p[0] not in inputs.problems and p in listed]
    run.place_gaps = [*selection_gaps(vpc_model, ScopeIndex(vpc_model, inputs.scope), assessed),
                      *uncovered(expected)]
    findings: list[Finding] = [f for r in results for f in r.evaluation.findings]
    in_scope: Counter[str] = Counter()
    out_of_scope: Counter[str] = Counter()
    undecided: Counter[str] = Counter()
    for r in results:
        in_scope.update(r.evaluation.in_scope)
        out_of_scope.update(r.evaluation.out_of_scope)
        undecided.update(r.evaluation.scope_undecided)
    for rule in inputs.packs.rules:
        findings.extend(run._scope_gap_findings(rule))   # noqa: SLF001 - the engine's own wording
        seen = [r.candidates[rule.id] for r in results if rule.id in r.candidates]
        if seen and all(s.excluded is not None for s in seen):
            # The engine's order: resources by (account, region, id), each with its for_each items in turn.
            found = list(heapq.merge(*(s.excluded or () for s in seen),
                                     key=lambda f: (f.resource.account, f.resource.region, f.resource.id)))
            findings.extend(run._matched_nothing(rule, found, sum(s.candidates for s in seen)))  # noqa: SLF001
    scope_gaps = run._final_scope_gaps(findings, _typed(in_scope, results))  # noqa: SLF001
    findings.sort(key=Finding.sort_key)
    gaps = sorted((g for r in results for g in r.evaluation.gaps), key=lambda g: (g.account, g.region, g.calls, g.reason))
    return Evaluation(findings=tuple(findings), in_scope=_typed(in_scope, results),
                      out_of_scope=_typed(out_of_scope, results), scope_undecided=_typed(undecided, results),
                      waivers_used=frozenset().union(*(r.evaluation.waivers_used for r in results)),
                      gaps=tuple(gaps), today=inputs.today, rules=inputs.packs.rules, scope_gaps=scope_gaps)


def _typed(counts: Counter[str], results: Sequence[ComponentResult]) -> dict[str, int]:
    """Counts for every resource type a rule reads (zero included), sorted, as the engine gives them."""
    keys = {k for r in results for k in r.evaluation.in_scope}
    return {k: counts.get(k, 0) for k in sorted(keys)}


# -- the whole run ---------------------------------------------------------------------------

Runner = Callable[[Sequence[Job], RunInputs], Iterable[ComponentResult]]


def local_runner(jobs: Sequence[Job], inputs: RunInputs) -> Iterator[ComponentResult]:
    """Evaluate the components one after another in this process."""
    for work in jobs:
        yield evaluate_component(work, inputs)


def evaluate_partitioned(records: Sequence[CallRecord], inputs: RunInputs, *, files: Mapping[str, str] | None = None,
                         uncovered: Uncovered = lambda c: (), runner: Runner = local_runner) -> Evaluation:
    """The evaluation of `records` (the whole snapshot; `files`: its manifest's) component by
    component; the same as `engine.evaluate_rules` over the whole model with `scan`'s expected
    regions and account problems. `runner` evaluates the components (`local_runner`, or the
    Dask engine's)."""
    parts = components(records, inputs.manifest)
    jobs = [job(records, c, files) for c in parts]
    results = list(runner(jobs, inputs))
    if not results:   # an empty snapshot: one empty component keeps the engine's run-wide answers
        results = [evaluate_component(Job((), ()), inputs)]
    return merge(results, inputs, uncovered)


def with_plan_gaps(evaluation: Evaluation, gaps: Iterable[Gap]) -> Evaluation:
    """`evaluation` with a plan run's gaps added, sorted as the scan sorts them."""
    out = sorted((*evaluation.gaps, *gaps), key=lambda g: (g.account, g.region, g.calls, g.reason))
    return replace(evaluation, gaps=tuple(out))
