"""Issue 14's first acceptance point on the simulated half-year (tests/halfyear.py): the 25
weekly bundles registered in a local run store; `auditor diff` between each pair of
consecutive runs and the period report over the half-year show exactly the scripted events
(the violation of week 5 fixed in week 9, the waiver expiring in week 20, the run skipped in
week 14, the subnet added in week 17) and nothing else."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.diff import diff_bundles
from auditor.store import open_store
from conftest import run_auditor
from halfyear import (EXPIRING_WITHIN, PERIOD, SKIPPED, VIOLATION, WAIVED, WAIVER_ID, Events, Week, expected_events,
                      findings, moment, pairs, shared_half_year)


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> list[Week]:
    return shared_half_year(tmp_path_factory)


@pytest.fixture(scope="module")
def store(weeks: list[Week], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local run store holding the 25 runs, registered through the command line."""
    location = tmp_path_factory.mktemp("halfyear-store") / "evidence"
    for w in weeks:
        if w.bundle is not None:
            proc = run_auditor("store", "register", str(w.bundle), "--store", str(location))
            assert proc.returncode == 0, proc.stdout + proc.stderr
    return location


def _bundle(weeks: list[Week], number: int) -> Path:
    found = next(w.bundle for w in weeks if w.number == number)
    assert found is not None
    return found


def _fingerprints(doc: dict[str, Any], category: str) -> frozenset[str]:
    return frozenset(e["fingerprint"] for e in doc["findings"][category])


def _diff_events(doc: dict[str, Any]) -> Events:
    """A diff document as `halfyear.Events` (fingerprints, (type, id), waiver ids)."""
    return Events(
        **{c: _fingerprints(doc, c) for c in ("new", "resolved", "still_failing", "waived", "unwaived", "changed")},
        resources_added=frozenset((r["type"], r["id"]) for r in doc["resources"]["added"]),
        resources_removed=frozenset((r["type"], r["id"]) for r in doc["resources"]["removed"]),
        waivers_expired=frozenset(w["id"] for w in doc["waivers"]["expired_since_a"]),
        waivers_expiring=frozenset(w["id"] for w in doc["waivers"]["expiring"]),
        packs_changed=frozenset(p["id"] for k in ("added", "removed", "changed") for p in doc["packs"][k]),
        config_changed=bool(doc["config"]["changed"]),
    )


def test_the_store_holds_the_25_runs_oldest_first(weeks: list[Week], store: Path) -> None:
    listed = run_auditor("history", "--store", str(store), "--json")
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert [r["created"][:10] for r in runs] == [moment(w.number).date().isoformat() for w in weeks
                                                 if w.number not in SKIPPED]
    assert all(r["complete"] and r["counts"]["ERROR"] == 0 for r in runs)


def test_each_consecutive_diff_shows_exactly_the_scripted_events(weeks: list[Week]) -> None:
    want = expected_events(weeks)
    assert sorted(want) == pairs()
    for a, b in pairs():
        doc = diff_bundles(_bundle(weeks, a), _bundle(weeks, b), expiring_within=EXPIRING_WITHIN)
        assert _diff_events(doc) == want[(a, b)], f"weeks {a} -> {b}"
        assert doc["notes"] == [], f"weeks {a} -> {b}: {doc['notes']}"     # same config, accounts, regions
        ev = want[(a, b)]
        quiet = not (ev.new or ev.resolved or ev.waived or ev.unwaived or ev.changed or ev.resources_added
                     or ev.resources_removed or ev.waivers_expired)   # expiring and still failing are states
        assert doc["no_changes"] is quiet, f"weeks {a} -> {b}"
    assert sum(1 for ev in want.values() if ev.new or ev.resolved or ev.unwaived or ev.resources_added) == 4


