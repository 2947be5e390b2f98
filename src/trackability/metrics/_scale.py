"""Exact power-of-two rescaling, so that every metric is computed near unit scale.

Multiplying by a power of two changes only the exponent of a float: it is exact (no rounding)
in float64 and float32 as long as nothing overflows or becomes subnormal. The metrics therefore
divide their inputs by ``2**k`` (``k`` chosen from the largest absolute value), compute on data of
magnitude below 1, and undo the scale analytically: an RBF kernel ``exp(-gamma |u - v|^2)`` is
unchanged under ``u -> u / s, gamma -> gamma s^2``, the energy distance and W2 are homogeneous of
degree 1, ``R^2`` and Pearson's r of degree 0. On data whose squares neither overflow nor underflow
the results are bit-identical to computing without the rescaling; far from unit scale (1e-30,
1e30, one feature at 1e30, ...) they stay correct where the unscaled float32/float64 arithmetic
overflows to NaN or underflows to 0.
"""

from __future__ import annotations

import math

import numpy as np


def pow2_exponent(*arrays: np.ndarray) -> int:
    """The ``k`` with ``max |a| / 2**k`` in ``[0.5, 1)`` over all ``arrays`` (0 when all are 0)."""
    top = max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)
    if top == 0.0:
        return 0
    return math.frexp(top)[1]


def rescale(k: int, *arrays: np.ndarray) -> list[np.ndarray]:
    """``a / 2**k`` for each array, exactly (``np.ldexp``)."""
    return [np.ldexp(a, -k) for a in arrays]


def unscale(value: float, k: int, power: int, what: str, *, underflow_ok: bool = False) -> float:
    """``value * 2**(power * k)``, refused with a clear error when float64 cannot hold it.

    With ``underflow_ok`` a result below float64's smallest subnormal is returned as 0.0 (its
    correctly rounded value: right for a distance, not for a bandwidth that must stay positive).
    """
    try:
        out = math.ldexp(float(value), power * k) if value != 0.0 else 0.0
    except OverflowError:
        out = math.inf
    if not math.isfinite(out) or (value != 0.0 and out == 0.0 and not underflow_ok):
        raise ValueError(
            f"{what} = {value!r} x 2^{power * k} is not representable in float64 (the data's scale "
            f"is about 2^{k}); rescale the data (e.g. divide by a constant) first."
        )
    return out
