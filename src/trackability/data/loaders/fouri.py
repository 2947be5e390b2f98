"""4i imaging of melanoma cells under drugs, 8 h (Gut et al. 2018, CellOT's preprocessing).

``8h.h5ad`` from the CellOT data release (Bunne et al. 2023): one cell per row, 78 per-cell
features (``intensity-<compartment>-<marker>-mean``, ``intensity-<compartment>-DAPI-sum``,
``morphology-<compartment>-<shape feature>``, ...), obs ``drug`` (``control`` and the drugs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
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

WHAT = "4i data set (Gut et al. 2018, CellOT 8h.h5ad)"
#: Default location: the layout of the CellOT data release (``datasets/4i/8h.h5ad``), so that its
#: ``datasets`` folder can serve as ``$TRACKABILITY_DATA`` as it is.
FOURI_DEFAULT = "4i/8h.h5ad"
FOURI_N_VARS = 78

_MARKERS = (
    "CD45", "ClCasp3", "Ki67", "MelA", "PCNA", "Sox9", "aTUB", "pAKT", "pEGFR", "pERK", "pMET", "pS6k1",
)
_SHAPES = (
    "area", "circularity", "convexity", "eccentricity", "elongation", "equivalent_diameter", "extent",
    "major_axis_length", "mean_radius", "perimeter", "roundness",
)
_COMPARTMENTS = ("cell", "nuclei")

#: The 48 features the study used: 24 mean marker intensities, 2 DAPI sums, 22 morphology features.
FOURI_STUDY_FEATURES: tuple[str, ...] = (
    *(f"intensity-{c}-{m}-mean" for c in _COMPARTMENTS for m in _MARKERS),
    *(f"intensity-{c}-DAPI-sum" for c in _COMPARTMENTS),
    *(f"morphology-{c}-{s}" for c in _COMPARTMENTS for s in _SHAPES),
)
#: The drugs the study benchmarked.
FOURI_STUDY_DRUGS: tuple[str, ...] = ("trametinib", "imatinib", "cisplatin", "dexamethasone")


def load_4i(
    path: str | os.PathLike | None = None,
    features: str | os.PathLike | Sequence[str] = "study",
    drugs: Sequence[str] | None = None,
) -> anndata.AnnData:
    """Load the 4i drug-response data (CellOT's ``8h.h5ad``).

    Parameters
    ----------
    path
        The ``.h5ad`` file, a folder holding ``8h.h5ad``, or None for
        ``$TRACKABILITY_DATA/4i/8h.h5ad`` (else the cache folder).
    features
        ``"study"`` (the 48 of :data:`FOURI_STUDY_FEATURES`, in that order), ``"all"`` (the 78 of
        the file), a list of feature names, or the path of a text file with one name per line
        (e.g. CellOT's ``datasets/4i/features.txt``).
    drugs
        Keep only the ``control`` cells and those of these drugs (default: every cell).

    Returns
    -------
    anndata.AnnData
        Cells x features, dense float64. obs as in the file (``drug`` categorical, ``control``
        first); ``uns['loader']`` records the file and the selection.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ValueError
        When the file is not a readable ``.h5ad``, lacks obs ``drug`` or ``control`` cells, does not
        have 78 variables, lacks a study feature, holds NaN/inf, or a requested drug or feature is
        unknown.

    """
    import pandas as pd

    f = locate(path, FOURI_DEFAULT, what=WHAT, suffixes=(".h5ad",))
    adata = read_h5ad(f, what=WHAT)
    require_columns(adata.obs.columns, ["drug"], source=str(f), kind="obs column(s)")
    if adata.n_vars != FOURI_N_VARS:
        raise ValueError(f"{f}: has {adata.n_vars} variables; the CellOT 4i file has {FOURI_N_VARS}.")
    names = [str(v) for v in adata.var_names]
    require_columns(names, FOURI_STUDY_FEATURES, source=str(f), kind="study feature(s)")
    if adata.obs["drug"].isna().any():
        raise ValueError(f"{f}: obs['drug'] is missing for {int(adata.obs['drug'].isna().sum())} cell(s).")
    drug = adata.obs["drug"].astype(str).to_numpy()
    present = sorted(set(drug))
    if "control" not in present:
        raise ValueError(f"{f}: obs['drug'] has no 'control' cells; labels found: {_show(present)}.")

    if isinstance(features, str) and features in ("study", "all"):
        label = features
        chosen = list(FOURI_STUDY_FEATURES) if features == "study" else names
    else:
        label = "custom"
        if isinstance(features, (str, os.PathLike)):
            listing = Path(features)
            if not listing.is_file():
                raise ValueError(
                    "features must be 'study', 'all', a list of names or a text file of names; "
                    f"got {features!r}."
                )
            features = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
            label = str(listing)
        chosen = [str(v) for v in features]
        unknown = [v for v in chosen if v not in names]
        if unknown or not chosen:
            raise ValueError(f"features: unknown feature(s) {_show(unknown)} (not in {f}).")
    rows = np.ones(adata.n_obs, dtype=bool)
    if drugs is not None:
        wanted = [str(d) for d in ([drugs] if isinstance(drugs, str) else drugs)]
        unknown = [d for d in wanted if d not in present]
        if unknown:
            raise ValueError(
                f"drugs: {_show(unknown)} not in obs['drug'] of {f}; available: {_show(present, 40)}."
            )
        rows = np.isin(drug, ["control", *wanted])

    sub = adata[rows, chosen]
    x = sub.X.toarray() if hasattr(sub.X, "toarray") else np.asarray(sub.X)
    x = np.asarray(x, dtype=np.float64)
    check_finite_matrix(x, source=str(f), var_names=chosen)
    out = sub.copy()
    out.X = x
    kept = ["control", *sorted(set(drug[rows]) - {"control"})]
    out.obs["drug"] = pd.Categorical(drug[rows], categories=kept)
    out.uns["loader"] = loader_info(
        "4i", [f], features=label,
        drugs=list(drugs) if drugs is not None and not isinstance(drugs, str) else drugs,
    )
    return out
