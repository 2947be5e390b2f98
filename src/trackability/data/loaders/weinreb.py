"""LARRY lineage tracing of in-vitro haematopoiesis (Weinreb et al. 2020, Science 367:eaaw3381).

The CoSpar test subset (``weinreb2020/larry_cospar_subset.h5ad``, MIT): 781 cells x 2,481 genes
(normalised counts), days 2 / 4 / 6, each cell's clonal barcode in ``obsm['X_clone']`` (cells x
339 clones, sparse). Cells sharing a clone descend from one barcoded progenitor: a day-4 -> day-6
matching can be scored by whether matched cells share a clone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from trackability.data.loaders._files import (
    check_finite_matrix,
    loader_info,
    locate,
    read_h5ad,
    require_columns,
)

if TYPE_CHECKING:  # pragma: no cover
    import anndata

WHAT = "LARRY (Weinreb 2020) CoSpar subset"
WEINREB_DEFAULT = "weinreb2020/larry_cospar_subset.h5ad"
#: The days of the subset and their cell counts.
WEINREB_DAYS: tuple[int, ...] = (2, 4, 6)
WEINREB_CELL_COUNTS: dict[int, int] = {2: 34, 4: 316, 6: 431}


def _check_days(days: Any) -> list[int] | None:
    if days is None:
        return None
    items = [days] if isinstance(days, int | np.integer | str) else list(days)
    out = []
    for v in items:
        try:
            iv = int(str(v).strip())
        except ValueError:
            raise ValueError(f"days holds {v!r}, not a day; the days are {list(WEINREB_DAYS)}.") from None
        if isinstance(v, bool) or iv not in WEINREB_DAYS:
            raise ValueError(f"days holds {v!r}; the days are {list(WEINREB_DAYS)}.")
        out.append(iv)
    if not out:
        raise ValueError("days is empty; pass None for every day.")
    return out


def clone_ids(adata: anndata.AnnData, key: str = "X_clone") -> np.ndarray:
    """The clone of each cell: the column of its barcode in ``obsm[key]``, -1 for none.

    A cell with several barcodes (not in the published subset) gets the first; see
    ``obs['n_clones']`` from :func:`load_weinreb`.
    """
    import scipy.sparse as sp

    m = sp.csr_matrix(adata.obsm[key])
    out = np.full(m.shape[0], -1, dtype=np.int64)
    nnz = np.diff(m.indptr)
    has = nnz > 0
    out[has] = m.indices[m.indptr[:-1][has]]
    return out


def load_weinreb(
    path: str | os.PathLike | None = None, *, days: Sequence[int] | int | None = None
) -> anndata.AnnData:
    """Load the LARRY CoSpar subset (781 cells, days 2/4/6) with its clonal barcodes.

    Parameters
    ----------
    path
        The ``.h5ad`` file, a folder holding ``larry_cospar_subset.h5ad``, or None for
        ``$TRACKABILITY_DATA/weinreb2020/larry_cospar_subset.h5ad`` (else the cache folder).
    days
        Keep only these days (among 2, 4, 6); None: all.

    Returns
    -------
    anndata.AnnData
        Cells x 2,481 genes, as published (normalised counts). ``obs``:

        - ``time_info``: the day, as in the file (categorical ``'2'``, ``'4'``, ``'6'``);
        - ``day``: the same as an integer;
        - ``state_info``: the cell's annotated state (fate), categorical;
        - ``clone``: the index of the cell's clone barcode (a column of ``obsm['X_clone']``), -1 for
          a cell without one; ``n_clones``: the number of barcodes of the cell;
        - ``n_counts``: as in the file.

        ``obsm``: ``X_clone`` (cells x 339 clones, sparse bool), ``X_pca`` and the file's other
        embeddings. ``uns['loader']`` records the file and the days kept.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ValueError
        When the file cannot be read as ``.h5ad``, lacks ``obs['time_info']``,
        ``obs['state_info']`` or ``obsm['X_clone']``, holds an unknown day or non-finite
        values; or when ``days`` names an unknown day.

    """
    import pandas as pd
    import scipy.sparse as sp

    keep = _check_days(days)
    f = locate(path, WEINREB_DEFAULT, what=WHAT, suffixes=(".h5ad",))
    adata = read_h5ad(f, what=WHAT)
    require_columns(adata.obs.columns, ["time_info", "state_info"], source=str(f), kind="obs key(s)")
    require_columns(adata.obsm.keys(), ["X_clone"], source=str(f), kind="obsm key(s)")
    if adata.n_obs == 0:
        raise ValueError(f"{f}: holds no cells.")
    check_finite_matrix(adata.X, source=str(f), var_names=list(adata.var_names))
    day = pd.to_numeric(adata.obs["time_info"].astype(str), errors="coerce").to_numpy()
    bad = ~np.isin(day, WEINREB_DAYS)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{f}: obs['time_info'] holds {adata.obs['time_info'].iloc[i]!r} (cell "
                         f"{adata.obs_names[i]!r}); expected one of {list(WEINREB_DAYS)}.")
    clones = adata.obsm["X_clone"]
    if clones.shape[0] != adata.n_obs:
        raise ValueError(f"{f}: obsm['X_clone'] has {clones.shape[0]} rows for {adata.n_obs} cells.")
    adata.obsm["X_clone"] = sp.csr_matrix(clones)
    adata.obs["day"] = day.astype(np.int64)
    adata.obs["n_clones"] = np.diff(adata.obsm["X_clone"].indptr).astype(np.int64)
    adata.obs["clone"] = clone_ids(adata)
    if keep is not None:
        adata = adata[np.isin(adata.obs["day"].to_numpy(), keep)].copy()
    adata.uns["loader"] = loader_info("weinreb2020", [f], days=keep)
    return adata
