"""The closed sets of the tool, defined once: finding statuses and severities, in their order.

Everything else derives from these tuples: findings.json's counts, the results' precedence,
the `--fail-on` choices, the reports' tables and charts, the config and rule-pack checks. The
published JSON schemas list them literally (for editors); tests/test_vocabulary.py checks that
each list equals the one here, and that report.js's copies do too.

The two other sets are open and defined by their registries, each entry one file:
- output formats: one writer module each in ``auditor/report/writers/``
  (`auditor.report.writers.format_names`);
- report styles: one wording file each in ``reports/templates/styles/``
  (`auditor.report.styles.style_names`).

This module imports nothing of the tool, so anything may import it.
"""

from __future__ import annotations

from collections.abc import Iterable

# The status of a finding, worst first: the status of a group (a rule, a control, a framework)
# is the first of these any member has (`worst`).
STATUSES: tuple[str, ...] = ("FAIL", "ERROR", "WAIVED", "PASS", "NOT_APPLICABLE")
# FAIL and ERROR: what the reports list as failing (not met, or not assessed).
FAILING: tuple[str, ...] = ("FAIL", "ERROR")

# The severity of a rule, worst first.
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
# A likelihood or impact rating of the HIPAA risk-analysis input (rules/frameworks/risk-analysis.yaml),
# lowest first: a scale of its own, not a rule's severity.
RISK_LEVELS: tuple[str, ...] = ("low", "medium", "high")
# `--fail-on` / `fail_on`: a severity, or none (never exit 1 on violations).
FAIL_ON_NONE = "none"
FAIL_ON_CHOICES: tuple[str, ...] = (*SEVERITIES, FAIL_ON_NONE)


def status_rank(status: str) -> int:
    """0 for the worst status (FAIL); anything unknown ranks after every known status."""
    return STATUSES.index(status) if status in STATUSES else len(STATUSES)


def severity_rank(severity: str) -> int:
    """0 for the worst severity (critical); anything unknown ranks after every known severity."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def worst(statuses: Iterable[str]) -> str:
    """The worst of `statuses` (NOT_APPLICABLE when there are none)."""
    present = set(statuses)
    return next((s for s in STATUSES if s in present), "NOT_APPLICABLE")

