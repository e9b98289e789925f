"""The period report's model (auditor/report/period.py) on hand-made bundles (tests/period_fixtures.py)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.report.period import PeriodModel, build_period
from auditor.store.base import StoreError
from period_fixtures import CONTROLS, F, Run, W, bundles, half_year, week

START, END = date(2026, 1, 5), date(2026, 6, 29)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> PeriodModel:
    return build_period(bundles(tmp_path_factory.mktemp("half"), half_year(None)), START, END, schedule=None,
                        store="test-store")


def test_the_period_is_stated_as_asked(model: PeriodModel) -> None:
    assert (model.start, model.end) == ("2026-01-05", "2026-06-29")
    assert (model.first_run, model.last_run) == ("2026-01-05T06:00:00Z", "2026-06-29T06:00:00Z")
    assert len(model.runs) == 25 and model.store == "test-store" and model.organization == "Example Bank"
    assert [r.created for r in model.runs] == sorted(r.created for r in model.runs)


def test_violation_introduced_and_fixed(model: PeriodModel) -> None:
    (f,) = [f for f in model.findings if f.rule_id == "R-1"]
    assert (f.first_day, f.last_day, f.fixed_day, f.fixed_by) == ("2026-02-02", "2026-02-23", "2026-03-02", "PASS")
    assert f.days_to_remediate == 28 and not f.open_at_end and not f.open_at_start and f.worst == "FAIL"
    assert len(f.spans) == 1 and f.status_at_end == "PASS"


def test_waiver_expiring(model: PeriodModel) -> None:
    (f,) = [f for f in model.findings if f.rule_id == "R-2"]
    assert f.open_at_start and f.open_at_end and f.fixed_in is None and f.days_to_remediate is None
    assert f.worst == "FAIL" and f.status_at_end == "FAIL"
    (ws,) = f.waived
    assert (ws.waiver, ws.from_day, ws.to_day, ws.expired) == ("WVR-1", "2026-01-05", "2026-05-11", True)
    (w,) = model.waivers
    assert (w.waiver, w.expired_day, w.status_at_end, w.findings) == ("WVR-1", "2026-05-18", "expired", 1)
    # Only were ever failing: nothing else is reported as a finding of the period.
    assert sorted(f.rule_id for f in model.findings) == ["R-1", "R-2"]


def test_control_absent_in_a_run_is_not_pass(model: PeriodModel) -> None:
    c = {c.control: c for c in model.controls}
    assert c["1.4.1"].statuses[2] == "absent" and c["1.4.1"].statuses.count("PASS") == 24
    assert not c["1.4.1"].in_place
    assert any("absent (the run did not assess it) in 1 of 25 runs (first 2026-01-19" in w for w in c["1.4.1"].why)
    assert c["1.2.1"].statuses.count("FAIL") == 4 and not c["1.2.1"].in_place
    # No schedule: gaps are not assessed, so not even a control PASS at every run is shown in place.
    assert model.schedule is None and model.gaps == () and not model.gaps_assessed
    assert all("gaps in evidence not assessed (no schedule)" in c.why for c in model.controls)
    assert model.to_json()["schedule"]["gaps"] is None


def test_resource_added(model: PeriodModel) -> None:
    added = [r for r in model.resources if r.added]
    assert [(r.resource_id, r.first_day, r.runs) for r in added] == [("subnet-new", "2026-04-27", 10)]
    assert not any(r.removed for r in model.resources)
    assert sorted(r.resource_id for r in model.resources) == ["sg-1", "sg-2", "subnet-a", "subnet-new"]


def test_gap_from_the_config_schedule(tmp_path: Path) -> None:
    m = build_period(bundles(tmp_path, half_year("weekly")), START, END, schedule=None, store="s")
    assert m.schedule == "weekly" and m.schedule_source.startswith("inputs/audit-config.yaml of run ")
    assert [g.day for g in m.gaps] == [date(2026, 4, 6)]
    assert all("1 gap in evidence (schedule weekly)" in c.why for c in m.controls)


def test_command_line_schedule_wins_and_a_control_in_place(tmp_path: Path) -> None:
    runs = [Run(week(n), [F("R-3", "subnet-a", "PASS", rtype="subnet")], {"1.4.1": ["R-3"]}, schedule="monthly")
            for n in (1, 2, 3)]
    m = build_period(bundles(tmp_path, runs), week(1).date(), week(3).date(), schedule="weekly", store="s")
    assert (m.schedule, m.schedule_source, m.gaps) == ("weekly", "--schedule", ())
    (c,) = m.controls
    assert c.in_place and c.why == ()
    assert m.findings == ()


def test_reopened_finding_and_removed_resource(tmp_path: Path) -> None:
    statuses = ["FAIL", "PASS", "ERROR", "absent"]
    runs = [Run(week(n + 1), [F("R-1", "sg-9", s)] if s != "absent" else [], CONTROLS) for n, s in enumerate(statuses)]
    m = build_period(bundles(tmp_path, runs), week(1).date(), week(4).date(), schedule=None, store="s")
    (f,) = m.findings
    assert [(s.first_day, s.status, s.fixed_day, s.fixed_by, s.days) for s in f.spans] == [
        (week(1).date().isoformat(), "FAIL", week(2).date().isoformat(), "PASS", 7),
        (week(3).date().isoformat(), "ERROR", week(4).date().isoformat(), "absent", 7)]
    assert f.worst == "FAIL" and not f.open_at_end and f.status_at_end == "absent"
    (r,) = m.resources
    assert r.removed and not r.added and r.last_day == week(3).date().isoformat()


def test_model_json_is_deterministic(tmp_path: Path) -> None:
    one = build_period(bundles(tmp_path / "a", half_year()), START, END, schedule="weekly", store="s")
    two = build_period(list(reversed(bundles(tmp_path / "b", half_year()))), START, END, schedule="weekly", store="s")
    assert json.dumps(one.to_json(), sort_keys=True) == json.dumps(two.to_json(), sort_keys=True)
    assert one.to_json()["schedule"]["gaps"] == [{"day": "2026-04-06", "expected": "2026-04-06T06:00:00Z",
                                                  "from": "2026-04-02T18:00:00Z", "until": "2026-04-09T18:00:00Z"}]


def test_empty_period_is_an_error() -> None:
    with pytest.raises(StoreError, match="no run in the period 2026-01-05 to 2026-06-29 in s: a period report never"):
        build_period([], START, END, schedule=None, store="s")


def test_period_ending_before_it_starts(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="ends .* before it starts"):
        build_period(bundles(tmp_path, half_year()[:1]), END, START, schedule=None, store="s")


def test_run_outside_the_period_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="was not collected in the period"):
        build_period(bundles(tmp_path, half_year()[:3]), date(2026, 1, 12), END, schedule=None, store="s")


def test_bad_schedules(tmp_path: Path) -> None:
    given = bundles(tmp_path / "a", half_year()[:2])
    with pytest.raises(InputError) as err:
        build_period(given, START, END, schedule="61 * * * *", store="s")
    assert "Bad minute" in err.value.problems[0].render()
    bad = bundles(tmp_path / "b", [Run(week(1), [], {}, [W("x", "active")], schedule="'every tuesday'")])
    with pytest.raises(InputError) as err:
        build_period(bad, START, END, schedule=None, store="s")
    (problem,) = err.value.problems
    assert problem.file.endswith("inputs/audit-config.yaml") and problem.line == 3 and problem.path == "schedule"


def test_unreadable_findings_is_a_store_error(tmp_path: Path) -> None:
    given = bundles(tmp_path, half_year()[:2])
    (given[1][1] / "findings.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError, match="cannot read the run's findings.json"):
        build_period(given, START, END, schedule=None, store="s")


def test_absent_control_is_not_in_place_even_without_gaps(tmp_path: Path) -> None:
    runs = [Run(week(n), [F("R-3", "subnet-a", "PASS", rtype="subnet"), F("R-1", "sg-1", "PASS")],
                {"1.2.1": ["R-1"], **({} if n == 2 else {"1.4.1": ["R-3"]})}) for n in (1, 2, 3)]
    m = build_period(bundles(tmp_path, runs), week(1).date(), week(3).date(), schedule="weekly", store="s")
    assert m.gaps == ()
    c = {c.control: c for c in m.controls}
    assert c["1.2.1"].in_place and c["1.2.1"].why == ()
    assert c["1.4.1"].statuses == ("PASS", "absent", "PASS") and not c["1.4.1"].in_place
    assert c["1.4.1"].why == ("absent (the run did not assess it) in 1 of 3 runs (first 2026-01-12, last 2026-01-12)",)
