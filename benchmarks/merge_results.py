"""Merge a partial rerun into a complete results folder, for ``trackability report``.

When a config's methods change for some rows only (e.g. the validated LAOT's selection rule), the
rerun covers those methods (``trackability bench CONFIG --out NEW --methods ...``) and this script
assembles the report folder: every row of ``NEW``, plus the rows of ``OLD`` for the methods ``NEW``
did not run (their tasks and seeds must be among ``NEW``'s); several ``OLD`` folders may be
given, each adding the methods not yet present. ``NEW``'s ``config.yaml`` is copied (it must be the
config of the rerun, which describes every method); its ``manifest.json`` gets ``merged_from``:
which methods came from which folder and their provenance, so every row stays traceable.

    python benchmarks/merge_results.py results/kouno_horizon_lv docs/results/kouno_horizon \\
        --out results/kouno_horizon && trackability report results/kouno_horizon

Methods run in both folders (the baselines, which every run must include) are taken from ``NEW``;
their largest absolute MMD^2 difference to ``OLD`` is printed (a reproducibility check).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import pandas as pd

KEY = ["task", "method", "seed"]


def _config_methods(path: Path) -> list[str]:
    """Method names of a results folder's config, in order (empty if it has none)."""
    if not path.is_file():
        return []
    import yaml

    cfg = yaml.safe_load(path.read_text()) or {}
    return [m["name"] for m in cfg.get("methods", []) if isinstance(m, dict) and "name" in m]


def merge(new: Path, old: Path | list[Path], out: Path) -> pd.DataFrame:
    """Write ``out/results.csv``, ``config.yaml`` and ``manifest.json``; return the merged rows.

    ``old`` may be several folders: each contributes the methods that neither ``new`` nor an
    earlier folder of the list has.
    """
    olds = [old] if isinstance(old, Path) else list(old)
    a = pd.read_csv(new / "results.csv")
    parts, sources, have = [a], [], set(a["method"])
    for o in olds:
        b = pd.read_csv(o / "results.csv")
        for name, df in (("NEW", a), (str(o), b)):
            missing = [c for c in KEY if c not in df.columns]
            if missing:
                raise ValueError(f"{name} results.csv lacks the column(s) {missing}")
        for m in sorted(set(a["method"]) & set(b["method"])):
            j = a[a["method"] == m].merge(b[b["method"] == m], on=KEY, suffixes=("", "_old"))
            if "mmd2" in j and not j.empty:
                diff = float((j["mmd2"] - j["mmd2_old"]).abs().max())
                print(f"{m}: {len(j)} rows in NEW and {o}, largest |MMD^2 difference| = "
                      f"{diff:.3g}", file=sys.stderr)
        kept = b[~b["method"].isin(have)]
        if not kept.empty:
            pairs_a = set(map(tuple, a[["task", "seed"]].drop_duplicates().to_numpy()))
            pairs_b = set(map(tuple, kept[["task", "seed"]].drop_duplicates().to_numpy()))
            if not pairs_b <= pairs_a:  # OLD's methods may cover fewer tasks (never other ones)
                raise ValueError(
                    f"OLD ({o})'s kept rows cover (task, seed) pairs that NEW does not: "
                    f"{sorted(pairs_b - pairs_a)[:5]}"
                )
        have |= set(kept["method"])
        parts.append(kept)
        manifest_o = json.loads((o / "manifest.json").read_text()) if (
            o / "manifest.json").is_file() else {}
        sources.append({"dir": str(o), "methods": sorted(set(kept["method"])),
                        **{k: manifest_o.get(k) for k in ("config_hash", "git_revision",
                                                           "package_version", "started_at")}})
    merged = pd.concat(parts, ignore_index=True, sort=False)
    # rows in the config's method order (tables and figures take the first-seen order)
    order = _config_methods(new / "config.yaml")
    rank = {m: i for i, m in enumerate(order)}
    merged = merged.sort_values("method", key=lambda s: s.map(rank).fillna(len(rank)),
                                kind="stable").reset_index(drop=True)
    out.mkdir(parents=True, exist_ok=True)
    merged.to_csv(out / "results.csv", index=False)
    if (new / "config.yaml").resolve() != (out / "config.yaml").resolve():
        shutil.copyfile(new / "config.yaml", out / "config.yaml")
    manifest = json.loads((new / "manifest.json").read_text())
    manifest["merged_from"] = {"new": {"dir": str(new), "methods": sorted(set(a["method"]))},
                               "old": sources}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return merged


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new", type=Path, help="results folder of the partial rerun")
    parser.add_argument("old", type=Path, nargs="+",
                        help="complete results folder(s) it updates (earlier ones first)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    df = merge(args.new, args.old, args.out)
    print(f"{len(df)} rows -> {args.out / 'results.csv'}")


if __name__ == "__main__":
    main()
