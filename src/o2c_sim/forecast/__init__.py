"""Cash-receipts forecasting (DESIGN §7): series, models, invoice-level curves, back-test, metrics,
combination and gap analysis. :func:`forecast_with_backtest` is the whole job in one call."""

from __future__ import annotations

from o2c_sim.forecast.backtest import origins, run_backtest
from o2c_sim.forecast.combine import Combination, combine_backtest
from o2c_sim.forecast.gap import gap_analysis
from o2c_sim.forecast.honest import SELECTED, honest_selection
from o2c_sim.forecast.metrics import bias, coverage, mase, net_accuracy, summary, wape
from o2c_sim.forecast.models import CannotFit, Model, run
from o2c_sim.forecast.pipeline import ForecastResult, forecast_with_backtest
from o2c_sim.forecast.registry import MODELS, build
from o2c_sim.forecast.series import History, falling_due, known_at, receipts

__all__ = [
    "CannotFit", "Combination", "ForecastResult", "History", "MODELS", "Model", "bias", "build",
    "combine_backtest", "coverage", "falling_due", "forecast_with_backtest", "gap_analysis", "known_at", "mase",
    "honest_selection", "net_accuracy", "origins", "receipts", "run", "run_backtest", "SELECTED", "summary", "wape",
]
