"""Machine outputs of a `ReportModel`: JUnit XML, SARIF 2.1.0 and CSV.

Every gap of the run (findings.json ``not_assessed``: an account or account-region that could not
be assessed, a call that failed) is in each format besides the ERROR findings of the rules it
affects, so that a gap no rule reads is not lost: a JUnit test suite ``collection`` with an
``error`` test case per gap, a SARIF ``invocations[0].toolExecutionNotifications`` entry per gap
(``executionSuccessful`` false), and a CSV row per gap after the findings (status ERROR, no rule,
resource type ``collection``).

A plan run (findings.json ``run.plan``, auditor/report/plan_view.py) is shown the same way: each
finding of a resource the plan or template declares points at its file and line (SARIF's
location, JUnit's ``file`` and ``line``, the CSV's ``declared`` column), and every resource of a
type not modelled and every problem reading the source is listed (`plan_entries`: a JUnit suite
``plan``, SARIF notifications and, for those leaving the assessment incomplete, results, CSV
rows after the gaps).

Each writer returns bytes that depend only on the model (and, for the JUnit timestamp when
the snapshot has no finish time, SOURCE_DATE_EPOCH): findings in the document's order (sorted
by rule, account, region, resource), keys sorted, no wall clock. Strings that come from AWS
(names, tags, policies) are data in every format: XML-escaped (characters XML 1.0 cannot
carry are replaced), JSON-escaped, and in CSV any cell a spreadsheet would read as a formula
is prefixed with a single quote (OWASP CSV injection guidance).

A finding whose evidence carries an explanation (findings.json ``evidence[].explanation``: how
a derived value was decided, e.g. which hop stopped each part of a subnet's traffic, with its
explanation code) shows it in each format, for a PASS as well as a FAIL (`explanation_lines`):
the CSV's ``explanation`` column (lines joined by `EXPLANATION_JOIN`), the JUnit failure or
error text (a pass or skipped case: its ``system-out``), SARIF's result property
``explanation`` (a PASS, which is no SARIF result, in the run property ``explainedPasses``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, UTC
from collections import Counter
from typing import Any, BinaryIO
from collections.abc import Iterable, Iterator, Mapping

from auditor.report.model import FindingView, NotAssessed, ReportModel, RuleView
from auditor.report.plan_view import PlanProblem, PlanUnsupported, PlanView, plan_fingerprint, sarif_uri, where

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://example.invalid/private-network-auditor"
FINGERPRINT_KEY = "auditorFingerprint/v1"
# GitHub code scanning tells results apart by this key (with the file and the rule): the
# finding's fingerprint here, so two resources failing a rule selected by one config line stay
# two alerts, and an alert follows its finding from run to run.
LINE_HASH_KEY = "primaryLocationLineHash"
_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning's security severity (rule property "security-severity", a number as a
# string): over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. One fixed value per
# severity, inside its band; GitHub has nothing below low, so info ranks as the least low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.1"}
# ERROR (not assessed) results: a failing result (SARIF allows a level only with kind "fail")
# at warning level, whatever the rule's severity, with the cause in the message.
ERROR_LEVEL = "warning"
SRCROOT = "%SRCROOT%"
BUILTIN_ROOT = "AUDITOR_BUILTIN"

# Characters XML 1.0 cannot hold (C0 controls but tab, LF and CR; surrogates; U+FFFE/U+FFFF).
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = ("fingerprint", "rule_id", "title", "severity", "status", "account", "region", "resource_type",
               "resource_id", "arn", "vpc_id", "item", "message", "controls", "waiver", "waiver_expires",
               "evidence", "sources", "declared", "explanation")
EXPLANATION_JOIN = " | "   # between the lines of an explanation in one CSV cell
# The JUnit suite, and the SARIF rule ids, of what a plan run could not model (run.plan): an
# unsupported resource type, a problem reading the plan or template. Not rule ids of a pack
# (those are [A-Z]{2,5}-[0-9]{3}), so they never clash with one.
PLAN_SUITE = "plan"
PLAN_UNSUPPORTED = "auditor/plan-unsupported"
PLAN_PROBLEM = "auditor/plan-problem"
PLAN_SEVERITY = "high"    # an unmodelled network resource may be the very path a pack forbids


def observed_text(value: Any) -> str:
    """An observed value as one line of text (JSON for anything but a string)."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def evidence_text(finding: FindingView) -> str:
    """The evidence of a finding, one condition per line."""
    lines = []
    for e in finding.evidence:
        verdict = {True: "holds", False: "does not hold", None: "undecided"}[e.holds]
        line = f"{e.path}: observed {observed_text(e.observed)}; expected {e.expected} ({verdict})"
        if e.sources:
            line += " [" + ", ".join(e.sources) + "]"
        lines.append(line)
    return "\n".join(lines)


