"""One way to run independent jobs: serially, with joblib processes, or on a Dask cluster.

Every sweep (phase transition, benchmark) goes through :func:`run_jobs`, so the backends are
interchangeable and give identical results for the same seeds. Worker processes pin BLAS to one
thread: the small linear algebra of one trial runs many times slower with two threads fighting
over two cores.

Local worker processes die with the process that started them: after ``kill -9`` of a benchmark
its joblib workers exit within about a second (on Linux at once, through ``PR_SET_PDEATHSIG``;
elsewhere a watcher thread polls the parent), instead of idling until loky's timeout.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from trackability._progress import progress_bar
from trackability._validation import check_choice

T = TypeVar("T")
R = TypeVar("R")

BACKENDS = ("serial", "joblib", "dask")


#: Seconds between two checks of the parent process by a worker's watcher thread.
PARENT_POLL_S = 0.5
_PR_SET_PDEATHSIG = 1


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)  # the parent is gone: nobody will read this worker's results
        time.sleep(PARENT_POLL_S)


def die_with_parent(parent_pid: int) -> None:
    """Make this (worker) process exit when the process ``parent_pid`` that started it dies.

    The initialiser of every local joblib worker. On Linux the kernel sends SIGKILL when the parent
    dies (``prctl(PR_SET_PDEATHSIG)``); everywhere a daemon thread polls the parent's pid too.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                     name="trackability-parent-watch").start()


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
        Dask scheduler address (``tcp://host:8786``), only for ``backend="dask"`` (with another
        backend it is an error, not silently ignored).
    progress
        Show a progress bar (None: follow ``TRACKABILITY_PROGRESS``).
    desc
        Label of the progress bar.

    """
    check_choice(backend, "backend", BACKENDS)
    if scheduler is not None and backend != "dask":
        raise ValueError(f"scheduler is only used with backend='dask' (got backend={backend!r}); "
                         "pass backend='dask' or leave scheduler unset.")
    items = list(items)
    if backend == "dask":
        from trackability.experiments.dask_backend import run_dask

        return run_dask(func, items, n_jobs=n_jobs, scheduler=scheduler, progress=progress, desc=desc)
    if backend == "serial" or n_jobs == 1 or len(items) <= 1:
        bar = progress_bar(items, desc=desc, progress=progress)
        return [call_single_threaded(func, it) for it in bar]
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n_jobs, return_as="generator", initializer=die_with_parent,
                        initargs=(os.getpid(),))
    out: list[Any] = []
    bar = progress_bar(total=len(items), desc=desc, progress=progress)
    for res in parallel(delayed(call_single_threaded)(func, it) for it in items):
        out.append(res)
        bar.update(1)
    bar.close()
    return out
