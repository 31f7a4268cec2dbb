"""Collections KPIs: the formulas (pure functions) and the monthly series and run summary built on them.

Sources: Credit Research Foundation (CRF) definitions of DSO, best-possible DSO and CEI; the
countback method as taught in credit-management practice (e.g. Credit Research Foundation, "Measuring
the Effectiveness of the Credit & Collection Functions"). Plausibility anchor: CRF 2020 medians
DSO 39, BPDSO 32, ADD 4, CEI 83, % current 88, % over 91 days 0.7.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def _finite(values: Sequence[float]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)


def mean_ci95(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and Student-t 95 % confidence interval over replications (NaNs ignored), for quantities
    without bounds such as paired differences; bounded KPIs use :func:`bounded_mean_ci95`."""
    from scipy import stats

    x = _finite(values)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if len(x) < 2:
        return m, m, m
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m, m - half, m + half


#: how :func:`bounded_mean_ci95` builds an interval, in words (printed under the KPI table)
INTERVAL_METHOD = ("95 % confidence interval of the mean over replications: Student-t, computed on the log scale "
                   "for quantities that cannot be negative and on the logit scale for percentages (delta method), "
                   "so it never leaves the possible range")


def bounded_mean_ci95(values: Sequence[float], lower: float | None = None, upper: float | None = None) -> tuple[float, float, float]:
    """Mean and a 95 % confidence interval that stays inside ``[lower, upper]``.

    With standard error ``se = s/√n`` and ``t = t(0.975, n−1)``, the Student-t interval is built for a
    transform of the mean and mapped back (delta method; e.g. Agresti, *Categorical Data Analysis*,
    §16.1; the logit interval for a proportion): one bound ``L`` → ``g(m) = log(m − L)``,
    ``se_g = se/(m − L)``, interval ``L + (m − L)·exp(±t·se_g)``; two bounds → ``p = (m − L)/(U − L)``,
    ``g = logit p``, ``se_g = se/((U − L)·p(1 − p))``. For a small spread it agrees with the plain
    t-interval; it widens on the far side near a bound. All replications at a bound give ``[m, m]``.
    Values outside the bounds (the bounds were wrong for this data) fall back to :func:`mean_ci95`.

    >>> [round(v, 2) for v in bounded_mean_ci95([0.0, 0.0, 3.0], lower=0)]
    [1.0, 0.01, 73.9]
    >>> [round(v, 1) for v in bounded_mean_ci95([10, 12, 11, 13], lower=0)]
    [11.5, 9.6, 13.7]
    """
    from scipy import stats
    from scipy.special import expit, logit

    x = _finite(values)
    if len(x) < 2 or (lower is None and upper is None) or (lower is not None and x.min() < lower) \
            or (upper is not None and x.max() > upper):
        return mean_ci95(x)
    m = float(x.mean())
    se = float(x.std(ddof=1) / np.sqrt(len(x)))
    if se == 0 or (lower is not None and m <= lower) or (upper is not None and m >= upper):
        return m, m, m
    t = float(stats.t.ppf(0.975, len(x) - 1))
    if lower is not None and upper is not None:
        width = upper - lower
        p = (m - lower) / width
        se_g = se / (width * p * (1 - p))
        return m, float(lower + width * expit(logit(p) - t * se_g)), float(lower + width * expit(logit(p) + t * se_g))
    if lower is not None:
        d = m - lower
        return m, float(lower + d * np.exp(-t * se / d)), float(lower + d * np.exp(t * se / d))
    d = upper - m
    return m, float(upper - d * np.exp(t * se / d)), float(upper - d * np.exp(-t * se / d))