def explanation_lines(finding: FindingView) -> tuple[str, ...]:
    """The explanation lines of a finding's evidence, each once, in order (empty: none)."""
    return tuple(dict.fromkeys(line for e in finding.evidence for line in e.explanation))


def explanation_block(finding: FindingView) -> str:
    """``explanation:`` and the lines, one per line ("" when there are none)."""
    lines = explanation_lines(finding)
    return "explanation:\n" + "\n".join(lines) if lines else ""


def _x(text: str) -> str:
    return _XML_BAD.sub("\ufffd", text)


def _timestamp(model: ReportModel) -> str:
    """The JUnit timestamp: the snapshot's finish time, else SOURCE_DATE_EPOCH, else none."""
    if model.run.finished:
        return model.run.finished
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ""


def _suites(model: ReportModel) -> list[tuple[str, list[FindingView]]]:
    groups: dict[str, list[FindingView]] = {}
    for f in model.findings:
        groups.setdefault(f.rule.pack or "(no pack)", []).append(f)
    return sorted(groups.items())


COLLECTION = "collection"   # the JUnit suite, SARIF notification source and CSV resource type of gaps


def gap_name(gap: NotAssessed) -> str:
    """``account/region call, call`` (or ``account/region`` when no call is named)."""
    return f"{gap.account}/{gap.region}" + (f" {', '.join(gap.calls)}" if gap.calls else "")


def gap_text(gap: NotAssessed) -> str:
    """What a gap says: where, why, and which rules it left unassessed."""
    rules = (f"rules not assessed: {', '.join(gap.rules)}" if gap.rules
             else "no rule was left unassessed by it; the run is still incomplete")
    return f"not collected in {gap.account}/{gap.region}: {gap.reason} ({rules})"


def gap_fingerprint(gap: NotAssessed) -> str:
    """A stable id of a gap: where and which calls (not why, which may be worded anew)."""
    key = "\x1f".join(["gap", gap.account, gap.region, *gap.calls])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class PlanEntry:
    """An unsupported resource or a problem of run.plan, as the machine formats list it:
    `error` when it leaves the assessment incomplete (a network type, a problem), else it is
    listed only (another type)."""

    rule: str            # PLAN_UNSUPPORTED | PLAN_PROBLEM
    address: str
    type: str            # the source's resource type ("" for a problem)
    line: int | None
    text: str            # what it is and why it matters (and the rules it left unassessed)
    error: bool
    fingerprint: str
    gaps: tuple[str, ...] = ()   # the gap_fingerprint of the not_assessed entries it is shown as


def _plan_gap_address(gap: NotAssessed, plan: PlanView) -> str | None:
    """The address a not_assessed entry of a plan run names (its one call ``<kind>:<address>``:
    a problem, or an unsupported network resource), else None."""
    prefix = f"{plan.kind}:"
    if len(gap.calls) == 1 and gap.calls[0].startswith(prefix) and gap.account == plan.account:
        return gap.calls[0][len(prefix):]
    return None


def plan_entries(plan: PlanView | None, gaps: Iterable[NotAssessed] = ()) -> tuple[PlanEntry, ...]:
    """Every unsupported resource, then every problem, of a plan run (none without a plan). The
    run's not_assessed entries for them (`gaps`: a problem's, with the rules it left unassessed,
    and an unsupported network resource's) are joined to them: `shown_gaps` leaves those out."""
    if plan is None:
        return ()
    by_address: dict[str, list[NotAssessed]] = {}
    for g in gaps:
        address = _plan_gap_address(g, plan)
        if address is not None:
            by_address.setdefault(address, []).append(g)

    def joined(address: str, error: bool) -> tuple[tuple[str, ...], str]:
        found = by_address.get(address, []) if error else []
        rules = sorted({r for g in found for r in g.rules})
        return tuple(gap_fingerprint(g) for g in found), (f" (rules not assessed: {', '.join(rules)})" if rules else "")

    def unsupported(u: PlanUnsupported) -> PlanEntry:
        action = f", {u.action}" if u.action else ""
        fps, rules = joined(u.address, u.network)
        return PlanEntry(PLAN_UNSUPPORTED, u.address, u.type, u.line,
                         f"{u.address} ({where(plan.file, u.line)}{action}): {u.reason}{rules}", u.network,
                         plan_fingerprint(plan, "unsupported", u.address), fps)

    def problem(p: PlanProblem) -> PlanEntry:
        fps, rules = joined(p.address, True)
        return PlanEntry(PLAN_PROBLEM, p.address, "", p.line,
                         f"{p.address} ({where(plan.file, p.line)}): {p.message}; the values it concerns are "
                         f"unknown{rules}", True, plan_fingerprint(plan, "problem", p.address, p.message), fps)

    return tuple(unsupported(u) for u in plan.unsupported) + tuple(problem(p) for p in plan.problems)


