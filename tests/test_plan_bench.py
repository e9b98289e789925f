"""The pre-deploy benchmark (benchmarks/plan_bench.py) at a small size: its generated plan is
read whole by the Terraform reader (every resource modelled or listed as unsupported), its
mix is what the benchmark says, and the measuring function's figures add up. Speed is
measured by the benchmark, never asserted here."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import load_benchmark

from auditor.iac.base import PlanSource
from auditor.iac.terraform import read_plan
from auditor.model import build_model


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("plan_bench")


@pytest.fixture(scope="module")
def plan(bench: ModuleType) -> tuple[dict[str, Any], int]:
    return bench.generate_plan(700)     # 15 VPCs: every kind of VPC of the mix at least once


@pytest.fixture(scope="module")
def source(bench: ModuleType, plan: tuple[dict[str, Any], int]) -> PlanSource:
    return read_plan(json.dumps(plan[0]).encode(), "plan.json", account=bench.ACCOUNT, region=bench.REGION)


def test_the_plan_is_a_format_1_plan_of_the_size_asked(plan: tuple[dict[str, Any], int]) -> None:
    document, vpcs = plan
    assert document["format_version"].startswith("1.")
    changes = document["resource_changes"]
    assert 700 <= len(changes) < 700 + 80 and vpcs == 15
    assert len({c["address"] for c in changes}) == len(changes)
    planned = document["planned_values"]["root_module"]
    in_planned = len(planned["resources"]) + sum(len(m["resources"]) for m in planned.get("child_modules", []))
    assert in_planned == len(changes)
    assert Counter(tuple(c["change"]["actions"]) for c in changes).keys() == {("create",), ("no-op",)}


def test_every_resource_is_modelled_or_listed_as_unsupported(plan: tuple[dict[str, Any], int],
                                                             source: PlanSource) -> None:
    changes = plan[0]["resource_changes"]
    assert len(source.resources) + len(source.unsupported) == len(changes)
    assert {u.type for u in source.unsupported} == {"aws_cloudwatch_log_group"}
    assert {r.type for r in source.resources} == {c["type"] for c in changes} - {"aws_cloudwatch_log_group"}


def test_the_mix_has_created_module_and_existing_vpcs(source: PlanSource) -> None:
    vpcs = {r.address: r for r in source.resources if r.type == "aws_vpc"}
    assert vpcs["aws_vpc.v0000"].id == "vpc-aws_vpc.v0000" and vpcs["aws_vpc.v0000"].action == "create"
    assert vpcs['module.spoke["s0005"].aws_vpc.this'].id == 'vpc-module.spoke["s0005"].aws_vpc.this'
    existing = vpcs["aws_vpc.v0009"]
    assert existing.action == "no-op" and existing.id.startswith("vpc-0000000900")


def test_problems_are_only_the_existing_vpcs_references_to_an_unmanaged_tgw_route_table(
        bench: ModuleType, source: PlanSource) -> None:
    assert source.problems
    for p in source.problems:
        assert p.address.endswith("v0009") and bench.EXISTING_TGW_RTB in p.message, p


def test_a_nat_route_no_single_reference_resolves_is_an_unknown_id_naming_the_attribute(source: PlanSource) -> None:
    model = build_model(source.records)
    table = model.get("route_table", "rtb-aws_route_table.v0003_private_1")
    assert table is not None
    (route,) = [r for r in table.routes if r.destination == "0.0.0.0/0"]
    assert route.target_kind == "nat"
    assert route.target_id == "nat-(known after apply: aws_route.v0003_private_1_default.nat_gateway_id)"
    # The other VPCs' default routes resolve to the plan's transit gateway.
    other = model.get("route_table", "rtb-aws_route_table.v0001_private_1")
    assert other is not None
    assert [r.target_id for r in other.routes if r.destination == "0.0.0.0/0"] == ["tgw-aws_ec2_transit_gateway.hub"]


def test_measure_reports_consistent_figures(bench: ModuleType, tmp_path: Path) -> None:
    document, _ = bench.generate_plan(120)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    figures = bench.measure(path, tmp_path)
    assert figures["declared"] + figures["unsupported"] == len(document["resource_changes"])
    assert sum(figures["statuses"].values()) == figures["findings"] > 0
    findings = json.loads((tmp_path / "findings.json").read_text(encoding="utf-8"))
    assert len(findings["findings"]) == figures["findings"]
    assert figures["findings_json_bytes"] == (tmp_path / "findings.json").stat().st_size
    for phase in ("read", "model", "evaluate", "findings_json"):
        assert figures[f"{phase}_s"] >= 0 and figures[f"{phase}_cpu_s"] >= 0
    assert figures["peak_kib"] > 0


def test_a_list_of_references_known_after_apply_is_resolved(source: PlanSource) -> None:
    """`subnet_ids = [aws_subnet.x["a"].id]` on a created subnet: Terraform writes the list with
    a null element and ``after_unknown`` ``[true]``; the configuration's reference names the
    subnet, so the attachment's subnets are that subnet's id (never an empty known list)."""
    model = build_model(source.records)
    attachment = model.get("transit_gateway_attachment", "tgw-attach-aws_ec2_transit_gateway_vpc_attachment.v0001")
    assert attachment is not None
    assert tuple(attachment.subnet_ids) == ('subnet-aws_subnet.v0001_app["a"]',)
