"""The synthetic phase transition: how often LAOT recovers the true cell correspondence.

For every dimension ``d`` and gap ``t`` on a grid, draw ``trials`` synthetic pairs, fit LAOT and
record the fraction of correctly matched cells. Recovery stays at 1 up to a critical gap and then
falls: the trackable / untrackable transition of the theory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trackability._validation import check_random_state
from trackability.data.synthetic import ORIGINAL_DIMS, ORIGINAL_GAPS, near_identity, seed_faithful
from trackability.experiments.parallel import run_jobs

#: LAOT settings of the original experiment: plain Euclidean cost, 10 iterations, plain least squares.
ORIGINAL_LAOT = {"max_iter": 10, "cost": "euclidean", "fit_intercept": False, "alpha": 0.0}


@dataclass(frozen=True)
class _Trial:
    d: int
    gap: float
    trial: int
    n: int
    seed_faithful: bool
    noise: float
    seed: int | None
    laot: tuple[tuple[str, Any], ...]


def run_trial(job: _Trial) -> float:
    """Recovery rate of LAOT on one synthetic pair (a module-level function, so it pickles)."""
    from trackability.metrics import recovery_rate
    from trackability.models import LAOT

    if job.seed_faithful:
        pair = seed_faithful(job.d, job.gap, job.trial, n=job.n, noise=job.noise)
    else:
        pair = near_identity(job.n, job.d, job.gap, noise=job.noise, random_state=job.seed)
    model = LAOT(**dict(job.laot)).fit(pair.control, pair.treated)
    return recovery_rate(pair.permutation, model.matching_)


def phase_transition(
    dims: Sequence[int] = ORIGINAL_DIMS,
    gaps: Sequence[float] = ORIGINAL_GAPS,
    trials: int = 50,
    n: int = 100,
    seed_faithful: bool = False,
    random_state: Any = 0,
    *,
    noise: float = 0.0,
    laot: dict[str, Any] | None = None,
    backend: str = "joblib",
    n_jobs: int = 1,
    scheduler: str | None = None,
    progress: bool | None = None,
):
    """Recovery rate of LAOT over a grid of dimensions and gaps.

    Parameters
    ----------
    dims, gaps
        The grid. With ``seed_faithful=True`` both must be subsets of the original lists
        (:data:`~trackability.data.synthetic.ORIGINAL_DIMS`, ``ORIGINAL_GAPS``): the seed of a
        trial is ``i + j + trial`` with ``i, j`` the positions in the original lists, so any subset
        reproduces the original numbers.
    trials
        Independent draws per grid point.
    n
        Cells per population.
    seed_faithful
        Reproduce the original experiment (non-centred E, legacy seeds, Euclidean cost, 10
        iterations). Otherwise use :func:`~trackability.data.synthetic.near_identity` (centred E)
        with per-trial seeds spawned from ``random_state`` and LAOT's defaults.
    random_state
        Seed for the centred generator (ignored with ``seed_faithful=True``).
    noise
        Measurement noise passed to the generator.
    laot
        Overrides of the LAOT hyper-parameters.
    backend, n_jobs, scheduler, progress
        See :func:`trackability.experiments.parallel.run_jobs`.

    Returns
    -------
    pandas.DataFrame
        One row per (d, gap): ``d``, ``gap``, ``recovery`` (mean over trials), ``recovery_sd``,
        ``exact_fraction`` (trials with every cell recovered), ``trials``, ``n``, ``generator``.

    """
    import pandas as pd

    bad = [d for d in dims if not (float(d).is_integer() and float(d) >= 1)]
    if bad:  # int() would silently truncate 10.7 to 10
        raise ValueError(f"dims must be positive integers; got {bad}.")
    dims = [int(d) for d in dims]
    gaps = [float(g) for g in gaps]
    if not dims or not gaps:
        raise ValueError("dims and gaps must be non-empty.")
    if not isinstance(trials, int | np.integer) or trials < 1:
        raise ValueError(f"trials must be a positive integer; got {trials!r}.")
    params = dict(ORIGINAL_LAOT if seed_faithful else {})
    params.update(laot or {})
    frozen = tuple(sorted(params.items()))
    jobs: list[_Trial] = []
    if seed_faithful:
        for d in dims:
            for g in gaps:
                for t in range(trials):
                    jobs.append(_Trial(d, g, t, n, True, noise, None, frozen))
        # validate the grid early, with a clear message
        from trackability.data.synthetic import original_seed

        for d in dims:
            original_seed(d, gaps[0], 0)
        for g in gaps:
            original_seed(dims[0], g, 0)
    else:
        root = check_random_state(random_state)
        seeds = root.integers(0, 2**31 - 1, size=(len(dims), len(gaps), trials))
        for a, d in enumerate(dims):
            for b, g in enumerate(gaps):
                for t in range(trials):
                    jobs.append(_Trial(d, g, t, n, False, noise, int(seeds[a, b, t]), frozen))
    rec = run_jobs(
        run_trial, jobs, backend=backend, n_jobs=n_jobs, scheduler=scheduler, progress=progress,
        desc="phase transition",
    )
    df = pd.DataFrame(
        {"d": [j.d for j in jobs], "gap": [j.gap for j in jobs], "trial": [j.trial for j in jobs],
         "recovery": rec}
    )
    out = (
        df.groupby(["d", "gap"], sort=False)["recovery"]
        .agg(recovery="mean", recovery_sd="std", exact_fraction=lambda r: float(np.mean(r == 1.0)),
             trials="size")
        .reset_index()
    )
    out["recovery_sd"] = out["recovery_sd"].fillna(0.0)
    out["n"] = n
    out["generator"] = "seed_faithful" if seed_faithful else "centered"
    return out
