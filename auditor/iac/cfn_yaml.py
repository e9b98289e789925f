"""CloudFormation template decoding: YAML (with the short-form tags) and JSON, keeping lines.

`decode` gives the template as plain data in CloudFormation's long form: ``!Ref X`` is
``{"Ref": "X"}``, ``!GetAtt A.B`` is ``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub ...`` is
``{"Fn::Sub": ...}`` and so on, as CloudFormation itself (and cfn-lint, which the tests
compare with) reads them. Every mapping is a `Map` (a dict) that knows its own line and the
line of each of its keys, every sequence a `Seq` (a list) that knows its line, so the
reader can say where each property of each resource is written.

Written on PyYAML's safe loader (scalars typed as YAML 1.1 does, like cfn-lint) and on a small
JSON reader of our own (the standard library's keeps no positions), rather than importing
cfn-lint at run time: cfn-lint pulls in boto3 and the SAM translator, which the offline
commands must not import. Everything wrong with the text (not UTF-8, a YAML or JSON syntax
error, a duplicate key, a tag that is no CloudFormation function, nesting or aliases beyond
the bounds every YAML input of this tool has) is an `IacError` naming the file and line.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from typing import Any

import yaml

from auditor.errors import InputError
from auditor.iac.base import IacError
from auditor.yamlpos import MAX_DEPTH, _BoundedLoader, _check_expansion, _TooDeep

__all__ = ["Map", "Seq", "decode", "TAGS", "line_of"]

# The short-form tags CloudFormation's YAML knows (``!Name``): each becomes ``Fn::Name``,
# except Ref and Condition, which keep their name. Rules-section functions are included.
TAGS = frozenset({
    "Ref", "Condition", "GetAtt", "Sub", "Join", "Select", "Split", "GetAZs", "If", "Equals", "And", "Or", "Not",
    "FindInMap", "ImportValue", "Base64", "Cidr", "Transform", "Length", "ToJsonString", "ForEach",
    "Contains", "EachMemberEquals", "EachMemberIn", "RefAll", "ValueOf", "ValueOfAll", "Implies",
})
_PLAIN = ("Ref", "Condition")


class Map(dict[Any, Any]):
    """A mapping of the template: its line, and the line of each key (1-based)."""

    line: int
    key_lines: dict[Any, int]

    def __init__(self, line: int, *args: Any) -> None:
        super().__init__(*args)
        self.line = line
        self.key_lines = {}

    def line_for(self, key: Any) -> int:
        """The line of `key` (the mapping's own when it has none)."""
        return self.key_lines.get(key, self.line)


class Seq(list[Any]):
    """A sequence of the template and its line (1-based)."""

    line: int

    def __init__(self, line: int, *args: Any) -> None:
        super().__init__(*args)
        self.line = line


def line_of(value: Any, default: int | None = None) -> int | None:
    """The line of a mapping or sequence of the template, else `default`."""
    return getattr(value, "line", default)


def _error(file: str, line: int, col: int, message: str) -> IacError:
    return IacError(f"{file}:{line}:{col}: {message}")


# -- YAML --------------------------------------------------------------------------------

# PyYAML's safe loader refusing to nest deeper than MAX_DEPTH: the one every YAML input of the
# tool is read with (auditor/yamlpos.py).
_Loader = _BoundedLoader


_MAP_TAG, _SEQ_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class _Yaml:
    def __init__(self, file: str) -> None:
        self.file = file
        self.builder = yaml.SafeLoader("")   # constructs scalars and resolves merge keys (<<)

    def fail(self, node: yaml.Node, message: str) -> IacError:
        return _error(self.file, node.start_mark.line + 1, node.start_mark.column + 1, message)

    def convert(self, node: yaml.Node) -> Any:
        tag = node.tag or ""
        if tag.startswith("!"):
            return self.tagged(node, tag[1:])
        if isinstance(node, yaml.MappingNode):
            if tag != _MAP_TAG:
                raise self.fail(node, f"a mapping tagged {tag}: not a CloudFormation template construct")
            return self.mapping(node)
        if isinstance(node, yaml.SequenceNode):
            if tag != _SEQ_TAG:
                raise self.fail(node, f"a sequence tagged {tag}: not a CloudFormation template construct")
            return Seq(node.start_mark.line + 1, [self.convert(n) for n in node.value])
        try:
            return self.builder.construct_object(node, deep=True)
        except (yaml.constructor.ConstructorError, ValueError) as exc:
            raise self.fail(node, f"cannot read this value: {getattr(exc, 'problem', None) or exc}") from None

    def mapping(self, node: yaml.MappingNode) -> Map:
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        try:
            self.builder.flatten_mapping(node)     # merge keys (<<), as PyYAML and cfn-lint do
        except yaml.constructor.ConstructorError as exc:
            raise self.fail(node, f"YAML merge key: {exc.problem}") from None
        merged = len(node.value) - explicit       # flatten puts merged entries first
        out = Map(node.start_mark.line + 1)
        seen: dict[Any, int] = {}
        for n, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode) or (key_node.tag or "").startswith("!"):
                raise self.fail(key_node, "a mapping key must be a plain scalar")
            key = self.convert(key_node)
            if key is None:
                raise self.fail(key_node, f"a null key ({key_node.value!r}) is not allowed")
            line = key_node.start_mark.line + 1
            if n >= merged:
                if key in seen:
                    raise self.fail(key_node, f"duplicate key {key!r} (first at line {seen[key]})")
                seen[key] = line
            out[key] = self.convert(value_node)
            out.key_lines[key] = line
        return out

    def tagged(self, node: yaml.Node, name: str) -> Map:
        if name not in TAGS:
            raise self.fail(node, f"unknown tag !{name}: not a CloudFormation intrinsic function "
                                  f"(known: {', '.join('!' + t for t in sorted(TAGS))})")
        key = name if name in _PLAIN else f"Fn::{name}"
        line = node.start_mark.line + 1
        value: Any
        if isinstance(node, yaml.ScalarNode):
            # The argument of a short-form function is the text as written (cfn-lint and
            # CloudFormation: !Ref 1 names the parameter "1"), except GetAtt's, split once.
            value = str(node.value)
            if name == "GetAtt":
                value = Seq(line, value.split(".", 1))
        elif isinstance(node, yaml.SequenceNode):
            value = Seq(line, [self.convert(n) for n in node.value])
        else:
            assert isinstance(node, yaml.MappingNode)
            node.tag = _MAP_TAG
            value = self.mapping(node)
        out = Map(line, {key: value})
        out.key_lines[key] = line
        return out


