"""Validation against queueing theory.

* The inbound-query desk (the model's own work pool, FIFO queue and Poisson arrivals) configured as
  M/M/c reproduces Erlang C — the probability of waiting and the mean wait — within 5 % (relative)
  over c ∈ {1, 5, 20}, ρ ∈ {0.5, 0.8, 0.9}. Erlang C is computed here from its formula, independently.
* Little's law L = λW holds for the simulated dispute backlog within 5 %.
"""

import math

import pytest

from o2c_sim.model import Simulation
from o2c_sim.queueing import simulate_mmc
from conftest import small_scenario

SERVICE_MINUTES = 6.0


def erlang_c_reference(c: int, a: float) -> float:
    """P(wait) in M/M/c with offered load a = λ/μ: the Erlang C formula (independent of o2c_sim)."""
    rho = a / c
    tail = a**c / math.factorial(c) / (1 - rho)
    return tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)


# days of round-the-clock operation per cell, chosen so that the batch-means standard error of the
# mean wait is about 2 % (heavy traffic and rare waits need long runs): 14 million customers in all
DAYS = {(1, 0.5): 400, (1, 0.8): 1500, (1, 0.9): 6000, (5, 0.5): 1000, (5, 0.8): 500, (5, 0.9): 1200,
        (20, 0.5): 3000, (20, 0.8): 300, (20, 0.9): 400}


@pytest.mark.parametrize("c, rho", sorted(DAYS))
def test_inbound_desk_matches_erlang_c(c, rho):
    mu_per_hour = 60.0 / SERVICE_MINUTES
    lam = rho * c * mu_per_hour
    sim = simulate_mmc(lam, SERVICE_MINUTES, c, days=DAYS[(c, rho)], seed=2026)
    p_wait = erlang_c_reference(c, lam / mu_per_hour)
    mean_wait = p_wait / (c * mu_per_hour - lam) * 60.0  # minutes
    assert sim["p_wait"] == pytest.approx(p_wait, rel=0.05)
    assert sim["mean_wait"] == pytest.approx(mean_wait, rel=0.05)
    assert sim["utilisation"] == pytest.approx(rho, rel=0.03)


def test_littles_law_for_the_dispute_backlog():
    sc = small_scenario(overrides={"portfolio.accounts": 800, "horizon_days": 400, "warmup_days": 60})
    result = Simulation(sc).run()
    ev, w0, end = result.events, sc.warmup_days, sc.warmup_days + sc.horizon_days
    opened = ev[ev["kind"] == "dispute_open"].groupby("invoice_id")["time"].min()
    closed = ev[ev["kind"] == "dispute_close"].groupby("invoice_id")["time"].min()
    in_window = opened[(opened >= w0) & (opened < end)]
    assert len(in_window) > 500  # enough disputes for the law to be tested
    sojourn = (closed.reindex(in_window.index).fillna(end).clip(upper=end) - in_window)
    lam = len(in_window) / (end - w0)  # disputes per day
    W = sojourn.mean()  # days
    L = result.daily.loc[result.daily["day"] >= w0, "dispute_backlog"].mean()  # sampled each evening
    assert L == pytest.approx(lam * W, rel=0.05)
