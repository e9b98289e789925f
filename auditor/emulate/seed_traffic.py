"""CloudWatch traffic for an estate's NAT gateways and endpoints: what a cost view reads.

A NAT gateway or an Interface / GatewayLoadBalancer endpoint of the estate may carry
``traffic: {monthly_gb: G}``: G GB (1 GB = 2^30 bytes) in a month of `HOURS_PER_MONTH`
hours, spread evenly over the hours. The seeder puts one datapoint per whole hour into
moto's CloudWatch, so that what any window sees can be worked out by hand:

- ``hourly_bytes(G)`` = G x 2^30 / 730, rounded half up to a whole number of bytes;
- the datapoints are stamped at every whole hour from ``H - SEEDED_HOURS`` hours to ``H``,
  both included, where H is the seeding time floored to the hour (`seeded_hours`); each
  stands for the hour that starts at its stamp;
- a GetMetricData window [start, end) (CloudWatch counts a datapoint when start <= stamp
  < end) sees hourly_bytes(G) for each seeded stamp in it: a window of up to 31 days ending
  at the collection time floored to the hour sees all its hours (720 x hourly_bytes(G) for
  30 days) when the collection runs in the hour of the seeding or the next one; later, the
  hours after H have no datapoint (as for a NAT gateway that carried nothing).

NAT gateways (namespace AWS/NATGateway, dimension NatGatewayId): the hourly bytes are
split evenly between the two directions, BytesInFromSource = BytesOutToDestination =
hourly // 2 (uploads) and BytesInFromDestination = BytesOutToSource = the rest (downloads),
so that BytesInFromSource + BytesInFromDestination, the bytes the NAT gateway processed,
is the hourly total. Endpoints (namespace AWS/PrivateLinkEndpoints): BytesProcessed, the
bytes billed to the endpoint's owner, with the dimensions AWS publishes: "VPC Id",
"VPC Endpoint Id", "Endpoint Type" and "Service Name".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from auditor.emulate.seed_context import RegionContext

__all__ = ["HOURS_PER_MONTH", "GIB", "SEEDED_HOURS", "NAT_NAMESPACE", "ENDPOINT_NAMESPACE", "hourly_bytes",
           "seeded_hours", "seed_traffic"]

HOURS_PER_MONTH = 730          # the price table's month
GIB = 2 ** 30                  # AWS bills data in GB of 2^30 bytes
SEEDED_HOURS = 31 * 24         # hours before the seeding hour that get a datapoint (plus that hour)
NAT_NAMESPACE = "AWS/NATGateway"
ENDPOINT_NAMESPACE = "AWS/PrivateLinkEndpoints"
_BATCH = 500                   # datapoints per PutMetricData call (AWS accepts up to 1,000)


def hourly_bytes(monthly_gb: int | float | Decimal) -> int:
    """The bytes of one hour of a traffic of `monthly_gb` GB a month, rounded half up."""
    total = Decimal(str(monthly_gb)) * GIB / HOURS_PER_MONTH
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def seeded_hours(now: dt.datetime) -> tuple[dt.datetime, ...]:
    """The stamps of the datapoints for a seeding at `now` (timezone-aware), oldest first."""
    if now.tzinfo is None:
        raise ValueError("seeded_hours needs a timezone-aware time")
    top = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return tuple(top - dt.timedelta(hours=k) for k in range(SEEDED_HOURS, -1, -1))


def _points(name: str, dimensions: list[dict[str, str]], value: int,
            stamps: tuple[dt.datetime, ...]) -> Iterator[dict[str, Any]]:
    for stamp in stamps:
        yield {"MetricName": name, "Dimensions": dimensions, "Timestamp": stamp, "Value": float(value),
               "Unit": "Bytes"}


def _put(ctx: RegionContext, namespace: str, points: list[dict[str, Any]]) -> None:
    cloudwatch = ctx.client("cloudwatch")
    for i in range(0, len(points), _BATCH):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=points[i:i + _BATCH])


def _nat_points(nat_id: str, traffic: Mapping[str, Any], stamps: tuple[dt.datetime, ...]) -> list[dict[str, Any]]:
    hourly = hourly_bytes(traffic["monthly_gb"])
    up, down = hourly // 2, hourly - hourly // 2
    dims = [{"Name": "NatGatewayId", "Value": nat_id}]
    return [p for name, value in (("BytesInFromSource", up), ("BytesOutToDestination", up),
                                  ("BytesInFromDestination", down), ("BytesOutToSource", down))
            for p in _points(name, dims, value, stamps)]


def seed_traffic(ctx: RegionContext, vpc: Mapping[str, Any], now: dt.datetime) -> None:
    """Put the datapoints of the VPC's NAT gateways and endpoints that carry ``traffic``
    (the VPC and its resources are seeded already)."""
    stamps = seeded_hours(now)
    nat_points: list[dict[str, Any]] = []
    for nat in vpc.get("nat_gateways", []):
        if "traffic" in nat:
            nat_points += _nat_points(ctx.get("nat_gateway", nat["name"]), nat["traffic"], stamps)
    endpoint_points: list[dict[str, Any]] = []
    for endpoint in vpc.get("endpoints", []):
        if "traffic" in endpoint:
            dims = [{"Name": "VPC Id", "Value": ctx.get("vpc", vpc["name"])},
                    {"Name": "VPC Endpoint Id", "Value": ctx.get("vpc_endpoint", endpoint["name"])},
                    {"Name": "Endpoint Type", "Value": endpoint["type"]},
                    {"Name": "Service Name", "Value": ctx.service_name(endpoint["service"])}]
            endpoint_points += _points("BytesProcessed", dims, hourly_bytes(endpoint["traffic"]["monthly_gb"]), stamps)
    if nat_points:
        _put(ctx, NAT_NAMESPACE, nat_points)
    if endpoint_points:
        _put(ctx, ENDPOINT_NAMESPACE, endpoint_points)
