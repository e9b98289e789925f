"""The I/O seam: how the collector gets botocore sessions and clients.

`SessionFactory` is passed into the collector (never a module global), so tests and the
demo can point it at moto, add fault-injecting event hooks, or count calls, without
patching anything. The standard credential chain and environment (AWS_PROFILE,
AWS_ENDPOINT_URL, AWS_CA_BUNDLE, ...) apply because plain botocore sessions are used.
Every session it makes carries the read-only guard and the reply check (`replies`).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any
from collections.abc import Callable, Sequence

import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials

from auditor import __version__
from auditor.collect import guard, replies

SessionHook = Callable[[botocore.session.Session], None]


class SessionFactory:
    """Makes guarded botocore sessions and caches clients per (session, service, region)."""

    def __init__(self, *, max_attempts: int = 8, hooks: Sequence[SessionHook] = (),
                 max_pool_connections: int = 32):
        self.max_attempts = max_attempts
        self.hooks = tuple(hooks)
        self._lock = threading.Lock()
        # Keyed by id(session); the session is kept in the value so that its id cannot be
        # reused by a later session while the entry exists (which would hand out a client
        # with the wrong credentials).
        self._clients: dict[tuple[int, str, str], tuple[botocore.session.Session, Any]] = {}
        self._loader: Any = None
        # total_max_attempts counts the first request too (AWS_MAX_ATTEMPTS semantics); botocore's
        # "max_attempts" key would count retries only, one more request than asked for.
        self._config = Config(retries={"mode": "adaptive", "total_max_attempts": max_attempts},
                              user_agent_extra=f"private-network-auditor/{__version__}",
                              connect_timeout=10, read_timeout=60,
                              max_pool_connections=max_pool_connections)

    def _prepare(self, session: botocore.session.Session) -> botocore.session.Session:
        # Loading service models is the slow part of a new session; share one loader.
        with self._lock:
            if self._loader is None:
                self._loader = session.get_component("data_loader")
            else:
                session.register_component("data_loader", self._loader)
        guard.install(session)
        replies.install(session)
        for hook in self.hooks:
            hook(session)
        return session

    def base(self, profile: str | None = None) -> botocore.session.Session:
        """A session from the standard credential chain (optionally a named profile)."""
        return self._prepare(botocore.session.Session(profile=profile))

    def client(self, session: botocore.session.Session, service: str, region: str) -> Any:
        """A cached client; client creation is serialised (it is not thread-safe), calls are not."""
        key = (id(session), service, region)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                found = (session, session.create_client(service, region_name=region, config=self._config))
                self._clients[key] = found
            return found[1]

    def release(self, session: botocore.session.Session, region: str) -> None:
        """Forget the clients of `session` in `region` (a finished task's), freeing their memory."""
        with self._lock:
            for key in [k for k in self._clients if k[0] == id(session) and k[2] == region]:
                del self._clients[key]

    def assume_role(self, source: botocore.session.Session, region: str, role_arn: str,
                    session_name: str, external_id: str | None = None,
                    duration: int | None = None) -> botocore.session.Session:
        """A session whose credentials come from sts:AssumeRole and refresh before expiry.

        `duration` is the sessions' DurationSeconds (900-43200; None: AWS's default, one hour);
        each refresh asks for the same. Raises botocore's ClientError when the role cannot be
        assumed (also when `duration` exceeds the role's maximum); the caller records it.
        """
        sts = self.client(source, "sts", region)
        args: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name[:64]}
        if external_id:
            args["ExternalId"] = external_id
        if duration is not None:
            args["DurationSeconds"] = duration

        def fetch() -> dict[str, Any]:
            creds = sts.assume_role(**args)["Credentials"]
            expiry = creds["Expiration"]
            if isinstance(expiry, dt.datetime):
                expiry = expiry.astimezone(dt.UTC).isoformat()
            return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                    "token": creds["SessionToken"], "expiry_time": expiry}

        credentials = RefreshableCredentials.create_from_metadata(
            metadata=fetch(), refresh_using=fetch, method="assume-role")
        session = botocore.session.Session()
        # botocore has no public setter for refreshable credentials on a session.
        session._credentials = credentials  # noqa: SLF001
        return self._prepare(session)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def monotonic_ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)
