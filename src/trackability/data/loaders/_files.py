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
    p = check_readable(resolve_data_path(path, default, what=what), what=what)
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


class DataFileError(ValueError):
    """A data file is unreadable or malformed; ``path`` is the file, the message says what is wrong."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def check_readable(path: Path, *, what: str) -> Path:
    """Raise a PermissionError naming ``what`` and ``path`` when it cannot be read (or listed)."""
    mode = os.R_OK | (os.X_OK if path.is_dir() else 0)
    if not os.access(path, mode):
        kind = "folder" if path.is_dir() else "file"
        raise PermissionError(
            f"{what}: the {kind} {path} cannot be read (permission denied); fix its permissions "
            "or copy it somewhere readable and pass path=..."
        )
    return path


def list_folder(folder: Path, *, what: str) -> list[Path]:
    """The entries of ``folder`` (sorted), with a PermissionError naming it when it cannot be listed."""
    check_readable(folder, what=what)
    try:
        return sorted(folder.iterdir())
    except PermissionError as exc:
        raise PermissionError(
            f"{what}: the folder {folder} cannot be listed (permission denied): {exc}"
        ) from None


def _read_bytes(path: Path) -> bytes:
    """The whole (decompressed, for ``.gz``) content of a file."""
    import gzip

    if path.suffix.lower() == ".gz":
        with gzip.open(path, "rb") as fh:
            return fh.read()
    return path.read_bytes()


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def read_csv(path: Path, *, what: str, sep: str | None = ",", **kwargs: Any) -> pd.DataFrame:
    """Read a CSV (plain or ``.gz``) with errors that name the file and the problem.

    Checked before pandas parses the text: read permission (PermissionError), a truncated or
    corrupt gzip stream, an empty file, binary content (a NUL byte, or bytes that are not UTF-8,
    with the line where they are), and a **partial last line** (no final newline and fewer fields
    than the header: a copy cut off mid-row). A file cut exactly at a line boundary parses as a
    shorter table: loaders of published files also check the published cell count (see
    ``docs/datasets.md``).

    Raises
    ------
    PermissionError
        The file cannot be read.
    DataFileError
        (a ValueError) for every other problem; ``.path`` is the file.

    """
    import io

    import pandas as pd

    check_readable(path, what=what)
    try:
        raw = _read_bytes(path)
    except PermissionError:
        raise
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise DataFileError(
            path, f"cannot be read (truncated or corrupt compressed file?): {type(exc).__name__}: {exc}"
        ) from None
    if not raw.strip():
        raise DataFileError(path, "is empty.")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataFileError(path, f"is not a text CSV file (a NUL byte on line {_line_of(raw, nul)}).")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(
            path, f"is not UTF-8 text (binary or corrupt file?): {exc.reason} on line "
            f"{_line_of(raw, exc.start)}."
        ) from None
    if sep is not None and not text.endswith(("\n", "\r")):
        lines = text.splitlines()
        first, last = lines[0], lines[-1]
        if len(lines) > 1 and last.count(sep) < first.count(sep):
            raise DataFileError(
                path, f"ends in a partial line ({last.count(sep) + 1} of {first.count(sep) + 1} "
                f"fields, no final newline): the file is truncated."
            )
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, **kwargs)
    except Exception as exc:  # pandas ParserError, EmptyDataError, ...
        raise DataFileError(path, f"cannot be parsed as CSV: {type(exc).__name__}: {exc}") from None


def check_ids(
    values: Any, name: str, allowed: Sequence[int] | None = None, *, allow_empty: bool = False
) -> tuple[int, ...]:
    """Validate a list of integer ids (e.g. Sachs ``conditions``): distinct whole numbers.

    ``1.5``, ``"3"``, ``True`` or a bare number (not a list) are errors naming ``name``; so are ids
    outside ``allowed`` (listed in the message).
    """
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of integer ids; got {type(values).__name__} {values!r}.")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            if isinstance(v, float | np.floating) and float(v).is_integer():
                v = int(v)
            else:
                raise ValueError(f"{name} must hold whole-number ids; got {v!r} in {list(values)!r}.")
        out.append(int(v))
    if not out and not allow_empty:
        raise ValueError(f"{name} must not be empty.")
    dup = sorted({v for v in out if out.count(v) > 1})
    if dup:
        raise ValueError(f"{name} lists {dup} more than once; got {out}.")
    if allowed is not None:
        bad = [v for v in out if v not in set(allowed)]
        if bad:
            raise ValueError(f"{name}: unknown id(s) {bad}; valid ids are {_show(allowed, limit=20)}.")
    return tuple(out)


def check_numbers(values: Any, name: str, *, allow_empty: bool = False) -> list[float]:
    """Validate a list of finite numbers (e.g. ``days``), with errors naming ``name``."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of numbers; got {type(values).__name__} {values!r}.")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            raise ValueError(f"{name} must hold numbers; got {v!r} in {list(values)!r}.")
        if not np.isfinite(float(v)):
            raise ValueError(f"{name} must hold finite numbers; got {v!r}.")
        out.append(float(v))
    if not out and not allow_empty:
        raise ValueError(f"{name} must not be empty.")
    return out


def read_h5ad(path: Path, *, what: str, backed: bool = False) -> anndata.AnnData:
    """Read an ``.h5ad`` file, turning h5py/anndata failures into a ValueError naming the file.

    Files written by old anndata versions (e.g. the Waddington-OT tutorial files) are read without
    anndata's ``OldFormatWarning``: the user cannot act on it for a published file.
    """
    import warnings

    import anndata

    check_readable(path, what=what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", anndata.OldFormatWarning)
            return anndata.read_h5ad(path, backed="r" if backed else None)
    except (FileNotFoundError, PermissionError):
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