def shown_gaps(model: ReportModel) -> tuple[NotAssessed, ...]:
    """The gaps the machine formats list as gaps: all but those a plan entry stands for (it says
    the same, at its file and line, in the formats' plan parts); never one no entry shows."""
    plan = model.plan
    if plan is None:
        return model.not_assessed
    shown = {fp for e in plan_entries(plan, model.not_assessed) for fp in e.gaps}
    return tuple(g for g in model.not_assessed if gap_fingerprint(g) not in shown)


def _junit_where(file: str, line: int | None) -> dict[str, str]:
    """A test case's ``file`` and ``line`` attributes (as pytest writes them, and GitLab reads
    ``file``): the plan or template and the line, when the source has one."""
    return {"file": _x(file), **({"line": str(line)} if line is not None else {})}


def _close_suite(suite: ET.Element, counts: dict[str, int], totals: dict[str, int], stamp: str) -> None:
    """Write a suite's counts (and add them to the run's `totals`), its timestamp and time."""
    for k, v in counts.items():
        suite.set(k, str(v))
        totals[k] += v
    if stamp:
        suite.set("timestamp", _x(stamp))
    suite.set("time", "0")


def junit_xml(model: ReportModel) -> bytes:
    """JUnit XML: a test suite per pack, a test case per (rule, resource[, item]) (with ``file``
    and ``line`` where a plan declares the resource); then, when anything could not be
    collected, a suite ``collection`` with an error test case per gap; then, for a plan run with
    anything not modelled, a suite ``plan`` (an error per network type not modelled and per
    problem, a skipped case per other type)."""
    out = io.BytesIO()
    write_junit(model, out)
    return out.getvalue()


def _testcase(f: FindingView) -> ET.Element:
    declared = f.resource.declared
    case = ET.Element("testcase", {"classname": _x(f.rule.id), "name": _x(f.name),
                                   **(_junit_where(declared.file, f.declared_line) if declared is not None else {})})
    explained = explanation_block(f)
    if f.status == "FAIL":
        el = ET.SubElement(case, "failure", {"message": _x(f.message), "type": f.severity})
        el.text = _x(evidence_text(f) + ("\n" + explained if explained else ""))
    elif f.status == "ERROR":
        el = ET.SubElement(case, "error", {"message": _x(f.message), "type": "not-assessed"})
        el.text = _x(evidence_text(f) + ("\n" + explained if explained else ""))
    elif f.status == "WAIVED":
        w = f.waiver
        why = f"waived by {w.id} (approver {w.approver}, ticket {w.ticket}, expires {w.expires})" if w \
            else "waived"
        ET.SubElement(case, "skipped", {"message": _x(why)})
    elif f.status == "NOT_APPLICABLE":
        ET.SubElement(case, "skipped", {"message": _x(f"not applicable: {f.message}" if f.message
                                                      else "not applicable")})
    if explained and f.status not in ("FAIL", "ERROR"):   # a PASS is checked by its explanation too
        ET.SubElement(case, "system-out").text = _x(explained)
    return case


