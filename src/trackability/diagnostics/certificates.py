"""Matching certificates: how firmly each cell is assigned to its partner.

- :func:`assignment_margins`: per source cell, the exact increase of the total assignment cost if
  that cell were forced to take any other partner (the cheapest re-assignment of all cells that
  avoids its current partner). 0 means an equally cheap alternative exists: the match is not
  identified. Computed from the assignment's dual potentials: the cheapest alternative is the
  shortest alternating cycle through the cell in the graph of reduced costs (one Bellman-Ford pass
  for the potentials, then Dijkstra from each cell), ``O(n^2)`` memory and ``O(n^3)`` time.
- :func:`bootstrap_stability`: refit on random subsamples of both populations and count how often
  each cell keeps its partner (given a ``fit`` callable, so that this module stays below the model
  layer).
- :func:`certify_matching`: both, for a fitted map with ``W_``, ``intercept_`` and ``matching_``
  (a fitted :class:`~trackability.models.LAOT`, duck-typed), with the unidentified cells flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trackability._progress import progress_bar
from trackability._validation import check_array, check_choice, check_pair, check_random_state
from trackability.diagnostics._memory import check_bytes
from trackability.matching import COSTS, Matching, cost_matrix, solve_dense


def _as_pairs(matching: Any, n0: int, nt: int) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(matching, "source") and hasattr(matching, "target"):
        src = np.asarray(matching.source, dtype=np.int64)
        tgt = np.asarray(matching.target, dtype=np.int64)
    else:
        arr = np.asarray(matching)
        if arr.shape != (n0,) or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"matching must be a Matching or an integer array of length {n0} (the target of "
                "each source cell, -1 if unmatched)."
            )
        src = np.flatnonzero(arr >= 0)
        tgt = arr[src].astype(np.int64)
    if src.size != min(n0, nt):
        raise ValueError(
            f"matching pairs {src.size} cells; a complete one-to-one matching of {n0} source and "
            f"{nt} target cells pairs {min(n0, nt)}."
        )
    if (src.min() < 0 or src.max() >= n0 or tgt.min() < 0 or tgt.max() >= nt
            or np.unique(src).size != src.size or np.unique(tgt).size != tgt.size):
        raise ValueError("matching is not one-to-one within the given populations.")
    return src, tgt


def margins_bytes(n_source: int, n_target: int) -> int:
    """Predicted peak memory of :func:`assignment_margins`: about ten dense ``n x n`` float64 arrays.

    Measured with ``tracemalloc`` at 1,000 and 2,000 cells: 10.3 and 9.0 arrays of ``n^2`` doubles
    (the squared cost, the re-assignment and reduced-cost matrices, the pruned graph and their
    temporaries).
    """
    n = max(int(n_source), int(n_target))
    return 10 * 8 * n * n + 8 * int(n_source) * int(n_target)


def _potentials(w: np.ndarray, tol: float) -> np.ndarray:
    """Bellman-Ford from a virtual source: ``p_l = min(0, min_k p_k + w[k, l])``."""
    n = w.shape[0]
    p = np.zeros(n)
    for _ in range(n + 1):
        cand = np.min(p[:, None] + w, axis=0)
        better = cand < p - tol
        if not better.any():
            return p
        p = np.where(better, cand, p)
    raise ValueError(
        "matching is not an optimal assignment for these costs: a cheaper one exists (a negative "
        "cycle of re-assignments). Margins are defined for the optimal assignment only."
    )


def assignment_margins(
    source: Any,
    target: Any,
    matching: Any = None,
    *,
    cost: str = "sqeuclidean",
    cells: Any = None,
    max_memory: Any = None,
) -> np.ndarray:
    """Exact per-cell margin of an optimal assignment.

    Parameters
    ----------
    source, target
        Cells as rows, (n0, d) and (nt, d): typically the mapped control cells ``F(x0)`` and the
        treated cells.
    matching
        The optimal :class:`~trackability.matching.Matching` (or an integer array, the target of
        each source cell); solved here when None. A matching that is not optimal is refused.
    cost
        ``"sqeuclidean"`` or ``"euclidean"``.
    cells
        Indices of the source cells to certify (default: all). Each costs one Dijkstra,
        ``O(n^2)``.
    max_memory
        Memory budget, bytes or like ``"8GB"`` (default: 80 % of the memory available now). The
        margins hold about ten dense ``n x n`` float64 arrays at their peak (``n`` the larger
        population): a problem that would not fit is refused before anything is allocated.

    Returns
    -------
    numpy.ndarray of shape (n0,)
        ``margin[i]`` = (cheapest total cost with cell ``i`` not matched to its partner) - (optimal
        total cost) >= 0. NaN for cells not requested in ``cells`` and for source cells left
        unmatched (more source than target cells).

    """
    from scipy.sparse.csgraph import csgraph_from_dense, dijkstra

    check_choice(cost, "cost", COSTS)
    a, b = check_pair(source, target, min_samples=1)
    n0, nt = a.shape[0], b.shape[0]
    if min(n0, nt) < 2 and max(n0, nt) < 2:
        raise ValueError("margins need at least two cells in one of the populations.")
    check_bytes(
        margins_bytes(n0, nt), what=f"assignment margins on {n0} x {nt} cells", max_memory=max_memory,
        fix="certify a random subsample of the cells (both populations; the margins need the full "
        "n x n cost matrix even with cells=...) or raise max_memory",
    )
    c = cost_matrix(a, b, cost)
    if matching is None:
        matching = solve_dense(a, b, cost)
    src, tgt = _as_pairs(matching, n0, nt)
    if cells is None:
        req = np.arange(n0)
    else:
        req = np.unique(np.asarray(cells, dtype=np.int64).ravel())
        if req.size == 0 or req.min() < 0 or req.max() >= n0:
            raise ValueError(f"cells must be indices in [0, {n0}); got {cells!r}.")

    # square the problem with zero-cost dummy rows / columns
    n = max(n0, nt)
    cs = np.zeros((n, n))
    cs[:n0, :nt] = c
    sigma = np.full(n, -1, dtype=np.int64)
    sigma[src] = tgt
    free_cols = np.setdiff1d(np.arange(n), sigma[sigma >= 0])
    sigma[sigma < 0] = free_cols
    own = cs[np.arange(n), sigma]
    # w[k, l]: change in cost when row k takes the partner of row l (and gives up its own)
    w = cs[:, sigma] - own[:, None]
    np.fill_diagonal(w, np.inf)
    scale = float(np.max(np.abs(c))) if c.size else 1.0
    tol = 1e-12 * max(scale, 1e-300) * n
    p = _potentials(w, tol)
    r = w + p[:, None] - p[None, :]
    np.maximum(r, 0.0, out=r)  # rounding
    np.fill_diagonal(r, np.inf)

    margins = np.full(n0, np.nan)
    matched = np.zeros(n0, dtype=bool)
    matched[src] = True
    todo = req[matched[req]]
    if todo.size:
        # Exact pruning: a cell's margin is at most its cheapest swap (a 2-cycle), ``ub``, and every
        # edge of its optimal cycle, and every distance along it, is at most the margin (reduced
        # costs are >= 0). Cells are processed in chunks of similar ``ub``; each chunk's Dijkstra
        # sees only edges up to the chunk's largest ``ub`` and stops exploring beyond it.
        ub = np.min(r[todo] + r[:, todo].T, axis=1)
        order = np.argsort(ub, kind="stable")
        for chunk in np.array_split(order, max(1, int(np.ceil(todo.size / 64)))):
            cells_k = todo[chunk]
            lim = float(ub[chunk].max())
            if np.isfinite(lim):
                lim = lim * (1 + 1e-9) + tol
                graph = csgraph_from_dense(np.where(r <= lim, r, np.inf), null_value=np.inf)
                dist = dijkstra(graph, directed=True, indices=cells_k, limit=lim)
            else:
                graph = csgraph_from_dense(r, null_value=np.inf)
                dist = dijkstra(graph, directed=True, indices=cells_k)
            # shortest cycle through i: a path i -> m, then the edge m -> i
            cyc = np.min(dist + r[:, cells_k].T, axis=1)
            margins[cells_k] = np.maximum(cyc, 0.0)
    return margins


def bootstrap_stability(
    source: Any,
    target: Any,
    matching: Any,
    fit: Callable[[np.ndarray, np.ndarray], Any],
    *,
    n_boot: int = 50,
    fraction: float = 0.8,
    random_state: Any = 0,
    progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of subsampled refits in which each source cell keeps its partner.

    Each resample draws ``fraction`` of the source cells without replacement and refits against all
    target cells, ``fit(source_subset, target)``: every drawn cell still has its partner available,
    and the question is whether the fit keeps choosing it when the other cells (and so the fitted
    map) change. Resampling with replacement would duplicate cells, whose matches are then ambiguous
    by construction; subsampling the targets as well would force drawn cells whose partner was not
    drawn onto other cells' partners, an artefact of the resample rather than of the data.

    Parameters
    ----------
    source, target
        The populations the matching was fitted on (cells as rows).
    matching
        The reference matching (a Matching or the target index of each source cell).
    fit
        ``fit(source, target)`` returning a Matching, or an object with a ``matching_`` attribute
        (e.g. ``lambda s, t: LAOT().fit(s, t)``).
    n_boot
        Number of resamples.
    fraction
        Fraction of the source cells drawn per resample.
    random_state
        Seed.
    progress
        Progress bar over resamples.

    Returns
    -------
    stability : ndarray (n0,)
        Kept / present; NaN for unmatched cells or cells never drawn.
    present : ndarray (n0,)
        Number of resamples in which the cell was drawn.

    """
    a, b = check_pair(source, target, min_samples=2)
    n0, nt = a.shape[0], b.shape[0]
    src, tgt = _as_pairs(matching, n0, nt)
    if not callable(fit):
        raise TypeError(f"fit must be a callable fit(source, target); got {type(fit).__name__}.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer; got {n_boot!r}.")
    fr = float(fraction)
    if not 0 < fr <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}.")
    m0 = min(n0, max(2, round(fr * n0)))
    rng = check_random_state(random_state)
    partner = np.full(n0, -1, dtype=np.int64)
    partner[src] = tgt
    present = np.zeros(n0, dtype=np.int64)
    kept = np.zeros(n0, dtype=np.int64)
    for _ in progress_bar(range(int(n_boot)), desc="bootstrap stability", progress=progress):
        si = np.sort(rng.choice(n0, size=m0, replace=False))
        ti = np.arange(nt)
        res = fit(a[si], b)
        mb = res if isinstance(res, Matching) else getattr(res, "matching_", None)
        if mb is None or not hasattr(mb, "source"):
            raise TypeError("fit must return a Matching or an object with a matching_ attribute.")
        new_partner = np.full(n0, -1, dtype=np.int64)
        new_partner[si[np.asarray(mb.source)]] = ti[np.asarray(mb.target)]
        both = np.zeros(n0, dtype=bool)
        both[si] = True
        both &= partner >= 0
        present += both
        kept += both & (new_partner == partner)
    with np.errstate(invalid="ignore", divide="ignore"):
        stability = np.where(present > 0, kept / np.maximum(present, 1), np.nan)
    return stability, present


