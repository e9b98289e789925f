"""Who is audited: AWS Organizations discovery (filters, role per account, failure) and
`regions: all` (every enabled region, opted-out ones left out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from conftest import HOME_ACCOUNT, Injector, _Raw, sts_error

from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.config import config_from_text
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.writer import SnapshotWriter


def _organization() -> dict[str, str]:
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    made = {}
    for name in ("prod-payments", "prod-health", "sandbox-dev"):
        status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        made[name] = status["AccountId"]
    return made


def test_organizations_discovery_with_filters(moto_aws: None, tmp_path: Path) -> None:
    made = _organization()
    cfg = config_from_text("version: 1\nregions: [eu-west-1]\norganization_discovery:\n"
                           "  role_name: AuditorReadOnly\n"
                           f"  include: ['prod-*', '{HOME_ACCOUNT}']\n  exclude: ['*health*']\n")
    result = collect(cfg, SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "s"))
    accounts = {a["id"]: a for a in result.manifest["accounts"]}
    assert set(accounts) == {HOME_ACCOUNT, made["prod-payments"]}
    pay = accounts[made["prod-payments"]]
    assert pay["source"] == "organizations" and pay["name"] == "prod-payments"
    assert pay["role_arn"] == f"arn:aws:iam::{made['prod-payments']}:role/AuditorReadOnly"
    assert pay["identity"]["Account"] == made["prod-payments"]
    assert pay["identity"]["Arn"].startswith(f"arn:aws:sts::{made['prod-payments']}:assumed-role/AuditorReadOnly/")
    ops = {(c["account"], c["service"], c["operation"]) for c in result.manifest["calls"]}
    assert (HOME_ACCOUNT, "organizations", "ListAccounts") in ops
    assert any(c["operation"] == "ListAccounts" and c["region"] == "_discovery" for c in result.manifest["calls"])
    assert (made["prod-payments"], "sts", "AssumeRole") in ops
    assert {(t["account"], t["region"]) for t in result.manifest["tasks"]} == {
        (HOME_ACCOUNT, "eu-west-1"), (made["prod-payments"], "eu-west-1")}
    # The ListAccounts record lists every account, including those filtered out: evidence
    # of what was left out and why is in the config digest plus this record.
    snap = load_snapshot(tmp_path / "s")
    listed = next(r for r in snap.records if r.operation == "ListAccounts")
    assert {a["Name"] for a in listed.items("Accounts")} >= {"prod-payments", "prod-health", "sandbox-dev"}


def test_discovery_that_cannot_list_accounts_is_recorded_not_a_crash(moto_aws: None, tmp_path: Path) -> None:
    _organization()
    deny = Injector("before-send.organizations.ListAccounts",
                    lambda request, n: AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"},
                                                   _Raw(b'{"__type":"AccessDeniedException","message":"no"}')))
    cfg = config_from_text("version: 1\nregions: [eu-west-1]\norganization_discovery: {role_name: Audit}\n")
    result = collect(cfg, SessionFactory(max_attempts=2, hooks=[deny]), SnapshotWriter(tmp_path / "s"))
    assert not result.complete
    assert result.manifest["accounts"] == []
    # the region the organization's accounts were to be collected in is a recorded gap, with why
    assert result.manifest["tasks"] == [{"account": "organization", "region": "eu-west-1", "calls": 0, "errors": 0,
                                         "status": "not_attempted",
                                         "reason": "organizations:ListAccounts failed: AccessDeniedException: no"}]
    assert result.manifest["account_problems"] == [
        {"account": "organization", "message": "organizations:ListAccounts failed: AccessDeniedException: no"}]
    err = result.manifest["errors"][0]
    assert (err["service"], err["operation"], err["code"]) == ("organizations", "ListAccounts", "AccessDeniedException")


REGIONS_XML = (b'<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>'
               b"<regionInfo>"
               b"<item><regionName>eu-west-1</regionName><regionEndpoint>e</regionEndpoint>"
               b"<optInStatus>opt-in-not-required</optInStatus></item>"
               b"<item><regionName>af-south-1</regionName><regionEndpoint>e</regionEndpoint>"
               b"<optInStatus>not-opted-in</optInStatus></item>"
               b"<item><regionName>eu-south-1</regionName><regionEndpoint>e</regionEndpoint>"
               b"<optInStatus>opted-in</optInStatus></item>"
               b"</regionInfo></DescribeRegionsResponse>")


def test_regions_all_means_every_enabled_region(moto_aws: None, tmp_path: Path) -> None:
    # moto always lists all regions whatever their opt-in status, so the answer is faked
    # with a real AWS-shaped response: one opted-out region must be left out.
    regions = Injector("before-send.ec2.DescribeRegions",
                       lambda request, n: AWSResponse(request.url, 200, {"Content-Type": "text/xml"},
                                                      _Raw(REGIONS_XML)))
    cfg = config_from_text("version: 1\nregions: all\n")
    result = collect(cfg, SessionFactory(max_attempts=2, hooks=[regions]), SnapshotWriter(tmp_path / "s"))
    assert result.manifest["accounts"][0]["regions"] == ["eu-south-1", "eu-west-1"]
    assert [t["region"] for t in result.manifest["tasks"]] == ["eu-south-1", "eu-west-1"]
    assert any(c["operation"] == "DescribeRegions" and c["region"] == "_global" for c in result.manifest["calls"])


def test_assume_role_refused_for_one_account_keeps_the_others(moto_aws: None, tmp_path: Path) -> None:
    refuse = Injector("before-send.sts.AssumeRole",
                      lambda request, n: sts_error(403, "AccessDenied", "not trusted"),
                      match=lambda request: b"222222222222" in _body(request))
    cfg = config_from_text("version: 1\nregions: [eu-west-1]\naccounts:\n"
                           "  - {id: '111111111111', role_arn: 'arn:aws:iam::111111111111:role/A'}\n"
                           "  - {id: '222222222222', role_arn: 'arn:aws:iam::222222222222:role/A'}\n")
    result = collect(cfg, SessionFactory(max_attempts=2, hooks=[refuse]), SnapshotWriter(tmp_path / "s"))
    tasks = {t["account"]: t for t in result.manifest["tasks"]}
    assert tasks["111111111111"]["status"] == "incomplete"  # only the BPA calls moto lacks
    assert tasks["222222222222"]["status"] == "not_attempted"
    assert "sts:AssumeRole into arn:aws:iam::222222222222:role/A failed: AccessDenied: not trusted" in \
        tasks["222222222222"]["reason"]


def _body(request: Any) -> bytes:
    return request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
