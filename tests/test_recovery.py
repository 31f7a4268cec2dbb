"""Recovery: calibration from simulated activity logs finds the hazard effects that made them, and the
calibrated scenario reproduces the true scenario's staffing curve (small sizes; the full-size figures
come from benchmarks/bench_recovery.py)."""

from __future__ import annotations

import pytest

from o2c_sim.calibration import recovery as rc
from o2c_sim.scenario import load_scenario

SEGMENTS = ("key_accounts", "mid_market", "small_business")
#: the truth: baseline's hazard and process, small; no silent payers (a point mass of frailty that the
#: gamma frailty of the fit does not model — docs/model.md says what that does to the estimates)
#: short working days, so that capacity binds in a small portfolio and the staffing curve has a shape
SMALL = {"portfolio.accounts": 150, "horizon_days": 300, "warmup_days": 60, "team.hours_per_day": 0.5,
         **{f"portfolio.segments.{s}.behaviour.silent_share": 0.0 for s in SEGMENTS}}
#: parameters whose intervals must cover the truth
ASSERTED = ("notice_1", "notice_2", "notice_3", "notice_4", "contact", "promise", "disputed", "frailty_variance")


@pytest.fixture(scope="module")
def truth():
    return load_scenario("baseline", SMALL)


@pytest.fixture(scope="module")
def first(truth):
    return rc.recover(truth, seed=1)


def test_one_seed_recovers_every_effect_within_tolerance(first, truth):
    t = first.table.set_index("parameter")
    assert set(ASSERTED) <= set(t.index)
    for name in ASSERTED:
        row = t.loc[name]
        assert row["ci_lo"] < row["estimate"] < row["ci_hi"]
        # a stated tolerance at this size: within 35 % of the truth (the last notice level is rare)
        assert row["estimate"] == pytest.approx(row["truth"], rel=0.35 if name == "notice_4" else 0.2), name
    # the scenario it writes carries the estimates and where they came from
    sc = first.calibration.scenario
    hz = sc.portfolio.segments[0].behaviour.hazard
    assert hz.effects.contact.multiplier == pytest.approx(t.loc["contact", "estimate"], rel=1e-3)
    prov = first.calibration.provenance[f"portfolio.segments.{sc.portfolio.segments[0].name}.behaviour.hazard.effects.contact.multiplier"]
    assert prov["ci95"][0] <= hz.effects.contact.multiplier <= prov["ci95"][1] and "activity log" in prov["source"]
    # the process the team ran is re-created: cadence and the agency hand-over
    assert [s.days_past_due for s in sc.dunning.steps] == [s.days_past_due for s in truth.dunning.steps]
    assert sc.dunning.pre_legal_days == truth.dunning.pre_legal_days


def test_credit_hold_multiplier_is_recovered_when_the_team_places_holds():
    """Issue 14 item 3: holds recorded in the log (credit_hold / hold_released) give the hold multiplier
    like any other action effect, and the calibrated scenario places holds with it."""
    truth = load_scenario("baseline", {**SMALL, "credit_holds.enabled": True})
    r = rc.recover(truth, seed=2)
    t = r.table.set_index("parameter")
    row = t.loc["credit_hold"]
    assert row["ci_lo"] <= row["truth"] <= row["ci_hi"], row.to_dict()
    assert row["estimate"] == pytest.approx(row["truth"], rel=0.15)
    assert t.loc["contact", "ci_lo"] <= t.loc["contact", "truth"] <= t.loc["contact", "ci_hi"]
    sc = r.calibration.scenario
    assert sc.credit_holds.enabled
    hz = sc.portfolio.segments[0].behaviour.hazard
    assert hz.effects.credit_hold.multiplier == pytest.approx(row["estimate"], rel=1e-3)
    prov = r.calibration.provenance[f"portfolio.segments.{sc.portfolio.segments[0].name}.behaviour.hazard.effects.credit_hold.multiplier"]
    assert "activity log" in prov["source"] and any("credit holds" in n for n in r.calibration.notes)


@pytest.mark.slow
def test_intervals_cover_the_truth_in_most_seeds(truth):
    tables = [rc.recover(truth, seed).table.set_index("parameter") for seed in range(5)]
    for name in ASSERTED:
        covered = sum(bool(t.loc[name, "covered"]) for t in tables)
        assert covered >= 4, (name, [t.loc[name, ["estimate", "ci_lo", "ci_hi"]].tolist() for t in tables])


def test_calibrated_scenario_reproduces_the_staffing_curve(first, truth):
    calibrated = first.calibration.scenario.with_overrides({"portfolio.accounts": truth.portfolio.accounts})
    cmp = rc.compare_curves(rc.staffing_curve(truth, (2, 6, 10), replications=3),
                            rc.staffing_curve(calibrated, (2, 6, 10), replications=3))
    assert cmp["agrees"].all(), cmp.to_string()
    # the curve has a shape (more collectors: lower DSO and bad debt), and the calibrated one follows it
    for kpi in ("dso", "bad_debt_ratio"):
        c = cmp[cmp["kpi"] == kpi].set_index("collectors")
        assert c.loc[2, "mean_true"] > c.loc[10, "mean_true"] and c.loc[2, "mean_cal"] > c.loc[10, "mean_cal"]


def test_process_intervals_match_their_formulas():
    from o2c_sim.calibration.process_fit import quantile_interval, wilson

    # median of 1..100: the distribution-free 95 % interval is [x(40), x(61)] (Conover 1999, table A3)
    assert quantile_interval(range(1, 101)) == (50.0, 40.0, 61.0)
    # Wilson interval of 45/100 from its closed form
    p, n, z = 0.45, 100, 1.959964
    centre, half = (p + z**2 / (2 * n)) / (1 + z**2 / n), z * (p * (1 - p) / n + z**2 / (4 * n**2)) ** 0.5 / (1 + z**2 / n)
    assert wilson(45, 100) == pytest.approx((centre - half, centre + half), abs=1e-6)
