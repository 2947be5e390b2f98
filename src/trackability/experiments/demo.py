"""The demo: a reduced phase transition and a held-out method comparison on synthetic data.

:func:`run_demo` needs no download. It

1. runs the phase transition with both generators: the seed-faithful original (non-centred ``E``,
   legacy seeds, 50 trials on a subset of the original grid, so its numbers can be checked
   against the original run) and the centred generator;
2. compares ``Identity``, ``MeanShift`` and ``LAOT`` on a trackable and an untrackable synthetic
   task over several seeded replicates, every method fitted on the same training split and scored
   on held-out cells: ``predict(test control)`` against the test treated cells, with the unbiased
   MMD^2 whose bandwidth is the median heuristic of the *training* cells, energy distance, W2 and
   mean R^2 (the shared scorer of the benchmark harness), plus LAOT's recovery rate of the
   training correspondence and its map error ``|W_ - W^T|_F``;
3. writes CSV tables (every row carries package version, git revision, seed and config), PNG
   figures and a self-contained ``index.html``.
"""

from __future__ import annotations

import html
import json
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trackability._validation import check_choice
from trackability._version import provenance
from trackability.data.synthetic import ORIGINAL_GAPS
from trackability.experiments.parallel import run_jobs
from trackability.experiments.phase_transition import phase_transition

#: Recovery of the original run (50 trials, n = 100), the values the seed-faithful mode reproduces.
ORIGINAL_REFERENCE: dict[int, dict[float, float]] = {
    100: {**{float(g): 1.000 for g in (0, 1, 2, 5, 8, 10, 15, 20, 25, 30, 40)},
          50.0: 0.999, 100.0: 0.484, 150.0: 0.232, 200.0: 0.149},
    10: {**{float(g): 1.000 for g in (0, 1, 2, 5, 8, 10)}, 15.0: 0.927, 20.0: 0.786},
}

SIZES = ("tiny", "quick", "full")
METHODS = ("identity", "meanshift", "laot")


@dataclass(frozen=True)
class DemoTask:
    """A synthetic task of the method comparison: ``W = I + gap E`` (centred E) in ``d`` dims."""

    name: str
    d: int
    gap: float
    noise: float = 0.0


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of one demo run (see :data:`DEMO_CONFIGS`)."""

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
    tasks: tuple[DemoTask, ...] = field(
        default=(DemoTask("trackable", 10, 2.0, 0.05), DemoTask("untrackable", 10, 16.0, 0.05))
    )


#: Gaps of the centred phase transition (its transition lies at smaller gaps than the original's).
CENTERED_GAPS = (0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0)

#: ``tiny`` is for tests (seconds), ``quick`` the default (about 15 s of CPU), ``full`` the whole
#: original grid with 50 trials and 10 replicates of larger tasks (about 100 s of CPU).
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
        Files written, by role (``"phase_csv"``, ``"methods_csv"``, ``"summary_csv"``,
        ``"heatmap"``, ``"curves"``, ``"comparison"``, ``"html"``).
    phase
        Phase-transition table (both generators) with provenance columns.
    methods
        One row per (task, method, replicate) with every metric and provenance.
    summary
        Mean and sd over replicates per (task, method).
    reference
        Seed-faithful recovery next to the original run's values, where the grids overlap.

    """

    paths: dict[str, Path]
    phase: Any
    methods: Any
    summary: Any
    reference: Any


# -- the method comparison -------------------------------------------------------------------------
@dataclass(frozen=True)
class _MethodJob:
    task: DemoTask
    replicate: int
    seed: int
    n_train: int
    n_test: int


