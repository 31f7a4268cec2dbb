"""Common random numbers hold: two runs that differ only in headcount see the same world.

Every invoice's own draws (its resistance to paying, a dispute on receipt and its reason, partial and
unapplied payments) are keyed by the invoice, not taken from a shared stream in the order asked, so
between 6 and 10 collectors the same invoice has the same id, the same flag and reason, and an account
that no collector ever called pays every invoice on the same day in both runs.
"""

import numpy as np
import pandas as pd
import pytest

from o2c_sim.sim.keyed_random import KeyedRandom
from o2c_sim.sim.model import Simulation
from conftest import small_scenario

PAYMENT_KINDS = ("payment", "partial_payment", "unapplied_received", "plan_instalment", "legal_recovery")


def _run(collectors: int):
    sim = Simulation(small_scenario(overrides={"team.collectors": collectors, "seed": 9}))
    result = sim.run()
    n = sim.inv.n
    ids = result.invoices["invoice_id"].to_numpy()
    items = pd.DataFrame({
        "customer_id": result.invoices["customer_id"].to_numpy(), "amount": result.invoices["amount"].to_numpy(),
        "on_receipt": sim.inv.disputed_on_receipt[:n],
        "receipt_reason": np.where(sim.inv.disputed_on_receipt[:n], sim.inv.dispute_reason[:n], -9),
    }, index=ids)
    ev = result.events
    pays = ev[ev["kind"].isin(PAYMENT_KINDS)]
    payments = pays.groupby("invoice_id", observed=True).apply(
        lambda g: tuple(zip(g["date"].dt.date, g["amount"].round(2))), include_groups=False)
    called = set(ev.loc[ev["kind"] == "call_attempt", "customer_id"].astype(str))
    return items, payments, called


@pytest.fixture(scope="module")
def pair():
    return _run(6), _run(10)


def test_the_same_invoice_has_the_same_id_and_receipt_dispute(pair):
    (a, _, _), (b, _, _) = pair
    originals_a, originals_b = a[~a.index.str.contains("-R")], b[~b.index.str.contains("-R")]
    assert originals_a.index.equals(originals_b.index)  # billing is policy-free: the same originals, numbered alike
    both = a.index.intersection(b.index)
    assert len(both) > 3000
    pd.testing.assert_frame_equal(a.loc[both, ["customer_id", "amount"]], b.loc[both, ["customer_id", "amount"]])
    assert a.loc[both, "on_receipt"].sum() > 100  # the test has teeth
    assert (a.loc[both, "on_receipt"] == b.loc[both, "on_receipt"]).all()
    opened = both[(a.loc[both, "receipt_reason"] >= 0) & (b.loc[both, "receipt_reason"] >= 0)]
    assert (a.loc[opened, "receipt_reason"] == b.loc[opened, "receipt_reason"]).all()
    rebills = both[both.str.contains("-R")]
    assert len(rebills) > 0 and rebills.str.replace(r"-R\d+$", "", regex=True).isin(originals_a.index).all()


def test_accounts_no_collector_called_pay_on_the_same_days(pair):
    (a, pay_a, called_a), (b, pay_b, called_b) = pair
    never = set(a["customer_id"]) - called_a - called_b
    assert len(never) > 20
    mine = a.index[a["customer_id"].isin(never)].intersection(b.index)
    assert len(mine) > 100
    left, right = pay_a.reindex(mine), pay_b.reindex(mine)
    assert left.notna().sum() > 0.8 * len(mine)
    same = (left == right) | (left.isna() & right.isna())
    assert same.all(), f"{(~same).sum()} of {len(mine)} invoices of never-called accounts changed payment: {mine[~same][:5].tolist()}"


def test_keyed_draws_do_not_depend_on_order_or_batch():
    k = KeyedRandom(7, 2)
    keys = np.arange(1000)
    u = k.uniform("resistance", keys, 0)
    assert np.array_equal(u[::-1], k.uniform("resistance", keys[::-1], 0))
    assert np.array_equal(u[10:20], k.uniform("resistance", keys[10:20], 0))
    assert not np.array_equal(u, k.uniform("resistance", keys, 1))
    assert not np.array_equal(u, KeyedRandom(7, 3).uniform("resistance", keys, 0))
    assert not np.array_equal(u, k.uniform("partial", keys, 0))
    big = k.uniform("resistance", np.arange(200_000), 0)
    assert 0 <= big.min() and big.max() < 1
    # uniform on [0, 1): Kolmogorov-Smirnov against the uniform CDF, and the exponential's mean
    from scipy import stats

    assert stats.kstest(big, "uniform").pvalue > 0.001
    assert k.exponential("resistance", np.arange(200_000), 0).mean() == pytest.approx(1.0, abs=0.01)
    z = k.gamma_mean_one("frailty", 0.4, np.arange(200_000))
    assert z.mean() == pytest.approx(1.0, abs=0.01) and z.var() == pytest.approx(0.4, rel=0.05)
