"""Input validation shared by every layer (the bottom of the dependency stack).

Every public entry point validates its arrays here, at the boundary, so that bad input fails early
with a message that names the argument and the problem, and nothing downstream has to guess.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

#: Sparse inputs are densified only up to this many bytes (as float64); above it they are refused.
MAX_DENSIFY_BYTES = 2 * 1024**3


def _is_sparse(x: Any) -> bool:
    return hasattr(x, "tocsr") and hasattr(x, "nnz") and hasattr(x, "toarray")


def _frame_to_numpy(x: Any) -> Any:
    """A pandas DataFrame/Series as an array; nullable numeric columns become float with NaN.

    ``to_numpy()`` turns pandas' nullable dtypes (``Int64``, ``Float64``, ``boolean``) into object
    arrays, which would be refused as non-numeric even without a missing value. When every column
    is numeric or boolean, convert to float with missing values as NaN (reported as NaN later);
    anything else (strings, categories) keeps its dtype and is refused with the usual message.
    """
    dtypes = getattr(x, "dtypes", None)
    kinds = [getattr(dt, "kind", "O") for dt in (dtypes if hasattr(dtypes, "iloc") else [dtypes])]
    if kinds and all(k in "biuf" for k in kinds):
        return x.to_numpy(dtype=np.float64, na_value=np.nan)
    return x.to_numpy()


def check_array(
    x: Any,
    name: str,
    *,
    min_samples: int = 1,
    min_features: int = 1,
    dtype: type = np.float64,
    allow_1d: bool = False,
    copy: bool = False,
) -> np.ndarray:
    """Validate a cells-by-features matrix and return it as a C-contiguous float array.

    Parameters
    ----------
    x
        Array-like of shape (n_cells, n_features): numpy array, pandas DataFrame, nested list or
        scipy sparse matrix (densified when it fits in :data:`MAX_DENSIFY_BYTES`).
    name
        Name of the argument, used in error messages.
    min_samples, min_features
        Smallest accepted number of rows (cells) and columns (features).
    dtype
        Floating dtype of the result; integer and boolean input is converted.
    allow_1d
        Accept a 1-D array as a single feature column.
    copy
        Always return a copy (the input is never modified either way).

    Returns
    -------
    numpy.ndarray
        A 2-D finite array of ``dtype``.

    Raises
    ------
    TypeError
        If ``x`` is None, non-numeric, or an object that cannot become an array.
    ValueError
        If ``x`` has the wrong number of dimensions, too few cells or features, or holds
        NaN/inf.

    """
    if x is None:
        raise TypeError(f"{name} is None; expected an array of shape (n_cells, n_features).")
    if _is_sparse(x):
        shape = x.shape
        nbytes = int(shape[0]) * int(shape[1]) * np.dtype(dtype).itemsize
        if nbytes > MAX_DENSIFY_BYTES:
            raise ValueError(
                f"{name} is a sparse matrix of shape {shape} that would need "
                f"{nbytes / 1024**3:.1f} GiB as a dense array (limit "
                f"{MAX_DENSIFY_BYTES / 1024**3:.0f} GiB); reduce it first (e.g. PCA or highly "
                "variable genes)."
            )
        x = x.toarray()
    elif hasattr(x, "to_numpy") and not isinstance(x, np.ndarray):
        x = _frame_to_numpy(x)
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise TypeError(f"{name} could not be converted to a numpy array: {exc}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be numeric; got an array of dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real-valued; got complex dtype {arr.dtype}.")
    if arr.ndim == 1 and allow_1d:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        hint = " (for a single feature use x.reshape(-1, 1))" if arr.ndim == 1 else ""
        raise ValueError(
            f"{name} must be 2-D (n_cells, n_features); got {arr.ndim}-D array of shape "
            f"{arr.shape}{hint}."
        )
    n, d = arr.shape
    if n == 0 or d == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); it needs at least one cell and feature.")
    if n < min_samples:
        raise ValueError(f"{name} has {n} cell(s); at least {min_samples} are needed.")
    if d < min_features:
        raise ValueError(f"{name} has {d} feature(s); at least {min_features} are needed.")
    out = np.array(arr, dtype=dtype, order="C", copy=True) if copy else np.ascontiguousarray(
        arr, dtype=dtype
    )
    finite = np.isfinite(out)
    if not finite.all():
        bad = np.argwhere(~finite)
        n_nan = int(np.isnan(out).sum())
        n_inf = int((~finite).sum()) - n_nan
        r, c = bad[0]
        raise ValueError(
            f"{name} contains {n_nan} NaN and {n_inf} infinite value(s) (first at cell {r}, "
            f"feature {c}); remove or impute them first."
        )
    return out


def check_pair(
    source: Any,
    target: Any,
    *,
    source_name: str = "source",
    target_name: str = "target",
    min_samples: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate two cell populations that must share their feature space."""
    src = check_array(source, source_name, min_samples=min_samples)
    tgt = check_array(target, target_name, min_samples=min_samples)
    if src.shape[1] != tgt.shape[1]:
        raise ValueError(
            f"{source_name} has {src.shape[1]} features but {target_name} has {tgt.shape[1]}; "
            "both populations must be measured on the same features."
        )
    return src, tgt


def check_pooled(arrays: tuple[Any, ...] | list[Any], caller: str) -> np.ndarray:
    """Validate several cell populations on one feature space and stack their rows.

    Each array is checked with :func:`check_array` (named ``arrays[i]`` in errors); all must have the
    feature count of the first. ``caller`` names the function for the empty-input error.
    """
    if not arrays:
        raise TypeError(f"{caller} needs at least one array.")
    checked = [check_array(a, f"arrays[{i}]") for i, a in enumerate(arrays)]
    d = checked[0].shape[1]
    for i, a in enumerate(checked[1:], start=1):
        if a.shape[1] != d:
            raise ValueError(f"arrays[{i}] has {a.shape[1]} features but arrays[0] has {d}.")
    return np.concatenate(checked)


def check_random_state(random_state: Any) -> np.random.Generator:
    """Turn ``None``, an int, a ``SeedSequence`` or a ``Generator`` into a ``numpy.random.Generator``."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, numbers.Integral | np.random.SeedSequence):
        if isinstance(random_state, numbers.Integral) and random_state < 0:
            raise ValueError(f"random_state must be non-negative; got {random_state}.")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    raise TypeError(
        f"random_state must be None, an int or a numpy Generator; got {type(random_state).__name__}."
    )


def check_positive(
    value: Any, name: str, *, allow_zero: bool = False, allow_inf: bool = False
) -> float:
    """Validate a finite positive (or non-negative) scalar; ``allow_inf`` also admits ``+inf``."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number; got {value!r}.") from exc
    if allow_inf and v == np.inf:
        return v
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        need = "non-negative" if allow_zero else "positive"
        what = f"a {need} number or inf" if allow_inf else f"a finite {need} number"
        raise ValueError(f"{name} must be {what}; got {value!r}.")
    return v


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """Validate a string option against its allowed values."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}.")
    return value


def check_bool(value: Any, name: str) -> bool:
    """Validate a boolean flag: ``True``/``False`` (or numpy booleans) only, never ``None`` or 0/1/"no"."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise TypeError(f"{name} must be True or False; got {value!r} ({type(value).__name__}).")


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Validate an integer (not a bool or a float such as ``2.0``), optionally ``>= minimum``."""
    need = {0: "a non-negative integer", 1: "a positive integer"}.get(
        minimum, "an integer" if minimum is None else f"an integer >= {minimum}")
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {need}; got {value!r} ({type(value).__name__}).")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {need}; got {value!r}.")
    return int(value)
