"""o2c-sim sensitivity SCENARIO [--params P1,P2 | --all-uncertain] --kpi dso [--method morris|sobol]:
which assumptions move a KPI — or, with --decision key=A,B, the difference between two options.

Each parameter varies over its plausible range: the central 95 % of its distribution when the
scenario makes it uncertain, path=low..high when given so, else ±25 % around its value. Morris
screening (default) ranks the parameters by μ* (mean absolute elementary effect); Sobol gives
first-order and total indices for a few parameters. Every design point runs --replications
replications with common random numbers on the sweep engine (resumable with --out). Writes
indices.parquet, tornado.parquet and, per KPI, a tornado and a μ*–σ (or Sobol) figure as HTML.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from o2c_sim.errors import UserError
from o2c_sim.cli.run import add_override_args
from o2c_sim.cli.sweep import default_workers, stops_as_sweep_failed


def register(sub) -> None:
    p = sub.add_parser("sensitivity", help="global sensitivity (Morris, Sobol): which assumptions drive a KPI or a decision",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", help="scenario YAML file, or the name of one in scenarios/ (e.g. baseline)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--params", "-p", metavar="P1,P2,...",
                       help="dotted paths, each optionally with a range path=low..high (comma-separated)")
    which.add_argument("--all-uncertain", action="store_true",
                       help="every parameter the scenario gives a distribution (the default when --params is absent; "
                            "a scenario without distributions then tries the behaviour of its largest segment, ±25 %%)")
    p.add_argument("--kpi", "-k", action="append", metavar="KPI", help="KPI to analyse (repeatable; default dso)")
    p.add_argument("--method", "-m", choices=("morris", "sobol", "tornado"), default="morris",
                   help="morris (default), sobol, or tornado (one parameter at a time only: cheapest)")
    p.add_argument("--samples", "-n", type=int,
                   help="Morris trajectories (default 10) or Sobol base samples, a power of 2 (default 64)")
    p.add_argument("--decision", "-d", metavar="KEY=A,B",
                   help="analyse the difference between two options, e.g. team.collectors=6,8")
    p.add_argument("--budget", "-b", type=int, metavar="RUNS",
                   help="the most simulation runs allowed; a larger design is refused before anything runs")
    add_override_args(p)
    p.add_argument("--replications", "-r", type=int, default=2, help="replications per design point (default 2)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", "-w", type=int, help="local worker processes (default: the number of CPUs)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler")
    p.add_argument("--out", "-o", type=Path, help="directory for the runs (resumable), indices and figures")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args) -> int:
    from o2c_sim.scenario import load_scenario
    from o2c_sim.experiments.sensitivity import decision_label, default_drivers, design_size, factors, parse_decision, parse_params, sensitivity
    from o2c_sim.cli.sweep import check_kpis

    kpis = check_kpis(args.kpi) if args.kpi else ["dso"]
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    if args.budget is not None and args.budget < 1:
        raise UserError(f"--budget must be a number of runs of at least 1, got {args.budget}")
    scenario = load_scenario(args.scenario, args.overrides)
    if args.params:
        fs = factors(scenario, parse_params(args.params))
    else:  # --all-uncertain insists on distributions; without it, a plain scenario gets default drivers
        fs = factors(scenario, None if args.all_uncertain else default_drivers(scenario, extended=True))
    decision = parse_decision(args.decision) if args.decision else None
    if decision is not None:
        scenario.with_overrides(decision[0]), scenario.with_overrides(decision[1])  # fail fast on a bad option
    samples = args.samples if args.samples is not None else (10 if args.method == "morris" else 64)
    points = design_size(args.method, len(fs), samples) + 2 * len(fs) + 1
    runs = points * (2 if decision else 1) * args.replications
    workers = args.workers if args.workers is not None else default_workers(runs)
    what = f"Δ {decision_label(decision)} of {', '.join(kpis)}" if decision else ", ".join(kpis)
    print(f"Sensitivity of {what} in {scenario.name!r} ({args.method}): {len(fs)} parameters, {points} design points, "
          f"{runs:,} runs", flush=True)
    with stops_as_sweep_failed("the analysis", args.out):
        res = sensitivity(scenario, fs, kpis, args.method, samples, args.replications, decision=decision,
                          budget=args.budget, workers=1 if args.scheduler else workers, scheduler=args.scheduler,
                          out=args.out, progress=not args.quiet)
    print()
    print(res.text())
    if args.out:
        print(f"\nWritten to {args.out}: indices.parquet, tornado.parquet, tornado_KPI.html, {args.method}_KPI.html")
    return 0
