"""Forecast accuracy measures.

Sources: Hyndman & Koehler (2006), "Another look at measures of forecast accuracy", IJF 22(4) for MASE;
Hyndman & Athanasopoulos, *Forecasting: Principles and Practice* (3rd ed.), §5.8 for WAPE, bias and
interval coverage. Net accuracy is the treasury convention for a 13-week cash forecast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: horizon bands reported by :func:`summary` (inclusive ranges of periods ahead)
BANDS = {"1-4": (1, 4), "5-13": (5, 13), "1-13": (1, 13)}


def wape(actual, forecast) -> float:
    """Weighted absolute percentage error ``Σ|a − f| / Σ|a|``. Example: a=(100, 200), f=(110, 170) → 40/300."""
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    return float(np.abs(a - f).sum() / np.abs(a).sum())


def mase(actual, forecast, scale) -> float:
    """Mean absolute scaled error ``mean(|a − f| / scale)``.

    ``scale`` is the in-sample mean absolute one-period naive change ``mean|y_t − y_{t−1}|`` of the
    training series (one value, or one per row when each forecast had its own origin). A training series
    that never changed has scale 0 and no MASE: ``inf`` (or ``nan`` for an exact forecast), without a
    warning.
    """
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(np.abs(a - f) / np.asarray(scale, float)))


def bias(actual, forecast) -> float:
    """Relative bias ``Σ(f − a) / Σa``: positive means over-forecast. Example: a=(100, 200), f=(110, 170) → −20/300."""
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    return float((f - a).sum() / a.sum())


def coverage(actual, lo, hi) -> float:
    """Share of actuals inside their interval ``lo ≤ a ≤ hi``."""
    a = np.asarray(actual, float)
    return float(np.mean((np.asarray(lo, float) <= a) & (a <= np.asarray(hi, float))))


def net_accuracy(actual, forecast) -> float:
    """``1 − |Σa − Σf| / Σa`` over one forecast's horizon. Example: a=(100, 200), f=(110, 170) → 1 − 20/300."""
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    return float(1.0 - abs(a.sum() - f.sum()) / a.sum())


def naive_scale(y: pd.Series | np.ndarray) -> float:
    """The MASE scale ``mean|y_t − y_{t−1}|`` of a training series."""
    return float(np.mean(np.abs(np.diff(np.asarray(y, float)))))


def summary(backtest: pd.DataFrame, net_horizon: int = 13) -> pd.DataFrame:
    """Accuracy per model and horizon band from a back-test table.

    ``backtest`` has columns origin, horizon, model, forecast, actual, lo80, hi80, lo95, hi95, scale.
    ``net_accuracy`` is averaged over the origins whose ``net_horizon`` periods all have actuals, and
    ``origins`` counts the origins in each band.
    """
    rows = []
    for model, g in backtest.groupby("model", sort=False):
        net = _mean_net_accuracy(g, net_horizon)
        for band, (lo, hi) in BANDS.items():
            b = g[g["horizon"].between(lo, hi)]
            if b.empty:
                continue
            rows.append({
                "model": model, "band": band, "origins": b["origin"].nunique(), "n": len(b),
                "wape": wape(b["actual"], b["forecast"]), "mase": mase(b["actual"], b["forecast"], b["scale"]),
                "bias": bias(b["actual"], b["forecast"]),
                "cov80": coverage(b["actual"], b["lo80"], b["hi80"]),
                "cov95": coverage(b["actual"], b["lo95"], b["hi95"]),
                f"net{net_horizon}": net,
            })
    return pd.DataFrame(rows)


def _mean_net_accuracy(g: pd.DataFrame, horizon: int) -> float:
    full = g[g["horizon"] <= horizon].groupby("origin").filter(lambda o: o["horizon"].nunique() == horizon)
    if full.empty:
        return float("nan")
    per_origin = full.groupby("origin").apply(lambda o: net_accuracy(o["actual"], o["forecast"]), include_groups=False)
    return float(per_origin.mean())
