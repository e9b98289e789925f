"""The optional PAdES signature of report.pdf (auditor/report/signing.py) and its check by
`auditor verify` (auditor/bundle_verify.py).

Real pyHanko, real WeasyPrint. Every key and certificate is made here with `cryptography`
(a throwaway ECDSA P-256 key and a self-signed certificate): nothing is fetched, no time-stamp
authority is asked. The signed PDF must stay PDF/A-3b (its XMP identification, the document
information agreeing with the XMP, the attachments) and must verify; one flipped byte must fail."""

from __future__ import annotations

import datetime as dt
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
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from auditor.cli import cli
from auditor.report.model import build_model
from auditor.report.pdf import PdfInputs, render_pdf
from auditor.report.signing import SigningError, check_signature, load_signer, load_trust, sign_pdf
from auditor.rules.frameworks import load_catalogues
from auditor.rules.packs import load_packs

from test_report_model import sample_document

FIXED = {"SOURCE_DATE_EPOCH": "1767225600"}
PASSPHRASE_ENV = "AUDITOR_TEST_PDF_KEY_PASSPHRASE"
PASSPHRASE = "correct horse battery staple"


def make_identity(folder: Path, name: str, *, passphrase: str | None = PASSPHRASE, days: int = 30,
                  key_usage: bool = True) -> tuple[Path, Path]:
    """A fresh ECDSA key (encrypted with `passphrase`) and a self-signed certificate for it,
    valid from yesterday for `days` days (negative: already expired)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Assessors LLP")])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=2)).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    builder = builder.add_extension(x509.KeyUsage(
        digital_signature=key_usage, content_commitment=key_usage, key_encipherment=False, data_encipherment=False,
        key_agreement=not key_usage, key_cert_sign=True, crl_sign=False, encipher_only=False, decipher_only=False),
        critical=True)
    cert = builder.sign(key, hashes.SHA256())
    encryption: Any = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                       else serialization.NoEncryption())
    key_file, cert_file = folder / f"{name}.key.pem", folder / f"{name}.cert.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_identity(tmp_path_factory.mktemp("signer"), "Test Assessor")


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_identity(tmp_path_factory.mktemp("stranger"), "Someone Else")


ENV = {PASSPHRASE_ENV: PASSPHRASE}


@pytest.fixture(scope="module")
def unsigned() -> bytes:
    doc = sample_document()
    model = build_model(doc, load_packs([]), load_catalogues())
    return render_pdf(model, PdfInputs(json.dumps(doc, sort_keys=True).encode(), b'{"files": {}}'), environ=FIXED)


@pytest.fixture(scope="module")
def signed(unsigned: bytes, identity: tuple[Path, Path]) -> bytes:
    signer = load_signer(*identity, passphrase_env=PASSPHRASE_ENV, environ=ENV)
    return sign_pdf(unsigned, signer)


def _xmp(reader: pypdf.PdfReader) -> str:
    xmp = reader.xmp_metadata
    assert xmp is not None
    return str(xmp.stream.get_data().decode("utf-8"))


_NS = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "dc": "http://purl.org/dc/elements/1.1/",
       "pdf": "http://ns.adobe.com/pdf/1.3/", "xmp": "http://ns.adobe.com/xap/1.0/",
       "pdfaid": "http://www.aiim.org/pdfa/ns/id/"}


def _xmp_fields(xml: str) -> dict[str, str]:
    """prefix:name -> value of every simple property of the XMP (attributes or elements of its
    rdf:Description) and the first item of each dc array."""
    import xml.etree.ElementTree as ET

    prefixes = {uri: p for p, uri in _NS.items()}

    def short(tag: str) -> str:
        uri, _, local = tag[1:].partition("}")
        return f"{prefixes.get(uri, uri)}:{local}"

    out: dict[str, str] = {}
    for desc in ET.fromstring(xml.split("?>", 1)[1].rsplit("<?xpacket", 1)[0]).iter(f"{{{_NS['rdf']}}}Description"):
        out.update({short(k): v for k, v in desc.attrib.items() if not k.endswith("}about")})
        for child in desc:
            item = child.find(f".//{{{_NS['rdf']}}}li")
            out[short(child.tag)] = (item.text if item is not None else child.text) or ""
    return out


def test_signing_is_an_incremental_update_of_the_unsigned_pdf(unsigned: bytes, signed: bytes) -> None:
    assert signed.startswith(unsigned) and len(signed) > len(unsigned)
    assert signed.count(b"%%EOF") == unsigned.count(b"%%EOF") + 1


def test_the_signed_pdf_is_still_pdf_a_3b_with_its_attachments(unsigned: bytes, signed: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(signed))
    xml = _xmp(reader)
    assert 'pdfaid:part="3"' in xml and 'pdfaid:conformance="B"' in xml
    before = pypdf.PdfReader(io.BytesIO(unsigned)).attachments
    assert reader.attachments == before and set(before) == {"findings.json", "manifest.json"}
    # PDF/A: every document information entry equals its XMP counterpart (ISO 19005-3, 6.6.2.3.1)
    info = reader.metadata
    assert info is not None
    fields = _xmp_fields(xml)
    pairs = {"/Producer": "pdf:Producer", "/Title": "dc:title", "/Author": "dc:creator", "/Subject": "dc:description",
             "/Keywords": "pdf:Keywords", "/Creator": "xmp:CreatorTool"}
    assert set(info) == {*pairs, "/CreationDate", "/ModDate"}
    for key, prop in pairs.items():
        assert fields[prop] == info[key], key
    assert info["/CreationDate"] == "D:20260101000000Z" and fields["xmp:CreateDate"].startswith("2026-01-01T00:00:00")
    modified = dt.datetime.strptime(info["/ModDate"][2:16], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(fields["xmp:ModifyDate"]) == modified
    # the signature's widget: printable, not hidden, zero-sized (PDF/A annotations, 6.3.2/6.3.3)
    root = reader.trailer["/Root"]
    assert "/NeedAppearances" not in root["/AcroForm"]
    widget = root["/AcroForm"]["/Fields"][0].get_object()
    assert widget["/FT"] == "/Sig" and int(widget["/F"]) & 4 and not int(widget["/F"]) & (1 | 2 | 32)
    assert [float(x) for x in widget["/Rect"]] == [0.0, 0.0, 0.0, 0.0]
    assert len(reader.trailer["/ID"]) == 2
    assert widget["/V"]["/SubFilter"] == "/ETSI.CAdES.detached"   # PAdES


def test_check_says_intact_and_names_the_signer_but_trusts_only_an_anchor_given(
        signed: bytes, identity: tuple[Path, Path], stranger: tuple[Path, Path]) -> None:
    check = check_signature(signed)
    assert check.signed and check.ok and check.trusted is None
    assert "Test Assessor" in check.signer
    assert "intact, signer not trusted: no trust anchor given" in check.summary()
    trusted = check_signature(signed, load_trust([identity[1]]))
    assert trusted.ok and trusted.trusted is True and "signer trusted" in trusted.summary()
    other = check_signature(signed, load_trust([stranger[1]]))
    assert other.ok and other.trusted is False and "NOT trusted" in other.summary()


def test_an_unsigned_pdf_is_said_unsigned(unsigned: bytes) -> None:
    check = check_signature(unsigned)
    assert not check.signed and not check.ok and check.summary().startswith("unsigned")


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_one_flipped_byte_fails_the_check(signed: bytes, unsigned: bytes) -> None:
    at = len(unsigned) // 2    # inside the signed revision (the attachments' streams)
    check = check_signature(_flip(signed, at))
    assert check.signed and not check.ok
    assert "the signed bytes were changed after signing" in check.problem, check.problem
    assert "Test Assessor" in check.problem and "digest does not match" in check.problem


def test_bytes_added_after_signing_fail_the_check(signed: bytes) -> None:
    writer = pypdf.PdfWriter(io.BytesIO(signed), incremental=True)
    writer.add_metadata({"/Title": "COMPLIANT"})
    out = io.BytesIO()
    writer.write(out)
    check = check_signature(out.getvalue())
    assert check.signed and not check.ok
    assert "does not cover the whole file" in check.problem


# --- bad keys, certificates and passphrases: a clear error, nothing written ----------------------

def test_a_wrong_passphrase_is_a_clear_error(identity: tuple[Path, Path]) -> None:
    with pytest.raises(SigningError, match=f"cannot decrypt the key with the passphrase in {PASSPHRASE_ENV}"):
        load_signer(*identity, passphrase_env=PASSPHRASE_ENV, environ={PASSPHRASE_ENV: "wrong"})


def test_an_encrypted_key_without_a_passphrase_and_an_unset_variable_are_clear_errors(
        identity: tuple[Path, Path]) -> None:
    with pytest.raises(SigningError, match="the key is encrypted: name the environment variable"):
        load_signer(*identity, environ={})
    with pytest.raises(SigningError, match=f"the environment variable {PASSPHRASE_ENV} .* is not set"):
        load_signer(*identity, passphrase_env=PASSPHRASE_ENV, environ={})


def test_a_certificate_of_another_key_is_refused(identity: tuple[Path, Path], stranger: tuple[Path, Path]) -> None:
    with pytest.raises(SigningError, match="this certificate is not the one of the key"):
        load_signer(identity[0], stranger[1], passphrase_env=PASSPHRASE_ENV, environ=ENV)


def test_an_expired_or_non_signing_certificate_and_unreadable_files_are_refused(tmp_path: Path,
                                                                               identity: tuple[Path, Path]) -> None:
    expired = make_identity(tmp_path, "Expired", passphrase=None, days=-1)
    with pytest.raises(SigningError, match="expired on"):
        load_signer(*expired)
    no_signing = make_identity(tmp_path, "Agreement", passphrase=None, key_usage=False)
    with pytest.raises(SigningError, match="does not allow signing"):
        load_signer(*no_signing)
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(SigningError, match="not an X.509 certificate"):
        load_signer(identity[0], junk, passphrase_env=PASSPHRASE_ENV, environ=ENV)
    with pytest.raises(SigningError, match="cannot read the signing key"):
        load_signer(tmp_path / "absent.pem", identity[1])
    with pytest.raises(SigningError, match="not a private key"):
        load_signer(identity[1], identity[1])


def test_the_cli_refuses_a_bad_passphrase_before_writing_anything(tmp_path: Path, identity: tuple[Path, Path]
                                                                  ) -> None:
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps(sample_document()), encoding="utf-8")
    earlier = tmp_path / "report.pdf"
    earlier.write_bytes(b"%PDF-1.7 an earlier report")
    args = ["report", str(findings), "--format", "pdf,csv", "--sign-pdf-key", str(identity[0]),
            "--sign-pdf-cert", str(identity[1]), "--sign-pdf-passphrase-env", PASSPHRASE_ENV]
    result = CliRunner().invoke(cli, args, env={PASSPHRASE_ENV: "wrong"})
    assert result.exit_code == 2, result.output
    assert "cannot sign the PDF" in result.output and "cannot decrypt the key" in result.output
    assert "nothing was run" in result.output and "Traceback" not in result.output
    assert earlier.read_bytes() == b"%PDF-1.7 an earlier report"      # nothing lost
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.json", "report.pdf"]   # nothing half-written
    # a key without its certificate, and signing without a PDF to sign
    alone = CliRunner().invoke(cli, ["report", str(findings), "--format", "pdf", "--sign-pdf-key", str(identity[0])])
    assert alone.exit_code == 2 and "--sign-pdf-key and --sign-pdf-cert go together" in alone.output
    no_pdf = CliRunner().invoke(cli, ["report", str(findings), "--format", "csv", "--sign-pdf-key", str(identity[0]),
                                      "--sign-pdf-cert", str(identity[1])])
    assert no_pdf.exit_code == 2 and "pdf is not among the formats" in no_pdf.output


def test_a_signature_that_cannot_be_made_leaves_no_pdf_and_the_other_reports_written(
        tmp_path: Path, identity: tuple[Path, Path]) -> None:
    from auditor.report.outputs import write_reports
    from auditor.report.signing import PdfSigner

    with pytest.raises(SigningError, match="pyHanko could not sign the PDF"):
        sign_pdf(b"%PDF-1.7 not really a PDF", load_signer(*identity, passphrase_env=PASSPHRASE_ENV, environ=ENV))
    doc = sample_document()
    model = build_model(doc, load_packs([]), load_catalogues())
    broken = PdfSigner(signer=object(), subject="CN=broken", certificate=tmp_path / "none.pem")   # cannot sign
    done = write_reports(tmp_path / "out", ("csv", "pdf"), model, json.dumps(doc).encode(), pdf_signer=broken)
    assert [fmt for fmt, _target in done.files] == ["csv"]
    [(fmt, target, why)] = done.failed
    assert fmt == "pdf" and "pyHanko could not sign the PDF" in why and "the PDF was not written" in why
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["findings.csv"]   # no PDF, signed or not, no half file
    assert not target.exists()


# --- end to end: a signed report in an evidence bundle, checked by `auditor verify` ---------------

@pytest.fixture(scope="module")
def signed_bundle(demo_run: Any, identity: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo's bundle whose report.pdf `auditor report` re-wrote signed."""
    copy = tmp_path_factory.mktemp("signed-bundle") / "bundle"
    shutil.copytree(demo_run.out, copy)
    result = CliRunner().invoke(cli, ["report", str(copy / "findings.json"), "--format", "pdf",
                                      "--sign-pdf-key", str(identity[0]), "--sign-pdf-cert", str(identity[1]),
                                      "--sign-pdf-passphrase-env", PASSPHRASE_ENV], env=ENV)
    assert result.exit_code == 0, result.output
    assert "(signed: PAdES)" in result.output and "added to the evidence bundle" in result.output
    return copy


