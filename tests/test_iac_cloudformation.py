"""CloudFormation templates as a model source (auditor/iac/cloudformation.py, cfn_yaml.py,
cfn_intrinsics.py): the decoder gives cfn-lint's document, intrinsic functions are computed or
unknown with their cause, the built-in packs give the verdicts AWS would, findings point at
the template's lines, and bad input is a clear error or ERROR findings, never a traceback or
a PASS."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.iac.base import DEFAULT_ACCOUNT, IacError, PlanSource, network_relevant
from auditor.iac.cfn_intrinsics import NO_VALUE, Evaluator, Unknown
from auditor.iac.cfn_yaml import Map, decode
from auditor.iac.cloudformation import SUPPORTED, read_template
from auditor.model.build import build_model
from auditor.model.types import Model
from auditor.rules.engine import Evaluation
from auditor.scan import evaluate_evidence, prepare

ROOT = Path(__file__).resolve().parent
FIXTURES = ROOT / "fixtures" / "iac" / "cloudformation"
ACCOUNT, REGION = "111111111111", "eu-west-1"
MANIFEST = {"finished": "2026-12-06T12:00:00Z"}


def _read(name: str, **kw: Any) -> PlanSource:
    path = FIXTURES / name
    return read_template(path.read_bytes(), str(path.relative_to(ROOT.parent)), account=kw.pop("account", ACCOUNT),
                         region=kw.pop("region", REGION), **kw)


def _text(text: str, **kw: Any) -> PlanSource:
    return read_template(text.encode(), "t.yaml", account=kw.pop("account", ACCOUNT), region=kw.pop("region", REGION),
                         **kw)


def _fixture_templates() -> list[Path]:
    return sorted(p for p in FIXTURES.iterdir() if p.suffix in (".yaml", ".json"))


def _evaluate(source: PlanSource) -> Evaluation:
    """The built-in packs over the template's records, as `auditor scan` evaluates evidence."""
    return evaluate_evidence(source.records, MANIFEST, prepare(None))


def _verdicts(evaluation: Evaluation) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for f in evaluation.findings:
        out.setdefault((f.rule_id, f.resource.id), set()).add(f.status)
    return out


def _messages(evaluation: Evaluation, rule: str, resource: str) -> list[str]:
    return [f.message for f in evaluation.findings if f.rule_id == rule and f.resource.id == resource]


def _line(path: Path | str, needle: str, after: str | None = None) -> int:
    """The 1-based line of the first line containing `needle` (after the line containing `after`)."""
    lines = (path.read_text() if isinstance(path, Path) else path).splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line) + 1
    return next(i for i, line in enumerate(lines) if i >= start and needle in line) + 1


# -- the decoder agrees with cfn-lint -------------------------------------------------------

def _plain(value: Any) -> Any:
    """A decoded document with its types spelt out (a str subclass is a str; True is not 1)."""
    if isinstance(value, dict):
        return {"dict": {json.dumps(_plain(k)): _plain(v) for k, v in value.items()}}
    if isinstance(value, list):
        return {"list": [_plain(v) for v in value]}
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, str):
        return {"str": str(value)}
    if isinstance(value, (datetime.date, datetime.datetime)):
        return {type(value).__name__: value.isoformat()}
    return {type(value).__name__: value}


TRICKY = {
    "all_tags.yaml": """
AWSTemplateFormatVersion: 2010-09-09
Parameters:
  Env: {Type: String, Default: prod}
  Cidrs: {Type: CommaDelimitedList, Default: "10.0.0.0/24,10.0.1.0/24"}
Mappings:
  M: {eu-west-1: {Ami: ami-1}}
Conditions:
  P: !Equals [!Ref Env, prod]
  Q: !And [!Condition P, !Not [!Equals [!Ref Env, dev]]]
  R: !Or [!Condition P, !Condition Q]
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !Select [0, !Cidr [10.0.0.0/16, 4, 8]]
      Tags:
        - {Key: a, Value: !Sub "${Env}-${AWS::Region}-${!NotVar}"}
        - {Key: b, Value: !Sub ["${X}.${Vpc.CidrBlock}", {X: !Join [",", [a, !Ref Env]]}]}
        - {Key: c, Value: !Base64 hello}
        - {Key: d, Value: !If [P, !GetAtt [Vpc, CidrBlock], !Ref "AWS::NoValue"]}
        - {Key: e, Value: !FindInMap [M, !Ref "AWS::Region", Ami]}
        - {Key: f, Value: !ImportValue shared-vpc}
        - {Key: g, Value: !Select [1, !Split [",", "x,y,z"]]}
        - {Key: h, Value: !Select [0, !GetAZs ""]}
        - {Key: i, Value: !GetAtt Vpc.DefaultSecurityGroup}
        - {Key: j, Value: !Length [1, 2]}
        - {Key: k, Value: !ToJsonString {a: [1, 2.5, true, null]}}
        - {Key: l, Value: !Transform {Name: AWS::Include, Parameters: {Location: s3://x}}}
        - {Key: m, Value: !Sub [ "${A}", {A: !Sub ["${B}", {B: !Ref Env}]} ]}
        - {Key: n, Value: !Condition P}
        - {Key: 'o', Value: 'yes'}
        - {Key: p, Value: 0o17}
""",
    "anchors.yaml": """
Resources:
  A: &base
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16, EnableDnsSupport: yes}
  B:
    <<: *base
    Properties: {CidrBlock: !Ref "AWS::NoValue"}
""",
    "flow_json.json": '{"Resources": {"V": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16",'
                      ' "N": 1.5, "B": false, "Z": null, "U": "caf\\u00e9", "L": [1, [2, {"x": "\\/"}]]}}}}',
}


def _templates() -> list[tuple[str, str]]:
    found = []
    for base in (ROOT / "fixtures" / "iac", ROOT / "iac_scenarios"):
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                if path.suffix in (".yaml", ".yml", ".json", ".template") and "Resources" in path.read_text():
                    found.append((str(path.relative_to(ROOT)), path.read_text()))
    return found + sorted(TRICKY.items())


@pytest.mark.parametrize(("name", "text"), _templates(), ids=[n for n, _ in _templates()])
def test_the_decoder_gives_the_document_cfn_lint_gives(name: str, text: str) -> None:
    from cfnlint.decode.decode import decode_str

    theirs, matches = decode_str(text)
    assert not matches, [m.message for m in matches]
    mine = decode(text.encode(), name)
    assert _plain(mine) == _plain(theirs)


def test_the_fixtures_and_tricky_templates_are_all_compared() -> None:
    names = [n for n, _ in _templates()]
    assert {"fixtures/iac/cloudformation/public_vpc.yaml", "fixtures/iac/cloudformation/endpoint_policy.json",
            "all_tags.yaml"} <= set(names)


