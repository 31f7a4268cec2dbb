"""Credit balances and refunds (docs/model.md §2.23): the ledger postings balance to the cent, the
refund queue's timing follows its approval wait and capacity, and the levers move outcomes the way a
refunds desk expects (paired runs, common random numbers)."""

import numpy as np
import pytest

from o2c_sim.sim.ledger import EventLog, Ledger, to_cents
from o2c_sim.sim.model import simulate
from o2c_sim.scenario import load_scenario

SMALL = {"portfolio.accounts": 250, "horizon_days": 120, "warmup_days": 40, "seed": 5}
ON = {"refunds.enabled": True, "refunds.duplicate_payment_rate": 0.02}


def run(**overrides):
    return simulate(load_scenario("baseline", {**SMALL, **ON, **overrides}), check_every_day=True)


def test_a_credit_on_a_part_paid_invoice_moves_the_paid_cash_to_the_credit_balance():
    """Worked example: an invoice of 100.00, 40.00 paid, then credited in full: paid 0, credited 100.00,
    credit balance 40.00; applied to a second invoice of 25.00 it leaves 15.00 to refund."""
    refunded = []
    ledger = Ledger(EventLog())
    ledger.credit_hook = lambda time, account: refunded.append(account)
    a, b = ledger.issue(0.0, to_cents([100.00, 25.00]), np.array([7, 7]))
    ledger.pay(1.0, np.array([a]), [4_000], [7], kind="partial_payment")
    ledger.credit(2.0, int(a), 6_000, 7)
    ledger.reverse_payment(2.0, int(a), 4_000, 7)
    assert (ledger.paid[a], ledger.credited[a], ledger.open[a]) == (0, 10_000, 0)
    assert ledger.credit_balance == {7: 4_000} and refunded == [7]
    ledger.check()
    ledger.apply_credit(3.0, 7, int(b), 2_500)
    assert ledger.open[b] == 0 and ledger.credit_balance == {7: 1_500}
    ledger.check()
    assert ledger.refund(4.0, 7) == 1_500 and ledger.refunded == 1_500
    ledger.check()
    with pytest.raises(ValueError):
        ledger.reverse_payment(5.0, int(b), 2_501, 7)  # more than was paid


def test_duplicate_payments_become_refunds_after_the_approval_wait():
    """With idle refund clerks a refund is paid ``approval_days`` after its balance arose, plus the
    handling minutes and the wait for the clerk's next shift (never less than the approval wait)."""
    r = run(**{"refunds.approval_days": 5.0})
    refunds = r.refunds
    assert len(refunds) > 10 and r.kpis["duplicate_payments"] > 0
    assert (refunds["days"] >= 5.0).all()
    assert refunds["days"].median() < 5.0 + 4  # at most a weekend and a night beyond the approval
    ev = r.events
    assert round(ev.loc[ev["kind"] == "refund", "amount"].sum(), 2) == round(refunds["amount"].sum(), 2)


def test_no_refund_clerk_leaves_the_balances_open_and_ageing():
    staffed, unstaffed = run(), run(**{"refunds.clerks": 0})
    assert staffed.kpis["refunds_paid"] > 0 and unstaffed.kpis["refunds_count"] == 0
    assert unstaffed.kpis["credit_balances_open"] > 5 * staffed.kpis["credit_balances_open"]
    staffed_age = staffed.kpis["credit_balance_age_days"]  # n/a when every balance was refunded
    assert unstaffed.kpis["credit_balance_age_days"] > 30 and (np.isnan(staffed_age) or staffed_age < 10)
    # the same payers paid twice under both policies (keyed draws)
    assert unstaffed.kpis["duplicate_payments"] == staffed.kpis["duplicate_payments"]


def test_applying_credit_balances_to_open_items_refunds_less_and_collects_less_new_cash():
    refund_all, apply_first = run(), run(**{"refunds.apply_to_open_items": True})
    assert apply_first.kpis["credits_applied"] > 0 and refund_all.kpis["credits_applied"] == 0
    assert apply_first.kpis["refunds_paid"] < 0.7 * refund_all.kpis["refunds_paid"]
    assert apply_first.kpis["cash_collected"] < refund_all.kpis["cash_collected"]


def test_a_dispute_credit_on_a_part_paid_invoice_refunds_the_paid_part():
    """Every partly paid invoice later credited in full by a dispute: its paid cash was reversed."""
    r = run(**{"refunds.duplicate_payment_rate": 0.0, "portfolio.segments.mid_market.behaviour.partial_payment_rate": 0.5,
               "disputes.outcomes": {"credit_rebill": 1.0, "partial_credit": 0.0, "rejected": 0.0}})
    ev = r.events
    reversed_ = ev[ev["kind"] == "payment_reversed"]
    assert len(reversed_) > 0 and r.kpis["duplicate_payments"] == 0
    inv = r.invoices.set_index("invoice_id").loc[reversed_["invoice_id"]]
    assert (inv["paid_amount"] == 0).all() and (inv["credited_amount"] == inv["amount"]).all()
