"""Missing data never makes a PASS: a property over whole collected estates.

Each estate (the demo bank with its own audit config, and the four analyzer estates of
tests/estates/analyzers with every pack and no scope) is seeded in moto and collected with
the real collector (the demo's is the session's `auditor demo` snapshot, read back; the
analyzer estates' once per module); its findings are the baseline. Then the evidence is
damaged one piece at a time, in memory, and evaluated again as `auditor.scan.evaluate_snapshot`
does (its engine call, with the model, regions, account problems, packs, scope and waivers):

(a) calls fail, as the collector records it (`test_the_forged_damage_is_what_the_collector_records`
    checks the forgery against a real collection with the faults injected): every
    (account, region, call) with all its records AccessDenied, the calls that run per item of
    a failed listing "not attempted", and the manifest saying so (`calls`, `errors`, `tasks`,
    `complete`); each per-resource call failing alone (the first of each); each account
    whose role cannot be assumed (no regional records, the problem on the account, its tasks
    not attempted). Exhaustive.
(b) one record is removed: one resource item of one response page. A sample (see
    `SAMPLE_PER_TYPE` for why and which).

Neither may turn a FAIL, WAIVED, ERROR or NOT_APPLICABLE finding into PASS, nor add a PASS
that was not there: compared per (rule, account, region, resource, element). A finding
that disappears with its resource is not a PASS.
"""

from __future__ import annotations

import gc
import json
import random
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from collections.abc import Iterator, Mapping

import pytest

from auditor.collect.calls import not_attempted
from auditor.collect.catalog import CATALOG
from auditor.collect.runner import collect
from auditor.config import AuditConfig, load_config
from auditor.emulate import demo_config_path
from auditor.findings import Finding
from auditor.model import build_model
from auditor.model.types import Model
from auditor.model.normalise import record_path
from auditor.rules.engine import evaluate_rules
from auditor.scan import ScanInputs, evaluate_evidence, evaluate_snapshot, prepare
from auditor.snapshot.reader import Snapshot, load_snapshot
from auditor.snapshot.records import GLOBAL_REGION, CallError, CallRecord
from auditor.snapshot.writer import SnapshotWriter
from conftest import AnalyzerEstates, DemoRun

Key = tuple[str, str, str, str, str, str]   # rule, account, region, resource type, resource id, element


@dataclass(frozen=True)
class Collected:
    """One collected estate in memory, its scan inputs and its baseline statuses."""

    name: str
    records: tuple[CallRecord, ...]
    manifest: Mapping[str, Any]
    inputs: ScanInputs
    baseline: Mapping[Key, str]


def statuses(records: tuple[CallRecord, ...], manifest: Mapping[str, Any], inputs: ScanInputs) -> dict[Key, str]:
    """Every finding's status, from the engine call `auditor.scan.evaluate_snapshot` makes
    (`evaluate_evidence`), without the document around it: the document reloads the framework
    catalogues each time, four fifths of the cost; `test_the_engine_call_is_the_scans` keeps
    the two the same."""
    evaluation = evaluate_evidence(records, manifest, inputs)
    return {f.sort_key(): f.status for f in evaluation.findings}


def scan_statuses(records: tuple[CallRecord, ...], manifest: Mapping[str, Any], inputs: ScanInputs) -> dict[Key, str]:
    """The same through `evaluate_snapshot` itself, on the snapshot in memory."""
    snap = Snapshot(path=Path("in-memory"), manifest=manifest, records=records, manifest_sha256="sha256:-")
    findings: list[Finding] = evaluate_snapshot(snap, inputs)["findings"]   # Finding objects: the document is lazy
    return {f.sort_key(): f.status for f in findings}


def _baseline(name: str, config: AuditConfig, records: tuple[CallRecord, ...], manifest: Mapping[str, Any]
              ) -> Collected:
    inputs = prepare(config)
    baseline = statuses(records, manifest, inputs)
    # The property means something only where there are PASS and FAIL findings to keep.
    assert {"PASS", "FAIL"} <= set(baseline.values()), name
    return Collected(name, records, manifest, inputs, baseline)


