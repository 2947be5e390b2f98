"""Synthetic unpaired perturbation data with a known correspondence and a known map.

Cells are rows. Control ``X`` (n x d); treated cell ``j`` is ``X[perm[j]] @ W`` (+ noise), i.e. the
true map is ``F(x) = x @ W`` (in the column notation of the paper, ``W^T x``), and
``perm[j]`` is the control cell that treated cell ``j`` came from. A fitted :class:`~trackability.
models.LAOT` recovers ``W_ = W.T`` and a matching with ``matching_.source_of(n) == perm``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trackability._validation import check_positive, check_random_state

#: The dimensions and gaps of the original phase-transition experiment, in the original order.
#: The seed-faithful generator seeds with the *positions* of d and gap in these lists.
ORIGINAL_DIMS: tuple[int, ...] = (100, 90, 80, 70, 60, 50, 40, 30, 20, 10)
ORIGINAL_GAPS: tuple[float, ...] = (0, 1, 2, 5, 8, 10, 15, 20, 25, 30, 40, 50, 100, 150, 200)


@dataclass(frozen=True)
class SyntheticPair:
    """One synthetic control/treated pair with its ground truth.

    Attributes
    ----------
    control : ndarray (n, d)
    treated : ndarray (n, d)
        Shuffled: ``treated[j] = control[permutation[j]] @ W + noise``.
    permutation : ndarray (n,)
        Source (control) index of each treated cell.
    W : ndarray (d, d)
        The true linear map, acting on rows: ``F(x) = x @ W``.
    gap : float
        The perturbation size (time gap): ``W = I + gap * E`` with ``|E|_F = 1``.
    E : ndarray (d, d)
        The unit-Frobenius direction of the perturbation.

    """

    control: np.ndarray
    treated: np.ndarray
    permutation: np.ndarray
    W: np.ndarray
    gap: float
    E: np.ndarray

    def true_map(self, x: np.ndarray) -> np.ndarray:
        """Apply the noiseless true map ``F(x) = x @ W`` to rows of ``x``."""
        return np.asarray(x, dtype=np.float64) @ self.W

    def map_at(self, gap: float, x: np.ndarray) -> np.ndarray:
        """The map at another time, ``F_t(x) = x @ (I + t E)``: the dynamics are linear in time."""
        return np.asarray(x, dtype=np.float64) @ (np.eye(self.E.shape[0]) + gap * self.E)

    @property
    def lipschitz_rate(self) -> float:
        """True Lipschitz rate in time over the control cells: ``max_i |x_i E|``.

        ``|F_t(x) - F_s(x)| = |t - s| |x E|``, so over the observed cells the sup is attained
        exactly by the largest ``|x_i E|``.
        """
        return float(np.max(np.linalg.norm(self.control @ self.E, axis=1)))


def _check_size(n: Any, d: Any) -> tuple[int, int]:
    for name, v in (("n", n), ("d", d)):
        if not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {v!r}.")
    if n < 2:
        raise ValueError(f"n must be at least 2 cells to define a correspondence; got {n}.")
    return int(n), int(d)


def near_identity(
    n: int,
    d: int,
    gap: float,
    noise: float = 0.0,
    centered: bool = True,
    random_state: Any = None,
) -> SyntheticPair:
    """Linear near-identity perturbation ``W = I + gap * E`` of Gaussian control cells.

    Parameters
    ----------
    n, d
        Cells and features.
    gap
        Perturbation size (the time gap, with the dynamics ``F_t = I + t E`` linear in time).
    noise
        Measurement noise on the treated cells, as a standard deviation relative to the per-feature
        standard deviation of the control cells (``noise = 0.1`` adds 10 %).
    centered
        Draw the entries of ``E`` from a zero-mean uniform distribution on ``[-1, 1)`` (the default).
        ``False`` uses uniform ``[0, 1)`` like the original study, which puts most of the
        perturbation along the single direction of the all-ones matrix.
    random_state
        Seed (int) or numpy Generator.

    Returns
    -------
    SyntheticPair

    """
    n, d = _check_size(n, d)
    gap = check_positive(gap, "gap", allow_zero=True)
    noise = check_positive(noise, "noise", allow_zero=True)
    rng = check_random_state(random_state)
    x = rng.standard_normal((n, d)) / np.sqrt(d)
    e = rng.uniform(-1.0, 1.0, (d, d)) if centered else rng.uniform(0.0, 1.0, (d, d))
    e /= np.linalg.norm(e)
    w = np.eye(d) + gap * e
    perm = rng.permutation(n)
    y = (x @ w)[perm]
    if noise > 0:
        y = y + noise * rng.standard_normal((n, d)) / np.sqrt(d)
    return SyntheticPair(x, y, perm, w, gap, e)


def original_seed(d: int, gap: float, trial: int) -> int:
    """The seed the original phase-transition code used: ``i + j + trial`` (list positions)."""
    try:
        i = ORIGINAL_DIMS.index(int(d))
    except ValueError as exc:
        raise ValueError(f"d={d} is not in the original grid {list(ORIGINAL_DIMS)}.") from exc
    try:
        j = [float(g) for g in ORIGINAL_GAPS].index(float(gap))
    except ValueError as exc:
        raise ValueError(f"gap={gap} is not in the original grid {list(ORIGINAL_GAPS)}.") from exc
    if not isinstance(trial, int | np.integer) or trial < 0:
        raise ValueError(f"trial must be a non-negative integer; got {trial!r}.")
    return i + j + int(trial)


def seed_faithful(d: int, gap: float, trial: int, n: int = 100, noise: float = 0.0) -> SyntheticPair:
    """Reproduce one trial of the original phase-transition experiment draw for draw.

    The legacy global NumPy generator is seeded with :func:`original_seed` and drawn in the
    original order: ``X`` standard normal (n x d) / sqrt(d); ``E`` uniform [0, 1) (d x d) scaled to
    unit Frobenius norm; ``W = I + gap E``; a standard normal (n x d) noise draw (made even when the
    noise level is 0); a permutation of n. The global state is restored afterwards, so calling this
    does not disturb other users of ``np.random``.
    """
    n, d = _check_size(n, d)
    seed = original_seed(d, gap, trial)
    # The legacy global generator is the point here: it is what the original code drew from.
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(seed)  # noqa: NPY002
        x = np.random.randn(n, d) / np.sqrt(d)  # noqa: NPY002
        e = np.random.rand(d, d)  # noqa: NPY002
        e /= np.linalg.norm(e)
        w = np.eye(d) + gap * e
        z = np.random.randn(n, d)  # noqa: NPY002
        perm = np.random.permutation(n)  # noqa: NPY002
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    y = (x @ w + noise * z)[perm]
    return SyntheticPair(x, y, perm, w, float(gap), e)
