"""Traffic from CloudWatch (issue 18, deliverable 2): costs.traffic, the optional
cloudwatch:GetMetricData call planned from two EC2 listings, its records, the model's
measurements and `region_traffic`.

Collections run against moto in process (moto answers put_metric_data and GetMetricData
MetricStat queries). moto cannot answer AccessDenied for a CloudWatch call (its CBOR
protocol's error body is not one a test can easily hand-write either), so the denial is
injected through the SessionFactory's hooks, the project's fault-injection seam: a
``before-call`` handler answers the call with a 403 and AWS's error fields, before any
request is made, and botocore raises the ClientError it would raise for AWS's answer."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from auditor.collect import guard
from auditor.collect.catalog import OPTIONAL_CALLS, all_calls, regional_calls, task_calls
from auditor.collect.permissions import audited_account_policy
from auditor.collect.region import plan_calls
from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.config import Scope, config_from_text
from auditor.costs.traffic import FAILED, MEASURED, NOT_COLLECTED, region_traffic, traffic_settings
from auditor.errors import InputError, ReadOnlyViolation
from auditor.model import build_model
from auditor.model.metrics import MAX_QUERIES, TRAFFIC, query_resource, window
from auditor.model.normalise import MEASURES
from auditor.model.types import Model, Origin, SourceRef, Vpc
from auditor.rules.engine import evaluate_rules
from auditor.rules.packs import load_packs
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.records import CallRecord
from auditor.snapshot.writer import SnapshotWriter

from conftest import HOME_ACCOUNT, Injector, assumed_client, ec2_error, in_region, make_config, make_network

REGION, QUIET = "us-east-1", "eu-west-1"   # the seeded region; one with no NAT and no endpoint
ROOT = Path(__file__).resolve().parent.parent
DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)
TODAY = date(2026, 3, 1)


@dataclass
class Estate:
    nat: str          # a NAT gateway with traffic
    idle_nat: str     # one CloudWatch has nothing for
    endpoint: str     # an interface endpoint with traffic
    gateway: str      # a gateway endpoint (free: never measured)
    vpc: str


def seed(window_days: int) -> Estate:
    """A VPC with two NAT gateways, an interface and a gateway endpoint, and their metrics: in
    the window (ending at this hour, floored) and outside it (before its start)."""
    net = make_network(HOME_ACCOUNT, REGION)
    make_network(HOME_ACCOUNT, QUIET, "10.30.0.0/16")
    ec2 = assumed_client("ec2", HOME_ACCOUNT, REGION)
    nats = []
    for _ in range(2):
        alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nats.append(ec2.create_nat_gateway(SubnetId=net.subnet_ids[0], AllocationId=alloc)["NatGateway"]["NatGatewayId"])
    service = f"com.amazonaws.{REGION}.ssm"
    endpoint = ec2.create_vpc_endpoint(VpcId=net.vpc_id, ServiceName=service, VpcEndpointType="Interface",
                                       SubnetIds=[net.subnet_ids[1]])["VpcEndpoint"]["VpcEndpointId"]
    gateway = ec2.create_vpc_endpoint(VpcId=net.vpc_id, ServiceName=f"com.amazonaws.{REGION}.s3",
                                      VpcEndpointType="Gateway",
                                      RouteTableIds=[net.route_table_id])["VpcEndpoint"]["VpcEndpointId"]
    # The run's window ends at its start floored to the hour. Every datum is at least two hours
    # inside the window or a day outside it, so an hour that turns during the test changes nothing.
    end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    start = end - window_days * DAY
    cw = assumed_client("cloudwatch", HOME_ACCOUNT, REGION)

    def put(namespace: str, metric: str, dims: dict[str, str], when: dt.datetime, value: float) -> None:
        cw.put_metric_data(Namespace=namespace, MetricData=[{
            "MetricName": metric, "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
            "Timestamp": when, "Value": value, "Unit": "Bytes"}])

    nat_dims = {"NatGatewayId": nats[0]}
    put("AWS/NATGateway", "BytesInFromSource", nat_dims, end - 2 * HOUR, 1_000)
    put("AWS/NATGateway", "BytesInFromSource", nat_dims, start + 2 * HOUR, 500)
    put("AWS/NATGateway", "BytesInFromSource", nat_dims, start - DAY, 99_999)          # before the window
    put("AWS/NATGateway", "BytesInFromDestination", nat_dims, end - 5 * HOUR, 7_000)
    put("AWS/NATGateway", "BytesOutToDestination", nat_dims, end - 5 * HOUR, 123)    # not a metric we read
    # in the order AWS's docs and the emulated estates name them (moto matches dimensions in order)
    vpce_dims = {"VPC Id": net.vpc_id, "VPC Endpoint Id": endpoint, "Endpoint Type": "Interface",
                 "Service Name": service}
    put("AWS/PrivateLinkEndpoints", "BytesProcessed", vpce_dims, end - DAY, 4_242)
    put("AWS/PrivateLinkEndpoints", "BytesProcessed", vpce_dims, start - 2 * DAY, 1)  # before the window
    return Estate(nats[0], nats[1], endpoint, gateway, net.vpc_id)


def run(tmp_path: Path, name: str, extra: str = "", hooks: list[Any] | None = None) -> Any:
    config = make_config([(HOME_ACCOUNT, None)], (REGION, QUIET), extra)
    return collect(config, SessionFactory(max_attempts=2, hooks=hooks or []), SnapshotWriter(tmp_path / name, keep=True))


def traffic_records(result: Any, region: str = REGION) -> list[CallRecord]:
    return [r for r in result.records if r.service == "cloudwatch" and r.region == region]


# -- collected and measured --------------------------------------------------------------

def test_traffic_is_read_over_the_window_and_summed_per_resource(moto_aws: None, tmp_path: Path) -> None:
    estate = seed(window_days=5)
    result = run(tmp_path, "on", "costs:\n  traffic: true\n  window_days: 5\n")
    start, end = window(result.manifest["started"], 5)
    assert end.endswith(":00:00Z") and result.manifest["costs"] == {
        "traffic": True, "window_days": 5, "window_start": start, "window_end": end}

    [rec] = traffic_records(result)
    assert rec.ok and rec.params["StartTime"] == start and rec.params["EndTime"] == end
    queries = rec.params["MetricDataQueries"]
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9_]*", q["Id"]) for q in queries)
    assert {q["MetricStat"]["Period"] for q in queries} == {5 * 86400}
    assert {q["MetricStat"]["Stat"] for q in queries} == {"Sum"}
    assert sorted(query_resource(q) for q in queries) == sorted(
        [("nat_gateway", estate.nat)] * 2 + [("nat_gateway", estate.idle_nat)] * 2 + [("vpc_endpoint", estate.endpoint)])
    # a region with nothing to measure makes no call
    assert traffic_records(result, QUIET) == []

    snap = load_snapshot(result.path)
    model = build_model(snap.records, snap.manifest.get("files"), costs=snap.manifest.get("costs"))
    traffic = region_traffic(model, HOME_ACCOUNT, REGION)
    assert traffic.status == MEASURED and traffic.reason == ""
    assert (traffic.window_start, traffic.window_end, traffic.window_hours) == (start, end, 5 * 24)
    # the in-window values of both directions; the idle NAT is unknown, never 0; the gateway endpoint is not measured
    assert dict(traffic.nat_bytes) == {estate.nat: 1_000 + 500 + 7_000, estate.idle_nat: None}
    assert dict(traffic.endpoint_bytes) == {estate.endpoint: 4_242}
    quiet = region_traffic(model, HOME_ACCOUNT, QUIET)
    assert (quiet.status, dict(quiet.nat_bytes), dict(quiet.endpoint_bytes)) == (MEASURED, {}, {})
    assert traffic_settings(snap.manifest) == (True, 5) == traffic_settings(model)
    # without the manifest's section the records say the same
    assert traffic_settings(build_model(snap.records)) == (True, 5)


def test_traffic_off_makes_no_call_and_says_not_collected(moto_aws: None, tmp_path: Path) -> None:
    seed(window_days=30)
    watch = Injector("before-send.cloudwatch", lambda request, n: None)   # sees every CloudWatch request
    result = run(tmp_path, "off", hooks=[watch])
    assert watch.seen == [] and [r for r in result.records if r.service == "cloudwatch"] == []
    assert "costs" not in result.manifest
    model = build_model(result.records, costs=result.manifest.get("costs"))
    traffic = region_traffic(model, HOME_ACCOUNT, REGION)
    assert traffic.status == NOT_COLLECTED and "costs.traffic is off" in traffic.reason
    assert (dict(traffic.nat_bytes), dict(traffic.endpoint_bytes)) == ({}, {})
    assert traffic_settings(result.manifest) == (False, None) == traffic_settings(model)


def test_a_plan_has_no_traffic() -> None:
    vpc = Vpc(id="vpc-1", account=HOME_ACCOUNT, region=REGION, source=SourceRef("records/x.json", "/pages/0"),
              declared_at=Origin(kind="terraform", file="main.tf", address="aws_vpc.main", line=1))
    traffic = region_traffic(Model(resources={"vpc": (vpc,)}), HOME_ACCOUNT, REGION)
    assert traffic.status == NOT_COLLECTED and "plan or template" in traffic.reason


# -- failures ----------------------------------------------------------------------------

@dataclass
class DenyMetrics:
    """A SessionFactory hook answering every cloudwatch:GetMetricData with AccessDenied (403)
    before any request is made (see the module docstring for why not moto)."""

    seen: list[str] = field(default_factory=list)

    def __call__(self, session: Any) -> None:
        session.register("before-call.cloudwatch.GetMetricData", self._deny)

    def _deny(self, model: Any, params: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        self.seen.append(model.name)
        message = f"User: arn:aws:sts::{HOME_ACCOUNT}:assumed-role/auditor is not authorized to perform: " \
                  "cloudwatch:GetMetricData"
        return (AWSResponse("https://monitoring.us-east-1.amazonaws.com/", 403, {}, None),
                {"Error": {"Code": "AccessDenied", "Message": message},
                 "ResponseMetadata": {"HTTPStatusCode": 403}})


def _findings(records: Any) -> list[tuple[str, str, str, str]]:
    ev = evaluate_rules(build_model(records), load_packs(), Scope(), today=TODAY)
    return sorted((f.rule_id, f.resource.id, f.status, f.message) for f in ev.findings)


def test_access_denied_is_recorded_and_changes_no_finding(moto_aws: None, tmp_path: Path) -> None:
    seed(window_days=30)
    off = run(tmp_path, "off")
    deny = DenyMetrics()
    on = run(tmp_path, "denied", "costs:\n  traffic: true\n", hooks=[deny])
    assert deny.seen == ["GetMetricData"]
    [rec] = traffic_records(on)
    assert rec.error is not None and (rec.error.kind, rec.error.code, rec.error.http_status) == ("aws", "AccessDenied", 403)
    [error] = [e for e in on.manifest["errors"] if e["service"] == "cloudwatch"]
    assert error["code"] == "AccessDenied"
    # the rest of the collection is what it is without traffic
    def calls(result: Any) -> list[tuple[str, str, str, bool]]:
        return sorted((r.region, r.service, r.operation, r.ok) for r in result.records if r.service != "cloudwatch")
    assert calls(on) == calls(off)
    assert _findings(on.records) == _findings(off.records)

    model = build_model(on.records, costs=on.manifest["costs"])
    traffic = region_traffic(model, HOME_ACCOUNT, REGION)
    assert traffic.status == FAILED and "AccessDenied" in traffic.reason and "not authorized" in traffic.reason
    assert (dict(traffic.nat_bytes), dict(traffic.endpoint_bytes)) == ({}, {})
    assert region_traffic(model, HOME_ACCOUNT, QUIET).status == MEASURED   # nothing was asked there


def test_a_failed_nat_listing_leaves_get_metric_data_not_attempted(moto_aws: None, tmp_path: Path) -> None:
    seed(window_days=30)
    fail = Injector("before-send.ec2.DescribeNatGateways",
                    lambda request, n: ec2_error(403, "UnauthorizedOperation", "You are not authorized"),
                    match=in_region(REGION))
    result = run(tmp_path, "nat-failed", "costs:\n  traffic: true\n", hooks=[fail])
    [rec] = traffic_records(result)
    assert rec.error is not None and rec.error.kind == "not_attempted"
    assert "ec2:DescribeNatGateways, which failed (UnauthorizedOperation)" in rec.error.message
    start, end = window(result.manifest["started"], 30)
    assert (rec.params["StartTime"], rec.params["EndTime"]) == (start, end)   # what was meant is said
    traffic = region_traffic(build_model(result.records), HOME_ACCOUNT, REGION)
    assert traffic.status == FAILED
    assert traffic.reason.startswith("cloudwatch:GetMetricData not attempted: it is planned from ec2:DescribeNatGateways")


def test_the_listings_of_a_region_that_never_answered_say_failed() -> None:
    listing = CallRecord(HOME_ACCOUNT, REGION, "ec2", "DescribeVpcEndpoints", {}, ({"VpcEndpoints": []},))
    model = build_model([listing], costs={"traffic": True, "window_days": 30, "window_start": "2026-01-01T00:00:00Z",
                                          "window_end": "2026-01-31T00:00:00Z"})
    traffic = region_traffic(model, HOME_ACCOUNT, REGION)
    assert traffic.status == FAILED and "ec2:DescribeNatGateways" in traffic.reason
    assert traffic.window_hours == 30 * 24


# -- planning, batches, pages --------------------------------------------------------------

def _listing(operation: str, key: str, items: list[dict[str, Any]]) -> CallRecord:
    return CallRecord(HOME_ACCOUNT, REGION, "ec2", operation, {}, ({key: items},))


def test_more_than_500_queries_are_batched_and_mapped_back() -> None:
    nats = [{"NatGatewayId": f"nat-{i:04d}"} for i in range(260)]   # 520 queries
    endpoints = [{"VpcEndpointId": f"vpce-{i}", "VpcEndpointType": "Interface", "VpcId": "vpc-1",
                  "ServiceName": "com.amazonaws.us-east-1.ssm"} for i in range(3)]
    endpoints.append({"VpcEndpointId": "vpce-gw", "VpcEndpointType": "Gateway", "VpcId": "vpc-1",
                      "ServiceName": "com.amazonaws.us-east-1.s3"})
    done = {"ec2:DescribeNatGateways": _listing("DescribeNatGateways", "NatGateways", nats),
            "ec2:DescribeVpcEndpoints": _listing("DescribeVpcEndpoints", "VpcEndpoints", endpoints)}
    [spec] = [s for s in task_calls(("2026-01-01T00:00:00Z", "2026-01-31T00:00:00Z")) if s.call == TRAFFIC.call]
    planned = list(plan_calls(spec, done))
    assert [why for _, why in planned] == ["", ""]
    sizes = [len(p["MetricDataQueries"]) for p, _ in planned]
    assert sizes == [MAX_QUERIES, 523 - MAX_QUERIES]
    ids = [q["Id"] for p, _ in planned for q in p["MetricDataQueries"]]
    assert len(set(ids)) == len(ids) == 523
    resources = [query_resource(q) for p, _ in planned for q in p["MetricDataQueries"]]
    assert {r for r in resources if r and r[0] == "vpc_endpoint"} == {("vpc_endpoint", f"vpce-{i}") for i in range(3)}
    assert sum(1 for r in resources if r and r[0] == "nat_gateway") == 520

    # Two calls' answers, the first split over two pages: every value of an Id is summed.
    def answer(params: dict[str, Any], pages: list[list[dict[str, Any]]]) -> CallRecord:
        return CallRecord(HOME_ACCOUNT, REGION, "cloudwatch", "GetMetricData", params,
                          tuple({"MetricDataResults": page} for page in pages))
    first, second = planned[0][0], planned[1][0]
    id_of = {query_resource(q): q["Id"] for q in first["MetricDataQueries"] + second["MetricDataQueries"]
             if q["Id"].endswith(("_source", "vpce0", "vpce1", "vpce2"))}
    src0, dst0 = first["MetricDataQueries"][0]["Id"], first["MetricDataQueries"][1]["Id"]
    records = [
        answer(first, [[{"Id": src0, "Values": [10.0], "StatusCode": "PartialData"}, {"Id": dst0, "Values": [1.0]}],
                       [{"Id": src0, "Values": [5.0], "StatusCode": "Complete"}]]),
        answer(second, [[{"Id": id_of[("vpc_endpoint", "vpce-2")], "Values": [3.0, 4.0], "StatusCode": "Complete"}]]),
        done["ec2:DescribeNatGateways"], done["ec2:DescribeVpcEndpoints"],
    ]
    model = build_model(records)
    traffic = region_traffic(model, HOME_ACCOUNT, REGION)
    assert traffic.status == MEASURED
    assert traffic.nat_bytes["nat-0000"] == 16 and traffic.nat_bytes["nat-0001"] is None
    assert len(traffic.nat_bytes) == 260
    assert dict(traffic.endpoint_bytes) == {"vpce-0": None, "vpce-1": None, "vpce-2": 7}


def test_get_metric_data_pages_are_followed(moto_aws: None, tmp_path: Path) -> None:
    """GetMetricData answers page by page (NextToken): the collector asks for every page."""
    estate = seed(window_days=30)

    @dataclass
    class TwoPages:
        tokens: list[str | None] = field(default_factory=list)

        def __call__(self, session: Any) -> None:
            session.register("before-parameter-build.cloudwatch.GetMetricData", self._params)
            session.register("before-call.cloudwatch.GetMetricData", self._answer)

        def _params(self, params: dict[str, Any], **_: Any) -> None:
            self.tokens.append(params.get("NextToken"))
            self.queries = params["MetricDataQueries"]

        def _answer(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            first = self.tokens[-1] is None
            src = next(q["Id"] for q in self.queries if query_resource(q) == ("nat_gateway", estate.nat)
                       and q["MetricStat"]["Metric"]["MetricName"] == "BytesInFromSource")
            dst = next(q["Id"] for q in self.queries if query_resource(q) == ("nat_gateway", estate.nat)
                       and q["MetricStat"]["Metric"]["MetricName"] == "BytesInFromDestination")
            page: dict[str, Any] = {"MetricDataResults": [{"Id": src, "Values": [2.0 if first else 3.0]}]
                                    + ([] if first else [{"Id": dst, "Values": [4.0]}]),
                                    "ResponseMetadata": {"HTTPStatusCode": 200}}
            if first:
                page["NextToken"] = "page-2"
            return AWSResponse("https://monitoring.us-east-1.amazonaws.com/", 200, {}, None), page

    pages = TwoPages()
    result = run(tmp_path, "pages", "costs:\n  traffic: true\n", hooks=[pages])
    assert pages.tokens == [None, "page-2"]
    [rec] = traffic_records(result)
    assert rec.ok and len(rec.pages) == 2
    traffic = region_traffic(build_model(result.records), HOME_ACCOUNT, REGION)
    assert traffic.nat_bytes[estate.nat] == 2 + 3 + 4


def test_a_call_planned_from_listings_of_a_task_without_them_is_not_attempted() -> None:
    [spec] = OPTIONAL_CALLS
    [(params, why)] = plan_calls(spec, {})
    assert params == {} and why == ("not attempted: it is planned from ec2:DescribeNatGateways, which was not made; "
                                    "ec2:DescribeVpcEndpoints, which was not made")


# -- catalogue, guard, policy ---------------------------------------------------------------

def test_the_call_is_optional_allowed_and_in_the_policy() -> None:
    assert TRAFFIC in OPTIONAL_CALLS and TRAFFIC in all_calls() and TRAFFIC not in regional_calls()
    assert task_calls() == regional_calls()
    assert all(s.call in MEASURES for s in OPTIONAL_CALLS)   # each optional call has its normaliser
    assert "only with costs.traffic" in TRAFFIC.note
    assert guard.is_allowed("cloudwatch", "GetMetricData")
    assert not guard.is_allowed("cloudwatch", "PutMetricData")
    policy = audited_account_policy()
    assert "cloudwatch:GetMetricData" in policy["Statement"][0]["Action"]
    assert "cloudwatch:GetMetricData" in (ROOT / "docs" / "iam-policy.json").read_text()
    assert not [a for a in policy["Statement"][0]["Action"] if a.startswith("cloudwatch:") and a != "cloudwatch:GetMetricData"]


def test_a_collector_session_refuses_a_cloudwatch_write(moto_aws: None) -> None:
    sent: list[str] = []
    factory = SessionFactory(max_attempts=1, hooks=[lambda s: s.register("before-send", lambda request, **_: sent.append(request.url))])
    cw = factory.client(factory.base(), "cloudwatch", REGION)
    with pytest.raises(ReadOnlyViolation, match="refused cloudwatch:PutMetricData"):
        cw.put_metric_data(Namespace="AWS/NATGateway", MetricData=[{"MetricName": "BytesInFromSource", "Value": 1.0}])
    assert sent == []
    assert boto3.client("cloudwatch", region_name=REGION).list_metrics()["Metrics"] == []
    # and the read goes through
    cw.get_metric_data(StartTime="2026-01-01T00:00:00Z", EndTime="2026-01-02T00:00:00Z", MetricDataQueries=[
        {"Id": "q", "MetricStat": {"Metric": {"Namespace": "AWS/NATGateway", "MetricName": "BytesInFromSource"},
                                   "Period": 86400, "Stat": "Sum"}}])
    assert len(sent) == 1


# -- config ---------------------------------------------------------------------------------

def test_costs_config_defaults_and_values(tmp_path: Path) -> None:
    assert config_from_text("version: 1\n").costs.traffic is False
    default = config_from_text("version: 1\n").costs
    assert (default.traffic, default.window_days, default.prices) == (False, 30, None)
    cfg = config_from_text("version: 1\ncosts:\n  traffic: true\n  window_days: 455\n  prices: prices/eu.yaml\n",
                           base_dir=tmp_path)
    assert (cfg.costs.traffic, cfg.costs.window_days, cfg.costs.prices) == (True, 455, tmp_path / "prices/eu.yaml")


@pytest.mark.parametrize("body, message", [
    ("costs:\n  traffic: 1\n", "a.yaml:3:12  costs.traffic: expected true or false"),
    ("costs:\n  window_days: 0\n", "a.yaml:3:16  costs.window_days: 0 is out of range (minimum 1)"),
    ("costs:\n  window_days: 456\n", "a.yaml:3:16  costs.window_days: 456 is out of range (maximum 455)"),
    ("costs:\n  window_days: 2.5\n", "a.yaml:3:16  costs.window_days: expected a whole number"),
    ("costs:\n  window_days: '30'\n", "a.yaml:3:16  costs.window_days: expected a whole number"),
    ("costs:\n  window_dayz: 3\n", "a.yaml:3:3  costs.window_dayz: unknown key 'window_dayz' (did you mean "
                                   "'window_days'?)"),
    ("costs:\n  prices: ''\n", "a.yaml:3:11  costs.prices: must not be empty"),
    ("costs:\n  prices: [a]\n", "a.yaml:3:11  costs.prices:"),
    ("costs: on\n", "a.yaml:2:8  costs: expected a mapping"),
])
def test_bad_costs_config_is_an_error_at_its_line(body: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        config_from_text("version: 1\n" + body, "a.yaml")
    assert message in str(err.value)


def test_the_window_is_the_run_start_floored_to_the_hour() -> None:
    assert window("2026-03-10T14:59:59.999999Z", 30) == ("2026-02-08T14:00:00Z", "2026-03-10T14:00:00Z")
    assert window("2026-03-10T14:00:00Z", 1) == ("2026-03-09T14:00:00Z", "2026-03-10T14:00:00Z")


def test_the_manifest_traffic_section_is_read_strictly() -> None:
    assert traffic_settings({}) == (False, None)
    assert traffic_settings({"costs": {"traffic": True, "window_days": "30", "window_start": "a",
                                       "window_end": "b"}}) == (False, None)
    assert traffic_settings(json.loads('{"costs": {"traffic": true, "window_days": 7, "window_start": '
                                       '"2026-01-01T00:00:00Z", "window_end": "2026-01-08T00:00:00Z"}}')) == (True, 7)


def test_traffic_options_merge_into_the_config() -> None:
    from auditor.cli_aws import AwsOptions, merge

    on, off = AwsOptions(traffic=True), AwsOptions(traffic=False)
    assert on.options() == ["--traffic"] and off.options() == ["--no-traffic"] and AwsOptions().options() == []
    doc = {"version": 1, "costs": {"window_days": 7}}
    assert merge(doc, on, "a.yaml")["costs"] == {"window_days": 7, "traffic": True}
    assert merge({"version": 1, "costs": {"traffic": True}}, off, "a.yaml")["costs"] == {"traffic": False}
    assert "costs" not in merge({"version": 1}, AwsOptions(), "a.yaml")
    # also when --role-arn replaces the accounts (that path returns early)
    role = AwsOptions(traffic=True, role_arn=f"arn:aws:iam::{HOME_ACCOUNT}:role/auditor")
    assert merge({"version": 1}, role, "a.yaml")["costs"] == {"traffic": True}
    # a costs value that is not a mapping is left for the config's check to name
    assert merge({"version": 1, "costs": 3}, on, "a.yaml")["costs"] == 3


def test_a_dask_worker_region_task_reads_traffic_too(moto_aws: None) -> None:
    """The Dask engine's worker side (`auditor.distributed.worker.run_region`) makes the same
    calls as the local engine: with the run's window, the traffic call too."""
    from functools import partial

    from auditor.config import Collection
    from auditor.distributed.worker import AccountSpec, WorkerSessions, run_region

    estate = seed(window_days=30)
    plugin = WorkerSessions(partial(SessionFactory, max_attempts=2), Collection(), None, "none")
    plugin.setup()
    span = window(dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), 30)
    records, _ = run_region(plugin, AccountSpec(HOME_ACCOUNT, None), REGION, span)
    [rec] = [r for r in records if r.service == "cloudwatch"]
    assert rec.ok and (rec.params["StartTime"], rec.params["EndTime"]) == span
    traffic = region_traffic(build_model(records), HOME_ACCOUNT, REGION)
    assert traffic.status == MEASURED and traffic.nat_bytes[estate.nat] == 1_000 + 500 + 7_000
    off, _ = run_region(plugin, AccountSpec(HOME_ACCOUNT, None), REGION)
    assert [r for r in off if r.service == "cloudwatch"] == []


