"""Calibration: fit payer behaviour from a paid history, write a scenario, check it by simulation.

Steps (DESIGN §6):

1. **Delays.** For each settled invoice, delay = paid_date − due_date in days (negative = early);
   late ⇔ delay ≥ 1, days late = max(0, delay).
2. **Customer lateness with shrinkage.** Customer *i* has kᵢ late invoices out of nᵢ. Late rates get
   an empirical-Bayes beta-binomial prior Beta(a, b), fitted by maximum likelihood over all customers;
   the shrunk rate is the posterior mean (kᵢ + a) / (nᵢ + a + b), so customers with few invoices move
   toward the pooled mean a / (a + b) (Efron & Morris 1975; Robinson, *Introduction to Empirical Bayes*).
3. **Segments.** Customers are clustered on the shrunk rate (1-D k-means) into lateness clusters;
   segments are cluster × billing channel, each invoice counted in the cell of its own channel.
4. **Hazard per segment** (:mod:`o2c_sim.calibration.hazard_fit`). The invoice table becomes an activity log
   (``issued``, ``payment``; a disputed invoice is marked as disputed on receipt) and the discrete-time
   hazard regression fits each segment's baseline daily intensity by days-past-due band
   (:data:`INVOICE_BANDS`, fine enough that the days-late distribution is reproduced), the account
   frailty variance within segments and the disputed-on-receipt multiplier — each with its interval,
   written into the scenario's ``provenance``. The table records no collection actions, so the action
   effects keep their documented defaults and collection is switched off (step 6).
5. **Survival.** Kaplan–Meier (statsmodels ``SurvfuncRight``) time-to-pay from the invoice date, open
   invoices censored at the as-of date; Cox proportional hazards (``PHReg``, Efron ties) with
   covariates disputed and paper billing. Hazard ratio < 1 = slower payment.
6. **Check.** The scenario is simulated with collection effort switched off (the history already
   contains the collection effort of its time) and compared with the history: late rate, mean days
   late, two-sample Kolmogorov–Smirnov statistic on days late, P(late | disputed), P(late |
   undisputed), late rate by channel.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import optimize, stats

from o2c_sim.errors import UserError
from o2c_sim.data.invoice_table import one_currency
from o2c_sim.calibration.hazard_fit import FitOptions, HazardFit, fit_hazard, hazard_block, invoice_activities, person_period, provenance
from o2c_sim.data.rundir import atomic_dir, atomic_write_text, write_json
from o2c_sim.scenario import Hazard, Scenario, apply_overrides, from_dict

CLUSTER_NAMES = {1: ("all",), 2: ("prompt", "late"), 3: ("prompt", "average", "late"), 4: ("prompt", "average", "slow", "late")}
TERMS = (7, 14, 30, 45, 60)  # the terms the scenario schema accepts
#: days-past-due band edges of an invoice-only calibration: fine around the due date and in the first
#: weeks late, where most payments fall, so that the days-late distribution is reproduced
INVOICE_BANDS = (-30, -20, -10, -5, -2, 0, 1, 2, 4, 7, 10, 14, 18, 23, 30, 40, 55, 75)
MIN_HISTORY = 30  # settled invoices needed to calibrate at all
DAYS_PER_MONTH = 365.25 / 12
CAVEATS = (
    "The history already contains the collection effort of its time (reminders, calls); the calibrated "
    "delays are therefore 'natural delay under the old collection regime'. The scenario switches "
    "simulated collection off (dunning.enabled false, team.collectors 0) so that it reproduces the history; "
    "switching it back on adds the effect of collection on top of that, which double-counts part of it.",
    "Disputes are resolved immediately and rejected (no credit notes) so that they do not bind: the "
    "history's dispute handling is already inside the disputed invoices' hazard (disputed_multiplier).",
    "The invoice table records no collection actions, so the action effects are the documented defaults, "
    "not estimates; calibrating from an activity log (--activities) estimates them.",
    "Silent payers, partial payments, unapplied cash and insolvencies are set to zero: the invoice table "
    "does not record them.",
)


# ------------------------------------------------------------------------------------------- history


def payment_history(table: pd.DataFrame) -> pd.DataFrame:
    """Settled invoices with ``delay`` (paid − due, days), ``days_late`` = max(0, delay), ``late`` = delay ≥ 1."""
    if "paid_date" not in table:
        raise UserError("calibration needs paid history: the ledger has no paid_date column")
    paid = table[table["paid_date"].notna() & (table["amount"] > 0)].copy()  # credit notes have no payer delay
    paid["delay"] = (paid["paid_date"] - paid["due_date"]).dt.days.astype("int64")
    paid["days_late"] = paid["delay"].clip(lower=0)
    paid["late"] = paid["delay"] >= 1
    if "disputed" not in paid:
        paid["disputed"] = False
    if "channel" not in paid or paid["channel"].eq("").all():
        paid["channel"] = "electronic"
    paid["channel"] = paid["channel"].replace("", "unknown")
    return paid.reset_index(drop=True)


# ---------------------------------------------------------------------------------------- shrinkage


def beta_binomial_prior(k: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood Beta(a, b) prior of per-customer rates, from kᵢ successes out of nᵢ trials.

    Maximises Σ log BetaBinomial(kᵢ | nᵢ, a, b) over log a, log b (starting from the method of moments).
    """
    k, n = np.asarray(k, float), np.asarray(n, float)
    p = k.sum() / n.sum()
    if p in (0.0, 1.0):  # no variation to fit: a tight prior at the pooled rate
        return (1e3 * p + 1e-3, 1e3 * (1 - p) + 1e-3)
    rates = k / n
    var = max(rates.var(), 1e-6)
    start = max(p * (1 - p) / var - 1.0, 0.1)

    def nll(x: np.ndarray) -> float:
        a, b = np.exp(x)
        return -stats.betabinom.logpmf(k, n, a, b).sum()

    res = optimize.minimize(nll, np.log([p * start, (1 - p) * start]), method="Nelder-Mead",
                            options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 2000})
    a, b = np.exp(res.x)
    return float(a), float(b)


