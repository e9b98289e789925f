"""The compiled query/ec2 reply parser (auditor/collect/parsers.py) gives exactly what botocore's
parser gives: same keys, same order, same values, same types (datetimes with their tzinfo,
ints, floats, bools, bytes), for every reply the fleet generator makes for every catalogue
call (generated answers in full, empty, paginated, every member of each output shape
filled, error replies) and for moto's replies during a collection. The collector's sessions
use it, and a collection writes the same records with it as with botocore's parser.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.parsers import ResponseParserFactory, create_parser

from auditor.collect import parsers
from auditor.collect.catalog import regional_calls
from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.emulate.fleet import Fleet
from auditor.emulate.wire import Reply, Wire
from auditor.snapshot.writer import SnapshotWriter

from conftest import HOME_ACCOUNT, SECOND_ACCOUNT, TWO_ACCOUNTS, make_config, make_network

XML = ("ec2", "query")
ACCOUNT_CALLS = (("sts", "GetCallerIdentity"), ("sts", "AssumeRole"), ("ec2", "DescribeRegions"))


@pytest.fixture(scope="module")
def wire() -> Wire:
    return Wire()


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return Fleet(5, 3, seed=11)


@pytest.fixture(scope="module")
def fast() -> ResponseParserFactory:
    return parsers.FastResponseParserFactory()


def typed(value: Any) -> Any:
    """`value` with every leaf's exact type beside it (so 1 == True or a naive datetime
    equal to an aware one cannot pass), in the dict's own key order."""
    if isinstance(value, dict):
        return ["dict", [(k, typed(v)) for k, v in value.items()]]
    if isinstance(value, list):
        return ["list", [typed(v) for v in value]]
    if isinstance(value, dt.datetime):
        return ["datetime", value.isoformat(), repr(value.tzinfo)]
    return [type(value).__name__, value]


def both(fast: ResponseParserFactory, protocol: str, response: dict[str, Any], shape: Any) -> tuple[Any, Any]:
    mine = fast.create_parser(protocol)
    assert isinstance(mine, (parsers.FastQueryParser, parsers.FastEC2QueryParser))
    theirs = create_parser(protocol).parse(dict(response), shape)
    return theirs, mine.parse(dict(response), shape)


def response(reply: Reply) -> dict[str, Any]:
    return {"status_code": reply.status, "headers": {k.lower(): v for k, v in reply.headers.items()},
            "body": reply.body}


def assert_same(fast: ResponseParserFactory, wire: Wire, service: str, operation: str, reply: Reply) -> Any:
    shape = wire.models[service].operation_model(operation).output_shape
    theirs, mine = both(fast, wire.protocol(service), response(reply), shape)
    assert typed(mine) == typed(theirs), (service, operation)
    return theirs


def xml_calls(wire: Wire) -> list[tuple[str, str]]:
    return sorted({(s.service, s.operation) for s in regional_calls() if wire.protocol(s.service) in XML}
                  | set(ACCOUNT_CALLS))


def test_every_generated_reply_parses_the_same(wire: Wire, fleet: Fleet, fast: ResponseParserFactory) -> None:
    checked, filled = 0, 0
    for account in fleet.accounts:
        for region in fleet.regions:
            _, index = fleet.region(account, region)
            for spec in regional_calls():
                if wire.protocol(spec.service) not in XML:
                    continue
                params = ([{}] if spec.for_each is None else
                          [dict(key) for svc, op, key in index if (svc, op) == (spec.service, spec.operation)])
                op = wire.models[spec.service].operation_model(spec.operation)
                members = {k: v.type_name for k, v in op.output_shape.members.items()}
                for p in params:
                    data = fleet.answer(account, region, spec.service, spec.operation, p, members,
                                        wire.paginators[spec.service].get(spec.operation))
                    parsed = assert_same(fast, wire, spec.service, spec.operation,
                                         wire.reply(spec.service, spec.operation, data, request_id=f"r{checked}"))
                    checked += 1
                    filled += any(v for k, v in parsed.items() if k != "ResponseMetadata")
    assert checked > 300 and filled > 100


def test_paginated_replies_parse_the_same(wire: Wire, fleet: Fleet, fast: ResponseParserFactory) -> None:
    account, region = fleet.accounts[0], fleet.regions[0]
    op = wire.models["ec2"].operation_model("DescribeSubnets")
    members = {k: v.type_name for k, v in op.output_shape.members.items()}
    params: dict[str, Any] = {"MaxResults": 5}
    pages = 0
    while True:
        data = fleet.answer(account, region, "ec2", "DescribeSubnets", params, members,
                            wire.paginators["ec2"].get("DescribeSubnets"))
        parsed = assert_same(fast, wire, "ec2", "DescribeSubnets", wire.reply("ec2", "DescribeSubnets", data))
        pages += 1
        if "NextToken" not in parsed:
            break
        params = {"MaxResults": 5, "NextToken": parsed["NextToken"]}
    assert pages > 1


