"""Synthetic generators: ground truth, seeds, and the draw-for-draw original experiment."""

from __future__ import annotations

import numpy as np
import pytest

from trackability.data.synthetic import (
    ORIGINAL_DIMS,
    ORIGINAL_GAPS,
    SyntheticPair,
    near_identity,
    original_seed,
    seed_faithful,
)


def ones_fraction(e: np.ndarray) -> float:
    """Share of |E|_F^2 along the all-ones matrix direction."""
    d = e.shape[0]
    return float(np.sum(e) ** 2 / d**2 / np.sum(e**2))


class TestNearIdentity:
    @pytest.mark.parametrize("centered", [True, False])
    def test_ground_truth_is_consistent(self, centered):
        p = near_identity(40, 7, 3.0, centered=centered, random_state=0)
        assert isinstance(p, SyntheticPair)
        assert p.control.shape == p.treated.shape == (40, 7)
        np.testing.assert_array_equal(np.sort(p.permutation), np.arange(40))
        np.testing.assert_allclose(p.W, np.eye(7) + 3.0 * p.E, rtol=0, atol=1e-15)
        assert np.linalg.norm(p.E) == pytest.approx(1.0, rel=1e-12)
        # treated row j is control row perm[j] mapped by x @ W (row-by-row, no matrix shortcut)
        for j in range(40):
            np.testing.assert_allclose(p.treated[j], p.W.T @ p.control[p.permutation[j]],
                                       rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(p.true_map(p.control)[p.permutation], p.treated, atol=1e-14)
        np.testing.assert_allclose(p.map_at(3.0, p.control), p.true_map(p.control), atol=1e-14)
        np.testing.assert_allclose(p.map_at(0.0, p.control), p.control, atol=0)
        assert p.gap == 3.0

    def test_centred_versus_original_uniform_E(self):
        d = 40
        cen = near_identity(50, d, 1.0, centered=True, random_state=1).E
        raw = near_identity(50, d, 1.0, centered=False, random_state=1).E
        assert raw.min() >= 0 and cen.min() < 0 < cen.max()
        # uniform [0, 1): mean^2 / second moment = 0.25 / (1/3) = 3/4 of E lies along all-ones
        assert ones_fraction(raw) == pytest.approx(0.75, abs=0.03)
        assert ones_fraction(cen) < 0.01
        assert abs(cen.mean()) < 0.02

    def test_control_scale_and_noise_level(self):
        d, noise = 10, 0.2
        p = near_identity(4000, d, 1.0, noise=noise, random_state=2)
        assert p.control.std(axis=0).mean() == pytest.approx(1 / np.sqrt(d), rel=0.03)
        resid = p.treated - p.true_map(p.control)[p.permutation]
        assert resid.mean() == pytest.approx(0.0, abs=0.01)
        assert resid.std() / p.control.std() == pytest.approx(noise, rel=0.03)

    def test_seeds_reproducible(self):
        a = near_identity(30, 4, 2.0, noise=0.1, random_state=5)
        b = near_identity(30, 4, 2.0, noise=0.1, random_state=5)
        c = near_identity(30, 4, 2.0, noise=0.1, random_state=6)
        for f in ("control", "treated", "permutation", "W", "E"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        assert not np.array_equal(a.control, c.control)
        g1 = near_identity(30, 4, 2.0, random_state=np.random.default_rng(5))
        np.testing.assert_array_equal(g1.control, near_identity(30, 4, 2.0, random_state=5).control)

    @pytest.mark.parametrize(
        ("kwargs", "exc", "msg"),
        [({"n": 1}, ValueError, "n must be at least 2"),
         ({"n": 0}, ValueError, "n must be a positive integer"),
         ({"n": 10.5}, ValueError, "n must be a positive integer"),
         ({"d": 0}, ValueError, "d must be a positive integer"),
         ({"gap": -1.0}, ValueError, "gap must be a finite non-negative"),
         ({"gap": np.nan}, ValueError, "gap"),
         ({"noise": -0.1}, ValueError, "noise must be a finite non-negative"),
         ({"random_state": "x"}, TypeError, "random_state")],
    )
    def test_bad_arguments(self, kwargs, exc, msg):
        args = {"n": 10, "d": 3, "gap": 1.0, **kwargs}
        with pytest.raises(exc, match=msg):
            near_identity(**args)


class TestLipschitzRate:
    def test_equals_brute_force_over_cells_and_times(self):
        p = near_identity(60, 5, 2.0, centered=False, random_state=3)
        brute = 0.0
        for t, s in [(0.0, 1.0), (2.0, 0.5), (3.7, -1.2), (10.0, 9.99)]:
            diff = p.map_at(t, p.control) - p.map_at(s, p.control)
            rates = np.linalg.norm(diff, axis=1) / abs(t - s)
            brute = max(brute, rates.max())
            # linear in time: the rate does not depend on (t, s)
            assert rates.max() == pytest.approx(p.lipschitz_rate, rel=1e-9)
        assert brute == pytest.approx(p.lipschitz_rate, rel=1e-9)
        # and it is attained by a cell, bounded by |E|_2 max|x|
        assert p.lipschitz_rate <= np.linalg.norm(p.E, 2) * np.linalg.norm(p.control, axis=1).max()


class TestSeedFaithful:
    def test_original_seed_uses_list_positions(self):
        assert original_seed(100, 0, 0) == 0
        assert original_seed(10, 200, 0) == 9 + 14
        assert original_seed(70, 15, 7) == 3 + 6 + 7
        assert original_seed(np.int64(50), 5.0, np.int64(2)) == 5 + 3 + 2
        for d in ORIGINAL_DIMS:
            for j, g in enumerate(ORIGINAL_GAPS):
                assert original_seed(d, g, 4) == ORIGINAL_DIMS.index(d) + j + 4

    @pytest.mark.parametrize(
        ("args", "msg"),
        [((15, 0, 0), "d=15 is not in the original grid"),
         ((100, 3, 0), "gap=3 is not in the original grid"),
         ((100, 0, -1), "trial must be a non-negative integer"),
         ((100, 0, 1.5), "trial must be a non-negative integer")],
    )
    def test_original_seed_errors(self, args, msg):
        with pytest.raises(ValueError, match=msg):
            original_seed(*args)

    @pytest.mark.parametrize(("d", "gap", "trial", "noise"), [(10, 15, 3, 0.0), (100, 50, 0, 0.0),
                                                              (30, 2, 11, 0.3)])
    def test_draws_in_original_order(self, d, gap, trial, noise):
        """Transcription of the original script, with a fresh legacy RandomState."""
        n = 100
        rs = np.random.RandomState(ORIGINAL_DIMS.index(d) + list(ORIGINAL_GAPS).index(gap) + trial)
        x = rs.randn(n, d) / np.sqrt(d)
        e = rs.rand(d, d)
        e = e / np.linalg.norm(e, "fro")
        w = np.eye(d) + gap * e
        z = rs.randn(n, d)
        perm = rs.permutation(n)
        treated = (x @ w + noise * z)[perm]
        p = seed_faithful(d, gap, trial, n=n, noise=noise)
        np.testing.assert_array_equal(p.control, x)
        np.testing.assert_array_equal(p.E, e)
        np.testing.assert_array_equal(p.W, w)
        np.testing.assert_array_equal(p.permutation, perm)
        np.testing.assert_allclose(p.treated, treated, rtol=0, atol=1e-13)
        if noise == 0:
            np.testing.assert_allclose(p.true_map(p.control)[p.permutation], p.treated, atol=1e-13)

    @pytest.fixture
    def global_state(self):
        """The legacy global generator is what seed_faithful must leave alone; restore it after."""
        saved = np.random.get_state()  # noqa: NPY002
        yield
        np.random.set_state(saved)  # noqa: NPY002

    @pytest.mark.usefixtures("global_state")
    def test_restores_global_numpy_state(self):
        np.random.seed(2024)  # noqa: NPY002
        expected = np.random.rand(5)  # noqa: NPY002
        np.random.seed(2024)  # noqa: NPY002
        seed_faithful(40, 10, 2)
        np.testing.assert_array_equal(np.random.rand(5), expected)  # noqa: NPY002

    @pytest.mark.usefixtures("global_state")
    def test_global_state_untouched_on_error(self):
        np.random.seed(7)  # noqa: NPY002
        expected = np.random.rand(3)  # noqa: NPY002
        np.random.seed(7)  # noqa: NPY002
        with pytest.raises(ValueError):
            seed_faithful(40, 3, 0)  # gap 3 is not on the grid
        np.testing.assert_array_equal(np.random.rand(3), expected)  # noqa: NPY002

    def test_repeatable(self):
        a, b = seed_faithful(20, 8, 5), seed_faithful(20, 8, 5)
        np.testing.assert_array_equal(a.treated, b.treated)
        # the seed is i + j + trial: d=90 (position 1), gap 0 (position 0), trial 0 uses seed 1
        np.testing.assert_array_equal(seed_faithful(90, 0, 0, n=10).control[:, :5],
                                      np.random.RandomState(1).randn(10, 90)[:, :5] / np.sqrt(90))
