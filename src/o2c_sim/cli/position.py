"""``o2c-sim position LEDGER --period A..B [--target "dso<=45"] --out DIR``: the debt-position roll-forward.

Explains the movement from the opening ledger to the closing debt position over a period: opening AR,
+ new billing, − collected, − credited, − written off, − moved to the agency, = closing AR (to the
cent), the closing AR by age bucket and, with ``--target``, whether the team's target was met and by
how much it was missed. LEDGER is a ledger file (with ``--mapping``) or a run directory written by
``o2c-sim run`` (``--replication`` picks one). Writes position.csv, position_aging.csv and
position.json into DIR. See :mod:`o2c_sim.forecast.debt_position`.
"""

from __future__ import annotations

import argparse

import pandas as pd

from o2c_sim.forecast.debt_position import BUCKETS, Target, lines_table, load_movements, roll_forward
from o2c_sim.errors import UserError
from o2c_sim.data.rundir import atomic_dir, check_target, write_json
from o2c_sim.cli.validate import MAPPING_HELP


def register(subparsers) -> None:
    p = subparsers.add_parser("position", help="debt-position roll-forward over a period: opening AR to closing AR, aged, against a target",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ledger", metavar="LEDGER", help="ledger file (.csv/.xlsx/.parquet) or a run directory")
    p.add_argument("--mapping", metavar="M", help=MAPPING_HELP)
    p.add_argument("--period", required=True, metavar="START..END", help="calendar dates, both included, e.g. 2026-01-01..2026-03-31")
    p.add_argument("--target", metavar="T", help='e.g. "dso<=45" or "pct_over_90<5"')
    p.add_argument("--replication", type=int, default=0, help="replication of a run directory (default 0)")
    p.add_argument("--currency", metavar="CODE", help="the currency to roll forward, when the ledger or run has several")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write (must not exist)")
    p.set_defaults(func=run)


def _period(text: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start, sep, end = text.partition("..")
    try:
        if not sep:
            raise ValueError
        return pd.Timestamp(start), pd.Timestamp(end)
    except ValueError:
        raise UserError(f"--period {text!r}: expected START..END with dates YYYY-MM-DD, e.g. 2026-01-01..2026-03-31") from None


def run(args) -> int:
    start, end = _period(args.period)
    target = Target.parse(args.target) if args.target is not None else None
    check_target(args.out)
    movements, complete_through = load_movements(args.ledger, args.mapping, args.replication, args.currency)
    if end > complete_through:
        raise UserError(f"--period ends {end.date()} but the data is complete only through {complete_through.date()}")
    position = roll_forward(movements, start, end, target)
    table = lines_table(position)
    aging = pd.DataFrame({"bucket": list(BUCKETS), "amount": [position["aging_cents"][b] / 100.0 for b in BUCKETS]})
    with atomic_dir(args.out) as tmp:
        table.to_csv(tmp / "position.csv", index=False)
        aging.to_csv(tmp / "position_aging.csv", index=False)
        write_json(tmp / "position.json", position)
    print(f"Debt position {position['start']}..{position['end']} ({args.ledger})" + (f" in {args.currency}" if args.currency else ""))
    for line, amount in table.itertuples(index=False):
        print(f"  {line:<26}{amount:>16,.2f}")
    print("closing AR by days past due: " + ", ".join(f"{b} {position['aging_cents'][b] / 100:,.2f}" for b in BUCKETS))
    m = position["metrics"]
    print(f"DSO {m['dso']:.1f} days, {m['pct_over_90']:.1f}% over 90")
    if target is not None:
        t = position["target"]
        print(f"target {t['target']}: {'met' if t['met'] else 'MISSED'} (actual {t['actual']:,.2f}, gap {t['gap']:+,.2f})")
    print(f"written to {args.out}")
    return 0
