"""The simulation forecast and *what-if* cash: the SimPy model warm-started from the open items known
on the as-of date (:mod:`o2c_sim.calibration.warmstart`), run as a Monte Carlo; the replications' percentiles
are the prediction intervals.

The scenario is the one given, or — by default — one calibrated from the history known at the
origin (:func:`o2c_sim.calibration.scenario_fit.calibrate`), each customer keeping the segment it was fitted to.
A what-if runs the same replications (common random numbers) with overrides such as
``team.collectors=+2``; the per-period difference and its interval come from the paired replications.

What a what-if on collection *effort* (``team.*``, ``strategy.*``, ``dunning.*``, ``work.*``,
``payment_plans.*``) may rest on (docs/model.md §9.6, :class:`WhatIfBasis`):

* **with an activity log** the scenario is calibrated from the log known at the origin
  (:func:`o2c_sim.calibration.scenario_fit.calibrate_activities`: action effects, cadence, contact rate) and the base
  case is the team as it was — the headcount given, else the log's call volume in busy collectors
  (a lower bound) — so the historical effort is simulated, not assumed inside the delays;
* **from payment history alone** the calibrated scenario has collection switched off, because the
  history's delays already contain the chasing they received and cannot be split into habit and
  effect: an effort what-if is refused (:class:`o2c_sim.errors.UserError`) rather than answered by
  adding assumed effects on top of effort already counted. A scenario given explicitly is used as is,
  each effect's source named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from o2c_sim.errors import UserError
from o2c_sim.forecast.base import CannotFit, Model, frame
from o2c_sim.forecast.series import FREQS, History, period_start


#: override prefixes that change the collection effort (not the payers, not the book)
EFFORT = ("team.", "strategy.", "dunning.", "work.", "payment_plans.")
NO_EFFORT_FROM_HISTORY = (
    "a what-if on collection effort ({keys}) cannot be answered from payment history alone: the history's "
    "payment delays already contain the reminders and calls they received, and an invoice table does not say "
    "which, so the calibrated scenario has collection switched off and any effect added on top would count "
    "the old effort twice. Give the team's activity log (--activities LOG [--activity-mapping M]) so that "
    "the action effects are estimated and the team as it was is simulated, or --scenario S with effects you "
    "state yourself; a what-if that does not change effort (e.g. portfolio.accounts) needs neither.")


def override_keys(overrides) -> list[str]:
    """The dotted paths of overrides given as a mapping or as ``KEY=VALUE`` strings."""
    if isinstance(overrides, dict):
        return [str(k) for k in overrides]
    return [str(o).split("=", 1)[0].strip() for o in overrides or ()]


@dataclass
class WhatIfBasis:
    """What a warm-started simulation and its what-ifs run on: the scenario, the known ledger (with a
    ``segment`` column), where the payer behaviour came from (``source``: ``"activity log"``, ``"payment
    history"`` or ``"scenario"``), how the base case's headcount was set, and the calibration's notes."""

    scenario: object
    table: pd.DataFrame
    source: str
    headcount: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def effort_identified(self) -> bool:
        """False for a scenario whose payer hazard was fitted to payment history only (collection off)."""
        return self.source != "payment history"

    def check(self, overrides) -> None:
        """Refuse an effort what-if the basis cannot answer (:data:`NO_EFFORT_FROM_HISTORY`)."""
        effort = [k for k in override_keys(overrides) if k.startswith(EFFORT)]
        if effort and not self.effort_identified:
            raise UserError(NO_EFFORT_FROM_HISTORY.format(keys=", ".join(effort)))

    def effect_sources(self) -> list[tuple[str, float, str]]:
        """(action, multiplier, where it came from) for the first segment's hazard (the fit pools effects
        over segments): "estimated …" with the interval and source from the scenario's provenance, else
        "assumed …" (the base scenario's value, docs/model.md §2.2)."""
        seg = self.scenario.portfolio.segments[0]
        h = seg.behaviour.hazard
        terms = [(f"notice level {k + 1}", f"effects.notice.{k}.multiplier", e.multiplier)
                 for k, e in enumerate(h.effects.notice)]
        terms += [(name, f"effects.{name}.multiplier", getattr(h.effects, name).multiplier)
                  for name in ("contact", "promise", "fee", "agency")]
        terms.append(("disputed on receipt", "disputed_multiplier", h.disputed_multiplier))
        out = []
        for label, suffix, value in terms:
            prov = self.scenario.provenance.get(f"portfolio.segments.{seg.name}.behaviour.hazard.{suffix}")
            if prov is not None and prov.ci95:
                lo, hi = prov.ci95
                out.append((label, value, f"estimated, 95 % CI [{lo:.2f}, {hi:.2f}] ({prov.source})"))
            else:
                out.append((label, value, "assumed: the base scenario's value, not identified by the data"))
        return out

    def describe(self) -> list[str]:
        """Plain lines for the forecast output: what the what-if rests on and where each effect came from."""
        sc = self.scenario
        if not self.effort_identified:
            return ["what-if basis: payment history only; collection is switched off because the history's "
                    "effort is already in its payment delays, so no action effect is simulated and a what-if "
                    "on effort is not answered (give --activities LOG)"]
        team = "the team as it was" if self.source == "activity log" else "the scenario's team"
        lines = [f"what-if basis: {self.source}; base case = {team}: {sc.team.collectors} collector(s) "
                 f"({self.headcount}), strategy {sc.strategy.prioritisation}, notices at days past due "
                 f"{[s.days_past_due for s in sc.dunning.steps] if sc.dunning.enabled else 'none (dunning off)'}"]
        lines += [f"  {label:<20} x{value:<7.2f} {where}" for label, value, where in self.effect_sources()]
        lines += [f"  note: {n}" for n in self.notes]
        return lines


def scenario_source(scenario) -> str:
    """Where a scenario's payer behaviour came from, by its provenance: ``"payment history"`` (fitted to an
    invoice table, collection off; also for ``None``, the default calibration), ``"activity log"`` or
    ``"scenario"`` (stated values, e.g. the shipped defaults)."""
    if scenario is None:
        return "payment history"
    sources = [p.source for p in scenario.provenance.values()]
    if any("activity log" in s for s in sources):
        return "activity log"
    return "payment history" if any(s.startswith("invoice history") for s in sources) else "scenario"


def what_if_basis(history: History, scenario=None, *, activities: pd.DataFrame | None = None,
                  collectors: int | None = None) -> WhatIfBasis:
    """The :class:`WhatIfBasis` at ``history.as_of``: calibrated from the activity log known then (with
    ``scenario`` — default the shipped baseline — as the base for what the log cannot identify), else
    ``scenario`` as given, else calibrated from the payment history (collection off). ``collectors``
    states the team's headcount; without it the log's call volume gives it (:func:`log_headcount`)."""
    known = history.known
    if activities is not None:
        return _from_log(history, activities, scenario, collectors)
    if scenario is not None:
        if collectors is not None:
            scenario = scenario.with_overrides({"team.collectors": collectors})
        return WhatIfBasis(scenario, known, scenario_source(scenario), headcount="the scenario's")
    from o2c_sim.calibration.scenario_fit import calibrate

    try:
        cal = calibrate(known, name="calibrated_at_origin")
    except UserError as err:
        raise CannotFit(f"could not calibrate a scenario from the history: {err}") from None
    latest = cal.history.sort_values("invoice_date").groupby("customer_id")["segment"].last()
    return WhatIfBasis(cal.scenario, known.assign(segment=known["customer_id"].map(latest).fillna("")),
                       "payment history", headcount="none: collection switched off")


def log_headcount(process_report: dict) -> tuple[int, str]:
    """Collectors from the log's call volume: ⌈busy-collector equivalent⌉ (calls a day × minutes a call ÷
    productive minutes, :func:`o2c_sim.calibration.process_fit.fit_process`) — a lower bound, since the log does not
    say how busy the team was; 0 when the log has no calls."""
    busy = process_report.get("busy_collectors_equivalent")
    if not busy:
        return 0, "the log has no call attempts, so no collectors"
    return max(1, math.ceil(busy - 1e-9)), (f"estimated from the log's call volume: {busy:.2f} busy collectors, "
                                            "a lower bound; state it with team.collectors=N")


def _from_log(history: History, activities: pd.DataFrame, scenario, collectors: int | None) -> WhatIfBasis:
    from o2c_sim.calibration.scenario_fit import calibrate_activities
    from o2c_sim.scenario import load_scenario

    base = scenario if scenario is not None else load_scenario("baseline")
    log = activities[pd.to_datetime(activities["date"]) <= history.as_of]
    known = history.known
    ids = set(log["item_id"].astype(str))
    invoices = known[known["invoice_id"].astype(str).isin(ids)] if "invoice_id" in known else None
    try:
        cal = calibrate_activities(log, invoices if invoices is not None and len(invoices) else None,
                                   base=base, name="calibrated_from_log_at_origin")
    except UserError as err:
        raise UserError(f"could not calibrate from the activity log up to {history.as_of.date()}: {err}") from None
    if collectors is None:
        collectors, how = log_headcount(cal.process.report)
    else:
        how = "as stated"
    sc = cal.scenario.with_overrides({"team.collectors": int(collectors)})
    seg = cal.items.drop_duplicates("customer_id").set_index("customer_id")["segment"]
    return WhatIfBasis(sc, known.assign(segment=known["customer_id"].astype(str).map(seg).fillna("")),
                       "activity log", headcount=how, notes=list(cal.notes))


def calibrated_inputs(history: History, scenario=None):
    """(scenario, known ledger with a ``segment`` column) for a warm start at ``history.as_of``."""
    basis = what_if_basis(history, scenario)
    return basis.scenario, basis.table


def warm_start_receipts(scenario, table: pd.DataFrame, as_of, days: int, replications: int,
                        seed: int | None = None) -> pd.DataFrame:
    """Monte Carlo daily cash receipts after ``as_of`` from a simulation warm-started on ``table``'s open
    items: columns ``replication, date, receipts`` (``days`` days per replication)."""
    from o2c_sim.sim.model import simulate
    from o2c_sim.calibration.warmstart import opening_book

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


def what_if(history: History, horizon: int, overrides, scenario=None, replications: int = 30, *,
            basis: WhatIfBasis | None = None) -> pd.DataFrame:
    """Base and what-if simulated receipts per period, with the paired difference and its 95 % interval.

    ``basis`` (default :func:`what_if_basis` of ``history`` and ``scenario``) decides what the base case
    is and refuses an effort what-if it cannot answer. Columns: period_start, base, what_if, difference,
    diff_lo95, diff_hi95 (Student-t over the paired replications).
    """
    from scipy import stats

    if not overrides:
        raise UserError("a what-if needs at least one override, e.g. team.collectors=+2")
    basis = basis or what_if_basis(history, scenario)
    basis.check(overrides)
    scenario, table = basis.scenario, basis.table
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
