"""Collections KPIs: the formulas (pure functions) and the monthly series and run summary built on them.

Sources: Credit Research Foundation (CRF) definitions of DSO, best-possible DSO and CEI; the
countback method as taught in credit-management practice (e.g. Credit Research Foundation, "Measuring
the Effectiveness of the Credit & Collection Functions"). Plausibility anchor: CRF 2020 medians
DSO 39, BPDSO 32, ADD 4, CEI 83, % current 88, % over 91 days 0.7.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def dso_standard(ending_ar: float, credit_sales: float, days: float) -> float:
    """Days sales outstanding = ending AR ÷ credit sales of the period × days in the period.

    >>> round(dso_standard(212_000, 250_000, 90), 1)
    76.3
    """
    return ending_ar / credit_sales * days if credit_sales else float("nan")


def dso_countback(ending_ar: float, monthly_sales_latest_first: Sequence[float], days_per_month: Sequence[float] | float = 30) -> float:
    """Countback DSO: subtract each month's sales from ending AR, latest month first, counting that
    month's days in full while AR covers it and the covered fraction of the month that exhausts it.

    Worked example: AR 212k, sales 100k, 80k, 70k (30-day months) → 30 + 30 + 32/70·30 = 73.7 days.

    >>> round(dso_countback(212_000, [100_000, 80_000, 70_000]), 1)
    73.7
    """
    sales = list(monthly_sales_latest_first)
    days = [days_per_month] * len(sales) if np.isscalar(days_per_month) else list(days_per_month)
    remaining, total = ending_ar, 0.0
    for s, n in zip(sales, days):
        if remaining <= 0:
            break
        if s <= 0:
            total += n
            continue
        if remaining >= s:
            total += n
            remaining -= s
        else:
            total += remaining / s * n
            remaining = 0.0
    return total if remaining <= 0 else float("nan")  # AR older than the months given: undefined


def bpdso(current_ar: float, credit_sales: float, days: float) -> float:
    """Best-possible DSO = current (not yet due) AR ÷ credit sales of the period × days.

    >>> round(bpdso(150_000, 250_000, 90), 1)
    54.0
    """
    return current_ar / credit_sales * days if credit_sales else float("nan")


def average_days_delinquent(dso: float, best_possible_dso: float) -> float:
    """ADD = DSO − BPDSO: the days AR is outstanding beyond terms."""
    return dso - best_possible_dso


def cei(opening_ar: float, sales: float, ending_ar: float, ending_current_ar: float) -> float:
    """Collection effectiveness index (CRF), in %:

        CEI = (opening AR + sales − ending total AR) ÷ (opening AR + sales − ending current AR) × 100

    computed per month. Convention for a multi-month period here: the mean of the monthly values
    (the CRF reports CEI monthly). Example: opening 200k, sales 100k, ending 190k of which current 80k
    → (300 − 190) ÷ (300 − 80) = 50.0 %.

    >>> cei(200_000, 100_000, 190_000, 80_000)
    50.0
    """
    denominator = opening_ar + sales - ending_current_ar
    return (opening_ar + sales - ending_ar) / denominator * 100 if denominator else float("nan")


def aging_shares(buckets: dict[str, float]) -> dict[str, float]:
    """Each aging bucket (by days past due date: current, 1–30, 31–60, 61–90, 90+) as % of total AR."""
    total = sum(buckets.values())
    return {k: (v / total * 100 if total else float("nan")) for k, v in buckets.items()}


def bad_debt_ratio(write_offs: float, sales: float) -> float:
    """Write-offs ÷ credit sales of the same period, in %."""
    return write_offs / sales * 100 if sales else float("nan")


def ptp_kept_rate(kept: int, broken: int) -> float:
    """Promises kept ÷ (kept + broken), in %."""
    return kept / (kept + broken) * 100 if kept + broken else float("nan")


def delay_cost(amounts: Sequence[float], days: Sequence[float], cost_of_capital: float) -> float:
    """Financing cost of money received (or billed) later: Σ amount × days × cost of capital / 365
    (simple interest; used for the cost of sales held on credit hold).

    >>> round(delay_cost([10_000, 5_000], [30, 10], 0.08), 2)
    76.71
    """
    return float(np.sum(np.asarray(amounts, float) * np.asarray(days, float)) * cost_of_capital / 365.0)


def mean_ci95(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and Student-t 95 % confidence interval over replications (NaNs ignored)."""
    from scipy import stats

    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if len(x) < 2:
        return m, m, m
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m, m - half, m + half
