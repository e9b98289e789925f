"""Testing procedures and population per requirement, for the PDF and HTML reports.

For every framework control of a findings.json document this builds one `ProcedureView`: the
procedure performed (rules/frameworks/procedures/<framework>.yaml: examined, method, decision,
with the framework's status terms filled in), the API calls behind it (findings.json
``rules[].calls`` of the rules citing the control: from code, never from the prose), the
population examined and tested, and the result in the framework's terms with the rules behind it.
`TestingView.sampling` is the report's general "Population and sampling" statement.

Every figure comes from the document: findings per rule and status, the distinct resources they
name, ``run.scope.resources_in_scope``, ``run.accounts``, ``run.regions``, ``not_assessed`` and
``scope_gaps``. "All" is said only when nothing was left out: every in-scope resource of the type
has a result, none is ERROR, no account went unreached, no gap or scope gap touches the rules.
Otherwise the statement says exactly what was not tested. A document written before
``rules[].calls`` existed renders with "the calls are not recorded".

Pure: the same document (and procedures) give the same view; nothing reads the clock. One block
per requirement, built in one pass over the findings (the 10k-finding PDF benchmark).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any
from collections.abc import Mapping, Sequence

from auditor.rules.procedures import Procedures, load_procedures
from auditor.vocabulary import STATUSES

# Resource types as running text: (one, many).
_NOUNS: dict[str, tuple[str, str]] = {
    "vpc": ("VPC", "VPCs"), "subnet": ("subnet", "subnets"), "route_table": ("route table", "route tables"),
    "instance": ("EC2 instance", "EC2 instances"), "network_interface": ("network interface", "network interfaces"),
    "security_group": ("security group", "security groups"),
    "security_group_rule": ("security group rule", "security group rules"),
    "network_acl": ("network ACL", "network ACLs"), "vpc_endpoint": ("VPC endpoint", "VPC endpoints"),
    "db_instance": ("RDS DB instance", "RDS DB instances"), "eks_cluster": ("EKS cluster", "EKS clusters"),
    "elastic_ip": ("Elastic IP address", "Elastic IP addresses"),
    "vpc_block_public_access": ("VPC Block Public Access setting (one per account-region)",
                                "VPC Block Public Access settings (one per account-region)"),
    "load_balancer": ("load balancer", "load balancers"), "lambda_function": ("Lambda function", "Lambda functions"),
    "flow_log": ("flow log", "flow logs"), "nat_gateway": ("NAT gateway", "NAT gateways"),
    "internet_gateway": ("internet gateway", "internet gateways"),
}

NOT_RECORDED = ("The API calls behind this result are not recorded in this findings.json (it was written before "
                "rules[].calls existed); evaluate the snapshot again to record them.")


def noun(type_name: str, count: int) -> str:
    """``subnet``/``subnets`` by `count`; an unknown type by its name with underscores as spaces."""
    one, many = _NOUNS.get(type_name, (type_name.replace("_", " "), type_name.replace("_", " ") + "s"))
    return one if count == 1 else many


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


@dataclass(frozen=True)
class RuleResult:
    """A rule behind a requirement, with its result."""

    id: str
    title: str
    resource: str
    status: str
    counts: Mapping[str, int]
    calls: tuple[str, ...] | None      # None: not recorded in the document

    @property
    def counts_text(self) -> str:
        """``13 PASS, 1 FAIL`` (statuses with findings only), or ``no findings``."""
        return ", ".join(f"{self.counts[s]} {s}" for s in STATUSES if self.counts.get(s)) or "no findings"


@dataclass(frozen=True)
class Population:
    """The population of one resource type behind a requirement."""

    type: str
    in_scope: int | None          # run.scope.resources_in_scope (None: not recorded)
    examined: int                 # distinct resources with a result of the requirement's rules
    untested: int                 # distinct resources with an ERROR result
    places_untested: tuple[str, ...]   # account/region where the whole type could not be listed


@dataclass(frozen=True)
class ProcedureView:
    """One framework requirement: procedure, population, result."""

    framework: str
    control: str
    title: str
    status: str
    term: str
    has_procedure: bool
    examined: str
    method: str
    decision: str
    calls: tuple[str, ...]          # union over the rules, in rule order
    calls_note: str                 # "" or why calls are missing
    populations: tuple[Population, ...]
    population: str                 # the statement
    complete: bool                  # nothing of its population was left untested
    results: int                    # findings of its rules
    rules: tuple[RuleResult, ...]

    @property
    def anchor(self) -> str:
        """An HTML id for the block: ``proc-pci-dss-4-0-1-3-1``."""
        text = f"proc-{self.framework}-{self.control}"
        return "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in text).strip("-")


@dataclass(frozen=True)
class TestingView:
    """Every requirement's procedure block, by framework id and control id, and the general
    statement on population and sampling."""

    blocks: Mapping[str, tuple[ProcedureView, ...]]
    sampling: str
    combination: str = ("A requirement is {FAIL} when any rule behind it fails on any in-scope resource; else "
                        "{ERROR} when any could not be assessed; else {WAIVED} when its failures are covered by active "
                        "waivers; else {PASS} when its rules passed on at least one resource; else {NOT_APPLICABLE}.")
    _index: Mapping[tuple[str, str], ProcedureView] = field(default_factory=lambda: MappingProxyType({}))

    def block(self, framework: str, control: str) -> ProcedureView | None:
        return self._index.get((framework, control))

    def combination_for(self, terms: Mapping[str, str]) -> str:
        """The combination sentence in a framework's terms."""
        text = self.combination
        for status in STATUSES:
            text = text.replace("{" + status + "}", terms.get(status, status))
        return text


