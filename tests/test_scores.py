"""The field's scores against independent computations: scipy.stats, naive loops, brute force.

Gene-level change metrics, the energy permutation test (E-test), the paired test over seeds, the
calibrated score, the rank metric, and the metric registry the tables read.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from scipy.spatial.distance import cdist

from trackability.metrics import energy_distance
from trackability.metrics.calibration import calibrated_score, rank_metrics
from trackability.metrics.gene import deg_sign_agreement, delta_pearson
from trackability.metrics.registry import (
    Metric,
    get_metric,
    higher_is_better,
    metric_names,
    register_metric,
)
from trackability.metrics.significance import energy_test, paired_test


@pytest.fixture
def cells():
    rng = np.random.default_rng(5)
    control = rng.normal(size=(80, 30))
    effect = rng.normal(size=30) * np.linspace(0, 2, 30)
    true = control[:60] + effect + rng.normal(size=(60, 30)) * 0.3
    pred = control[20:] + 0.8 * effect + rng.normal(size=(60, 30)) * 0.3
    return pred, true, control


class TestGeneLevel:
    def test_delta_pearson_equals_scipy(self, cells):
        pred, true, control = cells
        dp, dt = pred.mean(0) - control.mean(0), true.mean(0) - control.mean(0)
        assert delta_pearson(pred, true, control) == pytest.approx(
            scipy.stats.pearsonr(dp, dt)[0], rel=1e-12)
        for k in (2, 5, 10, 30, 100):
            top = sorted(range(30), key=lambda j: -abs(dt[j]))[:k]  # a naive top-k by |delta|
            assert delta_pearson(pred, true, control, top_k=k) == pytest.approx(
                scipy.stats.pearsonr(dp[top], dt[top])[0], rel=1e-12)

    def test_deg_sign_agreement_equals_a_loop(self, cells):
        pred, true, control = cells
        dp, dt = pred.mean(0) - control.mean(0), true.mean(0) - control.mean(0)
        for k in (1, 7, 20, 30):
            top = sorted(range(30), key=lambda j: -abs(dt[j]))[:k]
            agree = sum(1 for j in top if np.sign(dp[j]) == np.sign(dt[j])) / k
            assert deg_sign_agreement(pred, true, control, top_k=k) == pytest.approx(agree)
        # the true cells themselves agree everywhere; their mirror image nowhere
        assert deg_sign_agreement(true, true, control) == 1.0
        mirror = 2 * control.mean(0) - true
        assert deg_sign_agreement(mirror, true, control) == 0.0
        assert delta_pearson(mirror, true, control) == pytest.approx(-1.0)

    def test_undefined_and_bad_input(self, cells):
        pred, true, control = cells
        with pytest.raises(ValueError, match="non-constant effects"):
            delta_pearson(control, true, control)  # predicts no change: a constant zero delta
        with pytest.raises(ValueError, match="non-constant effects"):
            delta_pearson(pred, true, control, top_k=1)
        with pytest.raises(ValueError, match="control has 29 features"):
            delta_pearson(pred, true, control[:, :29])
        with pytest.raises(ValueError, match="top_k must be a positive integer"):
            deg_sign_agreement(pred, true, control, top_k=0)
        with pytest.raises(TypeError, match="top_k must be a positive integer"):
            deg_sign_agreement(pred, true, control, top_k=2.5)


def naive_energy(x, y):
    return 2 * cdist(x, y).mean() - cdist(x, x).mean() - cdist(y, y).mean()


def naive_energy_perm_pvalue(x, y, perms):
    """The E-test by brute force: the energy distance (scipy cdist) of each relabelled pool."""
    pool = np.vstack([x, y])
    obs = naive_energy(x, y)
    exceed = sum(naive_energy(pool[p[: len(x)]], pool[p[len(x):]]) >= obs - 1e-12 * obs
                 for p in perms)
    return obs, (1 + exceed) / (1 + len(perms))


class TestEnergyTest:
    def test_matches_brute_force_permutations(self):
        rng = np.random.default_rng(1)
        x, y = rng.normal(size=(15, 3)), rng.normal(size=(12, 3)) + 0.4
        res = energy_test(x, y, n_permutations=200, random_state=7, batch=16)
        # the same permutations: replay the generator the way energy_test draws them
        r = np.random.default_rng(7)
        perms = [r.permutation(27) for _ in range(200)]
        obs, p = naive_energy_perm_pvalue(x, y, perms)
        assert res.statistic == pytest.approx(obs, rel=1e-10)
        assert res.statistic == pytest.approx(energy_distance(x, y), rel=1e-7)
        assert res.p_value == pytest.approx(p)
        assert res.n_permutations == 200

    def test_exact_enumeration_and_calibration(self):
        """Tiny samples: every split enumerated; the p-value of identical samples is large, of far
        apart ones the smallest possible."""
        x = np.array([[0.0], [0.1], [0.2]])
        far = x + 100
        res = energy_test(x, far, n_permutations=400, random_state=0)
        splits = list(itertools.combinations(range(6), 3))  # 20 splits, 2 of them extreme
        assert res.p_value == pytest.approx(1 / 401 + 400 / 401 * 2 / 20, abs=0.06)
        assert energy_test(x, x, n_permutations=50, random_state=0).p_value == 1.0
        assert len(splits) == 20
        # under the null the p-value is roughly uniform: about 5 % of 200 tests below 0.05
        rng = np.random.default_rng(3)
        ps = [energy_test(rng.normal(size=(10, 2)), rng.normal(size=(10, 2)), n_permutations=99,
                          random_state=i).p_value for i in range(200)]
        assert 0.01 <= np.mean(np.array(ps) <= 0.05) <= 0.11

    def test_seeded_and_bad_input(self):
        rng = np.random.default_rng(2)
        x, y = rng.normal(size=(20, 2)), rng.normal(size=(20, 2))
        assert energy_test(x, y, random_state=4) == energy_test(x, y, random_state=4)
        with pytest.raises(ValueError, match="n_permutations must be a positive integer"):
            energy_test(x, y, n_permutations=0)
        with pytest.raises(ValueError, match="subsample both samples"):
            energy_test(np.zeros((5000, 1)), np.zeros((4000, 1)))
        assert energy_test(x * 1e30, y * 1e30, random_state=4).p_value == energy_test(
            x, y, random_state=4).p_value


class TestPairedTest:
    def test_equals_scipy(self):
        u = np.array([0.10, 0.12, 0.09, 0.08, 0.11])
        b = np.array([0.15, 0.14, 0.13, 0.16, 0.12])
        res = paired_test(u, b, higher_is_better=False)
        assert res.n == 5 and res.mean_improvement == pytest.approx(np.mean(b - u))
        assert res.wilcoxon_p == pytest.approx(
            scipy.stats.wilcoxon(u, b, alternative="less").pvalue)
        assert res.ttest_p == pytest.approx(scipy.stats.ttest_rel(u, b, alternative="less").pvalue)
        assert res.wilcoxon_p == pytest.approx(1 / 32)  # all 5 better: the exact minimum
        hi = paired_test(-u, -b, higher_is_better=True)
        assert hi.wilcoxon_p == pytest.approx(res.wilcoxon_p) and hi.ttest_p == pytest.approx(
            res.ttest_p)

    def test_degenerate(self):
        assert np.isnan(paired_test([1.0], [2.0], higher_is_better=False).wilcoxon_p)
        assert np.isnan(paired_test([1.0, 1.0], [1.0, 1.0], higher_is_better=False).ttest_p)
        res = paired_test([1.0, np.nan, 3.0], [2.0, 2.0, np.nan], higher_is_better=True)
        assert res.n == 1
        with pytest.raises(ValueError, match="pair them by seed"):
            paired_test([1.0, 2.0], [1.0], higher_is_better=True)
        with pytest.raises(TypeError, match="higher_is_better must be True or False"):
            paired_test([1.0], [1.0], higher_is_better="yes")


class TestCalibrationAndRank:
    def test_calibrated_score(self):
        assert calibrated_score(0.05, 0.1, 0.0) == pytest.approx(0.5)
        assert calibrated_score(0.1, 0.1, 0.0) == 0.0 and calibrated_score(0.0, 0.1, 0.0) == 1.0
        assert calibrated_score(0.9, 0.5, 0.95) == pytest.approx(0.4 / 0.45)  # higher is better
        assert np.isnan(calibrated_score(0.3, 0.2, 0.2))
        got = calibrated_score([0.2, 0.05], [0.1, 0.1], [0.0, 0.0])
        assert np.allclose(got, [-1.0, 0.5])

    def test_rank_metrics_against_a_loop(self):
        rng = np.random.default_rng(8)
        obs = rng.normal(size=(6, 4))
        pred = obs + rng.normal(size=(6, 4)) * 0.8
        rank, hit = rank_metrics(pred, obs)
        d = cdist(pred, obs)
        for i in range(6):
            closer = sum(1 for j in range(6) if j != i and d[i, j] < d[i, i])
            assert rank[i] == pytest.approx(closer / 5)
            assert hit[i] == float(np.argmin(d[i]) == i)
        r0, h0 = rank_metrics(obs, obs)
        assert np.all(r0 == 0) and np.all(h0 == 1)
        with pytest.raises(ValueError, match="at least 2 conditions"):
            rank_metrics(obs[:1], obs[:1])
        with pytest.raises(ValueError, match="shape"):
            rank_metrics(obs, obs[:5])


class TestRegistry:
    def test_entries_and_directions(self):
        names = metric_names("row")
        assert names[:7] == ("mmd2", "mmd2_cellot", "energy", "w2", "mean_r2", "mean_pearson",
                             "rmse_paired")
        for n in ("mmd2", "energy", "w2", "rmse_paired", "fit_time_s", "rank"):
            assert higher_is_better(n) is False
        for n in ("mean_r2", "delta_pearson", "deg_sign", "etest_p", "centroid_acc"):
            assert higher_is_better(n) is True
        assert "gamma" in get_metric("mmd2").needs and "control" in get_metric("deg_sign").needs
        assert metric_names("table") == ("rank", "centroid_acc")

    def test_functions_are_the_metrics(self, cells):
        pred, true, control = cells
        assert get_metric("energy").function(pred, true) == energy_distance(pred, true)
        assert get_metric("deg_sign").function(pred, true, control) == deg_sign_agreement(
            pred, true, control)

    def test_errors(self):
        with pytest.raises(ValueError, match="unknown metric 'mdm2'"):
            get_metric("mdm2")
        with pytest.raises(ValueError, match="already registered"):
            register_metric(Metric("mmd2", "x", False))
        with pytest.raises(ValueError, match="scope must be one of"):
            register_metric(Metric("new_metric", "x", False, scope="everywhere"))

    def test_tables_read_the_registry(self):
        from trackability.experiments.bench import METRICS
        from trackability.experiments.tables import LOWER_IS_BETTER
        from trackability.plotting.benchmark import METRIC_LABELS

        assert METRICS == metric_names("row")
        assert LOWER_IS_BETTER == {n for n in metric_names() if not higher_is_better(n)}
        assert METRIC_LABELS["mmd2"] == get_metric("mmd2").label


def _results(seeds=5):
    """A hand-made results table: meanshift, a better and a worse method, with ceilings."""
    rows = []
    rng = np.random.default_rng(0)
    for task in ("a", "b"):
        for s in range(seeds):
            ceil = 0.01 + 0.001 * rng.random()
            base = 0.10 + 0.01 * rng.random()
            for method, val in (("meanshift", base), ("good", 0.03 + 0.005 * rng.random()),
                                ("bad", 0.2 + 0.01 * rng.random())):
                rows.append({"task": task, "task_group": "g", "method": method,
                             "method_key": method, "seed": s, "status": "ok", "mmd2": val,
                             "ceiling.mmd2": ceil})
    return pd.DataFrame(rows)


class TestTables:
    def test_calibrated_against_a_loop(self):
        from trackability.experiments.tables import calibrated, pivot, pivot_calibrated

        df = _results()
        cal = calibrated(df, "mmd2")
        assert set(cal["method"]) == {"good", "bad"}
        for _, r in cal.iterrows():
            sub = df[(df["task"] == r["task"]) & (df["seed"] == r["seed"])].set_index("method")
            u, b, c = sub.loc[r["method"], "mmd2"], sub.loc["meanshift", "mmd2"], sub.loc[
                "meanshift", "ceiling.mmd2"]
            assert r["mmd2"] == pytest.approx((u - b) / (c - b))
        tab = pivot_calibrated(df, "mmd2")
        assert tab.loc["a", "good"].startswith("**")  # higher calibrated score is better
        raw = pivot(df, "mmd2")
        assert list(raw.columns) == ["meanshift", "good", "bad", "replicate"]
        ceil = df[df["task"] == "a"].groupby("seed")["ceiling.mmd2"].first()
        assert raw.loc["a", "replicate"].startswith(f"{ceil.mean():.4f} ± {ceil.std(ddof=1):.4f}")
        assert not raw.loc["a", "replicate"].startswith("**")

    def test_paired_tests_against_scipy(self):
        from trackability.experiments.tables import paired_tests

        df = _results()
        tab = paired_tests(df, "mmd2").set_index(["task", "method"])
        sub = df[df["task"] == "b"]
        good = sub[sub["method"] == "good"].sort_values("seed")["mmd2"].to_numpy()
        base = sub[sub["method"] == "meanshift"].sort_values("seed")["mmd2"].to_numpy()
        assert tab.loc[("b", "good"), "wilcoxon_p"] == pytest.approx(
            scipy.stats.wilcoxon(good, base, alternative="less").pvalue)
        assert tab.loc[("b", "bad"), "mean_improvement"] < 0

    def test_rank_table_from_saved_means(self):
        import json

        from trackability.experiments.tables import rank_table

        rng = np.random.default_rng(1)
        obs = rng.normal(size=(4, 3)) * 3
        rows = []
        for s in range(3):
            for i in range(4):
                pred = obs[i] + rng.normal(size=3) * 0.1
                shuffled = obs[(i + 1) % 4]  # a method that predicts the next condition
                for method, p in (("right", pred), ("wrong", shuffled)):
                    rows.append({"task": f"t{i}", "task_group": "g", "method": method, "seed": s,
                                 "status": "ok", "score_space": "input", "preprocessing": "[]",
                                 "pred_mean": json.dumps(p.tolist()),
                                 "target_mean": json.dumps(obs[i].tolist())})
        tab = rank_table(pd.DataFrame(rows)).set_index("method")
        assert tab.loc["right", "rank_mean"] == 0.0 and tab.loc["right", "centroid_acc_mean"] == 1
        assert tab.loc["wrong", "centroid_acc_mean"] == 0.0
        assert tab.loc["right", "n_tasks"] == 4 and tab.loc["right", "n_seeds"] == 3
        # a per-task preprocessing in the model space gives each task its own coordinates: skipped
        rows2 = [{**r, "score_space": "model", "preprocessing": '["standardize"]'} for r in rows]
        assert rank_table(pd.DataFrame(rows2)).empty


def test_bench_rows_carry_ceiling_scores_and_means(tmp_path):
    """One ceiling per (task, seed), shared by every method's row; equal to score() on the halves."""
    import json

    from trackability.experiments.bench import _prepared as prepared
    from trackability.experiments.bench import plan, replicate_halves, run_benchmark, score
    from trackability.experiments.config import validate_config
    from trackability.metrics import median_heuristic_gamma

    cfg = validate_config({
        "name": "syn", "seeds": 2,
        "tasks": [{"name": "syn", "dataset": "synthetic",
                   "options": {"dims": [4], "gaps": [0.5], "n": 120, "noise": 0.05}}],
        "methods": [{"name": "identity"}, {"name": "meanshift"}],
        "metrics": {"w2_max_cells": 40, "etest_permutations": 50},
    })
    df = run_benchmark(cfg, tmp_path, backend="serial", progress=False)
    assert (df["status"] == "ok").all()
    for _, grp in df.groupby(["task", "seed"]):
        assert grp["ceiling.mmd2"].nunique() == 1 and grp["ceiling.energy"].nunique() == 1
    job = plan(cfg, tmp_path)[0]
    task, _, ptask = prepared(job)
    gamma = median_heuristic_gamma(ptask.source_train, ptask.target_train, max_samples=2000,
                                   random_state=job.seed)
    want = score(*replicate_halves(ptask.target_test, job.seed), gamma=gamma, seed=job.seed,
                 metrics_cfg=job.metrics_cfg, control=ptask.source_test)
    row = df[(df["method"] == "identity") & (df["seed"] == job.seed)].iloc[0]
    assert row["ceiling.mmd2"] == pytest.approx(want["mmd2"], rel=1e-12)
    assert row["ceiling.delta_pearson"] == pytest.approx(want["delta_pearson"], rel=1e-12)
    assert 0 < row["etest_p"] <= 1 and row["etest_permutations"] == 50
    assert len(json.loads(row["pred_mean"])) == row["d_score"]
    ms = df[(df["method"] == "meanshift") & (df["seed"] == job.seed)].iloc[0]
    # the saved mean of the mean shift: the test control mean plus the training change
    shift = ptask.target_train.mean(0) - ptask.source_train.mean(0)
    assert np.allclose(json.loads(ms["pred_mean"]), ptask.source_test.mean(0) + shift, atol=1e-7)
    assert np.allclose(json.loads(ms["target_mean"]), ptask.target_test.mean(0), atol=1e-7)
