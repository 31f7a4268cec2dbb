"""Capacity: pools of people who work shifts and pull jobs from queues in priority order.

One class serves the three pools of DESIGN §2: collectors (inbound queries before pre-legal files
before the outbound worklist), dispute analysts and cash-application clerks. Each worker is one SimPy
process. On each business day it is present (absence drawn per worker-day), it works its shift
except for one block of ``shrinkage × hours`` (meetings, admin, breaks) at a random time; it takes the first job of the highest-priority non-empty queue, is busy
for the job's handling time, then calls the job's ``done``. A job started before the end of the
productive window is finished (overrun, counted as overtime, not as utilisation). An arriving job
wakes one idle worker.

Time is in days; handling times are in minutes (1 day = 1440 minutes).
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Protocol

import numpy as np
import simpy

MINUTES_PER_DAY = 1440.0


class JobQueue(Protocol):
    def __len__(self) -> int: ...

    def pop(self, now: float) -> tuple[float, Callable[[float], None] | None]:
        """Remove the next job: (handling minutes, callback at completion or None)."""


class FifoQueue:
    """A FIFO of (minutes, done) jobs; records each served job's arrival time and wait (days)."""

    def __init__(self, pool: "WorkPool | None" = None):
        self._jobs: deque = deque()
        self.pool = pool
        self.arrivals: list[float] = []
        self.waits: list[float] = []

    def __len__(self) -> int:
        return len(self._jobs)

    def put(self, now: float, minutes: float, done: Callable[[float], None] | None = None) -> None:
        self._jobs.append((now, minutes, done))
        if self.pool is not None:
            self.pool.wake()

    def pop(self, now: float):
        arrived, minutes, done = self._jobs.popleft()
        self.arrivals.append(arrived)
        self.waits.append(now - arrived)
        return minutes, done


class WorkPool:
    """``size`` workers sharing ``queues`` (index 0 = highest priority)."""

    def __init__(self, env: simpy.Environment, name: str, size: int, shifts: list[tuple[float, float]],
                 presence: np.ndarray, breaks: np.ndarray, shrinkage: float, queues: list[JobQueue],
                 worker_queues: list[list[JobQueue]] | None = None):
        """``shifts[k]`` = (start, end) of business day k's shift, in sim days; ``presence[k, w]`` = worker
        w works day k; ``breaks[k, w]`` in [0, 1) places the non-productive block within the shift.
        ``worker_queues[w]``, when given, replaces ``queues`` for worker w (a worker's own worklist)."""
        self.env, self.name, self.size = env, name, size
        self.queues = queues
        #: per business day k: minutes present and productive, and minutes of those spent on jobs
        length = np.array([e - s for s, e in shifts])
        self.available = length * (1.0 - shrinkage) * presence.sum(axis=1) * MINUTES_PER_DAY
        self.busy = np.zeros(len(shifts))
        self._idle: deque = deque()  # one wake-up event per idle worker
        for w in range(size):
            windows = [
                _windows(s, e, shrinkage, breaks[k, w]) if presence[k, w] else () for k, (s, e) in enumerate(shifts)
            ]
            env.process(self._work(windows, queues if worker_queues is None else worker_queues[w]))

    def wake(self) -> None:
        """Wake one idle worker (if any) because a job has arrived."""
        if self._idle:
            self._idle.popleft().succeed()

    def _work(self, windows, queues):
        env, idle, busy, timeout, event = self.env, self._idle, self.busy, self.env.timeout, self.env.event
        waiting: list = [None]  # this worker's wake-up event while idle
        for k, day in enumerate(windows):
            for start, end in day:
                if env.now < start:
                    yield timeout(start - env.now)
                elif env.now > start:  # a job overran into this window: that part of it is productive time
                    busy[k] += (min(env.now, end) - start) * MINUTES_PER_DAY
                if env.now >= end:
                    continue  # an overrunning job used up this window
                timeout(end - env.now).callbacks.append(lambda _, w=waiting: self._window_closed(w))
                while env.now < end:
                    for q in queues:
                        if len(q):
                            minutes, done = q.pop(env.now)
                            break
                    else:
                        waiting[0] = woken = event()
                        idle.append(woken)
                        yield woken  # by wake() for a new job, or by _window_closed
                        waiting[0] = None
                        continue
                    busy[k] += min(minutes, (end - env.now) * MINUTES_PER_DAY)
                    yield timeout(minutes / MINUTES_PER_DAY)
                    if done is not None:
                        done(env.now)

    def _window_closed(self, waiting: list) -> None:
        """End of a worker's window: an idle worker stops waiting for jobs."""
        woken = waiting[0]
        if woken is not None and not woken.triggered:
            self._idle.remove(woken)
            woken.succeed()

    def utilisation(self, first_day: int = 0) -> float:
        """Time on jobs within the productive windows ÷ productive (present, non-shrinkage) time, over
        business days ``first_day`` onwards. A job overrunning its window into a break or past the
        shift is overtime, not utilisation, so the ratio never exceeds 1."""
        avail = self.available[first_day:].sum()
        return float(self.busy[first_day:].sum() / avail) if avail else float("nan")


#: the work pools, in a fixed order: a pool's index keys its people's random streams
POOLS = ("collectors", "dispute_analysts", "cash_app_clerks", "team_leads", "refund_clerks")  # append only: a pool's index keys its people's streams


def person_days(streams, pool: str, size: int, days: int, absence_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """``(presence, breaks)`` arrays of shape (days, size) for :class:`WorkPool`.

    Person w of a pool draws its own days from ``streams.keyed("pools", pool index, w)``: first
    ``days`` uniforms for absence (present when u ≥ ``absence_rate``), then ``days`` break positions.
    So a person's availability does not change when another pool, or the size of their own pool,
    does — common random numbers between staffing options.
    """
    k = POOLS.index(pool)
    presence, breaks = np.ones((days, size), bool), np.zeros((days, size))
    for w in range(size):
        u = streams.keyed("pools", k, w).random(2 * days)
        presence[:, w] = u[:days] >= absence_rate
        breaks[:, w] = u[days:]
    return presence, breaks


def _windows(start: float, end: float, shrinkage: float, position: float) -> tuple[tuple[float, float], ...]:
    """The shift minus one non-productive block of ``shrinkage`` × its length placed at ``position``."""
    block = (end - start) * shrinkage
    b0 = start + position * (end - start - block)
    return tuple(w for w in ((start, b0), (b0 + block, end)) if w[1] > w[0])


def poisson_arrivals(env: simpy.Environment, rng: np.random.Generator, queue: FifoQueue,
                     windows: list[tuple[float, float]], rate_per_day: float, mean_minutes: float,
                     on_arrival: Callable[[float], None] | None = None):
    """SimPy process: a Poisson stream of ``rate_per_day`` arrivals per opening window on average (uniform
    times within each window, i.e. a Poisson process during opening hours), each a job of
    Exponential(``mean_minutes``) minutes for ``queue``."""
    for start, end in windows:
        n = rng.poisson(rate_per_day)
        times = np.sort(start + rng.random(n) * (end - start))
        service = rng.exponential(mean_minutes, n)
        for when, minutes in zip(times.tolist(), service.tolist()):
            if env.now < when:
                yield env.timeout(when - env.now)
            queue.put(env.now, minutes)
            if on_arrival is not None:
                on_arrival(env.now)
