"""The staffing dashboard's "What drives this" panel: which assumptions the current change hangs on.

For the change the widgets describe (e.g. 2 more collectors) against the scenario as written, a
tornado of the few parameters that move the *difference* most: each parameter alone at the low and
the high end of its plausible range (:mod:`o2c_sim.experiments.sensitivity`'s one-at-a-time cells, its cheap
``tornado`` method; parameters from :func:`o2c_sim.experiments.sensitivity.default_drivers`: the scenario's
uncertain ones, else the largest segment's right-party-contact rate and the effects of a contact
and of a promise on its payers, absence and conversation length), the others at their means. With
``lo``/``hi`` the parameter at either end,

    Δ(end) = mean over replications r of KPI(setting, end, r) − KPI(scenario as written, end, r),
    swing  = |Δ(hi) − Δ(lo)|,

paired by replication (common random numbers). Without a change, the panel shows what drives the
KPI itself. A one-line summary names the parameter with the largest swing in plain words; it calls
the change a gain or a loss only when the paired 95 % interval of Δ with every parameter at its
mean excludes zero (Student-t, :func:`o2c_sim.kpis.mean_ci95`), else "the effect".

Cheap by design: quick-preview run length (:data:`o2c_sim.present.dashboard.PREVIEW_OVERRIDES`) whatever the
run-length toggle, :data:`DRIVER_REPLICATIONS` replications, 2 cells per parameter for each side.
The cells are ordinary jobs of the dashboard's :class:`~o2c_sim.present.dashboard.Runner`, queued in the
background *after* the current setting and the baseline, so the first numbers are never delayed,
and cached per (scenario, replication) like every run (the dashboard hands in its cache key and
figure renderer, so this module does not import it): the scenario's own side is shared by every
change, and returning to a change is instant. The first replication of every cell comes before the
staffing curve, the others after it; the panel fills in parameter by parameter.
"""

from __future__ import annotations

import html
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from o2c_sim.errors import UserError
from o2c_sim.kpis import CATALOGUE
from o2c_sim.sim.results import KPI_UNITS
from o2c_sim.scenario import Scenario, at_means
from o2c_sim.experiments.sensitivity import Factor, SensitivityResult, _tornado, default_drivers, factors, tornado_figure

#: replications of each one-at-a-time cell (paired with the scenario's own cells)
DRIVER_REPLICATIONS = 2
#: bars shown in the panel (the parameters with the largest swing)
SHOWN = 5

#: plain words for the parameters :func:`o2c_sim.experiments.sensitivity.default_drivers` tries (path suffix → words)
WORDS = {
    "rpc_rate": "right-party-contact rate",
    "hazard.effects.contact.multiplier": "effect of a right-party contact",
    "hazard.effects.promise.multiplier": "effect of a promise",
    "hazard.effects.fee.multiplier": "effect of a late fee",
    "hazard.frailty_variance": "payers' habit spread (frailty)",
    "hazard.silent_frailty": "how rarely silent payers pay",
    "hazard.disputed_multiplier": "pace of payers with a disputed invoice",
    "silent_share": "share of silent payers",
    "dispute_rate": "dispute rate",
    "insolvency_rate_annual": "insolvency rate",
    "partial_payment_rate": "partial-payment rate",
    "unapplied_rate": "unapplied-payment rate",
    "team.absence_rate": "absence rate",
    "team.shrinkage": "shrinkage (time off the phone)",
    "work.conversation": "length of a conversation",
    "work.call_attempt": "length of a call attempt",
}
#: words for list items, by pattern: the n-th dunning notice's effect, the payers' pace in band n
PATTERNS = [
    (re.compile(r"hazard\.effects\.notice\.(\d+)\.multiplier"), lambda m: f"effect of dunning notice {int(m[1]) + 1}"),
    (re.compile(r"hazard\.daily\.(\d+)"), lambda m: f"payers' own pace in hazard band {int(m[1]) + 1}"),
]

Results = Callable[[str, int], Mapping[int, Mapping[str, float]]]
Job = tuple[Scenario, int]
#: the dashboard's cache key of a scenario (:func:`o2c_sim.present.dashboard.scenario_key`)
Key = Callable[[Scenario], str]


def kpi_name(kpi: str) -> str:
    return CATALOGUE[kpi].label if kpi in CATALOGUE else kpi


