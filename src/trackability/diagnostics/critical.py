"""The critical gap ``Delta``, the regime of a measurement gap, and the experiment-design calculator.

``Delta = sqrt((1 - delta) / (2 n L^2))`` (Jafari, Shakeri, Daneshmand, ICML 2026): for a gap
``t < Delta`` the cell correspondence is recoverable in polynomial time (trackable); beyond it,
recovering it is NP-hard in the worst case. ``delta`` and ``L`` must be in the same units: with the
restricted isometry computed on data multiplied by ``scale`` (see :mod:`.rip`), ``L`` is multiplied
by it too.
"""

from __future__ import annotations

import math
import numbers
import sys
from fractions import Fraction
from typing import Any

from trackability._validation import check_positive

REGIMES = ("trackable", "borderline", "untrackable")

#: Default band of ``gap / Delta`` called borderline.
BORDERLINE = (0.8, 1.25)
#: Log of the largest float: beyond it a critical gap is inf.
_LOG_MAX = math.log(sys.float_info.max)


def _check_delta(delta: Any) -> float:
    try:
        dv = float(delta)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"delta must be a number; got {delta!r}.") from exc
    if not math.isfinite(dv) or dv < 0:
        raise ValueError(f"delta must be a finite number >= 0; got {delta!r}.")
    if dv > 1:
        raise ValueError(
            f"delta = {dv:.4g} > 1: the restricted isometry fails, so the theory gives no critical gap "
            "(with scale='optimal' this happens only when two cells are linearly dependent, e.g. "
            "duplicates)."
        )
    return dv


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an integer number of cells; got {n!r}.")
    n = int(n)
    if n < 2:
        raise ValueError(f"n must be at least 2 cells; got {n}.")
    return n


def critical_gap(delta: float, n: int, L: float, *, scale: float = 1.0) -> float:
    """``Delta = sqrt((1 - delta) / (2 n (scale L)^2))``.

    Parameters
    ----------
    delta
        The (2, delta) restricted-isometry constant (``0 <= delta <= 1``).
    n
        Number of cells.
    L
        Lipschitz rate in time, in the data's units (``L = 0``: nothing moves, ``Delta = inf``).
    scale
        The factor the data were multiplied by when ``delta`` was computed
        (:attr:`RIPResult.scale`); ``L`` is multiplied by it. 1 when ``delta`` was computed on the
        data as they are.

    Returns
    -------
    float
        The critical gap, in the time units of ``L``; 0 when ``delta = 1``.

    Examples
    --------
    >>> critical_gap(0.5, 100, 0.1)
    0.5

    """
    dv = _check_delta(delta)
    n = _check_n(n)
    lv = check_positive(L, "L", allow_zero=True)
    sc = check_positive(scale, "scale")
    if lv == 0:
        return math.inf
    ratio = (1.0 - dv) / (2.0 * n)
    if ratio == 0:
        return 0.0
    # a subnormal ratio keeps few significant bits: take the square roots apart (both normal)
    num = math.sqrt(ratio) if ratio >= sys.float_info.min else math.sqrt(1.0 - dv) / math.sqrt(2.0 * n)
    denom = sc * lv
    if sys.float_info.min <= denom < math.inf:
        return num / denom
    # ``scale * L`` outside the normal range although each is finite: 0 or inf, or subnormal with
    # few significant bits (the property test found a 25 % error there). In log space instead; a result
    # beyond float range is inf (or 0), its correctly rounded value.
    e = math.log(num) - math.log(sc) - math.log(lv)
    return math.inf if e > _LOG_MAX else math.exp(e)


def _check_band(borderline: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in borderline)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"borderline must be a pair (low, high); got {borderline!r}.") from exc
    if not (0 < lo <= 1 <= hi and math.isfinite(hi)):
        raise ValueError(f"borderline must satisfy 0 < low <= 1 <= high < inf; got {borderline!r}.")
    return lo, hi


def regime(
    gap: float, Delta: float, *, borderline: tuple[float, float] = BORDERLINE
) -> tuple[str, float]:
    """Name the regime of a measurement gap: trackable, borderline or untrackable.

    Parameters
    ----------
    gap
        The measurement gap ``t`` (>= 0).
    Delta
        The critical gap (>= 0; ``inf`` when nothing moves).
    borderline
        Band of ``ratio = gap / Delta`` called borderline: below ``low`` trackable, above
        ``high`` untrackable.

    Returns
    -------
    (str, float)
        The regime and the ratio ``gap / Delta`` (``inf`` when ``Delta = 0 < gap``).

    Examples
    --------
    >>> regime(0.5, 1.0)
    ('trackable', 0.5)

    """
    t = check_positive(gap, "gap", allow_zero=True)
    try:
        dv = float(Delta)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Delta must be a number; got {Delta!r}.") from exc
    if math.isnan(dv) or dv < 0:
        raise ValueError(f"Delta must be >= 0; got {Delta!r}.")
    lo, hi = _check_band(borderline)
    if t == 0:
        ratio = 0.0
    elif dv == 0:
        ratio = math.inf
    else:
        ratio = t / dv
    if ratio < lo:
        return "trackable", ratio
    if ratio > hi:
        return "untrackable", ratio
    return "borderline", ratio


def max_cells_for_gap(gap: float, delta: float, L: float, *, scale: float = 1.0) -> int:
    """Largest number of cells ``n`` for which ``gap`` is still below the critical gap.

    From ``gap <= Delta(n)``: ``n <= (1 - delta) / (2 (scale L gap)^2)``. ``delta`` is held fixed,
    although in practice it grows with the number of cells drawn (more cells, closer pairs):
    recompute it on a pilot sample of the planned size. A result below 2 means that no number of
    cells is certified at this gap.

    Examples
    --------
    >>> max_cells_for_gap(0.5, 0.5, 0.1)
    100

    """
    t = check_positive(gap, "gap")
    dv = _check_delta(delta)
    lv = check_positive(L, "L")
    sc = check_positive(scale, "scale")
    # exact rational arithmetic: the bound is an integer of any size (no overflow when
    # ``scale * L * gap`` is tiny, no division by an underflowed zero)
    bound = Fraction(1.0 - dv) / (2 * (Fraction(sc) * Fraction(lv) * Fraction(t)) ** 2)
    # guard against 99.99999999 -> 99 from rounding when the bound is an integer
    return int(math.floor(bound * (1 + Fraction(1, 10**12))))


def max_gap_for_cells(n: int, delta: float, L: float, *, scale: float = 1.0) -> float:
    """Longest measurement gap that stays trackable with ``n`` cells: the critical gap itself."""
    return critical_gap(delta, n, L, scale=scale)