def _example(shape: Any, depth: int = 0) -> Any:
    """Every member of `shape` set (lists of two), with values of every scalar type."""
    kind = shape.type_name
    if kind == "structure":
        return {} if depth > 7 else {name: _example(m, depth + 1) for name, m in shape.members.items()
                                     if not m.serialization.get("location")}
    if kind == "list":
        return [_example(shape.member, depth + 1) for _ in range(2)] if depth <= 7 else []
    if kind == "map":
        return {"k1": _example(shape.value, depth + 1), "k2": _example(shape.value, depth + 1)}
    if kind == "string":
        return shape.enum[0] if shape.enum else f"text <{shape.name}> & more"
    if kind == "boolean":
        return depth % 2 == 1
    if kind in ("integer", "long"):
        return 40 + depth
    if kind in ("float", "double"):
        return 0.25
    if kind == "timestamp":
        return "2025-01-02T03:04:05.250Z" if depth % 2 else "2024-12-31T23:59:59Z"
    raise AssertionError(f"no example for {kind}")


@pytest.mark.parametrize("call", [("ec2", "DescribeVpcs"), ("ec2", "DescribeInstances"), ("rds", "DescribeDBInstances"),
                                  ("elbv2", "DescribeLoadBalancers"), ("elb", "DescribeLoadBalancers"),
                                  ("sts", "AssumeRole"), ("ec2", "DescribeRegions")],
                         ids=lambda c: f"{c[0]}:{c[1]}")
def test_full_and_empty_replies_parse_the_same(wire: Wire, fast: ResponseParserFactory, call: tuple[str, str]) -> None:
    service, operation = call
    shape = wire.models[service].operation_model(operation).output_shape
    full = assert_same(fast, wire, service, operation, wire.reply(service, operation, _example(shape)))
    assert len(full) > 1
    assert assert_same(fast, wire, service, operation, wire.reply(service, operation, {})).keys() == {"ResponseMetadata"}


def test_every_member_of_every_xml_output_shape_parses_the_same(wire: Wire, fast: ResponseParserFactory) -> None:
    calls = xml_calls(wire)
    kinds: set[str] = set()

    def walk(shape: Any, depth: int = 0) -> None:
        kinds.add(shape.type_name)
        if depth < 8:
            for child in ([shape.member] if shape.type_name == "list" else
                          shape.members.values() if shape.type_name == "structure" else ()):
                walk(child, depth + 1)

    for service, operation in calls:
        shape = wire.models[service].operation_model(operation).output_shape
        walk(shape)
        assert_same(fast, wire, service, operation, wire.reply(service, operation, _example(shape)))
        assert_same(fast, wire, service, operation, wire.reply(service, operation, {}))
    assert len(calls) > 30
    assert {"boolean", "integer", "timestamp", "string", "list", "structure"} <= kinds


@pytest.mark.parametrize("service,code,status", [("ec2", "RequestLimitExceeded", 503), ("ec2", "InvalidVpcID.NotFound", 400),
                                                 ("sts", "AccessDenied", 403), ("rds", "DBInstanceNotFound", 404),
                                                 ("elbv2", "Throttling", 400), ("elb", "AccessDenied", 403)])
def test_error_replies_parse_the_same(wire: Wire, fast: ResponseParserFactory, service: str, code: str,
                                      status: int) -> None:
    op = next(iter(wire.models[service].operation_names))
    parsed = assert_same(fast, wire, service, op, wire.error(service, code, "it <failed> & said why", status, "req-9"))
    assert parsed["Error"]["Code"] == code


