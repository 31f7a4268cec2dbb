"""Invoice-level receipts: a time-to-payment survival curve applied to each open invoice, plus new billing.

For open invoice *i* of age ``a_i`` days (since its invoice date) with survival curve ``S_i(t) = P(T_i > t)``,
the chance it is paid on day ``a_i + j`` after the as-of date is ``(S_i(a_i+j−1) − S_i(a_i+j)) / S_i(a_i)``;
its expected receipts in a period are ``A_i · π_c`` times the sum of those chances over the period's days,
where ``A_i`` is its open amount and ``π_c`` the share its customer pays of what it is billed (short-pays,
credits and write-offs of its settled invoices, shrunk to the pooled share). A customer's open credit
notes (negative rows) are netted against its expected receipts. New billing ``b_d`` per future day comes
from :func:`~o2c_sim.forecast.series.billing_forecast` and is paid with the amount-weighted curve of
recent invoices: receipts on day ``j`` are ``Σ_d b_d · (S_0(j−d−1) − S_0(j−d))`` (a convolution).

Intervals are normal with variance ``Σ_i (A_i π_c)² p_ik (1 − p_ik)`` (each open invoice a Bernoulli
draw) plus ``E[X²]/E[X] · new_k`` (new billing a compound Poisson process with invoice amounts ``X``)
plus the billing level's own error; the back-test replaces them by empirical quantiles of past errors
(:mod:`o2c_sim.forecast.honest`) once a record exists.

Curves are fitted on the ledger known at the origin, open invoices entering as censored: Kaplan–Meier
(statsmodels ``SurvfuncRight``) on the days from the due date with a per-customer shift, or Cox
proportional hazards (statsmodels ``PHReg``; Breslow baseline). Sources: Kaplan & Meier (1958), JASA 53;
Cox (1972), JRSS B 34; Breslow (1974); Efron & Morris (1975), JASA 70 for the shrinkage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from o2c_sim.data.invoice_table import open_amount
from o2c_sim.forecast.base import CannotFit, Model, frame
from o2c_sim.forecast.series import BILLING_WINDOW_DAYS, DISPUTE_RAISED, FREQS, History, billing_forecast, giant_threshold

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
    """Invoice covariates the ledger has: disputed (0/1), paper channel (0/1).

    ``disputed`` only when disputes are dated (:data:`~o2c_sim.forecast.series.DISPUTE_RAISED`): an undated
    flag is unknown for open invoices, and fitting its effect on settled ones while open ones count as
    undisputed would forecast every open disputed invoice too early; without it the curve mixes both."""
    cols = []
    if "disputed" in known.columns and DISPUTE_RAISED in known.columns:
        cols.append(known["disputed"].astype(float).to_numpy())
    if "channel" in known.columns and known["channel"].nunique() > 1:
        cols.append((known["channel"].str.lower() == "paper").astype(float).to_numpy())
    return np.column_stack(cols) if cols else np.empty((len(known), 0))


class InvoiceLevel(Model):
    """Base class: subclasses fit ``S_i`` for the invoices of ``known`` (:meth:`curves`)."""

    min_paid = 30
    #: pseudo-invoices (of mean amount) pulling a customer's paid share to the pooled share
    share_shrink = 3.0

    def curves(self, known: pd.DataFrame, as_of: pd.Timestamp):
        """Return ``surv(rows, t)``: ``S_i(t)`` for the invoices at positions ``rows`` of ``known``, ages ``t``
        (an array with one row per invoice)."""
        raise NotImplementedError

    def forecast(self, history: History, horizon: int) -> pd.DataFrame:
        _, exp, var = self.expectations(history, horizon)
        return frame(history.future(horizon), exp.sum(axis=0), np.sqrt(var))

    def items(self, history: History, horizon: int) -> pd.DataFrame:
        """Expected receipts per open invoice and period (``invoice_id`` :data:`NEW_BILLING` for new items)."""
        ids, exp, _ = self.expectations(history, horizon)
        out = pd.DataFrame(exp, columns=history.future(horizon))
        out[["invoice_id", "customer_id"]] = ids.to_numpy()
        out = out.melt(["invoice_id", "customer_id"], var_name="period_start", value_name="expected")
        out["period_start"] = pd.to_datetime(out["period_start"])
        return out[out["expected"] > 0].reset_index(drop=True)

    def expectations(self, history: History, horizon: int, *, only: np.ndarray | None = None, new_billing=True):
        """(ids, expected receipts per open invoice [+ one row for new billing] × period, variance per period).

        ``only`` restricts the open invoices to a mask over ``history.known`` (giant items for the series models).
        Fitted once per origin and model; every horizon comes from the same fit.
        """
        known, as_of = history.known, history.as_of
        key = (self.name, "fit")
        if key not in history.cache:
            history.cache[key] = self._fit(known, as_of)
        surv, share, age, runs = history.cache[key]
        days = horizon * FREQS[history.freq]
        is_open = (known["paid_date"].isna() & (known["amount"] > 0)).to_numpy()
        mask = is_open if only is None else is_open & only
        rows = np.flatnonzero(mask)
        amount = (open_amount(known.iloc[rows]).clip(lower=0) * share[rows]).to_numpy()
        amount = amount * _credit_factor(known, rows, amount)
        # from as_of to a week past the horizon's end, so that mass moved back to a payment run is kept
        s = surv(rows, age[rows, None] + np.arange(0, days + 8)[None, :])
        with np.errstate(divide="ignore", invalid="ignore"):
            p_day = np.where(s[:, :1] > 1e-9, -np.diff(s, axis=1) / s[:, :1], 0.0)
        p_day = on_run_days(p_day, runs[0][rows], runs[1][rows], as_of)[:, :days]
        p = p_day.reshape(len(rows), horizon, FREQS[history.freq]).sum(axis=2)
        exp = amount[:, None] * p
        var = (amount[:, None] ** 2 * p * (1 - p)).sum(axis=0)
        ids = known.iloc[rows][["invoice_id", "customer_id"]]
        if new_billing:
            new, new_var = self._new_billing(history, surv, share, days, horizon)
            exp, var = np.vstack([exp, new]), var + new_var
            ids = pd.concat([ids, pd.DataFrame({"invoice_id": [NEW_BILLING], "customer_id": [NEW_BILLING]})])
        return ids, exp, var

    def _fit(self, known, as_of):
        time, status = durations(known, as_of)
        pos = (known["amount"] > 0).to_numpy()
        if status[pos].sum() < self.min_paid:
            raise CannotFit(f"needs at least {self.min_paid} paid invoices before the as-of date, has {status[pos].sum()}")
        return self.curves(known, as_of), paid_share(known, self.share_shrink), time, payment_runs(known)

    def _new_billing(self, history, surv, share, days, horizon):
        """Expected receipts per period from invoices not yet issued, and their variance."""
        known, as_of = history.known, history.as_of
        threshold = giant_threshold(known, history.giant_share)
        daily, daily_sd = billing_forecast(known, as_of, days, threshold)
        recent = (known["invoice_date"] > as_of - pd.Timedelta(days=BILLING_WINDOW_DAYS)) & (known["amount"] > 0)
        recent &= known["amount"] <= threshold
        rows = np.flatnonzero(recent.to_numpy())
        if len(rows) == 0:
            return np.zeros(horizon), np.zeros(horizon)
        a = known["amount"].to_numpy()[rows]
        s = surv(rows, np.tile(np.arange(-1, days), (len(rows), 1)))
        pay = (a[:, None] * share[rows, None] * -np.diff(s, axis=1)).sum(axis=0) / a.sum()  # P(paid k days after issue) × share
        per_day = np.convolve(daily, pay)[:days]
        new = per_day.reshape(horizon, -1).sum(axis=1)
        x = known.loc[recent, "amount"].to_numpy()
        # the billing forecast's own error (s.d. per day, from its honest back-test; errors of one forecast
        # move together, so s.d.s add) spread with the payment delays, on top of the compound-Poisson term
        level = np.convolve(daily_sd, pay)[:days].reshape(horizon, -1).sum(axis=1)
        return new, new * (x**2).mean() / x.mean() + level**2


def payment_runs(known: pd.DataFrame, prior: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """Per invoice: its customer's payment-run weekday (0 = Monday) and how strictly it keeps to it.

    Many payers settle in a weekly payment run. The run day is the weekday of most of the customer's
    settlements; the strictness ``ρ = (q − 1/7) / (1 − 1/7)`` rescales the share ``q`` of settlements on
    that weekday — shrunk to 1/7 with ``prior`` pseudo-settlements, ``q = (n_mode + prior/7) / (n + prior)`` —
    so that ρ = 1 for a customer that only pays on its run day and 0 for one that pays on any day.
    """
    paid = known[known["paid_date"].notna() & (known["amount"] > 0)]
    if paid.empty:
        return np.zeros(len(known), int), np.zeros(len(known))
    counts = pd.crosstab(paid["customer_id"], paid["paid_date"].dt.day_of_week)
    n = counts.sum(axis=1)
    q = (counts.max(axis=1) + prior / 7) / (n + prior)
    rho = ((q - 1 / 7) / (1 - 1 / 7)).clip(0.0, 1.0)
    cust = known["customer_id"]
    return (cust.map(counts.idxmax(axis=1)).fillna(0).astype(int).to_numpy(),
            cust.map(rho).fillna(0.0).to_numpy(float))


def on_run_days(p_day: np.ndarray, run_day: np.ndarray, rho: np.ndarray, as_of: pd.Timestamp) -> np.ndarray:
    """Daily payment chances (column ``j`` = day ``as_of + j + 1``) with the share ``ρ`` of each day's chance
    moved to the nearest run day of the row's customer (the next one if the nearest is not after ``as_of``).

    The curves are fitted to settlement dates that already include the wait for the run, so moving to the
    *nearest* run day keeps the expected date where the curve had it while the week it falls in follows
    the customer's run.
    """
    n, days = p_day.shape
    if n == 0 or not (rho > 0).any():
        return p_day
    weekday = (pd.Timestamp(as_of).day_of_week + 1 + np.arange(days)) % 7
    offset = (run_day[:, None] - weekday[None, :] + 3) % 7 - 3  # −3..3: the nearest run day
    target = np.arange(days)[None, :] + offset
    target = np.where(target < 0, target + 7, target)
    target = np.minimum(target, days - 1)
    moved = np.zeros_like(p_day)
    np.add.at(moved, (np.repeat(np.arange(n), days), target.ravel()), p_day.ravel())
    return (1 - rho[:, None]) * p_day + rho[:, None] * moved


def paid_share(known: pd.DataFrame, shrink: float = 3.0) -> np.ndarray:
    """Per invoice: its customer's expected paid share of billing, ``π_c = (Σ_c paid + k·ā·π̄) / (Σ_c A + k·ā)``.

    Over the customer's settled invoices (paid amount ``paid_amount`` where the ledger has it, else —
    also where it is empty — in full); ``π̄`` is the pooled share, ``ā`` the mean amount, ``k`` = ``shrink`` pseudo-invoices
    (empirical-Bayes shrinkage: a customer with little history gets the pooled share). Settled credit
    notes (negative amounts) count in the billed sum: the share is of net billing, and open credit notes
    are netted against open invoices (:func:`_credit_factor`).
    """
    settled = known["paid_date"].notna()
    if not (settled & (known["amount"] > 0)).any():
        return np.ones(len(known))
    paid = known["paid_amount"].fillna(known["amount"]) if "paid_amount" in known.columns else known["amount"]
    paid = paid.where(settled, 0.0)
    billed = known["amount"].where(settled, 0.0)
    pooled = float(np.clip(paid.sum() / billed.sum(), 0.0, 1.0)) if billed.sum() > 0 else 1.0
    a_bar = known.loc[settled & (known["amount"] > 0), "amount"].mean()
    by_c = lambda s: s.groupby(known["customer_id"]).transform("sum")
    share = (by_c(paid) + shrink * a_bar * pooled) / (by_c(billed) + shrink * a_bar)
    return share.clip(0.0, 1.0).to_numpy()


def _credit_factor(known: pd.DataFrame, rows: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Per open invoice at ``rows``: ``max(0, 1 + C_c / E_c)`` with ``C_c`` the customer's open credit notes
    (negative amounts, not settled) and ``E_c`` its expected receipts from open invoices: the credits are
    taken against the customer's next payments."""
    credit = known["amount"].where((known["amount"] < 0) & known["paid_date"].isna(), 0.0)
    if not (credit < 0).any() or len(rows) == 0:
        return np.ones(len(rows))
    c = credit.groupby(known["customer_id"]).sum()
    cust = known["customer_id"].iloc[rows].to_numpy()
    e = pd.Series(expected).groupby(cust).sum()
    f = (1.0 + c.reindex(e.index, fill_value=0.0) / e.where(e > 0)).clip(lower=0.0).fillna(1.0)
    return pd.Series(cust).map(f).to_numpy()


