"""One interface for every receipts model: fit on the history known at an origin, predict a horizon.

A model's :meth:`Model.forecast` takes a :class:`~o2c_sim.forecast.series.History` and a horizon and
returns one row per future period: ``period_start, mean, lo80, hi80, lo95, hi95``. A model that cannot
fit raises :class:`CannotFit` with the reason; :func:`run` reports it and goes on with the others.

Aggregate models work on the receipts series ``y``. Interval formulas for the baselines are those of
Hyndman & Athanasopoulos, *Forecasting: Principles and Practice* (3rd ed.), §5.5, Table 5.2, with σ the
standard deviation of the one-step residuals; statsmodels models use their own prediction intervals.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod

import numpy as np
import pandas as pd

from o2c_sim.forecast.base import COLUMNS, Z80, Z95, CannotFit, Model, frame
from o2c_sim.forecast.invoice_level import SurvivalCurves
from o2c_sim.forecast.series import SEASON, History

def run(models: list[Model], history: History, horizon: int) -> tuple[pd.DataFrame, dict[str, str]]:
    """Forecast with every model; returns (rows with a ``model`` column, {skipped model: reason})."""
    frames, skipped = [], {}
    for m in models:
        try:
            f = m.forecast(history, horizon)
        except CannotFit as exc:
            skipped[m.name] = str(exc)
            continue
        frames.append(f.assign(model=m.name))
    cols = ["period_start", "model", *COLUMNS[1:]]
    out = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    return out, skipped


def giant_receipts(history: History, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected receipts per period from the giant items open on the as-of date, and their variance, from
    the invoice-level survival curves (fitted once per origin and shared by every series model)."""
    key = ("giant receipts", horizon)
    if key not in history.cache:
        try:
            _, exp, var = SurvivalCurves().expectations(history, horizon, only=history.giant, new_billing=False)
            history.cache[key] = exp.sum(axis=0), var
        except CannotFit:
            history.cache[key] = np.zeros(horizon), np.zeros(horizon)
    return history.cache[key]


def add_independent(f: pd.DataFrame, mean: np.ndarray, var: np.ndarray) -> pd.DataFrame:
    """A forecast table plus an independent component of given mean and variance: means add, each bound's
    half-width ``w`` becomes ``√(w² + z² var)`` (normal approximation of the added part)."""
    out = f.copy()
    for lo, hi, z in (("lo80", "hi80", Z80), ("lo95", "hi95", Z95)):
        out[lo] = f["mean"] + mean - np.sqrt((f["mean"] - f[lo]) ** 2 + z**2 * var)
        out[hi] = f["mean"] + mean + np.sqrt((f[hi] - f["mean"]) ** 2 + z**2 * var)
    out["mean"] = f["mean"] + mean
    return frame(out["period_start"], out["mean"], lo80=out["lo80"], hi80=out["hi80"], lo95=out["lo95"], hi95=out["hi95"])


class SeriesModel(Model):
    """A model of the receipts series alone (optionally with the amount falling due as a regressor)."""

    min_periods = 8

    def forecast(self, history: History, horizon: int) -> pd.DataFrame:
        """Forecast the receipts without giant items, then add the giant open items' own expected receipts
        (:func:`giant_receipts`): a giant invoice's payment never enters the series model's level."""
        y = history.regular_receipts.to_numpy()
        need = self.needs(history.freq)
        if len(y) < need:
            raise CannotFit(f"needs at least {need} periods of history, the history has {len(y)}")
        f = self.predict(y, horizon, history)
        if not history.giant.any():
            return f
        mean, var = giant_receipts(history, horizon)
        return add_independent(f, mean, var)

    def needs(self, freq: str) -> int:
        return self.min_periods

    @abstractmethod
    def predict(self, y: np.ndarray, horizon: int, history: History) -> pd.DataFrame: ...


class Naive(SeriesModel):
    """Last value carried forward; ``sd_h = σ√h``."""

    name = "naive"

    def predict(self, y, horizon, history):
        sigma = np.std(np.diff(y), ddof=1)
        h = np.arange(1, horizon + 1)
        return frame(history.future(horizon), np.full(horizon, y[-1]), sigma * np.sqrt(h))


