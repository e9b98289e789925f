"""The run's structured events: stable names, one place, emitted through standard `logging`.

Every event is a `logging` record on a logger under ``auditor.`` carrying two extras:
``event`` (a stable name from `EVENTS`, never renamed: pipelines filter on it) and
``fields`` (a dict of plain values: account, region, service, operation, error code,
counts, durations). The library configures no handler and prints nothing: the ``auditor``
logger gets only a `logging.NullHandler`, the standard way for a library to stay silent
(without it Python's last-resort handler would print warnings). The command line installs
its own handler (`auditor.cli_logging`); a program using the library adds its own.

Values from AWS are data, never format strings: a message is a fixed template whose
``%s`` placeholders are filled by `logging` from the arguments, and the same values are in
``fields``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROOT_LOGGER = "auditor"

# The keys every formatted line has; a field may not take one of these names.
RESERVED = frozenset({"time", "level", "event", "logger", "message", "exception"})


@dataclass(frozen=True)
class Event:
    """One stable event: its name, its usual level, what it means and its fields."""

    name: str
    level: int
    meaning: str
    fields: tuple[str, ...]


_ALL = (
    Event("run.started", logging.INFO, "a scan, demo or collection begins",
          ("command", "config", "snapshot", "out")),
    Event("account.reached", logging.INFO, "an account's credentials work and its caller identity is confirmed",
          ("account", "name", "source", "role_arn", "regions", "duration_ms")),
    Event("account.failed", logging.ERROR, "an account could not be reached (role not assumed, identity "
          "refused, wrong account, regions not listed): its regions are not collected",
          ("account", "name", "source", "role_arn", "error_code", "reason", "duration_ms")),
    Event("discovery.failed", logging.ERROR, "AWS Organizations discovery could not list or select every "
          "account (ListAccounts, an OU or an account's tags failed): the accounts it could not decide are "
          "gaps under `organization`, never assumed compliant", ("reason", "accounts_decided")),
    Event("call.failed", logging.WARNING, "an AWS call failed after botocore's retries (recorded as a "
          "collection error: its checks are ERROR, never PASS)",
          ("account", "region", "service", "operation", "error_kind", "error_code", "error_message",
           "http_status", "retries", "duration_ms")),
    Event("call.throttled", logging.INFO, "AWS throttled a call: `outcome` retried (botocore retried it and it "
          "succeeded; level info) or failed (it still failed on throttling; level warning)",
          ("account", "region", "service", "operation", "throttled", "retries", "outcome", "error_code",
           "duration_ms")),
    Event("client.transport", logging.DEBUG, "how a shared client's calls are made: `transport` direct (the "
          "collector's direct transport) or botocore (botocore's own pipeline, with the `reason`: a hook on the "
          "client, a proxy, a protocol other than ec2/query ...)", ("service", "region", "transport", "reason")),
    Event("region.done", logging.INFO, "every call of one account-region has been made",
          ("account", "region", "calls", "errors", "done", "total", "duration_ms")),
    Event("collection.finished", logging.INFO, "the snapshot is written (level warning when incomplete)",
          ("snapshot", "calls", "errors", "accounts", "regions", "complete", "duration_ms")),
    Event("scan.finished", logging.INFO, "findings.json, the reports and the bundle are written",
          ("command", "out", "findings", "complete", "exit_code", "verdict_code", "duration_ms")),
    Event("output.failed", logging.ERROR, "an output (a report, findings.json, the snapshot, the bundle) could "
          "not be written", ("output", "path", "reason")),
    Event("notice", logging.WARNING, "a line the command prints on stderr (a note, or an error: level error), "
          "as a JSON object with `--log-format json`", ()),
    Event("progress", logging.INFO, "a progress line on a non-terminal with `--log-format json` (printed "
          "every `--progress-interval` seconds whatever `--log-level` says; never with `-q`)",
          ("phase", "done", "total", "calls", "errors", "calls_per_s", "elapsed_s", "final")),
)

EVENTS: dict[str, Event] = {e.name: e for e in _ALL}
"""The stable event names (docs/cli.md, "Logs and progress", lists them; a test keeps both equal)."""

logging.getLogger(ROOT_LOGGER).addHandler(logging.NullHandler())


@dataclass(frozen=True)
class CollectionProgress:
    """Where a collection stands, as given to the progress callback.

    `phase` is ``accounts`` (reaching the accounts: assuming roles, confirming identities)
    or ``regions`` (collecting the account-regions); `done` of `total` are that phase's
    accounts or account-regions finished; `calls` and `errors` count every call recorded so
    far in the run (an error is a call that failed or was not attempted); `label` names the
    last one finished (``account/region``), empty on a heartbeat. The collector calls back on
    each one finished and at least every half second in between (a heartbeat), so that a
    reporter can print on time; its last call has phase ``regions`` and `done` equal to
    `total` (0 of 0 when no account could be reached)."""

    phase: str
    done: int
    total: int
    calls: int
    errors: int
    label: str = ""


Progress = Callable[[CollectionProgress], None]
"""The progress callback of a collection (`auditor.api.run_scan`'s `progress`)."""


def logger(name: str) -> logging.Logger:
    """The logger of a part of the tool (``auditor.<name>``)."""
    return logging.getLogger(f"{ROOT_LOGGER}.{name}")


def emit(log: logging.Logger, event: str, message: str, *args: Any, level: int | None = None,
         **fields: Any) -> None:
    """Log `event` (a name in `EVENTS`) at its level (or `level`): `message` is a fixed
    template filled from `args` by logging (values from AWS go there, never into the
    template); `fields` are the event's structured data."""
    spec = EVENTS[event]
    level = spec.level if level is None else level
    if not log.isEnabledFor(level):
        return
    clash = RESERVED.intersection(fields)
    if clash:
        raise ValueError(f"event {event}: fields may not be named {sorted(clash)}")
    log.log(level, message, *args, extra={"event": event, "fields": fields})
