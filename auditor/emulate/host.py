"""`EmulatedAws`: a moto-backed stand-in for AWS, entered as a context manager.

Two modes, same behaviour for callers:

* ``inprocess`` - ``moto.mock_aws()`` intercepts every botocore call in this process.
* ``server`` - a ``moto.server.ThreadedMotoServer`` on 127.0.0.1 (a free port), reached
  over real HTTP through ``AWS_ENDPOINT_URL``. This exercises the collector's HTTP path
  (retries, connection pools, threads) the way real AWS would.

While active, the environment holds dummy credentials and a default region, has no
``AWS_PROFILE`` and reads no AWS config files, so no real credentials or endpoints can be
picked up by accident; on exit every variable is put back as it was and all moto state
is discarded. moto is imported only
when an emulator is entered, because it is an optional dependency (the ``demo`` extra),
and botocore only when a session factory is asked for: importing this module is free.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from auditor.collect.sessions import SessionFactory

Mode = Literal["inprocess", "server"]

# Credentials moto accepts and real AWS rejects; they map to moto's default account.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DEFAULT_REGION = "us-east-1"
AUDIT_ROLE_NAME = "AuditorReadOnly"
LOOPBACK = "127.0.0.1"
# Set while an emulator is active, so a second one (or a stray nested one) is refused.
_ACTIVE_MARKER = "AUDITOR_EMULATOR_ACTIVE"

# Variables that could send a client elsewhere or pick real credentials; all are removed
# while the emulator is active (AWS_ENDPOINT_URL is then set again in server mode).
_REMOVED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
            "AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_REGION",
            "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN")
# Set while active: the user's AWS config files can name endpoints (a profile's
# endpoint_url, a services section) that would bypass moto, so none are read.
_ISOLATION = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
              "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": DEFAULT_REGION}


# The demo's moto seed: every run of `auditor demo` builds the estate with the same ids.
DEMO_SEED = 2026

class EmulatedAws:
    """A moto emulator of AWS for the demo and tests; use it as a context manager.

    ``with EmulatedAws(mode="server") as aws:`` starts moto, installs the emulator's moto
    extensions (`moto_ext.install`) and points this process's AWS environment at it.
    `endpoint_url` is the server URL (None in-process). With `seed`, moto's identifiers are
    repeatable: the same estate seeded the same way in a fresh process gets the same ids (the
    demo uses DEMO_SEED). In a process that used moto before, some draws differ (seen: load
    balancer ARNs), so tests that need the ids read them from a fresh process. Entering twice,
    or nesting two emulators, is refused: both would fight over the same process-wide
    environment.
    """

    def __init__(self, mode: Mode = "inprocess", *, seed: int | None = None) -> None:
        if mode not in ("inprocess", "server"):
            raise ValueError(f"mode must be 'inprocess' or 'server', not {mode!r}")
        self.mode: Mode = mode
        self.seed = seed
        self._active = False
        self._endpoint: str | None = None
        self._mock: Any = None
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._saved_log_level: int | None = None

    # -- public surface ------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """True between a successful ``__enter__`` and ``__exit__``."""
        return self._active

    @property
    def endpoint_url(self) -> str | None:
        """``http://127.0.0.1:<port>`` in server mode while active; None in-process."""
        return self._endpoint

    def session_factory(self, **kwargs: Any) -> SessionFactory:
        """The collector's `SessionFactory(**kwargs)`; the environment points it here."""
        from auditor.collect.sessions import SessionFactory  # botocore: only when used

        self._require_active()
        return SessionFactory(**kwargs)

    @staticmethod
    def role_arn(account_id: str) -> str:
        """The role the audit config names for `account_id` (moto lets any role be assumed)."""
        return f"arn:aws:iam::{account_id}:role/{AUDIT_ROLE_NAME}"

    def _require_active(self) -> None:
        if not self._active:
            raise RuntimeError("the emulator is not running: use it inside `with EmulatedAws(...)`")

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> EmulatedAws:
        if self._active:
            raise RuntimeError("this EmulatedAws is already active")
        if os.environ.get(_ACTIVE_MARKER):
            raise RuntimeError("another EmulatedAws is already active in this process")
        from auditor.emulate.moto_ext import install, uninstall  # imports moto: only when actually emulating

        install()
        self._swap_environment()
        try:
            if self.mode == "inprocess":
                from moto import mock_aws

                self._mock = mock_aws()
                self._mock.start()  # resets all moto state on start
            else:
                self._start_server()
            if self.seed is not None:
                # moto draws every identifier (vpc-..., subnet-...) from one random source; seeded,
                # the same estate built in the same order in a fresh process gets the same ids
                # (the server runs in this process, so this holds in both modes).
                from moto.moto_api._internal import mock_random

                mock_random.seed(self.seed)
        except BaseException:
            if self._server is not None:  # started, but the reset after it failed
                self._server.stop()
                self._server, self._endpoint = None, None
            uninstall()
            self._restore_environment()
            raise
        self._active = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._mock is not None:
                self._mock.stop()  # mock_aws discards all backends when it stops
            if self._server is not None:
                try:
                    self._reset_server()
                finally:
                    self._server.stop()
        finally:
            from auditor.emulate.moto_ext import uninstall

            uninstall()  # plain moto users after us get plain moto
            self._mock = self._server = None
            self._endpoint = None
            self._active = False
            self._restore_environment()

    # -- helpers -------------------------------------------------------------------------
    def _swap_environment(self) -> None:
        keys = set(_REMOVED) | set(DUMMY_CREDENTIALS) | set(_ISOLATION) | {_ACTIVE_MARKER, "NO_PROXY", "no_proxy"}
        # Service-specific endpoint overrides (AWS_ENDPOINT_URL_EC2 ...) would bypass moto.
        keys |= {k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")}
        self._saved_env = {k: os.environ.get(k) for k in keys}
        for key in keys:
            os.environ.pop(key, None)
        os.environ.update(DUMMY_CREDENTIALS)
        os.environ.update(_ISOLATION)
        os.environ[_ACTIVE_MARKER] = self.mode
        # A configured HTTP proxy must not carry calls meant for the loopback server.
        for key in ("NO_PROXY", "no_proxy"):
            kept = self._saved_env.get(key)
            os.environ[key] = ",".join(filter(None, [kept, LOOPBACK, "localhost"]))

    def _restore_environment(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        if self._saved_log_level is not None:
            logging.getLogger("werkzeug").setLevel(self._saved_log_level)
            self._saved_log_level = None

    def _start_server(self) -> None:
        from moto.server import ThreadedMotoServer

        # werkzeug logs one line per request; a collection makes hundreds.
        werkzeug_log = logging.getLogger("werkzeug")
        self._saved_log_level = werkzeug_log.level
        werkzeug_log.setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self._endpoint = f"http://{host}:{port}"
        os.environ["AWS_ENDPOINT_URL"] = self._endpoint
        # The server shares moto's in-process backends: start from an empty estate.
        self._reset_server()

    def _reset_server(self) -> None:
        assert self._endpoint is not None
        request = urllib.request.Request(f"{self._endpoint}/moto-api/reset", data=b"", method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        with opener.open(request, timeout=30) as response:
            response.read()

