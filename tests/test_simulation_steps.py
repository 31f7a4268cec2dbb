"""The day as a list of steps: a subclass can add, remove or replace a step, and the default list is
the model as documented."""

from __future__ import annotations

import pandas as pd

from conftest import small_scenario
from o2c_sim.sim.model import Simulation, simulate


def test_an_added_observer_step_runs_every_business_day_and_changes_nothing():
    seen: list[int] = []

    def count_open_items(sim, day):
        seen.append(day)

    class Observed(Simulation):
        MORNING = (*Simulation.MORNING, count_open_items)

    scenario = small_scenario("baseline")
    observed = Observed(scenario).run()
    plain = simulate(scenario)
    assert len(seen) == int(observed.daily["business_day"].sum()) and seen == sorted(seen)
    pd.testing.assert_frame_equal(observed.invoices, plain.invoices)
    assert observed.kpis == plain.kpis


def test_replacing_the_dunning_step_with_nothing_is_dunning_switched_off():
    class NoNotices(Simulation):
        MORNING = tuple(step for step in Simulation.MORNING if step != "dunning.run")

    without_step = NoNotices(small_scenario("baseline")).run()
    switched_off = simulate(small_scenario("baseline", {"dunning.enabled": False}))
    kinds = set(without_step.events["kind"].astype(str))
    assert "dunning" not in kinds and "dunning" in set(simulate(small_scenario("baseline")).events["kind"].astype(str))
    pd.testing.assert_frame_equal(without_step.invoices, switched_off.invoices)