def customer_lateness(history: pd.DataFrame) -> tuple[pd.DataFrame, tuple[float, float]]:
    """Per customer: invoices, late, raw and shrunk late rate (posterior mean (k + a)/(n + a + b)); and (a, b)."""
    g = history.groupby("customer_id")["late"]
    cust = pd.DataFrame({"invoices": g.size(), "late": g.sum()})
    a, b = beta_binomial_prior(cust["late"].to_numpy(), cust["invoices"].to_numpy())
    cust["raw_rate"] = cust["late"] / cust["invoices"]
    cust["shrunk_rate"] = (cust["late"] + a) / (cust["invoices"] + a + b)
    return cust, (a, b)


def kmeans_1d(x: np.ndarray, k: int, iterations: int = 100) -> np.ndarray:
    """Labels 0..k−1 (ordered by centre) of 1-D k-means (Lloyd), started at the (j + ½)/k quantiles."""
    x = np.asarray(x, float)
    k = max(1, min(k, len(np.unique(x))))
    centres = np.quantile(x, (np.arange(k) + 0.5) / k)
    for _ in range(iterations):
        labels = np.abs(x[:, None] - centres[None, :]).argmin(axis=1)
        new = np.array([x[labels == j].mean() if (labels == j).any() else centres[j] for j in range(k)])
        if np.allclose(new, centres):
            break
        centres = new
    order = np.argsort(centres)
    return np.argsort(order)[labels]


def cluster_names(k: int) -> tuple[str, ...]:
    return CLUSTER_NAMES.get(k) or tuple(f"lateness_{j + 1}" for j in range(k))


# ---------------------------------------------------------------------------------------- hazard


def fit_invoice_hazard(history: pd.DataFrame, *, weekmask: str) -> HazardFit:
    """The hazard regression of :mod:`o2c_sim.calibration.hazard_fit` on an invoice-only history (segments as given in
    ``history["segment"]``; no targeting controls, as there are no actions to target)."""
    options = FitOptions(bands=INVOICE_BANDS, weekmask=weekmask, targeting_controls=False, frailty=False,
                         disputed_by_segment=True)
    invoices = history[["invoice_id", "customer_id", "invoice_date", "due_date", "amount", "segment"]]
    table = person_period(invoice_activities(history), invoices, options)
    return fit_hazard(table, options)


# -------------------------------------------------------------------------------------------- survival


def _km_median(time: np.ndarray, status: np.ndarray) -> float | None:
    from statsmodels.duration.survfunc import SurvfuncRight

    if len(time) == 0 or status.sum() == 0:
        return None
    q = SurvfuncRight(time, status).quantile(0.5)
    return None if q is None or not np.isfinite(q) else float(q)


