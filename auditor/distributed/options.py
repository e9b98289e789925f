"""The engine options of `auditor collect` and `auditor scan` (``--engine dask`` ...).

The options make an `EngineSpec`. Asking for ``--engine dask`` without Dask distributed
installed is a usage error naming the extra, before anything runs; so are ``--scheduler`` or
``--workers`` without ``--engine dask``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from auditor.distributed import ENGINES, EngineSpec, EngineUnavailable, require_distributed


def _spec(engine: str, scheduler: str | None, workers: int | None, timeout: float) -> EngineSpec:
    if engine != "dask" and (scheduler or workers):
        raise click.UsageError("--scheduler and --workers need --engine dask")
    if scheduler and workers:
        raise click.UsageError("give --scheduler (a running Dask cluster) or --workers (a local one), not both")
    if engine == "dask":
        try:
            require_distributed()
        except EngineUnavailable as exc:
            raise click.UsageError(str(exc)) from None
    return EngineSpec(engine, scheduler, workers, connect_timeout=timeout)


def engine_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--engine``, ``--scheduler``, ``--workers`` and ``--connect-timeout``; the command
    receives them as one `EngineSpec` argument named ``engine``."""

    @click.option("--engine", "engine_kind", type=click.Choice(list(ENGINES)), default="local", show_default=True,
                  help="Where collection and evaluation run: this process's thread pool, or Dask distributed "
                       "(the optional extra 'distributed'; docs/distributed.md).")
    @click.option("--scheduler", default=None, metavar="ADDRESS",
                  help="With --engine dask: the Dask scheduler to use (tcp://host:8786, tls://...).")
    @click.option("--workers", type=click.IntRange(1, 256), default=None,
                  help="With --engine dask and no --scheduler: start a local Dask cluster of this many worker "
                       "processes (default 2).")
    @click.option("--connect-timeout", type=click.FloatRange(0.1, 3600), default=30.0, show_default=True,
                  help="Seconds to wait for the Dask scheduler.")
    @functools.wraps(fn)
    def wrapper(*args: Any, engine_kind: str, scheduler: str | None, workers: int | None, connect_timeout: float,
                **kwargs: Any) -> Any:
        return fn(*args, engine=_spec(engine_kind, scheduler, workers, connect_timeout), **kwargs)

    return wrapper
