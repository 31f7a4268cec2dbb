"""Receipts and amount falling due per period, as known on an as-of date (no look-ahead).

Periods are calendar weeks (``"W"``: Monday–Sunday, labelled by the Monday) or days (``"D"``).
Everything a model sees at an origin comes from :func:`known_at`: the ledger cut back to what was
recorded on the as-of date — invoices issued later are dropped, and an invoice paid later is *open* at
the origin. A :class:`History` bundles that view with the series built from it.

An extract is complete through its last invoice date (:func:`history_end`): after it the ledger only
shows the run-off of invoices already issued, not the receipts from invoices issued later.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from o2c_sim.errors import UserError

#: supported period lengths; the seasonal period of each (52 weeks a year, 7 days a week)
FREQS = {"W": 7, "D": 1}
SEASON = {"W": 52, "D": 7}
#: window for the recent billing rate (days)
BILLING_WINDOW_DAYS = 91
#: giant items: the top share of invoices by amount, if also ≥ ratio × the median (:func:`giant_threshold`)
GIANT_SHARE, GIANT_RATIO = 0.005, 5.0


def check_freq(freq: str) -> str:
    if freq not in FREQS:
        raise UserError(f"unknown frequency {freq!r}; expected one of {sorted(FREQS)} (W = weeks Monday–Sunday, D = days)")
    return freq


def period_start(dates: pd.Series | pd.DatetimeIndex | pd.Timestamp, freq: str):
    """The first day of the period containing each date (Monday for weeks)."""
    if freq == "D":
        return dates.normalize() if hasattr(dates, "normalize") else pd.Series(dates).dt.normalize()
    if isinstance(dates, pd.Timestamp):
        return dates.normalize() - pd.Timedelta(days=dates.day_of_week)
    d = pd.Series(dates) if not isinstance(dates, pd.Series) else dates
    return d.dt.normalize() - pd.to_timedelta(d.dt.day_of_week, unit="D")


def step(freq: str) -> pd.Timedelta:
    return pd.Timedelta(days=FREQS[freq])


def last_complete_end(as_of: pd.Timestamp, freq: str) -> pd.Timestamp:
    """The end (last day) of the last period that is complete on ``as_of``."""
    as_of = pd.Timestamp(as_of).normalize()
    start = period_start(as_of, freq)
    end = start + step(freq) - pd.Timedelta(days=1)
    return end if end == as_of else start - pd.Timedelta(days=1)


def history_end(ledger: pd.DataFrame) -> pd.Timestamp:
    """The last date the extract is complete through: its last invoice date."""
    if ledger.empty:
        raise UserError("the ledger is empty; a forecast needs paid invoice history")
    return pd.Timestamp(ledger["invoice_date"].max())


#: columns whose value is fixed when the invoice is issued: the only undated columns a forecast may read
#: for an invoice still open on the as-of date
KNOWN_AT_ISSUE = ("invoice_id", "customer_id", "segment", "invoice_date", "due_date", "amount", "channel",
                  "corrects_invoice_id")
#: optional date on which a dispute was raised (a ledger without it has no dispute known while open)
DISPUTE_RAISED = "dispute_raised_date"


def known_at(ledger: pd.DataFrame, as_of: pd.Timestamp, payments: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ledger as recorded on ``as_of``: invoices issued by then; settlements after it undone.

    For an invoice still open on ``as_of`` every column that is neither fixed at issue
    (:data:`KNOWN_AT_ISSUE`) nor dated on or before ``as_of`` is blanked (money 0, flags False, text "",
    dates NaT): an undated outcome such as ``disputed`` or ``paid_amount`` was recorded later and must not
    leak. ``disputed`` is then True only while a dated dispute (:data:`DISPUTE_RAISED` ≤ as_of, not
    resolved by then) is running. Invoices settled by ``as_of`` keep all their columns. With dated
    ``payments`` (:func:`cash_events`), an open invoice's ``paid_amount`` is what it had paid by ``as_of``,
    so only its rest is expected.
    """
    as_of = pd.Timestamp(as_of)
    df = ledger[ledger["invoice_date"] <= as_of].copy()
    if "paid_date" not in df.columns:
        df["paid_date"] = pd.NaT
    later = df["paid_date"].isna() | (df["paid_date"] > as_of)
    df.loc[later, "paid_date"] = pd.NaT
    for col in df.columns:
        if col in KNOWN_AT_ISSUE or col == "paid_date":
            continue
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            df.loc[later & (s > as_of), col] = pd.NaT
            if col not in ("dispute_resolved_date", DISPUTE_RAISED):
                df.loc[later, col] = pd.NaT
        elif pd.api.types.is_bool_dtype(s):
            df.loc[later, col] = False
        elif pd.api.types.is_numeric_dtype(s):
            df.loc[later, col] = 0.0
        elif pd.api.types.is_string_dtype(s) or s.dtype == object:
            df.loc[later, col] = ""
        else:
            df.loc[later, col] = pd.NA
    if payments is not None and len(payments):
        to_date = payments[payments["payment_date"] <= as_of].groupby("invoice_id")["amount"].sum()
        ids = df["invoice_id"].astype(str)
        df.loc[later, "paid_amount"] = ids[later].map(to_date).fillna(0.0).to_numpy()
    if "disputed" in df.columns and DISPUTE_RAISED in df.columns:
        running = df[DISPUTE_RAISED].notna() & ~(df.get("dispute_resolved_date", pd.Series(pd.NaT, index=df.index)) <= as_of)
        df.loc[later, "disputed"] = running[later]
    return df


