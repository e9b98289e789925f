"""The price table (issue 18, deliverable 1): the built-in table as data, read exactly and
strictly; its refresh from AWS Price List offer files; `auditor prices show|refresh`.

The offer files here are written by hand in the shape AWS publishes (auditor/costs/offers.py
says where the shape was checked): products keyed by sku with attributes.regionCode and
usagetype, OnDemand terms with priceDimensions, prices and ranges as strings."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.costs.offers import read_offer, refreshed_table
from auditor.costs.prices import DEFAULT_PRICES, NoPrice, RegionPrices, Tier, builtin_prices_path, load_prices
from auditor.errors import InputError
from auditor.partitions import known_regions

REPO = Path(__file__).resolve().parent.parent
PB = Decimal(1048576)   # 1 PB in GB (AWS bills 2^30-byte GB)


# -- the built-in table -----------------------------------------------------------------------

def test_the_builtin_table_is_the_rules_file_named_stably() -> None:
    table = load_prices()
    assert DEFAULT_PRICES == "rules/prices/aws-network.yaml"
    assert table.path == DEFAULT_PRICES
    assert builtin_prices_path().resolve() == (REPO / DEFAULT_PRICES).resolve()
    assert table.sha256 == hashlib.sha256((REPO / DEFAULT_PRICES).read_bytes()).hexdigest()
    assert table.as_of == "2026-12-07"
    assert table.hours_per_month == Decimal(730)
    assert "Price List API" in table.source
    # Given by its path in a checkout, it is still the built-in table.
    assert load_prices(REPO / DEFAULT_PRICES).path == DEFAULT_PRICES


@pytest.mark.parametrize("region, nat, endpoint_hour", [
    ("us-east-1", "0.045", "0.01"), ("us-east-2", "0.045", "0.01"), ("us-west-2", "0.045", "0.01"),
    ("eu-west-1", "0.048", "0.011"),
])
def test_the_builtin_figures_are_exact_decimals(region: str, nat: str, endpoint_hour: str) -> None:
    prices = load_prices().lookup(region)
    assert isinstance(prices, RegionPrices)
    for value in (prices.nat_gateway_hour, prices.nat_gateway_gb, prices.interface_endpoint_az_hour):
        assert isinstance(value, Decimal)
    # Exact: a float on the way would make str() of Decimal(0.045) 0.04499999999999999833...
    assert (str(prices.nat_gateway_hour), str(prices.nat_gateway_gb)) == (nat, nat)
    assert str(prices.interface_endpoint_az_hour) == endpoint_hour
    assert prices.interface_endpoint_gb == (Tier(PB, Decimal("0.01")), Tier(5 * PB, Decimal("0.006")),
                                            Tier(None, Decimal("0.004")))
    assert (prices.gateway_endpoint_hour, prices.gateway_endpoint_gb) == (0, 0)
    assert prices.currency == "USD" and prices.as_of == "2026-12-07"
    assert "https://aws.amazon.com/vpc/pricing/" in prices.source


def test_every_region_the_tool_knows_has_a_row_or_an_explicit_no_price() -> None:
    table = load_prices()
    missing = sorted(known_regions() - set(table.regions))
    assert missing == [], f"add these regions to {DEFAULT_PRICES} (prices or no_price): {missing}"
    for name, entry in table.regions.items():
        assert entry.region == name
        if isinstance(entry, NoPrice):
            assert entry.reason.strip()
    assert {"us-east-1", "eu-west-1"} <= {n for n, e in table.regions.items() if isinstance(e, RegionPrices)}
    # The text says where each no_price comes from: China is priced in CNY, not forgotten.
    cn = table.lookup("cn-north-1")
    assert isinstance(cn, NoPrice) and "CNY" in cn.reason


def test_a_region_not_in_the_table_is_no_price_with_a_reason() -> None:
    entry = load_prices().lookup("xx-nowhere-9")
    assert isinstance(entry, NoPrice)
    assert entry.region == "xx-nowhere-9"
    assert "xx-nowhere-9" in entry.reason and DEFAULT_PRICES in entry.reason and "2026-12-07" in entry.reason


# -- a table of one's own ---------------------------------------------------------------------

GOOD = """\
version: 1
as_of: 2026-11-30
currency: USD
hours_per_month: 730
source: my own figures
refresh: by hand
regions:
  eu-west-1:
    source: negotiated
    as_of: 2026-11-30
    nat_gateway_hour: "0.048"
    nat_gateway_gb: 0.0123456789012345678901
    interface_endpoint_az_hour: 0.011
    interface_endpoint_gb:
      - {up_to_gb: 1048576, per_gb: 0.01}
      - {up_to_gb: null, per_gb: 0.004}
    gateway_endpoint_hour: 0
    gateway_endpoint_gb: 0
  ap-east-2:
    no_price: not negotiated yet
