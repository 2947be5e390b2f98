"""``trackability bench CONFIG`` and ``trackability report DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trackability._progress import progress_enabled
from trackability.cli.app import app, fail


def _keep_methods(data: dict, methods: str, config: Path) -> dict:
    """The config restricted to the methods named in ``--methods`` (tasks' lists too)."""
    from trackability.models.registry import BASELINES

    keep = [m.strip() for m in methods.split(",") if m.strip()]
    names = [x["name"] for x in data["methods"]]
    unknown = [m for m in keep if m not in names]
    if unknown or not keep:
        fail(f"--methods: {unknown or 'nothing'} not in the config's methods {names}.")
    dropped = [b for b in BASELINES if b in names and b not in keep]
    if dropped and data.get("require_baselines", True):
        fail(f"--methods {methods} drops the baseline(s) {dropped} that every comparison must "
             f"include. Keep them (--methods {','.join(dict.fromkeys([*keep, *dropped]))}) or "
             "pass --no-require-baselines to run without them.")
    data["methods"] = [x for x in data["methods"] if x["name"] in keep]
    tasks = []
    for t in data["tasks"]:
        if t.get("methods"):
            t = {**t, "methods": [m for m in t["methods"] if m in keep]}
            if not t["methods"]:
                continue  # none of this task's methods is left
        tasks.append(t)
    if not tasks:
        fail(f"--methods {methods}: no task of {config} runs any of these methods.")
    data["tasks"] = tasks
    return data


@app.command()
def bench(
    config: Annotated[Path, typer.Argument(help="Benchmark YAML config (see configs/).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Results folder (default: results/<name>).")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel workers (-1: all cores).")] = 1,
    backend: Annotated[
        str, typer.Option(help="Parallel backend: serial, joblib or dask.")
    ] = "joblib",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (backend dask).")
    ] = None,
    seeds: Annotated[int | None, typer.Option(help="Override the config: use seeds 0..N-1.")] = None,
    methods: Annotated[
        str | None, typer.Option(help="Comma-separated subset of the config's methods.")
    ] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Recompute every row (no resume).")] = False,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write report.html at the end.")
    ] = True,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress",
                                  help="Show a progress bar (default: on unless TRACKABILITY_PROGRESS=0).")
    ] = None,
    path: Annotated[
        Path | None, typer.Option("--path", help="Folder holding the data sets (sachs2005/, kang2018/, "
                                  "...); overrides $TRACKABILITY_DATA for this run.")
    ] = None,
    require_baselines: Annotated[
        bool | None, typer.Option("--require-baselines/--no-require-baselines",
                                  help="Refuse a comparison without the identity and meanshift "
                                  "baselines (default: the config's require_baselines).")
    ] = None,
    export_splits: Annotated[
        Path | None, typer.Option("--export-splits", help="Write every split (preprocessed, no "
                                  "test targets) to this folder for an external tool; no fits.")
    ] = None,
) -> None:
    """Run a benchmark: every (task, method, seed) row, resuming an interrupted run."""
    import os

    from trackability.data.paths import DATA_ENV
    from trackability.experiments.bench import run_benchmark
    from trackability.experiments.config import ConfigError, load_config, validate_config

    if scheduler is not None and backend != "dask":
        fail("--scheduler needs --backend dask.")
    if out is not None and out.exists() and not out.is_dir():
        fail(f"--out {out} is an existing file; give a folder for the results (it is created if "
             "missing).")
    if path is not None:
        if not path.is_dir():
            fail(f"--path {path} is not a folder.")
        os.environ[DATA_ENV] = str(path.resolve())
    try:
        cfg = load_config(config)
        if seeds is not None or methods is not None or require_baselines is not None:
            data = cfg.model_dump(mode="json")
            if seeds is not None:
                data["seeds"] = seeds
            if require_baselines is not None:
                data["require_baselines"] = require_baselines
            if methods is not None:
                data = _keep_methods(data, methods, config)
            cfg = validate_config(data, source=f"{config} (with command-line overrides)")
    except (ConfigError, FileNotFoundError) as exc:
        fail(str(exc))
        return
    if export_splits is not None:
        from trackability.experiments.export import export_splits as write_splits

        entries = write_splits(cfg, export_splits)
        typer.echo(f"{len(entries)} splits -> {export_splits / 'index.json'}")
        return
    out_dir = out or Path("results") / cfg.name
    try:
        df = run_benchmark(cfg, out_dir, n_jobs=jobs, backend=backend, scheduler=scheduler,
                           progress=progress_enabled(progress, default=True), resume=not fresh)
    except (ConfigError, OSError, KeyError, ValueError) as exc:
        # OSError: an unwritable or full results folder (BenchmarkWriteError says that the rerun
        # resumes), a missing data file
        fail(str(exc).replace("Pass path=...", "Pass --path FOLDER"))
        return
    n_ok = int((df["status"] == "ok").sum()) if len(df) else 0
    typer.echo(f"{n_ok}/{len(df)} rows ok -> {out_dir / 'results.csv'}")
    if n_ok:
        from trackability.experiments.tables import pivot, to_markdown

        typer.echo(to_markdown(pivot(df, "mmd2")))
    if n_ok < len(df):
        bad = df[df["status"] != "ok"]
        for _, r in bad.head(10).iterrows():
            error = str(r["error"]).replace("Pass path=...", "Pass --path FOLDER")
            typer.secho(f"failed: {r['task']} / {r['method']} / seed {r['seed']}: {error}",
                        fg=typer.colors.RED, err=True)
    if report and n_ok:
        from trackability.experiments.report import write_report

        typer.echo(f"report: {write_report(out_dir)}")
    if n_ok < len(df):
        raise typer.Exit(1)


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="Results folder written by `trackability bench`.")],
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Draw the figures.")] = True,
) -> None:
    """Write DIR/report.html with the tables and figures of a finished benchmark."""
    from trackability.experiments.report import write_report

    try:
        path = write_report(directory, figures=figures)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
        return
    typer.echo(str(path))
