"""The outside-data check against Batfish's AWS snapshots (verify_outside/batfish.py and its
adapter), on small snapshots written here in Batfish's file layout (tests/fixtures/oracles/batfish-snapshots/:
our own estates and expectations, no outside data): each layout is read through the tool's
snapshot writer, reader and model builder; a right expectation agrees, a wrong one disagrees
(exit 1), an uncovered flow says why, a bad folder is an error (exit 2) and never a traceback.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from auditor.model.types import TransitGatewayRouteTable
from auditor.snapshot.reader import load_snapshot

ROOT = Path(__file__).resolve().parent.parent
# The snapshots, written here in Batfish's file layout (none of Batfish's own data).
SNAPSHOTS = ROOT / "tests" / "fixtures" / "oracles" / "batfish-snapshots"


def laid_out(target: Path) -> Path:
    """A folder holding the snapshots where the verification command reads a corpus:
    ``target/external-oracles/batfish/snapshots/<name>/``."""
    shutil.copytree(SNAPSHOTS, target / "external-oracles" / "batfish" / "snapshots")
    return target


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus folder, read-only for its users."""
    return laid_out(tmp_path_factory.mktemp("corpus"))


def _module(name: str) -> ModuleType:
    """verify_outside/<name>.py (the folder is not a package; batfish.py imports its adapter
    by the name the script's folder gives it)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "verify_outside" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


adapter = _module("batfish_adapter")
batfish = _module("batfish")


def run(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = batfish.main([str(folder)])
    out = capsys.readouterr()
    return code, out.out, out.err


def line_of(out: str, flow: str) -> str:
    found = [ln for ln in out.splitlines() if f"  {flow}  " in ln]
    assert len(found) == 1, (flow, out)
    return found[0]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A copy of the corpus to change."""
    return laid_out(tmp_path / "fixtures")


def snapshot_in(corpus: Path, name: str) -> Path:
    return corpus / "external-oracles" / "batfish" / "snapshots" / name


# -- the adapter --------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "layout", "folders"), [
    ("flat-nat-egress", "flat", [("111122223333", "eu-west-1")]),
    ("per-region-tgw", "per region", [("444455556666", "eu-central-1")]),
    ("per-account-peering", "per account and region", [("777700000001", "us-west-2"), ("777700000002", "us-west-2")]),
])
def test_each_layout_becomes_a_snapshot_the_reader_verifies(tmp_path: Path, name: str, layout: str,
                                                            folders: list[tuple[str, str]]) -> None:
    out = tmp_path / "snap"
    loaded = adapter.load(SNAPSHOTS / name, out=out)
    assert loaded.conversion.layout == layout
    assert [(f.account, f.region) for f in loaded.conversion.folders] == folders
    # A real snapshot folder: its manifest and hashes pass the tool's own reader.
    again = load_snapshot(out)
    assert {(r.account, r.region) for r in again.records} == set(folders)
    assert again.manifest["converted_from"] == {"format": "batfish-aws-snapshot", "snapshot": name, "layout": layout}
    vpcs = {v.id for v in loaded.model.of("vpc")}
    assert len(vpcs) == {"flat-nat-egress": 1, "per-region-tgw": 2, "per-account-peering": 2}[name]


def test_transit_gateway_routes_come_from_static_routes_and_propagations() -> None:
    loaded = adapter.load(SNAPSHOTS / "per-region-tgw")
    (table,) = loaded.model.of("transit_gateway_route_table")
    assert isinstance(table, TransitGatewayRouteTable)
    assert table.routes is not None
    assert sorted((r.destination, r.route_type, r.attachment_ids) for r in table.routes) == [
        ("10.20.0.0/16", "propagated", ("tgw-attach-0f2b00000000f1",)),
        ("10.30.0.0/16", "propagated", ("tgw-attach-0f2b00000000f2",))]
    assert table.associated_attachment_ids == ("tgw-attach-0f2b00000000f1", "tgw-attach-0f2b00000000f2")
    assert table.propagating_attachment_ids == ("tgw-attach-0f2b00000000f1", "tgw-attach-0f2b00000000f2")
    assert not loaded.conversion.bgp_tables
    assert any("propagating" in d for d in loaded.conversion.derived)


