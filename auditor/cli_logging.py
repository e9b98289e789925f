"""Logs, progress and ``-q`` for the commands that run a collection or a scan.

`run_options` is the one decorator that gives `scan`, `collect` and `demo` the same options:

- ``--log-level {debug,info,warning,error}`` (default warning) and ``--log-format {text,json}``
  (default text): the library's events (`auditor.events.EVENTS`) on stderr. ``json`` is one
  object per line with ``time`` (UTC, ISO 8601), ``level``, ``event``, ``logger``,
  ``message`` and the event's fields; ``text`` is ``TIME LEVEL EVENT: MESSAGE``, made
  terminal-safe (`auditor.console.safe`).
- ``--progress-interval SECONDS``: on a non-terminal, a progress line that often (default
  30); on a terminal a tqdm bar (`auditor.progress`). With ``--log-format json`` the progress
  lines are JSON objects too (event ``progress``), so that stderr parses line by line.
- ``-q/--quiet``: silent except errors: no progress, no summary, no notes, only log records
  at ``error`` and the lines that start with ``error:``; the exit code is unchanged.

The command receives a `RunOutput` (keyword ``output``): its `notify` is the library's
message sink, `say` prints a line of the command's own on stdout, `progress()` gives the
reporter for the run. The log handler lives on the ``auditor`` logger for the command's
call only and is removed afterwards.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from auditor.console import echo, safe
from auditor.events import RESERVED, ROOT_LOGGER
from auditor.progress import DEFAULT_INTERVAL, Clock, Reporter, reporter

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
FORMATS = ("text", "json")


def _iso(created: float) -> str:
    return dt.datetime.fromtimestamp(created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(created * 1000) % 1000:03d}Z"


def json_line(created: float, level: str, event: str, logger: str, message: str, fields: dict[str, Any],
              exception: str | None = None) -> str:
    """One JSON object on one line (every control character escaped, DEL too, so the line is
    inert on a terminal and parses)."""
    doc: dict[str, Any] = {"time": _iso(created), "level": level, "event": event, "logger": logger,
                           "message": message}
    doc.update({k: v for k, v in fields.items() if k not in RESERVED})
    if exception:
        doc["exception"] = exception
    return json.dumps(doc, ensure_ascii=True, default=str).replace("\x7f", "\\u007f")


def text_line(created: float, level: str, event: str, message: str) -> str:
    """``TIME LEVEL EVENT: MESSAGE`` with the message (which holds values from AWS) made
    terminal-safe and kept on its line."""
    return f"{_iso(created)} {level.upper():<7} {event}: {safe(message)}"


class EventFormatter(logging.Formatter):
    """A log record as a text or JSON line (`text_line`, `json_line`)."""

    def __init__(self, fmt: str = "text") -> None:
        super().__init__()
        self.json = fmt == "json"

    def format(self, record: logging.LogRecord) -> str:
        event = str(getattr(record, "event", "log"))
        fields = getattr(record, "fields", None)
        message = record.getMessage()
        level = record.levelname.lower()
        exception = self.formatException(record.exc_info) if record.exc_info else None
        if self.json:
            return json_line(record.created, level, event, record.name, message,
                             fields if isinstance(fields, dict) else {}, exception)
        line = text_line(record.created, level, event, message)
        return line + ("\n" + safe(exception) if exception else "")


class _Handler(logging.Handler):
    """Log lines to stderr through the console (or above a progress bar, through `sink`)."""

    def __init__(self, formatter: EventFormatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.sink: Callable[[str], None] = lambda line: echo(line, err=True)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink(self.format(record))
        except Exception:  # noqa: BLE001 - logging's own contract: a handler never raises
            self.handleError(record)


@dataclass
class RunOutput:
    """What a command prints while it runs, as its options say."""

    quiet: bool = False
    log_level: str = "warning"
    log_format: str = "text"
    progress_interval: float = DEFAULT_INTERVAL
    clock: Clock = time.monotonic
    _handler: _Handler | None = field(default=None, repr=False)

    @property
    def level(self) -> int:
        """The effective log level: ``-q`` keeps errors only."""
        wanted = LEVELS[self.log_level]
        return max(wanted, logging.ERROR) if self.quiet else wanted

    def notify(self, text: str, /, *, err: bool = False) -> None:
        """The library's message sink: each line printed as it comes; with ``-q`` only errors
        (the lines that start with ``error:``). With ``--log-format json`` a line for stderr is
        a JSON object (event ``notice``), so that stderr parses line by line."""
        error = text.startswith("error:")
        if self.quiet and not error:
            return
        if err and self.log_format == "json":
            for line in text.splitlines() or [""]:
                echo(json_line(time.time(), "error" if error else "warning", "notice", f"{ROOT_LOGGER}.cli", line,
                               {}), err=True)
        else:
            echo(text, err=err)

    def say(self, text: str, *, err: bool = False) -> None:
        """A line of the command's own (its summary): not with ``-q``, unless an error."""
        self.notify(text, err=err)

    @contextmanager
    def logs(self) -> Iterator[None]:
        """The log handler on the ``auditor`` logger while the command runs."""
        root = logging.getLogger(ROOT_LOGGER)
        handler = _Handler(EventFormatter(self.log_format))
        saved = root.level
        root.setLevel(self.level)
        root.addHandler(handler)
        self._handler = handler
        try:
            yield
        finally:
            root.removeHandler(handler)
            root.setLevel(saved)
            self._handler = None

    @contextmanager
    def progress(self) -> Iterator[Reporter | None]:
        """The progress reporter of the run on stderr (None with ``-q``); closed at the end
        (the final line), log lines printed above a bar meanwhile."""
        if self.quiet:
            yield None
            return
        report = reporter(sys.stderr, self._progress_line, interval=self.progress_interval, clock=self.clock)
        handler = self._handler
        if handler is not None:
            handler.sink = report.write
        try:
            yield report
        finally:
            report.close()
            if handler is not None:
                handler.sink = lambda line: echo(line, err=True)

    def _progress_line(self, text: str, fields: dict[str, Any]) -> None:
        if self.log_format == "json" and fields:
            echo(json_line(time.time(), "info", "progress", f"{ROOT_LOGGER}.progress", text, fields), err=True)
        else:
            echo(text, err=True)


F = TypeVar("F", bound=Callable[..., Any])


def run_options(command: F) -> F:
    """Add ``-q``, ``--log-level``, ``--log-format`` and ``--progress-interval`` to a command;
    it is called with ``output`` (a `RunOutput`) and runs with the log handler in place."""

    @functools.wraps(command)
    def wrapper(*args: Any, quiet: bool, log_level: str, log_format: str, progress_interval: float,
                **kwargs: Any) -> Any:
        output = RunOutput(quiet=quiet, log_level=log_level, log_format=log_format,
                           progress_interval=progress_interval)
        with output.logs():
            return command(*args, output=output, **kwargs)

    options = [
        click.option("-q", "--quiet", is_flag=True,
                     help="Silent except errors: no progress, summary or notes (the exit code says the outcome)."),
        click.option("--log-level", type=click.Choice(list(LEVELS)), default="warning", show_default=True,
                     help="The least severe event logged to stderr (-q: error)."),
        click.option("--log-format", type=click.Choice(FORMATS), default="text", show_default=True,
                     help="Log lines on stderr as text or as one JSON object per line (progress lines too)."),
        click.option("--progress-interval", type=click.FloatRange(min=0.1), default=DEFAULT_INTERVAL,
                     show_default=True, metavar="SECONDS",
                     help="Seconds between progress lines when stderr is not a terminal (a bar on a terminal)."),
    ]
    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated
