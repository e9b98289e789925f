"""The snapshot records behind the failing findings, attached to the PDF/A-3 (auditor/report/
pdf_records.py, auditor/report/pdf.py): read back with pypdf, byte for byte against the snapshot,
hash for hash against the manifest; each record attached once; a record that cannot be attached
is said in the appendix with its cause, never dropped in silence.

Real WeasyPrint PDFs of the small sample findings.json (tests/test_report_model.py) over a
snapshot folder written here, and the demo's evidence bundle (the `demo_run` fixture)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pypdf
import pytest
import weasyprint  # noqa: F401  (installed by the test extra: a missing one fails, never skips)
from click.testing import CliRunner

from auditor.cli import cli
from auditor.report.model import build_model, record_hashes_of
from auditor.report.pdf import PdfInputs, records_of, render_html, render_pdf
from auditor.report.pdf_records import NO_SNAPSHOT, select_records
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs

from conftest import pdf_page_texts
from test_report_model import sample_document

FIXED = {"SOURCE_DATE_EPOCH": "1767225600"}


def _sources(doc: dict[str, Any], statuses: tuple[str, ...]) -> set[str]:
    return {s.split("#", 1)[0] for f in doc["findings"] if f["status"] in statuses
            for e in f["evidence"] for s in e["sources"]}


def _snapshot(folder: Path, doc: dict[str, Any]) -> bytes:
    """A snapshot folder holding every record `doc` cites (each a small JSON record), and the
    bytes of its manifest."""
    files = {}
    for name in sorted(_sources(doc, ("PASS", "FAIL", "ERROR", "WAIVED", "NOT_APPLICABLE"))):
        data = json.dumps({"record": name, "pages": [{"n": len(name)}]}, sort_keys=True).encode()
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        files[name] = "sha256:" + hashlib.sha256(data).hexdigest()
    manifest = json.dumps({"format": "auditor-snapshot", "files": files}, sort_keys=True).encode()
    (folder / "manifest.json").write_bytes(manifest)
    return manifest


def _text(pdf: bytes) -> str:
    """The PDF's text without NULs and without any white space: table cells wrap, and where a
    line ends pypdf may or may not leave a space (compare with `_flat` needles)."""
    return _flat("".join(pdf_page_texts(pdf)).replace("\x00", ""))


def _flat(text: str) -> str:
    return "".join(text.split())


def _embedded(pdf: bytes) -> dict[str, Any]:
    """Name -> the reference of the file specification of every embedded file (the catalog's name tree)."""
    root = pypdf.PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    return {str(names[i]): names[i + 1] for i in range(0, len(names), 2)}


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    return sample_document()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, sample: dict[str, Any]) -> tuple[Path, bytes, bytes]:
    """(snapshot folder, manifest bytes, the PDF rendered over it)."""
    folder = tmp_path_factory.mktemp("records") / "snapshot"
    folder.mkdir()
    manifest = _snapshot(folder, sample)
    model = build_model(sample, load_packs([]), load_catalogues(), record_hashes=record_hashes_of(manifest))
    raw = json.dumps(sample, sort_keys=True).encode()
    return folder, manifest, render_pdf(model, PdfInputs(raw, manifest, folder), style="banking", environ=FIXED)


def test_failing_records_are_attached_byte_for_byte_with_the_manifest_hashes(
        bundle: tuple[Path, bytes, bytes], sample: dict[str, Any]) -> None:
    folder, manifest, pdf = bundle
    attachments = pypdf.PdfReader(io.BytesIO(pdf)).attachments
    failing = _sources(sample, ("FAIL", "ERROR"))
    only_passing = _sources(sample, ("PASS", "WAIVED", "NOT_APPLICABLE")) - failing
    assert len(failing) == 2 and only_passing   # the sample cites both kinds
    records = {name for name in attachments if name.startswith("records/")}
    assert records == failing                   # the failing findings' records, and no other
    hashes = json.loads(manifest)["files"]
    for name in failing:
        assert attachments[name] == [(folder / name).read_bytes()], name
        assert "sha256:" + hashlib.sha256(attachments[name][0]).hexdigest() == hashes[name]
    # findings.json and the manifest are still there, beside them
    assert attachments["manifest.json"] == [manifest] and "findings.json" in attachments


