"""Cost of the optional levers (fees, payment runs, credit holds, seasonality, refunds, currencies): CPU time of the same
scenario with each lever on, as a ratio to the run with all of them off, measured in one run.

    .venv/bin/python benchmarks/bench_levers.py [--accounts 1000] [--days 365]
"""

from __future__ import annotations

import argparse
import os
import time

from o2c_sim.sim.model import simulate
from o2c_sim.scenario import load_scenario

LEVERS = {
    "off": {},
    "fees": {"fees.enabled": True},
    "payment_runs": {"payment_runs.enabled": True},
    "credit_holds": {"credit_holds.enabled": True},
    "seasonality": {"seasonality.enabled": True, "seasonality.month_end_share": 0.4, "seasonality.growth_annual": 0.1},
    "refunds": {"refunds.enabled": True, "refunds.duplicate_payment_rate": 0.02, "refunds.apply_to_open_items": True},
    "currencies": {"currencies.enabled": True, "currencies.accounts": {"mid_market": {"EUR": 0.5, "USD": 0.5}},
                   "currencies.rates": {"USD": {"2020-01-01": 1.08, "2026-03-01": 1.12}}},
}
LEVERS["all"] = {k: v for d in LEVERS.values() for k, v in d.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--accounts", type=int, default=1000)
    p.add_argument("--days", type=int, default=365)
    args = p.parse_args()
    base = {"portfolio.accounts": args.accounts, "horizon_days": args.days, "warmup_days": 60}
    print(f"baseline, {args.accounts} accounts, {args.days} days + 60 warm-up; load average {os.getloadavg()[0]:.2f}")
    cpu = {}
    for name, overrides in LEVERS.items():
        scenario = load_scenario("baseline", {**base, **overrides})
        start = time.process_time()
        result = simulate(scenario)
        cpu[name] = time.process_time() - start
        print(f"  {name:<14} CPU {cpu[name]:6.2f} s  ratio {cpu[name] / cpu['off']:.2f}  invoices {result.kpis['invoices']:,}")


if __name__ == "__main__":
    main()
