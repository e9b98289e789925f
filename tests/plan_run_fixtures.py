"""Plan sources for the plan-run tests (tests/test_api_plan.py, tests/test_cli_plan.py).

The readers (auditor/iac/terraform.py, cloudformation.py, load.py) and the overlay are
written by other parts of issue 15. These tests are about the run around them (the snapshot
written, findings.json's run.plan, the gaps, exit codes, the bundle): they give `run_plan`
a `PlanSource` built here with `RecordBuilder`, as a reader gives it, by putting a reader in
place of `auditor.iac.load.read_source`; the overlay is the real one.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from auditor.iac.base import (
    Declared, IacError, PlanSource, RecordBuilder, SourceProblem, Unsupported, synthetic_id, unknown_id,
)

ACCOUNT, REGION = "111111111111", "eu-west-1"
PLAN_TEXT = b'{"format_version": "1.2", "terraform_version": "1.9.0", "planned_values": {}}\n'


def plan_source(path: Path, *, igw: bool = False, problem: bool = False, unsupported: Sequence[str] = (),
                account: str | None = None, region: str | None = None) -> PlanSource:
    """A Terraform plan as a reader gives it: a VPC with a private subnet and its route table
    (a route to a NAT gateway whose id is known only after apply); with `igw` an internet
    gateway attached and routed from the subnet (a FAIL of the built-in packs); with
    `problem` a SourceProblem on the subnet (its availability zone unknown); `unsupported`:
    resource types not modelled (aws_vpn_gateway is network-relevant, aws_s3_bucket not)."""
    acct, reg = account or ACCOUNT, region or REGION
    file = str(path)
    b = RecordBuilder("terraform-plan", file, acct)
    vpc = synthetic_id("vpc", "aws_vpc.main")
    subnet = synthetic_id("subnet", "aws_subnet.app")
    rtb = synthetic_id("rtb", "aws_route_table.app")
    b.add(reg, ("ec2", "DescribeVpcs"), {"VpcId": vpc, "CidrBlock": "10.0.0.0/16", "IsDefault": False,
                                         "State": "available", "OwnerId": acct,
                                         "Tags": [{"Key": "Name", "Value": "main"}]},
          address="aws_vpc.main", line=3, attributes={"cidr_blocks": 4})
    for attr, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        b.add_call(reg, ("ec2", "DescribeVpcAttribute"), {"VpcId": vpc, "Attribute": attr},
                   {"VpcId": vpc, key: {"Value": True}})
    unknown = {"availability_zone": "known after apply: aws_subnet.app.availability_zone"} if problem else {}
    b.add(reg, ("ec2", "DescribeSubnets"), {"SubnetId": subnet, "VpcId": vpc, "CidrBlock": "10.0.1.0/24",
                                            "AvailabilityZone": "eu-west-1a", "MapPublicIpOnLaunch": False,
                                            "State": "available", "OwnerId": acct},
          address="aws_subnet.app", line=10, unknown=unknown)
    routes: list[dict[str, Any]] = [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}]
    if igw:
        gw = synthetic_id("igw", "aws_internet_gateway.gw")
        b.add(reg, ("ec2", "DescribeInternetGateways"), {
            "InternetGatewayId": gw, "OwnerId": acct, "Attachments": [{"VpcId": vpc, "State": "available"}]},
            address="aws_internet_gateway.gw", line=20)
        routes.append({"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": gw, "State": "active"})
    else:
        routes.append({"DestinationCidrBlock": "0.0.0.0/0", "State": "active",
                       "NatGatewayId": unknown_id("nat", "aws_route.out.nat_gateway_id")})
    b.add(reg, ("ec2", "DescribeRouteTables"), {
        "RouteTableId": rtb, "VpcId": vpc, "OwnerId": acct,
        "Associations": [{"SubnetId": subnet, "RouteTableId": rtb, "Main": False}], "Routes": routes},
        address="aws_route_table.app", line=30)
    declared = [Declared("aws_vpc.main", "aws_vpc", "vpc", vpc, "create", file, 3),
                Declared("aws_subnet.app", "aws_subnet", "subnet", subnet, "create", file, 10),
                Declared("aws_route_table.app", "aws_route_table", "route_table", rtb, "update", file, 30)]
    if igw:
        declared.append(Declared("aws_internet_gateway.gw", "aws_internet_gateway", "internet_gateway",
                                 synthetic_id("igw", "aws_internet_gateway.gw"), "create", file, 20))
    problems = (SourceProblem("aws_subnet.app", "availability_zone: unknown function 'Fn::Nope'", file, 11),) \
        if problem else ()
    extra = tuple(Unsupported(f"{t}.x", t, "create", file, 40 + i) for i, t in enumerate(unsupported))
    data = path.read_bytes()
    return PlanSource(kind="terraform-plan", file=file, sha256="sha256:" + hashlib.sha256(data).hexdigest(),
                      format_version="1.2", account=acct, regions=(reg,), records=b.records([reg]),
                      resources=tuple(declared), unsupported=extra, problems=problems,
                      notes=("the plan names no account: 111111111111 assumed",))


Reader = Callable[..., PlanSource]


def _module(name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The module `name`, or an empty stand-in put in sys.modules (until it is written)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        module = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, module)
        return module


def use_reader(monkeypatch: pytest.MonkeyPatch, **options: Any) -> list[dict[str, Any]]:
    """Put a reader giving `plan_source(path, **options)` in place of read_source; a file
    whose text is not PLAN_TEXT is not a plan (IacError), as the real readers say. Returns
    the list of the calls' keyword arguments."""
    calls: list[dict[str, Any]] = []

    def read_source(path: Path, *, account: str | None = None, region: str | None = None,
                    parameters: Any = None) -> PlanSource:
        calls.append({"path": path, "account": account, "region": region, "parameters": parameters})
        if path.read_bytes() != PLAN_TEXT:
            raise IacError(f"{path}: not a Terraform plan (terraform show -json) or a CloudFormation template")
        return plan_source(path, account=account, region=region, **options)

    monkeypatch.setattr(_module("auditor.iac.load", monkeypatch), "read_source", read_source, raising=False)
    return calls


def write_plan(folder: Path, name: str = "plan.json", text: bytes = PLAN_TEXT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text)
    return path
