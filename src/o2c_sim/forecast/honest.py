"""Honest scores: everything a back-test row reports is decided from errors known before its origin.

* **Intervals** (split-conformal in time, Vovk et al. 2005; Stankeviciute et al. 2021): at origin *o* the
  bounds of a model's *h*-step forecast are ``f + L_o · q_α(r)``, the empirical quantiles of the same
  model's scaled errors ``r = (a − f) / L`` at horizon *h* whose target period had ended by *o*, from
  the origins of the last :data:`WINDOW` periods (``L`` the mean receipts of the last 13 periods at each
  origin, so errors pool across changes of level). With fewer than :data:`MIN_RECORD` such errors,
  neighbouring horizons are pooled; with none, the model's own bounds stay.
* **Selection** (:func:`honest_selection`): at each origin :func:`pick` chooses from the errors at
  horizons 1–4 known then — the combination unless a model's record beats it clearly — and that
  forecast becomes the row of the pseudo-model :data:`SELECTED`. Its score — not the best of the
  per-model scores, which is chosen after the fact and flattered — is the forecast's accuracy.
* **Uncertainty of a score**: percentile bootstrap over origins (Efron & Tibshirani 1993, ch. 13) for
  every WAPE, and for the paired difference against the best simple baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from o2c_sim.forecast.metrics import BANDS
from o2c_sim.forecast.series import step

SELECTED = "selected"
#: simple baselines a forecast must beat
SIMPLE = ("naive", "seasonal_naive", "moving_average", "ses")
#: errors needed before a record is used (for intervals and for selection)
MIN_RECORD = 8
#: interval errors come from the origins of the last WINDOW periods, per level: a sliding window adapts
#: to a changing spread, as adaptive conformal inference does (Gibbs & Candès 2021, NeurIPS); the 95 %
#: tails need twice the errors of the 80 % ones to be estimated at all
WINDOW = {"80": 26, "95": 52}
#: paired t-statistic a single model's record needs to replace the combination (:func:`pick`)
T_CRIT = 2.0
QUANTILES = {"lo80": 0.10, "hi80": 0.90, "lo95": 0.025, "hi95": 0.975}


def period_end(bt: pd.DataFrame, freq: str) -> pd.Series:
    """Last day of each row's target period (its actual is known from then on)."""
    return bt["period_start"] + step(freq) - pd.Timedelta(days=1)


def _quantiles(r, h, usable, horizon: int, min_record: int, levels) -> np.ndarray | None:
    """Quantiles at ``levels`` of the scaled errors ``r[usable]`` at ``horizon``, widening to neighbouring
    horizons until ``min_record`` errors are in; None if there are too few."""
    dist = np.abs(h[usable] - horizon)
    errs = r[usable]
    if len(errs) < min_record:
        return None
    width = np.sort(dist)[min_record - 1]
    # Hyndman & Fan (1996) type 6, position p(n + 1): for exchangeable errors a new one falls below the
    # k-th of n with probability k / (n + 1), so the band covers p_hi − p_lo in expectation (Lei et al. 2018)
    return np.quantile(errs[dist <= width], levels, method="weibull")


def _bounds(r, h, o, known, at, horizon: int, freq: str, min_record: int) -> np.ndarray | None:
    """(lo80, hi80, lo95, hi95) offsets from the errors ``known`` at ``at`` of origins within :data:`WINDOW`."""
    out = []
    for level in ("80", "95"):
        usable = known & (o > at - WINDOW[level] * step(freq))
        q = _quantiles(r, h, usable, horizon, min_record, [QUANTILES[f"lo{level}"], QUANTILES[f"hi{level}"]])
        if q is None:
            return None
        out.extend(q)
    return np.array(out)


def _around(mean: float, offsets: np.ndarray) -> np.ndarray:
    """Bounds ``mean + offsets`` (lo80, hi80, lo95, hi95) kept nested around the mean and ≥ 0."""
    lo80, hi80, lo95, hi95 = mean + offsets
    lo80, hi80 = min(lo80, mean), max(hi80, mean)
    return np.maximum(0.0, [lo80, hi80, min(lo95, lo80), max(hi95, hi80)])


