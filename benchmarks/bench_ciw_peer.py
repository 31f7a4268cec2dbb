"""The model's inbound-query desk as M/M/c against Ciw: same rates, mean waits with CIs, and throughput.

    .venv/bin/python benchmarks/bench_ciw_peer.py [--seeds 10]

Ciw (https://github.com/CiwPython/Ciw) is a peer discrete-event queueing library; it is a
benchmark-only dependency (``pip install -e '.[bench]'``). For each configuration (servers c,
utilisation ρ, 6-minute mean service) both simulators run the same Poisson arrival rate and
exponential service for the same simulated time, once per seed:

* o2c-sim: :func:`o2c_sim.sim.queueing.simulate_mmc` — the model's own WorkPool, FIFO queue and Poisson
  arrivals, round-the-clock shifts;
* Ciw: ``ciw.create_network`` with Exponential arrivals/services and c servers, time in minutes.

Waits of customers arriving after a 5-day warm-up are averaged per seed; the table gives the mean over
seeds with a Student-t 95 % CI for each simulator, the Welch 95 % CI of their difference (agreement:
it contains 0), and Erlang C's exact mean wait. Throughput is customers simulated per wall-clock
second (o2c-sim: the whole ``simulate_mmc`` call; Ciw: ``simulate_until_max_time``), summed over
seeds. Target: o2c-sim ≥ Ciw.
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import ciw
import numpy as np
from scipy import stats

from o2c_sim.kpis import mean_ci95
from o2c_sim.sim.queueing import erlang_c, simulate_mmc

SERVICE_MINUTES = 6.0
WARMUP_DAYS = 5
#: (servers, utilisation, simulated days per seed): about 90,000 customers per seed and simulator
CONFIGS = [(5, 0.8, 100), (2, 0.9, 200)]


def run_ciw(lam_per_hour: float, servers: int, days: int, seed: int) -> tuple[float, int, float]:
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam_per_hour / 60.0)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / SERVICE_MINUTES)],
        number_of_servers=[servers],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    t0 = time.perf_counter()
    sim.simulate_until_max_time(days * 1440.0)
    wall = time.perf_counter() - t0
    records = sim.get_all_records()
    waits = np.array([r.waiting_time for r in records if r.arrival_date >= WARMUP_DAYS * 1440.0])
    return float(waits.mean()), len(records), wall


def run_o2c(lam_per_hour: float, servers: int, days: int, seed: int) -> tuple[float, int, float]:
    t0 = time.perf_counter()
    out = simulate_mmc(lam_per_hour, SERVICE_MINUTES, servers, days=days, seed=seed, warmup_days=WARMUP_DAYS)
    wall = time.perf_counter() - t0
    return out["mean_wait"], out["served"], wall


def welch_ci(a: list[float], b: list[float]) -> tuple[float, float, float]:
    a, b = np.asarray(a), np.asarray(b)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    d = float(a.mean() - b.mean())
    return d, d - half, d + half


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    print(f"python {platform.python_version()}, ciw {ciw.__version__}, {platform.machine()}; "
          f"service {SERVICE_MINUTES:g} min, {args.seeds} seeds, warm-up {WARMUP_DAYS} days")
    totals = {"o2c-sim": [0, 0.0], "ciw": [0, 0.0]}
    for servers, rho, days in CONFIGS:
        lam = rho * servers * 60.0 / SERVICE_MINUTES
        a = lam * SERVICE_MINUTES / 60.0
        exact = erlang_c(servers, a) / (servers * 60.0 / SERVICE_MINUTES - lam) * 60.0
        waits = {"o2c-sim": [], "ciw": []}
        for seed in range(1, args.seeds + 1):
            for name, fn in (("o2c-sim", run_o2c), ("ciw", run_ciw)):
                w, n, wall = fn(lam, servers, days, seed)
                waits[name].append(w)
                totals[name][0] += n
                totals[name][1] += wall
        print(f"\nM/M/{servers}, ρ = {rho}, λ = {lam:g}/h, {days} days per seed; Erlang C mean wait {exact:.3f} min")
        for name in waits:
            m, lo, hi = mean_ci95(waits[name])
            inside = "contains" if lo <= exact <= hi else "misses"
            print(f"  {name:<8} mean wait {m:.3f} min  95% CI [{lo:.3f}, {hi:.3f}]  ({inside} Erlang C)")
        d, lo, hi = welch_ci(waits["o2c-sim"], waits["ciw"])
        print(f"  difference o2c-sim − ciw: {d:+.3f} min, 95% CI [{lo:+.3f}, {hi:+.3f}] → "
              f"{'agree' if lo <= 0 <= hi else 'DIFFER'}")
    print("\nthroughput (customers simulated per wall-clock second, all configurations and seeds):")
    rate = {name: n / wall for name, (n, wall) in totals.items()}
    for name, (n, wall) in totals.items():
        print(f"  {name:<8} {rate[name]:,.0f} customers/s ({n:,} customers in {wall:.1f} s)")
    ratio = rate["o2c-sim"] / rate["ciw"]
    print(f"o2c-sim ÷ ciw throughput: {ratio:.2f} (target ≥ 1: {'met' if ratio >= 1 else 'MISSED'})")


if __name__ == "__main__":
    main()
