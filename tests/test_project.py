"""Project hygiene a user relies on: one dependency set, notebooks without outputs, the README's promise."""

import json
import re
import tomllib

from o2c_sim import settings

ROOT = settings.PROJECT_ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_and_pyproject_name_the_same_dependencies():
    import yaml

    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in py["dependencies"] + py["optional-dependencies"]["test"]}
    if any(r.startswith("dask[distributed]") for r in py["dependencies"]):
        names.add("distributed")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str) and not d.startswith("python")}
    assert names == conda


def test_notebooks_and_dashboards_are_committed_without_outputs():
    books = list((ROOT / "notebooks").glob("*.ipynb")) + list((ROOT / "dashboards").glob("*.ipynb"))
    for path in books:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell.get("outputs", []) == [] and cell.get("execution_count") is None, path.name


def test_readme_states_the_two_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_the_public_api_resolves():
    """Every name ``o2c_sim`` promises imports (the package loads them lazily, so a typo would hide)."""
    import o2c_sim

    for name in o2c_sim.__all__:
        assert getattr(o2c_sim, name) is not None, name
    assert callable(o2c_sim.simulate) and callable(o2c_sim.load_scenario)
