"""Billing seasonality and growth: month-end and quarter-end bunching keep the volume, growth compounds,
and the switch off changes nothing (tests/test_operations_off.py)."""

import numpy as np
import pytest

from o2c_sim.errors import UserError
from o2c_sim.sim.model import simulate
from o2c_sim.scenario import load_scenario

SEGMENTS = ("key_accounts", "mid_market", "small_business")
ONE_OFF = {f"portfolio.segments.{s}.recurring_share": 0.0 for s in SEGMENTS}  # every invoice is one-off
YEAR = {"portfolio.accounts": 300, "horizon_days": 364, "warmup_days": 30, "seed": 4, "team.collectors": 2,
        "disputes.enabled": False, **ONE_OFF}


def originals(result):
    inv = result.invoices
    inv = inv[~inv["invoice_id"].str.contains("-R")]
    return inv[inv["invoice_date"] >= inv["invoice_date"].min() + np.timedelta64(30, "D")]


def test_month_end_share_and_quarter_end_multiplier():
    flat = originals(simulate(load_scenario("baseline", YEAR)))
    bunched = originals(simulate(load_scenario("baseline", {**YEAR, "seasonality.enabled": True, "seasonality.month_end_share": 0.5,
                                                            "seasonality.month_end_business_days": 3,
                                                            "seasonality.quarter_end_multiplier": 2.0})))
    def last_three(inv):
        d = inv["invoice_date"]
        month = d.dt.to_period("M")
        bdays = {m: np.busday_count(m.start_time.date(), (m.end_time + np.timedelta64(1, "D")).date()) for m in month.unique()}
        left = np.array([np.busday_count((x + np.timedelta64(1, "D")).date(), (m.end_time + np.timedelta64(1, "D")).date())
                         for x, m in zip(d, month)])
        return (left < 3).mean(), bdays
    share_flat, _ = last_three(flat)
    share_bunched, _ = last_three(bunched)
    assert share_flat == pytest.approx(3 / 21.7, abs=0.03)  # spread evenly: 3 of ~21.7 business days
    assert share_bunched == pytest.approx(0.5, abs=0.03)
    per_month = bunched.groupby(bunched["invoice_date"].dt.month).size()
    quarter_end = per_month[per_month.index % 3 == 0].mean() / per_month[per_month.index % 3 != 0].mean()
    assert quarter_end == pytest.approx(2.0, rel=0.12)
    assert len(bunched) == pytest.approx(len(flat), rel=0.04)  # the year's volume is unchanged


def test_growth_compounds():
    grown = originals(simulate(load_scenario("baseline", {**YEAR, "seasonality.enabled": True,
                                                         "seasonality.growth_annual": 0.5})))
    # the window (after warm-up) is 364 days from the start date: two halves of 182 days, the second
    # billing 1.5 ** (182 / 365.25) times the first (growth compounds continuously from the start date)
    start = np.datetime64("2026-01-05")
    day = (grown["invoice_date"] - start).dt.days
    first, second = ((day >= 0) & (day < 182)).sum(), ((day >= 182) & (day < 364)).sum()
    assert second / first == pytest.approx(1.5 ** (182 / 365.25), rel=0.05)


@pytest.mark.parametrize("overrides, field", [
    ({"seasonality.growth_annual": -1.5}, "seasonality.growth_annual"),
    ({"seasonality.month_end_share": 1.2}, "seasonality.month_end_share"),
    ({"seasonality.quarter_end_multiplier": 0}, "seasonality.quarter_end_multiplier"),
])
def test_bad_seasonality_is_a_user_error(overrides, field):
    with pytest.raises(UserError, match=f"field '{field}'"):
        load_scenario("baseline", overrides)
