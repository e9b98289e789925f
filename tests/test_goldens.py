"""Behaviour is unchanged (issue 11's acceptance): findings.json and every report of the demo,
and findings.json of the benchmark estates, against golden copies in tests/golden/ made from
the code before the refactoring.

The demo's outputs are normalised by tests/demo_normaliser.py (the normaliser of the HTML
golden, shared), which names moto's drawn ids, addresses and listing positions, and masks
times, hashes and fingerprints. On top of it, only what a run really varies is masked (each
masking says why below), and what an output lists in the order moto drew the ids is sorted
(one finding per line). The benchmark estates draw nothing and read no clock: their
findings.json is compared as produced, byte for byte (through a SHA-256 when too large).

On a mismatch the test prints a unified diff. To rewrite the goldens deliberately (and review
the diff in git): AUDITOR_UPDATE_GOLDENS=1 .venv/bin/python -m pytest -q tests/test_goldens.py
(the rewriting run still fails, so that a rewrite is never silent)."""

from __future__ import annotations

import csv
import copy
import difflib
import hashlib
import io
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pypdf
import pytest

from conftest import DemoRun, load_benchmark
from demo_normaliser import NAMED_ID, DemoNormaliser, anonymise, normalised_demo_html, sorted_if_by_id

GOLDEN = Path(__file__).parent / "golden"
UPDATE_VAR = "AUDITOR_UPDATE_GOLDENS"
REGENERATE = f"{UPDATE_VAR}=1 .venv/bin/python -m pytest -q tests/test_goldens.py"
DIFF_LINES = 80
# A golden larger than this is kept as a SHA-256 and a per-rule count table instead.
MAX_GOLDEN_BYTES = 400_000


# -- comparing with a golden --------------------------------------------------------------------

def mismatch(name: str, expected: str, actual: str) -> str | None:
    """None when equal, else what differs: the first DIFF_LINES lines of a unified diff and how
    to regenerate the goldens deliberately."""
    if expected == actual:
        return None
    diff = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), f"golden/{name}", f"now/{name}",
                                     lineterm="", n=2))
    shown = "\n".join(diff[:DIFF_LINES]) + (f"\n... ({len(diff) - DIFF_LINES} more diff lines)"
                                            if len(diff) > DIFF_LINES else "")
    return (f"tests/golden/{name} differs from what the code produces now (behaviour changed):\n{shown}\n"
            f"If the change is deliberate, rewrite the goldens with: {REGENERATE} and review `git diff tests/golden`")


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get(UPDATE_VAR) == "1":
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        path.write_text(actual, encoding="utf-8")
        pytest.fail(f"{UPDATE_VAR}=1: rewrote tests/golden/{name} ({'unchanged' if old == actual else 'CHANGED'}); "
                    "run again without it to compare")
    assert path.is_file(), f"no golden tests/golden/{name}: make it with {REGENERATE}"
    problem = mismatch(name, path.read_text(encoding="utf-8"), actual)
    if problem:
        pytest.fail(problem, pytrace=False)


def json_layout(text: str) -> str:
    """How a JSON file is laid out, as the json.dumps arguments that give it back byte for byte
    (the goldens hold normalised content; this line keeps the bytes' layout in them too)."""
    doc = json.loads(text)
    for indent in (1, 2, None):
        for ascii_ in (False, True):
            for end in ("\n", ""):
                if json.dumps(doc, indent=indent, sort_keys=True, ensure_ascii=ascii_) + end == text:
                    return f"json.dumps(doc, indent={indent}, sort_keys=True, ensure_ascii={ascii_}) + {end!r}"
    return "not a json.dumps(sort_keys=True) layout"


# -- the demo --------------------------------------------------------------------------------------

