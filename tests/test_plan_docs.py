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


_OPTION = re.compile(r"(?<![\w-])(--[a-z][\w-]*|-[a-zA-Z])\b")


def _usages(text: str) -> list[tuple[str, list[str]]]:
    """Every `auditor plan ...` and `auditor scan ...` written in docs/plans.md (code spans and
    code blocks), with the options it names."""
    found = []
    for code in re.findall(r"`([^`\n]+)`", text) + re.findall(r"^(auditor .*)$", text, re.M):
        match = re.match(r"\s*auditor (plan|scan)\b(.*)", code)
        if match:
            found.append((match.group(1), _OPTION.findall(match.group(2))))
    # The usage block: its continuation lines belong to `auditor plan`.
    for line in re.findall(r"^\s{10,}(\[.*)$", text, re.M):
        found.append(("plan", _OPTION.findall(line)))
    return found


def test_every_option_plans_md_names_exists_and_every_plan_option_is_named() -> None:
    from auditor.cli import cli

    text = PLANS.read_text(encoding="utf-8")
    usages = _usages(text)
    assert {name for name, _ in usages} == {"plan", "scan"}
    named: dict[str, set[str]] = {}
    for name, options in usages:
        command = cli.commands[name]  # type: ignore[attr-defined]
        real = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"--help"}
        wrong = sorted(set(options) - real)
        assert not wrong, f"docs/plans.md names {wrong} for `auditor {name}`, which has no such option"
        named.setdefault(name, set()).update(options)
    plan = cli.commands["plan"]  # type: ignore[attr-defined]
    missing = sorted(opt for param in plan.params if hasattr(param, "opts") for opt in param.opts
                     if opt.startswith("--") and opt not in text)
    assert not missing, f"docs/plans.md does not name {missing} of `auditor plan`"
    assert "--plan" in named["scan"]


def test_the_option_check_sees_a_wrong_option() -> None:
    assert _usages("`auditor plan FILE --no-such-option`") == [("plan", ["--no-such-option"])]
