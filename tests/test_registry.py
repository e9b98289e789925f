"""The resource registry is whole and consistent: every type, call, field and rule it declares
is one the model, the build, scope and waivers know, and everything derived from it agrees."""

from __future__ import annotations

import dataclasses
import re

import pytest

from auditor.collect import catalog
from auditor.model.build import SIDE_HANDLERS
from auditor.model.normalise import NORMALISERS
from auditor.model.registry import (
    CATALOG, EC2_ARN_TYPES, FIELD_CALLS, ITEM_TYPES, KIND_CALLS, PLACED_BY, REGISTRY, TYPES, Computed, Field,
    Itself, NoArn, NoVpc, OwnArn, ResourceType, Through, listing,
)
from auditor.model.types import (
    RESOURCE_TYPES, ElasticIp, FlowLog, LoadBalancer, Model, NetworkInterface, PeeringSide, Resource, SecurityGroup,
    SecurityGroupRule, SourceRef, Subnet, TransitGatewayAttachment, Vpc, VpcPeering, VpnGateway,
)
from auditor.rules import attributes
from auditor.rules.scope import placement_unknown, vpcs_of
from auditor.rules.waivers import resource_arn

ENTRIES = pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: e.name)
CALLS = {spec.call for spec in CATALOG}


def _fields(entry: ResourceType) -> set[str]:
    return {f.name for f in dataclasses.fields(entry.model)}


def test_every_model_class_is_registered_once_in_definition_order() -> None:
    assert [e.model for e in REGISTRY] == list(RESOURCE_TYPES.values())
    assert list(TYPES) == list(RESOURCE_TYPES)


def test_the_catalogue_is_the_entries_calls_in_order_each_once() -> None:
    assert catalog.CATALOG is CATALOG and catalog.regional_calls() == CATALOG
    assert CATALOG == tuple(c for e in REGISTRY for c in e.calls)
    assert len(CALLS) == len(CATALOG)
    for entry in REGISTRY:
        assert entry.calls and entry.calls[0].for_each is None, f"{entry.name}: its first call lists it"
        assert all(c.resource_type == entry.name for c in entry.calls)


def test_a_per_resource_call_runs_over_an_earlier_listing_of_its_service() -> None:
    seen: dict[tuple[str, str], str] = {}
    for spec in CATALOG:
        if spec.for_each is not None:
            source = (spec.service, spec.for_each.source)
            assert source in seen, f"{spec.key} runs over {source}, not collected before it"
            assert seen[source] == spec.for_each.items_key, spec.key
        seen[spec.call] = spec.items_key


def test_every_call_is_normalised_folded_in_by_the_build_or_only_lists_what_others_run_over() -> None:
    sources = {(s.service, s.for_each.source) for s in CATALOG if s.for_each is not None}
    for spec in CATALOG:
        roles = [spec.call in NORMALISERS, spec.call in SIDE_HANDLERS,
                 spec.call in sources and spec.call not in NORMALISERS and spec.call not in SIDE_HANDLERS]
        assert roles.count(True) == 1, f"{spec.key}: normalised, side call, source only = {roles}"
    assert set(NORMALISERS) <= CALLS and set(SIDE_HANDLERS) <= CALLS


def test_every_side_call_says_which_fields_it_fills() -> None:
    filling = {call for e in REGISTRY for call in e.filled_by.values()}
    assert set(SIDE_HANDLERS) <= filling


@ENTRIES
def test_filled_fields_exist_and_their_calls_are_collected(entry: ResourceType) -> None:
    for name, call in entry.filled_by.items():
        assert name in _fields(entry), name
        assert call in CALLS, call


@ENTRIES
def test_every_type_says_how_its_vpc_is_found(entry: ResourceType) -> None:
    rule = entry.vpc
    fields = _fields(entry)
    # A VPC field of its own is where its VPC is (a type that says otherwise forgot it).
    for own in ("vpc_id", "attached_vpc_ids"):
        if own in fields:
            assert rule == Field(own), entry.name
    if isinstance(rule, Field):
        assert rule.name in fields
    elif isinstance(rule, Through):
        assert rule.vias
        for via in rule.vias:
            assert via.field in fields and via.type_name in TYPES, via
    elif isinstance(rule, NoVpc):
        assert rule.reason
    else:
        assert isinstance(rule, (Itself, Computed))


@ENTRIES
def test_every_ec2_type_has_an_arn_segment_or_says_why_not(entry: ResourceType) -> None:
    services = {c.service for c in entry.calls}
    if isinstance(entry.arn, str):
        assert services == {"ec2"} and re.fullmatch(r"[a-z][a-z-]*[a-z]", entry.arn), entry.arn
        assert "arn" not in _fields(entry)
    elif isinstance(entry.arn, OwnArn):
        assert "arn" in _fields(entry)
    else:
        assert isinstance(entry.arn, NoArn) and entry.arn.reason


@ENTRIES
def test_a_type_listed_by_several_calls_says_which_lists_each_resource(entry: ResourceType) -> None:
    listings = [c.call for c in entry.calls if c.for_each is None and c.call in entry.base_calls]
    if len(listings) > 1:
        assert entry.listed_by is not None, entry.name
        assert {entry.listed_by.default, *entry.listed_by.calls.values()} == set(listings)
        assert entry.listed_by.field in _fields(entry)
    else:
        assert entry.listed_by is None


