"""Running sweep jobs on a Dask ``distributed`` cluster (``run_jobs(backend="dask")``).

With no scheduler address a ``LocalCluster`` of ``n_jobs`` single-threaded worker processes is
started for the call and shut down afterwards; with an address (``tcp://host:8786``) the jobs go to
that cluster, which is left running. Each job runs through the same
:func:`~trackability.experiments.parallel.call_single_threaded` wrapper as the joblib and serial
backends (BLAS pinned to one thread), and results come back in input order, so every backend
gives identical results for the same seeds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from trackability._progress import progress_bar

T = TypeVar("T")
R = TypeVar("R")

_SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TRACKABILITY_PROGRESS": "0",
}


def run_dask(
    func: Callable[[T], R],
    items: Sequence[T],
    n_jobs: int = 1,
    scheduler: Any = None,
    progress: bool | None = None,
    desc: str | None = None,
) -> list[R]:
    """Apply ``func`` to every item on a Dask cluster; results in input order.

    Parameters
    ----------
    func
        A picklable (module-level) function of one argument.
    items
        The job descriptions.
    n_jobs
        Workers of the ``LocalCluster`` started when ``scheduler`` is None (-1: all cores).
    scheduler
        None (start a ``LocalCluster``), a scheduler address string, or an existing
        ``distributed.Client``.
    progress, desc
        Progress bar over finished jobs.

    Returns
    -------
    list
        ``[func(item) for item in items]``.

    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "backend='dask' needs dask.distributed: pip install 'trackability[distributed]'."
        ) from exc
    from trackability.experiments.parallel import call_single_threaded

    items = list(items)
    if not items:
        return []
    cluster = None
    own_client = True
    if scheduler is None:
        n_workers = (os.cpu_count() or 1) if n_jobs in (-1, None) else int(n_jobs)
        if n_workers < 1:
            raise ValueError(f"n_jobs must be a positive integer or -1; got {n_jobs!r}.")
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
            env=_SINGLE_THREAD_ENV,
        )
        client = Client(cluster)
    elif isinstance(scheduler, str):
        if not scheduler.strip():
            raise ValueError("scheduler must be a Dask scheduler address like 'tcp://host:8786'.")
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise ConnectionError(
                f"could not reach the Dask scheduler at {scheduler!r}: {exc}"
            ) from exc
    elif isinstance(scheduler, Client):
        client, own_client = scheduler, False
    else:
        raise TypeError(
            f"scheduler must be None, an address string or a distributed.Client; got "
            f"{type(scheduler).__name__}."
        )
    try:
        futures = client.map(call_single_threaded, [func] * len(items), items, pure=False)
        bar = progress_bar(total=len(futures), desc=desc, progress=progress)
        for _ in as_completed(futures):
            bar.update(1)
        bar.close()
        return client.gather(futures)
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