def received(ledger: pd.DataFrame) -> pd.Series:
    """Money received per settled row: ``paid_amount`` where given (not empty), else the amount.

    A settled credit note (negative amount) counts its ``paid_amount`` (≤ 0, the cash it takes back when
    applied against invoices paid in full, or refunded), so receipts summed over all rows are net cash
    (the invoice table's convention); one applied with ``paid_amount`` 0 takes nothing."""
    paid = ledger["paid_amount"].fillna(ledger["amount"]) if "paid_amount" in ledger.columns else ledger["amount"]
    return paid.where(ledger["paid_date"].notna(), 0.0)


def cash_events(ledger: pd.DataFrame, payments: pd.DataFrame | None = None) -> pd.DataFrame:
    """Money received: ``invoice_id, date, amount``, one row per payment.

    An invoice with dated payment records (``payments``: ``invoice_id, payment_date, amount``, every
    partial payment with its own date — :func:`o2c_sim.data.importer.load_payments` or the ``payment`` rows of
    an activity log, :func:`payments_from_activities`) is received as those records say; any other
    settled row as :func:`received` on its ``paid_date``. Partial payments do not collapse onto one date.
    """
    settled = ledger[ledger["paid_date"].notna()]
    if payments is not None and len(payments):
        ids = set(ledger["invoice_id"].astype(str))
        pay = payments[payments["invoice_id"].astype(str).isin(ids)]
        settled = settled[~settled["invoice_id"].astype(str).isin(set(pay["invoice_id"].astype(str)))]
        dated = pd.DataFrame({"invoice_id": pay["invoice_id"].astype(str), "date": pay["payment_date"],
                              "amount": pay["amount"].astype(float)})
    else:
        dated = None
    out = pd.DataFrame({"invoice_id": settled["invoice_id"].astype(str), "date": settled["paid_date"],
                        "amount": received(settled).astype(float)})
    return out if dated is None else pd.concat([out, dated], ignore_index=True)


def payments_from_activities(activities: pd.DataFrame) -> pd.DataFrame | None:
    """The payments table from an activity log's ``payment`` rows that carry an amount (None if it has none)."""
    if activities is None or "amount" not in activities.columns:
        return None
    rows = activities[(activities["kind"] == "payment") & activities["amount"].notna()]
    if rows.empty:
        return None
    return pd.DataFrame({"invoice_id": rows["item_id"].astype(str), "payment_date": pd.to_datetime(rows["date"]).dt.normalize(),
                         "amount": rows["amount"].astype(float)}).sort_values("payment_date", ignore_index=True)


def periods(first: pd.Timestamp, last: pd.Timestamp, freq: str) -> pd.DatetimeIndex:
    """Period starts from the period containing ``first`` to the one containing ``last``."""
    return pd.date_range(period_start(pd.Timestamp(first), freq), period_start(pd.Timestamp(last), freq), freq=step(freq))


