"""The PDF signing options of `auditor scan` and `auditor report` (docs/cli.md): sign report.pdf
with a PAdES signature (auditor/report/signing.py).

    --sign-pdf-key KEY --sign-pdf-cert CERT [--sign-pdf-chain CERT ...] [--sign-pdf-passphrase-env NAME]

The key's passphrase is read from the environment variable NAME, never from the command line.
A bad key, certificate or passphrase stops the command before anything is run or written
(exit 2), saying which.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from auditor.cli_common import fail_unreadable
from auditor.console import safe

if TYPE_CHECKING:
    from auditor.report.signing import PdfSigner

F = TypeVar("F", bound=Callable[..., Any])
_FILE = click.Path(dir_okay=False, path_type=Path)


@dataclass(frozen=True)
class PdfSigningOptions:
    """The signing options as given (all empty: the PDF is not signed by the command line)."""

    key: Path | None = None
    cert: Path | None = None
    chain: tuple[Path, ...] = ()
    passphrase_env: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.key or self.cert or self.chain or self.passphrase_env)


_OPTIONS = (
    click.option("--sign-pdf-key", "sign_pdf_key", type=_FILE, default=None,
                 help="Sign report.pdf (PAdES B-B) with this private key (PEM or DER); needs --sign-pdf-cert."),
    click.option("--sign-pdf-cert", "sign_pdf_cert", type=_FILE, default=None,
                 help="The signer's X.509 certificate (PEM or DER), embedded in the signature."),
    click.option("--sign-pdf-chain", "sign_pdf_chain", type=_FILE, multiple=True,
                 help="An intermediate certificate to embed with the signer's (repeatable)."),
    click.option("--sign-pdf-passphrase-env", "sign_pdf_passphrase_env", default=None, metavar="NAME",
                 help="The environment variable holding the signing key's passphrase (never the passphrase itself)."),
)


def pdf_signing_options(command: F) -> F:
    """Add the signing options to a click command; it receives them as one `PdfSigningOptions`
    (``pdf_signing``)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = PdfSigningOptions(kwargs.pop("sign_pdf_key"), kwargs.pop("sign_pdf_cert"),
                                  tuple(kwargs.pop("sign_pdf_chain")), kwargs.pop("sign_pdf_passphrase_env"))
        return command(*args, pdf_signing=given, **kwargs)

    decorated: Any = wrapper
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated


def pdf_signer(options: PdfSigningOptions) -> PdfSigner | None:
    """The signer the options name, loaded and checked; None when none is given. Exits 2 (nothing
    run or written) for options that do not go together or files that cannot sign."""
    if not options.given:
        return None
    if options.key is None or options.cert is None:
        raise click.UsageError("--sign-pdf-key and --sign-pdf-cert go together (the key and its certificate)"
                               + ("; --sign-pdf-chain and --sign-pdf-passphrase-env need them"
                                  if options.chain or options.passphrase_env else ""))
    from auditor.report.signing import SigningError, load_signer

    try:
        return load_signer(options.key, options.cert, options.chain, passphrase_env=options.passphrase_env)
    except SigningError as exc:
        fail_unreadable(f"cannot sign the PDF: {safe(exc)}; nothing was run")
