"""The read-only guard: every session the collector makes refuses anything but reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest

from auditor.collect import guard
from auditor.collect.catalog import ACCOUNT_CALLS, CATALOG, CREDENTIAL_CALLS, OPTIONAL_CALLS, all_calls, spec
from auditor.collect.sessions import SessionFactory
from auditor.errors import ReadOnlyViolation

from conftest import HOME_ACCOUNT, SECOND_ACCOUNT


class RequestLog:
    """A hook that records every request that reaches the wire (before-send)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, session: Any) -> None:
        session.register("before-send", self._log)

    def _log(self, request: Any, **_: Any) -> None:
        self.sent.append(request.url)


@pytest.fixture(scope="module")
def _logged_factory() -> tuple[SessionFactory, RequestLog]:
    # Shared so that botocore's service models load once for the module.
    log = RequestLog()
    return SessionFactory(max_attempts=1, hooks=[log]), log


@pytest.fixture
def guarded(moto_aws: None, _logged_factory: tuple[SessionFactory, RequestLog]) -> tuple[SessionFactory, Any,
                                                                                            RequestLog]:
    factory, log = _logged_factory
    log.sent.clear()
    return factory, factory.base(), log


def test_create_vpc_is_refused_before_any_request(guarded: tuple[SessionFactory, Any, RequestLog]) -> None:
    factory, session, log = guarded
    ec2 = factory.client(session, "ec2", "us-east-1")
    before = {v["VpcId"] for v in boto3.client("ec2", region_name="us-east-1").describe_vpcs()["Vpcs"]}

    with pytest.raises(ReadOnlyViolation, match=r"refused ec2:CreateVpc"):
        ec2.create_vpc(CidrBlock="10.0.0.0/16")

    assert log.sent == []  # nothing reached the endpoint
    after = {v["VpcId"] for v in boto3.client("ec2", region_name="us-east-1").describe_vpcs()["Vpcs"]}
    assert after == before and len(after) == 1  # only moto's default VPC


@pytest.mark.parametrize("service,method,kwargs,operation", [
    ("ec2", "delete_vpc", {"VpcId": "vpc-12345678"}, "DeleteVpc"),
    ("ec2", "modify_vpc_attribute", {"VpcId": "vpc-12345678", "EnableDnsSupport": {"Value": False}},
     "ModifyVpcAttribute"),
    ("ec2", "get_password_data", {"InstanceId": "i-12345678"}, "GetPasswordData"),
    ("secretsmanager", "get_secret_value", {"SecretId": "prod/db"}, "GetSecretValue"),
    ("ssm", "get_parameter", {"Name": "/prod/db", "WithDecryption": True}, "GetParameter"),
    ("s3", "get_object", {"Bucket": "evidence", "Key": "x"}, "GetObject"),
    ("s3", "put_object", {"Bucket": "evidence", "Key": "x", "Body": b"x"}, "PutObject"),
    ("lambda", "get_function", {"FunctionName": "f"}, "GetFunction"),
    ("sts", "get_session_token", {}, "GetSessionToken"),
    ("iam", "create_user", {"UserName": "intruder"}, "CreateUser"),
])
def test_writes_and_secret_reads_are_refused(guarded: tuple[SessionFactory, Any, RequestLog], service: str,
                                             method: str, kwargs: dict[str, Any], operation: str) -> None:
    factory, session, log = guarded
    client = factory.client(session, service, "us-east-1")
    with pytest.raises(ReadOnlyViolation, match=f"refused {service}:{operation}"):
        getattr(client, method)(**kwargs)
    assert log.sent == []


def test_secret_value_stays_in_secrets_manager(guarded: tuple[SessionFactory, Any, RequestLog]) -> None:
    factory, session, log = guarded
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="prod/db", SecretString="hunter2")
    sm = factory.client(session, "secretsmanager", "us-east-1")
    with pytest.raises(ReadOnlyViolation):
        sm.get_secret_value(SecretId="prod/db")
    # Even a harmless-looking read is refused: the catalogue collects nothing from Secrets Manager.
    with pytest.raises(ReadOnlyViolation, match="refused secretsmanager:ListSecrets"):
        sm.list_secrets()
    assert log.sent == []


