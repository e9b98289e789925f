"""The demo's waivers and management responses are re-dated to the day the demo runs
(auditor.emulate.dated_demo_config), so the demo reads the same on any day: the waiver in
effect (a year-long waiver would otherwise expire), one response overdue, one due later."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from auditor.config import load_config
from auditor.emulate import DEMO_DATED_AS_OF, dated_demo_config, demo_config_path, redated
from auditor.responses import load_responses
from auditor.rules.waivers import load_waivers


def test_redated_moves_only_the_date_keys_and_keeps_every_line() -> None:
    text = ("# created: 2026-01-01 in a comment stays\n"
            "  - id: W-1\n    created: 2026-11-15\n    expires: 2027-11-14\n"
            "  - rule: R-1\n    target_date: 2027-03-31\n    retest:\n      date: 2026-12-03\n"
            "    comment: due 2027-03-31\n")
    moved = redated(text, 400)
    assert moved.splitlines()[0] == "# created: 2026-01-01 in a comment stays"
    assert "created: 2027-12-20" in moved and "expires: 2028-12-18" in moved
    assert "target_date: 2028-05-04" in moved and "date: 2028-01-07" in moved
    assert "comment: due 2027-03-31" in moved            # free text is never touched
    assert len(moved.splitlines()) == len(text.splitlines())
    assert redated(text, 0) == text


@pytest.mark.parametrize("today", [DEMO_DATED_AS_OF, date(2027, 11, 20), date(2031, 2, 28), date(2040, 7, 1)])
def test_the_demo_register_reads_the_same_on_any_day(tmp_path: Path, today: date) -> None:
    config = dated_demo_config(load_config(demo_config_path()), tmp_path, today)
    assert config.waivers is not None and config.responses is not None
    assert config.waivers.parent == tmp_path and config.responses.parent == tmp_path
    waivers = load_waivers(config.waivers)
    (waiver,) = waivers.waivers
    assert waiver.in_effect(today)
    assert (waiver.expires - today).days == (date(2027, 11, 14) - DEMO_DATED_AS_OF).days
    responses = {r.rule: r for r in load_responses(config.responses).responses}
    overdue = {rule for rule, r in responses.items() if r.target_date is not None and r.target_date < today}
    assert overdue == {"PN-014"}
    assert responses["VE-001"].target_date == today + timedelta(days=(date(2027, 3, 31) - DEMO_DATED_AS_OF).days)
    # The shipped files themselves are never rewritten.
    assert "expires: 2027-11-14" in Path(load_config(demo_config_path()).waivers or "").read_text(encoding="utf-8")
