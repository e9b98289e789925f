"""The HTML report as an assessor first sees it, measured in a real headless Chromium at 1400 px
wide (issue 13): the findings come right after a short summary with the failures on top (FAIL,
then ERROR, then WAIVED, each by severity), the first failing finding is inside the first
viewport, passes and not-applicable rows are hidden until the toggle shows them, and each
finding carries its rule's remediation (console, CLI, IaC steps and the references).

The page is the demo's own report.html (the shared `demo_run` fixture) with a probe script
appended: the probe measures the page as it loaded, clicks the toggle, and writes what it saw
into the DOM that `chromium --dump-dom` prints. Like tests/test_report_html.py it needs
Debian's `chromium` and fails, never skips, without it.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import DemoRun
from auditor.report.html import html_report
from auditor.report.model import build_model
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs
from auditor.vocabulary import SEVERITIES
from test_report_html import _chromium
from test_report_model import sample_document

WIDTH, HEIGHT = 1400, 900
FAILING = ("FAIL", "ERROR", "WAIVED")

# Runs after report.js (it is appended after it): what the reader sees before touching anything,
# then the same after one click on the passes toggle. Only textContent is read and written.
PROBE = """<script>
(function () {
  "use strict";
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#rows tr.finding")).filter(function (r) {
      return r.getClientRects().length > 0;
    }).map(function (r) { return [r.dataset.st, r.dataset.sev, r.dataset.rule]; });
  }
  var out = {width: window.innerWidth, height: window.innerHeight, scrolled: window.scrollY};
  var fail = document.querySelector('#rows tr.finding[data-st="FAIL"]');
  out.first_fail_top = fail ? fail.getBoundingClientRect().top : null;
  out.first_fail_text = fail ? fail.textContent : null;
  out.first_fail_rule = fail ? fail.dataset.rule : null;
  out.shown_before = document.getElementById("shown").textContent;
  out.before = rows();
  var toggle = document.getElementById("f-passes");
  out.toggle = toggle ? toggle.closest("label").textContent : null;
  if (toggle) { toggle.click(); }
  out.shown_after = document.getElementById("shown").textContent;
  out.after = rows();
  var probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify(out);
  document.body.appendChild(probe);
}());
</script>
"""


def _probe(page: str, folder: Path) -> dict[str, Any]:
    """Load `page` (with the probe) in headless Chromium at WIDTH x HEIGHT; what the probe saw."""
    assert page.count("</body>") == 1
    path = folder / "report.html"
    path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    args = [_chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}",
            f"--user-data-dir={folder / 'chromium-profile'}", "--virtual-time-budget=5000",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", path.as_uri()]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, "the probe did not run: " + proc.stdout[-2000:]
    seen: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    # The window is WIDTH x HEIGHT; headless Chromium gives the page all of its width and a little
    # less height (757 of 900 px with Debian's chromium 156): the viewport measured is the one held to.
    assert (seen["width"], seen["scrolled"]) == (WIDTH, 0) and 600 <= seen["height"] <= HEIGHT, seen
    return seen


def _in_order(rows: list[list[str]]) -> bool:
    """Failures on top (FAIL, ERROR, WAIVED, then the rest), each status by severity."""
    order = ("FAIL", "ERROR", "WAIVED", "PASS", "NOT_APPLICABLE")
    keys = [(order.index(st), SEVERITIES.index(sev)) for st, sev, _ in rows]
    return keys == sorted(keys)


@pytest.fixture(scope="module")
def demo_seen(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    assert demo_run.code == 0, demo_run.stderr
    page = (demo_run.out / "report.html").read_text(encoding="utf-8")
    seen = _probe(page, tmp_path_factory.mktemp("layout"))
    print(f"first FAIL finding of the demo report at {seen['first_fail_top']} px "
          f"(viewport {seen['width']}x{seen['height']})")
    return seen


def _demo_findings(demo_run: DemoRun) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = json.loads((demo_run.out / "findings.json").read_text(encoding="utf-8"))["findings"]
    return findings


def test_the_first_failure_is_in_the_first_viewport(demo_seen: dict[str, Any], demo_run: DemoRun) -> None:
    assert any(f["status"] == "FAIL" for f in _demo_findings(demo_run)), "the demo has failures to show"
    top = demo_seen["first_fail_top"]
    assert top is not None, "no FAIL row rendered"
    height = demo_seen["height"]
    assert 0 < top <= height - 40, f"the first FAIL finding starts at {top} px, below the first {height} px"


def test_failures_on_top_by_severity_and_passes_hidden_by_default(demo_seen: dict[str, Any],
                                                                   demo_run: DemoRun) -> None:
    findings = _demo_findings(demo_run)
    failing = [f for f in findings if f["status"] in FAILING]
    passing = [f for f in findings if f["status"] not in FAILING]
    assert failing and passing, "the demo has both failures and passes"
    before = demo_seen["before"]
    assert before and {st for st, _, _ in before} <= set(FAILING), "PASS/NOT_APPLICABLE rows in the default view"
    assert len(before) == min(len(failing), 200)
    assert _in_order(before)
    assert before[0][0] == "FAIL"
    assert f"of {len(failing)} " in demo_seen["shown_before"]


def test_the_toggle_shows_the_passes(demo_seen: dict[str, Any], demo_run: DemoRun) -> None:
    findings = _demo_findings(demo_run)
    assert demo_seen["toggle"] is not None, "no passes toggle (#f-passes)"
    after = demo_seen["after"]
    assert {st for st, _, _ in after} & {"PASS", "NOT_APPLICABLE"}, "the toggle showed no passes"
    assert _in_order(after) and after[0][0] == "FAIL"                       # failures stay on top
    assert f"of {len(findings)} " in demo_seen["shown_after"]


def test_a_failing_finding_shows_its_rule_remediation(demo_seen: dict[str, Any]) -> None:
    rule = load_packs().rules_by_id[demo_seen["first_fail_rule"]]
    assert rule.remediation, f"{rule.id} has no remediation in its pack"
    text = demo_seen["first_fail_text"]
    for kind, step in rule.remediation.items():
        assert str(step).strip() in text, f"{kind} remediation of {rule.id} missing"
    for ref in rule.references:
        assert ref in text


# Without a browser: the same data in the page, and rules without remediation say so ------------

def _page(doc: dict[str, Any]) -> str:
    return html_report(build_model(doc, load_packs(), load_catalogues())).decode("utf-8")


def _data(page: str) -> dict[str, Any]:
    block = page.split('<script type="application/json" id="report-data">', 1)[1].split("</script>", 1)[0]
    data: dict[str, Any] = json.loads(block)
    return data


def test_the_page_carries_each_rules_remediation_once() -> None:
    doc = sample_document()
    data = _data(_page(doc))
    packs = load_packs().rules_by_id
    for rid in {f["rule_id"] for f in doc["findings"]}:
        meta = packs[rid]
        title, _controls, remediation, references = data["rules"][rid]
        assert title and remediation == [[k, str(v).strip()] for k, v in sorted(meta.remediation.items())]
        assert references == list(meta.references)


def test_a_rule_unknown_to_the_packs_has_no_remediation_and_the_page_still_renders() -> None:
    doc = sample_document()
    doc["rules"][0] = {**doc["rules"][0], "id": "ZZ-999"}
    for f in doc["findings"]:
        f["rule_id"] = "ZZ-999"
    for fw in doc["frameworks"]:
        for c in fw["controls"]:
            c["rules"] = ["ZZ-999"]
    data = _data(_page(doc))
    assert data["rules"]["ZZ-999"][2:] == [[], []]