def test_short_form_tags_become_the_long_form_and_every_mapping_keeps_its_lines() -> None:
    doc = decode(TRICKY["all_tags.yaml"].encode(), "t.yaml")
    vpc = doc["Resources"]["Vpc"]
    tags = vpc["Properties"]["Tags"]
    assert tags[1]["Value"] == {"Fn::Sub": ["${X}.${Vpc.CidrBlock}", {"X": {"Fn::Join": [",", ["a", {"Ref": "Env"}]]}}]}
    assert tags[8]["Value"] == {"Fn::GetAtt": ["Vpc", "DefaultSecurityGroup"]}
    assert doc["Conditions"]["Q"]["Fn::And"][0] == {"Condition": "P"}
    text = TRICKY["all_tags.yaml"]
    assert isinstance(vpc, Map) and doc["Resources"].line_for("Vpc") == _line(text, "  Vpc:")
    assert vpc["Properties"].line_for("CidrBlock") == _line(text, "CidrBlock: !Select")
    assert tags[2].line == _line(text, "Key: c")


# -- bad input: a clear error naming file and line, never a traceback -------------------------

BAD = {
    "duplicate key": ("Resources:\n  A:\n    Type: AWS::EC2::VPC\n  A:\n    Type: AWS::EC2::VPC\n",
                      "t.yaml:4:3: duplicate key 'A' (first at line 2)"),
    "duplicate key in JSON": ('{"Resources": {"A": {"Type": "AWS::EC2::VPC"},\n "A": {"Type": "AWS::EC2::VPC"}}}',
                              "t.yaml:2:2: not valid JSON: duplicate key 'A' (first at line 1)"),
    "a list, not a mapping": ("- Resources\n- x\n", "t.yaml:1:"),
    "no Resources": ("AWSTemplateFormatVersion: '2010-09-09'\nDescription: nothing\n",
                     "not a CloudFormation template: it has no Resources section"),
    "empty Resources": ("Resources: {}\n", "Resources must be a mapping of at least one resource"),
    "tab indentation": ("Resources:\n\tA:\n\t\tType: AWS::EC2::VPC\n", "YAML does not allow tabs"),
    "invalid YAML": ("Resources:\n  A: [unclosed\n", "t.yaml:3:1: not valid YAML"),
    "unknown tag": ("Resources:\n  A:\n    Type: AWS::EC2::VPC\n    Properties:\n      CidrBlock: !Bogus x\n",
                    "t.yaml:5:18: unknown tag !Bogus"),
    "a Terraform plan": ('{"format_version": "1.2", "terraform_version": "1.9.0", "planned_values": {}}',
                         "not a CloudFormation template: it has no Resources section (its top-level keys: "
                         "format_version, terraform_version, planned_values)"),
    "invalid JSON": ('{"Resources": {"A": {"Type": "AWS::EC2::VPC"}}, "B": }', "t.yaml:1:"),
    "SAM transform": ("Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n",
                      "the template uses a transform (AWS::Serverless-2016-10-31)"),
    "Fn::Transform": ("Resources:\n  A:\n    Type: AWS::EC2::VPC\n    Properties:\n      Fn::Transform: {Name: M}\n",
                      "sam build"),
    "unknown section": ("Resource:\n  A:\n    Type: AWS::EC2::VPC\nResources:\n  B:\n    Type: AWS::EC2::VPC\n",
                        "t.yaml:1: 'Resource' is not a section"),
    "resource without Type": ("Resources:\n  A:\n    Properties: {}\n", "t.yaml:2: resource A has no Type"),
    "wrong format version": ("AWSTemplateFormatVersion: '2012-01-01'\nResources:\n  A:\n    Type: AWS::EC2::VPC\n",
                             "the only version CloudFormation knows is 2010-09-09"),
    "empty file": ("  \n", "the file is empty"),
    "alias bomb": ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nResources: {A: {Type: AWS::EC2::VPC}}\n",
                   "aliases would expand"),
    "deep nesting": ("Resources: " + "[" * 300 + "]" * 300 + "\n", "nested more than"),
    "deep JSON": ('{"Resources": ' + "[" * 300 + "]" * 300 + "}", "nested more than"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_clear_error_naming_the_file(case: str) -> None:
    text, expected = BAD[case]
    with pytest.raises(IacError) as caught:
        read_template(text.encode(), "t.yaml", region=REGION)
    assert str(caught.value).startswith("t.yaml")
    assert expected in str(caught.value)


def test_bytes_that_are_not_utf8_are_a_clear_error() -> None:
    with pytest.raises(IacError, match=r"t.yaml:1:1: not UTF-8"):
        read_template(b"Resources:\n  \xff\xfe: x\n", "t.yaml", region=REGION)


def test_a_template_needs_a_region_and_names_the_default_account() -> None:
    text = (FIXTURES / "public_vpc.yaml").read_bytes()
    with pytest.raises(IacError, match="give --region"):
        read_template(text, "t.yaml")
    source = read_template(text, "t.yaml", region="us-east-2")
    assert source.account == DEFAULT_ACCOUNT and source.regions == ("us-east-2",)
    assert any(DEFAULT_ACCOUNT in n and "--account" in n for n in source.notes)
    assert {r.account for r in source.records} == {DEFAULT_ACCOUNT}


def test_parameters_given_must_be_declared_and_allowed() -> None:
    with pytest.raises(IacError, match="--parameter Nope: the template declares no such parameter"):
        _read("services.yaml", parameters={"Nope": "x"})
    with pytest.raises(IacError, match=r"--parameter Environment=test: not one of its AllowedValues \(prod, dev\)"):
        _read("services.yaml", parameters={"Environment": "test"})


# -- what a template gives: the records, lines and verdicts ------------------------------------

def test_public_vpc_verdicts_and_declared_lines() -> None:
    source = _read("public_vpc.yaml")
    path = FIXTURES / "public_vpc.yaml"
    assert source.kind == "cloudformation" and source.format_version == "2010-09-09"
    assert source.sha256.startswith("sha256:") and not source.problems
    assert [(u.address, u.type, network_relevant(u.type)) for u in source.unsupported] == [
        ("Bucket", "AWS::S3::Bucket", False)]
    assert source.unsupported[0].line == _line(path, "  Bucket:")
    declared = {d.address: d for d in source.resources}
    assert declared["PublicSubnet"].id == "subnet-PublicSubnet" and declared["PublicSubnet"].action == "create"
    assert declared["PublicSubnet"].line == _line(path, "  PublicSubnet:")
    assert {"Vpc.MainRouteTable", "Vpc.DefaultSecurityGroup", "Vpc.DefaultNetworkAcl", "PublicDefault"} <= set(declared)

    model = build_model(source.records)
    subnet = model.get("subnet", "subnet-PublicSubnet")
    assert subnet is not None and subnet.declared_at is not None
    assert subnet.declared_at.file == "tests/fixtures/iac/cloudformation/public_vpc.yaml"
    assert subnet.declared_at.line == _line(path, "  PublicSubnet:")
    assert subnet.declared_at.line_of("cidr") == _line(path, "CidrBlock: !Select [0")
    assert subnet.declared_at.line_of("map_public_ip_on_launch") == _line(path, "MapPublicIpOnLaunch: true")
    assert (subnet.cidr, subnet.availability_zone, subnet.map_public_ip_on_launch) == ("10.0.0.0/24", "eu-west-1a", True)
    rt = model.get("route_table", "rtb-PublicRouteTable")
    assert rt is not None and rt.declared_at is not None
    assert rt.declared_at.line_of("routes") == _line(path, "  PublicDefault:")
    assert [(r.destination, r.target_kind, r.target_id) for r in rt.routes] == [
        ("10.0.0.0/16", "local", "local"), ("0.0.0.0/0", "igw", "igw-Igw")]
    main = model.get("route_table", "rtb-Vpc.MainRouteTable")
    assert main is not None and main.is_main and [r.target_kind for r in main.routes] == ["local"]

    evaluation = _evaluate(source)
    v = _verdicts(evaluation)
    assert v[("PN-001", "vpc-Vpc")] == {"FAIL"}                       # an internet gateway attached
    assert v[("PN-002", "subnet-PublicSubnet")] == {"FAIL"}           # 0.0.0.0/0 -> igw
    assert v[("PN-002", "subnet-PrivateSubnet")] == {"PASS"}
    assert v[("PN-014", "subnet-PrivateSubnet")] == {"FAIL"}          # through the NAT to the IGW
    assert "nat-Nat" in _messages(evaluation, "PN-014", "subnet-PrivateSubnet")[0]
    assert v[("PN-007", "subnet-PublicSubnet")] == {"FAIL"}
    assert v[("TF-002", "sgr-OpenSsh.SecurityGroupIngress[0]")] == {"FAIL"}
    assert v[("TF-004", "sgr-OpenSsh.DefaultEgress")] == {"FAIL"}     # AWS's allow-all egress rule
    assert v[("TF-001", "sg-Vpc.DefaultSecurityGroup")] == {"FAIL"}   # the default group AWS creates
    assert v[("EP-001", "vpce-S3Endpoint")] == {"FAIL"}               # no policy: the full-access default
    assert v[("VE-003", "vpc-Vpc")] == {"PASS"}                       # DNS support defaults to true
    finding = next(f for f in evaluation.findings if f.rule_id == "PN-002" and f.resource.id == "subnet-PublicSubnet")
    declared_json = finding.resource.to_json()["declared"]
    assert declared_json["line"] == _line(path, "  PublicSubnet:") and declared_json["address"] == "PublicSubnet"
    assert declared_json["attributes"]["cidr"] == _line(path, "CidrBlock: !Select [0")


def test_a_subnet_routed_to_a_transit_gateway_reaches_the_egress_vpcs_nat() -> None:
    source = _read("tgw_egress.yaml")
    assert not source.problems
    model = build_model(source.records)
    table = model.get("transit_gateway_route_table", "tgw-rtb-TgwRouteTable")
    assert table is not None and table.routes is not None
    assert sorted((r.destination, r.route_type, r.attachment_ids) for r in table.routes) == [
        ("0.0.0.0/0", "static", ("tgw-attach-EgressAttachment",)),
        ("10.1.0.0/16", "propagated", ("tgw-attach-SpokeAttachment",))]
    assert set(table.associated_attachment_ids or ()) == {"tgw-attach-SpokeAttachment", "tgw-attach-EgressAttachment"}
    assert model.get("transit_gateway_route_table", "tgw-rtb-Tgw.DefaultRouteTable") is None   # defaults disabled
    evaluation = _evaluate(source)
    v = _verdicts(evaluation)
    assert v[("PN-001", "vpc-SpokeVpc")] == {"PASS"} and v[("PN-002", "subnet-SpokeSubnet")] == {"PASS"}
    assert v[("PN-014", "subnet-SpokeSubnet")] == {"FAIL"}
    path = _messages(evaluation, "PN-014", "subnet-SpokeSubnet")[0]
    assert "tgw-Tgw" in path and "nat-Nat" in path and "igw-Igw" in path
    assert v[("PN-010", "eipalloc-NatEip")] == {"FAIL"}
    assert "eni-Nat.NetworkInterface" in _messages(evaluation, "PN-010", "eipalloc-NatEip")[0]


def test_a_transit_gateway_with_its_defaults_on_has_a_default_route_table() -> None:
    text = """
Resources:
  Tgw: {Type: AWS::EC2::TransitGateway}
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.9.0.0/16}}
  Sub: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.9.0.0/24, AvailabilityZone: eu-west-1a}}
  Att:
    Type: AWS::EC2::TransitGatewayAttachment
    Properties: {TransitGatewayId: !Ref Tgw, VpcId: !Ref Vpc, SubnetIds: [!Ref Sub]}
"""
    model = build_model(_text(text).records)
    tgw = model.get("transit_gateway", "tgw-Tgw")
    table = model.get("transit_gateway_route_table", "tgw-rtb-Tgw.DefaultRouteTable")
    assert tgw is not None and table is not None
    assert tgw.default_association_route_table_id == table.id == tgw.default_propagation_route_table_id
    assert table.associated_attachment_ids == ("tgw-attach-Att",) == table.propagating_attachment_ids
    assert [(r.destination, r.route_type) for r in table.routes or ()] == [("10.9.0.0/16", "propagated")]
    attachment = model.get("transit_gateway_attachment", "tgw-attach-Att")
    assert attachment is not None and attachment.subnet_ids == ("subnet-Sub",)
    assert attachment.associated_route_table_id == table.id


def test_services_public_eks_rds_load_balancers_instances_and_conditions() -> None:
    source = _read("services.yaml")
    assert not source.problems
    assert any("Worker" in n and "IsDev is false" in n for n in source.notes)
    model = build_model(source.records)
    assert model.get("instance", "i-Worker") is None                  # its Condition is false
    vpc = model.get("vpc", "vpc-Vpc")
    assert vpc is not None and vpc.cidr_blocks == ("10.20.0.0/16",) and vpc.dns_hostnames is True
    endpoint = model.get("vpc_endpoint", "vpce-StsEndpoint")
    assert endpoint is not None and endpoint.private_dns_enabled is True
    assert endpoint.policy["Statement"][0]["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "111111111111"}}
    assert len(endpoint.network_interface_ids) == 2                   # one interface per subnet
    cluster = model.get("eks_cluster", "prod-cluster")
    assert cluster is not None and cluster.vpc_id == "vpc-Vpc"
    assert (cluster.endpoint_public_access, cluster.endpoint_private_access, cluster.public_access_cidrs) == (
        True, False, ("0.0.0.0/0",))                                  # AWS's defaults
    assert cluster.arn == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/prod-cluster"
    db = model.get("db_instance", "orders")
    assert db is not None and db.publicly_accessible is False and db.vpc_id == "vpc-Vpc"
    assert any("PubliclyAccessible not given: private" in n for n in source.notes)
    v = _verdicts(_evaluate(source))
    assert v[("EKS-001", "prod-cluster")] == {"FAIL"}
    assert v[("SE-001", "orders")] == {"PASS"}
    assert v[("SE-002", "Alb")] == {"FAIL"} and v[("SE-002", "InternalNlb")] == {"PASS"}
    assert v[("PN-008", "i-Web")] == {"FAIL"}
    assert v[("PN-009", "eni-Web.PrimaryNetworkInterface")] == {"FAIL"}
    assert v[("EP-001", "vpce-StsEndpoint")] == {"PASS"} and v[("VE-002", "vpce-StsEndpoint")] == {"PASS"}
    assert v[("TF-006", "vpc-Vpc")] == {"PASS"}
    assert v[("PN-014", "subnet-SubnetA")] == {"PASS"}


def test_rds_left_public_by_default_when_its_vpc_has_an_internet_gateway() -> None:
    text = (FIXTURES / "services.yaml").read_text() + """
  Igw: {Type: AWS::EC2::InternetGateway}
  Attach: {Type: AWS::EC2::VPCGatewayAttachment, Properties: {VpcId: !Ref Vpc, InternetGatewayId: !Ref Igw}}
"""
    source = _text(text, parameters={"Environment": "dev"})
    model = build_model(source.records)
    db = model.get("db_instance", "orders")
    assert db is not None and db.publicly_accessible is True
    assert model.get("instance", "i-Worker") is not None              # IsDev now true
    vpc = model.get("vpc", "vpc-Vpc")
    assert vpc is not None and vpc.cidr_blocks == ("10.30.0.0/16",) and vpc.dns_hostnames is False
    assert _verdicts(_evaluate(source))[("SE-001", "orders")] == {"FAIL"}


def test_json_template_with_scoped_and_string_policies() -> None:
    source = _read("endpoint_policy.json")
    model = build_model(source.records)
    s3 = model.get("vpc_endpoint", "vpce-S3Endpoint")
    assert s3 is not None and s3.service == "s3"
    assert s3.policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert s3.declared_at is not None and s3.declared_at.line_of("policy") == _line(
        FIXTURES / "endpoint_policy.json", '"PolicyDocument": {')
    v = _verdicts(_evaluate(source))
    assert v[("EP-001", "vpce-S3Endpoint")] == {"PASS"} and v[("EP-001", "vpce-DynamoEndpoint")] == {"FAIL"}


# -- unknown before deploy, and template problems: ERROR, never PASS ---------------------------

def _subnet_template(cidr: str, extra: str = "", az: str = "eu-west-1a") -> str:
    return f"""
Parameters:
  Cidr: {{Type: String}}
Resources:
  Vpc: {{Type: AWS::EC2::VPC, Properties: {{CidrBlock: 10.0.0.0/16}}}}
  Igw: {{Type: AWS::EC2::InternetGateway}}
  Attach: {{Type: AWS::EC2::VPCGatewayAttachment, Properties: {{VpcId: !Ref Vpc, InternetGatewayId: !Ref Igw}}}}
  App:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: {cidr}
      AvailabilityZone: {az}
  Rt: {{Type: AWS::EC2::RouteTable, Properties: {{VpcId: !Ref Vpc}}}}
  Assoc: {{Type: AWS::EC2::SubnetRouteTableAssociation, Properties: {{SubnetId: !Ref App, RouteTableId: !Ref Rt}}}}
{extra}"""


def _error_findings(evaluation: Evaluation, resource: str) -> dict[str, str]:
    return {f.rule_id: f.message for f in evaluation.findings if f.resource.id == resource and f.status == "ERROR"}


def test_an_unknown_intrinsic_is_a_problem_and_every_field_it_feeds_is_error() -> None:
    source_text = _subnet_template("{'Fn::Bogus': [10.0.1.0/24]}")
    source = _text(source_text, parameters={"Cidr": "x"})
    assert [(p.address, p.line) for p in source.problems] == [("App", _line(source_text, "CidrBlock: {'Fn::Bogus'"))]
    assert "unknown intrinsic function Fn::Bogus" in source.problems[0].message
    model = build_model(source.records)
    subnet = model.get("subnet", "subnet-App")
    assert subnet is not None and subnet.unknown_reason("cidr") is not None
    assert "Fn::Bogus" in (subnet.unknown_reason("cidr") or "")
    assert subnet.declared_at is not None and subnet.declared_at.line_of("cidr") == _line(source_text, "      CidrBlock:")
    evaluation = _evaluate(source)
    errors = _error_findings(evaluation, "subnet-App")
    assert {"PN-002", "PN-014"} <= set(errors)
    assert all("unknown before deploy" in m and "Fn::Bogus" in m for m in errors.values())
    assert ("PN-002", "subnet-App") not in {(f.rule_id, f.resource.id) for f in evaluation.findings
                                          if f.status == "PASS"}


def test_a_reference_to_nothing_is_a_problem_and_the_route_it_feeds_is_unknown() -> None:
    extra = """  Out:
    Type: AWS::EC2::Route
    Properties: {RouteTableId: !Ref Rt, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Nope}
"""
    source = _text(_subnet_template("10.0.1.0/24", extra), parameters={"Cidr": "x"})
    assert [p.address for p in source.problems] == ["Out"]
    assert "Ref to 'Nope'" in source.problems[0].message
    model = build_model(source.records)
    rt = model.get("route_table", "rtb-Rt")
    assert rt is not None and "Ref to 'Nope'" in (rt.unknown_reason("routes") or "")
    errors = _error_findings(_evaluate(source), "subnet-App")
    assert "PN-002" in errors and "Ref to 'Nope'" in errors["PN-002"]


def test_a_parameter_without_a_value_is_unknown_until_given() -> None:
    template = _subnet_template("!Ref Cidr")
    source = _text(template)
    assert any("Cidr" in n and "--parameter" in n for n in source.notes)
    subnet = build_model(source.records).get("subnet", "subnet-App")
    assert subnet is not None
    assert subnet.unknown_reason("cidr") == "App.CidrBlock: parameter Cidr has no value: give --parameter Cidr=..."
    errors = _error_findings(_evaluate(source), "subnet-App")
    assert "PN-002" in errors and "give --parameter Cidr=" in errors["PN-002"]
    given = build_model(_text(template, parameters={"Cidr": "10.0.7.0/24"}).records).get("subnet", "subnet-App")
    assert given is not None and given.cidr == "10.0.7.0/24"
    assert [u.field for u in given.unknown] == ["availability_zone_id"]   # the account's zone id: quiet


def test_a_zone_from_getazs_is_unknown_and_names_the_attribute() -> None:
    source = _text(_subnet_template("10.0.1.0/24", az="!Select [0, !GetAZs '']"), parameters={"Cidr": "x"})
    assert not source.problems
    subnet = build_model(source.records).get("subnet", "subnet-App")
    assert subnet is not None
    reason = subnet.unknown_reason("availability_zone") or ""
    assert reason.startswith("App.AvailabilityZone: known after deploy: Fn::GetAZs eu-west-1")


def test_a_getatt_of_an_attribute_known_only_after_deploy() -> None:
    extra = """  Sg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: x
      VpcId: !Ref Vpc
      SecurityGroupIngress: [{IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: !GetAtt Igw.Whatever}]
"""
    source = _text(_subnet_template("10.0.1.0/24", extra), parameters={"Cidr": "x"})
    assert not source.problems
    rule = build_model(source.records).get("security_group_rule", "sgr-Sg.SecurityGroupIngress[0]")
    assert rule is not None and "known after deploy: Igw.Whatever" in (rule.unknown_reason("cidr_ipv4") or "")
    evaluation = _evaluate(source)
    statuses = {f.rule_id: f.status for f in evaluation.findings if f.resource.id == rule.id}
    assert statuses["TF-002"] == "ERROR"
    assert "Igw.Whatever" in next(f.message for f in evaluation.findings
                                  if f.resource.id == rule.id and f.rule_id == "TF-002")


# -- intrinsic functions -------------------------------------------------------------------------

def _evaluator(**parameters: Any) -> Evaluator:
    conditions = decode(b"""
T: !Equals [a, a]
F: !Not [!Condition T]
Both: !And [!Condition T, !Condition F]
Either: !Or [!Condition F, !Condition T]
""", "c.yaml")
    mappings = decode(b"Env: {prod: {Cidr: 10.0.0.0/8}}", "m.yaml")
    params = {"AWS::Region": "eu-west-1", "AWS::AccountId": ACCOUNT, "AWS::NoValue": NO_VALUE, **parameters}
    return Evaluator(parameters=params, conditions=conditions, mappings=mappings,
                     ref=lambda name: f"vpc-{name}" if name == "Vpc" else None,
                     getatt=lambda name, attr: "10.1.0.0/16" if (name, attr) == ("Vpc", "CidrBlock") else (
                         Unknown(f"known after deploy: {name}.{attr}") if name == "Vpc" else None))


@pytest.mark.parametrize(("expression", "expected"), [
    ("!Sub '${AWS::Region}-${Vpc}-${Vpc.CidrBlock}-${!Literal}'", "eu-west-1-vpc-Vpc-10.1.0.0/16-${Literal}"),
    ("!Sub ['${A}/${B}', {A: x, B: !Ref Vpc}]", "x/vpc-Vpc"),
    ("!Join ['-', [a, !Ref Env, !Select [1, !Split [',', 'p,q']]]]", "a-prod-q"),
    ("!Select [2, !Cidr [10.0.0.0/16, 3, 8]]", "10.0.2.0/24"),
    ("!Cidr ['2001:db8::/56', 2, 64]", ["2001:db8::/64", "2001:db8:0:1::/64"]),
    ("!Base64 hi", "aGk="),
    ("!Length [a, b, c]", 3),
    ("!ToJsonString {a: [1, true]}", '{"a":[1,true]}'),
    ("!FindInMap [Env, !Ref Env, Cidr]", "10.0.0.0/8"),
    ("!If [Either, yes-branch, no-branch]", "yes-branch"),
    ("!If [Both, yes-branch, no-branch]", "no-branch"),
    ("[a, !If [F, b, !Ref 'AWS::NoValue'], c]", ["a", "c"]),
    ("{Keep: 1, Drop: !If [F, 2, !Ref 'AWS::NoValue']}", {"Keep": 1}),
])
def test_intrinsic_functions_are_computed(expression: str, expected: Any) -> None:
    ev = _evaluator(Env="prod")
    value = ev.resolve(decode(f"v: {expression}".encode(), "e.yaml")["v"])
    assert value == expected and ev.problems == []


@pytest.mark.parametrize(("expression", "unknown", "problem"), [
    ("!Select [0, !GetAZs '']", "known after deploy: Fn::GetAZs eu-west-1", False),
    ("!ImportValue shared-subnet", "known after deploy: Fn::ImportValue shared-subnet (another stack's export)", False),
    ("!GetAtt Vpc.Ipv6CidrBlocks", "known after deploy: Vpc.Ipv6CidrBlocks", False),
    ("!Sub '${Vpc.Ipv6CidrBlocks}/x'", "known after deploy: Vpc.Ipv6CidrBlocks", False),
    ("!Ref Missing", "Ref to 'Missing': no parameter, pseudo parameter or resource of that name (line 1)", True),
    ("!GetAtt Missing.Id", "Fn::GetAtt of 'Missing': no resource of that name (line 1)", True),
    ("{'Fn::Bogus': x}", "unknown intrinsic function Fn::Bogus (line 1)", True),
    ("!If [Nope, a, b]", "condition 'Nope' is not defined in Conditions (defined: Both, Either, F, T) (line 1)", True),
    ("!Select [5, [a, b]]", "Fn::Select index 5 is out of range (the list has 2 values) (line 1)", True),
    ("!FindInMap [Env, dev, Cidr]", "Fn::FindInMap: mapping 'Env' has no value for ['dev', 'Cidr'] (line 1)", True),
    ("!Cidr [10.0.0.0/24, 4, 8]", "Fn::Cidr: 10.0.0.0/24 holds 1 block(s) of 8 host bits, not 4 (line 1)", True),
    ("!Join ['-', [a, !ImportValue x]]", "known after deploy: Fn::ImportValue x (another stack's export)", False),
])
def test_what_cannot_be_computed_is_unknown_with_its_cause(expression: str, unknown: str, problem: bool) -> None:
    ev = _evaluator(Env="prod")
    value = ev.resolve(decode(f"v: {expression}".encode(), "e.yaml")["v"])
    assert isinstance(value, Unknown) and value.reason.startswith(unknown) and value.problem is problem
    assert bool(ev.problems) is problem


def test_an_unknown_condition_makes_its_resources_fields_unknown() -> None:
    text = """
Parameters:
  Env: {Type: String}
Conditions:
  Prod: !Equals [!Ref Env, prod]
Resources:
  Vpc: {Type: AWS::EC2::VPC, Condition: Prod, Properties: {CidrBlock: 10.0.0.0/16}}
"""
    source = _text(text)
    assert any("whether it is created is unknown" in p.message and "give --parameter Env=" in p.message
               for p in source.problems)
    vpc = build_model(source.records).get("vpc", "vpc-Vpc")
    assert vpc is not None and vpc.unknown_reason("cidr_blocks") is not None
    assert build_model(_text(text, parameters={"Env": "dev"}).records).get("vpc", "vpc-Vpc") is None


def test_supported_types_each_have_a_reader_and_others_are_listed() -> None:
    from auditor.iac import cloudformation as cfn
    from auditor.model.types import RESOURCE_TYPES

    assert set(SUPPORTED) == set(cfn._HANDLERS)
    assert set(SUPPORTED.values()) <= set(RESOURCE_TYPES)
    source = _text("""
Resources:
  Connect: {Type: AWS::EC2::TransitGatewayConnect, Properties: {}}
  Queue: {Type: AWS::SQS::Queue}
""")
    assert [(u.address, network_relevant(u.type)) for u in source.unsupported] == [("Connect", True), ("Queue", False)]
    assert source.resources == ()


def test_the_records_answer_every_covered_call_for_the_region() -> None:
    model: Model = build_model(_read("services.yaml").records)
    assert not model.coverage.failed and not model.coverage.failed_items
    assert model.coverage.collected(ACCOUNT, REGION, "ec2", "DescribeVpcAttribute")
    assert model.coverage.collected(ACCOUNT, REGION, "eks", "DescribeCluster")


def test_tags_known_only_after_deploy_are_unknown_without_hiding_the_network() -> None:
    text = _subnet_template("10.0.1.0/24").replace(
        "AvailabilityZone: eu-west-1a", "AvailabilityZone: eu-west-1a\n      Tags: [{Key: Name, Value: !Sub '${AWS::StackName}-app'}]")
    source = _text(text, parameters={"Cidr": "x"})
    subnet = build_model(source.records).get("subnet", "subnet-App")
    assert subnet is not None and subnet.unknown_reason("tags") == (
        "App.Tags: known after deploy: AWS::StackName (the stack's name)")
    v = _verdicts(_evaluate(source))
    assert v[("PN-002", "subnet-App")] == {"PASS"}      # no route to the internet gateway, known


def test_a_route_whose_creation_is_unknown_makes_the_routes_unknown() -> None:
    extra = """  Out:
    Type: AWS::EC2::Route
    Condition: Open
    Properties: {RouteTableId: !Ref Rt, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Igw}
"""
    text = _subnet_template("10.0.1.0/24", extra).replace(
        "Resources:", "  Open: {Type: String}\nConditions:\n  Open: !Equals [!Ref Open, 'yes']\nResources:", 1)
    source = _text(text, parameters={"Cidr": "x"})
    rt = build_model(source.records).get("route_table", "rtb-Rt")
    assert rt is not None and "whether Out is created is unknown" in (rt.unknown_reason("routes") or "")
    assert _verdicts(_evaluate(source))[("PN-002", "subnet-App")] == {"ERROR"}
    opened = _text(text, parameters={"Cidr": "x", "Open": "yes"})
    assert _verdicts(_evaluate(opened))[("PN-002", "subnet-App")] == {"FAIL"}
    closed = _text(text, parameters={"Cidr": "x", "Open": "no"})
    assert _verdicts(_evaluate(closed))[("PN-002", "subnet-App")] == {"PASS"}


def test_dual_stack_acls_peering_vpn_prefix_lists_interfaces_and_classic_elb() -> None:
    source = _read("misc.yaml")
    assert not source.problems
    assert any("local IPv6 route" in n for n in source.notes)
    model = build_model(source.records)
    vpc = model.get("vpc", "vpc-Vpc")
    assert vpc is not None and vpc.cidr_blocks == ("10.50.0.0/16", "100.64.0.0/20")
    assert "Ipv6Block" in (vpc.unknown_reason("ipv6_cidr_blocks") or "")
    subnet = model.get("subnet", "subnet-Subnet")
    assert subnet is not None and "Vpc.Ipv6CidrBlocks" in (subnet.unknown_reason("ipv6_cidrs") or "")
    rt = model.get("route_table", "rtb-RouteTable")
    assert rt is not None and sorted((r.destination, r.target_kind) for r in rt.routes) == [
        ("10.50.0.0/16", "local"), ("10.60.0.0/16", "pcx"), ("100.64.0.0/20", "local"), ("192.168.0.0/16", "vgw"),
        ("::/0", "eigw")]
    peering = model.get("vpc_peering", "pcx-Peering")
    assert peering is not None and peering.status == "active" and peering.accepter is not None
    assert peering.accepter.cidrs == ("10.60.0.0/16",)
    vgw = model.get("vpn_gateway", "vgw-Vgw")
    assert vgw is not None and vgw.attached_vpc_ids == ("vpc-Vpc",)
    office = model.get("prefix_list", "pl-Office")
    assert office is not None and office.cidrs == ("192.168.10.0/24",)
    acl = model.get("network_acl", "acl-Acl")
    assert acl is not None and acl.subnet_ids == ("subnet-Subnet",)
    assert sorted((e.rule_number, e.egress, e.protocol, e.action) for e in acl.entries) == [
        (100, False, "6", "allow"), (100, True, "-1", "allow"), (110, False, "6", "allow"),
        (32767, False, "-1", "deny"), (32767, True, "-1", "deny")]
    default_acl = model.get("network_acl", "acl-Vpc.DefaultNetworkAcl")
    assert default_acl is not None and default_acl.subnet_ids == ()     # the subnet has its own ACL
    flow = model.get("flow_log", "fl-FlowLog")
    assert flow is not None and (flow.resource_id, flow.traffic_type, flow.destination) == (
        "subnet-Subnet", "REJECT", "flows")
    eip = model.get("elastic_ip", "eipalloc-Eip")
    assert eip is not None and eip.network_interface_id == "eni-Eni"
    v = _verdicts(_evaluate(source))
    assert v[("TF-005", "acl-Acl")] == {"FAIL"}
    assert v[("TF-002", "sgr-Sg.SecurityGroupIngress[1]")] == {"FAIL"}
    assert v[("TF-002", "sgr-Sg.SecurityGroupIngress[0]")] == {"PASS"}
    assert v[("PN-009", "eni-Eni")] == {"FAIL"} and v[("SE-002", "Classic")] == {"PASS"}
    assert v[("PN-002", "subnet-Subnet")] == {"ERROR"}     # its IPv6 block is known only after deploy
    assert v[("PN-001", "vpc-PeerVpc")] == {"PASS"}


# -- robustness: mutated templates are read, or refused clearly; never a traceback -------------

_ODD_VALUES: list[Any] = [
    None, 0, -1, True, "x", "", [], {}, ["a", 1], {"a": 1}, {"Ref": "Nope"}, {"Ref": "Vpc"}, {"Ref": ["a"]},
    {"Fn::GetAtt": ["Vpc", "CidrBlock"]}, {"Fn::GetAtt": "bad"}, {"Fn::Sub": 5}, {"Fn::Join": "x"},
    {"Fn::Select": [0, []]}, {"Fn::Select": ["a", [1]]}, {"Fn::If": ["Nope", 1, 2]}, {"Fn::Bogus": 1},
    {"Fn::Cidr": ["x", {"a": 1}, 1]}, {"Fn::Split": [1, 2]}, {"Fn::FindInMap": [1]}, {"Condition": "x"},
    {"Fn::Base64": [1]}, {"Fn::Length": 3}, {"Fn::GetAZs": {"Ref": "AWS::Region"}}, {"Ref": "AWS::NoValue"},
    1.5, "10.0.0.0/16", "::/0", {"Fn::Equals": [1, 1]}, {"Fn::ToJsonString": {"a": {"Ref": "Nope"}}},
]


def _mutated(seed: int) -> bytes:
    import random

    rng = random.Random(seed)
    templates = _fixture_templates()
    path = templates[seed % len(templates)]
    doc = json.loads(json.dumps(decode(path.read_bytes(), path.name), default=str))

    def slots(node: Any, where: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        found = [where] if len(where) >= 3 else []
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            found += slots(value, (*where, key))
        return found
    for _ in range(rng.randint(1, 3)):
        where = rng.choice(slots(doc["Resources"]))
        node = doc["Resources"]
        for key in where[:-1]:
            node = node[key]
        node[where[-1]] = json.loads(json.dumps(rng.choice(_ODD_VALUES)))
    return json.dumps(doc).encode()


@pytest.mark.parametrize("seed", range(40))
def test_a_mutated_template_is_read_or_refused_never_a_traceback(seed: int) -> None:
    data = _mutated(seed)
    try:
        source = read_template(data, "m.json", account=ACCOUNT, region=REGION)
    except IacError as exc:
        assert str(exc).startswith("m.json")
        return
    model = build_model(source.records)
    assert model.resources
    if seed % 8 == 0:
        assert _evaluate(source).findings


def test_a_route_table_in_a_deployed_vpc_is_read_without_its_local_route() -> None:
    text = """
Parameters:
  SpokeVpc: {Type: "AWS::EC2::VPC::Id"}
Resources:
  Rt: {Type: AWS::EC2::RouteTable, Properties: {VpcId: !Ref SpokeVpc}}
  Out: {Type: AWS::EC2::Route, Properties: {RouteTableId: !Ref Rt, DestinationCidrBlock: 0.0.0.0/0, GatewayId: igw-1}}
"""
    source = _text(text, parameters={"SpokeVpc": "vpc-123"})
    assert any("VPC vpc-123, which this template does not declare" in n for n in source.notes)
    rt = build_model(source.records).get("route_table", "rtb-Rt")
    assert rt is not None and rt.unknown == () and [(r.destination, r.target_id) for r in rt.routes] == [
        ("0.0.0.0/0", "igw-1")]


def test_problems_in_conditions_outputs_and_depends_on_are_listed() -> None:
    text = """
Conditions:
  Unused: !Equals [!Ref Missing, x]
Resources:
  Vpc: {Type: AWS::EC2::VPC, Condition: Nope, DependsOn: Ghost, Properties: {CidrBlock: 10.0.0.0/16}}
Outputs:
  Out: {Value: {"Fn::Bogus": 1}}
"""
    source = _text(text)
    found = {(p.address, p.message.split(" (line")[0]) for p in source.problems}
    assert ("Conditions", "Ref to 'Missing': no parameter, pseudo parameter or resource of that name") in found
    assert ("Conditions", "condition 'Nope' is not defined in Conditions (defined: Unused)") in found
    assert ("Vpc", "DependsOn 'Ghost': no resource of that name") in found
    assert ("Outputs.Out", "unknown intrinsic function Fn::Bogus") in found
    vpc = build_model(source.records).get("vpc", "vpc-Vpc")       # created or not: unknown, never dropped
    assert vpc is not None and "condition 'Nope' is not defined" in (vpc.unknown_reason("cidr_blocks") or "")


def test_a_logical_id_must_be_letters_and_digits() -> None:
    with pytest.raises(IacError, match=r"t.yaml:3: 'my-vpc' is not a logical id"):
        _text("Resources:\n  Ok: {Type: AWS::EC2::VPC}\n  my-vpc: {Type: AWS::EC2::VPC}\n")


def test_an_instance_gets_the_addresses_its_subnet_assigns() -> None:
    text = """
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}
  V6: {Type: AWS::EC2::VPCCidrBlock, Properties: {VpcId: !Ref Vpc, Ipv6CidrBlock: "2001:db8:1::/56"}}
  Sub:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.0.0/24, AvailabilityZone: eu-west-1a, MapPublicIpOnLaunch: true,
                 Ipv6CidrBlock: "2001:db8:1::/64", AssignIpv6AddressOnCreation: true}
  Private: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.1.0/24, AvailabilityZone: eu-west-1a}}
  Web: {Type: AWS::EC2::Instance, Properties: {ImageId: ami-1, SubnetId: !Ref Sub}}
  Db: {Type: AWS::EC2::Instance, Properties: {ImageId: ami-1, SubnetId: !Ref Private}}
"""
    source = _text(text)
    model = build_model(source.records)
    web, db = model.get("instance", "i-Web"), model.get("instance", "i-Db")
    assert web is not None and db is not None
    assert web.public_ip == "(public IP assigned at deploy: Web.PublicIp)" and len(web.ipv6_addresses) == 1
    assert db.public_ip is None and db.ipv6_addresses == () and db.unknown_reason("public_ip") is None
    rt = model.get("route_table", "rtb-Vpc.MainRouteTable")
    assert rt is not None and ("2001:db8:1::/56", "local") in [(r.destination, r.target_kind) for r in rt.routes]
    v = _verdicts(_evaluate(source))
    assert v[("PN-008", "i-Web")] == {"FAIL"} and v[("PN-008", "i-Db")] == {"PASS"}


def test_a_resource_that_completes_another_is_declared_with_that_ones_id() -> None:
    declared = {d.address: (d.model_type, d.id) for d in _read("tgw_egress.yaml").resources}
    assert declared["SpokeDefault"] == ("route_table", "rtb-SpokeRouteTable")
    assert declared["SpokeAssociation"] == ("route_table", "rtb-SpokeRouteTable")
    assert declared["IgwAttachment"] == ("internet_gateway", "igw-Igw")
    assert declared["TgwDefault"] == ("transit_gateway_route_table", "tgw-rtb-TgwRouteTable")
    assert declared["SpokeAttachment"] == ("transit_gateway_attachment", "tgw-attach-SpokeAttachment")
    assert declared["Nat.NetworkInterface"] == ("network_interface", "eni-Nat.NetworkInterface")


def test_subnet_ipv6_blocks_vpn_propagation_and_carrier_gateways() -> None:
    text = """
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}
  Sub: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.0.0/24, AvailabilityZone: eu-west-1a}}
  SubV6: {Type: AWS::EC2::SubnetCidrBlock, Properties: {SubnetId: !Ref Sub, Ipv6CidrBlock: "2001:db8::/64"}}
  Rt: {Type: AWS::EC2::RouteTable, Properties: {VpcId: !Ref Vpc}}
  Vgw: {Type: AWS::EC2::VPNGateway, Properties: {Type: ipsec.1}}
  Prop: {Type: AWS::EC2::VPNGatewayRoutePropagation, Properties: {RouteTableIds: [!Ref Rt], VpnGatewayId: !Ref Vgw}}
  Carrier: {Type: AWS::EC2::CarrierGateway, Properties: {VpcId: !Ref Vpc}}
"""
    source = _text(text)
    assert not source.problems
    model = build_model(source.records)
    subnet = model.get("subnet", "subnet-Sub")
    assert subnet is not None and subnet.ipv6_cidrs == ("2001:db8::/64",)
    rt = model.get("route_table", "rtb-Rt")
    assert rt is not None and "propagates from vgw-Vgw" in (rt.unknown_reason("routes") or "")
    carrier = model.get("carrier_gateway", "cagw-Carrier")
    assert carrier is not None and carrier.vpc_id == "vpc-Vpc"


@pytest.mark.parametrize("path", _fixture_templates(), ids=lambda p: p.name)
def test_every_fixture_is_a_template_cfn_lint_finds_no_error_in(path: Path) -> None:
    # Warnings are allowed: zones are written out on purpose (known before deploy, unlike Fn::GetAZs).
    from cfnlint.api import lint_all

    errors = [f"{m.linenumber}: {m.rule.id} {m.message}" for m in lint_all(path.read_text())
              if m.rule.id.startswith("E")]
    assert errors == []


def test_pseudo_parameters_of_the_partition_and_unknown_stack_names() -> None:
    text = """
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
      Tags:
        - {Key: where, Value: !Sub "${AWS::Partition} ${AWS::URLSuffix} ${AWS::AccountId} ${AWS::Region}"}
  Eip: {Type: AWS::EC2::EIP}
  Cluster:
    Type: AWS::EKS::Cluster
    Properties:
      RoleArn: arn:aws-cn:iam::111111111111:role/eks
      ResourcesVpcConfig: {SubnetIds: [subnet-1], EndpointPublicAccess: false, EndpointPrivateAccess: true}
      Tags: [{Key: ip, Value: !Ref Eip}]
"""
    model = build_model(_text(text, region="cn-north-1").records)
    vpc = model.get("vpc", "vpc-Vpc")
    assert vpc is not None and vpc.tag("where") == f"aws-cn amazonaws.com.cn {ACCOUNT} cn-north-1"
    cluster = model.get("eks_cluster", "Cluster")             # no Name: CloudFormation names it; id by logical id
    assert cluster is not None and cluster.arn == f"arn:aws-cn:eks:cn-north-1:{ACCOUNT}:cluster/Cluster"
    assert cluster.endpoint_public_access is False and cluster.endpoint_private_access is True
    assert "Ref of an EIP is its public IP" in (cluster.unknown_reason("tags") or "")
    assert "the subnet is not declared in this template" in (cluster.unknown_reason("vpc_id") or "")


def test_resources_placed_by_default_are_unknown() -> None:
    text = """
Resources:
  Sg: {Type: AWS::EC2::SecurityGroup, Properties: {GroupDescription: x}}
  Db: {Type: AWS::RDS::DBInstance, Properties: {Engine: mysql, DBInstanceClass: db.t3.micro}}
  Aurora: {Type: AWS::RDS::DBInstance, Properties: {Engine: aurora-mysql, DBClusterIdentifier: c1,
                                                    DBInstanceClass: db.r5.large}}
"""
    source = _text(text)
    model = build_model(source.records)
    sg = model.get("security_group", "sg-Sg")
    assert sg is not None and "default VPC" in (sg.unknown_reason("vpc_id") or "")
    db = model.get("db_instance", "Db")
    assert db is not None and "default VPC" in (db.unknown_reason("vpc_id") or "")
    assert db.unknown_reason("publicly_accessible") is not None      # AWS decides by the default VPC's gateway
    aurora = model.get("db_instance", "Aurora")
    assert aurora is not None and "AWS::RDS::DBCluster is not modelled" in (aurora.unknown_reason("vpc_id") or "")
    v = _verdicts(_evaluate(source))
    assert v[("SE-001", "Db")] == {"ERROR"} and v[("SE-001", "Aurora")] == {"ERROR"}


def test_properties_chosen_by_a_condition_are_read_with_their_lines() -> None:
    text = """
Parameters:
  Env: {Type: String, Default: prod}
Conditions:
  Prod: !Equals [!Ref Env, prod]
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: !If
      - Prod
      - CidrBlock: 10.1.0.0/16
        EnableDnsHostnames: true
      - CidrBlock: 10.2.0.0/16
"""
    vpc = build_model(_text(text).records).get("vpc", "vpc-Vpc")
    assert vpc is not None and vpc.cidr_blocks == ("10.1.0.0/16",) and vpc.dns_hostnames is True
    assert vpc.declared_at is not None and vpc.declared_at.line_of("cidr_blocks") == _line(text, "CidrBlock: 10.1")
    dev = build_model(_text(text, parameters={"Env": "dev"}).records).get("vpc", "vpc-Vpc")
    assert dev is not None and dev.cidr_blocks == ("10.2.0.0/16",) and dev.dns_hostnames is False
    subnet = _text(text + """  Sub:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: !Select [0, !Cidr [!GetAtt Vpc.CidrBlock, 1, 8]], AvailabilityZone: x}
""")
    found = build_model(subnet.records).get("subnet", "subnet-Sub")
    assert found is not None and found.cidr == "10.1.0.0/24"


def test_entries_and_rules_added_to_what_aws_creates_with_a_vpc() -> None:
    text = """
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}
  Sub: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.0.0/24, AvailabilityZone: eu-west-1a}}
  DenySsh:
    Type: AWS::EC2::NetworkAclEntry
    Properties: {NetworkAclId: !GetAtt Vpc.DefaultNetworkAcl, RuleNumber: 90, Protocol: 6, RuleAction: deny,
                 CidrBlock: 0.0.0.0/0, PortRange: {From: 22, To: 22}}
  OpenDefault:
    Type: AWS::EC2::SecurityGroupIngress
    Properties: {GroupId: !GetAtt Vpc.DefaultSecurityGroup, IpProtocol: tcp, FromPort: 80, ToPort: 80,
                 CidrIp: 0.0.0.0/0}
"""
    source = _text(text)
    assert not source.problems
    declared = [(d.address, d.id) for d in source.resources]
    assert declared[:4] == [("Vpc", "vpc-Vpc"), ("Vpc.MainRouteTable", "rtb-Vpc.MainRouteTable"),
                            ("Vpc.DefaultSecurityGroup", "sg-Vpc.DefaultSecurityGroup"),
                            ("Vpc.DefaultNetworkAcl", "acl-Vpc.DefaultNetworkAcl")]
    assert ("DenySsh", "acl-Vpc.DefaultNetworkAcl") in declared
    model = build_model(source.records)
    acl = model.get("network_acl", "acl-Vpc.DefaultNetworkAcl")
    assert acl is not None and acl.subnet_ids == ("subnet-Sub",)
    assert (90, "deny") in [(e.rule_number, e.action) for e in acl.entries]
    main = model.get("route_table", "rtb-Vpc.MainRouteTable")
    assert main is not None and [(r.destination, r.target_kind) for r in main.routes] == [("10.0.0.0/16", "local")]
    v = _verdicts(_evaluate(source))
    assert v[("TF-002", "sgr-OpenDefault")] == {"FAIL"}
    assert v[("TF-001", "sg-Vpc.DefaultSecurityGroup")] == {"FAIL"}
