"""What one replication produced: the invoice table, the event log, the daily book, monthly KPI
series and the run summary (KPIs over the measurement window, after warm-up)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from o2c_sim import kpis as k
from o2c_sim.data.activity_table import from_events
from o2c_sim.sim.currencies import money_column
from o2c_sim.sim.ledger import CASH_KINDS
from o2c_sim.sim.record import Record
from o2c_sim.scenario import DISPUTE_REASONS, Scenario


#: KPI keys of kpis.json, in display order, with their units (from the one table, :data:`o2c_sim.kpis.CATALOGUE`)
KPI_UNITS = {key: k.CATALOGUE[key].unit for key in k.RUN_KPIS}


@dataclass
class SimResult:
    scenario: Scenario
    replication: int
    invoices: pd.DataFrame
    events: pd.DataFrame
    daily: pd.DataFrame
    monthly: pd.DataFrame
    kpis: dict[str, float]
    extra: dict = field(default_factory=dict)

    @property
    def activities(self) -> pd.DataFrame:
        """The activity table of this replication (:mod:`o2c_sim.data.activity_table`), built on first use."""
        if "activities" not in self.extra:
            from o2c_sim.sim.disputes import OUTCOMES

            self.extra["activities"] = from_events(self.events, self.invoices, dispute_reasons=DISPUTE_REASONS,
                                                   dispute_outcomes=OUTCOMES)
        return self.extra["activities"]

    @classmethod
    def from_record(cls, record: Record) -> "SimResult":
        """The result tables and KPIs of a replication, from its :class:`~o2c_sim.sim.record.Record` alone."""
        sc = record.scenario
        daily = daily_table(record)
        window = daily[daily["day"] >= sc.warmup_days]
        monthly = monthly_kpis(daily, first_day=sc.warmup_days)
        summary = summarise(record, window, monthly)
        return cls(sc, record.replication, record.invoices, record.events, daily, monthly, summary, dict(record.tables))

    @property
    def teams(self) -> pd.DataFrame:
        """Per-team KPIs (empty unless ``teams.enabled``): see :func:`o2c_sim.sim.teams.team_tables`."""
        return self.extra.get("teams", pd.DataFrame())

    @property
    def queries(self) -> pd.DataFrame:
        """One row per inbound query (empty unless ``queries.enabled``), see :mod:`o2c_sim.sim.queries`."""
        return self.extra.get("queries", pd.DataFrame())

    @property
    def query_channels(self) -> pd.DataFrame:
        """Backlog, SLA and escalations by channel (empty unless ``queries.enabled``)."""
        return self.extra.get("query_channels", pd.DataFrame())

    @property
    def query_reasons(self) -> pd.DataFrame:
        """Queries by reason, most frequent first, with amount held and outcomes (empty unless ``queries.enabled``)."""
        return self.extra.get("query_reasons", pd.DataFrame())

    @property
    def refunds(self) -> pd.DataFrame:
        """One row per refund paid (empty unless ``refunds.enabled``): see :meth:`o2c_sim.sim.refunds.Refunds.table`."""
        return self.extra.get("refunds", pd.DataFrame())

    @property
    def collectors(self) -> pd.DataFrame:
        """Per-collector KPIs of their owned portfolios (empty unless ``teams.enabled``)."""
        return self.extra.get("collectors", pd.DataFrame())


def _per_day(events: pd.DataFrame, kinds, days: int) -> np.ndarray:
    """Sum of the amounts of events of ``kinds`` per day (only the two numeric columns are read)."""
    sel = events["kind"].isin(kinds).to_numpy()
    d = np.floor(events["time"].to_numpy()[sel]).astype(np.int64)
    return np.bincount(d, weights=events[money_column(events)].to_numpy()[sel], minlength=days)[:days]


def daily_table(record: Record) -> pd.DataFrame:
    """AR by aging bucket per day (evening), with the day's flows."""
    book, events, days = record.book, record.events, record.days
    df = book[["day", "date"]].copy()
    buckets = [c for c in book.columns if c.startswith("ar_")]
    for c in buckets:
        df[c] = book[c]
    df["ar_total"] = df[buckets].sum(axis=1)
    df["sales"] = _per_day(events, ["issue"], days)
    df["cash"] = _per_day(events, list(CASH_KINDS), days)
    df["credits"] = _per_day(events, ["credit_note"], days)
    df["write_offs"] = _per_day(events, ["write_off"], days)
    for c in book.columns:
        if c not in df.columns:
            df[c] = book[c]
    return df


