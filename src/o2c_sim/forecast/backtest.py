"""Rolling-origin back-test (Tashman 2000, "Out-of-sample tests of forecasting accuracy", IJF 16(4)).

At each origin (the end of a period) every model is fitted on the ledger known then
(:class:`~o2c_sim.forecast.series.History`) and forecasts ``horizon`` periods; the forecasts are set
against the receipts that followed, for periods the extract covers completely (:func:`series.history_end`).
"""

from __future__ import annotations

import pandas as pd

from o2c_sim.errors import UserError
from o2c_sim.forecast.metrics import naive_scale
from o2c_sim.forecast.models import Model, run
from o2c_sim.forecast.series import SEASON, History, check_freq, receipts

COLUMNS = ("origin", "horizon", "model", "period_start", "forecast", "actual", "lo80", "hi80", "lo95", "hi95", "scale",
           "level")
#: periods averaged for the ``level`` column, the unit in which interval errors are pooled across origins
LEVEL_PERIODS = 13


def origins(ledger: pd.DataFrame, freq: str = "W", *, min_train: int | None = None, last: pd.Timestamp | None = None,
            every: int = 1) -> list[pd.Timestamp]:
    """Origins (period ends) from ``min_train`` periods into the history (default one season) up to the
    last period end before ``last`` (default: the end of the history) that leaves one period of actuals."""
    check_freq(freq)
    y = receipts(ledger, freq)
    min_train = SEASON[freq] if min_train is None else min_train
    ends = [s - pd.Timedelta(days=1) for s in y.index[min_train:]]
    if last is not None:
        ends = [e for e in ends if e <= pd.Timestamp(last)]
    return ends[::every]


def run_backtest(ledger: pd.DataFrame, models: list[Model], freq: str = "W", horizon: int = 13,
             at: list[pd.Timestamp] | None = None, payments: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Forecasts against actuals at each origin ``at`` (default :func:`origins`).

    Returns the table (columns :data:`COLUMNS`; ``scale`` is the MASE scale of the training series,
    ``level`` its mean over the last :data:`LEVEL_PERIODS` periods) and
    {model: reason} for models skipped at one or more origins. ``payments`` are dated payment records
    (:func:`~o2c_sim.forecast.series.cash_events`): actuals and every origin's history use them.
    """
    actual = receipts(ledger, freq, payments=payments)
    at = origins(ledger, freq) if at is None else at
    if not at:
        raise UserError(f"the history ({len(actual)} periods) is too short for a back-test; it needs more than "
                        f"{SEASON[freq]} complete periods")
    rows, skipped = [], {}
    for origin in at:
        history = History(ledger, origin, freq, payments=payments)
        f, skip = run(models, history, horizon)
        for name, reason in skip.items():
            skipped.setdefault(name, f"{reason} (first at origin {history.as_of.date()})")
        if f.empty:  # no model could fit yet: an untyped empty frame would turn the dates into objects
            continue
        f = f.rename(columns={"mean": "forecast"})
        f["origin"] = history.as_of
        f["horizon"] = f.groupby("model").cumcount() + 1
        f["actual"] = f["period_start"].map(actual)
        f["scale"] = naive_scale(history.receipts)
        f["level"] = max(float(history.receipts.iloc[-LEVEL_PERIODS:].mean()), 1e-9)
        rows.append(f.dropna(subset=["actual"]))
    if not rows:
        return pd.DataFrame(columns=list(COLUMNS)), skipped
    return pd.concat(rows, ignore_index=True)[list(COLUMNS)], skipped
