"""The reachability benchmark (benchmarks/reachability_bench.py) at a tiny scale: its estate
has the shape the benchmark describes, every hop resolves, and the script prints
consistent figures. Speed is measured by the benchmark, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import load_benchmark

from auditor.analyze.reachability import subnet_reachability
from auditor.collect.catalog import CATALOG
from auditor.model import build_model
from auditor.model.types import Model, Subnet

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "reachability_bench.py"
SCALE = 0.04   # the smallest estate: 4 VPCs per region (3 spokes and the egress VPC)


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("reachability_bench")


@pytest.fixture(scope="module")
def estate(bench: ModuleType) -> tuple[list[Any], Model]:
    records = bench.generate_records(SCALE)
    return records, build_model(records)


def test_the_estate_has_the_described_shape(bench: ModuleType, estate: tuple[list[Any], Model]) -> None:
    records, model = estate
    for region in bench.REGIONS:
        made = {(r.service, r.operation) for r in records if r.region == region}
        assert made == {(s.service, s.operation) for s in CATALOG}
    assert not model.coverage.failed
    regions = len(bench.REGIONS)
    assert len(model.of("vpc")) == 4 * regions
    assert len(model.of("subnet")) == 4 * regions * bench.SUBNETS_PER_VPC
    assert len(model.of("route_table")) == 4 * regions * bench.TABLES_PER_VPC
    assert len(model.of("transit_gateway_attachment")) == 4 * regions
    assert len(model.of("vpc_peering")) == 3 * regions          # every pair of 3 spokes
    assert all(getattr(t, "routes", None) for t in model.of("transit_gateway_route_table"))


def test_every_subnet_resolves_and_the_spokes_reach_the_central_egress(estate: tuple[list[Any], Model]) -> None:
    _, model = estate
    subnets = [s for s in model.of("subnet") if isinstance(s, Subnet)]
    found = {s.id: subnet_reachability(model, s) for s in subnets}
    assert all(r.indeterminate == () and r.loops == () for r in found.values())
    # A spoke's main table sends 0.0.0.0/0 to the transit gateway: out through the egress VPC.
    spoke = found["subnet-0-1-0"]
    assert [p.text for p in spoke.of("internet")] == [
        "subnet-0-1-0 → rtb-0-1-0 0.0.0.0/0 → tgw-0 → tgw-rtb-0-isolated 0.0.0.0/0 → attachment vpc-0-200 → "
        "rtb-0-200-0 0.0.0.0/0 → nat-0-200 → rtb-0-200-1 0.0.0.0/0 → igw-0-200"]
    # Its tables that send only 10.0.0.0/8 to the transit gateway have no way out.
    private = [s for s in subnets if s.route_table_id == "rtb-0-1-9"]
    assert private and all(not found[s.id].of("internet") for s in private)
    # Spoke 3 has a virtual private gateway; spokes peer with each other.
    assert {p.destination for r in found.values() for p in r.paths} == {"internet", "on_premises", "vpc"}


def test_the_benchmark_prints_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--scales", str(SCALE), "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "RESULTS" in proc.stdout
    [row] = json.loads(out.read_text())
    assert row["scale"] == SCALE and row["subnets"] == 400
    assert row["paths"] == sum(row["by_destination"].values()) > 0
    assert row["indeterminate"] == 0 and row["loops"] == 0
    assert row["reach_s"] > 0 and row["peak_kib"] >= row["build_peak_kib"] > 0
    line = next(ln for ln in proc.stdout.splitlines() if ln.split()[:2] == [f"{SCALE:g}", "400"])
    assert str(row["paths"]) in line.split()
