"""The original study's claim, tested on our results: CompactCellOT beats CellOT, LAOT beats both.

For each results folder (a finished ``trackability bench`` run) and each claim "A beats B", counts
the tasks where A has the lower MMD² with a one-sided paired t-test over seeds at p <= 0.05
(``holds``), where B does by the same test (``reversed``), and neither (``undecided``); then the
cost of each method: median CPU seconds per fit (wall seconds for rows from before CPU time was
recorded, marked) and, for the neural models, the number of trained
parameters at the task's dimension (counted from the networks the models build: both ICNNs of
CellOT / CompactCellOT, the velocity network of flow matching; scGen's VAE is not built here).

    python benchmarks/study_claim.py docs/results/sachs docs/results/kang [--out FILE]

The claims whose methods a folder lacks are skipped (a row says so).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

CLAIMS = [
    ("compact_cellot", "cellot"),
    ("laot", "cellot"),
    ("laot", "compact_cellot"),
    ("laot_validated", "cellot"),
    ("laot_validated", "compact_cellot"),
    ("flow_matching", "cellot"),
    ("flow_matching", "laot_validated"),
]


def claim_table(df: Any, claims: list[tuple[str, str]] = CLAIMS, *, level: float = 0.05) -> Any:
    """``a, b, tasks, holds, reversed, undecided`` for each claim "a beats b" on MMD²."""
    import pandas as pd

    from trackability.experiments.tables import _ok
    from trackability.metrics.significance import paired_test

    ok = _ok(df)
    rows = []
    for a, b in claims:
        if not {a, b} <= set(ok["method"]):
            rows.append({"a": a, "b": b, "tasks": 0, "holds": None, "reversed": None,
                         "undecided": None})
            continue
        holds = rev = n = 0
        for _, grp in ok[ok["method"].isin([a, b])].groupby("task"):
            wide = grp.pivot_table(index="seed", columns="method", values="mmd2").dropna()
            if a not in wide or b not in wide or len(wide) < 2:
                continue
            n += 1
            u, v = wide[a].to_numpy(float), wide[b].to_numpy(float)
            holds += paired_test(u, v, higher_is_better=False).ttest_p <= level
            rev += paired_test(v, u, higher_is_better=False).ttest_p <= level
        rows.append({"a": a, "b": b, "tasks": n, "holds": holds, "reversed": rev,
                     "undecided": n - holds - rev})
    return pd.DataFrame(rows)


def n_parameters(method: str, params: dict[str, Any], d: int) -> int | None:
    """Trained parameters of a neural method's networks at input dimension ``d`` (None: not counted)."""
    if method not in ("cellot", "compact_cellot", "flow_matching"):
        return None
    import torch

    from trackability.models import get_model

    cls = get_model(method)
    defaults = cls().get_params()
    if method in ("cellot", "compact_cellot"):
        from trackability.models._icnn import icnn_class

        hidden = tuple(params.get("hidden", defaults["hidden"]))
        net = icnn_class()(d, hidden)
        return 2 * int(sum(p.numel() for p in net.parameters()))  # f and g
    model = cls(**{**params, "max_iter": 1, "eval_every": 1, "patience": 1})
    rng = torch.Generator().manual_seed(0)
    x = torch.randn(64, d, generator=rng).numpy()
    model.fit(x, x + 1.0)
    return int(model.n_parameters_)


def cost_table(df: Any, config: dict[str, Any] | None, d: int | None) -> Any:
    """``method, fits, median_fit_s, clock (cpu / wall), n_parameters`` per method."""
    import pandas as pd

    from trackability.experiments.tables import _ok

    ok = _ok(df)
    params = {}
    for m in (config or {}).get("methods", []):
        params[m["name"]] = (m.get("method") or m["name"], m.get("params") or {})
    rows = []
    for method, sub in ok.groupby("method", sort=False):
        key, p = params.get(method, (method, {}))
        # rows from before CPU time was recorded have wall time only: say which one it is
        cpu = sub["fit_cpu_s"].dropna() if "fit_cpu_s" in sub else sub.iloc[:0, 0]
        wall = sub["fit_time_s"].dropna() if "fit_time_s" in sub else sub.iloc[:0, 0]
        fit, kind = (float(cpu.median()), "cpu") if len(cpu) else (
            (float(wall.median()), "wall") if len(wall) else (float("nan"), "-"))
        rows.append({"method": method, "fits": len(sub), "median_fit_s": fit, "clock": kind,
                     "n_parameters": n_parameters(key, p, d) if d else None})
    return pd.DataFrame(rows)


def _md(df: Any) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append("-" if v is None or (isinstance(v, float) and v != v)
                         else f"{v:.3g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    import pandas as pd
    import yaml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    parts = []
    for folder in args.results:
        df = pd.read_csv(folder / "results.csv")
        cfg = yaml.safe_load((folder / "config.yaml").read_text()) if (
            folder / "config.yaml").is_file() else None
        d = int(df["d_model"].dropna().iloc[0]) if "d_model" in df.columns else None
        manifest = json.loads((folder / "manifest.json").read_text()) if (
            folder / "manifest.json").is_file() else {}
        parts += [f"### {folder.name} ({manifest.get('config_name', '?')}, d = {d})", "",
                  "Claim 'a beats b' on MMD², one-sided paired t over seeds, p <= 0.05, per task:",
                  "", _md(claim_table(df)), "", _md(cost_table(df, cfg, d)), ""]
    text = "\n".join(parts)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