class _Crash(Exception):
    pass


class _CrashAfterAccount(SnapshotWriter):
    """Crashes the run once its account's own calls are checkpointed: no region task is kept."""

    def checkpoints(self, batch: Any) -> None:
        super().checkpoints(batch)
        if any(name.startswith("accounts/") for name, _, _ in batch):
            raise _Crash


def test_a_resumed_run_reads_traffic_over_its_first_start(moto_aws: None, tmp_path: Path) -> None:
    """The window is the run's: a resume keeps the interrupted run's start (checkpoints/run.json),
    so its tasks read the window that start gives, not one of the resume's own time."""
    from auditor.snapshot.checkpoint import open_resume

    seed(window_days=30)
    config = make_config([(HOME_ACCOUNT, None)], (REGION,), "costs:\n  traffic: true\n")
    folder = tmp_path / "run"
    with pytest.raises(_Crash):
        collect(config, SessionFactory(max_attempts=2), _CrashAfterAccount(folder))
    partial = folder.with_name("run.partial")
    run_file = partial / "checkpoints" / "run.json"
    run = json.loads(run_file.read_text())
    # As if the run had started three days and a half ago (run.json is what a resume trusts for it).
    first = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3, hours=12)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    run_file.write_text(json.dumps({**run, "started": first}))
    state = open_resume(partial)
    assert not state.tasks
    res = collect(config, SessionFactory(max_attempts=2), SnapshotWriter(folder, resume=True), resume=state)
    assert res.manifest["started"] == first
    start, end = window(first, 30)
    assert res.manifest["costs"]["window_start"] == start and res.manifest["costs"]["window_end"] == end
    [rec] = [r for r in load_snapshot(res.path).records if r.service == "cloudwatch"]
    assert rec.ok and (rec.params["StartTime"], rec.params["EndTime"]) == (start, end)


def test_the_traffic_calls_service_may_be_given_a_cap() -> None:
    cfg = config_from_text("version: 1\ncollection:\n  region_concurrency: {cloudwatch: 2}\n")
    assert cfg.collection.cap("cloudwatch") == 2
