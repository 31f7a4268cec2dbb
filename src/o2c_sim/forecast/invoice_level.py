"""Invoice-level receipts: a time-to-payment survival curve applied to each open invoice, plus new billing.

For open invoice *i* of age ``a_i`` days (since its invoice date) with survival curve ``S_i(t) = P(T_i > t)``,
the chance it is paid on day ``a_i + j`` after the as-of date is ``(S_i(a_i+j−1) − S_i(a_i+j)) / S_i(a_i)``;
its expected receipts in a period are its open amount times the sum of those chances over the period's
days. Invoices not yet issued arrive at the recent billing rate ``b`` per day and are paid with the
pooled curve ``S_0``: expected receipts on day ``j`` are ``b · (1 − S_0(j−1))`` (convolution of a uniform
billing stream with the payment delay).

Intervals are normal with variance ``Σ_i A_i² p_ik (1 − p_ik)`` (each open invoice a Bernoulli draw) plus
``E[X²]/E[X] · new_k`` (new billing a compound Poisson process with invoice amounts ``X``), scaled by an
over-dispersion factor estimated from the model's own one-period-ahead errors at past origins.

Curves are fitted on the ledger known at the origin, open invoices entering as censored at their age:
Kaplan–Meier (statsmodels ``SurvfuncRight``) by segment with a per-customer shift, or Cox proportional
hazards (statsmodels ``PHReg``; Breslow baseline) with covariates disputed, paper channel and the
customer's past lateness. Sources: Kaplan & Meier (1958), JASA 53; Cox (1972), JRSS B 34; Breslow (1974).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..invoice_table import open_amount
from .models import CannotFit, Model, frame
from .series import BILLING_WINDOW_DAYS, FREQS, History, billing_rate

NEW_BILLING = "(new billing)"


def durations(known: pd.DataFrame, as_of: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Days from invoice to payment and the event flag (1 paid, 0 open: censored at its age on ``as_of``)."""
    paid = known["paid_date"].notna().to_numpy()
    end = known["paid_date"].where(paid, pd.Timestamp(as_of))
    return (end - known["invoice_date"]).dt.days.to_numpy(float), paid.astype(int)


def km_curve(time: np.ndarray, status: np.ndarray):
    """Kaplan–Meier ``S(t)`` as a vectorised step function (statsmodels ``SurvfuncRight``)."""
    from statsmodels.duration.survfunc import SurvfuncRight

    sf = SurvfuncRight(time, status)
    times, probs = np.asarray(sf.surv_times, float), np.asarray(sf.surv_prob, float)

    def surv(t):
        idx = np.searchsorted(times, np.asarray(t, float), side="right") - 1
        return np.where(idx < 0, 1.0, probs[np.clip(idx, 0, None)])

    return surv


def shrunk_customer_mean(known: pd.DataFrame, values: pd.Series, use: pd.Series, k: float, *, leave_one_out=False) -> pd.Series:
    """Per-invoice customer mean of ``values`` over rows ``use``, shrunk to 0 with ``k`` pseudo-rows.

    ``Σ v / (n + k)`` over the customer's rows (``leave_one_out`` drops the row itself): the empirical-Bayes
    style estimate that tends to the pooled value 0 for customers with little history.
    """
    v = values.where(use, 0.0)
    n = use.astype(float)
    total = v.groupby(known["customer_id"]).transform("sum")
    count = n.groupby(known["customer_id"]).transform("sum")
    if leave_one_out:
        total, count = total - v, count - n
    return total / (count + k)


def covariates(known: pd.DataFrame) -> np.ndarray:
    """Invoice covariates the ledger has: disputed (0/1), paper channel (0/1)."""
    cols = []
    if "disputed" in known.columns:
        cols.append(known["disputed"].astype(float).to_numpy())
    if "channel" in known.columns and known["channel"].nunique() > 1:
        cols.append((known["channel"].str.lower() == "paper").astype(float).to_numpy())
    return np.column_stack(cols) if cols else np.empty((len(known), 0))


