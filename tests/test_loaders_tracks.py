"""Loaders of the ground-truth sets: NF-kB tracks (Nienaltowski 2021) and LARRY clones (Weinreb 2020).

Checked on the real files against independent reads (pandas / anndata directly) and the counts of
../shared/data/README.md, and on small malformed copies written to tmp_path.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from trackability.data import NFKB_DOSES, NFKB_MINUTES, clone_ids, load_nfkb, load_weinreb
from trackability.data.loaders.nfkb import NFKB_CELL_COUNTS

MIN = [str(m) for m in NFKB_MINUTES]


def _nfkb_frame(n_per_dose: int = 2) -> pd.DataFrame:
    rows = []
    rng = np.random.default_rng(0)
    for d in (0.0, 0.1, 10.0):
        for k in range(n_per_dose):
            text = f"{d:.2f}".replace(".", ",") + "ng"
            rows.append({"signal": d, "sample": f"1_2_3_{text}_X{k}",
                         **{m: float(v) for m, v in zip(MIN, rng.random(21), strict=True)}})
    return pd.DataFrame(rows)


def test_nfkb_small_file_round_trip(tmp_path: Path):
    frame = _nfkb_frame()
    f = tmp_path / "tracks.csv.gz"
    frame.to_csv(f, index=False)
    a = load_nfkb(f)
    assert a.shape == (6, 21)
    np.testing.assert_allclose(a.X, frame[MIN].to_numpy(), rtol=1e-12)  # CSV text round trip
    assert list(a.var["minute"]) == list(range(0, 61, 3))
    assert list(a.obs["dose"]) == list(frame["signal"])
    assert set(a.obs["experiment"]) == {"1"} and set(a.obs["well"]) == {"2_3"}
    assert list(a.obs_names) == list(frame["sample"])
    b = load_nfkb(f, doses=[0.1])
    assert b.n_obs == 2 and set(b.obs["dose"]) == {0.1}


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda fr: fr.drop(columns=["30"]), "missing column"),
        (lambda fr: fr.assign(**{"3": ["x"] + [0.0] * (len(fr) - 1)}), "non-numeric"),
        (lambda fr: fr.assign(**{"3": [np.nan] + [0.0] * (len(fr) - 1)}), "missing or non-finite"),
        (lambda fr: fr.assign(signal=[7.0] + list(fr["signal"][1:])), "unknown dose"),
        (lambda fr: fr.assign(sample=["bad_id"] + list(fr["sample"][1:])), "not of the form"),
        (lambda fr: fr.assign(sample=[fr["sample"][1]] + list(fr["sample"][1:])), "more than once"),
        (lambda fr: fr.iloc[:0], "no cells"),
    ],
)
def test_nfkb_malformed_files_are_refused_naming_the_file(tmp_path: Path, edit, match):
    f = tmp_path / "tracks.csv"
    edit(_nfkb_frame()).to_csv(f, index=False)
    with pytest.raises(ValueError, match=match) as err:
        load_nfkb(f)
    assert "tracks.csv" in str(err.value)


def test_nfkb_truncated_gzip_and_bad_doses(tmp_path: Path):
    f = tmp_path / "tracks.csv.gz"
    _nfkb_frame().to_csv(f, index=False)
    raw = f.read_bytes()
    f.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="tracks.csv.gz"):
        load_nfkb(f)
    with pytest.raises(ValueError, match="doses"):
        load_nfkb(f, doses=[3.3])
    with pytest.raises(TypeError, match="doses"):
        load_nfkb(f, doses=["a"])
    with pytest.raises(FileNotFoundError):
        load_nfkb(tmp_path / "none.csv.gz")
    assert gzip  # the module is what pandas uses for .gz


def _larry(tmp_path: Path, **edits) -> Path:
    rng = np.random.default_rng(0)
    n = 9
    obs = pd.DataFrame({"time_info": pd.Categorical(["2", "4", "6"] * 3),
                        "state_info": pd.Categorical(["Baso", "Neutrophil", "Monocyte"] * 3)},
                       index=[f"c{i}" for i in range(n)])
    clones = sp.csr_matrix((np.ones(n, dtype=bool), (np.arange(n), np.arange(n) % 4)), shape=(n, 4))
    a = anndata.AnnData(X=rng.random((n, 5)).astype(np.float32), obs=obs)
    a.obsm["X_clone"] = clones
    for k, v in edits.items():
        if k == "drop_obs":
            del a.obs[v]
        elif k == "drop_obsm":
            del a.obsm[v]
        elif k == "X":
            a.X = v
        elif k == "time_info":
            a.obs["time_info"] = v
    f = tmp_path / "larry.h5ad"
    a.write_h5ad(f)
    return f


def test_weinreb_small_file(tmp_path: Path):
    a = load_weinreb(_larry(tmp_path))
    assert list(a.obs["day"]) == [2, 4, 6] * 3
    assert list(a.obs["clone"]) == [i % 4 for i in range(9)]
    assert list(clone_ids(a)) == list(a.obs["clone"])
    b = load_weinreb(_larry(tmp_path), days=[4, "6"])
    assert b.n_obs == 6 and set(b.obs["day"]) == {4, 6}


@pytest.mark.parametrize(
    ("edits", "match"),
    [
        ({"drop_obs": "state_info"}, "state_info"),
        ({"drop_obsm": "X_clone"}, "X_clone"),
        ({"time_info": pd.Categorical(["2", "4", "9"] * 3)}, "time_info"),
        ({"X": np.full((9, 5), np.nan, dtype=np.float32)}, "NaN"),
    ],
)
def test_weinreb_malformed_files(tmp_path: Path, edits, match):
    with pytest.raises(ValueError, match=match):
        load_weinreb(_larry(tmp_path, **edits))


def test_weinreb_bad_days_and_corrupt_file(tmp_path: Path):
    with pytest.raises(ValueError, match="days"):
        load_weinreb(_larry(tmp_path), days=[5])
    f = tmp_path / "broken.h5ad"
    f.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="broken.h5ad"):
        load_weinreb(f)


# -- the real files ---------------------------------------------------------------------------------


@pytest.mark.realdata
def test_nfkb_real_file(real_data_dir: Path):
    f = real_data_dir / "nfkb2021" / "nfkb_tnf_tracks.csv.gz"
    a = load_nfkb(f)
    raw = pd.read_csv(f)
    assert a.shape == (11_542, 21)
    np.testing.assert_array_equal(a.X, raw[MIN].to_numpy())
    counts = a.obs["dose"].value_counts().to_dict()
    assert counts == NFKB_CELL_COUNTS
    assert sorted(counts) == list(NFKB_DOSES)
    # the README: within-cell rank correlation 0.94 at a 3-min gap, 0.11 at 45 min (mean over the
    # time points): rows are the same cell at every time point
    from scipy.stats import spearmanr

    def mean_rho(lag: int) -> float:
        return float(np.mean([spearmanr(a.X[:, t], a.X[:, t + lag]).statistic for t in range(21 - lag)]))

    assert mean_rho(1) == pytest.approx(0.94, abs=0.005)
    assert mean_rho(15) == pytest.approx(0.11, abs=0.005)


@pytest.mark.realdata
def test_weinreb_real_file(real_data_dir: Path):
    f = real_data_dir / "weinreb2020" / "larry_cospar_subset.h5ad"
    a = load_weinreb(f)
    raw = anndata.read_h5ad(f)
    assert a.shape == (781, 2481)
    assert a.obs["day"].value_counts().to_dict() == {6: 431, 4: 316, 2: 34}
    c = a.obs["clone"].to_numpy()
    d = a.obs["day"].to_numpy()
    shared = set(c[(d == 4) & (c >= 0)]) & set(c[(d == 6) & (c >= 0)])
    assert len(shared) == 113  # the README
    ref = np.asarray(raw.obsm["X_clone"].toarray()).argmax(axis=1)
    np.testing.assert_array_equal(c, ref)
