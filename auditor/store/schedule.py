"""The schedule of expected runs, and the gaps in evidence it shows (docs/period-report.md).

A schedule is the config's ``schedule:`` (or ``auditor report --schedule``): ``daily``,
``weekly``, ``monthly`` or a five-field cron expression (minute hour day-of-month month
day-of-week, in UTC; read by the `cronsim` library).

**Slots.** The schedule gives the times runs are expected at, its *slots*:
- a cron expression: its own times;
- ``daily`` / ``weekly``: every 1 / 7 days from the *anchor* (the first run of the period;
  without one, the middle of the period's first day / week, so each day / week of the period
  is one window), forwards and backwards;
- ``monthly``: the anchor's day of the month (the month's last day in a shorter month) and time
  of day, every calendar month, forwards and backwards (without a run: the anchor is the 15th
  day of the period).

A slot's **window** runs from halfway between the previous slot and it to halfway between it
and the next slot. **An expected run counts as done when a run's collection time falls in its
slot's window**: a run counts for the slot it is nearest to, so the jitter of a scheduled run (a
job starting late, a collection taking minutes, a run a day early) never moves it to another
slot. A slot is judged only when its whole window lies inside the period ([start, end]: a date
`start` from its 00:00 UTC, a date `end` to its 24:00 UTC): a window that begins before the
period or runs past its end may hold a run the period does not show, so it is never called a
gap. A **gap** is a judged slot whose window holds no run. So a weekly schedule anchored at the
first run with one week's run missing gives exactly one gap; two runs in one week and none the
next give one gap (the next week).

Without a schedule, gaps are not assessed: the reports say so, never "no gaps".
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

KEYWORDS = ("daily", "weekly", "monthly")
# A cron expression with more slots than this in one period is refused (a `* * * * *` over a
# year would be half a million slots): no schedule of evidence runs is that dense.
MAX_SLOTS = 20_000
_STEP = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


class ScheduleError(ValueError):
    """A text that is not a schedule (`check_schedule` says why), or one too dense to judge."""


@dataclass(frozen=True, order=True)
class Slot:
    """One expected run: due at `at`, done by any run collected in its window [start, until)."""

    at: datetime
    start: datetime
    until: datetime

    @property
    def day(self) -> date:
        return self.at.date()


@dataclass(frozen=True, order=True)
class Gap:
    """A judged slot that holds no run: `expected` (the slot's time) and its window [`start`, `until`)."""

    expected: datetime
    start: datetime
    until: datetime

    @property
    def day(self) -> date:
        return self.expected.date()

    def to_json(self) -> dict[str, str]:
        return {"expected": _iso(self.expected), "from": _iso(self.start), "until": _iso(self.until),
                "day": self.day.isoformat()}


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise(text: str) -> str:
    """The schedule as written, trimmed, a keyword in lower case, a cron expression's fields one
    space apart."""
    cleaned = " ".join(str(text).split())
    return cleaned.lower() if cleaned.lower() in KEYWORDS else cleaned


def check_schedule(text: object) -> str | None:
    """Why `text` is not a schedule, else None."""
    if not isinstance(text, str) or not text.strip():
        return f"a schedule is {', '.join(KEYWORDS)} or a five-field cron expression, not {text!r}"
    cleaned = normalise(text)
    if cleaned in KEYWORDS:
        return None
    fields = cleaned.split(" ")
    if len(fields) != 5:
        return (f"schedule {cleaned!r} is neither {', '.join(KEYWORDS)} nor a cron expression of five fields "
                f"(minute hour day-of-month month day-of-week; it has {len(fields)})")
    from cronsim import CronSim, CronSimError

    try:
        next(iter(CronSim(cleaned, datetime(2000, 1, 1))))
    except CronSimError as exc:
        return f"schedule {cleaned!r} is not a valid cron expression: {exc}"
    except StopIteration:   # pragma: no cover - cronsim raises CronSimError for impossible dates
        return f"schedule {cleaned!r} never fires"
    return None


def _bounds(start: date | datetime, end: date | datetime) -> tuple[datetime, datetime]:
    """[start, end) as naive UTC datetimes: a date start from its 00:00, a date end to its 24:00."""
    lo = _naive(start) if isinstance(start, datetime) else datetime.combine(start, time())
    hi = _naive(end) if isinstance(end, datetime) else datetime.combine(end + timedelta(days=1), time())
    return lo, hi


def _naive(when: datetime) -> datetime:
    from datetime import UTC

    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo is not None else when


def _add_months(anchor: datetime, months: int) -> datetime:
    total = anchor.month - 1 + months
    year, month = anchor.year + total // 12, total % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def _keyword_times(kind: str, anchor: datetime, lo: datetime, hi: datetime) -> Iterator[datetime]:
    """The keyword schedule's times from the last one at or before `lo` to the first at or after `hi`."""
    if kind == "monthly":
        k = (lo.year - anchor.year) * 12 + lo.month - anchor.month - 1
        while _add_months(anchor, k) > lo:
            k -= 1
        while True:
            at = _add_months(anchor, k)
            yield at
            if at >= hi:
                return
            k += 1
    step = _STEP[kind]
    k = (lo - anchor) // step
    while anchor + k * step > lo:
        k -= 1
    while True:
        at = anchor + k * step
        yield at
        if at >= hi:
            return
        k += 1


def _cron_times(expr: str, lo: datetime, hi: datetime) -> Iterator[datetime]:
    """The cron expression's times from the last one before `lo` to the first at or after `hi`."""
    from cronsim import CronSim

    yield next(iter(CronSim(expr, lo, reverse=True)))
    for at in CronSim(expr, lo - timedelta(seconds=1)):
        yield at
        if at >= hi:
            return


def _windows(schedule: str, lo: datetime, hi: datetime, anchor: datetime | None) -> list[Slot]:
    problem = check_schedule(schedule)
    if problem is not None:
        raise ScheduleError(problem)
    cleaned = normalise(schedule)
    if anchor is None:   # no run to count from: each day / week / month of the period is one window
        anchor = lo + (_STEP[cleaned] / 2 if cleaned in _STEP else timedelta(days=14))
    times = (_keyword_times(cleaned, anchor, lo, hi) if cleaned in KEYWORDS
             else _cron_times(cleaned, lo, hi))
    ordered: list[datetime] = []
    for at in times:
        if ordered and at <= ordered[-1]:   # the reverse and forward walks may both give `lo`
            continue
        ordered.append(at)
        if len(ordered) > MAX_SLOTS:
            raise ScheduleError(f"schedule {cleaned!r} expects more than {MAX_SLOTS} runs in the period "
                                f"{_iso(lo)} to {_iso(hi)}: too dense a schedule for evidence runs")
    # Each slot with a slot on both sides: its window from halfway after the previous to halfway
    # before the next (the first and last times only bound their neighbours' windows).
    return [Slot(at, at - (at - before) / 2, at + (after - at) / 2)
            for before, at, after in zip(ordered, ordered[1:], ordered[2:], strict=False)]


def expected_slots(schedule: str, start: date | datetime, end: date | datetime, *,
                   anchor: datetime | None = None) -> list[Slot]:
    """The judged slots of the period, oldest first: those whose whole window lies in it.
    `anchor`: where ``daily``/``weekly``/``monthly`` count from (default: the period's start;
    `gaps` gives the first run of the period). `ScheduleError` for a text that is not a schedule."""
    lo, hi = _bounds(start, end)
    return [s for s in _windows(schedule, lo, hi, None if anchor is None else _naive(anchor))
            if s.start >= lo and s.until <= hi]


def gaps(schedule: str, run_times: Iterable[datetime], start: date | datetime,
         end: date | datetime) -> list[Gap]:
    """The judged slots of the period no run falls in, oldest first. `run_times`: the runs'
    collection times (naive: UTC); those outside the period are ignored, and the first inside it
    anchors a keyword schedule."""
    lo, hi = _bounds(start, end)
    times = sorted(t for t in (_naive(r) for r in run_times) if lo <= t < hi)
    slots = expected_slots(schedule, lo, hi, anchor=times[0] if times else None)
    out: list[Gap] = []
    import bisect

    for slot in slots:
        at = bisect.bisect_left(times, slot.start)
        if at >= len(times) or times[at] >= slot.until:
            out.append(Gap(slot.at, slot.start, slot.until))
    return out


def parse_time(text: str) -> datetime:
    """A run's collection time (ISO 8601, ``Z`` or an offset; naive: UTC) as a naive UTC datetime."""
    return _naive(datetime.fromisoformat(text.replace("Z", "+00:00")))
