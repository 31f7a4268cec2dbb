"""Where o2c-sim finds things: the data directory and the project's shipped folders.

The shipped folders — ``scenarios/`` (with ``scenarios/mappings/``), ``notebooks/`` and
``dashboards/`` — live at the top of the source tree. A wheel carries copies of them inside the
package as ``o2c_sim/shipped/<folder>`` (the build step in ``setup.py``), so a non-editable install
finds them through :mod:`importlib.resources`; a source checkout or an editable install, which has no
such copy, uses the source tree's folders.

The public sample data (DESIGN §6) is never part of the project; it is found through the
``O2C_SIM_DATA_DIR`` environment variable, defaulting to ``../shared/data`` beside the source tree.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

#: The source tree's root (``src/o2c_sim`` → two levels up). In an installed wheel this directory is
#: site-packages' parent and holds no project folders: use the ``*_DIR`` constants instead.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: The folders a wheel carries inside the package (see ``setup.py``).
SHIPPED_FOLDERS = ("scenarios", "notebooks", "dashboards")


def shipped_dir(folder: str) -> Path:
    """``scenarios``, ``notebooks`` or ``dashboards``: the installed package's copy if there is one,
    otherwise the source tree's top-level folder."""
    if folder not in SHIPPED_FOLDERS:
        raise ValueError(f"not a shipped folder: {folder!r} (expected one of {', '.join(SHIPPED_FOLDERS)})")
    packaged = files(__package__) / "shipped" / folder
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return PROJECT_ROOT / folder


SCENARIOS_DIR = shipped_dir("scenarios")
MAPPINGS_DIR = SCENARIOS_DIR / "mappings"
NOTEBOOKS_DIR = shipped_dir("notebooks")
DASHBOARDS_DIR = shipped_dir("dashboards")


def data_dir() -> Path:
    """The directory holding third-party sample data (``$O2C_SIM_DATA_DIR`` or ``../shared/data``)."""
    env = os.environ.get("O2C_SIM_DATA_DIR")
    return Path(env) if env else (PROJECT_ROOT.parent / "shared" / "data")


def ibm_ar_csv() -> Path:
    """The IBM Watson Analytics accounts-receivable sample (may not exist on this machine)."""
    return data_dir() / "ibm_ar" / "WA_Fn-UseC_-Accounts-Receivable.csv"


def scenario_path(name_or_path: str | os.PathLike) -> Path:
    """Resolve ``baseline`` or ``baseline.yaml`` to the shipped scenario; other paths are returned as given."""
    p = Path(name_or_path)
    if p.exists() or p.suffix in {".yaml", ".yml"} and p.parent != Path("."):
        return p
    for candidate in (SCENARIOS_DIR / p, SCENARIOS_DIR / f"{p}.yaml"):
        if candidate.exists():
            return candidate
    return p
