"""Credit balances and refunds (docs/model.md §2.23), switched on by ``refunds.enabled``.

A customer's credit balance arises

* from a **duplicate payment**: a share ``duplicate_payment_rate`` of full payments with remittance is
  paid twice (keyed by the item and its payment number, the same under every policy);
* from a **dispute credit on a part already paid**: a credit-and-rebill credits the whole invoice and a
  partial credit ``partial_credit_share`` of what was not yet credited or written off, first from the
  open amount, the rest from what was paid, whose cash goes to the credit balance
  (:func:`credit_invoice`);
* from **suspense cash** that no longer fits its invoice when a clerk matches it (§2.11).

With ``apply_to_open_items`` each business morning an account's balance settles its open items
(oldest due first, items with an open dispute, in a plan or with the agency skipped); what is left is
**refunded**: a request waits ``approval_days`` (calendar) for approval, then joins the refund
clerks' first-come-first-served queue and takes ``handling_minutes``. The refund pays out whatever
balance the account has then. SLA met when the refund is paid within ``sla_business_days`` business
days of the balance arising.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from o2c_sim.sim.workforce import FifoQueue


class Refunds:
    """The refund queue of one simulation: who holds a credit balance since when, and the requests."""

    def __init__(self, sim):
        self.sim = sim
        self.cfg = sim.scenario.refunds
        self.queue = FifoQueue()
        self.since: dict[int, float] = {}  # account -> time its credit balance arose
        self.requested: set[int] = set()  # accounts whose refund is waiting for approval or a clerk
        self.paid: list[tuple[int, float, float, int]] = []  # (account, arose, refunded, cents)
        sim.ledger.credit_hook = self.arise

    def arise(self, time: float, account: int) -> None:
        """A credit balance arose or grew: refund it, or leave it for tomorrow's application."""
        self.since.setdefault(account, time)
        if not self.cfg.apply_to_open_items:
            self.request(time, account)

    def request(self, time: float, account: int) -> None:
        if account not in self.requested:
            self.requested.add(account)
            self.sim.env.process(self._approval(account))

    def _approval(self, account: int):
        if self.cfg.approval_days > 0:
            yield self.sim.env.timeout(self.cfg.approval_days)
        self.queue.put(self.sim.env.now, self.cfg.handling_minutes, lambda now: self._pay(account, now))

    def _pay(self, account: int, now: float) -> None:
        self.requested.discard(account)
        cents = self.sim.ledger.refund(now, account)
        if cents:
            self.paid.append((account, self.since.pop(account), now, cents))

    def morning(self, d: int) -> None:
        """Apply credit balances to the accounts' open items; request a refund of what is left."""
        sim, ledger = self.sim, self.sim.ledger
        if not ledger.credit_balance:
            return
        if self.cfg.apply_to_open_items:
            holders = np.array(sorted(ledger.credit_balance), np.int64)
            idx = sim.open_items()
            idx = idx[np.isin(sim.inv.account[idx], holders)]
            idx = idx[sim.actionable(idx, d)]
            idx = idx[np.lexsort((idx, sim.inv.due_day[idx], sim.inv.account[idx]))]  # per account, oldest due first
            for i, account in zip(idx.tolist(), sim.inv.account[idx].tolist()):
                left = ledger.credit_balance.get(account, 0)
                if left:
                    ledger.apply_credit(d, account, i, min(left, int(ledger.open[i])))
                    if account not in ledger.credit_balance:
                        self.since.pop(account, None)
        for account in sorted(ledger.credit_balance):
            self.request(float(d), account)

    def _reporting(self, cents, accounts, day) -> np.ndarray:
        """Money (not cents) in the reporting currency: with currencies on, at ``day``'s rate of each account's currency."""
        fx = self.sim.currencies
        cents = np.asarray(cents, float)
        return (cents if fx is None else fx.reporting(cents, fx.account[np.asarray(accounts, np.int64)], day)) / 100.0

    def table(self, cal) -> pd.DataFrame:
        """One row per refund paid: account, day the balance arose, day refunded, amount (in the
        reporting currency on the day refunded), SLA met."""
        rows = np.array(self.paid, dtype=float).reshape(-1, 4)
        account, arose, refunded = rows[:, 0].astype(np.int64), rows[:, 1], rows[:, 2]
        return pd.DataFrame({
            "account": account, "arose": arose, "refunded": refunded,
            "amount": self._reporting(rows[:, 3], account, np.floor(refunded)), "days": refunded - arose,
            "sla_met": cal.busdays_between(np.floor(arose), np.floor(refunded)) <= self.cfg.sla_business_days,
        })

    def summary(self, money, w0: int, end: float, cal) -> dict[str, float]:
        """The run KPIs of refunds over the measurement window (days ≥ ``w0``) and at its end;
        ``money(kind)`` sums the window's events of a kind."""
        table = self.table(cal)
        table = table[table["refunded"] >= w0]
        balances = self.sim.ledger.credit_balance
        ages = np.array([end - self.since[a] for a in balances]) if balances else np.array([])
        return {
            "refunds_paid": float(table["amount"].sum()), "refunds_count": int(len(table)),
            "refund_days": float(table["days"].mean()) if len(table) else float("nan"),
            "refund_sla_pct": float(table["sla_met"].mean() * 100) if len(table) else float("nan"),
            "duplicate_payments": money("overpayment"), "credits_applied": money("credit_applied"),
            "credit_balances_open": float(self._reporting(list(balances.values()), list(balances), int(end)).sum()),
            "credit_balance_age_days": float(ages.mean()) if len(ages) else float("nan"),
        }


def credit_invoice(sim, i: int, cents: int, now: float, *, detail: int) -> None:
    """A credit note of ``cents`` on invoice ``i``: from its open amount first; with refunds on, the
    rest from what was paid (that cash becomes the customer's credit balance)."""
    ledger, a = sim.ledger, int(sim.inv.account[i])
    from_open = min(cents, int(ledger.open[i]))
    ledger.credit(now, i, from_open, a, detail=detail)
    rest = min(cents - from_open, int(ledger.paid[i])) if sim.refunds is not None else 0
    if rest > 0:
        ledger.reverse_payment(now, i, rest, a, detail=detail)


def creditable(sim, i: int) -> int:
    """What a dispute may credit on invoice ``i``: its open amount, and with refunds on also what was
    paid (amount − credited − written off)."""
    ledger = sim.ledger
    if sim.refunds is None:
        return int(ledger.open[i])
    return int(ledger.amount[i] - ledger.credited[i] - ledger.written_off[i])
