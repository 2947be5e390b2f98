"""Loaders of the data sets that are not in ../shared/data (AP-1, 4i, SciPlex3, 2i).

Each test writes a small file of the published schema into tmp_path, checks that the loader reads
it back exactly (values, obs, subsetting, marker genes, backed selection), and that malformed
variants are rejected with an error naming the file and the problem.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from trackability.data import (
    AP1_PROTEINS,
    AP1_STUDY_FEATURES,
    FOURI_STUDY_DRUGS,
    FOURI_STUDY_FEATURES,
    SCIPLEX3_STUDY_DRUGS,
    TWO_I_CONTROL_DAY,
    TWO_I_TREATED_DAYS,
    dispersion_hvg,
    load_2i,
    load_4i,
    load_ap1,
    load_sciplex3,
    parse_time_hours,
    sciplex3_marker_genes,
)

# --------------------------------------------------------------------------------------------- AP-1

AP1_CONDS = ["DMSO", "0.316 uM Vemurafenib", "0.316 uM Vem + 0.0316 uM Tram"]


def _ap1_frame(rng: np.random.Generator, n: int = 36) -> pd.DataFrame:
    lines = np.array(["COLO858", "WM902B", "SKMEL19"])[np.arange(n) % 3]
    conds = np.array(AP1_CONDS)[(np.arange(n) // 3) % 3]
    times = np.array(["24h", "72h"])[(np.arange(n) // 9) % 2]
    frame = pd.DataFrame({"cell_line": lines, "condition": conds, "time": times,
                          "replicate_id": (np.arange(n) // 18) + 1})
    for p in AP1_PROTEINS:
        frame[f"{p} (log a.u.)"] = rng.normal(5, 1, n).round(6)
    return frame


@pytest.fixture
def ap1_file(tmp_path, rng) -> tuple[Path, pd.DataFrame]:
    frame = _ap1_frame(rng)
    f = tmp_path / "mmc5.xlsx"
    frame.to_excel(f, index=False, engine="openpyxl")
    return f, frame


def test_ap1_reads_published_schema(ap1_file):
    f, frame = ap1_file
    a = load_ap1(f)
    assert a.shape == (36, 20)
    assert list(a.var_names) == list(AP1_PROTEINS)
    np.testing.assert_array_equal(a.X, frame[[f"{p} (log a.u.)" for p in AP1_PROTEINS]].to_numpy())
    assert a.obs["condition"].astype(str).tolist() == frame["condition"].tolist()
    assert a.obs["cell_line"].astype(str).tolist() == frame["cell_line"].tolist()
    assert a.obs["time"].astype(str).tolist() == frame["time"].tolist()
    np.testing.assert_array_equal(a.obs["time_h"], np.where(frame["time"] == "24h", 24.0, 72.0))
    np.testing.assert_array_equal(a.obs["replicate_id"], frame["replicate_id"])
    assert set(AP1_STUDY_FEATURES) <= set(AP1_PROTEINS) and len(AP1_STUDY_FEATURES) == 10
    assert load_ap1(f.parent).shape == a.shape  # a folder holding mmc5.xlsx


def test_ap1_title_rows_numeric_time_and_csv(tmp_path, rng):
    frame = _ap1_frame(rng, 12)
    frame["time"] = np.where(frame["time"] == "24h", 24, 72)
    frame["condition"] = frame["condition"].str.replace("uM", "\u00b5M")  # a micro sign
    f = tmp_path / "mmc5.xlsx"
    with pd.ExcelWriter(f, engine="openpyxl") as w:
        pd.DataFrame([["Data S4. Single-cell AP-1 measurements"]]).to_excel(w, index=False, header=False)
        frame.to_excel(w, index=False, startrow=2)
    a = load_ap1(f)
    assert a.n_obs == 12
    assert set(a.obs["condition"].astype(str)) <= set(AP1_CONDS)
    np.testing.assert_array_equal(a.obs["time"], frame["time"])
    np.testing.assert_array_equal(a.obs["time_h"], frame["time"].astype(float))
    g = tmp_path / "ap1.csv"
    frame.to_csv(g, index=False)
    np.testing.assert_array_equal(load_ap1(g).X, a.X)


@pytest.mark.parametrize(
    ("value", "hours"),
    [(24, 24.0), ("24", 24.0), ("24h", 24.0), ("24 h", 24.0), ("72 hr", 72.0), ("72hours", 72.0),
     ("3d", 72.0), ("0.5 day", 12.0), ("30min", 0.5), (np.int64(48), 48.0), (1.5, 1.5)],
)
def test_parse_time_hours(value, hours):
    assert parse_time_hours(value) == hours


@pytest.mark.parametrize("value", ["tomorrow", "24x", "", float("nan"), -1, "h24"])
def test_parse_time_hours_rejects(value):
    with pytest.raises(ValueError, match="time"):
        parse_time_hours(value)


def _write_xlsx(frame: pd.DataFrame, tmp_path: Path) -> Path:
    f = tmp_path / "mmc5.xlsx"
    frame.to_excel(f, index=False, engine="openpyxl")
    return f


def test_ap1_rejects_malformed(tmp_path, rng):
    frame = _ap1_frame(rng, 12)
    with pytest.raises(ValueError, match=r"mmc5\.xlsx: missing column\(s\) 'p-ERK \(log a\.u\.\)'"):
        load_ap1(_write_xlsx(frame.drop(columns="p-ERK (log a.u.)"), tmp_path))
    with pytest.raises(ValueError, match=r"missing column\(s\) 'replicate_id'"):
        load_ap1(_write_xlsx(frame.drop(columns="replicate_id"), tmp_path))
    bad = frame.copy()
    bad.loc[4, "condition"] = "1 uM Vemurafenib"
    with pytest.raises(ValueError, match=r"mmc5\.xlsx: column 'condition' holds unknown.*'1 uM Vem"):
        load_ap1(_write_xlsx(bad, tmp_path))
    bad = frame.copy()
    bad.loc[5, "JUNB (log a.u.)"] = np.nan
    with pytest.raises(ValueError, match=r"column 'JUNB \(log a\.u\.\)'.*missing or non-finite.*row 7"):
        load_ap1(_write_xlsx(bad, tmp_path))
    bad = frame.copy().astype({"cFOS (log a.u.)": object})
    bad.loc[0, "cFOS (log a.u.)"] = "saturated"
    with pytest.raises(ValueError, match=r"column 'cFOS \(log a\.u\.\)'.*non-numeric.*'saturated' at row 2"):
        load_ap1(_write_xlsx(bad, tmp_path))
    bad = frame.copy()
    bad.loc[3, "time"] = "late"
    with pytest.raises(ValueError, match=r"column 'time', row 5: time 'late'"):
        load_ap1(_write_xlsx(bad, tmp_path))
    bad = frame.copy()
    bad.loc[2, "cell_line"] = None
    with pytest.raises(ValueError, match=r"column 'cell_line' is empty for 1 cell\(s\), first at row 4"):
        load_ap1(_write_xlsx(bad, tmp_path))
    with pytest.raises(ValueError, match="holds no cells"):
        load_ap1(_write_xlsx(frame.iloc[:0], tmp_path))


def test_ap1_all_sheets_and_sheet_errors(tmp_path, rng):
    first, second = _ap1_frame(rng, 6), _ap1_frame(rng, 9)
    f = tmp_path / "mmc5.xlsx"
    with pd.ExcelWriter(f, engine="openpyxl") as w:
        first.to_excel(w, sheet_name="COLO858", index=False)
        second.to_excel(w, sheet_name="WM902B", index=False)
    both = load_ap1(f, sheet=None)
    cols = [f"{p} (log a.u.)" for p in AP1_PROTEINS]
    np.testing.assert_array_equal(both.X, np.vstack([first[cols].to_numpy(), second[cols].to_numpy()]))
    assert both.obs["sheet"].astype(str).tolist() == ["COLO858"] * 6 + ["WM902B"] * 9
    np.testing.assert_array_equal(load_ap1(f, sheet="WM902B").X, second[cols].to_numpy())
    with pytest.raises(ValueError, match="no sheet 'absent'"):
        load_ap1(f, sheet="absent")
    bad = second.copy()
    bad.loc[4, "p-ATF2 (log a.u.)"] = np.nan
    with pd.ExcelWriter(f, engine="openpyxl") as w:
        first.to_excel(w, sheet_name="COLO858", index=False)
        bad.to_excel(w, sheet_name="WM902B", index=False)
    with pytest.raises(ValueError, match=r"mmc5\.xlsx \[sheet 'WM902B'\]: column 'p-ATF2 .*row 6"):
        load_ap1(f, sheet=None)


def test_ap1_blank_row_keeps_row_numbers(tmp_path, rng):
    frame = _ap1_frame(rng, 8)
    frame.loc[3] = np.nan  # an empty row in the middle of the sheet (row 5)
    with pytest.raises(ValueError, match=r"column 'cFOS \(log a\.u\.\)'.*non-finite.*first at row 5"):
        load_ap1(_write_xlsx(frame, tmp_path))
    padded = pd.concat([_ap1_frame(rng, 8), pd.DataFrame(np.nan, index=range(3), columns=frame.columns)])
    assert load_ap1(_write_xlsx(padded, tmp_path)).n_obs == 8  # trailing empty rows are dropped


def test_ap1_rejects_bad_files(tmp_path, rng):
    f = _write_xlsx(_ap1_frame(rng, 12), tmp_path)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"mmc5\.xlsx: cannot be read.*truncated"):
        load_ap1(f)
    g = tmp_path / "mmc5.xls"
    g.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"extension '\.xls'; expected \.xlsx or \.csv"):
        load_ap1(g)
    with pytest.raises(FileNotFoundError, match="no file or folder"):
        load_ap1(tmp_path / "absent.xlsx")


# ----------------------------------------------------------------------------------------------- 4i

FOURI_EXTRA = [  # the file's 30 variables beyond the study's 48
    *(f"intensity-{c}-{m}-max" for c in ("cell", "nuclei") for m in ("CD45", "Ki67", "pERK", "pAKT")),
    *(f"intensity-{c}-{m}-std" for c in ("cell", "nuclei") for m in ("CD45", "Ki67", "pERK", "pAKT")),
    *(f"morphology-{c}-{s}" for c in ("cell", "nuclei") for s in ("solidity", "minor_axis_length",
                                                                  "orientation", "form_factor")),
    *(f"neighbourhood-{k}" for k in ("count", "density", "crowding", "edge", "dist_nn", "dist_mean")),
]
FOURI_DRUGS = ["control", "trametinib", "imatinib", "cisplatin", "dexamethasone", "ulixertinib"]


def _fouri_adata(rng, n_per: int = 6) -> anndata.AnnData:
    names = [*FOURI_STUDY_FEATURES[::-1][:20], *FOURI_EXTRA, *FOURI_STUDY_FEATURES[::-1][20:]]
    drug = np.repeat(FOURI_DRUGS, n_per)
    obs = pd.DataFrame({"drug": pd.Categorical(drug), "well": [f"A{i % 4}" for i in range(drug.size)]},
                       index=[f"cell{i}" for i in range(drug.size)])
    x = rng.normal(size=(drug.size, len(names))).astype(np.float32)
    return anndata.AnnData(X=x, obs=obs, var=pd.DataFrame(index=names))


def test_4i_schema_constants():
    assert len(FOURI_STUDY_FEATURES) == 48 == len(set(FOURI_STUDY_FEATURES))
    assert "intensity-nuclei-pS6k1-mean" in FOURI_STUDY_FEATURES
    assert "intensity-cell-DAPI-sum" in FOURI_STUDY_FEATURES
    assert "morphology-nuclei-equivalent_diameter" in FOURI_STUDY_FEATURES
    assert len(FOURI_EXTRA) == 30
    assert FOURI_STUDY_DRUGS == ("trametinib", "imatinib", "cisplatin", "dexamethasone")


def test_4i_reads_and_subsets(tmp_path, rng):
    a = _fouri_adata(rng)
    f = tmp_path / "8h.h5ad"
    a.write_h5ad(f)
    got = load_4i(f)
    assert list(got.var_names) == list(FOURI_STUDY_FEATURES)
    np.testing.assert_array_equal(got.X, a[:, list(FOURI_STUDY_FEATURES)].X.astype(np.float64))
    assert got.X.dtype == np.float64
    assert got.obs["well"].tolist() == a.obs["well"].tolist()
    assert got.obs["drug"].cat.categories[0] == "control"
    full = load_4i(tmp_path, features="all")
    assert full.shape == (36, 78) and list(full.var_names) == list(a.var_names)
    sub = load_4i(f, drugs=["cisplatin"], features=["morphology-cell-area", "neighbourhood-count"])
    assert sub.obs["drug"].astype(str).tolist() == ["control"] * 6 + ["cisplatin"] * 6
    rows = a.obs["drug"].isin(["control", "cisplatin"]).to_numpy()
    np.testing.assert_array_equal(sub.X, a[rows, ["morphology-cell-area", "neighbourhood-count"]].X)


def test_4i_cellot_layout_and_features_file(tmp_path, rng, monkeypatch):
    a = _fouri_adata(rng)
    (tmp_path / "4i").mkdir()
    a.write_h5ad(tmp_path / "4i" / "8h.h5ad")
    listing = tmp_path / "4i" / "features.txt"
    listing.write_text("\n".join(FOURI_STUDY_FEATURES[:5]) + "\n")
    monkeypatch.setenv("TRACKABILITY_DATA", str(tmp_path))  # CellOT's datasets/ folder as the root
    got = load_4i(features=listing)
    assert list(got.var_names) == list(FOURI_STUDY_FEATURES[:5])
    np.testing.assert_array_equal(got.X, a[:, list(FOURI_STUDY_FEATURES[:5])].X)
    arr = load_4i(features=np.asarray(FOURI_STUDY_FEATURES[5:8]))
    assert list(arr.var_names) == list(FOURI_STUDY_FEATURES[5:8])
    with pytest.raises(ValueError, match="a text file of names"):
        load_4i(features=str(tmp_path / "absent.txt"))


def test_4i_rejects_malformed(tmp_path, rng):
    f = tmp_path / "8h.h5ad"
    a = _fouri_adata(rng)
    a.write_h5ad(f)
    with pytest.raises(ValueError, match=r"drugs: 'vemurafenib' not in obs\['drug'\] of .*8h\.h5ad"):
        load_4i(f, drugs=["vemurafenib"])
    with pytest.raises(ValueError, match=r"unknown feature\(s\) 'intensity-cell-FOO-mean'"):
        load_4i(f, features=["intensity-cell-FOO-mean"])
    with pytest.raises(ValueError, match="features must be"):
        load_4i(f, features="most")
    a[:, :77].copy().write_h5ad(f)
    with pytest.raises(ValueError, match=r"8h\.h5ad: has 77 variables; the CellOT 4i file has 78"):
        load_4i(f)
    b = _fouri_adata(rng)
    b.var_names = [v.replace("pERK", "p-ERK") for v in b.var_names]
    b.write_h5ad(f)
    with pytest.raises(ValueError, match=r"8h\.h5ad: missing study feature\(s\) 'intensity-cell-pERK-mean'"):
        load_4i(f)
    b = _fouri_adata(rng)
    b.obs = b.obs.rename(columns={"drug": "condition"})
    b.write_h5ad(f)
    with pytest.raises(ValueError, match=r"8h\.h5ad: missing obs column\(s\) 'drug'"):
        load_4i(f)
    b = _fouri_adata(rng)
    b.obs["drug"] = b.obs["drug"].astype(str).replace("control", "DMSO")
    b.write_h5ad(f)
    with pytest.raises(ValueError, match=r"8h\.h5ad: obs\['drug'\] has no 'control' cells"):
        load_4i(f)
    b = _fouri_adata(rng)
    b.X[3, list(b.var_names).index("morphology-cell-area")] = np.nan
    b.write_h5ad(f)
    with pytest.raises(ValueError, match=r"8h\.h5ad: X holds 1 NaN/inf.*'morphology-cell-area'"):
        load_4i(f)
    _fouri_adata(rng).write_h5ad(f)
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"8h\.h5ad as an AnnData \.h5ad file"):
        load_4i(f)


# ----------------------------------------------------------------------------------------- SciPlex3

SCI_DRUGS = ["trametinib", "givinostat", "abexinostat", "dacinostat", "belinostat"]


def _sciplex_adata(rng, n_genes: int = 1000, key: str = "marker_genes-drug-rank") -> anndata.AnnData:
    drug = np.array(["control"] * 10 + [d for d in SCI_DRUGS for _ in range(6)])
    rng.shuffle(drug)
    n = drug.size
    obs = pd.DataFrame({
        "drug": pd.Categorical(drug),
        "cell_type": pd.Categorical(np.array(["A549", "K562", "MCF7"])[np.arange(n) % 3]),
        "dose": np.where(drug == "control", 0.0, np.array([10.0, 100.0, 1000.0, 10000.0])[np.arange(n) % 4]),
        "replicate": pd.Categorical(np.array(["rep1", "rep2"])[np.arange(n) % 2]),
    }, index=[f"cell{i}" for i in range(n)])
    genes = [f"ENSG{i:05d}" for i in range(n_genes)]
    x = sp.random(n, n_genes, density=0.05, random_state=1, format="csr", dtype=np.float32)
    a = anndata.AnnData(X=x, obs=obs, var=pd.DataFrame(index=genes))
    ranks = pd.DataFrame({d: rng.permutation(n_genes).astype(float) for d in SCI_DRUGS}, index=genes)
    a.varm[key] = ranks
    return a


@pytest.fixture
def sciplex_file(tmp_path, rng) -> tuple[Path, anndata.AnnData]:
    a = _sciplex_adata(rng)
    f = tmp_path / "hvg.h5ad"
    a.write_h5ad(f)
    return f, a


@pytest.mark.parametrize("backed", [True, False])
def test_sciplex3_loads_control_and_requested_drugs(sciplex_file, backed):
    f, a = sciplex_file
    got = load_sciplex3(f, drugs=["trametinib", "givinostat"], backed=backed)
    rows = a.obs["drug"].isin(["control", "trametinib", "givinostat"]).to_numpy()
    assert not got.isbacked
    assert got.n_obs == 22 and got.n_vars == 1000
    assert list(got.obs_names) == list(a.obs_names[rows])
    assert sp.issparse(got.X)
    assert (got.X != a.X[rows]).nnz == 0
    for col in ("cell_type", "dose", "replicate"):
        np.testing.assert_array_equal(np.asarray(got.obs[col]), np.asarray(a.obs[col])[rows])
    assert got.obs["drug"].cat.categories[0] == "control"
    pd.testing.assert_frame_equal(got.varm["marker_genes-drug-rank"], a.varm["marker_genes-drug-rank"])
    # The file is closed again: it can be rewritten.
    a.write_h5ad(f)


def test_sciplex3_marker_genes_match_brute_force(sciplex_file):
    f, a = sciplex_file
    got = load_sciplex3(f, drugs=list(SCIPLEX3_STUDY_DRUGS))
    for d in SCIPLEX3_STUDY_DRUGS:
        col = a.varm["marker_genes-drug-rank"][d]
        expected = [g for _, g in sorted(zip(col.tolist(), a.var_names, strict=True))][:100]
        assert sciplex3_marker_genes(got, d, n=100) == expected
    assert len(sciplex3_marker_genes(got, "trametinib", n=1000)) == 1000


def test_sciplex3_marker_genes_ties_and_nan():
    genes = ["g0", "g1", "g2", "g3"]
    a = anndata.AnnData(X=np.zeros((2, 4)), var=pd.DataFrame(index=genes))
    a.varm["marker_genes-drug-rank"] = pd.DataFrame({"d": [2.0, np.nan, 1.0, 1.0]}, index=genes)
    assert sciplex3_marker_genes(a, "d", n=3) == ["g2", "g3", "g0"]
    with pytest.raises(ValueError, match="only 3 genes"):
        sciplex3_marker_genes(a, "d", n=4)
    with pytest.raises(ValueError, match="drug 'e' has no marker ranks"):
        sciplex3_marker_genes(a, "e")
    with pytest.raises(ValueError, match="n must be a positive integer"):
        sciplex3_marker_genes(a, "d", n=0)


def test_sciplex3_generic_marker_key(tmp_path, rng):
    a = _sciplex_adata(rng, key="marker_genes-condition-rank")
    f = tmp_path / "hvg.h5ad"
    a.write_h5ad(f)
    got = load_sciplex3(f, drugs=["abexinostat"])
    assert got.uns["loader"]["marker_key"] == "marker_genes-condition-rank"
    col = a.varm["marker_genes-condition-rank"]["abexinostat"]
    assert sciplex3_marker_genes(got, "abexinostat", n=5) == list(col.sort_values(kind="stable").index[:5])


def test_sciplex3_rejects_malformed(tmp_path, rng):
    f = tmp_path / "hvg.h5ad"
    _sciplex_adata(rng).write_h5ad(f)
    with pytest.raises(ValueError, match=r"drugs: 'vorinostat' not in obs\['drug'\] of .*hvg\.h5ad"):
        load_sciplex3(f, drugs=["vorinostat"])
    _sciplex_adata(rng, n_genes=999).write_h5ad(f)
    with pytest.raises(ValueError, match=r"hvg\.h5ad: has 999 genes; the CellOT SciPlex3 file has 1000"):
        load_sciplex3(f, drugs=["trametinib"])
    a = _sciplex_adata(rng)
    del a.varm["marker_genes-drug-rank"]
    a.write_h5ad(f)
    with pytest.raises(ValueError, match=r"hvg\.h5ad: varm lacks the marker ranks 'marker_genes-drug-rank'"):
        load_sciplex3(f)
    a = _sciplex_adata(rng)
    del a.obs["dose"]
    a.write_h5ad(f)
    with pytest.raises(ValueError, match=r"hvg\.h5ad: missing obs column\(s\) 'dose'"):
        load_sciplex3(f)
    a = _sciplex_adata(rng)
    a.X = a.X.toarray()
    a.X[0, 5] = np.inf
    a.write_h5ad(f)
    with pytest.raises(ValueError, match=r"hvg\.h5ad: X holds 1 NaN/inf"):
        load_sciplex3(f)
    _sciplex_adata(rng).write_h5ad(f)
    f.write_bytes(f.read_bytes()[:2000])
    with pytest.raises(ValueError, match=r"hvg\.h5ad as an AnnData \.h5ad file"):
        load_sciplex3(f)


# ----------------------------------------------------------------------------------------------- 2i


def _two_i_folder(tmp_path: Path, rng) -> tuple[Path, anndata.AnnData, pd.Series, list[str]]:
    days = [0.0, 8.0, TWO_I_CONTROL_DAY, *TWO_I_TREATED_DAYS[:3]]
    ids, day_of = [], {}
    for d in days:
        for branch in (["serum", "2i"] if d >= 8.5 else ["common"]):
            for i in range(5):
                cid = f"D{d:g}_{branch}_{i}"
                ids.append(cid)
                day_of[cid] = d
    n_genes = 40
    # genes with very different dispersions so that the top genes are well separated
    scale = np.linspace(0.1, 3.0, n_genes)
    x = np.abs(rng.normal(size=(len(ids), n_genes))) * scale + rng.uniform(0.5, 2.0, n_genes)
    a = anndata.AnnData(X=sp.csr_matrix(x.astype(np.float32)), obs=pd.DataFrame(index=ids),
                        var=pd.DataFrame(index=[f"Gene{j}" for j in range(n_genes)]))
    a.write_h5ad(tmp_path / "ExprMatrix.h5ad")
    pd.DataFrame({"id": list(day_of), "day": list(day_of.values())}).to_csv(
        tmp_path / "cell_days.txt", sep="\t", index=False)
    two_i = [c for c in ids if "_2i_" in c]
    (tmp_path / "2i_cell_ids.txt").write_text("\n".join(two_i) + "\n")
    (tmp_path / "serum_cell_ids.txt").write_text("\n".join(c for c in ids if "_serum_" in c) + "\n")
    return tmp_path, a, pd.Series(day_of), two_i


def test_2i_reads_branch_and_days(tmp_path, rng):
    folder, a, day_of, two_i = _two_i_folder(tmp_path, rng)
    got = load_2i(folder)
    assert list(got.obs_names) == two_i
    np.testing.assert_array_equal(got.obs["day"], day_of[two_i].to_numpy())
    assert (got.X != a[two_i].X).nnz == 0
    serum = load_2i(folder, branch="serum")
    assert all("_serum_" in c for c in serum.obs_names) and serum.n_obs == len(two_i)
    sub = load_2i(folder, days=[TWO_I_CONTROL_DAY, 9.0])
    assert sorted(set(sub.obs["day"])) == [8.5, 9.0] and sub.n_obs == 10
    assert TWO_I_TREATED_DAYS[0] == 9.0 and TWO_I_TREATED_DAYS[-1] == 15.5 and len(TWO_I_TREATED_DAYS) == 9


def _naive_norm_dispersion(x: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Scanpy's 'seurat' recipe written out with pandas (cut into bins, groupby mean/std)."""
    mean = x.mean(axis=0)
    var = x.var(axis=0, ddof=1)
    disp = np.log(var / mean)
    frame = pd.DataFrame({"bin": pd.cut(np.log1p(mean), bins=n_bins), "disp": disp})
    grp = frame.groupby("bin", observed=True)["disp"]
    mu, sd, cnt = grp.transform("mean"), grp.transform("std"), grp.transform("count")
    return np.where(cnt > 1, (frame["disp"] - mu) / sd, 0.0)


