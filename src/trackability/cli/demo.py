"""``trackability demo`` and ``trackability phase-transition``: synthetic runs, no download needed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from trackability._progress import progress_enabled
from trackability.cli.app import app, fail

JobsOption = Annotated[
    int, typer.Option("--jobs", "-j", help="Worker processes (-1: all cores); each uses one BLAS thread.")
]
ProgressOption = Annotated[
    bool | None, typer.Option("--progress/--no-progress",
                              help="Show progress bars (default: on unless TRACKABILITY_PROGRESS=0).")
]


def _check_jobs(jobs: int) -> None:
    if jobs == 0 or jobs < -1:
        fail(f"--jobs must be a positive integer or -1 (all cores); got {jobs}.")


def _parse_list(text: str | None, option: str, *, integer: bool) -> list[float] | list[int] | None:
    """Parse ``"100,50,10"`` (commas and/or spaces) into numbers, failing with a clear message."""
    if text is None:
        return None
    items = [t for t in text.replace(",", " ").split() if t]
    if not items:
        fail(f"{option} is empty; give a comma-separated list such as {option} 100,50,10.")
    out: list = []
    for item in items:
        try:
            value = float(item)
        except ValueError:
            fail(f"{option}: {item!r} is not a number (expected a comma-separated list).")
        if not math.isfinite(value):
            fail(f"{option}: {item!r} is not finite.")
        if integer:
            if value != int(value) or value < 1:
                fail(f"{option}: {item!r} must be a positive integer.")
            out.append(int(value))
        else:
            if value < 0:
                fail(f"{option}: {item!r} must be non-negative.")
            out.append(value)
    if len(set(out)) != len(out):
        fail(f"{option}: values must be distinct; got {text!r}.")
    return out


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "trackability-demo"
    ),
    quick: Annotated[
        bool,
        typer.Option("--quick/--full", help="Quick sizes (under a minute of CPU) or the full "
                     "original grid with 50 trials and 10 replicates (about 2 minutes of CPU)."),
    ] = True,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of every random choice.")] = 0,
    jobs: JobsOption = 1,
    progress: ProgressOption = None,
    size: Annotated[
        str | None, typer.Option("--size", hidden=True, help="tiny | quick | full (tests).")
    ] = None,
) -> None:
    """Phase transition and Identity / MeanShift / LAOT on synthetic data: CSV, PNG and HTML."""
    from trackability.experiments.demo import SIZES, run_demo

    _check_jobs(jobs)
    if size is not None and size not in SIZES:
        fail(f"--size must be one of {', '.join(SIZES)}; got {size!r}.")
    if out.exists() and not out.is_dir():
        fail(f"--out {out} exists and is not a folder.")
    try:
        result = run_demo(out, quick=quick, random_state=seed, size=size, n_jobs=jobs,
                          progress=progress_enabled(progress, default=True), log=typer.echo)
    except ValueError as exc:
        fail(str(exc))
    summary = result.summary
    typer.echo("")
    typer.echo("held-out test cells (mean over seeds):")
    cols = ["task", "method", "mmd2_mean", "energy_mean", "rmse_paired_mean", "recovery_mean",
            "map_error_mean"]
    table = summary[cols].rename(columns=lambda c: c.removesuffix("_mean"))
    typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep=""))
    ref = result.reference
    if len(ref):
        checked = ref[ref["trials"] == 50]
        if len(checked):
            typer.echo(f"\nseed-faithful check: {int(checked['match'].sum())} of {len(checked)} "
                       "grid points reproduce the original run to 3 decimals.")
    typer.echo(f"\nwrote {out / 'index.html'} (open it in a browser) and "
               f"{len(result.paths) - 1} more files under {out}/")


@app.command("phase-transition")
def phase_transition_cmd(
    seed_faithful: Annotated[
        bool,
        typer.Option("--seed-faithful/--centered", help="Reproduce the original experiment "
                     "(non-centred E, original seeds, Euclidean cost, 10 iterations) or use the "
                     "centred generator with LAOT's defaults."),
    ] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "phase-transition"
    ),
    trials: Annotated[int, typer.Option("--trials", min=1, help="Trials per grid point.")] = 50,
    dims: Annotated[
        str | None, typer.Option("--dims", help="Comma-separated dimensions (default: 100,90,...,10).")
    ] = None,
    gaps: Annotated[
        str | None,
        typer.Option("--gaps", help="Comma-separated gaps (default: the original 15 gaps with "
                     "--seed-faithful, 0,1,2,4,...,64 with --centered)."),
    ] = None,
    n: Annotated[int, typer.Option("--n", min=2, help="Cells per population.")] = 100,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed (centred generator only).")] = 0,
    jobs: JobsOption = 1,
    backend: Annotated[
        str, typer.Option("--backend", help="Parallel backend: serial, joblib or dask.")
    ] = "joblib",
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address (with --backend dask); default: "
                     "a LocalCluster with --jobs workers."),
    ] = None,
    progress: ProgressOption = None,
) -> None:
    """Recovery rate of LAOT over a grid of dimensions and gaps: CSV, heatmap and curves."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from trackability.data.synthetic import ORIGINAL_DIMS, ORIGINAL_GAPS
    from trackability.experiments.demo import CENTERED_GAPS, with_provenance
    from trackability.experiments.parallel import BACKENDS
    from trackability.experiments.phase_transition import phase_transition
    from trackability.plotting.phase import plot_phase_heatmap, plot_recovery_curves

    _check_jobs(jobs)
    if backend not in BACKENDS:
        fail(f"--backend must be one of {', '.join(BACKENDS)}; got {backend!r}.")
    if scheduler is not None and backend != "dask":
        fail("--scheduler needs --backend dask.")
    dim_list = _parse_list(dims, "--dims", integer=True) or list(ORIGINAL_DIMS)
    default_gaps = ORIGINAL_GAPS if seed_faithful else CENTERED_GAPS
    gap_list = _parse_list(gaps, "--gaps", integer=False) or [float(g) for g in default_gaps]
    if out.exists() and not out.is_dir():
        fail(f"--out {out} exists and is not a folder.")
    generator = "seed-faithful" if seed_faithful else "centred"
    typer.echo(f"phase transition ({generator}): d in {dim_list}, gaps {gap_list}, "
               f"{trials} trials, n = {n}")
    try:
        table = phase_transition(dim_list, gap_list, trials=trials, n=n,
                                 seed_faithful=seed_faithful, random_state=seed, n_jobs=jobs,
                                 backend=backend, scheduler=scheduler,
                                 progress=progress_enabled(progress, default=True))
    except ValueError as exc:
        fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    config = {"phase_transition": {"dims": dim_list, "gaps": gap_list, "trials": trials, "n": n,
                                   "seed_faithful": seed_faithful, "backend": backend}}
    tagged = with_provenance(table, None if seed_faithful else seed, config)
    csv = out / "phase_transition.csv"
    tagged.to_csv(csv, index=False)
    heat, curves = out / "phase_heatmap.png", out / "recovery_curves.png"
    for path, fig in ((heat, plot_phase_heatmap(table)), (curves, plot_recovery_curves(table))):
        fig.savefig(path, dpi=150)
        plt.close(fig)
    grid = table.pivot(index="d", columns="gap", values="recovery").sort_index(ascending=False)
    grid.columns = [f"{g:g}" for g in grid.columns]
    typer.echo("\nrecovery rate (rows: d, columns: gap):")
    typer.echo(grid.to_string(float_format=lambda v: f"{v:.3f}"))
    typer.echo(f"\nwrote {csv}, {heat}, {curves}")
