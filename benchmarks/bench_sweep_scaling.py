"""Sweep scaling: the same replications on 1 worker, on 2 local worker processes and on 2 Dask workers.

    .venv/bin/python benchmarks/bench_sweep_scaling.py [--replications 40] [--set KEY=VALUE ...]

Runs ``--replications`` replications of one small scenario (baseline — 2,000 accounts — with 180 days after
60 days of warm-up, unless changed with ``--set``) through :func:`o2c_sim.experiments.sweep.sweep`, each time into
a fresh sweep directory (parts written as they finish, as in real use):

1. ``workers=1`` — in this process, no cluster (what ``--workers 1`` gives);
2. ``workers=2`` — the sweep forks 2 local worker processes and closes them at the end (what
   ``--workers 2`` gives, start-up included);
3. a 2-worker Dask cluster started beforehand and passed in as ``scheduler=client`` — the speed-up of
   a cluster net of its start-up, and the CPU time the workers obtained;
4. no sweep and no Dask: two plain processes each running half the replications with ``simulate`` —
   the ceiling this machine allows, against which the Dask runs are judged.

It prints wall times, the speed-up 1 → 2 workers (target ≥ 1.7) and checks that all three produced
identical results. Because a speed-up can only be as large as the idle cores the machine has, it also
prints the load average and the *cores obtained*: CPU seconds used ÷ wall seconds (this process for
run 1, the two workers for run 3). On a machine shared with other work, a speed-up below 1.7 with
about one core obtained means the second core was busy elsewhere, not that the sweep serialises; and
when two plain processes (run 4) already need more CPU seconds than one process alone, the two
virtual cores share hardware (a VM's vCPUs on one physical core, shared cache or memory bandwidth).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from o2c_sim.scenario import load_scenario
from o2c_sim.experiments.sweep import sweep

SMALL = ["portfolio.accounts=2000", "horizon_days=180", "warmup_days=60"]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _plain_replications(args) -> float:
    """Run the given replications with plain ``simulate`` (no sweep, no Dask); return the CPU seconds."""
    from o2c_sim.sim.model import simulate

    scenario, reps = args
    c0 = time.process_time()
    for r in reps:
        simulate(scenario, r)
    return time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--set", dest="overrides", action="append", default=None, metavar="KEY=VALUE")
    ap.add_argument("--replications", type=int, default=40)
    args = ap.parse_args()
    scenario = load_scenario(args.scenario, args.overrides if args.overrides is not None else SMALL)
    n = args.replications
    print(f"{os.cpu_count()} CPUs; load average {load()}")
    print(f"scenario {scenario.name!r}: {scenario.portfolio.accounts:,} accounts, {scenario.horizon_days} days after "
          f"{scenario.warmup_days} days of warm-up; {n} replications")

    from distributed import Client, LocalCluster

    frames = {}
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        frames[1] = sweep(scenario, {}, n, workers=1, out=Path(tmp) / "w1", progress=False).results
        wall1, cpu1 = time.perf_counter() - t0, time.process_time() - c0
        print(f"1. workers=1 (in process):            {wall1:6.1f} s  ({wall1 / n:.2f} s per replication; "
              f"cores obtained {cpu1 / wall1:.2f}; load {load()})")

        t0 = time.perf_counter()
        frames[2] = sweep(scenario, {}, n, workers=2, out=Path(tmp) / "w2", progress=False).results
        wall2 = time.perf_counter() - t0
        print(f"2. workers=2 (local processes):      {wall2:6.1f} s  (speed-up {wall1 / wall2:.2f}; load {load()})")

        t0 = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            client.run(lambda: __import__("o2c_sim.experiments.sweep"))
            startup = time.perf_counter() - t0
            before = client.run(time.process_time)
            t0 = time.perf_counter()
            frames[3] = sweep(scenario, {}, n, scheduler=client, out=Path(tmp) / "w3", progress=False).results
            wall3 = time.perf_counter() - t0
            after = client.run(time.process_time)
        cpu3 = sum(after[w] - before[w] for w in after)
        print(f"3. 2 Dask workers, cluster already up:{wall3:6.1f} s  (speed-up {wall1 / wall3:.2f}; cores obtained "
              f"{cpu3 / wall3:.2f}; cluster start-up {startup:.1f} s; load {load()})")

    # 4. the machine's own ceiling: two plain processes, half the replications each, no Dask at all
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(2) as pool:
        pool.map(_plain_replications, [(scenario, [])] * 2)  # start-up and imports, not timed
        t0 = time.perf_counter()
        halves = pool.map(_plain_replications, [(scenario, list(range(0, n, 2))), (scenario, list(range(1, n, 2)))])
        wall4 = time.perf_counter() - t0
    cpu4 = sum(halves)
    print(f"4. no Dask, 2 plain processes:        {wall4:6.1f} s  (speed-up {wall1 / wall4:.2f} = this machine's ceiling; "
          f"CPU {cpu4:.1f} s, {cpu4 / cpu1 - 1:+.0%} vs one process alone; load {load()})")

    pd.testing.assert_frame_equal(frames[1], frames[2])
    pd.testing.assert_frame_equal(frames[1], frames[3])
    print("results identical on 1 and 2 workers: yes")
    print(f"CPU seconds for the replications: {cpu1:.1f} in process, {cpu3:.1f} on the 2 workers "
          f"(distribution overhead {cpu3 / cpu1 - 1:+.0%}); on 2 idle cores run 3 would take about "
          f"{cpu3 / 2:.1f} s, a speed-up of {cpu1 / (cpu3 / 2):.2f} net of start-up")
    speedup = wall1 / wall2
    print(f"speed-up 1 → 2 workers (run 1 ÷ run 2): {speedup:.2f} (target ≥ 1.7: "
          f"{'met' if speedup >= 1.7 else f'MISSED by {1.7 - speedup:.2f}'})")


if __name__ == "__main__":
    main()