# A reference into a record, `records/...json#/pages/0/VpcEndpoints/4`, as every output cites one.
_REF = re.compile(r"records/[\w.~/-]+?\.json(?:\.gz)?#(?:/[\w~.-]*)*")
# A bracketed list of references (text outputs' evidence: "... (holds) [ref, ref]").
# Items hold no space or comma; a listing position named by its item ends in "]" itself.
_REF_LIST = re.compile(r"\[(records/[^\s,]*(?:, records/[^\s,]*)*)\]")
# A message's list of resources, each "id: text", in id order (demo_normaliser.ID_RUN), kept
# inside one string of a text output: no part crosses a quote, a backslash or a line end.
_ID_RUN_IN_TEXT = re.compile(rf'{NAMED_ID}: [^,"\\\n]*(?:, {NAMED_ID}: [^,"\\\n]*)+')
# A text output's evidence: "path: observed VALUE; expected ...", VALUE as JSON.
_OBSERVED = re.compile(r"(?P<path>[\w.\[\]*]+): observed (?P<value>.+?); expected ")
# The PDF's report id: a hash of the findings document, which holds the collection times.
_REPORT_ID = re.compile(r"Report id ([0-9a-f]{16})\b")
# A PDF date (metadata): the time the report was made.
_PDF_DATE = re.compile(r"D:\d{14}(?:Z|[+-]\d{2}'?\d{2}'?)?")


@dataclass
class Demo:
    folder: Path
    norm: DemoNormaliser
    keep: dict[str, str]        # raw token -> placeholder: kept verbatim through the normaliser

    def text(self, text: str) -> str:
        """`text` named and masked (DemoNormaliser), except the tokens in `keep`; references
        into listings by the listed item's id, lists of references and of "id: ..." parts sorted
        (both are in the order moto drew the ids)."""
        text = _REF.sub(lambda m: self.norm.reference(m.group(0)), text)
        for token, hold in self.keep.items():
            text = text.replace(token, hold)
        text = self.norm.anonymise(text)
        for token, hold in self.keep.items():
            text = text.replace(hold, token)
        text = _REF_LIST.sub(lambda m: "[" + ", ".join(sorted(m.group(1).split(", "))) + "]", text)
        text = _ID_RUN_IN_TEXT.sub(lambda m: ", ".join(sorted(m.group(0).split(", "))), text)
        return sort_observed(text)


def sort_observed(text: str) -> str:
    """Text evidence whose observed value lists resources (in id order: moto's draws) with the
    value sorted once named (demo_normaliser.sorted_if_by_id)."""
    return _OBSERVED.sub(lambda m: f"{m['path']}: observed {sorted_if_by_id(m['path'], m['value'])}; expected ", text)


def _kept_tokens(folder: Path, norm: DemoNormaliser) -> dict[str, str]:
    """What the normaliser would mask but a run does not vary: the fingerprints of findings on
    resources whose id and item moto did not draw (an EKS cluster's name, an RDS identifier...),
    and the digest of the demo's config. Kept verbatim, they pin the fingerprint's and the
    digest's definitions."""
    doc = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
    # The estate's ids with a part moto drew: a hex run once its name and account ids are left
    # out (not an EKS cluster's name or ARN, which the estate decides; a load balancer's ARN is).
    drawn = {aws_id: label for aws_id, label in norm.names.items()
             if re.search(r"[0-9a-f]{8,}", re.sub(r"\b\d{12}\b", "", aws_id.replace(label.split(":", 1)[1][:-1], "")))}
    keep: dict[str, str] = {}
    for f in doc["findings"]:
        ident = json.dumps([f["resource"]["id"], f["resource"]["arn"], f["item"]])
        if anonymise(ident, drawn) == ident:
            keep[f["fingerprint"]] = f"@@kept{len(keep)}@@"
    bundle = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    keep[bundle["files"]["inputs/audit-config.yaml"]] = f"@@kept{len(keep)}@@"
    return keep


def demo_outputs(folder: Path, names: dict[str, str]) -> Demo:
    """The outputs of a demo run in `folder`, with their normaliser. `names` maps the ids the run
    seeded to `<kind:name>` and must come from that run's own seeding (the same process: one
    that used moto before draws other ids), e.g. {aws_id: f"<{kind}:{name}>" for (_account,
    _region, kind, name), aws_id in seed(...).ids.items()}."""
    norm = DemoNormaliser(folder / "snapshot", names)
    return Demo(folder, norm, _kept_tokens(folder, norm))


