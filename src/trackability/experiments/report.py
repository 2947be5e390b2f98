"""An HTML report of a benchmark folder: tables, figures, provenance, failures.

``write_report(DIR)`` reads ``DIR/results.csv`` (and ``config.yaml`` / ``manifest.json`` when
present), writes the summary tables to ``DIR/tables/`` (CSV and markdown), the figures to
``DIR/figures/`` (PNG) and ``DIR/report.html`` linking them. Nothing is recomputed from data.

:func:`page_html`, :func:`table_html` and :func:`image_html` are the one HTML writer of the
package: the demo page (:mod:`trackability.experiments.demo`) is written with them too.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trackability.experiments.bench import METRICS, atomic_write
from trackability.experiments.tables import (
    paired_tests,
    pivot,
    pivot_calibrated,
    rank_table,
    read_results,
    summarize,
    to_markdown,
)
from trackability.metrics.registry import get_metric, label

#: Metrics whose paired test against the mean shift (over seeds) gets a table.
PAIRED_METRICS = ("mmd2", "energy", "w2", "delta_pearson_top")

_CSS = """
body{font-family:system-ui,-apple-system,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{margin-bottom:0.2em} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.88em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left} th{background:#f3f3f3}
pre{background:#f6f6f6;padding:0.8em;overflow-x:auto;font-size:0.85em}
img{max-width:100%;border:1px solid #eee;margin:0.4em 0}
.err,.bad{color:#a00;font-weight:600} .ok{color:#1a7f37;font-weight:600}
.box{background:#f7f9fc;border-left:4px solid #4a78c2;padding:0.6em 1em;margin:1em 0}
"""


def page_html(title: str, body: list[str]) -> str:
    """A whole HTML page: ``title`` in the head, the shared style sheet, ``body`` (HTML parts)."""
    return "\n".join([
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        *body,
        "</body></html>",
    ])


def image_html(path: Path, out_dir: Path, alt: str, *, embed: bool = False) -> str:
    """An ``<img>`` of the PNG at ``path``, linked relative to ``out_dir``.

    With ``embed`` the image is inlined as a data URI (a self-contained page) and a link to the
    file follows it.
    """
    import base64

    rel = path.relative_to(out_dir).as_posix()
    if not embed:
        return f"<p><img src='{html.escape(rel)}' alt='{html.escape(alt)}'></p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<p><img src='data:image/png;base64,{data}' alt='{html.escape(alt)}'><br>"
            f"<small>file: <a href='{html.escape(rel)}'>{html.escape(rel)}</a></small></p>")


def table_html(table: Any) -> str:
    """An HTML table of a :func:`~trackability.experiments.tables.pivot` (``**x**`` in bold)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [table.index.name or "", *table.columns])
    body = []
    for idx, row in table.iterrows():
        cells = []
        for v in row.tolist():
            s = html.escape(str(v))
            if s.startswith("**") and s.endswith("**"):
                s = f"<b>{s[2:-2]}</b>"
            cells.append(f"<td>{s}</td>")
        body.append(f"<tr><td>{html.escape(str(idx))}</td>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def write_tables(results: Any, out_dir: str | os.PathLike) -> dict[str, Any]:
    """Write the summary tables to ``out_dir/tables`` and return them by title.

    ``summary.csv`` (every metric, mean and sd over seeds) and, as markdown: one pivot per
    metric (``<metric>.md``, with the replicate ceiling as the last column where the rows have
    it); the calibrated score per metric (``<metric>_calibrated.md``) where they have a ceiling;
    the paired tests against the mean shift (``vs_meanshift.md``); the rank metric across the
    tasks of a data set (``rank.md``) where the tasks share a scoring space; the fit time per
    method (``fit_time_s.md``). Tables without data are not written.
    """
    import pandas as pd

    tdir = Path(out_dir) / "tables"
    tdir.mkdir(parents=True, exist_ok=True)
    metrics = [m for m in METRICS if m in results.columns and results[m].notna().any()]
    summ = summarize(results, metrics)
    atomic_write(tdir / "summary.csv", summ.to_csv(index=False))
    tables: dict[str, Any] = {}
    for m in metrics:
        tab = pivot(results, m)
        atomic_write(tdir / f"{m}.md", to_markdown(tab) + "\n")
        tables[m] = tab
    for m in [m for m in metrics if get_metric(m).calibrate]:
        cal = pivot_calibrated(results, m)
        if not cal.empty:
            atomic_write(tdir / f"{m}_calibrated.md", to_markdown(cal) + "\n")
            tables[f"{m}_calibrated"] = cal
    tests = [paired_tests(results, m).assign(metric=m) for m in PAIRED_METRICS if m in metrics]
    tests = [t for t in tests if not t.empty]
    if tests:
        tab = pd.concat(tests, ignore_index=True)
        tab = tab[["task", "metric", "method", "n_seeds", "mean_improvement", "wilcoxon_p",
                   "ttest_p"]]
        shown = tab.assign(**{c: tab[c].map(lambda v: f"{v:.3g}") for c in
                              ("mean_improvement", "wilcoxon_p", "ttest_p")}).set_index("task")
        atomic_write(tdir / "vs_meanshift.md", to_markdown(shown) + "\n")
        tables["vs_meanshift"] = shown
    rank = rank_table(results)
    if not rank.empty:
        shown = rank.set_index("task_group")
        for c in ("rank", "centroid_acc"):
            shown[c] = [f"{a:.3f} ± {b:.3f}" if b == b else f"{a:.3f}"
                        for a, b in zip(shown.pop(f"{c}_mean"), shown.pop(f"{c}_sd"), strict=True)]
        atomic_write(tdir / "rank.md", to_markdown(shown) + "\n")
        tables["rank"] = shown
    if "fit_time_s" in results.columns and results["fit_time_s"].notna().any():
        tab = pivot(results, "fit_time_s", digits=3, mark_best=False)
        atomic_write(tdir / "fit_time_s.md", to_markdown(tab) + "\n")
        tables["fit_time_s"] = tab
    return tables


_TITLES = {
    "vs_meanshift": "Does each method beat the mean shift? (one-sided paired tests over seeds; "
                    "improvement > 0: better)",
    "rank": "Rank of each prediction's own condition among the data set's tasks "
            "(0 is perfect, 0.5 chance) and centroid accuracy",
}


def _title(key: str) -> str:
    if key in _TITLES:
        return _TITLES[key]
    if key.endswith("_calibrated"):
        m = key.removesuffix("_calibrated")
        return (f"{label(m)}: calibrated score s = (u - b) / (r - b) (0: the mean shift, "
                "1: the replicate ceiling)")
    if key == "fit_time_s":
        return "fit time per fit (s)"
    return f"{label(key)} ({key})"


def write_figures(results: Any, out_dir: str | os.PathLike) -> list[Path]:
    """Method comparison per metric, and metric vs gap when the tasks form a sweep."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from trackability.plotting.benchmark import plot_method_comparison, plot_metric_vs_gap

    fdir = Path(out_dir) / "figures"
    fdir.mkdir(parents=True, exist_ok=True)
    paths = []
    metrics = [m for m in ("mmd2", "energy", "mean_r2") if m in results.columns
               and results[m].notna().any()]
    sweep = "meta.gap" in results.columns and results["meta.gap"].notna().any()
    if sweep and "rmse_paired" in results.columns and results["rmse_paired"].notna().any():
        metrics.append("rmse_paired")
    for m in metrics:
        p = fdir / f"comparison_{m}.png"
        fig = plot_method_comparison(results, m, path=p)
        plt.close(fig)
        paths.append(p)
        if sweep:
            p = fdir / f"vs_gap_{m}.png"
            unit = ""
            if "meta.gap_unit" in results.columns and results["meta.gap_unit"].notna().any():
                unit = f" ({results['meta.gap_unit'].dropna().iloc[0]})"
            fig = plot_metric_vs_gap(results, m, gap_label=f"gap{unit}",
                                     facet="meta.d" if "meta.d" in results.columns else None)
            fig.savefig(p, dpi=150)
            plt.close(fig)
            paths.append(p)
    return paths


def write_report(
    out_dir: str | os.PathLike,
    *,
    figures: bool = True,
    sections: Sequence[str] = (),
    title: str | None = None,
    filename: str = "report.html",
) -> Path:
    """Write ``out_dir/<filename>`` (plus tables and figures) and return its path.

    ``sections`` are HTML parts placed after the provenance, before the tables (the demo puts its
    phase transition there); ``title`` replaces the page's heading ``Benchmark: <config name>``.
    """
    import pandas as pd

    out = Path(out_dir)
    all_rows = pd.read_csv(out / "results.csv") if (out / "results.csv").is_file() else None
    results = read_results(out)
    if results.empty:
        raise ValueError(f"{out / 'results.csv'} has no successful rows to report.")
    tables = write_tables(results, out)
    figs = write_figures(results, out) if figures else []
    cfg_text = (out / "config.yaml").read_text() if (out / "config.yaml").is_file() else ""
    manifest = {}
    if (out / "manifest.json").is_file():
        manifest = json.loads((out / "manifest.json").read_text())
    name = manifest.get("config_name") or (results["config_name"].iloc[0]
                                           if "config_name" in results.columns else out.name)
    heading = title if title is not None else f"Benchmark: {name}"
    parts = [
        f"<h1>{html.escape(str(heading))}</h1>",
        "<p>Every method saw the same split, preprocessing (fitted on the training split) and "
        "metric code. Values are mean ± sd over seeds (the split seed); the best mean per task is "
        "in bold. MMD² is the unbiased estimator with the RBF bandwidth chosen by the median "
        "heuristic on the training split only. Where the rows have it, the column "
        "<i>replicate</i> is the replicate ceiling: the same metric between two random halves of "
        "the observed test treated cells (what the data's own noise allows), and the calibrated "
        "score s = (u - b) / (r - b) reads each method against the mean shift (b, s = 0) and that "
        "ceiling (r, s = 1). The E-test p-value is a permutation test (energy distance) of "
        "prediction vs truth: large means indistinguishable at this sample size.</p>",
        "<h2>Provenance</h2><ul>",
    ]
    seeds = sorted(results["seed"].unique().tolist())
    info = {
        "rows (ok)": len(results), "tasks": results["task"].nunique(),
        "methods": ", ".join(dict.fromkeys(results["method"])), "seeds": seeds,
        "config hash": manifest.get("config_hash", ""),
        "package version": ", ".join(sorted(set(map(str, results.get("package_version", []))))),
        "git revision": ", ".join(sorted(set(map(str, results.get("git_revision", []))))),
    }
    parts += [f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in info.items()]
    parts.append("</ul>")
    if all_rows is not None and "status" in all_rows.columns:
        bad = all_rows[all_rows["status"] != "ok"]
        if len(bad):
            parts.append(f"<h2 class='err'>Failed rows ({len(bad)})</h2><ul>")
            for _, r in bad.iterrows():
                parts.append(f"<li class='err'>{html.escape(str(r['task']))} / "
                             f"{html.escape(str(r['method']))} / seed {r['seed']}: "
                             f"{html.escape(str(r.get('error', '')))}</li>")
            parts.append("</ul>")
    parts.extend(sections)
    parts.append("<h2>Tables</h2>")
    for m, tab in tables.items():
        parts.append(f"<h3>{html.escape(_title(m))}</h3>{table_html(tab)}")
    if figs:
        parts.append("<h2>Figures</h2>")
        for p in figs:
            parts.append(image_html(p, out, p.stem))
    if cfg_text:
        parts.append(f"<h2>Config</h2><pre>{html.escape(cfg_text)}</pre>")
    path = out / filename
    atomic_write(path, page_html(title or f"trackability benchmark: {name}", parts))
    return path