def fit_survival(table: pd.DataFrame, as_of: pd.Timestamp | None = None) -> dict[str, Any]:
    """Kaplan–Meier medians of days to pay and a Cox model with covariates disputed and paper.

    Time = paid_date − invoice_date (days); open invoices are censored at ``as_of`` (default the latest
    date in the table). Returns ``{"as_of", "invoices", "open", "median_days_to_pay": {group: days},
    "cox": {covariate: {"hazard_ratio", "ci95", "p_value"}}}``.
    """
    from statsmodels.duration.hazard_regression import PHReg

    if as_of is None:
        as_of = max(table["invoice_date"].max(), table["paid_date"].max())
    as_of = pd.Timestamp(as_of)
    paid = table["paid_date"].notna() & (table["paid_date"] <= as_of)
    keep = table["invoice_date"] <= as_of
    end = table["paid_date"].where(paid, as_of)
    time = (end - table["invoice_date"]).dt.days.to_numpy(float)[keep]
    status = paid.to_numpy(int)[keep]
    disputed = (table["disputed"] if "disputed" in table else pd.Series(False, index=table.index)).to_numpy(bool)[keep]
    channel = (table["channel"] if "channel" in table else pd.Series("", index=table.index)).to_numpy(str)[keep]
    paper = channel == "paper"
    groups = {"all": np.ones(len(time), bool), "disputed": disputed, "undisputed": ~disputed}
    if paper.any() and (~paper).any():
        groups |= {"paper": paper, "not paper": ~paper}
    out: dict[str, Any] = {
        "as_of": f"{as_of:%Y-%m-%d}", "invoices": int(len(time)), "open": int((status == 0).sum()),
        "median_days_to_pay": {g: _km_median(time[m], status[m]) for g, m in groups.items()},
        "cox": {},
    }
    covariates = {name: x for name, x in (("disputed", disputed), ("paper", paper)) if 0 < x.sum() < len(x)}
    if covariates and status.sum() > len(covariates):
        exog = np.column_stack([x.astype(float) for x in covariates.values()])
        res = PHReg(time, exog, status=status, ties="efron").fit()
        ci = np.exp(res.conf_int())
        for j, name in enumerate(covariates):
            out["cox"][name] = {"hazard_ratio": round(float(np.exp(res.params[j])), 4),
                                "ci95": [round(float(ci[j, 0]), 4), round(float(ci[j, 1]), 4)],
                                "p_value": float(res.pvalues[j])}
    return out


# ----------------------------------------------------------------------------------------- calibrate


@dataclass
class Calibration:
    """The fitted scenario and everything the report needs."""

    scenario: Scenario
    history: pd.DataFrame  # settled invoices with delay, late, cluster, segment
    customers: pd.DataFrame  # per customer: invoices, late, raw_rate, shrunk_rate, cluster
    segments: pd.DataFrame  # per segment: cluster, channel, invoices, share, dispute_rate, late rates
    prior: tuple[float, float]  # beta-binomial (a, b) of customer late rates
    survival: dict[str, Any]
    hazard: HazardFit | None = None  # the hazard regression behind the segments' behaviour.hazard
    provenance: dict[str, Any] = field(default_factory=dict)  # scenario path -> {estimate, se, ci95, source}
    notes: list[str] = field(default_factory=list)


def nearest_terms(days: float) -> int:
    """The allowed payment term (7/14/30/45/60) nearest to ``days``."""
    return min(TERMS, key=lambda t: (abs(t - days), t))


def _lognormal(amounts: pd.Series) -> dict[str, float]:
    """Median = exp(mean log x), sigma = sd log x, minimum = smallest amount (lognormal by moments of logs)."""
    logs = np.log(amounts[amounts > 0].to_numpy(float))
    if len(logs) == 0:
        return {"median": 1.0, "sigma": 0.0, "minimum": 0.0}
    return {"median": round(float(np.exp(logs.mean())), 2), "sigma": round(float(logs.std()), 4),
            "minimum": round(float(np.exp(logs.min())), 2)}


#: how to calibrate a ledger in several currencies (docs/model.md §2.24)
ONE_AT_A_TIME = "calibrate one currency's rows at a time, or convert the money with a mapping's 'currency' section"


