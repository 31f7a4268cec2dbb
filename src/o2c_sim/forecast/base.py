"""What every receipts model shares: the :class:`Model` interface, :class:`CannotFit` for a model that
declines a history, and :func:`frame`, the forecast table (``period_start, mean, lo80, hi80, lo95, hi95``)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pandas as pd
from scipy.stats import norm

from o2c_sim.forecast.series import History

Z80, Z95 = norm.ppf(0.90), norm.ppf(0.975)
COLUMNS = ("period_start", "mean", "lo80", "hi80", "lo95", "hi95")


class CannotFit(Exception):
    """A model cannot be fitted on this history; the message says why."""


class Model(ABC):
    """A receipts forecaster. Subclasses set ``name`` and implement :meth:`forecast`."""

    name: str = "model"

    @abstractmethod
    def forecast(self, history: History, horizon: int) -> pd.DataFrame:
        """Rows ``period_start, mean, lo80, hi80, lo95, hi95`` for the next ``horizon`` periods."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def frame(index: pd.DatetimeIndex, mean, sd=None, *, lo80=None, hi80=None, lo95=None, hi95=None) -> pd.DataFrame:
    """A forecast table from a mean and either a normal standard deviation or explicit bounds (clipped at 0)."""
    mean = np.asarray(mean, float)
    if sd is not None:
        sd = np.asarray(sd, float)
        lo80, hi80, lo95, hi95 = mean - Z80 * sd, mean + Z80 * sd, mean - Z95 * sd, mean + Z95 * sd
    out = pd.DataFrame({"period_start": index, "mean": mean, "lo80": lo80, "hi80": hi80, "lo95": lo95, "hi95": hi95})
    num = list(COLUMNS[1:])
    out[num] = out[num].astype(float).clip(lower=0.0)
    return out
