"""The I/O seam: how the collector gets botocore sessions and clients.

`SessionFactory` is passed into the collector (never a module global), so tests and the
demo can point it at moto, add fault-injecting event hooks, or count calls, without
patching anything. The standard credential chain and environment (AWS_PROFILE,
AWS_ENDPOINT_URL, AWS_CA_BUNDLE, ...) apply because plain botocore sessions are used.
Every session it makes carries the read-only guard and the reply check (`replies`).

Shared clients (`SessionFactory.shared_client`): creating a botocore client costs milliseconds
of CPU (its service model, endpoint rules and event handlers), so the regional calls of every
account go through one client per (service, region). Such a client has no credentials of
its own: `AccountCredentials` resolves, each time a request is signed, to the credentials of
the account bound to the calling thread's context (`SessionFactory.bound`). A request made
with no account bound is refused before it is sent (`NoAccountBound`): it fails closed and
never falls back to another account's keys. Assumed-role credentials stay botocore's
`RefreshableCredentials` (refreshed before expiry, under their own lock), one object per
account, shared by all its regions.

Retries on shared clients: botocore's ``standard`` mode, with its retry quota kept per
account (`_PerAccountQuota`): botocore keeps one quota per client, so a client shared by
accounts would let throttling in one account deny retries in another. The ``adaptive`` mode's
client-side rate limiter is per client too, and would slow every account of a (service,
region) because one was throttled; it is not used on shared clients: pacing is done per
account, region and API by `auditor.collect.limits` instead. Clients made for one session
(`SessionFactory.client`: identity, AssumeRole, DescribeRegions, Organizations) keep the
``adaptive`` mode: they serve one account each.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import threading
import time
from contextlib import contextmanager
from typing import Any
from collections.abc import Callable, Iterator, Sequence

import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials
from botocore.exceptions import BotoCoreError, NoCredentialsError
from botocore.retries import quota as retry_quota
from botocore.retries import standard

from auditor import __version__
from auditor.collect import guard, parsers, replies, transport as direct

SessionHook = Callable[[botocore.session.Session], None]

# The account whose credentials sign the shared clients' requests in this context:
# (a key of the account, its credentials), or None. A ContextVar is per thread (each pool
# thread starts with None) and per task context.
_BOUND: contextvars.ContextVar[tuple[int, Any] | None] = contextvars.ContextVar("auditor_bound_account",
                                                                                 default=None)


class NoAccountBound(BotoCoreError):  # type: ignore[misc]
    """A shared client was asked to sign a request while no account is bound: refused."""

    fmt = ("no account is bound to this call: a shared client signs only with the calling task's "
           "account credentials and never with another's")


class AccountCredentials(Credentials):  # type: ignore[misc]
    """The credentials of the account bound to the calling context, resolved at each signing.

    Stands in for credentials on shared clients; holds no key itself. Fails closed: no
    account bound (or an account without credentials) raises instead of signing.
    """

    method = "auditor-bound-account"
    account_id = None   # botocore's account-based endpoints (DynamoDB only) are not used

    def __init__(self) -> None:  # noqa: D107 - no keys of its own
        pass

    @staticmethod
    def _current() -> Any:
        bound = _BOUND.get()
        if bound is None:
            raise NoAccountBound()
        if bound[1] is None:
            raise NoCredentialsError()
        return bound[1]

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        frozen: ReadOnlyCredentials = self._current().get_frozen_credentials()
        return frozen

    @property
    def access_key(self) -> str:
        return str(self.get_frozen_credentials().access_key)

    @property
    def secret_key(self) -> str:
        return str(self.get_frozen_credentials().secret_key)

    @property
    def token(self) -> str | None:
        token = self.get_frozen_credentials().token
        return None if token is None else str(token)


class _PerAccountQuota:
    """botocore's standard retry quota, one per bound account instead of one per client."""

    def __init__(self, detector: Any):
        self._detector = detector
        self._lock = threading.Lock()
        self._quotas: dict[int, standard.RetryQuotaChecker] = {}

    def _mine(self) -> standard.RetryQuotaChecker:
        bound = _BOUND.get()
        key = bound[0] if bound is not None else 0
        with self._lock:
            found = self._quotas.get(key)
            if found is None:
                found = self._quotas[key] = standard.RetryQuotaChecker(retry_quota.RetryQuota(), self._detector)
            return found

    def acquire_retry_quota(self, context: Any) -> bool:
        return bool(self._mine().acquire_retry_quota(context))

    def release_retry_quota(self, context: Any, http_response: Any, **kwargs: Any) -> None:
        self._mine().release_retry_quota(context, http_response, **kwargs)


