"""Perturbation models: one protocol (``fit(source, target)``, ``predict(source)``) for all.

``Identity``, ``MeanShift`` and ``LAOT`` need only numpy. ``CellOT``, ``CompactCellOT`` and ``ScGen``
need the ``neural`` extra (torch) and are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from trackability.models.base import NotFittedError, PerturbationModel
from trackability.models.baselines import Identity, MeanShift
from trackability.models.laot import LAOT, fit_linear_map

_LAZY = {
    "CellOT": "trackability.models.cellot",
    "CompactCellOT": "trackability.models.cellot",
    "ScGen": "trackability.models.scgen",
}

__all__ = [
    "LAOT",
    "Identity",
    "MeanShift",
    "NotFittedError",
    "PerturbationModel",
    "fit_linear_map",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trackability.models' has no attribute {name!r}")