def _other_suites(model: ReportModel, totals: dict[str, int], stamp: str) -> list[ET.Element]:
    """The suites after the packs': the gaps (``collection``) and a plan's entries (``plan``)."""
    out = []
    gaps = shown_gaps(model)
    if gaps:
        suite = ET.Element("testsuite", {"name": COLLECTION})
        for gap in gaps:
            case = ET.SubElement(suite, "testcase", {"classname": COLLECTION, "name": _x(gap_name(gap))})
            el = ET.SubElement(case, "error", {"message": _x(gap_text(gap)), "type": "not-collected"})
            el.text = _x(gap.reason)
        n = len(gaps)
        _close_suite(suite, {"tests": n, "failures": 0, "errors": n, "skipped": 0}, totals, stamp)
        out.append(suite)
    entries = plan_entries(model.plan, model.not_assessed)
    if model.plan is not None and entries:
        suite = ET.Element("testsuite", {"name": PLAN_SUITE})
        for e in entries:
            name = f"{e.address} ({e.type})" if e.type else e.address
            case = ET.SubElement(suite, "testcase", {"classname": PLAN_SUITE, "name": _x(name),
                                                     **_junit_where(model.plan.file, e.line)})
            if e.error:
                kind = "not-modelled" if e.rule == PLAN_UNSUPPORTED else "plan-problem"
                ET.SubElement(case, "error", {"message": _x(e.text), "type": kind}).text = _x(e.text)
            else:
                ET.SubElement(case, "skipped", {"message": _x(e.text)})
        errors = sum(1 for e in entries if e.error)
        _close_suite(suite, {"tests": len(entries), "failures": 0, "errors": errors,
                             "skipped": len(entries) - errors}, totals, stamp)
        out.append(suite)
    return out


_OPEN = "\x00children\x00"   # stands for an element's children while its start and end tags are made


def _tags(element: ET.Element) -> tuple[bytes, bytes]:
    """The start and end tags of `element` (its attributes escaped as ElementTree writes them)."""
    element.text = _OPEN
    start, _, end = ET.tostring(element, encoding="unicode").partition(_OPEN)
    return start.encode("utf-8"), end.encode("utf-8")


def _piece(element: ET.Element, level: int, tail: str) -> bytes:
    """`element` as it is written at `level` of the indented document, with its `tail`."""
    ET.indent(element, space=" ", level=level)
    element.tail = tail
    return ET.tostring(element, encoding="utf-8", xml_declaration=False)


