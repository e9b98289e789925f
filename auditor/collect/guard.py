"""The read-only guard: a botocore event hook that refuses every operation not on its allowlist.

It is installed on every botocore session the collector creates, so no client made from
such a session (nor botocore's own credential chain on it) can change anything in AWS or
read anything we do not collect, whatever code calls it. The allowlist is derived from the
call catalogue (`auditor.collect.catalog.allowed_operations`): the collected calls, the
account calls (sts:GetCallerIdentity, sts:AssumeRole, ec2:DescribeRegions,
organizations:ListAccounts and the discovery's OU and tag lookups) and the credential chain's calls (SSO, web identity). A verb
prefix is not enough: ``ssm:GetParameterHistory``, ``lambda:GetFunctionConfiguration`` and
``redshift:GetClusterCredentials`` are reads that return secrets, and they are refused
because the catalogue does not name them.
"""

from __future__ import annotations

from typing import Any

from auditor.collect.catalog import allowed_operations
from auditor.errors import ReadOnlyViolation

ALLOWED: frozenset[tuple[str, str]] = allowed_operations()


def is_allowed(service: str, operation: str) -> bool:
    """True when the guard lets `service:operation` through (boto3 service name, API operation)."""
    return (service, operation) in ALLOWED


def _before_call(model: Any, **_: Any) -> None:
    service = model.service_model.service_name
    # The model's service_name is the name the client was created with (elbv2, lambda ...),
    # the same names the catalogue uses.
    if not is_allowed(service, model.name):
        raise ReadOnlyViolation(f"refused {service}:{model.name}: the auditor makes only the calls of its "
                                "catalogue (see docs/collection.md)")


def install(botocore_session: Any) -> None:
    """Install the guard on a botocore session (idempotent)."""
    botocore_session.unregister("before-call", _before_call, unique_id="auditor-read-only-guard")
    botocore_session.register("before-call", _before_call, unique_id="auditor-read-only-guard")