@dataclass(frozen=True)
class MatchingCertificate:
    """Per-cell certificate of a fitted matching.

    Attributes
    ----------
    partner
        Target index of each source cell (-1: unmatched).
    margin
        Exact cost increase of the cheapest re-assignment that changes the cell's partner (cost
        units of ``cost_name`` on the mapped cells).
    stability
        Fraction of subsampled refits that keep the partner (None when no refit was run).
    flagged
        Cells whose match is not identifiable: margin <= ``margin_tol`` or stability below
        ``stability_threshold``.
    reoptimised
        True if the model's own matching was not optimal for its final map, so the margins refer
        to the optimal assignment of the mapped cells (which then differs in ``n_reassigned`` cells).

    """

    partner: np.ndarray
    margin: np.ndarray
    stability: np.ndarray | None
    flagged: np.ndarray
    margin_tol: float
    stability_threshold: float
    n_boot: int
    fraction: float
    cost_name: str
    reoptimised: bool
    n_reassigned: int

    @property
    def n_flagged(self) -> int:
        """Number of flagged cells."""
        return int(self.flagged.sum())

    def to_frame(self):
        """One row per source cell: ``partner``, ``margin``, ``stability``, ``flagged``."""
        import pandas as pd

        return pd.DataFrame({
            "partner": self.partner, "margin": self.margin,
            "stability": self.stability if self.stability is not None else np.nan,
            "flagged": self.flagged,
        })

    def summary(self) -> dict[str, Any]:
        """Counts and medians, as plain Python."""
        ok = self.partner >= 0
        return {
            "n_cells": int(ok.sum()), "n_flagged": self.n_flagged,
            "median_margin": float(np.nanmedian(self.margin[ok])) if ok.any() else None,
            "min_margin": float(np.nanmin(self.margin[ok])) if ok.any() else None,
            "median_stability": None if self.stability is None
            else float(np.nanmedian(self.stability[ok])),
            "margin_tol": self.margin_tol, "stability_threshold": self.stability_threshold,
            "n_boot": self.n_boot, "fraction": self.fraction, "cost_name": self.cost_name,
            "reoptimised": self.reoptimised, "n_reassigned": self.n_reassigned,
        }