def _decode_yaml(text: str, file: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except _TooDeep as exc:
        raise _error(file, exc.mark.line + 1, exc.mark.column + 1,
                     f"nested more than {MAX_DEPTH} levels deep (a broken or hostile template?)") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        hint = " (YAML does not allow tabs for indentation; use spaces)" if "'\\t'" in str(exc) else ""
        raise _error(file, line, col, f"not valid YAML: {exc.problem or exc}{hint}") from None
    except yaml.YAMLError as exc:   # every PyYAML parse error is marked; kept for safety
        raise _error(file, 1, 1, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if node is None:
        raise _error(file, 1, 1, "the file is empty: expected a CloudFormation template")
    try:
        _check_expansion(node, file)
    except InputError as exc:
        p = exc.problems[0]
        raise _error(file, p.line, p.col, p.message) from None
    return _Yaml(file).convert(node)


# -- JSON --------------------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_CONSTANTS = {"true": True, "false": False, "null": None}


class _JsonError(Exception):
    def __init__(self, pos: int, message: str):
        self.pos, self.message = pos, message


class _Json:
    """A JSON reader that keeps the line of every object, array and key (RFC 8259; the
    strings are read by the standard library's own scanner)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [m.start() for m in re.finditer("\n", text)]

    def line(self, pos: int) -> int:
        return bisect_right(self.newlines, pos - 1) + 1

    def where(self, pos: int) -> tuple[int, int]:
        line = self.line(pos)
        start = self.newlines[line - 2] + 1 if line > 1 else 0
        return line, pos - start + 1

    def skip(self, pos: int) -> int:
        m = _WS.match(self.text, pos)
        assert m is not None
        return m.end()

    def value(self, pos: int, depth: int) -> tuple[Any, int]:
        pos = self.skip(pos)
        if pos >= len(self.text):
            raise _JsonError(pos, "unexpected end of the file: a value was expected")
        c = self.text[pos]
        if c == "{" or c == "[":
            if depth >= MAX_DEPTH:
                raise _JsonError(pos, f"nested more than {MAX_DEPTH} levels deep (a broken or hostile template?)")
            return self.obj(pos, depth + 1) if c == "{" else self.arr(pos, depth + 1)
        if c == '"':
            return self.string(pos)
        for word, constant in _CONSTANTS.items():
            if self.text.startswith(word, pos):
                return constant, pos + len(word)
        m = _NUMBER.match(self.text, pos)
        if m:
            number: Any = float(m.group()) if m.group(1) or m.group(2) else int(m.group())
            return number, m.end()
        raise _JsonError(pos, "a value was expected (an object, array, string, number, true, false or null)")

    def string(self, pos: int) -> tuple[str, int]:
        try:
            text, end = json.decoder.scanstring(self.text, pos + 1, True)  # type: ignore[attr-defined]
        except json.JSONDecodeError as exc:
            raise _JsonError(exc.pos, exc.msg) from None
        return str(text), int(end)

    def obj(self, pos: int, depth: int) -> tuple[Map, int]:
        out = Map(self.line(pos))
        pos = self.skip(pos + 1)
        if self.text.startswith("}", pos):
            return out, pos + 1
        while True:
            pos = self.skip(pos)
            if not self.text.startswith('"', pos):
                raise _JsonError(pos, "a key in double quotes was expected")
            key_pos = pos
            key, pos = self.string(pos)
            pos = self.skip(pos)
            if not self.text.startswith(":", pos):
                raise _JsonError(pos, "':' was expected after the key")
            value, pos = self.value(pos + 1, depth)
            if key in out:
                raise _JsonError(key_pos, f"duplicate key {key!r} (first at line {out.key_lines[key]})")
            out[key] = value
            out.key_lines[key] = self.line(key_pos)
            pos = self.skip(pos)
            if self.text.startswith(",", pos):
                pos += 1
                continue
            if self.text.startswith("}", pos):
                return out, pos + 1
            raise _JsonError(pos, "',' or '}' was expected")

    def arr(self, pos: int, depth: int) -> tuple[Seq, int]:
        out = Seq(self.line(pos))
        pos = self.skip(pos + 1)
        if self.text.startswith("]", pos):
            return out, pos + 1
        while True:
            value, pos = self.value(pos, depth)
            out.append(value)
            pos = self.skip(pos)
            if self.text.startswith(",", pos):
                pos += 1
                continue
            if self.text.startswith("]", pos):
                return out, pos + 1
            raise _JsonError(pos, "',' or ']' was expected")

    def document(self) -> Any:
        value, pos = self.value(0, 0)
        pos = self.skip(pos)
        if pos != len(self.text):
            raise _JsonError(pos, "extra text after the JSON document")
        return value


def _decode_json(text: str, file: str) -> Any:
    reader = _Json(text)
    try:
        return reader.document()
    except _JsonError as exc:
        line, col = reader.where(exc.pos)
        raise _error(file, line, col, f"not valid JSON: {exc.message}") from None


def decode(data: bytes, file: str) -> Any:
    """The template in `data` (YAML or JSON, told apart by its first character: JSON
    templates are objects) as `Map`/`Seq`/scalars in CloudFormation's long form. Raises
    `IacError` (file:line:col) for anything that is not a readable YAML or JSON document."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _error(file, 1, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise _error(file, 1, 1, "the file is empty: expected a CloudFormation template")
    if text.lstrip().startswith("{"):
        try:
            return _decode_json(text, file)
        except IacError as json_error:
            # Flow-style YAML also starts with '{': a text that is YAML after all is read as such.
            try:
                return _decode_yaml(text, file)
            except IacError:
                raise json_error from None
    return _decode_yaml(text, file)