def parameter_words(path: str) -> str:
    """``portfolio.segments.mid_market.behaviour.rpc_rate`` → ``right-party-contact rate (mid market)``."""
    segment = ""
    rest = path
    if path.startswith("portfolio.segments.") and ".behaviour." in path:
        segment, _, rest = path.removeprefix("portfolio.segments.").partition(".behaviour.")
    pattern = next((words(m) for regex, words in PATTERNS if (m := regex.fullmatch(rest))), None)
    words = WORDS.get(rest) or pattern or rest.rsplit(".", 1)[-1].replace("_", " ")
    return f"{words} ({segment.replace('_', ' ')})" if segment else words


def change_words(change: Mapping[str, Any], base: Scenario, strategy_labels: Mapping[str, str] | None = None) -> str:
    """The overrides of a setting in plain words: ``"2 more collectors and the new dunning cadence"``."""
    parts: list[str] = []
    for key, value in change.items():
        if key in ("team.collectors", "team.dispute_analysts"):
            n = int(value) - int(getattr(base.team, key.split(".")[1]))
            noun = "collector" if key == "team.collectors" else "dispute analyst"
            parts.append(f"{abs(n)} {'more' if n > 0 else 'fewer'} {noun}{'s' * (abs(n) != 1)}")
        elif key == "strategy.prioritisation":
            parts.append(f"the worklist “{(strategy_labels or {}).get(value, value)}”")
        elif key.startswith("teams.desks.") and key.endswith(".collectors"):
            desk = key.split(".")[2]
            n = (value if isinstance(value, int) else len(value)) - next(len(d.speakers()) for d in base.teams.desks if d.name == desk)
            parts.append(f"{abs(n)} {'more' if n > 0 else 'fewer'} collector{'s' * (abs(n) != 1)} in {desk}")
        elif key.startswith("teams.desks.") and key.endswith(".languages"):
            parts.append(f"{key.split('.')[2]} serving {', '.join(value)}")
        elif key.endswith(".days_past_due"):
            if "the new dunning cadence" not in parts:
                parts.append("the new dunning cadence")
        else:
            parts.append(f"{key}={value}")
    return " and ".join(parts)


def uncertainty_note(scenario: Scenario) -> str:
    """HTML saying that the intervals include parameter uncertainty (empty when the scenario has none)."""
    n = len(scenario.uncertain)
    if not n:
        return ""
    names = ", ".join(parameter_words(p) for p in list(scenario.uncertain)[:3]) + (", …" if n > 3 else "")
    return (f'<div class="o2c-note" id="uncertainty-note" data-parameters="{n}"><b>The intervals include parameter '
            f"uncertainty:</b> this scenario gives {n} assumption{'s' * (n != 1)} ({html.escape(names)}) a "
            "distribution, and each replication draws its own values, the same draw for the baseline and your "
            "setting (so the change stays paired). Intervals are wider than noise alone would make them.</div>")


# ===================================================================================== the plan


@dataclass(frozen=True)
class Cell:
    """One simulated scenario of the tornado and its cache key."""

    scenario: Scenario
    key: str

    @classmethod
    def of(cls, scenario: Scenario, key: Key) -> "Cell":
        return cls(scenario, key(scenario))


@dataclass
class DriversPlan:
    """The cells the panel needs for one (scenario, change): the centre (every parameter at its mean)
    and, per factor, its low and high end — for the scenario as written and, when there is a change,
    for the setting (``None`` otherwise). ``error``: why there is no plan (then no cells)."""

    scenario: Scenario  # the scenario as written at preview length, uncertain parameters at their means
    change: dict[str, Any]
    words: str
    factors: list[Factor] = field(default_factory=list)
    centre: tuple[Cell, Cell | None] | None = None
    base_cells: list[tuple[Cell, Cell]] = field(default_factory=list)
    setting_cells: list[tuple[Cell, Cell]] | None = None
    replications: int = DRIVER_REPLICATIONS
    error: str = ""
    #: the scenario as written has uncertain parameters (the centre then differs from the page's numbers)
    uncertain: bool = False

    def cells(self) -> list[Cell]:
        """Every cell once, in the order they are wanted: the centre, then parameter by parameter."""
        if self.centre is None:
            return []
        cells = [c for c in self.centre if c is not None]
        for i in range(len(self.factors)):
            cells += list(self.base_cells[i]) if self.setting_cells is None else \
                [self.base_cells[i][0], self.setting_cells[i][0], self.base_cells[i][1], self.setting_cells[i][1]]
        return list({c.key: c for c in cells}.values())

    def jobs(self) -> tuple[list[Job], list[Job]]:
        """(first, rest): the first replication of every cell, and the other replications."""
        cells = self.cells()
        return [(c.scenario, 0) for c in cells], [(c.scenario, r) for r in range(1, self.replications) for c in cells]

    def keys(self) -> list[str]:
        return [c.key for c in self.cells()]


