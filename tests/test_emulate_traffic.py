"""The estate's `traffic`: CloudWatch datapoints for NAT gateways and endpoints, read back
from moto's CloudWatch with GetMetricData as a collector would, over windows whose totals
are worked out by hand from the documented rule (auditor/emulate/seed_traffic.py)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest

from auditor.emulate import EmulatedAws, SeedResult, demo_estate_path, estate_from_text, load_estate, seed
from auditor.emulate.host import DUMMY_CREDENTIALS
from auditor.emulate.seed_traffic import SEEDED_HOURS, hourly_bytes, seeded_hours
from auditor.errors import InputError

ACCOUNT, REGION = "111111111111", "eu-west-1"
GIB = 2 ** 30
# A fixed seeding time in the middle of an hour: the datapoints are stamped from 10:00.
NOW = dt.datetime(2026, 11, 20, 10, 37, 12, tzinfo=dt.UTC)
TOP = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)

ESTATE = """
estate: traffic
accounts:
  - id: "111111111111"
    regions:
      eu-west-1:
        vpcs:
          - name: egress
            cidr: 10.9.0.0/16
            internet_gateway: true
            subnets:
              - {name: public-a, cidr: 10.9.0.0/24, az: a}
              - {name: app-a, cidr: 10.9.1.0/24, az: a}
              - {name: app-b, cidr: 10.9.2.0/24, az: b}
            security_groups: [{name: endpoints, ingress: [{protocol: tcp, ports: 443, cidr: 10.9.0.0/16}]}]
            nat_gateways:
              - {name: busy, subnet: public-a, traffic: {monthly_gb: 2048}}
              - {name: odd, subnet: public-a, traffic: {monthly_gb: 0.5}}
              - {name: quiet, subnet: public-a}
            endpoints:
              - {name: sqs, service: sqs, type: Interface, subnets: [app-a, app-b], security_groups: [endpoints],
                 traffic: {monthly_gb: 73}}
              - {name: sts, service: sts, type: Interface, subnets: [app-a], security_groups: [endpoints]}
