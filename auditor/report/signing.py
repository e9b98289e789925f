"""The optional PAdES signature of the PDF report, and its check (pyHanko).

`load_signer` reads the signer's private key (PEM or DER; encrypted keys take their passphrase
from an environment variable, never from a file or the command line), its X.509 certificate and
an optional chain, and checks them before anything is written: a bad file, a wrong passphrase, a
certificate that is not the key's, expired or not for signing is a `SigningError` saying which.

`sign_pdf` adds a PAdES baseline B-B signature (ETSI.CAdES.detached, SHA-256, an invisible
signature field; no time-stamp authority, nothing fetched) as an incremental update, so the
PDF/A-3b document, its attachments and its metadata stay as they were: the update only adds
the signature field and brings the document information and the XMP metadata into agreement
(pyHanko names itself the producer in both, and sets both modification dates to the signing
time). The signing time is the clock's: a signed PDF differs on each signing.

`check_signature` is what `auditor verify` asks of a report.pdf: unsigned, or signed with a
signature that is intact, valid and covers the whole file but the signature itself, by whom,
and whether the signer is trusted: only against trust anchors given (certificates), never by
default. Nothing here goes to the network (no OCSP, CRL or certificate fetching).

pyHanko, asn1crypto and cryptography are imported inside the functions: importing this module
is cheap (the command line imports it only when signing or checking).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.console import safe
from auditor.errors import AuditorError

FIELD_NAME = "AuditorSignature"
_USAGES = ("digital_signature", "content_commitment")   # content_commitment: non-repudiation


class SigningError(AuditorError):
    """The PDF cannot be signed: an unreadable or mismatched key or certificate, a missing or
    wrong passphrase, or pyHanko failing (the message says which)."""


@contextmanager
def _quiet_crypto() -> Iterator[None]:
    """pyHanko imports cryptography's DSA module, which warns that DSA is deprecated: a warning
    about a library's import, not about the user's key, kept off the console."""
    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        yield


def _quiet_pyhanko_logs() -> None:
    """pyHanko logs each failed path to a trust anchor with a traceback; without a handler of
    its own, Python's last-resort handler would print them on stderr. What they say is in the
    result `check_signature` returns."""
    import logging

    for name in ("pyhanko", "pyhanko_certvalidator"):
        log = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
            log.addHandler(logging.NullHandler())


@dataclass(frozen=True, eq=False)
class PdfSigner:
    """A checked signer: the pyHanko signer object and the certificate's subject (for messages)."""

    signer: Any
    subject: str
    certificate: Path


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


def _certificates(path: Path, what: str) -> list[Any]:
    """Every X.509 certificate of a PEM file (one or more) or a DER file (one)."""
    from cryptography import x509

    data = _read(path, what)
    try:
        if b"-----BEGIN" in data:
            found = x509.load_pem_x509_certificates(data)
        else:
            found = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise SigningError(f"{path}: not an X.509 certificate in PEM or DER ({exc})") from None
    return found


def _passphrase(passphrase_env: str | None, environ: Mapping[str, str]) -> bytes | None:
    if not passphrase_env:
        return None
    value = environ.get(passphrase_env)
    if value is None:
        raise SigningError(f"the environment variable {passphrase_env} (named to hold the signing key's "
                           "passphrase) is not set")
    return value.encode("utf-8")


def _private_key(path: Path, passphrase: bytes | None, passphrase_env: str | None) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_private_key, load_pem_private_key

    data = _read(path, "signing key")
    loader = load_pem_private_key if b"-----BEGIN" in data else load_der_private_key
    try:
        return loader(data, password=passphrase)
    except TypeError as exc:
        if passphrase is None:
            raise SigningError(f"{path}: the key is encrypted: name the environment variable holding its "
                               "passphrase (report_signing.passphrase_env, --sign-pdf-passphrase-env)") from None
        raise SigningError(f"{path}: the key is not encrypted, but a passphrase was given in "
                           f"{passphrase_env} ({exc})") from None
    except ValueError as exc:
        if passphrase is not None:
            raise SigningError(f"{path}: cannot decrypt the key with the passphrase in {passphrase_env} (a wrong "
                               f"passphrase, or not a private key: {exc})") from None
        raise SigningError(f"{path}: not a private key in PEM or DER ({exc})") from None
    except Exception as exc:   # cryptography's UnsupportedAlgorithm and the like
        raise SigningError(f"{path}: cannot read the private key ({exc})") from None


