"""Staffing: the smallest headcount that meets a KPI target with a given confidence, and its ROI.

:func:`recommend` runs a :func:`~o2c_sim.experiments.sweep.sweep` over a range of headcounts (same replications,
common random numbers) and reads two things off it::

    from o2c_sim.experiments.staffing import recommend
    rec = recommend("baseline", target="dso<=45", confidence=0.9, key="team.collectors",
                    values=range(2, 21), replications=10)
    rec.headcount   # the smallest headcount meeting the target (None if none in the range does)
    rec.table       # one row per headcount: the KPI, whether it meets the target, and the ROI

**"Meets the target with confidence p"** has one of two meanings (``criterion``):

* ``"mean_bound"`` (the default): the one-sided Student-t confidence bound at level p on the
  *mean* KPI over replications is on the right side of the target — for ``dso<=45`` the upper bound
  ``mean + t(p; n−1) · s/√n ≤ 45``; for ``cei>=80`` the lower bound ``mean − t(p; n−1) · s/√n ≥ 80``.
  Read: "we are p sure that the long-run average DSO with this headcount is at most 45". It needs
  at least 2 replications; more replications narrow the bound.
* ``"share"``: at least a share p of the replications meet the target on their own (each
  replication is one possible year). Read: "in at least 90 % of simulated years DSO is at most 45".
  Stricter than the mean bound when replication-to-replication spread is large; it needs enough
  replications for the share to be meaningful (e.g. 10 or more for p = 0.9).

Replications whose KPI is undefined (NaN) count as not meeting the target under ``"share"`` and are
left out of the mean under ``"mean_bound"``.

**ROI table.** For each headcount h against the smallest headcount h₀ of the range, per replication
(paired by common random numbers) and then as the mean with a 95 % CI:

* ``fte_cost`` = ``team.cost_per_fte`` × h per year; ``extra_fte_cost`` = ``team.cost_per_fte`` × (h − h₀);
* ``ar_released`` = average AR(h₀) − average AR(h), where average AR is the mean evening AR balance
  over the measurement window — a one-off release of working capital;
* ``capital_saving`` = ``finance.cost_of_capital`` × ``ar_released`` per year (the carrying cost of
  the AR no longer tied up);
* ``bad_debt_avoided`` = (write-offs(h₀) − write-offs(h)) over the window × 365 ÷ window days, per year;
* ``net_benefit`` = ``capital_saving`` + ``bad_debt_avoided`` − ``extra_fte_cost`` per year, with
  ``net_benefit_lo``/``_hi`` its paired 95 % CI; ``roi`` = ``net_benefit`` ÷ ``extra_fte_cost``;
  ``net_benefit_p10``/``_p90`` the 10th and 90th percentiles of the per-replication net benefit (the
  range of plausible years, not of the mean).

**Under parameter uncertainty** (a scenario with distributions, :mod:`o2c_sim.uncertainty`) each
replication draws its own parameter set, the same for every headcount, so every interval above
includes both sources. ``p_meet`` = ``share_meeting`` is then the probability that a year meets the
target under parameter *and* stochastic uncertainty, and :func:`flips` re-runs the recommendation
with each uncertain parameter (or any parameter given) fixed at either end of its plausible range
(the central 95 %), reporting those that change the answer ("8 collectors, unless
mid_market.behaviour.rpc_rate is as low as 0.35: then 9").
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
from scipy import stats

from o2c_sim.errors import UserError
from o2c_sim.kpis import kpi_mean_ci95, mean_ci95
from o2c_sim.scenario import Scenario, load_scenario
from o2c_sim.experiments.sweep import SweepResult, sweep
from o2c_sim.experiments.tables import METRIC_UNITS

#: the scenario fields that are headcounts (and so have a cost per FTE)
HEADCOUNT_KEYS = ("team.collectors", "team.dispute_analysts", "team.cash_app_clerks")
CRITERIA = ("mean_bound", "share")
#: KPIs a target may name
TARGET_KPIS = tuple(k for k in METRIC_UNITS if k != "window_days")
DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class Target:
    """A KPI target such as ``dso <= 45``."""

    kpi: str
    op: str  # "<=" or ">="
    value: float

    def met(self, x: float) -> bool:
        if x is None or not np.isfinite(x):
            return False
        return x <= self.value if self.op == "<=" else x >= self.value

    def __str__(self) -> str:
        return f"{self.kpi}{self.op}{self.value:g}"


_TARGET = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|≤|≥|==|=<|=>|<|>|=)\s*(.*?)\s*$")


def parse_target(text: str | Target) -> Target:
    """``"dso<=45"`` → ``Target("dso", "<=", 45.0)``; ``kpi>=x`` likewise (``≤``/``≥`` accepted, a
    trailing ``%`` ignored). Unknown KPIs and other operators are a :class:`UserError`."""
    if isinstance(text, Target):
        return text
    if not isinstance(text, str):
        raise UserError(f"target must be text such as 'dso<=45', got {text!r}")
    m = _TARGET.match(text)
    if not m:
        raise UserError(f"target {text!r} is not of the form kpi<=value or kpi>=value (e.g. dso<=45, cei>=80)")
    kpi, op, raw = m.group(1).lower(), m.group(2), m.group(3)
    op = {"≤": "<=", "≥": ">=", "=<": "<=", "=>": ">="}.get(op, op)
    if kpi not in TARGET_KPIS:
        close = difflib.get_close_matches(kpi, TARGET_KPIS, n=1)
        hint = f" — did you mean {close[0]!r}?" if close else ""
        raise UserError(f"target {text!r}: unknown KPI {kpi!r}{hint}; expected one of {', '.join(TARGET_KPIS)}")
    if op not in ("<=", ">="):
        raise UserError(f"target {text!r}: operator {op!r} is not supported; use <= (at most) or >= (at least)")
    number = raw.removesuffix("%").replace(",", "").strip()
    try:
        value = float(number)
    except ValueError:
        raise UserError(f"target {text!r}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise UserError(f"target {text!r}: the value must be a finite number")
    return Target(kpi, op, value)


def parse_range(text: str) -> tuple[str, list[int]]:
    """``"team.collectors=2..20"`` → ``("team.collectors", [2, …, 20])`` (also ``a..b:step`` or ``2,4,8``)."""
    from o2c_sim.experiments.grid import parse_grid_arg

    key, sep, _ = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--range {text!r} is not of the form key=a..b (e.g. team.collectors=2..20)")
    key, values = parse_grid_arg(text)
    return key, check_headcounts(key, values)


def check_headcounts(key: str, values: Iterable[Any]) -> list[int]:
    """Sorted distinct whole-number headcounts for one of :data:`HEADCOUNT_KEYS`."""
    if key not in HEADCOUNT_KEYS:
        raise UserError(f"'{key}' is not a headcount; expected one of {', '.join(HEADCOUNT_KEYS)}")
    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, float, np.floating)) or v != int(v) or v < 0:
            raise UserError(f"'{key}': headcount {v!r} is not a whole number ≥ 0")
        out.append(int(v))
    if not out:
        raise UserError(f"'{key}': no headcounts given; expected a range such as 2..20")
    return sorted(set(out))


def confidence_bound(values: Iterable[float], confidence: float, op: str) -> float:
    """One-sided Student-t bound on the mean: upper for ``<=`` targets, lower for ``>=`` (NaNs ignored)."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if len(x) < 2:
        return float("nan")
    half = float(stats.t.ppf(confidence, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return float(x.mean() + half) if op == "<=" else float(x.mean() - half)


@dataclass
class Recommendation:
    """The answer of :func:`recommend`: ``headcount`` (or None) and the per-headcount ``table``."""

    target: Target
    confidence: float
    criterion: str
    key: str
    headcount: int | None
    table: pd.DataFrame
    sweep: SweepResult
    #: parameters whose ends would change the answer: path, end, value, headcount (see :func:`flips`)
    flips: pd.DataFrame | None = None

    @property
    def met(self) -> bool:
        return self.headcount is not None

    def text(self) -> str:
        """A paragraph a team lead can read."""
        what = (f"the {self.confidence:.0%} one-sided confidence bound on mean {self.target.kpi}"
                if self.criterion == "mean_bound" else
                f"at least {self.confidence:.0%} of replications' {self.target.kpi}")
        hs = self.table["headcount"]
        if self.headcount is None and not np.isfinite(self.table["kpi_mean"].to_numpy(float)).any():
            return (f"{self.target.kpi} is undefined at every {self.key} in {hs.min()}..{hs.max()} (no replication "
                    f"produced a value: e.g. no promises, disputes or sales to measure it on in this scenario), so "
                    f"no recommendation can be made on it; choose another KPI or a scenario where it is measured.")
        if self.headcount is None:
            if self.criterion == "share":
                best = self.table.loc[self.table["share_meeting"].idxmax()]
            else:
                bounds = self.table["bound"].fillna(np.inf if self.target.op == "<=" else -np.inf)
                best = self.table.loc[bounds.idxmin() if self.target.op == "<=" else bounds.idxmax()]
            return (f"No {self.key} in {hs.min()}..{hs.max()} meets {self.target} ({what}); the closest is "
                    f"{int(best['headcount'])} with mean {self.target.kpi} {best['kpi_mean']:.2f}. "
                    f"Widen the range, or change the target or the strategy.")
        row = self.table[self.table["headcount"] == self.headcount].iloc[0]
        detail = (f"bound {row['bound']:.2f}" if self.criterion == "mean_bound"
                  else f"{row['share_meeting']:.0%} of replications meet it")
        return (f"Smallest {self.key} meeting {self.target} ({what}): {self.headcount} "
                f"(mean {self.target.kpi} {row['kpi_mean']:.2f}, {detail}; n = {int(row['n'])}). "
                f"Net benefit vs {int(hs.min())}: {row['net_benefit']:,.0f} per year "
                f"[{row['net_benefit_lo']:,.0f}, {row['net_benefit_hi']:,.0f}]."
                f"{self._uncertainty_text(row)}")

    def _uncertainty_text(self, row) -> str:
        if not self.sweep.scenario.uncertain:
            return ""
        n = len(self.sweep.scenario.uncertain)
        return (f" With {n} uncertain parameter{'s' * (n != 1)} drawn per replication, the probability that a year "
                f"meets the target with {self.headcount} is {row['share_meeting']:.0%}.")

    def flip_text(self) -> str:
        """"8, unless P is as low as x: then 9; …" — or that no end of any range changes the answer."""
        if self.flips is None:
            return ""
        now = "none" if self.headcount is None else str(self.headcount)
        changing = self.flips[self.flips["changes"]]
        if changing.empty:
            names = ", ".join(dict.fromkeys(self.flips["parameter"]))
            return f"Robust: {now} {self.key} at either end of the plausible range of each of {names}."
        parts = [f"{r.parameter} is as {'low' if r.end == 'low' else 'high'} as {r.value:.3g}: then "
                 f"{'none in the range' if pd.isna(r.headcount) else int(r.headcount)}" for r in changing.itertuples()]
        return f"{now} {self.key}, unless " + "; or ".join(parts) + "."


def roi_table(result: SweepResult, key: str, target: Target, confidence: float, criterion: str) -> pd.DataFrame:
    """One row per headcount (ascending) of ``result`` (a sweep over ``key`` alone); see the module docstring."""
    sc = result.scenario
    cost_per_fte, coc = sc.team.cost_per_fte, sc.finance.cost_of_capital
    res = result.results
    by_h = {int(h): g.set_index("replication") for h, g in res.groupby(key, sort=True)}
    h0 = min(by_h)
    base = by_h[h0]
    rows = []
    for h, g in by_h.items():
        kpi = g[target.kpi].to_numpy(float)
        m, lo, hi = kpi_mean_ci95(target.kpi, kpi.tolist())  # within the KPI's range, as in kpis.json
        share = float(np.mean([target.met(x) for x in kpi])) if len(kpi) else float("nan")
        bound = confidence_bound(kpi, confidence, target.op)
        meets = target.met(bound) if criterion == "mean_bound" else share >= confidence - 1e-12
        common = g.index.intersection(base.index)
        per_year = DAYS_PER_YEAR / g.loc[common, "window_days"].to_numpy(float)
        released = base.loc[common, "ar_average"].to_numpy(float) - g.loc[common, "ar_average"].to_numpy(float)
        avoided = (base.loc[common, "write_offs"].to_numpy(float) - g.loc[common, "write_offs"].to_numpy(float)) * per_year
        extra = cost_per_fte * (h - h0)
        net = coc * released + avoided - extra
        net_m, net_lo, net_hi = mean_ci95(net.tolist())
        p10, p90 = (np.nanpercentile(net, [10, 90]) if np.isfinite(net).any() else (float("nan"),) * 2)
        rows.append({
            "headcount": h, "n": len(g), "kpi_mean": m, "kpi_lo": lo, "kpi_hi": hi, "bound": bound,
            "share_meeting": share, "meets": bool(meets),
            "fte_cost": cost_per_fte * h, "extra_fte_cost": extra,
            "ar_average": float(np.nanmean(g["ar_average"])),
            "ar_released": float(np.nanmean(released)) if len(released) else float("nan"),
            "capital_saving": coc * float(np.nanmean(released)) if len(released) else float("nan"),
            "write_offs_per_year": float(np.nanmean(g["write_offs"].to_numpy(float) * DAYS_PER_YEAR / g["window_days"].to_numpy(float))),
            "bad_debt_avoided": float(np.nanmean(avoided)) if len(avoided) else float("nan"),
            "net_benefit": net_m, "net_benefit_lo": net_lo, "net_benefit_hi": net_hi,
            "net_benefit_p10": float(p10), "net_benefit_p90": float(p90),
            "roi": net_m / extra if extra else float("nan"),
        })
    return pd.DataFrame(rows)


def recommend(scenario: Scenario | str | Path, target: str | Target = "dso<=45", confidence: float = 0.9,
              key: str = "team.collectors", values: Iterable[int] = range(2, 21), replications: int | None = None, *,
              criterion: str = "mean_bound", workers: int = 1, scheduler: Any = None, out: str | Path | None = None,
              progress: bool = True, split_variance: bool = True) -> Recommendation:
    """The smallest ``key`` in ``values`` whose ``target`` KPI is met with ``confidence`` (see the module
    docstring for ``criterion``), with the ROI table. Runs :func:`~o2c_sim.experiments.sweep.sweep` over
    ``{key: values}`` (``workers``/``scheduler``/``out`` as there: ``out`` makes it resumable)."""
    tgt = parse_target(target)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise UserError(f"confidence must be a probability strictly between 0 and 1 (e.g. 0.9), got {confidence!r}")
    if criterion not in CRITERIA:
        raise UserError(f"criterion {criterion!r} is unknown; expected one of {', '.join(CRITERIA)}")
    headcounts = check_headcounts(key, values)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    n = scenario.replications if replications is None else replications
    if criterion == "mean_bound" and isinstance(n, int) and n < 2:
        raise UserError(f"a confidence bound on the mean needs at least 2 replications, got {n}")
    result = sweep(scenario, {key: headcounts}, n, workers=workers, scheduler=scheduler, out=out, progress=progress,
                   split_variance=split_variance)
    table = roi_table(result, key, tgt, float(confidence), criterion)
    meeting = table.loc[table["meets"], "headcount"]
    headcount = int(meeting.min()) if len(meeting) else None
    return Recommendation(tgt, float(confidence), criterion, key, headcount, table, result)


def flips(rec: Recommendation, params: Iterable[str] | None = None, *, workers: int = 1, scheduler: Any = None,
          out: str | Path | None = None, progress: bool = True) -> pd.DataFrame:
    """Re-run ``rec`` with each parameter fixed at the low and at the high end of its plausible range
    (:func:`o2c_sim.experiments.sensitivity.factors`: every uncertain parameter by default) and return one row per
    (parameter, end): ``path``, ``parameter``, ``end``, ``value``, ``headcount`` (None if none in the
    range meets the target) and ``changes`` (whether it differs from ``rec.headcount``). The other
    uncertain parameters stay uncertain. Also stored as ``rec.flips``."""
    from o2c_sim.experiments.sensitivity import factors

    sc = rec.sweep.scenario
    values = [int(v) for v in rec.table["headcount"]]
    rows = []
    for i, f in enumerate(factors(sc, list(params) if params is not None else None)):
        for end, u in (("low", 0.0), ("high", 1.0)):
            value = f.value(u)
            sub = None if out is None else Path(out) / f"flip-{i:02d}-{end}"
            r = recommend(sc.with_overrides({f.path: value}), rec.target, rec.confidence, rec.key, values,
                          rec.sweep.replications, criterion=rec.criterion, workers=workers, scheduler=scheduler,
                          out=sub, progress=progress, split_variance=False)
            rows.append({"path": f.path, "parameter": f.name, "end": end, "value": value,
                         "headcount": r.headcount, "changes": r.headcount != rec.headcount})
    rec.flips = pd.DataFrame(rows, columns=["path", "parameter", "end", "value", "headcount", "changes"])
    return rec.flips


def format_roi(table: pd.DataFrame, target: Target, currency: str = "") -> str:
    """The ROI table as text."""
    unit = METRIC_UNITS.get(target.kpi, "")
    num = (lambda v: f"{v:,.0f}") if unit in ("money", "count") else (lambda v: f"{v:,.2f}")
    show = lambda v, f=num: "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f(v)  # noqa: E731
    money = lambda v: show(v, lambda x: f"{x:,.0f}")  # noqa: E731
    out = pd.DataFrame({
        "headcount": table["headcount"],
        f"{target.kpi} mean [95% CI]": [f"{show(m)} [{show(lo)}, {show(hi)}]"
                                        for m, lo, hi in zip(table["kpi_mean"], table["kpi_lo"], table["kpi_hi"])],
        "bound": [show(v) for v in table["bound"]],
        "P(meet)": [f"{v:.0%}" if np.isfinite(v) else "n/a" for v in table["share_meeting"]],
        "meets": ["yes" if v else "no" for v in table["meets"]],
        "FTE cost": [money(v) for v in table["fte_cost"]],
        "AR released": [money(v) for v in table["ar_released"]],
        "capital saving": [money(v) for v in table["capital_saving"]],
        "bad debt avoided": [money(v) for v in table["bad_debt_avoided"]],
        "net benefit [95% CI]": [f"{money(m)} [{money(lo)}, {money(hi)}]" for m, lo, hi in
                                 zip(table["net_benefit"], table["net_benefit_lo"], table["net_benefit_hi"])],
        "net benefit 10–90 %": [f"{money(lo)} … {money(hi)}" for lo, hi in zip(table["net_benefit_p10"], table["net_benefit_p90"])],
    })
    note = f"(money in {currency} per year; AR released is a one-off balance)" if currency else ""
    return out.to_string(index=False) + ("\n" + note if note else "")


__all__ = ["Target", "Recommendation", "parse_target", "parse_range", "recommend", "flips", "roi_table", "confidence_bound",
           "format_roi", "HEADCOUNT_KEYS", "CRITERIA", "TARGET_KPIS"]