def write_junit(model: ReportModel, out: BinaryIO) -> None:
    """`junit_xml` written into `out` one test case at a time: the same bytes (ElementTree's
    serialisation of the document indented by one space), without the whole tree of an
    organisation's run. The counts of each suite and of the run are taken first."""
    stamp = _timestamp(model)
    root = ET.Element("testsuites", {"name": _x(f"{model.run.tool_name} {model.run.tool_version}".strip())})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    suites = []
    for pack, findings in _suites(model):
        suite = ET.Element("testsuite", {"name": _x(pack)})
        statuses = Counter(f.status for f in findings)
        _close_suite(suite, {"tests": len(findings), "failures": statuses["FAIL"], "errors": statuses["ERROR"],
                             "skipped": statuses["WAIVED"] + statuses["NOT_APPLICABLE"]}, totals, stamp)
        suites.append((suite, findings))
    others = _other_suites(model, totals, stamp)
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", "0")
    out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    if not suites and not others:
        out.write(ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n")
        return
    start, end = _tags(root)
    out.write(start + b"\n ")
    last = len(suites) + len(others) - 1
    for i, (suite, findings) in enumerate(suites):
        head, close = _tags(suite)
        out.write(head + b"\n  ")
        for j, f in enumerate(findings):
            out.write(_piece(_testcase(f), 2, "\n  " if j < len(findings) - 1 else "\n "))
        out.write(close + (b"\n " if i < last else b"\n"))
    for i, suite in enumerate(others, start=len(suites)):
        out.write(_piece(suite, 1, "\n " if i < last else "\n"))
    out.write(end + b"\n")


@dataclass(frozen=True)
class SarifSources:
    """Where SARIF results point (findings.json's ``rules[].source``, ``run.packs[]`` and
    ``run.config.file``): the file and line of each rule, of the config line that selected
    each pack, and whether a pack is built in."""

    rules: Mapping[str, tuple[str, int]] = field(default_factory=dict)      # rule id -> (file, line)
    selected: Mapping[str, tuple[str, int]] = field(default_factory=dict)   # pack id -> (file, line)
    builtin: frozenset[str] = frozenset()                                   # built-in pack ids
    config_file: str = ""

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> SarifSources:
        """From a findings.json document (older ones lack these fields: then empty)."""
        run = document.get("run") or {}
        rules = {r["id"]: (str(r["source"]["file"]), int(r["source"]["line"]))
                 for r in document.get("rules", []) if isinstance(r.get("source"), dict) and r["source"].get("file")}
        packs = run.get("packs") or []
        selected = {p["id"]: (str(p["selected_at"]["file"]), int(p["selected_at"]["line"]))
                    for p in packs if isinstance(p.get("selected_at"), dict) and p["selected_at"].get("file")}
        return cls(rules, selected, frozenset(p["id"] for p in packs if p.get("builtin")),
                   str((run.get("config") or {}).get("file") or ""))

    def location(self, rule: RuleView) -> tuple[str, int, str] | None:
        """(file, line, base id) of a rule's results: a user pack's rule where it is written;
        a built-in pack's rule at the config line that selected the pack (the file in the
        user's repository); without a config file, the built-in pack file by its place in the
        project's source (base `BUILTIN_ROOT`). None when findings.json does not say."""
        written = self.rules.get(rule.id)
        builtin = rule.pack in self.builtin
        if written is not None and not builtin:
            return written[0], written[1], SRCROOT
        if rule.pack in self.selected:
            file, line = self.selected[rule.pack]
            return file, line, SRCROOT
        if written is not None:
            return written[0], written[1], BUILTIN_ROOT
        return None


def _descriptor(rule: RuleView) -> dict[str, Any]:
    help_text = "\n".join(f"{kind}: {text}" for kind, text in rule.remediation) or rule.title
    out: dict[str, Any] = {
        "id": rule.id, "name": rule.id,
        "shortDescription": {"text": rule.title or rule.id},
        "fullDescription": {"text": rule.rationale or rule.title or rule.id},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": _LEVELS.get(rule.severity, "warning")},
        "properties": {"severity": rule.severity, "pack": rule.pack,
                       "security-severity": SECURITY_SEVERITY.get(rule.severity, SECURITY_SEVERITY["medium"]),
                       "frameworks": sorted({f"{c.framework}:{c.control}" for c in rule.controls}),
                       "tags": sorted({"security", *rule.tags})},
    }
    if rule.references:
        out["helpUri"] = rule.references[0]
        out["properties"]["references"] = list(rule.references)
    return out


def _plan_location(file: str, line: int | None, address: str, text: str) -> dict[str, Any]:
    """A location in a plan or template: the file (relative to %SRCROOT%, as given on the
    command line) and the line (1 when the source has none: a Terraform plan's JSON), and the
    resource's address as its logical location."""
    uri, relative = sarif_uri(file)
    return {"logicalLocations": [{"name": address, "fullyQualifiedName": address, "kind": "resource"}],
            "message": {"text": text},
            "physicalLocation": {"artifactLocation": {"uri": uri, **({"uriBaseId": SRCROOT} if relative else {})},
                                 "region": {"startLine": line if line is not None else 1}}}


def _location(f: FindingView, sources: SarifSources) -> dict[str, Any]:
    r = f.resource
    if r.declared is not None:   # a plan run: where the plan or template declares the resource
        return _plan_location(r.declared.file, f.declared_line, r.declared.address, f"{f.name}: {f.declared_at}")
    fqn = r.arn or f"{r.account}/{r.region}/{r.type}/{r.id}"
    out: dict[str, Any] = {"logicalLocations": [{"name": r.id, "fullyQualifiedName": fqn, "kind": "resource"}],
                           "message": {"text": f.name}}
    where = sources.location(f.rule)
    if where is None:      # a findings.json older than rules[].source: the document itself
        where = ("findings.json", 1, SRCROOT)
    file, line, base = where
    out["physicalLocation"] = {"artifactLocation": {"uri": file, "uriBaseId": base},
                               "region": {"startLine": max(line, 1)}}
    return out


def _result(f: FindingView, index: int, sources: SarifSources) -> dict[str, Any]:
    message = f.message or f.rule.title or f.rule.id
    if f.resource.declared is not None:
        message = f"{message} [{f.declared_at}]"
    out: dict[str, Any] = {
        "ruleId": f.rule.id, "ruleIndex": index,
        "message": {"text": message},
        "locations": [_location(f, sources)],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint, LINE_HASH_KEY: f"{f.fingerprint}:1"},
        "properties": {"status": f.status, "severity": f.severity, "resourceType": f.resource.type,
                       "account": f.resource.account, "region": f.resource.region, "vpcId": f.resource.vpc_id,
                       "item": f.item, "evidence": evidence_text(f)},
    }
    lines = explanation_lines(f)
    if lines:
        out["properties"]["explanation"] = list(lines)
    d = f.resource.declared
    if d is not None:
        out["properties"]["declared"] = {"kind": d.kind, "file": d.file, "address": d.address,
                                         "line": f.declared_line}
    out["kind"] = "fail"
    if f.status == "ERROR":
        # Not assessed is no pass and no silence: a visible warning saying why.
        out["level"] = ERROR_LEVEL
        out["message"]["text"] = f"Not assessed ({f.name}): {message}"
    else:
        out["level"] = _LEVELS.get(f.severity, "warning")
    if f.status == "WAIVED":
        w = f.waiver
        text = (f"{w.id}: {w.justification} (approver {w.approver}, ticket {w.ticket}, expires {w.expires})"
                if w else "waived")
        out["suppressions"] = [{"kind": "external", "status": "accepted", "justification": text}]
    return out


