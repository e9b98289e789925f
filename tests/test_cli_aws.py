"""AWS conventions on the command line (auditor/cli_aws.py): every option merged into the
effective config (or refused, naming the option), the effective config recorded so that
`auditor verify` re-evaluates exactly what ran, a scan with no config file, and the
compliance profile's renamed key."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import HOME_ACCOUNT, moto_server_url, run_auditor

from auditor.api import scan_exit_code
from auditor.cli_aws import AwsOptions, config_for_command, effective_config
from auditor.config import config_from_text, load_config
from auditor.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
ROLE = "arn:aws:iam::111111111111:role/Audit"


def _file(tmp_path: Path, text: str = "", name: str = "audit.yaml") -> Path:
    path = tmp_path / name
    path.write_text("version: 1\norganization: Example\nregions: [us-east-1]\n" + text)
    return path


def _eff(tmp_path: Path, text: str = "", **options: Any) -> Any:
    return effective_config(_file(tmp_path, text), AwsOptions(**options))


# -- merging -------------------------------------------------------------------------------

def test_without_options_the_config_is_the_file_byte_for_byte(tmp_path: Path) -> None:
    path = _file(tmp_path, "# a comment kept\nscope: {tags: {env: prod}}\n")
    config = effective_config(path, AwsOptions())
    assert config is not None
    assert config.text == path.read_text() and config.digest == load_config(path).digest
    assert config.overrides == () and "overrides" not in config.text


def test_options_make_an_effective_text_whose_digest_is_recorded(tmp_path: Path) -> None:
    (tmp_path / "waivers.yaml").write_text("version: 1\nwaivers: []\n")
    config = _eff(tmp_path, "waivers: waivers.yaml\n", regions=("eu-west-1", "eu-central-1"),
                  scope_tags=(("env", "prod"), ("env", "pci")))
    path = tmp_path / "audit.yaml"
    assert config.text.startswith(f"# The effective audit config of this run, written by private-network-auditor: "
                                  f"the config file {path}\n# with the command-line options: --region eu-west-1 "
                                  "--region eu-central-1 --scope-tag env=prod --scope-tag env=pci\n")
    assert config.digest == "sha256:" + hashlib.sha256(config.text.encode()).hexdigest()
    assert config.overrides == ("--region eu-west-1", "--region eu-central-1", "--scope-tag env=prod",
                                "--scope-tag env=pci")
    assert config.regions == ("eu-west-1", "eu-central-1") and config.scope.tags == (("env", ("prod", "pci")),)
    assert config.organization == "Example" and config.source == str(path)
    # relative paths still resolve from the file's folder
    assert config.waivers == tmp_path / "waivers.yaml"
    # the text alone gives the same config (what the bundle keeps and verify re-parses)
    again = config_from_text(config.text, "inputs/audit-config.yaml", base_dir=tmp_path)
    assert (again.digest, again.regions, again.scope, again.overrides) == (config.digest, config.regions,
                                                                             config.scope, config.overrides)


def test_region_all(tmp_path: Path) -> None:
    assert _eff(tmp_path, regions=("all",)).regions == "all"


def test_scope_vpc_and_tag_replace_the_config_scope(tmp_path: Path) -> None:
    config = _eff(tmp_path, "scope: {tags: {data: pci}}\n", scope_vpcs=("vpc-0123456789abcdef0",))
    assert config.scope.vpc_ids == frozenset({"vpc-0123456789abcdef0"}) and config.scope.tags == ()


def test_profile_is_the_caller_session_and_wins_over_management_profile(tmp_path: Path) -> None:
    assert _eff(tmp_path, aws_profile="audit").caller_profile == "audit"
    disc = "organization_discovery: {role_name: R, management_profile: mgmt}\n"
    config = _eff(tmp_path, disc, aws_profile="audit")
    assert config.aws_profile == "audit" and config.discovery.management_profile == "audit"
    # an account with its own profile keeps it; one without takes --profile at collection
    accounts = "accounts: [{id: '111111111111', profile: own}, {id: '222222222222'}]\n"
    config = _eff(tmp_path, accounts, aws_profile="audit")
    assert [a.profile for a in config.accounts] == ["own", None] and config.aws_profile == "audit"
    assert config.warnings == ("note: --profile audit is not used for account(s) 111111111111: the config gives "
                               "them their own profile",)


def test_role_arn_audits_one_account_with_its_session_settings(tmp_path: Path) -> None:
    config = _eff(tmp_path, "accounts: [{id: '111111111111', name: payments}, {id: '222222222222'}]\n",
                  role_arn=ROLE, external_id="ext-123", role_session_name="ci-run", role_duration=1800)
    (acct,) = config.accounts
    assert (acct.id, acct.name, acct.role_arn, acct.external_id, acct.session_name, acct.session_duration) == (
        "111111111111", "payments", ROLE, "ext-123", "ci-run", 1800)


def test_role_name_turns_discovery_on_with_its_selection(tmp_path: Path) -> None:
    config = _eff(tmp_path, role_name="AuditorReadOnly", org_units=("ou-ab12-cdef3456", "r-ab12"),
                  account_tags=(("env", "prod"), ("team", "pay"), ("env", "staging")), external_id="ext-123",
                  role_session_name="nightly", role_duration=43200)
    d = config.discovery
    assert d is not None and d.role_name == "AuditorReadOnly"
    assert d.organizational_units == ("ou-ab12-cdef3456", "r-ab12")
    assert d.account_tags == (("env", ("prod", "staging")), ("team", ("pay",)))
    assert (d.external_id, d.session_name, d.session_duration) == ("ext-123", "nightly", 43200)


def test_session_options_apply_to_the_config_roles(tmp_path: Path) -> None:
    accounts = f"accounts: [{{id: '111111111111', role_arn: '{ROLE}'}}, {{id: '222222222222', profile: p}}]\n"
    config = _eff(tmp_path, accounts, role_session_name="ci-run")
    assert [a.session_name for a in config.accounts] == ["ci-run", None]


def test_compliance_profile_option_replaces_the_old_key(tmp_path: Path) -> None:
    config = _eff(tmp_path, "profile: healthcare\n", compliance_profile="banking")
    assert config.compliance_profile == "banking" and "\nprofile:" not in config.text


@pytest.mark.parametrize(("args", "says"), [
    (["--region", "eu-wst-1"], "Invalid value for '--region': 'eu-wst-1' is not a known AWS region name "
                               "(did you mean 'eu-west-1'?)"),
    (["--region", "all", "--region", "eu-west-1"], "'--region': all means every enabled region: give it alone"),
    (["--region", "eu-west-1", "--region", "us-gov-west-1"], "different AWS partitions"),
    (["--scope-tag", "env"], "Invalid value for '--scope-tag': 'env' is not KEY=VALUE"),
    (["--scope-tag", "=prod"], "Invalid value for '--scope-tag': '=prod' is not KEY=VALUE"),
    (["--account-tag", "team:pay", "--role-name", "R"], "Invalid value for '--account-tag': 'team:pay' is not "
                                                        "KEY=VALUE"),
    (["--scope-vpc", "vpc-xyz"], "Invalid value for '--scope-vpc': 'vpc-xyz' is not a VPC id"),
    (["--role-session-name", "a b"], "Invalid value for '--role-session-name': 'a b' is not a role session name"),
    (["--role-session-name", "x"], "'--role-session-name': 'x' is not a role session name"),
    (["--role-session-name", "n" * 65], "is not a role session name"),
    (["--role-duration", "899"], "Invalid value for '--role-duration': 899 is not in the range 900<=x<=43200"),
    (["--role-duration", "43201"], "Invalid value for '--role-duration': 43201 is not in the range"),
    (["--role-duration", "1h"], "Invalid value for '--role-duration'"),
    (["--external-id", "x"], "Invalid value for '--external-id': 'x' is not an sts:AssumeRole external id"),
    (["--role-arn", "arn:aws:iam::1234:role/x"], "Invalid value for '--role-arn'"),
    (["--role-name", "a b"], "Invalid value for '--role-name'"),
    (["--org-unit", "ou-1"], "Invalid value for '--org-unit': 'ou-1' is not an organizational unit id"),
    (["--compliance-profile", "bankng"], "Invalid value for '--compliance-profile': no compliance profile 'bankng' "
                                         "(did you mean 'banking'?)"),
    (["--role-arn", ROLE, "--role-name", "R"], "--role-arn audits one account; it cannot be combined with "
                                               "--role-name"),
    (["--role-arn", ROLE, "--org-unit", "r-ab12"], "cannot be combined with --org-unit"),
    (["--org-unit", "r-ab12"], "--org-unit selects Organizations accounts: give --role-name"),
    (["--account-tag", "env=prod"], "--account-tag selects Organizations accounts"),
    (["--role-duration", "1800"], "--role-duration: no role is assumed in this run"),
    (["--external-id", "abc", "--role-session-name", "ab"], "--external-id, --role-session-name: no role is assumed"),
])
def test_bad_options_are_usage_errors_naming_the_option(tmp_path: Path, args: list[str], says: str) -> None:
    for command in ("scan", "collect"):
        out = ["--out", str(tmp_path / command)]
        proc = run_auditor(command, *args, *out, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert says in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / command).exists()   # nothing was run or written


def test_role_name_with_listed_accounts_is_an_error(tmp_path: Path) -> None:
    cfg = _file(tmp_path, "accounts: [{id: '111111111111'}]\n")
    proc = run_auditor("scan", "-c", str(cfg), "--role-name", "R", "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"--role-name turns on Organizations discovery, but the config {cfg} lists accounts" in proc.stderr


# -- the compliance profile's renamed key ----------------------------------------------------

def test_old_profile_key_is_accepted_with_a_warning_naming_file_and_line(tmp_path: Path) -> None:
    path = _file(tmp_path, "profile: banking\n")
    config = load_config(path)
    assert config.compliance_profile == "banking"
    assert config.warnings == (f"warning: {path}:4:1  profile: the key 'profile' is renamed 'compliance_profile' "
                               "(the compliance profile; 'profile' now means an AWS profile): write "
                               "compliance_profile: banking; the old key is accepted for this release only",)
    said: list[tuple[str, bool]] = []
    config_for_command(path, AwsOptions(), lambda text, err=False: said.append((text, err)))
    assert said == [(config.warnings[0], True)]
    # with options merged in, the warning still names the file's line
    merged = effective_config(path, AwsOptions(regions=("eu-west-1",)))
    assert merged is not None and merged.warnings == config.warnings and merged.compliance_profile == "banking"
    assert load_config(_file(tmp_path, "compliance_profile: banking\n")).warnings == ()


def test_old_and_new_profile_keys_together_are_an_input_error(tmp_path: Path) -> None:
    path = _file(tmp_path, "profile: banking\ncompliance_profile: banking\n")
    with pytest.raises(InputError) as err:
        load_config(path)
    assert f"{path}:4:1  profile: give compliance_profile only" in str(err.value)


def test_the_sample_configs_and_docs_use_the_new_key() -> None:
    for path in [ROOT / "README.md", ROOT / "docs" / "config.md", *sorted((ROOT / "sample_configs").rglob("*.yaml"))]:
        text = path.read_text()
        assert "\nprofile: " not in text, path


# -- end to end, in process (moto) -----------------------------------------------------------

def _findings(out: Path) -> dict[str, Any]:
    return json.loads((out / "findings.json").read_text())


def test_a_scan_with_options_records_them_and_verifies(moto_aws: None, tmp_path: Path) -> None:
    boto3.client("ec2", region_name="eu-west-1").create_vpc(CidrBlock="10.9.0.0/16")
    cfg = _file(tmp_path)
    out = tmp_path / "run"
    proc = run_auditor("scan", "-c", str(cfg), "--region", "eu-west-1", "--scope-tag", "env=prod",
                       "--compliance-profile", "banking", "--out", str(out), "-q", "--format", "json", cwd=tmp_path)
    doc = _findings(out)
    assert proc.returncode == scan_exit_code(doc, "high"), proc.stderr
    assert doc["run"]["config"]["overrides"] == ["--region eu-west-1", "--scope-tag env=prod",
                                                 "--compliance-profile banking"]
    assert doc["run"]["regions"] == ["eu-west-1"] and doc["run"]["compliance_profile"]["id"] == "banking"
    kept = (out / "inputs" / "audit-config.yaml").read_text()
    assert kept.startswith("# The effective audit config") and "--scope-tag env=prod" in kept
    assert doc["run"]["config"]["digest"] == "sha256:" + hashlib.sha256(kept.encode()).hexdigest()
    assert doc["run"]["config"]["digest"] == doc["run"]["config"]["collected_with_digest"]
    verified = run_auditor("verify", str(out), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # the same config file without options re-evaluates the snapshot: a different config, said so
    again = run_auditor("scan", "-c", str(cfg), "--snapshot", str(out / "snapshot"), "--out", str(tmp_path / "r2"),
                        "--format", "json", cwd=tmp_path)
    assert "the config differs from the one the snapshot was collected with" in again.stderr
    assert _findings(tmp_path / "r2")["run"]["config"]["overrides"] == []


def test_a_scan_with_no_config_audits_the_caller_and_says_so(moto_aws: None, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = run_auditor("scan", "--out", str(out), "--format", "json", cwd=tmp_path)
    doc = _findings(out)
    assert proc.returncode == scan_exit_code(doc, "high"), proc.stderr
    assert ("no config file (-c): auditing the caller's own account (the default AWS credential chain), in the "
            "region of the environment (AWS_REGION, AWS_DEFAULT_REGION or the AWS profile's), with every built-in "
            "rule pack, everything in scope, no waivers") in proc.stderr
    assert doc["run"]["regions"] == ["us-east-1"]   # AWS_DEFAULT_REGION of the test environment
    assert [a["id"] for a in doc["run"]["accounts"]] == [HOME_ACCOUNT]
    assert doc["run"]["compliance_profile"] is None and doc["run"]["config"]["overrides"] == []
    builtin = sorted(p.stem for p in (ROOT / "rules" / "packs").glob("*.yaml"))
    assert sorted(p["id"] for p in doc["run"]["packs"]) == builtin
    kept = (out / "inputs" / "audit-config.yaml").read_text()
    assert kept.startswith("# The effective audit config of this run, written by private-network-auditor: no config")
    assert run_auditor("verify", str(out), cwd=tmp_path).returncode == 0
    # a kept snapshot re-evaluated without -c keeps working
    again = run_auditor("scan", "--snapshot", str(out / "snapshot"), "--out", str(tmp_path / "r2"), "-q",
                        "--format", "json", cwd=tmp_path)
    assert again.returncode == scan_exit_code(_findings(tmp_path / "r2"), "high")
    assert "no config file" not in again.stderr


def test_no_config_and_no_region_anywhere_is_an_input_error(aws_env: None, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    proc = run_auditor("scan", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert proc.returncode == 2 and "no region to audit" in proc.stderr and "give --region" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_collect_with_role_arn_and_its_session(moto_aws: None, tmp_path: Path) -> None:
    from moto.sts.models import sts_backends

    proc = run_auditor("collect", "--region", "eu-west-1", "--role-arn", ROLE, "--role-session-name", "ci-run",
                       "--role-duration", "1800", "--external-id", "ext-123", "--out", str(tmp_path / "s"), "-q",
                       cwd=tmp_path)
    assert proc.returncode in (0, 3), proc.stderr
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    (acct,) = manifest["accounts"]
    assert acct["id"] == "111111111111" and acct["identity"]["Arn"].endswith("assumed-role/Audit/ci-run")
    (role,) = sts_backends["111111111111"]["aws"].assumed_roles
    assert (role.session_name, role.external_id) == ("ci-run", "ext-123")
    left = (role.expiration - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds()
    assert 0 < left <= 1800   # a default (one hour) session would end later than this


def test_collect_with_role_name_org_unit_and_account_tag(moto_aws: None, tmp_path: Path) -> None:
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]["Id"]
    made = {}
    for name, team in (("a", "pay"), ("b", "risk")):
        made[name] = org.create_account(AccountName=name, Email=f"{name}@x.example")["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=made[name], SourceParentId=root, DestinationParentId=ou)
        org.tag_resource(ResourceId=made[name], Tags=[{"Key": "team", "Value": team}])
    proc = run_auditor("collect", "--region", "eu-west-1", "--role-name", "AuditorReadOnly", "--org-unit", ou,
                       "--account-tag", "team=pay", "--out", str(tmp_path / "s"), "-q", cwd=tmp_path)
    assert proc.returncode in (0, 3), proc.stderr
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert [a["id"] for a in manifest["accounts"]] == [made["a"]]
    assert manifest["accounts"][0]["role_arn"] == f"arn:aws:iam::{made['a']}:role/AuditorReadOnly"


def test_collect_with_profile_uses_its_credentials(moto_aws: None, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _aws_files(tmp_path, monkeypatch)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var)
    proc = run_auditor("collect", "--profile", "audit", "--out", str(tmp_path / "s"), "-q", cwd=tmp_path)
    assert proc.returncode in (0, 3), proc.stderr
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    # no default credentials exist: the account was reached with the profile's
    assert manifest["accounts"][0]["identity"]["Account"] == HOME_ACCOUNT and not manifest["account_problems"]
    assert manifest["region_choice"]["regions"] == ["eu-central-1"]   # the profile's region
    assert "the region of AWS profile 'audit'" in manifest["region_choice"]["source"]


def _aws_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch | None = None) -> dict[str, str]:
    """A temporary AWS config (profile audit, region eu-central-1) and credentials file."""
    config, credentials = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text("[profile audit]\nregion = eu-central-1\n")
    credentials.write_text("[audit]\naws_access_key_id = AKIAPROFILEAUDIT0001\n"
                           "aws_secret_access_key = profile-secret\n")
    env = {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials)}
    if monkeypatch is not None:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
    return env


# -- end to end over HTTP: a real moto server, a real process ----------------------------------

@pytest.mark.server
def test_scan_with_only_profile_and_region_against_a_moto_server(tmp_path: Path) -> None:
    with moto_server_url() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(_aws_files(tmp_path), AWS_ENDPOINT_URL=url, AWS_EC2_METADATA_DISABLED="true")
        ec2 = boto3.Session(aws_access_key_id="AKIAPROFILEAUDIT0001", aws_secret_access_key="x").client(
            "ec2", region_name="eu-west-1", endpoint_url=url)
        vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
        out = tmp_path / "run"
        proc = subprocess.run([sys.executable, "-m", "auditor", "scan", "--profile", "audit", "--region", "eu-west-1",
                               "--out", str(out)], capture_output=True, text=True, env=env, cwd=tmp_path,
                              timeout=900, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = _findings(out)
    assert proc.returncode == scan_exit_code(doc, "high"), proc.stdout + proc.stderr
    assert (out / "bundle.json").is_file()
    assert "no config file (-c): auditing the caller's own account (AWS profile 'audit'), in region(s) eu-west-1" \
        in proc.stderr
    assert doc["run"]["config"]["overrides"] == ["--profile audit", "--region eu-west-1"]
    assert doc["run"]["regions"] == ["eu-west-1"]
    (acct,) = doc["run"]["accounts"]
    # reached with the profile's credentials (the only ones there are); moto lacks a few calls
    assert acct["id"] == HOME_ACCOUNT and acct["status"] != "not_assessed" and not acct["problem"]
    assert any(f["resource"]["id"] == vpc for f in doc["findings"])   # the server's estate was read
    verified = subprocess.run([sys.executable, "-m", "auditor", "verify", str(out)], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=900, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_way_to_finish_an_interrupted_scan_repeats_the_options(tmp_path: Path) -> None:
    from auditor.api import _config_args

    path = _file(tmp_path)
    config = effective_config(path, AwsOptions(regions=("eu-west-1",), scope_tags=(("team", "pay ops"),)))
    assert _config_args(config) == f" -c {path} --region eu-west-1 --scope-tag 'team=pay ops'"
    alone = effective_config(None, AwsOptions(aws_profile="audit"))
    assert _config_args(alone) == " --profile audit"
    assert _config_args(None) == ""
