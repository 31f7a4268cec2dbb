"""Payer behaviour: a discrete-time hazard on business days that responds to collection actions.

On business day t an open item i of account a (segment s) that nothing blocks (no open dispute,
payment plan, agency hand-over or cash in suspense) has the daily intensity

    H_it = h0_s(dpd_it) · z_a · d_i · ∏_k m_k^(x_k,it)

* ``h0_s`` — the segment's baseline intensity, piecewise constant in calendar days past due
  (``hazard.bands`` left edges, ``hazard.daily`` values);
* ``z_a`` — the account's frailty, Gamma(mean 1, variance ``frailty_variance``), or
  ``silent_frailty`` for the segment's ``silent_share`` of accounts (Vaupel, Manton & Stallard 1979);
* ``d_i`` — ``disputed_multiplier`` for an invoice disputed on receipt, from the day the dispute was
  raised (so in practice after it is decided: an open dispute blocks the item), else 1;
* ``x_k,it`` — 1 while action k is recent: a notice of level k on the item, a fee added to the item
  (``effects.fee``, when fees are enabled), the account on credit hold (``effects.credit_hold``, while
  the hold lasts), a right-party contact with the account, or (for the items past due when the promise was made) a promised date with
  t ∈ [promised, promised + window). An action is recent on days [day + 1, day + window] (an action
  today acts from tomorrow; windows in calendar days).

P(pay on t) = 1 − exp(−H_it): log(−log(1 − p)) is linear in log h0, log z and the indicators — a binomial
GLM with complementary log-log link (Prentice & Gloeckler 1978), which is what calibration fits.

Each item draws one resistance R_i ~ Exp(1) keyed by the item (:mod:`o2c_sim.sim.keyed_random`) and pays on
the first business day its cumulative hazard reaches R_i — the same law as daily Bernoulli(p_it) draws,
but an item no action touched pays on the same day under every policy (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from o2c_sim.scenario import Scenario


@dataclass
class HazardTables:
    """A scenario's hazard parameters as per-segment arrays (rows = segments)."""

    edges: list[np.ndarray]  # band left edges per segment
    daily: list[np.ndarray]  # h0 per band per segment
    notice_mult: np.ndarray  # (segments, notice effects), padded with 1
    notice_window: np.ndarray  # (segments, notice effects)
    notice_effects: np.ndarray  # number of notice effects per segment
    contact_mult: np.ndarray
    contact_window: np.ndarray
    promise_mult: np.ndarray
    promise_window: np.ndarray
    disputed_mult: np.ndarray
    fee_mult: np.ndarray
    fee_window: np.ndarray
    hold_mult: np.ndarray

    @classmethod
    def of(cls, scenario: Scenario) -> "HazardTables":
        hz = [s.behaviour.hazard for s in scenario.portfolio.segments]
        width = max(len(h.effects.notice) for h in hz)
        pad = lambda f, fill: np.array([[f(e) for e in h.effects.notice] + [fill] * (width - len(h.effects.notice))  # noqa: E731
                                        for h in hz], dtype=float)
        col = lambda f: np.array([f(h) for h in hz], dtype=float)  # noqa: E731
        return cls(
            edges=[np.asarray(h.bands, float) for h in hz], daily=[np.asarray(h.daily, float) for h in hz],
            notice_mult=pad(lambda e: e.multiplier, 1.0), notice_window=pad(lambda e: e.window_days, 0),
            notice_effects=np.array([len(h.effects.notice) for h in hz], np.int64),
            contact_mult=col(lambda h: h.effects.contact.multiplier), contact_window=col(lambda h: h.effects.contact.window_days),
            promise_mult=col(lambda h: h.effects.promise.multiplier), promise_window=col(lambda h: h.effects.promise.window_days),
            disputed_mult=col(lambda h: h.disputed_multiplier),
            fee_mult=col(lambda h: h.effects.fee.multiplier), fee_window=col(lambda h: h.effects.fee.window_days),
            hold_mult=col(lambda h: h.effects.credit_hold.multiplier),
        )

    def baseline(self, seg: np.ndarray, dpd: np.ndarray) -> np.ndarray:
        """h0_s(dpd): the band whose left edge is the last ≤ dpd (the first band before the first edge)."""
        out = np.empty(len(seg))
        for s, (edges, daily) in enumerate(zip(self.edges, self.daily)):
            m = seg == s
            if m.any():
                out[m] = daily[np.maximum(np.searchsorted(edges, dpd[m], side="right") - 1, 0)]
        return out

    def notice_column(self, seg: np.ndarray, level: np.ndarray) -> np.ndarray:
        """Column of ``notice_day`` that a notice of 1-based ``level`` marks (the last effect serves higher levels)."""
        return np.minimum(level, self.notice_effects[seg]) - 1


