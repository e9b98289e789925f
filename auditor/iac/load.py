"""Read a plan or template file, telling the formats apart by their content.

- a JSON object with ``format_version`` and ``planned_values`` or ``resource_changes`` is a
  Terraform plan (``terraform show -json PLANFILE``): `auditor.iac.terraform.read_plan`;
- a JSON or YAML mapping with ``Resources`` or ``AWSTemplateFormatVersion`` is a
  CloudFormation template: `auditor.iac.cloudformation.read_template`;
- a Terraform *state* (``terraform show -json`` without a plan file, or a ``.tfstate``) is
  refused with how to make a plan; anything else is refused saying what the file was
  expected to be. Every refusal is an `IacError` naming the file (exit 2).

The file's name and extension decide nothing: pipelines name their files freely.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from auditor.iac.base import IacError, PlanSource

__all__ = ["MAX_BYTES", "SourceKind", "detect", "read_source"]

# Larger than any plan or template this tool is meant for (CloudFormation allows 1 MB; a
# plan of 10k resources is tens of MB), small enough to refuse a wrong file before reading it.
MAX_BYTES = 256 * 1024 * 1024

EXPECTED = ("a Terraform plan in JSON (terraform plan -out=PLANFILE; terraform show -json PLANFILE > plan.json) "
            "or a CloudFormation template (YAML or JSON with Resources)")


class SourceKind(Enum):
    TERRAFORM_PLAN = "terraform-plan"
    CLOUDFORMATION = "cloudformation"


def _read(path: Path) -> bytes:
    try:
        if not path.exists():
            raise IacError(f"{path}: no such file")
        if path.is_dir():
            raise IacError(f"{path}: is a folder; expected {EXPECTED}")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise IacError(f"{path}: {size} bytes, more than the {MAX_BYTES // (1024 * 1024)} MiB a plan or "
                           "template may have")
        data = path.read_bytes()
    except OSError as exc:
        raise IacError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:   # grew while being read, or a special file stat could not size
        raise IacError(f"{path}: more than the {MAX_BYTES // (1024 * 1024)} MiB a plan or template may have")
    if not data.strip():
        raise IacError(f"{path}: is empty; expected {EXPECTED}")
    return data


def _top_keys_yaml(text: str, file: str) -> set[str]:
    """The top-level keys of a YAML document, read without constructing it (a template's
    short-form tags, ``!Ref`` ``!Sub`` ..., are left to the template reader)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise IacError(f"{file}{where}: neither JSON nor YAML ({problem}); expected {EXPECTED}") from None
    if not isinstance(node, yaml.MappingNode):
        raise IacError(f"{file}: not a mapping at the top; expected {EXPECTED}")
    return {str(k.value) for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def detect(data: bytes, file: str) -> SourceKind:
    """Which reader `data` is for; `IacError` (naming `file`) when none."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IacError(f"{file}: not UTF-8 text (byte {exc.start}); expected {EXPECTED}") from None
    keys: set[str]
    parsed: Any = None
    if text.lstrip().startswith(("{", "[")):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None   # YAML's flow style starts alike; it is read as YAML below
    if isinstance(parsed, list):
        raise IacError(f"{file}: a JSON array, not an object; expected {EXPECTED}")
    if isinstance(parsed, dict):
        keys = set(parsed)
        del parsed
    else:
        keys = _top_keys_yaml(text, file)
    if "format_version" in keys and ("planned_values" in keys or "resource_changes" in keys):
        return SourceKind.TERRAFORM_PLAN
    if "Resources" in keys or "AWSTemplateFormatVersion" in keys:
        return SourceKind.CLOUDFORMATION
    if ("format_version" in keys and "values" in keys) or {"lineage", "serial"} <= keys:
        raise IacError(f"{file}: a Terraform state, not a plan: give a plan, "
                       "terraform plan -out=PLANFILE; terraform show -json PLANFILE > plan.json")
    if "format_version" in keys:
        raise IacError(f"{file}: Terraform JSON without planned_values or resource_changes (a plan has them: "
                       "terraform show -json PLANFILE); expected " + EXPECTED)
    shown = ", ".join(sorted(keys)[:6]) + (" ..." if len(keys) > 6 else "")
    raise IacError(f"{file}: top-level keys {shown or '(none)'}: not {EXPECTED}")


def read_source(path: Path, *, account: str | None = None, region: str | None = None,
                parameters: Mapping[str, str] | None = None) -> PlanSource:
    """Read the plan or template at `path` (see the module docstring). `account` and `region`
    say where it is evaluated when the file does not; `parameters` are a template's
    parameter values (a Terraform plan has none: giving some is an error)."""
    data = _read(path)
    kind = detect(data, str(path))
    if kind is SourceKind.TERRAFORM_PLAN:
        if parameters:
            raise IacError(f"{path}: a Terraform plan has no parameters (its variables are already in the plan); "
                           f"parameters ({', '.join(sorted(parameters))}) are for CloudFormation templates")
        from auditor.iac.terraform import read_plan   # imported when needed: each reader is a large module
        source: PlanSource = read_plan(data, str(path), account=account, region=region)
        return source
    from auditor.iac.cloudformation import read_template
    template: PlanSource = read_template(data, str(path), account=account, region=region, parameters=parameters)
    return template
