"""Phase-transition and method-comparison figures: what is drawn equals the table, bad input fails."""

from __future__ import annotations

import json
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from trackability.plotting import (  # noqa: E402
    plot_metric_panels,
    plot_phase_heatmap,
    plot_recovery_curves,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _phase_table() -> pd.DataFrame:
    """Two generators; rows shuffled so the plots must sort by d and gap themselves."""
    rows = []
    rec = {  # d -> recovery at gaps (0, 1, 5, 20)
        10: [1.0, 1.0, 0.9, 0.3],
        50: [1.0, 1.0, 0.9997, 0.6],
        100: [1.0, 1.0, 1.0, 0.999],
    }
    for gen, scale in (("seed_faithful", 1.0), ("centered", 0.5)):
        for d, vals in rec.items():
            for g, v in zip((0.0, 1.0, 5.0, 20.0), vals, strict=True):
                v = v if v == 1.0 else v * scale
                rows.append({"d": d, "gap": g, "recovery": v, "recovery_sd": 0.1 * (1 - v),
                             "exact_fraction": float(v == 1.0), "trials": 25, "n": 100,
                             "generator": gen})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=3).reset_index(drop=True)


def _data_axes(fig):
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def test_heatmap_cells_equal_table_sorted_by_d_and_gap():
    table = _phase_table()
    fig = plot_phase_heatmap(table)
    axes = _data_axes(fig)
    assert len(axes) == 2  # one panel per generator: the original first, then the centred
    for ax, gen in zip(axes, ["seed_faithful", "centered"], strict=True):
        sub = table[table["generator"] == gen]
        expected = sub.pivot(index="d", columns="gap", values="recovery").sort_index()
        grid = np.asarray(ax.images[0].get_array())
        np.testing.assert_array_equal(grid, expected.to_numpy())
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "5", "20"]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["10", "50", "100"]
        assert ax.images[0].get_clim() == (0.0, 1.0)  # fixed range: panels are comparable
        assert "original" in ax.get_title() or "centred" in ax.get_title()
        assert "25 trials" in ax.get_title()


def test_heatmap_annotations_never_round_a_miss_up_to_one():
    fig = plot_phase_heatmap(_phase_table())
    texts = [t.get_text() for t in _data_axes(fig)[0].texts]
    assert ".999" in texts  # 0.999 shown as such, not as "1.00"
    assert "<1" in texts  # 0.9997 is not rounded up to "1.000"
    assert texts.count("1") == 7  # exactly the cells equal to 1 (2 + 2 + 3)
    assert ".30" in texts and ".90" in texts


def test_heatmap_boundary_follows_threshold():
    fig = plot_phase_heatmap(_phase_table(), threshold=0.95)
    ax = _data_axes(fig)[0]
    line = [ln for ln in ax.lines if ln.get_color() == "#d62728"][0]
    xs = np.asarray(line.get_xdata())
    # per d (10, 50, 100): leading gaps with recovery >= 0.95 -> 2, 3, 4 (0.999 counts)
    np.testing.assert_array_equal(xs, [1.5, 1.5, 2.5, 2.5, 3.5, 3.5])
    fig = plot_phase_heatmap(_phase_table(), threshold=None)
    assert not [ln for ln in _data_axes(fig)[0].lines if ln.get_color() == "#d62728"]


def test_curves_one_line_per_d_with_the_table_values_and_symlog_axis():
    table = _phase_table()
    fig = plot_recovery_curves(table)
    axes = _data_axes(fig)
    assert len(axes) == 2
    ax = axes[1]
    sub = table[table["generator"] == "centered"]
    lines = {ln.get_label(): ln for ln in ax.lines if ln.get_label().startswith("d = ")}
    assert set(lines) == {"d = 10", "d = 50", "d = 100"}
    s = sub[sub["d"] == 10].sort_values("gap")
    np.testing.assert_array_equal(lines["d = 10"].get_xdata(), s["gap"].to_numpy())
    np.testing.assert_array_equal(lines["d = 10"].get_ydata(), s["recovery"].to_numpy())
    assert ax.get_xscale() == "symlog"  # gap 0 present
    # the SE band of d = 10 at gap 20: recovery +- sd / sqrt(trials)
    band = ax.collections[0].get_paths()[0].vertices
    v, sd = 0.15, 0.1 * (1 - 0.15)
    assert np.isclose(band[:, 1].max(), v + sd / 5) or np.any(np.isclose(band[:, 1], v + sd / 5))
    assert "standard error" in fig._suptitle.get_text()


