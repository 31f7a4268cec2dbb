"""A sweep's tables: one row per (cell, replication), the per-cell summary with 95 % confidence
intervals, and the paired differences against a reference cell (common random numbers), as text too.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

import numpy as np
import pandas as pd

from o2c_sim.kpis import CATALOGUE, kpi_mean_ci95, mean_ci95
from o2c_sim.sim.results import KPI_UNITS

#: metrics a sweep records besides the KPIs of :data:`o2c_sim.sim.results.KPI_UNITS`, with their units
EXTRA_METRICS = {k: CATALOGUE[k].unit for k in ("ar_average", "window_days")}


METRIC_UNITS = {**KPI_UNITS, **EXTRA_METRICS}


ID_COLUMNS = ("cell", "replication")


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
    metrics = [c for c in results.columns if c not in (*ID_COLUMNS, *grid_keys)]
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
    metrics = [c for c in results.columns if c not in (*ID_COLUMNS, *grid_keys)]
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


def as_float(v: Any) -> float:
    """A metric as a float (NaN where undefined)."""
    try:
        return float(v) if v is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")