def receipts(ledger: pd.DataFrame, freq: str, through: pd.Timestamp | None = None,
             payments: pd.DataFrame | None = None) -> pd.Series:
    """Receipts per complete period (:func:`cash_events`), from the first invoice's period to the last
    period ending by ``through``.

    ``through`` defaults to :func:`history_end`. Periods with no receipts are 0.
    """
    through = history_end(ledger) if through is None else pd.Timestamp(through)
    end = last_complete_end(through, freq)
    idx = periods(ledger["invoice_date"].min(), end, freq) if end >= ledger["invoice_date"].min() else pd.DatetimeIndex([])
    cash = cash_events(ledger, payments)
    cash = cash[cash["date"] <= end]
    s = cash["amount"].groupby(period_start(cash["date"], freq)).sum()
    return s.reindex(idx, fill_value=0.0).rename("receipts").astype(float)


def billing_rate(known: pd.DataFrame, as_of: pd.Timestamp, window_days: int = BILLING_WINDOW_DAYS) -> float:
    """Mean amount invoiced per calendar day over the last ``window_days`` (or since the first invoice)."""
    as_of = pd.Timestamp(as_of)
    start = max(as_of - pd.Timedelta(days=window_days - 1), known["invoice_date"].min())
    recent = known[known["invoice_date"] >= start]
    return float(recent["amount"].sum()) / ((as_of - start).days + 1)


def giant_threshold(known: pd.DataFrame, share: float = GIANT_SHARE, ratio: float = GIANT_RATIO) -> float:
    """Amount above which an invoice is a *giant*: the ``1 − share`` quantile of invoice amounts, and at
    least ``ratio`` × the median (a ledger without outliers has no giants). ``inf`` when ``share`` is 0.

    Giant items are forecast one by one (their own survival curve) and kept out of the series models'
    level, so one exceptional invoice does not dominate every weekly forecast for months.
    """
    amounts = known.loc[known["amount"] > 0, "amount"]
    if share <= 0 or amounts.empty:
        return float("inf")
    return float(max(amounts.quantile(1.0 - share), ratio * amounts.median()))


def billing_forecast(known: pd.DataFrame, as_of: pd.Timestamp, days: int,
                     threshold: float = float("inf")) -> tuple[np.ndarray, np.ndarray]:
    """Expected new billing on each of the ``days`` days after ``as_of`` and its error s.d. per day.

    Weekly net billing (credit notes included, giants excluded: they are not expected to recur) is
    forecast by its own model, level, damped trend or annual seasonality, chosen by its errors at past
    origins (:func:`o2c_sim.forecast.billing.forecast_billing`), whose errors per week ahead are the s.d.
    Each week's forecast is spread over its days by the day-of-month profile of the last year's billing
    (recurring contracts billed on fixed days), shrunk towards a flat profile with 30 pseudo-days.
    """
    from o2c_sim.forecast.billing import forecast_billing

    as_of = pd.Timestamp(as_of)
    regular = known[(known["amount"] <= threshold) & (known["invoice_date"] <= as_of)]
    end = last_complete_end(as_of, "W")
    weekly = regular["amount"].groupby(period_start(regular["invoice_date"], "W")).sum()
    idx = periods(regular["invoice_date"].min(), end, "W") if len(regular) and end >= regular["invoice_date"].min() else []
    b = weekly.reindex(idx, fill_value=0.0).to_numpy(float)
    if len(b) == 0:
        return np.zeros(days), np.zeros(days)
    week = (np.arange(days) + (as_of - end).days) // 7  # week ahead of each future day, counted from ``end``
    fc = forecast_billing(b, int(week.max()) + 1)
    future = pd.date_range(as_of + pd.Timedelta(days=1), periods=days)
    year = regular[regular["invoice_date"] > as_of - pd.Timedelta(days=365)]
    by_dom = year["amount"].groupby(year["invoice_date"].dt.day).sum().reindex(range(1, 32), fill_value=0.0)
    n_dom = pd.Series(pd.date_range(as_of - pd.Timedelta(days=364), as_of).day).value_counts().reindex(range(1, 32), fill_value=0)
    flat = by_dom.sum() / max(n_dom.sum(), 1)
    per_day = (by_dom + 30 * flat) / (n_dom + 30)  # mean billing per calendar day with that day of month
    profile = per_day / per_day.mean() if per_day.mean() > 0 else per_day * 0 + 1.0
    daily = fc.mean[week] / 7.0 * profile.reindex(future.day).to_numpy()
    return np.clip(daily, 0.0, None), fc.sd[week] / 7.0


