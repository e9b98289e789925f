"""Make one AWS call completely (every page) and turn its outcome into a CallRecord.

Nothing raised by botocore or the endpoint escapes from `run_call`: AWS errors, network
failures, unimplemented operations and our own bugs all become a recorded `CallError`,
and any pages received before a failure are kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import weakref
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from typing import Any
from collections.abc import Iterator, Mapping

from botocore import xform_name
from botocore.exceptions import (BotoCoreError, ClientError, ConnectionError as BotoConnectionError,
                                 EndpointConnectionError, PaginationError)
from botocore.paginate import Paginator
from botocore.parsers import ResponseParserError

from auditor.collect import transport
from auditor.collect.catalog import secret_fields
from auditor.collect.redact import Redactor
from auditor.errors import ReadOnlyViolation
from auditor.events import emit, logger
from auditor.snapshot.records import CallError, CallRecord, jsonable

_log = logger("collect.calls")

# Error codes that mean "this whole region (or these credentials) will not talk to us".
REGION_REFUSED = frozenset({"AuthFailure", "OptInRequired", "UnrecognizedClientException",
                            "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
                            "RegionDisabledException"})
UNSUPPORTED = frozenset({"InvalidAction", "UnknownOperationException", "NotImplemented",
                         "UnsupportedOperation", "InvalidRequest.NotImplemented"})
# botocore's own list of error codes that mean "throttled" (botocore.retries.standard,
# ThrottledRetryableChecker); a reply with one of these, or HTTP 429, is a throttle.
THROTTLED = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
                       "TooManyRequestsException", "ProvisionedThroughputExceededException",
                       "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
                       "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
                       "EC2ThrottledException"})
_TOKENS = (("NextToken", "NextToken"), ("nextToken", "nextToken"), ("Marker", "NextMarker"),
           ("Marker", "Marker"))


def _token_pair(client: Any, operation: str) -> tuple[str, str] | None:
    """(input, output) names of the operation's continuation token, if it has one."""
    model = client.meta.service_model
    return _token_pair_of(model.service_name, model.api_version, operation, model)


@lru_cache(maxsize=512)
def _token_pair_of(service: str, api_version: str, operation: str, model: Any) -> tuple[str, str] | None:
    # Read from the model once per (service, API version, operation), not per call.
    op_model = model.operation_model(operation)
    inputs = set(op_model.input_shape.members) if op_model.input_shape else set()
    outputs = set(op_model.output_shape.members) if op_model.output_shape else set()
    return next(((i, o) for i, o in _TOKENS if i in inputs and o in outputs), None)


def _follow(method: Any, params: Mapping[str, Any], pair: tuple[str, str] | None) -> Iterator[dict[str, Any]]:
    """No botocore paginator: follow the operation's own continuation token, if it has one."""
    args = dict(params)
    while True:
        page = method(**args)
        yield page
        token = page.get(pair[1]) if pair else None
        if not token:
            return
        args[pair[0]] = token  # type: ignore[index]


@lru_cache(maxsize=512)
def _method_name(operation: str) -> str:
    return str(xform_name(operation))


def _pages(client: Any, operation: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    name = _method_name(operation)
    pair = _token_pair(client, operation)
    # The direct transport of a shared client, when this call qualifies (transport.py); else botocore's.
    found = transport.direct_of(client)
    method = found.method(operation) if found is not None else None
    if method is not None:
        if client.can_paginate(name):   # botocore's paginator, over the direct request
            pages: Iterator[dict[str, Any]] = iter(Paginator(method, _page_config(client, operation),
                                                             client.meta.service_model.operation_model(operation))
                                                   .paginate(**params))
        else:
            pages = _follow(method, params, pair)
    elif client.can_paginate(name):
        pages = iter(client.get_paginator(name).paginate(**params))
    else:
        pages = _follow(getattr(client, name), params, pair)
    # botocore's paginator only notices a token repeated by the very next page; a token that
    # comes back later (a cycle) would page forever. Check every token, on both paths.
    seen: set[str] = set()
    for page in pages:
        yield page
        token = page.get(pair[1]) if pair else None
        if not token:
            continue
        key = repr(token)
        if key in seen:
            raise PaginationError(message=f"{operation} returned the same continuation token twice")
        seen.add(key)


def _page_config(client: Any, operation: str) -> dict[str, Any]:
    """The operation's pagination config, as botocore's `get_paginator` reads it (loaded by `can_paginate`)."""
    config: dict[str, Any] = client._cache["page_config"][operation]
    return config


def _strip(page: Mapping[str, Any]) -> dict[str, Any]:
    stripped: dict[str, Any] = jsonable({k: v for k, v in page.items() if k != "ResponseMetadata"})
    return stripped


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def classify(exc: BaseException) -> CallError:
    """Turn whatever a call raised into a recorded error (never re-raised)."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        kind = "unsupported" if code in UNSUPPORTED else "aws"
        return CallError(kind, code, str(err.get("Message") or exc), status)
    if isinstance(exc, (EndpointConnectionError, BotoConnectionError)):
        return CallError("network", type(exc).__name__, str(exc))
    if isinstance(exc, ResponseParserError):
        # An endpoint that answers with something that is not the API's format; moto does
        # this (HTTP 500, HTML) for operations it does not implement.
        return CallError("unsupported", "UnparseableResponse", str(exc).splitlines()[0][:300])
    if isinstance(exc, NotImplementedError):
        return CallError("unsupported", "NotImplemented", str(exc)[:300])
    if isinstance(exc, ReadOnlyViolation):
        return CallError("internal", "ReadOnlyViolation", str(exc))
    if isinstance(exc, BotoCoreError):
        return CallError("aws", type(exc).__name__, str(exc)[:300])
    return CallError("internal", type(exc).__name__, str(exc)[:300])


class _Throttles(threading.local):
    """Throttled replies seen by the calling thread's current call (botocore runs a call's
    retries, and so its ``needs-retry`` event, in the thread that makes the call)."""

    count = 0


_throttles = _Throttles()


def _on_needs_retry(response: Any = None, **_: Any) -> None:
    """botocore's ``needs-retry`` event, emitted after every reply (the last one too, before
    botocore decides whether to retry): count the throttled ones. Returns None, so botocore's
    own retry handler alone decides whether and when to retry."""
    if not response:
        return
    http, parsed = response
    code = (parsed or {}).get("Error", {}).get("Code") if isinstance(parsed, dict) else None
    if code in THROTTLED or getattr(http, "status_code", None) == 429:
        _throttles.count += 1


_watched: weakref.WeakSet[Any] = weakref.WeakSet()   # the clients watched already
_watched_lock = threading.Lock()


def watch_throttling(client: Any) -> None:
    """Count the throttled replies of `client`'s calls (registered once per client)."""
    if client in _watched:
        return
    with _watched_lock:
        if client not in _watched:
            client.meta.events.register("needs-retry", _on_needs_retry, unique_id="auditor-throttle-watch")
            _watched.add(client)


