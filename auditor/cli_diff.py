"""The `auditor diff RUN_A RUN_B` command: what changed between two runs (docs/diff.md).

Registered in auditor/cli.py. RUN_A and RUN_B are evidence bundle folders or, with a store
(`--store S`, or the `store:` of the config `-c CONFIG`), stored runs: an id, a unique prefix,
``latest`` or ``previous``. The console gets one line per category with its count, then the
entries (new first); `--json FILE|-` writes the diff document (auditor/schemas/diff.schema.json),
`--html FILE` a self-contained page.

Exit codes (auditor/cli_common.py): 0 done; with `--fail-on-new SEVERITY`, 1 when RUN_B has a
FAIL at or above SEVERITY that was not FAIL in RUN_A (new, unwaived, or ERROR before), 3 when it
has none but has new ERROR findings (not assessed where RUN_A had no failing result), 4 both;
2 an input problem (not a bundle, an unreadable findings.json, an unknown run, no store);
6 an output that could not be written.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from auditor.cli_common import (
    EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATIONS, EXIT_VIOLATIONS_INCOMPLETE, fail_output, fail_unreadable,
)
from auditor.console import echo, safe
from auditor.store.base import RunStore, StoreError
from auditor.vocabulary import SEVERITIES

MAX_SHOWN = 50          # entries printed per category (all of them are in --json and --html)
_TITLES = {"new": "new", "resolved": "resolved", "changed": "changed", "still_failing": "still failing",
           "waived": "waived", "unwaived": "unwaived"}


def resolve(ref: str, store: RunStore | None, workdir: Path) -> tuple[Path, str]:
    """The bundle folder `ref` names and how to call it: a folder holding a bundle.json (always
    tried first), else, with `store`, a stored run (``store.get(ref)``, fetched into `workdir`
    when the store is not local). `StoreError` when it names nothing."""
    folder = Path(ref)
    if (folder / "bundle.json").is_file() or store is None:
        if store is None and not folder.exists():
            raise StoreError(f"{ref!r} is not a folder: give a bundle folder, or --store (or -c CONFIG with a "
                             "store:) to name a stored run by id, prefix, latest or previous")
        return folder, str(ref)
    run = store.get(ref)
    workdir.mkdir(parents=True, exist_ok=True)
    fetched = store.fetch(run, into=workdir)
    return fetched, f"{ref} = run {run.run_id} in {store.description}"


def _open_store(store: str | None, config: Path | None) -> RunStore | None:
    """The store named by --store, else by the config's `store:`, else None."""
    from auditor.store import StoreSpec, open_store

    spec: StoreSpec | None = StoreSpec(location=store) if store else None
    if spec is None and config is not None:
        from auditor.config import load_config
        from auditor.errors import InputError

        try:
            cfg = load_config(config)
        except InputError as exc:
            from auditor.cli_common import fail_input

            fail_input(exc)
        spec = getattr(cfg, "store", None)   # the config's `store:` block (docs/config.md)
        if spec is None:
            raise StoreError(f"{config} has no store: block; give --store S, or bundle folders")
    return open_store(spec) if spec is not None else None


def _write(target: Path, text: str) -> None:
    """Write whole or not at all (a side file renamed over `target`); exit 6 when it cannot be."""
    from auditor.report.outputs import write_whole

    try:
        write_whole(target, text.encode("utf-8"))
    except OSError as exc:
        fail_output(f"cannot write {safe(target)}: {safe(exc.strerror or exc)}")


def _resource_text(r: Mapping[str, Any]) -> str:
    return f"{r['type']} {r['id']} ({r['account']} {r['region']})"


def _entry_line(cat: str, e: Mapping[str, Any]) -> str:
    status = f"{e['status_a'] or '-'} -> {e['status_b'] or '-'}"
    item = f" [{e['item']}]" if e.get("item") else ""
    line = (f"  {_TITLES[cat].upper():<13} {status:<22} {e['severity']:<8} {e['rule_id']:<9} "
            f"{safe(_resource_text(e['resource']))}{safe(item)}: {safe(e['reason'] or e['message'])}")
    if e["reason"] and e["message"]:
        line += f"\n      {safe(e['message'])}"
    for c in e["changes"]:
        line += f"\n      {safe(c['path'])}: {safe(c['a'])} -> {safe(c['b'])}"
        if c["added"] or c["removed"]:
            line += f" (added {safe(', '.join(c['added'])) or 'none'}; removed {safe(', '.join(c['removed'])) or 'none'}"
            line += f"; {c['omitted']} more)" if c["omitted"] else ")"
    return line


