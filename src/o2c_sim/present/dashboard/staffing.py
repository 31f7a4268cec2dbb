"""The staffing what-if dashboard: sliders for the team, strategy and cadence, KPIs with paired CIs."""

from __future__ import annotations

import html
import math
import os
import threading
import time
from typing import Any, Mapping

from o2c_sim.errors import UserError
from o2c_sim.present.dashboard.runner import Runner
from o2c_sim.present.dashboard.setting import (
    HEADLINE_KPIS,
    KPI_NAMES,
    PREVIEW_OVERRIDES,
    PREVIEW_REPLICATIONS,
    STRATEGY_LABELS,
    DeskSetting,
    Setting,
    cli_command,
    describe_cadence,
    overrides_for,
    overrides_for_safe,
    rejection_message,
    resolve,
    run_length,
    scenario_key,
    setting_from_scenario,
    shipped_scenarios,
)
from o2c_sim.present.dashboard.summary import (
    STYLE,
    curve_collectors,
    curve_frame,
    kpi_table_html,
    plotly_output,
    summarise,
)
from o2c_sim.scenario import STRATEGIES


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
        from o2c_sim.present.dashboard.drivers import DriversPanel

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
