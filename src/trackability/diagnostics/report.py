"""``diagnose``: whether a measurement gap is short enough for cell-level matching to mean something.

Computes, from the control cells ``x0``, the treated cells ``xt`` and the gap, the
restricted-isometry constant ``delta``, the Lipschitz rate ``L``, the critical gap ``Delta``, the
ratio ``gap / Delta`` and the regime, with bootstrap intervals and the list of the theory's
assumptions that the data contradict.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trackability._validation import (
    check_array,
    check_choice,
    check_pair,
    check_positive,
    check_random_state,
)
from trackability._version import provenance
from trackability.diagnostics._memory import check_bytes
from trackability.diagnostics.critical import BORDERLINE, _check_band, critical_gap, regime
from trackability.diagnostics.lipschitz import (
    STATISTICS,
    LipschitzEstimate,
    _check_quantile,
    lipschitz_from_map,
    lipschitz_from_timecourse,
)
from trackability.diagnostics.rip import (
    DEFAULT_MAX_PAIRS,
    RIPResult,
    Separation,
    min_separation,
    rip,
)
from trackability.matching.auto import memory_budget

#: ``diagnose(recoverability="auto")`` runs the calibrated estimate up to this many features.
AUTO_MAX_FEATURES = 50
#: Below this predicted recovery the verdict calls it an upper bound: beyond LAOT's own transition
#: the fitted map is shrunk and planted matchings under it are easier than the real one (on the
#: synthetic grid of docs/diagnostics.md every point predicted below 0.3 overestimated, by up to 0.2).
UPPER_BOUND_BELOW = 0.3


@dataclass
class TrackabilityReport:
    """The result of :func:`diagnose`.

    Attributes
    ----------
    n, n_target, d
        Control cells, treated cells, features.
    gap
        The measurement gap ``t``.
    delta
        Restricted-isometry constant of the control cells (under ``scale``).
    scale
        Factor the data were multiplied by for ``delta`` (see :mod:`trackability.diagnostics.rip`).
    lambda_min, lambda_max
        Extreme eigenvalues of the pair Gram matrices (data units squared).
    L
        Lipschitz rate in time used for ``Delta`` (data units per time unit).
    L_source
        ``"user"``, ``"map"`` (from a fitted map) or ``"matching"`` (optimal assignment of x0 to xt).
    L_statistic
        ``"sup"`` or ``"quantile"``.
    L_sup, L_robust
        The two estimates (None when ``L`` was given).
    Delta
        The critical gap ``sqrt((1 - delta) / (2 n (scale L)^2))``, in the time units of ``gap``;
        0 when the restricted isometry fails.
    Delta_separation
        A sharper sufficient condition: half the smallest distance between two control cells over
        ``L``. Below it the optimal assignment at the identity map is already the true one.
    ratio
        ``gap / Delta`` (``inf`` when ``Delta = 0``).
    regime
        ``"trackable"``, ``"borderline"`` or ``"untrackable"``.
    borderline
        Band of ``ratio`` called borderline.
    ci
        Bootstrap percentile intervals ``{"L": (lo, hi), "Delta": ..., "ratio": ...}`` (empty when
        ``L`` was given: ``delta`` is exact for the given cells and carries no sampling error).
    confidence, n_boot
        Level and number of bootstrap resamples.
    assumptions
        One entry per assumption of the theory: ``name``, ``status`` (``"ok"``,
        ``"contradicted"``, ``"caveat"``, ``"unchecked"``) and ``detail``.
    details
        The restricted-isometry result, separation and the L estimate as dicts.
    provenance
        Package version and git revision.

    """

    n: int
    n_target: int
    d: int
    gap: float
    delta: float
    scale: float
    lambda_min: float
    lambda_max: float
    L: float
    L_source: str
    L_statistic: str
    L_sup: float | None
    L_robust: float | None
    Delta: float
    Delta_separation: float
    ratio: float
    regime: str
    borderline: tuple[float, float]
    ci: dict[str, tuple[float, float]]
    confidence: float
    n_boot: int
    assumptions: list[dict[str, str]]
    details: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)
    recoverability: dict[str, Any] | None = None
    time_unit: str = ""

    @property
    def verdict(self) -> str:
        """The answer in words, with the units of the gap.

        From the calibrated estimate when :func:`diagnose` ran with ``recoverability=True``, else
        from Delta alone.
        """
        unit = f" {self.time_unit}" if self.time_unit else ""
        rec = self.recoverability
        if rec is None:
            skipped = self.details.get("recoverability_skipped")
            why = (f" The calibrated estimate was skipped: {skipped}." if skipped else
                   " Run diagnose(..., recoverability=True) for the calibrated estimate of how "
                   "many cells can actually be matched.")
            return (
                f"at a gap of {self.gap:g}{unit} the theory certifies tracking up to "
                f"{self.Delta:.3g}{unit} (Delta; separation bound {self.Delta_separation:.3g}{unit}): "
                f"{self.regime}.{why}"
            )
        pct = 100 * rec["recovery"]
        n90 = rec["n_at_level"]
        g90 = rec["gap_at_level"]
        lo, hi = (100 * v for v in rec["interval"])
        head = (f"at {self.gap:g}{unit} about {pct:.0f} % (interval {lo:.0f}-{hi:.0f} %) of "
                f"{rec['n']} cells can be matched to themselves")
        if rec["recovery"] < UPPER_BOUND_BELOW:
            head += (f" (read it as an upper bound: below {100 * UPPER_BOUND_BELOW:.0f} % the "
                     "estimate overestimated on every synthetic check, docs/diagnostics.md)")
        tail = "population-level prediction does not need tracking: see the benchmark."
        lvl = f"{100 * rec['level']:.0f} %"
        if rec["recovery"] >= rec["level"]:
            later = (f" (beyond about {g90:.3g}{unit} it falls below {lvl})" if math.isfinite(g90)
                     else "")
            return (f"{head}: at least {lvl}, so all {rec['n']} can be matched at once at this "
                    f"gap{later}; {tail}")
        n_txt = "any number of cells" if math.isinf(n90) else f"at most {max(1, int(n90))} cells"
        g_txt = "" if not math.isfinite(g90) else f" or measure within {g90:.3g}{unit}"
        return f"{head}; to track {lvl} match {n_txt} at a time{g_txt}; {tail}"

    @property
    def contradicted(self) -> list[str]:
        """Names of the assumptions that the data contradict."""
        return [a["name"] for a in self.assumptions if a["status"] == "contradicted"]

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (floats may be ``inf``; :meth:`to_json` writes those as null)."""
        return {
            "n": self.n, "n_target": self.n_target, "d": self.d, "gap": self.gap,
            "delta": self.delta, "scale": self.scale, "lambda_min": self.lambda_min,
            "lambda_max": self.lambda_max, "L": self.L, "L_source": self.L_source,
            "L_statistic": self.L_statistic, "L_sup": self.L_sup, "L_robust": self.L_robust,
            "Delta": self.Delta, "Delta_separation": self.Delta_separation, "ratio": self.ratio,
            "regime": self.regime, "borderline": list(self.borderline),
            "ci": {k: list(v) for k, v in self.ci.items()}, "confidence": self.confidence,
            "n_boot": self.n_boot, "assumptions": [dict(a) for a in self.assumptions],
            "contradicted": self.contradicted, "details": self.details,
            "provenance": dict(self.provenance),
            "recoverability": None if self.recoverability is None else dict(self.recoverability),
            "time_unit": self.time_unit, "verdict": self.verdict,
        }

    def to_json(self, **kwargs: Any) -> str:
        """JSON text; infinite values become null (the ``assumptions`` say why)."""
        kwargs.setdefault("indent", 2)
        return json.dumps(_finite(self.to_dict()), allow_nan=False, **kwargs)

    def __repr__(self) -> str:
        from trackability.diagnostics._html import short_repr

        return short_repr(self)

    def _repr_html_(self) -> str:
        from trackability.diagnostics._html import report_html

        return report_html(self)

    def __str__(self) -> str:
        def f(v: float | None) -> str:
            return "n/a" if v is None else ("inf" if math.isinf(v) else f"{v:.4g}")

        lines = [
            f"Trackability report: {self.n} control x {self.n_target} treated cells, {self.d} features,"
            f" gap t = {f(self.gap)}",
            f"  restricted isometry  delta = {f(self.delta)}  (lambda_min = {f(self.lambda_min)}, "
            f"lambda_max = {f(self.lambda_max)}, scale = {f(self.scale)})",
            f"  Lipschitz rate       L = {f(self.L)}  ({self.L_source}, {self.L_statistic})"
            + (f"  [{f(self.ci['L'][0])}, {f(self.ci['L'][1])}]" if "L" in self.ci else ""),
            f"  critical gap         Delta = {f(self.Delta)}"
            + (f"  [{f(self.ci['Delta'][0])}, {f(self.ci['Delta'][1])}]" if "Delta" in self.ci else "")
            + f"   (separation bound {f(self.Delta_separation)})",
            f"  gap / Delta          {f(self.ratio)}"
            + (f"  [{f(self.ci['ratio'][0])}, {f(self.ci['ratio'][1])}]" if "ratio" in self.ci else ""),
            f"  regime               {self.regime.upper()}",
        ]
        if self.recoverability is not None:
            rec = self.recoverability
            lines.insert(-1, (
                f"  calibrated estimate  recovery = {rec['recovery']:.3f}  [{rec['interval'][0]:.3f}, "
                f"{rec['interval'][1]:.3f}] of {rec['n']} cells (planted-matching bootstrap)"
            ))
            lines.append(f"  verdict              {self.verdict}")
        for a in self.assumptions:
            if a["status"] != "ok":
                lines.append(f"  ! {a['status']}: {a['name']}: {a['detail']}")
        return "\n".join(lines)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        return _finite(obj.item())
    return obj


