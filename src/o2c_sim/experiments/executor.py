"""Where a sweep's tasks run: in this process, in local worker processes, or on a Dask cluster.

A *task* is one replication of one cell; it returns that run's KPIs. Workers only compute: the
results come back to this process, which writes them, so no shared file system is needed.

Local workers (``workers=W > 1``) are W processes forked from this one once the model is imported, so
they start in milliseconds instead of importing everything again (a Dask ``LocalCluster`` spent about
as long starting as a dozen small replications take). A process that has other threads running (a
Jupyter kernel) forks from a clean ``forkserver`` instead. Each task carries its scenario as JSON (a
few kB). If a worker process dies, the pool is started again and the unfinished tasks run again,
like a Dask cluster does; results do not depend on which process ran what.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import threading
import uuid
from typing import Any, Callable

from o2c_sim.errors import UserError
from o2c_sim.sim.model import simulate
from o2c_sim.scenario import Scenario
from o2c_sim.experiments.tables import as_float

def run_task(scenario: Scenario, replication: int) -> dict[str, float]:
    """One task: replication ``replication`` of ``scenario`` → its KPIs plus :data:`EXTRA_METRICS`.

    Module-level so worker processes can import it. Every value is a float (NaN where undefined).
    """
    result = simulate(scenario, replication)
    daily = result.daily
    window = daily[daily["day"] >= scenario.warmup_days]
    metrics = {k: as_float(v) for k, v in result.kpis.items()}
    metrics["ar_average"] = float(window["ar_total"].mean()) if len(window) else float("nan")
    metrics["window_days"] = float(scenario.horizon_days)
    return metrics


def _run_json(scenario_json: str, replication: int) -> dict[str, float]:
    """A task as a local worker receives it: the scenario as JSON."""
    return run_task(Scenario.model_validate_json(scenario_json), replication)


#: times a local pool whose worker died is started again before the sweep stops (its parts are kept)
POOL_RESTARTS = 3


def _local_pool(workers: int) -> cf.ProcessPoolExecutor:
    """``workers`` processes forked from this one (or from a forkserver when other threads are running)."""
    methods = multiprocessing.get_all_start_methods()
    method = "fork" if "fork" in methods and threading.active_count() == 1 else (
        "forkserver" if "forkserver" in methods else "spawn")
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["o2c_sim.experiments.executor"])
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _execute_locally(tasks: list[tuple[int, int, Scenario]], on_done: Callable[[int, int, dict], None],
                     workers: int) -> None:
    payload = {id(sc): sc.model_dump_json() for _, _, sc in tasks}  # each distinct scenario serialised once
    todo = list(tasks)
    for attempt in range(POOL_RESTARTS + 1):
        pool = _local_pool(workers)
        finished: set[tuple[int, int]] = set()
        try:
            futures = {pool.submit(_run_json, payload[id(sc)], rep): (cell, rep) for cell, rep, sc in todo}
            for fut in cf.as_completed(futures):
                cell, rep = futures[fut]
                on_done(cell, rep, fut.result())
                finished.add((cell, rep))
            return
        except cf.process.BrokenProcessPool:
            todo = [t for t in todo if (t[0], t[1]) not in finished]
            logging.getLogger(__name__).warning("a sweep worker process died; restarting %d workers for the "
                                                "%d unfinished tasks", workers, len(todo))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    raise UserError(f"the sweep's worker processes died {POOL_RESTARTS + 1} times (out of memory?); the finished "
                    "replications are kept in the sweep directory: run the same command again to resume, with "
                    "fewer workers or a smaller scenario")


def execute(tasks: list[tuple[int, int, Scenario]], on_done: Callable[[int, int, dict], None], *,
             workers: int, scheduler: Any) -> None:
    """Run ``tasks`` [(cell, replication, scenario)], calling ``on_done`` in this process as each finishes."""
    if scheduler is None and workers <= 1:
        for cell, rep, sc in tasks:
            on_done(cell, rep, run_task(sc, rep))
        return
    if scheduler is None:
        _execute_locally(tasks, on_done, workers)
        return

    from distributed import Client, as_completed

    own_client = True
    if isinstance(scheduler, Client):
        client, own_client = scheduler, False
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}") from None
    token = uuid.uuid4().hex[:10]
    futures = {}
    try:
        # the scenario travels inside each task (a few kB), not scattered: scattered data dies with its
        # worker, a task's own arguments are resubmitted to another worker if one is killed
        for cell, rep, sc in tasks:
            fut = client.submit(run_task, sc, rep, key=f"o2c-sim-{token}-c{cell}-r{rep}", pure=False)
            futures[fut] = (cell, rep)
        for fut in as_completed(list(futures)):
            cell, rep = futures[fut]
            on_done(cell, rep, fut.result())
            fut.release()
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)
        if own_client:
            client.close()
