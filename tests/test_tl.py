"""AnnData front: fit once, predict anywhere; results agree with the models and metrics used directly."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from trackability.data.synthetic import near_identity
from trackability.models import LAOT, MeanShift

ad = pytest.importorskip("anndata")


def _adata(n=40, d=4, gap=0.05, seed=0, nt=None):
    pair = near_identity(n, d, gap, random_state=seed)
    xt = pair.treated if nt is None else pair.treated[:nt]
    x = np.vstack([pair.control, xt])
    m = xt.shape[0]
    obs = pd.DataFrame(
        {"condition": ["ctrl"] * n + ["stim"] * m,
         "cell_type": (["a", "b"] * n)[:n] + (["a", "a", "b"] * m)[:m]},
        index=[f"ctrl{i}" for i in range(n)] + [f"stim{j}" for j in range(m)],
    )
    a = ad.AnnData(x, obs=obs, var=pd.DataFrame(index=[f"g{k}" for k in range(d)]))
    return a, pair


def _gene_adata(n=60, d=30, k=5, seed=0):
    """Genes with a scanpy-style PCA: X_pca = (X - mean) @ PCs, PCs orthonormal (d x k)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(2 * n, d)) @ rng.normal(size=(d, d)) * 0.3
    base[n:] += rng.normal(size=d)  # a treatment effect
    cond = ["ctrl"] * n + ["stim"] * n
    ct = (["T", "B", "NK"] * (2 * n))[: 2 * n]
    a = ad.AnnData(base, obs=pd.DataFrame({"condition": cond, "cell_type": ct},
                                          index=[f"c{i}" for i in range(2 * n)]),
                   var=pd.DataFrame(index=[f"gene{j}" for j in range(d)]))
    mean = base.mean(0)
    _, _, vt = np.linalg.svd(base - mean, full_matrices=False)
    pcs = vt[:k].T
    a.varm["PCs"] = pcs
    a.obsm["X_pca"] = (base - mean) @ pcs
    return a


ARGS = {"groupby": "condition", "control": "ctrl", "treated": "stim"}


def test_fit_predict_laot_agrees_with_the_model_and_records_params():
    from trackability import tl

    a, pair = _adata()
    model = tl.fit(a, "laot", **ARGS, key_added="fit1")
    direct = LAOT(random_state=0).fit(pair.control, pair.treated)
    np.testing.assert_allclose(model.W_, direct.W_)  # attribute access falls through
    pred = tl.predict(model, a)
    n = pair.control.shape[0]
    assert pred.n_obs == n and list(pred.var_names) == list(a.var_names)
    np.testing.assert_allclose(pred.X, direct.predict(pair.control))
    assert (pred.obs["condition"] == "predicted").all()
    assert list(pred.obs["fit1_from"]) == [f"ctrl{i}" for i in range(n)]
    assert not np.isnan(pred.X).any()
    params = a.uns["fit1"]["params"]
    assert params["method"] == "laot" and params["control"] == "ctrl" and params["treated"] == "stim"
    assert params["model_params"]["random_state"] == 0
    # the small gap: the one-to-one matching is the true correspondence, both ways
    partner = a.obs["fit1_partner"].to_numpy()
    for j, i in enumerate(pair.permutation):
        assert partner[n + j] == f"ctrl{i}" and partner[i] == f"stim{j}"
    both = ad.concat([a, pred])
    assert both.n_obs == 3 * n and set(both.obs["condition"]) == {"ctrl", "stim", "predicted"}


def test_predict_held_out_cells_in_pca_space_maps_back_to_genes():
    from trackability import tl

    a = _gene_adata()
    train = ad.concat([a[:40], a[60:100]])
    held = ad.concat([a[40:60], a[100:]])
    train.varm["PCs"] = held.varm["PCs"] = a.varm["PCs"]
    model = tl.fit(train, "meanshift", **ARGS, use_rep="X_pca")
    assert model.space.loadings_key == "PCs"
    pred = tl.predict(model, held)
    ctrl = held[held.obs["condition"] == "ctrl"]
    z = ctrl.obsm["X_pca"]
    zt = train.obsm["X_pca"]
    shift = zt[40:].mean(0) - zt[:40].mean(0)  # 40 control, then 40 treated
    pcs = a.varm["PCs"]
    # independent formula: own expression + predicted change through the loadings
    np.testing.assert_allclose(pred.X, ctrl.X + shift @ pcs.T, atol=1e-10)
    np.testing.assert_allclose(pred.obsm["X_pca"], z + shift, atol=1e-10)
    # the predicted genes project exactly onto the predicted PCs (scanpy's projection)
    mean = a.X.mean(0)
    np.testing.assert_allclose((pred.X - mean) @ pcs, z + shift, atol=1e-8)
    # without X_pca the genes are projected with the same loadings
    del held.obsm["X_pca"]
    np.testing.assert_allclose(tl.predict(model, held).X, pred.X, atol=1e-8)
    both = ad.concat([held, pred], join="inner")
    assert both.n_vars == a.n_vars and not np.isnan(np.asarray(both.X)).any()


