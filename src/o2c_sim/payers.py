"""Payer behaviour: when an invoice would be paid if nobody chased it.

The natural payment day is ``due + delay`` where the delay (days, relative to the due date) is a
two-part mixture (see :class:`~o2c_sim.scenario.PaymentDelay`):

* with probability ``on_time_share``:  delay = −E,   E ~ Exponential(mean = early_days_mean)
* otherwise:                           delay = 1 + G, G ~ Gamma(k = 1/cv², θ = (mean − 1)·cv²)

so the mean days late of late payers is ``late_days_mean``. When empirical quantiles are given
(``o2c-sim calibrate`` writes them) E and the days late are drawn by inverse-CDF interpolation instead.
Delays are rounded to the nearest whole day; payments land on the next business day.
"""

from __future__ import annotations

import numpy as np

from .scenario import PaymentDelay


def _from_quantiles(q: list[float], u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw: quantiles ``q`` sit at evenly spaced probabilities 0..1."""
    probs = np.linspace(0.0, 1.0, len(q))
    return np.interp(u, probs, np.asarray(q, dtype=float))


def sample_delay(spec: PaymentDelay, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` natural payment delays in whole days relative to the due date (negative = early)."""
    u_late, u_size = rng.random(n), rng.random(n)
    late = u_late >= spec.on_time_share
    if spec.early_days_quantiles:
        early_days = np.floor(_from_quantiles(spec.early_days_quantiles, u_size))
    else:
        early_days = np.rint(-np.log1p(-u_size) * spec.early_days_mean) if spec.early_days_mean > 0 else np.zeros(n)
    if spec.late_days_quantiles:
        late_days = np.floor(_from_quantiles(spec.late_days_quantiles, u_size))
    else:
        k = 1.0 / spec.late_days_cv**2
        theta = max(spec.late_days_mean - 1.0, 1e-9) * spec.late_days_cv**2
        from scipy.special import gammaincinv

        late_days = 1.0 + np.rint(gammaincinv(k, u_size) * theta)
    return np.where(late, np.maximum(late_days, 1.0), -early_days)
