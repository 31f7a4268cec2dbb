"""The invoice columns' reserved capacity is a memory setting only: a run that starts from the
smallest capacity and grows many times produces exactly the tables of one that never grows."""

import numpy as np
import pandas as pd

import o2c_sim.sim.model as model
from o2c_sim.sim.book import grown, initial_capacity
from o2c_sim.sim.model import simulate
from o2c_sim.scenario import load_scenario


def test_capacity_follows_the_expected_invoice_count():
    sc = load_scenario("baseline").with_overrides({"portfolio.accounts": 1000})
    per_month = sum(s.share * s.invoices_per_month for s in sc.portfolio.segments)
    expected = 1000 * per_month * 365 / 30.44
    assert 1.2 * expected < initial_capacity(sc, 365) <= 1.25 * expected + 1
    assert initial_capacity(sc, 365, carried=500) == initial_capacity(sc, 365) + 500
    assert grown(1000, 10) == 1500 and grown(1000, 4000) == 4000


def test_growing_from_the_smallest_capacity_changes_nothing(monkeypatch):
    sc = load_scenario("baseline").with_overrides({"portfolio.accounts": 150, "horizon_days": 90, "warmup_days": 30})
    reserved = simulate(sc, 0)
    monkeypatch.setattr(model, "initial_capacity", lambda *args: 16)
    grown_run = simulate(sc, 0)
    assert len(grown_run.invoices) > 4 * 16  # the columns grew several times
    for table in ("invoices", "events", "daily"):
        pd.testing.assert_frame_equal(getattr(reserved, table), getattr(grown_run, table))
    np.testing.assert_equal(reserved.kpis, grown_run.kpis)  # NaN equals NaN here
