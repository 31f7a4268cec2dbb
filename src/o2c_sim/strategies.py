"""Worklist prioritisation strategies: which past-due accounts the collectors call first.

Each morning the eligible accounts (past due, not excluded, not contacted recently) are ranked by a
strategy's ``score`` — highest first — as account-level worklists in SAP FSCM Collections Management
and Oracle Advanced Collections do. A strategy is a class with one method, ``score``. To try a rule of
your own, name it in the scenario (``strategy.prioritisation`` or a team's ``prioritisation``) as
``package.module:ClassName``, or call :func:`register_strategy` first and use a short name — as Ciw
swaps behaviour by passing classes. The scenario keeps the ``module:Class`` path of a registered class,
so sweeps on other processes (Dask workers), reports, dashboards and ``scenario.yaml`` all see what ran.

Features given to ``score`` (arrays, one entry per eligible account):

``oldest_days_past_due``  days past due of the account's oldest actionable item
``past_due``              actionable past-due balance (currency)
``risk``                  account risk score in [0, 1] (probability-of-default style)
``broken_promise``        1 if a promise to pay or a payment plan was broken and not yet followed up
``credit_use``            open balance ÷ credit limit
"""

from __future__ import annotations

import importlib
import re
from typing import Mapping, Protocol

import numpy as np


class Prioritisation(Protocol):
    """What a worklist strategy is: a score per eligible account, highest called first."""

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


BUILT_IN: dict[str, type] = {
    "oldest_first": OldestFirst,
    "largest_balance": LargestBalance,
    "risk_weighted": RiskWeighted,
    "broken_promises_first": BrokenPromisesFirst,
    "scored_rules": ScoredRules,
}
_REGISTERED: dict[str, str] = {}  # short name → "module:Class" of strategies registered in this process
_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def class_path(cls: type) -> str:
    """``package.module:ClassName`` of a class, the form a scenario names it by."""
    return f"{cls.__module__}:{cls.__qualname__}"


def register_strategy(name: str, cls: type) -> type:
    """Make ``name`` a strategy name in this process; scenarios that use it record ``class_path(cls)``.

    The class must be importable from its module (not defined inside a function) so that other
    processes can load it by its path."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name or ""):
        raise ValueError(f"strategy name {name!r}: expected lower-case letters, digits and underscores")
    if name in BUILT_IN and BUILT_IN[name] is not cls:
        raise ValueError(f"strategy name {name!r} is a built-in strategy; choose another name")
    path = class_path(cls)
    if "<locals>" in path:
        raise ValueError(f"strategy class {path} is defined inside a function; define it at module level")
    resolve(path)  # checks the class can be found by its path and has ``score``
    _REGISTERED[name] = path
    return cls


def canonical(name: str) -> str:
    """The name a scenario keeps: a built-in name as is, a registered name as its ``module:Class`` path,
    a ``module:Class`` path checked. Raises ``ValueError`` naming what was expected."""
    if name in BUILT_IN:
        return name
    if name in _REGISTERED:
        return _REGISTERED[name]
    if _PATH.match(name):
        resolve(name)
        return name
    registered = f"; registered here: {', '.join(sorted(_REGISTERED))}" if _REGISTERED else ""
    raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(BUILT_IN)}{registered}, "
                     "or a class of your own as 'package.module:ClassName'")


def resolve(name: str) -> type:
    """The strategy class a scenario name stands for (a built-in name, a registered name or ``module:Class``)."""
    if name in BUILT_IN:
        return BUILT_IN[name]
    module_name, _, qualname = _REGISTERED.get(name, name).partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"strategy {name!r}: cannot load {qualname!r} from module {module_name!r} ({err}); "
                         "the module must be importable where the simulation runs") from None
    if not callable(getattr(target, "score", None)):
        raise ValueError(f"strategy {name!r}: {qualname} has no score(features) method")
    return target


def rank(strategy: Prioritisation, features: Mapping[str, np.ndarray]) -> np.ndarray:
    """Positions into the feature arrays, best first (stable: equal scores keep account order)."""
    return np.argsort(-np.asarray(strategy.score(features), dtype=float), kind="stable")
