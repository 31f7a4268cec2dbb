"""What one replication produced: the invoice table, the event log, the daily book, monthly KPI
series and the run summary (KPIs over the measurement window, after warm-up)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from o2c_sim import kpis as k
from o2c_sim.data.activity_table import from_events
from o2c_sim.sim.book import DISPUTE_OPEN, DISPUTE_RESOLVED
from o2c_sim.sim.currencies import money_column
from o2c_sim.sim.ledger import CASH_KINDS, EVENT_KINDS
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
    def from_simulation(cls, sim) -> "SimResult":
        sc = sim.scenario
        ids = Ids.of(sim)
        invoices = invoice_table(sim, ids)
        events = event_table(sim, ids)
        daily = daily_table(sim, events)
        window = daily[daily["day"] >= sc.warmup_days]
        monthly = monthly_kpis(daily, first_day=sc.warmup_days)
        summary = summarise(sim, window, monthly, events)
        extra = {}
        if sim.fees is not None:
            from o2c_sim.sim.fees import fee_table

            extra["fees"] = fee_table(sim, ids)
        if sim.refunds is not None:
            extra["refunds"] = sim.refunds.table(sim.cal)
        if sim.teams is not None:
            from o2c_sim.sim.teams import team_tables

            extra["teams"], extra["collectors"] = team_tables(sim, events, *coverage_flags(sim))
        if sim.queries is not None:
            from o2c_sim.sim.queries import channel_report, reason_report

            table = sim.queries.table()
            extra["queries"] = table
            extra["query_channels"] = channel_report(table, [c.name for c in sc.queries.channels], sc.warmup_days, sim.days)
            extra["query_reasons"] = reason_report(table, sc.warmup_days)
        return cls(sc, sim.replication, invoices, events, daily, monthly, summary, extra)

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


class Ids(NamedTuple):
    """A run's id vocabularies, built once: invoice ids by ledger row and customer ids by account, each
    followed by "" for row −1 (an event of no invoice or account)."""

    invoices: pa.Array
    customers: pa.Array

    @classmethod
    def of(cls, sim) -> "Ids":
        blank = pa.array([""], pa.string())
        return cls(pa.concat_arrays([sim.invoice_ids(), blank]), pa.concat_arrays([sim.customer_ids(), blank]))


def _take(vocabulary: pa.Array, rows: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A string column of ``vocabulary[rows]`` ("" for negative rows). Arrow's ``take`` copies the id
    bytes; no string is formatted per row."""
    return pd.array(vocabulary.take(np.where(rows >= 0, rows, len(vocabulary) - 1)), dtype="str")


def invoice_table(sim, ids: Ids) -> pd.DataFrame:
    """The invoice table of DESIGN §4 (see :mod:`o2c_sim.data.invoice_table`)."""
    n, L, inv = sim.ledger.n, sim.ledger, sim.inv
    segs = sim.scenario.portfolio.segments
    # small vocabularies, each ending in "" for row −1, taken by Arrow (no per-row numpy unicode temporaries)
    vocabulary = lambda names: pa.array(list(names) + [""], pa.string())  # noqa: E731
    disputed = np.isfinite(inv.dispute_open_day[:n]) & np.isin(inv.dispute[:n], (DISPUTE_OPEN, DISPUTE_RESOLVED))
    dates = sim.cal.dates
    currency = {} if sim.currencies is None else {"currency": np.array(sim.currencies.codes)[L.currency[:n]]}
    return pd.DataFrame({
        "invoice_id": pd.array(ids.invoices.slice(0, n), dtype="str"),
        "customer_id": _take(ids.customers, inv.account[:n]),
        "segment": _take(vocabulary(s.name for s in segs), inv.segment[:n]),
        "invoice_date": dates(inv.issue_day[:n]).astype("datetime64[ns]"),
        "due_date": dates(inv.due_day[:n]).astype("datetime64[ns]"),
        "amount": L.amount[:n] / 100.0,
        "paid_date": dates(np.floor(L.closed_day[:n])).astype("datetime64[ns]"),
        "paid_amount": L.paid[:n] / 100.0,
        "credited_amount": L.credited[:n] / 100.0,
        "written_off_amount": L.written_off[:n] / 100.0,
        "disputed": disputed,
        "dispute_reason": _take(vocabulary(DISPUTE_REASONS), np.where(disputed, inv.dispute_reason[:n], -1)),
        "dispute_resolved_date": dates(np.floor(np.where(disputed, inv.dispute_close_day[:n], np.inf))).astype("datetime64[ns]"),
        "channel": _take(vocabulary(s.channel for s in segs), inv.segment[:n]),
        **currency,  # with currencies on: the invoice's currency, in which its money columns are
    })