# Reads that a verb-prefix guard let through and that hand out secrets (issue 10): each is
# refused before any request is sent, and the secret stays where it is.
@pytest.mark.parametrize("service,method,kwargs,operation", [
    ("ssm", "get_parameter_history", {"Name": "/prod/db", "WithDecryption": True}, "GetParameterHistory"),
    ("lambda", "get_function_configuration", {"FunctionName": "payments"}, "GetFunctionConfiguration"),
    ("redshift", "get_cluster_credentials", {"DbUser": "admin", "ClusterIdentifier": "dw"},
     "GetClusterCredentials"),
    ("ssm", "describe_parameters", {}, "DescribeParameters"),
    ("lambda", "list_versions_by_function", {"FunctionName": "payments"}, "ListVersionsByFunction"),
    ("ec2", "describe_instance_attribute", {"InstanceId": "i-12345678", "Attribute": "userData"},
     "DescribeInstanceAttribute"),
])
def test_reads_outside_the_catalogue_are_refused(guarded: tuple[SessionFactory, Any, RequestLog], service: str,
                                                 method: str, kwargs: dict[str, Any], operation: str) -> None:
    factory, session, log = guarded
    boto3.client("ssm", region_name="us-east-1").put_parameter(Name="/prod/db", Value="hunter2",
                                                               Type="SecureString")
    client = factory.client(session, service, "us-east-1")
    with pytest.raises(ReadOnlyViolation, match=f"refused {service}:{operation}"):
        getattr(client, method)(**kwargs)
    assert log.sent == []


def test_reads_and_sts_are_allowed(guarded: tuple[SessionFactory, Any, RequestLog]) -> None:
    factory, session, log = guarded
    ec2 = factory.client(session, "ec2", "us-east-1")
    assert len(ec2.describe_vpcs()["Vpcs"]) == 1
    assert ec2.describe_subnets()["Subnets"]  # the default VPC's subnets
    sts = factory.client(session, "sts", "us-east-1")
    assert sts.get_caller_identity()["Account"] == HOME_ACCOUNT
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{SECOND_ACCOUNT}:role/auditor",
                            RoleSessionName="guard-test")["Credentials"]
    assert creds["AccessKeyId"]
    assert len(log.sent) == 4


def test_assumed_role_sessions_are_guarded_too(guarded: tuple[SessionFactory, Any, RequestLog]) -> None:
    factory, session, log = guarded
    assumed = factory.assume_role(session, "us-east-1", f"arn:aws:iam::{SECOND_ACCOUNT}:role/auditor", "guard-test")
    sts = factory.client(assumed, "sts", "us-east-1")
    assert sts.get_caller_identity()["Account"] == SECOND_ACCOUNT
    ec2 = factory.client(assumed, "ec2", "eu-west-1")
    sent = len(log.sent)
    with pytest.raises(ReadOnlyViolation):
        ec2.create_vpc(CidrBlock="10.0.0.0/16")
    assert len(log.sent) == sent
    assert len(ec2.describe_vpcs()["Vpcs"]) == 1