def _public_der(key: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return bytes(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


def load_signer(key: Path, certificate: Path, chain: Sequence[Path] = (), *, passphrase_env: str | None = None,
                environ: Mapping[str, str] | None = None, now: datetime | None = None) -> PdfSigner:
    """The signer of `key` (a private key file) and `certificate` (its X.509 certificate), with
    the intermediate certificates of `chain` embedded in each signature. `passphrase_env` names
    the environment variable holding an encrypted key's passphrase. Raises SigningError."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    env = os.environ if environ is None else environ
    private = _private_key(key, _passphrase(passphrase_env, env), passphrase_env)
    if not isinstance(private, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey,
                                ed448.Ed448PrivateKey)):
        raise SigningError(f"{key}: a {type(private).__name__} cannot sign a PDF here (RSA, ECDSA, Ed25519 "
                           "or Ed448 keys can)")
    certs = _certificates(certificate, "signing certificate")
    if len(certs) != 1:
        raise SigningError(f"{certificate}: holds {len(certs)} certificates; give the signer's alone "
                           "(and the others as its chain)")
    cert = certs[0]
    if _public_der(cert.public_key()) != _public_der(private.public_key()):
        raise SigningError(f"{certificate}: this certificate is not the one of the key {key} "
                           "(their public keys differ)")
    moment = now or datetime.now(UTC)
    subject = cert.subject.rfc4514_string()
    if cert.not_valid_after_utc < moment:
        raise SigningError(f"{certificate}: the certificate of {subject} expired on "
                           f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    if cert.not_valid_before_utc > moment:
        raise SigningError(f"{certificate}: the certificate of {subject} is not valid before "
                           f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not any(getattr(usage, u) for u in _USAGES):
        raise SigningError(f"{certificate}: the certificate of {subject} does not allow signing (its key usage "
                           "has neither digitalSignature nor nonRepudiation)")
    others = [c for path in chain for c in _certificates(path, "certificate chain")]
    with _quiet_crypto():
        from asn1crypto import keys as asn1_keys
        from asn1crypto import x509 as asn1_x509
        from pyhanko.sign import signers
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        signing_key = asn1_keys.PrivateKeyInfo.load(
            private.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()))
        registry = SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in others])
        signer = signers.SimpleSigner(signing_cert=asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER)),
                                      signing_key=signing_key, cert_registry=registry)
    return PdfSigner(signer=signer, subject=subject, certificate=certificate)


def sign_pdf(pdf: bytes, signer: PdfSigner) -> bytes:
    """`pdf` with a PAdES B-B signature by `signer` appended as an incremental update. Raises
    SigningError when pyHanko cannot sign it."""
    with _quiet_crypto():
        from pyhanko.pdf_utils.generic import NameObject, TextStringObject
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.pdf_utils.metadata.model import VENDOR
        from pyhanko.sign import fields, signers

        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
            # pyHanko appends itself to the information dictionary's producer but writes itself
            # alone into the XMP metadata; PDF/A requires the two to agree, so both name pyHanko,
            # the last program to write the file.
            info_ref = writer.trailer.raw_get("/Info") if "/Info" in writer.trailer else None
            if info_ref is not None:
                info = info_ref.get_object()
                info[NameObject("/Producer")] = TextStringObject(VENDOR)
                writer.mark_update(info_ref)
            meta = signers.PdfSignatureMetadata(field_name=FIELD_NAME, md_algorithm="sha256",
                                                subfilter=fields.SigSeedSubFilter.PADES)
            out = signers.PdfSigner(meta, signer.signer).sign_pdf(writer, output=io.BytesIO())
        except Exception as exc:   # pyHanko raises many kinds (PdfReadError, SigningError, ValueError ...)
            raise SigningError(f"pyHanko could not sign the PDF: {type(exc).__name__}: {exc}") from exc
    return bytes(out.getvalue())


# --- checking ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignatureCheck:
    """What `check_signature` found. `signed`: the PDF holds a signature. `ok`: signed, and the
    signature is intact, cryptographically valid and covers the whole file but itself (else
    `problem` says why). `trusted`: the signer's certificate chains to a trust anchor given
    (None: no anchor was given, so trust was not decided). `signer`: the certificate's subject."""

    signed: bool
    ok: bool = False
    problem: str = ""
    signer: str = ""
    trusted: bool | None = None
    trust_problem: str = ""
    signing_time: str = ""

    def summary(self) -> str:
        """One line for `auditor verify`."""
        if not self.signed:
            return "unsigned (no PAdES signature)"
        if not self.ok:
            return f"signature FAILS: {self.problem}"
        head = f"PAdES signature intact and covering the whole file, signed by {self.signer}"
        if self.signing_time:
            head += f" at {self.signing_time}"
        if self.trusted is None:
            return f"{head}; intact, signer not trusted: no trust anchor given (--pdf-trust CERT)"
        if self.trusted:
            return f"{head}; signer trusted (chains to a --pdf-trust certificate)"
        return f"{head}; signer NOT trusted by the certificates given: {self.trust_problem}"


def load_trust(paths: Sequence[Path]) -> list[Any]:
    """The trust anchors of `paths` (PEM or DER certificate files), as asn1crypto certificates."""
    from cryptography.hazmat.primitives.serialization import Encoding

    with _quiet_crypto():
        from asn1crypto import x509 as asn1_x509

        return [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))
                for path in paths for c in _certificates(path, "trust anchor")]


