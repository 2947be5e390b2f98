"""Diagnostics figures: the trackable region in the (n, gap) plane, and the phase diagram with Delta.

Nothing is estimated here: the critical gap of the region figure comes from
:func:`trackability.diagnostics.critical_gap`, and the phase-diagram overlay draws a table of
critical gaps computed beforehand (``benchmarks/diagnostics_validation.py`` writes one).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from trackability.plotting._axes import subplots

_TITLES = {
    "seed_faithful": "original generator (seed-faithful, non-centred E)",
    "centered": "centred generator (zero-mean E)",
}


def plot_trackable_region(
    delta: float | None = None,
    L: float | Sequence[float] | None = None,
    *,
    scale: float = 1.0,
    report: Any = None,
    n: int | None = None,
    gap: float | None = None,
    n_range: tuple[float, float] | None = None,
    time_unit: str = "time units of L",
    labels: Sequence[str] | None = None,
    ax: Any = None,
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """The experiment-design figure: which (number of cells, gap) pairs are certified trackable.

    Draws ``Delta(n) = sqrt((1 - delta) / (2 n (scale L)^2))`` against ``n`` on log axes; below the
    curve the theory guarantees that the correspondence is recoverable, above it recovery is
    NP-hard in the worst case. Several ``L`` values draw several curves (plausible rates), the
    region below the lowest one is shaded.

    Parameters
    ----------
    delta, L, scale
        As in :func:`~trackability.diagnostics.critical_gap` (L may be a list).
    report
        A :class:`~trackability.diagnostics.TrackabilityReport`: fills ``delta``, ``L``, ``scale``,
        ``n`` and ``gap`` (explicit arguments win). When it carries the calibrated estimate
        (``diagnose(..., recoverability=True)``), its boundary at the report's level is drawn
        (orange): the largest number of cells at this gap and the longest gap for this number of
        cells; Δ stays for reference.
    n, gap
        The user's experiment, drawn as a point.
    n_range
        Range of cell numbers (default: two decades either side of ``n``, else 10 to 1e5).
    time_unit
        Label of the gap axis' unit.
    labels
        Legend labels of the curves (default ``L = ...``).
    ax
        Axes to draw on (default: a new figure).
    title
        Axes title.
    path
        Save the figure there (150 dpi).

    Returns
    -------
    matplotlib.figure.Figure

    """
    import matplotlib.pyplot as plt

    from trackability.diagnostics import critical_gap

    if report is not None:
        delta = report.delta if delta is None else delta
        L = report.L if L is None else L
        scale = report.scale if scale == 1.0 else scale
        n = report.n if n is None else n
        gap = report.gap if gap is None else gap
    if delta is None or L is None:
        raise ValueError("give delta and L (or a report).")
    ls = [float(v) for v in np.atleast_1d(np.asarray(L, dtype=float))]
    if any(v <= 0 or not np.isfinite(v) for v in ls):
        raise ValueError(f"L must be positive and finite; got {ls}.")
    if labels is not None and len(labels) != len(ls):
        raise ValueError(f"labels has {len(labels)} entries for {len(ls)} values of L.")
    if float(delta) >= 1:
        raise ValueError(
            f"delta = {float(delta):.4g} >= 1: the restricted isometry fails and there is no "
            "trackable region to draw."
        )
    if n_range is None:
        n_range = (max(2.0, n / 100), n * 100) if n else (10.0, 1e5)
    lo, hi = float(n_range[0]), float(n_range[1])
    if not 2 <= lo < hi:
        raise ValueError(f"n_range must satisfy 2 <= low < high; got {n_range}.")
    ns = np.geomspace(lo, hi, 200)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 4.4), constrained_layout=True)
    else:
        fig = ax.figure
    cmap = plt.get_cmap("viridis")
    curves = []
    for k, lv in enumerate(sorted(ls)):
        ys = np.array([critical_gap(float(delta), int(round(v)), lv, scale=scale) for v in ns])
        curves.append(ys)
        lab = labels[ls.index(lv)] if labels is not None else f"L = {lv:.3g}"
        ax.plot(ns, ys, color=cmap(0.15 + 0.7 * k / max(1, len(ls) - 1)), lw=2,
                label=f"critical gap Δ(n), {lab}")
    bottom = min(c.min() for c in curves) / 30
    top = max(c.max() for c in curves) * 30
    if gap is not None and gap > 0:
        bottom, top = min(bottom, gap / 3), max(top, gap * 3)
    ax.fill_between(ns, bottom, curves[-1], color="#2ca02c", alpha=0.15,
                    label="certified trackable (t < Δ)")
    ax.fill_between(ns, curves[0], top, color="#d62728", alpha=0.08,
                    label="beyond Δ: no guarantee (NP-hard in the worst case)")
    rec = getattr(report, "recoverability", None) if report is not None else None
    if rec is not None and gap is not None and n is not None:
        # the calibrated estimate: the largest n at this gap and the longest gap at this n that
        # keep the predicted recovery at the report's level (a segment of its boundary)
        n_lv, g_lv = float(rec["n_at_level"]), float(rec["gap_at_level"])
        pts_n, pts_g = [], []
        if np.isfinite(n_lv) and n_lv >= 2:
            pts_n.append(n_lv)
            pts_g.append(gap)
        if np.isfinite(g_lv) and g_lv > 0:
            pts_n.append(float(n))
            pts_g.append(g_lv)
        if pts_n:
            ax.plot(pts_n, pts_g, "o--", color="#ff7f0e", ms=7, lw=1.5,
                    label=f"calibrated {100 * rec['level']:.0f} % recovery (planted-matching estimate)")
            bottom, top = min(bottom, min(pts_g) / 3), max(top, max(pts_g) * 3)
    if n is not None and gap is not None:
        ax.plot([n], [gap], marker="*", ms=14, color="black", ls="none",
                label=f"this experiment (n = {n}, t = {gap:.3g})")
    elif n is not None:
        ax.axvline(n, color="black", ls=":", lw=1.5, label=f"this data set (n = {n})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(bottom, top)
    ax.set_xlabel("number of cells n")
    ax.set_ylabel(f"measurement gap t ({time_unit})")
    ax.set_title(title or f"Trackable region (δ = {float(delta):.4g}, 1 - δ = {1 - float(delta):.2g})",
                 fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower left")
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


def _edges(values: np.ndarray, log: bool) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return np.array([v[0] / 1.5, v[0] * 1.5]) if log else np.array([v[0] - 0.5, v[0] + 0.5])
    if log:
        mids = np.sqrt(v[1:] * v[:-1])
        return np.concatenate([[v[0] ** 2 / mids[0]], mids, [v[-1] ** 2 / mids[-1]]])
    mids = 0.5 * (v[1:] + v[:-1])
    return np.concatenate([[2 * v[0] - mids[0]], mids, [2 * v[-1] - mids[-1]]])


def plot_phase_with_delta(
    phase: Any,
    deltas: Any,
    *,
    title: str | None = None,
    ax: Any = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """The empirical phase diagram of LAOT with the computed critical gaps overlaid.

    Parameters
    ----------
    phase
        Output of :func:`trackability.experiments.phase_transition` (columns ``d``, ``gap``,
        ``recovery``, optionally ``generator``; one panel per generator). Gap 0 is left out (log
        axis).
    deltas
        Table with columns ``d``, ``Delta`` (the critical gap per d, e.g. the median over draws)
        and optionally ``generator``, ``Delta_lo``/``Delta_hi`` (a range, drawn as error bars),
        ``Delta_separation`` (the separation bound) and ``gap50`` (the empirical gap of 50 %
        recovery).
    title
        Figure title.
    ax
        Axes to draw into (one per panel, row-major); default: a new figure.
    path
        Save the figure there (150 dpi).

    Returns
    -------
    matplotlib.figure.Figure

    """
    import pandas as pd

    for name, tab, cols in (("phase", phase, ("d", "gap", "recovery")), ("deltas", deltas, ("d", "Delta"))):
        if not isinstance(tab, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame; got {type(tab).__name__}.")
        missing = [c for c in cols if c not in tab.columns]
        if missing:
            raise ValueError(f"{name} is missing column(s) {missing}.")
        if tab.empty:
            raise ValueError(f"{name} is empty; nothing to plot.")
    gens = list(dict.fromkeys(phase["generator"])) if "generator" in phase.columns else [None]
    fig, axes = subplots(ax, 1, len(gens), figsize=(6.4 * len(gens) + 0.8, 5.1), layout="constrained")
    mesh = None
    for ax, g in zip(axes[0], gens, strict=True):
        sub = phase if g is None else phase[phase["generator"] == g]
        sub = sub[sub["gap"].astype(float) > 0]
        dsub = deltas
        if g is not None and "generator" in deltas.columns:
            dsub = deltas[deltas["generator"] == g]
        dims = np.array(sorted(sub["d"].unique()), dtype=float)
        gaps = np.array(sorted(sub["gap"].astype(float).unique()))
        grid = np.full((dims.size, gaps.size), np.nan)
        for d, gp, v in zip(sub["d"], sub["gap"].astype(float), sub["recovery"].astype(float),
                            strict=True):
            grid[np.searchsorted(dims, d), np.searchsorted(gaps, gp)] = v
        ge, de = _edges(gaps, True), _edges(dims, False)
        ax.set_facecolor("#eeeeee")
        mesh = ax.pcolormesh(ge, de, grid, cmap="viridis", vmin=0, vmax=1, shading="flat")
        dsub = dsub.sort_values("d")
        dd = dsub["d"].to_numpy(dtype=float)
        big = dsub["Delta"].to_numpy(dtype=float)
        if "Delta_lo" in dsub.columns and "Delta_hi" in dsub.columns:
            xerr = np.vstack([big - dsub["Delta_lo"].to_numpy(float),
                              dsub["Delta_hi"].to_numpy(float) - big])
            ax.errorbar(big, dd, xerr=xerr, color="black", mfc="white", lw=2, marker="o", ms=6,
                        capsize=3, label="critical gap Δ (theory), median and range over draws")
        else:
            ax.plot(big, dd, color="black", mfc="white", lw=2, marker="o", ms=6,
                    label="critical gap Δ (theory)")
        xs = [big.min()]
        if "Delta_separation" in dsub.columns:
            sep = dsub["Delta_separation"].to_numpy(float)
            ax.plot(sep, dd, color="#e377c2", lw=2, ls="--", marker="s", ms=5,
                    label="separation bound min|xi - xj| / 2L")
            xs.append(sep.min())
        if "gap50" in dsub.columns:
            g50 = dsub["gap50"].to_numpy(float)
            ok = np.isfinite(g50)
            ax.plot(g50[ok], dd[ok], color="#d62728", lw=2, marker="X", ms=8,
                    label="empirical gap of 50 % recovery (LAOT)")
        ax.set_xscale("log")
        ax.set_xlim(min(min(xs) / 2, ge[0]), ge[-1])
        ax.set_ylim(de[0], de[-1])
        ax.set_xlabel("gap t = |W - I|_F  (log scale; grey: not measured)")
        ax.set_ylabel("dimension d (features)")
        extra = ""
        if "n" in sub.columns and sub["n"].nunique() == 1:
            extra = f", n = {int(sub['n'].iloc[0])}"
        if "trials" in sub.columns:
            extra += f", {int(sub['trials'].min())} trials per cell"
        ax.set_title(f"{_TITLES.get(g, g or '')}{extra}", fontsize=10)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8.5,
               frameon=False)
    fig.colorbar(mesh, ax=axes[0].tolist(), label="recovery rate (fraction of cells matched)",
                 shrink=0.9)
    fig.suptitle(title or "LAOT phase transition with the computed critical gap Δ", fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


def plot_nfkb_phase(
    table: Any,
    *,
    sizes: Sequence[int],
    doses: Sequence[float] | None = None,
    ax: Any = None,
) -> Any:
    """Phase diagram on tracked cells: measured recovery vs gap and cells per matching, per dose.

    Parameters
    ----------
    table
        One row per (dose, gap) with ``dose``, ``gap_min``, ``meas_<m>`` (measured recovery at
        ``m`` cells per matching), ``measured_n50``, ``predicted_n50`` and optionally
        ``course_n50`` (as written by ``benchmarks/diagnostics_recoverability.py``).
    sizes
        The numbers of cells of the ``meas_<m>`` columns.
    doses
        Doses to draw (default: every dose of the table), one panel each.
    ax
        A matplotlib Axes (one dose) or a sequence of Axes (one per dose); default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Colour: measured recovery; black line: measured 50 % boundary; dashed red: predicted
        50 % boundary from the two end points
        (:func:`~trackability.diagnostics.estimate_recoverability`); dotted orange, where the
        table has ``course_n50``: predicted from the time course
        (:func:`~trackability.diagnostics.estimate_recoverability_course`).

    """
    import matplotlib.pyplot as plt

    doses = sorted(set(table["dose"])) if doses is None else list(doses)
    if ax is None:
        cols = min(4, len(doses))
        rows = int(np.ceil(len(doses) / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False,
                                 constrained_layout=True)
        axes = list(axes.ravel())
    else:
        axes = list(ax) if isinstance(ax, Sequence | np.ndarray) else [ax]
        if len(axes) < len(doses):
            raise ValueError(f"ax holds {len(axes)} Axes for {len(doses)} doses.")
        fig = axes[0].figure
    sizes = list(sizes)
    im = None
    for a, dose in zip(axes, doses, strict=False):
        sub = table[table["dose"] == dose].sort_values("gap_min")
        gaps = sub["gap_min"].to_numpy(dtype=float)
        z = np.array([[row[f"meas_{m}"] for m in sizes] for _, row in sub.iterrows()])
        im = a.pcolormesh(np.arange(len(sizes) + 1) - 0.5, np.arange(len(gaps) + 1) - 0.5, z,
                          vmin=0, vmax=1, cmap="viridis", shading="flat")

        def pos(v: np.ndarray) -> np.ndarray:
            return np.interp(np.log(np.asarray(v, float)), np.log(sizes), np.arange(len(sizes)),
                             left=-0.5, right=len(sizes) - 0.5)

        a.plot(pos(sub["measured_n50"]), np.arange(len(gaps)), "k-o", ms=3, label="measured 50 %")
        a.plot(pos(sub["predicted_n50"].clip(upper=max(sizes))), np.arange(len(gaps)), "r--s", ms=3,
               label="predicted 50 % (two ends)")
        if "course_n50" in sub:
            a.plot(pos(sub["course_n50"].clip(upper=max(sizes))), np.arange(len(gaps)), ":^",
                   color="orange", ms=3, label="predicted 50 % (course)")
        a.set_xticks(range(len(sizes)), [str(m) for m in sizes], fontsize=7)
        a.set_yticks(range(len(gaps)), [f"{g:g}" for g in gaps], fontsize=7)
        a.set_title(f"TNF {dose:g} ng/ml", fontsize=9)
        a.set_xlabel("cells per matching", fontsize=8)
        a.set_ylabel("gap (min)", fontsize=8)
    for a in axes[len(doses):]:
        a.set_visible(False)
    axes[0].legend(fontsize=6.5, loc="upper right")
    if im is not None:
        fig.colorbar(im, ax=axes[: len(doses)], shrink=0.8, label="fraction recovered")
    return fig