def calibrate(table: pd.DataFrame, *, name: str = "calibrated", clusters: int = 3, seed: int = 12345) -> Calibration:
    """Fit segments and payer behaviour from an invoice table with paid history; see the module docstring."""
    one_currency(table, None, what="calibration", choose=ONE_AT_A_TIME)  # amounts are fitted as one distribution
    history = payment_history(table)
    if len(history) < MIN_HISTORY:
        raise UserError(f"calibration needs at least {MIN_HISTORY} settled invoices (paid_date set); found {len(history)}")
    customers, prior = customer_lateness(history)
    names = cluster_names(max(1, min(clusters, customers["shrunk_rate"].nunique())))
    labels = pd.Series(kmeans_1d(customers["shrunk_rate"].to_numpy(), len(names)), index=customers.index)
    customers["cluster"] = labels.map(dict(enumerate(names)))
    history["cluster"] = history["customer_id"].map(customers["cluster"])
    channels = sorted(history["channel"].unique())
    history["segment"] = history["cluster"] + ("_" + history["channel"] if len(channels) > 1 else "")

    span_days = max((table["invoice_date"].max() - table["invoice_date"].min()).days, 1)
    per_month = len(table) / table["customer_id"].nunique() / (span_days / DAYS_PER_MONTH)
    terms = nearest_terms(float((history["due_date"] - history["invoice_date"]).dt.days.median()))
    weekend = history["paid_date"].dt.day_of_week.ge(5).any() or history["invoice_date"].dt.day_of_week.ge(5).any()
    weekmask = "Mon Tue Wed Thu Fri Sat Sun" if weekend else "Mon Tue Wed Thu Fri"
    fit_table = _with_segments(table, history)
    hazard = fit_invoice_hazard(fit_table, weekmask=weekmask)
    defaults = Hazard().model_dump(mode="json")

    segments, rows = [], []
    for _, cell in history.groupby([history["customer_id"].map(labels), "channel"]):  # prompt clusters first
        seg_name = cell["segment"].iloc[0]
        disputed = cell.loc[cell["disputed"], "delay"]
        behaviour: dict[str, Any] = {
            "hazard": hazard_block(hazard, seg_name, defaults),
            "dispute_rate": round(float(cell["disputed"].mean()), 4),
            "silent_share": 0.0, "partial_payment_rate": 0.0, "unapplied_rate": 0.0, "insolvency_rate_annual": 0.0,
        }
        segments.append({
            "name": seg_name, "share": len(cell) / len(history), "terms_days": terms,
            "channel": cell["channel"].iloc[0], "invoices_per_month": round(per_month, 3), "recurring_share": 0.0,
            "amounts": _lognormal(cell["amount"]), "behaviour": behaviour,
        })
        rows.append({"segment": seg_name, "cluster": cell["cluster"].iloc[0], "channel": cell["channel"].iloc[0],
                     "customers": cell["customer_id"].nunique(), "invoices": len(cell),
                     "dispute_rate": cell["disputed"].mean(), "late_rate": cell["late"].mean(),
                     "late_rate_undisputed": cell.loc[~cell["disputed"], "late"].mean(),
                     "late_rate_disputed": cell.loc[cell["disputed"], "late"].mean() if len(disputed) else None,
                     "mean_days_late": cell["days_late"].mean()})
    _fix_shares(segments)
    prov = provenance(hazard, [s["name"] for s in segments], "invoice history")

    max_delay = int(history["delay"].max())
    warmup = min(terms + max(max_delay, 0) + 30, 1830)
    start = table["invoice_date"].min().date()
    scenario = from_dict({
        "name": name,
        "description": (f"Calibrated from {len(history):,} settled invoices of {customers.shape[0]:,} customers "
                        f"({start} .. {table['invoice_date'].max().date()}); collection effort switched off "
                        "so that a simulation reproduces the history."),
        "seed": seed, "start_date": start.isoformat(), "horizon_days": max(30, min(span_days, 3660)),
        "warmup_days": warmup, "replications": 5,
        "calendar": {"weekmask": weekmask},
        "portfolio": {"accounts": int(customers.shape[0]), "segments": segments},
        "dunning": {"enabled": False},
        "team": {"collectors": 0, "dispute_analysts": 10, "cash_app_clerks": 1},
        "work": {"dispute_analysis": 1.0},
        "disputes": {"enabled": True, "info_wait_days": 0.0, "outcomes": {"credit_rebill": 0.0, "partial_credit": 0.0, "rejected": 1.0}},
        "payment_plans": {"enabled": False},
        "inbound": {"enabled": False},
        "provenance": prov,
    }, source="calibrated scenario")
    segment_table = pd.DataFrame(rows).set_index("segment").loc[[s.name for s in scenario.portfolio.segments]]
    segment_table["share"] = [s.share for s in scenario.portfolio.segments]
    notes = [f"{int(table['paid_date'].isna().sum()):,} open invoices were left out of the delay fit "
             "(they are censored in the survival analysis)."] if table["paid_date"].isna().any() else []
    return Calibration(scenario=scenario, history=history, customers=customers, segments=segment_table,
                       prior=prior, survival=fit_survival(table[table["amount"] > 0]), hazard=hazard, provenance=prov, notes=notes)