def conformal_intervals(bt: pd.DataFrame, freq: str, min_record: int = MIN_RECORD) -> pd.DataFrame:
    """The back-test with each row's bounds from the errors of its model known at its origin."""
    out = bt.copy()
    end = period_end(bt, freq).to_numpy()
    bounds = out[list(QUANTILES)].to_numpy(float, copy=True)
    pos = {idx: i for i, idx in enumerate(bt.index)}
    for _, g in bt.groupby("model", sort=False):
        f, level = g["forecast"].to_numpy(), g["level"].to_numpy()
        r = (g["actual"].to_numpy() - f) / level
        h, e, o = g["horizon"].to_numpy(), end[[pos[i] for i in g.index]], g["origin"].to_numpy()
        for origin in np.unique(o):
            known = e <= origin
            for i in np.flatnonzero(o == origin):
                q = _bounds(r, h, o, known, origin, h[i], freq, min_record)
                if q is not None:
                    bounds[pos[g.index[i]]] = _around(f[i], level[i] * q)
    out[list(QUANTILES)] = bounds
    return out


def calibrate_forecast(forecast: pd.DataFrame, bt: pd.DataFrame, level: float, freq: str, min_record: int = MIN_RECORD) -> pd.DataFrame:
    """Bounds of a new forecast (rows per model in horizon order) from each model's back-test record over the
    last :data:`WINDOW` origins (all known at the as-of date); a model without enough record keeps its own."""
    out = forecast.copy()
    for model, g in forecast.groupby("model", sort=False):
        b = bt[bt["model"] == model]
        r = ((b["actual"] - b["forecast"]) / b["level"]).to_numpy()
        h = b["horizon"].to_numpy()
        o, last = b["origin"].to_numpy(), b["origin"].max()
        for horizon, idx in enumerate(g.index, start=1):
            q = _bounds(r, h, o, np.ones(len(r), bool), last, horizon, freq, min_record)
            if q is not None:
                out.loc[idx, list(QUANTILES)] = _around(g.at[idx, "mean"], level * q)
    return out


def pick(bt: pd.DataFrame, end: pd.Series, at, candidates, fallback: str | None, band=(1, 4),
         min_record: int = MIN_RECORD, t_crit: float = T_CRIT) -> str:
    """The model to use at ``at``, from the band's errors whose target period had ended by then.

    Default: ``fallback`` (the combination; equal weights while there is no record). Another candidate
    replaces it only when its record has the lowest WAPE and beats the fallback's by a paired t-statistic
    over origins above ``t_crit`` (Diebold & Mariano 1995, JBES 13): simple combinations are hard to beat
    and picking the single best of a noisy record throws that away (Claeskens et al. 2016, IJF 32).
    Without a fallback, the lowest WAPE with a record of ``min_record`` origins wins.
    """
    candidates = list(candidates)
    past = bt[(end <= at) & bt["horizon"].between(*band) & bt["model"].isin(candidates)]
    err = past.assign(err=(past["actual"] - past["forecast"]).abs())
    per_origin = err.pivot_table(index="origin", columns="model", values="err", aggfunc="sum")
    actual = past.drop_duplicates(["origin", "period_start"]).groupby("origin")["actual"].sum()
    counts = per_origin.notna().sum()
    eligible = counts[counts >= min_record].index
    if len(eligible) == 0:
        return fallback if fallback in candidates else candidates[0]
    scale = {m: actual[per_origin[m].notna()].abs().sum() for m in eligible}
    wape = {m: per_origin[m].sum() / scale[m] for m in eligible if scale[m] > 0}
    if not wape:  # nothing was received in the record: no model has shown anything yet
        return fallback if fallback in candidates else candidates[0]
    best = min(wape, key=wape.get)
    if fallback not in eligible or best == fallback:
        return best
    d = (per_origin[fallback] - per_origin[best]).dropna()
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 2 else 0.0
    return best if se > 0 and d.mean() / se > t_crit else fallback


def choose(bt: pd.DataFrame, freq: str, at, candidates, fallback: str | None = None, band=(1, 4)) -> str:
    """:func:`pick` at ``at`` over the whole back-test (the choice for a new forecast)."""
    bt = bt[bt["model"] != SELECTED]
    return pick(bt, period_end(bt, freq), pd.Timestamp(at), candidates, fallback, band)


