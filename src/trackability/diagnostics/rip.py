"""The restricted-isometry constant of a set of control cells (cells as rows).

The paper's condition: with the cells as the columns of ``X0`` (here: the rows of ``x0``),
``(1 - delta)|v|^2 <= |X0 v|^2 <= (1 + delta)|v|^2`` for every k-sparse ``v``.

For ``k = 2`` it is exact and cheap: a 2-sparse ``v`` lives on one pair of cells ``(i, j)``, and
``|X0 v|^2 = v^T G_ij v`` with the 2x2 Gram matrix ``G_ij = [[|x_i|^2, x_i.x_j], [x_i.x_j, |x_j|^2]]``.
Its eigenvalues have the closed form ``(a + b)/2 +- sqrt(((a - b)/2)^2 + g^2)``. Let ``lambda_min``
and ``lambda_max`` be the smallest and largest of them over all pairs.

Scale convention
----------------
Real data are not unit-scaled, and recovering a permutation does not depend on the units of the
data. Multiplying the data by ``c`` multiplies every Gram eigenvalue by ``c^2``, so
``delta(c) = max(c^2 lambda_max - 1, 1 - c^2 lambda_min)``. The default ``scale="optimal"`` uses
the ``c`` that minimises it, ``c^2 = 2 / (lambda_max + lambda_min)``, giving

    ``delta = (lambda_max - lambda_min) / (lambda_max + lambda_min)``,

which is invariant to the units of the data. The Lipschitz rate must then be expressed in the same
rescaled units (``c L``), and the critical gap becomes

    ``Delta = sqrt((1 - delta) / (2 n c^2 L^2)) = sqrt(lambda_min / (2 n)) / L``

in the data's own units: unchanged when the data (and so ``L``) are multiplied by a constant, and
the largest critical gap that any rescaling of the data gives (each rescaling is an equally valid
application of the theorem). ``scale=1.0`` takes the data as they are (the paper's literal
convention, meaningful when the cells have roughly unit norm).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from trackability._progress import progress_bar
from trackability._validation import check_array, check_positive, check_random_state

#: Above this many cell pairs, :func:`rip` evaluates a random sample of ``max_pairs`` pairs.
DEFAULT_MAX_PAIRS = 100_000_000


@dataclass(frozen=True)
class RIPResult:
    """The restricted-isometry constant and what it was computed from.

    Attributes
    ----------
    delta
        The RIP constant under the chosen scale (``>= 1`` means the restricted isometry fails).
    k
        Sparsity level (1 or 2).
    scale
        The factor ``c`` the data were multiplied by (``delta`` describes ``c * x0``).
    lambda_min, lambda_max
        Smallest and largest eigenvalue of the pair Gram matrices (of ``|x_i|^2`` for k = 1), in
        the data's own (unscaled) squared units.
    worst_pair
        The pair of cells (row indices) attaining ``lambda_min``: the two cells closest to being
        linearly dependent.
    n_cells, n_pairs_total, n_pairs_evaluated
        Cells, all pairs ``n (n - 1) / 2`` and pairs actually evaluated.
    sampled
        True when only a random sample of pairs was evaluated. The result is then a lower bound
        on the exact ``delta`` (an upper bound on ``lambda_min``): optimistic.
    centered
        Whether the cells were centred on their mean first.

    """

    delta: float
    k: int
    scale: float
    lambda_min: float
    lambda_max: float
    worst_pair: tuple[int, int]
    n_cells: int
    n_pairs_total: int
    n_pairs_evaluated: int
    sampled: bool
    centered: bool

    @property
    def holds(self) -> bool:
        """Whether the restricted isometry holds (``delta < 1``)."""
        return self.delta < 1.0

    def __float__(self) -> float:
        return float(self.delta)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form."""
        out = asdict(self)
        out["worst_pair"] = list(self.worst_pair)
        return out


#: With ``block_size=None``, blocks hold about this many pairs (32 MiB per float64 array).
BLOCK_ENTRIES = 4_000_000