def _retries_per_account(client: Any, max_attempts: int) -> None:
    """Replace botocore's standard retry handler of `client` by the same handler with a
    retry quota per account (same policy, backoff and attempts)."""
    name = client.meta.service_model.service_id.hyphenize()
    adapter = standard.RetryEventAdapter()
    detector = standard.ThrottlingErrorDetector(adapter)
    quota = _PerAccountQuota(detector)
    handler = standard.RetryHandler(
        retry_policy=standard.RetryPolicy(
            retry_checker=standard.StandardRetryConditions(max_attempts=max_attempts),
            retry_backoff=standard.ExponentialBackoff(service_name=name, throttling_detector=detector)),
        retry_event_adapter=adapter, retry_quota=quota, service_name=name)
    events = client.meta.events
    events.unregister(f"needs-retry.{name}", unique_id=f"retry-config-{name}")
    events.register(f"needs-retry.{name}", handler.needs_retry, unique_id=f"retry-config-{name}")
    # botocore's own after-call release goes to the client's quota, which nothing draws from now.
    events.register(f"after-call.{name}", quota.release_retry_quota, unique_id=f"auditor-retry-quota-{name}")


class SessionFactory:
    """Makes guarded botocore sessions and caches clients per (session, service, region)."""

    def __init__(self, *, max_attempts: int = 8, hooks: Sequence[SessionHook] = (),
                 max_pool_connections: int = 32, shared_pool_connections: int = 64, transport: str = "auto"):
        if transport not in direct.MODES:
            raise ValueError(f"transport {transport!r}: expected one of {', '.join(direct.MODES)}")
        self.max_attempts = max_attempts
        # How shared clients make their ec2/query calls: "auto" (the direct transport where a client
        # qualifies, botocore's path otherwise), "botocore", or "direct" (an error where it does not
        # qualify). See auditor/collect/transport.py.
        self.transport = transport
        self._pools = direct.Pools()
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
        self._shared_config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts},
                                     user_agent_extra=f"private-network-auditor/{__version__}",
                                     connect_timeout=10, read_timeout=60,
                                     max_pool_connections=shared_pool_connections)
        self._shared_session: botocore.session.Session | None = None
        self._shared: dict[tuple[str, str], Any] = {}
        self.clients_made = 0

    @classmethod
    def for_collection(cls, collection: Any, **kwargs: Any) -> SessionFactory:
        """A factory for a run with the config's `collection` settings: its retries, and as many
        kept connections per shared (service, region) client as calls can be in flight at once
        (``call_workers``), so that no request waits for a connection nor opens one per call."""
        return cls(max_attempts=collection.max_attempts, shared_pool_connections=collection.call_workers, **kwargs)

    def _prepare(self, session: botocore.session.Session) -> botocore.session.Session:
        with self._lock:
            return self._prepare_locked(session)

    def _prepare_locked(self, session: botocore.session.Session) -> botocore.session.Session:
        # Loading service models is the slow part of a new session; share one loader.
        if self._loader is None:
            self._loader = session.get_component("data_loader")
        else:
            session.register_component("data_loader", self._loader)
        guard.install(session)
        replies.install(session)
        parsers.install(session)   # query/ec2 replies read by compiled converters (equal to botocore's)
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
                self.clients_made += 1
            return found[1]

    def shared_client(self, service: str, region: str) -> Any:
        """The client of (`service`, `region`) shared by every account; it signs each request
        with the account bound by `bound` in the calling context, and refuses without one."""
        key = (service, region)
        found = self._shared.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._shared.get(key)
            if found is None:
                if self._shared_session is None:
                    shared = botocore.session.Session()
                    shared._credentials = AccountCredentials()  # noqa: SLF001 - no public setter
                    self._shared_session = shared
                    self._prepare_locked(shared)
                found = self._shared_session.create_client(service, region_name=region, config=self._shared_config)
                _retries_per_account(found, self.max_attempts)
                direct.attach(found, self.transport, self._pools)   # "direct" and not qualified: raises
                self._shared[key] = found
                self.clients_made += 1
            return found

    @contextmanager
    def bound(self, session: botocore.session.Session) -> Iterator[None]:
        """Shared clients sign with `session`'s credentials inside this block (this thread or
        task context only)."""
        token = _BOUND.set((id(session), session.get_credentials()))
        try:
            yield
        finally:
            _BOUND.reset(token)

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
