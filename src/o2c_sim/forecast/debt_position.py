"""Roll-forward of the debt position over a period: from the opening ledger to the closing AR.

    opening AR (in-house) + new billing − collected − credited − written off − moved to the agency
        = closing AR (in-house)
    opening with the agency + moved to the agency − recovered by the agency − written off there
        = closing with the agency
    opening fees + fees charged − collected − waived − written off = closing fees   (§2.17 of docs/model.md)

(the "movement schedule" of receivables of IFRS 9 / IFRS 7 §35H disclosures and of a collections
team's month-end "gap analysis of the debt position"). Every line is a sum of dated *movements*, in
integer cents, so the identity holds to the cent; the closing AR is also aged by days past due at
the period end and compared with a target (``dso<=45``: DSO = closing AR ÷ period billing × days).

Movements come from

* a simulation run directory (``invoices.parquet`` + ``events.parquet``): every posting is dated;
  ``legal_handover`` moves an item's open amount to the agency, and whatever later reduces a handed-over
  item is an agency movement;
* a ledger (the canonical invoice table, e.g. an ERP export through a mapping): billing on
  ``invoice_date``; the paid, credited and written-off amounts of a settled invoice on its
  ``paid_date``; those of an invoice still open at the ledger's as-of date (its last invoice date) on
  that date. The invoice table carries no agency information, so the agency lines are zero.

Amounts of different currencies are never added: a ledger or run in several currencies (a
``currency`` column) is rolled forward one currency at a time (``currency``), each to the cent.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from o2c_sim.errors import UserError
from o2c_sim.data.invoice_table import one_currency
from o2c_sim.kpis import dso_standard

#: movement kinds: sign on the in-house AR, on the agency balance and on the fee receivables
MOVEMENTS = {
    "billing": (1, 0, 0), "collected": (-1, 0, 0), "credited": (-1, 0, 0), "written_off": (-1, 0, 0),
    "to_agency": (-1, 1, 0), "agency_collected": (0, -1, 0), "agency_written_off": (0, -1, 0),
    "fee_charged": (0, 0, 1), "fee_collected": (0, 0, -1), "fee_waived": (0, 0, -1), "fee_written_off": (0, 0, -1),
}
LINES = (
    ("opening_ar", "opening AR"), ("billing", "+ new billing"), ("collected", "− collected"),
    ("credited", "− credited"), ("written_off", "− written off"), ("to_agency", "− moved to agency"),
    ("closing_ar", "= closing AR"),
    ("opening_agency", "opening with agency"), ("to_agency_in", "+ moved to agency"),
    ("agency_collected", "− recovered by agency"), ("agency_written_off", "− written off at agency"),
    ("closing_agency", "= closing with agency"),
    ("opening_fees", "opening fees"), ("fee_charged", "+ fees charged"), ("fee_collected", "− fees collected"),
    ("fee_waived", "− fees waived"), ("fee_written_off", "− fees written off"), ("closing_fees", "= closing fees"),
)
BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")
_EVENT_MOVEMENT = {
    "issue": "billing", "opening_balance": "billing", "payment": "collected", "partial_payment": "collected",
    "cash_applied": "collected", "plan_instalment": "collected", "legal_recovery": "collected",
    "credit_note": "credited", "write_off": "written_off", "legal_handover": "to_agency",
    "fee_added": "fee_charged", "fee_paid": "fee_collected", "fee_waived": "fee_waived",
    "fee_written_off": "fee_written_off",
}


def _cents(x) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    return (np.sign(a) * np.floor(np.abs(a) * 100 + 0.5)).astype(np.int64)


def movements_from_ledger(ledger: pd.DataFrame) -> pd.DataFrame:
    """Dated movements (``date, invoice_id, due_date, kind, cents``) of a canonical invoice table."""
    if ledger.empty:
        raise UserError("the ledger has no invoices; a debt position needs at least one")
    as_of = pd.Timestamp(ledger["invoice_date"].max())
    settled = ledger["paid_date"] if "paid_date" in ledger else pd.Series(pd.NaT, index=ledger.index)
    when = settled.fillna(as_of)
    parts = [pd.DataFrame({"date": ledger["invoice_date"], "kind": "billing", "cents": _cents(ledger["amount"])})]
    for column, kind in (("paid_amount", "collected"), ("credited_amount", "credited"), ("written_off_amount", "written_off")):
        if column in ledger:
            parts.append(pd.DataFrame({"date": when, "kind": kind, "cents": _cents(ledger[column].fillna(0.0))}))
    base = ledger[["invoice_id", "due_date"]]
    out = pd.concat([p.assign(invoice_id=base["invoice_id"].to_numpy(), due_date=base["due_date"].to_numpy()) for p in parts],
                    ignore_index=True)
    return out[out["cents"] != 0].reset_index(drop=True)


def movements_from_run(invoices: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Dated movements of one replication of a run (its ``invoices`` and ``events`` tables)."""
    ev = events[events["kind"].astype(str).isin(_EVENT_MOVEMENT)].reset_index(drop=True)
    kind = ev["kind"].astype(str).map(_EVENT_MOVEMENT)
    # reductions of an item after its hand-over (in event order) are the agency's
    order = pd.Series(np.arange(len(ev)), index=ev.index)
    handed = order[kind == "to_agency"].groupby(ev["invoice_id"][kind == "to_agency"]).min()
    after = order > ev["invoice_id"].map(handed).fillna(np.inf)
    kind = kind.where(~(after & kind.isin(["collected", "written_off"])), "agency_" + kind)
    due = invoices.drop_duplicates("invoice_id").set_index("invoice_id")["due_date"]
    return pd.DataFrame({"date": ev["date"].to_numpy(), "invoice_id": ev["invoice_id"].to_numpy(),
                         "due_date": ev["invoice_id"].map(due).to_numpy(), "kind": kind.to_numpy(),
                         "cents": _cents(ev["amount"])})


