"""The logic behind the Voila dashboards in ``dashboards/`` (the notebooks only build the app and show it).

**Staffing what-if** (``dashboards/staffing_whatif.ipynb``, :class:`StaffingWhatIf`): widgets for the
number of collectors and dispute analysts, the worklist strategy, the dunning cadence and the scenario;
for a scenario with teams (docs/model.md §2.21), each team's collectors and the languages it serves
(``teams.desks.<name>.collectors``, ``teams.desks.<name>.languages``), the total following them.
Every widget value becomes a dotted-path override (``team.collectors=9``,
``dunning.steps.1.days_past_due=3`` …) applied with :meth:`Scenario.with_overrides` — the same mechanism
as ``o2c-sim run --set`` — and the page shows the equivalent command.

How the page stays fast (DESIGN §9):

* **Quick preview** by default: :data:`PREVIEW_OVERRIDES` (90 measured days after a 60-day warm-up
  instead of 365 after 180) and :data:`PREVIEW_REPLICATIONS` replications per setting. *Full length*
  runs the scenario's own horizon and replications; it takes minutes and shows progress.
* Replications run in worker processes (one per core) so the kernel never blocks; widgets stay live
  while a run is under way and a newer setting takes priority over older work.
* Every replication's KPIs are cached by (resolved scenario, replication), so returning to a setting,
  or moving the collectors slider along an already computed staffing curve, is instant. The baseline
  and the staffing curve are computed lazily, after the current setting, in that order.
* Numbers appear as soon as the first replication finishes; the confidence intervals narrow as the
  others arrive (status and progress bar say how many are in).

Replication *r* of every setting shares common random numbers with replication *r* of the baseline,
so the differences to the baseline are paired (:func:`o2c_sim.experiments.comparison.paired_differences`).

A value the model rejects (a :class:`~o2c_sim.errors.UserError`, e.g. dunning levels that are not
strictly increasing) is shown as a message in the page; the last valid view stays and the dashboard
keeps working.

**Cash forecast** (``dashboards/cash_forecast.ipynb``, :class:`CashForecast`): a history file (the IBM
sample when present, else a history simulated from the baseline scenario) and an as-of date; the
13-week fan chart per model, back-test accuracy and the what-if with more or fewer collectors, all
through :mod:`o2c_sim.forecast`.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import hashlib
import html
import json
import math
import multiprocessing
import os
import shlex
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from o2c_sim.errors import UserError
from o2c_sim.kpis import CATALOGUE
from o2c_sim.sim.results import KPI_UNITS
from o2c_sim import strategies
from o2c_sim.scenario import STRATEGIES, DunningStep, Scenario, resized_collectors

#: run-length overrides of the quick preview (kept through the one override mechanism)
PREVIEW_OVERRIDES: dict[str, int] = {"horizon_days": 90, "warmup_days": 60}
#: replications per setting in the quick preview (full length uses the scenario's own number)
PREVIEW_REPLICATIONS = 3

#: the KPIs the staffing dashboard shows, in order
HEADLINE_KPIS = ("dso", "cei", "pct_over_90", "bad_debt_ratio", "coverage_pct", "dispute_sla_pct",
                 "collector_utilisation", "cash_per_week")
KPI_NAMES = {k: CATALOGUE[k].label for k in HEADLINE_KPIS}
#: +1: higher is better, −1: lower is better, 0: neither (utilisation is a trade-off)
KPI_DIRECTION = {k: CATALOGUE[k].better for k in HEADLINE_KPIS}

STRATEGY_LABELS = {
    "oldest_first": "Oldest item first",
    "largest_balance": "Largest past-due balance first",
    "risk_weighted": "Risk-weighted expected value",
    "broken_promises_first": "Broken promises first",
    "scored_rules": "Scored rules (SAP-style)",
}


# ===================================================================================== settings


@dataclass(frozen=True)
class DeskSetting:
    """One team's widgets: its head count and the account languages it serves."""

    name: str
    collectors: int
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Setting:
    """What the widgets of the staffing dashboard say. ``None`` cadence values mean "as written". With
    teams, ``desks`` holds each team's widgets and ``collectors`` is their total."""

    scenario: str = "baseline"
    collectors: int = 6
    dispute_analysts: int = 3
    strategy: str = "oldest_first"
    first_reminder_day: int | None = None
    level_spacing: int | None = None
    full_length: bool = False
    desks: tuple[DeskSetting, ...] = ()


@dataclass(frozen=True)
class Cadence:
    """A dunning cadence as the widgets see it: the first level on or after the due date and the
    (rounded mean) spacing between levels. Pre-due reminders (negative days) are kept as written."""

    first_reminder_day: int | None
    level_spacing: int | None
    days: tuple[int, ...]

    @property
    def has_levels(self) -> bool:
        return self.first_reminder_day is not None


def cadence_of(steps: Iterable[DunningStep | Mapping[str, Any]]) -> Cadence:
    """The widget view of a list of dunning steps.

    >>> cadence_of([{"days_past_due": -3}, {"days_past_due": 10}, {"days_past_due": 25}, {"days_past_due": 45}])
    Cadence(first_reminder_day=10, level_spacing=18, days=(-3, 10, 25, 45))
    """
    days = tuple(int(s["days_past_due"] if isinstance(s, Mapping) else s.days_past_due) for s in steps)
    levels = [d for d in days if d >= 0]
    if not levels:
        return Cadence(None, None, days)
    spacing = round((levels[-1] - levels[0]) / (len(levels) - 1)) if len(levels) > 1 else 14
    return Cadence(levels[0], int(spacing), days)


def cadence_overrides(steps: list[DunningStep] | list[Mapping[str, Any]], first_reminder_day: int | None,
                      level_spacing: int | None, prefix: str = "dunning.steps") -> dict[str, int]:
    """Dotted-path overrides that move the dunning levels to ``first, first + spacing, …`` days past due.

    Levels are the steps on or after the due date (``days_past_due ≥ 0``); pre-due reminders stay as
    written. Values equal to the cadence as written (see :func:`cadence_of`), or ``None``, give no
    overrides, so the untouched widgets reproduce the scenario exactly. Whether the result is a valid
    cadence (strictly increasing days) is for the scenario schema to decide.

    >>> steps = [{"days_past_due": -3}, {"days_past_due": 10}, {"days_past_due": 25}, {"days_past_due": 45}]
    >>> cadence_overrides(steps, 3, 7)
    {'dunning.steps.1.days_past_due': 3, 'dunning.steps.2.days_past_due': 10, 'dunning.steps.3.days_past_due': 17}
    >>> cadence_overrides(steps, 10, 18)
    {}
    """
    written = cadence_of(steps)
    if not written.has_levels:
        return {}
    first = written.first_reminder_day if first_reminder_day is None else int(first_reminder_day)
    spacing = written.level_spacing if level_spacing is None else int(level_spacing)
    if (first, spacing) == (written.first_reminder_day, written.level_spacing):
        return {}
    level_index = [i for i, d in enumerate(written.days) if d >= 0]
    return {f"{prefix}.{i}.days_past_due": first + k * spacing for k, i in enumerate(level_index)}


def setting_from_scenario(name: str, scenario: Scenario) -> Setting:
    """The widget values that reproduce ``scenario`` as written."""
    cad = cadence_of(scenario.dunning.steps)
    desks = tuple(DeskSetting(d.name, len(d.speakers()), tuple(d.languages)) for d in scenario.teams.desks) \
        if scenario.teams.enabled else ()
    return Setting(scenario=name, collectors=scenario.team.collectors, dispute_analysts=scenario.team.dispute_analysts,
                   strategy=scenario.strategy.prioritisation, first_reminder_day=cad.first_reminder_day,
                   level_spacing=cad.level_spacing, desks=desks)


def desk_overrides(desks: Iterable[DeskSetting], base: Scenario) -> dict[str, Any]:
    """The overrides of the team widgets: a team's head count (a team listing its collectors one by one
    keeps their language profiles, :func:`o2c_sim.scenario.resized_collectors`) and the languages it serves."""
    written = {d.name: d for d in base.teams.desks}
    out: dict[str, Any] = {}
    for ds in desks:
        desk = written[ds.name]
        if ds.collectors != len(desk.speakers()):
            people = desk.collectors if isinstance(desk.collectors, int) else [c.model_dump(mode="json") for c in desk.collectors]
            out[f"teams.desks.{ds.name}.collectors"] = resized_collectors(people, ds.collectors)
        if set(ds.languages) != set(desk.languages):
            out[f"teams.desks.{ds.name}.languages"] = list(ds.languages)
    return out


