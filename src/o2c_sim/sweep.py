"""Sweeps: replications of every cell of a grid of overrides, on Dask, resumable.

A *grid* maps dotted override paths (the one override mechanism of :mod:`o2c_sim.scenario`) to lists
of values; its *cells* are the cartesian product, in the order the keys and values are given (the last
key varies fastest). A *task* is one replication of one cell. Replication *r* of every cell is seeded
from ``(scenario seed, r)``, so the cells share common random numbers (CRN) and the difference between
two cells in replication *r* is a paired observation: :meth:`SweepResult.differences` reports paired
differences against a reference cell with their own 95 % confidence intervals.

This is the shape of Mesa's ``batch_run(model, parameters, iterations, processes)``::

    from o2c_sim.scenario import load_scenario
    from o2c_sim.sweep import sweep

    result = sweep(load_scenario("baseline"),
                   {"team.collectors": [4, 6, 8], "strategy.prioritisation": ["oldest_first", "largest_balance"]},
                   replications=5, workers=2, out="runs/staffing")
    result.results      # one row per (cell, replication): cell, the grid values, replication, every KPI
    result.summary      # one row per cell: mean and 95 % CI of every KPI
    result.differences  # paired differences vs the reference cell (the first), per cell and KPI

**Where it runs.** ``workers=1`` (and no ``scheduler``): in this process, one task after the other,
no cluster. ``workers=W > 1``: a ``distributed.LocalCluster`` of W worker processes with one thread
each, started and closed by the sweep. ``scheduler="tcp://host:8786"`` (or a ``distributed.Client``):
an existing Dask cluster, whose workers must have o2c-sim installed; the sweep only closes the client
it opened itself. Workers only compute: they return each task's KPIs to this process, which writes
them, so no shared file system is needed.

**The sweep directory** ``out`` (optional) holds:

* ``manifest.json`` — the resolved base scenario, the grid and the number of replications. Re-running
  into the same directory with anything different is a :class:`~o2c_sim.errors.UserError`, never a
  mix of results;
* ``scenario.yaml`` — the base scenario for people to read;
* ``parts/cell-CCCC_rep-RRRR.parquet`` — one row per finished task, written as soon as it finishes
  (temporary file + rename, so a part is either complete or absent). Re-running the same command after
  Ctrl-C, a killed worker or a crash computes only the missing tasks;
* ``results.parquet``, ``summary.parquet``, ``differences.parquet`` — written (atomically) at the end;
* ``noise_only/`` — when the scenario has uncertain parameters (:mod:`o2c_sim.uncertainty`): the same
  sweep with every parameter at its mean, from which ``variance.parquet`` splits each cell's variance
  between replications into a parameter and a stochastic share.

**Designs.** Instead of a grid, ``cells=[{path: value, …}, …]`` gives the cells one by one (a
sensitivity-analysis design, :mod:`o2c_sim.sensitivity`); the manifest then records the cells.

Results are sorted by (cell, replication) and are bit-identical whatever the number of workers and
however often the sweep was interrupted.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import math
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from .errors import UserError
from .kpis import CATALOGUE, kpi_mean_ci95, mean_ci95
from .model import simulate
from .results import KPI_UNITS
from .rundir import atomic_file, atomic_write_text
from .scenario import Scenario, load_scenario, parse_override

MANIFEST_FORMAT = 1

#: metrics a sweep records besides the KPIs of :data:`o2c_sim.results.KPI_UNITS`, with their units
EXTRA_METRICS = {k: CATALOGUE[k].unit for k in ("ar_average", "window_days")}
METRIC_UNITS = {**KPI_UNITS, **EXTRA_METRICS}

_ID_COLUMNS = ("cell", "replication")


# ------------------------------------------------------------------------------------------- the grid


def _plain(value: Any) -> Any:
    """numpy scalars → Python scalars, tuples/ranges → lists (so values are JSON- and YAML-friendly)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, range)):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def normalise_grid(grid: Mapping[str, Any] | None) -> dict[str, list]:
    """Check a grid and return it as ``{key: [values]}``; a scalar value means a one-value list.

    Keys must be dotted paths (validated against the schema later, cell by cell); each list must be
    non-empty and without repeated values.
    """
    if grid is None:
        return {}
    if not isinstance(grid, Mapping):
        raise UserError(f"the grid must be a mapping of dotted paths to lists of values, got {type(grid).__name__}")
    out: dict[str, list] = {}
    for key, values in grid.items():
        if not isinstance(key, str) or not key.strip() or not all(key.split(".")):
            raise UserError(f"grid key {key!r} is not a dotted path such as team.collectors")
        if isinstance(values, (list, tuple, range, np.ndarray, pd.Series, pd.Index)):
            values = [_plain(v) for v in list(values)]
        else:
            values = [_plain(values)]
        if not values:
            raise UserError(f"grid '{key}': no values given; expected at least one")
        seen = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(seen)) != len(seen):
            dup = next(v for v in seen if seen.count(v) > 1)
            raise UserError(f"grid '{key}': value {dup} is given more than once")
        out[key.strip()] = values
    return out