def test_preprocess_standardize_is_mapped_back_exactly():
    from trackability import tl

    a = _gene_adata(d=8)
    model = tl.fit(a, "meanshift", **ARGS, preprocess=["standardize", ("pca", {"n_components": 8})])
    pred = tl.predict(model, a)
    x = a.X
    expect = x[:60] + (x[60:].mean(0) - x[:60].mean(0))  # an affine space: the same mean shift
    np.testing.assert_allclose(pred.X, expect, atol=1e-8)
    assert "X_trackability" in pred.obsm and pred.obsm["X_trackability"].shape == (60, 8)


def test_embedding_without_loadings_stays_in_the_embedding():
    from trackability import tl

    a = _gene_adata()
    a.obsm["X_umap"] = a.obsm["X_pca"][:, :2]
    model = tl.fit(a, "identity", **ARGS, use_rep="X_umap")
    pred = tl.predict(model, a)
    assert list(pred.var_names) == ["X_umap_0", "X_umap_1"]
    np.testing.assert_allclose(pred.X, a.obsm["X_umap"][:60])


def _tiny(cls):
    names = set(inspect.signature(cls.__init__).parameters)
    small = {"n_iters": 3, "max_iter": 3, "max_epochs": 2, "hidden": (8, 8), "n_hidden": 8,
             "n_latent": 2, "batch_size": 16, "eval_every": 1, "log_every": 1, "n_inner": 1}
    return {k: v for k, v in small.items() if k in names}


def _registered():
    from trackability.models.registry import model_names

    # "external" reads predictions another tool wrote to files; it has nothing to fit here
    return [n for n in model_names() if n != "external"]


@pytest.mark.parametrize("name", _registered())
def test_every_registered_model_predicts_into_anndata(name):
    from trackability import tl
    from trackability.models.registry import get_model as _get_model

    try:
        cls = _get_model(name)
    except ImportError:
        pytest.skip("needs torch")
    a = _gene_adata(d=6, k=3)
    model = tl.fit(a, name, **ARGS, use_rep="X_pca", labels_key="cell_type", params=_tiny(cls))
    pred = tl.predict(model, a)
    assert pred.shape == (60, 6) and np.isfinite(pred.X).all()
    z = np.asarray(model.model.predict(a.obsm["X_pca"][:60]))
    np.testing.assert_allclose(pred.obsm["X_pca"], z, rtol=1e-6, atol=1e-8)


def test_scgen_gets_the_cell_type_labels():
    pytest.importorskip("torch")
    from trackability import tl
    from trackability.models import ScGen

    a = _gene_adata(d=6, k=3)
    kw = {"n_hidden": 8, "n_latent": 2, "max_epochs": 3, "progress": False}
    model = tl.fit(a, "scgen", **ARGS, use_rep="X_pca", labels_key="cell_type", params=kw)
    z = a.obsm["X_pca"]
    lab = a.obs["cell_type"].to_numpy()
    direct = ScGen(random_state=0, **kw).fit(z[:60], z[60:], source_labels=lab[:60],
                                             target_labels=lab[60:])
    np.testing.assert_allclose(model.model.predict(z[:60]), direct.predict(z[:60]), rtol=1e-5)
    unlabelled = ScGen(random_state=0, **kw).fit(z[:60], z[60:])
    assert not np.allclose(unlabelled.predict(z[:60]), direct.predict(z[:60]))


