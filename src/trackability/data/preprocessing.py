"""Preprocessing fitted on the training split only (log, arcsinh, variable features, standardise, PCA).

A :class:`Preprocessor` is a list of steps. ``fit`` learns every parameter (means, scales, selected
features, principal axes) from the training cells only, control and treated pooled; ``transform``
then applies the same fixed map to the validation and test cells, so nothing about the test cells
leaks into the space they are scored in. ``fit_task`` does this for a whole :class:`Task`.

Steps (each a ``(name, options)`` pair, or just the name):

- ``"log1p"``: ``log(1 + x)``; refuses negative values.
- ``"arcsinh"``: ``arcsinh(x / cofactor)`` (cytometry convention, ``cofactor`` default 5).
- ``"variable"``: keep the ``n`` features with the largest training variance.
- ``"standardize"``: subtract the training mean and divide by the training standard deviation
  (features with zero variance keep scale 1).
- ``"pca"``: project on the first ``n_components`` principal axes of the centred training cells
  (``solver``: ``"full"`` SVD, ``"randomized"`` (seeded, Halko et al.), or ``"auto"``: randomized
  when both dimensions exceed 500 and ``n_components`` is below half of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trackability._validation import check_array, check_choice, check_pooled

STEPS = ("log1p", "arcsinh", "variable", "standardize", "pca")


def _normalise_steps(steps: Any) -> list[tuple[str, dict[str, Any]]]:
    if steps is None:
        return []
    if isinstance(steps, str | dict):
        steps = [steps]
    out: list[tuple[str, dict[str, Any]]] = []
    for i, st in enumerate(steps):
        if isinstance(st, str):
            name, opts = st, {}
        elif isinstance(st, dict) and "name" in st:
            opts = {k: v for k, v in st.items() if k != "name"}
            name = st["name"]
        elif isinstance(st, dict) and len(st) == 1:
            name, opts = next(iter(st.items()))
            opts = dict(opts or {}) if not isinstance(opts, int | float) else {"n": opts}
        elif isinstance(st, tuple | list) and len(st) == 2:
            name, opts = st[0], dict(st[1] or {})
        else:
            raise ValueError(f"steps[{i}] must be a name or (name, options); got {st!r}.")
        check_choice(name, f"steps[{i}]", STEPS)
        allowed = {"log1p": set(), "arcsinh": {"cofactor"}, "variable": {"n"},
                   "standardize": set(), "pca": {"n_components", "n", "solver"}}[name]
        unknown = set(opts) - allowed
        if unknown:
            raise ValueError(
                f"steps[{i}] ({name}) got unknown option(s) {sorted(unknown)}; allowed: "
                f"{sorted(allowed) or 'none'}."
            )
        out.append((name, dict(opts)))
    return out


class Preprocessor:
    """A chain of preprocessing steps fitted on training cells only.

    Parameters
    ----------
    steps
        Sequence of step names or ``(name, options)`` pairs / ``{name: options}`` dicts, applied in
        order: e.g. ``["standardize", ("pca", {"n_components": 50})]``.

    Attributes
    ----------
    params_ : list of dict
        What each step learned (``mean``, ``scale``, ``components``, ``keep``...).
    n_features_in_, n_features_out_ : int
    feature_names_out_ : list of str or None

    """

    def __init__(self, steps: Any = None) -> None:
        self.steps = _normalise_steps(steps)
        self.params_: list[dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"Preprocessor({self.steps!r})"

    def fit(self, *arrays: Any, feature_names: Sequence[str] | None = None) -> Preprocessor:
        """Learn every step's parameters from the pooled rows of ``arrays`` (training cells)."""
        x = check_pooled(arrays, "Preprocessor.fit")
        d = x.shape[1]
        names = list(feature_names) if feature_names is not None else None
        if names is not None and len(names) != d:
            raise ValueError(f"{len(names)} feature names for {d} features.")
        self.n_features_in_ = d
        params: list[dict[str, Any]] = []
        for name, opts in self.steps:
            p: dict[str, Any] = {}
            if name == "log1p":
                if np.any(x < 0):
                    raise ValueError("log1p step: the training cells contain negative values.")
            elif name == "arcsinh":
                cof = float(opts.get("cofactor", 5.0))
                if not cof > 0:
                    raise ValueError(f"arcsinh cofactor must be positive; got {cof!r}.")
                p["cofactor"] = cof
            elif name == "variable":
                n = int(opts.get("n", 50))
                if n < 1:
                    raise ValueError(f"variable step: n must be >= 1; got {n}.")
                var = x.var(axis=0)
                keep = np.sort(np.argsort(-var, kind="stable")[: min(n, x.shape[1])])
                p["keep"] = keep
                if names is not None:
                    names = [names[i] for i in keep]
            elif name == "standardize":
                mean = x.mean(axis=0)
                sd = x.std(axis=0)
                sd[sd == 0] = 1.0
                p["mean"], p["scale"] = mean, sd
            elif name == "pca":
                k = int(opts.get("n_components", opts.get("n", 50)))
                if k < 1:
                    raise ValueError(f"pca step: n_components must be >= 1; got {k}.")
                k = min(k, x.shape[0] - 1, x.shape[1])
                if k < 1:
                    raise ValueError("pca step needs at least 2 training cells.")
                mean = x.mean(axis=0)
                xc = x - mean
                solver = opts.get("solver", "auto")
                check_choice(solver, "pca solver", ("auto", "full", "randomized"))
                if solver == "auto":
                    small = min(xc.shape)
                    solver = "randomized" if small > 500 and k < 0.5 * small else "full"
                if solver == "randomized":
                    from sklearn.utils.extmath import randomized_svd

                    _, s, vt = randomized_svd(xc, k, n_iter=7, random_state=0)
                else:
                    _, s, vt = np.linalg.svd(xc, full_matrices=False)
                total = float(np.einsum("ij,ij->", xc, xc))
                s, comps = s[:k], vt[:k]
                # deterministic signs: the largest-magnitude loading of each axis is positive
                signs = np.sign(comps[np.arange(k), np.argmax(np.abs(comps), axis=1)])
                signs[signs == 0] = 1.0
                comps = comps * signs[:, None]
                p["mean"], p["components"] = mean, comps
                p["explained_variance_ratio"] = s**2 / max(total, 1e-300)
                p["solver"] = solver
                names = [f"PC{i + 1}" for i in range(k)]
            params.append(p)
            x = self._apply(name, p, x)
        self.params_ = params
        self.n_features_out_ = x.shape[1]
        self.feature_names_out_ = names
        return self

    @staticmethod
    def _apply(name: str, p: dict[str, Any], x: np.ndarray) -> np.ndarray:
        if name == "log1p":
            if np.any(x < 0):
                raise ValueError("log1p step: input contains negative values.")
            return np.log1p(x)
        if name == "arcsinh":
            return np.arcsinh(x / p["cofactor"])
        if name == "variable":
            return x[:, p["keep"]]
        if name == "standardize":
            return (x - p["mean"]) / p["scale"]
        return (x - p["mean"]) @ p["components"].T

    @staticmethod
    def _invert(name: str, p: dict[str, Any], x: np.ndarray) -> np.ndarray:
        if name == "log1p":
            return np.expm1(x)
        if name == "arcsinh":
            return np.sinh(x) * p["cofactor"]
        if name == "variable":
            raise ValueError("the 'variable' step drops features and cannot be inverted.")
        if name == "standardize":
            return x * p["scale"] + p["mean"]
        return x @ p["components"] + p["mean"]

    def _check_fitted(self) -> None:
        if self.params_ is None:
            raise RuntimeError("Preprocessor is not fitted; call fit(training cells) first.")

    def transform(self, x: Any) -> np.ndarray:
        """Apply the fitted steps to ``x`` (n, d_in) -> (n, d_out)."""
        self._check_fitted()
        arr = check_array(x, "x")
        if arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"x has {arr.shape[1]} features; the preprocessor was fitted on "
                f"{self.n_features_in_}."
            )
        for (name, _), p in zip(self.steps, self.params_, strict=True):
            arr = self._apply(name, p, arr)
        return arr

    def inverse_transform(self, z: Any) -> np.ndarray:
        """Map points of the output space back to the input space (PCA: onto the kept axes)."""
        self._check_fitted()
        arr = check_array(z, "z")
        if arr.shape[1] != self.n_features_out_:
            raise ValueError(
                f"z has {arr.shape[1]} features; the preprocessor outputs {self.n_features_out_}."
            )
        for (name, _), p in zip(reversed(self.steps), reversed(self.params_), strict=True):
            arr = self._invert(name, p, arr)
        return arr

    @property
    def invertible(self) -> bool:
        """Whether :meth:`inverse_transform` is defined (no ``variable`` step)."""
        return all(name != "variable" for name, _ in self.steps)

    def fit_task(self, task: Any) -> Any:
        """Fit on ``task``'s training cells (control + treated) and return the transformed task."""
        self.fit(task.source_train, task.target_train, feature_names=task.feature_names)
        if not self.steps:
            return task
        names = self.feature_names_out_ or [f"z{i}" for i in range(self.n_features_out_)]
        same_space = [n for n, _ in self.steps if n in ("variable", "pca")] == []
        new = task.map_arrays(self.transform, feature_names=None if same_space else names)
        new.meta = {**task.meta, "preprocessing": self.describe()}
        return new

    def describe(self) -> list[dict[str, Any]]:
        """JSON-friendly list of the steps and their options (for provenance)."""
        return [{"step": name, **opts} for name, opts in self.steps]