def test_diff_by_store_refs_and_the_regression_gate(weeks: list[Week], store: Path, tmp_path: Path) -> None:
    """`auditor diff previous latest --store` is the (25, 26) diff; the gate fails only on the
    pair that brought the violation (and on the waiver's expiry), never on the others."""
    proc = run_auditor("diff", "previous", "latest", "--store", str(store), "--json", str(tmp_path / "d.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    by_ref = json.loads((tmp_path / "d.json").read_text())
    direct = diff_bundles(_bundle(weeks, 25), _bundle(weeks, 26), expiring_within=30)
    assert by_ref["findings"] == direct["findings"] and by_ref["a"]["run_id"] == direct["a"]["run_id"]
    gated = {}
    for a, b in pairs():
        proc = run_auditor("diff", str(_bundle(weeks, a)), str(_bundle(weeks, b)), "--fail-on-new", "medium")
        gated[(a, b)] = proc.returncode
    assert {p for p, code in gated.items() if code != 0} == {(4, 5), (19, 20)}
    assert set(gated.values()) == {0, 1}


def test_the_period_report_shows_exactly_the_scripted_events(weeks: list[Week], store: Path, tmp_path: Path) -> None:
    out = tmp_path / "period"
    proc = run_auditor("report", "--store", str(store), "--from", PERIOD["from"].isoformat(),
                       "--to", PERIOD["to"].isoformat(), "--format", "html,pdf", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    model = json.loads((out / "period.json").read_text())
    names = weeks[-1].names
    want = expected_events(weeks)
    violation = next(iter(want[(4, 5)].new))
    waived = next(iter(want[(19, 20)].unwaived))
    day = {w.number: moment(w.number).date().isoformat() for w in weeks}
    assert len(model["runs"]) == PERIOD["runs"] == 25
    assert [g["day"] for g in model["schedule"]["gaps"]] == [d.isoformat() for d in PERIOD["gaps"]] == [day[14]]
    rows = {f["fingerprint"]: f for f in model["findings"]}
    assert set(rows) == {violation, waived}                 # nothing else failed or was waived at any run
    v = rows[violation]
    assert (v["rule_id"], v["resource_id"]) == (VIOLATION[0], names[VIOLATION[1]])
    first, last, fixed = PERIOD["failed"][VIOLATION]
    assert (v["first_day"], v["last_day"], v["fixed_day"]) == (first.isoformat(), last.isoformat(), fixed.isoformat())
    assert v["days_to_remediate"] == (fixed - first).days == 28 and not v["open_at_end"]
    assert v["first_failing_day"] == first.isoformat()
    w = rows[waived]
    assert (w["rule_id"], w["resource_id"]) == (WAIVED[0], names[WAIVED[1]])
    assert w["open_at_end"] and w["status_at_end"] == "FAIL" and w["fixed_day"] is None
    spans = [(s["waiver"], s["from_day"], s["to_day"], s["expired"]) for s in w["waived"]]
    assert spans == [(WAIVER_ID, day[1], day[19], True)]
    assert w["first_failing_day"] == day[20]                 # waived before: failing only from week 20
    # Open (waived, then failing) from the first run to the last: one span, never fixed.
    assert [(s["first_day"], s["last_day"], s["fixed_day"]) for s in w["spans"]] == [(day[1], day[26], None)]
    added = [(r["resource_type"], r["resource_id"], r["first_day"]) for r in model["resources"] if r["added"]]
    assert added == [("subnet", names["subnet:hy-app-c"], day[17])]
    assert [r for r in model["resources"] if r["removed"]] == []
    # Controls change status only with the scripted events: weeks 5 and 9 (the violation) and 20 (the waiver).
    changed_at = set()
    for c in model["controls"]:
        statuses = c["statuses"]
        changed_at |= {i for i in range(1, len(statuses)) if statuses[i] != statuses[i - 1]}
    run_weeks = [w.number for w in weeks if w.bundle is not None]
    assert {run_weeks[i] for i in changed_at} == {5, 9, 20}
    # The cover states the period truthfully, in both formats.
    from pypdf import PdfReader

    pdf = "\n".join(p.extract_text() for p in PdfReader(out / "period-report.pdf").pages[:2])
    html = (out / "period-report.html").read_text(encoding="utf-8")
    findings_page = "\n".join(p.extract_text() for p in PdfReader(out / "period-report.pdf").pages)
    assert f"failing (not waived) from {day[20]}" in findings_page.replace("\n", " ")
    for text in (pdf, html):
        assert "2026-01-05" in text and "2026-06-29" in text and "25 runs" in text and "1 gap" in text


def test_a_run_in_the_store_verifies_by_id(weeks: list[Week], store: Path) -> None:
    run = open_store(str(store)).get("latest")
    assert run.created.startswith(moment(26).date().isoformat())
    proc = run_auditor("verify", run.run_id[:8], "--store", str(store))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert findings(_bundle(weeks, 26))["run"]["assessed_on"] == dt.date(2026, 6, 29).isoformat()
