"""Exact dense assignment: Jonker-Volgenant through ``lap``, scipy's solver as fallback.

``lap`` (0.5) uses the constant ``lap.LARGE = 1e6`` as "infinity" inside its searches, so a cost
matrix whose reduced costs reach 1e6 is solved *wrongly*, without an error (issue 9: at data scale
1e3, 45 % of random problems were suboptimal). Costs are therefore multiplied by a power of two,
chosen so the largest is in ``[2^-21, 2^-20)`` (about 1e-6), before ``lap`` sees them: every
addition, subtraction and comparison inside Jonker-Volgenant is then exactly the scaled version of
the unscaled one (no rounding changes, no absolute tolerance inside ``lap`` to disturb; matchings
that were right stay bit-identical), while every reduced cost and shortest-path length, at most
``n`` times the largest cost, stays many orders of magnitude below ``lap.LARGE``.
"""

from __future__ import annotations

import numpy as np

from trackability.matching.costs import cost_matrix, pair_costs
from trackability.matching.result import Matching

SOLVERS = ("lap", "scipy")


#: Costs handed to ``lap`` are scaled so that the largest is just below this (a power of two).
LAP_TOP = 2.0**-20


def power_of_two_scale(largest: float, top: float = LAP_TOP) -> float:
    """The power of two ``s`` with ``largest * s`` in ``[top / 2, top)`` (1.0 if ``largest`` is 0).

    Multiplying by ``s`` is exact in floating point (barring underflow, far below any cost that
    matters here), so solvers see the same problem, only in a range where their sentinels are safe.
    """
    if not np.isfinite(largest):
        raise ValueError(f"costs must be finite; the largest is {largest!r}.")
    if largest <= 0.0:
        return 1.0
    _, exponent = np.frexp(largest)
    _, top_exponent = np.frexp(top)
    return float(np.ldexp(1.0, int(top_exponent) - 1 - int(exponent)))


def _solve_lap(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``lap.lapjv`` on ``c`` rescaled by a power of two (``c`` is overwritten).

    Rectangular problems are padded to a square with dummy rows (or columns) of cost 0: every
    perfect matching of the square gives the dummies ``|n_rows - n_cols|`` distinct partners at
    the same total (0), so its optimum restricted to the real cells is the rectangular optimum,
    exactly. Any constant would do; 0 is also the fastest for Jonker-Volgenant (a dummy of cost
    ``2 * max`` made the padded square 10-47x slower, ``benchmarks/bench_assignment.py
    --target-ratio 1.25``, table in docs/foundation.md 4.2). More rows than columns are solved as the
    transpose, so the dummies are always rows: dummy columns cost lapjv 8-17x more.
    """
    import lap

    n_rows, n_cols = c.shape
    if n_rows > n_cols:  # dummy rows are cheap for lapjv, dummy columns are not (8-17x slower)
        cols_t, rows_t = _solve_lap(np.ascontiguousarray(c.T))
        order = np.argsort(rows_t, kind="stable")
        return rows_t[order], cols_t[order]
    largest = float(c.max(initial=0.0))
    if n_rows != n_cols:
        n = max(n_rows, n_cols)
        square = np.zeros((n, n))
        square[:n_rows, :n_cols] = c
        c = square
    c *= power_of_two_scale(largest)
    _, x, _ = lap.lapjv(c, extend_cost=False)
    x = x[:n_rows]
    rows = np.flatnonzero(x < n_cols)
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
    rows, cols = _solve_lap(c) if solver == "lap" else _solve_scipy(c)
    expected = min(c.shape)
    if rows.size != expected:  # pragma: no cover - defensive: solver returned a partial matching
        rows, cols = _solve_scipy(c)
        solver = "scipy"
    total = float(pair_costs(source, target, rows, cols, cost).sum())
    return Matching(rows, cols, total, cost_name=cost, method="dense", info={"solver": solver})