def _verify(bundle: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["verify", str(bundle), *args])


def test_verify_passes_a_signed_bundle_and_says_the_signer_is_not_trusted_without_an_anchor(
        signed_bundle: Path) -> None:
    reader = pypdf.PdfReader(signed_bundle / "report.pdf")
    assert any(n.startswith("records/") for n in reader.attachments)   # the records survive signing
    assert 'pdfaid:part="3"' in _xmp(reader)
    result = _verify(signed_bundle)
    assert result.exit_code == 0, result.output
    assert "report.pdf: PAdES signature intact and covering the whole file, signed by" in result.output
    assert "Test Assessor" in result.output
    assert "intact, signer not trusted: no trust anchor given" in result.output


def test_verify_trusts_the_signer_only_against_the_certificate_given(signed_bundle: Path, identity: tuple[Path, Path],
                                                                      stranger: tuple[Path, Path]) -> None:
    trusted = _verify(signed_bundle, "-q", "--pdf-trust", str(identity[1]), "--require-pdf-signature")
    assert trusted.exit_code == 0, trusted.output
    assert "signer trusted (chains to a --pdf-trust certificate)" in trusted.output
    other = _verify(signed_bundle, "--pdf-trust", str(stranger[1]))
    assert other.exit_code == 5, other.output
    assert "FAILED  report.pdf:" in other.output and "is NOT trusted by the --pdf-trust certificate" in other.output


