"""The read-only guard: a botocore event hook that refuses every non-read operation.

It is installed on every botocore session the collector creates, so no client made from
such a session can change anything in AWS, whatever code calls it. A call is allowed when
its operation name starts with a read verb (Describe, List, Get, Search) and it is not a
read that reveals secret material; sts:AssumeRole and sts:GetCallerIdentity are the only
other operations allowed.
"""

from __future__ import annotations

from typing import Any

from auditor.errors import ReadOnlyViolation

READ_VERBS = ("Describe", "List", "Get", "Search")
ALSO_ALLOWED = frozenset({("sts", "AssumeRole"), ("sts", "GetCallerIdentity")})
# Reads we never need and that would put secrets or data (not configuration) into evidence.
SECRET_READS = frozenset({
    ("secretsmanager", "GetSecretValue"), ("secretsmanager", "BatchGetSecretValue"),
    ("ec2", "GetPasswordData"), ("ssm", "GetParameter"), ("ssm", "GetParameters"),
    ("ssm", "GetParametersByPath"), ("s3", "GetObject"), ("kms", "GetParametersForImport"),
    ("sts", "GetSessionToken"), ("sts", "GetFederationToken"), ("ecr", "GetAuthorizationToken"),
    ("ec2", "GetConsoleOutput"), ("ec2", "GetConsoleScreenshot"), ("lambda", "GetFunction"),
    ("rds", "GenerateDbAuthToken"), ("eks", "GetToken"),
})


def is_allowed(service: str, operation: str) -> bool:
    """True when the guard lets `service:operation` through."""
    if (service, operation) in ALSO_ALLOWED:
        return True
    if (service, operation) in SECRET_READS:
        return False
    return operation.startswith(READ_VERBS)


def _before_call(model: Any, **_: Any) -> None:
    service = model.service_model.service_name
    # boto3 client names (elbv2, lambda ...) differ from endpoint prefixes; the model's
    # service_name is the boto3 name for every service we call.
    if not is_allowed(service, model.name):
        raise ReadOnlyViolation(f"refused {service}:{model.name}: the auditor only reads "
                                "(Describe/List/Get/Search, sts:AssumeRole, sts:GetCallerIdentity)")


def install(botocore_session: Any) -> None:
    """Install the guard on a botocore session (idempotent)."""
    botocore_session.unregister("before-call", _before_call, unique_id="auditor-read-only-guard")
    botocore_session.register("before-call", _before_call, unique_id="auditor-read-only-guard")
