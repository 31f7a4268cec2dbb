"""Side-by-side comparison of scenarios run with common random numbers (DESIGN §8).

Replication *r* of every scenario is seeded from ``(seed, r)``, so the difference between two
scenarios is taken replication by replication (a *paired* difference) and its 95 % confidence interval
is much narrower than the one of two independent means would be. The statistics are those of
:mod:`o2c_sim.experiments.tables` (:func:`~o2c_sim.experiments.tables.summarise`, :func:`~o2c_sim.experiments.tables.paired_differences`);
this module applies them to separately run :class:`~o2c_sim.experiments.replications.Replications` (e.g. two
scenario files) and formats the result as a table a team lead reads.

Worked example: DSO per replication of the baseline 50, 52, 54 and of the alternative 47, 50, 50 →
paired differences −3, −2, −4 → mean −3.0, t-interval −3.0 ± 4.303·1.0/√3 = [−5.48, −0.52]: the
alternative lowers DSO and the interval excludes zero.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from o2c_sim.errors import UserError
from o2c_sim.kpis import CATALOGUE
from o2c_sim.experiments.tables import METRIC_UNITS, paired_differences, summarise

#: KPIs shown by default when comparing scenarios (what a team lead looks at first)
DEFAULT_KPIS = ("dso", "bpdso", "add", "cei", "pct_over_90", "bad_debt_ratio", "dispute_sla_pct",
                "coverage_pct", "collector_utilisation", "cash_per_week")


def results_frame(runs: Mapping[str, object]) -> pd.DataFrame:
    """Stack labelled runs (``Replications`` or KPI frames with a ``replication`` column) into the
    shape of a sweep's ``results``: ``cell, scenario, replication, <kpis>`` (cell 0 = the first label)."""
    if not runs:
        raise UserError("nothing to compare: give at least one scenario")
    frames = []
    for cell, (name, obj) in enumerate(runs.items()):
        frame = obj.kpi_frame() if hasattr(obj, "kpi_frame") else pd.DataFrame(obj)
        if "replication" not in frame:
            raise UserError(f"{name}: expected a 'replication' column (one row per replication)")
        frames.append(frame.assign(cell=cell, scenario=str(name)))
    out = pd.concat(frames, ignore_index=True)
    cols = ["cell", "scenario", "replication"] + [c for c in out.columns if c not in ("cell", "scenario", "replication")]
    return out[cols].astype({c: float for c in cols[3:]})


def compare_runs(runs: Mapping[str, object], baseline: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(summary, differences)`` of labelled runs, in the formats of :class:`o2c_sim.experiments.sweep.SweepResult`.

    ``summary``: one row per scenario with ``{kpi}_mean/_lo/_hi``; ``differences``: paired
    differences ``scenario − baseline`` (``diff_mean, diff_lo, diff_hi``) per scenario and KPI.
    ``baseline`` defaults to the first label.
    """
    results = results_frame(runs)
    labels = list(dict.fromkeys(results["scenario"]))
    baseline = labels[0] if baseline is None else str(baseline)
    if baseline not in labels:
        raise UserError(f"baseline {baseline!r} is not among the compared scenarios {labels}")
    return summarise(results, ["scenario"]), paired_differences(results, ["scenario"], labels.index(baseline))


def cell_labels(frame: pd.DataFrame, grid_keys: Iterable[str] | None = None) -> pd.Series:
    """A readable label per row of a sweep summary/differences frame: its grid values joined by ', '."""
    keys = list(grid_keys) if grid_keys is not None else grid_columns(frame)
    if not keys:
        return frame["cell"].astype(str) if "cell" in frame else pd.Series([str(i) for i in range(len(frame))], index=frame.index)
    if len(keys) == 1:
        return frame[keys[0]].astype(str)
    return frame[keys].astype(str).apply(lambda r: ", ".join(f"{k.split('.')[-1]}={v}" for k, v in r.items()), axis=1)


_NOT_GRID = {"cell", "replication", "n", "kpi", "reference_mean", "cell_mean", "diff_mean", "diff_lo", "diff_hi",
             "unit", "significant"}


def grid_columns(frame: pd.DataFrame) -> list[str]:
    """The grid-value columns of a sweep summary/differences frame (everything that is not a statistic)."""
    stats = tuple(f"_{s}" for s in ("mean", "lo", "hi"))
    return [c for c in frame.columns if c not in _NOT_GRID and not c.endswith(stats) and c not in METRIC_UNITS]


def comparison_table(summary: pd.DataFrame, differences: pd.DataFrame, kpis: Iterable[str] = DEFAULT_KPIS,
                     decimals: int = 2) -> pd.DataFrame:
    """A wide table a team lead reads: one row per KPI; per scenario ``mean [lo, hi]``, and per
    alternative ``Δ [lo, hi]`` (its paired difference to the reference), ``*`` when the interval
    excludes zero."""
    def fmt(m, lo, hi, unit):
        if m is None or not np.isfinite(m):
            return "n/a"
        d = 0 if unit in ("money", "count") else decimals
        return f"{m:,.{d}f} [{lo:,.{d}f}, {hi:,.{d}f}]"

    keys = grid_columns(summary)
    names = cell_labels(summary, keys)
    diff_names = cell_labels(differences, keys) if len(differences) else pd.Series(dtype=str)
    rows = {}
    for kpi in kpis:
        if f"{kpi}_mean" not in summary:
            continue
        unit = METRIC_UNITS.get(kpi, "")
        row = {"unit": unit}
        for name, (_, s) in zip(names, summary.iterrows()):
            row[name] = fmt(s[f"{kpi}_mean"], s[f"{kpi}_lo"], s[f"{kpi}_hi"], unit)
        if len(differences):
            sel = differences["kpi"] == kpi
            for name, (_, d) in zip(diff_names[sel], differences[sel].iterrows()):
                sig = np.isfinite(d["diff_lo"]) and (d["diff_lo"] > 0 or d["diff_hi"] < 0)
                row[f"Δ {name}"] = fmt(d["diff_mean"], d["diff_lo"], d["diff_hi"], unit) + (" *" if sig else "")
        rows[kpi] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "kpi"
    return table


def kpi_table(summary: Mapping, kpis: Iterable[str] | None = None) -> pd.DataFrame:
    """One scenario's KPIs as a table: ``kpi`` (index), ``label``, ``unit``, ``mean``, ``ci95_lo``,
    ``ci95_hi``, ``meaning`` (label and meaning from :data:`o2c_sim.kpis.CATALOGUE`).

    ``summary`` is :meth:`Replications.summary() <o2c_sim.experiments.replications.Replications.summary>` (the shape
    of kpis.json). KPIs default to every KPI of the summary, in display order.
    """
    keys = [k for k in (kpis or METRIC_UNITS) if k in summary["mean"]]
    rows = [{"kpi": k, "label": CATALOGUE[k].label if k in CATALOGUE else k, "unit": METRIC_UNITS.get(k, ""),
             "mean": summary["mean"][k], "ci95_lo": summary["ci95"][k][0], "ci95_hi": summary["ci95"][k][1],
             "meaning": CATALOGUE[k].meaning if k in CATALOGUE else ""} for k in keys]
    return pd.DataFrame(rows).set_index("kpi").astype({"mean": float, "ci95_lo": float, "ci95_hi": float})
