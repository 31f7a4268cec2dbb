"""``o2c-sim export RUN_DIR --xes FILE | --ocel FILE [--replication N]``: a run's activity log for
process-mining tools.

Writes one replication of the run's ``activities.parquet`` as XES (IEEE 1849: one trace per invoice,
one per customer for account-level actions) and/or OCEL 2.0 JSON (invoices and customers as objects),
so the simulated process can be opened next to the real one. Files are written atomically and never
overwrite an existing file. ``o2c-sim validate --activities FILE.xes --activity-mapping xes_activities``
reads the XES back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from o2c_sim.errors import UserError


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="write a run's activity log as XES or OCEL 2.0 for process mining",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a run directory made by 'o2c-sim run'")
    p.add_argument("--xes", metavar="FILE", type=Path, help="XES file to write (.xes)")
    p.add_argument("--ocel", metavar="FILE", type=Path, help="OCEL 2.0 JSON file to write (.json / .jsonocel)")
    p.add_argument("--replication", "-r", type=int, default=0, help="which replication to export (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from o2c_sim.data.process_export import run_activities, write_ocel, write_xes

    if not args.xes and not args.ocel:
        raise UserError("give --xes FILE and/or --ocel FILE (see 'o2c-sim export --help')")
    if args.xes and args.ocel and args.xes.resolve() == args.ocel.resolve():
        raise UserError("--xes and --ocel name the same file; give two file names", source=str(args.xes))
    for flag, target in (("--xes", args.xes), ("--ocel", args.ocel)):
        if target is not None and target.exists():
            raise UserError(f"already exists; {flag} never overwrites a file — choose another name or remove it",
                            source=str(target))
    acts = run_activities(args.run_dir, args.replication)
    if args.xes:
        write_xes(acts, args.xes, name=f"{args.run_dir.name} replication {args.replication}")
        print(f"wrote {args.xes} ({len(acts):,} events, XES)")
    if args.ocel:
        write_ocel(acts, args.ocel)
        print(f"wrote {args.ocel} ({len(acts):,} events, OCEL 2.0 JSON)")
    return 0
