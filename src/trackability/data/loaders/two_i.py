"""Reprogramming time course, 2i branch (Schiebinger et al. 2019, Cell 176:928; Waddington-OT data).

The Waddington-OT tutorial folder (``data/`` of the wot tutorial) holds:

- ``ExprMatrix.h5ad``: cells x genes expression matrix (also ``ExprMatrix.var.genes.h5ad``, the
  1,479 variable genes);
- ``cell_days.txt``: tab-separated table with header ``id`` / ``day`` (day of collection);
- ``serum_cell_ids.txt`` and ``2i_cell_ids.txt``: one cell id per line, no header (the cells of
  each culture condition after day 8).

The study's task: control = the 2i cells of day 8.5, treated = those of days 9.0 ... 15.5 (gaps of
12 to 168 hours), on 50 highly variable genes.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trackability._validation import check_choice
from trackability.data.loaders._files import (
    DataFileError,
    _show,
    check_finite_matrix,
    check_numbers,
    check_readable,
    loader_info,
    read_csv,
    read_h5ad,
    require_columns,
)
from trackability.data.paths import resolve_data_path

if TYPE_CHECKING:  # pragma: no cover
    import anndata

WHAT = "2i reprogramming data set (Schiebinger et al. 2019, wot tutorial files)"
TWO_I_DEFAULT = "schiebinger2019"
TWO_I_MATRIX = "ExprMatrix.h5ad"
TWO_I_DAYS_FILE = "cell_days.txt"
TWO_I_ID_FILES = {"2i": "2i_cell_ids.txt", "serum": "serum_cell_ids.txt"}

#: The control time point of the study's 2i task (days).
TWO_I_CONTROL_DAY = 8.5
#: The treated time points of the study's 2i task (days; gaps of 12 to 168 hours after day 8.5).
TWO_I_TREATED_DAYS: tuple[float, ...] = (9.0, 9.5, 10.0, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5)


def dispersion_hvg(
    x: Any,
    n_top_genes: int,
    *,
    n_bins: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """Select highly variable genes by normalised dispersion (the Seurat / scanpy "seurat" recipe).

    For each gene: mean ``m`` and variance ``v`` (ddof=1) over the cells given, dispersion
    ``log(v / m)``; genes are put into ``n_bins`` equal-width bins of ``log1p(m)`` and each gene's
    dispersion is z-scored within its bin (a bin holding one gene gives z = 0). The ``n_top_genes``
    with the largest normalised dispersion are returned, ties (to 12 decimals) broken by gene order.
    Genes with zero mean or zero variance are never chosen. Computed on the values as given (no
    further transform).

    Parameters
    ----------
    x
        Cells x genes, dense or sparse (only the cells to base the choice on, e.g. training cells).
    n_top_genes
        Number of genes to select.
    n_bins
        Number of mean-expression bins.

    Returns
    -------
    index : ndarray of int
        Column indices of the selected genes, most variable first.
    dispersion_norm : ndarray of float
        Normalised dispersion of every gene (NaN where undefined).

    """
    _check_n_top(n_top_genes)
    if x.shape[0] < 2:
        raise ValueError(f"highly variable genes need at least 2 cells; got {x.shape[0]}.")
    s1, s2 = _sums(x)
    return _select_by_dispersion(s1, s2, x.shape[0], n_top_genes, n_bins)


def _check_n_top(n_top_genes: Any) -> None:
    if isinstance(n_top_genes, bool) or not isinstance(n_top_genes, (int, np.integer)) or n_top_genes < 1:
        raise ValueError(f"n_top_genes must be a positive integer; got {n_top_genes!r}.")


def _sums(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene sum and sum of squares (float64) of a dense or sparse block of cells."""
    if hasattr(x, "toarray"):
        xs = x.tocsr().astype(np.float64)
        return np.asarray(xs.sum(axis=0)).ravel(), np.asarray(xs.multiply(xs).sum(axis=0)).ravel()
    xd = np.asarray(x, dtype=np.float64)
    return xd.sum(axis=0), (xd * xd).sum(axis=0)