def plan_drivers(base: Scenario, setting: Scenario, change: Mapping[str, Any], length: Mapping[str, Any], key: Key,
                 fs: list[Factor] | None = None, strategy_labels: Mapping[str, str] | None = None) -> DriversPlan:
    """The plan for ``setting`` (the resolved widgets, ``change`` its overrides) against ``base`` (the
    scenario as written), run with the ``length`` overrides (the quick preview's); ``key``: the cache
    key of a scenario; ``fs``: the factors if already known for ``base`` (:func:`driver_factors`).
    Never raises: a problem becomes ``plan.error``."""
    b = at_means(base.with_overrides(dict(length)) if length else base)
    plan = DriversPlan(b, dict(change), change_words(change, base, strategy_labels), uncertain=bool(base.uncertain))
    try:
        fs = driver_factors(base) if fs is None else fs
        s = at_means(setting.with_overrides(dict(length)) if length else setting) if change else None
        ends = lambda sc: [tuple(Cell.of(sc.with_overrides({f.path: f.value(u)}), key) for u in (0.0, 1.0))  # noqa: E731
                           for f in fs]
        plan.factors = fs
        plan.centre = (Cell.of(b, key), None if s is None else Cell.of(s, key))
        plan.base_cells = ends(b)
        plan.setting_cells = None if s is None else ends(s)
    except UserError as err:
        plan.error = str(err)
    return plan


def driver_factors(base: Scenario) -> list[Factor]:
    """The parameters the panel tries for ``base`` and their plausible ranges."""
    return factors(base, default_drivers(base))


# ===================================================================================== the tornado


@dataclass
class Drivers:
    """What the panel shows for one KPI: ``result`` (the top :data:`SHOWN` parameters, or None before
    the first is in), ``ready``/``total`` parameters, the fewest replications behind a bar, the effect
    at the centre (Δ KPI, or the KPI itself without a change) and the summary sentence."""

    kpi: str
    result: SensitivityResult | None
    ready: int
    total: int
    replications: int
    centre: float
    summary: str
    top_path: str = ""
    #: the paired 95 % interval of the change at the centre excludes zero (then "gain" or "loss")
    significant: bool = False


def _outcome(runs: list[Mapping[int, Mapping[str, float]]], kpi: str, paired: bool) -> list[float]:
    """Per replication all runs have, KPI(setting) − KPI(base), or KPI(base) without a change
    (``runs`` = [base] or [base, setting])."""
    common = sorted(set.intersection(*(set(r) for r in runs)))
    return [(runs[1][r].get(kpi, math.nan) - runs[0][r].get(kpi, math.nan)) if paired else runs[0][r].get(kpi, math.nan)
            for r in common]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def compute(plan: DriversPlan, results: Results, kpi: str) -> Drivers:
    """The tornado of ``kpi`` (or of its change) from whatever cells are in the cache so far."""
    import numpy as np
    import pandas as pd

    paired = plan.setting_cells is not None
    total = len(plan.factors)
    got = lambda cell: results(cell.key, plan.replications)  # noqa: E731
    if plan.centre is None:
        return Drivers(kpi, None, 0, total, 0, math.nan, "")
    from o2c_sim.kpis import mean_ci95

    centre_runs = _outcome([got(c) for c in plan.centre if c is not None], kpi, paired)
    centre, lo_ci, hi_ci = mean_ci95(centre_runs) if centre_runs else (math.nan,) * 3
    sure = paired and len(centre_runs) >= 2 and (lo_ci > 0 or hi_ci < 0)
    ready: list[Factor] = []
    values = [centre]
    reps = []
    for i, f in enumerate(plan.factors):
        lo_cells = [plan.base_cells[i][0]] + ([plan.setting_cells[i][0]] if paired else [])
        hi_cells = [plan.base_cells[i][1]] + ([plan.setting_cells[i][1]] if paired else [])
        runs = [got(c) for c in lo_cells + hi_cells]
        common = set.intersection(*(set(r) for r in runs))
        if not common:
            continue
        only = lambda rs: [{r: v for r, v in x.items() if r in common} for x in rs]  # noqa: E731
        lo = _mean(_outcome(only(runs[:len(lo_cells)]), kpi, paired))
        hi = _mean(_outcome(only(runs[len(lo_cells):]), kpi, paired))
        ready.append(f)
        values += [lo, hi]
        reps.append(len(common))
    if not ready or not math.isfinite(centre):
        return Drivers(kpi, None, len(ready), total, min(reps, default=0), centre, "")
    tornado = _tornado(ready, pd.DataFrame({kpi: values}), [kpi])
    tornado = tornado.sort_values("swing", ascending=False, na_position="last", kind="stable")
    top = tornado.head(SHOWN)
    shown = [f for f in ready if f.path in set(top["path"])]
    decision = ({}, plan.change) if paired else None
    result = SensitivityResult(plan.scenario, shown, [kpi], "tornado", decision, np.zeros((0, len(shown))),
                               pd.DataFrame({kpi: []}), top.reset_index(drop=True))
    first = top.iloc[0]
    d = Drivers(kpi, result, len(ready), total, min(reps), centre, "", str(first["path"]), sure)
    d.summary = summary_sentence(plan, d, first)
    return d


