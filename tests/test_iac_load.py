"""Telling plan formats apart (auditor/iac/load.py): by content, never by file name; every
file that is not a plan or template is a clear IacError naming it, never a traceback."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
import pytest

from auditor.iac import load
from auditor.iac.base import IacError
from auditor.iac.load import SourceKind, detect, read_source

PLAN = {"format_version": "1.2", "terraform_version": "1.9.0", "planned_values": {"root_module": {}},
        "resource_changes": [], "configuration": {"root_module": {}}}
STATE = {"format_version": "1.0", "terraform_version": "1.9.0", "values": {"root_module": {"resources": []}}}
TFSTATE = {"version": 4, "terraform_version": "1.9.0", "serial": 3, "lineage": "x", "outputs": {}, "resources": []}
CFN_YAML = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Cidr: {Type: String}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !Ref Cidr
  Subnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !GetAtt Vpc.VpcId
      CidrBlock: !Select [0, !Cidr [!GetAtt Vpc.CidrBlock, 4, 8]]
"""


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# -- detection -----------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "kind"), [
    (json.dumps(PLAN), SourceKind.TERRAFORM_PLAN),
    (json.dumps({"format_version": "1.2", "resource_changes": []}), SourceKind.TERRAFORM_PLAN),
    (json.dumps({"format_version": "1.2", "planned_values": {}}, indent=2), SourceKind.TERRAFORM_PLAN),
    (CFN_YAML, SourceKind.CLOUDFORMATION),
    ("Resources:\n  Igw: {Type: 'AWS::EC2::InternetGateway'}\n", SourceKind.CLOUDFORMATION),
    (json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}), SourceKind.CLOUDFORMATION),
    ("\ufeff" + json.dumps({"Resources": {"Igw": {"Type": "AWS::EC2::InternetGateway"}}}), SourceKind.CLOUDFORMATION),
    ("{Resources: {Igw: {Type: 'AWS::EC2::InternetGateway'}}}", SourceKind.CLOUDFORMATION),   # YAML flow style
])
def test_detect_by_content(data: str, kind: SourceKind) -> None:
    assert detect(data.encode(), "x") is kind


@pytest.mark.parametrize(("data", "words"), [
    (json.dumps(STATE), ("x.json", "Terraform state", "terraform show -json PLANFILE")),
    (json.dumps(TFSTATE), ("x.json", "Terraform state", "terraform plan -out=PLANFILE")),
    (json.dumps({"format_version": "1.2"}), ("x.json", "without planned_values", "terraform show -json PLANFILE")),
    (json.dumps({"name": "package", "version": "1.0.0"}), ("x.json", "top-level keys name, version",
                                                           "Terraform plan", "CloudFormation template")),
    (json.dumps([1, 2]), ("x.json", "JSON array")),
    ('"just a string"', ("x.json", "not a mapping")),
    ("key: [unclosed\n", ("x.json:", "neither JSON nor YAML")),
    ("{\"Resources\": {\n", ("x.json:", "neither JSON nor YAML")),
    ("a: 1\n---\nb: 2\n", ("x.json", "neither JSON nor YAML")),
    ("- Resources\n", ("x.json", "not a mapping")),
])
def test_what_is_not_a_plan_or_template_is_named(data: str, words: tuple[str, ...]) -> None:
    with pytest.raises(IacError) as info:
        detect(data.encode(), "x.json")
    for word in words:
        assert word in str(info.value), str(info.value)


def test_binary_is_refused() -> None:
    with pytest.raises(IacError, match=r"plan\.bin: not UTF-8 text"):
        detect(b"\x89PNG\r\n\x1a\n\xff\xfe", "plan.bin")


def test_the_file_name_decides_nothing(tmp_path: Path) -> None:
    """A template named .json and a plan named .yaml are what their content says."""
    assert detect(json.dumps(PLAN).encode(), "template.yaml") is SourceKind.TERRAFORM_PLAN
    assert detect(CFN_YAML.encode(), "plan.json") is SourceKind.CLOUDFORMATION


# -- files -----------------------------------------------------------------------------------

