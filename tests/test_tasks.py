"""Splits and task builders: seeded, disjoint, covering, no test leakage, never "first rows"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trackability.data.task_builders import build_task, build_tasks, task_names
from trackability.data.tasks import (
    Task,
    random_split,
    split_holdout,
    split_replicate,
    split_within,
)


def _row_ids(x: np.ndarray) -> set[float]:
    """Rows of our test matrices carry a unique id in column 0."""
    return set(x[:, 0].tolist())


def _ided(n: int, d: int, offset: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.normal(size=(n, d))
    x[:, 0] = offset + np.arange(n)
    return x


# -- random_split -------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3, 10, 101])
def test_random_split_partitions_and_sizes(n):
    tr, va, te = random_split(n, (0.6, 0.2, 0.2), random_state=0)
    allidx = np.concatenate([tr, va, te])
    assert sorted(allidx.tolist()) == list(range(n))  # disjoint and covering
    assert te.size == max(1, round(0.2 * n))
    assert tr.size >= 1
    if n >= 3:
        assert va.size >= 1


def test_random_split_seeded_and_not_first_rows():
    a = random_split(100, random_state=3)
    b = random_split(100, random_state=3)
    c = random_split(100, random_state=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[2], c[2])
    assert not np.array_equal(a[0], np.arange(a[0].size))  # not the first rows


@pytest.mark.parametrize(
    ("fractions", "match"),
    [((0.5, 0.5), "train, val, test"), ((0.5, 0.2, 0.2), "sum to 1"), ((0.0, 0.5, 0.5), "train and test")],
)
def test_random_split_bad_fractions(fractions, match):
    with pytest.raises(ValueError, match=match):
        random_split(10, fractions)


def test_random_split_too_few_cells():
    with pytest.raises(ValueError, match="at least 2"):
        random_split(1)


# -- split kinds --------------------------------------------------------------------------------
def test_split_within_covers_each_group_once(rng):
    src, tgt = _ided(50, 3, 0, rng), _ided(40, 3, 1000, rng)
    lab = {"source": np.arange(50) % 2, "target": np.arange(40) % 3}
    t = split_within(src, tgt, name="t", random_state=1, labels=lab)
    s_parts = [t.source_train, t.source_val, t.source_test]
    t_parts = [t.target_train, t.target_val, t.target_test]
    assert sum(len(p) for p in s_parts) == 50 and sum(len(p) for p in t_parts) == 40
    assert set().union(*map(_row_ids, s_parts)) == set(range(50))
    assert set().union(*map(_row_ids, t_parts)) == set(range(1000, 1040))
    assert (len(t.source_train), len(t.source_val), len(t.source_test)) == (30, 10, 10)
    # labels travel with their rows
    np.testing.assert_array_equal(t.labels["source_test"], t.source_test[:, 0].astype(int) % 2)
    np.testing.assert_array_equal(t.labels["target_val"], (t.target_val[:, 0] - 1000).astype(int) % 3)


def test_split_within_test_truth_follows_source_rows(rng):
    src = _ided(30, 2, 0, rng)
    truth = src * 2.0
    t = split_within(src, src + 1, name="t", random_state=0, test_truth=truth)
    np.testing.assert_allclose(t.test_truth, t.source_test * 2.0)


def test_split_replicate(rng):
    src, tgt = _ided(40, 2, 0, rng), _ided(40, 2, 100, rng)
    rs, rt = np.repeat([1, 2], 20), np.tile([1, 2], 20)
    t = split_replicate(src, tgt, rs, rt, name="r", train_replicate=1, test_replicate=2,
                        val_fraction=0.25, random_state=0)
    assert _row_ids(t.source_test) == set(np.flatnonzero(rs == 2).tolist())
    assert _row_ids(t.target_test) == {100 + i for i in np.flatnonzero(rt == 2)}
    assert _row_ids(t.source_train) | _row_ids(t.source_val) == set(np.flatnonzero(rs == 1).tolist())
    assert len(t.source_val) == 5
    with pytest.raises(ValueError, match="replicates present"):
        split_replicate(src, tgt, rs, rt, name="r", train_replicate=1, test_replicate=3)


@pytest.mark.parametrize("include", [True, False])
def test_split_holdout_never_trains_on_held_out_treated(rng, include):
    n0, n1 = 60, 45
    src, tgt = _ided(n0, 3, 0, rng), _ided(n1, 3, 1000, rng)
    cs, ct = np.array(list("abc") * 20), np.array(list("abc") * 15)
    t = split_holdout(src, tgt, cs, ct, name="h", holdout="b", random_state=2,
                      include_holdout_source=include)
    held_t = {1000 + i for i in np.flatnonzero(ct == "b")}
    held_s = set(np.flatnonzero(cs == "b").tolist())
    assert _row_ids(t.target_test) == held_t
    assert not (_row_ids(t.target_train) | _row_ids(t.target_val)) & held_t
    assert _row_ids(t.source_test) <= held_s
    assert not _row_ids(t.source_test) & (_row_ids(t.source_train) | _row_ids(t.source_val))
    in_train = _row_ids(t.source_train) & held_s
    assert bool(in_train) is include
    assert set(t.labels["target_train"]) == {"a", "c"}
    assert set(t.labels["source_test"]) == {"b"}
    with pytest.raises(ValueError, match="contexts present"):
        split_holdout(src, tgt, cs, ct, name="h", holdout="zzz")


def test_task_validation_messages(rng):
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    with pytest.raises(ValueError, match="target_train has 2 features"):
        Task("x", a, b, a, a, a, a, ["f0", "f1", "f2"])
    with pytest.raises(ValueError, match="feature names"):
        Task("x", a, a, a, a, a, a, ["f0"])
    bad = a.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Task("x", a, a, a, a, bad, a, ["f0", "f1", "f2"])


# -- builders -----------------------------------------------------------------------------------
def test_synthetic_builder_truth_and_held_out_cells():
    opts = {"dims": [4], "gaps": [0.3], "n": 60, "noise": 0.0}
    (name,) = task_names("synthetic", **opts)
    t = build_task("synthetic", name, seed=5, **opts)
    t2 = build_task("synthetic", name, seed=5, **opts)
    np.testing.assert_array_equal(t.source_test, t2.source_test)
    # test_truth is the (linear, noiseless) image of the test control cells: the map solved from
    # them sends the training control cells exactly onto the training treated cells
    w_hat, *_ = np.linalg.lstsq(t.source_test, t.test_truth, rcond=None)

    def rows(x):
        return x[np.lexsort(np.round(x, 8).T)]

    np.testing.assert_allclose(rows(t.source_train @ w_hat), rows(t.target_train), atol=1e-8)
    # the test targets are the images of *other* held-out cells (independent of source_test)
    assert not set(map(tuple, np.round(t.target_test, 8))) & set(map(tuple, np.round(t.test_truth, 8)))
    assert len(t.source_test) + len(t.target_test) == 12  # the 20 % test cells, halved
    assert len(t.source_train) == len(t.target_train) == 36
    assert t.meta["gap"] == 0.3 and t.meta["d"] == 4
    # different seeds, different data
    t3 = build_task("synthetic", name, seed=6, **opts)
    assert not np.allclose(t3.source_test[:3], t.source_test[:3])


def test_benchmark_marks_the_critical_gap_of_synthetic_tasks():
    # the data layer records the true rate; the benchmark computes Delta from the training controls
    from trackability.diagnostics.critical import critical_gap
    from trackability.diagnostics.rip import rip
    from trackability.experiments.bench import critical_gap_of

    opts = {"dims": [3], "gaps": [0.1], "n": 40}
    t = build_tasks("synthetic", seed=0, **opts)[0]
    assert "critical_gap" not in t.meta and t.meta["lipschitz_rate"] > 0
    delta = critical_gap_of(t)
    assert delta is not None and np.isfinite(delta) and delta > 0
    r = rip(t.source_train, 2, progress=False)
    expect = critical_gap(min(r.delta, 1.0), len(t.source_train), t.meta["lipschitz_rate"],
                          scale=r.scale)
    assert delta == pytest.approx(expect)
    assert critical_gap_of(_no_rate(t)) is None


def _no_rate(t):
    t.meta.pop("lipschitz_rate")
    return t


def test_data_layer_imports_nothing_from_the_layers_above():
    import ast
    from pathlib import Path

    import trackability.data as tdata

    above = ("trackability.diagnostics", "trackability.models", "trackability.experiments",
             "trackability.tl", "trackability.plotting", "trackability.cli")
    root = Path(tdata.__file__).parent
    bad = []
    for f in root.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{f.name}: {m}" for m in mods if m.startswith(above)]
    assert bad == []


def _adata(x, obs):
    ad = pytest.importorskip("anndata")
    return ad.AnnData(x, obs=pd.DataFrame(obs, index=[f"c{i}" for i in range(len(x))]),
                      var=pd.DataFrame(index=[f"g{j}" for j in range(x.shape[1])]))


def test_sachs_builder_on_a_small_anndata(rng):
    ids = np.repeat([1, 3, 4, 5, 6, 7], 20)
    names = {1: "cd3cd28", 3: "akt", 4: "g06", 5: "psi", 6: "u0126", 7: "ly"}
    x = _ided(len(ids), 4, 0, rng)
    a = _adata(x, {"condition_id": ids, "condition": [names[i] for i in ids]})
    got = task_names("sachs", adata=a, controls=[1])
    assert got == ["akt", "g06", "psi", "u0126", "ly"]
    t = build_task("sachs", "u0126", 0, adata=a, controls=[1])
    assert _row_ids(np.vstack([t.source_train, t.source_val, t.source_test])) == set(range(20))
    assert _row_ids(t.target_test) <= set(np.flatnonzero(ids == 6).tolist())
    assert t.meta["control_id"] == 1 and t.meta["treated_id"] == 6
    only = task_names("sachs", adata=a, controls=[1], treated=[3])
    assert only == ["akt"]


def test_kang_builder_holdout(rng):
    ct = np.array(["A", "B", "C"] * 30)
    cond = np.array(["control"] * 45 + ["stimulated"] * 45)
    a = _adata(_ided(90, 5, 0, rng), {"condition": cond, "cell_type": ct})
    assert task_names("kang", adata=a) == ["A", "B", "C"]
    t = build_task("kang", "B", 1, adata=a, split={"kind": "holdout"})
    stim_b = set(np.flatnonzero((cond == "stimulated") & (ct == "B")).tolist())
    assert _row_ids(t.target_test) == stim_b
    assert not _row_ids(t.target_train) & stim_b
    assert set(t.labels["source_train"]) == {"A", "B", "C"}
    with pytest.raises(ValueError, match="unknown cell type"):
        task_names("kang", adata=a, cell_types=["Z"])


def test_ap1_builder_three_split_kinds(rng):
    tdata = pytest.importorskip("trackability.data")
    feats = list(tdata.AP1_STUDY_FEATURES)
    n = 240
    line = np.array(["COLO858", "WM902B"] * (n // 2))
    cond = np.array(["DMSO"] * (n // 2) + ["0.316 uM Vemurafenib"] * (n // 2))
    time_h = np.where(cond == "DMSO", 24.0, 72.0)
    rep = np.tile([1, 1, 2, 2], n // 4)
    x = _ided(n, len(feats) + 2, 0, rng)
    ad = pytest.importorskip("anndata")
    a = ad.AnnData(x, obs=pd.DataFrame({"cell_line": line, "condition": cond, "time_h": time_h,
                                        "replicate_id": rep}, index=[f"c{i}" for i in range(n)]),
                   var=pd.DataFrame(index=[*feats, "junk0", "junk1"]))
    assert task_names("ap1", adata=a) == ["COLO858", "WM902B"]
    t = build_task("ap1", "COLO858", 0, adata=a)
    assert t.feature_names == feats  # the study's 10 features only
    colo_ctrl = set(np.flatnonzero((line == "COLO858") & (cond == "DMSO")).tolist())
    assert _row_ids(np.vstack([t.source_train, t.source_val, t.source_test])) == colo_ctrl
    r = build_task("ap1", "COLO858", 0, adata=a, split={"kind": "replicate"})
    assert _row_ids(r.source_test) == colo_ctrl & set(np.flatnonzero(rep == 2).tolist())
    h = build_task("ap1", "WM902B", 0, adata=a, split={"kind": "holdout"})
    wm_treated = set(np.flatnonzero((line == "WM902B") & (cond != "DMSO")).tolist())
    assert _row_ids(h.target_test) == wm_treated
    assert not _row_ids(h.target_train) & wm_treated


def test_sciplex3_builder_scores_on_marker_genes(rng):
    tdata = pytest.importorskip("trackability.data")
    key = tdata.SCIPLEX3_MARKER_KEY
    drug = np.array(["control"] * 30 + ["trametinib"] * 30)
    a = _adata(_ided(60, 8, 0, rng), {"drug": drug, "cell_type": ["A549"] * 60, "dose": 1.0})
    ranks = pd.DataFrame({"trametinib": [5, 1, 8, 2, 7, 3, 6, 4]}, index=a.var_names)
    a.varm[key] = ranks
    t = build_task("sciplex3", "trametinib", 0, adata=a, drugs=["trametinib"], n_markers=3)
    # genes with the smallest ranks: g1 (1), g3 (2), g5 (3)
    assert sorted(t.score_features.tolist()) == [1, 3, 5]


def test_two_i_builder_gaps_in_hours(rng):
    day = np.array([8.5] * 20 + [9.0] * 20 + [10.5] * 20)
    a = _adata(_ided(60, 3, 0, rng), {"day": day})
    names = task_names("2i", adata=a, days=[9.0, 10.5])
    assert names == ["day 9", "day 10.5"]
    t = build_task("2i", "day 10.5", 0, adata=a, days=[9.0, 10.5])
    assert t.meta["gap"] == pytest.approx(48.0)
    assert _row_ids(t.target_test) <= set(range(40, 60))


def test_unknown_dataset_and_task():
    with pytest.raises(ValueError, match="dataset must be one of"):
        task_names("nope")
    with pytest.raises(KeyError, match="no task"):
        build_task("synthetic", "d=99 gap=1", 0, dims=[2], gaps=[0.1], n=20)


@pytest.mark.realdata
def test_kang_holdout_on_the_real_file(real_data_dir):
    from trackability.data import load_kang

    a = load_kang()
    names = task_names("kang", adata=a)
    assert len(names) == 7 and "CD4T" in names
    t = build_task("kang", "NK", 0, adata=a, split={"kind": "holdout"})
    cond, ct = a.obs["condition"].astype(str).to_numpy(), a.obs["cell_type"].astype(str).to_numpy()
    assert len(t.target_test) == int(np.sum((cond == "stimulated") & (ct == "NK")))  # 87
    assert "NK" not in set(t.labels["target_train"]) | set(t.labels["target_val"])
    n_ctrl = int(np.sum((cond == "control") & (ct == "NK")))  # 54
    assert len(t.source_test) == round(0.2 * n_ctrl)
    assert t.n_features == a.n_vars


def test_kang_builder_never_reuses_another_anndatas_cells(rng):
    # two AnnData objects built one after the other (the first freed): each task must come from
    # its own cells, even if Python reuses the first object's id for the second
    for offset in (0, 5000):
        ct = np.array(["A", "B"] * 20)
        cond = np.array(["control"] * 20 + ["stimulated"] * 20)
        a = _adata(_ided(40, 3, offset, rng), {"condition": cond, "cell_type": ct})
        t = build_task("kang", "A", 0, adata=a, split={"kind": "holdout"})
        assert min(_row_ids(t.target_test)) >= offset
        del a