def event_table(sim, ids: Ids) -> pd.DataFrame:
    """The event log with dates, kind names, ids and amounts in currency."""
    ev = sim.ledger.log.columns()
    inv, acc = ev["invoice"], ev["account"]
    acc = np.where((acc < 0) & (inv >= 0), sim.inv.account[np.maximum(inv, 0)], acc)
    fx = sim.currencies
    if fx is not None:  # the transaction's currency, and its amount in the reporting currency on the day
        currency = np.where(inv >= 0, sim.ledger.currency[np.maximum(inv, 0)], fx.account[np.maximum(acc, 0)])
        fx = {"currency": pd.Categorical.from_codes(currency, categories=fx.codes),
              "reporting_amount": fx.reporting(ev["cents"], currency, np.floor(ev["time"])) / 100.0}
    return pd.DataFrame({
        "time": ev["time"],
        "date": sim.cal.dates(np.floor(ev["time"])).astype("datetime64[ns]"),
        "kind": pd.Categorical.from_codes(ev["kind"], categories=list(EVENT_KINDS)),
        "invoice_id": _take(ids.invoices, inv),
        "customer_id": _take(ids.customers, acc),
        "amount": ev["cents"] / 100.0,
        "detail": ev["detail"],
        **(fx or {}),
    }, copy=False)



def _per_day(events: pd.DataFrame, kinds, days: int) -> np.ndarray:
    """Sum of the amounts of events of ``kinds`` per day (only the two numeric columns are read)."""
    sel = events["kind"].isin(kinds).to_numpy()
    d = np.floor(events["time"].to_numpy()[sel]).astype(np.int64)
    return np.bincount(d, weights=events[money_column(events)].to_numpy()[sel], minlength=days)[:days]


def daily_table(sim, events: pd.DataFrame) -> pd.DataFrame:
    """AR by aging bucket per day (evening), with the day's flows."""
    days = sim.days
    df = pd.DataFrame({"day": np.arange(days), "date": sim.cal.dates(np.arange(days)).astype("datetime64[ns]")})
    for name, arr in sim.snapshots.items():
        df[f"ar_{name}"] = arr / 100.0
    df["ar_total"] = df[[f"ar_{b}" for b in sim.snapshots]].sum(axis=1)
    df["sales"] = _per_day(events, ["issue"], days)
    df["cash"] = _per_day(events, list(CASH_KINDS), days)
    df["credits"] = _per_day(events, ["credit_note"], days)
    df["write_offs"] = _per_day(events, ["write_off"], days)
    df["dispute_backlog"] = sim.dispute_backlog
    df["unapplied"] = sim.suspense / 100.0
    if sim.currencies is not None:
        df["fx_revaluation"] = sim.fx_revaluation / 100.0
        df["fx_realised"] = sim.fx_realised / 100.0
    df["business_day"] = sim.cal.is_busday[:days]
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


