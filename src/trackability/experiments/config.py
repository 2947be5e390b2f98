"""Benchmark configuration: a YAML file validated into typed objects, with errors that name the key.

A config lists tasks (a data set, its options, the split and the preprocessing), methods (a name,
hyper-parameters and optionally a grid tuned on the validation split) and seeds. See
``configs/sachs.yaml`` for a complete example and ``docs/benchmarks.md`` for every key.

Unknown keys are errors (a typo never silently falls back to a default).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from trackability.data.preprocessing import _normalise_steps
from trackability.data.registry import dataset_names, dataset_options, get_dataset
from trackability.models.registry import (
    BASELINES,
    canonical_name,
    check_params,
    get_model,
    is_model_name,
    model_names,
)

#: Options each registered data set understands (anything else in ``options`` is an error); the
#: typed models are in the data-set registry (:mod:`trackability.data.registry`).
DATASET_OPTIONS: dict[str, tuple[str, ...]] = dataset_options()
DATASETS: tuple[str, ...] = dataset_names()


class ConfigError(ValueError):
    """A benchmark config is malformed; the message names the file, the key and the problem."""


class _Strict(BaseModel):
    # an infinite value (a grid's ``alpha: [.., .inf]``) stays a float in the dumps (not null)
    model_config = ConfigDict(extra="forbid", frozen=False, ser_json_inf_nan="strings")


class SplitConfig(_Strict):
    """How each task's cells are split (see :mod:`trackability.data.tasks`)."""

    kind: Literal["within", "replicate", "holdout"] | None = None
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    train_replicate: int | str = 1
    test_replicate: int | str = 2
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    include_holdout_source: bool = True

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(f < 0 for f in v) or v[0] <= 0 or v[2] <= 0:
            raise ValueError("fractions (train, val, test) must be >= 0 with train and test > 0")
        if abs(sum(v) - 1.0) > 1e-6:
            raise ValueError(f"fractions must sum to 1 (got {sum(v):g})")
        return v


class TaskConfig(_Strict):
    """One entry of ``tasks``: a data set and how to turn it into tasks."""

    name: str = Field(min_length=1)
    dataset: str
    path: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    only: list[str] | None = None
    methods: list[str] | None = None
    split: SplitConfig = Field(default_factory=SplitConfig)
    preprocessing: list[Any] = Field(default_factory=list)
    score_space: Literal["model", "input"] = "model"

    @field_validator("preprocessing")
    @classmethod
    def _steps(cls, v: list[Any]) -> list[Any]:
        _normalise_steps(v)  # raises ValueError with the step index and problem
        return v

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, v: str) -> str:
        get_dataset(v)  # raises naming the registered data sets
        return v

    @model_validator(mode="after")
    def _options(self) -> TaskConfig:
        spec = get_dataset(self.dataset)
        spec.validate_options(self.options)
        if self.split.kind is not None and self.split.kind not in spec.split_kinds:
            raise ValueError(
                f"split.kind {self.split.kind!r} is not available for dataset {self.dataset!r}; "
                f"choose from {list(spec.split_kinds)}"
            )
        if self.score_space == "input" and self.preprocessing:
            steps = [n for n, _ in _normalise_steps(self.preprocessing)]
            if "variable" in steps:
                raise ValueError("score_space 'input' cannot be used with a 'variable' step")
        return self

    def builder_options(self) -> dict[str, Any]:
        """Keyword options for :func:`trackability.data.task_builders.task_entries`."""
        return {**self.options, **({"path": self.path} if self.path else {})}

    def subtask_names(self) -> list[str]:
        """The tasks this entry becomes (the data set's names for its split, restricted to ``only``).

        Raises
        ------
        ConfigError
            When ``only`` names a task the data set does not have.

        """
        from trackability.data.task_builders import task_names

        names = task_names(self.dataset, split=self.split.model_dump(mode="json"),
                           **self.builder_options())
        if self.only is None:
            return names
        missing = [n for n in self.only if n not in names]
        if missing:
            raise ConfigError(f"tasks {self.name!r}: only lists unknown task(s) {missing}; "
                              f"available: {names}")
        return [n for n in names if n in self.only]

    def load_data(self) -> Any:
        """The data set this entry reads (None for generated ones), loaded once for its tasks."""
        from trackability.data.task_builders import load_dataset

        return load_dataset(self.dataset, **self.builder_options())

    def prepare(self, name: str, seed: int, adata: Any = None) -> tuple[Any, Any, Any]:
        """Task ``name`` split with ``seed``, and its preprocessing fitted on the training split.

        Returns ``(task, preprocessor, preprocessed task)``, as the benchmark builds them (``adata``:
        from :meth:`load_data`, so that several tasks of one data set read it once).
        """
        from trackability.data.preprocessing import Preprocessor
        from trackability.data.task_builders import build_task

        task = build_task(self.dataset, name, seed, adata=adata,
                          split=self.split.model_dump(mode="json") or {}, **self.builder_options())
        pre = Preprocessor(list(self.preprocessing))
        return task, pre, pre.fit_task(task)