def test_hand_written_edge_cases_parse_the_same(wire: Wire, fast: ResponseParserFactory) -> None:
    """Empty elements, repeated elements where one is declared, unknown elements, namespaced
    and unnamespaced tags, a blob, epoch and offset timestamps, and malformed numbers."""
    ec2 = wire.models["ec2"]
    vpcs = ec2.operation_model("DescribeVpcs").output_shape
    body = (b'<?xml version="1.0"?><DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            b"<requestId>x</requestId><vpcSet><item><vpcId></vpcId><isDefault>TRUE</isDefault><unknown>1</unknown>"
            b"<cidrBlock>10.0.0.0/16</cidrBlock><cidrBlock>10.1.0.0/16</cidrBlock><tagSet/></item>"
            b"<item/><item><vpcId>vpc-2</vpcId><isDefault>true</isDefault></item></vpcSet>"
            b"<vpcSet><item><vpcId>ignored?</vpcId></item></vpcSet><nextToken/></DescribeVpcsResponse>")
    theirs, mine = both(fast, "ec2", {"status_code": 200, "headers": {}, "body": body}, vpcs)
    assert typed(mine) == typed(theirs)
    # Timestamps in other forms (epoch, offset), a blob (base64), integers.
    tpl = ec2.operation_model("DescribeLaunchTemplateVersions").output_shape
    for stamp in (b"1700000000", b"2025-01-02T03:04:05+02:00", b"2025-01-02T03:04:05.123456Z"):
        body = (b"<DescribeLaunchTemplateVersionsResponse><launchTemplateVersionSet><item>"
                b"<createTime>" + stamp + b"</createTime><versionNumber>12</versionNumber>"
                b"<defaultVersion>false</defaultVersion></item></launchTemplateVersionSet>"
                b"</DescribeLaunchTemplateVersionsResponse>")
        theirs, mine = both(fast, "ec2", {"status_code": 200, "headers": {}, "body": body}, tpl)
        assert typed(mine) == typed(theirs)
        assert isinstance(mine["LaunchTemplateVersions"][0]["CreateTime"], dt.datetime)
    bad = (b"<DescribeLaunchTemplateVersionsResponse><launchTemplateVersionSet><item>"
           b"<versionNumber>twelve</versionNumber></item></launchTemplateVersionSet>"
           b"</DescribeLaunchTemplateVersionsResponse>")
    errors = []
    for factory in (fast.create_parser("ec2"), create_parser("ec2")):
        with pytest.raises(ValueError) as err:
            factory.parse({"status_code": 200, "headers": {}, "body": bad}, tpl)
        errors.append(str(err.value))
    assert errors[0] == errors[1]


def test_blobs_parse_the_same(fast: ResponseParserFactory) -> None:
    # No collected query/ec2 output has a blob member: a shape built with botocore's own model classes.
    from botocore.model import ShapeResolver
    resolver = ShapeResolver({"Out": {"type": "structure", "members": {"Data": {"shape": "B"}, "N": {"shape": "L"},
                                                                       "F": {"shape": "D"}}},
                              "B": {"type": "blob"}, "L": {"type": "long"}, "D": {"type": "double"}})
    shape = resolver.get_shape_by_name("Out")
    body = (b"<OpResponse><Data>" + base64.b64encode(b"\x00\xffbytes") + b"</Data><N>12345678901234</N>"
            b"<F>2.5e3</F></OpResponse>")
    theirs, mine = both(fast, "ec2", {"status_code": 200, "headers": {}, "body": body}, shape)
    assert typed(mine) == typed(theirs)
    assert mine["Data"] == b"\x00\xffbytes" and mine["N"] == 12345678901234 and mine["F"] == 2500.0


def test_shapes_it_does_not_compile_go_to_botocore(fast: ResponseParserFactory) -> None:
    """A map, a recursive structure and an XML attribute: botocore's own handlers read them."""
    from botocore.model import ShapeResolver
    resolver = ShapeResolver({
        "Out": {"type": "structure", "members": {"Tags": {"shape": "M"}, "Tree": {"shape": "Node"},
                                                 "Attr": {"shape": "S", "xmlAttribute": True, "locationName": "a"}}},
        "M": {"type": "map", "key": {"shape": "S"}, "value": {"shape": "S"}},
        "Node": {"type": "structure", "members": {"Name": {"shape": "S"}, "Child": {"shape": "Node"},
                                                  "Kv": {"shape": "M"}}},
        "S": {"type": "string"}})
    shape = resolver.get_shape_by_name("Out")
    body = (b'<OpResponse a="attr"><Tags><entry><key>k</key><value>v</value></entry></Tags>'
            b"<Tree><Name>a</Name><Child><Name>b</Name><Kv><entry><key>x</key><value>y</value></entry></Kv>"
            b"<Child><Name>c</Name></Child></Child></Tree></OpResponse>")
    theirs, mine = both(fast, "ec2", {"status_code": 200, "headers": {}, "body": body}, shape)
    assert typed(mine) == typed(theirs)
    assert mine["Tree"]["Child"]["Child"]["Name"] == "c" and mine["Tags"] == {"k": "v"}
    node = resolver.get_shape_by_name("Node")
    body = b"<OpResponse><Name>a</Name><Child><Name>b</Name></Child></OpResponse>"
    theirs, mine = both(fast, "ec2", {"status_code": 200, "headers": {}, "body": body}, node)
    assert typed(mine) == typed(theirs) and mine["Child"]["Name"] == "b"


