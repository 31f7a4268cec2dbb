"""Staffing recommendation: agrees with a brute-force computation over the same range; target parsing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from o2c_sim.cli import main
from o2c_sim.errors import UserError
from o2c_sim.sim.model import simulate
from o2c_sim.scenario import load_scenario
from o2c_sim.experiments.staffing import Target, parse_range, parse_target, recommend

TINY = {"portfolio.accounts": 150, "horizon_days": 92, "warmup_days": 62}
HEADCOUNTS = [1, 2, 3, 4]
REPS = 3


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("baseline", TINY)


@pytest.fixture(scope="module")
def brute(scenario):
    """Every (headcount, replication) simulated directly, without the sweep machinery."""
    out = {}
    for h in HEADCOUNTS:
        for r in range(REPS):
            res = simulate(scenario.with_overrides({"team.collectors": h}), r)
            window = res.daily[res.daily["day"] >= scenario.warmup_days]
            out[h, r] = {**res.kpis, "ar_average": window["ar_total"].mean()}
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("recommend") / "sweep"


def brute_answer(brute, target: Target, confidence: float, criterion: str):
    for h in HEADCOUNTS:
        x = np.array([brute[h, r][target.kpi] for r in range(REPS)], float)
        if criterion == "share":
            ok = np.mean([(v <= target.value) if target.op == "<=" else (v >= target.value) for v in x]) >= confidence
        else:
            half = stats.t.ppf(confidence, REPS - 1) * x.std(ddof=1) / math.sqrt(REPS)
            ok = x.mean() + half <= target.value if target.op == "<=" else x.mean() - half >= target.value
        if ok:
            return h
    return None


@pytest.mark.parametrize("target, confidence, criterion", [
    ("collector_utilisation<=30", 0.9, "mean_bound"),
    ("collector_utilisation<=30", 0.99, "mean_bound"),
    ("collector_utilisation<=30", 0.9, "share"),
    ("calls_per_day>=10", 0.9, "mean_bound"),
    ("dso<=1", 0.9, "mean_bound"),  # out of reach: no headcount meets it
])
def test_recommend_agrees_with_brute_force(scenario, brute, sweep_dir, target, confidence, criterion):
    rec = recommend(scenario, target, confidence, "team.collectors", range(1, 5), REPS, criterion=criterion,
                    out=sweep_dir, progress=False)
    expected = brute_answer(brute, parse_target(target), confidence, criterion)
    assert rec.headcount == expected
    if expected is None:
        assert rec.text().startswith("No team.collectors")
    else:
        assert rec.text().startswith(f"Smallest team.collectors meeting {target}")
    # the sweep's runs are the brute-force runs, bit for bit
    t = rec.table.set_index("headcount")
    kpi = parse_target(target).kpi
    for h in HEADCOUNTS:
        assert t.loc[h, "kpi_mean"] == pytest.approx(np.mean([brute[h, r][kpi] for r in range(REPS)]), rel=1e-12)


def test_a_target_met_in_the_middle_of_the_range(scenario, brute, sweep_dir):
    # guards against a vacuous agreement: a threshold every replication with 2 collectors meets and
    # (utilisation halving with twice the team) no replication with 1 collector does
    u = {h: [brute[h, r]["collector_utilisation"] for r in range(REPS)] for h in (1, 2)}
    assert max(u[2]) < min(u[1])
    threshold = (max(u[2]) + min(u[1])) / 2
    rec = recommend(scenario, f"collector_utilisation<={threshold}", 0.9, "team.collectors", HEADCOUNTS, REPS,
                    criterion="share", out=sweep_dir, progress=False)
    assert rec.headcount == 2 and rec.sweep.computed == 0  # and it reused the sweep directory
    assert rec.table["meets"].tolist() == [False, True, True, True]


def test_roi_table(scenario, brute, sweep_dir):
    rec = recommend(scenario, "dso<=45", 0.9, "team.collectors", HEADCOUNTS, REPS, out=sweep_dir, progress=False)
    t = rec.table.set_index("headcount")
    cost, coc, days = scenario.team.cost_per_fte, scenario.finance.cost_of_capital, scenario.horizon_days
    for h in HEADCOUNTS:
        assert t.loc[h, "fte_cost"] == cost * h and t.loc[h, "extra_fte_cost"] == cost * (h - 1)
        released = np.mean([brute[1, r]["ar_average"] - brute[h, r]["ar_average"] for r in range(REPS)])
        avoided = np.mean([brute[1, r]["write_offs"] - brute[h, r]["write_offs"] for r in range(REPS)]) * 365 / days
        assert t.loc[h, "ar_released"] == pytest.approx(released, abs=1e-6)
        assert t.loc[h, "capital_saving"] == pytest.approx(coc * released, abs=1e-6)
        assert t.loc[h, "bad_debt_avoided"] == pytest.approx(avoided, abs=1e-6)
        assert t.loc[h, "net_benefit"] == pytest.approx(coc * released + avoided - cost * (h - 1), abs=1e-6)
        assert t.loc[h, "net_benefit_lo"] <= t.loc[h, "net_benefit"] <= t.loc[h, "net_benefit_hi"]
    assert t.loc[1, "net_benefit"] == 0 and math.isnan(t.loc[1, "roi"])


def test_cli_recommend(capsys, scenario, brute):
    """The CLI answers a target that separates the headcounts (not one every headcount meets): the
    threshold lies between the worst replication with 2 collectors and the best with 1, so exactly 2 is
    right under ``--criterion share``, and the printed answer must be the brute-force one."""
    u = {h: [brute[h, r]["collector_utilisation"] for r in range(REPS)] for h in (1, 2)}
    assert max(u[2]) < min(u[1])
    threshold = round((max(u[2]) + min(u[1])) / 2, 2)
    target = f"collector_utilisation<={threshold}"
    args = ["recommend", "baseline", "--target", target, "--range", "team.collectors=1..4", "--criterion", "share",
            *[f"--set={k}={v}" for k, v in TINY.items()], "-r", str(REPS), "-w", "1", "-q"]
    assert main(args) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert brute_answer(brute, parse_target(target), 0.9, "share") == 2
    assert f"Smallest team.collectors meeting {target} (at least 90% of replications' collector_utilisation): 2 (" in out
    assert "net benefit" in out and "FTE cost" in out


@pytest.mark.parametrize("text, expected", [
    ("dso<=45", Target("dso", "<=", 45.0)),
    (" DSO <= 45.5 ", Target("dso", "<=", 45.5)),
    ("cei>=80", Target("cei", ">=", 80.0)),
    ("coverage_pct>=85%", Target("coverage_pct", ">=", 85.0)),
    ("dso≤40", Target("dso", "<=", 40.0)),
    ("write_offs<=1,000", Target("write_offs", "<=", 1000.0)),
])
def test_parse_target(text, expected):
    assert parse_target(text) == expected


@pytest.mark.parametrize("text, message", [
    ("dos<=45", "unknown KPI 'dos' — did you mean 'dso'"),
    ("speed<=45", "unknown KPI 'speed'"),
    ("dso<45", "operator '<' is not supported"),
    ("dso==45", "operator '==' is not supported"),
    ("dso<=forty", "'forty' is not a number"),
    ("dso<=", "'' is not a number"),
    ("dso 45", "not of the form kpi<=value"),
    ("dso<=nan", "finite"),
])
def test_bad_targets(text, message):
    with pytest.raises(UserError, match=message):
        parse_target(text)


def test_bad_arguments(scenario):
    with pytest.raises(UserError, match="strictly between 0 and 1"):
        recommend(scenario, "dso<=45", 1.5, values=[1, 2], replications=2, progress=False)
    with pytest.raises(UserError, match="not a headcount"):
        recommend(scenario, "dso<=45", 0.9, key="team.hours_per_day", values=[1, 2], replications=2, progress=False)
    with pytest.raises(UserError, match="at least 2 replications"):
        recommend(scenario, "dso<=45", 0.9, values=[1, 2], replications=1, progress=False)
    with pytest.raises(UserError, match="whole number"):
        parse_range("team.collectors=2.5,3")
    assert parse_range("team.collectors=2..6:2") == ("team.collectors", [2, 4, 6])


@pytest.mark.parametrize("args, message", [
    (["--target", "dos<=45", "--range", "team.collectors=2..4"], "did you mean 'dso'"),
    (["--target", "dso<=45", "--range", "team.collectors=4..2"], "empty"),
    (["--target", "dso<=45", "--range", "team.shrinkage=1..2"], "not a headcount"),
    (["--target", "dso<=45", "--range", "team.collectors=2..4", "--confidence", "90"], "between 0 and 1"),
    (["--target", "dso<=45"], "--range"),
])
def test_cli_bad_input_exits_2(capsys, args, message):
    assert main(["recommend", "baseline", *args, "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# ------------------------------------------------------------------------------ under parameter uncertainty

from o2c_sim.experiments.staffing import flips  # noqa: E402

RPC = "portfolio.segments.all.behaviour.rpc_rate"
#: one segment, no dunning and no disputes: collectors' utilisation depends on how often they reach payers
TOY = {**TINY, "portfolio.segments": [{"name": "all", "share": 1.0}], "dunning.enabled": False,
       "disputes.enabled": False, RPC: {"dist": "uniform", "low": 0.1, "high": 0.9},
       "finance.cost_of_capital": {"dist": "uniform", "low": 0.04, "high": 0.12}}


def test_a_parameter_at_the_end_of_its_range_flips_the_choice(capsys):
    sc = load_scenario("baseline", TOY)
    rec = recommend(sc, "collector_utilisation<=55", 0.9, "team.collectors", [1, 2], REPS, progress=False)
    assert rec.sweep.variance is not None and set(rec.table["share_meeting"]) <= {0, 1 / 3, 2 / 3, 1}
    table = flips(rec, progress=False).set_index(["parameter", "end"])
    # fewer right-party contacts → more retries → busier collectors: at the low end one collector is not enough
    low, high = table.loc[("all.behaviour.rpc_rate", "low")], table.loc[("all.behaviour.rpc_rate", "high")]
    assert (low["headcount"], high["headcount"]) == (2, 1)
    assert low["value"] == pytest.approx(0.1 + 0.025 * 0.8) and high["value"] == pytest.approx(0.1 + 0.975 * 0.8)
    # the cost of capital cannot change a utilisation target
    assert not table.loc["finance.cost_of_capital", "changes"].any()
    assert rec.headcount == 2 and table["changes"].sum() == 1
    assert rec.flip_text() == "2 team.collectors, unless all.behaviour.rpc_rate is as high as 0.88: then 1."
    # independent check of the high end: one collector's bound, from plain simulations
    fixed = sc.with_overrides({RPC: high["value"], "team.collectors": 1})
    x = np.array([simulate(fixed, r).kpis["collector_utilisation"] for r in range(REPS)])
    assert x.mean() + stats.t.ppf(0.9, REPS - 1) * x.std(ddof=1) / math.sqrt(REPS) <= 55


def test_cli_recommend_reports_probability_split_and_flips(capsys):
    args = ["recommend", "baseline", "--target", "collector_utilisation<=41", "--range", "team.collectors=1..2",
            "--set=portfolio.segments=[{name: all, share: 1.0}]",
            *[f"--set={k}={v}" for k, v in TOY.items() if k not in ("portfolio.segments", RPC)],
            f"--set={RPC}={{dist: uniform, low: 0.1, high: 0.9}}", "--flip-params", RPC, "-r", "2", "-w", "1", "-q"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "P(meet)" in out and "due to parameter uncertainty" in out
    assert "all.behaviour.rpc_rate" in out