@pytest.fixture(scope="module")
def demo(demo_run: DemoRun) -> Demo:
    """The session's `auditor demo` run (its default formats: conftest.demo_run, the command's
    own code in process), with the normaliser of its outputs and the ids its own seeding made."""
    assert demo_run.code == 0, demo_run.stderr
    return demo_outputs(demo_run.out, demo_run.names)


def normalised_findings_json(demo: Demo, text: str) -> str:
    """Layout line, the document without its findings (pretty JSON), then one finding per line,
    sorted: findings.json lists them by resource id, which is moto's draw."""
    doc = json.loads(text)
    findings = doc.pop("findings")
    for diagram in (doc.get("topology") or {}).get("diagrams", []):
        # Graphviz's coordinates change with its release, not with the tool: their shape only.
        if isinstance(diagram.get("layout"), dict):
            diagram["layout"] = {k: (f"<{len(v)} laid out>" if isinstance(v, (list, dict)) else "<layout>")
                                 for k, v in diagram["layout"].items()}
    lines = []
    for finding in findings:
        named = json.loads(demo.text(json.dumps(finding, sort_keys=True, ensure_ascii=False)))
        for evidence in named["evidence"]:
            # Values listing resources are in id order (moto's draws): sorted once named.
            evidence["observed"] = json.loads(sorted_if_by_id(evidence["path"], json.dumps(evidence["observed"])))
            evidence["sources"] = sorted(evidence["sources"])
        lines.append(json.dumps(named, sort_keys=True, ensure_ascii=False))
    head = json.loads(demo.text(json.dumps(doc, sort_keys=True, ensure_ascii=False)))
    return "\n".join([f"# layout: {json_layout(text)}", json.dumps(head, indent=1, sort_keys=True, ensure_ascii=False),
                      f"# findings: {len(lines)}, one per line, sorted", *sorted(lines)]) + "\n"


def normalised_sarif(demo: Demo, text: str) -> str:
    """Layout line, the log without its results (pretty JSON), then one result per line, sorted
    (results are in findings order: by resource id, moto's draw)."""
    doc = json.loads(text)
    out = [f"# layout: {json_layout(text)}"]
    results = []
    for n, run in enumerate(doc["runs"]):
        for result in run.pop("results"):
            named = json.loads(demo.text(json.dumps(result, sort_keys=True, ensure_ascii=False)))
            if isinstance(named.get("properties", {}).get("evidence"), str):
                named["properties"]["evidence"] = sort_observed(named["properties"]["evidence"])
            results.append(f"{n} " + json.dumps(named, sort_keys=True, ensure_ascii=False))
        run["results"] = f"<{len(results)} results: below, one per line, sorted>"
        passes = run.get("properties", {}).get("explainedPasses")
        if passes:   # findings order too: sorted once named
            run["properties"]["explainedPasses"] = sorted(
                (json.loads(demo.text(json.dumps(p, ensure_ascii=False))) for p in passes),
                key=lambda p: json.dumps(p, sort_keys=True, ensure_ascii=False))
    out.append(json.dumps(json.loads(demo.text(json.dumps(doc, ensure_ascii=False))), indent=1, sort_keys=True,
                          ensure_ascii=False))
    return "\n".join([*out, *sorted(results)]) + "\n"


def _fields(event: dict[str, Any]) -> dict[str, Any]:
    """An event as "key" or "key.subkey" (one level into objects) -> the value."""
    out = {}
    for key, value in event.items():
        if isinstance(value, dict):
            out.update({f"{key}.{sub}": v for sub, v in value.items()})
        else:
            out[key] = value
    return out


def _shared(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: v for k, v in fields[0].items() if all(f.get(k) == v for f in fields)}


