"""The simulation forecast and what-if cash, warm-started from the IBM sample's open items."""

import numpy as np
import pandas as pd
import pytest

from o2c_sim.cli import main
from o2c_sim.forecast.series import History
from o2c_sim.forecast.simulation import SimulationModel, what_if
from o2c_sim.data.importer import load_ledger


@pytest.fixture(scope="module")
def history(ibm_csv):
    return History(load_ledger(ibm_csv, "ibm_ar"), "2013-06-30", "W")


def test_simulation_forecast_has_ordered_intervals_and_plausible_level(history):
    f = SimulationModel(replications=8).forecast(history, 6)
    assert len(f) == 6
    assert (f["lo95"] <= f["lo80"]).all() and (f["lo80"] <= f["mean"]).all() and (f["mean"] <= f["hi80"]).all()
    # the level is that of the history's recent weekly receipts (calibrated billing, not the baseline's)
    recent = history.receipts.iloc[-13:].mean()
    assert 0.5 * recent < f["mean"].mean() < 1.5 * recent


def test_what_if_more_collectors_pairs_replications(history):
    # payment history alone cannot answer an effort what-if (its delays contain the old effort): a
    # scenario with stated effects can, and the basis names it as the source
    from o2c_sim.scenario import load_scenario

    w = what_if(history, 4, ["team.collectors=+3"], load_scenario("baseline", {"team.collectors": 0}), replications=6)
    assert list(w.columns) == ["period_start", "base", "what_if", "difference", "diff_lo95", "diff_hi95"]
    assert np.allclose(w["what_if"] - w["base"], w["difference"])
    assert (w["diff_lo95"] <= w["difference"]).all() and (w["difference"] <= w["diff_hi95"]).all()
    # no collectors at all, then three: calls bring cash forward
    assert w["difference"].sum() > 0


def test_cli_what_if_writes_table(ibm_csv, tmp_path, capsys):
    out = tmp_path / "fc"
    code = main(["forecast", str(ibm_csv), "--mapping", "ibm_ar", "--as-of", "2013-06-30", "--horizon", "4",
                 "--models", "naive,ses", "--what-if", "portfolio.accounts=150", "--replications", "4", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "what-if (simulation" in printed and "payment history only" in printed
    assert len(pd.read_parquet(out / "what_if.parquet")) == 4


def test_cli_effort_what_if_from_history_alone_is_refused(ibm_csv, tmp_path, capsys):
    code = main(["forecast", str(ibm_csv), "--mapping", "ibm_ar", "--as-of", "2013-06-30",
                 "--what-if", "team.collectors=+2", "--out", str(tmp_path / "fc")])
    assert code == 2
    assert "cannot be answered from payment history alone" in capsys.readouterr().err
    assert not (tmp_path / "fc").exists()


def test_cli_bad_what_if_fails_fast(ibm_csv, tmp_path, capsys):
    code = main(["forecast", str(ibm_csv), "--mapping", "ibm_ar", "--as-of", "2013-06-30",
                 "--what-if", "team.colectors=+2", "--out", str(tmp_path / "fc")])
    assert code == 2
    assert "team.colectors" in capsys.readouterr().err
