"""Identity, MeanShift, LAOT and fit_linear_map against planted ground truth and direct solves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from trackability.data.synthetic import near_identity
from trackability.matching import Matching, assign
from trackability.models import LAOT, Identity, MeanShift, NotFittedError, PerturbationModel
from trackability.models.laot import fit_linear_map


def objective_of(model: LAOT, x: np.ndarray, y: np.ndarray) -> float:
    """LAOT objective recomputed from the fitted map and matching (independent of the fit loop)."""
    m = model.matching_
    resid = y[m.target] - x[m.source] @ model.W_.T - model.intercept_
    return float(np.sum(resid**2) + model.alpha * np.sum((model.W_ - np.eye(x.shape[1])) ** 2))


# -- LAOT on trackable, noiseless data: exact recovery --------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize(
    ("d", "gap", "min_iter"),
    [(5, 0.5, 1), (20, 0.5, 1), (5, 2.0, 2), (20, 8.0, 2)],  # the last two need several rounds
)
def test_laot_recovers_planted_permutation_and_map(seed, d, gap, min_iter):
    n = 100
    pair = near_identity(n, d, gap, random_state=seed)
    model = LAOT().fit(pair.control, pair.treated)
    np.testing.assert_array_equal(model.matching_.source_of(n), pair.permutation)
    np.testing.assert_allclose(model.W_, pair.W.T, atol=1e-10)
    np.testing.assert_array_equal(model.intercept_, np.zeros(d))
    np.testing.assert_allclose(model.predict(pair.control)[pair.permutation], pair.treated,
                               atol=1e-10)
    assert model.converged_
    if gap >= 2.0:  # the first assignment (at W = I) is wrong somewhere, so it had to iterate
        assert model.n_iter_ >= min_iter
        assert model.history_["n_changed"].iloc[1] > 0


def test_laot_recovers_planted_translation_with_intercept():
    """A common translation does not change a square sqeuclidean assignment, so it stays exact."""
    pair = near_identity(80, 6, 1.0, random_state=4)
    b = np.array([3.0, -2.0, 0.5, 10.0, 0.0, -7.0])
    model = LAOT(fit_intercept=True).fit(pair.control, pair.treated + b)
    np.testing.assert_array_equal(model.matching_.source_of(80), pair.permutation)
    np.testing.assert_allclose(model.W_, pair.W.T, atol=1e-9)
    np.testing.assert_allclose(model.intercept_, b, atol=1e-9)
    # without the intercept the map cannot express the translation
    plain = LAOT().fit(pair.control, pair.treated + b)
    assert plain.objective_ > 1.0 > model.objective_ + 1e-6


# -- the objective never increases -------------------------------------------------------------
MONOTONE_SETTINGS = [
    {},
    {"alpha": 3.0},
    {"fit_intercept": True},
    {"alpha": 0.5, "fit_intercept": True},
]


@pytest.mark.parametrize("kwargs", MONOTONE_SETTINGS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_laot_objective_never_increases(kwargs, seed):
    pair = near_identity(60, 5, 20.0, noise=0.5, random_state=seed)  # untrackable and noisy
    x, y = pair.control, pair.treated
    model = LAOT(max_iter=50, early_stopping=False, **kwargs).fit(x, y)
    hist = model.history_
    assert model.n_iter_ == len(hist) >= 3  # it actually alternated
    obj = hist["train_loss"].to_numpy()
    assert np.all(np.diff(obj) <= 1e-9 * obj[:-1])
    # the alternation interleaves: assignment cost at step k+1 (old map) <= objective at k
    penalty = np.array([0.0] * len(hist))
    if kwargs.get("alpha"):
        # objective_k = residual_k + alpha |W_k - I|^2; assignment_{k+1} is a residual under W_k
        penalty = obj - _residuals(model, x, y, kwargs)
    assert np.all(hist["assignment_cost"].to_numpy()[1:] + penalty[:-1] <= obj[:-1] * (1 + 1e-9))
    # and the least-squares step cannot do worse than the assignment it was given
    assert np.all(obj - penalty <= hist["assignment_cost"].to_numpy() * (1 + 1e-9))
    # objective_ is the recorded final value and matches a recomputation from W_, matching_
    assert model.objective_ == pytest.approx(obj.min())
    assert objective_of(model, x, y) == pytest.approx(model.objective_, rel=1e-10)


def _residuals(model: LAOT, x: np.ndarray, y: np.ndarray, kwargs: dict) -> np.ndarray:
    """Residual part of each iteration's objective, by replaying the fit with max_iter = k."""
    out = []
    for k in range(1, model.n_iter_ + 1):
        m = LAOT(max_iter=k, early_stopping=False, **kwargs).fit(x, y)
        out.append(objective_of(m, x, y) - m.alpha * np.sum((m.W_ - np.eye(x.shape[1])) ** 2))
    return np.array(out)