def _factored(layout: str, named: list[dict[str, Any]], rule_key: str, noun: str) -> str:
    """Items (as `_fields`) written as: the layout line, the fields every item shares, the
    fields every item of a rule (`rule_key`) shares, then each item's other fields on one line,
    sorted (items come in findings order: moto's draws)."""
    every = _shared(named)
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for f in named:
        by_rule.setdefault(f[rule_key], []).append(f)
    out = [f"# layout: {layout}", f"# fields of every {noun}:",
           *(f"{k}: {json.dumps(v, sort_keys=True, ensure_ascii=False)}" for k, v in sorted(every.items())),
           f"# fields of every {noun} of a rule:"]
    lines = []
    for rule, found in sorted(by_rule.items()):
        of_rule = {k: v for k, v in _shared(found).items() if k not in every}
        out.append(f"{rule} ({len(found)} {noun}s) " + json.dumps(of_rule, sort_keys=True, ensure_ascii=False))
        lines += [json.dumps({k: v for k, v in f.items() if k not in every and k not in of_rule}, sort_keys=True,
                             ensure_ascii=False) for f in found]
    return "\n".join([*out, f"# {noun}s: {len(lines)}, their other fields, one per line, sorted", *sorted(lines)]) + "\n"


def normalised_ocsf(demo: Demo, text: str) -> str:
    """Layout line, the fields every event shares, the fields every event of a rule shares (per
    rule), then each event's other fields on one line, sorted (events are in findings order:
    moto's draws). Fields are keys and one level of subkeys. The event time is the snapshot's
    finish (a run's time): masked once checked to be the same everywhere; metadata.uid and each
    evidence's record_sha256 shown as what they are once checked to be uuid5 of the fingerprint
    and the snapshot manifest's hash of each source's record."""
    import uuid

    from auditor.report.writers.ocsf import EVENT_NAMESPACE

    events = json.loads(text)
    one_per_line = "[\n" + ",\n".join(json.dumps(e, sort_keys=True, ensure_ascii=False) for e in events) + "\n]\n"
    layout = ("a JSON array, one event per line: json.dumps(event, sort_keys=True, ensure_ascii=False)"
              if text == one_per_line else json_layout(text))
    files = json.loads((demo.folder / "snapshot" / "manifest.json").read_text(encoding="utf-8"))["files"]
    times = {e["time"] for e in events} | {e["finding_info"]["created_time"] for e in events}
    assert len(times) == 1, times
    named = []
    for e in events:
        e["time"] = e["finding_info"]["created_time"] = "<run time>"
        if e["metadata"]["uid"] == str(uuid.uuid5(EVENT_NAMESPACE, e["finding_info"]["uid"])):
            e["metadata"]["uid"] = "<uuid5 of finding_info.uid>"
        for evidence in e.get("evidences", []):
            data = evidence["data"]
            if data["record_sha256"] == {s.split("#")[0]: files[s.split("#")[0]] for s in data["sources"]}:
                data["record_sha256"] = "<the manifest's SHA-256 of each source's record>"
        e = json.loads(demo.text(json.dumps(e, sort_keys=True, ensure_ascii=False)))
        for evidence in e.get("evidences", []):
            data = evidence["data"]
            data["observed"] = json.loads(sorted_if_by_id(data["path"], json.dumps(data["observed"])))
            data["sources"] = sorted(data["sources"])
        named.append(_fields(e))
    return _factored(layout, named, "compliance.control", "event")


def normalised_junit(demo: Demo, text: str) -> str:
    """The XML as written (named and masked), each test case on one line (its lines joined
    with ⏎) and the test cases of a suite sorted (they are in findings order: moto's draws)."""
    out: list[str] = []
    cases: list[str] = []
    open_case = False
    for line in demo.text(text).split("\n"):
        if open_case:
            cases[-1] += "⏎" + line
            open_case = line != "  </testcase>"
        elif line.startswith("  <testcase"):
            cases.append(line)
            open_case = not line.endswith("/>")
        else:
            out += sorted(cases)
            cases = []
            out.append(line)
    return "\n".join(out + sorted(cases)) + "\n"