def test_dispersion_hvg_matches_naive(rng):
    x = np.abs(rng.normal(size=(60, 30))) * rng.uniform(0.1, 3, 30) + rng.uniform(0.2, 2, 30)
    idx, norm = dispersion_hvg(x, 7)
    expected = _naive_norm_dispersion(x)
    np.testing.assert_allclose(norm, expected, rtol=1e-10)
    assert list(idx) == list(np.argsort(-np.round(expected, 12), kind="stable")[:7])
    idx_sparse, norm_sparse = dispersion_hvg(sp.csr_matrix(x), 7)
    np.testing.assert_allclose(norm_sparse, norm, rtol=1e-10)
    assert list(idx_sparse) == list(idx)
    x[:, 3] = 0.0  # zero mean: never chosen
    _, norm = dispersion_hvg(x, 5)
    assert np.isnan(norm[3])
    with pytest.raises(ValueError, match="n_top_genes=30 but only 29"):
        dispersion_hvg(x, 30)
    with pytest.raises(ValueError, match="at least 2 cells"):
        dispersion_hvg(x[:1], 3)


def test_2i_hvg_on_given_cells(tmp_path, rng):
    folder, a, day_of, two_i = _two_i_folder(tmp_path, rng)
    got = load_2i(folder, n_top_genes=5)
    full = a[two_i].X.toarray().astype(np.float64)
    expected = np.argsort(-np.round(_naive_norm_dispersion(full), 12), kind="stable")[:5]
    assert list(got.var_names) == [f"Gene{j}" for j in expected]
    np.testing.assert_array_equal(got.X.toarray(), a[two_i].X[:, expected].toarray())
    assert got.uns["hvg"]["n_cells"] == len(two_i)
    train = np.arange(len(two_i)) % 2 == 0
    only_train = load_2i(folder, n_top_genes=5, hvg_cells=train)
    exp_train = np.argsort(-np.round(_naive_norm_dispersion(full[train]), 12), kind="stable")[:5]
    assert list(only_train.var_names) == [f"Gene{j}" for j in exp_train]
    assert only_train.n_obs == len(two_i)  # every cell is returned; only the choice used train
    by_name = load_2i(folder, n_top_genes=5, hvg_cells=np.asarray(two_i)[train])
    assert list(by_name.var_names) == list(only_train.var_names)
    with pytest.raises(ValueError, match="boolean mask of length 3"):
        load_2i(folder, n_top_genes=5, hvg_cells=[True, False, True])
    with pytest.raises(ValueError, match="1 name"):
        load_2i(folder, n_top_genes=5, hvg_cells=["nope"])