def overrides_for(setting: Setting, base: Scenario) -> dict[str, Any]:
    """The dotted-path overrides a setting applies to its scenario (those equal to the file are left out).

    The cadence applies to ``dunning.steps`` and to any segment or team with its own ``dunning_steps``.
    """
    out: dict[str, Any] = {}
    if setting.desks:  # with teams the head count is the teams'; team.collectors follows them
        out.update(desk_overrides(setting.desks, base))
    elif setting.collectors != base.team.collectors:
        out["team.collectors"] = setting.collectors
    if setting.dispute_analysts != base.team.dispute_analysts:
        out["team.dispute_analysts"] = setting.dispute_analysts
    if setting.strategy != base.strategy.prioritisation:
        out["strategy.prioritisation"] = setting.strategy
    out.update(cadence_overrides(base.dunning.steps, setting.first_reminder_day, setting.level_spacing))
    for seg in base.portfolio.segments:
        if seg.dunning_steps:
            out.update(cadence_overrides(seg.dunning_steps, setting.first_reminder_day, setting.level_spacing,
                                         prefix=f"portfolio.segments.{seg.name}.dunning_steps"))
    for desk in base.teams.desks if base.teams.enabled else ():
        if desk.dunning_steps:
            out.update(cadence_overrides(desk.dunning_steps, setting.first_reminder_day, setting.level_spacing,
                                         prefix=f"teams.desks.{desk.name}.dunning_steps"))
    return out


def run_length(scenario: Scenario, full_length: bool) -> tuple[dict[str, int], int]:
    """Run-length overrides and replications: the quick preview or the scenario's own."""
    if full_length:
        return {}, scenario.replications
    ov = {k: min(v, getattr(scenario, k)) for k, v in PREVIEW_OVERRIDES.items()}
    ov = {k: v for k, v in ov.items() if v != getattr(scenario, k)}
    return ov, PREVIEW_REPLICATIONS


def resolve(setting: Setting, base: Scenario) -> Scenario:
    """The scenario a setting describes, validated by the schema (raises :class:`UserError`)."""
    for field, value in (("collectors", setting.collectors), ("dispute_analysts", setting.dispute_analysts),
                         ("first_reminder_day", setting.first_reminder_day), ("level_spacing", setting.level_spacing),
                         *((f"collectors of {ds.name}", ds.collectors) for ds in setting.desks)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise UserError(f"{field.replace('_', ' ')} must be a whole number, got {value!r}")
    try:
        strategies.canonical(setting.strategy)
    except ValueError as err:
        raise UserError(str(err)) from None
    return base.with_overrides(overrides_for(setting, base))


def rejection_message(err: UserError, overrides: Mapping[str, Any] | None = None) -> str:
    """A readable one-paragraph message for a setting the model rejects.

    The scenario schema's message names the field and what was expected; the echo of the whole
    offending value (``(got [...])``) is shortened, and the overrides the widgets applied are listed.
    """
    text = str(err)
    if err.source and text.startswith(f"{err.source}: "):
        text = text[len(err.source) + 2:]
    parts = []
    for part in text.split("; "):
        cut = part.find(" (got ")
        if cut > 0 and len(part) - cut > 80:
            part = part[:cut]
        parts.append(part)
    text = "; ".join(parts)
    msg = f"The model rejected this setting: {text}."
    if overrides:
        msg += " Overrides tried: " + ", ".join(f"{k}={v}" for k, v in overrides.items()) + "."
    return msg + " The view still shows the last valid setting; change the value to continue."


def overrides_for_safe(setting: Setting, base: Scenario) -> dict[str, Any]:
    """:func:`overrides_for`, or an empty mapping when the setting cannot even be mapped."""
    try:
        return overrides_for(setting, base)
    except (UserError, TypeError, ValueError):
        return {}


def cli_command(setting: Setting, base: Scenario) -> str:
    """The ``o2c-sim run`` command that runs the same setting at full length."""
    parts = ["o2c-sim", "run", setting.scenario]
    for key, value in overrides_for(setting, base).items():
        text = json.dumps(value, separators=(",", ":")) if isinstance(value, (list, dict)) else value
        parts += ["--set", shlex.quote(f"{key}={text}")]
    return " ".join(parts)


def describe_cadence(scenario: Scenario) -> str:
    """``"pre-due −3; levels 10, 25, 45 days past due"`` for the page."""
    days = [s.days_past_due for s in scenario.dunning.steps]
    pre = [d for d in days if d < 0]
    levels = [d for d in days if d >= 0]
    text = []
    if pre:
        text.append("pre-due reminder at " + ", ".join(f"{-d} days before due" for d in pre))
    text.append(("levels at " + ", ".join(str(d) for d in levels) + " days past due") if levels else "no levels after the due date")
    return "; ".join(text)


def shipped_scenarios() -> list[str]:
    """Names of the shipped scenarios, ``baseline`` first."""
    from o2c_sim.settings import SCENARIOS_DIR

    names = sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))
    return sorted(names, key=lambda n: (n != "baseline", n))


def scenario_key(scenario: Scenario) -> str:
    """A stable key of a resolved scenario (the cache key, together with the replication)."""
    return hashlib.sha1(scenario.model_dump_json().encode()).hexdigest()[:16]


# ===================================================================================== the runner


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


# ===================================================================================== summaries


def summarise(base_runs: Mapping[int, Mapping[str, float]], setting_runs: Mapping[int, Mapping[str, float]],
              kpis: Iterable[str] = HEADLINE_KPIS):
    """Means, 95 % CIs and paired differences of the setting against the baseline (one row per KPI).

    Columns: ``kpi, unit, base, base_lo, base_hi, base_n, mean, lo, hi, n, diff, diff_lo, diff_hi,
    significant``. Missing replications give NaN; differences pair the replications both have
    (replication *r* of both shares common random numbers); means within the KPI's range as
    :func:`o2c_sim.kpis.kpi_mean_ci95`, differences Student-t as :func:`o2c_sim.kpis.mean_ci95`. ``significant``: at least two pairs and the interval excludes zero.
    """
    import numpy as np
    import pandas as pd

    from o2c_sim.kpis import kpi_mean_ci95, mean_ci95

    kpis = list(kpis)
    paired_reps = sorted(set(base_runs) & set(setting_runs))
    rows = []
    for k in kpis:
        b = kpi_mean_ci95(k, [v.get(k, math.nan) for v in base_runs.values()])
        s = kpi_mean_ci95(k, [v.get(k, math.nan) for v in setting_runs.values()])
        d = mean_ci95([setting_runs[r].get(k, math.nan) - base_runs[r].get(k, math.nan) for r in paired_reps])
        rows.append({"kpi": k, "unit": KPI_UNITS.get(k, ""), "base": b[0], "base_lo": b[1], "base_hi": b[2],
                     "base_n": len(base_runs), "mean": s[0], "lo": s[1], "hi": s[2], "n": len(setting_runs),
                     "diff": d[0], "diff_lo": d[1], "diff_hi": d[2]})
    out = pd.DataFrame(rows)
    paired = len(set(base_runs) & set(setting_runs))
    out["significant"] = (paired >= 2) & np.isfinite(out["diff_lo"]) & ((out["diff_lo"] > 0) | (out["diff_hi"] < 0))
    return out


def fmt_value(value: float, unit: str) -> str:
    """A KPI value for the page: money without decimals, percentages and days with one."""
    if value is None or not math.isfinite(value):
        return "…"
    if unit == "money":
        return f"{value:,.0f}"
    if unit == "%":
        return f"{value:,.2f} %" if abs(value) < 1 else f"{value:,.1f} %"
    return f"{value:,.1f}"


def _fmt_ci(lo: float, hi: float, unit: str, n: int) -> str:
    if n < 2 or not (math.isfinite(lo) and math.isfinite(hi)):
        return "95% CI after 2 replications" if n < 2 else ""
    strip = lambda v: fmt_value(v, unit).replace(" %", "")  # noqa: E731
    return f"[{strip(lo)}, {strip(hi)}]"


def _attr(v: float) -> str:
    return "" if v is None or not math.isfinite(v) else repr(float(v))


