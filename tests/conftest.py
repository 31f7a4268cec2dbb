"""Shared fixtures. Tests that need the public sample data (or Chromium) run whenever it is present,
must run in CI (``CI=true``: a missing file is a failure naming where it was looked for), and skip
with a clear reason elsewhere — never silently falling back to a simulated history."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from o2c_sim import settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


#: Chromium for the browser tests: ``$O2C_SIM_CHROMIUM`` (set by .ci/run), else Debian's
CHROMIUM = Path(os.environ.get("O2C_SIM_CHROMIUM") or "/usr/bin/chromium")


def require_file(path: Path, what: str, hint: str | None = None) -> Path:
    """``path`` if it exists; else fail in CI and skip elsewhere, saying where it was looked for and
    (``hint``) how to provide it — by default, the data directory setting."""
    if path.exists():
        return path
    hint = hint or (f"the data directory is {settings.data_dir()} (O2C_SIM_DATA_DIR); "
                    "README.md, section Data, says where the sample comes from")
    if IN_CI:
        pytest.fail(f"{what} is missing at {path}; CI must have it: {hint}")
    pytest.skip(f"{what} not found at {path}; {hint}")


def require_chromium() -> Path:
    """The Chromium executable (see :data:`CHROMIUM`), or skip/fail as :func:`require_file`."""
    return require_file(CHROMIUM, "Chromium", "apt-get install chromium, or set O2C_SIM_CHROMIUM to its path")


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
