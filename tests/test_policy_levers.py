"""Policy levers move outcomes the way collections practice expects (common random numbers)."""

import numpy as np
import pandas as pd
import pytest

from o2c_sim.experiments.replications import run_replications
from o2c_sim.sim.ledger import KIND
from o2c_sim.sim.model import Simulation
from conftest import small_scenario

REPS = 4


def mean_kpis(scenario, reps=REPS):
    return run_replications(scenario, reps).kpi_frame().mean(numeric_only=True)


@pytest.fixture(scope="module")
def staffing_curve():
    base = small_scenario(overrides={"portfolio.accounts": 1500})
    return {c: mean_kpis(base.with_overrides({"team.collectors": c})) for c in (1, 2, 4, 12)}


def test_more_collectors_never_worsen_dso_or_bad_debt(staffing_curve):
    """More collectors -> more contacts and promises -> higher hazard: DSO falls, bad debt does not rise."""
    heads = sorted(staffing_curve)
    for fewer, more in zip(heads, heads[1:]):
        # allow half a day / 0.1 point of simulation noise between neighbours on the curve
        assert staffing_curve[more]["dso"] <= staffing_curve[fewer]["dso"] + 0.5
        assert staffing_curve[more]["bad_debt_ratio"] <= staffing_curve[fewer]["bad_debt_ratio"] + 0.1
    assert staffing_curve[12]["dso"] < staffing_curve[1]["dso"] - 4  # headcount matters by days, not decimals
    assert staffing_curve[12]["bad_debt_ratio"] < staffing_curve[1]["bad_debt_ratio"]
    assert staffing_curve[12]["coverage_pct"] > staffing_curve[1]["coverage_pct"]
    assert staffing_curve[12]["collector_utilisation"] < staffing_curve[1]["collector_utilisation"]


def test_disputed_invoices_get_no_dunning_while_the_dispute_is_open():
    sc = small_scenario(overrides={"portfolio.segments.mid_market.behaviour.dispute_rate": 0.4, "team.dispute_analysts": 1})
    sim = Simulation(sc)
    sim.run()
    ev = sim.ledger.log.frame()
    dunned = ev[ev["kind"] == KIND["dunning"]]
    opened = sim.inv.dispute_open_day[dunned["invoice"]]
    closed = sim.inv.dispute_close_day[dunned["invoice"]]
    t = dunned["time"].to_numpy()
    assert len(dunned) > 100 and np.isfinite(opened).sum() > 10  # the test has teeth
    assert not ((opened <= t) & (t < closed)).any()


def days_late(result):
    inv = result.invoices
    paid = inv[(inv["paid_amount"] > 0) & (inv["written_off_amount"] == 0) & inv["paid_date"].notna()]
    return (paid["paid_date"] - paid["due_date"]).dt.days.clip(lower=0).mean()


def test_denser_dunning_cadence_lowers_days_late():
    ov = {"portfolio.accounts": 500}
    slow = run_replications(small_scenario("baseline", ov), REPS)
    fast = run_replications(small_scenario("fast_dunning", ov), REPS)
    diffs = [days_late(f) - days_late(s) for f, s in zip(fast.results, slow.results)]
    assert np.mean(diffs) < 0
    assert max(diffs) < 0.5  # paired by replication: faster cadence is not worse in any replication
    dso = [f.kpis["dso"] - s.kpis["dso"] for f, s in zip(fast.results, slow.results)]
    assert np.mean(dso) < 0 and max(dso) < 0.5


def _neutral_notices(scenario):
    return {f"portfolio.segments.{s.name}.behaviour.hazard.effects.notice": [{"multiplier": 1.0, "window_days": 1}]
            for s in scenario.portfolio.segments}


def test_notices_with_no_effect_give_the_same_payments_whatever_the_cadence():
    """Notices act only through their hazard multipliers: with every multiplier 1, the cadence cannot
    move a single payment (common random numbers: each invoice's resistance is keyed by the invoice)."""
    ov = {"portfolio.accounts": 300, "team.collectors": 0}
    base = small_scenario("baseline", ov)
    slow = run_replications(base.with_overrides(_neutral_notices(base)), 1).results[0]
    fast = run_replications(small_scenario("fast_dunning", {**ov, **_neutral_notices(base)}), 1).results[0]
    cols = ["invoice_id", "paid_date", "paid_amount", "written_off_amount"]
    pd.testing.assert_frame_equal(slow.invoices[cols], fast.invoices[cols])
    assert slow.kpis["dso"] == fast.kpis["dso"]


