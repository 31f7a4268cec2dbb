"""``o2c-sim validate FILE [--mapping M] [--quarantine [PATH]]``: check a ledger and summarise it.
``o2c-sim validate --activities LOG [--activity-mapping M]``: the same for an activity log.

Prints the problems (exit 2) or a short summary of the invoice table: rows, customers, date range,
open items, paid items, late and disputed shares, credit notes. With ``--quarantine`` bad rows are
written to a side CSV and the good rows are summarised (exit 0). Payments dated before their invoice
(prepayments) are accepted, counted as paid on the invoice date, and reported as a warning.

Every command that reads a ledger (validate, calibrate, forecast, gap, run --ledger) takes the same
``--mapping`` and ``--quarantine`` options (:func:`add_history_args`, :func:`read_history`).

An activity log (CSV/XLSX/Parquet, XES or OCEL 2.0) is summarised by cases, events per kind, date range,
customers, items with no ``issued`` row and items paid beyond their amount. Given with a ledger FILE,
money on an item of the ledger is not "on an unknown item".
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from o2c_sim.data import invoice_table
from o2c_sim.errors import UserError
from o2c_sim.data.importer import check_quarantine_target, default_quarantine_path, load_ledger


MAPPING_HELP = "column mapping YAML or a shipped name (e.g. ibm_ar)"
QUARANTINE_HELP = ("write bad rows to PATH (default: the ledger's name + .quarantine.csv; an existing file is "
                   "replaced only if it is an earlier quarantine file) and go on with the good ones")


def add_history_args(p: argparse.ArgumentParser, help: str) -> None:
    """A ledger file as the positional HISTORY, its column ``--mapping`` and ``--quarantine``."""
    p.add_argument("history", metavar="HISTORY", help=help)
    p.add_argument("--mapping", metavar="M", help=MAPPING_HELP)
    add_quarantine_arg(p)


def add_quarantine_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quarantine", metavar="PATH", nargs="?", const="", help=QUARANTINE_HELP)


def check_quarantine(args: argparse.Namespace, path) -> None:
    """Before any work: the quarantine file could be written and would not replace a foreign file."""
    if path and getattr(args, "quarantine", None) is not None:
        check_quarantine_target(args.quarantine or default_quarantine_path(path), path)


def read_history(args: argparse.Namespace, path=None, mapping=None, several_currencies: bool = False):
    """Load the ledger named on the command line, honouring ``--quarantine``; notes bad rows set aside
    and prepayments on stderr (the report on stdout stays the command's own). A ledger in several
    currencies is refused unless ``several_currencies`` (:func:`o2c_sim.data.importer.load_ledger`)."""
    path = args.history if path is None else path
    quarantine = getattr(args, "quarantine", None)
    table = load_ledger(path, args.mapping if mapping is None else mapping,
                        on_error="fail" if quarantine is None else "quarantine", quarantine_path=quarantine or None,
                        several_currencies=several_currencies)
    for line in ledger_notes(table):
        print(f"o2c-sim: {path}: {line}", file=sys.stderr)
    return table


def ledger_notes(table: pd.DataFrame) -> list[str]:
    """Warnings about a loaded ledger: rows quarantined, prepayments."""
    notes = []
    if table.attrs.get("quarantined"):
        notes.append(f"{table.attrs['quarantined']:,} bad row(s) set aside in {table.attrs['quarantine_path']}")
    if table.attrs.get("prepayments"):
        notes.append(f"warning: {table.attrs['prepayments']:,} payment(s) dated before their invoice date "
                     "(prepayments / on-account cash) are counted as paid on the invoice date")
    return notes


def register(subparsers) -> None:
    p = subparsers.add_parser("validate", help="check a ledger or an activity log row by row and summarise it",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", nargs="?", help="ledger file: .csv, .xlsx or .parquet")
    p.add_argument("--mapping", metavar="M", help=f"{MAPPING_HELP}; not needed when the file uses the canonical column names")
    add_quarantine_arg(p)
    p.add_argument("--activities", metavar="LOG", help="activity log: .csv, .xlsx, .parquet, .xes or OCEL 2.0 .jsonocel/.json")
    p.add_argument("--activity-mapping", metavar="M",
                   help="activity mapping YAML or a shipped name (e.g. sap_fscm_activities); default: the canonical "
                        "columns; for .xes / OCEL the layout 'o2c-sim export' writes (xes_activities, ocel_activities)")
    p.set_defaults(func=run)


def summary_lines(table: pd.DataFrame) -> list[str]:
    """A few lines describing an invoice table (what a team lead checks first)."""
    n = len(table)
    notes = int((table["amount"] < 0).sum()) if n else 0
    items = f"{n:,} invoices" if not notes else f"{n:,} rows ({n - notes:,} invoices, {notes:,} credit notes)"
    lines = [f"{items}, {table['customer_id'].nunique():,} customers"]
    if n == 0:
        return lines
    lines.append(f"invoice dates  {table['invoice_date'].min():%Y-%m-%d} .. {table['invoice_date'].max():%Y-%m-%d}")
    credit = table["amount"] < 0
    if credit.any():
        lines.append(f"amount         {table['amount'].sum():,.2f} net: invoices {table.loc[~credit, 'amount'].sum():,.2f}, "
                     f"{int(credit.sum()):,} credit note(s) {table.loc[credit, 'amount'].sum():,.2f}")
    else:
        lines.append(f"amount         {table['amount'].sum():,.2f} in total")
    if "paid_date" in table:
        paid = table["paid_date"].notna()
        late = (table["paid_date"] > table["due_date"])[paid & (table["amount"] > 0)]  # invoices, not credit notes
        lines.append(f"open items     {(~paid).sum():,} ({table.loc[~paid, 'amount'].sum():,.2f})")
        lines.append(f"paid           {paid.sum():,}, of which {late.mean():.1%} after the due date" if paid.any()
                     else "paid           0")
    dso, ar, sales = invoice_table.ledger_dso(table)
    lines.append(f"DSO            {dso:,.1f} days on {table['invoice_date'].max():%Y-%m-%d} (net AR {ar:,.2f} ÷ "
                 f"net sales of the last 90 days {sales:,.2f} × 90)")
    if "disputed" in table:
        lines.append(f"disputed       {table['disputed'].mean():.1%}")
    if "channel" in table:
        counts = table["channel"].replace("", "(empty)").value_counts()
        lines.append("channels       " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return lines


def run(args: argparse.Namespace) -> int:
    if args.activities:
        return run_activities(args)
    if not args.file:
        raise UserError("give a ledger FILE, or an activity log with --activities LOG")
    quarantine = args.quarantine is not None
    table = load_ledger(args.file, args.mapping, on_error="quarantine" if quarantine else "fail",
                        quarantine_path=args.quarantine or None)
    print(f"{args.file}: OK" if not table.attrs.get("quarantined") else
          f"{args.file}: {table.attrs['quarantined']:,} bad row(s) written to {table.attrs['quarantine_path']}")
    for line in summary_lines(table):
        print("  " + line)
    for line in ledger_notes(table)[1 if table.attrs.get("quarantined") else 0:]:
        print("  " + line)
    return 0


def activity_summary_lines(summary: dict) -> list[str]:
    """A few lines describing an activity log (:func:`o2c_sim.data.activities.summarise`)."""
    reps = f" over {summary['replications']} replications" if summary["replications"] > 1 else ""
    lines = [f"{summary['events']:,} events, {summary['cases']:,} cases (items), {summary['customers']:,} customers{reps}"]
    if not summary["events"]:
        return lines
    lines.append(f"dates          {summary['first_date']:%Y-%m-%d} .. {summary['last_date']:%Y-%m-%d}")
    kinds = [f"{k} {n:,}" for k, n in summary["per_kind"].items() if n]
    lines.append("per kind       " + ", ".join(kinds))
    lines.append(f"account-level  {summary['account_level_events']:,} events not tied to one item")
    lines.append(f"no 'issued'    {summary['items_without_issued']:,} items have events but no issued row")
    over = summary["overpaid_items"]
    lines.append(f"overpaid       {over:,} items paid beyond the amount due"
                 + (f" ({summary['overpaid_amount']:,.2f} in total, e.g. {', '.join(summary['overpaid_examples'])})"
                    if over else ""))
    return lines


def run_activities(args: argparse.Namespace) -> int:
    """``validate --activities LOG``: check an activity log row by row (with a ledger FILE: its items are known)."""
    from o2c_sim.data.activities import load_activities, summarise

    quarantine = args.quarantine is not None
    known = None
    if args.file:
        ledger = load_ledger(args.file, args.mapping)
        known = set(ledger["invoice_id"])
        print(f"{args.file}: OK")
        for line in summary_lines(ledger):
            print("  " + line)
    acts = load_activities(args.activities, args.activity_mapping,
                           quarantine=(args.quarantine or True) if quarantine else None, known_items=known)
    print(f"{args.activities}: OK" if not acts.attrs.get("quarantined") else
          f"{args.activities}: {acts.attrs['quarantined']:,} bad {acts.attrs['row_label']}(s) written to "
          f"{acts.attrs['quarantine_path']}")
    if acts.attrs.get("ignored"):
        print(f"  {acts.attrs['ignored']:,} {acts.attrs['row_label']}(s) of ignored activities left out")
    for line in activity_summary_lines(summarise(acts)):
        print("  " + line)
    return 0