def kpi_table_html(table, *, key: str, base_key: str, replications: int) -> str:
    """The KPI table with stable DOM hooks: ``#kpi-<kpi>-baseline``, ``#kpi-<kpi>-setting`` and
    ``#kpi-<kpi>-diff`` cells carry ``data-value``/``data-lo``/``data-hi``/``data-n``; the table carries
    ``data-key`` (the setting's cache key) and ``data-complete`` ("true" when every replication is in)."""
    complete = int(table["n"].iloc[0]) >= replications and int(table["base_n"].iloc[0]) >= replications
    rows = []
    for r in table.itertuples(index=False):
        direction = KPI_DIRECTION.get(r.kpi, 0)
        tone = "neutral"
        if r.significant and direction:
            tone = "better" if (r.diff > 0) == (direction > 0) else "worse"
        sign = "+" if math.isfinite(r.diff) and r.diff > 0 else ""
        diff_text = (sign + fmt_value(r.diff, r.unit)) if math.isfinite(r.diff) else "…"
        diff_ci = _fmt_ci(r.diff_lo, r.diff_hi, r.unit, min(int(r.n), int(r.base_n)))
        name = html.escape(KPI_NAMES.get(r.kpi, r.kpi))
        unit = "" if r.unit in ("%", "money") else html.escape(r.unit)
        rows.append(
            f'<tr data-kpi="{r.kpi}"><th scope="row">{name}<span class="o2c-unit">{unit}</span></th>'
            f'<td id="kpi-{r.kpi}-baseline" class="o2c-kpi" data-value="{_attr(r.base)}" data-lo="{_attr(r.base_lo)}" '
            f'data-hi="{_attr(r.base_hi)}" data-n="{int(r.base_n)}">{fmt_value(r.base, r.unit)}'
            f'<div class="o2c-ci">{_fmt_ci(r.base_lo, r.base_hi, r.unit, int(r.base_n))}</div></td>'
            f'<td id="kpi-{r.kpi}-setting" class="o2c-kpi" data-value="{_attr(r.mean)}" data-lo="{_attr(r.lo)}" '
            f'data-hi="{_attr(r.hi)}" data-n="{int(r.n)}">{fmt_value(r.mean, r.unit)}'
            f'<div class="o2c-ci">{_fmt_ci(r.lo, r.hi, r.unit, int(r.n))}</div></td>'
            f'<td id="kpi-{r.kpi}-diff" class="o2c-kpi o2c-{tone}" data-value="{_attr(r.diff)}" '
            f'data-lo="{_attr(r.diff_lo)}" data-hi="{_attr(r.diff_hi)}">{diff_text}<div class="o2c-ci">{diff_ci}</div></td></tr>'
        )
    return (
        f'<table id="kpi-table" class="o2c-kpis" data-key="{key}" data-base-key="{base_key}" '
        f'data-complete="{str(complete).lower()}">'
        "<thead><tr><th>KPI</th><th>Baseline</th><th>Your setting</th><th>Change (paired 95% CI)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


STYLE = """<style>
.o2c-kpis {border-collapse: collapse; font-size: 14px; min-width: 620px}
.o2c-kpis th, .o2c-kpis td {padding: 6px 12px; border-bottom: 1px solid #e3e6ea; text-align: right; vertical-align: top}
.o2c-kpis th[scope=row], .o2c-kpis thead th:first-child {text-align: left; font-weight: 600}
.o2c-kpis thead th {background: #f4f6f8}
.o2c-kpi {font-variant-numeric: tabular-nums; font-size: 15px}
.o2c-ci {font-size: 11px; color: #6b7785}
.o2c-unit {font-weight: 400; color: #6b7785; margin-left: 6px; font-size: 12px}
.o2c-better {color: #1b7f3b; font-weight: 600}
.o2c-worse {color: #b42318; font-weight: 600}
.o2c-error {background: #fdecea; border: 1px solid #f5c2c0; color: #7a1d18; padding: 8px 12px; border-radius: 4px}
.o2c-status {color: #44505c; font-size: 13px}
.o2c-note {color: #44505c; font-size: 12px}
.o2c-cmd {font-family: monospace; font-size: 12px; background: #f4f6f8; padding: 4px 8px; word-break: break-all}
</style>"""


def plain_arrays(obj: Any) -> Any:
    """Plotly JSON with its base64 typed arrays (``{"dtype", "bdata"}``) decoded to plain lists, so the
    figure data in the page (``gd.data``) is readable as numbers (the browser tests read it)."""
    import base64

    import numpy as np

    if isinstance(obj, dict):
        if set(obj) >= {"dtype", "bdata"} and set(obj) <= {"dtype", "bdata", "shape"}:
            arr = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]))
            if "shape" in obj:
                shape = obj["shape"]
                arr = arr.reshape([int(x) for x in (shape.split(",") if isinstance(shape, str) else shape)])
            return [None if isinstance(v, float) and not math.isfinite(v) else v for v in arr.tolist()] \
                if arr.ndim == 1 else arr.tolist()
        return {k: plain_arrays(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain_arrays(v) for v in obj]
    return obj


def plotly_output(fig) -> dict:
    """A display-data output of a plotly figure (rendered by the plotly mime renderer in Voila)."""
    import json

    import plotly.io as pio

    return {"output_type": "display_data", "metadata": {},
            "data": {"application/vnd.plotly.v1+json": plain_arrays(json.loads(pio.to_json(fig, validate=False))),
                     "text/plain": f"<{fig.layout.title.text or 'figure'}>"}}


def curve_frame(points: Mapping[int, Mapping[int, Mapping[str, float]]], kpi: str):
    """One row per (collectors, replication) with the KPI's value, for the staffing curve figure."""
    import pandas as pd

    rows = [{"collectors": c, "replication": r, kpi: v.get(kpi, math.nan)}
            for c, runs in sorted(points.items()) for r, v in sorted(runs.items())]
    return pd.DataFrame(rows, columns=["collectors", "replication", kpi])


def curve_collectors(collectors: int, current: int, max_points: int = 9, minimum: int = 1) -> list[int]:
    """Headcounts of the staffing curve: about half to one and a half times the scenario's team (never
    below ``minimum``: with teams on, one per staffed desk), the current choice always included, at most
    ``max_points`` (plus the current) evenly spaced."""
    lo, hi = max(minimum, math.floor(collectors * 0.5)), max(collectors + 2, math.ceil(collectors * 1.5))
    step = max(1, math.ceil((hi - lo + 1) / max_points))
    values = set(range(lo, hi + 1, step)) | {collectors, current}
    return sorted(v for v in values if v >= 0)


# ===================================================================================== the app


def query_params(query: str | None = None) -> dict[str, str]:
    """The page's URL query (Voila passes it to the kernel as ``$QUERY_STRING``), last value per key.

    Lets a link open a dashboard pre-set, e.g. ``staffing_whatif.ipynb?scenario=lean_team``."""
    from urllib.parse import parse_qs

    text = os.environ.get("QUERY_STRING", "") if query is None else query
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=False).items()}


