"""Every "no path" is explained: on the demo bank and the analyzer estates (collected from the
emulator) and on the pure-model estate of tests/test_reachability.py, for every subnet and a
fixed sample of destination addresses, the trace of that one address either follows a path or
says where it stopped, with a code of auditor/analyze/explain.py; and the trace agrees with
the subnet's all-destinations answer.

An address is atomic: whatever the routes do with it, the analysis must end somewhere, at a
destination (a path), at a hop that drops it (a certain stop) or at one it cannot follow (an
uncertain stop, also in `indeterminate`). An address accounted for by nothing would be a
"no path" with no reason, which an assessor could not check.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest

from auditor.analyze.explain import CODES
from auditor.analyze.prefixes import holds_internet, parse_net
from auditor.analyze.reachability import Reachability, subnet_reachability, subnet_trace
from auditor.model import build_model
from auditor.model.types import Model, Subnet, Vpc
from auditor.rules.derived.reachability import explanation
from auditor.snapshot.reader import load_snapshot
from conftest import AnalyzerEstates, DemoRun

_FIXED = ("8.8.8.8", "1.1.1.1", "52.216.4.1", "3.5.0.9", "54.231.0.1", "172.16.0.1", "192.168.1.1",
          "100.64.0.1", "169.254.169.254", "10.0.0.1", "2600:1f18::1", "2001:db8::1", "fd00::1")


def _addresses(model: Model) -> list[str]:
    """The fixed addresses, the first address of every VPC's CIDRs (delivery into a VPC) and
    a fixed-seed sample of other IPv4 and IPv6 addresses."""
    rng = random.Random(16)
    out = list(_FIXED)
    for vpc in model.of("vpc"):
        assert isinstance(vpc, Vpc)
        for cidr in (*vpc.cidr_blocks, *vpc.ipv6_cidr_blocks):
            n = parse_net(cidr)
            if n is not None:
                out.append(n.text.split("/")[0])
    out += [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(24)]
    out += [":".join(f"{rng.randrange(65536):x}" for _ in range(8)) for _ in range(6)]
    return list(dict.fromkeys(out))


def _check_trace(found: Reachability, where: str) -> list[str]:
    problems: list[str] = []
    if not found.paths and not found.stops:
        problems.append(f"{where}: neither a path nor a stop")
    for st in found.stops:
        code = CODES.get(st.code)
        if code is None:
            problems.append(f"{where}: unknown code {st.code}")
        elif code.kind not in ("blocked", "unknown"):
            problems.append(f"{where}: a stop coded {st.code} ({code.kind})")
        elif (code.kind == "unknown") == st.certain:
            problems.append(f"{where}: {st.code} marked certain={st.certain}")
    if any(not st.certain for st in found.stops) != bool(found.indeterminate):
        problems.append(f"{where}: uncertain stops {[s.text for s in found.stops if not s.certain]} "
                        f"vs indeterminate {found.indeterminate}")
    return problems


def _check_model(model: Model, subnets: Iterable[Subnet]) -> tuple[int, list[str]]:
    traced = 0
    problems: list[str] = []
    addresses = _addresses(model)
    for sn in subnets:
        whole = subnet_reachability(model, sn)
        internet = {p.family for p in whole.of("internet")}
        for address in addresses:
            found = subnet_trace(model, sn, address)
            traced += 1
            where = f"{sn.id} → {address}"
            problems += _check_trace(found, where)
            family = "ipv6" if ":" in address else "ipv4"
            # the one-address answer agrees with the all-destinations one
            if found.of("internet") and family not in internet and not whole.indeterminate:
                problems.append(f"{where}: the trace reaches the internet, the subnet's answer does not")
            if not holds_internet(parse_net(address)) and any(
                    len(p.hops) > 3 for p in found.of("internet")):
                problems.append(f"{where}: a private address reaches the internet after other hops")
        if not internet and not whole.indeterminate:
            lines = explanation(whole, "internet")
            if not lines or not lines[0].startswith("NO_PATH") or not any(
                    CODES[st.code].kind == "blocked" for st in whole.stops):
                problems.append(f"{sn.id}: no internet path, but no blocked stop explains it: {lines[:3]}")
    return traced, problems


def _subnets(model: Model) -> list[Subnet]:
    return sorted((s for s in model.of("subnet") if isinstance(s, Subnet)), key=lambda s: (s.account, s.id))


def test_every_address_from_every_demo_subnet_is_accounted_for(demo_run: DemoRun) -> None:
    snap = load_snapshot(demo_run.result.scan.snapshot)
    model = build_model(snap.records, snap.manifest.get("files"))
    traced, problems = _check_model(model, _subnets(model))
    assert not problems, "\n".join(problems[:30])
    assert traced >= 17 * 40


def test_every_address_from_every_analyzer_estate_subnet_is_accounted_for(analyzer_estates: AnalyzerEstates) -> None:
    model = build_model(analyzer_estates.records, analyzer_estates.manifest.get("files"))
    traced, problems = _check_model(model, _subnets(model))
    assert not problems, "\n".join(problems[:30])
    assert traced > 1000


def test_every_address_from_the_pure_model_estates_is_accounted_for() -> None:
    from test_reachability import BASICS, model_of, tgw_estate   # the semantic cases, API responses
    for model in (model_of(BASICS), model_of(tgw_estate())):
        traced, problems = _check_model(model, _subnets(model))
        assert not problems, "\n".join(problems[:30])
        assert traced > 100


def test_a_trace_needs_an_address() -> None:
    from test_reachability import BASICS, model_of
    model = model_of(BASICS)
    sn = _subnets(model)[0]
    with pytest.raises(ValueError, match="not an address or CIDR"):
        subnet_trace(model, sn, "igw-1")
