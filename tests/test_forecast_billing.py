"""New billing from its own model: level, damped trend or annual seasonality, chosen by errors at past
origins, its error per week ahead carried into the invoice-level receipts' intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from o2c_sim.forecast.billing import annual_factor, forecast_billing, horizon_rmse
from o2c_sim.forecast.invoice_level import SurvivalCurves
from o2c_sim.forecast.series import History


def test_a_growing_billing_is_forecast_by_its_trend():
    rng = np.random.default_rng(1)
    b = 1000 + 20 * np.arange(80) + rng.normal(0, 30, 80)
    fc = forecast_billing(b, 13)
    assert fc.model == "trend" and fc.scores["trend"] < fc.scores["level"]
    assert fc.mean[0] == pytest.approx(1000 + 20 * 80, rel=0.05)
    assert (np.diff(fc.mean) > 0).all()  # still growing, damped


def test_a_flat_billing_keeps_its_level_and_errors_grow_with_the_horizon():
    rng = np.random.default_rng(2)
    b = 1000 + rng.normal(0, 100, 80)
    fc = forecast_billing(b, 13)
    assert fc.mean == pytest.approx(np.full(13, 1000), rel=0.1)
    assert fc.sd[0] == pytest.approx(100, rel=0.4)  # the noise of one week
    assert (np.diff(fc.sd) >= 0).all()


def test_an_annual_pattern_is_used_only_with_two_years_before_the_origins():
    weeks = np.arange(170)
    rng = np.random.default_rng(3)
    b = 1000 * (1 + 0.4 * np.sin(2 * np.pi * weeks / 52)) + rng.normal(0, 30, len(weeks))
    fc = forecast_billing(b, 13)
    assert fc.model == "seasonal"
    truth = 1000 * (1 + 0.4 * np.sin(2 * np.pi * np.arange(170, 183) / 52))
    assert np.abs(fc.mean - truth).mean() < 0.5 * np.abs(fc.scores["level"])
    assert "seasonal" not in forecast_billing(b[:120], 13).scores  # 94 weeks before the first origin: too short


def test_annual_factor_is_last_years_smooth_shape():
    b = np.tile(np.r_[np.full(26, 2.0), np.full(26, 1.0)], 2)
    f = annual_factor(b, 52)
    assert f[10] == pytest.approx(2.0 / 1.5) and f[36] == pytest.approx(1.0 / 1.5)


def test_horizon_errors_pool_neighbours_and_never_shrink():
    err = [[3.0] * 10, [1.0] * 10, [], [5.0]]
    out = horizon_rmse(err, 4, min_errors=6)
    assert out[0] == 3.0 and out[1] == 3.0 and out[3] >= out[2] >= 3.0


def test_billing_uncertainty_widens_the_invoice_level_intervals():
    """Two ledgers with the same payers and the same mean billing; in one the weekly billing swings. The
    receipts' intervals of the swinging one are wider from the weeks new billing is paid."""
    rng = np.random.default_rng(4)
    rows = []
    for week in range(70):
        for c in range(10):
            day = pd.Timestamp("2022-01-03") + pd.Timedelta(days=7 * week + c % 5)
            rows.append((f"C{c}", day, 100.0, 100.0 * (0.2 if week % 2 else 1.8)))
    led = pd.DataFrame(rows, columns=["customer_id", "invoice_date", "steady", "swinging"])
    led["invoice_id"] = [f"I{i}" for i in range(len(led))]
    led["due_date"] = led["invoice_date"] + pd.Timedelta(days=14)
    led["paid_date"] = led["due_date"] + pd.to_timedelta(rng.integers(-2, 5, len(led)), unit="D")
    as_of = pd.Timestamp("2023-04-02")
    led = led[led["invoice_date"] <= as_of + pd.Timedelta(days=90)]

    def spread(col):
        f = SurvivalCurves().forecast(History(led.assign(amount=led[col]), as_of), 8)
        return (f["hi80"] - f["lo80"]).to_numpy()

    steady, swinging = spread("steady"), spread("swinging")
    assert (swinging[3:] > 1.5 * steady[3:]).all()
