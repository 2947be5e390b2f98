"""Memory guards of the diagnostics: refuse, before allocating, what would not fit.

The budget is the matching layer's (:func:`trackability.matching.auto.memory_budget`: bytes or a
string like ``"8GB"``; None for 80 % of the memory available to the process), so every part of the
package refuses the same way: with the estimate, the budget and what to change.
"""

from __future__ import annotations

from typing import Any

from trackability.matching.auto import memory_budget

_GIB = 1024**3


def format_bytes(nbytes: float) -> str:
    """``'1.5 GiB'`` or ``'12.0 MiB'``."""
    if nbytes >= 0.1 * _GIB:
        return f"{nbytes / _GIB:.1f} GiB"
    return f"{nbytes / 1024**2:.1f} MiB"


def check_bytes(need: int, *, what: str, fix: str, max_memory: Any = None) -> int:
    """Raise ``MemoryError`` naming ``what``, the estimate and ``fix`` if ``need`` exceeds the budget.

    Parameters
    ----------
    need
        Predicted peak bytes.
    what
        The computation, e.g. ``"assignment_margins on 20000 x 20000 cells"``.
    fix
        What the user can change, e.g. ``"pass cells=... on a subsample"``.
    max_memory
        Budget in bytes or like ``"8GB"``; None: 80 % of the memory available now.

    Returns
    -------
    int
        ``need`` when it fits.

    """
    budget = memory_budget(max_memory)
    if need <= budget:
        return int(need)
    raise MemoryError(
        f"{what} would need about {format_bytes(need)}, but the budget is {format_bytes(budget)} "
        "(max_memory, default 80 % of the memory available now); refused before allocating "
        f"anything: {fix}."
    )
