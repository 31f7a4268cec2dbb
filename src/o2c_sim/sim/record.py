"""What a simulation hands over at the end of a run: :class:`Record`, made by :meth:`Simulation.record()
<o2c_sim.sim.model.Simulation.record>`.

The record is plain data — the invoice table (DESIGN §4, its columns checked against
:data:`o2c_sim.data.invoice_table.COLUMNS`), the event log, the book per day, the disputes decided, the
past-due episodes, the waits of the inbound and cash-matching queues, the collectors' time, and the
tables and KPIs of the parts that are switched on. :mod:`o2c_sim.sim.results` builds every result table
and KPI from it, so this module is the one place that reads the simulation's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from o2c_sim.data.invoice_table import COLUMNS
from o2c_sim.sim.book import DISPUTE_OPEN, DISPUTE_RESOLVED
from o2c_sim.sim.currencies import money_column
from o2c_sim.sim.ledger import EVENT_KINDS
from o2c_sim.scenario import DISPUTE_REASONS, Scenario

BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")


@dataclass
class Record:
    """One replication's output as plain tables and arrays (see the module docstring)."""

    scenario: Scenario
    replication: int
    days: int
    invoices: pd.DataFrame  #: the invoice table, DESIGN §4
    events: pd.DataFrame  #: the event log: time, date, kind, invoice_id, customer_id, amount, detail (+ currency)
    book: pd.DataFrame  #: per day (evening): day, date, ar_<bucket>, dispute_backlog, unapplied, fx_*, business_day
    disputes: pd.DataFrame  #: per dispute decided: opened, closed (days), within_sla (bool)
    episodes: pd.DataFrame  #: per past-due episode: account, touched, observable (coverage_flags)
    inbound: pd.DataFrame  #: per inbound query: arrived (day), wait_minutes, sla_minutes, sla_met
    cash_matching: pd.DataFrame  #: per payment matched from suspense: arrived (day), wait_days
    collector_minutes: pd.DataFrame  #: per business day: day, available, busy (productive minutes)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  #: the parts' own tables (fees, teams, queries …)
    kpis: dict[str, float] = field(default_factory=dict)  #: the parts' own KPIs over the measurement window

    def __post_init__(self) -> None:
        unknown = [c for c in self.invoices.columns if c not in COLUMNS]
        missing = [c for c in COLUMNS if c not in self.invoices.columns and c not in ("corrects_invoice_id", "currency")]
        if unknown or missing:
            raise ValueError(f"invoice table out of contract: unknown columns {unknown}, missing {missing}")


def take(sim) -> Record:
    """The record of a finished simulation ``sim`` (see :class:`Record`)."""
    sc, cal = sim.scenario, sim.cal
    ids = Ids.of(sim)
    events = event_table(sim, ids)
    n = sim.inv.n
    close, opened = sim.inv.dispute_close_day[:n], sim.inv.dispute_open_day[:n]
    decided = np.isfinite(close)
    within = cal.busdays_between(np.floor(opened[decided]), np.floor(close[decided])) <= sc.disputes.sla_business_days
    touched, observable, account = coverage_flags(sim)
    tables, kpis = part_outputs(sim, events, ids, (touched, observable, account))
    if sim.queries is not None:  # query management: every query's wait (escalated = its SLA, missed) and SLA
        inbound = tables["queries"][["arrived", "wait_minutes", "sla_minutes", "sla_met"]].reset_index(drop=True)
    else:
        queue = sim.collection.inbound
        waits = np.asarray(queue.waits) * 1440.0
        inbound = pd.DataFrame({"arrived": np.asarray(queue.arrivals, float), "wait_minutes": waits,
                                "sla_minutes": np.full(len(waits), sc.inbound.sla_minutes)})
        inbound["sla_met"] = inbound["wait_minutes"] <= inbound["sla_minutes"]
    matching = sim.settlement.cash_matching
    return Record(
        scenario=sc, replication=sim.replication, days=sim.days,
        invoices=invoice_table(sim, ids), events=events, book=book_table(sim),
        disputes=pd.DataFrame({"opened": opened[decided], "closed": close[decided], "within_sla": within}),
        episodes=pd.DataFrame({"account": account, "touched": touched, "observable": observable}),
        inbound=inbound,
        cash_matching=pd.DataFrame({"arrived": np.asarray(matching.arrivals, float), "wait_days": np.asarray(matching.waits, float)}),
        collector_minutes=pd.DataFrame({"day": np.asarray(cal.busdays), "available": sim.collectors.available,
                                        "busy": sim.collectors.busy}),
        tables=tables, kpis=kpis,
    )


def book_table(sim) -> pd.DataFrame:
    """The book each evening: AR by ageing bucket, open disputes, cash in suspense (and FX moves)."""
    days = sim.days
    df = pd.DataFrame({"day": np.arange(days), "date": sim.cal.dates(np.arange(days)).astype("datetime64[ns]")})
    for name, arr in sim.snapshots.items():
        df[f"ar_{name}"] = arr / 100.0
    df["dispute_backlog"] = sim.dispute_backlog
    df["unapplied"] = sim.suspense / 100.0
    if sim.currencies is not None:
        df["fx_revaluation"] = sim.fx_revaluation / 100.0
        df["fx_realised"] = sim.fx_realised / 100.0
    df["business_day"] = sim.cal.is_busday[:days]
    return df


def part_outputs(sim, events: pd.DataFrame, ids: "Ids", coverage) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """The tables and the measurement window's KPIs of the parts that are switched on: fees, refunds,
    teams, queries, credit holds and currencies (none when all are off, so the shipped scenarios'
    kpis.json is unchanged)."""
    sc, w0 = sim.scenario, sim.scenario.warmup_days
    tables: dict[str, pd.DataFrame] = {}
    later = events["time"].to_numpy() >= w0
    amounts = events[money_column(events)].to_numpy()
    money = lambda kind: float(amounts[later & (events["kind"] == kind).to_numpy()].sum())  # noqa: E731
    count = lambda kind: int((later & (events["kind"] == kind).to_numpy()).sum())  # noqa: E731
    kpis: dict[str, float] = {}
    if sim.fees is not None:
        from o2c_sim.sim.fees import fee_table

        tables["fees"] = fee_table(sim, ids)
        kpis.update(fees_charged=money("fee_added"), fees_collected=money("fee_paid"), fees_waived=money("fee_waived"),
                    fees_written_off=money("fee_written_off"))
    if sim.credit_holds is not None:
        kpis.update(sales_held=money("sales_held"), holds_placed=count("credit_hold"), holds_released=count("credit_release"),
                    **sim.credit_holds.summary(w0, sc.finance.cost_of_capital))
    if sim.refunds is not None:
        tables["refunds"] = sim.refunds.table(sim.cal)
        kpis.update(sim.refunds.summary(money, w0, float(sim.days), sim.cal))
    if sim.currencies is not None:
        kpis["fx_revaluation"] = float(sim.fx_revaluation[w0:].sum() / 100.0)
        kpis["fx_realised"] = float(sim.fx_realised[w0:].sum() / 100.0)
    if sim.teams is not None:
        from o2c_sim.sim.teams import team_tables

        tables["teams"], tables["collectors"] = team_tables(sim, events, *coverage)
    if sim.queries is not None:
        from o2c_sim.sim.queries import channel_report, reason_report

        table = sim.queries.table()
        tables["queries"] = table
        tables["query_channels"] = channel_report(table, [c.name for c in sc.queries.channels], w0, sim.days)
        tables["query_reasons"] = reason_report(table, w0)
    return tables, kpis


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
