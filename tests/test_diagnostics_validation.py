"""The theorem on synthetic data, and the diagnostics on the real data sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trackability.data.synthetic import near_identity, seed_faithful
from trackability.diagnostics import critical_gap, diagnose, min_separation, rip
from trackability.experiments.phase_transition import ORIGINAL_LAOT
from trackability.matching import assign
from trackability.metrics import recovery_rate
from trackability.models import LAOT

SACHS_MARKERS = ["praf", "pmek", "plcg", "PIP2", "PIP3", "p44/42", "pakts473", "PKA", "PKC", "P38",
                 "pjnk"]
COLO_MARKERS = ["FRA1", "MITF", "NGFR", "SOX10", "AXL", "cJUN"]


@pytest.mark.parametrize("generator", ["seed_faithful", "centered"])
@pytest.mark.parametrize("d", [10, 40])
def test_laot_recovers_exactly_below_the_computed_critical_gap(generator, d):
    """The theorem: noiseless data, t < Delta (and t < the separation bound) -> exact recovery."""
    params = dict(ORIGINAL_LAOT) if generator == "seed_faithful" else {}
    for trial in range(4):
        base = (seed_faithful(d, 0, trial) if generator == "seed_faithful"
                else near_identity(100, d, 0.0, random_state=trial))
        x, e, perm = base.control, base.E, base.permutation
        r = rip(x, progress=False)
        lip = base.lipschitz_rate
        big = critical_gap(r.delta, 100, lip, scale=r.scale)
        sep = min_separation(x).distance / (2 * lip)
        assert big < sep  # the theory's bound is the more conservative one
        for t in (0.99 * big, 0.99 * sep):
            y = (x @ (np.eye(d) + t * e))[perm]
            first = assign(x, y, cost=params.get("cost", "sqeuclidean"))
            assert np.array_equal(first.source_of(100), perm)
            model = LAOT(**params).fit(x, y)
            assert recovery_rate(perm, model.matching_) == 1.0


def _batched_pair_eigs(x: np.ndarray) -> tuple[float, float]:
    """All pairs' 2x2 Gram eigenvalues with numpy's batched symmetric solver."""
    i, j = np.triu_indices(x.shape[0], k=1)
    g = np.empty((i.size, 2, 2))
    g[:, 0, 0] = np.einsum("ij,ij->i", x[i], x[i])
    g[:, 1, 1] = np.einsum("ij,ij->i", x[j], x[j])
    g[:, 0, 1] = g[:, 1, 0] = np.einsum("ij,ij->i", x[i], x[j])
    ev = np.linalg.eigvalsh(g)
    return float(ev[:, 0].min()), float(ev[:, 1].max())


@pytest.fixture(scope="module")
def sachs(real_data_dir):
    df = pd.read_csv(real_data_dir / "sachs2005" / "sachs2005_tidy.csv")
    return np.log(df[SACHS_MARKERS].to_numpy(float)), df["condition_id"].to_numpy(int)


def test_sachs_controls_delta_against_brute_force(sachs):
    x, cid = sachs
    for c, n in ((1, 853), (2, 902)):
        x0 = x[cid == c]
        assert x0.shape == (n, 11)
        lo, hi = _batched_pair_eigs(x0)
        r = rip(x0, progress=False)
        assert r.lambda_min == pytest.approx(lo, rel=1e-6)
        assert r.lambda_max == pytest.approx(hi, rel=1e-12)
        # log-fluorescence cells sit far from the origin: nearly parallel, delta close to 1
        assert 0.999 < r.delta < 1.0


def test_sachs_inhibitor_untrackable(sachs):
    x, cid = sachs
    rep = diagnose(x[cid == 1], x[cid == 6], 1.0, n_boot=20, progress=False, recoverability=False)
    assert rep.regime == "untrackable" and rep.ratio > 100
    assert "one treated cell per control cell" in rep.contradicted  # 853 vs 799 cells
    # the critical displacement sqrt(lambda_min / 2n) is what Delta * L must equal
    assert rep.Delta * rep.L == pytest.approx(np.sqrt(rep.lambda_min / (2 * 853)), rel=1e-9)


def test_colo858_well_delta_against_brute_force(real_data_dir):
    df = pd.read_csv(real_data_dir / "colo858_4i" / "colo858_4i_baseline.csv")
    assert len(df) == 5708
    x0 = np.log(df.loc[df["well"] == "B2", COLO_MARKERS].to_numpy(float))
    lo, hi = _batched_pair_eigs(x0)
    r = rip(x0, progress=False)
    assert r.lambda_min == pytest.approx(lo, rel=1e-5)
    assert r.lambda_max == pytest.approx(hi, rel=1e-12)
    assert r.holds and r.delta > 0.999