def test_verify_fails_a_signed_pdf_with_one_byte_flipped_even_with_its_hash_fixed_up(signed_bundle: Path,
                                                                                      tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(signed_bundle, copy)
    pdf = copy / "report.pdf"
    data = pdf.read_bytes()
    pdf.write_bytes(_flip(data, len(data) // 3))
    plain = _verify(copy)   # the bundle's own hash catches it first
    assert plain.exit_code == 5 and "FAILED  report.pdf: SHA-256 differs" in plain.output
    manifest = json.loads((copy / "bundle.json").read_text())
    manifest["files"]["report.pdf"] = hashlib.sha256(pdf.read_bytes()).hexdigest()
    (copy / "bundle.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    fixed = _verify(copy)   # an unsigned bundle.json rewritten consistently: the PDF's signature still fails
    assert fixed.exit_code == 5, fixed.output
    assert "FAILED  report.pdf: its PAdES signature fails: the signed bytes were changed after signing" in fixed.output


def test_verify_reports_an_unsigned_pdf_and_fails_it_when_a_signature_is_required(demo_run: Any) -> None:
    result = _verify(demo_run.out, "-q")
    assert result.exit_code == 0, result.output
    assert "report.pdf: unsigned (no PAdES signature)" in result.output
    required = _verify(demo_run.out, "--require-pdf-signature")
    assert required.exit_code == 5, required.output
    assert "FAILED  report.pdf: unsigned (no PAdES signature), and --require-pdf-signature was given" in required.output


def test_an_unreadable_trust_anchor_is_an_input_error(demo_run: Any, tmp_path: Path) -> None:
    junk = tmp_path / "anchor.pem"
    junk.write_text("not a certificate")
    result = _verify(demo_run.out, "--pdf-trust", str(junk))
    assert result.exit_code == 2 and "not an X.509 certificate" in result.output


def test_scan_signs_the_pdf_from_the_configs_report_signing(demo_run: Any, identity: tuple[Path, Path],
                                                            tmp_path: Path) -> None:
    from auditor.emulate import demo_config_path

    config = tmp_path / "audit.yaml"
    keys = tmp_path / "keys"
    keys.mkdir()
    for f in identity:
        shutil.copy(f, keys / f.name)
    for name in ("demo-waivers.yaml", "demo-responses.yaml"):   # the files the demo's config names, as it used them
        shutil.copy(next((demo_run.out / "inputs").glob(f"*/{name}")), tmp_path / name)
    config.write_text(demo_config_path().read_text(encoding="utf-8")
                      + f"report_signing:\n  key: keys/{identity[0].name}\n  certificate: keys/{identity[1].name}\n"
                        f"  passphrase_env: {PASSPHRASE_ENV}\n", encoding="utf-8")
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["scan", "-c", str(config), "--snapshot", str(demo_run.out / "snapshot"),
                                      "--out", str(out), "--format", "json,pdf"], env=ENV)
    assert result.exit_code in (0, 1), result.output   # the demo estate fails on purpose
    assert "pdf written to" in result.output and "(signed: PAdES)" in result.output
    check = check_signature((out / "report.pdf").read_bytes(), load_trust([identity[1]]))
    assert check.ok and check.trusted is True
    verified = _verify(out, "--pdf-trust", str(identity[1]))
    assert verified.exit_code == 0, verified.output
    # the same config without the passphrase in the environment: stopped before anything is written
    again = CliRunner().invoke(cli, ["scan", "-c", str(config), "--snapshot", str(demo_run.out / "snapshot"),
                                     "--out", str(tmp_path / "run2"), "--format", "json,pdf"], env={PASSPHRASE_ENV: None})
    assert again.exit_code == 2, again.output
    assert f"{PASSPHRASE_ENV}" in again.output and "is not set" in again.output
    assert not (tmp_path / "run2").exists()
