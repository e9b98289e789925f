"""The network diagrams as a reader uses them, in a real headless Chromium under the page's own
content security policy: every link of a diagram (a box, a VPC, a failing path, a row of the
paths table) shows that resource's findings in the findings list, and report.js's pan and
zoom change the drawing (buttons, wheel, drag) and `fit` brings it back.

The page is the demo's own report.html (the shared `demo_run` fixture) with a probe script
appended after report.js (tests/test_report_html_layout.py does the same): the probe follows
each link through the URL fragment, as a click does, and writes what it saw into the DOM that
`chromium --dump-dom` prints. Needs Debian's `chromium`; fails, never skips, without it.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from conftest import DemoRun
from test_report_html import _chromium

PROBE = """<script>
(function () {
  "use strict";
  var out = {links: [], zoom: {}};
  var box = document.getElementById("network-diagram");
  var links = Array.prototype.map.call(box.querySelectorAll("a"), function (a) { return a.getAttribute("href"); });
  function visible() {
    return Array.prototype.slice.call(document.querySelectorAll("#rows tr.finding")).filter(function (r) {
      return r.getClientRects().length > 0;
    });
  }
  function param(href, key) {
    var m = new RegExp("[#&]" + key + "=([^&]*)").exec(href);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function next(i) {
    if (i >= links.length) { return zoom(); }
    location.hash = links[i];
    setTimeout(function () {
      var q = param(links[i], "q"), rule = param(links[i], "rule");
      out.links.push({href: links[i], q: q, rule: rule, shown: visible().map(function (r) { return r.dataset.fp; })});
      next(i + 1);
    }, 50);
  }
  function zoom() {
    var fig = box.querySelector("figure.dg"), svg = fig.querySelector("svg");
    function vb() { return svg.getAttribute("viewBox"); }
    out.zoom.home = vb();
    fig.querySelector('button[data-zoom="in"]').click();
    out.zoom.after_in = vb();
    fig.querySelector('button[data-zoom="reset"]').click();
    out.zoom.after_fit = vb();
    var r = svg.getBoundingClientRect();
    svg.dispatchEvent(new WheelEvent("wheel", {deltaY: -100, clientX: r.left + r.width / 2, clientY: r.top + r.height / 2,
                                              bubbles: true, cancelable: true}));
    out.zoom.after_wheel = vb();
    svg.dispatchEvent(new PointerEvent("pointerdown", {clientX: r.left + 50, clientY: r.top + 50, bubbles: true}));
    svg.dispatchEvent(new PointerEvent("pointermove", {clientX: r.left + 90, clientY: r.top + 70, bubbles: true}));
    window.dispatchEvent(new PointerEvent("pointerup", {bubbles: true}));
    out.zoom.after_drag = vb();
    var probe = document.createElement("pre");
    probe.id = "probe";
    probe.textContent = JSON.stringify(out);
    document.body.appendChild(probe);
  }
  next(0);
}());
</script>
"""


def _probe(page: str, folder: Path) -> dict[str, Any]:
    assert page.count("</body>") == 1
    path = folder / "report.html"
    path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    args = [_chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", "--window-size=1400,900", f"--user-data-dir={folder / 'chromium-profile'}",
            "--virtual-time-budget=30000", "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", path.as_uri()]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, "the probe did not finish: " + proc.stdout[-2000:]
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result


def test_diagram_links_show_their_findings_and_pan_zoom_works(demo_run: DemoRun, tmp_path: Path) -> None:
    page = (demo_run.out / "report.html").read_text(encoding="utf-8")
    seen = _probe(page, tmp_path)
    links = seen["links"]
    findings = json.loads((demo_run.out / "findings.json").read_text(encoding="utf-8"))["findings"]
    vpcs = {f["resource"]["vpc_id"] for f in findings}
    # Boxes with findings, the VPC boxes, the failing path (edges and the table's row).
    assert len(links) >= 10
    assert any(x["rule"] == "PN-014" for x in links) and any(x["q"] in vpcs for x in links)
    for link in links:
        q, rule, shown = link["q"], link["rule"], set(link["shown"])
        assert shown, f"{link['href']} shows no finding"
        # What is shown is about q: the resource itself, a resource in that VPC, or one whose
        # message or evidence names it (the list's search), of the rule when the link names one.
        about = {f["fingerprint"] for f in findings if (not rule or f["rule_id"] == rule)
                 and (q in (f["resource"]["id"], f["resource"]["vpc_id"]) or q in json.dumps(f))}
        assert shown <= about, f"{link['href']} shows findings of something else"
        if q not in vpcs:   # a resource's own findings are all there (a VPC may have more than a page)
            own = {f["fingerprint"] for f in findings if f["resource"]["id"] == q and (not rule or f["rule_id"] == rule)}
            assert own <= shown, f"{link['href']} leaves out some of {q}'s findings"
    zoom = seen["zoom"]
    home = [float(v) for v in zoom["home"].split()]
    zoomed = [float(v) for v in zoom["after_in"].split()]
    assert zoomed[2] < home[2] and zoomed[3] < home[3]
    assert zoom["after_fit"] == zoom["home"]
    wheel = [float(v) for v in zoom["after_wheel"].split()]
    assert wheel[2] < home[2]
    drag = [float(v) for v in zoom["after_drag"].split()]
    assert drag[0] < wheel[0] and drag[1] < wheel[1] and drag[2:] == wheel[2:]