class SeasonalNaive(SeriesModel):
    """Same period last season (52 weeks / 7 days); ``sd_h = σ√(k+1)``, ``k = ⌊(h−1)/m⌋``."""

    name = "seasonal_naive"

    def needs(self, freq):
        return SEASON[freq] + 2

    def predict(self, y, horizon, history):
        m = SEASON[history.freq]
        h = np.arange(1, horizon + 1)
        mean = y[len(y) - m + (h - 1) % m]
        sigma = np.std(y[m:] - y[:-m], ddof=1)
        return frame(history.future(horizon), mean, sigma * np.sqrt((h - 1) // m + 1))


class MovingAverage(SeriesModel):
    """Mean of the last ``window`` periods; σ from the one-step errors of the same rule in sample."""

    name = "moving_average"

    def __init__(self, window: int = 13):
        self.window = window
        self.min_periods = window + 4

    def predict(self, y, horizon, history):
        k = self.window
        past = np.convolve(y, np.ones(k) / k, mode="valid")[:-1]  # mean of y[t-k..t-1] for t = k..n-1
        sigma = np.std(y[k:] - past, ddof=1)
        return frame(history.future(horizon), np.full(horizon, y[-k:].mean()), np.full(horizon, sigma))


def _quiet_fit(fit, *args, **kwargs):
    """Call a statsmodels fit with convergence warnings silenced; a failed fit becomes :class:`CannotFit`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fit(*args, **kwargs)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise CannotFit(f"statsmodels could not fit: {exc}") from None


def _bounds(pred, index, mean) -> pd.DataFrame:
    """A forecast table from a statsmodels prediction object with ``conf_int(alpha)``."""
    ci80, ci95 = np.asarray(pred.conf_int(alpha=0.2)), np.asarray(pred.conf_int(alpha=0.05))
    return frame(index, mean, lo80=ci80[:, 0], hi80=ci80[:, 1], lo95=ci95[:, 0], hi95=ci95[:, 1])


class SES(SeriesModel):
    """statsmodels ``SimpleExpSmoothing`` (reference); ``sd_h = σ√(1 + (h−1)α²)`` (ETS(A,N,N))."""

    name = "ses"

    def predict(self, y, horizon, history):
        from statsmodels.tsa.holtwinters import SimpleExpSmoothing

        res = _quiet_fit(SimpleExpSmoothing(y, initialization_method="estimated").fit)
        alpha = res.params["smoothing_level"]
        sigma = np.sqrt(np.mean(res.resid**2))
        h = np.arange(1, horizon + 1)
        return frame(history.future(horizon), res.forecast(horizon), sigma * np.sqrt(1 + (h - 1) * alpha**2))


class ETS(SeriesModel):
    """statsmodels ``ETSModel``: the lower-AICc of ETS(A,N,N) and ETS(A,Ad,N)."""

    name = "ets"
    min_periods = 12

    def predict(self, y, horizon, history):
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        y = pd.Series(y)  # ETSModel's prediction summary needs an index
        fits = [
            _quiet_fit(ETSModel(y, error="add", trend=trend, damped_trend=trend is not None).fit, disp=False)
            for trend in (None, "add")
        ]
        res = min(fits, key=lambda r: r.aicc)
        pred = res.get_prediction(start=len(y), end=len(y) + horizon - 1)
        sf80, sf95 = pred.summary_frame(alpha=0.2), pred.summary_frame(alpha=0.05)
        return frame(history.future(horizon), sf80["mean"], lo80=sf80["pi_lower"], hi80=sf80["pi_upper"],
                     lo95=sf95["pi_lower"], hi95=sf95["pi_upper"])


class SARIMAX(SeriesModel):
    """statsmodels ``SARIMAX`` AR(1) with a constant and the amount falling due as regressor."""

    name = "sarimax"
    min_periods = 16

    def predict(self, y, horizon, history):
        from statsmodels.tsa.statespace.sarimax import SARIMAX as _SARIMAX

        x_hist, x_future = history.falling_due(horizon)
        res = _quiet_fit(_SARIMAX(y, exog=x_hist, order=(1, 0, 0), trend="c").fit, disp=False)
        pred = res.get_forecast(horizon, exog=x_future)
        return _bounds(pred, history.future(horizon), pred.predicted_mean)


class UnobservedComponents(SeriesModel):
    """statsmodels ``UnobservedComponents``: local level plus the amount falling due as regressor."""

    name = "unobserved_components"
    min_periods = 16

    def predict(self, y, horizon, history):
        from statsmodels.tsa.statespace.structural import UnobservedComponents as _UC

        x_hist, x_future = history.falling_due(horizon)
        res = _quiet_fit(_UC(y, level="llevel", exog=x_hist).fit, disp=False)
        pred = res.get_forecast(horizon, exog=x_future)
        return _bounds(pred, history.future(horizon), pred.predicted_mean)


class StatsForecast(SeriesModel):
    """Nixtla statsforecast's ``AutoETS`` or ``AutoTheta`` (non-seasonal: weekly histories are rarely two
    years long) with its own 80/95 % intervals. Numba-compiled, so faster than statsmodels' ETS once
    compiled (compilation is cached on disk). Hyndman et al. (2002), IJF 18 (ETS); Fiorucci et al. (2016),
    IJF 32 (optimised Theta). A machine without statsforecast declines with :class:`CannotFit`."""

    min_periods = 12
    KINDS = ("AutoETS", "AutoTheta")

    def __init__(self, kind: str = "AutoETS"):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}")
        self.kind, self.name = kind, {"AutoETS": "sf_autoets", "AutoTheta": "sf_autotheta"}[kind]

    def predict(self, y, horizon, history):
        try:
            from statsforecast import models as sf
        except ImportError:
            raise CannotFit("statsforecast is not installed (pip install statsforecast)") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fc = getattr(sf, self.kind)(season_length=1).forecast(y=np.asarray(y, float), h=horizon, level=[80, 95])
            except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
                raise CannotFit(f"statsforecast {self.kind} could not fit: {exc}") from None
        return frame(history.future(horizon), fc["mean"], lo80=fc["lo-80"], hi80=fc["hi-80"], lo95=fc["lo-95"], hi95=fc["hi-95"])
