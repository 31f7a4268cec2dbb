"""Credit holds: billing of an account over its credit limit or with items too long past due is held
(docs/model.md §2.19).

Each business day before billing, an account of the rule's segments is *on hold* when its open balance
exceeds its credit limit (``over_limit``; limit = ``credit_limit_months`` × expected monthly billing,
:mod:`o2c_sim.sim.portfolio`) or one of its open items is ``max_days_past_due`` or more days past due; it is
released on the first business day neither holds. While on hold:

* its new invoices (sales) are not issued: each keeps its keyed identity (sequence number, hence its
  resistance and other keyed draws) and is issued, dated that day, on the day the hold is released —
  corrected invoices (rebills) are not sales and are never held; sales of an account that fails while
  held are cancelled;
* its items' payment hazard is multiplied by ``hazard.effects.credit_hold`` (the customer needs the
  goods: a hold is a strong collection lever; Dun & Bradstreet and credit-management texts list the
  order block as the last step before the agency).

Reported: sales held and released (money, count), holds placed and released, the mean days a held sale
waited, and the holds' cost as financing of delayed billing: Σ amount × days held × cost of capital / 365.
"""

from __future__ import annotations

import numpy as np

from o2c_sim.sim.currencies import comparable_cents
from o2c_sim.kpis import delay_cost
from o2c_sim.sim.ledger import to_cents


class CreditHolds:
    def __init__(self, scenario, accounts):
        cfg = scenario.credit_holds
        names = [s.name for s in scenario.portfolio.segments]
        segs = [names.index(s) for s in cfg.segments] if cfg.segments else list(range(len(names)))
        self.cfg = cfg
        self.eligible = np.isin(accounts.segment, segs)
        self.limit_cents = to_cents(accounts.credit_limit)
        self.on_hold = np.zeros(len(accounts.segment), bool)
        self.held: list[tuple[int, float, int, int]] = []  # (account, amount, key, day held)
        self.waits: list[tuple[float, int, int]] = []  # released sales: (amount, day held, day released)

    def update(self, sim, d: int) -> None:
        """Place and release holds on the morning of business day ``d``."""
        idx = sim.open_items()
        n = len(self.on_hold)
        accounts = sim.inv.account[idx]
        reason = np.zeros(n, bool)
        if self.cfg.over_limit:
            balance = np.bincount(accounts, weights=comparable_cents(sim, idx, d), minlength=n)  # limit: reporting currency
            reason |= balance > self.limit_cents
        if self.cfg.max_days_past_due is not None:
            old = idx[d - sim.inv.due_day[idx] >= self.cfg.max_days_past_due]
            reason[sim.inv.account[old]] = True
        now = reason & self.eligible & sim.accounts.active
        placed, released = np.flatnonzero(now & ~self.on_hold), np.flatnonzero(~now & self.on_hold)
        sim.ledger.log.record(d, "credit_hold", -1, placed, 0)
        sim.ledger.log.record(d, "credit_release", -1, released, 0)
        self.on_hold = now

    def bill(self, sim, d: int, accounts: np.ndarray, amounts: np.ndarray, keys: np.ndarray):
        """Today's new sales less those of held accounts, plus the held sales released today."""
        self.update(sim, d)
        hold = self.on_hold[accounts]
        held = (accounts[hold].tolist(), amounts[hold].tolist(), keys[hold].tolist())
        for a, amt, k, cents in zip(*held, to_cents(amounts[hold]).tolist()):
            self.held.append((a, amt, k, d))
            sim.ledger.log.record(d, "sales_held", -1, a, cents)
        keep = ~hold
        accounts, amounts, keys = accounts[keep], amounts[keep], keys[keep]
        waiting = np.array([item[0] for item in self.held], np.int64)
        active = sim.accounts.active[waiting].tolist()
        stays = (self.on_hold[waiting] & sim.accounts.active[waiting]).tolist()
        released = [(item, live) for item, live, stay in zip(self.held, active, stays) if not stay]
        self.held = [item for item, stay in zip(self.held, stays) if stay]
        out = [(a, amt, k) for (a, amt, k, _), live in released if live]
        cents = to_cents([amt for (_, amt, _, _), _ in released]).tolist()
        for ((a, amt, k, day), live), c in zip(released, cents):
            if live:
                self.waits.append((amt, day, d))
                sim.ledger.log.record(d, "sales_released", -1, a, c)
        if out:
            ra, ramt, rk = (np.array(x) for x in zip(*out))
            accounts = np.concatenate([accounts, ra.astype(np.int64)])
            amounts = np.concatenate([amounts, ramt.astype(float)])
            keys = np.concatenate([keys, rk.astype(np.int64)])
        return accounts, amounts, keys

    def summary(self, first_day: int, cost_of_capital: float) -> dict[str, float]:
        """Released sales' wait and its financing cost (sales released on or after ``first_day``)."""
        waits = [(amt, rel - held) for amt, held, rel in self.waits if rel >= first_day]
        days = np.array([w for _, w in waits], float)
        money = np.array([a for a, _ in waits], float)
        return {
            "hold_wait_days": float(days.mean()) if len(days) else float("nan"),
            "hold_cost": delay_cost(money, days, cost_of_capital),
        }
