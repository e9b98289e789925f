"""The closed sets are defined once (auditor/vocabulary.py; formats and styles by their
registries) and every other list of them is either derived from that definition or, where a
published file must list them literally (the JSON schemas, report.js), equal to it."""

from __future__ import annotations

import ast
import importlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.report.wording import load_style, style_names
from auditor.report.writers import (file_names, format_names, report_formats, scan_default_formats, scan_formats,
                                    writer, writers)
from auditor.vocabulary import FAIL_ON_CHOICES, RISK_LEVELS, SEVERITIES, STATUSES, severity_rank, status_rank, worst

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "auditor" / "schemas"


def closed_sets() -> dict[str, tuple[str, ...]]:
    """Each closed set in the order its lists are written (formats: as `auditor scan` writes them,
    the order the config schema and the scan's help list them)."""
    return {"statuses": STATUSES, "severities": SEVERITIES, "fail_on": FAIL_ON_CHOICES, "risk_levels": RISK_LEVELS,
            "formats": scan_formats(), "styles": style_names()}


def test_the_sets_and_their_order() -> None:
    assert STATUSES == ("FAIL", "ERROR", "WAIVED", "PASS", "NOT_APPLICABLE")
    assert SEVERITIES == ("critical", "high", "medium", "low", "info")
    assert FAIL_ON_CHOICES == (*SEVERITIES, "none")
    assert RISK_LEVELS == ("low", "medium", "high")
    assert format_names() == ("junit", "sarif", "asff", "csv", "ocsf", "oscal", "json", "html", "pdf")
    assert scan_formats() == ("json", "html", "pdf", "junit", "sarif", "asff", "csv", "ocsf", "oscal")
    assert scan_default_formats() == ("json", "html", "pdf", "junit", "sarif", "asff", "csv", "ocsf")
    assert report_formats() == ("junit", "sarif", "asff", "csv", "ocsf", "json", "html")
    assert style_names() == ("banking", "healthcare", "insurer")


def test_ranking() -> None:
    assert [status_rank(s) for s in STATUSES] == list(range(len(STATUSES)))
    assert status_rank("UNKNOWN") == len(STATUSES) and severity_rank("urgent") == len(SEVERITIES)
    assert sorted(["low", "critical", "info", "high"], key=severity_rank) == ["critical", "high", "low", "info"]
    assert worst([]) == "NOT_APPLICABLE"
    assert worst(["PASS", "WAIVED", "NOT_APPLICABLE"]) == "WAIVED"
    assert worst(["PASS", "ERROR", "FAIL"]) == "FAIL"


# Published files that must list a set literally -------------------------------------------------

