"""The demo: a reduced phase transition and a held-out method comparison on synthetic data.

:func:`run_demo` needs no download. It

1. runs the phase transition with both generators: the seed-faithful original (non-centred ``E``,
   legacy seeds, 50 trials on a subset of the original grid, so its numbers can be checked
   against the original run) and the centred generator;
2. runs the benchmark config :data:`DEMO_YAML` (``configs/demo.yaml``: ``Identity``,
   ``MeanShift`` and ``LAOT`` on a trackable and an untrackable ``synthetic`` task) through
   :func:`~trackability.experiments.bench.run_benchmark`, at the size's seeds and cell counts:
   every metric of the benchmark, plus ``recovery`` of the training correspondence and
   ``map_error`` ``|W_ - W^T|_F`` for LAOT;
3. writes ``index.html`` with the report writer of ``trackability report``
   (:func:`~trackability.experiments.report.write_report`), the phase transition as its first
   section, next to the benchmark's ``results.csv``, ``tables/`` and ``figures/``.
"""

from __future__ import annotations

import html
import json
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trackability._validation import check_choice
from trackability._version import provenance
from trackability.data.synthetic import ORIGINAL_GAPS
from trackability.experiments.phase_transition import phase_transition

#: Recovery of the original run (50 trials, n = 100), the values the seed-faithful mode reproduces.
ORIGINAL_REFERENCE: dict[int, dict[float, float]] = {
    100: {**{float(g): 1.000 for g in (0, 1, 2, 5, 8, 10, 15, 20, 25, 30, 40)},
          50.0: 0.999, 100.0: 0.484, 150.0: 0.232, 200.0: 0.149},
    10: {**{float(g): 1.000 for g in (0, 1, 2, 5, 8, 10)}, 15.0: 0.927, 20.0: 0.786},
}

SIZES = ("tiny", "quick", "full")


#: The method comparison's benchmark config (tasks, methods, metrics; the ``quick`` seeds and
#: sizes). ``configs/demo.yaml`` links to it, so ``trackability bench configs/demo.yaml`` runs it.
DEMO_YAML = Path(__file__).with_name("demo.yaml")


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of one demo run (see :data:`DEMO_CONFIGS`).

    The phase-transition grids, and for the method comparison (:data:`DEMO_YAML`) the number of
    split seeds (``replicates``) and the cell counts ``n_train`` / ``n_test`` that replace the
    YAML's (which are the ``quick`` ones).
    """

    size: str
    faithful_dims: tuple[int, ...]
    faithful_gaps: tuple[float, ...]
    faithful_trials: int
    centered_dims: tuple[int, ...]
    centered_gaps: tuple[float, ...]
    centered_trials: int
    pt_n: int
    n_train: int
    n_test: int
    replicates: int


#: Gaps of the centred phase transition (its transition lies at smaller gaps than the original's).
CENTERED_GAPS = (0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0)

#: ``tiny`` is for tests (seconds), ``quick`` the default (about 50 s of CPU, mostly the phase
#: transition), ``full`` the whole original grid with 50 trials and 10 seeds of larger tasks.
DEMO_CONFIGS: dict[str, DemoConfig] = {
    "tiny": DemoConfig(
        "tiny", (100, 10), (15.0, 20.0, 100.0), 50,
        (50, 10), (1.0, 4.0, 8.0, 16.0, 32.0), 4, 100, 150, 150, 2,
    ),
    "quick": DemoConfig(
        "quick", (100, 10), tuple(float(g) for g in ORIGINAL_GAPS), 50,
        (100, 50, 20, 10), CENTERED_GAPS, 20, 100, 500, 500, 3,
    ),
    "full": DemoConfig(
        "full", (100, 90, 80, 70, 60, 50, 40, 30, 20, 10), tuple(float(g) for g in ORIGINAL_GAPS),
        50, (100, 50, 20, 10), CENTERED_GAPS, 50, 100, 1000, 1000, 10,
    ),
}


@dataclass
class DemoResult:
    """What :func:`run_demo` produced.

    Attributes
    ----------
    paths
        Files written, by role (``"phase_csv"``, ``"results_csv"``, ``"summary_csv"``,
        ``"reference_csv"``, ``"heatmap"``, ``"curves"``, ``"html"``).
    phase
        Phase-transition table (both generators) with provenance columns.
    methods
        The benchmark's results table: one row per (task, method, seed), with provenance.
    summary
        Mean and sd over seeds per (task, method) of :data:`DEMO_METRICS`.
    reference
        Seed-faithful recovery next to the original run's values, where the grids overlap.

    """

    paths: dict[str, Path]
    phase: Any
    methods: Any
    summary: Any
    reference: Any


# -- the method comparison: a benchmark config -----------------------------------------------------
def demo_bench_config(config: DemoConfig, random_state: int = 0) -> Any:
    """The benchmark config of the method comparison: :data:`DEMO_YAML` at ``config``'s sizes.

    Seeds ``random_state, ..., random_state + replicates - 1``; every task's ``n_train`` and
    ``n_test`` set to the config's (the YAML holds the ``quick`` sizes).
    """
    import yaml

    from trackability.experiments.config import validate_config

    data = yaml.safe_load(DEMO_YAML.read_text())
    data["seeds"] = [int(random_state) + r for r in range(config.replicates)]
    for t in data["tasks"]:
        t["options"] = {**t["options"], "n_train": config.n_train, "n_test": config.n_test}
    return validate_config(data, source=str(DEMO_YAML))


def reference_check(phase: Any) -> Any:
    """Seed-faithful recovery next to the original run's published values (where both exist)."""
    import pandas as pd

    rows = []
    sub = phase[phase["generator"] == "seed_faithful"]
    for _, r in sub.iterrows():
        ref = ORIGINAL_REFERENCE.get(int(r["d"]), {}).get(float(r["gap"]))
        if ref is None:
            continue
        rows.append({"d": int(r["d"]), "gap": float(r["gap"]), "trials": int(r["trials"]),
                     "original": ref, "reproduced": round(float(r["recovery"]), 3),
                     "match": int(r["trials"]) == 50 and round(float(r["recovery"]), 3) == ref})
    return pd.DataFrame(rows, columns=["d", "gap", "trials", "original", "reproduced", "match"])