def test_slow_defaults_are_announced():
    pytest.importorskip("torch")
    from trackability import tl
    from trackability.tl.fit import _announce_slow, _make_model

    model, _ = _make_model("scgen", None, 0)
    with pytest.warns(UserWarning, match="max_epochs not set.*epochs"):
        _announce_slow(model, 200, 10, None)
    rng = np.random.default_rng(0)
    a = ad.AnnData(rng.normal(size=(20, 1200)),
                   obs=pd.DataFrame({"condition": ["ctrl", "stim"] * 10}, index=map(str, range(20))))
    with pytest.warns(UserWarning, match="use_rep='X_pca'"):
        tl.fit(a, "meanshift", **ARGS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tl.fit(a[:, :50].copy(), "meanshift", **ARGS)


def test_score_matches_the_benchmark_scoring_code():
    from trackability import tl
    from trackability.experiments.bench import score as bench_score
    from trackability.metrics import median_heuristic_gamma

    a = _gene_adata()
    model = tl.fit(a, "meanshift", **ARGS, use_rep="X_pca")
    pred = tl.predict(model, a)
    g = median_heuristic_gamma(a.obsm["X_pca"][:60], a.obsm["X_pca"][60:], max_samples=2000,
                               random_state=0)
    assert model.gamma == pytest.approx(g)
    metrics = ["mmd2", "mmd2_cellot", "energy", "w2", "mean_r2", "mean_pearson"]
    table = tl.score(pred, a, metrics=metrics)
    ref = bench_score(pred.obsm["X_pca"], a.obsm["X_pca"][60:], gamma=g, seed=0, metrics_cfg={})
    assert list(table["metric"]) == metrics
    for _, row in table.iterrows():
        assert row["value"] == pytest.approx(ref[row["metric"]], rel=1e-10)
    assert (table["gamma"] == g).all() and (table["n_observed"] == 60).all()
    # genes: the recorded bandwidth is not for this space
    with pytest.raises(ValueError, match="pass gamma="):
        tl.score(pred, a, use_rep="X")
    genes = tl.score(pred, a, use_rep="X", gamma=0.1, metrics=["energy"])
    from trackability.metrics import energy_distance

    assert genes["value"][0] == pytest.approx(energy_distance(pred.X, a.X[60:]))
    with pytest.raises(ValueError, match="unknown"):
        tl.score(pred, a, metrics=["nope"])


def test_diagnose_writes_a_json_report_and_warns_on_raw_data(tmp_path):
    from trackability import tl
    from trackability.diagnostics import diagnose

    a, pair = _adata()
    rep = tl.diagnose(a, "condition", "ctrl", "stim", 0.05, time_unit="hours", n_boot=50)
    ref = diagnose(pair.control, pair.treated, 0.05, n_boot=50, random_state=0)
    assert rep.Delta == pytest.approx(ref.Delta) and rep.regime == ref.regime
    uns = a.uns["trackability_diagnose"]
    assert uns["Delta"] == pytest.approx(ref.Delta) and uns["time_unit"] == "hours"
    assert uns["params"]["gap"] == 0.05
    assert "hours" in repr(rep) and "regime=" in repr(rep) and len(repr(rep)) < 200
    html = rep._repr_html_()
    assert "95 % bootstrap interval (50 resamples)" in html and "hours" in html
    # the calibrated estimate and the verdict, in the gap's unit, beside Delta
    rec = ref.recoverability
    assert rep.recoverability["recovery"] == pytest.approx(rec["recovery"])
    assert "calibrated recovery at t" in html and f"{rec['recovery']:.4g}" in html
    assert rep.verdict.startswith("at 0.05 hours about") and "Verdict" in html
    assert uns["verdict"] == rep.verdict
    a.write_h5ad(tmp_path / "d.h5ad")
    assert ad.read_h5ad(tmp_path / "d.h5ad").uns["trackability_diagnose"]["regime"] == rep.regime
    raw = a.copy()
    raw.X = np.abs(raw.X) * 1000
    with pytest.warns(UserWarning, match="log1p.*arcsinh"):
        rep_raw = tl.diagnose(raw, "condition", "ctrl", "stim", 0.05, n_boot=0)
    # untransformed: the calibrated estimate is skipped by default, and the verdict says why
    assert rep_raw.recoverability is None
    assert "looks untransformed" in rep_raw.verdict and "recoverability=True" in rep_raw.verdict
    assert "looks untransformed" in raw.uns["trackability_diagnose"]["verdict"]
    with pytest.warns(UserWarning, match="log1p.*arcsinh"):
        forced = tl.diagnose(raw, "condition", "ctrl", "stim", 0.05, n_boot=0, recoverability=True)
    assert 0 <= forced.recoverability["recovery"] <= 1


def test_match_partners_only_for_one_to_one_and_transition_table():
    from trackability import tl

    a, _ = _adata(n=30)
    table = tl.match(a, groupby="condition", control="ctrl", treated="stim", annotation="cell_type")
    x = np.asarray(a.X)
    r, c = linear_sum_assignment(cdist(x[:30], x[30:], "sqeuclidean"))
    names = np.asarray(a.obs_names)
    np.testing.assert_array_equal(a.obs["trackability_match_partner"].to_numpy()[r], names[30 + c])
    # transition table against counting the scipy pairs by hand
    ct = a.obs["cell_type"].to_numpy()
    pairs = pd.DataFrame({"control": ct[r], "treated": ct[30 + c]})
    counts = pairs.value_counts()
    for _, row in table.iterrows():
        assert row["count"] == counts.get((row["control"], row["treated"]), 0)
    sums = table.groupby("control")["fraction"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0)
    assert a.uns["trackability_match"]["one_to_one"]
    # unequal groups: no partner column (some cells would have none)
    b, _ = _adata(n=30, nt=20)
    tl.match(b, groupby="condition", control="ctrl", treated="stim", annotation="cell_type",
             normalize="treated")
    assert "trackability_match_partner" not in b.obs
    assert not b.uns["trackability_match"]["one_to_one"]
    assert b.uns["trackability_match"]["n_pairs"] == 20
    m = tl.fit(b, "laot", **ARGS)
    assert "trackability_partner" not in b.obs and m.matching_ is not None


def test_fit_record_survives_h5ad(tmp_path):
    from trackability import tl

    a, _ = _adata()
    tl.fit(a, "laot", **ARGS)
    a.write_h5ad(tmp_path / "x.h5ad")
    b = ad.read_h5ad(tmp_path / "x.h5ad")
    np.testing.assert_allclose(b.uns["trackability"]["fitted"]["W"], a.uns["trackability"]["fitted"]["W"])
    assert b.uns["trackability"]["params"]["groupby"] == "condition"


def test_fit_predict_convenience_keeps_the_old_names():
    from trackability import tl

    a, pair = _adata()
    pred = tl.fit_predict(a, "meanshift", groupby="condition", source="ctrl", target="stim")
    direct = MeanShift().fit(pair.control, pair.treated).predict(pair.control)
    np.testing.assert_allclose(pred.X, direct)
    assert "trackability" in a.uns


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"groupby": "cond"}, KeyError, "not a column of adata.obs"),
        ({"control": "nope"}, ValueError, "groups present"),
        ({"use_rep": "X_umap"}, KeyError, "not in adata.obsm"),
        ({"layer": "raw"}, KeyError, "not in adata.layers"),
        ({"treated": "ctrl"}, ValueError, "different groups"),
        ({"key_added": 5}, ValueError, "key_added must be a non-empty string"),
        ({"labels_key": "tissue"}, KeyError, "labels_key='tissue'"),
        ({"params": {"gamma": 1.0}}, ValueError, r"no parameter\(s\) \['gamma'\].*tl.score"),
        ({"method": "collections:OrderedDict"}, TypeError, "not a model class"),
        ({"method": "nope"}, ValueError, "unknown model"),
        ({"method": LAOT}, TypeError, "not the class LAOT"),
    ],
)
def test_bad_input(kwargs, exc, match):
    from trackability import tl

    a, _ = _adata()
    args = {**ARGS, "method": "laot", **kwargs}
    method = args.pop("method")
    with pytest.raises(exc, match=match):
        tl.fit(a, method, **args)


