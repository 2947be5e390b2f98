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

``--add-seeds``: ``NEW`` ran *other seeds* of the same config (``seeds: [3, 4]`` where ``OLD`` has
0-2), e.g. because a run was cut short and ``OLD`` has no ``rows/`` to resume from; the rows are
stacked (same tasks and methods, no seed in both) and the config's ``seeds`` become their union.

    python benchmarks/merge_results.py results/kang3_celltype_s34 docs/results/kang3_celltype \
        --add-seeds --out results/kang3_celltype && trackability report results/kang3_celltype
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


def add_seeds(new: Path, old: Path, out: Path) -> pd.DataFrame:
    """Stack the rows of two runs of one config on disjoint seeds; write ``out`` as :func:`merge`.

    Both must have the same (task, method) pairs and the same config apart from ``seeds``; the
    out config lists the union of the seeds, its manifest the provenance of both runs.
    """
    import yaml

    a, b = pd.read_csv(new / "results.csv"), pd.read_csv(old / "results.csv")
    for name, df in (("NEW", a), (str(old), b)):
        missing = [c for c in KEY if c not in df.columns]
        if missing:
            raise ValueError(f"{name} results.csv lacks the column(s) {missing}")
    both = sorted(set(a["seed"]) & set(b["seed"]))
    if both:
        raise ValueError(f"--add-seeds: seeds {both} are in both NEW and {old}; use the plain merge")
    pa = set(map(tuple, a[["task", "method"]].drop_duplicates().to_numpy()))
    pb = set(map(tuple, b[["task", "method"]].drop_duplicates().to_numpy()))
    if pa != pb:
        raise ValueError(f"--add-seeds: NEW and {old} differ in their (task, method) pairs: "
                         f"only in NEW {sorted(pa - pb)[:5]}, only in OLD {sorted(pb - pa)[:5]}")
    cfg_a = yaml.safe_load((new / "config.yaml").read_text()) or {}
    cfg_b = yaml.safe_load((old / "config.yaml").read_text()) or {}
    seeds = sorted(int(s) for s in set(a["seed"]) | set(b["seed"]))
    rest_a = {k: v for k, v in cfg_a.items() if k != "seeds"}
    rest_b = {k: v for k, v in cfg_b.items() if k != "seeds"}
    if rest_a != rest_b:
        diff = sorted(k for k in set(rest_a) | set(rest_b) if rest_a.get(k) != rest_b.get(k))
        raise ValueError(f"--add-seeds: the configs of NEW and {old} differ in {diff}")
    merged = pd.concat([b, a], ignore_index=True, sort=False)
    order = _config_methods(new / "config.yaml")
    rank = {m: i for i, m in enumerate(order)}
    merged = merged.sort_values(["method", "task", "seed"], key=lambda s: s.map(rank).fillna(
        len(rank)) if s.name == "method" else s, kind="stable").reset_index(drop=True)
    out.mkdir(parents=True, exist_ok=True)
    merged.to_csv(out / "results.csv", index=False)
    (out / "config.yaml").write_text(yaml.safe_dump({**cfg_a, "seeds": seeds}, sort_keys=False))
    manifest = json.loads((new / "manifest.json").read_text())
    manifest_o = json.loads((old / "manifest.json").read_text()) if (old / "manifest.json").is_file() else {}
    keys = ("config_hash", "git_revision", "package_version", "started_at")
    manifest["merged_from"] = {
        "new": {"dir": str(new), "seeds": sorted(int(s) for s in set(a["seed"])),
                **{k: manifest.get(k) for k in keys}},
        "old": [{"dir": str(old), "seeds": sorted(int(s) for s in set(b["seed"])),
                 **{k: manifest_o.get(k) for k in keys}}],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return merged


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new", type=Path, help="results folder of the partial rerun")
    parser.add_argument("old", type=Path, nargs="+",
                        help="complete results folder(s) it updates (earlier ones first)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--add-seeds", action="store_true",
                        help="NEW ran other seeds of the same config: stack the rows (one OLD)")
    args = parser.parse_args(argv)
    if args.add_seeds:
        if len(args.old) != 1:
            parser.error("--add-seeds takes exactly one OLD folder")
        df = add_seeds(args.new, args.old[0], args.out)
    else:
        df = merge(args.new, args.old, args.out)
    print(f"{len(df)} rows -> {args.out / 'results.csv'}")


if __name__ == "__main__":
    main()
