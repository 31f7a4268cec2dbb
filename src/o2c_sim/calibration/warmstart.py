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
* a fresh Exp(1) resistance and no hazard accumulated (:mod:`o2c_sim.sim.payers`): given its account's
  frailty and that it was not paid by ``as_of``, an exponential resistance's remainder is again Exp(1),
  so this is the correct conditional start; no past notice counts as recent (their dates are not known).

**Frailty given the record.** The items open on a date over-represent slow payers: a customer whose
items are still open after many days is, most likely, one with a low frailty z. Drawing each account's
z afresh from the segment's Gamma(1, θ) would forget that and run the book off too fast. Instead each
account's z is drawn from its posterior given its payment record up to ``as_of``
(:class:`FrailtyPosterior`): its items' business days at risk until payment, or until ``as_of`` for those
still open (:func:`o2c_sim.calibration.hazard_fit.person_period` on the ledger read as an activity log), give the
likelihood L_a(z) = ∏_days exp(−z·H) · ∏_payments (1 − exp(−z·H)) with H the scenario's baseline
intensity of the day, its disputed multiplier and the effect of the notices the scenario's cadence
sent it (:func:`cadence_notices`); the posterior is L_a(z) × the segment's prior
(Gamma(1, θ), with the silent share as a point mass at ``silent_frailty``) on the grid of
:data:`o2c_sim.calibration.hazard_fit.LOG_Z` (Clayton 1978; the empirical-Bayes frailty of Klein 1992). A ledger
does not record the calls and promises behind its delays, so a common factor c per segment, fitted
by maximum marginal likelihood, stands for their average effect (z = c·w, w the account's frailty):
it keeps the conditioning relative — an account slower than its segment gets a lower frailty than the
average — without crediting the history's chasing to the payers. The draw is the posterior's quantile
at the account's keyed uniform, the one the unconditional Gamma draw uses, so runs compared from the
same book share it (common random numbers). Accounts without a record keep the prior draw.

Open credits (credit notes with a negative open amount on ``as_of``) are carried in by applying them,
as an ERP's clearing run would, to the same customer's open invoices: first the invoice a credit note
``corrects`` (``corrects_invoice_id``), then the oldest. What no invoice can absorb stays the
customer's credit balance (:attr:`OpeningBook.credit_balance`). Money is conserved:
Σ open invoices − Σ open credits on ``as_of`` = :attr:`OpeningBook.total` − Σ credit balance.

The customers continue to be billed as their segment prescribes.

**Currencies.** A ledger with a ``currency`` column (:mod:`o2c_sim.data.invoice_table`; empty = the
scenario's reporting currency) starts the run with ``currencies.enabled``: each customer keeps the
one currency of its rows, its open items are carried in and it is billed in that currency, at the
rates of the scenario's FX table (``currencies.rates``), which must cover every currency of the ledger
from the first simulated day; a customer with rows in two currencies is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import optimize, special

from o2c_sim.errors import UserError
from o2c_sim.data.invoice_table import currencies_in, open_as_of
from o2c_sim.scenario import Scenario, check_fx_rates


@dataclass
class FrailtyPosterior:
    """Each account's posterior of its frailty on the grid ``log_w`` (log of z / c, see the module docstring):
    ``cdf`` (accounts with a record × grid), ``rows`` the accounts (indices into the book's customers)."""

    log_w: np.ndarray
    cdf: np.ndarray
    rows: np.ndarray
    scale: dict[str, float]  # segment -> c

    def mean(self) -> np.ndarray:
        """E[w | record] per account of ``rows``."""
        return np.diff(self.cdf, axis=1, prepend=0.0) @ np.exp(self.log_w)

    def draw(self, u: np.ndarray) -> np.ndarray:
        """z at the posterior quantile ``u`` per account of ``rows`` (linear in log z between grid points)."""
        out = np.empty(len(self.rows))
        for j, (cdf, q) in enumerate(zip(self.cdf, u)):
            out[j] = np.interp(q, cdf, self.log_w)
        return np.exp(out)


def cadence_notices(known: pd.DataFrame, scenario: Scenario, as_of) -> pd.DataFrame:
    """The notices the scenario's dunning cadence sent to a ledger's items by ``as_of``, as activity rows:
    level k on the first business day an item is ``steps[k].days_past_due`` past due, if it was still
    unpaid after that day's payments (the segment's own cadence where it has one; minimum amounts and
    exclusions are not known from a ledger). A ledger does not record its reminders; the cadence is the
    best account of them, so that their effect is not mistaken for the payers' habit."""
    if not scenario.dunning.enabled or known.empty:
        return pd.DataFrame(columns=["item_id", "customer_id", "date", "kind", "level"])
    steps_of = {s.name: (s.dunning_steps if s.dunning_steps is not None else scenario.dunning.steps)
                for s in scenario.portfolio.segments}
    due = known["due_date"].to_numpy("datetime64[D]")
    paid = known["paid_date"].to_numpy("datetime64[D]")
    frames = []
    for name, steps in steps_of.items():
        mine = (known["segment"] == name).to_numpy()
        for level, step in enumerate(steps, start=1):
            day = np.busday_offset(due[mine] + np.timedelta64(step.days_past_due, "D"), 0, roll="forward",
                                   weekmask=scenario.calendar.weekmask, holidays=list(scenario.calendar.holidays))
            sent = (day <= np.datetime64(pd.Timestamp(as_of).date())) & (np.isnat(paid[mine]) | (paid[mine] > day))
            frames.append(pd.DataFrame({"item_id": known["invoice_id"].to_numpy()[mine][sent],
                                        "customer_id": known["customer_id"].to_numpy()[mine][sent],
                                        "date": pd.to_datetime(day[sent]), "kind": "notice", "level": level}))
    return pd.concat(frames, ignore_index=True)


def _frailty_log_prior(hazard, silent_share: float, log_c: float) -> np.ndarray:
    """A segment's prior of z = c·w on the frailty grid: Gamma(1, θ), with the silent share as a point mass
    at ``silent_frailty`` (normalised log weights)."""
    from o2c_sim.calibration.hazard_fit import LOG_Z, gamma_grid_logprior

    lg = gamma_grid_logprior(hazard.frailty_variance, log_c)
    if silent_share > 0:
        point = np.full(len(LOG_Z), -np.inf)
        point[np.argmin(np.abs(LOG_Z - log_c - np.log(max(hazard.silent_frailty, 1e-300))))] = 0.0
        lg = np.logaddexp(np.log1p(-silent_share) + lg, np.log(silent_share) + point)
    return lg


def frailty_posterior(history: pd.DataFrame, as_of, scenario: Scenario, customers: np.ndarray,
                      segment: np.ndarray) -> FrailtyPosterior | None:
    """:class:`FrailtyPosterior` of each customer from its payment record in ``history`` up to ``as_of``
    under ``scenario``'s baseline hazard (module docstring); None when no segment has a frailty variance."""
    from o2c_sim.calibration.hazard_fit import LOG_Z, FitOptions, frailty_grid_loglik, invoice_activities, person_period
    from o2c_sim.sim.payers import HazardTables

    segs = scenario.portfolio.segments
    if not any(s.behaviour.hazard.frailty_variance > 0 for s in segs) or history.empty:
        return None
    as_of = pd.Timestamp(as_of)
    known = history[(history["invoice_date"] <= as_of) & (history["amount"] > 0)].copy()
    if "paid_date" not in known:
        known["paid_date"] = pd.NaT
    # the record: items paid by as_of, and items still open on it (censored there); an item settled by then
    # without any payment (credited, written off) is left out — that was no payment
    settled = known["paid_date"].notna() & (known["paid_date"] <= as_of)
    paid_some = known["paid_amount"].fillna(0.0) > 0 if "paid_amount" in known else True
    known = known[~settled | paid_some]
    known["paid_date"] = known["paid_date"].where(settled[known.index])
    account = pd.Series(np.arange(len(customers)), index=customers)
    names = np.array([s.name for s in segs])
    known["segment"] = names[segment[account[known["customer_id"].astype(str)].to_numpy()]]
    known["customer_id"] = known["customer_id"].astype(str)
    edges = sorted({int(b) for s in segs for b in s.behaviour.hazard.bands})
    options = FitOptions(bands=tuple(edges), weekmask=scenario.calendar.weekmask,
                         holidays=tuple(scenario.calendar.holidays), targeting_controls=False, as_of=as_of)
    log = pd.concat([invoice_activities(known), cadence_notices(known, scenario, as_of)], ignore_index=True)
    windows = tuple(e.window_days for e in segs[0].behaviour.hazard.effects.notice)
    options = replace(options, notice_windows=windows)
    try:
        table = person_period(log, known, options)
    except UserError:  # nothing at risk before as_of: no record to condition on
        return None
    tab = HazardTables.of(scenario)
    seg_index = {n: i for i, n in enumerate(names)}
    seg = table["segment"].map(seg_index).to_numpy()
    hazard = tab.baseline(seg, np.asarray(edges)[table["band"].to_numpy()])
    hazard = np.where(table["disputed"].to_numpy() > 0, hazard * tab.disputed_mult[seg], hazard)
    for lv in (int(c.split("_")[1]) for c in table.attrs["actions"] if c.startswith("notice_")):
        mult = tab.notice_mult[seg, tab.notice_column(seg, np.full(len(seg), lv))]
        hazard = np.where(table[f"notice_{lv}"].to_numpy() > 0, hazard * mult, hazard)
    ids, acc = np.unique(table["customer_id"].to_numpy(), return_inverse=True)
    ll = frailty_grid_loglik(table, hazard, acc, len(ids))
    rows = account[ids].to_numpy()
    cdf = np.tile(np.linspace(0.0, 1.0, len(LOG_Z)), (len(ids), 1))  # placeholder for accounts left at their prior
    log_w = LOG_Z.copy()
    keep = np.zeros(len(ids), bool)
    scale = {}
    for s, spec in enumerate(segs):
        h = spec.behaviour.hazard
        mine = segment[rows] == s
        if h.frailty_variance <= 0 or not mine.any():
            continue
        sub, share = ll[mine], spec.behaviour.silent_share
        fit = optimize.minimize_scalar(lambda c: -special.logsumexp(sub + _frailty_log_prior(h, share, c)[None, :], axis=1).sum(),
                                       bounds=(-3.0, 3.0), method="bounded", options={"xatol": 1e-3})
        log_c = float(fit.x)  # c: the common factor of the module docstring, by maximum marginal likelihood
        post = sub + _frailty_log_prior(h, share, log_c)[None, :]
        post = np.exp(post - special.logsumexp(post, axis=1, keepdims=True))
        # on the grid of w = z / c: the same weights, shifted by −log c
        c_grid = np.cumsum(post, axis=1)
        cdf[mine] = np.array([np.interp(LOG_Z, LOG_Z - log_c, c) for c in c_grid])
        keep[mine] = True
        scale[spec.name] = float(np.exp(log_c))
    if not keep.any():
        return None
    cdf = np.maximum.accumulate(np.clip(cdf[keep], 0.0, 1.0), axis=1)
    return FrailtyPosterior(log_w, cdf, rows[keep], scale)


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
    history: pd.DataFrame | None = None  # the ledger known on as_of: each account's payment record
    _posteriors: dict = field(default_factory=dict, repr=False, compare=False)  # hazard -> FrailtyPosterior

    def account_frailty(self, scenario: Scenario, prior: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Each account's frailty for a run of ``scenario`` from this book: drawn from its posterior given its
        payment record (:func:`frailty_posterior`) at its keyed uniform ``u``; ``prior`` (the unconditional
        draw at the same ``u``) for accounts without a record. The posterior is kept per hazard."""
        if self.history is None:
            return prior
        key = repr([s.behaviour.hazard.model_dump() | {"silent": s.behaviour.silent_share} for s in scenario.portfolio.segments])
        if key not in self._posteriors:
            self._posteriors[key] = frailty_posterior(self.history, self.as_of, scenario, self.customers, self.segment)
        post = self._posteriors[key]
        if post is None:
            return prior
        z = prior.copy()
        z[post.rows] = post.draw(u[post.rows])
        return z

    def warm(self, scenario: Scenario) -> Scenario:
        """``scenario`` re-based to start from this book (:func:`warm_scenario`)."""
        return warm_scenario(scenario, self)

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
                       _customer_currencies(table, customers, scenario.currency),
                       history=table[table["invoice_date"] <= as_of])


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
