"""The scan as a library (auditor/api.py): what `run_scan` writes and returns, how it stops,
that it prints nothing, that re-evaluating a snapshot never loads the collector or botocore, and that the
example in docs/library.md runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.api import ScanResult, ScanStopped, run_scan
from auditor.bundle import BUNDLE_FILE
from auditor.bundle_verify import verify_bundle
from auditor.cli_common import EXIT_INPUT, EXIT_OUTPUT, EXIT_VIOLATIONS_INCOMPLETE
from auditor.errors import InputError
from auditor.config import config_from_text
from conftest import run_auditor
from test_engine import records, write_snapshot

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_snapshot(tmp_path_factory.mktemp("lib") / "snap", records())


def test_run_scan_writes_what_the_command_writes_and_says_the_same(snapshot: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[tuple[str, bool]] = []
    result = run_scan(None, snapshot=snapshot, out=tmp_path / "lib", formats=["csv", "sarif"],
                      notify=lambda text, err=False: lines.append((text, err)))
    assert isinstance(result, ScanResult)
    assert capsys.readouterr() == ("", "")                                # nothing printed
    assert result.findings == tmp_path / "lib" / "findings.json" and result.findings.is_file()
    assert result.reports == (("csv", tmp_path / "lib" / "findings.csv"), ("sarif", tmp_path / "lib" / "findings.sarif"))
    assert result.bundle == tmp_path / "lib" / BUNDLE_FILE and not result.signed
    assert verify_bundle(tmp_path / "lib").ok
    assert result.outputs_written and result.problems == () and result.collection is None
    assert result.exit_code == result.verdict_code == EXIT_VIOLATIONS_INCOMPLETE   # built-in packs: FAIL + gaps
    assert result.fail_on == "high" and not result.complete
    assert result.document["summary"] == json.loads(result.findings.read_text())["summary"]
    # The command on the same snapshot: the same bytes, the same lines, the same exit code.
    proc = run_auditor("scan", "--snapshot", str(snapshot), "--out", str(tmp_path / "cli"), "--format", "csv,sarif")
    assert proc.returncode == result.exit_code, proc.stderr
    for name in ("findings.json", "findings.csv", "findings.sarif", BUNDLE_FILE):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "lib" / name).read_bytes(), name
    said = "".join(f"{text}\n" for text, err in lines if not err).replace(str(tmp_path / "lib"), "OUT")
    assert proc.stdout.replace(str(tmp_path / "cli"), "OUT").startswith(said)


def test_run_scan_stops_with_the_commands_exit_codes(snapshot: Path, tmp_path: Path) -> None:
    with pytest.raises(ScanStopped) as inside:
        run_scan(None, snapshot=snapshot, out=snapshot / "out")
    assert inside.value.code == EXIT_INPUT and "is inside the snapshot" in inside.value.message
    with pytest.raises(ScanStopped) as missing:
        run_scan(None, snapshot=tmp_path / "nowhere", out=tmp_path / "o")
    assert missing.value.code == EXIT_INPUT and not (tmp_path / "o").exists()
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(ScanStopped) as blocked:
        run_scan(None, snapshot=snapshot, out=tmp_path / "file", formats=["json"])
    assert blocked.value.code == EXIT_OUTPUT and "is a file" in blocked.value.message
    config = config_from_text("version: 1\nregions: [eu-west-1]\nprofile: bankng\n")
    with pytest.raises(InputError) as bad:
        run_scan(config, snapshot=snapshot, out=tmp_path / "p")
    assert "did you mean 'banking'" in bad.value.problems[0].message and not (tmp_path / "p").exists()
    with pytest.raises(ValueError):
        run_scan(None)


def test_a_report_that_cannot_be_written_is_in_the_result(snapshot: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "findings.csv.partial").symlink_to("/dev/full")
    result = run_scan(None, snapshot=snapshot, out=out, formats=["csv", "sarif"])
    assert not result.outputs_written and result.exit_code == EXIT_OUTPUT
    assert result.verdict_code == EXIT_VIOLATIONS_INCOMPLETE
    assert [p.split(":")[0] for p in result.problems] == ["csv"] and result.reports == (
        ("sarif", out / "findings.sarif"),)


def test_re_evaluating_a_snapshot_loads_no_collector_no_aws_library_and_no_emulator(snapshot: Path,
                                                                                    tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from auditor.api import run_scan; "
            "r = run_scan(None, snapshot=Path(sys.argv[1]), out=Path(sys.argv[2]), formats=['json']); "
            "print(r.exit_code, sorted(m for m in sys.modules if m.startswith(('auditor.collect.runner', "
            "'auditor.collect.sessions', 'auditor.emulate', 'moto', 'boto3', 'botocore'))))")
    proc = subprocess.run([sys.executable, "-c", code, str(snapshot), str(tmp_path / "out")], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split(" ", 1) == [str(EXIT_VIOLATIONS_INCOMPLETE), "[]\n"]


def _example() -> str:
    """The first Python block of docs/library.md."""
    text = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```", text, re.S)
    assert match is not None
    return match.group(1)


def test_the_example_in_docs_library_md_runs(snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "evidence").mkdir()
    os.symlink(snapshot, tmp_path / "evidence" / "snapshot")
    monkeypatch.chdir(tmp_path)
    exec(compile(_example(), "docs/library.md", "exec"), {})   # noqa: S102 - our own documentation
    printed = capsys.readouterr().out.splitlines()
    assert printed[:3] == [str(EXIT_VIOLATIONS_INCOMPLETE), str(Path("rescan") / "findings.json"),
                           str([str(Path("rescan") / "findings.csv"), str(Path("rescan") / "findings.sarif")])]
    assert "'FAIL':" in printed[3]
    assert verify_bundle(tmp_path / "rescan").ok
