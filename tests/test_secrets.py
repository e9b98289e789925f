"""Secrets never enter evidence (issue 10, item 8): the catalogue's secret fields (Lambda
environment variable values, an EKS connector's activation code) are replaced at
collection by a keyed-hash marker; no output file of a full scan holds a planted secret."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import os
import re
import stat
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from auditor.cli import cli, main
from auditor.cli_common import EXIT_INPUT
from auditor.collect import redact
from auditor.collect.catalog import all_calls
from auditor.collect.redact import MARKER_PREFIX, RedactionKeyError, Redactor, key_id
from auditor.collect.runner import collect
from auditor.collect.sessions import SessionFactory
from auditor.snapshot.reader import load_snapshot
from auditor.snapshot.writer import SnapshotWriter

from conftest import make_config, make_network

KEY = "k" * 40
SECRETS = ("hunter2-Zq9vXr7pLw3s", 'p@ss"w0rd\\with<xml>&json{"chars"}-Q81', "pässwörd-ünïcødé-日本-7Hq2",
           "AKIAIOSFODNN7SECRETX", "line1\nline2-multiline-secret-K3m")
CANARY = "canary-not-a-secret-5f1e2d"


def expected_marker(value: str, key: str = KEY) -> str:
    return MARKER_PREFIX + hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:32] + ">"


def lambda_page(variables: dict[str, str]) -> dict[str, Any]:
    return {"Functions": [{"FunctionName": "f", "Description": CANARY,
                           "Environment": {"Variables": variables, "Error": {"ErrorCode": "x", "Message": "m"}}},
                          {"FunctionName": "no-env"}]}


def test_lambda_environment_values_become_markers_names_stay() -> None:
    r = Redactor(KEY.encode(), "test")
    page = lambda_page({"DB_PASSWORD": SECRETS[0], "API_TOKEN": SECRETS[1]})
    out = r.page("lambda", "ListFunctions", page)
    variables = out["Functions"][0]["Environment"]["Variables"]
    assert variables == {"DB_PASSWORD": expected_marker(SECRETS[0]), "API_TOKEN": expected_marker(SECRETS[1])}
    # Everything else as it came; the input page is not changed (pages are copied).
    assert out["Functions"][0]["Description"] == CANARY and out["Functions"][1] == {"FunctionName": "no-env"}
    assert page["Functions"][0]["Environment"]["Variables"]["DB_PASSWORD"] == SECRETS[0]
    assert r.count == 2 and r.meta()["key_id"] == key_id(KEY.encode())


def test_markers_show_change_and_depend_on_the_key() -> None:
    a, b = Redactor(KEY.encode()), Redactor(("x" * 40).encode())
    assert a.marker("s3cret") == a.marker("s3cret") != a.marker("s3cret2")
    assert a.marker("s3cret") != b.marker("s3cret")  # cannot be brute-forced without the key
    assert a.page("lambda", "ListFunctions", a.page("lambda", "ListFunctions", lambda_page({"K": "v"}))) == \
        a.page("lambda", "ListFunctions", lambda_page({"K": "v"}))  # a marker is never hashed again


def test_eks_connector_activation_code_is_redacted() -> None:
    # moto cannot register EKS Connector clusters: a DescribeCluster page of AWS's shape.
    page = {"cluster": {"name": "onprem", "connectorConfig": {"activationId": "id-1", "activationCode": SECRETS[0],
                                                              "provider": "OTHER"}}}
    out = Redactor(KEY.encode()).page("eks", "DescribeCluster", page)
    assert out["cluster"]["connectorConfig"] == {"activationId": "id-1", "activationCode": expected_marker(SECRETS[0]),
                                                 "provider": "OTHER"}


def test_every_declared_secret_field_path_is_well_formed() -> None:
    declared = [(c.key, p) for c in all_calls() for p in c.secret_fields]
    assert ("lambda:ListFunctions", "Functions[].Environment.Variables.*") in declared
    for _, path in declared:
        assert re.fullmatch(r"[A-Za-z]+(\[\])?(\.([A-Za-z]+(\[\])?|\*))*", path), path
    text = (Path(__file__).resolve().parent.parent / "docs" / "collection.md").read_text(encoding="utf-8")
    for key, path in declared:  # documented, one by one
        assert f"`{path}`" in text and key in text, (key, path)


def test_key_file_is_made_on_first_need_owner_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(redact.KEY_ENV, raising=False)
    monkeypatch.delenv(redact.KEY_FILE_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    r = Redactor.from_environment()
    assert not (tmp_path / "cfg").exists()  # nothing needed yet, nothing made
    marker = r.marker("v")
    path = tmp_path / "cfg" / "private-network-auditor" / "redaction.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert marker == expected_marker("v", path.read_text().strip())
    assert r.meta()["key_source"] == "key file (created for this run)"
    # The next run finds it: the same value gives the same marker (a change stays visible).
    again = Redactor.from_environment()
    assert again.marker("v") == marker and again.meta()["key_source"] == "key file"


def test_environment_key_wins_and_a_short_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(redact.KEY_ENV, KEY)
    r = Redactor.from_environment()
    assert r.marker(SECRETS[0]) == expected_marker(SECRETS[0])
    assert r.meta()["key_source"] == f"environment {redact.KEY_ENV}"
    monkeypatch.setenv(redact.KEY_ENV, "short")
    with pytest.raises(RedactionKeyError, match="at least 32"):
        Redactor.from_environment()


def test_unwritable_key_folder_gives_a_per_run_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(redact.KEY_ENV, raising=False)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(redact.KEY_FILE_ENV, str(blocker / "redaction.key"))
    r = Redactor.from_environment()
    assert r.marker("v").startswith(MARKER_PREFIX)
    assert r.meta()["key_source"].startswith("ephemeral")


def test_unusable_key_stops_the_run_before_anything_is_written(aws_env: None, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(redact.KEY_ENV, "short")
    cfg = tmp_path / "audit.yaml"
    cfg.write_text("version: 1\nregions: [us-east-1]\n")
    monkeypatch.setattr(sys, "argv", ["auditor", "collect", "-c", str(cfg), "--out", str(tmp_path / "run" / "s")])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == EXIT_INPUT
    assert "redaction key" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_secret_bearing_call_without_a_redactor_keeps_nothing(moto_aws: None, tmp_path: Path) -> None:
    from auditor.collect.calls import run_call

    client = SessionFactory(max_attempts=1).client(boto3_session(), "lambda", "us-east-1")
    rec = run_call(client, "123456789012", "us-east-1", "lambda", "ListFunctions", {})
    assert rec.pages == () and rec.error is not None and rec.error.code == "SecretsUnprotected"


def boto3_session() -> Any:
    import botocore.session

    return botocore.session.Session()


# -- end to end ----------------------------------------------------------------------

def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return 1\n")
    return buf.getvalue()


def plant(region: str) -> None:
    """Lambda functions whose environment holds every planted secret (in and out of a VPC),
    and the canary in collected fields that are not secret (description, tags, names)."""
    net = make_network("123456789012", region)
    ec2 = boto3.client("ec2", region_name=region)
    ec2.create_tags(Resources=[net.vpc_id], Tags=[{"Key": "Name", "Value": CANARY}])
    iam = boto3.client("iam", region_name=region)
    role = iam.create_role(RoleName=f"fn-{region}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=region)
    for i, vpc in enumerate((None, net)):
        args: dict[str, Any] = {
            "FunctionName": f"payments-{i}", "Runtime": "python3.12", "Handler": "index.handler", "Role": role,
            "Code": {"ZipFile": _zip()}, "Description": CANARY, "Tags": {"owner": CANARY},
            "Environment": {"Variables": {f"SECRET_{j}": s for j, s in enumerate(SECRETS)}
                            | {"DB_PASSWORD": SECRETS[0]}}}
        if vpc is not None:
            args["VpcConfig"] = {"SubnetIds": vpc.subnet_ids, "SecurityGroupIds": [vpc.sg_id]}
        lam.create_function(**args)


def _texts(path: Path) -> list[bytes]:
    """The file's bytes, and every layer a reader could unpack: gzip, zip, PDF streams."""
    data = path.read_bytes()
    out = [data]
    if data[:2] == b"\x1f\x8b":
        out.append(gzip.decompress(data))
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            out += [z.read(n) for n in z.namelist()]
    if data[:4] == b"%PDF":
        for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
            try:
                out.append(zlib.decompress(m.group(1)))
            except zlib.error:
                pass
    return out


