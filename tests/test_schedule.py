"""The schedule of expected runs (auditor/store/schedule.py): slots, windows, gaps."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from auditor.store.schedule import Gap, ScheduleError, check_schedule, expected_slots, gaps

MONDAY = datetime(2026, 1, 5, 6, 0)


def weekly_runs(skip: set[int] = frozenset(), n: int = 26) -> list[datetime]:
    return [MONDAY + timedelta(weeks=i) for i in range(n) if i + 1 not in skip]


@pytest.mark.parametrize("text", ["daily", "weekly", "monthly", " Weekly ", "0 6 * * 1", "*/30 2 1-7 * MON-FRI"])
def test_schedules_accepted(text: str) -> None:
    assert check_schedule(text) is None


@pytest.mark.parametrize("text, words", [
    ("61 * * * *", "is not a valid cron expression: Bad minute"),
    ("0 6 * * 9", "is not a valid cron expression"),
    ("0 0 30 2 *", "is not a valid cron expression"),
    ("hourly", "neither daily, weekly, monthly nor a cron expression of five fields"),
    ("0 6 * *", "it has 4"),
    ("0 0 6 * * 1", "it has 6"),
    ("", "a schedule is daily, weekly, monthly or a five-field cron expression"),
])
def test_bad_schedule_says_why(text: str, words: str) -> None:
    why = check_schedule(text)
    assert why is not None and words in why
    with pytest.raises(ScheduleError, match="schedule|cron"):
        expected_slots(text, date(2026, 1, 1), date(2026, 2, 1))


def test_check_schedule_of_a_non_string() -> None:
    assert check_schedule(7) is not None and "not 7" in str(check_schedule(7))


def test_weekly_one_missing_run_is_one_gap() -> None:
    found = gaps("weekly", weekly_runs(skip={14}), date(2026, 1, 5), date(2026, 6, 29))
    # The window of an expected run reaches halfway to its neighbours: Thursday 18:00 to Thursday 18:00.
    assert found == [Gap(datetime(2026, 4, 6, 6, 0), datetime(2026, 4, 2, 18, 0), datetime(2026, 4, 9, 18, 0))]


def test_weekly_every_run_present_no_gap() -> None:
    assert gaps("weekly", weekly_runs(), date(2026, 1, 5), date(2026, 6, 29)) == []


def test_a_run_late_or_early_counts_for_the_nearest_expected_run() -> None:
    runs = weekly_runs(n=4)
    runs[2] += timedelta(days=3, hours=11)     # Thursday 17:00: still nearer its own Monday
    assert gaps("weekly", runs, date(2026, 1, 1), date(2026, 2, 4)) == []
    runs[2] += timedelta(hours=1)              # Thursday 18:00, halfway: it counts for the next Monday
    assert [g.day for g in gaps("weekly", runs, date(2026, 1, 1), date(2026, 2, 4))] == [date(2026, 1, 19)]


def test_seconds_of_jitter_never_move_a_run_to_another_slot() -> None:
    """Scheduled runs start a little late or collect a little faster: the first run at 06:00:04
    anchors the schedule, the others finish at 06:00:02 - before their slots' exact times."""
    runs = [MONDAY + timedelta(seconds=4)] + [MONDAY + timedelta(weeks=i, seconds=2) for i in range(1, 26) if i != 13]
    assert [g.day for g in gaps("weekly", runs, date(2026, 1, 5), date(2026, 6, 29))] == [date(2026, 4, 6)]


def test_weekly_is_anchored_at_the_first_run_and_judges_whole_windows() -> None:
    runs = [datetime(2026, 1, 7, 9, 0), datetime(2026, 1, 14, 9, 0)]
    # Whole windows before the first run are judged too (runs missing at the start) ...
    found = gaps("weekly", runs, date(2025, 12, 20), date(2026, 1, 31))
    assert [g.expected for g in found] == [datetime(2025, 12, 24, 9, 0), datetime(2025, 12, 31, 9, 0),
                                           datetime(2026, 1, 21, 9, 0), datetime(2026, 1, 28, 9, 0)]
    # ... while a window that begins before the period or ends after it is never a gap
    # (12-17's window begins 12-13, 02-04's ends 02-07).
    assert all(g.start >= datetime(2025, 12, 20) and g.until <= datetime(2026, 2, 1) for g in found)


def test_cron_uses_its_own_times() -> None:
    runs = weekly_runs(skip={3})
    found = gaps("0 6 * * 1", runs, date(2026, 1, 1), date(2026, 7, 10))
    # The runs end on 06-29: the Monday after (07-06) has its whole window in the period, and no run.
    assert found == [Gap(datetime(2026, 1, 19, 6, 0), datetime(2026, 1, 15, 18, 0), datetime(2026, 1, 22, 18, 0)),
                     Gap(datetime(2026, 7, 6, 6, 0), datetime(2026, 7, 2, 18, 0), datetime(2026, 7, 9, 18, 0))]
    # A run a minute before Monday 06:00 counts for that Monday; one on Friday for the next.
    early = [MONDAY - timedelta(minutes=1), MONDAY + timedelta(weeks=1)]
    assert gaps("0 6 * * 1", early, date(2026, 1, 1), date(2026, 1, 19)) == []
    friday = [MONDAY + timedelta(days=4), MONDAY + timedelta(weeks=1)]   # nearer the next Monday: 01-05 has none
    assert [g.day for g in gaps("0 6 * * 1", friday, date(2026, 1, 1), date(2026, 1, 19))] == [date(2026, 1, 5)]


def test_daily_without_runs_every_day_is_a_gap() -> None:
    found = gaps("daily", [], date(2026, 3, 1), date(2026, 3, 3))
    assert [g.day for g in found] == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]


def test_daily_gap_and_runs_outside_the_period_ignored() -> None:
    runs = [datetime(2026, 3, d, 2, 0) for d in (1, 2, 4, 5, 9)]
    found = gaps("daily", runs, date(2026, 3, 1), date(2026, 3, 5))
    assert [g.day for g in found] == [date(2026, 3, 3)]


def test_monthly_keeps_the_day_of_month_clamped() -> None:
    slots = expected_slots("monthly", date(2026, 1, 1), date(2026, 5, 31), anchor=datetime(2026, 1, 31, 6, 0))
    assert [s.at.date() for s in slots] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31),
                                            date(2026, 4, 30)]
    runs = [datetime(2026, 1, 31, 6), datetime(2026, 2, 28, 6), datetime(2026, 4, 30, 6)]
    assert [g.day for g in gaps("monthly", runs, date(2026, 1, 1), date(2026, 5, 31))] == [date(2026, 3, 31)]


def test_too_dense_a_cron_is_refused() -> None:
    with pytest.raises(ScheduleError, match="too dense"):
        gaps("* * * * *", [], date(2026, 1, 1), date(2026, 3, 1))
