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


def test_diagnose_with_intermediate_time_points_uses_the_composed_estimate():
    from trackability.diagnostics import diagnose

    rng = np.random.default_rng(0)
    maps = [np.eye(3) + 0.05 * rng.standard_normal((3, 3)) for _ in range(4)]
    true = _chain(150, 3, maps, 0.02, 0.08, seed=0)
    pts = _shuffled(true, 1)
    between = [(1.0, pts[1]), (2.0, pts[2]), (3.0, pts[3])]
    rep = diagnose(pts[0], pts[4], 4.0, n_boot=0, recoverability=True, intermediate=between,
                   random_state=0, time_unit="h")
    plain = diagnose(pts[0], pts[4], 4.0, n_boot=0, random_state=0, recoverability=True)
    rec = rep.recoverability
    assert rec["growth"] == "composed" and len(rec["steps"]) == 4
    assert [s["to"] for s in rec["steps"]] == [1.0, 2.0, 3.0, 4.0]
    assert (rep.Delta, rep.L, rep.delta) == (plain.Delta, plain.L, plain.delta)
    # the independent computation: the recovery of the exact matching of the true end points
    measured = float(np.mean(_partner(true[0], true[4]) == np.arange(150)))
    assert abs(rec["recovery"] - measured) < 0.10
    # here the two ends alone over-predict (0.82 against 0.69 measured): the course is closer
    assert abs(rec["recovery"] - measured) < abs(plain.recoverability["recovery"] - measured)
    assert "at 4 h about" in rep.verdict


@pytest.mark.parametrize(("between", "recov", "match"), [
    ([(1.0, np.zeros((10, 3)))], False, "recoverability=True"),
    (np.zeros((3, 3)), True, "sequence of"),
    ([(1.0,)], True, r"intermediate\[0\] must be a \(time, cells\) pair"),
    ([(5.0, np.zeros((10, 3)))], True, "between 0 and gap=4"),
    ([(2.0, np.zeros((10, 3))), (1.0, np.zeros((10, 3)))], True, r"intermediate\[1\] is at 1"),
    ([(1.0, np.zeros((10, 2)))], True, "2 features; x0 has 3"),
    ([(1.0, np.full((10, 3), np.nan))], True, "intermediate"),
    ([(-1.0, np.zeros((10, 3)))], True, "intermediate"),
])
def test_diagnose_intermediate_bad_input_names_the_argument(between, recov, match):
    from trackability.diagnostics import diagnose

    x = np.random.default_rng(0).standard_normal((20, 3))
    with pytest.raises(ValueError, match=match):
        diagnose(x, x + 0.1, 4.0, n_boot=0, recoverability=recov, intermediate=between)


def test_tl_diagnose_reads_intermediate_groups_and_records_them():
    anndata = pytest.importorskip("anndata")
    import pandas as pd

    from trackability import tl

    rng = np.random.default_rng(0)
    maps = [np.eye(3) + 0.05 * rng.standard_normal((3, 3)) for _ in range(2)]
    pts = _shuffled(_chain(120, 3, maps, 0.02, 0.08, seed=0), 1)
    adata = anndata.AnnData(np.concatenate(pts),
                            obs=pd.DataFrame({"time": np.repeat(["0h", "6h", "12h"], 120)},
                                             index=[str(i) for i in range(360)]))
    rep = tl.diagnose(adata, "time", "0h", "12h", 12.0, intermediate={"6h": 6.0}, n_boot=0,
                      recoverability=True, time_unit="h")
    assert [s["to"] for s in rep.recoverability["steps"]] == [6.0, 12.0]
    assert dict(adata.uns["trackability_diagnose"]["params"]["intermediate"]) == {"6h": 6.0}
    with pytest.raises(ValueError, match="intermediate='3h'"):
        tl.diagnose(adata, "time", "0h", "12h", 12.0, intermediate={"3h": 3.0}, n_boot=0,
                    recoverability=True)
    with pytest.raises(ValueError, match="intermediate must map groups"):
        tl.diagnose(adata, "time", "0h", "12h", 12.0, intermediate=["6h"], n_boot=0,
                    recoverability=True)
