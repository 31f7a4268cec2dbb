"""Where a sweep's tasks run: in this process, on a local Dask cluster, or on an existing one.

A *task* is one replication of one cell; it returns that run's KPIs. Workers only compute: the
results come back to this process, which writes them, so no shared file system is needed.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Callable

from .errors import UserError
from .model import simulate
from .scenario import Scenario
from .sweep_stats import as_float

def run_task(scenario: Scenario, replication: int) -> dict[str, float]:
    """One task: replication ``replication`` of ``scenario`` → its KPIs plus :data:`EXTRA_METRICS`.

    Module-level so Dask workers can import it. Every value is a float (NaN where undefined).
    """
    result = simulate(scenario, replication)
    daily = result.daily
    window = daily[daily["day"] >= scenario.warmup_days]
    metrics = {k: as_float(v) for k, v in result.kpis.items()}
    metrics["ar_average"] = float(window["ar_total"].mean()) if len(window) else float("nan")
    metrics["window_days"] = float(scenario.horizon_days)
    return metrics




def execute(tasks: list[tuple[int, int, Scenario]], on_done: Callable[[int, int, dict], None], *,
             workers: int, scheduler: Any) -> None:
    """Run ``tasks`` [(cell, replication, scenario)], calling ``on_done`` in this process as each finishes."""
    if scheduler is None and workers <= 1:
        for cell, rep, sc in tasks:
            on_done(cell, rep, run_task(sc, rep))
        return

    from distributed import Client, LocalCluster, as_completed

    cluster = None
    own_client = True
    if isinstance(scheduler, Client):
        client, own_client = scheduler, False
    elif scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}") from None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
        client = Client(cluster)
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
        if cluster is not None:
            cluster.close()
