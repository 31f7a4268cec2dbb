"""The models ``o2c-sim forecast`` knows, by name, in the order they are reported."""

from __future__ import annotations

from ..errors import UserError
from .invoice_level import CoxCurves, SurvivalCurves
from .models import ETS, SES, SARIMAX, MovingAverage, Model, Naive, SeasonalNaive, UnobservedComponents
from .simulation import SimulationModel

#: name → factory taking the scenario (used only by the simulation model)
MODELS = {
    "naive": lambda scenario: Naive(),
    "seasonal_naive": lambda scenario: SeasonalNaive(),
    "moving_average": lambda scenario: MovingAverage(),
    "ses": lambda scenario: SES(),
    "ets": lambda scenario: ETS(),
    "sarimax": lambda scenario: SARIMAX(),
    "unobserved_components": lambda scenario: UnobservedComponents(),
    "invoice_km": lambda scenario: SurvivalCurves(),
    "invoice_cox": lambda scenario: CoxCurves(),
    "simulation": lambda scenario: SimulationModel(scenario),
}


#: the simulation model calibrates and runs a Monte Carlo at every back-test origin: opt-in by name
DEFAULT = [n for n in MODELS if n not in ("simulation", "invoice_cox", "sarimax", "unobserved_components")]


def build(names: list[str] | None = None, scenario=None) -> list[Model]:
    """Instantiate the named models (all but the simulation by default); an unknown name is a :class:`UserError`."""
    names = list(DEFAULT) if not names else names
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise UserError(f"unknown model(s) {unknown}; expected some of {list(MODELS)}")
    return [MODELS[n](scenario) for n in names]
