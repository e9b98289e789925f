"""The S3 store's guard: a botocore event hook on the store's own session that lets through
exactly the S3 operations the store makes (auditor/store/s3.py) and refuses everything else.

The store's session is never a collection session (auditor/collect/sessions.py): collection
sessions carry the read-only guard (auditor/collect/guard.py), which refuses every S3 call,
PutObject included. This guard is the store's counterpart, explicit both ways: it admits the
one write the store needs, PutObject (always sent with ``If-None-Match: *``, so it adds new
keys and never overwrites one), and the reads that list, open and check stored runs; it refuses
every delete (DeleteObject, DeleteObjects), every change of a retention or legal hold
(PutObjectRetention, PutObjectLegalHold), every bucket change (PutBucket*, DeleteBucket*),
copies, multipart uploads and every other service. `STORE_OPERATIONS` is also the source of
the IAM policy the store's writer needs (`iam_policy`, printed in docs/store.md and tested).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from auditor.store.base import StoreError

SERVICE = "s3"

# Each operation the store makes -> the IAM actions it needs (Service Authorization Reference
# for Amazon S3; `bucket` actions act on the bucket ARN, `object` actions on its objects).
STORE_OPERATIONS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    # opening: does the bucket exist (also botocore's own region lookup), is Object Lock on
    "HeadBucket": ("bucket", ("s3:ListBucket",)),
    "GetObjectLockConfiguration": ("bucket", ("s3:GetBucketObjectLockConfiguration",)),
    "GetBucketVersioning": ("bucket", ("s3:GetBucketVersioning",)),
    # listing markers, attempts and leftovers: every version, so that a delete marker hides nothing
    "ListObjectVersions": ("bucket", ("s3:ListBucketVersions",)),
    # reading one pinned version; its Object Lock mode and retain-until date come back as headers
    # only with s3:GetObjectRetention
    "GetObject": ("object", ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectRetention")),
    "HeadObject": ("object", ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectRetention")),
    # the one write: a new key with its Object Lock retention (which needs s3:PutObjectRetention)
    "PutObject": ("object", ("s3:PutObject", "s3:PutObjectRetention")),
}

ALLOWED: frozenset[tuple[str, str]] = frozenset((SERVICE, op) for op in STORE_OPERATIONS)
_UNIQUE_ID = "auditor-store-guard"


class StoreGuardViolation(StoreError):
    """The store's session was asked for an operation the store never makes (a delete, a
    retention change, a bucket change, another service)."""


def is_allowed(service: str, operation: str) -> bool:
    """True when the store guard lets `service:operation` through (boto3 service name, API operation)."""
    return (service, operation) in ALLOWED


def _before_call(model: Any, **_: Any) -> None:
    service = model.service_model.service_name
    if not is_allowed(service, model.name):
        raise StoreGuardViolation(
            f"refused {service}:{model.name}: the run store only adds objects and reads them; it never "
            "deletes, overwrites or changes a retention (see docs/store.md)")


def install(botocore_session: Any) -> None:
    """Install the guard on the store's botocore session (idempotent)."""
    botocore_session.unregister("before-call", _before_call, unique_id=_UNIQUE_ID)
    botocore_session.register("before-call", _before_call, unique_id=_UNIQUE_ID)


def iam_policy(bucket: str, prefix: str) -> dict[str, Any]:
    """The IAM policy the store's writer needs on `bucket` under `prefix` (no trailing slash
    needed): exactly the actions of `STORE_OPERATIONS`, no delete."""
    prefix = prefix.strip("/")
    objects = f"arn:aws:s3:::{bucket}/{prefix}/*" if prefix else f"arn:aws:s3:::{bucket}/*"
    bucket_actions = sorted({a for kind, acts in STORE_OPERATIONS.values() if kind == "bucket" for a in acts})
    object_actions = sorted({a for kind, acts in STORE_OPERATIONS.values() if kind == "object" for a in acts})
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "RunStoreBucket", "Effect": "Allow", "Action": bucket_actions,
         "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "RunStoreObjects", "Effect": "Allow", "Action": object_actions, "Resource": objects},
    ]}
