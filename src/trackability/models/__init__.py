"""Perturbation models: one protocol (``fit(source, target)``, ``predict(source)``) for all.

``Identity``, ``MeanShift`` and ``LAOT`` need only numpy. ``CellOT``, ``CompactCellOT`` and ``ScGen``
need the ``neural`` extra (torch) at ``fit`` and are imported on first use. Models are named in
one registry (:mod:`trackability.models.registry`: :func:`get_model`, :func:`make_model`,
:func:`register_model`, :func:`model_names`).
"""

from __future__ import annotations

import importlib
from typing import Any

from trackability.models.base import ModelFileError, NotFittedError, PerturbationModel
from trackability.models.baselines import Identity, MeanShift
from trackability.models.laot import LAOT, fit_linear_map
from trackability.models.registry import (
    BASELINES,
    get_model,
    make_model,
    model_names,
    register_model,
)

_LAZY = {
    "CellOT": "trackability.models.cellot",
    "CompactCellOT": "trackability.models.cellot",
    "ScGen": "trackability.models.scgen",
}

__all__ = [
    "BASELINES",
    "LAOT",
    "Identity",
    "MeanShift",
    "ModelFileError",
    "NotFittedError",
    "PerturbationModel",
    "fit_linear_map",
    "get_model",
    "make_model",
    "model_names",
    "register_model",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trackability.models' has no attribute {name!r}")
