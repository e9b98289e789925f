"""The plan-source contract (auditor/iac/base.py): records in AWS's shapes, unknown fields
that make every rule reading them ERROR, declared locations in findings."""

from __future__ import annotations

from auditor.iac.base import COVERED, RecordBuilder, synthetic_id, unknown_id
from auditor.model.build import build_model
from auditor.rules.attributes import resolve

ACCOUNT, REGION = "111111111111", "eu-west-1"


def _builder() -> RecordBuilder:
    b = RecordBuilder("terraform-plan", "plan.json", ACCOUNT)
    vpc = synthetic_id("vpc", "aws_vpc.main")
    b.add(REGION, ("ec2", "DescribeVpcs"), {"VpcId": vpc, "CidrBlock": "10.0.0.0/16", "IsDefault": False,
                                            "State": "available", "OwnerId": ACCOUNT},
          address="aws_vpc.main", line=10, attributes={"cidr_blocks": 12})
    for attr, key, value in (("enableDnsSupport", "EnableDnsSupport", True),
                             ("enableDnsHostnames", "EnableDnsHostnames", True)):
        b.add_call(REGION, ("ec2", "DescribeVpcAttribute"), {"VpcId": vpc, "Attribute": attr},
                   {"VpcId": vpc, key: {"Value": value}})
    b.add(REGION, ("ec2", "DescribeSubnets"), {"SubnetId": synthetic_id("subnet", "aws_subnet.a"), "VpcId": vpc,
                                               "CidrBlock": "10.0.1.0/24", "MapPublicIpOnLaunch": False},
          address="aws_subnet.a", line=20,
          unknown={"availability_zone": "known after apply: aws_subnet.a.availability_zone"})
    b.add(REGION, ("ec2", "DescribeRouteTables"), {
        "RouteTableId": synthetic_id("rtb", "aws_route_table.a"), "VpcId": vpc,
        "Associations": [{"SubnetId": synthetic_id("subnet", "aws_subnet.a"), "Main": False}],
        "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
                   {"DestinationCidrBlock": "0.0.0.0/0", "State": "active",
                    "NatGatewayId": unknown_id("nat", "aws_route.out.nat_gateway_id")}]},
        address="aws_route_table.a", line=30)
    b.add(REGION, ("eks", "DescribeCluster"), {"name": "prod", "arn": "", "resourcesVpcConfig": {
        "subnetIds": [synthetic_id("subnet", "aws_subnet.a")], "endpointPublicAccess": False,
        "endpointPrivateAccess": True}}, address="aws_eks_cluster.prod", line=40)
    return b


def test_every_covered_listing_is_answered_and_every_per_resource_call_too():
    records = _builder().records([REGION])
    calls = {(r.service, r.operation) for r in records}
    assert set(COVERED) - calls == {("ec2", "GetManagedPrefixListEntries"), ("ec2", "SearchTransitGatewayRoutes"),
                                    ("ec2", "GetTransitGatewayRouteTableAssociations"),
                                    ("ec2", "GetTransitGatewayRouteTablePropagations")}   # nothing listed to ask for
    model = build_model(records)
    assert not model.coverage.failed
    assert model.coverage.collected(ACCOUNT, REGION, "eks", "DescribeCluster")
    assert model.coverage.collected(ACCOUNT, REGION, "ec2", "DescribeVpcAttribute")
    assert not model.coverage.collected(ACCOUNT, REGION, "ec2", "DescribeVpcEndpointServices")


def test_a_per_resource_answer_not_given_fails_for_that_resource_only():
    b = _builder()
    b.add(REGION, ("ec2", "DescribeVpcs"), {"VpcId": "vpc-other", "CidrBlock": "10.1.0.0/16"},
          address="aws_vpc.other", line=50)
    model = build_model(b.records([REGION]))
    failed = model.coverage.failed_for(ACCOUNT, REGION, "ec2", "DescribeVpcAttribute")
    assert set(failed) == {"vpc-other"} and "NotInPlan" in failed["vpc-other"]


def test_declared_origin_and_unknown_fields_reach_the_model():
    model = build_model(_builder().records([REGION]))
    subnet = model.get("subnet", "subnet-aws_subnet.a")
    assert subnet is not None and subnet.declared_at is not None
    assert (subnet.declared_at.kind, subnet.declared_at.file, subnet.declared_at.address, subnet.declared_at.line) == (
        "terraform-plan", "plan.json", "aws_subnet.a", 20)
    vpc = model.get("vpc", "vpc-aws_vpc.main")
    assert vpc is not None and vpc.declared_at is not None and vpc.declared_at.line_of("cidr_blocks") == 12
    assert vpc.declared_at.line_of("state") == 10
    assert [u.field for u in subnet.unknown] == ["availability_zone"]
    cluster = model.get("eks_cluster", "prod")
    assert cluster is not None and cluster.declared_at is not None and cluster.declared_at.line == 40


def test_an_unknown_field_is_unknown_to_plain_and_derived_reads():
    model = build_model(_builder().records([REGION]))
    subnet = model.get("subnet", "subnet-aws_subnet.a")
    assert subnet is not None
    az = resolve(model, subnet, "availability_zone")
    assert az.unknown == ("known after apply: aws_subnet.a.availability_zone",)
    assert resolve(model, subnet, "cidr").unknown == ()
    # An availability zone reaches only the derived values that read zones (NARROW_FIELDS).
    assert resolve(model, subnet, "route_table").unknown == ()
    vpc = model.get("vpc", "vpc-aws_vpc.main")
    assert vpc is not None
    assert resolve(model, vpc, "workload_availability_zones").unknown == (
        "known after apply: aws_subnet.a.availability_zone",)


