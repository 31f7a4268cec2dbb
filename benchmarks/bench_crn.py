"""Common random numbers: how narrow are the paired CIs of a staffing sweep?

    .venv/bin/python benchmarks/bench_crn.py [--replications 8] [--set KEY=VALUE ...]

Runs a baseline staffing sweep (by default ``team.collectors`` = 1, 2, 3 on 600 accounts — the range
where collector capacity binds at that size —, 120 days after 60 days of warm-up, seed 9) and prints,
for ΔDSO, Δbad-debt ratio and Δcash collected of each headcount against the first one:

* the width of the *paired* 95 % CI (replication r of both cells shares its random numbers), and
* the width of the *unpaired* 95 % CI (Welch, the two cells treated as independent samples),

and their ratio paired ÷ unpaired, all measured in one run. The better the common random numbers
hold (every draw that does not depend on policy comes from a stream keyed by its item or person),
the smaller the ratio. Run it on two versions of the engine to compare them: the widths are in
the KPI's units, the ratio is unit-free.
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np
from scipy import stats

from o2c_sim.scenario import load_scenario
from o2c_sim.experiments.sweep import sweep

SMALL = ["portfolio.accounts=600", "horizon_days=120", "warmup_days=60", "seed=9"]
KPIS = {"dso": "ΔDSO (days)", "bad_debt_ratio": "Δbad debt (%)", "cash_collected": "Δcash collected"}


def welch_width(a: np.ndarray, b: np.ndarray) -> float:
    """Width of the Welch 95 % CI of mean(a) − mean(b) for independent samples."""
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return 0.0
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return 2 * float(stats.t.ppf(0.975, df)) * se


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", "-r", type=int, default=20)
    ap.add_argument("--headcounts", default="1,2,3", help="collectors to compare, the first is the reference")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    scenario = load_scenario("baseline", SMALL + args.overrides)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    heads = [int(h) for h in args.headcounts.split(",")]
    result = sweep(scenario, {"team.collectors": heads}, args.replications, progress=False)
    res = result.results.set_index(["team.collectors", "replication"])
    print(f"{'headcount':>9}  {'KPI':<20}{'Δ mean':>14}{'paired width':>16}{'unpaired width':>16}{'ratio':>8}")
    ratios = []
    for h in heads[1:]:
        for kpi, label in KPIS.items():
            a = res.loc[h][kpi].to_numpy(float)
            b = res.loc[heads[0]][kpi].to_numpy(float)
            d = a - b
            paired = 2 * float(stats.t.ppf(0.975, len(d) - 1)) * d.std(ddof=1) / math.sqrt(len(d))
            unpaired = welch_width(a, b)
            ratio = paired / unpaired if unpaired else float("nan")
            ratios.append(ratio)
            print(f"{h:>9}  {label:<20}{d.mean():>14,.4g}{paired:>16,.4g}{unpaired:>16,.4g}{ratio:>8.2f}")
    print(f"mean ratio paired ÷ unpaired width: {np.nanmean(ratios):.3f}  ({args.replications} replications)")


if __name__ == "__main__":
    main()