def frailty(scenario: Scenario, keyed, segment: np.ndarray, silent: np.ndarray) -> np.ndarray:
    """Each account's z_a: Gamma(mean 1, segment's variance) keyed by account, or silent_frailty."""
    hz = [s.behaviour.hazard for s in scenario.portfolio.segments]
    accounts = np.arange(len(segment))
    z = np.ones(len(segment))
    for s, h in enumerate(hz):
        m = segment == s
        z[m] = keyed.gamma_mean_one("frailty", h.frailty_variance, accounts[m])
        z[m & silent] = h.silent_frailty
    return z


def _recent(day: np.ndarray, window: np.ndarray, t: int) -> np.ndarray:
    """The action of ``day`` is recent on day t: t − window ≤ day ≤ t − 1."""
    return (day <= t - 1) & (day >= t - window)


def _promised(made: np.ndarray, promised: np.ndarray, due: np.ndarray, window: np.ndarray, t: int) -> np.ndarray:
    return (promised <= t) & (t < promised + window) & (due < made)


class Payers:
    """The run's payers: the hazard tables of its scenario and each account's frailty z_a (for a warm
    start, drawn from its posterior given the customer's payment record), and the daily intensity."""

    def __init__(self, sim):
        sc = sim.scenario
        self.sim = sim
        self.tables = tab = HazardTables.of(sc)
        self.frailty = frailty(sc, sim.keyed, sim.accounts.segment, sim.accounts.silent)
        if sim.opening is not None:  # each customer's frailty given its payment record (warmstart)
            self.frailty = sim.opening.account_frailty(sc, self.frailty, sim.keyed.uniform("frailty", np.arange(len(sim.accounts))))
        # h0 per segment on every whole day past due from the first band edge to the last (clipped outside)
        self._h0_from = int(np.floor(min(e.min() for e in tab.edges)))
        grid = np.arange(self._h0_from, int(np.ceil(max(e.max() for e in tab.edges))) + 1)
        self._h0 = np.stack([tab.baseline(np.full(len(grid), s), grid) for s in range(len(tab.edges))])
        # log multipliers per segment, so a day's intensity adds them without taking logs item by item
        self._log_contact, self._log_promise = np.log(tab.contact_mult), np.log(tab.promise_mult)
        self._log_notice, self._log_fee, self._log_hold = np.log(tab.notice_mult), np.log(tab.fee_mult), np.log(tab.hold_mult)

    def intensity(self, items: np.ndarray, t: int) -> np.ndarray:
        """H_it for ``items`` on business day ``t`` (see the module docstring)."""
        sim, tab = self.sim, self.tables
        inv, acct = sim.inv, sim.account_state
        seg = inv.segment[items].astype(np.int64)
        a = inv.account[items]
        due = inv.due_day[items]
        h = self._h0[seg, np.clip(t - due - self._h0_from, 0, self._h0.shape[1] - 1)] * self.frailty[a]
        # from the day its on-receipt dispute was raised (an item paid before raising it never was disputed)
        disputed = inv.disputed_on_receipt[items] & (inv.dispute_open_day[items] <= t)
        h = np.where(disputed, h * tab.disputed_mult[seg], h)
        log_m = np.zeros(len(items))
        log_m += _recent(acct.last_contact_day[a], tab.contact_window[seg], t) * self._log_contact[seg]
        promised = (_promised(acct.ptp_made[a], acct.ptp_day[a], due, tab.promise_window[seg], t)
                    | _promised(acct.prev_ptp_made[a], acct.prev_ptp_day[a], due, tab.promise_window[seg], t))
        log_m += promised * self._log_promise[seg]
        notices = np.zeros(len(items))  # Σ_j recent_j · log m_j, added column by column in the order of j
        for j in range(self._log_notice.shape[1]):
            notices += _recent(inv.notice_day[items, j], tab.notice_window[:, j][seg], t) * self._log_notice[:, j][seg]
        log_m += notices
        if sim.fees is not None:
            log_m += _recent(inv.fee_day[items], tab.fee_window[seg], t) * self._log_fee[seg]
        if sim.credit_holds is not None:
            log_m += sim.credit_holds.on_hold[a] * self._log_hold[seg]
        return h * np.exp(log_m)
