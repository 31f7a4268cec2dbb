"""Fees, payment runs, credit holds, billing seasonality, refunds and currencies are off by default and then change nothing: the baseline's
invoice table and KPIs equal those computed before the features existed, whether their blocks are
absent or present but disabled."""

import hashlib

import pandas as pd

from o2c_sim.sim.model import simulate
from o2c_sim.scenario import load_scenario

SMALL = {"portfolio.accounts": 200, "horizon_days": 90, "warmup_days": 30, "seed": 7}
#: computed on main just before fees, payment runs and credit holds were merged (the same KPIs as on the
#: branch they were written on, 4c0979d; the invoice table's hash differs only by main's table schema)
BEFORE = {"invoices_sha256": "98bf8c78666b00a404c1ab369314579f9c2339dfd6b6b81efdcd2c07b3995af2",
          "dso": 36.89381775884055, "cash_collected": 3813765.72, "ending_ar": 2089941.23,
          "pct_over_90": 0.05999532312272267, "invoices": 1074}
DISABLED = {"fees.enabled": False, "fees.levels": [{"level": 2, "fixed": 40.0, "interest": True}],
            "payment_runs.enabled": False, "payment_runs.rules": [{"schedule": "month_end"}],
            "credit_holds.enabled": False, "credit_holds.max_days_past_due": 30,
            "seasonality.enabled": False, "seasonality.growth_annual": 0.3, "seasonality.month_end_share": 0.5,
            "refunds.enabled": False, "refunds.duplicate_payment_rate": 0.2, "refunds.apply_to_open_items": True,
            "currencies.enabled": False, "currencies.accounts": {"mid_market": {"USD": 1.0}},
            "currencies.rates": {"USD": {"2020-01-01": 0.9}}}


def fingerprint(result) -> dict:
    table = pd.util.hash_pandas_object(result.invoices, index=False).to_numpy().tobytes()
    return {"invoices_sha256": hashlib.sha256(table).hexdigest(), **{k: result.kpis[k] for k in BEFORE if k in result.kpis}}


def test_absent_and_disabled_blocks_reproduce_the_results_from_before():
    absent = simulate(load_scenario("baseline", SMALL))
    disabled = simulate(load_scenario("baseline", {**SMALL, **DISABLED}))
    assert absent.invoices.equals(disabled.invoices)
    assert absent.events.equals(disabled.events)
    assert fingerprint(absent) == BEFORE  # exactly: the same floats, not approximately
    assert fingerprint(disabled) == fingerprint(absent)
    assert not {"fees_charged", "sales_held", "refunds_paid", "fx_revaluation"} & set(absent.kpis) and "fees" not in absent.extra
