"""How items leave the book: payments (full, partial, without remittance), pre-legal hand-over,
write-off and insolvency.

* **Payments.** Each business day every item at risk (open, no open dispute, not in a plan or with the
  agency, no cash for it in suspense) adds its hazard of the day (:func:`o2c_sim.sim.payers.intensity`) to
  its cumulative hazard and is paid when that reaches its resistance. With the segment's
  ``partial_payment_rate`` the first payment covers only ``partial_fraction`` of the open amount; the
  rest follows the same hazard with a fresh keyed resistance. Whether a payment is partial or comes
  without remittance is keyed by the item and its payment number (the same under every policy). With the
  segment's ``unapplied_rate`` a payment comes without remittance advice: the cash waits in suspense
  until a cash-application clerk matches it (``work.cash_match`` minutes).
* **Pre-legal.** When an account's oldest actionable item is ``dunning.pre_legal_days`` past due, a
  collector prepares a file (``work.pre_legal_file`` minutes); then the agency holds its past-due items
  and, after ``legal.days_to_recover``, recovers them in full with probability ``legal.recovery_rate``,
  otherwise they are written off.
* **Write-off** of whatever is still open ``dunning.write_off_days`` past due (not with the agency).
* **Insolvency.** Each business day an active account fails with probability
  ``1 − (1 − r·risk/mean_risk)^(1/B)`` (``r`` = segment's annual rate, B = business days a year); its open items are written
  off and it is no longer billed.
* **Duplicate payments** (``refunds.enabled``): a share ``refunds.duplicate_payment_rate`` of full
  payments with remittance is paid twice; the second payment is the customer's credit balance
  (:mod:`o2c_sim.sim.refunds`).
"""

from __future__ import annotations

import numpy as np

from o2c_sim.sim.book import DISPUTE_PENDING, INF, NO_DISPUTE

WRITE_OFF_AGED, WRITE_OFF_INSOLVENCY, WRITE_OFF_LEGAL = 1, 2, 3


