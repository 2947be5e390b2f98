"""benchmarks/horizon_figure.py: the horizon tables and figure of the real time courses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _scripts import load_benchmark

REPO = Path(__file__).resolve().parents[1]


def _load():
    return load_benchmark("horizon_figure")


def _fake_results():
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = []
    # time points listed out of order: the table must sort them by gap
    for gap in (24.0, 1.0, 6.0):
        for seed in range(3):
            ceiling = 0.001 * (1 + seed)
            for method, val in (("identity", 0.3), ("meanshift", 0.05), ("laot", 0.02)):
                rows.append({"task": f"tc/time_h {gap:g}", "task_group": "tc", "method": method,
                             "method_key": method, "seed": seed, "meta.gap_h": gap,
                             "mmd2": val * gap ** 0.5 + 0.001 * rng.random(),
                             "ceiling.mmd2": ceiling, "status": "ok"})
    return pd.DataFrame(rows)


def test_horizon_table_one_row_per_time_point_and_method_sorted_by_gap():
    h = _load()
    df = _fake_results()
    tab = h.horizon_table(df, "mmd2")
    assert len(tab) == 3 * 3
    for _, sub in tab.groupby("method"):
        assert sub["gap_h"].tolist() == [1.0, 6.0, 24.0]
        assert (sub["n_seeds"] == 3).all()
    # the calibrated score, recomputed independently from the raw rows
    t = df[df["task"] == "tc/time_h 6"]
    u = t[t["method"] == "laot"].set_index("seed")["mmd2"]
    b = t[t["method"] == "meanshift"].set_index("seed")["mmd2"]
    r = t[t["method"] == "laot"].set_index("seed")["ceiling.mmd2"]
    want = ((u - b) / (r - b)).mean()
    got = tab[(tab["task"] == "tc/time_h 6") & (tab["method"] == "laot")]["calibrated_mean"]
    assert float(got.iloc[0]) == pytest.approx(float(want), rel=1e-12)
    assert tab[tab["method"] == "meanshift"]["calibrated_mean"].isna().all()  # the baseline
    assert float(tab[(tab["task"] == "tc/time_h 6") & (tab["method"] == "laot")]["mean"].iloc[0]) \
        == pytest.approx(float(u.mean()))


def test_horizon_table_names_a_missing_column():
    h = _load()
    with pytest.raises(ValueError, match="meta.gap_h"):
        h.horizon_table(_fake_results().drop(columns=["meta.gap_h"]))


@pytest.mark.realdata
def test_recoverability_per_time_point_on_chu_and_figure(real_data_dir, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    h = _load()
    rec = h.recoverability_table(REPO / "configs" / "chu_horizon.yaml", n_sim=2, max_cells=200)
    # one row per later time point of Chu 2016 (0 h is the control), gaps in hours increasing
    assert rec["gap_h"].tolist() == [12.0, 24.0, 36.0, 72.0, 96.0]
    assert rec["task"].is_unique
    assert ((rec["lo"] <= rec["recovery"] + 1e-12) & (rec["recovery"] <= rec["hi"] + 1e-12)).all()
    assert ((rec["recovery"] >= 0) & (rec["recovery"] <= 1)).all()
    assert (rec["n_matched"] == np.minimum(rec["n_control"], rec["n_treated"])).all()
    tab = h.horizon_table(_fake_results().assign(task_group="chu"))
    fig = h.plot_horizon(tab, rec, path=tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 0
    assert len(fig.axes) == 2  # the metric panel and its twin recovery axis
    ax2 = fig.axes[1]
    np.testing.assert_allclose(ax2.lines[0].get_xdata(), rec["gap_h"])
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), rec["recovery"])
