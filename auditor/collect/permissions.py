"""The least-privilege IAM policies the collector needs, generated from the catalog."""

from __future__ import annotations

from typing import Any

from auditor.collect.catalog import ACCOUNT_CALLS, CALLER_CALLS, CATALOG, OPTIONAL_CALLS

# sts:GetCallerIdentity needs no permission (AWS always allows it), so it is not listed.
_NO_PERMISSION_NEEDED = frozenset({"sts:GetCallerIdentity"})
_CALLER_ONLY = frozenset(s.permission for s in CALLER_CALLS)


def audited_account_policy() -> dict[str, Any]:
    """Policy for the read-only role in every audited account (the optional calls included, so
    that turning one on in the config needs no new policy)."""
    actions = sorted({s.permission for s in CATALOG + OPTIONAL_CALLS + ACCOUNT_CALLS}
                     - _NO_PERMISSION_NEEDED - _CALLER_ONLY)
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "PrivateNetworkAuditorReadOnly", "Effect": "Allow", "Action": actions, "Resource": "*"}]}


def caller_policy(role_name: str = "AuditorReadOnly") -> dict[str, Any]:
    """Policy for the identity that runs the auditor and assumes the audit roles."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AssumeAuditRoles", "Effect": "Allow", "Action": ["sts:AssumeRole"],
         "Resource": f"arn:aws:iam::*:role/{role_name}"},
        {"Sid": "DiscoverOrganizationAccounts", "Effect": "Allow",
         "Action": sorted(s.permission for s in CALLER_CALLS if s.service == "organizations"), "Resource": "*"}]}