def _refit_from(model: Any) -> Callable[[np.ndarray, np.ndarray], Any] | None:
    if hasattr(model, "get_params") and hasattr(model, "fit"):
        params = model.get_params()
        if "progress" in params:
            params["progress"] = False
        cls = type(model)
        return lambda s, t: cls(**params).fit(s, t)
    return None


def certify_matching(
    model: Any,
    source: Any,
    target: Any,
    *,
    fit: Callable[[np.ndarray, np.ndarray], Any] | None = None,
    n_boot: int = 50,
    fraction: float = 0.8,
    margin_tol: float | None = None,
    stability_threshold: float = 0.9,
    random_state: Any = 0,
    progress: bool | None = None,
    max_memory: Any = None,
) -> MatchingCertificate:
    """Certify, cell by cell, the matching of a fitted linear map (e.g. LAOT).

    Parameters
    ----------
    model
        Fitted object with ``W_`` (d x d; ``F(x) = x @ W_.T + intercept_``), optional
        ``intercept_`` and ``matching_`` (a Matching). Duck-typed: nothing from the model layer is
        imported.
    source, target
        The control and treated cells the model was fitted on.
    fit
        ``fit(source, target)`` returning a Matching or a fitted object with ``matching_``, used for
        the bootstrap. Default: a fresh copy of ``model`` with the same ``get_params()``; with
        neither, or ``n_boot=0``, no stability is computed.
    n_boot, fraction, random_state, progress
        See :func:`bootstrap_stability`.
    margin_tol
        Margins at or below it are flagged. Default ``1e-9`` times the largest entry of the cost
        matrix (exact ties only).
    stability_threshold
        Stabilities below it are flagged.
    max_memory
        Memory budget of the margins (see :func:`assignment_margins`); checked before anything
        is computed.

    Returns
    -------
    MatchingCertificate

    """
    for attr in ("W_", "matching_"):
        if not hasattr(model, attr):
            raise TypeError(
                f"model has no {attr!r}: certify_matching needs a fitted linear map with W_, "
                "intercept_ and matching_ (e.g. a fitted LAOT)."
            )
    a, b = check_pair(source, target, min_samples=2)
    check_bytes(
        margins_bytes(a.shape[0], b.shape[0]),
        what=f"certify_matching on {a.shape[0]} x {b.shape[0]} cells", max_memory=max_memory,
        fix="certify a fit on a random subsample of the cells, or raise max_memory",
    )
    w = check_array(model.W_, "model.W_")
    d = a.shape[1]
    if w.shape != (d, d):
        raise ValueError(f"model.W_ has shape {w.shape}; expected ({d}, {d}) for {d} features.")
    bias = np.asarray(getattr(model, "intercept_", np.zeros(d)), dtype=np.float64).reshape(-1)
    if bias.shape != (d,):
        raise ValueError(f"model.intercept_ has shape {bias.shape}; expected ({d},).")
    if not 0 <= stability_threshold <= 1:
        raise ValueError(f"stability_threshold must be in [0, 1]; got {stability_threshold!r}.")
    mapped = a @ w.T + bias
    m = model.matching_
    cost = getattr(m, "cost_name", "sqeuclidean")
    reopt, n_re = False, 0
    try:
        margins = assignment_margins(mapped, b, m, cost=cost, max_memory=max_memory)
        ref = m
    except ValueError as exc:
        if "not an optimal assignment" not in str(exc):
            raise
        ref = solve_dense(mapped, b, cost)
        reopt, n_re = True, ref.n_changed(m)
        margins = assignment_margins(mapped, b, ref, cost=cost, max_memory=max_memory)
    n0 = a.shape[0]
    src, tgt = _as_pairs(ref, n0, b.shape[0])
    partner = np.full(n0, -1, dtype=np.int64)
    partner[src] = tgt
    if margin_tol is None:
        tol = 1e-9 * float(np.max(cost_matrix(mapped, b, cost)))
    else:
        tol = float(margin_tol)
        if not np.isfinite(tol) or tol < 0:
            raise ValueError(f"margin_tol must be a finite number >= 0; got {margin_tol!r}.")
    refit = fit if fit is not None else _refit_from(model)
    stability = None
    if refit is not None and n_boot:
        stability, _ = bootstrap_stability(
            a, b, ref, refit, n_boot=n_boot, fraction=fraction, random_state=random_state,
            progress=progress,
        )
    matched = partner >= 0
    flagged = matched & (margins <= tol)
    if stability is not None:
        flagged |= matched & (np.nan_to_num(stability, nan=1.0) < stability_threshold)
    return MatchingCertificate(
        partner, margins, stability, flagged, tol, float(stability_threshold),
        int(n_boot) if stability is not None else 0, float(fraction), cost, reopt, int(n_re),
    )
