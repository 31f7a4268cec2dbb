"""Shared fixtures. Tests that need the public sample data run whenever it is present, must run in CI
(``CI=true``: a missing file is a failure), and skip with a clear reason elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from o2c_sim import settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_file(path: Path, what: str) -> Path:
    if path.exists():
        return path
    if IN_CI:
        pytest.fail(f"{what} is missing at {path}; CI must have it (set O2C_SIM_DATA_DIR)")
    pytest.skip(f"{what} not found at {path}; set O2C_SIM_DATA_DIR to run this test")


@pytest.fixture(scope="session")
def ibm_csv() -> Path:
    """The IBM accounts-receivable sample CSV (see ../shared/data/ibm_ar/SOURCE.md)."""
    return require_file(settings.ibm_ar_csv(), "the IBM AR sample")


@pytest.fixture(scope="session")
def project_root() -> Path:
    return settings.PROJECT_ROOT


SMALL = {"portfolio.accounts": 300, "horizon_days": 150, "warmup_days": 90, "replications": 2}


def small_scenario(name: str = "baseline", overrides: dict | None = None):
    """A shipped scenario shrunk for fast tests (300 accounts, 150 days after 90 days of warm-up)."""
    from o2c_sim.scenario import load_scenario

    return load_scenario(name, {**SMALL, **(overrides or {})})
