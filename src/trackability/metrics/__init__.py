"""Metrics shared by every method (numpy only): the same code scores every benchmark row."""

from trackability.metrics.agreement import mean_pearson, mean_r2, recovery_rate
from trackability.metrics.distances import MAX_W2_PAIRS, energy_distance, wasserstein2
from trackability.metrics.mmd import CELLOT_GAMMAS, kernel_sum, median_heuristic_gamma, mmd2
from trackability.metrics.mmd_scale import MMDEstimate, mmd2_linear, mmd2_subsampled

__all__ = [
    "CELLOT_GAMMAS",
    "MAX_W2_PAIRS",
    "MMDEstimate",
    "energy_distance",
    "kernel_sum",
    "mean_pearson",
    "mean_r2",
    "median_heuristic_gamma",
    "mmd2",
    "mmd2_linear",
    "mmd2_subsampled",
    "recovery_rate",
    "wasserstein2",
]