def _artifact_bases(results: Iterable[dict[str, Any]], plan: bool) -> dict[str, Any]:
    text = ("The folder the scan ran in (the repository): the audit config and user packs are relative to it"
            + ("; so is the plan or template, as given on the command line" if plan else ""))
    bases: dict[str, Any] = {SRCROOT: {"description": {"text": text}}}
    if any(loc["physicalLocation"]["artifactLocation"].get("uriBaseId") == BUILTIN_ROOT
           for r in results for loc in r["locations"]):
        bases[BUILTIN_ROOT] = {"description": {"text": "The auditor's own source: its built-in rule packs "
                                                       "(rules/packs/...)"}}
    return bases


_PLAN_RULES = {   # rule id -> (title, why, what to do)
    PLAN_UNSUPPORTED: ("A resource type of the plan or template is not modelled",
                       "A resource of a network type the auditor does not model may change the network (a route, a "
                       "gateway, a firewall): the network the plan builds is not fully known, so the assessment is "
                       "incomplete, never compliant.",
                       "Review by hand what the resource does to the network; once it is deployed, a scan of the "
                       "account assesses the network it leaves. docs/plans.md lists the resource types modelled."),
    PLAN_PROBLEM: ("Part of a resource of the plan or template could not be read",
                   "An unknown intrinsic function, a reference to nothing or an attribute of an odd shape: the "
                   "values it concerns are unknown, and the rules reading them are not assessed.",
                   "Correct the reference or function the message names in the plan or template."),
}


def _plan_descriptor(rule: str) -> dict[str, Any]:
    title, why, todo = _PLAN_RULES[rule]
    return {"id": rule, "name": rule, "shortDescription": {"text": title}, "fullDescription": {"text": why},
            "help": {"text": todo},
            "defaultConfiguration": {"level": ERROR_LEVEL},
            "properties": {"severity": PLAN_SEVERITY, "pack": "", "security-severity": SECURITY_SEVERITY[PLAN_SEVERITY],
                           "frameworks": [], "tags": ["plan", "security"]}}


