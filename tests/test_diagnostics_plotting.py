"""Diagnostics figures: the drawn curves are the critical gaps they claim to be."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trackability.data.synthetic import near_identity
from trackability.diagnostics import critical_gap, diagnose
from trackability.plotting.diagnostics import plot_phase_with_delta, plot_trackable_region


@pytest.fixture(autouse=True)
def _close():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_trackable_region_curves_are_the_critical_gap(tmp_path):
    fig = plot_trackable_region(0.4, [0.5, 2.0], scale=1.5, n=300, gap=0.01,
                                path=tmp_path / "region.png")
    ax = fig.axes[0]
    curves = [ln for ln in ax.get_lines() if "critical gap" in ln.get_label()]
    assert len(curves) == 2
    for ln, lv in zip(curves, (0.5, 2.0), strict=True):
        ns, ys = ln.get_data()
        expected = [critical_gap(0.4, int(round(v)), lv, scale=1.5) for v in ns]
        np.testing.assert_allclose(ys, expected)
    point = [ln for ln in ax.get_lines() if "this experiment" in ln.get_label()][0]
    assert point.get_xdata()[0] == 300 and point.get_ydata()[0] == 0.01
    assert ax.get_xscale() == "log" and "number of cells" in ax.get_xlabel()
    assert (tmp_path / "region.png").stat().st_size > 10_000


def test_trackable_region_from_report():
    pair = near_identity(50, 10, gap=0.01, random_state=0)
    rep = diagnose(pair.control, pair.treated, 0.01, L=pair.lipschitz_rate, progress=False)
    fig = plot_trackable_region(report=rep)
    ln = [x for x in fig.axes[0].get_lines() if "critical gap" in x.get_label()][0]
    ns, ys = ln.get_data()
    k = int(np.argmin(np.abs(ns - 50)))
    assert ys[k] == pytest.approx(
        critical_gap(rep.delta, int(round(ns[k])), rep.L, scale=rep.scale)
    )
    # at n = 50 the curve passes through the report's Delta
    assert critical_gap(rep.delta, 50, rep.L, scale=rep.scale) == pytest.approx(rep.Delta)


def test_trackable_region_errors():
    with pytest.raises(ValueError, match="restricted isometry fails"):
        plot_trackable_region(1.0, 1.0)
    with pytest.raises(ValueError, match="L must be positive"):
        plot_trackable_region(0.5, [1.0, -1.0])
    with pytest.raises(ValueError, match="labels"):
        plot_trackable_region(0.5, [1.0, 2.0], labels=["a"])
    with pytest.raises(ValueError, match="give delta and L"):
        plot_trackable_region()
    with pytest.raises(ValueError, match="n_range"):
        plot_trackable_region(0.5, 1.0, n_range=(100, 10))


def _tables():
    rows = []
    for gen in ("seed_faithful", "centered"):
        for d in (10, 20, 30):
            for g in (0.0, 1.0, 10.0, 100.0):
                rows.append({"generator": gen, "d": d, "gap": g,
                             "recovery": 1.0 if g < d else 0.2, "trials": 5, "n": 100})
    phase = pd.DataFrame(rows)
    deltas = pd.DataFrame({
        "generator": ["seed_faithful"] * 3 + ["centered"] * 3,
        "d": [10, 20, 30] * 2,
        "Delta": [0.01, 0.02, 0.03, 0.05, 0.06, 0.07],
        "Delta_lo": [0.005, 0.01, 0.02, 0.04, 0.05, 0.06],
        "Delta_hi": [0.02, 0.03, 0.04, 0.06, 0.07, 0.08],
        "Delta_separation": [0.1, 0.2, 0.3, 0.5, 0.6, 0.7],
        "gap50": [10.0, 20.0, np.inf, 15.0, 25.0, 35.0],
    })
    return phase, deltas


def test_phase_with_delta_overlays_the_table(tmp_path):
    phase, deltas = _tables()
    fig = plot_phase_with_delta(phase, deltas, path=tmp_path / "phase.png")
    panels = [ax for ax in fig.axes if ax.get_xlabel().startswith("gap")]
    assert len(panels) == 2
    for ax, gen in zip(panels, ("seed_faithful", "centered"), strict=True):
        sub = deltas[deltas["generator"] == gen]
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        sep = lines["separation bound min|xi - xj| / 2L"]
        np.testing.assert_allclose(sep.get_xdata(), sub["Delta_separation"])
        g50 = lines["empirical gap of 50 % recovery (LAOT)"]
        finite = np.isfinite(sub["gap50"])
        np.testing.assert_allclose(g50.get_xdata(), sub["gap50"][finite])
        # the Delta error-bar line
        delta_line = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == len(sub)
                      and np.allclose(ln.get_ydata(), sub["d"])
                      and np.allclose(ln.get_xdata(), sub["Delta"])]
        assert delta_line
        assert ax.get_xscale() == "log"
        assert ax.get_xlim()[0] <= sub["Delta"].min()
    assert (tmp_path / "phase.png").stat().st_size > 10_000


def test_phase_with_delta_errors():
    phase, deltas = _tables()
    with pytest.raises(ValueError, match="missing column"):
        plot_phase_with_delta(phase.drop(columns=["recovery"]), deltas)
    with pytest.raises(ValueError, match="missing column"):
        plot_phase_with_delta(phase, deltas.drop(columns=["Delta"]))
    with pytest.raises(TypeError, match="DataFrame"):
        plot_phase_with_delta(phase.to_dict(), deltas)
    with pytest.raises(ValueError, match="empty"):
        plot_phase_with_delta(phase.iloc[:0], deltas)