def test_laot_early_stopping_keeps_best_iterate():
    pair = near_identity(60, 5, 20.0, noise=0.5, random_state=0)
    x, y = pair.control, pair.treated
    model = LAOT(cost="euclidean", max_iter=30).fit(x, y)
    assert model.objective_ == pytest.approx(model.history_["train_loss"].min())
    assert objective_of(model, x, y) == pytest.approx(model.objective_, rel=1e-10)


def test_laot_max_iter_caps_and_reports_not_converged():
    pair = near_identity(60, 5, 20.0, noise=0.5, random_state=1)
    model = LAOT(max_iter=2, early_stopping=False).fit(pair.control, pair.treated)
    assert model.n_iter_ == 2
    assert not model.converged_


# -- the least-squares step against a direct normal-equation solve -----------------------------
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 10.0])
def test_fit_linear_map_matches_normal_equations(fit_intercept, alpha):
    rng = np.random.default_rng(9)
    n, d = 40, 6
    x = rng.normal(size=(n, d)) + 2.0
    y = x @ rng.normal(size=(d, d)) + rng.normal(size=(n, d)) + 1.0
    w, b = fit_linear_map(x, y, fit_intercept=fit_intercept, alpha=alpha)
    # unknowns theta = [W^T; b^T]; penalty alpha |W - I|^2 on W only
    a = np.hstack([x, np.ones((n, 1))]) if fit_intercept else x
    p = np.zeros((a.shape[1], a.shape[1]))
    p[:d, :d] = alpha * np.eye(d)
    prior = np.zeros((a.shape[1], d))
    prior[:d] = np.eye(d)
    theta = np.linalg.solve(a.T @ a + p, a.T @ y + p @ prior)
    np.testing.assert_allclose(w, theta[:d].T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(b, theta[d] if fit_intercept else np.zeros(d), rtol=1e-8,
                               atol=1e-10)


def test_fit_linear_map_rank_deficient_returns_min_norm_change():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(3, 6))  # fewer cells than features
    y = rng.normal(size=(3, 6))
    w, _ = fit_linear_map(x, y)
    np.testing.assert_allclose(x @ w.T, y, atol=1e-10)  # interpolates
    np.testing.assert_allclose(w - np.eye(6), (np.linalg.pinv(x) @ (y - x)).T, atol=1e-10)


def test_fit_linear_map_large_alpha_shrinks_to_identity():
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(20, 4)), rng.normal(size=(20, 4))
    w, _ = fit_linear_map(x, y, alpha=1e12)
    np.testing.assert_allclose(w, np.eye(4), atol=1e-9)


# -- unequal population sizes ------------------------------------------------------------------
def _with_decoys(n_keep: int, n_decoy: int, seed: int):
    """A trackable pair plus far-away decoy cells that must stay unmatched."""
    pair = near_identity(n_keep, 5, 1.0, random_state=seed)
    decoys = np.random.default_rng(seed).normal(size=(n_decoy, 5)) + 50.0
    return pair, decoys


def test_rectangular_more_target_cells_uses_every_source():
    pair, decoys = _with_decoys(60, 15, 0)
    target = np.vstack([pair.treated[:30], decoys, pair.treated[30:]])  # decoys in the middle
    model = LAOT().fit(pair.control, target)
    m = model.matching_
    assert len(m) == 60
    np.testing.assert_array_equal(m.source, np.arange(60))
    real = np.r_[np.arange(30), np.arange(45, 75)]  # target rows holding real treated cells
    np.testing.assert_array_equal(np.sort(m.target), real)
    np.testing.assert_array_equal(m.source_of(75)[real], pair.permutation)
    np.testing.assert_allclose(model.W_, pair.W.T, atol=1e-10)


