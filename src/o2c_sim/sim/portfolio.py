"""The portfolio: accounts in segments and the invoices they are billed.

Accounts are split over segments by share (largest remainder). Each account has a risk score
(Beta with the segment's mean, concentration 10), a credit limit (``credit_limit_months`` × expected
monthly billing), a billing day (a business-day offset within the month) and a number of monthly
contracts. Billing on business day *k* of a month:

* recurring: every contract of the accounts whose offset is *k* bills its fixed monthly amount;
* one-off: Poisson with rate ``invoices_per_month × (1 − recurring_share) × 12 / B`` per account and
  business day, B = the calendar's business days per year (250 for Monday–Friday).

Amounts are lognormal with the segment's median and sigma, floored at ``minimum``.

With ``seasonality.enabled`` the one-off rate of day d is multiplied by f(d) and recurring amounts by
the growth term g(d) (docs/model.md §2.20):

    g(d) = (1 + growth_annual)^((d − warm-up) / 365.25)
    f(d) = g(d) · q(month) · e(d),  q = 3·Q/(Q + 2) in a quarter's last month, 3/(Q + 2) otherwise
    e(d) = s·B/k on the month's last k business days, (1 − s)·B/(B − k) on the others

(Q = ``quarter_end_multiplier``, s = ``month_end_share``, k = ``month_end_business_days``, B = the
month's business days), so a month keeps its expected one-off volume under s and a quarter under Q.
The Poisson draws stay one per account and day, so the streams stay aligned with the unseasoned run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from o2c_sim.scenario import Scenario



def split_counts(total: int, shares: list[float]) -> np.ndarray:
    """Integers summing to ``total`` in proportion to ``shares`` (largest-remainder method)."""
    raw = np.asarray(shares, dtype=float) * total
    counts = np.floor(raw).astype(np.int64)
    rest = total - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
    return counts


def lognormal_amounts(rng: np.random.Generator, median: np.ndarray, sigma: np.ndarray, minimum: np.ndarray) -> np.ndarray:
    return np.maximum(median * np.exp(sigma * rng.standard_normal(len(median))), minimum)


@dataclass
class Accounts:
    segment: np.ndarray  # int index into scenario.portfolio.segments
    risk: np.ndarray
    credit_limit: np.ndarray
    silent: np.ndarray  # never pays unless a collector reaches them
    billing_offset: np.ndarray  # business day of the month for recurring billing
    contracts: np.ndarray
    contract_amount: np.ndarray  # monthly recurring amount per contract
    oneoff_rate: np.ndarray  # one-off invoices per business day
    active: np.ndarray  # False once insolvent

    def __len__(self) -> int:
        return len(self.segment)


def make_accounts(scenario: Scenario, rng: np.random.Generator, segment: np.ndarray | None = None,
                  busdays_per_year: float = 250.0) -> Accounts:
    """Accounts split over segments by share, or with the given per-account ``segment`` indices."""
    segs = scenario.portfolio.segments
    if segment is None:
        counts = split_counts(scenario.portfolio.accounts, [s.share for s in segs])
        segment = np.repeat(np.arange(len(segs)), counts)
    seg = np.asarray(segment, dtype=np.int64)
    n = len(seg)
    par = lambda f: np.array([f(s) for s in segs], dtype=float)[seg]  # noqa: E731
    risk_mean = np.clip(par(lambda s: s.behaviour.risk_score_mean), 1e-3, 1 - 1e-3)
    risk = rng.beta(risk_mean * 10, (1 - risk_mean) * 10)
    per_month = par(lambda s: s.invoices_per_month)
    recurring = per_month * par(lambda s: s.recurring_share)
    contracts = np.floor(recurring).astype(np.int64) + (rng.random(n) < recurring - np.floor(recurring))
    median, sigma, minimum = par(lambda s: s.amounts.median), par(lambda s: s.amounts.sigma), par(lambda s: s.amounts.minimum)
    contract_amount = lognormal_amounts(rng, median, sigma, minimum)
    mean_amount = median * np.exp(sigma**2 / 2)
    credit_limit = par(lambda s: s.credit_limit_months) * per_month * mean_amount
    return Accounts(
        segment=seg,
        risk=risk,
        credit_limit=credit_limit,
        silent=rng.random(n) < par(lambda s: s.behaviour.silent_share),
        billing_offset=rng.integers(0, 20, n),
        contracts=contracts,
        contract_amount=contract_amount,
        oneoff_rate=per_month * (1 - par(lambda s: s.recurring_share)) * 12 / busdays_per_year,
        active=np.ones(n, bool),
    )


class Billing:
    """Draws each business day's new invoices: returns (account index per invoice, amount)."""

    def __init__(self, scenario: Scenario, accounts: Accounts, rng_billing: np.random.Generator, rng_amounts: np.random.Generator,
                 calendar=None):
        self.accounts = accounts
        season = scenario.seasonality
        self.growth, self.oneoff_factor = (billing_factors(season, calendar, scenario.warmup_days)
                                           if season.enabled and calendar is not None else (None, None))
        self.rng, self.rng_amounts = rng_billing, rng_amounts
        segs = scenario.portfolio.segments
        self.median = np.array([s.amounts.median for s in segs])
        self.sigma = np.array([s.amounts.sigma for s in segs])
        self.minimum = np.array([s.amounts.minimum for s in segs])

    def bill(self, busday_of_month: int, day: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        acc = self.accounts
        seasonal = self.growth is not None and day is not None
        # draw for every account every day, so that the streams stay aligned across scenarios
        oneoff = self.rng.poisson(acc.oneoff_rate * self.oneoff_factor[day] if seasonal else acc.oneoff_rate)
        oneoff[~acc.active] = 0
        rec_mask = (acc.billing_offset == busday_of_month) & acc.active & (acc.contracts > 0)
        rec_acc = np.repeat(np.flatnonzero(rec_mask), acc.contracts[rec_mask])
        rec_amt = acc.contract_amount[rec_acc] * self.growth[day] if seasonal else acc.contract_amount[rec_acc]
        one_acc = np.repeat(np.arange(len(acc)), oneoff)
        s = acc.segment[one_acc]
        one_amt = lognormal_amounts(self.rng_amounts, self.median[s], self.sigma[s], self.minimum[s])
        return np.concatenate([rec_acc, one_acc]), np.concatenate([rec_amt, one_amt])


def billing_factors(season, cal, warmup_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per calendar day: the growth term g(d) and the one-off factor f(d) of the module docstring."""
    days = np.arange(len(cal.is_busday))
    growth = (1.0 + season.growth_annual) ** ((days - warmup_days) / 365.25)
    month = (cal.origin + days).astype("datetime64[M]")
    month_number = month.astype(np.int64) % 12 + 1
    q = season.quarter_end_multiplier
    factor = growth * np.where(month_number % 3 == 0, 3 * q / (q + 2), 3 / (q + 2))
    if season.month_end_share is not None:
        s, k = season.month_end_share, season.month_end_business_days
        busdays = np.bincount(np.unique(month, return_inverse=True)[1], weights=cal.is_busday)
        per_month = busdays[np.unique(month, return_inverse=True)[1]]
        left = per_month - cal.busday_of_month - 1  # business days after this one in its month
        k_eff = np.minimum(k, per_month - 1)
        end = left < k_eff
        factor = factor * np.where(end, s * per_month / np.maximum(k_eff, 1), (1 - s) * per_month / np.maximum(per_month - k_eff, 1))
    return growth, factor
