"""LAOT: Linear Alternating Optimal Transport.

Fits ``F(x) = W x + b`` between unpaired populations by alternating two exactly solvable steps on
``min_{Pi, W} |Xt - W X0 Pi|_F^2`` (Jafari, Shakeri, Daneshmand, ICML 2026): (a) with the map
fixed, the optimal one-to-one assignment between mapped control cells and treated cells; (b) with
the assignment fixed, the least-squares map on the matched pairs. ``W`` starts at the identity.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from trackability._progress import progress_bar
from trackability._validation import check_bool, check_choice, check_positive, check_random_state
from trackability.matching import COSTS, Matcher, Matching, TransportPlan
from trackability.matching.auto import check_laot_memory
from trackability.models.base import PerturbationModel, history_frame

UNEQUAL = ("rectangular", "subsample")


def fit_linear_map(
    x: np.ndarray, y: np.ndarray, *, fit_intercept: bool = False, alpha: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares ``W, b`` minimising ``|Y - X W^T - b|^2 + alpha |W - I|_F^2`` on paired rows.

    The ridge term pulls ``W`` toward the identity (no change), which keeps the problem well posed
    when the number of features approaches the number of cells. With ``alpha = 0`` and a rank
    deficient ``X``, the minimum-norm ``W - I`` is returned (the solution closest to no change).

    Returns
    -------
    W : ndarray of shape (d, d)
    b : ndarray of shape (d,)

    """
    d = x.shape[1]
    if fit_intercept:
        x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
        xc, yc = x - x_mean, y - y_mean
    else:
        xc, yc = x, y
    resid = yc - xc  # solve for Z = W - I:  (Y - X) = X Z^T
    if alpha > 0:
        a = np.vstack([xc, np.sqrt(alpha) * np.eye(d)])
        rhs = np.vstack([resid, np.zeros((d, d))])
    else:
        a, rhs = xc, resid
    z_t, *_ = np.linalg.lstsq(a, rhs, rcond=None)
    w = np.eye(d) + z_t.T
    b = (y_mean - x_mean @ w.T) if fit_intercept else np.zeros(d)
    return w, b


