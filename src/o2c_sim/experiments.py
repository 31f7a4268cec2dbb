"""Replications of one scenario: run them, and summarise KPIs as mean and 95 % confidence interval.

Replication *r* is seeded from ``(scenario seed, r)`` (see :mod:`o2c_sim.streams`), so the same
replication of two scenarios shares common random numbers and paired differences are meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .kpis import mean_ci95
from .model import simulate
from .results import ALL_KPI_UNITS, SimResult
from .scenario import Scenario


@dataclass
class Replications:
    scenario: Scenario
    results: list[SimResult]

    def kpi_frame(self) -> pd.DataFrame:
        """One row per replication, one column per KPI."""
        return pd.DataFrame([{"replication": r.replication, **r.kpis} for r in self.results])

    def summary(self) -> dict:
        """``{"replications": [...], "mean": {...}, "ci95": {kpi: [lo, hi]}}`` (the shape of kpis.json)."""
        return summarise_kpis([r.kpis for r in self.results])

    def stacked(self, attribute: str) -> pd.DataFrame:
        """``invoices``/``events``/``daily``/``monthly`` of all replications, with a ``replication`` column."""
        return pd.concat([getattr(r, attribute).assign(replication=r.replication) for r in self.results], ignore_index=True)


def summarise_kpis(rows: list[dict[str, float]]) -> dict:
    keys = [k for k in ALL_KPI_UNITS if any(k in r for r in rows)]
    mean, ci = {}, {}
    for key in keys:
        m, lo, hi = mean_ci95([r.get(key) for r in rows])
        mean[key], ci[key] = m, [lo, hi]
    return {"replications": [dict(r) for r in rows], "mean": mean, "ci95": ci}


def run_replications(scenario: Scenario, replications: int | None = None, *, seed: int | None = None,
                     progress: bool = False, strategy: type | None = None, opening=None) -> Replications:
    """Run replications 0..n−1 of ``scenario`` (n defaults to ``scenario.replications``), optionally
    warm-started from an :class:`~o2c_sim.warmstart.OpeningBook`."""
    n = scenario.replications if replications is None else replications
    reps = range(n)
    if progress:
        from tqdm.auto import tqdm

        reps = tqdm(reps, desc=f"{scenario.name}", unit="rep")
    results = [simulate(scenario, r, seed=seed, strategy=strategy, opening=opening) for r in reps]
    return Replications(results[0].scenario if results else scenario, results)