"""


def _write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_user_table_is_named_by_its_file_name_and_read_exactly(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    table = load_prices(path)
    assert table.path == "mine.yaml" and str(tmp_path) not in table.path
    assert table.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    eu = table.lookup("eu-west-1")
    assert isinstance(eu, RegionPrices)
    assert eu.nat_gateway_hour == Decimal("0.048")                                # quoted
    assert eu.nat_gateway_gb == Decimal("0.0123456789012345678901")               # more digits than a float holds
    assert eu.interface_endpoint_gb[-1] == Tier(None, Decimal("0.004"))
    assert table.lookup("ap-east-2") == NoPrice("ap-east-2", "not negotiated yet")
    assert isinstance(table.lookup("us-east-1"), NoPrice)                         # not listed: said, not zero


BAD = [
    ("malformed YAML", ("regions:\n", "regions:\n  [oops\n"), "YAML syntax error", None),
    ("empty file", None, "the file is empty", None),
    ("unknown top key", ("currency: USD", "currency: USD\ncurency: USD"), "unknown key 'curency'", 4),
    ("unknown region key", ("    gateway_endpoint_gb: 0\n", "    gateway_endpoint_gb: 0\n    nat_gw_hour: 1\n"),
     "unknown key 'nat_gw_hour'", 19),
    ("missing field", ('    nat_gateway_hour: "0.048"\n', ""), "missing required key 'nat_gateway_hour'", 9),
    ("missing header", ("refresh: by hand\n", ""), "missing required key 'refresh'", 1),
    ("negative price", ("interface_endpoint_az_hour: 0.011", "interface_endpoint_az_hour: -0.011"),
     "a price is a plain decimal number of 0 or more", 13),
    ("non-numeric price", ("interface_endpoint_az_hour: 0.011", "interface_endpoint_az_hour: cheap"),
     "a price is a plain decimal number of 0 or more", 13),
    ("boolean price", ("gateway_endpoint_gb: 0", "gateway_endpoint_gb: false"),
     "a price is a plain decimal number of 0 or more", 18),
    ("price not plain", ("interface_endpoint_az_hour: 0.011", "interface_endpoint_az_hour: .011"),
     "'.011' is not a plain decimal number", 13),
    ("infinite price", ("interface_endpoint_az_hour: 0.011", "interface_endpoint_az_hour: .inf"),
     "'.inf' is not a plain decimal number", 13),
    ("tiers not ascending", ("{up_to_gb: null, per_gb: 0.004}", "{up_to_gb: 1000, per_gb: 0.004}\n"
                             "      - {up_to_gb: null, per_gb: 0.002}"), "tiers must ascend: 1000 GB", 16),
    ("last tier closed", ("{up_to_gb: null, per_gb: 0.004}", "{up_to_gb: 5242880, per_gb: 0.004}"),
     "the last tier must be open", 16),
    ("open tier in the middle", ("{up_to_gb: 1048576, per_gb: 0.01}", "{up_to_gb: null, per_gb: 0.01}"),
     "only the last tier may be open", 15),
    ("no tiers", ("    interface_endpoint_gb:\n      - {up_to_gb: 1048576, per_gb: 0.01}\n"
                  "      - {up_to_gb: null, per_gb: 0.004}\n", "    interface_endpoint_gb: []\n"),
     "must not be empty", 14),
    ("priced and no_price", ("    gateway_endpoint_gb: 0\n", "    gateway_endpoint_gb: 0\n    no_price: why not\n"),
     "either priced or has no_price, not both", 9),
    ("impossible date", ("    as_of: 2026-11-30", "    as_of: 2026-02-30"), "'2026-02-30' is not a date", 10),
    ("date in another format", ("as_of: 2026-11-30\ncurrency", "as_of: 30/11/2026\ncurrency"),
     "a date is YYYY-MM-DD", 2),
    ("other currency", ("currency: USD", "currency: EUR"), 'must be "USD"', 3),
    ("zero hours a month", ("hours_per_month: 730", "hours_per_month: 0"), "must be more than 0", 4),
    ("bad region name", ("  ap-east-2:", "  Asia Pacific:"), "'Asia Pacific' is not a region name", 19),
    ("duplicate region", ("  ap-east-2:\n    no_price: not negotiated yet\n",
                          "  ap-east-2:\n    no_price: a\n  ap-east-2:\n    no_price: b\n"),
     "duplicate key 'ap-east-2'", 21),
    ("no regions", None, "should be non-empty", 7),
]


@pytest.mark.parametrize("change, message, line", [(c, m, n) for _name, c, m, n in BAD],
                         ids=[name for name, *_ in BAD])
def test_a_bad_table_is_refused_at_its_line(tmp_path: Path, change: tuple[str, str] | None, message: str,
                                            line: int | None) -> None:
    if change is None:
        text = "" if message == "the file is empty" else GOOD.split("regions:")[0] + "regions: {}\n"
    else:
        assert GOOD.count(change[0]) == 1, change[0]
        text = GOOD.replace(change[0], change[1])
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_prices(path)
    problems = caught.value.problems
    hits = [p for p in problems if message in p.message]
    assert hits, [p.render() for p in problems]
    assert all(p.file == str(path) for p in problems)
    if line is not None:
        assert hits[0].line == line, hits[0].render()


def test_an_unreadable_table_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_prices(tmp_path / "absent.yaml")
    (tmp_path / "latin1.yaml").write_bytes(b"version: 1\nsource: caf\xe9\n")
    with pytest.raises(InputError, match="not UTF-8"):
        load_prices(tmp_path / "latin1.yaml")


def test_the_builtin_table_validates_against_its_published_schema() -> None:
    import jsonschema
    import yaml

    from auditor.validation import load_schema, schema_view

    data = schema_view(yaml.safe_load((REPO / DEFAULT_PRICES).read_text(encoding="utf-8")))
    jsonschema.Draft202012Validator(load_schema("prices")).validate(data)


# -- offer files ------------------------------------------------------------------------------

def _product(sku: str, family: str, region: str, usagetype: str) -> dict[str, Any]:
    return {"sku": sku, "productFamily": family,
            "attributes": {"servicecode": "x", "regionCode": region, "usagetype": usagetype, "operation": "x"}}


def _term(sku: str, *dims: tuple[str, str, str, str]) -> dict[str, Any]:
    """An OnDemand term: dims are (unit, beginRange, endRange, USD)."""
    code = f"{sku}.JRTCKXETXF"
    return {code: {"offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
                   "priceDimensions": {f"{code}.{n}": {"rateCode": f"{code}.{n}", "description": "hand-written",
                                                       "beginRange": b, "endRange": e, "unit": u,
                                                       "pricePerUnit": {"USD": usd}, "appliesTo": []}
                                       for n, (u, b, e, usd) in enumerate(dims)},
                   "termAttributes": {}}}


def _offer(code: str, published: str, items: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    return {"formatVersion": "v1.0", "disclaimer": "hand-written test offer", "offerCode": code,
            "version": published[:10].replace("-", "") + "000000", "publicationDate": published,
            "products": {p["sku"]: p for p, _t in items}, "terms": {"OnDemand": {p["sku"]: t for p, t in items}}}


def ec2_offer() -> dict[str, Any]:
    return _offer("AmazonEC2", "2026-11-20T18:00:00Z", [
        (_product("NATH1", "NAT Gateway", "us-east-1", "NatGateway-Hours"), _term("NATH1", ("Hrs", "0", "Inf", "0.0450000000"))),
        (_product("NATB1", "NAT Gateway", "us-east-1", "NatGateway-Bytes"), _term("NATB1", ("GB", "0", "Inf", "0.0450000000"))),
        (_product("NATH2", "NAT Gateway", "eu-west-1", "EU-NatGateway-Hours"), _term("NATH2", ("Hrs", "0", "Inf", "0.0480000000"))),
        (_product("NATB2", "NAT Gateway", "eu-west-1", "EU-NatGateway-Bytes"), _term("NATB2", ("GB", "0", "Inf", "0.0480000000"))),
        (_product("NATH3", "NAT Gateway", "ap-south-1", "APS3-NatGateway-Hours"), _term("NATH3", ("Hrs", "0", "Inf", "0.0560000000"))),
        (_product("INST1", "Compute Instance", "us-east-1", "BoxUsage:m5.large"), _term("INST1", ("Hrs", "0", "Inf", "0.0960000000"))),
    ])


def _tiered(sku: str, first: str) -> dict[str, Any]:
    return _term(sku, ("GB", "0", "1048576", first), ("GB", "1048576", "5242880", "0.0060000000"),
                 ("GB", "5242880", "Inf", "0.0040000000"))


def vpc_offer() -> dict[str, Any]:
    return _offer("AmazonVPC", "2026-11-25T09:30:00Z", [
        (_product("VPCEH1", "VpcEndpoint", "us-east-1", "VpcEndpoint-Hours"), _term("VPCEH1", ("Hrs", "0", "Inf", "0.0100000000"))),
        # The tiers in AWS's own order need not be ascending in the file.
        (_product("VPCEB1", "VpcEndpoint", "us-east-1", "USE1-VpcEndpoint-Bytes"), _tiered("VPCEB1", "0.0100000000")),
        (_product("VPCEH2", "VpcEndpoint", "eu-west-1", "EU-VpcEndpoint-Hours"), _term("VPCEH2", ("Hrs", "0", "Inf", "0.0110000000"))),
        (_product("VPCEB2", "VpcEndpoint", "eu-west-1", "EU-VpcEndpoint-Bytes"), _tiered("VPCEB2", "0.0100000000")),
        # Gateway Load Balancer endpoints are another price: not read, so no conflict.
        (_product("GWLBE1", "VpcEndpoint", "us-east-1", "VpcEndpoint-GWLBE-Hours"), _term("GWLBE1", ("Hrs", "0", "Inf", "0.0250000000"))),
    ])


def _dump(tmp_path: Path, name: str, doc: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def _refresh(tmp_path: Path, ec2: Any, vpc: Any, base: Path | None = None, regions: frozenset[str] | None = None):
    offers = [read_offer(_dump(tmp_path, "ec2.json", ec2)), read_offer(_dump(tmp_path, "vpc.json", vpc))]
    text = refreshed_table(offers, load_prices(base) if base else None,
                           known_regions() if regions is None else regions)
    return text, load_prices(_write(tmp_path, text, "refreshed.yaml"))


def test_refresh_reads_the_offer_files_into_a_table_of_the_same_format(tmp_path: Path) -> None:
    text, table = _refresh(tmp_path, ec2_offer(), vpc_offer())
    assert str(tmp_path) not in text                           # no path of this machine
    us = table.lookup("us-east-1")
    assert isinstance(us, RegionPrices)
    assert (us.nat_gateway_hour, us.nat_gateway_gb, us.interface_endpoint_az_hour) == (
        Decimal("0.045"), Decimal("0.045"), Decimal("0.01"))
    assert us.interface_endpoint_gb == (Tier(PB, Decimal("0.01")), Tier(5 * PB, Decimal("0.006")),
                                        Tier(None, Decimal("0.004")))
    assert (us.gateway_endpoint_hour, us.gateway_endpoint_gb) == (0, 0)
    assert "AmazonEC2 (ec2.json, published 2026-11-20T18:00:00Z)" in us.source
    assert "AmazonVPC (vpc.json, published 2026-11-25T09:30:00Z)" in us.source
    assert us.as_of == "2026-11-25" and table.as_of == "2026-11-25"
    eu = table.lookup("eu-west-1")
    assert isinstance(eu, RegionPrices) and eu.interface_endpoint_az_hour == Decimal("0.011")
    assert "nat_gateway_hour: 0.048\n" in text                 # written plainly, as a reviewer reads it
    # A region the offers price in part: no_price saying what is missing, never a zero.
    partial = table.lookup("ap-south-1")
    assert isinstance(partial, NoPrice)
    assert "VpcEndpoint-Hours" in partial.reason and "VpcEndpoint-Bytes" in partial.reason
    assert "NatGateway-Bytes" in partial.reason and "NatGateway-Hours" not in partial.reason.split("(read")[0]
    # A known region the offers do not list: no_price, and every known region has its row.
    other = table.lookup("sa-east-1")
    assert isinstance(other, NoPrice) and "not in the offer files given" in other.reason
    assert known_regions() <= set(table.regions)


def test_refresh_keeps_the_base_tables_entries_for_regions_the_offers_do_not_list(tmp_path: Path) -> None:
    _text, table = _refresh(tmp_path, ec2_offer(), vpc_offer(), base=REPO / DEFAULT_PRICES)
    kept = table.lookup("us-west-2")
    assert kept == load_prices().lookup("us-west-2")           # figures, source and date as they were
    assert isinstance(table.lookup("us-east-1"), RegionPrices)
    assert "vpc.json" in table.lookup("us-east-1").source      # type: ignore[union-attr]
    assert f"kept from {DEFAULT_PRICES}" in table.source


def test_two_different_prices_for_one_usage_are_refused(tmp_path: Path) -> None:
    ec2 = ec2_offer()
    ec2["products"]["NATH9"] = _product("NATH9", "NAT Gateway", "us-east-1", "NatGateway-Hours")
    ec2["terms"]["OnDemand"]["NATH9"] = _term("NATH9", ("Hrs", "0", "Inf", "0.0500000000"))
    with pytest.raises(InputError) as caught:
        _refresh(tmp_path, ec2, vpc_offer())
    message = caught.value.problems[0].message
    assert "two different prices for NatGateway-Hours in us-east-1" in message
    assert "0.045" in message and "0.05" in message and "NATH9" in message


def test_the_same_price_twice_is_no_conflict(tmp_path: Path) -> None:
    ec2 = ec2_offer()
    ec2["products"]["NATH9"] = _product("NATH9", "NAT Gateway", "us-east-1", "NatGateway-Hours")
    ec2["terms"]["OnDemand"]["NATH9"] = _term("NATH9", ("Hrs", "0", "Inf", "0.045"))
    _text, table = _refresh(tmp_path, ec2, vpc_offer())
    assert table.lookup("us-east-1").nat_gateway_hour == Decimal("0.045")  # type: ignore[union-attr]


def test_conflicting_tiers_across_two_offer_files_are_refused(tmp_path: Path) -> None:
    other = vpc_offer()
    other["terms"]["OnDemand"]["VPCEB1"] = _tiered("VPCEB1", "0.0090000000")
    offers = [read_offer(_dump(tmp_path, "ec2.json", ec2_offer())), read_offer(_dump(tmp_path, "vpc.json", vpc_offer())),
              read_offer(_dump(tmp_path, "vpc-us-east-1.json", other))]
    with pytest.raises(InputError, match="two different prices for VpcEndpoint-Bytes in us-east-1"):
        refreshed_table(offers, None, known_regions())


@pytest.mark.parametrize("doc, message", [
    ({"formatVersion": "v1.0", "products": {}}, "not an AWS Price List offer file: no offerCode, publicationDate, terms"),
    ([1, 2, 3], "not an AWS Price List offer file"),
    ({"version": "1", "publicationDate": "2026-01-01T00:00:00Z", "regionCode": "us-east-1", "products": [],
      "terms": {"savingsPlan": []}}, "not an AWS Price List offer file: no formatVersion, offerCode"),
    ({**_offer("AmazonS3", "2026-11-01T00:00:00Z", [])}, "'AmazonS3' has no NAT gateway or VPC endpoint prices"),
    ({**_offer("AmazonEC2", "last tuesday", [])}, "publicationDate 'last tuesday' is not an ISO 8601 time"),
])
def test_a_file_that_is_not_an_offer_file_is_refused(tmp_path: Path, doc: Any, message: str) -> None:
    with pytest.raises(InputError) as caught:
        read_offer(_dump(tmp_path, "thing.json", doc))
    assert message in caught.value.problems[0].message, caught.value


def test_a_file_that_is_not_json_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "offer.json"
    path.write_text('{\n  "offerCode": "AmazonEC2",\n  oops\n}\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_offer(path)
    problem = caught.value.problems[0]
    assert "not JSON" in problem.message and problem.line == 3


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t["NATB1.JRTCKXETXF"]["priceDimensions"]["NATB1.JRTCKXETXF.0"].update(unit="Hrs"), "expected per 'GB'"),
    (lambda t: t["NATB1.JRTCKXETXF"]["priceDimensions"]["NATB1.JRTCKXETXF.0"].update(pricePerUnit={"CNY": "0.3"}),
     "has no USD price"),
    (lambda t: t["NATB1.JRTCKXETXF"]["priceDimensions"]["NATB1.JRTCKXETXF.0"].update(pricePerUnit={"USD": "-1"}),
     "is not a decimal number"),
    (lambda t: t["NATB1.JRTCKXETXF"]["priceDimensions"]["NATB1.JRTCKXETXF.0"].update(endRange="100"),
     "the last price range ends at 100"),
    (lambda t: t["NATB1.JRTCKXETXF"].update(priceDimensions={}), "no priceDimensions"),
])
def test_a_broken_price_in_an_offer_is_refused(tmp_path: Path, mutate: Any, message: str) -> None:
    ec2 = ec2_offer()
    mutate(ec2["terms"]["OnDemand"]["NATB1"])
    with pytest.raises(InputError) as caught:
        read_offer(_dump(tmp_path, "ec2.json", ec2))
    assert any(message in p.message for p in caught.value.problems), caught.value
    assert caught.value.problems[0].path.startswith("terms.OnDemand.NATB1")


def test_tiers_with_a_gap_are_refused(tmp_path: Path) -> None:
    vpc = vpc_offer()
    vpc["terms"]["OnDemand"]["VPCEB1"] = _term("VPCEB1", ("GB", "0", "1048576", "0.01"), ("GB", "2000000", "Inf", "0.004"))
    with pytest.raises(InputError, match="do not follow on: a range begins at 2000000 GB, expected 1048576"):
        read_offer(_dump(tmp_path, "vpc.json", vpc))


def test_a_product_without_a_region_code_is_refused(tmp_path: Path) -> None:
    ec2 = ec2_offer()
    del ec2["products"]["NATH1"]["attributes"]["regionCode"]
    with pytest.raises(InputError, match="no attributes.regionCode"):
        read_offer(_dump(tmp_path, "ec2.json", ec2))


def test_a_refresh_needs_both_offers(tmp_path: Path) -> None:
    offers = [read_offer(_dump(tmp_path, "ec2.json", ec2_offer()))]
    with pytest.raises(InputError, match="no AmazonVPC offer among the files given"):
        refreshed_table(offers, None, known_regions())


# -- the command line -------------------------------------------------------------------------

def test_prices_show_prints_figures_with_source_and_date() -> None:
    out = CliRunner().invoke(cli, ["prices", "show"])
    assert out.exit_code == 0, out.output
    assert f"price table {DEFAULT_PRICES} as of 2026-12-07" in out.output
    assert "eu-west-1: as of 2026-12-07, source: https://aws.amazon.com/vpc/pricing/" in out.output
    assert "NAT gateway          0.048 USD per hour, 0.048 per GB processed" in out.output
    assert "cn-north-1: no price: " in out.output
    one = CliRunner().invoke(cli, ["prices", "show", "--region", "us-east-1"])
    assert one.exit_code == 0
    assert "0.01 up to 1048576 GB, 0.006 up to 5242880 GB, 0.004 above" in one.output
    assert "eu-west-1" not in one.output
    gap = CliRunner().invoke(cli, ["prices", "show", "--region", "ap-east-2"])
    assert gap.exit_code == 0 and "ap-east-2: no price: not in the default table" in gap.output


def test_prices_show_refuses_an_unknown_region_and_a_bad_table(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["prices", "show", "--region", "us-eats-1"])
    assert out.exit_code == 2
    assert "unknown region us-eats-1 (did you mean 'us-east-1'?)" in out.stderr
    bad = _write(tmp_path, GOOD.replace("currency: USD", "currency: USD\ncurency: USD"))
    out = CliRunner().invoke(cli, ["prices", "show", "--table", str(bad)])
    assert out.exit_code == 2
    assert f"{bad}:4:1  curency: unknown key 'curency'" in out.stderr
    mine = CliRunner().invoke(cli, ["prices", "show", "--table", str(_write(tmp_path, GOOD, "own.yaml"))])
    assert mine.exit_code == 0 and "price table own.yaml as of 2026-11-30" in mine.output
    assert "ap-east-2: no price: not negotiated yet" in mine.output


def test_prices_refresh_writes_a_table_that_show_reads(tmp_path: Path) -> None:
    ec2, vpc = _dump(tmp_path, "ec2.json", ec2_offer()), _dump(tmp_path, "vpc.json", vpc_offer())
    out_file = tmp_path / "prices.yaml"
    run = CliRunner().invoke(cli, ["prices", "refresh", "--offer", str(ec2), "--offer", str(vpc),
                                   "--from-table", str(REPO / DEFAULT_PRICES), "--out", str(out_file)])
    assert run.exit_code == 0, run.output
    assert "regions priced" in run.stderr
    assert not (tmp_path / "prices.yaml.partial").exists()
    table = load_prices(out_file)
    assert table.lookup("us-west-2") == load_prices().lookup("us-west-2")
    shown = CliRunner().invoke(cli, ["prices", "show", "--table", str(out_file), "--region", "eu-west-1"])
    assert shown.exit_code == 0 and "AmazonVPC (vpc.json, published 2026-11-25T09:30:00Z)" in shown.output


def test_prices_refresh_refuses_bad_offers_and_writes_nothing(tmp_path: Path) -> None:
    ec2 = _dump(tmp_path, "ec2.json", ec2_offer())
    junk = _dump(tmp_path, "junk.json", {"hello": "world"})
    out_file = tmp_path / "prices.yaml"
    run = CliRunner().invoke(cli, ["prices", "refresh", "--offer", str(ec2), "--offer", str(junk), "--out", str(out_file)])
    assert run.exit_code == 2
    assert "not an AWS Price List offer file" in run.stderr and "nothing was written" in run.stderr
    assert not out_file.exists()
    conflict = ec2_offer()
    conflict["terms"]["OnDemand"]["NATH1"] = _term("NATH1", ("Hrs", "0", "Inf", "0.5"))
    vpc = _dump(tmp_path, "vpc.json", vpc_offer())
    run = CliRunner().invoke(cli, ["prices", "refresh", "--offer", str(ec2), "--offer",
                                   str(_dump(tmp_path, "ec2b.json", conflict)), "--offer", str(vpc), "--out", str(out_file)])
    assert run.exit_code == 2 and "two different prices" in run.stderr
    assert not out_file.exists()
    run = CliRunner().invoke(cli, ["prices", "refresh", "--offer", str(ec2), "--offer", str(vpc), "--out", str(ec2)])
    assert run.exit_code == 2 and "is the offer file" in run.stderr
    assert json.loads(ec2.read_text()) == ec2_offer()


def test_prices_refresh_exits_6_when_the_table_cannot_be_written(tmp_path: Path) -> None:
    ec2, vpc = _dump(tmp_path, "ec2.json", ec2_offer()), _dump(tmp_path, "vpc.json", vpc_offer())
    out_file = tmp_path / "no-such-folder" / "prices.yaml"
    run = CliRunner().invoke(cli, ["prices", "refresh", "--offer", str(ec2), "--offer", str(vpc), "--out", str(out_file)])
    assert run.exit_code == 6, run.output
    assert "could not write" in run.stderr
    assert not out_file.parent.exists()



def test_a_hostile_region_code_never_reaches_the_table(tmp_path: Path) -> None:
    """A regionCode becomes a key of the YAML written: one that could add lines is refused."""
    ec2 = ec2_offer()
    ec2["products"]["NATH1"]["attributes"]["regionCode"] = "us-east-1:\n    no_price: injected\n  eu-west-1"
    with pytest.raises(InputError) as caught:
        read_offer(_dump(tmp_path, "ec2.json", ec2))
    assert "is not a region name" in caught.value.problems[0].message
    assert caught.value.problems[0].path == "products.NATH1.attributes.regionCode"


def test_the_publication_date_is_read_as_a_date(tmp_path: Path) -> None:
    vpc = vpc_offer()
    vpc["publicationDate"] = "20261125T093000Z"          # ISO 8601's basic format
    _text, table = _refresh(tmp_path, ec2_offer(), vpc)
    assert table.lookup("us-east-1").as_of == "2026-11-25"  # type: ignore[union-attr]


def test_prices_show_prints_hostile_text_inert(tmp_path: Path) -> None:
    hostile = GOOD.replace("no_price: not negotiated yet", 'no_price: "ok\\e[2J\\nFAKE LINE"').replace(
        "source: negotiated", 'source: "\\e]0;title\\a"')
    out = CliRunner().invoke(cli, ["prices", "show", "--table", str(_write(tmp_path, hostile))])
    assert out.exit_code == 0, out.output
    assert "\x1b" not in out.output and "\x07" not in out.output
    assert "ok\\x1b[2J\\x0aFAKE LINE" in out.output and "\\x1b]0;title\\x07" in out.output
    assert "\nFAKE LINE" not in out.output
