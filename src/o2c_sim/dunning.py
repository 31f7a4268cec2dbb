"""The daily dunning run (as SAP's F150), vectorised over all open items.

Each business day, for every open item that collection may act on (no open dispute, not in a plan or
with the agency, no promise to pay pending on the account):

* the item's next step *k* is due when ``days past due ≥ steps[k].days_past_due`` (negative = a
  pre-due reminder); one level per run, never skipping a level;
* items are grouped per account into one notice per step; an account is dunned only when its past-due
  balance reaches ``dunning.min_amount`` (pre-due reminders: the item's amount does);
* an account's payer responds to a notice with probability ``response_rate × letter_sensitivity``:
  it pays the items in the notice within ``response_window_days`` (uniform), or by the due date for a
  pre-due reminder. Payers who never pay unless reached by a person (silent) ignore notices.

A segment with ``dunning_steps`` uses its own cadence.
"""

from __future__ import annotations

import numpy as np


def cadence(sim, segment: int):
    spec = sim.scenario.portfolio.segments[segment]
    return spec.dunning_steps if spec.dunning_steps is not None else sim.scenario.dunning.steps


def run(sim, d: int) -> None:
    cfg, inv, ledger = sim.scenario.dunning, sim.inv, sim.ledger
    idx = sim.open_items()
    idx = idx[sim.actionable(idx, d)]
    acct = inv.account[idx]
    idx = idx[sim.acct.ptp_day[acct] < d]
    if len(idx) == 0:
        return
    dpd = d - inv.due_day[idx]
    past_due_balance = sim.account_sum(idx[dpd > 0], ledger.open[idx[dpd > 0]].astype(float)) / 100.0
    response_draw = sim.rng.dunning.random(len(sim.acc))  # one draw per account per run
    window = sim.rng.dunning.integers(1, cfg.response_window_days + 1, len(sim.acc))
    for s in np.unique(inv.segment[idx]):
        steps = cadence(sim, int(s))
        if not steps:
            continue
        days = np.array([st.days_past_due for st in steps] + [10**9])
        rates = np.array([st.response_rate for st in steps]) * sim.seg_letter[s]
        mine = inv.segment[idx] == s
        items, item_dpd = idx[mine], dpd[mine]
        level = inv.level[items].astype(np.int64)
        due_step = item_dpd >= days[level]
        a = inv.account[items]
        enough = np.where(item_dpd > 0, past_due_balance[a] >= cfg.min_amount, ledger.amount[items] / 100.0 >= cfg.min_amount)
        send = items[due_step & enough]
        if len(send) == 0:
            continue
        step = inv.level[send].astype(np.int64)
        inv.level[send] += 1
        acc_send = inv.account[send]
        sim.ledger.log.record(d, "dunning", send, acc_send, ledger.open[send], step)
        respond = (response_draw[acc_send] < rates[step]) & ~sim.acc.silent[acc_send]
        r = send[respond]
        pre_due = d - inv.due_day[r] <= 0
        new_day = np.where(pre_due, inv.due_day[r], d + window[inv.account[r]])
        inv.pay_day[r] = np.minimum(inv.pay_day[r], sim.cal.next_busday(new_day).astype(float))