def coverage_flags(sim) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per past-due episode: (touched within ``strategy.coverage_business_days`` business days,
    observable = started in the window and either touched or lasted that long, the account). Coverage
    is the touched share of the observable episodes."""
    sc, w0 = sim.scenario, sim.scenario.warmup_days
    acc, start, touch, end = sim.episodes.arrays()
    n_bd = sc.strategy.coverage_business_days
    bd = lambda a, b: sim.cal.busdays_between(a, np.where(np.isfinite(b), b, sim.days - 1).astype(np.int64))  # noqa: E731
    touched = np.isfinite(touch) & (bd(start, touch) <= n_bd)
    lasted = ~np.isfinite(end) & (bd(start, np.full(len(start), np.inf)) >= n_bd) | np.isfinite(end) & (bd(start, end) > n_bd)
    return touched, (start >= w0) & (touched | lasted), acc


def summarise(sim, window: pd.DataFrame, monthly: pd.DataFrame, events: pd.DataFrame) -> dict[str, float]:
    """KPIs over the measurement window (days ≥ warm-up)."""
    sc = sim.scenario
    w0 = sc.warmup_days
    count = events["kind"][events["time"].to_numpy() >= w0].value_counts()
    sales, write_offs = window["sales"].sum(), window["write_offs"].sum()
    mean = lambda c: float(monthly[c].mean()) if len(monthly) else float("nan")  # noqa: E731
    busdays = int(window["business_day"].sum())
    # disputes closed in the window
    close = sim.inv.dispute_close_day[: sim.inv.n]
    opened = sim.inv.dispute_open_day[: sim.inv.n]
    closed = np.isfinite(close) & (close >= w0)
    cycle = close[closed] - opened[closed]
    within = sim.cal.busdays_between(np.floor(opened[closed]), np.floor(close[closed])) <= sc.disputes.sla_business_days
    touched, observable, _ = coverage_flags(sim)
    first_bd = int(sim.cal.busday_index[w0]) if w0 < sim.days else 0
    in_window = lambda q: np.asarray(q.waits)[np.asarray(q.arrivals) >= w0]  # noqa: E731
    inbound_waits = in_window(sim.inbound_q) * 1440.0
    inbound_sla = np.full(len(inbound_waits), sc.inbound.sla_minutes)
    if sim.queries is not None:  # query management: every query's wait (escalated = its SLA, missed) and SLA
        table = sim.queries.table()
        table = table[table["arrived"] >= w0]
        inbound_waits, inbound_sla = table["wait_minutes"].to_numpy(), table["sla_minutes"].to_numpy()
        met = table["sla_met"].to_numpy()
    else:
        met = inbound_waits <= inbound_sla
    cash_waits = in_window(sim.cashapp_q)
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
        "dispute_sla_pct": float(within.mean() * 100) if len(cycle) else float("nan"),
        "coverage_pct": float(touched[observable].mean() * 100) if observable.any() else float("nan"),
        "collector_utilisation": sim.collectors.utilisation(first_bd) * 100,
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
        **operations_kpis(sim, events, w0, count),
    }


def operations_kpis(sim, events: pd.DataFrame, w0: int, count: pd.Series) -> dict[str, float]:
    """Fees (charged, collected, waived, written off), credit holds (sales held, holds placed and
    released, mean wait of a released sale, its financing cost) and refunds (:meth:`o2c_sim.sim.refunds.Refunds.summary`)
    over the measurement window, for the levers that are on (none when all are off, so the shipped
    scenarios' kpis.json is unchanged)."""
    later = events["time"].to_numpy() >= w0
    amounts = events[money_column(events)].to_numpy()
    money = lambda kind: float(amounts[later & (events["kind"] == kind).to_numpy()].sum())  # noqa: E731
    out: dict[str, float] = {}
    if sim.fees is not None:
        out.update(fees_charged=money("fee_added"), fees_collected=money("fee_paid"), fees_waived=money("fee_waived"),
                   fees_written_off=money("fee_written_off"))
    if sim.credit_holds is not None:
        out.update(sales_held=money("sales_held"), holds_placed=int(count.get("credit_hold", 0)),
                   holds_released=int(count.get("credit_release", 0)),
                   **sim.credit_holds.summary(w0, sim.scenario.finance.cost_of_capital))
    if sim.refunds is not None:
        out.update(sim.refunds.summary(money, w0, float(sim.days), sim.cal))
    if sim.currencies is not None:
        out["fx_revaluation"] = float(sim.fx_revaluation[w0:].sum() / 100.0)
        out["fx_realised"] = float(sim.fx_realised[w0:].sum() / 100.0)
    return out
