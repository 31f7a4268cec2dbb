"""The architecture, enforced: the o2c_sim modules import each other without cycles, the simulation
layer imports nothing from the layers built on it, and no module shadows the standard library."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

import o2c_sim

PACKAGE_DIR = Path(o2c_sim.__file__).resolve().parent

# the layers, lowest first: a module may import from its own layer and the layers below it, never above.
# The core is the package's top-level modules (errors, settings, kpis, streams, uncertainty, strategies,
# scenario); each other layer is a sub-package.
LAYERS = ["core", "data", "sim", "experiments", "calibration", "forecast", "present", "cli"]


def module_name(path: Path) -> str:
    """``o2c_sim.forecast.models`` for ``src/o2c_sim/forecast/models.py``; a package is its ``__init__``."""
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The o2c_sim modules that ``path`` imports anywhere (top level or inside functions), resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def add(target: str) -> None:
        # ``from .x import y`` may import the module ``x.y`` or the name ``y`` of module ``x``
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target:
            found.add(target)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            for alias in node.names:
                add(f"{stem}.{alias.name}")
    found.discard(name)
    return {m for m in found if m.startswith("o2c_sim")}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """module → the o2c_sim modules it imports."""
    paths = sorted(PACKAGE_DIR.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imported_modules(p, modules) for p in paths}


def layer(module: str) -> str:
    """``forecast`` for ``o2c_sim.forecast.models``, ``core`` for ``o2c_sim.scenario`` and ``o2c_sim``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else "core"


def edges(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in graph.items() for b in targets)


def test_the_import_graph_is_read(graph):
    """The parser resolves ``from .x import``, ``from ..x import`` and ``from . import x`` forms."""
    assert "o2c_sim.scenario" in graph["o2c_sim.sim.model"]
    assert "o2c_sim.experiments.sweep" in graph["o2c_sim.cli.sweep"]  # ``from ..sweep import ...``
    siblings = [(a, b) for a, b in edges(graph) if a.count(".") == 2 and a.rpartition(".")[0] == b.rpartition(".")[0]]
    assert siblings, "no module of a subpackage imports a sibling: relative imports are not resolved"
    assert len(graph) > 40


def test_no_import_cycles(graph):
    """Including imports inside functions: a cycle there is still two layers that need each other.
    A package's ``__init__`` and its own submodules may import each other (re-exports)."""
    acyclic = {a: {b for b in targets if not (a.startswith(b + ".") or b.startswith(a + "."))}
               for a, targets in graph.items()}
    try:
        graphlib.TopologicalSorter(acyclic).prepare()
    except graphlib.CycleError as err:
        pytest.fail("import cycle: " + " -> ".join(err.args[1]))


def test_each_layer_imports_only_itself_and_the_layers_below(graph):
    """core < data < sim < experiments < calibration < forecast < present < cli: the simulation knows
    nothing of experiments, forecasts or presentation; only the command line sees everything."""
    assert {layer(m) for m in graph} == set(LAYERS), "a layer is missing, or a sub-package is not in LAYERS"
    rank = {name: i for i, name in enumerate(LAYERS)}
    bad = [(a, b) for a, b in edges(graph) if rank[layer(b)] > rank[layer(a)] and a != "o2c_sim"]
    assert bad == [], "imports from a higher layer: " + ", ".join(f"{a} -> {b}" for a, b in bad)


def test_no_module_shadows_the_standard_library():
    """Not at the top, nor inside a sub-package (a kernel started in that folder puts it on ``sys.path``)."""
    names = {p.stem for p in PACKAGE_DIR.rglob("*.py") if p.name != "__init__.py"}
    names |= {p.parent.name for p in PACKAGE_DIR.rglob("__init__.py")}
    assert names & set(sys.stdlib_module_names) == set()


def test_import_works_with_the_package_directory_on_the_path():
    """A script or kernel started inside ``src/o2c_sim`` puts that directory first on ``sys.path``."""
    code = f"import sys; sys.path.insert(0, {str(PACKAGE_DIR)!r}); import numpy, pandas, o2c_sim.sim.model, o2c_sim.cli"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE_DIR, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
