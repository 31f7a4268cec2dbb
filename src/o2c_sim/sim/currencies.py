"""Accounts billing in several currencies, reported in one (docs/model.md §2.24), with ``currencies.enabled``.

Each account draws its currency once from its segment's shares ``currencies.accounts`` (keyed by the
account, so the same account bills in the same currency under every policy). Billing draws an
invoice's value in the reporting currency as before and issues it in the account's currency at the
issue day's rate, ``amount = value ÷ rate`` rounded to the cent; a rebill is a share of the original
in the original's currency. The ledger keeps every invoice, fee and credit balance in its own
currency and conserves cash per currency (:class:`o2c_sim.sim.ledger.Ledger`).

KPIs are in the reporting currency: a flow on day *d* (billing, cash, credit, write-off) counts at
day *d*'s rate, the evening AR at the evening's rate. So AR rolls forward exactly as

    AR(d) = AR(d−1) + sales(d) − cash(d) − credits(d) − write_offs(d) + revaluation(d)

with the **revaluation gain/loss** of the open items

    revaluation(d) = Σ_c open_c(d−1) · (rate_c(d) − rate_c(d−1))

(IAS 21 §23 and §28: monetary items are translated at the closing rate and the exchange differences
recognised in profit or loss). That day's exchange difference is split, as an ERP books it, into

    realised(d)    = Σ_i reduced_i(d) · (rate_c(d) − rate_c(booked_i))     (payment, credit or write-off on day d)
    revaluation(d) = total(d) − realised(d) = U(d) − U(d−1),   U(d) = Σ_i open_i(d) · (rate_c(d) − rate_c(booked_i))

where ``booked_i`` is the day item *i* entered the ledger (SAP posts the first on clearing, the second
is the change of the unrealised valuation of the open items, IAS 21 §28); reported as ``fx_realised`` and
``fx_revaluation``.

**One currency for every comparison.** Thresholds and limits in the scenario are in the reporting
currency, and ranking compares accounts in different currencies, so every comparison of amounts —
credit limits, dunning and fee minimum amounts, the worklist's minimum past-due balance and its
ranking by balance — uses the amounts translated at the day's rate (:func:`comparable_cents`); a fixed
fee (the Directive's 40) is charged in the item's currency at the day's rate (:meth:`Currencies.from_reporting`).
"""

from __future__ import annotations

import numpy as np


class Currencies:
    """The currency of each account and the rate of each currency on each simulated day."""

    def __init__(self, scenario, keyed, segment: np.ndarray, origin_ordinal: int, days: int,
                 given: np.ndarray | None = None):
        """``given``: each account's currency code as a warm start's ledger says; else drawn by segment."""
        cfg = scenario.currencies
        seg_names = [s.name for s in scenario.portfolio.segments]
        billed = {c for shares in cfg.accounts.values() for c, share in shares.items() if share > 0} if given is None \
            else set(given.tolist())
        #: currency codes; code 0 is the reporting currency
        self.codes = [scenario.currency] + sorted(billed - {scenario.currency})
        self.account = np.zeros(len(segment), np.int64)
        if given is not None:
            self.account = np.array([self.codes.index(c) for c in given.tolist()], np.int64)
        for s, name in enumerate(seg_names if given is None else []):
            shares = cfg.accounts.get(name)
            if not shares:
                continue
            members = np.flatnonzero(segment == s)
            codes = list(shares)
            pick = keyed.choice("account_currency", [shares[c] for c in codes], members)
            self.account[members] = np.array([self.codes.index(c) if shares[c] > 0 else 0 for c in codes])[pick]
        #: rates[c, d] = value of one unit of currency c in the reporting currency on day d (as of the latest dated rate)
        self.rates = np.ones((len(self.codes), days + 1))
        day = np.arange(days + 1) + origin_ordinal
        for c, code in enumerate(self.codes[1:], start=1):
            table = sorted(cfg.rates[code].items())
            dated = np.array([d.toordinal() for d, _ in table])
            values = np.array([r for _, r in table])
            self.rates[c] = values[np.searchsorted(dated, day, side="right") - 1]

    def issue_amounts(self, accounts: np.ndarray, values: np.ndarray, d: int) -> np.ndarray:
        """Invoice amounts in each account's currency for ``values`` in the reporting currency on day ``d``."""
        return self.from_reporting(values, self.account[accounts], d)

    def from_reporting(self, values, currency, d) -> np.ndarray:
        """``values`` in the reporting currency as amounts in ``currency`` at day ``d``'s rate."""
        return np.asarray(values, float) / self.rates[currency, d]

    def reporting(self, cents, currency, d) -> np.ndarray:
        """``cents`` in their ``currency`` as reporting-currency cents (floats) at day ``d``'s rate."""
        return np.asarray(cents, float) * self.rates[currency, np.asarray(d, np.int64)]

    def realised(self, idx: np.ndarray, cents: np.ndarray, ledger, issue_day: np.ndarray, d: int) -> float:
        """Reporting-currency cents gained (+) or lost (−) on day ``d`` by the reductions of ledger rows
        ``idx`` (open ``cents`` the evening before), each at day d's rate against its booking day's
        (its issue day; day 0 for an item carried in by a warm start)."""
        if d == 0 or len(idx) == 0:
            return 0.0
        reduced = cents - ledger.open[idx]
        moved = np.flatnonzero(reduced)
        idx, reduced = idx[moved], reduced[moved]
        c = ledger.currency[idx]
        return float((reduced * (self.rates[c, d] - self.rates[c, np.maximum(issue_day[idx], 0)])).sum())

    def revaluation(self, open_by_currency: np.ndarray, d: int) -> float:
        """Reporting-currency cents of the whole exchange difference on the day-(d−1) open balances from
        the rate move to day d (realised + revaluation in the module docstring)."""
        if d == 0:
            return 0.0
        return float(np.dot(open_by_currency, self.rates[:, d] - self.rates[:, d - 1]))


def comparable_cents(sim, idx: np.ndarray, d: int, cents=None):
    """``cents`` of ledger rows ``idx`` (default: their open amounts) in one currency, so that amounts of
    different accounts and the scenario's thresholds compare: reporting-currency cents at day ``d``'s
    rate with currencies on, the cents themselves (unchanged, bit for bit) otherwise."""
    cents = sim.ledger.open[idx] if cents is None else cents
    fx = sim.currencies
    return cents if fx is None else fx.reporting(cents, sim.ledger.currency[idx], d)


def money_column(events) -> str:
    """The events' column of amounts in the reporting currency: ``reporting_amount`` with currencies on."""
    return "reporting_amount" if "reporting_amount" in events else "amount"
