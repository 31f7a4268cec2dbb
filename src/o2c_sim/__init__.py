"""o2c-sim — a collections simulation and forecasting lab for Order-to-Cash teams.

The public API, the same code the ``o2c-sim`` command, the notebooks and the dashboards call::

    from o2c_sim import load_scenario, simulate, run_replications, sweep, recommend
    scenario = load_scenario("baseline", {"team.collectors": 8})
    result = simulate(scenario)                 # one replication: invoices, events, daily, monthly, kpis
    reps = run_replications(scenario, 10)       # KPIs with 95 % confidence intervals
    grid = sweep("baseline", {"team.collectors": [4, 6, 8]}, replications=10, out="sweeps/team")
    rec = recommend("baseline", "dso<=45", 0.9, "team.collectors", range(2, 11))

Names are imported on first use, so ``import o2c_sim`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Scenario": "scenario",
    "load_scenario": "scenario",
    "Simulation": "sim.model",
    "simulate": "sim.model",
    "SimResult": "sim.results",
    "run_replications": "experiments.replications",
    "sweep": "experiments.sweep",
    "load_sweep": "experiments.sweep",
    "recommend": "experiments.staffing",
    "load_ledger": "data.importer",
    "calibrate": "calibration.scenario_fit",
    "opening_book": "calibration.warmstart",
    "forecast_with_backtest": "forecast",
    "gap_analysis": "forecast",
    "UserError": "errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'o2c_sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
