"""New billing: a forecast of the amount invoiced per week, from its own model chosen honestly.

Candidates on the weekly net billing ``b_t`` (credit notes included, giant items excluded):

* ``level`` — simple exponential smoothing ``ℓ_t = ℓ_{t−1} + α (b_t − ℓ_{t−1})``; forecast ``ℓ_n``;
* ``trend`` — Holt's damped additive trend (Gardner & McKenzie 1985): ``ℓ_t = ℓ_{t−1} + φ β_{t−1} + α e_t``,
  ``β_t = φ β_{t−1} + α γ e_t``; forecast ``ℓ_n + (φ + … + φ^h) β_n``;
* ``seasonal`` — the level moved as the billing moved a year earlier, ``ℓ_n · m(n + h − 52) / m(n − 52)``,
  with ``m`` the 13-week centred mean of the billing (only with at least two years of weeks before the
  first scored origin: the annual pattern of a single year cannot be told from noise).

Each candidate's smoothing constants are fitted by the least one-step squared error on the data before
an origin (Hyndman & Athanasopoulos, FPP3 §8.1, grid search). The model is **chosen honestly**: by the
absolute errors of its forecasts 1–:data:`SCORE_HORIZON` weeks ahead made at the last :data:`ORIGINS` weekly
origins from the data known at each, never by its fit (Tashman 2000). The same errors give the forecast's
uncertainty: the root mean squared error at each horizon (pooled over neighbouring horizons beyond the
scored ones), which the invoice-level model carries into the receipts' intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHAS = np.array([0.05, 0.1, 0.2, 0.3, 0.5])
GAMMAS = np.array([0.05, 0.2])
PHI = 0.9
SEASON = 52
#: origins and horizons of the honest choice
ORIGINS, SCORE_HORIZON = 26, 8
#: weeks of history a candidate needs before its first scored origin
MIN_TRAIN = 8


def _paths(b: np.ndarray, trend: bool):
    """Run the smoother over ``b`` for every grid point at once; returns (level, trend, one-step SSE) after
    each prefix ``b[:t]``, t = 0..n, as arrays (n + 1, grid) — every origin's fit from one pass."""
    a = (ALPHAS[:, None] * np.ones(len(GAMMAS))).ravel() if trend else ALPHAS
    g = (np.ones(len(ALPHAS))[:, None] * GAMMAS).ravel() if trend else np.zeros(len(ALPHAS))
    phi = PHI if trend else 0.0
    n = len(b)
    level, slope, sse = np.empty((n + 1, len(a))), np.zeros((n + 1, len(a))), np.zeros((n + 1, len(a)))
    level[0] = b[: min(4, n)].mean() if n else 0.0
    for t, x in enumerate(b):
        e = x - (level[t] + phi * slope[t])
        sse[t + 1] = sse[t] + e * e
        level[t + 1] = level[t] + phi * slope[t] + a * e
        slope[t + 1] = phi * slope[t] + a * g * e
    return level, slope, sse


def _point(paths, b: np.ndarray, o: int, kind: str, horizon: int) -> np.ndarray:
    """Forecasts 1..``horizon`` weeks after ``b[:o]`` by ``kind``, its constants the least-SSE ones on ``b[:o]``."""
    level, slope, sse = paths
    i = int(np.argmin(sse[o]))
    h = np.arange(1, horizon + 1)
    if kind == "trend":
        return level[o, i] + PHI * (1 - PHI**h) / (1 - PHI) * slope[o, i]
    out = np.full(horizon, level[o, i])
    if kind == "seasonal":  # the level carries this week's season: move it as last year moved
        f = annual_factor(b[:o], horizon + 1, start=0)
        out = out * f[1:] / f[0] if f[0] > 0 else out
    return out


def annual_factor(b: np.ndarray, horizon: int, start: int = 1) -> np.ndarray:
    """``m(n + h − 52) / m̄`` for ``horizon`` values of h from ``start``: last year's 13-week centred mean
    over that year's mean (week n + h − 52 of a history of n weeks)."""
    n = len(b)
    last_year = b[n - SEASON:]
    mean = last_year.mean()
    if mean <= 0:
        return np.ones(horizon)
    padded = np.concatenate([b[max(0, n - SEASON - 6):], np.full(horizon + 6, np.nan)])
    offset = n - max(0, n - SEASON - 6)  # position of week n in ``padded``
    out = np.empty(horizon)
    for k in range(start, start + horizon):
        centre = offset + k - SEASON - 1
        window = padded[max(0, centre - 6): centre + 7]
        window = window[~np.isnan(window)]
        out[k - start] = window.mean() / mean if len(window) else 1.0
    return out


def candidates(n: int) -> list[str]:
    """The candidates a history of ``n`` weeks supports (seasonal with two years before the first origin)."""
    out = ["level", "trend"]
    if n - ORIGINS >= 2 * SEASON:
        out.append("seasonal")
    return out


@dataclass
class BillingForecast:
    """Weekly billing forecast: ``mean`` and ``sd`` per week ahead, the chosen candidate and the mean
    absolute error of every candidate at the honest origins (the choice's evidence)."""

    mean: np.ndarray
    sd: np.ndarray
    model: str
    scores: dict


def forecast_billing(b: np.ndarray, horizon: int) -> BillingForecast:
    """Choose a candidate by its errors at the last :data:`ORIGINS` origins and forecast ``horizon`` weeks."""
    b = np.asarray(b, float)
    n = len(b)
    if n == 0:
        return BillingForecast(np.zeros(horizon), np.zeros(horizon), "none", {})
    paths = {False: _paths(b, False)}
    paths[True] = _paths(b, True)
    first = max(MIN_TRAIN, n - ORIGINS)
    scores, errors = {}, {}
    for kind in candidates(n):
        p = paths[kind == "trend"]
        err = [[] for _ in range(horizon)]
        for o in range(first, n):
            f = _point(p, b, o, kind, min(horizon, n - o))
            for k, (fk, ak) in enumerate(zip(f, b[o:o + len(f)])):
                err[k].append(ak - fk)
        scored = [abs(e) for k in range(min(SCORE_HORIZON, horizon)) for e in err[k]]
        if scored:
            scores[kind], errors[kind] = float(np.mean(scored)), err
    if not scores:  # too short for any origin: the level, with the spread of the weeks as its error
        return BillingForecast(_point(paths[False], b, n, "level", horizon), np.full(horizon, b.std()), "level", {})
    model = min(scores, key=scores.get)
    return BillingForecast(_point(paths[model == "trend"], b, n, model, horizon), horizon_rmse(errors[model], horizon),
                           model, scores)


def horizon_rmse(err: list[list[float]], horizon: int, min_errors: int = 6) -> np.ndarray:
    """Root mean squared error per horizon, pooling the nearest horizons until ``min_errors`` are in
    (far horizons have few origins) and never below the one before (uncertainty does not shrink ahead)."""
    out = np.zeros(horizon)
    for k in range(horizon):
        pool, width = list(err[k]), 1
        while len(pool) < min_errors and width < horizon:
            pool = [e for j in range(max(0, k - width), min(horizon, k + width + 1)) for e in err[j]]
            width += 1
        out[k] = np.sqrt(np.mean(np.square(pool))) if pool else (out[k - 1] if k else 0.0)
    return np.maximum.accumulate(out)