@pytest.mark.parametrize("legacy_dense", [False, True])
def test_2i_hvg_block_reading_is_exact(tmp_path, rng, monkeypatch, legacy_dense):
    """Reading the matrix in blocks of a few rows gives the same genes and values as one block."""
    import h5py

    from trackability.data.loaders import two_i

    folder, a, day_of, two_i_ids = _two_i_folder(tmp_path, rng)
    if legacy_dense:
        m = folder / "ExprMatrix.h5ad"
        m.unlink()
        with h5py.File(m, "w") as f:
            f["X"] = a.X.toarray()
            f["obs"] = np.array([(c.encode(),) for c in a.obs_names], dtype=[("index", "S40")])
            f["var"] = np.array([(g.encode(),) for g in a.var_names], dtype=[("index", "S40")])
    train = np.arange(len(two_i_ids)) % 3 != 0
    whole = load_2i(folder, n_top_genes=6, hvg_cells=train)
    monkeypatch.setattr(two_i, "_CHUNK_BYTES", 8 * 40 * 4)  # 4 rows of 40 genes per block
    blocks = load_2i(folder, n_top_genes=6, hvg_cells=train)
    assert list(blocks.var_names) == list(whole.var_names)
    x_whole = whole.X.toarray() if sp.issparse(whole.X) else whole.X
    x_blocks = blocks.X.toarray() if sp.issparse(blocks.X) else blocks.X
    np.testing.assert_array_equal(x_blocks, x_whole)
    np.testing.assert_allclose(blocks.var["dispersion_norm"], whole.var["dispersion_norm"], rtol=1e-12)
    full = a[two_i_ids].X.toarray().astype(np.float64)
    exp = np.argsort(-np.round(_naive_norm_dispersion(full[train]), 12), kind="stable")[:6]
    assert list(blocks.var_names) == [f"Gene{j}" for j in exp]
    np.testing.assert_array_equal(x_blocks, full[:, exp].astype(np.float32))


