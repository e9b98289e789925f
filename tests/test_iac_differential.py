"""Differential tests of the CloudFormation reader: each template of tests/iac_scenarios is
evaluated before deploy (`auditor.iac.cloudformation.read_template`, the built-in packs) and,
where moto's CloudFormation can deploy it, deployed into moto (`create_stack`, each scenario in
its own account), collected live with the project's collector and evaluated with the same packs
and parameters. The verdicts per (rule, resource) must agree exactly, except the pairs
expected.yaml lists as undecidable before deploy (ERROR pre-deploy naming why: a value known only
after deploy, or an account setting no template declares; a verdict live). Resources are matched
by logical id (tests/iac_harness.py says how, and how what AWS creates implicitly is matched).
Where moto's CloudFormation differs from AWS's in a way a later call can make good, the harness
makes that call (iac_harness.MOTO_COMPLETIONS, each with AWS's documented behaviour).

Where moto cannot deploy a template (iac_harness.MOTO_CANNOT_DEPLOY: EKS clusters, transit
gateway attachments and route tables, network ACLs ...; or MOTO_IGNORES: a property moto drops
that no later call can set), the pre-deploy verdicts are compared with the full committed
verdicts in expected.yaml instead; nothing is skipped.

All deployable scenarios share one moto (one account each) and one collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditor.config import config_from_text
from auditor.iac.base import network_relevant
from auditor.model import build_model
from auditor.scan import evaluate_evidence, prepare
from auditor.snapshot.records import CallRecord
from iac_harness import (MOTO_CANNOT_DEPLOY, MOTO_IGNORES, REGION, Deployed, Namer, Row, Scenario, Verdicts,
                         compare, config_text, declared_names, decode, deploy, live_names, load_scenarios,
                         plan_manifest, table, verdicts)

SCENARIOS = load_scenarios()
ACCOUNTS = {s.name: f"7{int(s.name[:2]):011d}" for s in SCENARIOS}


@dataclass(frozen=True)
class Live:
    deployed: dict[str, Deployed]
    records: tuple[CallRecord, ...]
    manifest: dict[str, Any]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Live:
    """Every deployable scenario deployed into one moto, each in its own account, and the
    accounts collected once with the real collector."""
    from auditor.collect.runner import collect
    from auditor.emulate import EmulatedAws
    from auditor.snapshot.writer import SnapshotWriter

    deployable = [s for s in SCENARIOS if s.deploy]
    config = config_from_text("version: 1\naccounts:\n" + "".join(
        f'  - id: "{ACCOUNTS[s.name]}"\n    role_arn: {EmulatedAws.role_arn(ACCOUNTS[s.name])}\n' for s in deployable)
        + f"regions: [{REGION}]\n")
    out = tmp_path_factory.mktemp("iac-differential") / "snapshot"
    with EmulatedAws(mode="inprocess") as emu:
        deployed = {s.name: deploy(s, ACCOUNTS[s.name]) for s in deployable}
        result = collect(config, emu.session_factory(max_attempts=2), SnapshotWriter(out, keep=True))
    assert result.complete, result.manifest["errors"]
    return Live(deployed, tuple(result.records), dict(result.manifest))


def _pre(scenario: Scenario) -> tuple[Verdicts, dict[str, str], Any]:
    """The pre-deploy verdicts, the template's ids (logical -> model id) and the source."""
    from auditor.iac.cloudformation import read_template

    account = ACCOUNTS[scenario.name]
    source = read_template(scenario.template, f"tests/iac_scenarios/{scenario.path.name}", account=account,
                           region=REGION)
    ids = {d.address: d.id for d in source.resources}
    model = build_model(source.records)
    inputs = prepare(config_from_text(config_text(scenario, account, ids)))
    evaluation = evaluate_evidence(source.records, plan_manifest(), inputs)
    namer = Namer(model, declared_names(source.resources))
    found, _ = verdicts(evaluation.findings, model, namer, account)
    return found, ids, source


