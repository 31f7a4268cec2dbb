"""The shipped scenarios load, and the baseline lands in plausible ranges for B2B collections
(Credit Research Foundation 2020 medians: DSO 39, BPDSO 32, CEI 83, % current 88)."""

import pytest

from o2c_sim import settings
from o2c_sim.experiments import run_replications
from o2c_sim.scenario import load_scenario

SHIPPED = sorted(p.stem for p in settings.SCENARIOS_DIR.glob("*.yaml"))


def test_the_promised_scenarios_are_shipped():
    assert {"baseline", "lean_team", "risk_first", "fast_dunning", "enterprise"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_validate(name):
    scenario = load_scenario(name)
    assert scenario.name == name


def test_scenario_sizes_match_their_descriptions():
    base, ent = load_scenario("baseline"), load_scenario("enterprise")
    assert base.portfolio.accounts == 2000 and base.team.collectors == 6
    assert ent.portfolio.accounts == 20000 and 20 <= ent.team.collectors <= 30
    per_year = sum(s.share * s.invoices_per_month * 12 for s in ent.portfolio.segments) * ent.portfolio.accounts
    assert 200_000 <= per_year <= 280_000


@pytest.fixture(scope="module")
def baseline_kpis():
    return run_replications(load_scenario("baseline"), 3).summary()["mean"]


def test_baseline_is_plausible_b2b(baseline_kpis):
    k = baseline_kpis
    assert 30 <= k["dso"] <= 60
    assert 70 <= k["cei"] <= 95
    assert 70 <= k["pct_current"] <= 92
    assert k["collector_utilisation"] < 100
    assert abs(k["dso"] - k["dso_countback"]) < 5  # two methods on the same book agree roughly
    assert 0 < k["add"] < 15
    assert k["pct_over_90"] < 3 and k["bad_debt_ratio"] < 1


def test_lean_team_is_worse_than_baseline(baseline_kpis):
    lean = run_replications(load_scenario("lean_team"), 3).summary()["mean"]
    assert lean["dso"] > baseline_kpis["dso"]
    assert lean["dispute_sla_pct"] < baseline_kpis["dispute_sla_pct"]