@pytest.fixture(scope="module")
def demo(demo_run: DemoRun) -> Collected:
    """The demo estate as the session's `auditor demo` collected it (its snapshot, read back)."""
    snap = load_snapshot(demo_run.result.scan.snapshot)
    assert snap.complete, snap.manifest["errors"]
    return _baseline("demo", load_config(demo_config_path()), tuple(snap.records), dict(snap.manifest))


@pytest.fixture(scope="module")
def analyzers(analyzer_estates: AnalyzerEstates) -> Collected:
    """The four analyzer estates, each in its own account, as the session collected them."""
    return _baseline("analyzers", analyzer_estates.config, analyzer_estates.records, analyzer_estates.manifest)


# -- forging the damage as the collector records it -------------------------------------------

_DEPENDENTS: dict[tuple[str, str], list[tuple[str, str]]] = {}
for _spec in CATALOG:
    if _spec.for_each is not None:
        _DEPENDENTS.setdefault((_spec.service, _spec.for_each.source), []).append((_spec.service, _spec.operation))


# What the emulator draws afresh in every run (ids, addresses, times, tokens): any word with a
# digit in it, masked in `stable_label`.
_DRAWN = re.compile(r"[\w.:/-]*\d[\w.:/-]*")
_NAMES = ("ServiceName", "PrefixListName", "GroupName", "FunctionName", "DBInstanceIdentifier", "LoadBalancerName",
          "name")


def _name_tag(item: Mapping[str, Any]) -> str:
    for key in ("Tags", "TagSet", "tags"):
        tags = item.get(key)
        if isinstance(tags, list):
            for tag in tags:
                if isinstance(tag, Mapping) and tag.get("Key") == "Name" and tag.get("Value"):
                    return str(tag["Value"])
    return ""


def stable_label(item: Mapping[str, Any]) -> str:
    """What an item is, in words that are the same in every run of the same estate (moto draws
    ids and addresses, and the collector's threads finish in any order): its Name tag (an
    instance's, for a reservation), else its name, else its content with every word holding a
    digit masked. Samples and choices are made in this order; only items that read the same
    (moto's unnamed interfaces of one kind, say) may still come in either order."""
    nested = item.get("Instances")
    for candidate in (item, *(nested[:1] if isinstance(nested, list) else ())):
        if isinstance(candidate, Mapping) and _name_tag(candidate):
            return f"Name={_name_tag(candidate)}"
    for key in _NAMES:
        if isinstance(item.get(key), str) and item[key]:
            return f"{key}={item[key]}"
    return _DRAWN.sub("*", json.dumps(item, sort_keys=True, default=str))


def _resource_label(model: Model, rec: CallRecord) -> str:
    """The stable label of the resource a per-resource call was made for ("" when it has no
    name: the one such resource of its kind, e.g. moto's default transit gateway table)."""
    spec = next(s for s in CATALOG if (s.service, s.operation) == (rec.service, rec.operation))
    for value in (v for _, v in sorted(rec.params.items()) if isinstance(v, str)):
        found = model.get(spec.resource_type, value, rec.account, rec.region)
        if found is not None:
            return f"Name={found.tag('Name')}" if found.tag("Name") else str(getattr(found, "name", ""))
    return ""


def _denied(rec: CallRecord) -> CallRecord:
    """The record the collector writes when AWS refuses the call (kept pages: none)."""
    message = f"User is not authorized to perform: {rec.service}:{rec.operation}"
    return replace(rec, pages=(), error=CallError("aws", "AccessDenied", message, 403))


