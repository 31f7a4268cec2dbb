"""Payer hazard and action effects from an activity log: a discrete-time hazard regression.

The model (docs/model.md §2.2, the scenario's ``behaviour.hazard``): on business day *t* an open,
unblocked item *i* of account *a* in segment *s* pays with probability p = 1 − exp(−H) where

    H_it = h0_s(band of days past due) · z_a · ∏_k m_k^{x_k,it}

so log(−log(1 − p)) = log h0 + log z_a + Σ_k x_k log m_k: a binomial GLM with complementary log-log
link (Allison 1982, "Discrete-time methods for the analysis of event histories"; Jenkins 1995). Steps:

1. **Person-period table** (:func:`person_period`). One row per item × business day at risk, from the
   day of issue to the day of the first payment (event) or of censoring (write-off, agency hand-over,
   a full credit note, the end of the log). Days inside an open dispute or a payment plan are not at
   risk (their own mechanisms pay them). **Day order**: a day's payments come before that day's other
   events, so an item blocked (a dispute, a plan), unblocked or censored on day d was at risk on d and
   did not pay — only a dispute raised on receipt (by the due date or within ``RECEIPT_DAYS`` of issue)
   blocks its own day, being raised instead of a payment. This is the simulator's order (payments in the
   morning; calls and their disputes and plans, write-offs, hand-overs, credit notes later in the day)
   and the usual one of a collections tool (the payment run is posted before the day's worklist).
   Counting such a day as blocked would drop days known to end without payment — most often the day of
   a call whose outcome blocked the item — and bias the call's effect down. Covariates: the
   days-past-due band, x_k = 1 when action k is recent (a notice of level k, a right-party contact or
   a fee on a calendar day in [t − w, t − 1]; a promised date in [promised, promised + w)), the account
   on credit hold (from the day a ``credit_hold`` is placed to the day before its ``hold_released``),
   the item was disputed on receipt, and the targeting controls below. Rows are aggregated by
   covariate pattern (and account) with counts.
2. **Targeting is not effect.** Collectors call the worst accounts first, so accounts that are called
   are slower payers anyway and a naive fit credits the call with too little. The fit conditions on what
   a worklist ranks by: days past due (the baseline bands), the account's past-due balance (band
   dummies), the account's persistent frailty z_a (step 3), and having been *selected* — a recent call
   attempt. An attempt that did not reach the right party is the comparison for a contact: whether an
   attempt reaches someone is chance, so the contact multiplier is the effect of talking to the payer.
3. **Frailty** z_a ~ Gamma(mean 1, variance θ) is integrated out numerically (a fixed grid in log z):
   each account's likelihood L_a(z) = exp(−z Σ_no-event H) · ∏_events (1 − exp(−z H)) is the exact
   cloglog likelihood given z. θ (and a common scale c of z, absorbed into the baseline so that
   E[z] = 1) maximise Σ_a log ∫ L_a(z) g_θ(z) dz. The GLM is refitted by EM for the shared gamma
   frailty (Klein 1992, Biometrics 48; Nielsen et al. 1992): first with the offset log E[z_a | data],
   then — since plugging a mean into the cloglog link understates large multipliers — with each
   account's rows repeated at ``FRAILTY_POINTS`` quantiles of its posterior of z, weighted equally (the
   expected complete-data log-likelihood by quadrature), until the coefficients settle. θ's 95 %
   interval is exp(log θ ± 1.96 se) with se from the same outer product of the accounts' marginal
   scores as β's (step 4), β estimated alongside: a profile in θ alone, β held at its estimate, was
   measured too narrow (20 seeds of the recovery benchmark: 75 % coverage).
4. **Intervals.** With the frailty, standard errors come from the outer product of the accounts'
   scores of the marginal likelihood (:func:`_marginal_information`): one score per account, so its
   payments are not treated as independent evidence, and with each account's frailty integrated out,
   so the uncertainty of the frailties is in them. The GLM's cluster-robust sandwich (statsmodels
   ``cov_type="cluster"``, kept in the summary and used without frailty) takes its bread from the
   complete-data Hessian, which counts the frailties as known (Louis 1982): on the recovery benchmark
   the spread of the estimates over seeds exceeded it by about a fifth for the account-level terms
   (credit hold, disputed). Every multiplier is reported as exp(β) with the interval exp(β ± 1.96 se).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import warnings

import numpy as np
import pandas as pd
from scipy import optimize, special, stats
from statsmodels.tools.sm_exceptions import SpecificationWarning

from o2c_sim.errors import UserError

DEFAULT_BANDS = (-30, -7, 0, 1, 8, 15, 31, 61, 91)
#: calendar days an action stays "recent" (the contract's window_days), when the caller gives none
DEFAULT_WINDOWS = {"notice": 10, "contact": 7, "promise": 3, "fee": 10}
#: left edges of the account's past-due balance bands (a targeting control; money)
BALANCE_EDGES = (0.0, 1_000.0, 5_000.0, 20_000.0)
MAX_LEVEL = 6  # notice levels above this share the last level's effect
RECEIPT_DAYS = 10  # a dispute opened within this many days of issue (or before due) was raised "on receipt"
Z95 = float(stats.norm.ppf(0.975))
LOG_Z = np.linspace(-7.0, 3.5, 211)  # frailty grid (log z), spacing 0.05
_THETA_BOUNDS = (0.01, 25.0)
FRAILTY_POINTS = 5  # posterior quantile points of z per account in the EM's M-step


@dataclass(frozen=True)
class FitOptions:
    """What the hazard regression fits; windows are calendar days (the scenario's ``window_days``)."""

    bands: tuple[int, ...] = DEFAULT_BANDS
    windows: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    notice_windows: tuple[int, ...] | None = None  # per level; default windows["notice"] for every level
    weekmask: str = "Mon Tue Wed Thu Fri"
    holidays: tuple = ()
    balance_edges: tuple[float, ...] = BALANCE_EDGES
    targeting_controls: bool = True  # recent call attempt + past-due balance band
    disputed_by_segment: bool = False  # one disputed-on-receipt multiplier per segment (else one for all)
    frailty: bool = True
    as_of: pd.Timestamp | None = None  # end of observation; default the last date in the log
    max_iterations: int = 5  # EM rounds with the plug-in frailty, then as many with the quadrature M-step

    def notice_window(self, level: int) -> int:
        w = self.notice_windows
        return int(w[min(level, len(w)) - 1]) if w else int(self.windows.get("notice", DEFAULT_WINDOWS["notice"]))


# ------------------------------------------------------------------------------------- items and log


def prepare_log(activities: pd.DataFrame) -> pd.DataFrame:
    """The log with ``date`` floored to days, ``item_id``/``customer_id`` as strings, and replications of a
    simulated log kept apart (ids prefixed ``r{replication}:``)."""
    log = activities.copy()
    for col in ("item_id", "customer_id"):
        log[col] = log[col].fillna("").astype(str) if col in log else ""
    if "replication" in log and log["replication"].nunique() > 1:
        prefix = "r" + log["replication"].astype(str) + ":"
        for col in ("item_id", "customer_id"):
            log[col] = np.where(log[col] != "", prefix + log[col], "")
    log["kind"] = log["kind"].astype(str)
    for col in ("amount", "level"):
        if col in log:
            log[col] = pd.to_numeric(log[col], errors="coerce").astype(float)
    for col in ("date", "promised_date", "due_date"):
        if col in log:
            log[col] = pd.to_datetime(log[col]).dt.floor("D")
    return log


def item_table(log: pd.DataFrame, invoices: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per item: customer_id, segment, issue_date, due_date, amount — from ``issued`` rows, with
    items the log does not issue (and segments) taken from the invoice table where given.

    Items without a due date cannot be placed in a days-past-due band and are left out.
    """
    issued = log[log["kind"] == "issued"].sort_values("date").drop_duplicates("item_id")
    items = pd.DataFrame({"item_id": issued["item_id"].to_numpy(), "customer_id": issued["customer_id"].to_numpy(),
                          "issue_date": issued["date"].to_numpy(),
                          "due_date": issued["due_date"].to_numpy() if "due_date" in issued else pd.NaT,
                          "amount": issued["amount"].to_numpy(float) if "amount" in issued else np.nan,
                          "segment": "all"})
    if invoices is not None and len(invoices):
        inv = invoices.rename(columns={"invoice_id": "item_id", "invoice_date": "issue_date"}).copy()
        if "replication" in inv and inv["replication"].nunique() > 1:
            prefix = "r" + inv["replication"].astype(str) + ":"
            inv["item_id"], inv["customer_id"] = prefix + inv["item_id"].astype(str), prefix + inv["customer_id"].astype(str)
        inv["segment"] = inv["segment"].fillna("").replace("", "all") if "segment" in inv else "all"
        inv = inv[["item_id", "customer_id", "issue_date", "due_date", "amount", "segment"]]
        seg = inv.drop_duplicates("item_id").set_index("item_id")["segment"]
        items["segment"] = items["item_id"].map(seg).fillna("all")
        items = pd.concat([items, inv[~inv["item_id"].isin(items["item_id"])]], ignore_index=True)
    items = items[items["item_id"] != ""]
    items = items.dropna(subset=["issue_date", "due_date"])
    if items.empty:
        raise UserError("the activity log has no items with an issue date and a due date: it needs `issued` rows "
                        "with due_date (or an invoice table, the HISTORY argument)")
    items["customer_id"] = items["customer_id"].replace("", np.nan).fillna("item:" + items["item_id"])
    for col in ("issue_date", "due_date"):
        items[col] = pd.to_datetime(items[col]).dt.floor("D")
    return items.reset_index(drop=True)


def invoice_activities(history: pd.DataFrame) -> pd.DataFrame:
    """The activity log an invoice table implies: ``issued`` (amount, due date), ``payment`` on the paid
    date, and for a disputed invoice a dispute opened and closed on its invoice date (so the fit treats it
    as disputed on receipt without blocking days the history does not date)."""
    issued = pd.DataFrame({"item_id": history["invoice_id"], "customer_id": history["customer_id"],
                           "date": history["invoice_date"], "kind": "issued", "amount": history["amount"],
                           "due_date": history["due_date"]})
    paid = history[history["paid_date"].notna()]
    payments = pd.DataFrame({"item_id": paid["invoice_id"], "customer_id": paid["customer_id"], "date": paid["paid_date"],
                             "kind": "payment", "amount": paid["amount"]})
    disp = history[history["disputed"]] if "disputed" in history else history.iloc[:0]
    frames = [issued, payments]
    for kind in ("dispute_opened", "dispute_closed"):
        frames.append(pd.DataFrame({"item_id": disp["invoice_id"], "customer_id": disp["customer_id"],
                                    "date": disp["invoice_date"], "kind": kind}))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------- person-period table


def _day(dates, origin: np.datetime64) -> np.ndarray:
    """Whole days since ``origin`` (NaT → a large number, i.e. 'never')."""
    d = pd.to_datetime(pd.Series(dates)).to_numpy("datetime64[D]")
    out = (d - origin).astype("timedelta64[D]").astype(np.int64)
    return np.where(np.isnat(d), 10**7, out)


def _intervals(log: pd.DataFrame, start_kind: str, stop_kind: str, key: str, origin) -> pd.DataFrame:
    """[start, stop] day intervals per ``key`` value: each start paired with the first stop on or after it.
    Both days are still blocked (the day order, step 1 of the module docstring: a block raised or lifted on a
    day acts after that day's payments — the caller sets ``from``, the first day the block acts)."""
    starts = log.loc[log["kind"] == start_kind, [key, "date"]]
    starts = starts[starts[key] != ""]
    if starts.empty:
        return pd.DataFrame({key: pd.Series(dtype=str), "start": pd.Series(dtype=np.int64), "stop": pd.Series(dtype=np.int64)})
    stops = log.loc[log["kind"] == stop_kind, [key, "date"]]
    s = pd.DataFrame({key: starts[key].astype(str).to_numpy(), "start": _day(starts["date"], origin)}).sort_values("start")
    e = pd.DataFrame({key: stops[key].astype(str).to_numpy(), "stop": _day(stops["date"], origin)}).sort_values("stop")
    s[key], e[key] = s[key].astype(str), e[key].astype(str)  # one key dtype, also when there are no stops
    out = pd.merge_asof(s, e, left_on="start", right_on="stop", by=key, direction="forward")
    out["stop"] = out["stop"].fillna(10**7 - 1).astype(np.int64) + 1
    return out


def _last_before(rows: pd.DataFrame, events: pd.DataFrame, key: str, *, inclusive: bool,
                 carry: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """For each row (``key``, ``day``), the latest event day ≤ day (``inclusive``) or < day, else −10⁷ —
    and that event's ``carry`` column where asked."""
    empty = np.full(len(rows), -10**7, np.int64)
    if events.empty:
        return empty, (empty.copy() if carry else None)
    left = pd.DataFrame({key: rows[key].to_numpy(), "day": rows["day"].to_numpy(), "pos": np.arange(len(rows))})
    left = left.sort_values("day", kind="stable")
    right = events[[key, "when"] + ([carry] if carry else [])].sort_values("when")
    m = pd.merge_asof(left, right, left_on="day", right_on="when", by=key, direction="backward",
                      allow_exact_matches=inclusive)
    pos = m["pos"].to_numpy()
    out = empty.copy()
    out[pos] = m["when"].fillna(-10**7).to_numpy(np.int64)
    extra = None
    if carry:
        extra = empty.copy()
        extra[pos] = m[carry].fillna(-10**7).to_numpy(np.int64)
    return out, extra


def _recent(rows, log, kind, window, origin, *, level=None) -> np.ndarray:
    """x = 1 where an action of ``kind`` (of notice ``level``) is recent for the row's item or, for an
    account-level action (item_id ""), for any item of its account.

    Recent: the action's day in [t − window, t − 1] (an action acts from the next day). For ``promise``:
    t ∈ [promised, promised + window) and the item was past due when the promise was made (a promise
    covers the account's past-due items).
    """
    acts = log[log["kind"] == kind]
    if level is not None:
        lv = pd.to_numeric(acts["level"], errors="coerce").fillna(1).clip(upper=MAX_LEVEL) if "level" in acts else 1
        acts = acts[np.asarray(lv == level)]
    promise = kind == "promise"
    if acts.empty or (promise and "promised_date" not in acts):
        return np.zeros(len(rows), bool)
    when = _day(acts["promised_date" if promise else "date"], origin)
    made = _day(acts["date"], origin)
    x = np.zeros(len(rows), bool)
    day = rows["day"].to_numpy()
    for key, mask in (("item_id", acts["item_id"].to_numpy() != ""), ("customer_id", acts["item_id"].to_numpy() == "")):
        ev = pd.DataFrame({key: acts[key].to_numpy()[mask], "when": when[mask], "made": made[mask]})
        ev = ev[(ev[key] != "") & (ev["when"] < 10**7)]
        if ev.empty:
            continue
        last, made_on = _last_before(rows, ev, key, inclusive=promise, carry="made" if promise else None)
        if promise:
            due = day - rows["dpd"].to_numpy()
            x |= (day - last < window) & (due < made_on)
        else:
            x |= day - last <= window
    return x


def _on_hold(rows: pd.DataFrame, log: pd.DataFrame, origin) -> np.ndarray:
    """x = 1 while the row's account is on credit hold: its latest ``credit_hold`` on or before the day is
    later than its latest ``hold_released`` on or before it. A hold is a state, not a recent action: it is
    placed and lifted with the day's billing, before the day's payments, so it acts from its own day to
    the day before its release (the simulator's order, :mod:`o2c_sim.sim.credit_holds`)."""
    last = {}
    for kind in ("credit_hold", "hold_released"):
        acts = log[(log["kind"] == kind) & (log["customer_id"] != "")]
        ev = pd.DataFrame({"customer_id": acts["customer_id"].to_numpy(), "when": _day(acts["date"], origin)})
        last[kind], _ = _last_before(rows, ev[ev["when"] < 10**7], "customer_id", inclusive=True)
    return (last["credit_hold"] > -10**7) & (last["credit_hold"] > last["hold_released"])


def person_period(activities: pd.DataFrame, invoices: pd.DataFrame | None = None,
                  options: FitOptions | None = None) -> pd.DataFrame:
    """The business-day person-period table, aggregated by covariate pattern and account.

    Columns: ``customer_id``, ``segment``, ``band`` (index into ``options.bands``), ``balance_band``,
    ``disputed``, one 0/1 column per action (``notice_1`` …, ``contact``, ``promise``, ``fee``,
    ``attempt``), ``at_risk`` (item-days) and ``events`` (payments). See the module docstring.
    """
    opt = options or FitOptions()
    log = prepare_log(activities)
    items = item_table(log, invoices)
    origin = np.datetime64(min(items["issue_date"].min(), log["date"].min()), "D")
    as_of = pd.Timestamp(opt.as_of) if opt.as_of is not None else log["date"].max()
    last = int(_day([as_of], origin)[0])
    busdays = np.flatnonzero(np.is_busday(origin + np.arange(last + 1), weekmask=opt.weekmask,
                                          holidays=list(opt.holidays)))
    roll = lambda d: busdays[np.minimum(np.searchsorted(busdays, d), len(busdays) - 1)]  # noqa: E731

    # end of each item: first payment (event) or first censoring action, or the end of the log
    def first(kinds):
        sub = log[log["kind"].isin(kinds) & (log["item_id"] != "")]
        return sub.groupby("item_id")["date"].min()

    per_item = lambda dates: _day(pd.to_datetime(dates).reindex(items["item_id"]).to_numpy("datetime64[ns]"), origin)  # noqa: E731
    pay = per_item(first(["payment"]))
    credits = log[(log["kind"] == "credit_note") & (log["item_id"] != "")]
    credited = credits.groupby("item_id")["amount"].sum() if "amount" in credits else pd.Series(dtype=float)
    amount_due = items.drop_duplicates("item_id").set_index("item_id")["amount"].reindex(credited.index)
    fully = credited.index[(credited >= amount_due - 0.005).to_numpy()]
    credited_on = credits[credits["item_id"].isin(fully)].groupby("item_id")["date"].max()  # the last credit closes it
    censor = np.minimum(per_item(first(["write_off", "agency_handover"])), per_item(credited_on))
    issue, due = _day(items["issue_date"], origin), _day(items["due_date"], origin)
    receipt_until = dict(zip(items["item_id"], np.maximum(due, issue + RECEIPT_DAYS)))  # a dispute "on receipt" by then
    event = (pay < 10**7) & (pay <= censor) & (pay <= last)
    # business days at risk: issue ≤ t ≤ payment day (rolled to a business day), t ≤ censoring day (day order),
    # t ≤ as_of
    end_exclusive = np.where(event, np.searchsorted(busdays, roll(np.minimum(pay, last)), side="right"),
                             np.minimum(np.searchsorted(busdays, np.minimum(censor + 1, last + 1), side="left"),
                                        len(busdays)))
    start = np.searchsorted(busdays, issue, side="left")
    n = np.maximum(end_exclusive - start, 0)
    keep = n > 0
    items, n, start, due, issue, event = items[keep].reset_index(drop=True), n[keep], start[keep], due[keep], issue[keep], event[keep]
    if n.sum() == 0:
        raise UserError("no item of the activity log is ever at risk of payment (check issue, due and payment dates)")
    rep = np.repeat(np.arange(len(items)), n)
    offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    day = busdays[np.repeat(start, n) + offset]
    rows = pd.DataFrame({"item": rep, "item_id": items["item_id"].to_numpy()[rep],
                         "customer_id": items["customer_id"].to_numpy()[rep], "day": day,
                         "dpd": day - due[rep], "amount": items["amount"].to_numpy(float)[rep]})
    rows["event"] = (offset == n[rep] - 1) & event[rep]

    # the account's past-due balance (open items past due, blocked ones included) — a targeting control
    if opt.targeting_controls:
        acct_day = rows["customer_id"] + "|" + rows["day"].astype(str)
        past_due = np.where(rows["dpd"].to_numpy() > 0, np.nan_to_num(rows["amount"].to_numpy()), 0.0)
        balance = pd.Series(past_due).groupby(acct_day.to_numpy()).transform("sum").to_numpy()
        rows["balance_band"] = np.searchsorted(np.asarray(opt.balance_edges), balance, side="right") - 1
        rows.loc[rows["balance_band"] < 0, "balance_band"] = 0
    else:
        rows["balance_band"] = 0

    # blocked days: an open dispute (item), a payment plan (item or account, items issued before it)
    blocked = np.zeros(len(rows), bool)
    for start_kind, stop_kind in (("dispute_opened", "dispute_closed"), ("plan_agreed", "plan_broken")):
        for key, level in (("item_id", True), ("customer_id", False)):
            sub = log[(log["item_id"] != "") == level]
            iv = _intervals(sub, start_kind, stop_kind, key, origin)
            if iv.empty:
                continue
            # the block acts from the next day (day order), a dispute raised on receipt from its own day
            iv["from"] = iv["start"] + 1
            if start_kind == "dispute_opened" and level:
                on_receipt = iv["start"].to_numpy() <= iv[key].map(receipt_until).fillna(-10**7).to_numpy()
                iv.loc[on_receipt, "from"] = iv.loc[on_receipt, "start"]
            left = pd.DataFrame({key: rows[key].astype(str).to_numpy(), "day": rows["day"].to_numpy(), "pos": np.arange(len(rows))})
            m = pd.merge_asof(left.sort_values("day"), iv.sort_values("from"), left_on="day", right_on="from",
                              by=key, direction="backward")
            inside = (m["day"] < m["stop"]).to_numpy() & m["from"].notna().to_numpy()
            if not level:  # an account's plan covers the items already past due when it was agreed
                inside &= (due[rows["item"].to_numpy()[m["pos"].to_numpy()]] < m["start"].fillna(-10**7).to_numpy())
            blocked[m["pos"].to_numpy()[inside]] = True
    # disputed on receipt (the scenario's disputed_multiplier): opened by the due date or within RECEIPT_DAYS of issue
    disp = log[(log["kind"] == "dispute_opened") & (log["item_id"] != "")].groupby("item_id")["date"].min()
    disp_day = per_item(disp)
    on_receipt = disp_day <= np.maximum(due, issue + RECEIPT_DAYS)
    item = rows["item"].to_numpy()  # from the day the dispute was raised, as the simulator applies it
    rows["disputed"] = (on_receipt[item] & (rows["day"].to_numpy() >= disp_day[item])).astype(np.int8)
    rows = rows[~blocked].reset_index(drop=True)

    # recent actions
    levels = sorted({int(v) for v in pd.to_numeric(log.loc[log["kind"] == "notice", "level"], errors="coerce")
                     .fillna(1).clip(upper=MAX_LEVEL)}) if "level" in log else ([1] if (log["kind"] == "notice").any() else [])
    actions = []
    for lv in levels:
        rows[f"notice_{lv}"] = _recent(rows, log, "notice", opt.notice_window(lv), origin, level=lv).astype(np.int8)
        actions.append(f"notice_{lv}")
    w = {**DEFAULT_WINDOWS, **dict(opt.windows)}
    for name, kind in (("contact", "contact"), ("fee", "fee_added")):
        rows[name] = _recent(rows, log, kind, w[name], origin).astype(np.int8)
        actions.append(name)
    rows["promise"] = _recent(rows, log, "promise", w["promise"], origin).astype(np.int8)
    actions.append("promise")
    if (log["kind"] == "credit_hold").any():
        rows["credit_hold"] = _on_hold(rows, log, origin).astype(np.int8)
        actions.append("credit_hold")
    if opt.targeting_controls:
        rows["attempt"] = _recent(rows, log, "call_attempt", w["contact"], origin).astype(np.int8)
        actions.append("attempt")

    segments = items["segment"].to_numpy()[rows["item"].to_numpy()]
    rows["segment"] = segments
    rows["band"] = np.maximum(np.searchsorted(np.asarray(opt.bands), rows["dpd"].to_numpy(), side="right") - 1, 0)
    keys = ["customer_id", "segment", "band", "balance_band", "disputed", *actions]
    table = rows.groupby(keys, sort=True, observed=True).agg(at_risk=("event", "size"), events=("event", "sum")).reset_index()
    table["events"] = table["events"].astype(np.int64)
    table.attrs.update(actions=actions, items=int(len(items)), item_days=int(len(rows)),
                       payments=int(rows["event"].sum()), bands=list(opt.bands), as_of=f"{as_of:%Y-%m-%d}")
    return table


# ------------------------------------------------------------------------------------------------ fit


@dataclass
class HazardFit:
    """The fitted hazard: baseline per segment and band, multipliers, frailty variance, with intervals."""

    baseline: pd.DataFrame  # segment, band, left_edge, daily, ci_lo, ci_hi, se_log, at_risk, events
    effects: pd.DataFrame  # name, role (effect/control), multiplier, ci_lo, ci_hi, se_log, exposure
    frailty_variance: float
    frailty_ci: tuple[float, float]
    options: FitOptions
    summary: dict[str, Any]
    account_frailty: pd.Series  # posterior mean E[z_a | data] per customer_id

    def effect(self, name: str) -> dict[str, float] | None:
        """``{"multiplier", "ci95", "se_log"}`` of one fitted term, or None when the log cannot identify it."""
        if name not in self.effects.index:
            return None
        r = self.effects.loc[name]
        return {"multiplier": float(r["multiplier"]), "ci95": [float(r["ci_lo"]), float(r["ci_hi"])],
                "se_log": float(r["se_log"])}

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able data (fit.json): every estimate with its interval."""
        import json

        return {"baseline": json.loads(self.baseline.to_json(orient="records")),
                "effects": json.loads(self.effects.reset_index().to_json(orient="records")),
                "frailty_variance": {"estimate": self.frailty_variance, "ci95": list(self.frailty_ci),
                                     "method": "shared gamma frailty integrated on a grid; Wald interval on log θ, outer-product-of-scores "
                                               "standard error with the regression coefficients estimated alongside"},
                **self.summary}


def _design(table: pd.DataFrame, actions: list[str], *, disputed_by_segment: bool = False
            ) -> tuple[np.ndarray, list[str], list[tuple[str, int]]]:
    """Columns: one indicator per (segment, band) cell with events (no intercept), balance bands 1.. (band
    0 is the reference), disputed, actions that vary. Returns (X, names, baseline cells)."""
    cells = table.groupby(["segment", "band"])["events"].sum()
    cells = [c for c, e in cells.items() if e > 0]
    cell_index = {c: j for j, c in enumerate(cells)}
    idx = np.array([cell_index.get(c, -1) for c in zip(table["segment"], table["band"])])
    cols = [(idx == j).astype(float) for j in range(len(cells))]
    names = [f"h0[{s}][{b}]" for s, b in cells]
    for b in sorted(set(table["balance_band"]) - {0}):
        cols.append((table["balance_band"] == b).to_numpy(float))
        names.append(f"balance_band_{b}")
    covariates = {name: table[name].to_numpy(float) for name in ["disputed", *actions]}
    if disputed_by_segment:
        d = covariates.pop("disputed")
        covariates = {f"disputed[{s}]": d * (table["segment"] == s).to_numpy() for s in sorted(set(table["segment"]))} | covariates
    events = table["events"].to_numpy()
    for name, x in covariates.items():  # a term with no payment while it is on has no finite estimate
        on = (x > 0) & (idx >= 0)
        if events[on].sum() > 0 and (x[idx >= 0] == 0).any():
            cols.append(x)
            names.append(name)
    return np.column_stack(cols), names, cells


def frailty_grid_loglik(table: pd.DataFrame, hazard: np.ndarray, accounts: np.ndarray, n_accounts: int) -> np.ndarray:
    """log L_a(z) on the grid ``LOG_Z`` (accounts × grid): −z·Σ_(no-event days) H + Σ_events log(1 − e^(−zH))."""
    z = np.exp(LOG_Z)
    at_risk, events = table["at_risk"].to_numpy(float), table["events"].to_numpy(float)
    s = np.bincount(accounts, weights=(at_risk - events) * hazard, minlength=n_accounts)
    ll = -np.outer(s, z)
    ev = events > 0
    if ev.any():
        acc, h, d = accounts[ev], hazard[ev], events[ev]
        for j, zj in enumerate(z):
            ll[:, j] += np.bincount(acc, weights=d * np.log(-np.expm1(-zj * h)), minlength=n_accounts)
    return ll


def gamma_grid_logprior(theta: float, log_scale: float = 0.0) -> np.ndarray:
    """Weights on the log-z grid of z = c·w, w ~ Gamma(mean 1, variance θ), c = e^log_scale (log density of
    u = log z, normalised to sum to 1 over the grid)."""
    k = 1.0 / theta
    u = LOG_Z - log_scale
    lg = k * np.log(k) - special.gammaln(k) + k * u - k * np.exp(u)
    return lg - special.logsumexp(lg)


def _marginal_loglik(ll: np.ndarray, theta: float, log_scale: float = 0.0) -> float:
    """Σ_a log ∫ L_a(z) g(z) dz on the grid."""
    return float(special.logsumexp(ll + gamma_grid_logprior(theta, log_scale)[None, :], axis=1).sum())


def _fit_theta(ll: np.ndarray, start: tuple[float, float]) -> tuple[float, tuple[float, float], float, float]:
    """θ and the common scale c (as log c) maximising the marginal likelihood, and θ's profile-likelihood 95 %
    interval: the θ where the log-likelihood, maximised over c, is χ²₁(0.95)/2 = 1.92 below its maximum.

    c is free because plugging the frailty into the cloglog link leaves the baseline's level uncertain
    between h0 and z; the baseline is reported as c·h0 with E[z] = 1."""
    theta, log_scale, best, state = _fit_frailty(ll, start)
    lo, hi = np.log(_THETA_BOUNDS)

    def drop(lt: float) -> float:
        r = optimize.minimize_scalar(lambda ls: -_marginal_loglik(ll, float(np.exp(lt)), ls),
                                     bounds=(log_scale - 0.5, log_scale + 0.5), method="bounded", options={"xatol": 1e-3})
        return best + float(r.fun) - stats.chi2.ppf(0.95, 1) / 2

    lt = np.log(theta)
    lower = _THETA_BOUNDS[0] if drop(lo) <= 0 else float(np.exp(optimize.brentq(drop, lo, lt, xtol=1e-3)))
    upper = _THETA_BOUNDS[1] if drop(hi) <= 0 else float(np.exp(optimize.brentq(drop, lt, hi, xtol=1e-3)))
    return theta, (lower, upper), best, log_scale


def _glm(endog, X, family, offset, weights=None):
    """The statsmodels GLM; Newton steps and hasconst=False (the band indicators are the constant) keep it
    free of the full-size SVDs of IRLS and of the constant check, which dominate on long tables."""
    import statsmodels.api as sm

    return sm.GLM(endog, X, family=family, offset=offset, freq_weights=weights, hasconst=False)


def _fit(model, start, **kwargs):
    """Newton steps from ``start``; IRLS when Newton stops short (flat directions of sparse bands)."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = model.fit(start_params=start, method="newton", maxiter=100, disp=0, **kwargs)
    if res.mle_retvals.get("converged", True):
        return res
    return model.fit(start_params=res.params, maxiter=200, **kwargs)


def _posterior(ll: np.ndarray, theta: float, log_scale: float) -> np.ndarray:
    """Each account's posterior weights of z on the grid (accounts × grid, rows summing to 1)."""
    post = ll + gamma_grid_logprior(theta, log_scale)[None, :]
    return np.exp(post - special.logsumexp(post, axis=1, keepdims=True))


def _posterior_quantiles(post: np.ndarray, k: int) -> np.ndarray:
    """z at the posterior quantiles (j + ½)/k, j = 0..k−1, per account (accounts × k)."""
    cdf = np.cumsum(post, axis=1)
    probs = (np.arange(k) + 0.5) / k
    idx = np.array([np.minimum((cdf < p).sum(axis=1), len(LOG_Z) - 1) for p in probs]).T
    return np.exp(LOG_Z[idx])


def _marginal_information(tab: pd.DataFrame, X: np.ndarray, beta: np.ndarray, accounts: np.ndarray, n_acc: int,
                          theta: float, log_scale: float) -> np.ndarray:
    """Information of (β, log θ) as the outer product of the accounts' scores of the marginal likelihood
    (Berndt, Hall, Hall & Hausman 1974): I = Σ_a s_a s_aᵀ, its inverse the covariance of the estimates.

    Account a's score is the posterior mean of its complete-data score (Louis 1982): for β,
    Σ_rows x_r Σ_j w_aj z_j H_r [e_r e^(−z_j H_r) / (1 − e^(−z_j H_r)) − (n_r − e_r)]; for log θ,
    Σ_j w_aj ∂ log g_θ(z_j) / ∂ log θ (w_aj its posterior weights on the grid). Being scores of the
    likelihood with the frailties integrated out, they carry the uncertainty of each account's frailty,
    which a sandwich around the GLM's complete-data Hessian leaves out (that Hessian counts the frailties'
    missing information as known), and of β for θ: the baseline's shape over days past due and θ both
    explain why payment slows with age."""
    H = np.exp(X @ beta)
    events, at_risk = tab["events"].to_numpy(float), tab["at_risk"].to_numpy(float)
    ll = frailty_grid_loglik(tab, H, accounts, n_acc)
    post = _posterior(ll, theta, log_scale)
    u = np.zeros(len(tab))
    for j, z in enumerate(np.exp(LOG_Z)):
        zh = z * H
        with np.errstate(divide="ignore", invalid="ignore"):
            d = zh * (np.where(events > 0, events * np.exp(-zh) / -np.expm1(-zh), 0.0) - (at_risk - events))
        u += post[accounts, j] * np.nan_to_num(d)
    score_beta = np.zeros((n_acc, X.shape[1]))
    np.add.at(score_beta, accounts, X * u[:, None])
    eps = 1e-4
    dlg = (gamma_grid_logprior(theta * np.exp(eps), log_scale) - gamma_grid_logprior(theta * np.exp(-eps), log_scale)) / (2 * eps)
    scores = np.column_stack([score_beta, post @ dlg])
    return scores.T @ scores


def _fit_frailty(ll: np.ndarray, start: tuple[float, float]) -> tuple[float, float, float, tuple[float, float]]:
    """(θ, log c) maximising the marginal likelihood (Nelder–Mead from ``start``): θ, log c, log-likelihood, state."""
    lo, hi = np.log(_THETA_BOUNDS)
    f = lambda x: -_marginal_loglik(ll, float(np.exp(np.clip(x[0], lo, hi))), float(np.clip(x[1], -1.5, 1.5)))  # noqa: E731
    r = optimize.minimize(f, np.asarray(start), method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6})
    x = (float(np.clip(r.x[0], lo, hi)), float(np.clip(r.x[1], -1.5, 1.5)))
    return float(np.exp(x[0])), x[1], -float(r.fun), x


def fit_hazard(table: pd.DataFrame, options: FitOptions | None = None) -> HazardFit:
    """Fit the cloglog hazard regression (with the gamma frailty by EM) to a :func:`person_period` table.

    BLAS runs single-threaded here: the products are tall and thin, and threads only contend."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _fit_hazard(table, options)


def _fit_hazard(table: pd.DataFrame, options: FitOptions | None) -> HazardFit:
    import statsmodels.api as sm

    opt = options or FitOptions()
    actions = list(table.attrs.get("actions", []))
    X, names, cells = _design(table, actions, disputed_by_segment=opt.disputed_by_segment)
    base = np.isin(np.arange(len(table)), np.flatnonzero(X[:, : len(cells)].sum(axis=1) > 0))
    tab, X = table[base].reset_index(drop=True), X[base]
    if len(cells) == 0:
        raise UserError("the activity log has no payments on items at risk: there is nothing to fit")
    accounts, account_ids = pd.factorize(tab["customer_id"])
    n_acc = len(account_ids)
    endog = np.column_stack([tab["events"].to_numpy(float), (tab["at_risk"] - tab["events"]).to_numpy(float)])
    family = sm.families.Binomial(link=sm.families.links.CLogLog())
    start = np.zeros(X.shape[1])
    for j, (s, b) in enumerate(cells):
        m = (tab["segment"] == s) & (tab["band"] == b)
        p = tab.loc[m, "events"].sum() / tab.loc[m, "at_risk"].sum()
        start[j] = np.log(-np.log1p(-min(p, 0.99)))
    theta, theta_ci, loglik, log_scale = 0.0, (0.0, 0.0), None, 0.0
    frailty_detail: dict[str, Any] = {}
    ez = np.ones(n_acc)
    model = _glm(endog, X, family, np.zeros(len(tab)))
    params, iterations = np.asarray(_fit(model, start).params), 1
    if opt.frailty:
        # EM. E-step: each account's posterior of z on the grid. M-step: first with the plug-in offset
        # log E[z] (cheap, gets close), then over K posterior quantile points of z per account (rows
        # repeated with offset log z_q and weight 1/K): the expected complete-data log-likelihood by
        # quadrature — plugging E[z] into the cloglog link alone understates large multipliers (Jensen).
        K = FRAILTY_POINTS
        state = (np.log(0.5), 0.0)
        quadrature, rounds = False, 0
        for iterations in range(2, 2 * opt.max_iterations + 2):
            ll = frailty_grid_loglik(tab, np.exp(X @ params), accounts, n_acc)
            theta, log_scale, loglik, state = _fit_frailty(ll, state)
            post = _posterior(ll, theta, log_scale)
            if quadrature:
                offset = np.log(_posterior_quantiles(post, K) / np.exp(log_scale))[accounts].T.ravel()
                model = _glm(np.tile(endog, (K, 1)), np.tile(X, (K, 1)), family, offset, np.full(len(offset), 1.0 / K))
            else:
                model = _glm(endog, X, family, np.log(post @ np.exp(LOG_Z) / np.exp(log_scale))[accounts])
            new = np.asarray(_fit(model, params).params)
            change, params = float(np.abs(new - params).max()), new
            rounds += quadrature
            if (change < 2e-3 and quadrature) or rounds >= opt.max_iterations:
                break
            quadrature = quadrature or change < 2e-3 or iterations > opt.max_iterations
        groups = np.tile(accounts, K) if quadrature else accounts
    else:
        groups = accounts
    with warnings.catch_warnings():  # statsmodels warns that small-sample corrections ignore freq_weights
        warnings.simplefilter("ignore", category=SpecificationWarning)
        res = _fit(model, params, cov_type="cluster", cov_kwds={"groups": groups})
    if opt.frailty:
        ll = frailty_grid_loglik(tab, np.exp(X @ np.asarray(res.params)), accounts, n_acc)
        theta, profile_ci, loglik, log_scale = _fit_theta(ll, state)
        info = _marginal_information(tab, X, np.asarray(res.params), accounts, n_acc, theta, log_scale)
        cov = np.linalg.pinv(info)
        se_theta, se_theta_known_beta = float(np.sqrt(cov[-1, -1])), float(1 / np.sqrt(info[-1, -1]))
        theta_ci = (float(theta * np.exp(-Z95 * se_theta)), float(theta * np.exp(Z95 * se_theta)))
        frailty_detail = {"frailty_se_log": se_theta, "frailty_se_log_beta_known": se_theta_known_beta,
                          "frailty_profile_ci_beta_known": list(profile_ci)}
        ez = (_posterior(ll, theta, log_scale) @ np.exp(LOG_Z)) / np.exp(log_scale)
    beta, se = np.asarray(res.params).copy(), np.asarray(res.bse)
    if opt.frailty:  # the marginal likelihood's information: the frailties' uncertainty included (step 4)
        frailty_detail["glm_cluster_se_log"] = dict(zip(names, np.round(se, 6).tolist()))
        se = np.sqrt(np.diag(cov)[:-1])
    beta[: len(cells)] += log_scale  # the baseline's level: E[z] = 1

    rows = []
    for j, (s, b) in enumerate(cells):
        m = (tab["segment"] == s) & (tab["band"] == b)
        rows.append({"segment": s, "band": int(b), "left_edge": int(opt.bands[b]), "daily": float(np.exp(beta[j])),
                     "ci_lo": _exp(beta[j] - Z95 * se[j]), "ci_hi": _exp(beta[j] + Z95 * se[j]),
                     "se_log": float(se[j]), "at_risk": int(tab.loc[m, "at_risk"].sum()), "events": int(tab.loc[m, "events"].sum())})
    for (s, b), g in table.groupby(["segment", "band"])[["at_risk", "events"]].sum().iterrows():
        if g["events"] == 0 and g["at_risk"] > 0:  # no payment: half an event per exposure, rule-of-three bound
            rows.append({"segment": s, "band": int(b), "left_edge": int(opt.bands[b]), "daily": 0.5 / g["at_risk"],
                         "ci_lo": 0.0, "ci_hi": 3.0 / g["at_risk"], "se_log": float("nan"),
                         "at_risk": int(g["at_risk"]), "events": 0})
    baseline = pd.DataFrame(rows).sort_values(["segment", "band"]).reset_index(drop=True)
    eff = []
    for j in range(len(cells), len(names)):
        name = names[j]
        x = X[:, j] > 0
        eff.append({"name": name, "role": "control" if name.startswith(("balance_band", "attempt")) else "effect",
                    "multiplier": float(np.exp(beta[j])), "ci_lo": float(np.exp(beta[j] - Z95 * se[j])),
                    "ci_hi": float(np.exp(beta[j] + Z95 * se[j])), "se_log": float(se[j]),
                    "exposure": int(tab.loc[x, "at_risk"].sum()), "events": int(tab.loc[x, "events"].sum())})
    effects = pd.DataFrame(eff, columns=["name", "role", "multiplier", "ci_lo", "ci_hi", "se_log", "exposure", "events"]).set_index("name")
    not_identified = [a for a in ["disputed", *actions] if a not in effects.index
                      and not (a == "disputed" and opt.disputed_by_segment and effects.index.str.startswith("disputed[").any())]
    summary = {"items": table.attrs.get("items"), "item_days": table.attrs.get("item_days"),
               "payments": table.attrs.get("payments"), "accounts": int(n_acc), "as_of": table.attrs.get("as_of"),
               "pattern_rows": int(len(tab)), "iterations": iterations, "frailty_loglik": loglik,
               "glm_converged": bool(getattr(res, "converged", True)),
               "not_identified": not_identified, **frailty_detail,
               "model": "binomial GLM, complementary log-log link (statsmodels), cluster-robust SE by account"}
    return HazardFit(baseline=baseline, effects=effects, frailty_variance=float(theta), frailty_ci=theta_ci,
                     options=opt, summary=summary, account_frailty=pd.Series(ez, index=account_ids, name="frailty"))


# ------------------------------------------------------------------------------- scenario blocks


def _filled(values: dict[int, float], n: int) -> list[float]:
    """Per band 0..n−1: the estimate, or for a band without one the nearest estimated band (left first)."""
    out = []
    for j in range(n):
        near = min(values, key=lambda b: (abs(b - j), b > j))
        out.append(values[near])
    return out


def hazard_block(fit: HazardFit, segment: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario's ``behaviour.hazard`` of ``segment`` from the fit; every term the log does not identify
    (bands without payments take their nearest band's value) keeps its value in ``defaults`` (a hazard
    block as a dict, e.g. ``Hazard().model_dump()``)."""
    bands = list(fit.options.bands)
    seg = fit.baseline[fit.baseline["segment"] == segment]
    pooled = fit.baseline.groupby("band")["daily"].median().to_dict()
    values = {int(b): float(d) for b, d in zip(seg["band"], seg["daily"])} or {int(b): float(d) for b, d in pooled.items()}
    # an intensity above the schema's 50 a day is certainty already (1 − e^−50): capped, nothing changes
    block = {**dict(defaults), "bands": bands, "daily": [round(min(v, 50.0), 6) for v in _filled(values, len(bands))],
             "frailty_variance": round(fit.frailty_variance, 4)}
    disputed = fit.effect(f"disputed[{segment}]") or fit.effect("disputed")
    if disputed:
        block["disputed_multiplier"] = round(disputed["multiplier"], 4)
    eff = {k: dict(v) if isinstance(v, Mapping) else [dict(e) for e in v] for k, v in dict(defaults["effects"]).items()}
    levels = sorted(int(n.split("_")[1]) for n in fit.effects.index if n.startswith("notice_"))
    if levels:
        default_notice = eff["notice"]
        eff["notice"] = [{"multiplier": round(fit.effect(f"notice_{lv}")["multiplier"], 4),
                          "window_days": fit.options.notice_window(lv)} if f"notice_{lv}" in fit.effects.index
                         else default_notice[min(lv, len(default_notice)) - 1] for lv in range(1, max(levels) + 1)]
    windows = {**DEFAULT_WINDOWS, **dict(fit.options.windows)}
    for name in ("contact", "promise", "fee"):
        if fit.effect(name):
            eff[name] = {"multiplier": round(fit.effect(name)["multiplier"], 4), "window_days": int(windows[name])}
    if fit.effect("credit_hold"):  # a state while the hold lasts: its window is not used
        eff["credit_hold"] = {**eff["credit_hold"], "multiplier": round(fit.effect("credit_hold")["multiplier"], 4)}
    block["effects"] = eff
    return block


def _exp(x: float) -> float:
    """exp(x), infinity instead of an overflow warning (a term the data hardly inform has a huge se)."""
    return float(np.exp(x)) if x < 700 else float("inf")


def provenance(fit: HazardFit, segments: list[str], source: str) -> dict[str, dict[str, Any]]:
    """The scenario's ``provenance`` entries of the fit: dotted path → {estimate, se, ci95, source}; ``se``
    is on the log scale for multipliers and intensities (the interval is exp(log estimate ± 1.96 se))."""
    out: dict[str, dict[str, Any]] = {}

    def put(path, estimate, se, lo, hi, note=source):
        finite = [round(float(x), 6) if np.isfinite(x) else None for x in (lo, hi)]  # None: unbounded (no information)
        out[path] = {"estimate": round(float(estimate), 6),
                     "se": None if se is None or not np.isfinite(se) else round(float(se), 6),
                     "ci95": finite, "source": note}

    for seg in segments:
        base = f"portfolio.segments.{seg}.behaviour.hazard"
        for r in fit.baseline[fit.baseline["segment"] == seg].itertuples():
            put(f"{base}.daily.{r.band}", r.daily, None if np.isnan(r.se_log) else r.se_log, r.ci_lo, r.ci_hi,
                f"{source}: {r.events:,} payments in {r.at_risk:,} item-days at risk"
                + ("" if r.events else " (0.5 / item-days; upper bound 3 / item-days, the rule of three)"))
        put(f"{base}.frailty_variance", fit.frailty_variance, None, *fit.frailty_ci,
            f"{source}: shared gamma frailty, interval from the accounts' scores")
        for name, r in fit.effects.iterrows():
            if r["role"] != "effect" or (name.startswith("disputed[") and name != f"disputed[{seg}]"):
                continue
            path = (f"{base}.disputed_multiplier" if name.startswith("disputed") else
                    f"{base}.effects.notice.{int(name.split('_')[1]) - 1}.multiplier" if name.startswith("notice_") else
                    f"{base}.effects.{name}.multiplier")
            put(path, r["multiplier"], r["se_log"], r["ci_lo"], r["ci_hi"],
                f"{source}: {r['events']:,} payments in {r['exposure']:,} item-days with the action recent")
    return out