# -- the run ---------------------------------------------------------------------------------------
def with_provenance(df: Any, random_state: int | None, config: dict[str, Any]) -> Any:
    """Copy ``df`` and add the provenance columns that let any row be regenerated.

    The columns are ``package_version``, ``git_revision``, ``random_state`` and ``config`` (the
    configuration as JSON).
    """
    df = df.copy()
    prov = provenance()
    df["package_version"] = prov["package_version"]
    df["git_revision"] = prov["git_revision"]
    df["random_state"] = random_state
    df["config"] = json.dumps(config, sort_keys=True, default=str)
    return df


def run_demo(
    out_dir: str | os.PathLike = "trackability-demo",
    quick: bool = True,
    random_state: int = 0,
    *,
    size: str | None = None,
    n_jobs: int = 1,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo and write its tables, figures and ``index.html`` to ``out_dir``.

    The method comparison is the benchmark config :data:`DEMO_YAML` run by
    :func:`~trackability.experiments.bench.run_benchmark` (its ``results.csv``, ``rows/``,
    ``tables/`` and ``figures/`` land in ``out_dir``); ``index.html`` is written by the report
    writer of ``trackability report`` (:func:`~trackability.experiments.report.write_report`) with
    the phase transition as its first section.

    Parameters
    ----------
    out_dir
        Output folder (created; existing demo files in it are overwritten, rows recomputed).
    quick
        The ``quick`` sizes rather than ``full`` (the whole original grid with 50 trials, 10
        seeds of larger tasks).
    random_state
        Seed of the centred phase transition and first split seed of the method comparison (the
        seed-faithful generator uses the original seeds by definition).
    size
        ``"tiny"``, ``"quick"`` or ``"full"``; overrides ``quick`` (``"tiny"`` is for tests).
    n_jobs
        Worker processes (each pinned to one BLAS thread).
    progress
        Show progress bars (None: follow ``TRACKABILITY_PROGRESS``).
    log
        Called with a one-line message at the start of each stage (e.g. ``print``).

    Returns
    -------
    DemoResult

    """
    import pandas as pd

    from trackability.experiments.bench import run_benchmark
    from trackability.experiments.report import write_report
    from trackability.experiments.tables import summarize

    size = size if size is not None else ("quick" if quick else "full")
    check_choice(size, "size", SIZES)
    if not isinstance(random_state, int | np.integer) or random_state < 0:
        raise ValueError(f"random_state must be a non-negative integer; got {random_state!r}.")
    if not isinstance(n_jobs, int | np.integer) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all cores); got {n_jobs!r}.")
    config = DEMO_CONFIGS[size]
    bench_cfg = demo_bench_config(config, int(random_state))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    say = log or (lambda _msg: None)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}

    say(f"[1/4] phase transition, original generator (seed-faithful): d in "
        f"{list(config.faithful_dims)}, {len(config.faithful_gaps)} gaps, "
        f"{config.faithful_trials} trials")
    t0 = time.perf_counter()
    faithful = phase_transition(config.faithful_dims, config.faithful_gaps,
                                trials=config.faithful_trials, n=config.pt_n, seed_faithful=True,
                                n_jobs=n_jobs, progress=progress)
    say(f"[2/4] phase transition, centred generator: d in {list(config.centered_dims)}, "
        f"{len(config.centered_gaps)} gaps, {config.centered_trials} trials")
    centred = phase_transition(config.centered_dims, config.centered_gaps,
                               trials=config.centered_trials, n=config.pt_n, seed_faithful=False,
                               random_state=random_state, n_jobs=n_jobs, progress=progress)
    phase = pd.concat([faithful, centred], ignore_index=True)
    timings["phase transition"] = time.perf_counter() - t0

    say(f"[3/4] benchmark {bench_cfg.name}: Identity / MeanShift / LAOT on "
        f"{len(bench_cfg.tasks)} tasks x {len(bench_cfg.seeds)} seeds ({config.n_train} "
        f"training pairs, {config.n_test} + {config.n_test} test cells)")
    t0 = time.perf_counter()
    methods = run_benchmark(bench_cfg, out, n_jobs=n_jobs,
                            backend="serial" if n_jobs == 1 else "joblib", progress=progress,
                            resume=False)
    if (methods["status"] != "ok").any():
        bad = methods[methods["status"] != "ok"].iloc[0]
        raise RuntimeError(f"demo benchmark row {bad['task']} / {bad['method']} / seed "
                           f"{bad['seed']} failed: {bad.get('error', '')}")
    summary = summarize(methods, DEMO_METRICS)
    timings["method comparison"] = time.perf_counter() - t0
    reference = reference_check(phase)

    say("[4/4] writing tables, figures and index.html")
    paths = {
        "phase_csv": out / "phase_transition.csv",
        "results_csv": out / "results.csv",
        "reference_csv": out / "reference_check.csv",
    }
    phase = with_provenance(phase, random_state, {"demo": asdict(config)})
    phase.to_csv(paths["phase_csv"], index=False)
    reference.to_csv(paths["reference_csv"], index=False)
    paths.update(_write_figures(phase, out / "figures"))
    timings["total"] = time.perf_counter() - t_start
    sections = _phase_section(out, config, random_state, summary, reference, paths, timings)
    paths["html"] = write_report(out, filename="index.html", sections=sections,
                                 title=f"trackability demo ({config.size})")
    paths["summary_csv"] = out / "tables" / "summary.csv"
    return DemoResult(paths, phase, methods, summary, reference)


#: The metrics the demo's summary (and the CLI's table) shows.
DEMO_METRICS = ("mmd2", "energy", "w2", "mean_r2", "rmse_paired", "recovery", "map_error")


def _write_figures(phase: Any, fig_dir: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from trackability.plotting.phase import plot_phase_heatmap, plot_recovery_curves

    paths = {"heatmap": fig_dir / "phase_heatmap.png", "curves": fig_dir / "recovery_curves.png"}
    for key, fig in (("heatmap", plot_phase_heatmap(phase)), ("curves", plot_recovery_curves(phase))):
        fig.savefig(paths[key], dpi=150)
        plt.close(fig)
    return paths


# -- the demo's sections of the report -------------------------------------------------------------
def _fmt(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        v = float(v)
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.{digits}g}"
    return html.escape(str(v))


def _by_group(summary: Any, group: str) -> Any:
    """The summary rows of task group ``group`` (task ``group/<subtask>``), indexed by method."""
    return summary[summary["task"].str.split("/").str[0] == group].set_index("method")


def _findings(summary: Any) -> list[str]:
    lines = []
    for group in dict.fromkeys(summary["task"].str.split("/").str[0]):
        g = _by_group(summary, group)
        if not {"laot", "identity", "meanshift"} <= set(g.index):
            continue
        lao, idm, ms = g.loc["laot"], g.loc["identity"], g.loc["meanshift"]
        ratio = idm["mmd2_mean"] / lao["mmd2_mean"] if lao["mmd2_mean"] > 0 else np.inf
        sub = str(g["task"].iloc[0]).split("/", 1)[-1]
        lines.append(
            f"<b>{html.escape(group)}</b> ({html.escape(sub)}): LAOT recovered "
            f"{100 * lao['recovery_mean']:.1f}% of the training correspondence (map error "
            f"{_fmt(lao['map_error_mean'])}); held-out MMD² LAOT {_fmt(lao['mmd2_mean'])} vs "
            f"Identity {_fmt(idm['mmd2_mean'])} vs MeanShift {_fmt(ms['mmd2_mean'])}"
            + (f" (Identity / LAOT = {ratio:.3g}x)" if np.isfinite(ratio) else "")
            + f"; paired RMSE to the true treated state of each test cell: LAOT "
            f"{_fmt(lao['rmse_paired_mean'])} vs Identity {_fmt(idm['rmse_paired_mean'])}."
        )
    return lines


def _interpretation(summary: Any) -> str:
    """A caution drawn from the numbers: distribution metrics do not reveal lost correspondence."""
    g = _by_group(summary, "untrackable")
    if not {"laot", "identity"} <= set(g.index):
        return ""
    lao, idm = g.loc["laot"], g.loc["identity"]
    if not (lao["mmd2_mean"] < idm["mmd2_mean"] and lao["recovery_mean"] < 0.5):
        return ""
    worse = lao["rmse_paired_mean"] >= idm["rmse_paired_mean"]
    return (
        "<p class='box'><b>Read with care.</b> On the untrackable task LAOT still fits the "
        f"treated <i>distribution</i> well (MMD² {_fmt(lao['mmd2_mean'])} vs "
        f"{_fmt(idm['mmd2_mean'])} for no change) although it recovered only "
        f"{100 * lao['recovery_mean']:.1f}% of the correspondence and its map is off by "
        f"{_fmt(lao['map_error_mean'])} (Frobenius). Its per-cell predictions are "
        + ("<b>no better than predicting no change</b>" if worse else "far from the truth")
        + f" (paired RMSE {_fmt(lao['rmse_paired_mean'])} vs {_fmt(idm['rmse_paired_mean'])}). "
        "Distribution distances cannot tell the two regimes apart; the phase transition "
        "(and the diagnostics) can.</p>"
    )


def _phase_section(out: Path, config: DemoConfig, random_state: int, summary: Any,
                   reference: Any, paths: dict[str, Path], timings: dict[str, float]) -> list[str]:
    """The demo's own HTML (key numbers, the phase transition), placed before the tables."""
    from trackability.experiments.report import image_html, table_html

    prov = provenance()
    flag = {"quick": "--quick", "full": "--full", "tiny": "--quick --size tiny"}[config.size]
    cmd = f"trackability demo --out {shlex.quote(str(out))} {flag} --seed {random_state}"
    n_match = int(reference["match"].sum()) if len(reference) else 0
    checked = reference[reference["trials"] == 50] if len(reference) else reference
    if len(checked):
        ok = n_match == len(checked)
        ref_line = (f"<p class='{'ok' if ok else 'bad'}'>{n_match} of {len(checked)} grid points "
                    f"reproduce the original run's recovery to 3 decimals.</p>")
    else:
        ref_line = "<p>No grid point of this run overlaps the original's published values.</p>"
    parts = [
        f"<p class='sub'>demo size <b>{config.size}</b>, seed {random_state}, package "
        f"{html.escape(prov['package_version'])}, git {html.escape(prov['git_revision'])}; "
        f"regenerate: <code>{html.escape(cmd)}</code>; timings (s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()) + "</p>",
        "<div class='box'><b>What this shows.</b> Control and treated cells are two unpaired "
        "populations; treated cell <i>j</i> is <code>W x</code> of an unknown control cell. "
        "For a small enough gap (<i>trackable</i>) LAOT recovers the cell-to-cell "
        "correspondence exactly, and with it the map; past a critical gap (<i>untrackable</i>) "
        "the correspondence is lost. The phase transition maps where that happens; the "
        "benchmark below (config <code>configs/demo.yaml</code>) shows what it means for "
        "prediction on held-out cells, next to the two baselines every method must beat "
        "(predict no change; add the mean shift). Recovery and map error are LAOT's (the only "
        "method with a matching and a map); they are empty for the baselines.</div>",
        "<h2>Key numbers</h2><ul>",
        *[f"<li>{line}</li>" for line in _findings(summary)],
        "</ul>",
        _interpretation(summary),
        "<h2>Phase transition</h2>",
        f"<p>Recovery rate = fraction of cells LAOT matches to their true origin, mean over trials; "
        f"n = {config.pt_n} cells per population. Original generator: non-centred uniform E, "
        f"legacy seeds <code>i + j + trial</code>, Euclidean cost, 10 iterations (d in "
        f"{list(config.faithful_dims)}, {config.faithful_trials} trials). Centred generator: "
        f"zero-mean E, LAOT defaults (d in {list(config.centered_dims)}, "
        f"{config.centered_trials} trials). Table: <a href='phase_transition.csv'>"
        "phase_transition.csv</a> (every row carries package version, git revision, seed and "
        "configuration).</p>",
        image_html(paths["heatmap"], out, "phase heatmap", embed=True),
        image_html(paths["curves"], out, "recovery curves", embed=True),
        "<h3>Check against the original run</h3>",
        ref_line,
    ]
    if len(reference):
        shown = reference.set_index("d")[["gap", "trials", "original", "reproduced", "match"]]
        parts.append(table_html(shown.map(_fmt)))
    parts.append(f"<h2>Methods on held-out cells ({config.replicates} seeds, {config.n_train} "
                 f"training pairs, {config.n_test} + {config.n_test} test cells)</h2>")
    return parts