class StaffingWhatIf:
    """The staffing what-if dashboard: widgets, a background runner and a view built from the cache.

    ``base_overrides`` are applied to every scenario chosen (e.g. a smaller portfolio in tests);
    ``runner`` lets tests run replications in threads. ``app.widget`` is what the notebook displays.
    """

    @classmethod
    def from_page(cls, default_scenario: str = "baseline") -> "StaffingWhatIf":
        """The app for a Voila page: ``?scenario=NAME`` in the URL picks the scenario."""
        return cls(query_params().get("scenario", default_scenario))

    def __init__(self, scenario: str = "baseline", *, base_overrides: Mapping[str, Any] | None = None,
                 runner: Runner | None = None, curve: bool = True):
        import ipywidgets as w

        self.base_overrides = dict(base_overrides or {})
        self.show_curve = curve
        self._lock = threading.RLock()
        self._syncing = False
        self._state: dict[str, Any] | None = None
        self._curve_signature: Any = None
        self._diff_signature: Any = None
        self._last_error: str | None = None
        self.last_traceback: str | None = None
        self.runner = runner or Runner()
        self.runner.on_update = self.refresh

        names = shipped_scenarios()
        self.scenario_w = w.Dropdown(options=names, value=scenario if scenario in names else names[0],
                                     description="Scenario")
        self.collectors_w = w.IntSlider(value=6, min=0, max=20, description="Collectors", continuous_update=False)
        self.analysts_w = w.IntSlider(value=3, min=0, max=12, description="Dispute analysts", continuous_update=False)
        self.strategy_w = w.Dropdown(options=[(STRATEGY_LABELS.get(s, s), s) for s in STRATEGIES], description="Worklist")
        self.first_w = w.IntText(value=10, description="1st reminder", tooltip="days past due of the first dunning level")
        self.spacing_w = w.IntText(value=15, description="Level spacing", tooltip="days between dunning levels")
        self.length_w = w.ToggleButtons(options=[("Quick preview", False), ("Full length", True)], value=False,
                                        description="Run length")
        self.curve_kpi_w = w.Dropdown(options=[(KPI_NAMES[k], k) for k in HEADLINE_KPIS], value="dso",
                                      description="Curve KPI")
        self.target_w = w.Text(value="", placeholder="e.g. 45", description="Target")
        for widget, cls in ((self.scenario_w, "o2c-scenario"), (self.collectors_w, "o2c-collectors"),
                            (self.analysts_w, "o2c-analysts"), (self.strategy_w, "o2c-strategy"),
                            (self.first_w, "o2c-first-reminder"), (self.spacing_w, "o2c-level-spacing"),
                            (self.length_w, "o2c-run-length"), (self.curve_kpi_w, "o2c-curve-kpi"),
                            (self.target_w, "o2c-target")):
            widget.add_class(cls)
            widget.style.description_width = "110px"
            widget.layout.width = "380px"
        self.length_w.style.button_width = "120px"
        self.curve_kpi_w.layout.width = self.target_w.layout.width = "300px"

        self.status_w = w.HTML(layout=w.Layout(min_height="22px"))
        self.status_w.add_class("o2c-status-box")
        self.progress_w = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="320px"))
        self.progress_w.add_class("o2c-progress")
        self.error_w = w.HTML()
        self.error_w.add_class("o2c-error-box")
        self.cadence_w = w.HTML()
        self.teams_box = w.VBox()  # one head count and one language choice per team, when the scenario has teams
        self.teams_box.add_class("o2c-teams")
        self.desk_widgets: list[tuple[str, Any, Any]] = []
        self.command_w = w.HTML()
        self.table_w = w.HTML()
        self.table_w.add_class("o2c-kpi-box")
        self.curve_w = w.Output()
        self.curve_w.add_class("o2c-curve")
        self.diff_w = w.Output()
        self.diff_w.add_class("o2c-diff")
        from o2c_sim.present.dashboard_drivers import DriversPanel

        self.drivers = DriversPanel(HEADLINE_KPIS, key=scenario_key, render=plotly_output, strategy_labels=STRATEGY_LABELS,
                                    on_kpi=lambda: self.refresh(force_figures=True))

        controls = w.VBox([
            w.HTML("<b>Team and strategy</b>"), self.scenario_w, self.collectors_w, self.analysts_w, self.strategy_w,
            self.teams_box, w.HTML("<b>Dunning cadence</b>"), self.first_w, self.spacing_w, self.cadence_w,
            w.HTML("<b>Run</b>"), self.length_w,
        ], layout=w.Layout(width="410px", min_width="410px", padding="0 16px 0 0"))
        results = w.VBox([w.HBox([self.progress_w, self.status_w]), self.error_w, self.table_w,
                          self.drivers.uncertainty_w, self.command_w],
                         layout=w.Layout(flex="1 1 auto"))
        curve_box = w.VBox([w.HBox([self.curve_kpi_w, self.target_w]), self.curve_w])
        self.widget = w.VBox([
            w.HTML(STYLE + PAGE_NOTE),
            w.HBox([controls, results]),
            w.HBox([w.VBox([curve_box], layout=w.Layout(width="50%")),
                    w.VBox([self.diff_w, self.drivers.widget], layout=w.Layout(width="50%"))]),
        ])

        self._load_scenario(self.scenario_w.value)
        self.scenario_w.observe(self._on_scenario, names="value")
        for widget in (self.collectors_w, self.analysts_w, self.strategy_w, self.first_w, self.spacing_w, self.length_w):
            widget.observe(self._on_change, names="value")
        for widget in (self.curve_kpi_w, self.target_w):
            widget.observe(lambda _change: self.refresh(force_figures=True), names="value")
        self._on_change()

    # ------------------------------------------------------------------------------ settings
    def _load_scenario(self, name: str) -> None:
        from o2c_sim.scenario import load_scenario

        self.base = load_scenario(name, self.base_overrides or None)
        s = setting_from_scenario(name, self.base)
        self._syncing = True
        try:
            self.collectors_w.max = max(20, 2 * s.collectors)
            self.collectors_w.value = s.collectors
            self.analysts_w.max = max(12, 2 * s.dispute_analysts)
            self.analysts_w.value = s.dispute_analysts
            if s.strategy not in [value for _, value in self.strategy_w.options]:  # the scenario's own class
                self.strategy_w.options = [*self.strategy_w.options, (s.strategy.rpartition(":")[2], s.strategy)]
            self.strategy_w.value = s.strategy
            has_levels = s.first_reminder_day is not None
            self.first_w.disabled = self.spacing_w.disabled = not has_levels
            if has_levels:
                self.first_w.value, self.spacing_w.value = s.first_reminder_day, s.level_spacing
            self._build_desk_widgets(s)
        finally:
            self._syncing = False

    def _build_desk_widgets(self, s: Setting) -> None:
        """A head-count slider and a language choice per team; the total collectors slider then only shows their sum."""
        import ipywidgets as w

        languages = sorted({lang for shares in self.base.teams.languages.values() for lang in shares}
                           | {lang for ds in s.desks for lang in ds.languages})
        self.desk_widgets, rows = [], []
        for ds in s.desks:
            count = w.IntSlider(value=ds.collectors, min=0, max=max(20, 2 * ds.collectors), description=ds.name,
                                continuous_update=False, tooltip=f"collectors of team {ds.name}")
            spoken = w.SelectMultiple(options=languages, value=tuple(g for g in languages if g in ds.languages),
                                      rows=min(4, len(languages)), description="languages",
                                      tooltip=f"account languages team {ds.name} serves (its collectors speak them)")
            for widget, cls in ((count, "o2c-desk-collectors"), (spoken, "o2c-desk-languages")):
                widget.add_class(cls)
                widget.add_class(f"{cls}-{ds.name}")
                widget.style.description_width = "110px"
                widget.layout.width = "380px"
                widget.observe(self._on_change, names="value")
            self.desk_widgets.append((ds.name, count, spoken))
            rows += [count, spoken]
        heading = w.HTML("<b>Teams</b>: collectors and the account languages each serves")
        self.teams_box.children = [heading, *rows] if rows else []
        self.collectors_w.disabled = bool(rows)

    def setting(self) -> Setting:
        """The setting the widgets show."""
        levels = not self.first_w.disabled
        desks = tuple(DeskSetting(name, int(count.value), tuple(spoken.value)) for name, count, spoken in self.desk_widgets)
        return Setting(scenario=self.scenario_w.value,
                       collectors=sum(ds.collectors for ds in desks) if desks else int(self.collectors_w.value),
                       dispute_analysts=int(self.analysts_w.value), strategy=self.strategy_w.value,
                       first_reminder_day=int(self.first_w.value) if levels else None,
                       level_spacing=int(self.spacing_w.value) if levels else None,
                       full_length=bool(self.length_w.value), desks=desks)

    def _on_scenario(self, change) -> None:
        try:
            self._load_scenario(change["new"])
        except UserError as err:
            self._show_error(f"Cannot load scenario {change['new']!r}: {err}")
            return
        self._on_change()

    def _on_change(self, _change=None) -> None:
        if self._syncing:
            return
        setting = self.setting()
        if setting.desks:  # the total slider shows the teams' sum
            self._syncing = True
            try:
                self.collectors_w.max = max(self.collectors_w.max, setting.collectors)
                self.collectors_w.value = setting.collectors
            finally:
                self._syncing = False
        try:
            scenario = resolve(setting, self.base)
            length, reps = run_length(self.base, setting.full_length)
            run = scenario.with_overrides(length) if length else scenario
            base_run = self.base.with_overrides(length) if length else self.base
        except UserError as err:
            self._show_error(rejection_message(err, overrides_for_safe(setting, self.base)))
            return
        self._last_error = None
        teams = self.base.teams
        fewest = sum(1 for d in teams.desks if d.speakers()) if teams.enabled else 1  # team.collectors is shared among the desks
        points = curve_collectors(self.base.team.collectors, setting.collectors, minimum=fewest) if self.show_curve else []
        curve = {c: run.with_overrides({"team.collectors": c}) if c != setting.collectors else run for c in points}
        state = {"setting": setting, "scenario": scenario, "run": run, "key": scenario_key(run),
                 "base_key": scenario_key(base_run), "reps": reps,
                 "curve": {c: scenario_key(sc) for c, sc in curve.items()}, "changed_at": time.monotonic()}
        jobs = [(run, r) for r in range(reps)] + [(base_run, r) for r in range(reps)]
        background = [(curve[c], r) for c in sorted(curve, key=lambda c: (abs(c - setting.collectors), c))
                      for r in range(reps)]
        with self._lock:
            self._state = state
        self.runner.want(jobs, background)
        self.drivers.request(self.base, scenario, overrides_for(setting, self.base), run_length(self.base, False)[0],
                             lambda plan: self._with_drivers(state, jobs, background, plan))
        self.refresh()

    def _with_drivers(self, state: dict[str, Any], jobs: list, background: list, plan) -> None:
        """Queue the "what drives this" cells: their first replication before the staffing curve, the rest after."""
        first, rest = plan.jobs()
        with self._lock:
            if self._state is not state:
                return
            state["drivers"] = plan
            self.runner.want(jobs, first + background + rest)
        self.refresh()

    def _show_error(self, message: str) -> None:
        self._last_error = message
        self.error_w.value = f'<div id="dashboard-error" class="o2c-error" role="alert">{html.escape(message)}</div>'

    # ------------------------------------------------------------------------------ the view
    def refresh(self, force_figures: bool = False) -> None:
        """Rebuild the view from the cache (called after every finished replication and widget change).

        A failure while drawing is shown as a one-line message (the traceback is kept in
        ``last_traceback`` for whoever debugs it), never as a traceback in the page."""
        try:
            self._refresh(force_figures)
        except Exception as exc:  # noqa: BLE001
            import traceback

            self.last_traceback = traceback.format_exc()
            self.error_w.value = (f'<div id="dashboard-error" class="o2c-error" role="alert">The view could not be '
                                  f'updated: {html.escape(type(exc).__name__)}: {html.escape(str(exc))}</div>')

    def _refresh(self, force_figures: bool) -> None:
        with self._lock:
            st = self._state
            if st is None:
                return
            reps, key, base_key = st["reps"], st["key"], st["base_key"]
            runs = self.runner.results(key, reps)
            base_runs = self.runner.results(base_key, reps)
            errors = [e for e in (self.runner.error(key), self.runner.error(base_key)) if e]
            points = {c: self.runner.results(k, reps) for c, k in st["curve"].items()}
            complete_points = {c: r for c, r in points.items() if len(r) >= reps}
            setting: Setting = st["setting"]

            if self._last_error is None:
                self.error_w.value = (
                    f'<div id="dashboard-error" class="o2c-error" role="alert">{html.escape("; ".join(errors))}</div>'
                    if errors else "")
            table = summarise(base_runs, runs)
            self.table_w.value = kpi_table_html(table, key=key, base_key=base_key, replications=reps)
            self.cadence_w.value = f'<div class="o2c-note" id="cadence-text">{html.escape(describe_cadence(st["scenario"]))}</div>'
            cmd = cli_command(setting, self.base)
            self.command_w.value = (f'<div class="o2c-note">Full-length run of this setting from a shell:</div>'
                                    f'<div class="o2c-cmd" id="cli-command">{html.escape(cmd)}</div>')

            total = reps * (2 + len(st["curve"]))
            done = len(runs) + len(base_runs) + sum(len(r) for c, r in points.items())
            done = min(done, total)
            self.progress_w.max, self.progress_w.value = total, done
            state = "ready" if len(runs) >= reps and len(base_runs) >= reps else ("error" if errors else "running")
            parts = [f"your setting {len(runs)}/{reps} replications", f"baseline {len(base_runs)}/{reps}"]
            if st["curve"]:
                parts.append(f"staffing curve {len(complete_points)}/{len(st['curve'])} points")
            since = self.runner.running_since(key)
            if since is not None:
                parts.append(f"running for {time.monotonic() - since:.0f} s")
            mode = "full length" if setting.full_length else "quick preview"
            self.status_w.value = (
                f'<span id="dashboard-status" class="o2c-status" data-state="{state}" data-key="{key}" '
                f'data-reps="{len(runs)}" data-curve-points="{len(complete_points)}">'
                f'{html.escape(mode)}: {html.escape(" · ".join(parts))}</span>')

            if self.show_curve:
                self._draw_curve(complete_points, runs, base_runs, setting, reps, force_figures)
            self._draw_diff(table, force_figures)
            self.drivers.show(st.get("drivers"), st["scenario"], self.runner.results, self.runner.error, force_figures)

    def _target(self) -> float | None:
        text = self.target_w.value.strip()
        if not text:
            return None
        try:
            return float(text.replace(",", ""))
        except ValueError:
            return math.nan

    def _draw_curve(self, points, runs, base_runs, setting: Setting, reps: int, force: bool) -> None:
        from o2c_sim.present.figures.dashboard import staffing_curve_with_choice

        kpi = self.curve_kpi_w.value
        target = self._target()
        signature = (kpi, target, tuple(sorted(points)), setting, len(runs), len(base_runs))
        if signature == self._curve_signature and not force:
            return
        self._curve_signature = signature
        if target is not None and math.isnan(target):
            self._show_error(f"Target {self.target_w.value!r} is not a number; expected e.g. 45")
            target = None
        elif self._last_error and self._last_error.startswith("Target"):
            self._last_error = None
            self.error_w.value = ""
        mean = lambda rs: sum(v[kpi] for v in rs.values()) / len(rs) if rs else None  # noqa: E731
        fig = staffing_curve_with_choice(
            curve_frame(points, kpi), kpi, choice=(setting.collectors, mean(runs)),
            baseline=(self.base.team.collectors, mean(base_runs)), target=target,
            title=f"{KPI_NAMES[kpi]} by number of collectors ({'full length' if setting.full_length else 'quick preview'})")
        self.curve_w.outputs = (plotly_output(fig),)

    def _draw_diff(self, table, force: bool) -> None:
        from o2c_sim.present.figures.dashboard import change_vs_baseline

        signature = tuple(round(float(v), 9) if math.isfinite(v) else None for v in table["diff"].tolist())
        if signature == self._diff_signature and not force:
            return
        self._diff_signature = signature
        self.diff_w.outputs = (plotly_output(change_vs_baseline(table, KPI_NAMES)),)

    def close(self) -> None:
        self.runner.close()


