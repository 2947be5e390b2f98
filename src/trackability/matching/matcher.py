"""A stateful matcher: options validated once, warm-start state kept across calls.

:func:`~trackability.matching.assign` answers one matching problem. LAOT solves a sequence of them
(the mapped control cells move, the treated cells stay), and :class:`Matcher` is what it keeps
across its iterations: the method, cost, solver, memory budget and solver options are checked once
at construction, and for the sparse solver the nearest-neighbour index over the fixed target
population and the previous assignment carry over from one call to the next (see
:class:`~trackability.matching.sparse.SparseWarmStart`). Every answer is still exact: the sparse
result is certified as without the warm start.
"""

from __future__ import annotations

import inspect
from typing import Any

from trackability._validation import check_choice, check_pair
from trackability.matching.auto import check_memory, choose_method, memory_budget
from trackability.matching.costs import COSTS
from trackability.matching.dense import SOLVERS, solve_dense
from trackability.matching.entropic import solve_entropic
from trackability.matching.result import Matching, TransportPlan
from trackability.matching.sparse import SparseWarmStart, solve_sparse

METHODS = ("dense", "sparse", "entropic", "auto")

_SOLVE = {"sparse": solve_sparse, "entropic": solve_entropic}
#: Keyword arguments of the solvers that are internal, not user options.
_INTERNAL = frozenset({"warm_start"})


def options_of(method: str) -> tuple[str, ...]:
    """The user options a method accepts (``auto``: those of ``sparse``, which it may pick)."""
    if method == "dense":
        return ()
    func = _SOLVE["sparse" if method == "auto" else method]
    return tuple(
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name not in _INTERNAL
    )


class Matcher:
    """Minimum-cost matchings between populations, with options validated once.

    Parameters
    ----------
    cost
        ``"sqeuclidean"`` or ``"euclidean"``.
    method
        ``"auto"`` (default: dense for small problems, certified sparse above), ``"dense"``,
        ``"sparse"`` or ``"entropic"``; see :func:`~trackability.matching.assign`.
    solver
        Dense solver: ``"lap"`` or ``"scipy"``.
    max_memory
        Memory budget (bytes or ``"8GB"``); None: 80 % of the memory available at construction,
        within the process's address-space limit.
    warm_start
        Keep the sparse solver's index over the target and the previous assignment between
        calls (used while the target population stays the same).
    **options
        Options of the method (unknown names are an error here, before any data is seen).

    Examples
    --------
    >>> import numpy as np
    >>> from trackability.matching import Matcher
    >>> x = np.array([[0.0], [1.0], [2.0]])
    >>> Matcher(method="dense").match(x, x[::-1]).target.tolist()
    [2, 1, 0]

    """

    def __init__(
        self,
        cost: str = "sqeuclidean",
        *,
        method: str = "auto",
        solver: str = "lap",
        max_memory: float | str | None = None,
        warm_start: bool = True,
        **options: Any,
    ) -> None:
        check_choice(cost, "cost", COSTS)
        check_choice(method, "method", METHODS)
        check_choice(solver, "solver", SOLVERS)
        if not isinstance(warm_start, bool):
            raise TypeError(f"warm_start must be True or False; got {warm_start!r}.")
        valid = options_of(method)
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise TypeError(
                f"unknown option(s) {unknown} for method={method!r}; valid: {sorted(valid)}."
            )
        self.cost = cost
        self.method = method
        self.solver = solver
        self.budget = memory_budget(max_memory)
        self.options = dict(options)
        self.warm_start = warm_start
        self.state = SparseWarmStart()

    def match(self, source: Any, target: Any) -> Matching | TransportPlan:
        """The optimal matching (or, for ``entropic``, the soft plan) of ``source`` to ``target``."""
        src, tgt = check_pair(source, target)
        (n0, d), nt = src.shape, tgt.shape[0]
        chosen, reason = self.method, None
        options = self.options
        if self.method == "auto":
            chosen, reason = choose_method(n0, nt, d, self.budget, **options)
            if chosen == "dense":
                options = {}
        check_memory(chosen, n0, nt, d, self.budget, solver=self.solver, **options)
        if chosen == "dense":
            result = solve_dense(src, tgt, cost=self.cost, solver=self.solver)
        elif chosen == "sparse":
            warm = self.state if self.warm_start else None
            result = solve_sparse(src, tgt, cost=self.cost, warm_start=warm, **options)
        else:
            result = solve_entropic(src, tgt, cost=self.cost, **options)
        if reason is not None:
            result.info["auto"] = {"method": chosen, "reason": reason}
        return result
