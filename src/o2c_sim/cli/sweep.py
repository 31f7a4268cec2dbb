"""o2c-sim sweep SCENARIO --grid key=v1,v2,... --out DIR: replications of every cell of a grid.

Each --grid names a dotted path and its values (a comma-separated list parsed like --set
values, or an integer range a..b[:step]); the cells are every combination. The first value of
each --grid forms the reference cell that paired differences compare against. Every cell's
scenario is validated before anything runs. Finished replications are written to DIR/parts as they
complete, so re-running the same command after an interruption computes only what is missing.
"""

from __future__ import annotations

import argparse
import os
from contextlib import contextmanager
from pathlib import Path

from o2c_sim.errors import UserError
from o2c_sim.cli.run import add_override_args

DEFAULT_KPIS = ("dso", "cei", "bad_debt_ratio", "coverage_pct", "collector_utilisation")


def register(sub) -> None:
    p = sub.add_parser("sweep", help="replications of every combination of a grid of overrides (Dask, resumable)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", help="scenario YAML file, or the name of one in scenarios/ (e.g. baseline)")
    p.add_argument("--grid", "-g", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a dotted path and its values, e.g. team.collectors=4,6,8 or team.collectors=4..8 "
                        "or strategy.prioritisation=oldest_first,largest_balance (repeatable)")
    add_override_args(p)
    p.add_argument("--replications", "-r", type=int, help="replications per cell (default: the scenario's)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", "-w", type=int,
                       help="local worker processes (default: the number of CPUs, at most the number of runs; "
                            "1 runs in this process without a cluster)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786) whose workers have o2c-sim installed")
    p.add_argument("--out", "-o", type=Path, required=True,
                   help="sweep directory: created if absent, resumed if it holds the same sweep")
    p.add_argument("--kpi", "-k", action="append", metavar="KPI",
                   help=f"KPI to show in the tables (repeatable; default: {', '.join(DEFAULT_KPIS)})")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def parse_grid(args_grid: list[str]) -> dict[str, list]:
    """``--grid`` arguments → a grid; a key given twice is an error."""
    from o2c_sim.experiments.grid import parse_grid_arg

    grid: dict[str, list] = {}
    for text in args_grid:
        key, values = parse_grid_arg(text)
        if key in grid:
            raise UserError(f"--grid {key} is given twice; put all its values in one --grid {key}=v1,v2,...")
        grid[key] = values
    return grid


def check_kpis(kpis: list[str] | None) -> list[str]:
    from o2c_sim.experiments.tables import METRIC_UNITS

    if not kpis:
        return list(DEFAULT_KPIS)
    unknown = [k for k in kpis if k not in METRIC_UNITS]
    if unknown:
        raise UserError(f"--kpi {unknown[0]!r} is not a KPI; expected one of {', '.join(METRIC_UNITS)}")
    return kpis


def default_workers(tasks: int) -> int:
    return max(1, min(os.cpu_count() or 1, tasks))


def main(args) -> int:
    from o2c_sim.scenario import check_flag, load_scenario
    from o2c_sim.experiments.sweep import sweep
    from o2c_sim.experiments.grid import cell_scenarios, grid_cells, normalise_grid
    from o2c_sim.experiments.tables import format_differences

    if args.replications is not None:
        check_flag("--replications", args.replications, 1, "replications")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    if not args.grid:
        raise UserError("give at least one --grid KEY=V1,V2,... (e.g. --grid team.collectors=4,6,8)")
    kpis = check_kpis(args.kpi)
    scenario = load_scenario(args.scenario, args.overrides)
    grid = normalise_grid(parse_grid(args.grid))
    cells = grid_cells(grid)
    cell_scenarios(scenario, cells)  # fail fast, naming the cell and the field, before any directory or cluster
    n = args.replications or scenario.replications
    workers = args.workers if args.workers is not None else default_workers(len(cells) * n)
    where = f"scheduler {args.scheduler}" if args.scheduler else (
        "this process" if workers == 1 else f"{workers} local worker processes")
    print(f"Sweep of {scenario.name!r}: {len(cells)} cell{'s' * (len(cells) != 1)} × {n} replication{'s' * (n != 1)} "
          f"on {where} → {args.out}", flush=True)
    if scenario.uncertain:
        print(f"{len(scenario.uncertain)} uncertain parameter(s), drawn per replication; the same runs with them at "
              "their means follow, to split the variance (parameters vs noise)", flush=True)
    with stops_as_sweep_failed("the sweep", args.out):
        result = sweep(scenario, grid, n, workers=1 if args.scheduler else workers, scheduler=args.scheduler,
                       out=args.out, progress=not args.quiet)
    if result.reused:
        print(f"Resumed: {result.reused} run(s) read from {args.out / 'parts'}, {result.computed} computed now")
    print()
    print(result.table(kpis))
    if len(cells) > 1:
        ref = ", ".join(f"{k}={v}" for k, v in cells[result.reference].items())
        print()
        print(f"Paired differences vs cell {result.reference} ({ref}), mean [95% CI] over common random numbers:")
        print(format_differences(result.differences, list(grid), kpis))
    if result.variance is not None:
        from o2c_sim.uncertainty import format_sweep_split

        print()
        print(format_sweep_split(result.variance, list(grid), kpis))
    print()
    print(f"Sweep directory: {args.out} (results.parquet, summary.parquet, differences.parquet)")
    return 0


class SweepFailed(UserError):
    """The sweep stopped for a reason outside the user's input (exit 1); finished work is kept."""

    exit_code = 1



@contextmanager
def stops_as_sweep_failed(what: str, out):
    """Turn an unexpected error of long work on the sweep engine (a worker died too often, the
    scheduler went away …) into :class:`SweepFailed`: "<what> stopped: <error>." and where the finished
    runs are (resumable) or how to keep them. A user error or Ctrl-C passes through."""
    try:
        yield
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as exc:
        kept = (f"Finished runs are kept in {out}; re-run the same command to compute only what is missing" if out
                else "Use --out DIR to keep finished runs for a resumable re-run")
        raise SweepFailed(f"{what} stopped: {type(exc).__name__}: {exc}. {kept}") from exc