def normalised_asff(demo: Demo, text: str) -> str:
    """Layout line, the fields every finding shares, the fields every finding of a rule shares
    (per rule), then each finding's other fields on one line, named and sorted (findings are in
    findings order: moto's draws). Fields are keys and one level of subkeys. CreatedAt/UpdatedAt
    are the run's time: masked once checked to be one time for every finding; the snapshot
    manifest's hash is masked once checked to be the bundle's."""
    findings = json.loads(text)
    times = {f["CreatedAt"] for f in findings} | {f["UpdatedAt"] for f in findings}
    assert len(times) == 1, times
    manifest = (demo.folder / "snapshot" / "manifest.json").read_bytes()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    named = []
    for f in findings:
        f["CreatedAt"] = f["UpdatedAt"] = "<run time>"
        if f["ProductFields"].get("auditor/SnapshotManifestSha256") == digest:
            f["ProductFields"]["auditor/SnapshotManifestSha256"] = "<the bundle's snapshot manifest>"
        f = json.loads(demo.text(json.dumps(f, sort_keys=True, ensure_ascii=False)))
        for key, value in f["ProductFields"].items():   # observed lists are in moto's draw order
            if key.startswith("auditor/Evidence/"):
                f["ProductFields"][key] = sort_observed(value)
        named.append(_fields(f))
    return _factored(json_layout(text), named, "GeneratorId", "finding")


def normalised_csv(demo: Demo, text: str) -> str:
    """The dialect (line ending), the header, then each row as a JSON list on one line, sorted
    (rows are in findings order: moto's draws); the space-separated sources sorted too."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, body = rows[0], rows[1:]
    ending = "\r\n" if text.endswith("\r\n") else "\n"
    sources, evidence = header.index("sources"), header.index("evidence")
    lines = []
    for row in body:
        named = json.loads(demo.text(json.dumps(row, ensure_ascii=False)))
        named[sources] = " ".join(sorted(named[sources].split()))
        named[evidence] = sort_observed(named[evidence])
        lines.append(json.dumps(named, ensure_ascii=False))
    return "\n".join([f"# line ending {ending!r}; {len(body)} rows, one per line, sorted", json.dumps(header),
                      *sorted(lines)]) + "\n"


def normalised_bundle(demo: Demo, text: str) -> str:
    """bundle.json named and masked: every file's hash is masked (the reports hold times, the
    records moto's draws), except the config's; what is pinned is which files the bundle holds."""
    doc = json.loads(text)
    # The run id hashes the snapshot's manifest and findings.json, which hold the collection times.
    doc["run_id"] = "<run-id>"
    return f"# layout: {json_layout(text)}\n" + json.dumps(json.loads(demo.text(json.dumps(doc))), indent=1,
                                                           sort_keys=True, ensure_ascii=False) + "\n"


def _outline(items: Any, depth: int = 0) -> list[str]:
    out: list[str] = []
    for item in items:
        out += _outline(item, depth + 1) if isinstance(item, list) else ["  " * depth + item.title]
    return out


# A finding in the PDF's lists: "FAIL PN-014 · critical · subnet ...".
_PDF_FINDING = re.compile(r"(?:FAIL|PASS|ERROR|WAIVED|NOT_APPLICABLE|NOT ASSESSED) [A-Z]+-\d+ · ")
# The running footer of a page: "Example Bank · <section> CONFIDENTIAL", "Report <id> Page 2 of 29".
_PDF_FOOTER = re.compile(r"(?:\n.*CONFIDENTIAL)?\n(?:Report [0-9a-f]{16} )?Page \d+ of \d+\s*$")


def _pdf_lines(pages: list[str], headings: list[str]) -> list[str]:
    """The pages' text as logical lines, independent of where lines and pages break (that
    depends on the glyph widths of the ids, which moto draws): running footers dropped, lines
    wrapped after a hyphen or a slash or inside a hash joined back, all other whitespace one
    space; then a line per sentence, heading, finding, ARN, evidence and evidence source."""
    text = " ".join(_PDF_FOOTER.sub("", page) for page in pages)
    text = re.sub(r"(?<=[-/])\n", "", text)
    text = re.sub(r"sha256:([0-9a-f]{1,63})\n([0-9a-f]{1,63})\b",
                  lambda m: "sha256:" + m[1] + ("" if len(m[1] + m[2]) == 64 else " ") + m[2], text)
    text = re.sub(r"\s+", " ", text).strip()
    breaks = [r"(?<=\.) (?=[A-Z])", r" (?=source records/)", rf" (?={_PDF_FINDING.pattern})", r" (?=arn:aws)",
              r" (?=[\w.\[\]*]+: observed )",
              *(rf" (?={re.escape(h)}\b)" for h in sorted(set(headings), key=len, reverse=True))]
    return re.split("|".join(breaks), text)


def _sorted_findings(lines: list[str], headings: set[str]) -> list[str]:
    """Runs of consecutive findings (each with its evidence lines) sorted: the PDF lists them in
    resource id order, moto's draws."""
    out: list[str] = []
    run: list[list[str]] = []
    for line in [*lines, ""]:
        if _PDF_FINDING.match(line):
            run.append([line])
        elif run and line and not any(line.startswith(h) for h in headings):
            run[-1].append(line)
        else:
            out += [ln for block in sorted(run) for ln in block]
            run = []
            out.append(line)
    return out[:-1]