def shrinkage(values: np.ndarray, weight: np.ndarray, group: np.ndarray, k_max: float = 50.0) -> float:
    """Pseudo-observations ``k = σ² / τ²`` that shrink group means optimally under a normal–normal model.

    With weights ``w`` as observation counts: ``σ²`` is the pooled within-group variance
    ``Σ w (v − m_g)² / (Σ w − G)``, ``τ²`` the between-group variance of the means net of their sampling
    noise, ``max(var_g(m_g) − mean_g(σ² / W_g), σ²/k_max)`` (method of moments; Efron & Morris 1975,
    JASA 70, §2; the James–Stein ``B = σ²/(σ² + τ²)`` per unit count). ``k_max`` when the groups do not differ.
    """
    df = pd.DataFrame({"v": values, "w": weight, "g": group})
    df = df[df["w"] > 0]
    if df.empty or df["g"].nunique() < 3:
        return k_max
    W = df.groupby("g")["w"].sum()
    m = (df["v"] * df["w"]).groupby(df["g"]).sum() / W
    resid = df["v"] - df["g"].map(m)
    dof = df["w"].sum() - len(W)
    if dof <= 0:
        return k_max
    sigma2 = float((df["w"] * resid**2).sum() / dof)
    tau2 = max(float(m.var(ddof=1) - (sigma2 / W).mean()), sigma2 / k_max)
    return sigma2 / tau2 if tau2 > 0 else k_max


