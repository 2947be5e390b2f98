"""``trackability diagnose SOURCE [TARGET] --gap T``: the trackability report of two populations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from trackability.cli.app import app, fail

TRANSFORMS = ("none", "log", "log1p", "arcsinh")
SUFFIXES = (".npy", ".csv", ".tsv", ".h5ad")


def _select_group(labels: Any, key: str, value: str | None, what: str, path: Path) -> np.ndarray:
    if value is None:
        fail(f"--groupby {key!r} needs --{what}-group (the {what} group's value of {key!r}).")
    lab = np.asarray(labels).astype(str)
    mask = lab == str(value)
    if not mask.any():
        shown = sorted(set(lab.tolist()))
        fail(f"{path}: no cell has {key} == {value!r} (the {what} group); values present: "
             f"{shown[:20]}{' ...' if len(shown) > 20 else ''}.")
    return mask


def first_row_is_numeric(path: Path, sep: str) -> bool:
    """True when the first line of a CSV/TSV holds only numbers (a file without a header row).

    pandas would otherwise take that line of measurements as the column names and drop a cell.
    A header is any first line with at least one field that is not a number (``"feature"``, ``""``).
    """
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            line = fh.readline()
    except OSError as exc:
        fail(f"{path}: cannot be read: {exc}")
    fields = [f.strip().strip('"') for f in line.rstrip("\r\n").split(sep)]
    if not fields or any(not f for f in fields):
        return False
    try:
        [float(f) for f in fields]
    except ValueError:
        return False
    return True


def _check_finite(x: np.ndarray, path: Path, *, first_line: int | None,
                  columns: list[Any] | None = None) -> None:
    """Fail naming the file and the first bad cell when ``x`` holds a NaN or an infinity.

    In a CSV a missing value is an empty cell or a short (ragged) row, which pandas reads as NaN.
    """
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    i, j = (int(v) for v in np.argwhere(bad)[0])
    if first_line is None:
        where = f"first at cell {i}, feature {j}"
    else:
        col = columns[j] if columns is not None else j
        where = (f"first on line {i + first_line}, column {col!r}: an empty cell, a short (ragged) "
                 "row, or NaN/inf")
    fail(f"{path}: {int(bad.sum())} missing or non-finite value(s) ({where}); remove or impute "
         "them, or select the measurement columns with --features.")


def read_cells(
    path: Path,
    *,
    what: str,
    groupby: str | None,
    group: str | None,
    features: list[str] | None,
    layer: str | None,
    obsm: str | None,
) -> tuple[np.ndarray, list[str]]:
    """Read one population (cells as rows) from a .npy, .csv/.tsv or .h5ad file."""
    if not path.exists():
        fail(f"{what} file {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        fail(f"{path}: unsupported file type {suffix or '(none)'!r}; use one of {', '.join(SUFFIXES)}.")
    if suffix == ".npy":
        if groupby or features or layer or obsm:
            fail(f"{path}: .npy files hold a bare matrix; --groupby/--features/--layer/--obsm need a "
                 ".csv or .h5ad file.")
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as exc:
            fail(f"{path}: cannot be read as a .npy array: {exc}")
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
            fail(f"{path}: holds a {arr.ndim}-D array of dtype {arr.dtype}; a numeric cells x "
                 "features (2-D) matrix is needed.")
        _check_finite(arr, path, first_line=None)
        return arr, [f"feature_{j}" for j in range(arr.shape[1])]
    if suffix in (".csv", ".tsv"):
        import pandas as pd

        if layer or obsm:
            fail(f"{path}: --layer/--obsm apply to .h5ad files only.")
        sep = "\t" if suffix == ".tsv" else ","
        headerless = first_row_is_numeric(path, sep)
        if headerless and (groupby or features):
            fail(f"{path}: has no header row (its first line is numbers), so --groupby/--features "
                 "cannot name a column; add a header line.")
        try:
            frame = pd.read_csv(path, sep=sep, header=None if headerless else "infer")
        except UnicodeDecodeError:
            fail(f"{path}: is not a text {suffix[1:].upper()} file (binary or not UTF-8).")
        except Exception as exc:
            fail(f"{path}: cannot be parsed as {suffix[1:].upper()}: {exc}")
        if headerless:
            frame.columns = [f"feature_{j}" for j in range(frame.shape[1])]
        if groupby:
            if groupby not in frame.columns:
                fail(f"{path}: no column {groupby!r} to group by; columns: {list(frame.columns)}.")
            frame = frame[_select_group(frame[groupby], groupby, group, what, path)]
        if features:
            missing = [f for f in features if f not in frame.columns]
            if missing:
                fail(f"{path}: --features {missing} not among the columns {list(frame.columns)}.")
            block = frame[features]
        else:
            block = frame.drop(columns=[groupby] if groupby else []).select_dtypes("number")
            dropped = [c for c in frame.columns if c not in block.columns and c != groupby]
            if dropped:
                typer.secho(f"note: {path.name}: ignoring non-numeric column(s) {dropped}",
                            err=True, fg=typer.colors.YELLOW)
        nonnum = [c for c in block.columns if not np.issubdtype(block[c].dtype, np.number)]
        if nonnum:
            fail(f"{path}: feature column(s) {nonnum} are not numeric.")
        values = block.to_numpy(dtype=np.float64)
        _check_finite(values, path, first_line=1 if headerless else 2, columns=list(block.columns))
        return values, [str(c) for c in block.columns]
    import anndata

    try:
        adata = anndata.read_h5ad(path)
    except Exception as exc:
        fail(f"{path}: cannot be read as an .h5ad file: {exc}")
    if groupby:
        if groupby not in adata.obs.columns:
            fail(f"{path}: no obs column {groupby!r}; obs columns: {list(adata.obs.columns)}.")
        adata = adata[_select_group(adata.obs[groupby], groupby, group, what, path)]
    if layer and obsm:
        fail("give --layer or --obsm, not both.")
    if obsm:
        if obsm not in adata.obsm:
            fail(f"{path}: no obsm key {obsm!r}; obsm keys: {list(adata.obsm.keys())}.")
        x = adata.obsm[obsm]
        names = [f"{obsm}_{j}" for j in range(x.shape[1])]
    elif layer:
        if layer not in adata.layers:
            fail(f"{path}: no layer {layer!r}; layers: {list(adata.layers.keys())}.")
        x, names = adata.layers[layer], list(map(str, adata.var_names))
    else:
        x, names = adata.X, list(map(str, adata.var_names))
    if features:
        missing = [f for f in features if f not in names]
        if missing:
            fail(f"{path}: --features {missing} not among the variables.")
        idx = [names.index(f) for f in features]
        x, names = x[:, idx], list(features)
    return x, names


def _transform(x: np.ndarray, how: str, what: str) -> np.ndarray:
    from trackability._validation import check_array

    x = check_array(x, what)
    if how == "log":
        if (x <= 0).any():
            fail(f"{what}: --transform log needs strictly positive values ({int((x <= 0).sum())} are "
                 "<= 0); use log1p or arcsinh.")
        return np.log(x)
    if how == "log1p":
        if (x <= -1).any():
            fail(f"{what}: --transform log1p needs values > -1.")
        return np.log1p(x)
    if how == "arcsinh":
        return np.arcsinh(x / 5.0)
    return x


@app.command()
def diagnose(
    source: Annotated[
        Path, typer.Argument(help="Control cells: .npy, .csv/.tsv or .h5ad (cells as rows).")
    ],
    target: Annotated[
        Path | None,
        typer.Argument(help="Treated cells (same formats); default: SOURCE, split with --groupby."),
    ] = None,
    gap: float = typer.Option(..., "--gap", "-t", help="Measurement gap between the two populations."),
    L: float = typer.Option(
        None, "--L", "-L",
        help="Lipschitz rate in time (data units per time unit); default: estimated from the optimal "
        "matching of SOURCE to TARGET.",
    ),
    groupby: str = typer.Option(None, help="Column (CSV) or obs key (h5ad) that labels the groups."),
    source_group: str = typer.Option(None, help="Value of --groupby for the control cells."),
    target_group: str = typer.Option(None, help="Value of --groupby for the treated cells."),
    features: str = typer.Option(None, help="Comma-separated feature columns / variables to use."),
    layer: str = typer.Option(None, help="h5ad layer to read instead of X."),
    obsm: str = typer.Option(None, help="h5ad obsm key to read instead of X (e.g. X_pca)."),
    transform: str = typer.Option("none", help="none, log, log1p or arcsinh (x / 5)."),
    center: bool = typer.Option(False, "--center", help="Centre the control cells for delta."),
    statistic: str = typer.Option("sup", "--L-statistic", help="sup or quantile."),
    quantile: float = typer.Option(0.95, help="Quantile of the robust L estimate."),
    n_boot: int = typer.Option(200, help="Bootstrap resamples for the intervals (0: none)."),
    seed: int = typer.Option(0, help="Random seed."),
    recoverability: bool | None = typer.Option(
        None, "--recoverability/--no-recoverability",
        help="Calibrated estimate of how many cells an exact matching recovers, and a verdict in "
        "words (seconds to half a minute). Default: on up to 50 features (use PCs for genes).",
        show_default=False,
    ),
    level: float = typer.Option(0.9, help="Recovery level of the verdict ('to track 90 %')."),
    time_unit: str = typer.Option("", help="Unit of --gap for the verdict (e.g. min, h)."),
    intermediate: Annotated[
        list[str] | None,
        typer.Option(
            "--intermediate",
            help="GROUP=TIME: a group of --groupby in SOURCE measured TIME after the control "
            "(0 < TIME < gap); repeat for each. The calibrated estimate is then composed over the "
            "time course.",
        ),
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Is GAP short enough to track cells? Delta, gap / Delta, regime and the calibrated estimate."""
    from trackability._validation import check_choice
    from trackability.diagnostics import diagnose as run_diagnose

    try:
        check_choice(transform, "--transform", TRANSFORMS)
    except ValueError as exc:
        fail(str(exc))
    if target is None:
        if not groupby:
            fail("give a TARGET file, or split SOURCE into two groups with --groupby, "
                 "--source-group and --target-group.")
        target = source
    feats = [f.strip() for f in features.split(",") if f.strip()] if features else None
    common = {"groupby": groupby, "features": feats, "layer": layer, "obsm": obsm}
    x0, names0 = read_cells(source, what="source", group=source_group, **common)
    xt, namest = read_cells(target, what="target", group=target_group, **common)
    if names0 != namest and len(names0) == len(namest):
        typer.secho("note: SOURCE and TARGET name their features differently; matching by position.",
                    err=True, fg=typer.colors.YELLOW)
    course = []
    for item in intermediate or []:
        label, sep, when = item.rpartition("=")
        if not sep or not label:
            fail(f"--intermediate must be GROUP=TIME (e.g. 6h=6); got {item!r}.")
        if not groupby:
            fail("--intermediate names groups of SOURCE: give --groupby too.")
        try:
            tc = float(when)
        except ValueError:
            fail(f"--intermediate {item!r}: TIME must be a number; got {when!r}.")
        xc, _ = read_cells(source, what=f"--intermediate {label}", group=label, **common)
        course.append((tc, _transform(xc, transform, f"--intermediate {label}")))
    try:
        x0 = _transform(x0, transform, "source")
        xt = _transform(xt, transform, "target")
        rep = run_diagnose(
            x0, xt, gap, L=L, L_statistic=statistic, quantile=quantile, center=center,
            n_boot=n_boot, random_state=seed, progress=False,
            recoverability="auto" if recoverability is None else recoverability,
            level=level, time_unit=time_unit, intermediate=course or None,
        )
    except (ValueError, TypeError) as exc:
        hint = ""
        if "NaN" in str(exc) and feats is None and source.suffix.lower() in (".csv", ".tsv"):
            hint = " (metadata columns? select the measurements with --features)"
        fail(f"{exc}{hint}")
        return
    rep.details["input"] = {
        "source": str(source), "target": str(target), "groupby": groupby,
        "source_group": source_group, "target_group": target_group, "transform": transform,
        "features": names0, "intermediate": list(intermediate or []),
    }
    typer.echo(rep.to_json() if as_json else str(rep))
