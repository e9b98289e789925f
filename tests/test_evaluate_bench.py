"""The rule-engine benchmark (benchmarks/evaluate_bench.py) at a tiny size: its generated
estate is complete and varied, and it prints consistent figures. Speed is measured by the
benchmark, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import load_benchmark

from auditor.collect.catalog import CATALOG
from auditor.config import Scope
from auditor.model import build_model
from auditor.rules.engine import evaluate_rules
from auditor.rules.packs import load_packs

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "evaluate_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("evaluate_bench")


@pytest.fixture(scope="module")
def estate(bench: ModuleType) -> tuple[list[Any], Any]:
    records = bench.generate_records(8, vpcs_per_region=4, regions=2)  # 1 account, 2 regions
    return records, build_model(records)


def test_every_catalogued_call_is_recorded_in_every_account_region(estate: tuple[list[Any], Any]) -> None:
    records, model = estate
    regions = {(r.account, r.region) for r in records}
    assert len(regions) == 2
    for account, region in regions:
        made = {(r.service, r.operation) for r in records if (r.account, r.region) == (account, region)}
        assert made == {(s.service, s.operation) for s in CATALOG}
    assert not model.coverage.failed


def test_the_estate_has_every_kind_of_resource_the_brief_names(estate: tuple[list[Any], Any]) -> None:
    _, model = estate
    kinds = {t for t, items in model.resources.items() if items}
    assert kinds >= {"vpc", "subnet", "route_table", "security_group", "security_group_rule", "network_interface",
                     "instance", "vpc_endpoint", "network_acl", "flow_log", "internet_gateway", "nat_gateway",
                     "elastic_ip", "db_instance", "load_balancer", "lambda_function", "eks_cluster",
                     "transit_gateway", "transit_gateway_attachment", "transit_gateway_route_table", "prefix_list",
                     "vpc_endpoint_service", "vpc_block_public_access", "vpc_peering", "vpn_gateway"}
    vpcs = model.of("vpc")
    assert all(v.dns_support is not None and v.dns_hostnames is not None for v in vpcs)
    pci = [v for v in vpcs if v.tag("data-classification") == "pci"]
    assert len(pci) == len(vpcs) // 2
    endpoints = Counter(e.endpoint_type for e in model.of("vpc_endpoint"))
    assert endpoints["Gateway"] == len(vpcs) and endpoints["Interface"] >= 2 * len(vpcs)


def test_both_scopes_evaluate_every_rule_with_nothing_left_unassessed(estate: tuple[list[Any], Any],
                                                                     bench: ModuleType) -> None:
    _, model = estate
    packs = load_packs()
    everything = evaluate_rules(model, packs, Scope(), today=bench.TODAY)
    pci = evaluate_rules(model, packs, Scope(tags=bench.SCOPES["pci"]), today=bench.TODAY)
    for ev in (everything, pci):
        assert not ev.gaps and not any(f.resource.id == "*" for f in ev.findings)
        assert len(ev.findings) == bench.expected_findings(ev)
    assert 0 < len(pci.findings) < len(everything.findings)
    assert sum(pci.in_scope.values()) < sum(everything.in_scope.values())


def test_the_benchmark_prints_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--sizes", "300", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for heading in ("RESULTS", "Findings by rule", "all sizes ran the same rules"):
        assert heading in text
    [row] = json.loads(out.read_text())
    assert row["target"] == 300 and abs(row["resources"] - 300) <= 50  # VPCs come whole
    assert row["resources"] == sum(row["by_type"].values())
    assert row["rules"] == len(load_packs().rules) > 0
    assert set(row["scopes"]) == {"all", "pci"}
    for name, s in row["scopes"].items():
        assert sum(s["statuses"].values()) == s["findings"] == s["expected_findings"] > 0
        assert sum(sum(c.values()) for c in s["by_rule"].values()) == s["findings"]
        assert s["json_bytes"] > 0 and s["gaps"] == 0
        line = next(ln for ln in text.splitlines() if ln.split()[:3] == [str(row["resources"]), str(row["rules"]),
                                                                         name])
        assert line.split()[4] == str(s["findings"]) and line.split()[10] == "yes"
    assert row["scopes"]["pci"]["findings"] < row["scopes"]["all"]["findings"]
    assert row["peak_kib"] >= row["build_peak_kib"] > 0
