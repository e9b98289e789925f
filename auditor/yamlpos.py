"""YAML loading that keeps line and column for every key and value.

Every YAML input (audit configs, rule packs, waivers, profiles, framework catalogues,
estates) is read through `load_yaml` / `load_yaml_text`, so each problem can be reported as
``file:line:col``. Duplicate keys, which PyYAML silently resolves to the last one, are
reported as problems here.

Hostile or broken YAML is bounded here, once for every input, before anything is built:
nesting deeper than `MAX_DEPTH` collections (PyYAML's composer recurses per level: 5,000
levels would end in a RecursionError), an alias that contains itself, and aliases that
would expand the document by more than `MAX_ALIAS_EXPANSION` values (a 1 KB "billion
laughs" file expands to 10^9 values) are input errors, found on the composed node graph
(where an alias is one shared node) in time and memory linear in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from auditor.errors import InputError, Problem

PathKey = tuple[Any, ...]

# No input we read nests nearly this deep (a rule's condition tree is the deepest, ~10).
MAX_DEPTH = 100
# How many values aliases may add beyond those written: generous for anchors reused across a
# file (the demo estate adds a few hundred), far below what exhausts memory.
MAX_ALIAS_EXPANSION = 100_000


@dataclass
class Located:
    """Plain data (dicts, lists, scalars) plus where each part of it stood in the file."""

    file: str
    data: Any
    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    raw: dict[PathKey, str] = field(default_factory=dict)  # scalars as written, before typing

    def where(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """Line and column of the value at `path` (or of its key), else the nearest parent."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def problem(self, path: PathKey, message: str, *, key: bool = False) -> Problem:
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, dotted(path), message)


