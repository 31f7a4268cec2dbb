"""The process the team ran, estimated from its activity log, as scenario values with intervals.

Each estimate is a dotted scenario path (the override mechanism's) → value, with its 95 % interval and
source, so that a calibrated scenario re-creates the history's process and shows where each value came
from (its ``provenance``):

=======================================  =================================================================
scenario path                            estimate (interval)
=======================================  =================================================================
dunning.steps.k.days_past_due            5th percentile of days past due of the level-(k+1) notices (the
                                         trigger; order-statistic interval: binomial ranks, Conover 1999)
dunning.pre_legal_days                   same, of the oldest item's days past due at agency hand-over
dunning.write_off_days                   most frequent days past due at write-off (≥ 30; hand-overs excluded)
dunning.legal.recovery_rate              share of handed-over items later paid (Wilson interval)
dunning.legal.days_to_recover            median days from hand-over to that payment
portfolio.segments.S.behaviour.rpc_rate  right-party contacts ÷ call attempts (Wilson)
portfolio.segments.S.behaviour.dispute_rate  items disputed on receipt ÷ items issued (Wilson)
strategy.ptp_max_days                    the 95th percentile of promised date − promise date
strategy.outcomes.*                      shares of contact outcomes (Wilson, each against the rest)
disputes.reasons.* / disputes.outcomes.* shares of reasons at opening / decisions at closing
disputes.info_wait_days                  mean days from dispute opened to closed, less the analysis time
=======================================  =================================================================

Reported but not written (they emerge from the hazard in a simulation): promise keep rate (the account
paid something by promised date + grace), calls and contacts per business day, plans agreed and broken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from o2c_sim.calibration.hazard_fit import RECEIPT_DAYS, prepare_log
from o2c_sim.scenario import DISPUTE_REASONS

DISPUTE_OUTCOMES = ("credit_rebill", "partial_credit", "rejected")
CONTACT_OUTCOMES = {"promise": "promise_to_pay", "dispute": "dispute", "plan": "payment_plan", "refusal": "refusal"}
MIN_COUNT = 5  # fewer observations than this: the value is reported, not written


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion k/n (statsmodels ``proportion_confint``)."""
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return float(lo), float(hi)


def quantile_interval(values: np.ndarray, q: float = 0.5) -> tuple[float, float, float]:
    """The q-quantile and its distribution-free 95 % interval: the order statistics at the binomial(n, q)
    2.5 % and 97.5 % ranks (Conover, *Practical Nonparametric Statistics*, 1999, §3.2)."""
    x = np.sort(np.asarray(values, float))
    n = len(x)
    lo = int(stats.binom.ppf(0.025, n, q))
    hi = int(min(n - 1, stats.binom.ppf(0.975, n, q)))
    return float(np.quantile(x, q, method="inverted_cdf")), float(x[max(lo - 1, 0)]), float(x[hi])


#: a notice (hand-over) is due when days past due reach the step's value on a business day, so the
#: observed days cluster just above it (weekends, minimum amounts): the trigger is a low quantile
TRIGGER_QUANTILE = 0.05
AGED_WRITE_OFF = 30  # write-offs fewer days past due than this are insolvencies, not the aging rule


@dataclass
class ProcessFit:
    """Process estimates: ``values`` (scenario path → value to write), ``provenance`` (path → estimate,
    se, ci95, source) and ``report`` (figures that emerge in a simulation, for comparison only)."""

    values: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)

    def put(self, path: str, value: Any, lo: float, hi: float, n: int, what: str, *, write: bool = True) -> None:
        self.provenance[path] = {"estimate": value, "se": None, "ci95": [round(float(lo), 4), round(float(hi), 4)],
                                 "source": f"activity log: {what} (n = {n:,})"}
        if write and n >= MIN_COUNT:
            self.values[path] = value


def _days(a: pd.Series, b: pd.Series) -> np.ndarray:
    return (pd.to_datetime(a) - pd.to_datetime(b)).dt.days.to_numpy(float)


