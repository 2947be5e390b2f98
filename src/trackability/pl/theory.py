"""The theory's figures: the trackable region of an experiment and LAOT's phase diagram."""

from __future__ import annotations

import os
from typing import Any

from trackability.pl._common import finish, new_axes


def trackable_region(
    report: Any,
    *,
    L: Any = None,
    n_range: tuple[float, float] | None = None,
    time_unit: str | None = None,
    title: str | None = None,
    ax: Any = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Any:
    """Gap against number of cells: where the theory certifies trackability; your experiment marked.

    Parameters
    ----------
    report
        A :class:`~trackability.diagnostics.TrackabilityReport` (e.g. from
        :func:`trackability.tl.diagnose`): its delta, L, n and gap.
    L
        Other plausible Lipschitz rates to draw as well (default: the report's L and, when the
        report has one, the ends of its bootstrap interval).
    n_range, time_unit, title
        Range of cell numbers; unit of the gap (default: the report's); title.
    ax, show, save
        scanpy conventions.

    """
    from trackability.plotting.diagnostics import plot_trackable_region

    unit = time_unit or str(report.details.get("time_unit") or "time units of the gap")
    if L is None:
        L = sorted({float(report.L), *(float(v) for v in report.ci.get("L", ()) if v > 0)})
    ax = new_axes(ax, (6.0, 4.4))
    plot_trackable_region(report=report, L=L, n_range=n_range, time_unit=unit, ax=ax,
                          title=title or f"Trackable region: gap vs cells (your gap t = {report.gap:g} "
                          f"{unit}, regime {report.regime})")
    return finish(ax, show, save)


def phase_diagram(
    table: Any,
    *,
    deltas: Any = None,
    title: str | None = None,
    ax: Any = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Any:
    """LAOT's recovery rate over dimension and gap (one panel per generator).

    ``table`` is the output of :func:`trackability.experiments.phase_transition`; with ``deltas``
    (per-d critical gaps) the computed Delta is drawn over the empirical diagram
    (:func:`trackability.plotting.plot_phase_with_delta`), else the heatmap with the empirical
    boundary (:func:`trackability.plotting.plot_phase_heatmap`). ``ax``: one Axes per panel.
    """
    from trackability.plotting.diagnostics import plot_phase_with_delta
    from trackability.plotting.phase import plot_phase_heatmap

    if deltas is not None:
        fig = plot_phase_with_delta(table, deltas, title=title, ax=ax)
    else:
        fig = plot_phase_heatmap(table, title=title or "Recovery of the true cell correspondence "
                                 "by LAOT, over dimension d and gap t", ax=ax)
    return finish(fig.axes[0] if ax is None else ax, show, save)
