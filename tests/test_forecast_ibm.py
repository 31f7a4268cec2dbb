"""Accuracy targets of the cash forecast on the IBM sample (DESIGN §7), back-tested at rolling weekly origins
with the default models; every score is the honest one (selection and intervals from past errors only)."""

from __future__ import annotations

import pytest

from o2c_sim.forecast.honest import SELECTED
from o2c_sim.forecast.pipeline import forecast_with_backtest
from o2c_sim.data.importer import load_ledger


@pytest.fixture(scope="session")
def result(ibm_csv):
    return forecast_with_backtest(load_ledger(ibm_csv, "ibm_ar"), "2013-12-01", 13, "W")


def band(result, model, band="1-4"):
    s = result.summary
    return s[(s["model"] == model) & (s["band"] == band)].iloc[0]


def test_backtest_covers_at_least_40_weekly_origins(result):
    assert band(result, SELECTED)["origins"] >= 40


def test_honest_selection_beats_naive_by_30_percent(result):
    sel, naive, ses = band(result, SELECTED), band(result, "naive"), band(result, "ses")
    print(f"honest WAPE 1-4 {sel.wape:.3f} [{sel.wape_lo:.3f}, {sel.wape_hi:.3f}], naive {naive.wape:.3f}, "
          f"ses {ses.wape:.3f}; chosen at origins {result.honest['chosen_at_origins']}")
    assert sel.wape <= 0.15
    assert sel.wape <= 0.7 * naive.wape
    assert sel.wape < ses.wape


def test_honest_intervals_cover_and_net_accuracy(result):
    sel = band(result, SELECTED)
    print(f"cov80 {sel.cov80:.3f}, cov95 {sel.cov95:.3f}, 13-week net accuracy {sel.net13:.3f}")
    assert 0.72 <= sel.cov80 <= 0.88
    assert 0.90 <= sel.cov95 <= 0.98
    assert sel.net13 >= 0.95


def test_forecast_has_every_model_and_ordered_bounds(result):
    f = result.forecast
    assert {"naive", "ses", "invoice_km", "combination"} <= set(f["model"])
    assert {"ets", "sf_autoets"} & set(f["model"])  # statsforecast's AutoETS where installed, else statsmodels'

    assert (f.groupby("model").size() == 13).all()
    assert ((f["lo95"] <= f["lo80"]) & (f["lo80"] <= f["mean"]) & (f["mean"] <= f["hi80"]) & (f["hi80"] <= f["hi95"])).all()
    assert result.items["expected"].sum() == pytest.approx(f.loc[f["model"] == "invoice_km", "mean"].sum(), rel=1e-6)