def kpi_mean_ci95(key: str, values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and 95 % CI of a catalogued KPI within its bounds (:func:`bounded_mean_ci95`); unknown keys
    get the plain Student-t interval."""
    kpi = CATALOGUE.get(key)
    return bounded_mean_ci95(values, kpi.lower, kpi.upper) if kpi else mean_ci95(values)


# ===================================================================================== the catalogue


@dataclass(frozen=True)
class Kpi:
    """What a KPI is, for people and for code: ``unit`` is ``"money"`` for amounts in the scenario's
    currency; ``better`` +1 (higher is better), −1 (lower is better) or 0 (a trade-off); ``lower`` and
    ``upper`` the possible range (``None``: unbounded); ``decimals`` for display."""

    key: str
    label: str
    unit: str
    meaning: str
    group: str
    better: int
    lower: float | None
    upper: float | None
    decimals: int

    def unit_in(self, currency: str) -> str:
        """The unit as printed: the currency code for money, nothing for plain counts."""
        return currency if self.unit == "money" else "" if self.unit == "count" else self.unit

    def format(self, value: float | None) -> str:
        """``41.6``, ``1,234,567`` — the value with the KPI's decimals, ``n/a`` when undefined."""
        if value is None or not np.isfinite(value):
            return "n/a"
        return f"{value:,.{self.decimals}f}"


#: the groups of the KPI table, in display order, with their headings
GROUPS = {"cash": "Cash and DSO", "aging": "Aging and bad debt", "team": "Team and coverage",
          "disputes": "Disputes", "levers": "Fees and credit holds", "staffing": "Staffing and ROI"}

_P = (0.0, 100.0)  # a percentage
_NN = (0.0, None)  # cannot be negative

#: every KPI and metric o2c-sim reports, in display order: the run KPIs of kpis.json (groups cash,
#: aging, team, disputes), then the metrics sweeps and staffing add (group staffing)
_ROWS = (
    ("dso", "DSO", "days", "month-end AR ÷ last 3 months' sales × their days", "cash", -1, *_NN, 1),
    ("dso_countback", "Countback DSO", "days", "DSO counted back through recent months' sales", "cash", -1, *_NN, 1),
    ("bpdso", "Best-possible DSO", "days", "DSO if every customer paid on time", "cash", -1, *_NN, 1),
    ("add", "Average days delinquent", "days", "DSO − best-possible DSO: days lost to late payment", "cash", -1, *_NN, 1),
    ("cei", "Collection effectiveness", "%", "share of collectible AR collected each month", "cash", 1, *_P, 1),
    ("cash_collected", "Cash collected", "money", "receipts over the measured period", "cash", 1, *_NN, 0),
    ("cash_per_week", "Cash per week", "money", "receipts per calendar week", "cash", 1, *_NN, 0),
    ("sales", "Credit sales", "money", "invoiced over the measured period", "cash", 0, *_NN, 0),
    ("ending_ar", "Ending AR", "money", "open receivables on the last day", "cash", -1, *_NN, 0),
    ("unapplied_cash", "Unapplied cash", "money", "received, not yet matched to invoices (average)", "cash", -1, *_NN, 0),
    ("unapplied_age_days", "Unapplied cash age", "days", "days a payment waits for cash application", "cash", -1, *_NN, 1),
    ("invoices", "Invoices issued", "count", "invoices issued over the measured period", "cash", 0, *_NN, 0),
    ("pct_current", "Current AR", "%", "share of AR not yet due (month end)", "aging", 1, *_P, 1),
    ("pct_over_90", "AR over 90 days", "%", "share of AR over 90 days past due (month end)", "aging", -1, *_P, 2),
    ("bad_debt_ratio", "Bad-debt ratio", "%", "written off ÷ credit sales", "aging", -1, *_P, 2),
    ("write_offs", "Write-offs", "money", "amount written off over the measured period", "aging", -1, *_NN, 0),
    ("coverage_pct", "Coverage", "%", "past-due accounts called within N business days", "team", 1, *_P, 1),
    ("ptp_kept_rate", "Promises kept", "%", "promises to pay kept ÷ (kept + broken)", "team", 1, *_P, 1),
    ("collector_utilisation", "Collector utilisation", "%", "share of collectors' working time spent on work", "team", 0, *_P, 1),
    ("calls_per_day", "Calls per day", "calls", "call attempts per business day, whole team", "team", 0, *_NN, 1),
    ("rpc_per_day", "Right-party contacts per day", "contacts", "calls that reached the person who can pay", "team", 1, *_NN, 1),
    ("inbound_sla_pct", "Inbound queries within SLA", "%", "customer calls and e-mails answered within SLA", "team", 1, *_P, 1),
    ("inbound_wait_minutes", "Inbound wait", "min", "average wait of an inbound query", "team", -1, *_NN, 1),
    ("dispute_cycle_days", "Dispute cycle time", "days", "days from dispute opened to resolved", "disputes", -1, *_NN, 1),
    ("dispute_sla_pct", "Disputes within SLA", "%", "disputes resolved within the SLA's business days", "disputes", 1, *_P, 1),
    # the optional levers' KPIs (docs/model.md §4.5): in kpis.json only when their lever is on
    ("fees_charged", "Fees charged", "money", "dunning fees and late-payment interest charged", "levers", 0, *_NN, 0),
    ("fees_collected", "Fees collected", "money", "fees paid by customers", "levers", 1, *_NN, 0),
    ("fees_waived", "Fees waived", "money", "fees a collector waived in a conversation", "levers", 0, *_NN, 0),
    ("fees_written_off", "Fees written off", "money", "fees written off with their invoices", "levers", -1, *_NN, 0),
    ("sales_held", "Sales held", "money", "billing delayed by credit holds", "levers", 0, *_NN, 0),
    ("holds_placed", "Credit holds placed", "count", "accounts put on credit hold", "levers", 0, *_NN, 0),
    ("holds_released", "Credit holds released", "count", "holds lifted when the account came back within terms", "levers", 0, *_NN, 0),
    ("hold_wait_days", "Held sales wait", "days", "average days a held sale waited to be billed", "levers", -1, *_NN, 1),
    ("hold_cost", "Cost of holds", "money", "capital cost of the sales held (cost of capital × days)", "levers", -1, *_NN, 0),
    ("refunds_paid", "Refunds paid", "money", "credit balances paid back to customers", "levers", 0, *_NN, 0),
    ("refunds_count", "Refunds", "count", "refunds paid", "levers", 0, *_NN, 0),
    ("refund_days", "Refund time", "days", "days from a credit balance arising to its refund", "levers", -1, *_NN, 1),
    ("refund_sla_pct", "Refunds within SLA", "%", "refunds paid within the SLA's business days", "levers", 1, *_P, 1),
    ("duplicate_payments", "Duplicate payments", "money", "payments received twice for the same invoice", "levers", 0, *_NN, 0),
    ("credits_applied", "Credit balances applied", "money", "credit balances used to settle open invoices", "levers", 0, *_NN, 0),
    ("credit_balances_open", "Open credit balances", "money", "customers' credit balances on the last day", "levers", -1, *_NN, 0),
    ("credit_balance_age_days", "Credit balance age", "days", "average age of the open credit balances on the last day",
     "levers", -1, *_NN, 1),
    ("fx_revaluation", "FX revaluation", "money", "change in the unrealised gain (+) or loss (−) on open foreign-currency AR",
     "levers", 0, None, None, 0),
    ("fx_realised", "FX realised", "money", "gain (+) or loss (−) realised on foreign-currency items settled at another rate",
     "levers", 0, None, None, 0),
    ("ar_average", "Average AR", "money", "mean evening AR over the measured period", "staffing", -1, *_NN, 0),
    ("window_days", "Measured days", "days", "length of the measured period (the horizon)", "staffing", 0, *_NN, 0),
    ("fte_cost", "FTE cost", "money", "collectors × cost per FTE, per year", "staffing", -1, *_NN, 0),
    ("net_benefit", "Net benefit per year", "money", "capital on AR released + bad debt avoided − FTE cost",
     "staffing", 1, None, None, 0),
    ("roi", "ROI", "ratio", "net benefit ÷ extra FTE cost", "staffing", 1, None, None, 2),
)
CATALOGUE: dict[str, Kpi] = {row[0]: Kpi(*row) for row in _ROWS}

#: the KPIs of one run (kpis.json), in display order
RUN_KPIS = tuple(k for k, kpi in CATALOGUE.items() if kpi.group != "staffing")