def dotted(path: PathKey) -> str:
    """``('accounts', 0, 'id')`` -> ``accounts[0].id``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _convert(loader: yaml.SafeLoader, node: yaml.Node, path: PathKey, out: Located,
             problems: list[Problem]) -> Any:
    out.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<) like PyYAML does
        merged = len(node.value) - explicit  # flatten puts merged entries first
        result: dict[Any, Any] = {}
        for n, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                line, col = _mark(key_node)
                problems.append(Problem(out.file, line, col, dotted(path),
                                        "mapping keys must be plain scalars"))
                continue
            from_merge = n < merged
            if key in result and not from_merge and path + (key,) in out.keys:
                line, col = _mark(key_node)
                first = out.keys[path + (key,)]
                problems.append(Problem(out.file, line, col, dotted(path + (key,)),
                                        f"duplicate key '{key}' (first given at line {first[0]})"))
                continue
            # Explicit keys override merged ones; among merged ones the later wins (as PyYAML).
            if not from_merge:
                out.keys[path + (key,)] = _mark(key_node)
            result[key] = _convert(loader, value_node, path + (key,), out, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(loader, item, path + (i,), out, problems) for i, item in enumerate(node.value)]
    out.raw[path] = node.value
    try:
        return loader.construct_object(node, deep=True)
    except ValueError:
        # An impossible date such as 2026-02-30 looks like a date to YAML but is none: keep
        # the text as written and let the schema or semantic checks say what is wrong there.
        return node.value


class _TooDeep(Exception):
    def __init__(self, mark: Any):
        self.mark = mark


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader whose composer refuses to nest deeper than MAX_DEPTH."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _too_deep(file: str, mark: Any) -> InputError:
    return InputError([Problem(file, mark.line + 1, mark.column + 1, "",
                               f"nested more than {MAX_DEPTH} levels deep; no input of this tool "
                               "nests nearly so deep (a broken or hostile file?)")])


def _check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse an alias that contains itself, nesting deeper than MAX_DEPTH once aliases are
    followed, and aliases that add more than MAX_ALIAS_EXPANSION values. Each distinct node
    is measured once (memoised), so a billion-laughs file costs what its text costs."""
    size: dict[int, int] = {}       # id(node) -> values in its expanded subtree (itself included)
    height: dict[int, int] = {}     # id(node) -> collection levels in its expanded subtree
    reached: dict[int, int] = {}    # id(node) -> how often it is referenced (> 1: through an alias)
    nodes: dict[int, yaml.Node] = {}
    on_path: set[int] = set()

    def children(node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            return [n for pair in node.value for n in pair]
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        return []

    def measure(node: yaml.Node, depth: int) -> None:
        key = id(node)
        reached[key] = reached.get(key, 0) + 1
        if key in on_path:
            line, col = _mark(node)
            raise InputError([Problem(file, line, col, "", "an alias refers to a collection that contains "
                                      "it (a recursive structure cannot be read)")])
        is_collection = isinstance(node, (yaml.MappingNode, yaml.SequenceNode))
        if is_collection and depth > MAX_DEPTH:   # before descending: the walk itself stays shallow
            raise _too_deep(file, node.start_mark)
        if key not in size:
            nodes[key] = node
            on_path.add(key)
            total, tallest = 1, 0
            for child in children(node):
                measure(child, depth + 1 if is_collection else depth)
                total += size[id(child)]
                tallest = max(tallest, height[id(child)])
            on_path.discard(key)
            size[key], height[key] = total, tallest + (1 if is_collection else 0)
        if depth - 1 + height[key] > MAX_DEPTH:   # a measured node reached again, deeper
            raise _too_deep(file, node.start_mark)

    measure(root, 1)
    expanded, written = size[id(root)], len(size)
    if expanded - written > MAX_ALIAS_EXPANSION:
        aliased = [k for k, n in reached.items() if n > 1]
        worst = nodes[max(aliased, key=lambda k: size[k] * (reached[k] - 1))]
        line, col = _mark(worst)
        raise InputError([Problem(file, line, col, "",
                                  f"aliases would expand the file from {written} to {expanded} values, more "
                                  f"than {MAX_ALIAS_EXPANSION} added (an alias bomb such as 'billion laughs'?); "
                                  "the collection anchored here is repeated the most: write fewer aliases")])


def load_yaml_text(text: str, file: str) -> Located:
    """Parse `text` (named `file` in messages). Raises InputError listing every problem,
    including the bounds above (depth, recursive aliases, alias expansion)."""
    if not text.strip():
        raise InputError([Problem(file, 1, 1, "", "the file is empty; expected a YAML mapping")])
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
    except _TooDeep as exc:
        raise _too_deep(file, exc.mark) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or str(exc)
        hint = ""
        if "indentation" in str(exc) or "expected <block end>" in str(exc) or "mapping values are not allowed" in str(exc):
            hint = " (check the indentation of this line against the lines above it)"
        if "found character '\\t'" in str(exc):
            hint = " (YAML does not allow tabs for indentation; use spaces)"
        raise InputError([Problem(file, line, col, "", f"YAML syntax error: {what}{hint}")]) from None
    except yaml.YAMLError as exc:  # pragma: no cover - all PyYAML parse errors are marked
        raise InputError([Problem(file, 1, 1, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    if node is None:
        raise InputError([Problem(file, 1, 1, "", "the file has no content; expected a YAML mapping")])
    _check_expansion(node, file)
    out = Located(file=file, data=None)
    problems: list[Problem] = []
    builder = yaml.SafeLoader("")   # constructs scalars and resolves merge keys
    try:
        out.data = _convert(builder, node, (), out, problems)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(Problem(file, line, col, "", f"YAML error: {exc.problem}"))
    if problems:
        raise InputError(problems)
    return out


def read_text(path: Path | str) -> str:
    """A file's text; an unreadable file is an InputError naming it, not a traceback."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError([Problem(str(p), 0, 0, "", "file not found")]) from None
    except IsADirectoryError:
        raise InputError([Problem(str(p), 0, 0, "", "is a directory, expected a YAML file")]) from None
    except UnicodeDecodeError as exc:
        raise InputError([Problem(str(p), 1, 1, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise InputError([Problem(str(p), 0, 0, "", f"cannot read: {exc.strerror}")]) from None


def load_yaml(path: Path | str) -> Located:
    """Read and parse a YAML file."""
    return load_yaml_text(read_text(path), str(path))
