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
cached per (secret key, date, region, service)), a keep-alive connection pool (`HTTPPool`:
sockets and TLS as botocore's session sets them up, replies read by `read_reply`, a small
HTTP/1.1 reader with http.client's exceptions and limits) that raises botocore's own network
exceptions, and the retry loop of botocore's endpoint (same attempts, sleeps, ``RetryAttempts``).

When botocore's path is used instead (`DirectClient.reason`, `DirectClient.method`): a client qualifies only when every handler
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
import http.client
import os
import select
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from botocore import exceptions as bce
from botocore.awsrequest import AWSRequestPreparer, _urljoin
from botocore.httpsession import URLLib3Session, create_urllib3_context, get_cert_path

from auditor.events import emit, logger

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


# --------------------------------------------------------------------------------------------
# HTTP: keep-alive connections over http.client


@dataclass(frozen=True)
class Reply:
    """An HTTP reply as botocore's retry handler, parser and checks read it."""

    status_code: int
    headers: dict[str, str]   # names lower-cased
    content: bytes


class _Conn:
    """One connection: its socket, the buffered reader its replies are read from, and a poller
    that tells whether it is still usable."""

    __slots__ = ("sock", "fp", "_poller")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fp = sock.makefile("rb")
        self._poller = select.poll()
        self._poller.register(sock, select.POLLIN)

    def dropped(self) -> bool:
        """An idle keep-alive connection the server closed (or wrote to) is readable: not reusable."""
        return bool(self._poller.poll(0))

    def close(self) -> None:
        self.fp.close()
        self.sock.close()


_LINE = 65537     # http.client's limits for a status or header line and for the number of headers
_HEADERS = 100


def read_reply(fp: Any, method: str) -> tuple[int, dict[str, str], bytes, bool]:
    """Read one HTTP/1.x reply from `fp`: (status, headers with lower-cased names, body, whether the
    server closes the connection after it). Interim 1xx replies are skipped; the body is read by
    Content-Length, chunked transfer coding, or to the end. Raises http.client's exceptions (a
    closed connection, a malformed or truncated reply), which `HTTPPool` turns into botocore's.

    http.client reads headers with the email package's parser, the cost this transport is
    written to avoid; this reader keeps what botocore's parsers and checks read: the status, the
    headers (repeated ones joined with ", ", as urllib3 does), the body."""
    while True:
        line = fp.readline(_LINE)
        if not line:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        if len(line) >= _LINE:
            raise http.client.LineTooLong("status line")
        version, _, rest = line.decode("iso-8859-1").rstrip("\r\n").partition(" ")
        if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
            raise http.client.BadStatusLine(line.decode("iso-8859-1"))
        status = int(rest[:3])
        headers: dict[str, str] = {}
        while True:
            raw = fp.readline(_LINE)
            if raw in (b"\r\n", b"\n", b""):
                break
            if len(raw) >= _LINE or len(headers) >= _HEADERS:
                raise http.client.LineTooLong("header line")
            name, _, value = raw.decode("iso-8859-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if not 100 <= status < 200:
            break
    connection = headers.get("connection", "").lower()
    close = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
    if status in (204, 304) or method == "HEAD":
        return status, headers, b"", close
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, headers, _chunked(fp), close
    length = headers.get("content-length")
    if length is None:
        return status, headers, fp.read(), True
    try:
        size = int(length)
    except ValueError:
        raise http.client.HTTPException(f"bad Content-Length {length!r}") from None
    body = fp.read(size)
    if len(body) < size:
        raise http.client.IncompleteRead(body, size - len(body))
    return status, headers, body, close


def _chunked(fp: Any) -> bytes:
    parts: list[bytes] = []
    while True:
        line = fp.readline(_LINE)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise http.client.IncompleteRead(b"".join(parts)) from None
        if size == 0:
            while fp.readline(_LINE) not in (b"\r\n", b"\n", b""):   # trailers
                pass
            return b"".join(parts)
        chunk = fp.read(size)
        if len(chunk) < size:
            raise http.client.IncompleteRead(b"".join(parts) + chunk, size - len(chunk))
        parts.append(chunk)
        fp.read(2)


class HTTPPool:
    """Keep-alive connections to one (scheme, host, port), checked out under a lock.

    A connection is used by one request at a time; at most `max_idle` are kept between requests
    (others are closed after use). An idle connection the server has closed is noticed before it
    is used (as urllib3 does); a reused connection that fails while the request is being written
    (so it was never received) is replaced once by a fresh one. Failures raise botocore's own
    exceptions, as botocore's urllib3 session does: `EndpointConnectionError` (no connection),
    `ConnectTimeoutError`, `SSLError`, `ReadTimeoutError`, `ConnectionClosedError`.
    """

    def __init__(self, scheme: str, host: str, port: int, *, connect_timeout: float | None,
                 read_timeout: float | None, ssl_context: ssl.SSLContext | None,
                 socket_options: list[tuple[int, int, int]], max_idle: int) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._ssl = ssl_context
        self._options = list(socket_options)
        self._max_idle = max_idle
        self._idle: list[_Conn] = []
        self._lock = threading.Lock()
        self.connections_made = 0

    def _connect(self, url: str) -> _Conn:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self._connect_timeout)
        except TimeoutError as exc:
            raise bce.ConnectTimeoutError(endpoint_url=url, error=exc) from None
        except OSError as exc:
            raise bce.EndpointConnectionError(endpoint_url=url, error=exc) from None
        try:
            for option in self._options:
                sock.setsockopt(*option)
            if self._ssl is not None:
                sock = self._ssl.wrap_socket(sock, server_hostname=self.host)
        except ssl.SSLError as exc:
            sock.close()
            raise bce.SSLError(endpoint_url=url, error=exc) from None
        except TimeoutError as exc:
            sock.close()
            raise bce.ConnectTimeoutError(endpoint_url=url, error=exc) from None
        except OSError as exc:
            sock.close()
            raise bce.EndpointConnectionError(endpoint_url=url, error=exc) from None
        sock.settimeout(self._read_timeout)
        with self._lock:
            self.connections_made += 1
        return _Conn(sock)

    def _checkout(self) -> _Conn | None:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            if not conn.dropped():
                return conn
            conn.close()

    def _checkin(self, conn: _Conn) -> None:
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def send(self, method: str, data: bytes, url: str) -> Reply:
        """Send one whole request (`data`: request line, headers and body) and read its reply."""
        conn = self._checkout()
        if conn is not None:
            try:
                conn.sock.sendall(data)
            except OSError:   # the server dropped it while idle: the request was not received
                conn.close()
                conn = None
        if conn is None:
            conn = self._connect(url)
            try:
                conn.sock.sendall(data)
            except TimeoutError as exc:
                conn.close()
                raise bce.ReadTimeoutError(endpoint_url=url, error=exc) from None
            except OSError as exc:
                conn.close()
                raise bce.ConnectionClosedError(endpoint_url=url, error=exc, request=None) from None
        try:
            status, headers, body, close = read_reply(conn.fp, method)
        except TimeoutError as exc:
            conn.close()
            raise bce.ReadTimeoutError(endpoint_url=url, error=exc) from None
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            raise bce.ConnectionClosedError(endpoint_url=url, error=exc, request=None) from None
        if close:
            conn.close()
        else:
            self._checkin(conn)
        return Reply(status, headers, body)


class Pools:
    """The connection pools of one `SessionFactory`, one per (scheme, host, port, TLS settings)."""

    def __init__(self) -> None:
        self._pools: dict[tuple[Any, ...], HTTPPool] = {}
        self._contexts: dict[Any, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def pool(self, url: str, *, verify: Any, connect_timeout: float | None, read_timeout: float | None,
             socket_options: list[tuple[int, int, int]], max_idle: int) -> HTTPPool:
        parts = urlsplit(url)
        scheme = parts.scheme
        port = parts.port or (443 if scheme == "https" else 80)
        host = parts.hostname or ""
        key = (scheme, host, port, verify if scheme == "https" else None, connect_timeout, read_timeout,
               tuple(socket_options), max_idle)
        with self._lock:
            found = self._pools.get(key)
            if found is None:
                context = self._context(verify) if scheme == "https" else None
                found = self._pools[key] = HTTPPool(scheme, host, port, connect_timeout=connect_timeout,
                                                    read_timeout=read_timeout, ssl_context=context,
                                                    socket_options=socket_options, max_idle=max_idle)
            return found

    def _context(self, verify: Any) -> ssl.SSLContext:
        """The TLS context botocore's urllib3 session would use for `verify` (True: botocore's
        default bundle; a path: that bundle, e.g. from AWS_CA_BUNDLE; False: no verification)."""
        found = self._contexts.get(verify)
        if found is None:
            found = create_urllib3_context()
            if verify:
                found.verify_mode = ssl.CERT_REQUIRED
                found.check_hostname = True
                bundle = get_cert_path(verify)
                if os.path.isdir(bundle):
                    found.load_verify_locations(capath=bundle)
                else:
                    found.load_verify_locations(cafile=bundle)
            else:
                found.check_hostname = False
                found.verify_mode = ssl.CERT_NONE
            self._contexts[verify] = found
        return found

    def close(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.close()

# --------------------------------------------------------------------------------------------
# Which handlers the direct path knows, and what it does with each

_CALL, _DONE, _EMITTED = "called", "done here", "emitted by botocore's own piece"
# event -> {module:qualname of the handler -> what the direct path does with it}. A handler
# not listed on one of these events means the request is not ours to make: botocore's path.
_KNOWN: dict[str, dict[str, str]] = {
    "provide-client-params": {},
    "before-parameter-build": {"botocore.handlers:generate_idempotent_uuid": _CALL,
                               "botocore.handlers:_handle_request_validation_mode_member": _CALL,
                               "botocore.handlers:ParameterAlias.alias_parameter_in_call": _CALL},
    "before-endpoint-resolution": {},   # emitted by the ruleset resolver itself, once per operation
    "before-call": {"auditor.collect.guard:_before_call": _CALL,
                    "botocore.handlers:add_recursion_detection_header": _CALL,
                    "botocore.handlers:inject_api_version_header_if_needed": _CALL},
    "request-created": {"botocore.handlers:add_retry_headers": _DONE,
                        "botocore.retries.standard:MaxAttemptsSeeder.seed_max_attempts": _DONE,
                        "botocore.signers:RequestSigner.handler": _DONE,
                        "botocore.useragent:UserAgentString.rebuild_and_replace_user_agent_handler": _DONE},
    "choose-signer": {"botocore.handlers:set_operation_specific_signer": _EMITTED,
                      "botocore.handlers:_set_auth_scheme_preference_signer": _EMITTED},
    "before-sign": {},
    "before-send": {},
    "response-received": {},
    "needs-retry": {"botocore.retries.standard:RetryHandler.needs_retry": _CALL,
                    "auditor.collect.calls:_on_needs_retry": _CALL},
    "before-parse": {"auditor.collect.replies:_before_parse": _CALL},
    "after-call": {"auditor.collect.sessions:_PerAccountQuota.release_retry_quota": _CALL,
                   "botocore.retries.standard:RetryQuotaChecker.release_retry_quota": _CALL},
    "after-call-error": {},
}
# Without these the direct path would skip a check botocore's path makes: required.
_REQUIRED = {"before-call": "auditor.collect.guard:_before_call",
             "needs-retry": "botocore.retries.standard:RetryHandler.needs_retry",
             "before-parse": "auditor.collect.replies:_before_parse"}


def handler_name(handler: Any) -> str:
    """``module:qualname`` of an event handler (a function, a bound method or a callable object)."""
    fn = getattr(handler, "__func__", handler)
    module = getattr(fn, "__module__", None) or type(handler).__module__
    name = getattr(fn, "__qualname__", None) or type(handler).__qualname__
    return f"{module}:{name}"


def _is_idle_moto(handler: Any) -> bool:
    """moto's in-process mock: registered on every session once moto is imported, active only
    inside ``mock_aws`` (its ``enabled`` flag)."""
    return type(handler).__module__.startswith("moto.") and hasattr(handler, "enabled")


class _Data:
    """What botocore's body preparer reads from a request (its ``data``)."""

    __slots__ = ("data",)

    def __init__(self, data: Any) -> None:
        self.data = data


_PREPARER = AWSRequestPreparer()


@dataclass
class _Op:
    """What one (client, operation) needs for each request, found once."""

    model: Any
    names: dict[str, str]   # event -> the full event name botocore would emit
    handlers: dict[str, tuple[Any, ...]]   # event -> the handlers called, in botocore's order
    context: dict[str, Any]   # botocore's request context after endpoint resolution
    endpoint_headers: dict[str, str]
    url: str
    target: str   # the request line's path (and query)
    host_header: str
    sign_host: str
    sign_path: str
    sign_query: str
    region: str   # signing region
    service: str   # signing name
    pool: HTTPPool


class DirectClient:
    """Makes a botocore client's ``ec2``/``query`` calls with the client's own pieces (module doc).

    `reason` is None when the client's calls go direct, else why they go through botocore.
    `method(operation)` gives the callable that makes one request of `operation` (keyword
    arguments: the API's parameters; returns the parsed reply or raises as botocore would), or
    None when that call must go through botocore. With ``mode="direct"`` a call that does not
    qualify raises `DirectTransportUnavailable` instead.
    """

    def __init__(self, client: Any, pools: Pools, mode: str = "auto") -> None:
        if mode not in ("auto", "direct"):
            raise ValueError(f"transport mode {mode!r}: expected 'auto' or 'direct'")
        self.client = client
        self.mode = mode
        self._pools = pools
        self._lock = threading.Lock()
        self._events: Any = client.meta.events._emitter   # botocore's HierarchicalEmitter
        self._token: Any = None
        self._ops: dict[str, _Op | str] = {}
        self._watch: tuple[Any, ...] = ()
        model = client.meta.service_model
        self._sid = model.service_id.hyphenize()
        self._protocol = getattr(model, "resolved_protocol", None) or model.protocol
        self._ua = ""
        self._max_attempts: Any = None
        self.reason: str | None = None
        self.calls = 0   # API calls made through the direct path (each with its retries)
        self._decide()

    # -- the decision ---------------------------------------------------------------------
    def _decide(self) -> None:
        """Decide (again) for the client; called when its handlers changed since the last time."""
        with self._lock:
            self._token = self._events._lookup_cache
            self._ops = {}
            self.reason = self._client_reason()
            region = self.client.meta.region_name
            emit(_log, "client.transport", "transport for %s in %s: %s", self._sid, region,
                 "direct" if self.reason is None else f"botocore ({self.reason})", service=self._sid, region=region,
                 transport="direct" if self.reason is None else "botocore", reason=self.reason)

    def _client_reason(self) -> str | None:
        client = self.client
        if self._protocol not in PROTOCOLS:
            return f"protocol {self._protocol} (the direct path makes ec2 and query calls)"
        endpoint = getattr(client, "_endpoint", None)
        session: Any = getattr(endpoint, "http_session", None)
        if type(session) is not URLLib3Session:
            return "the client's HTTP session is not botocore's own"
        if session._proxy_config.proxy_url_for(client.meta.endpoint_url):
            return "a proxy is configured for the endpoint"
        if session._cert_file:
            return "a client certificate is configured"
        signer = getattr(client, "_request_signer", None)
        if signer is None or getattr(client, "_serializer", None) is None:
            return "the client has no request signer or serializer"
        probe = self._handlers("\x00")   # handlers on the service's events, whatever the operation
        if isinstance(probe, str):
            return probe
        return None

    def _handlers(self, operation: str) -> dict[str, tuple[Any, ...]] | str:
        """The handlers botocore would call on each event of `operation`, or why not ours to make."""
        found: dict[str, tuple[Any, ...]] = {}
        watch: list[Any] = []
        for event, known in _KNOWN.items():
            kept: list[Any] = []
            for handler in self._events._handlers.prefix_search(f"{event}.{self._sid}.{operation}"):
                name = handler_name(handler)
                if event == "before-send" and _is_idle_moto(handler):
                    if handler.enabled:
                        return "moto's in-process mock (mock_aws) answers the calls"
                    watch.append(handler)
                    continue
                if name not in known:
                    return f"a handler on {event} that the direct path does not make: {name}"
                if known[name] == _CALL:
                    kept.append(handler)
                elif name == "botocore.retries.standard:MaxAttemptsSeeder.seed_max_attempts":
                    self._max_attempts = handler.__self__._max_attempts
                elif name == "botocore.signers:RequestSigner.handler" and handler.__self__ is not \
                        self.client._request_signer:
                    return "another signer signs the client's requests"
            found[event] = tuple(kept)
        for event, name in _REQUIRED.items():
            if not any(handler_name(h) == name for h in found[event]):
                return f"no {name} on {event}"
        self._watch = tuple(watch)
        return found

    def _op(self, operation: str) -> _Op | str:
        """Everything one operation's requests share (found once), or why it is not ours to make."""
        client = self.client
        model = client.meta.service_model.operation_model(operation)
        if (model.has_streaming_input or model.has_streaming_output or model.has_event_stream_output
                or model.http_checksum or model.request_compression or model.endpoint
                or model.is_endpoint_discovery_operation):
            return "the operation streams, checksums, compresses or has its own host"
        if model.context_parameters or model.static_context_parameters or model.operation_context_parameters:
            return "the operation's endpoint depends on its parameters"
        if model.http.get("method", "POST") != "POST" or model.http.get("requestUri", "/") != "/":
            return "not a POST to /"
        config = client.meta.config
        if model.auth and config.auth_scheme_preference:
            return "an auth scheme preference is configured"
        handlers = self._handlers(operation)
        if isinstance(handlers, str):
            return handlers
        context: dict[str, Any] = {
            "client_region": client.meta.region_name, "client_config": config,
            "has_streaming_input": model.has_streaming_input, "auth_type": model.resolved_auth_type,
            "unsigned_payload": model.unsigned_payload, "auth_options": client.meta.service_model.metadata.get("auth")}
        url, headers, properties = client._resolve_endpoint_ruleset(model, {}, context)
        if properties:
            context["endpoint_properties"] = properties
        signer = client._request_signer
        if signer._choose_signer(operation, "standard", context) != "v4":
            return "the operation is not signed with SigV4"
        signing = context.get("signing", {})
        if signing.get("request_credentials") or signing.get("identity_cache") is not None:
            return "the endpoint asks for other credentials"
        session = client._endpoint.http_session
        if session._proxy_config.proxy_url_for(url):
            return "a proxy is configured for the endpoint"
        timeout = session._timeout
        connect = getattr(timeout, "connect_timeout", timeout)
        read = getattr(timeout, "read_timeout", timeout)
        pool = self._pools.pool(url, verify=session._verify, connect_timeout=connect, read_timeout=read,
                                socket_options=list(session._socket_options),
                                max_idle=int(session._max_pool_connections))
        url = _urljoin(url, "/", None)   # the request URL, as botocore's prepare_request_dict makes it
        sign_host, sign_path, sign_query = canonical_target(url)
        parts = urlsplit(url)
        default = 443 if parts.scheme == "https" else 80
        host = parts.hostname or ""
        host_header = f"[{host}]" if ":" in host else host
        if parts.port and parts.port != default:
            host_header += f":{parts.port}"
        if not self._ua:
            self._ua = client._user_agent_creator.to_string()
        return _Op(model=model, names={e: f"{e}.{self._sid}.{operation}" for e in _KNOWN}, handlers=handlers,
                   context=context, endpoint_headers=dict(headers or {}), url=url,
                   target=parts.path + (f"?{parts.query}" if parts.query else ""), host_header=host_header, sign_host=sign_host, sign_path=sign_path, sign_query=sign_query,
                   region=signing.get("region") or signer._region_name,
                   service=signing.get("signing_name") or signer._signing_name, pool=pool)

    def method(self, operation: str) -> Callable[..., dict[str, Any]] | None:
        """The direct callable of `operation`, or None: botocore's path (see the class doc)."""
        if self._events._lookup_cache is not self._token:
            self._decide()   # a handler was registered or removed since: decide again
        reason = self.reason
        op = None
        if reason is None:
            if self._watch and any(h.enabled for h in self._watch):
                reason = "moto's in-process mock (mock_aws) answers the calls"
            else:
                op = self._ops.get(operation)
                if op is None:
                    with self._lock:
                        op = self._ops[operation] = self._op(operation)
                if isinstance(op, str):
                    reason = op
        if reason is not None or op is None or isinstance(op, str):
            if self.mode == "direct":
                raise DirectTransportUnavailable(
                    f"transport='direct' cannot make {self._sid}:{operation} as botocore would: {reason}")
            return None
        found: _Op = op

        def call(**params: Any) -> dict[str, Any]:
            return self.call(found, params)
        return call

    # -- one call ---------------------------------------------------------------------------
    def call(self, op: _Op, params: dict[str, Any]) -> dict[str, Any]:
        """One API request with botocore's retries: the parsed reply, or botocore's exception."""
        client, model, names, handlers = self.client, op.model, op.names, op.handlers
        with self._lock:
            self.calls += 1
        context = dict(op.context)
        for handler in handlers["before-parameter-build"]:
            handler(params=params, model=model, context=context, event_name=names["before-parameter-build"])
        request_dict = client._serializer.serialize_to_request(params, model)   # validates, as botocore
        request_dict["headers"].update(op.endpoint_headers)
        request_dict["url"] = op.url
        request_dict["context"] = context
        for handler in handlers["before-call"]:   # the read-only guard is one: nothing is sent before it
            if handler(model=model, params=request_dict, request_signer=client._request_signer, context=context,
                       event_name=names["before-call"]) is not None:
                raise DirectTransportUnavailable(f"{handler_name(handler)} answered the call itself")
        body = _PREPARER._prepare_body(_Data(request_dict["body"])) or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        retries = context["retries"] = {"attempt": 1, "invocation-id": str(uuid.uuid4())}
        if self._max_attempts is not None:
            retries["max"] = self._max_attempts
        attempts = 1
        while True:
            retries["attempt"] = attempts
            data = self._request(op, request_dict["headers"], body, retries)
            response: tuple[Reply, dict[str, Any]] | None = None
            caught: Exception | None = None
            try:
                reply = op.pool.send("POST", data, op.url)
            except Exception as exc:  # noqa: BLE001 - as botocore's endpoint: the retry handler decides
                caught = exc
            else:
                response = (reply, self._parse(op, reply))
            delay = None
            for handler in handlers["needs-retry"]:
                answer = handler(response=response, endpoint=None, operation=model, attempts=attempts,
                                 caught_exception=caught, request_dict=request_dict, event_name=names["needs-retry"])
                if delay is None:
                    delay = answer
            if delay is None or delay is False:
                break
            time.sleep(delay)
            attempts += 1
        if caught is not None or response is None:
            raise caught if caught is not None else RuntimeError("no reply")
        http, parsed = response
        if "ResponseMetadata" in parsed:
            parsed["ResponseMetadata"]["RetryAttempts"] = attempts - 1
        for handler in handlers["after-call"]:
            handler(http_response=http, parsed=parsed, model=model, context=context, event_name=names["after-call"])
        if http.status_code >= 300:
            code = context.get("error_code_override") or parsed.get("Error", {}).get("Code")
            raise client.exceptions.from_code(code)(parsed, model.name)
        return parsed

    def _request(self, op: _Op, headers: dict[str, str], body: bytes, retries: dict[str, Any]) -> bytes:
        """The whole request, signed now with the bound account's credentials (as botocore's signer)."""
        credentials = self.client._request_signer._credentials
        if credentials is None:
            raise bce.NoCredentialsError()
        frozen = credentials.get_frozen_credentials()   # a shared client: the bound account, or NoAccountBound
        signed = dict(headers)
        signed.update(sign_v4(method="POST", host=op.sign_host, path=op.sign_path, query=op.sign_query,
                              headers=signed, body=body, access_key=frozen.access_key, secret_key=frozen.secret_key,
                              token=frozen.token, region=op.region, service=op.service,
                              amz_date=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
        # Added after signing, as botocore does (its signer handles request-created.<service>
        # before the generic request-created handler adds them): not signed.
        signed["amz-sdk-invocation-id"] = retries["invocation-id"]
        signed["amz-sdk-request"] = "; ".join(f"{k}={retries[k]}" for k in ("attempt", "max") if k in retries)
        lines = [f"POST {op.target} HTTP/1.1\r\nHost: {op.host_header}\r\nAccept-Encoding: identity\r\nUser-Agent: {self._ua}"]
        lines.extend(f"{name}: {value}" for name, value in signed.items())
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        return "\r\n".join(lines).encode("utf-8") + body

    def _parse(self, op: _Op, reply: Reply) -> dict[str, Any]:
        """botocore's endpoint after a reply: the reply check, the client's parser, modeled error fields."""
        model = op.model
        response_dict = {"headers": reply.headers, "status_code": reply.status_code, "body": reply.content,
                         "context": {"operation_name": model.name}}
        customized: dict[str, Any] = {}
        for handler in op.handlers["before-parse"]:
            handler(operation_model=model, response_dict=response_dict, customized_response_dict=customized,
                    event_name=op.names["before-parse"])
        endpoint = self.client._endpoint
        parser = endpoint._response_parser_factory.create_parser(self._protocol)
        parsed: dict[str, Any] = parser.parse(response_dict, model.output_shape)
        parsed.update(customized)
        if reply.status_code >= 300:
            endpoint._add_modeled_error_fields(response_dict, parsed, model, parser)
        return parsed


def attach(client: Any, mode: str, pools: Pools) -> DirectClient | None:
    """Give a shared ``ec2``/``query`` client its direct path (``auto``: when it qualifies;
    ``direct``: or raise `DirectTransportUnavailable` saying why; ``botocore``: never). Clients
    of other protocols keep botocore's path in every mode. The `DirectClient` is kept on the
    client (`direct_of`)."""
    if mode not in MODES:
        raise ValueError(f"transport {mode!r}: expected one of {', '.join(MODES)}")
    if mode == "botocore":
        return None
    model = client.meta.service_model
    protocol = getattr(model, "resolved_protocol", None) or model.protocol
    if protocol not in PROTOCOLS:   # outside the transport's scope in every mode: botocore's path
        emit(_log, "client.transport", "transport for %s in %s: botocore (protocol %s)", model.service_name,
             client.meta.region_name, protocol, service=model.service_name, region=client.meta.region_name,
             transport="botocore", reason=f"protocol {protocol}")
        return None
    direct = DirectClient(client, pools, mode)
    if mode == "direct" and direct.reason is not None:
        raise DirectTransportUnavailable(f"transport='direct' cannot be used for {direct._sid} in "
                                         f"{client.meta.region_name}: {direct.reason}")
    client._auditor_direct = direct
    return direct


def direct_of(client: Any) -> DirectClient | None:
    """The client's `DirectClient` (None: the client always uses botocore's path)."""
    found: DirectClient | None = getattr(client, "_auditor_direct", None)
    return found
