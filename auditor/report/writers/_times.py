"""The run's times as the exports need them (not a writer: modules named ``_*`` are skipped)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_utc(stamp: str) -> datetime | None:
    """An ISO 8601 time (``2026-03-01T10:00:00.123456Z``) or date from findings.json as an
    aware UTC datetime (a naive one is taken as UTC); None when it is empty or not such a time.
    Exports take their times from the run, never from the clock, so their bytes re-derive."""
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