def _lists(node: Any, where: str = "") -> Iterator[tuple[str, list[str]]]:
    """Every enum and required list of a schema, and every ``^(a|b|c)$`` patternProperties key."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}/{key}"
            if key in ("enum", "required") and isinstance(value, list):
                yield here, [str(v) for v in value]
            elif key == "patternProperties" and isinstance(value, dict):
                for pattern in value:
                    m = re.fullmatch(r"\^\(([\w|]+)\)\$", pattern)
                    if m:
                        yield f"{here}/{pattern}", m.group(1).split("|")
            yield from _lists(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _lists(value, f"{where}/{i}")


def test_every_schema_list_of_a_closed_set_equals_its_definition() -> None:
    """A schema list naming any member of a closed set names exactly that set, in its order."""
    sets = closed_sets()
    checked: dict[str, int] = dict.fromkeys(sets, 0)
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        for where, values in _lists(json.loads(path.read_text(encoding="utf-8"))):
            touched = [name for name, members in sets.items() if set(values) & set(members)]
            if not touched:
                continue
            match = [name for name in touched if tuple(values) == sets[name]]
            assert match, (f"{path.name} {where} lists {values}: it should equal one of "
                           + "; ".join(f"{n} {list(sets[n])}" for n in touched))
            checked[match[0]] += 1
    # findings: status, status counts (required + pattern), severity, by_severity (required +
    # pattern); rule-pack: severity; profile: severity, fail_on, style; audit-config: formats, fail_on;
    # diff: status, severity.
    assert checked == {"statuses": 4, "severities": 6, "fail_on": 2, "risk_levels": 1, "formats": 1, "styles": 1}, checked


def test_report_js_lists_the_statuses_and_severities() -> None:
    script = (REPO / "reports" / "templates" / "report.js").read_text(encoding="utf-8")
    found = dict(re.findall(r"var (SEV|ST) = (\[[^\]]*\]);", script))
    assert tuple(json.loads(found["SEV"])) == SEVERITIES
    assert tuple(json.loads(found["ST"])) == STATUSES


def test_per_member_tables_cover_the_set() -> None:
    from auditor.report.html import STATUS_COLOURS
    from auditor.report.machine import _LEVELS

    assert tuple(STATUS_COLOURS) == STATUSES
    assert tuple(_LEVELS) == SEVERITIES
    css = (REPO / "reports" / "templates" / "report.html.j2").read_text(encoding="utf-8")
    for status, colour in STATUS_COLOURS.items():
        assert f".st-{status}{{color:{colour}}}" in css


# No other copy in the code -----------------------------------------------------------------------

def _literal_copies(source: str) -> Iterator[tuple[int, str]]:
    sets = {name: set(members) for name, members in closed_sets().items()}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and node.elts and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            values = {e.value for e in node.elts if isinstance(e, ast.Constant)}
            for name, members in sets.items():
                if values == members:
                    yield node.lineno, name


def test_the_literal_copy_finder_finds_one() -> None:
    assert list(_literal_copies('X = ("FAIL", "ERROR", "WAIVED", "PASS", "NOT_APPLICABLE")\n'
                                'Y = ["banking", "healthcare", "insurer"]\nZ = ("FAIL", "ERROR")\n')) == [
        (1, "statuses"), (2, "styles")]


def test_no_module_but_the_vocabulary_lists_a_closed_set() -> None:
    copies = [f"{path.relative_to(REPO)}:{line} lists the {name}"
              for path in sorted((REPO / "auditor").rglob("*.py")) if path.name != "vocabulary.py"
              for line, name in _literal_copies(path.read_text(encoding="utf-8"))]
    assert copies == [], "import them from auditor/vocabulary.py (or the registries) instead: " + "; ".join(copies)


# Everything that names a set derives it ----------------------------------------------------------

def test_the_cli_offers_exactly_the_sets() -> None:
    from auditor.cli_report import DEFAULT_FORMATS, FORMATS, report
    from auditor.config import ALL_FORMATS, DEFAULT_FORMATS as SCAN_DEFAULT

    for command in (cli.commands["scan"], cli.commands["demo"], report):
        params = {p.name: p for p in command.params}
        assert tuple(params["style"].type.choices) == style_names(), command.name
        for style in style_names():
            assert f"{style} ({load_style(style).help})" in (params["style"].help or ""), (command.name, style)
        for fmt in format_names():
            assert fmt in (params["formats"].help or ""), (command.name, fmt)
    fail_on = next(p for p in cli.commands["scan"].params if p.name == "fail_on")
    assert tuple(fail_on.type.choices) == FAIL_ON_CHOICES
    assert ALL_FORMATS == scan_formats() and FORMATS == format_names() and DEFAULT_FORMATS == report_formats()
    assert SCAN_DEFAULT == scan_default_formats()


def test_an_unknown_format_is_refused_naming_every_format(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "findings.json"), "--format", "xml,junit"])
    assert res.exit_code == 2
    assert f"unknown format xml; choose from {', '.join(format_names())} (comma-separated)" in res.output


# The writers' registry ---------------------------------------------------------------------------

def test_every_writer_is_whole() -> None:
    names = [w.name for w in writers()]
    assert len(set(names)) == len(names) and len(set(file_names().values())) == len(names)
    assert [w.order for w in writers()] == sorted(w.order for w in writers())
    for w in writers():
        assert re.fullmatch(r"[a-z][a-z0-9-]*", w.name), w.name
        assert w.file_name.startswith(("findings.", "report.")), w.file_name


def test_a_writer_module_is_all_a_format_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry is found by listing its package: a module with a WRITER is a format."""
    from auditor.report.writers import discover

    package = tmp_path / "extra_writers"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "ocsf.py").write_text(
        "from auditor.report.writers import ReportInputs, Writer\n\n"
        "def _write(inputs: ReportInputs) -> bytes:\n    return b'{}'\n\n"
        "WRITER = Writer(name='ocsf', file_name='findings.ocsf.json', write=_write, order=35)\n", encoding="utf-8")
    (package / "_helpers.py").write_text("X = 1\n", encoding="utf-8")
    (package / "junit.py").write_text("from auditor.report.writers.junit import WRITER\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        found = discover("extra_writers")
        assert [w.name for w in found] == ["junit", "ocsf"]
        assert found[0] is writer("junit")   # the same entry, found through either package
        (package / "broken.py").write_text("X = 1\n", encoding="utf-8")
        importlib.invalidate_caches()   # a file added within the directory's mtime tick
        with pytest.raises(TypeError, match="extra_writers.broken defines no WRITER"):
            discover("extra_writers")
    finally:
        for name in [m for m in sys.modules if m == "extra_writers" or m.startswith("extra_writers.")]:
            del sys.modules[name]
