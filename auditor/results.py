"""findings.json: the versioned result of one evaluation (schema: auditor/schemas/findings.schema.json).

One pure step from an `Evaluation` plus run metadata to a JSON document. The document
holds no wall-clock time and no machine path: the same snapshot, packs, config and
waivers give a byte-identical file (`dumps` sorts keys and findings).

Framework control status is about requirements, never a percentage of findings: a control
is FAIL when any rule citing it fails on any in-scope resource, else ERROR when any could
not be assessed, else WAIVED when failures are covered by active waivers, else PASS when
its rules passed on at least one resource, else NOT_APPLICABLE (nothing it applies to).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator, Mapping

from auditor import __version__
from auditor.config import AuditConfig, Scope
from auditor.findings import Finding
from auditor.findings_text import iter_findings, load_without_findings  # noqa: F401 - also read from here
from auditor.rules.engine import ORGANIZATION, Evaluation, Gap, account_id, account_problems
from auditor.rules.frameworks import THIRD_PARTY, AuthorityMap, Catalogue, load_authority, load_catalogues
from auditor.rules.packs import Pack, PackSet, Rule
from auditor.rules.procedures import rule_calls
from auditor.rules.waivers import WaiverSet, register_rows
from auditor.topology import carry_layout
from auditor.responses import ResponseSet, responses_section
from auditor.vocabulary import FAIL_ON_NONE, SEVERITIES, STATUSES, worst

FORMAT = "private-network-auditor/findings"
FORMAT_VERSION = 1
PACK_AUTHORITY = "pack-author"   # a citation no catalogue-check mapping backs (e.g. a user's own pack)


@dataclass(frozen=True)
class RunInfo:
    """What the document says about the run besides the findings."""

    manifest: Mapping[str, Any]
    manifest_sha256: str
    config_digest: str = ""
    organization: str = ""
    scope: Scope = Scope()
    waivers: WaiverSet | None = None
    profile: Mapping[str, Any] | None = None
    frameworks: tuple[str, ...] = ()     # report only these frameworks (a profile's); empty: all cited
    overrides: tuple[str, ...] = ()      # command-line options merged into the config (its `overrides:`)
    config: AuditConfig | None = None    # where the config file is, for `run.config.file` and packs' `selected_at`
    topology: Mapping[str, Any] | None = None   # the network diagrams (auditor.topology); None: not made
    responses: ResponseSet | None = None  # management responses: findings.json `responses` (absent without)
    plan: Mapping[str, Any] | None = None  # a plan or template run: findings.json `run.plan` (absent without)
    costs: Mapping[str, Any] | None = None  # findings.json `network_costs` (auditor.costs.view); None: absent


def _sha256(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


# Built-in data folders (auditor.resources) and where they stand in the project's source.
_BUILTIN_PLACES = (("rules", "rules"), ("sample_configs", "sample_configs"))


def stable_path(path: str | Path) -> str:
    """A file's path as findings.json records it, never a path of this machine: a built-in
    file (a built-in pack, the demo's config) by its place in the project's source
    (``rules/packs/network.yaml``, ``sample_configs/demo-audit.yaml``) wherever the tool is
    installed; a file under the current folder relative to it (the repository a CI job runs
    in: what SARIF's ``%SRCROOT%`` stands for); else its name alone. POSIX separators."""
    from auditor.resources import builtin_dir

    if not str(path) or str(path).startswith("<"):     # "<config>": text given in memory
        return ""
    p = Path(path).resolve()
    for name, place in _BUILTIN_PLACES:
        try:
            return f"{place}/{p.relative_to(builtin_dir(name).resolve()).as_posix()}"
        except (ValueError, FileNotFoundError):
            pass
    try:
        return p.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.name


def pack_selections(config: AuditConfig | None, packs: Iterable[Pack], *, profile: str = "") -> dict[str, dict[str, Any]]:
    """Pack id -> ``{"file", "line"}``: the line of the audit config that selected the pack.

    The ``rule_packs`` entry naming it (by id, or a path holding its file); else, in a run
    with a compliance profile (`profile`: its id), the top-level line naming the profile (by
    id or by the path of its file, whatever the key is called); else the ``rule_packs`` key
    (a pack another included); else the ``scope`` key (every built-in pack is selected when
    the config names none: the scope is what the config chose); else line 1.
    Empty without a config file (text held in memory, or no config at all)."""
    from auditor.errors import InputError
    from auditor.yamlpos import load_yaml

    if config is None:
        return {}
    file = stable_path(config.source)
    if not file:
        return {}
    try:
        doc = load_yaml(config.source)
    except (InputError, OSError):
        return {}
    data = doc.data if isinstance(doc.data, dict) else {}
    entries = data.get("rule_packs")
    if not isinstance(entries, list):
        entries = []
    fallback = [("rule_packs",)] if "rule_packs" in data else []
    if profile:
        fallback = [(k,) for k, v in data.items()
                    if isinstance(v, str) and profile in (v, Path(v).stem)][:1] + fallback
    fallback += [("scope",)] if "scope" in data else []
    out: dict[str, dict[str, Any]] = {}
    for pack in packs:
        line = 0
        pack_file = Path(pack.file).resolve()
        for i, entry in enumerate(entries):
            if not isinstance(entry, str):
                continue
            target = (config.base_dir / entry).resolve()
            if entry == pack.id or pack_file == target or target in pack_file.parents:
                line = doc.where(("rule_packs", i))[0]
                break
        if not line:
            line = doc.where(fallback[0], key=True)[0] if fallback else 1
        out[pack.id] = {"file": file, "line": line}
    return out


def _pack_json(pack: Pack, selected: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {"id": pack.id, "version": pack.version, "title": pack.title, "builtin": pack.builtin,
            "sha256": _sha256(pack.file), "rules": [r.id for r in pack.rules],
            "parameters": {n: p.value for n, p in sorted(pack.parameters.items())},
            "file": stable_path(pack.file), "selected_at": dict(selected[pack.id]) if pack.id in selected else None}


def _rule_json(rule: Rule, counts: Mapping[str, int]) -> dict[str, Any]:
    return {"id": rule.id, "title": rule.title, "severity": rule.severity, "pack": rule.pack,
            "resource": rule.resource, "calls": list(rule_calls(rule)), "implements": list(rule.implements),
            "frameworks": {fw: list(cs) for fw, cs in sorted(rule.frameworks.items())},
            "for_each": list(rule.items) if rule.items is not None else None,
            "status": worst(s for s, n in counts.items() if n),
            "counts": {s: counts.get(s, 0) for s in STATUSES},
            "source": {"file": stable_path(rule.source[0]), "line": rule.source[1]}}


def control_authorities(rule: Rule, framework: str, control: str, authority: AuthorityMap) -> set[str]:
    """Who says the rule supports the control: the authorities of its kept row in the mapping
    review table (rules/frameworks/mapping-review.yaml), else the pack's author (not reviewed).
    `authority` is kept for callers; the review table is what the reports print."""
    from auditor.rules.mapping_review import mapping_json

    return set(mapping_json(framework, control, rule.id)["authorities"]) or {PACK_AUTHORITY}


def _frameworks(rules: tuple[Rule, ...], per_rule: Mapping[str, Counter[str]], only: tuple[str, ...],
                catalogues: Mapping[str, Catalogue], authority: AuthorityMap) -> list[dict[str, Any]]:
    cited: dict[str, dict[str, list[Rule]]] = {}
    for rule in rules:
        for fw, cited_controls in rule.frameworks.items():
            if only and fw not in only:
                continue
            for control in cited_controls:
                cited.setdefault(fw, {}).setdefault(str(control), []).append(rule)
    out = []
    for fw in sorted(cited):
        cat = catalogues.get(fw)
        controls: list[dict[str, Any]] = []
        for control, crules in sorted(cited[fw].items()):
            counts: Counter[str] = Counter()
            for r in crules:
                counts.update(per_rule[r.id])
            auths = sorted(set().union(*(control_authorities(r, fw, control, authority) for r in crules)))
            info = cat.controls.get(control) if cat is not None else None
            controls.append({
                "id": control, "title": info.title if info is not None else "",
                "status": worst(s for s, n in counts.items() if n),
                "rules": sorted(r.id for r in crules),
                "counts": {s: counts.get(s, 0) for s in STATUSES},
                "authorities": auths,
                "third_party_only": all(a in THIRD_PARTY for a in auths),
                "mappings": _mappings(fw, control, crules),
            })
        out.append({"id": fw, "title": cat.title if cat else fw, "version": cat.version if cat else "",
                    "status": worst(c["status"] for c in controls), "controls": controls})
    return out


def _mappings(framework: str, control: str, rules: list[Rule]) -> list[dict[str, Any]]:
    """Per citing rule: the authority, source and rationale of its reviewed mapping (or the pack
    author's, not reviewed)."""
    from auditor.rules.mapping_review import mapping_json

    return [mapping_json(framework, control, r.id) for r in sorted(rules, key=lambda r: r.id)]


def _scope_json(scope: Scope, evaluation: Evaluation) -> dict[str, Any]:
    return {"everything": scope.everything, "vpc_ids": sorted(scope.vpc_ids),
            "tags": {k: list(v) for k, v in scope.tags},
            "resources_in_scope": dict(evaluation.in_scope),
            "resources_out_of_scope": dict(evaluation.out_of_scope),
            "resources_scope_undecided": dict(evaluation.scope_undecided)}


ACCOUNT_STATUSES = ("assessed", "incomplete", "not_assessed")


def accounts_json(manifest: Mapping[str, Any], gaps: Iterable[Gap]) -> list[dict[str, Any]]:
    """run.accounts: one row per account of the run with its status, derived from the data:
    ``not_assessed`` when it could not be collected at all (`problem` says why: no credentials,
    an expired SSO token, AssumeRole refused, ...), ``incomplete`` when it was reached but some
    of its calls failed (`gaps` entries of not_assessed name them), else ``assessed``.
    `identity` is the ARN sts:GetCallerIdentity answered in it; `detail` says it in words.
    When organization discovery failed, a row ``organization`` says why no account was reached."""
    per_account: Counter[str] = Counter(g.account for g in gaps)
    task_regions: dict[str, set[str]] = {}
    for t in manifest.get("tasks", []):
        task_regions.setdefault(account_id(t.get("account")), set()).add(str(t.get("region", "")))
    rows = []
    for a in manifest.get("accounts", []):
        rows.append(_account_row(account_id(a.get("id")), str(a.get("name") or ""), str(a.get("problem") or ""),
                                 str(a.get("role_arn") or ""), str((a.get("identity") or {}).get("Arn", "")),
                                 task_regions, per_account, a.get("regions") or (), str(a.get("source") or "")))
    known = {r["id"] for r in rows}
    for account, problem in sorted(account_problems(manifest).items()):
        if account not in known:   # organization discovery: no account was listed
            rows.append(_account_row(account, "organization discovery" if account == ORGANIZATION else "",
                                     problem, "", "", task_regions, per_account, ()))
    return sorted(rows, key=lambda r: r["id"])


# The `source` of a snapshot manifest's account that a plan or template declared (auditor.iac.base.KINDS):
# it was read from the file, not reached in AWS.
_PLAN_SOURCES = ("terraform-plan", "cloudformation")


def _account_row(account: str, name: str, problem: str, role_arn: str, identity: str,
                 task_regions: Mapping[str, set[str]], gaps: Mapping[str, int],
                 regions: Iterable[str], source: str = "") -> dict[str, Any]:
    through = f" through role {role_arn}" if role_arn else ""
    if source in _PLAN_SOURCES and not identity:
        return _plan_account_row(account, name, source, task_regions, gaps, regions)
    if problem:
        status = "not_assessed"
        detail = (f"reached as {identity}{through}, but not assessed: {problem}" if identity
                  else f"not reached: {problem}")
    elif gaps.get(account):
        status = "incomplete"
        detail = (f"reached as {identity or 'an unknown identity'}{through}; {gaps[account]} gap(s): "
                  "some calls failed (see not_assessed)")
    else:
        status = "assessed"
        detail = f"reached as {identity or 'an unknown identity'}{through}"
    return {"id": account, "name": name, "problem": problem, "role_arn": role_arn, "identity": identity,
            "status": status, "detail": detail, "gaps": gaps.get(account, 0),
            "regions": sorted({str(r) for r in regions} | task_regions.get(account, set()))}


def _plan_account_row(account: str, name: str, source: str, task_regions: Mapping[str, set[str]],
                      gaps: Mapping[str, int], regions: Iterable[str]) -> dict[str, Any]:
    """run.accounts' row of the account a plan or template deploys into (not reached in AWS)."""
    n = gaps.get(account, 0)
    from auditor.iac.base import KIND_NAMES

    detail = f"declared in the {KIND_NAMES.get(source, source)}, not read from AWS" + (
        f"; {n} gap(s): some data is not in the plan or not known before deploy (see not_assessed)" if n else "")
    return {"id": account, "name": name, "problem": "", "role_arn": "", "identity": "",
            "status": "incomplete" if n else "assessed", "detail": detail, "gaps": n,
            "regions": sorted({str(r) for r in regions} | task_regions.get(account, set()))}


def _row_json(row: dict[str, Any]) -> dict[str, Any]:
    """A register row with its source as file name and line (no machine path)."""
    file, _, line = str(row["source"]).rpartition(":")
    return {**row, "source": f"{Path(file).name}:{line}"}


def carry_places(document: dict[str, Any], recorded_json: bytes) -> None:
    """Give a re-evaluated `document` (``auditor verify``: the bundle's copies of the inputs)
    the places the `recorded_json` findings.json names outside the bundle, which the copies
    cannot say: the config file's path, and each user pack's file and the config line that
    selected it (the bundle renames both). Built-in packs' files, the config lines that
    selected them (unless command-line overrides were merged into the config) and every rule's
    line are derived again, and so checked. A `recorded_json` that is not a findings.json
    changes nothing (the comparison then says what differs)."""
    try:
        recorded = json.loads(recorded_json)
        old_run = recorded["run"]
        old_config = old_run.get("config") or {}
        old_packs = {p.get("id"): p for p in old_run.get("packs") or [] if isinstance(p, dict)}
    except (ValueError, KeyError, TypeError, AttributeError):
        return
    run = document["run"]
    if isinstance(old_config, dict) and "file" in old_config:
        run["config"]["file"] = old_config["file"]
    # With command-line overrides the bundle keeps the effective config (a header and the merged
    # document), whose lines are not the file's: the lines that selected built-in packs are then
    # carried as recorded too.
    # Without a config file (a run of command-line options alone) nothing selected them: null.
    overridden = bool(run["config"].get("overrides")) or not run["config"].get("file")
    user_files: dict[str, str] = {}
    for pack in run["packs"]:
        old = old_packs.get(pack["id"])
        if pack["builtin"] and overridden:
            pack["selected_at"] = old.get("selected_at") if old is not None else None
        elif pack["builtin"] and isinstance(pack.get("selected_at"), dict):   # the line is the copy's
            pack["selected_at"] = {**pack["selected_at"], "file": run["config"]["file"]}
        if pack["builtin"] or old is None:
            continue
        for key in ("file", "selected_at"):
            if key in old:
                pack[key] = old[key]
        user_files[pack["id"]] = str(old.get("file", ""))
    carry_layout(document, recorded)   # Graphviz's coordinates, when the graph is the same
    _carry_price_file(document, recorded)
    for rule in document["rules"]:
        if rule["pack"] in user_files and "source" in rule:
            rule["source"] = {**rule["source"], "file": user_files[rule["pack"]]}


def _carry_price_file(document: dict[str, Any], recorded: Mapping[str, Any]) -> None:
    """The name the run gave a price table of its own (the bundle keeps a renamed copy): carried
    when the copy is the same file (same SHA-256); the figures are derived again, and so checked."""
    fresh, old = document.get("network_costs"), recorded.get("network_costs")
    if not isinstance(fresh, dict) or not isinstance(old, dict):
        return
    new_prices, old_prices = fresh.get("prices"), old.get("prices")
    if (isinstance(new_prices, dict) and isinstance(old_prices, dict) and "file" in old_prices
            and new_prices.get("sha256") == old_prices.get("sha256")):
        new_prices["file"] = old_prices["file"]


def build_document(evaluation: Evaluation, packs: PackSet, run: RunInfo, *, lazy: bool = False) -> dict[str, Any]:
    """The findings.json document (plain JSON data; with `lazy`, its findings stay `Finding`
    objects until `iter_text` writes them)."""
    findings = evaluation.findings
    per_rule: dict[str, Counter[str]] = {r.id: Counter() for r in evaluation.rules}
    by_severity: dict[str, Counter[str]] = {s: Counter() for s in SEVERITIES}
    for f in findings:
        per_rule.setdefault(f.rule_id, Counter())[f.status] += 1
        by_severity[f.severity][f.status] += 1
    by_status = Counter(f.status for f in findings)
    catalogues = load_catalogues()
    authority = load_authority(catalogues=catalogues)
    m = run.manifest
    waivers = run.waivers or WaiverSet()
    rows = register_rows(waivers, evaluation.waivers_used, evaluation.today)
    rules_json = [_rule_json(r, per_rule[r.id]) for r in evaluation.rules]
    selected = pack_selections(run.config, packs.packs, profile=str((run.profile or {}).get("id") or ""))
    assessor = run.config.assessor if run.config is not None else None
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run": {
            "tool": {"name": "private-network-auditor", "version": __version__},
            "snapshot": {"manifest_sha256": run.manifest_sha256, "started": m.get("started", ""),
                         "finished": m.get("finished", ""), "complete": bool(m.get("complete")),
                         "collector_version": (m.get("tool") or {}).get("version", ""),
                         "calls": len(m.get("calls", [])), "errors": len(m.get("errors", []))},
            "config": {"digest": run.config_digest, "organization": run.organization,
                       "collected_with_digest": (m.get("config") or {}).get("digest", ""),
                       "overrides": list(run.overrides),
                       "file": stable_path(run.config.source) if run.config is not None else ""},
            "compliance_profile": dict(run.profile) if run.profile else None,
            "assessed_on": evaluation.today.isoformat(),
            "packs": [_pack_json(p, selected) for p in packs.packs],
            "waivers": {"digest": waivers.digest, "count": len(waivers)} if run.waivers is not None else None,
            "accounts": accounts_json(m, evaluation.gaps),
            "regions": list(m.get("regions", [])),
            "scope": _scope_json(run.scope, evaluation),
            **({"assessor": assessor.to_json()} if assessor is not None else {}),
            **({"plan": dict(run.plan)} if run.plan is not None else {}),
        },
        "summary": {
            "findings": {s: by_status.get(s, 0) for s in STATUSES},
            "by_severity": {sev: {s: c.get(s, 0) for s in STATUSES} for sev, c in by_severity.items()},
            "rules": {s: sum(1 for r in rules_json if r["status"] == s) for s in STATUSES},
            # Nothing assessed is never complete: a scope gap counts like an ERROR finding.
            "complete": bool(m.get("complete")) and not by_status.get("ERROR") and not evaluation.scope_gaps,
            "stale_waivers": sum(1 for r in rows if r.status == "stale"),
        },
        "rules": rules_json,
        "frameworks": _frameworks(evaluation.rules, per_rule, run.frameworks, catalogues, authority),
        "waivers": [_row_json(r.as_dict()) for r in rows],
        "not_assessed": [{"account": g.account, "region": g.region, "calls": list(g.calls), "reason": g.reason,
                          "rules": list(g.rules)} for g in evaluation.gaps],
        "scope_gaps": [g.to_json() for g in evaluation.scope_gaps],
        "findings": list(findings) if lazy else [f.to_json() for f in findings],
        **({"topology": dict(run.topology)} if run.topology is not None else {}),
        **({"network_costs": dict(run.costs)} if run.costs is not None else {}),
    }
    if run.responses is not None:   # absent without a responses file (reports: "not recorded")
        document["responses"] = responses_section(run.responses, findings, evaluation.today.isoformat())
    return document


def dumps(document: Mapping[str, Any]) -> str:
    """Canonical text: sorted keys, one space indent, UTF-8 as is, a final newline."""
    return "".join(iter_text(document))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False)