def _plan_sarif(plan: PlanView | None, gaps: tuple[NotAssessed, ...], index: dict[str, int],
                rules: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(results, notifications) of what a plan run could not model: a tool execution
    notification for every unsupported resource and problem (an error when it leaves the
    assessment incomplete, else a note), and a not-assessed result for each such error, located
    in the plan or template, so code scanning annotates the pull request with it (`rules` and
    `index` get the descriptors these results cite)."""
    if plan is None:
        return [], []
    results, notes = [], []
    for e in plan_entries(plan, gaps):
        loc = _plan_location(plan.file, e.line, e.address, e.text)
        notes.append({"level": "error" if e.error else "note", "message": {"text": e.text}, "locations": [loc],
                      "properties": {"kind": e.rule, "address": e.address, "resourceType": e.type,
                                     "planFingerprint": e.fingerprint, "gapFingerprints": list(e.gaps)}})
        if not e.error:
            continue
        if e.rule not in index:
            index[e.rule] = len(rules)
            rules.append(_plan_descriptor(e.rule))
        results.append({"ruleId": e.rule, "ruleIndex": index[e.rule], "kind": "fail", "level": ERROR_LEVEL,
                        "message": {"text": f"Not assessed ({e.address}): {e.text}"}, "locations": [loc],
                        "partialFingerprints": {FINGERPRINT_KEY: e.fingerprint, LINE_HASH_KEY: f"{e.fingerprint}:1"},
                        "properties": {"status": "ERROR", "severity": PLAN_SEVERITY, "resourceType": e.type,
                                       "address": e.address, "evidence": e.text}})
    return results, notes


def sarif_stream(model: ReportModel, document: Mapping[str, Any] | None, out: BinaryIO) -> None:
    """SARIF 2.1.0: one reportingDescriptor per rule (with GitHub's ``security-severity``); a
    result per FAIL, ERROR and WAIVED finding (ERROR a warning with its cause, WAIVED with an
    accepted external suppression), located in the file that made the rule apply
    (`SarifSources.location`, from `document`, the findings.json the model was built from)
    and logically at the AWS resource (a resource a plan or template declares: at its file and
    line, logically at its address); a tool execution notification per gap and, in a plan run,
    per resource not modelled and problem (`_plan_sarif`).

    Written into `out` piece by piece: the results and the explained passes (one per finding of
    an organisation's run) are made and written one at a time, never held as a whole; the bytes
    are those of ``json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n"``."""
    sources = SarifSources.of(document) if document is not None else SarifSources()
    index = {r.id: i for i, r in enumerate(model.rules)}
    rules = [_descriptor(r) for r in model.rules]
    for f in model.findings:      # a finding of a rule the document does not list (should not happen)
        if f.rule.id not in index:
            index[f.rule.id] = len(rules)
            rules.append(_descriptor(f.rule))

    def findings_results() -> Iterator[dict[str, Any]]:
        return (_result(f, index[f.rule.id], sources) for f in model.findings
                if f.status in ("FAIL", "ERROR", "WAIVED"))
    notifications = [{"level": "error", "message": {"text": gap_text(g)},
                      "properties": {"account": g.account, "region": g.region, "calls": list(g.calls),
                                     "reason": g.reason, "rules": list(g.rules),
                                     "gapFingerprint": gap_fingerprint(g)}} for g in shown_gaps(model)]
    plan_results, plan_notes = _plan_sarif(model.plan, model.not_assessed, index, rules)
    notifications += plan_notes

    def results() -> Iterator[dict[str, Any]]:
        yield from findings_results()
        yield from plan_results
    plan = model.plan
    properties: dict[str, Any] = {
        "organisation": model.organisation, "profile": model.profile_id,
        "snapshotManifestSha256": model.run.manifest_sha256, "collectionFinished": model.run.finished,
        "assessedOn": model.run.assessed_on, "complete": model.complete, "auditConfig": sources.config_file}

    def passes() -> Iterator[dict[str, Any]]:
        return ({"ruleId": f.rule.id, "fingerprint": f.fingerprint, "resource": f.name, "explanation": list(lines)}
                for f in model.findings if f.status == "PASS" and (lines := explanation_lines(f)))

    if next(passes(), None) is not None:   # PASS findings are no SARIF results: how each was decided
        properties["explainedPasses"] = [_PASSES_MARK]
    if plan is not None:
        properties["plan"] = {"kind": plan.kind, "file": plan.file, "sha256": plan.sha256,
                              "formatVersion": plan.format_version, "overlaidSnapshot": plan.overlay_snapshot,
                              "incomplete": plan.incomplete}
    doc = {
        "$schema": SARIF_SCHEMA, "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {"name": model.run.tool_name or "private-network-auditor",
                                "version": model.run.tool_version, "informationUri": INFORMATION_URI,
                                "rules": rules}},
            "automationDetails": {"id": f"private-network-auditor/{model.run.manifest_sha256}"},
            "columnKind": "unicodeCodePoints",
            "originalUriBaseIds": _artifact_bases(results(), plan is not None),
            # Collection problems are the tool's own (SARIF toolExecutionNotifications), as
            # is whether it could look at everything: never successful with a gap.
            # A plan run that could not model all of the network is not successful either.
            "invocations": [{"executionSuccessful": model.every_call_answered
                             and not (plan is not None and plan.incomplete),
                             "toolExecutionNotifications": notifications}],
            "results": [_RESULTS_MARK] if next(results(), None) is not None else [],
            "properties": properties,
        }],
    }
    text = json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    # Each placeholder list is written item by item at the indentation json.dumps gives it.
    marks = sorted((at, mark, items) for mark, items in ((_PASSES_MARK, passes), (_RESULTS_MARK, results))
                   if (at := _mark_at(text, mark)) >= 0)
    done = 0
    for at, mark, items in marks:
        line = text.rindex("\n", 0, at) + 1
        pad = text[line:at]
        out.write(text[done:line].encode("utf-8"))
        for i, item in enumerate(items()):
            piece = json.dumps(item, sort_keys=True, indent=1, ensure_ascii=False).replace("\n", "\n" + pad)
            out.write(((",\n" if i else "") + pad + piece).encode("utf-8"))
        done = at + len(json.dumps(mark))
    out.write(text[done:].encode("utf-8"))


