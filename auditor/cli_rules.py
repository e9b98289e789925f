"""The `auditor rules` command group: list, show and validate rule packs.

Registered in auditor/cli.py with ``cli.add_command(rules)``. Exit codes follow the CLI's
contract: 0 done, 2 a pack has problems (each one listed, no traceback), 6 `docs --out` could
not be written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn
from collections.abc import Sequence

import click

from auditor.console import echo, safe
from auditor.errors import InputError

from auditor.cli_common import EXIT_INPUT, EXIT_OK, fail_input, write_whole


def _fail(exc: InputError) -> NoReturn:
    fail_input(exc)


def _load(paths: Sequence[Path], builtin: bool = True) -> Any:
    from auditor.rules.packs import load_packs

    try:
        return load_packs(list(paths), builtin=builtin)
    except InputError as exc:
        _fail(exc)


_PACK_OPTION = click.option("--pack", "packs", multiple=True, type=click.Path(path_type=Path),
                            help="A pack file or folder to load besides the built-in packs (repeatable).")


@click.group("rules")
def rules() -> None:
    """List, show and validate rule packs."""


@rules.command("list")
@_PACK_OPTION
def list_cmd(packs: tuple[Path, ...]) -> None:
    """Every loaded rule: id, severity, resource type and title."""
    ps = _load(packs)
    rows = [("ID", "SEVERITY", "RESOURCE", "TITLE")]
    rows += [(r.id, r.severity, r.resource, r.title + (" (deprecated)" if r.deprecated else ""))
             for r in ps.rules]
    widths = [max(len(row[n]) for row in rows) for n in range(3)]
    for row in rows:
        echo("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3])


@rules.command("show")
@click.argument("rule_id")
@_PACK_OPTION
def show_cmd(rule_id: str, packs: tuple[Path, ...]) -> None:
    """Every field of one rule."""
    from auditor.validation import did_you_mean

    ps = _load(packs)
    rule = ps.rules_by_id.get(rule_id)
    if rule is None:
        echo(f"error: unknown rule {safe(rule_id)}{did_you_mean(rule_id, ps.rules_by_id)}", err=True)
        sys.exit(EXIT_INPUT)
    echo("\n".join(rule_lines(rule)))


@rules.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--no-builtin", is_flag=True, help="Check the packs on their own, without the built-in packs "
              "(includes of built-in packs then fail).")
def validate_cmd(paths: tuple[Path, ...], no_builtin: bool) -> None:
    """Check pack files or folders (with the built-in packs, for includes and unique ids)."""
    ps = _load(paths, builtin=not no_builtin)
    given = [p.resolve() for p in paths]
    # The packs of the paths given: a built-in pack file given by path counts too.
    mine = [p for p in ps.packs if not p.builtin
            or any(Path(p.file).resolve() == g or g in Path(p.file).resolve().parents for g in given)]
    n_rules = sum(len(p.rules) for p in mine)
    echo(f"{len(mine)} pack{'s' if len(mine) != 1 else ''}, {n_rules} rule{'s' if n_rules != 1 else ''} OK")
    sys.exit(EXIT_OK)


@rules.command("docs")
@_PACK_OPTION
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the Markdown to this file instead of standard output.")
def docs_cmd(packs: tuple[Path, ...], out: Path | None) -> None:
    """Markdown documentation of every loaded rule and the built-in profiles (docs/rules.md)."""
    from auditor.rules.docs import rules_markdown
    from auditor.rules.profiles import builtin_profiles, load_profile, profiles_dir

    ps = _load(packs)
    try:
        profiles = [load_profile(profiles_dir() / f"{p}.yaml") for p in builtin_profiles()]
    except InputError as exc:
        _fail(exc)
    text = rules_markdown(ps, profiles)
    if out is None:
        echo(text, nl=False)
    else:
        write_whole(out, text)   # whole or not at all (exit 6)
        echo(f"wrote {safe(out)} ({len(ps.rules)} rules)", err=True)


# -- show: YAML-ish text ---------------------------------------------------------------

def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    return str(value)


def _condition_lines(cond: Any, indent: str) -> list[str]:
    from auditor.rules.packs import AllOf, AnyOf, Leaf, Not

    if isinstance(cond, Leaf):
        quant = f", quantifier: {cond.quantifier}" if "[*]" in cond.attr else ""
        line = f"{indent}{{attr: {cond.attr}, {cond.op}: {_scalar(cond.written)}{quant}}}"
        if cond.bindings:
            line += "   # " + ", ".join(f"{name} = {_scalar(v)}" for name, v in cond.bindings.items())
        return [line]
    if isinstance(cond, Not):
        return [f"{indent}not:"] + _condition_lines(cond.item, indent + "  ")
    word = "all" if isinstance(cond, AllOf) else "any"
    assert isinstance(cond, (AllOf, AnyOf))
    out = [f"{indent}{word}:"]
    for item in cond.items:
        sub = _condition_lines(item, indent + "    ")
        out.append(f"{indent}  - {sub[0].lstrip()}")
        out += sub[1:]
    return out


def rule_lines(rule: Any) -> list[str]:
    """A rule as YAML-like text, for people."""
    out = [f"id: {rule.id}", f"pack: {rule.pack}", f"title: {rule.title}", f"severity: {rule.severity}",
           f"resource: {rule.resource}"]
    if rule.for_each is not None:
        out += [f"for_each: ${{{rule.for_each[1]}}}   # = {_scalar(list(rule.for_each_values))}"]
    if rule.implements:
        out += [f"implements: {_scalar(list(rule.implements))}"]
    if rule.where is not None:
        out += ["where:"] + _condition_lines(rule.where, "  ")
    out += ["check:"] + _condition_lines(rule.check, "  ")
    out += [f"message: {rule.message}", f"rationale: {rule.rationale}", "remediation:"]
    out += [f"  {k}: {v}" for k, v in rule.remediation.items()]
    out += ["references:"] + [f"  - {ref}" for ref in rule.references]
    out += ["frameworks:" + ("" if rule.frameworks else " {}")]
    out += [f"  {fw}: {_scalar(list(controls))}" for fw, controls in rule.frameworks.items()]
    if rule.deprecated:
        out += ["deprecated:"]
        if rule.replaced_by:
            out += [f"  replaced_by: {rule.replaced_by}"]
        if rule.deprecation_reason:
            out += [f"  reason: {rule.deprecation_reason}"]
    out += [f"source: {rule.source[0]}:{rule.source[1]}"]
    return out
