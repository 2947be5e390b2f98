"""The protocol every perturbation model follows, and its save/load format.

A model is a scikit-learn-like estimator: hyper-parameters go to the constructor (and are stored
unchanged), ``fit(source, target)`` learns from unpaired control and treated cells and returns
``self``, ``predict(source)`` maps new control cells to their predicted treated state, and what was
learned is exposed as attributes with a trailing underscore.

``save`` writes one ``.npz`` file holding the hyper-parameters and fitted attributes, with no
pickled code: arrays as arrays, everything else as JSON. ``load`` rebuilds the model from it.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trackability._validation import check_array, check_pair
from trackability._version import provenance

_FORMAT = "trackability-model/1"


class NotFittedError(RuntimeError):
    """Raised when ``predict`` (or another fitted-only method) is called before ``fit``."""


class PerturbationModel:
    """Base class: constructor hyper-parameters, ``fit``/``predict``, ``save``/``load``.

    Subclasses implement ``_fit(source, target, **fit_params)`` and ``_predict(source)`` on
    validated float arrays, and list their fitted attributes in ``_fitted_attributes``.
    """

    #: Names of the fitted attributes that ``save`` stores (all end with an underscore).
    _fitted_attributes: ClassVar[tuple[str, ...]] = ()
    #: Smallest number of cells per population that ``fit`` accepts.
    _min_cells: ClassVar[int] = 1

    random_state: Any = None

    # -- scikit-learn-like parameter handling ---------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        """Constructor hyper-parameters, as passed."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> PerturbationModel:
        """Set constructor hyper-parameters; unknown names raise ``ValueError``."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {key!r}; valid: {sorted(valid)}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        shown = []
        for name in self._param_names():
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
        src, tgt = check_pair(source, target, min_samples=self._min_cells)
        self.n_features_in_ = None
        self._fit(src, tgt, **fit_params)
        self.n_features_in_ = src.shape[1]
        return self

    def predict(self, source: Any) -> np.ndarray:
        """Predicted treated state of each control cell in ``source`` (same shape)."""
        self._check_fitted()
        src = check_array(source, "source")
        if src.shape[1] != self.n_features_in_:
            raise ValueError(
                f"source has {src.shape[1]} features but {type(self).__name__} was fitted on "
                f"{self.n_features_in_}."
            )
        return self._predict(src)

    def fit_predict(self, source: Any, target: Any, **fit_params: Any) -> np.ndarray:
        """``fit(source, target)`` then ``predict(source)``."""
        return self.fit(source, target, **fit_params).predict(source)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(source, target) first."
            )

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

    def save(self, path: str | Path) -> Path:
        """Write hyper-parameters and fitted state to ``path`` (``.npz`` is appended if missing).

        Returns
        -------
        pathlib.Path
            The file written.

        """
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
            "params": _jsonable(self.get_params(), "params"),
            "attributes": attrs,
            **provenance(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> PerturbationModel:
        """Rebuild a model written by :meth:`save`."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"No saved model at {path}.")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["__meta__"]))
                arrays = {k: data[k] for k in data.files if k != "__meta__"}
        except (ValueError, KeyError, OSError) as exc:
            raise ValueError(f"{path} is not a model file written by trackability: {exc}") from exc
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path} has unknown format {meta.get('format')!r}.")
        module_name, _, qualname = meta["class"].partition(":")
        if not module_name.startswith("trackability."):
            raise ValueError(f"{path} names a class outside trackability: {meta['class']!r}.")
        model_cls = getattr(importlib.import_module(module_name), qualname)
        if not issubclass(model_cls, cls):
            raise TypeError(f"{path} holds a {qualname}, not a {cls.__name__}.")
        model = model_cls(**meta["params"])
        for name, enc in meta["attributes"].items():
            setattr(model, name, _decode(enc, arrays))
        model._restore_extra_state(
            {k.removeprefix("extra:"): v for k, v in arrays.items() if k.startswith("extra:")}
        )
        return model


# -- encoding helpers ----------------------------------------------------------------------------
def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


def _jsonable(value: Any, what: str) -> Any:
    try:
        json.dumps(value)
    except TypeError as exc:
        raise TypeError(f"cannot save {what}: {exc}") from exc
    return value


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
