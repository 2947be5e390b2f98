"""scanpy's ``ax`` / ``show`` / ``save`` conventions, shared by every ``pl`` function."""

from __future__ import annotations

import os
from typing import Any


def new_axes(ax: Any, figsize: tuple[float, float]) -> Any:
    """``ax`` itself, or the Axes of a new figure of ``figsize``."""
    if ax is not None:
        if not hasattr(ax, "figure") or not hasattr(ax, "scatter"):
            raise TypeError(f"ax must be a matplotlib Axes; got {type(ax).__name__}.")
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _interactive() -> bool:
    import matplotlib

    backend = matplotlib.get_backend().lower()
    return "inline" in backend or backend not in {"agg", "pdf", "ps", "svg", "cairo", "template"}


def finish(ax: Any, show: bool | None, save: str | os.PathLike | None) -> Any:
    """Save (``bbox_inches="tight"``: nothing clipped), show, and return the Axes unless shown."""
    fig = ax.figure if hasattr(ax, "figure") else ax[0].figure
    if save is not None:
        fig.savefig(save, dpi=150, bbox_inches="tight")
    if show is None:
        show = _interactive()
    if show:
        import matplotlib.pyplot as plt

        plt.show()
        return None
    return ax
