"""``o2c-sim run SCENARIO``: simulate replications, write the run directory, print the KPI table."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..errors import UserError
from ..results import ALL_KPI_UNITS


def register(sub) -> None:
    p = sub.add_parser("run", help="simulate a scenario and write a run directory",
                       description="Simulate SCENARIO (a YAML file or a shipped name such as 'baseline') and write "
                                   "scenario.yaml, invoices/events/daily parquet files and kpis.json to --out.")
    p.add_argument("scenario", help="scenario YAML file, or the name of one in scenarios/ (e.g. baseline)")
    add_override_args(p)
    p.add_argument("--replications", "-r", type=int, help="number of replications (default: the scenario's)")
    p.add_argument("--seed", type=int, help="seed (default: the scenario's)")
    p.add_argument("--out", "-o", type=Path, help="run directory to create (default: runs/NAME-TIMESTAMP)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--ledger", type=Path, help="warm start: begin from this ledger's open items (CSV, XLSX or Parquet)")
    p.add_argument("--mapping", help="column mapping for --ledger (YAML file or shipped name, e.g. ibm_ar)")
    p.add_argument("--as-of", dest="as_of", help="warm start: the date whose open items the run begins with (YYYY-MM-DD)")
    p.set_defaults(func=main)


def add_override_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", "-s", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario value by dotted path, e.g. team.collectors=8 (repeatable)")


def format_kpis(summary: dict) -> str:
    """A text table: KPI, unit, mean and 95 % CI."""
    lines = [f"{'KPI':<24}{'unit':>7}{'mean':>16}{'95% CI':>32}"]
    for key, unit in ALL_KPI_UNITS.items():
        if key not in summary["mean"]:
            continue
        m = summary["mean"][key]
        lo, hi = summary["ci95"][key]
        fmt = (lambda v: f"{v:,.0f}") if unit in ("money", "count") else (lambda v: f"{v:,.2f}")
        show = lambda v: "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt(v)  # noqa: E731
        lines.append(f"{key:<24}{unit:>7}{show(m):>16}{'[' + show(lo) + ', ' + show(hi) + ']':>32}")
    return "\n".join(lines)


def main(args) -> int:
    from ..experiments import run_replications
    from ..rundir import check_target, default_run_dir, write_run
    from ..scenario import load_scenario

    if args.replications is not None and args.replications < 1:
        raise UserError(f"--replications must be at least 1, got {args.replications}")
    scenario = load_scenario(args.scenario, args.overrides)
    opening = None
    if args.ledger or args.as_of:
        opening = _opening(args, scenario)
    out = args.out or default_run_dir(scenario.name)
    check_target(out)
    reps = run_replications(scenario, args.replications, seed=args.seed, progress=not args.quiet, opening=opening)
    if opening is not None:
        print(f"Warm start from {args.ledger}: {len(opening.items)} items open on {opening.as_of}, "
              f"{opening.total:,.2f} {scenario.currency}, {len(opening.customers)} customers")
    write_run(out, reps)
    n = len(reps.results)
    print(f"Scenario {scenario.name!r}: {n} replication{'s' * (n != 1)}, seed {args.seed if args.seed is not None else scenario.seed}, "
          f"{scenario.horizon_days} days after {scenario.warmup_days} days of warm-up")
    print(format_kpis(reps.summary()))
    print(f"Run directory: {out}")
    return 0


def _opening(args, scenario):
    import pandas as pd

    from ..importer import load_ledger
    from ..warmstart import opening_book

    if not (args.ledger and args.as_of):
        raise UserError("a warm start needs both --ledger FILE and --as-of DATE")
    try:
        as_of = pd.Timestamp(args.as_of)
    except ValueError:
        raise UserError(f"--as-of {args.as_of!r} is not a date; expected YYYY-MM-DD") from None
    return opening_book(load_ledger(args.ledger, args.mapping), as_of, scenario)
