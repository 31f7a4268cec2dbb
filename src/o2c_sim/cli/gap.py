"""``o2c-sim gap HISTORY --forecast DIR --period START..END``: a stored forecast against what happened.

Reads the forecast written by ``o2c-sim forecast`` (its as-of date, selected model and expected receipts
per open invoice) and the ledger as it is now, and attributes the difference over the period, by account
and in total, to root causes (paid early, paid late, partial, disputed, broken promise, written off, new
items). Writes gap_by_invoice.csv, gap_by_account.csv and gap_waterfall.html into a new sub-folder
of the forecast DIR, ``gap_START_END`` (``-2``, ``-3`` … if that exists), atomically: nothing in DIR
is ever overwritten. The CSV files are safe to open in Excel (no text is read as a formula).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from o2c_sim.errors import UserError
from o2c_sim.forecast.gap import by_account, by_cause, gap_analysis, waterfall_steps
from o2c_sim.forecast.series import history_end, period_start, step
from o2c_sim.data.excel import write_csv
from o2c_sim.data.rundir import atomic_dir, check_target, new_subdir
from o2c_sim.cli.forecast import add_payments_arg, read_payments
from o2c_sim.cli.validate import add_history_args, check_quarantine, read_history


def register(subparsers) -> None:
    p = subparsers.add_parser("gap", help="gap analysis: a stored forecast against actual receipts, by root cause",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_history_args(p, "ledger file with the receipts since the forecast")
    p.add_argument("--forecast", required=True, metavar="DIR", help="directory written by 'o2c-sim forecast'")
    p.add_argument("--period", required=True, metavar="START..END", help="dates of the periods to compare, e.g. 2013-12-02..2013-12-29")
    add_payments_arg(p)
    p.set_defaults(func=run)


def parse_period(text: str, freq: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``START..END`` → first day of START's period and last day of END's period."""
    start, sep, end = text.partition("..")
    try:
        if not sep:
            raise ValueError
        s, e = pd.Timestamp(start.strip()), pd.Timestamp(end.strip())
        if pd.isna(s) or pd.isna(e):
            raise ValueError
    except (ValueError, OverflowError):
        raise UserError(f"--period {text!r}: expected START..END with dates YYYY-MM-DD, e.g. 2013-12-02..2013-12-29") from None
    if e < s:
        raise UserError(f"--period {text!r} is reversed: END {e.date()} is before START {s.date()}; write START..END")
    return period_start(s, freq), period_start(e, freq) + step(freq) - pd.Timedelta(days=1)


def read_forecast(folder: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    need = [folder / n for n in ("metrics.json", "forecast.parquet", "forecast_items.parquet")]
    missing = [p.name for p in need if not p.exists()]
    if missing:
        raise UserError(f"not a forecast directory (missing {', '.join(missing)}); run 'o2c-sim forecast ... --out {folder}'",
                        source=str(folder))
    try:
        meta = json.loads(need[0].read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or not {"freq", "selected", "as_of"} <= set(meta):
            raise ValueError("missing keys")
        return meta, pd.read_parquet(need[1]), pd.read_parquet(need[2])
    except Exception as exc:  # a damaged or hand-edited forecast folder
        raise UserError(f"the forecast files cannot be read ({type(exc).__name__}); run 'o2c-sim forecast' again",
                        source=str(folder)) from None


def run(args) -> int:
    from o2c_sim.present.figures.forecast import gap_waterfall

    folder = Path(args.forecast)
    meta, fc, items = read_forecast(folder)
    start, end = parse_period(args.period, meta["freq"])
    target = new_subdir(folder, f"gap_{start.date()}_{end.date()}")
    check_target(target)  # writable before any work
    check_quarantine(args, args.history)
    ledger = read_history(args)
    known_through = history_end(ledger)
    if end > known_through:
        raise UserError(f"--period ends {end.date()} but the ledger is complete only through {known_through.date()}")
    stored = fc[(fc["model"] == meta["selected"]) & fc["period_start"].between(start, end)]
    if stored.empty:
        first, last = fc["period_start"].min(), fc["period_start"].max()
        raise UserError(f"--period {args.period} is outside the stored forecast's periods {first.date()}..{last.date()}")
    table = gap_analysis(ledger, items, meta["as_of"], start, end, read_payments(args, ledger))
    accounts = by_account(table)
    steps = waterfall_steps(table, float(stored["mean"].sum()))
    title = f"Forecast of {meta['as_of']} ({meta['selected']}) vs actual, {start.date()}..{end.date()}"
    with atomic_dir(target) as tmp:
        write_csv(tmp / "gap_by_invoice.csv", table, index=False)
        write_csv(tmp / "gap_by_account.csv", accounts)
        gap_waterfall(steps, title).write_html(tmp / "gap_waterfall.html", include_plotlyjs="cdn")
    print(title)
    for label, value, kind in steps.itertuples(index=False):
        print(f"  {label:<34}{value:>+14,.0f}" if kind == "relative" else f"  {label:<34}{value:>14,.0f}")
    print("largest account gaps:")
    print(accounts.head(10).round(0).to_string())
    print(f"by cause: {', '.join(f'{c} {v:+,.0f}' for c, v in by_cause(table).items() if abs(v) >= 0.5)}")
    print(f"written to {target}")
    return 0
