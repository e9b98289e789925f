"""Rule fixtures: small estates, written as AWS API responses, with the results a rule must give.

A fixture file (YAML) holds cases for one rule::

    rule: PN-001
    cases:
      - name: a VPC without an internet gateway passes
        calls:                                  # service:Operation -> one response page
          ec2:DescribeVpcs: {Vpcs: [{VpcId: vpc-a, CidrBlock: 10.0.0.0/16}]}
          ec2:DescribeVpcAttribute:             # or a list of {params, response} for per-resource calls
            - {params: {VpcId: vpc-a, Attribute: enableDnsSupport}, response: {EnableDnsSupport: {Value: true}}}
        failed: [ec2:DescribeFlowLogs]          # calls that failed (AccessDenied)
        parameters: {private-network: {allowed_vpc_ids: [vpc-a]}}   # optional overrides
        scope: {vpc_ids: [vpc-a]}               # optional; default: everything in scope
        expect:                                 # resource id (id[item] for for_each rules) -> status
          vpc-a: PASS
        messages: {vpc-a: "internet gateway"}   # optional: text the finding's message contains

Every case runs in account ``111111111111``, region ``eu-west-1`` unless it says
``account:`` / ``region:``. Every collected call the case does not mention is recorded as
succeeded with an empty answer, as for an account that has none of those resources. The
whole engine runs (model build, scope, where, check, waivers off) and the findings of the
rule must be exactly those expected: no more, no fewer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from auditor.collect.catalog import CATALOG
from auditor.config import Scope
from auditor.errors import InputError
from auditor.findings import Finding
from auditor.model import build_model
from auditor.rules.engine import evaluate_rules, is_place_gap
from auditor.rules.packs import PackSet
from auditor.snapshot.records import CallError, CallRecord
from auditor.vocabulary import STATUSES
from auditor.yamlpos import load_yaml

ACCOUNT = "111111111111"
REGION = "eu-west-1"
TODAY = date(2026, 1, 1)


@dataclass(frozen=True)
class Case:
    rule: str
    name: str
    file: str
    line: int
    calls: Mapping[str, Any]
    failed: tuple[str, ...] = ()
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scope: Scope = field(default_factory=Scope)
    expect: Mapping[str, str] = field(default_factory=dict)
    messages: Mapping[str, str] = field(default_factory=dict)
    account: str = ACCOUNT
    region: str = REGION

    @property
    def label(self) -> str:
        return f"{self.rule}: {self.name}"


def load_cases(path: Path | str) -> list[Case]:
    """The cases of one fixture file. Raises InputError for a malformed file."""
    doc = load_yaml(path)
    data = doc.data
    problems = []
    if not isinstance(data, dict) or not isinstance(data.get("rule"), str) or not isinstance(data.get("cases"), list):
        raise InputError([doc.problem((), "a fixture file is {rule: RULE-ID, cases: [...]}")])
    out = []
    for i, c in enumerate(data["cases"]):
        if not isinstance(c, dict) or not isinstance(c.get("expect"), dict) or not c.get("name"):
            problems.append(doc.problem(("cases", i), "a case has a name, calls and expect: {resource id: STATUS}"))
            continue
        for rid, status in c["expect"].items():
            if status not in STATUSES:
                problems.append(doc.problem(("cases", i, "expect", rid), f"status '{status}' is not one of "
                                            f"{', '.join(STATUSES)}"))
        unknown = set(c) - {"name", "calls", "failed", "parameters", "scope", "expect", "messages", "account",
                            "region"}
        for k in sorted(unknown):
            problems.append(doc.problem(("cases", i, k), f"unknown key '{k}' in a fixture case", key=True))
        sc = c.get("scope") or {}
        tags = tuple(sorted((k, tuple([v] if isinstance(v, str) else v)) for k, v in (sc.get("tags") or {}).items()))
        out.append(Case(rule=data["rule"], name=str(c["name"]), file=str(path), line=doc.where(("cases", i))[0],
                        calls=c.get("calls") or {}, failed=tuple(c.get("failed") or ()),
                        parameters=c.get("parameters") or {},
                        scope=Scope(vpc_ids=frozenset(sc.get("vpc_ids", ())), tags=tags),
                        expect={str(k): str(v) for k, v in c["expect"].items()},
                        messages={str(k): str(v) for k, v in (c.get("messages") or {}).items()},
                        account=str(c.get("account", ACCOUNT)), region=str(c.get("region", REGION))))
    if problems:
        raise InputError(problems)
    return out


def records_for(case: Case) -> list[CallRecord]:
    """The call records of a case: those it gives, failures it names, empty answers for the rest."""
    known = {spec.key: spec for spec in CATALOG}
    records: list[CallRecord] = []
    for key, value in case.calls.items():
        if key not in known:
            raise ValueError(f"{case.label}: '{key}' is not a collected call (see docs/collection.md)")
        service, op = key.split(":", 1)
        entries = value if isinstance(value, list) else [{"params": {}, "response": value}]
        for entry in entries:
            records.append(CallRecord(case.account, case.region, service, op, entry.get("params") or {},
                                      (entry.get("response") or {},)))
    for key in case.failed:
        service, op = key.split(":", 1)
        records.append(CallRecord(case.account, case.region, service, op, {}, (),
                                  error=CallError("aws", "AccessDenied", f"not authorized to perform {key}", 403)))
    mentioned = set(case.calls) | set(case.failed)
    for spec in CATALOG:
        if spec.key not in mentioned:
            records.append(CallRecord(case.account, case.region, spec.service, spec.operation, {}, ({},)))
    return records


def finding_key(f: Finding) -> str:
    return f"{f.resource.id}[{f.item}]" if f.item is not None else f.resource.id


def run_case(case: Case, packs: PackSet) -> list[Finding]:
    """The findings of the case's rule on the case's estate."""
    model = build_model(records_for(case))
    if case.parameters:
        packs = packs.with_overrides(case.parameters)
    if case.rule not in packs.rules_by_id:
        raise ValueError(f"{case.file}:{case.line}: no loaded pack defines rule {case.rule}")
    rule = packs.rule(case.rule)
    only = PackSet(tuple(replace(p, rules=(rule,)) for p in packs.packs if p.id == rule.pack), packs.registries)
    result = evaluate_rules(model, only, case.scope, today=TODAY)
    # A fixture's one region may rightly select nothing ("a region without in-scope VPCs"):
    # the run's scope gaps are not the rule's results (tests/test_nothing_assessed.py).
    return [f for f in result.findings if f.rule_id == case.rule and not is_place_gap(f)]


def check_case(case: Case, packs: PackSet) -> list[str]:
    """What is wrong with the rule's results on the case (empty when they are as expected)."""
    findings = run_case(case, packs)
    got = {finding_key(f): f for f in findings}
    problems = []
    for key in sorted(set(got) | set(case.expect)):
        want, have = case.expect.get(key), got[key].status if key in got else None
        if want != have:
            detail = f" ({got[key].message})" if key in got else ""
            problems.append(f"{key}: expected {want or 'no finding'}, got {have or 'no finding'}{detail}")
    for key, text in case.messages.items():
        if key in got and text not in got[key].message:
            problems.append(f"{key}: message {got[key].message!r} does not contain {text!r}")
    return problems