def fit_process(activities: pd.DataFrame, items: pd.DataFrame, *, segments: dict[str, str] | None = None,
                analysis_days: float = 0.0, promise_grace_days: int = 2,
                call_minutes: tuple[float, float] | None = None, productive_minutes: float | None = None) -> ProcessFit:
    """Estimate the process from a log and its :func:`o2c_sim.calibration.hazard_fit.item_table` (due dates).

    ``segments`` maps customer_id → scenario segment name (default: one segment ``"all"``);
    ``analysis_days`` is subtracted from the dispute cycle time to give the information wait. With
    ``call_minutes`` (minutes of an attempt without contact, of a conversation) and ``productive_minutes``
    (a collector's calling minutes a day) the report gives the headcount the calls would keep fully busy:
    calls a day × mean minutes a call ÷ productive minutes — the team as it was, if it was busy (a lower
    bound otherwise; the log does not say who called).
    """
    log = prepare_log(activities)
    fit = ProcessFit()
    due = items.drop_duplicates("item_id").set_index("item_id")["due_date"]
    issue = items.drop_duplicates("item_id").set_index("item_id")["issue_date"]
    kinds = {k: g for k, g in log.groupby("kind")}
    empty = log.iloc[:0]
    get = lambda k: kinds.get(k, empty)  # noqa: E731

    # dunning cadence: days past due of each level (strictly increasing, as the schema requires)
    notices = get("notice")
    if len(notices) and "level" in notices:
        dpd = _days(notices["date"], notices["item_id"].map(due))
        level = notices["level"].fillna(1).to_numpy(int)
        last = -10**6
        for lv in sorted(set(level[np.isfinite(dpd)])):
            x = dpd[(level == lv) & np.isfinite(dpd)]
            trig, lo, hi = quantile_interval(x, TRIGGER_QUANTILE)
            value = int(max(round(trig), last + 1))
            last = value
            fit.put(f"dunning.steps.{lv - 1}.days_past_due", value, lo, hi, len(x),
                    f"5th percentile of days past due of level-{lv} notices")
        fit.report["notice_levels"] = int(level.max())

    # agency hand-over, its recovery, write-off
    handover = get("agency_handover")
    if len(handover):
        # the account's oldest item triggers the hand-over of all its past-due items
        oldest = (handover.assign(dpd=_days(handover["date"], handover["item_id"].map(due)))
                  .groupby(["customer_id", "date"])["dpd"].max().dropna().to_numpy())
        if len(oldest):
            trig, lo, hi = quantile_interval(oldest, TRIGGER_QUANTILE)
            fit.put("dunning.pre_legal_days", max(int(round(trig)), 1), lo, hi, len(oldest),
                    "5th percentile of the oldest item's days past due at agency hand-over")
        handed = handover.groupby("item_id")["date"].min()
        pay = get("payment")
        after = pay[pay["item_id"].isin(handed.index)]
        after = after[after["date"] > after["item_id"].map(handed)].groupby("item_id")["date"].min()
        if len(after):  # only hand-overs the log follows for as long as the slowest recovery took
            horizon = log["date"].max() - (after - handed.reindex(after.index)).max()
            handed = handed[handed <= horizon]
            after = after[after.index.isin(handed.index)]
        k, n = len(after), max(len(handed), 1)
        lo, hi = wilson(k, n)
        fit.put("dunning.legal.recovery_rate", round(k / n, 4), lo, hi, n, "share of handed-over items paid afterwards")
        if k:
            med, lo, hi = quantile_interval(_days(after, handed.reindex(after.index)))
            fit.put("dunning.legal.days_to_recover", max(int(round(med)), 1), lo, hi, k, "median days from hand-over to payment")
    wo = get("write_off")
    if len(wo):
        wo = wo[~wo["item_id"].isin(handover["item_id"])]
        x = _days(wo["date"], wo["item_id"].map(due))
        x = np.round(x[np.isfinite(x) & (x >= AGED_WRITE_OFF)])
        if len(x):  # aged write-offs pile up at the rule's day; insolvencies spread below it
            values, counts = np.unique(x, return_counts=True)
            mode = values[counts.argmax()]
            near = x[(x >= mode) & (x <= mode + 7)]
            fit.put("dunning.write_off_days", max(int(mode), 1), float(near.min()), float(near.max()), len(near),
                    "most frequent days past due at write-off (interval: the write-offs within a week above it)")

    # calls: right-party-contact rate per segment, outcomes, promise lag and keep rate
    seg_of = (lambda ids: ids.map(segments).fillna("all")) if segments else (lambda ids: pd.Series("all", index=ids.index))
    attempts, contacts = get("call_attempt"), get("contact")
    if len(attempts):
        a = seg_of(attempts["customer_id"]).value_counts()
        c = seg_of(contacts["customer_id"]).value_counts() if len(contacts) else pd.Series(dtype=int)
        for seg, n in a.items():
            k = int(min(c.get(seg, 0), n))
            lo, hi = wilson(k, int(n))
            fit.put(f"portfolio.segments.{seg}.behaviour.rpc_rate", round(k / n, 4), lo, hi, int(n),
                    "right-party contacts per call attempt")
        busdays = max(int(np.busday_count(log["date"].min().date(), log["date"].max().date())), 1)
        fit.report["calls_per_business_day"] = len(attempts) / busdays
        fit.report["contacts_per_business_day"] = len(contacts) / busdays
        if call_minutes and productive_minutes:
            rpc = len(contacts) / len(attempts)
            per_call = (1 - rpc) * call_minutes[0] + rpc * call_minutes[1]
            fit.report["busy_collectors_equivalent"] = len(attempts) / busdays * per_call / productive_minutes
    if len(contacts) and "outcome" in contacts and contacts["outcome"].ne("").any():
        out = contacts["outcome"]
        _put_shares(fit, "strategy.outcomes", {name: int((out == code).sum()) for code, name in CONTACT_OUTCOMES.items()},
                    "share of contacts ending in {}")
    promises = get("promise")
    if len(promises) and "promised_date" in promises:
        lag = _days(promises["promised_date"], promises["date"])
        lag = lag[np.isfinite(lag)]
        if len(lag):
            p95 = float(np.percentile(lag, 95))
            fit.put("strategy.ptp_max_days", max(int(round(p95)), 1), float(lag.min()), float(lag.max()), len(lag),
                    "95th percentile of days from promise to promised date")
            fit.report["promise_lag_mean_days"] = float(lag.mean())
        fit.report["promise_keep_rate"] = _keep_rate(promises, get("payment"), promise_grace_days)

    # disputes: rate on receipt per segment, reasons, outcomes, cycle time
    opened = get("dispute_opened").drop_duplicates("item_id")
    issued_ids = pd.Series(items["item_id"].to_numpy(), index=items["customer_id"].to_numpy())
    if len(items):
        on_receipt = opened[_days(opened["date"], opened["item_id"].map(issue)) <= np.maximum(
            RECEIPT_DAYS, _days(opened["item_id"].map(due), opened["item_id"].map(issue)))]
        seg_items = seg_of(pd.Series(issued_ids.index, index=issued_ids.to_numpy())).value_counts()
        seg_disp = seg_of(on_receipt["customer_id"]).value_counts() if len(on_receipt) else pd.Series(dtype=int)
        for seg, n in seg_items.items():
            k = int(seg_disp.get(seg, 0))
            lo, hi = wilson(k, int(n))
            fit.put(f"portfolio.segments.{seg}.behaviour.dispute_rate", round(k / n, 4), lo, hi, int(n),
                    "items disputed on receipt per item issued")
    if len(opened) and "reason" in opened:
        _put_shares(fit, "disputes.reasons", {r: int((opened["reason"] == r).sum()) for r in DISPUTE_REASONS},
                    "share of disputes with reason {}")
    closed = get("dispute_closed").drop_duplicates("item_id")
    if len(closed) and "outcome" in closed:
        _put_shares(fit, "disputes.outcomes", {o: int((closed["outcome"] == o).sum()) for o in DISPUTE_OUTCOMES},
                    "share of disputes decided {}")
    if len(closed) and len(opened):
        cycle = _days(closed.set_index("item_id")["date"], opened.set_index("item_id")["date"].reindex(closed["item_id"]))
        ok = np.isfinite(cycle)
        if ok.any():  # only disputes opened early enough that the slowest one seen could have closed
            latest = log["date"].max() - pd.Timedelta(days=float(cycle[ok].max()))
            ok &= (opened.set_index("item_id")["date"].reindex(closed["item_id"]) <= latest).to_numpy()
        cycle = cycle[ok]
        if len(cycle) >= 2:
            mean, sd = float(cycle.mean()), float(cycle.std(ddof=1))
            half = stats.t.ppf(0.975, len(cycle) - 1) * sd / np.sqrt(len(cycle))
            fit.put("disputes.info_wait_days", round(max(mean - analysis_days, 0.0), 2), max(mean - half - analysis_days, 0.0),
                    mean + half - analysis_days, len(cycle), "mean dispute cycle time less the analysis time")
            fit.report["dispute_cycle_days_mean"] = mean
    fit.report["plans_agreed"] = len(get("plan_agreed"))
    fit.report["plans_broken"] = len(get("plan_broken"))
    return fit


