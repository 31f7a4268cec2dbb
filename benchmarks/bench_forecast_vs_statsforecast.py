"""Benchmark: the selected o2c-sim receipts model against Nixtla statsforecast's AutoETS.

Same data (the IBM AR sample), same rolling-origin back-test (weekly origins, horizons 1–13, history
known at 2013-12-01), same metrics; prints accuracy and wall-clock time of each model measured in one run.

statsforecast is a benchmark-only dependency. Install it without letting it change the project's pandas:

    .venv/bin/pip install --no-deps statsforecast coreforecast utilsforecast fugue triad adagio fs cloudpickle

(``pip install statsforecast`` alone pins pandas < 3 and would downgrade the project's pandas.)

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
from o2c_sim.forecast.invoice_level import SurvivalCurves
from o2c_sim.forecast.metrics import summary
from o2c_sim.forecast.models import SES, Naive, SeriesModel, frame
from o2c_sim.forecast.series import known_at
from o2c_sim.importer import load_ledger


class AutoETS(SeriesModel):
    """statsforecast ``AutoETS`` (non-seasonal; the weekly history is under two years) with 80/95 % intervals."""

    name = "statsforecast_autoets"
    min_periods = 12

    def predict(self, y, horizon, history):
        from statsforecast.models import AutoETS as _AutoETS

        fc = _AutoETS(season_length=1).forecast(y=np.asarray(y, float), h=horizon, level=[80, 95])
        return frame(history.future(horizon), fc["mean"], lo80=fc["lo-80"], hi80=fc["hi-80"],
                     lo95=fc["lo-95"], hi95=fc["hi-95"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ledger", nargs="?", default=str(settings.ibm_ar_csv()))
    p.add_argument("--mapping", default="ibm_ar")
    p.add_argument("--as-of", default="2013-12-01")
    args = p.parse_args(argv)
    try:
        import statsforecast  # noqa: F401
    except ImportError:
        print("statsforecast is not installed; see the install line at the top of this script", file=sys.stderr)
        return 1
    known = known_at(load_ledger(args.ledger, args.mapping), pd.Timestamp(args.as_of))
    at = origins(known, "W")
    from statsforecast.models import AutoETS as _AutoETS

    _AutoETS(season_length=1).forecast(y=np.arange(20.0) + 100, h=2)  # numba compiles on first use: not timed
    rows, seconds = [], {}
    for model in (Naive(), SES(), SurvivalCurves(), AutoETS()):
        t0 = time.perf_counter()
        bt, skipped = run_backtest(known, [model], "W", 13, at)
        seconds[model.name] = time.perf_counter() - t0
        rows.append(bt)
    s = summary(pd.concat(rows, ignore_index=True))
    print(f"back-test: {len(at)} weekly origins up to {args.as_of}, horizons 1-13; time = whole back-test, one run")
    print(f"{'model':<24}{'WAPE 1-4':>9}{'WAPE 5-13':>10}{'MASE 1-4':>9}{'bias':>8}{'cov80':>7}{'cov95':>7}{'net13':>7}{'time s':>8}")
    for model, g in s.groupby("model", sort=False):
        a, b = g.set_index("band").loc["1-4"], g.set_index("band").loc["5-13"]
        print(f"{model:<24}{a.wape:>9.3f}{b.wape:>10.3f}{a.mase:>9.3f}{a.bias:>+8.3f}{a.cov80:>7.2f}{a.cov95:>7.2f}"
              f"{a.net13:>7.3f}{seconds[model]:>8.2f}")
    ours, theirs = s[(s.model == "invoice_km") & (s.band == "1-4")].wape.item(), s[(s.model == AutoETS.name) & (s.band == "1-4")].wape.item()
    print(f"WAPE 1-4 ratio invoice_km / AutoETS = {ours / theirs:.3f}; time ratio = "
          f"{seconds['invoice_km'] / seconds[AutoETS.name]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
