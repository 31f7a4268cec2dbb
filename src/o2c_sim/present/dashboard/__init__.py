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
through :mod:`o2c_sim.forecast`."""

from o2c_sim.present.dashboard.cash import (  # noqa: F401
    DEFAULT_FORECAST_MODELS,
    FORECAST_HORIZON,
    FORECAST_NOTE,
    HISTORY_LABELS,
    SIMULATED_HISTORY_SCENARIO,
    WHAT_IF_REPLICATIONS,
    CashForecast,
    ProcessJob,
    actual_receipts,
    default_as_of,
    forecast_table_html,
    identification_note,
    load_history,
    run_forecast,
    run_what_if,
    simulated_history,
)
from o2c_sim.present.dashboard.runner import Job, Runner, process_pool  # noqa: F401
from o2c_sim.present.dashboard.setting import (  # noqa: F401
    HEADLINE_KPIS,
    KPI_DIRECTION,
    KPI_NAMES,
    PREVIEW_OVERRIDES,
    PREVIEW_REPLICATIONS,
    STRATEGY_LABELS,
    Cadence,
    DeskSetting,
    Setting,
    cadence_of,
    cadence_overrides,
    cli_command,
    describe_cadence,
    desk_overrides,
    overrides_for,
    overrides_for_safe,
    rejection_message,
    resolve,
    run_length,
    scenario_key,
    setting_from_scenario,
    shipped_scenarios,
)
from o2c_sim.present.dashboard.staffing import PAGE_NOTE, StaffingWhatIf, query_params  # noqa: F401
from o2c_sim.present.dashboard.summary import (  # noqa: F401
    STYLE,
    curve_collectors,
    curve_frame,
    fmt_value,
    kpi_table_html,
    plain_arrays,
    plotly_output,
    summarise,
)

__all__ = [
    "DEFAULT_FORECAST_MODELS",
    "FORECAST_HORIZON",
    "FORECAST_NOTE",
    "HISTORY_LABELS",
    "SIMULATED_HISTORY_SCENARIO",
    "WHAT_IF_REPLICATIONS",
    "CashForecast",
    "ProcessJob",
    "actual_receipts",
    "default_as_of",
    "forecast_table_html",
    "identification_note",
    "load_history",
    "run_forecast",
    "run_what_if",
    "simulated_history",
    "Job",
    "Runner",
    "process_pool",
    "HEADLINE_KPIS",
    "KPI_DIRECTION",
    "KPI_NAMES",
    "PREVIEW_OVERRIDES",
    "PREVIEW_REPLICATIONS",
    "STRATEGY_LABELS",
    "Cadence",
    "DeskSetting",
    "Setting",
    "cadence_of",
    "cadence_overrides",
    "cli_command",
    "describe_cadence",
    "desk_overrides",
    "overrides_for",
    "overrides_for_safe",
    "rejection_message",
    "resolve",
    "run_length",
    "scenario_key",
    "setting_from_scenario",
    "shipped_scenarios",
    "PAGE_NOTE",
    "StaffingWhatIf",
    "query_params",
    "STYLE",
    "curve_collectors",
    "curve_frame",
    "fmt_value",
    "kpi_table_html",
    "plain_arrays",
    "plotly_output",
    "summarise",
]
