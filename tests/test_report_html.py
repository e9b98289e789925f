"""The self-contained HTML report: structure, escaping, the content security policy, no
external loads, determinism, the two styles, a golden normalised page of the sample
findings document, and filter, sort and search in a real headless Chromium.

The golden file is tests/golden/report_sample.html; after a deliberate change of the
template: ``UPDATE_GOLDEN=1 pytest tests/test_report_html.py``, then review the diff.

The browser tests need Debian's `chromium` (`make test` installs it when run as root). They
fail, never skip, when it is missing.
"""

from __future__ import annotations

import copy
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.report.html import CSP, html_report, json_for_script
from auditor.report.model import build_model
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from test_report_model import HOSTILE_TAG, _counts, _finding, sample_document

GOLDEN = Path(__file__).parent / "golden" / "report_sample.html"


def _render(doc: dict[str, Any], style: str | None = None, record_hashes: dict[str, str] | None = None) -> str:
    return html_report(build_model(doc, load_packs(), load_catalogues(), style=style,
                                   record_hashes=record_hashes)).decode("utf-8")


def _hashes(doc: dict[str, Any]) -> dict[str, str]:
    """A made-up manifest hash for every record `doc` cites."""
    return {s.split("#")[0]: "sha256:" + hashlib.sha256(s.encode()).hexdigest()
            for f in doc["findings"] for e in f["evidence"] for s in e["sources"]}


@pytest.fixture(scope="module")
def page() -> str:
    return _render(sample_document())


def _two_framework_doc() -> dict[str, Any]:
    doc = sample_document()
    doc["frameworks"].append({"id": "hipaa-security", "title": "HIPAA Security Rule", "version": "2013",
                              "status": "FAIL", "controls": [
                                  {"id": "164.312(e)(1)", "title": "", "status": "FAIL", "rules": ["EKS-001"],
                                   "counts": _counts(FAIL=1), "authorities": ["third-party-steampipe"],
                                   "third_party_only": True}]})
    return doc


# Structure, escaping, no external loads ------------------------------------------------------

