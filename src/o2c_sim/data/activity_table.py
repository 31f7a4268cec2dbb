"""The activity table: what happened to each item, one row per event (DESIGN §4).

The second lingua franca after the invoice table. Teams export it from their collections tool (SAP
FSCM, Oracle Advanced Collections, HighRadius …) or as an XES event log; every simulation run writes it
too (``activities.parquet``), so a real and a simulated process compare like for like and calibration
of action effects reads either.

=============  ==================================================================================
column         meaning
=============  ==================================================================================
item_id        invoice (or case) id; "" for an account-level action (a call, a contact, a promise, a
               credit hold placed on the account — ``credit_hold`` — or lifted — ``hold_released``)
customer_id    string; "" where unknown
date           date of the event (datetime64[ns]; a timestamp keeps its time of day)
kind           one of :data:`KINDS`
amount         money where it applies (issued amount, payment, credit, write-off, promised amount)
level          dunning level of a ``notice`` (1 = the first step of the cadence), else <NA>
outcome        e.g. a contact's result (promise/dispute/plan/refusal), a dispute's decision
reason         e.g. a dispute's reason code
promised_date  the date a ``promise`` is due
due_date       the item's due date, on ``issued`` rows
=============  ==================================================================================

Only ``item_id`` or ``customer_id``, ``date`` and ``kind`` are required; the other columns may be
absent. A simulated run adds a ``replication`` column, and a run with several currencies a ``currency``
column (the ISO code the row's amount is in, as in the invoice table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from o2c_sim.data.invoice_table import conform_columns

#: the fixed vocabulary of ``kind``
KINDS = (
    "issued", "notice", "fee_added", "call_attempt", "contact", "promise", "payment", "dispute_opened",
    "dispute_closed", "credit_note", "plan_agreed", "plan_broken", "agency_handover", "write_off",
    "credit_hold", "hold_released",
)
COLUMNS = ("item_id", "customer_id", "date", "kind", "amount", "level", "outcome", "reason", "promised_date", "due_date")
REQUIRED = ("date", "kind")
DATE_COLUMNS = ("date", "promised_date", "due_date")
STRING_COLUMNS = ("item_id", "customer_id", "outcome", "reason")

#: outcome codes of a right-party contact, in the order the simulator stores them (collection.py)
CONTACT_OUTCOMES = ("promise", "dispute", "plan", "refusal")

#: simulator event kind -> activity kind (kinds not listed here are internal and not exported)
FROM_EVENT = {
    "issue": "issued", "opening_balance": "issued", "dunning": "notice", "call_attempt": "call_attempt",
    "right_party_contact": "contact", "promise_to_pay": "promise", "payment": "payment",
    "partial_payment": "payment", "unapplied_received": "payment", "plan_instalment": "payment",
    "legal_recovery": "payment", "dispute_open": "dispute_opened", "dispute_close": "dispute_closed",
    "credit_note": "credit_note", "plan_start": "plan_agreed", "plan_broken": "plan_broken",
    "legal_handover": "agency_handover", "write_off": "write_off", "fee_added": "fee_added",
    "credit_hold": "credit_hold", "credit_release": "hold_released",
}


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the canonical column order and dtypes (absent optional columns stay absent; extra
    columns such as ``replication`` are kept after the canonical ones). Assumes valid values."""
    out = conform_columns(df, COLUMNS, DATE_COLUMNS, ("amount",), {
        "level": lambda s: pd.to_numeric(s).astype("Int64"),
        "kind": lambda s: pd.Categorical(s.astype(str), categories=list(KINDS)),
    })
    for col in df.columns:
        if col not in out.columns:
            out[col] = df[col]
    return out.reset_index(drop=True)


def from_events(events: pd.DataFrame, invoices: pd.DataFrame, *, dispute_reasons, dispute_outcomes) -> pd.DataFrame:
    """The activity table of one simulated replication, from its event log and invoice table.

    ``detail`` codes of the event log become ``level`` (dunning step + 1), ``outcome`` (contact and
    dispute decisions), ``reason`` (dispute reason) and ``promised_date`` (days ahead of the promise).
    """
    ev = events[events["kind"].isin(list(FROM_EVENT))]
    kind = ev["kind"].astype(str).map(FROM_EVENT)
    detail = ev["detail"].to_numpy()
    raw = ev["kind"].astype(str).to_numpy()
    date = ev["date"].to_numpy()

    def where(kinds, values, blank):
        return np.where(np.isin(raw, kinds), values, blank)

    reasons = np.array(list(dispute_reasons) + [""])
    outcomes = np.array(list(dispute_outcomes) + [""])
    contacts = np.array(list(CONTACT_OUTCOMES) + [""])
    clip = lambda codes, table: np.clip(codes, 0, len(table) - 1)  # noqa: E731
    due = invoices.set_index("invoice_id")["due_date"]
    out = pd.DataFrame({
        "item_id": ev["invoice_id"].to_numpy(),
        "customer_id": ev["customer_id"].to_numpy(),
        "date": date,
        "kind": kind.to_numpy(),
        "amount": np.where(np.isin(raw, ["call_attempt", "right_party_contact", "plan_broken"]), np.nan,
                           ev["amount"].to_numpy()),
        "level": pd.array(np.where(raw == "dunning", detail + 1, np.where(raw == "fee_added", detail, -1)), dtype="Int64"),
        "outcome": np.where(raw == "right_party_contact", contacts[clip(detail, contacts)],
                            where(["dispute_close"], outcomes[clip(detail, outcomes)], "")),
        "reason": where(["dispute_open"], reasons[clip(detail, reasons)], ""),
        "promised_date": np.where(raw == "promise_to_pay", date + detail.astype("timedelta64[D]"),
                                  np.datetime64("NaT")),
    })
    out["level"] = out["level"].where(out["level"] >= 0)
    issued = out["kind"].eq("issued")
    out["due_date"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    out.loc[issued, "due_date"] = out.loc[issued, "item_id"].map(due).to_numpy()
    if "currency" in ev.columns:  # a run with several currencies: each amount's own
        out["currency"] = ev["currency"].astype(str).to_numpy()
    return conform(out)
