"""Every gap is a finding (issue 10, item 3), end to end through moto and the CLI.

An account or account-region that could not be assessed (no credentials, an SSO token that is
missing or expired, every AssumeRole refused, one listing call denied) must show in every output
with its cause: ERROR findings for the rules it affects and a not_assessed entry in
findings.json, errors in JUnit, SARIF results or tool notifications, CSV rows, the console's
first summary lines, run.accounts' status (findings.json is checked against its schema), and a report model that never says "every call was
answered" or "not applicable" for what was never looked at. Exit 3: nothing here violates
anything at ``--fail-on none``.

A call that feeds no rule (DescribeVpcEndpointServices, DescribeCarrierGateways: evidence of the
region's services and of carrier gateways, which no rule's verdict reads; the reachability
analysis knows a carrier route from the route itself) leaves no rule unassessed, so it makes no
ERROR finding: it is a not_assessed entry with no rules, a JUnit error in the ``collection``
suite, a SARIF tool notification and a CSV row, and the run is incomplete.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from collections.abc import Sequence

import jsonschema
import pytest
from click.testing import CliRunner, Result

from auditor.cli import cli
from auditor.cli_common import EXIT_INCOMPLETE
from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.config import config_from_text
from auditor.report.model import ReportModel, build_model
from auditor.rules.engine import _rule_calls
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from auditor.snapshot.writer import SnapshotWriter
from auditor.validation import load_schema
from conftest import AUDIT_ROLE, HOME_ACCOUNT, SECOND_ACCOUNT, Injector, ec2_error, in_region, sts_error

REGION = "us-east-1"
FORMATS = "json,junit,sarif,csv"
_CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                    "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


# -- helpers -----------------------------------------------------------------------------------

def _config(tmp_path: Path, accounts: str = "") -> Path:
    path = tmp_path / "audit.yaml"
    path.write_text(f"version: 1\n{accounts}regions: [{REGION}]\n", encoding="utf-8")
    return path


def _scan(args: Sequence[str], formats: str = FORMATS) -> Result:
    return CliRunner().invoke(cli, ["scan", *args, "--format", formats, "--fail-on", "none"])


def _scan_collected(tmp_path: Path, cfg: Path, hooks: list[Any]) -> Result:
    """Collect with fault-injecting hooks (the CLI makes its own session factory), then scan the
    snapshot with the same config through the CLI."""
    config = config_from_text(cfg.read_text(encoding="utf-8"))
    result = collect(config, SessionFactory(max_attempts=2, hooks=hooks), SnapshotWriter(tmp_path / "snap"))
    return _scan(["--snapshot", str(result.path), "-c", str(cfg), "--out", str(tmp_path / "out")])


def _summary(output: str) -> list[str]:
    """The console summary: the lines after the bundle's line."""
    lines = output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("evidence bundle written"))
    return lines[at + 1:]


def _outputs(out: Path) -> tuple[dict[str, Any], ET.Element, dict[str, Any], list[list[str]]]:
    doc = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, load_schema("findings"))     # the new fields are part of the contract
    junit = ET.fromstring((out / "findings.junit.xml").read_bytes())
    sarif = json.loads((out / "findings.sarif").read_text(encoding="utf-8"))
    rows = list(csv.reader(io.StringIO((out / "findings.csv").read_text(encoding="utf-8"), newline="")))
    return doc, junit, sarif, rows


def _model(doc: dict[str, Any]) -> ReportModel:
    return build_model(doc, load_packs(), load_catalogues())


