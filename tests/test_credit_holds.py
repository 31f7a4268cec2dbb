"""Credit holds: blocking billing at 60 days past due lowers the over-90 share and delays the held sales
(paired runs with common random numbers); bad input is a UserError."""

import pandas as pd
import pytest

from o2c_sim.errors import UserError
from o2c_sim.sim.model import simulate
from o2c_sim.scenario import load_scenario

SMALL = {"portfolio.accounts": 300, "horizon_days": 150, "warmup_days": 90, "seed": 2}
AT_60 = {"credit_holds.enabled": True, "credit_holds.over_limit": False, "credit_holds.max_days_past_due": 60}


def test_hold_at_60_days_lowers_over_90_and_delays_held_sales():
    off = simulate(load_scenario("baseline", SMALL))
    on = simulate(load_scenario("baseline", {**SMALL, **AT_60}), check_every_day=True)
    assert on.kpis["pct_over_90"] < off.kpis["pct_over_90"]
    assert on.kpis["sales_held"] > 0 and on.kpis["holds_placed"] > 0 and on.kpis["holds_released"] > 0
    assert on.kpis["hold_wait_days"] > 0 and on.kpis["hold_cost"] > 0
    # the same sales (same invoice ids and amounts), issued later when held, never earlier
    both = off.invoices.merge(on.invoices, on="invoice_id", suffixes=("_off", "_on"))
    originals = both[~both["invoice_id"].str.contains("-R")]
    assert (originals["amount_on"] == originals["amount_off"]).all()
    delay = (originals["invoice_date_on"] - originals["invoice_date_off"]).dt.days
    assert (delay >= 0).all() and (delay > 0).sum() > 10
    # a held sale is issued on the day its account's hold is released
    ev = on.events
    released = ev[ev["kind"] == "sales_released"].groupby(["customer_id", "date"])["amount"].sum().round(2)
    late = originals[delay > 0].merge(on.invoices[["invoice_id", "customer_id"]], on="invoice_id")
    issued = late.groupby(["customer_id", "invoice_date_on"])["amount_on"].sum().round(2)
    issued.index.names = released.index.names
    pd.testing.assert_series_equal(issued.reindex(released.index).fillna(0), released, check_names=False, atol=0.011)


def test_over_limit_holds_only_the_chosen_segment():
    on = simulate(load_scenario("baseline", {**SMALL, "credit_holds.enabled": True, "credit_holds.max_days_past_due": None,
                                             "credit_holds.segments": ["small_business"]}))
    ev = on.events
    held = ev[ev["kind"] == "credit_hold"]["customer_id"]
    segment = on.invoices.drop_duplicates("customer_id").set_index("customer_id")["segment"]
    assert len(held) > 0 and (held.map(segment) == "small_business").all()


@pytest.mark.parametrize("overrides, field", [
    ({"credit_holds.max_days_past_due": -1}, "credit_holds.max_days_past_due"),
    ({"credit_holds.segments": ["smb"]}, "credit_holds.segments"),
    ({"portfolio.segments.mid_market.behaviour.hazard.effects.credit_hold.multiplier": 0},
     "portfolio.segments.1.behaviour.hazard.effects.credit_hold.multiplier"),
])
def test_bad_credit_hold_blocks_are_user_errors(overrides, field):
    with pytest.raises(UserError, match=f"field '{field}'"):
        load_scenario("baseline", overrides)
