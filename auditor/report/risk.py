"""HIPAA risk-analysis input (45 CFR 164.308(a)(1)(ii)(A)) for the reports.

Network findings are not verdicts on a whole HIPAA standard: they are input to the entity's risk
analysis. ``rules/frameworks/risk-analysis.yaml`` gives, per built-in rule that a kept HIPAA
mapping cites, the threat, the vulnerability, a likelihood and an impact, each with its basis.
`hipaa_risk` joins them with the run's result per rule (from findings.json) into the rows the
PDF and HTML print. A rule a HIPAA control cites without risk data (a user's own pack) gets a row
that says so, never a guessed rating.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.errors import InputError
from auditor.rules.frameworks import RISK_FILE, default_folder
from auditor.validation import did_you_mean, schema_problems
from auditor.vocabulary import status_rank
from auditor.yamlpos import load_yaml

FRAMEWORK = "hipaa-security"
RISK_ANALYSIS_SPEC = "164.308(a)(1)(ii)(A)"


@dataclass(frozen=True)
class RiskData:
    threat: str
    threat_basis: str
    vulnerability: str
    vulnerability_basis: str
    likelihood: str
    likelihood_basis: str
    impact: str
    impact_basis: str


@dataclass(frozen=True)
class RiskRow:
    rule: str
    title: str
    status: str                  # the rule's worst status in the run
    term: str                    # in the framework's words
    failing: int                 # FAIL + ERROR findings
    controls: tuple[str, ...]    # the HIPAA ids the rule is cited for
    data: RiskData | None        # None: no risk data for this rule (a user's own pack)


@dataclass(frozen=True)
class RiskSection:
    framework: str
    spec: str
    basis_note: str
    rows: tuple[RiskRow, ...]


def load_risk(path: Path | str | None = None, rule_ids: Iterable[str] | None = None,
              needed: Iterable[str] = ()) -> tuple[str, dict[str, RiskData]]:
    """The basis note and the risk data by rule, validated. `rule_ids`: the rules entries may name
    (default: any); `needed`: rules that must have an entry. Raises InputError with file:line."""
    path = default_folder() / RISK_FILE if path is None else Path(path)
    doc = load_yaml(path)
    problems = schema_problems("risk-analysis", doc)
    data = doc.data if isinstance(doc.data, dict) else {}
    found = data.get("rules")
    rules: dict[str, Any] = found if isinstance(found, dict) else {}
    known = sorted(set(rule_ids)) if rule_ids is not None else []
    for rid in rules:
        if known and rid not in known:
            problems.append(doc.problem(("rules", rid), f"unknown rule '{rid}'{did_you_mean(str(rid), known)}", key=True))
    for rid in sorted(set(needed) - set(rules)):
        problems.append(doc.problem(("rules",), f"no risk data for {rid}, which a kept {FRAMEWORK} mapping cites "
                                                f"(mapping-review.yaml); add threat, vulnerability, likelihood and impact"))
    if problems:
        raise InputError(problems)
    out = {rid: RiskData(threat=e["threat"]["text"], threat_basis=e["threat"]["basis"],
                         vulnerability=e["vulnerability"]["text"], vulnerability_basis=e["vulnerability"]["basis"],
                         likelihood=e["likelihood"]["level"], likelihood_basis=e["likelihood"]["basis"],
                         impact=e["impact"]["level"], impact_basis=e["impact"]["basis"])
           for rid, e in rules.items()}
    return str(data["basis_note"]), out


@lru_cache(maxsize=1)
def builtin_risk() -> tuple[str, Mapping[str, RiskData]]:
    """The built-in risk data, checked against the built-in rules and the mapping review: every rule
    with a kept HIPAA row has an entry."""
    from auditor.rules.mapping_review import builtin_review, builtin_rule_ids

    review = builtin_review()
    needed = {r.rule for r in review.rows if r.kept and r.framework == FRAMEWORK}
    return load_risk(rule_ids=builtin_rule_ids(), needed=needed)


def hipaa_risk(document: Mapping[str, Any], term: Any) -> RiskSection | None:
    """The risk-analysis input rows for the HIPAA framework of `document` (findings.json), or None
    when the run does not report HIPAA. `term(framework, status)` gives the framework's words."""
    fw = next((f for f in document.get("frameworks", []) if f.get("id") == FRAMEWORK), None)
    if fw is None:
        return None
    note, data = builtin_risk()
    cited: dict[str, list[str]] = {}
    for c in fw.get("controls", []):
        for rid in c.get("rules", []):
            cited.setdefault(rid, []).append(c["id"])
    by_id = {r["id"]: r for r in document.get("rules", [])}
    rows = []
    for rid in sorted(cited):
        r = by_id.get(rid, {})
        counts = r.get("counts") or {}
        status = str(r.get("status", "ERROR"))
        rows.append(RiskRow(rule=rid, title=str(r.get("title", "")), status=status, term=term(FRAMEWORK, status),
                            failing=int(counts.get("FAIL", 0)) + int(counts.get("ERROR", 0)),
                            controls=tuple(sorted(cited[rid])), data=data.get(rid)))
    rows.sort(key=lambda x: (status_rank(x.status), x.rule))
    return RiskSection(framework=FRAMEWORK, spec=RISK_ANALYSIS_SPEC, basis_note=note, rows=tuple(rows))
