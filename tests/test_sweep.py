"""Sweeps: the parquet files, resuming after an interruption, identical results on 1 or 2 workers, bad grids."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

import o2c_sim.experiments.executor as sweep_mod
from o2c_sim.cli import main
from o2c_sim.errors import UserError
from o2c_sim.kpis import CATALOGUE
from o2c_sim.sim.results import KPI_UNITS
from o2c_sim.scenario import load_scenario
from o2c_sim.experiments.sweep import load_sweep, sweep
from o2c_sim.experiments.grid import grid_cells, parse_grid_arg, parse_values

TINY = {"portfolio.accounts": 150, "horizon_days": 92, "warmup_days": 62}
TINY_ARGS = [f"--set={k}={v}" for k, v in TINY.items()]
GRID = {"team.collectors": [1, 3], "strategy.prioritisation": ["oldest_first", "largest_balance"]}
REPS = 3
REAL_SIMULATE = sweep_mod.simulate


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("baseline", TINY)


@pytest.fixture(scope="module")
def full(tmp_path_factory, scenario):
    """The uninterrupted sweep, in this process: 2 × 2 cells × 3 replications."""
    out = tmp_path_factory.mktemp("sweep") / "full"
    return sweep(scenario, GRID, REPS, out=out, progress=False)


class Stopped(Exception):
    pass


class Counting:
    """Stands in for ``simulate`` in the sweep module: counts calls and can fail after ``stop_after``."""

    def __init__(self, stop_after: int | None = None):
        self.calls: list[tuple[str, int]] = []
        self.stop_after = stop_after

    def __call__(self, scenario, replication, **kw):
        if self.stop_after is not None and len(self.calls) >= self.stop_after:
            raise Stopped("as if the machine went down during this replication")
        self.calls.append((scenario.strategy.prioritisation, replication))
        return REAL_SIMULATE(scenario, replication, **kw)


def test_sweep_writes_results_and_summary(full):
    out = full.out
    assert {p.name for p in out.iterdir()} >= {"manifest.json", "scenario.yaml", "parts", "results.parquet",
                                              "summary.parquet", "differences.parquet"}
    assert len(list((out / "parts").glob("*.parquet"))) == 4 * REPS
    results = pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(results, full.results)
    assert len(results) == 4 * REPS
    assert list(results.columns[:4]) == ["cell", "team.collectors", "strategy.prioritisation", "replication"]
    levers = {k for k in KPI_UNITS if CATALOGUE[k].group == "levers"}  # only with fees or credit holds on
    assert set(KPI_UNITS) - levers <= set(results.columns) and "ar_average" in results.columns
    assert results[["cell", "replication"]].values.tolist() == [[c, r] for c in range(4) for r in range(REPS)]
    assert results["team.collectors"].tolist() == [1] * 6 + [3] * 6
    summary = pd.read_parquet(out / "summary.parquet")
    assert len(summary) == 4 and (summary["n"] == REPS).all()
    for kpi in ("dso", "collector_utilisation"):
        assert (summary[f"{kpi}_lo"] <= summary[f"{kpi}_mean"]).all() and (summary[f"{kpi}_mean"] <= summary[f"{kpi}_hi"]).all()
        # the summary mean is the mean of the cell's replications
        np.testing.assert_allclose(summary[f"{kpi}_mean"], results.groupby("cell")[kpi].mean())
    # more collectors → lower utilisation, and the paired difference says so with confidence
    diff = full.differences.set_index(["cell", "kpi"])
    assert diff.loc[(2, "collector_utilisation"), "diff_hi"] < 0
    pairs = results.pivot(index="replication", columns="cell", values="collector_utilisation")
    assert diff.loc[(2, "collector_utilisation"), "diff_mean"] == pytest.approx((pairs[2] - pairs[0]).mean())
    assert load_sweep(out).results.equals(full.results)


def test_interrupted_sweep_resumes_with_only_the_missing_tasks(tmp_path, monkeypatch, scenario, full):
    out = tmp_path / "sweep"
    stopper = Counting(stop_after=5)
    monkeypatch.setattr(sweep_mod, "simulate", stopper)
    with pytest.raises(Stopped):
        sweep(scenario, GRID, REPS, out=out, progress=False)
    parts = sorted((out / "parts").glob("*.parquet"))
    assert len(parts) == 5 and not (out / "results.parquet").exists()
    assert not list((out / "parts").glob(".*"))  # no temporary file left behind
    mtimes = {p.name: p.stat().st_mtime_ns for p in parts}

    counter = Counting()
    monkeypatch.setattr(sweep_mod, "simulate", counter)
    resumed = sweep(scenario, GRID, REPS, out=out, progress=False)
    assert len(counter.calls) == 4 * REPS - 5
    assert (resumed.computed, resumed.reused) == (4 * REPS - 5, 5)
    assert {p.name: p.stat().st_mtime_ns for p in parts} == mtimes  # finished parts were not rewritten
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), full.results)

    # a finished sweep re-run computes nothing; deleting two parts recomputes exactly those two
    counter.calls.clear()
    assert sweep(scenario, GRID, REPS, out=out, progress=False).computed == 0 and counter.calls == []
    (out / "parts" / "cell-0001_rep-0002.parquet").unlink()
    (out / "parts" / "cell-0003_rep-0000.parquet").unlink()
    again = sweep(scenario, GRID, REPS, out=out, progress=False)
    assert sorted(counter.calls) == [("largest_balance", 0), ("largest_balance", 2)]
    pd.testing.assert_frame_equal(again.results, full.results)


def test_one_and_two_workers_give_identical_results(tmp_path, scenario, full):
    two = sweep(scenario, GRID, REPS, workers=2, out=tmp_path / "two", progress=False)
    assert two.computed == 4 * REPS
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "two" / "results.parquet"),
                                  pd.read_parquet(full.out / "results.parquet"))
    pd.testing.assert_frame_equal(two.summary, full.summary)


def test_a_local_worker_that_dies_is_replaced_and_the_sweep_completes(tmp_path, monkeypatch, scenario, full):
    """A worker process killed mid-sweep (here: the first process to rank a worklist exits at once) loses
    only its running task; the pool is started again and the results are those of the in-process sweep."""
    marker = tmp_path / "died-once"
    (tmp_path / "dies_once.py").write_text(
        "import os\n"
        "from o2c_sim.strategies import LargestBalance\n"
        "class DiesOnce(LargestBalance):\n"
        "    def score(self, f):\n"
        f"        if not os.path.exists({str(marker)!r}):\n"
        f"            open({str(marker)!r}, 'w').close()\n"
        "            os._exit(9)\n"
        "        return super().score(f)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}")
    grid = {"team.collectors": [3], "strategy.prioritisation": ["dies_once:DiesOnce"]}
    res = sweep(scenario, grid, REPS, workers=2, out=tmp_path / "killed", progress=False)
    assert marker.exists()  # a worker did die
    expected = full.results[full.results["cell"] == 3].drop(columns=["cell", "strategy.prioritisation"])
    pd.testing.assert_frame_equal(res.results.drop(columns=["cell", "strategy.prioritisation"]),
                                  expected.reset_index(drop=True))


def test_an_existing_scheduler_by_address(tmp_path, scenario, full):
    from distributed import LocalCluster

    grid = {"team.collectors": [3], "strategy.prioritisation": ["largest_balance"]}
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        res = sweep(scenario, grid, 2, scheduler=cluster.scheduler_address, out=tmp_path / "remote", progress=False)
        assert cluster.scheduler.workers  # the cluster was not shut down by the sweep
    expected = full.results[(full.results["cell"] == 3) & (full.results["replication"] < 2)]
    pd.testing.assert_frame_equal(res.results.drop(columns="cell"),
                                  expected.drop(columns="cell").reset_index(drop=True))


def test_a_different_sweep_into_the_same_directory_is_refused(tmp_path, scenario, full):
    with pytest.raises(UserError, match="grid differs"):
        sweep(scenario, {"team.collectors": [1, 4]}, REPS, out=full.out, progress=False)
    with pytest.raises(UserError, match="replications differs"):
        sweep(scenario, GRID, REPS + 1, out=full.out, progress=False)
    with pytest.raises(UserError, match=r"scenario differs \(seed"):
        sweep(scenario.with_overrides({"seed": 1}), GRID, REPS, out=full.out, progress=False)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not a sweep directory"):
        sweep(scenario, GRID, REPS, out=other, progress=False)
    assert (other / "notes.txt").read_text() == "mine" and len(list(other.iterdir())) == 1


def test_cli_sweep_prints_the_summary_and_resumes(tmp_path, capsys, full):
    out = tmp_path / "cli"
    args = ["sweep", "baseline", "--grid", "team.collectors=1,3", "--grid", "strategy.prioritisation=oldest_first,largest_balance",
            *TINY_ARGS, "-r", str(REPS), "-w", "1", "-q", "--out", str(out)]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert "largest_balance" in stdout and "dso" in stdout and "Paired differences" in stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), full.results)
    assert main(args) == 0
    assert f"Resumed: {4 * REPS} run(s)" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["grid"] == GRID and manifest["replications"] == REPS


@pytest.mark.parametrize("grid, field", [
    ("team.collectors=2,-1", "team.collectors"),
    ("team.colectors=2,3", "team.colectors"),
    ("strategy.prioritisation=oldest_first,cheapest", "strategy.prioritisation"),
    ("portfolio.segments.smb.share=0.5", "smb"),
])
def test_cli_bad_grid_fails_fast_naming_the_field(tmp_path, capsys, grid, field):
    out = tmp_path / "bad"
    assert main(["sweep", "baseline", "--grid", grid, *TINY_ARGS, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err
    assert not out.exists()  # failed before anything was created


@pytest.mark.parametrize("args, message", [
    (["--grid", "team.collectors"], "key=v1,v2"),
    (["--grid", "team.collectors=2..x"], "range"),
    (["--grid", "team.collectors=5..2"], "empty"),
    (["--grid", "team.collectors=2,2"], "more than once"),
    (["--grid", "team.collectors=2", "--grid", "team.collectors=3"], "twice"),
    (["--grid", "team.collectors=2", "--kpi", "dos"], "not a KPI"),
    ([], "at least one --grid"),
])
def test_cli_bad_flags(tmp_path, capsys, args, message):
    assert main(["sweep", "baseline", *args, "--out", str(tmp_path / "x"), "-q"]) == 2
    assert message in capsys.readouterr().err


def test_grid_values_parse_like_overrides():
    assert parse_values("team.collectors", "4,6,8") == [4, 6, 8]
    assert parse_values("team.collectors", "2..10:4") == [2, 6, 10]
    assert parse_values("team.collectors", "+1,+2") == ["+1", "+2"]  # relative, like --set
    assert parse_values("strategy.prioritisation", "oldest_first, largest_balance") == ["oldest_first", "largest_balance"]
    assert parse_grid_arg("dunning.enabled=true,false") == ("dunning.enabled", [True, False])
    assert parse_grid_arg("calendar.holidays=[2026-12-25],[]")[1][1] == []
    assert grid_cells({"a": [1, 2], "b": ["x", "y"]}) == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"},
                                                         {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    assert grid_cells({}) == [{}]
