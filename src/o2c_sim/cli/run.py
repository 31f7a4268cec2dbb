"""``o2c-sim run SCENARIO``: simulate replications, write the run directory, print the KPI table."""

from __future__ import annotations

import argparse
import math
import textwrap
from pathlib import Path

from o2c_sim.errors import UserError
from o2c_sim.kpis import CATALOGUE, GROUPS, INTERVAL_METHOD
from o2c_sim.cli.validate import add_quarantine_arg

#: width of the wrapped sentences above and below the table
WIDTH = 100


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
    p.add_argument("--json", action="store_true", help="print the KPIs as JSON (mean, ci95, units, every replication) "
                                                     "instead of the table")
    p.add_argument("--ledger", type=Path, help="warm start: begin from this ledger's open items (CSV, XLSX or Parquet)")
    p.add_argument("--mapping", help="column mapping for --ledger (YAML file or shipped name, e.g. ibm_ar)")
    p.add_argument("--as-of", dest="as_of", help="warm start: the date whose open items the run begins with (YYYY-MM-DD)")
    from o2c_sim.cli.forecast import add_what_if_basis_args

    add_what_if_basis_args(p)  # --activities: calibrate from the log up to --as-of, the team as it was
    add_quarantine_arg(p)
    p.set_defaults(func=main)


def add_override_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", "-s", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario value by dotted path, e.g. team.collectors=8 (repeatable)")


def headline(summary: dict, scenario) -> str:
    """One sentence a team lead reads first, e.g. "DSO averaged 41.6 days; 97 % of past-due accounts were
    called within 2 business days; 0.31 % of sales were written off; 96 % of disputes were resolved
    within their 10-business-day SLA." Undefined KPIs are left out."""
    mean = summary["mean"]
    ok = lambda key: key in mean and mean[key] is not None and math.isfinite(mean[key])  # noqa: E731
    fmt = lambda key: CATALOGUE[key].format(mean[key])  # noqa: E731
    parts = []
    if ok("dso"):
        best = f" (best possible {fmt('bpdso')})" if ok("bpdso") else ""
        parts.append(f"DSO averaged {fmt('dso')} days{best}")
    if ok("coverage_pct"):
        n = scenario.strategy.coverage_business_days
        parts.append(f"{mean['coverage_pct']:.0f} % of past-due accounts were called within {n} business day{'s' * (n != 1)}")
    if ok("bad_debt_ratio"):
        parts.append(f"{fmt('bad_debt_ratio')} % of sales were written off")
    if ok("dispute_sla_pct"):
        parts.append(f"{mean['dispute_sla_pct']:.0f} % of disputes were resolved within their "
                     f"{scenario.disputes.sla_business_days}-business-day SLA")
    if ok("cash_per_week"):
        parts.append(f"cash came in at {fmt('cash_per_week')} {scenario.currency} a week")
    return ("; ".join(parts) + ".") if parts else "No KPI could be measured (the measured period is too short)."


def format_kpis(summary: dict, currency: str) -> str:
    """The KPI table for people: one block per group (cash, aging, team, disputes), each row a KPI's
    label, unit (money in ``currency``), mean, 95 % CI and one-line meaning, from :data:`CATALOGUE`."""
    mean, ci = summary["mean"], summary["ci95"]
    rows = []  # (group, label, unit, mean, interval, meaning)
    for key, kpi in CATALOGUE.items():
        if key in mean:
            lo, hi = ci.get(key, [None, None])
            interval = "" if kpi.format(lo) == "n/a" else f"[{kpi.format(lo)}, {kpi.format(hi)}]"
            rows.append((kpi.group, kpi.label, kpi.unit_in(currency), kpi.format(mean[key]), interval, kpi.meaning))
    if not rows:
        return ""
    w = [max(len(r[i]) for r in rows) for i in range(6)]
    w[3], w[4] = max(w[3], 4), max(w[4], 7)
    lines = [f"  {'':<{w[1]}}  {'unit':<{w[2]}}  {'mean':>{w[3]}}  {'95 % CI':<{w[4]}}  meaning"]
    for group, heading in GROUPS.items():
        block = [r for r in rows if r[0] == group]
        if block:
            lines.append(heading)
            lines += [f"  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]:>{w[3]}}  {r[4]:<{w[4]}}  {r[5]}" for r in block]
    return "\n".join(lines)


def explain_run(scenario, replications: int, seed: int, warm_start: bool) -> str:
    """The words under the table: what a replication, the seed, the warm-up and the interval mean."""
    warm = ("the run starts from the ledger's open items, so there is no warm-up" if warm_start else
            f"the first {scenario.warmup_days} simulated days are a warm-up, not measured, so the measured period "
            f"starts with a settled portfolio" if scenario.warmup_days else "no warm-up: measuring starts on day 1")
    return (f"How to read this: each of the {replications} replication{'s' * (replications != 1)} is one simulated "
            f"{scenario.horizon_days}-day period; seed {seed} makes them repeatable (same seed, same numbers); {warm}.\n"
            f"{INTERVAL_METHOD}; a wide interval means: run more replications (-r).")


