"""The inbound-query desk on its own, as an M/M/c queue: the same work pool, FIFO queue and Poisson
arrivals the model uses, with round-the-clock shifts, no absence and no shrinkage — so it can be
checked against queueing theory (Erlang C) and compared with other simulators (Ciw).
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from o2c_sim.sim.workforce import FifoQueue, WorkPool, poisson_arrivals


def simulate_mmc(arrivals_per_hour: float, service_minutes: float, servers: int, days: int = 200,
                 seed: int = 1, warmup_days: int = 5) -> dict:
    """Simulate an M/M/c desk for ``days`` days; returns waits (minutes) after warm-up and throughput.

    Returns ``{"waits": array, "p_wait": P(wait > 0), "mean_wait": minutes, "served": n, "utilisation": ρ̂}``.
    """
    env = simpy.Environment()
    rng = np.random.default_rng(seed)
    windows = [(float(d), float(d + 1)) for d in range(days)]
    queue = FifoQueue()
    presence = np.ones((days, servers), bool)
    pool = WorkPool(env, "desk", servers, windows, presence, np.zeros((days, servers)), 0.0, [queue])
    queue.pool = pool
    env.process(poisson_arrivals(env, rng, queue, windows, arrivals_per_hour * 24.0, service_minutes))
    env.run(until=days)
    waits = np.asarray(queue.waits) * 1440.0
    kept = np.asarray(queue.arrivals) >= warmup_days
    w = waits[kept]
    return {
        "waits": w,
        "p_wait": float((w > 1e-9).mean()),
        "mean_wait": float(w.mean()),
        "served": int(len(waits)),
        "utilisation": pool.utilisation(warmup_days),
    }


def erlang_c(servers: int, offered_load: float) -> float:
    """Erlang C: probability an arrival waits in M/M/c with ``offered_load`` a = λ/μ (< c).

        C(c, a) = [aᶜ/c! · c/(c−a)] / [Σ_{k<c} aᵏ/k! + aᶜ/c! · c/(c−a)]

    Mean wait W_q = C(c, a) / (c·μ − λ).
    """
    c, a = servers, offered_load
    if a >= c:
        return 1.0
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


__all__ = ["simulate_mmc", "erlang_c"]
