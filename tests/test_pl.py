"""tk.pl and ax= on every plotting function: what is drawn equals an independent computation."""

from __future__ import annotations

import inspect

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

ad = pytest.importorskip("anndata")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _genes(n=50, d=12, seed=0):
    rng = np.random.default_rng(seed)
    x = np.abs(rng.normal(size=(2 * n, d)))
    x[n:, :3] += 2.0  # genes 0-2 respond
    obs = pd.DataFrame({"condition": ["control"] * n + ["stimulated"] * n,
                        "cell_type": (["T", "B"] * n)[: 2 * n]}, index=[f"c{i}" for i in range(2 * n)])
    return ad.AnnData(x, obs=obs, var=pd.DataFrame(index=[f"G{j}" for j in range(d)]))


def _fit(a, method="meanshift"):
    from trackability import tl

    model = tl.fit(a, method, groupby="condition", control="control", treated="stimulated")
    return model, tl.predict(model, a)


def test_mean_scatter_draws_the_gene_means_and_labels_the_top_changed(tmp_path):
    from trackability import pl

    a = _genes()
    _, pred = _fit(a)
    fig, ax = plt.subplots()
    out = pl.mean_scatter(pred, a, n_top=3, ax=ax, show=False, save=tmp_path / "m.png")
    assert out is ax and (tmp_path / "m.png").read_bytes()[:8] == PNG_MAGIC
    pts = ax.collections[0].get_offsets()
    x = np.asarray(a.X)
    np.testing.assert_allclose(pts[:, 0], x[50:].mean(0))
    np.testing.assert_allclose(pts[:, 1], np.asarray(pred.X).mean(0))
    assert sorted(t.get_text() for t in ax.texts) == ["G0", "G1", "G2"]
    assert "predicted vs observed stimulated" in ax.get_title()


def test_mean_scatter_needs_genes():
    from trackability import pl, tl

    a = _genes()
    a.obsm["X_emb"] = np.asarray(a.X)[:, :2]
    model = tl.fit(a, "identity", groupby="condition", control="control", treated="stimulated",
                   use_rep="X_emb")
    with pytest.raises(ValueError, match="predictions in genes"):
        pl.mean_scatter(tl.predict(model, a), a, show=False)


def test_predicted_vs_observed_is_a_pca_of_all_cells():
    from trackability import pl

    a = _genes()
    _, pred = _fit(a)
    ax = pl.predicted_vs_observed(pred, a, show=False)
    z = np.vstack([np.asarray(a.X), np.asarray(pred.X)])
    z = z - z.mean(0)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    xy = z @ vt[:2].T
    labels = [c.get_label() for c in ax.collections]
    assert labels == ["control (50)", "stimulated (50)", "predicted (50)"]
    np.testing.assert_allclose(np.abs(ax.collections[2].get_offsets()), np.abs(xy[100:]), atol=1e-10)
    colours = {tuple(np.round(c.get_facecolor()[0][:3], 3)) for c in ax.collections}
    assert len(colours) == 3  # distinct colours


def test_embedding_uses_obsm_and_refuses_unknown_keys():
    from trackability import pl

    a = _genes()
    a.obsm["X_umap"] = np.asarray(a.X)[:, :2]
    ax = pl.embedding(a, "umap", color="cell_type", show=False)
    np.testing.assert_allclose(np.vstack([c.get_offsets() for c in ax.collections]),
                               np.vstack([a.obsm["X_umap"][a.obs.cell_type == c] for c in ("B", "T")]))
    with pytest.raises(KeyError, match="not in adata.obsm"):
        pl.embedding(a, "tsne", show=False)


def test_transitions_heatmap_equals_the_table():
    from trackability import pl, tl

    a = _genes()
    table = tl.match(a, groupby="condition", control="control", treated="stimulated",
                     annotation="cell_type")
    ax = pl.transitions(table, show=False)
    grid = ax.images[0].get_array()
    expect = table.pivot(index="control", columns="treated", values="fraction").to_numpy()
    np.testing.assert_allclose(np.asarray(grid), expect)
    ax2 = pl.transitions(a, value="count", show=False)  # from uns
    assert np.asarray(ax2.images[0].get_array()).sum() == 50


def test_trackable_region_marks_the_users_point():
    from trackability import pl, tl

    a = _genes()
    a.X = np.log1p(np.asarray(a.X))
    rep = tl.diagnose(a, "condition", "control", "stimulated", 2.0, time_unit="hours", n_boot=20)
    fig, ax = plt.subplots()
    assert pl.trackable_region(rep, ax=ax, show=False) is ax
    star = [ln for ln in ax.get_lines() if ln.get_marker() == "*"]
    assert star and star[0].get_xdata()[0] == rep.n and star[0].get_ydata()[0] == 2.0
    assert "hours" in ax.get_ylabel() and "t = 2 hours" in ax.get_title()


def _results():
    rows = []
    for task in ("a", "b"):
        for m, base in (("identity", 0.5), ("meanshift", 0.4), ("laot", 0.1), ("cellot", 0.2),
                        ("scgen", 0.3), ("compact_cellot", 0.35)):
            for seed in range(2):
                rows.append({"task": task, "method": m, "seed": seed, "status": "ok",
                             "mmd2": base + 0.01 * seed})
    return pd.DataFrame(rows)


def test_method_comparison_colours_are_distinct_and_title_says_what():
    from trackability import pl

    ax = pl.method_comparison(_results(), "mmd2", show=False)
    marks = [ln for ln in ax.lines if ln.get_marker() == "o"]
    colours = {matplotlib.colors.to_hex(ln.get_color()) for ln in marks}
    assert len(colours) == 6
    assert "held-out" in ax.get_title() and "MMD" in ax.get_title()


def test_phase_diagram_wraps_the_heatmap():
    from trackability import pl

    rows = [{"d": d, "gap": g, "recovery": 1.0 if g < d else 0.5, "trials": 3, "n": 10}
            for d in (5, 10) for g in (1.0, 7.0, 20.0)]
    fig, ax = plt.subplots()
    pl.phase_diagram(pd.DataFrame(rows), ax=ax, show=False)
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()) if ax.images else
                               np.asarray(ax.collections[0].get_array()).reshape(2, 3),
                               [[1.0, 0.5, 0.5], [1.0, 1.0, 0.5]])


def test_every_plotting_function_accepts_ax():
    import trackability.pl as pl_mod
    import trackability.plotting as plotting

    for name in plotting.__all__:
        assert "ax" in inspect.signature(getattr(plotting, name)).parameters, name
    for name in pl_mod.__all__:
        params = inspect.signature(getattr(pl_mod, name)).parameters
        assert {"ax", "show", "save"} <= set(params), name


def test_multi_panel_functions_draw_into_given_axes():
    from trackability.plotting import plot_metric_panels

    res = _results()
    res["energy"] = res["mmd2"] * 2
    fig, axes = plt.subplots(1, 2)
    out = plot_metric_panels(res, ("mmd2", "energy"), ax=list(axes))
    assert out is fig and all(len(a.lines) > 0 for a in axes)
    with pytest.raises(ValueError, match="2 panel"):
        plot_metric_panels(res, ("mmd2", "energy"), ax=axes[0])
