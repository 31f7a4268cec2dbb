"""KPI formulas against published worked examples and independent hand computations."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from o2c_sim import kpis


def test_countback_dso_worked_example():
    # AR 212k; monthly sales latest first 100k, 80k, 70k; 30-day months → 30 + 30 + 32/70·30 = 73.7
    assert kpis.dso_countback(212_000, [100_000, 80_000, 70_000]) == pytest.approx(73.714, abs=1e-3)


def test_countback_uses_actual_month_lengths():
    # Oct (31 d) fully covered, Sep (30 d) half covered: 31 + 15
    assert kpis.dso_countback(150_000, [100_000, 100_000], [31, 30]) == pytest.approx(46.0)


def test_countback_undefined_when_ar_older_than_history():
    assert math.isnan(kpis.dso_countback(500_000, [100_000, 100_000]))


def test_standard_dso_bpdso_and_add():
    # quarter of 90 days, credit sales 300k, ending AR 130k of which 100k current
    dso = kpis.dso_standard(130_000, 300_000, 90)
    best = kpis.bpdso(100_000, 300_000, 90)
    assert dso == pytest.approx(39.0)
    assert best == pytest.approx(30.0)
    assert kpis.average_days_delinquent(dso, best) == pytest.approx(9.0)


def test_cei_worked_example():
    # opening 200k + sales 100k − ending 190k = 110k collected; collectable = 300k − current 80k
    assert kpis.cei(200_000, 100_000, 190_000, 80_000) == pytest.approx(110 / 220 * 100)


def test_cei_is_100_when_everything_past_due_is_collected():
    assert kpis.cei(100_000, 50_000, 40_000, 40_000) == pytest.approx(100.0)


@given(opening=st.floats(0, 1e7), sales=st.floats(1, 1e7), collected_share=st.floats(0, 1), current_share=st.floats(0, 1),
       days=st.integers(28, 92))
def test_formulas_keep_the_catalogue_bounds(opening, sales, collected_share, current_share, days):
    """The bounds of :data:`o2c_sim.kpis.CATALOGUE` that the confidence intervals respect follow from
    the formulas when money is conserved: ending AR = opening + sales − collected (0 ≤ collected ≤
    opening + sales) and 0 ≤ current ≤ ending AR give ADD ≥ 0 and 0 ≤ CEI ≤ 100."""
    ending = (opening + sales) * (1 - collected_share)
    current = ending * current_share
    dso, best = kpis.dso_standard(ending, sales, days), kpis.bpdso(current, sales, days)
    add, cei = kpis.average_days_delinquent(dso, best), kpis.cei(opening, sales, ending, current)
    for key, value in (("dso", dso), ("bpdso", best), ("add", add), ("cei", cei)):
        entry = kpis.CATALOGUE[key]
        if math.isfinite(value):
            assert value >= entry.lower - 1e-9 and (entry.upper is None or value <= entry.upper + 1e-9), (key, value)


def test_ratios():
    assert kpis.bad_debt_ratio(1_500, 300_000) == pytest.approx(0.5)
    assert kpis.ptp_kept_rate(3, 1) == pytest.approx(75.0)
    assert math.isnan(kpis.ptp_kept_rate(0, 0))
    shares = kpis.aging_shares({"current": 88, "1_30": 8, "31_60": 2, "61_90": 1, "over_90": 1})
    assert shares["current"] == pytest.approx(88.0)


def test_mean_ci95_matches_student_t():
    m, lo, hi = kpis.mean_ci95([1.0, 2.0, 3.0, 4.0])
    # t(0.975, 3) = 3.182446; s = 1.290994; half = t·s/√4
    assert m == 2.5
    assert hi - m == pytest.approx(3.182446 * 1.290994 / 2, rel=1e-5)
    assert lo == pytest.approx(2 * m - hi)


def test_monthly_dso_from_daily_book_matches_formula():
    """The simulator's month-end series applies the same formulas to its daily book."""
    import numpy as np
    import pandas as pd

    from o2c_sim.sim.results import monthly_kpis

    dates = pd.date_range("2026-01-01", "2026-06-30", freq="D")
    daily = pd.DataFrame({"day": np.arange(len(dates)), "date": dates})
    daily["sales"] = 1_000.0
    daily["cash"] = 900.0
    daily["write_offs"] = 0.0
    daily["ar_total"] = 40_000.0
    daily["ar_current"] = 30_000.0
    daily["ar_over_90"] = 400.0
    m = monthly_kpis(daily).set_index("month")
    june = m.loc[pd.Timestamp("2026-06-01")]
    days = 30 + 31 + 30  # Apr–Jun
    assert june["dso"] == pytest.approx(40_000 / (1_000 * days) * days)
    assert june["bpdso"] == pytest.approx(30.0)
    assert june["dso_countback"] == pytest.approx(40.0)  # June 30 d fully, May 10/31 of 31 d
    assert june["cei"] == pytest.approx((40_000 + 30_000 - 40_000) / (40_000 + 30_000 - 30_000) * 100)
    assert june["pct_over_90"] == pytest.approx(1.0)
