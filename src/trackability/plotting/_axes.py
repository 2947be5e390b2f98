"""``ax=`` for every plotting function: draw into the caller's axes or make a new figure."""

from __future__ import annotations

from typing import Any

import numpy as np


def subplots(ax: Any, nrows: int, ncols: int, **kwargs: Any) -> tuple[Any, np.ndarray]:
    """``plt.subplots(nrows, ncols, squeeze=False, **kwargs)``, or the caller's axes.

    ``ax`` may be one Axes (for a single panel) or a sequence of ``nrows * ncols`` Axes (row-major).
    Sharing options are ignored for given axes (the caller set them up).
    """
    if ax is None:
        import matplotlib.pyplot as plt

        return plt.subplots(nrows, ncols, squeeze=False, **kwargs)
    axes = np.asarray(ax if isinstance(ax, list | tuple | np.ndarray) else [ax], dtype=object).ravel()
    if axes.size != nrows * ncols:
        raise ValueError(
            f"ax: this figure has {nrows * ncols} panel(s) ({nrows} x {ncols}); got {axes.size} Axes."
        )
    for a in axes:
        if not hasattr(a, "figure") or not hasattr(a, "plot"):
            raise TypeError(f"ax must be matplotlib Axes; got {type(a).__name__}.")
    return axes[0].figure, axes.reshape(nrows, ncols)