def test_2i_hvg_rejects_nan_in_matrix(tmp_path, rng):
    folder, a, day_of, two_i_ids = _two_i_folder(tmp_path, rng)
    x = a.X.toarray()
    x[list(a.obs_names).index(two_i_ids[2]), 7] = np.nan
    anndata.AnnData(X=x, obs=a.obs, var=a.var).write_h5ad(folder / "ExprMatrix.h5ad")
    with pytest.raises(ValueError, match=r"ExprMatrix\.h5ad: X holds 1 NaN/inf"):
        load_2i(folder, n_top_genes=5)
    with pytest.raises(ValueError, match=r"ExprMatrix\.h5ad: X holds 1 NaN/inf"):
        load_2i(folder)


def test_2i_rejects_malformed(tmp_path, rng):
    folder, a, day_of, two_i = _two_i_folder(tmp_path, rng)
    with pytest.raises(ValueError, match="days: 20 have no 2i cells"):
        load_2i(folder, days=[20])
    with pytest.raises(ValueError, match="branch must be one of"):
        load_2i(folder, branch="lif")
    days = (folder / "cell_days.txt").read_text().splitlines()
    days[3] = days[3].split("\t")[0] + "\tday9"
    (folder / "cell_days.txt").write_text("\n".join(days) + "\n")
    with pytest.raises(ValueError, match=r"cell_days\.txt: column 'day' holds 1 missing.*'day9' at line 4"):
        load_2i(folder)
    (folder / "cell_days.txt").write_text("cell\ttime\nx\t1\n")
    with pytest.raises(ValueError, match=r"cell_days\.txt: missing column\(s\) 'id', 'day'"):
        load_2i(folder)
    (folder / "cell_days.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks 'cell_days\.txt'"):
        load_2i(folder)


def test_2i_ids_and_matrix_problems(tmp_path, rng):
    folder, a, day_of, two_i = _two_i_folder(tmp_path, rng)
    ids_file = folder / "2i_cell_ids.txt"
    ids_file.write_text("\n".join([*two_i, "D9_2i_extra"]) + "\n")
    with pytest.warns(UserWarning, match=r"1 id\(s\) of 2i_cell_ids\.txt are not in ExprMatrix\.h5ad"):
        got = load_2i(folder)
    assert got.n_obs == len(two_i)
    ids_file.write_text("unknown_1\nunknown_2\n")
    with pytest.raises(ValueError, match=r"2i_cell_ids\.txt: none of its 2 cell ids is in ExprMatrix\.h5ad"):
        load_2i(folder)
    ids_file.write_text("\n\n")
    with pytest.raises(ValueError, match=r"2i_cell_ids\.txt: holds no cell ids"):
        load_2i(folder)
    ids_file.write_text("\n".join(two_i) + "\n")
    m = folder / "ExprMatrix.h5ad"
    m.write_bytes(m.read_bytes()[:800])
    with pytest.raises(ValueError, match=r"ExprMatrix\.h5ad as an AnnData \.h5ad file"):
        load_2i(folder)
    with pytest.raises(ValueError, match="is a file"):
        load_2i(ids_file)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FileNotFoundError):
            load_2i(folder / "absent")


def test_2i_reads_legacy_h5ad_as_in_the_wot_tutorial(tmp_path, rng):
    """The tutorial's ExprMatrix.h5ad predates anndata 0.7: obs/var are HDF5 record arrays."""
    import h5py

    folder, a, day_of, two_i = _two_i_folder(tmp_path, rng)
    x = a.X.toarray()
    m = folder / "ExprMatrix.h5ad"
    m.unlink()
    with h5py.File(m, "w") as f:
        f["X"] = x
        f["obs"] = np.array([(c.encode(),) for c in a.obs_names], dtype=[("index", "S40")])
        f["var"] = np.array([(g.encode(),) for g in a.var_names], dtype=[("index", "S40")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = load_2i(folder, days=[TWO_I_CONTROL_DAY])
    rows = [c for c in two_i if day_of[c] == TWO_I_CONTROL_DAY]
    assert list(got.obs_names) == rows
    np.testing.assert_array_equal(got.X, x[[list(a.obs_names).index(c) for c in rows]])


def test_loader_names_import_light():
    """Touching the loaders and their constants imports neither anndata nor pandas."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from trackability.data import (load_sachs, load_kang, load_colo858_4i, load_ap1, load_4i,\n"
        "    load_sciplex3, load_2i, SACHS_PAIRS, AP1_PROTEINS, FOURI_STUDY_FEATURES,\n"
        "    SCIPLEX3_STUDY_DRUGS, TWO_I_TREATED_DAYS, sciplex3_marker_genes, dispersion_hvg)\n"
        "print(json.dumps({m: m in sys.modules for m in ('anndata', 'pandas', 'h5py', 'xlrd')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == {"anndata": False, "pandas": False, "h5py": False, "xlrd": False}