def test_derived_tables_come_from_the_entries() -> None:
    assert {t for t, _ in FIELD_CALLS} == {e.name for e in REGISTRY if e.filled_by}
    assert set(ITEM_TYPES) == {s.call for s in CATALOG if s.for_each is not None}
    assert set(KIND_CALLS) == {"load_balancer"} and set(PLACED_BY) == {"security_group_rule", "flow_log", "elastic_ip"}
    assert set(EC2_ARN_TYPES) == {e.name for e in REGISTRY if isinstance(e.arn, str)}
    assert attributes.ITEM_TYPES is ITEM_TYPES and attributes._KIND_CALLS is KIND_CALLS
    # Only the fields another call fills need that call; every other field needs its type's calls.
    assert attributes.field_requires("vpc", "cidr_blocks") == (("ec2", "DescribeVpcs"),)
    assert attributes.field_requires("vpc", "dns_support") == (("ec2", "DescribeVpcs"), ("ec2", "DescribeVpcAttribute"))
    assert attributes.type_calls("eks_cluster") == (("eks", "ListClusters"), ("eks", "DescribeCluster"))
    assert listing("security_group").key == "ec2:DescribeSecurityGroups"


# -- the declared rules, interpreted --------------------------------------------------------

REF = SourceRef("records/x.json", "/pages/0")
ACCT, REGION = "111111111111", "eu-west-1"


def _r(cls: type[Resource], rid: str, **kw: object) -> Resource:
    return cls(id=rid, account=ACCT, region=REGION, source=REF, **kw)  # type: ignore[arg-type]


def _model(*resources: Resource) -> Model:
    by: dict[str, list[Resource]] = {}
    for r in resources:
        by.setdefault(r.type_name, []).append(r)
    return Model(resources={t: tuple(v) for t, v in by.items()})


def test_vpcs_follow_each_kind_of_rule() -> None:
    eni = _r(NetworkInterface, "eni-1", vpc_id="vpc-1")
    sg = _r(SecurityGroup, "sg-1", vpc_id="vpc-2")
    model = _model(_r(Vpc, "vpc-1"), _r(Subnet, "subnet-1", vpc_id="vpc-1"), eni, sg)
    assert vpcs_of(model, _r(Vpc, "vpc-1")) == ("vpc-1",)                                   # itself
    assert vpcs_of(model, eni) == ("vpc-1",)                                               # vpc_id
    assert vpcs_of(model, _r(VpnGateway, "vgw-1", attached_vpc_ids=("vpc-1", "vpc-3"))) == ("vpc-1", "vpc-3")
    assert vpcs_of(model, _r(VpnGateway, "vgw-2")) is None                                 # attached to none
    assert vpcs_of(model, _r(SecurityGroupRule, "sgr-1", group_id="sg-1")) == ("vpc-2",)    # through its group
    assert vpcs_of(model, _r(FlowLog, "fl-1", resource_id="subnet-1")) == ("vpc-1",)        # second via
    assert vpcs_of(model, _r(ElasticIp, "eipalloc-1", instance_id="i-9", network_interface_id="eni-1")) == ("vpc-1",)
    side = PeeringSide(vpc_id="vpc-1", account=ACCT, region=REGION, cidrs=(), ipv6_cidrs=())
    assert vpcs_of(model, _r(VpcPeering, "pcx-1", requester=side)) == ("vpc-1",)             # computed
    assert vpcs_of(model, _r(TransitGatewayAttachment, "tgw-attach-1", resource_type="vpn",
                             resource_id="vpn-1")) is None
    assert vpcs_of(model, _r(LoadBalancer, "lb-1", kind="classic")) is None


def test_placement_is_unknown_only_when_a_named_placer_is_missing() -> None:
    model = _model(_r(Vpc, "vpc-1"))
    assert placement_unknown(model, _r(FlowLog, "fl-1", resource_id="vpc-1")) is None
    assert placement_unknown(model, _r(FlowLog, "fl-2", resource_id="subnet-9")) == (
        "its subnet subnet-9 is not in the model (ec2:DescribeSubnets)")
    assert placement_unknown(model, _r(FlowLog, "fl-3", resource_id="tgw-attach-1")) is None   # no prefix matches
    assert placement_unknown(model, _r(SecurityGroupRule, "sgr-1")) == (
        "its security group (none) is not in the model (ec2:DescribeSecurityGroups)")
    assert placement_unknown(model, _r(ElasticIp, "eipalloc-1")) is None                        # placed by nothing
    assert placement_unknown(model, _r(Subnet, "subnet-1")) is None


def test_arns_come_from_the_segment_or_the_resource() -> None:
    assert resource_arn(_r(Subnet, "subnet-1")) == f"arn:aws:ec2:{REGION}:{ACCT}:subnet/subnet-1"
    assert resource_arn(_r(FlowLog, "fl-1")) == f"arn:aws:ec2:{REGION}:{ACCT}:vpc-flow-log/fl-1"
    assert resource_arn(_r(ElasticIp, "eipalloc-1")) is None
    assert resource_arn(_r(LoadBalancer, "lb", arn="arn:aws:elasticloadbalancing:x")) == "arn:aws:elasticloadbalancing:x"
    assert KIND_CALLS["load_balancer"](_r(LoadBalancer, "lb", kind="classic")) == ("elb", "DescribeLoadBalancers")
    assert KIND_CALLS["load_balancer"](_r(LoadBalancer, "lb", kind="network")) == ("elbv2", "DescribeLoadBalancers")
