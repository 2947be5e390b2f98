"""Model classes by name for ``tl`` (a shim until ``trackability.models.registry`` lands).

The layer rule forbids ``tl`` importing ``trackability.experiments``, where the benchmark's method
table lives today; this shim uses ``trackability.models.registry.get_model`` when it exists and
otherwise resolves the same built-in names itself. TODO(lead): drop the fallback at merge.
"""

from __future__ import annotations

import importlib
from typing import Any

_BUILTIN: dict[str, str] = {
    "identity": "trackability.models:Identity",
    "meanshift": "trackability.models:MeanShift",
    "laot": "trackability.models:LAOT",
    "cellot": "trackability.models:CellOT",
    "compact_cellot": "trackability.models:CompactCellOT",
    "scgen": "trackability.models:ScGen",
}


def _get_model(name: Any) -> type:
    """The model class registered as ``name`` (case-insensitive) or named ``"module:Class"``."""
    from trackability.models.base import PerturbationModel

    if not isinstance(name, str) or not name:
        raise TypeError(
            f"method must be a registered name, 'module:Class' or a model instance; got {name!r}."
        )
    try:  # the shared registry, once it exists
        registry = importlib.import_module("trackability.models.registry")
    except ImportError:
        registry = None
    if registry is not None:
        cls = registry.get_model(name)
    else:
        target = _BUILTIN.get(name.lower())
        if target is None:
            if ":" not in name:
                raise ValueError(
                    f"unknown method {name!r}; known: {sorted(_BUILTIN)} or 'module:Class'."
                )
            target = name
        module, _, attr = target.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ImportError(
                f"method {name!r} ({target}) is not available here: {exc}. Neural methods need "
                "the 'neural' extra (pip install 'trackability[neural]')."
            ) from exc
    if not (isinstance(cls, type) and issubclass(cls, PerturbationModel)):
        raise TypeError(
            f"method {name!r} resolves to {cls!r}, which is not a trackability model (a subclass "
            "of trackability.models.PerturbationModel)."
        )
    return cls


def model_names() -> list[str]:
    """Built-in model names."""
    return sorted(_BUILTIN)