@dataclass
class Target:
    """A target such as ``dso<=45`` or ``pct_over_90<5``: metric, comparison and value."""

    metric: str
    op: str
    value: float

    METRICS = ("dso", "closing_ar", "pct_current", "pct_over_90", "collected")
    OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}

    @classmethod
    def parse(cls, text: str) -> "Target":
        m = re.fullmatch(r"\s*([a-z_0-9]+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*", text or "")
        if not m or m.group(1) not in cls.METRICS:
            raise UserError(f"--target {text!r}: expected METRIC OP VALUE with METRIC one of {', '.join(cls.METRICS)} "
                            f"and OP one of <=, <, >=, > (e.g. \"dso<=45\")")
        try:
            value = float(m.group(3))
        except ValueError:
            raise UserError(f"--target {text!r}: {m.group(3)!r} is not a number") from None
        return cls(m.group(1), m.group(2), value)

    def judge(self, actual: float) -> dict:
        met = bool(self.OPS[self.op](actual, self.value))
        return {"target": f"{self.metric}{self.op}{self.value:g}", "metric": self.metric, "actual": actual,
                "target_value": self.value, "met": met, "gap": actual - self.value}


def roll_forward(movements: pd.DataFrame, start, end, target: Target | None = None) -> dict:
    """The roll-forward over calendar days ``start``..``end`` (both included): lines in cents, the
    closing AR by age bucket (days past due at ``end``) and, with a ``target``, whether it was met."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if end < start:
        raise UserError(f"--period: the end {end.date()} is before the start {start.date()}")
    date = pd.to_datetime(movements["date"])
    before, within = date < start, (date >= start) & (date <= end)
    sign_ar = movements["kind"].map({k: v[0] for k, v in MOVEMENTS.items()}).to_numpy()
    sign_ag = movements["kind"].map({k: v[1] for k, v in MOVEMENTS.items()}).to_numpy()
    sign_fee = movements["kind"].map({k: v[2] for k, v in MOVEMENTS.items()}).to_numpy()
    cents = movements["cents"].to_numpy(np.int64)
    flow = {k: int(cents[within.to_numpy() & (movements["kind"] == k).to_numpy()].sum()) for k in MOVEMENTS}
    lines = {
        "opening_ar": int((cents * sign_ar)[before.to_numpy()].sum()),
        "billing": flow["billing"], "collected": flow["collected"], "credited": flow["credited"],
        "written_off": flow["written_off"], "to_agency": flow["to_agency"],
        "opening_agency": int((cents * sign_ag)[before.to_numpy()].sum()),
        "to_agency_in": flow["to_agency"], "agency_collected": flow["agency_collected"],
        "agency_written_off": flow["agency_written_off"],
        "opening_fees": int((cents * sign_fee)[before.to_numpy()].sum()),
        **{k: flow[k] for k in ("fee_charged", "fee_collected", "fee_waived", "fee_written_off")},
    }
    lines["closing_ar"] = (lines["opening_ar"] + lines["billing"] - lines["collected"] - lines["credited"]
                           - lines["written_off"] - lines["to_agency"])
    lines["closing_agency"] = lines["opening_agency"] + lines["to_agency_in"] - lines["agency_collected"] - lines["agency_written_off"]
    lines["closing_fees"] = (lines["opening_fees"] + lines["fee_charged"] - lines["fee_collected"] - lines["fee_waived"]
                             - lines["fee_written_off"])
    # closing AR item by item (an independent sum over invoices), aged at the period end
    upto = (date <= end).to_numpy()
    per_item = (pd.DataFrame({"invoice_id": movements["invoice_id"].to_numpy()[upto], "cents": (cents * sign_ar)[upto],
                              "due_date": pd.to_datetime(movements["due_date"]).to_numpy()[upto]})
                .groupby("invoice_id").agg(cents=("cents", "sum"), due_date=("due_date", "first")))
    per_item = per_item[per_item["cents"] != 0]
    dpd = (end - per_item["due_date"]).dt.days.to_numpy()
    bucket = np.searchsorted(np.array([0, 30, 60, 90]), dpd, side="left")
    aging = {b: int(per_item["cents"].to_numpy()[bucket == i].sum()) for i, b in enumerate(BUCKETS)}
    if sum(aging.values()) != lines["closing_ar"]:
        raise AssertionError(f"roll-forward does not balance: {lines['closing_ar']} != {sum(aging.values())}")
    days = (end - start).days + 1
    closing = lines["closing_ar"] / 100.0
    metrics = {
        "closing_ar": closing, "collected": lines["collected"] / 100.0,
        "dso": dso_standard(closing, lines["billing"] / 100.0, days),
        "pct_current": aging["current"] / lines["closing_ar"] * 100 if lines["closing_ar"] else float("nan"),
        "pct_over_90": aging["over_90"] / lines["closing_ar"] * 100 if lines["closing_ar"] else float("nan"),
    }
    out = {"start": str(start.date()), "end": str(end.date()), "days": days, "lines_cents": lines, "aging_cents": aging,
           "metrics": metrics}
    if target is not None:
        out["target"] = target.judge(metrics[target.metric])
    return out


def lines_table(position: dict) -> pd.DataFrame:
    """The roll-forward as a two-column table (line, amount in currency)."""
    return pd.DataFrame({"line": [label for _, label in LINES],
                         "amount": [position["lines_cents"][key] / 100.0 for key, _ in LINES]})


#: how to pick one currency when the data holds several
CHOOSE_CURRENCY = "roll the position forward one currency at a time with --currency CODE"


def load_movements(source: str | Path, mapping=None, replication: int = 0,
                   currency: str | None = None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Movements of a run directory (one replication) or a ledger file, in one ``currency`` (needed
    only when the data holds several), and the date they are complete through."""
    source = Path(source)
    what = "a debt position"
    if source.is_dir():
        files = [source / "invoices.parquet", source / "events.parquet"]
        missing = [f.name for f in files if not f.exists()]
        if missing:
            raise UserError(f"not a run directory (missing {', '.join(missing)}); pass a ledger file or a directory "
                            f"written by 'o2c-sim run'", source=str(source))
        invoices, events = (pd.read_parquet(f) for f in files)
        if "replication" in invoices:
            reps = sorted(invoices["replication"].unique().tolist())
            if replication not in reps:
                raise UserError(f"--replication {replication}: the run has replications {reps}", source=str(source))
            invoices = invoices[invoices["replication"] == replication]
            events = events[events["replication"] == replication]
        complete = pd.Timestamp(events["date"].max())
        mine = one_currency(invoices, currency, what=what, choose=CHOOSE_CURRENCY, source=str(source))
        if mine is not invoices:  # the events of that currency's items and accounts
            invoices, events = mine, events[events["currency"].astype(str) == currency]
        return movements_from_run(invoices, events), complete
    from o2c_sim.data.importer import load_ledger

    ledger = load_ledger(source, mapping, several_currencies=True)
    complete = pd.Timestamp(ledger["invoice_date"].max())
    return movements_from_ledger(one_currency(ledger, currency, what=what, choose=CHOOSE_CURRENCY, source=str(source))), complete
