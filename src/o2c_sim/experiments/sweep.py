"""Sweeps: replications of every cell of a grid of overrides, on Dask, resumable.

A *grid* maps dotted override paths (the one override mechanism of :mod:`o2c_sim.scenario`) to lists
of values; its *cells* are the cartesian product, in the order the keys and values are given (the last
key varies fastest). A *task* is one replication of one cell. Replication *r* of every cell is seeded
from ``(scenario seed, r)``, so the cells share common random numbers (CRN) and the difference between
two cells in replication *r* is a paired observation: :meth:`SweepResult.differences` reports paired
differences against a reference cell with their own 95 % confidence intervals.

This is the shape of Mesa's ``batch_run(model, parameters, iterations, processes)``::

    from o2c_sim.scenario import load_scenario
    from o2c_sim.experiments.sweep import sweep

    result = sweep(load_scenario("baseline"),
                   {"team.collectors": [4, 6, 8], "strategy.prioritisation": ["oldest_first", "largest_balance"]},
                   replications=5, workers=2, out="runs/staffing")
    result.results      # one row per (cell, replication): cell, the grid values, replication, every KPI
    result.summary      # one row per cell: mean and 95 % CI of every KPI
    result.differences  # paired differences vs the reference cell (the first), per cell and KPI

**Where it runs.** ``workers=1`` (and no ``scheduler``): in this process, one task after the other.
``workers=W > 1``: W local worker processes (:mod:`o2c_sim.experiments.executor`), started once per sweep.
``scheduler="tcp://host:8786"`` (or a ``distributed.Client``): an existing Dask cluster, whose workers
must have o2c-sim installed; the sweep only closes the client it opened itself. Workers only compute:
they return each task's KPIs to this process, which writes them, so no shared file system is needed.

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
sensitivity-analysis design, :mod:`o2c_sim.experiments.sensitivity`); the manifest then records the cells.

Results are sorted by (cell, replication) and are bit-identical whatever the number of workers and
however often the sweep was interrupted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from o2c_sim.errors import UserError
from o2c_sim.scenario import Scenario, load_scenario
from o2c_sim.experiments.executor import execute
from o2c_sim.experiments.grid import cell_scenarios, find_cell, grid_cells, normalise_cells, normalise_grid
from o2c_sim.experiments.tables import (ID_COLUMNS, METRIC_UNITS, build_results, format_summary, paired_differences,
                          summarise)
from o2c_sim.experiments.store import manifest_for, part_name, prepare_directory, read_part, write_parquet


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
            from o2c_sim.uncertainty import sweep_split

            self.variance = sweep_split(self.results, self.noise_only.results, list(self.grid))

    @property
    def metrics(self) -> list[str]:
        return [c for c in self.results.columns if c not in (*ID_COLUMNS, *self.grid)]

    def cell_scenario(self, cell: int) -> Scenario:
        """The resolved scenario of one cell."""
        return self.scenario.with_overrides(self.cells[cell]) if self.cells[cell] else self.scenario

    def compare(self, reference: int | Mapping[str, Any]) -> pd.DataFrame:
        """Paired differences against another reference: a cell number or its grid values."""
        return paired_differences(self.results, list(self.grid), find_cell(self.cells, reference))

    def table(self, kpis: Iterable[str] = ("dso", "cei", "bad_debt_ratio", "coverage_pct", "collector_utilisation")) -> str:
        """The summary as text: one row per cell, each KPI as ``mean [lo, hi]``."""
        return format_summary(self.summary, list(self.grid), list(kpis))


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
                row = read_part(out_path / "parts" / part_name(cell, rep))
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
            write_parquet(out_path / "parts" / part_name(cell, rep), part)
        if bar is not None:
            bar.update(1)

    try:
        if todo:
            execute(todo, on_done, workers=min(workers, len(todo)), scheduler=scheduler)
    finally:
        if bar is not None:
            bar.close()

    noise = None
    if split_variance and scenario.uncertain:
        from o2c_sim.scenario import at_means

        noise = sweep(at_means(scenario), None if design else grid, n, workers=workers, scheduler=scheduler,
                      out=None if out_path is None else out_path / "noise_only", progress=progress, cells=design,
                      split_variance=False)
    results = build_results(rows, cells, list(grid))
    result = SweepResult(scenario, grid, n, cells, results, reference=ref, out=out_path,
                         computed=len(todo), reused=reused, noise_only=noise)
    if out_path is not None:
        write_parquet(out_path / "results.parquet", result.results)
        write_parquet(out_path / "summary.parquet", result.summary)
        write_parquet(out_path / "differences.parquet", result.differences)
        if result.variance is not None:
            write_parquet(out_path / "variance.parquet", result.variance)
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


__all__ = ["SweepResult", "sweep", "load_sweep", "METRIC_UNITS"]
