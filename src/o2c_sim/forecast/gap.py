"""Gap analysis: a stored forecast against what happened, per invoice and account, by root cause.

Each invoice open on the as-of date contributes ``gap = actual − forecast`` over the window, where the
forecast is its expected receipts (invoice-level model) and the actual is what it paid with a settlement
date inside the window. The whole gap of an invoice goes to one cause, so causes add up to the total:

* paid early — received more than forecast in the window, or paid before the window began;
* paid late — forecast in the window, not paid by its end;
* partial — settled in the window for less than forecast, no dispute;
* disputed — short or unpaid and disputed (credit notes included);
* broken promise — unpaid although a promise to pay was broken (only if the ledger has ``broken_promise``);
* written off — unpaid with an amount written off;
* new items — invoices issued after the as-of date against the forecast's expected new billing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from o2c_sim.errors import UserError
from o2c_sim.forecast.invoice_level import NEW_BILLING
from o2c_sim.forecast.series import cash_events, known_at

CAUSES = ("paid early", "paid late", "partial", "disputed", "broken promise", "written off", "new items")


def gap_analysis(ledger: pd.DataFrame, items: pd.DataFrame, as_of, start, end,
                 payments: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per invoice with a forecast or a receipt in the window ``start..end``:
    invoice_id, customer_id, forecast, actual, gap, cause (the cause of an exact hit is still recorded).

    ``items`` are expected receipts per invoice and period (``period_start`` within the window counts);
    the actual is the money received in the window (:func:`~o2c_sim.forecast.series.cash_events`: each
    dated partial payment where ``payments`` has them).
    """
    as_of, start, end = pd.Timestamp(as_of), pd.Timestamp(start), pd.Timestamp(end)
    if start <= as_of:
        raise UserError(f"the gap window must start after the forecast's as-of date {as_of.date()}, got {start.date()}")
    if end < start:
        raise UserError(f"the gap window ends ({end.date()}) before it starts ({start.date()})")
    win = items[(items["period_start"] >= start) & (items["period_start"] <= end)]
    fc = win.groupby("invoice_id")["expected"].sum()
    open_then = known_at(ledger, as_of)
    open_then = ledger[ledger["invoice_id"].isin(open_then.loc[open_then["paid_date"].isna(), "invoice_id"])]
    new = ledger[ledger["invoice_date"] > as_of]
    rows = pd.concat([open_then, new]).copy()
    in_win = rows["paid_date"].between(start, end)
    cash = cash_events(rows, payments)
    cash = cash[cash["date"].between(start, end)].groupby("invoice_id")["amount"].sum()
    rows["actual"] = rows["invoice_id"].astype(str).map(cash).fillna(0.0)
    rows["forecast"] = rows["invoice_id"].map(fc).fillna(0.0)
    rows["cause"] = _causes(rows, as_of, start, in_win)
    rows = rows[["invoice_id", "customer_id", "forecast", "actual", "cause"]]
    new_row = pd.DataFrame({"invoice_id": [NEW_BILLING], "customer_id": [NEW_BILLING],
                            "forecast": [float(fc.get(NEW_BILLING, 0.0))], "actual": [0.0], "cause": ["new items"]})
    out = pd.concat([rows, new_row], ignore_index=True)
    out["gap"] = out["actual"] - out["forecast"]
    return out[(out["forecast"] != 0) | (out["actual"] != 0)].reset_index(drop=True)


def _causes(rows: pd.DataFrame, as_of, start, in_win: pd.Series) -> pd.Series:
    short = rows["actual"] < rows["forecast"]
    col = lambda name: rows[name].fillna(False).astype(bool) if name in rows.columns else pd.Series(False, index=rows.index)
    written_off = rows["written_off_amount"].fillna(0) > 0 if "written_off_amount" in rows.columns else col("_none")
    conditions = [
        (rows["actual"] - rows["forecast"]).abs() < 0.005,
        rows["invoice_date"] > as_of,
        ~short,
        written_off,
        col("disputed"),
        in_win,  # settled inside the window, short, undisputed
        col("broken_promise"),
        rows["paid_date"] < start,
    ]
    choices = ["on forecast", "new items", "paid early", "written off", "disputed", "partial", "broken promise", "paid early"]
    return pd.Series(np.select(conditions, choices, default="paid late"), index=rows.index)


def by_cause(table: pd.DataFrame) -> pd.Series:
    """Total gap per cause, in :data:`CAUSES` order (causes with no gap are 0)."""
    return table.groupby("cause")["gap"].sum().reindex(list(CAUSES), fill_value=0.0)


def by_account(table: pd.DataFrame) -> pd.DataFrame:
    """Forecast, actual and gap per account with the gap split by cause, largest absolute gap first."""
    split = table.pivot_table(index="customer_id", columns="cause", values="gap", aggfunc="sum", fill_value=0.0)
    tot = table.groupby("customer_id")[["forecast", "actual", "gap"]].sum()
    out = tot.join(split.reindex(columns=[c for c in CAUSES if c in split.columns]))
    return out.reindex(out["gap"].abs().sort_values(ascending=False).index)


def waterfall_steps(table: pd.DataFrame, model_total: float | None = None) -> pd.DataFrame:
    """Steps from the forecast to the actual: label, value, kind (``absolute`` or ``relative``).

    When the stored forecast's selected model differs from the invoice-level one, ``model_total`` is its
    total for the window and the first step bridges the two.
    """
    items_total = table["forecast"].sum()
    steps = [("forecast", model_total if model_total is not None else items_total, "absolute")]
    if model_total is not None and abs(items_total - model_total) >= 0.005:
        steps.append(("invoice-level vs selected model", items_total - model_total, "relative"))
    steps += [(c, v, "relative") for c, v in by_cause(table).items() if abs(v) >= 0.005]
    steps.append(("actual", table["actual"].sum(), "absolute"))
    return pd.DataFrame(steps, columns=["label", "value", "kind"])
