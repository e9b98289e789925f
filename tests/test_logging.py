"""Structured logs: stable event names as JSON lines (in process and through a real process),
throttling seen through botocore's own retries, an account that cannot be reached, terminal-safe
text lines, and ``-q`` silent except errors."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from click.testing import CliRunner
from conftest import AUDIT_ROLE, SECOND_ACCOUNT, DemoRun, Injector, ec2_error, make_config, moto_server_url, sts_error

from auditor.cli import cli, demo_summary
from auditor.cli_logging import EventFormatter, RunOutput
from auditor.events import EVENTS, emit, logger

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
REGION = "eu-west-1"


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of `text` as a JSON object (a line that does not parse fails the test)."""
    docs = []
    for line in text.splitlines():
        doc = json.loads(line)
        assert isinstance(doc, dict), line
        assert TIME.fullmatch(doc["time"]), line
        assert doc["level"] in ("debug", "info", "warning", "error"), line
        assert doc["event"] in EVENTS, line
        assert doc["logger"] == "auditor" or doc["logger"].startswith("auditor."), line
        assert isinstance(doc["message"], str), line
        docs.append(doc)
    return docs


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    return [dict(r.fields, level=r.levelname) for r in caplog.records if getattr(r, "event", None) == name]


# -- JSON lines -----------------------------------------------------------------------------------

def test_a_scan_logs_json_lines_with_the_stable_names(moto_aws: None, tmp_path: Path) -> None:
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(f"version: 1\nregions: [{REGION}]\n")
    res = CliRunner().invoke(cli, ["scan", "-c", str(cfg), "--out", str(tmp_path / "run"), "--format", "json",
                                   "--log-format", "json", "--log-level", "info", "--fail-on", "none"])
    assert res.exit_code == 3, res.output          # moto lacks the VPC Block Public Access calls: incomplete
    docs = json_lines(res.stderr)                  # every stderr line, progress and notes included
    names = [d["event"] for d in docs]
    for name in ("run.started", "account.reached", "call.failed", "region.done", "collection.finished",
                 "scan.finished", "progress"):
        assert name in names, (name, names)
    assert names[0] == "run.started" and names.index("collection.finished") < names.index("scan.finished")
    failed = {d["operation"]: d for d in docs if d["event"] == "call.failed"}
    bpa = failed["DescribeVpcBlockPublicAccessOptions"]
    assert (bpa["level"], bpa["service"], bpa["region"], bpa["error_code"], bpa["error_kind"]) == (
        "warning", "ec2", REGION, "NotImplemented", "unsupported")
    done = next(d for d in docs if d["event"] == "region.done")
    assert (done["region"], done["done"], done["total"]) == (REGION, 1, 1) and done["errors"] >= 2
    finished = next(d for d in docs if d["event"] == "scan.finished")
    assert finished["exit_code"] == res.exit_code and finished["complete"] is False
    assert finished["findings"]["ERROR"] >= 1
    collected = next(d for d in docs if d["event"] == "collection.finished")
    manifest = json.loads((tmp_path / "run" / "snapshot" / "manifest.json").read_text())
    assert (collected["calls"], collected["errors"]) == (len(manifest["calls"]), len(manifest["errors"]))
    assert [d["final"] for d in docs if d["event"] == "progress"][-1] is True
    assert any(d["event"] == "notice" and "INCOMPLETE" in d["message"] for d in docs)


def test_the_default_level_is_warning_and_debug_adds_nothing_unknown(moto_aws: None, tmp_path: Path) -> None:
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(f"version: 1\nregions: [{REGION}]\n")
    res = CliRunner().invoke(cli, ["collect", "-c", str(cfg), "--out", str(tmp_path / "s"), "--log-format", "json"])
    assert res.exit_code == 3, res.output
    docs = json_lines(res.stderr)
    assert {d["level"] for d in docs if d["event"] not in ("progress",)} <= {"warning", "error"}
    assert "account.reached" not in [d["event"] for d in docs]


