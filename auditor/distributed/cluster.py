"""The Dask client of a run: `open_engine` connects (or starts a LocalCluster) and closes it.

`DaskEngine.regions` is the collector's region engine (`auditor.distributed.collect`);
`DaskEngine.components` evaluates the components of `auditor.partition` as Dask tasks (each
component's records are sent to a worker with the task, so a task whose worker dies is run
again elsewhere from the scheduler's copy). Importing this module does not import Dask.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from auditor.distributed import EngineSpec, EngineUnavailable, cluster_failures, lost, require_distributed

if TYPE_CHECKING:
    from auditor.collect.sessions import SessionFactory
    from auditor.distributed.collect import DaskRegions
    from auditor.partition import ComponentResult, Job, RunInputs


class DaskEngine:
    """A connected Dask client, with what the collector and the evaluation hand it."""

    def __init__(self, client: Any, spec: EngineSpec, make_factory: Callable[[], SessionFactory] | None = None):
        from auditor.distributed.collect import DaskRegions

        self.client = client
        self.spec = spec
        self.regions: DaskRegions = DaskRegions(client, make_factory)

    def components(self, jobs: Sequence[Job], inputs: RunInputs) -> Iterator[ComponentResult]:
        """Evaluate each component on a worker (a `partition.Runner`); results in job order."""
        from auditor.partition import evaluate_component

        futures = [self.client.submit(evaluate_component, work, inputs, pure=False,
                                      key=f"component-{n}-{uuid.uuid4().hex[:8]}")
                   for n, work in enumerate(jobs)]
        try:
            for n, future in enumerate(futures):
                try:
                    result = future.result()
                except cluster_failures() as exc:   # the cluster's own failure, said without a traceback; a task's error is itself
                    raise lost(f"the evaluation of component {n + 1} of {len(futures)}", exc) from exc
                future.release()
                yield result
        finally:
            for future in futures:
                future.cancel()


@contextmanager
def open_engine(spec: EngineSpec | None, *,
                make_factory: Callable[[], SessionFactory] | None = None) -> Iterator[DaskEngine | None]:
    """The run's Dask engine (None for the local engine), closed on leaving. `EngineUnavailable`
    when Dask distributed is not installed or the scheduler cannot be reached."""
    if spec is None or not spec.distributed:
        yield None
        return
    distributed = require_distributed()
    cluster = None
    try:
        if spec.scheduler:
            client = distributed.Client(spec.scheduler, timeout=spec.connect_timeout, set_as_default=False)
        else:
            cluster = distributed.LocalCluster(n_workers=spec.workers or 2, threads_per_worker=spec.threads_per_worker,
                                               processes=True, dashboard_address=None, silence_logs=logging.ERROR)
            client = distributed.Client(cluster, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        where = f"the Dask scheduler {spec.scheduler}" if spec.scheduler else "a local Dask cluster"
        raise EngineUnavailable(f"could not reach {where} within {spec.connect_timeout:g} s: {exc}; nothing was "
                                "collected or evaluated") from None
    try:
        yield DaskEngine(client, spec, make_factory)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
