"""The simulation hands over one record; every result table and KPI is built from it alone, and each
part of the simulation can be replaced by a subclass."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from conftest import small_scenario
from o2c_sim.data.invoice_table import COLUMNS
from o2c_sim.sim.dunning import Dunning
from o2c_sim.sim.model import Simulation, simulate
from o2c_sim.sim.results import SimResult


def _finished(scenario) -> Simulation:
    sim = Simulation(scenario)
    sim.env.run(until=sim.days)
    return sim


@pytest.mark.parametrize("name", ["baseline", "enterprise"])
def test_the_result_is_built_from_the_record_alone(name):
    """The record survives a pickle round trip with no simulation behind it and gives the same result as run()."""
    scenario = small_scenario(name)
    record = pickle.loads(pickle.dumps(_finished(scenario).record()))
    from_record = SimResult.from_record(record)
    ran = simulate(scenario)
    pd.testing.assert_frame_equal(from_record.invoices, ran.invoices)
    pd.testing.assert_frame_equal(from_record.daily, ran.daily)
    assert from_record.kpis == pytest.approx(ran.kpis, nan_ok=True)
    assert sorted(from_record.extra) == sorted(ran.extra)
    assert list(record.invoices.columns) == [c for c in COLUMNS if c in record.invoices.columns]


def test_a_record_out_of_the_invoice_contract_is_refused():
    record = _finished(small_scenario("baseline")).record()
    with pytest.raises(ValueError, match="unknown columns \\['days_late'\\]"):
        type(record)(**{**record.__dict__, "invoices": record.invoices.assign(days_late=0)})
    with pytest.raises(ValueError, match="missing \\['paid_amount'\\]"):
        type(record)(**{**record.__dict__, "invoices": record.invoices.drop(columns="paid_amount")})


def test_the_record_adds_up_to_the_kpis_by_hand():
    """Independent of the KPI code: sales, cash and the utilisation recomputed from the record's raw rows."""
    scenario = small_scenario("baseline")
    record = _finished(scenario).record()
    result = SimResult.from_record(record)
    w0 = scenario.warmup_days
    ev = record.events[record.events["time"] >= w0]
    assert result.kpis["sales"] == pytest.approx(ev.loc[ev["kind"] == "issue", "amount"].sum())
    assert result.kpis["invoices"] == int((ev["kind"] == "issue").sum())
    minutes = record.collector_minutes
    first = minutes["day"].searchsorted(w0)  # the first business day of the window (w0 is a business day here)
    assert record.book["business_day"].iloc[w0]
    assert result.kpis["collector_utilisation"] == pytest.approx(
        100 * minutes["busy"].iloc[first:].sum() / minutes["available"].iloc[first:].sum())
    assert 0 < result.kpis["collector_utilisation"] <= 100


def test_a_part_replaced_by_a_subclass_runs_in_its_place():
    """A Dunning that sends nothing gives the run with dunning switched off, bit for bit."""

    class Silent(Dunning):
        def run(self, d: int) -> None:
            """Sends nothing."""

    class NoLetters(Simulation):
        Dunning = Silent

    sim = NoLetters(small_scenario("baseline"))
    assert isinstance(sim.dunning, Silent)
    quiet = sim.run()
    off = simulate(small_scenario("baseline", {"dunning.enabled": False}))
    pd.testing.assert_frame_equal(quiet.invoices, off.invoices)
    assert "dunning" not in set(quiet.events["kind"].astype(str))
    assert np.isclose(quiet.kpis["dso"], off.kpis["dso"])
