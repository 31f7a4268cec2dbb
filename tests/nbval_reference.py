"""Reference outputs for ``pytest --nbval-lax``, kept beside the tests instead of inside the notebooks.

Notebooks are committed without outputs. The few cells marked ``# NBVAL_CHECK_OUTPUT`` print seeded
headline numbers; what they must print lives in ``tests/nbval_reference/<notebook>.json`` as
``{cell id: [outputs]}``. The nbval test copies each notebook, puts the reference outputs into the copy
and lets nbval re-run it and compare. After a deliberate change to the model, refresh the references::

    .venv/bin/python tests/nbval_reference.py            # every notebook with checked cells
    .venv/bin/python tests/nbval_reference.py run_scenario
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import nbformat

from o2c_sim.report import NOTEBOOKS_DIR, QUIET_KERNEL

REFERENCE_DIR = Path(__file__).with_name("nbval_reference")
MARK = "# NBVAL_CHECK_OUTPUT"


def checked_cells(nb) -> list:
    """The code cells whose output nbval compares."""
    return [c for c in nb.cells if c.cell_type == "code" and MARK in c.source]


def with_reference_outputs(name: str, dest: Path) -> Path:
    """Write ``notebooks/<name>.ipynb`` to ``dest`` with the reference outputs in its checked cells."""
    nb = nbformat.read(str(NOTEBOOKS_DIR / f"{name}.ipynb"), as_version=4)
    reference = json.loads((REFERENCE_DIR / f"{name}.json").read_text())
    for n, cell in enumerate(checked_cells(nb), start=1):
        cell.outputs = [nbformat.from_dict(o) for o in reference[cell.id]]
        cell.execution_count = n
    path = dest / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


def refresh(name: str) -> Path:
    """Run ``notebooks/<name>.ipynb`` with its defaults and store its checked cells' outputs."""
    import papermill as pm

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.ipynb"
        pm.execute_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb"), str(out), cwd=tmp, progress_bar=False,
                            extra_arguments=QUIET_KERNEL)
        executed = nbformat.read(str(out), as_version=4)
    reference = {c.id: [dict(o) for o in c.outputs] for c in checked_cells(executed)}
    path = REFERENCE_DIR / f"{name}.json"
    path.write_text(json.dumps(reference, indent=1, ensure_ascii=False) + "\n")
    return path


def checked_notebooks() -> list[str]:
    return sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb")
                  if checked_cells(nbformat.read(str(p), as_version=4)))


if __name__ == "__main__":
    for name in sys.argv[1:] or checked_notebooks():
        print("wrote", refresh(name))
