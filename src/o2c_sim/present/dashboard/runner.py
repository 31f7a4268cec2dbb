"""Simulations run in the background for the dashboards: a process pool that a slider move re-plans."""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable

from o2c_sim.errors import UserError
from o2c_sim.present.dashboard.setting import scenario_key
from o2c_sim.scenario import Scenario


def _simulate_kpis(scenario_json: str, replication: int) -> dict[str, float]:
    """Worker: one replication of a scenario given as JSON; returns its KPIs."""
    from o2c_sim.sim.model import simulate

    scenario = Scenario.model_validate_json(scenario_json)
    return {k: float(v) for k, v in simulate(scenario, replication).kpis.items()}


def _worker_init(parent_pid: int) -> None:
    """Worker start-up: import the model once, and exit if the dashboard's kernel goes away."""
    from o2c_sim.sim import model  # noqa: F401  (warm import)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def process_pool(workers: int) -> cf.Executor:
    """Worker processes started with ``spawn`` (safe inside a kernel that runs threads)."""
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_worker_init, initargs=(os.getpid(),))


Job = tuple[str, int]  # (scenario key, replication)


class Runner:
    """Runs replications in the background, caches their KPIs and tells the view when something changed.

    :meth:`want` replaces the list of wanted jobs (in priority order); jobs already running finish and
    are kept in the cache, pending ones that are no longer wanted are dropped. ``on_update`` is called
    from the runner's thread after every finished job and about twice a second while work is running.
    """

    def __init__(self, workers: int | None = None, *, executor_factory: Callable[[int], cf.Executor] = process_pool,
                 on_update: Callable[[], None] | None = None, tick: float = 0.5):
        self.workers = workers or max(1, min(2, os.cpu_count() or 1))
        self._factory = executor_factory
        self._executor: cf.Executor | None = None
        self.on_update = on_update
        self._tick = tick
        self._cond = threading.Condition()
        self._payload: dict[str, str] = {}
        self._results: dict[Job, dict[str, float]] = {}
        self._errors: dict[str, str] = {}
        self._running: dict[Job, tuple[cf.Future, float]] = {}
        self._wanted: list[Job] = []
        self._background: set[Job] = set()
        self._foreground = 0
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="o2c-dashboard-runner", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # ------------------------------------------------------------------------------ public
    def want(self, jobs: Iterable[tuple[Scenario, int]], background: Iterable[tuple[Scenario, int]] = ()) -> None:
        """Replace the wanted jobs (highest priority first).

        ``background`` jobs (e.g. the staffing curve) come after ``jobs`` and never occupy more than
        ``workers − 1`` workers, so that a widget change always finds a free worker at once.
        """
        wanted: list[Job] = []
        with self._cond:
            for scenario, rep in jobs:
                wanted.append(self._register(scenario, rep))
            self._foreground = len(dict.fromkeys(wanted))
            for scenario, rep in background:
                wanted.append(self._register(scenario, rep))
            self._wanted = list(dict.fromkeys(wanted))
            self._background = set(self._wanted[self._foreground:])
            self._cond.notify_all()

    def _register(self, scenario: Scenario, rep: int) -> Job:
        key = scenario_key(scenario)
        self._payload.setdefault(key, scenario.model_dump_json())
        return key, rep

    def results(self, key: str, replications: int) -> dict[int, dict[str, float]]:
        with self._cond:
            return {r: self._results[(key, r)] for r in range(replications) if (key, r) in self._results}

    def error(self, key: str) -> str | None:
        with self._cond:
            return self._errors.get(key)

    def running_since(self, key: str) -> float | None:
        """When the oldest running replication of ``key`` started (``time.monotonic()``), else None."""
        with self._cond:
            starts = [t for (k, _), (_, t) in self._running.items() if k == key]
        return min(starts) if starts else None

    @property
    def busy(self) -> bool:
        with self._cond:
            return bool(self._running) or any(self._pending(j) for j in self._wanted)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until nothing wanted is pending or running (for tests and scripts)."""
        end = time.monotonic() + timeout
        while self.busy:
            if time.monotonic() > end:
                return False
            time.sleep(0.05)
        return True

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            executor, self._executor = self._executor, None
            self._cond.notify_all()
        if executor is not None:
            # stop the workers now (a replication can take minutes), then let the pool wind down
            for proc in list(getattr(executor, "_processes", {}).values()):
                proc.terminate()
            executor.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------------------ internals
    def _pending(self, job: Job) -> bool:
        return job not in self._results and job not in self._running and job[0] not in self._errors

    def _harvest(self) -> bool:
        done = [(job, fut) for job, (fut, _) in self._running.items() if fut.done()]
        for job, fut in done:
            del self._running[job]
            try:
                self._results[job] = fut.result()
            except UserError as err:
                self._errors[job[0]] = str(err)
            except BrokenProcessPool:
                self._executor = None  # a worker died (e.g. out of memory): start afresh, report it
                self._errors[job[0]] = "a worker process stopped unexpectedly while running this setting (out of memory?)"
            except Exception as exc:  # noqa: BLE001 — shown in the page instead of a traceback
                self._errors[job[0]] = f"the simulation failed: {type(exc).__name__}: {exc}"
        return bool(done)

    def _submit(self) -> None:
        background_slots = max(1, self.workers - 1)
        for job in self._wanted:
            if len(self._running) >= self.workers:
                break
            if not self._pending(job):
                continue
            if job in self._background and sum(j in self._background for j in self._running) >= background_slots:
                break
            if self._executor is None:
                self._executor = self._factory(self.workers)
            fut = self._executor.submit(_simulate_kpis, self._payload[job[0]], job[1])
            fut.add_done_callback(self._wake)
            self._running[job] = (fut, time.monotonic())

    def _wake(self, _fut=None) -> None:
        with self._cond:
            self._cond.notify_all()

    def _submit_safely(self) -> bool:
        """Submit what fits; on failure (the pool cannot start) mark the pending jobs as failed."""
        if self._closed:
            return False
        try:
            self._submit()
            return False
        except Exception as exc:  # noqa: BLE001 — shown in the page instead of a traceback
            if self._closed:
                return False
            self._executor = None
            for job in self._wanted:
                if self._pending(job):
                    self._errors[job[0]] = f"cannot start a worker process: {type(exc).__name__}: {exc}"
            return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                changed = self._harvest()
                changed = self._submit_safely() or changed
                if not changed:
                    busy = bool(self._running)
                    self._cond.wait(timeout=self._tick if busy else None)
                    if self._closed:
                        return
                    changed = self._harvest() or busy
                    changed = self._submit_safely() or changed
            if changed and self.on_update is not None:
                try:
                    self.on_update()
                except Exception:  # noqa: BLE001 — a view error must not stop the runner
                    pass
