"""``o2c-sim calibrate [HISTORY] [--mapping M] [--activities LOG [--activity-mapping M] [--base S]] --out S.yaml``.

From a paid invoice HISTORY alone: fits lateness segments with shrinkage and each segment's payment
hazard (baseline by days past due, disputed multiplier), writes a scenario with collection switched off
that reproduces the history, simulates it and prints how well it matches (late rate, days late, KS
statistic, dispute and channel effects).

With ``--activities LOG`` (the team's activity log; HISTORY is then optional and only adds segments and
invoices the log does not issue): also estimates what each collection action does to the payer's
hazard — notices by level, right-party contacts, promises — with 95 % intervals, separating whom the
team chose to chase from what chasing did (docs/model.md), and the process the team ran (cadence,
agency timing, contact rate, call and dispute outcomes). The scenario starts from ``--base`` (default
baseline) and carries every estimate's interval and source in its provenance; the check compares
observed and simulated payment curves by action history. ``--report DIR`` writes fit.json and figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from o2c_sim.errors import UserError
from o2c_sim.cli.validate import MAPPING_HELP, add_quarantine_arg, check_quarantine, read_history

DEFAULT_ACCOUNTS = 1000  # simulated accounts for the check (≈ 22k invoices a replication on the IBM sample)
DEFAULT_REPLICATIONS = 2


def register(subparsers) -> None:
    p = subparsers.add_parser("calibrate", help="fit a scenario from a paid history and/or an activity log, and check it",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("history", metavar="HISTORY", nargs="?",
                   help="invoice history: .csv, .xlsx or .parquet (optional with --activities)")
    p.add_argument("--mapping", metavar="M", help=MAPPING_HELP)
    add_quarantine_arg(p)
    p.add_argument("--activities", metavar="LOG", type=Path, help="activity log: .csv, .xlsx, .parquet, .xes or OCEL 2.0 (see --activity-mapping)")
    p.add_argument("--activity-mapping", metavar="M", help="activity mapping YAML or a shipped name (e.g. sap_fscm_activities); default: the canonical columns")
    p.add_argument("--base", metavar="SCENARIO", default="baseline",
                   help="scenario whose settings the log cannot identify are kept (with --activities; default baseline)")
    p.add_argument("--out", "-o", metavar="SCENARIO.yaml", type=Path, required=True,
                   help="scenario file to write (must not exist yet)")
    p.add_argument("--report", metavar="DIR", type=Path, help="directory to create with fit.json and HTML figures")
    p.add_argument("--name", help="scenario name (default: the --out file name)")
    p.add_argument("--clusters", type=int, default=3, help="lateness clusters of customers (default 3; HISTORY only)")
    p.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS,
                   help=f"accounts simulated for the check (default {DEFAULT_ACCOUNTS})")
    p.add_argument("--replications", "-r", type=int, default=DEFAULT_REPLICATIONS,
                   help=f"replications simulated for the check (default {DEFAULT_REPLICATIONS})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from o2c_sim.data.rundir import check_target, check_writable

    from o2c_sim.scenario import check_flag

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
    if args.history is None and args.activities is None:
        raise UserError("calibrate needs a HISTORY (invoice table) or --activities LOG (activity log), or both")
    if args.report:
        check_target(args.report)
    check_quarantine(args, args.history)
    return _from_activities(args) if args.activities else _from_history(args)


def _from_history(args: argparse.Namespace) -> int:
    from o2c_sim.calibration.scenario_fit import calibrate, compare, comparison_table, simulated_history, write_report, write_scenario

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


def _read_log(args: argparse.Namespace, invoices=None):
    """The activity log (CSV/XLSX/Parquet/XES/OCEL, with ``--activity-mapping``) through the activity-log
    importer; with a ledger, its invoices are the items money may be booked on. ``--quarantine`` here
    applies to the ledger only: a bad row in the log stops the calibration."""
    from o2c_sim.data.activities import load_activities

    known = set(invoices["invoice_id"].astype(str)) if invoices is not None else None
    return load_activities(args.activities, args.activity_mapping, known_items=known)


def _from_activities(args: argparse.Namespace) -> int:
    import pandas as pd

    from o2c_sim.calibration.scenario_fit import (calibrate_activities, estimates_table, payment_curves, write_activity_report,
                               write_scenario)
    from o2c_sim.sim.model import simulate
    from o2c_sim.scenario import load_scenario

    base = load_scenario(args.base)
    invoices = read_history(args) if args.history else None
    log = _read_log(args, invoices)
    cal = calibrate_activities(log, invoices, base=base, name=args.name or args.out.stem)
    write_scenario(args.out, cal.scenario)
    fit = cal.hazard.summary
    print(f"fitted the payer hazard from {fit['payments']:,} payments in {fit['item_days']:,} item-days at risk "
          f"({fit['items']:,} items, {fit['accounts']:,} accounts); wrote {args.out}")
    print(estimates_table(cal.provenance))
    for note in cal.notes:
        print(f"note: {note}")

    check = cal.scenario.with_overrides({"portfolio.accounts": args.accounts})
    sims = [simulate(check, replication=r) for r in range(args.replications)]
    sim_log = pd.concat([s.activities.assign(replication=s.replication) for s in sims], ignore_index=True)
    sim_inv = pd.concat([s.invoices.assign(replication=s.replication) for s in sims], ignore_index=True)
    observed, simulated = payment_curves(log, invoices), payment_curves(sim_log, sim_inv)
    print(f"\nshare paid by 30 days past due, observed vs simulated ({args.replications} × {args.accounts:,} accounts):")
    at30 = observed[observed["days_past_due"] == 30].set_index("group")["share_paid"].rename("observed").to_frame()
    at30["simulated"] = simulated[simulated["days_past_due"] == 30].set_index("group")["share_paid"]
    print(at30.to_string(float_format=lambda v: f"{v:.1%}"))
    if args.report:
        write_activity_report(args.report, cal, observed, simulated,
                              simulation={"replications": args.replications, "accounts": args.accounts})
        print(f"\nreport: {args.report}/fit.json and payment_curves.html")
    return 0
