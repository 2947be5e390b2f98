"""The feature space a ``tl`` model is fitted in, and the way back to genes.

Three cases:

- ``X`` or a layer: the model works on genes; predictions are genes.
- ``use_rep`` (an ``obsm`` key) with loadings in ``varm`` (scanpy's ``X_pca`` / ``varm["PCs"]``):
  the model works on the embedding; a predicted cell is mapped back to genes as the cell's own
  expression plus the predicted change mapped through the loadings,
  ``x + (z_pred - z) @ PCs.T``. Its projection is then exactly ``z_pred``, and the part of the
  cell outside the principal subspace is kept (genes outside the PCA, e.g. non-HVG, keep their
  value). Without loadings the predictions stay in the embedding.
- ``preprocess`` (a :class:`~trackability.data.preprocessing.Preprocessor` fitted here on the
  control and treated cells): the model works on its output; predictions go back through
  ``inverse_transform`` (for linear chains, standardise / PCA, again as ``x + inverse(z_pred) -
  inverse(z)``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trackability.tl._anndata import get_matrix

_LINEAR_STEPS = {"standardize", "pca"}


@dataclass
class FeatureSpace:
    """Where the model's features come from and how its predictions return to genes."""

    use_rep: str | None = None
    layer: str | None = None
    loadings_key: str | None = None
    loadings: np.ndarray | None = None
    offset: np.ndarray | None = None
    preprocessor: Any = None
    var_names: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)

    @property
    def in_rep(self) -> bool:
        """Whether the model works on an ``obsm`` embedding."""
        return self.use_rep not in (None, "X")

    @property
    def to_genes(self) -> bool:
        """Whether predictions can be given as genes."""
        if self.preprocessor is not None:
            return bool(self.preprocessor.invertible)
        return not self.in_rep or self.loadings is not None

    def describe(self) -> str:
        """One line for reprs and ``uns``."""
        if self.preprocessor is not None:
            steps = ", ".join(s["step"] for s in self.preprocessor.describe())
            return f"preprocess [{steps}] of {self._genes_where()}" + (
                " (predictions mapped back to genes)" if self.to_genes else "")
        if self.in_rep:
            if self.loadings is not None:
                return (f"obsm[{self.use_rep!r}] (predictions mapped back to genes through "
                        f"varm[{self.loadings_key!r}])")
            return f"obsm[{self.use_rep!r}] (no loadings: predictions stay in the embedding)"
        return self._genes_where()

    def _genes_where(self) -> str:
        return f"layers[{self.layer!r}]" if self.layer else "X"

    def genes(self, adata: Any) -> np.ndarray:
        """The gene matrix (``X`` or the layer) of ``adata``, checked against the fitted genes."""
        if self.var_names and list(map(str, adata.var_names)) != self.var_names:
            raise ValueError(
                f"adata has {adata.n_vars} genes that differ from the {len(self.var_names)} genes "
                "the model was fitted on (same var_names, same order, are needed to map predictions "
                "back to genes); subset with adata[:, fitted_var_names]."
            )
        return get_matrix(adata, None, self.layer)[0]

    # -- fitting ---------------------------------------------------------------------------------
    @classmethod
    def fit(cls, adata: Any, fit_mask: np.ndarray, *, use_rep: str | None, layer: str | None,
            loadings_key: str | None, preprocess: Any) -> tuple[FeatureSpace, np.ndarray]:
        """Set the space up on ``adata`` and return it with the model input of every cell."""
        if preprocess is not None and use_rep not in (None, "X"):
            raise ValueError("pass either use_rep or preprocess, not both (preprocess works on genes).")
        sp = cls(use_rep=use_rep, layer=layer, var_names=list(map(str, adata.var_names)))
        if preprocess is not None:
            from trackability.data.preprocessing import Preprocessor

            pre = preprocess if isinstance(preprocess, Preprocessor) else Preprocessor(preprocess)
            xg = sp.genes(adata)
            pre.fit(xg[fit_mask], feature_names=sp.var_names)
            sp.preprocessor = pre
            sp.feature_names = list(pre.feature_names_out_ or
                                    [f"z{i}" for i in range(pre.n_features_out_)])
            return sp, pre.transform(xg)
        x, names = get_matrix(adata, use_rep, layer)
        sp.feature_names = names
        if sp.in_rep:
            key = loadings_key
            if key is None and use_rep == "X_pca" and "PCs" in adata.varm:
                key = "PCs"
            if key is not None:
                if key not in adata.varm:
                    raise KeyError(f"loadings_key={key!r} is not in adata.varm (keys: {list(adata.varm)}).")
                load = np.asarray(adata.varm[key], dtype=np.float64)
                if load.shape != (adata.n_vars, x.shape[1]):
                    raise ValueError(
                        f"adata.varm[{key!r}] has shape {load.shape}; loadings for obsm[{use_rep!r}] "
                        f"need (n_vars, {x.shape[1]}) = ({adata.n_vars}, {x.shape[1]})."
                    )
                sp._set_loadings(key, load, adata, fit_mask, x)
        return sp, x

    def _set_loadings(self, key: str, load: np.ndarray, adata: Any, mask: np.ndarray,
                      z: np.ndarray) -> None:
        xg = self.genes(adata)[mask]
        proj = xg @ load
        offset = (proj - z[mask]).mean(axis=0)
        resid = proj - offset - z[mask]
        scale = max(float(np.abs(z[mask]).max()), 1e-300)
        if float(np.abs(resid).max()) > 1e-3 * scale:
            warnings.warn(
                f"adata.varm[{key!r}] does not map the genes ({self._genes_where()}) onto "
                f"obsm[{self.use_rep!r}] (max error {float(np.abs(resid).max()):.3g} against "
                f"coordinates up to {scale:.3g}): was X changed after the PCA? Predictions stay in "
                "the embedding; pass loadings_key=None to silence this.",
                UserWarning, stacklevel=4,
            )
            return
        self.loadings_key, self.loadings, self.offset = key, load, offset

    # -- using -----------------------------------------------------------------------------------
    def model_input(self, adata: Any) -> np.ndarray:
        """The model's features of every cell of ``adata`` (projected when ``use_rep`` is absent)."""
        if self.preprocessor is not None:
            return self.preprocessor.transform(self.genes(adata))
        if self.in_rep and self.use_rep not in adata.obsm:
            if self.loadings is None:
                raise KeyError(
                    f"use_rep={self.use_rep!r} is not in adata.obsm (keys: {list(adata.obsm)}) and "
                    "the model has no loadings to project the genes with."
                )
            return self.genes(adata) @ self.loadings - self.offset
        return get_matrix(adata, self.use_rep, self.layer)[0]

    def output(self, adata: Any, z: np.ndarray, z_pred: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Predicted cells as genes when possible, else in the model space, with feature names."""
        if self.preprocessor is not None:
            pre = self.preprocessor
            if not pre.invertible:
                return z_pred, self.feature_names
            if all(name in _LINEAR_STEPS for name, _ in pre.steps):
                return (self.genes(adata) + pre.inverse_transform(z_pred) - pre.inverse_transform(z),
                        self.var_names)
            return pre.inverse_transform(z_pred), self.var_names
        if self.in_rep:
            if self.loadings is None:
                return z_pred, self.feature_names
            return self.genes(adata) + (z_pred - z) @ self.loadings.T, self.var_names
        return z_pred, self.var_names

    def record(self) -> dict[str, Any]:
        """JSON-able summary for ``uns``."""
        out: dict[str, Any] = {"use_rep": self.use_rep or "", "layer": self.layer or "",
                               "loadings_key": self.loadings_key or "", "to_genes": self.to_genes,
                               "description": self.describe()}
        if self.preprocessor is not None:
            out["preprocess"] = [str(s) for s in self.preprocessor.describe()]
        return out