def test_collect_through_the_real_cli_process(tmp_path: Path, aws_env: None) -> None:
    with moto_server_url() as url:
        cfg = tmp_path / "audit.yaml"
        cfg.write_text(f"version: 1\nregions: [{REGION}]\n")
        env = dict(os.environ, AWS_ENDPOINT_URL=url)
        proc = subprocess.run([sys.executable, "-m", "auditor", "collect", "-c", str(cfg), "--out",
                               str(tmp_path / "snap"), "--log-format", "json", "--log-level", "debug",
                               "--progress-interval", "0.1"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 3, proc.stderr
    docs = json_lines(proc.stderr)
    names = [d["event"] for d in docs]
    assert names[0] == "run.started" and names[-1] == "notice"      # the INCOMPLETE note comes last
    assert {"account.reached", "call.failed", "region.done", "collection.finished", "progress"} <= set(names)
    reached = next(d for d in docs if d["event"] == "account.reached")
    assert reached["account"] == "123456789012" and reached["source"] == "caller"
    assert "snapshot written to" in proc.stdout


# -- throttling -------------------------------------------------------------------------------------

def _ec2(hooks: list[Any], attempts: int) -> Any:
    from auditor.collect.sessions import SessionFactory

    factory = SessionFactory(max_attempts=attempts, hooks=hooks)
    return factory.client(factory.base(), "ec2", REGION)


def test_a_call_botocore_retried_after_throttling(moto_aws: None, caplog: pytest.LogCaptureFixture) -> None:
    from auditor.collect.calls import run_call

    throttle = Injector("before-send.ec2.DescribeVpcs",
                        lambda request, n: ec2_error(400, "Throttling", "Rate exceeded") if n == 0 else None)
    caplog.set_level(logging.INFO, logger="auditor")
    rec = run_call(_ec2([throttle], 3), "123456789012", REGION, "ec2", "DescribeVpcs", {})
    assert rec.ok and rec.retries == 1 and len(throttle.seen) == 2   # botocore's own retry, then moto answered
    [event] = events(caplog, "call.throttled")
    assert event == {"account": "123456789012", "region": REGION, "service": "ec2", "operation": "DescribeVpcs",
                     "throttled": 1, "retries": 1, "outcome": "retried", "error_code": None,
                     "duration_ms": rec.duration_ms, "level": "INFO"}
    assert events(caplog, "call.failed") == []


def test_a_call_that_fails_on_throttling(moto_aws: None, caplog: pytest.LogCaptureFixture) -> None:
    from auditor.collect.calls import run_call

    throttle = Injector("before-send.ec2.DescribeVpcs",
                        lambda request, n: ec2_error(503, "RequestLimitExceeded", "Request limit exceeded."))
    caplog.set_level(logging.INFO, logger="auditor")
    rec = run_call(_ec2([throttle], 2), "123456789012", REGION, "ec2", "DescribeVpcs", {})
    assert rec.error is not None and rec.error.code == "RequestLimitExceeded" and len(throttle.seen) == 2
    [event] = events(caplog, "call.throttled")
    assert (event["throttled"], event["outcome"], event["error_code"], event["level"]) == (
        2, "failed", "RequestLimitExceeded", "WARNING")
    [failed] = events(caplog, "call.failed")
    assert (failed["error_code"], failed["retries"], failed["level"]) == ("RequestLimitExceeded", 1, "WARNING")


def test_a_throttling_reply_from_a_stubber(aws_env: None, caplog: pytest.LogCaptureFixture) -> None:
    """The Stubber answers before botocore's retry logic sees a reply: the final error alone
    says the call was throttled."""
    from auditor.collect.calls import run_call

    client = _ec2([], 1)
    caplog.set_level(logging.INFO, logger="auditor")
    with Stubber(client) as stub:
        stub.add_client_error("describe_subnets", service_error_code="ThrottlingException",
                              service_message="slow down", http_status_code=400)
        rec = run_call(client, "123456789012", REGION, "ec2", "DescribeSubnets", {})
    assert rec.error is not None and rec.error.code == "ThrottlingException"
    [event] = events(caplog, "call.throttled")
    assert (event["operation"], event["outcome"], event["throttled"]) == ("DescribeSubnets", "failed", 1)


def test_an_ordinary_failure_is_not_a_throttle(aws_env: None, caplog: pytest.LogCaptureFixture) -> None:
    from auditor.collect.calls import run_call

    client = _ec2([], 1)
    caplog.set_level(logging.INFO, logger="auditor")
    with Stubber(client) as stub:
        stub.add_client_error("describe_subnets", service_error_code="UnauthorizedOperation",
                              service_message="no", http_status_code=403)
        run_call(client, "123456789012", REGION, "ec2", "DescribeSubnets", {})
    assert events(caplog, "call.throttled") == []
    assert [e["error_code"] for e in events(caplog, "call.failed")] == ["UnauthorizedOperation"]


# -- accounts ----------------------------------------------------------------------------------------

def test_a_role_that_cannot_be_assumed(moto_aws: None, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from auditor.collect.runner import collect
    from auditor.collect.sessions import SessionFactory
    from auditor.snapshot.writer import SnapshotWriter

    deny = Injector("before-send.sts.AssumeRole",
                    lambda request, n: sts_error(403, "AccessDenied", "not authorized to assume " + AUDIT_ROLE))
    caplog.set_level(logging.INFO, logger="auditor")
    collect(make_config([(SECOND_ACCOUNT, AUDIT_ROLE)], regions=(REGION,)), SessionFactory(max_attempts=1, hooks=[deny]),
            SnapshotWriter(tmp_path / "snap"))
    [failed] = events(caplog, "account.failed")
    assert (failed["account"], failed["source"], failed["role_arn"], failed["error_code"], failed["level"]) == (
        SECOND_ACCOUNT, "config", AUDIT_ROLE, "AccessDenied", "ERROR")
    assert "sts:AssumeRole" in failed["reason"] and "not authorized" in failed["reason"]
    assert events(caplog, "account.reached") == [] and events(caplog, "region.done") == []
    [finished] = events(caplog, "collection.finished")
    assert finished["complete"] is False and finished["level"] == "WARNING"


def test_quiet_still_prints_an_unreachable_account(moto_aws: None, tmp_path: Path) -> None:
    """-q: the error-level event reaches stderr, nothing else is printed; the exit code is the same."""
    cfg = tmp_path / "audit.yaml"
    # No role: the base credentials (moto's 123456789012) are not the account's.
    cfg.write_text(f'version: 1\naccounts:\n  - id: "{SECOND_ACCOUNT}"\nregions: [{REGION}]\n')
    res = CliRunner().invoke(cli, ["collect", "-c", str(cfg), "--out", str(tmp_path / "s"), "-q"])
    assert res.exit_code == 3
    assert res.stdout == ""
    [line] = res.stderr.splitlines()
    assert " ERROR   account.failed: account 111111111111 (config) not reached: credentials for account " in line
    loud = CliRunner().invoke(cli, ["collect", "-c", str(cfg), "--out", str(tmp_path / "t"), "--log-format", "json"])
    assert loud.exit_code == 3 and "snapshot written to" in loud.stdout
    [failed] = [d for d in json_lines(loud.stderr) if d["event"] == "account.failed"]
    assert (failed["account"], failed["error_code"]) == (SECOND_ACCOUNT, "AccountMismatch")


# -- -q ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small snapshot written here (no emulator) to re-scan offline."""
    from auditor.rules.fixtures import ACCOUNT, REGION as HOME, Case, records_for
    from auditor.snapshot.writer import SnapshotWriter

    calls = {"ec2:DescribeVpcs": {"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16"}]}}
    writer = SnapshotWriter(tmp_path_factory.mktemp("snapshot") / "snap")
    for rec in records_for(Case(rule="", name="quiet", file="", line=0, calls=calls, failed=(), region=HOME)):
        writer.add(rec)
    return writer.finish({"started": "2026-03-01T10:00:00Z", "finished": "2026-03-01T10:01:00Z", "regions": [HOME],
                          "accounts": [{"id": ACCOUNT, "name": "quiet", "regions": [HOME]}],
                          "config": {"digest": "sha256:x"}})


def test_quiet_prints_nothing_on_success(snapshot: Path, tmp_path: Path) -> None:
    loud = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot), "--out", str(tmp_path / "a"),
                                    "--format", "json,csv", "--fail-on", "none"])
    quiet = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot), "--out", str(tmp_path / "b"),
                                     "--format", "json,csv", "--fail-on", "none", "-q"])
    assert "findings written to" in loud.stdout and "INCOMPLETE" in loud.stdout
    assert quiet.exit_code == loud.exit_code == 3
    assert (quiet.stdout, quiet.stderr) == ("", "")
    assert (tmp_path / "b" / "findings.json").is_file() and (tmp_path / "b" / "bundle.json").is_file()


