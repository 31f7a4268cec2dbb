"""The notebooks of ``notebooks/``: one job each, a ``parameters`` cell, committed without outputs, run
unattended under papermill with small parameters, fail fast on bad parameters, and pass nbval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import openpyxl
import papermill as pm
import pytest
from papermill.exceptions import PapermillExecutionError

import nbval_reference
from o2c_sim.present.notebook_params import NOTEBOOKS, defaults_from_source, validate
from o2c_sim.present.report import NOTEBOOKS_DIR, count_figures

SMALL = {"portfolio.accounts": 300, "horizon_days": 120, "warmup_days": 60}
ALL = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
SIMULATION = ("run_scenario", "staffing_sweep", "strategy_comparison", "team_design")


def _read(name: str):
    return nbformat.read(str(NOTEBOOKS_DIR / f"{name}.ipynb"), as_version=4)


@pytest.fixture(scope="module")
def small_ledger(tmp_path_factory) -> Path:
    """A small simulated ledger (300 accounts, ~10 months) for the calibration/forecast notebooks."""
    from o2c_sim.sim.model import simulate
    from o2c_sim.scenario import load_scenario

    scenario = load_scenario("baseline", {"portfolio.accounts": 300, "horizon_days": 240, "warmup_days": 60})
    path = tmp_path_factory.mktemp("ledger") / "ledger.parquet"
    simulate(scenario, 0).invoices.to_parquet(path, index=False)
    return path


def test_every_notebook_is_known():
    assert set(SIMULATION) <= set(ALL)
    assert set(ALL) <= set(NOTEBOOKS), f"notebooks without a parameter list in o2c_sim.present.notebook_params: {set(ALL) - set(NOTEBOOKS)}"


@pytest.mark.parametrize("name", ALL)
def test_parameters_cell_matches_registry(name):
    nb = _read(name)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    defaults = defaults_from_source(tagged[0].source)
    assert tuple(defaults) == NOTEBOOKS[name]
    validate(name, defaults, load=False)  # the defaults are valid parameters
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0] is tagged[0], "the parameters cell is the first code cell"
    assert f'notebook_params.check("{name}", globals())' in code[1].source, "parameters are checked right after"
    # papermill can read every default (no line it cannot parse)
    assert set(pm.inspect_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb"))) == set(defaults)


@pytest.mark.parametrize("name", ALL)
def test_committed_without_outputs(name):
    nb = _read(name)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
    checked = nbval_reference.checked_cells(nb)
    if name in SIMULATION:
        assert checked, "a headline is checked by nbval"
    if checked:
        reference = json.loads((nbval_reference.REFERENCE_DIR / f"{name}.json").read_text())
        assert set(reference) == {c.id for c in checked}, "every checked cell has a reference output"
        assert all(o["output_type"] == "stream" for outs in reference.values() for o in outs), "plain text"


def small_parameters(name: str, ledger: Path | None) -> dict:
    return {
        "run_scenario": {"overrides": SMALL, "replications": 2},
        "staffing_sweep": {"overrides": SMALL, "collectors": [4, 6], "replications": 2},
        "strategy_comparison": {"overrides": SMALL, "replications": 2, "kpis": ["dso", "cei", "bad_debt_ratio"],
                                "alternatives": {"oldest first": {"strategy.prioritisation": "oldest_first"},
                                                 "largest balance": {"strategy.prioritisation": "largest_balance"}}},
        "team_design": {"overrides": {**SMALL, "portfolio.accounts": 600}, "replications": 2,
                        "alternatives": {"owned desks": {}, "one pool": {"teams.enabled": False}}},
        "calibration": {"history": str(ledger), "accounts": 150, "replications": 1},
        "cash_forecast_report": {"history": str(ledger), "models": ["naive", "moving_average"], "horizon_weeks": 4},
        "forecast_gap_analysis": {"history": str(ledger), "period_weeks": 2},
    }[name]


EXPECTED_SHEETS = {
    "run_scenario": ["KPIs", "Monthly KPIs", "Weekly cash"],
    "staffing_sweep": ["Staffing ROI", "KPIs by headcount", "Sweep summary"],
    "strategy_comparison": ["KPI comparison", "Paired differences", "Means"],
    "team_design": ["KPI comparison", "Paired differences", "Teams"],
    "calibration": ["Segments", "Fit vs history", "Customers"],
    "cash_forecast_report": ["Forecast", "All models", "Back-test accuracy"],
    "forecast_gap_analysis": ["Gap by cause", "Gap by account", "Gap by invoice", "Waterfall"],
}


@pytest.mark.parametrize("name", ALL)
def test_runs_under_papermill(name, tmp_path, small_ledger):
    params = {**small_parameters(name, small_ledger), "xlsx": "tables.xlsx"}
    out = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb"), str(out), parameters=params, cwd=str(tmp_path),
                        progress_bar=False, request_save_on_cell_execute=False)
    nb = nbformat.read(str(out), as_version=4)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert count_figures(nb) >= 1
    assert openpyxl.load_workbook(tmp_path / "tables.xlsx").sheetnames == EXPECTED_SHEETS[name]
    # the seeded headlines that nbval checks at full size (slow), here at the small size
    expected = nbval_reference.small_reference(name)
    if name in SIMULATION:
        assert expected is not None, "no small reference: run `python tests/nbval_reference.py`"
    if expected is not None:
        assert nbval_reference.printed(nb) == expected


@pytest.mark.parametrize("params, message", [
    ({"scenario": "no_such_scenario.yaml"}, "no_such_scenario.yaml: file not found"),
    ({"overrides": {"team.colectors": 8}}, "field 'team.colectors': unknown key"),
    ({"replications": "three"}, "parameter 'replications': expected a whole number"),
    ({"replication": 3}, "unknown parameter(s) 'replication'"),
])
def test_bad_papermill_parameters_fail_in_the_first_cells(tmp_path, params, message):
    with pytest.raises(PapermillExecutionError) as info:
        pm.execute_notebook(str(NOTEBOOKS_DIR / "run_scenario.ipynb"), str(tmp_path / "out.ipynb"), parameters=params,
                            cwd=str(tmp_path), progress_bar=False, request_save_on_cell_execute=False)
    err = info.value
    assert err.ename == "UserError" and message in err.evalue
    nb = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    failed = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and
              any(o.output_type == "error" for o in c.outputs)]
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    # parameters, injected parameters, then the check: nothing after it ran
    assert failed == [code_cells[2]]


@pytest.mark.slow
def test_nbval_on_the_notebooks(tmp_path):
    """``pytest --nbval-lax`` over every notebook: each runs with its defaults and the cells marked
    ``# NBVAL_CHECK_OUTPUT`` reproduce their seeded reference output (``tests/nbval_reference/``).
    Notebooks whose default history is the IBM sample need it (they would otherwise quietly run on a
    simulated history): without it they are left out, and the test ends skipped saying so (in CI: fails)."""
    from conftest import IN_CI, require_file
    from o2c_sim.settings import ibm_ar_csv

    needs_sample = {n for n in ALL if "history" in NOTEBOOKS[n]}
    have_sample = ibm_ar_csv().exists()
    if not have_sample and IN_CI:
        require_file(ibm_ar_csv(), "the IBM AR sample (default history of " + ", ".join(sorted(needs_sample)) + ")")
    names = ALL if have_sample else [n for n in ALL if n not in needs_sample]
    for name in names:
        if nbval_reference.checked_cells(_read(name)):
            nbval_reference.with_reference_outputs(name, tmp_path)
        else:
            (tmp_path / f"{name}.ipynb").write_bytes((NOTEBOOKS_DIR / f"{name}.ipynb").read_bytes())
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", str(tmp_path), "-q",
                           "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
    if not have_sample:
        require_file(ibm_ar_csv(), f"the IBM AR sample (checked {', '.join(names)}; left out "
                                   f"{', '.join(sorted(needs_sample))}, whose default history it is)")
