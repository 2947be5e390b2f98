"""The data-set registry: every benchmark data set declared once.

A :class:`DatasetSpec` says, for one data set name (the ``dataset:`` key of a benchmark config):

- ``options``: a pydantic model of its typed options (unknown keys are refused, naming the valid
  ones, when the config is loaded);
- ``load(**options)``: read the AnnData (None for generated data); only ``load_keys`` of the
  options change what is read, so one load per process serves every task that shares them;
- ``tasks(adata, split, options)``: the ``(name, make(seed) -> Task)`` entries it yields;
- ``names(split, options)``: optional, the task names from the options and cheap metadata alone
  (constants, an obs column read without ``X``), so that a benchmark can be planned without loading
  the data in the parent process; None means "load and build the entries".

Declare a data set with :func:`register_dataset` in the module that holds its builder (the built-in
ones live in :mod:`trackability.data.task_builders` and :mod:`trackability.data.datasets`); a
third-party module can register its own before the benchmark config is loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

#: Modules that declare the built-in data sets (imported on the first registry lookup).
BUILTIN_MODULES = ("trackability.data.task_builders", "trackability.data.datasets")


class DatasetOptions(BaseModel):
    """Base of every data set's options model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


@dataclass(frozen=True)
class DatasetSpec:
    """One registered data set (see the module docstring)."""

    name: str
    options: type[DatasetOptions]
    tasks: Callable[[Any, dict[str, Any], dict[str, Any]], list[Any]]
    load: Callable[..., Any] | None = None
    load_keys: tuple[str, ...] = ("path",)
    names: Callable[[dict[str, Any], dict[str, Any]], list[str]] | None = None
    split_kinds: tuple[str, ...] = ("within",)
    description: str = ""

    @property
    def option_names(self) -> tuple[str, ...]:
        """Every option key the data set understands (``path`` is a task key, not an option)."""
        return tuple(k for k in self.options.model_fields if k != "path")

    def validate_options(self, options: dict[str, Any], *, where: str = "options") -> dict[str, Any]:
        """Check ``options`` against the typed model; return the keys given, validated.

        Raises
        ------
        ValueError
            Naming an unknown key and the valid ones, or the key and the problem of a bad value.

        """
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            raise ValueError(
                f"{where}: unknown key(s) {unknown} for dataset {self.name!r}; allowed: "
                f"{list(self.option_names)}"
            )
        try:
            model = self.options.model_validate(options)
        except ValidationError as exc:
            probs = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(options)'}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"{where} of dataset {self.name!r}: {probs}") from None
        return model.model_dump(exclude_unset=True)


_REGISTRY: dict[str, DatasetSpec] = {}
_LOADED = False


def _ensure_builtins() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for mod in BUILTIN_MODULES:
            importlib.import_module(mod)


def register_dataset(
    name: str,
    *,
    options: type[DatasetOptions],
    tasks: Callable[[Any, dict[str, Any], dict[str, Any]], list[Any]],
    load: Callable[..., Any] | None = None,
    load_keys: Sequence[str] = ("path",),
    names: Callable[[dict[str, Any], dict[str, Any]], list[str]] | None = None,
    split_kinds: Sequence[str] = ("within",),
    description: str = "",
    replace: bool = False,
) -> DatasetSpec:
    """Declare a data set; returns its :class:`DatasetSpec`.

    Raises
    ------
    ValueError
        When ``name`` is taken (pass ``replace=True`` to override) or is not a lower-case word.

    """
    key = str(name)
    if not key or key != key.strip() or key.lower() != key:
        raise ValueError(f"dataset name must be a non-empty lower-case string; got {name!r}.")
    if key in _REGISTRY and not replace:
        raise ValueError(f"dataset {key!r} is already registered; pass replace=True to override.")
    if not (isinstance(options, type) and issubclass(options, BaseModel)):
        raise TypeError(f"options of dataset {key!r} must be a pydantic model class.")
    spec = DatasetSpec(key, options, tasks, load, tuple(load_keys), names, tuple(split_kinds),
                       description)
    _REGISTRY[key] = spec
    return spec


def get_dataset(name: str) -> DatasetSpec:
    """The spec of data set ``name``.

    Raises
    ------
    ValueError
        Naming the registered data sets when ``name`` is unknown.

    """
    _ensure_builtins()
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"dataset must be one of {dataset_names()}; got {name!r}.")
    return _REGISTRY[name]


def dataset_names() -> tuple[str, ...]:
    """Names of every registered data set, in registration order."""
    _ensure_builtins()
    return tuple(_REGISTRY)


def dataset_options() -> dict[str, tuple[str, ...]]:
    """``{dataset: option keys}`` for every registered data set."""
    _ensure_builtins()
    return {n: s.option_names for n, s in _REGISTRY.items()}
