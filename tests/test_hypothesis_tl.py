"""Property-based tests (hypothesis) of the AnnData front ``tl`` on bad and edge inputs.

Generated AnnData objects (2 or 3 groups of 2-8 cells, 2-4 features, an ``X_pca`` embedding, a
``counts`` layer, a cell-type column) are passed to ``tl.fit`` / ``tl.predict`` / ``tl.score`` /
``tl.match`` / ``tl.diagnose`` with one argument made wrong at a time: an obs key that is not a
column, a group that is absent, NaN/inf in ``X``, an unknown ``use_rep`` or ``layer``, a
``key_added`` that is not a string, a wrong option value. Each must raise a ValueError, KeyError
or TypeError whose message names the argument. Sparse ``X`` must give the same results as dense
(LAOT's partners, MeanShift's prediction against numpy). ``HYPOTHESIS_EXAMPLES`` overrides the
examples per test.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

ad = pytest.importorskip("anndata")
from trackability import tl  # noqa: E402


def _settings(n: int) -> settings:
    n = int(os.environ.get("HYPOTHESIS_EXAMPLES", n))
    return settings(max_examples=n, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


unit = st.integers(-1000, 1000).map(lambda v: v / 1000)


@st.composite
def adatas(draw, sparse=None):
    d = draw(st.integers(2, 4))
    sizes = [draw(st.integers(2, 8)) for _ in range(draw(st.integers(2, 3)))]
    n = sum(sizes)
    x = draw(arrays(np.float64, (n, d), elements=unit))
    x[sizes[0]:sizes[0] + sizes[1]] += draw(st.integers(-20, 20)) / 10
    labels = np.repeat(["ctrl", "stim", "other"][:len(sizes)], sizes)
    obs = pd.DataFrame({"cond": pd.Categorical(labels),
                        "cell_type": draw(arrays(np.int64, n, elements=st.integers(0, 2))).astype(str)},
                       index=[f"c{i}" for i in range(n)])
    use_sparse = draw(st.booleans()) if sparse is None else sparse
    a = ad.AnnData(scipy.sparse.csr_matrix(x) if use_sparse else x, obs=obs,
                   var=pd.DataFrame(index=[f"g{j}" for j in range(d)]))
    a.obsm["X_pca"] = x[:, :2].copy()
    a.layers["counts"] = np.abs(x)
    return a


GROUPS = {"groupby": "cond", "control": "ctrl", "treated": "stim"}


def _fit(a, **kw):
    return tl.fit(a, kw.pop("method", "meanshift"), **{**GROUPS, **kw})


#: (function, bad keyword arguments, a word the message must hold)
BAD = [
    ("fit", {"groupby": "nope"}, "groupby"),
    ("fit", {"groupby": 5}, "groupby"),
    ("fit", {"control": "absent"}, "control"),
    ("fit", {"treated": "absent"}, "treated"),
    ("fit", {"treated": "ctrl"}, "treated"),
    ("fit", {"use_rep": "X_umap"}, "use_rep"),
    ("fit", {"use_rep": 3}, "use_rep"),
    ("fit", {"layer": "spliced"}, "layer"),
    ("fit", {"use_rep": "X_pca", "layer": "counts"}, "layer"),
    ("fit", {"key_added": 5}, "key_added"),
    ("fit", {"key_added": ""}, "key_added"),
    ("fit", {"key_added": "a/b"}, "key_added"),
    ("fit", {"labels_key": "nope"}, "labels_key"),
    ("fit", {"method": "nope"}, "nope"),
    ("fit", {"method": 5}, "method"),
    ("fit", {"method": "laot", "params": {"alfa": 1.0}}, "alfa"),
    ("fit", {"method": "laot", "params": [1]}, "params"),
    ("fit", {"method": "laot", "params": {"max_iter": 0}}, "max_iter"),
    ("predict", {"model": "laot"}, "model"),
    ("predict", {"adata": np.zeros((3, 3))}, "adata"),
    ("predict", {"key_added": 5}, "key_added"),
    ("predict", {"only_control": "yes"}, "only_control"),
    ("predict", {"predicted_label": 5}, "predicted_label"),
    ("score", {"metrics": ["nope"]}, "metrics"),
    ("score", {"metrics": []}, "metrics"),
    ("score", {"gamma": -1.0}, "gamma"),
    ("score", {"gamma": "a"}, "gamma"),
    ("score", {"gamma": np.nan}, "gamma"),
    ("score", {"use_rep": "X_umap"}, "use_rep"),
    ("score", {"groupby": "nope", "treated": "stim"}, "groupby"),
    ("score", {"groupby": "cond", "treated": "absent"}, "treated"),
    ("score", {"seed": "a"}, "seed"),
    ("score", {"pred": "cells"}, "pred"),
    ("match", {"groupby": "nope"}, "groupby"),
    ("match", {"control": "absent"}, "control"),
    ("match", {"annotation": "nope"}, "annotation"),
    ("match", {"annotation": "cell_type", "treated_annotation": "nope"}, "treated_annotation"),
    ("match", {"use_rep": "X_umap"}, "use_rep"),
    ("match", {"layer": "spliced"}, "layer"),
    ("match", {"cost": "l1"}, "cost"),
    ("match", {"method": "nope"}, "method"),
    ("match", {"annotation": "cell_type", "normalize": "rows"}, "normalize"),
    ("match", {"key_added": 5}, "key_added"),
    ("diagnose", {"groupby": "nope"}, "groupby"),
    ("diagnose", {"treated": "absent"}, "treated"),
    ("diagnose", {"gap": -1.0}, "gap"),
    ("diagnose", {"gap": "a"}, "gap"),
    ("diagnose", {"gap": np.nan}, "gap"),
    ("diagnose", {"use_rep": "X_umap"}, "use_rep"),
    ("diagnose", {"layer": "spliced"}, "layer"),
    ("diagnose", {"key_added": 5}, "key_added"),
    ("diagnose", {"time_unit": 5}, "time_unit"),
    ("diagnose", {"n_boot": -3}, "n_boot"),
]


def _call(func, a, kw):
    kw = dict(kw)
    if func == "fit":
        return _fit(a, **kw)
    if func == "predict":
        model = kw.pop("model", None) or _fit(a)
        return tl.predict(model, kw.pop("adata", a), **kw)
    if func == "score":
        model = _fit(a)
        pred = kw.pop("pred", None)
        pred = tl.predict(model, a) if pred is None else pred
        return tl.score(pred, a, **kw)
    if func == "match":
        return tl.match(a, **{**GROUPS, **kw})
    return tl.diagnose(a, **{**GROUPS, "gap": 1.0, "n_boot": 0, **kw})


@_settings(2 * len(BAD))
@given(a=adatas(), bad=st.sampled_from(BAD))
def test_bad_argument_named(a, bad):
    func, kw, word = bad
    with pytest.raises((ValueError, KeyError, TypeError)) as err:
        _call(func, a, kw)
    assert word in str(err.value), f"{func}({kw}): {err.value}"


@_settings(30)
@given(a=adatas(sparse=False), func=st.sampled_from(["fit", "match", "diagnose"]),
       bad=st.sampled_from([np.nan, np.inf, -np.inf]), data=st.data())
def test_nan_in_x_named(a, func, bad, data):
    i = data.draw(st.integers(0, a.n_obs - 1))
    j = data.draw(st.integers(0, a.n_vars - 1))
    a.X[i, j] = bad
    in_groups = a.obs["cond"].iloc[i] in ("ctrl", "stim")
    if not in_groups and func != "fit":
        return  # a NaN in a cell of another group may be ignored or refused; both are fine
    with pytest.raises(ValueError) as err:
        _call(func, a, {})
    assert "adata.X" in str(err.value)


@_settings(25)
@given(a=adatas(sparse=False))
def test_sparse_x_equals_dense(a):
    sp = a.copy()
    sp.X = scipy.sparse.csr_matrix(a.X)
    m_dense, m_sparse = _fit(a), _fit(sp)
    x = np.asarray(a.X)
    ctrl, stim = (a.obs["cond"] == "ctrl").to_numpy(), (a.obs["cond"] == "stim").to_numpy()
    np.testing.assert_allclose(m_dense.shift_, x[stim].mean(0) - x[ctrl].mean(0), rtol=1e-12,
                               atol=1e-12)
    p_dense, p_sparse = tl.predict(m_dense, a), tl.predict(m_sparse, sp)
    np.testing.assert_array_equal(np.asarray(p_sparse.X.todense() if scipy.sparse.issparse(
        p_sparse.X) else p_sparse.X), np.asarray(p_dense.X))
    np.testing.assert_allclose(np.asarray(p_dense.X), x[ctrl] + m_dense.shift_, rtol=1e-12,
                               atol=1e-12)
    s_dense = tl.score(p_dense, a, gamma=1.0).set_index("metric")["value"]
    s_sparse = tl.score(p_sparse, sp, gamma=1.0).set_index("metric")["value"]
    pd.testing.assert_series_equal(s_dense, s_sparse)
    tl.match(a, **GROUPS)
    tl.match(sp, **GROUPS)
    key = "trackability_match"
    assert a.uns[key]["cost"] == pytest.approx(sp.uns[key]["cost"], rel=1e-12)


@_settings(10)
@given(a=adatas(), value=unit)
def test_identical_cells_fit_and_score_asks_for_gamma(a, value):
    """Most cells identical: no median-heuristic bandwidth. fit still works (it has no gamma to
    pass); score without gamma says to pass it, and with gamma it scores."""
    a.X = np.full(a.shape, value)
    model = _fit(a)
    assert np.isnan(model.gamma)
    np.testing.assert_allclose(model.shift_, 0.0, atol=1e-15)
    pred = tl.predict(model, a)
    with pytest.raises(ValueError, match="gamma"):
        tl.score(pred, a)
    table = tl.score(pred, a, gamma=1.0).set_index("metric")["value"]
    assert table["mmd2"] == pytest.approx(0.0, abs=1e-12)
