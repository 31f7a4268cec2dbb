"""Combining models by their back-test record (Bates & Granger 1969, "The combination of forecasts",
OR Quarterly 20(4); inverse-MSE weights as in Stock & Watson 2004, J. Forecasting 23(6)).

The combination at an origin averages the ``top`` models with the lowest mean squared error over the
back-test forecasts whose target period had ended by then, with weights ``w_m ∝ 1 / MSE_m``; means and
interval bounds are averaged with the same weights (quantile averaging). With no such record yet the
weights are equal.
"""

from __future__ import annotations

import pandas as pd

from o2c_sim.forecast.models import CannotFit, Model, run
from o2c_sim.forecast.series import History

NAME = "combination"
BOUNDS = ("lo80", "hi80", "lo95", "hi95")


def weights(backtest: pd.DataFrame, before: pd.Timestamp | None = None, top: int = 3) -> dict[str, float]:
    """Inverse-MSE weights of the ``top`` models, from rows whose period started before ``before``."""
    bt = backtest[backtest["model"] != NAME]
    if before is not None:
        bt = bt[bt["period_start"] <= pd.Timestamp(before)]
    if bt.empty:
        return {}
    mse = ((bt["forecast"] - bt["actual"]) ** 2).groupby(bt["model"]).mean().nsmallest(top)
    w = 1.0 / mse.clip(lower=1e-12)
    return (w / w.sum()).to_dict()


def blend(forecasts: pd.DataFrame, w: dict[str, float], value_cols=("mean", *BOUNDS)) -> pd.DataFrame:
    """Weighted average per period of the given models' rows (equal weights when ``w`` is empty)."""
    f = forecasts[forecasts["model"].isin(w)] if w else forecasts
    wt = f["model"].map(w) if w else pd.Series(1.0, index=f.index)
    cols = list(value_cols)
    num = f[cols].mul(wt, axis=0).groupby(f["period_start"]).sum()
    return num.div(wt.groupby(f["period_start"]).sum(), axis=0).reset_index()


def combine_backtest(backtest: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """Back-test rows for the combination, each origin weighted by the record before it (no look-ahead)."""
    base = backtest[backtest["model"] != NAME]
    rows = []
    for origin, g in base.groupby("origin"):
        w = weights(base, origin, top)
        w = {m: v for m, v in w.items() if m in set(g["model"])}
        c = blend(g.rename(columns={"forecast": "mean"}), w).rename(columns={"mean": "forecast"})
        keep = g.drop_duplicates("period_start").set_index("period_start")[["origin", "horizon", "actual", "scale", "level"]]
        rows.append(c.join(keep, on="period_start").assign(model=NAME))
    return pd.concat([backtest, *rows], ignore_index=True)[list(backtest.columns)]


class Combination(Model):
    """The back-test-weighted combination of ``models`` as a model of its own."""

    name = NAME

    def __init__(self, models: list[Model], backtest: pd.DataFrame, top: int = 3):
        self.models, self.w = models, weights(backtest, top=top)

    def forecast(self, history: History, horizon: int) -> pd.DataFrame:
        f, _ = run([m for m in self.models if m.name in self.w], history, horizon)
        if f.empty:
            raise CannotFit("none of the combined models could fit")
        return blend(f, {m: v for m, v in self.w.items() if m in set(f["model"])})
