"""Models by name: the one registry that the bench, ``tl``, the CLI and the demo construct through.

Built-in names map to ``"module:Class"`` strings and are imported on first use, so naming a neural
model never imports torch (torch is needed at ``fit``). Names are case-insensitive (``"LAOT"`` is
``"laot"``). Any importable model class can also be named as ``"package.module:Class"``, and code
can add names with :func:`register_model`.

Examples
--------
>>> from trackability.models.registry import make_model, model_names
>>> model_names()[:3]
['cellot', 'compact_cellot', 'identity']
>>> make_model("LAOT", max_iter=5)
LAOT(max_iter=5)

"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

#: Built-in model names and where their classes live.
BUILTIN: dict[str, str] = {
    "identity": "trackability.models.baselines:Identity",
    "meanshift": "trackability.models.baselines:MeanShift",
    "laot": "trackability.models.laot:LAOT",
    "cellot": "trackability.models.cellot:CellOT",
    "compact_cellot": "trackability.models.cellot:CompactCellOT",
    "scgen": "trackability.models.scgen:ScGen",
    "flow_matching": "trackability.models.flow_matching:FlowMatching",
    "external": "trackability.models.external:External",
}

#: Baselines every comparison must contain.
BASELINES = ("identity", "meanshift")

_REGISTERED: dict[str, type | str] = {}


def _key(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a model name must be a non-empty string; got {name!r}.")
    name = name.strip()
    return name if ":" in name else name.lower()


def canonical_name(name: str) -> str:
    """The registry spelling of ``name``: lower case, except ``"module:Class"`` (kept as given)."""
    return _key(name)


def register_model(name: str, cls: type | str) -> None:
    """Make ``cls`` (a model class or a ``"module:Class"`` string) known as ``name``.

    A registered name takes precedence over a built-in one of the same spelling.

    Raises
    ------
    ValueError
        ``name`` is empty or contains ``":"`` (reserved for ``"module:Class"``).
    TypeError
        ``cls`` is neither a class nor a ``"module:Class"`` string.

    """
    key = _key(name)
    if ":" in key:
        raise ValueError(f"a registered model name must not contain ':'; got {name!r}.")
    if isinstance(cls, str):
        if cls.count(":") != 1:
            raise TypeError(f"cls must be a class or a 'module:Class' string; got {cls!r}.")
    elif not isinstance(cls, type):
        raise TypeError(f"cls must be a class or a 'module:Class' string; got {type(cls).__name__}.")
    _REGISTERED[key] = cls


def model_names() -> list[str]:
    """Every registered name (built-in and added), sorted."""
    return sorted(set(BUILTIN) | set(_REGISTERED))


def is_model_name(name: Any) -> bool:
    """Whether ``name`` is a registered name or has the ``"module:Class"`` form (not imported)."""
    try:
        key = _key(name)
    except ValueError:
        return False
    return key in _REGISTERED or key in BUILTIN or key.count(":") == 1


def get_model(name: str) -> type:
    """The model class of ``name`` (importing its module on first use).

    Parameters
    ----------
    name
        A registered name (case-insensitive) or ``"package.module:Class"``.

    Raises
    ------
    ValueError
        Unknown name.
    ImportError
        The module of ``"module:Class"`` cannot be imported or has no such class.
    TypeError
        The named object is not a model class (a class with ``fit`` and ``predict``).

    """
    key = _key(name)
    target: type | str | None = _REGISTERED.get(key, BUILTIN.get(key))
    if target is None:
        if key.count(":") != 1:
            raise ValueError(f"unknown model {name!r}; known: {model_names()} or 'package.module:Class'.")
        target = key
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ImportError(f"model {name!r} ({target}) cannot be imported here: {exc}") from exc
    else:
        obj = target
    if not (isinstance(obj, type) and callable(getattr(obj, "fit", None))
            and callable(getattr(obj, "predict", None))):
        raise TypeError(f"model {name!r} names {obj!r}, which is not a model class (a class with "
                        "fit and predict, e.g. a trackability.models.PerturbationModel subclass).")
    return obj


def model_params(name: str | type) -> list[str] | None:
    """The constructor hyper-parameters of a model (its name or its class), sorted.

    Read from the signature of ``__init__`` without constructing the model (so without torch).
    ``None`` when the constructor takes ``**kwargs`` (any name is accepted).
    """
    cls = get_model(name) if isinstance(name, str) else name
    params = inspect.signature(cls.__init__).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return sorted(p.name for p in params if p.name != "self" and p.kind is not p.VAR_POSITIONAL)


def check_params(name: str | type, params: Any, *, what: str = "params") -> None:
    """Raise ``ValueError`` naming every key of ``params`` that the model does not take.

    Parameters
    ----------
    name
        Model name or class.
    params
        Names of hyper-parameters (a mapping's keys or an iterable of names).
    what
        How the caller calls them in the message (e.g. ``"grid"``).

    """
    valid = model_params(name)
    if valid is None:
        return
    unknown = sorted(set(params) - set(valid))
    if unknown:
        label = name if isinstance(name, str) else name.__name__
        raise ValueError(f"{what}: model {label!r} has no hyper-parameter(s) {unknown}; valid: {valid}")


def make_model(name: str, **params: Any) -> Any:
    """Construct the model ``name`` with ``params`` (unknown names are an error, not ignored).

    Raises
    ------
    ValueError
        Unknown model name or hyper-parameter (the message lists the valid ones).
    ImportError, TypeError
        As :func:`get_model`.

    """
    cls = get_model(name)
    check_params(cls, params)
    return cls(**params)


__all__ = [
    "BASELINES",
    "BUILTIN",
    "canonical_name",
    "check_params",
    "get_model",
    "is_model_name",
    "make_model",
    "model_names",
    "model_params",
    "register_model",
]
