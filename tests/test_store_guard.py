"""The S3 store's guard (auditor/store/guard.py) and the collection guard side by side: the
store's session admits exactly the operations the store makes (PutObject its one write, never a
delete or a retention change); a collection session still refuses every S3 call, PutObject
first. The IAM policy docs/store.md prints is the guard's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest

from auditor.collect import guard as collect_guard
from auditor.collect.sessions import SessionFactory
from auditor.errors import ReadOnlyViolation
from auditor.rules.fixtures import ACCOUNT, REGION, Case, records_for
from auditor.snapshot.writer import SnapshotWriter
from auditor.store import REGIME_RETENTION, StoreSpec
from auditor.store import guard
from auditor.store.guard import STORE_OPERATIONS, StoreGuardViolation
from auditor.store.s3 import S3Store
from conftest import run_auditor

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "audit-evidence"

# What the store must never be able to do, whatever code asks.
REFUSED = [
    ("delete_object", {"Key": "k"}, "DeleteObject"),
    ("delete_object", {"Key": "k", "VersionId": "v1"}, "DeleteObject"),
    ("delete_objects", {"Delete": {"Objects": [{"Key": "k"}]}}, "DeleteObjects"),
    ("put_object_retention", {"Key": "k", "Retention": {"Mode": "GOVERNANCE"}, "BypassGovernanceRetention": True},
     "PutObjectRetention"),
    ("put_object_legal_hold", {"Key": "k", "LegalHold": {"Status": "OFF"}}, "PutObjectLegalHold"),
    ("put_object_lock_configuration", {"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}},
     "PutObjectLockConfiguration"),
    ("put_bucket_versioning", {"VersioningConfiguration": {"Status": "Suspended"}}, "PutBucketVersioning"),
    ("put_bucket_policy", {"Policy": "{}"}, "PutBucketPolicy"),
    ("put_bucket_lifecycle_configuration", {"LifecycleConfiguration": {"Rules": []}},
     "PutBucketLifecycleConfiguration"),
    ("delete_bucket", {}, "DeleteBucket"),
    ("copy_object", {"Key": "k", "CopySource": "audit-evidence/j"}, "CopyObject"),
    ("create_multipart_upload", {"Key": "k"}, "CreateMultipartUpload"),
    ("put_object_acl", {"Key": "k", "ACL": "public-read"}, "PutObjectAcl"),
    ("restore_object", {"Key": "k"}, "RestoreObject"),
]


class Sent:
    """Every request that reaches the wire (before-send)."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, request: Any, **_: Any) -> None:
        self.urls.append(request.url)


def test_the_allowlist_is_the_store_operations_and_no_write_but_putobject() -> None:
    assert guard.ALLOWED == {("s3", op) for op in STORE_OPERATIONS}
    model = botocore.session.Session().get_service_model("s3")
    assert set(STORE_OPERATIONS) <= set(model.operation_names)           # real S3 operations, spelt right
    writes = {op for op in STORE_OPERATIONS if not op.startswith(("Get", "Head", "List"))}
    assert writes == {"PutObject"}
    for _, _, operation in REFUSED:
        assert operation in model.operation_names and not guard.is_allowed("s3", operation)
    assert not guard.is_allowed("sts", "GetCallerIdentity") and not guard.is_allowed("ec2", "DescribeVpcs")


@pytest.mark.parametrize("method,kwargs,operation", REFUSED, ids=[f"{r[2]}-{i}" for i, r in enumerate(REFUSED)])
def test_the_store_session_refuses_before_sending_anything(moto_aws: None, method: str, kwargs: dict[str, Any],
                                                           operation: str) -> None:
    session = botocore.session.Session()
    guard.install(session)
    guard.install(session)                                                # idempotent
    client = session.create_client("s3", region_name="us-east-1")
    sent = Sent()
    client.meta.events.register("before-send", sent)
    with pytest.raises(StoreGuardViolation, match=f"refused s3:{operation}: the run store only adds objects"):
        getattr(client, method)(Bucket=BUCKET, **kwargs)
    assert sent.urls == []
    other = session.create_client("sts", region_name="us-east-1")
    with pytest.raises(StoreGuardViolation, match="refused sts:GetCallerIdentity"):
        other.get_caller_identity()


