"""Telling plan formats apart (auditor/iac/load.py): by content, never by file name; every
file that is not a plan or template is a clear IacError naming it, never a traceback."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from auditor.iac import load
from auditor.iac.base import IacError, PlanSource
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


# -- dispatch to the readers -----------------------------------------------------------------

class _Reader:
    """A stand-in reader module recording what it was given (the dispatch alone is under test
    here; the real readers are under test in tests/test_iac_terraform.py and
    tests/test_iac_cloudformation.py, and end to end below once they are merged)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.calls: list[tuple[bytes, str, dict[str, Any]]] = []

    def __call__(self, data: bytes, file: str, **kw: Any) -> PlanSource:
        self.calls.append((data, file, kw))
        return PlanSource(kind=self.kind, file=file, sha256="sha256:" + "0" * 64, format_version="", account="1",
                          regions=(), records=())


@pytest.fixture
def readers(monkeypatch: pytest.MonkeyPatch) -> tuple[_Reader, _Reader]:
    tf, cfn = _Reader("terraform-plan"), _Reader("cloudformation")
    for name, attr, fn in (("auditor.iac.terraform", "read_plan", tf), ("auditor.iac.cloudformation",
                                                                          "read_template", cfn)):
        module = types.ModuleType(name)
        setattr(module, attr, fn)
        monkeypatch.setitem(sys.modules, name, module)
    return tf, cfn


def test_each_format_goes_to_its_reader_with_its_options(tmp_path: Path, readers: tuple[_Reader, _Reader]) -> None:
    tf, cfn = readers
    plan = _write(tmp_path, "plan.json", json.dumps(PLAN))
    assert read_source(plan, account="123456789012", region="eu-west-1").kind == "terraform-plan"
    assert tf.calls == [(plan.read_bytes(), str(plan), {"account": "123456789012", "region": "eu-west-1"})]
    template = _write(tmp_path, "t.yaml", CFN_YAML)
    assert read_source(template, parameters={"Cidr": "10.0.0.0/16"}).kind == "cloudformation"
    assert cfn.calls == [(template.read_bytes(), str(template),
                          {"account": None, "region": None, "parameters": {"Cidr": "10.0.0.0/16"}})]


def test_parameters_for_a_terraform_plan_are_an_error(tmp_path: Path, readers: tuple[_Reader, _Reader]) -> None:
    tf, _ = readers
    with pytest.raises(IacError, match=r"plan\.json: a Terraform plan has no parameters.*Cidr"):
        read_source(_write(tmp_path, "plan.json", json.dumps(PLAN)), parameters={"Cidr": "10.0.0.0/16"})
    assert tf.calls == []


def test_reading_imports_no_aws_sdk() -> None:
    """Reading a plan is an offline command: no botocore/boto3 (tests/test_imports.py has
    the whole-command check)."""
    import subprocess

    code = ("import sys, auditor.iac.load, auditor.iac.overlay; "
            "print([m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