def _amount(value: float, kpi: str, change: bool = False) -> str:
    """A KPI value or change for the sentence: days and percentages with one decimal (a change of a
    percentage in points), money without decimals; changes signed."""
    if not math.isfinite(value):
        return "n/a"
    unit = KPI_UNITS.get(kpi, "")
    text = f"{value:{'+' if change else ''},.{0 if unit == 'money' else 1}f}"
    return text + {"days": " days", "%": " points" if change else " %"}.get(unit, "")


def summary_sentence(plan: DriversPlan, d: Drivers, top) -> str:
    """``"The gain from 2 more collectors in DSO (−3.1 days) depends most on the right-party-contact
    rate (small business): −4.0 days at 0.2, −2.2 days at 0.5."`` (or what drives the KPI itself)."""
    name = kpi_name(d.kpi)
    paired = plan.setting_cells is not None
    swing = float(top["swing"])
    at_means = " with every assumption at its mean" if plan.uncertain else ""
    if paired:
        direction = (CATALOGUE[d.kpi].better if d.kpi in CATALOGUE else 0) * d.centre if d.significant else 0
        noun = "gain" if direction > 0 else "loss" if direction < 0 else "effect"
        what = f"The {noun} {'of' if noun == 'effect' else 'from'} {plan.words} {'on' if noun == 'effect' else 'in'} " \
               f"{name} ({_amount(d.centre, d.kpi, True)}{at_means})"
    else:
        what = f"{name} of the scenario as written ({_amount(d.centre, d.kpi)}{at_means})"
    so_far = f" ({d.ready} of {d.total} parameters tried so far)" if d.ready < d.total else ""
    if not math.isfinite(swing):
        return f"{what}: not defined at the ends of the parameters' ranges in these short runs{so_far}."
    if swing == 0:
        return f"{what} does not depend on any of the {d.ready} parameters tried{so_far}."
    lo, hi = float(top["kpi_at_low"]), float(top["kpi_at_high"])
    return (f"{what} depends most on the {parameter_words(str(top['path']))}: {_amount(lo, d.kpi, paired)} at "
            f"{float(top['low']):.3g}, {_amount(hi, d.kpi, paired)} at {float(top['high']):.3g}{so_far}.")


# ===================================================================================== the widget


