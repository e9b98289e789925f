"""An emulated AWS for organisation-scale benchmarks: generated estates over HTTP, with latency
and EC2's token buckets.

    python -m auditor.emulate.fleet_server --accounts 100 --regions 20 --latency-ms 100 --port 5055

One asyncio HTTP/1.1 server with keep-alive (no thread per request): the modelled latency is
an ``asyncio.sleep`` before each answer, so thousands of requests can wait at once. Answers
come from `auditor.emulate.fleet.Fleet` (generated per account-region on demand) written by
`auditor.emulate.wire.Wire` in each service's protocol. Point any SDK at it with
``AWS_ENDPOINT_URL`` (or endpoint_url) and dummy credentials:

* the account is the SigV4 access key's (the Authorization header): the base credentials
  are the organisation's management account, sts:AssumeRole returns keys that name the
  role's account; the region and service are the credential scope's. Signatures are not
  checked.
* EC2 is throttled per (account, region, API) with AWS's documented buckets
  (`auditor.emulate.fleet_throttle`): an empty bucket answers ``RequestLimitExceeded``
  (HTTP 503, EC2's error document). Other services are not throttled.
* Control endpoints (never reach the fleet): ``GET /_fleet/ping``; ``GET /_fleet/stats``
  (JSON: requests per service and operation, throttled per bucket, error replies by code,
  requests in flight and their peak); ``/_fleet/latency?ms=N``; with ``--manual-clock``,
  ``/_fleet/clock?advance=S`` moves the buckets' clock (tests then do not depend on speed).

`FleetServer.start_in_thread()` runs the same server on its own event loop in a thread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections import Counter
from typing import Any
from collections.abc import Mapping
from urllib.parse import parse_qsl

from auditor.emulate.fleet import Fleet, FleetError
from auditor.emulate.fleet_throttle import Buckets, Clock
from auditor.emulate.wire import Reply, RequestError, Wire, WireError

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            500: "Internal Server Error", 503: "Service Unavailable"}
_ACCOUNT_CALLS = frozenset({("sts", "GetCallerIdentity"), ("sts", "AssumeRole"), ("organizations", "ListAccounts"),
                            ("ec2", "DescribeRegions")})
_PAGE_LIMITS = ("MaxResults", "MaxRecords", "MaxItems", "PageSize", "maxResults")


class FleetServer:
    """The fleet over HTTP (see the module doc)."""

    def __init__(self, fleet: Fleet, *, latency_ms: float = 100.0, manual_clock: bool = False,
                 wire: Wire | None = None) -> None:
        self.fleet = fleet
        self.wire = wire or Wire()
        self.latency_s = latency_ms / 1000.0
        self.clock = Clock(manual=manual_clock)
        self.buckets = Buckets(self.clock)
        self.requests: Counter[str] = Counter()       # service:operation
        self.errors: Counter[str] = Counter()         # error code of the replies
        self.in_flight = self.in_flight_peak = 0
        self.port = 0
        self._counter = 0
        self._server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- HTTP -----------------------------------------------------------------------------
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> asyncio.base_events.Server:
        self._server = await asyncio.start_server(self._connection, host, port, backlog=4096, limit=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]
        return self._server

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line.strip():
                    break
                parts = line.decode("latin-1").split()
                if len(parts) != 3:
                    await self._send(writer, Reply(400, {"Content-Type": "text/plain"}, b"bad request line\n"), False)
                    break
                method, target, _ = parts
                headers: dict[str, str] = {}
                while True:
                    raw = await reader.readline()
                    if raw in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    body = await _chunked(reader)
                else:
                    body = await reader.readexactly(int(headers.get("content-length") or 0))
                reply = await self.handle(method, target, headers, body)
                keep = headers.get("connection", "").lower() != "close"
                await self._send(writer, reply, keep)
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:
            # The server is stopping (start_in_thread's stop cancels idle keep-alive
            # connections): end quietly rather than leave a cancelled task behind.
            pass
        finally:
            writer.close()

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, reply: Reply, keep: bool) -> None:
        head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}"]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        head += [f"Content-Length: {len(reply.body)}", f"Connection: {'keep-alive' if keep else 'close'}", "", ""]
        writer.write("\r\n".join(head).encode("latin-1") + reply.body)
        await writer.drain()

    # -- requests -------------------------------------------------------------------------
    async def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """One request's reply; never raises (a fault of ours is an HTTP 500 InternalError)."""
        if target.startswith("/_fleet/"):
            return self._control(target)
        self.in_flight += 1
        self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
        try:
            if self.latency_s > 0:
                await asyncio.sleep(self.latency_s)
            reply = self._answer(method, target, headers, body)
        finally:
            self.in_flight -= 1
        if reply.status >= 300:
            self.errors[_code_of(reply)] += 1
        return reply

    def _answer(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        self._counter += 1
        rid = f"fleet-{self._counter:010d}"
        try:
            req = self.wire.decode(method, target, headers, body)
        except RequestError as exc:
            status = 403 if exc.code == "MissingAuthenticationToken" else 400
            service = _service_hint(headers, self.wire)
            return self.wire.error(service, exc.code, exc.message, status, rid)
        self.requests[f"{req.service}:{req.operation}"] += 1
        account = self.fleet.account_of(req.access_key)
        try:
            if req.service == "ec2":
                paginated = any(k in req.params for k in _PAGE_LIMITS)
                if not self.buckets.take(account, req.region, req.operation, filtered=req.filtered,
                                         paginated=paginated):
                    return self.wire.error("ec2", "RequestLimitExceeded", "Request limit exceeded.", 503, rid)
            if (req.service, req.operation) in _ACCOUNT_CALLS:
                data = self.fleet.account_call(account, req.service, req.operation, req.params)
            else:
                op = self.wire.models[req.service].operation_model(req.operation)
                members = {k: v.type_name for k, v in op.output_shape.members.items()} if op.output_shape else {}
                data = self.fleet.answer(account, req.region, req.service, req.operation, req.params, members,
                                         self.wire.paginators[req.service].get(req.operation))
            return self.wire.reply(req.service, req.operation, data, rid)
        except FleetError as exc:
            return self.wire.error(req.service, exc.code, exc.message, exc.status, rid)
        except (WireError, KeyError, ValueError, TypeError) as exc:   # our fault: said, never a crash
            return self.wire.error(req.service, "InternalError", f"fleet server fault: {type(exc).__name__}: {exc}",
                                   500, rid)

    def _control(self, target: str) -> Reply:
        path, _, query = target.partition("?")
        args = dict(parse_qsl(query))
        try:
            if path == "/_fleet/ping":
                return _json({"ok": True, "accounts": len(self.fleet.accounts), "regions": len(self.fleet.regions)})
            if path == "/_fleet/stats":
                return _json(self.stats())
            if path == "/_fleet/latency":
                if "ms" in args:
                    self.latency_s = float(args["ms"]) / 1000.0
                return _json({"latency_ms": self.latency_s * 1000.0})
            if path == "/_fleet/clock":
                return _json({"now": self.clock.advance(float(args.get("advance", "0")))})
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        return _json({"error": f"no control endpoint {path}"}, 404)

    def stats(self) -> dict[str, Any]:
        by_service: Counter[str] = Counter()
        for key, n in self.requests.items():
            by_service[key.split(":")[0]] += n
        return {"requests": sum(self.requests.values()), "by_service": dict(by_service),
                "by_operation": dict(self.requests), "throttled": sum(self.buckets.throttled.values()),
                "throttled_by_bucket": dict(self.buckets.throttled), "errors": dict(self.errors),
                "in_flight": self.in_flight, "in_flight_peak": self.in_flight_peak,
                "latency_ms": self.latency_s * 1000.0, "account_regions_generated": self.fleet.generated}

    # -- in a thread (tests) --------------------------------------------------------------
    def start_in_thread(self, host: str = "127.0.0.1") -> str:
        """Serve on a free port from a thread with its own event loop; the endpoint URL."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            loop.run_until_complete(self.serve(host, 0))
            ready.set()
            loop.run_forever()
            assert self._server is not None
            self._server.close()
            # Keep-alive connections wait for their next request: cancel them, then close.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="fleet-server", daemon=True)
        self._thread.start()
        ready.wait(30)
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()
            return bytes(out)
        out += await reader.readexactly(size)
        await reader.readline()


def _json(data: Any, status: int = 200) -> Reply:
    return Reply(status, {"Content-Type": "application/json"}, json.dumps(data, sort_keys=True).encode())


def _code_of(reply: Reply) -> str:
    if "x-amzn-ErrorType" in reply.headers:
        return reply.headers["x-amzn-ErrorType"]
    text = reply.body.decode("utf-8", "replace")
    if text.startswith("{"):
        return str(json.loads(text).get("__type", reply.status))
    start = text.find("<Code>")
    return text[start + 6:text.find("</Code>")] if start >= 0 else str(reply.status)


def _service_hint(headers: Mapping[str, str], wire: Wire) -> str:
    """The service to shape an error for when the request itself could not be read."""
    auth = headers.get("authorization", "")
    for signing, names in wire.by_signing.items():
        if f"/{signing}/aws4_request" in auth:
            return names[0]
    return "sts"   # no credential scope: a query-protocol <ErrorResponse>


def main(argv: list[str] | None = None) -> int:
    from auditor.console import echo

    p = argparse.ArgumentParser(prog="python -m auditor.emulate.fleet_server", description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=3, help="accounts in the organisation (default 3)")
    p.add_argument("--regions", type=int, default=2, help="regions per account (default 2)")
    p.add_argument("--latency-ms", type=float, default=100.0, help="modelled latency of every AWS request (100)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one, printed)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--seed", type=int, default=0, help="estate seed (default 0)")
    p.add_argument("--manual-clock", action="store_true", help="the buckets' clock moves only by /_fleet/clock")
    p.add_argument("--cache", type=int, default=256, help="account-regions kept generated (LRU, default 256)")
    args = p.parse_args(argv)
    try:
        fleet = Fleet(args.accounts, args.regions, args.seed, cache=args.cache)
    except ValueError as exc:
        p.error(str(exc))
    server = FleetServer(fleet, latency_ms=args.latency_ms, manual_clock=args.manual_clock)

    async def run() -> None:
        srv = await server.serve(args.host, args.port)
        echo(f"fleet server on http://{args.host}:{server.port}: {len(fleet.accounts)} accounts x "
             f"{len(fleet.regions)} regions, seed {args.seed}, latency {args.latency_ms:g} ms")
        async with srv:
            await srv.serve_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
