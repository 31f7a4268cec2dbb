"""Common random numbers for the work pools; parameter uncertainty (distributions on scenario values)."""

from __future__ import annotations

import numpy as np
import pytest

from o2c_sim.model import Simulation
from o2c_sim.scenario import load_scenario
from o2c_sim.streams import Streams
from o2c_sim.workforce import person_days

TINY = {"portfolio.accounts": 120, "horizon_days": 60, "warmup_days": 30}


def test_changing_collectors_leaves_every_other_pool_and_person_unchanged():
    base = load_scenario("baseline", TINY)
    six, ten = (Simulation(base.with_overrides({"team.collectors": n}), 1) for n in (6, 10))
    assert np.array_equal(six.analysts.available, ten.analysts.available)
    assert np.array_equal(six.clerks.available, ten.clerks.available)
    # the six people both teams share keep their own days, absences and breaks
    days = len(six.shifts)
    p6, b6 = person_days(six.rng, "collectors", 6, days, base.team.absence_rate)
    p10, b10 = person_days(ten.rng, "collectors", 10, days, base.team.absence_rate)
    assert np.array_equal(p6, p10[:, :6]) and np.array_equal(b6, b10[:, :6])
    # …and the four extra collectors add availability only on the days they are present
    extra = p10[:, 6:].sum(axis=1)
    assert np.allclose(ten.collectors.available - six.collectors.available,
                       extra * six.collectors.available.max() / 6)


def test_person_streams_are_independent_and_honour_the_absence_rate():
    presence, breaks = person_days(Streams(3, 0), "dispute_analysts", 40, 500, 0.2)
    assert presence.mean() == pytest.approx(0.8, abs=0.01)  # 20,000 person-days
    assert 0.0 <= breaks.min() and breaks.max() < 1.0
    # no two people share a stream
    assert len({presence[:, w].tobytes() for w in range(40)}) == 40
