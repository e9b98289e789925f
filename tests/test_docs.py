"""Documentation matches the tool: generated blocks current, every command and config key documented."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from auditor.cli import cli
from auditor.docgen import GENERATORS, render, render_schema, update_schemas
from auditor.validation import load_schema

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_generated_blocks_are_current(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert render(text) == text, f"run `python -m auditor.docgen` to refresh {path.name}"


def test_schema_lists_of_registries_are_current(tmp_path: Path) -> None:
    """The published schemas' lists of formats and styles are their registries' names
    (`python -m auditor.docgen` rewrites them: a new writer module or style file is all a new
    format or style needs)."""
    schemas = Path(__file__).resolve().parent.parent / "auditor" / "schemas"
    for path in schemas.glob("*.json"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    assert update_schemas(tmp_path) == [], "run `python -m auditor.docgen` to refresh the schemas"
    text = '{"formats": {"type": "array", "items": {"enum": ["json"]}}, "other": {"enum": ["x"]}}'
    assert render_schema(text, "formats", ("json", "ocsf")) == (
        '{"formats": {"type": "array", "items": {"enum": ["json", "ocsf"]}}, "other": {"enum": ["x"]}}')
    with pytest.raises(ValueError, match="0 enums of 'style'"):
        render_schema(text, "style", ("banking",))


def test_every_generator_is_used_somewhere() -> None:
    joined = "".join(p.read_text() for p in DOCS.glob("*.md"))
    for name in GENERATORS:
        assert f"BEGIN GENERATED: {name}" in joined


def test_every_command_and_option_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    for name, command in cli.commands.items():  # type: ignore[attr-defined]
        assert f"`auditor {name}" in text, f"command {name} is not in docs/cli.md"
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert opt in text, f"option {opt} of {name} is not in docs/cli.md"


def test_every_config_key_is_documented() -> None:
    text = (DOCS / "config.md").read_text()
    schema = load_schema("audit-config")

    def walk(node: dict, path: str) -> None:  # type: ignore[type-arg]
        for key, sub in node.get("properties", {}).items():
            assert f"{key}:" in text, f"config key {path}{key} is not in docs/config.md"
            walk(sub, f"{path}{key}.")
            if isinstance(sub.get("items"), dict):
                walk(sub["items"], f"{path}{key}[].")

    walk(schema, "")


def test_rules_md_is_the_output_of_auditor_rules_docs() -> None:
    from auditor.rules.docs import rules_markdown
    from auditor.rules.packs import load_packs
    from auditor.rules.profiles import builtin_profiles, load_profile, profiles_dir

    profiles = [load_profile(profiles_dir() / f"{p}.yaml") for p in builtin_profiles()]
    assert (DOCS / "rules.md").read_text(encoding="utf-8") == rules_markdown(load_packs(), profiles), (
        "run `auditor rules docs --out docs/rules.md`")


_OPTION = r"(?<![\w-])(--?[a-zA-Z][\w-]*)"


def _command_rows() -> list[tuple[list[tuple[list[str], list[str]]], list[str]]]:
    """docs/cli.md's command table: per row, its usages (command path, options written) and
    the options its description names. A usage is a backticked ``auditor ...`` in the row's
    first cell, with the short forms listed in backticks after it (``(`-c`, `-q` for
    short)``); the description is the second cell."""
    import re

    rows: list[tuple[list[tuple[list[str], list[str]]], list[str]]] = []
    for line in (DOCS / "cli.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `auditor"):
            continue
        cells = re.split(r"(?<!\\)\|", line)
        usages: list[tuple[list[str], list[str]]] = []
        for code in re.findall(r"`([^`]*)`", cells[1]):
            words = code.replace("\\|", "|").split()
            if words[0] == "auditor":
                path = []
                for word in words[1:]:
                    if not re.fullmatch(r"[a-z][a-z-]*", word):
                        break
                    path.append(word)
                usages.append((path, []))
            usages[-1][1].extend(re.findall(_OPTION, code))
        rows.append((usages, [opt for code in re.findall(r"`([^`]*)`", cells[2]) for opt in re.findall(_OPTION, code)]))
    return rows


def test_every_documented_option_exists_on_its_command() -> None:
    """docs/cli.md names no command or option the CLI lacks (``rules list --no-builtin`` was
    one), and the rows of each command list all of its options."""
    import click

    documented: dict[tuple[str, ...], set[str]] = {}
    for usages, described in _command_rows():
        row_options: set[str] = set()
        for path, options in usages:
            command: click.Command = cli
            for name in path:
                assert isinstance(command, click.Group) and name in command.commands, (
                    f"docs/cli.md: `auditor {' '.join(path)}`: there is no command {name!r}")
                command = command.commands[name]
            real = {opt for param in command.params for opt in param.opts + param.secondary_opts}
            real |= {"-h", "--help"} | ({"--version"} if not path else set())
            wrong = sorted(set(options) - real)
            assert not wrong, f"docs/cli.md documents {wrong} for `auditor {' '.join(path)}`, which has no such option"
            documented.setdefault(tuple(path), set()).update(options)
            row_options |= real
        wrong = sorted(set(described) - row_options)
        assert not wrong, f"docs/cli.md describes {wrong} in the row of {usages[0][0]}: no such option there"

    def leaves(group: click.Group, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
        found = []
        for name, sub in group.commands.items():
            found += leaves(sub, path + (name,)) if isinstance(sub, click.Group) else [(path + (name,), sub)]
        return found

    for path, command in leaves(cli, ()):
        assert path in documented, f"`auditor {' '.join(path)}` has no row in docs/cli.md"
        missing = sorted(opt for param in command.params if isinstance(param, click.Option)
                         for opt in param.opts if opt.startswith("--") and opt not in documented[path])
        assert not missing, f"docs/cli.md: `auditor {' '.join(path)}` does not list {missing}"


# -- docs/architecture.md names what exists -------------------------------------------------------

_REPO = DOCS.parent
_PATH = re.compile(r"^(?:auditor|tests|rules|reports|docs|benchmarks)/[\w./-]*$")
_DOTTED = re.compile(r"^auditor(?:\.\w+)+$")


def _code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def _resolves(dotted: str) -> bool:
    """`auditor.a.b.name.attr` names a module, or something reachable from one by attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def test_architecture_names_exist() -> None:
    """Every file, folder and dotted name docs/architecture.md puts in backticks exists, so the
    map of where things are defined and what a change touches cannot drift from the code."""
    spans = _code_spans((DOCS / "architecture.md").read_text(encoding="utf-8"))
    paths = [s for s in spans if _PATH.match(s) and "<" not in s and "*" not in s]
    dotted = [s for s in spans if _DOTTED.match(s)]
    assert len(paths) > 30 and len(dotted) > 10, (len(paths), len(dotted))   # the check reads the page
    assert [p for p in paths if not (_REPO / p.rstrip("/")).exists()] == []
    assert [d for d in dotted if not _resolves(d)] == []
    # Names written as `name` (module.py) must be defined in the module the sentence names.
    for module, names in {"auditor/model/registry.py": ("REGISTRY",), "auditor/rules/operators.py": ("OPERATORS",),
                          "auditor/model/build.py": ("SIDE_HANDLERS", "_link"),
                          "auditor/rules/derived/__init__.py": ("DERIVED",)}.items():
        source = (_REPO / module).read_text(encoding="utf-8")
        for name in names:
            assert re.search(rf"^(?:def |class )?{re.escape(name)}\b", source, re.M), (module, name)


def test_the_architecture_check_sees_a_wrong_name() -> None:
    assert not _resolves("auditor.model.registry.NO_SUCH_NAME")
    assert not _resolves("auditor.no_such_module")
    assert _resolves("auditor.model.types.Model.memo") == hasattr(importlib.import_module("auditor.model.types").Model,
                                                                  "memo")
