"""Reference outputs for ``pytest --nbval-lax``, kept beside the tests instead of inside the notebooks.

Notebooks are committed without outputs. The few cells marked ``# NBVAL_CHECK_OUTPUT`` print seeded
headline numbers; what they must print lives in ``tests/nbval_reference/<notebook>.json`` as
``{cell id: [outputs]}``. The nbval test (slow: the notebooks at their full default size, run by
``make test-all``) copies each notebook, puts the reference outputs into the copy and lets nbval
re-run it and compare. The same cells run with the small parameters of the papermill test must print
``tests/nbval_reference/small/<notebook>.json``, checked by the default suite at a fraction of the
cost. After a deliberate change to the model, refresh both sets of references::

    .venv/bin/python tests/nbval_reference.py            # every notebook with checked cells
    .venv/bin/python tests/nbval_reference.py run_scenario
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import nbformat

from o2c_sim.present.report import NOTEBOOKS_DIR, QUIET_KERNEL

REFERENCE_DIR = Path(__file__).with_name("nbval_reference")
SMALL_REFERENCE_DIR = REFERENCE_DIR / "small"
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


def printed(nb) -> dict[str, str]:
    """{checked cell id: everything it printed}, streams joined as nbval joins them."""
    return {c.id: "".join(o["text"] if isinstance(o["text"], str) else "".join(o["text"])
                          for o in c.outputs if o.get("output_type") == "stream")
            for c in checked_cells(nb)}


def small_reference(name: str) -> dict[str, str] | None:
    """What the checked cells print with the papermill test's small parameters (None: no such file)."""
    path = SMALL_REFERENCE_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def refresh(name: str, parameters: dict | None = None) -> Path:
    """Run ``notebooks/<name>.ipynb`` and store its checked cells' outputs: with its defaults, or with
    ``parameters`` into the small references."""
    import papermill as pm

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.ipynb"
        pm.execute_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb"), str(out), cwd=tmp, progress_bar=False,
                            parameters=parameters or {}, extra_arguments=QUIET_KERNEL)
        executed = nbformat.read(str(out), as_version=4)
    if parameters is None:
        reference = {c.id: [dict(o) for o in c.outputs] for c in checked_cells(executed)}
        path = REFERENCE_DIR / f"{name}.json"
    else:
        reference = printed(executed)
        SMALL_REFERENCE_DIR.mkdir(exist_ok=True)
        path = SMALL_REFERENCE_DIR / f"{name}.json"
    path.write_text(json.dumps(reference, indent=1, ensure_ascii=False) + "\n")
    return path


def checked_notebooks() -> list[str]:
    return sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb")
                  if checked_cells(nbformat.read(str(p), as_version=4)))


if __name__ == "__main__":
    from test_notebooks import small_parameters

    for name in sys.argv[1:] or checked_notebooks():
        print("wrote", refresh(name))
        print("wrote", refresh(name, small_parameters(name, ledger=None)))
