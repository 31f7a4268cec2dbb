"""Dunning fees and statutory late-payment interest (docs/model.md §2.17).

When the dunning run sends level k on an item and ``fees.levels`` has an entry for level k, the item is
charged (one fee receivable, :class:`~o2c_sim.sim.ledger.FeeBook`, linked to the item):

    fee = fixed (once per invoice when fees.fixed_once_per_invoice) + percent/100 · open
          + open · (reference_rate + interest_margin) · days / 365            (when interest)

where ``days`` runs from the due date (or the day interest was last charged on the item) to the
notice — simple interest on the overdue amount as in the EU Late Payment Directive 2011/7/EU
(Art. 2(6): reference rate + 8 points; Art. 6: a fixed compensation of 40 per invoice). As SAP F150
allows per level, a fee is charged only when the account's amount dunned at the level reaches
``min_amount`` and is at least ``min_percent`` % of the account's open balance. With currencies on,
``fixed`` and ``min_amount`` are in the reporting currency: the fee is charged in the item's currency
at the notice day's rate and the minimum compares the translated amounts. Amounts are rounded
to the cent (half away from zero).

A fee is a receivable of its own:

* **collected** when its item settles by payment: the payer pays the item's open fees with probability
  ``paid_with_invoice`` (keyed by the item and how many fees it carries, the same under every policy);
* **waived** by a collector: at each right-party contact an account's open fees are waived with
  probability ``waive_on_contact`` (keyed by account and contact day); fees on an item credited in full
  are waived;
* **written off** with their item (aged, insolvency, agency failure), or ``write_off_days`` after their
  item settled when the payer did not pay them.

While a fee is recent on an item (``hazard.effects.fee``) the item's payment hazard is multiplied; with
the default multiplier 1 a fee only adds a receivable and changes no payment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from o2c_sim.sim.currencies import comparable_cents
from o2c_sim.sim.ledger import to_cents

if TYPE_CHECKING:
    import pandas as pd


def late_payment_interest(overdue, annual_rate, days):
    """Simple interest on the overdue amount: overdue · annual_rate · days / 365 (the statutory
    day count of the EU Directive as transposed, e.g. the UK Late Payment of Commercial Debts Act).

    Worked example (Daniels Silverman's statutory-interest guide): 1,000 at 4 % + 8 % for 30 days.

    >>> round(float(late_payment_interest(1000.0, 0.12, 30)), 2)
    9.86
    """
    return np.asarray(overdue, float) * annual_rate * np.asarray(days, float) / 365.0


class Fees:
    def __init__(self, scenario):
        self.cfg = cfg = scenario.fees
        self.by_level = {f.level: f for f in cfg.levels}
        self.fixed_charged: set[int] = set()  # items that carry the once-per-invoice fixed fee
        self.interest_from: dict[int, int] = {}  # item -> day interest was last charged to
        self.fee_count: dict[int, int] = {}  # item -> fees charged so far
        self.decided = np.zeros(0, bool)  # fee row -> its item's settlement was looked at
        self.last_step = -1
        self._balance, self._balance_as_of = np.zeros(0), None  # accounts' open balances as of (day, ledger version)

    # ------------------------------------------------------------------------------ charging
    def charge(self, sim, d: int, items: np.ndarray, level: np.ndarray) -> None:
        """Fees on ``items`` just dunned at 1-based ``level`` on day ``d`` (see the module docstring)."""
        ledger, inv = sim.ledger, sim.inv
        if self._balance_as_of != (d, ledger.version):  # the dunning run's steps charge on an unchanged book
            open_all = sim.open_items()
            # minimum amounts compare in the reporting currency at today's rate (currencies.py)
            self._balance = np.bincount(inv.account[open_all], weights=comparable_cents(sim, open_all, d),
                                        minlength=len(sim.accounts)) / 100.0
            self._balance_as_of = (d, ledger.version)
        balance = self._balance
        rate = self.cfg.reference_rate + self.cfg.interest_margin
        for lv in np.unique(level).tolist():
            spec = self.by_level.get(int(lv))
            if spec is None:
                continue
            mine = items[level == lv]
            accounts = inv.account[mine]
            open_money = ledger.open[mine] / 100.0
            dunned = np.bincount(accounts, weights=comparable_cents(sim, mine, d) / 100.0, minlength=len(sim.accounts))
            ok = (dunned[accounts] >= spec.min_amount) & (dunned[accounts] * 100 >= spec.min_percent * balance[accounts])
            amount = open_money * spec.percent / 100.0
            if spec.fixed:
                fresh = np.array([i not in self.fixed_charged for i in mine.tolist()], bool) if self.cfg.fixed_once_per_invoice \
                    else np.ones(len(mine), bool)
                fixed = spec.fixed if sim.currencies is None else sim.currencies.from_reporting(spec.fixed, ledger.currency[mine], d)
                amount = amount + np.where(fresh & ok, fixed, 0.0)
                self.fixed_charged.update(mine[fresh & ok].tolist())
            if spec.interest:
                start = np.array([self.interest_from.get(i, due) for i, due in zip(mine.tolist(), inv.due_day[mine].tolist())])
                days = np.maximum(d - start, 0)
                amount = amount + late_payment_interest(open_money, rate, days)
            cents = to_cents(amount)
            charge = ok & (cents > 0)
            if spec.interest:  # interest below a cent keeps accruing to the next charge
                for i in mine[charge].tolist():
                    self.interest_from[i] = d
            if charge.any():
                ledger.fees.add(d, mine[charge], accounts[charge], cents[charge], np.full(charge.sum(), lv))
                inv.fee_day[mine[charge]] = d
                for i in mine[charge].tolist():
                    self.fee_count[i] = self.fee_count.get(i, 0) + 1

    # ----------------------------------------------------------------------------- settling
    def settle(self, sim, d: int) -> None:
        """Each business day after payments: collect, waive or write off fees as the module docstring says."""
        fb, ledger = sim.ledger.fees, sim.ledger
        if len(self.decided) < fb.n:
            self.decided = np.concatenate([self.decided, np.zeros(fb.n - len(self.decided), bool)])
        rows = np.flatnonzero(fb.open[: fb.n] > 0)
        if len(rows):
            # a collector's waiver at a right-party contact since the last step
            acct = fb.account[rows]
            contact = sim.account_state.last_contact_day[acct]
            recent = (contact >= self.last_step) & (contact < d)
            if recent.any():
                u = sim.keyed.uniform("fee_waiver", acct[recent], np.floor(contact[recent]).astype(np.int64))
                fb.settle(d, rows[recent][u < self.cfg.waive_on_contact], "waived")
            rows = rows[fb.open[rows] > 0]
            item = fb.invoice[rows]
            closed = ledger.open[item] == 0
            new = rows[closed & ~self.decided[rows]]
            self.decided[new] = True
            it = fb.invoice[new]
            written = ledger.written_off[it] > 0
            credited = (ledger.credited[it] > 0) & (ledger.paid[it] == 0) & ~written
            fb.settle(d, new[written], "written_off")
            fb.settle(d, new[credited], "waived")
            paid = new[~written & ~credited]
            if len(paid):
                pi = fb.invoice[paid]
                count = np.array([self.fee_count.get(i, 0) for i in pi.tolist()])
                u = sim.keyed.uniform("fee_paid", sim.inv.key[pi], sim.inv.generation[pi], count)
                ledger.pay_fees(d, paid[u < self.cfg.paid_with_invoice])
            # unpaid fees of a settled item are written off after write_off_days
            rows = rows[fb.open[rows] > 0]
            item = fb.invoice[rows]
            stale = (ledger.open[item] == 0) & (d - ledger.closed_day[item] >= self.cfg.write_off_days)
            fb.settle(d, rows[stale], "written_off")
        self.last_step = d


def fee_table(sim, ids) -> pd.DataFrame:
    """One row per fee: the item it was charged on, the account, day charged and where its money went."""
    import pandas as pd

    fb, n = sim.ledger.fees, sim.ledger.fees.n
    return pd.DataFrame({
        "invoice_id": ids.invoices.take(fb.invoice[:n]).to_pylist() if n else [],
        "charged_date": sim.cal.dates(fb.day[:n]).astype("datetime64[ns]"),
        "amount": fb.amount[:n] / 100.0, "paid": fb.paid[:n] / 100.0, "waived": fb.waived[:n] / 100.0,
        "written_off": fb.written_off[:n] / 100.0, "open": fb.open[:n] / 100.0,
    })
