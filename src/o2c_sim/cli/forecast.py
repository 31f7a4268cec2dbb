"""``o2c-sim forecast HISTORY --as-of DATE --out DIR``: a 13-week cash-receipts forecast, back-tested.

Every model is back-tested at rolling origins on the history known at the as-of date; a combination is
weighted by that record, intervals are calibrated on past errors and the model with the lowest WAPE at
horizons 1–4 is selected — at every origin from the errors known before it, so the score printed as
"selected (honest)" is that of the selection rule, not of the model that did best after the fact (the
per-model rows are each out of sample, but picking their minimum is not). Writes to DIR:
forecast.parquet (period_start, model, mean, lo80, hi80, lo95, hi95), forecast_items.parquet (expected
receipts per open invoice, for ``o2c-sim gap``), backtest.parquet, metrics.json and figures
(fan_chart.html, backtest_accuracy.html). Files are written to a temporary folder first and moved into
place only when all are complete.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
from pathlib import Path

from o2c_sim.errors import UserError
from o2c_sim.scenario import check_flag, load_scenario
from o2c_sim.forecast.pipeline import ForecastResult, forecast_with_backtest
from o2c_sim.forecast.registry import MODELS
from o2c_sim.data.rundir import check_target, publish_dir
from o2c_sim.cli.validate import add_history_args, check_quarantine, read_history


def register(subparsers) -> None:
    p = subparsers.add_parser("forecast", help="13-week cash-receipts forecast with back-test and model selection",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_history_args(p, "ledger file (.csv, .xlsx or .parquet) with paid history and open items")
    p.add_argument("--as-of", required=True, metavar="DATE", help="forecast date YYYY-MM-DD; only data known then is used")
    p.add_argument("--horizon", type=int, default=13, help="periods ahead (default 13)")
    p.add_argument("--freq", default="W", help="W = weeks Monday–Sunday (default), D = days")
    p.add_argument("--models", metavar="NAMES", help=f"comma-separated subset of: {', '.join(MODELS)}")
    p.add_argument("--scenario", metavar="S", help="scenario for the simulation model and what-if (default: calibrated from the history)")
    p.add_argument("--what-if", nargs="+", default=[], metavar="KEY=VALUE",
                   help="simulate the cash forecast again with these overrides (e.g. team.collectors=+2) next to the base case")
    p.add_argument("--replications", type=int, default=30, help="Monte Carlo replications of the simulation and what-if (default 30)")
    add_what_if_basis_args(p)
    add_payments_arg(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output directory to create (an existing one is never replaced)")
    p.set_defaults(func=run)


def add_payments_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--payments", metavar="FILE", type=Path,
                   help="payments table (.csv, .xlsx, .parquet: invoice_id, payment_date, amount), one row per payment: "
                        "receipts come from these dated records, partial payments each on its own date")


def read_payments(args, ledger, activities=None):
    """Dated payment records: ``--payments FILE`` through the importer, else the activity log's ``payment``
    rows with an amount, else None (receipts from the ledger's settlement dates)."""
    from o2c_sim.forecast.series import payments_from_activities
    from o2c_sim.data.importer import load_payments

    if getattr(args, "payments", None):
        return load_payments(args.payments, set(ledger["invoice_id"].astype(str)))
    return payments_from_activities(activities) if activities is not None else None


def add_what_if_basis_args(p: argparse.ArgumentParser) -> None:
    """``--activities LOG [--activity-mapping M]`` (and for ``forecast`` ``--set``): what a what-if rests on."""
    p.add_argument("--activities", metavar="LOG", type=Path,
                   help="the team's activity log (.csv, .xlsx, .parquet, .xes, OCEL): the scenario is calibrated from it "
                        "at the as-of date and the base case simulates the team as it was (docs/model.md §9.6)")
    p.add_argument("--activity-mapping", metavar="M", help="activity mapping YAML or a shipped name (with --activities)")
    if not any("--set" in a.option_strings for a in p._actions):
        p.add_argument("--set", "-s", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="base-case setting, e.g. team.collectors=5 (the team as it was; default: estimated from the log)")


def stated_collectors(overrides: list[str]) -> int | None:
    """The headcount a ``--set team.collectors=N`` states (the last one wins), else None."""
    value = None
    for o in overrides or ():
        key, _, v = str(o).partition("=")
        if key.strip() == "team.collectors":
            try:
                value = int(v)
            except ValueError:
                raise UserError(f"--set team.collectors needs a whole number of collectors, got {v!r}") from None
            if value < 0:
                raise UserError(f"--set team.collectors cannot be negative, got {value}")
    return value


def read_activities(args, ledger=None):
    """The activity log of ``--activities`` through the importer (bad rows stop with their row and field)."""
    if args.activity_mapping and not args.activities:
        raise UserError("--activity-mapping needs --activities LOG")
    if not args.activities:
        return None
    from o2c_sim.data.activities import load_activities

    known = set(ledger["invoice_id"].astype(str)) if ledger is not None and "invoice_id" in ledger else None
    return load_activities(args.activities, args.activity_mapping, known_items=known)


def check_out(out: Path) -> None:
    """Refuse, before any work, a DIR that exists (an earlier forecast is never replaced) or cannot be made."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "an earlier forecast" if (out / "metrics.json").exists() else "not a forecast directory"
        raise UserError(f"{out} exists ({what}) and is never overwritten; choose another --out")
    check_target(out)


def run(args) -> int:
    check_out(Path(args.out))
    check_flag("--replications", args.replications, 2, "replications")
    scenario = base = load_scenario(args.scenario) if args.scenario else None
    if args.overrides and not args.what_if:
        raise UserError("--set describes the what-if's base case: add --what-if KEY=VALUE (e.g. team.collectors=+2)")
    if args.what_if:  # a bad override, or an effort what-if payment history cannot answer, fails now
        from o2c_sim.forecast.simulation import WhatIfBasis, scenario_source

        if args.overrides and not (args.activities or scenario):
            raise UserError("--set applies to the what-if's base case: give --activities LOG or --scenario S with it")
        if args.activities or args.overrides:  # the base the log cannot identify, with the stated settings
            base = (scenario or load_scenario("baseline")).with_overrides(args.overrides)
        (base or load_scenario("baseline")).with_overrides(args.what_if)
        if not args.activities:
            WhatIfBasis(base, None, scenario_source(base)).check(args.what_if)
    check_quarantine(args, args.history)
    ledger = read_history(args)
    activities = read_activities(args, ledger)
    payments = read_payments(args, ledger, activities)
    if activities is not None and not args.what_if and payments is None:
        raise UserError("--activities gives the forecast its dated payments (rows of kind 'payment' with an amount) "
                        "or the what-if's base case: this log has no payment rows with amounts, and no --what-if "
                        "KEY=VALUE (e.g. team.collectors=+2) was given")
    names = [n.strip() for n in args.models.split(",") if n.strip()] if args.models else None
    result = forecast_with_backtest(ledger, args.as_of, args.horizon, args.freq, names, scenario, payments=payments)
    result.payments = "none: receipts on the ledger's settlement dates" if payments is None else f"{len(payments)} dated payment records"
    if args.what_if:
        from o2c_sim.forecast.series import History
        from o2c_sim.forecast.simulation import what_if, what_if_basis

        history = History(ledger, result.as_of, args.freq, payments=payments)
        basis = what_if_basis(history, base, activities=activities, collectors=stated_collectors(args.overrides))
        basis.check(args.what_if)  # an effort what-if from payment history alone is refused, with the reason
        result.what_if = what_if(history, args.horizon, args.what_if, replications=args.replications, basis=basis)
        result.what_if_basis = basis.describe()
    write(result, Path(args.out))
    print("\n".join(report_lines(result)))
    print(f"written to {args.out}")
    return 0


def metrics_dict(r: ForecastResult) -> dict:
    clean = lambda v: None if isinstance(v, float) and math.isnan(v) else v
    per_model = {}
    for row in r.summary.to_dict("records"):
        per_model.setdefault(row["model"], {})[row["band"]] = {k: clean(v) for k, v in row.items() if k not in ("model", "band")}
    return {"as_of": str(r.as_of.date()), "freq": r.freq, "horizon": r.horizon, "selected": r.selected,
            "honest": r.honest, "skipped": r.skipped, "payments": getattr(r, "payments", None), "models": per_model}


def write(r: ForecastResult, out: Path) -> None:
    """Write all outputs to a temporary sibling folder, then swap it in (an earlier DIR is kept until then).
    ``out`` has passed :func:`check_out`."""
    from o2c_sim.present.figures.forecast import backtest_accuracy, fan_chart

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        r.forecast.to_parquet(tmp / "forecast.parquet", index=False)
        r.backtest.to_parquet(tmp / "backtest.parquet", index=False)
        if r.items is not None:
            r.items.to_parquet(tmp / "forecast_items.parquet", index=False)
        if r.what_if is not None:
            r.what_if.to_parquet(tmp / "what_if.parquet", index=False)
            (tmp / "what_if_basis.txt").write_text("\n".join(getattr(r, "what_if_basis", [])) + "\n")
        (tmp / "metrics.json").write_text(json.dumps(metrics_dict(r), indent=2, default=str))
        fan_chart(r.history, r.forecast, r.selected).write_html(tmp / "fan_chart.html", include_plotlyjs="cdn")
        backtest_accuracy(r.summary, r.selected).write_html(tmp / "backtest_accuracy.html", include_plotlyjs="cdn")
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            publish_dir(tmp, out)
            shutil.rmtree(old)
        else:
            publish_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report_lines(r: ForecastResult) -> list[str]:
    from o2c_sim.forecast.honest import SELECTED

    s = r.summary.set_index(["model", "band"])
    band = s.xs("1-4", level="band")
    lines = [f"as of {r.as_of.date()}, {r.horizon} periods ({r.freq}); back-test: "
             f"{band['origins'].max()} origins at horizons 1-4",
             f"{'model':<24}{'WAPE 1-4':>9}{'95% CI':>16}{'MASE':>7}{'bias':>8}{'cov80':>7}{'cov95':>7}{'net13':>8}"]
    order = [m for m in band.index if m != SELECTED] + ([SELECTED] if SELECTED in band.index else [])
    for model in order:
        row = band.loc[model]
        label = "selected (honest)" if model == SELECTED else model
        mark = " <- chosen now" if model == r.selected else ""
        ci = f"[{row['wape_lo']:.3f}, {row['wape_hi']:.3f}]"
        lines.append(f"{label:<24}{row['wape']:>9.3f}{ci:>16}{row['mase']:>7.2f}{row['bias']:>+8.3f}{row['cov80']:>7.2f}"
                     f"{row['cov95']:>7.2f}{row['net13']:>8.3f}{mark}")
    vs = r.honest.get("versus_best_simple", {}).get("1-4")
    if vs:
        lines.append(f"honest WAPE 1-4 minus {vs['baseline']}: {vs['difference']:+.3f} (95% CI [{vs['lo95']:+.3f}, {vs['hi95']:+.3f}])")
    tr = r.honest.get("track_record")
    if tr:
        span = f"last quarter ({tr['periods']} weeks)" if r.freq == "W" else f"last {tr['periods']} periods"
        lines.append(f"track record, {span}, honest: WAPE 1-4 {tr['wape']:.3f}, bias {tr['bias']:+.3f}, "
                     f"80% coverage {tr['cov80']:.2f}")
    for name, reason in r.skipped.items():
        lines.append(f"skipped {name}: {reason}")
    f = r.forecast[r.forecast["model"] == r.selected]
    lines.append(f"expected receipts over the next {r.horizon} periods ({r.selected}): {f['mean'].sum():,.0f}")
    if r.what_if is not None:
        w = r.what_if
        lines.append(f"what-if (simulation, {len(w)} periods): base {w['base'].sum():,.0f}, what-if {w['what_if'].sum():,.0f}, "
                     f"difference {w['difference'].sum():+,.0f} (first period {w['difference'].iloc[0]:+,.0f}, "
                     f"95% CI [{w['diff_lo95'].iloc[0]:+,.0f}, {w['diff_hi95'].iloc[0]:+,.0f}])")
        lines += getattr(r, "what_if_basis", [])
    return lines
