"""Parameters of the notebooks in ``notebooks/``: one registry, one validator, shared by every notebook
and by ``o2c-sim report`` (DESIGN §9, §10).

Each notebook has a cell tagged ``parameters`` and, right after it, one line::

    p = notebook_params.check("run_scenario", globals())

which validates every parameter (type, range, that the scenario file exists and its overrides name
real fields), rejects parameters the notebook does not know (papermill would otherwise inject them
silently), loads the scenario with its overrides and returns a :class:`Params` namespace. Bad input
raises :class:`~o2c_sim.errors.UserError` whose message names the parameter and what was expected, so
a bad papermill run fails in its first cells. ``o2c-sim report`` calls :func:`validate` with the same
registry before it even starts a kernel.

Values may arrive as Python objects (``papermill -y``, the notebook's own defaults) or as text
(``papermill -p``/``o2c-sim report -p``): text is parsed as YAML (``8`` → 8, ``[4, 6]`` → a list,
``{team.collectors: 8}`` → a mapping).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    import pandas as pd

import yaml

from o2c_sim.errors import UserError
from o2c_sim.scenario import safe_load_text

# ------------------------------------------------------------------------------------------ kinds


def _text(value: Any) -> Any:
    """Parse text the way an override value is parsed (YAML); other values unchanged."""
    if isinstance(value, str):
        try:
            return safe_load_text(value) if value.strip() else value  # duplicate keys, alias bombs refused
        except yaml.YAMLError:
            return value
    return value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _str(name: str, v: Any) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    if not isinstance(v, str):
        raise UserError(f"parameter '{name}': expected text, got {v!r} ({type(v).__name__})")
    return v


def _int(minimum: int | None = None, maximum: int | None = None) -> Callable[[str, Any], int]:
    def check(name: str, v: Any) -> int:
        v = _text(v)
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not _is_int(v):
            raise UserError(f"parameter '{name}': expected a whole number, got {v!r} ({type(v).__name__})")
        if minimum is not None and v < minimum:
            raise UserError(f"parameter '{name}': must be at least {minimum}, got {v}")
        if maximum is not None and v > maximum:
            raise UserError(f"parameter '{name}': must be at most {maximum}, got {v}")
        return v
    return check


def _optional(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    def inner(name: str, v: Any) -> Any:
        v = _text(v)
        return None if v is None or v == "" else check(name, v)
    return inner


def _float(minimum: float | None = None, maximum: float | None = None) -> Callable[[str, Any], float]:
    def check(name: str, v: Any) -> float:
        v = _text(v)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise UserError(f"parameter '{name}': expected a number, got {v!r} ({type(v).__name__})")
        if minimum is not None and v < minimum or maximum is not None and v > maximum:
            raise UserError(f"parameter '{name}': must be between {minimum} and {maximum}, got {v}")
        return float(v)
    return check


def _bool(name: str, v: Any) -> bool:
    v = _text(v)
    if not isinstance(v, bool):
        raise UserError(f"parameter '{name}': expected true or false, got {v!r}")
    return v


def _overrides(name: str, v: Any) -> dict[str, Any]:
    """A mapping of dotted paths to values; also accepts ``["team.collectors=8", ...]`` or that as text."""
    from o2c_sim.scenario import merge_overrides

    v = _text(v)
    if v is None or v == "":
        return {}
    if isinstance(v, str):
        v = [part for part in v.replace(";", ",").split(",") if part.strip()]
    if isinstance(v, (list, tuple)):
        if not all(isinstance(x, str) for x in v):
            raise UserError(f"parameter '{name}': expected key=value strings such as 'team.collectors=8', got {v!r}")
        return merge_overrides(v)  # a repeated key applies in order, as on the command line
    if isinstance(v, Mapping):
        bad = [k for k in v if not isinstance(k, str) or not k.strip()]
        if bad:
            raise UserError(f"parameter '{name}': keys must be dotted paths such as team.collectors, got {bad!r}")
        return dict(v)
    raise UserError(f"parameter '{name}': expected a mapping of dotted paths to values "
                    f"(e.g. {{'team.collectors': 8}}), got {v!r} ({type(v).__name__})")


def _int_list(name: str, v: Any) -> list[int]:
    """Whole numbers: a list, one number, or text such as ``4..8``, ``4..12:2`` or ``4,6,8``."""
    if isinstance(v, str) and (".." in v or "," in v):
        from o2c_sim.experiments.grid import parse_values

        try:
            v = parse_values(name, v)
        except UserError as err:
            raise UserError(f"parameter {err}") from None
    v = _text(v)
    if _is_int(v):
        v = [v]
    if not isinstance(v, (list, tuple)) or not v or not all(_is_int(x) for x in v):
        raise UserError(f"parameter '{name}': expected a list of whole numbers such as [4, 5, 6] or '4..8', got {v!r}")
    if len(set(v)) != len(v):
        raise UserError(f"parameter '{name}': values must not repeat, got {list(v)}")
    return [int(x) for x in v]


def _str_list(name: str, v: Any) -> list[str]:
    v = _text(v)
    if isinstance(v, str):
        v = [x.strip() for x in v.split(",") if x.strip()]
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        raise UserError(f"parameter '{name}': expected a list of names such as ['dso', 'cei'], got {v!r}")
    return list(v)


def _kpis(name: str, v: Any) -> list[str]:
    from o2c_sim.experiments.tables import METRIC_UNITS

    v = _str_list(name, v)
    unknown = [k for k in v if k not in METRIC_UNITS]
    if unknown or not v:
        raise UserError(f"parameter '{name}': unknown KPI(s) {unknown}; expected some of {', '.join(METRIC_UNITS)}")
    return v


def _target(name: str, v: Any) -> str:
    """A target such as ``dso<=45`` (checked by :func:`o2c_sim.experiments.staffing.parse_target`), kept as text."""
    from o2c_sim.experiments.staffing import parse_target

    v = _str(name, v)
    try:
        return str(parse_target(v))
    except UserError as err:
        raise UserError(f"parameter '{name}': {err}") from None


def _alternatives(name: str, v: Any) -> dict[str, dict[str, Any]]:
    """``{label: {dotted.path: value}}`` — the scenarios a comparison puts side by side."""
    v = _text(v)
    if not isinstance(v, Mapping) or len(v) < 2:
        raise UserError(f"parameter '{name}': expected a mapping of at least two labels to override mappings, e.g. "
                        "{'oldest first': {'strategy.prioritisation': 'oldest_first'}, "
                        "'largest balance': {'strategy.prioritisation': 'largest_balance'}}, got "
                        f"{v!r}")
    return {str(label): _overrides(f"{name}.{label}", ov) for label, ov in v.items()}


def _models(name: str, v: Any) -> list[str] | None:
    from o2c_sim.forecast.registry import MODELS

    v = _str_list(name, v)
    unknown = [m for m in v if m not in MODELS]
    if unknown:
        raise UserError(f"parameter '{name}': unknown model(s) {unknown}; expected some of {', '.join(MODELS)}")
    return v or None


def _date(name: str, v: Any) -> dt.date | None:
    v = _text(v)
    if v is None or v == "":
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        raise UserError(f"parameter '{name}': expected a date YYYY-MM-DD, got {v!r}") from None


def _path(name: str, v: Any) -> str:
    """A file that may be empty (= use the default); otherwise it must exist."""
    v = "" if v is None else _str(name, v)
    if v and not Path(v).expanduser().exists():
        raise UserError(f"parameter '{name}': file not found: {v}")
    return v


def _xlsx(name: str, v: Any) -> str:
    """Where to write the Excel workbook: a path, ``true`` (the notebook's name + .xlsx) or empty (none)."""
    v = _text(v)
    if v is None or v is False or v == "":
        return ""
    if v is True:
        return True  # type: ignore[return-value]  # resolved to a file name by check()
    v = _str(name, v)
    if not v.lower().endswith(".xlsx"):
        raise UserError(f"parameter '{name}': expected a file name ending in .xlsx (or true/false), got {v!r}")
    return v


def _scenario_out(name: str, v: Any) -> str:
    v = "" if v is None else _str(name, v)
    if v and Path(v).suffix.lower() not in (".yaml", ".yml"):
        raise UserError(f"parameter '{name}': expected a file name ending in .yaml, got {v!r}")
    if v and Path(v).exists():
        raise UserError(f"parameter '{name}': {v} already exists; a scenario is never overwritten")
    return v


# --------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Spec:
    check: Callable[[str, Any], Any]
    help: str
    path: bool = False  #: a file path, made absolute by ``o2c-sim report`` (the notebook runs elsewhere)


PARAMETERS: dict[str, Spec] = {
    "scenario": Spec(_str, "scenario YAML file or shipped name (e.g. baseline)", path=True),
    "overrides": Spec(_overrides, "dotted-path overrides, e.g. {'team.collectors': 8}"),
    "replications": Spec(_int(1, 1000), "replications per scenario (common random numbers)"),
    "seed": Spec(_optional(_int()), "seed (empty: the scenario's)"),
    "xlsx": Spec(_xlsx, "write the report's tables to this .xlsx workbook (true: <notebook>.xlsx)", path=False),
    "collectors": Spec(_int_list, "collector headcounts to sweep, e.g. [4, 5, 6] or '4..10'"),
    "target": Spec(_target, "KPI target such as 'dso<=45' or 'coverage_pct>=80'"),
    "confidence": Spec(_float(0.5, 0.999), "confidence that the target is met (e.g. 0.9)"),
    "workers": Spec(_int(1, 256), "parallel worker processes for sweeps"),
    "alternatives": Spec(_alternatives, "{label: {override: value}} — scenarios compared side by side (first = reference)"),
    "kpis": Spec(_kpis, "KPIs shown in tables and figures"),
    "history": Spec(_path, "ledger file (CSV/XLSX/Parquet); empty: the IBM sample if present, else a simulated history",
                    path=True),
    "mapping": Spec(_str, "column mapping for the ledger (YAML or shipped name, e.g. ibm_ar); empty: none", path=True),
    "payments": Spec(_path, "payments table (CSV/XLSX/Parquet: invoice_id, payment_date, amount), one row per "
                     "payment; empty: receipts from the ledger's paid dates", path=True),
    "clusters": Spec(_int(1, 10), "lateness clusters of customers found by calibration"),
    "accounts": Spec(_int(1, 100_000), "accounts simulated to check a calibration"),
    "scenario_out": Spec(_scenario_out, "write the calibrated scenario to this new .yaml file (empty: do not write)"),
    "as_of": Spec(_date, "as-of date YYYY-MM-DD (empty: the latest the history allows)"),
    "horizon_weeks": Spec(_int(1, 52), "forecast horizon in weeks"),
    "models": Spec(_optional(lambda n, v: _models(n, v)), "forecast models (None: all)"),
    "period_weeks": Spec(_int(1, 26), "length of the period checked by the gap analysis, in weeks"),
}

#: each notebook's parameters, in the order of its ``parameters`` cell
NOTEBOOKS: dict[str, tuple[str, ...]] = {
    "run_scenario": ("scenario", "overrides", "replications", "seed", "xlsx"),
    "staffing_sweep": ("scenario", "overrides", "collectors", "replications", "target", "confidence", "workers",
                       "xlsx"),
    "strategy_comparison": ("scenario", "overrides", "alternatives", "replications", "kpis", "xlsx"),
    "team_design": ("scenario", "overrides", "alternatives", "replications", "kpis", "xlsx"),
    "calibration": ("history", "mapping", "clusters", "accounts", "replications", "scenario_out", "xlsx"),
    "cash_forecast_report": ("history", "mapping", "payments", "as_of", "horizon_weeks", "models", "xlsx"),
    "forecast_gap_analysis": ("history", "mapping", "payments", "as_of", "period_weeks", "xlsx"),
}

_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


class Params(dict):
    """Validated parameters (also readable as attributes); ``scenario`` is the loaded
    :class:`~o2c_sim.scenario.Scenario` with overrides applied, ``scenario_source`` the name given."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _stem(notebook: str) -> str:
    return Path(notebook).stem


def validate(notebook: str, values: Mapping[str, Any], *, known: tuple[str, ...] | None = None,
             load: bool = True) -> Params:
    """Validate ``values`` for ``notebook`` (its name or path); return them parsed.

    ``known`` overrides the registry's list of the notebook's parameters (for notebooks outside it).
    Unknown names are an error naming the accepted ones. With ``load`` the scenario is loaded with
    its overrides (so a bad file or override key fails here) and replaces the ``scenario`` name.
    """
    name = _stem(notebook)
    accepted = known if known is not None else NOTEBOOKS.get(name)
    if accepted is None:
        raise UserError(f"notebook {name!r} has no parameter list; expected one of {', '.join(NOTEBOOKS)}")
    unknown = [k for k in values if k not in accepted]
    if unknown:
        raise UserError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for notebook {name!r}; "
                        f"it accepts {', '.join(accepted)}")
    out = Params()
    for key, value in values.items():
        spec = PARAMETERS.get(key)
        out[key] = spec.check(key, value) if spec else value
    if out.get("xlsx") is True:
        out["xlsx"] = f"{name}.xlsx"
    if load and "scenario" in out:
        from o2c_sim.scenario import load_scenario

        out["scenario_source"] = out["scenario"]
        overrides = dict(out.get("overrides") or {})
        scenario = load_scenario(out["scenario"], overrides or None)
        if out.get("seed") is not None:
            scenario = scenario.with_overrides({"seed": out["seed"]})
        for label, alt in (out.get("alternatives") or {}).items():
            try:
                scenario.with_overrides(alt)
            except UserError as err:
                raise UserError(f"parameter 'alternatives', {label!r}: {err}") from None
        out["scenario"] = scenario
    return out


def check(notebook: str, namespace: Mapping[str, Any]) -> Params:
    """Validate a notebook's parameters from its ``globals()`` and set up plotly for reports.

    Every user-level name defined before this call must be one of the notebook's parameters, so a
    misspelt papermill parameter (``-p replication 5``) fails instead of being ignored.
    """
    name = _stem(notebook)
    accepted = NOTEBOOKS.get(name)
    if accepted is None:
        raise UserError(f"notebook {name!r} has no parameter list; expected one of {', '.join(NOTEBOOKS)}")
    given = {k: v for k, v in namespace.items()
             if not k.startswith("_") and k not in _IPYTHON_NAMES and not isinstance(v, ModuleType) and not callable(v)}
    missing = [k for k in accepted if k not in given]
    if missing:
        raise UserError(f"notebook {name!r}: parameter(s) {', '.join(missing)} missing from its parameters cell")
    params = validate(name, given)
    use_plotly_mimetype()
    return params


def use_plotly_mimetype() -> None:
    """Figures as plotly's JSON mimetype: JupyterLab draws them, ``o2c-sim report`` renders them into
    the HTML with plotly.js inline (offline), and executed notebooks stay small."""
    import plotly.io as pio

    pio.renderers.default = "plotly_mimetype"


def defaults_from_source(source: str) -> dict[str, Any]:
    """The literal values assigned in a parameters cell's source (``name = value`` lines)."""
    import ast

    out: dict[str, Any] = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name) and node.value is not None:
                    try:
                        out[t.id] = ast.literal_eval(node.value)
                    except ValueError:
                        out[t.id] = None
    return out