def _block_rows(block_size: int | None, n: int) -> int:
    if block_size is None:
        return int(max(16, min(1024, BLOCK_ENTRIES // max(n, 1))))
    return int(block_size)


def pair_gram_eigenvalues(
    a: np.ndarray, b: np.ndarray, g: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues ``(lambda_min, lambda_max)`` of 2x2 Gram matrices ``[[a, g], [g, b]]``.

    Vectorised closed form. ``lambda_min`` is computed as ``det / lambda_max`` (with the
    determinant ``a b - g^2`` clipped at 0), which keeps it accurate when it is tiny.
    """
    half_sum = 0.5 * (a + b)
    root = np.sqrt((0.5 * (a - b)) ** 2 + g * g)
    lmax = half_sum + root
    det = np.maximum(a * b - g * g, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lmin = np.where(lmax > 0, det / np.where(lmax > 0, lmax, 1.0), 0.0)
    return lmin, lmax


def _delta_for_scale(lmin: float, lmax: float, scale: float | str) -> tuple[float, float]:
    if scale == "optimal":
        total = lmax + lmin
        if total <= 0:  # every cell is zero
            return 1.0, 1.0
        c = float(np.sqrt(2.0 / total))
        return float((lmax - lmin) / total), c
    c = float(scale)
    return float(max(c * c * lmax - 1.0, 1.0 - c * c * lmin)), c


def _check_scale(scale: Any) -> float | str:
    if isinstance(scale, str):
        if scale != "optimal":
            raise ValueError(f"scale must be 'optimal' or a positive number; got {scale!r}.")
        return scale
    return check_positive(scale, "scale")


def rip(
    x0: Any,
    k: int = 2,
    *,
    scale: float | str = "optimal",
    center: bool = False,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    block_size: int | None = None,
    random_state: Any = 0,
    progress: bool | None = None,
) -> RIPResult:
    """The (k, delta) restricted-isometry constant of the cells in ``x0``, with its details.

    Parameters
    ----------
    x0
        Control cells, shape (n_cells, n_features), cells as rows.
    k
        Sparsity: 2 (pairs of cells, the theory's condition) or 1 (single cells). Larger k is
        NP-hard to compute exactly and is refused.
    scale
        ``"optimal"`` (default): the rescaling that minimises delta, which makes delta and the
        critical gap invariant to the units of the data (see the module notes). A number: multiply
        the data by it (``1.0``: take them as they are).
    center
        Subtract the mean cell first. The theory's linear maps act on the raw coordinates, so the
        default is False; centring is appropriate when the map has an intercept.
    max_pairs
        Exact computation over all ``n (n - 1) / 2`` pairs up to this many; above it a seeded
        uniform random sample of ``max_pairs`` pairs (reported in the result, an optimistic
        estimate).
    block_size
        Rows per block: memory is ``O(block_size * n)``, time ``O(n^2 d)``. None: about
        :data:`BLOCK_ENTRIES` pairs per block (at most 1024 rows).
    random_state
        Seed for the pair sample (used only above ``max_pairs``).
    progress
        Progress bar over blocks (None: follow ``TRACKABILITY_PROGRESS``).

    Returns
    -------
    RIPResult

    Examples
    --------
    >>> import numpy as np
    >>> rip(np.eye(3)).delta  # orthonormal cells: an exact isometry
    0.0

    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}.")
    if k > 2:
        raise ValueError(
            f"k={k}: the restricted-isometry constant is computed exactly only for k = 1 or 2 (k > 2 "
            "is NP-hard); the theory needs k = 2."
        )
    sc = _check_scale(scale)
    x = check_array(x0, "x0", min_samples=k)
    if not isinstance(max_pairs, int | np.integer) or max_pairs < 1:
        raise ValueError(f"max_pairs must be a positive integer; got {max_pairs!r}.")
    if block_size is not None and (not isinstance(block_size, int | np.integer) or block_size < 1):
        raise ValueError(f"block_size must be a positive integer or None; got {block_size!r}.")
    if center:
        x = x - x.mean(axis=0)
    n = x.shape[0]
    sq = np.einsum("ij,ij->i", x, x)
    n_pairs = n * (n - 1) // 2

    if k == 1:
        lmin, lmax = float(sq.min()), float(sq.max())
        i = int(sq.argmin())
        delta, c = _delta_for_scale(lmin, lmax, sc)
        return RIPResult(delta, 1, c, lmin, lmax, (i, i), n, n, n, False, bool(center))

    best_min, best_max, worst = np.inf, -np.inf, (0, 1)
    if n_pairs <= max_pairs:
        block = _block_rows(block_size, n)
        starts = range(0, n - 1, block)
        for s in progress_bar(starts, total=len(starts), desc="RIP pairs", progress=progress):
            e = min(s + block, n - 1)
            # rows s..e-1 against columns s+1..n-1; entry (r, c) is the pair (s + r, s + 1 + c),
            # a real pair (j > i) unless c < r, which only happens in the leading b x b square
            g = x[s:e] @ x[s + 1 :].T
            lmin, lmax = pair_gram_eigenvalues(sq[s:e, None], sq[None, s + 1 :], g)
            below = np.tril_indices(e - s, k=-1)
            lmin[below] = np.inf
            lmax[below] = -np.inf
            flat = int(np.argmin(lmin))
            if lmin.flat[flat] < best_min:
                best_min = float(lmin.flat[flat])
                r, cc = divmod(flat, lmin.shape[1])
                worst = (s + r, s + 1 + cc)
            best_max = max(best_max, float(lmax.max()))
        evaluated, sampled = n_pairs, False
    else:
        rng = check_random_state(random_state)
        m = int(max_pairs)
        step = max(1, min(m, 1_000_000))
        evaluated = 0
        for s in progress_bar(range(0, m, step), desc="RIP pair sample", progress=progress):
            cnt = min(step, m - s)
            i = rng.integers(0, n, size=cnt)
            j = rng.integers(0, n - 1, size=cnt)
            j = j + (j >= i)  # uniform over j != i
            g = np.einsum("ij,ij->i", x[i], x[j])
            lmin, lmax = pair_gram_eigenvalues(sq[i], sq[j], g)
            a = int(np.argmin(lmin))
            if lmin[a] < best_min:
                best_min = float(lmin[a])
                worst = (int(min(i[a], j[a])), int(max(i[a], j[a])))
            best_max = max(best_max, float(lmax.max()))
            evaluated += cnt
        sampled = True
    delta, c = _delta_for_scale(best_min, best_max, sc)
    return RIPResult(
        delta, 2, c, best_min, best_max, worst, n, n_pairs, evaluated, sampled, bool(center)
    )


def rip_constant(x0: Any, k: int = 2, **kwargs: Any) -> float:
    """The (k, delta) restricted-isometry constant of the cells in ``x0`` (cells as rows).

    A float; see :func:`rip` for the options (scale convention, centring, sampling above a
    size limit) and for a result that also carries the eigenvalues and the worst pair.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [1.0, 1.0]])  # Gram eigenvalues (3 -+ sqrt(5)) / 2
    >>> round(rip_constant(x), 4)  # (lmax - lmin) / (lmax + lmin) = sqrt(5) / 3
    0.7454

    """
    return rip(x0, k, **kwargs).delta


@dataclass(frozen=True)
class Separation:
    """The smallest distance between two control cells (the pair that is hardest to tell apart)."""

    distance: float
    pair: tuple[int, int]
    n_pairs_evaluated: int
    sampled: bool


def min_separation(
    x0: Any,
    *,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    block_size: int | None = None,
    random_state: Any = 0,
) -> Separation:
    """Smallest Euclidean distance between two cells of ``x0`` (blocked, exact up to ``max_pairs``).

    If every cell moves by at most ``eps`` and ``eps`` is below half of this distance, the optimal
    assignment (squared or plain Euclidean cost) between the cells and their moved copies is the
    true correspondence: a sufficient condition, sharper than the restricted-isometry bound.
    Above ``max_pairs`` pairs a seeded random sample of pairs is used (optimistic: an upper bound).
    """
    from trackability.matching.costs import squared_distances

    x = check_array(x0, "x0", min_samples=2)
    n = x.shape[0]
    n_pairs = n * (n - 1) // 2
    best, pair = np.inf, (0, 1)
    if n_pairs <= max_pairs:
        block = _block_rows(block_size, n)
        for s in range(0, n - 1, block):
            e = min(s + block, n - 1)
            d2 = squared_distances(x[s:e], x[s + 1 :])
            d2[np.tril_indices(e - s, k=-1)] = np.inf
            flat = int(np.argmin(d2))
            if d2.flat[flat] < best:
                best = float(d2.flat[flat])
                r, c = divmod(flat, d2.shape[1])
                pair = (s + r, s + 1 + c)
        return Separation(float(np.sqrt(best)), pair, n_pairs, False)
    rng = check_random_state(random_state)
    m = int(max_pairs)
    for s in range(0, m, 1_000_000):
        cnt = min(1_000_000, m - s)
        i = rng.integers(0, n, size=cnt)
        j = rng.integers(0, n - 1, size=cnt)
        j = j + (j >= i)
        diff = x[i] - x[j]
        d2 = np.einsum("ij,ij->i", diff, diff)
        a = int(np.argmin(d2))
        if d2[a] < best:
            best = float(d2[a])
            pair = (int(min(i[a], j[a])), int(max(i[a], j[a])))
    return Separation(float(np.sqrt(best)), pair, m, True)