def _manifest(manifest: Mapping[str, Any], records: tuple[CallRecord, ...], *,
              accounts: list[dict[str, Any]] | None = None, tasks: list[dict[str, Any]] | None = None,
              problems: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The manifest the snapshot writer would have written for `records` (calls, errors,
    files, completeness), with the run metadata changed where given."""
    calls, files = [], {}
    for rec in records:
        rel = f"records/{rec.record_id}.json"
        entry: dict[str, Any] = {"record": rel, "account": rec.account, "region": rec.region, "service": rec.service,
                                 "operation": rec.operation, "params": dict(rec.params), "pages": len(rec.pages),
                                 "started": rec.started, "duration_ms": rec.duration_ms, "retries": rec.retries,
                                 "status": "ok" if rec.ok else "error"}
        if rec.error is not None:
            entry["error"] = rec.error.to_json()
        calls.append(entry)
        files[rel] = manifest["files"].get(rel, "sha256:forged")
    calls.sort(key=lambda c: c["record"])
    errors = [{k: c[k] for k in ("account", "region", "service", "operation", "params", "record")} | c["error"]
              for c in calls if "error" in c]
    out = dict(manifest)
    out.update(calls=calls, errors=errors, files=dict(sorted(files.items())))
    if accounts is not None:
        out["accounts"] = accounts
    counts: dict[tuple[str, str], list[int]] = {}
    for rec in records:
        n = counts.setdefault((rec.account, rec.region), [0, 0])
        n[0], n[1] = n[0] + 1, n[1] + (not rec.ok)
    out["tasks"] = [t if t["status"] == "not_attempted" else
                    dict(t, calls=counts[(t["account"], t["region"])][0], errors=counts[(t["account"], t["region"])][1],
                         status="incomplete" if counts[(t["account"], t["region"])][1] else "complete")
                    for t in (tasks if tasks is not None else manifest["tasks"])]
    if problems is not None:
        out["account_problems"] = problems
    out["complete"] = not errors and not out.get("account_problems")
    return out


Damage = tuple[str, tuple[CallRecord, ...], dict[str, Any]]   # what was done, records, manifest


def failed_calls(c: Collected) -> Iterator[Damage]:
    """Every collected call failing in one account-region, recorded as the collector records
    it: all its records denied (a per-resource call: every one of them); for a listing, the
    calls that run per item of it not attempted (one record each, as the collector plans
    them). Then one per-resource call failing alone (the first of each call in each
    account-region, by `stable_label` of its resource). Then each account unreachable."""
    groups: dict[tuple[str, str, str, str], list[CallRecord]] = {}
    for rec in c.records:
        if rec.region != GLOBAL_REGION:
            groups.setdefault((rec.account, rec.region, rec.service, rec.operation), []).append(rec)
    for (account, region, service, operation), recs in sorted(groups.items()):
        if any(not r.params for r in recs):
            dependents = set(_DEPENDENTS.get((service, operation), []))
            why = f"not attempted: it runs per item of {service}:{operation}, which failed (AccessDenied)"
            kept = tuple(_denied(r) if (r.account, r.region, r.service, r.operation) == (account, region, service,
                                                                                          operation) else r
                         for r in c.records
                         if not (r.account == account and r.region == region and (r.service, r.operation) in dependents))
            changed = kept + tuple(not_attempted(account, region, s, o, why) for s, o in sorted(dependents))
        else:
            changed = tuple(_denied(r) if r in recs else r for r in c.records)
        yield f"{account}/{region} {service}:{operation} denied", changed, _manifest(c.manifest, changed)
    model = build_model(c.records, c.manifest["files"])
    for _key, recs in sorted(groups.items()):
        if len(recs) > 1 and all(r.params for r in recs):
            first = min(recs, key=lambda r: (_resource_label(model, r),
                                             _DRAWN.sub("*", json.dumps(dict(r.params), sort_keys=True))))
            changed = tuple(_denied(r) if r is first else r for r in c.records)
            yield f"{first.record_id} denied alone", changed, _manifest(c.manifest, changed)
    for account in sorted({r.account for r in c.records if r.operation == "AssumeRole"}):
        yield _unreachable(c, account)


def _unreachable(c: Collected, account: str) -> Damage:
    """The account's role cannot be assumed: the collector records the failed AssumeRole and
    nothing else for it, and says why on the account and on each of its planned tasks."""
    changed = tuple(_denied(r) if (r.account, r.operation) == (account, "AssumeRole") else r
                    for r in c.records if r.account != account or r.operation == "AssumeRole")
    [denied] = [r for r in changed if (r.account, r.operation) == (account, "AssumeRole")]
    assert denied.error is not None
    role = next(a["role_arn"] for a in c.manifest["accounts"] if a["id"] == account)
    problem = f"sts:AssumeRole into {role} failed: {denied.error.code}: {denied.error.message}"
    # It keeps the regions it was planned in, so that they are named as not assessed.
    planned = sorted({t["region"] for t in c.manifest["tasks"] if t["account"] == account})
    accounts = [dict(a, identity={}, regions=planned, problem=problem) if a["id"] == account else a
                for a in c.manifest["accounts"]]
    tasks = [t for t in c.manifest["tasks"] if t["account"] != account] + [
        {"account": account, "region": r, "calls": 0, "errors": 0, "status": "not_attempted", "reason": problem}
        for r in planned]
    problems = [*c.manifest.get("account_problems", []), {"account": account, "message": problem}]
    return (f"{account} unreachable", changed,
            _manifest(c.manifest, changed, accounts=accounts, tasks=sorted(tasks, key=lambda t: (t["account"],
                                                                                             t["region"])),
                      problems=problems))


@dataclass(frozen=True)
class Removal:
    """One item of one response page: where it is, the model resources it held (their type
    and ids), and whether its absence stays visible (another record still names one of them)."""

    record: int                 # index in Collected.records
    page: int
    key: str
    index: int
    type_name: str              # the type of the first resource it held ("" for side data)
    visible: bool
    label: str                  # account, region and `stable_label` of the item

    def apply(self, c: Collected) -> Damage:
        rec = c.records[self.record]
        pages = list(rec.pages)
        items = pages[self.page][self.key]
        pages[self.page] = {**pages[self.page], self.key: items[:self.index] + items[self.index + 1:]}
        changed = c.records[:self.record] + (replace(rec, pages=tuple(pages)),) + c.records[self.record + 1:]
        return f"{rec.record_id} /pages/{self.page}/{self.key}/{self.index} removed", changed, dict(c.manifest)


def _strings(value: Any, out: Counter[str]) -> Counter[str]:
    if isinstance(value, str):
        out[value] += 1
    elif isinstance(value, Mapping):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _strings(v, out)
    return out


def removals(c: Collected) -> list[Removal]:
    """Every item of every list in every response page, as a `Removal`."""
    model = build_model(c.records, c.manifest["files"])
    held: dict[tuple[str, str], list[tuple[str, str]]] = {}   # (record file, item pointer) -> [(type, id)]
    for resources in model.resources.values():
        for r in resources:
            parts = r.source.pointer.split("/")
            # The item of a page's list: /pages/<p>/<key>/<i> (an instance's is its reservation's).
            held.setdefault((r.source.record, "/".join(parts[:5])), []).append((r.type_name, r.id))
    everywhere: Counter[str] = Counter()
    for rec in c.records:
        _strings([rec.params, rec.pages], everywhere)
    out = []
    for i, rec in enumerate(c.records):
        path = record_path(rec, c.manifest["files"])
        for p, page in enumerate(rec.pages):
            for key, value in page.items():
                if not isinstance(value, list):
                    continue
                for j, item in enumerate(value):
                    if not isinstance(item, Mapping):
                        continue   # a list of names (e.g. ServiceNames), not of records
                    inside = held.get((path, f"/pages/{p}/{key}/{j}"), [])
                    own = _strings(item, Counter())
                    visible = any(everywhere[rid] > own[rid] for _, rid in inside)
                    out.append(Removal(i, p, key, j, inside[0][0] if inside else "", visible,
                                       f"{rec.account}/{rec.region} {stable_label(item)}"))
    return out


@contextmanager
def baseline_frozen() -> Iterator[None]:
    """Hundreds of evaluations run over the same large baseline (its records, fixtures and
    packs): the cyclic collector would rescan it at every collection. It is set aside for
    the loop (a fifth of the time) and released after."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def false_passes(c: Collected, damage: Damage) -> list[str]:
    """Each finding the damage made PASS that was not PASS before (or did not exist)."""
    what, records, manifest = damage
    after = statuses(records, manifest, c.inputs)
    return [f"{what}: {'/'.join(k).rstrip('/')} {c.baseline.get(k, 'absent')} -> PASS"
            for k, status in sorted(after.items()) if status == "PASS" and c.baseline.get(k) != "PASS"]


# -- the properties ---------------------------------------------------------------------------

ESTATE_FIXTURES = ("demo", "analyzers")


@pytest.mark.parametrize("estate", ESTATE_FIXTURES)
def test_failing_any_one_collected_call_never_makes_a_pass(estate: str, request: pytest.FixtureRequest) -> None:
    """Exhaustive: every (account, region, call) of the snapshot, each per-resource call alone
    once per call and account-region, and every account unreachable."""
    c: Collected = request.getfixturevalue(estate)
    damages = list(failed_calls(c))
    calls = {(r.account, r.region, r.service, r.operation) for r in c.records if r.region != GLOBAL_REGION}
    assert sum(1 for what, _, _ in damages if what.endswith(" denied")) == len(calls)
    with baseline_frozen():
        found = [line for damage in damages for line in false_passes(c, damage)]
    assert found == []


# Removing records. A removal that leaves no trace (nothing else in the snapshot names what was
# removed: a route table only its own associations name, a transit gateway route, a security
# group rule) describes another, complete estate in which the resource never existed; a PASS
# there is the right answer for that evidence, and no auditor could tell (the demo's two
# egress route tables are such: without them, the NAT and attachment subnets use their VPC's
# main table, which goes nowhere). So the property is asserted for visible removals: another
# record still names what was removed (a route to the NAT gateway, a subnet's route table
# association, a VPC's subnets, a security group's rules and interfaces, an endpoint's route
# tables, the per-resource calls made for it).
# Evaluating every removal is too slow for the suite (an evaluation is ~50 ms; the demo has
# 2,363 items, 1,177 visible, 1,024 of them endpoint services), so a fixed-seed sample of
# `SAMPLE_PER_TYPE` visible removals of every resource type is evaluated (all of a type that
# has fewer). All visible removals of both estates (endpoint services thinned to ten) were
# evaluated once outside the suite: none makes a PASS.
SAMPLE_PER_TYPE = 3
SEED = 20261206


def sampled(c: Collected) -> list[Removal]:
    """The visible removals to evaluate: `SAMPLE_PER_TYPE` of every resource type (all when
    fewer), chosen with a fixed seed."""
    by_type: dict[str, list[Removal]] = {}
    for r in sorted(removals(c), key=lambda r: (r.label, r.key)):   # independent of ids and listing order
        if r.visible:
            by_type.setdefault(r.type_name, []).append(r)
    rng = random.Random(SEED)
    return [r for t in sorted(by_type) for r in (by_type[t] if len(by_type[t]) <= SAMPLE_PER_TYPE
                                                 else rng.sample(by_type[t], SAMPLE_PER_TYPE))]


@pytest.mark.parametrize("estate", ESTATE_FIXTURES)
def test_removing_any_one_visible_record_never_makes_a_pass(estate: str, request: pytest.FixtureRequest) -> None:
    c: Collected = request.getfixturevalue(estate)
    chosen = sampled(c)
    # Every resource type of the estate whose removal can stay visible is exercised.
    assert {r.type_name for r in chosen} == {r.type_name for r in removals(c) if r.visible}
    with baseline_frozen():
        found = [line for removal in chosen for line in false_passes(c, removal.apply(c))]
    assert found == []


@pytest.mark.parametrize("estate", ESTATE_FIXTURES)
def test_the_engine_call_is_the_scans(estate: str, request: pytest.FixtureRequest) -> None:
    """`statuses` evaluates as `evaluate_snapshot` does: the same on the baseline and on an
    unreachable account (the damage whose manifest changes most)."""
    c: Collected = request.getfixturevalue(estate)
    assert scan_statuses(c.records, c.manifest, c.inputs) == c.baseline
    _, records, manifest = _unreachable(c, min(a["id"] for a in c.manifest["accounts"]))
    assert scan_statuses(records, manifest, c.inputs) == statuses(records, manifest, c.inputs)


# -- what the property found, each pinned on its own --------------------------------------------

def test_a_security_group_rule_whose_group_is_missing_is_not_assessed_in_a_scoped_run() -> None:
    """Found by the property (DescribeSecurityGroups denied, or one security group removed, in
    the demo's health account): a rule whose group is not in the model belonged to no VPC, so
    a scope that selects VPCs took it in whenever its region held a regulated VPC, and its
    checks PASSed although it belongs to the out-of-scope shared egress VPC. Its VPC is
    unknown: ERROR, never PASS (and never silently dropped)."""
    from datetime import date

    from auditor.config import Scope
    from auditor.rules.fixtures import Case, records_for
    from auditor.rules.packs import load_packs

    calls = {
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-pci", "Tags": [{"Key": "data", "Value": "pci"}]},
                                      {"VpcId": "vpc-other"}]},
        "ec2:DescribeSecurityGroups": {"SecurityGroups": [{"GroupId": "sg-pci", "VpcId": "vpc-pci"},
                                                          {"GroupId": "sg-other", "VpcId": "vpc-other"}]},
        "ec2:DescribeSecurityGroupRules": {"SecurityGroupRules": [
            {"SecurityGroupRuleId": f"sgr-{g}", "GroupId": f"sg-{g}", "IsEgress": False, "IpProtocol": "tcp",
             "FromPort": 443, "ToPort": 443, "CidrIpv4": "10.0.0.0/8"} for g in ("pci", "other", "gone")]},
    }
    model = build_model(records_for(Case("TEST", "estate", "-", 0, calls)))
    scope = Scope(tags=(("data", ("pci",)),))
    found = {f.resource.id: f for f in evaluate_rules(model, load_packs(), scope, today=date(2025, 1, 1)).findings
             if f.rule_id == "TF-002"}
    assert found["sgr-pci"].status == "PASS"
    assert "sgr-other" not in found   # its group places it in a VPC out of scope
    assert found["sgr-gone"].status == "ERROR"
    assert found["sgr-gone"].message == ("not assessed: scope could not be decided: its security group sg-gone is "
                                         "not in the model (ec2:DescribeSecurityGroups)")
    # The same for an Elastic IP associated with an instance that is not in the model (PN-010);
    # one associated with nothing belongs to no VPC and is in scope with its region.
    eips = {"ec2:DescribeAddresses": {"Addresses": [
        {"AllocationId": "eipalloc-gone", "PublicIp": "198.51.100.1", "Domain": "vpc", "InstanceId": "i-gone",
         "AssociationId": "eipassoc-1"},
        {"AllocationId": "eipalloc-free", "PublicIp": "198.51.100.2", "Domain": "vpc"}]}}
    model_eips = build_model(records_for(Case("TEST", "estate", "-", 0, {**calls, **eips})))
    pn010 = {f.resource.id: (f.status, f.message) for f in evaluate_rules(model_eips, load_packs(), scope,
                                                                          today=date(2025, 1, 1)).findings
             if f.rule_id == "PN-010"}
    assert pn010["eipalloc-gone"] == ("ERROR", "not assessed: scope could not be decided: its instance i-gone is not "
                                               "in the model (ec2:DescribeInstances)")
    assert pn010["eipalloc-free"][0] == "FAIL"
    # Without a scope every resource is in scope: nothing to decide.
    everything = {f.resource.id: f.status for f in evaluate_rules(model, load_packs(), Scope(),
                                                                  today=date(2025, 1, 1)).findings
                  if f.rule_id == "TF-002"}
    assert everything == {"sgr-pci": "PASS", "sgr-other": "PASS", "sgr-gone": "PASS"}


