"""Worklist prioritisation strategies: which past-due accounts the collectors call first.

Each morning the eligible accounts (past due, not excluded, not contacted recently) are ranked by a
strategy's ``score`` — highest first — as account-level worklists in SAP FSCM Collections Management
and Oracle Advanced Collections do. A strategy is a class with one method; pass your own class to
:func:`o2c_sim.model.simulate` (``strategy=MyStrategy``) to try a new rule, as Ciw swaps behaviour by
passing classes.

Features given to ``score`` (arrays, one entry per eligible account):

``oldest_days_past_due``  days past due of the account's oldest actionable item
``past_due``              actionable past-due balance (currency)
``risk``                  account risk score in [0, 1] (probability-of-default style)
``broken_promise``        1 if a promise to pay or a payment plan was broken and not yet followed up
``credit_use``            open balance ÷ credit limit
"""

from __future__ import annotations

from typing import Mapping, Protocol

import numpy as np


class Strategy(Protocol):
    def score(self, f: Mapping[str, np.ndarray]) -> np.ndarray: ...


class OldestFirst:
    """Oldest past-due item first (ties: larger balance)."""

    def score(self, f):
        return f["oldest_days_past_due"] + f["past_due"] / (1.0 + f["past_due"].max(initial=0.0))


class LargestBalance:
    """Largest past-due balance first."""

    def score(self, f):
        return f["past_due"]


class RiskWeighted:
    """Expected loss avoided: past-due balance × risk, growing with age (a default grows likelier).

    score = past_due × (risk + 0.01) × (1 + days_past_due / 30)
    """

    def score(self, f):
        return f["past_due"] * (f["risk"] + 0.01) * (1.0 + f["oldest_days_past_due"] / 30.0)


class BrokenPromisesFirst:
    """Broken promises and plans first, then oldest first."""

    def score(self, f):
        return f["broken_promise"] * 1e6 + OldestFirst().score(f)


class ScoredRules:
    """SAP-style additive points: age band + amount band + broken promise + risk band + over limit.

    points = 10·[dpd>0] + 10·[dpd>30] + 15·[dpd>60] + 10·[past_due>1k] + 10·[past_due>10k]
             + 25·broken_promise + 20·[risk>0.3] + 15·[credit_use>1]; ties by balance.
    """

    def score(self, f):
        d, a = f["oldest_days_past_due"], f["past_due"]
        points = (10 * (d > 0) + 10 * (d > 30) + 15 * (d > 60) + 10 * (a > 1_000) + 10 * (a > 10_000)
                  + 25 * f["broken_promise"] + 20 * (f["risk"] > 0.3) + 15 * (f["credit_use"] > 1.0))
        return points + a / (1.0 + a.max(initial=0.0))


REGISTRY: dict[str, type] = {
    "oldest_first": OldestFirst,
    "largest_balance": LargestBalance,
    "risk_weighted": RiskWeighted,
    "broken_promises_first": BrokenPromisesFirst,
    "scored_rules": ScoredRules,
}


def rank(strategy: Strategy, features: Mapping[str, np.ndarray]) -> np.ndarray:
    """Positions into the feature arrays, best first (stable: equal scores keep account order)."""
    return np.argsort(-np.asarray(strategy.score(features), dtype=float), kind="stable")
