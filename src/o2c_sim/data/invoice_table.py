"""The invoice table: the lingua franca between simulator, importer, calibration and forecasting.

One row per invoice (DESIGN §4). The simulator writes it, the importer reads ERP exports into it,
calibration and forecasting consume it, whatever the rows' origin.

=====================  ==========================================================================
column                 meaning
=====================  ==========================================================================
invoice_id             string, unique
customer_id            string
segment                string ("" for imported data without segments)
invoice_date           date (datetime64[ns], midnight)
due_date               date
amount                 invoice amount, ledger currency (float, cents exact)
paid_date              date of final settlement; NaT while open
paid_amount            money applied from payments
credited_amount        money credited (credit notes)
written_off_amount     money written off
disputed               bool
dispute_reason         string or ""
dispute_resolved_date  date or NaT
channel                e.g. "paper" / "electronic" / "email"
corrects_invoice_id    for a credit note: the invoice it corrects, where the ERP says so ("" if not)
currency               ISO 4217 code of the row's money columns ("" = the ledger currency); written
                       by a run with currencies on, read by a warm start (docs/model.md §2.24)
=====================  ==========================================================================

**Currencies.** Without a ``currency`` column every amount is in one ledger currency. With one, each
row's money is in its own currency, and amounts of different currencies are never added as they are:
a consumer that adds amounts either handles the currencies (the warm start simulates each customer in
its own) or takes one currency at a time (:func:`one_currency`).

**Credit notes** are rows with a negative ``amount``. Their settlement columns are 0 or negative and
money is conserved the same way, ``amount = paid + credited + written off + open``: an open credit
note is a negative open amount (it reduces AR); when it is applied against invoices or refunded, its
``paid_amount`` (= ``amount`` when settled in full) is the cash it takes back, so receipts summed over
all rows are net cash. Sums over ``amount`` (sales, AR) are therefore **net sales** and **net AR**; DSO
and CEI computed from an imported table use them (credit-management convention: credit notes reduce
the period's credit sales). Behaviour (payment delays) is fitted on invoices only (:func:`sales`).
"""

from __future__ import annotations

import pandas as pd

REQUIRED = ("invoice_id", "customer_id", "invoice_date", "due_date", "amount")
DATE_COLUMNS = ("invoice_date", "due_date", "paid_date", "dispute_resolved_date")
MONEY_COLUMNS = ("amount", "paid_amount", "credited_amount", "written_off_amount")
STRING_COLUMNS = ("invoice_id", "customer_id", "segment", "dispute_reason", "channel", "corrects_invoice_id", "currency")
COLUMNS = (
    "invoice_id", "customer_id", "segment", "invoice_date", "due_date", "amount", "paid_date",
    "paid_amount", "credited_amount", "written_off_amount", "disputed", "dispute_reason",
    "dispute_resolved_date", "channel", "corrects_invoice_id", "currency",
)


def conform_columns(df: pd.DataFrame, columns, dates, money, special=None) -> pd.DataFrame:
    """The ``columns`` that ``df`` has, in that order: ``dates`` as datetime64[ns], ``money`` as float
    rounded to the cent, a column of ``special`` through its converter, any other as text ("" when
    missing). Shared by the invoice table and the activity table."""
    special = special or {}
    out = pd.DataFrame(index=df.index)
    for col in columns:
        if col not in df.columns:
            continue
        s = df[col]
        if col in special:
            s = special[col](s)
        elif col in dates:
            s = pd.to_datetime(s).astype("datetime64[ns]")
        elif col in money:
            s = pd.to_numeric(s).astype("float64").round(2)
        else:
            s = s.fillna("").astype(str)
        out[col] = s
    return out


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with the canonical column order and dtypes; optional columns absent stay absent.

    Assumes values are already valid (the importer checks them row by row before calling this).
    """
    out = conform_columns(df, COLUMNS, DATE_COLUMNS, MONEY_COLUMNS, {"disputed": lambda s: s.fillna(False).astype(bool)})
    return out.reset_index(drop=True)


def currencies_in(df: pd.DataFrame) -> list[str]:
    """The distinct codes of the optional ``currency`` column, sorted ([] without one; "" is left out)."""
    if "currency" not in df.columns:
        return []
    return sorted({str(c) for c in df["currency"].dropna().unique()} - {""})


def one_currency(df: pd.DataFrame, code: str | None, *, what: str, choose: str, source: str | None = None) -> pd.DataFrame:
    """The rows in currency ``code`` (those with no code count as the only currency there is); with no
    ``code`` the whole table when it holds at most one currency, else a :class:`UserError` saying which
    currencies it holds and how to ``choose`` one — ``what`` names what would have added them up."""
    from o2c_sim.errors import UserError

    codes = currencies_in(df)
    if code is None:
        if len(codes) > 1:
            raise UserError(f"the amounts are in {len(codes)} currencies ({', '.join(codes)}) and {what} would add them up "
                            f"as if they were one; {choose}", source=source)
        return df
    if codes and code not in codes:
        raise UserError(f"no amounts in currency {code}; the table holds {', '.join(codes) or 'one unnamed currency'}",
                        source=source)
    return df if not codes else df[df["currency"].astype(str) == code]


def open_amount(df: pd.DataFrame) -> pd.Series:
    """amount − paid − credited − written off (missing money columns count as zero)."""
    out = df["amount"].copy()
    for col in ("paid_amount", "credited_amount", "written_off_amount"):
        if col in df.columns:
            out = out - df[col].fillna(0.0)
    return out.round(2)


def open_as_of(df: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Invoices issued on or before ``as_of`` and not settled by then (paid_date NaT or after ``as_of``)."""
    as_of = pd.Timestamp(as_of)
    issued = df["invoice_date"] <= as_of
    unsettled = df["paid_date"].isna() | (df["paid_date"] > as_of) if "paid_date" in df.columns else True
    return df[issued & unsettled]


def sales(df: pd.DataFrame) -> pd.DataFrame:
    """Invoices only (amount > 0): the rows whose payment behaviour can be fitted; credit notes left out."""
    return df[df["amount"] > 0]


def net_sales(df: pd.DataFrame) -> float:
    """Invoiced amount less credit notes: Σ amount over all rows."""
    return float(df["amount"].sum().round(2))


def net_ar_as_of(df: pd.DataFrame, as_of) -> float:
    """Net AR on ``as_of`` over items issued by then: the full amount of those settled later, else
    amount − paid − credited − written off; credit notes included (negative)."""
    as_of = pd.Timestamp(as_of)
    items = df[df["invoice_date"] <= as_of]
    later = (items["paid_date"].notna() & (items["paid_date"] > as_of) if "paid_date" in items
             else pd.Series(False, index=items.index))
    return float(items["amount"].where(later, open_amount(items)).sum().round(2))


def ledger_dso(df: pd.DataFrame, as_of=None, days: int = 90) -> tuple[float, float, float]:
    """(DSO, net AR, net sales) of an imported ledger: DSO = net AR on ``as_of`` ÷ net sales of the
    ``days`` days ending on ``as_of`` × ``days`` (standard DSO, :func:`o2c_sim.kpis.dso_standard`, with
    credit notes reducing both AR and sales). ``as_of`` defaults to the last invoice date."""
    from o2c_sim.kpis import dso_standard

    as_of = pd.Timestamp(df["invoice_date"].max() if as_of is None else as_of)
    window = (df["invoice_date"] > as_of - pd.Timedelta(days=days)) & (df["invoice_date"] <= as_of)
    ar, sales = net_ar_as_of(df, as_of), net_sales(df[window])
    return dso_standard(ar, sales, days), ar, sales