def test_a_gateway_the_routes_name_but_the_data_lacks_makes_the_vpcs_gateway_lists_unknown() -> None:
    """Found by the property (one internet or NAT gateway removed from its listing, in the
    analyzer estates): the VPC's gateway lists read empty, so PN-001 (no internet gateway),
    PN-003 (no public NAT) and PN-005 (no private NAT) PASSed, although an active route of the
    VPC still sent traffic to the gateway (AWS turns a route to a gateway that is gone into a
    blackhole). Unknown when nothing else is known: ERROR; a known gateway still FAILs."""
    from datetime import date

    from auditor.config import Scope
    from auditor.rules.fixtures import Case, records_for
    from auditor.rules.packs import load_packs

    def statuses_of(routes: list[dict[str, str]], nats: list[dict[str, str]]) -> dict[str, str]:
        calls = {
            "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]},
            "ec2:DescribeRouteTables": {"RouteTables": [{"RouteTableId": "rtb-a", "VpcId": "vpc-a",
                                                         "Associations": [{"Main": True}], "Routes": routes}]},
            "ec2:DescribeNatGateways": {"NatGateways": nats},
        }
        model = build_model(records_for(Case("TEST", "estate", "-", 0, calls)))
        return {f.rule_id: f.status for f in evaluate_rules(model, load_packs(), Scope(), today=date(2025, 1, 1)).findings
                if f.rule_id in ("PN-001", "PN-003", "PN-005")}

    active = lambda **target: {"DestinationCidrBlock": "0.0.0.0/0", "State": "active", **target}  # noqa: E731
    assert statuses_of([active(GatewayId="igw-gone")], []) == {"PN-001": "ERROR", "PN-003": "PASS", "PN-005": "PASS"}
    assert statuses_of([active(NatGatewayId="nat-gone")], []) == {"PN-001": "PASS", "PN-003": "ERROR",
                                                                    "PN-005": "ERROR"}
    # A blackhole route names a gateway that is gone: nothing is unknown.
    assert statuses_of([{**active(NatGatewayId="nat-gone"), "State": "blackhole"}], []) == {
        "PN-001": "PASS", "PN-003": "PASS", "PN-005": "PASS"}
    # A known public NAT gateway fails PN-003 whatever else is unknown; PN-005 cannot tell.
    public = [{"NatGatewayId": "nat-pub", "VpcId": "vpc-a", "State": "available"}]
    assert statuses_of([active(NatGatewayId="nat-gone")], public) == {"PN-001": "PASS", "PN-003": "FAIL",
                                                                        "PN-005": "ERROR"}


