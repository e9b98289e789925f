"""Shards and resume with AWS Organizations discovery: every shard runs the discovery itself
and keeps its accounts; the merge keeps the discovery records once; a run crashed after its
discovery resumes without listing the organisation again.

moto draws the member account ids, so which shard holds which account is not fixed here: the
checks hold whatever the draw (the shards partition the accounts, the merge is the single run).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest

from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.config import config_from_text
from auditor.scan import evaluate_snapshot, prepare, write_findings
from auditor.snapshot.checkpoint import open_resume
from auditor.snapshot.merge import merge_snapshots
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.shards import Shard, shard_of
from auditor.snapshot.writer import SnapshotWriter

SECTIONS = ("findings", "not_assessed", "scope_gaps", "summary", "rules")


class Crash(BaseException):
    pass


class CrashAfterFirstTask(SnapshotWriter):
    def checkpoints(self, batch: Any) -> None:
        for item in batch:
            super().checkpoints([item])
            if item[0].startswith("tasks/"):
                raise Crash


def _findings(snapshot: Path, tmp: Path) -> dict[str, str]:
    doc = evaluate_snapshot(load_snapshot(snapshot), prepare(None))
    written = json.loads(write_findings(doc, tmp / ("f-" + snapshot.name)).read_text())
    return {k: json.dumps(written[k], sort_keys=True) for k in SECTIONS}


def test_discovery_shards_merge_and_resume(moto_aws: None, tmp_path: Path) -> None:
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    for name in ("prod-a", "prod-b", "prod-c"):
        org.create_account(AccountName=name, Email=f"{name}@example.com")
    cfg = config_from_text("version: 1\nregions: [eu-west-1]\norganization_discovery:\n"
                           "  role_name: AuditorReadOnly\n  include: ['prod-*']\n")
    factory = SessionFactory(max_attempts=2)
    single = collect(cfg, factory, SnapshotWriter(tmp_path / "single"))
    ids = sorted(a["id"] for a in single.manifest["accounts"])
    assert len(ids) == 3
    shards = []
    for i in (1, 2, 3):
        res = collect(cfg, factory, SnapshotWriter(tmp_path / f"s{i}"), shard=Shard(i, 3))
        m = res.manifest
        assert m["shard"]["accounts"] == [a for a in ids if shard_of(a, 3) == i]
        assert sorted(a["id"] for a in m["accounts"]) == ids   # every account named, the others' too
        # each shard listed the organisation itself
        assert any(c["operation"] == "ListAccounts" and c["region"] == "_discovery" for c in m["calls"])
        shards.append(res.path)
    merged = merge_snapshots(shards, tmp_path / "merged")
    calls = merged.manifest["calls"]
    assert [c["operation"] for c in calls].count("ListAccounts") == 1
    assert set(merged.manifest["files"]) == set(single.manifest["files"])
    assert _findings(merged.path, tmp_path) == _findings(single.path, tmp_path)

    # crashed once the first task is checkpointed: the discovery is kept, not run again
    with pytest.raises(Crash):
        collect(cfg, factory, CrashAfterFirstTask(tmp_path / "run"))
    for thread in threading.enumerate():
        if thread.name.startswith("collect"):
            thread.join()
    state = open_resume(tmp_path / "run.partial")
    assert state.discovery is not None and len(state.tasks) == 1
    listed: list[str] = []

    def count(session: Any) -> None:
        session.register("before-send.organizations.ListAccounts", lambda request, **_: listed.append("x"))

    resumed = collect(cfg, SessionFactory(max_attempts=2, hooks=[count]),
                      SnapshotWriter(tmp_path / "run", resume=True), resume=state)
    assert listed == []   # the organisation was not listed again
    assert resumed.manifest["resumed"][-1]["kept_discovery"] is True
    assert set(resumed.manifest["files"]) == set(single.manifest["files"])
    assert _findings(resumed.path, tmp_path) == _findings(single.path, tmp_path)