def synthetic_split(task: DemoTask, n_train: int, n_test: int, seed: int) -> dict[str, Any]:
    """Draw a synthetic pair and split it into a training and a test part, keeping the truth.

    ``n_train + 2 * n_test`` control cells are drawn. The training part holds ``n_train`` control
    cells and the treated cells they became (the model LAOT assumes: the same cells, measured
    twice, in unknown order). The test part mimics a real experiment, where each cell is measured
    once: ``n_test`` control cells to predict from, and the treated images of ``n_test`` *other*
    control cells to compare with. The two test samples are therefore independent, which the
    unbiased MMD^2 assumes (with the images of the very same cells the estimator is biased
    downwards: matched pairs inflate the cross term).

    Returns
    -------
    dict
        ``source_train``, ``target_train``, ``source_test``, ``target_test``;
        ``train_permutation`` (the training control cell of each training treated cell, for
        :func:`~trackability.metrics.recovery_rate`); ``test_truth`` (the noiseless treated state
        of each test control cell); ``W`` (the true map, ``F(x) = x @ W``).

    """
    from trackability.data.synthetic import near_identity

    for name, v in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(v, int | np.integer) or v < 2:
            raise ValueError(f"{name} must be an integer >= 2; got {v!r}.")
    n = n_train + 2 * n_test
    rng = np.random.default_rng(seed)
    pair = near_identity(n, task.d, task.gap, noise=task.noise, random_state=rng)
    order = rng.permutation(n)
    train_src = np.sort(order[:n_train])
    test_src = np.sort(order[n_train:n_train + n_test])
    part = np.zeros(n, dtype=np.int8)  # 0: train, 1: test control, 2: origin of test treated
    part[order[n_train:n_train + n_test]] = 1
    part[order[n_train + n_test:]] = 2
    # treated cell j came from control cell perm[j]; it belongs to the part of its origin
    origin_part = part[pair.permutation]
    train_tgt = np.flatnonzero(origin_part == 0)
    test_tgt = np.flatnonzero(origin_part == 2)
    pos = np.empty(n, dtype=np.int64)
    pos[train_src] = np.arange(train_src.size)
    return {
        "source_train": pair.control[train_src],
        "target_train": pair.treated[train_tgt],
        "source_test": pair.control[test_src],
        "target_test": pair.treated[test_tgt],
        "train_permutation": pos[pair.permutation[train_tgt]],
        "test_truth": pair.true_map(pair.control[test_src]),
        "W": pair.W,
    }


def _run_methods(job: _MethodJob) -> list[dict[str, Any]]:
    """Fit every method on one task replicate and score it on the held-out cells."""
    from trackability.experiments.bench import score
    from trackability.metrics import median_heuristic_gamma, recovery_rate
    from trackability.models.registry import make_model

    data = synthetic_split(job.task, job.n_train, job.n_test, job.seed)
    gamma = median_heuristic_gamma(data["source_train"], data["target_train"], max_samples=2000,
                                   random_state=job.seed)
    rows = []
    for name in METHODS:
        model = make_model(name, random_state=job.seed)
        t0 = time.perf_counter()
        model.fit(data["source_train"], data["target_train"])
        fit_seconds = time.perf_counter() - t0
        pred = model.predict(data["source_test"])
        row: dict[str, Any] = {
            "task": job.task.name, "method": name, "replicate": job.replicate, "seed": job.seed,
            "d": job.task.d, "gap": job.task.gap, "noise": job.task.noise,
            "n_train": job.n_train, "n_test": job.n_test,
        }
        # the demo shows no E-test: skip its permutations (the other numbers are unchanged)
        row.update(score(pred, data["target_test"], gamma=gamma, seed=job.seed,
                         metrics_cfg={"etest_permutations": 0}, truth=data["test_truth"]))
        row["fit_seconds"] = fit_seconds
        if name == "laot":
            row["recovery"] = recovery_rate(data["train_permutation"], model.matching_)
            row["map_error"] = float(np.linalg.norm(model.W_ - data["W"].T))
            row["n_iter"] = int(model.n_iter_)
            row["converged"] = bool(model.converged_)
        else:
            row.update(recovery=np.nan, map_error=np.nan, n_iter=np.nan, converged=np.nan)
        row["status"] = "ok"
        rows.append(row)
    return rows


