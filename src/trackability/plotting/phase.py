"""Phase-transition figures: a recovery heatmap over (d, gap) and recovery-vs-gap curves per d.

Both read the tidy table of :func:`trackability.experiments.phase_transition` (columns ``d``,
``gap``, ``recovery`` and optionally ``recovery_sd``, ``trials``, ``generator``) and only draw it;
nothing is computed from data here. A table holding several generators (the seed-faithful
original and the centred one) gets one panel per generator.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from trackability.plotting._axes import subplots

#: Panel titles of the generators written by :func:`~trackability.experiments.phase_transition`.
GENERATOR_TITLES = {
    "seed_faithful": "original generator (seed-faithful, non-centred E)",
    "centered": "centred generator (zero-mean E)",
}

_REQUIRED = ("d", "gap", "recovery")


def _check_table(table: Any, value: str = "recovery") -> Any:
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}.")
    missing = [c for c in (*_REQUIRED[:2], value) if c not in table.columns]
    if missing:
        raise ValueError(
            f"table is missing column(s) {missing}; expected the output of "
            f"trackability.experiments.phase_transition (columns {list(_REQUIRED)}, ...)."
        )
    if table.empty:
        raise ValueError("table is empty; nothing to plot.")
    vals = table[value].astype(float).to_numpy()
    if not np.all(np.isfinite(vals)):
        raise ValueError(f"table column {value!r} holds NaN or infinite values.")
    return table


def _generators(table: Any) -> list[Any]:
    if "generator" not in table.columns:
        return [None]
    present = list(dict.fromkeys(table["generator"]))
    known = [g for g in GENERATOR_TITLES if g in present]  # original first, then centred
    return known + [g for g in present if g not in GENERATOR_TITLES]


def _panel_title(generator: Any, table: Any) -> str:
    title = GENERATOR_TITLES.get(generator, str(generator)) if generator is not None else ""
    extra = []
    if "n" in table.columns and table["n"].nunique() == 1:
        extra.append(f"n = {int(table['n'].iloc[0])} cells")
    if "trials" in table.columns:
        t = table["trials"].astype(int)
        extra.append(f"{int(t.min())} trials" if t.nunique() == 1 else
                     f"{int(t.min())}-{int(t.max())} trials")
    if extra:
        title = f"{title}\n{', '.join(extra)} per point" if title else ", ".join(extra) + " per point"
    return title


def _fmt_gap(g: float) -> str:
    return f"{g:g}"


def _boundary(grid: np.ndarray, threshold: float) -> list[int]:
    """Per row: number of leading columns (from the smallest gap) with value >= threshold."""
    out = []
    for row in grid:
        k = 0
        for v in row:
            if np.isnan(v) or v < threshold:
                break
            k += 1
        out.append(k)
    return out


def _draw_heatmap(ax: Any, table: Any, value: str, annotate: bool | None,
                  threshold: float | None, cmap: str) -> Any:
    dims = sorted(table["d"].unique())
    gaps = sorted(table["gap"].astype(float).unique())
    grid = np.full((len(dims), len(gaps)), np.nan)
    pos_d = {d: i for i, d in enumerate(dims)}
    pos_g = {g: j for j, g in enumerate(gaps)}
    for d, g, v in zip(table["d"], table["gap"].astype(float), table[value].astype(float),
                       strict=True):
        grid[pos_d[d], pos_g[g]] = v
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap, vmin=0.0, vmax=1.0,
                   interpolation="nearest")
    ax.set_xticks(range(len(gaps)))
    ax.set_xticklabels([_fmt_gap(g) for g in gaps], rotation=45 if len(gaps) > 8 else 0)
    ax.set_yticks(range(len(dims)))
    ax.set_yticklabels([str(int(d)) for d in dims])
    ax.set_xlabel("gap t  (perturbation size |W - I|_F; columns not to scale)")
    ax.set_ylabel("dimension d (features)")
    if annotate is None:
        annotate = grid.size <= 200
    if annotate:
        size = 8 if len(gaps) <= 12 else 7
        for i in range(len(dims)):
            for j in range(len(gaps)):
                v = grid[i, j]
                if np.isnan(v):
                    continue
                if v == 1.0:
                    text = "1"
                elif v >= 0.9995:  # a near miss must not read as "1.000"
                    text = "<1"
                elif v >= 0.995:  # ... nor as "1.00"
                    text = f"{v:.3f}".lstrip("0")
                else:
                    text = f"{v:.2f}".lstrip("0")
                ax.text(j, i, text, ha="center", va="center", fontsize=size,
                        color="black" if v > 0.6 else "white")
    if threshold is not None:
        ks = _boundary(grid, threshold)
        xs, ys = [], []
        for i, k in enumerate(ks):
            xs += [k - 0.5, k - 0.5]
            ys += [i - 0.5, i + 0.5]
        ax.plot(xs, ys, color="#d62728", lw=2.2,
                label=f"phase boundary: recovery ≥ {threshold:g} left of the red line")
    return im


def plot_phase_heatmap(
    table: Any,
    *,
    value: str = "recovery",
    threshold: float | None = 0.99,
    annotate: bool | None = None,
    cmap: str = "viridis",
    title: str | None = None,
    ax: Any = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Heatmap of the recovery rate over dimension d (rows) and gap (columns).

    Parameters
    ----------
    table
        Output of :func:`trackability.experiments.phase_transition` (one or several generators
        concatenated; one panel per ``generator``).
    value
        Column to colour by (a fraction in [0, 1]; ``"recovery"`` or ``"exact_fraction"``).
    threshold
        Draw the empirical phase boundary: per d, the edge after the last gap up to which
        ``value`` stays at or above ``threshold``. None: no boundary.
    annotate
        Print the value in each cell (default: when there are at most 200 cells).
    cmap
        Matplotlib colormap (range fixed to [0, 1] so panels compare).
    title
        Figure title.
    ax
        Axes to draw into (one per panel, row-major); default: a new figure.
    path
        Save the figure there (PNG, 150 dpi).

    Returns
    -------
    matplotlib.figure.Figure

    """
    table = _check_table(table, value)
    gens = _generators(table)
    n_gap = max(
        (table if g is None else table[table["generator"] == g])["gap"].nunique() for g in gens
    )
    width = max(4.2, 0.38 * n_gap + 1.4)
    fig, axes = subplots(ax, 1, len(gens), figsize=(width * len(gens) + 1.2, 4.8),
                         constrained_layout=True)
    im = None
    for ax, g in zip(axes[0], gens, strict=True):
        sub = table if g is None else table[table["generator"] == g]
        im = _draw_heatmap(ax, sub, value, annotate, threshold, cmap)
        ax.set_title(_panel_title(g, sub), fontsize=10)
    label = {"recovery": "recovery rate (fraction of cells correctly matched)",
             "exact_fraction": "fraction of trials with every cell matched"}.get(value, value)
    fig.colorbar(im, ax=axes[0].tolist(), label=label, shrink=0.9)
    if threshold is not None:
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", fontsize=9, frameon=False)
    fig.suptitle(title or "LAOT phase transition: recovery of the true cell correspondence",
                 fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


def plot_recovery_curves(
    table: Any,
    *,
    dims: Sequence[int] | None = None,
    log_gap: bool = True,
    band: str = "se",
    title: str | None = None,
    ax: Any = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Recovery rate against the gap, one line per dimension d (a panel per generator).

    Parameters
    ----------
    table
        Output of :func:`trackability.experiments.phase_transition`.
    dims
        Subset (and order) of d to draw; default all.
    log_gap
        Logarithmic gap axis (symmetric-log with a linear stretch below the smallest positive gap
        when the grid contains gap 0).
    band
        Shaded band around each curve: ``"se"`` (standard error over trials, needs
        ``recovery_sd`` and ``trials``), ``"sd"`` (standard deviation over trials) or ``"none"``.
    title
        Figure title.
    ax
        Axes to draw into (one per panel, row-major); default: a new figure.
    path
        Save the figure there (PNG, 150 dpi).

    Returns
    -------
    matplotlib.figure.Figure

    """
    import matplotlib

    table = _check_table(table)
    if band not in ("se", "sd", "none"):
        raise ValueError(f"band must be one of 'se', 'sd', 'none'; got {band!r}.")
    if band != "none" and "recovery_sd" not in table.columns:
        band = "none"
    if band == "se" and "trials" not in table.columns:
        band = "sd"
    gens = _generators(table)
    all_dims = sorted(table["d"].unique())
    if dims is not None:
        unknown = [d for d in dims if d not in all_dims]
        if unknown:
            raise ValueError(f"dims {unknown} are not in the table (it has {all_dims}).")
        all_dims = list(dims)
    cmap = matplotlib.colormaps["viridis"]
    colors = {d: cmap(0.9 * k / max(len(all_dims) - 1, 1)) for k, d in enumerate(all_dims)}
    fig, axes = subplots(ax, 1, len(gens), figsize=(5.6 * len(gens), 4.2), sharey=True,
                         constrained_layout=True)
    for ax, g in zip(axes[0], gens, strict=True):
        sub = table if g is None else table[table["generator"] == g]
        gaps_all = np.sort(sub["gap"].astype(float).unique())
        for d in all_dims:
            s = sub[sub["d"] == d].sort_values("gap")
            if s.empty:
                continue
            x = s["gap"].astype(float).to_numpy()
            y = s["recovery"].astype(float).to_numpy()
            ax.plot(x, y, marker="o", ms=3.5, lw=1.6, color=colors[d], label=f"d = {int(d)}")
            if band != "none":
                sd = s["recovery_sd"].astype(float).to_numpy()
                half = sd / np.sqrt(s["trials"].astype(float).to_numpy()) if band == "se" else sd
                ax.fill_between(x, np.clip(y - half, 0, 1), np.clip(y + half, 0, 1),
                                color=colors[d], alpha=0.18, lw=0)
        if log_gap:
            positive = gaps_all[gaps_all > 0]
            if positive.size and gaps_all.min() <= 0:
                ax.set_xscale("symlog", linthresh=float(positive.min()), linscale=0.5)
            elif positive.size:
                ax.set_xscale("log")
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("gap t  (|W - I|_F" + (", log scale)" if log_gap else ")"))
        ax.set_ylim(-0.03, 1.03)
        ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
        ax.grid(alpha=0.3, which="major")
        ax.set_title(_panel_title(g, sub), fontsize=10)
        ax.legend(title="dimension", fontsize=8, title_fontsize=8, frameon=True, framealpha=0.9,
                  loc="lower left")
    axes[0][0].set_ylabel("recovery rate (fraction of cells correctly matched)")
    band_text = {"se": "; bands: ± 1 standard error over trials",
                 "sd": "; bands: ± 1 sd over trials", "none": ""}[band]
    fig.suptitle((title or "Recovery against the gap: trackable (1.0) -> untrackable")
                 + band_text, fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig
