"""Loaders on bad arguments and on corrupted copies of their files: every failure names what is wrong.

Argument errors name the argument (``conditions``, ``days``, ``n_cells``); file errors name the file
(:class:`~trackability.data.loaders._files.DataFileError`, a ValueError, or a PermissionError). The
hypothesis part corrupts copies of the real files (truncated at a random byte, a random span
overwritten with bytes that are not UTF-8 text, a required column removed) with a bounded number of
examples (``HYPOTHESIS_EXAMPLES``, default 12 per family).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trackability.data import load_2i, load_colo858_4i, load_kang, load_sachs
from trackability.data.loaders._files import DataFileError, check_ids, check_numbers, read_csv

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "12"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


# -- arguments -------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [[1.5], ["a"], ["3"], [True], [], [1, 1], [15], [0]])
def test_sachs_conditions_rejected_with_the_argument_name(bad):
    with pytest.raises((ValueError, TypeError), match="conditions"):
        load_sachs("/nonexistent", conditions=bad)  # checked before the path


def test_sachs_conditions_not_a_list():
    with pytest.raises(TypeError, match="conditions must be a list"):
        load_sachs("/nonexistent", conditions=5)


def test_sachs_whole_float_condition_is_the_integer(real_data_dir):
    a = load_sachs(conditions=[1.0, 6])
    b = load_sachs(conditions=[1, 6])
    np.testing.assert_array_equal(a.X, b.X)
    assert sorted(set(a.obs["condition_id"])) == [1, 6]


@pytest.mark.parametrize("bad", [["a"], [float("nan")], [None], [True], []])
def test_2i_days_rejected_with_the_argument_name(bad):
    with pytest.raises(ValueError, match="days"):
        load_2i("/nonexistent", days=bad)


def test_check_helpers_match_python_semantics():
    assert check_ids(np.array([3, 1]), "ids") == (3, 1)
    assert check_ids([2.0], "ids") == (2,)
    with pytest.raises(ValueError, match=r"ids: unknown id\(s\) \[9\]"):
        check_ids([9], "ids", allowed=(1, 2))
    assert check_numbers((1, 2.5, np.float32(3)), "days") == [1.0, 2.5, 3.0]
    with pytest.raises(TypeError, match="days must be a list"):
        check_numbers("9", "days")


# -- truncation, binary files, permissions ---------------------------------------------------------
def _colo_lines(real_data_dir: Path) -> list[str]:
    return (real_data_dir / "colo858_4i" / "colo858_4i_baseline.csv").read_text().splitlines(True)


def test_colo858_truncated_at_a_line_boundary_is_refused(real_data_dir, tmp_path):
    lines = _colo_lines(real_data_dir)
    f = tmp_path / "colo.csv"
    f.write_text("".join(lines[:3000]))  # header + 2,999 cells: the case of the issue
    with pytest.raises(DataFileError, match=r"2999 cells; the published file has 5708") as err:
        load_colo858_4i(f)
    assert err.value.path == f
    # accepted as a subset when asked, and then exactly the first 2,999 cells of the full file
    sub = load_colo858_4i(f, n_cells=None)
    full = load_colo858_4i()
    assert sub.n_obs == 2999
    np.testing.assert_array_equal(sub.X, full.X[:2999])


def test_colo858_partial_last_line_is_refused(real_data_dir, tmp_path):
    lines = _colo_lines(real_data_dir)
    f = tmp_path / "colo.csv"
    f.write_text("".join(lines[:101]) + lines[101][:15])
    with pytest.raises(DataFileError, match="partial line"):
        load_colo858_4i(f, n_cells=None)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "5708"])
def test_colo858_n_cells_validated(bad):
    with pytest.raises(ValueError, match="n_cells"):
        load_colo858_4i("/nonexistent", n_cells=bad)


def test_binary_file_names_the_file(tmp_path):
    f = tmp_path / "sachs2005_tidy.csv"
    f.write_bytes(b"condition_id,condition\n1,\xff\xfe\x00junk\n")
    with pytest.raises(DataFileError, match="NUL byte on line 2") as err:
        load_sachs(f)
    assert str(f) in str(err.value)
    g = tmp_path / "latin.csv"
    g.write_bytes("a,b\n1,2\n3,\u00e9\n".encode("latin-1"))
    with pytest.raises(DataFileError, match="not UTF-8 text .* on line 3"):
        read_csv(g, what="test")


def test_truncated_gzip_names_the_file(tmp_path):
    f = tmp_path / "t.csv.gz"
    blob = gzip.compress(("a,b\n" + "1,2\n" * 5000).encode())
    f.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataFileError, match="truncated or corrupt compressed") as err:
        read_csv(f, what="test")
    assert err.value.path == f


def test_unreadable_folder_and_file_raise_permission_error_naming_them(tmp_path, monkeypatch):
    # the tests may run as root, where chmod does not deny reading: deny through os.access
    folder = tmp_path / "sachs2005"
    folder.mkdir()
    (folder / "sachs2005_tidy.csv").write_text("x\n1\n")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if Path(p) == folder
                        else real_access(p, m, *a, **k))
    with pytest.raises(PermissionError, match=f"folder {folder} cannot be read"):
        load_sachs(folder)
    f = folder / "sachs2005_tidy.csv"
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if Path(p) == f
                        else real_access(p, m, *a, **k))
    with pytest.raises(PermissionError, match=f"file {f} cannot be read"):
        load_sachs(f)
    with pytest.raises(PermissionError, match="COLO858"):
        load_colo858_4i(_copy_as(f, "c.csv", monkeypatch))


def _copy_as(f: Path, name: str, monkeypatch) -> Path:
    g = f.with_name(name)
    shutil.copy(f, g)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if Path(p) == g
                        else real_access(p, m, *a, **k))
    return g


# -- diagnose on header-less CSVs ------------------------------------------------------------------
def test_diagnose_reads_every_cell_of_a_headerless_csv(tmp_path):
    from trackability.cli import app
    from trackability.data.synthetic import near_identity
    from trackability.diagnostics import diagnose

    pair = near_identity(30, 3, gap=0.05, random_state=2)
    np.savetxt(tmp_path / "x0.csv", pair.control, delimiter=",")
    np.savetxt(tmp_path / "xt.csv", pair.treated, delimiter=",")
    res = CliRunner().invoke(app, ["diagnose", str(tmp_path / "x0.csv"), str(tmp_path / "xt.csv"),
                                   "--gap", "0.05", "--json", "--n-boot", "0"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    ref = diagnose(pair.control, pair.treated, 0.05, n_boot=0, progress=False)
    assert got["n"] == 30 == ref.n
    assert got["Delta"] == pytest.approx(ref.Delta, rel=1e-9)
    assert got["details"]["input"]["features"] == ["feature_0", "feature_1", "feature_2"]
    # a header whose names are numbers-and-text stays a header
    pd.DataFrame(pair.control, columns=["g1", "2", "3"]).to_csv(tmp_path / "h.csv", index=False)
    res = CliRunner().invoke(app, ["diagnose", str(tmp_path / "h.csv"), str(tmp_path / "xt.csv"),
                                   "--gap", "0.05", "--json", "--n-boot", "0"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["n"] == 30


# -- corrupted copies (hypothesis) -----------------------------------------------------------------
def _garbage(data: st.DataObject, n: int) -> bytes:
    """A span of random bytes that is certainly not UTF-8 text (it holds a 0xff byte)."""
    body = data.draw(st.binary(min_size=1, max_size=40))
    at = data.draw(st.integers(0, len(body)))
    return (body[:at] + b"\xff" + body[at:])[: max(1, n)]


def _corrupt(raw: bytes, kind: str, data: st.DataObject, max_line: int) -> bytes:
    if kind == "truncate":  # cut anywhere but inside the last line (undetectable there: see docs)
        return raw[: data.draw(st.integers(1, len(raw) - 2 * max_line))]
    at = data.draw(st.integers(0, len(raw) - 1))
    g = _garbage(data, 40)
    return raw[:at] + g + raw[at + len(g):]


def _check_error_names(exc_info, path: Path) -> None:
    assert str(path) in str(exc_info.value), str(exc_info.value)


CSV_FILES = {  # loader, file relative to the data root, required columns
    "colo858": (load_colo858_4i, "colo858_4i/colo858_4i_baseline.csv", ["well", "FRA1", "cJUN"]),
    "sachs": (lambda p: load_sachs(p), "sachs2005/sachs2005_tidy.csv",
              ["condition_id", "condition", "praf", "pjnk"]),
}


@pytest.fixture(scope="module")
def raw_files(real_data_dir):
    return {k: (real_data_dir / rel).read_bytes() for k, (_, rel, _) in CSV_FILES.items()}


@pytest.mark.parametrize("family", sorted(CSV_FILES))
@SETTINGS
@given(data=st.data(), kind=st.sampled_from(["truncate", "garbage", "column"]))
def test_corrupted_csv_copies_fail_naming_the_file(family, raw_files, data, kind):
    loader, rel, required = CSV_FILES[family]
    raw = raw_files[family]
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / Path(rel).name
        if kind == "column":
            frame = pd.read_csv(io.BytesIO(raw))
            frame = frame.drop(columns=data.draw(st.sampled_from(required)))
            f.write_text(frame.to_csv(index=False))
        else:
            max_line = max(len(line) for line in raw.splitlines()[-3:]) + 1
            f.write_bytes(_corrupt(raw, kind, data, max_line))
        with pytest.raises(ValueError) as err:
            loader(f)
        _check_error_names(err, f)


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(["truncate", "header"]))
def test_corrupted_h5ad_copies_fail_naming_the_file(real_data_dir, data, kind):
    raw = (real_data_dir / "kang2018" / "kang2018_pbmc_ifnb.h5ad").read_bytes()
    if kind == "truncate":
        raw = raw[: data.draw(st.integers(1, len(raw) - 1))]
    else:  # the 8-byte HDF5 signature (unused superblock bytes carry no checksum: see docs)
        at = data.draw(st.integers(0, 7))
        g = _garbage(data, 40)
        raw = raw[:at] + g + raw[at + len(g):]
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "kang.h5ad"
        f.write_bytes(raw)
        with pytest.raises(ValueError) as err:
            load_kang(f)
        _check_error_names(err, f)