def absolute_paths(values: Mapping[str, Any], base: str | os.PathLike | None = None) -> dict[str, Any]:
    """Make file-path parameters absolute (relative to ``base``, default the current directory) when
    they name an existing file, so a notebook executed in another directory finds them."""
    base = Path(base or os.getcwd())
    out = dict(values)
    for key, value in values.items():
        spec = PARAMETERS.get(key)
        if spec and spec.path and isinstance(value, str) and value:
            p = Path(value).expanduser()
            candidate = p if p.is_absolute() else base / p
            if candidate.exists():
                out[key] = str(candidate.resolve())
    return out


# ----------------------------------------------------------------------------------------- histories


def load_history(history: str = "", mapping: str = "") -> tuple["pd.DataFrame", str]:
    """The invoice table a calibration or forecast notebook works on, and a line describing it.

    ``history`` given: that ledger file (through :func:`o2c_sim.data.importer.load_ledger` with ``mapping``).
    Empty: the IBM accounts-receivable sample when it is present (DESIGN §6), else a history simulated
    from the baseline scenario (one replication, the same invoice table a simulation writes).
    """
    from o2c_sim.data.importer import load_ledger
    from o2c_sim.settings import ibm_ar_csv

    if history:
        table = load_ledger(history, mapping or None)
        return table, f"ledger {history} ({len(table):,} invoices)"
    sample = ibm_ar_csv()
    if sample.exists():
        table = load_ledger(sample, mapping or "ibm_ar")
        return table, f"the IBM accounts-receivable sample ({len(table):,} invoices; see its SOURCE.md for caveats)"
    from o2c_sim.sim.model import simulate
    from o2c_sim.scenario import load_scenario

    scenario = load_scenario("baseline")
    table = simulate(scenario, 0).invoices
    return table, (f"a history simulated from the baseline scenario ({len(table):,} invoices; the IBM sample "
                   f"was not found at {sample})")


def load_payments(payments: str, table: "pd.DataFrame") -> "pd.DataFrame | None":
    """The dated payment records of ``payments`` (:func:`o2c_sim.data.importer.load_payments`, every
    invoice checked against ``table``), or None when empty: receipts then come from the ledger's paid dates."""
    from o2c_sim.data.importer import load_payments as read

    return read(payments, set(table["invoice_id"].astype(str))) if payments else None


def default_as_of(table: "pd.DataFrame", weeks_after: int = 0) -> "pd.Timestamp":
    """An as-of date the history allows: its end (``weeks_after=0``), or the Sunday before the last
    ``weeks_after`` complete weeks (Monday–Sunday) of the history, so that they can be checked against it."""
    import pandas as pd

    from o2c_sim.forecast.series import history_end

    end = history_end(table)
    if weeks_after <= 0:
        return end
    last_complete_sunday = end.to_period("W-SUN").start_time - pd.Timedelta(days=1)
    return last_complete_sunday - pd.Timedelta(weeks=weeks_after)
