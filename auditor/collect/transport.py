"""A direct transport for the shared clients' ``ec2`` and ``query`` calls: botocore's pieces, not its pipeline.

botocore makes every call through a generic pipeline: about a dozen events per request (each
name aliased and looked up), the endpoint ruleset evaluated per call, an ``AWSRequest`` whose
headers are ``email.message`` objects, SigV4 through that request object, and urllib3. At our
call rates that pipeline was two thirds of the collector's CPU. `DirectClient` makes the same
request with the same pieces of botocore, called directly:

- **the models and serializer** of the botocore client (``client._serializer``: botocore's
  serializer with its parameter validation, as the client was configured);
- **the endpoint** from the client's own ruleset resolver, resolved once per (client,
  operation) with the request context botocore builds (URL, headers, signing name and region);
- **the handlers** botocore and the collector registered on the client, found once per
  (client, operation) and called in order with the arguments the events pass: the built-in
  parameter handlers, the read-only guard (``before-call``), the reply check
  (``before-parse``), the retry handler of `sessions._retries_per_account` (botocore's
  standard retries with a quota per account) and the collector's throttle counter
  (``needs-retry``), the per-account quota release (``after-call``);
- **the parser** the client's parser factory makes (`auditor.collect.parsers`' compiled one),
  botocore's modeled error fields, and the error classes of ``client.exceptions``.

What is written here: SigV4 signing (`sign_v4`, AWS's documented algorithm, the derived key
cached per (secret key, date, region, service)), a keep-alive connection pool over
``http.client`` (`HTTPPool`) that raises botocore's own network exceptions, and the retry
loop of botocore's endpoint (same attempts, sleeps, ``RetryAttempts``).

When botocore's path is used instead (`decide`): a client qualifies only when every handler
on the events the direct path does not emit is one it knows (above); an unknown handler
(moto's in-process ``mock_aws``, botocore's ``Stubber``, a test's hook, client-side
monitoring), a proxy for the endpoint, a client certificate, a protocol other than ``ec2`` /
``query``, or an operation with streaming, checksums, compression, a host prefix, endpoint
context parameters or a signer other than SigV4 sends the call through botocore unchanged.
The decision is made once per client and operation, and made again when the client's handlers
change (a ``Stubber`` activated later). See docs/collection.md, "The direct transport".
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote, urlsplit


from auditor.events import logger

_log = logger("collect.transport")

MODES = ("auto", "botocore", "direct")
PROTOCOLS = frozenset({"ec2", "query"})


class DirectTransportUnavailable(Exception):
    """``transport="direct"`` was asked for a client or operation the direct path cannot make as botocore would."""


# --------------------------------------------------------------------------------------------
# SigV4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)

# Headers never signed (botocore's SIGNED_HEADERS_BLACKLIST: hop-by-hop headers, the user
# agent, tracing), so that what we sign is what botocore signs.
_UNSIGNED = frozenset({"baggage", "connection", "expect", "keep-alive", "proxy-authenticate",
                       "proxy-authorization", "te", "traceparent", "tracestate", "trailer",
                       "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id"})
_KEYS: dict[tuple[str, str, str, str], bytes] = {}
_KEYS_MAX = 4096


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The SigV4 signing key of (secret, yyyymmdd, region, service), derived once and cached."""
    key = (secret_key, date, region, service)
    found = _KEYS.get(key)
    if found is None:
        k = hmac.digest(("AWS4" + secret_key).encode(), date.encode(), "sha256")
        k = hmac.digest(k, region.encode(), "sha256")
        k = hmac.digest(k, service.encode(), "sha256")
        found = hmac.digest(k, b"aws4_request", "sha256")
        if len(_KEYS) >= _KEYS_MAX:   # a long run meets new dates: start again rather than grow
            _KEYS.clear()
        _KEYS[key] = found
    return found


def canonical_target(url: str) -> tuple[str, str, str]:
    """(host, canonical path, canonical query) of `url` for SigV4: the host lower-cased without a
    default port, the path with dot segments removed and URI-encoded, the query's pairs sorted."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    if parts.port is not None and parts.port != default:
        host = f"{host}:{parts.port}"
    path = _remove_dots(parts.path or "/")
    pairs = sorted(tuple(p.partition("=")[::2]) for p in parts.query.split("&")) if parts.query else []
    return host, quote(path, safe="/~"), "&".join(f"{k}={v}" for k, v in pairs)


def _remove_dots(path: str) -> str:
    out: list[str] = []
    for seg in path.split("/"):
        if seg == "..":
            if out:
                out.pop()
        elif seg not in (".", ""):
            out.append(seg)
    normal = "/" + "/".join(out)
    if path.endswith("/") and normal != "/":
        normal += "/"
    return normal


def sign_v4(*, method: str, host: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
            access_key: str, secret_key: str, token: str | None, region: str, service: str,
            amz_date: str) -> dict[str, str]:
    """The headers SigV4 adds to a request: ``X-Amz-Date``, ``X-Amz-Security-Token`` (with a
    session token) and ``Authorization``. `headers` are the request's other headers; every one
    but the unsigned ones (`_UNSIGNED`) is signed, with ``host``. `amz_date` is
    ``YYYYMMDDTHHMMSSZ``; the payload is always hashed (as botocore does for these protocols)."""
    added = {"X-Amz-Date": amz_date}
    if token:
        added["X-Amz-Security-Token"] = token
    signed: dict[str, list[str]] = {}
    for name, value in (*headers.items(), *added.items()):
        low = name.lower()
        if low not in _UNSIGNED and low != "authorization":
            signed.setdefault(low, []).append(" ".join(value.split()))
    if "host" not in signed:
        signed["host"] = [host]
    names = sorted(signed)
    signed_names = ";".join(names)
    canonical = "\n".join((method.upper(), path, query,
                           "".join(f"{n}:{','.join(signed[n])}\n" for n in names),
                           signed_names, hashlib.sha256(body).hexdigest()))
    date = amz_date[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac.new(signing_key(secret_key, date, region, service), to_sign.encode(), "sha256").hexdigest()
    added["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                              f"SignedHeaders={signed_names}, Signature={signature}")
    return added
