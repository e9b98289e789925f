"""Progress for people: timed lines on a non-terminal (driven by a hand-set clock, no sleeping)
and the tqdm bar on a terminal (a stream that says it is one)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from auditor.cli_logging import RunOutput
from auditor.events import CollectionProgress
from auditor.progress import BarProgress, LineProgress, reporter


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def update(phase: str, done: int, total: int, calls: int, errors: int = 0) -> CollectionProgress:
    return CollectionProgress(phase, done, total, calls, errors, "")


def test_a_line_every_interval_then_a_final_line() -> None:
    clock, lines = Clock(), []
    report = LineProgress(lambda text, fields: lines.append((clock.now, text, fields)), interval=30, clock=clock)
    for t, upd in [(5, update("accounts", 1, 25, 1)), (20, update("accounts", 25, 25, 25)),
                   (29.9, update("regions", 0, 50, 40)),           # not yet 30 s: nothing
                   (30, update("regions", 3, 50, 300, 2)),         # the first line
                   (45, update("regions", 10, 50, 700, 2)),        # within the next interval: nothing
                   (59.9, update("regions", 12, 50, 800, 2)),
                   (60, update("regions", 20, 50, 1200, 3)),       # the second line
                   (61, update("regions", 21, 50, 1210, 3))]:
        clock.now = 1000 + t
        report(upd)
    assert [(when - 1000, fields["done"], fields["calls"], fields["errors"]) for when, _, fields in lines] == [
        (30, 3, 300, 2), (60, 20, 1200, 3)]
    first = lines[0]
    assert first[1] == ("progress: collecting: 3/50 account-regions, 300 calls, 2 errors, 10.0 calls/s, "
                        "30 s elapsed")
    assert first[2] | {} == {"phase": "regions", "done": 3, "total": 50, "calls": 300, "errors": 2,
                             "calls_per_s": 10.0, "elapsed_s": 30.0, "final": False}
    clock.now = 1000 + 75
    report(update("regions", 50, 50, 3000, 3))                     # the last account-region: the final line
    assert lines[-1][1] == ("progress: collection done: 50/50 account-regions, 3000 calls, 3 errors, 40.0 calls/s, "
                            "75 s elapsed")
    assert lines[-1][2]["final"] is True
    clock.now = 1000 + 200
    report(update("regions", 50, 50, 3000, 3))
    report.close()                                                 # printed already: nothing more
    assert len(lines) == 3


def test_a_late_heartbeat_does_not_make_a_burst() -> None:
    clock, lines = Clock(), []
    report = LineProgress(lambda text, fields: lines.append(round(clock.now - 1000, 3)), interval=10, clock=clock)
    for t in (10.4, 10.9, 20.3, 21.0, 30.2, 45.0, 46.0, 55.0):
        clock.now = 1000 + t
        report(update("regions", 0, 9, 1))
    assert lines == [10.4, 21.0, 45.0, 55.0]


def test_the_final_line_on_close_when_the_run_stops_early() -> None:
    clock, lines = Clock(), []
    report = LineProgress(lambda text, fields: lines.append(text), interval=30, clock=clock)
    report.close()
    assert lines == []                                             # nothing collected: nothing said
    clock.now += 12
    report(update("accounts", 2, 3, 2, 1))
    report.close()
    assert lines == ["progress: collection stopped: 2/3 accounts, 2 calls, 1 errors, 0.2 calls/s, 12 s elapsed"]


def test_a_bad_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        LineProgress(lambda text, fields: None, interval=0)


def test_a_terminal_gets_the_tqdm_bar_and_a_pipe_gets_lines() -> None:
    tty, pipe = FakeTty(), io.StringIO()
    assert isinstance(reporter(tty, lambda t, f: None), BarProgress)
    assert isinstance(reporter(pipe, lambda t, f: None), LineProgress)
    clock = Clock()
    bar = reporter(tty, lambda t, f: None, clock=clock)
    bar(update("accounts", 1, 2, 1))
    clock.now += 2
    bar(update("regions", 0, 4, 10))
    bar.write("a log line")                                        # above the bar, not inside it
    clock.now += 2
    bar(update("regions", 4, 4, 80, 1))
    drawn = tty.getvalue()
    assert "collecting accounts" in drawn and "collecting account-regions" in drawn
    assert "4/4" in drawn and "80 calls, 1 errors, 20.0 calls/s" in drawn
    assert "\r" in drawn                                           # a bar that redraws itself
    assert "a log line\n" in drawn
    assert pipe.getvalue() == ""
    bar.close()


def test_run_output_progress_on_a_pipe_in_json_and_none_when_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    with RunOutput(log_format="json", progress_interval=5, clock=clock).progress() as report:
        assert report is not None
        clock.now += 5
        report(update("regions", 1, 2, 10))
    err = capsys.readouterr().err.splitlines()
    docs = [json.loads(line) for line in err]
    assert [(d["event"], d["done"], d["final"]) for d in docs] == [("progress", 1, False), ("progress", 1, True)]
    assert all(d["level"] == "info" and d["logger"] == "auditor.progress" for d in docs)
    with RunOutput(quiet=True).progress() as none:
        assert none is None
    assert capsys.readouterr().err == ""


def test_collector_feeds_the_figures(moto_aws: None, tmp_path: Any) -> None:
    """The collector's callback: both phases, counts that only grow, the last update at done."""
    from conftest import make_config

    from auditor.collect.runner import collect
    from auditor.collect.sessions import SessionFactory
    from auditor.snapshot.writer import SnapshotWriter

    seen: list[CollectionProgress] = []
    result = collect(make_config(regions=("eu-west-1",)), SessionFactory(max_attempts=1),
                     SnapshotWriter(tmp_path / "snap"), progress=seen.append)
    phases = [u.phase for u in seen]
    assert phases[0] == "accounts" and phases[-1] == "regions"
    assert [u.calls for u in seen] == sorted(u.calls for u in seen)
    last = seen[-1]
    assert (last.phase, last.done, last.total) == ("regions", 1, 1)
    assert [u.label for u in seen if u.label.endswith("/eu-west-1")] == ["123456789012/eu-west-1"]
    assert last.calls == len(result.manifest["calls"]) and last.errors == len(result.manifest["errors"])


def test_no_account_reached_still_ends_the_progress() -> None:
    """Every account unreachable: no account-region runs; the collector's last update, 0 of 0
    account-regions, is the final line (not a "stopped" one at the end of the whole scan)."""
    clock, lines = Clock(), []
    report = LineProgress(lambda text, fields: lines.append(text), interval=30, clock=clock)
    report(update("accounts", 1, 1, 1, 1))
    clock.now += 2
    report(update("regions", 0, 0, 1, 1))
    report.close()
    assert lines == ["progress: collection done: 0/0 account-regions, 1 calls, 1 errors, 0.5 calls/s, 2 s elapsed"]
    bar_stream = FakeTty()
    bar = BarProgress(bar_stream, clock)
    bar(update("regions", 2, 2, 9))
    drawn = bar_stream.getvalue()
    bar(update("regions", 2, 2, 9))                               # after the end: nothing is drawn again
    bar.close()
    assert bar_stream.getvalue() == drawn and "2/2" in drawn
