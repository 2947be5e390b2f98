"""Data: synthetic generators, dataset loaders (schema-validated), splits and preprocessing."""

from trackability.data.paths import DATA_ENV, cache_dir, data_dir, resolve_data_path
from trackability.data.preprocessing import Preprocessor
from trackability.data.synthetic import (
    ORIGINAL_DIMS,
    ORIGINAL_GAPS,
    SyntheticPair,
    near_identity,
    original_seed,
    seed_faithful,
)
from trackability.data.tasks import Task, random_split, split_holdout, split_replicate, split_within

__all__ = [
    "DATA_ENV",
    "ORIGINAL_DIMS",
    "ORIGINAL_GAPS",
    "Preprocessor",
    "SyntheticPair",
    "Task",
    "build_task",
    "build_tasks",
    "cache_dir",
    "data_dir",
    "near_identity",
    "original_seed",
    "random_split",
    "resolve_data_path",
    "seed_faithful",
    "split_holdout",
    "split_replicate",
    "split_within",
    "task_names",
]


_TASK_BUILDERS = ("build_task", "build_tasks", "task_names")


def __getattr__(name: str):
    """Lazily re-export the loaders and task builders, so ``import trackability.data`` stays light."""
    import importlib

    if name in _TASK_BUILDERS:  # they import the registry (pydantic)
        return getattr(importlib.import_module("trackability.data.task_builders"), name)
    loaders = importlib.import_module("trackability.data.loaders")
    if name in loaders.__all__:
        return getattr(loaders, name)
    raise AttributeError(f"module 'trackability.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    import importlib

    return sorted({*globals(), *importlib.import_module("trackability.data.loaders").__all__})