def _put_shares(fit: ProcessFit, prefix: str, counts: dict[str, int], what: str) -> None:
    """Shares of a categorical outcome under ``prefix.<category>`` (summing to 1), each with its Wilson
    interval against the rest; nothing when fewer than ``MIN_COUNT`` were observed."""
    total = sum(counts.values())
    if total < MIN_COUNT:
        return
    rounded = _shares(counts)
    for name, k in counts.items():
        lo, hi = wilson(k, total)
        fit.put(f"{prefix}.{name}", rounded[name], lo, hi, total, what.format(name))


def _shares(counts: dict[str, int]) -> dict[str, float]:
    """Counts as shares rounded to 4 decimals that sum to exactly 1 (the rest to the largest)."""
    total = sum(counts.values())
    out = {k: round(v / total, 4) for k, v in counts.items()}
    big = max(out, key=out.get)
    out[big] = round(out[big] + 1.0 - sum(out.values()), 4)
    return out


def _keep_rate(promises: pd.DataFrame, payments: pd.DataFrame, grace: int) -> float | None:
    """Share of promises after which the account paid something by promised date + ``grace`` days."""
    if promises.empty:
        return None
    p = promises[["customer_id", "date", "promised_date"]].dropna().reset_index(drop=True)
    pay = payments[["customer_id", "date"]].rename(columns={"date": "paid"}).sort_values("paid")
    left = p.assign(pos=np.arange(len(p))).sort_values("date")
    m = pd.merge_asof(left, pay, left_on="date", right_on="paid", by="customer_id", direction="forward",
                      allow_exact_matches=False)
    kept = m["paid"].notna() & (m["paid"] <= m["promised_date"] + pd.Timedelta(days=grace))
    return float(kept.mean())