class Settlement:
    """How items leave the book in one simulation: it owns the segments' payment mix (partial, without
    remittance), each account's daily insolvency chance, the pre-legal rule and the agency, and the queues
    of the cash-application clerks and of pre-legal files."""

    def __init__(self, sim, cash_matching, legal_files):
        self.sim, self.cfg = sim, sim.scenario.dunning
        self.cash_matching, self.legal_files = cash_matching, legal_files
        segs = sim.scenario.portfolio.segments
        self.unapplied_rate = np.array([s.behaviour.unapplied_rate for s in segs], dtype=float)
        self.partial_fraction = np.array([s.behaviour.partial_fraction for s in segs])
        risk_mean = np.array([max(s.behaviour.risk_score_mean, 1e-3) for s in segs], dtype=float)
        annual = np.array([s.behaviour.insolvency_rate_annual for s in segs], dtype=float)
        # daily hazard per business day, scaled by the account's risk relative to its segment's mean
        acc = sim.accounts
        rel = acc.risk / risk_mean[acc.segment]
        self.insolvency_hazard = 1.0 - (1.0 - np.clip(annual[acc.segment] * rel, 0, 0.999)) ** (1.0 / sim.cal.per_year)

    def payments(self, d: int) -> None:
        """The payers' day: every item at risk adds its hazard and pays when it reaches its resistance."""
        sim = self.sim
        inv, ledger, keyed = sim.inv, sim.ledger, sim.keyed
        idx = sim.open_items()
        at_risk = idx[sim.actionable(idx, d)]
        inv.cum_hazard[at_risk] += sim.payers.intensity(at_risk, d)
        due = at_risk[inv.cum_hazard[at_risk] >= inv.resistance[at_risk]]
        if sim.payment_runs is not None:  # ready to pay, but the payer pays on its next run day
            due = due[~sim.payment_runs.waiting(inv.account[due], d)]
        if len(due) == 0:
            return
        # a payer who pays before raising a dispute no longer raises it
        pending = due[inv.dispute[due] == DISPUTE_PENDING]
        inv.dispute[pending] = NO_DISPUTE
        inv.dispute_open_day[pending] = INF
        acct = inv.account[due]
        seg = inv.segment[due]
        key, gen, nth = inv.key[due], inv.generation[due], inv.payments[due]
        unapplied = keyed.uniform("unapplied", key, gen, nth) < self.unapplied_rate[seg]
        partial = inv.partial[due]
        open_cents = ledger.open[due]
        cents = np.where(partial, np.floor(open_cents * self.partial_fraction[seg]).astype(np.int64), open_cents)
        cents = np.maximum(cents, 1)
        inv.payments[due] += 1
        # the rest of a partial payment follows the same hazard with a fresh resistance
        if partial.any():
            p = due[partial]
            inv.partial[p] = False
            inv.cum_hazard[p] = 0.0
            inv.resistance[p] = keyed.exponential("resistance", inv.key[p], inv.generation[p], inv.payments[p])
        direct = ~unapplied
        full = direct & ~partial
        ledger.pay(d, due[full], cents[full], acct[full])
        if sim.refunds is not None and full.any():  # a duplicate payment: the same cents again, to the credit balance
            f = np.flatnonzero(full)
            twice = keyed.uniform("duplicate_payment", key[f], gen[f], nth[f]) < sim.scenario.refunds.duplicate_payment_rate
            for i, c, a in zip(due[f[twice]].tolist(), cents[f[twice]].tolist(), acct[f[twice]].tolist()):
                ledger.receive_overpayment(d, i, c, a)
        ledger.pay(d, due[direct & partial], cents[direct & partial], acct[direct & partial], kind="partial_payment")
        minutes = sim.scenario.work.cash_match
        for i, c, a in zip(due[unapplied].tolist(), cents[unapplied].tolist(), acct[unapplied].tolist()):
            ledger.receive_unapplied(d, i, c, a)
            inv.unapplied[i] = True
            self.cash_matching.put(sim.env.now, minutes, self._matcher(i, c, a))

    def _matcher(self, invoice: int, cents: int, account: int):
        def done(now: float) -> None:
            self.sim.ledger.apply_unapplied(now, invoice, cents, account)
            self.sim.inv.unapplied[invoice] = False
        return done

    def legal_and_write_off(self, d: int) -> None:
        """Write off what is ``write_off_days`` past due; queue a pre-legal file for each account whose
        oldest actionable item is ``pre_legal_days`` past due."""
        sim, dn = self.sim, self.cfg
        inv, acct_state = sim.inv, sim.account_state
        idx = sim.open_items()
        dpd = d - inv.due_day[idx]
        aged = idx[(dpd >= dn.write_off_days) & ~inv.in_legal[idx]]
        if len(aged):
            sim.ledger.write_off_open(d, aged, inv.account[aged], WRITE_OFF_AGED)
        if dn.pre_legal_days is None:
            return
        act = sim.actionable(idx, d) & (dpd >= dn.pre_legal_days)
        accounts = np.unique(inv.account[idx[act]])
        accounts = accounts[~acct_state.legal_pending[accounts]]
        for a in accounts.tolist():
            acct_state.legal_pending[a] = True
            self.legal_files.put(sim.env.now, sim.scenario.work.pre_legal_file, self._handover(a))

    def _handover(self, account: int):
        def done(now: float) -> None:
            sim = self.sim
            inv = sim.inv
            sim.account_state.legal_pending[account] = False
            idx = sim.open_items()
            idx = idx[inv.account[idx] == account]  # the account's open items first, then what may be handed over
            mine = idx[sim.actionable(idx, int(now)) & (inv.due_day[idx] < now)]
            if len(mine) == 0:
                return
            inv.in_legal[mine] = True
            sim.ledger.log.record(now, "legal_handover", mine, account, sim.ledger.open[mine])
            handovers = sim.account_state.handovers
            recovered = sim.keyed.uniform("legal_recovery", account, handovers[account])[()] < self.cfg.legal.recovery_rate
            handovers[account] += 1
            sim.env.process(self._recovery(account, mine, recovered))
        return done

    def _recovery(self, account: int, items: np.ndarray, recovered: bool):
        sim = self.sim
        yield sim.env.timeout(self.cfg.legal.days_to_recover)
        now = sim.env.now
        items = items[sim.ledger.open[items] > 0]
        if len(items) == 0:
            return
        if recovered:
            sim.ledger.pay(now, items, sim.ledger.open[items], account, kind="legal_recovery")
        else:
            sim.ledger.write_off_open(now, items, account, WRITE_OFF_LEGAL)
        sim.inv.in_legal[items] = False

    def insolvencies(self, d: int) -> None:
        """Accounts that fail today: no longer billed, their open items written off."""
        sim = self.sim
        acc = sim.accounts
        hit = (sim.rng.insolvency.random(len(acc)) < self.insolvency_hazard) & acc.active
        if not hit.any():
            return
        acc.active[hit] = False
        failed = np.flatnonzero(hit)
        sim.ledger.log.record(d, "insolvency", -1, failed, 0)
        idx = sim.open_items()
        inv = sim.inv
        mine = idx[hit[inv.account[idx]] & ~inv.unapplied[idx]]
        sim.ledger.write_off_open(d, mine, inv.account[mine], WRITE_OFF_INSOLVENCY)
        inv.in_plan[mine] = False
