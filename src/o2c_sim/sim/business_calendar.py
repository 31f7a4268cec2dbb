"""The business-day calendar: which simulated days are working and banking days.

Simulated time is measured in days from day 0 (the first warm-up day); day ``d`` is the date
``origin + d``. Invoices are issued, letters sent and payments booked on business days only.
"""

from __future__ import annotations

import datetime as dt

import numpy as np


class BusinessCalendar:
    """Business days over ``n_days`` from ``origin``, by numpy's ``busday`` rules (weekmask + holidays)."""

    def __init__(self, origin: dt.date, n_days: int, weekmask: str = "Mon Tue Wed Thu Fri", holidays=()):
        self.origin = np.datetime64(origin, "D")
        self.n_days = n_days
        # a margin past the horizon so that "next business day" is always defined
        span = n_days + 60
        dates = self.origin + np.arange(span)
        self.is_busday = np.is_busday(dates, weekmask=weekmask, holidays=list(holidays))
        if not self.is_busday.any():
            raise ValueError("the calendar has no business days")
        nxt = np.full(span, span, dtype=np.int64)
        last = span
        for d in range(span - 1, -1, -1):
            if self.is_busday[d]:
                last = d
            nxt[d] = last
        self._next = nxt
        self.busday_index = np.cumsum(self.is_busday) - 1  # business-day ordinal of each day
        month = dates.astype("datetime64[M]")
        first = np.r_[True, month[1:] != month[:-1]]
        before_month = np.maximum.accumulate(np.where(first, np.arange(span), 0))
        counted = np.cumsum(self.is_busday)
        #: ordinal of each day among its month's business days (0 = first business day)
        self.busday_of_month = counted - (counted[before_month] - self.is_busday[before_month]) - 1
        self.busdays = np.flatnonzero(self.is_busday[:n_days])
        #: business days in a year of this calendar's week (e.g. 5/7 of 365.25 ≈ 261 less holidays)
        self.per_year = float(self.is_busday[: max(n_days, 365)].mean() * 365.25) if span else 250.0

    def next_busday(self, day):
        """The first business day on or after ``day`` (vectorised; days past the margin are clipped)."""
        if isinstance(day, int):
            return int(self._next[min(max(day, 0), len(self._next) - 1)])
        day = np.asarray(day)
        finite = np.isfinite(day) if day.dtype.kind == "f" else np.ones(day.shape, bool)
        idx = np.clip(np.where(finite, day, 0).astype(np.int64), 0, len(self._next) - 1)
        out = self._next[idx].astype(day.dtype if day.dtype.kind == "f" else np.int64)
        return np.where(finite, out, day) if day.dtype.kind == "f" else out

    def add_busdays(self, day: int, n: int) -> int:
        """The day ``n`` business days after business-day-or-next ``day``."""
        start = int(self.busday_index[int(self._next[day])])
        target = start + n
        pos = np.searchsorted(self.busday_index, target)
        return int(min(pos, len(self.busday_index) - 1))

    def busdays_between(self, start, end):
        """Business days in (start, end] — vectorised over integer day arrays."""
        start = np.clip(np.asarray(start, dtype=np.int64), 0, len(self.busday_index) - 1)
        end = np.clip(np.asarray(end, dtype=np.int64), 0, len(self.busday_index) - 1)
        return self.busday_index[end] - self.busday_index[start]

    def dates(self, days) -> np.ndarray:
        """datetime64[D] dates of integer days (NaT where ``days`` is not finite)."""
        days = np.asarray(days, dtype=float)
        out = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[D]")
        ok = np.isfinite(days)
        out[ok] = self.origin + days[ok].astype(np.int64)
        return out