def test_rectangular_more_source_cells_uses_every_target():
    pair, decoys = _with_decoys(60, 20, 1)
    source = np.vstack([decoys, pair.control])  # the original truncation would keep the decoys
    model = LAOT().fit(source, pair.treated)
    m = model.matching_
    assert len(m) == 60
    np.testing.assert_array_equal(np.sort(m.target), np.arange(60))
    np.testing.assert_array_equal(m.source_of(60), pair.permutation + 20)
    np.testing.assert_allclose(model.W_, pair.W.T, atol=1e-10)


def test_subsample_is_seeded_and_reproducible():
    rng = np.random.default_rng(12)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(35, 4))
    a = LAOT(unequal="subsample", random_state=3).fit(x, y)
    b = LAOT(unequal="subsample", random_state=3).fit(x, y)
    c = LAOT(unequal="subsample", random_state=4).fit(x, y)
    assert a.matching_.same_pairs(b.matching_)
    np.testing.assert_array_equal(a.W_, b.W_)
    assert set(a.matching_.source) != set(c.matching_.source)
    for model in (a, c):
        m = model.matching_
        assert len(m) == 35 and np.unique(m.source).size == 35 and m.source.max() < 50
        np.testing.assert_array_equal(np.sort(m.target), np.arange(35))
    # the subsample is the one a Generator with that seed draws, sorted
    want = np.sort(np.random.default_rng(3).choice(50, size=35, replace=False))
    np.testing.assert_array_equal(a.matching_.source, want)


def test_subsample_on_target_side():
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(33, 3))
    model = LAOT(unequal="subsample", random_state=0).fit(x, y)
    np.testing.assert_array_equal(model.matching_.source, np.arange(20))
    assert np.unique(model.matching_.target).size == 20 and model.matching_.target.max() < 33


# -- baselines ---------------------------------------------------------------------------------
def test_identity_and_meanshift_exact():
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(25, 4)) * 2 + 3
    new = rng.normal(size=(7, 4))
    np.testing.assert_array_equal(Identity().fit(x, y).predict(new), new)
    ms = MeanShift().fit(x, y)
    shift = np.array([y[:, j].sum() / 25 - x[:, j].sum() / 30 for j in range(4)])
    np.testing.assert_allclose(ms.shift_, shift, rtol=1e-12)
    np.testing.assert_allclose(ms.predict(new), new + shift, rtol=1e-12)
    np.testing.assert_allclose(ms.predict(x).mean(axis=0), y.mean(axis=0), atol=1e-12)


def test_one_cell_each_is_enough_for_linear_models():
    x, y = np.array([[1.0, 2.0]]), np.array([[2.0, 5.0]])
    np.testing.assert_allclose(MeanShift().fit(x, y).predict(x), y)
    np.testing.assert_allclose(LAOT().fit(x, y).predict(x), y, atol=1e-12)  # min-norm interpolant


# -- persistence -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model",
    [Identity(), MeanShift(), LAOT(fit_intercept=True, alpha=0.1, cost="euclidean", max_iter=7),
     LAOT(unequal="subsample", random_state=5)],
    ids=["identity", "meanshift", "laot", "laot-subsample"],
)
def test_save_load_round_trip(tmp_path, model):
    pair = near_identity(40, 5, 3.0, noise=0.1, random_state=6)
    model.fit(pair.control, pair.treated[:35])
    path = model.save(tmp_path / "model")
    assert path.suffix == ".npz" and path.exists()
    loaded = PerturbationModel.load(path)
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    new = np.random.default_rng(0).normal(size=(9, 5))
    np.testing.assert_array_equal(loaded.predict(new), model.predict(new))
    for name in model._fitted_attributes:
        a, b = getattr(model, name), getattr(loaded, name)
        if isinstance(a, Matching):
            assert a.same_pairs(b) and a.cost == b.cost and a.cost_name == b.cost_name
            assert a.info == b.info
        elif isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=True)  # no digits lost
        elif isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b
    assert loaded.n_features_in_ == 5
    assert type(model).load(path).get_params() == model.get_params()


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No saved model"):
        LAOT.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a model file written by trackability"):
        LAOT.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a model file"):
        LAOT.load(other)
    path = MeanShift().fit(np.zeros((2, 2)), np.ones((2, 2))).save(tmp_path / "ms.npz")
    with pytest.raises(TypeError, match="holds a MeanShift, not a LAOT"):
        LAOT.load(path)


