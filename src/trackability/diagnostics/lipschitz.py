"""The Lipschitz rate in time, ``L``: how fast cells move, ``sup_x |F_t(x) - F_s(x)| <= L |t - s|``.

Two estimates (cells as rows):

- :func:`lipschitz_from_map`: from a fitted map and the gap, the displacement per unit time
  ``|F_t(x) - x| / t`` over the control cells (``F_0`` is the identity);
- :func:`lipschitz_from_timecourse`: from populations measured at several times, the displacement per
  unit time between each cell and its partner at the next time point under the optimal matching
  (or under known correspondences).

Both report the supremum (the definition of ``L``) and a robust quantile. Over the observed cells
the supremum is a lower bound on the true ``sup_x``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trackability._validation import check_array, check_choice, check_pair, check_positive

STATISTICS = ("sup", "quantile")


@dataclass(frozen=True)
class LipschitzEstimate:
    """An estimate of the Lipschitz rate in time.

    Attributes
    ----------
    sup
        Largest displacement per unit time over the cells: the estimate of ``L``.
    robust
        The ``quantile``-quantile of the same displacements (less sensitive to outlier cells).
    quantile
        The quantile used for ``robust``.
    n
        Number of displacements it was computed from.
    method
        ``"map"`` or ``"timecourse"``.
    rates
        Per-cell displacement per unit time (for bootstrap and plots).

    """

    sup: float
    robust: float
    quantile: float
    n: int
    method: str
    rates: np.ndarray = field(repr=False)

    def value(self, statistic: str = "sup") -> float:
        """``sup`` or the robust ``quantile`` estimate."""
        check_choice(statistic, "statistic", STATISTICS)
        return self.sup if statistic == "sup" else self.robust

    def __float__(self) -> float:
        return float(self.sup)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (without the per-cell rates)."""
        return {
            "sup": self.sup, "robust": self.robust, "quantile": self.quantile, "n": self.n,
            "method": self.method,
        }


def _check_quantile(q: Any) -> float:
    try:
        qf = float(q)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"quantile must be a number in [0, 1]; got {q!r}.") from exc
    if not 0.0 <= qf <= 1.0:
        raise ValueError(f"quantile must be in [0, 1]; got {q!r}.")
    return qf


def _estimate(rates: np.ndarray, quantile: float, method: str) -> LipschitzEstimate:
    return LipschitzEstimate(
        float(rates.max()), float(np.quantile(rates, quantile)), quantile, int(rates.size), method,
        rates,
    )


def lipschitz_from_map(
    x0: Any,
    mapped: Any | Callable[[np.ndarray], np.ndarray],
    gap: float,
    *,
    quantile: float = 0.95,
) -> LipschitzEstimate:
    """``L`` from a fitted map: displacement per unit time ``|F_t(x) - x| / t`` over ``x0``.

    Parameters
    ----------
    x0
        Control cells (n, d).
    mapped
        ``F_t(x0)``: an array (n, d), a callable applied to ``x0``, or any object with a
        ``predict`` method (a fitted model).
    gap
        The time ``t`` the map covers (> 0).
    quantile
        Quantile for the robust estimate.

    """
    x = check_array(x0, "x0")
    t = check_positive(gap, "gap")
    q = _check_quantile(quantile)
    if hasattr(mapped, "predict"):
        y = mapped.predict(x)
    elif callable(mapped):
        y = mapped(x)
    else:
        y = mapped
    y = check_array(y, "mapped")
    if y.shape != x.shape:
        raise ValueError(
            f"mapped has shape {y.shape} but x0 has shape {x.shape}; mapped must be F(x0), one row "
            "per control cell."
        )
    rates = np.linalg.norm(y - x, axis=1) / t
    return _estimate(rates, q, "map")


