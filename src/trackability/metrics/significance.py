"""Tests of a prediction against the truth, and of a method against a baseline over seeds.

- :func:`energy_test`: a permutation test of "the predicted cells and the observed cells come from
  the same distribution", with the energy distance as statistic (scPerturb's E-test). A large
  p-value means the prediction is indistinguishable from the truth at this sample size.
- :func:`paired_test`: over seeds, does a method beat the baseline? A one-sided Wilcoxon
  signed-rank test and a paired t-test on the per-seed differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trackability._validation import check_bool, check_int, check_pair, check_random_state
from trackability.metrics._scale import pow2_exponent, rescale

#: Largest pooled sample the permutation test builds its distance matrix for (8 * N^2 bytes).
MAX_ETEST_CELLS = 8000


@dataclass(frozen=True)
class ETestResult:
    """Outcome of :func:`energy_test`.

    Attributes
    ----------
    statistic
        The energy distance of the two samples (as :func:`~trackability.metrics.energy_distance`).
    p_value
        ``(1 + #{permuted >= observed}) / (1 + n_permutations)``.
    n_permutations
        Random relabellings drawn.

    """

    statistic: float
    p_value: float
    n_permutations: int


def energy_test(
    x: Any, y: Any, *, n_permutations: int = 1000, random_state: Any = None, batch: int = 64
) -> ETestResult:
    """Permutation test of equal distributions with the energy distance (scPerturb's E-test).

    The pooled distance matrix is built once; each relabelling then costs one matrix-vector
    product (``batch`` of them at a time as one matrix product), so 1000 permutations of 2 x 1000
    cells take about a second.

    Parameters
    ----------
    x, y
        Samples (m, d) and (n, d), e.g. predicted and observed treated cells.
    n_permutations
        Random relabellings of the pooled cells (at least 1).
    random_state
        Seed of the relabellings.
    batch
        Relabellings per matrix product (memory ``O(batch * (m + n))``).

    Returns
    -------
    ETestResult

    """
    n_permutations = check_int(n_permutations, "n_permutations", minimum=1)
    batch = check_int(batch, "batch", minimum=1)
    xa, ya = check_pair(x, y, source_name="x", target_name="y")
    m, n = xa.shape[0], ya.shape[0]
    if m + n > MAX_ETEST_CELLS:
        raise ValueError(
            f"energy_test on {m} + {n} cells needs a {m + n} x {m + n} distance matrix (limit "
            f"{MAX_ETEST_CELLS} cells); subsample both samples first."
        )
    from scipy.spatial.distance import cdist

    rng = check_random_state(random_state)
    pool = np.concatenate(rescale(pow2_exponent(xa, ya), xa, ya))  # exact; p is scale-free
    dist = cdist(pool, pool)
    total = dist.sum()
    rows = dist.sum(axis=1)

    def stat(labels: np.ndarray) -> np.ndarray:
        """Energy distance for each column of a 0/1 matrix (1: the cell is in the x sample)."""
        da = dist @ labels
        sxx = np.einsum("ij,ij->j", labels, da)
        sxy = rows @ labels - sxx
        syy = total - sxx - 2.0 * sxy
        return 2.0 * sxy / (m * n) - sxx / m**2 - syy / n**2

    first = np.zeros((m + n, 1))
    first[:m] = 1.0
    observed = float(stat(first)[0])
    exceed = 0
    done = 0
    while done < n_permutations:
        b = min(batch, n_permutations - done)
        labels = np.zeros((m + n, b))
        for j in range(b):
            labels[rng.permutation(m + n)[:m], j] = 1.0
        # a relative tolerance: permutations that reproduce the observed split exactly count
        exceed += int(np.sum(stat(labels) >= observed - 1e-12 * abs(observed)))
        done += b
    scale = 2.0 ** pow2_exponent(xa, ya)
    return ETestResult(max(observed, 0.0) * scale, (1 + exceed) / (1 + n_permutations),
                       n_permutations)


@dataclass(frozen=True)
class PairedTest:
    """Outcome of :func:`paired_test` (method vs baseline over seeds).

    Attributes
    ----------
    n
        Seeds with both values.
    mean_improvement
        Mean over seeds of the improvement (baseline - method when lower is better, method -
        baseline otherwise): positive when the method is better.
    wilcoxon_p
        One-sided Wilcoxon signed-rank p-value of "the method is better" (exact for small n; NaN
        with fewer than 2 seeds or when every difference is 0).
    ttest_p
        One-sided paired t-test p-value of the same (NaN when undefined).

    """

    n: int
    mean_improvement: float
    wilcoxon_p: float
    ttest_p: float


def paired_test(method: Any, baseline: Any, *, higher_is_better: bool) -> PairedTest:
    """One-sided paired tests over seeds of "the method scores better than the baseline".

    Parameters
    ----------
    method, baseline
        Per-seed values of one metric, in the same seed order (NaN pairs are dropped).
    higher_is_better
        The metric's direction (see :mod:`trackability.metrics.registry`).

    """
    higher_is_better = check_bool(higher_is_better, "higher_is_better")
    u = np.asarray(method, dtype=np.float64).ravel()
    b = np.asarray(baseline, dtype=np.float64).ravel()
    if u.shape != b.shape:
        raise ValueError(f"method has {u.size} values but baseline has {b.size}; pair them by seed.")
    keep = np.isfinite(u) & np.isfinite(b)
    diff = (u - b)[keep] if higher_is_better else (b - u)[keep]
    nan = float("nan")
    if diff.size == 0:
        return PairedTest(0, nan, nan, nan)
    if diff.size < 2 or not np.any(diff != 0):
        return PairedTest(int(diff.size), float(diff.mean()), nan, nan)
    import scipy.stats

    w = float(scipy.stats.wilcoxon(diff, alternative="greater").pvalue)
    t = float(scipy.stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue) if np.ptp(
        diff) > 0 else (0.0 if diff[0] > 0 else 1.0)
    return PairedTest(int(diff.size), float(diff.mean()), w, t)