def check_signature(pdf: bytes, trust: Sequence[Any] | None = None) -> SignatureCheck:
    """Check the PAdES signature(s) of `pdf`: every one intact and valid, the last covering the
    whole file. `trust`: trust anchors (`load_trust`); None or empty: trust is not decided."""
    _quiet_pyhanko_logs()
    with _quiet_crypto():
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko.sign.validation.status import SignatureCoverageLevel
        from pyhanko_certvalidator import ValidationContext

        try:
            reader = PdfFileReader(io.BytesIO(pdf), strict=False)
            found = list(reader.embedded_signatures)
        except Exception as exc:   # a damaged file: pyHanko's PdfReadError, or worse
            return SignatureCheck(signed=b"/ByteRange" in pdf, problem=f"the PDF cannot be read to check its "
                                                                      f"signature ({type(exc).__name__}: {safe(exc)})")
        if not found:
            return SignatureCheck(signed=False)
        anchors = list(trust or ())
        context = ValidationContext(trust_roots=anchors, allow_fetching=False, revocation_mode="soft-fail")
        signer = ""
        for index, embedded in enumerate(found):
            last = index == len(found) - 1
            try:
                status = validate_pdf_signature(embedded, signer_validation_context=context)
            except Exception as exc:   # pyHanko's SignatureValidationError, or a malformed CMS structure
                return SignatureCheck(signed=True, problem=f"signature {safe(embedded.field_name)} cannot be "
                                                           f"validated ({type(exc).__name__}: {safe(exc)})")
            signer = safe(status.signing_cert.subject.human_friendly)   # from the file: one line, inert
            if not status.intact:
                return SignatureCheck(signed=True, signer=signer,
                                      problem=f"the signed bytes were changed after signing (signature "
                                              f"{safe(embedded.field_name)} by {signer}: its digest does not match)")
            if not status.valid:
                return SignatureCheck(signed=True, signer=signer,
                                      problem=f"signature {safe(embedded.field_name)} by {signer} does not verify "
                                              "against its certificate")
            if last and status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
                return SignatureCheck(signed=True, signer=signer,
                                      problem=f"signature {safe(embedded.field_name)} by {signer} does not cover the whole "
                                              "file: bytes were added after signing "
                                              f"({status.coverage.name if status.coverage else 'unknown coverage'})")
        when = status.signer_reported_dt
        moment = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else ""
        if not anchors:
            return SignatureCheck(signed=True, ok=True, signer=signer, signing_time=moment)
        problem = ""
        if not status.trusted:
            indic = status.trust_problem_indic
            problem = str(getattr(indic, "name", indic)) if indic is not None else "no path to a trust anchor"
        return SignatureCheck(signed=True, ok=True, signer=signer, trusted=bool(status.trusted),
                              trust_problem=problem, signing_time=moment)
