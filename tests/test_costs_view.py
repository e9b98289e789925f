"""The per-VPC cost view (auditor/costs/view.py; findings.json `network_costs`, issue 18).

The acceptance test: one VPC with a NAT gateway in each of 3 AZs, 2 TB/month through them, 7
required interface endpoints, in us-east-1 and in eu-west-1: every figure equals a hand
calculation written out here (from the prices, the bytes and the window, not from the code).
Then what is unknown (traffic not collected or failed, a NAT without a datapoint, a region
without a price, no rule requiring endpoints) is null with a note, never zero; a deleted NAT
costs nothing; an egress VPC reached over a transit gateway is found; the section is
deterministic, valid against the schema, and the console says it in a few lines."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.bundle import INPUTS, PRICES, copy_inputs
from auditor.config import Scope
from auditor.costs.prices import NoPrice, PriceTable, RegionPrices, Tier
from auditor.costs.traffic import FAILED, MEASURED, NOT_COLLECTED, RegionTraffic
from auditor.costs.view import cost_section, not_collected, not_computed, required_interface_services
from auditor.findings import Finding, ResourceRef
from auditor.model import build_model
from auditor.model.types import Model
from auditor.rules.fixtures import Case, records_for
from auditor.rules.packs import load_packs
from auditor.scan import cost_lines, prepare
from auditor.snapshot.records import CallRecord
from test_reachability import model_of, tgw_estate

ACCOUNT = "111111111111"
SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "auditor" / "schemas" /
                     "findings.schema.json").read_text(encoding="utf-8"))
REQUIRED = ("ecr.api", "ecr.dkr", "kms", "logs", "sqs", "ssm", "sts")   # 7 services
PRESENT = ("kms", "sqs")
WINDOW_HOURS = 720          # 30 days of CloudWatch
MONTH_GB = {"nat-a": 1024, "nat-b": 512, "nat-c": 512}   # 2048 GB = 2 TB a month in all
GIB = 2 ** 30
EVERYTHING = Scope()


def bytes_in_window(month_gb: int) -> int:
    """What CloudWatch measures over the window for `month_gb` GB a month (whole bytes)."""
    return round(Decimal(month_gb * GIB) * WINDOW_HOURS / 730)


def tiers() -> tuple[Tier, ...]:
    return (Tier(Decimal(1024 * 1024), Decimal("0.01")), Tier(Decimal(5 * 1024 * 1024), Decimal("0.006")),
            Tier(None, Decimal("0.004")))


REGIONS = {
    "us-east-1": RegionPrices("us-east-1", "USD", Decimal("0.045"), Decimal("0.045"), Decimal("0.01"), tiers(),
                              Decimal(0), Decimal(0), "https://aws.amazon.com/vpc/pricing/", "2026-12-07"),
    "eu-west-1": RegionPrices("eu-west-1", "USD", Decimal("0.048"), Decimal("0.048"), Decimal("0.011"), tiers(),
                              Decimal(0), Decimal(0), "https://aws.amazon.com/vpc/pricing/", "2026-12-07"),
    "ap-east-2": NoPrice("ap-east-2", "ap-east-2 has no published price in the table's source"),
}


def table(**more: RegionPrices | NoPrice) -> PriceTable:
    return PriceTable("rules/prices/aws-network.yaml", "ab" * 32, "2026-12-07", "AWS price list",
                      Decimal(730), {**REGIONS, **more})


def estate(region: str, *, nat_state: str = "available") -> Model:
    return build_model(estate_records(region, nat_state=nat_state))


def estate_records(region: str, *, nat_state: str = "available") -> list[CallRecord]:
    """One VPC: three public subnets with a NAT gateway each, three private subnets (one per
    AZ) with a workload each, routed to their AZ's NAT; 2 of the 7 required endpoints."""
    azs = [f"{region}{z}" for z in "abc"]
    subnets, tables, nats, enis = [], [], [], []
    for i, (z, az) in enumerate(zip("abc", azs, strict=True)):
        subnets += [{"SubnetId": f"subnet-pub-{z}", "VpcId": "vpc-app", "CidrBlock": f"10.0.{i}.0/24",
                     "AvailabilityZone": az},
                    {"SubnetId": f"subnet-priv-{z}", "VpcId": "vpc-app", "CidrBlock": f"10.0.{10 + i}.0/24",
                     "AvailabilityZone": az}]
        tables.append({"RouteTableId": f"rtb-priv-{z}", "VpcId": "vpc-app", "Associations": [
            {"SubnetId": f"subnet-priv-{z}"}], "Routes": [
            {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
            {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": f"nat-{z}", "State": "active"}]})
        nats.append({"NatGatewayId": f"nat-{z}", "VpcId": "vpc-app", "SubnetId": f"subnet-pub-{z}",
                     "State": nat_state if z == "c" else "available"})
        enis.append({"NetworkInterfaceId": f"eni-{z}", "SubnetId": f"subnet-priv-{z}", "VpcId": "vpc-app",
                     "InterfaceType": "interface", "Description": "app server"})
    tables.append({"RouteTableId": "rtb-pub", "VpcId": "vpc-app", "Associations": [
        {"SubnetId": f"subnet-pub-{z}"} for z in "abc"], "Routes": [
        {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]})
    calls = {
        "ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-app", "CidrBlock": "10.0.0.0/16",
                                       "Tags": [{"Key": "Name", "Value": "app"}]}]},
        "ec2:DescribeSubnets": {"Subnets": subnets},
        "ec2:DescribeRouteTables": {"RouteTables": tables},
        "ec2:DescribeInternetGateways": {"InternetGateways": [
            {"InternetGatewayId": "igw-1", "Attachments": [{"VpcId": "vpc-app", "State": "available"}]}]},
        "ec2:DescribeNatGateways": {"NatGateways": nats},
        "ec2:DescribeNetworkInterfaces": {"NetworkInterfaces": enis},
        "ec2:DescribeVpcEndpoints": {"VpcEndpoints": [
            {"VpcEndpointId": f"vpce-{s}", "VpcId": "vpc-app", "VpcEndpointType": "Interface", "State": "available",
             "ServiceName": f"com.amazonaws.{region}.{s}"} for s in PRESENT]},
    }
    return records_for(Case("TEST", "estate", "-", 0, calls, region=region))


def measured(account: str, region: str) -> RegionTraffic:
    return RegionTraffic(account, region, MEASURED, window_start="2026-11-07T00:00:00Z",
                         window_end="2026-12-07T00:00:00Z", window_hours=WINDOW_HOURS,
                         nat_bytes={n: bytes_in_window(gb) for n, gb in MONTH_GB.items()})


def section(model: Model, *, traffic: Any = measured, required: tuple[str, ...] | None = REQUIRED,
            findings: tuple[Finding, ...] = (), scope: Scope = EVERYTHING, prices: PriceTable | None = None,
            collected: bool = True) -> dict[str, Any]:
    return cost_section(model, findings, scope, prices or table(), required, traffic, traffic_collected=collected,
                        window_days=30 if collected else None)


def only(sec: dict[str, Any], vpc: str = "vpc-app") -> dict[str, Any]:
    found = [v for v in sec["vpcs"] if v["vpc"] == vpc]
    assert len(found) == 1, [v["vpc"] for v in sec["vpcs"]]
    return found[0]


def cents(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# -- the acceptance test --------------------------------------------------------------------

# The hand check of /work's brief, to the cent (docs/findings.md, "network_costs").
HAND = {
    "us-east-1": {"nat_hours": "98.55", "nat_processing": "92.16", "nat_total": "190.71", "ep_hours": "153.30",
                  "ep_processing": "20.48", "ep_total": "173.78", "break_even": "625.71"},
    "eu-west-1": {"nat_hours": "105.12", "nat_processing": "98.30", "nat_total": "203.42", "ep_hours": "168.63",
                  "ep_processing": "20.48", "ep_total": "189.11", "break_even": "633.95"},
}
HAND_PRICES = {   # NAT per hour, NAT per GB, endpoint per AZ-hour, endpoint per GB (first PB)
    "us-east-1": (Decimal("0.045"), Decimal("0.045"), Decimal("0.01"), Decimal("0.01")),
    "eu-west-1": (Decimal("0.048"), Decimal("0.048"), Decimal("0.011"), Decimal("0.01")),
}


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_three_nats_two_terabytes_seven_endpoints_match_the_hand_calculation(region: str) -> None:
    nat_h, nat_gb, ep_azh, ep_gb = HAND_PRICES[region]
    hours, nats, azs, services = Decimal(730), 3, 3, 7
    # Each NAT's bytes over the 720-hour window, scaled to a 730-hour month, in GB of 2^30 bytes.
    month_gb = sum(Decimal(bytes_in_window(gb)) / GIB * hours / WINDOW_HOURS for gb in MONTH_GB.values())
    assert cents(month_gb) == "2048.00"
    want = {
        "nat_hours": nats * hours * nat_h,                      # 3 x 730 x 0.045 = 98.55
        "nat_processing": month_gb * nat_gb,                    # 2048 x 0.045 = 92.16
        "ep_hours": services * azs * hours * ep_azh,            # 7 x 3 x 730 x 0.01 = 153.30
        "ep_processing": month_gb * ep_gb,                      # 2048 x 0.01 (all in the first tier) = 20.48
        "break_even": (azs * hours * ep_azh) / (nat_gb - ep_gb),   # 21.90 / 0.035 = 625.71
    }
    want["nat_total"] = want["nat_hours"] + want["nat_processing"]
    want["ep_total"] = want["ep_hours"] + want["ep_processing"]
    assert {k: cents(v) for k, v in want.items()} == HAND[region]   # the hand figures, to the cent

    v = only(section(estate(region)))
    got = {"nat_hours": v["nat"]["hours"], "nat_processing": v["nat"]["processing"], "nat_total": v["nat"]["total"],
           "ep_hours": v["endpoints"]["hours"], "ep_processing": v["endpoints"]["processing"],
           "ep_total": v["endpoints"]["total"]}
    assert got == {k: x for k, x in HAND[region].items() if k != "break_even"}
    assert v["break_even"] == [{"service": s, "monthly_gb": HAND[region]["break_even"], "note": ""} for s in REQUIRED]
    assert v["nat"]["monthly_gb"] == "2048.00"
    assert v["availability_zones"] == [f"{region}a", f"{region}b", f"{region}c"]
    assert v["endpoints"]["required"] == list(REQUIRED)
    assert v["endpoints"]["present"] == list(PRESENT)
    assert v["endpoints"]["missing"] == ["ecr.api", "ecr.dkr", "logs", "ssm", "sts"]
    assert v["endpoints"]["missing_hours"] == cents(5 * azs * hours * ep_azh)
    per_gw = {g["id"]: g for g in v["nat"]["gateways"]}
    assert per_gw["nat-a"]["monthly_gb"] == "1024.00" and per_gw["nat-a"]["hours"] == cents(hours * nat_h)
    assert per_gw["nat-a"]["processing"] == cents(1024 * nat_gb)
    assert [g["availability_zone"] for g in v["nat"]["gateways"]] == [f"{region}{z}" for z in "abc"]
    assert v["egress_via_nat"] == [{"nat": f"nat-{z}", "vpc": "vpc-app", "account": ACCOUNT, "region": region}
                                   for z in "abc"]
    assert v["priced"] is True and v["in_scope"] is True and v["name"] == "app"
    assert any("first tier" in n for n in v["notes"])   # AWS tiers on the region's whole volume


def test_the_endpoint_tiers_apply_above_the_first_tier() -> None:
    """A price table whose first tier ends at 1000 GB: 2048 GB = 1000 x 0.01 + 1048 x 0.006."""
    short = (Tier(Decimal(1000), Decimal("0.01")), Tier(None, Decimal("0.006")))
    prices = table(**{"us-east-1": replace(REGIONS["us-east-1"], interface_endpoint_gb=short)})  # type: ignore[arg-type]
    v = only(section(estate("us-east-1"), prices=prices))
    assert v["endpoints"]["processing"] == cents(Decimal(1000) * Decimal("0.01") + Decimal(1048) * Decimal("0.006"))
    assert v["endpoints"]["processing"] == "16.29"


# -- unknown is never zero ------------------------------------------------------------------

def _assert_processing_unknown(v: dict[str, Any], words: str) -> None:
    assert v["nat"]["hours"] == "105.12"                 # the hours are still known
    for key in ("processing", "total", "monthly_gb"):
        assert v["nat"][key] is None, key
    assert v["endpoints"]["hours"] == "168.63"
    assert v["endpoints"]["processing"] is None and v["endpoints"]["total"] is None
    assert all(g["processing"] is None and g["total"] is None and words in g["reason"] for g in v["nat"]["gateways"])
    assert any(words in n for n in v["notes"])
    assert "0.00" not in json.dumps({k: v["nat"][k] for k in ("processing", "total")})


def test_traffic_not_collected_is_unknown_processing_never_zero() -> None:
    sec = section(estate("eu-west-1"), traffic=not_collected(), collected=False)
    v = only(sec)
    assert v["traffic"]["status"] == NOT_COLLECTED
    _assert_processing_unknown(v, "traffic not collected")
    assert sec["traffic"] == {"collected": False, "window_days": None, "note": (
        "traffic not collected (costs.traffic is off): processing costs are unknown, hours only")}


def test_access_denied_on_getmetricdata_is_unknown_processing_never_zero() -> None:
    why = "GetMetricData failed: AccessDenied: not authorized to perform cloudwatch:GetMetricData"
    sec = section(estate("eu-west-1"), traffic=lambda a, r: RegionTraffic(a, r, FAILED, why))
    v = only(sec)
    assert v["traffic"] == {"status": FAILED, "reason": why, "window_start": "", "window_end": "", "window_hours": 0}
    _assert_processing_unknown(v, "AccessDenied")
    assert "unknown in 111111111111/eu-west-1" in sec["traffic"]["note"]
    # the console names the cause, not only that something is unknown
    lines = cost_lines({"network_costs": sec})
    assert lines[-1] == f"  traffic unknown in 111111111111/eu-west-1: {why}"
    assert "NAT unknown (hours 105.12 + processing unknown)" in lines[0]


def test_a_nat_without_a_datapoint_leaves_the_sums_unknown() -> None:
    def partial(account: str, region: str) -> RegionTraffic:
        t = measured(account, region)
        return replace(t, nat_bytes={**t.nat_bytes, "nat-b": None})
    v = only(section(estate("eu-west-1"), traffic=partial))
    gw = {g["id"]: g for g in v["nat"]["gateways"]}
    assert gw["nat-a"]["processing"] == "49.15" and gw["nat-b"]["processing"] is None
    assert "no datapoint for nat-b" in gw["nat-b"]["reason"]
    assert v["nat"]["processing"] is None and v["nat"]["total"] is None and v["nat"]["monthly_gb"] is None
    assert v["endpoints"]["processing"] is None


def test_a_region_without_a_price_has_every_money_field_null() -> None:
    v = only(section(estate("ap-east-2")))
    assert v["priced"] is False
    assert v["price_note"] == "ap-east-2 has no published price in the table's source"
    money = [v["nat"][k] for k in ("hours", "processing", "total")]
    money += [g[k] for g in v["nat"]["gateways"] for k in ("hours", "processing", "total")]
    money += [v["endpoints"][k] for k in ("hours", "processing", "total", "missing_hours")]
    money += [b["monthly_gb"] for b in v["break_even"]]
    assert money and all(m is None for m in money)
    assert v["nat"]["monthly_gb"] == "2048.00"      # the traffic is known, its price is not
    assert any(n.startswith("no price for ap-east-2") for n in v["notes"])


def test_a_region_missing_from_the_table_is_said() -> None:
    prices = PriceTable("my-prices.yaml", "cd" * 32, "2026-01-01", "mine", Decimal(730), {})
    v = only(section(estate("eu-west-1"), prices=prices))
    assert v["priced"] is False and "eu-west-1 is not in the price table my-prices.yaml" in v["price_note"]
    assert v["nat"]["total"] is None


# -- what costs nothing, what is not known to be required ------------------------------------

@pytest.mark.parametrize("state", ["deleted", "failed", "deleting"])
def test_a_deleted_or_failed_nat_costs_nothing_and_is_said(state: str) -> None:
    v = only(section(estate("us-east-1", nat_state=state)))
    gw = {g["id"]: g for g in v["nat"]["gateways"]}
    assert (gw["nat-c"]["hours"], gw["nat-c"]["processing"], gw["nat-c"]["total"]) == ("0.00", "0.00", "0.00")
    assert "costs nothing" in gw["nat-c"]["reason"]
    assert any(n.startswith("nat-c: ") and "costs nothing" in n for n in v["notes"])
    # two running NATs: 2 x 730 x 0.045 and (1024 + 512) GB x 0.045
    assert v["nat"]["hours"] == cents(2 * Decimal(730) * Decimal("0.045")) == "65.70"
    assert v["nat"]["monthly_gb"] == "1536.00"
    assert v["nat"]["processing"] == cents(Decimal(1536) * Decimal("0.045"))


def test_no_rule_requiring_endpoints_leaves_endpoint_money_null() -> None:
    v = only(section(estate("us-east-1"), required=None))
    assert v["endpoints"] == {"required": [], "present": list(PRESENT), "missing": [], "hours": None,
                              "processing": None, "total": None, "missing_hours": None}
    assert v["break_even"] == []
    assert any(n.startswith("no required endpoints known") for n in v["notes"])
    assert v["nat"]["total"] == "190.71"     # NAT's own cost does not depend on it


def test_the_required_services_are_the_run_rules_bound_list() -> None:
    packs = load_packs()
    assert required_interface_services(packs.rules) == tuple(sorted(
        packs.parameter("endpoints", "required_interface_services").value))
    bound = packs.with_overrides({"endpoints": {"required_interface_services": list(REQUIRED)}})
    assert required_interface_services(bound.rules) == REQUIRED
    assert required_interface_services(r for r in bound.rules if r.id != "VE-001") is None


def test_a_vpc_out_of_scope_without_nat_is_not_listed_and_one_with_nat_has_no_endpoint_view() -> None:
    sec = section(estate("us-east-1"), scope=Scope(vpc_ids=frozenset({"vpc-other"})))
    v = only(sec)
    assert v["in_scope"] is False and v["nat"]["total"] == "190.71"
    assert v["endpoints"]["required"] == [] and v["endpoints"]["hours"] is None and v["break_even"] == []


def test_no_vpc_is_not_computed_and_no_price_table_is_said() -> None:
    sec = section(build_model(records_for(Case("TEST", "estate", "-", 0, {}))))
    assert sec["status"] == "not_computed" and sec["vpcs"] == [] and "no VPC" in sec["reason"]
    assert not_computed("no price table") == {"status": "not_computed", "reason": "no price table"}


def test_break_even_is_null_when_nat_processing_costs_no_more() -> None:
    cheap = replace(REGIONS["us-east-1"], nat_gateway_gb=Decimal("0.01"))
    v = only(section(estate("us-east-1"), prices=table(**{"us-east-1": cheap})))  # type: ignore[arg-type]
    assert all(b["monthly_gb"] is None and "no break-even" in b["note"] for b in v["break_even"])


def test_workload_azs_else_the_subnets_azs_in_a_note() -> None:
    records = [r for r in estate_records("us-east-1") if r.operation != "DescribeNetworkInterfaces"]
    records += [r for r in records_for(Case("TEST", "estate", "-", 0, {}, region="us-east-1"))
                if r.operation == "DescribeNetworkInterfaces"]   # answered, empty: no workload
    v = only(section(build_model(records)))
    assert v["availability_zones"] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert any("no workload interface" in n for n in v["notes"])
    assert not any("no workload interface" in n for n in only(section(estate("us-east-1")))["notes"])


# -- an egress VPC reached over a transit gateway --------------------------------------------

def egress_estate() -> Model:
    """tests/test_reachability.py's central egress estate (spoke vpc-a -> tgw-1 -> vpc-egress's
    nat-9 -> igw-4), its subnets in eu-west-1a."""
    calls = tgw_estate()
    for s in calls["ec2:DescribeSubnets"]["Subnets"]:
        s["AvailabilityZone"] = "eu-west-1a"
    return model_of(calls)


def test_a_spokes_egress_nat_in_an_egress_vpc_over_a_transit_gateway_counts() -> None:
    model = egress_estate()
    traffic = lambda a, r: RegionTraffic(a, r, MEASURED, window_hours=730,  # noqa: E731
                                         nat_bytes={"nat-9": 100 * GIB})
    sec = section(model, traffic=traffic, scope=Scope(vpc_ids=frozenset({"vpc-a"})))
    assert [v["vpc"] for v in sec["vpcs"]] == ["vpc-a", "vpc-egress"]   # in scope, and the VPC with a NAT
    spoke, egress = only(sec, "vpc-a"), only(sec, "vpc-egress")
    assert spoke["egress_via_nat"] == [{"nat": "nat-9", "vpc": "vpc-egress", "account": ACCOUNT,
                                        "region": "eu-west-1"}]
    assert spoke["nat"]["gateways"] == [] and spoke["nat"]["hours"] == "0.00"
    assert spoke["endpoints"]["processing"] is None      # nat-9 does not split its bytes by source VPC
    assert any("does not split its traffic by source VPC" in n for n in spoke["notes"])
    assert egress["in_scope"] is False and egress["endpoints"]["hours"] is None
    assert egress["nat"]["total"] == cents(Decimal(730) * Decimal("0.048") + 100 * Decimal("0.048"))


def test_gateway_endpoint_gaps_link_the_findings_and_the_nat_processing_at_stake() -> None:
    model = estate("eu-west-1")
    fail = lambda sid, item, status="FAIL": Finding(  # noqa: E731
        "VE-007", "info", status, ResourceRef("subnet", sid, ACCOUNT, "eu-west-1"), "only through NAT", item=item,
        paths=("subnet.gateway_endpoint_services",))
    findings = (fail("subnet-priv-a", "s3"), fail("subnet-priv-b", "s3"), fail("subnet-priv-a", "dynamodb"),
                fail("subnet-priv-c", "s3", "PASS"))
    v = only(section(model, findings=findings))
    gaps = {g["service"]: g for g in v["gateway_endpoint_gaps"]}
    assert list(gaps) == ["dynamodb", "s3"]
    assert gaps["s3"]["subnets"] == ["subnet-priv-a", "subnet-priv-b"]
    assert gaps["s3"]["findings"] == sorted([findings[0].fingerprint, findings[1].fingerprint])
    # nat-a (1024 GB) and nat-b (512 GB) a month at 0.048 per GB: all their processing
    assert gaps["s3"]["nat_processing_at_stake"] == cents(Decimal(1536) * Decimal("0.048")) == "73.73"
    assert gaps["dynamodb"]["nat_processing_at_stake"] == cents(Decimal(1024) * Decimal("0.048"))
    assert "upper bound" in gaps["s3"]["note"] and "does not split" in gaps["s3"]["note"]
    unknown = only(section(model, findings=findings, traffic=not_collected(), collected=False))
    assert all(g["nat_processing_at_stake"] is None and "unknown" in g["note"]
               for g in unknown["gateway_endpoint_gaps"])


# -- deterministic, valid, and said on the console -------------------------------------------

def test_two_runs_and_any_record_order_give_the_same_section() -> None:
    model = egress_estate()
    one = json.dumps(section(model), sort_keys=True)
    again = json.dumps(section(egress_estate()), sort_keys=True)
    reordered = build_model(list(reversed(estate_records("eu-west-1"))))
    assert one == again
    assert json.dumps(section(reordered), sort_keys=True) == json.dumps(section(estate("eu-west-1")),
                                                                           sort_keys=True)


def _validator() -> jsonschema.protocols.Validator:
    schema = {**SCHEMA, "required": ["network_costs"],
              "properties": {"network_costs": SCHEMA["properties"]["network_costs"]}}
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("make", [
    lambda: section(estate("eu-west-1")),
    lambda: section(estate("ap-east-2")),
    lambda: section(estate("us-east-1"), traffic=not_collected(), collected=False, required=None),
    lambda: section(egress_estate(), scope=Scope(vpc_ids=frozenset({"vpc-a"}))),
    lambda: not_computed("no price table"),
])
def test_the_section_is_valid_against_the_schema(make: Any) -> None:
    _validator().validate({"network_costs": make()})


@pytest.mark.parametrize("bad", ["190.7", "190", "-1.00", "1e3", 190.71, 0])
def test_the_schema_refuses_money_that_is_not_two_decimals(bad: Any) -> None:
    sec = section(estate("eu-west-1"))
    broken = copy.deepcopy(sec)
    broken["vpcs"][0]["nat"]["total"] = bad
    with pytest.raises(jsonschema.ValidationError):
        _validator().validate({"network_costs": broken})


def test_the_schema_wants_every_field_of_a_computed_section() -> None:
    sec = section(estate("eu-west-1"))
    del sec["vpcs"]
    with pytest.raises(jsonschema.ValidationError, match="vpcs"):
        _validator().validate({"network_costs": sec})


def test_console_lines_say_each_vpcs_figures_and_what_is_unknown() -> None:
    lines = cost_lines({"network_costs": section(estate("eu-west-1"))})
    assert lines == ["  cost: vpc-app app (111111111111, eu-west-1): NAT 203.42 USD/month (hours 105.12 + processing 98.30); "
                     "required endpoints 189.11 USD/month (hours 168.63; 5 of 7 missing); "
                     "break-even 633.95 GB/month per service"]
    off = cost_lines({"network_costs": section(estate("eu-west-1"), traffic=not_collected(), collected=False)})
    assert off == ["  cost: vpc-app app (111111111111, eu-west-1): NAT unknown (hours 105.12 + processing unknown); "
                   "required endpoints unknown (hours 168.63, processing unknown; 5 of 7 missing); "
                   "break-even 633.95 GB/month per service",
                   "  traffic not collected (costs.traffic is off): processing costs are unknown, hours only"]
    assert cost_lines({"network_costs": not_computed("no price table")}) == []
    assert cost_lines({}) == []


def test_console_lines_are_capped_for_large_runs_and_safe() -> None:
    sec = section(estate("eu-west-1"))
    one = sec["vpcs"][0]
    sec["vpcs"] = [{**one, "vpc": f"vpc-{i:03d}\x1b[31m"} for i in range(25)]
    lines = cost_lines({"network_costs": sec})
    assert len(lines) == 11 and lines[-1] == "  ... and 15 more VPCs (see network_costs in findings.json)"
    assert not any("\x1b" in line for line in lines)


def test_without_a_price_table_the_scan_writes_why() -> None:
    inputs = replace(prepare(None), prices=None)
    from auditor.scan import costs_section
    from auditor.rules.engine import evaluate_rules
    from datetime import date

    model = estate("eu-west-1")
    evaluation = evaluate_rules(model, inputs.packs, Scope(), today=date(2026, 12, 7))
    assert costs_section(model, evaluation, inputs) == {"status": "not_computed", "reason": "no price table"}
    got = costs_section(model, evaluation, replace(inputs, prices=table()))
    v = only(got)
    assert v["endpoints"]["required"] == sorted(
        inputs.packs.parameter("endpoints", "required_interface_services").value)
    assert v["traffic"]["status"] == NOT_COLLECTED and v["nat"]["processing"] is None


def test_the_bundle_keeps_a_price_table_of_the_runs_own(tmp_path: Path) -> None:
    own = tmp_path / "my-prices.yaml"
    own.write_text("prices: mine\n", encoding="utf-8")
    out = tmp_path / "out"
    copy_inputs(out, None, replace(prepare(None), prices_file=own))
    assert (out / INPUTS / PRICES / "my-prices.yaml").read_bytes() == own.read_bytes()
    copy_inputs(out, None, prepare(None))   # the built-in table: nothing kept
    assert prepare(None).prices is not None and prepare(None).prices_file is None
    assert not (out / INPUTS).exists()


def test_a_scan_writes_the_section_valid_after_the_findings_and_the_same_twice(tmp_path: Path) -> None:
    """evaluate_snapshot with a price table: the whole findings.json validates, its first key
    is still `findings` (the streaming readers' layout), and a second evaluation (what `auditor
    verify` does) gives the same bytes."""
    from auditor.findings_text import iter_findings, load_without_findings
    from auditor.results import dumps
    from auditor.scan import evaluate_snapshot
    from auditor.snapshot.reader import load_snapshot
    from auditor.snapshot.writer import SnapshotWriter

    writer = SnapshotWriter(tmp_path / "snap")
    for rec in estate_records("eu-west-1"):
        writer.add(rec)
    writer.finish({"started": "2026-12-07T10:00:00Z", "finished": "2026-12-07T10:01:00Z", "regions": ["eu-west-1"],
                   "accounts": [{"id": ACCOUNT, "name": "costs", "regions": ["eu-west-1"]}],
                   "config": {"digest": "sha256:x"}})
    snap = load_snapshot(tmp_path / "snap")
    inputs = replace(prepare(None), prices=table(), traffic=lambda model, a, r: measured(a, r),
                     traffic_collected=True, traffic_window_days=30)
    text = dumps(evaluate_snapshot(snap, inputs))
    assert text == dumps(evaluate_snapshot(load_snapshot(tmp_path / "snap"), inputs))
    assert text.startswith('{\n "findings": [\n')
    document = json.loads(text)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert only(document["network_costs"])["nat"]["total"] == "203.42"
    raw = text.encode("utf-8")
    assert load_without_findings(raw)["network_costs"] == document["network_costs"]
    assert len(list(iter_findings(raw))) == len(document["findings"])
    without = json.loads(dumps(evaluate_snapshot(snap, replace(prepare(None), prices=None))))
    assert without["network_costs"] == {"status": "not_computed", "reason": "no price table"}
    from auditor.scan import summary_lines
    lines = summary_lines(document, "high")
    cost = [line for line in lines if line.startswith("  cost: ")]
    assert cost == cost_lines(document) and len(cost) == 1
    assert "NAT 203.42 USD/month" in cost[0] and lines.index(cost[0]) == len(lines) - 2   # just before the verdict
    assert not any("cost" in line for line in summary_lines(without, "high"))


@pytest.mark.parametrize(("change", "words"), [
    ({"window_hours": 0}, "the traffic window has no hours"),
    ({"nat_bytes": {"nat-a": -5, "nat-b": 1, "nat-c": 1}}, "is not a count"),
    ({"nat_bytes": {"nat-a": "12", "nat-b": 1, "nat-c": 1}}, "is not a count"),
    ({"nat_bytes": {"nat-b": 1, "nat-c": 1}}, "no datapoint for nat-a"),
])
def test_a_traffic_value_that_is_not_a_measure_is_unknown_with_its_reason(change: dict[str, Any], words: str) -> None:
    v = only(section(estate("eu-west-1"), traffic=lambda a, r: replace(measured(a, r), **change)))
    assert v["nat"]["processing"] is None and v["nat"]["total"] is None
    assert any(words in g["reason"] for g in v["nat"]["gateways"])
    _validator().validate({"network_costs": section(estate("eu-west-1"),
                                                    traffic=lambda a, r: replace(measured(a, r), **change))})


@pytest.mark.parametrize("failed", ["ec2:DescribeNatGateways", "ec2:DescribeVpcEndpoints",
                                    "ec2:DescribeNetworkInterfaces"])
def test_a_listing_that_failed_is_unknown_never_none(failed: str) -> None:
    """AccessDenied on a listing: what depends on it is null with a note, never 0 or "all missing"."""
    records = [r for r in estate_records("us-east-1") if f"{r.service}:{r.operation}" != failed]
    records += [r for r in records_for(Case("TEST", "estate", "-", 0, {}, failed=(failed,), region="us-east-1"))
                if f"{r.service}:{r.operation}" == failed]
    v = only(section(build_model(records), scope=Scope(vpc_ids=frozenset({"vpc-app"}))))
    if failed == "ec2:DescribeNatGateways":
        assert v["nat"]["gateways"] == [] and v["nat"]["hours"] is None and v["nat"]["total"] is None
        assert any("NAT gateways of 111111111111/us-east-1 could not be listed" in n and "AccessDenied" in n
                   for n in v["notes"])
    elif failed == "ec2:DescribeVpcEndpoints":
        assert v["endpoints"]["missing"] == [] and v["endpoints"]["missing_hours"] is None
        assert v["endpoints"]["hours"] == "153.30"     # what the required ones cost does not depend on it
        assert any("VPC endpoints of 111111111111/us-east-1 could not be listed" in n for n in v["notes"])
    else:
        assert v["availability_zones"] == ["us-east-1a", "us-east-1b", "us-east-1c"]
        assert any("network interfaces could not be listed" in n for n in v["notes"])


def test_paths_that_could_not_be_followed_make_egress_a_lower_bound() -> None:
    calls = tgw_estate(spokes_collected=False)
    for s in calls["ec2:DescribeSubnets"]["Subnets"]:
        s["AvailabilityZone"] = "eu-west-1a"
    spoke = only(section(model_of(calls), scope=Scope(vpc_ids=frozenset({"vpc-a"}))), "vpc-a")
    assert spoke["egress_via_nat"] == []
    assert any("are a lower bound" in n for n in spoke["notes"])
    assert not any("lower bound" in n for n in only(section(egress_estate()), "vpc-a")["notes"])


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_the_built_in_price_table_gives_the_hand_figures(region: str) -> None:
    from auditor.costs.prices import load_prices

    v = only(section(estate(region), prices=load_prices(None)))
    assert (v["nat"]["total"], v["endpoints"]["total"]) == (HAND[region]["nat_total"], HAND[region]["ep_total"])
    assert {b["monthly_gb"] for b in v["break_even"]} == {HAND[region]["break_even"]}


def test_auditor_verify_re_derives_the_section_from_the_bundles_own_price_table(tmp_path: Path) -> None:
    """A run's own price table is kept in inputs/prices/ and `auditor verify` re-derives the section
    from it; without the copy the built-in table gives other figures, and verify says so."""
    from auditor.bundle import write_bundle, write_scan_bundle
    from auditor.bundle_verify import verify_bundle
    from auditor.costs.prices import builtin_prices_path, load_prices
    from auditor.scan import evaluate_snapshot, write_findings
    from auditor.snapshot.reader import load_snapshot
    from auditor.snapshot.writer import SnapshotWriter

    writer = SnapshotWriter(tmp_path / "out" / "snapshot")
    for rec in estate_records("eu-west-1"):
        writer.add(rec)
    writer.finish({"started": "2026-12-07T10:00:00Z", "finished": "2026-12-07T10:01:00Z", "regions": ["eu-west-1"],
                   "accounts": [{"id": ACCOUNT, "name": "costs", "regions": ["eu-west-1"]}],
                   "config": {"digest": "sha256:x"}})
    own = tmp_path / "elsewhere" / "negotiated.yaml"
    own.parent.mkdir()
    text = builtin_prices_path().read_text(encoding="utf-8")
    assert "    nat_gateway_hour: 0.048\n" in text
    own.write_text(text.replace("    nat_gateway_hour: 0.048\n", "    nat_gateway_hour: 0.040\n"), encoding="utf-8")
    inputs = replace(prepare(None), prices=load_prices(own), prices_file=own)
    out = tmp_path / "out"
    document = evaluate_snapshot(load_snapshot(out / "snapshot"), inputs)
    write_findings(document, out)
    write_scan_bundle(out, out / "snapshot", None, inputs)
    recorded = json.loads((out / "findings.json").read_text(encoding="utf-8"))["network_costs"]
    assert recorded["prices"]["file"] == "negotiated.yaml"
    assert only(recorded)["nat"]["hours"] == cents(3 * Decimal(730) * Decimal("0.040"))
    assert (out / INPUTS / PRICES / "negotiated.yaml").read_bytes() == own.read_bytes()
    result = verify_bundle(out)
    assert result.ok, result

    (out / INPUTS / PRICES / "negotiated.yaml").unlink()
    (out / INPUTS / PRICES).rmdir()
    write_bundle(out)                 # a consistent bundle without the copy: the built-in table is used
    result = verify_bundle(out)
    assert not result.ok and "network_costs" in str(result), result
