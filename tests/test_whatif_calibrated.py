"""What-ifs on a history with an activity log: the base case simulates the team as it was (effects, cadence
and headcount from the log) and a what-if changes only the effort; from payment history alone an effort
what-if is refused with its reason. The log is simulated from a known scenario, so the calibrated
what-if can be compared with the true scenario's (docs/model.md §9.6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from o2c_sim.cli import main
from o2c_sim.errors import UserError
from o2c_sim.forecast.series import History
from o2c_sim.forecast.simulation import receipts_by_period, what_if, what_if_basis
from o2c_sim.sim.model import simulate
from o2c_sim.scenario import load_scenario

SEGMENTS = ("key_accounts", "mid_market", "small_business")
#: the truth: baseline payers, two collectors on short days so that capacity binds and +2 collectors matter
TRUTH = {"portfolio.accounts": 150, "horizon_days": 300, "warmup_days": 60, "team.hours_per_day": 0.5,
         "team.collectors": 2, **{f"portfolio.segments.{s}.behaviour.silent_share": 0.0 for s in SEGMENTS}}
WEEKS, REPS = 8, 8


@pytest.fixture(scope="module")
def truth():
    return load_scenario("baseline", TRUTH)


@pytest.fixture(scope="module")
def world(truth):
    """The true run's ledger and activity log (ids prefixed as an ERP's would be), and the history 240 days in."""
    res = simulate(truth, 0, seed=3)
    ledger = res.invoices.assign(invoice_id="H-" + res.invoices["invoice_id"].astype(str))
    log = res.activities.copy()
    log["item_id"] = log["item_id"].astype(str).where(log["item_id"].astype(str) == "", "H-" + log["item_id"].astype(str))
    as_of = pd.Timestamp(log["date"].min()) + pd.Timedelta(days=240)
    return ledger, log, History(ledger, str(as_of.date()), "W")


@pytest.fixture(scope="module")
def basis(world, truth):
    _, log, history = world
    return what_if_basis(history, truth, activities=log)


def test_base_case_is_the_team_as_it_was(basis, world, truth):
    _, log, history = world
    sc = basis.scenario
    # the headcount from the log's call volume is a lower bound of the true team, here met exactly
    assert sc.team.collectors == truth.team.collectors and "lower bound" in basis.headcount
    assert [s.days_past_due for s in sc.dunning.steps] == [s.days_past_due for s in truth.dunning.steps]
    sources = {label: where for label, _, where in basis.effect_sources()}
    assert sources["contact"].startswith("estimated") and "activity log" in sources["contact"]
    assert sources["fee"].startswith("assumed")
    text = "\n".join(basis.describe())
    assert "team as it was" in text and "lower bound" in text

    # base-case cash per week: the calibrated team as it was vs the true scenario from the same open items
    cal = receipts_by_period(history, WEEKS, sc, basis.table, REPS).sum(axis=1) / WEEKS
    true = receipts_by_period(history, WEEKS, truth, history.known, REPS).sum(axis=1) / WEEKS
    assert cal.mean() == pytest.approx(true.mean(), rel=0.15)
    # and vs what the log itself recorded in those weeks: within the simulation's replications' spread,
    # widened by the warm start's own error (the true scenario, warm-started, misses it by as much: README)
    pay = log[log["kind"] == "payment"]
    when = pd.to_datetime(pay["date"])
    actual = pay.loc[(when > history.as_of) & (when <= history.as_of + pd.Timedelta(weeks=WEEKS)), "amount"].sum() / WEEKS
    assert abs(cal.mean() - actual) <= abs(true.mean() - actual) + 2 * cal.std() + 0.05 * actual


def test_two_more_collectors_move_cash_as_the_true_scenario_does(basis, world, truth):
    _, _, history = world
    change = {"team.collectors": "+2"}
    cal = what_if(history, WEEKS, change, replications=REPS, basis=basis)
    true = what_if(history, WEEKS, change, truth, replications=REPS)
    d_cal, d_true = cal["difference"].sum(), true["difference"].sum()
    assert d_true > 0 and d_cal > 0  # more collectors bring cash forward
    assert 0.5 * d_true < d_cal < 2 * d_true, (d_cal, d_true)
    # the first weeks, where the effect is, agree within their paired intervals
    assert cal["diff_lo95"].iloc[:4].sum() < true["difference"].iloc[:4].sum() < cal["diff_hi95"].iloc[:4].sum()


def test_payment_history_alone_refuses_an_effort_what_if_and_says_why(world):
    ledger, _, history = world
    with pytest.raises(UserError, match="cannot be answered from payment history alone"):
        what_if(history, 4, {"team.collectors": "+2"}, replications=2)
    # a what-if that changes no effort is answered, and the output names the assumption
    basis = what_if_basis(history)
    assert basis.source == "payment history"
    assert "collection is switched off" in basis.describe()[0]
    w = what_if(history, 2, {"portfolio.accounts": 200}, replications=2, basis=basis)
    assert len(w) == 2 and np.isfinite(w["difference"]).all()


def test_cli_forecast_what_if_with_activity_log(world, tmp_path, capsys):
    ledger, log, history = world
    ledger.to_parquet(tmp_path / "ledger.parquet", index=False)
    log.to_parquet(tmp_path / "log.parquet", index=False)
    out = tmp_path / "fc"
    common = ["forecast", str(tmp_path / "ledger.parquet"), "--as-of", str(history.as_of.date()), "--horizon", "3",
              "--models", "naive", "--what-if", "team.collectors=+2", "--replications", "3"]
    assert main(common + ["--out", str(tmp_path / "refused")]) == 2
    assert "payment history alone" in capsys.readouterr().err and not (tmp_path / "refused").exists()
    code = main(common + ["--activities", str(tmp_path / "log.parquet"), "--set", "team.collectors=2",
                          "--set", "team.hours_per_day=0.5", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "team as it was: 2 collector(s) (as stated)" in printed and "estimated, 95 % CI" in printed
    assert "assumed: the base scenario's value" in printed
    assert "team as it was" in (out / "what_if_basis.txt").read_text()


def test_dashboard_what_if_says_what_the_history_could_identify(world, tmp_path, monkeypatch):
    from o2c_sim.present import dashboard as d

    ledger, log, history = world
    frame, team, note = d.run_what_if(ledger, history.as_of.date(), 2, None, 2)
    assert frame is None and "cannot answer a what-if on collectors" in note
    monkeypatch.setenv("O2C_SIM_ALLOWED_DIRS", str(tmp_path))
    log.to_parquet(tmp_path / "log.parquet", index=False)
    frame, team, note = d.run_what_if(ledger, history.as_of.date(), 2, None, 2, str(tmp_path / "log.parquet"))
    assert len(frame) == d.FORECAST_HORIZON and team >= 1
    assert "the team as it was" in note and "Estimated from the activity log: " in note and "contact ×" in note
    assert "Not identified" in note and "fee" in note


def test_ibm_base_case_holds_the_recorded_cash(ibm_csv):
    """Real data: warm-started on the IBM sample's items open on 2013-06-30 (the warm-start tests' date),
    with the scenario calibrated from the payment history known then, the base case's cash over the next
    8 weeks holds the cash the ledger recorded in its replications' 95 % interval."""
    from o2c_sim.data.importer import load_ledger

    ibm = load_ledger(ibm_csv, "ibm_ar")
    history = History(ibm, "2013-06-30", "W")
    basis = what_if_basis(history)
    sims = receipts_by_period(history, WEEKS, basis.scenario, basis.table, 20).sum(axis=1)
    end = history.as_of + pd.Timedelta(weeks=WEEKS)
    recorded = ibm.loc[(ibm["paid_date"] > history.as_of) & (ibm["paid_date"] <= end), "amount"].sum()
    lo, hi = sims.quantile([0.025, 0.975])
    assert lo <= recorded <= hi, (recorded, lo, hi)
