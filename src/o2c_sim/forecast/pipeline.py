"""The forecast job: back-test every model on the history known at the as-of date, combine and select
by the back-test, then forecast the horizon with every model."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..errors import UserError
from .backtest import origins, run_backtest
from .combine import NAME, Combination, combine_backtest, select
from .invoice_level import InvoiceLevel
from .metrics import summary
from .models import Model, run
from .registry import build
from .series import SEASON, History, check_freq, history_end, known_at, receipts

MIN_ORIGINS = 4


@dataclass
class ForecastResult:
    as_of: pd.Timestamp
    freq: str
    horizon: int
    history: pd.Series  #: receipts per period up to the as-of date
    forecast: pd.DataFrame  #: period_start, model, mean, lo80, hi80, lo95, hi95
    backtest: pd.DataFrame
    summary: pd.DataFrame
    selected: str
    skipped: dict[str, str] = field(default_factory=dict)
    items: pd.DataFrame | None = None  #: invoice-level expected receipts, for gap analysis
    what_if: pd.DataFrame | None = None  #: simulated base vs what-if receipts (see forecast.simulation.what_if)


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
                           models: list[Model] | list[str] | None = None, scenario=None) -> ForecastResult:
    """Back-test, combine, select and forecast. ``models`` are instances or registry names (default all)."""
    as_of = check_inputs(ledger, as_of, horizon, freq)
    if models is None or all(isinstance(m, str) for m in models):
        models = build(models, scenario)
    known = known_at(ledger, as_of)
    n = len(receipts(known, freq, as_of))
    min_train = SEASON[freq] if n >= SEASON[freq] + 2 * MIN_ORIGINS else max(8, n // 2)
    at = origins(known, freq, min_train=min_train)
    if len(at) < MIN_ORIGINS:
        raise UserError(f"the history up to {as_of.date()} has {n} complete periods; the back-test needs at least "
                        f"{8 + MIN_ORIGINS} (choose a later as-of date or a longer history)")
    bt, skipped = run_backtest(known, models, freq, horizon, at)
    if bt.empty:
        raise UserError(f"no model could be fitted on this history: {skipped}")
    bt = combine_backtest(bt)
    history = History(ledger, as_of, freq)
    combo = Combination(models, bt)
    f, skipped_now = run([*models, combo], history, horizon)
    skipped.update(skipped_now)
    bt = bt[bt["model"].isin(set(f["model"]))]  # only models that can forecast now are selectable
    chosen = select(bt)
    items = next((m.items(history, horizon) for m in models if isinstance(m, InvoiceLevel) and m.name in set(f["model"])), None)
    return ForecastResult(history.as_of, freq, horizon, history.receipts, f, bt, summary(bt), chosen, skipped, items)


__all__ = ["ForecastResult", "forecast_with_backtest", "check_inputs", "NAME"]
