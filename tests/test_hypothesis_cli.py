"""Property-based tests (hypothesis) of the command line on generated bad files.

``trackability diagnose`` gets generated CSV / TSV / .npy inputs that are broken in one way (ragged
rows, a NaN or a word in a cell, binary garbage, an empty file, a 3-D or string array), and
header-less CSVs, which are valid and must read every cell (n and delta equal the library call on
the arrays). ``trackability bench`` gets generated malformed YAML configs (non-UTF-8 bytes, an
unclosed bracket, a tab indent, a top-level list, an unknown key, a value of the wrong type, a
missing section, an empty file). A bad input must end with a non-zero exit code, no traceback
(the CliRunner's exception is the ``SystemExit`` of a clean exit) and a message naming the file or
the option. ``HYPOTHESIS_EXAMPLES`` overrides the examples per test.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from typer.testing import CliRunner

from trackability.cli import app
from trackability.diagnostics import diagnose

runner = CliRunner()


def _settings(n: int) -> settings:
    n = int(os.environ.get("HYPOTHESIS_EXAMPLES", n))
    return settings(max_examples=n, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


unit = st.integers(-1000, 1000).map(lambda v: v / 1000)


def _clean_failure(res, *words: str) -> None:
    out = res.output
    assert res.exit_code != 0, out
    assert isinstance(res.exception, SystemExit), repr(res.exception)  # not an uncaught error
    assert "Traceback" not in out, out
    assert any(w in out for w in words), (words, out)


def _csv(x: np.ndarray, header: bool, sep: str = ",") -> str:
    lines = [sep.join(f"g{j}" for j in range(x.shape[1]))] if header else []
    lines += [sep.join(repr(float(v)) for v in row) for row in x]
    return "\n".join(lines) + "\n"


@st.composite
def cells(draw, min_rows=3):
    d = draw(st.integers(1, 3))
    n = draw(st.integers(min_rows, 8))
    return draw(arrays(np.float64, (n, d), elements=unit, unique=True))


@st.composite
def broken_file(draw):
    """(file name, bytes) of a cells file that is broken in one generated way."""
    x = draw(cells())
    kind = draw(st.sampled_from(["ragged", "nan", "word", "binary", "empty", "header_only",
                                 "npy_garbage", "npy_3d", "npy_str", "npy_nan", "npy_cut"]))
    if kind.startswith("npy"):
        import io

        arr = {"npy_3d": x[None], "npy_str": x.astype(str)}.get(kind, x.copy())
        if kind == "npy_nan":
            arr[draw(st.integers(0, len(x) - 1)), draw(st.integers(0, x.shape[1] - 1))] = np.nan
        buf = io.BytesIO()
        np.save(buf, arr)
        raw = buf.getvalue()
        if kind == "npy_garbage":
            raw = draw(st.binary(min_size=1, max_size=64))
        if kind == "npy_cut":
            raw = raw[:draw(st.integers(1, len(raw) - 1))]
        return "cells.npy", raw
    header = draw(st.booleans())
    text = _csv(x, header)
    lines = text.splitlines()
    first = 1 if header else 0
    i = draw(st.integers(first, len(lines) - 1))
    if kind == "ragged":
        lines[i] += "," + repr(0.5) if draw(st.booleans()) or x.shape[1] == 1 else ""
        if x.shape[1] > 1 and not lines[i].count(",") > x.shape[1] - 1:
            lines[i] = lines[i].rsplit(",", 1)[0]
        raw = ("\n".join(lines) + "\n").encode()
    elif kind in ("nan", "word"):
        vals = lines[i].split(",")
        vals[draw(st.integers(0, len(vals) - 1))] = "nan" if kind == "nan" else "abc"
        if kind == "word" and not header and i == 0:
            i = 1  # a word in the first row is a header; put it in a data row
            vals = lines[1].split(",")
            vals[0] = "abc"
        lines[i] = ",".join(vals)
        raw = ("\n".join(lines) + "\n").encode()
    elif kind == "binary":
        raw = text.encode()
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\xff\xfe\x00\x81" + draw(st.binary(max_size=16)) + raw[at:]
    elif kind == "empty":
        raw = b""
    else:
        raw = (lines[0] + "\n").encode() if header else b"g0,g1\n"
    return "cells.csv", raw


@_settings(40)
@given(case=broken_file(), target=cells(), side=st.sampled_from(["source", "target"]))
def test_diagnose_broken_file_fails_cleanly_naming_it(case, target, side):
    name, raw = case
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / name
        bad.write_bytes(raw)
        good = Path(tmp) / "good.npy"
        np.save(good, target)
        args = [str(bad), str(good)] if side == "source" else [str(good), str(bad)]
        res = runner.invoke(app, ["diagnose", *args, "--gap", "1", "--n-boot", "0"])
    _clean_failure(res, str(bad), name)


@_settings(15)
@given(x=cells(), y=cells(), sep=st.sampled_from([",", "\t"]))
def test_diagnose_header_less_reads_every_cell(x, y, sep):
    ext = ".csv" if sep == "," else ".tsv"
    if x.shape[1] != y.shape[1]:
        y = np.resize(y, (len(y), x.shape[1]))
        y = y + np.arange(y.size).reshape(y.shape) * 1e-3  # distinct cells
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / f"a{ext}", Path(tmp) / f"b{ext}"
        a.write_text(_csv(x, header=False, sep=sep))
        b.write_text(_csv(y, header=False, sep=sep))
        res = runner.invoke(app, ["diagnose", str(a), str(b), "--gap", "1", "--n-boot", "0",
                                  "--json", "--no-recoverability"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    ref = diagnose(x, y, 1.0, n_boot=0, progress=False, recoverability=False)
    assert got["n"] == ref.n == len(x)
    assert got["n_target"] == ref.n_target == len(y)
    assert got["delta"] == pytest.approx(ref.delta, rel=1e-12)


@_settings(20)
@given(opt=st.sampled_from([("--gap", "-1"), ("--gap", "abc"), ("--gap", "nan"),
                            ("--n-boot", "-5"), ("--transform", "sqrt"),
                            ("--L-statistic", "mean"), ("--quantile", "1.5"), ("--L", "-2"),
                            ("--features", "nope")]),
       x=cells())
def test_diagnose_bad_option_names_it(opt, x):
    with tempfile.TemporaryDirectory() as tmp:
        a = Path(tmp) / "a.csv"
        a.write_text(_csv(x, header=True))
        args = ["diagnose", str(a), str(a), *(["--gap", "1"] if opt[0] != "--gap" else []), *opt,
                "--n-boot", "0"] if opt[0] != "--n-boot" else ["diagnose", str(a), str(a),
                                                                "--gap", "1", *opt]
        res = runner.invoke(app, args)
    word = opt[0].lstrip("-").replace("-", "_")
    _clean_failure(res, opt[0], word, opt[0].lstrip("-"), "features" if opt[0] == "--features"
                   else opt[0])


VALID = """name: fuzz
seeds: 1
tasks:
  - name: t
    dataset: sachs
    split: {kind: random, test_fraction: 0.5}
methods:
  - name: identity
  - name: meanshift
"""


@st.composite
def broken_yaml(draw):
    kind = draw(st.sampled_from(["binary", "bracket", "tab", "list", "scalar", "unknown_key",
                                 "wrong_type", "no_methods", "no_tasks", "empty", "bad_method",
                                 "bad_param"]))
    text = VALID
    if kind == "binary":
        raw = text.encode()
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + b"\xff\xfe\x81" + draw(st.binary(max_size=12)) + raw[at:]
    if kind == "bracket":
        text = text.replace("{kind: random, test_fraction: 0.5}", "{kind: random, test_fraction: 0.5")
    elif kind == "tab":
        text = text.replace("  - name: identity", "\t- name: identity")
    elif kind == "list":
        text = "- " + "\n- ".join(draw(st.lists(st.sampled_from(["a", "1", "x: 2"]), min_size=1,
                                               max_size=3))) + "\n"
    elif kind == "scalar":
        text = draw(st.sampled_from(["42\n", "just text\n", "null\n", "'quoted'\n"]))
    elif kind == "unknown_key":
        key = draw(st.sampled_from(["seedz", "method", "taskz", "alfa"]))
        text += f"{key}: 1\n"
    elif kind == "wrong_type":
        text = text.replace("seeds: 1", "seeds: " + draw(st.sampled_from(["abc", "-3", "[1, 2",
                                                                          "1.5", "{}"])))
    elif kind == "no_methods":
        text = text.split("methods:")[0]
    elif kind == "no_tasks":
        text = "name: fuzz\nseeds: 1\nmethods:\n  - name: identity\n  - name: meanshift\n"
    elif kind == "empty":
        text = draw(st.sampled_from(["", "\n", "# only a comment\n"]))
    elif kind == "bad_method":
        text = text.replace("name: meanshift", "name: " + draw(st.sampled_from(["nope", "laot:",
                                                                                 "''"])))
    else:
        text += "  - name: laot\n    params: {" + draw(st.sampled_from(
            ["alfa: 1.0", "max_iter: 0", "max_iter: abc", "cost: l1"])) + "}\n"
    return text.encode()


@_settings(36)
@given(raw=broken_yaml())
def test_bench_malformed_config_fails_cleanly_naming_it(raw):
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "broken.yaml"
        cfg.write_bytes(raw)
        res = runner.invoke(app, ["bench", str(cfg), "--out", str(Path(tmp) / "out"),
                                  "--no-report", "--no-progress", "--backend", "serial"])
        wrote = (Path(tmp) / "out" / "results.csv").exists()
    _clean_failure(res, str(cfg), "broken.yaml")
    assert not wrote  # refused before any row ran
