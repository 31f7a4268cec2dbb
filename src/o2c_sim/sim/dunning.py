"""The daily dunning run (as SAP's F150), vectorised over all open items.

Each business day, for every open item that collection may act on (no open dispute, not in a plan or
with the agency, no promise to pay on the account still waiting to be judged kept or broken):

* the item's next step *k* is due when ``days past due ≥ steps[k].days_past_due`` (negative = a
  pre-due reminder); one level per run, never skipping a level;
* items are grouped per account into one notice per step; an account is dunned only when its past-due
  balance reaches ``dunning.min_amount`` (pre-due reminders: the item's amount does);
* a notice draws no response of its own: it marks the item's notice of that level as recent, which
  multiplies the payer's hazard by the level's ``hazard.effects.notice`` multiplier for its window
  (:mod:`o2c_sim.sim.payers`).

A segment with ``dunning_steps`` uses its own cadence, and a team with ``dunning_steps``
(``teams.desks[].dunning_steps``) its own for the accounts it serves. With ``fees.enabled`` a level may charge a fee
and late-payment interest on each item it duns (:mod:`o2c_sim.sim.fees`).
"""

from __future__ import annotations

import numpy as np

from o2c_sim.sim.currencies import comparable_cents


class Dunning:
    """The dunning run of one simulation, owning ``scenario.dunning`` and, when teams have cadences of
    their own, which team's cadence each account follows."""

    def __init__(self, sim):
        sc = sim.scenario
        self.sim, self.cfg, self.scenario = sim, sc.dunning, sc
        #: per account, the team whose own cadence it follows (−1: its segment's); None when no team has one
        self.desk = None
        if sim.teams is not None and any(d.dunning_steps is not None for d in sc.teams.desks):
            own = np.array([d.dunning_steps is not None for d in sc.teams.desks] + [False])
            self.desk = np.where(own[sim.teams.desk], sim.teams.desk, -1)

    def cadence(self, segment: int, desk: int = -1):
        """The dunning steps of an account of ``segment`` served by team ``desk`` (−1: none, or no cadence of its
        own): the team's, else the segment's, else ``dunning.steps``."""
        if desk >= 0 and self.scenario.teams.desks[desk].dunning_steps is not None:
            return self.scenario.teams.desks[desk].dunning_steps
        spec = self.scenario.portfolio.segments[segment]
        return spec.dunning_steps if spec.dunning_steps is not None else self.cfg.steps

    def steps_due(self, accounts: np.ndarray, segments: np.ndarray, due: np.ndarray) -> np.ndarray:
        """Per item: how many of its account's pre-due steps (days past due ≤ −1 − days before due) fall
        before day 0 — the level an item carried in without one starts at."""
        desk = np.full(len(accounts), -1) if self.desk is None else self.desk[accounts]
        return np.array([sum(st.days_past_due <= -1 - dd for st in self.cadence(s, t)) for dd, s, t in zip(due, segments, desk)],
                        dtype=np.int64)

    def run(self, d: int) -> None:
        """Today's notices (see the module docstring)."""
        if not self.cfg.enabled:
            return
        sim, cfg = self.sim, self.cfg
        inv, ledger = sim.inv, sim.ledger
        idx = sim.open_items()
        idx = idx[sim.actionable(idx, d)]
        idx = idx[~sim.account_state.ptp_open[inv.account[idx]]]
        if len(idx) == 0:
            return
        dpd = d - inv.due_day[idx]
        # with currencies, balances and minimum amounts compare in the reporting currency at today's rate
        past_due_balance = sim.account_sum(idx[dpd > 0], comparable_cents(sim, idx[dpd > 0], d).astype(float)) / 100.0
        desk, width = self.desk, len(self.scenario.teams.desks) + 1
        # one cadence per segment, or per (segment, team) when teams have their own
        group = inv.segment[idx] if desk is None else inv.segment[idx] * width + desk[inv.account[idx]] + 1
        for g in np.unique(group):
            s = int(g) if desk is None else int(g) // width
            steps = self.cadence(s, -1 if desk is None else int(g) % width - 1)
            if not steps:
                continue
            days = np.array([st.days_past_due for st in steps] + [10**9])
            mine = group == g
            items, item_dpd = idx[mine], dpd[mine]
            level = inv.level[items].astype(np.int64)
            due_step = item_dpd >= days[level]
            a = inv.account[items]
            enough = np.where(item_dpd > 0, past_due_balance[a] >= cfg.min_amount,
                              comparable_cents(sim, items, d, ledger.amount[items]) / 100.0 >= cfg.min_amount)
            send = items[due_step & enough]
            if len(send) == 0:
                continue
            step = inv.level[send].astype(np.int64)
            inv.level[send] += 1
            ledger.log.record(d, "dunning", send, inv.account[send], ledger.open[send], step)
            column = sim.payers.tables.notice_column(np.full(len(send), s, np.int64), step + 1)
            inv.notice_day[send, column] = d
            if sim.fees is not None:
                sim.fees.charge(sim, d, send, step + 1)
