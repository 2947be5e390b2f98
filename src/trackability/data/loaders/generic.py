"""A user's own file as a data set: ``.h5ad`` or ``.csv``/``.tsv`` (optionally ``.gz``), cells as rows.

:func:`load_anndata` reads it into an AnnData whose X is the features to model: the h5ad's X, one of
its ``layers`` or an ``obsm`` representation (``use_rep``, e.g. ``X_pca``); for a table, every numeric
column that is not named as a label (``keys``), or the ``features`` listed. The label columns (the
group, context, time and replicate keys of the benchmark's ``dataset: anndata``) become ``obs``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trackability.data.loaders._files import (
    DataFileError,
    check_finite_matrix,
    check_readable,
    numeric_block,
    read_csv,
    read_h5ad,
    require_columns,
)

if TYPE_CHECKING:  # pragma: no cover
    import anndata

WHAT = "anndata data set"
SUFFIXES = (".h5ad", ".csv", ".tsv", ".csv.gz", ".tsv.gz")


def _kind(p: Path) -> str:
    name = p.name.lower()
    for s in SUFFIXES:
        if name.endswith(s):
            return s
    raise ValueError(f"{WHAT}: {p} is not one of {', '.join(SUFFIXES)}.")


def load_anndata(
    path: str | os.PathLike,
    *,
    keys: Sequence[str] = (),
    layer: str | None = None,
    use_rep: str | None = None,
    features: Sequence[str] | None = None,
) -> anndata.AnnData:
    """Read a user's ``.h5ad`` or table as cells x features.

    Parameters
    ----------
    path
        The file (``.h5ad``, ``.csv``, ``.tsv``, optionally gzip-compressed tables).
    keys
        obs keys (h5ad) or columns (table) the tasks need: checked to exist; table columns named
        here are labels, never features.
    layer, use_rep
        h5ad only: read ``layers[layer]`` or ``obsm[use_rep]`` instead of X (not both).
    features
        Keep only these variables / columns (default: all; for a table every numeric column that
        is not in ``keys``).

    Raises
    ------
    FileNotFoundError, PermissionError
        Missing or unreadable file.
    ValueError
        (``DataFileError`` for file problems) naming the file: unreadable format, a missing key,
        layer, representation or feature, non-numeric or non-finite values.

    """
    import anndata
    import pandas as pd

    if path is None:
        raise ValueError("dataset 'anndata' needs path: the .h5ad or .csv file to benchmark.")
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{WHAT}: no file at {p}.")
    kind = _kind(check_readable(p, what=WHAT))
    keys = [str(k) for k in keys if k is not None]
    if kind == ".h5ad":
        if layer is not None and use_rep is not None:
            raise ValueError("give layer or use_rep, not both.")
        a = read_h5ad(p, what=WHAT)
        require_columns(a.obs.columns, keys, source=str(p), kind="obs key(s)")
        if use_rep is not None:
            if use_rep not in a.obsm:
                raise DataFileError(p, f"has no obsm[{use_rep!r}]; obsm keys: {list(a.obsm.keys())}.")
            x = np.asarray(a.obsm[use_rep])
            names = [f"{use_rep}_{j}" for j in range(x.shape[1])]
        else:
            if layer is not None and layer not in a.layers:
                raise DataFileError(p, f"has no layer {layer!r}; layers: {list(a.layers.keys())}.")
            x = a.X if layer is None else a.layers[layer]
            names = list(map(str, a.var_names))
        obs = a.obs[keys].copy() if keys else pd.DataFrame(index=a.obs_names)
        if features is not None:
            missing = [f for f in features if f not in names]
            if missing:
                raise DataFileError(p, f"has no variable(s) {missing} (features).")
            idx = [names.index(f) for f in features]
            x, names = x[:, idx], list(features)
        check_finite_matrix(x, source=str(p), var_names=names)
        dense = x.toarray() if hasattr(x, "toarray") else np.asarray(x)
        x = np.asarray(dense, dtype=np.float64)
        obs.index = a.obs_names.astype(str)
    else:
        if layer is not None or use_rep is not None:
            raise ValueError(f"{p}: layer / use_rep apply to .h5ad files only.")
        frame = read_csv(p, what=WHAT, sep="\t" if kind.startswith(".tsv") else ",",
                         float_precision="round_trip")
        require_columns(frame.columns, keys, source=str(p), kind="column(s)")
        if features is not None:
            require_columns(frame.columns, features, source=str(p), kind="feature column(s)")
            names = [str(f) for f in features]
        else:
            names = [str(c) for c in frame.columns
                     if c not in keys and pd.api.types.is_numeric_dtype(frame[c])]
        if not names:
            raise DataFileError(p, "has no numeric feature column besides the label columns.")
        x = numeric_block(frame, names, source=str(p), row_offset=2)
        obs = frame[keys].copy()
        obs.index = obs.index.astype(str)
    if x.shape[0] < 2:
        raise DataFileError(p, f"holds {x.shape[0]} cell(s).")
    var = pd.DataFrame(index=pd.Index(names, name="feature"))
    adata = anndata.AnnData(X=x, obs=obs, var=var)
    adata.uns["loader"] = {"dataset": "anndata", "files": [str(p)], "layer": layer or "none",
                           "use_rep": use_rep or "none"}
    return adata
