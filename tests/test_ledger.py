"""The ledger moves money only between an invoice's columns and never creates or loses a cent."""

import numpy as np
import pytest

from o2c_sim.sim.ledger import EventLog, Ledger, to_cents


def make(amounts=(100.00, 250.55, 19.99)):
    ledger = Ledger(EventLog(), capacity=2)
    idx = ledger.issue(0.0, to_cents(amounts), np.arange(len(amounts)))
    return ledger, idx


def test_to_cents_rounds_half_away_from_zero():
    assert to_cents([0.005, 1.234, 19.995]).tolist() == [1, 123, 2000]


def test_postings_keep_each_invoice_balanced_and_grow_capacity():
    ledger, idx = make()
    ledger.pay(1.0, idx[:1], [10_000], [0])
    ledger.credit(2.0, idx[1], 5_000, 1)
    ledger.write_off(3.0, idx[2:], [1_999], [2])
    ledger.check()
    assert ledger.open_view.tolist() == [0, 20_055, 0]
    assert ledger.closed_day[:3].tolist() == [1.0, np.inf, 3.0]


def test_cannot_take_more_than_is_open():
    ledger, idx = make()
    with pytest.raises(ValueError):
        ledger.pay(1.0, idx[:1], [10_001], [0])
    ledger.check()


def test_one_posting_per_invoice_per_call():
    ledger, idx = make()
    with pytest.raises(ValueError):
        ledger.pay(1.0, np.array([idx[2], idx[0], idx[2]]), [1, 1, 1], [2, 0, 2])
    ledger.pay(1.0, idx[::-1], [1, 1, 1], [2, 1, 0])
    ledger.check()


def test_unapplied_cash_matched_later_and_excess_refunded():
    ledger, idx = make()
    ledger.receive_unapplied(1.0, int(idx[0]), 10_000, 0)
    ledger.check()  # cash held in suspense still balances
    ledger.credit(2.0, idx[0], 4_000, 0)  # credited while the cash waited
    ledger.apply_unapplied(3.0, int(idx[0]), 10_000, 0)
    ledger.check()
    assert ledger.paid[0] == 6_000 and ledger.refunded == 4_000 and ledger.suspense == 0


def test_event_log_records_every_posting():
    ledger, idx = make()
    ledger.pay(1.0, idx, ledger.open[idx], np.arange(3))
    ev = ledger.log.frame()
    assert len(ev) == 6  # three issues, three payments
    assert ev["cents"].sum() == 2 * int(to_cents([100.00, 250.55, 19.99]).sum())


def test_event_log_packing_keeps_the_order_of_an_unpacked_log(monkeypatch):
    """Packing single events and vectors into blocks is a memory layout only: the sorted log equals the
    one kept unpacked (same-time events: vectors first, each group in recording order)."""
    rng = np.random.default_rng(3)
    calls = [(float(rng.integers(0, 20)), int(rng.integers(1, 4))) for _ in range(400)]

    def fill(log):
        for i, (t, n) in enumerate(calls):
            if n == 1:
                log.record(t, "call_attempt", i, i % 7)
            elif i % 5 == 0:  # a vector of one event (e.g. one plan instalment) is still a vector
                log.record(t, "plan_instalment", np.array([i]), 4, np.array([i * 10]))
            else:
                log.record(t, "dunning", np.arange(n) + i, 3, np.full(n, i), 1)
        return log.columns()

    unpacked = fill(EventLog())
    monkeypatch.setattr(EventLog, "PACK", 5)
    packed = fill(EventLog())
    for name in EventLog.COLUMNS:
        np.testing.assert_array_equal(packed[name], unpacked[name])
        assert packed[name].dtype == unpacked[name].dtype


def test_a_one_event_vector_sorts_with_the_vectors():
    """Same-time events: vectors (one event or many) before single events, as the log always sorted them."""
    log = EventLog()
    log.record(1.0, "call_attempt", 10, 1)
    log.record(1.0, "plan_instalment", np.array([11]), 1, np.array([500]))
    log.record(0.5, "payment", np.array([12, 13]), np.array([2, 3]), np.array([1, 2]))
    log.record(1.0, "fee_added", np.array([14]), np.array([4]), np.array([7]), np.array([2]))
    out = log.columns()
    assert out["invoice"].tolist() == [12, 13, 11, 14, 10]
    assert out["cents"].tolist() == [1, 2, 500, 7, 0] and out["detail"].tolist() == [0, 0, 0, 2, 0]