def test_missing_folder_empty_and_too_big_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(IacError, match=r"nope\.json: no such file"):
        read_source(tmp_path / "nope.json")
    with pytest.raises(IacError, match="is a folder"):
        read_source(tmp_path)
    with pytest.raises(IacError, match=r"empty\.json: is empty"):
        read_source(_write(tmp_path, "empty.json", " \n\t\n"))
    big = _write(tmp_path, "big.json", json.dumps(PLAN) + " " * 200)
    monkeypatch.setattr(load, "MAX_BYTES", 100)
    with pytest.raises(IacError, match=r"big\.json: \d+ bytes, more than"):
        read_source(big)


def test_unreadable_file(tmp_path: Path) -> None:
    """A file that exists and cannot be read: one without read permission (as root, which
    reads anything, Linux's /proc/self/mem, whose read fails with EIO)."""
    import os

    if os.geteuid() == 0:
        path = Path("/proc/self/mem")
        assert path.exists(), "needs Linux's /proc when run as root"
    else:
        path = _write(tmp_path, "locked.json", json.dumps(PLAN))
        path.chmod(0)
    with pytest.raises(IacError, match=rf"{path.name}: cannot be read"):
        read_source(path)


def test_a_state_file_is_refused_with_how_to_make_a_plan(tmp_path: Path) -> None:
    with pytest.raises(IacError) as info:
        read_source(_write(tmp_path, "show.json", json.dumps(STATE)))
    assert "show.json" in str(info.value) and "give a plan" in str(info.value)


# -- dispatch to the real readers ------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "iac"


def test_a_terraform_plan_goes_to_the_plan_reader_with_account_and_region(tmp_path: Path) -> None:
    fixture = FIXTURES / "terraform" / "igw_public_subnet.json"
    source = read_source(fixture, account="123456789012")
    assert (source.kind, source.file, source.account, source.regions) == (
        "terraform-plan", str(fixture), "123456789012", ("eu-west-1",))
    assert any(d.address == "aws_subnet.public" for d in source.resources)
    # The same plan under another name is the same plan.
    renamed = _write(tmp_path, "template.yaml", fixture.read_bytes())
    again = read_source(renamed, account="123456789012")
    assert again.kind == "terraform-plan" and again.resources == tuple(
        dataclasses.replace(d, file=str(renamed)) for d in source.resources)


def test_a_template_goes_to_the_template_reader_with_its_parameters(tmp_path: Path) -> None:
    from auditor.model.build import build_model
    from auditor.model.types import Vpc

    fixture = FIXTURES / "cloudformation" / "public_vpc.yaml"
    source = read_source(fixture, account="123456789012", region="eu-west-1", parameters={"VpcCidr": "10.9.0.0/16"})
    assert (source.kind, source.account, source.regions) == ("cloudformation", "123456789012", ("eu-west-1",))
    [vpc] = build_model(source.records).of("vpc")
    assert isinstance(vpc, Vpc) and vpc.cidr_blocks == ("10.9.0.0/16",)
    as_json = _write(tmp_path, "t.json", json.dumps({"Resources": {"Igw": {"Type": "AWS::EC2::InternetGateway"}}}))
    assert read_source(as_json, account="1" * 12, region="eu-west-1").kind == "cloudformation"


def test_parameters_for_a_terraform_plan_are_an_error() -> None:
    with pytest.raises(IacError, match=r"igw_public_subnet\.json: a Terraform plan has no parameters.*VpcCidr"):
        read_source(FIXTURES / "terraform" / "igw_public_subnet.json", parameters={"VpcCidr": "10.0.0.0/16"})


def test_reader_errors_name_the_file(tmp_path: Path) -> None:
    """What the readers refuse reaches the caller as their IacError: an unsupported
    format_version, a template with no resources."""
    with pytest.raises(IacError, match=r"old\.json.*format_version"):
        read_source(_write(tmp_path, "old.json", json.dumps({**PLAN, "format_version": "0.1"})))
    with pytest.raises(IacError, match=r"empty-template\.yaml"):
        read_source(_write(tmp_path, "empty-template.yaml", "AWSTemplateFormatVersion: '2010-09-09'\n"),
                    region="eu-west-1")


def test_reading_imports_no_aws_sdk() -> None:
    """Reading a plan is an offline command: no botocore/boto3 (tests/test_imports.py has
    the whole-command check)."""
    import subprocess

    code = ("import sys, auditor.iac.load, auditor.iac.overlay; "
            "print([m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