class DriversPanel:
    """The panel's widgets (``widget``; ``uncertainty_w`` goes under the KPI table) and its plans.

    :meth:`request` builds the plan for a setting in a background thread (factors and cells take a
    moment for a scenario with many uncertain parameters) and hands it to ``then``; :meth:`show`
    redraws from the runner's cache when something changed."""

    def __init__(self, kpis: list[str] | tuple[str, ...], *, key: Key, render: Callable[[Any], dict],
                 strategy_labels: Mapping[str, str] | None = None, on_kpi: Callable[[], None] | None = None):
        """``kpis``: those the panel offers (the first is the default); ``key``: the dashboard's cache
        key of a scenario; ``render``: a plotly figure → an output of ``figure_w``."""
        import ipywidgets as w

        self.key, self.render, self.strategy_labels = key, render, strategy_labels
        self.kpi_w = w.Dropdown(options=[(kpi_name(k), k) for k in kpis], value=kpis[0], description="Drivers of")
        self.kpi_w.add_class("o2c-drivers-kpi")
        self.kpi_w.style.description_width = "90px"
        self.kpi_w.layout.width = "300px"
        self.summary_w = w.HTML()
        self.figure_w = w.Output()
        self.figure_w.add_class("o2c-drivers")
        self.uncertainty_w = w.HTML()
        self.widget = w.VBox([w.HTML("<b>What drives this</b>"), self.kpi_w, self.summary_w, self.figure_w])
        self.widget.add_class("o2c-drivers-panel")
        if on_kpi is not None:
            self.kpi_w.observe(lambda _change: on_kpi(), names="value")
        self._plans: dict[tuple[str, str], DriversPlan] = {}
        self._factors: dict[str, list[Factor]] = {}
        self._latest: tuple[str, str] | None = None
        self._build = threading.Lock()
        self._signature: Any = None

    def request(self, base: Scenario, setting: Scenario, change: Mapping[str, Any], length: Mapping[str, Any],
                then: Callable[[DriversPlan], None]) -> None:
        """Hand the plan for (base, setting) run with ``length`` to ``then``: at once when cached, else
        from a thread (skipped if a newer request came in meanwhile)."""
        key = (self.key(base), self.key(setting))
        self._latest = key
        if key in self._plans:
            then(self._plans[key])
            return

        def build() -> None:
            with self._build:
                if self._latest != key:
                    return
                if key not in self._plans:
                    try:
                        fs = self._factors.get(key[0])
                        if fs is None:
                            fs = self._factors[key[0]] = driver_factors(base)
                    except UserError:
                        fs = None  # plan_drivers reports it
                    try:
                        self._plans[key] = plan_drivers(base, setting, change, length, self.key, fs,
                                                        self.strategy_labels)
                    except Exception as exc:  # noqa: BLE001 — one line in the panel, never a silent thread
                        return then(DriversPlan(base, dict(change), "", error=f"{type(exc).__name__}: {exc}"))
                plan = self._plans[key]
            then(plan)

        threading.Thread(target=build, name="o2c-dashboard-drivers", daemon=True).start()

    def show(self, plan: DriversPlan | None, scenario: Scenario, results: Results,
             errors: Callable[[str], str | None], force: bool = False) -> None:
        """Redraw from the cache (only when the cells behind it or the KPI changed, or ``force``)."""
        self.uncertainty_w.value = uncertainty_note(scenario)
        kpi = self.kpi_w.value
        if plan is None:
            self._note("waiting", "Working out which assumptions to try…")
            self._signature = None
            return
        if plan.error:
            self._note("error", f"Cannot show what drives this: {plan.error}")
            return
        counts = tuple(len(results(k, plan.replications)) for k in plan.keys())
        signature = (id(plan), kpi, counts)
        if signature == self._signature and not force:
            return
        self._signature = signature
        failed = next((e for e in (errors(k) for k in plan.keys()) if e), None)
        d = compute(plan, results, kpi)
        if d.result is None:
            if failed:
                self._note("error", f"Cannot show what drives this: {failed}")
            elif d.ready and not math.isfinite(d.centre):
                self._note("error", f"{kpi_name(kpi)} is not defined in these short runs; choose another KPI.")
            else:
                self._note("running", "Trying each assumption at both ends of its plausible range, after your "
                                      "numbers (quick-preview runs on the background worker)…")
            self.figure_w.outputs = ()
            return
        state = "ready" if d.ready == d.total and d.replications >= plan.replications else "running"
        how = (f"Each bar: the {'change' if plan.setting_cells is not None else 'KPI'} with one assumption at the low "
               f"or high end of its plausible range, the others at their means; quick-preview runs, "
               f"{d.replications} paired replication{'s' * (d.replications != 1)} so far.")
        self.summary_w.value = (
            f'<div class="o2c-note" id="drivers-summary" data-state="{state}" data-ready="{d.ready}" '
            f'data-total="{d.total}" data-top="{html.escape(d.top_path)}" data-kpi="{kpi}">'
            f'<span id="drivers-sentence" style="font-size: 13px; color: #1f2933">{html.escape(d.summary)}</span>'
            f'<br>{html.escape(how)}</div>')
        self.figure_w.outputs = (self.render(drivers_figure(d, plan)),)

    def _note(self, state: str, text: str) -> None:
        cls = "o2c-error" if state == "error" else "o2c-note"
        self.summary_w.value = f'<div class="{cls}" id="drivers-summary" data-state="{state}">{html.escape(text)}</div>'


def drivers_figure(d: Drivers, plan: DriversPlan):
    """The sensitivity module's tornado with plain-word labels and a compact layout."""
    name = kpi_name(d.kpi)
    paired = plan.setting_cells is not None
    title = f"What drives the change in {name}" if paired else f"What drives {name}"
    fig = tornado_figure(d.result, d.kpi, names={f.path: parameter_words(f.path) for f in d.result.factors},
                         title=title)
    fig.update_layout(xaxis_title=f"{'change in ' if paired else ''}{name}", margin={"l": 10, "r": 10, "t": 80, "b": 40},
                      height=160 + 36 * len(d.result.factors),
                      legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0, "xanchor": "left"})
    fig.update_yaxes(automargin=True)
    return fig


__all__ = ["DriversPanel", "DriversPlan", "Drivers", "plan_drivers", "compute", "parameter_words", "change_words",
           "uncertainty_note", "DRIVER_REPLICATIONS"]