"""


def _cloudwatch(aws: EmulatedAws, account: str = ACCOUNT, region: str = REGION) -> Any:
    """A plain boto3 CloudWatch client into moto, in `account` (GetMetricData is not the
    collector's to make here: these tests read moto directly)."""
    import boto3

    keys = {"aws_access_key_id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}
    sts = boto3.client("sts", region_name=region, endpoint_url=aws.endpoint_url, **keys)
    creds = sts.assume_role(RoleArn=aws.role_arn(account), RoleSessionName="traffic-tests")["Credentials"]
    return boto3.client("cloudwatch", region_name=region, endpoint_url=aws.endpoint_url,
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


def _sum(cw: Any, namespace: str, metric: str, dims: dict[str, str], start: dt.datetime, end: dt.datetime) -> float:
    """The Sum of one metric over [start, end) in a single period, as a cost collector asks it."""
    answer = cw.get_metric_data(
        MetricDataQueries=[{"Id": "q", "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
            "Period": int((end - start).total_seconds()), "Stat": "Sum"}}],
        StartTime=start, EndTime=end)
    [result] = answer["MetricDataResults"]
    return float(sum(result["Values"]))


@pytest.fixture(scope="class")
def seeded() -> Any:
    with EmulatedAws() as aws:
        ids = seed(estate_from_text(ESTATE, "traffic.yaml"), aws, now=NOW)
        yield aws, ids


def _nat(ids: SeedResult, name: str) -> dict[str, str]:
    return {"NatGatewayId": ids.id(ACCOUNT, REGION, "nat_gateway", name)}


def _endpoint(ids: SeedResult, name: str, service: str) -> dict[str, str]:
    return {"VPC Id": ids.id(ACCOUNT, REGION, "vpc", "egress"),
            "VPC Endpoint Id": ids.id(ACCOUNT, REGION, "vpc_endpoint", name),
            "Endpoint Type": "Interface", "Service Name": f"com.amazonaws.{REGION}.{service}"}


# -- the rule, by hand ----------------------------------------------------------------------

def test_hourly_bytes_follow_the_documented_rule() -> None:
    # 2048 x 2^30 / 730 = 2199023255552 / 730 = 3012360624.04...: rounded down
    assert hourly_bytes(2048) == 3_012_360_624
    # 0.5 x 2^30 / 730 = 536870912 / 730 = 735439.60...: rounded up
    assert hourly_bytes(0.5) == 735_440
    # 73 GB a month is exactly 0.1 GB an hour: 107374182.4 -> 107374182
    assert hourly_bytes(73) == 107_374_182
    assert hourly_bytes(0) == 0


def test_seeded_hours_span_31_days_and_the_seeding_hour() -> None:
    stamps = seeded_hours(NOW)
    assert len(stamps) == SEEDED_HOURS + 1 == 745
    assert stamps[-1] == TOP and stamps[0] == TOP - dt.timedelta(days=31)
    assert all(b - a == dt.timedelta(hours=1) for a, b in itertools.pairwise(stamps))
    # the same hour whatever the time zone the seeding time is given in
    assert seeded_hours(NOW.astimezone(dt.timezone(dt.timedelta(hours=-5)))) == stamps
    with pytest.raises(ValueError, match="timezone-aware"):
        seeded_hours(NOW.replace(tzinfo=None))


# -- read back from moto --------------------------------------------------------------------

class TestSeededTraffic:
    """One small estate seeded at NOW, read back from moto (one emulator for the class)."""

    def test_a_30_day_window_sees_720_hours_of_nat_traffic(self, seeded: Any) -> None:
        aws, ids = seeded
        cw = _cloudwatch(aws)
        hourly = hourly_bytes(2048)
        up, down = hourly // 2, hourly - hourly // 2
        # collected in the hour of the seeding or the next: the window ends floored to the hour
        for end in (TOP, TOP + dt.timedelta(hours=1)):
            start = end - dt.timedelta(days=30)
            got_in = {m: _sum(cw, "AWS/NATGateway", m, _nat(ids, "busy"), start, end)
                      for m in ("BytesInFromSource", "BytesInFromDestination", "BytesOutToDestination", "BytesOutToSource")}
            assert got_in == {"BytesInFromSource": 720 * up, "BytesOutToDestination": 720 * up,
                              "BytesInFromDestination": 720 * down, "BytesOutToSource": 720 * down}, end
            assert got_in["BytesInFromSource"] + got_in["BytesInFromDestination"] == 720 * hourly == 2_168_899_649_280
        # two hours later the window's last hour has no datapoint yet: 719 hours
        later = TOP + dt.timedelta(hours=2)
        assert _sum(cw, "AWS/NATGateway", "BytesInFromSource", _nat(ids, "busy"), later - dt.timedelta(days=30),
                    later) == 719 * up
        # a 31-day window is the longest that sees a whole span
        assert _sum(cw, "AWS/NATGateway", "BytesOutToSource", _nat(ids, "busy"), TOP - dt.timedelta(days=31),
                    TOP) == 744 * down
        # 720 hours of 2048 GB / 730 h = 2019.945... GB, and 730 of them the 2048 GB (to the byte, rounding aside)
        assert round(720 * hourly / GIB, 2) == 2019.95
        assert abs(730 * hourly - 2048 * GIB) < 730


    def test_windows_count_only_the_seeded_hours(self, seeded: Any) -> None:
        aws, ids = seeded
        cw = _cloudwatch(aws)
        odd = hourly_bytes(0.5)
        half = odd // 2
        # [TOP - 2h, TOP + 5h) holds the stamps TOP - 2h, TOP - 1h and TOP: three hours
        assert _sum(cw, "AWS/NATGateway", "BytesInFromSource", _nat(ids, "odd"),
                    TOP - dt.timedelta(hours=2), TOP + dt.timedelta(hours=5)) == 3 * half
        # before the seeded span there is nothing; the span's first hour is there
        first = TOP - dt.timedelta(hours=SEEDED_HOURS)
        assert _sum(cw, "AWS/NATGateway", "BytesOutToSource", _nat(ids, "odd"),
                    first - dt.timedelta(days=2), first) == 0
        assert _sum(cw, "AWS/NATGateway", "BytesOutToSource", _nat(ids, "odd"),
                    first - dt.timedelta(days=2), first + dt.timedelta(hours=1)) == odd - half
        # a NAT gateway without traffic has no datapoints at all: unknown, never zero
        answer = cw.get_metric_data(
            MetricDataQueries=[{"Id": "q", "MetricStat": {
                "Metric": {"Namespace": "AWS/NATGateway", "MetricName": "BytesInFromSource",
                           "Dimensions": [{"Name": "NatGatewayId", "Value": _nat(ids, "quiet")["NatGatewayId"]}]},
                "Period": 3600, "Stat": "Sum"}}],
            StartTime=TOP - dt.timedelta(days=30), EndTime=TOP)
        assert answer["MetricDataResults"][0]["Values"] == []


    def test_interface_endpoint_bytes_processed_carry_the_aws_dimensions(self, seeded: Any) -> None:
        aws, ids = seeded
        cw = _cloudwatch(aws)
        start, end = TOP - dt.timedelta(days=30), TOP
        assert _sum(cw, "AWS/PrivateLinkEndpoints", "BytesProcessed", _endpoint(ids, "sqs", "sqs"), start, end) \
            == 720 * 107_374_182
        assert _sum(cw, "AWS/PrivateLinkEndpoints", "BytesProcessed", _endpoint(ids, "sts", "sts"), start, end) == 0
        listed = cw.list_metrics(Namespace="AWS/PrivateLinkEndpoints")["Metrics"]
        assert {tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in listed} == {
            tuple(sorted(_endpoint(ids, "sqs", "sqs").items()))}
        assert {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/NATGateway")["Metrics"]} == {
            "BytesInFromSource", "BytesInFromDestination", "BytesOutToDestination", "BytesOutToSource"}


    def test_seed_refuses_a_naive_time(self, seeded: Any) -> None:
        aws, _ = seeded
        with pytest.raises(ValueError, match="timezone-aware"):
            seed(estate_from_text(ESTATE, "traffic.yaml"), aws, now=NOW.replace(tzinfo=None))


def test_the_demo_egress_nat_carries_2_tb_a_month() -> None:
    estate = load_estate(demo_estate_path())
    with EmulatedAws() as aws:
        ids = seed(estate, aws, now=NOW)
        account = "222222222222"
        cw = _cloudwatch(aws, account, "us-east-1")
        nat = {"NatGatewayId": ids.id(account, "us-east-1", "nat_gateway", "egress-nat-a")}
        start = TOP - dt.timedelta(days=30)
        total = sum(_sum(cw, "AWS/NATGateway", m, nat, start, TOP) for m in ("BytesInFromSource", "BytesInFromDestination"))
        assert total == 720 * hourly_bytes(2048)
        # the compliant account has no NAT gateway and no traffic
        assert _cloudwatch(aws, "111111111111", "us-east-1").list_metrics(Namespace="AWS/NATGateway")["Metrics"] == []


# -- bad traffic values ----------------------------------------------------------------------

def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "estate.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_estate(path)
    return [p.render() for p in caught.value.problems]


HEAD = '''estate: broken
accounts:
  - id: "111111111111"
    regions:
      eu-west-1:
        vpcs:
          - name: app
            cidr: 10.0.0.0/16
            subnets: [{name: a, cidr: 10.0.1.0/24, az: a}]
            route_tables: [{name: rt, routes: []}]
'''


@pytest.mark.parametrize("value, expected", [
    ("{monthly_gb: -1}", "traffic.monthly_gb: -1 is out of range (minimum 0)"),
    ("{monthly_gb: lots}", 'traffic.monthly_gb: expected a number, got string "lots"'),
    ("{monthly_gb: true}", "traffic.monthly_gb: expected a number, got boolean true"),
    ("{monthly_gb: 2000000}", "traffic.monthly_gb: 2000000 is out of range (maximum 1000000)"),
    ("{monthly_gbs: 10}", "unknown key 'monthly_gbs' (did you mean 'monthly_gb'?)"),
    ("{}", "traffic: missing required key 'monthly_gb'"),
    ("2048", "traffic: expected a mapping, got integer 2048"),
])
def test_a_bad_traffic_value_is_located(tmp_path: Path, value: str, expected: str) -> None:
    text = HEAD + f"            nat_gateways: [{{name: n, subnet: a, traffic: {value}}}]\n"
    problems = _problems(tmp_path, text)
    assert all(p.startswith(f"{tmp_path / 'estate.yaml'}:11:") for p in problems), problems
    assert any(expected in p for p in problems), problems


def test_a_gateway_endpoint_has_no_traffic(tmp_path: Path) -> None:
    text = HEAD + "            endpoints: [{name: s3, service: s3, type: Gateway, route_tables: [rt], " \
                  "traffic: {monthly_gb: 10}}]\n"
    [problem] = _problems(tmp_path, text)
    assert ":11:" in problem and "a Gateway endpoint has no traffic metrics" in problem