def diagnose(
    x0: Any,
    xt: Any,
    gap: float,
    *,
    L: float | None = None,
    mapped: Any = None,
    L_statistic: str = "sup",
    quantile: float = 0.95,
    scale: float | str = "optimal",
    center: bool = False,
    cost: str = "sqeuclidean",
    borderline: tuple[float, float] = BORDERLINE,
    n_boot: int = 200,
    confidence: float = 0.95,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    random_state: Any = 0,
    progress: bool | None = None,
    max_memory: Any = None,
    recoverability: bool | str = "auto",
    level: float = 0.9,
    time_unit: str = "",
    intermediate: Any = None,
    map_rounds: int | None = None,
) -> TrackabilityReport:
    """Diagnose whether cell-level matching is meaningful at measurement gap ``gap``.

    Parameters
    ----------
    x0, xt
        Control cells (n, d) and treated cells (n_t, d) measured ``gap`` later, cells as rows.
    gap
        The measurement gap ``t`` (> 0), in the time units ``L`` is expressed in.
    L
        The Lipschitz rate in time if known (data units per time unit). Otherwise it is estimated:
        from ``mapped`` when given, else from the optimal one-to-one assignment between ``x0`` and
        ``xt`` (the displacement of each control cell to its assigned treated cell over ``gap``).
    mapped
        ``F_t(x0)`` from a fitted map: an array, a callable, or a fitted model with ``predict``.
    L_statistic
        ``"sup"`` (the definition of L) or ``"quantile"`` (robust to outlier cells).
    quantile
        Quantile of the robust estimate.
    scale, center, max_pairs
        Options of the restricted-isometry computation (:func:`~trackability.diagnostics.rip.rip`).
    cost
        Assignment cost when ``L`` is estimated from the matching.
    borderline
        Band of ``gap / Delta`` called borderline (see :func:`~.critical.regime`). The regime is
        also borderline when the bootstrap interval of the ratio contains 1.
    n_boot
        Bootstrap resamples of the cells' displacements for the intervals (0: none).
    confidence
        Level of the intervals.
    random_state
        Seed of the bootstrap (and of the pair sample above ``max_pairs``).
    progress
        Progress bar of the pairwise computation.
    max_memory
        Memory budget of the bootstrap, bytes or like ``"8GB"`` (default: 80 % of the memory
        available now). The bootstrap holds ``n_boot x n`` resampled displacements (about 24 bytes
        each at the peak); more than the budget is refused before any work is done.
    recoverability
        Also compute the calibrated estimate of the fraction of cells an exact matching recovers
        (:func:`~trackability.diagnostics.recoverability.estimate_recoverability`, a
        planted-matching bootstrap fitted on at most 2,000 control cells, matched against every
        treated cell up to 20,000: about 1 s for 300 cells x 10 features, 11 s for 1,000 x 20,
        35 s for 3,000 x 50 on one core), the number of cells per matching
        and the gap at which it falls to ``level``, and a verdict in words
        (:attr:`TrackabilityReport.verdict`). ``"auto"`` (the default): whenever the cells have
        at most 50 features (its cost grows fast with the features: on 6,998 genes of the Kang
        task it ran over 10 minutes; pass principal components, not genes), else skipped with
        the reason in the verdict; ``True``: always;
        ``False``: never (Delta alone, in milliseconds). Delta, delta and L are unchanged by it.
    level
        Recovery level of the verdict ("to track 90 % ...").
    time_unit
        Unit of ``gap`` for the verdict (e.g. ``"min"``).
    intermediate
        Populations measured between ``x0`` and ``xt`` where the experiment has them: a sequence
        of ``(time, cells)`` pairs, ``0 < time < gap`` increasing, ``cells`` an array with the
        features of ``x0``. The calibrated estimate is then composed step by step over the
        course (:func:`~trackability.diagnostics.recoverability.estimate_recoverability_course`)
        instead of fitted on the two ends alone; on the NF-kB tracks that is what makes the
        predicted recovery fall with the gap as the measured one does (docs/diagnostics.md).
        Needs the estimate (``recoverability`` True, or "auto" with at most 50 features); Delta,
        delta and L still come from ``x0`` and ``xt``.
    map_rounds
        Rounds of the map search of the calibrated estimate (``map_rounds`` of
        :func:`~trackability.diagnostics.recoverability.estimate_recoverability`; None: its
        default, ``MAP_ROUNDS`` = 50). Fewer rounds are faster where the alternation does not
        settle (untransformed intensities: minutes at 50 rounds) and shrink the map beyond the
        transition; the value used is in ``report.recoverability["map_rounds"]``.

    Returns
    -------
    TrackabilityReport

    Examples
    --------
    >>> from trackability.data.synthetic import near_identity
    >>> pair = near_identity(100, 20, gap=0.01, random_state=0)
    >>> rep = diagnose(pair.control, pair.treated, 0.01, L=pair.lipschitz_rate)
    >>> rep.regime
    'trackable'

    """
    x, y = check_pair(x0, xt, source_name="x0", target_name="xt", min_samples=2)
    t = check_positive(gap, "gap")
    check_choice(L_statistic, "L_statistic", STATISTICS)
    q = _check_quantile(quantile)
    band = _check_band(borderline)
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer; got {n_boot!r}.")
    conf = float(confidence)
    if not 0 < conf < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}.")
    if L is not None and mapped is not None:
        raise ValueError("give either L or mapped, not both.")
    if map_rounds is not None:
        from trackability.diagnostics.recoverability import _check_rounds

        map_rounds = _check_rounds(map_rounds)  # before the (slow) restricted isometry
    if recoverability not in (True, False, "auto"):
        raise ValueError(f'recoverability must be True, False or "auto"; got {recoverability!r}.')
    skipped = ""
    if recoverability == "auto":
        recoverability = x.shape[1] <= AUTO_MAX_FEATURES
        if not recoverability:
            skipped = (f"{x.shape[1]} features (automatic up to {AUTO_MAX_FEATURES}; its cost grows "
                       "fast with the features): run it on principal components, or pass "
                       "recoverability=True")
    course = _check_intermediate(intermediate, t, d=x.shape[1], recoverability=recoverability)
    rng = check_random_state(random_state)
    n, d = x.shape
    nt = y.shape[0]
    if L is None and n_boot:
        check_bytes(
            bootstrap_bytes(int(n_boot), n), what=f"diagnose's bootstrap (n_boot={int(n_boot)} "
            f"resamples of {n} cells)", max_memory=max_memory,
            fix=f"use fewer resamples (n_boot=200 is the default; at most about "
            f"{max(1, memory_budget(max_memory) // (24 * n))} fit) or raise max_memory",
        )

    r = rip(x, 2, scale=scale, center=center, max_pairs=max_pairs, random_state=rng,
            progress=progress)
    sep = min_separation(x, max_pairs=max_pairs, random_state=rng)

    est: LipschitzEstimate | None = None
    if L is not None:
        lval = check_positive(L, "L", allow_zero=True)
        source = "user"
    elif mapped is not None:
        est = lipschitz_from_map(x, mapped, t, quantile=q)
        source = "map"
    else:
        est = lipschitz_from_timecourse([x, y], [0.0, t], cost=cost, quantile=q)
        source = "matching"
    if est is not None:
        lval = est.value(L_statistic)

    def delta_of(lv: float) -> float:
        if not r.holds:
            return 0.0
        return critical_gap(min(r.delta, 1.0), n, lv, scale=r.scale)

    big_delta = delta_of(lval)
    sep_gap = math.inf if lval == 0 else sep.distance / (2.0 * lval)
    name, ratio = regime(t, big_delta, borderline=band)

    ci: dict[str, tuple[float, float]] = {}
    if est is not None and n_boot > 0:
        rates = est.rates
        idx = rng.integers(0, rates.size, size=(int(n_boot), rates.size))
        boot = rates[idx]
        lb = boot.max(axis=1) if L_statistic == "sup" else np.quantile(boot, q, axis=1)
        alpha = (1 - conf) / 2
        lo_l, hi_l = (float(v) for v in np.quantile(lb, [alpha, 1 - alpha]))
        ci["L"] = (lo_l, hi_l)
        d_hi, d_lo = delta_of(lo_l), delta_of(hi_l)
        ci["Delta"] = (d_lo, d_hi)
        ci["ratio"] = (regime(t, d_hi, borderline=band)[1], regime(t, d_lo, borderline=band)[1])
        if name != "borderline" and ci["ratio"][0] <= 1.0 <= ci["ratio"][1]:
            name = "borderline"

    assumptions = _assumptions(r, sep, n, nt, d, source, L_statistic, n_boot)
    rec_dict = None
    if recoverability:
        from trackability.diagnostics.recoverability import (
            estimate_recoverability,
            estimate_recoverability_course,
        )

        seed = int(rng.integers(2**31))
        rounds = {} if map_rounds is None else {"map_rounds": map_rounds}
        if course:
            est_r = estimate_recoverability_course(
                [x, *(c for _, c in course), y], [0.0, *(tc for tc, _ in course), t],
                level=level, cell_confidence=False, random_state=seed, **rounds)
        else:
            est_r = estimate_recoverability(x, y, gap=t, level=level, cell_confidence=False,
                                            random_state=seed, **rounds)
        rec_dict = est_r.to_dict()
    return TrackabilityReport(
        n=n, n_target=nt, d=d, gap=t, delta=r.delta, scale=r.scale, lambda_min=r.lambda_min,
        lambda_max=r.lambda_max, L=float(lval), L_source=source, L_statistic=L_statistic,
        L_sup=None if est is None else est.sup, L_robust=None if est is None else est.robust,
        Delta=float(big_delta), Delta_separation=float(sep_gap), ratio=float(ratio), regime=name,
        borderline=band, ci=ci, confidence=conf, n_boot=int(n_boot) if est is not None else 0,
        assumptions=assumptions,
        details={
            "rip": r.to_dict(),
            "separation": {"distance": sep.distance, "pair": list(sep.pair),
                           "n_pairs_evaluated": sep.n_pairs_evaluated, "sampled": sep.sampled},
            "lipschitz": None if est is None else est.to_dict(),
            **({"recoverability_skipped": skipped} if skipped else {}),
        },
        provenance=provenance(), recoverability=rec_dict, time_unit=str(time_unit),
    )