def iter_text(document: Mapping[str, Any]) -> Iterator[str]:
    """The canonical text of `document` in pieces, one finding at a time, so that a large run
    is written without holding its whole text (or every finding as JSON) at once. Findings
    may be `Finding` objects (made JSON as they are written) or JSON data. The pieces joined
    are exactly ``json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n"``."""
    findings = document.get("findings")
    if not findings:
        yield _canonical(dict(document)) + "\n"
        return
    # "findings" sorts first among the document's keys: the text is the head, the findings
    # indented two levels, then the rest of the document as json.dumps writes it.
    rest = _canonical({k: v for k, v in document.items() if k != "findings"})
    assert min(document) == "findings" and rest.startswith("{\n")
    yield '{\n "findings": [\n'
    for i, f in enumerate(findings):
        data = f.to_json() if isinstance(f, Finding) else f
        text = _canonical(data).replace("\n", "\n  ")
        yield ("  " if i == 0 else ",\n  ") + text
    yield "\n ],\n" + rest[2:] + "\n"


def violations(document: Mapping[str, Any], fail_on: str) -> int:
    """FAIL findings at or above severity `fail_on` (`none`: never)."""
    if fail_on == FAIL_ON_NONE:
        return 0
    limit = SEVERITIES.index(fail_on)
    return sum(c["FAIL"] for sev, c in document["summary"]["by_severity"].items() if SEVERITIES.index(sev) <= limit)