def monthly_kpis(daily: pd.DataFrame, first_day: int = 0) -> pd.DataFrame:
    """Month-end KPI series. DSO and BPDSO use the trailing three calendar months' sales and days;
    countback uses the months before each month end, latest first; CEI is per month."""
    d = daily.copy()
    d["month"] = d["date"].dt.to_period("M")
    g = d.groupby("month")
    months = pd.DataFrame({
        "sales": g["sales"].sum(), "cash": g["cash"].sum(), "write_offs": g["write_offs"].sum(),
        "days": g.size(), "first_day": g["day"].min(), "last_day": g["day"].max(),
    })
    end = d.set_index("day").loc[months["last_day"]]
    months["ending_ar"] = end["ar_total"].to_numpy()
    months["ending_current"] = end["ar_current"].to_numpy()
    months["over_90"] = end["ar_over_90"].to_numpy()
    months["opening_ar"] = months["ending_ar"].shift(1)
    rows = []
    for i, (m, r) in enumerate(months.iterrows()):
        complete = r["days"] == m.days_in_month
        if i < 3 or not complete or r["first_day"] < first_day:
            continue
        trail = months.iloc[i - 2: i + 1]
        sales3, days3 = trail["sales"].sum(), trail["days"].sum()
        dso = k.dso_standard(r["ending_ar"], sales3, days3)
        bp = k.bpdso(r["ending_current"], sales3, days3)
        back = months.iloc[: i + 1][::-1]
        rows.append({
            "month": m.to_timestamp(), "ending_ar": r["ending_ar"], "sales": r["sales"], "cash": r["cash"],
            "dso": dso, "dso_countback": k.dso_countback(r["ending_ar"], back["sales"].tolist(), back["days"].tolist()),
            "bpdso": bp, "add": k.average_days_delinquent(dso, bp),
            "cei": k.cei(r["opening_ar"], r["sales"], r["ending_ar"], r["ending_current"]),
            "pct_current": r["ending_current"] / r["ending_ar"] * 100 if r["ending_ar"] else np.nan,
            "pct_over_90": r["over_90"] / r["ending_ar"] * 100 if r["ending_ar"] else np.nan,
            "bad_debt_ratio": k.bad_debt_ratio(r["write_offs"], r["sales"]),
        })
    return pd.DataFrame(rows)


def summarise(record: Record, window: pd.DataFrame, monthly: pd.DataFrame) -> dict[str, float]:
    """KPIs over the measurement window (days ≥ warm-up)."""
    sc, events = record.scenario, record.events
    w0 = sc.warmup_days
    count = events["kind"][events["time"].to_numpy() >= w0].value_counts()
    sales, write_offs = window["sales"].sum(), window["write_offs"].sum()
    mean = lambda c: float(monthly[c].mean()) if len(monthly) else float("nan")  # noqa: E731
    busdays = int(window["business_day"].sum())
    decided = record.disputes[record.disputes["closed"].to_numpy() >= w0]  # disputes closed in the window
    cycle = (decided["closed"] - decided["opened"]).to_numpy()
    ep = record.episodes
    touched, observable = ep["touched"].to_numpy(), ep["observable"].to_numpy()
    inbound = record.inbound[record.inbound["arrived"].to_numpy() >= w0]
    inbound_waits, met = inbound["wait_minutes"].to_numpy(), inbound["sla_met"].to_numpy()
    cash_waits = record.cash_matching["wait_days"].to_numpy()[record.cash_matching["arrived"].to_numpy() >= w0]
    # collectors' time on jobs ÷ productive time, from the business day of the warm-up's end on
    first_bd = int(np.cumsum(record.book["business_day"].to_numpy())[w0] - 1) if w0 < record.days else 0
    minutes = record.collector_minutes
    available = minutes["available"].to_numpy()[first_bd:].sum()
    utilisation = float(minutes["busy"].to_numpy()[first_bd:].sum() / available) if available else float("nan")
    return {
        "dso": mean("dso"),
        "dso_countback": mean("dso_countback"),
        "bpdso": mean("bpdso"),
        "add": mean("add"),
        "cei": mean("cei"),
        "pct_current": mean("pct_current"),
        "pct_over_90": mean("pct_over_90"),
        "bad_debt_ratio": k.bad_debt_ratio(write_offs, sales),
        "ptp_kept_rate": k.ptp_kept_rate(int(count.get("promise_kept", 0)), int(count.get("promise_broken", 0))),
        "dispute_cycle_days": float(cycle.mean()) if len(cycle) else float("nan"),
        "dispute_sla_pct": float(decided["within_sla"].to_numpy().mean() * 100) if len(cycle) else float("nan"),
        "coverage_pct": float(touched[observable].mean() * 100) if observable.any() else float("nan"),
        "collector_utilisation": utilisation * 100,
        "calls_per_day": count.get("call_attempt", 0) / max(busdays, 1),
        "rpc_per_day": count.get("right_party_contact", 0) / max(busdays, 1),
        "inbound_sla_pct": float(met.mean() * 100) if len(inbound_waits) else float("nan"),
        "inbound_wait_minutes": float(inbound_waits.mean()) if len(inbound_waits) else float("nan"),
        "unapplied_cash": float(window["unapplied"].mean()),
        "unapplied_age_days": float(cash_waits.mean()) if len(cash_waits) else float("nan"),
        "cash_collected": float(window["cash"].sum()),
        "cash_per_week": float(window["cash"].sum() / (len(window) / 7.0)),
        "write_offs": float(write_offs),
        "sales": float(sales),
        "ending_ar": float(window["ar_total"].iloc[-1]),
        "invoices": int(count.get("issue", 0)),
        **record.kpis,
    }
