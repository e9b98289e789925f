"""The optional traffic call (costs.traffic): CloudWatch GetMetricData for NAT gateways and
interface endpoints, as data both the collector and the model read.

`TRAFFIC` is the call's `CallSpec`. It is not a call of the resource registry (no resource
type is listed by it, and it is made only when the config's ``costs.traffic`` is on): the
collector's catalogue declares it as an optional regional call
(`auditor.collect.catalog.OPTIONAL_CALLS`), so that the read-only guard, the IAM policy and
the docs include it. It is planned from the items of two EC2 listings of the same
account-region (`FromListings`): one query per metric and resource, at most
`MAX_QUERIES` per call. Each query asks the metric's Sum over one period that is the whole
window, so that CloudWatch answers (at most) one value per query.

The window is fixed by the run (`window`): it ends at the run's start floored to the hour
(UTC), and starts `window_days` before. A resumed run keeps its first start
(`auditor.collect.runner.Collector.prepare_resume`), and so its window.

Queries are named ``nat<i>_<metric>`` and ``vpce<i>``; the model maps each back to its
resource from the query's own dimensions, in the record's parameters (`query_resource`), never
from the name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from auditor.callspec import CallSpec, FromListings, Items, Params

MAX_QUERIES = 500   # GetMetricData's limit of MetricDataQueries per request
# CloudWatch keeps one-hour datapoints for 455 days (15 months); a longer window would ask
# for data it no longer has.
MAX_WINDOW_DAYS = 455

NAT_NAMESPACE = "AWS/NATGateway"
# The bytes a NAT gateway processes (and bills), both directions: what it receives from the
# sources in the VPC and what it receives back from their destinations.
NAT_METRICS = ("BytesInFromSource", "BytesInFromDestination")
NAT_DIMENSION = "NatGatewayId"
ENDPOINT_NAMESPACE = "AWS/PrivateLinkEndpoints"
ENDPOINT_METRIC = "BytesProcessed"   # both directions, what the endpoint's owner is billed for
# The dimensions AWS publishes the metric with, per endpoint (docs: CloudWatch metrics for
# AWS PrivateLink); a query must name all of them to match the metric. CloudWatch matches them
# as a set; moto (5.2) compares them in order, so they are sent in the order the emulated
# estates seed them (auditor/emulate/seed_traffic.py).
ENDPOINT_DIMENSIONS = ("VPC Id", "VPC Endpoint Id", "Endpoint Type", "Service Name")
ENDPOINT_TYPE = "Interface"   # gateway endpoints are free and publish no metrics

NATS = ("ec2", "DescribeNatGateways", "NatGateways")
ENDPOINTS = ("ec2", "DescribeVpcEndpoints", "VpcEndpoints")

NAT_GATEWAY = "nat_gateway"
VPC_ENDPOINT = "vpc_endpoint"


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 UTC time as the collector writes them (``...Z``, fractions allowed)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def window(run_started: str, days: int) -> tuple[str, str]:
    """(start, end) of the traffic window of a run started at `run_started`: the end is that
    time floored to the hour (UTC), the start `days` days before."""
    end = parse_time(run_started).replace(minute=0, second=0, microsecond=0)
    return _iso(end - dt.timedelta(days=days)), _iso(end)


def _period(base: Params) -> int:
    return int((parse_time(str(base["EndTime"])) - parse_time(str(base["StartTime"]))).total_seconds())


def _stat(namespace: str, metric: str, dimensions: Iterable[tuple[str, str]], period: int) -> dict[str, Any]:
    return {"Metric": {"Namespace": namespace, "MetricName": metric,
                       "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions]},
            "Period": period, "Stat": "Sum", "Unit": "Bytes"}


def queries(items: Items, base: Params) -> list[dict[str, Any]]:
    """Every query of an account-region: per NAT gateway its two metrics, per interface
    endpoint its BytesProcessed; in id order (the order of the listing does not matter)."""
    period = _period(base)
    out: list[dict[str, Any]] = []
    nats = sorted({str(n["NatGatewayId"]) for n in items.get(f"{NATS[0]}:{NATS[1]}", ()) if n.get("NatGatewayId")})
    for i, nat in enumerate(nats):
        for metric in NAT_METRICS:
            out.append({"Id": f"nat{i}_{metric[len('BytesInFrom'):].lower()}", "ReturnData": True,
                        "MetricStat": _stat(NAT_NAMESPACE, metric, ((NAT_DIMENSION, nat),), period)})
    endpoints = sorted((e for e in items.get(f"{ENDPOINTS[0]}:{ENDPOINTS[1]}", ())
                        if e.get("VpcEndpointType") == ENDPOINT_TYPE and e.get("VpcEndpointId")),
                       key=lambda e: str(e["VpcEndpointId"]))
    for i, e in enumerate(endpoints):
        values = {"VPC Id": str(e.get("VpcId", "")), "VPC Endpoint Id": str(e["VpcEndpointId"]),
                  "Endpoint Type": ENDPOINT_TYPE, "Service Name": str(e.get("ServiceName", ""))}
        dims = tuple((name, values[name]) for name in ENDPOINT_DIMENSIONS)
        out.append({"Id": f"vpce{i}", "ReturnData": True,
                    "MetricStat": _stat(ENDPOINT_NAMESPACE, ENDPOINT_METRIC, dims, period)})
    return out


def batches(items: Items, base: Params) -> Iterable[Params]:
    """The parameters of each GetMetricData call: the queries, `MAX_QUERIES` at a time
    (nothing to measure: no call)."""
    found = queries(items, base)
    for i in range(0, len(found), MAX_QUERIES):
        yield {"MetricDataQueries": found[i:i + MAX_QUERIES]}


def query_resource(query: Mapping[str, Any]) -> tuple[str, str] | None:
    """(resource type, id) a query of `queries` measures, from its own dimensions (None: not
    one of ours)."""
    metric = (query.get("MetricStat") or {}).get("Metric") or {}
    dims = {str(d.get("Name")): str(d.get("Value")) for d in metric.get("Dimensions") or [] if isinstance(d, dict)}
    if metric.get("Namespace") == NAT_NAMESPACE and metric.get("MetricName") in NAT_METRICS and NAT_DIMENSION in dims:
        return NAT_GATEWAY, dims[NAT_DIMENSION]
    if (metric.get("Namespace") == ENDPOINT_NAMESPACE and metric.get("MetricName") == ENDPOINT_METRIC
            and "VPC Endpoint Id" in dims):
        return VPC_ENDPOINT, dims["VPC Endpoint Id"]
    return None


TRAFFIC = CallSpec(
    "cloudwatch", "GetMetricData", "cloudwatch:GetMetricData", "MetricDataResults",
    from_listings=FromListings((NATS, ENDPOINTS), batches,
                               f"once per account-region with a NAT gateway or interface endpoint, at most "
                               f"{MAX_QUERIES} queries a call"),
    resource_type="nat_gateway, vpc_endpoint",
    note="only with costs.traffic: the bytes of each NAT gateway and interface endpoint over the window")


def traffic_call(start: str, end: str) -> CallSpec:
    """`TRAFFIC` with the run's window (`window`) as its base parameters."""
    return CallSpec(TRAFFIC.service, TRAFFIC.operation, TRAFFIC.permission, TRAFFIC.items_key,
                    params={"StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending"},
                    from_listings=TRAFFIC.from_listings, resource_type=TRAFFIC.resource_type, note=TRAFFIC.note)
