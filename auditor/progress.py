"""A collection's progress for people: a tqdm bar on a terminal, timed lines elsewhere.

The collector (`auditor.collect.runner`) calls its progress callback with an
`auditor.events.CollectionProgress` on every account or account-region finished and at
least every half second in between. `reporter` turns that into:

- on a terminal (the stream's ``isatty()``): a tqdm bar of the phase's accounts or
  account-regions done / total, with the calls made, the errors and the call rate;
- elsewhere (CI logs): one line every `interval` seconds with the same figures, and a
  final line when the collection is done (or stops). The time comes from `clock`, so tests
  drive it by hand.

Nothing here decides whether to report at all (``-q`` does: `auditor.cli_logging`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from auditor.events import CollectionProgress

DEFAULT_INTERVAL = 30.0
"""Seconds between two progress lines on a non-terminal (``--progress-interval``)."""

Clock = Callable[[], float]
LineSink = Callable[[str, dict[str, Any]], None]
"""Where a plain reporter's line goes: (the line's text, its figures as fields)."""

_UNITS = {"accounts": "accounts", "regions": "account-regions"}


class Reporter(Protocol):
    """A progress callback that can also be closed and print a line without garbling itself."""

    def __call__(self, update: CollectionProgress) -> None: ...

    def close(self) -> None: ...

    def write(self, line: str) -> None: ...


def figures(update: CollectionProgress, elapsed: float) -> dict[str, Any]:
    """The figures of a progress line (the ``progress`` event's fields but ``final``)."""
    rate = update.calls / elapsed if elapsed > 0 else 0.0
    return {"phase": update.phase, "done": update.done, "total": update.total, "calls": update.calls,
            "errors": update.errors, "calls_per_s": round(rate, 1), "elapsed_s": round(elapsed, 1)}


def describe(fields: dict[str, Any], final: bool = False) -> str:
    """A progress line's text from its `figures` (`final`: the last line, which says whether
    every account-region was done or the collection stopped short)."""
    unit = _UNITS.get(fields["phase"], fields["phase"])
    done = fields["phase"] == "regions" and fields["done"] >= fields["total"]
    head = ("collection done" if done else "collection stopped") if final else "collecting"
    return (f"progress: {head}: {fields['done']}/{fields['total']} {unit}, {fields['calls']} calls, "
            f"{fields['errors']} errors, {fields['calls_per_s']:.1f} calls/s, {fields['elapsed_s']:.0f} s elapsed")


class LineProgress:
    """One line every `interval` seconds of `clock` (the first one `interval` after the
    reporter was made), and a final line when the last account-region is done or on
    `close`; nothing before the first update."""

    def __init__(self, sink: LineSink, interval: float = DEFAULT_INTERVAL, clock: Clock = time.monotonic):
        if interval <= 0:
            raise ValueError("the progress interval must be positive")
        self.sink = sink
        self.interval = interval
        self.clock = clock
        self.start = clock()
        self.next_at = self.start + interval
        self.last: CollectionProgress | None = None
        self.finished = False

    def __call__(self, update: CollectionProgress) -> None:
        if self.finished:
            return
        self.last = update
        now = self.clock()
        if update.phase == "regions" and update.done >= update.total:
            self._line(update, now, final=True)
        elif now >= self.next_at:
            self._line(update, now)
            # The next line one interval after this one (a late heartbeat does not make a burst).
            self.next_at = now + self.interval

    def _line(self, update: CollectionProgress, now: float, final: bool = False) -> None:
        fields = figures(update, now - self.start)
        self.finished = final
        self.sink(describe(fields, final), fields | {"final": final})

    def close(self) -> None:
        """The final line, unless it was printed (or nothing was collected)."""
        if self.last is not None and not self.finished:
            self._line(self.last, self.clock(), final=True)

    def write(self, line: str) -> None:
        self.sink(line, {})


class BarProgress:
    """A tqdm bar on `stream` (a terminal): the phase's done/total, with calls, errors and the
    call rate after it. Log lines go above the bar (`write`)."""

    def __init__(self, stream: TextIO, clock: Clock = time.monotonic):
        self.stream = stream
        self.clock = clock
        self.start = clock()
        self.bar: Any = None
        self.phase = ""
        self.finished = False

    def __call__(self, update: CollectionProgress) -> None:
        from tqdm import tqdm

        if self.finished:
            return
        if self.bar is None or update.phase != self.phase:
            self._close_bar()
            self.phase = update.phase
            # A terminal that reports no width (0 columns, some pseudo-terminals) would get an
            # empty (hidden) bar: give it a fixed size instead.
            sized = _width(self.stream) > 0
            self.bar = tqdm(total=update.total, desc=f"collecting {_UNITS.get(update.phase, update.phase)}",
                            unit=" " + _UNITS.get(update.phase, "items"), file=self.stream, leave=True,
                            dynamic_ncols=sized, ncols=None if sized else 160, nrows=None if sized else 40,
                            mininterval=0.2)
        fields = figures(update, self.clock() - self.start)
        self.bar.set_postfix_str(f"{fields['calls']} calls, {fields['errors']} errors, "
                                 f"{fields['calls_per_s']:.1f} calls/s", refresh=False)
        if update.done > self.bar.n:
            self.bar.update(update.done - self.bar.n)
        else:
            self.bar.refresh()
        if update.phase == "regions" and update.done >= update.total:
            self.finished = True
            self._close_bar()

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def close(self) -> None:
        self._close_bar()

    def write(self, line: str) -> None:
        """`line` (terminal-safe already) above the bar, which is drawn again below it."""
        from tqdm import tqdm

        tqdm.write(line, file=self.stream)


def _width(stream: TextIO) -> int:
    """The terminal's width in columns, 0 when it cannot be told."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


def reporter(stream: TextIO, sink: LineSink, *, interval: float = DEFAULT_INTERVAL,
             clock: Clock = time.monotonic) -> Reporter:
    """The bar when `stream` is a terminal, else timed lines into `sink`."""
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return BarProgress(stream, clock)
    return LineProgress(sink, interval, clock)
