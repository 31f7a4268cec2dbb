"""Warm start: begin a simulation from the open items of a real ledger as of a date.

The run's first day is the day after ``as_of``; there is no warm-up. Each customer of the ledger
becomes an account (its segment taken from the ledger's ``segment`` column where it names a scenario
segment, otherwise assigned by the segment shares from a stable hash of the customer id). Each item
open on ``as_of`` — issued by then and not settled by then — is carried in with:

* its open amount on ``as_of``: the full amount if it was settled later, else amount − paid −
  credited − written off;
* its invoice and due dates (ages), its dunning level from a ``dunning_level`` column if the ledger
  has one, otherwise the number of the cadence's steps already due on ``as_of``;
* an open dispute if it is disputed and the dispute was not resolved by ``as_of``;
* a fresh Exp(1) resistance and no hazard accumulated (:mod:`o2c_sim.payers`): given that it was not
  paid by ``as_of``, an exponential resistance's remainder is again Exp(1), so this is the correct
  conditional start; no past notice counts as recent (their dates are not known).

Open credits (credit notes with a negative open amount on ``as_of``) are carried in by applying them,
as an ERP's clearing run would, to the same customer's open invoices: first the invoice a credit note
``corrects`` (``corrects_invoice_id``), then the oldest. What no invoice can absorb stays the
customer's credit balance (:attr:`OpeningBook.credit_balance`). Money is conserved:
Σ open invoices − Σ open credits on ``as_of`` = :attr:`OpeningBook.total` − Σ credit balance.

The customers continue to be billed as their segment prescribes.

**Currencies.** A ledger with a ``currency`` column (:mod:`o2c_sim.invoice_table`; empty = the
scenario's reporting currency) starts the run with ``currencies.enabled``: each customer keeps the
one currency of its rows, its open items are carried in and it is billed in that currency, at the
rates of the scenario's FX table (``currencies.rates``), which must cover every currency of the ledger
from the first simulated day; a customer with rows in two currencies is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import UserError
from .invoice_table import currencies_in, open_as_of
from .scenario import Scenario, check_fx_rates


@dataclass
class OpeningBook:
    """Open items as of a date, ready to be carried into a simulation."""

    as_of: dt.date
    customers: np.ndarray  # customer ids, one per account
    segment: np.ndarray  # segment index per account
    items: pd.DataFrame  # account, invoice_id, invoice_day, due_day, open, disputed_open, level (or -1)
    credits_applied: float = 0.0  # open credits applied to open invoices on as_of
    credit_balance: pd.Series | None = None  # customer id -> credit left over (positive), if any
    currency: np.ndarray | None = None  # ISO code per account, when the ledger has a currency column

    def account_currencies(self, reporting: str) -> np.ndarray:
        """Each account's currency: the ledger's, or ``reporting`` for a ledger in one currency."""
        return np.full(len(self.customers), reporting, object) if self.currency is None else self.currency

    @property
    def total(self) -> float:
        return float(self.items["open"].sum())

    @property
    def net_open(self) -> float:
        """Net AR carried in: open invoices less the credit balances left over."""
        left = 0.0 if self.credit_balance is None else float(self.credit_balance.sum())
        return round(self.total - left, 2)


def apply_open_credits(open_items: pd.DataFrame) -> tuple[pd.DataFrame, float, pd.Series]:
    """Apply each customer's open credits (negative ``open``) to its open invoices, the invoice a credit
    note corrects first, then the oldest; returns (invoices with their remaining open amount > 0,
    credit applied, credit left per customer)."""
    credit = open_items["open"] < 0
    invoices = open_items[~credit & (open_items["open"] > 0)].copy()
    notes = open_items[credit]
    available = (-notes.groupby("customer_id")["open"].sum()).round(2)
    if available.empty:
        return invoices, 0.0, pd.Series(dtype=float)
    linked = set(notes["corrects_invoice_id"]) - {""} if "corrects_invoice_id" in notes else set()
    invoices["_first"] = ~invoices["invoice_id"].astype(str).isin(linked)
    order = invoices.sort_values(["customer_id", "_first", "invoice_date", "invoice_id"], kind="stable")
    before = order.groupby("customer_id")["open"].cumsum() - order["open"]  # open of the invoices served earlier
    credit_of = order["customer_id"].map(available).fillna(0.0)
    applied = (credit_of - before).clip(lower=0.0).clip(upper=order["open"]).round(2)
    order["open"] = (order["open"] - applied).round(2)
    used = applied.groupby(order["customer_id"]).sum()
    left = (available - used.reindex(available.index, fill_value=0.0)).round(2)
    kept = order[order["open"] > 0].drop(columns="_first").sort_index()
    return kept, float(applied.sum().round(2)), left[left > 0]


def _stable_unit(text: str) -> float:
    """A number in [0, 1) from a string, the same on every machine and run."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / 16**12