PAGE_NOTE = f"""
<h2 style="margin: 4px 0">Staffing what-if</h2>
<div class="o2c-note" id="page-note">Change the team, the worklist strategy or the dunning cadence and compare the KPIs
with the baseline (the chosen scenario as written). <b>Quick preview</b> simulates
{PREVIEW_OVERRIDES['horizon_days']} days after a {PREVIEW_OVERRIDES['warmup_days']}-day warm-up with
{PREVIEW_REPLICATIONS} replications per setting, in worker processes; every replication is cached, so revisiting a
setting is instant. Numbers appear after the first replication and the 95% confidence intervals narrow as the others
arrive. Baseline and setting share common random numbers, so the change column is a paired difference.
The staffing curve is filled in afterwards, and <b>What drives this</b> tries the main assumptions at both ends
of their plausible ranges to name the one your change depends on most. <b>Full length</b> runs the scenario's own horizon and replications
(minutes; progress is shown). The cadence boxes move the dunning levels to evenly spaced days (pre-due reminders
stay as written); left as they are, the cadence is the scenario's.</div>
"""


# ===================================================================================== cash forecast


#: models back-tested by default in the cash-forecast dashboard (about 20 s on the IBM sample); the
#: slow ones (ets, sarimax, unobserved_components, invoice_cox) can be added with the model picker, and
#: the simulation model is what the what-if panel runs
DEFAULT_FORECAST_MODELS = ("naive", "seasonal_naive", "moving_average", "ses", "invoice_km")
FORECAST_HORIZON = 13
WHAT_IF_REPLICATIONS = 10
SIMULATED_HISTORY_SCENARIO = "baseline"
HISTORY_LABELS = {"ibm": "IBM AR sample", "simulated": f"Simulated from the {SIMULATED_HISTORY_SCENARIO} scenario",
                  "file": "Another file…"}


