"""Benchmark: the whole `o2c-sim forecast` job, and the project's models against Nixtla statsforecast.

1. The full default forecast (back-test with honest selection and interval calibration, combination,
   13-week forecast) on the IBM sample as of 2013-12-01: wall-clock and CPU seconds (target ≤ 60 s).
2. Every default model and statsforecast's AutoETS / AutoTheta (when installed) on the same rolling
   origins and metrics: accuracy and time of each back-test, measured in this one run.

statsforecast is a benchmark-only dependency. Install it without letting it change the project's pandas:

    .venv/bin/pip install --no-deps statsforecast coreforecast utilsforecast fugue triad adagio fs cloudpickle

(``pip install statsforecast`` alone pins pandas < 3 and would downgrade the project's pandas.) Without
it, part 2 compares the project's models only.

Run: ``.venv/bin/python benchmarks/bench_forecast_vs_statsforecast.py [LEDGER.csv --mapping ibm_ar]``
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from o2c_sim import settings
from o2c_sim.forecast.backtest import origins, run_backtest
from o2c_sim.forecast.metrics import summary
from o2c_sim.forecast.models import SeriesModel, frame
from o2c_sim.forecast.pipeline import forecast_with_backtest
from o2c_sim.forecast.registry import DEFAULT, build
from o2c_sim.forecast.series import known_at
from o2c_sim.importer import load_ledger


class StatsForecastModel(SeriesModel):
    """A statsforecast model (non-seasonal: the weekly history is under two years) with 80/95 % intervals."""

    min_periods = 12

    def __init__(self, name: str, make):
        self.name, self.make = name, make

    def predict(self, y, horizon, history):
        fc = self.make().forecast(y=np.asarray(y, float), h=horizon, level=[80, 95])
        return frame(history.future(horizon), fc["mean"], lo80=fc["lo-80"], hi80=fc["hi-80"],
                     lo95=fc["lo-95"], hi95=fc["hi-95"])


def peers() -> list[SeriesModel]:
    try:
        from statsforecast.models import AutoETS, AutoTheta
    except ImportError:
        print("statsforecast is not installed (see the install line at the top): comparing the project's models only")
        return []
    models = [StatsForecastModel("statsforecast_autoets", lambda: AutoETS(season_length=1)),
              StatsForecastModel("statsforecast_autotheta", lambda: AutoTheta(season_length=1))]
    for m in models:  # numba compiles on first use: not timed
        m.make().forecast(y=np.arange(20.0) + 100, h=2)
    return models


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ledger", nargs="?", default=str(settings.ibm_ar_csv()))
    p.add_argument("--mapping", default="ibm_ar")
    p.add_argument("--as-of", default="2013-12-01")
    args = p.parse_args(argv)
    ledger = load_ledger(args.ledger, args.mapping)

    wall, cpu = time.perf_counter(), time.process_time()
    result = forecast_with_backtest(ledger, args.as_of, 13, "W")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    honest = result.honest["bands"]["1-4"]
    print(f"full forecast (default models {', '.join(DEFAULT)}): {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"(target 60 s); honest WAPE 1-4 {honest['wape']:.3f}, cov80 {honest['cov80']:.2f}, cov95 {honest['cov95']:.2f}")

    known = known_at(ledger, pd.Timestamp(args.as_of))
    at = origins(known, "W")
    rows, seconds = [], {}
    for model in [*build(), *peers()]:
        t0 = time.process_time()
        bt, _ = run_backtest(known, [model], "W", 13, at)
        seconds[model.name] = time.process_time() - t0
        rows.append(bt)
    s = summary(pd.concat(rows, ignore_index=True))
    print(f"\nback-test per model: {len(at)} weekly origins up to {args.as_of}, horizons 1-13, the models' own intervals; "
          "time = CPU seconds of the whole back-test, one run")
    print(f"{'model':<26}{'WAPE 1-4':>9}{'WAPE 5-13':>10}{'MASE 1-4':>9}{'bias':>8}{'cov80':>7}{'cov95':>7}{'time s':>8}")
    for model, g in s.groupby("model", sort=False):
        a, b = g.set_index("band").loc["1-4"], g.set_index("band").loc["5-13"]
        print(f"{model:<26}{a.wape:>9.3f}{b.wape:>10.3f}{a.mase:>9.3f}{a.bias:>+8.3f}{a.cov80:>7.2f}{a.cov95:>7.2f}"
              f"{seconds[model]:>8.2f}")
    if "statsforecast_autoets" in seconds:
        w = s[s.band == "1-4"].set_index("model")["wape"]
        print(f"ets / statsforecast_autoets: WAPE ratio {w['ets'] / w['statsforecast_autoets']:.3f}, "
              f"time ratio {seconds['ets'] / seconds['statsforecast_autoets']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
