"""Round trip: collect -> write -> load -> model equals the model built from memory."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.config import config_from_text
from auditor.errors import SnapshotError
from auditor.model import build_model
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.writer import SnapshotWriter


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def _estate() -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                              {"Name": "association.main", "Values": ["true"]}])
    main_id = main["RouteTables"][0]["RouteTableId"]
    ec2.create_route(RouteTableId=main_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.eu-west-1.s3", RouteTableIds=[main_id])
    return {"vpc": vpc, "subnet": subnet, "igw": igw, "main": main_id}


@pytest.mark.parametrize("gzip", [False, True])
def test_collect_write_load_model_equals_in_memory(aws_env: None, tmp_path: Path, gzip: bool) -> None:
    cfg = config_from_text("version: 1\nregions: [eu-west-1]\n")
    with mock_aws():
        ids = _estate()
        result = collect(cfg, SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "s", compress=gzip, keep=True))
    live = build_model(result.records, result.manifest["files"])
    snap = load_snapshot(tmp_path / "s")
    loaded = build_model(snap.records, snap.manifest["files"])
    assert live == loaded
    subnet = loaded.get("subnet", ids["subnet"])
    assert subnet is not None and subnet.route_table_id == ids["main"]  # type: ignore[attr-defined]
    routes = loaded.get("route_table", ids["main"]).routes  # type: ignore[union-attr]
    assert ("0.0.0.0/0", "igw", ids["igw"]) in [(r.destination, r.target_kind, r.target_id) for r in routes]
    # The S3 gateway endpoint's prefix-list route resolves to the list's CIDRs.
    pl_route = next(r for r in routes if r.destination_kind == "prefix_list")
    assert pl_route.target_kind == "vpce" and pl_route.destination_cidrs
    # Every resource's evidence pointer names a file that the manifest hashes.
    for items in loaded.resources.values():
        for res in items:
            assert res.source.record in snap.manifest["files"]
    if gzip:
        assert all(name.endswith(".json.gz") for name in snap.manifest["files"])


def test_tampered_record_is_detected_naming_the_file(aws_env: None, tmp_path: Path) -> None:
    cfg = config_from_text("version: 1\nregions: [eu-west-1]\n")
    with mock_aws():
        _estate()
        collect(cfg, SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "s"))
    victim = next((tmp_path / "s" / "records").rglob("DescribeRouteTables.json"))
    victim.write_text(victim.read_text().replace('"igw-', '"vgw-', 1))
    with pytest.raises(SnapshotError) as info:
        load_snapshot(tmp_path / "s")
    assert str(victim) in str(info.value) and "SHA-256 does not match" in str(info.value)
