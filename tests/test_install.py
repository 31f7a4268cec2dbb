"""A wheel carries the shipped folders: built from a copy of the source tree, installed into a
directory of its own and run from somewhere the source tree is not, it finds the scenarios, the
column mappings, the notebooks and the dashboards, and ``o2c-sim run`` / ``o2c-sim report --list``
work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import IN_CI
from o2c_sim import settings

ROOT = settings.PROJECT_ROOT
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src", *settings.SHIPPED_FOLDERS)
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints", "build", "dist")


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert proc.returncode == 0, f"{cmd[:4]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def build_tools_missing() -> str:
    """Why this environment cannot build the wheel without build isolation ('' if it can)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(x) for x in version("setuptools").split(".")[:2])
        version("wheel")
    except (PackageNotFoundError, ValueError):
        major, minor = 0, 0
    if (major, minor) < (70, 1):
        return "building the wheel needs setuptools>=70.1 and wheel here (pip install -e '.[test]')"
    return ""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict]:
    """(target directory with o2c-sim installed from its wheel, environment that sees only that)."""
    if not (ROOT / "setup.py").exists():
        pytest.skip("not a source tree: nothing to build")
    missing = build_tools_missing()
    if missing:
        if IN_CI:
            pytest.fail(missing)
        pytest.skip(missing)
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=IGNORED)
        else:
            shutil.copy2(src, source / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "wheels"),
         str(source)], env=env, cwd=tmp)
    (wheel,) = (tmp / "wheels").glob("o2c_sim-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in ("o2c_sim/shipped/scenarios/baseline.yaml", "o2c_sim/shipped/scenarios/mappings/ibm_ar.yaml",
                     "o2c_sim/shipped/notebooks/run_scenario.ipynb", "o2c_sim/shipped/dashboards/staffing_whatif.ipynb"):
        assert expected in names
    target = tmp / "site"
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        env=env, cwd=tmp)
    shutil.rmtree(source)  # nothing may be found through the copy it was built from
    return target, {**env, "PYTHONPATH": str(target)}


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    away = tmp_path / "elsewhere"
    away.mkdir()
    return away


def test_installed_package_finds_its_shipped_folders(installed, elsewhere):
    target, env = installed
    code = ("import o2c_sim, o2c_sim.data.importer as imp, o2c_sim.present.report as rep\n"
            "from o2c_sim import settings as s\n"
            "from o2c_sim.cli.dashboard import dashboards_dir\n"
            "print(o2c_sim.__file__); print(s.scenario_path('baseline')); print(imp.mapping_path('ibm_ar'))\n"
            "print(rep.NOTEBOOKS_DIR / 'run_scenario.ipynb'); print(dashboards_dir() / 'staffing_whatif.ipynb')\n")
    lines = run([sys.executable, "-c", code], env=env, cwd=elsewhere).stdout.split()
    for line in lines:
        path = Path(line)
        assert path.is_relative_to(target) and path.exists(), f"{path} is not the installed copy"


def test_installed_cli_runs_baseline_and_lists_reports(installed, elsewhere):
    target, env = installed
    cli = target / "bin" / "o2c-sim"
    assert cli.exists(), "the wheel installs the o2c-sim command"
    tiny = ["--set", "portfolio.accounts=100", "--set", "horizon_days=40", "--set", "warmup_days=20"]
    out = run([str(cli), "run", "baseline", *tiny, "-r", "1", "-q", "--out", "run"], env=env, cwd=elsewhere)
    assert "Coverage" in out.stdout
    assert (elsewhere / "run" / "scenario.yaml").exists() and (elsewhere / "run" / "kpis.json").exists()
    listing = run([str(cli), "report", "--list"], env=env, cwd=elsewhere).stdout
    assert "run_scenario" in listing and "staffing_sweep" in listing