class LAOT(PerturbationModel):
    """Linear Alternating Optimal Transport.

    Parameters
    ----------
    max_iter
        Largest number of alternations (assignment + least squares).
    cost
        Assignment cost: ``"sqeuclidean"`` (the objective itself; each step then provably does not
        increase it) or ``"euclidean"`` (the plain distance the original experiments used).
    fit_intercept
        Fit ``F(x) = W x + b`` instead of ``W x``.
    alpha
        Ridge penalty ``alpha |W - I|_F^2`` toward the identity (useful when d is close to or above
        the number of cells). ``alpha = inf`` is the limit: ``W = I`` exactly and (with
        ``fit_intercept``) ``b = mean(target) - mean(source)`` over all the cells, i.e. the mean
        shift (:class:`~trackability.models.MeanShift`), with one assignment under that map for
        ``matching_``. (A large finite alpha is not the mean shift when the groups differ in size:
        its intercept comes from the matched cells only.)
    unequal
        With unequal population sizes: ``"rectangular"`` matches every cell of the smaller group to
        a distinct cell of the larger one (nothing is thrown away); ``"subsample"`` first draws a
        seeded random subsample of the larger group down to the size of the smaller one.
    early_stopping
        Stop, keeping the best iterate, as soon as the objective stops decreasing. The fixed point
        (the assignment repeats) always stops the loop, since nothing can change after it.
    tol
        Relative decrease of the objective below which it counts as "stopped decreasing".
    matching
        Keyword arguments for :class:`trackability.matching.Matcher` (as for
        :func:`~trackability.matching.assign`; the method defaults to ``"auto"``: the exact dense
        solver up to 4000 cells, the certified sparse one above, warm-started across iterations
        with the target's index and the previous assignment). E.g. ``{"solver": "scipy"}``,
        ``{"method": "dense"}``, ``{"method": "entropic", "reg": 0.05}`` for a soft plan whose
        barycentric targets feed the least-squares step, ``{"max_memory": "8GB"}``.
    random_state
        Seed for ``unequal="subsample"``.
    progress
        Show a progress bar over iterations (None: follow ``TRACKABILITY_PROGRESS``).

    Attributes
    ----------
    W_ : ndarray of shape (d, d)
        Linear part; ``predict(x) = x @ W_.T + intercept_``.
    intercept_ : ndarray of shape (d,)
    matching_ : Matching or TransportPlan
        Final assignment between (the used) source and target cells, in the input indices (a
        soft :class:`~trackability.matching.TransportPlan` with ``method="entropic"``).
    history_ : pandas.DataFrame
        One row per iteration, in the shared schema of iterative models: ``step`` (the
        iteration), ``train_loss`` (the objective after the least-squares step, including the
        ridge term), ``val_score`` (NaN: LAOT has no validation score), then
        ``assignment_cost`` and ``n_changed`` (pairs that changed).
    n_iter_ : int
    converged_ : bool
        True if a fixed point or a plateau of the objective was reached before ``max_iter``.
    objective_ : float

    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = (
        "W_",
        "intercept_",
        "matching_",
        "history_",
        "n_iter_",
        "converged_",
        "objective_",
    )

    def __init__(
        self,
        max_iter: int = 100,
        cost: str = "sqeuclidean",
        fit_intercept: bool = False,
        alpha: float = 0.0,
        unequal: str = "rectangular",
        early_stopping: bool = True,
        tol: float = 0.0,
        matching: dict[str, Any] | None = None,
        random_state: Any = 0,
        progress: bool | None = False,
    ) -> None:
        self.max_iter = max_iter
        self.cost = cost
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.unequal = unequal
        self.early_stopping = early_stopping
        self.tol = tol
        self.matching = matching
        self.random_state = random_state
        self.progress = progress

    def _validate_params(self) -> None:
        if (isinstance(self.max_iter, bool | np.bool_) or not isinstance(self.max_iter, int | np.integer)
                or self.max_iter < 1):
            raise ValueError(f"max_iter must be a positive integer; got {self.max_iter!r}.")
        check_choice(self.cost, "cost", COSTS)
        check_bool(self.fit_intercept, "fit_intercept")
        check_bool(self.early_stopping, "early_stopping")
        if self.progress is not None:
            check_bool(self.progress, "progress")
        check_random_state(self.random_state)
        check_choice(self.unequal, "unequal", UNEQUAL)
        check_positive(self.alpha, "alpha", allow_zero=True, allow_inf=True)  # inf: the mean shift
        check_positive(self.tol, "tol", allow_zero=True)
        if self.matching is not None:
            if not isinstance(self.matching, dict):
                raise TypeError(
                    f"matching must be a dict of options for trackability.matching.assign; got "
                    f"{type(self.matching).__name__}."
                )
            if "cost" in self.matching:
                raise ValueError(
                    "matching must not set 'cost': use LAOT(cost=...), which is also the cost of "
                    "the least-squares objective it reports."
                )

    def _objective(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray) -> float:
        resid = y - x @ w.T - b
        value = float(np.einsum("ij,ij->", resid, resid))
        if self.alpha > 0 and np.isfinite(self.alpha):  # alpha = inf: W = I, no penalty
            value += self.alpha * float(np.sum((w - np.eye(w.shape[0])) ** 2))
        return value

    def _fit(self, source: np.ndarray, target: np.ndarray) -> None:
        self._validate_params()
        n0, nt = source.shape[0], target.shape[0]
        src_idx, tgt_idx = np.arange(n0), np.arange(nt)
        if self.unequal == "subsample" and n0 != nt:
            rng = check_random_state(self.random_state)
            m = min(n0, nt)
            if n0 > m:
                src_idx = np.sort(rng.choice(n0, size=m, replace=False))
            else:
                tgt_idx = np.sort(rng.choice(nt, size=m, replace=False))
        match_kwargs = {"method": "auto", **(self.matching or {})}
        matcher = Matcher(self.cost, **match_kwargs)  # options validated once, state kept
        budget = matcher.budget
        check_laot_memory(
            src_idx.size, tgt_idx.size, source.shape[1], budget, ridge=self.alpha > 0
        )
        x, y = source[src_idx], target[tgt_idx]
        d = x.shape[1]

        w, b = np.eye(d), np.zeros(d)
        if np.isinf(self.alpha):  # the limit alpha -> inf: the mean shift (all cells' means)
            if self.fit_intercept:
                b = target.mean(axis=0) - source.mean(axis=0)
            m = matcher.match(x + b, y)
            paired = m.barycentric if isinstance(m, TransportPlan) else y[m.target]
            obj = self._objective(x[m.source], paired, w, b)
            rows_inf = [{"step": 1, "train_loss": obj, "val_score": np.nan,
                         "assignment_cost": m.total_cost, "n_changed": len(m)}]
            self._finish(m, w, b, obj, rows_inf, True, src_idx, tgt_idx, n0, nt, d)
            return
        best = None
        prev: Any = None  # the previous Matching or TransportPlan
        rows: list[dict[str, Any]] = []
        converged = False
        bar = progress_bar(total=self.max_iter, desc="LAOT", progress=self.progress)
        for it in range(1, self.max_iter + 1):
            m = matcher.match(x @ w.T + b, y)
            soft = isinstance(m, TransportPlan)
            if soft:  # a plan can still move when its argmax does not: never a fixed point
                n_changed = len(m) if prev is None else int(
                    np.sum(m.mode_target() != prev.mode_target())
                )
            else:
                n_changed = m.n_changed(prev)
            if prev is not None and n_changed == 0 and not soft:
                converged = True  # fixed point: the least-squares step would return the same map
                break
            # a soft plan (method="entropic") pairs each source cell with its barycentric target
            paired = m.barycentric if soft else y[m.target]
            w_new, b_new = fit_linear_map(
                x[m.source], paired, fit_intercept=self.fit_intercept, alpha=self.alpha
            )
            obj = self._objective(x[m.source], paired, w_new, b_new)
            rows.append(
                {"step": it, "train_loss": obj, "val_score": np.nan,
                 "assignment_cost": m.total_cost, "n_changed": n_changed}
            )
            bar.update(1)
            if best is not None and self.early_stopping:
                if obj > best[0] - self.tol * abs(best[0]):
                    if obj <= best[0]:  # a plateau: the new iterate is as good; keep it
                        best = (obj, w_new, b_new, m)
                    converged = True
                    break
            if best is None or obj <= best[0]:
                best = (obj, w_new, b_new, m)
            w, b, prev = w_new, b_new, m
        bar.close()
        obj, w, b, m = best
        self._finish(m, w, b, obj, rows, converged, src_idx, tgt_idx, n0, nt, d)

    def _finish(self, m: Any, w: np.ndarray, b: np.ndarray, obj: float, rows: list[dict[str, Any]],
                converged: bool, src_idx: np.ndarray, tgt_idx: np.ndarray, n0: int, nt: int,
                d: int) -> None:
        """Set the fitted attributes from the kept iterate (assignment back to input indices)."""
        self.W_ = w
        self.intercept_ = b
        if isinstance(m, TransportPlan):
            if src_idx.size != n0 or tgt_idx.size != nt:  # back to the input indices
                plan = np.zeros((n0, nt))
                plan[np.ix_(src_idx, tgt_idx)] = m.plan
                bary = np.full((n0, d), np.nan)
                bary[src_idx] = m.barycentric
                m = TransportPlan(plan, bary, m.total_cost, cost_name=m.cost_name, info=m.info)
            self.matching_ = m
        else:
            self.matching_ = Matching(
                src_idx[m.source], tgt_idx[m.target], m.total_cost, cost_name=m.cost_name,
                method=m.method, info=m.info, certified=m.certified,
            )
        self.history_ = history_frame(rows)
        self.n_iter_ = len(rows)
        self.converged_ = converged
        self.objective_ = obj

    def _predict(self, source: np.ndarray) -> np.ndarray:
        return source @ self.W_.T + self.intercept_
