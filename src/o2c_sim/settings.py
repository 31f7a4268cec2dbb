"""Where o2c-sim finds things: the data directory and the project's shipped folders.

The public sample data (DESIGN §6) is never part of the project; it is found through the
``O2C_SIM_DATA_DIR`` environment variable, defaulting to ``../shared/data`` beside the project.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"


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
