"""The read-only role in every account: `auditor permissions --format cloudformation|terraform`.

- every CloudFormation file under deploy/ is cfn-lint clean (the role templates and, after the
  merge, the schedule recipes);
- the Terraform modules parse (python-hcl2) and grant exactly the catalogue's actions;
- deploy/role/ holds exactly what the command generates;
- the role template deployed into moto admits a real collection and refuses writes, and it
  grants nothing the read-only guard refuses;
- bad options stop with exit 2 and write nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import botocore.session
import hcl2
import pytest
import yaml
from botocore.exceptions import ClientError
from click.testing import CliRunner
from conftest import HOME_ACCOUNT, UNSUPPORTED_BY_MOTO

from auditor.cli import cli
from auditor.collect import guard
from auditor.collect.catalog import ACCOUNT_CALLS, CATALOG, OPTIONAL_CALLS
from auditor.collect.permissions import audited_account_policy, caller_policy
from auditor.collect.role_templates import (
    RoleOptions, TemplateInputError, caller_role_cloudformation, deploy_files, generate, policy_actions,
    readonly_role_cloudformation,
)

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
ROLE_DIR = DEPLOY / "role"


# -- cfn-lint on every CloudFormation file in deploy/ --------------------------------------------

def _cloudformation_files() -> list[Path]:
    """Every file under deploy/ that is a CloudFormation template (JSON or YAML with
    AWSTemplateFormatVersion or a top-level Resources section), whoever wrote it."""
    found = []
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file() or path.suffix not in {".yaml", ".yml", ".json", ".template"}:
            continue
        text = path.read_text(encoding="utf-8")
        if "AWSTemplateFormatVersion" in text or re.search(r'^(Resources:|\s*"Resources"\s*:)', text, re.M):
            found.append(path)
    return found


def _lint(path: Path) -> list[str]:
    from cfnlint.api import ManualArgs, lint_file

    # cfn-lint's defaults: every error (E) and warning (W) rule, the informational (I) ones too.
    return [str(m) for m in lint_file(path, ManualArgs(include_checks=["I"]))]


def test_the_cloudformation_glob_finds_the_role_templates() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in _cloudformation_files()}
    assert {"role/cloudformation/auditor-readonly-role.yaml", "role/cloudformation/auditor-caller-role.yaml"} <= names
    assert not any(n.endswith(".tf") for n in names)


@pytest.mark.parametrize("path", _cloudformation_files(), ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_cfn_lint_is_clean_on_every_cloudformation_file_in_deploy(path: Path) -> None:
    assert _lint(path) == []


def test_cfn_lint_is_clean_with_every_option_given(tmp_path: Path) -> None:
    options = RoleOptions("NetAudit", "arn:aws-us-gov:iam::111111111111:role/team/AuditorCaller", "ext-id:42", 7200)
    for name, text in (("r.yaml", readonly_role_cloudformation(options)),
                       ("c.yaml", caller_role_cloudformation(options))):
        (tmp_path / name).write_text(text)
        assert _lint(tmp_path / name) == [], name


def test_cfn_lint_sees_a_broken_template(tmp_path: Path) -> None:
    """The lint call is not vacuous: a template with a misspelt property and a bad reference fails."""
    text = (ROLE_DIR / "cloudformation" / "auditor-readonly-role.yaml").read_text()
    broken = text.replace("MaxSessionDuration:\n        Ref: MaxSessionDuration",
                          "MaxSessionDurations:\n        Ref: MaxSessionDuration").replace(
                              "RoleName:\n        Ref: RoleName", "RoleName:\n        Ref: NoSuchParameter")
    assert broken != text
    (tmp_path / "broken.yaml").write_text(broken)
    problems = _lint(tmp_path / "broken.yaml")
    assert any("MaxSessionDurations" in p for p in problems) and any("NoSuchParameter" in p for p in problems)


# -- deploy/role/ is what the command generates --------------------------------------------------

def test_deploy_role_holds_exactly_what_the_command_generates() -> None:
    expected = deploy_files()
    on_disk = {p.relative_to(ROLE_DIR).as_posix(): p.read_text(encoding="utf-8")
               for p in ROLE_DIR.rglob("*") if p.is_file() and p.name != "README.md"}
    assert set(on_disk) == set(expected), "run `python -m auditor.docgen` to refresh deploy/role/"
    for name, text in expected.items():
        assert on_disk[name] == text, f"run `python -m auditor.docgen` to refresh deploy/role/{name}"


@pytest.mark.parametrize(("args", "folder"), [
    (["--format", "cloudformation"], "cloudformation"), (["--format", "cloudformation", "--caller"], "cloudformation"),
    (["--format", "terraform"], "terraform"), (["--format", "terraform", "--caller"], "terraform-caller"),
])
def test_the_command_prints_and_writes_the_checked_in_files(args: list[str], folder: str, tmp_path: Path) -> None:
    printed = CliRunner().invoke(cli, ["permissions", *args])
    assert printed.exit_code == 0, printed.output
    written = CliRunner().invoke(cli, ["permissions", *args, "--out", str(tmp_path)])
    assert written.exit_code == 0, written.output
    files = {p.name: p.read_text() for p in tmp_path.iterdir()}
    for name, text in files.items():
        assert text == (ROLE_DIR / folder / name).read_text(), name
        assert text in printed.output
    if len(files) == 1:
        assert printed.output == next(iter(files.values()))
    else:   # one module printed: each file after a `# file:` line, valid HCL as one file
        assert sorted(re.findall(r"^# file: (\S+)$", printed.output, re.M)) == sorted(files)
        hcl2.loads(printed.output)


def test_json_stays_the_default_and_unchanged(tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["permissions"]).output == (REPO / "docs" / "iam-policy.json").read_text()
    written = CliRunner().invoke(cli, ["permissions", "--out", str(tmp_path)])
    assert written.exit_code == 0 and [p.name for p in tmp_path.iterdir()] == ["iam-policy.json"]
    assert (tmp_path / "iam-policy.json").read_text() == (REPO / "docs" / "iam-policy.json").read_text()
    assert (CliRunner().invoke(cli, ["permissions", "--format", "json", "--caller"]).output
            == (REPO / "docs" / "iam-policy-caller.json").read_text())


def test_output_is_deterministic_and_takes_the_options() -> None:
    options = RoleOptions("NetAudit", "111111111111", "ext-1", 43200)
    first = generate("cloudformation", False, options)
    assert first == generate("cloudformation", False, options)
    template = yaml.safe_load(first["auditor-readonly-role.yaml"])
    params = template["Parameters"]
    assert (params["RoleName"]["Default"], params["TrustedPrincipal"]["Default"], params["ExternalId"]["Default"],
            params["MaxSessionDuration"]["Default"]) == ("NetAudit", "111111111111", "ext-1", 43200)
    # The checked-in templates leave the principal to deploy time: no default, so a StackSet
    # cannot be created without saying whom the role trusts.
    checked_in = yaml.safe_load((ROLE_DIR / "cloudformation" / "auditor-readonly-role.yaml").read_text())
    assert "Default" not in checked_in["Parameters"]["TrustedPrincipal"]
    tf = generate("terraform", False, options)["variables.tf"]
    variables = {k: v for block in hcl2.loads(tf)["variable"] for k, v in block.items()}
    assert variables["trusted_principal"]["default"] == "111111111111"
    assert variables["max_session_duration"]["default"] == 43200
    assert "default" not in hcl2.loads(deploy_files()["terraform/variables.tf"])["variable"][1]["trusted_principal"]


# -- what the templates grant ----------------------------------------------------------------------

def _cfn_policies(path: Path) -> list[dict[str, Any]]:
    """Every permission policy document of a CloudFormation template (inline and managed)."""
    docs = []
    for resource in yaml.safe_load(path.read_text())["Resources"].values():
        props = resource.get("Properties", {})
        docs += [p["PolicyDocument"] for p in props.get("Policies", [])]
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            docs.append(props["PolicyDocument"])
    return docs


def _jsonencoded(expression: str) -> Any:
    """The argument of a `jsonencode(...)` attribute as python-hcl2 gives it back."""
    match = re.fullmatch(r"\$\{jsonencode\((.*)\)\}", expression, re.S)
    assert match, expression
    return json.loads(match.group(1))


def _tf_policies(folder: str) -> list[dict[str, Any]]:
    main = hcl2.loads((ROLE_DIR / folder / "main.tf").read_text())
    docs = []
    for block in main["resource"]:
        for kind, named in block.items():
            if kind in {"aws_iam_role_policy", "aws_iam_policy"}:   # inline or managed
                docs += [_jsonencoded(r["policy"]) for r in named.values()]
    return docs


def _all_granted() -> list[str]:
    granted = []
    for path in (ROLE_DIR / "cloudformation").glob("*.yaml"):
        granted += [a for doc in _cfn_policies(path) for a in policy_actions(doc)]
    for folder in ("terraform", "terraform-caller"):
        granted += [a for doc in _tf_policies(folder) for a in policy_actions(doc)]
    return granted


def test_the_read_only_role_grants_exactly_the_catalogue_actions() -> None:
    # Every permission the catalogue declares is the read-only role's, the caller's, or needs
    # none (sts:GetCallerIdentity); the read-only role holds nothing else.
    declared = {s.permission for s in CATALOG + OPTIONAL_CALLS + ACCOUNT_CALLS}
    expected = policy_actions(audited_account_policy())
    assert expected == sorted(set(expected)) and set(expected) <= declared
    assert declared - set(expected) - set(policy_actions(caller_policy())) == {"sts:GetCallerIdentity"}
    assert {s.permission for s in CATALOG + OPTIONAL_CALLS} <= set(expected)
    cfn = _cfn_policies(ROLE_DIR / "cloudformation" / "auditor-readonly-role.yaml")
    assert [policy_actions(d) for d in cfn] == [expected]
    assert [policy_actions(d) for d in _tf_policies("terraform")] == [expected]
    # The caller's modules grant the caller policy's actions, the audit role's name a parameter.
    caller = policy_actions(caller_policy())
    assert [a for d in _cfn_policies(ROLE_DIR / "cloudformation" / "auditor-caller-role.yaml")
            for a in policy_actions(d)] == caller
    tf_caller = _tf_policies("terraform-caller")
    assert [a for d in tf_caller for a in policy_actions(d)] == caller
    assume = next(s for d in tf_caller for s in d["Statement"] if "sts:AssumeRole" in s["Action"])
    assert assume["Resource"] == "arn:${data.aws_partition.current.partition}:iam::*:role/${var.audit_role_name}"


def test_the_terraform_modules_parse_with_their_variables_and_outputs() -> None:
    for folder, name_var, outputs in (("terraform", "role_name", {"role_arn", "role_name", "policy_arn"}),
                                      ("terraform-caller", "caller_role_name", {"caller_role_arn",
                                                                                 "caller_policy_arn"})):
        files = {n: hcl2.loads((ROLE_DIR / folder / n).read_text()) for n in ("main.tf", "variables.tf", "outputs.tf")}
        variables = {k for block in files["variables.tf"]["variable"] for k in block}
        assert {name_var, "trusted_principal", "external_id", "max_session_duration", "tags"} <= variables
        assert {k for block in files["outputs.tf"]["output"] for k in block} == outputs
        trust = next(b["aws_iam_policy_document"]["trust"] for b in files["main.tf"]["data"]
                     if "aws_iam_policy_document" in b)
        statement = trust["statement"][0]
        assert statement["actions"] == ["sts:AssumeRole"]
        assert statement["principals"][0]["identifiers"] == ["${var.trusted_principal}"]
        condition = statement["dynamic"][0]["condition"]
        assert condition["content"][0]["variable"] == "sts:ExternalId"


_IAM_PREFIX = {"monitoring": "cloudwatch"}   # botocore signing name -> IAM action prefix, where they differ


def test_every_granted_action_is_one_the_guard_admits_and_none_is_a_write() -> None:
    """"Nothing the guard refuses": each action maps, through botocore's own service models
    (the IAM prefix is the service's signing name), to an operation `guard.is_allowed` admits.
    No action is a wildcard, a write or a NotAction; every statement allows."""
    session = botocore.session.get_session()
    admitted: set[str] = set()
    for service, operation in guard.ALLOWED:
        model = session.get_service_model(service)
        assert operation in model.operation_names
        # CloudWatch signs as "monitoring"; its IAM actions are "cloudwatch:...".
        admitted.add(f"{_IAM_PREFIX.get(model.signing_name, model.signing_name)}:{operation}")
    granted = _all_granted()
    assert len(granted) > 30                                  # the walk reads the templates
    assert sorted(set(granted) - admitted) == []
    assert [a for a in granted if "*" in a or "?" in a] == []
    # Reads only: the read verbs, and the caller's sts:AssumeRole (which changes nothing).
    assert [a for a in granted if not re.match(r"[a-z0-9-]+:(Describe|List|Get|Search)[A-Z]|sts:AssumeRole$", a)] == []
    for path in (ROLE_DIR / "cloudformation").glob("*.yaml"):
        for doc in _cfn_policies(path):
            assert all(s["Effect"] == "Allow" and "NotAction" not in s for s in doc["Statement"])


def test_the_policies_fit_iam_s_size_limit() -> None:
    """IAM allows a managed policy 6,144 characters (whitespace not counted); the catalogue
    growing past it must be seen here, not at deploy time."""
    for policy in (audited_account_policy(), caller_policy()):
        assert len(json.dumps(policy, separators=(",", ":"))) < 6144


# -- bad input --------------------------------------------------------------------------------------

@pytest.mark.parametrize("principal", [
    "12345", "1111111111111", "arn:aws:iam::12:role/x", "arn:aws:iam::111111111111:group/admins",
    "arn:aws:sts::111111111111:assumed-role/r/s", "arn:aws:iam::111111111111:role/", "role/AuditorCaller",
    "arn:aws:iam::111111111111:role/has space", "*",
])
def test_a_malformed_trusted_principal_is_refused(principal: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["permissions", "--format", "cloudformation", "--trusted-principal", principal,
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "--trusted-principal" in result.output and "12-digit account id" in result.output
    assert "nothing was written" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("principal", ["111111111111", "arn:aws:iam::111111111111:root",
                                       "arn:aws:iam::111111111111:role/path/to/AuditorCaller",
                                       "arn:aws-cn:iam::111111111111:user/auditor"])
def test_well_formed_trusted_principals_are_accepted(principal: str) -> None:
    for fmt in ("cloudformation", "terraform"):
        result = CliRunner().invoke(cli, ["permissions", "--format", fmt, "--trusted-principal", principal])
        assert result.exit_code == 0, result.output
        assert principal in result.output


@pytest.mark.parametrize(("args", "says"), [
    (["--format", "xml"], "'xml' is not one of 'json', 'cloudformation', 'terraform'"),
    (["--format", "terraform", "--external-id", "x"], "--external-id 'x' is not a valid external id"),
    (["--format", "terraform", "--role-name", "bad name"], "--role-name 'bad name' is not an IAM role name"),
    (["--format", "cloudformation", "--max-session-duration", "900"], "outside IAM's 3600-43200 seconds"),
    (["--trusted-principal", "111111111111"], "--trusted-principal applies only to --format cloudformation"),
    (["--external-id", "abc", "--max-session-duration", "7200"],
     "--external-id, --max-session-duration apply only to --format"),
])
def test_bad_options_exit_2_with_the_reason(args: list[str], says: str) -> None:
    result = CliRunner().invoke(cli, ["permissions", *args])
    assert result.exit_code == 2
    assert says in result.output


def test_an_unknown_format_in_the_library_is_an_input_error() -> None:
    with pytest.raises(TemplateInputError, match="unknown format 'xml'"):
        generate("xml", False, RoleOptions())


def test_out_onto_a_file_exits_6_and_writes_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    result = CliRunner().invoke(cli, ["permissions", "--format", "terraform", "--out", str(blocker)])
    assert result.exit_code == 6
    assert blocker.read_text() == "keep"


# -- deployed into moto: a real collection through the role, with IAM enforced -------------------

# moto 5.2.6 rejects the signature of every Lambda and EKS request (REST-JSON GETs) while it
# enforces IAM, whatever the caller's policy: `_signature_defect_control` shows it with a user
# allowed lambda:* and eks:*. Those calls are judged by moto's policy evaluator instead.
_MOTO_SIGNATURE_DEFECT = frozenset({"ListFunctions", "ListClusters", "DescribeCluster"})


def _moto_permits(policy: dict[str, Any], action: str) -> bool:
    from moto.iam.access_control import IAMPolicy, PermissionResult

    return bool(IAMPolicy(json.dumps(policy)).is_action_permitted(action) == PermissionResult.PERMITTED)


def _signature_defect_control(iam: Any) -> None:
    from moto.core import enable_iam_authentication

    iam.create_user(UserName="control")
    iam.put_user_policy(UserName="control", PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["lambda:*", "eks:*", "ec2:*"],
                                                "Resource": "*"}]}))
    key = iam.create_access_key(UserName="control")["AccessKey"]
    kw = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"],
          "region_name": "us-east-1"}
    with enable_iam_authentication():
        assert boto3.client("ec2", **kw).describe_vpcs()["Vpcs"]        # the key itself is good
        for call in (lambda: boto3.client("lambda", **kw).list_functions(),
                     lambda: boto3.client("eks", **kw).list_clusters()):
            with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
                call()


def _policy_document(value: Any) -> Any:
    return value if isinstance(value, dict) else json.loads(unquote(value))


def test_the_deployed_role_admits_the_scan_and_refuses_writes(
        moto_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read-only template is deployed with CloudFormation (moto, in process); then, with
    moto enforcing IAM, an IAM user holding exactly `caller_policy()` runs a scan (collection,
    evaluation, findings.json) whose account is reached by `sts:AssumeRole` into the stack's role.

    What moto (5.2) enforces, and so what this test proves: the identity policies of IAM users
    and assumed roles (inline and attached managed policies; Action matching with wildcards;
    an explicit Deny wins), for every service moto routes through its common response class
    (EC2, ELBv2, Lambda, RDS, EKS, STS, IAM ... all the catalogue's); and for sts:AssumeRole
    the caller's permission on the role's ARN plus the role's trust policy: the Principal
    compared as an exact ARN (or "*"), and StringEquals conditions on keys the request carries
    (sts:ExternalId). What it does not check: the Resource element (every call but AssumeRole
    is checked against "*"), other condition operators, a condition key the request lacks
    (an AssumeRole without ExternalId passes moto's check: the real IAM refuses it), resource
    policies, SCPs, permission boundaries and session policies, and an account-id principal's
    meaning (moto would not match "111111111111" to a user of that account, so the role here
    trusts the user's ARN). IAM's own checks of the templates (a trusted role must exist) are
    cfn-lint's and the real service's, not moto's. And one defect: while enforcing, moto 5.2.6
    rejects the signature of every Lambda and EKS request (REST-JSON GETs), whatever the
    policy (a control user allowed lambda:* and eks:* shows it); those calls are judged with
    moto's policy evaluator (`moto.iam.access_control.IAMPolicy`) on the deployed document.
    """
    from moto.core import enable_iam_authentication

    from auditor.api import run_scan
    from auditor.collect.runner import collect
    from auditor.collect.sessions import SessionFactory
    from auditor.config import config_from_text
    from auditor.snapshot.reader import load_snapshot
    from auditor.snapshot.writer import SnapshotWriter

    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")
    iam = boto3.client("iam", region_name="us-east-1")
    user = iam.create_user(UserName="auditor-runner")["User"]
    iam.put_user_policy(UserName="auditor-runner", PolicyName="caller", PolicyDocument=json.dumps(caller_policy()))
    key = iam.create_access_key(UserName="auditor-runner")["AccessKey"]

    cfn = boto3.client("cloudformation", region_name="us-east-1")
    cfn.create_stack(StackName="auditor-role", TemplateBody=(ROLE_DIR / "cloudformation" /
                                                             "auditor-readonly-role.yaml").read_text(),
                     Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": "TrustedPrincipal", "ParameterValue": user["Arn"]},
                                 {"ParameterKey": "ExternalId", "ParameterValue": "ext-4711"}])
    stack = cfn.describe_stacks(StackName="auditor-role")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    role_arn = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "RoleArn")
    assert role_arn == f"arn:aws:iam::{HOME_ACCOUNT}:role/AuditorReadOnly"
    role = iam.get_role(RoleName="AuditorReadOnly")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": "ext-4711"}}
    attached = iam.list_attached_role_policies(RoleName="AuditorReadOnly")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AuditorReadOnlyPolicy"]
    policy = iam.get_policy(PolicyArn=attached[0]["PolicyArn"])["Policy"]
    version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
    assert _policy_document(version["PolicyVersion"]["Document"]) == audited_account_policy()
    assert iam.list_role_policies(RoleName="AuditorReadOnly")["PolicyNames"] == []

    # The collector takes the runner's keys from the environment; the probes below name them.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    as_runner = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}

    def config(external_id: str) -> Any:
        return config_from_text(f"version: 1\nregions: [us-east-1]\naccounts:\n"
                                f"  - {{id: '{HOME_ACCOUNT}', role_arn: '{role_arn}', external_id: '{external_id}'}}\n")

    with enable_iam_authentication():
        # Enforcement is on: the runner's own credentials (the caller policy) may not describe.
        with pytest.raises(ClientError) as own:
            boto3.client("ec2", region_name="us-east-1", **as_runner).describe_vpcs()
        assert own.value.response["Error"]["Code"] in {"AccessDenied", "UnauthorizedOperation"}

        scan = run_scan(config("ext-4711"), out=tmp_path / "run", sessions=SessionFactory(max_attempts=2),
                        formats=("json",))
        assert scan.collection is not None and (tmp_path / "run" / "findings.json").is_file()
        manifest = scan.collection.manifest
        account = manifest["accounts"][0]
        assert account["identity"]["Arn"].startswith(f"arn:aws:sts::{HOME_ACCOUNT}:assumed-role/AuditorReadOnly/")
        assert [e for e in manifest["errors"] if re.search(r"denied|unauthori[sz]ed", json.dumps(e), re.I)] == []
        # Only two kinds of error, both moto's: the calls it does not implement, and the Lambda
        # and EKS calls, whose signatures its IAM check rejects whatever the policy says (see
        # the control below); every other catalogue call answered through the role.
        for error in manifest["errors"]:
            if error["kind"] == "unsupported":
                assert error["operation"] in UNSUPPORTED_BY_MOTO, error
            elif error["operation"] == "DescribeCluster":      # runs per cluster ListClusters names
                assert error["message"].startswith("not attempted: it runs per item of eks:ListClusters"), error
            else:
                assert error["operation"] in _MOTO_SIGNATURE_DEFECT and "SignatureDoesNotMatch" in error["message"], error
        failed = {e["operation"] for e in manifest["errors"]}
        answered = {c["operation"] for c in manifest["calls"] if c["account"] == HOME_ACCOUNT} - failed
        runs_once = {s.operation for s in CATALOG if s.for_each is None}
        assert runs_once - UNSUPPORTED_BY_MOTO - _MOTO_SIGNATURE_DEFECT <= answered
        vpcs = next(r for r in load_snapshot(tmp_path / "run" / "snapshot").records if r.operation == "DescribeVpcs")
        assert vpc in {v["VpcId"] for v in vpcs.items("Vpcs")}

        # A write through the same role is refused, and so is a wrong external id.
        sts = boto3.client("sts", region_name="us-east-1", **as_runner)
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="write-probe", ExternalId="ext-4711")["Credentials"]
        as_role = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
                   "aws_session_token": creds["SessionToken"]}
        role_ec2 = boto3.client("ec2", region_name="us-east-1", **as_role)
        assert role_ec2.describe_vpcs()["Vpcs"]
        for write in (lambda: role_ec2.create_vpc(CidrBlock="10.99.0.0/16"),
                      lambda: role_ec2.delete_vpc(VpcId=vpc),
                      lambda: boto3.client("iam", region_name="us-east-1", **as_role).create_user(UserName="x")):
            with pytest.raises(ClientError) as refused:
                write()
            assert refused.value.response["Error"]["Code"] in {"AccessDenied", "UnauthorizedOperation"}
        with pytest.raises(ClientError) as wrong_id:
            sts.assume_role(RoleArn=role_arn, RoleSessionName="wrong-id", ExternalId="not-the-id")
        assert wrong_id.value.response["Error"]["Code"] == "AccessDenied"
        # The collector with a wrong external id: the account is not reached, and says so.
        refused_run = collect(config("not-the-id"), SessionFactory(max_attempts=2), SnapshotWriter(tmp_path / "no"))
        assert not refused_run.complete
        assert any(e["operation"] == "AssumeRole" and "AccessDenied" in json.dumps(e)
                   for e in refused_run.manifest["errors"]), refused_run.manifest["errors"]

    # The Lambda and EKS calls: a user allowed lambda:* and eks:* gets the same signature error
    # from moto, so it is moto's, not the role's; moto's own policy evaluator judges those
    # calls (and every other) on the deployed policy document instead.
    _signature_defect_control(iam)
    deployed_doc = _policy_document(version["PolicyVersion"]["Document"])
    for call in CATALOG:
        assert _moto_permits(deployed_doc, call.permission), call.permission
    for write in ("lambda:CreateFunction", "lambda:GetFunctionConfiguration", "eks:CreateCluster", "ec2:CreateVpc",
                  "eks:DeleteCluster", "lambda:InvokeFunction"):
        assert not _moto_permits(deployed_doc, write), write
    assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.99.0.0/16"] == []