def _check_intermediate(intermediate: Any, gap: float, *, d: int,
                        recoverability: bool) -> list[tuple[float, np.ndarray]]:
    """``intermediate`` as a list of ``(time, cells)``, checked against ``gap`` and ``d``."""
    if intermediate is None:
        return []
    if not recoverability:
        raise ValueError("intermediate time points are used by the calibrated estimate only, which "
                         "is off here (recoverability=False, or more than "
                         f"{AUTO_MAX_FEATURES} features with 'auto'); pass recoverability=True with them.")
    if isinstance(intermediate, np.ndarray | dict) or not hasattr(intermediate, "__iter__"):
        raise ValueError("intermediate must be a sequence of (time, cells) pairs; got "
                         f"{type(intermediate).__name__}.")
    out: list[tuple[float, np.ndarray]] = []
    for i, item in enumerate(intermediate):
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValueError(f"intermediate[{i}] must be a (time, cells) pair; got {item!r:.60}.")
        tc = check_positive(item[0], f"intermediate[{i}] time")
        if not tc < gap or (out and not tc > out[-1][0]):
            raise ValueError(f"intermediate times must increase strictly between 0 and gap={gap:g}; "
                             f"intermediate[{i}] is at {tc:g}.")
        cells = check_array(item[1], f"intermediate[{i}] cells", min_samples=2)
        if cells.shape[1] != d:
            raise ValueError(f"intermediate[{i}] cells have {cells.shape[1]} features; x0 has {d}.")
        out.append((tc, cells))
    return out