def _with_segments(table: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Every invoice of a customer with settled history (open ones too: censored), with its segment
    (the customer's lateness cluster × the invoice's channel, as :func:`calibrate` names them)."""
    cluster = history.drop_duplicates("customer_id").set_index("customer_id")["cluster"]
    out = table[table["customer_id"].isin(cluster.index) & (table["amount"] > 0)].copy()  # credit notes: no payer
    channel = (out["channel"].replace("", "unknown") if "channel" in out else pd.Series("electronic", index=out.index))
    channels = history["channel"].unique()
    out["segment"] = out["customer_id"].map(cluster) + ("_" + channel if len(channels) > 1 else "")
    out["disputed"] = out["disputed"].astype(bool) if "disputed" in out else False
    return out


def _fix_shares(segments: list[dict[str, Any]]) -> None:
    """Round shares to 6 decimals so that they still sum to exactly 1 (the rest goes to the largest)."""
    for s in segments:
        s["share"] = round(s["share"], 6)
    biggest = max(segments, key=lambda s: s["share"])
    biggest["share"] = round(biggest["share"] + 1.0 - sum(s["share"] for s in segments), 6)


# -------------------------------------------------------------------------------------------- compare


def late_figures(table: pd.DataFrame) -> dict[str, float | None]:
    """Late rate, mean days late, P(late | disputed), P(late | undisputed), late rate per channel."""
    h = payment_history(table)
    rate = lambda m: float(h.loc[m, "late"].mean()) if m.any() else None  # noqa: E731
    out: dict[str, float | None] = {
        "invoices": float(len(h)),
        "late_rate": rate(h["late"].notna()),
        "mean_days_late": float(h["days_late"].mean()),
        "mean_days_late_when_late": float(h.loc[h["late"], "days_late"].mean()) if h["late"].any() else None,
        "dispute_rate": float(h["disputed"].mean()),
        "p_late_disputed": rate(h["disputed"]),
        "p_late_undisputed": rate(~h["disputed"]),
    }
    for ch in sorted(h["channel"].unique()):
        out[f"late_rate_{ch}"] = rate(h["channel"] == ch)
    return out


def compare(history: pd.DataFrame, simulated: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """History vs simulation: each figure of :func:`late_figures` plus the two-sample KS statistic on days late.

    KS D = sup_x |F_hist(x) − F_sim(x)| over days late = max(0, paid − due) (``scipy.stats.ks_2samp``).
    Returns ``{figure: {"history", "simulated", "difference"}}``.
    """
    hist, sim = late_figures(history), late_figures(simulated)
    out = {}
    for key in hist.keys() | sim.keys():
        h, s = hist.get(key), sim.get(key)
        out[key] = {"history": h, "simulated": s, "difference": None if h is None or s is None else s - h}
    ks = stats.ks_2samp(payment_history(history)["days_late"], payment_history(simulated)["days_late"])
    out["ks_days_late"] = {"history": None, "simulated": float(ks.statistic), "difference": None, "p_value": float(ks.pvalue)}
    return dict(sorted(out.items(), key=lambda kv: _FIGURE_ORDER.get(kv[0], 99)))


_FIGURE_ORDER = {k: i for i, k in enumerate((
    "invoices", "late_rate", "mean_days_late", "mean_days_late_when_late", "ks_days_late", "dispute_rate",
    "p_late_disputed", "p_late_undisputed"))}


def comparison_table(comparison: dict[str, dict[str, float | None]]) -> str:
    """The comparison as an aligned text table (rates in %, days with two decimals)."""
    def fmt(key: str, v: float | None) -> str:
        if v is None:
            return "—"
        if key == "invoices":
            return f"{v:,.0f}"
        if key.startswith(("late_rate", "p_late", "dispute_rate")):
            return f"{v:.1%}"
        return f"{v:.3f}" if key == "ks_days_late" else f"{v:.2f}"
    lines = [f"{'figure':<28}{'history':>10}{'simulated':>11}{'diff':>9}"]
    for key, row in comparison.items():
        diff = row["difference"]
        if diff is None or key == "invoices":
            d = ""
        elif key.startswith(("late_rate", "p_late", "dispute_rate")):
            d = f"{diff * 100:+.1f}pp"
        else:
            d = f"{diff:+.2f}"
        lines.append(f"{key:<28}{fmt(key, row['history']):>10}{fmt(key, row['simulated']):>11}{d:>9}")
    return "\n".join(lines)


def simulated_history(scenario: Scenario, *, replications: int | None = None, accounts: int | None = None) -> pd.DataFrame:
    """Invoices of ``replications`` simulation runs of ``scenario``, issued after the warm-up and due early
    enough before the end that their natural payment is observed (pooled into one table)."""
    try:
        from o2c_sim.sim.model import simulate
    except ImportError as exc:  # the engine is an optional part while it is being built
        raise UserError(f"the simulation engine is not available ({exc}); cannot check the calibration") from None
    if accounts is not None:
        scenario = scenario.with_overrides({"portfolio.accounts": accounts})
    frames = []
    start = pd.Timestamp(scenario.start_date)
    end = start + pd.Timedelta(days=scenario.horizon_days)
    margin = pd.Timedelta(days=_max_late_days(scenario) + 1)
    for r in range(replications or scenario.replications):
        inv = simulate(scenario, replication=r).invoices
        keep = (inv["invoice_date"] >= start) & (inv["due_date"] + margin <= end)
        frames.append(inv[keep].assign(invoice_id=lambda d, r=r: f"r{r}-" + d["invoice_id"].astype(str)))
    return pd.concat(frames, ignore_index=True)


def _max_late_days(scenario: Scenario) -> int:
    """Days past due by which all but 1 % of the items still open at the last band's edge have paid, in
    the slowest segment: last edge + ln(100) / h0(last band) (capped at a year)."""
    out = 0.0
    for seg in scenario.portfolio.segments:
        h = seg.behaviour.hazard
        out = max(out, h.bands[-1] + math.log(100.0) / min(h.daily[-1], h.daily[-1] * h.disputed_multiplier))
    return int(min(math.ceil(out), 365))


# --------------------------------------------------------------------------------------------- report


def report_figures(calibration: Calibration, simulated: pd.DataFrame | None,
                   comparison: dict[str, Any] | None = None) -> dict[str, Any]:
    """Plotly figures: days-late distribution, late rates, Kaplan–Meier curves, customer shrinkage."""
    import plotly.express as px
    import plotly.graph_objects as go

    hist = calibration.history
    figs: dict[str, Any] = {}
    fig = go.Figure()
    for label, frame in (("history", hist), ("simulated", payment_history(simulated) if simulated is not None else None)):
        if frame is not None:
            share = frame["days_late"].value_counts(normalize=True).sort_index().cumsum()
            fig.add_scatter(x=share.index, y=share.to_numpy(), mode="lines", line_shape="hv", name=label)
    fig.update_layout(title="Days late (max(0, paid − due)): empirical CDF", xaxis_title="days late", yaxis_title="share ≤ x")
    figs["days_late"] = fig

    if simulated is not None:
        cmp = comparison or compare(hist, simulated)
        keys = [k for k in cmp if k.startswith(("late_rate", "p_late"))]
        long = pd.DataFrame([{"figure": k, "source": src, "value": cmp[k][src]} for k in keys for src in ("history", "simulated")])
        figs["late_rates"] = px.bar(long, x="figure", y="value", color="source", barmode="group",
                                    title="Late rates: history vs simulation").update_yaxes(tickformat=".0%")

    from statsmodels.duration.survfunc import SurvfuncRight

    fig = go.Figure()
    time = (hist["paid_date"] - hist["invoice_date"]).dt.days.to_numpy(float)
    for (disp, ch), m in hist.groupby(["disputed", "channel"]).groups.items():
        sf = SurvfuncRight(time[hist.index.get_indexer(m)], np.ones(len(m)))
        fig.add_scatter(x=sf.surv_times, y=sf.surv_prob, mode="lines", line_shape="hv",
                        name=f"{'disputed' if disp else 'undisputed'}, {ch}")
    fig.update_layout(title="Kaplan–Meier: share of invoices still unpaid", xaxis_title="days since invoice date",
                      yaxis_title="share unpaid")
    figs["time_to_pay"] = fig

    cust = calibration.customers.reset_index()
    figs["customers"] = px.scatter(cust, x="raw_rate", y="shrunk_rate", size="invoices", color="cluster",
                                   hover_name="customer_id", title="Customer late rates: raw vs empirical-Bayes shrunk")
    return figs


def report_data(calibration: Calibration, comparison: dict[str, Any] | None, *, simulation: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything of the fit as plain JSON-able data (``fit.json``)."""
    a, b = calibration.prior
    seg = calibration.segments.reset_index()
    return {
        "scenario": calibration.scenario.name,
        "history": {"settled_invoices": len(calibration.history), "customers": int(calibration.customers.shape[0])},
        "shrinkage": {"method": "beta-binomial empirical Bayes, posterior mean (k + a) / (n + a + b)",
                      "prior_a": a, "prior_b": b, "prior_mean": a / (a + b), "prior_strength_invoices": a + b},
        "segments": json.loads(seg.to_json(orient="records")),
        "survival": calibration.survival,
        "hazard": calibration.hazard.to_json() if calibration.hazard is not None else None,
        "provenance": calibration.provenance,
        "comparison": comparison,
        "simulation": simulation,
        "notes": calibration.notes,
        "caveats": list(CAVEATS),
    }


def write_report(out_dir: str | os.PathLike, calibration: Calibration, comparison: dict[str, Any] | None,
                 simulated: pd.DataFrame | None, *, simulation: dict[str, Any] | None = None) -> Path:
    """Write ``fit.json`` and the figures (HTML; plotly.js once beside them) into the new directory ``out_dir``.

    Written atomically (:func:`o2c_sim.data.rundir.atomic_dir`); an existing non-empty directory is never overwritten.
    """
    with atomic_dir(out_dir) as tmp:
        write_json(tmp / "fit.json", report_data(calibration, comparison, simulation=simulation))
        for name, fig in report_figures(calibration, simulated, comparison).items():
            fig.write_html(tmp / f"{name}.html", include_plotlyjs="directory")
    return Path(out_dir)


def scenario_yaml(scenario: Scenario) -> str:
    """The scenario as YAML with every value written out; lists of numbers (quantiles) on one line each."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, default_flow_style=None, width=120,
                          allow_unicode=True)


def write_scenario(path: str | os.PathLike, scenario: Scenario) -> Path:
    """Write the calibrated scenario to a new file ``path`` (atomically; an existing file is never overwritten)."""
    path = Path(path)
    if path.exists():
        raise UserError("already exists; a scenario is never overwritten — choose another --out or remove it", source=str(path))
    header = "# Written by o2c-sim calibrate; its fit report shows how well a simulation reproduces the history.\n"
    return atomic_write_text(path, header + scenario_yaml(scenario))


# ----------------------------------------------------------------------------- from an activity log


@dataclass
class ActivityCalibration:
    """A scenario calibrated from an activity log: the hazard fit, the process fit, their provenance."""

    scenario: Scenario
    hazard: HazardFit
    process: Any  # o2c_sim.calibration.process_fit.ProcessFit
    provenance: dict[str, Any]
    items: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def report_data(self, comparison: dict[str, Any] | None = None) -> dict[str, Any]:
        """fit.json: every estimate with its interval, the process figures, the observed vs simulated curves."""
        return {"scenario": self.scenario.name, "hazard": self.hazard.to_json(), "process": self.process.report,
                "provenance": self.provenance, "comparison": comparison, "notes": self.notes,
                "identification": IDENTIFICATION}


IDENTIFICATION = (
    "Targeting is separated from effect by conditioning on what a worklist ranks by: days past due (the "
    "baseline bands), the account's past-due balance (band controls), the account's persistent frailty "
    "(integrated out, gamma), and having been selected for a call (a recent call attempt). A right-party "
    "contact is compared with an attempt that did not reach anyone, which is chance. Effects of actions that "
    "always happen at the same days past due (a cadence sent to everyone) are identified only through "
    "exceptions (minimum amounts, disputes, promises, weekends) and carry wide intervals.",
    "Windows (how long an action stays recent) are not estimated: they are the base scenario's.",
)


def calibrate_activities(activities: pd.DataFrame, invoices: pd.DataFrame | None = None, *, base: Scenario,
                         name: str = "calibrated") -> ActivityCalibration:
    """Fit the payer hazard (:mod:`o2c_sim.calibration.hazard_fit`) and the process (:mod:`o2c_sim.calibration.process_fit`) from an
    activity log, and write them into ``base``: segments (from the invoice table's ``segment``, else one
    segment ``all``) get volume, amounts, terms and ``behaviour.hazard``; the cadence, agency, call and
    dispute settings become the log's. Everything the log cannot identify stays ``base``'s."""
    from o2c_sim.calibration.hazard_fit import item_table, prepare_log
    from o2c_sim.calibration.process_fit import fit_process

    one_currency(activities, None, what="calibration", choose=ONE_AT_A_TIME)  # amounts, promised sums …
    if invoices is not None:
        one_currency(invoices, None, what="calibration", choose=ONE_AT_A_TIME)

    log = prepare_log(activities)
    items = item_table(log, invoices)
    ref = base.portfolio.segments[0].behaviour.hazard
    options = FitOptions(bands=tuple(ref.bands), weekmask=base.calendar.weekmask,
                         holidays=tuple(base.calendar.holidays),
                         windows={"contact": ref.effects.contact.window_days, "promise": ref.effects.promise.window_days,
                                  "fee": ref.effects.fee.window_days},
                         notice_windows=tuple(e.window_days for e in ref.effects.notice))
    hazard = fit_hazard(person_period(activities, invoices, options), options)
    segment_of = items.drop_duplicates("customer_id").set_index("customer_id")["segment"]
    team, work = base.team, base.work
    process = fit_process(activities, items, segments=segment_of.to_dict(),
                          analysis_days=work.dispute_analysis / 60.0 / team.hours_per_day,
                          promise_grace_days=base.strategy.promise_grace_days,
                          call_minutes=(work.call_attempt, work.conversation),
                          productive_minutes=team.hours_per_day * 60 * (1 - team.shrinkage) * (1 - team.absence_rate))

    data = base.model_dump(mode="json")
    base_segments = {s["name"]: s for s in data["portfolio"]["segments"]}
    span_months = max((items["issue_date"].max() - items["issue_date"].min()).days, 1) / DAYS_PER_MONTH
    accounts = items.groupby("segment")["customer_id"].nunique()
    segments = []
    for seg in sorted(accounts.index):
        mine = items[items["segment"] == seg]
        spec = dict(base_segments.get(seg, data["portfolio"]["segments"][0]))
        behaviour = dict(spec["behaviour"])
        behaviour["hazard"] = hazard_block(hazard, seg, behaviour["hazard"])
        behaviour["silent_share"] = 0.0  # the fitted frailty variance holds them already (notes below)
        spec.update(name=seg, share=float(accounts[seg] / accounts.sum()),
                    terms_days=nearest_terms(float((mine["due_date"] - mine["issue_date"]).dt.days.median())),
                    invoices_per_month=round(len(mine) / accounts[seg] / span_months, 3),
                    amounts=_lognormal(mine["amount"].dropna()), behaviour=behaviour)
        segments.append(spec)
    _fix_shares(segments)
    data.update(name=name, description=f"Calibrated from an activity log of {len(items):,} items and "
                f"{int(accounts.sum()):,} customers; see provenance for every estimate.")
    data["portfolio"] = {**data["portfolio"], "accounts": int(accounts.sum()), "segments": segments}
    data = apply_overrides(data, {k: v for k, v in process.values.items() if _settable(data, k)})
    notes = ["silent payers: share set to 0 in every segment — the fitted Gamma frailty variance already "
             "describes all payers' differences, the near-silent ones included; keeping the base scenario's "
             "share on top would count those payers twice"]
    if hazard.effect("credit_hold") is not None:  # the team placed holds: the scenario places them too
        data["credit_holds"] = {**data["credit_holds"], "enabled": True}
        notes.append("credit holds: the log records them, so they are on, with the estimated multiplier; when "
                     "they are placed (over the limit, past the days past due) is the base scenario's rule — "
                     "an activity log does not carry the credit limits")
    prov = {**provenance(hazard, [s["name"] for s in segments], "activity log"), **process.provenance}
    data["provenance"] = prov
    scenario = from_dict(data, source="scenario calibrated from the activity log")
    return ActivityCalibration(scenario=scenario, hazard=hazard, process=process, provenance=prov, items=items,
                               notes=[f"not identified by the log (kept from the base scenario): "
                                      f"{', '.join(hazard.summary['not_identified']) or 'none'}", *notes])


def _settable(data: dict[str, Any], path: str) -> bool:
    """Whether a dotted path names something that exists in ``data`` (a dunning step the base has, a segment)."""
    node: Any = data
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, list) and any(isinstance(x, dict) and x.get("name") == part for x in node):
            node = next(x for x in node if isinstance(x, dict) and x.get("name") == part)
        else:
            return False
    return True


def payment_curves(activities: pd.DataFrame, invoices: pd.DataFrame | None = None, *, horizon: int = 90) -> pd.DataFrame:
    """Share of items paid by each day past due (−30 … ``horizon``; items due at least ``horizon`` days
    before the log ends), by the strongest action the item's account saw while it was open: ``none``, ``notice``, ``contact``, ``promise`` — the observed-vs-simulated
    check of a calibration (the same function reads both logs)."""
    from o2c_sim.calibration.hazard_fit import item_table, prepare_log

    log = prepare_log(activities)
    items = item_table(log, invoices).drop_duplicates("item_id").set_index("item_id")
    items = items[items["due_date"] + pd.Timedelta(days=horizon) <= log["date"].max()]  # observed to the horizon
    pay = log[log["kind"] == "payment"].groupby("item_id")["date"].min().reindex(items.index)
    end = pay.fillna(log["date"].max())
    dpd_paid = (pay - items["due_date"]).dt.days
    group = pd.Series("none", index=items.index)
    for kind, label in (("notice", "notice"), ("contact", "contact"), ("promise", "promise")):
        acts = log[log["kind"] == kind]
        by_item = acts[acts["item_id"] != ""][["item_id", "date"]]
        by_acct = acts[acts["item_id"] == ""][["customer_id", "date"]].merge(
            items.reset_index()[["item_id", "customer_id"]], on="customer_id")[["item_id", "date"]]
        both = pd.concat([by_item, by_acct])
        both = both[both["item_id"].isin(items.index)]
        inside = both[(both["date"] >= both["item_id"].map(items["issue_date"])) & (both["date"] < both["item_id"].map(end))]
        group[group.index.isin(inside["item_id"])] = label
    days = np.arange(-30, horizon + 1)
    rows = []
    for label, ids in group.groupby(group).groups.items():
        d = dpd_paid.reindex(ids).to_numpy(float)
        rows += [{"group": label, "days_past_due": int(x), "share_paid": float(np.mean(d <= x)), "items": len(ids)}
                 for x in days]
    return pd.DataFrame(rows)


def estimates_table(provenance: dict[str, Any], *, limit: int | None = None) -> str:
    """The provenance as an aligned text table: path, estimate, 95 % interval."""
    lines = [f"{'scenario value':<72}{'estimate':>10}  95 % interval"]
    for path, p in list(provenance.items())[:limit]:
        lo, hi = p["ci95"]
        bound = [("unbounded" if x is None else f"{x:.4g}") for x in (lo, hi)]
        lines.append(f"{path:<72}{p['estimate']:>10.4g}  [{bound[0]}, {bound[1]}]")
    return "\n".join(lines)


def write_activity_report(out_dir: str | os.PathLike, calibration: ActivityCalibration, observed: pd.DataFrame,
                          simulated: pd.DataFrame | None, *, simulation: dict[str, Any] | None = None) -> Path:
    """``fit.json`` (every estimate with its interval, process figures, payment curves) and
    ``payment_curves.html`` (observed vs simulated share paid by days past due, by action history), written
    atomically into the new directory ``out_dir``."""
    import plotly.graph_objects as go

    data = calibration.report_data()
    data["payment_curves"] = {"observed": json.loads(observed.to_json(orient="records")),
                              "simulated": None if simulated is None else json.loads(simulated.to_json(orient="records"))}
    data["simulation"] = simulation
    fig = go.Figure()
    for source, curves, dash in (("observed", observed, "solid"), ("simulated", simulated, "dash")):
        if curves is None:
            continue
        for group, g in curves.groupby("group"):
            fig.add_scatter(x=g["days_past_due"], y=g["share_paid"], mode="lines", line_dash=dash,
                            name=f"{group} ({source}, {int(g['items'].iloc[0]):,} items)")
    fig.update_layout(title="Share of items paid by days past due, by the strongest action their account saw",
                      xaxis_title="days past due", yaxis_title="share paid")
    with atomic_dir(out_dir) as tmp:
        write_json(tmp / "fit.json", data)
        fig.write_html(tmp / "payment_curves.html", include_plotlyjs="directory")
    return Path(out_dir)