def grid_cells(grid: Mapping[str, list]) -> list[dict[str, Any]]:
    """The cells of a (normalised) grid: the cartesian product, first key slowest, last key fastest."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets, braces or quotes (``[1,2],3`` → ``[1,2]``, ``3``)."""
    parts, depth, quote, current = [], 0, "", []
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


_RANGE = re.compile(r"^\s*([+-]?\d+)\s*\.\.\s*([+-]?\d+)\s*(?::\s*(\d+)\s*)?$")


def parse_values(key: str, text: str) -> list:
    """The values of ``--grid key=TEXT`` / ``--range key=TEXT``, each parsed like an override value.

    ``TEXT`` is a comma-separated list (``4,6,8``, ``oldest_first,largest_balance``) or an inclusive
    integer range ``a..b`` with an optional step ``a..b:s`` (``2..20``, ``2..20:2``).
    """
    if not text.strip():
        raise UserError(f"grid '{key}': no values given; expected e.g. {key}=4,6,8 or {key}=2..8")
    m = _RANGE.match(text)
    if m:
        lo, hi, step = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        if step < 1:
            raise UserError(f"grid '{key}': the step of range {text!r} must be at least 1")
        if hi < lo:
            raise UserError(f"grid '{key}': range {text!r} is empty; expected a..b with a ≤ b")
        return list(range(lo, hi + 1, step))
    if ".." in text and not any(q in text for q in "'\"[{"):
        raise UserError(f"grid '{key}': {text!r} is not a range of whole numbers; expected a..b or a..b:step "
                        f"(e.g. 2..20), or a comma-separated list for other values")
    values = []
    for raw in _split_top_level(text):
        if not raw.strip():
            raise UserError(f"grid '{key}': empty value in {text!r}; expected comma-separated values")
        values.append(parse_override(f"{key}={raw}")[1])
    return values


def parse_grid_arg(text: str) -> tuple[str, list]:
    """``"team.collectors=4,6,8"`` → ``("team.collectors", [4, 6, 8])`` (see :func:`parse_values`)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserError(f"--grid {text!r} is not of the form key=v1,v2,... (e.g. team.collectors=4,6,8)")
    return key, parse_values(key, raw)


def cell_scenarios(scenario: Scenario, cells: list[dict[str, Any]]) -> list[Scenario]:
    """Every cell's scenario, validated up front: a bad value fails here naming the cell and field."""
    out = []
    for i, overrides in enumerate(cells):
        try:
            out.append(scenario.with_overrides(overrides) if overrides else scenario)
        except UserError as err:
            shown = ", ".join(f"{k}={v}" for k, v in overrides.items())
            raise UserError(f"grid cell {i} ({shown}) is not a valid scenario: {err}") from None
    return out


# ---------------------------------------------------------------------------------------------- tasks