def opening_book(table: pd.DataFrame, as_of, scenario: Scenario) -> OpeningBook:
    """Select the items open on ``as_of`` from an invoice table and map customers to segments."""
    as_of = pd.Timestamp(as_of)
    if table.empty:
        raise UserError("the ledger has no rows; a warm start needs open items")
    first = table["invoice_date"].min()
    if not first <= as_of:
        raise UserError(f"--as-of {as_of.date()} is before the ledger's first invoice ({first.date()})")
    open_items = open_as_of(table, as_of).copy()
    settled_later = open_items["paid_date"].notna() & (open_items["paid_date"] > as_of) if "paid_date" in open_items else False
    moved = sum(open_items[c].fillna(0.0) for c in ("paid_amount", "credited_amount", "written_off_amount") if c in open_items)
    open_items["open"] = np.where(settled_later, open_items["amount"], open_items["amount"] - moved).round(2)
    open_items, applied, left = apply_open_credits(open_items)
    names = [s.name for s in scenario.portfolio.segments]
    shares = np.cumsum([s.share for s in scenario.portfolio.segments])
    customers = np.array(sorted(table["customer_id"].astype(str).unique()))
    given = (table.sort_values("invoice_date").groupby("customer_id")["segment"].last()
             if "segment" in table else pd.Series(dtype=str))  # a customer's latest segment
    seg = np.array([
        names.index(given[c]) if c in given.index and given[c] in names
        else min(int(np.searchsorted(shares, _stable_unit(c), side="right")), len(names) - 1)
        for c in customers
    ])
    account = pd.Series(np.arange(len(customers)), index=customers)
    origin = as_of + pd.Timedelta(days=1)
    disputed = open_items["disputed"].astype(bool) if "disputed" in open_items else pd.Series(False, index=open_items.index)
    if "dispute_resolved_date" in open_items:
        disputed &= open_items["dispute_resolved_date"].isna() | (open_items["dispute_resolved_date"] > as_of)
    items = pd.DataFrame({
        "account": account[open_items["customer_id"].astype(str)].to_numpy(),
        "invoice_id": open_items["invoice_id"].astype(str).to_numpy(),
        "invoice_day": (open_items["invoice_date"] - origin).dt.days.to_numpy(),
        "due_day": (open_items["due_date"] - origin).dt.days.to_numpy(),
        "open": open_items["open"].to_numpy(),
        "disputed_open": disputed.to_numpy(),
        "level": open_items["dunning_level"].fillna(-1).astype(int).to_numpy() if "dunning_level" in open_items else -1,
    })
    return OpeningBook(as_of.date(), customers, seg, items.reset_index(drop=True), applied, left,
                       _customer_currencies(table, customers, scenario.currency))


def _customer_currencies(table: pd.DataFrame, customers: np.ndarray, reporting: str) -> np.ndarray | None:
    """The one currency of each customer's rows (empty = ``reporting``); None for a ledger without currencies."""
    if not currencies_in(table):
        return None
    code = table["currency"].astype(str).replace("", reporting)
    per = code.groupby(table["customer_id"].astype(str)).unique()
    mixed = per[per.map(len) > 1]
    if len(mixed):
        c = mixed.index[0]
        raise UserError(f"customer {c!r} has invoices in {len(mixed[c])} currencies ({', '.join(sorted(mixed[c]))}), column "
                        f"'currency'; a simulated customer bills in one currency: split it into one customer per currency "
                        f"({len(mixed)} customer(s) affected)")
    return np.array([per[c][0] for c in customers], object)


def warm_scenario(scenario: Scenario, book: OpeningBook) -> Scenario:
    """The scenario re-based to start the day after ``as_of`` with one account per ledger customer (and
    currencies on for a ledger in several currencies, each needing rates from that day)."""
    first = book.as_of + dt.timedelta(days=1)
    if book.currency is not None:
        for code in sorted(set(book.currency) - {scenario.currency}):
            try:
                check_fx_rates(scenario.currencies, code, scenario.currency, first, "the ledger's column 'currency' holds")
            except ValueError as exc:
                raise UserError(f"warm start: {exc}") from None
    return scenario.with_overrides({
        "start_date": first.isoformat(),
        "warmup_days": 0,
        "portfolio.accounts": int(len(book.customers)),
        **({"currencies.enabled": True} if book.currency is not None else {}),
    })
