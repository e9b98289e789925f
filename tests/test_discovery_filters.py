"""Organizations discovery: account selection by OU (recursive) and by account tag, the role
session's name and duration, every lookup recorded and admitted by the guard, and lookups
that fail said (never an account silently dropped, never a clean PASS)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from conftest import HOME_ACCOUNT, Injector, _Raw

from auditor.api import run_scan
from auditor.collect import guard
from auditor.collect.permissions import audited_account_policy, caller_policy
from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.config import config_from_text
from auditor.errors import InputError
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.writer import SnapshotWriter

LOOKUPS = ("ListOrganizationalUnitsForParent", "ListAccountsForParent", "ListTagsForResource")


def _org() -> dict[str, str]:
    """An organization: root > ou prod (> ou prod-eu), ou sandbox; an account in each, tagged."""
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    prod = org.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]["Id"]
    prod_eu = org.create_organizational_unit(ParentId=prod, Name="prod-eu")["OrganizationalUnit"]["Id"]
    sandbox = org.create_organizational_unit(ParentId=root, Name="sandbox")["OrganizationalUnit"]["Id"]
    ids = {"root": root, "prod": prod, "prod-eu": prod_eu, "sandbox": sandbox}
    for name, parent, tags in (("payments", prod, {"env": "prod", "team": "pay"}),
                               ("payments-eu", prod_eu, {"env": "prod", "team": "risk"}),
                               ("dev", sandbox, {"env": "dev", "team": "pay"})):
        acct = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=acct, SourceParentId=root, DestinationParentId=parent)
        org.tag_resource(ResourceId=acct, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        ids[name] = acct
    return ids


def _config(extra: str) -> str:
    return "version: 1\nregions: [eu-west-1]\norganization_discovery:\n  role_name: AuditorReadOnly\n" + extra


def _collected(result: Any) -> set[str]:
    return {a["id"] for a in result.manifest["accounts"] if not a["problem"]}


def test_org_unit_selects_the_accounts_under_it_recursively(moto_aws: None, tmp_path: Path) -> None:
    ids = _org()
    cfg = config_from_text(_config(f"  organizational_units: [{ids['prod']}]\n"))
    result = collect(cfg, SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "s"))
    assert _collected(result) == {ids["payments"], ids["payments-eu"]}   # not dev, not the management account
    assert result.manifest["account_problems"] == []
    # every lookup is evidence, recorded beside ListAccounts in the caller's discovery slot
    calls = {(c["operation"], c["region"], c["account"]) for c in result.manifest["calls"]}
    for op in ("ListOrganizationalUnitsForParent", "ListAccountsForParent"):
        assert (op, "_discovery", HOME_ACCOUNT) in calls
    snap = load_snapshot(tmp_path / "s")
    asked = {r.params.get("ParentId") for r in snap.records if r.operation == "ListAccountsForParent"}
    assert asked == {ids["prod"], ids["prod-eu"]}


def test_root_selects_every_account(moto_aws: None, tmp_path: Path) -> None:
    ids = _org()
    cfg = config_from_text(_config(f"  organizational_units: [{ids['root']}]\n  exclude: ['{HOME_ACCOUNT}']\n"))
    result = collect(cfg, SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "s"))
    assert _collected(result) == {ids["payments"], ids["payments-eu"], ids["dev"]}


def test_account_tags_every_key_must_match_one_of_its_values(moto_aws: None, tmp_path: Path) -> None:
    ids = _org()
    cfg = config_from_text(_config("  account_tags: {env: [prod, staging], team: pay}\n"))
    result = collect(cfg, SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "s"))
    assert _collected(result) == {ids["payments"]}
    snap = load_snapshot(tmp_path / "s")
    looked_up = {r.params["ResourceId"] for r in snap.records if r.operation == "ListTagsForResource"}
    assert {ids["payments"], ids["payments-eu"], ids["dev"]} <= looked_up


def test_org_unit_and_tags_together(moto_aws: None, tmp_path: Path) -> None:
    ids = _org()
    cfg = config_from_text(_config(f"  organizational_units: [{ids['prod']}]\n  account_tags: {{team: risk}}\n"))
    result = collect(cfg, SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "s"))
    assert _collected(result) == {ids["payments-eu"]}


def test_unknown_org_unit_is_a_recorded_error_and_never_a_pass(moto_aws: None, tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    ids = _org()
    missing = "ou-zzzz-zzzzzzzz"
    cfg = config_from_text(_config(f"  organizational_units: [{ids['prod']}, {missing}]\n"))
    with caplog.at_level(logging.ERROR, logger="auditor"):
        result = run_scan(cfg, out=tmp_path / "run", sessions=SessionFactory(max_attempts=2), formats=())
    # an error-level event, so that even `-q` says the organisation was not wholly covered
    failed = [r for r in caplog.records if getattr(r, "event", "") == "discovery.failed"]
    assert len(failed) == 1 and failed[0].levelno == logging.ERROR
    assert missing in failed[0].fields["reason"] and failed[0].fields["accounts_decided"] == 2  # type: ignore[attr-defined]
    manifest = result.collection.manifest if result.collection else {}
    # the OU that could be listed is still audited
    assert _collected(result.collection) == {ids["payments"], ids["payments-eu"]}
    errors = [e for e in manifest["errors"] if e["operation"] == "ListAccountsForParent"]
    assert errors and errors[0]["code"] == "ParentNotFoundException"
    problem = manifest["account_problems"][0]
    assert problem["account"] == "organization" and missing in problem["message"]
    assert "could not be decided" in problem["message"]
    assert not manifest["complete"]
    doc = result.document
    assert not doc["summary"]["complete"] and result.exit_code in (3, 4)
    assert any(g["account"] == "organization" and missing in g["reason"] for g in doc["not_assessed"])


def _denied(operation: str) -> Injector:
    return Injector(f"before-send.organizations.{operation}",
                    lambda request, n: AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"},
                                                   _Raw(b'{"__type":"AccessDeniedException","message":"no"}')))


def test_denied_ou_listing_leaves_the_run_incomplete(moto_aws: None, tmp_path: Path) -> None:
    ids = _org()
    cfg = config_from_text(_config(f"  organizational_units: [{ids['prod']}]\n"))
    deny = _denied("ListOrganizationalUnitsForParent")
    result = collect(cfg, SessionFactory(max_attempts=2, hooks=[deny]), SnapshotWriter(tmp_path / "s"))
    assert _collected(result) == {ids["payments"]}   # prod-eu's account could not be found: said below
    assert not result.complete
    reason = result.manifest["account_problems"][0]["message"]
    assert "organizational units under" in reason and "AccessDeniedException" in reason
    assert {"account": "organization", "region": "eu-west-1", "calls": 0, "errors": 0, "status": "not_attempted",
            "reason": reason} in result.manifest["tasks"]


def test_an_account_whose_tags_cannot_be_read_is_named_not_dropped(moto_aws: None, tmp_path: Path) -> None:
    ids = _org()
    cfg = config_from_text(_config("  account_tags: {env: prod}\n"))
    deny = _denied("ListTagsForResource")
    result = collect(cfg, SessionFactory(max_attempts=2, hooks=[deny]), SnapshotWriter(tmp_path / "s"))
    accounts = {a["id"]: a for a in result.manifest["accounts"]}
    assert {ids["payments"], ids["payments-eu"], ids["dev"], HOME_ACCOUNT} <= set(accounts)
    for acct in (ids["payments"], ids["dev"]):
        assert "could not be decided" in accounts[acct]["problem"]
        assert "ListTagsForResource failed: AccessDeniedException" in accounts[acct]["problem"]
    assert _collected(result) == set()
    assert not result.complete
    # nothing was assumed in an undecided account
    assert not [c for c in result.manifest["calls"] if c["operation"] == "AssumeRole"]


def test_session_name_and_duration_reach_assume_role(moto_aws: None, tmp_path: Path) -> None:
    ids = _org()
    asked: list[dict[str, Any]] = []

    def spy(session: Any) -> None:
        session.register("provide-client-params.sts.AssumeRole", lambda params, **_: asked.append(dict(params)))

    cfg = config_from_text(_config(f"  organizational_units: [{ids['sandbox']}]\n  session_name: ci-audit@nightly\n"
                                   "  session_duration: 1800\n"))
    result = collect(cfg, SessionFactory(max_attempts=2, hooks=[spy]), SnapshotWriter(tmp_path / "s"))
    assert _collected(result) == {ids["dev"]}
    assert asked and {(a["RoleSessionName"], a["DurationSeconds"]) for a in asked} == {("ci-audit@nightly", 1800)}
    ident = next(a for a in result.manifest["accounts"] if a["id"] == ids["dev"])["identity"]
    assert ident["Arn"].endswith("assumed-role/AuditorReadOnly/ci-audit@nightly")


def test_default_session_has_no_duration(moto_aws: None, tmp_path: Path) -> None:
    ids = _org()
    asked: list[dict[str, Any]] = []

    def spy(session: Any) -> None:
        session.register("provide-client-params.sts.AssumeRole", lambda params, **_: asked.append(dict(params)))

    cfg = config_from_text(_config(f"  organizational_units: [{ids['sandbox']}]\n"))
    collect(cfg, SessionFactory(max_attempts=2, hooks=[spy]), SnapshotWriter(tmp_path / "s"))
    assert asked and all("DurationSeconds" not in a and a["RoleSessionName"].startswith("auditor-") for a in asked)


def test_lookups_are_in_the_catalogue_the_guard_and_the_caller_policy_only() -> None:
    caller = {a for st in caller_policy()["Statement"] for a in st["Action"]}
    audited = set(audited_account_policy()["Statement"][0]["Action"])
    for op in LOOKUPS:
        assert guard.is_allowed("organizations", op)
        assert f"organizations:{op}" in caller and f"organizations:{op}" not in audited
    assert not guard.is_allowed("organizations", "DescribeOrganizationalUnit")   # not in the catalogue


@pytest.mark.parametrize(("extra", "where", "says"), [
    ("  organizational_units: [ou-bad]\n", "organization_discovery.organizational_units[0]", "organizational unit id"),
    ("  account_tags: {env: []}\n", "organization_discovery.account_tags.env", "string or a list"),
    ("  session_name: 'a b'\n", "organization_discovery.session_name", "2 to 64"),
    ("  session_duration: 60\n", "organization_discovery.session_duration", "out of range (minimum 900)"),
    ("  session_duration: 50000\n", "organization_discovery.session_duration", "out of range (maximum 43200)"),
])
def test_bad_discovery_keys_are_input_errors(extra: str, where: str, says: str) -> None:
    with pytest.raises(InputError) as err:
        config_from_text(_config(extra), "audit.yaml")
    text = str(err.value)
    assert where in text and says in text and "audit.yaml:" in text
