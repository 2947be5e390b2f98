"""Loaders of the real tables with several contexts or time points (issue 12's real benchmarks).

Each returns an AnnData (cells x features, float64) with documented ``obs`` keys, validates its file
(columns, numeric finite values, labels, the published cell count; errors name the file) and reads
from ``$TRACKABILITY_DATA`` when ``path`` is None:

- :func:`load_bodenmiller` - Bodenmiller et al. 2012 PBMC CyTOF, Ref vs BCR-XL, 4 patients, 24
  markers, ``arcsinh(x / 5)``; obs ``condition`` (Ref/BCRXL), ``patient``; var ``marker_class``.
- :func:`load_chu` - Chu et al. 2016 hESC -> definitive endoderm, 100 TFs; obs ``time_h``, ``ptime``.
- :func:`load_kouno` - Kouno et al. 2013 THP-1 + PMA, 45 TFs; obs ``time_h``, ``capture``.
- :func:`load_wot2017` - Schiebinger et al. 2019 2i slice, day 0 -> day 2, 20 diffusion
  components; obs ``day``, ``capture`` (c1/c2), ``growth_score``.
- :func:`load_serum` - Schiebinger et al. 2019 serum cells at days 10 / 10.5 / 11 (moscot test
  data), 1,479 genes; obs ``day``, ``batch``, ``cell_type``.
- :func:`load_kang3` - Kang et al. 2018, 3 donors, 100 genes, ``layers['logcounts']`` by default;
  obs ``condition`` (ctrl/stim), ``donor``, ``cell_type``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trackability.data.loaders._files import (
    DataFileError,
    check_finite_matrix,
    check_labels,
    loader_info,
    locate,
    numeric_block,
    read_csv,
    read_h5ad,
    require_columns,
)

if TYPE_CHECKING:  # pragma: no cover
    import anndata
    import pandas as pd

BODENMILLER_DEFAULT = "bodenmiller2012/bodenmiller2012_pbmc_bcrxl.csv.gz"
BODENMILLER_CELLS = 5428
BODENMILLER_PATIENTS = ("patient1", "patient2", "patient3", "patient4")
CHU_DEFAULT = "chu2016/chu2016_hesc_de_tf100.csv.gz"
CHU_CELLS = 758
CHU_TIMES = (0.0, 12.0, 24.0, 36.0, 72.0, 96.0)
KOUNO_DEFAULT = "kouno2013/kouno2013_thp1_pma_45tf.csv.gz"
KOUNO_CELLS = 960
KOUNO_TIMES = (0.0, 1.0, 6.0, 12.0, 24.0, 48.0, 72.0, 96.0)
WOT_DIR = "schiebinger2019"
WOT_FILES = ("wot2017_diffusion_map.csv.gz", "wot2017_days.csv.gz", "wot2017_growth_scores.csv.gz")
WOT_CELLS = 9679
WOT_DAYS = (0.0, 2.0)
SERUM_DEFAULT = "schiebinger2019/moscot_serum_day10_11.h5ad"
SERUM_DAYS = (10.0, 10.5, 11.0)
KANG3_DEFAULT = "kang2018/kang2018_3donors_9517x100.h5ad"
KANG3_CELLS = 9517
KANG3_DONORS = ("101", "1015", "107")


def _check_count(f: Path, n: int, expected: int | None) -> None:
    if expected is not None and n != expected:
        raise DataFileError(
            f, f"holds {n} cells; the published file has {expected} (truncated copy, or a subset: "
            "pass n_cells=None to accept it)."
        )


def _check_n_cells(n_cells: Any) -> None:
    if n_cells is not None and (isinstance(n_cells, bool) or not isinstance(n_cells, int) or n_cells < 1):
        raise ValueError(f"n_cells must be a positive integer or None; got {n_cells!r}.")


def _adata(x: np.ndarray, obs: pd.DataFrame, var_names: list[str], **var: Any) -> anndata.AnnData:
    import anndata
    import pandas as pd

    obs = obs.reset_index(drop=True)
    obs.index = obs.index.astype(str)
    vdf = pd.DataFrame(var, index=pd.Index([str(v) for v in var_names], name="feature"))
    return anndata.AnnData(X=x, obs=obs, var=vdf)


def _check_time(f: Path, values: np.ndarray, allowed: tuple[float, ...], column: str) -> None:
    check_labels([f"{v:g}" for v in values], [f"{v:g}" for v in allowed], source=str(f), column=column)


def load_bodenmiller(
    path: str | os.PathLike | None = None, *, cofactor: float | None = 5.0,
    n_cells: int | None = BODENMILLER_CELLS,
) -> anndata.AnnData:
    """Load the Bodenmiller 2012 CyTOF subsample (5,428 cells x 24 markers, Ref / BCR-XL, 4 patients).

    Parameters
    ----------
    path
        The ``.csv.gz`` file or its folder; None for ``$TRACKABILITY_DATA/bodenmiller2012``.
    cofactor
        ``X = arcsinh(counts / cofactor)`` (5: the mass-cytometry convention); None keeps raw counts.
    n_cells
        Cells the file must hold (the published 5,428); None accepts any number.

    Returns
    -------
    anndata.AnnData
        var names: the antigens (``CD3``, ..., ``pS6``); ``var['marker_class']`` (type/state) and
        ``var['fcs_colname']`` when ``panel.csv`` is next to the file. obs: ``condition`` (Ref or
        BCRXL), ``patient`` (patient1-4), ``file_name``.

    """
    _check_n_cells(n_cells)
    if cofactor is not None and not (isinstance(cofactor, int | float) and cofactor > 0):
        raise ValueError(f"cofactor must be a positive number or None; got {cofactor!r}.")
    what = "Bodenmiller 2012 data set"
    f = locate(path, BODENMILLER_DEFAULT, what=what, suffixes=(".gz", ".csv"))
    frame = read_csv(f, what=what)
    require_columns(frame.columns, ["condition", "patient"], source=str(f), kind="column(s)")
    markers = [c for c in frame.columns if c not in ("condition", "patient", "file_name")]
    if len(markers) != 24:
        raise DataFileError(f, f"holds {len(markers)} marker columns; expected the 24 of the panel.")
    x = numeric_block(frame, markers, source=str(f), row_offset=2)
    check_labels(frame["condition"], ("Ref", "BCRXL"), source=str(f), column="condition")
    check_labels(frame["patient"], BODENMILLER_PATIENTS, source=str(f), column="patient")
    _check_count(f, len(frame), n_cells)
    names = [m.split("(")[0] for m in markers]
    var: dict[str, Any] = {"fcs_colname": markers}
    panel = f.parent / "panel.csv"
    if panel.is_file():
        pf = read_csv(panel, what=what)
        require_columns(pf.columns, ["fcs_colname", "antigen", "marker_class"], source=str(panel),
                        kind="column(s)")
        by = dict(zip(pf["fcs_colname"], zip(pf["antigen"], pf["marker_class"], strict=True),
                      strict=True))
        missing = [m for m in markers if m not in by]
        if missing:
            raise DataFileError(panel, f"lacks the marker(s) {missing} of {f.name}.")
        names = [str(by[m][0]) for m in markers]
        var["marker_class"] = [str(by[m][1]) for m in markers]
    if cofactor is not None:
        x = np.arcsinh(x / float(cofactor))
    obs = frame[[c for c in ("condition", "patient", "file_name") if c in frame.columns]].copy()
    for c in obs.columns:
        obs[c] = obs[c].astype(str)
    adata = _adata(x, obs, names, **var)
    adata.uns["transform"] = {"method": "arcsinh", "cofactor": cofactor} if cofactor else {"method": "none"}
    adata.uns["loader"] = loader_info("bodenmiller2012", [f], cofactor=cofactor)
    return adata


def _time_course(
    path: Any, default: str, what: str, time_col: str, times: tuple[float, ...], n_cells: int | None,
    meta_cols: tuple[str, ...], dataset: str,
) -> anndata.AnnData:
    _check_n_cells(n_cells)
    f = locate(path, default, what=what, suffixes=(".gz", ".csv"))
    frame = read_csv(f, what=what)
    frame = frame.drop(columns=[c for c in frame.columns if str(c).startswith("Unnamed")])
    require_columns(frame.columns, [time_col, *meta_cols], source=str(f), kind="column(s)")
    t = numeric_block(frame, [time_col], source=str(f), row_offset=2)[:, 0]
    _check_time(f, t, times, time_col)
    genes = [c for c in frame.columns if c not in (time_col, *meta_cols)]
    x = numeric_block(frame, genes, source=str(f), row_offset=2)
    _check_count(f, len(frame), n_cells)
    obs = frame[list(meta_cols)].copy()
    obs.insert(0, "time_h", t)
    adata = _adata(x, obs, genes)
    adata.uns["loader"] = loader_info(dataset, [f])
    return adata


def load_chu(path: str | os.PathLike | None = None, *, n_cells: int | None = CHU_CELLS) -> anndata.AnnData:
    """Chu et al. 2016 hESC -> definitive endoderm: 758 cells x 100 TFs (log expression).

    obs: ``time_h`` (0, 12, 24, 36, 72, 96), ``ptime`` (pseudo-time of the file).
    """
    return _time_course(path, CHU_DEFAULT, "Chu 2016 data set", "time", CHU_TIMES, n_cells,
                        ("ptime",), "chu2016")


def load_kouno(
    path: str | os.PathLike | None = None, *, n_cells: int | None = KOUNO_CELLS
) -> anndata.AnnData:
    """Kouno et al. 2013 THP-1 + PMA: 960 cells x 45 TFs (single-cell qPCR).

    obs: ``time_h`` (0, 1, 6, 12, 24, 48, 72, 96), ``capture``.
    """
    return _time_course(path, KOUNO_DEFAULT, "Kouno 2013 data set", "obstime_h", KOUNO_TIMES, n_cells,
                        ("capture",), "kouno2013")


def load_wot2017(
    path: str | os.PathLike | None = None, *, n_cells: int | None = WOT_CELLS
) -> anndata.AnnData:
    """Schiebinger 2019 early 2i slice: day 0 (4,060 cells) and day 2 (captures c1, c2), 20 DCs.

    Parameters
    ----------
    path
        The folder holding ``wot2017_diffusion_map.csv.gz``, ``wot2017_days.csv.gz`` and
        ``wot2017_growth_scores.csv.gz``; None for ``$TRACKABILITY_DATA/schiebinger2019``.
    n_cells
        Cells the files must hold (the published 9,679); None accepts any number.

    Returns
    -------
    anndata.AnnData
        9,679 cells x DC1..DC20; obs ``day`` (0 or 2), ``capture`` (``c1``/``c2``, parsed from the
        cell id ``day-<d>-<capture>-2i_<n>``), ``growth_score``; obs names the cell ids.

    """
    what = "Schiebinger 2019 wot2017 slice"
    _check_n_cells(n_cells)
    folder = locate(path, f"{WOT_DIR}/{WOT_FILES[0]}", what=what, suffixes=(".gz",)).parent
    files = [folder / n for n in WOT_FILES]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"{what}: folder {folder} lacks {missing}.")
    dm, days, growth = (read_csv(f, what=what) for f in files)
    require_columns(dm.columns, ["id", *(f"DC{i}" for i in range(1, 21))], source=str(files[0]),
                    kind="column(s)")
    require_columns(days.columns, ["id", "day"], source=str(files[1]), kind="column(s)")
    require_columns(growth.columns, ["id", "growth_score"], source=str(files[2]), kind="column(s)")
    ids = dm["id"].astype(str)
    if ids.duplicated().any():
        raise DataFileError(files[0], f"cell id {ids[ids.duplicated()].iloc[0]!r} appears twice.")
    for f, other in ((files[1], days), (files[2], growth)):
        absent = ~ids.isin(other["id"].astype(str))
        if absent.any():
            raise DataFileError(f, f"has no row for {int(absent.sum())} cell(s) of {files[0].name}, "
                                f"e.g. {ids[absent].iloc[0]!r}.")
    x = numeric_block(dm, [f"DC{i}" for i in range(1, 21)], source=str(files[0]), row_offset=2)
    day = numeric_block(days.set_index("id").loc[ids].reset_index(), ["day"], source=str(files[1]))[:, 0]
    g = numeric_block(growth.set_index("id").loc[ids].reset_index(), ["growth_score"],
                      source=str(files[2]))[:, 0]
    capture = ids.str.extract(r"^day-[\d.]+-(c\d+)-", expand=False)
    if capture.isna().any():
        raise DataFileError(files[0], f"cell id {ids[capture.isna()].iloc[0]!r} does not name its "
                            "capture (expected 'day-<d>-c<k>-2i_<n>').")
    _check_count(files[0], len(dm), n_cells)
    import pandas as pd

    obs = pd.DataFrame({"day": day, "capture": capture.to_numpy(), "growth_score": g})
    adata = _adata(x, obs, [f"DC{i}" for i in range(1, 21)])
    adata.obs_names = ids.to_numpy()
    adata.uns["loader"] = loader_info("schiebinger2019_wot2017", files)
    return adata


def load_serum(path: str | os.PathLike | None = None) -> anndata.AnnData:
    """Schiebinger 2019 serum cells at days 10 / 10.5 / 11 (moscot test data): 250 x 1,479 genes.

    obs: ``day`` (float), ``batch``, ``cell_type``; X dense float64 (log-normalised).
    """
    what = "Schiebinger 2019 serum day 10-11 (moscot)"
    f = locate(path, SERUM_DEFAULT, what=what, suffixes=(".h5ad",))
    a = read_h5ad(f, what=what)
    require_columns(a.obs.columns, ["day"], source=str(f), kind="obs column(s)")
    check_finite_matrix(a.X, source=str(f))
    day = a.obs["day"].astype(float).to_numpy()
    _check_time(f, day, SERUM_DAYS, "day")
    x = a.X.toarray() if hasattr(a.X, "toarray") else np.asarray(a.X)
    obs = a.obs[[c for c in ("day", "batch", "cell_type") if c in a.obs.columns]].copy()
    obs["day"] = day
    out = _adata(np.asarray(x, dtype=np.float64), obs, list(map(str, a.var_names)))
    out.obs_names = a.obs_names.to_numpy()
    out.uns["loader"] = loader_info("schiebinger2019_serum", [f])
    return out


def load_kang3(
    path: str | os.PathLike | None = None, *, layer: str | None = "logcounts",
    n_cells: int | None = KANG3_CELLS,
) -> anndata.AnnData:
    """Kang 2018, 3 donors (``distinct`` subset): 9,517 cells x 100 genes.

    Parameters
    ----------
    path
        The ``.h5ad`` file or its folder; None for ``$TRACKABILITY_DATA/kang2018``.
    layer
        ``"logcounts"`` (default), ``"cpm"`` or None (the raw counts in X).
    n_cells
        Cells the file must hold (the published 9,517); None accepts any number.

    Returns
    -------
    anndata.AnnData
        X from ``layer`` (dense float64); obs ``condition`` (ctrl/stim), ``donor`` (1015, 101,
        107 as text), ``cell_type`` (8 types).

    """
    what = "Kang 2018 3-donor data set"
    _check_n_cells(n_cells)
    f = locate(path, KANG3_DEFAULT, what=what, suffixes=(".h5ad",))
    a = read_h5ad(f, what=what)
    require_columns(a.obs.columns, ["stim", "ind", "cell"], source=str(f), kind="obs column(s)")
    if layer is not None and layer not in a.layers:
        raise DataFileError(f, f"has no layer {layer!r}; layers: {list(a.layers.keys())}.")
    x = a.X if layer is None else a.layers[layer]
    check_finite_matrix(x, source=str(f))
    check_labels(a.obs["stim"].astype(str), ("ctrl", "stim"), source=str(f), column="stim")
    _check_count(f, a.n_obs, n_cells)
    import pandas as pd

    obs = pd.DataFrame({"condition": a.obs["stim"].astype(str).to_numpy(),
                        "donor": a.obs["ind"].astype(str).to_numpy(),
                        "cell_type": a.obs["cell"].astype(str).to_numpy()})
    dense = x.toarray() if hasattr(x, "toarray") else np.asarray(x)
    out = _adata(np.asarray(dense, dtype=np.float64), obs, list(map(str, a.var_names)))
    out.obs_names = a.obs_names.to_numpy()
    out.uns["loader"] = loader_info("kang2018_3donors", [f], layer=layer)
    return out
