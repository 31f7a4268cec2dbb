"""Replications of one scenario: run them, and summarise KPIs as mean and 95 % confidence interval
(within each KPI's possible range, :func:`o2c_sim.kpis.bounded_mean_ci95`).

Replication *r* is seeded from ``(scenario seed, r)`` (see :mod:`o2c_sim.streams`), so the same
replication of two scenarios shares common random numbers and paired differences are meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from o2c_sim.kpis import INTERVAL_METHOD, kpi_mean_ci95
from o2c_sim.sim.model import simulate
from o2c_sim.sim.results import KPI_UNITS, SimResult
from o2c_sim.scenario import Scenario, at_means
from o2c_sim.uncertainty import SPLIT_KPIS, split_table


@dataclass
class Replications:
    scenario: Scenario
    results: list[SimResult]

    def kpi_frame(self) -> pd.DataFrame:
        """One row per replication, one column per KPI."""
        return pd.DataFrame([{"replication": r.replication, **r.kpis} for r in self.results])

    def summary(self) -> dict:
        """``{"replications": [...], "mean": {...}, "ci95": {kpi: [lo, hi]}, "ci95_method": "..."}`` (the
        shape of kpis.json)."""
        return summarise_kpis([r.kpis for r in self.results])

    def stacked(self, attribute: str) -> pd.DataFrame:
        """``invoices``/``events``/``daily``/``monthly`` of all replications, with a ``replication`` column."""
        return pd.concat([getattr(r, attribute).assign(replication=r.replication) for r in self.results], ignore_index=True)


def summarise_kpis(rows: list[dict[str, float]]) -> dict:
    """Mean and 95 % CI per KPI over replications; each interval stays within the KPI's possible range
    (log scale for KPIs ≥ 0, logit scale for percentages), as ``ci95_method`` says in words."""
    keys = [k for k in KPI_UNITS if any(k in r for r in rows)]
    mean, ci = {}, {}
    for key in keys:
        m, lo, hi = kpi_mean_ci95(key, [r.get(key) for r in rows])
        mean[key], ci[key] = m, [lo, hi]
    return {"replications": [dict(r) for r in rows], "mean": mean, "ci95": ci, "ci95_method": INTERVAL_METHOD}


def run_replications(scenario: Scenario, replications: int | None = None, *, seed: int | None = None,
                     progress: bool = False, opening=None) -> Replications:
    """Run replications 0..n−1 of ``scenario`` (n defaults to ``scenario.replications``), optionally
    warm-started from an :class:`~o2c_sim.calibration.warmstart.OpeningBook`."""
    n = scenario.replications if replications is None else replications
    reps = range(n)
    if progress:
        from tqdm.auto import tqdm

        reps = tqdm(reps, desc=f"{scenario.name}", unit="rep")
    results = [simulate(scenario, r, seed=seed, opening=opening) for r in reps]
    return Replications(results[0].scenario if results else scenario, results)


def replications_split(reps, kpis: list[str] = SPLIT_KPIS, *, seed: int | None = None, progress: bool = False):
    """The variance split of a :class:`Replications` run of an uncertain scenario:
    runs the same replications with the parameters at their means (the noise-only companion)."""
    n = len(reps.results)
    noise = run_replications(at_means(reps.scenario), n, seed=seed, progress=progress)
    return split_table(reps.kpi_frame(), noise.kpi_frame(), kpis)
