"""Benchmark: the whole `o2c-sim forecast` job, and the project's models against Nixtla statsforecast.

1. The full default forecast (back-test with honest selection and interval calibration, combination,
   13-week forecast) on the IBM sample as of 2013-12-01: wall-clock and CPU seconds (target ≤ 60 s).
2. Every default model and statsforecast's AutoETS / AutoTheta (when installed) on the same rolling
   origins and metrics: accuracy and time of each back-test, measured in this one run.

statsforecast's models are candidates of the registry (``sf_autoets``, ``sf_autotheta``). With pandas 3
install it without letting it pin pandas < 3:

    .venv/bin/pip install --no-deps statsforecast coreforecast utilsforecast numba llvmlite fugue triad adagio fs

Without it, part 2 compares the project's models only.

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
from o2c_sim.forecast.models import ETS, StatsForecast
from o2c_sim.forecast.pipeline import forecast_with_backtest
from o2c_sim.forecast.registry import DEFAULT, build
from o2c_sim.forecast.series import known_at
from o2c_sim.data.importer import load_ledger


def peers() -> list[StatsForecast]:
    """statsforecast's AutoETS and AutoTheta, compiled once before timing (numba compiles on first use)."""
    models = [StatsForecast("AutoETS"), StatsForecast("AutoTheta")]
    try:
        import statsforecast  # noqa: F401
    except ImportError:
        print("statsforecast is not installed: comparing the project's models only")
        return []
    from statsforecast.models import AutoETS, AutoTheta

    for make in (AutoETS, AutoTheta):
        make(season_length=1).forecast(y=np.arange(20.0) + 100, h=2)
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
    project = build()
    names = {m.name for m in project}
    # statsmodels' ETS is compared with its peer even when the default has replaced it
    for model in [*project, *[m for m in (ETS(), *peers()) if m.name not in names]]:
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
    w = s[s.band == "1-4"].set_index("model")["wape"]
    for ours, peer in (("ets", "sf_autoets"), ("ses", "sf_autotheta")):
        if peer in seconds and ours in seconds:
            print(f"{ours} / {peer}: WAPE ratio {w[ours] / w[peer]:.3f}, time ratio {seconds[ours] / seconds[peer]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
