"""``o2c-sim validate FILE [--mapping M] [--quarantine [PATH]]``: check a ledger and summarise it.

Prints the problems (exit 2) or a short summary of the invoice table: rows, customers, date range,
open items, paid items, late and disputed shares. With ``--quarantine`` bad rows are written to a side
CSV and the good rows are summarised (exit 0).
"""

from __future__ import annotations

import argparse

import pandas as pd

from ..importer import load_ledger


MAPPING_HELP = "column mapping YAML or a shipped name (e.g. ibm_ar)"


def add_history_args(p: argparse.ArgumentParser, help: str) -> None:
    """A ledger file as the positional HISTORY, and its column ``--mapping``."""
    p.add_argument("history", metavar="HISTORY", help=help)
    p.add_argument("--mapping", metavar="M", help=MAPPING_HELP)


def register(subparsers) -> None:
    p = subparsers.add_parser("validate", help="check a ledger (CSV/XLSX/Parquet) row by row and summarise it",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", help="ledger file: .csv, .xlsx or .parquet")
    p.add_argument("--mapping", metavar="M", help=f"{MAPPING_HELP}; not needed when the file uses the canonical column names")
    p.add_argument("--quarantine", metavar="PATH", nargs="?", const="",
                   help="write bad rows to PATH (default FILE's name + .quarantine.csv) and keep the good ones")
    p.set_defaults(func=run)


def summary_lines(table: pd.DataFrame) -> list[str]:
    """A few lines describing an invoice table (what a team lead checks first)."""
    n = len(table)
    lines = [f"{n:,} invoices, {table['customer_id'].nunique():,} customers"]
    if n == 0:
        return lines
    lines.append(f"invoice dates  {table['invoice_date'].min():%Y-%m-%d} .. {table['invoice_date'].max():%Y-%m-%d}")
    lines.append(f"amount         {table['amount'].sum():,.2f} in total")
    if "paid_date" in table:
        paid = table["paid_date"].notna()
        late = (table["paid_date"] > table["due_date"])[paid]
        lines.append(f"open items     {(~paid).sum():,} ({table.loc[~paid, 'amount'].sum():,.2f})")
        lines.append(f"paid           {paid.sum():,}, of which {late.mean():.1%} after the due date" if paid.any()
                     else "paid           0")
    if "disputed" in table:
        lines.append(f"disputed       {table['disputed'].mean():.1%}")
    if "channel" in table:
        counts = table["channel"].replace("", "(empty)").value_counts()
        lines.append("channels       " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return lines


def run(args: argparse.Namespace) -> int:
    quarantine = args.quarantine is not None
    table = load_ledger(args.file, args.mapping, on_error="quarantine" if quarantine else "fail",
                        quarantine_path=args.quarantine or None)
    print(f"{args.file}: OK" if not table.attrs.get("quarantined") else
          f"{args.file}: {table.attrs['quarantined']:,} bad row(s) written to {table.attrs['quarantine_path']}")
    for line in summary_lines(table):
        print("  " + line)
    return 0
