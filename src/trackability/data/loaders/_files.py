"""File checks shared by the data-set loaders.

Every loader validates what it reads and fails with a message that names the file and what is wrong
with it (missing, wrong kind, truncated, missing columns or keys, non-numeric or non-finite values,
unknown labels), so a user never has to debug a stack trace from deep inside pandas or h5py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trackability._version import provenance
from trackability.data.paths import resolve_data_path

if TYPE_CHECKING:  # pragma: no cover
    import anndata
    import pandas as pd


def _show(items: Iterable[Any], limit: int = 8) -> str:
    items = [repr(i) for i in items]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def locate(
    path: str | os.PathLike | None,
    default: str,
    *,
    what: str,
    suffixes: Sequence[str],
    names_in_folder: Sequence[str] = (),
) -> Path:
    """Resolve the file of a data set and check its extension.

    Parameters
    ----------
    path
        The user's ``path`` argument: a file, a folder holding the file, or None (then
        ``$TRACKABILITY_DATA/<default>``, else the cache folder; see :func:`resolve_data_path`).
    default
        Location of the file relative to the data root.
    what
        Human name of the data set, used in messages.
    suffixes
        Accepted file extensions, lower case with the dot (e.g. ``(".h5ad",)``).
    names_in_folder
        File names looked for when ``path`` is a folder (first match wins); the basename of
        ``default`` is always tried.

    """
    p = resolve_data_path(path, default, what=what)
    if p.is_dir():
        candidates = [*names_in_folder, Path(default).name, str(Path(default))]
        for name in candidates:
            if (p / name).is_file():
                p = p / name
                break
        else:
            raise FileNotFoundError(
                f"{what}: folder {p} holds none of {_show(dict.fromkeys(candidates))}; pass the file itself "
                "as path=..."
            )
    if p.suffix.lower() not in suffixes:
        raise ValueError(
            f"{what}: {p} has extension {p.suffix or '(none)'!r}; expected {' or '.join(suffixes)}."
        )
    return p


def read_h5ad(path: Path, *, what: str, backed: bool = False) -> anndata.AnnData:
    """Read an ``.h5ad`` file, turning h5py/anndata failures into a ValueError naming the file.

    Files written by old anndata versions (e.g. the Waddington-OT tutorial files) are read without
    anndata's ``OldFormatWarning``: the user cannot act on it for a published file.
    """
    import warnings

    import anndata

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", anndata.OldFormatWarning)
            return anndata.read_h5ad(path, backed="r" if backed else None)
    except FileNotFoundError:
        raise
    except Exception as exc:  # h5py raises OSError/KeyError/... for truncated or foreign files
        raise ValueError(
            f"{what}: could not read {path} as an AnnData .h5ad file (truncated, corrupt or not HDF5?): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def require_columns(columns: Iterable[Any], required: Iterable[str], *, source: str, kind: str) -> None:
    """Raise a ValueError naming ``source`` if any of ``required`` is not among ``columns``."""
    have = {str(c) for c in columns}
    missing = [r for r in required if r not in have]
    if missing:
        raise ValueError(
            f"{source}: missing {kind} {_show(missing)}; found {_show(sorted(have), limit=25)}."
        )


def numeric_block(
    frame: pd.DataFrame, columns: Sequence[str], *, source: str, row_offset: int = 0
) -> np.ndarray:
    """Return ``frame[columns]`` as a finite float64 array, or raise naming the bad column and row.

    ``row_offset`` is added to 0-based row positions in messages (e.g. 2 for a spreadsheet whose
    header is on row 1, so that the message names the row a user sees).
    """
    import pandas as pd

    out = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        values = frame[col]
        num = pd.to_numeric(values, errors="coerce")
        bad = num.isna() & values.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{source}: column {col!r} holds {int(bad.sum())} non-numeric value(s), first "
                f"{values.iloc[i]!r} at row {i + row_offset}."
            )
        arr = num.to_numpy(dtype=np.float64, na_value=np.nan)
        nonfinite = ~np.isfinite(arr)
        if nonfinite.any():
            i = int(np.flatnonzero(nonfinite)[0])
            raise ValueError(
                f"{source}: column {col!r} holds {int(nonfinite.sum())} missing or non-finite value(s) "
                f"(NaN/inf/empty), first at row {i + row_offset}."
            )
        out[:, j] = arr
    return out


def check_finite_matrix(x: Any, *, source: str, var_names: Sequence[str] | None = None) -> None:
    """Raise if a dense or sparse matrix holds NaN/inf, naming the first bad variable."""
    data = x.data if hasattr(x, "nnz") else np.asarray(x)
    if not np.issubdtype(np.asarray(data).dtype, np.number):
        raise ValueError(f"{source}: the expression matrix X is not numeric (dtype {data.dtype}).")
    if np.all(np.isfinite(data)):
        return
    dense = x.toarray() if hasattr(x, "nnz") else np.asarray(x)
    bad = ~np.isfinite(dense)
    j = int(np.flatnonzero(bad.any(axis=0))[0])
    name = f" ({var_names[j]!r})" if var_names is not None else ""
    raise ValueError(
        f"{source}: X holds {int(bad.sum())} NaN/inf value(s), first in variable {j}{name}."
    )


def check_labels(values: Iterable[Any], allowed: Iterable[str], *, source: str, column: str) -> None:
    """Raise if ``values`` holds labels outside ``allowed``, listing the unknown ones."""
    allowed = list(allowed)
    unknown = sorted({str(v) for v in values} - set(allowed))
    if unknown:
        raise ValueError(
            f"{source}: column {column!r} holds unknown label(s) {_show(unknown)}; expected {_show(allowed)}."
        )


def normalise_label(label: Any) -> str:
    """Canonical spelling of a text label: stripped, single spaces, micro sign as ``u``."""
    text = str(label).replace("\u00b5", "u").replace("\u03bc", "u")
    return re.sub(r"\s+", " ", text).strip()


def loader_info(dataset: str, files: Iterable[Path | str], **params: Any) -> dict[str, Any]:
    """Provenance of a loaded data set, stored in ``adata.uns['loader']`` (h5ad-writable)."""
    info: dict[str, Any] = {"dataset": dataset, "files": [str(f) for f in files]}
    for key, value in params.items():
        if value is None:
            value = "none"
        elif isinstance(value, (list, tuple)):
            value = [str(v) for v in value]
        info[key] = value
    info.update(provenance())
    return info
