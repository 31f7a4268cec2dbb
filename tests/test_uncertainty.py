"""Common random numbers for the work pools; parameter uncertainty (distributions on scenario values)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from o2c_sim.sim.model import Simulation
from o2c_sim.scenario import load_scenario
from o2c_sim.streams import Streams
from o2c_sim.sim.workforce import person_days

TINY = {"portfolio.accounts": 120, "horizon_days": 92, "warmup_days": 31}


def test_changing_collectors_leaves_every_other_pool_and_person_unchanged():
    base = load_scenario("baseline", TINY)
    six, ten = (Simulation(base.with_overrides({"team.collectors": n}), 1) for n in (6, 10))
    assert np.array_equal(six.analysts.available, ten.analysts.available)
    assert np.array_equal(six.clerks.available, ten.clerks.available)
    # the six people both teams share keep their own days, absences and breaks
    days = len(six.shifts)
    p6, b6 = person_days(six.rng, "collectors", 6, days, base.team.absence_rate)
    p10, b10 = person_days(ten.rng, "collectors", 10, days, base.team.absence_rate)
    assert np.array_equal(p6, p10[:, :6]) and np.array_equal(b6, b10[:, :6])
    # …and the four extra collectors add availability only on the days they are present
    extra = p10[:, 6:].sum(axis=1)
    assert np.allclose(ten.collectors.available - six.collectors.available,
                       extra * six.collectors.available.max() / 6)


def test_person_streams_are_independent_and_honour_the_absence_rate():
    presence, breaks = person_days(Streams(3, 0), "dispute_analysts", 40, 500, 0.2)
    assert presence.mean() == pytest.approx(0.8, abs=0.01)  # 20,000 person-days
    assert 0.0 <= breaks.min() and breaks.max() < 1.0
    # no two people share a stream
    assert len({presence[:, w].tobytes() for w in range(40)}) == 40


# ------------------------------------------------------------------------------------------ parameters

from o2c_sim import uncertainty  # noqa: E402
from o2c_sim.cli import main  # noqa: E402
from o2c_sim.errors import UserError  # noqa: E402
from o2c_sim.experiments.replications import run_replications  # noqa: E402
from o2c_sim.kpis import mean_ci95  # noqa: E402
from o2c_sim.sim.model import simulate  # noqa: E402
from o2c_sim.scenario import at_means, with_values  # noqa: E402

#: a toy portfolio of one segment paid only by the payers' own habits (no dunning, collectors or disputes)
TOY = {**TINY, "portfolio.accounts": 300, "portfolio.segments": [{"name": "all", "share": 1.0}],
       "dunning.enabled": False, "team.collectors": 0, "disputes.enabled": False}
#: the mid-market payers' daily intensity 1–7 days past due: an item of a list the baseline leaves at its default
LATE = "portfolio.segments.mid_market.behaviour.hazard.daily.3"
RPC = "portfolio.segments.small_business.behaviour.rpc_rate"
#: the toy payers' daily intensity 1–7 days past due (band 3 of the default hazard.bands), and a wide range of it
PACE = "portfolio.segments.all.behaviour.hazard.daily.3"
PACE_RANGE = {"dist": "uniform", "low": 0.02, "high": 0.6}


@pytest.mark.parametrize("spec, mean, sd", [
    ({"dist": "normal", "mean": 3.0, "sd": 0.5}, 3.0, 0.5),
    ({"dist": "lognormal", "mean": 18.0, "sd": 6.0}, 18.0, 6.0),
    ({"dist": "gamma", "mean": 9.7, "sd": 7.0}, 9.7, 7.0),
    ({"dist": "beta", "mean": 0.45, "sd": 0.05}, 0.45, 0.05),
    ({"dist": "uniform", "low": 2.0, "high": 6.0}, 4.0, 4.0 / np.sqrt(12)),
    # triangular: var = (a² + b² + c² − ab − ac − bc) / 18
    ({"dist": "triangular", "low": 0.0, "mode": 1.0, "high": 4.0}, 5 / 3, np.sqrt((0 + 1 + 16 - 0 - 0 - 4) / 18)),
])
def test_each_distribution_has_the_mean_and_sd_it_was_given(spec, mean, sd):
    dist = uncertainty.parse("x", spec)
    u = (np.arange(200_000) + 0.5) / 200_000  # midpoint rule over the quantile function
    values = np.array([dist.ppf(q) for q in u[::50]])  # 4,000 quantiles
    assert dist.mean == pytest.approx(mean)
    assert values.mean() == pytest.approx(mean, rel=0.01)
    assert values.std() == pytest.approx(sd, rel=0.03)


def test_distributions_are_taken_out_of_the_tree_and_recorded(tmp_path):
    sc = load_scenario("baseline", {**TINY, RPC: {"dist": "beta", "mean": 0.3, "sd": 0.05}})
    assert sc.uncertain == {RPC: {"dist": "beta", "mean": 0.3, "sd": 0.05}}
    assert sc.portfolio.segments[2].behaviour.rpc_rate == 0.3  # the mean stands in the scenario
    # the recorded form loads back to the same scenario, and an explicit override fixes the value
    assert load_scenario_from_yaml(tmp_path, sc.to_yaml()) == sc
    fixed = sc.with_overrides({"portfolio.segments.2.behaviour.rpc_rate": 0.5})
    assert fixed.uncertain == {} and fixed.portfolio.segments[2].behaviour.rpc_rate == 0.5


def load_scenario_from_yaml(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return load_scenario(path)


def test_a_listed_path_may_reach_into_a_list_the_file_leaves_at_its_default(tmp_path):
    notice = "portfolio.segments.mid_market.behaviour.hazard.effects.notice.0.multiplier"
    text = (f"extends: {load_scenario_path('baseline')}\nname: u\nuncertain:\n"
            f"  {notice}: {{dist: lognormal, mean: 1.6, sd: 0.2}}\n  {LATE}: {{dist: gamma, mean: 0.2, sd: 0.05}}\n")
    sc = load_scenario_from_yaml(tmp_path, text)
    assert set(sc.uncertain) == {notice, LATE}
    hazard = sc.portfolio.segments[1].behaviour.hazard
    assert hazard.effects.notice[0].multiplier == 1.6 and hazard.daily[3] == 0.2  # the means stand in the scenario
    default = load_scenario("baseline").portfolio.segments[1].behaviour.hazard
    assert hazard.effects.notice[1:] == default.effects.notice[1:] and hazard.daily[4:] == default.daily[4:]
    # replication 0's draw reaches exactly those two values
    values = uncertainty.draw(sc, 0)
    drawn = with_values(sc, values).portfolio.segments[1].behaviour.hazard
    assert (drawn.effects.notice[0].multiplier, drawn.daily[3]) == (values[notice], values[LATE]) != (1.6, 0.2)
    assert load_scenario_from_yaml(tmp_path, sc.to_yaml()) == sc


def load_scenario_path(name):
    from o2c_sim.settings import scenario_path

    return scenario_path(name)


def test_baseline_uncertain_at_its_means_is_the_baseline():
    base, uncertain = load_scenario("baseline"), load_scenario("baseline_uncertain")
    assert len(uncertain.uncertain) >= 15
    written = base.model_dump(mode="json")
    for path, dist in uncertainty.distributions(uncertain).items():
        assert uncertainty.get_value(written, path) == pytest.approx(dist.mean, rel=1e-12), path
    same_names = {"name": base.name, "description": base.description}
    assert at_means(uncertain).model_copy(update=same_names) == base


def test_degenerate_distributions_are_bit_identical_to_fixed_values():
    fixed = load_scenario("baseline", {**TINY, LATE: 0.15, RPC: 0.35})
    degenerate = load_scenario("baseline", {**TINY, LATE: {"dist": "uniform", "low": 0.15, "high": 0.15},
                                            RPC: {"dist": "beta", "mean": 0.35, "sd": 0.0}})
    assert degenerate.uncertain
    a, b = simulate(fixed, 1), simulate(degenerate, 1)
    assert np.isfinite(a.kpis["dso"])
    assert pd.Series(a.kpis).equals(pd.Series(b.kpis))
    assert a.invoices.equals(b.invoices)


def test_replication_r_draws_the_same_parameters_in_every_cell_and_new_ones_elsewhere():
    sc = load_scenario("baseline", {**TINY, LATE: {"dist": "lognormal", "mean": 0.12, "sd": 0.04}})
    other_cell = sc.with_overrides({"team.collectors": 9, "strategy.prioritisation": "largest_balance"})
    draws = [uncertainty.draw(sc, r)[LATE] for r in range(20)]
    assert draws == [uncertainty.draw(other_cell, r)[LATE] for r in range(20)]
    assert len(set(draws)) == 20
    # adding a second uncertain parameter leaves the first one's draws alone
    more = sc.with_overrides({RPC: {"dist": "beta", "mean": 0.35, "sd": 0.05}})
    assert draws == [uncertainty.draw(more, r)[LATE] for r in range(20)]


def test_a_distribution_widens_the_interval_and_the_split_says_why():
    # a toy portfolio paid only by the payers' own habits (no dunning, no collectors, no disputes)
    fixed = load_scenario("baseline", TOY)
    wide = fixed.with_overrides({PACE: PACE_RANGE})
    n = 6
    a, b = run_replications(fixed, n), run_replications(wide, n)
    _, lo_a, hi_a = mean_ci95(a.kpi_frame()["dso"].tolist())
    _, lo_b, hi_b = mean_ci95(b.kpi_frame()["dso"].tolist())
    assert hi_b - lo_b > 1.5 * (hi_a - lo_a)
    split = uncertainty.split_table(b.kpi_frame(), a.kpi_frame(), ["dso"]).set_index("kpi")
    assert split.loc["dso", "parameter_share"] > 0.6, split


def test_variance_split_recovers_known_variances():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 2.0, 20_000)  # stochastic part, variance 4
    param = rng.normal(0, 3.0, 20_000)  # parameter part, variance 9
    split = uncertainty.variance_split(10 + noise + param, 10 + noise)
    assert split["stochastic_var"] == pytest.approx(4, rel=0.05)
    assert split["parameter_var"] == pytest.approx(9, rel=0.05)
    assert split["parameter_share"] == pytest.approx(9 / 13, abs=0.02)


@pytest.mark.parametrize("spec, message", [
    ({"dist": "beta", "mean": 0.45, "sd": 0.6}, "too large for mean"),
    ({"dist": "normal", "mean": 0.45, "sd": -0.1}, "sd must be ≥ 0"),
    ({"dist": "weibull", "mean": 0.45}, "unknown distribution 'weibull'"),
    ({"dist": "beta", "mean": 0.45}, "takes mean, sd"),
    ({"dist": "normal", "mean": 0.45, "sd": 0.3}, "Use a bounded distribution"),
])
def test_impossible_distributions_are_refused_naming_the_path(spec, message):
    with pytest.raises(UserError, match=message) as err:
        load_scenario("baseline", {RPC: spec})
    assert "small_business" in str(err.value)


def test_an_unknown_path_exits_with_code_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("extends: baseline\nname: bad\nuncertain:\n  team.colectors: {dist: normal, mean: 6, sd: 1}\n")
    (tmp_path / "baseline.yaml").write_text(load_scenario("baseline").to_yaml())
    assert main(["run", str(path), "-q", "--out", str(tmp_path / "run")]) == 2
    assert "team.colectors" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_sweep_of_an_uncertain_scenario_splits_each_cells_variance(tmp_path):
    from o2c_sim.experiments.sweep import load_sweep, sweep

    # (a path into the toy's segment, which takes the default hazard, needs the segment validated first)
    sc = load_scenario("baseline", TOY).with_overrides({PACE: PACE_RANGE})
    res = sweep(sc, {"inbound.per_1000_accounts_per_day": [10, 30]}, 3, out=tmp_path / "s", progress=False)
    v = res.variance.set_index(["cell", "kpi"])
    assert set(v.index.get_level_values("cell")) == {0, 1}
    # nothing in the toy responds to inbound queries: both cells see the same worlds and the same split
    assert v.loc[(0, "dso"), "parameter_share"] == v.loc[(1, "dso"), "parameter_share"] > 0.5
    assert res.noise_only.scenario.uncertain == {}
    again = load_sweep(tmp_path / "s")
    assert again.variance.equals(res.variance)
    with pytest.raises(UserError, match="same keys"):
        sweep(sc, cells=[{"team.collectors": 1}, {"team.absence_rate": 0.1}], replications=1, progress=False)
