"""The period report rendered for real (HTML; PDF by WeasyPrint, read back with pypdf), written by
`auditor report --store` (auditor/cli_report.py) from a small fake store over bundle folders, and
the command's usage errors."""

from __future__ import annotations

import io
import json
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from auditor.cli import cli
from auditor.cli_report import write_period_report
from auditor.report.period import build_period
from auditor.report.period_html import period_html, period_statement
from auditor.store.base import REGIME_RETENTION, Retention, StoredRun, StoreError, describe_bundle
from period_fixtures import bundles, half_year

START, END = date(2026, 1, 5), date(2026, 6, 29)
STATEMENT = ("Assessment period 2026-01-05 to 2026-06-29; 25 runs; first run 2026-01-05 06:00:00 UTC, "
             "last run 2026-06-29 06:00:00 UTC; schedule weekly: 1 gap")


class FolderStore:
    """A RunStore over bundle folders (the test's stand-in for the local store)."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = {describe_bundle(f).run_id: f for f in folders}

    @property
    def description(self) -> str:
        return "test store"

    def register(self, bundle: Path, *, signer: str = "") -> StoredRun:
        run = describe_bundle(bundle)
        self.folders[run.run_id] = bundle
        return run

    def runs(self, *, since: date | None = None, until: date | None = None,
             account: str | None = None) -> list[StoredRun]:
        found = [describe_bundle(f) for f in self.folders.values()]
        return sorted((r for r in found if (since is None or r.day >= since) and (until is None or r.day <= until)
                       and (account is None or account in r.accounts)), key=lambda r: (r.created, r.run_id))

    def get(self, ref: str) -> StoredRun:
        if ref not in self.folders:
            raise StoreError(f"no run {ref}")
        return describe_bundle(self.folders[ref])

    def fetch(self, run: StoredRun, into: Path | None = None) -> Path:
        return self.folders[run.run_id]

    def retention(self) -> Retention:
        return REGIME_RETENTION["pci-dss"]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("period")
    store = FolderStore([f for _, f in bundles(root / "store", half_year("weekly"))])
    out = root / "out"
    write_period_report(store, START, END, schedule=None, account=None, style="banking", wanted=["html", "pdf"],
                        folder=out)
    return out


def _text(pdf: bytes) -> tuple[PdfReader, list[str]]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, [" ".join((p.extract_text() or "").split()) for p in reader.pages]


def test_pdf_cover_states_the_period_and_the_gap_is_shown(written: Path) -> None:
    reader, pages = _text((written / "period-report.pdf").read_bytes())
    assert STATEMENT in pages[0].replace("\u00a0", " ")
    assert "(as asked)" in pages[0] and "weekly (inputs/audit-config.yaml of run" in pages[0]
    gap_pages = [t for t in pages if t.startswith("Example Bank · Gaps in evidence") or "Gaps in evidence Schedule" in t]
    assert any("Gap: 2026-04-06 06:00 UTC" in t for t in gap_pages), gap_pages
    everything = " ".join(pages)
    # Findings over the period: the violation of weeks 5..8, fixed in week 9 after 28 days; the
    # waived finding open at the end; the resource added in week 17; the appendix's hashes.
    assert ("high R-1 security_group sg-1 111111111111/eu-west-1: worst FAIL; first seen 2026-02-02; last seen "
            "2026-02-23; fixed in the run of 2026-03-02 (PASS) after 28 days; at the end: PASS") in everything
    assert ("R-2 security_group sg-2 111111111111/eu-west-1: worst FAIL; first seen 2026-01-05 (open at the period's "
            "start); failing (not waived) from 2026-05-18; last seen 2026-06-29; not fixed; OPEN at the end: FAIL"
            ) in everything
    assert "subnet subnet-new 111111111111/eu-west-1: first seen 2026-04-27, last seen 2026-06-29" in everything
    assert "waiver WVR-1 from 2026-01-05 to 2026-05-11 (expires 2026-05-20); expired after it" in everything
    assert "Controls: 0 of 3 shown in place through the whole period" in everything
    run = json.loads((written / "period.json").read_bytes())["runs"][0]
    assert run["bundle_sha256"][:32] in everything.replace(" ", "")
    # period.json is attached, the same bytes as written beside the report.
    assert reader.attachments["period.json"] == [(written / "period.json").read_bytes()]
    assert "/GTS_PDFA1" in str(reader.trailer["/Root"]["/OutputIntents"][0].get_object())


def test_html_states_the_period_and_the_gap(written: Path) -> None:
    html = (written / "period-report.html").read_text(encoding="utf-8")
    assert f'<p class="statement" id="statement">{STATEMENT}.</p>' in html
    assert "default-src &#39;none&#39;" in html or "default-src 'none'" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)     # nothing loaded from outside
    assert '<tr class="gap"><td>2026-04-06 06:00 UTC</td><td>2026-04-02 18:00 to 2026-04-09 18:00 UTC</td></tr>' in html
    assert html.count("<svg") == 1 and "04-06: no run (gap)" in html
    assert "PCI DSS v4.0.1, NIST CSF 2.0" in html   # --style banking


def test_without_a_schedule_gaps_are_not_assessed_never_none(tmp_path: Path) -> None:
    m = build_period(bundles(tmp_path, half_year(None)), START, END, schedule=None, store="s")
    assert period_statement(m).endswith("no schedule: gaps in evidence not assessed")
    html = period_html(m, style="healthcare").decode()
    assert "Not assessed: no schedule of expected runs" in html and "HIPAA" in html
    assert "every expected run whose window lies in the period has a run" not in html
    assert "Gaps in evidence: <strong class=\"gap\">not assessed</strong>" in html


def test_period_json_is_the_model(written: Path) -> None:
    doc = json.loads((written / "period.json").read_bytes())
    assert doc["format"] == "private-network-auditor/period" and doc["period"] == {
        "from": "2026-01-05", "to": "2026-06-29", "first_run": "2026-01-05T06:00:00Z",
        "last_run": "2026-06-29T06:00:00Z", "runs": 25}
    assert [g["day"] for g in doc["schedule"]["gaps"]] == ["2026-04-06"]


def test_empty_period_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = FolderStore([f for _, f in bundles(tmp_path / "s", half_year()[:2])])
    with pytest.raises(SystemExit) as exit_:
        write_period_report(store, date(2027, 1, 1), date(2027, 2, 1), schedule=None, account=None, style=None,
                            wanted=["html"], folder=tmp_path / "out")
    assert exit_.value.code == 2
    assert "no run in the period 2027-01-01 to 2027-02-01 in test store" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit) as exit_:
        write_period_report(store, START, END, schedule=None, account="999999999999", style=None,
                            wanted=["html"], folder=tmp_path / "out")
    assert exit_.value.code == 2 and "with account 999999999999" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["findings.json", "--store", "s", "--from", "2026-01-01", "--to", "2026-02-01"], "not both"),
    (["--from", "2026-01-01", "--to", "2026-02-01"], "--from, --to are for a period report"),
    (["findings.json", "--schedule", "weekly"], "--schedule is for a period report"),
    ([], "give FINDINGS"),
    (["--store", "s", "--from", "2026-01-01"], "--to is missing"),
    (["--store", "s", "--from", "2026-13-01", "--to", "2026-02-01"], "--from 2026-13-01: not a date"),
    (["--store", "s", "--from", "2026-03-01", "--to", "2026-02-01"], "ends (--to 2026-02-01) before it starts"),
    (["--store", "s", "--from", "2026-01-01", "--to", "2026-02-01", "--format", "sarif"], "unknown format sarif"),
    (["--store", "s", "--from", "2026-01-01", "--to", "2026-02-01", "--schedule", "0 25 * * *"], "Bad hour"),
    (["--store", "s", "--from", "2026-01-01", "--to", "2026-02-01", "--pack", "p"], "--pack is for a run's report"),
])
def test_usage_errors_exit_2(args: list[str], words: str) -> None:
    result = CliRunner().invoke(cli, ["report", *args])
    assert result.exit_code == 2, result.output
    assert words in result.output
