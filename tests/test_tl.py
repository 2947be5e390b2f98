"""AnnData front: results land under the documented keys and agree with the models used directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trackability.data.synthetic import near_identity
from trackability.models import LAOT

ad = pytest.importorskip("anndata")


def _adata(n=40, d=4, gap=0.05, seed=0):
    pair = near_identity(n, d, gap, random_state=seed)
    x = np.vstack([pair.control, pair.treated])
    obs = pd.DataFrame(
        {"condition": ["ctrl"] * n + ["stim"] * n, "batch": ["a", "b"] * n},
        index=[f"ctrl{i}" for i in range(n)] + [f"stim{j}" for j in range(n)],
    )
    a = ad.AnnData(x, obs=obs, var=pd.DataFrame(index=[f"g{k}" for k in range(d)]))
    return a, pair


def test_laot_predictions_matching_and_map():
    from trackability import tl

    a, pair = _adata()
    tl.fit_predict(a, "laot", groupby="condition", source="ctrl", target="stim")
    n = pair.control.shape[0]
    pred = a.obsm["X_trackability"]
    assert pred.shape == (2 * n, 4)
    assert np.isnan(pred[n:]).all()
    direct = LAOT(random_state=0).fit(pair.control, pair.treated).predict(pair.control)
    np.testing.assert_allclose(pred[:n], direct)
    # small gap: the matching is the true correspondence, stored by obs name both ways
    match = a.obs["trackability_match"].to_numpy()
    for j, i in enumerate(pair.permutation):
        assert match[n + j] == f"ctrl{i}"
        assert match[i] == f"stim{j}"
    np.testing.assert_allclose(a.uns["trackability"]["fitted"]["W"], pair.W.T, atol=1e-8)
    uns = a.uns["trackability"]
    assert uns["method"] == "laot" and uns["n_source"] == n and uns["groupby"] == "condition"
    assert "git_revision" in uns["provenance"]
    assert np.all(a.obs["trackability_match_cost"].to_numpy() >= 0)


def test_copy_leaves_input_untouched_and_key_added():
    from trackability import tl

    a, _ = _adata()
    out = tl.fit_predict(a, "meanshift", groupby="condition", source="ctrl", target="stim",
                         key_added="ms", copy=True)
    assert "X_ms" not in a.obsm and "ms" not in a.uns
    assert "X_ms" in out.obsm and "ms" in out.uns
    n = a.n_obs // 2
    shift = a.X[n:].mean(0) - a.X[:n].mean(0)
    np.testing.assert_allclose(out.obsm["X_ms"][:n], a.X[:n] + shift)
    assert "ms_match" not in out.obs  # no matching for MeanShift
    assert tl.fit_predict(a, "identity", groupby="condition", source="ctrl", target="stim") is None


def test_use_rep_and_layer_and_sparse():
    from scipy import sparse

    from trackability import tl

    a, _ = _adata()
    a.obsm["X_pca"] = a.X[:, :2] * 2
    a.layers["counts"] = sparse.csr_matrix(a.X * 3)
    tl.fit_predict(a, "identity", groupby="condition", source="ctrl", target="stim",
                   use_rep="X_pca", key_added="pc")
    n = a.n_obs // 2
    np.testing.assert_allclose(a.obsm["X_pc"][:n], a.obsm["X_pca"][:n])
    tl.fit_predict(a, "identity", groupby="condition", source="ctrl", target="stim",
                   layer="counts", key_added="lay")
    np.testing.assert_allclose(a.obsm["X_lay"][:n], a.X[:n] * 3)


def test_score_prediction_uses_shared_metrics():
    from trackability import tl
    from trackability.metrics import median_heuristic_gamma, mmd2

    a, pair = _adata()
    tl.fit_predict(a, "identity", groupby="condition", source="ctrl", target="stim")
    out = tl.score_prediction(a)
    g = median_heuristic_gamma(pair.control, pair.treated, max_samples=2000, random_state=0)
    assert out["mmd2"] == pytest.approx(mmd2(pair.control, pair.treated, gamma=g))
    assert a.uns["trackability"]["score"]["in_sample"]


def test_written_results_survive_h5ad(tmp_path):
    from trackability import tl

    a, _ = _adata()
    tl.fit_predict(a, "laot", groupby="condition", source="ctrl", target="stim", diagnostics=True)
    a.write_h5ad(tmp_path / "x.h5ad")
    b = ad.read_h5ad(tmp_path / "x.h5ad")
    np.testing.assert_allclose(b.obsm["X_trackability"], a.obsm["X_trackability"])
    assert "W" in b.uns["trackability"]["fitted"]
    assert "diagnostics" in b.uns["trackability"]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"groupby": "cond"}, KeyError, "not a column of adata.obs"),
        ({"source": "nope"}, ValueError, "groups present"),
        ({"use_rep": "X_umap"}, KeyError, "not in adata.obsm"),
        ({"layer": "raw"}, KeyError, "not in adata.layers"),
        ({"target": "ctrl"}, ValueError, "different groups"),
    ],
)
def test_bad_input(kwargs, exc, match):
    from trackability import tl

    a, _ = _adata()
    args = {"groupby": "condition", "source": "ctrl", "target": "stim", **kwargs}
    with pytest.raises(exc, match=match):
        tl.fit_predict(a, "laot", **args)


def test_nan_in_matrix_is_refused():
    from trackability import tl

    a, _ = _adata()
    a.X[0, 0] = np.nan
    with pytest.raises(ValueError, match="adata.X contains 1 NaN"):
        tl.fit_predict(a, "laot", groupby="condition", source="ctrl", target="stim")
