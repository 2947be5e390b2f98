"""Kang et al. 2018 (Nat Biotechnol 36:89): PBMCs, control vs IFN-beta stimulated, scRNA-seq.

The file is the scGen validation split (``kang2018_pbmc_ifnb.h5ad``: 1,975 cells x 6,998 genes,
log1p-normalised, sparse), with obs ``condition`` and ``cell_type``. Other distributions of the same
data label the conditions ``ctrl``/``stim`` (e.g. the scGen training file, pertpy's ``kang_2018``
under obs ``label``); the loader maps them to ``control``/``stimulated``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from trackability.data.loaders._files import (
    _show,
    check_finite_matrix,
    loader_info,
    locate,
    read_h5ad,
    require_columns,
)

if TYPE_CHECKING:  # pragma: no cover
    import anndata

WHAT = "Kang et al. 2018 data set"
KANG_DEFAULT = "kang2018/kang2018_pbmc_ifnb.h5ad"

#: The seven cell types of the scGen split.
KANG_CELL_TYPES: tuple[str, ...] = ("CD4T", "CD14+Mono", "B", "CD8T", "NK", "FCGR3A+Mono", "Dendritic")

#: Condition labels found in distributions of the data (case-insensitive) -> the loader's names.
KANG_CONDITION_LABELS: dict[str, str] = {
    "control": "control",
    "ctrl": "control",
    "stimulated": "stimulated",
    "stim": "stimulated",
}


def load_kang(
    path: str | os.PathLike | None = None,
    *,
    condition_key: str = "condition",
    cell_type_key: str = "cell_type",
) -> anndata.AnnData:
    """Load the Kang et al. 2018 IFN-beta PBMC data (control vs stimulated, 7 cell types).

    Parameters
    ----------
    path
        The ``.h5ad`` file, a folder holding ``kang2018_pbmc_ifnb.h5ad``, or None for
        ``$TRACKABILITY_DATA/kang2018/kang2018_pbmc_ifnb.h5ad`` (else the cache folder).
    condition_key, cell_type_key
        obs columns of the file holding the condition and the cell type (``"label"`` and
        ``"cell_type"`` in pertpy's copy, for instance).

    Returns
    -------
    anndata.AnnData
        X as in the file (log1p-normalised expression; sparse stays sparse). ``obs['condition']``
        is categorical with exactly ``control`` and ``stimulated`` (the file's ``ctrl``/``stim``,
        any case, are mapped to these; the file's own labels are kept in
        ``obs['condition_original']`` when they differ), ``obs['cell_type']`` is categorical; the
        file's other obs columns, var, obsm and uns are kept; ``uns['loader']`` records the file.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ValueError
        When the file is not a readable ``.h5ad``, lacks the condition/cell-type obs columns, holds
        an unknown condition label or only one condition, or X holds NaN/inf.

    """
    import pandas as pd

    f = locate(path, KANG_DEFAULT, what=WHAT, suffixes=(".h5ad",))
    adata = read_h5ad(f, what=WHAT)
    require_columns(adata.obs.columns, [condition_key, cell_type_key], source=str(f), kind="obs column(s)")
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise ValueError(
            f"{f}: holds {adata.n_obs} cells x {adata.n_vars} genes; expected a non-empty matrix."
        )
    check_finite_matrix(adata.X, source=str(f), var_names=list(adata.var_names))

    raw = adata.obs[condition_key].astype(str)
    key = raw.str.strip().str.lower()
    unknown = sorted(set(raw[~key.isin(list(KANG_CONDITION_LABELS))]))
    if unknown:
        raise ValueError(
            f"{f}: obs[{condition_key!r}] holds unknown condition label(s) {_show(unknown)}; expected "
            f"one of {_show(KANG_CONDITION_LABELS)} (mapped to 'control'/'stimulated')."
        )
    mapped = key.map(KANG_CONDITION_LABELS)
    present = set(mapped)
    if present != {"control", "stimulated"}:
        raise ValueError(
            f"{f}: obs[{condition_key!r}] holds only {sorted(present)} cells; need both conditions."
        )
    if cell_type_key != "cell_type" and "cell_type" in adata.obs.columns:
        adata.obs["cell_type_original"] = adata.obs["cell_type"]
    if adata.obs[cell_type_key].isna().any():
        n = int(adata.obs[cell_type_key].isna().sum())
        raise ValueError(f"{f}: obs[{cell_type_key!r}] is missing for {n} cell(s).")
    cell_type = adata.obs[cell_type_key].astype(str)
    if not np.array_equal(raw.to_numpy(), mapped.to_numpy()) or condition_key != "condition":
        adata.obs["condition_original"] = adata.obs[condition_key]
    adata.obs["condition"] = pd.Categorical(mapped.to_numpy(), categories=["control", "stimulated"])
    seen = set(cell_type)
    order = [c for c in KANG_CELL_TYPES if c in seen] + sorted(seen - set(KANG_CELL_TYPES))
    adata.obs["cell_type"] = pd.Categorical(cell_type.to_numpy(), categories=order)
    adata.uns["loader"] = loader_info(
        "kang2018", [f], condition_key=condition_key, cell_type_key=cell_type_key,
        condition_labels={str(k): str(v) for k, v in zip(raw, mapped, strict=True)},
    )
    return adata