def _live(scenario: Scenario, live: Live) -> Verdicts:
    account = ACCOUNTS[scenario.name]
    deployed = live.deployed[scenario.name]
    records = [r for r in live.records if r.account == account]
    model = build_model(records, live.manifest.get("files"))
    names = live_names(deployed, model)
    ids = {logical: rid for (_, rid), logical in names.items()}
    inputs = prepare(config_from_text(config_text(scenario, account, ids)))
    evaluation = evaluate_evidence(records, live.manifest, inputs)
    found, _ = verdicts(evaluation.findings, model, Namer(model, names), account)
    return found


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.deploy], ids=lambda s: s.name)
def test_pre_deploy_verdicts_agree_with_the_deployed_stack(scenario: Scenario, live: Live) -> None:
    pre, _, source = _pre(scenario)
    post = _live(scenario, live)
    assert not [u.type for u in source.unsupported if network_relevant(u.type)]
    assert scenario.verdicts, f"{scenario.name}: expected.yaml names no verdict that matters"
    rows = compare(scenario, pre, post)
    assert not rows, table(scenario, rows) + f"\n(moto completions made: {live.deployed[scenario.name].completions})"


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if not s.deploy], ids=lambda s: s.name)
def test_pre_deploy_verdicts_of_templates_moto_cannot_deploy(scenario: Scenario) -> None:
    pre, _, source = _pre(scenario)
    assert not [u.type for u in source.unsupported if network_relevant(u.type)]
    rows = compare(scenario, pre, None)
    assert not rows, table(scenario, rows)


def test_scenarios_cover_the_issue() -> None:
    """At least 20 scenarios; each `deploy: false` justified by a type or property moto cannot
    deploy (and each deployable one free of them: `deploy` refuses otherwise); and the templates
    moto does not deploy (so nothing else checks them) valid for cfn-lint, no error-level match.
    (cfn-lint takes about a second a template here: the deployed ones are checked by moto.)"""
    from cfnlint.api import lint

    assert len(SCENARIOS) >= 20
    for s in SCENARIOS:
        template = decode(s.template, s.name)
        types = {body["Type"] for body in template["Resources"].values()}
        props = {(body["Type"], p) for body in template["Resources"].values() for p in body.get("Properties", {})}
        blocked = types & MOTO_CANNOT_DEPLOY or props & set(MOTO_IGNORES)
        assert bool(blocked) == (not s.deploy), (s.name, blocked)
        if not s.deploy:
            errors = [m for m in lint(s.path.read_text(encoding="utf-8"), regions=[REGION])
                      if m.rule.id.startswith("E")]
            assert not errors, (s.name, [str(m) for m in errors])


def test_moto_still_cannot_deploy_what_the_harness_says() -> None:
    """MOTO_CANNOT_DEPLOY is what this moto lacks: a moto that gains a type fails here, and the
    scenarios using it should then be deployed."""
    from moto.cloudformation.parsing import get_model_map

    assert not MOTO_CANNOT_DEPLOY & set(get_model_map())


def test_bad_rows_are_shown_as_a_table() -> None:
    """The comparison reports a disagreement, a listed unknown that is not ERROR, and a missing
    committed verdict (the harness cannot pass silently)."""
    s = Scenario("00-x", Path("x"), True, "", {}, {("PN-001", "Vpc"): "FAIL"}, {("VE-004", "Ep"): "availability"})
    pre = {("PN-001", "Vpc"): ("PASS", ""), ("VE-004", "Ep"): ("PASS", "")}
    post = {("PN-001", "Vpc"): ("FAIL", ""), ("VE-004", "Ep"): ("FAIL", "")}
    rows = compare(s, pre, post)
    assert [r.why.split(":")[0] for r in rows] == ["listed unknown", "disagree", "expected.yaml says FAIL"]
    assert "PN-001" in table(s, rows)
    committed = Scenario("00-y", Path("y"), False, "why", {}, {("PN-001", "Vpc"): "FAIL"}, {})
    assert compare(committed, {}, None) == [Row("PN-001", "Vpc", "(none)", "-", "committed verdict FAIL")]
