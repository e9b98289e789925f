"""The distributed engine: collection and evaluation as Dask tasks (docs/distributed.md).

Dask distributed is the optional extra ``distributed``. Nothing here imports it at import
time: `require_distributed` does, when ``--engine dask`` is asked for, and says which extra
to install when it is missing. The pieces:

- `EngineSpec`: what the command line or the library asked for (``local``, or ``dask`` with
  a scheduler address or a number of local worker processes);
- `auditor.distributed.cluster.open_engine`: the Dask client (a scheduler, or a
  `LocalCluster`) as a context manager, with the collector's region engine and the
  evaluation's component runner;
- `auditor.distributed.collect`: the collector's region tasks on the workers (the records
  come back to the driver, which alone writes the snapshot);
- `auditor.distributed.worker`: what runs on a worker (its own sessions, assumed-role
  credentials made there and cached per worker process and account).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from auditor.errors import AuditorError

EXTRA = "distributed"
INSTALL_HINT = f"pip install 'private-network-auditor[{EXTRA}]'"
ENGINES = ("local", "dask")


class EngineUnavailable(AuditorError):
    """``--engine dask`` without Dask distributed installed, or a scheduler that cannot be reached."""


@dataclass(frozen=True)
class EngineSpec:
    """The engine a run asked for. ``local``: this process's thread pool (the default).
    ``dask``: a Dask scheduler at `scheduler` (``tcp://host:8786``), else a `LocalCluster`
    of `workers` processes on this machine (default 2)."""

    kind: str = "local"
    scheduler: str | None = None
    workers: int | None = None
    threads_per_worker: int = 4
    connect_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.kind not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {self.kind!r}")

    @property
    def distributed(self) -> bool:
        return self.kind == "dask"

    def describe(self) -> str:
        if not self.distributed:
            return "local thread pool"
        if self.scheduler:
            return f"Dask scheduler {self.scheduler}"
        return f"Dask LocalCluster of {self.workers or 2} worker process(es)"


def require_distributed() -> ModuleType:
    """The `distributed` module; `EngineUnavailable` naming the extra when it is not installed."""
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise EngineUnavailable(f"--engine dask needs Dask distributed, which is not installed ({exc}); install "
                                f"the optional extra '{EXTRA}': {INSTALL_HINT}") from None


def lost(what: str, exc: BaseException) -> EngineUnavailable:
    """The error for a task the cluster could not finish (its workers died more often than the
    scheduler's ``allowed-failures``, the scheduler went away ...)."""
    return EngineUnavailable(f"the Dask cluster could not finish {what}: {type(exc).__name__}: {exc}")


def cluster_failures() -> tuple[type[BaseException], ...]:
    """The exceptions that mean the cluster, not the task, failed: a task whose workers died
    more often than ``allowed-failures`` (KilledWorker), a task cancelled because the client or
    scheduler went away, a connection lost."""
    from concurrent.futures import CancelledError

    found: list[type[BaseException]] = [CancelledError, OSError, TimeoutError]
    try:
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker
    except ImportError:   # names moved between Dask releases: the base classes above still hold
        return tuple(found)
    return (*found, KilledWorker, FutureCancelledError)
