"""``trackability bench CONFIG`` and ``trackability report DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trackability.cli.app import app, fail


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
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
    export_splits: Annotated[
        Path | None, typer.Option("--export-splits", help="Write every split (preprocessed, no "
                                  "test targets) to this folder for an external tool; no fits.")
    ] = None,
) -> None:
    """Run a benchmark: every (task, method, seed) row, resuming an interrupted run."""
    from trackability.experiments.bench import run_benchmark
    from trackability.experiments.config import ConfigError, load_config, validate_config

    try:
        cfg = load_config(config)
        if seeds is not None or methods is not None:
            data = cfg.model_dump(mode="json")
            if seeds is not None:
                data["seeds"] = seeds
            if methods is not None:
                keep = [m.strip() for m in methods.split(",") if m.strip()]
                unknown = [m for m in keep if m not in {x["name"] for x in data["methods"]}]
                if unknown:
                    fail(f"--methods: {unknown} not in the config's methods "
                         f"{[x['name'] for x in data['methods']]}.")
                data["methods"] = [x for x in data["methods"] if x["name"] in keep]
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
                           progress=progress, resume=not fresh)
    except (ConfigError, FileNotFoundError, KeyError, ValueError) as exc:
        fail(str(exc))
        return
    n_ok = int((df["status"] == "ok").sum()) if len(df) else 0
    typer.echo(f"{n_ok}/{len(df)} rows ok -> {out_dir / 'results.csv'}")
    if n_ok:
        from trackability.experiments.tables import pivot, to_markdown

        typer.echo(to_markdown(pivot(df, "mmd2")))
    if n_ok < len(df):
        bad = df[df["status"] != "ok"]
        for _, r in bad.head(10).iterrows():
            typer.secho(f"failed: {r['task']} / {r['method']} / seed {r['seed']}: {r['error']}",
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