def test_a_route_table_an_endpoint_names_but_the_listing_lacks_makes_implicit_associations_unknown() -> None:
    """Found by the property (one route table removed from DescribeRouteTables in the egress
    estate, a table the S3 gateway endpoint still names): the subnet explicitly associated with
    it fell back to its VPC's main table, and PN-002 (no route to an internet gateway) PASSed.
    A subnet with no association known, in a VPC with a table known to exist but not listed,
    has an unknown table: ERROR. Explicit associations stay certain."""
    from datetime import date

    from auditor.config import Scope
    from auditor.rules.fixtures import Case, records_for
    from auditor.rules.packs import load_packs

    def pn002(endpoint_tables: list[str]) -> dict[str, str]:
        calls = {
            "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]},
            "ec2:DescribeSubnets": {"Subnets": [{"SubnetId": s, "VpcId": "vpc-a", "CidrBlock": c}
                                                for s, c in (("subnet-1", "10.0.1.0/24"), ("subnet-2", "10.0.2.0/24"))]},
            "ec2:DescribeRouteTables": {"RouteTables": [
                {"RouteTableId": "rtb-main", "VpcId": "vpc-a", "Associations": [{"Main": True}], "Routes": []},
                {"RouteTableId": "rtb-2", "VpcId": "vpc-a", "Associations": [{"SubnetId": "subnet-2"}], "Routes": [
                    {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]}]},
            "ec2:DescribeVpcEndpoints": {"VpcEndpoints": [
                {"VpcEndpointId": "vpce-s3", "VpcId": "vpc-a", "VpcEndpointType": "Gateway",
                 "ServiceName": "com.amazonaws.eu-west-1.s3", "RouteTableIds": endpoint_tables, "State": "available"}]},
        }
        model = build_model(records_for(Case("TEST", "estate", "-", 0, calls)))
        return {f.resource.id: f.status for f in evaluate_rules(model, load_packs(), Scope(),
                                                                today=date(2025, 1, 1)).findings
                if f.rule_id == "PN-002"}

    assert pn002(["rtb-main", "rtb-2"]) == {"subnet-1": "PASS", "subnet-2": "FAIL"}
    assert pn002(["rtb-main", "rtb-gone"]) == {"subnet-1": "ERROR", "subnet-2": "FAIL"}


# -- the damage is forged as the collector records it --------------------------------------------

def test_the_forged_damage_is_what_the_collector_records(moto_aws: None, tmp_path: Path) -> None:
    """The forgery against the real thing, on a small estate in moto: an account whose role
    cannot be assumed, and in the other account a listing denied (with the per-resource calls
    over it), collected for real with the faults injected, give the records, errors,
    completeness, account problems and tasks that the damages forge from the clean collection
    (the two damages applied one after the other)."""
    from auditor.collect.sessions import SessionFactory
    from conftest import (HOME_ACCOUNT, SECOND_ACCOUNT, TWO_ACCOUNTS, Injector, ec2_error, make_config, make_network,
                          sts_error)

    make_network(HOME_ACCOUNT, "us-east-1")
    make_network(SECOND_ACCOUNT, "us-east-1", "10.30.0.0/16")
    config = make_config(TWO_ACCOUNTS, ("us-east-1",))

    def run(name: str, *hooks: Injector) -> tuple[tuple[CallRecord, ...], dict[str, Any]]:
        result = collect(config, SessionFactory(max_attempts=2, hooks=list(hooks)),
                         SnapshotWriter(tmp_path / name, keep=True))
        return tuple(result.records), result.manifest

    clean = Collected("clean", *run("clean"), prepare(config), {})
    _, records, manifest = _unreachable(clean, SECOND_ACCOUNT)
    [(_, records, manifest)] = [d for d in failed_calls(Collected("", records, manifest, clean.inputs, {}))
                                if d[0] == f"{HOME_ACCOUNT}/us-east-1 ec2:DescribeVpcs denied"]
    assert any(r.operation == "DescribeVpcAttribute" and r.error is not None and r.error.kind == "not_attempted"
               for r in records)
    real = run("damaged", Injector("before-send.sts.AssumeRole", lambda req, n: sts_error(
        403, "AccessDenied", "User is not authorized to perform: sts:AssumeRole")), Injector(
        "before-send.ec2.DescribeVpcs", lambda req, n: ec2_error(
            403, "AccessDenied", "User is not authorized to perform: ec2:DescribeVpcs")))

    def shape(recs: tuple[CallRecord, ...], man: Mapping[str, Any]) -> dict[str, Any]:
        return {"records": sorted((r.record_id, None if r.error is None else r.error.to_json()) for r in recs),
                "errors": man["errors"], "complete": man["complete"],
                "accounts": [(a["id"], a["identity"], a["regions"], a["problem"]) for a in man["accounts"]],
                "problems": man["account_problems"], "tasks": man["tasks"]}

    assert shape(*real) == shape(records, manifest)
