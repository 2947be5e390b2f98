"""Loaders of the data sets present in ../shared/data (Sachs 2005, Kang 2018, COLO858 4i).

Each loader is checked on the real files against independent reads (xlrd/pandas/anndata directly)
and the published cell counts, and on small malformed copies written to tmp_path (never committed).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from trackability.data import (
    SACHS_PAIRS,
    load_colo858_4i,
    load_kang,
    load_sachs,
)

pytestmark = pytest.mark.realdata

# Published cell counts per condition (Sachs et al. 2005; ../shared/data/README.md).
README_COUNTS = {1: 853, 2: 902, 3: 911, 4: 723, 5: 810, 6: 799, 7: 848,
                 8: 913, 9: 707, 10: 899, 11: 753, 12: 868, 13: 759, 14: 927}
MARKERS = ["praf", "pmek", "plcg", "PIP2", "PIP3", "p44/42", "pakts473", "PKA", "PKC", "P38", "pjnk"]


@pytest.fixture(scope="module")
def sachs_raw_xls(real_data_dir: Path) -> anndata.AnnData:
    return load_sachs(real_data_dir / "sachs2005", transform=None, source="xls")


@pytest.fixture(scope="module")
def sachs_raw_csv(real_data_dir: Path) -> anndata.AnnData:
    return load_sachs(real_data_dir / "sachs2005" / "sachs2005_tidy.csv", transform=None)


# --------------------------------------------------------------------------------------------- Sachs


def test_sachs_xls_and_csv_routes_identical(sachs_raw_xls, sachs_raw_csv):
    assert sachs_raw_xls.shape == (11672, 11)
    assert list(sachs_raw_xls.var_names) == MARKERS
    np.testing.assert_array_equal(sachs_raw_xls.X, sachs_raw_csv.X)
    cols = ["condition_id", "condition", "control_condition_id", "stimulus", "agent", "target",
            "cell_in_condition"]
    pd.testing.assert_frame_equal(sachs_raw_xls.obs[cols], sachs_raw_csv.obs[cols])
    assert sachs_raw_xls.uns["loader"]["route"] == "xls"
    assert sachs_raw_csv.uns["loader"]["route"] == "csv"
    assert set(sachs_raw_csv.obs["source_file"]) == {"sachs2005_tidy.csv"}
    pma = sachs_raw_xls.obs.condition_id == 8
    assert set(sachs_raw_xls.obs.loc[pma, "source_file"]) == {"8. pma.xls"}


def test_sachs_counts_match_readme(sachs_raw_xls):
    counts = sachs_raw_xls.obs["condition_id"].value_counts().to_dict()
    assert counts == README_COUNTS
    assert sachs_raw_xls.obs["condition_id"].dtype == np.int64
    by_name = sachs_raw_xls.obs.groupby("condition", observed=True)["condition_id"].first().to_dict()
    assert by_name["cd3cd28"] == 1 and by_name["cd3cd28+aktinhib"] == 3 and by_name["cd3cd28icam2+ly"] == 14


def test_sachs_values_match_independent_xlrd_read(real_data_dir, sachs_raw_xls):
    import xlrd

    f = real_data_dir / "sachs2005" / "raw_xls" / "4. cd3cd28+g0076.xls"
    sheet = xlrd.open_workbook(str(f)).sheet_by_index(0)
    assert sheet.row_values(0) == MARKERS
    expected = np.array([sheet.row_values(i) for i in range(1, sheet.nrows)])
    got = sachs_raw_xls.X[sachs_raw_xls.obs["condition_id"].to_numpy() == 4]
    np.testing.assert_array_equal(got, expected)
    # First cell of condition 1, read by eye from the file.
    np.testing.assert_array_equal(
        sachs_raw_xls.X[0], [26.4, 13.2, 8.82, 18.3, 58.8, 6.61, 17.0, 414.0, 17.0, 44.9, 40.0]
    )


def test_sachs_pairs_agree_with_condition_metadata(sachs_raw_csv):
    assert SACHS_PAIRS == {1: (3, 4, 5, 6, 7), 2: (10, 11, 12, 13, 14)}
    obs = sachs_raw_csv.obs.drop_duplicates("condition_id").set_index("condition_id")
    for control, treated in SACHS_PAIRS.items():
        for t in treated:
            assert obs.loc[t, "control_condition_id"] == control
            assert obs.loc[t, "stimulus"] == obs.loc[control, "stimulus"]
    # The tidy CSV's own metadata agrees with the loader's table.
    raw = pd.read_csv(Path(sachs_raw_csv.uns["loader"]["files"][0]))
    meta = raw.drop_duplicates("condition_id").set_index("condition_id")
    np.testing.assert_array_equal(meta.loc[obs.index, "control_condition_id"], obs["control_condition_id"])
    assert list(meta.loc[obs.index, "agent"].fillna("-")) == list(obs["agent"].astype(object).fillna("-"))


def test_sachs_transforms(real_data_dir, sachs_raw_csv):
    csv = real_data_dir / "sachs2005" / "sachs2005_tidy.csv"
    log = load_sachs(csv, transform="log")
    np.testing.assert_allclose(log.X, np.log(sachs_raw_csv.X), rtol=0, atol=0)
    assert log.uns["transform"] == {"method": "log"}
    asinh = load_sachs(csv, transform="arcsinh", cofactor=150)
    np.testing.assert_allclose(asinh.X, np.arcsinh(sachs_raw_csv.X / 150))
    assert asinh.uns["transform"]["cofactor"] == 150
    assert load_sachs(csv, transform="arcsinh").uns["transform"]["cofactor"] == 5
    assert sachs_raw_csv.uns["transform"] == {"method": "none"}


def test_sachs_default_location_and_subset(real_data_dir, monkeypatch):
    monkeypatch.setenv("TRACKABILITY_DATA", str(real_data_dir))
    a = load_sachs(source="csv", conditions=[2, 10])
    assert a.obs["condition_id"].tolist() == [2] * 902 + [10] * 899
    assert a.obs_names.is_unique
    b = load_sachs(real_data_dir, source="csv", conditions=[2, 10])  # the data root works too
    np.testing.assert_array_equal(a.X, b.X)
    k = load_kang(real_data_dir)
    assert k.shape == (1975, 6998)


def test_sachs_writes_to_h5ad(sachs_raw_csv, tmp_path):
    out = tmp_path / "s.h5ad"
    sachs_raw_csv.write_h5ad(out)
    back = anndata.read_h5ad(out)
    np.testing.assert_array_equal(back.X, sachs_raw_csv.X)
    assert back.uns["transform"]["method"] == "none"


@pytest.fixture
def xls_copy(real_data_dir, tmp_path) -> Path:
    dst = tmp_path / "raw_xls"
    shutil.copytree(real_data_dir / "sachs2005" / "raw_xls", dst)
    return dst


def test_sachs_xls_missing_condition_file(xls_copy):
    (xls_copy / "7. cd3cd28+ly.xls").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks the condition file.*7\. cd3cd28\+ly\.xls"):
        load_sachs(xls_copy)
    # A subset that does not need the missing file still loads.
    assert load_sachs(xls_copy, conditions=[1, 3]).n_obs == 853 + 911


def test_sachs_xls_truncated_file(xls_copy):
    f = xls_copy / "5. cd3cd28+psitect.xls"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"5\. cd3cd28\+psitect\.xls.*cannot be read"):
        load_sachs(xls_copy)


def test_sachs_xls_foreign_file_and_single_file(xls_copy):
    with pytest.raises(ValueError, match="single .xls file"):
        load_sachs(xls_copy / "1. cd3cd28.xls")
    shutil.copy(xls_copy / "1. cd3cd28.xls", xls_copy / "notes.xls")
    with pytest.raises(ValueError, match=r"notes\.xls is not one of the 14 condition files"):
        load_sachs(xls_copy)
    (xls_copy / "notes.xls").unlink()
    shutil.copy(xls_copy / "1. cd3cd28.xls", xls_copy / "01. copy.xls")
    with pytest.raises(ValueError, match="condition 1 appears twice"):
        load_sachs(xls_copy)


def test_sachs_xls_wrong_header_is_rejected(xls_copy):
    # Condition 3's file replaced by a workbook whose header differs: an xlsx renamed .xls cannot be
    # read by xlrd 2 (which only reads true .xls), so this is reported as unreadable, naming the file.
    f = xls_copy / "3. cd3cd28+aktinhib.xls"
    pd.DataFrame({"a": [1.0]}).to_excel(f.with_suffix(".xlsx"), index=False)
    f.with_suffix(".xlsx").replace(f)
    with pytest.raises(ValueError, match=r"3\. cd3cd28\+aktinhib\.xls"):
        load_sachs(xls_copy)


def test_sachs_empty_folder_and_wrong_extension(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no"):
        load_sachs(tmp_path)
    f = tmp_path / "sachs.txt"
    f.write_text("x")
    with pytest.raises(ValueError, match="extension '.txt'"):
        load_sachs(f)
    with pytest.raises(FileNotFoundError, match="no file or folder"):
        load_sachs(tmp_path / "nope")
    with pytest.raises(ValueError, match="transform must be one of"):
        load_sachs(tmp_path, transform="log10")
    with pytest.raises(ValueError, match=r"conditions: unknown id\(s\) \[0\]"):
        load_sachs(tmp_path, conditions=[0, 1])


@pytest.fixture
def sachs_frame(real_data_dir) -> pd.DataFrame:
    return pd.read_csv(real_data_dir / "sachs2005" / "sachs2005_tidy.csv")


def _write(frame: pd.DataFrame, tmp_path: Path) -> Path:
    f = tmp_path / "sachs2005_tidy.csv"
    frame.to_csv(f, index=False)
    return f


def test_sachs_csv_nan_value(sachs_frame, tmp_path):
    sachs_frame.loc[100, "PIP3"] = np.nan
    with pytest.raises(ValueError, match=r"sachs2005_tidy\.csv: column 'PIP3'.*non-finite.*row 102"):
        load_sachs(_write(sachs_frame, tmp_path))


def test_sachs_csv_text_value(sachs_frame, tmp_path):
    sachs_frame["pmek"] = sachs_frame["pmek"].astype(object)
    sachs_frame.loc[5, "pmek"] = "high"
    with pytest.raises(ValueError, match=r"column 'pmek'.*non-numeric.*'high' at row 7"):
        load_sachs(_write(sachs_frame, tmp_path))


def test_sachs_csv_non_positive_value_under_log(sachs_frame, tmp_path):
    sachs_frame.loc[2000, "PKA"] = 0.0
    f = _write(sachs_frame, tmp_path)
    with pytest.raises(ValueError, match=r"strictly positive.*marker 'PKA', condition 3"):
        load_sachs(f, transform="log")
    a = load_sachs(f, transform="arcsinh")
    assert a.X[2000, MARKERS.index("PKA")] == 0.0


def test_sachs_csv_unknown_condition_and_missing_column(sachs_frame, tmp_path):
    bad = sachs_frame.copy()
    bad.loc[10, "condition"] = "cd3cd28+drugX"
    with pytest.raises(ValueError, match=r"row 12 has condition 'cd3cd28\+drugX'.*unknown or mismatched"):
        load_sachs(_write(bad, tmp_path))
    bad = sachs_frame.copy()
    bad.loc[10, "condition_id"] = 15
    with pytest.raises(ValueError, match=r"unknown id\(s\) 15"):
        load_sachs(_write(bad, tmp_path))
    with pytest.raises(ValueError, match=r"missing column\(s\) 'pjnk'"):
        load_sachs(_write(sachs_frame.drop(columns="pjnk"), tmp_path))


def test_sachs_csv_truncated_counts(sachs_frame, tmp_path):
    with pytest.raises(ValueError, match=r"condition 14 \(cd3cd28icam2\+ly\) has 900 cells.*927"):
        load_sachs(_write(sachs_frame.iloc[:-27], tmp_path))


# ---------------------------------------------------------------------------------------------- Kang


KANG_FILE = "kang2018/kang2018_pbmc_ifnb.h5ad"


def test_kang_real(real_data_dir, monkeypatch):
    monkeypatch.setenv("TRACKABILITY_DATA", str(real_data_dir))
    a = load_kang()
    ref = anndata.read_h5ad(real_data_dir / KANG_FILE)
    assert a.shape == (1975, 6998)
    assert sp.issparse(a.X)
    assert (a.X != ref.X).nnz == 0
    assert list(a.obs["condition"].cat.categories) == ["control", "stimulated"]
    assert a.obs["condition"].value_counts().to_dict() == {"stimulated": 1039, "control": 936}
    np.testing.assert_array_equal(a.obs["condition"].astype(str), ref.obs["condition"].astype(str))
    assert set(a.obs["cell_type"]) == {"CD4T", "CD14+Mono", "B", "CD8T", "NK", "FCGR3A+Mono", "Dendritic"}
    for col in ("n_counts", "n_genes", "mt_frac"):
        np.testing.assert_array_equal(a.obs[col], ref.obs[col])
    assert "condition_original" not in a.obs
    assert a.uns["loader"]["files"] == [str(real_data_dir / KANG_FILE)]
    assert load_kang(real_data_dir / "kang2018").shape == a.shape  # the folder works too


def _kang_like(labels, cell_types=None, x=None) -> anndata.AnnData:
    n = len(labels)
    x = np.abs(np.random.default_rng(0).normal(size=(n, 4))).astype(np.float32) if x is None else x
    obs = pd.DataFrame({"label": labels, "cell_type": cell_types or ["B"] * n, "n_genes": np.arange(n)},
                       index=[f"c{i}" for i in range(n)])
    return anndata.AnnData(X=sp.csr_matrix(x), obs=obs)


def test_kang_maps_ctrl_stim_labels(tmp_path):
    a = _kang_like(["ctrl", "stim", "STIM", "ctrl"], ["CD4T", "NK", "NK", "B"])
    f = tmp_path / "k.h5ad"
    a.write_h5ad(f)
    got = load_kang(f, condition_key="label")
    assert got.obs["condition"].tolist() == ["control", "stimulated", "stimulated", "control"]
    assert got.obs["condition_original"].tolist() == ["ctrl", "stim", "STIM", "ctrl"]
    assert got.obs["n_genes"].tolist() == [0, 1, 2, 3]
    assert list(got.obs["cell_type"].cat.categories) == ["CD4T", "B", "NK"]
    assert sp.issparse(got.X)
    np.testing.assert_array_equal(got.X.toarray(), a.X.toarray())


def test_kang_rejects_malformed(tmp_path):
    f = tmp_path / "k.h5ad"
    _kang_like(["ctrl", "treated", "stim"]).write_h5ad(f)
    with pytest.raises(ValueError, match=r"k\.h5ad: obs\['label'\] holds unknown condition label.*'treated'"):
        load_kang(f, condition_key="label")
    with pytest.raises(ValueError, match=r"k\.h5ad: missing obs column\(s\) 'condition'"):
        load_kang(f)
    _kang_like(["ctrl", "ctrl"]).write_h5ad(f)
    with pytest.raises(ValueError, match="holds only \\['control'\\] cells"):
        load_kang(f, condition_key="label")
    x = np.ones((2, 4), dtype=np.float32)
    x[1, 2] = np.nan
    _kang_like(["ctrl", "stim"], x=x).write_h5ad(f)
    with pytest.raises(ValueError, match=r"k\.h5ad: X holds 1 NaN/inf value\(s\), first in variable 2"):
        load_kang(f, condition_key="label")
    _kang_like(["ctrl", "stim"]).write_h5ad(f)
    f.write_bytes(f.read_bytes()[:600])
    with pytest.raises(ValueError, match=r"k\.h5ad as an AnnData \.h5ad file \(truncated"):
        load_kang(f, condition_key="label")
    g = tmp_path / "k.csv"
    g.write_text("a,b\n")
    with pytest.raises(ValueError, match="extension '.csv'; expected .h5ad"):
        load_kang(g)
    with pytest.raises(FileNotFoundError, match="holds none of"):
        load_kang(tmp_path / ".." / tmp_path.name)  # a folder without the file


def test_kang_missing_default(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKABILITY_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="TRACKABILITY_DATA"):
        load_kang()


# ------------------------------------------------------------------------------------------- COLO858


def test_colo858_real(real_data_dir):
    a = load_colo858_4i(real_data_dir / "colo858_4i")
    ref = pd.read_csv(real_data_dir / "colo858_4i" / "colo858_4i_baseline.csv")
    assert a.shape == (5708, 6)
    assert list(a.var_names) == ["FRA1", "MITF", "NGFR", "SOX10", "AXL", "cJUN"]
    np.testing.assert_array_equal(a.X, ref[list(a.var_names)].to_numpy())
    assert a.obs["well"].value_counts().to_dict() == {"B3": 1938, "B4": 1911, "B2": 1859}
    np.testing.assert_array_equal(a.obs["hoechst_r2"], ref["hoechst_r2"])
    assert a.obs_names[0] == f"{ref.well[0]}_{ref.track_label[0]}"


def test_colo858_rejects_malformed(real_data_dir, tmp_path):
    ref = pd.read_csv(real_data_dir / "colo858_4i" / "colo858_4i_baseline.csv").head(50)
    f = tmp_path / "colo858_4i_baseline.csv"
    ref.drop(columns="AXL").to_csv(f, index=False)
    with pytest.raises(ValueError, match=r"colo858_4i_baseline\.csv: missing column\(s\) 'AXL'"):
        load_colo858_4i(f)
    bad = ref.copy()
    bad.loc[3, "NGFR"] = np.nan
    bad.to_csv(f, index=False)
    with pytest.raises(ValueError, match=r"column 'NGFR'.*non-finite.*row 5"):
        load_colo858_4i(tmp_path)
    bad = pd.concat([ref, ref.iloc[[7]]])
    bad.to_csv(f, index=False)
    with pytest.raises(ValueError, match="appears more than once"):
        load_colo858_4i(f)
    ref.iloc[:0].to_csv(f, index=False)
    with pytest.raises(ValueError, match="holds no cells"):
        load_colo858_4i(f)