def test_any_other_unknown_field_reaches_every_derived_value_its_calls_feed():
    b = RecordBuilder("terraform-plan", "plan.json", ACCOUNT)
    b.add(REGION, ("ec2", "DescribeSubnets"), {"SubnetId": "subnet-A", "VpcId": "vpc-V"}, address="aws_subnet.a",
          unknown={"cidr": "known after apply: aws_subnet.a.cidr_block"})
    b.add(REGION, ("ec2", "DescribeSubnets"), {"SubnetId": "subnet-B", "VpcId": "vpc-V", "CidrBlock": "10.0.2.0/24"},
          address="aws_subnet.b")
    model = build_model(b.records([REGION]))
    other = model.get("subnet", "subnet-B")
    assert other is not None
    # Conservative: subnet B's route table is derived from what DescribeSubnets lists, A included.
    assert resolve(model, other, "route_table").unknown == ("known after apply: aws_subnet.a.cidr_block",)
    assert resolve(model, other, "cidr").unknown == ()


def test_the_derived_seam_not_the_readers_hint_decides_what_an_unknown_field_reaches():
    b = RecordBuilder("cloudformation", "t.yaml", ACCOUNT)
    b.add(REGION, ("ec2", "DescribeSubnets"), {"SubnetId": "subnet-A", "VpcId": "vpc-V", "CidrBlock": "10.0.0.0/24"},
          address="A", line=3, unknown={"ipv6_cidrs": "known after deploy: A.Ipv6CidrBlocks",
                                        "availability_zone_id": "known after deploy: A.AvailabilityZoneId"},
          quiet=["ipv6_cidrs", "availability_zone_id"])
    model = build_model(b.records([REGION]))
    subnet = model.get("subnet", "subnet-A")
    assert subnet is not None
    assert resolve(model, subnet, "ipv6_cidrs").unknown == ("known after deploy: A.Ipv6CidrBlocks",)
    assert resolve(model, subnet, "availability_zone_id").unknown == ("known after deploy: A.AvailabilityZoneId",)
    # IPv6 blocks are read by the reachability analysis: the reader's "quiet" does not hold.
    assert resolve(model, subnet, "route_table").unknown == ("known after deploy: A.Ipv6CidrBlocks",)


def test_a_collected_snapshot_has_no_origin_and_no_unknowns(tmp_path):
    from auditor.snapshot.records import CallRecord

    rec = CallRecord(ACCOUNT, REGION, "ec2", "DescribeSubnets", {}, ({"Subnets": [{"SubnetId": "subnet-1",
                                                                                   "VpcId": "vpc-1"}]},))
    subnet = build_model([rec]).get("subnet", "subnet-1")
    assert subnet is not None and subnet.declared_at is None and subnet.unknown == ()


def test_the_readers_never_call_quiet_a_field_the_derived_seam_says_is_read():
    """A reader marks some unknown fields "quiet" (no analyzer reads them); the derived seam's
    NARROW_FIELDS decides. Over every committed plan, template and scenario, the two agree:
    a reader's quiet field is one no derived attribute reads."""
    from pathlib import Path

    from auditor.iac.base import IacError
    from auditor.iac.load import read_source
    from auditor.rules.derive import NARROW_FIELDS

    root = Path(__file__).parent
    files = sorted([*root.glob("fixtures/iac/terraform/*.json"), *root.glob("fixtures/iac/cloudformation/*.*"),
                    *root.glob("iac_scenarios/[0-9]*.yaml")])
    quiet: set[tuple[str, str]] = set()
    read = 0
    for path in files:
        if path.suffix == ".md":
            continue
        try:
            source = read_source(path, region="us-east-1")
        except IacError:
            continue   # the bad-input fixtures
        read += 1
        for resources in build_model(source.records).resources.values():
            quiet |= {(r.type_name, u.field) for r in resources for u in r.unknown if not u.propagates}
    assert read >= 40 and quiet
    assert {q for q in quiet if NARROW_FIELDS.get(q) != frozenset()} == set()


def test_an_id_nothing_resolves_is_named_where_an_analysis_stops_at_it():
    """A route's target known only after apply (`unknown_id`) is no resource: the VPC's NAT
    gateways and the subnet's paths are unknown, and the ERROR says which attribute."""
    from auditor.rules.conditions import evaluate
    from auditor.rules.packs import Leaf

    model = build_model(_builder().records([REGION]))
    vpc = model.get("vpc", "vpc-aws_vpc.main")
    subnet = model.get("subnet", "subnet-aws_subnet.a")
    assert vpc is not None and subnet is not None
    nats = resolve(model, vpc, "public_nat_gateway_ids")
    assert nats.value is None and any("aws_route.out.nat_gateway_id" in w for w in nats.why)
    outcome = evaluate(Leaf(attr="public_nat_gateway_ids", op="empty", written=True), model, vpc)
    assert outcome.status == "error" and "aws_route.out.nat_gateway_id" in outcome.evidence[0].note
    paths = resolve(model, subnet, "internet_egress_paths")
    assert paths.value is None and any("aws_route.out.nat_gateway_id" in w for w in paths.why)
