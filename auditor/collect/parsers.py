"""A faster reader of the ``query`` and ``ec2`` protocols' XML replies, equal to botocore's.

botocore parses every reply with a generic recursive walk: for each XML element it looks up
the shape's handler by name, builds a name-to-node dict, reads each member's serialisation
settings and strips namespaces with a regular expression, every time. The answers of our
calls are large (a DescribeSecurityGroups page holds thousands of elements), so that walk
was the largest item of our CPU per call.

`FastResponseParserFactory` is installed on the collector's sessions through botocore's own
seam (the session component ``response_parser_factory``, which `Session.create_client` hands
to every endpoint; the endpoint asks it for a parser per reply). For ``query`` and ``ec2`` it
makes botocore's own `QueryParser` / `EC2QueryParser` with one change: `_parse_shape`
runs a converter compiled once per shape (the member table, the XML names, the list and
scalar handling decided ahead), doing exactly what botocore's handlers do, in the same
order and with the same types (int, float, bool, datetime by the parser's timestamp
parser, bytes by its blob parser, '' for an empty element). Everything else stays
botocore's: reading the XML, the result wrapper, response metadata, error replies, the
HTTP status and headers. Shapes it does not compile (maps, tagged unions, error shapes,
members read from XML attributes or other locations) go to botocore's own handler.
Other protocols get botocore's parsers unchanged.

Equality is tested, not assumed: tests/test_collect_parser.py parses every reply the fleet
generator makes for every catalogue call (full-shape, empty, error and paginated replies)
and moto's replies with both parsers and requires identical results, types included.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore import parsers as bc
from botocore import utils as botocore_utils

Converter = Callable[[Any], Any]

# Member locations botocore's XML structure handler skips (read from headers etc. elsewhere).
_SKIPPED = frozenset(bc.BaseXMLResponseParser.KNOWN_LOCATIONS)


_TAGS: dict[str, str] = {}   # tag -> local name (the models' names: a bounded set)


def _local(tag: str, cache: dict[str, str] = _TAGS) -> str:
    """The tag without its namespace, as botocore's ``re.sub('{.*}', '', tag)``."""
    found = cache.get(tag)
    if found is None:
        found = tag
        if "{" in tag:
            start, end = tag.find("{"), tag.rfind("}")
            if end > start:
                found = tag[:start] + tag[end + 1:]
        if len(cache) < 4096:   # tags are the models' names; a strange reply cannot grow it
            cache[tag] = found
    return found


def _text(node: Any) -> Any:
    """botocore's ``_text_content``: an element's text ('' when empty), anything else as is."""
    if hasattr(node, "text"):
        text = node.text
        return "" if text is None else text
    return node


class _Fallback(Exception):
    """A converter met a (recursive) shape that botocore's handler reads: the reply is read
    again by botocore's handlers from where the converter started (converters have no side
    effects, so nothing is read twice into the result)."""


# An ISO 8601 UTC timestamp as EC2 and the query APIs write them (2026-01-31T12:00:00.000Z).
_ISO_Z = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z")


def fast_timestamp(text: str, fallback: Callable[[str], Any] = botocore_utils.parse_timestamp) -> Any:
    """botocore's default timestamp parser (`botocore.utils.parse_timestamp`), with a short way for
    the common form: an ISO 8601 UTC time with a ``Z``, which botocore reads with dateutil into the
    same datetime (the same tzinfo, `_zulu`; microseconds padded from the fraction). Anything else, or a value
    that is not a date, goes to botocore's parser (its result or its error)."""
    match = _ISO_Z.fullmatch(text) if isinstance(text, str) else None
    if match is not None:
        year, month, day, hour, minute, second, fraction = match.groups()
        try:
            return dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                               int(fraction.ljust(6, "0")) if fraction else 0, tzinfo=_zulu())
        except ValueError:
            pass
    return fallback(text)


_ZULU: dict[tuple[str, ...], Any] = {}


def _zulu() -> Any:
    """The tzinfo botocore's parser gives a ``Z`` time: dateutil's ``tzlocal()`` where the local
    zone is named UTC, else ``tzutc()``; read from botocore's parser itself, once per local zone."""
    names = time.tzname
    found = _ZULU.get(names)
    if found is None:
        found = _ZULU[names] = botocore_utils.parse_timestamp("2000-01-01T00:00:00Z").tzinfo
    return found