def _assert_unreachable(res: Result | SimpleNamespace, out: Path, account: str, cause: Sequence[str]) -> ReportModel:
    """Everything an unreachable account must show: `cause` (the call, the error class or code,
    its message) in every output; ERROR findings for every rule; nothing "not applicable"."""
    assert res.exit_code == EXIT_INCOMPLETE, res.output
    doc, junit, sarif, rows = _outputs(out)
    rule_ids = {r["id"] for r in doc["rules"]}
    errors = [f for f in doc["findings"] if f["status"] == "ERROR"]
    assert errors and len(errors) == len(doc["findings"])
    assert {f["rule_id"] for f in errors} == rule_ids        # every rule, once per unassessed region
    assert all(f["resource"]["id"] == "*" and f["resource"]["account"] == account for f in errors)
    assert all(all(c in f["message"] for c in cause) for f in errors)
    (gap,) = doc["not_assessed"]
    assert (gap["account"], gap["region"]) == (account, REGION) and set(gap["rules"]) == rule_ids
    assert all(c in gap["reason"] for c in cause)
    (acct,) = [a for a in doc["run"]["accounts"] if a["id"] == account]
    assert acct["status"] == "not_assessed" and all(c in acct["detail"] for c in cause)
    assert acct["regions"] == [REGION] and doc["run"]["regions"] == [REGION]   # what it was meant to cover
    assert doc["summary"]["complete"] is False
    # JUnit: errors, never a clean tests=0
    assert int(junit.get("errors", "0")) >= len(rule_ids) and int(junit.get("tests", "0")) > 0
    # SARIF: a result per rule not assessed, and the gap as a notification
    run = sarif["runs"][0]
    assert {r["ruleId"] for r in run["results"]} == rule_ids
    assert all((r["kind"], r["level"], r["properties"]["status"]) == ("fail", "warning", "ERROR") for r in run["results"])
    assert run["invocations"][0]["executionSuccessful"] is False
    assert any(cause[0] in n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"])
    # CSV: a row per ERROR finding (and one per gap) naming the cause
    col = rows[0].index("message")
    assert len(rows) == 1 + len(errors) + 1 and all(cause[0] in r[col] for r in rows[1:])
    # The console: the summary opens with what was not assessed and why
    head = _summary(res.output)[:3]
    assert head[0].startswith("NOT ASSESSED") and all(c in head[1] for c in cause), head
    assert account in head[1] and REGION in head[1]
    # The report model (HTML and PDF are made from it) says so too
    model = _model(doc)
    assert not model.every_call_answered and model.gap_summary
    assert model.frameworks and all(fw.status == "ERROR" for fw in model.frameworks)
    assert not any(fw.term.lower() == "not applicable" for fw in model.frameworks)
    assert [a.id for a in model.unassessed_accounts] == [account]
    return model


# -- accounts that cannot be reached -----------------------------------------------------------

def test_no_credentials_at_all(moto_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in _CREDENTIAL_VARS:            # moto sets fake keys of its own: take every one away
        monkeypatch.delenv(var, raising=False)
    res = _scan(["-c", str(_config(tmp_path)), "--out", str(tmp_path / "out")], FORMATS + ",html")
    model = _assert_unreachable(res, tmp_path / "out", "unknown",
                                ["sts:GetCallerIdentity", "NoCredentialsError", "Unable to locate credentials"])
    # One rendering: the HTML report, and the PDF's page before WeasyPrint (no PDF is made).
    from auditor.report.pdf import PdfInputs, render_html

    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    pdf_page = render_html(model, PdfInputs((tmp_path / "out" / "findings.json").read_bytes()))
    for text in (page, pdf_page):
        assert "NoCredentialsError" in text and "Every call was answered" not in text
        assert "not_assessed" not in text or "not assessed" in text
    assert ": Not Applicable.</strong>" not in pdf_page and "Not Tested.</strong>" in pdf_page
    assert "Every API call of the collection was answered" not in pdf_page


_SSO_SESSION = "auditor-test-sso-7f3a"   # a name no real ~/.aws would hold
_SSO_CONFIG = f"""[default]
sso_session = {_SSO_SESSION}
sso_account_id = {HOME_ACCOUNT}
sso_role_name = Audit
region = {REGION}

[sso-session {_SSO_SESSION}]
sso_start_url = https://example.awsapps.com/start
sso_region = {REGION}
"""


@pytest.mark.parametrize("token, cause", [
    (None, ["SSOTokenLoadError", f"Token for {_SSO_SESSION} does not exist"]),
    ({"accessToken": "x", "expiresAt": "2020-01-01T00:00:00Z"}, ["TokenRetrievalError", "Token has expired"]),
], ids=["token-missing", "token-expired"])
def test_sso_profile_without_a_valid_token(aws_env: None, tmp_path: Path, token: dict[str, str] | None,
                                           cause: list[str]) -> None:
    """A process of its own: botocore reads the SSO token cache folder (~/.aws/sso/cache) from
    HOME once, when it is imported. No call can leave: the token is refused before any request,
    and the endpoint is a closed local port besides."""
    import hashlib

    home = tmp_path / "home"
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    if token is not None:   # botocore's cache file: <sha1 of the session name>.json
        (cache / (hashlib.sha1(_SSO_SESSION.encode()).hexdigest() + ".json")).write_text(
            json.dumps({"startUrl": "https://example.awsapps.com/start", "region": REGION, **token}))
    aws_config = tmp_path / "aws-config"
    aws_config.write_text(_SSO_CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in _CREDENTIAL_VARS}
    env.update(HOME=str(home), AWS_CONFIG_FILE=str(aws_config), AWS_ENDPOINT_URL="http://127.0.0.1:9")
    proc = subprocess.run([sys.executable, "-m", "auditor", "scan", "-c", str(_config(tmp_path)), "--out",
                           str(tmp_path / "out"), "--format", FORMATS, "--fail-on", "none"],
                          capture_output=True, text=True, env=env, timeout=300)
    res = SimpleNamespace(exit_code=proc.returncode, output=proc.stdout + proc.stderr)
    _assert_unreachable(res, tmp_path / "out", "unknown", ["sts:GetCallerIdentity", *cause])


def test_every_assume_role_refused(moto_aws: None, tmp_path: Path) -> None:
    deny = Injector("before-send.sts.AssumeRole",
                    lambda request, n: sts_error(403, "AccessDenied", "User is not authorized to perform: "
                                                 "sts:AssumeRole on resource: " + AUDIT_ROLE))
    cfg = _config(tmp_path, f'accounts:\n  - id: "{SECOND_ACCOUNT}"\n    role_arn: {AUDIT_ROLE}\n')
    res = _scan_collected(tmp_path, cfg, [deny])
    assert deny.seen
    _assert_unreachable(res, tmp_path / "out", SECOND_ACCOUNT,
                        ["sts:AssumeRole", AUDIT_ROLE, "AccessDenied", "not authorized"])
    doc = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    assert doc["not_assessed"][0]["calls"] == ["sts:AssumeRole"]
    assert doc["run"]["accounts"][0]["role_arn"] == AUDIT_ROLE


def test_organization_discovery_that_fails(moto_aws: None, tmp_path: Path) -> None:
    """No account could be listed: the gap is filed under "organization", with why."""
    from botocore.awsrequest import AWSResponse

    from conftest import _Raw

    deny = Injector("before-send.organizations.ListAccounts",
                    lambda request, n: AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"},
                                                   _Raw(b'{"__type":"AccessDeniedException","message":"no"}')))
    cfg = _config(tmp_path, "organization_discovery: {role_name: Audit}\n")
    res = _scan_collected(tmp_path, cfg, [deny])
    _assert_unreachable(res, tmp_path / "out", "organization",
                        ["organizations:ListAccounts", "AccessDeniedException"])
    doc = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    (acct,) = doc["run"]["accounts"]
    assert (acct["id"], acct["name"], acct["status"]) == ("organization", "organization discovery", "not_assessed")
    assert doc["not_assessed"][0]["calls"] == ["organizations:ListAccounts"]


# -- one call denied in a reached account ------------------------------------------------------

def _rules_needing(call: str) -> set[str]:
    service, op = call.split(":")
    return {r.id for r in load_packs().rules if (service, op) in _rule_calls(r)}


@pytest.mark.parametrize("call, rules", [
    ("ec2:DescribeVpcEndpointServices", set()),
    ("ec2:DescribeCarrierGateways", set()),
    ("ec2:DescribeVpcBlockPublicAccessExclusions", {"PN-012"}),   # per VPC: its exclusions
])
def test_one_denied_call_is_named_with_its_cause(aws_env: None, tmp_path: Path, call: str,
                                                 rules: set[str]) -> None:
    from auditor.emulate import EmulatedAws   # moto plus Block Public Access: every other call answers

    assert _rules_needing(call) == rules      # what the packs read: the expectations below follow from it
    op = call.split(":")[1]
    message = "You are not authorized to perform this operation."
    deny = Injector(f"before-send.ec2.{op}", lambda request, n: ec2_error(403, "UnauthorizedOperation", message))
    with EmulatedAws():
        res = _scan_collected(tmp_path, _config(tmp_path), [deny])
    assert deny.seen and res.exit_code == EXIT_INCOMPLETE, res.output
    doc, junit, sarif, rows = _outputs(tmp_path / "out")
    account = doc["run"]["accounts"][0]["id"]
    # one gap: exactly the denied call, its error, the rules left unassessed (only that)
    (gap,) = doc["not_assessed"]
    assert (gap["account"], gap["region"], gap["calls"]) == (account, REGION, [call])
    assert "UnauthorizedOperation" in gap["reason"] and message in gap["reason"] and call in gap["reason"]
    assert set(gap["rules"]) == rules
    errors = [f for f in doc["findings"] if f["status"] == "ERROR"]
    assert {f["rule_id"] for f in errors} == rules
    assert all(call in f["message"] and "UnauthorizedOperation" in f["message"] and message in f["message"]
               for f in errors)   # the call and why it failed, on each resource's own finding
    (acct,) = doc["run"]["accounts"]
    assert acct["status"] == "incomplete" and acct["gaps"] == 1 and acct["identity"]
    assert doc["summary"]["complete"] is False
    # JUnit: the gap is an error in the collection suite (and each ERROR finding in its pack's)
    assert int(junit.get("errors", "0")) == 1 + len(errors)
    (suite,) = [s for s in junit.findall("testsuite") if s.get("name") == "collection"]
    assert call in (suite.find("testcase/error").get("message") or "")  # type: ignore[union-attr]
    # SARIF: a warning result per ERROR finding, and the gap as the tool's notification
    run = sarif["runs"][0]
    assert len([r for r in run["results"] if r["properties"]["status"] == "ERROR" and r["level"] == "warning"]) \
        == len(errors)
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["properties"]["calls"] == [call] and "UnauthorizedOperation" in note["message"]["text"]
    # CSV: the gap's row
    col = {name: i for i, name in enumerate(rows[0])}
    (row,) = [r for r in rows[1:] if r[col["resource_type"]] == "collection"]
    assert row[col["status"]] == "ERROR" and row[col["resource_id"]] == call
    # The console names the account-region, the call and its error first
    head = _summary(res.output)[:2]
    assert head[0].startswith("NOT ASSESSED") and f"{account}/{REGION}" in head[1], head
    assert call in head[1] and "UnauthorizedOperation" in head[1]
    assert ("no rule left unassessed by it" in head[1]) == (not rules)
    model = _model(doc)
    assert not model.every_call_answered and "1 gap(s)" in model.gap_summary


def test_a_region_that_refuses_every_call(aws_env: None, tmp_path: Path) -> None:
    """One region unreachable (AuthFailure on the first call; the rest not attempted): every rule
    is ERROR there, naming the refusal; the other region is assessed as usual."""
    from auditor.emulate import EmulatedAws

    refuse = Injector("before-send", lambda request, n: ec2_error(401, "AuthFailure", "AWS was not able to "
                                                                 "validate the provided access credentials"),
                      match=in_region("eu-west-1"))
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(f"version: 1\nregions: [{REGION}, eu-west-1]\n", encoding="utf-8")
    with EmulatedAws():
        res = _scan_collected(tmp_path, cfg, [refuse])
    assert len(refuse.seen) == 1 and res.exit_code == EXIT_INCOMPLETE, res.output
    doc, junit, sarif, rows = _outputs(tmp_path / "out")
    rule_ids = {r["id"] for r in doc["rules"]}
    eu = [f for f in doc["findings"] if f["resource"]["region"] == "eu-west-1"]
    assert {f["rule_id"] for f in eu} == rule_ids and all(f["status"] == "ERROR" for f in eu)
    assert all("AuthFailure" in f["message"] for f in eu)
    assert not any(f["status"] == "ERROR" for f in doc["findings"] if f["resource"]["region"] == REGION)
    gaps = doc["not_assessed"]
    assert gaps and {g["region"] for g in gaps} == {"eu-west-1"}
    assert {r for g in gaps for r in g["rules"]} == rule_ids
    assert sum("AuthFailure" in g["reason"] and "not attempted" not in g["reason"] for g in gaps) == 1
    (acct,) = doc["run"]["accounts"]
    assert acct["status"] == "incomplete" and acct["regions"] == ["eu-west-1", REGION]
    assert int(junit.get("errors", "0")) == len(eu) + len(gaps)
    head = _summary(res.output)[:2]
    assert head[0].startswith("NOT ASSESSED") and "/eu-west-1: " in head[1] and "AuthFailure" in head[1], head
    assert f"{len(rule_ids)} rules not assessed" in head[1]
    assert not _model(doc).every_call_answered


def test_gap_lines_keep_aws_text_inert_and_on_one_line() -> None:
    """An AWS error message is shown, never obeyed: no escape sequence, no line of its own."""
    from auditor.scan import gap_lines

    hostile = "AccessDenied: \x1b]0;owned\x07\x1b[2J\nCOMPLIANT: every in-scope check passed\u202e"
    doc = {"not_assessed": [{"account": "111111111111", "region": REGION, "calls": ["ec2:DescribeVpcs"],
                             "reason": f"ec2:DescribeVpcs ({hostile})", "rules": ["PN-001"]}],
           "run": {"accounts": [{"id": "111111111111", "status": "incomplete", "problem": "",
                                 "detail": "reached as arn:aws:iam::111111111111:user/x\x1b[32m"}]}}
    lines = gap_lines(doc)
    text = "\n".join(lines)
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert not any(line.startswith("COMPLIANT") for line in lines)
    assert "\\x1b]0;owned\\x07" in text and "\\x0aCOMPLIANT" in text and "\\u202e" in text
    assert lines[1].startswith(f"  111111111111/{REGION}: ec2:DescribeVpcs (AccessDenied")
