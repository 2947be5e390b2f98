"""How many cells an exact matching would recover: a calibrated estimate from two unpaired populations.

The paper's ``Delta`` and the separation bound are sufficient conditions; they guard against the
worst pair of cells and sit one to three orders of magnitude below the gap at which exact matching
actually fails (docs/diagnostics.md). :func:`estimate_recoverability` predicts the recovery itself,
by a **parametric bootstrap of the planted-matching model** (Kunisky & Niles-Weed 2021; Collier &
Dalalyan 2016):

1. **Map.** An affine map ``F(x) = x W + b`` is fitted from the two populations by alternating an
   exact assignment and least squares (LAOT's alternation, started at the identity), or a mean
   shift (``map="shift"``), or the identity, or a map the user gives.
2. **Noise, by indirect inference.** The cells' displacement that the map does not explain is
   modelled as Gaussian, ``y = F(x) + tau * z @ C``, with the shape ``C`` the Cholesky factor of the
   residual covariance of the fitted matching and the scale ``tau`` chosen so that the *same*
   statistic, computed the same way on simulated data, equals the observed one: the mean squared
   residual of the refitted map under its optimal matching. The residuals of an optimal matching
   underestimate the noise (the matching picks close partners); matching the statistic on data
   simulated from the model removes that bias (indirect inference, Gourieroux, Monfort & Renault
   1993), as long as the model is right.
3. **Planted matchings.** Control cells are drawn, moved by the fitted map and noise, shuffled and
   matched back by the exact assignment; the fraction of cells returned to themselves is the
   predicted recovery, over many draws (an interval from their spread and from resampling the
   noise scale), for any number of cells per matching and any gap (the displacement is scaled
   linearly with the gap: ``W_s = I + (s / t)(W - I)``, ``b_s = (s / t) b``, ``tau_s = (s / t) tau``;
   ``growth="sqrt"`` scales the noise as ``sqrt(s / t)``, a diffusion).
4. **Per-cell confidence.** For each matched pair, the probability that it is right, from its
   assignment margin (how much cheaper its partner is than the next candidate in its row and
   column, in units of the noise) calibrated by isotonic regression on the planted matchings.

Where it fails (see the docs): when the two populations are not one population moved by a smooth
map plus Gaussian noise (batch effects, cells dying or dividing, different cells altogether), when
the controls are so Gaussian in so few dimensions that the noise and a linear map cannot be told
apart (then the noise is underestimated and the recovery overestimated), and for gaps far from the
one measured (the linear extrapolation is an assumption).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trackability._validation import check_array, check_choice, check_random_state
from trackability.matching import assign

MAPS = ("affine", "shift", "identity")
GROWTHS = ("linear", "sqrt")
SHAPES = ("isotropic", "diagonal", "residual")
#: Numbers of cells per matching on which the recovery curve is evaluated (capped at n).
DEFAULT_SIZES = (2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def _partner(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Exact optimal assignment (squared Euclidean): the target of each source cell."""
    n = max(x.shape[0], y.shape[0])
    if x.shape[1] == 1 and x.shape[0] == y.shape[0]:
        # one feature, as many targets as sources: the sorted (monotone) matching is optimal for a
        # convex cost of the difference, in O(n log n) (LAPJV's worst case: 60 s at 1,151 cells)
        out = np.empty(n, dtype=np.int64)
        out[np.argsort(x[:, 0], kind="stable")] = np.argsort(y[:, 0], kind="stable")
        return out
    # the assignment does not depend on the units: bring the costs near 1 (the LAPJV solver is
    # exact there; see issue 9 for costs above 1e6)
    scale = float(np.sqrt(np.mean(np.sum((x - x.mean(axis=0)) ** 2, axis=1)))) or 1.0
    x, y = x / scale, y / scale
    m = assign(x, y, "sqeuclidean", method="dense" if n <= 3000 else "auto")
    out = np.full(x.shape[0], -1, dtype=np.int64)
    out[np.asarray(m.source)] = np.asarray(m.target)
    return out


#: Rounds of the alternation (assignment, least squares) that fits the affine map by default: a
#: cap, the alternation stops once the assignment repeats. 50, not the first releases' 3: beyond
#: LAOT's transition 3 rounds stop at a shrunk map (docs/diagnostics.md, "More rounds").
MAP_ROUNDS = 50


