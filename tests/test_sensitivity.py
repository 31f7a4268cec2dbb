"""Global sensitivity: a toy where only one parameter can matter; decisions; budget and bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from o2c_sim.cli import main
from o2c_sim.errors import UserError
from o2c_sim.scenario import load_scenario
from o2c_sim.experiments.sensitivity import factors, parse_decision, sensitivity

#: one segment paid only by its own habits: no dunning, no collectors, no disputes
TOY = {"portfolio.accounts": 150, "horizon_days": 92, "warmup_days": 31, "portfolio.segments": [{"name": "all", "share": 1.0}],
       "dunning.enabled": False, "team.collectors": 0, "disputes.enabled": False}
#: the payers' daily intensity 1–7 days past due (band 3 of the default hazard.bands): their own pace
PACE = "all.behaviour.hazard.daily.3"
# switched off in the toy: nobody calls (rpc_rate, the effect of a contact, conversation), money costs do not move KPIs
IDLE = ["all.behaviour.rpc_rate", "all.behaviour.hazard.effects.contact.multiplier", "work.conversation",
        "finance.cost_of_capital"]


@pytest.fixture(scope="module")
def toy():
    return load_scenario("baseline", TOY)


def test_morris_finds_the_only_parameter_that_can_matter(toy, tmp_path):
    fs = factors(toy, [f"portfolio.segments.{PACE}=0.02..0.6", *(f"portfolio.segments.{p}" if p.startswith("all") else p for p in IDLE)])
    res = sensitivity(toy, fs, ["dso", "cash_collected"], "morris", samples=3, replications=1, progress=False, out=tmp_path / "s")
    for kpi in ("dso", "cash_collected"):
        t = res.indices[res.indices["kpi"] == kpi].set_index("parameter")
        assert res.ranking(kpi)[0] == PACE
        top = t.loc[PACE, "mu_star"]
        assert top > 0
        # common random numbers: a parameter without effect changes nothing at all
        assert (t.loc[IDLE, "mu_star"] <= 1e-9 * top).all()
        assert (t.loc[IDLE, "swing"] <= 1e-9 * t.loc[PACE, "swing"]).all()
    # paying sooner once late lowers DSO: the tornado says which end is which
    tor = res.tornado[(res.tornado["kpi"] == "dso") & (res.tornado["parameter"] == PACE)].iloc[0]
    assert tor["kpi_at_high"] < tor["kpi_base"] < tor["kpi_at_low"]
    written = pd.read_parquet(tmp_path / "s" / "indices.parquet")
    assert written.equals(res.indices)
    assert (tmp_path / "s" / "tornado_dso.html").exists() and (tmp_path / "s" / "morris_dso.html").exists()
    # resumable: the same analysis again reads every run back and gives the same indices
    again = sensitivity(toy, fs, ["dso", "cash_collected"], "morris", samples=3, replications=1, progress=False, out=tmp_path / "s")
    assert again.indices.equals(res.indices)


def test_a_decision_depends_on_what_the_extra_people_do(toy):
    fs = factors(toy, ["portfolio.segments.all.behaviour.rpc_rate=0.1..0.9", "finance.cost_of_capital"])
    res = sensitivity(toy.with_overrides({"portfolio.accounts": 400}), fs, ["cash_collected"], "morris", samples=3,
                      replications=1, decision=parse_decision("team.collectors=0,1"), progress=False)
    t = res.indices.set_index("parameter")
    assert res.ranking("cash_collected")[0] == "all.behaviour.rpc_rate"
    assert t.loc["all.behaviour.rpc_rate", "mu_star"] > 0 and t.loc["finance.cost_of_capital", "mu_star"] == 0


def test_a_sobol_design_over_budget_is_refused_before_running(tmp_path, capsys):
    code = main(["sensitivity", "baseline", "--params", "team.absence_rate,work.conversation", "--method", "sobol",
                 "--budget", "100", "--out", str(tmp_path / "s"), "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert "522 simulation runs, more than --budget 100" in err and "--method morris" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("params, message", [
    ("team.colectors", "no such path"),
    ("strategy.prioritisation", "not a numeric value"),
    ("team.absence_rate=0.5..0.1", "low < high"),
    ("portfolio.segments.key_accounts.behaviour.rpc_rate=0.5..1.2", "is not a valid value"),
    ("portfolio.segments.key_accounts.behaviour.hazard.effects.contact.multiplier=0..3", "is not a valid value"),
])
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(UserError, match=message):
        factors(load_scenario("baseline"), params.split(","))


def test_tornado_alone_ranks_by_swing(toy):
    fs = factors(toy, ["finance.cost_of_capital", f"portfolio.segments.{PACE}=0.02..0.6"])
    res = sensitivity(toy, fs, ["dso"], "tornado", replications=1, progress=False)
    assert len(res.outputs) == 0 and len(res.tornado) == 2
    assert res.ranking("dso") == [PACE, "finance.cost_of_capital"]
    assert "ranked by swing" in res.text()


def test_a_default_range_stops_where_the_field_does():
    rpc = "portfolio.segments.key_accounts.behaviour.rpc_rate"
    (f,) = factors(load_scenario("baseline", {rpc: 0.85}), [rpc])
    assert (f.low, f.high) == (pytest.approx(0.85 * 0.75), 1.0)  # ±25 % of 0.85, but a probability stops at 1


def test_all_uncertain_needs_distributions(capsys):
    assert main(["sensitivity", "baseline", "--all-uncertain", "-q"]) == 2
    assert "has no uncertain parameters" in capsys.readouterr().err


def test_sobol_gives_the_idle_parameter_no_share(toy):
    fs = factors(toy, [f"portfolio.segments.{PACE}=0.02..0.6", "finance.cost_of_capital"])
    res = sensitivity(toy.with_overrides({"portfolio.accounts": 100}), fs, ["dso"], "sobol", samples=8,
                      replications=1, progress=False)
    t = res.indices.set_index("parameter")
    assert len(res.outputs) == 8 * (2 + 2)  # Saltelli: N·(k + 2)
    assert res.ranking("dso")[0] == PACE and t.loc[PACE, "ST"] > 0.5
    assert t.loc["finance.cost_of_capital", "ST"] == 0 and t.loc["finance.cost_of_capital", "S1"] == 0
