"""estimate_recoverability_course: a time course fitted step by step and composed as a Markov chain."""

from __future__ import annotations

import numpy as np
import pytest

from trackability.diagnostics import estimate_recoverability_course
from trackability.diagnostics.recoverability import _partner


def _chain(n: int, d: int, maps: list[np.ndarray], shift: float, noise: float, seed: int):
    """Cells moved step by step: x_{k+1} = x_k W_k + shift + noise * z (true partners: same row)."""
    rng = np.random.default_rng(seed)
    x0 = np.concatenate([rng.normal(c, 0.5, (n // 3, d)) for c in (-1.5, 0.0, 1.5)])
    pts = [x0]
    for w in maps:
        pts.append(pts[-1] @ w + shift + noise * rng.standard_normal((x0.shape[0], d)))
    return pts


def _shuffled(pts, seed: int):
    rng = np.random.default_rng(seed)
    return [p[rng.permutation(p.shape[0])] for p in pts]


def test_noise_free_chain_composes_the_step_maps_exactly():
    rng = np.random.default_rng(3)
    maps = [np.eye(3) + 0.2 * rng.standard_normal((3, 3)) for _ in range(3)]
    pts = _chain(90, 3, maps, 0.3, 0.0, seed=0)
    est = estimate_recoverability_course(_shuffled(pts, 1), [0, 2, 5, 6], n_sim=2,
                                         cell_confidence=False, find_gap=False, random_state=0)
    # the independent computation: the product of the true maps and the propagated shift
    w_true = maps[0] @ maps[1] @ maps[2]
    b_true = ((np.full(3, 0.3) @ maps[1] + 0.3) @ maps[2]) + 0.3
    np.testing.assert_allclose(est.W, w_true, atol=1e-8)
    np.testing.assert_allclose(est.b, b_true, atol=1e-8)
    assert est.gap == 6.0 and est.growth == "composed"
    assert [(s["from"], s["to"]) for s in est.steps] == [(0.0, 2.0), (2.0, 5.0), (5.0, 6.0)]
    assert max(s["noise_scale"] for s in est.steps) < 1e-6
    assert est.recovery == 1.0


def test_noise_of_each_step_is_carried_through_the_later_maps():
    # maps that stretch: noise added early grows; without propagation the composed RMS would be
    # sqrt(3 steps * 2 features) * sigma instead of the Monte Carlo value below (2.6 times that)
    maps = [2.0 * np.eye(2)] * 3
    sigma = 0.05
    pts = _chain(300, 2, maps, 0.0, sigma, seed=2)
    est = estimate_recoverability_course(_shuffled(pts, 3), [0, 1, 2, 3], n_sim=2,
                                         cell_confidence=False, find_gap=False, random_state=0)
    # Monte Carlo of the true chain: the RMS displacement not explained by the composed map
    rng = np.random.default_rng(9)
    e = np.zeros((200_000, 2))
    for w in maps:
        e = e @ w + sigma * rng.standard_normal(e.shape)
    rms_true = float(np.sqrt(np.mean(np.sum(e**2, axis=1))))
    assert rms_true > 2 * np.sqrt(3 * 2) * sigma  # propagation matters here
    assert est.noise_scale == pytest.approx(rms_true, rel=0.15)


def test_predicted_recovery_close_to_measured_along_a_planted_chain():
    rng = np.random.default_rng(0)
    maps = [np.eye(3) + 0.05 * rng.standard_normal((3, 3)) for _ in range(4)]
    pts = _chain(300, 3, maps, 0.02, 0.08, seed=0)
    course = _shuffled(pts, 1)
    recs = []
    for stop in range(1, 5):
        measured = float(np.mean(_partner(pts[0], pts[stop]) == np.arange(300)))
        est = estimate_recoverability_course(course, np.arange(5.0), stop=stop, n_sim=4,
                                             cell_confidence=False, find_gap=False, random_state=1)
        assert abs(est.recovery - measured) < 0.10, (stop, est.recovery, measured)
        recs.append(est.recovery)
    assert recs == sorted(recs, reverse=True) and recs[0] - recs[-1] > 0.2


def test_gap_at_level_interpolates_between_the_course_time_points():
    rng = np.random.default_rng(0)
    maps = [np.eye(3) + 0.05 * rng.standard_normal((3, 3)) for _ in range(4)]
    pts = _chain(300, 3, maps, 0.02, 0.08, seed=0)
    est = estimate_recoverability_course(_shuffled(pts, 1), np.arange(5.0), n_cells=300, n_sim=4,
                                         cell_confidence=False, level=0.7, random_state=1)
    # recovery falls through 0.7 between the 2nd and the 3rd step (planted chain measured above)
    assert 1.5 < est.gap_at_level < 3.5
    high = estimate_recoverability_course(_shuffled(pts, 1), np.arange(5.0), n_cells=300, n_sim=4,
                                          cell_confidence=False, level=0.05, random_state=1)
    assert high.gap_at_level == float("inf")  # never that low within the course: no extrapolation


def test_same_seed_same_estimate_and_per_cell_confidence_is_given():
    pts = _chain(60, 2, [np.eye(2)] * 2, 0.0, 0.1, seed=4)
    course = _shuffled(pts, 5)
    a = estimate_recoverability_course(course, [0, 1, 2], n_sim=2, find_gap=False, random_state=7)
    b = estimate_recoverability_course(course, [0, 1, 2], n_sim=2, find_gap=False, random_state=7)
    assert a.to_dict(cells=True) == b.to_dict(cells=True)
    assert a.cell_confidence.shape == (60,) and np.all((a.cell_confidence >= 0) & (a.cell_confidence <= 1))


@pytest.mark.parametrize(
    ("populations", "times", "kwargs", "match"),
    [
        ("one", [0], {}, "at least 2 time points"),
        ("array", [0, 1], {}, "sequence of arrays"),
        ("dims", [0, 1], {}, "same number of features"),
        ("ok", [0, 1, 2], {}, "one entry per population"),
        ("ok3", [0, 2, 1], {}, "strictly increasing"),
        ("ok3", [0, 1, np.nan], {}, "strictly increasing"),
        ("ok3", [0, 1, 2], {"start": 2, "stop": 1}, "start must come before stop"),
        ("ok3", [0, 1, 2], {"stop": 3}, "stop must be an index"),
        ("ok3", [0, 1, 2], {"map": "spline"}, "map"),
        ("ok3", [0, 1, 2], {"level": 1.0}, "level"),
        ("ok3", [0, 1, 2], {"n_cells": 500}, "n_cells"),
        ("nan", [0, 1], {}, r"populations\[1\]"),
    ],
)
def test_bad_course_input_names_the_argument(populations, times, kwargs, match):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2))
    pops = {"one": [x], "array": x, "dims": [x, rng.normal(size=(20, 3))], "ok": [x, x + 0.1],
            "ok3": [x, x + 0.1, x + 0.2], "nan": [x, np.where(x > 1, np.nan, x)]}[populations]
    with pytest.raises(ValueError, match=match):
        estimate_recoverability_course(pops, times, n_sim=2, cell_confidence=False, find_gap=False,
                                       **kwargs)
