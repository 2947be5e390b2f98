"""estimate_recoverability_windows: states that are windows of frames, a Markov chain of single frames."""

from __future__ import annotations

import numpy as np
import pytest

from trackability.diagnostics import estimate_recoverability_windows, measured_recovery, window_states


def _tracks(n: int, frames: int, a: float, shift: float, noise: float, seed: int) -> np.ndarray:
    """1-D tracks of an exact Markov chain x_{k+1} = a x_k + shift + noise z, bimodal start."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-1.0, 0.4, n // 2), rng.normal(1.0, 0.4, n - n // 2)])
    out = [x]
    for _ in range(frames - 1):
        out.append(a * out[-1] + shift + noise * rng.standard_normal(n))
    return np.stack(out, axis=1)


def _frames(tracks: np.ndarray, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [tracks[rng.permutation(tracks.shape[0]), k:k + 1] for k in range(tracks.shape[1])]


def test_noise_free_windows_map_is_the_product_of_the_step_maps():
    tr = _tracks(120, 8, 1.1, 0.05, 0.0, seed=0)
    est = estimate_recoverability_windows(tr[:, 0:3], _frames(tr, 1), np.arange(8.0), window=3,
                                          stop=4, n_sim=2, random_state=0)
    # the independent computation: window (x4, x5, x6) from x2 by powers of a, shifts summed
    a, c = 1.1, 0.05
    w_true = np.zeros((3, 3))
    w_true[2] = [a**2, a**3, a**4]
    shift = [c * sum(a**j for j in range(m)) for m in (2, 3, 4)]
    np.testing.assert_allclose(est.W, w_true, atol=1e-8)
    np.testing.assert_allclose(est.b, shift, atol=1e-8)
    assert est.noise_scale < 1e-6 and est.recovery == 1.0
    assert est.gap == 4.0 and [s["to"] for s in est.steps] == [3.0, 4.0, 5.0, 6.0]


def test_window_noise_scale_matches_a_monte_carlo_of_the_chain():
    a, sigma = 1.0, 0.1
    tr = _tracks(200, 7, a, 0.0, sigma, seed=2)
    est = estimate_recoverability_windows(tr[:, 0:2], _frames(tr, 3), np.arange(7.0), window=2,
                                          stop=4, n_sim=2, random_state=0)
    # Monte Carlo: the window (x4, x5) minus its mean given x1, over 200,000 chains
    rng = np.random.default_rng(9)
    e = np.zeros(200_000)
    steps = []
    for _ in range(4):  # x1 -> x5
        e = a * e + sigma * rng.standard_normal(e.size)
        steps.append(e.copy())
    win = np.stack(steps[2:], axis=1)  # e4, e5
    rms_true = float(np.sqrt(np.mean(np.sum(win**2, axis=1))))
    assert est.noise_scale == pytest.approx(rms_true, rel=0.15)


def test_predicted_recovery_close_to_measured_on_markov_tracks():
    tr = _tracks(300, 10, 0.95, 0.02, 0.12, seed=4)
    frames = _frames(tr, 5)
    for stop, m in ((3, 8), (6, 8), (6, 30)):
        meas = measured_recovery(tr, stop, m, window=3, starts=[0], max_groups=60,
                                 random_state=0)["recovery"]
        est = estimate_recoverability_windows(window_states(tr, 0, 3), frames, np.arange(10.0),
                                              window=3, stop=stop, n_cells=m, n_sim=8,
                                              random_state=1)
        assert abs(est.recovery - meas) < 0.10, (stop, m, est.recovery, meas)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"window": 1}, "window must be an integer >= 2"),
    ({"stop": 2}, "stop must be at least start \\+ window = 3"),
    ({"stop": 7}, "needs frames up to 9"),
    ({"stop": 12}, "stop must be a frame index"),
    ({"start_states": np.zeros((20, 2))}, "3 x 1 = 3 columns"),
    ({"start_states": np.full((20, 3), np.nan)}, "start_states"),
    ({"times": np.arange(7.0)}, "one entry per population"),
    ({"populations": np.zeros((8, 1))}, "sequence of arrays"),
    ({"n_cells": 500}, "n_cells must be in"),
    ({"level": 1.5}, "level"),
])
def test_bad_input_names_the_argument(kwargs, match):
    tr = _tracks(40, 8, 1.0, 0.0, 0.1, seed=0)
    args = {"start_states": tr[:, 0:3], "populations": _frames(tr, 1), "times": np.arange(8.0),
            "window": 3, "stop": 4, "n_sim": 2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        estimate_recoverability_windows(**args)