def method_comparison(
    config: DemoConfig,
    random_state: int = 0,
    *,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> Any:
    """Identity / MeanShift / LAOT on the config's tasks, scored on held-out cells.

    Returns
    -------
    pandas.DataFrame
        One row per (task, method, replicate).

    """
    import pandas as pd

    ss = np.random.SeedSequence(int(random_state))
    seeds = ss.generate_state(len(config.tasks) * config.replicates).reshape(
        len(config.tasks), config.replicates
    )
    jobs = [
        _MethodJob(task, r, int(seeds[k, r]), config.n_train, config.n_test)
        for k, task in enumerate(config.tasks)
        for r in range(config.replicates)
    ]
    out = run_jobs(_run_methods, jobs, n_jobs=n_jobs, progress=progress,
                   desc="methods (task x replicate)")
    return pd.DataFrame([row for rows in out for row in rows])


def summarize_methods(methods: Any) -> Any:
    """Mean and sd over replicates of every metric, per (task, method)."""
    metrics = [c for c in ("mmd2", "mmd2_cellot", "energy", "w2", "mean_r2", "rmse_paired",
                           "recovery", "map_error", "fit_seconds") if c in methods.columns]
    grouped = methods.groupby(["task", "method"], sort=False)
    mean = grouped[metrics].mean().add_suffix("_mean")
    sd = grouped[metrics].std(ddof=1).add_suffix("_sd")
    out = mean.join(sd)
    cols = [c for m in metrics for c in (f"{m}_mean", f"{m}_sd")]
    out = out[cols].reset_index()
    out.insert(2, "replicates", grouped.size().to_numpy())
    other_rows = out["method"] != "laot"  # recovery and map error are LAOT's only
    for c in ("recovery", "map_error"):
        out.loc[other_rows, [f"{c}_mean", f"{c}_sd"]] = np.nan
    return out


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

    Parameters
    ----------
    out_dir
        Output folder (created; existing demo files in it are overwritten).
    quick
        The ``quick`` sizes (about 15 s of CPU) rather than ``full`` (the whole original grid
        with 50 trials, 10 replicates of larger tasks: about 100 s of CPU).
    random_state
        Seed of the centred phase transition and of the method-comparison tasks (the
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

    size = size if size is not None else ("quick" if quick else "full")
    check_choice(size, "size", SIZES)
    if not isinstance(random_state, int | np.integer) or random_state < 0:
        raise ValueError(f"random_state must be a non-negative integer; got {random_state!r}.")
    if not isinstance(n_jobs, int | np.integer) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all cores); got {n_jobs!r}.")
    config = DEMO_CONFIGS[size]
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

    say(f"[3/4] Identity / MeanShift / LAOT on {len(config.tasks)} tasks x "
        f"{config.replicates} replicates ({config.n_train} training pairs, {config.n_test} + "
        f"{config.n_test} test cells)")
    t0 = time.perf_counter()
    methods = method_comparison(config, random_state, n_jobs=n_jobs, progress=progress)
    summary = summarize_methods(methods)
    timings["method comparison"] = time.perf_counter() - t0
    reference = reference_check(phase)

    say("[4/4] writing tables, figures and index.html")
    paths = {
        "phase_csv": out / "phase_transition.csv",
        "methods_csv": out / "methods.csv",
        "summary_csv": out / "methods_summary.csv",
        "reference_csv": out / "reference_check.csv",
    }
    phase = with_provenance(phase, random_state, {"demo": asdict(config)})
    methods = with_provenance(methods, random_state, {"demo": asdict(config)})
    phase.to_csv(paths["phase_csv"], index=False)
    methods.to_csv(paths["methods_csv"], index=False)
    summary.to_csv(paths["summary_csv"], index=False)
    reference.to_csv(paths["reference_csv"], index=False)
    paths.update(_write_figures(phase, methods, out / "figures"))
    timings["total"] = time.perf_counter() - t_start
    paths["html"] = _write_html(out, config, random_state, phase, methods, summary, reference,
                                paths, timings)
    return DemoResult(paths, phase, methods, summary, reference)


def _write_figures(phase: Any, methods: Any, fig_dir: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from trackability.plotting.comparison import plot_metric_panels
    from trackability.plotting.phase import plot_phase_heatmap, plot_recovery_curves

    paths = {
        "heatmap": fig_dir / "phase_heatmap.png",
        "curves": fig_dir / "recovery_curves.png",
        "comparison": fig_dir / "method_comparison.png",
    }
    for key, fig in (
        ("heatmap", plot_phase_heatmap(phase)),
        ("curves", plot_recovery_curves(phase)),
        ("comparison", plot_metric_panels(
            methods, ("mmd2", "energy", "rmse_paired"),
            title="Held-out test cells: trackable vs untrackable task")),
    ):
        fig.savefig(paths[key], dpi=150)
        plt.close(fig)
    return paths


# -- the HTML summary ------------------------------------------------------------------------------
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


def _methods_html(methods: Any) -> str:
    """One table per metric (mean ± sd over replicates, best in bold), by the report's writer.

    The same :func:`~trackability.experiments.tables.pivot` and
    :func:`~trackability.experiments.report.table_html` as ``trackability report``, with labels and
    directions from the metric registry; recovery and map error are LAOT's only.
    """
    from trackability.experiments.report import table_html
    from trackability.experiments.tables import pivot
    from trackability.metrics.registry import label

    parts = []
    for c, head, higher in (("mmd2", label("mmd2"), None), ("energy", label("energy"), None),
                            ("w2", label("w2"), None), ("mean_r2", label("mean_r2"), None),
                            ("rmse_paired", label("rmse_paired"), None),
                            ("recovery", "recovery of the training correspondence", True),
                            ("map_error", "map error |W_ − Wᵀ|_F", False)):
        if c not in methods.columns or not methods[c].notna().any():
            continue
        rows = methods if c not in ("recovery", "map_error") else methods[
            methods["method"] == "laot"]
        tab = pivot(rows, c, higher=higher, mark_best=c not in ("recovery", "map_error"))
        parts.append(f"<h3>{html.escape(head)}</h3>{table_html(tab)}")
    return "".join(parts)


def _findings(summary: Any, config: DemoConfig) -> list[str]:
    lines = []
    for task in config.tasks:
        g = summary[summary["task"] == task.name].set_index("method")
        if not {"laot", "identity", "meanshift"} <= set(g.index):
            continue
        lao, idm, ms = g.loc["laot"], g.loc["identity"], g.loc["meanshift"]
        ratio = idm["mmd2_mean"] / lao["mmd2_mean"] if lao["mmd2_mean"] > 0 else np.inf
        lines.append(
            f"<b>{html.escape(task.name)}</b> (d = {task.d}, gap = {task.gap:g}): LAOT recovered "
            f"{100 * lao['recovery_mean']:.1f}% of the training correspondence (map error "
            f"{_fmt(lao['map_error_mean'])}); held-out MMD² LAOT {_fmt(lao['mmd2_mean'])} vs "
            f"Identity {_fmt(idm['mmd2_mean'])} vs MeanShift {_fmt(ms['mmd2_mean'])}"
            + (f" (Identity / LAOT = {ratio:.3g}x)" if np.isfinite(ratio) else "")
            + f"; paired RMSE to the true treated state of each test cell: LAOT "
            f"{_fmt(lao['rmse_paired_mean'])} vs Identity {_fmt(idm['rmse_paired_mean'])}."
        )
    return lines


def _interpretation(summary: Any, config: DemoConfig) -> str:
    """A caution drawn from the numbers: distribution metrics do not reveal lost correspondence."""
    names = [t.name for t in config.tasks]
    if "untrackable" not in names:
        return ""
    g = summary[summary["task"] == "untrackable"].set_index("method")
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


def _write_html(out: Path, config: DemoConfig, random_state: int, phase: Any, methods: Any,
                summary: Any, reference: Any, paths: dict[str, Path],
                timings: dict[str, float]) -> Path:
    from trackability.experiments.report import image_html, page_html, table_html

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
    tasks_desc = "".join(
        f"<li><b>{html.escape(t.name)}</b>: d = {t.d}, gap = {t.gap:g} (centred E, noise "
        f"{t.noise:g})</li>" for t in config.tasks)
    parts = [
        "<h1>trackability demo</h1>",
        f"<p class='sub'>size <b>{config.size}</b>, seed {random_state}, package "
        f"{html.escape(prov['package_version'])}, git {html.escape(prov['git_revision'])}, "
        f"{timings['total']:.0f} s</p>",
        "<div class='box'><b>What this shows.</b> Control and treated cells are two unpaired "
        "populations; treated cell <i>j</i> is <code>W x</code> of an unknown control cell. "
        "For a small enough gap (<i>trackable</i>) LAOT recovers the cell-to-cell "
        "correspondence exactly, and with it the map; past a critical gap (<i>untrackable</i>) "
        "the correspondence is lost. The phase transition maps where that happens; the method "
        "comparison shows what it means for prediction on held-out cells, next to the two "
        "baselines every method must beat (predict no change; add the mean shift).</div>",
        "<h2>Key numbers</h2><ul>",
        *[f"<li>{line}</li>" for line in _findings(summary, config)],
        "</ul>",
        "<h2>1. Phase transition</h2>",
        f"<p>Recovery rate = fraction of cells LAOT matches to their true origin, mean over trials; "
        f"n = {config.pt_n} cells per population. Original generator: non-centred uniform E, "
        f"legacy seeds <code>i + j + trial</code>, Euclidean cost, 10 iterations (d in "
        f"{list(config.faithful_dims)}, {config.faithful_trials} trials). Centred generator: "
        f"zero-mean E, LAOT defaults (d in {list(config.centered_dims)}, "
        f"{config.centered_trials} trials).</p>",
        image_html(paths["heatmap"], out, "phase heatmap", embed=True),
        image_html(paths["curves"], out, "recovery curves", embed=True),
        "<h3>Check against the original run</h3>",
        ref_line,
    ]
    if len(reference):
        shown = reference.set_index("d")[["gap", "trials", "original", "reproduced", "match"]]
        parts.append(table_html(shown.map(_fmt)))
    parts += [
        "<h2>2. Methods on held-out cells</h2>",
        f"<p>Each task is drawn {config.replicates} times (seeded replicates). Training: "
        f"{config.n_train} control cells and the treated cells they became, shuffled. Test: "
        f"{config.n_test} other control cells to predict from, and {config.n_test} treated "
        "cells that came from yet other control cells (as in an experiment where each cell is "
        "measured once, so the two test samples are independent). Every method is fitted on the "
        "training cells and predicts the test control cells, which are compared with the test "
        "treated cells. MMD² is the unbiased estimator with an RBF "
        "kernel whose bandwidth is the median heuristic of the <i>training</i> cells; recovery "
        "and map error are LAOT's, on the training pairs. Values: mean ± sd over replicates; "
        "best per task in bold.</p><ul>",
        tasks_desc,
        "</ul>",
        _methods_html(methods),
        _interpretation(summary, config),
        image_html(paths["comparison"], out, "method comparison", embed=True),
        "<h2>Files</h2><ul>",
    ]
    for key in ("phase_csv", "methods_csv", "summary_csv", "reference_csv"):
        rel = paths[key].relative_to(out).as_posix()
        parts.append(f"<li><a href='{rel}'>{rel}</a></li>")
    parts += [
        "</ul><p>Every row of <code>phase_transition.csv</code> and <code>methods.csv</code> "
        "carries the package version, git revision, seed and the full configuration.</p>",
        "<h2>Regenerate</h2>",
        f"<pre>{html.escape(cmd)}</pre>",
        "<p>Timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()) + "</p>",
        "<details><summary>configuration</summary><pre>"
        + html.escape(json.dumps(asdict(config), indent=1)) + "</pre></details>",
    ]
    path = out / "index.html"
    path.write_text(page_html(f"trackability demo ({config.size})", parts), encoding="utf-8")
    return path
