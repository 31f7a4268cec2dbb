"""Validation against queueing theory.

* The inbound-query desk (the model's own work pool, FIFO queue and Poisson arrivals) configured as
  M/M/c reproduces Erlang C — the probability of waiting and the mean wait. Erlang C is computed here
  from its formula, independently.

  The default suite checks six cells covering c ∈ {1, 5, 20} and ρ ∈ {0.5, 0.8, 0.9}, each run just
  long enough for the check to be informative: the tolerance is 4 batch-means standard errors of the
  run itself, and the run must reach a relative standard error of at most 3 % on the mean wait and
  2 % on P(wait) (in practice 2-2.5 %, a tolerance of 8-10 %; 0.2-1.6 % on P(wait)). Cells where a
  relative check is expensive are left to the slow test: with waits as rare as at c = 20, ρ = 0.5
  (P(wait) = 0.0037) a 2 % standard error needs about 7 M customers for P(wait) and 20 M for the mean
  wait. The slow test runs all nine cells, 14 M customers, with a fixed 5 % tolerance (``make test-all``).
* Little's law L = λW holds for the simulated dispute backlog within 5 %.
"""

import math

import numpy as np
import pytest

from o2c_sim.sim.model import Simulation
from o2c_sim.sim.queueing import simulate_mmc
from conftest import small_scenario

SERVICE_MINUTES = 6.0
MU_PER_HOUR = 60.0 / SERVICE_MINUTES


def erlang_c_reference(c: int, a: float) -> float:
    """P(wait) in M/M/c with offered load a = λ/μ: the Erlang C formula (independent of o2c_sim)."""
    rho = a / c
    tail = a**c / math.factorial(c) / (1 - rho)
    return tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)


def theory(c: int, rho: float) -> tuple[float, float, float]:
    """(λ per hour, P(wait), mean wait in minutes) for M/M/c with 6-minute services at utilisation ρ."""
    lam = rho * c * MU_PER_HOUR
    p_wait = erlang_c_reference(c, lam / MU_PER_HOUR)
    return lam, p_wait, p_wait / (c * MU_PER_HOUR - lam) * 60.0


def batch_means(values: np.ndarray, batches: int = 20) -> tuple[float, float]:
    """Mean and its standard error by non-overlapping batch means (consecutive customers are correlated)."""
    n = len(values) // batches * batches
    means = values[:n].reshape(batches, -1).mean(axis=1)
    return float(values.mean()), float(means.std(ddof=1) / math.sqrt(batches))


# days of round-the-clock operation per cell, chosen from pilot runs so that the batch-means relative
# standard error of the mean wait is about 2-2.5 % (of P(wait) 0.2-1.6 %): 3.3 M customers in all
FAST_DAYS = {(1, 0.5): 600, (1, 0.8): 1100, (1, 0.9): 3500, (5, 0.5): 500, (5, 0.8): 500, (20, 0.8): 400}
Z = 4.0  # tolerance in standard errors: a false alarm has probability < 0.1 % per check
MAX_REL_SE = {"p_wait": 0.02, "mean_wait": 0.03}


@pytest.mark.parametrize("c, rho", sorted(FAST_DAYS))
def test_inbound_desk_matches_erlang_c(c, rho):
    lam, p_wait, mean_wait = theory(c, rho)
    sim = simulate_mmc(lam, SERVICE_MINUTES, c, days=FAST_DAYS[(c, rho)], seed=2026)
    waits = sim["waits"]
    for name, values, expected in (("p_wait", (waits > 1e-9).astype(float), p_wait), ("mean_wait", waits, mean_wait)):
        estimate, se = batch_means(values)
        assert se / expected <= MAX_REL_SE[name], f"{name}: run too short for an informative check"
        assert abs(estimate - expected) <= Z * se, f"{name}: {estimate:.5g} vs Erlang C {expected:.5g} (SE {se:.2g})"
    assert sim["utilisation"] == pytest.approx(rho, rel=0.03)


# the full grid: days chosen so that the standard error of the mean wait is about 2-3 %: 14 M customers
SLOW_DAYS = {(1, 0.5): 400, (1, 0.8): 1500, (1, 0.9): 6000, (5, 0.5): 1000, (5, 0.8): 500, (5, 0.9): 1200,
             (20, 0.5): 3000, (20, 0.8): 300, (20, 0.9): 400}


@pytest.mark.slow
@pytest.mark.parametrize("c, rho", sorted(SLOW_DAYS))
def test_inbound_desk_matches_erlang_c_on_the_full_grid(c, rho):
    lam, p_wait, mean_wait = theory(c, rho)
    sim = simulate_mmc(lam, SERVICE_MINUTES, c, days=SLOW_DAYS[(c, rho)], seed=2026)
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