def bootstrap_bytes(n_boot: int, n: int) -> int:
    """Peak memory of :func:`diagnose`'s bootstrap, in bytes.

    The int64 indices, the resampled rates and a sorted copy for the quantiles, ``n_boot x n`` each.
    """
    return 24 * int(n_boot) * int(n)


def _assumptions(
    r: RIPResult, sep: Separation, n: int, nt: int, d: int, source: str, statistic: str, n_boot: int
) -> list[dict[str, str]]:
    out = []
    if r.holds:
        out.append({"name": "restricted isometry", "status": "ok",
                    "detail": f"delta = {r.delta:.4g} < 1 (worst pair of cells {r.worst_pair})."})
    else:
        i, j = r.worst_pair
        out.append({
            "name": "restricted isometry", "status": "contradicted",
            "detail": (
                f"delta = {r.delta:.4g} >= 1: control cells {i} and {j} are linearly dependent "
                f"(lambda_min = {r.lambda_min:.3g}"
                + ("; with one feature every pair is" if d == 1 else "; duplicated or parallel cells")
                + "), so no critical gap exists: the theory guarantees nothing at any gap > 0."
            ),
        })
    if r.sampled:
        out.append({
            "name": "exact delta", "status": "caveat",
            "detail": f"delta from a random sample of {r.n_pairs_evaluated} of {r.n_pairs_total} "
            "pairs: a lower bound on the exact delta, so Delta may be overestimated.",
        })
    if n != nt:
        out.append({
            "name": "one treated cell per control cell", "status": "contradicted",
            "detail": f"{n} control vs {nt} treated cells; the theory assumes a permutation. Delta "
            "uses n = number of control cells; the matching is rectangular.",
        })
    else:
        out.append({"name": "one treated cell per control cell", "status": "ok",
                    "detail": f"{n} cells in each population."})
    if source == "matching":
        out.append({
            "name": "Lipschitz rate", "status": "caveat",
            "detail": "L is estimated from the optimal assignment between x0 and xt, which "
            "minimises the total displacement: beyond the critical gap it underestimates L (and so "
            "overestimates Delta). Prefer a known L, a fitted map (mapped=...) or a time course."
            + (" The sup of a bootstrap resample never exceeds the observed sup, so the upper end "
               "of the L interval is the observed value." if statistic == "sup" and n_boot else ""),
        })
    elif source == "map":
        out.append({
            "name": "Lipschitz rate", "status": "caveat",
            "detail": "L is the largest displacement per unit time of the fitted map over the "
            "control cells: a lower bound on the sup over all states, exact only if the map is.",
        })
    else:
        out.append({"name": "Lipschitz rate", "status": "ok", "detail": "L given by the user."})
    out.append({
        "name": "noiseless measurements, F_0 = identity", "status": "unchecked",
        "detail": "the theory assumes each treated cell is a control cell moved by the dynamics, "
        "without measurement noise or batch shift; both add displacement that L absorbs.",
    })
    return out
