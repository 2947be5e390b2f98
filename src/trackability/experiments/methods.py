"""Methods of a benchmark, by name, resolved lazily (torch models import torch only when used).

Built-in names map to ``"module:Class"``; a config may also name any importable
:class:`~trackability.models.PerturbationModel` subclass as ``"package.module:Class"``, and code can
add names with :func:`register_method`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Built-in method names.
METHODS: dict[str, str] = {
    "identity": "trackability.models:Identity",
    "meanshift": "trackability.models:MeanShift",
    "laot": "trackability.models:LAOT",
    "cellot": "trackability.models:CellOT",
    "compact_cellot": "trackability.models:CompactCellOT",
    "scgen": "trackability.models:ScGen",
    "flow_matching": "trackability.models.flow_matching:FlowMatching",
    "external": "trackability.models.external:External",
}

#: Baselines every comparison must contain.
BASELINES = ("identity", "meanshift")

_REGISTERED: dict[str, Any] = {}


def register_method(name: str, cls: Any) -> None:
    """Make ``cls`` (a PerturbationModel subclass or a ``"module:Class"`` string) known as ``name``."""
    if not isinstance(name, str) or not name:
        raise ValueError("method name must be a non-empty string.")
    _REGISTERED[name] = cls


def known_method(name: str) -> bool:
    """Whether ``name`` is a registered name or looks like ``"module:Class"``."""
    return name in METHODS or name in _REGISTERED or ":" in name


def method_names() -> list[str]:
    """Every registered name."""
    return sorted(set(METHODS) | set(_REGISTERED))


def resolve_method(name: str) -> type:
    """The model class of ``name`` (imports its module on first use).

    Raises
    ------
    ValueError
        Unknown name.
    ImportError
        The method needs an optional dependency that is missing (e.g. torch for ``cellot``), or
        the model has not been written yet; the message says which.

    """
    target: Any = _REGISTERED.get(name, METHODS.get(name))
    if target is None:
        if ":" not in name:
            raise ValueError(f"unknown method {name!r}; known: {method_names()} or 'module:Class'.")
        target = name
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    try:
        mod = importlib.import_module(module)
        return getattr(mod, attr)
    except (ImportError, AttributeError) as exc:
        raise ImportError(
            f"method {name!r} ({target}) is not available here: {exc}. Neural methods need the "
            "'neural' extra (pip install 'trackability[neural]')."
        ) from exc


def method_available(name: str) -> bool:
    """Whether :func:`resolve_method` succeeds for ``name``."""
    try:
        resolve_method(name)
    except (ImportError, ValueError):
        return False
    return True
