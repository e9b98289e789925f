"""Run stores: the evidence bundles of scans kept over an assessment period (docs/store.md).

`open_store` opens the store a `StoreSpec` names: a local folder (auditor/store/local.py) or an
S3 bucket with Object Lock (auditor/store/s3.py). The contract is auditor/store/base.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.store.base import (
    REGIME_RETENTION, Retention, RunExists, RunStore, StoredObjectChanged, StoredRun, StoreError, StoreSpec,
    describe_bundle,
)

__all__ = ["REGIME_RETENTION", "Retention", "RunExists", "RunStore", "StoreError", "StoreSpec", "StoredObjectChanged", "StoredRun",
           "describe_bundle", "open_store"]


def open_store(spec: StoreSpec | str, *, create: bool = False, session: Any = None) -> RunStore:
    """The store `spec` names (a `StoreSpec`, or a location string). `create`: make an empty store
    there when there is none (a scan registering its first run); else a location that is not a
    store is a `StoreError`. `session`: the S3 store's botocore session (tests; default: one of
    its own from `spec.profile`)."""
    if isinstance(spec, str):
        spec = StoreSpec(location=spec)
    if spec.is_s3:
        from auditor.store.s3 import S3Store

        return S3Store.open(spec, create=create, session=session)
    from auditor.store.local import LocalStore

    return LocalStore.open(Path(spec.location), spec, create=create)
