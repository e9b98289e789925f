"""`auditor diff` on the command line: the console summary, every exit code (0 done; with
--fail-on-new 1, 3, 4; 2 bad input; 6 an output not written), --json (validated against the
published schema) and --html, a stored run resolved through a store (a fake `RunStore` here:
the stores are tested with their own code), and two real bundles from `auditor scan --snapshot`
with the waivers file changed between them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.cli_diff import resolve
from auditor.report.diff_html import render_diff_html, report_stylesheet
from auditor.rules.fixtures import ACCOUNT, REGION, Case, records_for
from auditor.snapshot.writer import SnapshotWriter
from auditor.store.base import Retention, StoredRun, StoreError, describe_bundle
from auditor.validation import load_schema
from conftest import run_auditor
from diff_fixtures import bundle, finding, waiver_row
from test_bundle import CALLS, PACK, WAIVERS as BUNDLE_WAIVERS

VALIDATOR = jsonschema.Draft202012Validator(load_schema("diff"))


def pair(tmp_path: Path, a: list[dict[str, Any]], b: list[dict[str, Any]], **b_kw: Any) -> tuple[str, str]:
    ra = bundle(tmp_path / "a", a)
    rb = bundle(tmp_path / "b", b, run_id="run-b", created="2026-03-08T10:00:00Z", assessed_on="2026-03-08", **b_kw)
    return str(ra), str(rb)


def valid(doc: dict[str, Any]) -> dict[str, Any]:
    errors = [e.message for e in VALIDATOR.iter_errors(doc)]
    assert not errors, errors
    return doc


# --------------------------------------------------------------------------- console and exit codes

def test_the_summary_lists_counts_then_entries_new_first(tmp_path: Path) -> None:
    a, b = pair(tmp_path, [finding("R-001", "subnet-1", "PASS"), finding("R-002", "subnet-2", "FAIL")],
                [finding("R-001", "subnet-1", "FAIL", severity="low"), finding("R-002", "subnet-2", "PASS")])
    proc = run_auditor("diff", a, b)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("RUN_A ") and "run run-a" in lines[0] and lines[1].startswith("RUN_B ")
    assert [ln.split()[0] for ln in lines[2:8]] == ["new", "resolved", "changed", "still", "waived", "unwaived"]
    assert lines[2].split() == ["new", "1"] and lines[3].split() == ["resolved", "1"]
    new_at, resolved_at = lines.index("NEW (1)"), lines.index("RESOLVED (1)")
    assert new_at < resolved_at
    assert "R-001" in lines[new_at + 1] and "PASS -> FAIL" in lines[new_at + 1]
    assert "passes now" in lines[resolved_at + 1]
    assert "no changes" not in lines


def test_identical_runs_print_no_changes(tmp_path: Path) -> None:
    same = [finding("R-001", "subnet-1", "FAIL")]
    a, b = pair(tmp_path, same, same)
    proc = run_auditor("diff", a, b, "--fail-on-new", "info")
    assert proc.returncode == 0 and "no changes" in proc.stdout.splitlines()
    assert "still failing           1" in proc.stdout


@pytest.mark.parametrize(("a", "b", "severity", "code"), [
    ([], [finding("R-001", "subnet-1", "FAIL", severity="high")], "high", 1),
    ([], [finding("R-001", "subnet-1", "FAIL", severity="medium")], "high", 0),      # below the gate
    ([], [finding("R-001", "subnet-1", "ERROR", severity="low")], "critical", 3),    # not assessed: any severity
    ([], [finding("R-001", "subnet-1", "FAIL", severity="critical"), finding("R-002", "subnet-1", "ERROR")],
     "critical", 4),
    ([finding("R-001", "subnet-1", "WAIVED", waiver="WVR-1")], [finding("R-001", "subnet-1", "FAIL")], "high", 1),
    ([finding("R-001", "subnet-1", "FAIL")], [finding("R-001", "subnet-1", "FAIL")], "info", 0),   # not new
    ([finding("R-001", "subnet-1", "FAIL")], [finding("R-001", "subnet-1", "ERROR")], "info", 0),  # changed, not new
])
def test_fail_on_new_exit_codes(tmp_path: Path, a: list[dict[str, Any]], b: list[dict[str, Any]], severity: str,
                                code: int) -> None:
    ra, rb = pair(tmp_path, a, b)
    proc = run_auditor("diff", ra, rb, "--fail-on-new", severity)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert f"--fail-on-new {severity}:" in proc.stdout
    assert run_auditor("diff", ra, rb).returncode == 0        # without the gate: done


def test_hostile_text_stays_inert_on_the_console(tmp_path: Path) -> None:
    a, b = pair(tmp_path, [], [finding("R-001", "subnet-\x1b[32m1", "FAIL", message="\x1b]0;owned\x07 COMPLIANT")])
    proc = run_auditor("diff", a, b)
    assert "\x1b" not in proc.stdout and "\\x1b" in proc.stdout


# --------------------------------------------------------------------------- --json and --html

def test_json_to_a_file_matches_the_schema_and_the_library(tmp_path: Path) -> None:
    from auditor.diff import diff_bundles

    a, b = pair(tmp_path, [finding("R-001", "subnet-1", "PASS")], [finding("R-001", "subnet-1", "FAIL")],
                waivers=[waiver_row("WVR-1", "active", "2026-03-20", 12)])
    proc = run_auditor("diff", a, b, "--json", str(tmp_path / "diff.json"), "--expiring-within", "12")
    assert proc.returncode == 0 and f"json written to {tmp_path / 'diff.json'}" in proc.stdout
    doc = valid(json.loads((tmp_path / "diff.json").read_text()))
    assert doc == json.loads(json.dumps(diff_bundles(Path(a), Path(b), expiring_within=12)))
    assert [w["id"] for w in doc["waivers"]["expiring"]] == ["WVR-1"] and doc["expiring_within"] == 12
    assert not list(tmp_path.glob("*.partial"))


def test_json_to_stdout_is_the_document_alone(tmp_path: Path) -> None:
    a, b = pair(tmp_path, [], [finding("R-001", "subnet-1", "FAIL", message="DEL \x7f ESC \x1b")])
    proc = run_auditor("diff", a, b, "--json", "-", "--fail-on-new", "high")
    assert proc.returncode == 1
    doc = valid(json.loads(proc.stdout))
    assert doc["counts"]["new"] == 1 and doc["findings"]["new"][0]["message"] == "DEL \x7f ESC \x1b"
    assert "NEW (1)" in proc.stderr                                   # the summary went to stderr


def test_html_is_a_self_contained_page_with_the_section(tmp_path: Path) -> None:
    a, b = pair(tmp_path, [finding("R-001", "subnet-1", "PASS"), finding("R-002", "subnet-1", "FAIL", observed=1)],
                [finding("R-001", "subnet-1", "FAIL", message="<script>alert(1)</script>"),
                 finding("R-002", "subnet-1", "FAIL", observed=2)],
                config="version: 1\nregions: [us-east-1]\n")
    out = tmp_path / "diff.html"
    proc = run_auditor("diff", a, b, "--html", str(out))
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<table class="diff-findings" data-category="new">' in page
    assert '<table class="diff-findings" data-category="changed">' in page
    assert "runs from different configs: compared anyway" in page and "+regions: [us-east-1]" in page
    assert ".st-FAIL{color:#c62828}" in page                        # the report's own stylesheet
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page


def test_the_section_caps_long_lists_and_counts_the_rest(tmp_path: Path) -> None:
    from auditor.diff import diff_bundles

    a, b = pair(tmp_path, [], [finding("R-001", f"subnet-{i}", "FAIL") for i in range(7)])
    page = render_diff_html(diff_bundles(Path(a), Path(b)), row_limit=5)
    new_table = page.split('data-category="new">')[1].split("</table>")[0]
    assert new_table.count("<tr>") == 1 + 5
    assert "2 more new finding(s): every one is in the diff's JSON" in page


def test_the_section_renders_from_the_document_alone_without_ids(tmp_path: Path) -> None:
    """What another report (the period report) does: include the partial once per pair of runs,
    with nothing in its context but the diff document."""
    import jinja2

    from auditor.diff import diff_bundles
    from auditor.report.wording import templates_dir

    a, b = pair(tmp_path, [finding("R-001", "subnet-1", "PASS")], [finding("R-001", "subnet-1", "FAIL")])
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    section = env.get_template("sections/html_diff.html.j2").render(diff=diff_bundles(Path(a), Path(b)))
    assert '<div class="diff" data-run-a="run-a" data-run-b="run-b">' in section
    assert '<table class="diff-findings" data-category="new">' in section and " id=" not in section


def test_the_report_stylesheet_is_found() -> None:
    css = report_stylesheet()
    assert css.startswith("body{") and ".st-FAIL{color:#c62828}" in css and "{{" not in css


def test_an_empty_diff_page_says_no_changes(tmp_path: Path) -> None:
    from auditor.diff import diff_bundles

    a, b = pair(tmp_path, [finding("R-001", "subnet-1", "PASS")], [finding("R-001", "subnet-1", "PASS")])
    page = render_diff_html(diff_bundles(Path(a), Path(b)))
    assert "<strong>No changes</strong> between the two runs" in page


# --------------------------------------------------------------------------- bad input and outputs

@pytest.mark.parametrize(("args", "message"), [
    (["{tmp}/nowhere", "{b}"], "'{tmp}/nowhere' is not a folder: give a bundle folder, or --store"),
    (["latest", "{b}"], "'latest' is not a folder"),
    (["{tmp}", "{b}"], "is not an evidence bundle: it has no bundle.json"),
    (["latest", "previous", "--store", "{tmp}/no-store-here"], "error: "),
    (["latest", "{b}", "-c", "{tmp}/audit.yaml"], "has no store: block"),
])
def test_bad_input_exits_2_with_a_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    a, b = pair(tmp_path, [], [])
    (tmp_path / "audit.yaml").write_text("version: 1\naccounts: [{id: '111111111111'}]\nregions: [eu-west-1]\n")
    fill = {"tmp": str(tmp_path), "a": a, "b": b}
    proc = run_auditor("diff", *[x.format(**fill) for x in args])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message.format(**fill) in proc.stderr and proc.stdout == ""


def test_a_damaged_findings_json_exits_2(tmp_path: Path) -> None:
    a, b = pair(tmp_path, [], [])
    (Path(b) / "findings.json").write_text("{}")
    proc = run_auditor("diff", a, b)
    assert proc.returncode == 2 and "does not match the SHA-256 its bundle.json lists" in proc.stderr


def test_an_output_in_a_missing_folder_exits_6(tmp_path: Path) -> None:
    a, b = pair(tmp_path, [], [])
    proc = run_auditor("diff", a, b, "--html", str(tmp_path / "no" / "such" / "d.html"))
    assert proc.returncode == 6 and "cannot write" in proc.stderr


# --------------------------------------------------------------------------- stored runs

class FakeStore:
    """A `RunStore` holding bundle folders by run id (ids, unique prefixes, latest, previous)."""

    def __init__(self, folders: list[Path]) -> None:
        self.runs_ = [describe_bundle(f) for f in folders]
        self.folders = {r.run_id: f for r, f in zip(self.runs_, folders, strict=True)}
        self.fetched: list[tuple[str, Path | None]] = []

    @property
    def description(self) -> str:
        return "fake store"

    def register(self, bundle: Path, *, signer: str = "") -> StoredRun:
        raise NotImplementedError("not used by diff")

    def runs(self, *, since: date | None = None, until: date | None = None,
             account: str | None = None) -> list[StoredRun]:
        return sorted(self.runs_, key=lambda r: (r.created, r.run_id))

    def get(self, ref: str) -> StoredRun:
        ordered = self.runs()
        if ref in ("latest", "previous") and len(ordered) >= (1 if ref == "latest" else 2):
            return ordered[-1 if ref == "latest" else -2]
        hits = [r for r in ordered if r.run_id.startswith(ref)]
        if len(hits) != 1:
            raise StoreError(f"no run {ref!r} in the fake store")
        return hits[0]

    def fetch(self, run: StoredRun, into: Path | None = None) -> Path:
        self.fetched.append((run.run_id, into))
        return self.folders[run.run_id]

    def retention(self) -> Retention:
        return Retention(days=365, online_days=90)


def test_run_refs_resolve_through_the_store(tmp_path: Path) -> None:
    a, b = pair(tmp_path, [finding("R-001", "subnet-1", "PASS")], [finding("R-001", "subnet-1", "FAIL")])
    store = FakeStore([Path(a), Path(b)])
    got_b, label_b = resolve("latest", store, tmp_path / "work-b")
    got_a, label_a = resolve("previous", store, tmp_path / "work-a")
    assert (got_a, got_b) == (Path(a), Path(b))
    assert label_b == "latest = run run-b in fake store" and label_a == "previous = run run-a in fake store"
    assert store.fetched == [("run-b", tmp_path / "work-b"), ("run-a", tmp_path / "work-a")]
    assert resolve("run-b", store, tmp_path / "w")[0] == Path(b)          # an id
    assert resolve(a, store, tmp_path / "w") == (Path(a), a)             # a folder wins, never fetched
    assert len(store.fetched) == 3
    with pytest.raises(StoreError, match="no run 'zzz' in the fake store"):
        resolve("zzz", store, tmp_path / "w")
    with pytest.raises(StoreError, match="is not a folder"):
        resolve("latest", None, tmp_path / "w")


# --------------------------------------------------------------------------- two real scans

# test_bundle's pack, snapshot calls and waiver (its expiry replaced per run).


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two bundles of `auditor scan --snapshot` over one snapshot (collected 2026-03-01): RUN_A
    with WVR-1 active (expires 2026-06-30), RUN_B with the waivers file changed so that WVR-1
    expired on 2026-02-15."""
    root = tmp_path_factory.mktemp("scans")
    writer = SnapshotWriter(root / "snap")
    for rec in records_for(Case(rule="", name="diff", file="", line=0, calls=CALLS, failed=(), region=REGION)):
        writer.add(rec)
    writer.finish({"started": "2026-03-01T10:00:00Z", "finished": "2026-03-01T10:01:00Z", "regions": [REGION],
                   "accounts": [{"id": ACCOUNT, "name": "t", "regions": [REGION]}], "config": {"digest": "sha256:x"}})
    (root / "cfg" / "packs").mkdir(parents=True)
    (root / "cfg" / "packs" / "diff.yaml").write_text(PACK)
    (root / "cfg" / "audit.yaml").write_text(
        f"version: 1\naccounts: [{{id: '{ACCOUNT}'}}]\nregions: [{REGION}]\n"
        "rule_packs: [packs/diff.yaml]\nwaivers: waivers.yaml\n")
    outs = []
    for name, expires in (("run-a", "2026-06-30"), ("run-b", "2026-02-15")):
        (root / "cfg" / "waivers.yaml").write_text(BUNDLE_WAIVERS.replace("expires: 2026-06-30", f"expires: {expires}"))
        proc = run_auditor("scan", "-c", "cfg/audit.yaml", "--snapshot", "snap", "--out", name, "--format", "json",
                           cwd=root)
        assert proc.returncode in (1, 4), proc.stdout + proc.stderr     # the critical FAIL on vpc-a
        outs.append(root / name)
    return outs[0], outs[1]