class InvoiceLevel(Model):
    """Base class: subclasses fit ``S_i`` for the open invoices (:meth:`curves`)."""

    min_paid = 30

    def curves(self, known: pd.DataFrame, as_of: pd.Timestamp):
        """Return ``surv(rows, t)``: ``S_i(t)`` for the invoices at positions ``rows`` of ``known``, ages ``t``
        (an array with one row per invoice)."""
        raise NotImplementedError

    def forecast(self, history: History, horizon: int) -> pd.DataFrame:
        exp, var = self._expectations(history, horizon)
        mean = exp.sum(axis=0)
        sd = np.sqrt(var * self._dispersion(history))
        return frame(history.future(horizon), mean, sd)

    def items(self, history: History, horizon: int) -> pd.DataFrame:
        """Expected receipts per open invoice and period (``invoice_id`` :data:`NEW_BILLING` for new items)."""
        exp, _ = self._expectations(history, horizon)
        known = history.known
        ids = known.loc[known["paid_date"].isna(), ["invoice_id", "customer_id"]]
        ids = pd.concat([ids, pd.DataFrame({"invoice_id": [NEW_BILLING], "customer_id": [NEW_BILLING]})])
        out = pd.DataFrame(exp, columns=history.future(horizon))
        out[["invoice_id", "customer_id"]] = ids.to_numpy()
        out = out.melt(["invoice_id", "customer_id"], var_name="period_start", value_name="expected")
        out["period_start"] = pd.to_datetime(out["period_start"])
        return out[out["expected"] > 0].reset_index(drop=True)

    def _expectations(self, history: History, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """(expected receipts per open invoice + one row for new billing × period, variance per period)."""
        known, as_of = history.known, history.as_of
        time, status = durations(known, as_of)
        if status.sum() < self.min_paid:
            raise CannotFit(f"needs at least {self.min_paid} paid invoices before the as-of date, has {status.sum()}")
        surv = self.curves(known, as_of)
        rows = np.flatnonzero(status == 0)
        amount = open_amount(known.iloc[rows]).clip(lower=0).to_numpy()
        days = horizon * FREQS[history.freq]
        s = surv(rows, time[rows, None] + np.arange(0, days + 1)[None, :])  # from as_of to the horizon's end
        with np.errstate(divide="ignore", invalid="ignore"):
            p_day = np.where(s[:, :1] > 1e-9, -np.diff(s, axis=1) / s[:, :1], 0.0)
        p = p_day.reshape(len(rows), horizon, -1).sum(axis=2)
        new_day = billing_rate(known, as_of) * (1.0 - self._new_curve(known, as_of, surv, days))
        new = new_day.reshape(horizon, -1).sum(axis=1)
        x = known["amount"].to_numpy()
        var = (amount[:, None] ** 2 * p * (1 - p)).sum(axis=0) + new * (x**2).mean() / x.mean()
        return np.vstack([amount[:, None] * p, new]), var

    def _new_curve(self, known, as_of, surv, days: int) -> np.ndarray:
        """``S_0(t)``, t = 0..days−1, for invoices not yet issued: the amount-weighted mean of the curves of
        the invoices issued in the last :data:`~o2c_sim.forecast.series.BILLING_WINDOW_DAYS` (so the current
        mix of customers, channels and disputes carries forward)."""
        rows = np.flatnonzero((known["invoice_date"] > as_of - pd.Timedelta(days=BILLING_WINDOW_DAYS)).to_numpy())
        w = known["amount"].to_numpy()[rows]
        return (w[:, None] * surv(rows, np.tile(np.arange(days), (len(rows), 1)))).sum(axis=0) / w.sum()

    def _dispersion(self, history: History) -> float:
        """Over-dispersion ``φ = mean(e² / v)`` of one-period-ahead errors at the last 8 origins (≥ 1)."""
        return _dispersion(self, history)


def _dispersion(model: InvoiceLevel, history: History, origins: int = 8) -> float:
    y = history.receipts
    ends = [s - pd.Timedelta(days=1) for s in y.index[-origins:]]
    ratios = []
    for end in ends:
        if end - history.known["invoice_date"].min() < pd.Timedelta(days=180):
            continue
        past = History(history.known, end, history.freq)
        try:
            exp, var = model._expectations(past, 1)
        except CannotFit:
            continue
        ratios.append((y[end + pd.Timedelta(days=1)] - exp.sum()) ** 2 / var[0])
    return max(1.0, float(np.mean(ratios))) if ratios else 1.0


class SurvivalCurves(InvoiceLevel):
    """Kaplan–Meier curve of payment delays adjusted for customer, dispute and channel.

    Delays follow ``T_i = s_i + ε_i`` (an accelerated-failure-time form with a non-parametric error):
    the shift ``s_i = c_customer + β·x_i`` (x: disputed, paper channel) is fitted by backfitting least
    squares on paid invoices, each customer effect shrunk as ``Σ r / (n_c + k)``; the curve ``S_ε`` is
    the Kaplan–Meier estimate of ``T − s`` with open invoices censored, and ``S_i(t) = S_ε(t − s_i)``.
    """

    name = "invoice_km"

    def __init__(self, shrink: float = 3.0, sweeps: int = 5):
        self.shrink, self.sweeps = shrink, sweeps

    def shifts(self, known: pd.DataFrame, time: np.ndarray, status: np.ndarray) -> np.ndarray:
        x = covariates(known)
        paid = status == 1
        y = time - time[paid].mean()
        cust = np.zeros(len(known))
        beta = np.zeros(x.shape[1])
        for _ in range(self.sweeps):
            if x.shape[1]:
                beta = np.linalg.lstsq(x[paid] - x[paid].mean(axis=0), (y - cust)[paid], rcond=None)[0]
            fixed = (x - x[paid].mean(axis=0)) @ beta
            cust = shrunk_customer_mean(known, pd.Series(y - fixed, index=known.index), pd.Series(paid, index=known.index),
                                        self.shrink).to_numpy()
        return cust + (x - x[paid].mean(axis=0)) @ beta

    def curves(self, known, as_of):
        time, status = durations(known, as_of)
        logt = np.log1p(time)
        shift = self.shifts(known, logt, status)
        f = km_curve(logt - shift, status)

        def surv(rows, t):
            return f(np.log1p(t) - shift[rows][:, None])

        return surv


class CoxCurves(InvoiceLevel):
    """Cox proportional hazards: ``S_i(t) = exp(−H_0(t) · exp(x_i β))``.

    Covariates (those the ledger has): disputed, paper channel, and the customer's past mean days late
    ``max(0, paid − due)`` over its other paid invoices, shrunk to the pooled mean with ``k`` pseudo-rows.
    ``H_0`` is Breslow's estimator ``Σ_{t_k ≤ t} d_k / Σ_{T_j ≥ t_k} exp(x_j β)``.
    """

    name = "invoice_cox"

    def __init__(self, shrink: float = 3.0):
        self.shrink = shrink

    def covariates(self, known, as_of) -> np.ndarray:
        time, status = durations(known, as_of)
        paid = pd.Series(status == 1, index=known.index)
        late = (known["paid_date"] - known["due_date"]).dt.days.clip(lower=0).astype(float)
        mean_late = late[paid].mean()
        lateness = shrunk_customer_mean(known, late - mean_late, paid, self.shrink, leave_one_out=True)
        return np.column_stack([lateness.fillna(0.0).to_numpy(), covariates(known)])

    def curves(self, known, as_of):
        from statsmodels.duration.hazard_regression import PHReg

        time, status = durations(known, as_of)
        x = self.covariates(known, as_of)
        with np.errstate(all="ignore"):
            res = PHReg(time, x, status=status, ties="breslow").fit(disp=False)
        beta = np.asarray(res.params)
        if not np.all(np.isfinite(beta)):
            raise CannotFit("the Cox model did not converge on this history")
        risk = np.exp(x @ beta)
        order = np.argsort(time)
        t_sorted, r_sorted, d_sorted = time[order], risk[order], status[order]
        at_risk = np.cumsum(r_sorted[::-1])[::-1]  # Σ exp(xβ) over T_j ≥ t (ties handled below)
        event_times, deaths = np.unique(t_sorted[d_sorted == 1], return_counts=True)
        first = np.searchsorted(t_sorted, event_times, side="left")
        cumhaz = np.cumsum(deaths / at_risk[first])

        def surv(rows, t):
            idx = np.searchsorted(event_times, t, side="right") - 1
            h0 = np.where(idx < 0, 0.0, cumhaz[np.clip(idx, 0, None)])
            return np.exp(-h0 * risk[rows][:, None])

        return surv
