"""A scan: evidence (a snapshot) + the config's packs, scope and waivers -> findings.json.

`prepare` loads and checks every input before anything runs (profile, packs, parameters,
waivers), raising one InputError with every problem. `evaluate_snapshot` is pure given
its inputs: the same snapshot and inputs give the same document, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Callable, Iterable, Mapping, Sequence

from auditor.config import AuditConfig, Scope
from auditor.console import safe
from auditor.costs.prices import PriceTable
from auditor.costs.traffic import RegionTraffic
from auditor.errors import InputError, Problem, SnapshotError
from auditor.findings import SEVERITIES, STATUSES
from auditor.model import build_model
from auditor.model.types import Model
from auditor.results import RunInfo, build_document, iter_text, violations
from auditor.rules.engine import Evaluation, Gap, account_problems, evaluate_rules, expected_regions
from auditor.rules.packs import PackSet, packs_for_config
from auditor.rules.profiles import Profile, load_profile, resolve_profile
from auditor.rules.scope import ScopeGap, snapshot_gaps
from auditor.rules.waivers import WaiverSet, load_waivers
from auditor.responses import ResponseSet, load_responses
from auditor.snapshot.reader import Snapshot
from auditor.snapshot.records import CallRecord
from auditor.topology import topology_section

if TYPE_CHECKING:
    from auditor.partition import Runner

FINDINGS_FILE = "findings.json"
DEFAULT_FAIL_ON = "high"


@dataclass(frozen=True)
class ScanInputs:
    packs: PackSet
    scope: Scope
    waivers: WaiverSet | None
    profile: Profile | None
    fail_on: str
    config_digest: str = ""
    organization: str = ""
    config: AuditConfig | None = None   # for what the snapshot must cover (its accounts and regions)
    responses: ResponseSet | None = None   # management responses (the config's, or --responses)
    # The cost view (findings.json `network_costs`, auditor/costs/view.py). Without a price table the
    # section says so ("not_computed"); `prices_file` is the file a table other than the
    # built-in one was read from (the bundle keeps a copy of it, as of the waivers).
    prices: PriceTable | None = None
    prices_file: Path | None = None
    # Traffic is the snapshot's (what the collection read, auditor.costs.traffic), whatever the scan's
    # config says now; `traffic` replaces it (with the two settings below) for tests and library callers.
    traffic: Callable[[Model, str, str], RegionTraffic] | None = None   # (model, account, region)
    traffic_collected: bool = False       # with `traffic`: costs.traffic was on at collection
    traffic_window_days: int | None = None


def prepare(config: AuditConfig | None, *, fail_on: str | None = None) -> ScanInputs:
    """Everything a scan needs from the config, checked. Without a config: every built-in
    pack, everything in scope, no waivers."""
    from auditor.costs.prices import load_prices

    # The config's own price table (costs.prices, kept in the bundle's inputs) or the built-in one.
    prices_file = config.costs.prices if config is not None else None
    prices = load_prices(prices_file)
    if config is None:
        packs = packs_for_config((), {}, base_dir=Path.cwd())
        return ScanInputs(packs, Scope(), None, None, fail_on or DEFAULT_FAIL_ON, prices=prices)
    profile = None
    name = config.compliance_profile
    if name:
        path = resolve_profile(name, config.base_dir)
        if not path.is_file():
            from auditor.rules.profiles import builtin_profiles
            from auditor.validation import did_you_mean
            raise InputError([_config_problem(config, ("compliance_profile", "profile"),
                              f"no profile '{name}'{did_you_mean(name, builtin_profiles())}; "
                              f"built-in profiles: {', '.join(builtin_profiles()) or 'none'} "
                              "(or give the path of a profile file)")])
        profile = load_profile(path)
    packs = packs_for_config(config.rule_packs, config.parameters, base_dir=config.base_dir,
                             source=config.source, profile=profile)
    waivers = None
    if config.waivers is not None:
        waivers = load_waivers(config.waivers, known_rule_ids=tuple(packs.rules_by_id))
    responses = load_responses(config.responses, tuple(packs.rules_by_id)) if config.responses is not None else None
    chosen = fail_on or config.fail_on or (profile.fail_on if profile else "") or DEFAULT_FAIL_ON
    return ScanInputs(packs, config.scope, waivers, profile, chosen, config.digest, config.organization, config,
                      responses, prices=prices, prices_file=prices_file)


def _config_problem(config: AuditConfig, keys: tuple[str, ...], message: str) -> Problem:
    """A problem at the first of the top-level `keys` the config file has (it may be named by
    an older key, or only on the command line: then at the file's start)."""
    from auditor.yamlpos import load_yaml

    try:
        doc = load_yaml(config.source)
    except (InputError, OSError):
        return Problem(config.source, 0, 0, keys[0], message)
    data = doc.data if isinstance(doc.data, dict) else {}
    key = next((k for k in keys if k in data), keys[0])
    return doc.problem((key,), message)


def assessment_date(manifest: Mapping[str, Any]) -> date:
    """The day the evidence was collected (UTC): waivers are judged as of then."""
    finished = str(manifest.get("finished") or manifest.get("started") or "")
    try:
        return date.fromisoformat(finished[:10])
    except ValueError:
        raise SnapshotError(f"the snapshot manifest has no valid collection time ({finished!r})") from None


def evaluate_evidence(records: Sequence[CallRecord], manifest: Mapping[str, Any], inputs: ScanInputs) -> Evaluation:
    """The engine's evaluation of a snapshot's records and manifest (what `evaluate_snapshot`
    turns into findings.json): gaps from the manifest, scope gaps from the config."""
    return _evaluate(build_model(records, manifest.get("files"), costs=manifest.get("costs")), manifest, inputs)


def _evaluate(model: Model, manifest: Mapping[str, Any], inputs: ScanInputs,
              partitioned: tuple[Sequence[CallRecord], Runner] | None = None) -> Evaluation:
    if partitioned is not None:   # component by component (auditor/partition.py): the same evaluation
        from auditor.partition import evaluate_partitioned, run_inputs

        records, runner = partitioned
        evaluation = evaluate_partitioned(records, run_inputs(inputs.packs, inputs.scope, assessment_date(manifest),
                                                              inputs.waivers, manifest), files=manifest.get("files"),
                                          uncovered=partial(_uncovered, inputs.config), runner=runner)
    else:
        expected = expected_regions(model, manifest)
        evaluation = evaluate_rules(model, inputs.packs, inputs.scope, today=assessment_date(manifest),
                                    waivers=inputs.waivers, expected=expected,
                                    account_problems=account_problems(manifest),
                                    uncovered=_uncovered(inputs.config, expected))
    plan = plan_section(manifest)
    if plan is None:
        return evaluation
    gaps = sorted((*evaluation.gaps, *plan_gaps(plan, evaluation)), key=lambda g: (g.account, g.region, g.calls, g.reason))
    return replace(evaluation, gaps=tuple(gaps))


# -- a plan or template as the evidence (auditor/iac; `auditor plan`) ------------------------

# The snapshot manifest of a plan run holds, under SOURCE_KEY, findings.json's `run.plan`
# section (docs/findings.md) and where the copy of the plan file is (COPY_KEY): the snapshot
# alone says what was read, so re-evaluating it (`auditor scan --snapshot`, `auditor verify`)
# gives the same findings.
SOURCE_KEY = "source"
COPY_KEY = "copy"
SOURCE_DIR = "source"
_PLAN_FIELDS: dict[str, tuple[type, ...]] = {
    "kind": (str,), "file": (str,), "sha256": (str,), "format_version": (str,), "account": (str,),
    "regions": (list,), "overlay": (dict, type(None)), "resources": (list,), "unsupported": (list,),
    "problems": (list,), "notes": (list,)}
_ROW_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "resources": {"address": (str,), "type": (str,), "model_type": (str,), "id": (str,), "action": (str,),
                  "line": (int, type(None))},
    "unsupported": {"address": (str,), "type": (str,), "action": (str,), "line": (int, type(None)), "network": (bool,)},
    "problems": {"address": (str,), "message": (str,), "line": (int, type(None))},
}


