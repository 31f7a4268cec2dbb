"""o2c-sim recommend SCENARIO --target dso<=45 --confidence 0.9 --range team.collectors=2..20.

Sweeps the headcount over the range (same replications and random numbers for every headcount) and
prints the smallest headcount whose KPI meets the target with the given confidence, and an ROI table
per headcount: FTE cost against the cost of capital on AR released plus bad debt avoided, both
relative to the smallest headcount of the range.

"Meets with confidence p" (--criterion):
  mean_bound  the one-sided Student-t bound at level p on the mean KPI over replications is on the
              right side of the target (upper bound for <=, lower bound for >=). Default.
  share       at least a share p of the replications meet the target on their own.

When the scenario gives parameters distributions, each replication draws its own set (the same for
every headcount): P(meet) is then the probability that a year meets the target under parameter and
stochastic uncertainty, the variance split says how much of the spread comes from each, and every
uncertain parameter (or those of --flip-params) is tried at both ends of its plausible range to list
those that would change the recommendation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from o2c_sim.errors import UserError
from o2c_sim.cli.run import add_override_args
from o2c_sim.cli.sweep import default_workers, stops_as_sweep_failed


def register(sub) -> None:
    p = sub.add_parser("recommend", help="smallest headcount meeting a KPI target with confidence, and its ROI",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", help="scenario YAML file, or the name of one in scenarios/ (e.g. baseline)")
    p.add_argument("--target", "-t", required=True, metavar="KPI<=X|KPI>=X",
                   help="the KPI target, e.g. 'dso<=45' or 'coverage_pct>=80' (quote it in the shell)")
    p.add_argument("--confidence", "-c", type=float, default=0.9, help="confidence level in (0, 1) (default 0.9)")
    p.add_argument("--range", dest="range_", required=True, metavar="KEY=A..B",
                   help="the headcount and its range, e.g. team.collectors=2..20 (also a..b:step or 2,4,8)")
    p.add_argument("--criterion", choices=("mean_bound", "share"), default="mean_bound",
                   help="what 'with confidence' means (see above; default mean_bound)")
    add_override_args(p)
    p.add_argument("--replications", "-r", type=int, help="replications per headcount (default: the scenario's)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", "-w", type=int, help="local worker processes (default: the number of CPUs; 1 = in this process)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler")
    p.add_argument("--out", "-o", type=Path, help="sweep directory to keep (and resume) the runs in (optional)")
    flip = p.add_mutually_exclusive_group()
    flip.add_argument("--flip-params", metavar="P1,P2,...",
                      help="parameters to try at both ends of their range (path or path=low..high; default: the uncertain ones)")
    flip.add_argument("--no-flips", action="store_true", help="do not search for parameters that change the answer")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args) -> int:
    from o2c_sim.scenario import check_flag, load_scenario
    from o2c_sim.experiments.sensitivity import factors, parse_params
    from o2c_sim.experiments.staffing import flips, format_roi, parse_range, parse_target, recommend
    from o2c_sim.experiments.grid import cell_scenarios

    target = parse_target(args.target)
    if not 0 < args.confidence < 1:
        raise UserError(f"--confidence must be strictly between 0 and 1 (e.g. 0.9), got {args.confidence:g}")
    key, values = parse_range(args.range_)
    if args.replications is not None:
        check_flag("--replications", args.replications, 1, "replications")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    scenario = load_scenario(args.scenario, args.overrides)
    cell_scenarios(scenario, [{key: v} for v in values])  # fail fast on a bad headcount
    flip_params = None if args.no_flips else (parse_params(args.flip_params) if args.flip_params else
                                              (list(scenario.uncertain) or None))
    if flip_params:
        factors(scenario, flip_params)  # fail fast on a bad parameter
    n = args.replications or scenario.replications
    workers = args.workers if args.workers is not None else default_workers(len(values) * n)
    print(f"Recommend {key} for {target} with {args.confidence:.0%} confidence ({args.criterion}): "
          f"{len(values)} headcounts × {n} replications of {scenario.name!r}", flush=True)
    if scenario.uncertain:
        print(f"{len(scenario.uncertain)} uncertain parameter(s) drawn per replication; the same runs with them at their "
              "means follow, to split the variance", flush=True)
    with stops_as_sweep_failed("the sweep", args.out):
        rec = recommend(scenario, target, args.confidence, key, values, n, criterion=args.criterion,
                        workers=1 if args.scheduler else workers, scheduler=args.scheduler, out=args.out,
                        progress=not args.quiet)
        if flip_params:
            print(f"Trying {len(flip_params)} parameter(s) at both ends of their plausible range: {2 * len(flip_params)} more "
                  f"sweeps of {len(values) * n} runs (choose fewer with --flip-params, or --no-flips) …", flush=True)
            flips(rec, flip_params, workers=1 if args.scheduler else workers, scheduler=args.scheduler,
                  out=args.out, progress=not args.quiet)
    print()
    print(rec.text())
    print()
    print(format_roi(rec.table, target, scenario.currency))
    if rec.sweep.variance is not None:
        from o2c_sim.uncertainty import format_sweep_split

        print()
        print(format_sweep_split(rec.sweep.variance, [key], [target.kpi, "ar_average", "write_offs"]))
    if rec.flips is not None:
        print()
        print(rec.flip_text())
    return 0
