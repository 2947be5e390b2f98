"""Shared helpers of the AnnData front: argument checks, reading a matrix, selecting groups."""

from __future__ import annotations

from typing import Any

import numpy as np

from trackability._validation import check_array


def check_adata(adata: Any, name: str = "adata") -> Any:
    """Refuse anything that is not an AnnData (with a message naming the argument)."""
    import anndata

    if not isinstance(adata, anndata.AnnData):
        raise TypeError(
            f"{name} must be an anndata.AnnData; got {type(adata).__name__}. For numpy arrays use "
            "the models directly (e.g. trackability.models.LAOT().fit(x0, xt))."
        )
    return adata


def check_key(key: Any, name: str = "key_added") -> str:
    """A non-empty string usable as an AnnData key (h5ad keys must be strings without '/')."""
    if not isinstance(key, str) or not key or "/" in key:
        raise ValueError(f"{name} must be a non-empty string without '/'; got {key!r}.")
    return key


def get_matrix(adata: Any, use_rep: str | None, layer: str | None) -> tuple[np.ndarray, list[str]]:
    """The cells x features matrix named by ``use_rep`` / ``layer`` (default ``X``), and its names."""
    if use_rep is not None and layer is not None:
        raise ValueError("pass either use_rep or layer, not both.")
    if use_rep is not None and not isinstance(use_rep, str):
        raise TypeError(f"use_rep must be a key of adata.obsm (a string); got {use_rep!r}.")
    if use_rep is not None and use_rep != "X":
        if use_rep not in adata.obsm:
            raise KeyError(f"use_rep={use_rep!r} is not in adata.obsm (keys: {list(adata.obsm)}).")
        x = adata.obsm[use_rep]
        names = [f"{use_rep}_{i}" for i in range(np.shape(x)[1])]
        where = f"adata.obsm[{use_rep!r}]"
    elif layer is not None:
        if layer not in adata.layers:
            raise KeyError(f"layer={layer!r} is not in adata.layers (keys: {list(adata.layers)}).")
        x, names, where = adata.layers[layer], list(map(str, adata.var_names)), f"adata.layers[{layer!r}]"
    else:
        x, names, where = adata.X, list(map(str, adata.var_names)), "adata.X"
    if x is None:
        raise ValueError(f"{where} is empty (None).")
    return check_array(x, where), names


def group_mask(adata: Any, groupby: str, value: Any, arg: str, *, min_cells: int = 2) -> np.ndarray:
    """Boolean mask of the cells whose ``obs[groupby]`` equals ``value`` (compared as strings)."""
    if not isinstance(groupby, str) or groupby not in adata.obs.columns:
        raise KeyError(
            f"groupby={groupby!r} is not a column of adata.obs (columns: {list(adata.obs.columns)})."
        )
    col = adata.obs[groupby].astype(str).to_numpy()
    m = col == str(value)
    if m.sum() < min_cells:
        raise ValueError(
            f"{arg}={value!r}: {int(m.sum())} cell(s) in adata.obs[{groupby!r}] (needs >= {min_cells}); "
            f"groups present: {sorted(set(col))}."
        )
    return m


def group_masks(adata: Any, groupby: str, control: Any, treated: Any,
                names: tuple[str, str] = ("control", "treated")) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the control and treated cells; the two groups must differ."""
    if str(control) == str(treated):
        raise ValueError(f"{names[0]} and {names[1]} must be different groups; both are {control!r}.")
    return (group_mask(adata, groupby, control, names[0]),
            group_mask(adata, groupby, treated, names[1]))


def jsonish(v: Any) -> Any:
    """Values that AnnData can write to ``.uns`` (h5ad): arrays, numbers, strings, dicts thereof."""
    if isinstance(v, dict):
        return {str(k): jsonish(x) for k, x in v.items() if x is not None}
    if isinstance(v, list | tuple):
        try:
            arr = np.asarray(v)
            if arr.dtype != object and arr.dtype.kind != "U":
                return arr
            if arr.dtype.kind == "U":
                return arr.astype(object).astype(str)
        except ValueError:
            pass
        return {str(i): jsonish(x) for i, x in enumerate(v)}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray) and v.dtype == object:
        return v.astype(str)
    if isinstance(v, bool | int | float | str | np.ndarray):
        return v
    return str(v)
