"""A dashboard setting (team, strategy, cadence) and the scenario overrides it stands for."""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from o2c_sim import strategies
from o2c_sim.errors import UserError
from o2c_sim.kpis import CATALOGUE
from o2c_sim.scenario import DunningStep, Scenario, resized_collectors

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