def conditional_mean(surv, c: np.ndarray, support: np.ndarray) -> np.ndarray:
    """``E[ε | ε > c]`` for a survival curve ``S`` of ε: ``c + ∫_c^∞ S(x) dx / S(c)``, integrated by whole
    days over the curve's ``support`` (its event and censoring times); at least ``c + 1`` (a day later than it is)."""
    if len(c) == 0 or len(support) == 0:
        return c + 1.0
    xs = np.arange(np.floor(np.min(support)) - 1, np.ceil(np.max(support)) + 2)  # the curve's range: a restricted mean
    s = surv(xs)
    tail = np.cumsum(s[::-1])[::-1]  # Σ_{x ≥ xs[j]} S(x), one-day steps
    c = np.maximum(c, xs[0])  # below the support, S = 1 up to it: the whole distribution lies above c
    j = np.clip(np.searchsorted(xs, c), 0, len(xs) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        extra = np.where(s[j] > 1e-9, tail[j] / s[j], 1.0)
    return c + np.maximum(extra, 1.0)


def disputed_stratum(known: pd.DataFrame, status: np.ndarray, min_paid: int) -> np.ndarray:
    """Per invoice: 1 if disputed (dated disputes only, as :func:`covariates`), else 0 — all 0 when fewer
    than ``min_paid`` disputed invoices are paid. A dispute does not only delay payment by a mean: its
    delay is spread over weeks (until resolution), so disputed invoices get their own residual curve and
    their spread no longer leaks into the curve of the undisputed ones (a stratified Kaplan–Meier)."""
    if "disputed" not in known.columns or DISPUTE_RAISED not in known.columns:
        return np.zeros(len(known), int)
    d = known["disputed"].fillna(False).astype(bool).to_numpy() & (known["amount"] > 0).to_numpy()
    return d.astype(int) if (status[d] == 1).sum() >= min_paid else np.zeros(len(known), int)


class SurvivalCurves(InvoiceLevel):
    """Kaplan–Meier curve of the days from the due date to payment, shifted per customer and covariates.

    The clock counts from the due date: ``u_i = paid − due``. Delays follow ``u_i = s_i + ε_i`` (an
    accelerated-failure-time form in days with a non-parametric error): ``s_i = c_customer + β·x_i`` with
    x = disputed (dated disputes only), paper channel, payment terms in 30-day units (the invoice age at the
    due date), fitted by backfitting least squares on invoices paid and due at least ``mature_days`` ago
    (recent ones are censored towards the early payers); each customer effect is a recency-weighted mean
    residual shrunk as ``Σ w r / (Σ w + k)`` (weights halve every ``half_life`` days since the due date,
    so a customer that paid late last month moves later). ``S_ε`` is the Kaplan–Meier estimate of ``u − s``
    with open invoices censored; ``S_i(age) = S_ε(age − terms_i − s_i)``.

    **Late now, later next** (``late_feedback``, one Buckley–James step; Buckley & James 1979, Biometrika
    66): an invoice still open after its due date — the gap analysis's *paid late* — enters its customer's
    shift with ``E[u | u > its delay so far]`` from the fitted curve, and the shifts are refitted; a
    customer that did not pay what was expected last period is then expected later on all its items.

    ``k`` is estimated from the ledger unless ``shrink`` fixes it (:func:`shrinkage`): the normal–normal
    empirical-Bayes ratio ``σ²_within / τ²_between`` (Efron & Morris 1975). A fixed ``k`` of a few
    pseudo-invoices pulled customers with habits weeks apart towards the mean by days, so their open
    invoices were forecast early (over-forecast weeks 1–2, under-forecast later).
    """

    name = "invoice_km"

    def __init__(self, shrink: float | None = None, sweeps: int = 5, half_life: float = 180.0, mature_days: int = 30,
                 late_feedback: bool = True):
        self.shrink, self.sweeps, self.half_life, self.mature_days = shrink, sweeps, half_life, mature_days
        self.late_feedback = late_feedback

    def shifts(self, known: pd.DataFrame, u: np.ndarray, paid: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """``s_i`` for every row of ``known``, fitted on the rows ``paid``."""
        terms = (known["due_date"] - known["invoice_date"]).dt.days.to_numpy(float) / 30.0
        x = np.column_stack([covariates(known), terms]) if terms.std() > 0 else covariates(known)
        # a covariate constant over the fitted rows has no effect to estimate (its float residue after
        # centring would get an arbitrary coefficient that the other rows then multiply)
        x = x[:, x[paid].std(axis=0) > 1e-9] if paid.any() else x[:, :0]
        y = u - u[paid].mean()
        xc = x - x[paid].mean(axis=0)
        cust = np.zeros(len(known))
        beta = np.zeros(x.shape[1])
        w = pd.Series(np.where(paid, weight, 0.0), index=known.index)
        for _ in range(self.sweeps):
            if x.shape[1]:
                beta = np.linalg.lstsq(xc[paid], (y - cust)[paid], rcond=None)[0]
            e = y - xc @ beta
            r = pd.Series(e * w.to_numpy(), index=known.index)
            g = known["customer_id"]
            k = shrinkage(e[paid], w.to_numpy()[paid], g.to_numpy()[paid]) if self.shrink is None else self.shrink
            cust = (r.groupby(g).transform("sum") / (w.groupby(g).transform("sum") + k)).to_numpy()
        return cust + xc @ beta

    def curves(self, known, as_of):
        time, status = durations(known, as_of)
        pos = (known["amount"] > 0).to_numpy()
        terms = (known["due_date"] - known["invoice_date"]).dt.days.to_numpy(float)
        u = time - terms
        since_due = (pd.Timestamp(as_of) - known["due_date"]).dt.days.to_numpy(float)
        weight = 0.5 ** (np.clip(since_due, 0, None) / self.half_life)
        # only invoices due long enough ago: among recent ones the paid are the early payers (the late are
        # still open), which would make every customer look earlier than it is
        fit = (status == 1) & (since_due >= self.mature_days)
        if fit[pos].sum() < self.min_paid:
            fit = status == 1
        shift = np.zeros(len(known))
        shift[pos] = self.shifts(known[pos], u[pos], fit[pos], weight[pos])
        stratum = disputed_stratum(known, status, self.min_paid)

        def residual_curves():
            e = u - shift
            return [km_curve(e[pos & (stratum == k)], status[pos & (stratum == k)]) for k in range(stratum.max() + 1)]

        fs = residual_curves()
        # Buckley–James step: an open invoice already past due counts in its customer's shift with its
        # expected delay given that it is still unpaid, so a customer late now moves later
        overdue = pos & (status == 0) & (since_due > 0)
        if self.late_feedback and overdue.any():
            c = u - shift
            imputed = u.copy()
            for k, f in enumerate(fs):
                rows = overdue & (stratum == k)
                imputed[rows] = shift[rows] + conditional_mean(f, c[rows], c[pos & (stratum == k)])
            use = fit | overdue
            shift[pos] = self.shifts(known[pos], imputed[pos], use[pos], weight[pos])
            fs = residual_curves()

        def surv(rows, t):
            x = t - terms[rows][:, None] - shift[rows][:, None]
            out = fs[0](x)
            for k in range(1, len(fs)):
                sel = stratum[rows] == k
                out[sel] = fs[k](x[sel])
            return out

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