def test_one_self_contained_file_with_a_csp(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert "default-src 'none'" in CSP
    low = page.lower()
    assert "<script src" not in low and "<link" not in low and "<iframe" not in low
    assert not re.search(r"""(src|href|action)\s*=\s*["']?(https?:|//)""", low)
    assert not re.search(r"url\(", low) and "@import" not in low
    assert low.count("<style>") == 1 and "<svg" in low
    for section in ("summary", "scope", "matrix", "findings", "waivers", "not-assessed", "run"):
        assert f'<section id="{section}">' in page


def test_summary_and_scope_are_server_rendered(page: str) -> None:
    before_script = page.split('<script type="application/json"', 1)[0]
    assert "PCI DSS" in before_script and "Not in Place" in before_script     # the framework's own term
    assert "1.3.1" in before_script and "mapped by AWS Security Hub" in before_script
    assert "third-party mapping: Steampipe/Prowler (Apache-2.0)" in before_script
    assert "WVR-1" in before_script and "ciso@example.com" in before_script      # waivers register
    assert "AccessDenied" in before_script and "DescribeCluster" in before_script  # not assessed
    assert "sha256:" + "0" * 64 in before_script                                  # run metadata
    assert "eks_cluster" in before_script and "111111111111" in before_script    # scope
    assert "arn:aws:sts::111111111111:assumed-role/AuditorReadOnly/" in before_script  # who read it
    assert "<noscript>" in page


def test_aws_strings_are_escaped(page: str) -> None:
    assert "<script>alert(1)</script>" not in page
    assert "Example Bank &lt;plc&gt;" in page
    data = page.split('<script type="application/json" id="report-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and ">" not in data and "&" not in data and data.isascii()
    parsed = json.loads(data)
    assert any(row[5] == "bank-" + HOSTILE_TAG for row in parsed["findings"])
    assert "innerHTML" not in page and "insertAdjacentHTML" not in page and "document.write" not in page


def test_json_for_script_cannot_close_the_block() -> None:
    text = json_for_script({"k": "</script><!-- & \u2028 é"})
    assert "</" not in text and "<!--" not in text and text.isascii()
    assert json.loads(text) == {"k": "</script><!-- & \u2028 é"}


def test_frameworks_show_third_party_only_mapping() -> None:
    page = _render(_two_framework_doc(), style="healthcare")
    assert "third-party mapping only" in page and "164.312(e)(1)" in page and "Gaps found" in page


def test_the_two_styles_differ_in_title_environment_and_framework_order() -> None:
    doc = _two_framework_doc()
    bank, health = _render(doc, style="banking"), _render(doc, style="healthcare")
    assert "<h1>PCI DSS v4.0" in bank and "<h1>HIPAA Security Rule" in health
    env = [re.findall(r'<strong id="environment">([^<]*)</strong>', p) for p in (bank, health)]
    assert env == [["cardholder data environment (CDE)"], ["systems that create, receive, maintain or transmit ePHI"]]
    order = [re.findall(r'data-framework="([^"]+)"', p) for p in (bank, health)]
    assert order == [["pci-dss-4.0", "hipaa-security"], ["hipaa-security", "pci-dss-4.0"]]


def test_deterministic_and_clock_free(monkeypatch: pytest.MonkeyPatch) -> None:
    first = _render(sample_document())
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert _render(sample_document()) == first


def _normalise(text: str) -> str:
    return re.sub(r">\s*<", ">\n<", re.sub(r"[ \t]+", " ", text)).strip() + "\n"


def test_golden_normalised_html(page: str) -> None:
    actual = _normalise(page)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(actual, encoding="utf-8")
    assert actual == GOLDEN.read_text(encoding="utf-8"), "the page changed: UPDATE_GOLDEN=1 rewrites, then review"


def test_report_command_writes_html(tmp_path: Path) -> None:
    src = tmp_path / "findings.json"
    src.write_text(json.dumps(sample_document()), encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(src), "--format", "html", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert f"html: {tmp_path / 'o' / 'report.html'}" in res.output
    assert (tmp_path / "o" / "report.html").read_text(encoding="utf-8") == _render(sample_document())


# In a real headless Chromium ------------------------------------------------------------------

SQS = "orders-sqs"


def _browser_doc(extra: int = 0, sentinel: str = "") -> dict[str, Any]:
    """The sample plus a medium rule with an `orders-sqs` finding and `extra` FAIL findings."""
    doc = sample_document()
    rule2 = copy.deepcopy(doc["rules"][0])
    rule2.update(id="AAA-001", title="A second rule", severity="medium")
    doc["rules"].append(rule2)
    doc["findings"].append(_finding("9" * 20, "AAA-001", "medium", "FAIL", SQS,
                                    f"queue {SQS} reachable <img src={sentinel}/data> {sentinel}/text"))
    doc["findings"] += [_finding(f"{n:020d}", "AAA-001", "low", "FAIL", f"bulk-{n:05d}", "bulk")
                        for n in range(extra)]
    return doc


def _chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("Debian's chromium is not installed: run `make test` as root (it installs it), or "
                    "`apt-get install -y chromium`; the HTML report's browser tests need it")
    return exe


@pytest.fixture(scope="module")
def sentinel() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request: no report may reach it."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def _dump(path: Path, fragment: str = "", *, isolated: bool = True) -> str:
    """The DOM after the page's scripts ran (Chromium headless, virtual time)."""
    args = [_chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={path.parent / 'chromium-profile'}", "--virtual-time-budget=5000"]
    if isolated:
        args.append("--host-resolver-rules=MAP * ~NOTFOUND")
    proc = subprocess.run([*args, "--dump-dom", path.as_uri() + fragment], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _rows(dom: str) -> list[dict[str, str]]:
    return [dict(re.findall(r'data-(\w+)="([^"]*)"', tag)) for tag in re.findall(r'<tr class="finding"[^>]*>', dom)]


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory: pytest.TempPathFactory, sentinel: tuple[str, list[str]]) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    doc = _browser_doc(extra=450, sentinel=sentinel[0])
    path.write_text(_render(doc, record_hashes=_hashes(doc)), encoding="utf-8")
    return path


def test_browser_filters_by_status_and_searches(browser_page: Path) -> None:
    dom = _dump(browser_page, f"#st=FAIL&q={SQS}")
    rows = _rows(dom)
    assert [r["rule"] for r in rows] == ["AAA-001"] and rows[0]["st"] == "FAIL"
    assert "showing 1 of 1 (457 findings in all)" in dom
    assert html.escape(f"queue {SQS} reachable <img src=", quote=False) in dom    # message rebuilt around the id
    source = next(f for f in _browser_doc()["findings"] if f["resource"]["id"] == SQS)["evidence"][0]["sources"][0]
    record = source.split("#")[0]                                                # each record with its hash
    assert f"snapshot record: {source} (record {_hashes(_browser_doc())[record]})" in dom
    dom = _dump(browser_page, "#st=PASS&rule=EKS-001")
    assert [r["fp"] for r in _rows(dom)] == ["d" * 20, "e" * 20]


def test_browser_sorts_groups_and_pages(browser_page: Path) -> None:
    rows = _rows(_dump(browser_page, "#sev=high&sort=status&passes=1"))
    assert [r["st"] for r in rows] == ["FAIL", "ERROR", "WAIVED", "PASS", "PASS", "NOT_APPLICABLE"]
    dom = _dump(browser_page, "#sort=rule&group=control&fw=pci-dss-4.0&passes=1")
    table = dom.split('<tbody id="rows">', 1)[1].split("</tbody>", 1)[0]
    assert re.findall(r'<tr class="group"><th colspan="5">([^<]*)</th>', table) == ["pci-dss-4.0 1.3.1"]
    assert [r["rule"] for r in _rows(dom)][:6] == ["EKS-001"] * 6
    dom = _dump(browser_page)                     # default: failures first, worst severity first, 200 a page
    rows = _rows(dom)
    assert len(rows) == 200 and (rows[0]["st"], rows[0]["sev"]) == ("FAIL", "high")
    assert "showing 200 of 454 (457 findings in all; 3 PASS or NOT_APPLICABLE hidden)" in dom
    assert '<button id="more" type="button">' in dom                # more to show


def test_browser_shows_hostile_strings_as_text(browser_page: Path) -> None:
    dom = _dump(browser_page, "#q=bank-")
    assert html.escape("bank-" + HOSTILE_TAG, quote=False) in dom
    # ARN and message travel as the halves around the resource id (html.py _around): rebuilt whole.
    hostile = [f for f in _browser_doc()["findings"] if f["resource"]["id"] == "bank-" + HOSTILE_TAG]
    assert hostile and hostile[0]["resource"]["id"] in hostile[0]["resource"]["arn"]
    assert html.escape("ARN: " + hostile[0]["resource"]["arn"], quote=False) in dom
    assert html.escape(hostile[0]["message"], quote=False) in dom
    assert "<script>alert(1)" not in dom and "<img src=" not in dom


def test_browser_makes_no_network_request(browser_page: Path, sentinel: tuple[str, list[str]]) -> None:
    base, hits = sentinel
    control = browser_page.parent / "control.html"   # the detector works: a page without the CSP loads
    control.write_text(f'<!DOCTYPE html><img src="{base}/control">', encoding="utf-8")
    _dump(control, isolated=False)
    assert hits == ["/control"]
    hits.clear()
    _dump(browser_page, f"#q={SQS}", isolated=False)
    # An escaping bug that let markup through would still be blocked by the CSP: plant one.
    planted = browser_page.parent / "planted.html"
    planted.write_text(browser_page.read_text(encoding="utf-8").replace(
        "<main>", f'<main><img src="{base}/img"><script src="{base}/js"></script>', 1), encoding="utf-8")
    dom = _dump(planted, isolated=False)
    assert 'data-rule="AAA-001"' in dom                       # the page's own script still ran
    assert hits == []


def test_gaps_and_account_status_come_from_the_data(page: str) -> None:
    # the sample has a failed call and a gap: said at the top, and the account is incomplete
    assert 'id="gaps-summary"' in page and "1 gap(s) in 1 account-region(s)" in page
    assert "Every call was answered" not in page
    accounts = page.split('<table id="accounts">', 1)[1].split("</table>", 1)[0]
    assert "incomplete" in accounts and "reached as arn:aws:sts::" in accounts
    clean = sample_document()
    clean["run"]["snapshot"]["errors"] = 0
    clean["not_assessed"] = []
    clean_page = _render(clean)
    assert 'id="gaps-summary"' not in clean_page and "<p>Every call was answered.</p>" in clean_page
    old = sample_document()           # a failed call without a gap entry: never "every call was answered"
    old["not_assessed"] = []
    old_page = _render(old)
    assert "Every call was answered" not in old_page and "1 of 10 recorded calls failed" in old_page
