"""The worked example of docs/diagnostics.md: diagnose, design calculator, matching certificates.

    OMP_NUM_THREADS=1 TRACKABILITY_PROGRESS=0 python benchmarks/diagnostics_example.py
"""

from __future__ import annotations

import numpy as np

from trackability.data.synthetic import near_identity
from trackability.diagnostics import (
    certify_matching,
    diagnose,
    max_cells_for_gap,
    max_gap_for_cells,
)
from trackability.metrics import recovery_rate
from trackability.models import LAOT

# 1. the report: 200 control cells, 20 features, treated cells measured a gap 0.05 later
pair = near_identity(n=200, d=20, gap=0.05, random_state=0)
rep = diagnose(pair.control, pair.treated, gap=0.05, random_state=0)
print(rep)
true_l = diagnose(pair.control, pair.treated, gap=0.05, L=pair.lipschitz_rate)
print(f"\nwith the true L = {true_l.L:.4f}: Delta = {true_l.Delta:.4f}, ratio = {true_l.ratio:.3f}")

# 2. the design calculator, with this experiment's delta and L
print(f"most cells for which gap 0.05 stays below Delta: "
      f"{max_cells_for_gap(0.05, rep.delta, rep.L, scale=rep.scale)}")
print(f"longest certified gap with 1000 cells: "
      f"{max_gap_for_cells(1000, rep.delta, rep.L, scale=rep.scale):.4f}")

# 3. certificates of a fitted LAOT, from well inside the trackable regime to beyond the transition
print("\n gap  recovery  flagged  median margin  median stability  wrong/flagged  wrong/unflagged")
for gap in (0.05, 3.0, 10.0, 15.0, 25.0):
    p = near_identity(n=200, d=20, gap=gap, random_state=0)
    model = LAOT().fit(p.control, p.treated)
    cert = certify_matching(model, p.control, p.treated, n_boot=30, random_state=0)
    truth = np.empty(200, dtype=np.int64)
    truth[p.permutation] = np.arange(200)  # the treated partner of each control cell
    wrong = cert.partner != truth
    s = cert.summary()
    print(f"{gap:5g}  {recovery_rate(p.permutation, model.matching_):8.3f}  {s['n_flagged']:7d}  "
          f"{s['median_margin']:13.3g}  {s['median_stability']:16.3f}  "
          f"{int((wrong & cert.flagged).sum()):>6d}/{int(cert.flagged.sum()):<6d}  "
          f"{int((wrong & ~cert.flagged).sum()):>8d}/{int((~cert.flagged).sum())}")
