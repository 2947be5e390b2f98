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


def address_space_room() -> int | None:
    """Bytes this process may still map under its address-space limit (``RLIMIT_AS``), or None.

    None when there is no limit (or the platform has none, e.g. Windows). A process started under
    ``ulimit -v`` cannot allocate past the limit whatever the free memory, so the budget must not
    exceed this either.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    import psutil

    used = int(psutil.Process().memory_info().vms)
    return max(0, int(soft) - used)


def available_bytes() -> int:
    """Memory this process can use now.

    The free memory (``psutil.virtual_memory().available``), capped by what the process's
    address-space limit (``RLIMIT_AS``) still allows.
    """
    import psutil

    free = int(psutil.virtual_memory().available)
    room = address_space_room()
    return free if room is None else min(free, room)


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
    if "k" in options:
        check_k(options["k"])
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


def check_k(k: Any) -> int:
    """The sparse solver's ``k`` (candidate partners per cell), validated: a positive integer."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer (candidate partners per cell); got {k!r}.")
    return int(k)


def _sparse_block_rows(n_cols: int) -> int:
    from trackability.matching.sparse import certificate_block_rows

    return certificate_block_rows(n_cols)


def memory_budget(max_memory: float | int | str | None = None) -> int:
    """Bytes a matching may use.

    ``max_memory`` in bytes or as a string like ``"8GB"``; None: 80 % of the memory available now
    (free memory, capped by the process's address-space limit ``RLIMIT_AS``).
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
    if isinstance(max_memory, bool) or not isinstance(max_memory, int | float | np.number):
        raise TypeError(
            f"max_memory must be a number of bytes, a string like '8GB', or None; got "
            f"{type(max_memory).__name__} {max_memory!r}."
        )
    value = float(max_memory)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"max_memory must be a positive number of bytes; got {max_memory!r}.")
    return int(value)


def laot_bytes(n_source: int, n_target: int, d: int, ridge: bool = False) -> int:
    """Predicted peak memory of LAOT's own arrays (the matching, checked by ``assign``, apart).

    Dominated for many features by the ``d x d`` maps: ``W_``, the previous and the best iterate
    and the least-squares solution (four ``d x d`` float64 arrays at the peak, six with a ridge
    penalty, which stacks a ``d x d`` block under the cells; measured with tracemalloc), plus two
    float64 copies of the cells used.
    """
    d = int(d)
    return int(8 * ((6 if ridge else 4) * d * d + 2 * (int(n_source) + int(n_target)) * d))


def check_laot_memory(
    n_source: int, n_target: int, d: int, budget: int, ridge: bool = False
) -> int:
    """Raise ``MemoryError`` (with the estimate and the fix) if LAOT's maps cannot fit ``budget``."""
    need = laot_bytes(n_source, n_target, d, ridge=ridge)
    if need <= budget:
        return need
    raise MemoryError(
        f"LAOT on {n_source} x {n_target} cells with d={d} features would need about "
        f"{_gib(need)} (the d x d map W_ alone is {_gib(8 * d * d)}), but the budget is "
        f"{_gib(budget)} (matching={{'max_memory': ...}}, default 80 % of the memory available "
        f"now, within the address-space limit); refused before allocating anything: reduce the "
        f"features first (e.g. PCA to 50-100 components) or raise max_memory."
    )


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
        f"available now, within the address-space limit); refused before allocating anything: {hint}."
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