def plan_section(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """findings.json's `run.plan` from a snapshot manifest written by a plan run, else None.
    A section of the wrong shape (a snapshot edited after the run), or whose copy of the plan
    file is not the file it names, is a `SnapshotError`."""
    section = manifest.get(SOURCE_KEY)
    if section is None:
        return None

    def bad(why: str) -> SnapshotError:
        return SnapshotError(f"the snapshot manifest's '{SOURCE_KEY}' {why} (edited after the run?)")

    if not isinstance(section, dict):
        raise bad("is not an object")
    for name, types in _PLAN_FIELDS.items():
        if name not in section or not isinstance(section[name], types) or isinstance(section[name], bool):
            raise bad(f"has no valid '{name}'")
    if section["kind"] not in ("terraform-plan", "cloudformation"):
        raise bad(f"names an unknown kind {section['kind']!r}")
    if not all(isinstance(r, str) for r in section["regions"]) or not all(isinstance(n, str) for n in section["notes"]):
        raise bad("has a region or note that is not text")
    overlay = section["overlay"]
    if overlay is not None and not (set(overlay) == {"snapshot", "manifest_sha256"}
                                    and all(isinstance(v, str) for v in overlay.values())):
        raise bad("has an 'overlay' that is not {snapshot, manifest_sha256}")
    for key, fields in _ROW_FIELDS.items():
        for i, row in enumerate(section[key]):
            if not isinstance(row, dict) or set(row) != set(fields) or any(
                    not isinstance(row[f], t) or (isinstance(row[f], bool) and bool not in t)
                    for f, t in fields.items()):
                raise bad(f"has a malformed '{key}[{i}]'")
    copy = section.get(COPY_KEY)
    if not isinstance(copy, str) or (manifest.get("files") or {}).get(copy) != section["sha256"]:
        raise bad(f"names a copy of the plan file ({copy!r}) the snapshot does not hold with its SHA-256")
    return {name: section[name] for name in _PLAN_FIELDS}


def plan_complete(plan: Mapping[str, Any]) -> bool:
    """Whether the plan is fully modelled: no problem and no unsupported network resource."""
    return not plan["problems"] and not any(u["network"] for u in plan["unsupported"])


def plan_gaps(plan: Mapping[str, Any], evaluation: Evaluation) -> list[Gap]:
    """The not_assessed entries of a plan run: one per problem of the plan (with the rules
    that have an ERROR on the resource it concerns) and one per unsupported resource of a type
    that changes the network (the network the plan builds is then not fully known)."""
    kind, file, account = plan["kind"], plan["file"], plan["account"]
    region = ",".join(plan["regions"])
    erred: dict[str, set[str]] = {}
    for f in evaluation.findings:
        declared = f.resource.declared
        if f.status == "ERROR" and declared is not None:
            erred.setdefault(str(declared.get("address", "")), set()).add(f.rule_id)
    out = []
    for p in plan["problems"]:
        where = f"{file}:{p['line']}" if p["line"] is not None else file
        out.append(Gap(account, region, (f"{kind}:{p['address']}",),
                       f"{kind} {where}: {p['address']}: {p['message']} (the values it concerns are unknown)",
                       tuple(sorted(erred.get(p["address"], ())))))
    for u in plan["unsupported"]:
        if not u["network"]:
            continue
        where = f"{file}:{u['line']}" if u["line"] is not None else file
        out.append(Gap(account, region, (f"{kind}:{u['address']}",),
                       f"{kind} {where}: {u['address']} ({u['type']}, {u['action']}) is not modelled: this tool "
                       "does not read that network resource type, so the network the plan builds is not fully "
                       "known", ()))
    return out


def evaluate_snapshot(snapshot: Snapshot, inputs: ScanInputs, *, runner: Runner | None = None) -> dict[str, Any]:
    """The findings.json document for a verified snapshot. With `runner` the rules are
    evaluated component by component (`auditor.partition`; e.g. on Dask workers): the same
    document (the topology is still drawn from the whole model, here)."""
    manifest = snapshot.manifest
    model = build_model(snapshot.records, manifest.get("files"), costs=manifest.get("costs"))
    evaluation = _evaluate(model, manifest, inputs, None if runner is None else (snapshot.records, runner))
    frameworks = inputs.profile.frameworks if inputs.profile is not None else ()
    run = RunInfo(manifest=manifest, manifest_sha256=snapshot.manifest_sha256, config_digest=inputs.config_digest,
                  organization=inputs.organization, scope=inputs.scope, waivers=inputs.waivers,
                  overrides=inputs.config.overrides if inputs.config is not None else (),
                  profile=inputs.profile.summary() if inputs.profile is not None else None, frameworks=frameworks,
                  config=inputs.config, topology=topology_section(model, evaluation.findings, inputs.scope),
                  plan=plan_section(manifest),
                  responses=inputs.responses, costs=costs_section(model, evaluation, inputs))
    return build_document(evaluation, inputs.packs, run, lazy=True)


def costs_section(model: Model, evaluation: Evaluation, inputs: ScanInputs) -> dict[str, Any]:
    """findings.json's ``network_costs`` for the run (auditor/costs/view.py), or why there is none."""
    from auditor.costs.traffic import region_traffic, traffic_settings
    from auditor.costs.view import cost_section, not_computed, required_interface_services

    if inputs.prices is None:
        return not_computed("no price table")
    if inputs.traffic is not None:
        traffic, collected, window = partial(inputs.traffic, model), inputs.traffic_collected, inputs.traffic_window_days
    else:
        collected, window = traffic_settings(model)
        traffic = partial(region_traffic, model)
    return cost_section(model, evaluation.findings, inputs.scope, inputs.prices,
                        required_interface_services(evaluation.rules), traffic,
                        traffic_collected=collected, window_days=window)


def _uncovered(config: AuditConfig | None, covered: Iterable[tuple[str, str]]) -> list[ScopeGap]:
    """The account-regions `config` names that the snapshot does not cover (a snapshot
    re-evaluated with another config's accounts or regions)."""
    if config is None:
        return []
    ids: list[str | None] = [a.id for a in config.accounts] if config.discovery is None else []
    if config.discovery is None and not config.accounts:
        ids = [None]   # the default credentials: an account known only at run time
    return snapshot_gaps(ids, config.regions, covered)


def write_findings(document: Mapping[str, Any], folder: Path) -> Path:
    """Write ``folder/findings.json`` (the folder is made) and return its path.

    Written to a side file, then renamed over the target: a write that fails (full disk,
    permissions) raises OSError and leaves neither a half findings.json nor the side file;
    an earlier findings.json there is then left as it was."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FINDINGS_FILE
    tmp = path.with_suffix(".json.partial")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            out.writelines(iter_text(document))
        tmp.replace(path)
    finally:
        if tmp.is_symlink() or tmp.exists():   # failed before the rename
            tmp.unlink()
    return path


def summary_lines(document: Mapping[str, Any], fail_on: str) -> list[str]:
    """The console summary: results by severity, framework control status, gaps, waivers."""
    s = document["summary"]
    f = s["findings"]
    lines = scope_gap_lines(document)
    lines += [f"findings: {f['FAIL']} FAIL, {f['ERROR']} ERROR, {f['WAIVED']} WAIVED, {f['PASS']} PASS, "
             f"{f['NOT_APPLICABLE']} not applicable ({_n(len(document['rules']), 'rule')})"]
    lines.append("  FAIL by severity: " + ", ".join(f"{sev} {s['by_severity'][sev]['FAIL']}" for sev in SEVERITIES))
    for fw in document["frameworks"]:
        counts: dict[str, int] = {}
        for c in fw["controls"]:
            counts[c["status"]] = counts.get(c["status"], 0) + 1
        shown = ", ".join(f"{n} {st}" for st, n in sorted(counts.items(), key=lambda kv: _ORDER.index(kv[0])))
        lines.append(f"  {fw['title']} {fw['version']}: {fw['status']} ({_n(len(fw['controls']), 'control')}: {shown})")
    scope = document["run"]["scope"]
    outside = sum(scope["resources_out_of_scope"].values())
    if outside:
        lines.append(f"  out of scope: {_n(outside, 'resource')} (no findings)")
    stale = [w for w in document["waivers"] if w["status"] in ("stale", "expired")]
    for w in stale:
        lines.append(f"  waiver {w['id']} is {w['status']}" + (" (it matched no failing result)"
                                                              if w["status"] == "stale" else f" (expired {w['expires']})"))
    n = violations(document, fail_on)
    if n:
        verdict = f"NON-COMPLIANT: {n} FAIL finding(s) at or above severity '{fail_on}'"
        if not s["complete"]:
            verdict += "; and INCOMPLETE: some checks could not be assessed (more may fail)"
    elif not s["complete"] and document.get("scope_gaps") and not f["ERROR"]:
        verdict = "INCOMPLETE: nothing was assessed in some places (scope gaps above); no verdict"
    elif not s["complete"]:
        verdict = "INCOMPLETE: some checks could not be assessed (ERROR findings); no verdict"
    elif f["FAIL"]:
        verdict = f"no FAIL at or above '{fail_on}' ({f['FAIL']} below it)"
    else:
        verdict = "COMPLIANT: every in-scope check passed (or is waived)"
    lines += cost_lines(document)
    lines.append(verdict)
    return plan_lines(document) + gap_lines(document) + lines   # what could not be assessed, and why, comes first


_MAX_PLAN_LINES = 20
_CHANGES = (("create", "created"), ("update", "updated"), ("replace", "replaced"), ("delete", "deleted"))


def plan_lines(document: Mapping[str, Any]) -> list[str]:
    """The summary's lines about a plan run (findings.json `run.plan`): what was read, how
    much of it is modelled and changed, then each unsupported resource and each problem.
    Nothing for a run of collected evidence."""
    plan = document["run"].get("plan")
    if not plan:
        return []
    actions = [r["action"] for r in plan["resources"]]
    changes = ", ".join(f"{actions.count(a)} {word}" for a, word in _CHANGES if actions.count(a))
    unsupported, problems = plan["unsupported"], plan["problems"]
    network = sum(1 for u in unsupported if u["network"])
    over = plan.get("overlay")
    lines = [f"plan: {safe(plan['file'])} ({safe(plan['kind'])}): {_n(len(actions), 'resource')} modelled"
             f" ({changes or 'no change'}), {len(unsupported)} unsupported ({network} network), "
             f"{_n(len(problems), 'problem')}"
             + (f"; laid over the snapshot {safe(over['snapshot'])}" if over else "")]
    rows = [f"  unsupported{' (network: assessment INCOMPLETE)' if u['network'] else ''}: {safe(u['address'])} "
            f"({safe(u['type'])}, {safe(u['action'])}"
            + (f", line {u['line']})" if u["line"] is not None else ")") for u in
            sorted(unsupported, key=lambda u: (not u["network"], u["address"]))]
    rows += [f"  problem: {safe(p['address'])}" + (f" (line {p['line']})" if p["line"] is not None else "")
             + f": {safe(p['message'])}" for p in problems]
    lines += rows[:_MAX_PLAN_LINES]
    if len(rows) > _MAX_PLAN_LINES:
        lines.append(f"  ... and {len(rows) - _MAX_PLAN_LINES} more (see run.plan in findings.json)")
    return lines


_MAX_COST_LINES = 10


def cost_lines(document: Mapping[str, Any], shown: int = _MAX_COST_LINES) -> list[str]:
    """The summary's cost lines (findings.json `network_costs`): one per VPC with a running NAT
    gateway or missing required endpoints (at most `shown`), then what is unknown."""
    costs = document.get("network_costs")
    if not isinstance(costs, Mapping) or costs.get("status") != "computed":
        return []
    cur = safe(str(costs.get("currency", "")))
    rows = []
    for v in costs["vpcs"]:
        nat, ep = v["nat"], v["endpoints"]
        running = any(g["state"].lower() not in ("deleting", "deleted", "failed") for g in nat["gateways"])
        if not running and not ep["missing"]:
            continue
        parts = []
        if not v["priced"]:
            parts.append(f"no price: {safe(v['price_note'])}")
        else:
            if running:
                parts.append(f"NAT {_amount(nat['total'], cur)} (hours {nat['hours']} + processing "
                             f"{nat['processing'] if nat['processing'] is not None else 'unknown'})")
            if ep["required"]:
                parts.append(f"required endpoints {_amount(ep['total'], cur)} (hours {ep['hours'] or 'unknown'}"
                             f"{'' if ep['total'] is not None else ', processing unknown'}"
                             f"; {len(ep['missing'])} of {len(ep['required'])} missing)")
            even = {b["monthly_gb"] for b in v["break_even"] if b["monthly_gb"] is not None}
            if len(even) == 1:
                parts.append(f"break-even {even.pop()} GB/month per service")
        name = f" {safe(v['name'])}" if v.get("name") else ""
        rows.append(f"  cost: {safe(v['vpc'])}{name} ({safe(v['account'])}, {safe(v['region'])}): " + "; ".join(parts))
    if not rows:
        return []
    lines = rows[:shown]
    if len(rows) > shown:
        lines.append(f"  ... and {len(rows) - shown} more VPCs (see network_costs in findings.json)")
    traffic = costs.get("traffic") or {}
    if not traffic.get("collected") or any(v["traffic"]["status"] != "measured" for v in costs["vpcs"]):
        lines.append(f"  {safe(str(traffic.get('note', '')))}")   # what is unknown, and why
    if traffic.get("collected"):
        # Where it was asked for and could not be read, the cause itself (AccessDenied ...), once per place.
        failed = sorted({(v["account"], v["region"], v["traffic"]["reason"]) for v in costs["vpcs"]
                         if v["traffic"]["status"] == "failed"})
        for account, region, reason in failed[:_MAX_COST_LINES]:
            lines.append(f"  traffic unknown in {safe(account)}/{safe(region)}: {safe(reason)}")
        if len(failed) > _MAX_COST_LINES:
            lines.append(f"  ... and {len(failed) - _MAX_COST_LINES} more account-regions without traffic "
                         "(see network_costs in findings.json)")
    return lines


def _amount(value: str | None, currency: str) -> str:
    return f"{value} {currency}/month" if value is not None else "unknown"


_MAX_GAP_LINES = 20
_MAX_ACCOUNT_LINES = 20


def gap_lines(document: Mapping[str, Any]) -> list[str]:
    """The summary's first lines: every account-region that could not be (fully) assessed
    with its cause (an unreachable account once, with its regions), then the status of each
    account (reached as which identity, or why not). Nothing when every call was answered
    and every account reached. Every value from AWS or the document is shown by `console.safe`."""
    gaps = document.get("not_assessed", [])
    accounts = document["run"].get("accounts", [])
    lines: list[str] = []
    if gaps:
        lines.append(f"NOT ASSESSED ({_n(len(gaps), 'gap')}; the rules they affect have ERROR findings; "
                     "not_assessed in findings.json lists them all):")
        unreachable: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        by_place: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        problems = {a["id"]: a.get("problem", "") for a in accounts}
        for g in gaps:
            if problems.get(g["account"]) and problems[g["account"]] == g["reason"]:
                unreachable.setdefault((g["account"], g["reason"]), []).append(g)
            else:
                by_place.setdefault((g["account"], g["region"]), []).append(g)
        out: list[str] = []
        for (account, reason), entries in unreachable.items():
            rules = {r for g in entries for r in g["rules"]}
            where = ", ".join(safe(g["region"]) for g in entries)
            out.append(f"  account {safe(account)} (regions {where}): {safe(reason)} "
                       f"({_n(len(rules), 'rule')} not assessed)")
        for (account, region), entries in by_place.items():
            # The calls that failed first, then those not attempted because of them.
            entries = sorted(entries, key=lambda g: ("(not attempted" in g["reason"], g["calls"]))
            rules = {r for g in entries for r in g["rules"]}
            shown = "; ".join(safe(g["reason"]) for g in entries[:3])
            more = f"; and {_n(len(entries) - 3, 'more call')}" if len(entries) > 3 else ""
            effect = f"{_n(len(rules), 'rule')} not assessed" if rules else "no rule left unassessed by it"
            out.append(f"  {safe(account)}/{safe(region)}: {shown}{more} ({effect})")
        lines += out[:_MAX_GAP_LINES]
        if len(out) > _MAX_GAP_LINES:
            lines.append(f"  ... and {len(out) - _MAX_GAP_LINES} more account-regions (see not_assessed)")
    if gaps or any(a.get("status", "assessed") != "assessed" for a in accounts):
        lines.append("accounts:")
        ranked = sorted(accounts, key=lambda a: (a.get("status") == "assessed", a["id"]))
        for a in ranked[:_MAX_ACCOUNT_LINES]:
            status = safe(a.get("status", "")).upper().replace("_", " ")
            lines.append(f"  {safe(a['id'])}: {status}: {safe(a.get('detail', ''))}")
        if len(ranked) > _MAX_ACCOUNT_LINES:
            lines.append(f"  ... and {len(ranked) - _MAX_ACCOUNT_LINES} more accounts (see run.accounts)")
    return lines


def scope_gap_lines(document: Mapping[str, Any], shown: int = 8) -> list[str]:
    """The console's first lines when the run assessed less than it meant to (findings.json
    `scope_gaps`): each gap with its place, why, and what the scope may have meant."""
    gaps = document.get("scope_gaps") or []
    if not gaps:
        return []
    lines = [f"NOTHING ASSESSED in {_n(len(gaps), 'place')} (scope gaps; the run is incomplete; "
             "see scope_gaps in findings.json):"]
    for gap in gaps[:shown]:
        where = f"{gap['account']}/{gap['region']}: " if gap["account"] or gap["region"] else ""
        lines.append(f"  {where}{gap['reason']}")
        lines.extend(f"    {hint}" for hint in gap["suggestions"])
    if len(gaps) > shown:
        lines.append(f"  ... and {len(gaps) - shown} more")
    return lines


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


_ORDER = STATUSES   # worst first (auditor/vocabulary.py)
