"""Disputes: raised on receipt or in a call, frozen for dunning, decided by the analyst pool.

A share ``behaviour.dispute_rate`` of invoices is disputed 2–10 days after issue (unless paid first);
a right-party call can also end in a dispute. An open dispute excludes its invoice from payment,
dunning and the worklist. After gathering information (exponential, mean ``disputes.info_wait_days``)
the dispute joins the analysts' FIFO queue and takes ``work.dispute_analysis`` minutes (exponential).
Outcomes, with ``disputes.outcomes`` shares:

* ``credit_rebill``  — credit note for the open amount and a corrected invoice of
  ``rebill_share`` × the original amount, issued with the next billing run on the segment's terms;
* ``partial_credit`` — credit note for ``partial_credit_share`` × the open amount;
* ``rejected``       — the invoice stands.

With ``refunds.enabled`` a credit also reaches what was already paid on the invoice; that cash becomes
the customer's credit balance (:mod:`o2c_sim.sim.refunds`).

While the dispute is open the invoice accumulates no hazard; afterwards the payer's hazard resumes
where it stopped. A dispute's reason, information wait, analysis time and outcome are keyed by the
invoice, how it was raised (on receipt, in a call, carried in) and its dispute count, so the same
dispute ends the same way under every policy. Cycle time = close − open (days); SLA met when closed
within ``sla_business_days`` business days.
"""

from __future__ import annotations

import numpy as np

from o2c_sim.sim.book import DISPUTE_OPEN, DISPUTE_PENDING, DISPUTE_RESOLVED
from o2c_sim.sim.refunds import creditable, credit_invoice
from o2c_sim.scenario import DISPUTE_REASONS

OUTCOMES = ("credit_rebill", "partial_credit", "rejected")


class DisputeDesk:
    """The disputes of one simulation, owning ``scenario.disputes``, the outcome shares and the analysts' queue."""

    def __init__(self, sim, queue):
        self.sim, self.cfg = sim, sim.scenario.disputes
        self.queue = queue  # the dispute analysts' FIFO
        shares = self.cfg.outcomes
        self.outcome_cdf = np.cumsum([shares.get(o, 0.0) for o in OUTCOMES])[:-1]
        self.reason_codes = np.array([DISPUTE_REASONS.index(r) for r in self.cfg.reasons], np.int64)

    def open_due(self, d: int) -> None:
        """Open the disputes raised on receipt whose day has come."""
        if not self.cfg.enabled:
            return
        sim = self.sim
        inv = sim.inv
        idx = sim.open_items()
        ready = idx[(inv.dispute[idx] == DISPUTE_PENDING) & (inv.dispute_open_day[idx] <= d) & ~inv.unapplied[idx]]
        self.open(ready, float(d), source="receipt")

    def open(self, idx: np.ndarray, now: float, *, source: str) -> None:
        """Open disputes on invoices ``idx``, raised on ``source`` ("receipt", "call", "query" or "carried")."""
        cfg, sim = self.cfg, self.sim
        if len(idx) == 0 or not cfg.enabled:
            return
        inv, keyed = sim.inv, sim.keyed
        inv.disputes_raised[idx] += 1
        keys = (inv.key[idx], inv.generation[idx], inv.disputes_raised[idx])
        reasons = keyed.choice(f"dispute_reason_{source}", [cfg.reasons[r] for r in cfg.reasons], *keys)
        codes = self.reason_codes[reasons]
        inv.dispute[idx] = DISPUTE_OPEN
        inv.dispute_reason[idx] = codes
        inv.dispute_open_day[idx] = now
        sim.ledger.log.record(now, "dispute_open", idx, inv.account[idx], sim.ledger.open[idx], codes)
        waits = cfg.info_wait_days * keyed.exponential(f"dispute_wait_{source}", *keys)
        minutes = sim.scenario.work.dispute_analysis * keyed.exponential(f"dispute_work_{source}", *keys)
        outcomes = np.searchsorted(self.outcome_cdf, keyed.uniform(f"dispute_outcome_{source}", *keys), side="right")
        for i, w, m, o in zip(idx.tolist(), waits.tolist(), minutes.tolist(), outcomes.tolist()):
            sim.env.process(self._lifecycle(i, w, m, o))

    def _lifecycle(self, invoice: int, wait: float, minutes: float, outcome: int):
        env = self.sim.env
        if wait > 0:
            yield env.timeout(wait)
        self.queue.put(env.now, minutes, lambda now: self.resolve(invoice, now, outcome))

    def resolve(self, i: int, now: float, outcome: int) -> None:
        """The analyst's decision on invoice ``i``'s dispute: a credit and rebill, a partial credit or a rejection."""
        cfg, sim = self.cfg, self.sim
        inv, ledger = sim.inv, sim.ledger
        a = int(inv.account[i])
        open_cents = int(ledger.open[i])
        if open_cents > 0 and OUTCOMES[outcome] == "credit_rebill":
            self.credit_and_rebill(i, now, cfg.rebill_share, detail=outcome)
        elif open_cents > 0 and OUTCOMES[outcome] == "partial_credit":
            credit_invoice(sim, i, int(creditable(sim, i) * cfg.partial_credit_share), now, detail=outcome)
        inv.dispute[i] = DISPUTE_RESOLVED
        inv.dispute_close_day[i] = now
        ledger.log.record(now, "dispute_close", i, a, int(ledger.open[i]), outcome)

    def credit_and_rebill(self, i: int, now: float, share: float, *, detail: int) -> None:
        """Credit invoice ``i``'s open amount (with refunds on, also what was paid: :func:`o2c_sim.sim.refunds.credit_invoice`)
        and queue a corrected invoice of ``share`` × its original amount for the next billing run (keyed as the
        next generation of the same invoice)."""
        sim = self.sim
        inv, ledger = sim.inv, sim.ledger
        a = int(inv.account[i])
        credit_invoice(sim, i, creditable(sim, i), now, detail=detail)
        rebill = round(float(ledger.amount[i]) * share / 100.0, 2)
        if rebill > 0:
            sim.rebills.append((a, rebill, int(inv.key[i]), int(inv.generation[i]) + 1))  # with the next billing run