def test_two_real_scans_with_the_waiver_file_changed(scans: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = scans
    out = tmp_path / "diff.json"
    proc = run_auditor("diff", str(a), str(b), "--json", str(out), "--html", str(tmp_path / "diff.html"),
                       "--fail-on-new", "low")
    assert proc.returncode == 1, proc.stdout + proc.stderr          # the low FAIL no waiver covers any more
    doc = valid(json.loads(out.read_text()))
    e = doc["findings"]["unwaived"]
    assert [(x["rule_id"], x["resource"]["id"], x["status_a"], x["status_b"]) for x in e] == [
        ("TBU-002", "subnet-b", "WAIVED", "FAIL")]
    assert e[0]["reason"] == "waiver WVR-1 expired on 2026-02-15" and e[0]["waiver"] == "WVR-1"
    assert [w["id"] for w in doc["waivers"]["expired_since_a"]] == ["WVR-1"]
    assert [x for c, xs in doc["findings"].items() if c not in ("unwaived", "still_failing") for x in xs] == []
    assert [x["rule_id"] for x in doc["findings"]["still_failing"]] == ["TBU-001"]
    assert doc["resources"] == {"added": [], "removed": []} and doc["notes"] == []
    assert doc["config"]["changed"] is False and doc["packs"] == {"added": [], "removed": [], "changed": []}
    assert doc["a"]["run_id"] != doc["b"]["run_id"] and doc["a"]["assessed_on"] == doc["b"]["assessed_on"] == "2026-03-01"
    assert "UNWAIVED (1)" in proc.stdout and "waiver WVR-1 expired on 2026-02-15" in proc.stdout
    assert "WVR-1" in (tmp_path / "diff.html").read_text()
    back = run_auditor("diff", str(b), str(a), "--json", "-")         # the other way: waived again
    assert [x["reason"] for x in json.loads(back.stdout)["findings"]["waived"]] == ["waiver WVR-1 (expires 2026-06-30)"]