# -- protocol and bad input --------------------------------------------------------------------
@pytest.mark.parametrize("cls", [Identity, MeanShift, LAOT])
def test_predict_before_fit(cls):
    with pytest.raises(NotFittedError, match=f"This {cls.__name__} is not fitted yet"):
        cls().predict(np.zeros((2, 2)))


def test_params_and_repr():
    model = LAOT(alpha=0.5, max_iter=3)
    assert model.get_params()["alpha"] == 0.5
    assert repr(model) == "LAOT(max_iter=3, alpha=0.5)"
    assert model.set_params(alpha=1.0).alpha == 1.0
    with pytest.raises(ValueError, match="LAOT has no parameter 'gamma'"):
        model.set_params(gamma=1.0)


@pytest.mark.parametrize("cls", [Identity, MeanShift, LAOT])
def test_bad_input_names_the_argument(cls):
    good = np.random.default_rng(0).normal(size=(5, 3))
    nan = good.copy()
    nan[1, 1] = np.nan
    inf = good.copy()
    inf[0, 2] = np.inf
    cases = [
        ((nan, good), ValueError, "source contains 1 NaN"),
        ((good, inf), ValueError, "target contains 0 NaN and 1 infinite"),
        ((np.zeros((0, 3)), good), ValueError, "source is empty"),
        ((good, np.zeros((5, 0))), ValueError, "target is empty"),
        ((good[:, 0], good), ValueError, "source must be 2-D"),
        ((good, good[:, :2]), ValueError, "source has 3 features but target has 2"),
        ((good, [["a", "b", "c"]]), TypeError, "target must be numeric"),
        ((None, good), TypeError, "source is None"),
    ]
    for args, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            cls().fit(*args)
    model = cls().fit(good, good + 1)
    with pytest.raises(ValueError, match="source has 2 features but .* fitted on 3"):
        model.predict(good[:, :2])
    with pytest.raises(ValueError, match="source contains 1 NaN"):
        model.predict(nan)


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [({"max_iter": 0}, "max_iter must be a positive integer"),
     ({"max_iter": 2.5}, "max_iter must be a positive integer"),
     ({"cost": "cosine"}, "cost must be one of"),
     ({"unequal": "truncate"}, "unequal must be one of"),
     ({"alpha": -1.0}, "alpha must be a non-negative number or inf"),
     ({"tol": np.nan}, "tol must be a finite non-negative")],
)
def test_laot_bad_hyperparameters(kwargs, msg):
    x = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(ValueError, match=msg):
        LAOT(**kwargs).fit(x, x)


def test_sparse_and_integer_input_same_as_dense():
    pair = near_identity(50, 6, 2.0, random_state=7)
    x = np.round(pair.control * 100)  # integer-valued
    y = np.round(pair.treated * 100)
    dense = LAOT(fit_intercept=True).fit(x, y)
    ints = LAOT(fit_intercept=True).fit(x.astype(np.int64), y.astype(np.int32))
    sparse = LAOT(fit_intercept=True).fit(sp.csr_matrix(x), sp.csc_matrix(y))
    for other in (ints, sparse):
        np.testing.assert_array_equal(other.W_, dense.W_)
        np.testing.assert_array_equal(other.intercept_, dense.intercept_)
        assert other.matching_.same_pairs(dense.matching_)
    np.testing.assert_array_equal(sparse.predict(sp.csr_matrix(x)), dense.predict(x))
    ms = MeanShift().fit(x.astype(np.int16), y.astype(np.int16))
    assert ms.shift_.dtype == np.float64
    np.testing.assert_allclose(ms.shift_, y.mean(0) - x.mean(0))


# -- what "converged" means ----------------------------------------------------------------------
@pytest.mark.parametrize(("gap", "noise", "kwargs"),
                         [(2.0, 0.0, {}), (20.0, 0.5, {}), (20.0, 0.5, {"alpha": 1.0}),
                          (20.0, 0.5, {"fit_intercept": True})])