def honest_selection(bt: pd.DataFrame, freq: str, fallback: str | None = "combination", band=(1, 4)) -> pd.DataFrame:
    """The back-test with the rows of :data:`SELECTED` added: at each origin, the forecast of the model
    :func:`pick` chooses from the errors known then (column ``chosen`` names it)."""
    base = bt[bt["model"] != SELECTED]
    end = period_end(base, freq)
    rows = []
    for origin, g in base.groupby("origin"):
        name = pick(base, end, origin, list(dict.fromkeys(g["model"])), fallback, band)
        rows.append(g[g["model"] == name].assign(model=SELECTED, chosen=name))
    return pd.concat([base.assign(chosen=base["model"]), *rows], ignore_index=True)


def _per_origin(bt: pd.DataFrame, model: str, band) -> pd.DataFrame:
    b = bt[(bt["model"] == model) & bt["horizon"].between(*band)]
    return b.assign(err=(b["actual"] - b["forecast"]).abs(), act=b["actual"].abs()).groupby("origin")[["err", "act"]].sum()


def bootstrap_wape(bt: pd.DataFrame, model: str, band=(1, 4), reps: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of a model's WAPE, resampling origins."""
    p = _per_origin(bt, model, band)
    if len(p) < 2:
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, len(p), (reps, len(p)))
    w = p["err"].to_numpy()[idx].sum(axis=1) / p["act"].to_numpy()[idx].sum(axis=1)
    return float(np.quantile(w, 0.025)), float(np.quantile(w, 0.975))


def versus(bt: pd.DataFrame, model: str, other: str, band=(1, 4), reps: int = 1000, seed: int = 0) -> dict:
    """WAPE(model) − WAPE(other) over the origins both forecast, with its paired bootstrap 95 % interval
    (empty when they share no origin in the band)."""
    a, b = _per_origin(bt, model, band), _per_origin(bt, other, band)
    common = a.index.intersection(b.index)
    if len(common) == 0:
        return {}
    a, b = a.loc[common], b.loc[common]
    diff = a["err"].sum() / a["act"].sum() - b["err"].sum() / b["act"].sum()
    if len(common) < 2:
        return {"baseline": other, "difference": float(diff), "lo95": float("nan"), "hi95": float("nan")}
    idx = np.random.default_rng(seed).integers(0, len(common), (reps, len(common)))
    d = (a["err"].to_numpy()[idx].sum(1) / a["act"].to_numpy()[idx].sum(1)
         - b["err"].to_numpy()[idx].sum(1) / b["act"].to_numpy()[idx].sum(1))
    return {"baseline": other, "difference": float(diff), "lo95": float(np.quantile(d, 0.025)),
            "hi95": float(np.quantile(d, 0.975)), "origins": int(len(common))}


def with_confidence(summary: pd.DataFrame, bt: pd.DataFrame, reps: int = 1000) -> pd.DataFrame:
    """``summary`` with the bootstrap interval of each WAPE (columns ``wape_lo``, ``wape_hi``)."""
    ci = [bootstrap_wape(bt, m, BANDS[b], reps) for m, b in zip(summary["model"], summary["band"])]
    return summary.assign(wape_lo=[c[0] for c in ci], wape_hi=[c[1] for c in ci])


def best_simple(summary: pd.DataFrame, band: str = "1-4") -> str | None:
    """The simple baseline (:data:`SIMPLE`) with the lowest WAPE in ``band``."""
    s = summary[(summary["band"] == band) & summary["model"].isin(SIMPLE)]
    return None if s.empty else str(s.loc[s["wape"].idxmin(), "model"])


def track_record(bt: pd.DataFrame, freq: str, as_of, periods: int = 13, band=(1, 4)) -> dict:
    """The honest forecast's accuracy on the target periods that ended in the last ``periods`` periods
    before ``as_of`` (last quarter's record, for the report): WAPE, bias and 80 % coverage."""
    s = bt[(bt["model"] == SELECTED) & bt["horizon"].between(*band)]
    end = period_end(s, freq)
    as_of = pd.Timestamp(as_of)
    s = s[(end <= as_of) & (end > as_of - periods * step(freq))]
    if s.empty or s["actual"].abs().sum() == 0:
        return {}
    a, f = s["actual"], s["forecast"]
    return {"periods": int(s["period_start"].nunique()), "wape": float((a - f).abs().sum() / a.abs().sum()),
            "bias": float((f - a).sum() / a.sum()), "cov80": float(((s["lo80"] <= a) & (a <= s["hi80"])).mean())}
