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

from ..errors import UserError

#: supported period lengths; the seasonal period of each (52 weeks a year, 7 days a week)
FREQS = {"W": 7, "D": 1}
SEASON = {"W": 52, "D": 7}
#: window for the recent billing rate (days)
BILLING_WINDOW_DAYS = 91


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


def known_at(ledger: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The ledger as recorded on ``as_of``: invoices issued by then; settlements after it undone.

    The invoice table carries no dispute-raised date, so ``disputed`` is kept as recorded (for the IBM
    sample the flag is the only dispute information; treat it as known while the invoice is open).
    """
    as_of = pd.Timestamp(as_of)
    df = ledger[ledger["invoice_date"] <= as_of].copy()
    if "paid_date" not in df.columns:
        df["paid_date"] = pd.NaT
    later = df["paid_date"].isna() | (df["paid_date"] > as_of)
    df.loc[later, "paid_date"] = pd.NaT
    for col in ("paid_amount", "credited_amount", "written_off_amount"):
        if col in df.columns:
            df.loc[later, col] = 0.0
    if "dispute_resolved_date" in df.columns:
        df.loc[df["dispute_resolved_date"] > as_of, "dispute_resolved_date"] = pd.NaT
    return df


def received(ledger: pd.DataFrame) -> pd.Series:
    """Money received per settled invoice: ``paid_amount`` where given, else the invoice amount."""
    paid = ledger["paid_amount"] if "paid_amount" in ledger.columns else ledger["amount"]
    return paid.where(ledger["paid_date"].notna(), 0.0)


def periods(first: pd.Timestamp, last: pd.Timestamp, freq: str) -> pd.DatetimeIndex:
    """Period starts from the period containing ``first`` to the one containing ``last``."""
    return pd.date_range(period_start(pd.Timestamp(first), freq), period_start(pd.Timestamp(last), freq), freq=step(freq))


def receipts(ledger: pd.DataFrame, freq: str, through: pd.Timestamp | None = None) -> pd.Series:
    """Receipts per complete period, from the first invoice's period to the last period ending by ``through``.

    ``through`` defaults to :func:`history_end`. Periods with no receipts are 0.
    """
    through = history_end(ledger) if through is None else pd.Timestamp(through)
    end = last_complete_end(through, freq)
    idx = periods(ledger["invoice_date"].min(), end, freq) if end >= ledger["invoice_date"].min() else pd.DatetimeIndex([])
    paid = ledger[ledger["paid_date"].notna() & (ledger["paid_date"] <= end)]
    s = received(paid).groupby(period_start(paid["paid_date"], freq)).sum()
    return s.reindex(idx, fill_value=0.0).rename("receipts").astype(float)


def billing_rate(known: pd.DataFrame, as_of: pd.Timestamp, window_days: int = BILLING_WINDOW_DAYS) -> float:
    """Mean amount invoiced per calendar day over the last ``window_days`` (or since the first invoice)."""
    as_of = pd.Timestamp(as_of)
    start = max(as_of - pd.Timedelta(days=window_days - 1), known["invoice_date"].min())
    recent = known[known["invoice_date"] >= start]
    return float(recent["amount"].sum()) / ((as_of - start).days + 1)


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
    known: pd.DataFrame = field(init=False, repr=False)

    def __post_init__(self, ledger):
        check_freq(self.freq)
        self.as_of = last_complete_end(pd.Timestamp(self.as_of), self.freq)
        self.known = known_at(ledger, self.as_of)
        if self.known.empty:
            raise UserError(f"no invoices were issued on or before {self.as_of.date()}; choose a later as-of date")

    @cached_property
    def receipts(self) -> pd.Series:
        return receipts(self.known, self.freq, self.as_of)

    def future(self, horizon: int) -> pd.DatetimeIndex:
        return pd.date_range(self.as_of + pd.Timedelta(days=1), periods=horizon, freq=step(self.freq))

    def falling_due(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Amount falling due over the history periods and over the next ``horizon`` periods."""
        idx = self.receipts.index.append(self.future(horizon))
        s = falling_due(self.known, self.freq, self.as_of, idx).to_numpy()
        n = len(self.receipts)
        return s[:n], s[n:]