def test_non_anndata_and_nan_are_refused():
    from trackability import tl

    a, _ = _adata()
    with pytest.raises(TypeError, match="adata must be an anndata.AnnData; got ndarray"):
        tl.fit(np.zeros((4, 2)), "laot", **ARGS)
    with pytest.raises(TypeError, match="result of trackability.tl.fit"):
        tl.predict(LAOT(), a)
    a.X[0, 0] = np.nan
    with pytest.raises(ValueError, match="adata.X contains 1 NaN"):
        tl.fit(a, "laot", **ARGS)


def test_score_with_model_scores_in_the_preprocess_space():
    from trackability import tl
    from trackability.data.preprocessing import Preprocessor
    from trackability.metrics import median_heuristic_gamma, mmd2

    a = _gene_adata(d=8)
    steps = ["standardize", ("pca", {"n_components": 4})]
    model = tl.fit(a, "meanshift", **ARGS, preprocess=steps)
    pred = tl.predict(model, a)
    pre = Preprocessor(steps).fit(a.X)
    z = pre.transform(a.X)
    g = median_heuristic_gamma(z[:60], z[60:], max_samples=2000, random_state=0)
    zp = z[:60] + (z[60:].mean(0) - z[:60].mean(0))
    table = tl.score(pred, a, model=model, metrics=["mmd2"])
    assert table["gamma"][0] == pytest.approx(g)
    assert table["value"][0] == pytest.approx(mmd2(zp, z[60:], gamma=g), rel=1e-8)
    with pytest.raises(ValueError, match="pass gamma="):
        tl.score(pred, a)  # genes: the recorded bandwidth is the preprocess space's
