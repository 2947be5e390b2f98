"""NF-kB (RelA) live-cell tracks under TNF (Nienaltowski et al. 2021, Nat Commun 12:5397).

One gzipped CSV (``nfkb2021/nfkb_tnf_tracks.csv.gz``, from the FRA R package, GPL-2), one tracked
cell per row: ``signal`` (TNF dose, ng/ml), ``sample`` (the cell's id,
``<experiment>_<a>_<b>_<dose>ng_X<k>``, the dose written with a decimal comma) and the nuclear /
cytoplasmic NF-kB ratio at 21 time points, one column per minute ``0, 3, ..., 60``. The same cell is
measured at every time point, so the true correspondence between any two time points is known.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from trackability.data.loaders._files import loader_info, locate, numeric_block, require_columns

if TYPE_CHECKING:  # pragma: no cover
    import anndata

WHAT = "NF-kB TNF tracks data set (Nienaltowski 2021)"
NFKB_DEFAULT = "nfkb2021/nfkb_tnf_tracks.csv.gz"

#: The 21 time points of every track, minutes after TNF.
NFKB_MINUTES: tuple[int, ...] = tuple(range(0, 61, 3))
#: The 11 TNF doses (ng/ml) and their cell counts in the published file.
NFKB_DOSES: tuple[float, ...] = (0.0, 0.01, 0.03, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 10.0, 100.0)
NFKB_CELL_COUNTS: dict[float, int] = {
    0.0: 1151, 0.01: 1060, 0.03: 956, 0.1: 1575, 0.2: 909, 0.5: 630, 1.0: 989, 2.0: 1022,
    4.0: 1228, 10.0: 1130, 100.0: 892,
}


def _check_doses(doses: Any) -> list[float] | None:
    if doses is None:
        return None
    items = [doses] if isinstance(doses, int | float) and not isinstance(doses, bool) else doses
    try:
        out = [float(v) for v in items]
    except (TypeError, ValueError) as exc:
        raise TypeError(f"doses must be a dose or a list of doses (ng/ml); got {doses!r}.") from exc
    bad = [v for v in out if not any(np.isclose(v, d, rtol=1e-9, atol=1e-12) for d in NFKB_DOSES)]
    if bad or any(isinstance(v, bool) for v in items):
        raise ValueError(f"doses holds unknown dose(s) {bad or items!r}; the doses are {list(NFKB_DOSES)}.")
    if not out:
        raise ValueError("doses is empty; pass None for every dose.")
    return out


def load_nfkb(
    path: str | os.PathLike | None = None, *, doses: Sequence[float] | float | None = None
) -> anndata.AnnData:
    """Load the NF-kB tracks: 11,542 cells, each tracked at 21 time points, 11 TNF doses.

    Parameters
    ----------
    path
        The ``.csv.gz`` (or ``.csv``) file, a folder holding ``nfkb_tnf_tracks.csv.gz``, or None for
        ``$TRACKABILITY_DATA/nfkb2021/nfkb_tnf_tracks.csv.gz`` (else the cache folder).
    doses
        Keep only these TNF doses (ng/ml, among :data:`NFKB_DOSES`); None: all.

    Returns
    -------
    anndata.AnnData
        Cells x 21 readouts: ``X[i, j]`` is the nuclear/cytoplasmic NF-kB ratio of cell ``i`` at
        minute ``var['minute'][j]`` (var names ``'0'``, ``'3'``, ..., ``'60'``; float64 as in the
        file). Row ``i`` is one cell at every time point: the correspondence between two time
        points is the identity. ``obs`` (index: the file's ``sample`` id):

        - ``dose``: TNF dose, ng/ml (float; the file's ``signal``);
        - ``dose_label``: the dose as a categorical string (``'0.01'``, ...), for grouping;
        - ``experiment``: the first field of the id (1-6), categorical;
        - ``well``: the second and third fields of the id (``'<a>_<b>'``), categorical;
        - ``cell``: the last field of the id (``'X<k>'``);
        - ``dose_in_id``: the dose written in the id. It equals ``dose`` except for the 1,130 cells
          of ``signal = 10``, whose ids say ``8,00ng`` (so in the published file; ``dose``
          follows ``signal``, the column the FRA package documents).

        ``uns['loader']`` records the file and the doses kept.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ValueError
        When the file is not a CSV, lacks a column, holds a non-numeric or missing value, a sample
        id that does not have the documented form, a duplicated id, or an unknown dose; or when
        ``doses`` names an unknown dose.

    """
    import anndata
    import pandas as pd

    keep = _check_doses(doses)
    f = locate(path, NFKB_DEFAULT, what=WHAT, suffixes=(".gz", ".csv"))
    try:
        frame = pd.read_csv(f, dtype={"sample": str})
    except Exception as exc:
        raise ValueError(f"{f}: cannot be parsed as a (gzipped) CSV: {type(exc).__name__}: {exc}") from exc
    minutes = [str(m) for m in NFKB_MINUTES]
    require_columns(frame.columns, ["signal", "sample", *minutes], source=str(f), kind="column(s)")
    if len(frame) == 0:
        raise ValueError(f"{f}: holds no cells.")
    x = numeric_block(frame, minutes, source=str(f), row_offset=2)
    dose = numeric_block(frame, ["signal"], source=str(f), row_offset=2)[:, 0]
    known = np.array(NFKB_DOSES)
    nearest = known[np.argmin(np.abs(dose[:, None] - known[None, :]), axis=1)]
    off = ~np.isclose(dose, nearest, rtol=1e-9, atol=1e-12)
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise ValueError(f"{f}: column 'signal' holds unknown dose {dose[i]!r} at row {i + 2}; "
                         f"expected one of {list(NFKB_DOSES)}.")
    ids = frame["sample"]
    if ids.isna().any():
        raise ValueError(f"{f}: column 'sample' is empty at row {int(np.flatnonzero(ids.isna())[0]) + 2}.")
    parts = ids.str.split("_")
    bad_form = parts.str.len() != 5
    if bad_form.any():
        i = int(np.flatnonzero(bad_form.to_numpy())[0])
        raise ValueError(f"{f}: sample id {ids.iloc[i]!r} at row {i + 2} is not of the form "
                         "'<experiment>_<a>_<b>_<dose>ng_X<k>'.")
    dose_text = parts.str[3].str.replace("ng", "", regex=False).str.replace(",", ".", regex=False)
    id_dose = pd.to_numeric(dose_text, errors="coerce").to_numpy()
    if np.isnan(id_dose).any():
        i = int(np.flatnonzero(np.isnan(id_dose))[0])
        raise ValueError(f"{f}: sample id {ids.iloc[i]!r} at row {i + 2} has no dose ('<d>,<dd>ng') "
                         "in its fourth field.")
    dup = ids.duplicated()
    if dup.any():
        raise ValueError(f"{f}: sample id {ids[dup].iloc[0]!r} appears more than once.")
    obs = pd.DataFrame({
        "dose": nearest,
        "dose_label": pd.Categorical([f"{v:g}" for v in nearest], categories=[f"{v:g}" for v in NFKB_DOSES]),
        "experiment": pd.Categorical(parts.str[0].to_numpy()),
        "well": pd.Categorical((parts.str[1] + "_" + parts.str[2]).to_numpy()),
        "cell": parts.str[4].to_numpy(),
        "dose_in_id": id_dose,
    }, index=pd.Index(ids.to_numpy(), name="sample"))
    if keep is not None:
        mask = np.zeros(len(obs), dtype=bool)
        for v in keep:
            mask |= np.isclose(nearest, v, rtol=1e-9, atol=1e-12)
        obs, x = obs.loc[mask], x[mask]
        obs["dose_label"] = obs["dose_label"].cat.remove_unused_categories()
    var = pd.DataFrame({"minute": np.array(NFKB_MINUTES, dtype=np.int64)},
                       index=pd.Index(minutes, name="minute_label"))
    adata = anndata.AnnData(X=x, obs=obs, var=var)
    adata.uns["loader"] = loader_info("nfkb2021", [f], doses=keep)
    return adata
