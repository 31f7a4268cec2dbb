"""Where an engine run's time goes, in bare-SimPy-timeout equivalents per invoice, phase by phase.

    .venv/bin/python benchmarks/bench_phases.py [--scenario enterprise] [--set KEY=VALUE ...]

The same replication as ``bench_engine.py``, timed by phase without a profiler (so without its
overhead): set-up, each step of the day (:attr:`Simulation.MORNING` / :attr:`Simulation.EVENING`, the
vectorised passes over the open items), the work of the SimPy processes between the steps (the work
pools' jobs: calls, queries, disputes, cash matching, plans; the SimPy kernel), and the result
(``Simulation.record()`` and ``SimResult.from_record``). Each phase is divided by (invoices ×
the time of one bare ``env.timeout``) like the engine ratio, so the phases add up to it:

    phase equivalents = phase seconds ÷ (invoices × t_timeout)

A phase's share bounds what removing it could bring: the engine ratio cannot fall below the sum of
the phases left.
"""

from __future__ import annotations

import argparse
import os
import time

from bench_engine import bare_timeout_seconds
from o2c_sim.scenario import load_scenario
from o2c_sim.sim.model import Simulation
from o2c_sim.sim.results import SimResult


class TimedSimulation(Simulation):
    """A simulation whose day steps add their CPU time to ``self.step_seconds`` (by step name)."""

    def _bind(self, steps):
        if not hasattr(self, "step_seconds"):  # bound twice: the morning's steps, then the evening's
            self.step_seconds: dict[str, float] = {}
        timed = []
        for step in steps:
            name = step if isinstance(step, str) else step.__name__
            for bound in super()._bind([step]):  # none when the step's part is switched off
                self.step_seconds.setdefault(name, 0.0)
                timed.append(self._timer(name, bound))
        return timed

    def _timer(self, name, bound):
        clock, seconds = time.process_time, self.step_seconds

        def run(d):
            t0 = clock()
            bound(d)
            seconds[name] += clock() - t0
        return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="enterprise")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    scenario = load_scenario(args.scenario, args.overrides)
    clock = time.process_time
    event = bare_timeout_seconds(clock=clock)
    t0 = clock()
    sim = TimedSimulation(scenario)
    t1 = clock()
    sim.env.run(until=sim.days)
    sim.ledger.check()
    t2 = clock()
    record = sim.record()
    t3 = clock()
    SimResult.from_record(record)
    t4 = clock()
    event = min(event, bare_timeout_seconds(clock=clock))
    n = len(record.invoices)
    unit = n * event
    steps = sum(sim.step_seconds.values())
    print(f"scenario {scenario.name!r} {' '.join(args.overrides)}: {n:,} invoices; bare timeout {event * 1e6:.3f} µs CPU; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'phase':<44}{'CPU s':>8}{'equivalents':>13}")
    rows = [("set-up", t1 - t0)]
    rows += [(f"  step {name}", s) for name, s in sorted(sim.step_seconds.items(), key=lambda kv: -kv[1])]
    rows += [("day steps (vectorised passes), all", steps),
             ("SimPy processes between the steps (jobs, kernel)", t2 - t1 - steps),
             ("Simulation.record()", t3 - t2), ("SimResult.from_record()", t4 - t3),
             ("total", t4 - t0)]
    for name, s in rows:
        print(f"{name:<44}{s:8.2f}{s / unit:13.1f}")


if __name__ == "__main__":
    main()
