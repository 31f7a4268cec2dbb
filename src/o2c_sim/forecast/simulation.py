"""The simulation forecast and *what-if* cash: the SimPy model warm-started from the open items known
on the as-of date (:mod:`o2c_sim.warmstart`), run as a Monte Carlo; the replications' percentiles
are the prediction intervals.

The scenario is the one given, or — by default — one calibrated from the history known at the
origin (:func:`o2c_sim.calibration.calibrate`), each customer keeping the segment it was fitted to.
A what-if runs the same replications (common random numbers) with overrides such as
``team.collectors=+2``; the per-period difference and its interval come from the paired replications.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import UserError
from .base import CannotFit, Model, frame
from .series import FREQS, History, period_start


def calibrated_inputs(history: History, scenario=None):
    """(scenario, known ledger with a ``segment`` column) for a warm start at ``history.as_of``."""
    known = history.known
    if scenario is not None:
        return scenario, known
    from ..calibration import calibrate

    try:
        cal = calibrate(known, name="calibrated_at_origin")
    except UserError as err:
        raise CannotFit(f"could not calibrate a scenario from the history: {err}") from None
    latest = cal.history.sort_values("invoice_date").groupby("customer_id")["segment"].last()
    return cal.scenario, known.assign(segment=known["customer_id"].map(latest).fillna(""))


def warm_start_receipts(scenario, table: pd.DataFrame, as_of, days: int, replications: int,
                        seed: int | None = None) -> pd.DataFrame:
    """Monte Carlo daily cash receipts after ``as_of`` from a simulation warm-started on ``table``'s open
    items: columns ``replication, date, receipts`` (``days`` days per replication)."""
    from ..model import simulate
    from ..warmstart import opening_book

    if days < 1:
        raise UserError(f"the simulation horizon must be at least one day, got {days}")
    book = opening_book(table, as_of, scenario)
    horizon = scenario.with_overrides({"horizon_days": max(int(days), 30)})
    frames = []
    for r in range(replications):
        daily = simulate(horizon, r, seed=seed, opening=book).daily.iloc[:days]
        frames.append(pd.DataFrame({"replication": r, "date": daily["date"], "receipts": daily["cash"]}))
    return pd.concat(frames, ignore_index=True)


def receipts_by_period(history: History, horizon: int, scenario, table, replications: int, overrides=None) -> pd.DataFrame:
    """Replications × periods of simulated receipts after ``history.as_of``."""
    if overrides:
        scenario = scenario.with_overrides(overrides)
    days = horizon * FREQS[history.freq]
    sims = warm_start_receipts(scenario, table, history.as_of, days, replications)
    per = sims.assign(period_start=period_start(pd.to_datetime(sims["date"]), history.freq))
    per = per.groupby(["replication", "period_start"])["receipts"].sum().unstack(fill_value=0.0)
    return per.reindex(columns=history.future(horizon), fill_value=0.0)


def _bands(per: pd.DataFrame) -> pd.DataFrame:
    q = per.quantile([0.025, 0.1, 0.9, 0.975])
    return frame(per.columns, per.mean(), lo80=q.loc[0.1], hi80=q.loc[0.9], lo95=q.loc[0.025], hi95=q.loc[0.975])


class SimulationModel(Model):
    """Monte Carlo receipts from the simulator started on the as-of date's open items."""

    name = "simulation"

    def __init__(self, scenario=None, replications: int = 30):
        self.scenario, self.replications = scenario, replications

    def forecast(self, history: History, horizon: int) -> pd.DataFrame:
        scenario, table = calibrated_inputs(history, self.scenario)
        return _bands(receipts_by_period(history, horizon, scenario, table, self.replications))


def what_if(history: History, horizon: int, overrides, scenario=None, replications: int = 30) -> pd.DataFrame:
    """Base and what-if simulated receipts per period, with the paired difference and its 95 % interval.

    Columns: period_start, base, what_if, difference, diff_lo95, diff_hi95 (Student-t over the paired
    replications).
    """
    from scipy import stats

    if not overrides:
        raise UserError("a what-if needs at least one override, e.g. team.collectors=+2")
    scenario, table = calibrated_inputs(history, scenario)
    base = receipts_by_period(history, horizon, scenario, table, replications)
    alt = receipts_by_period(history, horizon, scenario, table, replications, overrides)
    diff = alt - base
    n = len(diff)
    half = stats.t.ppf(0.975, max(n - 1, 1)) * diff.std(ddof=1) / np.sqrt(n) if n > 1 else diff.mean() * np.nan
    return pd.DataFrame({
        "period_start": diff.columns, "base": base.mean().to_numpy(), "what_if": alt.mean().to_numpy(),
        "difference": diff.mean().to_numpy(), "diff_lo95": (diff.mean() - half).to_numpy(),
        "diff_hi95": (diff.mean() + half).to_numpy(),
    })
