"""Notebook display (``_repr_html_``) and the short ``repr`` of a :class:`TrackabilityReport`."""

from __future__ import annotations

import html
import math
from typing import Any

_COLOURS = {"trackable": "#1a7f37", "borderline": "#9a6700", "untrackable": "#cf222e"}


def _f(v: Any) -> str:
    if v is None:
        return "n/a"
    v = float(v)
    return "inf" if math.isinf(v) else f"{v:.4g}"


def time_unit(report: Any) -> str:
    """The unit of the gap (``details["time_unit"]``; else the units the gap was given in)."""
    return str(report.details.get("time_unit") or "time units of the gap")


def short_repr(report: Any) -> str:
    """One line: regime, gap, Delta and their ratio, sizes."""
    u = time_unit(report)
    return (f"TrackabilityReport(regime={report.regime!r}, gap={_f(report.gap)} {u}, "
            f"Delta={_f(report.Delta)} {u}, gap/Delta={_f(report.ratio)}, n={report.n}, "
            f"n_target={report.n_target}, d={report.d})")


def report_html(report: Any) -> str:
    """An HTML table of the report for Jupyter."""
    u = html.escape(time_unit(report))
    level = f"{round(100 * report.confidence)} %"
    ci_head = f"{level} bootstrap interval ({report.n_boot} resamples)" if report.ci else "interval"

    def ci(name: str) -> str:
        if name not in report.ci:
            return "—"
        lo, hi = report.ci[name]
        return f"[{_f(lo)}, {_f(hi)}]"

    rows = [
        ("restricted-isometry constant δ", _f(report.delta), "—", "dimensionless (< 1 needed)"),
        ("Lipschitz rate L", _f(report.L), ci("L"),
         f"data units per {u} ({report.L_source}, {report.L_statistic})"),
        ("critical gap Δ = √((1−δ)/(2nL²))", _f(report.Delta), ci("Delta"), u),
        ("separation bound", _f(report.Delta_separation), "—", u),
        ("your gap t", _f(report.gap), "—", u),
        ("t / Δ", _f(report.ratio), ci("ratio"), "ratio (> 1: beyond the critical gap)"),
    ]
    rec = report.recoverability
    if rec is not None:
        lo, hi = rec["interval"]
        rows.append(("calibrated recovery at t (planted-matching bootstrap)", _f(rec["recovery"]),
                     f"[{_f(lo)}, {_f(hi)}] ({round(100 * rec['confidence'])} %)",
                     f"fraction of {rec['n']} cells an exact matching returns to themselves"))
    colour = _COLOURS.get(report.regime, "#57606a")
    body = "".join(
        f"<tr><td style='text-align:left'>{html.escape(a)}</td><td>{b}</td><td>{c}</td>"
        f"<td style='text-align:left'>{html.escape(d)}</td></tr>" for a, b, c, d in rows
    )
    notes = "".join(
        f"<li><b>{html.escape(a['status'])}</b>: {html.escape(a['name'])}: {html.escape(a['detail'])}</li>"
        for a in report.assumptions if a["status"] != "ok"
    )
    return (
        "<div class='trackability-report'>"
        f"<p><b>Trackability report</b>: {report.n} control × {report.n_target} treated cells, "
        f"{report.d} features. Regime: <span style='color:{colour};font-weight:bold'>"
        f"{html.escape(report.regime.upper())}</span></p>"
        "<table><thead><tr><th style='text-align:left'>quantity</th><th>value</th>"
        f"<th>{html.escape(ci_head)}</th><th style='text-align:left'>units</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
        f"<p><b>Verdict</b>: {html.escape(report.verdict)}</p>"
        + (f"<p>Assumptions to check:</p><ul>{notes}</ul>" if notes else "")
        + "</div>"
    )
