"""Plots on AnnData and result tables, scanpy style (``ax=``, ``show=``, ``save=``).

Every function draws into ``ax`` when given (else a new figure), saves to ``save`` when given, and
returns the Axes when ``show=False`` (default: show in interactive sessions and notebooks, return
the Axes otherwise). matplotlib is imported on first use.

- :func:`predicted_vs_observed` / :func:`embedding`: predicted and observed cells on an embedding
- :func:`mean_scatter`: per-gene means of prediction against truth, top changed genes labelled
- :func:`trackable_region`: gap against number of cells, the user's experiment marked
- :func:`phase_diagram`: LAOT's recovery over dimension and gap
- :func:`method_comparison`: methods against each other from a results table
- :func:`transitions`: heatmap of the transition table of :func:`trackability.tl.match`
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "embedding": "trackability.pl.cells",
    "predicted_vs_observed": "trackability.pl.cells",
    "mean_scatter": "trackability.pl.cells",
    "trackable_region": "trackability.pl.theory",
    "phase_diagram": "trackability.pl.theory",
    "method_comparison": "trackability.pl.tables",
    "transitions": "trackability.pl.tables",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trackability.pl' has no attribute {name!r}")
