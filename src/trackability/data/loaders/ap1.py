"""AP-1 protein panel of melanoma cells under BRAF/MEK inhibition (Comandante-Lou et al. 2022).

Cell Reports 40:111147, Data S4 (``mmc5.xlsx``): single-cell 4i measurements, one cell per row,
columns ``cell_line``, ``condition``, ``time``, ``replicate_id`` and 20 protein columns named
``<protein> (log a.u.)`` (log-scale mean intensities). Conditions: ``DMSO``, ``0.316 uM Vemurafenib``
and ``0.316 uM Vem + 0.0316 uM Tram``. The study's task: control = DMSO at 24 h, treated =
vemurafenib at 72 h, per cell line (COLO858, WM902B, SKMEL19), on 10 of the proteins.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from trackability.data.loaders._files import (
    check_labels,
    loader_info,
    locate,
    normalise_label,
    numeric_block,
    require_columns,
)

if TYPE_CHECKING:  # pragma: no cover
    import anndata
    import pandas as pd

WHAT = "AP-1 data set (Comandante-Lou et al. 2022, mmc5.xlsx)"
AP1_DEFAULT = "comandante_lou2022/mmc5.xlsx"

#: The 20 proteins of the panel, in the column order of Data S4.
AP1_PROTEINS: tuple[str, ...] = (
    "cFOS", "p-cFOS", "FRA1", "p-FRA1", "FRA2", "cJUN", "p-cJUN", "JUNB", "JUND", "p-ATF1",
    "ATF2", "p-ATF2", "ATF3", "ATF4", "p-ATF4", "ATF5", "ATF6", "MITF", "NGFR", "p-ERK",
)
#: The 10 proteins the study's benchmark used.
AP1_STUDY_FEATURES: tuple[str, ...] = (
    "p-cFOS", "p-cJUN", "cFOS", "cJUN", "FRA2", "JUNB", "JUND", "FRA1", "p-FRA1", "p-ERK",
)
#: The three treatment conditions, spelled as in the file.
AP1_CONDITIONS: tuple[str, ...] = ("DMSO", "0.316 uM Vemurafenib", "0.316 uM Vem + 0.0316 uM Tram")
#: The cell lines of the study's benchmark.
AP1_STUDY_CELL_LINES: tuple[str, ...] = ("COLO858", "WM902B", "SKMEL19")
#: The study's task: (condition, time in hours) of the control and of the treated cells.
AP1_STUDY_CONTROL: tuple[str, float] = ("DMSO", 24.0)
AP1_STUDY_TREATED: tuple[str, float] = ("0.316 uM Vemurafenib", 72.0)

AP1_UNIT = " (log a.u.)"
_META = ("cell_line", "condition", "time", "replicate_id")
_TIME = re.compile(
    r"^\s*([0-9]*\.?[0-9]+)\s*(h|hr|hrs|hour|hours|d|day|days|m|min|mins|minute|minutes)?\s*$",
    re.IGNORECASE,
)
_TO_HOURS = {"h": 1.0, "d": 24.0, "m": 1.0 / 60.0}


def parse_time_hours(value: Any) -> float:
    """Parse a time point to hours: ``24``, ``"24"``, ``"24h"``, ``"24 hr"``, ``"3d"``, ``"30min"``.

    A bare number is taken as hours. Raises ValueError on anything else (including NaN).
    """
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        v = float(value)
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"time {value!r} is not a finite non-negative number")
        return v
    m = _TIME.match(str(value))
    if m is None:
        raise ValueError(f"time {value!r} is not a number of hours (e.g. 24, '24h', '3d', '30min')")
    unit = (m.group(2) or "h").lower()[0]
    return float(m.group(1)) * _TO_HOURS[unit]


def _find_header(raw: pd.DataFrame) -> int:
    """Row (0-based) of the sheet that holds the column names; supplementary tables may have a title."""
    for i in range(min(len(raw), 20)):
        row = {str(v).strip() for v in raw.iloc[i].tolist()}
        if {"cell_line", "condition"} <= row:
            return i
    return 0


def load_ap1(
    path: str | os.PathLike | None = None,
    *,
    sheet: int | str = 0,
) -> anndata.AnnData:
    """Load the AP-1 panel (Comandante-Lou et al. 2022, Data S4 ``mmc5.xlsx``).

    Parameters
    ----------
    path
        ``mmc5.xlsx`` (or a ``.csv`` export of that sheet with the same columns), a folder holding
        it, or None for ``$TRACKABILITY_DATA/comandante_lou2022/mmc5.xlsx`` (else the cache folder).
    sheet
        Sheet of the workbook to read (index or name), or None for every sheet (each must have the
        schema; the cells are concatenated and ``obs['sheet']`` names their sheet).

    Returns
    -------
    anndata.AnnData
        Cells x the 20 proteins of :data:`AP1_PROTEINS` (var names without the ``" (log a.u.)"``
        suffix; values as in the file, log a.u., float64). ``obs``: ``cell_line`` and
        ``condition`` (categorical; condition spellings normalised: whitespace collapsed, micro
        sign as ``u``), ``time`` (as in the file), ``time_h`` (float hours), ``replicate_id`` (as
        in the file), and any further non-protein column. ``uns['loader']`` records the file.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ValueError
        When the file cannot be read, a column is missing, a protein value is non-numeric or
        missing, a time cannot be parsed, or a condition label is unknown.

    """
    import anndata
    import pandas as pd

    f = locate(path, AP1_DEFAULT, what=WHAT, suffixes=(".xlsx", ".csv"), names_in_folder=("mmc5.xlsx",))
    try:
        if f.suffix.lower() == ".csv":
            sheets = {None: pd.read_csv(f, header=None, dtype=object)}
        else:
            read = pd.read_excel(f, sheet_name=sheet, header=None, dtype=object, engine="openpyxl")
            sheets = read if sheet is None else {sheet: read}
    except Exception as exc:
        raise ValueError(
            f"{f}: cannot be read as a {f.suffix} table (truncated, wrong format or no sheet {sheet!r}?): "
            f"{exc}"
        ) from exc
    blocks, frames = [], []
    for name, raw in sheets.items():
        source = str(f) if sheet is not None or name is None else f"{f} [sheet {name!r}]"
        x, obs = _parse_sheet(raw, source)
        if sheet is None and name is not None:
            obs["sheet"] = str(name)
        blocks.append(x)
        frames.append(obs)
    obs = pd.concat(frames, ignore_index=True)
    seen = set(obs["condition"])
    obs["condition"] = pd.Categorical(obs["condition"], categories=[c for c in AP1_CONDITIONS if c in seen])
    for col in obs.columns:
        if obs[col].dtype == object:
            obs[col] = pd.Categorical(obs[col].astype(str))
    obs.index = pd.Index([f"cell{i}" for i in range(len(obs))], name="cell")
    var = pd.DataFrame(index=pd.Index(list(AP1_PROTEINS), name="protein"))
    adata = anndata.AnnData(X=np.vstack(blocks), obs=obs, var=var)
    adata.uns["loader"] = loader_info(
        "ap1", [f], sheet=("all" if sheet is None else sheet) if f.suffix.lower() == ".xlsx" else "none"
    )
    return adata


def _parse_sheet(raw: pd.DataFrame, source: str) -> tuple[np.ndarray, pd.DataFrame]:
    """Validate one sheet (header anywhere in its first 20 rows) into (X, obs columns)."""
    import pandas as pd

    h = _find_header(raw)
    frame = raw.iloc[h + 1:].reset_index(drop=True)
    frame.columns = [str(c).strip() for c in raw.iloc[h].tolist()]
    # Drop trailing empty rows only, so that row numbers in messages stay those of the sheet.
    filled = np.flatnonzero(frame.notna().any(axis=1).to_numpy())
    frame = frame.iloc[: filled[-1] + 1 if filled.size else 0]
    columns = [p + AP1_UNIT for p in AP1_PROTEINS]
    require_columns(frame.columns, [*_META, *columns], source=source, kind="column(s)")
    if len(frame) == 0:
        raise ValueError(f"{source}: holds no cells.")
    # Sheet row numbers in messages: header on row h + 1, first cell on row h + 2.
    x = numeric_block(frame, columns, source=source, row_offset=h + 2)
    for col in _META:
        empty = frame[col].isna()
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise ValueError(
                f"{source}: column {col!r} is empty for {int(empty.sum())} cell(s), first at row {i + h + 2}."
            )
    condition = frame["condition"].map(normalise_label)
    check_labels(condition, AP1_CONDITIONS, source=source, column="condition")
    hours = np.empty(len(frame))
    for i, value in enumerate(frame["time"].tolist()):
        try:
            hours[i] = parse_time_hours(value)
        except ValueError as exc:
            raise ValueError(f"{source}: column 'time', row {i + h + 2}: {exc}.") from exc
    obs = pd.DataFrame(
        {
            "cell_line": frame["cell_line"].astype(str).str.strip().to_numpy(dtype=object),
            "condition": condition.to_numpy(dtype=object),
            "time": _tidy(frame["time"]),
            "time_h": hours,
            "replicate_id": _tidy(frame["replicate_id"]),
        }
    )
    for col in frame.columns:
        if col not in (*_META, *columns):
            obs[col] = _tidy(frame[col])
    return x, obs


def _tidy(values: pd.Series) -> Any:
    """Column as read, with numbers kept numeric (int where all integral) and text as stripped str."""
    import pandas as pd

    num = pd.to_numeric(values, errors="coerce")
    if num.notna().all():
        arr = num.to_numpy(dtype=np.float64)
        return arr.astype(np.int64) if np.all(arr == np.round(arr)) else arr
    return values.astype(str).str.strip().to_numpy(dtype=object)