def summary_lines(doc: Mapping[str, Any], label_a: str, label_b: str) -> list[str]:
    """The console summary: the runs, the notes, one line per category with its count, then the
    entries (new first; still-failing ones only counted), at most `MAX_SHOWN` per category."""
    from auditor.diff import CATEGORIES

    a, b, counts = doc["a"], doc["b"], doc["counts"]
    out = [f"RUN_A {safe(label_a)}: run {a['run_id']}, collected {a['created']}, assessed on {a['assessed_on']}",
           f"RUN_B {safe(label_b)}: run {b['run_id']}, collected {b['created']}, assessed on {b['assessed_on']}"]
    out += [f"note: {safe(n['text'])}" for n in doc["notes"]]
    for cat in CATEGORIES:
        out.append(f"{_TITLES[cat]:<18}{counts[cat]:>7}")
    nl = counts["not_listed"]
    out.append(f"{'resources':<18}{counts['resources_added']:>7} added, {counts['resources_removed']} removed "
               "(resources the rules evaluated)")
    w = doc["waivers"]
    out.append(f"{'waivers':<18}{len(w['expired_since_a']):>7} expired since RUN_A, {len(w['expiring'])} expiring "
               f"within {doc['expiring_within']} days, {len(w['added'])} added, {len(w['removed'])} removed")
    p = doc["packs"]
    out.append(f"{'rule packs':<18}{len(p['changed']):>7} changed, {len(p['added'])} added, {len(p['removed'])} removed")
    out.append(f"{'config':<18}{'changed' if doc['config']['changed'] else 'unchanged':>7}")
    out.append(f"not listed: {nl['unchanged_passing']} still PASS, {nl['unchanged_not_applicable']} still "
               f"NOT_APPLICABLE, {nl['unchanged_waived']} still WAIVED, {nl['passing_evidence_changed']} passing with "
               f"other evidence, {nl['passing_status_changed']} PASS <-> NOT_APPLICABLE, {nl['appeared_passing']} "
               f"passing results appeared, {nl['disappeared_passing']} went")
    if doc["no_changes"]:
        out.append("no changes")
    for cat in CATEGORIES:
        entries = doc["findings"][cat]
        if cat == "still_failing" or not entries:
            continue
        out.append(f"{_TITLES[cat].upper()} ({len(entries)})")
        out += [_entry_line(cat, e) for e in entries[:MAX_SHOWN]]
        if len(entries) > MAX_SHOWN:
            out.append(f"  ... and {len(entries) - MAX_SHOWN} more (all in --json and --html)")
    for r in w["expired_since_a"]:
        out.append(f"WAIVER expired since RUN_A: {safe(r['id'])} expired on {safe(r['expires'])}")
    for r in w["expiring"]:
        out.append(f"WAIVER expiring: {safe(r['id'])} expires on {safe(r['expires'])} ({r['days_to_expiry']} days after "
                   "RUN_B's assessment)")
    for pack in p["changed"]:
        out.append(f"RULE PACK changed: {safe(pack['id'])}: " + "; ".join(
            f"{safe(c['path'])} {safe(c['a'])} -> {safe(c['b'])}" for c in pack["changes"]))
    if doc["config"]["diff"]:
        out.append("CONFIG diff:")
        out += [f"  {safe(line)}" for line in doc["config"]["diff"].splitlines()]
    return out


@click.command("diff")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--store", default=None, metavar="S",
              help="The run store (a folder or s3://bucket/prefix): RUN_A and RUN_B may then be run ids, unique "
                   "prefixes, latest or previous.")
@click.option("-c", "--config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An audit config whose store: names the run store (when --store is not given).")
@click.option("--json", "json_out", default=None, metavar="FILE|-",
              help="Write the diff document (auditor/schemas/diff.schema.json) to FILE, or to stdout with - "
                   "(the summary then goes to stderr).")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the diff as a self-contained HTML page.")
@click.option("--expiring-within", type=click.IntRange(min=0), default=30, show_default=True, metavar="DAYS",
              help="List the waivers active in RUN_B that expire within DAYS of its assessment date.")
@click.option("--fail-on-new", type=click.Choice(SEVERITIES), default=None,
              help="Exit 1 when RUN_B has a FAIL at or above this severity that was not FAIL in RUN_A (new, unwaived "
                   "or not assessed before); 3 for new ERROR findings (not assessed) without one; 4 both.")
def diff_cmd(run_a: str, run_b: str, store: str | None, config: Path | None, json_out: str | None,
             html_out: Path | None, expiring_within: int, fail_on_new: str | None) -> None:
    """Compare two runs: findings new, resolved, changed, still failing, waived or unwaived;
    resources added and removed; waivers expired or expiring; rule-pack and config changes."""
    from auditor.diff import DiffError, diff_bundles, gate

    with tempfile.TemporaryDirectory(prefix="auditor-diff-") as tmp:
        try:
            # a store is opened only when a ref is not a bundle folder (folders need none)
            folders = all((Path(r) / "bundle.json").is_file() for r in (run_a, run_b))
            opened = None if folders else _open_store(store, config)
            folder_a, label_a = resolve(run_a, opened, Path(tmp) / "a")
            folder_b, label_b = resolve(run_b, opened, Path(tmp) / "b")
            doc = diff_bundles(folder_a, folder_b, expiring_within=expiring_within)
        except (StoreError, DiffError) as exc:
            fail_unreadable(safe(exc))
        except ImportError as exc:   # a store kind this installation lacks
            fail_unreadable(f"cannot open the store: {safe(exc)}")
    if json_out is not None:
        import json

        # ASCII JSON, DEL escaped too: nothing in it is a control character (echo would rewrite one)
        text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=True).replace("\x7f", "\\u007f") + "\n"
        if json_out == "-":
            echo(text, nl=False)
        else:
            _write(Path(json_out), text)
    if html_out is not None:
        from auditor.report.diff_html import render_diff_html

        _write(html_out, render_diff_html(doc))
    to_stderr = json_out == "-"
    for line in summary_lines(doc, label_a, label_b):
        echo(line, err=to_stderr)
    for what, target in (("json", json_out), ("html", html_out)):
        if target is not None and target != "-":
            echo(f"{what} written to {safe(target)}", err=to_stderr)
    if fail_on_new is None:
        sys.exit(EXIT_OK)
    g = gate(doc, fail_on_new)
    echo(f"--fail-on-new {fail_on_new}: {g.violations} FAIL(s) at or above {fail_on_new} not failing in RUN_A, "
         f"{g.new_errors} new ERROR(s) (not assessed)", err=to_stderr)
    if g.violations and g.new_errors:
        sys.exit(EXIT_VIOLATIONS_INCOMPLETE)
    sys.exit(EXIT_VIOLATIONS if g.violations else EXIT_INCOMPLETE if g.new_errors else EXIT_OK)