def test_a_static_route_wins_over_the_propagated_one_for_the_same_cidr(corpus: Path) -> None:
    folder = snapshot_in(corpus, "per-region-tgw") / "aws_configs" / "eu-central-1"
    static = json.loads((folder / "TransitGatewayStaticRoutes.json").read_text())
    static["TransitGatewayStaticRoutes"][0]["Routes"] = [{"DestinationCidrBlock": "10.30.0.0/16", "State": "blackhole",
                                                           "Type": "static"}]
    (folder / "TransitGatewayStaticRoutes.json").write_text(json.dumps(static))
    (table,) = adapter.load(snapshot_in(corpus, "per-region-tgw")).model.of("transit_gateway_route_table")
    assert sorted((r.destination, r.route_type, r.state) for r in table.routes) == [
        ("10.20.0.0/16", "propagated", "active"), ("10.30.0.0/16", "static", "blackhole")]


def test_security_group_rules_come_from_the_groups_permissions() -> None:
    model = adapter.load(SNAPSHOTS / "flat-nat-egress").model
    rules = sorted((r.group_id, r.is_egress, r.protocol, r.from_port, r.to_port, r.cidr_ipv4)
                   for r in model.of("security_group_rule"))
    assert rules == [("sg-0e1a000000000001", False, "tcp", 22, 22, "10.8.0.0/16"),
                     ("sg-0e1a000000000001", True, "-1", None, None, "0.0.0.0/0"),
                     ("sg-0e1a000000000002", False, "tcp", 443, 443, "0.0.0.0/0"),
                     ("sg-0e1a000000000002", True, "-1", None, None, "0.0.0.0/0")]


@pytest.mark.parametrize(("ports", "protocol", "port", "except_port", "expected"), [
    (("tcp 22",), "tcp", 22, None, True), (("tcp 22",), "tcp", 80, None, False), (("tcp 1024-65535",), "tcp", 2000, None, True),
    (("udp all ports",), "udp", 53, None, True), (("udp all ports",), "tcp", 53, None, False), (("all",), "tcp", 1, None, True),
    (("icmp",), "icmp", None, None, True), (("tcp 22",), "tcp", None, 22, False), (("tcp 22", "tcp 3306"), "tcp", None, 22, True),
    (("tcp all ports",), "tcp", None, 22, True), ((), None, None, None, False), (("icmp",), None, None, None, True),
])
def test_reading_the_admitted_ports(ports: tuple[str, ...], protocol: str | None, port: int | None,
                                    except_port: int | None, expected: bool) -> None:
    assert batfish.admits(ports, protocol, port, except_port=except_port) is expected


def test_listings_the_model_does_not_read_are_listed_not_dropped() -> None:
    only = ["aws_configs/" + n for n in ("Vpcs.json", "Subnets.json", "RouteTables.json", "AvailabilityZones.json")]
    loaded = adapter.load(SNAPSHOTS / "flat-nat-egress", only)
    not_used = dict(loaded.conversion.not_used)
    assert "availability-zone" in not_used["aws_configs/AvailabilityZones.json"]
    assert "not loaded by the Batfish test" in not_used["aws_configs/NatGateways.json"]
    assert "not loaded by the Batfish test" in not_used["aws_configs/CustomerGateways.json"]
    assert dict(loaded.conversion.used) == {"aws_configs/RouteTables.json": "ec2:DescribeRouteTables",
                                            "aws_configs/Subnets.json": "ec2:DescribeSubnets",
                                            "aws_configs/Vpcs.json": "ec2:DescribeVpcs"}
    # A listing the folder lacks is not collected, never "collected, none".
    assert ("111122223333", "eu-west-1", "ec2", "DescribeNatGateways") not in loaded.model.coverage.ok
    assert not adapter.load(SNAPSHOTS / "flat-nat-egress", []).conversion.used