def _job_main(conn, fn: Callable, args: tuple, parent_pid: int) -> None:
    """Body of a :class:`ProcessJob`: run ``fn(*args)`` and send ``(ok, value or message)`` back."""
    _worker_init(parent_pid)
    try:
        conn.send((True, fn(*args)))
    except UserError as err:
        conn.send((False, str(err)))
    except Exception as exc:  # noqa: BLE001 — reported in the page as one line
        conn.send((False, f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class ProcessJob:
    """One long computation in its own (spawned) process, so the kernel stays responsive and a
    superseded job can be stopped at once. ``on_done(ok, value)`` is called from a waiter thread,
    unless the job was cancelled."""

    def __init__(self, fn: Callable, *args, on_done: Callable[[bool, Any], None]):
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_job_main, args=(child, fn, args, os.getpid()), daemon=True)
        self.started = time.monotonic()
        self.cancelled = False
        self.on_done = on_done
        self.process.start()
        child.close()
        threading.Thread(target=self._wait, daemon=True, name="o2c-dashboard-job").start()

    def _wait(self) -> None:
        try:
            ok, value = self._conn.recv()
        except (EOFError, OSError):
            ok, value = False, "the worker process stopped before finishing (out of memory?)"
        self.process.join(timeout=10)
        if not self.cancelled:
            self.on_done(ok, value)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def cancel(self) -> None:
        self.cancelled = True
        if self.process.is_alive():
            self.process.terminate()


def simulated_history(scenario: str = SIMULATED_HISTORY_SCENARIO):
    """An invoice history simulated from a shipped scenario (one replication; DESIGN §6 fallback)."""
    from o2c_sim.sim.model import simulate
    from o2c_sim.scenario import load_scenario

    return simulate(load_scenario(scenario), 0).invoices


def load_history(source: str, path: str = "", mapping: str = ""):
    """The invoice table of a history source: ``"ibm"`` (the sample, with the ``ibm_ar`` mapping),
    ``"file"`` (``path`` with an optional ``mapping``) or ``"simulated"``."""
    from o2c_sim.data.importer import load_ledger
    from o2c_sim.settings import ibm_ar_csv

    if source == "ibm":
        csv = ibm_ar_csv()
        if not csv.exists():
            raise UserError(f"the IBM AR sample is not at {csv}; set O2C_SIM_DATA_DIR or choose the simulated history")
        return load_ledger(csv, "ibm_ar")
    if source == "file":
        if not path.strip():
            raise UserError("enter the path of a ledger file (.csv, .xlsx or .parquet)")
        from o2c_sim.data.importer import check_allowed, mapping_path

        ledger = check_allowed(path.strip())  # only the allowed folders, on a shared host too
        mapping = mapping.strip() or None
        return load_ledger(ledger, mapping and check_allowed(mapping_path(mapping), "mapping"))
    if source == "simulated":
        return simulated_history()
    raise UserError(f"unknown history source {source!r}; expected ibm, simulated or file")


def default_as_of(ledger) -> "Any":
    """A default as-of date: 13 weeks before the end of the history, so what happened can be compared."""
    import pandas as pd

    from o2c_sim.forecast.series import history_end

    end = history_end(ledger)
    first = pd.Timestamp(ledger["invoice_date"].min())
    return max(first + pd.Timedelta(weeks=26), end - pd.Timedelta(weeks=FORECAST_HORIZON)).date()


def run_forecast(ledger, as_of, models: tuple[str, ...]):
    """The forecast job (in a worker process): back-test, combine, select, forecast 13 weeks."""
    from o2c_sim.forecast import forecast_with_backtest

    return forecast_with_backtest(ledger, str(as_of), FORECAST_HORIZON, "W", list(models))


def run_what_if(ledger, as_of, delta: int, scenario_name: str | None, replications: int, log_path: str = "",
                log_mapping: str = ""):
    """The what-if job: simulated receipts with the team as it was and with ``delta`` collectors more, paired
    replications (:func:`o2c_sim.forecast.simulation.what_if`). With an activity log (``log_path``) the
    scenario is calibrated from it; from payment history alone the what-if is not answered (docs/model.md
    §9.6). Returns (frame or None, collectors, what the data could and could not identify)."""
    from o2c_sim.forecast import History
    from o2c_sim.forecast.simulation import what_if, what_if_basis
    from o2c_sim.scenario import load_scenario

    history = History(ledger, str(as_of), "W")
    scenario = load_scenario(scenario_name) if scenario_name else None
    log = None
    if log_path.strip():
        from o2c_sim.data.activities import load_activities
        from o2c_sim.data.importer import check_allowed

        mapping = log_mapping.strip() or None  # a shipped name, or a file inside the allowed folders
        if mapping and ("/" in mapping or mapping.endswith((".yaml", ".yml"))):
            mapping = check_allowed(mapping, "mapping")
        log = load_activities(check_allowed(log_path.strip(), "activity log"), mapping,
                              known_items=set(ledger["invoice_id"].astype(str)))
    basis = what_if_basis(history, scenario, activities=log)
    note = identification_note(basis)
    if not basis.effort_identified:
        return None, 0, note
    return what_if(history, FORECAST_HORIZON, {"team.collectors": f"{delta:+d}"}, replications=replications,
                   basis=basis), basis.scenario.team.collectors, note


def identification_note(basis) -> str:
    """What the history could and could not identify, from the scenario's provenance, for the what-if panel."""
    if not basis.effort_identified:
        return ("Payment history alone cannot answer a what-if on collectors: its payment delays already contain "
                "the reminders and calls they received, and an invoice table does not say which, so the "
                "calibrated scenario has collection switched off. Give the team's activity log (Activity log "
                "above) to estimate what each action does.")
    found = [f"{label} ×{value:.2f}" for label, value, where in basis.effect_sources() if where.startswith("estimated")]
    assumed = [label for label, _, where in basis.effect_sources() if not where.startswith("estimated")]
    who = ("the team as it was" if basis.source == "activity log" else "the scenario's team")
    text = f"Base case: {who}, {basis.scenario.team.collectors} collectors ({basis.headcount}). "
    text += (f"Estimated from the {basis.source}: {', '.join(found)}. " if found else
             f"Action effects are the {basis.source}'s stated values, not estimated from this history. ")
    if assumed and found:
        text += f"Not identified (assumed, the base scenario's values): {', '.join(assumed)}."
    return text


def forecast_table_html(result, key: str) -> str:
    """Per model: 13-week total, back-test WAPE/bias/80 % coverage at horizons 1–4 (for the selected model the
    honest score of choosing at each origin from earlier errors, :mod:`o2c_sim.forecast.honest`). DOM hooks
    ``#forecast-table[data-key]``, ``#fc-total-<model>``, ``#fc-wape-<model>`` (``data-value``)."""
    s = result.summary
    s = s[s["band"] == "1-4"].set_index("model")
    totals = result.forecast.groupby("model", sort=False)["mean"].sum()
    rows = []
    for model, total in totals.items():
        scored = "selected" if model == result.selected and "selected" in s.index else model  # its honest score
        m = s.loc[scored] if scored in s.index else None
        get = lambda c: float(m[c]) if m is not None and c in m and math.isfinite(float(m[c])) else math.nan  # noqa: E731
        wape, bias, cov = get("wape"), get("bias"), get("cov80")
        mark = ' <span class="o2c-better">selected</span>' if model == result.selected else ""
        rows.append(
            f'<tr data-model="{html.escape(model)}"><th scope="row">{html.escape(model)}{mark}</th>'
            f'<td id="fc-total-{html.escape(model)}" data-value="{_attr(float(total))}">{total:,.0f}</td>'
            f'<td id="fc-wape-{html.escape(model)}" data-value="{_attr(wape)}">{"…" if math.isnan(wape) else f"{wape:.3f}"}</td>'
            f'<td>{"…" if math.isnan(bias) else f"{bias:+.3f}"}</td><td>{"…" if math.isnan(cov) else f"{cov:.2f}"}</td></tr>')
    skipped = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in result.skipped.items())
    return (f'<table id="forecast-table" class="o2c-kpis" data-key="{key}" data-selected="{html.escape(result.selected)}">'
            "<thead><tr><th>Model</th><th>Receipts, next 13 weeks</th><th>WAPE (h 1–4)</th><th>Bias</th>"
            "<th>80% coverage</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            + (f'<div class="o2c-note">Not used: <ul>{skipped}</ul></div>' if skipped else ""))


class CashForecast:
    """The cash-forecast dashboard: history and as-of date → 13-week fan chart per model, back-test
    accuracy, and the what-if with more or fewer collectors (simulation warm-started on the open items).

    Back-test/forecast and what-if run in their own processes; a newer request stops an older one.
    Results are cached per (history, as-of, models) and (history, as-of, collectors, replications).
    """

    def __init__(self, history: str | None = None, *, as_of: str | None = None,
                 models: Iterable[str] | None = None, what_if_delta: int = 2,
                 what_if_replications: int = WHAT_IF_REPLICATIONS):
        import ipywidgets as w

        from o2c_sim.forecast.registry import MODELS
        from o2c_sim.settings import ibm_ar_csv

        self._lock = threading.RLock()
        self._ledgers: dict[str, Any] = {}
        self._forecasts: dict[tuple, Any] = {}
        self._what_ifs: dict[tuple, Any] = {}
        self._errors: dict[tuple, str] = {}
        self._jobs: dict[str, tuple[tuple, ProcessJob]] = {}
        self._syncing = False
        self._closed = False
        self._fan_signature: Any = None
        self._what_if_signature: Any = None
        self.what_if_replications = what_if_replications
        self.last_traceback: str | None = None

        have_ibm = ibm_ar_csv().exists()
        sources = [(label, value) for value, label in HISTORY_LABELS.items() if value != "ibm" or have_ibm]
        default = history if history in {v for _, v in sources} else ("ibm" if have_ibm else "simulated")
        self.source_w = w.Dropdown(options=sources, value=default, description="History")
        self.path_w = w.Text(placeholder="path/to/ledger.csv", description="File", continuous_update=False)
        self.mapping_w = w.Text(placeholder="e.g. ibm_ar (empty: canonical columns)", description="Mapping",
                                continuous_update=False)
        self.file_box = w.VBox([self.path_w, self.mapping_w])
        self.as_of_w = w.DatePicker(description="As of")
        selectable = [m for m in MODELS if m != "simulation"]
        chosen = [m for m in (models or DEFAULT_FORECAST_MODELS) if m in selectable] or list(DEFAULT_FORECAST_MODELS)
        self.models_w = w.SelectMultiple(options=selectable, value=tuple(chosen), rows=min(9, len(selectable)),
                                         description="Models")
        self.fan_model_w = w.Dropdown(options=[], description="Fan chart")
        self.delta_w = w.IntSlider(value=what_if_delta, min=-3, max=3, description="Collectors ±",
                                   continuous_update=False)
        self.log_w = w.Text(placeholder="path/to/activities.xes (optional)", description="Activity log",
                            continuous_update=False)
        self.log_mapping_w = w.Text(placeholder="e.g. sap_fscm_activities (empty: canonical)", description="Log mapping",
                                    continuous_update=False)
        for widget, cls in ((self.source_w, "o2c-history"), (self.path_w, "o2c-path"), (self.mapping_w, "o2c-mapping"),
                            (self.log_w, "o2c-activities"), (self.log_mapping_w, "o2c-activity-mapping"),
                            (self.as_of_w, "o2c-as-of"), (self.models_w, "o2c-models"),
                            (self.fan_model_w, "o2c-fan-model"), (self.delta_w, "o2c-delta")):
            widget.add_class(cls)
            widget.style.description_width = "90px"
            widget.layout.width = "400px"
        self.status_w = w.HTML()
        self.error_w = w.HTML()
        self.table_w = w.HTML()
        self.history_note_w = w.HTML()
        self.what_if_note_w = w.HTML()
        self.fan_w, self.backtest_w, self.what_if_w = w.Output(), w.Output(), w.Output()
        self.fan_w.add_class("o2c-fan")
        self.backtest_w.add_class("o2c-backtest")
        self.what_if_w.add_class("o2c-whatif")

        controls = w.VBox([self.source_w, self.file_box, self.history_note_w, self.as_of_w, self.models_w],
                          layout=w.Layout(width="430px", min_width="430px", padding="0 16px 0 0"))
        self.widget = w.VBox([
            w.HTML(STYLE + FORECAST_NOTE),
            w.HBox([controls, w.VBox([self.status_w, self.error_w, self.table_w], layout=w.Layout(flex="1 1 auto"))]),
            w.HBox([w.VBox([self.fan_model_w, self.fan_w], layout=w.Layout(width="55%")),
                    w.VBox([self.backtest_w], layout=w.Layout(width="45%"))]),
            w.HTML("<b>What-if: cash with more or fewer collectors</b> (simulation warm-started on the open items, "
                   f"{what_if_replications} paired replications)"),
            self.log_w, self.log_mapping_w, self.delta_w, self.what_if_note_w, self.what_if_w,
        ])

        self._ticker_stop = threading.Event()
        threading.Thread(target=self._tick, daemon=True, name="o2c-dashboard-ticker").start()
        self.source_w.observe(self._on_source, names="value")
        for widget in (self.path_w, self.mapping_w):
            widget.observe(self._on_source, names="value")
        for widget in (self.as_of_w, self.models_w):
            widget.observe(self._on_request, names="value")
        for widget in (self.delta_w, self.log_w, self.log_mapping_w):
            widget.observe(self._on_what_if, names="value")
        self.fan_model_w.observe(lambda _c: self.refresh(), names="value")
        self._pending_as_of = as_of
        self._on_source()

    @classmethod
    def from_page(cls) -> "CashForecast":
        """The app for a Voila page; the URL may preset ``?history=simulated&as_of=2013-09-01&models=naive,ses&delta=-1``."""
        q = query_params()
        models = [m for m in q.get("models", "").split(",") if m] or None
        delta = int(q["delta"]) if q.get("delta", "").lstrip("+-").isdigit() else 2
        reps = int(q["replications"]) if q.get("replications", "").isdigit() else WHAT_IF_REPLICATIONS
        return cls(q.get("history"), as_of=q.get("as_of"), models=models, what_if_delta=max(-3, min(3, delta)),
                   what_if_replications=max(2, reps))

    # ------------------------------------------------------------------------------ requests
    def _history_id(self) -> str:
        src = self.source_w.value
        return f"file:{self.path_w.value.strip()}|{self.mapping_w.value.strip()}" if src == "file" else src

    def _on_source(self, _change=None) -> None:
        self.file_box.layout.display = "" if self.source_w.value == "file" else "none"
        hid = self._history_id()
        if hid in self._ledgers:
            self._history_ready(hid)
            return
        if self.source_w.value == "simulated":
            self._start("history", (hid,), simulated_history, on_done=lambda: self._history_ready(hid))
            self.refresh()
            return
        if self.source_w.value == "file" and not self.path_w.value.strip():
            self.error_w.value = ""
            self.history_note_w.value = ('<div class="o2c-note" id="history-note">Enter the path of a ledger file '
                                         "(.csv, .xlsx or .parquet) and, unless it uses the invoice-table column names, "
                                         "a column mapping (e.g. ibm_ar).</div>")
            return
        try:
            self._ledgers[hid] = load_history(self.source_w.value, self.path_w.value, self.mapping_w.value)
        except UserError as err:
            self._error(f"Cannot read the history: {err}")
            return
        self._history_ready(hid)

    def _history_ready(self, hid: str) -> None:
        import pandas as pd

        if hid != self._history_id() or hid not in self._ledgers:
            return
        ledger = self._ledgers[hid]
        try:
            default = default_as_of(ledger)
        except UserError as err:
            self._error(f"Cannot use this history: {err}")
            return
        first, last = ledger["invoice_date"].min().date(), ledger["invoice_date"].max().date()
        self.history_note_w.value = (
            f'<div class="o2c-note" id="history-note">{len(ledger):,} invoices, {ledger["customer_id"].nunique():,} '
            f'customers, issued {first} to {last}. Only what was known on the as-of date is used.</div>')
        self._syncing = True
        try:
            wanted = self._pending_as_of
            self._pending_as_of = None
            self.as_of_w.value = pd.Timestamp(wanted).date() if wanted else default
        except (ValueError, TypeError):
            self.as_of_w.value = default
        finally:
            self._syncing = False
        self._on_request()

    def _keys(self) -> tuple[tuple, tuple] | None:
        if self.as_of_w.value is None or self._history_id() not in self._ledgers:
            return None
        base = (self._history_id(), str(self.as_of_w.value))
        return (base + (tuple(self.models_w.value),),
                base + (int(self.delta_w.value), self.what_if_replications, self.log_w.value.strip(),
                        self.log_mapping_w.value.strip()))

    def _on_request(self, _change=None) -> None:
        if self._syncing:
            return
        keys = self._keys()
        if keys is None:
            self.refresh()
            return
        fkey, wkey = keys
        if not self.models_w.value:
            self._error("Choose at least one model to back-test.")
            return
        ledger = self._ledgers[fkey[0]]
        if fkey not in self._forecasts and fkey not in self._errors:
            self._start("forecast", fkey, run_forecast, ledger, self.as_of_w.value, tuple(self.models_w.value))
        self._on_what_if()

    def _on_what_if(self, _change=None) -> None:
        keys = self._keys()
        if keys is None:
            return
        wkey = keys[1]
        if wkey[2] == 0:
            self.refresh()
            return
        if wkey not in self._what_ifs and wkey not in self._errors:
            scenario = SIMULATED_HISTORY_SCENARIO if wkey[0] == "simulated" else None
            self._start("what_if", wkey, run_what_if, self._ledgers[wkey[0]], self.as_of_w.value, wkey[2], scenario,
                        self.what_if_replications, wkey[4], wkey[5])
        self.refresh()

    def _start(self, kind: str, key: tuple, fn: Callable, *args, on_done: Callable[[], None] | None = None) -> None:
        with self._lock:
            current = self._jobs.get(kind)
            if current is not None and current[0] == key:
                return
            if current is not None:
                current[1].cancel()

            def done(ok: bool, value: Any) -> None:
                with self._lock:
                    if self._jobs.get(kind, (None,))[0] == key:
                        del self._jobs[kind]
                    if not ok:
                        what = {"history": "Cannot simulate the history", "forecast": "Cannot forecast",
                                "what_if": "What-if not possible"}[kind]
                        self._errors[key] = f"{what}: {value}"
                    elif kind == "history":
                        self._ledgers[key[0]] = value
                    elif kind == "forecast":
                        self._forecasts[key] = value
                    else:
                        self._what_ifs[key] = value
                if on_done is not None and ok:
                    on_done()
                self.refresh()

            self._jobs[kind] = (key, ProcessJob(fn, *args, on_done=done))

    def _error(self, message: str) -> None:
        self.error_w.value = f'<div id="forecast-error" class="o2c-error" role="alert">{html.escape(message)}</div>'

    def _tick(self) -> None:
        while not self._ticker_stop.wait(1.0):
            if self._jobs:
                self.refresh()

    # ------------------------------------------------------------------------------ the view
    def refresh(self) -> None:
        try:
            self._refresh()
        except Exception as exc:  # noqa: BLE001 — one line in the page, never a traceback
            import traceback

            self.last_traceback = traceback.format_exc()
            self._error(f"The view could not be updated: {type(exc).__name__}: {exc}")

    def _refresh(self) -> None:
        with self._lock:
            keys = self._keys()
            jobs = {k: (key, job.elapsed) for k, (key, job) in self._jobs.items()}
            hid = self._history_id()
            fkey, wkey = keys if keys else (None, None)
            result = self._forecasts.get(fkey)
            wi = self._what_ifs.get(wkey)
            errors = [self._errors[k] for k in ((hid,), fkey, wkey) if k is not None and k in self._errors]

            parts = []
            labels = {"history": "simulating the history", "forecast": "back-test and forecast", "what_if": "what-if"}
            for kind, (key, elapsed) in jobs.items():
                parts.append(f"{labels[kind]}: running {elapsed:.0f} s")
            if result is not None:
                parts.append(f"forecast as of {result.as_of.date()} ready")
            if wi is not None:
                parts.append("what-if ready")
            forecast_done = result is not None or (fkey in self._errors)
            what_if_done = wkey is None or wkey[2] == 0 or wi is not None or wkey in self._errors
            state = "error" if errors and not jobs else ("ready" if forecast_done and what_if_done and not jobs else "running")
            self.status_w.value = (f'<span id="forecast-status" class="o2c-status" data-state="{state}" '
                                   f'data-key="{html.escape(str(fkey))}">{html.escape(" · ".join(parts) or "…")}</span>')
            if errors:
                self._error("; ".join(errors))
            elif self.error_w.value and not errors and keys is not None and self.models_w.value:
                self.error_w.value = ""

            if result is not None:
                key = hashlib.sha1(repr(fkey).encode()).hexdigest()[:12]
                self.table_w.value = forecast_table_html(result, key)
                models = list(dict.fromkeys(result.forecast["model"]))
                if list(self.fan_model_w.options) != models:
                    self.fan_model_w.options = models
                    self.fan_model_w.value = result.selected if result.selected in models else models[0]
                self._draw_forecast(result, fkey)
            elif fkey is not None and not forecast_done:
                self.table_w.value = '<div class="o2c-note">Back-testing the models on the history known then…</div>'
            self._draw_what_if(wi, wkey)

    def _draw_forecast(self, result, fkey) -> None:
        from o2c_sim.present.figures.dashboard import fan_chart_with_actuals
        from o2c_sim.present.figures.forecast import backtest_accuracy

        model = self.fan_model_w.value
        signature = (fkey, model)
        if signature == self._fan_signature or model is None:
            return
        first = self._fan_signature is None or self._fan_signature[0] != fkey
        self._fan_signature = signature
        actual = actual_receipts(self._ledgers[fkey[0]], result)
        self.fan_w.outputs = (plotly_output(fan_chart_with_actuals(result.history, result.forecast, model, actual)),)
        if first:
            self.backtest_w.outputs = (plotly_output(backtest_accuracy(result.summary, result.selected)),)

    def _draw_what_if(self, wi, wkey) -> None:
        from o2c_sim.present.figures.dashboard import what_if_cash

        if wkey is None:
            return
        if wkey[2] == 0:
            self.what_if_note_w.value = '<div class="o2c-note" id="whatif-note">Choose a change in collectors.</div>'
            self.what_if_w.outputs = ()
            return
        if wi is None:
            running = "what_if" in self._jobs
            self.what_if_note_w.value = ('<div class="o2c-note" id="whatif-note">'
                                         + ("Simulating…" if running else "") + "</div>")
            if self._what_if_signature is not None:
                self._what_if_signature = None
                self.what_if_w.outputs = ()
            return
        frame, team, identified = wi
        sig = (wkey, "drawn")
        if self._what_if_signature == sig:
            return
        self._what_if_signature = sig
        if frame is None:  # payment history alone: the what-if is not answered, and the note says why
            self.what_if_note_w.value = (f'<div class="o2c-note" id="whatif-note" data-refused="1">'
                                         f'{html.escape(identified)}</div>')
            self.what_if_w.outputs = ()
            return
        total = float(frame["difference"].sum())
        delta = wkey[2]
        self.what_if_note_w.value = (
            f'<div class="o2c-note" id="whatif-note">{team} → {team + delta} collectors: '
            f'<b id="whatif-total" data-value="{_attr(total)}" data-delta="{delta}">{total:+,.0f}</b> '
            f'cash over the next {FORECAST_HORIZON} weeks (mean of paired replications). {html.escape(identified)}</div>')
        self.what_if_w.outputs = (plotly_output(what_if_cash(frame, f"{team} → {team + delta} collectors")),)

    def close(self) -> None:
        self._ticker_stop.set()
        with self._lock:
            for _key, job in self._jobs.values():
                job.cancel()
            self._jobs.clear()


def actual_receipts(ledger, result):
    """Receipts in the forecast weeks as the full history records them (None if it ends before)."""
    from o2c_sim.forecast.series import receipts

    full = receipts(ledger, result.freq)
    after = full[full.index > result.as_of]
    return after.iloc[: result.horizon] if len(after) else None


FORECAST_NOTE = f"""
<h2 style="margin: 4px 0">Cash forecast</h2>
<div class="o2c-note" id="page-note">A {FORECAST_HORIZON}-week cash-receipts forecast from a history file as
known on the as-of date: every chosen model is back-tested at rolling origins (WAPE, bias, interval coverage),
a combination is weighted by that record and the best model at horizons 1–4 is selected. Receipts actually
recorded after the as-of date, where the history has them, are drawn for comparison. The default history is the
IBM accounts-receivable sample when it is installed, otherwise a history simulated from the baseline scenario.
Runs take from seconds to a few minutes (each model is fitted at every origin); they run in a separate process,
so the page stays usable, and a newer request replaces an older one.</div>
"""
