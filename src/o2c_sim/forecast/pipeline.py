"""The forecast job: back-test every model on the history known at the as-of date, combine them, calibrate
intervals and select — each from the errors known before every origin (:mod:`o2c_sim.forecast.honest`) —
then forecast the horizon with every model and report the honest score of the selection rule."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from o2c_sim.errors import UserError
from o2c_sim.forecast.backtest import origins, run_backtest
from o2c_sim.forecast.combine import NAME, Combination, combine_backtest
from o2c_sim.forecast.honest import (MIN_RECORD, SELECTED, best_simple, calibrate_forecast, choose, conformal_intervals, honest_selection,
                     track_record, versus, with_confidence)
from o2c_sim.forecast.invoice_level import InvoiceLevel
from o2c_sim.forecast.backtest import LEVEL_PERIODS
from o2c_sim.forecast.metrics import BANDS, summary
from o2c_sim.forecast.models import Model, run
from o2c_sim.forecast.registry import build
from o2c_sim.forecast.series import SEASON, History, check_freq, history_end, known_at, receipts

MIN_ORIGINS = 4


@dataclass
class ForecastResult:
    as_of: pd.Timestamp
    freq: str
    horizon: int
    history: pd.Series  #: receipts per period up to the as-of date
    forecast: pd.DataFrame  #: period_start, model, mean, lo80, hi80, lo95, hi95
    backtest: pd.DataFrame  #: per model and the pseudo-model "selected" (the choice made at each origin)
    summary: pd.DataFrame  #: accuracy per model and band, with bootstrap CIs of WAPE (wape_lo, wape_hi)
    selected: str  #: the model chosen now, from the whole record
    skipped: dict[str, str] = field(default_factory=dict)
    items: pd.DataFrame | None = None  #: invoice-level expected receipts, for gap analysis
    what_if: pd.DataFrame | None = None  #: simulated base vs what-if receipts (see forecast.simulation.what_if)
    honest: dict = field(default_factory=dict)  #: the selection rule's score, vs the best simple baseline, track record


def check_inputs(ledger: pd.DataFrame, as_of, horizon: int, freq: str) -> pd.Timestamp:
    """Validate the forecast request, raising :class:`UserError` with what was expected."""
    check_freq(freq)
    if ledger is None or ledger.empty:
        raise UserError("the ledger is empty; a forecast needs a history of paid invoices")
    if not isinstance(horizon, int) or horizon <= 0:
        raise UserError(f"horizon must be a whole number of periods ≥ 1, got {horizon!r}")
    try:
        as_of = pd.Timestamp(as_of).normalize()
    except (ValueError, TypeError):
        raise UserError(f"as-of date {as_of!r} is not a date; expected YYYY-MM-DD") from None
    first, last = ledger["invoice_date"].min(), history_end(ledger)
    if not first <= as_of <= last:
        raise UserError(f"as-of date {as_of.date()} is outside the history, which runs from {first.date()} to "
                        f"{last.date()} (its last invoice date)")
    return as_of


def forecast_with_backtest(ledger: pd.DataFrame, as_of, horizon: int = 13, freq: str = "W",
                           models: list[Model] | list[str] | None = None, scenario=None,
                           payments: pd.DataFrame | None = None) -> ForecastResult:
    """Back-test, combine, select and forecast. ``models`` are instances or registry names (default all);
    ``payments`` are dated payment records (``invoice_id, payment_date, amount``) when the ledger has them."""
    as_of = check_inputs(ledger, as_of, horizon, freq)
    if models is None or all(isinstance(m, str) for m in models):
        models = build(models, scenario)
    known = known_at(ledger, as_of)
    n = len(receipts(known, freq, as_of, payments))
    min_train = SEASON[freq] if n >= SEASON[freq] + 2 * MIN_ORIGINS else max(8, n // 2)
    at = origins(known, freq, min_train=min_train)
    if len(at) < MIN_ORIGINS:
        raise UserError(f"the history up to {as_of.date()} has {n} complete periods; the back-test needs at least "
                        f"{8 + MIN_ORIGINS} (choose a later as-of date or a longer history)")
    # warm-up origins before the scored ones give the first scored origin a record of MIN_RECORD errors at
    # each horizon 1–4 to choose and calibrate from; they are not scored themselves
    warm = [o for o in origins(known, freq, min_train=max(8, min_train - MIN_RECORD - 4)) if o < at[0]]
    known_pay = None if payments is None else payments[payments["payment_date"] <= as_of]
    bt, skipped = run_backtest(known, models, freq, horizon, warm + at, payments=known_pay)
    if bt.empty:
        raise UserError(f"no model could be fitted on this history: {skipped}")
    bt = conformal_intervals(combine_backtest(bt), freq)
    history = History(ledger, as_of, freq, payments=payments)
    combo = Combination(models, bt)
    f, skipped_now = run([*models, combo], history, horizon)
    skipped.update(skipped_now)
    f = calibrate_forecast(f, bt, max(float(history.receipts.iloc[-LEVEL_PERIODS:].mean()), 1e-9), freq)
    bt = bt[bt["model"].isin(set(f["model"]))]  # only models that can forecast now are selectable
    bt = honest_selection(bt, freq, fallback=NAME)
    chosen = choose(bt, freq, history.as_of, list(dict.fromkeys(f["model"])), fallback=NAME)  # same rule, today
    bt = bt[bt["origin"] >= at[0]].reset_index(drop=True)
    s = with_confidence(summary(bt), bt)
    items = next((m.items(history, horizon) for m in models if isinstance(m, InvoiceLevel) and m.name in set(f["model"])), None)
    return ForecastResult(history.as_of, freq, horizon, history.receipts, f, bt, s, chosen, skipped, items,
                          honest=honest_scores(bt, s, freq, history.as_of))


def honest_scores(bt: pd.DataFrame, s: pd.DataFrame, freq: str, as_of) -> dict:
    """The selection rule's scores per band, its difference against the best simple baseline (with a paired
    bootstrap CI) and its track record over the last 13 periods."""
    rows = s[s["model"] == SELECTED].set_index("band")
    out = {"model": SELECTED, "bands": {b: {k: _clean(v) for k, v in r.items() if k != "model"} for b, r in rows.iterrows()}}
    base = best_simple(s[s["model"] != SELECTED])
    if base is not None:
        vs = {b: versus(bt, SELECTED, base, band) for b, band in BANDS.items()}
        out["versus_best_simple"] = {b: {k: _clean(v) for k, v in d.items()} for b, d in vs.items() if d}
    out["track_record"] = track_record(bt, freq, as_of)
    out["chosen_at_origins"] = bt.loc[bt["model"] == SELECTED].drop_duplicates("origin")["chosen"].value_counts().to_dict()
    return out


def _clean(v):
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and v != v else v

__all__ = ["ForecastResult", "forecast_with_backtest", "check_inputs", "NAME"]