def main(args) -> int:
    from o2c_sim.experiments.replications import run_replications
    from o2c_sim.data.rundir import check_target, default_run_dir, json_text, write_run
    from o2c_sim.scenario import load_scenario

    if args.replications is not None and args.replications < 1:
        raise UserError(f"--replications must be at least 1, got {args.replications}")

    scenario = load_scenario(args.scenario, args.overrides)
    if args.replications is not None:  # the schema's cap and message
        scenario = scenario.with_overrides({"replications": args.replications})
    opening, basis = None, None
    if args.activities and not (args.ledger and args.as_of):
        raise UserError("--activities calibrates a warm start: give --ledger FILE and --as-of DATE with it")
    if args.ledger or args.as_of:
        opening, scenario, basis = _opening(args, scenario)
    out = args.out or default_run_dir(scenario.name)
    check_target(out)
    reps = run_replications(scenario, args.replications, seed=args.seed, progress=not (args.quiet or args.json), opening=opening)
    write_run(out, reps)
    summary = reps.summary()
    ran = reps.scenario  # as simulated: a warm start has no warm-up
    seed = args.seed if args.seed is not None else scenario.seed
    if args.json:
        print(json_text({"scenario": scenario.name, "currency": scenario.currency, "run_directory": str(out),
                                 "seed": seed, "horizon_days": ran.horizon_days, "warmup_days": ran.warmup_days,
                                 "units": {k: CATALOGUE[k].unit for k in summary["mean"]}, **summary}))
        return 0
    n = len(reps.results)
    if opening is not None:
        print(f"Warm start from {args.ledger}: {len(opening.items)} items open on {opening.as_of}, "
              f"{opening.total:,.2f} {scenario.currency}, {len(opening.customers)} customers")
        if opening.credits_applied or opening.credit_balance is not None and len(opening.credit_balance):
            left = 0.0 if opening.credit_balance is None else float(opening.credit_balance.sum())
            print(f"  open credits: {opening.credits_applied:,.2f} applied to the same customers' invoices, "
                  f"{left:,.2f} left as credit balances (net AR carried in {opening.net_open:,.2f})")
        print("\n".join(basis) + "\n")
    print(textwrap.fill(f"{scenario.name}: {headline(summary, ran)}", WIDTH) + "\n")
    print(format_kpis(summary, scenario.currency) + "\n")
    if scenario.uncertain and opening is None:
        from o2c_sim.experiments.replications import replications_split
        from o2c_sim.uncertainty import format_split

        print(f"{len(scenario.uncertain)} parameter(s) drawn per replication; the intervals include their uncertainty.")
        print(format_split(replications_split(reps, seed=args.seed)) + "\n")
    print("\n".join(textwrap.fill(p, WIDTH) for p in explain_run(ran, n, seed, opening is not None).split("\n")))
    print(f"Run directory: {out} (every replication in kpis.json; --json prints this table for programs)")
    return 0


def _opening(args, scenario):
    """(opening book, scenario to run, lines saying what it rests on) of a warm start; with ``--activities``
    the scenario is calibrated from the log up to ``--as-of`` (``SCENARIO`` is the base for what the log
    cannot identify) and the other ``--set`` overrides change the effort on top of it."""
    import pandas as pd

    from o2c_sim.forecast.series import History
    from o2c_sim.forecast.simulation import WhatIfBasis, scenario_source, what_if_basis
    from o2c_sim.scenario import load_scenario
    from o2c_sim.data.invoice_table import one_currency
    from o2c_sim.calibration.warmstart import opening_book
    from o2c_sim.cli.forecast import read_activities, stated_collectors
    from o2c_sim.cli.validate import check_quarantine, read_history

    if not (args.ledger and args.as_of):
        raise UserError("a warm start needs both --ledger FILE and --as-of DATE")
    try:
        as_of = pd.Timestamp(args.as_of)
    except ValueError:
        raise UserError(f"--as-of {args.as_of!r} is not a date; expected YYYY-MM-DD") from None
    check_quarantine(args, args.ledger)
    ledger = read_history(args, args.ledger, several_currencies=True)  # each customer is simulated in its own currency
    log = read_activities(args, ledger)
    if log is None:
        basis = WhatIfBasis(scenario, ledger, scenario_source(scenario), headcount="the scenario's")
        return opening_book(ledger, as_of, scenario), scenario, basis.describe()
    one_currency(ledger, None, what="calibrating from the activity log", source=str(args.ledger),
                 choose="warm-start from a ledger in one currency, or without --activities")
    effort = [o for o in args.overrides if not o.startswith("team.collectors=")]
    basis = what_if_basis(History(ledger, as_of, "D"), load_scenario(args.scenario), activities=log,
                          collectors=stated_collectors(args.overrides))
    run = basis.scenario.with_overrides(effort + ([f"replications={args.replications}"] if args.replications else []))
    lines = basis.describe() + ([f"the run changes the effort: {', '.join(effort)}"] if effort else [])
    return opening_book(basis.table, as_of, run), run, lines
