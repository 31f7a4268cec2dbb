"""The models ``o2c-sim forecast`` knows, by name, in the order they are reported."""

from __future__ import annotations

from o2c_sim.errors import UserError
from o2c_sim.forecast.invoice_level import CoxCurves, SurvivalCurves
from o2c_sim.forecast.models import ETS, SES, SARIMAX, MovingAverage, Model, Naive, SeasonalNaive, StatsForecast, UnobservedComponents
from o2c_sim.forecast.simulation import SimulationModel

#: name → factory taking the scenario (used only by the simulation model)
MODELS = {
    "naive": lambda scenario: Naive(),
    "seasonal_naive": lambda scenario: SeasonalNaive(),
    "moving_average": lambda scenario: MovingAverage(),
    "ses": lambda scenario: SES(),
    "ets": lambda scenario: ETS(),
    "sarimax": lambda scenario: SARIMAX(),
    "unobserved_components": lambda scenario: UnobservedComponents(),
    "sf_autoets": lambda scenario: StatsForecast("AutoETS"),
    "sf_autotheta": lambda scenario: StatsForecast("AutoTheta"),
    "invoice_km": lambda scenario: SurvivalCurves(),
    "invoice_cox": lambda scenario: CoxCurves(),
    "simulation": lambda scenario: SimulationModel(scenario),
}


def _statsforecast_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("statsforecast") is not None


#: the simulation model calibrates and runs a Monte Carlo at every back-test origin: opt-in by name. With
#: statsforecast installed its AutoETS replaces statsmodels' ETS (the same accuracy, 13–17 times faster:
#: benchmarks/bench_forecast_vs_statsforecast.py) and its AutoTheta is one more candidate
OPT_IN = ("simulation", "invoice_cox", "sarimax", "unobserved_components")
DEFAULT = [n for n in MODELS if n not in OPT_IN and n != ("ets" if _statsforecast_installed() else "sf_autoets")
           and (n != "sf_autotheta" or _statsforecast_installed())]


def build(names: list[str] | None = None, scenario=None) -> list[Model]:
    """Instantiate the named models (all but the simulation by default); an unknown name is a :class:`UserError`."""
    names = list(DEFAULT) if not names else names
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise UserError(f"unknown model(s) {unknown}; expected some of {list(MODELS)}")
    return [MODELS[n](scenario) for n in names]