# Placeholders of the lists `sarif_stream` writes item by item (a NUL cannot come from AWS in a
# rule's metadata, and each is looked for only as the whole value of its own line).
_RESULTS_MARK = "\x00sarif-results\x00"
_PASSES_MARK = "\x00sarif-explained-passes\x00"


def _mark_at(text: str, mark: str) -> int:
    """Where the placeholder `mark` stands alone on its line in `text` (-1: not there)."""
    quoted = json.dumps(mark)
    at = text.find("\n", 0)
    while at >= 0:
        start = at + 1
        end = text.find("\n", start)
        if text[start:end].strip() == quoted:
            return text.index(quoted, start)
        at = end
    return -1


def sarif(model: ReportModel, document: Mapping[str, Any] | None = None) -> bytes:
    """`sarif_stream`'s bytes, held in memory."""
    out = io.BytesIO()
    sarif_stream(model, document, out)
    return out.getvalue()


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet will not evaluate: a leading =, +, -, @, tab or CR gets a ' before it."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def declared_cell(file: str, line: int | None, address: str) -> str:
    """The CSV's ``declared`` cell: ``plan.json:20 aws_subnet.a`` (``file address`` without a line)."""
    return f"{where(file, line)} {address}"


def _csv_row(f: FindingView) -> list[str]:
    r = f.resource
    controls = " ".join(f"{c.framework}:{c.control}" for c in f.rule.controls)
    sources = " ".join(sorted({s for e in f.evidence for s in e.sources}))
    declared = "" if r.declared is None else declared_cell(r.declared.file, f.declared_line, r.declared.address)
    return [f.fingerprint, f.rule.id, f.rule.title, f.severity, f.status, r.account, r.region, r.type, r.id, r.arn,
            r.vpc_id, f.item or "", f.message, controls, f.waiver.id if f.waiver else "",
            f.waiver.expires if f.waiver else "", evidence_text(f), sources, declared,
            EXPLANATION_JOIN.join(explanation_lines(f))]


def _gap_row(gap: NotAssessed) -> list[str]:
    return [gap_fingerprint(gap), "", "not collected", "", "ERROR", gap.account, gap.region, COLLECTION,
            ", ".join(gap.calls), "", "", "", gap_text(gap), "", "", "", "", "", "", ""]


def _plan_row(plan: PlanView, e: PlanEntry) -> list[str]:
    """An unsupported resource (ERROR for a network type, else NOT_APPLICABLE: no network rule
    reads it) or a problem (ERROR) of a plan run, after the gaps."""
    title = _PLAN_RULES[e.rule][0]
    status = "ERROR" if e.error else "NOT_APPLICABLE"
    return [e.fingerprint, e.rule, title, PLAN_SEVERITY if e.error else "info", status, plan.account,
            ",".join(plan.regions), e.type or PLAN_SUITE, e.address, "", "", "", e.text, "", "", "", "", "",
            declared_cell(plan.file, e.line, e.address), ""]


def csv_rows(model: ReportModel) -> Iterable[list[str]]:
    """The CSV's rows (header first): one per finding, then one per gap, then (a plan run) one
    per unsupported resource and problem; cells already neutralised."""
    yield list(CSV_COLUMNS)
    for f in model.findings:
        yield [neutralise(c) for c in _csv_row(f)]
    for gap in shown_gaps(model):
        yield [neutralise(c) for c in _gap_row(gap)]
    if model.plan is not None:
        for e in plan_entries(model.plan, model.not_assessed):
            yield [neutralise(c) for c in _plan_row(model.plan, e)]


def csv_stream(model: ReportModel, out: BinaryIO, rows_per_write: int = 1000) -> None:
    """CSV (RFC 4180: CRLF line ends, fields with a comma, quote or line break quoted), UTF-8, a header row, one
    row per finding (then gaps and, in a plan run, what the plan could not model), written into `out` a
    thousand rows at a time: an organisation's run is written without holding its whole text."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for i, row in enumerate(csv_rows(model), 1):
        writer.writerow(row)
        if i % rows_per_write == 0:
            out.write(buf.getvalue().encode("utf-8"))
            buf.seek(0)
            buf.truncate()
    out.write(buf.getvalue().encode("utf-8"))


def csv_bytes(model: ReportModel) -> bytes:
    """`csv_stream`'s bytes, held in memory."""
    out = io.BytesIO()
    csv_stream(model, out)
    return out.getvalue()


