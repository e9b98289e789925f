"""docs/plans.md matches the tool: its generated tables (the resource types the plan readers
model, the calls a plan never answers) come from the code, and the files it names exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditor.docgen import plan_not_covered_list, plan_resources_table
from auditor.iac.base import NOT_COVERED
from auditor.model.registry import REGISTRY

REPO = Path(__file__).resolve().parent.parent
PLANS = REPO / "docs" / "plans.md"


def _rows(table: str) -> dict[str, list[str]]:
    """model type -> its cells (Terraform, CloudFormation)."""
    out = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        out[cells[0].strip("`")] = cells[1:]
    return out


def test_plan_resources_table_has_a_row_per_model_type_with_the_source_types_in_order() -> None:
    terraform = {"aws_subnet": "subnet", "aws_vpc": "vpc", "aws_default_vpc": "vpc"}
    cloudformation = {"AWS::EC2::VPC": "vpc", "AWS::EKS::Cluster": "eks_cluster"}
    table = plan_resources_table(terraform, cloudformation)
    assert table.splitlines()[0] == "| Model type | Terraform (`terraform show -json`) | CloudFormation |"
    rows = _rows(table)
    assert list(rows) == [e.name for e in REGISTRY]          # the registry's order, every type once
    assert rows["vpc"] == ["`aws_vpc`, `aws_default_vpc`", "`AWS::EC2::VPC`"]   # the reader's order
    assert rows["subnet"] == ["`aws_subnet`", "not read"]
    assert rows["eks_cluster"] == ["not read", "`AWS::EKS::Cluster`"]
    assert rows["nat_gateway"] == ["not read", "not read"]
    # A type fed only by calls no plan answers says where it comes from instead.
    assert rows["lambda_function"] == ["never: from a snapshot only"] * 2
    assert rows["vpc_block_public_access"] == ["never: from a snapshot only"] * 2


def test_plan_resources_table_refuses_a_model_type_the_registry_lacks() -> None:
    with pytest.raises(ValueError, match=r"lacks: \['subnets'\]"):
        plan_resources_table({"aws_subnet": "subnets"}, {})


def test_plan_not_covered_list_names_every_call_and_what_it_feeds() -> None:
    lines = plan_not_covered_list().splitlines()
    assert len(lines) == len(NOT_COVERED)
    for service, operation in NOT_COVERED:
        feeds = [e.name for e in REGISTRY if any(c.call == (service, operation) for c in e.calls)]
        assert f"- {service}:{operation} (`{feeds[0]}`)" in lines


def test_plans_md_names_files_that_exist() -> None:
    text = PLANS.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:deploy|auditor|tests)/[\w./-]+)`", text))
    assert {"deploy/github-actions/plan-terraform.yml", "deploy/github-actions/plan-cloudformation.yml",
            "deploy/gitlab/plan.gitlab-ci.yml", "auditor/iac/base.py"} <= named
    assert sorted(p for p in named if not (REPO / p).exists()) == []


def test_plans_md_links_resolve() -> None:
    text = PLANS.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]+)?\)", text):
        assert (PLANS.parent / target).is_file(), target