def test_a_table_with_routes_learned_over_bgp_is_named_and_its_flows_are_uncovered(
        corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = snapshot_in(corpus, "per-region-tgw") / "aws_configs" / "eu-central-1"
    props = json.loads((folder / "TransitGatewayPropagations.json").read_text())
    props["TransitGatewayPropagations"][0]["TransitGatewayRouteTablePropagations"].append(
        {"TransitGatewayAttachmentId": "tgw-attach-0f2b00000000f9", "ResourceId": "vpn-0f2b000000000001",
         "ResourceType": "vpn", "State": "enabled"})
    (folder / "TransitGatewayPropagations.json").write_text(json.dumps(props))
    loaded = adapter.load(snapshot_in(corpus, "per-region-tgw"))
    assert loaded.conversion.bgp_tables == {"tgw-rtb-0f2b000000000e1": ("tgw-attach-0f2b00000000f9",)}
    code, out, _ = run(corpus, capsys)
    assert code == 0
    assert "uncovered  crosses tgw-0f2b0000000000d1" in line_of(out, "a-to-b")
    assert "learned over BGP from tgw-attach-0f2b00000000f9" in line_of(out, "a-to-b")


# -- the flows ----------------------------------------------------------------------------

def test_right_expectations_agree(corpus_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(corpus_dir, capsys)
    assert (code, err) == (0, "")
    for flow, expected in (
            ("private-to-internet", "reaches the internet via nat nat-0e1a0000000000e1, igw igw-0e1a0000000000d1"),
            ("public-to-internet", "reaches the internet via igw igw-0e1a0000000000d1"),
            ("a-to-b", "delivered into vpc-0f2b000000000002 via tgw tgw-0f2b0000000000d1"),
            ("b-to-a", "delivered into vpc-0f2b000000000001 via tgw tgw-0f2b0000000000d1"),
            ("one-to-two", "delivered into vpc-0a3c000000000002 via peering vpc-0a3c000000000002"),
            ("a-to-nowhere", "dropped at tgw-0f2b0000000000d1 (no gateway)")):
        line = line_of(out, flow)
        assert f"  covered  expected: {expected}  ours: {expected} | codes " in line, line
        assert line.endswith("  AGREE"), line
    assert "NO_ROUTE_TO_DESTINATION" in line_of(out, "a-to-nowhere")
    # From the internet: what the interface owning the public address admits.
    assert line_of(out, "from-internet").endswith(
        "covered  expected: tcp 22 from the internet refused at i-0e1a000000000a02  ours: tcp 22 from the internet "
        "refused at i-0e1a000000000a02 (admitted from the internet: tcp 443)  AGREE")
    assert "flows: 11; covered 7, partly covered 2" in out
    assert "compared: 9; agree 9, disagree 0" in out


def test_uncovered_flows_and_parts_say_why(corpus_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(corpus_dir, capsys)
    assert "uncovered  starts at the internet, to 192.0.2.99, which no interface" in line_of(out, "from-internet-to-nobody")
    https = line_of(out, "from-internet-https")
    assert "partly covered  expected: tcp 443 from the internet admitted at i-0e1a000000000a02" in https
    assert "AGREE  [not compared: whether the admitting rule covers the source 203.0.113.7" in https
    assert "uncovered  the reply's path" in line_of(out, "private-to-internet/reverse")
    partly = line_of(out, "private-to-public-denied-by-sg")
    assert "partly covered  expected: delivered into vpc-0e1a000000000001 (no gateway)" in partly
    assert "  AGREE  [not compared: the final DENIED_IN at i-0e1a000000000a02: its security group" in partly
    assert "not used  aws_configs/CustomerGateways.json: not loaded by the Batfish test" in out
    assert "uncovered  null-routed at the VPC router vpc-0f2b000000000001: an address inside" in line_of(out, "a-to-a-gap")
    assert "uncovered 2" in out and "from the internet to an address no interface owns" in out


def test_wrong_expectations_disagree(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tgw = snapshot_in(corpus, "per-region-tgw") / "expectations.yaml"
    # b-to-a claimed to stop at the transit gateway for want of a route: ours delivers it.
    right = ("disposition: ACCEPTED\n    hops: [i-0f2b000000000a02, subnet-0f2b0000000000b1, vpc-0f2b000000000002, "
             "tgw-0f2b0000000000d1,\n      vpc-0f2b000000000001, subnet-0f2b0000000000a1, i-0f2b000000000a01]")
    assert tgw.read_text().count(right) == 1
    tgw.write_text(tgw.read_text().replace(right, "disposition: NO_ROUTE\n    hops: [i-0f2b000000000a02, "
                                           "subnet-0f2b0000000000b1, vpc-0f2b000000000002, tgw-0f2b0000000000d1]"))
    nat = snapshot_in(corpus, "flat-nat-egress") / "expectations.yaml"
    nat.write_text(nat.read_text().replace("vpc-0e1a000000000001, nat-0e1a0000000000e1,\n",
                                           "vpc-0e1a000000000001, nat-0e1a00000000ffff,\n", 1))
    code, out, _ = run(corpus, capsys)
    assert code == 1
    assert line_of(out, "b-to-a").endswith("DISAGREE")
    assert "expected: dropped at tgw-0f2b0000000000d1" in line_of(out, "b-to-a")
    assert "ours: delivered into vpc-0f2b000000000001" in line_of(out, "b-to-a")
    assert "expected: reaches the internet via nat nat-0e1a00000000ffff" in line_of(out, "private-to-internet")
    assert line_of(out, "private-to-internet").endswith("DISAGREE")
    assert "agree 7, disagree 2" in out


# -- bad folders: exit 2 with the reason ------------------------------------------------------

def _break(corpus: Path, how: str) -> str:
    snap = snapshot_in(corpus, "flat-nat-egress")
    if how == "missing expectations":
        (snap / "expectations.yaml").unlink()
        return "expectations.yaml: missing"
    if how == "malformed JSON":
        (snap / "aws_configs" / "Subnets.json").write_text('{"Subnets": [')
        return "aws_configs/Subnets.json: not valid JSON"
    if how == "wrong shape":
        (snap / "aws_configs" / "Subnets.json").write_text('{"Subnets": {"SubnetId": "subnet-1"}}')
        return "aws_configs/Subnets.json: expected a JSON object with the list 'Subnets'"
    if how == "top-level list":
        (snap / "aws_configs" / "Vpcs.json").write_text('[{"VpcId": "vpc-1"}]')
        return "aws_configs/Vpcs.json: expected a JSON object with the list 'Vpcs'"
    if how == "unknown layout":
        (snap / "aws_configs" / "misc").mkdir()
        for f in (snap / "aws_configs").glob("*.json"):
            f.rename(snap / "aws_configs" / "misc" / f.name)
        return "aws_configs/misc is neither a region nor 'accounts' (unknown layout)"
    if how == "mixed layout":
        (snap / "aws_configs" / "eu-west-1").mkdir()
        return "mixes files and folders (unknown layout)"
    if how == "flow without hops":
        path = snap / "expectations.yaml"
        path.write_text(path.read_text().replace("    hops: [i-0e1a000000000a02, subnet-0e1a0000000000a1, vpc-0e1a000000000001, "
                                                 "igw-0e1a0000000000d1, isp_16509,\n      internet]\n", ""))
        return "(public-to-internet): no expect.hops"
    if how == "yaml syntax":
        (snap / "expectations.yaml").write_text("schema: [unclosed\n")
        return "YAML syntax error"
    if how == "other schema":
        path = snap / "expectations.yaml"
        path.write_text(path.read_text().replace("reachability/v1", "policy-lint/v1"))
        return "not an expectations file of schema"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["missing expectations", "malformed JSON", "wrong shape", "top-level list", "unknown layout",
                                 "mixed layout", "flow without hops", "yaml syntax", "other schema"])
def test_a_bad_snapshot_folder_is_an_input_error(corpus: Path, how: str, capsys: pytest.CaptureFixture[str]) -> None:
    message = _break(corpus, how)
    code, out, err = run(corpus, capsys)
    assert code == 2
    assert err.startswith("error: ") and message in err, err
    assert "Traceback" not in err and out == ""


def test_a_folder_without_the_corpus_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(tmp_path, capsys)
    assert code == 2 and "holds no external-oracles/" in err
    code, _, err = run(tmp_path / "nowhere", capsys)
    assert code == 2 and "no such folder" in err


def test_one_snapshot_kept_as_an_auditor_snapshot(corpus_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    keep = tmp_path / "kept"
    code = batfish.main([str(corpus_dir), "--snapshot", "per-region-tgw", "--keep-snapshots", str(keep)])
    out = capsys.readouterr().out
    assert code == 0 and "== batfish/per-region-tgw" in out and "flat-nat-egress" not in out
    assert {r.operation for r in load_snapshot(keep / "batfish_per-region-tgw").records} >= {
        "DescribeVpcs", "SearchTransitGatewayRoutes", "GetTransitGatewayRouteTableAssociations"}
    # An existing folder is never written into; an unknown snapshot name is an error.
    assert batfish.main([str(corpus_dir), "--keep-snapshots", str(keep)]) == 2
    assert batfish.main([str(corpus_dir), "--snapshot", "no-such-snapshot"]) == 2
    assert "no snapshot named no-such-snapshot" in capsys.readouterr().err
