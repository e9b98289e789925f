"""A moto server with a fixed, adjustable delay before every request (for collect_bench.py).

Real AWS answers a Describe call in tens of milliseconds; moto on loopback answers in a
few milliseconds of pure CPU. To model the real round trip, this wraps moto's own WSGI
application (the one ``python -m moto.server`` serves) in a middleware that sleeps
``latency_ms`` before handing each request to moto. The sleep releases the GIL, so with
werkzeug's threaded server many delayed requests overlap, as they would against AWS.

The delay can be changed while the server runs (the benchmark seeds at 0 ms, then
measures at each latency) with ``POST /_bench/latency?ms=N``; ``GET /_bench/ping``
answers once the server is up. Both paths are answered by the middleware and never
reach moto. Run: ``python benchmarks/_latency_moto_server.py --port 5000 --latency-ms 50``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs


class LatencyMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]], latency_ms: float):
        self.app = app
        self.latency_s = latency_ms / 1000.0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_bench/"):
            if path == "/_bench/latency":
                query = parse_qs(environ.get("QUERY_STRING", ""))
                self.latency_s = float(query.get("ms", ["0"])[0]) / 1000.0
            body = f"latency_ms={self.latency_s * 1000:g}\n".encode()
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        if self.latency_s > 0:
            time.sleep(self.latency_s)
        return self.app(environ, start_response)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--log-requests", action="store_true",
                        help="log every request as `python -m moto.server` does (costs server CPU)")
    args = parser.parse_args(argv)
    if not args.log_requests:
        import logging
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ.setdefault("MOTO_PORT", str(args.port))

    # The same application and request handler `python -m moto.server` uses (moto 5.2).
    from moto.moto_server.werkzeug_app import (DomainDispatcherApplication, MotoRequestHandler,
                                               create_backend_app)
    from werkzeug.serving import run_simple

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, LatencyMiddleware(app, args.latency_ms), threaded=True,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
