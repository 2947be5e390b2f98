"""COLO858 melanoma cells, untreated baseline, fixed-cell 4i imaging (STAR Protocols 2024).

One CSV (``colo858_4i_baseline.csv``), one cell per row: ``well``, ``track_label``, centroid ``x``,
``y``, per-cell mean intensities of the six markers FRA1, MITF, NGFR, SOX10, AXL, cJUN, and the
Hoechst (DNA) signal of the three staining rounds ``hoechst_r1..3``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from trackability.data.loaders._files import (
    DataFileError,
    loader_info,
    locate,
    numeric_block,
    read_csv,
    require_columns,
)

if TYPE_CHECKING:  # pragma: no cover
    import anndata

WHAT = "COLO858 4i baseline data set"
COLO858_DEFAULT = "colo858_4i/colo858_4i_baseline.csv"

#: The six 4i markers, in the column order of the file.
COLO858_MARKERS: tuple[str, ...] = ("FRA1", "MITF", "NGFR", "SOX10", "AXL", "cJUN")

#: Cells in the published file (all three wells).
COLO858_CELLS = 5708


def load_colo858_4i(
    path: str | os.PathLike | None = None, *, n_cells: int | None = COLO858_CELLS
) -> anndata.AnnData:
    """Load the untreated COLO858 4i baseline (5,708 cells x 6 markers in three wells).

    Parameters
    ----------
    path
        The CSV file, a folder holding ``colo858_4i_baseline.csv``, or None for
        ``$TRACKABILITY_DATA/colo858_4i/colo858_4i_baseline.csv`` (else the cache folder).
    n_cells
        The number of cells the file must hold: the published 5,708 by default, so that a copy cut
        at a line boundary is refused; None accepts any number (a subset of your own).

    Returns
    -------
    anndata.AnnData
        Cells x the six markers (mean intensity, float64, as in the file). ``obs``: every other
        column of the file (``well`` categorical, ``track_label``, ``x``, ``y``, ``hoechst_r1..3``);
        obs names ``<well>_<track_label>``. ``uns['loader']`` records the file.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ValueError
        When the file is not a CSV (binary, not UTF-8), is truncated (a partial last line, or fewer
        rows than ``n_cells``), lacks a column, or a marker value is non-numeric or missing, or two
        rows share a well and track label. The error (:class:`DataFileError` for file problems)
        names the file.
    PermissionError
        When the file cannot be read.

    """
    import anndata
    import pandas as pd

    if n_cells is not None and (isinstance(n_cells, bool) or not isinstance(n_cells, int) or n_cells < 1):
        raise ValueError(f"n_cells must be a positive integer or None; got {n_cells!r}.")
    f = locate(path, COLO858_DEFAULT, what=WHAT, suffixes=(".csv",))
    frame = read_csv(f, what=WHAT)
    require_columns(frame.columns, ["well", "track_label", *COLO858_MARKERS], source=str(f), kind="column(s)")
    if len(frame) == 0:
        raise DataFileError(f, "holds no cells.")
    x = numeric_block(frame, list(COLO858_MARKERS), source=str(f), row_offset=2)
    obs = frame.drop(columns=list(COLO858_MARKERS)).copy()
    if obs["well"].isna().any():
        raise ValueError(f"{f}: column 'well' is empty for {int(obs['well'].isna().sum())} cell(s).")
    obs["well"] = pd.Categorical(obs["well"].astype(str))
    names = obs["well"].astype(str) + "_" + obs["track_label"].astype(str)
    dup = names.duplicated()
    if dup.any():
        raise ValueError(f"{f}: well/track_label {names[dup].iloc[0]!r} appears more than once.")
    if n_cells is not None and len(frame) != n_cells:
        raise DataFileError(
            f, f"holds {len(frame)} cells; the published file has {n_cells} (truncated copy, or a "
            "subset: pass n_cells=None to accept it)."
        )
    obs.index = pd.Index(names.to_numpy(), name="cell")
    var = pd.DataFrame(index=pd.Index(list(COLO858_MARKERS), name="marker"))
    adata = anndata.AnnData(X=x, obs=obs, var=var)
    adata.uns["loader"] = loader_info("colo858_4i", [f])
    return adata
