"""benchmarks/diagnostics_recoverability.py: where the measured recovery crosses a level."""

from __future__ import annotations

import math

from _scripts import load_benchmark


def test_cross_interpolates_log_linearly_and_marks_censored_points():
    cross = load_benchmark("diagnostics_recoverability")._cross
    sizes = [2, 4, 8]
    # 0.8 at 2 cells, 0.4 at 4: 0.5 lies 3/4 of the way in log size -> 2 * 2**0.75
    assert math.isclose(cross(sizes, [0.8, 0.4, 0.1], 0.5), 2 * 2 ** 0.75, rel_tol=1e-12)
    assert cross(sizes, [0.9, 0.8, 0.7], 0.5) == math.inf  # never below in the sizes measured
    assert math.isnan(cross(sizes, [0.3, 0.2, 0.1], 0.5))  # below already at 2 cells: censored


def test_ratio_leaves_censored_points_out_and_counts_a_finite_miss():
    ratio = load_benchmark("diagnostics_recoverability")._ratio
    assert ratio(6.0, 3.0) == 2.0
    assert math.isnan(ratio(6.0, math.nan))  # measured crossing below the smallest group
    assert math.isnan(ratio(math.inf, 3.0))  # no predicted crossing: no ratio
    assert ratio(6.0, math.inf) == 0.0  # measured never crosses, predicted does: a miss, not censored
