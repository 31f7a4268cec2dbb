"""A 1,000,000-invoice portfolio-year: wall time and peak memory of one replication.

    .venv/bin/python benchmarks/bench_million.py [--invoices 1000000] [--scenario enterprise] [--set KEY=VALUE ...]

Scales the ``enterprise`` scenario through overrides so that a year (``horizon_days=365``) bills about
``--invoices`` invoices: the number of accounts is ``invoices ÷ (12 × Σ segment share × invoices per
account per month)``, and the team (collectors, dispute analysts, cash-application clerks) grows in the
same proportion so that staffing ratios — and so the work per invoice — stay those of the enterprise
scenario. The warm-up stays the scenario's (180 days), so about 1.5 million invoices are simulated.

Prints wall time (target ≤ 60 s; also the process's CPU time, which a busy shared machine inflates
less), the time and peak memory after each phase of ``Simulation.run()`` (set-up, the simulated
days, building the result tables) and peak resident memory of this process from
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (target ≤ 2 GB). Peak RSS includes the interpreter and
imported libraries (printed separately as the RSS before the run); tracemalloc is not used because it
slows allocation-heavy code several-fold and misses memory numpy allocates outside Python's allocator.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

from o2c_sim.sim.model import Simulation, simulate
from o2c_sim.sim.results import SimResult
from o2c_sim.scenario import load_scenario


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--invoices", type=int, default=1_000_000, help="invoices billed in the measurement year")
    ap.add_argument("--scenario", default="enterprise")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="applied to the scenario before scaling (e.g. queries.enabled=false)")
    args = ap.parse_args()

    base = load_scenario(args.scenario, args.overrides or None)
    per_account_year = 12 * sum(s.share * s.invoices_per_month for s in base.portfolio.segments)
    accounts = round(args.invoices / per_account_year)
    scale = accounts / base.portfolio.accounts
    team = base.team
    overrides = {
        "portfolio.accounts": accounts,
        "horizon_days": 365,
        "team.collectors": max(1, round(team.collectors * scale)),
        "team.dispute_analysts": max(1, round(team.dispute_analysts * scale)),
        "team.cash_app_clerks": max(1, round(team.cash_app_clerks * scale)),
        # one pool: with teams on, the head count is the desks' and would not follow team.collectors
        "teams.enabled": False,
    }
    scenario = base.with_overrides(overrides)
    print(f"python {platform.python_version()}, {platform.machine()}")
    print("overrides: " + ", ".join(f"{k}={v}" for k, v in overrides.items()) +
          f" (scale ×{scale:.2f} of {base.name!r}; warm-up {scenario.warmup_days} days)")
    before = rss_mib()
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    phases = {}
    try:  # the phases of Simulation.run(), to see what dominates time and memory
        sim = Simulation(scenario, 0)
        phases["set-up"] = (time.perf_counter() - t0, rss_mib())
        sim.env.run(until=sim.days)
        sim.ledger.check()
        phases["simulated days"] = (time.perf_counter() - t0, rss_mib())
        result = SimResult.from_record(sim.record())
        phases["result tables"] = (time.perf_counter() - t0, rss_mib())
        del sim
    except AttributeError:  # the engine's internals changed: time the public call only
        phases.clear()
        result = simulate(scenario, 0)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = rss_mib()
    year = int(result.kpis["invoices"])
    print(f"invoices: {year:,} billed in the measurement year, {len(result.invoices):,} simulated in all; "
          f"{len(result.events):,} logged events")
    print(f"wall time: {wall:.1f} s (target ≤ 60 s: {'met' if wall <= 60 else f'MISSED by {wall - 60:.1f} s, ×{wall / 60:.2f}'}); "
          f"CPU time of this process {cpu:.1f} s; load average at start {load:.2f} on {os.cpu_count()} CPUs")
    last = 0.0
    for name, (t, rss) in phases.items():
        print(f"  {name:<15} {t - last:6.1f} s   peak RSS so far {rss:,.0f} MiB")
        last = t
    print(f"peak RSS: {peak:,.0f} MiB = {peak / 1024:.2f} GiB (RSS before the run {before:,.0f} MiB; "
          f"target ≤ 2 GB = 1,907 MiB: {'met' if peak * 2**20 <= 2e9 else 'MISSED'})")
    print(f"KPIs: DSO {result.kpis['dso']:.1f}, CEI {result.kpis['cei']:.1f}, "
          f"collector utilisation {result.kpis['collector_utilisation']:.1f} %")


if __name__ == "__main__":
    main()