def _forms(secret: str) -> list[bytes]:
    """How a secret could be written: UTF-8, JSON-escaped, HTML/XML-escaped, UTF-16 (PDF text)."""
    import html
    import json

    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], html.escape(secret)}
    out = [f.encode("utf-8") for f in forms]
    out.append(secret.encode("utf-16-be"))
    # A long enough fragment catches a secret split by a line wrap or an escape we did not think of.
    out += [p.encode("utf-8") for p in re.split(r"[\n\"\\<>&{}]", secret) if len(p) >= 8]
    return out


def test_no_planted_secret_reaches_any_output_file(moto_aws: None, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv(redact.KEY_ENV, KEY)
    plant("us-east-1")
    cfg = tmp_path / "audit.yaml"
    cfg.write_text("version: 1\nregions: [us-east-1]\n")
    out = tmp_path / "scan"
    res = CliRunner().invoke(cli, ["scan", "-c", str(cfg), "--out", str(out), "-q"])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    assert (out / "findings.json").is_file() and (out / "snapshot" / "manifest.json").is_file(), res.output
    files = [p for p in out.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"findings.json", "manifest.json", "bundle.json"} <= names, names
    assert any(n.endswith(".html") for n in names) and any(n.endswith(".pdf") for n in names), names

    seen_canary = False
    for path in files:
        for text in _texts(path):
            for secret in SECRETS:
                for form in _forms(secret):
                    assert form not in text, (path.relative_to(out), secret)
            seen_canary = seen_canary or CANARY.encode() in text
    assert seen_canary  # the search does see collected fields; only the secrets are gone
    # The evidence still shows each variable (by name) and a marker per value.
    snap = load_snapshot(out / "snapshot")
    [rec] = [r for r in snap.records if r.operation == "ListFunctions"]
    functions = rec.items("Functions")
    assert len(functions) == 2
    for fn in functions:
        variables = fn["Environment"]["Variables"]
        assert variables["DB_PASSWORD"] == variables["SECRET_0"] == expected_marker(SECRETS[0])
        assert sorted(variables) == ["DB_PASSWORD"] + [f"SECRET_{j}" for j in range(len(SECRETS))]
    redaction = snap.manifest["redaction"]
    assert redaction["values_redacted"] == 2 * (len(SECRETS) + 1)
    assert redaction["key_id"] == key_id(KEY.encode()) and redaction["key_source"] == "environment AUDITOR_REDACTION_KEY"
    assert KEY.encode() not in b"".join(p.read_bytes() for p in files)  # nor the key


def test_collect_records_markers_with_the_writer(moto_aws: None, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    # The library path (no CLI): collect() redacts by default, too.
    monkeypatch.setenv(redact.KEY_ENV, KEY)
    plant("eu-west-1")
    result = collect(make_config((), ("eu-west-1",)), SessionFactory(max_attempts=2),
                     SnapshotWriter(tmp_path / "s", keep=True))
    [rec] = [r for r in result.records if r.operation == "ListFunctions"]
    assert {v for fn in rec.items("Functions") for v in fn["Environment"]["Variables"].values()} == {
        expected_marker(s) for s in SECRETS}
    raw = b"".join(p.read_bytes() for p in (tmp_path / "s").rglob("*") if p.is_file())
    assert not any(s.encode() in raw for s in SECRETS)
    assert os.fspath(tmp_path) not in result.manifest["redaction"]["key_source"]
