"""Payment-run days: payers who pay only on their own run days (docs/model.md §2.18).

Many companies pay suppliers in batches: every Friday, on the 15th and at month-end, or once a month.
An account that follows a :class:`~o2c_sim.scenario.PaymentRunRule` accumulates its items' hazard as
usual (:mod:`o2c_sim.sim.payers`) on every business day, but an item whose cumulative hazard has reached its
resistance pays on the first *run day* on or after that day (if nothing blocks it then: a dispute, a
plan or the agency; until then it stays open and may still be dunned). The resistance is the same keyed
Exp(1) draw as without runs, so common random numbers hold: an item no action touched pays on the next
run day on or after the day it would otherwise have paid.

Run days are business days: for ``weekday`` the business day on or after each such weekday (a holiday
moves the run to the next business day); for ``days_of_month`` the first business day on or after each
listed day of the month, or the month's last business day when none is left in the month (31 = month
end); ``month_end`` is the last business day of each month. Which accounts follow a rule is keyed by
account (``share`` of the rule's segments), so it is the same under every policy.
"""

from __future__ import annotations

import numpy as np

from o2c_sim.scenario import WEEKDAYS, PaymentRunRule


def run_days(rule: PaymentRunRule, cal) -> np.ndarray:
    """Boolean mask over the calendar's days (horizon + margin): the rule's run days."""
    span = len(cal.is_busday)
    dates = cal.origin + np.arange(span)
    out = np.zeros(span, bool)
    if rule.schedule == "weekday":
        weekday = (dates.astype("datetime64[D]").view("int64") + 3) % 7  # 1970-01-01 was a Thursday (3)
        candidates = np.flatnonzero(weekday == WEEKDAYS.index(rule.weekday))
        runs = np.asarray(cal.next_busday(candidates), np.int64)
        out[runs[runs < span]] = True
        return out
    listed = [31] if rule.schedule == "month_end" else rule.days_of_month
    month = dates.astype("datetime64[M]")
    busday = np.flatnonzero(cal.is_busday)
    for m in np.unique(month):
        first = int((m.astype("datetime64[D]") - cal.origin).astype(np.int64))
        length = int(((m + 1).astype("datetime64[D]") - m.astype("datetime64[D]")).astype(np.int64))
        mine = busday[month[busday] == m]
        for k in listed:
            target = first + min(k, length) - 1
            if target >= span or len(mine) == 0:
                continue
            later = mine[mine >= target]
            out[later[0] if len(later) else mine[-1]] = True
    return out


class PaymentRuns:
    """Which accounts pay on run days, and each rule's run days."""

    def __init__(self, scenario, cal, keyed, account_segment: np.ndarray):
        rules = scenario.payment_runs.rules
        names = [s.name for s in scenario.portfolio.segments]
        self.days = np.array([run_days(r, cal) for r in rules])
        self.rule = np.full(len(account_segment), -1, np.int64)
        u = keyed.uniform("payment_run", np.arange(len(account_segment)))
        for i, r in enumerate(rules):
            segs = [names.index(s) for s in r.segments] if r.segments else list(range(len(names)))
            self.rule[(self.rule < 0) & np.isin(account_segment, segs) & (u < r.share)] = i

    def waiting(self, accounts: np.ndarray, d: int) -> np.ndarray:
        """Mask over ``accounts``: they follow a rule and ``d`` is not one of its run days."""
        rule = self.rule[accounts]
        return (rule >= 0) & ~self.days[np.maximum(rule, 0), d]


def run_day_evidence(paid_dates) -> dict[str, dict[str, float]]:
    """Do settlement dates bunch on weekdays or days of the month? Pearson chi-square tests against
    the counts expected if payments fell on any day alike: for the weekday, 1/7 each (or 1/5 when no
    payment falls on a weekend); for the day of the month, in proportion to how often each day occurs
    between the first and the last date. Returns ``{"weekday": {...}, "day_of_month": {...}}`` with the
    statistic, degrees of freedom, p-value and the most over-represented day and its observed/expected
    ratio. (docs/model.md §2.18 reports the IBM sample: no pattern.)"""
    from scipy import stats

    import pandas as pd

    d = pd.to_datetime(pd.Series(paid_dates)).dropna()
    if len(d) < 30:
        raise ValueError("need at least 30 settlement dates to test for payment-run days")
    weekday = np.bincount(d.dt.day_of_week.to_numpy(), minlength=7)
    if weekday[5:].sum() == 0:
        weekday = weekday[:5]
    span = pd.date_range(d.min(), d.max(), freq="D")
    expected_dom = np.bincount(span.day, minlength=32)[1:].astype(float)
    observed_dom = np.bincount(d.dt.day.to_numpy(), minlength=32)[1:]
    expected_dom *= observed_dom.sum() / expected_dom.sum()
    out = {}
    for name, obs, exp, labels in (("weekday", weekday, np.full(len(weekday), weekday.sum() / len(weekday)), WEEKDAYS),
                                   ("day_of_month", observed_dom, expected_dom, [str(i) for i in range(1, 32)])):
        keep = exp > 0
        test = stats.chisquare(obs[keep], exp[keep])
        ratio = np.where(keep, obs / np.where(keep, exp, 1), 0)
        top = int(np.argmax(ratio))
        out[name] = {"chi2": float(test.statistic), "df": int(keep.sum() - 1), "p": float(test.pvalue),
                     "top": labels[top], "top_ratio": float(ratio[top])}
    return out


def customers_on_runs(ledger, *, alpha: float = 0.01, min_settlements: int = 12):
    """Which customers settle on one weekday: per customer with at least ``min_settlements`` settled
    invoices, a chi-square test of its settlement weekdays against "any weekday alike" (the 5 working
    days, or all 7 when the ledger settles on weekends), significant at ``alpha`` after a Bonferroni
    correction over the customers tested. Returns one row per tested customer (``customer_id``, ``n``,
    ``weekday`` = most frequent, ``share`` on it, ``p``, ``on_runs``) — the share of accounts and the
    weekday a :class:`~o2c_sim.scenario.PaymentRunRule` would take."""
    import pandas as pd
    from scipy import stats

    paid = ledger.dropna(subset=["paid_date"])
    weekday = pd.to_datetime(paid["paid_date"]).dt.day_of_week
    cells = 7 if (weekday >= 5).any() else 5
    rows = []
    for customer, days in weekday.groupby(paid["customer_id"]):
        if len(days) < min_settlements:
            continue
        counts = np.bincount(days.to_numpy(), minlength=7)[:cells]
        test = stats.chisquare(counts)
        rows.append({"customer_id": customer, "n": len(days), "weekday": WEEKDAYS[int(np.argmax(counts))],
                     "share": counts.max() / len(days), "p": float(test.pvalue)})
    out = pd.DataFrame(rows, columns=["customer_id", "n", "weekday", "share", "p"])
    out["on_runs"] = out["p"] < alpha / max(len(out), 1)
    return out
