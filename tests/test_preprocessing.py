"""Preprocessing is fitted on the training split only and matches naive / scikit-learn computations."""

from __future__ import annotations

import numpy as np
import pytest

from trackability.data.preprocessing import Preprocessor
from trackability.data.tasks import split_within


def test_standardize_uses_training_statistics_only(rng):
    train_a, train_b = rng.normal(2.0, 3.0, (40, 4)), rng.normal(-1.0, 0.5, (30, 4))
    test = rng.normal(100.0, 10.0, (20, 4))  # wildly different: must not influence the fit
    pre = Preprocessor(["standardize"]).fit(train_a, train_b)
    pool = np.vstack([train_a, train_b])
    np.testing.assert_allclose(pre.transform(test), (test - pool.mean(0)) / pool.std(0))
    z = pre.transform(pool)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-12)
    np.testing.assert_allclose(pre.inverse_transform(pre.transform(test)), test)


def test_standardize_constant_feature_keeps_scale_one(rng):
    x = rng.normal(size=(10, 3))
    x[:, 1] = 5.0
    z = Preprocessor(["standardize"]).fit(x).transform(x)
    np.testing.assert_allclose(z[:, 1], 0.0)


def test_pca_matches_sklearn(rng):
    from sklearn.decomposition import PCA

    x = rng.normal(size=(80, 6)) @ rng.normal(size=(6, 6))
    y = rng.normal(size=(15, 6))
    pre = Preprocessor([("pca", {"n_components": 3})]).fit(x)
    sk = PCA(n_components=3, svd_solver="full").fit(x)
    np.testing.assert_allclose(pre.params_[0]["explained_variance_ratio"],
                               sk.explained_variance_ratio_, rtol=1e-10)
    # same projections up to the sign of each axis
    ours, theirs = pre.transform(y), sk.transform(y)
    signs = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours, theirs * signs, atol=1e-10)
    assert pre.feature_names_out_ == ["PC1", "PC2", "PC3"]


def test_full_rank_pca_is_invertible_and_deterministic(rng):
    x = rng.normal(size=(30, 4))
    pre = Preprocessor(["standardize", ("pca", {"n_components": 4})]).fit(x)
    np.testing.assert_allclose(pre.inverse_transform(pre.transform(x)), x, atol=1e-10)
    again = Preprocessor(["standardize", ("pca", {"n_components": 4})]).fit(x)
    np.testing.assert_array_equal(pre.transform(x), again.transform(x))


def test_variable_keeps_top_training_variance(rng):
    x = rng.normal(size=(50, 6)) * np.array([1, 5, 0.1, 3, 2, 0.5])
    pre = Preprocessor([{"variable": {"n": 3}}]).fit(x, feature_names=list("abcdef"))
    expect = np.sort(np.argsort(-x.var(0))[:3])
    np.testing.assert_array_equal(pre.params_[0]["keep"], expect)
    assert pre.feature_names_out_ == [list("abcdef")[i] for i in expect]
    assert not pre.invertible


def test_log_and_arcsinh(rng):
    x = rng.uniform(0, 100, (10, 3))
    np.testing.assert_allclose(Preprocessor(["log1p"]).fit(x).transform(x), np.log1p(x))
    pre = Preprocessor([("arcsinh", {"cofactor": 150})]).fit(x)
    np.testing.assert_allclose(pre.transform(x), np.arcsinh(x / 150))
    np.testing.assert_allclose(pre.inverse_transform(pre.transform(x)), x)
    with pytest.raises(ValueError, match="negative"):
        Preprocessor(["log1p"]).fit(-x)


@pytest.mark.parametrize(
    ("steps", "match"),
    [(["zscore"], "steps\\[0\\] must be one of"), ([("pca", {"k": 3})], "unknown option"),
     ([42], "name or \\(name, options\\)")],
)
def test_bad_steps(steps, match):
    with pytest.raises(ValueError, match=match):
        Preprocessor(steps)


def test_transform_before_fit_and_wrong_width(rng):
    pre = Preprocessor(["standardize"])
    with pytest.raises(RuntimeError, match="not fitted"):
        pre.transform(np.ones((2, 2)))
    pre.fit(rng.normal(size=(5, 3)))
    with pytest.raises(ValueError, match="fitted on 3"):
        pre.transform(np.ones((2, 2)))


def test_fit_task_fits_on_train_and_transforms_every_split(rng):
    src, tgt = rng.normal(0, 1, (60, 5)), rng.normal(3, 2, (50, 5))
    task = split_within(src, tgt, name="t", random_state=0)
    pre = Preprocessor(["standardize", ("pca", {"n_components": 2})])
    out = pre.fit_task(task)
    ref = Preprocessor(["standardize", ("pca", {"n_components": 2})]).fit(
        task.source_train, task.target_train)
    for key in task.array_keys():
        np.testing.assert_allclose(getattr(out, key), ref.transform(getattr(task, key)))
    assert out.feature_names == ["PC1", "PC2"]
    assert out.meta["preprocessing"][1] == {"step": "pca", "n_components": 2}
    pooled = np.vstack([out.source_train, out.target_train])
    np.testing.assert_allclose(pooled.mean(0), 0, atol=1e-10)  # centred on train ...
    assert abs(np.vstack([out.source_test, out.target_test]).mean(0)).max() > 1e-6  # ... not test


def test_fit_rejects_no_arrays_and_mismatched_features():
    with pytest.raises(TypeError, match="Preprocessor.fit needs at least one array"):
        Preprocessor(["standardize"]).fit()
    with pytest.raises(ValueError, match=r"arrays\[1\] has 2 features but arrays\[0\] has 3"):
        Preprocessor(["standardize"]).fit(np.ones((4, 3)), np.ones((4, 2)))