def _fit_affine(x: np.ndarray, y: np.ndarray, kind: str, rounds: int = MAP_ROUNDS,
                init: tuple[np.ndarray, np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alternate an exact assignment of ``F(x)`` to ``y`` and a least-squares ``F``.

    From the identity, or from ``init = (W, b)`` (an ``"affine"`` map only). Returns ``W``,
    ``b`` and the partner of each source cell under the final map.
    """
    d = x.shape[1]
    w, b = np.eye(d), np.zeros(d)
    if init is not None and kind == "affine":
        w, b = init
    if kind == "shift":
        b = y.mean(axis=0) - x.mean(axis=0)
    p = _partner(x @ w + b, y)
    if kind != "affine":
        return w, b, p
    xa = np.hstack([x, np.ones((x.shape[0], 1))])
    for _ in range(rounds):
        coef, *_ = np.linalg.lstsq(xa, y[p], rcond=None)
        w, b = coef[:d], coef[d]
        q = _partner(x @ w + b, y)
        if np.array_equal(q, p):
            break
        p = q
    return w, b, p


def _residual_stat(x: np.ndarray, y: np.ndarray, kind: str, rounds: int = MAP_ROUNDS,
                   init: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    w, b, p = _fit_affine(x, y, kind, rounds, init)
    res = y[p] - (x @ w + b)
    return float(np.mean(np.sum(res**2, axis=1))), w, b, p, res


@dataclass
class RecoverabilityEstimate:
    """The result of :func:`estimate_recoverability`.

    Attributes
    ----------
    n, d, gap
        Cells per matching at which ``recovery`` is predicted, features, the measured gap.
    recovery, interval
        Predicted fraction of cells an exact matching of ``n`` cells returns to their partner, and
        its interval at level ``confidence``.
    level
        The recovery level of ``n_at_level`` and ``gap_at_level``.
    n_at_level
        Largest number of cells per matching at which the predicted recovery is still >= ``level``
        (interpolated in log n; ``inf`` when it stays above up to the largest size simulated and
        that size is ``n``, 1 when even 2 cells fall below).
    gap_at_level
        Gap at which the predicted recovery of ``n`` cells falls to ``level`` (same time units as
        ``gap``).
    curve
        ``{"n_cells": [...], "recovery": [...], "lo": [...], "hi": [...]}`` at this gap.
    noise_scale
        Root-mean-square per-cell noise ``tau * sqrt(trace(C C^T))``, data units.
    residual_rms
        The same from the residuals of the observed optimal matching (biased low).
    W, b, map
        The fitted map and its kind.
    cell_confidence
        Probability that each control cell's partner under the optimal assignment of ``x0`` to
        ``xt`` is right (NaN for unmatched cells, and for all cells when either population is
        larger than ``max_cells``); ``partner`` that assignment.
    calibration_ece
        Expected calibration error of the per-cell confidence on held-out planted matchings.
    assumptions
        What the estimate assumes, in words.

    """

    n: int
    d: int
    gap: float
    recovery: float
    interval: tuple[float, float]
    level: float
    n_at_level: float
    gap_at_level: float
    curve: dict[str, list[float]]
    noise_scale: float
    residual_rms: float
    map: str
    W: np.ndarray
    b: np.ndarray
    partner: np.ndarray
    cell_confidence: np.ndarray
    calibration_ece: float
    confidence: float
    n_sim: int
    growth: str
    assumptions: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    map_rounds: int = MAP_ROUNDS

    def to_dict(self, *, cells: bool = False) -> dict[str, Any]:
        """Plain-Python form (per-cell arrays only with ``cells=True``)."""
        out = {
            "n": self.n, "d": self.d, "gap": self.gap, "recovery": self.recovery,
            "interval": list(self.interval), "level": self.level, "n_at_level": self.n_at_level,
            "gap_at_level": self.gap_at_level, "curve": {k: list(v) for k, v in self.curve.items()},
            "noise_scale": self.noise_scale, "residual_rms": self.residual_rms, "map": self.map,
            "calibration_ece": self.calibration_ece, "confidence": self.confidence,
            "n_sim": self.n_sim, "growth": self.growth, "assumptions": list(self.assumptions),
            "steps": [dict(st) for st in self.steps], "map_rounds": self.map_rounds,
        }
        if cells:
            out["partner"] = self.partner.tolist()
            out["cell_confidence"] = [None if math.isnan(v) else float(v) for v in self.cell_confidence]
        return out

    def __str__(self) -> str:
        lo, hi = self.interval
        return (
            f"predicted recovery of exact matching among {self.n} cells at gap {self.gap:g}: "
            f"{self.recovery:.3f} [{lo:.3f}, {hi:.3f}]; recovery >= {self.level:g} up to "
            f"{_fmt_n(self.n_at_level)} cells per matching, or at gaps up to {self.gap_at_level:.3g}"
        )


def _fmt_n(v: float) -> str:
    return "any number of" if math.isinf(v) else f"{v:.0f}"


class _Model:
    """The fitted planted-matching model: controls, map, noise shape and scale."""

    def __init__(self, x: np.ndarray, w: np.ndarray, b: np.ndarray, chol: np.ndarray, tau: float,
                 gap: float, growth: str) -> None:
        self.x, self.w, self.b, self.chol, self.tau, self.gap, self.growth = x, w, b, chol, tau, gap, growth

    def at(self, s: float, tau: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
        r = s / self.gap
        d = self.x.shape[1]
        w = np.eye(d) + r * (self.w - np.eye(d))
        t = self.tau if tau is None else tau
        scale = r if self.growth == "linear" else math.sqrt(r)
        return w, r * self.b, t * scale

    def simulate(self, m: int, s: float, reps: int, rng: np.random.Generator, tau: float | None = None,
                 features: bool = False) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Recovery of ``reps`` planted matchings of ``m`` cells at gap ``s``."""
        w, b, t = self.at(s, tau)
        n, d = self.x.shape
        rec = np.empty(reps)
        feats = []
        for k in range(reps):
            idx = rng.choice(n, size=m, replace=False)
            x = self.x[idx]
            y = x @ w + b + t * rng.standard_normal((m, d)) @ self.chol.T
            p = _partner(x, y)
            ok = p == np.arange(m)
            rec[k] = ok.mean()
            if features:
                feats.append((_margin_feature(x, y, p, t, self.chol), ok))
        return rec, feats


def _margin_feature(x: np.ndarray, y: np.ndarray, p: np.ndarray, tau: float, chol: np.ndarray) -> np.ndarray:
    """Per matched cell: how much cheaper its partner is than the next candidate, in noise units.

    ``min(row margin, column margin) / (tau^2 * trace(C C^T))`` where the row margin is the cost of
    the cheapest other target minus the cost of the partner, the column margin likewise.
    """
    from scipy.spatial.distance import cdist

    c = cdist(x, y, "sqeuclidean")
    m = x.shape[0]
    rows = np.arange(m)
    own = c[rows, p]
    cr = c.copy()
    cr[rows, p] = np.inf
    row_m = cr.min(axis=1) - own if m > 1 else np.full(m, np.inf)
    col_min = np.full(y.shape[0], np.inf)
    if m > 1:
        col_min_all = cr.min(axis=0)
        col_min = col_min_all
    col_m = col_min[p] - own
    scale = max(tau**2 * float(np.sum(chol**2)), 1e-300)
    return np.minimum(row_m, col_m) / scale


def _fit_calibration(feats: list[tuple[np.ndarray, np.ndarray]]) -> Any:
    from sklearn.isotonic import IsotonicRegression

    f = np.concatenate([a for a, _ in feats])
    ok = np.concatenate([o for _, o in feats]).astype(float)
    f = np.clip(np.nan_to_num(f, posinf=1e6, neginf=-1e6), -1e6, 1e6)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    iso.fit(f, ok)
    return iso


def expected_calibration_error(prob: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE: the bin-size-weighted mean of |mean confidence - accuracy| over equal-width bins."""
    prob = np.asarray(prob, dtype=float)
    correct = np.asarray(correct, dtype=float)
    keep = ~np.isnan(prob)
    prob, correct = prob[keep], correct[keep]
    if prob.size == 0:
        return math.nan
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(prob, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for k in range(bins):
        sel = which == k
        if sel.any():
            ece += sel.mean() * abs(prob[sel].mean() - correct[sel].mean())
    return float(ece)


def _interp_crossing(xs: np.ndarray, ys: np.ndarray, level: float) -> float:
    """First x (log-interpolated) where a decreasing curve ys falls below level."""
    below = np.flatnonzero(ys < level)
    if below.size == 0:
        return math.inf
    k = int(below[0])
    if k == 0:
        return float(xs[0]) / 2 if xs[0] > 1 else 1.0
    x0, x1, y0, y1 = math.log(xs[k - 1]), math.log(xs[k]), ys[k - 1], ys[k]
    frac = (y0 - level) / (y0 - y1) if y0 != y1 else 0.0
    return float(math.exp(x0 + frac * (x1 - x0)))


def estimate_recoverability(
    x0: Any,
    xt: Any,
    *,
    gap: float = 1.0,
    n_cells: int | None = None,
    level: float = 0.5,
    map: str | tuple[Any, Any] = "affine",
    noise: float | None = None,
    noise_shape: str = "isotropic",
    map_rounds: int = MAP_ROUNDS,
    growth: str = "linear",
    n_sim: int = 8,
    sizes: Any = None,
    confidence: float = 0.9,
    max_cells: int = 2000,
    cell_confidence: bool = True,
    find_gap: bool = True,
    random_state: Any = 0,
) -> RecoverabilityEstimate:
    """Predict the fraction of cells an exact matching would recover, from two unpaired populations.

    Parameters
    ----------
    x0, xt
        Control cells (n0, d) and treated cells (nt, d) measured ``gap`` later (cells as rows,
        unpaired: the order of ``xt`` carries no information).
    gap
        The measurement gap, in the time units the answer ``gap_at_level`` is wanted in.
    n_cells
        Cells per matching at which ``recovery`` is predicted (default ``min(n0, nt)``, capped
        at ``max_cells``). Up to ``min(n0, nt)``: above ``max_cells`` the map and the noise are
        still fitted on ``max_cells`` cells and the planted matchings draw ``n_cells`` controls
        from all of them (docs/diagnostics.md, "Synthetic grid": at n = 10,000 this costs one
        exact assignment of n cells per planted matching; ``find_gap`` multiplies that).
    level
        Recovery level of ``n_at_level`` and ``gap_at_level`` (default 0.5).
    map
        ``"affine"`` (fitted by alternating assignment and least squares), ``"shift"`` (mean
        shift), ``"identity"`` or a pair ``(W, b)`` (``F(x) = x @ W + b``).
    noise
        Root-mean-square per-cell noise, if known (e.g. from a replicate: half the mean squared
        matched distance between two captures, square-rooted); default: estimated by indirect
        inference.
    noise_shape
        ``"isotropic"`` (the same variance in every feature), ``"diagonal"`` (per-feature variances
        of the residuals) or ``"residual"`` (their full covariance). The residuals of a wrong
        matching concentrate in few directions, so the full covariance overestimates recovery
        beyond the transition.
    map_rounds
        Rounds of the alternation (exact assignment, least squares) that fits an ``"affine"``
        map, from the identity; it stops early once the assignment repeats. Beyond LAOT's
        transition 3 rounds (the default before 2026-12-03) stop at a shrunk map where 50 find
        the true one on non-Gaussian controls (docs/diagnostics.md, "More rounds of the map
        fit": held-out points within 0.10 31 -> 34 of 40, the NF-kB validation unchanged), at
        about twice the time; fewer rounds are faster and, where the matching is easy, give the
        same answer.
    growth
        How the displacement not explained by the map grows with the gap: ``"linear"`` (a rate,
        as the theory's Lipschitz assumption) or ``"sqrt"`` (diffusion).
    n_sim
        Planted matchings per evaluation (more for small numbers of cells, so that every point
        averages at least ``50 * n_sim`` cells).
    sizes
        Numbers of cells per matching for the curve (default :data:`DEFAULT_SIZES` up to n).
    confidence
        Level of the interval.
    max_cells
        Controls used to fit the map and the noise (a random subsample above it, matched against
        every treated cell, at most :data:`FIT_TREATED_CAP`, so that each keeps its partner; the
        simulations are sampled the same way). Ignored with one feature, where every cell is
        used (the exact matching of two equal populations is a sort).
    cell_confidence
        Compute the per-cell confidence of the observed matching.
    find_gap
        Search the gap at which the recovery falls to ``level`` (``gap_at_level``; NaN when
        False).
    random_state
        Seed.

    Returns
    -------
    RecoverabilityEstimate

    Examples
    --------
    >>> from trackability.data.synthetic import near_identity
    >>> pair = near_identity(200, 10, gap=1.0, noise=0.05, random_state=0)
    >>> est = estimate_recoverability(pair.control, pair.treated, gap=1.0, random_state=0)
    >>> 0 <= est.recovery <= 1
    True

    """
    x = check_array(x0, "x0", min_samples=2)
    y = check_array(xt, "xt", min_samples=2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x0 and xt must have the same number of features; got {x.shape[1]} and {y.shape[1]}."
        )
    t = float(gap)
    if not math.isfinite(t) or t <= 0:
        raise ValueError(f"gap must be a finite positive number; got {gap!r}.")
    check_choice(growth, "growth", GROWTHS)
    lv, conf = _check_options(level, confidence, n_sim, max_cells)
    rng = check_random_state(random_state)

    # the populations the model is fitted on (equal sizes; subsampled above max_cells)
    m_fit = _fit_size(x, y, max_cells)
    xs, ys, design = _fit_sample(x, y, m_fit, rng)
    n_avail = min(x.shape[0], y.shape[0])
    n = m_fit if n_cells is None else int(n_cells)
    if n < 2 or n > n_avail:
        raise ValueError(f"n_cells must be in [2, {n_avail}] (the cells available); got {n_cells!r}.")

    rounds = _check_rounds(map_rounds)
    step = _fit_step(xs, ys, map, noise, noise_shape, rng, rounds, design)
    # above max_cells the map and the noise come from the subsample, and the planted matchings of
    # n cells draw their controls from all of them (the subsample has too few)
    pool = xs if n <= m_fit else x
    model = _Model(pool, step.w, step.b, step.chol, step.tau, t, growth)
    assumptions = [
        "the treated cells are the control cells moved by one smooth map (fitted: "
        f"{step.kind}) plus Gaussian noise, independently per cell (no batch shift, no cells gained or "
        "lost)",
        "the noise scale is chosen so that simulated data reproduce the residual of the fitted "
        "matching (indirect inference); with nearly Gaussian controls in few dimensions a linear map "
        "absorbs part of the noise and the recovery is overestimated",
        f"the displacement grows {'linearly' if growth == 'linear' else 'as the square root'} with "
        "the gap (for gap_at_level)",
        "recovery at other numbers of cells: the cells per matching are a random subset of these "
        "controls",
    ]
    if n > m_fit:
        assumptions.append(
            f"the map and the noise are fitted on {m_fit} of the cells (max_cells) and hold for the "
            f"{n} cells per matching the planted matchings draw from all {x.shape[0]} controls")

    def gap_at(n_: int) -> float:
        return _gap_at_level(model, n_, lv, t, n_sim, step.seed)

    return _finish(model, x, y, step.taus, step.residual_rms, step.kind, n=n, m_fit=pool.shape[0],
                   level=lv, sizes=sizes, n_sim=n_sim, conf=conf, max_cells=max_cells,
                   cell_confidence=cell_confidence, gap_at=gap_at if find_gap else None,
                   growth=growth, assumptions=assumptions, rng=rng, map_rounds=rounds)


def estimate_recoverability_course(
    populations: Any,
    times: Any,
    *,
    start: int = 0,
    stop: int = -1,
    n_cells: int | None = None,
    level: float = 0.5,
    map: str = "affine",
    noise_shape: str = "isotropic",
    map_rounds: int = MAP_ROUNDS,
    n_sim: int = 8,
    sizes: Any = None,
    confidence: float = 0.9,
    max_cells: int = 2000,
    cell_confidence: bool = True,
    find_gap: bool = True,
    random_state: Any = 0,
) -> RecoverabilityEstimate:
    """Predict the recovery between two time points of a time course, composed step by step.

    With a time course of unpaired populations (the same experiment measured at ``times``), the
    map and the noise are fitted at each *consecutive* pair (``times[i] -> times[i + 1]``) exactly
    as :func:`estimate_recoverability` fits one pair, and the steps from ``times[start]`` to
    ``times[stop]`` are composed as a Markov chain: ``y = x W_1 W_2 ... + b`` with the noise of
    each step carried through the later maps (covariance ``W_k^T S_{k-1} W_k + S_k``). The planted
    matchings are drawn from that composed model. Fitting one pair across a long gap instead
    lets the fitted map absorb the cells' diverging paths, so the noise it finds hardly grows with
    the gap (on the NF-kB tracks the direct estimate is nearly flat in the gap; docs/diagnostics.md).

    Parameters
    ----------
    populations
        Sequence of arrays (n_i, d), the cells measured at each time point (unpaired; the row
        order carries no information).
    times
        Strictly increasing measurement times, one per population (the units of ``gap`` and
        ``gap_at_level``).
    start, stop
        Indices of the two time points whose matching is predicted (``stop`` may be negative,
        counted from the end); ``start < stop``.
    n_cells, level, map, noise_shape, n_sim, sizes, confidence, max_cells, cell_confidence, random_state
        As in :func:`estimate_recoverability` (``map`` one of ``"affine"``, ``"shift"``,
        ``"identity"``, fitted per step).
    map_rounds
        As in :func:`estimate_recoverability`, for every step's map.
    find_gap
        ``gap_at_level``: the gap from ``times[start]`` at which the predicted recovery of
        ``n_cells`` falls to ``level``, interpolated (in log gap) between the composed models at
        the course's time points; within the first step, the first step's model scaled linearly;
        ``inf`` when the recovery stays above the level to ``times[stop]`` (no extrapolation
        beyond the course).

    Returns
    -------
    RecoverabilityEstimate
        With ``growth="composed"`` and ``steps``: per step its times, fitted noise scale and the
        residual RMS of its matching.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x0 = rng.standard_normal((150, 3))
    >>> course = [x0, x0 + 0.05 * rng.standard_normal(x0.shape)]
    >>> course.append(course[1] + 0.05 * rng.standard_normal(x0.shape))
    >>> est = estimate_recoverability_course([c[rng.permutation(150)] for c in course], [0, 1, 2],
    ...                                      n_sim=4, cell_confidence=False, random_state=0)
    >>> len(est.steps), est.gap
    (2, 2.0)

    """
    pops, tt = _check_course(populations, times, "time point")
    k = len(pops)
    for name, v in (("start", start), ("stop", stop)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not -k <= v < k:
            raise ValueError(f"{name} must be an index into the {k} time points; got {v!r}.")
    i0, i1 = int(start) % k, int(stop) % k
    if i0 >= i1:
        raise ValueError(f"start must come before stop; got time points {i0} and {i1}.")
    lv, conf = _check_options(level, confidence, n_sim, max_cells)
    kind = check_choice(map, "map", MAPS)
    rng = check_random_state(random_state)
    x, y = pops[i0], pops[i1]
    m_fit = _fit_size(x, y, max_cells)
    xs = x[rng.choice(x.shape[0], m_fit, replace=False)] if x.shape[0] > m_fit else x
    n = m_fit if n_cells is None else int(n_cells)
    if n < 2 or n > m_fit:
        raise ValueError(f"n_cells must be in [2, {m_fit}] (the cells available); got {n_cells!r}.")

    # each consecutive pair, fitted as one pair is; then composed (prefix models for gap_at_level)
    rounds = _check_rounds(map_rounds)
    fitted, steps = _fit_steps(pops, tt, i0, i1, kind, noise_shape, max_cells, rng, rounds)
    first = fitted[0]
    chain = _compose(fitted, 0)
    prefixes = [(float(tt[i0 + j + 1] - tt[i0]), m_, c_, s_) for j, (m_, c_, s_) in enumerate(chain)]
    w_tot, b_tot, s_tot = chain[-1]
    gap = float(tt[i1] - tt[i0])
    chol, tau = _unit_chol(s_tot)
    taus = np.array([tau] + [math.sqrt(max(float(np.trace(_compose(fitted, j)[-1][2])), 0.0))
                             for j in range(1, len(first.taus))])
    model = _Model(xs, w_tot, b_tot, chol, tau, gap, "linear")

    def gap_at(n_: int) -> float:
        reps = max(int(n_sim), int(math.ceil(50 * n_sim / n_)))
        recs = []
        for g_, w_, b2, s_ in prefixes:
            c_, t_ = _unit_chol(s_)
            mdl = _Model(xs, w_, b2, c_, t_, g_, "linear")
            recs.append(float(mdl.simulate(n_, g_, reps, np.random.default_rng(first.seed))[0].mean()))
        gs = np.array([p_[0] for p_ in prefixes])
        below = np.flatnonzero(np.array(recs) < lv)
        if below.size == 0:
            return math.inf
        j = int(below[0])
        if j == 0:
            mdl = _Model(xs, first.w, first.b, first.chol, first.tau, float(gs[0]), "linear")
            return _gap_at_level(mdl, n_, lv, float(gs[0]), n_sim, first.seed)
        g0, g1, r0, r1 = math.log(gs[j - 1]), math.log(gs[j]), recs[j - 1], recs[j]
        frac = (r0 - lv) / (r0 - r1) if r0 != r1 else 0.0
        return float(math.exp(g0 + frac * (g1 - g0)))

    assumptions = [
        f"between consecutive time points the cells move by one smooth map (fitted: {kind}) plus "
        "Gaussian noise, independently per cell and per step (a Markov chain: the noise of a step "
        "does not depend on the earlier ones), with no cells gained or lost",
        "each step's noise scale is chosen so that simulated data reproduce the residual of that "
        "step's fitted matching (indirect inference)",
        f"the prediction for time points {i0} -> {i1} composes the {i1 - i0} fitted steps; gaps "
        "beyond the course are not extrapolated",
        "recovery at other numbers of cells: the cells per matching are a random subset of these "
        "controls",
    ]
    # the residual of the composed map under the observed start -> stop matching (biased low)
    ys = y[rng.choice(y.shape[0], m_fit, replace=False)] if y.shape[0] > m_fit else y
    fx = xs @ w_tot + b_tot
    residual_rms = math.sqrt(float(np.mean(np.sum((ys[_partner(fx, ys)] - fx) ** 2, axis=1))))
    return _finish(model, x, y, taus, residual_rms, kind,
                   n=n, m_fit=m_fit, level=lv, sizes=sizes, n_sim=n_sim, conf=conf,
                   max_cells=max_cells, cell_confidence=cell_confidence,
                   gap_at=gap_at if find_gap else None, growth="composed",
                   assumptions=assumptions, rng=rng, steps=steps, map_rounds=rounds)


def estimate_recoverability_windows(
    start_states: Any,
    populations: Any,
    times: Any,
    *,
    window: int,
    start: int = 0,
    stop: int,
    n_cells: int | None = None,
    level: float = 0.5,
    map: str = "affine",
    noise_shape: str = "isotropic",
    map_rounds: int = MAP_ROUNDS,
    n_sim: int = 8,
    sizes: Any = None,
    confidence: float = 0.9,
    max_cells: int = 2000,
    random_state: Any = 0,
) -> RecoverabilityEstimate:
    """Predict the recovery of a matching whose states are windows of consecutive readouts.

    When each cell's state is a short track (``window`` consecutive frames, e.g. the readouts at
    0, 3 and 6 min of a live-cell movie) and the question is whether the windows at ``start`` can
    be matched to the windows at ``stop``, the steps between single frames are fitted on the
    unpaired ``populations`` exactly as :func:`estimate_recoverability_course` fits them, and the
    treated window is simulated from each start window's *last* frame through that chain
    (a Markov chain of single frames: the earlier frames of a window carry no information about
    the future beyond the last one). The treated window is then an affine map of the start window
    with correlated Gaussian noise, its frames sharing the noise of the steps before them
    (covariance ``S_f M_{f -> f'}`` between frames ``f < f'``), and the planted matchings are
    drawn from that model.

    Parameters
    ----------
    start_states
        (n, window * p): each cell's readouts at frames ``start .. start + window - 1``, side by
        side frame after frame (what :func:`~trackability.diagnostics.tracks.window_states`
        returns for p = 1). These are the cells whose matching is predicted.
    populations
        Sequence of arrays (n_i, p), the cells measured at each frame (unpaired).
    times
        Strictly increasing times of the frames.
    window
        Frames per state (>= 2; for one frame use :func:`estimate_recoverability_course`).
    start, stop
        First frames of the two windows, ``stop >= start + window`` (the windows share no frame)
        and ``stop + window - 1`` a frame of the course.
    n_cells, level, map, noise_shape, map_rounds, n_sim, sizes, confidence, max_cells, random_state
        As in :func:`estimate_recoverability`.

    Returns
    -------
    RecoverabilityEstimate
        ``gap`` = ``times[stop] - times[start]``, ``growth="composed-windows"``, ``steps`` per
        fitted step; ``W`` and ``b`` the map between states; no gap at the level (NaN) and no
        per-cell confidence (the treated windows are not given).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> tracks = np.cumsum(0.05 * rng.standard_normal((200, 8)), axis=1) + rng.standard_normal((200, 1))
    >>> frames = [tracks[rng.permutation(200), k:k + 1] for k in range(8)]
    >>> est = estimate_recoverability_windows(tracks[:, 0:2], frames, np.arange(8.0), window=2,
    ...                                       stop=4, n_sim=4, random_state=0)
    >>> est.gap, len(est.steps)
    (4.0, 4)

    """
    pops, tt = _check_course(populations, times, "frame")
    p = pops[0].shape[1]
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 2:
        raise ValueError(f"window must be an integer >= 2 (one frame: estimate_recoverability_course); "
                         f"got {window!r}.")
    w_ = int(window)
    k = len(pops)
    for name, v in (("start", start), ("stop", stop)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 0 <= v < k:
            raise ValueError(f"{name} must be a frame index in [0, {k - 1}]; got {v!r}.")
    i0, i1 = int(start), int(stop)
    if i1 < i0 + w_:
        raise ValueError(f"stop must be at least start + window = {i0 + w_} (the two windows must not "
                         f"share a frame); got {i1}.")
    if i1 + w_ - 1 >= k:
        raise ValueError(f"the window at stop={i1} needs frames up to {i1 + w_ - 1}; the course has "
                         f"{k} frames (0 .. {k - 1}).")
    x = check_array(start_states, "start_states", min_samples=2)
    if x.shape[1] != w_ * p:
        raise ValueError(f"start_states must have window * features = {w_} x {p} = {w_ * p} columns "
                         f"(frames side by side); got {x.shape[1]}.")
    lv, conf = _check_options(level, confidence, n_sim, max_cells)
    kind = check_choice(map, "map", MAPS)
    rng = check_random_state(random_state)
    m_fit = min(x.shape[0], int(max_cells))
    xs = x[rng.choice(x.shape[0], m_fit, replace=False)] if x.shape[0] > m_fit else x
    n = m_fit if n_cells is None else int(n_cells)
    if n < 2 or n > m_fit:
        raise ValueError(f"n_cells must be in [2, {m_fit}] (the cells available); got {n_cells!r}.")

    # the chain of single frames from the start window's last frame to the stop window's last
    base, last = i0 + w_ - 1, i1 + w_ - 1
    rounds = _check_rounds(map_rounds)
    fitted, steps = _fit_steps(pops, tt, base, last, kind, noise_shape, max_cells, rng, rounds)
    n_draws = len(fitted[0].taus)

    def state_model(draw: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # per frame f after the base: x_f = s M_f + c_f + e_f, Cov(e_f) = S_f, and for f < f'
        # Cov(e_f, e_f') = S_f M_{f -> f'}; the window's frames are i1 .. i1 + window - 1
        frames = {base + j + 1: mcs for j, mcs in enumerate(_compose(fitted, draw))}
        w_state = np.zeros((w_ * p, w_ * p))
        b_state = np.zeros(w_ * p)
        cov = np.zeros((w_ * p, w_ * p))
        for a_ in range(w_):
            fa = i1 + a_
            ma, ca, sa = frames[fa]
            w_state[(w_ - 1) * p:, a_ * p:(a_ + 1) * p] = ma
            b_state[a_ * p:(a_ + 1) * p] = ca
            cov[a_ * p:(a_ + 1) * p, a_ * p:(a_ + 1) * p] = sa
            prop = np.eye(p)
            for c_ in range(a_ + 1, w_):
                prop = prop @ fitted[i1 + c_ - 1 - base].w  # the step into frame i1 + c_
                block = sa @ prop
                cov[a_ * p:(a_ + 1) * p, c_ * p:(c_ + 1) * p] = block
                cov[c_ * p:(c_ + 1) * p, a_ * p:(a_ + 1) * p] = block.T
        return w_state, b_state, cov

    w_state, b_state, cov = state_model(0)
    chol, tau = _unit_chol(cov)
    taus = np.array([tau] + [math.sqrt(max(float(np.trace(state_model(j)[2])), 0.0))
                             for j in range(1, n_draws)])
    gap = float(tt[i1] - tt[i0])
    model = _Model(xs, w_state, b_state, chol, tau, gap, "linear")
    assumptions = [
        f"between consecutive frames the cells move by one smooth map (fitted: {kind}) plus "
        "Gaussian noise, independently per cell and per step (a Markov chain of single frames)",
        "a window's earlier frames carry no information about later frames beyond its last one",
        "each step's noise scale is chosen so that simulated data reproduce the residual of that "
        "step's fitted matching (indirect inference)",
        "recovery at other numbers of cells: the cells per matching are a random subset of "
        "start_states",
    ]
    return _finish(model, x, x, taus, math.nan, kind,
                   n=n, m_fit=m_fit, level=lv, sizes=sizes, n_sim=n_sim, conf=conf,
                   max_cells=max_cells, cell_confidence=False, gap_at=None,
                   growth="composed-windows", assumptions=assumptions, rng=rng, steps=steps,
                   map_rounds=rounds)


def _check_options(level: Any, confidence: Any, n_sim: Any, max_cells: Any) -> tuple[float, float]:
    """``level`` and ``confidence`` in (0, 1); ``n_sim`` >= 2 and ``max_cells`` >= 10 integers."""
    lv = float(level)
    if not 0 < lv < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}.")
    conf = float(confidence)
    if not 0 < conf < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}.")
    for name, v, lo in (("n_sim", n_sim, 2), ("max_cells", max_cells, 10)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}; got {v!r}.")
    return lv, conf


def _check_rounds(map_rounds: Any) -> int:
    """``map_rounds``: an integer >= 1."""
    if isinstance(map_rounds, bool) or not isinstance(map_rounds, int | np.integer) or map_rounds < 1:
        raise ValueError(f"map_rounds must be an integer >= 1; got {map_rounds!r}.")
    return int(map_rounds)


def _check_course(populations: Any, times: Any, unit: str) -> tuple[list[np.ndarray], np.ndarray]:
    """The populations of a course (same features, >= 2 cells each) and their increasing times."""
    if isinstance(populations, np.ndarray) and populations.ndim == 2:
        raise ValueError(f"populations must be a sequence of arrays (one per {unit}), not one array.")
    pops = [check_array(p_, f"populations[{i}]", min_samples=2) for i, p_ in enumerate(populations)]
    if len(pops) < 2:
        raise ValueError(f"populations must hold at least 2 {unit}s; got {len(pops)}.")
    dims = {p_.shape[1] for p_ in pops}
    if len(dims) != 1:
        raise ValueError(f"populations must all have the same number of features; got {sorted(dims)}.")
    tt = np.asarray(times, dtype=float).reshape(-1)
    if tt.size != len(pops):
        raise ValueError(f"times must have one entry per population ({len(pops)}); got {tt.size}.")
    if not np.all(np.isfinite(tt)) or np.any(np.diff(tt) <= 0):
        raise ValueError(f"times must be finite and strictly increasing; got {tt.tolist()}.")
    return pops, tt


def _fit_steps(pops: list[np.ndarray], tt: np.ndarray, i_from: int, i_to: int, kind: str,
               noise_shape: str, max_cells: int, rng: np.random.Generator,
               rounds: int = MAP_ROUNDS) -> tuple[list[_Step], list[dict[str, Any]]]:
    """Each consecutive pair ``i -> i + 1`` from ``i_from`` to ``i_to``, fitted as one pair is."""
    fitted: list[_Step] = []
    steps: list[dict[str, Any]] = []
    for i in range(i_from, i_to):
        a, b_ = pops[i], pops[i + 1]
        m_i = _fit_size(a, b_, max_cells)
        a_s, b_s, design = _fit_sample(a, b_, m_i, rng)
        st = _fit_step(a_s, b_s, kind, None, noise_shape, rng, rounds, design)
        fitted.append(st)
        steps.append({"from": float(tt[i]), "to": float(tt[i + 1]), "noise_scale": st.tau,
                      "residual_rms": st.residual_rms, "n_fit": int(m_i)})
    return fitted, steps


def _compose(fitted: list[_Step], draw: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The chain of fitted steps composed: after each step, ``(M, c, S)`` with ``x -> x M + c``.

    ``S`` is the covariance of the accumulated noise, each step's noise (scale ``taus[draw]``)
    carried through the later maps: ``S_k = W_k^T S_{k-1} W_k + tau_k^2 C_k C_k^T``.
    """
    p = fitted[0].w.shape[0]
    m_, c_, s_ = np.eye(p), np.zeros(p), np.zeros((p, p))
    out = []
    for st in fitted:
        m_, c_ = m_ @ st.w, c_ @ st.w + st.b
        s_ = st.w.T @ s_ @ st.w + st.taus[draw] ** 2 * (st.chol @ st.chol.T)
        out.append((m_, c_, s_))
    return out


def _unit_chol(cov: np.ndarray) -> tuple[np.ndarray, float]:
    """A factor ``C`` of ``cov`` with unit Frobenius norm, and the scale: ``cov = tau^2 C C^T``."""
    d = cov.shape[0]
    tr = float(np.trace(cov))
    if not math.isfinite(tr) or tr <= 0:
        return np.eye(d) / math.sqrt(d), 0.0
    try:
        c = np.linalg.cholesky(cov + 1e-12 * tr / d * np.eye(d))
    except np.linalg.LinAlgError:
        c = np.eye(d) * math.sqrt(tr / d)
    tau = math.sqrt(float(np.sum(c**2)))
    return c / tau, tau


@dataclass
class _Step:
    """One fitted pair of populations: map, unit-RMS noise shape, noise scale and its draws."""

    w: np.ndarray
    b: np.ndarray
    chol: np.ndarray
    tau: float
    taus: np.ndarray
    residual_rms: float
    kind: str
    seed: int


#: Most treated cells the sampled controls are matched against when there are more treated cells
#: than ``max_cells`` (the cost matrix is ``max_cells`` x this, float64).
FIT_TREATED_CAP = 20_000


@dataclass
class _Design:
    """How the fitted cells were drawn when the treated cells outnumber ``max_cells``."""

    pool: np.ndarray  # all the controls
    ix: np.ndarray  # the rows of ``pool`` that were sampled
    n_treated: int  # treated cells in the data


def _fit_size(x: np.ndarray, y: np.ndarray, max_cells: int) -> int:
    """Cells per population the map and the noise are fitted on.

    ``min(n0, nt, max_cells)``; with one feature ``min(n0, nt)`` whatever ``max_cells``: the exact
    matching of two equal populations is then a sort, and controls subsampled below the treated
    cells would be matched against many more of them, where in one dimension the residual hardly
    depends on the noise (nearby unmatched cells absorb it; on the NF-kB tracks, 300 of ~1,000
    cells: the predicted n at 50 % went from 14 to 23 cells, measured 7).
    """
    if x.shape[1] == 1:
        return min(x.shape[0], y.shape[0])
    return min(x.shape[0], y.shape[0], int(max_cells))


def _fit_sample(x: np.ndarray, y: np.ndarray, m_fit: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, _Design | None]:
    """The cells the map and the noise are fitted on: ``m_fit`` controls and the treated cells.

    With no more treated cells than ``m_fit``: ``m_fit`` of each. With more: ``m_fit`` controls
    against all the treated cells (at most :data:`FIT_TREATED_CAP`), so that
    every sampled control keeps its partner. Two subsamples drawn independently share few
    partners (a quarter at 200 of 800), and the residual of their matching is mostly the distance
    between different cells: the fitted noise was 10x too large there (docs/diagnostics.md, "More
    cells than max_cells").
    """
    ix = rng.choice(x.shape[0], m_fit, replace=False) if x.shape[0] > m_fit else None
    xs = x[ix] if ix is not None else x
    if y.shape[0] <= m_fit:
        return xs, y, None
    k = max(FIT_TREATED_CAP, m_fit)
    ys = y[rng.choice(y.shape[0], k, replace=False)] if y.shape[0] > k else y
    return xs, ys, _Design(x, np.arange(x.shape[0]) if ix is None else ix, int(y.shape[0]))


def _fit_step(xs: np.ndarray, ys: np.ndarray, map: Any, noise: float | None, noise_shape: str,
              rng: np.random.Generator, rounds: int = MAP_ROUNDS,
              design: _Design | None = None) -> _Step:
    """Steps 1-2 of the estimate: the map, the noise shape and (unless given) its scale.

    ``design`` (from :func:`_fit_sample`): ``ys`` are all (or a random cap of) the treated cells,
    and the simulated statistic is computed the same way: the sampled controls' partners among
    treated cells simulated from every control.
    """
    d = xs.shape[1]
    sim_init: tuple[np.ndarray, np.ndarray] | None = None
    if isinstance(map, tuple):
        w = check_array(np.atleast_2d(map[0]), "map[0] (W)")
        b = np.asarray(map[1], dtype=float).reshape(-1)
        if w.shape != (d, d) or b.shape != (d,):
            raise ValueError(f"map must be (W, b) with W of shape ({d}, {d}) and b of length {d}.")
        kind = "given"
        p = _partner(xs @ w + b, ys)
        res = ys[p] - (xs @ w + b)
        stat_obs = float(np.mean(np.sum(res**2, axis=1)))
    else:
        kind = check_choice(map, "map", MAPS)
        init = None
        if design is not None and kind == "affine":
            # matched against more treated cells than controls, the alternation from the identity
            # settles on a map near it (at 2,000 of 10,000 cells: 0.81 from the true one in
            # Frobenius norm, the noise then 30x too large); it starts from the map of an equal
            # subsample of the treated cells instead (0.17 from it; one refinement: the truth)
            sq = ys[rng.choice(ys.shape[0], xs.shape[0], replace=False)]
            w0, b0, _ = _fit_affine(xs, sq, kind, rounds)
            init = (w0, b0)
        stat_obs, w, b, p, res = _residual_stat(xs, ys, kind, rounds, init)
        # simulated data are refitted from the map they were drawn from (the search the data
        # needed is assumed to have succeeded)
        sim_init = (w, b) if init is not None else None
    residual_rms = math.sqrt(stat_obs)
    check_choice(noise_shape, "noise_shape", SHAPES)
    cov = np.cov(res, rowvar=False).reshape(d, d) + 1e-12 * np.eye(d) * max(stat_obs / d, 1e-300)
    if noise_shape == "diagonal":
        cov = np.diag(np.diag(cov))
    elif noise_shape == "isotropic":
        cov = np.eye(d)
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        chol = np.eye(d) * math.sqrt(max(stat_obs, 1e-300) / d)
    chol_norm = math.sqrt(float(np.sum(chol**2)))
    if chol_norm == 0 or not math.isfinite(chol_norm):
        chol, chol_norm = np.eye(d) / math.sqrt(d), 1.0
    chol = chol / chol_norm  # unit RMS: tau is the RMS per-cell noise

    # 2. the noise scale, by indirect inference
    seed = int(rng.integers(2**31))

    if design is not None:
        rest = np.setdiff1d(np.arange(design.pool.shape[0]), design.ix)
        rest = rest if rest.size else np.arange(design.pool.shape[0])

    def sim_stat(tau: float) -> float:
        g = np.random.default_rng(seed)
        if design is None:
            yy = xs @ w + b + tau * g.standard_normal(xs.shape) @ chol.T
            yy = yy[g.permutation(xs.shape[0])]
        else:
            # a treated population of the data's size: the sampled controls' partners and partners
            # of other controls (drawn again where the treated cells outnumber them), cut to the
            # size matched in the data
            k_other = design.n_treated - design.ix.size
            others = g.choice(rest, k_other, replace=k_other > rest.size)
            src = np.concatenate([design.ix, others])
            if ys.shape[0] < src.size:
                src = src[g.choice(src.size, ys.shape[0], replace=False)]
            src = src[g.permutation(src.size)]
            yy = design.pool[src] @ w + b + tau * g.standard_normal((src.size, d)) @ chol.T
        if kind == "given":
            pp = _partner(xs @ w + b, yy)
            r = yy[pp] - (xs @ w + b)
            return float(np.mean(np.sum(r**2, axis=1)))
        return _residual_stat(xs, yy, kind, rounds, sim_init)[0]

    if noise is not None:
        tau = float(noise)
        if not math.isfinite(tau) or tau < 0:
            raise ValueError(f"noise must be a finite number >= 0; got {noise!r}.")
        taus = np.array([tau])
    else:
        tau = _solve_tau(sim_stat, stat_obs, residual_rms)
        # uncertainty of the noise scale: re-solve on bootstrap draws of the observed statistic
        # (the per-cell squared residuals resampled)
        sq = np.sum(res**2, axis=1)
        boots = [float(np.mean(sq[rng.integers(0, sq.size, sq.size)])) for _ in range(2)]
        taus = np.array([tau] + [_solve_tau(sim_stat, s, math.sqrt(s)) for s in boots])
    return _Step(np.asarray(w), np.asarray(b), chol, float(tau), taus, residual_rms, kind, seed)


def _finish(model: _Model, x: np.ndarray, y: np.ndarray, taus: np.ndarray, residual_rms: float,
            kind: str, *, n: int, m_fit: int, level: float, sizes: Any, n_sim: int, conf: float,
            max_cells: int, cell_confidence: bool, gap_at: Any, growth: str,
            assumptions: list[str], rng: np.random.Generator,
            steps: list[dict[str, Any]] | None = None,
            map_rounds: int = MAP_ROUNDS) -> RecoverabilityEstimate:
    """Steps 3-4 on a fitted model: the recovery curve, the gap at the level, per-cell confidence."""
    t, tau, chol, lv = model.gap, model.tau, model.chol, level
    # 3. planted matchings: the recovery curve at this gap
    if sizes is None:
        grid = [s for s in DEFAULT_SIZES if s < n] + [n]
    else:
        grid = sorted({int(s) for s in np.atleast_1d(sizes) if 2 <= int(s) <= m_fit} | {n})
    alpha = (1 - conf) / 2
    rec_mean, rec_lo, rec_hi = [], [], []
    for m in grid:
        reps = max(int(n_sim), int(math.ceil(50 * n_sim / m)))
        vals = []
        for tv in taus:
            r, _ = model.simulate(m, t, max(2, reps // len(taus)), rng, tau=float(tv))
            vals.append(r)
        allv = np.concatenate(vals)
        rec_mean.append(float(np.mean(allv)))
        # the interval: spread of the mean over the noise-scale draws plus sampling of n cells
        means = np.array([v.mean() for v in vals])
        se = float(np.std(allv, ddof=1) / math.sqrt(max(1, allv.size))) if allv.size > 1 else 0.0
        z = 1.6448536269514722 if abs(conf - 0.9) < 1e-9 else _z(conf)
        lo = min(float(np.quantile(means, alpha)), rec_mean[-1] - z * se)
        hi = max(float(np.quantile(means, 1 - alpha)), rec_mean[-1] + z * se)
        rec_lo.append(max(0.0, lo))
        rec_hi.append(min(1.0, hi))
    recovery = rec_mean[-1]
    xs_arr, ys_arr = np.array(grid, dtype=float), np.array(rec_mean)
    n_at = _interp_crossing(xs_arr, ys_arr, lv)
    if math.isinf(n_at) and n < m_fit:
        n_at = math.inf

    # the gap at which the recovery of n cells falls to the level
    gap_at_v = gap_at(n) if gap_at is not None else math.nan

    # 4. per-cell confidence of the observed matching
    part = np.full(x.shape[0], -1, dtype=np.int64)
    conf_cells = np.full(x.shape[0], np.nan)
    ece = math.nan
    if cell_confidence:
        observed = x.shape[0] <= max_cells and y.shape[0] <= max_cells
        # calibrate at the size of the matching it is applied to: a pair's margin shrinks as more
        # cells compete for it, so a calibration fitted on 500-cell matchings over-trusts the pairs
        # of a 5,000-cell one (ECE 0.40 on the grid before this)
        m_cal = m_fit if observed else min(n, 500)
        _, feats = model.simulate(m_cal, t, max(4, int(math.ceil(2000 / m_cal))), rng, features=True)
        half = max(1, len(feats) // 2)
        iso = _fit_calibration(feats[:half])
        held = feats[half:] or feats[:half]
        f_h = np.concatenate([a for a, _ in held])
        ok_h = np.concatenate([o for _, o in held])
        ece = expected_calibration_error(iso.predict(np.clip(np.nan_to_num(f_h, posinf=1e6, neginf=-1e6),
                                                             -1e6, 1e6)), ok_h)
        iso = _fit_calibration(feats)
        if observed:
            # the matching whose recovery is predicted: x0 to xt as they are (the planted
            # matchings the calibration was fitted on are matched the same way)
            pp = _partner(x, y)
            ok_rows = pp >= 0
            f_obs = np.full(x.shape[0], np.nan)
            if ok_rows.all():
                f_obs = _margin_feature(x, y, pp, tau, chol)
            conf_cells = iso.predict(np.clip(np.nan_to_num(f_obs, posinf=1e6, neginf=-1e6), -1e6, 1e6))
            conf_cells[~ok_rows] = np.nan
            part = pp

    return RecoverabilityEstimate(
        n=n, d=x.shape[1], gap=t, recovery=recovery, interval=(rec_lo[-1], rec_hi[-1]), level=lv,
        n_at_level=float(n_at), gap_at_level=float(gap_at_v),
        curve={"n_cells": [float(v) for v in grid], "recovery": rec_mean, "lo": rec_lo, "hi": rec_hi},
        noise_scale=float(tau), residual_rms=residual_rms, map=kind, W=np.asarray(model.w),
        b=np.asarray(model.b),
        partner=part, cell_confidence=conf_cells, calibration_ece=float(ece), confidence=conf,
        n_sim=int(n_sim), growth=growth, assumptions=assumptions, steps=steps or [],
        map_rounds=int(map_rounds),
    )


def _z(conf: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + conf / 2))


def _solve_tau(sim_stat: Any, target: float, start: float, iters: int = 10) -> float:
    """Smallest ``tau >= 0`` with ``sim_stat(tau) >= target`` (bisection; the statistic grows with tau)."""
    if target <= 0 or sim_stat(0.0) >= target:
        return 0.0
    hi = max(start, 1e-300)
    k = 0
    while sim_stat(hi) < target:
        hi *= 2.0
        k += 1
        if k > 60:
            return hi
    lo = 0.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if sim_stat(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _gap_at_level(model: _Model, n: int, level: float, gap: float, n_sim: int, seed: int) -> float:
    reps = max(int(n_sim), int(math.ceil(50 * n_sim / n)))

    def rec(s: float) -> float:
        return float(model.simulate(n, s, reps, np.random.default_rng(seed))[0].mean())

    lo, hi = gap, gap
    r = rec(gap)
    if r >= level:
        k = 0
        while rec(hi * 4) >= level:
            hi *= 4
            k += 1
            if k > 12:
                return math.inf
        lo, hi = hi, hi * 4
    else:
        k = 0
        while rec(lo / 4) < level:
            lo /= 4
            k += 1
            if k > 12:
                return 0.0
        lo, hi = lo / 4, lo
    for _ in range(6):
        mid = math.sqrt(lo * hi)
        if rec(mid) >= level:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)
