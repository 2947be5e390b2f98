"""Measured recovery on tracked cells: exact assignment between two time points, true identity known.

For cells tracked over time (rows = cells, columns = consecutive readouts, e.g.
:func:`trackability.data.load_nfkb`), the state of a cell at time index ``t`` is its window of
``window`` consecutive readouts ``t, ..., t + window - 1``. Between time ``t0`` and ``t0 + gap`` the
two windows share no readout when ``gap >= window``. Random groups of ``n_cells`` cells are matched
(exact assignment, squared Euclidean) from their state at ``t0`` to their shuffled states at
``t0 + gap``; the recovery is the fraction of cells matched to themselves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trackability._validation import check_array, check_random_state
from trackability.matching import assign


def window_states(tracks: Any, t: int, window: int) -> np.ndarray:
    """The state of every cell at time index ``t``: readouts ``t .. t + window - 1`` (cells x window)."""
    x = check_array(tracks, "tracks", min_samples=1)
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be a positive integer; got {window!r}.")
    if not 0 <= t <= x.shape[1] - window:
        raise ValueError(f"t must be in [0, {x.shape[1] - window}] for window {window}; got {t!r}.")
    return x[:, t:t + window]


def measured_recovery(
    tracks: Any,
    gap: int,
    n_cells: int,
    *,
    window: int = 1,
    starts: Any = None,
    max_groups: int = 200,
    random_state: Any = 0,
) -> dict[str, float]:
    """Mean fraction of cells an exact matching of ``n_cells`` tracked cells returns to themselves.

    Parameters
    ----------
    tracks
        Cells x time points (a cell's readouts in time order).
    gap
        Gap in time steps (``>= window``, so that the two states share no readout).
    n_cells
        Cells matched at once (random disjoint groups of the cells).
    window
        Readouts per state.
    starts
        Start indices ``t0`` to average over (default: every valid one).
    max_groups
        At most this many groups per start (the rest of the cells are not used).
    random_state
        Seed of the grouping.

    Returns
    -------
    dict
        ``recovery`` (mean over groups and starts), ``sd`` (between groups), ``n_groups``.

    """
    x = check_array(tracks, "tracks", min_samples=2)
    if isinstance(gap, bool) or not isinstance(gap, int | np.integer) or gap < window:
        raise ValueError(
            f"gap must be an integer >= window ({window}), so no readout is shared; got {gap!r}."
        )
    n, steps = x.shape
    if isinstance(n_cells, bool) or not isinstance(n_cells, int | np.integer) or not 2 <= n_cells <= n:
        raise ValueError(f"n_cells must be an integer in [2, {n}]; got {n_cells!r}.")
    rng = check_random_state(random_state)
    last = steps - window - gap
    if last < 0:
        raise ValueError(f"gap {gap} + window {window} exceeds the {steps} time points.")
    t0s = range(last + 1) if starts is None else [int(s) for s in np.atleast_1d(starts)]
    vals = []
    scale = float(np.std(x)) or 1.0
    for t0 in t0s:
        a = window_states(x, t0, window) / scale
        b = window_states(x, t0 + gap, window) / scale
        order = rng.permutation(n)
        groups = min(n // n_cells, int(max_groups))
        for g in range(groups):
            idx = order[g * n_cells:(g + 1) * n_cells]
            m = assign(a[idx], b[idx], "sqeuclidean")
            vals.append(float(np.mean(np.asarray(m.source) == np.asarray(m.target))))
    v = np.array(vals)
    return {"recovery": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else math.nan,
            "n_groups": int(v.size)}
