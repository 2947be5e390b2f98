"""The protocol every perturbation model follows, and its save/load format.

A model is a scikit-learn estimator (:class:`sklearn.base.BaseEstimator`): hyper-parameters go to
the constructor and are stored unchanged (so ``sklearn.base.clone``, ``get_params`` and
``set_params`` work), ``fit(source, target)`` validates the hyper-parameters first, then the data,
learns from unpaired control and treated cells and returns ``self``; ``predict(source)`` maps new
control cells to their predicted treated state, and what was learned is exposed as attributes with
a trailing underscore. Before ``fit``, fitted-only methods raise :class:`NotFittedError` (a subclass
of sklearn's), and ``sklearn.utils.validation.check_is_fitted`` passes once fitted.

Optional dependencies (torch) are checked at ``fit`` (:meth:`PerturbationModel.check_dependencies`),
never at construction, so a model can be named, cloned and configured without them.

``save`` writes one ``.npz`` file holding the hyper-parameters and fitted attributes, with no
pickled code: arrays as arrays, everything else as JSON. ``load`` rebuilds the model from it.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

from trackability._validation import check_array, check_pair
from trackability._version import provenance

_FORMAT = "trackability-model/1"


class NotFittedError(_SklearnNotFittedError):
    """Raised when ``predict`` (or another fitted-only method) is called before ``fit``.

    A subclass of :class:`sklearn.exceptions.NotFittedError` (itself a ``ValueError`` and an
    ``AttributeError``).
    """


class ModelFileError(ValueError):
    """A saved model file cannot be read: the message names the file and the problem."""


class PerturbationModel(BaseEstimator):
    """Base class: constructor hyper-parameters, ``fit``/``predict``, ``save``/``load``.

    Subclasses store every constructor argument unchanged as an attribute of the same name,
    implement ``_fit(source, target, **fit_params)`` and ``_predict(source)`` on validated float
    arrays, list their fitted attributes in ``_fitted_attributes``, and may override
    :meth:`_validate_params` (hyper-parameter checks, run by ``fit`` before the data is looked at)
    and :meth:`check_dependencies` (optional packages, also run first by ``fit``).
    """

    #: Names of the fitted attributes that ``save`` stores (all end with an underscore).
    _fitted_attributes: ClassVar[tuple[str, ...]] = ()
    #: Smallest number of cells per population that ``fit`` accepts.
    _min_cells: ClassVar[int] = 1

    # -- scikit-learn parameter handling (get_params / set_params come from BaseEstimator) --------
    @classmethod
    def _param_names(cls) -> list[str]:
        return list(cls._get_param_names())

    def set_params(self, **params: Any) -> PerturbationModel:
        """Set constructor hyper-parameters; unknown names raise ``ValueError`` listing the valid."""
        valid = set(self._param_names())
        for key in params:
            if key.partition("__")[0] not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {key!r}; valid: {sorted(valid)}."
                )
        return super().set_params(**params)

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        shown = []
        for name in sig.parameters:  # signature order (get_params sorts)
            if name not in self._param_names():
                continue
            default = sig.parameters[name].default
            value = getattr(self, name, None)
            if default is inspect.Parameter.empty or not _equal(value, default):
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- protocol -------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` has completed."""
        return getattr(self, "n_features_in_", None) is not None

    def __sklearn_is_fitted__(self) -> bool:
        return self.is_fitted

    @classmethod
    def check_dependencies(cls) -> None:
        """Raise ``ImportError`` (saying how to install it) when an optional package is missing.

        The base class needs nothing; neural models check torch. Called first by ``fit``, and by
        the benchmark before any job runs.
        """

    def _validate_params(self) -> None:
        """Check the hyper-parameters (called by ``fit`` before the data); override in subclasses."""

    def fit(self, source: Any, target: Any, **fit_params: Any) -> PerturbationModel:
        """Learn the map from unpaired control (``source``) to treated (``target``) cells.

        Parameters
        ----------
        source
            Control cells, shape (n_source, d).
        target
            Treated cells, shape (n_target, d); no correspondence to ``source`` is assumed.
        **fit_params
            Model-specific options (e.g. cell-type labels for ``ScGen``).

        Returns
        -------
        self

        """
        self.check_dependencies()
        self._validate_params()
        src, tgt = check_pair(source, target, min_samples=self._min_cells)
        self.n_features_in_ = None
        self._fit(src, tgt, **fit_params)
        self.n_features_in_ = src.shape[1]
        return self

    def predict(self, source: Any) -> np.ndarray:
        """Predicted treated state of each control cell in ``source`` (same shape)."""
        return self._predict(self._check_input(source, "source"))

    def fit_predict(self, source: Any, target: Any, **fit_params: Any) -> np.ndarray:
        """``fit(source, target)`` then ``predict(source)``."""
        return self.fit(source, target, **fit_params).predict(source)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(source, target) first."
            )

    def _check_input(self, x: Any, name: str) -> np.ndarray:
        """``x`` as a float array with the fitted number of features (the model must be fitted)."""
        self._check_fitted()
        arr = check_array(x, name)
        if arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name} has {arr.shape[1]} features but {type(self).__name__} was fitted on "
                f"{self.n_features_in_}."
            )
        return arr

    def _fit(self, source: np.ndarray, target: np.ndarray, **fit_params: Any) -> None:
        raise NotImplementedError

    def _predict(self, source: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- persistence ----------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, np.ndarray]:
        """Arrays beyond the fitted attributes (e.g. network weights); override in subclasses."""
        return {}

    def _restore_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of :meth:`_extra_state`."""

    def save(self, path: str | os.PathLike) -> Path:
        """Write hyper-parameters and fitted state to ``path`` (``.npz`` is appended if missing).

        The file is written to a temporary name in the same folder and renamed into place, so a
        reader never sees half a model. Hyper-parameters are stored as JSON: numpy scalars (e.g.
        a ``random_state`` of type ``np.int64``) are stored as Python numbers; a ``random_state``
        that is a ``numpy.random.Generator``, ``RandomState`` or ``SeedSequence`` is refused,
        because its state at construction cannot be stored faithfully (pass an integer seed).

        Returns
        -------
        pathlib.Path
            The file written.

        Raises
        ------
        NotFittedError
            The model is not fitted.
        TypeError
            ``path`` is not a path, or a hyper-parameter cannot be stored (the message names it).

        """
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a file path (str or os.PathLike); got {type(path).__name__}.")
        self._check_fitted()
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays: dict[str, np.ndarray] = {}
        attrs: dict[str, Any] = {}
        for name in (*self._fitted_attributes, "n_features_in_"):
            attrs[name] = _encode(getattr(self, name, None), f"attr:{name}", arrays)
        for key, value in self._extra_state().items():
            arrays[f"extra:{key}"] = np.asarray(value)
        meta = {
            "format": _FORMAT,
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "params": _encode_params(type(self).__name__, self.get_params(deep=False)),
            "attributes": attrs,
            **provenance(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, __meta__=np.array(json.dumps(meta)), **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> PerturbationModel:
        """Rebuild a model written by :meth:`save`; the path given to ``save`` works here too.

        Raises
        ------
        FileNotFoundError
            No file at ``path``.
        ModelFileError
            The file is not a model file, or it is corrupt or truncated (one error type for every
            such problem; the message names the file and what is wrong). A ``ValueError``.
        TypeError
            The file holds a model of another class than ``cls``.
        ImportError
            The model needs an optional package that is missing (e.g. torch).

        """
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a file path (str or os.PathLike); got {type(path).__name__}.")
        path = Path(path)
        if not path.exists() and path.suffix != ".npz" and path.with_name(path.name + ".npz").exists():
            path = path.with_name(path.name + ".npz")
        if not path.exists():
            raise FileNotFoundError(f"No saved model at {path}.")
        meta, arrays = _read_model_file(path)
        model_cls = _model_class(path, meta)
        if not issubclass(model_cls, cls):
            raise TypeError(f"{path} holds a {model_cls.__qualname__}, not a {cls.__name__}.")
        model_cls.check_dependencies()
        try:
            model = model_cls(**meta["params"])
            for name, enc in meta["attributes"].items():
                setattr(model, name, _decode(enc, arrays))
            model._restore_extra_state(
                {k.removeprefix("extra:"): v for k, v in arrays.items() if k.startswith("extra:")}
            )
            n = model.n_features_in_
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"n_features_in_ is {n!r}")
            missing = [a for a in model_cls._fitted_attributes if a not in meta["attributes"]]
            if missing:
                raise ValueError(f"fitted attribute(s) {missing} are missing")
        except Exception as exc:
            raise ModelFileError(
                f"{path} is corrupt: its {model_cls.__name__} state cannot be restored "
                f"({type(exc).__name__}: {exc})."
            ) from exc
        return model


def _read_model_file(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and arrays of a model file; any problem is a :class:`ModelFileError`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files") or "__meta__" not in data.files:
                raise ValueError("it has no __meta__ entry")
            meta = json.loads(str(data["__meta__"]))
            arrays = {k: data[k] for k in data.files if k != "__meta__"}
    except Exception as exc:
        raise ModelFileError(
            f"{path} is not a model file written by trackability, or it is truncated or corrupt "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        fmt = meta.get("format") if isinstance(meta, dict) else None
        raise ModelFileError(f"{path} has unknown format {fmt!r} (expected {_FORMAT!r}).")
    for key, kind in (("class", str), ("params", dict), ("attributes", dict)):
        if not isinstance(meta.get(key), kind):
            raise ModelFileError(f"{path} is corrupt: its metadata has no valid {key!r} entry.")
    return meta, arrays


def _model_class(path: Path, meta: dict[str, Any]) -> type:
    module_name, _, qualname = meta["class"].partition(":")
    if not module_name.startswith("trackability."):
        raise ModelFileError(f"{path} names a class outside trackability: {meta['class']!r}.")
    try:
        model_cls = getattr(importlib.import_module(module_name), qualname)
    except (ImportError, AttributeError) as exc:
        raise ModelFileError(f"{path} names an unknown model class {meta['class']!r}: {exc}") from exc
    if not (isinstance(model_cls, type) and issubclass(model_cls, PerturbationModel)):
        raise ModelFileError(f"{path} names {meta['class']!r}, which is not a model class.")
    return model_cls


#: The leading columns of every iterative model's ``history_`` (model-specific columns follow).
HISTORY_COLUMNS = ("step", "train_loss", "val_score")


def history_frame(rows: list[dict[str, Any]]) -> Any:
    """The ``history_`` table of an iterative model, in the shared schema.

    Parameters
    ----------
    rows
        One mapping per logged step, with at least ``step`` and ``train_loss`` (the training
        objective); ``val_score`` (the validation score, lower is better) where there is one.

    Returns
    -------
    pandas.DataFrame
        Columns ``step`` (int), ``train_loss`` (float), ``val_score`` (float, NaN where none), then
        the other keys of ``rows`` in first-seen order.

    """
    import pandas as pd

    for i, row in enumerate(rows):
        missing = [c for c in HISTORY_COLUMNS[:2] if c not in row]
        if missing:
            raise ValueError(f"history row {i} lacks {missing}; every row needs step and train_loss.")
    extra: list[str] = []
    for row in rows:
        extra += [k for k in row if k not in HISTORY_COLUMNS and k not in extra]
    df = pd.DataFrame(list(rows), columns=[*HISTORY_COLUMNS, *extra])
    df["step"] = df["step"].astype(np.int64)
    df["train_loss"] = df["train_loss"].astype(np.float64)
    df["val_score"] = df["val_score"].astype(np.float64)
    return df


# -- encoding helpers ----------------------------------------------------------------------------
def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


def _encode_params(model: str, params: dict[str, Any]) -> dict[str, Any]:
    """Hyper-parameters as JSON values; numpy scalars become Python numbers."""
    out = {}
    for name, value in params.items():
        if isinstance(value, np.random.Generator | np.random.RandomState | np.random.SeedSequence
                      | np.random.BitGenerator):
            raise TypeError(
                f"cannot save {model}: {name} is a numpy {type(value).__name__}, whose state at "
                f"construction cannot be stored faithfully; construct the model with an integer "
                f"{name} (or None) to save it."
            )
        try:
            out[name] = json.loads(json.dumps(value, default=_np_default))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"cannot save {model}: parameter {name}={value!r} is not storable "
                            f"as JSON ({exc}).") from exc
    return out


def _encode(value: Any, key: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    from trackability.matching import Matching

    if value is None or isinstance(value, bool | int | float | str):
        return {"kind": "json", "value": value}
    if isinstance(value, np.generic):
        return {"kind": "json", "value": value.item()}
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {"kind": "array", "key": key}
    if isinstance(value, Matching):
        arrays[key + ".source"] = value.source
        arrays[key + ".target"] = value.target
        return {
            "kind": "matching",
            "key": key,
            "cost": value.cost,
            "cost_name": value.cost_name,
            "method": value.method,
            "info": json.loads(json.dumps(value.info, default=str)),
        }
    if type(value).__name__ == "TransportPlan":
        arrays[key + ".plan"] = value.plan
        arrays[key + ".barycentric"] = value.barycentric
        return {"kind": "transport_plan", "key": key, "cost": value.total_cost,
                "cost_name": value.cost_name, "method": value.method,
                "info": json.loads(json.dumps(value.info, default=str))}
    if type(value).__name__ == "DataFrame":
        # Python's json writes floats with repr, so values round-trip exactly (pandas' to_json
        # keeps 10 significant digits by default).
        split = value.to_dict(orient="split")
        return {"kind": "dataframe", "value": json.loads(json.dumps(split, default=_np_default))}
    if isinstance(value, list | tuple | dict):
        return {"kind": "json", "value": json.loads(json.dumps(value, default=_np_default))}
    raise TypeError(f"cannot save attribute {key!r} of type {type(value).__name__}.")


def _np_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _decode(enc: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    kind = enc["kind"]
    if kind == "json":
        return enc["value"]
    if kind == "array":
        return arrays[enc["key"]]
    if kind == "transport_plan":
        from trackability.matching import TransportPlan

        return TransportPlan(arrays[enc["key"] + ".plan"], arrays[enc["key"] + ".barycentric"],
                             enc["cost"], cost_name=enc["cost_name"], method=enc["method"],
                             info=enc["info"])
    if kind == "matching":
        from trackability.matching import Matching

        return Matching(
            arrays[enc["key"] + ".source"],
            arrays[enc["key"] + ".target"],
            enc["cost"],
            cost_name=enc["cost_name"],
            method=enc["method"],
            info=enc["info"],
        )
    if kind == "dataframe":
        import pandas as pd

        value = enc["value"]
        if isinstance(value, str):  # files written before the exact encoding
            from io import StringIO

            return pd.read_json(StringIO(value), orient="split")
        return pd.DataFrame(value["data"], index=value["index"], columns=value["columns"])
    raise ValueError(f"unknown attribute encoding {kind!r}")