def lipschitz_from_timecourse(
    populations: Sequence[Any],
    times: Sequence[float],
    *,
    matchings: Sequence[Any] | None = None,
    cost: str = "sqeuclidean",
    quantile: float = 0.95,
) -> LipschitzEstimate:
    """``L`` from several time points: matched displacement per unit time between consecutive ones.

    Parameters
    ----------
    populations
        Two or more arrays (n_k, d), the cells measured at ``times[k]``.
    times
        Strictly increasing measurement times, one per population.
    matchings
        Optional known correspondences between consecutive populations: for each ``k``, a
        :class:`~trackability.matching.Matching` or an integer array giving, for every cell of
        population ``k + 1``, its source cell in population ``k``. By default the optimal
        one-to-one assignment under ``cost`` is used (which minimises the total displacement, so
        with gaps too long to track it tends to underestimate ``L``).
    cost
        Assignment cost for the default matching.
    quantile
        Quantile for the robust estimate.

    """
    from trackability.matching import assign

    if isinstance(populations, np.ndarray) or len(populations) < 2:
        raise ValueError("populations must be a sequence of at least two arrays (one per time point).")
    ts = np.asarray(times, dtype=np.float64)
    if ts.ndim != 1 or ts.size != len(populations):
        raise ValueError(
            f"times must give one time per population: {len(populations)} populations, "
            f"{ts.size if ts.ndim == 1 else ts.shape} times."
        )
    if not np.all(np.isfinite(ts)) or np.any(np.diff(ts) <= 0):
        raise ValueError(f"times must be finite and strictly increasing; got {ts.tolist()}.")
    if matchings is not None and len(matchings) != len(populations) - 1:
        raise ValueError(
            f"matchings must give one correspondence per consecutive pair: expected "
            f"{len(populations) - 1}, got {len(matchings)}."
        )
    q = _check_quantile(quantile)
    arrays = [check_array(p, f"populations[{k}]") for k, p in enumerate(populations)]
    for k in range(1, len(arrays)):
        check_pair(arrays[k - 1], arrays[k], source_name=f"populations[{k - 1}]",
                   target_name=f"populations[{k}]")
    rates = []
    for k in range(len(arrays) - 1):
        a, b = arrays[k], arrays[k + 1]
        if matchings is None:
            m = assign(a, b, cost=cost)
            src, tgt = m.source, m.target
        else:
            mk = matchings[k]
            if hasattr(mk, "source") and hasattr(mk, "target"):
                src, tgt = np.asarray(mk.source), np.asarray(mk.target)
            else:
                arr = np.asarray(mk)
                if arr.shape != (b.shape[0],) or not np.issubdtype(arr.dtype, np.integer):
                    raise ValueError(
                        f"matchings[{k}] must be a Matching or an integer array of length "
                        f"{b.shape[0]} (the source cell of each cell at time {ts[k + 1]})."
                    )
                tgt = np.flatnonzero(arr >= 0)
                src = arr[tgt]
            if src.size == 0 or src.max() >= a.shape[0] or tgt.max() >= b.shape[0]:
                raise ValueError(f"matchings[{k}] refers to cells outside the populations.")
        rates.append(np.linalg.norm(b[tgt] - a[src], axis=1) / (ts[k + 1] - ts[k]))
    return _estimate(np.concatenate(rates), q, "timecourse")


def lipschitz_rate(
    x0: Any = None,
    mapped: Any = None,
    gap: float | None = None,
    *,
    populations: Sequence[Any] | None = None,
    times: Sequence[float] | None = None,
    quantile: float = 0.95,
    **kwargs: Any,
) -> LipschitzEstimate:
    """Estimate ``L`` from a fitted map (``x0, mapped, gap``) or a time course (``populations, times``).

    See :func:`lipschitz_from_map` and :func:`lipschitz_from_timecourse`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> lipschitz_rate(x, x * 1.5, gap=0.5).sup  # |0.5 x| / 0.5, largest for |x| = 2
    2.0

    """
    if populations is not None:
        if x0 is not None or mapped is not None or gap is not None:
            raise ValueError("give either (x0, mapped, gap) or (populations, times), not both.")
        if times is None:
            raise ValueError("times is required with populations.")
        return lipschitz_from_timecourse(populations, times, quantile=quantile, **kwargs)
    if x0 is None or mapped is None or gap is None:
        raise ValueError(
            "lipschitz_rate needs x0, mapped and gap (a fitted map) or populations and times."
        )
    return lipschitz_from_map(x0, mapped, gap, quantile=quantile, **kwargs)