def terms_days(known: pd.DataFrame, as_of: pd.Timestamp, window_days: int = BILLING_WINDOW_DAYS) -> pd.Series:
    """Share of recent billing by payment terms in days (due − invoice date), weighted by amount."""
    recent = known[known["invoice_date"] > pd.Timestamp(as_of) - pd.Timedelta(days=window_days)]
    recent = recent if len(recent) else known
    t = (recent["due_date"] - recent["invoice_date"]).dt.days.clip(lower=0)
    return recent["amount"].groupby(t).sum() / recent["amount"].sum()


def falling_due(known: pd.DataFrame, freq: str, as_of: pd.Timestamp, idx: pd.DatetimeIndex) -> pd.Series:
    """Amount falling due in each period of ``idx``, as known on ``as_of``.

    ``due(p) = Σ amount of invoices issued by as_of with due date in p + expected new billing due in p``,
    the second term (periods after as_of only) being :func:`billing_rate` × the recent terms mix
    (:func:`terms_days`) for each day after ``as_of``. Paid status is irrelevant: it is what is *due*.
    """
    as_of = pd.Timestamp(as_of)
    s = known["amount"].groupby(period_start(known["due_date"], freq)).sum().reindex(idx, fill_value=0.0)
    if len(idx) and idx[-1] > as_of:
        days = pd.date_range(as_of + pd.Timedelta(days=1), idx[-1] + step(freq) - pd.Timedelta(days=1))
        rate = billing_rate(known, as_of)
        for term, share in terms_days(known, as_of).items():
            due = period_start(pd.Series(days + pd.Timedelta(days=int(term))), freq)
            s = s.add(due.value_counts().mul(rate * share), fill_value=0.0).reindex(idx)
    return s.fillna(0.0).rename("falling_due")


@dataclass
class History:
    """What a model may use at an origin: the ledger known on ``as_of`` and series built from it.

    ``as_of`` is moved back to the end of the last complete period (a mid-week date uses the week
    before); the forecast covers the ``horizon`` periods after it.
    """

    ledger: InitVar[pd.DataFrame]  #: not kept: nothing after as_of may leak into a model
    as_of: pd.Timestamp
    freq: str = "W"
    giant_share: float = GIANT_SHARE
    payments: pd.DataFrame | None = field(default=None, repr=False)  #: dated payment records (cut to as_of)
    known: pd.DataFrame = field(init=False, repr=False)
    cache: dict = field(init=False, repr=False, default_factory=dict)  #: fits shared by the models at one origin

    def __post_init__(self, ledger):
        check_freq(self.freq)
        self.as_of = last_complete_end(pd.Timestamp(self.as_of), self.freq)
        if self.payments is not None:
            self.payments = self.payments[self.payments["payment_date"] <= self.as_of]
        self.known = known_at(ledger, self.as_of, self.payments)
        if self.known.empty:
            raise UserError(f"no invoices were issued on or before {self.as_of.date()}; choose a later as-of date")

    @cached_property
    def receipts(self) -> pd.Series:
        return receipts(self.known, self.freq, self.as_of, self.payments)

    @cached_property
    def giant(self) -> np.ndarray:
        """Mask over ``known``: giant items (:func:`giant_threshold`)."""
        return (self.known["amount"] > giant_threshold(self.known, self.giant_share)).to_numpy()

    @cached_property
    def regular_receipts(self) -> pd.Series:
        """Receipts without those of giant items: the series the series models work on."""
        if not self.giant.any():
            return self.receipts
        g = self.known[self.giant]
        return self.receipts - receipts(g, self.freq, self.as_of, self.payments).reindex(self.receipts.index, fill_value=0.0)

    def future(self, horizon: int) -> pd.DatetimeIndex:
        return pd.date_range(self.as_of + pd.Timedelta(days=1), periods=horizon, freq=step(self.freq))

    def falling_due(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Amount falling due over the history periods and over the next ``horizon`` periods."""
        idx = self.receipts.index.append(self.future(horizon))
        s = falling_due(self.known, self.freq, self.as_of, idx).to_numpy()
        n = len(self.receipts)
        return s[:n], s[n:]