def test_curves_log_axis_without_zero_and_no_band_without_sd():
    table = _phase_table()
    table = table[table["gap"] > 0].drop(columns=["recovery_sd", "trials", "generator"])
    fig = plot_recovery_curves(table, dims=[100, 10])
    ax = _data_axes(fig)[0]
    assert ax.get_xscale() == "log"
    assert not ax.collections  # no band without recovery_sd
    assert [ln.get_label() for ln in ax.lines if ln.get_label().startswith("d")] == [
        "d = 100", "d = 10"]


@pytest.mark.parametrize(
    ("table", "kwargs", "err", "match"),
    [
        ([1, 2], {}, TypeError, "DataFrame"),
        (pd.DataFrame({"d": [10], "gap": [1.0]}), {}, ValueError, "recovery"),
        (pd.DataFrame({"d": [], "gap": [], "recovery": []}), {}, ValueError, "empty"),
        (pd.DataFrame({"d": [10], "gap": [1.0], "recovery": [np.nan]}), {}, ValueError, "NaN"),
    ],
)
def test_phase_plots_reject_bad_tables(table, kwargs, err, match):
    with pytest.raises(err, match=match):
        plot_phase_heatmap(table, **kwargs)
    with pytest.raises(err, match=match):
        plot_recovery_curves(table, **kwargs)


def test_curves_reject_unknown_dims_and_band():
    with pytest.raises(ValueError, match=r"dims \[7\]"):
        plot_recovery_curves(_phase_table(), dims=[7])
    with pytest.raises(ValueError, match="band"):
        plot_recovery_curves(_phase_table(), band="ci")


def _results() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for task in ("trackable", "untrackable"):
        for m, base in (("identity", 0.5), ("meanshift", 0.4), ("laot", 0.01)):
            for seed in range(3):
                rows.append({"task": task, "method": m, "seed": seed, "status": "ok",
                             "mmd2": base + 0.01 * rng.random(),
                             "energy": 2 * base + 0.01 * rng.random(),
                             "mean_r2": 1 - base})
    return pd.DataFrame(rows)


def test_metric_panels_plot_the_group_means(tmp_path):
    res = _results()
    path = tmp_path / "cmp.png"
    fig = plot_metric_panels(res, ("mmd2", "energy"), title="demo", path=path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    axes = fig.axes
    assert len(axes) == 2
    assert axes[0].get_legend() is None and axes[1].get_legend() is not None
    for ax, metric in zip(axes, ("mmd2", "energy"), strict=True):
        means = res.groupby(["method", "task"])[metric].mean()
        drawn = {}
        for ln in ax.lines:  # errorbar markers: one Line2D per method, x in task order
            if ln.get_marker() == "o" and len(ln.get_xdata()) == 2:
                drawn[tuple(np.round(np.asarray(ln.get_ydata(), float), 12))] = True
        for m in ("identity", "meanshift", "laot"):
            key = tuple(np.round([means[(m, "trackable")], means[(m, "untrackable")]], 12))
            assert key in drawn, (metric, m)
    assert "demo" in fig._suptitle.get_text()


def test_metric_panels_reject_bad_input():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['w2'\]"):
        plot_metric_panels(_results(), ("mmd2", "w2"))
    with pytest.raises(ValueError, match="at least one"):
        plot_metric_panels(_results(), ())
    with pytest.raises(TypeError, match="DataFrame"):
        plot_metric_panels(_results().to_dict(), ("mmd2",))


def test_heatmap_and_curves_write_png(tmp_path):
    for fn, name in ((plot_phase_heatmap, "h.png"), (plot_recovery_curves, "c.png")):
        fn(_phase_table(), path=tmp_path / name)
        data = (tmp_path / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 20_000


def test_plotting_import_is_light():
    code = ("import sys, json, trackability.plotting, trackability.experiments.demo, "
            "trackability.cli.demo\nprint(json.dumps('matplotlib' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) is False
