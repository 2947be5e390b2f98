"""Sachs et al. 2005 (Science 308:523): phospho-flow cytometry of human CD4+ T cells, 14 conditions.

Two routes give the same matrix: the original supplementary files (one ``.xls`` per condition,
named ``"<id>. <name>.xls"``, one sheet with the 11 marker names on the first row and one cell per
row, linear fluorescence) and a tidy CSV (``sachs2005_tidy.csv``: ``condition_id``, ``condition`` and
the 11 markers, one cell per row, plus optional metadata columns).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trackability._validation import check_choice, check_positive
from trackability.data.loaders._files import (
    _show,
    check_ids,
    check_readable,
    list_folder,
    loader_info,
    numeric_block,
    read_csv,
    require_columns,
)
from trackability.data.paths import resolve_data_path

if TYPE_CHECKING:  # pragma: no cover
    import anndata
    import pandas as pd

WHAT = "Sachs et al. 2005 data set"

#: The 11 measured phospho-proteins / phospholipids, spelled as in the original files' header row.
SACHS_MARKERS: tuple[str, ...] = (
    "praf", "pmek", "plcg", "PIP2", "PIP3", "p44/42", "pakts473", "PKA", "PKC", "P38", "pjnk",
)

#: Condition id -> (name as in the original file names, control condition id or None, stimulus,
#: agent, target), as described by Sachs et al. 2005 (Table/Fig. 1 and the supplementary files).
SACHS_CONDITIONS: dict[int, tuple[str, int | None, str | None, str | None, str | None]] = {
    1: ("cd3cd28", None, "CD3+CD28", None, None),
    2: ("cd3cd28icam2", None, "CD3+CD28+ICAM2", None, None),
    3: ("cd3cd28+aktinhib", 1, "CD3+CD28", "AKT inhibitor", "Akt"),
    4: ("cd3cd28+g0076", 1, "CD3+CD28", "G06976", "PKC"),
    5: ("cd3cd28+psitect", 1, "CD3+CD28", "psitectorigenin", "PIP2"),
    6: ("cd3cd28+u0126", 1, "CD3+CD28", "U0126", "MEK"),
    7: ("cd3cd28+ly", 1, "CD3+CD28", "LY294002", "PI3K(PIP3)"),
    8: ("pma", None, None, "PMA", "PKC(activator)"),
    9: ("b2camp", None, None, "b2cAMP", "PKA(activator)"),
    10: ("cd3cd28icam2+aktinhib", 2, "CD3+CD28+ICAM2", "AKT inhibitor", "Akt"),
    11: ("cd3cd28icam2+g0076", 2, "CD3+CD28+ICAM2", "G06976", "PKC"),
    12: ("cd3cd28icam2+psit", 2, "CD3+CD28+ICAM2", "psitectorigenin", "PIP2"),
    13: ("cd3cd28icam2+u0126", 2, "CD3+CD28+ICAM2", "U0126", "MEK"),
    14: ("cd3cd28icam2+ly", 2, "CD3+CD28+ICAM2", "LY294002", "PI3K(PIP3)"),
}

#: Number of cells in each condition of the published files.
SACHS_CELL_COUNTS: dict[int, int] = {
    1: 853, 2: 902, 3: 911, 4: 723, 5: 810, 6: 799, 7: 848,
    8: 913, 9: 707, 10: 899, 11: 753, 12: 868, 13: 759, 14: 927,
}

#: Control condition -> the inhibitor conditions applied on top of it (perturbation pairs).
SACHS_PAIRS: dict[int, tuple[int, ...]] = {1: (3, 4, 5, 6, 7), 2: (10, 11, 12, 13, 14)}

TSV_NAME = "sachs2005_tidy.csv"
XLS_DIR = "raw_xls"
_XLS_NAME = re.compile(r"^\s*(\d+)\s*\.\s*(.+?)\s*$")


def _route(p: Path, source: str) -> tuple[str, Path]:
    """Decide whether to read the xls folder or the CSV file found at ``p``."""
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix == ".csv":
            if source == "xls":
                raise ValueError(f"{WHAT}: source='xls' but path {p} is a CSV file; pass the xls folder.")
            return "csv", p
        if suffix == ".xls":
            raise ValueError(
                f"{WHAT}: path {p} is a single .xls file; pass the folder holding all 14 condition files."
            )
        raise ValueError(
            f"{WHAT}: {p} has extension {suffix or '(none)'!r}; expected a .csv file or a folder."
        )
    if not (p / XLS_DIR).is_dir() and not (p / TSV_NAME).is_file() and (p / "sachs2005").is_dir():
        p = p / "sachs2005"  # the data root itself
    xls_dir = p / XLS_DIR if (p / XLS_DIR).is_dir() else p
    has_xls = any(f.suffix.lower() == ".xls" for f in list_folder(xls_dir, what=WHAT))
    csv = p / TSV_NAME
    if source in ("auto", "xls") and has_xls:
        return "xls", xls_dir
    if source in ("auto", "csv") and csv.is_file():
        return "csv", csv
    want = {"auto": f"'{XLS_DIR}/*.xls' or '{TSV_NAME}'", "xls": "any .xls file", "csv": f"'{TSV_NAME}'"}
    raise FileNotFoundError(f"{WHAT}: folder {p} holds no {want[source]} (source={source!r}).")


def _read_xls_file(f: Path) -> np.ndarray:
    import xlrd

    check_readable(f, what=WHAT)
    try:
        book = xlrd.open_workbook(str(f), on_demand=True)
    except Exception as exc:  # xlrd raises XLRDError, struct.error, ... on truncated files
        raise ValueError(
            f"{f}: cannot be read as an Excel .xls workbook (truncated or not an .xls file?): {exc}"
        ) from exc
    try:
        sheet = book.sheet_by_index(0)
        if sheet.nrows < 2:
            raise ValueError(f"{f}: first sheet has {sheet.nrows} row(s); expected a header row and cells.")
        header = [str(v).strip() for v in sheet.row_values(0)]
        if tuple(header) != SACHS_MARKERS:
            raise ValueError(
                f"{f}: header row is {header}; expected the 11 markers {list(SACHS_MARKERS)} in that order."
            )
        out = np.empty((sheet.nrows - 1, len(SACHS_MARKERS)), dtype=np.float64)
        for j, marker in enumerate(SACHS_MARKERS):
            types = np.asarray(sheet.col_types(j, start_rowx=1))
            values = sheet.col_values(j, start_rowx=1)
            bad = np.flatnonzero(types != xlrd.XL_CELL_NUMBER)
            if len(types) != len(out) or bad.size:
                i = int(bad[0]) if bad.size else len(types)
                value = values[i] if i < len(values) else ""
                raise ValueError(f"{f}: row {i + 2}, column {marker!r} is not a number ({value!r}).")
            out[:, j] = values
        if not np.all(np.isfinite(out)):
            raise ValueError(f"{f}: holds NaN/inf values.")
        return out
    finally:
        book.release_resources()


def _read_xls(folder: Path, conditions: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    found: dict[int, Path] = {}
    for f in list_folder(folder, what=WHAT):
        if f.suffix.lower() != ".xls":
            continue
        m = _XLS_NAME.match(f.stem)
        if m is None or int(m.group(1)) not in SACHS_CONDITIONS:
            raise ValueError(
                f"{WHAT}: {f} is not one of the 14 condition files (expected names like '1. cd3cd28.xls', "
                "'<condition id 1-14>. <name>.xls')."
            )
        cid = int(m.group(1))
        if cid in found:
            raise ValueError(
                f"{WHAT}: condition {cid} appears twice in {folder}: {found[cid].name}, {f.name}."
            )
        found[cid] = f
    missing = [c for c in conditions if c not in found]
    if missing:
        names = [f"{c}. {SACHS_CONDITIONS[c][0]}.xls" for c in missing]
        raise FileNotFoundError(f"{WHAT}: {folder} lacks the condition file(s) {_show(names)}.")
    blocks, ids, files = [], [], []
    for cid in conditions:
        x = _read_xls_file(found[cid])
        blocks.append(x)
        ids.append(np.full(len(x), cid))
        files.extend([found[cid].name] * len(x))
    return np.vstack(blocks), np.concatenate(ids), files


def _read_csv(f: Path, conditions: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, list[str], pd.DataFrame]:
    frame = read_csv(f, what=WHAT)
    require_columns(
        frame.columns, ["condition_id", "condition", *SACHS_MARKERS], source=str(f), kind="column(s)"
    )
    ids = numeric_block(frame, ["condition_id"], source=str(f), row_offset=2)[:, 0]
    if not np.all(ids == np.round(ids)) or not set(np.unique(ids)) <= set(SACHS_CONDITIONS):
        bad = [f"{v:g}" for v in np.unique(ids) if v not in SACHS_CONDITIONS]
        raise ValueError(f"{f}: column 'condition_id' holds unknown id(s) {', '.join(bad)}; expected 1..14.")
    ids = ids.astype(int)
    names = frame["condition"].astype(str).str.strip().to_numpy()
    expected = np.array([SACHS_CONDITIONS[i][0] for i in ids])
    wrong = names != expected
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise ValueError(
            f"{f}: row {i + 2} has condition {names[i]!r} for condition_id {ids[i]}; expected "
            f"{expected[i]!r} (unknown or mismatched condition label; {int(wrong.sum())} such row(s))."
        )
    x = numeric_block(frame, list(SACHS_MARKERS), source=str(f), row_offset=2)
    keep = np.isin(ids, conditions)
    # Order by the requested conditions, keeping the file order of cells within a condition.
    order = np.concatenate([np.flatnonzero(keep & (ids == c)) for c in conditions])
    missing = [c for c in conditions if not np.any(ids == c)]
    if missing:
        raise ValueError(f"{f}: holds no cells of condition(s) {missing}.")
    return x[order], ids[order], [f.name] * len(order), frame.iloc[order]


def _transform(
    x: np.ndarray, ids: np.ndarray, transform: str | None, cofactor: float, source: str
) -> np.ndarray:
    if transform is None:
        return x
    if transform == "log":
        bad = x <= 0
        if bad.any():
            i, j = (int(v[0]) for v in np.nonzero(bad))
            raise ValueError(
                f"{source}: transform='log' needs strictly positive values, but {int(bad.sum())} value(s) "
                f"are <= 0 (first {x[i, j]!r}: marker {SACHS_MARKERS[j]!r}, condition {int(ids[i])}); "
                "use transform='arcsinh' or None."
            )
        return np.log(x)
    return np.arcsinh(x / cofactor)


def load_sachs(
    path: str | os.PathLike | None = None,
    transform: str | None = "log",
    source: str = "auto",
    *,
    cofactor: float = 5.0,
    conditions: tuple[int, ...] | list[int] | None = None,
) -> anndata.AnnData:
    """Load the Sachs et al. 2005 phospho-flow data (11 markers, 14 conditions, 11,672 cells).

    Parameters
    ----------
    path
        The data-set folder (holding ``raw_xls/`` and/or ``sachs2005_tidy.csv``), the folder of the
        14 ``.xls`` files, the CSV file itself, the data root holding ``sachs2005/``, or None for
        ``$TRACKABILITY_DATA/sachs2005`` (else the cache folder ``~/.cache/trackability/sachs2005``).
    transform
        ``"log"`` (natural log; the values are strictly positive linear fluorescence, and a value
        <= 0 is an error), ``"arcsinh"`` (``arcsinh(x / cofactor)``) or None (raw values).
    source
        ``"auto"`` (the xls files when present, else the CSV), ``"xls"`` or ``"csv"``. Both routes
        give identical matrices.
    cofactor
        Arcsinh cofactor. With the default 5 (the mass-cytometry convention) ``arcsinh(x/5)``
        differs from ``log(2x/5)`` by less than 0.01 for x >= 25, i.e. it is a log scale that stays
        defined at and below zero; 150 is the convention for compensated fluorescence flow data
        with negative values.
    conditions
        Condition ids to load (default all 14), in the order given.

    Returns
    -------
    anndata.AnnData
        Cells x 11 markers (float64). ``obs``: ``condition_id`` (int 1..14), ``condition`` (name
        as in the original file names, categorical), ``control_condition_id`` (float, NaN for
        conditions that are not an inhibitor on top of a control), ``stimulus``, ``agent``,
        ``target``, ``cell_in_condition`` (0-based row within the condition) and ``source_file``.
        ``uns['transform']`` records the transform, ``uns['loader']`` the files and package version.

    Raises
    ------
    FileNotFoundError
        When the folder, a condition file or the CSV is missing.
    ValueError
        When a file is unreadable, has the wrong header/columns, non-numeric or missing values,
        unknown condition labels, a cell count that differs from the published one, or a value
        <= 0 under ``transform='log'``.

    """
    import anndata
    import pandas as pd

    check_choice(transform, "transform", ("log", "arcsinh", None))
    check_choice(source, "source", ("auto", "xls", "csv"))
    cofactor = check_positive(cofactor, "cofactor")
    if conditions is None:
        conditions = tuple(SACHS_CONDITIONS)
    conditions = check_ids(conditions, "conditions", tuple(SACHS_CONDITIONS))

    p = check_readable(resolve_data_path(path, "sachs2005", what=WHAT), what=WHAT)
    route, where = _route(p, source)
    if route == "xls":
        x, ids, files = _read_xls(where, conditions)
        files_read = list(dict.fromkeys(files))
    else:
        x, ids, files, _ = _read_csv(where, conditions)
        files_read = [where.name]
    for cid in conditions:
        n = int(np.sum(ids == cid))
        if n != SACHS_CELL_COUNTS[cid]:
            src = where
            if route == "xls":
                src = where / next(f for f, i in zip(files, ids, strict=True) if i == cid)
            raise ValueError(
                f"{src}: condition {cid} ({SACHS_CONDITIONS[cid][0]}) has {n} cells; the published data "
                f"have {SACHS_CELL_COUNTS[cid]} (truncated file or not the published data?)."
            )
    x = _transform(x, ids, transform, cofactor, str(where))

    cell = np.concatenate([np.arange(int(np.sum(ids == c))) for c in conditions])
    meta = [SACHS_CONDITIONS[int(i)] for i in ids]
    names = [SACHS_CONDITIONS[c][0] for c in conditions]
    ordered_names = [SACHS_CONDITIONS[c][0] for c in sorted(conditions)]

    def cat(values: list[Any]) -> pd.Categorical:
        return pd.Categorical(values)

    obs = pd.DataFrame(
        {
            "condition_id": ids.astype(np.int64),
            "condition": pd.Categorical([m[0] for m in meta], categories=ordered_names),
            "control_condition_id": np.array(
                [np.nan if m[1] is None else float(m[1]) for m in meta], dtype=np.float64
            ),
            "stimulus": cat([m[2] for m in meta]),
            "agent": cat([m[3] for m in meta]),
            "target": cat([m[4] for m in meta]),
            "cell_in_condition": cell.astype(np.int64),
            "source_file": pd.Categorical(files),
        },
        index=pd.Index([f"c{i}_{c}" for i, c in zip(ids, cell, strict=True)], name="cell"),
    )
    var = pd.DataFrame(index=pd.Index(list(SACHS_MARKERS), name="marker"))
    adata = anndata.AnnData(X=x, obs=obs, var=var)
    adata.uns["transform"] = (
        {"method": transform, "cofactor": cofactor}
        if transform == "arcsinh"
        else {"method": transform or "none"}
    )
    adata.uns["loader"] = loader_info(
        "sachs2005", [where / f for f in files_read] if route == "xls" else [where],
        route=route, conditions=list(names),
    )
    return adata
