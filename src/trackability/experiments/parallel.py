"""One way to run independent jobs: serially, with joblib processes, or on a Dask cluster.

Every sweep (phase transition, benchmark) goes through :func:`run_jobs`, so the backends are
interchangeable and give identical results for the same seeds. Worker processes pin BLAS to one
thread: the small linear algebra of one trial runs many times slower with two threads fighting
over two cores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from trackability._progress import progress_bar
from trackability._validation import check_choice

T = TypeVar("T")
R = TypeVar("R")

BACKENDS = ("serial", "joblib", "dask")


def call_single_threaded(func: Callable[[T], R], item: T) -> R:
    """Run ``func(item)`` with BLAS/OpenMP limited to one thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return func(item)


def run_jobs(
    func: Callable[[T], R],
    items: Sequence[T] | Iterable[T],
    *,
    backend: str = "joblib",
    n_jobs: int = 1,
    scheduler: str | None = None,
    progress: bool | None = None,
    desc: str | None = None,
) -> list[R]:
    """Apply ``func`` to every item and return the results in input order.

    Parameters
    ----------
    func
        A picklable (module-level) function of one argument.
    items
        The job descriptions.
    backend
        ``"serial"`` (in this process), ``"joblib"`` (``n_jobs`` local processes; ``n_jobs=1``
        runs serially), or ``"dask"`` (a ``distributed`` cluster: ``scheduler`` address, or a
        ``LocalCluster`` with ``n_jobs`` workers).
    n_jobs
        Number of local workers (-1: all cores).
    scheduler
        Dask scheduler address (``tcp://host:8786``), only for ``backend="dask"``.
    progress
        Show a progress bar (None: follow ``TRACKABILITY_PROGRESS``).
    desc
        Label of the progress bar.

    """
    check_choice(backend, "backend", BACKENDS)
    items = list(items)
    if backend == "dask":
        from trackability.experiments.dask_backend import run_dask

        return run_dask(func, items, n_jobs=n_jobs, scheduler=scheduler, progress=progress, desc=desc)
    if backend == "serial" or n_jobs == 1 or len(items) <= 1:
        bar = progress_bar(items, desc=desc, progress=progress)
        return [call_single_threaded(func, it) for it in bar]
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    out: list[Any] = []
    bar = progress_bar(total=len(items), desc=desc, progress=progress)
    for res in parallel(delayed(call_single_threaded)(func, it) for it in items):
        out.append(res)
        bar.update(1)
    bar.close()
    return out
