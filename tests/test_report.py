"""Tables, figures and the HTML report, from a results table built here with known numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trackability.experiments.report import write_report
from trackability.experiments.tables import pivot, read_results, summarize, to_markdown, win_counts


def _results(rng) -> pd.DataFrame:
    rows = []
    for task, gap, delta in (("syn/d=5 gap=0.1", 0.1, 0.4), ("syn/d=5 gap=1", 1.0, 0.4)):
        for method, base in (("identity", 1.0), ("meanshift", 0.5), ("laot", 0.1)):
            for seed in range(5):
                rows.append({
                    "task": task, "method": method, "seed": seed,
                    "mmd2": base * gap + 0.01 * rng.random(), "energy": base + rng.random(),
                    "mean_r2": 1 - base / 2 + 0.01 * seed, "status": "ok",
                    "meta.gap": gap, "meta.d": 5, "meta.critical_gap": delta,
                    "config_name": "unit", "package_version": "0", "git_revision": "abc",
                })
    rows.append({"task": "syn/d=5 gap=1", "method": "broken", "seed": 0, "mmd2": np.nan,
                 "status": "error", "error": "RuntimeError: boom"})
    return pd.DataFrame(rows)


def test_summarize_matches_pandas(rng):
    df = _results(rng)
    s = summarize(df, ["mmd2", "energy"])
    ok = df[df["status"] == "ok"]
    for _, r in s.iterrows():
        sub = ok[(ok["task"] == r["task"]) & (ok["method"] == r["method"])]
        assert r["n_seeds"] == 5
        assert r["mmd2_mean"] == pytest.approx(sub["mmd2"].mean())
        assert r["mmd2_sd"] == pytest.approx(np.std(sub["mmd2"], ddof=1))
    assert "broken" not in set(s["method"])  # failed rows never enter a table
    assert list(s["method"][:3]) == ["identity", "meanshift", "laot"]  # first-seen order


def test_pivot_marks_best_per_task_in_the_right_direction(rng):
    df = _results(rng)
    tab = pivot(df, "mmd2")
    assert list(tab.columns) == ["identity", "meanshift", "laot"]
    assert all(tab.loc[t, "laot"].startswith("**") for t in tab.index)  # lowest MMD wins
    tab_r2 = pivot(df, "mean_r2")
    assert all(tab_r2.loc[t, "laot"].startswith("**") for t in tab_r2.index)  # highest R^2 wins
    md = to_markdown(tab)
    assert md.splitlines()[0] == "| task | identity | meanshift | laot |"
    assert "±" in md
    assert win_counts(df, "mmd2").to_dict() == {"laot": 10}


def test_pivot_does_not_mark_a_lone_value_best(rng):
    """A metric only one method has (LAOT's recovery; NaN for the others) wins nothing."""
    df = _results(rng)
    df["recovery"] = np.where(df["method"] == "laot", 0.9, np.nan)
    tab = pivot(df, "recovery")
    assert not any(str(v).startswith("**") for v in tab.to_numpy().ravel())
    df.loc[df["method"] == "meanshift", "recovery"] = 0.5  # two values: the higher is marked
    tab = pivot(df, "recovery")
    assert all(tab.loc[t, "laot"].startswith("**") for t in tab.index)


def test_report_writes_tables_figures_and_html(rng, tmp_path):
    df = _results(rng)
    df.to_csv(tmp_path / "results.csv", index=False)
    path = write_report(tmp_path)
    text = path.read_text()
    assert "<table>" in text and "Failed rows (1)" in text and "boom" in text
    for name in ("comparison_mmd2.png", "vs_gap_mmd2.png"):
        png = tmp_path / "figures" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"figures/{name}" in text
    summ = pd.read_csv(tmp_path / "tables" / "summary.csv")
    assert len(summ) == 6
    assert (tmp_path / "tables" / "mmd2.md").read_text().startswith("| task |")


def test_gap_figure_marks_the_critical_gap(rng):
    import matplotlib

    matplotlib.use("Agg")
    from trackability.plotting.benchmark import plot_metric_vs_gap

    fig = plot_metric_vs_gap(_results(rng), "mmd2")
    ax = fig.axes[0]
    vlines = [ln for ln in ax.lines if np.allclose(ln.get_xdata(), [0.4, 0.4])]
    assert len(vlines) == 1  # Delta drawn once, at the computed value
    assert ax.get_xlabel() == "gap t" and "MMD" in ax.get_ylabel()
    labels = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert labels == ["identity", "meanshift", "laot"]


def test_method_comparison_error_bars(rng):
    import matplotlib

    matplotlib.use("Agg")
    from trackability.plotting.benchmark import plot_method_comparison

    df = _results(rng)
    fig = plot_method_comparison(df, "energy")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["d=5 gap=0.1", "d=5 gap=1"]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["identity (n=5 seeds)", "meanshift (n=5 seeds)", "laot (n=5 seeds)"]
    with pytest.raises(ValueError, match="not a column"):
        plot_method_comparison(df, "nope")


def test_read_results_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="trackability bench"):
        read_results(tmp_path)
    (tmp_path / "results.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="missing columns"):
        read_results(tmp_path)


def test_cli_report_on_missing_folder(tmp_path):
    from typer.testing import CliRunner

    from trackability.cli import app

    res = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert res.exit_code == 2
    assert "no results table" in res.output


def test_report_has_ceiling_calibrated_tests_and_runtime(rng, tmp_path):
    """With ceiling columns and fit times, the report adds the field's readings of each table."""
    df = _results(rng)
    ok = df["status"] == "ok"
    df.loc[ok, "fit_time_s"] = rng.random(ok.sum())
    ceil = {(t, s): 0.01 * (1 + s) for t in df["task"].unique() for s in range(5)}
    df.loc[ok, "ceiling.mmd2"] = [ceil[(t, s)] for t, s in zip(df.loc[ok, "task"],
                                                                df.loc[ok, "seed"], strict=True)]
    df.to_csv(tmp_path / "results.csv", index=False)
    text = write_report(tmp_path, figures=False).read_text()
    tdir = tmp_path / "tables"
    raw = (tdir / "mmd2.md").read_text().splitlines()
    assert raw[0] == "| task | identity | meanshift | laot | replicate |"
    cal = (tdir / "mmd2_calibrated.md").read_text()
    assert "meanshift" not in cal.splitlines()[0] and "laot" in cal  # the baseline is s = 0
    ok_rows = df[ok]
    t, s = "syn/d=5 gap=1", 0
    sub = ok_rows[(ok_rows["task"] == t) & (ok_rows["seed"] == s)].set_index("method")
    u, b = sub.loc["laot", "mmd2"], sub.loc["meanshift", "mmd2"]
    from trackability.experiments.tables import calibrated

    got = calibrated(df, "mmd2").set_index(["task", "method", "seed"]).loc[(t, "laot", s), "mmd2"]
    assert got == pytest.approx((u - b) / (ceil[(t, s)] - b))
    assert (tdir / "vs_meanshift.md").is_file() and (tdir / "fit_time_s.md").is_file()
    assert "energy_calibrated.md" not in {p.name for p in tdir.iterdir()}  # no ceiling: no table
    assert "calibrated score" in text and "beat the mean shift" in text and "fit time" in text


def test_pivot_marks_every_method_tied_for_best(rng):
    """Identical predictions (validated LAOT at alpha = inf vs the mean shift) tie: both marked."""
    df = _results(rng)
    twin = df[df["method"] == "laot"].assign(method="laot_validated")
    tab = pivot(pd.concat([df, twin], ignore_index=True), "mmd2")
    for t in tab.index:
        assert tab.loc[t, "laot"].startswith("**") and tab.loc[t, "laot_validated"].startswith("**")
        assert not tab.loc[t, "meanshift"].startswith("**")