class _Compiler:
    """Converters per shape for one parser configuration (timestamp and blob parsers)."""

    def __init__(self, timestamp_parser: Callable[[str], Any], blob_parser: Callable[[str], Any]) -> None:
        if timestamp_parser is botocore_utils.parse_timestamp:   # botocore's default: the short way first
            timestamp_parser = fast_timestamp
        self._timestamp = timestamp_parser
        self._blob = blob_parser
        self._lock = threading.Lock()
        # id(shape) -> (shape, converter or None): the shape is kept so its id cannot be reused.
        self._done: dict[int, tuple[Any, Converter | None]] = {}

    def converter(self, shape: Any) -> Converter | None:
        """The compiled converter of `shape`, or None when botocore's handler must read it."""
        found = self._done.get(id(shape))
        if found is not None and found[0] is shape:
            return found[1]
        with self._lock:
            return self._compile(shape, {})

    def _compile(self, shape: Any, building: dict[tuple[str, str, bool], list[Converter | None]]) -> Converter | None:
        found = self._done.get(id(shape))
        if found is not None and found[0] is shape:
            return found[1]
        # botocore makes a new Shape object for each reference, so a recursive shape is known
        # by its name (a converter does not depend on the traits of the reference to it,
        # except a list's flattening).
        key = (shape.name, shape.type_name, bool(shape.serialization.get("flattened")))
        if key in building:   # a recursive shape: resolved through a cell once compiled
            pending = building[key]

            def late(node: Any) -> Any:
                fn = pending[0]
                if fn is None:   # the shape turned out to need botocore's handler
                    raise _Fallback()
                return fn(node)
            return late
        cell: list[Converter | None] = [None]
        building[key] = cell
        fn = self._make(shape, building)
        cell[0] = fn
        del building[key]
        self._done[id(shape)] = (shape, fn)
        return fn

    def _make(self, shape: Any, building: dict[tuple[str, str, bool], list[Converter | None]]) -> Converter | None:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape, building)
        if kind == "list":
            return self._list(shape, building)
        if kind in ("string", "character"):
            return _text
        if kind == "boolean":
            return lambda node: _text(node) == "true"
        if kind in ("integer", "long"):
            return lambda node: int(_text(node))
        if kind in ("float", "double"):
            return lambda node: float(_text(node))
        if kind == "timestamp":
            stamp = self._timestamp
            return lambda node: stamp(_text(node))
        if kind == "blob":
            blob = self._blob
            return lambda node: blob(_text(node))
        return None   # map and anything new: botocore's handler

    def _list(self, shape: Any, building: dict[tuple[str, str, bool], list[Converter | None]]) -> Converter | None:
        member = self._compile(shape.member, building)
        if member is None:
            return None
        flattened = bool(shape.serialization.get("flattened"))

        def convert(node: Any) -> Any:
            if flattened and not isinstance(node, list):
                node = [node]
            return [None if item is None else member(item) for item in node]
        return convert

    def _structure(self, shape: Any, building: dict[tuple[str, str, bool], list[Converter | None]]) -> Converter | None:
        if shape.metadata.get("exception", False) or getattr(shape, "is_tagged_union", False):
            return None
        table: list[tuple[str, str, Converter]] = []
        for name, member in shape.members.items():
            ser = member.serialization
            if ser.get("location") in _SKIPPED or ser.get("eventheader"):
                continue
            if ser.get("xmlAttribute"):
                return None
            conv = self._compile(member, building)
            if conv is None:
                return None
            table.append((name, _xml_name(member, name), conv))
        members = tuple(table)
        tags = _TAGS
        by_xml = {xml_name: (i, name, conv, xml_name) for i, (name, xml_name, conv) in enumerate(table)}
        if len(by_xml) != len(table):   # two members read the same element: botocore's order, in full
            by_xml = {}

        def convert(node: Any) -> dict[str, Any]:
            while isinstance(node, list):   # botocore reads the first of repeated elements
                node = node[0]
            children: dict[str, Any] = {}
            for item in node:
                key = tags.get(item.tag) or _local(item.tag)
                seen = children.get(key)
                if seen is None:
                    children[key] = item
                elif isinstance(seen, list):
                    seen.append(item)
                else:
                    children[key] = [seen, item]
            if not children:
                return {}
            parsed: dict[str, Any] = {}
            if by_xml:
                # The elements present, in the shape's member order (botocore walks the members).
                hits = [by_xml[k] for k in children if k in by_xml]
                hits.sort()   # in place: replies usually come in member order already
                for _, name, conv, xml_name in hits:
                    parsed[name] = conv(children[xml_name])
                return parsed
            for name, xml_name, conv in members:
                child = children.get(xml_name)
                if child is not None:
                    parsed[name] = conv(child)
            return parsed
        return convert


def _xml_name(shape: Any, member_name: str) -> str:
    """botocore's ``_member_key_name``."""
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        inner = shape.member.serialization.get("name")
        if inner is not None:
            return str(inner)
    name = shape.serialization.get("name")
    return member_name if name is None else str(name)


class _Compiled:
    """Mixed into botocore's XML query parsers: `_parse_shape` through compiled converters."""

    _compiler: _Compiler

    def _parse_shape(self, shape: Any, node: Any) -> Any:
        conv = self._compiler.converter(shape)
        if conv is None:
            return super()._parse_shape(shape, node)  # type: ignore[misc]
        try:
            return conv(node)
        except _Fallback:
            return super()._parse_shape(shape, node)  # type: ignore[misc]


class FastQueryParser(_Compiled, bc.QueryParser):  # type: ignore[misc]
    """botocore's QueryParser with compiled converters."""


class FastEC2QueryParser(_Compiled, bc.EC2QueryParser):  # type: ignore[misc]
    """botocore's EC2QueryParser with compiled converters."""


_FAST: dict[str, type[Any]] = {"query": FastQueryParser, "ec2": FastEC2QueryParser}


class FastResponseParserFactory(bc.ResponseParserFactory):  # type: ignore[misc]
    """botocore's parser factory; ``query`` and ``ec2`` replies get the compiled parsers."""

    def __init__(self) -> None:
        super().__init__()
        self._compilers: dict[str, _Compiler] = {}
        self._compilers_lock = threading.Lock()

    def set_parser_defaults(self, **kwargs: Any) -> None:
        with self._compilers_lock:
            super().set_parser_defaults(**kwargs)
            self._compilers.clear()   # converters bind the defaults' timestamp and blob parsers

    def create_parser(self, protocol_name: str) -> Any:
        cls = _FAST.get(protocol_name)
        if cls is None:
            return super().create_parser(protocol_name)
        parser = cls(**self._defaults)
        compiler = self._compilers.get(protocol_name)
        if compiler is None:
            with self._compilers_lock:
                compiler = self._compilers.get(protocol_name)
                if compiler is None:
                    compiler = _Compiler(parser._timestamp_parser, parser._blob_parser)
                    self._compilers[protocol_name] = compiler
        parser._compiler = compiler
        return parser


def install(session: Any) -> None:
    """Give `session`'s clients the fast parsers (clients made afterwards)."""
    session.register_component("response_parser_factory", FastResponseParserFactory())