class SecretsUnprotected(Exception):
    """A call with declared secret fields was made without a Redactor: its pages are dropped."""


def run_call(client: Any, account: str, region: str, service: str, operation: str,
             params: Mapping[str, Any], limit: AbstractContextManager[Any] | None = None, *,
             redactor: Redactor | None = None) -> CallRecord:
    """Call `operation` with every page; holds `limit` per request (a cap, or a `limits.Gate`:
    the account-region's token bucket and cap; a Gate hears of throttled replies).

    Every page passes through `redactor` (the catalogue's secret fields replaced by markers)
    before it is kept. A call that has secret fields and no redactor keeps no page: it is
    recorded as an ``internal`` error (fails closed, never writes a secret).
    """
    started, t0 = now_iso(), time.monotonic()
    watch_throttling(client)
    _throttles.count = 0
    secrets_here = bool(_secret_fields(service, operation))
    pages: list[dict[str, Any]] = []
    retries = 0
    error: CallError | None = None
    try:
        iterator = _pages(client, operation, params)
        while True:
            seen = _throttles.count
            with limit if limit is not None else nullcontext():
                page = next(iterator, None)
            if _throttles.count != seen:
                _tell_throttled(limit)   # someone else spends this bucket too: wait for its refill
            if page is None:
                break
            retries += int(page.get("ResponseMetadata", {}).get("RetryAttempts", 0))
            if redactor is not None:
                pages.append(redactor.page(service, operation, _strip(page)))
            elif secrets_here:
                raise SecretsUnprotected(f"{service}:{operation} returns secret fields and no redactor was given; "
                                         "nothing of its answer is kept")
            else:
                pages.append(_strip(page))
        if any(p.get("AdditionalRoutesAvailable") for p in pages):
            error = CallError("truncated", "AdditionalRoutesAvailable",
                              "AWS returned the first routes only and says more exist; the API cannot return "
                              "the rest, so this route table is assessed as incomplete")
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, none is raised
        error = classify(exc)
        if _throttles.count:
            _tell_throttled(limit)
        if isinstance(exc, ClientError):
            retries += int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
    record = CallRecord(account=account, region=region, service=service, operation=operation,
                        params=jsonable(dict(params)), pages=tuple(pages), error=error, started=started,
                        duration_ms=int((time.monotonic() - t0) * 1000), retries=retries)
    _log_outcome(record, _throttles.count)
    return record


def _tell_throttled(limit: Any) -> None:
    """A limit that paces requests (a `limits.Gate`) hears that AWS throttled one anyway."""
    told = getattr(limit, "throttled", None)
    if told is not None:
        told()


@lru_cache(maxsize=512)
def _secret_fields(service: str, operation: str) -> tuple[str, ...]:
    return secret_fields(service, operation)


def _log_outcome(rec: CallRecord, throttled: int) -> None:
    """The call's events: ``call.throttled`` when AWS throttled it (retried and succeeded, or
    failed on throttling in the end), ``call.failed`` when it failed."""
    err = rec.error
    failed_throttled = err is not None and (err.code in THROTTLED or err.http_status == 429)
    where: dict[str, Any] = {"account": rec.account, "region": rec.region, "service": rec.service,
                             "operation": rec.operation}
    if throttled or failed_throttled:
        outcome = "failed" if err is not None else "retried"
        emit(_log, "call.throttled", "%s:%s in %s/%s throttled %d time(s), %s", rec.service, rec.operation,
             rec.account, rec.region, max(throttled, 1), outcome,
             level=logging.WARNING if err is not None else logging.INFO, **where,
             throttled=max(throttled, 1), retries=rec.retries, outcome=outcome,
             error_code=err.code if err is not None else None, duration_ms=rec.duration_ms)
    if err is not None:
        emit(_log, "call.failed", "%s:%s in %s/%s failed: %s: %s", rec.service, rec.operation, rec.account,
             rec.region, err.code, err.message, **where, error_kind=err.kind, error_code=err.code,
             error_message=err.message, http_status=err.http_status, retries=rec.retries,
             duration_ms=rec.duration_ms)


def not_attempted(account: str, region: str, service: str, operation: str, why: str,
                  params: Mapping[str, Any] | None = None) -> CallRecord:
    """A record for a call we deliberately did not make, saying why (nothing is dropped)."""
    return CallRecord(account=account, region=region, service=service, operation=operation,
                      params=dict(params or {}), error=CallError("not_attempted", "NotAttempted", why),
                      started=now_iso())
