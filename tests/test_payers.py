"""The payer hazard against its formula: left alone, the share of invoices still unpaid k days past due
is the gamma-frailty survival E[exp(−z·Λ)] = (1 + v·Λ)^(−1/v), Λ = Σ over business days of h0(days past due)."""

import numpy as np
import pytest

from o2c_sim.sim.model import Simulation
from o2c_sim.sim.payers import HazardTables
from conftest import small_scenario

SEGMENTS = ("key_accounts", "mid_market", "small_business")


def _left_alone(variance: float):
    ov = {"team.collectors": 0, "dunning.enabled": False, "disputes.enabled": False, "portfolio.accounts": 600,
          "horizon_days": 200}
    for s in SEGMENTS:
        b = f"portfolio.segments.{s}.behaviour."
        ov |= {b + "partial_payment_rate": 0, b + "unapplied_rate": 0, b + "insolvency_rate_annual": 0,
               b + "silent_share": 0, b + "hazard.frailty_variance": variance}
    sim = Simulation(small_scenario(overrides=ov))
    sim.run()
    return sim


@pytest.mark.parametrize("variance", [0.0, 0.4])
def test_unpaid_share_left_alone_follows_the_hazard_formula(variance):
    sim = _left_alone(variance)
    n, inv, L = sim.inv.n, sim.inv, sim.ledger
    tables = HazardTables.of(sim.scenario)
    last = sim.days - 1
    busdays = np.flatnonzero(sim.cal.is_busday[: sim.days])
    for k in (-5, 0, 5, 20, 45):
        # invoices whose day due + k lies inside the run
        idx = np.flatnonzero(inv.due_day[:n] + k <= last)
        closed = L.closed_day[idx]
        unpaid = ~(closed <= inv.due_day[idx] + k)
        # Λ_i: sum of h0 over the business days from issue to due + k
        lam = np.empty(len(idx))
        for j, i in enumerate(idx):
            days = busdays[(busdays >= inv.issue_day[i]) & (busdays <= inv.due_day[i] + k)]
            lam[j] = tables.baseline(np.full(len(days), inv.segment[i], np.int64), days - inv.due_day[i]).sum()
        expected = np.exp(-lam) if variance == 0 else (1 + variance * lam) ** (-1 / variance)
        se = np.sqrt(expected.mean() * (1 - expected.mean()) / len(idx))
        # accounts share a frailty, so allow for clustering on top of the binomial error
        assert unpaid.mean() == pytest.approx(expected.mean(), abs=3 * se + 0.005), f"k={k}"
