"""Custom worklist strategies: a class named ``module:Class`` in the scenario, or registered under a short
name, runs everywhere the built-ins run — ``simulate``, ``o2c-sim run``, sweeps on worker processes —
and the scenario records the class that ran."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from o2c_sim import strategies
from o2c_sim.cli import main
from o2c_sim.sim.model import simulate
from o2c_sim.scenario import load_scenario
from o2c_sim.experiments.sweep import sweep

SMALL = {"portfolio.accounts": 150, "horizon_days": 90, "warmup_days": 30, "team.collectors": 1}
MODULE = "o2c_custom_rules"


@pytest.fixture
def custom_module(tmp_path, monkeypatch):
    """An importable module of the user's own, on ``sys.path`` here and on ``PYTHONPATH`` for worker processes."""
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent("""
        from o2c_sim.strategies import LargestBalance

        class BiggestFirst(LargestBalance):
            '''Largest past-due balance first, written by the user (the same rule as a built-in).'''

        class NewestFirst:
            '''Youngest past-due item first: the opposite of the default.'''
            def score(self, f):
                return -f["oldest_days_past_due"]

        class NoScore:
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{__import__('os').environ.get('PYTHONPATH', '')}")
    yield f"{MODULE}"
    strategies._REGISTERED.clear()


def kpis(scenario):
    return simulate(scenario).kpis


def test_a_class_named_by_its_path_is_the_strategy_that_runs(custom_module):
    """A user's subclass of ``largest_balance`` gives exactly the built-in's results; a different rule does not."""
    mine = load_scenario("baseline", {**SMALL, "strategy.prioritisation": f"{custom_module}:BiggestFirst"})
    built_in = load_scenario("baseline", {**SMALL, "strategy.prioritisation": "largest_balance"})
    newest = load_scenario("baseline", {**SMALL, "strategy.prioritisation": f"{custom_module}:NewestFirst"})
    assert mine.strategy.prioritisation == f"{custom_module}:BiggestFirst"
    assert kpis(mine) == kpis(built_in)
    assert kpis(newest) != kpis(built_in)


def test_a_registered_name_is_recorded_as_its_class_path(custom_module):
    import importlib

    cls = importlib.import_module(custom_module).NewestFirst
    strategies.register_strategy("newest_first", cls)
    scenario = load_scenario("baseline", {**SMALL, "strategy.prioritisation": "newest_first"})
    assert scenario.strategy.prioritisation == f"{custom_module}:NewestFirst"
    assert strategies.resolve("newest_first") is cls


def test_register_strategy_refuses_what_other_processes_could_not_load(custom_module):
    class Local:
        def score(self, f):
            return f["past_due"]

    with pytest.raises(ValueError, match="inside a function"):
        strategies.register_strategy("local_rule", Local)
    with pytest.raises(ValueError, match="built-in"):
        strategies.register_strategy("oldest_first", Local)


def test_a_sweep_on_worker_processes_runs_the_custom_class(custom_module, tmp_path):
    """Two worker processes import the class by its path and give the in-process results, bit for bit."""
    base = load_scenario("baseline", {**SMALL, "horizon_days": 60})
    grid = {"strategy.prioritisation": [f"{custom_module}:NewestFirst", "oldest_first"]}
    here = sweep(base, grid, 2, workers=1, progress=False)
    there = sweep(base, grid, 2, workers=2, progress=False)
    assert here.results.equals(there.results)
    first, second = (here.summary["dso_mean"].iloc[i] for i in (0, 1))
    assert first != second


def test_run_records_the_class_in_scenario_yaml(custom_module, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "baseline", "--set", "portfolio.accounts=120", "--set", "horizon_days=60", "--set", "warmup_days=30",
            "-r", "1", "-q", "--set", f"strategy.prioritisation={custom_module}:NewestFirst", "--out", str(out)]
    assert main(args) == 0
    written = yaml.safe_load((out / "scenario.yaml").read_text())
    assert written["strategy"]["prioritisation"] == f"{custom_module}:NewestFirst"


@pytest.mark.parametrize("name, expected", [
    ("loudest_first", "unknown strategy 'loudest_first'"),
    ("no_such_module_xyz:Rule", "cannot load 'Rule' from module 'no_such_module_xyz'"),
    (f"{MODULE}:NoScore", "has no score"),
])
def test_a_bad_strategy_name_is_a_clear_error(custom_module, tmp_path, capsys, name, expected):
    code = main(["run", "baseline", "-q", "--set", f"strategy.prioritisation={name}", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "strategy.prioritisation" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()