def _select_by_dispersion(
    s1: np.ndarray, s2: np.ndarray, n: int, n_top_genes: int, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    mean = s1 / n
    var = np.maximum(s2 / n - mean**2, 0.0) * n / (n - 1)
    ok = (mean > 0) & (var > 0)
    disp = np.full(mean.shape, np.nan)
    disp[ok] = np.log(var[ok] / mean[ok])
    lm = np.log1p(mean)
    norm = np.full(mean.shape, np.nan)
    if ok.any():
        lo, hi = lm[ok].min(), lm[ok].max()
        edges = np.linspace(lo, hi, n_bins + 1)
        bins = np.clip(np.searchsorted(edges, lm, side="right") - 1, 0, n_bins - 1)
        for b in np.unique(bins[ok]):
            members = ok & (bins == b)
            d = disp[members]
            if d.size == 1:
                norm[members] = 0.0
                continue
            sd = d.std(ddof=1)
            norm[members] = (d - d.mean()) / sd if sd > 0 else 0.0
    ranked = np.flatnonzero(np.isfinite(norm))
    if n_top_genes > ranked.size:
        raise ValueError(
            f"n_top_genes={n_top_genes} but only {ranked.size} genes have a defined dispersion "
            "(non-zero mean and variance) in the cells given."
        )
    # Round so that exact ties (e.g. the +-1/sqrt(2) of two-gene bins) are broken by gene order,
    # not by floating-point noise.
    order = ranked[np.argsort(-np.round(norm[ranked], 12), kind="stable")]
    return order[:n_top_genes], norm


#: Rows of the backed matrix are read in blocks of about this many bytes (as float64).
_CHUNK_BYTES = 64 * 2**20


def _row_blocks(rows: np.ndarray, n_vars: int) -> list[np.ndarray]:
    step = max(1, _CHUNK_BYTES // (8 * max(n_vars, 1)))
    return [rows[i:i + step] for i in range(0, rows.size, step)]


def _read_block(x: Any, rows: np.ndarray, source: str, cols: np.ndarray | None = None) -> Any:
    try:
        block = x[rows]
    except Exception as exc:
        raise ValueError(f"{source}: could not read rows of X (truncated?): {exc}") from exc
    if cols is not None:
        block = block[:, cols]
    check_finite_matrix(block, source=source)
    return block


def _hvg_mask(hvg_cells: Any, obs_names: np.ndarray) -> np.ndarray:
    if hvg_cells is None:
        return np.ones(obs_names.size, dtype=bool)
    hv = np.asarray(hvg_cells)
    if hv.dtype == bool:
        if hv.shape != obs_names.shape:
            raise ValueError(
                f"hvg_cells: boolean mask of length {hv.shape[0]} but {obs_names.size} cells are loaded."
            )
        return hv
    wanted = set(hv.astype(str))
    unknown = len(wanted - set(obs_names))
    if unknown:
        raise ValueError(f"hvg_cells: {unknown} name(s) are not among the loaded cells.")
    return np.isin(obs_names, list(wanted))


def _read_ids(f: Path) -> list[str]:
    check_readable(f, what=WHAT)
    try:
        text = f.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(f, f"is not UTF-8 text (binary or corrupt file?): {exc.reason}.") from None
    if "\x00" in text:
        raise DataFileError(f, "is not a text file (binary bytes).")
    ids = []
    for line in text.splitlines():
        token = line.split("\t")[0].strip()
        if token and not token.startswith("#"):
            ids.append(token)
    if not ids:
        raise ValueError(f"{f}: holds no cell ids (expected one id per line).")
    return ids


def _read_days(f: Path) -> Any:
    import pandas as pd

    frame = read_csv(f, what=WHAT, sep=None, engine="python", dtype={"id": str})
    require_columns(frame.columns, ["id", "day"], source=str(f), kind="column(s)")
    day = pd.to_numeric(frame["day"], errors="coerce")
    bad = day.isna() | ~np.isfinite(day.to_numpy(dtype=np.float64, na_value=np.nan))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{f}: column 'day' holds {int(bad.sum())} missing or non-numeric value(s), first "
            f"{frame['day'].iloc[i]!r} at line {i + 2}."
        )
    dup = frame["id"].duplicated()
    if dup.any():
        raise ValueError(f"{f}: cell id {frame['id'][dup].iloc[0]!r} appears more than once.")
    return pd.Series(day.to_numpy(dtype=np.float64), index=frame["id"].astype(str).to_numpy())


def load_2i(
    path: str | os.PathLike | None = None,
    *,
    branch: str = "2i",
    days: Sequence[float] | None = None,
    n_top_genes: int | None = None,
    hvg_cells: Any = None,
    matrix: str = TWO_I_MATRIX,
) -> anndata.AnnData:
    """Load the cells of one branch (default 2i) of the reprogramming time course, with their day.

    Parameters
    ----------
    path
        The folder holding the tutorial files, or None for ``$TRACKABILITY_DATA/schiebinger2019``
        (else the cache folder).
    branch
        ``"2i"`` (cells listed in ``2i_cell_ids.txt``) or ``"serum"`` (``serum_cell_ids.txt``).
    days
        Keep only these days (e.g. ``[TWO_I_CONTROL_DAY, *TWO_I_TREATED_DAYS]``); default all.
    n_top_genes
        If given, keep only this many highly variable genes, chosen by :func:`dispersion_hvg`
        (e.g. 50, as the study).
    hvg_cells
        The cells the gene choice looks at: a boolean mask over the returned cells or a list of
        their obs names (e.g. the training cells of a split). Default: every returned cell.
    matrix
        File name of the expression matrix in the folder (``ExprMatrix.var.genes.h5ad`` for the
        1,479 variable genes).

    Returns
    -------
    anndata.AnnData
        Cells of the branch (in matrix order) x genes, X as in the file (sparse stays sparse);
        ``obs['day']`` (float). With ``n_top_genes``: ``var['dispersion_norm']`` and
        ``uns['hvg']`` (n_top_genes, how many cells the choice used). ``uns['loader']`` records
        the files. Cells of the id list that are not in the matrix or have no day are dropped with
        a warning.

    Raises
    ------
    FileNotFoundError
        When the folder or one of the three files is missing.
    ValueError
        When a file is unreadable or malformed (no ``id``/``day`` columns, non-numeric days, empty
        id list), no listed cell is in the matrix, X holds NaN/inf, or a requested day has no
        cells.

    """
    import anndata
    import pandas as pd

    check_choice(branch, "branch", tuple(TWO_I_ID_FILES))
    if days is not None:
        days = check_numbers(days, "days")
    folder = check_readable(resolve_data_path(path, TWO_I_DEFAULT, what=WHAT), what=WHAT)
    if not folder.is_dir():
        raise ValueError(f"{WHAT}: path {folder} is a file; pass the folder holding {TWO_I_MATRIX}, "
                         f"{TWO_I_DAYS_FILE} and {TWO_I_ID_FILES[branch]}.")
    files = {
        "matrix": folder / matrix,
        "days": folder / TWO_I_DAYS_FILE,
        "ids": folder / TWO_I_ID_FILES[branch],
    }
    missing = [p.name for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{WHAT}: folder {folder} lacks {_show(missing)}.")
    if files["matrix"].suffix.lower() != ".h5ad":
        raise ValueError(f"{WHAT}: matrix {files['matrix'].name!r} is not an .h5ad file.")

    ids = _read_ids(files["ids"])
    day_of = _read_days(files["days"])
    backed = read_h5ad(files["matrix"], what=WHAT, backed=True)
    try:
        names = np.asarray(backed.obs_names.astype(str))
        listed = np.isin(names, ids)
        if not listed.any():
            raise ValueError(
                f"{files['ids']}: none of its {len(ids)} cell ids is in {files['matrix'].name} "
                f"(e.g. {ids[0]!r} vs {names[0] if names.size else '(empty matrix)'!r})."
            )
        has_day = np.isin(names, day_of.index.to_numpy())
        dropped_day = int(np.sum(listed & ~has_day))
        n_not_in_matrix = len(set(ids) - set(names[listed]))
        keep = listed & has_day
        cell_day = np.full(names.shape, np.nan)
        cell_day[keep] = day_of.reindex(names[keep]).to_numpy()
        if days is not None:
            wanted = [float(d) for d in days]
            present = set(np.unique(cell_day[keep]))
            absent = [d for d in wanted if d not in present]
            if absent:
                raise ValueError(
                    f"days: {', '.join(f'{d:g}' for d in absent)} have no {branch} cells; days present: "
                    f"{', '.join(f'{d:g}' for d in sorted(present))}."
                )
            keep &= np.isin(cell_day, wanted)
        idx = np.flatnonzero(keep)
        source = str(files["matrix"])
        if n_top_genes is None:
            try:
                adata = backed[idx].to_memory()
            except Exception as exc:
                raise ValueError(f"{source}: could not read the selected cells (truncated?): {exc}") from exc
            check_finite_matrix(adata.X, source=source)
        else:
            # Two passes over row blocks: per-gene sums on the hvg cells, then only the chosen genes
            # of the selected cells, so that memory stays O(block + cells x n_top_genes) even for
            # a dense cells x all-genes matrix.
            _check_n_top(n_top_genes)
            rows = _hvg_mask(hvg_cells, names[idx])
            hv_rows = idx[rows]
            if hv_rows.size < 2:
                raise ValueError(f"highly variable genes need at least 2 cells; got {hv_rows.size}.")
            s1 = np.zeros(backed.n_vars)
            s2 = np.zeros(backed.n_vars)
            for block_rows in _row_blocks(hv_rows, backed.n_vars):
                b1, b2 = _sums(_read_block(backed.X, block_rows, source))
                s1 += b1
                s2 += b2
            chosen, norm = _select_by_dispersion(s1, s2, hv_rows.size, int(n_top_genes), 20)
            blocks = [_read_block(backed.X, r, source, chosen) for r in _row_blocks(idx, backed.n_vars)]
            sparse = any(hasattr(b, "toarray") for b in blocks)
            if sparse:
                import scipy.sparse as sp

                x = sp.vstack([sp.csr_matrix(b) for b in blocks], format="csr")
            else:
                x = np.vstack([np.asarray(b) for b in blocks]) if blocks else np.empty((0, chosen.size))
            var = backed.var.iloc[chosen].copy()
            var["dispersion_norm"] = norm[chosen]
            adata = anndata.AnnData(X=x, obs=backed.obs.iloc[idx].copy(), var=var)
            adata.uns["hvg"] = {
                "n_top_genes": int(n_top_genes),
                "n_cells": int(hv_rows.size),
                "method": "seurat-style normalised dispersion",
            }
    finally:
        if getattr(backed, "file", None) is not None:
            backed.file.close()
    if n_not_in_matrix or dropped_day:
        warnings.warn(
            f"{WHAT}: {n_not_in_matrix} id(s) of {files['ids'].name} are not in {files['matrix'].name} and "
            f"{dropped_day} listed cell(s) have no day in {TWO_I_DAYS_FILE}; they are left out.",
            UserWarning,
            stacklevel=2,
        )
    adata.obs["day"] = cell_day[idx]
    adata.obs["day"] = pd.to_numeric(adata.obs["day"])
    adata.uns["loader"] = loader_info(
        "2i", list(files.values()), branch=branch,
        days=[f"{d:g}" for d in days] if days is not None else None,
    )
    return adata
