"""Entropic optimal transport (Sinkhorn, through POT): a soft plan instead of a one-to-one matching.

For unequal group sizes and for the untrackable regime, where a hard one-to-one matching is either
ill-posed or unidentifiable, the entropy-regularised plan ``P`` (uniform marginals) spreads every
source cell over nearby target cells. Its barycentric projection ``T(x_i) = sum_j P_ij y_j / sum_j
P_ij`` gives each source cell one pseudo-partner, which is what LAOT's least-squares step needs.

Memory is several dense ``n_source x n_target`` float64 arrays (cost, plan and the log-domain
work arrays); :func:`trackability.matching.auto.estimate_bytes` says how much before anything is
allocated.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from trackability._validation import check_positive
from trackability.matching.costs import cost_matrix
from trackability.matching.result import TransportPlan


def solve_entropic(
    source: np.ndarray,
    target: np.ndarray,
    cost: str = "sqeuclidean",
    *,
    reg: float = 0.05,
    max_iter: int = 1000,
    tol: float = 1e-9,
) -> TransportPlan:
    """Entropy-regularised transport plan between two populations with uniform weights.

    Parameters
    ----------
    source, target
        Validated float arrays (n_source, d) and (n_target, d).
    cost
        ``"sqeuclidean"`` or ``"euclidean"``.
    reg
        Entropic regularisation *relative to the mean cost*: the absolute epsilon is
        ``reg * mean(C)``, so the same ``reg`` means the same blur whatever the units. Smaller is
        closer to the exact (hard) optimum and needs more iterations.
    max_iter, tol
        Sinkhorn iterations and stopping threshold on the marginal violation (POT's ``stopThr``).

    Returns
    -------
    TransportPlan
        ``method="entropic"``: the plan (n_source, n_target), ``barycentric`` (n_source, d), the
        barycentric targets, and ``total_cost``, ``n_source * <P, C>``, the plan's transport cost
        with one unit of mass per source cell (for equal sizes comparable with a hard matching's
        total). ``info`` holds ``reg``, ``epsilon``, ``n_iter``, ``converged`` and
        ``marginal_error``. A plan is not a one-to-one matching: it has no ``target`` column.

    """
    from trackability._pot import import_ot

    ot = import_ot()

    reg = check_positive(reg, "reg")
    if not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer; got {max_iter!r}.")
    tol = check_positive(tol, "tol")
    t0 = time.perf_counter()
    n0, nt = source.shape[0], target.shape[0]
    c = cost_matrix(source, target, cost)
    mean_cost = float(c.mean())
    eps = reg * mean_cost if mean_cost > 0 else reg
    a = np.full(n0, 1.0 / n0)
    b = np.full(nt, 1.0 / nt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is reported in info instead
        plan, log = ot.sinkhorn(
            a, b, c, eps, method="sinkhorn_log", numItermax=int(max_iter), stopThr=tol, log=True
        )
    plan = np.asarray(plan)
    row_mass = plan.sum(axis=1)
    col_mass = plan.sum(axis=0)
    marginal_error = float(max(np.abs(row_mass - a).max() * n0, np.abs(col_mass - b).max() * nt))
    errs = log.get("err", [])
    n_iter = int(log.get("niter", len(errs) * 10))
    converged = bool(errs) and float(errs[-1]) < tol
    safe = np.where(row_mass > 0, row_mass, 1.0)[:, None]
    bary = (plan @ target) / safe
    total = float(n0 * np.sum(plan * c))
    info: dict[str, Any] = {
        "solver": "pot.sinkhorn_log",
        "reg": reg,
        "epsilon": eps,
        "n_iter": n_iter,
        "converged": converged,
        "marginal_error": marginal_error,
        "seconds": time.perf_counter() - t0,
    }
    return TransportPlan(plan, bary, total, cost_name=cost, method="entropic", info=info)
