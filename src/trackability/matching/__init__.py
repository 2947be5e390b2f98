"""Optimal one-to-one assignment between two cell populations (cells as rows).

The entry point is :func:`assign`. Methods: ``"dense"`` (exact, full cost matrix), ``"sparse"``
(exact, certified k-nearest-neighbour graph; for large trackable problems) and ``"auto"`` return a
one-to-one :class:`Matching`; ``"entropic"`` (Sinkhorn) returns a soft :class:`TransportPlan` with
barycentric targets. :class:`Matcher` keeps validated options and warm-start state across calls.
"""

from __future__ import annotations

from typing import Any

from trackability.matching.auto import estimate_bytes
from trackability.matching.costs import COSTS, cost_matrix, pair_costs, squared_distances
from trackability.matching.dense import solve_dense
from trackability.matching.entropic import solve_entropic
from trackability.matching.matcher import METHODS, Matcher
from trackability.matching.result import Matching, TransportPlan
from trackability.matching.sparse import solve_sparse

__all__ = [
    "COSTS",
    "METHODS",
    "Matcher",
    "Matching",
    "TransportPlan",
    "assign",
    "cost_matrix",
    "estimate_bytes",
    "pair_costs",
    "solve_dense",
    "solve_entropic",
    "solve_sparse",
    "squared_distances",
]

def assign(
    source: Any,
    target: Any,
    cost: str = "sqeuclidean",
    *,
    method: str = "dense",
    solver: str = "lap",
    max_memory: float | str | None = None,
    **options: Any,
) -> Matching | TransportPlan:
    """Minimum-cost one-to-one matching between ``source`` and ``target`` cells.

    Parameters
    ----------
    source, target
        Arrays of shape (n_source, d) and (n_target, d), cells as rows.
    cost
        ``"sqeuclidean"`` (squared Euclidean distance, the LAOT objective) or ``"euclidean"``
        (plain distance, as in the original experiments).
    method
        ``"dense"``: exact solver on the full cost matrix (memory ``O(n^2)``).
        ``"sparse"``: exact solver on a k-nearest-neighbour candidate graph, with a certificate
        that no other pair could improve it (see :func:`~trackability.matching.sparse.solve_sparse`;
        options ``k``, ``knn``, ``certify``, ``exact_limit``, ``sample_size``, ``max_rounds``,
        ``random_state``, ``progress``). ``"entropic"``: Sinkhorn soft plan (options ``reg``,
        ``max_iter``, ``tol``; see :func:`~trackability.matching.entropic.solve_entropic`).
        ``"auto"``: dense for small problems, sparse above (never entropic: that is a different
        answer and must be asked for); the choice is recorded in ``info["auto"]``.
    solver
        For ``method="dense"``: ``"lap"`` (Jonker-Volgenant) or ``"scipy"``.
    max_memory
        Memory budget in bytes (or a string like ``"8GB"``); None: 80 % of the memory available
        now. A configuration predicted to need more is refused with a ``MemoryError`` *before*
        anything is allocated, saying which method would fit.
    **options
        Options of the chosen method (an unknown one is an error).

    Returns
    -------
    Matching or TransportPlan
        A :class:`Matching` of ``min(n_source, n_target)`` pairs; with unequal sizes every cell of
        the smaller group is matched to a distinct cell of the larger one. ``"entropic"``: a
        :class:`TransportPlan` (the soft plan and every source cell's barycentric target).

    Examples
    --------
    >>> import numpy as np
    >>> from trackability.matching import assign
    >>> x = np.array([[0.0], [1.0], [2.0]])
    >>> m = assign(x, x[::-1])
    >>> m.target.tolist()
    [2, 1, 0]

    """
    matcher = Matcher(
        cost, method=method, solver=solver, max_memory=max_memory, warm_start=False, **options
    )
    return matcher.match(source, target)
