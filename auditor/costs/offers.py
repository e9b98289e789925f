"""A price table made from AWS Price List offer files (`auditor prices refresh`, docs/costs.md).

An offer file is the JSON the AWS Price List Bulk API publishes per service (and per region):
``formatVersion``, ``offerCode``, ``version``, ``publicationDate``, ``products`` (sku ->
``{sku, productFamily, attributes: {regionCode, usagetype, ...}}``) and ``terms`` (``OnDemand``
-> sku -> offerTermCode -> ``{priceDimensions: rateCode -> {unit, beginRange, endRange,
pricePerUnit: {USD}}}``). Prices and ranges are strings ("0.0450000000", "Inf") and are read as
Decimal. The shape was checked against AWS's "Reading the service price list file" page and
published offer excerpts (products with regionCode and usagetype, OnDemand terms with
beginRange/endRange) found with the project's search tool; the pinned moto has no Price List
service to check against.

- NAT gateways are in the AmazonEC2 offer: productFamily "NAT Gateway", usagetype ending in
  ``NatGateway-Hours`` and ``NatGateway-Bytes`` (``USE2-NatGateway-Hours``: the prefix names the
  region and may be absent).
- Interface endpoints are in the AmazonVPC offer: productFamily "VpcEndpoint", usagetype ending
  in ``VpcEndpoint-Hours`` and ``VpcEndpoint-Bytes`` (the latter tiered by beginRange/endRange).
  Gateway Load Balancer endpoints (``VpcEndpoint-GWLBE-...``) and endpoint services end
  otherwise and are not read.
- Gateway endpoints (S3, DynamoDB) have no price line: AWS does not charge them; the table says 0.

A region with two different prices for one usage is refused (which is right cannot be told); a
region the offers price only in part becomes ``no_price`` with what is missing, never a zero.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from auditor.costs.prices import DEFAULT_PRICES, REGION, NoPrice, PriceTable, RegionPrices, Tier
from auditor.errors import InputError, Problem

EC2, VPC = "AmazonEC2", "AmazonVPC"
# usage -> (offer, productFamily, usagetype suffix, unit)
USAGES: Mapping[str, tuple[str, str, str, str]] = {
    "nat_gateway_hour": (EC2, "NAT Gateway", "NatGateway-Hours", "Hrs"),
    "nat_gateway_gb": (EC2, "NAT Gateway", "NatGateway-Bytes", "GB"),
    "interface_endpoint_az_hour": (VPC, "VpcEndpoint", "VpcEndpoint-Hours", "Hrs"),
    "interface_endpoint_gb": (VPC, "VpcEndpoint", "VpcEndpoint-Bytes", "GB"),
}
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
REFRESH_NOTE = ("auditor prices refresh --offer AmazonEC2.json --offer AmazonVPC.json [--from-table FILE] --out FILE "
                "reads the AWS Price List offer files (NAT gateways: the AmazonEC2 offer; VPC endpoints: the "
                "AmazonVPC offer) and writes a table of this format; docs/costs.md")


@dataclass(frozen=True)
class Offer:
    """What one offer file says of the usages above."""

    name: str                 # the file's name (never a path of this machine)
    code: str                 # AmazonEC2 or AmazonVPC
    published: str            # publicationDate as written
    day: str                  # its date, YYYY-MM-DD
    # (region, usage) -> (value, where): a Decimal for hours/flat GB, a tuple of Tiers for tiered GB
    found: dict[tuple[str, str], list[tuple[Decimal | tuple[Tier, ...], str]]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"AWS Price List offer {self.code} ({self.name}, published {self.published})"


def read_offer(path: Path) -> Offer:
    """Read one offer file; anything that is not an AmazonEC2 or AmazonVPC offer is an
    InputError saying what it is not."""
    shown = str(path)

    def fail(message: str, where: str = "", line: int = 0, col: int = 0) -> InputError:
        return InputError([Problem(shown, line, col, where, message)])

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise fail("file not found") from None
    except IsADirectoryError:
        raise fail("is a directory, expected an AWS Price List offer file (JSON)") from None
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror}") from None
    try:
        doc = json.loads(raw.decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 text ({exc.reason}); expected an AWS Price List offer file (JSON)") from None
    except json.JSONDecodeError as exc:
        raise fail(f"not JSON ({exc.msg}); expected an AWS Price List offer file", line=exc.lineno,
                   col=exc.colno) from None
    missing = [k for k in ("formatVersion", "offerCode", "publicationDate", "products", "terms")
               if not isinstance(doc, dict) or k not in doc]
    if missing:
        raise fail(f"not an AWS Price List offer file: no {', '.join(missing)} (an offer file has formatVersion, "
                   "offerCode, publicationDate, products and terms)")
    code, published = doc["offerCode"], doc["publicationDate"]
    if not isinstance(doc["products"], dict) or not isinstance(doc["terms"], dict):
        raise fail("not an AWS Price List offer file: products and terms must be JSON objects")
    if code not in (EC2, VPC):
        raise fail(f"the offer {code!r} has no NAT gateway or VPC endpoint prices: give the {EC2} offer (NAT "
                   f"gateways) and the {VPC} offer (VPC endpoints)", "offerCode")
    try:
        day = datetime.fromisoformat(str(published).replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise fail(f"publicationDate {published!r} is not an ISO 8601 time", "publicationDate") from None
    offer = Offer(path.name, code, str(published), day)
    on_demand = doc["terms"].get("OnDemand", {})
    if not isinstance(on_demand, dict):
        raise fail("terms.OnDemand must be a JSON object", "terms.OnDemand")
    problems: list[Problem] = []
    for sku, product in sorted(doc["products"].items()):
        usage = _usage(code, product)
        if usage is None:
            continue
        where = f"products.{sku}"
        region = _attributes(product).get("regionCode")
        if not isinstance(region, str) or not region:
            problems.append(Problem(shown, 0, 0, where, "no attributes.regionCode: the region of this price "
                                    "cannot be told (an offer file from before regionCode was published?)"))
            continue
        if not REGION.fullmatch(region):   # it becomes a key of the table written: nothing else may
            problems.append(Problem(shown, 0, 0, where + ".attributes.regionCode",
                                    f"{region!r} is not a region name (e.g. eu-west-1)"))
            continue
        terms = on_demand.get(sku)
        if not isinstance(terms, dict) or not terms:
            problems.append(Problem(shown, 0, 0, f"terms.OnDemand.{sku}", f"no on-demand price for {sku} "
                                    f"({_attributes(product).get('usagetype')}, {region})"))
            continue
        for term_code, term in sorted(terms.items()):
            spot = f"terms.OnDemand.{sku}.{term_code}"
            try:
                value = _value(usage, term)
            except ValueError as exc:
                problems.append(Problem(shown, 0, 0, spot, str(exc)))
                continue
            offer.found.setdefault((region, usage), []).append((value, f"sku {sku} in {path.name}"))
    if problems:
        raise InputError(problems)
    return offer


def _usage(code: str, product: Any) -> str | None:
    """Which usage of USAGES a product is, if any."""
    if not isinstance(product, dict):
        return None
    usagetype = str(_attributes(product).get("usagetype", ""))
    for usage, (offer, family, suffix, _unit) in USAGES.items():
        if offer == code and product.get("productFamily") == family and (
                usagetype == suffix or usagetype.endswith("-" + suffix)):
            return usage
    return None


def _attributes(product: Mapping[str, Any]) -> Mapping[str, Any]:
    attributes = product.get("attributes")
    return attributes if isinstance(attributes, dict) else {}


def _decimal(text: Any, what: str) -> Decimal:
    if not isinstance(text, str) or not _NUMBER.fullmatch(text):
        raise ValueError(f"{what} {text!r} is not a decimal number")
    return Decimal(text)


def _value(usage: str, term: Any) -> Decimal | tuple[Tier, ...]:
    """The price of one on-demand term: a Decimal, or the tiers of a tiered per-GB price."""
    dims = term.get("priceDimensions") if isinstance(term, dict) else None
    if not isinstance(dims, dict) or not dims:
        raise ValueError("no priceDimensions")
    unit = USAGES[usage][3]
    steps: list[tuple[Decimal, Decimal | None, Decimal]] = []
    for rate, dim in sorted(dims.items()):
        if not isinstance(dim, dict):
            raise ValueError(f"price dimension {rate} is not a JSON object")
        if dim.get("unit") != unit:
            raise ValueError(f"price dimension {rate} is per {dim.get('unit')!r}, expected per {unit!r}")
        usd = dim.get("pricePerUnit", {}).get("USD") if isinstance(dim.get("pricePerUnit"), dict) else None
        if usd is None:
            raise ValueError(f"price dimension {rate} has no USD price")
        begin = _decimal(dim.get("beginRange", "0"), "beginRange")
        end_text = dim.get("endRange", "Inf")
        end = None if end_text == "Inf" else _decimal(end_text, "endRange")
        steps.append((begin, end, _decimal(usd, "pricePerUnit.USD")))
    steps.sort(key=lambda s: s[0])
    start = Decimal(0)
    for n, (begin, end, _price) in enumerate(steps):
        if begin != start:
            raise ValueError(f"price ranges do not follow on: a range begins at {begin} GB, expected {start}")
        if end is None and n != len(steps) - 1:
            raise ValueError("a price range other than the last has no end (Inf)")
        if end is not None and end <= begin:
            raise ValueError(f"a price range ends at {end}, not after its beginning {begin}")
        start = end if end is not None else start
    if steps[-1][1] is not None:
        raise ValueError(f"the last price range ends at {steps[-1][1]}: above it there would be no price")
    if usage == "interface_endpoint_gb":
        return tuple(Tier(end, price) for _begin, end, price in steps)
    if len(steps) != 1:
        raise ValueError(f"{len(steps)} price ranges for {USAGES[usage][2]}, which has one price")
    return steps[0][2]


def refreshed_table(offers: Sequence[Offer], base: PriceTable | None, regions: Iterable[str]) -> str:
    """The YAML text of a price table (rules/prices format) from `offers`.

    A region every usage of which the offers price gets those prices (source: the offers and
    their publication dates). A region they price in part gets `no_price` naming what is
    missing. A region they do not mention keeps its entry in `base` (the --from-table table),
    else gets `no_price`. `regions` are the regions that must have an entry (every region the
    tool knows). Raises InputError when both offers are not given or a region has two different
    prices for one usage."""
    codes = {o.code for o in offers}
    lacking = [c for c in (EC2, VPC) if c not in codes]
    if lacking:
        given = ", ".join(sorted(o.name for o in offers))
        raise InputError([Problem(given, 0, 0, "", f"no {' or '.join(lacking)} offer among the files given: a "
                                  f"refresh needs the {EC2} offer (NAT gateways) and the {VPC} offer (VPC "
                                  "endpoints)")])
    values, conflicts = _merge(offers)
    if conflicts:
        raise InputError(conflicts)
    mentioned = {region for region, _usage in values}
    entries: dict[str, RegionPrices | NoPrice] = {}
    used: set[str] = set()
    for region in sorted(mentioned):
        have = {usage: values[(region, usage)] for usage in USAGES if (region, usage) in values}
        missing = [usage for usage in USAGES if usage not in have]
        read_from = sorted({o.label for o in offers for key in o.found if key[0] == region})
        if missing:
            names = ", ".join(USAGES[u][2] for u in missing)
            entries[region] = NoPrice(region, f"the offer files given price {region} in part: no {names} "
                                              f"(read: {'; '.join(read_from)})")
            continue
        used.update(read_from)
        srcs = [o for o in offers if any(key[0] == region for key in o.found)]
        entries[region] = RegionPrices(
            region=region, currency="USD", nat_gateway_hour=_flat(have["nat_gateway_hour"]),
            nat_gateway_gb=_flat(have["nat_gateway_gb"]),
            interface_endpoint_az_hour=_flat(have["interface_endpoint_az_hour"]),
            interface_endpoint_gb=_tiers(have["interface_endpoint_gb"]),
            gateway_endpoint_hour=Decimal(0), gateway_endpoint_gb=Decimal(0),
            source="; ".join(read_from), as_of=max(o.day for o in srcs))
    kept = False
    for region in sorted(set(regions) | (set(base.regions) if base else set())):
        if region in entries:
            continue
        if base is not None and region in base.regions:
            entries[region] = base.regions[region]
            kept = True
        else:
            entries[region] = NoPrice(region, "not in the offer files given (" + ", ".join(
                sorted(o.name for o in offers)) + "): refresh from offer files that list it")
    as_of = max(o.day for o in offers)
    source = "AWS Price List offer files: " + "; ".join(sorted(o.label for o in offers))
    if kept and base is not None:
        source += f"; regions the offers do not list: kept from {base.path} (as of {base.as_of})"
    hours = base.hours_per_month if base is not None else Decimal(730)
    return render_table(entries, as_of=as_of, source=source, hours_per_month=hours)


def _merge(offers: Sequence[Offer]) -> tuple[dict[tuple[str, str], Decimal | tuple[Tier, ...]], list[Problem]]:
    """One value per (region, usage) over every offer; a second, different value is a problem."""
    seen: dict[tuple[str, str], tuple[Decimal | tuple[Tier, ...], str]] = {}
    problems: list[Problem] = []
    for offer in offers:
        for (region, usage), found in sorted(offer.found.items()):
            for value, where in found:
                first = seen.setdefault((region, usage), (value, where))
                if first[0] != value:
                    problems.append(Problem(offer.name, 0, 0, region, (
                        f"two different prices for {USAGES[usage][2]} in {region}: {_show(first[0])} ({first[1]}) "
                        f"and {_show(value)} ({where}); which one applies cannot be told, so no table is written")))
    return {key: v for key, (v, _w) in seen.items()}, sorted(set(problems))


def _flat(value: Decimal | tuple[Tier, ...]) -> Decimal:
    assert isinstance(value, Decimal)
    return value


def _tiers(value: Decimal | tuple[Tier, ...]) -> tuple[Tier, ...]:
    assert isinstance(value, tuple)
    return value


def plain(value: Decimal) -> str:
    """A Decimal as a plain decimal without exponent or trailing zeros: 0.0450000000 -> 0.045."""
    return format(value.normalize(), "f")


def _show(value: Decimal | tuple[Tier, ...]) -> str:
    if isinstance(value, Decimal):
        return plain(value)
    return ", ".join(f"{plain(t.per_gb)} up to {plain(t.up_to_gb) if t.up_to_gb is not None else 'no end'}"
                     for t in value)


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def render_table(entries: Mapping[str, RegionPrices | NoPrice], *, as_of: str, source: str,
                 hours_per_month: Decimal) -> str:
    """A price table as YAML text, in the built-in table's layout (regions sorted by name)."""
    lines = [
        "# A price table (format: auditor/schemas/prices.schema.json; docs/costs.md), written by",
        f"# `auditor prices refresh` from AWS Price List offer files. The built-in table is {DEFAULT_PRICES}.",
        "version: 1",
        f"as_of: {as_of}",
        "currency: USD",
        f"hours_per_month: {plain(hours_per_month)}",
        f"source: {_quoted(source)}",
        f"refresh: {_quoted(REFRESH_NOTE)}",
        "regions:",
    ]
    for region in sorted(entries):
        entry = entries[region]
        lines.append(f"  {region}:")
        if isinstance(entry, NoPrice):
            lines.append(f"    no_price: {_quoted(entry.reason)}")
            continue
        lines += [
            f"    source: {_quoted(entry.source)}",
            f"    as_of: {entry.as_of}",
            f"    nat_gateway_hour: {plain(entry.nat_gateway_hour)}",
            f"    nat_gateway_gb: {plain(entry.nat_gateway_gb)}",
            f"    interface_endpoint_az_hour: {plain(entry.interface_endpoint_az_hour)}",
            "    interface_endpoint_gb:",
        ]
        lines += [f"      - {{up_to_gb: {plain(t.up_to_gb) if t.up_to_gb is not None else 'null'}, "
                  f"per_gb: {plain(t.per_gb)}}}" for t in entry.interface_endpoint_gb]
        lines += [f"    gateway_endpoint_hour: {plain(entry.gateway_endpoint_hour)}   # AWS does not charge "
                  "gateway endpoints",
                  f"    gateway_endpoint_gb: {plain(entry.gateway_endpoint_gb)}"]
    return "\n".join(lines) + "\n"