class SelectConfig(_Strict):
    """How a method's ``grid`` point is chosen (``select`` of a method; see ``bench._tune``).

    ``rule``: ``min`` (the lowest validation MMD^2) or ``one_se`` (the simplest grid point whose
    score is within one standard error of the best); ``folds``: k-fold cross-validation over the
    training cells (the score is the mean over the k folds, its standard error sd / sqrt(k)),
    instead of the single validation split (None), or ``contexts``: leave one context out (each
    training context with control and treated cells is a fold: the model fitted on the other
    contexts predicts its treated cells from its control cells), the validation that mirrors a
    held-out cell type, patient or donor; ``simpler``: for ``one_se``, per grid key,
    which direction is simpler (``larger`` or ``smaller``; LAOT's ``alpha``: ``larger``, more
    regularised toward the identity map; ``alpha: .inf`` is the exact mean shift).
    """

    rule: Literal["min", "one_se"] = "min"
    folds: Annotated[int, Field(ge=2, le=50)] | Literal["contexts"] | None = None
    simpler: dict[str, Literal["larger", "smaller"]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> SelectConfig:
        if self.rule == "one_se":
            if self.folds is None:
                raise ValueError("rule 'one_se' needs folds (>= 2): its standard error is over the folds")
            if not self.simpler:
                raise ValueError("rule 'one_se' needs simpler: e.g. {alpha: larger}")
        return self


class MethodConfig(_Strict):
    """One entry of ``methods``."""

    name: str = Field(min_length=1)
    method: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    select: SelectConfig | None = None

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> dict[str, Any]:
        # no select: dumped as before it existed, so job keys and config hashes do not change
        data = handler(self)
        if self.select is None:
            data.pop("select", None)
        return data

    @property
    def key(self) -> str:
        """The registry name of the model (``method``, defaulting to ``name``)."""
        return self.method or self.name

    @model_validator(mode="after")
    def _known(self) -> MethodConfig:
        if not is_model_name(self.key):
            raise ValueError(
                f"unknown method {self.key!r}; known: {model_names()} (or 'package.module:Class')"
            )
        try:
            cls = get_model(self.key)
        except ImportError:
            cls = None  # a third-party module missing here: run_benchmark reports it before any job
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        if cls is not None:
            # misspelt hyper-parameters fail here, when the config is loaded, not in a worker;
            # the class signature is read without constructing the model (torch is not needed)
            check_params(self.key, self.params, what="params")
            check_params(self.key, self.grid, what="grid")
        for k, v in self.grid.items():
            if not v:
                raise ValueError(f"grid.{k} is empty; give at least one value")
            if k in self.params:
                raise ValueError(f"{k!r} is both in params and in grid")
        if self.select is not None:
            if not self.grid:
                raise ValueError("select is set but the method has no grid")
            for k in self.select.simpler:
                if k not in self.grid:
                    raise ValueError(f"select.simpler.{k}: not a key of grid ({sorted(self.grid)})")
                for v in self.grid[k]:
                    if isinstance(v, bool) or not isinstance(v, int | float):
                        raise ValueError(f"select.simpler.{k}: grid values must be numbers to "
                                         f"order; got {v!r}")
        return self


class MetricsConfig(_Strict):
    """How the shared metric code is run.

    ``top_k``: features with the largest observed change for ``delta_pearson_top`` and
    ``deg_sign``; ``etest_permutations`` (0: none) and ``etest_max_cells`` (per side): the E-test
    of prediction vs truth; ``replicate``: the replicate ceiling columns ``ceiling.<metric>``;
    ``means_max_features``: save the per-task means of the rank metric up to this many features.
    """

    gamma_max_cells: int = Field(2000, ge=2)
    w2_max_cells: int = Field(1500, ge=2)
    max_eval_cells: int | None = Field(None, ge=2)
    energy: bool = True
    w2: bool = True
    cellot_mmd: bool = True
    top_k: int = Field(20, ge=1)
    etest_permutations: int = Field(500, ge=0)
    etest_max_cells: int = Field(500, ge=2)
    replicate: bool = True
    means_max_features: int = Field(2000, ge=0)


class BenchConfig(_Strict):
    """A whole benchmark: tasks x methods x seeds."""

    name: str = Field(min_length=1)
    description: str = ""
    seeds: list[int] = Field(default_factory=lambda: list(range(5)))
    tasks: list[TaskConfig] = Field(min_length=1)
    methods: list[MethodConfig] = Field(min_length=1)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    require_baselines: bool = True
    on_error: Literal["raise", "record"] = "record"

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("seeds must be a count or a list of non-negative integers")
        if isinstance(v, int):
            if v < 1:
                raise ValueError("seeds must be at least 1")
            return list(range(v))
        return v

    @field_validator("seeds")
    @classmethod
    def _seed_values(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("seeds must not be empty")
        if any(s < 0 for s in v):
            raise ValueError("seeds must be non-negative")
        if len(set(v)) != len(v):
            raise ValueError(f"seeds contain duplicates: {v}")
        return v

    @model_validator(mode="after")
    def _unique(self) -> BenchConfig:
        for what, items in (("tasks", self.tasks), ("methods", self.methods)):
            names = [i.name for i in items]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{what}: duplicate name(s) {dup}")
        known = {m.name for m in self.methods}
        for i, t in enumerate(self.tasks):
            bad = sorted(set(t.methods or []) - known)
            if bad:
                raise ValueError(f"tasks[{i}].methods: {bad} are not in methods {sorted(known)}")
        if self.require_baselines:
            keys = {canonical_name(m.key) for m in self.methods}
            missing = [b for b in BASELINES if b not in keys]
            if missing:
                raise ValueError(
                    f"methods: the baselines {missing} are missing (every comparison must include "
                    f"{list(BASELINES)}; set require_baselines: false to override)"
                )
        return self

    def hash(self) -> str:
        """Short SHA-256 of the canonical JSON form (provenance of every result row)."""
        return config_hash(self.model_dump(mode="json"))


def config_hash(obj: Any) -> str:
    """First 16 hex digits of the SHA-256 of ``obj`` as canonical JSON."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def validate_config(data: Any, *, source: str = "config") -> BenchConfig:
    """Validate a parsed config (dict) into a :class:`BenchConfig`.

    Raises
    ------
    ConfigError
        One line per problem: ``<source>: <key path>: <message>``.

    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys; got {type(data).__name__}.")
    try:
        return BenchConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling)"
            lines.append(f"  {_loc(tuple(err['loc']))}: {msg}")
        raise ConfigError(f"{source}: invalid benchmark config:\n" + "\n".join(lines)) from None


def load_config(path: str | os.PathLike) -> BenchConfig:
    """Read and validate a benchmark YAML file.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ConfigError
        Not a text file, malformed YAML (with its line and column) or invalid content (with the
        key path).

    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"benchmark config not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not a text (YAML) file: byte {exc.start} is not UTF-8 "
                          f"({exc.object[exc.start:exc.start + 1]!r}).") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{p}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return validate_config(data, source=str(p))


def dump_config(config: BenchConfig) -> str:
    """The config as YAML (what a results folder stores next to its rows)."""
    import yaml

    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


__all__ = [
    "DATASETS",
    "BenchConfig",
    "ConfigError",
    "MethodConfig",
    "MetricsConfig",
    "SelectConfig",
    "SplitConfig",
    "TaskConfig",
    "config_hash",
    "dump_config",
    "load_config",
    "validate_config",
]