def test_install_is_idempotent(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = guard._before_call  # noqa: SLF001

    def counting(model: Any, **kwargs: Any) -> None:
        seen.append(model.name)
        real(model, **kwargs)

    monkeypatch.setattr(guard, "_before_call", counting)
    session = botocore.session.Session()
    guard.install(session)
    guard.install(session)
    client = session.create_client("ec2", region_name="us-east-1")
    client.describe_vpcs()
    assert seen == ["DescribeVpcs"]  # the guard ran once, however often it was installed
    with pytest.raises(ReadOnlyViolation):
        client.create_vpc(CidrBlock="10.0.0.0/16")


def test_every_catalog_call_is_allowed() -> None:
    assert len(all_calls()) == len(CATALOG) + len(OPTIONAL_CALLS) + len(ACCOUNT_CALLS)
    refused = [c.key for c in all_calls() if not guard.is_allowed(c.service, c.operation)]
    assert refused == []


def test_the_allowlist_is_exactly_the_catalogue() -> None:
    declared = {(c.service, c.operation) for c in all_calls() + CREDENTIAL_CALLS}
    assert guard.ALLOWED == declared
    # The account-level calls the collector makes outside the per-region catalogue are on it.
    for call in [("sts", "AssumeRole"), ("sts", "GetCallerIdentity"), ("ec2", "DescribeRegions"),
                 ("organizations", "ListAccounts")]:
        assert call in guard.ALLOWED


def test_web_identity_credentials_work_through_a_guarded_session(
        moto_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    # botocore's credential chain runs its sts:AssumeRoleWithWebIdentity through the guarded
    # session (EKS IRSA, CI OIDC); a verb-prefix guard refused it.
    token = tmp_path / "token"
    token.write_text("a-web-identity-token")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ROLE_ARN", f"arn:aws:iam::{SECOND_ACCOUNT}:role/ci")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    factory = SessionFactory(max_attempts=1)
    sts = factory.client(factory.base(), "sts", "us-east-1")
    assert sts.get_caller_identity()["Account"] == SECOND_ACCOUNT


@pytest.mark.parametrize("service,operation,allowed", [
    ("ec2", "DescribeVpcs", True), ("ec2", "CreateVpc", False), ("ec2", "DeleteVpc", False),
    ("ec2", "GetPasswordData", False), ("ec2", "GetConsoleOutput", False),
    ("secretsmanager", "GetSecretValue", False), ("secretsmanager", "ListSecrets", False),
    ("ssm", "GetParameters", False), ("sts", "AssumeRole", True), ("sts", "GetCallerIdentity", True),
    ("sts", "GetSessionToken", False), ("iam", "PassRole", False), ("ec2", "RunInstances", False),
    ("organizations", "ListAccounts", True), ("ec2", "SearchTransitGatewayRoutes", True),
    ("ssm", "GetParameterHistory", False), ("lambda", "GetFunctionConfiguration", False),
    ("redshift", "GetClusterCredentials", False), ("lambda", "ListFunctions", True),
    ("ec2", "DescribeInstanceAttribute", False), ("ec2", "DescribeRegions", True),
    ("elbv2", "DescribeLoadBalancers", True), ("elasticloadbalancing", "DescribeLoadBalancers", False),
    ("sso", "GetRoleCredentials", True), ("sso-oidc", "CreateToken", True),
    ("sts", "AssumeRoleWithWebIdentity", True), ("sts", "AssumeRoleWithSAML", False),
])
def test_is_allowed_table(service: str, operation: str, allowed: bool) -> None:
    assert guard.is_allowed(service, operation) is allowed


_PERMISSION = re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$")
# boto3 client names whose IAM prefix differs from the client name.
_IAM_PREFIX = {"elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing"}


def test_catalog_permissions_match_their_operations() -> None:
    session = botocore.session.get_session()
    for call in all_calls():
        assert _PERMISSION.match(call.permission), call.permission
        prefix, action = call.permission.split(":")
        assert action == call.operation, call.key
        assert prefix == _IAM_PREFIX.get(call.service, call.service), call.key
        # The operation exists in the service's API model under that exact name.
        model = session.get_service_model(call.service)
        assert call.operation in model.operation_names, call.key
        assert spec(call.service, call.operation) is call


def test_catalog_per_resource_sources_exist() -> None:
    ops = {(c.service, c.operation) for c in CATALOG}
    order = [(c.service, c.operation) for c in CATALOG]
    for call in CATALOG:
        if call.for_each is not None:
            source = (call.service, call.for_each.source)
            assert source in ops, call.key
            # The source runs earlier in the task, so its result is known in time.
            assert order.index(source) < order.index((call.service, call.operation)), call.key
            assert spec(*source).items_key == call.for_each.items_key, call.key


def test_docs_state_the_allowlist_size() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "collection.md").read_text(encoding="utf-8")
    assert f"The guard lets {len(guard.ALLOWED)} operations through" in text