def _neutral_calls(scenario, contact=1.0, promise=1.0):
    out = {}
    for s in scenario.portfolio.segments:
        out[f"portfolio.segments.{s.name}.behaviour.hazard.effects.contact.multiplier"] = contact
        out[f"portfolio.segments.{s.name}.behaviour.hazard.effects.promise.multiplier"] = promise
    return out


def test_contacts_and_promises_without_effect_make_staffing_irrelevant_to_dso():
    """Staffing moves payments only through the contact and promise multipliers and the calls' side
    channels (disputes raised and plans agreed in calls, dunning paused while a promise runs, pre-legal
    files). With both multipliers 1 and the side channels off, no collectors and 8 collectors (paired:
    same seed) differ by every call yet every payment is identical to the cent."""
    base = small_scenario()
    # no absence or breaks: the analysts' and clerks' days then cannot depend on the collectors' headcount
    base = base.with_overrides({"team.absence_rate": 0.0, "team.shrinkage": 0.0})
    neutral = base.with_overrides({**_neutral_calls(base), "dunning.pre_legal_days": None,
                                   "strategy.outcomes": {"promise_to_pay": 0, "dispute": 0, "payment_plan": 0, "refusal": 1}})
    a = run_replications(neutral.with_overrides({"team.collectors": 0}), 1).results[0]
    b = run_replications(neutral.with_overrides({"team.collectors": 8}), 1).results[0]
    assert a.kpis["calls_per_day"] == 0 and b.kpis["rpc_per_day"] > 10
    cols = ["invoice_id", "paid_date", "paid_amount", "written_off_amount", "credited_amount"]
    pd.testing.assert_frame_equal(a.invoices[cols], b.invoices[cols])
    assert a.kpis["dso"] == b.kpis["dso"]
    # the same pair with the shipped contact multiplier: the calls now pay invoices earlier
    live = base.with_overrides({"dunning.pre_legal_days": None, "strategy.outcomes": neutral.strategy.outcomes.model_dump()})
    la = run_replications(live.with_overrides({"team.collectors": 0}), 1).results[0]
    lb = run_replications(live.with_overrides({"team.collectors": 8}), 1).results[0]
    assert lb.kpis["dso"] < la.kpis["dso"] - 0.5


def test_with_no_collectors_silent_payers_are_written_off():
    """A silent payer is an account of frailty ``silent_frailty``; at 0 its hazard is 0 whatever is sent."""
    sc = small_scenario(overrides={
        "team.collectors": 0, "horizon_days": 300,
        "portfolio.segments.small_business.behaviour.silent_share": 0.5,
        **{f"portfolio.segments.{s}.behaviour.hazard.silent_frailty": 0.0 for s in ("key_accounts", "mid_market", "small_business")},
    })
    sim = Simulation(sc)
    result = sim.run()
    inv = result.invoices
    silent = sim.accounts.silent[sim.inv.account[: sim.inv.n]]
    old = (inv["due_date"] <= inv["invoice_date"].max() - pd.Timedelta(days=sc.dunning.write_off_days + 5)).to_numpy()
    mine = inv[silent & old]
    assert len(mine) > 50
    assert mine["paid_amount"].sum() == 0
    written = (mine["written_off_amount"] + mine["credited_amount"]).round(2)
    assert (written == mine["amount"].round(2)).all()
    assert mine["written_off_amount"].sum() > 0.9 * mine["amount"].sum() - mine["credited_amount"].sum()


def test_promise_keep_rate_is_an_outcome_of_the_promise_effect():
    """No coin decides a promise: it is kept when its items are paid by the promised date + grace, so a
    strong promise effect keeps nearly all of them and a neutral one far fewer; each promise is judged once."""
    base = small_scenario()
    rates = {}
    for promise in (1.0, 1000.0):
        sim = Simulation(base.with_overrides(_neutral_calls(base, contact=1.0, promise=promise)))
        result = sim.run()
        ev = sim.ledger.log.frame()
        made, kept, broken = ((ev["kind"] == KIND[k]).sum() for k in ("promise_to_pay", "promise_kept", "promise_broken"))
        assert made > 100 and kept + broken == made - sim.account_state.ptp_open.sum()
        rates[promise] = result.kpis["ptp_kept_rate"]
    assert rates[1000.0] > 95 and rates[1.0] < rates[1000.0] - 25
