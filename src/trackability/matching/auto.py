"""Choosing a matching method from the problem size, and refusing what cannot fit in memory.

:func:`estimate_bytes` predicts the peak memory of each method *before* anything is allocated;
:func:`check_memory` turns an estimate above the budget into a ``MemoryError`` that says what would
fit instead; :func:`choose_method` is what ``assign(..., method="auto")`` uses.

``"auto"`` picks the exact dense solver for small problems (where it is fastest and needs no
certificate) and the exact sparse solver above that. It never picks ``"entropic"`` on its own: a
soft plan is a different answer (a blurred correspondence, not a one-to-one matching), so it has
to be asked for explicitly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Largest population for which ``"auto"`` uses the dense solver (the dense LAP at this size takes
#: about a second; above it the sparse solver is faster in the trackable regime).
DENSE_AUTO_MAX = 4000
#: Fraction of the currently available memory that a matching may use when no budget is given.
MEMORY_FRACTION = 0.8

_GIB = 1024**3


def available_bytes() -> int:
    """Memory available to this process now (``psutil.virtual_memory().available``)."""
    import psutil

    return int(psutil.virtual_memory().available)


def estimate_bytes(method: str, n_source: int, n_target: int, d: int, **options: Any) -> int:
    """Predicted peak memory (bytes) of one matching, beyond the input arrays.

    - ``dense``: the float64 cost matrix, its expansion temporaries (one more matrix), and for
      unequal sizes with ``lap`` the square extended copy (``max(n)^2``).
    - ``entropic``: cost, kernel/log-kernel, plan and POT's log-domain work arrays: about eight dense
      float64 matrices at the peak (measured with tracemalloc).
    - ``sparse``: centred copies of both populations (float64), float32 copies for the
      nearest-neighbour index, the candidate graph (``k`` edges per cell, several int64/float64
      arrays of it while it is built and solved) and the certificate's row blocks.
    """
    n0, nt = int(n_source), int(n_target)
    if method == "dense":
        extra = 0
        if n0 != nt and options.get("solver", "lap") == "lap":
            extra = 8 * max(n0, nt) ** 2
        return 2 * 8 * n0 * nt + extra
    if method == "entropic":
        return 8 * 8 * n0 * nt
    if method == "sparse":
        k = int(options.get("k", 8))
        m = min(n0, nt)
        edges = m * max(k, 4) * 2
        n = max(n0, nt)
        block_rows = min(m, _sparse_block_rows(n))
        blocks = 3 * 8 * block_rows * n  # certificate row blocks and their temporaries
        return int(8 * (n0 + nt) * d * 2 + 4 * (n0 + nt) * d + edges * 8 * 8 + blocks)
    raise ValueError(f"no memory model for method {method!r}")


def _sparse_block_rows(n_cols: int) -> int:
    from trackability.matching.sparse import certificate_block_rows

    return certificate_block_rows(n_cols)


def memory_budget(max_memory: float | int | str | None = None) -> int:
    """Bytes a matching may use.

    ``max_memory`` in bytes or as a string like ``"8GB"``; None: 80 % of the memory available now.
    """
    if max_memory is None:
        return int(MEMORY_FRACTION * available_bytes())
    if isinstance(max_memory, str):
        text = max_memory.strip().upper().replace("IB", "B")
        units = {"TB": 1024**4, "GB": _GIB, "MB": 1024**2, "KB": 1024, "B": 1}
        for unit, factor in units.items():
            if text.endswith(unit):
                try:
                    return int(float(text[: -len(unit)]) * factor)
                except ValueError:
                    break
        raise ValueError(f"max_memory must be a number of bytes or like '8GB'; got {max_memory!r}.")
    value = float(max_memory)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"max_memory must be a positive number of bytes; got {max_memory!r}.")
    return int(value)


def _gib(nbytes: float) -> str:
    if nbytes >= 0.1 * _GIB:
        return f"{nbytes / _GIB:.1f} GiB"
    return f"{nbytes / 1024**2:.1f} MiB"


def check_memory(
    method: str, n_source: int, n_target: int, d: int, budget: int, **options: Any
) -> int:
    """Raise ``MemoryError`` (saying what would fit) if ``method`` needs more than ``budget``."""
    need = estimate_bytes(method, n_source, n_target, d, **options)
    if need <= budget:
        return need
    alternatives = []
    for alt in ("sparse", "dense", "entropic"):
        if alt == method:
            continue
        alt_need = estimate_bytes(alt, n_source, n_target, d, **options)
        if alt_need <= budget:
            alternatives.append(f"method={alt!r} (about {_gib(alt_need)})")
    if alternatives:
        hint = "use " + " or ".join(alternatives)
    else:
        hint = "subsample the cells or raise max_memory"
    raise MemoryError(
        f"method={method!r} on {n_source} x {n_target} cells (d={d}) would need about "
        f"{_gib(need)}, but the budget is {_gib(budget)} (max_memory, default 80 % of the memory "
        f"available now); refused before allocating anything: {hint}."
    )


def choose_method(n_source: int, n_target: int, d: int, budget: int, **options: Any) -> tuple[str, str]:
    """The method ``"auto"`` stands for, and why."""
    n_max = max(n_source, n_target)
    dense_need = estimate_bytes("dense", n_source, n_target, d, **options)
    if n_max <= DENSE_AUTO_MAX and dense_need <= budget:
        return "dense", f"n <= {DENSE_AUTO_MAX} and the dense cost matrix fits ({_gib(dense_need)})"
    sparse_need = estimate_bytes("sparse", n_source, n_target, d, **options)
    if sparse_need <= budget:
        why = f"n = {n_max} > {DENSE_AUTO_MAX}" if n_max > DENSE_AUTO_MAX else (
            f"the dense cost matrix would need {_gib(dense_need)}"
        )
        return "sparse", f"{why}; the certified sparse solver needs about {_gib(sparse_need)}"
    check_memory("sparse", n_source, n_target, d, budget, **options)  # raises with the numbers
    raise AssertionError("unreachable")  # pragma: no cover
