"""The price table: what NAT gateways and VPC endpoints cost per region, with where each
figure comes from and when it was read (docs/costs.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Tier:
    """One step of a per-GB price: `per_gb` for the GB of a month up to `up_to_gb` (None: no end)."""

    up_to_gb: Decimal | None
    per_gb: Decimal


@dataclass(frozen=True)
class RegionPrices:
    """On-demand list prices of one region, in `currency`."""

    region: str
    currency: str
    nat_gateway_hour: Decimal            # per NAT gateway-hour
    nat_gateway_gb: Decimal              # per GB processed by a NAT gateway
    interface_endpoint_az_hour: Decimal  # per interface endpoint, per availability zone, per hour
    interface_endpoint_gb: tuple[Tier, ...]   # per GB processed, tiered on the month's volume
    gateway_endpoint_hour: Decimal       # gateway endpoints (S3, DynamoDB): 0
    gateway_endpoint_gb: Decimal         # 0
    source: str                          # where the figures were read (URL or offer file and its publication date)
    as_of: str                           # ISO date the figures were read


@dataclass(frozen=True)
class NoPrice:
    """A region the table has no price for, and why (never a price of zero)."""

    region: str
    reason: str


@dataclass(frozen=True)
class PriceTable:
    path: str              # the table's file as findings.json names it (never a path of this machine)
    sha256: str            # of the file's bytes
    as_of: str             # ISO date of the table as a whole
    source: str
    hours_per_month: Decimal   # 730, AWS's own monthly figure
    regions: Mapping[str, RegionPrices | NoPrice]

    def lookup(self, region: str) -> RegionPrices | NoPrice:
        """The region's prices; a region the table does not list is a `NoPrice` saying so."""
        found = self.regions.get(region)
        if found is None:
            return NoPrice(region, f"{region} is not in the price table {self.path} (as of {self.as_of})")
        return found
