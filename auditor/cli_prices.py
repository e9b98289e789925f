"""The `auditor prices` command group: show the price table, refresh it from AWS Price List
offer files (docs/costs.md, "Price table").

Registered in auditor/cli.py with ``cli.add_command(prices)``. Exit codes follow the CLI's
contract: 0 done, 2 a table or offer file with problems (each one listed) or an unknown region,
6 `refresh --out` could not be written (no half file is left).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from auditor.cli_common import EXIT_INPUT, fail_input, write_whole
from auditor.console import echo, safe
from auditor.costs.prices import NoPrice, PriceTable, RegionPrices, load_prices
from auditor.errors import InputError


def _fail(exc: InputError) -> NoReturn:
    fail_input(exc, "; nothing was written")


def _table(path: Path | None) -> PriceTable:
    try:
        return load_prices(path)
    except InputError as exc:
        fail_input(exc)


@click.group("prices")
def prices() -> None:
    """Show the price table; refresh it from AWS Price List offer files."""


@prices.command("show")
@click.option("--table", "table_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A price table of your own (YAML, the format of rules/prices/aws-network.yaml) instead of the "
                   "built-in one.")
@click.option("--region", "region", default=None, help="Show only this region.")
def show_cmd(table_path: Path | None, region: str | None) -> None:
    """The table's figures, each region with its source and date (a region without a price: why)."""
    table = _table(table_path)
    if region is not None:
        from auditor.partitions import known_regions
        from auditor.validation import did_you_mean

        if region not in table.regions and region not in known_regions():
            echo(f"error: unknown region {safe(region)}{did_you_mean(region, set(table.regions) | known_regions())}",
                 err=True)
            sys.exit(EXIT_INPUT)
    echo("\n".join(table_lines(table, region)))


def table_lines(table: PriceTable, region: str | None = None) -> list[str]:
    """The table as text for people: its header, then one block per region (or only `region`)."""
    out = [f"price table {safe(table.path)} as of {safe(table.as_of)} (sha256 {table.sha256})",
           f"source: {safe(table.source)}",
           f"currency USD, {table.hours_per_month} hours a month"]
    names = [region] if region is not None else sorted(table.regions)
    for name in names:
        out += region_lines(table.lookup(name))
    return out


def region_lines(entry: RegionPrices | NoPrice) -> list[str]:
    """One region's prices, with their source and date; or that it has none, and why."""
    if isinstance(entry, NoPrice):
        return [f"{safe(entry.region)}: no price: {safe(entry.reason)}"]
    tiers = ", ".join(f"{t.per_gb} up to {t.up_to_gb} GB" if t.up_to_gb is not None else f"{t.per_gb} above"
                      for t in entry.interface_endpoint_gb)
    return [f"{safe(entry.region)}: as of {safe(entry.as_of)}, source: {safe(entry.source)}",
            f"  NAT gateway          {entry.nat_gateway_hour} {entry.currency} per hour, "
            f"{entry.nat_gateway_gb} per GB processed",
            f"  interface endpoint   {entry.interface_endpoint_az_hour} {entry.currency} per endpoint per AZ-hour; "
            f"per GB processed in a month: {tiers}",
            f"  gateway endpoint     {entry.gateway_endpoint_hour} per hour, {entry.gateway_endpoint_gb} per GB"]


@prices.command("refresh")
@click.option("--offer", "offers", multiple=True, required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="An AWS Price List offer file (JSON): the AmazonEC2 offer (NAT gateways) and the AmazonVPC offer "
                   "(VPC endpoints), whole or per region (repeatable).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The price table to write (YAML); written whole or not at all.")
@click.option("--from-table", "from_table", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keep this table's entries for the regions the offer files do not list (e.g. "
                   "rules/prices/aws-network.yaml).")
def refresh_cmd(offers: tuple[Path, ...], out: Path, from_table: Path | None) -> None:
    """Write a price table made from AWS Price List offer files."""
    from auditor.costs.offers import read_offer, refreshed_table
    from auditor.costs.prices import prices_from_text
    from auditor.partitions import known_regions

    for offer in offers:
        if _same(out, offer):
            echo(f"error: --out {safe(out)} is the offer file {safe(offer)}: choose another file (nothing was "
                 "written)", err=True)
            sys.exit(EXIT_INPUT)
    base = _table(from_table) if from_table is not None else None
    try:
        read = [read_offer(p) for p in offers]
        text = refreshed_table(read, base, known_regions())
        table = prices_from_text(text, str(out), name=out.name)   # what is written reads back
    except InputError as exc:
        _fail(exc)
    write_whole(out, text)   # whole or not at all (exit 6)
    priced = sum(1 for e in table.regions.values() if isinstance(e, RegionPrices))
    echo(f"wrote {safe(out)}: {priced} region{'s' if priced != 1 else ''} priced, "
         f"{len(table.regions) - priced} without a price (as of {table.as_of})", err=True)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