def _bundle(root: Path) -> Path:
    writer = SnapshotWriter(root / "snap")
    calls = {"ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]}}
    for rec in records_for(Case(rule="", name="g", file="", line=0, calls=calls, failed=(), region=REGION)):
        writer.add(rec)
    writer.finish({"started": "2026-03-02T10:00:00Z", "finished": "2026-03-02T10:00:00Z", "regions": [REGION],
                   "accounts": [{"id": ACCOUNT, "name": "t", "regions": [REGION]}], "config": {"digest": "sha256:x"}})
    proc = run_auditor("scan", "--snapshot", "snap", "--out", "out", "--format", "json", cwd=root)
    assert proc.returncode in (0, 1, 3, 4), proc.stdout + proc.stderr
    return root / "out"


def test_the_store_makes_exactly_the_allowed_operations(moto_aws: None, tmp_path: Path) -> None:
    """Every operation of the allowlist is one the store makes (and it makes no other): open,
    register, list, get, fetch and leftovers, recorded at the wire."""
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    made: list[str] = []
    session = botocore.session.Session()
    session.register("before-call.s3", lambda model, **_: made.append(model.name))
    store = S3Store.open(StoreSpec(f"s3://{BUCKET}/p", retention=REGIME_RETENTION["pci-dss"]), create=True,
                         session=session)
    run = store.register(_bundle(tmp_path))
    store.fetch(store.get(run.run_id[:8]), into=tmp_path / "fetched")
    store.leftovers()
    assert set(made) == set(STORE_OPERATIONS)


def test_a_collection_session_refuses_every_s3_write_and_cannot_carry_the_store(moto_aws: None) -> None:
    """The collection guard (auditor/collect/guard.py) is untouched by the store: its sessions
    refuse PutObject and every other S3 call, so the store's writes can never go through one."""
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    factory = SessionFactory(max_attempts=1)
    session = factory.base()
    s3 = factory.client(session, "s3", "us-east-1")
    for method, kwargs, operation in [("put_object", {"Key": "k", "Body": b"x"}, "PutObject"),
                                      ("delete_object", {"Key": "k"}, "DeleteObject"),
                                      ("get_object", {"Key": "k"}, "GetObject")]:
        with pytest.raises(ReadOnlyViolation, match=f"refused s3:{operation}"):
            getattr(s3, method)(Bucket=BUCKET, **kwargs)
    with pytest.raises(ReadOnlyViolation, match="refused s3:HeadBucket"):
        S3Store.open(StoreSpec(f"s3://{BUCKET}/p", retention=REGIME_RETENTION["pci-dss"]), create=True,
                     session=session)
    assert boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    # not one S3 operation, write or read, is on the collection guard's allowlist
    s3_operations = botocore.session.Session().get_service_model("s3").operation_names
    assert "PutObject" in s3_operations and not any(collect_guard.is_allowed("s3", op) for op in s3_operations)


def _s3_section() -> str:
    text = (ROOT / "docs" / "store.md").read_text(encoding="utf-8")
    start = text.index("## The S3 store")
    following = text.find("\n## ", start + 1)
    return text[start:] if following < 0 else text[start:following]


def test_the_documented_iam_policy_is_the_guards() -> None:
    section = _s3_section()
    blocks = re.findall(r"```json\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    policy = json.loads(blocks[0])
    assert policy == guard.iam_policy("audit-evidence", "network")
    actions = {a for statement in policy["Statement"] for a in statement["Action"]}
    assert not any("Delete" in a or "Bypass" in a for a in actions)
    for _, _, operation in REFUSED[:4]:                                   # the refused ones are named
        assert operation in section
    for operation in STORE_OPERATIONS:
        assert operation in section
    assert "never uses a collection session" in (ROOT / "docs" / "collection.md").read_text(encoding="utf-8")


# -- deploy/store/bucket.yaml -----------------------------------------------------------------

TEMPLATE = ROOT / "deploy" / "store" / "bucket.yaml"


def test_the_bucket_template_is_cfn_lint_clean() -> None:
    from cfnlint.api import lint_all

    def problems(text: str) -> list[str]:     # errors and warnings, what the cfn-lint command reports
        return [str(m) for m in lint_all(text) if m.rule.id[0] in "EW"]

    text = TEMPLATE.read_text(encoding="utf-8")
    assert problems(text) == []
    # cfn-lint is live: a retention mode S3 does not know is refused
    assert problems(text.replace("Mode: !Ref DefaultRetentionMode", "Mode: FOREVER"))


def test_the_bucket_template_locks_and_grants_the_guards_actions() -> None:
    from cfnlint.decode import cfn_yaml

    stack = dict(cfn_yaml.loads(TEMPLATE.read_text(encoding="utf-8")))
    resources = stack["Resources"]
    bucket = resources["StoreBucket"]["Properties"]
    assert bucket["ObjectLockEnabled"] is True and bucket["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert resources["StoreBucket"]["DeletionPolicy"] == "Retain"
    expected = guard.iam_policy("b", "p")["Statement"]

    def statements(name: str) -> list[tuple[str, list[str]]]:
        doc = resources[name]["Properties"]["PolicyDocument"]
        return [(s["Sid"], sorted(s["Action"])) for s in doc["Statement"]]

    assert statements("StoreWriterPolicy") == [(s["Sid"], s["Action"]) for s in expected]
    writes = {"s3:PutObject", "s3:PutObjectRetention"}
    assert statements("StoreReaderPolicy") == [(s["Sid"], [a for a in s["Action"] if a not in writes])
                                               for s in expected]