# An observed value the PDF cuts short: "observed [...] … (truncated; the full value is in ...)".
_TRUNCATED_IDS = re.compile(r"(?<=: observed )(\[.*?) … (?=\(truncated;)")


def _truncated(m: re.Match[str]) -> str:
    """A cut list that names resources: what is left of it is the first resources in id order
    (moto's draws), so it is masked (findings.json holds the whole value)."""
    return "<list of resources, cut> … " if re.search(NAMED_ID, m[1]) else m[0]


def normalised_pdf(demo: Demo, data: bytes) -> str:
    """The PDF as pypdf reads it: metadata (its dates masked: when the report was made),
    attachment names, outline, then the text as logical lines (_pdf_lines) with the findings
    sorted (_sorted_findings). NULs removed (pypdf interleaves them with WeasyPrint's fonts); the
    report id masked (it hashes the findings, which hold the collection times)."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    pages = [p.extract_text().replace("\x00", "") for p in reader.pages]
    report_ids = {m.group(1) for p in pages for m in _REPORT_ID.finditer(p)}
    meta = {k: _PDF_DATE.sub("<pdf-date>", str(v)) for k, v in sorted((reader.metadata or {}).items())}
    for rid in report_ids:
        meta = {k: v.replace(rid, "<report-id>") for k, v in meta.items()}
    attached = reader.attachments
    findings = (demo.folder / "findings.json").read_bytes()
    outline = _outline(reader.outline)
    text = "\n".join(_pdf_lines(pages, [h.strip() for h in outline]))
    for rid in report_ids:
        text = text.replace(rid, "<report-id>")
    lines = _sorted_findings([_TRUNCATED_IDS.sub(_truncated, ln) for ln in demo.text(text).split("\n")],
                             {h.strip() for h in outline})
    head = [f"# pages: {len(pages)}", "# metadata: " + json.dumps(meta, sort_keys=True, ensure_ascii=False),
            "# attachments: " + ", ".join(sorted(demo.text(name) for name in attached)),   # record names hold ids
            f"# attached findings.json is the bundle's findings.json: {attached.get('findings.json') == [findings]}",
            "# outline:", *(demo.text(h) for h in outline), "# text: a line per sentence, heading, finding, ARN, evidence and source; findings sorted"]
    return "\n".join([*head, *lines]) + "\n"


# The demo's text outputs: golden name -> (file written by the demo, its normaliser).
TEXT_OUTPUTS: dict[str, tuple[str, Callable[[Demo, str], str]]] = {
    "demo_findings.json.txt": ("findings.json", normalised_findings_json),
    "demo_findings.sarif.txt": ("findings.sarif", normalised_sarif),
    "demo_findings.junit.xml.txt": ("findings.junit.xml", normalised_junit),
    "demo_findings.csv.txt": ("findings.csv", normalised_csv),
    "demo_findings.ocsf.json.txt": ("findings.ocsf.json", normalised_ocsf),
    "demo_findings.asff.json.txt": ("findings.asff.json", normalised_asff),
    "demo_bundle.json.txt": ("bundle.json", normalised_bundle),
}


def test_the_demo_writes_exactly_the_outputs_with_goldens(demo: Demo) -> None:
    """A new output (or one gone) is a behaviour change too: the golden set must cover it."""
    written = sorted(p.name for p in demo.folder.iterdir() if p.is_file())
    assert written == sorted([src for src, _ in TEXT_OUTPUTS.values()] + ["report.html", "report.pdf"])
    assert sorted(p.name for p in demo.folder.iterdir() if p.is_dir()) == ["inputs", "snapshot"]


@pytest.mark.parametrize("golden", sorted(TEXT_OUTPUTS))
def test_demo_output_matches_its_golden(demo: Demo, golden: str) -> None:
    source, normalise = TEXT_OUTPUTS[golden]
    actual = normalise(demo, (demo.folder / source).read_text(encoding="utf-8"))
    assert not re.search(r"\b(?:vpc|subnet|vpce|sg|rtb|eni)-[0-9a-f]{8}", actual), "an id was left unnamed"
    check_golden(golden, actual)


def test_demo_pdf_matches_its_golden(demo: Demo) -> None:
    actual = normalised_pdf(demo, (demo.folder / "report.pdf").read_bytes())
    assert "# attached findings.json is the bundle's findings.json: True" in actual
    check_golden("demo_report.pdf.txt", actual)


def test_demo_html_matches_its_golden(demo: Demo) -> None:
    """The HTML report against the golden tests/test_demo_pipeline.py keeps (same normaliser)."""
    page = (demo.folder / "report.html").read_text(encoding="utf-8")
    check_golden("report_demo.html", normalised_demo_html(page, demo.norm.names, demo.folder / "snapshot"))


# -- the benchmark estates -------------------------------------------------------------------------

# (golden name, benchmark, how its estate is made small, scope name in evaluate_bench.SCOPES)
BENCH_ESTATES = {
    "evaluate_all": ("evaluate_bench", lambda b: b.generate_records(8, vpcs_per_region=4, regions=2), "all"),
    "evaluate_pci": ("evaluate_bench", lambda b: b.generate_records(8, vpcs_per_region=4, regions=2), "pci"),
    "reachability_all": ("reachability_bench", lambda b: b.generate_records(0.04), "all"),
    "reachability_pci": ("reachability_bench", lambda b: b.generate_records(0.04), "pci"),
}


@pytest.fixture(scope="module")
def benches() -> dict[str, ModuleType]:
    return {name: load_benchmark(name) for name in ("evaluate_bench", "reachability_bench")}


def bench_findings_json(benches: dict[str, ModuleType], estate: str) -> str:
    """findings.json of a benchmark estate, as evaluate_bench's run_size writes it (what `auditor
    scan` writes: build_document then iter_text) for the estate at its small size."""
    from auditor.config import Scope
    from auditor.model import build_model
    from auditor.results import RunInfo, build_document, iter_text
    from auditor.rules.engine import evaluate_rules

    bench_name, make, scope_name = BENCH_ESTATES[estate]
    evaluate_bench = benches["evaluate_bench"]
    model = build_model(make(benches[bench_name]))
    packs = evaluate_bench.load_bench_packs([])
    scope = Scope(tags=evaluate_bench.SCOPES[scope_name])
    ev = evaluate_rules(model, packs, scope, today=evaluate_bench.TODAY)
    doc = build_document(ev, packs, RunInfo(manifest={}, manifest_sha256="sha256:" + "0" * 64, scope=scope), lazy=True)
    return "".join(iter_text(doc))


def bench_golden(text: str) -> tuple[str, str]:
    """(file suffix, golden text) for a benchmark's findings.json: the document itself when
    small; else its SHA-256 (of the exact bytes: nothing in it varies) with, to make a mismatch
    diagnosable, the count and a short SHA-256 of each part, each rule's findings by status, and
    each rule's findings' SHA-256."""
    if len(text.encode()) <= MAX_GOLDEN_BYTES:
        return ".json", text
    doc = json.loads(text)
    out = [f"sha256 {hashlib.sha256(text.encode()).hexdigest()}  ({len(text.encode())} bytes)",
           f"# layout: {json_layout(text)}", "# part  sha256[:16] of its json.dumps(sort_keys=True)"]
    for key in sorted(doc):
        out.append(f"{key}  {hashlib.sha256(json.dumps(doc[key], sort_keys=True).encode()).hexdigest()[:16]}")
    out.append("# rule  findings by status  sha256[:16] of its findings (json.dumps(sort_keys=True), in document order)")
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for f in doc["findings"]:
        by_rule.setdefault(f["rule_id"], []).append(f)
    for rule, found in sorted(by_rule.items()):
        counts = Counter(f["status"] for f in found)
        digest = hashlib.sha256(json.dumps(found, sort_keys=True).encode()).hexdigest()[:16]
        out.append(f"{rule}  " + " ".join(f"{s}={n}" for s, n in sorted(counts.items())) + f"  {digest}")
    return ".sha256.txt", "\n".join(out) + "\n"


@pytest.mark.parametrize("estate", sorted(BENCH_ESTATES))
def test_benchmark_findings_json_matches_its_golden(benches: dict[str, ModuleType], estate: str) -> None:
    text = bench_findings_json(benches, estate)
    assert json.loads(text)["findings"], "the estate must give findings"
    suffix, golden = bench_golden(text)
    check_golden(f"bench_{estate}{suffix}", golden)


# -- the comparison can fail -----------------------------------------------------------------------

def test_a_changed_status_is_reported_with_a_diff(demo: Demo, benches: dict[str, ModuleType]) -> None:
    """One finding's status changed in a copy: the demo's and a benchmark's comparison both
    report it, and the diff names the changed finding."""
    text = (demo.folder / "findings.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    changed = copy.deepcopy(doc)
    target = next(f for f in changed["findings"] if f["status"] == "PASS" and f["rule_id"] == "EKS-001")
    target["status"] = "FAIL"
    before = normalised_findings_json(demo, text)
    after = normalised_findings_json(demo, json.dumps(changed, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    report = mismatch("demo_findings.json.txt", before, after)
    assert report is not None and REGENERATE in report
    assert [ln[1:] for ln in report.splitlines() if ln.startswith("+{")] == [
        ln[1:].replace('"status": "PASS"', '"status": "FAIL"') for ln in report.splitlines() if ln.startswith("-{")]
    assert any('"rule_id": "EKS-001"' in ln and '"status": "FAIL"' in ln for ln in report.splitlines()
               if ln.startswith("+{"))

    bench_text = bench_findings_json(benches, "evaluate_pci")
    bench_doc = json.loads(bench_text)
    bench_doc["findings"][0]["status"] = "ERROR" if bench_doc["findings"][0]["status"] != "ERROR" else "PASS"
    bench_changed = json.dumps(bench_doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    bench_report = mismatch("bench", bench_golden(bench_text)[1], bench_golden(bench_changed)[1])
    assert bench_report is not None and bench_doc["findings"][0]["rule_id"] in bench_report


def test_a_mismatch_fails_with_the_diff_and_a_rewrite_fails_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    monkeypatch.setattr(sys.modules[__name__], "GOLDEN", tmp_path)
    monkeypatch.delenv(UPDATE_VAR, raising=False)
    (tmp_path / "x.txt").write_text("a\nb\n", encoding="utf-8")
    check_golden("x.txt", "a\nb\n")
    with pytest.raises(pytest.fail.Exception) as failed:
        check_golden("x.txt", "a\nB\n")
    assert "-b\n+B" in str(failed.value) and REGENERATE in str(failed.value)
    monkeypatch.setenv(UPDATE_VAR, "1")
    with pytest.raises(pytest.fail.Exception, match="rewrote tests/golden/x.txt"):
        check_golden("x.txt", "a\nB\n")
    assert (tmp_path / "x.txt").read_text(encoding="utf-8") == "a\nB\n"