@cache
def builtin_procedures() -> Mapping[str, Procedures]:
    """The built-in procedures (rules/frameworks/procedures), loaded once."""
    return MappingProxyType(load_procedures())


@dataclass
class _Tally:
    """What one pass over the findings gathers per (rule, resource type)."""

    resources: set[tuple[str, str, str]] = field(default_factory=set)
    untested: set[tuple[str, str, str]] = field(default_factory=set)
    places: set[str] = field(default_factory=set)      # account/region of "*" ERROR results


def _tallies(findings: Sequence[Any]) -> dict[str, _Tally]:
    out: dict[str, _Tally] = {}
    for f in findings:
        t = out.get(f.rule.id)
        if t is None:
            t = out[f.rule.id] = _Tally()
        r = f.resource
        if r.id == "*":
            t.places.add(f"{r.account}/{r.region}")
            continue
        key = (r.account, r.region, r.id)
        t.resources.add(key)
        if f.status == "ERROR":
            t.untested.add(key)
    return out


def _accounts(document: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(accounts reached, accounts not assessed at all) from run.accounts."""
    reached: list[Mapping[str, Any]] = []
    missed: list[Mapping[str, Any]] = []
    for a in document["run"].get("accounts", []):
        status = a.get("status") or ("not_assessed" if a.get("problem") else "assessed")
        (missed if status == "not_assessed" else reached).append(a)
    return reached, missed


def _where(document: Mapping[str, Any]) -> str:
    reached, _ = _accounts(document)
    regions = list(document["run"].get("regions", []))
    return (f"in {_plural(len(reached), 'account', 'accounts')} × {_plural(len(regions), 'region', 'regions')}"
            + (f" ({', '.join(regions)})" if regions else ""))


def _population_text(pops: Sequence[Population], rules: Sequence[RuleResult], document: Mapping[str, Any],
                     word: str, gaps: Sequence[str], complete: bool) -> str:
    whole: list[Population] = []     # types of which every in-scope resource was examined and tested
    parts: list[str] = []
    for p in pops:
        if complete and p.in_scope is not None and p.in_scope == p.examined > 0:
            whole.append(p)
            continue
        if p.in_scope is None:
            text = f"{p.examined} {noun(p.type, p.examined)} examined (the in-scope count is not recorded)"
        elif p.in_scope == 0 and p.examined == 0:
            text = f"no in-scope {noun(p.type, 2)} (nothing to examine)"
        else:
            text = f"{p.examined} of the {p.in_scope} in-scope {noun(p.type, p.in_scope)} examined"
            if p.examined < p.in_scope:
                text += f" ({p.in_scope - p.examined} without a result from these rules)"
        if p.untested:
            text += f"; {p.untested} of them could not be tested (see Not assessed)"
        if p.places_untested:
            text += (f"; none listed in {', '.join(p.places_untested)} (the calls failed there: nothing was tested, "
                     "see Not assessed)")
        parts.append(text)
    if len(whole) == 1:
        n, kind = whole[0].examined, whole[0].type
        parts.insert(0, f"the only in-scope {noun(kind, 1)} examined and tested" if n == 1 else
                     f"all {n} in-scope {noun(kind, n)} examined and tested")
    elif whole:
        parts.insert(0, "all in-scope resources of the rules' types examined and tested: "
                     + ", ".join(f"{p.examined} {noun(p.type, p.examined)}" for p in whole))
    results = sum(sum(r.counts.values()) for r in rules)
    tested = Counter[str]()
    for r in rules:
        tested.update(r.counts)
    statuses = ", ".join(f"{tested[s]} {s}" for s in STATUSES if tested.get(s)) or "none"
    text = "; ".join(parts) + f", {_where(document)}. "
    text = text[:1].upper() + text[1:]
    word = word[:1].lower() + word[1:]
    text += (f"No sampling: each rule behind this {word} was evaluated on every in-scope resource of its "
             f"type{'' if complete else ' that could be read'} ({_plural(results, 'result', 'results')}: {statuses}).")
    _, missed = _accounts(document)
    if missed:
        text += " Not examined: " + "; ".join(
            f"account {a.get('id', '')}" + (f" ({a.get('detail') or a.get('problem')})" if a.get("detail") or a.get("problem") else "")
            for a in missed) + "."
    if gaps:
        text += " Not tested: " + "; ".join(gaps) + " (see Not assessed)."
    return text


def _gaps_for(rule_ids: set[str], document: Mapping[str, Any]) -> list[str]:
    out = []
    for g in document.get("not_assessed", []):
        hit = sorted(rule_ids & set(g.get("rules", [])))
        if hit:
            calls = ", ".join(g.get("calls", [])) or "the account's calls"
            out.append(f"{g.get('account', '')}/{g.get('region', '')} ({calls} failed) for {', '.join(hit)}")
    for g in document.get("scope_gaps", []):
        rules = set(g.get("rules", []))
        hit = sorted(rule_ids & rules) if rules else []
        if hit or not rules:
            place = "/".join(x for x in (g.get("account", ""), g.get("region", "")) if x)
            out.append(f"{place + ': ' if place else ''}{g.get('reason', 'nothing was assessed')}"
                       + (f" for {', '.join(hit)}" if hit else ""))
    return out


def _calls(rules: Sequence[RuleResult]) -> tuple[tuple[str, ...], str]:
    calls: dict[str, None] = {}
    unrecorded = []
    for r in rules:
        if r.calls is None:
            unrecorded.append(r.id)
        else:
            calls.update(dict.fromkeys(r.calls))
    if not unrecorded:
        return tuple(calls), ""
    if not calls:
        return (), NOT_RECORDED
    return tuple(calls), f"The API calls of {', '.join(unrecorded)} are not recorded in this findings.json."


def testing_view(document: Mapping[str, Any], frameworks: Sequence[Any], findings: Sequence[Any],
                 procedures: Mapping[str, Procedures] | None = None) -> TestingView:
    """The procedure blocks of every control of `frameworks` (the report model's FrameworkViews)
    from `document` (findings.json) and `findings` (its FindingViews); `procedures` defaults to the
    built-in ones."""
    procs = builtin_procedures() if procedures is None else procedures
    doc_rules = {r["id"]: r for r in document.get("rules", [])}
    tallies = _tallies(findings)
    in_scope: Mapping[str, int] = (document["run"].get("scope") or {}).get("resources_in_scope") or {}
    has_scope = "resources_in_scope" in (document["run"].get("scope") or {})
    _, missed = _accounts(document)
    blocks: dict[str, tuple[ProcedureView, ...]] = {}
    index: dict[tuple[str, str], ProcedureView] = {}
    for fw in frameworks:
        views = []
        for c in fw.controls:
            rules = tuple(_rule_result(rid, doc_rules.get(rid)) for rid in c.rules)
            by_type: dict[str, list[str]] = {}
            for r in rules:
                by_type.setdefault(r.resource or "resource", []).append(r.id)
            pops = []
            for type_name, ids in by_type.items():
                resources: set[tuple[str, str, str]] = set()
                untested: set[tuple[str, str, str]] = set()
                places: set[str] = set()
                for rid in ids:
                    t = tallies.get(rid)
                    if t is not None:
                        resources |= t.resources
                        untested |= t.untested
                        places |= t.places
                pops.append(Population(type_name, int(in_scope.get(type_name, 0)) if has_scope else None,
                                       len(resources), len(untested), tuple(sorted(places))))
            gaps = _gaps_for(set(c.rules), document)
            complete = (not missed and not gaps and all(not p.untested and not p.places_untested for p in pops)
                        and not any(r.counts.get("ERROR") for r in rules))
            proc = procs.get(fw.id)
            p = proc.controls.get(c.id) if proc is not None else None
            terms = dict(fw.terms)
            calls, note = _calls(rules)
            view = ProcedureView(
                framework=fw.id, control=c.id, title=c.title, status=c.status, term=c.term,
                has_procedure=p is not None,
                examined=p.text("examined", terms) if p else "",
                method=p.text("method", terms) if p else "",
                decision=p.text("decision", terms) if p else "",
                calls=calls, calls_note=note, populations=tuple(pops),
                population=_population_text(pops, rules, document, fw.requirement_word, gaps, complete),
                complete=complete, results=sum(sum(r.counts.values()) for r in rules), rules=rules)
            views.append(view)
            index[(fw.id, c.id)] = view
        blocks[fw.id] = tuple(views)
    return TestingView(blocks=MappingProxyType(blocks), sampling=sampling_text(document, findings),
                       _index=MappingProxyType(index))


def _rule_result(rule_id: str, data: Mapping[str, Any] | None) -> RuleResult:
    data = data or {}
    counts = data.get("counts") or {}
    calls = data.get("calls")
    return RuleResult(id=rule_id, title=str(data.get("title", "")), resource=str(data.get("resource", "")),
                      status=str(data.get("status", "")), counts=MappingProxyType({s: int(counts.get(s, 0)) for s in STATUSES}),
                      calls=tuple(str(x) for x in calls) if isinstance(calls, list) else None)


def sampling_text(document: Mapping[str, Any], findings: Sequence[Any]) -> str:
    """The report's general statement on population and sampling, from the run's own figures."""
    _, missed = _accounts(document)
    resources = {(f.resource.account, f.resource.region, f.resource.type, f.resource.id)
                 for f in findings if f.resource.id != "*"}
    types = {t for _, _, t, _ in resources}
    scope = document["run"].get("scope") or {}
    in_scope = sum(int(n) for n in (scope.get("resources_in_scope") or {}).values())
    rules = document.get("rules", [])
    left = _left_out(document, findings, missed)
    text = (f"No sampling was used. Every rule was evaluated on every in-scope resource of its type"
            f"{' that could be read' if left else ''}, "
            f"{_where(document)}: {_plural(len(findings), 'result', 'results')} of {_plural(len(rules), 'rule', 'rules')} "
            f"on {_plural(len(resources), 'resource', 'resources')} of {_plural(len(types), 'type', 'types')} "
            f"({_plural(in_scope, 'resource was', 'resources were')} in scope). Each requirement below states its own population.")
    if left:
        text += " Not everything was tested: " + "; ".join(left) + " (see Not assessed); no requirement that depends on it is reported as met."
    else:
        text += " Nothing was left out: every account was reached and every call answered."
    return text


def _left_out(document: Mapping[str, Any], findings: Sequence[Any], missed: Sequence[Mapping[str, Any]]) -> list[str]:
    """What the run did not test, one clause each ([] when nothing)."""
    left = []
    if missed:
        left.append(f"{_plural(len(missed), 'account was', 'accounts were')} not reached at all ("
                    + ", ".join(str(a.get("id", "")) for a in missed) + "): nothing in them was examined")
    gaps = document.get("not_assessed", [])
    if gaps:
        places = {(g.get("account"), g.get("region")) for g in gaps}
        left.append(f"{_plural(len(gaps), 'gap', 'gaps')} in {_plural(len(places), 'account-region', 'account-regions')} "
                    "(calls that failed or were not attempted)")
    errors = sum(1 for f in findings if f.status == "ERROR")
    if errors:
        left.append(f"{_plural(errors, 'result', 'results')} could not be tested (ERROR)")
    if document.get("scope_gaps"):
        left.append(f"nothing was assessed in {_plural(len(document['scope_gaps']), 'place', 'places')} (scope gaps)")
    if not (document["run"].get("snapshot") or {}).get("complete", False) and not left:
        left.append("the snapshot is not complete")
    return left
