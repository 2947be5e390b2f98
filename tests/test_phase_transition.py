"""The phase-transition sweep: the original reference values, seed convention, backends, seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trackability.data.synthetic import ORIGINAL_GAPS, near_identity, seed_faithful
from trackability.experiments import ORIGINAL_LAOT, phase_transition
from trackability.models import LAOT

#: Recovery rates of the original run (50 trials, n = 100), to 3 decimals.
REFERENCE = {
    100: {**{g: 1.000 for g in (0, 1, 2, 5, 8, 10, 15, 20, 25, 30, 40)},
          50: 0.999, 100: 0.484, 150: 0.232, 200: 0.149},
    10: {**{g: 1.000 for g in (0, 1, 2, 5, 8, 10)}, 15: 0.927, 20: 0.786},
}


@pytest.fixture(scope="module")
def reference_table() -> pd.DataFrame:
    parts = [
        phase_transition(dims=[d], gaps=list(ref), trials=50, n=100, seed_faithful=True,
                         backend="serial", progress=False)
        for d, ref in REFERENCE.items()
    ]
    return pd.concat(parts, ignore_index=True)


@pytest.mark.slow
def test_seed_faithful_reproduces_original_values(reference_table):
    got = {(int(r.d), float(r.gap)): r.recovery for r in reference_table.itertuples()}
    for d, ref in REFERENCE.items():
        for gap, want in ref.items():
            assert round(got[(d, float(gap))], 3) == pytest.approx(want, abs=1e-12), (d, gap)
    assert set(reference_table["trials"]) == {50}
    assert set(reference_table["n"]) == {100}
    assert set(reference_table["generator"]) == {"seed_faithful"}


@pytest.mark.slow
def test_subsets_of_the_grid_give_the_same_numbers(reference_table):
    """Seeds use positions in the ORIGINAL lists, so a subset (in any order) changes nothing."""
    sub = phase_transition(dims=[10], gaps=[20, 2, 15], trials=50, seed_faithful=True,
                           backend="serial", progress=False)
    assert sub["gap"].tolist() == [20.0, 2.0, 15.0]  # rows follow the requested order
    full = reference_table.set_index(["d", "gap"])
    for r in sub.itertuples():
        assert r.recovery == full.loc[(r.d, r.gap), "recovery"]
        assert r.exact_fraction == full.loc[(r.d, r.gap), "exact_fraction"]


def test_table_columns_and_statistics_match_a_manual_loop():
    """Per-trial recovery recomputed by hand (fit LAOT with the original settings, compare)."""
    d, gap, trials = 10, 15, 8
    table = phase_transition(dims=[d], gaps=[gap], trials=trials, seed_faithful=True,
                             backend="serial", progress=False)
    assert list(table.columns) == ["d", "gap", "recovery", "recovery_sd", "exact_fraction",
                                   "trials", "n", "generator"]
    rec = []
    for t in range(trials):
        pair = seed_faithful(d, gap, t)
        model = LAOT(**ORIGINAL_LAOT).fit(pair.control, pair.treated)
        rec.append(np.mean(model.matching_.source_of(100) == pair.permutation))
    rec = np.array(rec)
    row = table.iloc[0]
    assert row["recovery"] == pytest.approx(rec.mean(), abs=1e-12)
    assert row["recovery_sd"] == pytest.approx(rec.std(ddof=1), abs=1e-12)
    assert row["exact_fraction"] == pytest.approx(np.mean(rec == 1.0))
    assert 0 < row["exact_fraction"] < 1  # a point with both outcomes, so the check means something
    assert ORIGINAL_LAOT == {"max_iter": 10, "cost": "euclidean", "fit_intercept": False,
                             "alpha": 0.0}


@pytest.mark.parametrize("seed_faithful_mode", [True, False])
def test_serial_and_joblib_backends_identical(seed_faithful_mode):
    kwargs = dict(dims=[10, 20], gaps=[10, 15, 20], trials=4, seed_faithful=seed_faithful_mode,
                  random_state=3, progress=False)
    serial = phase_transition(backend="serial", **kwargs)
    parallel = phase_transition(backend="joblib", n_jobs=2, **kwargs)
    pd.testing.assert_frame_equal(serial, parallel)
    assert serial["recovery"].nunique() > 1  # not a degenerate table


def test_centred_generator_reproducible_under_random_state():
    kwargs = dict(dims=[5], gaps=[1, 4, 8], trials=4, n=40, backend="serial", progress=False)
    a = phase_transition(random_state=11, **kwargs)
    b = phase_transition(random_state=11, **kwargs)
    c = phase_transition(random_state=12, **kwargs)
    pd.testing.assert_frame_equal(a, b)
    assert not np.array_equal(a["recovery"], c["recovery"])
    assert set(a["generator"]) == {"centered"}
    assert a["recovery"].iloc[0] == 1.0  # gap 1 in d = 5 is trackable
    # the seeds are spawned from random_state, one per (d, gap, trial): recompute one point
    seeds = np.random.default_rng(11).integers(0, 2**31 - 1, size=(1, 3, 4))
    rec = [np.mean(LAOT().fit(p.control, p.treated).matching_.source_of(40) == p.permutation)
           for p in (near_identity(40, 5, 8.0, random_state=int(s)) for s in seeds[0, 2])]
    assert a["recovery"].iloc[2] == pytest.approx(np.mean(rec), abs=1e-12)


def test_recovery_falls_with_gap_in_centred_mode():
    table = phase_transition(dims=[10], gaps=[0.5, 40], trials=3, n=50, random_state=0,
                             backend="serial", progress=False)
    assert table["recovery"].iloc[0] == 1.0
    assert table["recovery"].iloc[1] < 0.5


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [({"dims": []}, "dims and gaps must be non-empty"),
     ({"gaps": []}, "dims and gaps must be non-empty"),
     ({"trials": 0}, "trials must be a positive integer"),
     ({"trials": 2.5}, "trials must be a positive integer"),
     ({"dims": [15], "seed_faithful": True}, "d=15 is not in the original grid"),
     ({"gaps": [3], "seed_faithful": True}, "gap=3.0 is not in the original grid"),
     ({"backend": "spark"}, "backend must be one of"),
     ({"dims": [10.7], "seed_faithful": True}, "dims must be positive integers"),  # not d = 10
     ({"dims": [0]}, "dims must be positive integers"),
     ({"gaps": [-1.0]}, "gap must be a finite non-negative")],
)
def test_bad_arguments(kwargs, msg):
    args = {"dims": [10], "gaps": [1], "trials": 1, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=msg):
        phase_transition(**args)


def test_original_gap_grid_is_the_published_one():
    assert list(ORIGINAL_GAPS) == [0, 1, 2, 5, 8, 10, 15, 20, 25, 30, 40, 50, 100, 150, 200]