def test_quiet_still_prints_an_error(snapshot: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("in the way")
    res = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot), "--out", str(tmp_path / "a-file"), "-q"])
    assert res.exit_code == 6
    assert res.stdout == "" and "error:" in res.stderr and "is a file" in res.stderr


def test_demo_quiet_prints_nothing(demo_run: DemoRun, capsys: pytest.CaptureFixture[str]) -> None:
    """What `auditor demo` prints after its run (the session's demo, not run again): its summary
    without -q, nothing with -q; and -q's message sink keeps only errors."""
    assert "NON-COMPLIANT" in demo_run.stdout                 # the shared run is `demo` without -q
    capsys.readouterr()
    demo_summary(demo_run.result, RunOutput(quiet=True))
    quiet = RunOutput(quiet=True)
    quiet.notify("demo: building the emulated estate ...", err=True)
    quiet.notify("findings written to x")
    assert capsys.readouterr() == ("", "")
    quiet.notify("error: report.pdf not written", err=True)
    assert capsys.readouterr().err == "error: report.pdf not written\n"
    demo_summary(demo_run.result, RunOutput())
    assert "`auditor scan` would exit 1" in capsys.readouterr().out


def test_demo_quiet_still_prints_an_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("in the way")
    res = CliRunner().invoke(cli, ["demo", "-q", "--out", str(tmp_path / "a-file")])
    assert res.exit_code == 6, res.output
    assert res.stdout == "" and "is a file" in res.stderr


