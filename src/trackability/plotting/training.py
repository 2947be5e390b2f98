"""Training-dynamics figure: train vs validation curves per method (CellOT, Compact CellOT, LAOT).

Reads histories in the common columns of :mod:`trackability.experiments.training_dynamics`
(``step``, ``train_mmd2``, ``val_mmd2`` and optionally ``train_loss``, ``val_loss``,
``selected``) or a fitted model's raw ``history_`` (CellOT, ScGen), and only draws them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from trackability.plotting._axes import subplots
from trackability.plotting.benchmark import METHOD_COLORS

#: Panel titles of the methods.
METHOD_TITLES = {
    "cellot": "CellOT (4 x 64)",
    "compact_cellot": "Compact CellOT (3 x 32)",
    "laot": "LAOT",
    "scgen": "scGen",
}


def _standardise(name: str, history: Any) -> Any:
    import pandas as pd

    if not isinstance(history, pd.DataFrame):  # a fitted model: draw its history_
        h = getattr(history, "history_", None)
        if not isinstance(h, pd.DataFrame):
            raise ValueError(
                f"histories[{name!r}] is neither a DataFrame nor a fitted model with history_."
            )
        out = _standardise(name, h)
        kept = getattr(history, "best_step_", getattr(history, "best_epoch_", None))
        if kept is not None:
            out["selected"] = out["step"] == int(kept)
        return out
    h = history
    if "train_loss_g" in h.columns:  # raw CellOT history_
        out = pd.DataFrame({
            "step": h["step"], "train_loss": h["train_loss_g"], "val_loss": h["val_loss_g"],
            "train_mmd2": h["train_mmd2"], "val_mmd2": h["val_mmd2"],
        })
        out.attrs.update(loss_label="g loss", step_label="outer iteration")
        return out
    if "epoch" in h.columns and "step" not in h.columns:  # raw ScGen history_
        out = h.rename(columns={"epoch": "step"})
        out.attrs.update(loss_label="VAE loss per cell", step_label="epoch")
        return out
    if "step" not in h.columns:
        raise ValueError(
            f"history of {name!r} has no 'step' column (columns: {list(h.columns)}); pass the "
            "output of trackability.experiments.training_dynamics or a model's history_."
        )
    if not any(c in h.columns for c in ("train_mmd2", "val_mmd2", "train_loss", "val_loss")):
        raise ValueError(
            f"history of {name!r} has none of the columns train_mmd2, val_mmd2, train_loss, "
            "val_loss; nothing to plot."
        )
    return h


def _curve(ax: Any, h: Any, col: str, **kw: Any) -> bool:
    if col not in h.columns:
        return False
    sub = h[["step", col]].dropna()
    if sub.empty:
        return False
    ax.plot(sub["step"].to_numpy(), sub[col].to_numpy(dtype=float), **kw)
    return True


def _maybe_symlog(ax: Any, h: Any) -> None:
    """Symmetric-log y-axis when a few early losses dwarf the rest (e.g. CellOT's first steps)."""
    cols = [c for c in ("train_loss", "val_loss") if c in h.columns]
    vals = h[cols].to_numpy(dtype=float).ravel()
    vals = np.abs(vals[np.isfinite(vals)])
    if vals.size < 3:
        return
    typical = float(np.median(vals))
    if typical > 0 and vals.max() > 50 * typical:
        ax.set_yscale("symlog", linthresh=typical)


def plot_training_dynamics(
    histories: Mapping[str, Any],
    *,
    losses: bool = True,
    mmd_scale: str = "symlog",
    title: str | None = None,
    ax: Any = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Train (solid) vs validation (dashed) curves for each method, one column per method.

    Top row: MMD^2 to the treated cells on the training and validation splits (the same
    bandwidth for every method, so the rows are comparable and share their y-axis). Bottom row
    (``losses=True`` and a method logs one): the method's own training objective. A dotted
    vertical line marks the kept checkpoint (``selected``).

    Parameters
    ----------
    histories
        Method name (e.g. ``"cellot"``, ``"compact_cellot"``, ``"laot"``) -> history DataFrame
        (see module docstring) or a fitted CellOT / ScGen model.
    losses
        Add the row of training objectives.
    mmd_scale
        y-scale of the MMD^2 row: ``"symlog"`` (default; linear within +-1e-3, where the
        unbiased estimator's noise lives, logarithmic above, so both the first steps and the
        converged values are readable) or ``"linear"``.
    title
        Figure title.
    ax
        Axes to draw into (one per panel, row-major); default: a new figure.
    path
        If given, save the figure there (format from the suffix).

    Returns
    -------
    matplotlib.figure.Figure

    """
    if mmd_scale not in ("symlog", "linear"):
        raise ValueError(f"mmd_scale must be 'symlog' or 'linear'; got {mmd_scale!r}.")
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError("histories must be a non-empty mapping of method name -> history.")
    tables = {name: _standardise(name, h) for name, h in histories.items()}
    for name, h in tables.items():
        if h.empty:
            raise ValueError(f"history of {name!r} is empty; nothing to plot.")
    has_loss = losses and any(
        "train_loss" in h.columns and h["train_loss"].notna().any() for h in tables.values()
    )
    nrows, ncols = (2 if has_loss else 1), len(tables)
    fig, axes = subplots(ax, nrows, ncols, figsize=(3.8 * ncols + 0.6, 3.0 * nrows + 0.6))
    for ax in axes[0, 1:]:  # MMD^2 rows share one scale; objectives keep their own
        ax.sharey(axes[0, 0])
    for j, (name, h) in enumerate(tables.items()):
        color = METHOD_COLORS.get(name, f"C{j}")
        step_label = h.attrs.get("step_label", "step")
        ax = axes[0, j]
        drawn = _curve(ax, h, "train_mmd2", color=color, lw=1.8, marker="o", ms=3,
                       label="train")
        drawn |= _curve(ax, h, "val_mmd2", color=color, lw=1.8, ls="--", marker="s", ms=3,
                        mfc="white", label="validation")
        if not drawn:
            ax.text(0.5, 0.5, "no MMD² logged", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(METHOD_TITLES.get(name, name))
        if mmd_scale == "symlog":
            ax.set_yscale("symlog", linthresh=1e-3)
        ax.axhline(0.0, color="0.8", lw=0.8, zorder=0)
        if j == 0:
            ax.set_ylabel("MMD² to treated cells\n(RBF, train-median γ)")
        ax.set_xlabel(step_label)
        if "selected" in h.columns and h["selected"].any():
            sel = int(h.loc[h["selected"].astype(bool), "step"].iloc[-1])
            for r in range(nrows):
                axes[r, j].axvline(sel, color="0.3", ls=":", lw=1.2, label="kept checkpoint"
                                   if r == 0 else None)
        ax.legend(fontsize=8, frameon=False)
        ax.grid(alpha=0.25)
        if has_loss:
            ax2 = axes[1, j]
            drawn = _curve(ax2, h, "train_loss", color=color, lw=1.5, label="train")
            drawn |= _curve(ax2, h, "val_loss", color=color, lw=1.5, ls="--", label="validation")
            if not drawn:
                ax2.text(0.5, 0.5, "no loss logged", ha="center", va="center",
                         transform=ax2.transAxes)
            else:
                ax2.legend(fontsize=8, frameon=False)
            _maybe_symlog(ax2, h)
            ax2.set_xlabel(step_label)
            ax2.set_ylabel(h.attrs.get("loss_label", "training objective"))
            ax2.grid(alpha=0.25)
    fig.suptitle(title or "Training dynamics: train (solid) vs validation (dashed)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig

