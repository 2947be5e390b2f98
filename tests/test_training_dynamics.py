"""Training-dynamics histories (experiments) and their figure (plotting)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from scipy.optimize import linear_sum_assignment  # noqa: E402

from trackability._validation import check_random_state  # noqa: E402
from trackability.experiments.training_dynamics import (  # noqa: E402
    COLUMNS,
    history_table,
    laot_history,
    training_dynamics,
)
from trackability.metrics import mmd2  # noqa: E402
from trackability.models import CellOT, ScGen  # noqa: E402
from trackability.models._torch import monitoring_split  # noqa: E402

pytestmark = pytest.mark.neural


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(60, 3))
    w = np.eye(3) + 0.6 * rng.uniform(-1, 1, size=(3, 3))
    y = (x @ w)[rng.permutation(60)] + 0.01 * rng.normal(size=(60, 3))
    return x, y


def _naive_laot_iterates(x: np.ndarray, y: np.ndarray, k: int) -> list[np.ndarray]:
    """Alternating assignment / least squares from M = I (rows: predict = x @ M)."""
    m = np.eye(x.shape[1])
    out = []
    for _ in range(k):
        pred = x @ m
        cost = ((pred[:, None, :] - y[None, :, :]) ** 2).sum(-1)
        r, c = linear_sum_assignment(cost)
        m = np.linalg.lstsq(x[r], y[c], rcond=None)[0]
        out.append(m)
    return out


def test_laot_history_matches_naive_alternation(pair):
    x, y = pair
    split = monitoring_split(x, y, 0.2, check_random_state(0))
    h = laot_history(x, y, split, progress=False)
    assert list(h.columns) == list(COLUMNS)
    xm, ym = x[split["src_monitor"]], y[split["tgt_monitor"]]
    xv, yv = x[split["src_val"]], y[split["tgt_val"]]
    g = split["gamma"]
    # Step 0 is "no change".
    assert h["train_mmd2"].iloc[0] == pytest.approx(mmd2(xm, ym, gamma=g))
    assert h["val_mmd2"].iloc[0] == pytest.approx(mmd2(xv, yv, gamma=g))
    n_it = int(h["step"].max())
    assert n_it >= 2
    iterates = _naive_laot_iterates(x[split["src_train"]], y[split["tgt_train"]], n_it)
    for k, m in enumerate(iterates, start=1):
        row = h[h["step"] == k].iloc[0]
        assert row["val_mmd2"] == pytest.approx(mmd2(xv @ m, yv, gamma=g), abs=1e-9)
        assert row["train_mmd2"] == pytest.approx(mmd2(xm @ m, ym, gamma=g), abs=1e-9)
        resid = y[split["tgt_train"]] - x[split["src_train"]] @ m
        assert row["train_loss"] <= np.sum(resid**2) / 48 + 1e-9  # optimal matching <= any
    assert h["selected"].sum() == 1 and bool(h["selected"].iloc[-1])


def test_training_dynamics_shares_split_with_cellot(pair):
    x, y = pair
    kw = {"max_iter": 4, "n_inner": 1, "batch_size": 16, "log_every": 2, "eval_every": 2}
    hist = training_dynamics(
        x, y, methods=("cellot", "laot"), validation_fraction=0.2, random_state=3,
        params={"cellot": kw}, progress=False,
    )
    model = CellOT(validation_fraction=0.2, random_state=3, progress=False, **kw).fit(x, y)
    split = monitoring_split(x, y, 0.2, check_random_state(3))
    np.testing.assert_array_equal(model.val_source_index_, split["src_val"])
    np.testing.assert_array_equal(model.val_target_index_, split["tgt_val"])
    assert model.gamma_ == split["gamma"]
    np.testing.assert_allclose(hist["cellot"]["val_mmd2"], model.history_["val_mmd2"])
    assert list(hist["cellot"]["step"]) == [2, 4]
    assert hist["cellot"]["selected"].sum() == 1


def test_history_table_scgen_and_errors(pair):
    x, y = pair
    m = ScGen(n_hidden=16, n_latent=4, max_epochs=3, eval_every=2, progress=False).fit(x, y)
    h = history_table(m)
    assert list(h["step"]) == [1, 2, 3]
    np.testing.assert_allclose(h["val_loss"], m.history_["val_loss"])
    assert h.attrs["step_label"] == "epoch"
    with pytest.raises(ValueError, match="not fitted"):
        history_table(CellOT())
    with pytest.raises(ValueError, match="unknown method"):
        training_dynamics(x, y, methods=("cellot", "magic"))
    with pytest.raises(ValueError, match="not in methods"):
        training_dynamics(x, y, methods=("laot",), params={"cellot": {}})


def test_plot_training_dynamics_draws_the_histories(pair, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from trackability.plotting import plot_training_dynamics

    x, y = pair
    split = monitoring_split(x, y, 0.2, check_random_state(0))
    laot = laot_history(x, y, split, progress=False)
    cellot = CellOT(max_iter=4, n_inner=1, batch_size=16, log_every=1, eval_every=2,
                    validation_fraction=0.2, progress=False).fit(x, y)
    path = tmp_path / "td.png"
    fig = plot_training_dynamics({"cellot": cellot, "laot": laot}, path=path)
    assert path.stat().st_size > 10_000
    axes = np.array(fig.axes).reshape(2, 2)
    assert axes[0, 0].get_title().startswith("CellOT") and axes[0, 1].get_title() == "LAOT"
    # Top-left: train and validation MMD^2 of CellOT at its evaluated steps.
    ev = cellot.history_.dropna(subset=["val_mmd2"])
    lines = {ln.get_label(): ln for ln in axes[0, 0].get_lines()}
    np.testing.assert_allclose(lines["validation"].get_ydata(), ev["val_mmd2"])
    np.testing.assert_allclose(lines["train"].get_xdata(), ev["step"])
    lines = {ln.get_label(): ln for ln in axes[0, 1].get_lines()}
    np.testing.assert_allclose(lines["train"].get_ydata(), laot["train_mmd2"])
    assert "MMD" in axes[0, 0].get_ylabel()
    assert axes[1, 1].get_ylabel() == "objective per pair"
    # The kept checkpoint is marked at CellOT's best step.
    vlines = [ln for ln in axes[0, 0].get_lines() if ln.get_label() == "kept checkpoint"]
    assert vlines and vlines[0].get_xdata()[0] == cellot.best_step_
    with pytest.raises(ValueError, match="mmd_scale"):
        plot_training_dynamics({"laot": laot}, mmd_scale="log")
    assert axes[0, 0].get_yscale() == "symlog"
    with pytest.raises(ValueError, match="non-empty mapping"):
        plot_training_dynamics({})
    import pandas as pd

    with pytest.raises(ValueError, match="no 'step' column"):
        plot_training_dynamics({"x": pd.DataFrame({"a": [1.0]})})
    matplotlib.pyplot.close("all")