def test_converged_fit_is_a_coordinatewise_optimum(gap, noise, kwargs):
    """At a fixed point neither step improves: re-assigning under W_ and re-solving W change nothing."""
    pair = near_identity(60, 5, gap, noise=noise, random_state=2)
    x, y = pair.control, pair.treated
    model = LAOT(max_iter=200, **kwargs).fit(x, y)
    assert model.converged_
    m = model.matching_
    mapped = model.predict(x)
    again = assign(mapped, y)
    under_w = float(np.sum((mapped[m.source] - y[m.target]) ** 2))
    assert again.cost == pytest.approx(under_w, rel=1e-10)  # matching_ is optimal for W_
    w, b = fit_linear_map(x[m.source], y[m.target], **kwargs)
    np.testing.assert_allclose(w, model.W_, atol=1e-10)  # W_ is optimal for matching_
    np.testing.assert_allclose(b, model.intercept_, atol=1e-10)


def test_tol_stops_when_relative_decrease_is_small():
    pair = near_identity(60, 5, 20.0, noise=0.5, random_state=0)
    full = LAOT(max_iter=100).fit(pair.control, pair.treated)
    obj = full.history_["train_loss"].to_numpy()
    tol = 0.2
    # first iteration whose relative decrease is below tol: the fit with tol stops there
    stop = next(k for k in range(1, len(obj)) if obj[k] > obj[k - 1] * (1 - tol))
    early = LAOT(max_iter=100, tol=tol).fit(pair.control, pair.treated)
    assert early.n_iter_ == stop + 1 < full.n_iter_
    np.testing.assert_allclose(early.history_["train_loss"], obj[: stop + 1], rtol=1e-12)
    assert early.converged_


@pytest.mark.parametrize("cls", [Identity, MeanShift, LAOT])
def test_inputs_are_never_modified_or_aliased(cls):
    rng = np.random.default_rng(15)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 3)) + 1
    x0, y0 = x.copy(), y.copy()
    model = cls().fit(x, y)
    pred = model.predict(x)
    pred[:] = 123.0
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    assert not np.shares_memory(model.predict(x), x)


@pytest.mark.parametrize(
    ("matching", "error", "message"),
    [
        ({"cost": "euclidean"}, ValueError, "matching must not set 'cost'"),
        ("sparse", TypeError, "matching must be a dict"),
    ],
)
def test_laot_matching_options_are_validated(matching, error, message):
    pair = near_identity(20, 3, 0.1, random_state=0)
    with pytest.raises(error, match=message):
        LAOT(matching=matching).fit(pair.control, pair.treated)


def test_laot_alpha_inf_is_exactly_the_mean_shift_and_large_alpha_is_not():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 3))
    y = rng.normal(size=(65, 3)) @ np.diag([1.0, 2.0, 0.5]) + 1.5  # unequal sizes, not a shift
    ms = MeanShift().fit(x, y)
    inf = LAOT(alpha=float("inf"), fit_intercept=True, max_iter=5).fit(x, y)
    np.testing.assert_array_equal(inf.W_, np.eye(3))
    np.testing.assert_allclose(inf.intercept_, y.mean(axis=0) - x.mean(axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(inf.predict(x), ms.predict(x), rtol=0, atol=1e-12)
    assert np.isfinite(inf.objective_) and inf.n_iter_ == 1 and len(inf.matching_) == 40
    # a large finite alpha keeps W ~ I but its intercept comes from the 40 matched target cells
    big = LAOT(alpha=1e8, fit_intercept=True, max_iter=5).fit(x, y)
    assert np.abs(big.W_ - np.eye(3)).max() < 1e-4
    assert np.abs(big.predict(x) - ms.predict(x)).max() > 1e-2
    # without an intercept, alpha = inf is no change at all
    np.testing.assert_array_equal(LAOT(alpha=np.inf, max_iter=5).fit(x, y).predict(x), x)
    with pytest.raises(ValueError, match="alpha"):
        LAOT(alpha=-np.inf).fit(x, y)
    with pytest.raises(ValueError, match="alpha"):
        LAOT(alpha=float("nan")).fit(x, y)
