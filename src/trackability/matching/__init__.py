"""Optimal one-to-one assignment between two cell populations (cells as rows).

The entry point is :func:`assign`; every solver returns a :class:`Matching`.
"""

from __future__ import annotations

from typing import Any

from trackability._validation import check_choice, check_pair
from trackability.matching.costs import COSTS, cost_matrix, pair_costs, squared_distances
from trackability.matching.dense import SOLVERS, solve_dense
from trackability.matching.result import Matching

__all__ = [
    "COSTS",
    "METHODS",
    "Matching",
    "assign",
    "cost_matrix",
    "pair_costs",
    "solve_dense",
    "squared_distances",
]

METHODS = ("dense",)


def assign(
    source: Any,
    target: Any,
    cost: str = "sqeuclidean",
    *,
    method: str = "dense",
    solver: str = "lap",
) -> Matching:
    """Minimum-cost one-to-one matching between ``source`` and ``target`` cells.

    Parameters
    ----------
    source, target
        Arrays of shape (n_source, d) and (n_target, d), cells as rows.
    cost
        ``"sqeuclidean"`` (squared Euclidean distance, the LAOT objective) or ``"euclidean"``
        (plain distance, as in the original experiments).
    method
        ``"dense"``: exact solver on the full cost matrix.
    solver
        For ``method="dense"``: ``"lap"`` (Jonker-Volgenant) or ``"scipy"``.

    Returns
    -------
    Matching
        ``min(n_source, n_target)`` pairs; with unequal sizes every cell of the smaller group is
        matched to a distinct cell of the larger one.

    Examples
    --------
    >>> import numpy as np
    >>> from trackability.matching import assign
    >>> x = np.array([[0.0], [1.0], [2.0]])
    >>> m = assign(x, x[::-1])
    >>> m.target.tolist()
    [2, 1, 0]

    """
    check_choice(cost, "cost", COSTS)
    check_choice(method, "method", METHODS)
    check_choice(solver, "solver", SOLVERS)
    src, tgt = check_pair(source, target)
    return solve_dense(src, tgt, cost=cost, solver=solver)