def test_records_are_sources_in_the_catalogs_associated_files(bundle: tuple[Path, bytes, bytes]) -> None:
    pdf = bundle[2]
    specs = _embedded(pdf)
    root = pypdf.PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    associated = {ref.idnum for ref in root["/AF"]}
    records = [name for name in specs if name.startswith("records/")]
    assert records
    for name in records:
        assert specs[name].get_object()["/AFRelationship"] == "/Source", name
        assert specs[name].idnum in associated, name   # PDF/A-3: every embedded file is an associated file


def test_the_appendix_says_each_record_is_attached_with_its_hash(bundle: tuple[Path, bytes, bytes],
                                                                  sample: dict[str, Any]) -> None:
    _folder, manifest, pdf = bundle
    text = _text(pdf)
    hashes = json.loads(manifest)["files"]
    assert _flat("Snapshot records cited by the failing findings") in text
    assert _flat("2 of 2 attached") in text
    assert text.count(_flat("attached (hash checked)")) == 1 + 2   # the paragraph says what it means, then each row
    for name in _sources(sample, ("FAIL", "ERROR")):
        assert hashes[name] in text, name
    assert "notattached:" not in text   # no row says "not attached: <cause>"


def test_a_missing_or_changed_record_is_said_not_attached_with_its_cause(
        tmp_path: Path, sample: dict[str, Any]) -> None:
    folder = tmp_path / "snapshot"
    folder.mkdir()
    manifest = _snapshot(folder, sample)
    fail, error = sorted(_sources(sample, ("FAIL",))), sorted(_sources(sample, ("ERROR",)))
    (folder / fail[0]).unlink()                                  # gone
    (folder / error[0]).write_bytes(b'{"changed": true}')          # edited after the run
    model = build_model(sample, load_packs([]), load_catalogues(), record_hashes=record_hashes_of(manifest))
    pdf = render_pdf(model, PdfInputs(json.dumps(sample).encode(), manifest, folder), environ=FIXED)
    attachments = pypdf.PdfReader(io.BytesIO(pdf)).attachments
    assert not [name for name in attachments if name.startswith("records/")]
    text = _text(pdf)
    assert _flat("0 of 2 attached") in text
    assert _flat("not attached: missing from the snapshot folder") in text
    changed = "sha256:" + hashlib.sha256(b'{"changed": true}').hexdigest()
    assert _flat("not attached: its bytes in the snapshot have SHA-256") in text
    assert changed in text and _flat("not the manifest's (the file changed after the run)") in text


def test_without_a_snapshot_the_pdf_says_records_not_attached_no_snapshot_given(sample: dict[str, Any]) -> None:
    model = build_model(sample, load_packs([]), load_catalogues())
    pdf = render_pdf(model, PdfInputs(json.dumps(sample).encode()), environ=FIXED)
    assert [name for name in pypdf.PdfReader(io.BytesIO(pdf)).attachments] == ["findings.json"]
    text = _text(pdf)
    assert _flat(f"Records not attached: {NO_SNAPSHOT}") in text
    assert text.count(_flat(f"not attached: {NO_SNAPSHOT}")) == 1 + 2   # the note, and each record's row


def test_a_loose_findings_json_reported_by_the_cli_says_no_snapshot_given(tmp_path: Path,
                                                                          sample: dict[str, Any]) -> None:
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps(sample), encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(findings), "--format", "pdf"], env=FIXED)
    assert result.exit_code == 0, result.output
    assert _flat(f"Records not attached: {NO_SNAPSHOT}") in _text((tmp_path / "report.pdf").read_bytes())


def test_a_record_many_findings_cite_is_attached_once(sample: dict[str, Any], tmp_path: Path) -> None:
    doc = json.loads(json.dumps(sample))
    fail = next(f for f in doc["findings"] if f["status"] == "FAIL")
    twins = []
    for i in range(5):   # five more failing findings reading the same record, other pointers
        twin = json.loads(json.dumps(fail))
        twin["fingerprint"] = f"{i:020x}"
        twin["evidence"][0]["sources"] = [fail["evidence"][0]["sources"][0].split("#")[0] + f"#/pages/{i}"]
        twins.append(twin)
    doc["findings"] += twins
    folder = tmp_path / "snapshot"
    folder.mkdir()
    manifest = _snapshot(folder, doc)
    model = build_model(doc, load_packs([]), load_catalogues(), record_hashes=record_hashes_of(manifest))
    chosen = records_of(model, PdfInputs(b"{}", manifest, folder))
    assert [name for name, _data in chosen.files] == sorted(_sources(doc, ("FAIL", "ERROR")))
    assert len(chosen.files) == 2 < sum(len(e["sources"]) for f in doc["findings"] if f["status"] in ("FAIL", "ERROR")
                                        for e in f["evidence"])


