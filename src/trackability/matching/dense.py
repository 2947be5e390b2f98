"""Exact dense assignment: Jonker-Volgenant through ``lap``, scipy's solver as fallback."""

from __future__ import annotations

import numpy as np

from trackability.matching.costs import cost_matrix, pair_costs
from trackability.matching.result import Matching

SOLVERS = ("lap", "scipy")


def _solve_lap(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import lap

    n_rows, n_cols = c.shape
    _, x, _ = lap.lapjv(c, extend_cost=n_rows != n_cols)
    rows = np.flatnonzero(x >= 0)
    return rows, x[rows].astype(np.int64)


def _solve_scipy(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(c)
    return rows.astype(np.int64), cols.astype(np.int64)


def solve_dense(
    source: np.ndarray,
    target: np.ndarray,
    cost: str = "sqeuclidean",
    solver: str = "lap",
) -> Matching:
    """Exact minimum-cost one-to-one matching on the full cost matrix.

    Works on validated float arrays (see :func:`trackability.matching.assign` for the public entry).
    Rectangular problems match every cell of the smaller population to a distinct cell of the
    larger one. Memory is ``O(n_source * n_target)``; time ``O(n^3)`` in the worst case.
    """
    c = cost_matrix(source, target, cost)
    try:
        if solver == "lap":
            rows, cols = _solve_lap(c)
        else:
            rows, cols = _solve_scipy(c)
    except ImportError:  # pragma: no cover - lap is a hard dependency
        rows, cols = _solve_scipy(c)
        solver = "scipy"
    expected = min(c.shape)
    if rows.size != expected:  # pragma: no cover - defensive: solver returned a partial matching
        rows, cols = _solve_scipy(c)
        solver = "scipy"
    total = float(pair_costs(source, target, rows, cols, cost).sum())
    return Matching(rows, cols, total, cost_name=cost, method="dense", info={"solver": solver})
