"""The AWS calls the collector makes, as data.

Each `CallSpec` (auditor/callspec.py) names the service and operation, the IAM permission it
needs, the response keys that hold its items, and (for per-resource calls) which earlier
call's items it runs once for. `CATALOG`, the calls of every (account, region), is the calls
of the resource registry's entries (auditor/model/registry.py), in registry order; the
account and credential calls are declared here. The collector, `auditor permissions` and
the docs are all generated from these lists, and meta-tests keep them in step.

Pagination is not declared here: the collector asks botocore whether an operation
paginates and otherwise follows NextToken/Marker itself, so no page is ever left behind.
"""

from __future__ import annotations

from auditor.callspec import CallSpec, ForEach, FromListings, Params
from auditor.model.metrics import TRAFFIC, traffic_call
from auditor.model.registry import CATALOG

__all__ = ["ACCOUNT_CALLS", "CALLER_CALLS", "CATALOG", "CREDENTIAL_CALLS", "CallSpec", "ForEach", "FromListings",
           "OPTIONAL_CALLS", "Params", "all_calls", "task_calls",
           "allowed_operations", "regional_calls", "secret_fields", "spec"]

EC2 = "ec2"

# Calls made once per account (identity, region discovery) or once per run (accounts).
ACCOUNT_CALLS: tuple[CallSpec, ...] = (
    CallSpec("sts", "GetCallerIdentity", "sts:GetCallerIdentity", "", note="who we are in each account"),
    CallSpec("sts", "AssumeRole", "sts:AssumeRole", "", note="into each audited account's read-only role; "
             "the credentials it returns are never written"),
    CallSpec(EC2, "DescribeRegions", "ec2:DescribeRegions", "Regions", note="only when regions: all"),
    CallSpec("organizations", "ListAccounts", "organizations:ListAccounts", "Accounts",
             note="only with organization_discovery"),
    CallSpec("organizations", "ListOrganizationalUnitsForParent", "organizations:ListOrganizationalUnitsForParent",
             "OrganizationalUnits", note="only with organization_discovery.organizational_units (--org-unit): "
             "the OUs under each one named, recursively"),
    CallSpec("organizations", "ListAccountsForParent", "organizations:ListAccountsForParent", "Accounts",
             note="only with organization_discovery.organizational_units (--org-unit): the accounts in each OU"),
    CallSpec("organizations", "ListTagsForResource", "organizations:ListTagsForResource", "Tags",
             note="only with organization_discovery.account_tags (--account-tag): each candidate account's tags"),
)

# The account calls made only by the caller (in the management or delegated administrator
# account), never in an audited account: the caller's policy grants them, the audit role's not.
CALLER_CALLS: tuple[CallSpec, ...] = tuple(s for s in ACCOUNT_CALLS
                                           if s.service == "organizations" or s.operation == "AssumeRole")


# Calls botocore's own credential chain makes through the collector's sessions (which carry
# the read-only guard): SSO profiles, SSO token refresh, web identity (EKS IRSA, CI OIDC).
# Their answers are credentials held in memory by botocore; nothing of them is recorded.
# They need no permission in the audited accounts, so the IAM policies leave them out.
CREDENTIAL_CALLS: tuple[CallSpec, ...] = (
    CallSpec("sso", "GetRoleCredentials", "sso:GetRoleCredentials", "", note="credentials of an SSO profile"),
    CallSpec("sso-oidc", "CreateToken", "sso-oidc:CreateToken", "", note="refreshes an SSO session's token"),
    CallSpec("sts", "AssumeRoleWithWebIdentity", "sts:AssumeRoleWithWebIdentity", "",
             note="credentials from a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)"),
)


# Regional calls made only when the config asks for them (the runner adds them to the region
# tasks' calls): not in `regional_calls()`, but in `all_calls()`, so that the read-only guard
# lets them through and the IAM policy, the role templates and the docs name them.
OPTIONAL_CALLS: tuple[CallSpec, ...] = (
    TRAFFIC,   # costs.traffic: auditor/model/metrics.py
)


def regional_calls() -> tuple[CallSpec, ...]:
    """The calls of one (account, region) task, in the order they run (without the optional ones)."""
    return CATALOG


def task_calls(traffic: tuple[str, str] | None = None) -> tuple[CallSpec, ...]:
    """The calls of one (account, region) task of a run: the regional calls, then, when the run
    reads traffic (costs.traffic), GetMetricData over `traffic`, the run's (start, end)
    window (`auditor.model.metrics.window`)."""
    return regional_calls() + ((traffic_call(*traffic),) if traffic is not None else ())


def all_calls() -> tuple[CallSpec, ...]:
    """Every call the collector may make: the regional, the optional regional and the account calls."""
    return CATALOG + OPTIONAL_CALLS + ACCOUNT_CALLS


def allowed_operations() -> frozenset[tuple[str, str]]:
    """(boto3 service name, operation) of every call the read-only guard lets through: the
    collected calls, the account calls and the credential chain's calls; nothing else."""
    return frozenset((s.service, s.operation) for s in all_calls() + CREDENTIAL_CALLS)


def secret_fields(service: str, operation: str) -> tuple[str, ...]:
    """The declared secret-bearing response fields of a call (none for unknown calls)."""
    return next((s.secret_fields for s in all_calls() if (s.service, s.operation) == (service, operation)), ())


def spec(service: str, operation: str) -> CallSpec:
    for s in all_calls():
        if s.service == service and s.operation == operation:
            return s
    raise KeyError(f"{service}:{operation} is not a collected call")
