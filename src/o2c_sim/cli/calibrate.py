"""``o2c-sim calibrate HISTORY [--mapping M] --out SCENARIO.yaml [--report DIR]``.

Fits payer behaviour (lateness segments with shrinkage, per-segment payment delays, dispute and channel
effects) from a paid history, writes a scenario that reproduces it, simulates that scenario and prints
how well the simulation matches the history (late rate, days late, KS statistic, dispute and channel
effects). ``--report DIR`` also writes fit.json with the Kaplan–Meier and Cox results and HTML figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from .validate import add_history_args, check_quarantine, read_history

DEFAULT_ACCOUNTS = 1000  # simulated accounts for the check (≈ 22k invoices a replication on the IBM sample)
DEFAULT_REPLICATIONS = 2


def register(subparsers) -> None:
    p = subparsers.add_parser("calibrate", help="fit a scenario from a paid history and check it by simulation",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_history_args(p, "invoice history: .csv, .xlsx or .parquet")
    p.add_argument("--out", "-o", metavar="SCENARIO.yaml", type=Path, required=True,
                   help="scenario file to write (must not exist yet)")
    p.add_argument("--report", metavar="DIR", type=Path, help="directory to create with fit.json and HTML figures")
    p.add_argument("--name", help="scenario name (default: the --out file name)")
    p.add_argument("--clusters", type=int, default=3, help="lateness clusters of customers (default 3)")
    p.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS,
                   help=f"accounts simulated for the check (default {DEFAULT_ACCOUNTS})")
    p.add_argument("--replications", "-r", type=int, default=DEFAULT_REPLICATIONS,
                   help=f"replications simulated for the check (default {DEFAULT_REPLICATIONS})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..calibration import calibrate, compare, comparison_table, simulated_history, write_report, write_scenario
    from ..rundir import check_target, check_writable

    from ..scenario import check_flag

    if args.clusters < 1:
        raise UserError(f"--clusters must be at least 1, got {args.clusters}")
    check_flag("--accounts", args.accounts, 1, "accounts")
    check_flag("--replications", args.replications, 1, "replications")
    if args.out.suffix.lower() not in (".yaml", ".yml"):
        raise UserError("expected a scenario file name ending in .yaml", source=str(args.out))
    if args.out.exists():
        raise UserError("already exists; a scenario is never overwritten — choose another --out or remove it",
                        source=str(args.out))
    check_writable(args.out)
    if args.report:
        check_target(args.report)
    check_quarantine(args, args.history)

    table = read_history(args)
    cal = calibrate(table, name=args.name or args.out.stem, clusters=args.clusters)
    write_scenario(args.out, cal.scenario)
    credit_notes = int((table["amount"] < 0).sum())
    print(f"fitted {len(cal.scenario.portfolio.segments)} segments from {len(cal.history):,} settled invoices "
          f"of {len(cal.customers):,} customers; wrote {args.out}"
          + (f" ({credit_notes:,} credit note(s) left out of the fit)" if credit_notes else ""))
    print(cal.segments[["customers", "invoices", "share", "dispute_rate", "late_rate"]]
          .to_string(float_format=lambda v: f"{v:.3f}"))

    simulated = simulated_history(cal.scenario, replications=args.replications, accounts=args.accounts)
    comparison = compare(cal.history, simulated)
    print(f"\nsimulation ({args.replications} replication(s) × {args.accounts:,} accounts, "
          f"{len(simulated):,} invoices) vs history:")
    print(comparison_table(comparison))
    if args.report:
        sim_info = {"replications": args.replications, "accounts": args.accounts, "invoices": len(simulated)}
        write_report(args.report, cal, comparison, simulated, simulation=sim_info)
        print(f"\nreport: {args.report}/fit.json and figures")
    return 0