def test_over_the_cap_a_record_is_said_not_attached_and_why(bundle: tuple[Path, bytes, bytes],
                                                            sample: dict[str, Any]) -> None:
    folder, manifest, _pdf = bundle
    hashes = json.loads(manifest)["files"]
    names = sorted(_sources(sample, ("FAIL", "ERROR")))
    first = len((folder / names[0]).read_bytes())
    chosen = select_records(names, hashes, folder, max_bytes=first)   # room for the first only
    assert [n for n, _d in chosen.files] == names[:1]
    assert "past the cap of" in chosen.rows[1].why and "in the evidence bundle's snapshot" in chosen.rows[1].why
    by_count = select_records(names, hashes, folder, max_files=1)
    assert [n for n, _d in by_count.files] == names[:1]
    assert "the cap of 1 attached records was reached" in by_count.rows[1].why
    # and the appendix says so
    model = build_model(sample, load_packs([]), load_catalogues(), record_hashes=record_hashes_of(manifest))
    page = render_html(model, PdfInputs(b"{}", manifest, folder), environ=FIXED, records=chosen)
    assert "1 of 2 attached" in page and "not attached: its " in page and "past the cap of" in page


def test_an_unsafe_or_unlisted_record_name_is_not_read(bundle: tuple[Path, bytes, bytes]) -> None:
    folder, manifest, _pdf = bundle
    secret = folder.parent / "secret.json"
    secret.write_text("{}")
    hashes = {"records/../secret.json": "sha256:" + hashlib.sha256(b"{}").hexdigest()}
    chosen = select_records(["records/../secret.json", "records/not/listed.json"], hashes, folder)
    assert not chosen.files
    why = {r.name: r.why for r in chosen.rows}
    assert why["records/../secret.json"].startswith("cannot be read from the snapshot")
    assert why["records/not/listed.json"].startswith("not listed in the snapshot manifest")


def test_the_demo_bundle_pdf_attaches_every_failing_record_once(demo_run: Any) -> None:
    out = demo_run.out
    document = json.loads((out / "findings.json").read_text())
    hashes = json.loads((out / "snapshot" / "manifest.json").read_text())["files"]
    attachments = pypdf.PdfReader(out / "report.pdf").attachments
    cited = [s.split("#", 1)[0] for f in document["findings"] if f["status"] in ("FAIL", "ERROR")
             for e in f["evidence"] for s in e["sources"]]
    assert len(set(cited)) < len(cited)          # findings share records: each is attached once
    records = sorted(n for n in attachments if n.startswith("records/"))
    assert records == sorted(set(cited))
    for name in records:
        assert len(attachments[name]) == 1
        data = attachments[name][0]
        assert data == (out / "snapshot" / name).read_bytes(), name
        assert "sha256:" + hashlib.sha256(data).hexdigest() == hashes[name], name
    text = _text((out / "report.pdf").read_bytes())
    assert _flat(f"{len(records)} of {len(records)} attached") in text


def test_report_into_a_copied_bundle_attaches_the_records_and_verify_still_passes(demo_run: Any,
                                                                                   tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(demo_run.out, copy)
    (copy / "report.pdf").unlink()
    result = CliRunner().invoke(cli, ["report", str(copy / "findings.json"), "--format", "pdf", "--style",
                                      "healthcare"])
    assert result.exit_code == 0, result.output
    attachments = pypdf.PdfReader(copy / "report.pdf").attachments
    assert any(n.startswith("records/") for n in attachments)
    verified = CliRunner().invoke(cli, ["verify", str(copy)])
    assert verified.exit_code == 0, verified.output
    assert "report.pdf: unsigned (no PAdES signature" in verified.output