def run_task(scenario: Scenario, replication: int) -> dict[str, float]:
    """One task: replication ``replication`` of ``scenario`` → its KPIs plus :data:`EXTRA_METRICS`.

    Module-level so Dask workers can import it. Every value is a float (NaN where undefined).
    """
    result = simulate(scenario, replication)
    daily = result.daily
    window = daily[daily["day"] >= scenario.warmup_days]
    metrics = {k: _float(v) for k, v in result.kpis.items()}
    metrics["ar_average"] = float(window["ar_total"].mean()) if len(window) else float("nan")
    metrics["window_days"] = float(scenario.horizon_days)
    return metrics


def _float(v: Any) -> float:
    try:
        return float(v) if v is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def _part_name(cell: int, replication: int) -> str:
    return f"cell-{cell:04d}_rep-{replication:04d}.parquet"


_PART = re.compile(r"^cell-(\d+)_rep-(\d+)\.parquet$")


def _write_parquet(path: Path, frame: pd.DataFrame) -> None:
    with atomic_file(path) as tmp:
        frame.to_parquet(tmp, index=False)


# ------------------------------------------------------------------------------------ sweep directory


def _jsonable(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (dates → ISO strings, tuples → lists)."""
    return json.loads(json.dumps(obj, default=lambda o: o.isoformat() if isinstance(o, (dt.date, dt.datetime)) else str(o)))


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list) and obj and all(isinstance(v, dict) for v in obj):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}.{v.get('name', i)}"))
        return out
    return {prefix: obj}


def _describe_difference(old: dict, new: dict) -> str:
    reasons = []
    if old.get("grid") != new["grid"]:
        reasons.append(f"the grid differs: it holds {json.dumps(old.get('grid'))}, you asked for {json.dumps(new['grid'])}")
    if old.get("replications") != new["replications"]:
        reasons.append(f"the number of replications differs: it holds {old.get('replications')}, you asked for {new['replications']}")
    if old.get("scenario") != new["scenario"]:
        a, b = _flatten(old.get("scenario") or {}), _flatten(new["scenario"])
        changed = sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))
        shown = ", ".join(f"{k}: {a.get(k, '<absent>')!r} → {b.get(k, '<absent>')!r}" for k in changed[:5])
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        reasons.append(f"the scenario differs ({shown}{more})")
    return "; ".join(reasons) or "the manifest differs"


def prepare_directory(out: Path, manifest: dict) -> set[tuple[int, int]]:
    """Create or reopen a sweep directory; return the (cell, replication) tasks already finished there.

    A new (or empty) directory gets the manifest. An existing sweep directory must hold the same
    manifest; any other non-empty directory is refused, so nothing already there is mixed or lost.
    """
    out = Path(out)
    path = out / "manifest.json"
    if out.exists() and not out.is_dir():
        raise UserError("exists and is not a directory; choose another --out", source=str(out))
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read the sweep manifest ({exc}); choose another --out", source=str(path)) from None
        if old != manifest:
            raise UserError(f"this directory holds a different sweep — {_describe_difference(old, manifest)}. "
                            "Results are never mixed: choose another --out, or re-run with the original settings to resume",
                            source=str(out))
    elif out.exists() and any(out.iterdir()):
        raise UserError("already exists and is not a sweep directory (no manifest.json); nothing is overwritten — "
                        "choose another --out", source=str(out))
    try:
        (out / "parts").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the sweep directory: {exc.strerror}", source=str(out)) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UserError("the sweep directory is not writable; choose another --out", source=str(out))
    if not path.exists():
        atomic_write_text(path, json.dumps(manifest, indent=2))
        atomic_write_text(out / "scenario.yaml", Scenario.model_validate(manifest["scenario"]).to_yaml())
    done = set()
    for p in (out / "parts").iterdir():
        m = _PART.match(p.name)
        if m:
            done.add((int(m.group(1)), int(m.group(2))))
    return done


def _read_part(path: Path) -> dict[str, float] | None:
    """A finished task's row, or None if the file cannot be read (it is then recomputed)."""
    try:
        frame = pd.read_parquet(path)
    except Exception:  # noqa: BLE001 — a damaged part is simply recomputed
        return None
    if len(frame) != 1:
        return None
    row = frame.iloc[0].to_dict()
    return {k: _float(v) for k, v in row.items() if k not in _ID_COLUMNS}


# ------------------------------------------------------------------------------------------ execution


def _execute(tasks: list[tuple[int, int, Scenario]], on_done: Callable[[int, int, dict], None], *,
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


# ----------------------------------------------------------------------------------------------- result


def _grid_column(values: list) -> list:
    """One grid key's values as a parquet-friendly column: scalars of one kind as they are, else text."""
    scalar = all(v is None or isinstance(v, (bool, int, float, str)) for v in values)
    kinds = {type(v) for v in values if v is not None}
    if scalar and (len(kinds) <= 1 or kinds <= {int, float}):
        return values
    return [v if isinstance(v, str) else json.dumps(v, default=str) for v in values]


def _metric_columns(rows: Iterable[dict]) -> list[str]:
    keys: set[str] = set()
    for r in rows:
        keys.update(r)
    return [k for k in METRIC_UNITS if k in keys] + sorted(keys - set(METRIC_UNITS))


@dataclass
class SweepResult:
    """What a sweep produced. ``results``/``summary``/``differences`` are plain DataFrames."""

    scenario: Scenario
    grid: dict[str, list]
    replications: int
    cells: list[dict[str, Any]]
    results: pd.DataFrame
    reference: int = 0
    out: Path | None = None
    computed: int = 0  #: tasks simulated by this call
    reused: int = 0  #: tasks read back from an earlier, interrupted call
    summary: pd.DataFrame = field(init=False)
    differences: pd.DataFrame = field(init=False)
    #: the same sweep with uncertain parameters at their means (None when nothing is uncertain)
    noise_only: "SweepResult | None" = None
    #: per cell and KPI, the variance split of :func:`o2c_sim.uncertainty.variance_split` (or None)
    variance: pd.DataFrame | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.summary = summarise(self.results, list(self.grid))
        self.differences = paired_differences(self.results, list(self.grid), self.reference)
        if self.noise_only is not None:
            from .uncertainty import sweep_split

            self.variance = sweep_split(self.results, self.noise_only.results, list(self.grid))

    @property
    def metrics(self) -> list[str]:
        return [c for c in self.results.columns if c not in (*_ID_COLUMNS, *self.grid)]

    def cell_scenario(self, cell: int) -> Scenario:
        """The resolved scenario of one cell."""
        return self.scenario.with_overrides(self.cells[cell]) if self.cells[cell] else self.scenario

    def compare(self, reference: int | Mapping[str, Any]) -> pd.DataFrame:
        """Paired differences against another reference: a cell number or its grid values."""
        return paired_differences(self.results, list(self.grid), find_cell(self.cells, reference))

    def table(self, kpis: Iterable[str] = ("dso", "cei", "bad_debt_ratio", "coverage_pct", "collector_utilisation")) -> str:
        """The summary as text: one row per cell, each KPI as ``mean [lo, hi]``."""
        return format_summary(self.summary, list(self.grid), list(kpis))


def find_cell(cells: list[dict[str, Any]], reference: int | Mapping[str, Any] | None) -> int:
    """A cell number from a number or from (some of) its grid values."""
    if reference is None:
        return 0
    if isinstance(reference, (int, np.integer)) and not isinstance(reference, bool):
        if not 0 <= reference < len(cells):
            raise UserError(f"reference cell {reference} does not exist; the sweep has cells 0..{len(cells) - 1}")
        return int(reference)
    if isinstance(reference, Mapping):
        ref = {k: _plain(v) for k, v in reference.items()}
        matches = [i for i, c in enumerate(cells) if all(k in c and c[k] == v for k, v in ref.items())]
        if len(matches) == 1:
            return matches[0]
        raise UserError(f"reference {ref} matches {len(matches)} cells; name exactly one cell by its grid values")
    raise UserError(f"reference must be a cell number or a mapping of grid values, got {reference!r}")


def build_results(rows: dict[tuple[int, int], dict], cells: list[dict[str, Any]], grid_keys: list[str]) -> pd.DataFrame:
    """The results table, sorted by (cell, replication), whatever order the tasks finished in."""
    order = sorted(rows)
    metrics = _metric_columns(rows.values())
    data: dict[str, Any] = {"cell": np.array([c for c, _ in order], dtype=np.int64)}
    for key in grid_keys:
        data[key] = _grid_column([cells[c][key] for c, _ in order])
    data["replication"] = np.array([r for _, r in order], dtype=np.int64)
    for m in metrics:
        data[m] = np.array([rows[t].get(m, float("nan")) for t in order], dtype=np.float64)
    return pd.DataFrame(data)


def summarise(results: pd.DataFrame, grid_keys: list[str]) -> pd.DataFrame:
    """One row per cell: the grid values, ``n`` replications, and ``{kpi}_mean``/``_lo``/``_hi`` (95 % CI
    within the KPI's range, :func:`o2c_sim.kpis.kpi_mean_ci95`)."""
    metrics = [c for c in results.columns if c not in (*_ID_COLUMNS, *grid_keys)]
    rows = []
    for cell, g in results.groupby("cell", sort=True):
        row: dict[str, Any] = {"cell": cell, **{k: g[k].iloc[0] for k in grid_keys}, "n": len(g)}
        for m in metrics:
            row[f"{m}_mean"], row[f"{m}_lo"], row[f"{m}_hi"] = kpi_mean_ci95(m, g[m].tolist())
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(results: pd.DataFrame, grid_keys: list[str], reference: int = 0) -> pd.DataFrame:
    """Paired (CRN) differences ``cell − reference`` per KPI, matched by replication.

    For each cell and KPI, d_r = x(cell, r) − x(reference, r) over the replications where both are
    defined; the table gives the reference and cell means over those replications, ``diff_mean`` and a
    Student-t 95 % CI ``diff_lo``/``diff_hi`` on the mean difference, and ``n`` pairs. Because
    replication r of every cell shares its random numbers, this interval is usually much narrower than
    the difference of two independent intervals.
    """
    metrics = [c for c in results.columns if c not in (*_ID_COLUMNS, *grid_keys)]
    by_cell = {c: g.set_index("replication") for c, g in results.groupby("cell", sort=True)}
    if reference not in by_cell:
        return pd.DataFrame(columns=["cell", *grid_keys, "kpi", "reference_mean", "cell_mean", "diff_mean", "diff_lo", "diff_hi", "n"])
    ref = by_cell[reference]
    rows = []
    for cell, g in by_cell.items():
        if cell == reference:
            continue
        common = g.index.intersection(ref.index)
        for m in metrics:
            a, b = g.loc[common, m].to_numpy(float), ref.loc[common, m].to_numpy(float)
            ok = np.isfinite(a) & np.isfinite(b)
            d_mean, d_lo, d_hi = mean_ci95((a[ok] - b[ok]).tolist())
            rows.append({"cell": cell, **{k: g[k].iloc[0] for k in grid_keys}, "kpi": m,
                         "reference_mean": float(b[ok].mean()) if ok.any() else float("nan"),
                         "cell_mean": float(a[ok].mean()) if ok.any() else float("nan"),
                         "diff_mean": d_mean, "diff_lo": d_lo, "diff_hi": d_hi, "n": int(ok.sum())})
    return pd.DataFrame(rows)


def _fmt(value: float, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.0f}" if unit in ("money", "count") else f"{value:,.2f}"


def format_summary(summary: pd.DataFrame, grid_keys: list[str], kpis: list[str]) -> str:
    """Text table: the grid values and, per KPI, ``mean [lo, hi]``."""
    table = pd.DataFrame({"cell": summary["cell"]})
    for k in grid_keys:
        table[k] = summary[k].astype(str)
    table["n"] = summary["n"]
    for kpi in kpis:
        if f"{kpi}_mean" not in summary:
            continue
        unit = METRIC_UNITS.get(kpi, "")
        table[kpi] = [f"{_fmt(m, unit)} [{_fmt(lo, unit)}, {_fmt(hi, unit)}]"
                      for m, lo, hi in zip(summary[f"{kpi}_mean"], summary[f"{kpi}_lo"], summary[f"{kpi}_hi"])]
    return table.to_string(index=False)


def format_differences(differences: pd.DataFrame, grid_keys: list[str], kpis: list[str]) -> str:
    """Text table of paired differences: per cell, each KPI's ``diff [lo, hi]``."""
    if differences.empty:
        return "(no other cell to compare)"
    wide = None
    for kpi in kpis:
        d = differences[differences["kpi"] == kpi]
        if d.empty:
            continue
        unit = METRIC_UNITS.get(kpi, "")
        col = pd.DataFrame({"cell": d["cell"].to_numpy(), **{k: d[k].astype(str).to_numpy() for k in grid_keys},
                            f"Δ {kpi}": [f"{_fmt(m, unit)} [{_fmt(lo, unit)}, {_fmt(hi, unit)}]"
                                         for m, lo, hi in zip(d["diff_mean"], d["diff_lo"], d["diff_hi"])]})
        wide = col if wide is None else wide.merge(col, on=["cell", *grid_keys])
    return "(none of the KPIs asked for)" if wide is None else wide.to_string(index=False)


# ------------------------------------------------------------------------------------------------ sweep


def manifest_for(scenario: Scenario, grid: dict[str, list], replications: int, cells: list[dict] | None = None) -> dict:
    """The identity of a sweep: what must match for a directory's parts to be reused."""
    design = {} if cells is None else {"cells": cells}
    return _jsonable({"format": MANIFEST_FORMAT, "scenario": scenario.model_dump(mode="json"),
                      "grid": grid, "replications": replications, **design})


def normalise_cells(cells: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, list]]:
    """A design's cells as plain dicts, and the ``grid`` naming its keys (each key's distinct values)."""
    out = [{str(k): _plain(v) for k, v in c.items()} for c in cells]
    if not out:
        raise UserError("the design has no cells")
    keys = list(dict.fromkeys(k for c in out for k in c))
    if any(set(c) != set(keys) for c in out):
        raise UserError(f"every cell of a design must set the same keys ({', '.join(keys)})")
    grid = {k: list({json.dumps(c[k], sort_keys=True): c[k] for c in out}.values()) for k in keys}
    return out, grid


def sweep(scenario: Scenario | str | Path, grid: Mapping[str, Any] | None = None, replications: int | None = None, *,
          workers: int = 1, scheduler: Any = None, out: str | Path | None = None, progress: bool = True,
          reference: int | Mapping[str, Any] | None = None, cells: Iterable[Mapping[str, Any]] | None = None,
          split_variance: bool = True) -> SweepResult:
    """Run ``replications`` replications of every cell of ``grid`` over ``scenario``.

    ``scenario``: a :class:`Scenario` or a scenario file/shipped name. ``grid``: ``{dotted path:
    [values]}`` applied on top of the scenario (values as an override takes them, ``"+2"`` relative).
    ``replications`` defaults to the scenario's. ``workers``/``scheduler``: where it runs (module
    docstring). ``out``: the sweep directory (resumable; None keeps everything in memory).
    ``reference``: the cell the paired differences compare against (default the first cell).
    ``cells``: a design — the cells one by one, instead of a grid. ``split_variance``: when the
    scenario has uncertain parameters, also run the noise-only sweep (parameters at their means) and
    fill :attr:`SweepResult.variance`.

    Every cell's scenario is validated before anything runs; a bad value raises :class:`UserError`
    naming the cell and the field.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if cells is not None:
        if grid:
            raise UserError("give either a grid or the cells of a design, not both")
        cells, grid = normalise_cells(cells)
        design = cells
    else:
        grid = normalise_grid(grid)
        design = None
    n = scenario.replications if replications is None else replications
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise UserError(f"replications must be a whole number of at least 1, got {n!r}")
    n = int(n)
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise UserError(f"workers must be a whole number of at least 1, got {workers!r}")
    if scheduler is not None and workers > 1:
        raise UserError("give either workers (a local cluster) or a scheduler address, not both")
    cells = grid_cells(grid) if design is None else design
    scenarios = cell_scenarios(scenario, cells)
    ref = find_cell(cells, reference)

    rows: dict[tuple[int, int], dict] = {}
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        finished = prepare_directory(out_path, manifest_for(scenario, grid, n, design))
        for cell, rep in sorted(finished):
            if cell < len(cells) and rep < n:
                row = _read_part(out_path / "parts" / _part_name(cell, rep))
                if row is not None:
                    rows[(cell, rep)] = row
    reused = len(rows)
    todo = [(c, r, scenarios[c]) for c in range(len(cells)) for r in range(n) if (c, r) not in rows]

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(cells) * n, initial=reused, desc=f"sweep {scenario.name}", unit="run", dynamic_ncols=True)

    def on_done(cell: int, rep: int, metrics: dict) -> None:
        rows[(cell, rep)] = metrics
        if out_path is not None:
            part = pd.DataFrame({"cell": [cell], "replication": [rep], **{k: [float(v)] for k, v in metrics.items()}})
            _write_parquet(out_path / "parts" / _part_name(cell, rep), part)
        if bar is not None:
            bar.update(1)

    try:
        if todo:
            _execute(todo, on_done, workers=min(workers, len(todo)), scheduler=scheduler)
    finally:
        if bar is not None:
            bar.close()

    noise = None
    if split_variance and scenario.uncertain:
        from .scenario import at_means

        noise = sweep(at_means(scenario), None if design else grid, n, workers=workers, scheduler=scheduler,
                      out=None if out_path is None else out_path / "noise_only", progress=progress, cells=design,
                      split_variance=False)
    results = build_results(rows, cells, list(grid))
    result = SweepResult(scenario, grid, n, cells, results, reference=ref, out=out_path,
                         computed=len(todo), reused=reused, noise_only=noise)
    if out_path is not None:
        _write_parquet(out_path / "results.parquet", result.results)
        _write_parquet(out_path / "summary.parquet", result.summary)
        _write_parquet(out_path / "differences.parquet", result.differences)
        if result.variance is not None:
            _write_parquet(out_path / "variance.parquet", result.variance)
    return result


def load_sweep(out: str | Path) -> SweepResult:
    """Read a finished sweep directory back (manifest + results.parquet)."""
    out = Path(out)
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        results = pd.read_parquet(out / "results.parquet")
    except FileNotFoundError as exc:
        raise UserError(f"not a finished sweep directory ({Path(exc.filename).name} is missing); re-run the sweep to finish it",
                        source=str(out)) from None
    scenario = Scenario.model_validate(manifest["scenario"])
    grid = manifest["grid"]
    cells = manifest.get("cells") or grid_cells(grid)
    noise = load_sweep(out / "noise_only") if (out / "noise_only" / "results.parquet").exists() else None
    return SweepResult(scenario, grid, manifest["replications"], cells, results, out=out,
                       reused=len(results), noise_only=noise)


__all__ = [
    "EXTRA_METRICS", "METRIC_UNITS", "SweepResult", "sweep", "load_sweep", "grid_cells", "normalise_grid",
    "parse_values", "parse_grid_arg", "cell_scenarios", "run_task", "paired_differences", "summarise",
    "format_summary", "format_differences", "find_cell", "manifest_for", "normalise_cells",
]