def test_other_protocols_get_botocores_parsers(fast: ResponseParserFactory) -> None:
    for protocol in ("json", "rest-json", "rest-xml"):
        assert type(fast.create_parser(protocol)) is type(create_parser(protocol))


def test_collector_sessions_use_it() -> None:
    factory = SessionFactory()
    session = factory.base()
    assert isinstance(session.get_component("response_parser_factory"), parsers.FastResponseParserFactory)
    client = factory.shared_client("ec2", "us-east-1")
    assert isinstance(client._endpoint._response_parser_factory, parsers.FastResponseParserFactory)  # noqa: SLF001


class Capture:
    """Keeps every reply botocore is about to parse (a before-parse hook)."""

    def __init__(self) -> None:
        self.replies: list[tuple[Any, dict[str, Any]]] = []

    def install(self, session: botocore.session.Session) -> None:
        session.register("before-parse", self.keep)

    def keep(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        self.replies.append((operation_model, dict(response_dict)))


def _botocore_parsers(session: botocore.session.Session) -> None:
    session.register_component("response_parser_factory", ResponseParserFactory())


def _records(folder: Path) -> dict[str, Any]:
    """The record files of a snapshot; moto draws a new role session id (the UserId of
    GetCallerIdentity after AssumeRole) in every run, so that one value is left out."""
    out = {}
    for path in sorted((folder / "records").rglob("*.json")):
        body = json.loads(path.read_text())
        if body["operation"] == "GetCallerIdentity":
            for page in body["pages"]:
                page.pop("UserId", None)
        out[str(path.relative_to(folder))] = body
    return out


def test_moto_replies_and_records_are_the_same(moto_aws: None, tmp_path: Path, fast: ResponseParserFactory) -> None:
    make_network(HOME_ACCOUNT, "us-east-1", "10.1.0.0/16")
    make_network(SECOND_ACCOUNT, "eu-west-1", "10.2.0.0/16")
    config = make_config(TWO_ACCOUNTS, ("us-east-1", "eu-west-1"))
    capture = Capture()
    collect(config, SessionFactory(hooks=[capture.install]), SnapshotWriter(tmp_path / "fast"))
    collect(config, SessionFactory(hooks=[_botocore_parsers]), SnapshotWriter(tmp_path / "botocore"))
    seen: set[str] = set()
    for op, reply in capture.replies:
        protocol = op.service_model.resolved_protocol if hasattr(op.service_model, "resolved_protocol") \
            else op.service_model.protocol
        if protocol not in XML or not isinstance(reply.get("body"), bytes):
            continue
        theirs, mine = both(fast, protocol, reply, op.output_shape)
        assert typed(mine) == typed(theirs), op.name
        seen.add(op.name)
    assert {"DescribeVpcs", "DescribeSubnets", "DescribeRouteTables", "DescribeSecurityGroups",
            "AssumeRole"} <= seen
    fast_records, plain_records = _records(tmp_path / "fast"), _records(tmp_path / "botocore")
    assert len(fast_records) > 50
    assert fast_records == plain_records


@pytest.mark.parametrize("text", ["2026-01-31T12:00:00Z", "2026-01-31T12:00:00.000Z", "2026-12-31T23:59:59.123456Z",
                                  "2026-12-31T23:59:59.1Z", "1999-02-28T00:00:01.05Z",
                                  # not the short way's form: botocore's parser reads them
                                  "2026-01-31T12:00:00+02:00", "2026-01-31 12:00:00", "1700000000", "1700000000.5",
                                  "Tue, 29 Apr 2014 18:30:38 GMT", "2026-01-31T12:00:00.1234567Z"])
def test_the_short_timestamp_parser_gives_botocores_datetime(text: str) -> None:
    """The same datetime, tzinfo class included (repr), as botocore's default timestamp parser."""
    from botocore.utils import parse_timestamp
    assert repr(parsers.fast_timestamp(text)) == repr(parse_timestamp(text))


@pytest.mark.parametrize("text", ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "not a date"])
def test_the_short_timestamp_parser_fails_as_botocore_does(text: str) -> None:
    from botocore.utils import parse_timestamp
    with pytest.raises(ValueError) as theirs:
        parse_timestamp(text)
    with pytest.raises(ValueError) as mine:
        parsers.fast_timestamp(text)
    assert str(mine.value) == str(theirs.value)