# -- the lines themselves ------------------------------------------------------------------------------

def _record(message: str, *args: Any, **fields: Any) -> logging.LogRecord:
    log = logger("test")
    captured: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    keep = Keep()
    log.addHandler(keep)
    saved = log.level
    log.setLevel(logging.DEBUG)
    try:
        emit(log, "call.failed", message, *args, **fields)
    finally:
        log.removeHandler(keep)
        log.setLevel(saved)
    return captured[0]


def test_values_from_aws_are_data_not_format_strings_and_stay_inert() -> None:
    hostile = "%s %(x)s \x1b[2J\nCOMPLIANT\u202e\x7f"
    record = _record("%s:%s failed: %s", "ec2", "DescribeVpcs", hostile, error_message=hostile)
    text = EventFormatter("text").format(record)
    assert "\n" not in text and "\x1b" not in text and "\u202e" not in text and "\x7f" not in text
    assert text.endswith("WARNING call.failed: ec2:DescribeVpcs failed: %s %(x)s \\x1b[2J\\x0aCOMPLIANT\\u202e\\x7f")
    line = EventFormatter("json").format(record)
    assert "\n" not in line and all(ch.isprintable() and ord(ch) < 0x7f for ch in line)
    doc = json.loads(line)
    assert doc["error_message"] == hostile and doc["message"].endswith(hostile)


def test_a_field_may_not_take_a_line_key() -> None:
    with pytest.raises(ValueError, match="time"):
        _record("x", time="clash")


def test_the_library_prints_nothing_by_itself(capsys: pytest.CaptureFixture[str]) -> None:
    """Without the command line's handler an error event goes nowhere (no last-resort print)."""
    emit(logger("test"), "output.failed", "%s not written", "x", output="x", path="x", reason="r")
    assert capsys.readouterr() == ("", "")


def test_every_event_is_in_the_docs_table() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text.split("## Logs and progress", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z.]+)` \|", section, flags=re.M)
    assert documented == list(EVENTS)
