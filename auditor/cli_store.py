"""`auditor store register` and `auditor history`: put a bundle in a run store, list the stored runs.

Registered in auditor/cli.py `_register_groups()`. Exit codes (docs/cli.md):

  store register   0 registered; 2 the store or the bundle cannot be used (not a store, not a bundle,
                   files that do not match bundle.json, the run already stored); 6 the copy could not be written
  history          0 the runs listed (also when none match: "no runs ..."; it lists, it does not assess);
                   2 the store cannot be used or a bad --from/--to

What opening a store found (an index rebuilt, leftovers of interrupted registrations) is said on
stderr as ``store: ...`` lines.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from auditor.cli_common import EXIT_INPUT, EXIT_OK, EXIT_OUTPUT
from auditor.console import echo, safe

if TYPE_CHECKING:
    from auditor.store.base import RunStore, StoredRun


def open_for_command(location: str, *, create: bool = False) -> RunStore:
    """The store at `location` for a command, its notes said on stderr; exit 2 when it cannot be used."""
    from auditor.store import StoreError, open_store

    try:
        store = open_store(location, create=create)
    except StoreError as exc:
        echo(f"error: {safe(exc)}", err=True)
        sys.exit(EXIT_INPUT)
    except OSError as exc:
        echo(f"error: store {safe(location)} cannot be read: {safe(exc.strerror or exc)}", err=True)
        sys.exit(EXIT_INPUT)
    say_notes(store, 0)
    return store


def say_notes(store: RunStore, said: int) -> int:
    """Say on stderr the store's notes after the first `said` (what opening or reading it found
    and did); returns how many it has said in all."""
    notes = list(getattr(store, "notes", ()))
    for note in notes[said:]:
        echo(f"store: {safe(note)}", err=True)
    return len(notes)


_STORE_OPTION = click.option("--store", "location", metavar="LOCATION", required=True,
                             help="The run store: a folder or s3://bucket/prefix (docs/store.md).")


@click.group("store")
def store_group() -> None:
    """Run stores: the evidence bundles of scans kept over an assessment period (docs/store.md)."""


@store_group.command("register")
@click.argument("bundle", type=click.Path(file_okay=False, path_type=Path))
@_STORE_OPTION
@click.option("--signer", default="", help="Who signed the bundle (recorded with the run; default: unknown).")
def register_cmd(bundle: Path, location: str, signer: str) -> None:
    """Register an existing evidence bundle folder in a run store (made when the folder is new
    or empty): it is copied, every file checked against its bundle.json, and listed only then."""
    from auditor.api import register_run
    from auditor.store import StoreError

    store = open_for_command(location, create=True)
    said = len(list(getattr(store, "notes", ())))
    try:
        run = register_run(bundle, store, signer=signer)
    except StoreError as exc:
        echo(f"error: {safe(exc)}", err=True)
        sys.exit(EXIT_INPUT)
    except OSError as exc:
        echo(f"error: could not write into {safe(store.description)}: {safe(exc.strerror or exc)}; nothing was "
             f"registered and {safe(bundle)} is unchanged", err=True)
        sys.exit(EXIT_OUTPUT)
    say_notes(store, said)
    echo(f"registered run {safe(run.run_id)} in {safe(store.description)}")
    sys.exit(EXIT_OK)


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _result(run: StoredRun) -> str:
    counts = run.counts
    return (f"{'complete' if run.complete else 'INCOMPLETE'} FAIL {counts.get('FAIL', 0)} "
            f"ERROR {counts.get('ERROR', 0)} WAIVED {counts.get('WAIVED', 0)}")


def marks(run: StoredRun, today: dt.date) -> list[str]:
    """What history says of a run's retention on `today`: past retention, past the online days."""
    found = []
    if run.retain_until and run.retain_until < today.isoformat():
        found.append("PAST RETENTION")
    online = str(run.extra.get("online_until") or "")
    if online and online < today.isoformat() and not found:
        found.append("older than the online days")
    return found


@click.command("history")
@_STORE_OPTION
@click.option("--from", "since", metavar="DATE", callback=_day, default=None,
              help="Only runs collected on or after this day (YYYY-MM-DD, UTC).")
@click.option("--to", "until", metavar="DATE", callback=_day, default=None,
              help="Only runs collected on or before this day (YYYY-MM-DD, UTC).")
@click.option("--account", default=None, help="Only runs that assessed this account id.")
@click.option("--json", "as_json", is_flag=True, help="The runs as a JSON list (docs/store.md).")
def history_cmd(location: str, since: dt.date | None, until: dt.date | None, account: str | None,
                as_json: bool) -> None:
    """List the runs in a store, oldest first: when collected, accounts, regions, result and
    counts, signer, retention."""
    from auditor.store import StoreError

    if since is not None and until is not None and until < since:
        echo(f"error: --to {until} is before --from {since}", err=True)
        sys.exit(EXIT_INPUT)
    store = open_for_command(location)
    said = len(list(getattr(store, "notes", ())))
    try:
        runs = store.runs(since=since, until=until, account=account)
    except StoreError as exc:
        echo(f"error: {safe(exc)}", err=True)
        sys.exit(EXIT_INPUT)
    say_notes(store, said)
    today = dt.datetime.now(dt.UTC).date()
    if as_json:
        echo(json.dumps([history_json(r, today) for r in runs], indent=1, sort_keys=True))
        sys.exit(EXIT_OK)
    if not runs:
        echo(f"no runs in {safe(store.description)}{_filters(since, until, account)}")
        sys.exit(EXIT_OK)
    for run in runs:
        signed = f"signed by {run.signer}" if run.signed and run.signer else "signed" if run.signed else "unsigned"
        keep = f"retain until {run.retain_until}" if run.retain_until else "retention not stated"
        flags = "".join(f"  [{m}]" for m in marks(run, today))
        echo(safe(f"{run.run_id}  {run.created}  accounts {','.join(run.accounts) or '-'}  regions "
                  f"{','.join(run.regions) or '-'}  {_result(run)}  {signed}  {keep}{flags}"))
    retention = store.retention()
    echo(f"{len(runs)} run(s); retention: {safe(retention.source or 'none stated')}"
         + ("" if location.startswith("s3://") else "; reported, not enforced by the local store"))
    sys.exit(EXIT_OK)


def history_json(run: StoredRun, today: dt.date) -> dict[str, Any]:
    """One run of `auditor history --json`: `StoredRun.to_json()` and its retention marks."""
    return {**run.to_json(), "marks": marks(run, today)}


def _filters(since: dt.date | None, until: dt.date | None, account: str | None) -> str:
    parts = []
    if since is not None or until is not None:
        parts.append(f"collected {since or '...'} to {until or '...'}")
    if account is not None:
        parts.append(f"for account {safe(account)}")
    return (" " + " ".join(parts)) if parts else ""
