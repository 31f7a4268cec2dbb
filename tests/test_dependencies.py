"""The declared dependency set is complete: every third-party module the package, its notebooks and its
dashboards import comes from a distribution named in pyproject.toml (so a fresh install from the
declared set can import them all, not only the machine that happens to have it installed)."""

import ast
import importlib.metadata as md
import json
import re
import sys
import tomllib

from o2c_sim import settings

ROOT = settings.PROJECT_ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _sources(tests: bool = False):
    for path in sorted((ROOT / ("tests" if tests else "src/o2c_sim")).rglob("*.py")):
        yield path, path.read_text()
    if tests:
        return
    for path in sorted([*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "dashboards").glob("*.ipynb")]):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                yield path, "".join(cell["source"])


def _top_level_imports(tests: bool = False) -> dict[str, str]:
    """``{module: first file importing it}`` for absolute imports outside the standard library."""
    local = {p.stem for p in (ROOT / "tests").glob("*.py")} if tests else set()  # conftest, nbval_reference …
    found: dict[str, str] = {}
    for path, text in _sources(tests):
        lines = [line for line in text.splitlines() if not line.lstrip().startswith(("%", "!"))]  # IPython magics
        for node in ast.walk(ast.parse("\n".join(lines))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "o2c_sim" and top not in local:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _declared(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    for extra in extras:
        declared |= {_name(r) for r in project["optional-dependencies"][extra]}
    if "dask" in declared:
        declared.add("distributed")  # dask[distributed]
    return declared


def _undeclared(imports: dict[str, str], declared: set[str]) -> list[str]:
    provided = md.packages_distributions()
    missing = []
    for module, where in imports.items():
        dists = {_name(d) for d in provided.get(module, [module])}
        if not dists & declared:
            missing.append(f"{module} (imported in {where}, from {', '.join(sorted(dists))})")
    return missing


def test_every_imported_module_comes_from_a_declared_distribution():
    missing = _undeclared(_top_level_imports(), _declared())
    assert not missing, "imported but not declared in pyproject.toml [project.dependencies]: " + "; ".join(missing)


def test_every_module_the_tests_import_is_declared_with_the_test_extra():
    missing = _undeclared(_top_level_imports(tests=True), _declared("test"))
    assert not missing, "imported by tests but not declared (dependencies or the test extra): " + "; ".join(missing)


def test_every_module_of_the_package_imports():
    """With the declared set installed (this environment), every module loads — including the ones
    the CLI only imports when a subcommand runs, where a missing dependency would otherwise show up
    first in a user's hands."""
    import importlib
    import pkgutil

    import o2c_sim

    names = [m.name for m in pkgutil.walk_packages(o2c_sim.__path__, "o2c_sim.")]
    assert len(names) > 30
    for name in names:
        importlib.import_module(name)
