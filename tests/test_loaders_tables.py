"""Loaders and tasks of the real tables of issue 12, against an independent read of the files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trackability.data import (
    load_bodenmiller,
    load_chu,
    load_kang3,
    load_kouno,
    load_serum,
    load_wot2017,
)
from trackability.data.loaders._files import DataFileError
from trackability.data.task_builders import build_task, task_names

pytestmark = pytest.mark.realdata


def _rows(*arrays):
    return {tuple(r) for a in arrays for r in a}


def test_bodenmiller_is_arcsinh_of_the_raw_counts(real_data_dir):
    raw = pd.read_csv(real_data_dir / "bodenmiller2012" / "bodenmiller2012_pbmc_bcrxl.csv.gz")
    panel = pd.read_csv(real_data_dir / "bodenmiller2012" / "panel.csv")
    a = load_bodenmiller()
    assert a.shape == (5428, 24)
    np.testing.assert_allclose(a.X, np.arcsinh(raw[panel["fcs_colname"]].to_numpy() / 5.0), rtol=0,
                               atol=1e-12)
    assert list(a.var_names) == list(panel["antigen"])
    assert (a.var["marker_class"] == "state").sum() == 14
    counts = a.obs.groupby(["condition", "patient"], observed=True).size().to_dict()
    assert counts[("Ref", "patient1")] == 881 and counts[("BCRXL", "patient4")] == 934
    # pS6 rises in BCR-XL (README: 0.07 -> 3.71 in B cells only; here the median over all cells)
    ps6 = a[:, "pS6"].X[:, 0]
    assert np.median(ps6[a.obs["condition"] == "BCRXL"]) > np.median(ps6[a.obs["condition"] == "Ref"])


def test_bodenmiller_tasks_use_the_right_cells(real_data_dir):
    a = load_bodenmiller()
    x, obs = a.X, a.obs
    assert task_names("bodenmiller") == ["patient1", "patient2", "patient3", "patient4"]
    w = build_task("bodenmiller", "patient2", 0, adata=a)
    want = _rows(x[(obs["condition"] == "BCRXL").to_numpy() & (obs["patient"] == "patient2").to_numpy()])
    assert _rows(w.target_train, w.target_val, w.target_test) == want
    r = build_task("bodenmiller", "patient2", 0, adata=a, split={"kind": "replicate"})
    p2 = _rows(x[(obs["patient"] == "patient2").to_numpy()])
    assert not (_rows(r.source_train, r.source_val, r.target_train, r.target_val) & p2)
    assert _rows(r.target_test) == want
    h = build_task("bodenmiller", "patient2", 0, adata=a, split={"kind": "holdout"})
    assert _rows(h.source_train) & p2 and not (_rows(h.target_train, h.target_val) & p2)


def test_time_courses_read_exactly(real_data_dir):
    raw = pd.read_csv(real_data_dir / "chu2016" / "chu2016_hesc_de_tf100.csv.gz")
    c = load_chu()
    assert c.shape == (758, 100)
    np.testing.assert_array_equal(c.X, raw.drop(columns=["time", "ptime"]).to_numpy())
    assert c.obs["time_h"].value_counts().sort_index().tolist() == [92, 102, 66, 172, 138, 188]
    k = load_kouno()
    assert k.shape == (960, 45) and set(k.obs["time_h"].value_counts()) == {120}
    assert task_names("kouno") == [f"time_h {t}" for t in (1, 6, 12, 24, 48, 72, 96)]
    t = build_task("chu", "time_h 36", 0, adata=c)
    assert t.meta["gap_h"] == 36.0 and t.meta["control_time"] == 0.0
    assert sum(t.sizes()[f"target_{p}"] for p in ("train", "val", "test")) == 172


def test_schiebinger_slices_and_captures(real_data_dir):
    w = load_wot2017()
    dm = pd.read_csv(real_data_dir / "schiebinger2019" / "wot2017_diffusion_map.csv.gz")
    np.testing.assert_array_equal(w.X, dm.drop(columns="id").to_numpy())
    counts = w.obs.groupby(["day", "capture"], observed=True).size().to_dict()
    assert counts == {(0.0, "c1"): 4060, (2.0, "c1"): 2890, (2.0, "c2"): 2729}
    t = build_task("wot2017", "day 2", 0, adata=w)
    assert t.meta["gap_h"] == 48.0 and t.meta["replicate_key"] == "capture"
    caps = np.concatenate([t.labels[f"target_{p}"] for p in ("train", "val", "test")])
    assert (caps == "c1").sum() == 2890 and (caps == "c2").sum() == 2729
    s = load_serum()
    assert s.shape == (250, 1479)
    assert s.obs["day"].value_counts().to_dict() == {10.0: 85, 11.0: 84, 10.5: 81}
    assert task_names("serum") == ["day 10.5", "day 11"]
    assert task_names("serum", control=10.5) == ["day 11"]


def test_kang3_donor_and_cell_type_tasks(real_data_dir):
    import anndata

    ref = anndata.read_h5ad(real_data_dir / "kang2018" / "kang2018_3donors_9517x100.h5ad")
    a = load_kang3()
    np.testing.assert_array_equal(a.X, np.asarray(ref.layers["logcounts"].todense()
                                                  if hasattr(ref.layers["logcounts"], "todense")
                                                  else ref.layers["logcounts"]))
    assert (a.obs["condition"] == "ctrl").sum() == 4810
    r = build_task("kang3", "107", 0, adata=a)  # leave donor 107 out
    assert r.meta["split"] == "replicate"
    n_other_ctrl = int(((a.obs["condition"] == "ctrl") & (a.obs["donor"] != "107")).sum())
    assert r.sizes()["source_train"] + r.sizes()["source_val"] == n_other_ctrl
    assert r.sizes()["target_test"] == int(((a.obs["condition"] == "stim") & (a.obs["donor"] == "107")).sum())
    names = task_names("kang3", split={"kind": "holdout"})
    assert len(names) == 8 and "B cells" in names


def test_published_counts_are_checked(real_data_dir, tmp_path):
    raw = (real_data_dir / "kouno2013" / "kouno2013_thp1_pma_45tf.csv.gz")
    frame = pd.read_csv(raw)
    f = tmp_path / "kouno.csv"
    frame.iloc[:500].to_csv(f, index=False)
    with pytest.raises(DataFileError, match="holds 500 cells; the published file has 960"):
        load_kouno(f)
    assert load_kouno(f, n_cells=None).n_obs == 500
    frame.drop(columns="obstime_h").to_csv(f, index=False)
    with pytest.raises(ValueError, match=r"kouno\.csv: missing column\(s\) 'obstime_h'"):
        load_kouno(f)
