"""The capacity model: utilisation is time on jobs within productive hours ÷ productive hours."""

import numpy as np
import pytest
import simpy

from o2c_sim.sim.workforce import MINUTES_PER_DAY, FifoQueue, WorkPool


def run_pool(shifts, jobs_minutes, shrinkage=0.0):
    env = simpy.Environment()
    queue = FifoQueue()
    for minutes in jobs_minutes:
        queue.put(0.0, minutes)
    days = len(shifts)
    pool = WorkPool(env, "clerks", 1, shifts, np.ones((days, 1), bool), np.zeros((days, 1)), shrinkage, [queue])
    env.run(until=days + 1)
    return pool, queue


def test_a_job_overrunning_the_shift_is_overtime_not_utilisation():
    # a 9-hour shift and three 200-minute jobs: the third starts at 400 min and ends 60 min after the shift
    pool, queue = run_pool([(0.375, 0.75)], [200, 200, 200, 200])
    assert len(queue) == 1  # the fourth was never started
    assert pool.available.sum() == pytest.approx(540)
    assert pool.busy.sum() == pytest.approx(540)
    assert pool.utilisation() == pytest.approx(1.0)


def test_overrun_into_the_next_productive_window_counts_there():
    # round-the-clock windows: a 2,000-minute job fills day 0 and 560 minutes of day 1
    pool, _ = run_pool([(0.0, 1.0), (1.0, 2.0)], [2000])
    assert pool.busy.tolist() == pytest.approx([MINUTES_PER_DAY, 2000 - MINUTES_PER_DAY])
    assert pool.utilisation() == pytest.approx(2000 / (2 * MINUTES_PER_DAY))


def test_overloaded_team_is_at_most_fully_utilised():
    # a shift with a shrinkage block: jobs overrun into the break, which is not productive time
    pool, _ = run_pool([(0.375, 0.75)] * 5, [47] * 200, shrinkage=0.3)
    assert 0.9 < pool.utilisation() <= 1.0 + 1e-12
