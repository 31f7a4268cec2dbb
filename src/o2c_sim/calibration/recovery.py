"""Recovery experiment: does calibration from an activity log find the effects that made the log?

1. Simulate a scenario with known hazard parameters (the truth) under several strategies and staffing
   levels — the variation in who is chased, and how much, is what makes effects identifiable.
2. Pool the simulated activity logs (each run's ids kept apart) and calibrate from them
   (:func:`o2c_sim.calibration.scenario_fit.calibrate_activities`).
3. Check each estimate's 95 % interval against the truth (coverage over seeds), and that the calibrated
   scenario, re-simulated, gives the truth's staffing curve (DSO and bad debt per collector count) within
   the simulation's confidence intervals.

``benchmarks/bench_recovery.py`` runs it at full size over ≥ 20 seeds; ``tests/test_recovery.py`` small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from o2c_sim.calibration.scenario_fit import ActivityCalibration, calibrate_activities
from o2c_sim.experiments.replications import run_replications
from o2c_sim.kpis import mean_ci95
from o2c_sim.sim.model import simulate
from o2c_sim.scenario import Scenario

#: (strategy, collectors) of the runs whose logs are pooled
DESIGN = (("oldest_first", 2), ("oldest_first", 8), ("largest_balance", 2), ("largest_balance", 8))


def true_values(truth: Scenario) -> dict[str, float]:
    """The hazard parameters the fit estimates, by the fit's names (segments share their effects); the credit
    hold's multiplier when the truth places holds."""
    h = truth.portfolio.segments[0].behaviour.hazard
    out = {f"notice_{k + 1}": e.multiplier for k, e in enumerate(h.effects.notice)}
    out |= {"contact": h.effects.contact.multiplier, "promise": h.effects.promise.multiplier,
            "disputed": h.disputed_multiplier, "frailty_variance": h.frailty_variance}
    if truth.credit_holds.enabled:
        out["credit_hold"] = h.effects.credit_hold.multiplier
    return out


def pooled_log(truth: Scenario, seed: int, design=DESIGN) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Activity logs and invoice tables of one run per design point, pooled with a ``replication`` column =
    the design point (so ids of different runs stay apart). Each run is its own replication: with common
    random numbers the runs would share every account's frailty and every invoice's resistance, and the
    pooled log would count the same payers four times."""
    logs, invoices = [], []
    for i, (strategy, collectors) in enumerate(design):
        sc = truth.with_overrides({"strategy.prioritisation": strategy, "team.collectors": collectors})
        res = simulate(sc, replication=i, seed=seed)  # own replication: no common random numbers across runs
        logs.append(res.activities.assign(replication=i))
        invoices.append(res.invoices.assign(replication=i))
    return pd.concat(logs, ignore_index=True), pd.concat(invoices, ignore_index=True)


@dataclass
class Recovery:
    """One seed: the calibration and, per parameter, truth, estimate, interval and whether it covers."""

    calibration: ActivityCalibration
    table: pd.DataFrame  # parameter, truth, estimate, ci_lo, ci_hi, covered


def recover(truth: Scenario, seed: int, design=DESIGN) -> Recovery:
    """Simulate ``truth`` under ``design`` with ``seed``, calibrate from the pooled log, compare."""
    log, invoices = pooled_log(truth, seed, design)
    cal = calibrate_activities(log, invoices, base=truth, name=f"{truth.name}_recovered_{seed}")
    rows = []
    for name, value in true_values(truth).items():
        if name == "frailty_variance":
            est, (lo, hi) = cal.hazard.frailty_variance, cal.hazard.frailty_ci
        else:
            e = cal.hazard.effect(name)
            if e is None:
                continue
            est, (lo, hi) = e["multiplier"], e["ci95"]
        rows.append({"parameter": name, "truth": value, "estimate": est, "ci_lo": lo, "ci_hi": hi,
                     "covered": lo <= value <= hi})
    return Recovery(cal, pd.DataFrame(rows))


def staffing_curve(scenario: Scenario, collectors=(2, 4, 6, 8, 10), replications: int = 5) -> pd.DataFrame:
    """DSO and bad-debt ratio (mean and 95 % CI over replications) per collector count."""
    rows = []
    for n in collectors:
        reps = run_replications(scenario.with_overrides({"team.collectors": n}), replications)
        k = reps.kpi_frame()
        for kpi in ("dso", "bad_debt_ratio"):
            mean, lo, hi = mean_ci95(k[kpi].tolist())
            rows.append({"collectors": n, "kpi": kpi, "mean": mean, "ci_lo": lo, "ci_hi": hi})
    return pd.DataFrame(rows)


def compare_curves(truth: pd.DataFrame, calibrated: pd.DataFrame) -> pd.DataFrame:
    """Per collector count and KPI: both means and whether they agree within the simulation's intervals —
    |difference| ≤ √(h_true² + h_cal²), h = half-width of each 95 % CI (the interval of the difference of
    two independent means)."""
    m = truth.merge(calibrated, on=["collectors", "kpi"], suffixes=("_true", "_cal"))
    half = lambda s: (m[f"ci_hi_{s}"] - m[f"ci_lo_{s}"]) / 2  # noqa: E731
    m["tolerance"] = np.sqrt(half("true") ** 2 + half("cal") ** 2)
    m["difference"] = m["mean_cal"] - m["mean_true"]
    m["agrees"] = m["difference"].abs() <= m["tolerance"]
    return m[["collectors", "kpi", "mean_true", "mean_cal", "difference", "tolerance", "agrees"]]
