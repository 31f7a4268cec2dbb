"""Money is conserved to the cent, on every invoice and in total, over many random scenarios."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from o2c_sim.model import simulate
from o2c_sim.strategies import REGISTRY
from conftest import small_scenario

random_overrides = st.fixed_dictionaries({
    "portfolio.accounts": st.integers(20, 150),
    "horizon_days": st.integers(30, 90),
    "warmup_days": st.integers(0, 40),
    "seed": st.integers(0, 2**32 - 1),
    "team.collectors": st.integers(0, 4),
    "team.dispute_analysts": st.integers(0, 2),
    "team.cash_app_clerks": st.integers(0, 2),
    "strategy.prioritisation": st.sampled_from(sorted(REGISTRY)),
    "portfolio.segments.mid_market.behaviour.dispute_rate": st.floats(0, 0.5),
    "portfolio.segments.mid_market.behaviour.partial_payment_rate": st.floats(0, 0.5),
    "portfolio.segments.mid_market.behaviour.unapplied_rate": st.floats(0, 0.5),
    "portfolio.segments.small_business.behaviour.silent_share": st.floats(0, 0.5),
    "portfolio.segments.small_business.behaviour.insolvency_rate_annual": st.floats(0, 0.9),
    "payment_plans.break_rate": st.floats(0, 1),
    "dunning.write_off_days": st.integers(20, 200),
    "dunning.pre_legal_days": st.one_of(st.none(), st.integers(5, 60)),
    "disputes.outcomes": st.sampled_from([
        {"credit_rebill": 1.0, "partial_credit": 0.0, "rejected": 0.0},
        {"credit_rebill": 0.0, "partial_credit": 1.0, "rejected": 0.0},
        {"credit_rebill": 0.3, "partial_credit": 0.3, "rejected": 0.4},
    ]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_overrides)
def test_money_is_conserved_every_day(overrides):
    result = simulate(small_scenario(overrides=overrides), check_every_day=True)
    inv = result.invoices
    cents = lambda col: np.round(inv[col].to_numpy() * 100).astype(np.int64)  # noqa: E731
    open_cents = cents("amount") - cents("paid_amount") - cents("credited_amount") - cents("written_off_amount")
    assert (open_cents >= 0).all()
    # the daily book's closing AR equals the invoices' open amounts
    assert round(result.daily["ar_total"].iloc[-1] * 100) == open_cents.sum()
    # the event log accounts for every cent: issued = paid + credited + written off + open
    ev = result.events
    by_kind = ev.groupby("kind", observed=True)["amount"].sum().round(2)
    issued = by_kind.get("issue", 0.0)
    applied = sum(by_kind.get(k, 0.0) for k in ("payment", "partial_payment", "cash_applied", "plan_instalment", "legal_recovery"))
    assert round((issued - applied - by_kind.get("credit_note", 0.0) - by_kind.get("write_off", 0.0)) * 100) == open_cents.sum()
    # closed invoices have a settlement date, open ones do not
    assert (inv["paid_date"].notna() == (open_cents == 0)).all()
