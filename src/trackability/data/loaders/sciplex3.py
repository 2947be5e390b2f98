"""SciPlex3 (Srivatsan et al. 2020, Science 367:45), CellOT's preprocessing ``hvg.h5ad``.

About 762,000 cells (A549, K562, MCF7) x 1,000 highly variable genes; obs ``drug`` (``control`` and
188 compounds), ``cell_type``, ``dose``, ``replicate``; varm ``marker_genes-drug-rank``: a genes x
drugs table of marker ranks (smaller = stronger marker; CellOT scores each drug on the genes with the
smallest ranks: ``varm[key][drug].sort_values().index[:k]``). The file is read in backed mode and only
the cells a task needs (control + the requested drugs) are loaded into memory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
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

WHAT = "SciPlex3 data set (Srivatsan et al. 2020, CellOT hvg.h5ad)"
#: Default location: the layout of the CellOT data release (``datasets/scrna-sciplex3/hvg.h5ad``).
SCIPLEX3_DEFAULT = "scrna-sciplex3/hvg.h5ad"
SCIPLEX3_N_VARS = 1000
#: varm key of the per-drug marker ranks (CellOT also wrote a generic ``marker_genes-condition-rank``).
SCIPLEX3_MARKER_KEY = "marker_genes-drug-rank"
_MARKER_KEYS = (SCIPLEX3_MARKER_KEY, "marker_genes-condition-rank")
_OBS = ("drug", "cell_type", "dose", "replicate")

#: The drugs the study benchmarked.
SCIPLEX3_STUDY_DRUGS: tuple[str, ...] = ("trametinib", "givinostat", "abexinostat")


def load_sciplex3(
    path: str | os.PathLike | None = None,
    drugs: Sequence[str] | None = None,
    backed: bool = True,
) -> anndata.AnnData:
    """Load SciPlex3 cells of ``control`` and the requested drugs (CellOT's ``hvg.h5ad``).

    Parameters
    ----------
    path
        The ``.h5ad`` file, a folder holding ``hvg.h5ad``, or None for
        ``$TRACKABILITY_DATA/scrna-sciplex3/hvg.h5ad`` (else the cache folder).
    drugs
        Drugs whose cells are loaded, besides ``control`` (default: every cell, i.e. the whole
        762k-cell file; pass the drugs a task needs).
    backed
        Open the file in backed mode and read only the selected rows of X (default); False reads
        the whole file into memory first.

    Returns
    -------
    anndata.AnnData
        In memory: cells of control + ``drugs`` x the 1,000 genes, X as in the file (sparse stays
        sparse). obs as in the file (``drug`` categorical with ``control`` first); varm
        ``marker_genes-drug-rank`` (a genes x drugs DataFrame; see :func:`sciplex3_marker_genes`).

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ValueError
        When the file is not a readable ``.h5ad``, lacks an obs column or the marker ranks, has a
        number of genes other than 1,000, has no control cells, a requested drug is not in it, or
        the loaded X holds NaN/inf.

    """
    import pandas as pd

    f = locate(path, SCIPLEX3_DEFAULT, what=WHAT, suffixes=(".h5ad",))
    adata = read_h5ad(f, what=WHAT, backed=backed)
    try:
        require_columns(adata.obs.columns, _OBS, source=str(f), kind="obs column(s)")
        if adata.n_vars != SCIPLEX3_N_VARS:
            raise ValueError(
                f"{f}: has {adata.n_vars} genes; the CellOT SciPlex3 file has {SCIPLEX3_N_VARS}."
            )
        key = next((k for k in _MARKER_KEYS if k in adata.varm), None)
        if key is None:
            raise ValueError(
                f"{f}: varm lacks the marker ranks {SCIPLEX3_MARKER_KEY!r}; varm holds {_show(adata.varm)}."
            )
        ranks = adata.varm[key]
        if not hasattr(ranks, "columns"):
            raise ValueError(f"{f}: varm[{key!r}] is not a genes x drugs table with drug names as columns.")
        drug = adata.obs["drug"].astype(str).to_numpy()
        present = sorted(set(drug))
        if "control" not in present:
            raise ValueError(f"{f}: obs['drug'] has no 'control' cells; labels found: {_show(present)}.")
        if drugs is None:
            rows = np.ones(adata.n_obs, dtype=bool)
        else:
            wanted = [str(d) for d in ([drugs] if isinstance(drugs, str) else drugs)]
            unknown = [d for d in wanted if d not in present]
            if unknown:
                raise ValueError(
                    f"drugs: {_show(unknown)} not in obs['drug'] of {f}; available: {_show(present, 12)}."
                )
            rows = np.isin(drug, ["control", *wanted])
        idx = np.flatnonzero(rows)
        if backed:
            try:
                out = adata[idx].to_memory()
            except Exception as exc:
                raise ValueError(f"{f}: could not read the selected cells (truncated file?): {exc}") from exc
        else:
            out = adata[idx].copy()
    finally:
        if backed and getattr(adata, "file", None) is not None:
            adata.file.close()

    check_finite_matrix(out.X, source=str(f))
    out.varm[SCIPLEX3_MARKER_KEY] = ranks.copy()
    if key != SCIPLEX3_MARKER_KEY and key in out.varm:
        del out.varm[key]
    kept = ["control", *sorted(set(drug[rows]) - {"control"})]
    out.obs["drug"] = pd.Categorical(drug[rows], categories=kept)
    out.uns["loader"] = loader_info(
        "sciplex3", [f], backed=bool(backed),
        drugs=list(drugs) if drugs is not None and not isinstance(drugs, str) else drugs,
        marker_key=key,
    )
    return out


def sciplex3_marker_genes(adata: anndata.AnnData, drug: str, n: int = 100) -> list[str]:
    """The ``n`` top marker genes of ``drug``: the genes with the smallest marker rank.

    Parameters
    ----------
    adata
        As returned by :func:`load_sciplex3` (any AnnData whose ``varm['marker_genes-drug-rank']``
        is a genes x drugs table).
    drug
        A column of that table.
    n
        Number of genes; ties are broken by gene order, genes without a rank (NaN) are never chosen.

    Returns
    -------
    list of str
        Gene names (``var_names``), strongest marker first.

    """
    key = next((k for k in _MARKER_KEYS if k in adata.varm), None)
    if key is None:
        raise ValueError(f"adata has no varm[{SCIPLEX3_MARKER_KEY!r}]; load it with load_sciplex3.")
    ranks = adata.varm[key]
    if not hasattr(ranks, "columns"):
        raise ValueError(f"varm[{key!r}] is not a genes x drugs DataFrame.")
    if drug not in ranks.columns:
        raise ValueError(f"drug {drug!r} has no marker ranks; available: {_show(list(ranks.columns), 12)}.")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}.")
    col = ranks[drug].to_numpy(dtype=np.float64)
    ranked = np.flatnonzero(np.isfinite(col))
    if n > ranked.size:
        raise ValueError(f"n={n} but drug {drug!r} has marker ranks for only {ranked.size} genes.")
    order = ranked[np.argsort(col[ranked], kind="stable")]
    names = np.asarray(adata.var_names)
    return [str(g) for g in names[order[:n]]]
